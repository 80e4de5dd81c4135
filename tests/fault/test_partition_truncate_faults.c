/*
 * Fault loops for suffix truncation and overwrite of the partition log (what VSR asks of
 * its journal: a new view's log replaces ops from op_min on). Workload: a log of several
 * segments, partition_truncate_suffix into an earlier segment, then new records at the
 * truncated ops. Under the Nth file operation failing and under a crash at the Nth sync
 * (unsynced writes kept, dropped or torn), after recovery:
 *   - every op below op_min reads back intact (it was durable before the truncation);
 *   - every op at or above op_min reads back intact as either its old or its new record;
 *     no old one once the truncation returned, the new one once reported durable;
 *   - nothing is faulty (no bit was flipped), and the reopened log takes appends.
 */
#include "storage/partition.h"

#include "lib/error.h"
#include "lib/log.h"
#include "tests/sim/sim_disk.h"
#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

enum { RECORDS = 40, OP_MIN = 12, NEW_RECORDS = 4, BODY_SIZE = 1500 };

struct harness {
    struct sim_disk disk;
    struct partition partition;
    u128 old_checksums[RECORDS + 1];
    u128 new_checksums[OP_MIN + NEW_RECORDS];
    uint64_t op_durable;
    bool truncated; /* partition_truncate_suffix returned 0 */
};

static struct harness harness;
static _Alignas(4096) uint8_t read_buffer[16 * 1024];

static void durable_callback(struct partition *partition, uint64_t op_durable, int result,
                             void *context)
{
    (void)partition;
    (void)context;
    if (result == 0 && harness.truncated && op_durable > harness.op_durable) {
        harness.op_durable = op_durable;
    }
}

static void noop_callback(struct io_completion *completion)
{
    (void)completion;
}

static void read_callback(struct partition_read *read, void *context)
{
    (void)read;
    (void)context;
}

static const struct partition_options options_base = {
    .directory = "p",
    .group = {.stream_id = 1, .topic_id = 1, .partition_id = 1, .kind = 1, .incarnation = 1},
    .cluster = 5,
    .segment_size_bytes = 32 * 1024,
    .preallocate_bytes = 8 * 1024,
    .index_entries_max = 64,
    .record_size_bytes_max = 4096 + 256,
    .buffer_size_bytes = 24 * 1024,
    .flush_records_max = 16,
    .segments_max = 32,
    .faulty_max = 32,
    .durability_fsync = true,
    .direct_allowed = true,
    .durable_callback = durable_callback,
};

static void run_idle(void)
{
    for (int round = 0; round < 20000 && io_pending_count(&harness.disk.io) > 0; round++) {
        io_run(&harness.disk.io, 1);
    }
}

/* Appends one non-message record (seed in its body); flushes and retries when full. */
static int append(uint8_t seed, u128 *checksum_out)
{
    uint8_t body[BODY_SIZE];
    memset(body, seed, sizeof(body));
    struct vsr_header header;
    for (int attempt = 0; attempt < 3; attempt++) {
        partition_prepare(&harness.partition, &header, VSR_OPERATION_OFFSET_STORE, body,
                          sizeof(body), 1);
        int result = partition_append(&harness.partition, &header, body);
        if (result != -RUNNEL_EFULL) {
            *checksum_out = header.checksum;
            return result;
        }
        result = partition_flush(&harness.partition);
        if (result != 0) {
            return result;
        }
        run_idle();
    }
    return -RUNNEL_EFULL;
}

static void setup(void)
{
    memset(&harness, 0, sizeof(harness));
    struct sim_disk_options disk_options = {.seed = 1,
                                            .files_max = 64,
                                            .handles_max = 64,
                                            .pending_max = 64,
                                            .file_size_bytes_max = 1 << 22,
                                            .direct_supported = true};
    assert_int_equal(sim_disk_init(&harness.disk, &disk_options), 0);
    struct io_completion completion = {0};
    io_mkdir(&harness.disk.io, &completion, "p", noop_callback, NULL);
    assert_int_equal(io_wait(&harness.disk.io, &completion, 10), 0);
    io_open(&harness.disk.io, &completion, "", IO_OPEN_DIRECTORY, noop_callback, NULL);
    int32_t root = (int32_t)io_wait(&harness.disk.io, &completion, 10);
    io_fsync(&harness.disk.io, &completion, root, noop_callback, NULL);
    assert_int_equal(io_wait(&harness.disk.io, &completion, 10), 0);
    assert_int_equal(partition_init(&harness.partition, &options_base), 0);
    assert_int_equal(partition_open(&harness.partition, &harness.disk.io), 0);
    for (uint64_t op = 1; op <= RECORDS; op++) {
        assert_int_equal(append((uint8_t)op, &harness.old_checksums[op]), 0);
        if (op % 3 == 0) {
            assert_int_equal(partition_flush(&harness.partition), 0);
            run_idle();
        }
    }
    assert_int_equal(partition_flush(&harness.partition), 0);
    run_idle();
    assert_int_equal(harness.partition.op_durable, RECORDS);
    assert_true(harness.partition.segment_count >= 3);
    assert_true(harness.partition.segments[harness.partition.segment_count - 1].op_first > OP_MIN);
    harness.op_durable = 0;
}

