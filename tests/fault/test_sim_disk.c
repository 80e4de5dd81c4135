/* Tests of the simulated disk itself: file semantics, durability model, crashes and the
 * fault plan. The storage fault loops rely on each of these behaviours. */
#include "tests/sim/sim_disk.h"

#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void noop_callback(struct io_completion *completion)
{
    (void)completion;
}

static void disk_init(struct sim_disk *disk, uint64_t seed)
{
    struct sim_disk_options options = {
        .seed = seed,
        .files_max = 32,
        .handles_max = 8,
        .pending_max = 32,
        .file_size_bytes_max = 1 << 20,
        .direct_supported = true,
    };
    assert_int_equal(sim_disk_init(disk, &options), 0);
}

static int64_t disk_open(struct sim_disk *disk, const char *path, uint32_t flags)
{
    struct io_completion completion = {0};
    io_open(&disk->io, &completion, path, flags, noop_callback, NULL);
    return io_wait(&disk->io, &completion, 100);
}

static int64_t disk_write(struct sim_disk *disk, int32_t file, const void *buffer, uint64_t size,
                          uint64_t offset)
{
    struct io_completion completion = {0};
    io_write(&disk->io, &completion, file, buffer, size, offset, noop_callback, NULL);
    return io_wait(&disk->io, &completion, 100);
}

static int64_t disk_sync(struct sim_disk *disk, int32_t file, bool directory)
{
    struct io_completion completion = {0};
    if (directory) {
        io_fsync(&disk->io, &completion, file, noop_callback, NULL);
    } else {
        io_fdatasync(&disk->io, &completion, file, noop_callback, NULL);
    }
    return io_wait(&disk->io, &completion, 100);
}

static int64_t disk_simple(struct sim_disk *disk, enum io_operation operation, const char *path,
                           const char *target)
{
    struct io_completion completion = {0};
    if (operation == IO_OPERATION_MKDIR) {
        io_mkdir(&disk->io, &completion, path, noop_callback, NULL);
    } else if (operation == IO_OPERATION_RENAME) {
        io_rename(&disk->io, &completion, path, target, noop_callback, NULL);
    } else {
        io_unlink(&disk->io, &completion, path, 0, noop_callback, NULL);
    }
    return io_wait(&disk->io, &completion, 100);
}

static void test_files_and_names(void **state)
{
    (void)state;
    struct sim_disk disk;
    disk_init(&disk, 1);
    assert_int_equal(disk_simple(&disk, IO_OPERATION_MKDIR, "data", NULL), 0);
    assert_int_equal(disk_simple(&disk, IO_OPERATION_MKDIR, "data", NULL), -EEXIST);
    assert_int_equal(disk_open(&disk, "data/x", 0), -ENOENT);
    int64_t file = disk_open(&disk, "./data/x", IO_OPEN_CREATE);
    assert_true(file >= 0);
    assert_int_equal(disk_open(&disk, "data/x", IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE), -EEXIST);
    assert_int_equal(disk_write(&disk, (int32_t)file, "hello", 5, 10), 5);
    char buffer[64] = {0};
    struct io_completion completion = {0};
    io_read(&disk.io, &completion, (int32_t)file, buffer, sizeof(buffer), 0, noop_callback, NULL);
    assert_int_equal(io_wait(&disk.io, &completion, 100), 15);
    assert_memory_equal(buffer + 10, "hello", 5);
    assert_int_equal(buffer[0], 0);
    io_list(&disk.io, &completion, "data", buffer, sizeof(buffer), noop_callback, NULL);
    assert_int_equal(io_wait(&disk.io, &completion, 100), 2);
    assert_string_equal(buffer, "x");
    assert_int_equal(disk_simple(&disk, IO_OPERATION_RENAME, "data/x", "data/y"), 0);
    assert_false(sim_disk_exists(&disk, "data/x"));
    assert_true(sim_disk_exists(&disk, "data/y"));
    assert_int_equal(disk_simple(&disk, IO_OPERATION_UNLINK, "data/y", NULL), 0);
    assert_false(sim_disk_exists(&disk, "data/y"));
    /* Direct I/O needs sector alignment. */
    int64_t direct = disk_open(&disk, "data/z", IO_OPEN_CREATE | IO_OPEN_DIRECT);
    assert_true(direct >= 0);
    assert_int_equal(disk_write(&disk, (int32_t)direct, "abc", 3, 0), -EINVAL);
    sim_disk_deinit(&disk);
}

