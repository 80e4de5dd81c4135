/* Unit tests for node/metadata's client table (iggy-protocol.md §2.5): an Iggy client's
 * metadata op runs at most once per (client, request); a resend replays the first reply,
 * 59 once it aged out of the ring, and the same number with another checksum changes
 * nothing; long replies (a CreateTopic of many partitions) are replayed whole from the
 * replies ring until later long replies overwrite them; the watermark and the replies
 * survive a snapshot. */
#include "lib/error.h"
#include "node/metadata.h"
#include "proto/metadata.pb-c.h"

#include "tests/unit/helper_assert.h"
#include "tests/unit/helper_metadata.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint64_t op_last;
static uint8_t reply[METADATA_REPLY_SIZE_MAX];
static uint32_t reply_size;
static uint64_t session_sent; /* the session numbered ops name (0: unknown, not checked) */

enum { ROOT = 0, CLIENT = 77 };

static void init_ring(struct metadata *metadata, uint32_t replies_bytes)
{
    struct metadata_config config;
    metadata_config_defaults(&config);
    config.limits.clients_max = 8;
    config.limits.replies_bytes = replies_bytes;
    assert_int_equal(metadata_init(metadata, &config), 0);
}

static void init(struct metadata *metadata)
{
    init_ring(metadata, METADATA_REPLIES_BYTES_DEFAULT);
}

static uint32_t reply_u32_at(const uint8_t *bytes, uint32_t offset)
{
    assert_true(offset + 4 <= reply_size);
    return (uint32_t)bytes[offset] | (uint32_t)bytes[offset + 1] << 8 |
           (uint32_t)bytes[offset + 2] << 16 | (uint32_t)bytes[offset + 3] << 24;
}

static ProtobufCBinaryData text(const char *value)
{
    return (ProtobufCBinaryData){.len = strlen(value), .data = (uint8_t *)(uintptr_t)value};
}

/* Applies operation as the root user's client, numbered request (0: not numbered). */
static uint32_t apply(struct metadata *metadata, u128 client, uint64_t request, uint64_t checksum,
                      const Runnel__Metadata__MetadataOperation *operation)
{
    struct metadata_apply_context context = {.op = ++op_last,
                                             .timestamp_us = op_last * 1000000,
                                             .client = client,
                                             .user_id = ROOT,
                                             .request = request,
                                             .request_checksum = checksum,
                                             .session = request != 0 ? session_sent : 0};
    return helper_metadata_apply(metadata, &context, operation, reply, &reply_size);
}

static void register_client(struct metadata *metadata, u128 client)
{
    Runnel__Metadata__RegisterClient registered = RUNNEL__METADATA__REGISTER_CLIENT__INIT;
    registered.has_user_id = true;
    registered.user_id = ROOT;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_REGISTER_CLIENT;
    operation.register_client = &registered;
    assert_int_equal(apply(metadata, client, 0, 0, &operation), 0);
}

static void bootstrap_and_register(struct metadata *metadata, u128 client)
{
    Runnel__Metadata__Bootstrap bootstrap = RUNNEL__METADATA__BOOTSTRAP__INIT;
    bootstrap.username = text("iggy");
    bootstrap.password_hash = text("$argon2id$hash");
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_BOOTSTRAP;
    operation.bootstrap = &bootstrap;
    assert_int_equal(apply(metadata, 0, 0, 0, &operation), 0);
    register_client(metadata, client);
}

/* A bootstrapped state with CLIENT registered (ops from 1), its replies ring of
 * replies_bytes. */
static void setup_ring(struct metadata *metadata, uint32_t replies_bytes)
{
    init_ring(metadata, replies_bytes);
    op_last = 0;
    bootstrap_and_register(metadata, CLIENT);
}

static void setup(struct metadata *metadata)
{
    setup_ring(metadata, METADATA_REPLIES_BYTES_DEFAULT);
}

static uint32_t create_stream(struct metadata *metadata, u128 client, uint64_t request,
                              uint64_t checksum, const char *name)
{
    Runnel__Metadata__CreateStream create = RUNNEL__METADATA__CREATE_STREAM__INIT;
    create.name = text(name);
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_STREAM;
    operation.create_stream = &create;
    return apply(metadata, client, request, checksum, &operation);
}

