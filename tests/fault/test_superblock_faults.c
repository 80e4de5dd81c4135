/*
 * Fault loops for the per-shard superblock over the simulated disk: a crash at every sync
 * (unsynced writes kept, dropped or torn) and a bit flip in any byte of the file. After
 * reopening, no group's view, log_view or checkpoint is below the last state reported
 * durable, nor above the last state set, and its log_dropped_op is the one written with its
 * view (never another write's: a group's record is one state); the shard count check
 * refuses a mismatch, and a superblock of another layout version is refused, not read.
 */
#include "storage/superblock.h"

#include "lib/error.h"
#include "lib/log.h"
#include "tests/sim/sim_disk.h"
#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { GROUPS = 24, ROUNDS = 12 }; /* 24 groups span several 512-byte sectors: tears bite */

static struct sim_disk disk;
static struct superblock superblock;
static uint32_t view_durable[GROUPS]; /* views the callback reported durable */
static uint32_t view_pending[GROUPS]; /* views set, durable or not */
static uint64_t sequence_durable;

static void durable_callback(struct superblock *sb, uint64_t sequence, int result, void *context)
{
    (void)sb;
    (void)context;
    if (result == 0) {
        sequence_durable = sequence;
        memcpy(view_durable, view_pending, sizeof(view_durable));
    }
}

static struct vsr_group group_of(uint32_t index)
{
    struct vsr_group group = {
        .stream_id = 1, .topic_id = 1, .partition_id = index, .kind = 1, .incarnation = 2};
    return group;
}

static void setup(uint64_t seed, uint32_t shard_count)
{
    struct sim_disk_options options = {.seed = seed,
                                       .files_max = 8,
                                       .handles_max = 8,
                                       .pending_max = 8,
                                       .file_size_bytes_max = 1 << 20,
                                       .direct_supported = true};
    assert_int_equal(sim_disk_init(&disk, &options), 0);
    struct superblock_options sb_options = {.path = "superblock",
                                            .cluster = 5,
                                            .shard_count = shard_count,
                                            .groups_max = 32,
                                            .callback = durable_callback};
    assert_int_equal(superblock_init(&superblock, &sb_options), 0);
    memset(view_durable, 0, sizeof(view_durable));
    memset(view_pending, 0, sizeof(view_pending));
    sequence_durable = 0;
}

static void run_io(void)
{
    for (int round = 0; round < 10000 && io_pending_count(&disk.io) > 0; round++) {
        io_run(&disk.io, 1);
    }
}

/* Raises every group's view round by round, one superblock write per tick. */
static void workload(uint32_t base)
{
    for (uint32_t round = 1; round <= ROUNDS && !sim_disk_is_crashed(&disk); round++) {
        for (uint32_t index = 0; index < GROUPS; index++) {
            struct superblock_group state = {.group = group_of(index),
                                             .view = base + round * 2 + index,
                                             .log_view = base + round * 2,
                                             .commit = round * 10,
                                             .checkpoint_op = base + round};
            state.log_dropped_op = (round % 3 == 0) ? 0 : (uint64_t)state.view * 3;
            assert_int_equal(superblock_group_set(&superblock, &state), 0);
            view_pending[index] = state.view;
        }
        superblock_tick(&superblock);
        run_io();
    }
}

static void check_reopened(void)
{
    assert_int_equal(superblock_open(&superblock, &disk.io), 0);
    for (uint32_t index = 0; index < GROUPS; index++) {
        struct vsr_group group = group_of(index);
        struct superblock_group state;
        if (view_durable[index] == 0 && superblock_group_get(&superblock, &group, &state) != 0) {
            continue;
        }
        assert_int_equal(superblock_group_get(&superblock, &group, &state), 0);
        assert_true(state.view >= view_durable[index]); /* never goes back */
        assert_true(state.view <= view_pending[index]);
        assert_true(state.log_view <= state.view);
        assert_true(state.log_dropped_op == 0 || state.log_dropped_op == (uint64_t)state.view * 3);
        view_durable[index] = state.view; /* what was loaded is acted on: the new floor */
    }
    superblock_close(&superblock);
}

