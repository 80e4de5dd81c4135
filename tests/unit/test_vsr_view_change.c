/*
 * Unit tests for a view change that a recovering_head replica informs
 * (vsr/replica_view_change.c) on replica 1 of a 3-replica group, the primary of view 4.
 * Replica 2 led view 2 and prepared ops 3..6 in it; it crashed and only op 6 was written,
 * so it names ops 1, 2 and 6 and nacks op 5 (its journal holds another view's op 5), but
 * cannot nack ops 3 and 4 (its journal holds older prepares it cannot rule out). Replica 1
 * restarted empty. Replica 0 holds view 2's ops 3 and 4 and is recovering_head: it votes
 * and nacks nothing. The quorum {1, 2} alone cannot decide ops 3 and 4 and waits; replica
 * 0's informing message names them (prepares of view 2, the log_view: canonical by
 * themselves) and holds them intact, so the view starts with ops 1..4 and op 5 and above
 * truncated on the quorum's nacks. Headers of an older view from an informing replica are
 * not taken as canonical, and its implicit nacks above its head never count.
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
    FIXTURE_CLUSTER = 7,
    FIXTURE_VIEW = 4,     /* primary: replica (4 + 0) mod 3 = 1 */
    FIXTURE_LOG_VIEW = 2, /* replica 2 led it */
    FIXTURE_HEAD = 6,
};

struct fixture {
    struct helper_vsr vsr;
    struct vsr_header chain[FIXTURE_HEAD + 1]; /* view 2's log: 1..2 of view 1, 3..6 of 2 */
    struct vsr_header older[FIXTURE_HEAD + 1]; /* view 1's ops 3..4 (another branch) */
    uint32_t start_views;
};

static const struct vsr_group fixture_group = {0};

static void fixture_send(uint8_t target, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct fixture *fixture = context;
    (void)target, (void)body;
    fixture->start_views += header->command == VSR_COMMAND_START_VIEW;
}

static struct vsr_header fixture_prepare(uint64_t op, uint32_t view, u128 parent, uint64_t salt)
{
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_PREPARE, FIXTURE_CLUSTER, view, (uint8_t)(view % 3),
                    &fixture_group);
    header.u.prepare.op = op;
    header.u.prepare.commit = op - 1;
    header.u.prepare.operation = VSR_OPERATION_NOOP;
    header.u.prepare.parent = parent;
    header.u.prepare.timestamp = 1000 + op + salt;
    vsr_header_seal(&header, NULL, 0);
    return header;
}

static int fixture_setup(void **state)
{
    static struct fixture fixture;
    memset(&fixture, 0, sizeof(fixture));
    helper_vsr_init(&fixture.vsr, FIXTURE_RING, 42);
    struct vsr_replica_config config = {
        .cluster = FIXTURE_CLUSTER,
        .group = fixture_group,
        .replica = 1,
        .replica_count = 3,
        .pipeline_max = 8,
        .ops_max = FIXTURE_RING,
        .checkpoint_interval = 0, /* no checkpoint: the view change alone */
        .body_size_max = SIM_BODY_SIZE_MAX,
        .reply_size_max = 8,
        .clients_max = 8,
        .seed = 1,
    };
    struct vsr_state_machine machine = {.apply = helper_vsr_apply_nothing,
                                        .reset = helper_vsr_reset_nothing,
                                        .context = &fixture,
                                        .snapshot = helper_vsr_snapshot_empty};
    struct vsr_bus bus = {
        .send = fixture_send, .reply = helper_vsr_reply_dropped, .context = &fixture};
    assert_int_equal(helper_vsr_start(&fixture.vsr, &config, &machine, &bus), 0);
    u128 parent = vsr_replica_root_checksum(&fixture.vsr.replica);
    for (uint64_t op = 1; op <= FIXTURE_HEAD; op++) {
        uint32_t view = op <= 2 ? 1 : FIXTURE_LOG_VIEW;
        fixture.chain[op] = fixture_prepare(op, view, parent, 0);
        parent = fixture.chain[op].checksum;
    }
    parent = fixture.chain[2].checksum;
    for (uint64_t op = 3; op <= 4; op++) {
        fixture.older[op] = fixture_prepare(op, 1, parent, 77);
        parent = fixture.older[op].checksum;
    }
    *state = &fixture;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *fixture = *state;
    helper_vsr_deinit(&fixture->vsr);
    return 0;
}

/*
 * A do_view_change (informs_view 0) or informing message (informs_view: view 4) from
 * sender in own_view with log_view 2 and head op, naming headers[op - i] (zero: unknown),
 * present where present[op - i], nacking where nack[op - i].
 */
static void fixture_dvc(struct fixture *fixture, uint8_t sender, uint32_t own_view,
                        uint32_t informs_view, uint64_t op, const struct vsr_header *headers,
                        const bool *present, const bool *nack, uint64_t commit_max)
{
    struct vsr_header body[FIXTURE_HEAD];
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_DO_VIEW_CHANGE, FIXTURE_CLUSTER, own_view, sender,
                    &fixture_group);
    struct vsr_header_do_view_change *dvc = &message.u.do_view_change;
    for (uint64_t index = 0; index < op; index++) {
        uint64_t at = op - index;
        body[index] = headers[at];
        dvc->present_bitset |= (u128)present[at] << index;
        dvc->nack_bitset |= (u128)nack[at] << index;
    }
    dvc->op = op;
    dvc->commit_min = commit_max;
    dvc->commit_max = commit_max;
    dvc->log_view = FIXTURE_LOG_VIEW;
    dvc->informs_view = informs_view;
    vsr_header_seal(&message, body, (uint32_t)(op * VSR_HEADER_SIZE));
    assert_int_equal(vsr_header_validate(&message, UINT32_MAX, NULL), 0);
    vsr_replica_on_message(&fixture->vsr.replica, &message, body);
}

