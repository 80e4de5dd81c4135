/* Unit tests for storage/scrub over the simulated disk: a bit flipped in a sealed
 * segment is found (and reported faulty) within one pass over the sealed ops. */
#include "storage/scrub.h"

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
static _Alignas(4096) uint8_t scrub_buffer[64 * 1024];

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

static uint64_t last_op;
static int last_result;
static uint32_t callbacks;

static void scrub_callback_record(struct scrub *scrub, uint64_t op, int result, void *context)
{
    (void)scrub;
    (void)context;
    last_op = op;
    last_result = result;
    callbacks++;
}

/* One step to its end; returns the op verified. */
static uint64_t step(struct scrub *scrub)
{
    uint32_t before = callbacks;
    assert_int_equal(scrub_step(scrub), 0);
    for (int round = 0; round < 1000 && callbacks == before; round++) {
        io_run(&fixture.disk.io, 1);
    }
    assert_int_equal(callbacks, before + 1);
    return last_op;
}

static bool read_done;

static void read_callback(struct partition_read *read, void *context)
{
    (void)read;
    (void)context;
    read_done = true;
}

/* The position of op's record in its segment (read, verified). */
static uint64_t record_position(uint64_t op)
{
    static _Alignas(4096) uint8_t buffer[64 * 1024];
    struct partition_read read;
    read_done = false;
    int result = partition_read_op(&fixture.partition, &read, op, buffer, sizeof(buffer),
                                   read_callback, NULL);
    assert_true(result >= 0);
    for (int round = 0; round < 1000 && result == 0 && !read_done; round++) {
        io_run(&fixture.disk.io, 1);
    }
    assert_int_equal(read.result, 0);
    return read.position_bytes;
}

static void test_scrub_finds_flipped_bit(void **state)
{
    (void)state;
    fixture_setup(21);
    struct scrub scrub;
    scrub_init(&scrub, &fixture.partition, scrub_buffer, sizeof(scrub_buffer),
               scrub_callback_record, NULL);
    assert_int_equal(scrub_step(&scrub), 1); /* nothing sealed yet */
    for (uint32_t index = 0; index < 150; index++) {
        append_batch((uint8_t)index, 4, 1000000 + index);
        if (index % 3 == 2) {
            assert_int_equal(partition_flush(&fixture.partition), 0);
            run_until_idle();
        }
    }
    assert_int_equal(partition_flush(&fixture.partition), 0);
    run_until_idle();
    const struct partition *partition = &fixture.partition;
    assert_true(partition->segment_count >= 3);
    const struct partition_segment *last_sealed =
        &partition->segments[partition->segment_count - 2];
    uint64_t sealed_ops = last_sealed->op_first + last_sealed->entry_count - 1;
    /* A clean pass: every sealed op verified once, in order, then a new cycle. */
    for (uint64_t op = 1; op <= sealed_ops; op++) {
        assert_int_equal(step(&scrub), op);
        assert_int_equal(last_result, 0);
    }
    assert_int_equal(step(&scrub), 1);
    assert_int_equal(scrub.cycle_count, 1);
    /* Flip a bit in a record of the second segment's log (synced data). */
    uint64_t op_damaged = partition->segments[1].op_first + 4;
    uint64_t position = record_position(op_damaged);
    char path[IO_PATH_SIZE_MAX];
    snprintf(path, sizeof(path), "%s", partition->segments[1].log_path);
    assert_int_equal(sim_disk_flip_bit(&fixture.disk, path, (position + 900) * 8 + 5), 0);
    /* Found within one pass (sealed_ops steps), reported faulty, nothing else. */
    bool found = false;
    for (uint64_t count = 0; count < sealed_ops && !found; count++) {
        uint64_t op = step(&scrub);
        if (last_result != 0) {
            assert_int_equal(last_result, -RUNNEL_EFAULTY);
            assert_int_equal(op, op_damaged);
            found = true;
        }
    }
    assert_true(found);
    assert_int_equal(scrub.damaged_count, 1);
    assert_true(partition_is_faulty(partition, op_damaged));
    assert_int_equal(partition_faulty_count(partition), 1);
    /* The next pass skips the op awaiting repair. */
    for (uint64_t count = 0; count < sealed_ops; count++) {
        assert_true(step(&scrub) != op_damaged);
        assert_int_equal(last_result, 0);
    }
    fixture_teardown();
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrub_finds_flipped_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
