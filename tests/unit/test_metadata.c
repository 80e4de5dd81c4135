/* Unit tests for node/metadata: ids, names, limits and Iggy's error codes, topic settings
 * and durability, incarnations, permissions, users, tokens, sessions, and rejection of
 * bad op bytes. Consumer groups and snapshots: test_metadata_groups.c. */
#include "lib/error.h"
#include "node/metadata.h"
#include "proto/metadata.pb-c.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct metadata metadata;
static uint64_t op_last;
static uint8_t reply[METADATA_REPLY_SIZE_MAX];
static uint32_t reply_size;
static uint8_t body[METADATA_OP_BODY_SIZE_MAX];

enum { ROOT = 0 };

static void setup_with(struct metadata_config *config)
{
    assert_int_equal(metadata_init(&metadata, config), 0);
    op_last = 0;
}

static void setup_default(void)
{
    struct metadata_config config;
    metadata_config_defaults(&config);
    setup_with(&config);
}

static uint32_t apply_raw(uint32_t user_id, u128 client, const uint8_t *bytes, uint32_t size)
{
    struct metadata_apply_context context = {
        .op = ++op_last, .timestamp_us = op_last * 1000000, .client = client, .user_id = user_id};
    assert_int_equal(
        metadata_apply(&metadata, &context, bytes, size, reply, sizeof(reply), &reply_size), 0);
    int64_t status = metadata_reply_status(reply, reply_size);
    assert_true(status >= 0);
    return (uint32_t)status;
}

static uint32_t apply_as(uint32_t user_id, u128 client,
                         const Runnel__Metadata__MetadataOperation *operation)
{
    size_t size = runnel__metadata__metadata_operation__pack(operation, body);
    return apply_raw(user_id, client, body, (uint32_t)size);
}

static ProtobufCBinaryData text(const char *value)
{
    return (ProtobufCBinaryData){.len = strlen(value), .data = (uint8_t *)(uintptr_t)value};
}

static Runnel__Metadata__Identifier id_of(uint32_t id)
{
    Runnel__Metadata__Identifier identifier = RUNNEL__METADATA__IDENTIFIER__INIT;
    identifier.has_id = true;
    identifier.id = id;
    return identifier;
}

static uint32_t bootstrap(const char *name)
{
    Runnel__Metadata__Bootstrap request = RUNNEL__METADATA__BOOTSTRAP__INIT;
    request.username = text(name);
    request.password_hash = text("$argon2id$hash");
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_BOOTSTRAP;
    operation.bootstrap = &request;
    return apply_as(ROOT, 0, &operation);
}

static uint32_t create_stream_as(uint32_t user_id, const char *name)
{
    Runnel__Metadata__CreateStream request = RUNNEL__METADATA__CREATE_STREAM__INIT;
    request.name = text(name);
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_STREAM;
    operation.create_stream = &request;
    return apply_as(user_id, 0, &operation);
}

static uint32_t create_stream(const char *name)
{
    return create_stream_as(ROOT, name);
}

static uint32_t reply_u32(uint32_t offset)
{
    assert_true(offset + 4 <= reply_size);
    return (uint32_t)reply[offset] | (uint32_t)reply[offset + 1] << 8 |
           (uint32_t)reply[offset + 2] << 16 | (uint32_t)reply[offset + 3] << 24;
}

static uint32_t stream_op(uint32_t user_id, int kind, uint32_t stream_id, const char *name)
{
    Runnel__Metadata__Identifier stream = id_of(stream_id);
    Runnel__Metadata__UpdateStream update = RUNNEL__METADATA__UPDATE_STREAM__INIT;
    Runnel__Metadata__DeleteStream remove = RUNNEL__METADATA__DELETE_STREAM__INIT;
    Runnel__Metadata__PurgeStream purge = RUNNEL__METADATA__PURGE_STREAM__INIT;
    update.stream = remove.stream = purge.stream = &stream;
    update.name = text(name == NULL ? "" : name);
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = (Runnel__Metadata__MetadataOperation__OperationCase)kind;
    operation.update_stream = &update;
    if (kind == RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM) {
        operation.delete_stream = &remove;
    } else if (kind == RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_STREAM) {
        operation.purge_stream = &purge;
    }
    return apply_as(user_id, 0, &operation);
}

static uint32_t delete_stream(uint32_t stream_id)
{
    return stream_op(ROOT, RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM, stream_id,
                     NULL);
}

static uint32_t create_topic_with(uint32_t user_id, uint32_t stream_id, const char *name,
                                  uint32_t partitions, Runnel__Metadata__TopicOptions *options)
{
    Runnel__Metadata__Identifier stream = id_of(stream_id);
    Runnel__Metadata__CreateTopic request = RUNNEL__METADATA__CREATE_TOPIC__INIT;
    request.stream = &stream;
    request.name = text(name);
    request.partitions_count = partitions;
    request.options = options;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOPIC;
    operation.create_topic = &request;
    return apply_as(user_id, 0, &operation);
}