/* Requests 1..count create streams "s<request>" (checksum 3 * request). */
static void create_streams(struct metadata *metadata, uint64_t count)
{
    char name[8];
    for (uint64_t request = 1; request <= count; request++) {
        snprintf(name, sizeof(name), "s%llu", (unsigned long long)request);
        assert_int_equal(create_stream(metadata, CLIENT, request, request * 3, name), 0);
    }
}

/* CreateTopic name with partitions in stream 0 (its reply: 4 + 72-byte header and name +
 * 40 bytes per partition). */
static uint32_t create_topic(struct metadata *metadata, u128 client, uint64_t request,
                             uint64_t checksum, const char *name, uint32_t partitions)
{
    Runnel__Metadata__Identifier stream = RUNNEL__METADATA__IDENTIFIER__INIT;
    stream.has_id = true;
    stream.id = 0;
    Runnel__Metadata__CreateTopic create = RUNNEL__METADATA__CREATE_TOPIC__INIT;
    create.stream = &stream;
    create.name = text(name);
    create.partitions_count = partitions;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOPIC;
    operation.create_topic = &create;
    return apply(metadata, client, request, checksum, &operation);
}

static uint32_t delete_stream(struct metadata *metadata, u128 client, uint64_t request,
                              uint32_t stream_id)
{
    Runnel__Metadata__Identifier stream = RUNNEL__METADATA__IDENTIFIER__INIT;
    stream.has_id = true;
    stream.id = stream_id;
    Runnel__Metadata__DeleteStream remove = RUNNEL__METADATA__DELETE_STREAM__INIT;
    remove.stream = &stream;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM;
    operation.delete_stream = &remove;
    return apply(metadata, client, request, 0, &operation);
}

