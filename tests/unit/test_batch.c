/* Unit tests for proto/batch: Iggy's golden vector, stamping, slices and bad batches. */
#include "proto/batch.h"

#include "lib/error.h"
#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static uint64_t load_u64(const uint8_t *bytes)
{
    uint64_t value;
    memcpy(&value, bytes, sizeof(value));
    return value;
}

static void store_u64(uint8_t *bytes, uint64_t value)
{
    memcpy(bytes, &value, sizeof(value));
}

/* research/iggy-protocol.md §5.5: two messages, ids 7 and 8, origin 1000 and 1050. */
static uint64_t golden_build(uint8_t *buffer, uint64_t size_bytes_max)
{
    struct batch_builder builder;
    batch_builder_init(&builder, buffer, size_bytes_max, 1000);
    assert_int_equal(batch_builder_add(&builder, 7, 0, 1000, "first-payload", 13, NULL, 0), 0);
    assert_int_equal(
        batch_builder_add(&builder, 8, 0, 1050, "second-payload", 14, "user-header-bytes", 17), 0);
    return batch_builder_finish(&builder);
}

static void test_golden_vector(void **state)
{
    (void)state;
    uint8_t buffer[1024];
    uint64_t size = golden_build(buffer, sizeof(buffer));
    assert_int_equal(size, 396);
    assert_int_equal(batch_hash(NULL, 0), 0x2D06800538D394C2ULL);
    struct batch_header header;
    batch_header_read(buffer, &header);
    assert_int_equal(header.batch_length_bytes, 396);
    assert_int_equal(header.origin_timestamp_us, 1000);
    assert_int_equal(header.message_count, 2);
    assert_int_equal(header.batch_checksum, 0x7C260763C8381FA9ULL);
    struct batch_cursor cursor;
    struct batch_frame frame;
    batch_cursor_init(&cursor, buffer, size);
    assert_true(batch_cursor_next(&cursor, &frame));
    assert_int_equal(frame.checksum, 0x7596755A20B9D2BFULL);
    assert_int_equal(frame.offset_delta, 0);
    assert_int_equal(frame.payload_size_bytes, 13);
    assert_memory_equal(frame.payload, "first-payload", 13);
    assert_true(batch_cursor_next(&cursor, &frame));
    assert_int_equal(frame.checksum, 0xC0B78E751C7E6BD6ULL);
    assert_int_equal(frame.id_low, 8);
    assert_int_equal(frame.offset_delta, 1);
    assert_int_equal(frame.timestamp_delta_us, 50);
    assert_int_equal(frame.user_headers_size_bytes, 17);
    assert_memory_equal(frame.user_headers, "user-header-bytes", 17);
    assert_false(batch_cursor_next(&cursor, &frame));
    assert_int_equal(batch_validate(buffer, size, NULL), 0);
    /* Poll version: partition 3, base_offset 100, base_timestamp 5000. */
    batch_stamp(buffer, size, 3, 100, 5000);
    assert_int_equal(load_u64(buffer + BATCH_OFFSET_BATCH_CHECKSUM), 0xD2EE8F8AB32668C9ULL);
    assert_int_equal(batch_base_offset(buffer), 100);
    assert_int_equal(batch_base_timestamp_us(buffer), 5000);
    assert_int_equal(batch_validate(buffer, size, NULL), 0);
}

static void test_slice(void **state)
{
    (void)state;
    uint8_t buffer[1024];
    uint64_t size = golden_build(buffer, sizeof(buffer));
    batch_stamp(buffer, size, 3, 100, 5000);
    struct batch_slice slice;
    assert_int_equal(batch_slice(buffer, size, 0, 2, &slice), 0);
    assert_memory_equal(slice.header, buffer, BATCH_HEADER_SIZE);
    assert_int_equal(slice.frames_size_bytes, size - BATCH_HEADER_SIZE);
    assert_int_equal(batch_slice(buffer, size, 1, 2, &slice), 0);
    assert_int_equal(slice.message_count, 1);
    assert_int_equal(slice.frames_size_bytes, 48 + 14 + 17);
    /* The slice is itself a valid batch whose frame keeps offset_delta 1. */
    uint8_t joined[1024];
    memcpy(joined, slice.header, BATCH_HEADER_SIZE);
    memcpy(joined + BATCH_HEADER_SIZE, slice.frames, slice.frames_size_bytes);
    uint64_t joined_size = BATCH_HEADER_SIZE + slice.frames_size_bytes;
    assert_int_equal(batch_validate(joined, joined_size, NULL), 0);
    assert_int_equal(batch_base_offset(joined), 100);
    assert_int_equal(batch_message_count(joined), 1);
    struct batch_cursor cursor;
    struct batch_frame frame;
    batch_cursor_init(&cursor, joined, joined_size);
    assert_true(batch_cursor_next(&cursor, &frame));
    assert_int_equal(frame.offset_delta, 1);
    assert_int_equal(batch_slice(buffer, size, 0, 1, &slice), 0);
    assert_int_equal(slice.frames_size_bytes, 48 + 13);
    assert_int_equal(batch_slice(buffer, size, 1, 1, &slice), -RUNNEL_EFORMAT);
    assert_int_equal(batch_slice(buffer, size, 0, 3, &slice), -RUNNEL_EFORMAT);
}

