/*
 * Unit tests for proto/cluster_wire (the runnel-only cluster commands, DESIGN.md §10.4):
 * map request and reply and the move request and reply round-trip byte-exact; a reply
 * cut at every length, with trailing bytes, or with any field out of range is refused
 * with a clean error and never read past its end.
 */
#include "lib/error.h"
#include "proto/cluster_wire.h"
#include "proto/iggy_command.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { MAP_PARTITIONS = 3 };

static uint32_t map_build(uint8_t *bytes, uint32_t capacity)
{
    struct iggy_writer writer;
    iggy_writer_init(&writer, bytes, capacity);
    struct cluster_wire_head head = {.replica_count = 3,
                                     .self = 1,
                                     .metadata_primary = 2,
                                     .metadata_view = 5,
                                     .metadata_status = CLUSTER_WIRE_STATUS_NORMAL,
                                     .shard_count = 4,
                                     .connection_shard = 3};
    cluster_wire_head_encode(&writer, &head);
    iggy_writer_u32(&writer, 3);
    for (uint8_t replica = 0; replica < 3; replica++) {
        struct cluster_wire_node node = {.replica = replica,
                                         .role = replica == 2 ? CLUSTER_WIRE_ROLE_PRIMARY
                                                              : CLUSTER_WIRE_ROLE_BACKUP,
                                         .is_self = replica == 1,
                                         .partitions_led = replica};
        cluster_wire_node_encode(&writer, &node);
    }
    iggy_writer_u32(&writer, MAP_PARTITIONS);
    for (uint32_t id = 0; id < MAP_PARTITIONS; id++) {
        struct cluster_wire_partition partition = {.stream_id = 7,
                                                   .topic_id = 8,
                                                   .partition_id = id,
                                                   .incarnation = 100 + id,
                                                   .view = id,
                                                   .primary = (uint8_t)(id % 3),
                                                   .status = (uint8_t)(id % 4),
                                                   .shard = (uint16_t)(id % 4)};
        cluster_wire_partition_encode(&writer, &partition);
    }
    assert_int_equal(writer.error, 0);
    return writer.size;
}

static void test_map_round_trip(void **state)
{
    (void)state;
    uint8_t bytes[512];
    uint32_t size = map_build(bytes, sizeof(bytes));
    assert_int_equal(size, CLUSTER_WIRE_MAP_HEAD_SIZE + 4 + 3 * CLUSTER_WIRE_NODE_SIZE + 4 +
                               MAP_PARTITIONS * CLUSTER_WIRE_PARTITION_SIZE);
    struct cluster_wire_map map;
    assert_int_equal(cluster_wire_map_decode(bytes, size, &map), 0);
    assert_int_equal(map.head.replica_count, 3);
    assert_int_equal(map.head.self, 1);
    assert_int_equal(map.head.metadata_primary, 2);
    assert_int_equal(map.head.metadata_view, 5);
    assert_int_equal(map.head.shard_count, 4);
    assert_int_equal(map.head.connection_shard, 3);
    assert_int_equal(map.node_count, 3);
    assert_int_equal(map.partition_count, MAP_PARTITIONS);
    struct cluster_wire_node node;
    cluster_wire_node_at(&map, 2, &node);
    assert_int_equal(node.replica, 2);
    assert_int_equal(node.role, CLUSTER_WIRE_ROLE_PRIMARY);
    assert_false(node.is_self);
    assert_int_equal(node.partitions_led, 2);
    struct cluster_wire_partition partition;
    cluster_wire_partition_at(&map, 2, &partition);
    assert_int_equal(partition.stream_id, 7);
    assert_int_equal(partition.topic_id, 8);
    assert_int_equal(partition.partition_id, 2);
    assert_int_equal(partition.incarnation, 102);
    assert_int_equal(partition.view, 2);
    assert_int_equal(partition.primary, 2);
    assert_int_equal(partition.status, 2);
    assert_int_equal(partition.shard, 2);
    /* Byte-exact: the head's fixed layout. */
    static const uint8_t head_bytes[] = {1, 3, 1, 2, 5, 0, 0, 0, 1, 0,
                                         0, 0, 4, 0, 0, 0, 3, 0, 0, 0};
    assert_memory_equal(bytes, head_bytes, sizeof(head_bytes));
}

static void test_map_truncated_and_trailing(void **state)
{
    (void)state;
    uint8_t bytes[512];
    uint32_t size = map_build(bytes, sizeof(bytes));
    struct cluster_wire_map map;
    for (uint32_t cut = 0; cut < size; cut++) {
        int result = cluster_wire_map_decode(bytes, cut, &map);
        assert_true(result == -RUNNEL_ETRUNCATED || result == -RUNNEL_EFORMAT);
        assert_int_equal(map.partition_count, 0);
    }
    bytes[size] = 0;
    assert_int_equal(cluster_wire_map_decode(bytes, size + 1, &map), -RUNNEL_EFORMAT);
    /* A count that claims more entries than the body holds. */
    uint32_t huge = 0xFFFFFFFFu;
    memcpy(bytes + CLUSTER_WIRE_MAP_HEAD_SIZE + 4 + 3 * CLUSTER_WIRE_NODE_SIZE, &huge, 4);
    assert_int_equal(cluster_wire_map_decode(bytes, size, &map), -RUNNEL_ETRUNCATED);
}

