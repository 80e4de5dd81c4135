/*
 * A simulated replica's journal on the real storage code: storage/partition.c over the
 * simulated disk (sim_disk.h), behind vsr/journal_partition.c, for groups of any size:
 * writes out of op order (repair, a new view's log) are parked and landed by the
 * adapter, a different prepare at an op cuts the log there (suffix truncation), faulty
 * entries are repaired in place, and small segments make the log rotate. A crash keeps,
 * drops or tears what was not durable on the disk, then the partition is reopened
 * (recovered) exactly as after a process crash. Single thread.
 */
#ifndef RUNNEL_TESTS_SIM_SIM_STORAGE_H
#define RUNNEL_TESTS_SIM_SIM_STORAGE_H

#include "storage/partition.h"
#include "tests/sim/sim_disk.h"
#include "vsr/journal_partition.h"

#include <stdbool.h>
#include <stdint.h>

enum { SIM_STORAGE_PARKED_MAX = 32 };

struct sim_storage {
    struct sim_disk disk;
    struct partition partition;
    struct journal_partition journal;
    struct partition_options options;
    bool is_open;
};

/* Formats an empty disk for group and cluster. Returns 0 or a negative code. */
int sim_storage_init(struct sim_storage *storage, uint64_t seed, const struct vsr_group *group,
                     u128 cluster);
void sim_storage_deinit(struct sim_storage *storage);
/* Opens (recovers) the partition; journal_out receives the replica's journal interface. */
int sim_storage_open(struct sim_storage *storage, struct vsr_journal *journal_out);
/* Names the replica that receives durability reports (after vsr_replica_init). */
void sim_storage_attach(struct sim_storage *storage, struct vsr_replica *replica);
/* One loop pass: starts group commits, reports durable ops, runs the disk a step. */
void sim_storage_tick(struct sim_storage *storage);
/* Process crash: the partition and journal are dropped, the disk keeps/drops/tears. */
void sim_storage_crash(struct sim_storage *storage, enum sim_disk_crash_mode mode);
/* The highest op whose record the partition reported durable (ops up to it all are). */
uint64_t sim_storage_op_durable(const struct sim_storage *storage);

#endif
