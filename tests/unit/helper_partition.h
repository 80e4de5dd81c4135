/*
 * Test helper: a storage partition over the simulated disk, shared by the partition,
 * partition_find and scrub unit tests (directory "p", 64 KiB segments, fsync durability).
 */
#ifndef RUNNEL_TESTS_HELPER_PARTITION_H
#define RUNNEL_TESTS_HELPER_PARTITION_H

#include "lib/io.h"
#include "storage/partition.h"
#include "tests/sim/sim_disk.h"

#include <stdint.h>

struct partition_fixture {
    struct sim_disk disk;
    struct partition partition;
    uint64_t op_durable;
    int durable_result;
    uint32_t durable_calls;
};

extern struct partition_fixture partition_fixture;

/* Formats a fresh simulated disk from seed and opens the partition in directory "p". */
void partition_fixture_setup(uint64_t seed);
void partition_fixture_teardown(void);
/* A batch of count messages of size bytes each, payload derived from seed; its size. */
uint32_t partition_fixture_batch(uint8_t *buffer, uint32_t count, uint32_t size, uint8_t seed);
/* Runs the disk until no I/O is pending; the partition must not be flushing then. */
void partition_fixture_run(void);
/* Appends one batch, flushing and retrying when the partition is full. */
void partition_fixture_append(uint8_t seed, uint32_t count, uint64_t timestamp_ns);
/* A completion callback that does nothing (for io_wait). */
void partition_fixture_noop_callback(struct io_completion *completion);

#endif
