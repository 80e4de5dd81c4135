/* Unit tests for vsr/checkpoint_store (a group's checkpoints in two files: crash-safe,
 * checked on read) and for the partition state machine's snapshot
 * (node/data_plane_snapshot.c: round trip, untrusted bytes refused and nothing changed). */
#include "vsr/checkpoint_store.h"

#include "lib/error.h"
#include "node/data_plane_internal.h"
#include "tests/sim/sim_disk.h"
#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { STORE_BYTES = 3000 };

static struct sim_disk disk;

static void run_io(void)
{
    for (int round = 0; round < 10000 && io_pending_count(&disk.io) > 0; round++) {
        io_run(&disk.io, 1);
    }
}

static void disk_setup(void)
{
    struct sim_disk_options options = {.seed = 7,
                                       .files_max = 16,
                                       .handles_max = 16,
                                       .pending_max = 16,
                                       .file_size_bytes_max = 1 << 20,
                                       .direct_supported = true};
    assert_int_equal(sim_disk_init(&disk, &options), 0);
    assert_int_equal(atomic_file_create_directory(&disk.io, "p"), 0);
}

static void fill(uint8_t *bytes, uint8_t seed)
{
    for (uint32_t index = 0; index < STORE_BYTES; index++) {
        bytes[index] = (uint8_t)(index * 31u + seed);
    }
}

/* Writes bytes as one checkpoint in two chunks; each chunk is reported by the pass. */
static void write_whole(struct checkpoint_store *store, const uint8_t *bytes)
{
    assert_int_equal(checkpoint_store_write(0, bytes, 1000, false, store), 0);
    assert_true(checkpoint_store_is_busy(store));
    run_io();
    assert_true(checkpoint_store_pass(store));
    assert_false(checkpoint_store_pass(store));
    assert_int_equal(checkpoint_store_write(1000, bytes + 1000, STORE_BYTES - 1000, true, store),
                     0);
    run_io();
    assert_true(checkpoint_store_pass(store));
    assert_false(checkpoint_store_is_busy(store));
}

static void test_store_alternates_and_survives_a_torn_write(void **state)
{
    (void)state;
    disk_setup();
    static uint8_t first[STORE_BYTES], second[STORE_BYTES], third[STORE_BYTES];
    static uint8_t read_back[STORE_BYTES];
    fill(first, 1);
    fill(second, 2);
    fill(third, 3);
    struct checkpoint_store store;
    assert_int_equal(checkpoint_store_open(&store, &disk.io, "p"), 0);
    write_whole(&store, first);
    u128 first_checksum = vsr_checksum(first, STORE_BYTES);
    assert_int_equal(checkpoint_store_read(first_checksum, 0, read_back, STORE_BYTES, &store), 0);
    assert_memory_equal(read_back, first, STORE_BYTES);
    /* Only whole checkpoints are read back; a chunk that continues nothing is refused. */
    assert_int_equal(checkpoint_store_read(first_checksum, 8, read_back, 8, &store),
                     -RUNNEL_ENOTFOUND);
    assert_int_equal(checkpoint_store_write(500, second, 10, true, &store), -RUNNEL_ESTATE);
    /* The next one starts in the other file; a crash tears it before its last chunk. */
    assert_int_equal(checkpoint_store_write(0, second, 1000, false, &store), 0);
    assert_int_equal(checkpoint_store_write(1000, second, 10, true, &store), -RUNNEL_EFULL);
    run_io();
    sim_disk_crash(&disk, SIM_DISK_CRASH_TEAR);
    struct checkpoint_store again;
    assert_int_equal(checkpoint_store_open(&again, &disk.io, "p"), 0);
    memset(read_back, 0, sizeof(read_back));
    assert_int_equal(checkpoint_store_read(first_checksum, 0, read_back, STORE_BYTES, &again), 0);
    assert_memory_equal(read_back, first, STORE_BYTES);
    assert_int_not_equal(
        checkpoint_store_read(vsr_checksum(second, STORE_BYTES), 0, read_back, STORE_BYTES, &again),
        0);
    /* The one read back is kept: the next write goes into the other file. */
    assert_int_equal(checkpoint_store_read(first_checksum, 0, read_back, STORE_BYTES, &again), 0);
    write_whole(&again, third);
    assert_int_equal(checkpoint_store_read(first_checksum, 0, read_back, STORE_BYTES, &again), 0);
    u128 third_checksum = vsr_checksum(third, STORE_BYTES);
    assert_int_equal(checkpoint_store_read(third_checksum, 0, read_back, STORE_BYTES, &again), 0);
    assert_memory_equal(read_back, third, STORE_BYTES);
    /* Damage is refused, never returned. */
    assert_int_equal(sim_disk_flip_bit(&disk, again.paths[again.current], 8 * 1500 + 3), 0);
    assert_int_equal(checkpoint_store_read(third_checksum, 0, read_back, STORE_BYTES, &again),
                     -RUNNEL_EFAULTY);
    checkpoint_store_close(&again);
    sim_disk_deinit(&disk);
}