static uint32_t create_topic(uint32_t stream_id, const char *name, uint32_t partitions)
{
    return create_topic_with(ROOT, stream_id, name, partitions, NULL);
}

static uint32_t topic_op(int kind, uint32_t stream_id, uint32_t topic_id, uint32_t count)
{
    Runnel__Metadata__Identifier stream = id_of(stream_id);
    Runnel__Metadata__Identifier topic = id_of(topic_id);
    Runnel__Metadata__DeleteTopic remove = RUNNEL__METADATA__DELETE_TOPIC__INIT;
    Runnel__Metadata__PurgeTopic purge = RUNNEL__METADATA__PURGE_TOPIC__INIT;
    Runnel__Metadata__CreatePartitions create = RUNNEL__METADATA__CREATE_PARTITIONS__INIT;
    Runnel__Metadata__DeletePartitions shrink = RUNNEL__METADATA__DELETE_PARTITIONS__INIT;
    remove.stream = purge.stream = create.stream = shrink.stream = &stream;
    remove.topic = purge.topic = create.topic = shrink.topic = &topic;
    create.count = shrink.count = count;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = (Runnel__Metadata__MetadataOperation__OperationCase)kind;
    switch (kind) {
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOPIC:
        operation.delete_topic = &remove;
        break;
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_TOPIC:
        operation.purge_topic = &purge;
        break;
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_PARTITIONS:
        operation.create_partitions = &create;
        break;
    default:
        operation.delete_partitions = &shrink;
        break;
    }
    return apply_as(ROOT, 0, &operation);
}

static void test_bootstrap_creates_root_once(void **state)
{
    (void)state;
    setup_default();
    assert_false(metadata.is_bootstrapped);
    assert_int_equal(bootstrap("ab"), METADATA_STATUS_INVALID_USERNAME);
    assert_int_equal(bootstrap("iggy"), METADATA_STATUS_OK);
    const struct metadata_user *root = metadata_user_get(&metadata, 0);
    assert_non_null(root);
    assert_true(root->has_permissions);
    assert_int_equal(root->global_bits, METADATA_GLOBAL_ALL);
    assert_int_equal(reply_u32(4), 0); /* UserDetails: id 0 */
    assert_int_equal(bootstrap("other"), METADATA_STATUS_USER_ALREADY_EXISTS);
    metadata_deinit(&metadata);
}

static void test_stream_ids_lowest_free_and_names(void **state)
{
    (void)state;
    struct metadata_config config;
    metadata_config_defaults(&config);
    config.limits.streams_max = 3;
    setup_with(&config);
    assert_int_equal(bootstrap("iggy"), 0);
    const char *names[] = {"s0", "s1", "s2"};
    for (uint32_t index = 0; index < 3; index++) {
        assert_int_equal(create_stream(names[index]), 0);
        assert_int_equal(reply_u32(4), index); /* StreamResponse.id */
    }
    assert_int_equal(create_stream("s3"), METADATA_STATUS_TOO_MANY_STREAMS);
    assert_int_equal(create_stream("s1"), METADATA_STATUS_STREAM_NAME_EXISTS);
    assert_int_equal(delete_stream(1), 0);
    assert_int_equal(delete_stream(1), METADATA_STATUS_STREAM_NOT_FOUND);
    assert_int_equal(delete_stream(0), 0);
    assert_int_equal(create_stream("again"), 0);
    assert_int_equal(reply_u32(4), 0); /* lowest free first */
    assert_int_equal(create_stream("next"), 0);
    assert_int_equal(reply_u32(4), 1);
    assert_int_equal(create_stream(""), METADATA_STATUS_INVALID_COMMAND);
    char long_name[300];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = 0;
    assert_int_equal(create_stream(long_name), METADATA_STATUS_INVALID_COMMAND);
    long_name[255] = 0;
    assert_int_equal(delete_stream(2), 0);
    assert_int_equal(create_stream(long_name), 0);
    int update = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_STREAM;
    assert_int_equal(stream_op(ROOT, update, 0, "next"), METADATA_STATUS_STREAM_NAME_EXISTS);
    assert_int_equal(stream_op(ROOT, update, 0, "renamed"), 0);
    assert_non_null(metadata_stream_find(&metadata, (const uint8_t *)"renamed", 7));
    assert_int_equal(stream_op(ROOT, update, 9, "x"), METADATA_STATUS_STREAM_NOT_FOUND);
    metadata_deinit(&metadata);
}

