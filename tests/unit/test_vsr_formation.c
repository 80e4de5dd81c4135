/*
 * Unit tests for how a new group forms (vsr/replica_repair.c vsr_replica_recover): a
 * replica whose superblock does not name its group never acted, so a fresh group's view-0
 * primary leads view 0 at once and commits without a view change; each replica writes
 * that mark before it sends anything. A replica whose superblock names the group applies
 * the restart rule: a primary of its log_view moves to view + 1 even with an empty
 * journal (it may have sent prepares the journal lost), and a `replicated` replica that
 * restarts after a machine crash is recovering_head. Three replicas of the metadata group
 * (index 0: replica 0 leads view 0) on the unit-test seams, messages delivered in order.
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
    FIXTURE_REPLICAS = 3,
    FIXTURE_RING = 24,
    FIXTURE_CLUSTER = 7,
    FIXTURE_CLIENT = 5,
    FIXTURE_QUEUE_MAX = 256,
    FIXTURE_BODY_MAX = 4096,
};

struct fixture_message {
    uint8_t target;
    struct vsr_header header;
    uint8_t body[FIXTURE_BODY_MAX];
};

struct fixture_endpoint {
    struct fixture *fixture;
    uint8_t index;
};

struct fixture {
    struct helper_vsr vsr[FIXTURE_REPLICAS];
    struct fixture_endpoint endpoints[FIXTURE_REPLICAS];
    struct fixture_message queue[FIXTURE_QUEUE_MAX];
    uint32_t queue_count;
    uint32_t sends[FIXTURE_REPLICAS];
    uint32_t sent_unformed; /* messages sent before the sender's superblock named the group */
    uint32_t replies;
    struct vsr_header reply;
};

static const struct vsr_group fixture_group = {.kind = VSR_GROUP_KIND_METADATA};

static void fixture_send(uint8_t target, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct fixture_endpoint *endpoint = context;
    struct fixture *fixture = endpoint->fixture;
    uint32_t body_size = header->size - VSR_HEADER_SIZE;
    assert_true(body_size <= FIXTURE_BODY_MAX);
    assert_true(fixture->queue_count < FIXTURE_QUEUE_MAX);
    fixture->sends[endpoint->index]++;
    fixture->sent_unformed += !fixture->vsr[endpoint->index].superblock.durable.formed;
    struct fixture_message *message = &fixture->queue[fixture->queue_count++];
    message->target = target;
    message->header = *header;
    if (body_size > 0) {
        memcpy(message->body, body, body_size);
    }
}

static void fixture_reply(u128 client, const struct vsr_header *header, const void *body,
                          void *context)
{
    struct fixture_endpoint *endpoint = context;
    (void)body;
    assert_true(client == FIXTURE_CLIENT);
    endpoint->fixture->replies++;
    endpoint->fixture->reply = *header;
}

static void fixture_config(struct vsr_replica_config *config, uint8_t index)
{
    memset(config, 0, sizeof(*config));
    config->cluster = FIXTURE_CLUSTER;
    config->group = fixture_group;
    config->replica = index;
    config->replica_count = FIXTURE_REPLICAS;
    config->pipeline_max = 4;
    config->ops_max = FIXTURE_RING;
    config->body_size_max = SIM_BODY_SIZE_MAX;
    config->reply_size_max = 8;
    config->clients_max = 4;
    config->seed = 11 + index;
}

static void fixture_start(struct fixture *fixture, uint8_t index, bool replicated, bool boot)
{
    struct vsr_replica_config config;
    fixture_config(&config, index);
    config.durability_replicated = replicated;
    config.boot_changed = boot;
    struct vsr_state_machine machine = {.apply = helper_vsr_apply_nothing,
                                        .reset = helper_vsr_reset_nothing,
                                        .snapshot = helper_vsr_snapshot_empty,
                                        .context = fixture};
    struct vsr_bus bus = {
        .send = fixture_send, .reply = fixture_reply, .context = &fixture->endpoints[index]};
    assert_int_equal(helper_vsr_start(&fixture->vsr[index], &config, &machine, &bus), 0);
}

