/* Unit tests for the Iggy command codecs (proto/iggy_streams, iggy_groups, iggy_messages,
 * iggy_users, iggy_system): every request body and reply structure round-trips
 * encode -> decode with its fields intact; every truncation and one extra byte are
 * rejected; the create replies match hand-built bytes; §5.5's golden SendMessages body
 * decodes and admits; MessagesKey/Balanced/consumer ids follow §7. */
#include "lib/error.h"
#include "lib/hash.h"
#include "proto/iggy_command.h"
#include "proto/iggy_groups.h"
#include "proto/iggy_messages.h"
#include "proto/iggy_streams.h"
#include "proto/iggy_system.h"
#include "proto/iggy_users.h"
#include "proto/iggy_wire.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { BUFFER_SIZE = 4096 };

/* Shared field values. */
static struct iggy_identifier stream_name(void)
{
    return iggy_identifier_string(iggy_bytes_from_string("bench-stream-1"));
}

static struct iggy_bytes text(const char *value)
{
    return iggy_bytes_from_string(value);
}

/* Decodes a body: the request decoders, and reply pieces read to the end. check_fields:
 * the body is the one build produced, so decoded fields must equal the built ones. */
typedef uint32_t (*build_fn)(struct iggy_writer *writer);
typedef int (*decode_fn)(const uint8_t *body, uint32_t body_size, bool check_fields);

struct codec_case {
    const char *name;
    build_fn build;
    decode_fn decode;
};

/* --- requests ---------------------------------------------------------------------- */

static uint32_t build_identifiers(struct iggy_writer *writer)
{
    struct iggy_identifier ids[3] = {stream_name(), iggy_identifier_numeric(0),
                                     iggy_identifier_numeric(3)};
    (void)iggy_command_identifiers_encode(writer, 3, ids);
    return writer->size;
}

static int decode_identifiers(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_identifier ids[3];
    int result = iggy_command_identifiers_decode(body, size, 3, ids);
    if (check_fields) {
        struct iggy_identifier expected = stream_name();
        assert_true(iggy_identifier_is_equal(&ids[0], &expected));
        assert_int_equal(ids[2].numeric, 3);
    }
    return result;
}

static uint32_t build_stream_create(struct iggy_writer *writer)
{
    struct iggy_stream_create create = {text("bench-stream-1"), {NULL, 0}};
    (void)iggy_streams_create_encode(writer, &create);
    return writer->size;
}

static int decode_stream_create(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_stream_create create;
    int result = iggy_streams_create_decode(body, size, &create);
    if (check_fields) {
        assert_true(iggy_bytes_is_equal(create.name, text("bench-stream-1")));
        assert_int_equal(create.options.size, 0);
    }
    return result;
}

static uint32_t build_stream_update(struct iggy_writer *writer)
{
    struct iggy_stream_update update = {iggy_identifier_numeric(4), text("renamed"), {NULL, 0}};
    (void)iggy_streams_update_encode(writer, &update);
    return writer->size;
}

static int decode_stream_update(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_stream_update update;
    int result = iggy_streams_update_decode(body, size, &update);
    if (check_fields) {
        assert_int_equal(update.stream.numeric, 4);
        assert_true(iggy_bytes_is_equal(update.name, text("renamed")));
    }
    return result;
}

static uint32_t build_topic_create(struct iggy_writer *writer)
{
    struct iggy_topic_create create = {stream_name(), 24, text("topic-1"), {NULL, 0}};
    (void)iggy_streams_topic_create_encode(writer, &create);
    return writer->size;
}

static int decode_topic_create(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_topic_create create;
    int result = iggy_streams_topic_create_decode(body, size, &create);
    if (check_fields) {
        assert_int_equal(create.partition_count, 24);
        assert_true(iggy_bytes_is_equal(create.name, text("topic-1")));
    }
    return result;
}

static uint32_t build_topic_update(struct iggy_writer *writer)
{
    struct iggy_topic_update update = {
        stream_name(), iggy_identifier_numeric(1), text("t2"), {NULL, 0}};
    (void)iggy_streams_topic_update_encode(writer, &update);
    return writer->size;
}

static int decode_topic_update(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_topic_update update;
    int result = iggy_streams_topic_update_decode(body, size, &update);
    if (check_fields) {
        assert_int_equal(update.topic.numeric, 1);
        assert_true(iggy_bytes_is_equal(update.name, text("t2")));
    }
    return result;
}

static uint32_t build_partitions(struct iggy_writer *writer)
{
    struct iggy_partitions_change change = {stream_name(), iggy_identifier_numeric(0), 7};
    (void)iggy_streams_partitions_encode(writer, &change);
    return writer->size;
}

static int decode_partitions(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_partitions_change change;
    int result = iggy_streams_partitions_decode(body, size, &change);
    if (check_fields) {
        assert_int_equal(change.partition_count, 7);
    }
    return result;
}

static uint32_t build_segments(struct iggy_writer *writer)
{
    struct iggy_segments_delete segments = {stream_name(), iggy_identifier_numeric(0), 2, 9};
    (void)iggy_streams_segments_encode(writer, &segments);
    return writer->size;
}

static int decode_segments(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_segments_delete segments;
    int result = iggy_streams_segments_decode(body, size, &segments);
    if (check_fields) {
        assert_int_equal(segments.partition_id, 2);
        assert_int_equal(segments.segment_count, 9);
    }
    return result;
}

static uint32_t build_group_create(struct iggy_writer *writer)
{
    struct iggy_group_create create = {stream_name(), iggy_identifier_numeric(0), text("cg-1")};
    (void)iggy_groups_create_encode(writer, &create);
    return writer->size;
}

static int decode_group_create(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_group_create create;
    int result = iggy_groups_create_decode(body, size, &create);
    if (check_fields) {
        assert_true(iggy_bytes_is_equal(create.name, text("cg-1")));
    }
    return result;
}

static const uint8_t fake_batch[] = {0xB0, 0xB1, 0xB2};

static uint32_t build_send(struct iggy_writer *writer)
{
    struct iggy_send_messages send;
    memset(&send, 0, sizeof(send));
    send.stream = stream_name();
    send.topic = iggy_identifier_string(text("topic-1"));
    send.partitioning.kind = IGGY_PARTITIONING_MESSAGES_KEY;
    send.partitioning.key = text("user-123");
    send.message_count = 1000;
    send.batch.bytes = fake_batch;
    send.batch.size = sizeof(fake_batch);
    (void)iggy_messages_send_encode(writer, &send);
    return writer->size;
}

