/*
 * Unit tests for shared heartbeats (vsr/heartbeat.c, vsr/replica_heartbeat.c) on one backup
 * (replica 1 of 3, heartbeat_shared) of the metadata group, whose view-0 primary is replica
 * 0: a whole round carrying its primary's leading entry restarts the normal timeout and is
 * acknowledged; a backup's entry leaves that vouch alone, the primary's own "not leading"
 * ends it; a round without one asks for every group (want_full) and restarts nothing;
 * malformed chunks (every field out of range, a wrong shard or author) and inconsistent
 * entries are counted and dropped before they reach the replica, and send no ack; the
 * sender moves its acknowledged round only on acks of its own epoch.
 */
#include "tests/sim/sim_journal.h"
#include "vsr/heartbeat.h"
#include "vsr/replica.h"

#include "tests/unit/helper_assert.h"
#include "tests/unit/helper_vsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { FIXTURE_CLUSTER = 7, FIXTURE_EPOCH = 5, FIXTURE_PEER = 0 };

struct fixture {
    struct helper_vsr vsr;
    struct vsr_heartbeat heartbeat; /* the backup's shard: one slot, links to 0 and 2 */
    struct vsr_heartbeat_host host;
    uint32_t sent;          /* heartbeat messages the backup's shard sent */
    struct vsr_header last; /* the latest of them */
    uint32_t last_link;
};

static const struct vsr_group fixture_group = {0};

static uint32_t fixture_apply(const struct vsr_header *prepare, const void *body, void *reply_body,
                              uint32_t reply_size_max, void *context)
{
    (void)prepare, (void)body, (void)reply_body, (void)reply_size_max, (void)context;
    return 0;
}

static void fixture_reset(void *context)
{
    (void)context;
}

static void fixture_bus_send(uint8_t target, const struct vsr_header *header, const void *body,
                             void *context)
{
    (void)target, (void)header, (void)body, (void)context;
}

static void fixture_reply(u128 client, const struct vsr_header *header, const void *body,
                          void *context)
{
    (void)client, (void)header, (void)body, (void)context;
}

static struct vsr_replica *fixture_replica_at(uint32_t slot, void *context)
{
    struct fixture *fixture = context;
    assert_int_equal(slot, 0);
    return &fixture->vsr.replica;
}

static int32_t fixture_find(const struct vsr_group *group, void *context)
{
    (void)context;
    return vsr_group_is_equal(group, &fixture_group) ? 0 : -1;
}

static bool fixture_send(uint32_t link, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct fixture *fixture = context;
    (void)body;
    fixture->sent++;
    fixture->last = *header;
    fixture->last_link = link;
    return true;
}

static int fixture_setup(void **state)
{
    static struct fixture fixture;
    memset(&fixture, 0, sizeof(fixture));
    helper_vsr_init(&fixture.vsr, 32, 42);
    struct vsr_replica_config config = {
        .cluster = FIXTURE_CLUSTER,
        .group = fixture_group,
        .replica = 1,
        .replica_count = 3,
        .pipeline_max = 8,
        .ops_max = 32,
        .body_size_max = SIM_BODY_SIZE_MAX,
        .reply_size_max = 8,
        .clients_max = 4,
        .heartbeat_shared = true,
        .seed = 1,
    };
    struct vsr_state_machine machine = {
        .apply = fixture_apply, .reset = fixture_reset, .context = &fixture};
    struct vsr_bus bus = {.send = fixture_bus_send, .reply = fixture_reply, .context = &fixture};
    assert_int_equal(helper_vsr_start(&fixture.vsr, &config, &machine, &bus), 0);
    assert_int_equal(vsr_heartbeat_init(&fixture.heartbeat, FIXTURE_CLUSTER, 1, 0, 1, 3, 11, 4), 0);
    vsr_heartbeat_link_set(&fixture.heartbeat, 0, 0, 0);
    vsr_heartbeat_link_set(&fixture.heartbeat, 2, 2, 0);
    fixture.host = (struct vsr_heartbeat_host){.replica_at = fixture_replica_at,
                                               .find = fixture_find,
                                               .send = fixture_send,
                                               .context = &fixture};
    vsr_heartbeat_tick(&fixture.heartbeat, &fixture.host, 1); /* slots walked: [0, 1) */
    assert_int_equal(fixture.vsr.replica.status, VSR_STATUS_NORMAL);
    *state = &fixture;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *fixture = *state;
    vsr_heartbeat_deinit(&fixture->heartbeat);
    helper_vsr_deinit(&fixture->vsr);
    return 0;
}