static void test_topics_partitions_and_limits(void **state)
{
    (void)state;
    struct metadata_config config;
    metadata_config_defaults(&config);
    config.limits.partitions_max = 20;
    setup_with(&config);
    assert_int_equal(bootstrap("iggy"), 0);
    assert_int_equal(create_stream("s"), 0);
    assert_int_equal(create_topic(1, "t", 1), METADATA_STATUS_STREAM_NOT_FOUND);
    assert_int_equal(create_topic(0, "t0", 3), 0);
    /* TopicHeader: id, created_at, partitions_count. */
    assert_int_equal(reply_u32(4), 0);
    assert_int_equal(reply_u32(16), 3);
    assert_int_equal(create_topic(0, "t0", 1), METADATA_STATUS_TOPIC_NAME_EXISTS);
    assert_int_equal(create_topic(0, "big", 1001), METADATA_STATUS_TOO_MANY_PARTITIONS);
    assert_int_equal(create_topic(0, "t1", 0), 0);
    assert_int_equal(create_topic(0, "t2", 0), 0);
    int delete_topic = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOPIC;
    assert_int_equal(topic_op(delete_topic, 0, 1, 0), 0);
    assert_int_equal(topic_op(delete_topic, 0, 1, 0), METADATA_STATUS_TOPIC_NOT_FOUND);
    assert_int_equal(create_topic(0, "t3", 0), 0);
    assert_int_equal(reply_u32(4), 1); /* lowest free topic id in the stream */
    int create = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_PARTITIONS;
    int shrink = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_PARTITIONS;
    assert_int_equal(topic_op(create, 0, 0, 2), 0);
    assert_int_equal(metadata_topic_get(&metadata, 0, 0)->partitions_count, 5);
    assert_non_null(metadata_partition_get(&metadata, 0, 0, 4));
    assert_int_equal(topic_op(create, 0, 0, 0), METADATA_STATUS_TOO_MANY_PARTITIONS);
    assert_int_equal(topic_op(create, 0, 0, 16), METADATA_STATUS_TOO_MANY_PARTITIONS);
    assert_int_equal(topic_op(create, 0, 0, 15), 0); /* exactly partitions_max */
    assert_int_equal(topic_op(shrink, 0, 0, 0), METADATA_STATUS_TOO_MANY_PARTITIONS);
    assert_int_equal(topic_op(shrink, 0, 0, 1001), METADATA_STATUS_TOO_MANY_PARTITIONS);
    assert_int_equal(topic_op(shrink, 0, 0, 21), METADATA_STATUS_INVALID_PARTITIONS_COUNT);
    assert_int_equal(topic_op(shrink, 0, 0, 18), 0);
    assert_int_equal(metadata_topic_get(&metadata, 0, 0)->partitions_count, 2);
    assert_null(metadata_partition_get(&metadata, 0, 0, 2));
    assert_non_null(metadata_partition_get(&metadata, 0, 0, 1));
    assert_int_equal(topic_op(create, 0, 7, 1), METADATA_STATUS_TOPIC_NOT_FOUND);
    assert_int_equal(delete_stream(0), 0);
    assert_null(metadata_partition_get(&metadata, 0, 0, 0));
    assert_int_equal(metadata.partition_slots.free_count, 20);
    metadata_deinit(&metadata);
}

static void test_partition_incarnations_and_purge(void **state)
{
    (void)state;
    setup_default();
    assert_int_equal(bootstrap("iggy"), 0);
    assert_int_equal(create_stream("s"), 0);
    assert_int_equal(create_topic(0, "t", 2), 0);
    uint64_t created_op = op_last;
    assert_int_equal(metadata_partition_get(&metadata, 0, 0, 1)->incarnation, created_op);
    int purge = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_TOPIC;
    assert_int_equal(topic_op(purge, 0, 0, 0), 0);
    assert_int_equal(metadata_partition_get(&metadata, 0, 0, 0)->incarnation, op_last);
    assert_int_equal(metadata_partition_get(&metadata, 0, 0, 1)->incarnation, op_last);
    assert_int_equal(
        stream_op(ROOT, RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_STREAM, 0, NULL), 0);
    assert_int_equal(metadata_partition_get(&metadata, 0, 0, 0)->incarnation, op_last);
    /* Deleting and re-creating reuses the ids but never the incarnation. */
    assert_int_equal(delete_stream(0), 0);
    assert_int_equal(create_stream("s"), 0);
    assert_int_equal(create_topic(0, "t", 2), 0);
    assert_int_equal(metadata_partition_get(&metadata, 0, 0, 0)->incarnation, op_last);
    assert_true(op_last > created_op);
    metadata_deinit(&metadata);
}

