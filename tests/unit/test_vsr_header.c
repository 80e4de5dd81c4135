/*
 * Unit tests for proto/vsr_header: sealing and validation, that any single-bit flip in a
 * header or body is caught, that each invalid field is rejected with its reason even
 * under a correct checksum, a golden vector pinning layout and checksum rule, command
 * names and group helpers.
 */
#include "proto/vsr_header.h"

#include "lib/error.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { BODY_SIZE = 100, SIZE_MAX_BYTES = 1 << 20 };

static u128 u128_from(uint64_t high, uint64_t low)
{
    return ((u128)high << 64) | (u128)low;
}

static bool u128_equal(u128 a, u128 b)
{
    return a == b;
}

static void golden_body(uint8_t body[BODY_SIZE])
{
    for (uint32_t index = 0; index < BODY_SIZE; index++) {
        body[index] = (uint8_t)index;
    }
}

/*
 * The golden prepare (every other byte zero):
 *   cluster 0x0123456789abcdef_fedcba9876543210, view 3, release 1, epoch 0,
 *   group {stream 1, topic 2, partition 3, kind partition, incarnation 42},
 *   command prepare (6), replica 2, protocol 1,
 *   parent 0x1111111111111111_2222222222222222, request_checksum 0, checkpoint_id 10,
 *   client 0x3333333333333333_4444444444444444, op 7, commit 6,
 *   timestamp 1700000000000000000, request 5, offset 1000, message_count 10,
 *   operation messages (160); body: the 100 bytes 0, 1, ..., 99.
 */
static void golden_prepare(struct vsr_header *header, uint8_t body[BODY_SIZE])
{
    const struct vsr_group group = {
        .stream_id = 1, .topic_id = 2, .partition_id = 3, .kind = 1, .incarnation = 42};
    vsr_header_init(header, VSR_COMMAND_PREPARE,
                    u128_from(0x0123456789abcdefULL, 0xfedcba9876543210ULL), 3, 2, &group);
    header->release = 1;
    struct vsr_header_prepare *prepare = &header->u.prepare;
    prepare->parent = u128_from(0x1111111111111111ULL, 0x2222222222222222ULL);
    prepare->checkpoint_id = 10;
    prepare->client = u128_from(0x3333333333333333ULL, 0x4444444444444444ULL);
    prepare->op = 7;
    prepare->commit = 6;
    prepare->timestamp = 1700000000000000000ULL;
    prepare->request = 5;
    prepare->offset = 1000;
    prepare->message_count = 10;
    prepare->operation = VSR_OPERATION_MESSAGES;
    golden_body(body);
    vsr_header_seal(header, body, BODY_SIZE);
}

static void test_seal_then_validate(void **state)
{
    (void)state;
    struct vsr_header header;
    uint8_t body[BODY_SIZE];
    golden_prepare(&header, body);
    assert_int_equal(header.size, VSR_HEADER_SIZE + BODY_SIZE);
    assert_true(vsr_header_is_checksum_valid(&header));
    assert_true(vsr_header_is_body_valid(&header, body));
    const char *reason = "unset";
    assert_int_equal(vsr_header_validate(&header, SIZE_MAX_BYTES, &reason), 0);
    assert_null(reason);
    assert_int_equal(vsr_header_validate(&header, VSR_HEADER_SIZE + BODY_SIZE, NULL), 0);

    /* A header without a body. */
    struct vsr_header ping;
    vsr_header_init(&ping, VSR_COMMAND_PING, 1, 0, 0, NULL);
    ping.u.ping.ping_timestamp_monotonic = 99;
    vsr_header_seal(&ping, NULL, 0);
    assert_int_equal(ping.size, VSR_HEADER_SIZE);
    assert_true(vsr_header_is_body_valid(&ping, NULL));
    assert_int_equal(vsr_header_validate(&ping, VSR_HEADER_SIZE, &reason), 0);
}

/*
 * Checksums computed independently: the header bytes packed field by field with Python's
 * struct module, hashed with xxh128sum (Debian package xxhash), which prints the 128-bit
 * value high half first. Any change of layout, field order or checksum rule breaks this.
 */
