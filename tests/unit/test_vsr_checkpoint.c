/*
 * Unit tests for VSR state transfer with untrusted checkpoint chunks (vsr/replica_checkpoint.c)
 * on one backup of a 3-replica group over the simulator's journal and checkpoint store:
 * a start_view beyond the backup's ring starts a pull from its sender; chunks that do not
 * continue the pull (another peer, another offset, a size beyond the buffer, an empty one)
 * are ignored and never written; a checkpoint whose bytes do not match the checksum its
 * peer named, or whose frame is not a checkpoint, is written chunk by chunk, refused once
 * complete (counted), never named in the superblock, and the pull starts again.
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
    FIXTURE_INTERVAL = 6,
    FIXTURE_CLUSTER = 7,
    FIXTURE_CHUNK = 2048,
    FIXTURE_ROUNDS_MAX = 20,
};

struct fixture {
    struct helper_vsr vsr;
    uint32_t requests; /* request_checkpoint messages sent */
    struct vsr_header request;
    uint8_t bytes[2 * FIXTURE_CHUNK];
};

static const struct vsr_group fixture_group = {0};

static int fixture_restore(const void *bytes, uint32_t size_bytes, void *context)
{
    (void)bytes, (void)size_bytes, (void)context;
    fail_msg("no checkpoint may be restored here");
    return -1;
}

static void fixture_send(uint8_t target, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct fixture *fixture = context;
    (void)body;
    if (header->command == VSR_COMMAND_REQUEST_CHECKPOINT) {
        assert_int_equal(target, 2);
        fixture->requests++;
        fixture->request = *header;
    }
}

static int fixture_setup(void **state)
{
    static struct fixture fixture;
    memset(&fixture, 0, sizeof(fixture));
    helper_vsr_init(&fixture.vsr, FIXTURE_RING, 42);
    struct vsr_replica_config config = {
        .cluster = FIXTURE_CLUSTER,
        .group = fixture_group,
        .replica = 1, /* metadata group: replica 0 leads view 0, replica 2 view 2 */
        .replica_count = 3,
        .pipeline_max = 8,
        .ops_max = FIXTURE_RING,
        .checkpoint_interval = FIXTURE_INTERVAL,
        .state_size_max = 64,
        .body_size_max = SIM_BODY_SIZE_MAX,
        .reply_size_max = 8,
        .clients_max = 8, /* room for a 2,748-byte checkpoint */
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
    *state = &fixture;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *fixture = *state;
    helper_vsr_deinit(&fixture->vsr);
    return 0;
}

/* Replica 2, primary of view 2, names a head far beyond the backup's ring. */
static void fixture_start_view_beyond(struct fixture *fixture)
{
    struct vsr_header head;
    vsr_header_init(&head, VSR_COMMAND_PREPARE, FIXTURE_CLUSTER, 2, 2, &fixture_group);
    head.u.prepare.op = 100;
    head.u.prepare.commit = 99;
    head.u.prepare.operation = VSR_OPERATION_NOOP;
    head.u.prepare.parent = 5;
    vsr_header_seal(&head, NULL, 0);
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_START_VIEW, FIXTURE_CLUSTER, 2, 2, &fixture_group);
    message.u.start_view.op = 100;
    message.u.start_view.commit_max = 99;
    message.u.start_view.checkpoint_op = 96;
    vsr_header_seal(&message, &head, VSR_HEADER_SIZE);
    vsr_replica_on_message(&fixture->vsr.replica, &message, &head);
}

/* A checkpoint chunk from sender: bytes [offset, offset + size) of fixture->bytes. */
static void fixture_chunk(struct fixture *fixture, uint8_t sender, u128 checksum, uint64_t offset,
                          uint32_t size, uint64_t total)
{
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_CHECKPOINT, FIXTURE_CLUSTER, 2, sender, &fixture_group);
    message.u.checkpoint_chunk.checkpoint_checksum = checksum;
    message.u.checkpoint_chunk.checkpoint_op = 96;
    message.u.checkpoint_chunk.chunk_offset_bytes = offset;
    message.u.checkpoint_chunk.chunk_size_bytes = size;
    message.u.checkpoint_chunk.total_size_bytes = total;
    vsr_header_seal(&message, fixture->bytes + offset, size);
    vsr_replica_on_message(&fixture->vsr.replica, &message, fixture->bytes + offset);
}