static void test_topic_settings_and_durability(void **state)
{
    (void)state;
    struct metadata_config config;
    metadata_config_defaults(&config);
    config.durability = METADATA_DURABILITY_REPLICATED;
    setup_with(&config);
    assert_int_equal(bootstrap("iggy"), 0);
    assert_int_equal(create_stream("s"), 0);
    assert_int_equal(create_topic(0, "default", 1), 0);
    const struct metadata_topic *topic = metadata_topic_get(&metadata, 0, 0);
    assert_int_equal(topic->settings.durability, METADATA_DURABILITY_REPLICATED);
    assert_int_equal(topic->settings.message_expiry_us, UINT64_MAX);
    assert_int_equal(topic->settings.segment_size_bytes, 1ULL << 30);
    Runnel__Metadata__TopicOptions options = RUNNEL__METADATA__TOPIC_OPTIONS__INIT;
    options.has_enforce_fsync = true;
    options.enforce_fsync = true;
    assert_int_equal(create_topic_with(ROOT, 0, "fsync", 1, &options), 0);
    assert_int_equal(metadata_topic_get(&metadata, 0, 1)->settings.durability,
                     METADATA_DURABILITY_FSYNC);
    assert_int_equal(metadata_topic_get(&metadata, 0, 1)->explicit_mask,
                     METADATA_TOPIC_OPTION_ENFORCE_FSYNC);
    options.enforce_fsync = false;
    assert_int_equal(create_topic_with(ROOT, 0, "replicated", 1, &options), 0);
    assert_int_equal(metadata_topic_get(&metadata, 0, 2)->settings.durability,
                     METADATA_DURABILITY_REPLICATED);
    Runnel__Metadata__TopicOptions bad = RUNNEL__METADATA__TOPIC_OPTIONS__INIT;
    bad.has_segment_size_bytes = true;
    bad.segment_size_bytes = 1000;
    assert_int_equal(create_topic_with(ROOT, 0, "bad", 1, &bad),
                     METADATA_STATUS_INVALID_OPTION_VALUE);
    bad.segment_size_bytes = 1u << 20;
    bad.has_max_topic_size_bytes = true;
    bad.max_topic_size_bytes = 1000;
    assert_int_equal(create_topic_with(ROOT, 0, "bad", 1, &bad),
                     METADATA_STATUS_INVALID_TOPIC_SIZE);
    bad.max_topic_size_bytes = 0; /* server default: unlimited */
    bad.has_message_expiry_us = true;
    bad.message_expiry_us = 5000000;
    assert_int_equal(create_topic_with(ROOT, 0, "ok", 1, &bad), 0);
    topic = metadata_topic_get(&metadata, 0, 3);
    assert_int_equal(topic->settings.max_topic_size_bytes, UINT64_MAX);
    assert_int_equal(topic->settings.message_expiry_us, 5000000);
    assert_int_equal(topic->settings.segment_size_bytes, 1u << 20);
    /* The reply's TopicHeader carries the resolved expiry and size. */
    assert_int_equal(reply_u32(20), 5000000);
    metadata_deinit(&metadata);
}

/* Builds a user's permissions: global bits, one stream grant with one topic grant. */
static uint32_t create_user_with(const char *name, uint32_t global, uint32_t stream_id,
                                 uint32_t stream_bits, uint32_t topic_id, uint32_t topic_bits)
{
    Runnel__Metadata__TopicPermissions topic = RUNNEL__METADATA__TOPIC_PERMISSIONS__INIT;
    topic.topic_id = topic_id;
    topic.has_manage_topic = topic.manage_topic = (topic_bits & METADATA_TOPIC_MANAGE_TOPIC) != 0;
    topic.has_read_topic = topic.read_topic = (topic_bits & METADATA_TOPIC_READ_TOPIC) != 0;
    topic.has_poll_messages = topic.poll_messages =
        (topic_bits & METADATA_TOPIC_POLL_MESSAGES) != 0;
    topic.has_send_messages = topic.send_messages =
        (topic_bits & METADATA_TOPIC_SEND_MESSAGES) != 0;
    Runnel__Metadata__TopicPermissions *topics[] = {&topic};
    Runnel__Metadata__StreamPermissions stream = RUNNEL__METADATA__STREAM_PERMISSIONS__INIT;
    stream.stream_id = stream_id;
    stream.has_manage_stream = stream.manage_stream =
        (stream_bits & METADATA_STREAM_MANAGE_STREAM) != 0;
    stream.has_read_stream = stream.read_stream = (stream_bits & METADATA_STREAM_READ_STREAM) != 0;
    stream.has_manage_topics = stream.manage_topics =
        (stream_bits & METADATA_STREAM_MANAGE_TOPICS) != 0;
    stream.has_read_topics = stream.read_topics = (stream_bits & METADATA_STREAM_READ_TOPICS) != 0;
    stream.has_poll_messages = stream.poll_messages =
        (stream_bits & METADATA_STREAM_POLL_MESSAGES) != 0;
    stream.has_send_messages = stream.send_messages =
        (stream_bits & METADATA_STREAM_SEND_MESSAGES) != 0;
    stream.n_topics = topic_bits != 0 ? 1 : 0;
    stream.topics = topics;
    Runnel__Metadata__StreamPermissions *streams[] = {&stream};
    Runnel__Metadata__Permissions permissions = RUNNEL__METADATA__PERMISSIONS__INIT;
    permissions.has_manage_servers = permissions.manage_servers =
        (global & METADATA_GLOBAL_MANAGE_SERVERS) != 0;
    permissions.has_read_servers = permissions.read_servers =
        (global & METADATA_GLOBAL_READ_SERVERS) != 0;
    permissions.has_manage_users = permissions.manage_users =
        (global & METADATA_GLOBAL_MANAGE_USERS) != 0;
    permissions.has_read_users = permissions.read_users =
        (global & METADATA_GLOBAL_READ_USERS) != 0;
    permissions.has_manage_streams = permissions.manage_streams =
        (global & METADATA_GLOBAL_MANAGE_STREAMS) != 0;
    permissions.has_read_streams = permissions.read_streams =
        (global & METADATA_GLOBAL_READ_STREAMS) != 0;
    permissions.has_manage_topics = permissions.manage_topics =
        (global & METADATA_GLOBAL_MANAGE_TOPICS) != 0;
    permissions.has_read_topics = permissions.read_topics =
        (global & METADATA_GLOBAL_READ_TOPICS) != 0;
    permissions.has_poll_messages = permissions.poll_messages =
        (global & METADATA_GLOBAL_POLL_MESSAGES) != 0;
    permissions.has_send_messages = permissions.send_messages =
        (global & METADATA_GLOBAL_SEND_MESSAGES) != 0;
    permissions.n_streams = stream_bits != 0 || topic_bits != 0 ? 1 : 0;
    permissions.streams = streams;
    Runnel__Metadata__CreateUser request = RUNNEL__METADATA__CREATE_USER__INIT;
    request.username = text(name);
    request.password_hash = text("$argon2id$x");
    request.status = METADATA_USER_ACTIVE;
    request.permissions = &permissions;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_USER;
    operation.create_user = &request;
    return apply_as(ROOT, 0, &operation);
}

