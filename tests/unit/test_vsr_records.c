/*
 * Unit tests for the records half of a log_retained group's state transfer
 * (vsr/replica_records.c) on one backup of a 3-replica group over the simulator's journal
 * and checkpoint store: once a peer's checkpoint of op 96 is pulled and checked, the backup
 * asks that peer for the committed prepares 1..96 in bounded chunks; a prepare that is not
 * the next one or does not name the one before as its parent is never written; a chain
 * that does not end at the checkpoint's anchor is refused (counted) and the checkpoint is
 * never named in the superblock; the whole chain, once durable in the journal, lets the
 * checkpoint be installed, and never before. A journal restart that drops ops of the
 * replica's log_view's log is marked in the superblock first, and the mark outlives a crash.
 */
#include "tests/sim/sim_journal.h"
#include "vsr/replica.h"

#include "tests/unit/helper_assert.h"
#include "tests/unit/helper_vsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum {
    FIXTURE_RING = 24,
    FIXTURE_JOURNAL_OPS = 200, /* the journal keeps every op (log_retained) */
    FIXTURE_INTERVAL = 6,
    FIXTURE_CLUSTER = 7,
    FIXTURE_ANCHOR = 96,
    FIXTURE_CHUNK = 2048,
};

struct fixture {
    struct helper_vsr vsr;
    uint32_t record_requests;
    uint32_t checkpoint_requests;
    struct vsr_header record_request; /* the last request_records sent */
    uint8_t record_target;            /* and the peer it went to */
    bool records_anywhere;            /* request_records may go to any peer (after a silence) */
    uint32_t dvc_count;               /* do_view_changes sent */
    uint32_t dvc_flags;               /* and the last one's flags */
    uint64_t dvc_op;
    uint32_t dvc_log_view;
    struct vsr_header chain[FIXTURE_ANCHOR + 1]; /* the committed prepares 1..96 */
    uint8_t bytes[2 * FIXTURE_CHUNK];
    uint64_t total; /* checkpoint size */
};

static const struct vsr_group fixture_group = {0};

static int fixture_restore(const void *bytes, uint32_t size_bytes, void *context)
{
    (void)bytes, (void)context;
    assert_int_equal(size_bytes, 40);
    return 0;
}

static void fixture_send(uint8_t target, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct fixture *fixture = context;
    (void)body;
    if (header->command == VSR_COMMAND_REQUEST_CHECKPOINT) {
        fixture->checkpoint_requests++;
    }
    if (header->command == VSR_COMMAND_DO_VIEW_CHANGE) {
        fixture->dvc_count++;
        fixture->dvc_flags = header->u.do_view_change.flags;
        fixture->dvc_op = header->u.do_view_change.op;
        fixture->dvc_log_view = header->u.do_view_change.log_view;
    }
    if (header->command == VSR_COMMAND_REQUEST_RECORDS) {
        assert_true(target == 2 || (fixture->records_anywhere && target == 0));
        fixture->record_requests++;
        fixture->record_request = *header;
        fixture->record_target = target;
    }
}

/* A prepare of op in view 2 by replica 2 naming parent; salt makes another one. */
static struct vsr_header fixture_prepare(uint64_t op, u128 parent, uint64_t salt)
{
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_PREPARE, FIXTURE_CLUSTER, 2, 2, &fixture_group);
    header.u.prepare.op = op;
    header.u.prepare.commit = op - 1;
    header.u.prepare.operation = VSR_OPERATION_NOOP;
    header.u.prepare.parent = parent;
    header.u.prepare.timestamp = 1000 + op + salt;
    vsr_header_seal(&header, NULL, 0);
    return header;
}

