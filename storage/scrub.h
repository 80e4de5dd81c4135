/*
 * Background scrub of a partition log's sealed segments (issue 3 item 4, research/vsr.md
 * §2.5): damage nobody reads (bit rot, latent sector errors, misdirected writes) is found
 * early and reported, so VSR repairs it from a peer while the other copies still exist.
 *
 * The scrubber walks the sealed ops in order, one record per step: each step reads the
 * record through partition_read_op, which verifies it (checksums, op, index copy, chain
 * position) and marks a damaged op faulty (partition_faulty_op). After the last sealed op
 * it starts over from the first (a new cycle). The owner calls scrub_step at its own pace
 * (e.g. one step per tick), so the I/O and CPU it spends are bounded; the tail segment is
 * left to recovery and to reads.
 *
 * Runs on the shard that owns the partition. The caller owns the struct scrub and its
 * buffer (sector-aligned, at least record max + 2 sectors) for as long as it scrubs.
 */
#ifndef RUNNEL_STORAGE_SCRUB_H
#define RUNNEL_STORAGE_SCRUB_H

#include "storage/partition.h"

#include <stdbool.h>
#include <stdint.h>

struct scrub;
/* After each step: op was verified intact (result 0) or found damaged (-RUNNEL_EFAULTY,
 * now faulty in the partition), or the read failed (-errno). */
typedef void (*scrub_callback)(struct scrub *scrub, uint64_t op, int result, void *context);

struct scrub {
    struct partition *partition;
    struct partition_read read;
    uint8_t *buffer;
    uint64_t buffer_size_bytes;
    scrub_callback callback;
    void *context;
    uint64_t op_next; /* next op to verify */
    bool is_busy;     /* a step's read is in flight */
    /* Counters. */
    uint64_t verified_count;
    uint64_t damaged_count;
    uint64_t cycle_count; /* completed passes over the sealed ops */
};

/* Binds a scrubber to an open partition; the first step starts at the first sealed op. */
void scrub_init(struct scrub *scrub, struct partition *partition, uint8_t *buffer,
                uint64_t buffer_size_bytes, scrub_callback callback, void *context);

/*
 * Starts one step: the next sealed op's record is read and verified. Returns 0 (the
 * callback runs later or, when served at once, before this returns), 1 when there is
 * nothing to scrub (no sealed op), -RUNNEL_ESTATE while a step is in flight, or the
 * partition's failure. Ops already known faulty are skipped (they await repair).
 */
int scrub_step(struct scrub *scrub);

#endif