static void test_permission_matrix(void **state)
{
    (void)state;
    setup_default();
    assert_int_equal(bootstrap("iggy"), 0);
    assert_int_equal(create_user_with("nobody", 0, 0, 0, 0, 0), 0);
    uint32_t nobody = reply_u32(4);
    assert_int_equal(create_user_with("poller", METADATA_GLOBAL_POLL_MESSAGES, 0, 0, 0, 0), 0);
    uint32_t poller = reply_u32(4);
    assert_int_equal(create_user_with("streamer", 0, 5, METADATA_STREAM_MANAGE_TOPICS, 0, 0), 0);
    uint32_t streamer = reply_u32(4);
    assert_int_equal(create_user_with("topical", 0, 5, METADATA_STREAM_READ_STREAM, 2,
                                      METADATA_TOPIC_SEND_MESSAGES | METADATA_TOPIC_MANAGE_TOPIC),
                     0);
    uint32_t topical = reply_u32(4);
    assert_int_equal(create_user_with("admin",
                                      METADATA_GLOBAL_MANAGE_SERVERS | METADATA_GLOBAL_MANAGE_USERS,
                                      0, 0, 0, 0),
                     0);
    uint32_t admin = reply_u32(4);
    struct {
        uint32_t user;
        enum metadata_action action;
        uint32_t stream, topic;
        bool expected;
    } cases[] = {
        {ROOT, METADATA_ACTION_SEND, 1, 1, true},
        {nobody, METADATA_ACTION_STREAMS_READ, METADATA_NONE, METADATA_NONE, false},
        {nobody, METADATA_ACTION_POLL, 5, 2, false},
        {poller, METADATA_ACTION_POLL, 9, 9, true},
        {poller, METADATA_ACTION_SEND, 9, 9, false},
        {poller, METADATA_ACTION_TOPIC_READ, 9, 9, false},
        {streamer, METADATA_ACTION_TOPIC_CREATE, 5, METADATA_NONE, true},
        {streamer, METADATA_ACTION_TOPIC_MANAGE, 5, 7, true},
        {streamer, METADATA_ACTION_SEND, 5, 7, true},
        {streamer, METADATA_ACTION_POLL, 5, 7, true},
        {streamer, METADATA_ACTION_STREAM_MANAGE, 5, METADATA_NONE, false},
        {streamer, METADATA_ACTION_TOPIC_CREATE, 6, METADATA_NONE, false},
        {streamer, METADATA_ACTION_STREAM_CREATE, METADATA_NONE, METADATA_NONE, false},
        {topical, METADATA_ACTION_STREAM_READ, 5, METADATA_NONE, true},
        {topical, METADATA_ACTION_POLL, 5, 3, true}, /* read_stream implies poll */
        {topical, METADATA_ACTION_SEND, 5, 2, true},
        {topical, METADATA_ACTION_SEND, 5, 3, false},
        {topical, METADATA_ACTION_TOPIC_MANAGE, 5, 2, true},
        {topical, METADATA_ACTION_TOPIC_MANAGE, 5, 3, false},
        {topical, METADATA_ACTION_TOPIC_CREATE, 5, METADATA_NONE, false},
        {admin, METADATA_ACTION_SERVERS_READ, METADATA_NONE, METADATA_NONE, true},
        {admin, METADATA_ACTION_USERS_READ, METADATA_NONE, METADATA_NONE, true},
        {admin, METADATA_ACTION_STREAMS_READ, METADATA_NONE, METADATA_NONE, false},
        {77, METADATA_ACTION_POLL, 5, 2, false}, /* unknown user */
    };
    for (size_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        assert_int_equal(metadata_is_permitted(&metadata, cases[index].user, cases[index].action,
                                               cases[index].stream, cases[index].topic),
                         cases[index].expected);
    }
    /* Inside apply: not-found before permission, then 41 with the state unchanged. */
    assert_int_equal(create_stream_as(nobody, "s"), METADATA_STATUS_UNAUTHORIZED);
    assert_int_equal(metadata.streams_count, 0);
    assert_int_equal(create_topic_with(nobody, 0, "t", 1, NULL), METADATA_STATUS_STREAM_NOT_FOUND);
    for (uint32_t index = 0; index < 6; index++) {
        char name[8] = {'s', (char)('0' + index), 0};
        assert_int_equal(create_stream(name), 0);
    }
    assert_int_equal(create_topic_with(nobody, 5, "t", 1, NULL), METADATA_STATUS_UNAUTHORIZED);
    assert_int_equal(create_topic_with(streamer, 5, "t", 1, NULL), 0);
    assert_int_equal(create_topic_with(streamer, 4, "t", 1, NULL), METADATA_STATUS_UNAUTHORIZED);
    int delete = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM;
    assert_int_equal(stream_op(streamer, delete, 5, NULL), METADATA_STATUS_UNAUTHORIZED);
    assert_int_equal(stream_op(streamer, delete, 9, NULL), METADATA_STATUS_STREAM_NOT_FOUND);
    metadata_deinit(&metadata);
}