static void test_golden_vector(void **state)
{
    (void)state;
    struct vsr_header header;
    uint8_t body[BODY_SIZE];
    golden_prepare(&header, body);
    assert_true(
        u128_equal(vsr_checksum(NULL, 0), u128_from(0x99aa06d3014798d8ULL, 0x6001c324468d497fULL)));
    assert_true(
        u128_equal(header.checksum_body, u128_from(0xda95ef16fd9566f3ULL, 0x29b20ba5f03ec01eULL)));
    assert_true(
        u128_equal(header.checksum, u128_from(0x42d81e236a921eb5ULL, 0xd35867bafde6671cULL)));
    /* Little-endian on the wire: the low half's low byte comes first. */
    const uint8_t *bytes = (const uint8_t *)&header;
    assert_int_equal(bytes[0], 0x1c);
    assert_int_equal(bytes[15], 0x42);
    assert_int_equal(bytes[48], (VSR_HEADER_SIZE + BODY_SIZE) & 0xff);
    assert_int_equal(bytes[88], VSR_COMMAND_PREPARE);
    assert_int_equal(bytes[192], 7);   /* prepare.op */
    assert_int_equal(bytes[236], 160); /* prepare.operation */
}

static void test_every_header_bit_flip_is_caught(void **state)
{
    (void)state;
    struct vsr_header header;
    uint8_t body[BODY_SIZE];
    golden_prepare(&header, body);
    uint8_t *bytes = (uint8_t *)&header;
    for (uint32_t bit = 0; bit < VSR_HEADER_SIZE * 8; bit++) {
        bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        const char *reason = NULL;
        assert_false(vsr_header_is_checksum_valid(&header));
        assert_int_equal(vsr_header_validate(&header, SIZE_MAX_BYTES, &reason), -RUNNEL_ECHECKSUM);
        assert_string_equal(reason, "header checksum mismatch");
        bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(vsr_header_validate(&header, SIZE_MAX_BYTES, NULL), 0);
}

static void test_every_body_bit_flip_is_caught(void **state)
{
    (void)state;
    struct vsr_header header;
    uint8_t body[BODY_SIZE];
    golden_prepare(&header, body);
    for (uint32_t bit = 0; bit < BODY_SIZE * 8; bit++) {
        body[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_false(vsr_header_is_body_valid(&header, body));
        assert_int_equal(vsr_header_validate(&header, SIZE_MAX_BYTES, NULL), 0);
        body[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_true(vsr_header_is_body_valid(&header, body));
}

/* Re-seals header (a correct checksum) and expects validate to name reason. */
static void expect_rejected(struct vsr_header *header, const char *expected)
{
    header->checksum = vsr_checksum((const uint8_t *)header + 16, VSR_HEADER_SIZE - 16);
    assert_true(vsr_header_is_checksum_valid(header));
    const char *reason = NULL;
    assert_int_equal(vsr_header_validate(header, SIZE_MAX_BYTES, &reason), -RUNNEL_EFORMAT);
    assert_non_null(reason);
    assert_string_equal(reason, expected);
}

static void test_frame_fields_rejected(void **state)
{
    (void)state;
    struct vsr_header header;
    uint8_t body[BODY_SIZE];
    golden_prepare(&header, body);
    const struct vsr_header golden = header;

    header.reserved_frame[36] = 1;
    expect_rejected(&header, "frame reserved bytes not zero");
    header = golden;
    header.u.prepare.reserved[0] = 0x80;
    expect_rejected(&header, "command reserved bytes not zero");
    uint8_t unknown_commands[] = {VSR_COMMAND_RESERVED, 3, 4, 12, 19, 23, VSR_COMMAND_END, 255};
    for (size_t index = 0; index < sizeof(unknown_commands); index++) {
        header = golden;
        header.command = unknown_commands[index];
        expect_rejected(&header, "unknown command");
    }
    header = golden;
    header.size = SIZE_MAX_BYTES + 1;
    expect_rejected(&header, "size out of range");
    header.size = VSR_HEADER_SIZE - 1;
    expect_rejected(&header, "size out of range");
    header.size = 0;
    expect_rejected(&header, "size out of range");
    header = golden;
    header.protocol = VSR_PROTOCOL_VERSION + 1;
    expect_rejected(&header, "unknown protocol version");
    header.protocol = 0;
    expect_rejected(&header, "unknown protocol version");
    header = golden;
    header.epoch = 1;
    expect_rejected(&header, "epoch not zero");
    header = golden;
    header.replica = VSR_REPLICAS_MAX;
    expect_rejected(&header, "replica out of range");
    header = golden;
    header.group.kind = VSR_GROUP_KIND_SHARD + 1;
    expect_rejected(&header, "unknown group kind");
    header = golden;
    header.group.kind = VSR_GROUP_KIND_SHARD; /* only heartbeats name a shard */
    expect_rejected(&header, "shard group and heartbeat go together");
    header = golden;
    header.command = VSR_COMMAND_HEARTBEAT_ACK; /* and they name nothing else */
    memset(&header.u, 0, sizeof(header.u));
    expect_rejected(&header, "shard group and heartbeat go together");
    header.group = (struct vsr_group){.kind = VSR_GROUP_KIND_SHARD, .stream_id = 1, .topic_id = 2};
    header.group.incarnation = 5;
    expect_rejected(&header, "shard group ids not zero");
    header.group.incarnation = 0;
    header.checksum = vsr_checksum((const uint8_t *)&header + 16, VSR_HEADER_SIZE - 16);
    assert_int_equal(vsr_header_validate(&header, SIZE_MAX_BYTES, NULL), 0);
    header = golden;
    header.group.kind = VSR_GROUP_KIND_METADATA;
    expect_rejected(&header, "metadata group ids not zero");
    memset(&header.group, 0, offsetof(struct vsr_group, kind));
    expect_rejected(&header, "metadata group ids not zero"); /* incarnation 42 left */
    header.group.incarnation = 0;
    header.checksum = vsr_checksum((const uint8_t *)&header + 16, VSR_HEADER_SIZE - 16);
    assert_int_equal(vsr_header_validate(&header, SIZE_MAX_BYTES, NULL), 0);
}

static void test_prepare_fields_rejected(void **state)
{
    (void)state;
    struct vsr_header header;
    uint8_t body[BODY_SIZE];
    golden_prepare(&header, body);
    const struct vsr_header golden = header;

    header.u.prepare.op = 0;
    header.u.prepare.commit = 0;
    expect_rejected(&header, "prepare op 0 is not root");
    header.u.prepare.operation = VSR_OPERATION_ROOT;
    header.checksum = vsr_checksum((const uint8_t *)&header + 16, VSR_HEADER_SIZE - 16);
    assert_int_equal(vsr_header_validate(&header, SIZE_MAX_BYTES, NULL), 0); /* the root */
    header = golden;
    header.u.prepare.operation = VSR_OPERATION_ROOT;
    expect_rejected(&header, "prepare root is not op 0");
    header = golden;
    header.u.prepare.operation = VSR_OPERATION_RESERVED;
    expect_rejected(&header, "prepare operation reserved");
    header = golden;
    header.u.prepare.commit = header.u.prepare.op;
    expect_rejected(&header, "prepare commit not below op");
    header.u.prepare.commit = UINT64_MAX;
    expect_rejected(&header, "prepare commit not below op");
    header = golden;
    header.u.prepare.reserved[17] = 1;
    expect_rejected(&header, "command reserved bytes not zero");
}

static void test_other_commands_rejected(void **state)
{
    (void)state;
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST_HEADERS, 1, 0, 0, NULL);
    header.u.request_headers.op_min = 5;
    header.u.request_headers.op_max = 4;
    expect_rejected(&header, "request_headers op_min above op_max");
    vsr_header_init(&header, VSR_COMMAND_DO_VIEW_CHANGE, 1, 4, 0, NULL);
    header.u.do_view_change.log_view = 5;
    expect_rejected(&header, "do_view_change log_view above view");
    vsr_header_init(&header, VSR_COMMAND_START_VIEW, 1, 4, 0, NULL);
    header.u.start_view.op = 9;
    header.u.start_view.commit_max = 10;
    expect_rejected(&header, "start_view commit_max above op");
    vsr_header_init(&header, VSR_COMMAND_START_VIEW_CHANGE, 1, 4, 0, NULL);
    header.u.bytes[0] = 1;
    expect_rejected(&header, "command reserved bytes not zero");
    vsr_header_init(&header, VSR_COMMAND_CHECKPOINT, 1, 4, 0, NULL);
    header.u.checkpoint_chunk.reserved[71] = 1;
    expect_rejected(&header, "command reserved bytes not zero");
    vsr_header_init(&header, VSR_COMMAND_COMMIT, 1, 4, 0, NULL);
    header.u.commit.reserved[0] = 1;
    expect_rejected(&header, "command reserved bytes not zero");
    header.u.commit.reserved[0] = 0;
    header.u.commit.commit = 3;
    vsr_header_seal(&header, NULL, 0);
    assert_int_equal(vsr_header_validate(&header, SIZE_MAX_BYTES, NULL), 0);
}

static void test_command_names(void **state)
{
    (void)state;
    assert_string_equal(vsr_command_name(VSR_COMMAND_PREPARE), "prepare");
    assert_string_equal(vsr_command_name(VSR_COMMAND_PREPARE_OK), "prepare_ok");
    assert_string_equal(vsr_command_name(VSR_COMMAND_START_VIEW_CHANGE), "start_view_change");
    assert_string_equal(vsr_command_name(VSR_COMMAND_CHECKPOINT), "checkpoint");
    assert_string_equal(vsr_command_name(VSR_COMMAND_REQUEST_RECORDS), "request_records");
    assert_string_equal(vsr_command_name(VSR_COMMAND_RESERVED), "unknown");
    assert_string_equal(vsr_command_name(3), "unknown");
    assert_string_equal(vsr_command_name(VSR_COMMAND_END), "unknown");
    assert_string_equal(vsr_command_name(255), "unknown");
    uint32_t known_count = 0;
    for (uint32_t command = 0; command < 256; command++) {
        const char *name = vsr_command_name((uint8_t)command);
        assert_non_null(name);
        known_count += strcmp(name, "unknown") != 0;
    }
    assert_int_equal(known_count, 21);
    assert_string_equal(vsr_command_name(VSR_COMMAND_HEARTBEAT), "heartbeat");
}

static void test_groups(void **state)
{
    (void)state;
    const struct vsr_group metadata = {0};
    const struct vsr_group partition = {
        .stream_id = 1, .topic_id = 2, .partition_id = 3, .kind = 1, .incarnation = 9};
    assert_true(vsr_group_is_equal(&metadata, &metadata));
    assert_true(vsr_group_is_equal(&partition, &partition));
    assert_false(vsr_group_is_equal(&metadata, &partition));
    struct vsr_group other = partition;
    other.incarnation = 10; /* a re-created partition is another group */
    assert_false(vsr_group_is_equal(&partition, &other));
    other = partition;
    other.partition_id = 4;
    assert_false(vsr_group_is_equal(&partition, &other));
    other = partition;
    other.stream_id = 0;
    assert_false(vsr_group_is_equal(&partition, &other));

    assert_int_equal(vsr_group_index(&metadata), 0);
    other = partition;
    other.incarnation = 10;
    assert_int_equal(vsr_group_index(&partition), vsr_group_index(&other));
    other.partition_id = 4; /* consecutive partitions land on consecutive primaries */
    assert_int_equal(vsr_group_index(&other), vsr_group_index(&partition) + 1);
    assert_int_equal(vsr_group_index(&partition), 1 * 7919 + 2 * 104729 + 3);
}

static void test_contract_assertions_fire(void **state)
{
    (void)state;
    struct vsr_header header;
    expect_assert_failure(vsr_header_init(&header, VSR_COMMAND_RESERVED, 1, 0, 0, NULL));
    expect_assert_failure(vsr_header_init(&header, VSR_COMMAND_END, 1, 0, 0, NULL));
    expect_assert_failure(vsr_header_init(&header, VSR_COMMAND_PING, 1, 0, VSR_REPLICAS_MAX, NULL));
    vsr_header_init(&header, VSR_COMMAND_PING, 1, 0, 0, NULL);
    expect_assert_failure(vsr_header_seal(&header, NULL, 1));
    expect_assert_failure(vsr_checksum(NULL, 1));
    expect_assert_failure(vsr_header_validate(&header, VSR_HEADER_SIZE - 1, NULL));
    header.size = 0;
    expect_assert_failure(vsr_header_set_checksum(&header));
    expect_assert_failure(vsr_header_is_body_valid(&header, NULL));
    expect_assert_failure(vsr_group_index(NULL));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_then_validate),
        cmocka_unit_test(test_golden_vector),
        cmocka_unit_test(test_every_header_bit_flip_is_caught),
        cmocka_unit_test(test_every_body_bit_flip_is_caught),
        cmocka_unit_test(test_frame_fields_rejected),
        cmocka_unit_test(test_prepare_fields_rejected),
        cmocka_unit_test(test_other_commands_rejected),
        cmocka_unit_test(test_command_names),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_contract_assertions_fire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
