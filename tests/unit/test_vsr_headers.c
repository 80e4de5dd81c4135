/*
 * Unit tests for header repair (vsr/replica_repair.c: request_headers / headers) on one
 * backup of a 3-replica group over the simulator's journal: a start_view that names only its
 * head leaves a gap the backup asks a peer to fill with headers; a headers message is
 * untrusted: a header whose checksum is not the one the chain above names is refused, a body
 * that is not a whole number of headers or holds a non-prepare is counted invalid and changes
 * nothing, a message from another view is ignored; the canonical headers, newest first, are
 * learned in batches of what one message may carry, each checked against the parent of the
 * one above it; more than that in one message is invalid.
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
    FIXTURE_RING = 64,
    FIXTURE_CLUSTER = 7,
    FIXTURE_HEAD = 12,
    /* Headers one message may carry here: the largest message a replica takes holds the
     * view-change window, pipeline_max + 1 headers (bodies are SIM_BODY_SIZE_MAX bytes). */
    FIXTURE_BATCH = 9,
};

struct fixture {
    struct helper_vsr vsr;
    uint32_t header_requests; /* request_headers messages sent */
    struct vsr_header request;
    struct vsr_header chain[FIXTURE_HEAD + 1]; /* chain[op], op 1..FIXTURE_HEAD */
};

static const struct vsr_group fixture_group = {0};

static void fixture_send(uint8_t target, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct fixture *fixture = context;
    (void)body;
    if (header->command == VSR_COMMAND_REQUEST_HEADERS) {
        assert_true(target == 0 || target == 2);
        fixture->header_requests++;
        fixture->request = *header;
    }
}

/* The canonical prepares 1..FIXTURE_HEAD of view 0, hash-chained from the root. */
static void fixture_chain(struct fixture *fixture)
{
    u128 parent = vsr_replica_root_checksum(&fixture->vsr.replica);
    for (uint64_t op = 1; op <= FIXTURE_HEAD; op++) {
        struct vsr_header *prepare = &fixture->chain[op];
        vsr_header_init(prepare, VSR_COMMAND_PREPARE, FIXTURE_CLUSTER, 0, 0, &fixture_group);
        prepare->u.prepare.op = op;
        prepare->u.prepare.parent = parent;
        prepare->u.prepare.operation = VSR_OPERATION_NOOP;
        prepare->u.prepare.timestamp = 1000 + op;
        vsr_header_seal(prepare, NULL, 0);
        parent = prepare->checksum;
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
        .replica = 1, /* replica 0 leads view 0 */
        .replica_count = 3,
        .pipeline_max = 8,
        .ops_max = FIXTURE_RING,
        .body_size_max = SIM_BODY_SIZE_MAX,
        .reply_size_max = 8,
        .clients_max = 8,
        .seed = 1,
    };
    struct vsr_state_machine machine = {
        .apply = helper_vsr_apply_nothing, .reset = helper_vsr_reset_nothing, .context = &fixture};
    struct vsr_bus bus = {
        .send = fixture_send, .reply = helper_vsr_reply_dropped, .context = &fixture};
    assert_int_equal(helper_vsr_start(&fixture.vsr, &config, &machine, &bus), 0);
    fixture_chain(&fixture);
    *state = &fixture;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *fixture = *state;
    helper_vsr_deinit(&fixture->vsr);
    return 0;
}

/* Replica 0, primary of view 0, names the head alone: ops 1..HEAD-1 are a gap. */
static void fixture_start_view(struct fixture *fixture)
{
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_START_VIEW, FIXTURE_CLUSTER, 0, 0, &fixture_group);
    message.u.start_view.op = FIXTURE_HEAD;
    vsr_header_seal(&message, &fixture->chain[FIXTURE_HEAD], VSR_HEADER_SIZE);
    vsr_replica_on_message(&fixture->vsr.replica, &message, &fixture->chain[FIXTURE_HEAD]);
    assert_int_equal(fixture->vsr.replica.op, FIXTURE_HEAD);
}

/* A headers message from replica 2 in view `view` carrying `count` headers. */
static void fixture_headers(struct fixture *fixture, uint32_t view, const struct vsr_header *body,
                            uint32_t size_bytes)
{
    struct vsr_header message;
    vsr_header_init(&message, VSR_COMMAND_HEADERS, FIXTURE_CLUSTER, view, 2, &fixture_group);
    vsr_header_seal(&message, body, size_bytes);
    vsr_replica_on_message(&fixture->vsr.replica, &message, body);
}

/* Runs ticks until the backup asks for headers (bounded). */
static void fixture_until_request(struct fixture *fixture)
{
    for (uint32_t round = 0; round < 50 && fixture->header_requests == 0; round++) {
        helper_vsr_tick(&fixture->vsr);
    }
    assert_true(fixture->header_requests > 0);
}