/* The committed chain 1..96 from the group's root, and a checkpoint of op 96. */
static void fixture_history(struct fixture *fixture)
{
    u128 parent = vsr_replica_root_checksum(&fixture->vsr.replica);
    for (uint64_t op = 1; op <= FIXTURE_ANCHOR; op++) {
        fixture->chain[op] = fixture_prepare(op, parent, 0);
        parent = fixture->chain[op].checksum;
    }
    fixture->total =
        helper_vsr_checkpoint_bytes(&fixture->vsr.replica.config, &fixture->chain[FIXTURE_ANCHOR],
                                    fixture->bytes, sizeof(fixture->bytes));
    assert_true(fixture->total > FIXTURE_CHUNK);
}

static int fixture_setup(void **state)
{
    static struct fixture fixture;
    memset(&fixture, 0, sizeof(fixture));
    helper_vsr_init(&fixture.vsr, FIXTURE_JOURNAL_OPS, 42);
    struct vsr_replica_config config = {
        .cluster = FIXTURE_CLUSTER,
        .group = fixture_group,
        .replica = 1,
        .replica_count = 3,
        .pipeline_max = 8,
        .ops_max = FIXTURE_RING,
        .checkpoint_interval = FIXTURE_INTERVAL,
        .log_retained = true,
        .state_size_max = 64,
        .body_size_max = SIM_BODY_SIZE_MAX,
        .reply_size_max = 8,
        .clients_max = 8,
        .seed = 1,
    };
    struct vsr_state_machine machine = {.apply = helper_vsr_apply_nothing,
                                        .reset = helper_vsr_reset_nothing,
                                        .context = &fixture,
                                        .snapshot = helper_vsr_snapshot_empty,
                                        .restore = fixture_restore};
    struct vsr_bus bus = {
        .send = fixture_send, .reply = helper_vsr_reply_dropped, .context = &fixture};
    assert_int_equal(helper_vsr_start(&fixture.vsr, &config, &machine, &bus), 0);
    fixture_history(&fixture);
    *state = &fixture;
    return 0;
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

/* Replica 2's start_view of view (primary: replica 2) with head op (its only header) and
 * its durable checkpoint at checkpoint_op. */
static void fixture_start_view(struct fixture *fixture, uint32_t view, uint64_t op,
                               uint64_t checkpoint_op)
{
    struct vsr_header head = fixture_prepare(op, 5, 0);
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_START_VIEW, FIXTURE_CLUSTER, view, 2, &fixture_group);
    message.u.start_view.op = op;
    message.u.start_view.commit_max = op - 1;
    message.u.start_view.checkpoint_op = checkpoint_op;
    vsr_header_seal(&message, &head, VSR_HEADER_SIZE);
    fixture_deliver(fixture, &message, &head);
}

/* Replica 2 names a head beyond the ring in view; its checkpoint of op 96 comes in two
 * chunks, naming log_op_first as the first op its journal holds. */
static void fixture_send_checkpoint(struct fixture *fixture, uint32_t view, uint64_t log_op_first)
{
    fixture_start_view(fixture, view, 100, FIXTURE_ANCHOR);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING);
    helper_vsr_checkpoint_send(&fixture->vsr, 2, 2, FIXTURE_ANCHOR, fixture->bytes, fixture->total,
                               FIXTURE_CHUNK, log_op_first);
}

static void fixture_pull_checkpoint_from(struct fixture *fixture, uint32_t view,
                                         uint64_t log_op_first)
{
    fixture_send_checkpoint(fixture, view, log_op_first);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_RECORDS);
}

static void fixture_pull_checkpoint_in_view(struct fixture *fixture, uint32_t view)
{
    fixture_pull_checkpoint_from(fixture, view, 1);
}

static void fixture_pull_checkpoint(struct fixture *fixture)
{
    fixture_pull_checkpoint_in_view(fixture, 2);
}

/* Delivers the committed prepares first..last, letting writes complete now and then. */
static void fixture_records(struct fixture *fixture, uint64_t first, uint64_t last)
{
    for (uint64_t op = first; op <= last; op++) {
        fixture_deliver(fixture, &fixture->chain[op], NULL);
        if (op % 8 == 0) {
            helper_vsr_ticks(&fixture->vsr, 4);
        }
    }
}

