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

/* An actor that records nothing while its group's budget does not move either for this
 * long gives up with -ETIMEDOUT (nothing left to poll). */
#define BENCH_STALL_NS (10ull * 1000 * 1000 * 1000)

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

static void bench_record(struct bench_actor *actor, uint64_t latency_ns, uint64_t bytes,
                         uint32_t messages)
{
    assert(actor != NULL);
    assert(messages > 0);
    uint32_t index = actor->sample_count;
    if (index >= actor->samples_max) {
        return;
    }
    actor->samples[index] = (struct bench_sample){
        .end_ns = bench_now_ns() - actor->start_ns,
        .latency_ns = latency_ns,
        .bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes,
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

/* Wall-clock µs now minus the first message's origin timestamp, in ns (Iggy's
 * origin-timestamp latency for consumers of data produced while they consume). */
static uint64_t bench_origin_latency_ns(struct runnel_polled *polled)
{
    assert(polled != NULL);
    struct runnel_message first;
    if (!runnel_polled_next(polled, &first)) {
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    uint64_t latency_us =
        now_us > first.origin_timestamp_us ? now_us - first.origin_timestamp_us : 0;
    assert(latency_us <= now_us);
    return latency_us * 1000u;
}

static int bench_poll(struct bench_actor *actor, struct runnel_client *client, uint64_t offset,
                      uint32_t *received_out, uint64_t *origin_latency_ns_out)
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
    *origin_latency_ns_out = *received_out > 0 ? bench_origin_latency_ns(&polled) : 0;
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

/* True for consumers whose latency is Iggy's origin-timestamp latency. */
static bool bench_uses_origin_latency(const struct bench_actor *actor)
{
    return actor->role == BENCH_PRODUCING_CONSUMER ||
           (actor->role == BENCH_CONSUMER &&
            actor->config->kind == BENCH_PINNED_PRODUCER_AND_CONSUMER);
}

/*
 * As iggy-bench's actors: a producer records each send; a consumer each non-empty poll;
 * a producing consumer sends a batch, then polls until it gets data (it sends again
 * only after that, Iggy's require_reply) and records per poll the bytes sent and
 * received since its last record.
 */
/* True while the actor (or its group) has batches left to do. */
static bool bench_has_work(const struct bench_actor *actor)
{
    assert(actor != NULL);
    if (actor->shared_batches_left != NULL) {
        return __atomic_load_n(actor->shared_batches_left, __ATOMIC_ACQUIRE) > 0 &&
               actor->sample_count < actor->samples_max;
    }
    return actor->sample_count < actor->samples_max;
}

struct bench_progress {
    uint64_t last_ns;
    uint32_t samples;
    int64_t left;
};

/* False once neither the actor's samples nor its group's budget moved for
 * BENCH_STALL_NS. */
static bool bench_is_progressing(const struct bench_actor *actor, struct bench_progress *progress)
{
    assert(actor != NULL && progress != NULL);
    int64_t left = actor->shared_batches_left != NULL
                       ? __atomic_load_n(actor->shared_batches_left, __ATOMIC_ACQUIRE)
                       : -1;
    uint64_t now_ns = bench_now_ns();
    if (actor->sample_count != progress->samples || left != progress->left) {
        progress->samples = actor->sample_count;
        progress->left = left;
        progress->last_ns = now_ns;
    }
    assert(now_ns >= progress->last_ns);
    return now_ns - progress->last_ns < BENCH_STALL_NS;
}

static int bench_loop(struct bench_actor *actor, struct runnel_client *client,
                      const struct runnel_message_out *messages, struct runnel_consumer *consumer)
{
    const struct bench_config *config = actor->config;
    uint64_t batch_bytes = (uint64_t)config->messages_per_batch * config->message_size_bytes;
    uint64_t offset = 0;
    uint32_t sent_batches = 0;
    bool is_awaiting = false;
    int result = 0;
    struct bench_progress progress = {.last_ns = bench_now_ns(), .left = -1};
    while (result == 0 && bench_has_work(actor)) {
        if (!bench_is_progressing(actor, &progress)) {
            return -ETIMEDOUT;
        }
        uint64_t start_ns = bench_now_ns();
        bool is_producing = actor->role == BENCH_PRODUCER ||
                            (actor->role == BENCH_PRODUCING_CONSUMER && !is_awaiting);
        if (is_producing) {
            result = bench_produce(actor, client, messages, sent_batches);
            sent_batches += result == 0 ? 1 : 0;
            is_awaiting = actor->role == BENCH_PRODUCING_CONSUMER;
        }
        if (result != 0 || actor->role == BENCH_PRODUCER) {
            if (result == 0) {
                bench_record(actor, bench_now_ns() - start_ns, batch_bytes,
                             config->messages_per_batch);
            }
            continue;
        }
        uint32_t received = 0;
        uint64_t origin_latency_ns = 0;
        if (actor->role == BENCH_GROUP_CONSUMER) {
            result = bench_group_poll(actor, consumer, &received);
        } else {
            result = bench_poll(actor, client, offset, &received, &origin_latency_ns);
        }
        if (result != 0 || received == 0) {
            continue;
        }
        uint64_t latency_ns =
            bench_uses_origin_latency(actor) ? origin_latency_ns : bench_now_ns() - start_ns;
        uint64_t bytes = (uint64_t)received * config->message_size_bytes;
        bool is_e2e = actor->role == BENCH_PRODUCING_CONSUMER;
        bench_record(actor, latency_ns, bytes + (is_e2e ? batch_bytes : 0),
                     received + (is_e2e ? config->messages_per_batch : 0));
        offset += received;
        is_awaiting = false;
        if (actor->shared_batches_left != NULL) {
            __atomic_sub_fetch(actor->shared_batches_left, 1, __ATOMIC_ACQ_REL);
        }
    }
    return result;
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
    if (actor->result == 0 && !config->disable_placement && actor->role != BENCH_GROUP_CONSUMER) {
        /* runneld: live on the shard owning the partition (a no-op against Iggy). Producers
         * send to partition batch % partitions; consumers poll partition 0. */
        bool is_single = actor->role == BENCH_CONSUMER || config->partitions == 1;
        actor->result = runnel_connection_place(client, runnel_id_name(stream),
                                                runnel_id_name("topic-1"), is_single, 0);
    }
    if (actor->result == 0) {
        actor->start_ns = bench_now_ns(); /* Iggy's actors start their clock after setup */
        actor->result = bench_loop(actor, client, messages, consumer);
    }
    runnel_consumer_destroy(consumer);
    runnel_client_destroy(client);
    free(messages);
    free(payload);
    return NULL;
}

int bench_actors_start(struct bench_actor *actors, uint32_t count)
{
    assert(actors != NULL);
    assert(count > 0);
    uint64_t start_ns = bench_now_ns();
    for (uint32_t index = 0; index < count; index++) {
        struct bench_actor *actor = &actors[index];
        if (actor->samples_max == 0) {
            actor->samples_max = actor->config->message_batches;
        }
        actor->samples = calloc(actor->samples_max, sizeof(struct bench_sample));
        if (actor->samples == NULL) {
            return -ENOMEM;
        }
        actor->start_ns = start_ns;
        int result = pthread_create(&actor->thread, NULL, bench_actor_main, actor);
        if (result != 0) {
            return -result;
        }
        actor->is_started = true;
        actor->is_joined = false;
    }
    return 0;
}

bool bench_actors_reap(struct bench_actor *actors, uint32_t count)
{
    assert(actors != NULL);
    bool is_running = false;
    for (uint32_t index = 0; index < count; index++) {
        struct bench_actor *actor = &actors[index];
        if (actor->is_started && !actor->is_joined) {
            actor->is_joined = pthread_tryjoin_np(actor->thread, NULL) == 0;
        }
        is_running = is_running || (actor->is_started && !actor->is_joined);
    }
    assert(is_running || count == 0 || !actors[0].is_started || actors[0].is_joined);
    return is_running;
}