/* The send body's "batch" runs to the end, so only the metadata part is strict: the
 * harness cuts inside the metadata (the batch is not checked here). */
static int decode_send(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_send_messages send;
    int result = iggy_messages_send_decode(body, size, &send);
    if (check_fields) {
        assert_int_equal(send.message_count, 1000);
        assert_true(iggy_bytes_is_equal(send.partitioning.key, text("user-123")));
        assert_int_equal(send.batch.size, sizeof(fake_batch));
        assert_memory_equal(send.batch.bytes, fake_batch, sizeof(fake_batch));
    }
    if (result == 0 && size < 4 + 16 + 9 + 10 + 4 + sizeof(fake_batch)) {
        result = -RUNNEL_ETRUNCATED; /* a cut batch is the batch module's to reject */
    }
    return result;
}

static uint32_t build_poll(struct iggy_writer *writer)
{
    struct iggy_poll_messages poll;
    memset(&poll, 0, sizeof(poll));
    poll.consumer.kind = IGGY_CONSUMER_GROUP;
    poll.consumer.id = iggy_identifier_numeric(0);
    poll.stream = stream_name();
    poll.topic = iggy_identifier_string(text("topic-1"));
    poll.partition.is_set = true;
    poll.partition.partition_id = 5;
    poll.strategy.kind = IGGY_POLLING_OFFSET;
    poll.strategy.value = 123456;
    poll.count = 1000;
    poll.auto_commit = true;
    (void)iggy_messages_poll_encode(writer, &poll);
    return writer->size;
}

static int decode_poll(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_poll_messages poll;
    int result = iggy_messages_poll_decode(body, size, &poll);
    if (check_fields) {
        assert_int_equal(poll.consumer.kind, IGGY_CONSUMER_GROUP);
        assert_int_equal(poll.partition.partition_id, 5);
        assert_true(poll.strategy.value == 123456);
        assert_int_equal(poll.count, 1000);
        assert_true(poll.auto_commit);
    }
    return result;
}

static uint32_t build_flush(struct iggy_writer *writer)
{
    struct iggy_flush_messages flush = {stream_name(), iggy_identifier_numeric(0), 3, true};
    (void)iggy_messages_flush_encode(writer, &flush);
    return writer->size;
}

static int decode_flush(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_flush_messages flush;
    int result = iggy_messages_flush_decode(body, size, &flush);
    if (check_fields) {
        assert_int_equal(flush.partition_id, 3);
        assert_true(flush.fsync);
    }
    return result;
}

static struct iggy_consumer_offset offset_value(void)
{
    struct iggy_consumer_offset offset;
    memset(&offset, 0, sizeof(offset));
    offset.consumer.kind = IGGY_CONSUMER_SINGLE;
    offset.consumer.id = iggy_identifier_string(text("consumer-a"));
    offset.stream = stream_name();
    offset.topic = iggy_identifier_numeric(0);
    offset.partition.is_set = true;
    offset.partition.partition_id = 1;
    offset.offset = 77;
    offset.ack = IGGY_ACK_NONE;
    return offset;
}

static uint32_t build_offset_store(struct iggy_writer *writer)
{
    struct iggy_consumer_offset offset = offset_value();
    (void)iggy_messages_offset_encode(IGGY_COMMAND_OFFSET_STORE, writer, &offset);
    return writer->size;
}

static int decode_offset_store(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_consumer_offset offset;
    int result = iggy_messages_offset_decode(IGGY_COMMAND_OFFSET_STORE, body, size, &offset);
    if (check_fields) {
        assert_true(offset.offset == 77);
        assert_int_equal(offset.ack, IGGY_ACK_NONE);
        assert_true(iggy_bytes_is_equal(offset.consumer.id.name, text("consumer-a")));
    }
    return result;
}

static uint32_t build_offset_get(struct iggy_writer *writer)
{
    struct iggy_consumer_offset offset = offset_value();
    (void)iggy_messages_offset_encode(IGGY_COMMAND_OFFSET_GET, writer, &offset);
    return writer->size;
}

static int decode_offset_get(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_consumer_offset offset;
    int result = iggy_messages_offset_decode(IGGY_COMMAND_OFFSET_GET, body, size, &offset);
    if (check_fields) {
        assert_int_equal(offset.partition.partition_id, 1);
    }
    return result;
}

static uint32_t build_offset_delete(struct iggy_writer *writer)
{
    struct iggy_consumer_offset offset = offset_value();
    (void)iggy_messages_offset_encode(IGGY_COMMAND_OFFSET_DELETE, writer, &offset);
    return writer->size;
}

static int decode_offset_delete(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_consumer_offset offset;
    int result = iggy_messages_offset_decode(IGGY_COMMAND_OFFSET_DELETE, body, size, &offset);
    if (check_fields) {
        assert_int_equal(offset.ack, IGGY_ACK_NONE);
    }
    return result;
}

static const struct iggy_topic_permissions fixture_topics[1] = {{2, {true, true, false, false}}};
static const struct iggy_stream_permissions fixture_streams[1] = {
    {1, {false, true, false, true, false, true}, fixture_topics, 1}};

static struct iggy_permissions permissions_value(void)
{
    struct iggy_permissions permissions;
    memset(&permissions, 0, sizeof(permissions));
    permissions.global[IGGY_PERMISSION_READ_SERVERS] = true;
    permissions.streams = fixture_streams;
    permissions.stream_count = 1;
    return permissions;
}

static uint32_t build_user_create(struct iggy_writer *writer)
{
    struct iggy_user_create create;
    memset(&create, 0, sizeof(create));
    create.username = text("alice");
    create.password = text("secret");
    create.status = IGGY_USER_ACTIVE;
    create.has_permissions = true;
    create.permissions = permissions_value();
    (void)iggy_users_create_encode(writer, &create);
    return writer->size;
}

static int decode_user_create(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_user_create create;
    int result = iggy_users_create_decode(body, size, &create);
    if (check_fields) {
        assert_true(iggy_bytes_is_equal(create.password, text("secret")));
        assert_true(create.has_permissions);
        assert_int_equal(create.permissions.stream_count, 1);
        assert_true(create.permissions.global[IGGY_PERMISSION_READ_SERVERS]);
    }
    return result;
}

static uint32_t build_user_update(struct iggy_writer *writer)
{
    struct iggy_user_update update;
    memset(&update, 0, sizeof(update));
    update.user = iggy_identifier_numeric(1);
    update.has_username = true;
    update.username = text("bob");
    update.has_status = true;
    update.status = IGGY_USER_INACTIVE;
    (void)iggy_users_update_encode(writer, &update);
    return writer->size;
}