/* Replica 2's start_view of view 2 installs 4..11 of another branch (its op 4 names
 * another op 3 than the committed one), a gap at ops 1-2 below it; durable after 4 ticks. */
static void fixture_branch(struct fixture *fixture)
{
    struct vsr_header branch[12];
    u128 parent = 4242; /* names another op 3 than the committed one */
    for (uint64_t op = 4; op <= 11; op++) {
        branch[op] = fixture_prepare(op, parent, 7);
        parent = branch[op].checksum;
    }
    struct vsr_header headers[8];
    for (uint64_t index = 0; index < 8; index++) {
        headers[index] = branch[11 - index];
    }
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_START_VIEW, FIXTURE_CLUSTER, 2, 2, &fixture_group);
    message.u.start_view.op = 11;
    message.u.start_view.commit_max = 2;
    vsr_header_seal(&message, headers, sizeof(headers));
    fixture_deliver(fixture, &message, headers);
    helper_vsr_ticks(&fixture->vsr, 4);
}

static void test_records_are_asked_for_in_bounded_chunks(void **state)
{
    struct fixture *fixture = *state;
    fixture_pull_checkpoint(fixture);
    assert_true(fixture->record_requests >= 1);
    const struct vsr_header_request_records *request = &fixture->record_request.u.request_records;
    assert_int_equal(request->op_min, 1); /* from its commit_min + 1 */
    assert_int_equal(request->op_max, 16);
    assert_int_equal(request->checkpoint_op, FIXTURE_ANCHOR);
    assert_true(request->checkpoint_checksum == fixture->chain[FIXTURE_ANCHOR].checksum);
    fixture_records(fixture, 1, 16);
    assert_int_equal(fixture->record_request.u.request_records.op_min, 17); /* the next one */
}

/* A prepare out of order, or not naming the previous one as its parent, is never written. */
static void test_records_off_the_chain_are_not_written(void **state)
{
    struct fixture *fixture = *state;
    fixture_pull_checkpoint(fixture);
    struct vsr_header orphan = fixture_prepare(1, 12345, 0);
    fixture_deliver(fixture, &orphan, NULL);
    fixture_deliver(fixture, &fixture->chain[2], NULL);
    helper_vsr_ticks(&fixture->vsr, 4);
    assert_int_equal(fixture->vsr.replica.records_op, 1);
    assert_int_equal(fixture->vsr.replica.stats.records_taken, 0);
    assert_false(sim_journal_holds(&fixture->vsr.journal, 1, orphan.checksum));
    assert_false(sim_journal_holds(&fixture->vsr.journal, 2, fixture->chain[2].checksum));
    fixture_records(fixture, 1, 2);
    assert_int_equal(fixture->vsr.replica.records_op, 3);
}

/* A chain that does not end at the anchor: refused, the checkpoint never named. */
static void test_chain_not_ending_at_the_anchor_is_refused(void **state)
{
    struct fixture *fixture = *state;
    fixture_pull_checkpoint(fixture);
    fixture_records(fixture, 1, FIXTURE_ANCHOR - 1);
    uint64_t invalid = fixture->vsr.replica.stats.messages_invalid;
    struct vsr_header other =
        fixture_prepare(FIXTURE_ANCHOR, fixture->chain[FIXTURE_ANCHOR - 1].checksum, 1);
    fixture_deliver(fixture, &other, NULL);
    helper_vsr_ticks(&fixture->vsr, 10);
    assert_int_equal(fixture->vsr.replica.stats.messages_invalid, invalid + 1);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_IDLE);
    assert_false(sim_journal_holds(&fixture->vsr.journal, FIXTURE_ANCHOR, other.checksum));
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, 0);
    assert_int_equal(fixture->vsr.replica.stats.state_transfers, 0);
}