static uint32_t user_op(uint32_t actor, int kind, uint32_t target, const char *text_value)
{
    Runnel__Metadata__Identifier user = id_of(target);
    Runnel__Metadata__UpdateUser update = RUNNEL__METADATA__UPDATE_USER__INIT;
    Runnel__Metadata__DeleteUser remove = RUNNEL__METADATA__DELETE_USER__INIT;
    Runnel__Metadata__ChangePassword password = RUNNEL__METADATA__CHANGE_PASSWORD__INIT;
    Runnel__Metadata__UpdatePermissions permissions = RUNNEL__METADATA__UPDATE_PERMISSIONS__INIT;
    update.user = remove.user = password.user = permissions.user = &user;
    update.has_username = text_value != NULL;
    update.username = text(text_value == NULL ? "" : text_value);
    password.password_hash = update.username;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = (Runnel__Metadata__MetadataOperation__OperationCase)kind;
    operation.update_user = &update;
    if (kind == RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_USER) {
        operation.delete_user = &remove;
    } else if (kind == RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CHANGE_PASSWORD) {
        operation.change_password = &password;
    } else if (kind == RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_PERMISSIONS) {
        operation.update_permissions = &permissions;
    }
    return apply_as(actor, 0, &operation);
}

static void test_users(void **state)
{
    (void)state;
    struct metadata_config config;
    metadata_config_defaults(&config);
    config.limits.users_max = 4;
    setup_with(&config);
    assert_int_equal(bootstrap("iggy"), 0);
    assert_int_equal(create_user_with("ab", 0, 0, 0, 0, 0), METADATA_STATUS_INVALID_USERNAME);
    assert_int_equal(create_user_with("user1", 0, 0, 0, 0, 0), 0);
    assert_int_equal(create_user_with("user1", 0, 0, 0, 0, 0), METADATA_STATUS_USER_ALREADY_EXISTS);
    assert_int_equal(create_user_with("user2", 0, 0, 0, 0, 0), 0);
    assert_int_equal(create_user_with("user3", 0, 0, 0, 0, 0), 0);
    assert_int_equal(create_user_with("user4", 0, 0, 0, 0, 0), METADATA_STATUS_USERS_LIMIT_REACHED);
    int remove = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_USER;
    int update = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_USER;
    int password = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CHANGE_PASSWORD;
    int permissions = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_PERMISSIONS;
    assert_int_equal(user_op(ROOT, remove, 0, NULL), METADATA_STATUS_CANNOT_DELETE_USER);
    assert_int_equal(user_op(ROOT, permissions, 0, NULL),
                     METADATA_STATUS_CANNOT_CHANGE_PERMISSIONS);
    assert_int_equal(user_op(ROOT, remove, 9, NULL), METADATA_STATUS_RESOURCE_NOT_FOUND);
    assert_int_equal(user_op(ROOT, remove, 2, NULL), 0);
    assert_int_equal(create_user_with("user5", 0, 0, 0, 0, 0), 0);
    assert_int_equal(reply_u32(4), 2); /* lowest free user id */
    assert_int_equal(user_op(ROOT, update, 1, "user3"), METADATA_STATUS_USER_ALREADY_EXISTS);
    assert_int_equal(user_op(ROOT, update, 1, "no"), METADATA_STATUS_INVALID_USERNAME);
    assert_int_equal(user_op(ROOT, update, 1, "renamed"), 0);
    assert_non_null(metadata_user_find(&metadata, (const uint8_t *)"renamed", 7));
    /* A user changes its own password without manage_users, but not another's. */
    assert_int_equal(user_op(1, password, 1, "$argon2id$new"), 0);
    assert_memory_equal(metadata_user_get(&metadata, 1)->password_hash, "$argon2id$new", 13);
    assert_int_equal(user_op(1, password, 3, "$argon2id$new"), METADATA_STATUS_UNAUTHORIZED);
    assert_int_equal(user_op(1, password, 1, ""), METADATA_STATUS_INVALID_CREDENTIALS);
    assert_int_equal(user_op(1, update, 3, "zzz"), METADATA_STATUS_UNAUTHORIZED);
    assert_int_equal(user_op(ROOT, permissions, 1, NULL), 0);
    assert_false(metadata_user_get(&metadata, 1)->has_permissions);
    metadata_deinit(&metadata);
}

