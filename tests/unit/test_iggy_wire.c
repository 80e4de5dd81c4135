/* Unit tests for proto/iggy_wire: reader/writer bounds and sticky errors, every primitive
 * of research/iggy-protocol.md §4 against hand-built bytes, UTF-8, TLV blocks (the
 * iggy-bench options block of §9.1), permissions and the result section. */
#include "lib/error.h"
#include "proto/iggy_wire.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static struct iggy_bytes bytes_of(const uint8_t *bytes, uint32_t size)
{
    struct iggy_bytes slice = {bytes, size};
    return slice;
}

static void test_reader_bounds_and_sticky_error(void **state)
{
    (void)state;
    const uint8_t input[7] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    struct iggy_reader reader;
    iggy_reader_init(&reader, input, sizeof(input));
    assert_int_equal(iggy_reader_u16(&reader), 0x0201);
    assert_int_equal(iggy_reader_u32(&reader), 0x06050403);
    assert_int_equal(iggy_reader_remaining(&reader), 1);
    assert_int_equal(iggy_reader_u16(&reader), 0); /* one byte short */
    assert_int_equal(reader.error, -RUNNEL_ETRUNCATED);
    assert_int_equal(iggy_reader_u8(&reader), 0); /* sticky: even the byte that exists */
    assert_int_equal(iggy_reader_remaining(&reader), 0);
    iggy_reader_init(&reader, input, sizeof(input));
    (void)iggy_reader_u32(&reader);
    assert_int_equal(iggy_reader_finish(&reader), -RUNNEL_EFORMAT); /* trailing bytes */
    iggy_reader_init(&reader, input, sizeof(input));
    assert_true(iggy_reader_u64(&reader) == 0);
    iggy_reader_init(&reader, NULL, 0);
    assert_int_equal(iggy_reader_finish(&reader), 0);
}

static void test_writer_capacity(void **state)
{
    (void)state;
    uint8_t buffer[6];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    iggy_writer_u32(&writer, 0xAABBCCDD);
    iggy_writer_u16(&writer, 0x1122);
    assert_int_equal(writer.error, 0);
    assert_int_equal(writer.size, 6);
    static const uint8_t expected[6] = {0xDD, 0xCC, 0xBB, 0xAA, 0x22, 0x11};
    assert_memory_equal(buffer, expected, 6);
    iggy_writer_u8(&writer, 1);
    assert_int_equal(writer.error, -RUNNEL_ETOOLARGE);
    assert_int_equal(writer.size, 6);
    assert_null(iggy_writer_reserve(&writer, 0));
}

static void test_utf8(void **state)
{
    (void)state;
    static const uint8_t good[] = {'a', 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80};
    assert_true(iggy_wire_is_utf8(bytes_of(good, sizeof(good))));
    static const uint8_t overlong[] = {0xC0, 0x80};
    static const uint8_t surrogate[] = {0xED, 0xA0, 0x80};
    static const uint8_t too_high[] = {0xF4, 0x90, 0x80, 0x80};
    static const uint8_t cut[] = {0xE2, 0x82};
    static const uint8_t bad_continuation[] = {0xE2, 0x28, 0xA1};
    static const uint8_t overlong3[] = {0xE0, 0x80, 0x80};
    assert_false(iggy_wire_is_utf8(bytes_of(overlong, sizeof(overlong))));
    assert_false(iggy_wire_is_utf8(bytes_of(surrogate, sizeof(surrogate))));
    assert_false(iggy_wire_is_utf8(bytes_of(too_high, sizeof(too_high))));
    assert_false(iggy_wire_is_utf8(bytes_of(cut, sizeof(cut))));
    assert_false(iggy_wire_is_utf8(bytes_of(bad_continuation, sizeof(bad_continuation))));
    assert_false(iggy_wire_is_utf8(bytes_of(overlong3, sizeof(overlong3))));
    assert_true(iggy_wire_is_utf8(bytes_of(NULL, 0)));
}

static int decode_identifier(const uint8_t *bytes, uint32_t size, struct iggy_identifier *out)
{
    struct iggy_reader reader;
    iggy_reader_init(&reader, bytes, size);
    iggy_wire_identifier_decode(&reader, out);
    return iggy_reader_finish(&reader);
}

