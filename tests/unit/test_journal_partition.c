/* Unit tests for vsr/journal_partition (the VSR journal on the partition log) over the
 * simulated disk: writes out of op order, a different prepare at an op (suffix
 * truncation), in-place repair of a faulty entry (tail or sealed) or its replacement,
 * missing vs faulty reads, a parked write given up, a restart at a later op (state
 * transfer), and what survives a reopen. */
#include "vsr/journal_partition.h"

#include "lib/error.h"
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

enum { BODY_SIZE = 300, SEGMENTS_OPS = 80 };

struct fixture {
    struct sim_disk disk;
    struct partition partition;
    struct partition_options options;
    struct journal_partition journal;
    struct vsr_journal interface;
};

static struct fixture fixture;
static const struct vsr_group group = {
    .stream_id = 1, .topic_id = 1, .partition_id = 2, .kind = 1, .incarnation = 5};

static void durable_callback(struct partition *partition, uint64_t op_durable, int result,
                             void *context)
{
    (void)partition;
    (void)context;
    journal_partition_on_durable(&fixture.journal, op_durable, result);
}

static void noop_callback(struct io_completion *completion)
{
    (void)completion;
}

static void journal_open(void)
{
    assert_int_equal(partition_init(&fixture.partition, &fixture.options), 0);
    assert_int_equal(partition_open(&fixture.partition, &fixture.disk.io), 0);
    assert_int_equal(journal_partition_init_parked(&fixture.journal, &fixture.partition,
                                                   VSR_HEADER_SIZE + IO_SECTOR_SIZE, 16, 8),
                     0);
    fixture.interface = journal_partition_interface(&fixture.journal);
}

static void journal_close(void)
{
    partition_close(&fixture.partition);
    journal_partition_deinit(&fixture.journal);
    partition_deinit(&fixture.partition);
}