/* The leading entry replica 0 sends for the group in view 0. */
static struct vsr_heartbeat_entry fixture_leading(const struct fixture *fixture)
{
    struct vsr_heartbeat_entry entry;
    memset(&entry, 0, sizeof(entry));
    entry.group = fixture_group;
    entry.flags = VSR_HEARTBEAT_ENTRY_LEADING;
    entry.commit_checksum = vsr_replica_root_checksum(&fixture->vsr.replica);
    return entry;
}

/* A one-chunk round from shard 0 of peer carrying count entries. */
static void fixture_chunk_from(struct vsr_header *header, uint8_t peer, uint64_t round,
                               const struct vsr_heartbeat_entry *entries, uint16_t count)
{
    struct vsr_group group = {.kind = VSR_GROUP_KIND_SHARD};
    vsr_header_init(header, VSR_COMMAND_HEARTBEAT, FIXTURE_CLUSTER, 0, peer, &group);
    header->u.heartbeat.epoch = FIXTURE_EPOCH;
    header->u.heartbeat.round = round;
    header->u.heartbeat.chunk_count = 1;
    header->u.heartbeat.entry_count = count;
    vsr_header_seal(header, entries, count * (uint32_t)sizeof(*entries));
}

/* A one-chunk round from replica 0's shard 0 carrying count entries. */
static void fixture_chunk(struct vsr_header *header, uint64_t round,
                          const struct vsr_heartbeat_entry *entries, uint16_t count)
{
    fixture_chunk_from(header, FIXTURE_PEER, round, entries, count);
}

static void fixture_deliver(struct fixture *fixture, struct vsr_header *header,
                            const struct vsr_heartbeat_entry *entries)
{
    vsr_heartbeat_on_message(&fixture->heartbeat, &fixture->host, FIXTURE_PEER, header, entries);
}

static void test_round_with_leading_entry_vouches_and_acks(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_replica *replica = &fixture->vsr.replica;
    for (uint32_t round = 0; round < 10; round++) {
        helper_vsr_tick(&fixture->vsr);
    }
    uint64_t deadline = replica->timeout_normal.deadline;
    struct vsr_heartbeat_entry entry = fixture_leading(fixture);
    struct vsr_header header;
    fixture_chunk(&header, 1, &entry, 1);
    fixture_deliver(fixture, &header, &entry);
    assert_true(replica->vouch_known && replica->vouch_leading);
    assert_true(replica->timeout_normal.deadline > deadline);
    assert_int_equal(fixture->sent, 1);
    assert_int_equal(fixture->last.command, VSR_COMMAND_HEARTBEAT_ACK);
    assert_int_equal(fixture->last_link, FIXTURE_PEER);
    assert_int_equal(fixture->last.u.heartbeat.epoch_acked, FIXTURE_EPOCH);
    assert_int_equal(fixture->last.u.heartbeat.round, 1);
    assert_int_equal(fixture->last.u.heartbeat.flags, 0);
    /* The next rounds carry nothing (unchanged), and still vouch. */
    for (uint32_t round = 0; round < 10; round++) {
        helper_vsr_tick(&fixture->vsr);
    }
    deadline = replica->timeout_normal.deadline;
    fixture_chunk(&header, 2, NULL, 0);
    fixture_deliver(fixture, &header, NULL);
    assert_true(replica->timeout_normal.deadline > deadline);
    assert_int_equal(fixture->sent, 2);
    assert_int_equal(fixture->last.u.heartbeat.round, 2);
    fixture_deliver(fixture, &header, NULL); /* a duplicate: dropped, no second ack */
    assert_int_equal(fixture->sent, 2);
    assert_int_equal(fixture->heartbeat.stats.stale, 1);
}

