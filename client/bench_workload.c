/*
 * runnel-bench workloads (see bench_workload.h). Each actor thread owns its client;
 * the samples array is written by the actor and read by the main thread after join
 * (sample_count and messages_done are read while running, for the progress line only).
 */
#include "client/bench_workload.h"

#include "client/include/runnel/runnel.h"
#include "lib/assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BENCH_EMPTY_POLLS_MAX = 20000 };

uint64_t bench_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

void bench_config_defaults(struct bench_config *config, enum bench_kind kind)
{
    assert(config != NULL);
    memset(config, 0, sizeof(*config));
    config->kind = kind;
    config->host = "127.0.0.1";
    config->port = 8090;
    config->username = "iggy";
    config->password = "iggy";
    config->producers = 8;
    config->consumers = 8;
    bool is_balanced = kind == BENCH_BALANCED_PRODUCER || kind == BENCH_BALANCED_CONSUMER_GROUP;
    config->streams = is_balanced ? 1 : 8;
    config->partitions = is_balanced ? 24 : 1;
    config->message_size_bytes = 1000;
    config->messages_per_batch = 1000;
    config->message_batches = 1000;
}

static int bench_connect(const struct bench_config *config, uint32_t buffer_bytes,
                         struct runnel_client **client_out)
{
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    options.host = config->host;
    options.port = config->port;
    options.send_size_bytes_max = buffer_bytes;
    options.reply_size_bytes_max = buffer_bytes;
    int result = runnel_client_create(&options, client_out);
    return result != 0 ? result
                       : runnel_connect_and_login(*client_out, config->username, config->password);
}

static uint32_t bench_buffer_bytes(const struct bench_config *config)
{
    uint64_t batch =
        (uint64_t)config->messages_per_batch * (config->message_size_bytes + 48) + (1u << 16);
    batch = batch < (1u << 20) ? (1u << 20) : batch;
    return batch > (64u << 20) - 1024 ? (64u << 20) - 1024 : (uint32_t)batch;
}

int bench_setup(const struct bench_config *config)
{
    struct runnel_client *client = NULL;
    int result = bench_connect(config, 1u << 20, &client);
    for (uint32_t stream = 1; result == 0 && stream <= config->streams; stream++) {
        char name[64];
        snprintf(name, sizeof(name), "bench-stream-%u", stream);
        (void)runnel_stream_delete(client, runnel_id_name(name));
        result = runnel_stream_create(client, name, NULL);
        struct runnel_topic_options options = {.message_expiry_us = UINT64_MAX,
                                               .max_topic_size_bytes = UINT64_MAX,
                                               .enforce_fsync = config->enforce_fsync ? 1 : 0};
        if (result == 0) {
            result = runnel_topic_create(client, runnel_id_name(name), "topic-1",
                                         config->partitions, &options, NULL);
        }
        if (result == 0 && config->kind == BENCH_BALANCED_CONSUMER_GROUP) {
            result = runnel_group_create(client, runnel_id_name(name), runnel_id_name("topic-1"),
                                         "cg-1", NULL);
        }
    }
    if (result != 0) {
        fprintf(stderr, "runnel-bench: setup: %s\n", runnel_strerror(result));
    }
    runnel_client_destroy(client);
    return result;
}

static void bench_record(struct bench_actor *actor, uint64_t start_ns, uint32_t messages)
{
    uint64_t end_ns = bench_now_ns();
    uint32_t index = actor->sample_count;
    if (index >= actor->config->message_batches) {
        return;
    }
    actor->samples[index] = (struct bench_sample){
        .end_ns = end_ns - actor->start_ns,
        .latency_ns = end_ns - start_ns,
        .bytes = messages * actor->config->message_size_bytes,
        .messages = messages,
    };
    actor->sample_count = index + 1;
    actor->messages_done += messages;
}

static int bench_produce(struct bench_actor *actor, struct runnel_client *client,
                         const struct runnel_message_out *messages, uint32_t batch_index)
{
    const struct bench_config *config = actor->config;
    char stream[64];
    snprintf(stream, sizeof(stream), "bench-stream-%u", actor->stream);
    struct runnel_partitioning partitioning = {.kind = RUNNEL_PARTITIONING_PARTITION_ID,
                                               .partition_id = batch_index % config->partitions};
    return runnel_send_messages(client, runnel_id_name(stream), runnel_id_name("topic-1"),
                                &partitioning, messages, config->messages_per_batch, NULL);
}

