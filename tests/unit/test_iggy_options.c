/* Unit tests for proto/iggy_options: every catalog key's accepted forms and errors
 * (4041, 4042, 1019), server-default normalisation, resolution, the admission checks,
 * the canonical explicit and derived blocks (iggy-bench's block of §9.1 byte for byte)
 * and the options.describe catalog. */
#include "lib/error.h"
#include "proto/iggy_error.h"
#include "proto/iggy_options.h"
#include "proto/iggy_wire.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static uint8_t block_buffer[512];

/* A block of one pair: key with a value of kind and bytes. */
static struct iggy_bytes one_pair(const char *key, uint8_t kind, const void *value,
                                  uint32_t value_size)
{
    struct iggy_writer writer;
    iggy_writer_init(&writer, block_buffer, sizeof(block_buffer));
    struct iggy_tlv_pair pair = {
        IGGY_TLV_STRING, iggy_bytes_from_string(key), kind, {value, value_size}};
    iggy_wire_tlv_encode(&writer, &pair);
    assert_int_equal(writer.error, 0);
    struct iggy_bytes block = {block_buffer, writer.size};
    return block;
}

static struct iggy_bytes text_pair(const char *key, const char *value)
{
    return one_pair(key, IGGY_TLV_STRING, value, (uint32_t)strlen(value));
}

static struct iggy_bytes u64_pair(const char *key, uint64_t value)
{
    uint8_t bytes[8];
    for (uint32_t index = 0; index < 8; index++) {
        bytes[index] = (uint8_t)(value >> (8 * index));
    }
    return one_pair(key, IGGY_TLV_UINT64, bytes, 8);
}

static uint32_t parse(struct iggy_bytes block, struct iggy_topic_options *out)
{
    return iggy_options_topic_parse(block, false, out);
}

static void test_bench_block_round_trip(void **state)
{
    (void)state;
    static const uint8_t bench[] = {
        0x02, 0x0e, 0x00, 0x00, 0x00, 'm',  'a',  'x',  '_',  't',  'o',  'p',  'i',
        'c',  '_',  's',  'i',  'z',  'e',  0x0c, 0x08, 0x00, 0x00, 0x00, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x0e, 0x00, 0x00, 0x00, 'm',  'e',
        's',  's',  'a',  'g',  'e',  '_',  'e',  'x',  'p',  'i',  'r',  'y',  0x0c,
        0x08, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct iggy_bytes block = {bench, sizeof(bench)};
    struct iggy_topic_options options;
    assert_int_equal(parse(block, &options), 0);
    assert_int_equal(options.present, (1u << IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE) |
                                          (1u << IGGY_TOPIC_OPTION_MESSAGE_EXPIRY));
    assert_true(options.max_topic_size_bytes == UINT64_MAX);
    iggy_options_topic_resolve(&options);
    assert_int_equal(iggy_options_topic_check(&options, 1), 0);
    uint8_t buffer[512];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_options_topic_encode(&writer, &options, false), 0);
    assert_int_equal(writer.size, sizeof(bench));
    assert_memory_equal(buffer, bench, sizeof(bench));
    /* Derived: the six other keys, sorted, canonical kinds, defaults. */
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_options_topic_encode(&writer, &options, true), 0);
    struct iggy_reader reader;
    iggy_reader_init(&reader, buffer, writer.size);
    struct iggy_tlv_pair pair;
    const char *keys[6] = {
        "compression_algorithm", "enforce_fsync", "messages_required_to_save",
        "preallocate_segments",  "segment_size",  "size_of_messages_required_to_save"};
    const uint8_t kinds[6] = {IGGY_TLV_STRING, IGGY_TLV_BOOL,   IGGY_TLV_UINT32,
                              IGGY_TLV_BOOL,   IGGY_TLV_UINT64, IGGY_TLV_UINT64};
    for (uint32_t index = 0; index < 6; index++) {
        assert_true(iggy_wire_tlv_next(&reader, &pair));
        assert_true(iggy_bytes_is_equal(pair.key, iggy_bytes_from_string(keys[index])));
        assert_int_equal(pair.value_kind, kinds[index]);
    }
    assert_false(iggy_wire_tlv_next(&reader, &pair));
    assert_int_equal(iggy_wire_tlv_validate(iggy_bytes_from_string(""), true, NULL), 0);
}

