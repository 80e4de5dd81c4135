/*
 * Unit tests for the broker's exactly-once partition path (node/data_plane_sessions.h)
 * over one partition replica (replica_count 1, the simulator's in-memory journal): the
 * implicit register, a resend answered with the original reply and executed once, a resend
 * of an op still in the pipeline recognised as pending (no second prepare), a number below
 * the window refused with status 59 and never executed, a logout and the TTL releasing the
 * session.
 */
#include "node/data_plane_sessions.h"
#include "proto/iggy_error.h"
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

enum { FIXTURE_OPS_MAX = 128, FIXTURE_ROUNDS_MAX = 200 };

static const u128 fixture_client = ((u128)0xc0ffee << 64) | 0x1234;

struct fixture {
    struct helper_vsr vsr;
    uint64_t applied;        /* state machine executions */
    uint64_t offset_next;    /* the state machine's "base offset" */
    uint32_t replies;        /* replies seen by the bus */
    struct vsr_header reply; /* the latest reply */
    uint64_t reply_offset;   /* its body */
};

static uint32_t fixture_apply(const struct vsr_header *prepare, const void *body, void *reply_body,
                              uint32_t reply_size_max, void *context)
{
    struct fixture *fixture = context;
    assert_true(reply_size_max >= 8);
    assert_int_equal(prepare->size - VSR_HEADER_SIZE, 8);
    (void)body;
    fixture->applied++;
    memcpy(reply_body, &fixture->offset_next, 8); /* like a send reply's base offset */
    fixture->offset_next += 10;
    return 8;
}

static void fixture_reset(void *context)
{
    struct fixture *fixture = context;
    fixture->applied = 0;
    fixture->offset_next = 0;
}

static void fixture_send(uint8_t target, const struct vsr_header *header, const void *body,
                         void *context)
{
    (void)target;
    (void)header;
    (void)body;
    (void)context;
    fail_msg("a cluster of one sends nothing to peers");
}

static void fixture_reply(u128 client, const struct vsr_header *header, const void *body,
                          void *context)
{
    struct fixture *fixture = context;
    assert_true(client != 0);
    if (client != fixture_client) {
        return;
    }
    fixture->replies++;
    fixture->reply = *header;
    fixture->reply_offset = UINT64_MAX;
    if (header->size == VSR_HEADER_SIZE + 8) {
        memcpy(&fixture->reply_offset, body, 8);
    }
}

/* Runs ticks until the replica has committed everything it holds (bounded). */
static void fixture_settle(struct fixture *fixture)
{
    for (uint32_t round = 0; round < FIXTURE_ROUNDS_MAX; round++) {
        helper_vsr_tick(&fixture->vsr);
        if (vsr_replica_is_primary(&fixture->vsr.replica) &&
            !fixture->vsr.replica.superblock_busy &&
            fixture->vsr.replica.commit_min == fixture->vsr.replica.op && round > 4) {
            return;
        }
    }
    fail_msg("the replica did not settle");
}

static int fixture_setup(void **state)
{
    static struct fixture fixture;
    memset(&fixture, 0, sizeof(fixture));
    helper_vsr_init(&fixture.vsr, FIXTURE_OPS_MAX, 42);
    struct vsr_replica_config config = {
        .cluster = 7,
        .group = {.stream_id = 1,
                  .topic_id = 1,
                  .partition_id = 0,
                  .kind = VSR_GROUP_KIND_PARTITION,
                  .incarnation = 3},
        .replica = 0,
        .replica_count = 1,
        .pipeline_max = 8,
        .ops_max = FIXTURE_OPS_MAX,
        .body_size_max = SIM_BODY_SIZE_MAX,
        .reply_size_max = 64,
        .clients_max = 4,
        .exactly_once_window_max = DATA_PLANE_SESSIONS_WINDOW_MAX,
        .session_ttl_ns = DATA_PLANE_SESSIONS_TTL_NS,
        .seed = 1,
    };
    struct vsr_state_machine machine = {
        .apply = fixture_apply, .reset = fixture_reset, .context = &fixture};
    struct vsr_bus bus = {.send = fixture_send, .reply = fixture_reply, .context = &fixture};
    assert_int_equal(helper_vsr_start(&fixture.vsr, &config, &machine, &bus), 0);
    fixture_settle(&fixture);
    *state = &fixture;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *fixture = *state;
    helper_vsr_deinit(&fixture->vsr);
    return 0;
}

/* Hands client's op numbered sequence to the replica as the data plane does: registers
 * first when needed. Returns true when the op itself was delivered. */