static uint32_t token_op(uint32_t user, bool create, const char *name, uint64_t expiry_us,
                         const char *hash, bool only_if_expired)
{
    Runnel__Metadata__CreateToken request = RUNNEL__METADATA__CREATE_TOKEN__INIT;
    request.name = text(name);
    request.expiry_us = expiry_us;
    request.token_hash = text(hash);
    Runnel__Metadata__DeleteToken remove = RUNNEL__METADATA__DELETE_TOKEN__INIT;
    remove.name = text(name);
    remove.has_only_if_expired = only_if_expired;
    remove.only_if_expired = only_if_expired;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    if (create) {
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOKEN;
        operation.create_token = &request;
    } else {
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOKEN;
        operation.delete_token = &remove;
    }
    return apply_as(user, 0, &operation);
}

static uint32_t register_client(u128 client, bool by_token, uint32_t user_id, const char *hash)
{
    Runnel__Metadata__RegisterClient request = RUNNEL__METADATA__REGISTER_CLIENT__INIT;
    request.has_user_id = !by_token;
    request.user_id = user_id;
    request.has_token_hash = by_token;
    request.token_hash = text(hash);
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_REGISTER_CLIENT;
    operation.register_client = &request;
    return apply_as(user_id, client, &operation);
}

static void test_tokens_and_expiry(void **state)
{
    (void)state;
    struct metadata_config config;
    metadata_config_defaults(&config);
    config.limits.tokens_per_user_max = 2;
    setup_with(&config);
    assert_int_equal(bootstrap("iggy"), 0);
    assert_int_equal(create_user_with("user1", 0, 0, 0, 0, 0), 0);
    /* Expires 100 s after its creating op (op n has timestamp n s). */
    assert_int_equal(token_op(1, true, "short", 100000000, "hash-short", false), 0);
    uint64_t created_us = op_last * 1000000;
    assert_int_equal(token_op(1, true, "short", 0, "hash-x", false),
                     METADATA_STATUS_TOKEN_ALREADY_EXISTS);
    assert_int_equal(token_op(1, true, "never", 0, "hash-never", false), 0);
    assert_int_equal(token_op(1, true, "third", 0, "hash-third", false),
                     METADATA_STATUS_TOKENS_LIMIT_REACHED);
    const uint8_t *hash = (const uint8_t *)"hash-short";
    assert_non_null(metadata_token_user(&metadata, hash, 10, created_us + 99999999));
    assert_null(metadata_token_user(&metadata, hash, 10, created_us + 100000000));
    assert_int_equal(
        metadata_token_user(&metadata, (const uint8_t *)"hash-never", 10, UINT64_MAX - 1)->id, 1);
    /* Register by token at the op time: valid now, expired later. */
    assert_int_equal(register_client(7, true, 1, "hash-short"), 0);
    assert_int_equal(reply_u32(4), 1); /* user id */
    assert_int_equal(metadata_client_get(&metadata, 7)->session, op_last);
    assert_int_equal(token_op(1, false, "short", 0, "", true), 0); /* not yet expired: kept */
    assert_int_equal(metadata_user_get(&metadata, 1)->tokens_count, 2);
    op_last += 200; /* past the expiry */
    assert_int_equal(register_client(8, true, 1, "hash-short"), METADATA_STATUS_INVALID_TOKEN);
    assert_int_equal(token_op(1, false, "short", 0, "", true), 0); /* expired: removed */
    assert_int_equal(metadata_user_get(&metadata, 1)->tokens_count, 1);
    assert_int_equal(token_op(1, false, "short", 0, "", false), METADATA_STATUS_RESOURCE_NOT_FOUND);
    assert_int_equal(token_op(1, false, "never", 0, "", false), 0);
    assert_int_equal(metadata_user_get(&metadata, 1)->tokens_count, 0);
    metadata_deinit(&metadata);
}