/* Each field out of its range makes the whole reply a format error. */
static void test_map_fields_out_of_range(void **state)
{
    (void)state;
    uint8_t bytes[512];
    uint32_t size = map_build(bytes, sizeof(bytes));
    uint32_t nodes_at = CLUSTER_WIRE_MAP_HEAD_SIZE + 4;
    uint32_t partitions_at = nodes_at + 3 * CLUSTER_WIRE_NODE_SIZE + 4;
    const struct {
        uint32_t at;
        uint8_t value;
    } cases[] = {
        {0, 2},                          /* version */
        {1, 0},                          /* replica_count 0 */
        {1, 17},                         /* replica_count over the maximum */
        {2, 3},                          /* self >= replica_count */
        {3, 3},                          /* metadata primary >= replica_count */
        {8, 4},                          /* metadata status */
        {12, 0},                         /* shard_count 0 (low byte; the rest are 0) */
        {16, 4},                         /* connection shard >= shard_count */
        {nodes_at, 3},                   /* node replica */
        {nodes_at + 1, 3},               /* node role */
        {partitions_at + 24, 3},         /* partition primary */
        {partitions_at + 25, 4},         /* partition status */
        {partitions_at + 26, 4},         /* partition shard >= shard_count */
        {CLUSTER_WIRE_MAP_HEAD_SIZE, 4}, /* more nodes than replicas */
    };
    for (size_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        uint8_t copy[512];
        memcpy(copy, bytes, size);
        copy[cases[index].at] = cases[index].value;
        struct cluster_wire_map map;
        int result = cluster_wire_map_decode(copy, size, &map);
        if (cases[index].at == CLUSTER_WIRE_MAP_HEAD_SIZE) {
            assert_true(result == -RUNNEL_EFORMAT || result == -RUNNEL_ETRUNCATED);
        } else {
            assert_int_equal(result, -RUNNEL_EFORMAT);
        }
    }
}

static void test_map_request(void **state)
{
    (void)state;
    uint8_t bytes[64];
    struct iggy_writer writer;
    iggy_writer_init(&writer, bytes, sizeof(bytes));
    assert_int_equal(cluster_wire_map_request_encode(&writer, false, NULL, NULL), 0);
    assert_int_equal(writer.size, 0);
    bool has_topic = true;
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    assert_int_equal(cluster_wire_map_request_decode(bytes, 0, &has_topic, &stream, &topic), 0);
    assert_false(has_topic);
    struct iggy_identifier ids[2] = {iggy_identifier_numeric(3),
                                     iggy_identifier_string(iggy_bytes_from_string("events"))};
    assert_int_equal(cluster_wire_map_request_encode(&writer, true, &ids[0], &ids[1]), 0);
    assert_int_equal(
        cluster_wire_map_request_decode(bytes, writer.size, &has_topic, &stream, &topic), 0);
    assert_true(has_topic);
    assert_true(iggy_identifier_is_equal(&stream, &ids[0]));
    assert_true(iggy_identifier_is_equal(&topic, &ids[1]));
    assert_int_not_equal(
        cluster_wire_map_request_decode(bytes, writer.size - 1, &has_topic, &stream, &topic), 0);
    assert_int_not_equal(cluster_wire_map_request_decode(bytes, 1, &has_topic, &stream, &topic), 0);
}

static void test_move(void **state)
{
    (void)state;
    uint8_t bytes[16];
    struct iggy_writer writer;
    iggy_writer_init(&writer, bytes, sizeof(bytes));
    cluster_wire_move_request_encode(&writer, 5);
    uint32_t shard = 0;
    assert_int_equal(cluster_wire_move_request_decode(bytes, writer.size, &shard), 0);
    assert_int_equal(shard, 5);
    assert_int_equal(cluster_wire_move_request_decode(bytes, 3, &shard), -RUNNEL_ETRUNCATED);
    assert_int_equal(cluster_wire_move_request_decode(bytes, 5, &shard), -RUNNEL_EFORMAT);
    iggy_writer_init(&writer, bytes, sizeof(bytes));
    cluster_wire_move_reply_encode(&writer, 1, 2);
    uint32_t count = 0;
    assert_int_equal(cluster_wire_move_reply_decode(bytes, writer.size, &shard, &count), 0);
    assert_int_equal(shard, 1);
    assert_int_equal(count, 2);
    bytes[0] = 2; /* shard == shard_count */
    assert_int_equal(cluster_wire_move_reply_decode(bytes, writer.size, &shard, &count),
                     -RUNNEL_EFORMAT);
    assert_int_equal(cluster_wire_move_reply_decode(bytes, 7, &shard, &count), -RUNNEL_ETRUNCATED);
}

static void test_codes(void **state)
{
    (void)state;
    assert_true(cluster_wire_is_command(RUNNEL_COMMAND_CLUSTER_MAP));
    assert_true(cluster_wire_is_command(RUNNEL_COMMAND_CONNECTION_MOVE));
    assert_false(cluster_wire_is_command(IGGY_COMMAND_CLUSTER_METADATA));
    /* Outside Iggy's ranges: Iggy's table does not know them. */
    assert_int_equal(iggy_command_class_of(RUNNEL_COMMAND_CLUSTER_MAP), IGGY_COMMAND_UNKNOWN);
    assert_int_equal(iggy_command_class_of(RUNNEL_COMMAND_CONNECTION_MOVE), IGGY_COMMAND_UNKNOWN);
    assert_string_equal(cluster_wire_command_name(RUNNEL_COMMAND_CLUSTER_MAP),
                        "runnel.cluster.map");
    assert_null(cluster_wire_command_name(1));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_round_trip),
        cmocka_unit_test(test_map_truncated_and_trailing),
        cmocka_unit_test(test_map_fields_out_of_range),
        cmocka_unit_test(test_map_request),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