/* Replica 2's do_view_change for view 4: ops 1, 2 and 6 named and held, op 5 nacked. */
static void fixture_dvc_from_old_primary(struct fixture *fixture)
{
    struct vsr_header headers[FIXTURE_HEAD + 1];
    bool present[FIXTURE_HEAD + 1] = {false};
    bool nack[FIXTURE_HEAD + 1] = {false};
    memset(headers, 0, sizeof(headers));
    for (uint64_t op = 1; op <= FIXTURE_HEAD; op++) {
        if (op <= 2 || op == 6) {
            headers[op] = fixture->chain[op];
            present[op] = true;
        }
    }
    nack[5] = true;
    fixture_dvc(fixture, 2, FIXTURE_VIEW, 0, FIXTURE_HEAD, headers, present, nack, 2);
    helper_vsr_ticks(&fixture->vsr, 4); /* view 4 durable: replica 1 sends its own and chooses */
}

/* Replica 0's informing message (its own view 2, head op 4): ops 1..4 of log, held. */
static void fixture_informing(struct fixture *fixture, const struct vsr_header *log)
{
    struct vsr_header headers[FIXTURE_HEAD + 1];
    bool present[FIXTURE_HEAD + 1] = {false};
    bool nack[FIXTURE_HEAD + 1] = {false};
    memset(headers, 0, sizeof(headers));
    for (uint64_t op = 1; op <= 4; op++) {
        headers[op] = op <= 2 ? fixture->chain[op] : log[op];
        present[op] = true;
    }
    fixture_dvc(fixture, 0, FIXTURE_LOG_VIEW, FIXTURE_VIEW, 4, headers, present, nack, 2);
    helper_vsr_ticks(&fixture->vsr, 4);
}

static void test_quorum_alone_waits_for_ops_nobody_in_it_can_decide(void **state)
{
    struct fixture *fixture = *state;
    fixture_dvc_from_old_primary(fixture);
    const struct vsr_replica *replica = &fixture->vsr.replica;
    assert_int_equal(replica->view, FIXTURE_VIEW);
    assert_int_equal(replica->status, VSR_STATUS_VIEW_CHANGE);
    assert_int_equal(fixture->start_views, 0);
}

static void test_informing_replica_lets_the_view_start(void **state)
{
    struct fixture *fixture = *state;
    fixture_dvc_from_old_primary(fixture);
    fixture_informing(fixture, fixture->chain);
    const struct vsr_replica *replica = &fixture->vsr.replica;
    assert_int_equal(replica->status, VSR_STATUS_NORMAL);
    assert_int_equal(replica->view, FIXTURE_VIEW);
    assert_int_equal(replica->log_view, FIXTURE_VIEW);
    assert_int_equal(replica->op, 4); /* 5 and 6: nacked by the quorum */
    assert_true(replica->stats.dvc_informing == 1);
    for (uint64_t op = 1; op <= 4; op++) {
        assert_true(vsr_replica_header(replica, op)->checksum == fixture->chain[op].checksum);
    }
    assert_true(fixture->start_views > 0);
}

static void test_informing_headers_of_an_older_view_are_not_canonical(void **state)
{
    struct fixture *fixture = *state;
    fixture_dvc_from_old_primary(fixture);
    fixture_informing(fixture, fixture->older); /* ops 3..4 of view 1: maybe truncated in 2 */
    assert_int_equal(fixture->vsr.replica.status, VSR_STATUS_VIEW_CHANGE);
    assert_int_equal(fixture->start_views, 0);
}

static void test_informing_replica_nacks_nothing(void **state)
{
    struct fixture *fixture = *state;
    /* Replica 2 does not nack op 5 this time: only replica 1 does (above its empty log);
     * replica 0's head is op 4, and an informing message nacks nothing above it. */
    struct vsr_header headers[FIXTURE_HEAD + 1];
    bool present[FIXTURE_HEAD + 1] = {false};
    bool nack[FIXTURE_HEAD + 1] = {false};
    memset(headers, 0, sizeof(headers));
    headers[1] = fixture->chain[1];
    headers[2] = fixture->chain[2];
    headers[6] = fixture->chain[6];
    present[1] = present[2] = present[6] = true;
    fixture_dvc(fixture, 2, FIXTURE_VIEW, 0, FIXTURE_HEAD, headers, present, nack, 2);
    helper_vsr_ticks(&fixture->vsr, 4);
    fixture_informing(fixture, fixture->chain);
    assert_int_equal(fixture->vsr.replica.status, VSR_STATUS_VIEW_CHANGE);
    assert_int_equal(fixture->start_views, 0);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quorum_alone_waits_for_ops_nobody_in_it_can_decide,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_informing_replica_lets_the_view_start, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_informing_headers_of_an_older_view_are_not_canonical,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_informing_replica_nacks_nothing, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
