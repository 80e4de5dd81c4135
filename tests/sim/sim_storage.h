/*
 * A simulated replica's journal on the real storage code: storage/partition.c over the
 * simulated disk (sim_disk.h), behind vsr/journal_partition.c, for groups of any size:
 * writes out of op order (repair, a new view's log) are parked and landed by the
 * adapter, a different prepare at an op cuts the log there (suffix truncation), faulty
 * entries are repaired in place, and small segments make the log rotate. A crash keeps,
 * drops or tears what was not durable on the disk, then the partition is reopened
 * (recovered) exactly as after a process crash.
 *
 * For the checkers, a record of what the journal durably holds per op (sim_storage_holds,
 * the partition log's counterpart of sim_journal_holds), kept beside the partition and
 * never read through the replica's I/O path: a record the partition reported durable is
 * held from the pass that reports it to the replica (what the replica may ack, or counts
 * as never to be nacked, is what it was told); every record a restart recovers is held
 * (recovery makes the tail durable, and the replica loads it as its journal); a suffix
 * truncation (the replica's, through the journal interface this wraps, or the adapter's
 * own cut when a different prepare lands) and a restart for state transfer, durable on
 * return, end what they cut. Damage after the write does not end it. Single thread.
 */
#ifndef RUNNEL_TESTS_SIM_SIM_STORAGE_H
#define RUNNEL_TESTS_SIM_SIM_STORAGE_H

#include "storage/partition.h"
#include "tests/sim/sim_disk.h"
#include "vsr/journal_partition.h"

#include <stdbool.h>
#include <stdint.h>

enum { SIM_STORAGE_PARKED_MAX = 32, SIM_STORAGE_WRITTEN_MAX = 4 };

/* What the journal durably holds at one op (ring slot op mod ops_max + 1, as the replica's:
 * a later op replaces an earlier one). */
struct sim_storage_held {
    uint64_t op;
    u128 checksum; /* reported durable to the replica, or recovered by a restart; 0: none */
    u128 durable;  /* the partition made it durable, not yet reported to the replica; 0: none */
    u128 written[SIM_STORAGE_WRITTEN_MAX]; /* the last distinct prepares written at op */
    uint32_t written_next;
};

struct sim_storage {
    struct sim_disk disk;
    struct partition partition;
    struct journal_partition journal;
    struct partition_options options;
    struct vsr_journal inner;      /* journal_partition's interface; the replica gets a wrapper */
    struct sim_storage_held *held; /* held_count slots */
    uint64_t held_count;
    uint64_t pending_low; /* ops with a durable mark lie in [pending_low, pending_high] */
    uint64_t pending_high;
    uint64_t truncations_seen;     /* journal.truncations_count already accounted for */
    struct sim_disk_faults faults; /* the disk's fault plan, set again after each crash */
    bool is_open;
};

/* Formats an empty disk for group and cluster; the checkers' record covers a window of
 * ops_max + 1 ops (the replica's ring). Returns 0 or a negative code. */
int sim_storage_init(struct sim_storage *storage, uint64_t seed, const struct vsr_group *group,
                     u128 cluster, uint64_t ops_max);
void sim_storage_deinit(struct sim_storage *storage);
/* Opens (recovers) the partition; journal_out receives the replica's journal interface. */
int sim_storage_open(struct sim_storage *storage, struct vsr_journal *journal_out);
/* Names the replica that receives durability reports (after vsr_replica_init). */
void sim_storage_attach(struct sim_storage *storage, struct vsr_replica *replica);
/* One loop pass: starts group commits, reports durable ops, runs the disk a step. */
void sim_storage_tick(struct sim_storage *storage);
/* Process crash: the partition and journal are dropped, the disk keeps/drops/tears. */
void sim_storage_crash(struct sim_storage *storage, enum sim_disk_crash_mode mode);
/* True when the journal durably holds op's prepare with checksum (see above): reported
 * durable to the replica or recovered, and not cut since, perhaps damaged since. The
 * replica may have acked it, so it must never nack it. */
bool sim_storage_holds(const struct sim_storage *storage, uint64_t op, u128 checksum);
/* Flips one random bit of what one of the partition's segment logs holds on the disk (both
 * images: durable damage, as sim_journal_flip's). Returns true when a bit was flipped. */
bool sim_storage_flip(struct sim_storage *storage, struct prng *prng);
/* From now on, and after every crash, per_million of the disk's writes to the partition's
 * segment logs and indexes land elsewhere (sim_disk misdirected writes): at another
 * offset of the same file, or (half of them) in another log or index of the partition's
 * directory. The place asked for keeps what it held; the write still succeeds. */
void sim_storage_misdirect(struct sim_storage *storage, uint32_t per_million);
/* Prints the journal's state (verbose runs, on failure); NULL: nothing. */
void sim_storage_dump(const struct sim_storage *storage);
/* True when checksum is what the journal reports for a write of op it gave up on (the
 * written prepare's checksum with its low bit flipped, journal_partition.h): it names no
 * prepare, and tells the replica the journal holds none there. */
bool sim_storage_is_given_up(const struct sim_storage *storage, uint64_t op, u128 checksum);

#endif
