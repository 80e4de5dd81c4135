/* Unit tests for node/metadata consumer groups (ids never reused, cooperative join with
 * pending revocation, eager leave/logout/repartition, generations, fences) and for the
 * snapshot (deterministic bytes, round trip, untrusted input). */
#include "lib/error.h"
#include "node/metadata.h"
#include "proto/metadata.pb-c.h"

#include "tests/unit/helper_assert.h"
#include "tests/unit/helper_metadata.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint64_t op_last;
static uint8_t reply[METADATA_REPLY_SIZE_MAX];
static uint32_t reply_size;

static uint32_t apply_as(struct metadata *metadata, u128 client,
                         const Runnel__Metadata__MetadataOperation *operation)
{
    struct metadata_apply_context context = {
        .op = ++op_last, .timestamp_us = op_last * 1000000, .client = client, .user_id = 0};
    return helper_metadata_apply(metadata, &context, operation, reply, &reply_size);
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

/* Stream 0 "s" with topic 0 "t" of partitions partitions. */
static void namespace_create(struct metadata *metadata, uint32_t partitions)
{
    Runnel__Metadata__CreateStream stream = RUNNEL__METADATA__CREATE_STREAM__INIT;
    stream.name = text("s");
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_STREAM;
    operation.create_stream = &stream;
    assert_int_equal(apply_as(metadata, 0, &operation), 0);
    Runnel__Metadata__Identifier stream_id = id_of(0);
    Runnel__Metadata__CreateTopic topic = RUNNEL__METADATA__CREATE_TOPIC__INIT;
    topic.stream = &stream_id;
    topic.name = text("t");
    topic.partitions_count = partitions;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOPIC;
    operation.create_topic = &topic;
    assert_int_equal(apply_as(metadata, 0, &operation), 0);
}

enum group_kind { GROUP_CREATE, GROUP_DELETE, GROUP_JOIN, GROUP_LEAVE };

static uint32_t group_op(struct metadata *metadata, enum group_kind kind, u128 client,
                         uint32_t group_id, const char *name, uint32_t *in_flight,
                         size_t in_flight_count)
{
    Runnel__Metadata__Identifier stream = id_of(0);
    Runnel__Metadata__Identifier topic = id_of(0);
    Runnel__Metadata__Identifier group = id_of(group_id);
    Runnel__Metadata__CreateConsumerGroup create = RUNNEL__METADATA__CREATE_CONSUMER_GROUP__INIT;
    Runnel__Metadata__DeleteConsumerGroup remove = RUNNEL__METADATA__DELETE_CONSUMER_GROUP__INIT;
    Runnel__Metadata__JoinConsumerGroup join = RUNNEL__METADATA__JOIN_CONSUMER_GROUP__INIT;
    Runnel__Metadata__LeaveConsumerGroup leave = RUNNEL__METADATA__LEAVE_CONSUMER_GROUP__INIT;
    create.stream = remove.stream = join.stream = leave.stream = &stream;
    create.topic = remove.topic = join.topic = leave.topic = &topic;
    remove.group = join.group = leave.group = &group;
    create.name = text(name == NULL ? "g" : name);
    join.in_flight = in_flight;
    join.n_in_flight = in_flight_count;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    if (kind == GROUP_CREATE) {
        operation.operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_CONSUMER_GROUP;
        operation.create_consumer_group = &create;
    } else if (kind == GROUP_DELETE) {
        operation.operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_CONSUMER_GROUP;
        operation.delete_consumer_group = &remove;
    } else if (kind == GROUP_JOIN) {
        operation.operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_JOIN_CONSUMER_GROUP;
        operation.join_consumer_group = &join;
    } else {
        operation.operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LEAVE_CONSUMER_GROUP;
        operation.leave_consumer_group = &leave;
    }
    return apply_as(metadata, client, &operation);
}

/* Asserts the client's sync reply: generation and pollable partitions in order. */
static void expect_sync(const struct metadata *metadata, uint32_t group_id, u128 client,
                        uint64_t generation, const uint32_t *expected, int expected_count)
{
    const struct metadata_group *group = metadata_group_get(metadata, 0, 0, group_id);
    assert_non_null(group);
    uint64_t generation_got = 0;
    uint32_t partitions[64];
    int count = metadata_group_sync(metadata, group, client, &generation_got, partitions, 64);
    assert_int_equal(count, expected_count);
    assert_int_equal(generation_got, generation);
    for (int index = 0; index < count; index++) {
        assert_int_equal(partitions[index], expected[index]);
    }
}

static void setup(struct metadata *metadata)
{
    struct metadata_config config;
    metadata_config_defaults(&config);
    assert_int_equal(metadata_init(metadata, &config), 0);
    op_last = 0;
}

static void test_group_ids_never_reused(void **state)
{
    (void)state;
    struct metadata metadata;
    setup(&metadata);
    namespace_create(&metadata, 2);
    assert_int_equal(group_op(&metadata, GROUP_CREATE, 0, 0, "a", NULL, 0), 0);
    assert_int_equal(group_op(&metadata, GROUP_CREATE, 0, 0, "a", NULL, 0),
                     METADATA_STATUS_GROUP_NAME_EXISTS);
    assert_int_equal(group_op(&metadata, GROUP_DELETE, 0, 0, NULL, NULL, 0), 0);
    assert_int_equal(group_op(&metadata, GROUP_DELETE, 0, 0, NULL, NULL, 0),
                     METADATA_STATUS_GROUP_NOT_FOUND);
    assert_int_equal(group_op(&metadata, GROUP_CREATE, 0, 0, "a", NULL, 0), 0);
    /* ConsumerGroupDetails: id 1 (0 is never reused), partitions 2, members 0. */
    uint32_t id = (uint32_t)reply[4] | (uint32_t)reply[5] << 8;
    assert_int_equal(id, 1);
    assert_int_equal(reply[8], 2);
    assert_int_equal(reply[12], 0);
    assert_int_equal(group_op(&metadata, GROUP_JOIN, 5, 0, NULL, NULL, 0),
                     METADATA_STATUS_GROUP_NOT_FOUND);
    metadata_deinit(&metadata);
}

static void test_cooperative_join_pending_revocation_and_leave(void **state)
{
    (void)state;
    struct metadata metadata;
    setup(&metadata);
    namespace_create(&metadata, 6);
    assert_int_equal(group_op(&metadata, GROUP_CREATE, 0, 0, "g", NULL, 0), 0);
    const u128 a = 0xA, b = (u128)0xB << 64, c = 0xC;
    assert_int_equal(group_op(&metadata, GROUP_JOIN, a, 0, NULL, NULL, 0), 0);
    expect_sync(&metadata, 0, a, 1, (const uint32_t[]){0, 1, 2, 3, 4, 5}, 6);
    assert_int_equal(group_op(&metadata, GROUP_JOIN, a, 0, NULL, NULL, 0), 0); /* idempotent */
    expect_sync(&metadata, 0, a, 1, (const uint32_t[]){0, 1, 2, 3, 4, 5}, 6);
    /* B joins with nothing in flight: A's excess (from the end) moves at once. */
    assert_int_equal(group_op(&metadata, GROUP_JOIN, b, 0, NULL, NULL, 0), 0);
    expect_sync(&metadata, 0, a, 2, (const uint32_t[]){0, 1, 2}, 3);
    expect_sync(&metadata, 0, b, 2, (const uint32_t[]){5, 4, 3}, 3);
    /* C joins while A has partition 2 in flight: 2 is pending revocation, 3 moves. */
    uint32_t in_flight[] = {2, 999};
    assert_int_equal(group_op(&metadata, GROUP_JOIN, c, 0, NULL, in_flight, 2), 0);
    expect_sync(&metadata, 0, a, 3, (const uint32_t[]){0, 1}, 2);
    expect_sync(&metadata, 0, b, 3, (const uint32_t[]){5, 4}, 2);
    expect_sync(&metadata, 0, c, 3, (const uint32_t[]){3}, 1);
    const struct metadata_group *group = metadata_group_get(&metadata, 0, 0, 0);
    assert_false(metadata_group_can_poll(&metadata, group, a, 2));
    assert_true(metadata_group_can_commit(&metadata, group, a, 2));
    assert_false(metadata_group_can_poll(&metadata, group, c, 2));
    assert_false(metadata_group_can_commit(&metadata, group, c, 2));
    assert_true(metadata_group_can_poll(&metadata, group, c, 3));
    /* The source drained partition 2: the revocation completes (generation + 1). */
    Runnel__Metadata__CompleteRevocation complete = RUNNEL__METADATA__COMPLETE_REVOCATION__INIT;
    complete.source_client_low = (uint64_t)a;
    complete.partition_id = 2;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_COMPLETE_REVOCATION;
    operation.complete_revocation = &complete;
    assert_int_equal(apply_as(&metadata, 0, &operation), 0);
    expect_sync(&metadata, 0, a, 4, (const uint32_t[]){0, 1}, 2);
    expect_sync(&metadata, 0, c, 4, (const uint32_t[]){3, 2}, 2);
    assert_int_equal(apply_as(&metadata, 0, &operation), 0); /* stale: no change */
    expect_sync(&metadata, 0, c, 4, (const uint32_t[]){3, 2}, 2);
    /* B leaves: eager round-robin over A and C in member-id order. */
    assert_int_equal(group_op(&metadata, GROUP_LEAVE, b, 0, NULL, NULL, 0), 0);
    assert_int_equal(group_op(&metadata, GROUP_LEAVE, b, 0, NULL, NULL, 0),
                     METADATA_STATUS_GROUP_MEMBER_NOT_FOUND);
    expect_sync(&metadata, 0, a, 5, (const uint32_t[]){0, 2, 4}, 3);
    expect_sync(&metadata, 0, c, 5, (const uint32_t[]){1, 3, 5}, 3);
    uint64_t generation = 0;
    uint32_t partitions[8];
    assert_int_equal(metadata_group_sync(&metadata, group, b, &generation, partitions, 8),
                     -RUNNEL_ENOTFOUND);
    /* B re-joins and gets member id 1 back (lowest free). */
    assert_int_equal(group_op(&metadata, GROUP_JOIN, b, 0, NULL, NULL, 0), 0);
    assert_int_equal(metadata_group_sync(&metadata, group, b, &generation, partitions, 8), 2);
    metadata_deinit(&metadata);
}

static void test_logout_and_repartition_rebalance(void **state)
{
    (void)state;
    struct metadata metadata;
    setup(&metadata);
    namespace_create(&metadata, 4);
    assert_int_equal(group_op(&metadata, GROUP_CREATE, 0, 0, "g", NULL, 0), 0);
    assert_int_equal(group_op(&metadata, GROUP_JOIN, 1, 0, NULL, NULL, 0), 0);
    assert_int_equal(group_op(&metadata, GROUP_JOIN, 2, 0, NULL, NULL, 0), 0);
    expect_sync(&metadata, 0, 1, 2, (const uint32_t[]){0, 1}, 2);
    Runnel__Metadata__Identifier stream = id_of(0);
    Runnel__Metadata__Identifier topic = id_of(0);
    Runnel__Metadata__CreatePartitions create = RUNNEL__METADATA__CREATE_PARTITIONS__INIT;
    create.stream = &stream;
    create.topic = &topic;
    create.count = 2;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_PARTITIONS;
    operation.create_partitions = &create;
    assert_int_equal(apply_as(&metadata, 0, &operation), 0);
    expect_sync(&metadata, 0, 1, 3, (const uint32_t[]){0, 2, 4}, 3);
    expect_sync(&metadata, 0, 2, 3, (const uint32_t[]){1, 3, 5}, 3);
    Runnel__Metadata__LogoutClient logout = RUNNEL__METADATA__LOGOUT_CLIENT__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LOGOUT_CLIENT;
    operation.logout_client = &logout;
    assert_int_equal(apply_as(&metadata, 1, &operation), 0);
    expect_sync(&metadata, 0, 2, 4, (const uint32_t[]){0, 1, 2, 3, 4, 5}, 6);
    metadata_deinit(&metadata);
}

/* A fixed history touching every table. */
static void history_apply(struct metadata *metadata)
{
    Runnel__Metadata__Bootstrap root = RUNNEL__METADATA__BOOTSTRAP__INIT;
    root.username = text("iggy");
    root.password_hash = text("$argon2id$root");
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_BOOTSTRAP;
    operation.bootstrap = &root;
    assert_int_equal(apply_as(metadata, 0, &operation), 0);
    namespace_create(metadata, 5);
    assert_int_equal(group_op(metadata, GROUP_CREATE, 0, 0, "g", NULL, 0), 0);
    uint32_t in_flight[] = {4};
    assert_int_equal(group_op(metadata, GROUP_JOIN, 21, 0, NULL, NULL, 0), 0);
    assert_int_equal(group_op(metadata, GROUP_JOIN, 22, 0, NULL, in_flight, 1), 0);
    Runnel__Metadata__TopicPermissions topic_grant = RUNNEL__METADATA__TOPIC_PERMISSIONS__INIT;
    topic_grant.topic_id = 0;
    topic_grant.has_read_topic = topic_grant.read_topic = true;
    Runnel__Metadata__TopicPermissions *topics[] = {&topic_grant};
    Runnel__Metadata__StreamPermissions stream_grant = RUNNEL__METADATA__STREAM_PERMISSIONS__INIT;
    stream_grant.stream_id = 0;
    stream_grant.has_send_messages = stream_grant.send_messages = true;
    stream_grant.n_topics = 1;
    stream_grant.topics = topics;
    Runnel__Metadata__StreamPermissions *streams[] = {&stream_grant};
    Runnel__Metadata__Permissions permissions = RUNNEL__METADATA__PERMISSIONS__INIT;
    permissions.has_read_users = permissions.read_users = true;
    permissions.n_streams = 1;
    permissions.streams = streams;
    Runnel__Metadata__CreateUser user = RUNNEL__METADATA__CREATE_USER__INIT;
    user.username = text("user1");
    user.password_hash = text("$argon2id$u1");
    user.status = METADATA_USER_ACTIVE;
    user.permissions = &permissions;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_USER;
    operation.create_user = &user;
    assert_int_equal(apply_as(metadata, 0, &operation), 0);
    const char *names[] = {"zeta", "alpha"};
    for (size_t index = 0; index < 2; index++) {
        Runnel__Metadata__CreateToken token = RUNNEL__METADATA__CREATE_TOKEN__INIT;
        token.name = text(names[index]);
        token.expiry_us = index * 1000;
        token.token_hash = text(names[index]);
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOKEN;
        operation.create_token = &token;
        assert_int_equal(apply_as(metadata, 0, &operation), 0);
    }
    Runnel__Metadata__RegisterClient client = RUNNEL__METADATA__REGISTER_CLIENT__INIT;
    client.has_user_id = true;
    client.user_id = 1;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_REGISTER_CLIENT;
    operation.register_client = &client;
    for (u128 id = 3; id > 0; id--) {
        assert_int_equal(apply_as(metadata, id << 70, &operation), 0);
    }
}

static void test_snapshot_deterministic_and_round_trip(void **state)
{
    (void)state;
    struct metadata first, second, restored;
    setup(&first);
    history_apply(&first);
    setup(&second);
    history_apply(&second);
    uint8_t *first_bytes = NULL, *second_bytes = NULL, *restored_bytes = NULL;
    size_t first_size = helper_metadata_snapshot(&first, &first_bytes);
    size_t second_size = helper_metadata_snapshot(&second, &second_bytes);
    assert_int_equal(first_size, second_size);
    assert_memory_equal(first_bytes, second_bytes, first_size);
    setup(&restored);
    assert_int_equal(metadata_snapshot_decode(&restored, first_bytes, first_size), 0);
    size_t restored_size = helper_metadata_snapshot(&restored, &restored_bytes);
    assert_int_equal(restored_size, first_size);
    assert_memory_equal(restored_bytes, first_bytes, first_size);
    assert_int_equal(restored.op, first.op);
    const struct metadata_group *group = metadata_group_get(&restored, 0, 0, 0);
    assert_false(metadata_group_can_poll(&restored, group, 21, 4)); /* pending kept */
    assert_true(metadata_group_can_commit(&restored, group, 21, 4));
    assert_true(metadata_is_permitted(&restored, 1, METADATA_ACTION_TOPIC_READ, 0, 0));
    assert_false(metadata_is_permitted(&restored, 1, METADATA_ACTION_TOPIC_READ, 0, 1));
    /* The restored replica goes on exactly as the live one. */
    op_last = first.op;
    assert_int_equal(group_op(&first, GROUP_JOIN, 23, 0, NULL, NULL, 0), 0);
    op_last = first.op - 1;
    assert_int_equal(group_op(&restored, GROUP_JOIN, 23, 0, NULL, NULL, 0), 0);
    free(first_bytes);
    free(restored_bytes);
    first_size = helper_metadata_snapshot(&first, &first_bytes);
    restored_size = helper_metadata_snapshot(&restored, &restored_bytes);
    assert_int_equal(restored_size, first_size);
    assert_memory_equal(restored_bytes, first_bytes, first_size);
    free(first_bytes);
    free(second_bytes);
    free(restored_bytes);
    metadata_deinit(&first);
    metadata_deinit(&second);
    metadata_deinit(&restored);
}

static void test_snapshot_rejects_bad_bytes(void **state)
{
    (void)state;
    struct metadata metadata;
    setup(&metadata);
    history_apply(&metadata);
    uint8_t *bytes = NULL;
    size_t size = helper_metadata_snapshot(&metadata, &bytes);
    const uint8_t garbage[] = {0x0A, 0xFF, 0xFF, 0xFF};
    assert_int_equal(metadata_snapshot_decode(&metadata, garbage, sizeof(garbage)),
                     -RUNNEL_EFORMAT);
    assert_int_equal(metadata.streams_count, 0); /* reset */
    for (size_t cut = 0; cut < size; cut += 7) {
        int result = metadata_snapshot_decode(&metadata, bytes, cut);
        assert_true(result == 0 || result == -RUNNEL_EFORMAT || result == -RUNNEL_EVERSION);
    }
    uint64_t seed = 42;
    for (uint32_t round = 0; round < 500; round++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t position = (size_t)(seed >> 33) % size;
        uint8_t saved = bytes[position];
        bytes[position] ^= (uint8_t)(1u << ((seed >> 20) % 8));
        int result = metadata_snapshot_decode(&metadata, bytes, size);
        assert_true(result == 0 || result < 0);
        bytes[position] = saved;
    }
    assert_int_equal(metadata_snapshot_decode(&metadata, bytes, size), 0);
    assert_non_null(metadata_user_get(&metadata, 1));
    free(bytes);
    metadata_deinit(&metadata);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_ids_never_reused),
        cmocka_unit_test(test_cooperative_join_pending_revocation_and_leave),
        cmocka_unit_test(test_logout_and_repartition_rebalance),
        cmocka_unit_test(test_snapshot_deterministic_and_round_trip),
        cmocka_unit_test(test_snapshot_rejects_bad_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