/* Replica 2 is a backup in view 0: its entry (not leading) must not replace the primary's. */
static void test_backup_entry_leaves_the_vouch(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_replica *replica = &fixture->vsr.replica;
    struct vsr_heartbeat_entry entry = fixture_leading(fixture);
    struct vsr_header header;
    fixture_chunk(&header, 1, &entry, 1);
    fixture_deliver(fixture, &header, &entry);
    struct vsr_heartbeat_entry backup;
    memset(&backup, 0, sizeof(backup));
    backup.group = fixture_group;
    fixture_chunk_from(&header, 2, 1, &backup, 1);
    vsr_heartbeat_on_message(&fixture->heartbeat, &fixture->host, 2, &header, &backup);
    assert_int_equal(fixture->sent, 2); /* both rounds acked */
    assert_true(replica->vouch_known && replica->vouch_leading);
    assert_int_equal(replica->vouch_peer, FIXTURE_PEER);
    uint64_t deadline = replica->timeout_normal.deadline;
    for (uint32_t round = 0; round < 10; round++) {
        helper_vsr_tick(&fixture->vsr);
    }
    fixture_chunk(&header, 2, NULL, 0);
    fixture_deliver(fixture, &header, NULL);
    assert_true(replica->timeout_normal.deadline > deadline);
    /* The primary itself says it no longer leads: the vouch ends. */
    entry.flags = 0;
    entry.commit = 0;
    entry.commit_checksum = 0;
    fixture_chunk(&header, 3, &entry, 1);
    fixture_deliver(fixture, &header, &entry);
    assert_false(replica->vouch_leading);
    deadline = replica->timeout_normal.deadline;
    for (uint32_t round = 0; round < 10; round++) {
        helper_vsr_tick(&fixture->vsr);
    }
    fixture_chunk(&header, 4, NULL, 0);
    fixture_deliver(fixture, &header, NULL);
    assert_int_equal(replica->timeout_normal.deadline, deadline);
}

static void test_round_without_entry_wants_full(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_replica *replica = &fixture->vsr.replica;
    uint64_t deadline = replica->timeout_normal.deadline;
    struct vsr_header header;
    fixture_chunk(&header, 1, NULL, 0);
    fixture_deliver(fixture, &header, NULL);
    assert_int_equal(replica->timeout_normal.deadline, deadline);
    assert_int_equal(fixture->sent, 1);
    assert_int_equal(fixture->last.u.heartbeat.flags, VSR_HEARTBEAT_FLAG_WANT_FULL);
}

/* Delivers header (edited after fixture_chunk, resealed) and expects it dropped. */
static void fixture_expect_invalid(struct fixture *fixture, struct vsr_header *header,
                                   const struct vsr_heartbeat_entry *entry)
{
    uint64_t invalid = fixture->heartbeat.stats.invalid;
    vsr_header_set_checksum(header);
    fixture_deliver(fixture, header, entry);
    assert_int_equal(fixture->heartbeat.stats.invalid, invalid + 1);
    assert_int_equal(fixture->sent, 0);
    assert_false(fixture->vsr.replica.vouch_known);
}

static void test_malformed_chunks_are_dropped(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_heartbeat_entry entry = fixture_leading(fixture);
    struct vsr_header header;
    fixture_chunk(&header, 1, &entry, 1);
    header.u.heartbeat.entry_count = VSR_HEARTBEAT_CHUNK_ENTRIES + 1;
    fixture_expect_invalid(fixture, &header, &entry);
    fixture_chunk(&header, 1, &entry, 1);
    header.u.heartbeat.entry_count = 2; /* more than the body holds */
    fixture_expect_invalid(fixture, &header, &entry);
    fixture_chunk(&header, 1, &entry, 1);
    header.u.heartbeat.chunk = 1; /* not below chunk_count */
    fixture_expect_invalid(fixture, &header, &entry);
    fixture_chunk(&header, 1, &entry, 1);
    header.u.heartbeat.chunk_count = VSR_HEARTBEAT_CHUNKS_MAX + 1;
    fixture_expect_invalid(fixture, &header, &entry);
    fixture_chunk(&header, 1, &entry, 1);
    header.u.heartbeat.epoch = 0;
    fixture_expect_invalid(fixture, &header, &entry);
    fixture_chunk(&header, 0, &entry, 1);
    fixture_expect_invalid(fixture, &header, &entry); /* round 0 */
    fixture_chunk(&header, 1, &entry, 1);
    header.u.heartbeat.flags = 1u << 7;
    fixture_expect_invalid(fixture, &header, &entry);
    fixture_chunk(&header, 1, &entry, 1);
    header.group.stream_id = 3; /* another shard of this node */
    fixture_expect_invalid(fixture, &header, &entry);
    fixture_chunk(&header, 1, &entry, 1);
    header.replica = 2; /* not link 0's peer */
    fixture_expect_invalid(fixture, &header, &entry);
    fixture_chunk(&header, 1, &entry, 1);
    vsr_heartbeat_on_message(&fixture->heartbeat, &fixture->host, 1, &header, &entry); /* no link */
    assert_int_equal(fixture->sent, 0);
    assert_false(fixture->vsr.replica.vouch_known);
}

