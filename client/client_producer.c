/*
 * librunnel: the batching producer. Owns one buffer, allocated at create, holding the
 * SendMessages metadata followed by the batch being built, so a send copies each payload
 * once and allocates nothing. Resolves balanced and key partitioning on the client side
 * (partition count from one topic get), flushes on size, count or linger, and resends a
 * failed batch unchanged (same ids; exactly-once on runneld). Caller's thread.
 */
#include "client/client_messages.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_error.h"
#include "proto/iggy_messages.h"

#include <errno.h>
#include <string.h>
#include <time.h>

enum { PRODUCER_PREFIX_SIZE_MAX = 4 + 257 + 257 + 6 + 4 };

struct runnel_producer {
    struct runnel_client *client;
    char stream_name[RUNNEL_NAME_SIZE_MAX + 1];
    char topic_name[RUNNEL_NAME_SIZE_MAX + 1];
    struct runnel_id stream;
    struct runnel_id topic;
    uint8_t partitioning_kind;
    uint32_t partition_id_fixed;
    uint32_t partition_count; /* 0 until resolved */
    uint32_t balanced_counter;
    uint32_t batch_messages_max;
    uint32_t batch_size_bytes_max;
    uint32_t linger_us;
    uint32_t retries;
    uint32_t retry_backoff_ms;
    uint8_t *buffer; /* prefix area, then the batch */
    uint32_t buffer_capacity_bytes;
    struct batch_builder builder;
    bool has_pending;
    uint32_t pending_partition;
    uint64_t pending_since_us;
    uint64_t sent_messages;
    bool is_placement_wanted;
    uint64_t placed_connection; /* the client's connection_count when last placed */
};

int runnel_producer_create(struct runnel_client *client,
                           const struct runnel_producer_options *options,
                           struct runnel_producer **producer_out)
{
    if (client == NULL || options == NULL || producer_out == NULL) {
        return -EINVAL;
    }
    *producer_out = NULL;
    uint32_t size_max = options->batch_size_bytes_max ? options->batch_size_bytes_max : 1u << 20;
    if (size_max < 1024 ||
        size_max > client->send_capacity_bytes - IGGY_HEADER_SIZE - PRODUCER_PREFIX_SIZE_MAX ||
        options->partitioning.kind > RUNNEL_PARTITIONING_KEY) {
        return -EINVAL;
    }
    struct runnel_producer *producer = client_allocate(sizeof(*producer));
    if (producer == NULL) {
        return -ENOMEM;
    }
    memset(producer, 0, sizeof(*producer));
    producer->buffer_capacity_bytes = PRODUCER_PREFIX_SIZE_MAX + size_max;
    producer->buffer = client_allocate(producer->buffer_capacity_bytes);
    if (producer->buffer == NULL) {
        client_free(producer);
        return -ENOMEM;
    }
    producer->client = client;
    producer->stream = client_copy_id(options->stream, producer->stream_name);
    producer->topic = client_copy_id(options->topic, producer->topic_name);
    producer->partitioning_kind =
        options->partitioning.kind ? options->partitioning.kind : RUNNEL_PARTITIONING_BALANCED;
    producer->partition_id_fixed = options->partitioning.partition_id;
    producer->batch_messages_max = options->batch_messages_max ? options->batch_messages_max : 1000;
    producer->batch_size_bytes_max = size_max;
    producer->linger_us = options->linger_us ? options->linger_us : 1000;
    producer->retries = options->retries ? options->retries : 3;
    producer->retry_backoff_ms = options->retry_backoff_ms ? options->retry_backoff_ms : 100;
    producer->is_placement_wanted = !options->disable_placement;
    *producer_out = producer;
    return 0;
}

static int producer_partition_count(struct runnel_producer *producer)
{
    if (producer->partition_count != 0) {
        return 0;
    }
    struct runnel_topic topic;
    int result =
        runnel_topic_get(producer->client, producer->stream, producer->topic, &topic, NULL, 0);
    if (result != 0) {
        return result;
    }
    if (topic.partition_count == 0) {
        return client_server_error(IGGY_ERROR_RESOURCE_NOT_FOUND);
    }
    producer->partition_count = topic.partition_count;
    return 0;
}

static bool producer_is_retryable(int code)
{
    return code < 0 && code > -RUNNEL_ERROR_BASE && code != -EINVAL && code != -ENOMEM;
}