static void fixture_setup(void)
{
    memset(&fixture, 0, sizeof(fixture));
    struct sim_disk_options disk_options = {
        .seed = 3,
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
    fixture.options = (struct partition_options){
        .directory = "p",
        .group = group,
        .cluster = 9,
        .segment_size_bytes = 64 * 1024,
        .preallocate_bytes = 16 * 1024,
        .index_entries_max = 64,
        .record_size_bytes_max = VSR_HEADER_SIZE + IO_SECTOR_SIZE,
        .buffer_size_bytes = 32 * 1024,
        .flush_records_max = 16,
        .segments_max = 32,
        .faulty_max = 16,
        .durability_fsync = true,
        .direct_allowed = true,
        .durable_callback = durable_callback,
    };
    journal_open();
}

static void fixture_teardown(void)
{
    journal_close();
    sim_disk_deinit(&fixture.disk);
}

/* A prepare at op chained to parent, body bytes from seed. */
static void prepare_make(struct vsr_header *header, uint8_t *body, uint64_t op, u128 parent,
                         uint8_t seed)
{
    memset(body, seed, BODY_SIZE);
    vsr_header_init(header, VSR_COMMAND_PREPARE, 9, 0, 0, &group);
    header->u.prepare.op = op;
    header->u.prepare.parent = parent;
    header->u.prepare.timestamp = 1000 + op;
    header->u.prepare.operation = VSR_OPERATION_OFFSET_STORE;
    vsr_header_seal(header, body, BODY_SIZE);
}

/* Runs passes and the disk until the journal is idle. */
static void settle(void)
{
    for (int round = 0; round < 2000; round++) {
        assert_int_equal(journal_partition_pass(&fixture.journal), 0);
        io_run(&fixture.disk.io, 1);
        if (!journal_partition_is_busy(&fixture.journal) &&
            io_pending_count(&fixture.disk.io) == 0) {
            return;
        }
    }
    fail_msg("journal not idle");
}

static void check_read(uint64_t op, u128 checksum, uint8_t seed)
{
    struct vsr_header header;
    uint8_t body[BODY_SIZE];
    assert_int_equal(
        fixture.interface.read(op, &header, body, sizeof(body), fixture.interface.context), 0);
    assert_true(header.checksum == checksum);
    assert_int_equal(body[0], seed);
}

static int read_result(uint64_t op)
{
    struct vsr_header header;
    return fixture.interface.read(op, &header, NULL, 0, fixture.interface.context);
}

/* Chain of count prepares from op 1 with seeds seed + op. */
static void chain_make(struct vsr_header *headers, uint8_t (*bodies)[BODY_SIZE], uint32_t count,
                       uint8_t seed)
{
    u128 parent = 0;
    for (uint32_t index = 0; index < count; index++) {
        prepare_make(&headers[index], bodies[index], index + 1, parent, (uint8_t)(seed + index));
        parent = headers[index].checksum;
    }
}

static void test_out_of_order_and_replace(void **state)
{
    (void)state;
    fixture_setup();
    struct vsr_header headers[8];
    uint8_t bodies[8][BODY_SIZE];
    chain_make(headers, bodies, 8, 10);
    const uint32_t order[8] = {0, 3, 2, 1, 7, 4, 6, 5}; /* ops 1, 4, 3, 2, 8, 5, 7, 6 */
    for (uint32_t index = 0; index < 8; index++) {
        uint32_t at = order[index];
        assert_int_equal(
            fixture.interface.write(&headers[at], bodies[at], fixture.interface.context), 0);
        assert_int_equal(journal_partition_pass(&fixture.journal), 0);
    }
    settle();
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 8);
    for (uint32_t index = 0; index < 8; index++) {
        check_read(index + 1, headers[index].checksum, (uint8_t)(10 + index));
    }
    /* A new view's log differs from op 6 on: written top down, landed bottom up. */
    struct vsr_header fork[3];
    uint8_t fork_bodies[3][BODY_SIZE];
    prepare_make(&fork[0], fork_bodies[0], 6, headers[4].checksum, 60);
    prepare_make(&fork[1], fork_bodies[1], 7, fork[0].checksum, 61);
    prepare_make(&fork[2], fork_bodies[2], 8, fork[1].checksum, 62);
    for (uint32_t index = 3; index > 0; index--) {
        assert_int_equal(fixture.interface.write(&fork[index - 1], fork_bodies[index - 1],
                                                 fixture.interface.context),
                         0);
    }
    settle();
    assert_int_equal(fixture.journal.truncations_count, 1);
    for (uint32_t index = 0; index < 3; index++) {
        check_read(6 + index, fork[index].checksum, (uint8_t)(60 + index));
    }
    check_read(5, headers[4].checksum, 14);
    journal_close();
    journal_open();
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 8);
    check_read(8, fork[2].checksum, 62);
    /* The journal's own truncation (vsr_journal.truncate): durable on return. */
    fixture.interface.truncate(7, fixture.interface.context);
    assert_int_equal(read_result(7), -RUNNEL_ENOTFOUND);
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 6);
    journal_close();
    journal_open();
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 6);
    fixture_teardown();
}

static void test_faulty_repaired_and_missing(void **state)
{
    (void)state;
    fixture_setup();
    struct vsr_header headers[6];
    uint8_t bodies[6][BODY_SIZE];
    chain_make(headers, bodies, 6, 20);
    for (uint32_t index = 0; index < 5; index++) {
        assert_int_equal(
            fixture.interface.write(&headers[index], bodies[index], fixture.interface.context), 0);
    }
    settle();
    /* Damage op 3's record on disk: faulty (never missing), also after a reopen. */
    uint64_t position = fixture.partition.entries[2].position_bytes;
    assert_int_equal(sim_disk_flip_bit(&fixture.disk, fixture.partition.segments[0].log_path,
                                       8 * (position + VSR_HEADER_SIZE + 7)),
                     0);
    journal_close();
    journal_open();
    assert_int_equal(read_result(3), -RUNNEL_EFAULTY);
    assert_int_equal(read_result(6), -RUNNEL_ENOTFOUND);
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 5);
    /* The same prepare from a peer repairs it in place. */
    assert_int_equal(fixture.interface.write(&headers[2], bodies[2], fixture.interface.context), 0);
    settle();
    assert_int_equal(fixture.journal.repairs_count, 1);
    check_read(3, headers[2].checksum, 22);
    check_read(4, headers[3].checksum, 23);
    /* A write above a gap that never fills is given up (reported as not held). */
    struct vsr_header far;
    uint8_t far_body[BODY_SIZE];
    prepare_make(&far, far_body, 9, 77, 90);
    assert_int_equal(fixture.interface.write(&far, far_body, fixture.interface.context), 0);
    for (uint32_t round = 0; round <= JOURNAL_PARTITION_PARKED_PASSES_MAX; round++) {
        assert_int_equal(journal_partition_pass(&fixture.journal), 0);
    }
    assert_int_equal(fixture.journal.given_up_count, 1);
    assert_int_equal(fixture.journal.parked_count, 0);
    assert_int_equal(read_result(9), -RUNNEL_ENOTFOUND);
    fixture_teardown();
}

