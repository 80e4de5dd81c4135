/*
 * Unit tests for the order of a new log's journal writes and the superblock write that
 * names it (vsr/replica.c, vsr_replica_can_journal), on replica 1 of a 3-replica group
 * over the simulator's journal and superblock. Replica 1 holds view 0's ops 1..5 (ops 1
 * and 2 committed). View 2's log, chosen without it, keeps ops 1..3 and replaces ops 4 and
 * 5 with one prepare of view 2 at op 4 (committed in view 2 by replicas 2 and 0). Replica 1
 * installs that log (a start_view as a backup, its own choice as the primary of view 4)
 * while the superblock write naming it is slow, then crashes before that write lands.
 * After the restart its superblock names view 0's log again, and its journal must not hold
 * view 2's op 4 under view 0's op 5: the restart would recover view 0's log up to op 5
 * over it, and its do_view_change would nack op 4 though its journal holds view 2's
 * committed op 4 there (the simulator's nack check), and though it acked view 0's op 4 in
 * view 0. No committed op is lost that way (it acks nothing of a log its superblock does
 * not name, and view 0's op 4, dropped by a chosen log, was never committed), but a nack
 * is a claim about the journal, which must be true. The same for a state transfer whose
 * checkpoint cuts a divergent log: the lower head is durable before the next view's log
 * is written above the cut.
 */
#include "tests/sim/sim_journal.h"
#include "vsr/replica.h"

#include "tests/unit/helper_assert.h"
#include "tests/unit/helper_vsr.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum {
    FIXTURE_RING = 24,
    FIXTURE_CLUSTER = 7,
    FIXTURE_OLD_HEAD = 5, /* view 0's log: ops 1..5 */
    FIXTURE_NEW_HEAD = 4, /* view 2's log: ops 1..3, then its own op 4 */
    FIXTURE_BODY_MAX = 9 * VSR_HEADER_SIZE,
    FIXTURE_INTERVAL = 6,
    FIXTURE_ANCHOR = 12,      /* the transferred checkpoint's op */
    FIXTURE_BRANCH_HEAD = 14, /* view 2's log in the transfer case: ops 6..14 */
    FIXTURE_CHAIN_HEAD = 16,  /* the committed chain (view 3) the transfer case names */
    FIXTURE_CHUNK = 2048,
};

struct fixture {
    struct helper_vsr vsr;
    struct vsr_replica_config config;
    struct vsr_state_machine machine;
    struct vsr_bus bus;
    struct vsr_header old_log[FIXTURE_OLD_HEAD + 1]; /* view 0's ops */
    struct vsr_header new_op;                        /* view 2's op 4 */
    struct vsr_header dvc;                           /* the last do_view_change sent */
    struct vsr_header dvc_body[FIXTURE_BODY_MAX / VSR_HEADER_SIZE];
    uint32_t dvcs;
    uint64_t acked_op;  /* the last prepare_ok's op in view 2 or later */
    uint64_t requested; /* bit op: a request_prepare for op was sent */
    /* The transfer case: view 2's divergent log, the committed chain, its checkpoint. */
    struct vsr_header branch[FIXTURE_BRANCH_HEAD + 1];
    struct vsr_header chain[FIXTURE_CHAIN_HEAD + 1];
    uint8_t bytes[2 * FIXTURE_CHUNK];
    uint64_t total;
};

static const struct vsr_group fixture_group = {0};

static void fixture_send(uint8_t target, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct fixture *fixture = context;
    (void)target;
    if (header->command == VSR_COMMAND_DO_VIEW_CHANGE) {
        uint32_t size = header->size - VSR_HEADER_SIZE;
        assert_true(size <= FIXTURE_BODY_MAX);
        fixture->dvc = *header;
        memcpy(fixture->dvc_body, body, size);
        fixture->dvcs++;
    }
    if (header->command == VSR_COMMAND_REQUEST_PREPARE &&
        header->u.request_prepare.prepare_op < 64) {
        fixture->requested |= (uint64_t)1 << header->u.request_prepare.prepare_op;
    }
    if (header->command == VSR_COMMAND_PREPARE_OK && header->view >= 2) {
        fixture->acked_op = header->u.prepare_ok.op;
    }
}