static void expect_invalid(uint8_t *batch, uint64_t size, int code)
{
    const char *reason = NULL;
    assert_int_equal(batch_validate(batch, size, &reason), code);
    assert_non_null(reason);
}

static void test_bad_batches(void **state)
{
    (void)state;
    uint8_t good[1024];
    uint8_t bad[1024];
    uint64_t size = golden_build(good, sizeof(good));
    expect_invalid(good, 0, -RUNNEL_ETRUNCATED);
    expect_invalid(good, 300, -RUNNEL_ETRUNCATED);
    expect_invalid(good, size - 1, -RUNNEL_ETRUNCATED);
    memcpy(bad, good, size);
    bad[size] = 0;
    expect_invalid(bad, size + 1, -RUNNEL_EFORMAT); /* trailing byte */
    memcpy(bad, good, size);
    bad[100] = 1; /* reserved header byte */
    expect_invalid(bad, size, -RUNNEL_EFORMAT);
    memcpy(bad, good, size);
    bad[BATCH_OFFSET_MESSAGE_COUNT] = 3; /* more frames than bytes */
    expect_invalid(bad, size, -RUNNEL_EFORMAT);
    memcpy(bad, good, size);
    bad[BATCH_OFFSET_MESSAGE_COUNT] = 1; /* fewer frames than bytes */
    expect_invalid(bad, size, -RUNNEL_EFORMAT);
    memcpy(bad, good, size);
    bad[BATCH_OFFSET_MESSAGE_COUNT] = 0;
    expect_invalid(bad, size, -RUNNEL_EFORMAT);
    memcpy(bad, good, size);
    bad[256 + 40] = 1; /* frame reserved */
    expect_invalid(bad, size, -RUNNEL_EFORMAT);
    memcpy(bad, good, size);
    bad[256 + 36] = 0xff; /* payload length past the end */
    expect_invalid(bad, size, -RUNNEL_EFORMAT);
    memcpy(bad, good, size);
    bad[256 + 36 + 3] = 0xff; /* huge payload length: no overflow */
    expect_invalid(bad, size, -RUNNEL_EFORMAT);
    memcpy(bad, good, size);
    bad[256 + 50] ^= 1; /* payload bit */
    expect_invalid(bad, size, -RUNNEL_ECHECKSUM);
    assert_int_equal(batch_validate_structure(bad, size, NULL), 0);
    memcpy(bad, good, size);
    store_u64(bad + BATCH_OFFSET_BASE_OFFSET, 5); /* header field under the batch checksum */
    expect_invalid(bad, size, -RUNNEL_ECHECKSUM);
    assert_int_equal(batch_validate_structure(bad, size, NULL), -RUNNEL_ECHECKSUM);
    /* Every single-bit flip anywhere is rejected. */
    for (uint64_t bit = 0; bit < size * 8; bit++) {
        memcpy(bad, good, size);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(batch_validate(bad, size, NULL) < 0);
    }
}

static void test_builder_full(void **state)
{
    (void)state;
    uint8_t buffer[BATCH_HEADER_SIZE + 60];
    struct batch_builder builder;
    batch_builder_init(&builder, buffer, sizeof(buffer), 10);
    assert_int_equal(batch_builder_add(&builder, 1, 0, 10, "0123456789", 10, NULL, 0), 0);
    assert_int_equal(batch_builder_add(&builder, 2, 0, 10, "x", 1, NULL, 0), -RUNNEL_EFULL);
    assert_int_equal(batch_builder_finish(&builder), BATCH_HEADER_SIZE + 58);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_vector),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_bad_batches),
        cmocka_unit_test(test_builder_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