static void test_identifier(void **state)
{
    (void)state;
    struct iggy_identifier id;
    static const uint8_t numeric[] = {0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(decode_identifier(numeric, sizeof(numeric), &id), 0);
    assert_int_equal(id.kind, IGGY_IDENTIFIER_NUMERIC);
    assert_int_equal(id.numeric, 0); /* 0 is a valid id */
    static const uint8_t text[] = {0x02, 0x03, 'a', 'b', 'c'};
    assert_int_equal(decode_identifier(text, sizeof(text), &id), 0);
    assert_int_equal(id.name.size, 3);
    assert_ptr_equal(id.name.bytes, text + 2); /* zero-copy */
    static const uint8_t numeric_bad_len[] = {0x01, 0x02, 0x00, 0x00};
    static const uint8_t empty_string[] = {0x02, 0x00};
    static const uint8_t bad_kind[] = {0x03, 0x01, 'x'};
    static const uint8_t bad_utf8[] = {0x02, 0x01, 0xFF};
    static const uint8_t short_string[] = {0x02, 0x05, 'a'};
    assert_int_equal(decode_identifier(numeric_bad_len, 4, &id), -RUNNEL_EFORMAT);
    assert_int_equal(decode_identifier(empty_string, 2, &id), -RUNNEL_EFORMAT);
    assert_int_equal(decode_identifier(bad_kind, 3, &id), -RUNNEL_EFORMAT);
    assert_int_equal(decode_identifier(bad_utf8, 3, &id), -RUNNEL_EFORMAT);
    assert_int_equal(decode_identifier(short_string, 3, &id), -RUNNEL_ETRUNCATED);
    uint8_t buffer[8];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    struct iggy_identifier three = iggy_identifier_numeric(3);
    iggy_wire_identifier_encode(&writer, &three);
    static const uint8_t expected[] = {0x01, 0x04, 0x03, 0x00, 0x00, 0x00};
    assert_int_equal(writer.size, 6);
    assert_memory_equal(buffer, expected, 6);
    struct iggy_identifier name = iggy_identifier_string(iggy_bytes_from_string("abc"));
    assert_false(iggy_identifier_is_equal(&three, &name));
    assert_int_equal(decode_identifier(text, sizeof(text), &id), 0);
    assert_true(iggy_identifier_is_equal(&id, &name));
}

static void test_partitioning_polling_consumer_ack(void **state)
{
    (void)state;
    struct iggy_reader reader;
    struct iggy_partitioning partitioning;
    static const uint8_t balanced[] = {0x01, 0x00};
    static const uint8_t balanced_bad[] = {0x01, 0x01, 0x00};
    static const uint8_t by_id[] = {0x02, 0x04, 0x07, 0x00, 0x00, 0x00};
    static const uint8_t by_key[] = {0x03, 0x02, 'k', '1'};
    static const uint8_t key_empty[] = {0x03, 0x00};
    iggy_reader_init(&reader, balanced, sizeof(balanced));
    iggy_wire_partitioning_decode(&reader, &partitioning);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    iggy_reader_init(&reader, balanced_bad, sizeof(balanced_bad));
    iggy_wire_partitioning_decode(&reader, &partitioning);
    assert_int_equal(reader.error, -RUNNEL_EFORMAT);
    iggy_reader_init(&reader, by_id, sizeof(by_id));
    iggy_wire_partitioning_decode(&reader, &partitioning);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    assert_int_equal(partitioning.partition_id, 7);
    iggy_reader_init(&reader, by_key, sizeof(by_key));
    iggy_wire_partitioning_decode(&reader, &partitioning);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    assert_int_equal(partitioning.key.size, 2);
    iggy_reader_init(&reader, key_empty, sizeof(key_empty));
    iggy_wire_partitioning_decode(&reader, &partitioning);
    assert_int_equal(reader.error, -RUNNEL_EFORMAT);

    struct iggy_polling_strategy strategy;
    static const uint8_t next[] = {5, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t bad[] = {6, 0, 0, 0, 0, 0, 0, 0, 0};
    iggy_reader_init(&reader, next, sizeof(next));
    iggy_wire_polling_decode(&reader, &strategy);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    assert_int_equal(strategy.kind, IGGY_POLLING_NEXT);
    iggy_reader_init(&reader, bad, sizeof(bad));
    iggy_wire_polling_decode(&reader, &strategy);
    assert_int_equal(reader.error, -RUNNEL_EFORMAT);

    struct iggy_consumer consumer;
    static const uint8_t group[] = {2, 1, 4, 9, 0, 0, 0};
    static const uint8_t bad_consumer[] = {3, 1, 4, 9, 0, 0, 0};
    iggy_reader_init(&reader, group, sizeof(group));
    iggy_wire_consumer_decode(&reader, &consumer);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    assert_int_equal(consumer.kind, IGGY_CONSUMER_GROUP);
    assert_int_equal(consumer.id.numeric, 9);
    iggy_reader_init(&reader, bad_consumer, sizeof(bad_consumer));
    iggy_wire_consumer_decode(&reader, &consumer);
    assert_int_equal(reader.error, -RUNNEL_EFORMAT);

    static const uint8_t acks[] = {0, 1, 2};
    iggy_reader_init(&reader, acks, sizeof(acks));
    assert_int_equal(iggy_wire_ack_decode(&reader), 0);
    assert_int_equal(iggy_wire_ack_decode(&reader), 1);
    (void)iggy_wire_ack_decode(&reader);
    assert_int_equal(reader.error, -RUNNEL_EFORMAT);

    struct iggy_optional_partition partition;
    static const uint8_t flag_two[] = {2, 5, 0, 0, 0};
    iggy_reader_init(&reader, flag_two, sizeof(flag_two));
    iggy_wire_optional_partition_decode(&reader, &partition);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    assert_false(partition.is_set); /* presence flags are true only when exactly 1 */
}

/* §9.1: the options block iggy-bench sends with CREATE_TOPIC. */
static const uint8_t bench_options[] = {
    0x02, 0x0e, 0x00, 0x00, 0x00, 'm',  'a',  'x',  '_',  't',  'o',  'p',  'i',  'c',  '_',  's',
    'i',  'z',  'e',  0x0c, 0x08, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x02, 0x0e, 0x00, 0x00, 0x00, 'm',  'e',  's',  's',  'a',  'g',  'e',  '_',  'e',  'x',  'p',
    'i',  'r',  'y',  0x0c, 0x08, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void test_tlv_options(void **state)
{
    (void)state;
    uint32_t pairs = 0;
    struct iggy_bytes block = bytes_of(bench_options, sizeof(bench_options));
    assert_int_equal(iggy_wire_tlv_validate(block, true, &pairs), 0);
    assert_int_equal(pairs, 2);
    struct iggy_reader reader;
    iggy_reader_init(&reader, block.bytes, block.size);
    struct iggy_tlv_pair pair;
    assert_true(iggy_wire_tlv_next(&reader, &pair));
    assert_true(iggy_bytes_is_equal(pair.key, iggy_bytes_from_string("max_topic_size")));
    assert_int_equal(pair.value_kind, IGGY_TLV_UINT64);
    assert_true(iggy_wire_tlv_next(&reader, &pair));
    assert_false(iggy_wire_tlv_next(&reader, &pair));
    /* Re-encoding gives the same bytes. */
    uint8_t buffer[sizeof(bench_options)];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    iggy_reader_init(&reader, block.bytes, block.size);
    while (iggy_wire_tlv_next(&reader, &pair)) {
        iggy_wire_tlv_encode(&writer, &pair);
    }
    assert_int_equal(writer.size, sizeof(bench_options));
    assert_memory_equal(buffer, bench_options, sizeof(bench_options));
    /* Every truncation fails, except at the pair boundary (a valid shorter block). */
    for (uint32_t size = 1; size < sizeof(bench_options); size++) {
        int result = iggy_wire_tlv_validate(bytes_of(bench_options, size), true, NULL);
        if (size == 32) {
            assert_int_equal(result, 0);
        } else {
            assert_true(result < 0);
        }
    }
    /* Duplicate keys, non-string keys and odd entry counts fail as options. */
    uint8_t duplicate[64];
    memcpy(duplicate, bench_options, 32);
    memcpy(duplicate + 32, bench_options, 32);
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(duplicate, 64), true, NULL), -RUNNEL_EFORMAT);
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(duplicate, 64), false, NULL), 0);
    memcpy(buffer, bench_options, 32);
    buffer[0] = IGGY_TLV_RAW;
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(buffer, 32), true, NULL), -RUNNEL_EFORMAT);
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(buffer, 32), false, NULL), 0);
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(bench_options, 19), false, NULL),
                     -RUNNEL_EFORMAT);
    buffer[0] = 0; /* kind 0 */
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(buffer, 32), false, NULL), -RUNNEL_EFORMAT);
    static const uint8_t zero_length[] = {2, 0, 0, 0, 0, 2, 1, 0, 0, 0, 'x'};
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(zero_length, 11), false, NULL),
                     -RUNNEL_EFORMAT);
    static const uint8_t huge_length[] = {2, 0, 1, 0, 0, 'k'};
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(huge_length, 6), false, NULL),
                     -RUNNEL_EFORMAT);
}