/* Inside a completion callback (no waiting allowed) a read from disk is started and
 * -EAGAIN returned; asking again once it completed is served from it; a read that may wait
 * first waits out the one in flight. */
static void test_read_inside_dispatch(void **state)
{
    (void)state;
    fixture_setup();
    struct vsr_header headers[5];
    uint8_t bodies[5][BODY_SIZE];
    chain_make(headers, bodies, 5, 40);
    for (uint32_t index = 0; index < 5; index++) {
        assert_int_equal(
            fixture.interface.write(&headers[index], bodies[index], fixture.interface.context), 0);
    }
    settle();
    journal_close();
    journal_open(); /* nothing in the tail buffer: every read goes to the disk */
    fixture.disk.refuse_waits = true;
    assert_int_equal(read_result(2), -EAGAIN);
    assert_int_equal(read_result(2), -EAGAIN); /* in flight: not started twice */
    assert_int_equal(fixture.journal.reads_deferred_count, 1);
    assert_true(journal_partition_is_busy(&fixture.journal));
    for (int round = 0; round < 100 && !fixture.journal.is_read_done; round++) {
        io_run(&fixture.disk.io, 1);
    }
    assert_true(fixture.journal.is_read_done);
    check_read(2, headers[1].checksum, 41); /* served from the completed read */
    assert_int_equal(fixture.journal.reads_blocking_count, 0);
    assert_int_equal(read_result(3), -EAGAIN);
    fixture.disk.refuse_waits = false;
    check_read(4, headers[3].checksum, 43); /* waits out op 3's read, then reads op 4 */
    check_read(3, headers[2].checksum, 42);
    assert_false(fixture.journal.is_read_deferred);
    assert_int_equal(fixture.journal.reads_deferred_count, 2);
    fixture_teardown();
}

/* Writes headers[0..count) in order through the journal, settling now and then. */
static void write_in_order(const struct vsr_header *headers, uint8_t (*bodies)[BODY_SIZE],
                           uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        assert_int_equal(
            fixture.interface.write(&headers[index], bodies[index], fixture.interface.context), 0);
        if (index % 8 == 7) {
            settle();
        }
    }
    settle();
}

/* The fixture with a chain of SEGMENTS_OPS prepares (seeds 1 + index) written in order,
 * in more than one segment. */
static void fixture_setup_segments(struct vsr_header *headers, uint8_t (*bodies)[BODY_SIZE])
{
    fixture_setup();
    chain_make(headers, bodies, SEGMENTS_OPS, 1);
    write_in_order(headers, bodies, SEGMENTS_OPS);
    assert_true(fixture.partition.segment_count > 1);
}

/* Damages op's record (the only segment) and reopens: op is faulty. */
static void damage_and_reopen(uint64_t op)
{
    uint64_t position = fixture.partition.entries[op - 1].position_bytes;
    assert_int_equal(sim_disk_flip_bit(&fixture.disk, fixture.partition.segments[0].log_path,
                                       8 * (position + VSR_HEADER_SIZE + 7)),
                     0);
    journal_close();
    journal_open();
    assert_int_equal(read_result(op), -RUNNEL_EFAULTY);
}

/* Rewrites op's prepare (faulty) and runs the disk until its in-place repair completed,
 * without the pass that would report it: the held report is queued. */
