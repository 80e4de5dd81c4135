/*
 * librunnel: the consumer. A single consumer reads one partition; a group consumer
 * joins (creating a named group when missing), syncs its partitions and polls them
 * round-robin, re-syncing on the server's fence sentinel and rejoining after a
 * reconnect. Polled records are copied into the consumer's own buffer (allocated at
 * create) so commits and heartbeats may use the client while messages are being read.
 * Auto-commit: after poll (server side), interval, or after each consumed message.
 * Caller's thread.
 */
#include "client/client.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_error.h"
#include "proto/iggy_messages.h"

#include <errno.h>
#include <string.h>
#include <time.h>

struct runnel_consumer {
    struct runnel_client *client;
    char stream_name[RUNNEL_NAME_SIZE_MAX + 1];
    char topic_name[RUNNEL_NAME_SIZE_MAX + 1];
    char consumer_name[RUNNEL_NAME_SIZE_MAX + 1];
    struct runnel_id stream;
    struct runnel_id topic;
    struct runnel_id consumer;
    uint8_t kind;
    uint32_t partition_id;
    uint8_t polling_kind;
    uint64_t polling_value;
    uint32_t batch_count;
    uint8_t auto_commit;
    uint32_t auto_commit_interval_ms;
    uint32_t heartbeat_interval_ms;
    /* group state */
    uint64_t joined_connection; /* connection count at the last join, 0 never */
    struct runnel_group_sync sync;
    uint32_t next_partition_index;
    /* the buffered poll */
    uint8_t *records;
    uint32_t records_capacity_bytes;
    struct runnel_polled polled;
    bool has_next_offset; /* single consumer: where the next poll starts */
    uint64_t next_offset;
    /* commit state: the last message returned */
    bool is_commit_pending;
    uint32_t commit_partition;
    uint64_t commit_offset;
    uint64_t last_commit_ms;
    uint64_t last_request_ms;
};

static uint64_t consumer_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static uint32_t consumer_or(uint32_t value, uint32_t fallback)
{
    return value == 0 ? fallback : value;
}

int runnel_consumer_create(struct runnel_client *client,
                           const struct runnel_consumer_options *options,
                           struct runnel_consumer **consumer_out)
{
    if (client == NULL || options == NULL || consumer_out == NULL ||
        options->consumer_kind > RUNNEL_CONSUMER_GROUP ||
        options->polling_kind > RUNNEL_POLLING_NEXT ||
        options->auto_commit > RUNNEL_AUTO_COMMIT_AFTER_CONSUME) {
        return -EINVAL;
    }
    *consumer_out = NULL;
    struct runnel_consumer *consumer = client_allocate(sizeof(*consumer));
    if (consumer == NULL) {
        return -ENOMEM;
    }
    memset(consumer, 0, sizeof(*consumer));
    consumer->records_capacity_bytes = client->reply_capacity_bytes;
    consumer->records = client_allocate(consumer->records_capacity_bytes);
    if (consumer->records == NULL) {
        client_free(consumer);
        return -ENOMEM;
    }
    consumer->client = client;
    consumer->stream = client_copy_id(options->stream, consumer->stream_name);
    consumer->topic = client_copy_id(options->topic, consumer->topic_name);
    consumer->consumer = client_copy_id(options->consumer, consumer->consumer_name);
    consumer->kind = options->consumer_kind ? options->consumer_kind : RUNNEL_CONSUMER_SINGLE;
    consumer->partition_id = options->partition_id;
    consumer->polling_kind = options->polling_kind ? options->polling_kind : RUNNEL_POLLING_NEXT;
    if (consumer->kind == RUNNEL_CONSUMER_GROUP) {
        consumer->polling_kind = RUNNEL_POLLING_NEXT;
    }
    consumer->polling_value = options->polling_value;
    consumer->batch_count = consumer_or(options->batch_count, 100);
    consumer->auto_commit = options->auto_commit;
    consumer->auto_commit_interval_ms = consumer_or(options->auto_commit_interval_ms, 1000);
    consumer->heartbeat_interval_ms = consumer_or(options->heartbeat_interval_ms, 5000);
    consumer->last_commit_ms = consumer_now_ms();
    *consumer_out = consumer;
    return 0;
}