static void test_options_limits(void **state)
{
    (void)state;
    /* 1025 distinct pairs: over the pair limit. Each pair: key "kNNNN" (5) + 1-byte value. */
    static uint8_t block[1025 * 16];
    uint32_t size = 0;
    for (uint32_t index = 0; index < 1025; index++) {
        uint8_t *at = block + size;
        at[0] = IGGY_TLV_STRING;
        at[1] = 5;
        at[2] = at[3] = at[4] = 0;
        at[5] = 'k';
        at[6] = (uint8_t)('0' + index / 1000);
        at[7] = (uint8_t)('0' + index / 100 % 10);
        at[8] = (uint8_t)('0' + index / 10 % 10);
        at[9] = (uint8_t)('0' + index % 10);
        at[10] = IGGY_TLV_UINT8;
        at[11] = 1;
        at[12] = at[13] = at[14] = 0;
        at[15] = 7;
        size += 16;
    }
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(block, 1024 * 16), true, NULL), 0);
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(block, size), true, NULL), -RUNNEL_EFORMAT);
    assert_int_equal(iggy_wire_tlv_validate(bytes_of(block, size), false, NULL), 0);
}

static void test_permissions_round_trip(void **state)
{
    (void)state;
    struct iggy_topic_permissions topics[2] = {{5, {true, false, true, false}},
                                               {6, {false, true, false, true}}};
    struct iggy_stream_permissions streams[2] = {
        {1, {true, true, false, false, true, true}, topics, 2},
        {2, {false, false, true, true, false, false}, NULL, 0},
    };
    struct iggy_permissions permissions;
    memset(&permissions, 0, sizeof(permissions));
    permissions.global[IGGY_PERMISSION_READ_STREAMS] = true;
    permissions.global[IGGY_PERMISSION_SEND_MESSAGES] = true;
    permissions.streams = streams;
    permissions.stream_count = 2;
    uint32_t size = iggy_wire_permissions_size(&permissions);
    assert_int_equal(size, 11 + (12 + 18) + 12);
    uint8_t buffer[64];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    iggy_wire_permissions_encode(&writer, &permissions);
    assert_int_equal(writer.size, size);
    assert_int_equal(buffer[5], 1);  /* read_streams */
    assert_int_equal(buffer[10], 1); /* has_streams */
    assert_int_equal(buffer[11], 1); /* stream id 1 */
    struct iggy_reader reader;
    iggy_reader_init(&reader, buffer, size);
    struct iggy_permissions decoded;
    iggy_wire_permissions_decode(&reader, size, &decoded);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    assert_int_equal(decoded.stream_count, 2);
    assert_true(decoded.global[IGGY_PERMISSION_SEND_MESSAGES]);
    struct iggy_permissions_cursor cursor;
    iggy_permissions_cursor_init(&cursor, &decoded);
    struct iggy_stream_permissions stream;
    struct iggy_topic_permissions topic_out[1];
    uint32_t topic_count = 0;
    assert_true(iggy_permissions_cursor_next(&cursor, &stream, topic_out, 1, &topic_count));
    assert_int_equal(stream.stream_id, 1);
    assert_int_equal(topic_count, 2);
    assert_int_equal(stream.topic_count, 1); /* clipped to topics_max */
    assert_int_equal(topic_out[0].topic_id, 5);
    assert_true(topic_out[0].flags[IGGY_PERMISSION_TOPIC_POLL_MESSAGES]);
    assert_true(iggy_permissions_cursor_next(&cursor, &stream, topic_out, 1, &topic_count));
    assert_int_equal(stream.stream_id, 2);
    assert_int_equal(topic_count, 0);
    assert_false(iggy_permissions_cursor_next(&cursor, &stream, topic_out, 1, &topic_count));
    /* Wrong lengths: every shorter size and one more byte fail. */
    for (uint32_t cut = 0; cut < size; cut++) {
        iggy_reader_init(&reader, buffer, size);
        iggy_wire_permissions_decode(&reader, cut, &decoded);
        assert_true(reader.error < 0);
    }
    buffer[size] = 0;
    iggy_reader_init(&reader, buffer, size + 1);
    iggy_wire_permissions_decode(&reader, size + 1, &decoded);
    assert_int_equal(reader.error, -RUNNEL_EFORMAT);
}