/* The whole chain durable: the checkpoint is named and installed, and not before. */
static void test_whole_chain_durable_installs_the_checkpoint(void **state)
{
    struct fixture *fixture = *state;
    fixture_pull_checkpoint(fixture);
    fixture_records(fixture, 1, FIXTURE_ANCHOR);
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, 0);
    assert_int_equal(fixture->vsr.replica.stats.state_transfers, 0);
    helper_vsr_ticks(&fixture->vsr, 10);
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, FIXTURE_ANCHOR);
    assert_int_equal(fixture->vsr.replica.stats.state_transfers, 1);
    assert_int_equal(fixture->vsr.replica.commit_min, FIXTURE_ANCHOR);
    for (uint64_t op = 1; op <= FIXTURE_ANCHOR; op++) {
        assert_true(sim_journal_is_intact(&fixture->vsr.journal, op, fixture->chain[op].checksum));
    }
}

/*
 * A log that leaves the committed chain at op 3, with a gap at ops 1-2 below it (a start
 * view of view 2 installed 4..11 of another branch, whose op 4 names another op 3; then
 * the transfer began): taking record 3 cuts the log to op 2, a slot it never held. The
 * head persisted with the checkpoint is op 2 with the committed record's checksum
 * (simulator seeds 1978814707088 and 1343532482582 failed on a zero head checksum).
 */
static void test_cut_below_a_gap_keeps_a_known_head(void **state)
{
    struct fixture *fixture = *state;
    fixture_branch(fixture);
    assert_int_equal(fixture->vsr.replica.op, 11);
    assert_int_equal(fixture->vsr.superblock.durable.log_head_op, 11);
    fixture_pull_checkpoint_in_view(fixture, 5);
    fixture_records(fixture, 1, 3);
    helper_vsr_ticks(&fixture->vsr, 4);
    assert_int_equal(fixture->vsr.replica.op, 2);
    assert_int_equal(fixture->vsr.replica.log_head_op, 2);
    fixture_records(fixture, 3, FIXTURE_ANCHOR); /* record 3 again: the cut is durable now */
    helper_vsr_ticks(&fixture->vsr, 10);
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, FIXTURE_ANCHOR);
    assert_int_equal(fixture->vsr.replica.commit_min, FIXTURE_ANCHOR);
    assert_int_equal(fixture->vsr.superblock.durable.log_head_op, 2);
    assert_true(fixture->vsr.superblock.durable.log_head_checksum == fixture->chain[2].checksum);
}

/*
 * The cut is durable before any record above it: the log of view 2 (4..11, another branch
 * from op 3 up) is the one the superblock names, so record 3 cuts the log to op 2 and is
 * not written until the superblock names head 2; asked again, it is taken. Before, records
 * 3..11 were durable in the journal while the superblock still named the branch's head 11:
 * a restart recovered that head over them, and its do_view_change nacked the head's op,
 * whose committed prepare the journal held (simulator seed 351789847474).
 */
static void test_cut_is_durable_before_the_records_above_it(void **state)
{
    struct fixture *fixture = *state;
    fixture_branch(fixture);
    assert_int_equal(fixture->vsr.superblock.durable.log_head_op, 11);
    fixture_pull_checkpoint_in_view(fixture, 5);
    fixture_records(fixture, 1, 11);
    assert_int_equal(fixture->vsr.replica.log_head_op, 2);
    assert_int_equal(fixture->vsr.replica.records_op, 3); /* record 3 waits for the cut */
    helper_vsr_ticks(&fixture->vsr, 4);
    for (uint64_t op = 3; op <= 11; op++) {
        assert_false(sim_journal_holds(&fixture->vsr.journal, op, fixture->chain[op].checksum));
    }
    assert_int_equal(fixture->vsr.superblock.durable.log_head_op, 2);
    fixture_records(fixture, 3, 11);
    helper_vsr_ticks(&fixture->vsr, 4);
    for (uint64_t op = 3; op <= 11; op++) {
        assert_true(sim_journal_holds(&fixture->vsr.journal, op, fixture->chain[op].checksum));
    }
    assert_int_equal(fixture->vsr.replica.records_op, 12);
}

