/*
 * Cross-shard messaging (DESIGN.md §3, research/iouring.md §8.4): an N x N matrix of
 * bounded SPSC queues (lib/spsc.h), one per ordered pair of shards, of fixed 64-byte
 * entries, plus at most one MSG_RING doorbell per destination per loop pass.
 *
 * Threads: the queue (from, to) has exactly one producer (shard from) and one consumer
 * (shard to). xshard_push and xshard_flush run on the sending shard; xshard_drain on the
 * receiving shard. Counters are written by their queue's producer only.
 *
 * Full queues never block. Client traffic: push returns -RUNNEL_EFULL, counted as a
 * stall, and the caller pushes back on its source (stops re-arming its receives).
 * Consensus traffic: the entry is dropped and counted (VSR retransmits; DESIGN.md §10.2).
 * Why no wakeup is lost: the doorbell is a CQE left in the target's ring, so a target
 * that checked its queues, found them empty and then waits still wakes at once.
 * Doorbells to awake shards are skipped (Seastar's sleeping flag): a shard about to wait
 * sets its flag, fences and looks at its queues once more (xshard_sleep_begin); a
 * producer pushes, fences and rings only if the flag is set. With a full fence on each
 * side, either the shard sees the entry and does not wait, or the producer sees the flag
 * and rings. A shard that never uses the protocol keeps its flag set and always gets
 * doorbells.
 */
#ifndef RUNNEL_NODE_XSHARD_H
#define RUNNEL_NODE_XSHARD_H

#include "lib/spsc.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct runtime_uring;

enum { XSHARD_SHARDS_MAX = 256 };

enum xshard_class { XSHARD_CLASS_CLIENT = 0, XSHARD_CLASS_CONSENSUS = 1 };

struct xshard_entry {
    uint32_t operation;    /* the receiver's meaning (e.g. adopt a connection) */
    uint32_t source_shard; /* set by xshard_push */
    uint64_t arg0;
    uint64_t arg1;
    void *pointer; /* memory lent by the source: returned to it to be freed there */
    uint8_t payload[32];
};

_Static_assert(sizeof(struct xshard_entry) == 64, "an entry is one cache line");

struct xshard_counters {
    uint64_t pushed;
    uint64_t doorbells_skipped; /* the destination was awake: it drains without one */
    uint64_t stalls;            /* client pushes refused by a full queue */
    uint64_t drops;             /* consensus entries dropped on a full queue */
};

/* A shard's "may be asleep" flag, alone on its cache line. */
struct xshard_sleep {
    alignas(SPSC_CACHE_LINE_SIZE_BYTES) atomic_bool is_sleeping;
};

struct xshard {
    uint32_t shard_count;
    struct xshard_sleep *sleeps;      /* [shard]; true until the shard first says it is awake */
    struct spsc *queues;              /* [to * shard_count + from] */
    struct xshard_counters *counters; /* [from * shard_count + to] */
    bool *doorbell_pending;           /* [from * shard_count + to], producer-owned */
    int *ring_fds;                    /* [shard], published before shards start */
    void *memory;
    uint32_t entry_count_max;
};

/* Allocates shard_count^2 queues of entry_count_max (a power of two). 0 or -ENOMEM. */
int xshard_init(struct xshard *xshard, uint32_t shard_count, uint32_t entry_count_max);
void xshard_deinit(struct xshard *xshard);

/* Publishes shard's ring fd; call before any shard pushes to it. */
void xshard_ring_fd_set(struct xshard *xshard, uint32_t shard, int ring_fd);

/*
 * On shard from: copies entry (source_shard set) into the queue to shard to (from != to)
 * and marks a doorbell due. 0, or -RUNNEL_EFULL (stall counted for client traffic; drop
 * counted for consensus traffic).
 */
int xshard_push(struct xshard *xshard, uint32_t from, uint32_t to, enum xshard_class class,
                const struct xshard_entry *entry);

/* On shard from, once per loop pass: queues one doorbell per destination pushed to since
 * the last flush on uring (from's ring), skipping destinations that are awake. Returns
 * doorbells queued. */
uint32_t xshard_flush(struct xshard *xshard, uint32_t from, struct runtime_uring *uring);

/*
 * On shard (the consumer), just before it would wait in io_uring_enter: marks it asleep,
 * then checks its inbound queues. True when they are empty and it may wait; false when
 * entries arrived (wait 0). Either way call xshard_sleep_end after the enter.
 */
bool xshard_sleep_begin(struct xshard *xshard, uint32_t shard);

/* On shard, after the enter: awake again (producers skip its doorbell until the next
 * xshard_sleep_begin; its next pass drains what they push). */
void xshard_sleep_end(struct xshard *xshard, uint32_t shard);

typedef void (*xshard_callback)(const struct xshard_entry *entry, void *context);

/* On shard to: takes up to batch_max entries from each source's queue, copied out in
 * batches, and calls callback for each. Returns entries handled. */
uint32_t xshard_drain(struct xshard *xshard, uint32_t to, uint32_t batch_max,
                      xshard_callback callback, void *context);

/* Entries waiting in the queue (from, to) (a snapshot). */
uint32_t xshard_depth(const struct xshard *xshard, uint32_t from, uint32_t to);

const struct xshard_counters *xshard_counters(const struct xshard *xshard, uint32_t from,
                                              uint32_t to);

#endif