static struct vsr_header fixture_prepare(uint64_t op, uint32_t view, u128 parent, uint64_t commit)
{
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_PREPARE, FIXTURE_CLUSTER, view, (uint8_t)(view % 3),
                    &fixture_group);
    header.u.prepare.op = op;
    header.u.prepare.commit = commit;
    header.u.prepare.operation = VSR_OPERATION_NOOP;
    header.u.prepare.parent = parent;
    header.u.prepare.timestamp = 1000 + op + view;
    vsr_header_seal(&header, NULL, 0);
    return header;
}

static int fixture_restore(const void *bytes, uint32_t size_bytes, void *context)
{
    (void)bytes, (void)context;
    assert_int_equal(size_bytes, 40);
    return 0;
}

static void fixture_history(struct fixture *fixture);

static int fixture_setup_with(void **state, uint64_t checkpoint_interval)
{
    static struct fixture fixture;
    memset(&fixture, 0, sizeof(fixture));
    helper_vsr_init(&fixture.vsr, FIXTURE_RING, 42);
    fixture.config = (struct vsr_replica_config){
        .cluster = FIXTURE_CLUSTER,
        .group = fixture_group,
        .replica = 1,
        .replica_count = 3,
        .pipeline_max = 8,
        .ops_max = FIXTURE_RING,
        .checkpoint_interval = checkpoint_interval,
        .state_size_max = 64,
        .body_size_max = SIM_BODY_SIZE_MAX,
        .reply_size_max = 8,
        .clients_max = 8,
        .seed = 1,
    };
    fixture.machine = (struct vsr_state_machine){.apply = helper_vsr_apply_nothing,
                                                 .reset = helper_vsr_reset_nothing,
                                                 .context = &fixture,
                                                 .snapshot = helper_vsr_snapshot_empty,
                                                 .restore = fixture_restore};
    fixture.bus = (struct vsr_bus){
        .send = fixture_send, .reply = helper_vsr_reply_dropped, .context = &fixture};
    assert_int_equal(
        helper_vsr_start(&fixture.vsr, &fixture.config, &fixture.machine, &fixture.bus), 0);
    u128 parent = vsr_replica_root_checksum(&fixture.vsr.replica);
    for (uint64_t op = 1; op <= FIXTURE_OLD_HEAD; op++) {
        fixture.old_log[op] = fixture_prepare(op, 0, parent, op - 1 < 2 ? op - 1 : 2);
        parent = fixture.old_log[op].checksum;
    }
    fixture.new_op = fixture_prepare(FIXTURE_NEW_HEAD, 2, fixture.old_log[3].checksum, 3);
    fixture_history(&fixture);
    *state = &fixture;
    return 0;
}

static int fixture_setup(void **state)
{
    return fixture_setup_with(state, 0); /* no checkpoint: the view change alone */
}

static int fixture_setup_transfer(void **state)
{
    return fixture_setup_with(state, FIXTURE_INTERVAL);
}

static int fixture_teardown(void **state)
{
    struct fixture *fixture = *state;
    helper_vsr_deinit(&fixture->vsr);
    return 0;
}

static void fixture_deliver(struct fixture *fixture, const struct vsr_header *header,
                            const void *body)
{
    vsr_replica_on_message(&fixture->vsr.replica, header, body);
}

/*
 * The transfer case: the committed chain 1..16 (view 3, replica 0 led it), a checkpoint of
 * its op 12, and view 2's log 6..14 (another branch: its op 6 names another op 5).
 */
static void fixture_history(struct fixture *fixture)
{
    u128 parent = vsr_replica_root_checksum(&fixture->vsr.replica);
    for (uint64_t op = 1; op <= FIXTURE_CHAIN_HEAD; op++) {
        fixture->chain[op] = fixture_prepare(op, 3, parent, op - 1);
        parent = fixture->chain[op].checksum;
    }
    parent = 4242;
    for (uint64_t op = 6; op <= FIXTURE_BRANCH_HEAD; op++) {
        fixture->branch[op] = fixture_prepare(op, 2, parent, 0);
        parent = fixture->branch[op].checksum;
    }
    fixture->total = helper_vsr_checkpoint_bytes(&fixture->config, &fixture->chain[FIXTURE_ANCHOR],
                                                 fixture->bytes, sizeof(fixture->bytes));
    assert_true(fixture->total > FIXTURE_CHUNK);
}

