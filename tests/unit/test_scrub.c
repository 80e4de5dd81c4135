/* Unit tests for storage/scrub over the simulated disk: a bit flipped in a sealed
 * segment is found (and reported faulty) within one pass over the sealed ops. */
#include "storage/scrub.h"

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

static _Alignas(4096) uint8_t scrub_buffer[64 * 1024];

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
        io_run(&partition_fixture.disk.io, 1);
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
    int result = partition_read_op(&partition_fixture.partition, &read, op, buffer, sizeof(buffer),
                                   read_callback, NULL);
    assert_true(result >= 0);
    for (int round = 0; round < 1000 && result == 0 && !read_done; round++) {
        io_run(&partition_fixture.disk.io, 1);
    }
    assert_int_equal(read.result, 0);
    return read.position_bytes;
}

static void test_scrub_finds_flipped_bit(void **state)
{
    (void)state;
    partition_fixture_setup(21);
    struct scrub scrub;
    scrub_init(&scrub, &partition_fixture.partition, scrub_buffer, sizeof(scrub_buffer),
               scrub_callback_record, NULL);
    assert_int_equal(scrub_step(&scrub), 1); /* nothing sealed yet */
    for (uint32_t index = 0; index < 150; index++) {
        partition_fixture_append((uint8_t)index, 4, 1000000 + index);
        if (index % 3 == 2) {
            assert_int_equal(partition_flush(&partition_fixture.partition), 0);
            partition_fixture_run();
        }
    }
    assert_int_equal(partition_flush(&partition_fixture.partition), 0);
    partition_fixture_run();
    const struct partition *partition = &partition_fixture.partition;
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
    assert_int_equal(sim_disk_flip_bit(&partition_fixture.disk, path, (position + 900) * 8 + 5), 0);
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
    partition_fixture_teardown();
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrub_finds_flipped_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