/*
 * The peer's journal begins at op 50 (prefix truncation removed 1..49 on every peer): the
 * records are asked for from op 50, the first one's parent (op 49, held by no one) is not
 * checked, the journal restarts there (1..49 never written), the chain 50..96 ends at the
 * anchor and the checkpoint is installed. Before, the backup asked for op 1 forever.
 */
static void test_records_restart_at_the_peers_log_start(void **state)
{
    struct fixture *fixture = *state;
    fixture_pull_checkpoint_from(fixture, 2, 50);
    const struct vsr_header_request_records *request = &fixture->record_request.u.request_records;
    assert_int_equal(request->op_min, 50);
    assert_int_equal(request->op_max, 65);
    fixture_deliver(fixture, &fixture->chain[51], NULL); /* not the first one: not taken */
    assert_int_equal(fixture->vsr.replica.stats.records_taken, 0);
    assert_int_equal(fixture->vsr.replica.stats.journal_restarts, 0);
    fixture_records(fixture, 50, FIXTURE_ANCHOR);
    assert_int_equal(fixture->vsr.replica.stats.journal_restarts, 1);
    assert_int_equal(fixture->vsr.replica.stats.records_taken, FIXTURE_ANCHOR - 49);
    helper_vsr_ticks(&fixture->vsr, 10);
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, FIXTURE_ANCHOR);
    assert_int_equal(fixture->vsr.replica.stats.state_transfers, 1);
    assert_int_equal(fixture->vsr.replica.commit_min, FIXTURE_ANCHOR);
    for (uint64_t op = 1; op < 50; op++) {
        assert_false(sim_journal_holds(&fixture->vsr.journal, op, fixture->chain[op].checksum));
    }
    for (uint64_t op = 50; op <= FIXTURE_ANCHOR; op++) {
        assert_true(sim_journal_is_intact(&fixture->vsr.journal, op, fixture->chain[op].checksum));
    }
}

/* Restarted at the peer's log start, a chain that does not end at the anchor is still
 * refused and the checkpoint never named. */
static void test_restarted_chain_must_end_at_the_anchor(void **state)
{
    struct fixture *fixture = *state;
    fixture_pull_checkpoint_from(fixture, 2, 50);
    struct vsr_header other[FIXTURE_ANCHOR + 1];
    u128 parent = 777;
    for (uint64_t op = 50; op <= FIXTURE_ANCHOR; op++) {
        other[op] = fixture_prepare(op, parent, 3);
        parent = other[op].checksum;
    }
    uint64_t invalid = fixture->vsr.replica.stats.messages_invalid;
    for (uint64_t op = 50; op <= FIXTURE_ANCHOR; op++) {
        fixture_deliver(fixture, &other[op], NULL);
        if (op % 8 == 0) {
            helper_vsr_ticks(&fixture->vsr, 4);
        }
    }
    helper_vsr_ticks(&fixture->vsr, 10);
    assert_int_equal(fixture->vsr.replica.stats.messages_invalid, invalid + 1);
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, 0);
    assert_int_equal(fixture->vsr.replica.stats.state_transfers, 0);
}

/* A peer whose journal begins above the anchor cannot give the chain: refused. */
static void test_peer_log_start_above_the_anchor_is_refused(void **state)
{
    struct fixture *fixture = *state;
    uint64_t invalid = fixture->vsr.replica.stats.messages_invalid;
    fixture_send_checkpoint(fixture, 2, FIXTURE_ANCHOR + 1);
    assert_int_equal(fixture->vsr.replica.stats.messages_invalid, invalid + 1);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_IDLE);
    assert_int_equal(fixture->vsr.replica.stats.journal_restarts, 0);
}

/*
 * Within reach of the ring (head 20, ring 24) but no peer serves the prepares it lacks
 * (below every peer's log start): after many repair rounds without progress, a peer having
 * checkpointed past its commit, it pulls a checkpoint. Before, it repaired forever.
 */