static struct data_partition *partition_new(void)
{
    struct data_partition *partition = calloc(1, sizeof(*partition));
    assert_non_null(partition);
    partition->is_used = true;
    return partition;
}

static void test_snapshot_round_trip_and_bad_bytes(void **state)
{
    (void)state;
    struct data_partition *source = partition_new();
    source->op_applied = 4242;
    source->commit_offset_next = 9000;
    source->messages_count = 8999;
    source->size_bytes = 123456;
    struct data_offset *offset = data_partition_offset(source, 1, 7, true);
    offset->has_offset = true;
    offset->offset = 77;
    offset = data_partition_offset(source, 2, 7, true);
    offset->has_offset = true;
    offset->offset = 88;
    (void)data_partition_offset(source, 1, 9, true); /* polled, not committed: not state */
    static uint8_t bytes[DATA_PLANE_SNAPSHOT_SIZE_MAX];
    uint32_t size = data_partition_snapshot(bytes, sizeof(bytes), source);
    assert_int_equal(size, 64 + 2 * 16); /* version 2 */
    struct data_partition *target = partition_new();
    assert_int_equal(data_partition_restore(bytes, size, target), 0);
    assert_int_equal(target->op_applied, 4242);
    assert_int_equal(target->commit_offset_next, 9000);
    assert_int_equal(target->messages_count, 8999);
    assert_int_equal(target->size_bytes, 123456);
    assert_int_equal(data_partition_offset(target, 1, 7, false)->offset, 77);
    assert_int_equal(data_partition_offset(target, 2, 7, false)->offset, 88);
    assert_null(data_partition_offset(target, 1, 9, false));
    /* Untrusted bytes: every damage is refused and the state stays as it was. */
    static const uint32_t flips[] = {0, 4, 47, 55, 56, 60, 64, 65, 66, 80};
    for (uint32_t index = 0; index < sizeof(flips) / sizeof(flips[0]); index++) {
        uint8_t bad[sizeof(bytes)];
        memcpy(bad, bytes, size);
        bad[flips[index]] ^= 0x80;
        assert_int_equal(data_partition_restore(bad, size, target), -RUNNEL_EFORMAT);
    }
    assert_int_equal(data_partition_restore(bytes, size - 1, target), -RUNNEL_EFORMAT);
    assert_int_equal(data_partition_restore(bytes, 12, target), -RUNNEL_EFORMAT);
    uint8_t twice[sizeof(bytes)];
    memcpy(twice, bytes, size);
    memcpy(twice + 80, twice + 64, 16); /* the same consumer twice */
    assert_int_equal(data_partition_restore(twice, size, target), -RUNNEL_EFORMAT);
    assert_int_equal(target->op_applied, 4242);
    assert_int_equal(data_partition_offset(target, 2, 7, false)->offset, 88);
    free(source);
    free(target);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_alternates_and_survives_a_torn_write),
        cmocka_unit_test(test_snapshot_round_trip_and_bad_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