static void teardown(void)
{
    superblock_deinit(&superblock);
    sim_disk_deinit(&disk);
}

static void test_crash_at_each_sync(void **state)
{
    (void)state;
    static const enum sim_disk_crash_mode modes[] = {SIM_DISK_CRASH_KEEP, SIM_DISK_CRASH_DROP,
                                                     SIM_DISK_CRASH_TEAR};
    uint64_t syncs = SUPERBLOCK_COPIES * (ROUNDS + 1);
    for (uint64_t nth = 1; nth <= syncs; nth++) {
        for (size_t mode = 0; mode < 3; mode++) {
            setup(nth * 3 + mode, 4);
            assert_int_equal(superblock_format(&superblock, &disk.io), 0);
            struct sim_disk_faults faults = {.crash_at_sync = nth};
            sim_disk_faults_set(&disk, &faults);
            workload(0);
            superblock.file = -1; /* the process died with it */
            sim_disk_crash(&disk, modes[mode]);
            check_reopened();
            /* A second crash, in the first copies written after the reopen, must not go
             * back past the state that reopen loaded either. */
            assert_int_equal(superblock_open(&superblock, &disk.io), 0);
            faults.crash_at_sync = 1 + nth % 3;
            sim_disk_faults_set(&disk, &faults);
            workload(1000);
            superblock.file = -1;
            sim_disk_crash(&disk, modes[mode]);
            check_reopened();
            teardown();
        }
    }
}

static void test_bit_flips_and_shard_count(void **state)
{
    (void)state;
    uint32_t damaged_opens = 0;
    for (uint64_t round = 0; round < 200; round++) {
        setup(round, 4);
        assert_int_equal(superblock_format(&superblock, &disk.io), 0);
        workload(0);
        assert_int_equal(sequence_durable, ROUNDS + 1);
        superblock_close(&superblock);
        uint64_t size = 0;
        assert_int_equal(sim_disk_file_size(&disk, "superblock", &size), 0);
        assert_int_equal(sim_disk_flip_bit(&disk, "superblock", (round * 104729) % (size * 8)), 0);
        check_reopened(); /* one bad copy never loses the state */
        damaged_opens++;
        teardown();
    }
    assert_int_equal(damaged_opens, 200);
    setup(1, 4);
    assert_int_equal(superblock_format(&superblock, &disk.io), 0);
    superblock_close(&superblock);
    superblock_deinit(&superblock);
    struct superblock_options other = {.path = "superblock",
                                       .cluster = 5,
                                       .shard_count = 2,
                                       .groups_max = 32,
                                       .callback = durable_callback};
    assert_int_equal(superblock_init(&superblock, &other), 0);
    assert_int_equal(superblock_open(&superblock, &disk.io), -RUNNEL_ECONFIG);
    teardown();
}

/* A superblock whose copies name another layout version (here: every magic's version byte
 * 3 -> 2, as the layout before log_dropped_op) is refused with -RUNNEL_EFORMAT: not
 * "no superblock" (the node would format over it) nor read as this layout. */
static void test_other_layout_version_is_refused(void **state)
{
    (void)state;
    setup(11, 4);
    assert_int_equal(superblock_format(&superblock, &disk.io), 0);
    workload(0);
    superblock_close(&superblock);
    for (uint64_t copy = 0; copy < SUPERBLOCK_COPIES; copy++) {
        uint64_t version_byte = copy * superblock.copy_size_bytes + 31;
        assert_int_equal(sim_disk_flip_bit(&disk, "superblock", version_byte * 8), 0);
    }
    assert_int_equal(superblock_open(&superblock, &disk.io), -RUNNEL_EFORMAT);
    teardown();
}

int main(void)
{
    helper_assert_install();
    log_level_set(LOG_LEVEL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_at_each_sync),
        cmocka_unit_test(test_bit_flips_and_shard_count),
        cmocka_unit_test(test_other_layout_version_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