/* View 0's ops 1..5 from its primary, durable in the journal; ops 1 and 2 executed. */
static void fixture_old_log(struct fixture *fixture)
{
    for (uint64_t op = 1; op <= FIXTURE_OLD_HEAD; op++) {
        fixture_deliver(fixture, &fixture->old_log[op], NULL);
    }
    helper_vsr_ticks(&fixture->vsr, 6);
    const struct vsr_replica *replica = &fixture->vsr.replica;
    assert_int_equal(replica->op_prefix, FIXTURE_OLD_HEAD);
    assert_int_equal(replica->commit_min, 2);
    for (uint64_t op = 1; op <= FIXTURE_OLD_HEAD; op++) {
        assert_true(sim_journal_holds(&fixture->vsr.journal, op, fixture->old_log[op].checksum));
    }
}

/* The superblock write in flight lands only when released (a slow superblock). */
static void fixture_superblock_hold(struct fixture *fixture)
{
    assert_true(fixture->vsr.superblock.pending_used);
    fixture->vsr.superblock.due_tick = UINT64_MAX;
}

static void fixture_superblock_release(struct fixture *fixture)
{
    fixture->vsr.superblock.due_tick = fixture->vsr.tick;
}

/* The process crashes with the superblock write still in flight (lost) and the journal's
 * writes landed; the replica starts again from what is durable. */
static void fixture_crash_restart(struct fixture *fixture)
{
    assert_true(fixture->vsr.superblock.pending_used);
    sim_journal_crash(&fixture->vsr.journal);
    fixture->vsr.superblock.pending_used = false; /* sim_superblock_crash, dropping it */
    vsr_replica_deinit(&fixture->vsr.replica);
    assert_int_equal(
        helper_vsr_start(&fixture->vsr, &fixture->config, &fixture->machine, &fixture->bus), 0);
}

/* View 2's start_view from replica 2: ops 1..3 of view 0 and its own op 4, committed. */
static void fixture_start_view(struct fixture *fixture)
{
    struct vsr_header headers[FIXTURE_NEW_HEAD];
    headers[0] = fixture->new_op;
    for (uint64_t index = 1; index < FIXTURE_NEW_HEAD; index++) {
        headers[index] = fixture->old_log[FIXTURE_NEW_HEAD - index];
    }
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_START_VIEW, FIXTURE_CLUSTER, 2, 2, &fixture_group);
    message.u.start_view.op = FIXTURE_NEW_HEAD;
    message.u.start_view.commit_max = FIXTURE_NEW_HEAD;
    vsr_header_seal(&message, headers, sizeof(headers));
    fixture_deliver(fixture, &message, headers);
}

/* Replica 2's do_view_change for view, with view 2's log (log_view 2), all held. */
static void fixture_dvc_view_2_log(struct fixture *fixture, uint32_t view)
{
    struct vsr_header body[FIXTURE_NEW_HEAD];
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_DO_VIEW_CHANGE, FIXTURE_CLUSTER, view, 2, &fixture_group);
    struct vsr_header_do_view_change *dvc = &message.u.do_view_change;
    body[0] = fixture->new_op;
    for (uint64_t index = 1; index < FIXTURE_NEW_HEAD; index++) {
        body[index] = fixture->old_log[FIXTURE_NEW_HEAD - index];
    }
    dvc->present_bitset = (1u << FIXTURE_NEW_HEAD) - 1;
    dvc->op = FIXTURE_NEW_HEAD;
    dvc->commit_min = FIXTURE_NEW_HEAD;
    dvc->commit_max = FIXTURE_NEW_HEAD;
    dvc->log_view = 2;
    vsr_header_seal(&message, body, sizeof(body));
    fixture_deliver(fixture, &message, body);
}

/*
 * The simulator's nack check on the last do_view_change sent: no op it nacks is one whose
 * prepare (the one it names, or the committed one: committed[op]) its journal holds.
 */