/* Writes sector-sized blocks "new" over synced "old" ones, then crashes in mode. */
static void crash_scenario(struct sim_disk *disk, enum sim_disk_crash_mode mode)
{
    static uint8_t old_bytes[8192];
    static uint8_t new_bytes[8192];
    memset(old_bytes, 'o', sizeof(old_bytes));
    memset(new_bytes, 'n', sizeof(new_bytes));
    int64_t root = disk_open(disk, ".", IO_OPEN_DIRECTORY);
    int64_t file = disk_open(disk, "f", IO_OPEN_CREATE);
    assert_int_equal(disk_write(disk, (int32_t)file, old_bytes, 4096, 0), 4096);
    assert_int_equal(disk_sync(disk, (int32_t)file, false), 0);
    assert_int_equal(disk_sync(disk, (int32_t)root, true), 0);
    assert_int_equal(disk_write(disk, (int32_t)file, new_bytes, 8192, 0), 8192);
    assert_true(disk_open(disk, "unsynced-name", IO_OPEN_CREATE) >= 0);
    sim_disk_crash(disk, mode);
}

static void test_crash_modes(void **state)
{
    (void)state;
    struct sim_disk disk;
    uint8_t buffer[8192];
    uint64_t size = 0;
    disk_init(&disk, 2);
    crash_scenario(&disk, SIM_DISK_CRASH_DROP);
    assert_int_equal(sim_disk_file_read(&disk, "f", buffer, sizeof(buffer), 0, &size), 0);
    assert_int_equal(size, 4096);
    assert_int_equal(buffer[0], 'o');
    assert_false(sim_disk_exists(&disk, "unsynced-name"));
    sim_disk_deinit(&disk);
    disk_init(&disk, 3);
    crash_scenario(&disk, SIM_DISK_CRASH_KEEP);
    assert_int_equal(sim_disk_file_read(&disk, "f", buffer, sizeof(buffer), 0, &size), 0);
    assert_int_equal(size, 8192);
    assert_int_equal(buffer[0], 'n');
    assert_int_equal(buffer[8191], 'n');
    assert_true(sim_disk_exists(&disk, "unsynced-name"));
    sim_disk_deinit(&disk);
    /* Torn: each 512-byte sector is wholly old or wholly new; both occur over seeds. */
    bool seen_old = false;
    bool seen_new = false;
    for (uint64_t seed = 0; seed < 8; seed++) {
        disk_init(&disk, seed);
        crash_scenario(&disk, SIM_DISK_CRASH_TEAR);
        assert_int_equal(sim_disk_file_read(&disk, "f", buffer, 4096, 0, &size), 0);
        for (uint64_t sector = 0; sector < 8; sector++) {
            uint8_t first = buffer[sector * 512];
            for (uint64_t at = 0; at < 512; at++) {
                assert_int_equal(buffer[sector * 512 + at], first);
            }
            seen_old |= first == 'o';
            seen_new |= first == 'n';
        }
        sim_disk_deinit(&disk);
    }
    assert_true(seen_old && seen_new);
}