static void test_gap_is_asked_for(void **state)
{
    struct fixture *fixture = *state;
    fixture_start_view(fixture);
    fixture_until_request(fixture);
    /* The top of the gap: the head's parent is known, its header is not. */
    assert_int_equal(fixture->request.u.request_headers.op_max, FIXTURE_HEAD - 1);
    assert_int_equal(fixture->request.u.request_headers.op_min, FIXTURE_HEAD - FIXTURE_BATCH);
}

static void test_forged_and_malformed_headers_are_refused(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_replica *replica = &fixture->vsr.replica;
    fixture_start_view(fixture);
    /* A well-formed prepare header at op HEAD-1 that is not the canonical one. */
    struct vsr_header forged = fixture->chain[FIXTURE_HEAD - 1];
    forged.u.prepare.timestamp++;
    vsr_header_seal(&forged, NULL, 0);
    fixture_headers(fixture, 0, &forged, VSR_HEADER_SIZE);
    assert_int_equal(replica->stats.headers_learned, 0);
    assert_null(vsr_replica_header(replica, FIXTURE_HEAD - 1));
    /* Not a whole number of headers: invalid, nothing learned. */
    uint64_t invalid = replica->stats.messages_invalid;
    uint8_t bytes[VSR_HEADER_SIZE + 8];
    memcpy(bytes, &fixture->chain[FIXTURE_HEAD - 1], VSR_HEADER_SIZE);
    memset(bytes + VSR_HEADER_SIZE, 0, 8);
    fixture_headers(fixture, 0, (const struct vsr_header *)(const void *)bytes, sizeof(bytes));
    assert_int_equal(replica->stats.messages_invalid, invalid + 1);
    /* A header that is not a prepare: invalid, nothing learned. */
    struct vsr_header other;
    vsr_header_init(&other, VSR_COMMAND_COMMIT, FIXTURE_CLUSTER, 0, 0, &fixture_group);
    vsr_header_seal(&other, NULL, 0);
    fixture_headers(fixture, 0, &other, VSR_HEADER_SIZE);
    assert_int_equal(replica->stats.messages_invalid, invalid + 2);
    /* The canonical header, but from another view: ignored. */
    fixture_headers(fixture, 3, &fixture->chain[FIXTURE_HEAD - 1], VSR_HEADER_SIZE);
    assert_int_equal(replica->stats.headers_learned, 0);
}

/* Headers op_max down to op_min, newest first, from replica 2 in view 0. */
static void fixture_headers_range(struct fixture *fixture, uint64_t op_max, uint64_t op_min)
{
    struct vsr_header body[FIXTURE_HEAD];
    uint32_t count = 0;
    for (uint64_t op = op_max; op >= op_min; op--) {
        body[count++] = fixture->chain[op];
    }
    fixture_headers(fixture, 0, body, count * VSR_HEADER_SIZE);
}

static void test_canonical_headers_are_learned_in_batches(void **state)
{
    struct fixture *fixture = *state;
    struct vsr_replica *replica = &fixture->vsr.replica;
    fixture_start_view(fixture);
    /* More headers than one message may carry: invalid, nothing learned. */
    uint64_t invalid = replica->stats.messages_invalid;
    fixture_headers_range(fixture, FIXTURE_HEAD - 1, 1);
    assert_int_equal(replica->stats.messages_invalid, invalid + 1);
    assert_int_equal(replica->stats.headers_learned, 0);
    /* One batch: each header checked against the parent of the one above it. */
    fixture_headers_range(fixture, FIXTURE_HEAD - 1, FIXTURE_HEAD - FIXTURE_BATCH);
    assert_int_equal(replica->stats.headers_learned, FIXTURE_BATCH);
    /* The rest, as the next request asks for it. */
    fixture_headers_range(fixture, FIXTURE_HEAD - FIXTURE_BATCH - 1, 1);
    assert_int_equal(replica->stats.headers_learned, FIXTURE_HEAD - 1);
    for (uint64_t op = 1; op < FIXTURE_HEAD; op++) {
        const struct vsr_header *known = vsr_replica_header(replica, op);
        assert_non_null(known);
        assert_true(known->checksum == fixture->chain[op].checksum);
    }
    /* Nothing left to ask headers for: the next request (if any) is not for this gap. */
    uint32_t requests = fixture->header_requests;
    for (uint32_t round = 0; round < 10; round++) {
        helper_vsr_tick(&fixture->vsr);
    }
    assert_int_equal(fixture->header_requests, requests);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gap_is_asked_for, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_forged_and_malformed_headers_are_refused,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_canonical_headers_are_learned_in_batches,
                                        fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