/* The truncation and the new records; stops at the first error. */
static void workload(void)
{
    if (partition_truncate_suffix(&harness.partition, OP_MIN) != 0) {
        return;
    }
    harness.truncated = true;
    for (uint32_t index = 0; index < NEW_RECORDS; index++) {
        if (append((uint8_t)(200 + index), &harness.new_checksums[OP_MIN + index]) != 0) {
            return;
        }
    }
    if (partition_flush(&harness.partition) == 0) {
        run_idle();
    }
}

static void check_op(uint64_t op)
{
    struct partition_read read;
    int result = partition_read_op(&harness.partition, &read, op, read_buffer, sizeof(read_buffer),
                                   read_callback, NULL);
    if (result == 0) {
        run_idle();
        result = read.result;
    } else if (result == 1) {
        result = read.result;
    }
    assert_int_equal(result, 0);
    bool is_new = op < OP_MIN + NEW_RECORDS && read.header.checksum == harness.new_checksums[op];
    bool is_old = read.header.checksum == harness.old_checksums[op];
    assert_true(op < OP_MIN ? is_old : (is_old || is_new));
    assert_true(!(harness.truncated && op >= OP_MIN) || is_new);
}

/* Recovery after the fault: the invariants in the file comment. */
static void recover_and_check(enum sim_disk_crash_mode mode)
{
    sim_disk_crash(&harness.disk, mode);
    partition_deinit(&harness.partition);
    bool truncated = harness.truncated;
    uint64_t acknowledged = harness.op_durable;
    assert_int_equal(partition_init(&harness.partition, &options_base), 0);
    assert_int_equal(partition_open(&harness.partition, &harness.disk.io), 0);
    uint64_t op_last = harness.partition.op_last;
    assert_true(op_last >= OP_MIN - 1);
    assert_int_equal(partition_faulty_count(&harness.partition), 0);
    for (uint64_t op = 1; op <= op_last; op++) {
        check_op(op);
    }
    for (uint64_t op = OP_MIN; truncated && op <= acknowledged; op++) {
        assert_true(op <= op_last && op < OP_MIN + NEW_RECORDS);
    }
    harness.truncated = false;
    u128 checksum = 0;
    assert_int_equal(append(99, &checksum), 0);
    assert_int_equal(partition_flush(&harness.partition), 0);
    run_idle();
    partition_close(&harness.partition);
    partition_deinit(&harness.partition);
    sim_disk_deinit(&harness.disk);
}

static void test_crash_at_nth_sync(void **state)
{
    (void)state;
    setup();
    uint64_t syncs_before = harness.disk.sync_count;
    workload();
    uint64_t syncs = harness.disk.sync_count - syncs_before;
    recover_and_check(SIM_DISK_CRASH_KEEP);
    assert_true(syncs > 4);
    for (uint64_t nth = 1; nth <= syncs + 1; nth++) {
        for (int mode = 0; mode < 3; mode++) {
            setup();
            struct sim_disk_faults faults = {.crash_at_sync = nth};
            sim_disk_faults_set(&harness.disk, &faults);
            workload();
            recover_and_check((enum sim_disk_crash_mode)mode);
        }
    }
}

static void test_nth_operation_fails(void **state)
{
    (void)state;
    setup();
    struct sim_disk_faults counting = {.fail_operation_mask = sim_disk_mask_files()};
    sim_disk_faults_set(&harness.disk, &counting);
    workload();
    uint64_t operations = harness.disk.operation_count;
    recover_and_check(SIM_DISK_CRASH_KEEP);
    assert_true(operations > 10);
    for (uint64_t nth = 1; nth <= operations + 1; nth++) {
        setup();
        struct sim_disk_faults faults = {.fail_operation_at = nth,
                                         .fail_operation_mask = sim_disk_mask_files(),
                                         .fail_error = -EIO};
        sim_disk_faults_set(&harness.disk, &faults);
        workload();
        /* A failed partition is reopened, as its owner does (a process restart). */
        recover_and_check(nth % 2 == 0 ? SIM_DISK_CRASH_KEEP : SIM_DISK_CRASH_DROP);
    }
}

int main(void)
{
    helper_assert_install();
    log_level_set(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_at_nth_sync),
        cmocka_unit_test(test_nth_operation_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