static int fixture_setup(void **state)
{
    static struct fixture fixture;
    memset(&fixture, 0, sizeof(fixture));
    for (uint8_t index = 0; index < FIXTURE_REPLICAS; index++) {
        fixture.endpoints[index] = (struct fixture_endpoint){.fixture = &fixture, .index = index};
        helper_vsr_init(&fixture.vsr[index], FIXTURE_RING, 100 + index);
    }
    *state = &fixture;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *fixture = *state;
    for (uint8_t index = 0; index < FIXTURE_REPLICAS; index++) {
        helper_vsr_deinit(&fixture->vsr[index]);
    }
    return 0;
}

/* Delivers what is queued, and what that sends, in order (up to a bound). */
static void fixture_deliver(struct fixture *fixture)
{
    for (uint32_t round = 0; round < 64 && fixture->queue_count > 0; round++) {
        uint32_t count = fixture->queue_count;
        static struct fixture_message batch[FIXTURE_QUEUE_MAX];
        memcpy(batch, fixture->queue, count * sizeof(batch[0]));
        fixture->queue_count = 0;
        for (uint32_t index = 0; index < count; index++) {
            struct vsr_replica *replica = &fixture->vsr[batch[index].target].replica;
            if (replica->entries != NULL) {
                vsr_replica_on_message(replica, &batch[index].header, batch[index].body);
            }
        }
    }
}

/* count ticks of every started replica, each followed by a delivery. */
static void fixture_ticks(struct fixture *fixture, uint32_t count)
{
    for (uint32_t round = 0; round < count; round++) {
        for (uint8_t index = 0; index < FIXTURE_REPLICAS; index++) {
            if (fixture->vsr[index].replica.entries != NULL) {
                helper_vsr_tick(&fixture->vsr[index]);
            }
        }
        fixture_deliver(fixture);
    }
}

static void fixture_register(struct fixture *fixture, uint8_t target)
{
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, FIXTURE_CLUSTER, 0, 0, &fixture_group);
    header.u.request.client = FIXTURE_CLIENT;
    header.u.request.operation = VSR_OPERATION_REGISTER;
    vsr_header_seal(&header, NULL, 0);
    vsr_replica_on_message(&fixture->vsr[target].replica, &header, NULL);
}

/* A process crash of replica index: what it wrote lands or not; it restarts from there. */
static void fixture_crash(struct fixture *fixture, uint8_t index)
{
    vsr_replica_deinit(&fixture->vsr[index].replica);
    memset(&fixture->vsr[index].replica, 0, sizeof(fixture->vsr[index].replica));
    sim_journal_crash(&fixture->vsr[index].journal);
    sim_superblock_crash(&fixture->vsr[index].superblock);
}

/* A fresh group: the view-0 primary leads view 0 from its start and commits the first
 * request there; no replica changes view, and none sends before its superblock names the
 * group (the mark that makes "never acted" durable). Fails on the old restart rule, which
 * moved a fresh view-0 primary to view 1 (and the group, later, back to view 3). */
static void test_fresh_group_commits_in_view_zero(void **state)
{
    struct fixture *fixture = *state;
    for (uint8_t index = 0; index < FIXTURE_REPLICAS; index++) {
        fixture_start(fixture, index, false, false);
    }
    struct vsr_replica *primary = &fixture->vsr[0].replica;
    assert_int_equal(vsr_replica_primary_index(primary, 0), 0);
    assert_int_equal(primary->view, 0);
    assert_int_equal(primary->status, VSR_STATUS_NORMAL);
    assert_int_equal(primary->stats.view_changes, 0);
    assert_int_equal(fixture->sends[0] + fixture->sends[1] + fixture->sends[2], 0);
    fixture_ticks(fixture, 5); /* the superblock writes land (1..3 ticks) */
    for (uint8_t index = 0; index < FIXTURE_REPLICAS; index++) {
        assert_true(fixture->vsr[index].superblock.durable.formed);
        assert_int_equal(fixture->vsr[index].superblock.durable.view, 0);
    }
    assert_true(vsr_replica_is_primary(primary));
    fixture_register(fixture, 0);
    fixture_ticks(fixture, 20);
    assert_int_equal(fixture->replies, 1);
    assert_int_equal(fixture->reply.view, 0);
    assert_true(primary->commit_max >= 1);
    for (uint8_t index = 0; index < FIXTURE_REPLICAS; index++) {
        const struct vsr_replica *replica = &fixture->vsr[index].replica;
        assert_int_equal(replica->view, 0);
        assert_int_equal(replica->log_view, 0);
        assert_int_equal(replica->status, VSR_STATUS_NORMAL);
        assert_int_equal(replica->stats.view_changes, 0);
        assert_true(replica->commit_min >= 1);
    }
    assert_int_equal(fixture->sent_unformed, 0);
}