static int decode_user_update(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_user_update update;
    int result = iggy_users_update_decode(body, size, &update);
    if (check_fields) {
        assert_true(update.has_username && update.has_status);
        assert_int_equal(update.status, IGGY_USER_INACTIVE);
    }
    return result;
}

static uint32_t build_user_permissions(struct iggy_writer *writer)
{
    struct iggy_user_permissions update;
    memset(&update, 0, sizeof(update));
    update.user = iggy_identifier_string(text("alice"));
    update.has_permissions = true;
    update.permissions = permissions_value();
    (void)iggy_users_permissions_encode(writer, &update);
    return writer->size;
}

static int decode_user_permissions(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_user_permissions update;
    int result = iggy_users_permissions_decode(body, size, &update);
    if (check_fields) {
        assert_true(update.has_permissions);
        assert_int_equal(update.permissions.stream_bytes.size, 12 + 9);
    }
    return result;
}

static uint32_t build_user_password(struct iggy_writer *writer)
{
    struct iggy_user_password change = {iggy_identifier_numeric(0), text("old"), text("new!")};
    (void)iggy_users_password_encode(writer, &change);
    return writer->size;
}

static int decode_user_password(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_user_password change;
    int result = iggy_users_password_decode(body, size, &change);
    if (check_fields) {
        assert_true(iggy_bytes_is_equal(change.new_password, text("new!")));
    }
    return result;
}

static uint32_t build_pat_create(struct iggy_writer *writer)
{
    struct iggy_pat_create create = {text("ci-token"), UINT64_MAX};
    (void)iggy_users_pat_create_encode(writer, &create);
    return writer->size;
}

static int decode_pat_create(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_pat_create create;
    int result = iggy_users_pat_create_decode(body, size, &create);
    if (check_fields) {
        assert_true(create.expiry_us == UINT64_MAX);
    }
    return result;
}

static uint32_t build_pat_delete(struct iggy_writer *writer)
{
    (void)iggy_users_pat_delete_encode(writer, text("ci-token"));
    return writer->size;
}

static int decode_pat_delete(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_bytes name;
    int result = iggy_users_pat_delete_decode(body, size, &name);
    if (check_fields) {
        assert_true(iggy_bytes_is_equal(name, text("ci-token")));
    }
    return result;
}

static uint32_t build_snapshot(struct iggy_writer *writer)
{
    static const uint8_t types[] = {1, 2, 3};
    struct iggy_snapshot_request request = {2, {types, 3}};
    (void)iggy_system_snapshot_encode(writer, &request);
    return writer->size;
}

static int decode_snapshot(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_snapshot_request request;
    int result = iggy_system_snapshot_decode(body, size, &request);
    if (check_fields) {
        assert_int_equal(request.types.size, 3);
    }
    return result;
}

static uint32_t build_client_get(struct iggy_writer *writer)
{
    (void)iggy_system_client_get_encode(writer, 42);
    return writer->size;
}

static int decode_client_get(const uint8_t *body, uint32_t size, bool check_fields)
{
    uint32_t client_id = 0;
    int result = iggy_system_client_get_decode(body, size, &client_id);
    if (check_fields) {
        assert_int_equal(client_id, 42);
    }
    return result;
}

static uint32_t build_options_describe(struct iggy_writer *writer)
{
    (void)iggy_system_options_describe_encode(writer, IGGY_OPTIONS_SCOPE_TOPIC);
    return writer->size;
}

static int decode_options_describe(const uint8_t *body, uint32_t size, bool check_fields)
{
    uint8_t scope = 0;
    int result = iggy_system_options_describe_decode(body, size, &scope);
    if (check_fields) {
        assert_int_equal(scope, IGGY_OPTIONS_SCOPE_TOPIC);
    }
    return result;
}

/* --- reply structures -------------------------------------------------------------- */