static void test_start_view_beyond_ring_pulls_from_its_sender(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_IDLE);
    fixture_start_view_beyond(fixture);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING);
    assert_int_equal(fixture->vsr.replica.status, VSR_STATUS_VIEW_CHANGE); /* left view 0 */
    assert_int_equal(fixture->requests, 1);
    assert_int_equal(fixture->request.u.checkpoint_chunk.checkpoint_op, 0); /* commit_min */
    assert_true(fixture->request.u.checkpoint_chunk.checkpoint_checksum == 0);
    assert_true(fixture->vsr.replica.stats.window_full >= 1);
}

/* Chunks that do not continue the pull are dropped before anything is written. */
static void test_chunks_out_of_place_are_ignored(void **state)
{
    struct fixture *fixture = *state;
    fixture_start_view_beyond(fixture);
    uint64_t size_max = fixture->vsr.replica.checkpoint_size_max;
    memset(fixture->bytes, 0xab, sizeof(fixture->bytes));
    fixture_chunk(fixture, 0, 77, 0, 512, 1024);         /* not the peer asked */
    fixture_chunk(fixture, 2, 77, 512, 512, 1024);       /* not offset 0 */
    fixture_chunk(fixture, 2, 77, 0, 512, size_max + 1); /* beyond the buffer */
    fixture_chunk(fixture, 2, 77, 0, 512, 300);          /* chunk beyond total */
    fixture_chunk(fixture, 2, 0, 0, 512, 1024);          /* names no checkpoint */
    fixture_chunk(fixture, 2, 77, 0, 0, 1024);           /* empty */
    assert_false(fixture->vsr.superblock.chunk_pending);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING);
    assert_int_equal(fixture->vsr.replica.transfer_offset_bytes, 0);
}

/* A pull that completes must match the named checksum and be a checkpoint, else refused. */
static void fixture_refused_pull(struct fixture *fixture, u128 checksum, uint64_t total)
{
    uint64_t invalid = fixture->vsr.replica.stats.messages_invalid;
    uint32_t first = FIXTURE_CHUNK < total ? FIXTURE_CHUNK : (uint32_t)total;
    fixture_chunk(fixture, 2, checksum, 0, first, total);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_WRITING);
    helper_vsr_ticks(&fixture->vsr, 4);
    if (first < total) {
        assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING);
        assert_int_equal(fixture->request.u.checkpoint_chunk.chunk_offset_bytes, first);
        assert_true(fixture->request.u.checkpoint_chunk.checkpoint_checksum == checksum);
        fixture_chunk(fixture, 2, checksum + 1, first, (uint32_t)(total - first), total);
        assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_PULLING); /* another */
        fixture_chunk(fixture, 2, checksum, first, (uint32_t)(total - first), total);
        helper_vsr_ticks(&fixture->vsr, 4);
    }
    assert_int_equal(fixture->vsr.replica.stats.messages_invalid, invalid + 1);
    assert_int_equal(fixture->vsr.replica.checkpoint_op, 0);
    assert_int_equal(fixture->vsr.superblock.durable.checkpoint_op, 0);
    assert_int_equal(fixture->vsr.replica.stats.state_transfers, 0);
}

/*
 * Encodes a well-formed checkpoint of op 96 (anchor header, frame, an empty client table,
 * 40 bytes of state) into fixture->bytes; returns its size.
 */
static uint64_t fixture_checkpoint(struct fixture *fixture)
{
    memset(fixture->bytes, 0, sizeof(fixture->bytes));
    struct vsr_header anchor;
    vsr_header_init(&anchor, VSR_COMMAND_PREPARE, FIXTURE_CLUSTER, 2, 2, &fixture_group);
    anchor.u.prepare.op = 96;
    anchor.u.prepare.commit = 95;
    anchor.u.prepare.operation = VSR_OPERATION_NOOP;
    vsr_header_seal(&anchor, NULL, 0);
    memcpy(fixture->bytes, &anchor, sizeof(anchor));
    const struct vsr_replica_config *config = &fixture->vsr.replica.config;
    uint64_t sessions = config->clients_max *
                        (sizeof(struct vsr_client_session) + (uint64_t)config->reply_size_max);
    uint64_t frame[4] = {0x52434b50, 96, sessions, 40}; /* magic and reserved, op, sizes */
    memcpy(fixture->bytes + VSR_HEADER_SIZE, frame, sizeof(frame));
    uint64_t total = VSR_HEADER_SIZE + sizeof(frame) + sessions + 40;
    assert_true(total > FIXTURE_CHUNK && total <= sizeof(fixture->bytes));
    memset(fixture->bytes + total - 40, 0x33, 40);
    return total;
}