/* The view-0 primary prepared op 1 (its superblock named the group first) and crashed
 * before its journal held it: restarted with an empty journal it must not lead view 0
 * again (another op 1 in the same view: a fork) but move to view 1. */
static void test_formed_primary_with_empty_journal_moves_on(void **state)
{
    struct fixture *fixture = *state;
    for (uint8_t index = 0; index < FIXTURE_REPLICAS; index++) {
        fixture_start(fixture, index, false, false);
    }
    fixture_ticks(fixture, 5);
    fixture_register(fixture, 0);
    uint32_t prepares = 0;
    for (uint32_t index = 0; index < fixture->queue_count; index++) {
        prepares += fixture->queue[index].header.command == VSR_COMMAND_PREPARE;
    }
    assert_int_equal(prepares, FIXTURE_REPLICAS - 1); /* op 1 went out */
    fixture->queue_count = 0;                         /* ... and the crash took it */
    fixture_crash(fixture, 0);
    sim_journal_reset(&fixture->vsr[0].journal); /* the journal never held op 1 */
    assert_true(fixture->vsr[0].superblock.durable.formed);
    fixture_start(fixture, 0, false, false);
    const struct vsr_replica *restarted = &fixture->vsr[0].replica;
    assert_int_equal(restarted->op, 0);
    assert_int_equal(restarted->view, 1);
    assert_int_equal(restarted->status, VSR_STATUS_VIEW_CHANGE);
    assert_int_equal(restarted->stats.view_changes, 1);
}

/* A replica that never wrote its superblock (crashed before the mark landed) restarts as
 * new: it sent nothing, so the view-0 primary leads view 0 again at once. */
static void test_unformed_primary_restarts_in_view_zero(void **state)
{
    struct fixture *fixture = *state;
    fixture_start(fixture, 0, false, false);
    assert_true(fixture->vsr[0].superblock.pending_used);
    fixture->vsr[0].superblock.pending_used = false; /* the crash drops the write */
    fixture_crash(fixture, 0);
    assert_false(fixture->vsr[0].superblock.durable.formed);
    fixture_start(fixture, 0, false, false);
    const struct vsr_replica *restarted = &fixture->vsr[0].replica;
    assert_int_equal(restarted->view, 0);
    assert_int_equal(restarted->status, VSR_STATUS_NORMAL);
    assert_int_equal(restarted->stats.view_changes, 0);
    assert_int_equal(fixture->sends[0], 0);
}

/* `replicated` durability after a machine crash: a backup whose superblock names the group
 * may have acked writes the crash took, even with an empty journal in view 0 (a new group
 * serves there now), so it restarts recovering_head; one whose superblock does not never
 * acked and starts normal. */
static void test_replicated_backup_in_view_zero_after_machine_crash(void **state)
{
    struct fixture *fixture = *state;
    fixture_start(fixture, 1, true, true);
    assert_int_equal(fixture->vsr[1].replica.status, VSR_STATUS_NORMAL);
    helper_vsr_ticks(&fixture->vsr[1], 5);
    assert_true(fixture->vsr[1].superblock.durable.formed);
    fixture_crash(fixture, 1);
    sim_journal_reset(&fixture->vsr[1].journal);
    fixture_start(fixture, 1, true, true);
    assert_int_equal(fixture->vsr[1].replica.view, 0);
    assert_int_equal(fixture->vsr[1].replica.status, VSR_STATUS_RECOVERING_HEAD);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_group_commits_in_view_zero, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_formed_primary_with_empty_journal_moves_on,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unformed_primary_restarts_in_view_zero, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_replicated_backup_in_view_zero_after_machine_crash,
                                        fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