static void test_stalled_within_reach_pulls_a_checkpoint(void **state)
{
    struct fixture *fixture = *state;
    fixture_start_view(fixture, 2, 20, 12);
    helper_vsr_ticks(&fixture->vsr, 200);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_IDLE); /* repairing */
    assert_int_equal(fixture->checkpoint_requests, 0);
    helper_vsr_ticks(&fixture->vsr, 400);
    assert_int_equal(fixture->vsr.replica.commit_min, 0);
    assert_true(fixture->checkpoint_requests >= 1);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING);
}

/*
 * Within reach, its peers never reported their checkpoints to it (no view change since), but
 * the primary's commits say a replication quorum checkpointed past its commit: after many
 * repair rounds without progress it pulls a checkpoint. Before, it repaired forever (only
 * its peers' own reports counted; seen in the simulator with prefix truncation).
 */
static void test_stalled_within_reach_learns_the_quorum_from_commits(void **state)
{
    struct fixture *fixture = *state;
    fixture_start_view(fixture, 2, 20, 0);
    struct vsr_header commit;
    for (uint32_t round = 0; round < 150; round++) {
        vsr_header_init(&commit, VSR_COMMAND_COMMIT, FIXTURE_CLUSTER, 2, 2, &fixture_group);
        commit.u.commit.commit = 19;
        commit.u.commit.commit_checksum = 5;
        commit.u.commit.checkpoint_op = round < 50 ? 0 : 12;
        vsr_header_seal(&commit, NULL, 0);
        fixture_deliver(fixture, &commit, NULL);
        helper_vsr_ticks(&fixture->vsr, 4);
        if (round == 49) {
            assert_int_equal(fixture->checkpoint_requests, 0); /* no one past its commit */
        }
    }
    assert_int_equal(fixture->vsr.replica.commit_min, 0);
    assert_true(fixture->checkpoint_requests >= 1);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING);
}

/*
 * The records the checkpoint's chunks promised (from op 1) never come: the peers deleted
 * them meanwhile (prefix truncation). After a silence it asks another peer; once as many
 * silences as the group has replicas passed, the transfer starts over (a checkpoint and the
 * first op its peer holds now; here the primary's start_view asks for one again). Before,
 * it asked for op 1 forever.
 */
static void test_silent_records_start_the_transfer_over(void **state)
{
    struct fixture *fixture = *state;
    fixture->records_anywhere = true;
    fixture_pull_checkpoint(fixture);
    uint32_t pulls = fixture->checkpoint_requests;
    helper_vsr_ticks(&fixture->vsr, 100);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_RECORDS);
    for (uint32_t round = 0; round < 200 && fixture->checkpoint_requests == pulls; round++) {
        helper_vsr_ticks(&fixture->vsr, 4);
        if (round % 10 == 9) {
            fixture_start_view(fixture, 2, 100, FIXTURE_ANCHOR); /* still beyond its ring */
        }
    }
    assert_true(fixture->checkpoint_requests > pulls);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING);
    assert_int_equal(fixture->vsr.replica.stats.records_taken, 0);
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, 0);
}

/* Replica 0 reports its durable checkpoint at checkpoint_op (a prepare_ok: every message
 * that carries a peer's checkpoint teaches it). */
static void fixture_checkpoint_report(struct fixture *fixture, uint64_t checkpoint_op)
{
    struct vsr_header ok;
    vsr_header_init(&ok, VSR_COMMAND_PREPARE_OK, FIXTURE_CLUSTER, 2, 0, &fixture_group);
    ok.u.prepare_ok.checkpoint_op = checkpoint_op;
    vsr_header_seal(&ok, NULL, 0);
    fixture_deliver(fixture, &ok, NULL);
}

/*
 * The peer the records come from stops short: its journal's copy of op 41 is damaged (never
 * served; below its ring it is never repaired), while another peer checkpointed past the
 * anchor. After the silence the records are asked of the other peer from op 41, and the
 * whole chain lets the checkpoint be installed. Before, the transfer started over at once
 * (another peer past the anchor), from the primary again: the same peer stopped at the same
 * record, forever (runnel-sim --seed 835024293622).
 */
