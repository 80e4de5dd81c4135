/*
 * The shards: one thread per core of the process's CPU affinity mask (or a configured
 * count), each pinned, each owning one io_uring (node/runtime_uring.h), its timers, its
 * connections (node/net.h) and its end of the cross-shard queues (node/xshard.h).
 *
 * A shard's loop pass (research/iouring.md §8.1): run the callbacks of the last pass's
 * completions; drain the inbound cross-shard queues; expire timers (the 10 ms tick among
 * them); flush (sends, receive re-arms, one doorbell per destination); then one
 * io_uring_enter that submits everything and waits until the next timer deadline.
 *
 * Shutdown: shard_set_stop (from the signal-handling thread) asks every shard to drain:
 * shard 0 stops accepting, connections stop receiving, what was received is answered and
 * sent, then connections close; the handler's on_drain puts its storage to rest. A shard
 * exits when it has nothing in flight and the handler's is_drained holds, or when the
 * drain deadline passes. shard_set_join then frees everything.
 */
#ifndef RUNNEL_NODE_SHARD_H
#define RUNNEL_NODE_SHARD_H

#include "lib/clock.h"
#include "node/net.h"
#include "node/node_config.h"
#include "node/node_handler.h"
#include "node/runtime_uring.h"
#include "node/timer_heap.h"
#include "node/xshard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SHARD_ERROR_SIZE_MAX = 512, SHARD_ADDRESS_SIZE_MAX = 64 };

struct shard_set_options {
    uint32_t shard_count; /* 0: one per CPU of the affinity mask */
    bool is_pinned;
    bool has_listeners;
    char client_address[SHARD_ADDRESS_SIZE_MAX];
    uint32_t client_port; /* 0: any free port (see shard_set_port) */
    char replica_address[SHARD_ADDRESS_SIZE_MAX];
    uint32_t replica_port;
    uint32_t connections_max; /* per node; split across shards */
    struct runtime_uring_options uring;
    struct net_options net; /* connections_max is set per shard by shard_set_start */
    uint32_t timers_max;
    uint32_t xshard_entries_max;
    uint64_t tick_ns;
    uint64_t drain_timeout_ns;
};

struct shard_set;

struct shard {
    struct shard_set *set;
    uint32_t index;
    int32_t cpu; /* -1: not pinned */
    pthread_t thread;
    struct runtime_uring *uring;
    struct net net;
    bool has_net;
    struct timer_heap timers;
    struct timer **timer_memory;
    struct timer tick_timer;
    struct timer sweep_timer;
    struct timer drain_timer;
    struct clock clock;
    uint64_t ticks;
    uint64_t ticks_skipped; /* missed during stalls, not fired late (shard_tick) */
    uint64_t passes;
    bool is_draining;
    bool is_drain_expired;
    int init_result;
    char init_error[SHARD_ERROR_SIZE_MAX];
};

struct shard_set {
    struct shard_set_options options;
    struct shard *shards;
    uint32_t shard_count;
    struct xshard xshard;
    struct node_handler *handler;
    int listeners[2]; /* by enum net_peer_kind; handed to shard 0 */
    uint32_t ports[2];
    pthread_barrier_t start_barrier; /* shards + the starting thread */
    pthread_barrier_t exit_barrier;  /* shards: rings stay open until all loops end */
    atomic_bool is_stop_requested;
    atomic_uint shards_running;
};

/* Options for runneld from its configuration. */
void shard_set_options_from_config(const struct node_config *config,
                                   struct shard_set_options *options);

/* Options for tests and the benchmark: small buffers, listeners on 127.0.0.1:0. */
void shard_set_options_default(struct shard_set_options *options);

/*
 * Checks the environment (io_uring, memlock), opens the listeners, starts the shard
 * threads and waits until every shard has set itself up. On error nothing is left
 * running and error_text holds one line saying what failed and how to fix it.
 */
int shard_set_start(struct shard_set *set, const struct shard_set_options *options,
                    struct node_handler *handler, char *error_text, size_t error_size_bytes);

/* Asks every shard to drain and exit. Safe from any thread, repeatable. */
void shard_set_stop(struct shard_set *set);

/* True while any shard thread is still in its loop. */
bool shard_set_is_running(const struct shard_set *set);

/* Waits for every shard thread to end, then frees the set's memory. */
void shard_set_join(struct shard_set *set);

/* The port the listener of kind is bound to. */
uint32_t shard_set_port(const struct shard_set *set, enum net_peer_kind kind);

#endif