static void fixture_dvc_nacks_nothing_held_of(const struct fixture *fixture,
                                              const struct vsr_header *committed,
                                              uint64_t committed_max)
{
    const struct vsr_header_do_view_change *dvc = &fixture->dvc.u.do_view_change;
    uint64_t count = (fixture->dvc.size - VSR_HEADER_SIZE) / VSR_HEADER_SIZE;
    assert_true(fixture->dvcs > 0);
    for (uint64_t index = 0; index < count; index++) {
        uint64_t op = dvc->op - index;
        if (((dvc->nack_bitset >> index) & 1) == 0) {
            continue;
        }
        const struct sim_journal *journal = &fixture->vsr.journal;
        u128 named = fixture->dvc_body[index].checksum;
        bool held = (named != 0 && sim_journal_holds(journal, op, named)) ||
                    (op <= committed_max && sim_journal_holds(journal, op, committed[op].checksum));
        if (held) {
            fail_msg("view %u nacks op %llu that its journal holds", fixture->dvc.view,
                     (unsigned long long)op);
        }
    }
}

/* The same, for the view change cases: view 2's op 4 is the committed one. */
static void fixture_dvc_nacks_nothing_held(const struct fixture *fixture)
{
    struct vsr_header committed[FIXTURE_NEW_HEAD + 1];
    memcpy(committed, fixture->old_log, sizeof(committed));
    committed[FIXTURE_NEW_HEAD] = fixture->new_op;
    fixture_dvc_nacks_nothing_held_of(fixture, committed, FIXTURE_NEW_HEAD);
}

/*
 * A backup installs view 2's start_view; the superblock write naming view 2 is slow, and
 * view 2's op 4 arrives meanwhile. It is not written before the superblock names view 2
 * (its view 0 log, still the durable one, names view 0's op 5 above it). Before, it was:
 * the restart recovered view 0's log up to op 5 over it, and the do_view_change nacked op 4.
 */
static void test_backup_writes_no_new_op_before_the_superblock_names_it(void **state)
{
    struct fixture *fixture = *state;
    fixture_old_log(fixture);
    fixture_start_view(fixture);
    const struct vsr_replica *replica = &fixture->vsr.replica;
    assert_int_equal(replica->log_view, 2);
    assert_int_equal(replica->op, FIXTURE_NEW_HEAD);
    fixture_superblock_hold(fixture);
    fixture_deliver(fixture, &fixture->new_op, NULL);
    helper_vsr_ticks(&fixture->vsr, 8);
    assert_int_equal(fixture->vsr.superblock.durable.log_view, 0);
    assert_false(sim_journal_holds(&fixture->vsr.journal, 4, fixture->new_op.checksum));
    fixture_crash_restart(fixture);
    assert_int_equal(replica->log_view, 0);
    fixture_dvc_view_2_log(fixture, 3); /* view 3 (replica 0 leads): replica 1 joins it */
    helper_vsr_ticks(&fixture->vsr, 4);
    assert_int_equal(replica->view, 3);
    fixture_dvc_nacks_nothing_held(fixture);
}

/* Once the superblock names view 2, its op 4 (sent again) is written and acked. */
static void test_backup_writes_the_new_op_once_the_superblock_names_it(void **state)
{
    struct fixture *fixture = *state;
    fixture_old_log(fixture);
    fixture_start_view(fixture);
    fixture_superblock_hold(fixture);
    fixture_deliver(fixture, &fixture->new_op, NULL);
    helper_vsr_ticks(&fixture->vsr, 2);
    fixture_superblock_release(fixture);
    helper_vsr_ticks(&fixture->vsr, 2);
    assert_int_equal(fixture->vsr.superblock.durable.log_view, 2);
    fixture_deliver(fixture, &fixture->new_op, NULL); /* the primary's resend, or a repair */
    helper_vsr_ticks(&fixture->vsr, 6);
    assert_true(sim_journal_holds(&fixture->vsr.journal, 4, fixture->new_op.checksum));
    assert_int_equal(fixture->acked_op, FIXTURE_NEW_HEAD);
    assert_int_equal(fixture->vsr.replica.commit_min, FIXTURE_NEW_HEAD);
}

/*
 * Replica 1 leads view 4: replica 2's do_view_change (view 2's log) and its own (view 0's)
 * make the quorum; it chooses view 2's log and repairs op 4 from a peer while the
 * superblock write naming log_view 4 is slow. The repaired prepare is not written before
 * that write lands. Before, it was: the restart (view 4 durable, log_view 0) recovered view
 * 0's log up to op 5 over it and its do_view_change for view 4 nacked op 4.
 */
