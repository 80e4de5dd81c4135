/* Unit tests for storage/partition_find over the simulated disk: offset and timestamp
 * lookups across sealed segments and the tail, and a damaged sealed index entry. */
#include "storage/partition_find.h"

#include "lib/error.h"
#include "tests/sim/sim_disk.h"
#include "tests/unit/helper_assert.h"
#include "tests/unit/helper_partition.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static bool find_done;

static void find_callback(struct partition_find *find, void *context)
{
    (void)find;
    (void)context;
    find_done = true;
}

/* Runs a lookup to its end; returns its result (op in find->op). */
static int find_run(struct partition_find *find, bool is_timestamp, uint64_t key)
{
    static _Alignas(4096) uint8_t buffer[4096];
    find_done = false;
    int result = is_timestamp ? partition_find_timestamp_start(&partition_fixture.partition, find,
                                                               key, buffer, find_callback, NULL)
                              : partition_find_offset_start(&partition_fixture.partition, find, key,
                                                            buffer, find_callback, NULL);
    if (result < 0) {
        return result;
    }
    if (result == 0) {
        for (int round = 0; round < 10000 && !find_done; round++) {
            io_run(&partition_fixture.disk.io, 1);
        }
        assert_true(find_done);
    }
    return find->result;
}

/* 150 batches of 4 messages (offsets 4k..4k+3 in op k+1, timestamp 1000000 + 10 k) over
 * several 64 KiB segments. */
static void fill_segments(void)
{
    for (uint32_t index = 0; index < 150; index++) {
        partition_fixture_append((uint8_t)index, 4, 1000000 + 10 * (uint64_t)index);
        if (index % 3 == 2) {
            assert_int_equal(partition_flush(&partition_fixture.partition), 0);
            partition_fixture_run();
        }
    }
    assert_int_equal(partition_flush(&partition_fixture.partition), 0);
    partition_fixture_run();
    assert_true(partition_fixture.partition.segment_count >= 3);
}

static void test_find_across_segments(void **state)
{
    (void)state;
    partition_fixture_setup(11);
    fill_segments();
    for (int reopen = 0; reopen < 2; reopen++) {
        struct partition_find find;
        for (uint64_t offset = 0; offset < 600; offset++) {
            assert_int_equal(find_run(&find, false, offset), 0);
            assert_int_equal(find.op, offset / 4 + 1);
        }
        assert_int_equal(find_run(&find, false, 600), -RUNNEL_ENOTFOUND);
        for (uint64_t index = 0; index < 150; index++) {
            uint64_t timestamp = 1000000 + 10 * index;
            assert_int_equal(find_run(&find, true, timestamp), 0);
            assert_int_equal(find.op, index + 1);
            assert_int_equal(find_run(&find, true, timestamp - 5), 0);
            assert_int_equal(find.op, index + 1);
        }
        assert_int_equal(find_run(&find, true, 0), 0);
        assert_int_equal(find.op, 1);
        assert_int_equal(find_run(&find, true, 2000000), -RUNNEL_ENOTFOUND);
        /* After a reopen the sealed summaries come from disk. */
        partition_close(&partition_fixture.partition);
        assert_int_equal(partition_open(&partition_fixture.partition, &partition_fixture.disk.io),
                         0);
    }
    partition_fixture_teardown();
}

static void test_find_damaged_entry(void **state)
{
    (void)state;
    partition_fixture_setup(12);
    fill_segments();
    const struct partition_segment *sealed = &partition_fixture.partition.segments[0];
    assert_true(sealed->entry_count > 9);
    char path[IO_PATH_SIZE_MAX];
    snprintf(path, sizeof(path), "%s", sealed->index_path);
    uint64_t op_first = sealed->op_first;
    /* Damage entry 9 (sector 1) of the first sealed index. */
    assert_int_equal(sim_disk_flip_bit(&partition_fixture.disk, path, (9 * 512 + 300) * 8), 0);
    struct partition_find find;
    uint64_t offset = (op_first - 1 + 9) * 4 + 1;
    assert_int_equal(find_run(&find, false, offset), -RUNNEL_EFAULTY);
    uint64_t timestamp = 1000000 + 10 * (op_first - 1 + 9);
    assert_int_equal(find_run(&find, true, timestamp - 3), -RUNNEL_EFAULTY);
    /* Entries elsewhere, the same sector included, are still found. */
    uint32_t others[] = {2, 8, 10, 15, 16};
    for (uint32_t index = 0; index < sizeof(others) / sizeof(others[0]); index++) {
        assert_int_equal(find_run(&find, false, (op_first - 1 + others[index]) * 4 + 3), 0);
        assert_int_equal(find.op, op_first + others[index]);
        assert_int_equal(find_run(&find, true, 1000000 + 10 * (op_first - 1 + others[index])), 0);
        assert_int_equal(find.op, op_first + others[index]);
    }
    partition_fixture_teardown();
}

/* Sealed segments are read through the page cache: their log handles are not O_DIRECT
 * (after a rotation and after a reopen); the tail's is. */
static void check_handles(void)
{
    const struct partition *partition = &partition_fixture.partition;
    for (uint32_t index = 0; index < partition->segment_count; index++) {
        int32_t file = partition->segments[index].log_file;
        assert_true(file >= 0 && (uint32_t)file < partition_fixture.disk.options.handles_max);
        bool is_direct = (partition_fixture.disk.handles[file].flags & IO_OPEN_DIRECT) != 0;
        assert_true(partition_fixture.disk.handles[file].used);
        assert_true(is_direct == (index + 1 == partition->segment_count));
    }
}

static void test_sealed_reads_buffered(void **state)
{
    (void)state;
    partition_fixture_setup(13);
    fill_segments();
    check_handles();
    partition_close(&partition_fixture.partition);
    assert_int_equal(partition_open(&partition_fixture.partition, &partition_fixture.disk.io), 0);
    check_handles();
    partition_fixture_teardown();
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_across_segments),
        cmocka_unit_test(test_find_damaged_entry),
        cmocka_unit_test(test_sealed_reads_buffered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