static void test_result_section(void **state)
{
    (void)state;
    uint8_t buffer[12];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    iggy_wire_result_encode(&writer, 1009);
    static const uint8_t expected[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0xF1, 0x03, 0, 0};
    assert_memory_equal(buffer, expected, 12);
    struct iggy_reader reader;
    uint32_t code = 0;
    iggy_reader_init(&reader, buffer, 12);
    iggy_wire_result_decode(&reader, &code);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    assert_int_equal(code, 1009);
    iggy_reader_init(&reader, buffer, 11);
    iggy_wire_result_decode(&reader, &code);
    assert_int_equal(reader.error, -RUNNEL_ETRUNCATED);
    static const uint8_t huge_count[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    iggy_reader_init(&reader, huge_count, 8);
    iggy_wire_result_decode(&reader, &code);
    assert_int_equal(reader.error, -RUNNEL_ETRUNCATED);
    static const uint8_t ok[4] = {0};
    iggy_reader_init(&reader, ok, 4);
    iggy_wire_result_decode(&reader, &code);
    assert_int_equal(iggy_reader_finish(&reader), 0);
    assert_int_equal(code, 0);
}

/* A count from the input passes only when that many entries fit in what is left. */
static void test_entry_counts(void **state)
{
    (void)state;
    static const uint8_t bytes[12] = {0};
    struct iggy_reader reader;
    iggy_reader_init(&reader, bytes, sizeof(bytes));
    (void)iggy_reader_u32(&reader);
    assert_true(iggy_reader_has_entries(&reader, 0, 4));
    assert_true(iggy_reader_has_entries(&reader, 2, 4)); /* exactly the 8 bytes left */
    assert_int_equal(reader.error, 0);
    assert_false(iggy_reader_has_entries(&reader, 3, 3));
    assert_int_equal(reader.error, -RUNNEL_ETRUNCATED);
    assert_false(iggy_reader_has_entries(&reader, 1, 1)); /* a failed reader has nothing left */
    assert_true(iggy_reader_has_entries(&reader, 0, 1));
    iggy_reader_init(&reader, bytes, sizeof(bytes));
    assert_false(iggy_reader_has_entries(&reader, UINT32_MAX, 1));
    expect_assert_failure(iggy_reader_has_entries(&reader, 1, 0));
}

static void test_names(void **state)
{
    (void)state;
    struct iggy_reader reader;
    static const uint8_t empty_name[] = {0};
    iggy_reader_init(&reader, empty_name, 1);
    (void)iggy_wire_name_decode(&reader);
    assert_int_equal(reader.error, -RUNNEL_EFORMAT);
    iggy_reader_init(&reader, empty_name, 1);
    struct iggy_bytes password = iggy_wire_password_decode(&reader);
    assert_int_equal(iggy_reader_finish(&reader), 0); /* passwords may be empty */
    assert_int_equal(password.size, 0);
    static const uint8_t string32[] = {3, 0, 0, 0, 'a', 'b'};
    iggy_reader_init(&reader, string32, sizeof(string32));
    (void)iggy_wire_string32_decode(&reader);
    assert_int_equal(reader.error, -RUNNEL_ETRUNCATED);
    uint8_t buffer[4];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    expect_assert_failure(iggy_wire_name_encode(&writer, iggy_bytes_from_string("")));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_bounds_and_sticky_error),
        cmocka_unit_test(test_writer_capacity),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_identifier),
        cmocka_unit_test(test_partitioning_polling_consumer_ack),
        cmocka_unit_test(test_tlv_options),
        cmocka_unit_test(test_options_limits),
        cmocka_unit_test(test_permissions_round_trip),
        cmocka_unit_test(test_result_section),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_entry_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