static void test_primary_writes_no_chosen_op_before_the_superblock_names_it(void **state)
{
    struct fixture *fixture = *state;
    const struct vsr_replica *replica = &fixture->vsr.replica;
    fixture_old_log(fixture);
    fixture_dvc_view_2_log(fixture, 4);
    for (uint32_t round = 0; round < 8 && replica->status != VSR_STATUS_NORMAL; round++) {
        helper_vsr_tick(&fixture->vsr);
    }
    assert_int_equal(replica->status, VSR_STATUS_NORMAL);
    assert_int_equal(replica->view, 4);
    assert_int_equal(replica->op, FIXTURE_NEW_HEAD);
    fixture_superblock_hold(fixture);
    assert_int_equal(fixture->vsr.superblock.durable.log_view, 0);
    fixture_deliver(fixture, &fixture->new_op, NULL); /* a peer's answer to its repair */
    helper_vsr_ticks(&fixture->vsr, 8);
    assert_false(sim_journal_holds(&fixture->vsr.journal, 4, fixture->new_op.checksum));
    fixture->dvcs = 0;
    fixture_crash_restart(fixture);
    assert_int_equal(replica->view, 4);
    assert_int_equal(replica->log_view, 0);
    assert_int_equal(replica->status, VSR_STATUS_VIEW_CHANGE);
    fixture_dvc_nacks_nothing_held(fixture);
}

/* A start_view from replica 2 of view with headers[op - i] for i < count, commit_max. */
static void fixture_start_view_of(struct fixture *fixture, uint32_t view, uint64_t op,
                                  const struct vsr_header *headers, uint64_t count,
                                  uint64_t commit_max)
{
    struct vsr_header body[FIXTURE_BODY_MAX / VSR_HEADER_SIZE];
    assert_true(count <= FIXTURE_BODY_MAX / VSR_HEADER_SIZE);
    for (uint64_t index = 0; index < count; index++) {
        body[index] = headers[op - index];
    }
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_START_VIEW, FIXTURE_CLUSTER, view, 2, &fixture_group);
    message.u.start_view.op = op;
    message.u.start_view.commit_max = commit_max;
    vsr_header_seal(&message, body, (uint32_t)(count * VSR_HEADER_SIZE));
    fixture_deliver(fixture, &message, body);
}

/* View 5's start_view naming head 40 (its only header), beyond the backup's ring. */
static void fixture_start_view_beyond(struct fixture *fixture)
{
    struct vsr_header head = fixture_prepare(40, 5, 4343, 39);
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_START_VIEW, FIXTURE_CLUSTER, 5, 2, &fixture_group);
    message.u.start_view.op = 40;
    message.u.start_view.commit_max = 39;
    message.u.start_view.checkpoint_op = FIXTURE_ANCHOR;
    vsr_header_seal(&message, &head, VSR_HEADER_SIZE);
    fixture_deliver(fixture, &message, &head);
}

/*
 * A backup holds view 2's log 6..14 (durable: the superblock names head 14), another branch
 * than the committed chain. View 5's start_view names a head beyond its ring: it pulls
 * replica 2's checkpoint of op 12, whose anchor its log contradicts, so the install cuts
 * the log (and the journal) to op 12; the superblock write naming head 12 is slow. View
 * 5's start_view arrives again, within reach now (ops 8..16 of the committed chain), and
 * its ops 13..16 are repaired. None at or below head 14 is written before the superblock
 * names the new log (ops 15 and 16, above anything the old log can name, are). Before, ops
 * 13 and 14 were: the restart recovered view 2's log up to head 14 (its header kept in the
 * superblock) over them, and the do_view_change for view 5 nacked op 14, whose committed
 * prepare its journal held.
 */