static bool fixture_submit(struct fixture *fixture, uint64_t sequence)
{
    uint8_t body[8];
    memcpy(body, &sequence, sizeof(body));
    struct vsr_header header;
    bool is_op = data_plane_sessions_request(&fixture->vsr.replica, fixture_client, sequence,
                                             VSR_OPERATION_MESSAGES, body, sizeof(body), &header);
    if (is_op) {
        vsr_replica_on_local_request(&fixture->vsr.replica, &header, body);
    } else {
        vsr_replica_on_message(&fixture->vsr.replica, &header, NULL);
    }
    return is_op;
}

/* Submits sequence (registering first when the group has no session) and settles. */
static void fixture_submit_settled(struct fixture *fixture, uint64_t sequence)
{
    if (!fixture_submit(fixture, sequence)) {
        fixture_settle(fixture);
        assert_true(data_plane_sessions_find(&fixture->vsr.replica, fixture_client) != 0);
        assert_true(fixture_submit(fixture, sequence));
    }
    fixture_settle(fixture);
}

static void test_first_op_registers_then_runs_once(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(data_plane_sessions_find(&fixture->vsr.replica, fixture_client), 0);
    assert_false(fixture_submit(fixture, 1)); /* the implicit register goes first */
    assert_int_equal(fixture->applied, 0);
    fixture_settle(fixture);
    uint64_t session = data_plane_sessions_find(&fixture->vsr.replica, fixture_client);
    assert_true(session != 0);
    assert_true(fixture_submit(fixture, 1));
    fixture_settle(fixture);
    assert_int_equal(fixture->applied, 1);
    assert_int_equal(fixture->reply.u.reply.request, 1);
    assert_int_equal(data_plane_sessions_reply_status(&fixture->reply), 0);
    assert_int_equal(fixture->reply_offset, 0);
    /* A register again (another shard's first op after a reconnect) keeps the session
     * and its window. */
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, 7, fixture->vsr.replica.view, 0,
                    &fixture->vsr.replica.config.group);
    header.u.request.client = fixture_client;
    header.u.request.operation = VSR_OPERATION_REGISTER;
    header.u.request.flags = VSR_REQUEST_FLAG_EXACTLY_ONCE;
    vsr_header_seal(&header, NULL, 0);
    vsr_replica_on_message(&fixture->vsr.replica, &header, NULL);
    fixture_settle(fixture);
    assert_int_equal(data_plane_sessions_find(&fixture->vsr.replica, fixture_client), session);
    assert_true(fixture_submit(fixture, 1));
    fixture_settle(fixture);
    assert_int_equal(fixture->applied, 1);
    assert_int_equal(fixture->reply_offset, 0);
}

/* A local request carries no body checksum; one that is not of this group or whose header
 * is damaged is counted and dropped like any message, a good one is prepared. */
static void test_local_request_validated(void **state)
{
    struct fixture *fixture = *state;
    fixture_submit_settled(fixture, 1);
    uint64_t applied = fixture->applied;
    uint8_t body[8] = {0};
    struct vsr_header header;
    assert_true(data_plane_sessions_request(&fixture->vsr.replica, fixture_client, 2,
                                            VSR_OPERATION_MESSAGES, body, sizeof(body), &header));
    assert_true(header.checksum_body == 0);
    uint64_t invalid = fixture->vsr.replica.stats.messages_invalid;
    struct vsr_header other = header;
    other.group.partition_id++;
    vsr_replica_request_seal_local(&other, sizeof(body));
    vsr_replica_on_local_request(&fixture->vsr.replica, &other, body);
    struct vsr_header damaged = header;
    damaged.u.request.request++; /* header checksum no longer matches */
    vsr_replica_on_local_request(&fixture->vsr.replica, &damaged, body);
    assert_int_equal(fixture->vsr.replica.stats.messages_invalid, invalid + 2);
    fixture_settle(fixture);
    assert_int_equal(fixture->applied, applied);
    vsr_replica_on_local_request(&fixture->vsr.replica, &header, body);
    fixture_settle(fixture);
    assert_int_equal(fixture->applied, applied + 1);
}