static void producer_sleep_ms(uint32_t milliseconds)
{
    struct timespec delay = {.tv_sec = milliseconds / 1000,
                             .tv_nsec = (long)(milliseconds % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

/* Once per connection (runneld): move it to the shard owning the partitions sent to. A
 * failure is not the batch's: the send that follows reports a lost connection itself. */
static void producer_place(struct runnel_producer *producer)
{
    struct runnel_client *client = producer->client;
    if (!producer->is_placement_wanted || !client->is_runneld ||
        producer->placed_connection == client->connection_count) {
        return;
    }
    producer->placed_connection = client->connection_count;
    (void)runnel_connection_place(client, producer->stream, producer->topic,
                                  producer->partitioning_kind == RUNNEL_PARTITIONING_PARTITION_ID,
                                  producer->partition_id_fixed);
}

int runnel_producer_flush(struct runnel_producer *producer)
{
    if (producer == NULL) {
        return -EINVAL;
    }
    if (!producer->has_pending) {
        return 0;
    }
    struct runnel_partitioning partitioning = {.kind = RUNNEL_PARTITIONING_PARTITION_ID,
                                               .partition_id = producer->pending_partition};
    uint32_t count = producer->builder.message_count;
    struct iggy_writer prefix;
    iggy_writer_init(&prefix, producer->buffer, PRODUCER_PREFIX_SIZE_MAX);
    int result =
        client_messages_prefix(&prefix, producer->stream, producer->topic, &partitioning, count);
    assert(result == 0);
    uint64_t batch_size = batch_builder_finish(&producer->builder);
    /* The batch was built right after the prefix's fixed size (see producer_begin). */
    struct iggy_writer body;
    iggy_writer_init(&body, producer->buffer, producer->buffer_capacity_bytes);
    body.size = prefix.size + (uint32_t)batch_size;
    producer_place(producer);
    result = -EIO;
    for (uint32_t attempt = 0; attempt <= producer->retries; attempt++) {
        if (attempt > 0) {
            producer_sleep_ms(producer->retry_backoff_ms);
            runnel_client_repeat_sequence(producer->client); /* the same write: applied once */
        }
        result = client_messages_send(producer->client, &body, NULL);
        if (!producer_is_retryable(result)) {
            break;
        }
    }
    producer->has_pending = false;
    if (result == 0) {
        producer->sent_messages += count;
    }
    return result;
}

/* Starts a batch for partition right after the metadata prefix. */
static int producer_begin(struct runnel_producer *producer, uint32_t partition, uint64_t now_us)
{
    struct runnel_partitioning partitioning = {.kind = RUNNEL_PARTITIONING_PARTITION_ID,
                                               .partition_id = partition};
    struct iggy_writer prefix;
    iggy_writer_init(&prefix, producer->buffer, PRODUCER_PREFIX_SIZE_MAX);
    int result =
        client_messages_prefix(&prefix, producer->stream, producer->topic, &partitioning, 1);
    if (result != 0) {
        return -EINVAL;
    }
    batch_builder_init(&producer->builder, producer->buffer + prefix.size,
                       producer->batch_size_bytes_max, now_us);
    producer->has_pending = true;
    producer->pending_partition = partition;
    producer->pending_since_us = now_us;
    return 0;
}

static int producer_add(struct runnel_producer *producer, uint32_t partition,
                        const struct runnel_message_out *message)
{
    uint64_t now_us = client_messages_now_us();
    int result = 0;
    if (producer->has_pending && producer->pending_partition != partition) {
        result = runnel_producer_flush(producer);
    }
    if (result == 0 && !producer->has_pending) {
        result = producer_begin(producer, partition, now_us);
    }
    if (result != 0) {
        return result;
    }
    result = client_messages_add(producer->client, &producer->builder, message, now_us);
    if (result == -RUNNEL_EFULL && producer->builder.message_count > 0) {
        result = runnel_producer_flush(producer);
        if (result == 0) {
            result = producer_begin(producer, partition, now_us);
        }
        if (result == 0) {
            result = client_messages_add(producer->client, &producer->builder, message, now_us);
        }
    }
    if (result == -RUNNEL_EFULL) {
        return -RUNNEL_ETOOLARGE;
    }
    if (result != 0) {
        return result;
    }
    if (producer->builder.message_count >= producer->batch_messages_max) {
        return runnel_producer_flush(producer);
    }
    return runnel_producer_flush_if_due(producer);
}

int runnel_producer_send(struct runnel_producer *producer, const struct runnel_message_out *message)
{
    if (producer == NULL || message == NULL) {
        return -EINVAL;
    }
    uint32_t partition = producer->partition_id_fixed;
    if (producer->has_pending) {
        partition = producer->pending_partition;
    } else if (producer->partitioning_kind != RUNNEL_PARTITIONING_PARTITION_ID) {
        int result = producer_partition_count(producer);
        if (result != 0) {
            return result;
        }
        partition =
            iggy_messages_balanced_next(&producer->balanced_counter, producer->partition_count);
    }
    return producer_add(producer, partition, message);
}

int runnel_producer_send_keyed(struct runnel_producer *producer, const void *key,
                               uint32_t key_size_bytes, const struct runnel_message_out *message)
{
    if (producer == NULL || key == NULL || key_size_bytes == 0 ||
        key_size_bytes > RUNNEL_NAME_SIZE_MAX || message == NULL) {
        return -EINVAL;
    }
    int result = producer_partition_count(producer);
    if (result != 0) {
        return result;
    }
    struct iggy_bytes key_bytes = {key, key_size_bytes};
    uint32_t partition = iggy_messages_key_partition(key_bytes, producer->partition_count);
    return producer_add(producer, partition, message);
}

int runnel_producer_flush_if_due(struct runnel_producer *producer)
{
    if (producer == NULL) {
        return -EINVAL;
    }
    if (!producer->has_pending || producer->linger_us == UINT32_MAX) {
        return 0;
    }
    uint64_t now_us = client_messages_now_us();
    if (now_us - producer->pending_since_us < producer->linger_us &&
        now_us >= producer->pending_since_us) {
        return 0;
    }
    return runnel_producer_flush(producer);
}

uint64_t runnel_producer_sent_messages(const struct runnel_producer *producer)
{
    assert(producer != NULL);
    return producer->sent_messages;
}

int runnel_producer_destroy(struct runnel_producer *producer)
{
    if (producer == NULL) {
        return 0;
    }
    int result = runnel_producer_flush(producer);
    client_free(producer->buffer);
    client_free(producer);
    return result;
}
