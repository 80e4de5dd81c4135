/*
 * runnel-bench workloads (iggy-bench's): the configuration, stream/topic setup and one
 * thread per actor (producer, consumer, group consumer, producing consumer), each with
 * its own client, recording one sample per batch.
 */
#ifndef RUNNEL_CLIENT_BENCH_WORKLOAD_H
#define RUNNEL_CLIENT_BENCH_WORKLOAD_H

#include "client/bench_metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum bench_kind {
    BENCH_PINNED_PRODUCER = 1,
    BENCH_PINNED_CONSUMER,
    BENCH_PINNED_PRODUCER_AND_CONSUMER,
    BENCH_BALANCED_PRODUCER,
    BENCH_BALANCED_CONSUMER_GROUP,
    BENCH_END_TO_END,
};

enum bench_role {
    BENCH_PRODUCER = 1,
    BENCH_CONSUMER,
    BENCH_GROUP_CONSUMER,
    BENCH_PRODUCING_CONSUMER
};

struct bench_config {
    enum bench_kind kind;
    const char *kind_name;
    const char *host;
    uint16_t port;
    const char *username;
    const char *password;
    uint32_t producers;
    uint32_t consumers;
    uint32_t streams;
    uint32_t partitions;
    uint32_t message_size_bytes;
    uint32_t messages_per_batch;
    uint32_t message_batches;
    bool enforce_fsync;
    bool disable_placement; /* runneld: do not move connections to the owning shard */
};

struct bench_actor {
    pthread_t thread;
    const struct bench_config *config;
    enum bench_role role;
    uint32_t index;               /* 1-based among its role */
    uint32_t stream;              /* 1-based: bench-stream-N */
    struct bench_sample *samples; /* samples_max entries */
    /* Its batches: message_batches (0 means that), the group's total when shared, and
     * for pinned-producer-and-consumer message_batches x (producers + consumers) / the
     * actors of its role, as iggy-bench's finish conditions (2000 each by default). */
    uint32_t samples_max;
    /* Group consumers share one budget of batches, as iggy-bench's Shared finish
     * condition: the group stops after consumers x message_batches polls in all (NULL:
     * this actor does message_batches on its own). */
    int64_t *shared_batches_left;
    volatile uint32_t sample_count;
    volatile uint64_t messages_done;
    int result;
    bool is_started; /* its thread was created */
    bool is_joined;  /* ... and joined */
    uint64_t start_ns;
    struct bench_summary summary;
};

/* Fills config with iggy-bench's defaults for kind. */
void bench_config_defaults(struct bench_config *config, enum bench_kind kind);

/* Deletes and recreates bench-stream-1..N / topic-1 (and group cg-1), as iggy-bench. */
int bench_setup(const struct bench_config *config);

/* Thread body of one actor. */
void *bench_actor_main(void *argument);

/* Allocates each actor's samples and starts its thread. 0, or -ENOMEM / -errno (the
 * actors started so far keep running: reap them). */
int bench_actors_start(struct bench_actor *actors, uint32_t count);

/* Joins the actors that have finished (each once); true while any still runs. */
bool bench_actors_reap(struct bench_actor *actors, uint32_t count);

/* Monotonic ns. */
uint64_t bench_now_ns(void);

#endif