static void repair_queued(const struct vsr_header *header, const uint8_t *body)
{
    assert_int_equal(fixture.interface.write(header, body, fixture.interface.context), 0);
    assert_int_equal(journal_partition_pass(&fixture.journal), 0); /* starts the repair */
    assert_true(fixture.journal.is_repairing);
    for (int round = 0; round < 100 && fixture.journal.is_repairing; round++) {
        io_run(&fixture.disk.io, 1);
    }
    assert_false(fixture.journal.is_repairing);
    assert_int_equal(fixture.journal.reports_count, 1);
    assert_true(fixture.journal.reports[0].held);
    assert_true(fixture.journal.reports[0].checksum == header->checksum);
}

/*
 * A cut removes an op whose held report is queued (an in-place repair completed, not yet
 * reported): the report stays, as not held. Before, the replica's truncation left it held
 * (a prepare the log lost), and the journal's own cut dropped it: the replica waited on
 * that write forever and never fetched the op again (runnel-sim --storage
 * --storage-misdirect --seed 3355: a hole below every later write).
 */
static void test_cut_turns_a_queued_held_report_unheld(void **state)
{
    (void)state;
    fixture_setup();
    struct vsr_header headers[8];
    uint8_t bodies[8][BODY_SIZE];
    chain_make(headers, bodies, 8, 50);
    write_in_order(headers, bodies, 8);
    /* The replica's truncation below the repaired op. */
    damage_and_reopen(6);
    repair_queued(&headers[5], bodies[5]);
    fixture.interface.truncate(4, fixture.interface.context);
    assert_int_equal(fixture.journal.reports_count, 1);
    assert_int_equal(fixture.journal.reports[0].op, 6);
    assert_false(fixture.journal.reports[0].held);
    assert_true(fixture.journal.reports[0].checksum != headers[5].checksum);
    assert_int_equal(fixture.journal.unheld_count, 1);
    settle();
    write_in_order(&headers[3], &bodies[3], 5); /* ops 4..8 again */
    /* The journal's own cut below it: another prepare lands at op 5. */
    damage_and_reopen(7);
    repair_queued(&headers[6], bodies[6]);
    struct vsr_header fork;
    uint8_t fork_body[BODY_SIZE];
    prepare_make(&fork, fork_body, 5, headers[3].checksum, 99);
    assert_int_equal(fixture.interface.write(&fork, fork_body, fixture.interface.context), 0);
    uint64_t truncations = fixture.journal.truncations_count;
    assert_int_equal(journal_partition_pass(&fixture.journal), 0);
    assert_int_equal(fixture.journal.truncations_count, truncations + 1);
    assert_int_equal(fixture.journal.unheld_count, 1); /* counted since the reopen */
    ;
    settle();
    check_read(5, fork.checksum, 99);
    assert_int_equal(read_result(7), -RUNNEL_ENOTFOUND);
    fixture_teardown();
}

/*
 * After a reopen, the replica writes again a prepare the log holds intact (it had found
 * that op damaged): the journal reports it held at once. Before, the journal's durable op
 * started at 0 after the open, so the write waited for a durable report no append would
 * bring, was given up, and the replica fetched it again for ever (runnel-sim --storage
 * --storage-misdirect --seed 11551).
 */
static void test_rewrite_of_a_recovered_op_is_reported_held(void **state)
{
    (void)state;
    fixture_setup();
    struct vsr_header headers[8];
    uint8_t bodies[8][BODY_SIZE];
    chain_make(headers, bodies, 8, 70);
    write_in_order(headers, bodies, 8);
    journal_close();
    journal_open();
    assert_int_equal(fixture.journal.op_durable, 8);
    assert_int_equal(fixture.interface.write(&headers[4], bodies[4], fixture.interface.context), 0);
    assert_int_equal(fixture.journal.parked_count, 1);
    assert_int_equal(journal_partition_pass(&fixture.journal), 0);
    assert_int_equal(fixture.journal.parked_count, 0);
    settle();
    assert_int_equal(fixture.journal.given_up_count, 0);
    check_read(5, headers[4].checksum, 74);
    fixture_teardown();
}

/*
 * A restart (state transfer below every peer's log start): a log of ops 1..80 in several
 * segments is dropped and begins again at op 120, offset 5000, with a parent it never held;
 * ops 120..130 land, nothing below 120 is served, the only segment is named after offset
 * 5000, and a reopen keeps exactly that.
 */
