/* Unit tests for storage/partition_find over the simulated disk: offset and timestamp
 * lookups across sealed segments and the tail, and a damaged sealed index entry. */
#include "storage/partition_find.h"

#include "lib/error.h"
#include "tests/sim/sim_disk.h"
#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct fixture {
    struct sim_disk disk;
    struct partition partition;
    uint64_t op_durable;
    int durable_result;
    uint32_t durable_calls;
};

static struct fixture fixture;

static void durable_callback(struct partition *partition, uint64_t op_durable, int result,
                             void *context)
{
    (void)partition;
    struct fixture *state = context;
    state->op_durable = op_durable;
    state->durable_result = result;
    state->durable_calls++;
}

static void noop_callback(struct io_completion *completion)
{
    (void)completion;
}

static void fixture_setup(uint64_t seed)
{
    memset(&fixture, 0, sizeof(fixture));
    struct sim_disk_options disk_options = {
        .seed = seed,
        .files_max = 64,
        .handles_max = 64,
        .pending_max = 64,
        .file_size_bytes_max = 1 << 22,
        .direct_supported = true,
    };
    assert_int_equal(sim_disk_init(&fixture.disk, &disk_options), 0);
    struct io_completion completion = {0};
    io_mkdir(&fixture.disk.io, &completion, "p", noop_callback, NULL);
    assert_int_equal(io_wait(&fixture.disk.io, &completion, 10), 0);
    struct partition_options options = {
        .directory = "p",
        .group = {.stream_id = 1, .topic_id = 1, .partition_id = 3, .kind = 1, .incarnation = 9},
        .cluster = 77,
        .segment_size_bytes = 64 * 1024,
        .preallocate_bytes = 16 * 1024,
        .index_entries_max = 64,
        .record_size_bytes_max = 8 * 1024,
        .buffer_size_bytes = 32 * 1024,
        .flush_records_max = 16,
        .segments_max = 16,
        .faulty_max = 16,
        .durability_fsync = true,
        .direct_allowed = true,
        .durable_callback = durable_callback,
        .context = &fixture,
    };
    assert_int_equal(partition_init(&fixture.partition, &options), 0);
    assert_int_equal(partition_open(&fixture.partition, &fixture.disk.io), 0);
}

static void fixture_teardown(void)
{
    partition_close(&fixture.partition);
    partition_deinit(&fixture.partition);
    sim_disk_deinit(&fixture.disk);
}

/* A batch of count messages of size bytes, payload bytes derived from seed. */
static uint32_t batch_make(uint8_t *buffer, uint32_t count, uint32_t size, uint8_t seed)
{
    struct batch_builder builder;
    uint8_t payload[2048];
    assert_true(size <= sizeof(payload));
    batch_builder_init(&builder, buffer, 8 * 1024, 1000);
    for (uint32_t index = 0; index < count; index++) {
        memset(payload, (uint8_t)(seed + index), size);
        assert_int_equal(
            batch_builder_add(&builder, index + 1, 0, 1000 + index, payload, size, NULL, 0), 0);
    }
    return (uint32_t)batch_builder_finish(&builder);
}

static void run_until_idle(void)
{
    for (int round = 0; round < 10000 && io_pending_count(&fixture.disk.io) > 0; round++) {
        io_run(&fixture.disk.io, 1);
    }
    assert_false(partition_is_flushing(&fixture.partition));
}

/* Appends one batch, flushing and retrying when the partition asks for it. */
static void append_batch(uint8_t seed, uint32_t count, uint64_t timestamp_ns)
{
    uint8_t body[8 * 1024];
    uint32_t size = batch_make(body, count, 100, seed);
    struct vsr_header header;
    for (int attempt = 0; attempt < 3; attempt++) {
        partition_prepare(&fixture.partition, &header, VSR_OPERATION_MESSAGES, body, size,
                          timestamp_ns);
        int result = partition_append(&fixture.partition, &header, body);
        if (result == 0) {
            return;
        }
        assert_int_equal(result, -RUNNEL_EFULL);
        assert_int_equal(partition_flush(&fixture.partition), 0);
        run_until_idle();
    }
    fail();
}

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
    int result = is_timestamp ? partition_find_timestamp_start(&fixture.partition, find, key,
                                                               buffer, find_callback, NULL)
                              : partition_find_offset_start(&fixture.partition, find, key, buffer,
                                                            find_callback, NULL);
    if (result < 0) {
        return result;
    }
    if (result == 0) {
        for (int round = 0; round < 10000 && !find_done; round++) {
            io_run(&fixture.disk.io, 1);
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
        append_batch((uint8_t)index, 4, 1000000 + 10 * (uint64_t)index);
        if (index % 3 == 2) {
            assert_int_equal(partition_flush(&fixture.partition), 0);
            run_until_idle();
        }
    }
    assert_int_equal(partition_flush(&fixture.partition), 0);
    run_until_idle();
    assert_true(fixture.partition.segment_count >= 3);
}

static void test_find_across_segments(void **state)
{
    (void)state;
    fixture_setup(11);
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
        partition_close(&fixture.partition);
        assert_int_equal(partition_open(&fixture.partition, &fixture.disk.io), 0);
    }
    fixture_teardown();
}

static void test_find_damaged_entry(void **state)
{
    (void)state;
    fixture_setup(12);
    fill_segments();
    const struct partition_segment *sealed = &fixture.partition.segments[0];
    assert_true(sealed->entry_count > 9);
    char path[IO_PATH_SIZE_MAX];
    snprintf(path, sizeof(path), "%s", sealed->index_path);
    uint64_t op_first = sealed->op_first;
    /* Damage entry 9 (sector 1) of the first sealed index. */
    assert_int_equal(sim_disk_flip_bit(&fixture.disk, path, (9 * 512 + 300) * 8), 0);
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
    fixture_teardown();
}

/* Sealed segments are read through the page cache: their log handles are not O_DIRECT
 * (after a rotation and after a reopen); the tail's is. */
static void check_handles(void)
{
    const struct partition *partition = &fixture.partition;
    for (uint32_t index = 0; index < partition->segment_count; index++) {
        int32_t file = partition->segments[index].log_file;
        assert_true(file >= 0 && (uint32_t)file < fixture.disk.options.handles_max);
        bool is_direct = (fixture.disk.handles[file].flags & IO_OPEN_DIRECT) != 0;
        assert_true(fixture.disk.handles[file].used);
        assert_true(is_direct == (index + 1 == partition->segment_count));
    }
}

static void test_sealed_reads_buffered(void **state)
{
    (void)state;
    fixture_setup(13);
    fill_segments();
    check_handles();
    partition_close(&fixture.partition);
    assert_int_equal(partition_open(&fixture.partition, &fixture.disk.io), 0);
    check_handles();
    fixture_teardown();
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