static int bench_poll(struct bench_actor *actor, struct runnel_client *client, uint64_t offset,
                      uint32_t *received_out)
{
    char stream[64];
    snprintf(stream, sizeof(stream), "bench-stream-%u", actor->stream);
    struct runnel_poll_request request = {.consumer_kind = RUNNEL_CONSUMER_SINGLE,
                                          .consumer = runnel_id_number(actor->index),
                                          .stream = runnel_id_name(stream),
                                          .topic = runnel_id_name("topic-1"),
                                          .has_partition = true,
                                          .partition_id = 0,
                                          .polling_kind = RUNNEL_POLLING_OFFSET,
                                          .polling_value = offset,
                                          .count = actor->config->messages_per_batch};
    struct runnel_polled polled;
    int result = runnel_poll_messages(client, &request, &polled);
    *received_out = result == 0 ? polled.message_count : 0;
    return result;
}

static int bench_group_poll(struct bench_actor *actor, struct runnel_consumer *consumer,
                            uint32_t *received_out)
{
    (void)actor;
    int result = runnel_consumer_poll(consumer);
    *received_out = result > 0 ? (uint32_t)result : 0;
    return result < 0 ? result : 0;
}

static int bench_loop(struct bench_actor *actor, struct runnel_client *client,
                      const struct runnel_message_out *messages, struct runnel_consumer *consumer)
{
    const struct bench_config *config = actor->config;
    uint64_t offset = 0;
    uint32_t empty_polls = 0;
    int result = 0;
    while (result == 0 && actor->sample_count < config->message_batches &&
           empty_polls < BENCH_EMPTY_POLLS_MAX) {
        uint64_t start_ns = bench_now_ns();
        uint32_t received = config->messages_per_batch;
        if (actor->role == BENCH_PRODUCER || actor->role == BENCH_PRODUCING_CONSUMER) {
            result = bench_produce(actor, client, messages, actor->sample_count);
        }
        if (result == 0 && actor->role == BENCH_GROUP_CONSUMER) {
            result = bench_group_poll(actor, consumer, &received);
        } else if (result == 0 && actor->role != BENCH_PRODUCER) {
            result = bench_poll(actor, client, offset, &received);
        }
        if (result == 0 && received == 0) {
            empty_polls++;
            continue;
        }
        offset += received;
        empty_polls = 0;
        bench_record(actor, start_ns, received);
    }
    return result != 0 ? result : (empty_polls > 0 ? -ETIMEDOUT : 0);
}

void *bench_actor_main(void *argument)
{
    struct bench_actor *actor = argument;
    const struct bench_config *config = actor->config;
    struct runnel_client *client = NULL;
    struct runnel_consumer *consumer = NULL;
    char *payload = malloc(config->message_size_bytes);
    struct runnel_message_out *messages = calloc(config->messages_per_batch, sizeof(*messages));
    actor->result = payload == NULL || messages == NULL ? -ENOMEM : 0;
    if (actor->result == 0) {
        memset(payload, 'a' + (int)(actor->index % 26), config->message_size_bytes);
        for (uint32_t index = 0; index < config->messages_per_batch; index++) {
            messages[index] =
                (struct runnel_message_out){.id_low = index + 1,
                                            .payload = payload,
                                            .payload_size_bytes = config->message_size_bytes};
        }
        actor->result = bench_connect(config, bench_buffer_bytes(config), &client);
    }
    char stream[64];
    snprintf(stream, sizeof(stream), "bench-stream-%u", actor->stream);
    if (actor->result == 0 && actor->role == BENCH_GROUP_CONSUMER) {
        struct runnel_consumer_options options = {.stream = runnel_id_name(stream),
                                                  .topic = runnel_id_name("topic-1"),
                                                  .consumer_kind = RUNNEL_CONSUMER_GROUP,
                                                  .consumer = runnel_id_name("cg-1"),
                                                  .batch_count = config->messages_per_batch,
                                                  .auto_commit = RUNNEL_AUTO_COMMIT_AFTER_POLL};
        actor->result = runnel_consumer_create(client, &options, &consumer);
    }
    if (actor->result == 0) {
        actor->result = bench_loop(actor, client, messages, consumer);
    }
    runnel_consumer_destroy(consumer);
    runnel_client_destroy(client);
    free(messages);
    free(payload);
    return NULL;
}