static void test_transfer_cut_is_durable_before_the_next_log_is_written(void **state)
{
    struct fixture *fixture = *state;
    const struct vsr_replica *replica = &fixture->vsr.replica;
    fixture_start_view_of(fixture, 2, FIXTURE_BRANCH_HEAD, fixture->branch, 9, 0);
    helper_vsr_ticks(&fixture->vsr, 4);
    assert_int_equal(fixture->vsr.superblock.durable.log_head_op, FIXTURE_BRANCH_HEAD);
    fixture_start_view_beyond(fixture);
    assert_int_equal(replica->transfer_stage, VSR_TRANSFER_PULLING);
    helper_vsr_checkpoint_send(&fixture->vsr, 2, 5, FIXTURE_ANCHOR, fixture->bytes, fixture->total,
                               FIXTURE_CHUNK, 1);
    for (uint32_t round = 0; round < 8 && replica->checkpoint_op != FIXTURE_ANCHOR; round++) {
        helper_vsr_tick(&fixture->vsr);
    }
    assert_int_equal(replica->checkpoint_op, FIXTURE_ANCHOR);
    assert_int_equal(replica->log_head_op, FIXTURE_ANCHOR); /* cut: the branch is not canonical */
    assert_int_equal(fixture->vsr.superblock.durable.log_head_op, FIXTURE_BRANCH_HEAD);
    fixture_superblock_hold(fixture);
    fixture_start_view_of(fixture, 5, FIXTURE_CHAIN_HEAD, fixture->chain, 9, FIXTURE_CHAIN_HEAD);
    assert_int_equal(replica->status, VSR_STATUS_NORMAL);
    for (uint64_t op = FIXTURE_ANCHOR + 1; op <= FIXTURE_CHAIN_HEAD; op++) {
        fixture_deliver(fixture, &fixture->chain[op], NULL); /* a peer's answers to repair */
    }
    helper_vsr_ticks(&fixture->vsr, 8);
    for (uint64_t op = FIXTURE_ANCHOR + 1; op <= FIXTURE_CHAIN_HEAD; op++) {
        bool held = sim_journal_holds(&fixture->vsr.journal, op, fixture->chain[op].checksum);
        assert_true(held == (op > FIXTURE_BRANCH_HEAD));
    }
    fixture->dvcs = 0;
    fixture_crash_restart(fixture);
    assert_int_equal(replica->view, 5);
    assert_int_equal(replica->log_view, 2);
    assert_int_equal(replica->status, VSR_STATUS_VIEW_CHANGE);
    fixture_dvc_nacks_nothing_held_of(fixture, fixture->chain, FIXTURE_CHAIN_HEAD);
}

/*
 * The journal cuts its log at op 2 on its own (journal_partition replacing a damaged record
 * it could not repair in place). Ops 2..5 were canonical and durable: 2 executed, 3..5
 * acked in view 0. They are marked faulty: never nacked (the do_view_change joining view 3
 * nacks none of them) and fetched again, the executed op 2 too (an executed op is
 * otherwise repaired only when found damaged: the journal would keep a hole below the
 * ops it holds, and every later write would wait above it). Before, the ring only forgot
 * them: op 2 was never fetched again and ops 3..5 were nacked; and a not-held report
 * that follows the cut cleared op 2's mark.
 */
static bool fixture_is_faulty(const struct vsr_replica *replica, uint64_t op)
{
    return (replica->entries[op % (replica->config.ops_max + 1)].flags & VSR_ENTRY_FAULTY) != 0;
}

static void test_own_cut_of_held_prepares_marks_them_faulty(void **state)
{
    struct fixture *fixture = *state;
    fixture_old_log(fixture);
    struct vsr_replica *replica = &fixture->vsr.replica;
    replica->journal.truncate(2, replica->journal.context);
    vsr_replica_on_journal_cut(replica, 2);
    /* The cut's not-held reports of unreported appends (checksum ^ 1) follow it. */
    vsr_replica_on_journal_write(replica, 2, fixture->old_log[2].checksum ^ 1);
    for (uint64_t op = 2; op <= FIXTURE_OLD_HEAD; op++) {
        assert_true(fixture_is_faulty(replica, op));
    }
    assert_false(fixture_is_faulty(replica, 1));
    assert_int_equal(replica->stats.cut_canonical, FIXTURE_OLD_HEAD - 1);
    helper_vsr_ticks(&fixture->vsr, 60);
    for (uint64_t op = 2; op <= FIXTURE_OLD_HEAD; op++) {
        if ((fixture->requested & ((uint64_t)1 << op)) == 0) {
            fail_msg("op %llu was not fetched again", (unsigned long long)op);
        }
    }
    fixture_dvc_view_2_log(fixture, 3);
    helper_vsr_ticks(&fixture->vsr, 4);
    assert_int_equal(replica->view, 3);
    assert_true(fixture->dvcs > 0);
    const struct vsr_header_do_view_change *dvc = &fixture->dvc.u.do_view_change;
    for (uint64_t index = 0; index <= dvc->op - 3; index++) {
        if (((dvc->nack_bitset >> index) & 1) != 0) {
            fail_msg("op %llu acked in view 0 is nacked", (unsigned long long)(dvc->op - index));
        }
    }
}