static void test_resend_gets_the_original_reply(void **state)
{
    struct fixture *fixture = *state;
    fixture_submit_settled(fixture, 5);
    uint64_t applied = fixture->applied;
    uint64_t offset = fixture->reply_offset;
    uint64_t op = fixture->vsr.replica.op;
    fixture_submit_settled(fixture, 6);
    assert_int_equal(fixture->applied, applied + 1);
    uint32_t replies = fixture->replies;
    assert_true(fixture_submit(fixture, 5)); /* a resend after a reconnect */
    fixture_settle(fixture);
    assert_int_equal(fixture->replies, replies + 1);
    assert_int_equal(fixture->reply.u.reply.request, 5);
    assert_int_equal(fixture->reply_offset, offset); /* the same base offset */
    assert_int_equal(data_plane_sessions_reply_status(&fixture->reply), 0);
    assert_int_equal(fixture->applied, applied + 1); /* never executed again */
    assert_int_equal(fixture->vsr.replica.op, op + 1);
}

static void test_resend_while_pending_is_one_op(void **state)
{
    struct fixture *fixture = *state;
    fixture_submit_settled(fixture, 10);
    uint64_t applied = fixture->applied;
    assert_true(fixture_submit(fixture, 11));
    uint64_t op = fixture->vsr.replica.op;
    assert_true(data_plane_sessions_is_pending(&fixture->vsr.replica, fixture_client, 11));
    assert_false(data_plane_sessions_is_pending(&fixture->vsr.replica, fixture_client, 12));
    assert_true(fixture_submit(fixture, 11)); /* before the first commits */
    assert_int_equal(fixture->vsr.replica.op, op);
    fixture_settle(fixture);
    assert_int_equal(fixture->applied, applied + 1);
    assert_false(data_plane_sessions_is_pending(&fixture->vsr.replica, fixture_client, 11));
}

static void test_below_the_window_is_refused(void **state)
{
    struct fixture *fixture = *state;
    fixture_submit_settled(fixture, 20);
    for (uint64_t sequence = 21; sequence <= 21 + DATA_PLANE_SESSIONS_WINDOW_MAX; sequence++) {
        fixture_submit_settled(fixture, sequence);
    }
    uint64_t applied = fixture->applied;
    uint64_t op = fixture->vsr.replica.op;
    assert_true(fixture_submit(fixture, 20));
    fixture_settle(fixture);
    assert_int_equal(fixture->reply.u.reply.request, 20);
    assert_int_equal(data_plane_sessions_reply_status(&fixture->reply),
                     IGGY_ERROR_REQUEST_ALREADY_APPLIED);
    assert_int_equal(fixture->applied, applied);
    assert_int_equal(fixture->vsr.replica.op, op);
    /* A number inside the window is still answered with its kept reply. */
    assert_true(fixture_submit(fixture, 21 + DATA_PLANE_SESSIONS_WINDOW_MAX));
    fixture_settle(fixture);
    assert_int_equal(data_plane_sessions_reply_status(&fixture->reply), 0);
    assert_int_equal(fixture->applied, applied);
}

static void test_logout_releases_the_session(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_header header;
    assert_false(data_plane_sessions_logout(&fixture->vsr.replica, fixture_client, &header));
    fixture_submit_settled(fixture, 50);
    uint64_t applied = fixture->applied;
    assert_true(data_plane_sessions_logout(&fixture->vsr.replica, fixture_client, &header));
    assert_int_equal(header.u.request.operation, VSR_OPERATION_LOGOUT);
    vsr_replica_on_message(&fixture->vsr.replica, &header, NULL);
    fixture_settle(fixture);
    assert_int_equal(data_plane_sessions_find(&fixture->vsr.replica, fixture_client), 0);
    fixture_submit_settled(fixture, 50); /* registers again: a new op, not the kept reply */
    assert_int_equal(fixture->applied, applied + 1);
}

static void test_ttl_releases_the_session(void **state)
{
    struct fixture *fixture = *state;
    fixture_submit_settled(fixture, 40);
    assert_true(data_plane_sessions_find(&fixture->vsr.replica, fixture_client) != 0);
    clock_fake_advance_ns(&fixture->vsr.clock, DATA_PLANE_SESSIONS_TTL_NS + 1000);
    /* Another client's op moves log time past the TTL: the session is released. */
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, 7, fixture->vsr.replica.view, 0,
                    &fixture->vsr.replica.config.group);
    header.u.request.client = 99;
    header.u.request.operation = VSR_OPERATION_REGISTER;
    vsr_header_seal(&header, NULL, 0);
    vsr_replica_on_message(&fixture->vsr.replica, &header, NULL);
    fixture_settle(fixture);
    assert_int_equal(data_plane_sessions_find(&fixture->vsr.replica, fixture_client), 0);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_op_registers_then_runs_once, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_local_request_validated, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_resend_gets_the_original_reply, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_resend_while_pending_is_one_op, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_below_the_window_is_refused, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_logout_releases_the_session, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ttl_releases_the_session, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