static void test_restart_begins_at_a_later_op(void **state)
{
    (void)state;
    static struct vsr_header headers[SEGMENTS_OPS];
    static uint8_t bodies[SEGMENTS_OPS][BODY_SIZE];
    fixture_setup_segments(headers, bodies);
    assert_int_equal(fixture.interface.op_first(fixture.interface.context), 1);
    struct vsr_header later[11];
    uint8_t later_bodies[11][BODY_SIZE];
    u128 parent = 777; /* op 119: held by no one */
    for (uint32_t index = 0; index < 11; index++) {
        prepare_make(&later[index], later_bodies[index], 120 + index, parent, (uint8_t)index);
        later[index].u.prepare.offset = 5000;
        vsr_header_seal(&later[index], later_bodies[index], BODY_SIZE);
        parent = later[index].checksum;
    }
    assert_int_equal(fixture.interface.restart(&later[0], fixture.interface.context), 0);
    assert_int_equal(fixture.interface.op_first(fixture.interface.context), 120);
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 119);
    assert_int_equal(read_result(10), -RUNNEL_ENOTFOUND);
    write_in_order(later, later_bodies, 11);
    check_read(120, later[0].checksum, 0);
    check_read(130, later[10].checksum, 10);
    assert_int_equal(read_result(80), -RUNNEL_ENOTFOUND);
    assert_int_equal(fixture.partition.segment_count, 1);
    assert_int_equal(fixture.partition.segments[0].base_offset, 5000);
    journal_close();
    journal_open();
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 130);
    assert_int_equal(fixture.interface.op_first(fixture.interface.context), 120);
    check_read(125, later[5].checksum, 5);
    assert_int_equal(read_result(1), -RUNNEL_ENOTFOUND);
    fixture_teardown();
}

/* Flips a body bit of op's record, found by a read (any segment), and checks it is faulty. */
static void damage_record(uint64_t op)
{
    struct vsr_header header;
    assert_int_equal(read_result(op), 0);
    const struct partition_read *read = &fixture.journal.read;
    assert_int_equal(read->op, op);
    memcpy(&header, read->record, VSR_HEADER_SIZE);
    assert_int_equal(sim_disk_flip_bit(&fixture.disk,
                                       fixture.partition.segments[read->segment].log_path,
                                       8 * (read->position_bytes + VSR_HEADER_SIZE + 5)),
                     0);
    assert_int_equal(read_result(op), -RUNNEL_EFAULTY);
    assert_true(partition_is_faulty(&fixture.partition, op));
}

/*
 * A damaged record in a sealed segment: the journal cannot tell its checksum (only the
 * index entry names it), so the same prepare from a peer is repaired in place, keeping the
 * intact records above; a different prepare there (the index names another record) is
 * refused in place and replaces the record with a cut.
 */
static void test_sealed_faulty_repaired_or_replaced(void **state)
{
    (void)state;
    static struct vsr_header headers[SEGMENTS_OPS];
    static uint8_t bodies[SEGMENTS_OPS][BODY_SIZE];
    fixture_setup_segments(headers, bodies);
    assert_true(partition_tail_record(&fixture.partition, 10, &(uint32_t){0}) == NULL);
    damage_record(10);
    assert_int_equal(fixture.interface.write(&headers[9], bodies[9], fixture.interface.context), 0);
    settle();
    assert_int_equal(fixture.journal.repairs_count, 1);
    assert_int_equal(fixture.journal.truncations_count, 0);
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 80);
    check_read(10, headers[9].checksum, 10);
    check_read(11, headers[10].checksum, 11);
    check_read(80, headers[79].checksum, 80);
    /* Another prepare chained to op 11: the index names the old record, so it replaces it. */
    damage_record(12);
    struct vsr_header other;
    uint8_t other_body[BODY_SIZE];
    prepare_make(&other, other_body, 12, headers[10].checksum, 200);
    assert_int_equal(fixture.interface.write(&other, other_body, fixture.interface.context), 0);
    settle();
    assert_int_equal(fixture.journal.repairs_count, 1);
    assert_int_equal(fixture.journal.replaced_count, 1);
    assert_int_equal(fixture.journal.truncations_count, 1);
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), 12);
    check_read(12, other.checksum, 200);
    check_read(11, headers[10].checksum, 11);
    fixture_teardown();
}