static void test_checksum_mismatch_is_refused(void **state)
{
    struct fixture *fixture = *state;
    fixture_start_view_beyond(fixture);
    uint64_t total = fixture_checkpoint(fixture);
    fixture_refused_pull(fixture, vsr_checksum(fixture->bytes, total) ^ 1, total);
    assert_int_equal(fixture->vsr.replica.transfer_stage, VSR_TRANSFER_IDLE);
    /* The next start_view beyond its ring pulls again, from the start. */
    fixture->requests = 0;
    for (uint32_t round = 0; round < FIXTURE_ROUNDS_MAX * 10 && fixture->requests == 0; round++) {
        fixture_start_view_beyond(fixture);
        helper_vsr_ticks(&fixture->vsr, 1);
    }
    assert_int_equal(fixture->requests, 1);
    assert_int_equal(fixture->request.u.checkpoint_chunk.chunk_offset_bytes, 0);
}

static void test_bytes_that_are_not_a_checkpoint_are_refused(void **state)
{
    struct fixture *fixture = *state;
    fixture_start_view_beyond(fixture);
    uint64_t total = fixture_checkpoint(fixture);
    fixture->bytes[VSR_HEADER_SIZE] ^= 1; /* the magic: the checksum right, the frame not */
    fixture_refused_pull(fixture, vsr_checksum(fixture->bytes, total), total);
    fixture_start_view_beyond(fixture);
    fixture_checkpoint(fixture);
    fixture->bytes[100] ^= 1; /* the anchor header damaged */
    fixture_refused_pull(fixture, vsr_checksum(fixture->bytes, total), total);
}

/* A prepare_ok from peer reporting its durable checkpoint at checkpoint_op. */
static void fixture_prepare_ok(struct fixture *fixture, uint8_t peer, uint64_t checkpoint_op)
{
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_PREPARE_OK, FIXTURE_CLUSTER, 0, peer, &fixture_group);
    message.u.prepare_ok.checkpoint_op = checkpoint_op;
    vsr_header_seal(&message, NULL, 0);
    vsr_replica_on_message(&fixture->vsr.replica, &message, NULL);
}

/* Prefix truncation's bound (vsr_replica_log_removable_op) in a group of 3 (this replica is
 * 1): the op a replication quorum (2 of 3) has durably checkpointed, this replica counted
 * with its own, never above its own. A peer never heard from or behind does not hold it
 * back once the other two are past it (a backup down for good does not stop deletion). */
static void test_log_removable_op_waits_for_a_quorum(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_replica *replica = &fixture->vsr.replica;
    replica->checkpoint_op = 12; /* as if its own checkpoint at 12 were durable */
    assert_int_equal(vsr_replica_log_removable_op(replica), 0); /* only itself is past 0 */
    fixture_prepare_ok(fixture, 0, 18);
    assert_true(replica->checkpoint_quorum_op >= 12); /* a quorum (itself and 0) is past 12 */
    assert_int_equal(vsr_replica_log_removable_op(replica), 12); /* replica 2: never heard */
    fixture_prepare_ok(fixture, 2, 6);
    assert_int_equal(vsr_replica_log_removable_op(replica), 12); /* not every replica's 6 */
    replica->checkpoint_op = 24;
    assert_int_equal(vsr_replica_log_removable_op(replica), 18); /* replica 0's, not its own */
    fixture_prepare_ok(fixture, 0, 3); /* an older report never lowers what was learned */
    assert_int_equal(vsr_replica_log_removable_op(replica), 18);
    fixture_prepare_ok(fixture, 2, 30);
    assert_int_equal(vsr_replica_log_removable_op(replica), 24); /* its own checkpoint */
    fixture_prepare_ok(fixture, 0, 36);
    assert_int_equal(vsr_replica_log_removable_op(replica), 24); /* never above its own */
    replica->checkpoint_op = 0;
    assert_int_equal(vsr_replica_log_removable_op(replica), 0);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_view_beyond_ring_pulls_from_its_sender,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_chunks_out_of_place_are_ignored, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_checksum_mismatch_is_refused, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bytes_that_are_not_a_checkpoint_are_refused,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_log_removable_op_waits_for_a_quorum, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
