/*
 * Tests for vsr/superblock_storage over the per-shard superblock on the simulated disk: a
 * group's whole VSR state, including the installed log head's prepare header, survives a
 * reopen (a restart follows the hash chain down from that header), and a later view may
 * install a lower head (uncommitted ops truncated) without tripping the superblock; a
 * group the superblock names is reported formed (its replica may have acted); the mark of
 * ops a journal restart dropped is written, kept across a reopen and cleared.
 */
#include "vsr/superblock_storage.h"

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

static struct sim_disk disk;
static struct superblock superblock;
static struct superblock_storage storage;

static void on_write(struct superblock *sb, uint64_t sequence, int result, void *context)
{
    (void)sb;
    (void)context;
    superblock_storage_on_write(&storage, sequence, result);
}

static const struct vsr_group group = {
    .stream_id = 1, .topic_id = 2, .partition_id = 3, .kind = 1, .incarnation = 4};

static void disk_init(uint64_t seed)
{
    struct sim_disk_options options = {.seed = seed,
                                       .files_max = 4,
                                       .handles_max = 4,
                                       .pending_max = 8,
                                       .file_size_bytes_max = 1 << 20,
                                       .direct_supported = true};
    assert_int_equal(sim_disk_init(&disk, &options), 0);
}

static void open_all(bool format)
{
    struct superblock_options options = {.path = "superblock",
                                         .cluster = 9,
                                         .shard_count = 1,
                                         .groups_max = 4,
                                         .callback = on_write};
    assert_int_equal(superblock_init(&superblock, &options), 0);
    if (format) {
        assert_int_equal(superblock_format(&superblock, &disk.io), 0);
    } else {
        assert_int_equal(superblock_open(&superblock, &disk.io), 0);
    }
    assert_int_equal(superblock_storage_init(&storage, &superblock, 4), 0);
}

static void close_all(void)
{
    superblock_storage_deinit(&storage);
    superblock_close(&superblock);
    superblock_deinit(&superblock);
}

/* Writes state through slot's interface and runs the disk until it is durable. Returns
 * whether that took a superblock write (false: nothing durable changed). */
static bool write_durable(uint32_t slot, const struct vsr_superblock_state *state)
{
    struct vsr_superblock interface = superblock_storage_interface(&storage, slot);
    assert_int_equal(interface.write(state, interface.context), 0);
    bool waited = storage.slots[slot].is_waiting;
    for (int round = 0; round < 1000 && storage.slots[slot].is_waiting; round++) {
        assert_int_equal(superblock_storage_pass(&storage), 0);
        io_run(&disk.io, 1);
    }
    assert_false(storage.slots[slot].is_waiting);
    storage.slots[slot].is_done = false; /* no replica attached to report to */
    return waited;
}

static void state_make(struct vsr_superblock_state *state, uint32_t view, uint64_t op)
{
    memset(state, 0, sizeof(*state));
    vsr_header_init(&state->log_head_header, VSR_COMMAND_PREPARE, 9, view, 0, &group);
    state->log_head_header.u.prepare.op = op;
    state->log_head_header.u.prepare.parent = 77;
    vsr_header_seal(&state->log_head_header, NULL, 0);
    state->view = view;
    state->log_view = view;
    state->commit_max = op - 1;
    state->log_head_op = op;
    state->log_head_checksum = state->log_head_header.checksum;
}

/* The log head's header and the checkpoint (op, checksum, size) survive a reopen. */
static void test_log_head_header_survives_reopen(void **unused)
{
    (void)unused;
    disk_init(3);
    open_all(true);
    struct vsr_superblock_state loaded;
    int slot = superblock_storage_slot_open(&storage, &group, &loaded);
    assert_true(slot >= 0);
    assert_int_equal(loaded.view, 0);
    assert_int_equal(loaded.log_head_header.checksum, 0);
    struct vsr_superblock_state first;
    state_make(&first, 4, 5);
    write_durable((uint32_t)slot, &first);
    struct vsr_superblock_state second;
    state_make(&second, 5, 3); /* view 5 truncated ops 4 and 5: the head goes back */
    second.checkpoint_op = 2;  /* a checkpoint below the head, named by its bytes' checksum */
    second.checkpoint_checksum = ((u128)0x1234 << 64) | 0x5678;
    second.checkpoint_size_bytes = 12345;
    write_durable((uint32_t)slot, &second);
    close_all();

    open_all(false);
    slot = superblock_storage_slot_open(&storage, &group, &loaded);
    assert_true(slot >= 0);
    assert_int_equal(loaded.view, 5);
    assert_int_equal(loaded.log_view, 5);
    assert_int_equal(loaded.log_head_op, 3);
    assert_int_equal(loaded.checkpoint_op, 2);
    assert_true(loaded.checkpoint_checksum == second.checkpoint_checksum);
    assert_int_equal(loaded.checkpoint_size_bytes, 12345);
    assert_true(loaded.log_head_checksum == second.log_head_checksum);
    assert_memory_equal(&loaded.log_head_header, &second.log_head_header,
                        sizeof(second.log_head_header));
    assert_true(vsr_header_is_checksum_valid(&loaded.log_head_header));
    close_all();
    sim_disk_deinit(&disk);
}