/*
 * After the same cut, a peer answers the request for the executed op 2 with view 0's
 * prepare: a prepare of the current view, which reaches the backup's handler for its
 * primary's prepares. It is written to the journal and ends the damage, like any repair.
 * Before, that handler dropped every op at or below commit_min, so the journal never held
 * op 2 again and every write above it waited parked for ever (runnel-sim --storage
 * --storage-misdirect --seed 3571).
 */
static void test_executed_op_cut_is_written_again_from_a_repair(void **state)
{
    struct fixture *fixture = *state;
    fixture_old_log(fixture);
    struct vsr_replica *replica = &fixture->vsr.replica;
    assert_int_equal(replica->view, 0);
    assert_int_equal(replica->commit_min, 2);
    replica->journal.truncate(2, replica->journal.context);
    vsr_replica_on_journal_cut(replica, 2);
    assert_false(sim_journal_holds(&fixture->vsr.journal, 2, fixture->old_log[2].checksum));
    helper_vsr_ticks(&fixture->vsr, 20);
    assert_true((fixture->requested & ((uint64_t)1 << 2)) != 0);
    for (uint64_t op = 2; op <= FIXTURE_OLD_HEAD; op++) {
        fixture_deliver(fixture, &fixture->old_log[op], NULL); /* the peer's answers */
    }
    helper_vsr_ticks(&fixture->vsr, 6);
    for (uint64_t op = 1; op <= FIXTURE_OLD_HEAD; op++) {
        if (!sim_journal_holds(&fixture->vsr.journal, op, fixture->old_log[op].checksum)) {
            fail_msg("op %llu is not in the journal again", (unsigned long long)op);
        }
        assert_false(fixture_is_faulty(replica, op));
    }
    assert_int_equal(replica->commit_min, 2);
    assert_int_equal(replica->op_prefix, FIXTURE_OLD_HEAD);
}

/*
 * The journal finds op 4's entry damaged by a read of its own (journal_partition checking a
 * parked write's parent), which the replica never made: vsr_replica_on_journal_faulty marks
 * it faulty as the replica's own faulty read would. It is fetched again and not nacked.
 */
static void test_journal_found_damage_marks_op_faulty(void **state)
{
    struct fixture *fixture = *state;
    fixture_old_log(fixture);
    struct vsr_replica *replica = &fixture->vsr.replica;
    vsr_replica_on_journal_faulty(replica, 4);
    assert_true(fixture_is_faulty(replica, 4));
    assert_false(fixture_is_faulty(replica, 5));
    assert_int_equal(replica->op_prefix, 3);
    helper_vsr_ticks(&fixture->vsr, 60);
    assert_true((fixture->requested & ((uint64_t)1 << 4)) != 0);
    fixture_dvc_view_2_log(fixture, 3);
    helper_vsr_ticks(&fixture->vsr, 4);
    assert_int_equal(replica->view, 3);
    uint64_t index = fixture->dvc.u.do_view_change.op - 4;
    assert_true(((fixture->dvc.u.do_view_change.nack_bitset >> index) & 1) == 0);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_writes_no_new_op_before_the_superblock_names_it,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_backup_writes_the_new_op_once_the_superblock_names_it,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(
            test_primary_writes_no_chosen_op_before_the_superblock_names_it, fixture_setup,
            fixture_teardown),
        cmocka_unit_test_setup_teardown(test_own_cut_of_held_prepares_marks_them_faulty,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_executed_op_cut_is_written_again_from_a_repair,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_journal_found_damage_marks_op_faulty, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_transfer_cut_is_durable_before_the_next_log_is_written,
                                        fixture_setup_transfer, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