static int consumer_sync(struct runnel_consumer *consumer)
{
    int result = runnel_group_sync(consumer->client, consumer->stream, consumer->topic,
                                   consumer->consumer, &consumer->sync);
    if (result == -RUNNEL_ENOTFOUND) {
        consumer->sync.partition_count = 0;
        consumer->joined_connection = 0; /* not a member (any more): join again */
        return 0;
    }
    return result;
}

static int consumer_join(struct runnel_consumer *consumer)
{
    struct runnel_client *client = consumer->client;
    int result = runnel_group_join(client, consumer->stream, consumer->topic, consumer->consumer);
    if (runnel_server_error_code(result) == IGGY_ERROR_CONSUMER_GROUP_ID_NOT_FOUND &&
        consumer->consumer.name != NULL) {
        result = runnel_group_create(client, consumer->stream, consumer->topic,
                                     consumer->consumer.name, NULL);
        if (result == 0 ||
            runnel_server_error_code(result) == IGGY_ERROR_CONSUMER_GROUP_NAME_ALREADY_EXISTS) {
            result =
                runnel_group_join(client, consumer->stream, consumer->topic, consumer->consumer);
        }
    }
    if (result != 0) {
        return result;
    }
    consumer->joined_connection = runnel_client_connection_count(client);
    return consumer_sync(consumer);
}

int runnel_consumer_commit(struct runnel_consumer *consumer)
{
    if (consumer == NULL) {
        return -EINVAL;
    }
    if (!consumer->is_commit_pending) {
        return 0;
    }
    int result =
        runnel_offset_store(consumer->client, consumer->kind, consumer->consumer, consumer->stream,
                            consumer->topic, consumer->commit_partition, consumer->commit_offset);
    if (result == 0) {
        consumer->is_commit_pending = false;
        consumer->last_commit_ms = consumer_now_ms();
    }
    return result;
}

int runnel_consumer_heartbeat(struct runnel_consumer *consumer)
{
    if (consumer == NULL) {
        return -EINVAL;
    }
    uint64_t now_ms = consumer_now_ms();
    if (consumer->kind != RUNNEL_CONSUMER_GROUP ||
        now_ms - consumer->last_request_ms < consumer->heartbeat_interval_ms) {
        return 0;
    }
    consumer->last_request_ms = now_ms;
    int result = runnel_ping(consumer->client);
    return result != 0 ? result : consumer_sync(consumer);
}

/* Fills request for the next poll; false when a group member owns no partition. */
static bool consumer_request(struct runnel_consumer *consumer, struct runnel_poll_request *request)
{
    memset(request, 0, sizeof(*request));
    request->consumer_kind = consumer->kind;
    request->consumer = consumer->consumer;
    request->stream = consumer->stream;
    request->topic = consumer->topic;
    request->has_partition = true;
    request->count = consumer->batch_count;
    request->auto_commit = consumer->auto_commit == RUNNEL_AUTO_COMMIT_AFTER_POLL;
    request->polling_kind = consumer->polling_kind;
    request->polling_value = consumer->polling_value;
    if (consumer->kind == RUNNEL_CONSUMER_GROUP) {
        if (consumer->sync.partition_count == 0) {
            return false;
        }
        uint32_t index = consumer->next_partition_index % consumer->sync.partition_count;
        consumer->next_partition_index = index + 1;
        request->partition_id = consumer->sync.partition_ids[index];
        return true;
    }
    request->partition_id = consumer->partition_id;
    if (consumer->has_next_offset && consumer->polling_kind != RUNNEL_POLLING_NEXT) {
        request->polling_kind = RUNNEL_POLLING_OFFSET;
        request->polling_value = consumer->next_offset;
    }
    return true;
}

static int consumer_prepare(struct runnel_consumer *consumer)
{
    int result = runnel_consumer_heartbeat(consumer);
    bool is_rejoin_due =
        consumer->kind == RUNNEL_CONSUMER_GROUP &&
        consumer->joined_connection != runnel_client_connection_count(consumer->client);
    if (result == 0 && is_rejoin_due) {
        result = consumer_join(consumer);
    } else if (result == 0 && consumer->kind == RUNNEL_CONSUMER_GROUP &&
               consumer->sync.partition_count == 0) {
        result = consumer_sync(consumer); /* nothing assigned yet: ask again */
    }
    bool is_interval_due =
        consumer->auto_commit == RUNNEL_AUTO_COMMIT_INTERVAL &&
        consumer_now_ms() - consumer->last_commit_ms >= consumer->auto_commit_interval_ms;
    if (result == 0 && is_interval_due) {
        result = runnel_consumer_commit(consumer);
    }
    return result;
}