/* is_busy and the pass's walk follow the pending slots: none after open, one from a write
 * until it is reported (here: never, no replica attached) or its slot closes. */
static void test_pending_slots_counted(void **unused)
{
    (void)unused;
    disk_init(5);
    open_all(true);
    struct vsr_superblock_state loaded;
    int slot = superblock_storage_slot_open(&storage, &group, &loaded);
    assert_true(slot >= 0);
    assert_false(superblock_storage_is_busy(&storage));
    assert_int_equal(superblock_storage_pass(&storage), 0);
    struct vsr_superblock_state state;
    state_make(&state, 2, 3);
    struct vsr_superblock interface = superblock_storage_interface(&storage, (uint32_t)slot);
    assert_int_equal(interface.write(&state, interface.context), 0);
    assert_true(superblock_storage_is_busy(&storage));
    for (int round = 0; round < 1000 && storage.slots[slot].is_waiting; round++) {
        assert_int_equal(superblock_storage_pass(&storage), 0);
        io_run(&disk.io, 1);
    }
    assert_int_equal(superblock_storage_pass(&storage), 0);
    assert_true(storage.slots[slot].is_done); /* durable, kept until a replica takes it */
    assert_true(superblock_storage_is_busy(&storage));
    superblock_storage_slot_close(&storage, (uint32_t)slot);
    assert_false(superblock_storage_is_busy(&storage));
    assert_int_equal(superblock_storage_pass(&storage), 0);
    close_all();
    sim_disk_deinit(&disk);
}

/* A new group's first write (view 0, nothing prepared: the mark that it may act) makes
 * the superblock name it, so a reopen reports it formed; a group never written is not. */
static void test_first_write_names_the_group(void **unused)
{
    (void)unused;
    struct vsr_superblock_state first;
    memset(&first, 0, sizeof(first));
    first.formed = true;
    first.log_head_checksum = 99; /* op 0's: the group's root prepare */
    struct vsr_group other = group;
    other.incarnation++; /* the same partition created again: a new group */
    struct vsr_superblock_state loaded[3];
    disk_init(5);
    open_all(true);
    int slot = superblock_storage_slot_open(&storage, &group, &loaded[0]);
    assert_true(slot >= 0);
    write_durable((uint32_t)slot, &first);
    close_all();
    open_all(false);
    assert_true(superblock_storage_slot_open(&storage, &group, &loaded[1]) >= 0);
    assert_true(superblock_storage_slot_open(&storage, &other, &loaded[2]) >= 0);
    assert_false(loaded[0].formed);
    assert_true(loaded[1].formed);
    assert_int_equal(loaded[1].view, 0);
    assert_int_equal(loaded[1].log_head_op, 0);
    assert_false(loaded[2].formed);
    close_all();
    sim_disk_deinit(&disk);
}

/*
 * The mark of ops a journal restart dropped (log_dropped_op) is durable on its own: a write
 * that changes only it makes the superblock write (the replica waits for it before the
 * restart), it survives a reopen, and it goes back to 0 with a new log_view.
 */
static void test_log_dropped_op_survives_reopen(void **unused)
{
    (void)unused;
    disk_init(7);
    open_all(true);
    struct vsr_superblock_state loaded;
    int slot = superblock_storage_slot_open(&storage, &group, &loaded);
    assert_true(slot >= 0);
    assert_int_equal(loaded.log_dropped_op, 0);
    struct vsr_superblock_state state;
    state_make(&state, 4, 20);
    write_durable((uint32_t)slot, &state);
    state.log_dropped_op = 20;                          /* nothing else changed ... */
    assert_true(write_durable((uint32_t)slot, &state)); /* ... still a superblock write */
    close_all();
    open_all(false);
    slot = superblock_storage_slot_open(&storage, &group, &loaded);
    assert_true(slot >= 0);
    assert_int_equal(loaded.view, 4);
    assert_int_equal(loaded.log_dropped_op, 20);
    struct vsr_superblock_state installed;
    state_make(&installed, 5, 21); /* view 5's log installed: the mark is cleared with it */
    write_durable((uint32_t)slot, &installed);
    close_all();
    open_all(false);
    assert_true(superblock_storage_slot_open(&storage, &group, &loaded) >= 0);
    assert_int_equal(loaded.log_view, 5);
    assert_int_equal(loaded.log_dropped_op, 0);
    close_all();
    sim_disk_deinit(&disk);
}

int main(void)
{
    helper_assert_install();
    log_level_set(LOG_LEVEL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_head_header_survives_reopen),
        cmocka_unit_test(test_pending_slots_counted),
        cmocka_unit_test(test_first_write_names_the_group),
        cmocka_unit_test(test_log_dropped_op_survives_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