static void test_silent_peer_hands_the_records_to_another(void **state)
{
    struct fixture *fixture = *state;
    fixture->records_anywhere = true;
    fixture_pull_checkpoint(fixture);
    fixture_records(fixture, 1, 40);
    helper_vsr_ticks(&fixture->vsr, 4);
    assert_int_equal(fixture->vsr.replica.stats.records_taken, 40);
    fixture_checkpoint_report(fixture, FIXTURE_ANCHOR + FIXTURE_INTERVAL);
    uint32_t pulls = fixture->checkpoint_requests;
    helper_vsr_ticks(&fixture->vsr, 60); /* past VSR_TRANSFER_TIMEOUT_TICKS: silent */
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_RECORDS);
    assert_int_equal(fixture->checkpoint_requests, pulls);
    assert_int_equal(fixture->record_target, 0); /* never the silent peer again */
    assert_int_equal(fixture->record_request.u.request_records.op_min, 41);
    fixture_records(fixture, 41, FIXTURE_ANCHOR);
    helper_vsr_ticks(&fixture->vsr, 10);
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, FIXTURE_ANCHOR);
    assert_int_equal(fixture->vsr.replica.stats.state_transfers, 1);
    assert_int_equal(fixture->vsr.replica.commit_min, FIXTURE_ANCHOR);
}

/*
 * A backup in log_view 2 whose log reached op 20 (commit_max 12) stalls below its peers' log
 * start, pulls their checkpoint of op 12 and restarts its journal at op 6: ops 13..20 of view
 * 2's log, which the others may have committed, are gone. The superblock marks that
 * (log_dropped_op 20, with log_view 2) before the journal restarts: checked at the record
 * that restarts it. Ends with the checkpoint of op 12 installed.
 */
static void fixture_journal_restart(struct fixture *fixture)
{
    struct vsr_header head = fixture_prepare(20, 5, 0);
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_START_VIEW, FIXTURE_CLUSTER, 2, 2, &fixture_group);
    message.u.start_view.op = 20;
    message.u.start_view.commit_max = 12;
    message.u.start_view.checkpoint_op = 12;
    vsr_header_seal(&message, &head, VSR_HEADER_SIZE);
    fixture_deliver(fixture, &message, &head);
    assert_int_equal(fixture->vsr.replica.log_view, 2);
    assert_int_equal(fixture->vsr.replica.op, 20);
    helper_vsr_ticks(&fixture->vsr, 600); /* stalled: pulls a checkpoint */
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING);
    uint64_t total = helper_vsr_checkpoint_bytes(&fixture->vsr.replica.config, &fixture->chain[12],
                                                 fixture->bytes, sizeof(fixture->bytes));
    helper_vsr_checkpoint_send(&fixture->vsr, 2, 2, 12, fixture->bytes, total, FIXTURE_CHUNK, 6);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_RECORDS);
    for (uint32_t round = 0; round < 10 && fixture->vsr.replica.commit_min < 12; round++) {
        uint64_t restarts = fixture->vsr.replica.stats.journal_restarts;
        fixture_deliver(fixture, &fixture->chain[6], NULL); /* the restart's record */
        if (fixture->vsr.replica.stats.journal_restarts > restarts) {
            assert_int_equal(fixture->vsr.superblock.durable.log_dropped_op, 20);
            assert_int_equal(fixture->vsr.superblock.durable.log_view, 2);
        }
        fixture_records(fixture, 7, 12); /* again once the restart is durable */
        helper_vsr_ticks(&fixture->vsr, 10);
    }
    assert_true(fixture->vsr.replica.stats.journal_restarts >= 1);
    assert_int_equal(fixture->vsr.replica.commit_min, 12);
    assert_int_equal(fixture->vsr.replica.log_view, 2);
    assert_true(fixture->vsr.replica.op < 20 && fixture->vsr.replica.commit_max <= 12);
}