static void test_value_forms(void **state)
{
    (void)state;
    struct iggy_topic_options options;
    uint8_t code = 2;
    assert_int_equal(parse(one_pair("compression_algorithm", IGGY_TLV_UINT8, &code, 1), &options),
                     0);
    assert_int_equal(options.compression, IGGY_COMPRESSION_GZIP);
    code = 3;
    assert_int_equal(parse(one_pair("compression_algorithm", IGGY_TLV_UINT8, &code, 1), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    assert_int_equal(parse(text_pair("compression_algorithm", "GZip"), &options), 0);
    assert_int_equal(options.compression, IGGY_COMPRESSION_GZIP);
    assert_int_equal(parse(text_pair("compression_algorithm", "zstd"), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    assert_int_equal(parse(text_pair("enforce_fsync", "true"), &options), 0);
    assert_true(options.enforce_fsync);
    assert_int_equal(parse(text_pair("enforce_fsync", "yes"), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    uint8_t flags[2] = {1, 0};
    assert_int_equal(parse(one_pair("enforce_fsync", IGGY_TLV_BOOL, flags, 1), &options), 0);
    assert_true(options.enforce_fsync);
    assert_int_equal(parse(one_pair("enforce_fsync", IGGY_TLV_BOOL, flags, 2), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    flags[0] = 2;
    assert_int_equal(parse(one_pair("preallocate_segments", IGGY_TLV_BOOL, flags, 1), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    assert_int_equal(parse(one_pair("segment_size", IGGY_TLV_UINT32, flags, 2), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE); /* wrong kind */
}

static void test_durations_and_sizes(void **state)
{
    (void)state;
    struct iggy_topic_options options;
    assert_int_equal(parse(text_pair("message_expiry", "7 days"), &options), 0);
    assert_true(options.message_expiry_us == 7ULL * 86400 * 1000000);
    assert_int_equal(parse(text_pair("message_expiry", "1h 30m"), &options), 0);
    assert_true(options.message_expiry_us == 5400ULL * 1000000);
    assert_int_equal(parse(text_pair("message_expiry", "1h30m15s"), &options), 0);
    assert_true(options.message_expiry_us == 5415ULL * 1000000);
    assert_int_equal(parse(text_pair("message_expiry", "never_expire"), &options), 0);
    assert_true(options.message_expiry_us == UINT64_MAX);
    assert_int_equal(parse(text_pair("message_expiry", "server_default"), &options), 0);
    assert_int_equal(options.present, 0); /* normalised away */
    assert_int_equal(parse(u64_pair("message_expiry", 0), &options), 0);
    assert_int_equal(options.present, 0);
    assert_int_equal(parse(text_pair("message_expiry", "137 years"), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE); /* over u32::MAX seconds */
    assert_int_equal(parse(text_pair("message_expiry", "5 fortnights"), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    assert_int_equal(parse(text_pair("message_expiry", " "), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    assert_int_equal(parse(text_pair("segment_size", "512 MiB"), &options), 0);
    assert_true(options.segment_size_bytes == 512ULL << 20);
    assert_int_equal(parse(text_pair("segment_size", "1GB"), &options), 0);
    assert_true(options.segment_size_bytes == 1000000000ULL);
    assert_int_equal(parse(text_pair("segment_size", "1048576"), &options), 0);
    assert_true(options.segment_size_bytes == 1048576);
    assert_int_equal(parse(text_pair("segment_size", "1.5 GiB"), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE); /* documented gap */
    assert_int_equal(parse(text_pair("segment_size", "99999999999 EiB"), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    assert_int_equal(parse(text_pair("max_topic_size", "unlimited"), &options), 0);
    assert_true(options.max_topic_size_bytes == UINT64_MAX);
    assert_int_equal(parse(text_pair("max_topic_size", "Unlimited"), &options), 0);
    assert_int_equal(options.present, 0); /* Iggy reads it as a byte size of 0: default */
    assert_int_equal(parse(text_pair("size_of_messages_required_to_save", "2 GiB"), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    assert_int_equal(parse(text_pair("messages_required_to_save", "+2048"), &options), 0);
    assert_int_equal(options.messages_required_to_save, 2048);
    assert_int_equal(parse(text_pair("messages_required_to_save", "16777217"), &options),
                     IGGY_ERROR_INVALID_OPTION_VALUE);
    uint8_t zero[4] = {0};
    assert_int_equal(
        parse(one_pair("messages_required_to_save", IGGY_TLV_UINT32, zero, 4), &options),
        IGGY_ERROR_INVALID_OPTION_VALUE);
}

static void test_keys_and_checks(void **state)
{
    (void)state;
    struct iggy_topic_options options;
    assert_int_equal(parse(text_pair("retention", "1"), &options),
                     IGGY_ERROR_UNSUPPORTED_OPTION_KEY);
    assert_int_equal(iggy_options_topic_parse(u64_pair("segment_size", 1 << 20), true, &options),
                     IGGY_ERROR_UNSUPPORTED_OPTION_KEY);
    assert_int_equal(iggy_options_topic_parse(u64_pair("max_topic_size", 1 << 30), true, &options),
                     0);
    struct iggy_topic_options resolved;
    memset(&resolved, 0, sizeof(resolved));
    iggy_options_topic_resolve(&resolved);
    assert_int_equal(iggy_options_topic_check(&resolved, 1000), 0);
    resolved.segment_size_bytes = (1 << 20) + 1;
    assert_int_equal(iggy_options_topic_check(&resolved, 1), IGGY_ERROR_INVALID_OPTION_VALUE);
    resolved.segment_size_bytes = 1000;
    assert_int_equal(iggy_options_topic_check(&resolved, 1), IGGY_ERROR_INVALID_OPTION_VALUE);
    resolved.segment_size_bytes = 1 << 20;
    resolved.max_topic_size_bytes = (1 << 20) - 1;
    assert_int_equal(iggy_options_topic_check(&resolved, 1), IGGY_ERROR_INVALID_TOPIC_SIZE);
    resolved.max_topic_size_bytes = UINT64_MAX;
    resolved.segment_size_bytes = 1ULL << 30;
    resolved.preallocate_segments = true;
    assert_int_equal(iggy_options_topic_check(&resolved, 64), 0);
    assert_int_equal(iggy_options_topic_check(&resolved, 65), IGGY_ERROR_INVALID_OPTION_VALUE);
    /* An explicit compression given as a Uint8 code is stored as the String name. */
    uint8_t code = 2;
    assert_int_equal(parse(one_pair("compression_algorithm", IGGY_TLV_UINT8, &code, 1), &options),
                     0);
    uint8_t buffer[64];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_options_topic_encode(&writer, &options, false), 0);
    struct iggy_bytes expected = text_pair("compression_algorithm", "gzip");
    assert_int_equal(writer.size, expected.size);
    assert_memory_equal(buffer, expected.bytes, expected.size);
    iggy_writer_init(&writer, buffer, 10);
    assert_int_equal(iggy_options_topic_encode(&writer, &options, false), -RUNNEL_ETOOLARGE);
}

static void test_describe(void **state)
{
    (void)state;
    static uint8_t buffer[2048];
    struct iggy_writer writer;
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_options_describe_encode(&writer, 1), 0);
    struct iggy_reader reader;
    iggy_reader_init(&reader, buffer, writer.size);
    assert_int_equal(iggy_reader_u32(&reader), IGGY_TOPIC_OPTION_COUNT);
    struct iggy_bytes key = iggy_wire_name_decode(&reader);
    assert_true(iggy_bytes_is_equal(key, iggy_bytes_from_string("compression_algorithm")));
    assert_int_equal(iggy_reader_u8(&reader), IGGY_TLV_STRING);
    struct iggy_bytes value = iggy_wire_string32_decode(&reader);
    assert_true(iggy_bytes_is_equal(value, iggy_bytes_from_string("none")));
    iggy_writer_init(&writer, buffer, sizeof(buffer));
    assert_int_equal(iggy_options_describe_encode(&writer, 3), 0);
    assert_int_equal(writer.size, 4);
    assert_int_equal(iggy_options_describe_encode(&writer, 4), -RUNNEL_EFORMAT);
    assert_string_equal(iggy_options_topic_key(IGGY_TOPIC_OPTION_SEGMENT_SIZE), "segment_size");
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_block_round_trip),
        cmocka_unit_test(test_value_forms),
        cmocka_unit_test(test_durations_and_sizes),
        cmocka_unit_test(test_keys_and_checks),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