static struct iggy_bytes bench_options(void)
{
    static const uint8_t block[] = {0x02, 0x0e, 0x00, 0x00, 0x00, 'm',  'e',  's',
                                    's',  'a',  'g',  'e',  '_',  'e',  'x',  'p',
                                    'i',  'r',  'y',  0x0c, 0x08, 0x00, 0x00, 0x00,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct iggy_bytes slice = {block, sizeof(block)};
    return slice;
}

static uint32_t build_stream_info(struct iggy_writer *writer)
{
    struct iggy_stream_info info = {7, 1000, 2, 300, 40, text("s"), bench_options()};
    (void)iggy_streams_stream_encode(writer, &info);
    return writer->size;
}

static int decode_stream_info(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_stream_info info;
    iggy_reader_init(&reader, body, size);
    (void)iggy_streams_stream_decode(&reader, &info);
    if (check_fields) {
        assert_int_equal(info.id, 7);
        assert_int_equal(info.topic_count, 2);
        assert_int_equal(info.options.size, bench_options().size);
    }
    return iggy_reader_finish(&reader);
}

static uint32_t build_topic_info(struct iggy_writer *writer)
{
    struct iggy_topic_info info = {
        1, 2, 1, UINT64_MAX, 1, UINT64_MAX, 0, 0, text("topic-1"), bench_options(), {NULL, 0}};
    struct iggy_partition_info partition = {0, 2, 1, 0, 0, 0};
    (void)iggy_streams_topic_encode(writer, &info);
    (void)iggy_streams_partition_encode(writer, &partition);
    return writer->size;
}

static int decode_topic_info(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_topic_info info;
    struct iggy_partition_info partition;
    iggy_reader_init(&reader, body, size);
    (void)iggy_streams_topic_decode(&reader, &info);
    (void)iggy_streams_partition_decode(&reader, &partition);
    if (check_fields) {
        assert_true(info.message_expiry_us == UINT64_MAX);
        assert_int_equal(info.options_derived.size, 0);
        assert_int_equal(partition.segment_count, 1);
    }
    return iggy_reader_finish(&reader);
}

static const uint32_t member_partitions[3] = {0, 2, 4};

static uint32_t build_group_details(struct iggy_writer *writer)
{
    struct iggy_group_info group = {3, 6, 1, text("cg-1")};
    struct iggy_group_member member = {0, 3, member_partitions, {NULL, 0}};
    (void)iggy_groups_group_encode(writer, &group);
    (void)iggy_groups_member_encode(writer, &member);
    return writer->size;
}

static int decode_group_details(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_group_info group;
    struct iggy_group_member member;
    iggy_reader_init(&reader, body, size);
    (void)iggy_groups_group_decode(&reader, &group);
    (void)iggy_groups_member_decode(&reader, &member);
    if (check_fields) {
        assert_int_equal(group.member_count, 1);
        assert_int_equal(member.partition_count, 3);
        assert_int_equal(iggy_groups_partition_at(member.partition_bytes, 2), 4);
    }
    return iggy_reader_finish(&reader);
}

static uint32_t build_sync(struct iggy_writer *writer)
{
    struct iggy_group_sync sync = {9, 3, member_partitions, {NULL, 0}};
    (void)iggy_groups_sync_encode(writer, &sync);
    return writer->size;
}

static int decode_sync(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_group_sync sync;
    iggy_reader_init(&reader, body, size);
    (void)iggy_groups_sync_decode(&reader, &sync);
    if (check_fields) {
        assert_true(sync.generation == 9);
        assert_int_equal(iggy_groups_partition_at(sync.partition_bytes, 1), 2);
    }
    return iggy_reader_finish(&reader);
}

static uint32_t build_send_reply(struct iggy_writer *writer)
{
    struct iggy_send_confirmation confirmation = {1, 2, 3, 1000};
    (void)iggy_messages_send_reply_encode(writer, &confirmation);
    return writer->size;
}

static int decode_send_reply(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_send_confirmation first;
    uint32_t count = 0;
    iggy_reader_init(&reader, body, size);
    (void)iggy_messages_send_reply_decode(&reader, &count, &first);
    if (check_fields) {
        assert_int_equal(count, 1);
        assert_true(first.base_offset == 1000);
    }
    if (size == 0) {
        return -RUNNEL_ETRUNCATED; /* empty is legal ("no confirmations"), not this body */
    }
    return iggy_reader_finish(&reader);
}

static uint32_t build_offset_reply(struct iggy_writer *writer)
{
    struct iggy_offset_reply reply = {4, 100, 90};
    (void)iggy_messages_offset_reply_encode(writer, &reply);
    return writer->size;
}

static int decode_offset_reply(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_offset_reply reply;
    iggy_reader_init(&reader, body, size);
    (void)iggy_messages_offset_reply_decode(&reader, &reply);
    if (check_fields) {
        assert_true(reply.stored_offset == 90);
    }
    return iggy_reader_finish(&reader);
}

static uint32_t build_user_details(struct iggy_writer *writer)
{
    struct iggy_user_info user;
    memset(&user, 0, sizeof(user));
    user.id = 1;
    user.created_at_us = 5;
    user.status = IGGY_USER_ACTIVE;
    user.username = text("alice");
    user.has_permissions = true;
    user.permissions = permissions_value();
    (void)iggy_users_user_encode(writer, &user, true);
    user.has_permissions = false;
    (void)iggy_users_user_encode(writer, &user, true);
    (void)iggy_users_user_encode(writer, &user, false);
    return writer->size;
}

static int decode_user_details(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_user_info first;
    struct iggy_user_info second;
    struct iggy_user_info third;
    iggy_reader_init(&reader, body, size);
    (void)iggy_users_user_decode(&reader, &first, true);
    (void)iggy_users_user_decode(&reader, &second, true);
    (void)iggy_users_user_decode(&reader, &third, false);
    if (check_fields) {
        assert_true(first.has_permissions);
        assert_int_equal(first.permissions.stream_count, 1);
        assert_false(second.has_permissions);
        assert_true(iggy_bytes_is_equal(third.username, text("alice")));
    }
    return iggy_reader_finish(&reader);
}

static uint32_t build_pat_list(struct iggy_writer *writer)
{
    struct iggy_pat_info first = {text("a"), 0};
    struct iggy_pat_info second = {text("bb"), 123};
    (void)iggy_users_pat_encode(writer, &first);
    (void)iggy_users_pat_encode(writer, &second);
    return writer->size;
}

static int decode_pat_list(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_pat_info pat;
    uint32_t count = 0;
    iggy_reader_init(&reader, body, size);
    while (iggy_reader_remaining(&reader) > 0 && count < 8) {
        (void)iggy_users_pat_decode(&reader, &pat);
        count++;
    }
    if (check_fields) {
        assert_int_equal(count, 2);
        assert_true(pat.expiry_at_us == 123);
    }
    return count == 2 ? iggy_reader_finish(&reader) : -RUNNEL_ETRUNCATED;
}

static uint32_t build_register_reply(struct iggy_writer *writer)
{
    struct iggy_register_reply reply = {0, 3, 17, 11264, text("0.9.0-edge.5")};
    (void)iggy_users_register_reply_encode(writer, &reply);
    return writer->size;
}

static int decode_register_reply(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_register_reply reply;
    iggy_reader_init(&reader, body, size);
    (void)iggy_users_register_reply_decode(&reader, &reply);
    if (check_fields) {
        assert_int_equal(reply.result, 0);
        assert_true(reply.session == 17);
        assert_true(iggy_bytes_is_equal(reply.server_version, text("0.9.0-edge.5")));
    }
    return iggy_reader_finish(&reader);
}

static const struct iggy_stats_cache_metric cache_metric = {1, 2, 3, 10, 20, 0.5f};

static uint32_t build_stats(struct iggy_writer *writer)
{
    struct iggy_stats stats;
    memset(&stats, 0, sizeof(stats));
    stats.process_id = 99;
    stats.cpu_usage = 1.5f;
    stats.consumer_group_count = 6;
    stats.hostname = text("host");
    stats.server_version = text("0.1.0");
    stats.server_semver = 1000;
    stats.cache_metric_count = 1;
    stats.cache_metrics = &cache_metric;
    stats.thread_count = 4;
    stats.total_disk_space_bytes = 1ULL << 40;
    (void)iggy_system_stats_encode(writer, &stats);
    return writer->size;
}

static int decode_stats(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_stats stats;
    iggy_reader_init(&reader, body, size);
    (void)iggy_system_stats_decode(&reader, &stats);
    if (check_fields) {
        assert_int_equal(size, IGGY_STATS_FIXED_SIZE + 5 * 4 + 4 + 5 + 4 + 4 + 32 + 4 + 16);
        assert_int_equal(stats.process_id, 99);
        assert_true(stats.cpu_usage == 1.5f);
        assert_int_equal(stats.consumer_group_count, 6);
        assert_int_equal(stats.cache_metric_count, 1);
        assert_int_equal(stats.thread_count, 4);
        assert_true(stats.total_disk_space_bytes == 1ULL << 40);
    }
    return iggy_reader_finish(&reader);
}

static uint32_t build_cluster(struct iggy_writer *writer)
{
    struct iggy_cluster cluster = {text("single-node"), 1};
    struct iggy_cluster_node node = {
        text("iggy-node"), text("127.0.0.1"), 8090, 8080, 3000, 8092, IGGY_NODE_LEADER, 0};
    (void)iggy_system_cluster_encode(writer, &cluster);
    (void)iggy_system_node_encode(writer, &node);
    return writer->size;
}

static int decode_cluster(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_cluster cluster;
    struct iggy_cluster_node node;
    iggy_reader_init(&reader, body, size);
    (void)iggy_system_cluster_decode(&reader, &cluster);
    (void)iggy_system_node_decode(&reader, &node);
    if (check_fields) {
        assert_int_equal(cluster.node_count, 1);
        assert_int_equal(node.tcp_port, 8090);
        assert_int_equal(node.websocket_port, 8092);
    }
    return iggy_reader_finish(&reader);
}

static uint32_t build_descriptor(struct iggy_writer *writer)
{
    static const uint8_t never[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct iggy_option_descriptor descriptor = {
        text("message_expiry"), IGGY_TLV_UINT64, {never, 8}, text("expiry")};
    iggy_writer_u32(writer, 1);
    (void)iggy_system_descriptor_encode(writer, &descriptor);
    return writer->size;
}

static int decode_descriptor(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_option_descriptor descriptor;
    iggy_reader_init(&reader, body, size);
    uint32_t count = iggy_reader_u32(&reader);
    (void)iggy_system_descriptor_decode(&reader, &descriptor);
    if (check_fields) {
        assert_int_equal(count, 1);
        assert_int_equal(descriptor.default_value.size, 8);
    }
    return iggy_reader_finish(&reader);
}

static const uint32_t client_groups[6] = {1, 2, 3, 4, 5, 6};

static uint32_t build_client(struct iggy_writer *writer)
{
    struct iggy_client_info client = {7, UINT32_MAX,    IGGY_TRANSPORT_TCP, text("127.0.0.1:5000"),
                                      2, client_groups, {NULL, 0}};
    (void)iggy_system_client_encode(writer, &client, true);
    (void)iggy_system_client_encode(writer, &client, false);
    return writer->size;
}

static int decode_client(const uint8_t *body, uint32_t size, bool check_fields)
{
    struct iggy_reader reader;
    struct iggy_client_info details;
    struct iggy_client_info plain;
    iggy_reader_init(&reader, body, size);
    (void)iggy_system_client_decode(&reader, &details, true);
    (void)iggy_system_client_decode(&reader, &plain, false);
    if (check_fields) {
        assert_int_equal(details.consumer_group_count, 2);
        assert_int_equal(details.group_bytes.size, 24);
        assert_int_equal(plain.group_bytes.size, 0);
        assert_true(iggy_bytes_is_equal(plain.address, text("127.0.0.1:5000")));
    }
    return iggy_reader_finish(&reader);
}

static const struct codec_case codec_cases[] = {
    {"identifiers", build_identifiers, decode_identifiers},
    {"stream.create", build_stream_create, decode_stream_create},
    {"stream.update", build_stream_update, decode_stream_update},
    {"topic.create", build_topic_create, decode_topic_create},
    {"topic.update", build_topic_update, decode_topic_update},
    {"partition.create/delete", build_partitions, decode_partitions},
    {"segment.delete", build_segments, decode_segments},
    {"consumer_group.create", build_group_create, decode_group_create},
    {"message.send", build_send, decode_send},
    {"message.poll", build_poll, decode_poll},
    {"message.flush", build_flush, decode_flush},
    {"consumer_offset.store", build_offset_store, decode_offset_store},
    {"consumer_offset.get", build_offset_get, decode_offset_get},
    {"consumer_offset.delete", build_offset_delete, decode_offset_delete},
    {"user.create", build_user_create, decode_user_create},
    {"user.update", build_user_update, decode_user_update},
    {"user.permissions", build_user_permissions, decode_user_permissions},
    {"user.password", build_user_password, decode_user_password},
    {"pat.create", build_pat_create, decode_pat_create},
    {"pat.delete", build_pat_delete, decode_pat_delete},
    {"snapshot", build_snapshot, decode_snapshot},
    {"client.get", build_client_get, decode_client_get},
    {"options.describe", build_options_describe, decode_options_describe},
    {"reply stream", build_stream_info, decode_stream_info},
    {"reply topic+partition", build_topic_info, decode_topic_info},
    {"reply group+member", build_group_details, decode_group_details},
    {"reply sync", build_sync, decode_sync},
    {"reply send", build_send_reply, decode_send_reply},
    {"reply offset", build_offset_reply, decode_offset_reply},
    {"reply user details", build_user_details, decode_user_details},
    {"reply pat list", build_pat_list, decode_pat_list},
    {"reply register", build_register_reply, decode_register_reply},
    {"reply stats", build_stats, decode_stats},
    {"reply cluster", build_cluster, decode_cluster},
    {"reply descriptor", build_descriptor, decode_descriptor},
    {"reply client", build_client, decode_client},
};

/* Every case: the full body decodes with its fields; each strictly shorter body and the
 * body plus one byte fail without touching bytes outside the (exactly sized) copy; an
 * encoder given one byte too little capacity reports -RUNNEL_ETOOLARGE. */
static void test_round_trip_truncation_and_capacity(void **state)
{
    (void)state;
    static uint8_t buffer[BUFFER_SIZE];
    static uint8_t copy[BUFFER_SIZE];
    for (size_t index = 0; index < sizeof(codec_cases) / sizeof(codec_cases[0]); index++) {
        const struct codec_case *test_case = &codec_cases[index];
        struct iggy_writer writer;
        iggy_writer_init(&writer, buffer, BUFFER_SIZE - 1);
        uint32_t size = test_case->build(&writer);
        assert_int_equal(writer.error, 0);
        assert_true(size > 0);
        assert_int_equal(test_case->decode(buffer, size, true), 0);
        for (uint32_t cut = 0; cut < size; cut++) {
            memcpy(copy + BUFFER_SIZE - cut, buffer, cut); /* ends at the array's end */
            if (test_case->decode(copy + BUFFER_SIZE - cut, cut, false) == 0) {
                fail_msg("%s: a %u-byte prefix of %u decoded", test_case->name, cut, size);
            }
        }
        buffer[size] = 0x01;
        if (test_case->decode(buffer, size + 1, false) == 0 &&
            test_case->build != build_send) { /* a send batch runs to the end */
            fail_msg("%s: a trailing byte decoded", test_case->name);
        }
        iggy_writer_init(&writer, copy, size - 1);
        (void)test_case->build(&writer);
        assert_int_equal(writer.error, -RUNNEL_ETOOLARGE);
        assert_true(writer.size <= size - 1);
    }
}

/* --- golden vectors and byte-exact replies ----------------------------------------- */

static void put_u64(uint8_t *at, uint64_t value)
{
    for (uint32_t index = 0; index < 8; index++) {
        at[index] = (uint8_t)(value >> (8 * index));
    }
}

static void put_u32(uint8_t *at, uint32_t value)
{
    for (uint32_t index = 0; index < 4; index++) {
        at[index] = (uint8_t)(value >> (8 * index));
    }
}

/* Writes one §5.5 frame at at; returns its size. */
static uint32_t golden_frame(uint8_t *at, uint64_t checksum, uint64_t id, uint32_t offset_delta,
                             uint32_t timestamp_delta, const char *payload, const char *headers)
{
    uint32_t payload_size = (uint32_t)strlen(payload);
    uint32_t headers_size = (uint32_t)strlen(headers);
    memset(at, 0, 48);
    put_u64(at, checksum);
    put_u64(at + 8, id);
    put_u32(at + 24, offset_delta);
    put_u32(at + 28, timestamp_delta);
    put_u32(at + 32, headers_size);
    put_u32(at + 36, payload_size);
    memcpy(at + 48, payload, payload_size);
    memcpy(at + 48 + payload_size, headers, headers_size);
    /* The stated checksum is XXH3_64(frame[8..48] || payload || headers). */
    assert_true(hash_xxh3_64(at + 8, 40 + payload_size + headers_size) == checksum);
    return 48 + payload_size + headers_size;
}

/* Builds §5.5's SendMessages body; returns its size (22 + 396). */
static uint32_t golden_send_body(uint8_t *body)
{
    static const uint8_t metadata[22] = {0x12, 0,    0, 0, 0x01, 0x04, 0x01, 0,    0, 0, 0x01,
                                         0x04, 0x02, 0, 0, 0,    0x01, 0x00, 0x02, 0, 0, 0};
    memcpy(body, metadata, sizeof(metadata));
    uint8_t *batch = body + sizeof(metadata);
    memset(batch, 0, 256);
    put_u64(batch + 24, 1000);
    put_u64(batch + 32, 396);
    put_u64(batch + 40, 0x7C260763C8381FA9ULL);
    put_u32(batch + 48, 2);
    uint32_t size = 256;
    size += golden_frame(batch + size, 0x7596755A20B9D2BFULL, 7, 0, 0, "first-payload", "");
    size += golden_frame(batch + size, 0xC0B78E751C7E6BD6ULL, 8, 1, 50, "second-payload",
                         "user-header-bytes");
    assert_int_equal(size, 396);
    return (uint32_t)sizeof(metadata) + size;
}

static void test_golden_send_messages(void **state)
{
    (void)state;
    static uint8_t body[512];
    uint32_t size = golden_send_body(body);
    struct iggy_send_messages send;
    assert_int_equal(iggy_messages_send_decode(body, size, &send), 0);
    assert_int_equal(send.stream.numeric, 1);
    assert_int_equal(send.topic.numeric, 2);
    assert_int_equal(send.partitioning.kind, IGGY_PARTITIONING_BALANCED);
    assert_int_equal(send.message_count, 2);
    assert_int_equal(send.batch.size, 396);
    assert_ptr_equal(send.batch.bytes, body + 22);
    const char *reason = NULL;
    assert_int_equal(iggy_messages_send_admit(&send, &reason), 0);
    /* The encoder reproduces the body byte for byte. */
    static uint8_t again[512];
    struct iggy_writer writer;
    iggy_writer_init(&writer, again, sizeof(again));
    assert_int_equal(iggy_messages_send_encode(&writer, &send), 0);
    assert_int_equal(writer.size, size);
    assert_memory_equal(again, body, size);
    /* A count that disagrees with the batch, a bad metadata length, a flipped payload. */
    send.message_count = 3;
    assert_int_equal(iggy_messages_send_admit(&send, &reason), -RUNNEL_EFORMAT);
    assert_non_null(reason);
    body[0] = 0x11;
    assert_int_equal(iggy_messages_send_decode(body, size, &send), -RUNNEL_ETRUNCATED);
    body[0] = 0x13;
    assert_int_equal(iggy_messages_send_decode(body, size, &send), -RUNNEL_EFORMAT);
    body[0] = 0x12;
    body[22 + 256 + 48] ^= 1;
    assert_int_equal(iggy_messages_send_decode(body, size, &send), 0);
    assert_int_equal(iggy_messages_send_admit(&send, &reason), -RUNNEL_ECHECKSUM);
    static const uint8_t short_body[3] = {0, 0, 0};
    assert_int_equal(iggy_messages_send_decode(short_body, 3, &send), -RUNNEL_ETRUNCATED);
    static const uint8_t huge_metadata[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(iggy_messages_send_decode(huge_metadata, 4, &send), -RUNNEL_ETRUNCATED);
}

static uint32_t encode_into(uint8_t *buffer, uint32_t capacity, int (*encode)(struct iggy_writer *))
{
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, capacity);
    assert_int_equal(encode(&writer), 0);
    return writer.size;
}

static int encode_stream_create_reply(struct iggy_writer *writer)
{
    struct iggy_stream_info info = {1, 0x0102030405060708ULL, 0, 0, 0, text("s1"), {NULL, 0}};
    iggy_wire_result_encode(writer, 0);
    return iggy_streams_stream_encode(writer, &info);
}

static int encode_group_create_reply(struct iggy_writer *writer)
{
    struct iggy_group_info info = {0, 24, 0, text("cg-1")};
    iggy_wire_result_encode(writer, 0);
    return iggy_groups_group_encode(writer, &info);
}

static int encode_pat_create_reply(struct iggy_writer *writer)
{
    iggy_wire_result_encode(writer, 0);
    iggy_wire_name_encode(writer, text("tok="));
    return writer->error;
}

static int encode_user_create_reply(struct iggy_writer *writer)
{
    struct iggy_user_info user;
    memset(&user, 0, sizeof(user));
    user.id = 2;
    user.created_at_us = 9;
    user.status = 1;
    user.username = text("bob");
    iggy_wire_result_encode(writer, 0);
    return iggy_users_user_encode(writer, &user, true);
}

static int encode_topic_create_reply(struct iggy_writer *writer)
{
    struct iggy_topic_info topic = {5, 9,         1,         UINT64_MAX,     1, UINT64_MAX, 0,
                                    0, text("t"), {NULL, 0}, bench_options()};
    struct iggy_partition_info partition = {0, 9, 1, 0, 0, 0};
    iggy_wire_result_encode(writer, 0);
    (void)iggy_streams_topic_encode(writer, &topic);
    return iggy_streams_partition_encode(writer, &partition);
}

static void test_create_replies_byte_exact(void **state)
{
    (void)state;
    uint8_t buffer[256];
    static const uint8_t stream_reply[] = {0, 0, 0, 0, 1, 0, 0, 0,   8,   7, 6, 5, 4, 3, 2,
                                           1, 0, 0, 0, 0, 0, 0, 0,   0,   0, 0, 0, 0, 0, 0,
                                           0, 0, 0, 0, 0, 0, 2, 's', '1', 0, 0, 0, 0};
    assert_int_equal(encode_into(buffer, sizeof(buffer), encode_stream_create_reply),
                     sizeof(stream_reply));
    assert_memory_equal(buffer, stream_reply, sizeof(stream_reply));
    static const uint8_t group_reply[] = {0, 0, 0, 0, 0, 0, 0,   0,   24,  0,  0,
                                          0, 0, 0, 0, 0, 4, 'c', 'g', '-', '1'};
    assert_int_equal(encode_into(buffer, sizeof(buffer), encode_group_create_reply),
                     sizeof(group_reply));
    assert_memory_equal(buffer, group_reply, sizeof(group_reply));
    static const uint8_t pat_reply[] = {0, 0, 0, 0, 4, 't', 'o', 'k', '='};
    assert_int_equal(encode_into(buffer, sizeof(buffer), encode_pat_create_reply),
                     sizeof(pat_reply));
    assert_memory_equal(buffer, pat_reply, sizeof(pat_reply));
    static const uint8_t user_reply[] = {0, 0, 0, 0,   2,   0,   0, 0, 9, 0, 0, 0, 0, 0, 0,
                                         0, 1, 3, 'b', 'o', 'b', 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(encode_into(buffer, sizeof(buffer), encode_user_create_reply),
                     sizeof(user_reply));
    assert_memory_equal(buffer, user_reply, sizeof(user_reply));
    /* topic.create: result, 49-byte fixed header, name, empty explicit block, the derived
     * block, then one 40-byte partition. */
    uint32_t size = encode_into(buffer, sizeof(buffer), encode_topic_create_reply);
    assert_int_equal(size, 4 + 49 + 1 + 1 + 4 + 4 + 32 + 40);
    static const uint8_t topic_head[] = {0,    0,    0,    0,    5,    0,    0,    0,    9, 0,
                                         0,    0,    0,    0,    0,    0,    1,    0,    0, 0,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(buffer, topic_head, sizeof(topic_head));
    assert_int_equal(buffer[4 + 49], 1);
    assert_int_equal(buffer[4 + 50], 't');
    assert_int_equal(buffer[4 + 51], 0);    /* explicit_len = 0 */
    assert_int_equal(buffer[4 + 55], 32);   /* derived_len = 32 */
    assert_int_equal(buffer[size - 40], 0); /* partition id 0 */
    assert_int_equal(buffer[size - 36], 9); /* created_at */
    assert_int_equal(buffer[size - 28], 1); /* segments_count */
}

static void test_register_shapes(void **state)
{
    (void)state;
    struct iggy_register login;
    memset(&login, 0, sizeof(login));
    login.version.protocol_version = 11264;
    login.version.sdk_name = text("go-sdk");
    login.version.sdk_version = text("0.11.0");
    login.token = text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    uint8_t body[160];
    struct iggy_writer writer;
    iggy_writer_init(&writer, body, sizeof(body));
    assert_int_equal(iggy_users_register_encode(&writer, &login, true), 0);
    struct iggy_register decoded;
    assert_int_equal(iggy_users_register_decode(body, writer.size, &decoded), 0);
    assert_true(decoded.has_token_shape);
    assert_int_equal(decoded.token.size, 68);
    assert_false(decoded.has_password_shape); /* the next 4 bytes read as a huge length */
    /* Prefix failures are the caller's eviction 15; every cut of the prefix fails. */
    uint32_t prefix_size = 4 + 1 + 6 + 1 + 6;
    for (uint32_t cut = 0; cut < prefix_size; cut++) {
        assert_true(iggy_users_register_decode(body, cut, &decoded) < 0);
    }
    for (uint32_t cut = prefix_size; cut < writer.size; cut++) {
        assert_int_equal(iggy_users_register_decode(body, cut, &decoded), 0);
        assert_false(decoded.has_token_shape);
    }
    /* A transient register result decodes with its code and no payload. */
    uint8_t reply[12];
    iggy_writer_init(&writer, reply, sizeof(reply));
    iggy_wire_result_encode(&writer, 58);
    struct iggy_reader reader;
    struct iggy_register_reply decoded_reply;
    iggy_reader_init(&reader, reply, writer.size);
    assert_int_equal(iggy_users_register_reply_decode(&reader, &decoded_reply), 0);
    assert_int_equal(decoded_reply.result, 58);
}

static void test_partitioning_functions(void **state)
{
    (void)state;
    assert_int_equal(hash_xxh32("user-123", 8, 0), 0x0CC9EC8C);
    assert_int_equal(iggy_messages_key_partition(text("user-123"), 24), 4);
    assert_int_equal(iggy_messages_key_partition(text("user-123"), 7), 0x0CC9EC8C % 7);
    assert_int_equal(iggy_messages_key_partition(text("user-123"), 1), 0);
    uint32_t counter = 0;
    const uint32_t expected[7] = {0, 1, 2, 0, 1, 2, 0};
    for (uint32_t index = 0; index < 7; index++) {
        assert_int_equal(iggy_messages_balanced_next(&counter, 3), expected[index]);
    }
    counter = 10; /* the partition count shrank under the counter */
    assert_int_equal(iggy_messages_balanced_next(&counter, 4), 2);
    assert_int_equal(counter, 3);
    struct iggy_identifier numeric = iggy_identifier_numeric(17);
    struct iggy_identifier name = iggy_identifier_string(text("abc"));
    assert_int_equal(iggy_messages_consumer_id(&numeric), 17);
    assert_int_equal(iggy_messages_consumer_id(&name), 0x32D153FF);
    expect_assert_failure(iggy_messages_key_partition(text("k"), 0));
    expect_assert_failure(iggy_messages_balanced_next(&counter, 0));
}

static void test_poll_reply_and_sentinel(void **state)
{
    (void)state;
    uint8_t buffer[32];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    struct iggy_poll_reply empty = {IGGY_POLL_RESYNC_PARTITION, 0, 0, {NULL, 0}};
    assert_int_equal(iggy_messages_poll_reply_encode(&writer, &empty), 0);
    assert_int_equal(writer.size, IGGY_POLL_REPLY_HEADER_SIZE);
    static const uint8_t expected[16] = {0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(buffer, expected, 16);
    iggy_writer_bytes(&writer, "REC", 3);
    struct iggy_reader reader;
    struct iggy_poll_reply decoded;
    iggy_reader_init(&reader, buffer, writer.size);
    assert_int_equal(iggy_messages_poll_reply_decode(&reader, &decoded), 0);
    assert_int_equal(decoded.records.size, 3);
    for (uint32_t cut = 0; cut < IGGY_POLL_REPLY_HEADER_SIZE; cut++) {
        iggy_reader_init(&reader, buffer, cut);
        assert_int_equal(iggy_messages_poll_reply_decode(&reader, &decoded), -RUNNEL_ETRUNCATED);
    }
    /* An empty send reply is legal; a count larger than the body is not. */
    uint32_t count = 9;
    struct iggy_send_confirmation first;
    iggy_reader_init(&reader, NULL, 0);
    assert_int_equal(iggy_messages_send_reply_decode(&reader, &count, &first), 0);
    assert_int_equal(count, 0);
    static const uint8_t lying[8] = {2, 0, 0, 0, 1, 2, 3, 4};
    iggy_reader_init(&reader, lying, sizeof(lying));
    assert_int_equal(iggy_messages_send_reply_decode(&reader, &count, &first), -RUNNEL_ETRUNCATED);
}

/* Counts that claim more entries than the body holds: ETRUNCATED, no entries kept. */
static void test_lying_entry_counts(void **state)
{
    (void)state;
    static const uint8_t sync_body[16] = {1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 7, 0, 0, 0};
    struct iggy_reader reader;
    struct iggy_group_sync sync;
    iggy_reader_init(&reader, sync_body, sizeof(sync_body));
    assert_int_equal(iggy_groups_sync_decode(&reader, &sync), -RUNNEL_ETRUNCATED);
    assert_int_equal(sync.partition_count, 0);
    assert_int_equal(sync.partition_bytes.size, 0);
    iggy_reader_init(&reader, sync_body, 12); /* one less id than claimed: 3 > 0 */
    assert_int_equal(iggy_groups_sync_decode(&reader, &sync), -RUNNEL_ETRUNCATED);
    static const uint8_t exact[16] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0};
    iggy_reader_init(&reader, exact, sizeof(exact));
    assert_int_equal(iggy_groups_sync_decode(&reader, &sync), 0);
    assert_int_equal(sync.partition_count, 1);
    uint8_t buffer[64];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    uint32_t group_ids[3] = {1, 2, 3};
    struct iggy_client_info client = {.client_id = 5,
                                      .address = iggy_bytes_from_string("a:1"),
                                      .consumer_group_count = 1,
                                      .group_ids = group_ids};
    assert_int_equal(iggy_system_client_encode(&writer, &client, true), 0);
    struct iggy_client_info decoded;
    iggy_reader_init(&reader, buffer, writer.size);
    assert_int_equal(iggy_system_client_decode(&reader, &decoded, true), 0);
    assert_int_equal(decoded.group_bytes.size, 12);
    iggy_reader_init(&reader, buffer, writer.size - 1);
    assert_int_equal(iggy_system_client_decode(&reader, &decoded, true), -RUNNEL_ETRUNCATED);
    assert_int_equal(decoded.group_bytes.size, 0);
}

/* The false side of every flag survives a round trip (the table's cases set them true). */
static void test_false_flags_round_trip(void **state)
{
    (void)state;
    uint8_t buffer[128];
    struct iggy_writer writer;
    struct iggy_poll_messages poll;
    memset(&poll, 0, sizeof(poll));
    poll.consumer.kind = IGGY_CONSUMER_SINGLE;
    poll.consumer.id = iggy_identifier_numeric(1);
    poll.stream = iggy_identifier_numeric(2);
    poll.topic = iggy_identifier_numeric(3);
    poll.strategy.kind = IGGY_POLLING_LAST;
    poll.count = 1;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_messages_poll_encode(&writer, &poll), 0);
    struct iggy_poll_messages decoded;
    assert_int_equal(iggy_messages_poll_decode(buffer, writer.size, &decoded), 0);
    assert_false(decoded.auto_commit);
    assert_false(decoded.partition.is_set);
    assert_int_equal(decoded.strategy.kind, IGGY_POLLING_LAST);
    struct iggy_flush_messages flush = {poll.stream, poll.topic, 0, false};
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_messages_flush_encode(&writer, &flush), 0);
    struct iggy_flush_messages flush_decoded;
    assert_int_equal(iggy_messages_flush_decode(buffer, writer.size, &flush_decoded), 0);
    assert_false(flush_decoded.fsync);
    struct iggy_user_update update;
    memset(&update, 0, sizeof(update));
    update.user = iggy_identifier_numeric(0);
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_users_update_encode(&writer, &update), 0);
    assert_int_equal(writer.size, 6 + 2);
    struct iggy_user_update update_decoded;
    assert_int_equal(iggy_users_update_decode(buffer, writer.size, &update_decoded), 0);
    assert_false(update_decoded.has_username || update_decoded.has_status);
    struct iggy_user_permissions none = {
        iggy_identifier_numeric(0), false, {{false}, NULL, 0, {NULL, 0}}};
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_users_permissions_encode(&writer, &none), 0);
    assert_int_equal(writer.size, 7); /* the body ends at the flag */
    struct iggy_user_permissions none_decoded;
    assert_int_equal(iggy_users_permissions_decode(buffer, writer.size, &none_decoded), 0);
    assert_false(none_decoded.has_permissions);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_truncation_and_capacity),
        cmocka_unit_test(test_golden_send_messages),
        cmocka_unit_test(test_create_replies_byte_exact),
        cmocka_unit_test(test_register_shapes),
        cmocka_unit_test(test_partitioning_functions),
        cmocka_unit_test(test_poll_reply_and_sentinel),
        cmocka_unit_test(test_false_flags_round_trip),
        cmocka_unit_test(test_lying_entry_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