int runnel_consumer_poll(struct runnel_consumer *consumer)
{
    if (consumer == NULL) {
        return -EINVAL;
    }
    int result = consumer_prepare(consumer);
    struct runnel_poll_request request;
    if (result != 0 || !consumer_request(consumer, &request)) {
        return result;
    }
    struct runnel_polled polled;
    result = runnel_poll_messages(consumer->client, &request, &polled);
    consumer->last_request_ms = consumer_now_ms();
    if (result == 0 && consumer->kind == RUNNEL_CONSUMER_GROUP &&
        polled.partition_id == IGGY_POLL_RESYNC_PARTITION) {
        result = consumer_sync(consumer); /* fenced: ownership moved */
        if (result == 0 && consumer_request(consumer, &request)) {
            result = runnel_poll_messages(consumer->client, &request, &polled);
        }
        if (result == 0 && polled.partition_id == IGGY_POLL_RESYNC_PARTITION) {
            polled.message_count = 0;
            polled.records_size_bytes = 0;
        }
    }
    if (result != 0) {
        return result;
    }
    assert(polled.records_size_bytes <= consumer->records_capacity_bytes);
    if (polled.records_size_bytes > 0) {
        memcpy(consumer->records, polled.records, polled.records_size_bytes);
    }
    polled.records = consumer->records;
    polled.partition_id = request.partition_id;
    consumer->polled = polled;
    return (int)(polled.message_count > INT32_MAX ? INT32_MAX : polled.message_count);
}

int runnel_consumer_next(struct runnel_consumer *consumer, struct runnel_message *message_out,
                         uint32_t *partition_id_out)
{
    if (consumer == NULL || message_out == NULL) {
        return -EINVAL;
    }
    if (consumer->auto_commit == RUNNEL_AUTO_COMMIT_AFTER_CONSUME) {
        int result = runnel_consumer_commit(consumer);
        if (result != 0) {
            return result;
        }
    }
    /* A group member tries each of its partitions once before reporting "empty". */
    uint32_t polls_max = consumer->sync.partition_count > 1 ? consumer->sync.partition_count : 1;
    bool has_message = runnel_polled_next(&consumer->polled, message_out);
    for (uint32_t round = 0; !has_message && round < polls_max; round++) {
        int polled = runnel_consumer_poll(consumer);
        if (polled < 0) {
            return polled;
        }
        has_message = runnel_polled_next(&consumer->polled, message_out);
    }
    if (!has_message) {
        return -RUNNEL_EEMPTY;
    }
    uint32_t partition = consumer->polled.partition_id;
    if (consumer->is_commit_pending && consumer->commit_partition != partition &&
        consumer->auto_commit != RUNNEL_AUTO_COMMIT_DISABLED) {
        /* Moving to another partition: store the previous one's offset first. */
        maybe(runnel_consumer_commit(consumer));
    }
    consumer->has_next_offset = true;
    consumer->next_offset = message_out->offset + 1;
    consumer->is_commit_pending = consumer->auto_commit != RUNNEL_AUTO_COMMIT_AFTER_POLL;
    consumer->commit_partition = partition;
    consumer->commit_offset = message_out->offset;
    if (partition_id_out != NULL) {
        *partition_id_out = partition;
    }
    return 0;
}

int runnel_consumer_destroy(struct runnel_consumer *consumer)
{
    if (consumer == NULL) {
        return 0;
    }
    int result = 0;
    if (consumer->auto_commit != RUNNEL_AUTO_COMMIT_DISABLED &&
        consumer->auto_commit != RUNNEL_AUTO_COMMIT_AFTER_POLL) {
        result = runnel_consumer_commit(consumer);
    }
    if (consumer->kind == RUNNEL_CONSUMER_GROUP && consumer->joined_connection != 0 &&
        consumer->joined_connection == runnel_client_connection_count(consumer->client)) {
        int leave = runnel_group_leave(consumer->client, consumer->stream, consumer->topic,
                                       consumer->consumer);
        result = result != 0 ? result : leave;
    }
    client_free(consumer->records);
    client_free(consumer);
    return result;
}
