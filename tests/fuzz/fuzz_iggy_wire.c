/*
 * libFuzzer harness: Iggy wire primitives (proto/iggy_wire) on raw bytes: UTF-8, TLV
 * blocks as options and as user headers, identifiers, partitioning, polling strategies
 * and permissions. Properties: an options block that validates also validates as a plain
 * TLV block and walks pair by pair to its end; a topic options block that parses
 * re-encodes canonically to the same typed values; decoded permissions re-encode to the same
 * size and decode again to the same shape; identifiers re-encode to the bytes read.
 */
#include "lib/assert.h"
#include "proto/iggy_options.h"
#include "proto/iggy_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_BUFFER_SIZE = 1 << 17 };

static uint8_t fuzz_buffer[FUZZ_BUFFER_SIZE];

/* A topic options block that parses re-encodes (explicit block) to one that parses to
 * the same typed values; the derived block covers exactly the other keys. */
static void fuzz_topic_options(struct iggy_bytes block)
{
    struct iggy_topic_options options;
    (void)iggy_options_topic_parse(block, true, &options);
    if (iggy_options_topic_parse(block, false, &options) != 0) {
        return;
    }
    struct iggy_writer writer;
    iggy_writer_init(&writer, fuzz_buffer, FUZZ_BUFFER_SIZE);
    assert(iggy_options_topic_encode(&writer, &options, false) == 0);
    struct iggy_bytes canonical = {fuzz_buffer, writer.size};
    assert(iggy_wire_tlv_validate(canonical, true, NULL) == 0);
    struct iggy_topic_options again;
    assert(iggy_options_topic_parse(canonical, false, &again) == 0);
    iggy_options_topic_resolve(&options);
    iggy_options_topic_resolve(&again);
    assert(options.present == again.present && options.compression == again.compression);
    assert(options.message_expiry_us == again.message_expiry_us);
    assert(options.max_topic_size_bytes == again.max_topic_size_bytes);
    assert(options.segment_size_bytes == again.segment_size_bytes);
    assert(options.enforce_fsync == again.enforce_fsync);
    assert(options.messages_required_to_save == again.messages_required_to_save);
    assert(options.size_of_messages_required_to_save_bytes ==
           again.size_of_messages_required_to_save_bytes);
    assert(options.preallocate_segments == again.preallocate_segments);
    (void)iggy_options_topic_check(&options, 1000);
    uint32_t derived_pairs = 0;
    uint32_t explicit_pairs = 0;
    assert(iggy_wire_tlv_validate(canonical, true, &explicit_pairs) == 0);
    iggy_writer_init(&writer, fuzz_buffer, FUZZ_BUFFER_SIZE);
    assert(iggy_options_topic_encode(&writer, &options, true) == 0);
    struct iggy_bytes derived = {fuzz_buffer, writer.size};
    assert(iggy_wire_tlv_validate(derived, true, &derived_pairs) == 0);
    assert(explicit_pairs + derived_pairs == IGGY_TOPIC_OPTION_COUNT);
}

static void fuzz_tlv(struct iggy_bytes block)
{
    uint32_t pairs = 0;
    uint32_t plain_pairs = 0;
    (void)iggy_wire_is_utf8(block);
    if (iggy_wire_tlv_validate(block, true, &pairs) == 0) {
        assert(iggy_wire_tlv_validate(block, false, &plain_pairs) == 0);
        assert(pairs == plain_pairs && pairs <= IGGY_OPTIONS_PAIRS_MAX);
        fuzz_topic_options(block);
    }
    if (iggy_wire_tlv_validate(block, false, &plain_pairs) != 0) {
        return;
    }
    struct iggy_reader reader;
    iggy_reader_init(&reader, block.bytes, block.size);
    struct iggy_tlv_pair pair;
    uint32_t walked = 0;
    struct iggy_writer writer;
    iggy_writer_init(&writer, fuzz_buffer, FUZZ_BUFFER_SIZE);
    while (iggy_wire_tlv_next(&reader, &pair)) { /* bounded: validated block */
        iggy_wire_tlv_encode(&writer, &pair);
        walked++;
    }
    assert(walked == plain_pairs && reader.error == 0 && reader.offset == block.size);
    assert(writer.error == 0 && writer.size == block.size);
    assert(block.size == 0 || memcmp(fuzz_buffer, block.bytes, block.size) == 0);
}

static void fuzz_permissions(struct iggy_bytes bytes)
{
    struct iggy_reader reader;
    struct iggy_permissions permissions;
    iggy_reader_init(&reader, bytes.bytes, bytes.size);
    iggy_wire_permissions_decode(&reader, bytes.size, &permissions);
    if (iggy_reader_finish(&reader) != 0) {
        return;
    }
    assert(iggy_wire_permissions_size(&permissions) == bytes.size);
    struct iggy_writer writer;
    iggy_writer_init(&writer, fuzz_buffer, FUZZ_BUFFER_SIZE);
    iggy_wire_permissions_encode(&writer, &permissions);
    assert(writer.error == 0 && writer.size == bytes.size);
    struct iggy_permissions again;
    iggy_reader_init(&reader, fuzz_buffer, writer.size);
    iggy_wire_permissions_decode(&reader, writer.size, &again);
    assert(iggy_reader_finish(&reader) == 0);
    assert(again.stream_count == permissions.stream_count);
    struct iggy_permissions_cursor cursor;
    iggy_permissions_cursor_init(&cursor, &again);
    struct iggy_stream_permissions stream;
    struct iggy_topic_permissions topics[4];
    uint32_t topic_count = 0;
    uint32_t streams = 0;
    while (iggy_permissions_cursor_next(&cursor, &stream, topics, 4, &topic_count)) {
        streams++;
    }
    assert(streams == again.stream_count);
}

static void fuzz_primitives(struct iggy_bytes bytes)
{
    struct iggy_reader reader;
    struct iggy_identifier id;
    iggy_reader_init(&reader, bytes.bytes, bytes.size);
    iggy_wire_identifier_decode(&reader, &id);
    if (reader.error == 0) {
        struct iggy_writer writer;
        iggy_writer_init(&writer, fuzz_buffer, FUZZ_BUFFER_SIZE);
        iggy_wire_identifier_encode(&writer, &id);
        assert(writer.size == reader.offset && memcmp(fuzz_buffer, bytes.bytes, writer.size) == 0);
    }
    struct iggy_partitioning partitioning;
    struct iggy_polling_strategy strategy;
    struct iggy_consumer consumer;
    iggy_reader_init(&reader, bytes.bytes, bytes.size);
    iggy_wire_partitioning_decode(&reader, &partitioning);
    iggy_reader_init(&reader, bytes.bytes, bytes.size);
    iggy_wire_polling_decode(&reader, &strategy);
    iggy_reader_init(&reader, bytes.bytes, bytes.size);
    iggy_wire_consumer_decode(&reader, &consumer);
    uint32_t code = 0;
    iggy_reader_init(&reader, bytes.bytes, bytes.size);
    iggy_wire_result_decode(&reader, &code);
    assert(reader.offset <= reader.size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_BUFFER_SIZE) {
        return 0;
    }
    struct iggy_bytes rest = {data + 1, (uint32_t)(size - 1)};
    switch (data[0] % 3) {
    case 0:
        fuzz_tlv(rest);
        break;
    case 1:
        fuzz_permissions(rest);
        break;
    default:
        fuzz_primitives(rest);
        break;
    }
    return 0;
}