/* Replica 0 asks for view 3 until this replica sends its do_view_change (or informs). */
static void fixture_view_change_to_3(struct fixture *fixture)
{
    struct vsr_header svc;
    for (uint32_t round = 0; round < 100 && fixture->dvc_count == 0; round++) {
        vsr_header_init(&svc, VSR_COMMAND_START_VIEW_CHANGE, FIXTURE_CLUSTER, 3, 0, &fixture_group);
        vsr_header_seal(&svc, NULL, 0);
        fixture_deliver(fixture, &svc, NULL);
        helper_vsr_ticks(&fixture->vsr, 4);
    }
    assert_true(fixture->dvc_count > 0);
}

/*
 * After the journal restart, the do_view_change for view 3 says its log is partial, so a
 * new primary never takes it as view 2's log whole (it would truncate 13..20). Before,
 * only an op below its own commit_max (12 here) said so.
 */
static void test_journal_restart_makes_the_log_partial(void **state)
{
    struct fixture *fixture = *state;
    fixture_journal_restart(fixture);
    fixture_view_change_to_3(fixture);
    assert_int_equal(fixture->dvc_log_view, 2);
    assert_true(fixture->dvc_op < 20);
    assert_int_equal(fixture->dvc_flags & VSR_DVC_LOG_PARTIAL, VSR_DVC_LOG_PARTIAL);
}

/*
 * The same replica's process crashes once the checkpoint of op 12 is installed (the
 * journal's own trace of the restart, its first op above the checkpoint, is gone by then)
 * and restarts from its superblock and journal: its do_view_change for view 3 still says
 * partial, from the durable mark. Before, the mark lived in memory only and the restarted
 * replica claimed view 2's log whole with op 12 (ops 13..20 truncated by a new view).
 */
static void test_journal_restart_mark_survives_a_crash(void **state)
{
    struct fixture *fixture = *state;
    fixture_journal_restart(fixture);
    struct vsr_replica *replica = &fixture->vsr.replica;
    helper_vsr_ticks(&fixture->vsr, 10);
    assert_false(replica->superblock_busy);
    assert_int_equal(replica->durable.checkpoint_op, 12);
    struct vsr_replica_config config = replica->config;
    struct vsr_state_machine machine = replica->state_machine;
    struct vsr_bus bus = replica->bus;
    vsr_replica_deinit(replica);
    memset(replica, 0, sizeof(*replica));
    sim_journal_crash(&fixture->vsr.journal);
    sim_superblock_crash(&fixture->vsr.superblock);
    assert_int_equal(helper_vsr_start(&fixture->vsr, &config, &machine, &bus), 0);
    assert_int_equal(replica->log_view, 2);
    assert_int_equal(replica->checkpoint_op, 12);
    assert_true(replica->op < 20 && replica->commit_max <= 12);
    assert_int_equal(replica->log_dropped_op, 20);
    assert_int_equal(fixture->vsr.journal.op_first, 6); /* not above the checkpoint */
    fixture_view_change_to_3(fixture);
    assert_int_equal(fixture->dvc_log_view, 2);
    assert_true(fixture->dvc_op < 20);
    assert_int_equal(fixture->dvc_flags & VSR_DVC_LOG_PARTIAL, VSR_DVC_LOG_PARTIAL);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_are_asked_for_in_bounded_chunks, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_records_off_the_chain_are_not_written, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_chain_not_ending_at_the_anchor_is_refused,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_whole_chain_durable_installs_the_checkpoint,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_cut_below_a_gap_keeps_a_known_head, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_cut_is_durable_before_the_records_above_it,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_journal_restart_makes_the_log_partial, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_journal_restart_mark_survives_a_crash, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_records_restart_at_the_peers_log_start, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_restarted_chain_must_end_at_the_anchor, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_peer_log_start_above_the_anchor_is_refused,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stalled_within_reach_learns_the_quorum_from_commits,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_silent_records_start_the_transfer_over, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stalled_within_reach_pulls_a_checkpoint, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_silent_peer_hands_the_records_to_another,
                                        fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