static void test_fail_nth_operation(void **state)
{
    (void)state;
    struct sim_disk disk;
    disk_init(&disk, 4);
    int64_t file = disk_open(&disk, "f", IO_OPEN_CREATE);
    struct sim_disk_faults faults = {
        .fail_operation_at = 2,
        .fail_operation_mask = 1u << IO_OPERATION_WRITE,
        .fail_error = -EIO,
    };
    sim_disk_faults_set(&disk, &faults);
    assert_int_equal(disk_write(&disk, (int32_t)file, "a", 1, 0), 1);
    assert_int_equal(disk_write(&disk, (int32_t)file, "b", 1, 1), -EIO);
    assert_int_equal(disk_write(&disk, (int32_t)file, "c", 1, 2), 1);
    uint64_t size = 0;
    assert_int_equal(sim_disk_file_size(&disk, "f", &size), 0);
    assert_int_equal(size, 3);
    faults.fail_persistent = true;
    sim_disk_faults_set(&disk, &faults);
    assert_int_equal(disk_write(&disk, (int32_t)file, "a", 1, 0), 1);
    assert_int_equal(disk_write(&disk, (int32_t)file, "b", 1, 1), -EIO);
    assert_int_equal(disk_write(&disk, (int32_t)file, "c", 1, 2), -EIO);
    assert_int_equal(disk_sync(&disk, (int32_t)file, false), 0); /* not in the mask */
    assert_int_equal(disk.fault_count, 3);
    sim_disk_deinit(&disk);
}

static void test_crash_at_sync(void **state)
{
    (void)state;
    struct sim_disk disk;
    disk_init(&disk, 5);
    int64_t file = disk_open(&disk, "f", IO_OPEN_CREATE);
    assert_int_equal(disk_sync(&disk, (int32_t)disk_open(&disk, "", IO_OPEN_DIRECTORY), true), 0);
    struct sim_disk_faults faults = {.crash_at_sync = 2}; /* counted from here */
    sim_disk_faults_set(&disk, &faults);
    assert_int_equal(disk_write(&disk, (int32_t)file, "a", 1, 0), 1);
    assert_int_equal(disk_sync(&disk, (int32_t)file, false), 0);
    assert_int_equal(disk_write(&disk, (int32_t)file, "b", 1, 1), 1);
    assert_int_equal(disk_sync(&disk, (int32_t)file, false), -ETIMEDOUT);
    assert_true(sim_disk_is_crashed(&disk));
    sim_disk_crash(&disk, SIM_DISK_CRASH_DROP);
    assert_false(sim_disk_is_crashed(&disk));
    uint64_t size = 0;
    assert_int_equal(sim_disk_file_size(&disk, "f", &size), 0);
    assert_int_equal(size, 1);
    sim_disk_deinit(&disk);
}

static uint32_t order_log[16];
static uint32_t order_count;

static void order_callback(struct io_completion *completion)
{
    order_log[order_count++] = (uint32_t)(uintptr_t)completion->context;
}

static void test_latency_reorders(void **state)
{
    (void)state;
    bool reordered = false;
    for (uint64_t seed = 0; seed < 16 && !reordered; seed++) {
        struct sim_disk disk;
        disk_init(&disk, seed);
        struct sim_disk_faults faults = {.latency_steps_max = 5};
        sim_disk_faults_set(&disk, &faults);
        struct io_completion completions[8];
        memset(completions, 0, sizeof(completions));
        order_count = 0;
        for (uint32_t index = 0; index < 8; index++) {
            io_timeout(&disk.io, &completions[index], 0, order_callback, (void *)(uintptr_t)index);
        }
        for (uint32_t round = 0; round < 100 && io_pending_count(&disk.io) > 0; round++) {
            io_run(&disk.io, 1);
        }
        assert_int_equal(order_count, 8);
        for (uint32_t index = 1; index < 8; index++) {
            reordered |= order_log[index] < order_log[index - 1];
        }
        sim_disk_deinit(&disk);
    }
    assert_true(reordered);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_and_names),    cmocka_unit_test(test_crash_modes),
        cmocka_unit_test(test_fail_nth_operation), cmocka_unit_test(test_crash_at_sync),
        cmocka_unit_test(test_latency_reorders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