static void test_inconsistent_entries_are_counted(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_replica *replica = &fixture->vsr.replica;
    struct vsr_heartbeat_entry entries[4];
    for (uint32_t index = 0; index < 4; index++) {
        entries[index] = fixture_leading(fixture);
    }
    entries[0].view = 1;            /* replica 0 does not lead view 1 */
    entries[1].flags |= 1u << 4;    /* unknown flag */
    entries[2].commit_checksum = 0; /* a leading entry names its commit */
    entries[3].flags = 0;           /* not leading, yet with a commit */
    uint64_t invalid = replica->stats.messages_invalid;
    struct vsr_header header;
    fixture_chunk(&header, 1, entries, 4);
    fixture_deliver(fixture, &header, entries);
    assert_int_equal(replica->stats.messages_invalid, invalid + 4);
    assert_false(replica->vouch_known);
    assert_int_equal(fixture->sent, 1); /* the round itself was whole: acked, wants all */
    assert_int_equal(fixture->last.u.heartbeat.flags, VSR_HEARTBEAT_FLAG_WANT_FULL);
}

/* An ack from replica 0's shard 0 of round. */
static void fixture_ack(struct fixture *fixture, uint64_t epoch_acked, uint64_t round)
{
    struct vsr_group group = {.kind = VSR_GROUP_KIND_SHARD};
    struct vsr_header ack;
    vsr_header_init(&ack, VSR_COMMAND_HEARTBEAT_ACK, FIXTURE_CLUSTER, 0, FIXTURE_PEER, &group);
    ack.u.heartbeat.epoch = 9;
    ack.u.heartbeat.epoch_acked = epoch_acked;
    ack.u.heartbeat.round = round;
    vsr_header_seal(&ack, NULL, 0);
    fixture_deliver(fixture, &ack, NULL);
}

static void test_acks_of_own_epoch_move_the_round(void **state)
{
    struct fixture *fixture = *state;
    for (uint32_t round = 0; round < 2 * VSR_HEARTBEAT_INTERVAL_TICKS; round++) {
        vsr_heartbeat_tick(&fixture->heartbeat, &fixture->host, 1);
    }
    assert_int_equal(fixture->heartbeat.round, 2);
    assert_int_equal(fixture->last.command, VSR_COMMAND_HEARTBEAT);
    assert_int_equal(fixture->last.u.heartbeat.entry_count, 1); /* never acked: again */
    struct vsr_heartbeat_link *link = &fixture->heartbeat.links[FIXTURE_PEER];
    fixture_ack(fixture, 11, 1); /* a new peer epoch: everything again */
    assert_int_equal(link->peer_epoch, 9);
    assert_int_equal(link->acked_round, 0);
    fixture_ack(fixture, 11, 2);
    assert_int_equal(link->acked_round, 2);
    fixture_ack(fixture, 12, 2);  /* another start's round */
    fixture_ack(fixture, 11, 30); /* a round never sent */
    assert_int_equal(fixture->heartbeat.stats.stale, 2);
    assert_int_equal(link->acked_round, 2);
    uint32_t sent = fixture->sent;
    for (uint32_t round = 0; round < VSR_HEARTBEAT_INTERVAL_TICKS; round++) {
        vsr_heartbeat_tick(&fixture->heartbeat, &fixture->host, 1);
    }
    assert_int_equal(fixture->sent, sent + 2); /* links 0 and 2 */
    assert_int_equal(fixture->last_link, 2);   /* link 2 never acked: the entry again */
    assert_int_equal(fixture->last.u.heartbeat.entry_count, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_with_leading_entry_vouches_and_acks,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_backup_entry_leaves_the_vouch, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_round_without_entry_wants_full, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_chunks_are_dropped, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inconsistent_entries_are_counted, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_acks_of_own_epoch_move_the_round, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
