/*
 * Fault loops for metadata snapshots (storage/snapshot, on storage/atomic_file) over the
 * simulated disk: a durable snapshot A is replaced by B while the Nth file operation fails
 * (transient or persistent) or the disk stops at the Nth sync with unsynced writes kept,
 * dropped or torn. After the restart snapshot_read returns exactly A or exactly B (B only
 * if possible: never a mix, never an error), and B whenever its write was reported done.
 */
#include "storage/snapshot.h"

#include "lib/error.h"
#include "lib/log.h"
#include "tests/sim/sim_disk.h"
#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { STATE_SIZE = 3000 }; /* several 512-byte sectors: tears bite */

static struct sim_disk disk;
static uint8_t state_a[STATE_SIZE];
static uint8_t state_b[STATE_SIZE];
static uint8_t frame[STATE_SIZE + SNAPSHOT_HEADER_SIZE];
static uint8_t read_buffer[2 * STATE_SIZE];
static int written; /* 0 pending, 1 done, < 0 failed */
static uint32_t rounds_old;
static uint32_t rounds_new;

static void written_callback(struct atomic_file *file, int result, void *context)
{
    (void)file;
    (void)context;
    written = result == 0 ? 1 : result;
}

static void setup(uint64_t seed)
{
    struct sim_disk_options options = {.seed = seed,
                                       .files_max = 8,
                                       .handles_max = 8,
                                       .pending_max = 8,
                                       .file_size_bytes_max = 1 << 20,
                                       .direct_supported = true};
    assert_int_equal(sim_disk_init(&disk, &options), 0);
    for (uint32_t index = 0; index < STATE_SIZE; index++) {
        state_a[index] = (uint8_t)(index * 7);
        state_b[index] = (uint8_t)(index * 13 + 1);
    }
}

/* Writes state as snapshot op to "snapshot"; returns when done, failed or crashed. */
static void write_snapshot(uint64_t op, const uint8_t *state)
{
    static struct atomic_file file;
    memset(&file, 0, sizeof(file));
    written = 0;
    if (snapshot_write(&file, &disk.io, "snapshot", op, state, STATE_SIZE, frame, sizeof(frame),
                       written_callback, NULL) != 0) {
        written = -1;
        return;
    }
    for (int round = 0; round < 1000 && written == 0 && !sim_disk_is_crashed(&disk); round++) {
        io_run(&disk.io, 1);
    }
}

/* Snapshot A, durable (atomic_file fsyncs the directory after the rename). */
static void write_a(void)
{
    write_snapshot(10, state_a);
    assert_int_equal(written, 1);
}

static void check(bool b_done)
{
    uint64_t op = 0;
    const uint8_t *bytes = NULL;
    uint64_t size = 0;
    assert_int_equal(
        snapshot_read(&disk.io, "snapshot", read_buffer, sizeof(read_buffer), &op, &bytes, &size),
        0);
    assert_int_equal(size, STATE_SIZE);
    if (op == 10) {
        assert_false(b_done);
        assert_memory_equal(bytes, state_a, STATE_SIZE);
        rounds_old++;
    } else {
        rounds_new++;
        assert_int_equal(op, 11);
        assert_memory_equal(bytes, state_b, STATE_SIZE);
    }
}

static void test_snapshot_faults(void **state)
{
    (void)state;
    setup(0);
    write_a();
    struct sim_disk_faults counting = {.fail_operation_mask = sim_disk_mask_files()};
    sim_disk_faults_set(&disk, &counting); /* resets the counters; counts file operations */
    uint64_t operations = disk.operation_count;
    uint64_t syncs = disk.sync_count;
    write_snapshot(11, state_b);
    assert_int_equal(written, 1);
    operations = disk.operation_count - operations;
    syncs = disk.sync_count - syncs;
    sim_disk_deinit(&disk);
    assert_true(operations >= 6 && syncs >= 2);
    for (uint64_t nth = 1; nth <= operations + syncs; nth++) {
        for (int mode = 0; mode < 3; mode++) {
            setup(nth * 4 + (uint64_t)mode);
            write_a();
            bool is_crash = nth > operations;
            struct sim_disk_faults faults = {
                .fail_operation_at = is_crash ? 0 : nth,
                .fail_operation_mask = sim_disk_mask_files(),
                .fail_persistent = mode == 1,
                .fail_error = -EIO,
                .crash_at_sync = is_crash ? nth - operations : 0,
            };
            sim_disk_faults_set(&disk, &faults);
            write_snapshot(11, state_b);
            bool b_done = written == 1;
            sim_disk_crash(&disk, is_crash ? (enum sim_disk_crash_mode)mode : SIM_DISK_CRASH_KEEP);
            check(b_done);
            sim_disk_deinit(&disk);
        }
    }
    /* Both outcomes occur: the loop reaches every step of the write. */
    assert_true(rounds_old > 0 && rounds_new > 0);
    assert_true(rounds_old + rounds_new == 3 * (operations + syncs));
}

int main(void)
{
    helper_assert_install();
    log_level_set(LOG_LEVEL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