static void test_sessions(void **state)
{
    (void)state;
    setup_default();
    assert_int_equal(bootstrap("iggy"), 0);
    assert_int_equal(create_user_with("user1", 0, 0, 0, 0, 0), 0);
    assert_int_equal(register_client(0, false, 1, ""), METADATA_STATUS_INVALID_COMMAND);
    assert_int_equal(register_client(11, false, 9, ""), METADATA_STATUS_INVALID_CREDENTIALS);
    assert_int_equal(register_client(11, false, 1, ""), 0);
    /* [result][user_id][session u64][protocol u32][version]. */
    assert_int_equal(reply_u32(4), 1);
    assert_int_equal(reply_u32(8), (uint32_t)op_last);
    assert_int_equal(reply_u32(16), 11264);
    assert_int_equal(reply[20], 12);
    assert_memory_equal(reply + 21, "0.9.0-edge.5", 12);
    Runnel__Metadata__MetadataOperation logout = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    Runnel__Metadata__LogoutClient request = RUNNEL__METADATA__LOGOUT_CLIENT__INIT;
    logout.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LOGOUT_CLIENT;
    logout.logout_client = &request;
    assert_int_equal(apply_as(1, 11, &logout), 0);
    assert_null(metadata_client_get(&metadata, 11));
    assert_int_equal(apply_as(1, 11, &logout), 0); /* idempotent */
    int update = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_USER;
    Runnel__Metadata__Identifier user = id_of(1);
    Runnel__Metadata__UpdateUser inactive = RUNNEL__METADATA__UPDATE_USER__INIT;
    inactive.user = &user;
    inactive.has_status = true;
    inactive.status = METADATA_USER_INACTIVE;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = (Runnel__Metadata__MetadataOperation__OperationCase)update;
    operation.update_user = &inactive;
    assert_int_equal(apply_as(ROOT, 0, &operation), 0);
    assert_int_equal(register_client(12, false, 1, ""), METADATA_STATUS_USER_INACTIVE);
    metadata_deinit(&metadata);
}

static void test_bad_op_bytes_are_rejected(void **state)
{
    (void)state;
    setup_default();
    assert_int_equal(bootstrap("iggy"), 0);
    assert_int_equal(create_stream("s"), 0);
    const uint8_t garbage[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01};
    assert_int_equal(apply_raw(ROOT, 0, garbage, sizeof(garbage)), METADATA_STATUS_INVALID_COMMAND);
    assert_int_equal(reply_size, 12);
    assert_int_equal(apply_raw(ROOT, 0, NULL, 0), METADATA_STATUS_INVALID_COMMAND); /* not set */
    /* A CreateStream missing its required name. */
    const uint8_t missing_required[] = {0x12, 0x00};
    assert_int_equal(apply_raw(ROOT, 0, missing_required, sizeof(missing_required)),
                     METADATA_STATUS_INVALID_COMMAND);
    static uint8_t oversize[METADATA_OP_BODY_SIZE_MAX + 1];
    assert_int_equal(apply_raw(ROOT, 0, oversize, sizeof(oversize)),
                     METADATA_STATUS_INVALID_COMMAND);
    /* An identifier with both id and name resolves to nothing. */
    Runnel__Metadata__Identifier both = id_of(0);
    both.has_name = true;
    both.name = text("s");
    Runnel__Metadata__DeleteStream remove = RUNNEL__METADATA__DELETE_STREAM__INIT;
    remove.stream = &both;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM;
    operation.delete_stream = &remove;
    assert_int_equal(apply_as(ROOT, 0, &operation), METADATA_STATUS_STREAM_NOT_FOUND);
    /* Random bytes never assert and never change the streams. */
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    uint8_t random_body[64];
    for (uint32_t round = 0; round < 2000; round++) {
        for (uint32_t index = 0; index < sizeof(random_body); index++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            random_body[index] = (uint8_t)(seed >> 56);
        }
        uint32_t size = (uint32_t)(seed % sizeof(random_body));
        (void)apply_raw(ROOT, 0, random_body, size);
    }
    assert_non_null(metadata_stream_get(&metadata, 0));
    metadata_deinit(&metadata);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bootstrap_creates_root_once),
        cmocka_unit_test(test_stream_ids_lowest_free_and_names),
        cmocka_unit_test(test_topics_partitions_and_limits),
        cmocka_unit_test(test_partition_incarnations_and_purge),
        cmocka_unit_test(test_topic_settings_and_durability),
        cmocka_unit_test(test_permission_matrix),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_tokens_and_expiry),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_bad_op_bytes_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