static void test_resend_runs_once_and_replays_the_reply(void **state)
{
    (void)state;
    struct metadata metadata;
    setup(&metadata);
    assert_int_equal(create_stream(&metadata, CLIENT, 1, 0xAB, "s"), 0);
    uint8_t first[METADATA_REPLY_SIZE_MAX];
    uint32_t first_size = reply_size;
    memcpy(first, reply, reply_size);
    assert_int_equal(delete_stream(&metadata, CLIENT, 2, 0), 0);
    assert_null(metadata_stream_find(&metadata, (const uint8_t *)"s", 1));
    /* The create resent after its delete (answered 57, say): not run again, same reply. */
    assert_int_equal(create_stream(&metadata, CLIENT, 1, 0xAB, "s"), 0);
    assert_int_equal(reply_size, first_size);
    assert_memory_equal(reply, first, first_size);
    assert_null(metadata_stream_find(&metadata, (const uint8_t *)"s", 1));
    assert_int_equal(metadata.streams_count, 0);
    /* Unstamped (0) agrees with any checksum. */
    assert_int_equal(create_stream(&metadata, CLIENT, 1, 0, "s"), 0);
    assert_memory_equal(reply, first, first_size);
    /* The delete resent: its OK again, nothing deleted twice (a rejection would say 1009). */
    assert_int_equal(delete_stream(&metadata, CLIENT, 2, 0), 0);
    /* The same number with another body (checksum): 59, nothing runs. */
    assert_int_equal(create_stream(&metadata, CLIENT, 1, 0xCD, "other"),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    assert_null(metadata_stream_find(&metadata, (const uint8_t *)"other", 5));
    assert_int_equal(metadata_client_get(&metadata, CLIENT)->request_last, 2);
    /* Jumps are new requests; the numbers below a jump are then old. */
    assert_int_equal(create_stream(&metadata, CLIENT, 10, 0, "t"), 0);
    assert_int_equal(create_stream(&metadata, CLIENT, 5, 0, "u"),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    assert_null(metadata_stream_find(&metadata, (const uint8_t *)"u", 1));
    /* A rejection is a reply like any other: replayed, not run again. */
    assert_int_equal(create_stream(&metadata, CLIENT, 11, 0, "t"),
                     METADATA_STATUS_STREAM_NAME_EXISTS);
    assert_int_equal(delete_stream(&metadata, 0, 0, 0), 0); /* a server op, not numbered */
    assert_int_equal(create_stream(&metadata, CLIENT, 11, 0, "t"),
                     METADATA_STATUS_STREAM_NAME_EXISTS);
    assert_null(metadata_stream_find(&metadata, (const uint8_t *)"t", 1));
    /* Not numbered (request 0) or another client: no watermark applies. */
    assert_int_equal(create_stream(&metadata, CLIENT, 0, 0, "v"), 0);
    assert_int_equal(create_stream(&metadata, CLIENT, 0, 0, "v"),
                     METADATA_STATUS_STREAM_NAME_EXISTS);
    assert_int_equal(create_stream(&metadata, 78, 1, 0, "w"), 0); /* unregistered: runs */
    assert_int_equal(create_stream(&metadata, 78, 1, 0, "x"), 0);
    metadata_deinit(&metadata);
}

static void test_aged_out_and_sessions(void **state)
{
    (void)state;
    struct metadata metadata;
    setup(&metadata);
    create_streams(&metadata, METADATA_CLIENT_REPLIES + 2);
    uint32_t count = metadata.streams_count;
    /* Requests 1 and 2 aged out of the ring of 5: 59; 3..7 replayed. */
    assert_int_equal(create_stream(&metadata, CLIENT, 1, 0, "s1"),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    assert_int_equal(create_stream(&metadata, CLIENT, 2, 0, "s2"),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    for (uint64_t request = 3; request <= METADATA_CLIENT_REPLIES + 2; request++) {
        assert_int_equal(create_stream(&metadata, CLIENT, request, 0, "s1"), 0);
        assert_int_equal(reply_u32_at(reply, 4), (uint32_t)(request - 1)); /* stream id */
    }
    assert_int_equal(metadata.streams_count, count);
    /* A reply longer than the inline ones is kept in the replies ring: replayed whole. */
    char long_name[METADATA_CLIENT_REPLY_SIZE_MAX];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(create_stream(&metadata, CLIENT, 20, 0, long_name), 0);
    assert_true(reply_size > METADATA_CLIENT_REPLY_SIZE_MAX);
    uint8_t first[METADATA_REPLY_SIZE_MAX];
    uint32_t first_size = reply_size;
    memcpy(first, reply, reply_size);
    assert_int_equal(create_stream(&metadata, CLIENT, 20, 0, long_name), 0);
    assert_int_equal(reply_size, first_size);
    assert_memory_equal(reply, first, first_size);
    /* A CreateToken (its raw token never reaches apply): 59. */
    Runnel__Metadata__CreateToken token = RUNNEL__METADATA__CREATE_TOKEN__INIT;
    token.name = text("t");
    token.token_hash = text("hash");
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOKEN;
    operation.create_token = &token;
    assert_int_equal(apply(&metadata, CLIENT, 21, 0, &operation), 0);
    assert_int_equal(apply(&metadata, CLIENT, 21, 0, &operation),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    /* A new Register of the client starts its numbering again (request 1 is new). */
    Runnel__Metadata__RegisterClient registered = RUNNEL__METADATA__REGISTER_CLIENT__INIT;
    registered.has_user_id = true;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_REGISTER_CLIENT;
    operation.register_client = &registered;
    uint64_t old_session = metadata_client_get(&metadata, CLIENT)->session;
    assert_int_equal(apply(&metadata, CLIENT, 0, 0, &operation), 0);
    assert_int_equal(metadata_client_get(&metadata, CLIENT)->request_last, 0);
    /* A zombie of the old session (numbered 30 there) runs not: 40, the watermark stays. */
    session_sent = old_session;
    assert_int_equal(create_stream(&metadata, CLIENT, 30, 0, "zombie"),
                     METADATA_STATUS_UNAUTHENTICATED);
    assert_null(metadata_stream_find(&metadata, (const uint8_t *)"zombie", 6));
    assert_int_equal(metadata_client_get(&metadata, CLIENT)->request_last, 0);
    session_sent = metadata_client_get(&metadata, CLIENT)->session;
    assert_true(session_sent > old_session);
    assert_int_equal(create_stream(&metadata, CLIENT, 1, 0, "again"), 0);
    assert_non_null(metadata_stream_find(&metadata, (const uint8_t *)"again", 5));
    session_sent = 0;
    /* Logout releases the client with its replies; a resent logout is harmless. */
    Runnel__Metadata__LogoutClient logout = RUNNEL__METADATA__LOGOUT_CLIENT__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LOGOUT_CLIENT;
    operation.logout_client = &logout;
    assert_int_equal(apply(&metadata, CLIENT, 2, 0, &operation), 0);
    assert_null(metadata_client_get(&metadata, CLIENT));
    assert_int_equal(apply(&metadata, CLIENT, 2, 0, &operation), 0);
    metadata_deinit(&metadata);
}

/* Decodes bytes into restored (initialized) and checks it encodes the same bytes again. */
static void restore_same_bytes(struct metadata *restored, const uint8_t *bytes, size_t size)
{
    assert_int_equal(metadata_snapshot_decode(restored, bytes, size), 0);
    uint8_t *again = NULL;
    size_t again_size = helper_metadata_snapshot(restored, &again);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, bytes, size);
    free(again);
}

static void test_survives_snapshot(void **state)
{
    (void)state;
    struct metadata live, restored;
    setup(&live);
    create_streams(&live, METADATA_CLIENT_REPLIES + 1);
    assert_int_equal(delete_stream(&live, CLIENT, 7, 0), 0);
    uint8_t *bytes = NULL;
    size_t size = helper_metadata_snapshot(&live, &bytes);
    init(&restored);
    restore_same_bytes(&restored, bytes, size);
    assert_int_equal(metadata_client_get(&restored, CLIENT)->request_last, 7);
    /* Both go on alike: the create of stream 0 resent after its delete is not run. */
    uint64_t op = op_last;
    struct metadata *both[] = {&live, &restored};
    uint8_t replies[2][METADATA_REPLY_SIZE_MAX];
    for (uint32_t index = 0; index < 2; index++) {
        op_last = op;
        assert_int_equal(create_stream(both[index], CLIENT, 3, 9, "s3"), 0);
        memcpy(replies[index], reply, reply_size);
        assert_int_equal(reply_u32_at(reply, 4), 2);
        assert_int_equal(create_stream(both[index], CLIENT, 1, 3, "s1"),
                         METADATA_STATUS_REQUEST_ALREADY_APPLIED); /* aged out (3..7 kept) */
        assert_int_equal(create_stream(both[index], CLIENT, 6, 99, "s6"),
                         METADATA_STATUS_REQUEST_ALREADY_APPLIED); /* checksum differs */
        assert_int_equal(both[index]->streams_count, 5);           /* 6 created, 1 deleted */
    }
    assert_memory_equal(replies[0], replies[1], 8);
    /* Untrusted: a reply above the watermark, or out of order, is refused. */
    Runnel__Metadata__Snapshot *decoded = runnel__metadata__snapshot__unpack(NULL, size, bytes);
    assert_non_null(decoded);
    assert_int_equal(decoded->n_clients, 1);
    decoded->clients[0]->request_last = 3;
    size_t bad_size = runnel__metadata__snapshot__pack(decoded, bytes);
    assert_int_equal(metadata_snapshot_decode(&restored, bytes, bad_size), -RUNNEL_EFORMAT);
    decoded->clients[0]->request_last = 7;
    Runnel__Metadata__SnapshotClientReply *swap = decoded->clients[0]->replies[0];
    decoded->clients[0]->replies[0] = decoded->clients[0]->replies[1];
    decoded->clients[0]->replies[1] = swap;
    bad_size = runnel__metadata__snapshot__pack(decoded, bytes);
    assert_int_equal(metadata_snapshot_decode(&restored, bytes, bad_size), -RUNNEL_EFORMAT);
    runnel__metadata__snapshot__free_unpacked(decoded, NULL);
    free(bytes);
    metadata_deinit(&live);
    metadata_deinit(&restored);
}

/* A CreateTopic of 30 partitions replies 1,537 bytes (R): a ring of 3.5 R. */
enum { OTHER = 78, RING_SMALL = 5400 };

static uint8_t kept_reply[METADATA_REPLY_SIZE_MAX];
static uint32_t kept_reply_size;

static void keep_reply(void)
{
    memcpy(kept_reply, reply, reply_size);
    kept_reply_size = reply_size;
}

static void assert_reply_is_kept(void)
{
    assert_int_equal(reply_size, kept_reply_size);
    assert_memory_equal(reply, kept_reply, kept_reply_size);
}

/* A stream, a CreateTopic of 30 partitions (request 2), its resends before and after the
 * stream's delete (request 3). Leaves the topic's first reply in kept_reply. */
static void long_reply_ops(struct metadata *metadata)
{
    assert_int_equal(create_stream(metadata, CLIENT, 1, 0, "s"), 0);
    assert_int_equal(create_topic(metadata, CLIENT, 2, 0x22, "t", 30), 0);
    assert_true(reply_size > 30 * 40);
    keep_reply();
    assert_int_equal(create_topic(metadata, CLIENT, 2, 0x22, "t", 30), 0);
    assert_reply_is_kept();
    assert_int_equal(metadata->streams[0].topics_count, 1);
    assert_int_equal(delete_stream(metadata, CLIENT, 3, 0), 0);
    assert_int_equal(create_topic(metadata, CLIENT, 2, 0x22, "t", 30), 0);
    assert_reply_is_kept(); /* not run again: the stream is gone, no 1009 */
    assert_int_equal(metadata->streams_count, 0);
    assert_int_equal(create_topic(metadata, CLIENT, 2, 0x33, "t", 30),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED); /* another body */
}

static void test_long_reply_replayed_whole(void **state)
{
    (void)state;
    struct metadata metadata, copy;
    setup(&metadata);
    long_reply_ops(&metadata);
    assert_true(metadata.replies.head > METADATA_CLIENT_REPLY_SIZE_MAX);
    /* A published copy (no ring) replaying the same ops keeps the same bookkeeping. */
    struct metadata_config config = metadata.config;
    assert_int_equal(metadata_init_copy(&copy, &config), 0);
    assert_null(copy.replies.bytes);
    op_last = 0;
    bootstrap_and_register(&copy, CLIENT);
    assert_int_equal(create_stream(&copy, CLIENT, 1, 0, "s"), 0);
    assert_int_equal(create_topic(&copy, CLIENT, 2, 0x22, "t", 30), 0);
    assert_int_equal(create_topic(&copy, CLIENT, 2, 0x22, "t", 30),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED); /* moot: never sent */
    assert_int_equal(delete_stream(&copy, CLIENT, 3, 0), 0);
    assert_int_equal(copy.replies.head, metadata.replies.head);
    assert_memory_equal(copy.client_replies, metadata.client_replies,
                        sizeof(metadata.client_replies[0]) * config.limits.clients_max *
                            METADATA_CLIENT_REPLIES);
    metadata_copy(&copy, &metadata); /* the tables, not the ring */
    assert_null(copy.replies.bytes);
    assert_int_equal(copy.replies.head, metadata.replies.head);
    metadata_deinit(&copy);
    metadata_deinit(&metadata);
    /* No ring (limits.replies_bytes 0), or a reply longer than the ring: not kept, 59. */
    setup_ring(&metadata, 0);
    assert_int_equal(create_stream(&metadata, CLIENT, 1, 0, "s"), 0);
    assert_int_equal(create_topic(&metadata, CLIENT, 2, 0, "t", 30), 0);
    assert_int_equal(create_topic(&metadata, CLIENT, 2, 0, "t", 30),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    assert_int_equal(metadata.replies.head, 0);
    metadata_deinit(&metadata);
    setup_ring(&metadata, RING_SMALL);
    assert_int_equal(create_stream(&metadata, CLIENT, 1, 0, "s"), 0);
    assert_int_equal(create_topic(&metadata, CLIENT, 2, 0, "t", 200), 0);
    assert_true(reply_size > RING_SMALL);
    assert_int_equal(create_topic(&metadata, CLIENT, 2, 0, "t", 200),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    assert_int_equal(metadata.streams[0].topics_count, 1);
    metadata_deinit(&metadata);
}

static uint8_t other_replies[3][METADATA_REPLY_SIZE_MAX]; /* OTHER's requests 1..3 */
static uint32_t other_sizes[3];

/* In a ring of RING_SMALL bytes: CLIENT's topic "t" (request 2), then OTHER's topics of
 * requests 1, 2, 3 until "t" is overwritten; OTHER's request 3 wraps. */
static void overwrite_ops(struct metadata *metadata)
{
    register_client(metadata, OTHER);
    assert_int_equal(create_stream(metadata, CLIENT, 1, 0, "s"), 0);
    assert_int_equal(create_topic(metadata, CLIENT, 2, 0, "t", 30), 0);
    keep_reply();
    const uint64_t position = metadata->replies.head - reply_size;
    const char *names[] = {"u", "v", "w"};
    for (uint64_t request = 1; request <= 3; request++) {
        assert_true(metadata->replies.head - position <= RING_SMALL);
        assert_int_equal(create_topic(metadata, CLIENT, 2, 0, "t", 30), 0);
        assert_reply_is_kept(); /* not overwritten yet */
        assert_int_equal(create_topic(metadata, OTHER, request, 0, names[request - 1], 30), 0);
        memcpy(other_replies[request - 1], reply, reply_size);
        other_sizes[request - 1] = reply_size;
    }
    assert_true(metadata->replies.head - position > RING_SMALL);
    assert_true(reply_size == 1537 && (metadata->replies.head - 1) % RING_SMALL < reply_size);
}

static void assert_after_overwrite(struct metadata *metadata)
{
    assert_int_equal(create_topic(metadata, CLIENT, 2, 0, "t", 30),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    for (uint64_t request = 1; request <= 3; request++) {
        assert_int_equal(create_topic(metadata, OTHER, request, 0, "x", 30), 0);
        assert_int_equal(reply_size, other_sizes[request - 1]);
        assert_memory_equal(reply, other_replies[request - 1], reply_size);
    }
    assert_int_equal(metadata->streams[0].topics_count, 4);
}

/* overwrite_ops on live (its ring of RING_SMALL), its snapshot (*bytes_out, freed by the
 * caller) and restored initialized alike. */
static size_t overwritten_snapshot(struct metadata *live, struct metadata *restored,
                                   uint8_t **bytes_out)
{
    setup_ring(live, RING_SMALL);
    overwrite_ops(live);
    init_ring(restored, RING_SMALL);
    return helper_metadata_snapshot(live, bytes_out);
}

static void test_ring_overwrite(void **state)
{
    (void)state;
    struct metadata metadata;
    setup_ring(&metadata, RING_SMALL);
    overwrite_ops(&metadata);
    assert_after_overwrite(&metadata);
    /* One more long reply overwrites OTHER's request 1 (the ring, not its 5 replies, drops
     * it); the one that wraps reads back whole. */
    assert_int_equal(create_topic(&metadata, CLIENT, 3, 0, "y", 30), 0);
    assert_int_equal(create_topic(&metadata, OTHER, 1, 0, "u", 30),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    assert_int_equal(create_topic(&metadata, OTHER, 3, 0, "x", 30), 0);
    assert_memory_equal(reply, other_replies[2], other_sizes[2]);
    assert_int_equal(metadata.streams[0].topics_count, 5);
    metadata_deinit(&metadata);
}

static void test_ring_survives_snapshot(void **state)
{
    (void)state;
    struct metadata live, restored, smaller;
    uint8_t *bytes = NULL;
    size_t size = overwritten_snapshot(&live, &restored, &bytes);
    restore_same_bytes(&restored, bytes, size);
    assert_int_equal(restored.replies.head, live.replies.head);
    /* Both go on alike: the same replies replayed, the same 59s, the same next overwrite. */
    uint64_t op = op_last;
    struct metadata *both[] = {&live, &restored};
    for (uint32_t index = 0; index < 2; index++) {
        op_last = op;
        assert_after_overwrite(both[index]);
        assert_int_equal(create_topic(both[index], CLIENT, 3, 0, "y", 30), 0);
        assert_int_equal(create_topic(both[index], OTHER, 1, 0, "x", 30),
                         METADATA_STATUS_REQUEST_ALREADY_APPLIED); /* overwritten now */
        assert_int_equal(create_topic(both[index], OTHER, 3, 0, "x", 30), 0);
        assert_memory_equal(reply, other_replies[2], other_sizes[2]);
    }
    uint8_t *live_bytes = NULL;
    size_t live_size = helper_metadata_snapshot(&live, &live_bytes);
    restore_same_bytes(&restored, live_bytes, live_size);
    free(live_bytes);
    /* A node with a smaller ring keeps those its ring still holds (OTHER's request 3). */
    init_ring(&smaller, other_sizes[2] + 1);
    assert_int_equal(metadata_snapshot_decode(&smaller, bytes, size), 0);
    op_last = op;
    assert_int_equal(create_topic(&smaller, OTHER, 3, 0, "x", 30), 0);
    assert_memory_equal(reply, other_replies[2], other_sizes[2]);
    assert_int_equal(create_topic(&smaller, OTHER, 2, 0, "x", 30),
                     METADATA_STATUS_REQUEST_ALREADY_APPLIED);
    metadata_deinit(&smaller);
    free(bytes);
    metadata_deinit(&live);
    metadata_deinit(&restored);
}

static void test_ring_snapshot_untrusted(void **state)
{
    (void)state;
    struct metadata live, restored;
    uint8_t *bytes = NULL;
    size_t size = overwritten_snapshot(&live, &restored, &bytes);
    /* A position past the head, or a ring reply short enough to be inline: refused. */
    Runnel__Metadata__Snapshot *decoded = runnel__metadata__snapshot__unpack(NULL, size, bytes);
    assert_non_null(decoded);
    Runnel__Metadata__SnapshotClientReply *held = NULL;
    for (size_t client = 0; client < decoded->n_clients; client++) {
        for (size_t index = 0; index < decoded->clients[client]->n_replies; index++) {
            if (decoded->clients[client]->replies[index]->has_position) {
                held = decoded->clients[client]->replies[index];
            }
        }
    }
    assert_non_null(held);
    held->position = decoded->replies_head;
    size_t bad_size = runnel__metadata__snapshot__pack(decoded, bytes);
    assert_int_equal(metadata_snapshot_decode(&restored, bytes, bad_size), -RUNNEL_EFORMAT);
    held->position = decoded->replies_head - held->reply.len;
    held->reply.len = METADATA_CLIENT_REPLY_SIZE_MAX;
    bad_size = runnel__metadata__snapshot__pack(decoded, bytes);
    assert_int_equal(metadata_snapshot_decode(&restored, bytes, bad_size), -RUNNEL_EFORMAT);
    held->has_position = false;
    held->reply.len = METADATA_CLIENT_REPLY_SIZE_MAX + 1;
    bad_size = runnel__metadata__snapshot__pack(decoded, bytes);
    assert_int_equal(metadata_snapshot_decode(&restored, bytes, bad_size), -RUNNEL_EFORMAT);
    /* An older snapshot (no head, no positions, inline replies only) still loads. */
    held->reply.len = METADATA_CLIENT_REPLY_SIZE_MAX;
    decoded->has_replies_head = false;
    for (size_t client = 0; client < decoded->n_clients; client++) {
        for (size_t index = 0; index < decoded->clients[client]->n_replies; index++) {
            Runnel__Metadata__SnapshotClientReply *entry = decoded->clients[client]->replies[index];
            entry->has_position = false;
            if (entry->has_reply && entry->reply.len > METADATA_CLIENT_REPLY_SIZE_MAX) {
                entry->has_reply = false;
            }
        }
    }
    bad_size = runnel__metadata__snapshot__pack(decoded, bytes);
    assert_int_equal(metadata_snapshot_decode(&restored, bytes, bad_size), 0);
    assert_int_equal(restored.replies.head, 0);
    runnel__metadata__snapshot__free_unpacked(decoded, NULL);
    free(bytes);
    metadata_deinit(&live);
    metadata_deinit(&restored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resend_runs_once_and_replays_the_reply),
        cmocka_unit_test(test_aged_out_and_sessions),
        cmocka_unit_test(test_survives_snapshot),
        cmocka_unit_test(test_long_reply_replayed_whole),
        cmocka_unit_test(test_ring_overwrite),
        cmocka_unit_test(test_ring_survives_snapshot),
        cmocka_unit_test(test_ring_snapshot_untrusted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