/* Runs count passes and the disk (a parked write ages one pass each). */
static void passes_run(uint32_t count)
{
    for (uint32_t round = 0; round < count; round++) {
        assert_int_equal(journal_partition_pass(&fixture.journal), 0);
        io_run(&fixture.disk.io, 1);
    }
}

/*
 * Ops 11..19 of a sealed segment are damaged and a new view's log replaces them from op 11
 * on (the index names the old records: none is repaired in place). Its ops 12..19 arrive
 * first and fill the parking (8): none can land, each one's parent being faulty below
 * it, and op 11, which would let them all land, is refused while the parking is full.
 * They are given up like any parked write (reported as not held: the replica keeps such
 * an op faulty and fetches it again), so op 11 gets a place, replaces its record with a
 * cut, and the rest lands above it. Before, a write of an op the journal held faulty was
 * never given up and the parking stayed full for ever (runnel-sim --storage
 * --storage-misdirect --seed 3731).
 */
static void test_parked_writes_of_faulty_ops_are_given_up(void **state)
{
    (void)state;
    static struct vsr_header headers[SEGMENTS_OPS];
    static uint8_t bodies[SEGMENTS_OPS][BODY_SIZE];
    fixture_setup_segments(headers, bodies);
    enum { LOW = 11, COUNT = 9 };
    assert_int_equal(fixture.journal.parked_max, COUNT - 1);
    assert_true(partition_tail_record(&fixture.partition, LOW + COUNT - 1, &(uint32_t){0}) == NULL);
    struct vsr_header fork[COUNT];
    uint8_t fork_bodies[COUNT][BODY_SIZE];
    u128 parent = headers[LOW - 2].checksum;
    for (uint32_t index = 0; index < COUNT; index++) {
        damage_record(LOW + index);
        prepare_make(&fork[index], fork_bodies[index], LOW + index, parent, (uint8_t)(100 + index));
        parent = fork[index].checksum;
    }
    for (uint32_t index = COUNT - 1; index > 0; index--) {
        assert_int_equal(
            fixture.interface.write(&fork[index], fork_bodies[index], fixture.interface.context),
            0);
    }
    passes_run(4);
    assert_int_equal(fixture.journal.parked_count, COUNT - 1);
    assert_int_equal(fixture.interface.write(&fork[0], fork_bodies[0], fixture.interface.context),
                     -RUNNEL_EFULL);
    passes_run(2 * JOURNAL_PARTITION_PARKED_PASSES_MAX);
    assert_int_equal(fixture.journal.given_up_count, COUNT - 1);
    assert_int_equal(fixture.journal.parked_count, 0);
    for (uint32_t index = 0; index < COUNT; index++) {
        assert_true(partition_is_faulty(&fixture.partition, LOW + index)); /* still damaged */
    }
    for (uint32_t index = 0; index < COUNT; index++) {
        assert_int_equal(
            fixture.interface.write(&fork[index], fork_bodies[index], fixture.interface.context),
            0);
        if (index == COUNT / 2) {
            settle();
        }
    }
    settle();
    assert_int_equal(fixture.interface.op_max(fixture.interface.context), LOW + COUNT - 1);
    check_read(LOW - 1, headers[LOW - 2].checksum, LOW - 1);
    for (uint32_t index = 0; index < COUNT; index++) {
        check_read(LOW + index, fork[index].checksum, (uint8_t)(100 + index));
    }
    fixture_teardown();
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_order_and_replace),
        cmocka_unit_test(test_faulty_repaired_and_missing),
        cmocka_unit_test(test_read_inside_dispatch),
        cmocka_unit_test(test_restart_begins_at_a_later_op),
        cmocka_unit_test(test_sealed_faulty_repaired_or_replaced),
        cmocka_unit_test(test_cut_turns_a_queued_held_report_unheld),
        cmocka_unit_test(test_rewrite_of_a_recovered_op_is_reported_held),
        cmocka_unit_test(test_parked_writes_of_faulty_ops_are_given_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
