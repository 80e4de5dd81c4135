/*
 * Iggy wire primitives: bounds-checked reader and writer, and the shared encodings of
 * research/iggy-protocol.md §4. Pure functions over caller memory; no allocation, no
 * state. Runs on any shard and in the client library.
 */
#include "proto/iggy_wire.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>

/* --- reader ------------------------------------------------------------------------ */

void iggy_reader_init(struct iggy_reader *reader, const void *bytes, uint32_t size)
{
    assert(reader != NULL);
    assert(bytes != NULL || size == 0);
    reader->bytes = bytes;
    reader->size = size;
    reader->offset = 0;
    reader->error = 0;
}

uint32_t iggy_reader_remaining(const struct iggy_reader *reader)
{
    assert(reader != NULL);
    assert(reader->offset <= reader->size);
    if (reader->error != 0) {
        return 0;
    }
    return reader->size - reader->offset;
}

void iggy_reader_fail(struct iggy_reader *reader, int code)
{
    assert(reader != NULL);
    assert(code < 0);
    if (reader->error == 0) {
        reader->error = code;
    }
}

/* Returns the address of the next size bytes and advances, or NULL (error set). */
static const uint8_t *iggy_reader_take(struct iggy_reader *reader, uint32_t size)
{
    assert(reader != NULL);
    assert(reader->offset <= reader->size);
    if (reader->error != 0) {
        return NULL;
    }
    if (size > reader->size - reader->offset) {
        reader->error = -RUNNEL_ETRUNCATED;
        return NULL;
    }
    const uint8_t *at = reader->bytes + reader->offset;
    reader->offset += size;
    return at;
}

uint8_t iggy_reader_u8(struct iggy_reader *reader)
{
    const uint8_t *at = iggy_reader_take(reader, 1);
    assert(at == NULL || reader->offset >= 1);
    assert(reader->offset <= reader->size);
    return at == NULL ? 0 : at[0];
}

uint16_t iggy_reader_u16(struct iggy_reader *reader)
{
    const uint8_t *at = iggy_reader_take(reader, 2);
    assert(at == NULL || reader->offset >= 2);
    assert(reader->offset <= reader->size);
    if (at == NULL) {
        return 0;
    }
    return (uint16_t)(at[0] | (uint16_t)(at[1] << 8));
}

uint32_t iggy_reader_u32(struct iggy_reader *reader)
{
    const uint8_t *at = iggy_reader_take(reader, 4);
    assert(at == NULL || reader->offset >= 4);
    assert(reader->offset <= reader->size);
    if (at == NULL) {
        return 0;
    }
    return (uint32_t)at[0] | ((uint32_t)at[1] << 8) | ((uint32_t)at[2] << 16) |
           ((uint32_t)at[3] << 24);
}

uint64_t iggy_reader_u64(struct iggy_reader *reader)
{
    const uint8_t *at = iggy_reader_take(reader, 8);
    assert(at == NULL || reader->offset >= 8);
    assert(reader->offset <= reader->size);
    uint64_t value = 0;
    for (uint32_t index = 0; at != NULL && index < 8; index++) {
        value |= (uint64_t)at[index] << (8 * index);
    }
    return value;
}

struct iggy_bytes iggy_reader_bytes(struct iggy_reader *reader, uint32_t size)
{
    struct iggy_bytes slice = {NULL, 0};
    const uint8_t *at = iggy_reader_take(reader, size);
    if (at != NULL) {
        slice.bytes = at;
        slice.size = size;
    }
    assert(slice.size == 0 || slice.bytes + slice.size <= reader->bytes + reader->size);
    assert(reader->offset <= reader->size);
    return slice;
}

struct iggy_bytes iggy_reader_rest(struct iggy_reader *reader)
{
    assert(reader != NULL);
    assert(reader->offset <= reader->size);
    return iggy_reader_bytes(reader, iggy_reader_remaining(reader));
}

int iggy_reader_finish(struct iggy_reader *reader)
{
    assert(reader != NULL);
    assert(reader->offset <= reader->size);
    if (reader->error == 0 && reader->offset != reader->size) {
        reader->error = -RUNNEL_EFORMAT;
    }
    return reader->error;
}

bool iggy_reader_has_entries(struct iggy_reader *reader, uint32_t count, uint32_t entry_size)
{
    assert(reader != NULL);
    assert(entry_size > 0);
    if (count > iggy_reader_remaining(reader) / entry_size) {
        iggy_reader_fail(reader, -RUNNEL_ETRUNCATED);
        return false;
    }
    return true;
}

/* --- writer ------------------------------------------------------------------------ */

void iggy_writer_init(struct iggy_writer *writer, void *bytes, uint32_t capacity)
{
    assert(writer != NULL);
    assert(bytes != NULL || capacity == 0);
    writer->bytes = bytes;
    writer->capacity = capacity;
    writer->size = 0;
    writer->error = 0;
}

uint8_t *iggy_writer_reserve(struct iggy_writer *writer, uint32_t size)
{
    assert(writer != NULL);
    assert(writer->size <= writer->capacity);
    if (writer->error != 0) {
        return NULL;
    }
    if (size > writer->capacity - writer->size) {
        writer->error = -RUNNEL_ETOOLARGE;
        return NULL;
    }
    uint8_t *at = writer->bytes + writer->size;
    writer->size += size;
    return at;
}

void iggy_wire_store_u32(uint8_t *at, uint32_t value)
{
    assert(at != NULL);
    for (uint32_t index = 0; index < 4; index++) {
        at[index] = (uint8_t)(value >> (8 * index));
    }
    assert(at[0] == (uint8_t)value);
}

void iggy_writer_u8(struct iggy_writer *writer, uint8_t value)
{
    uint8_t *at = iggy_writer_reserve(writer, 1);
    assert(at == NULL || writer->size >= 1);
    assert(writer->size <= writer->capacity);
    if (at != NULL) {
        at[0] = value;
    }
}

void iggy_writer_u16(struct iggy_writer *writer, uint16_t value)
{
    uint8_t *at = iggy_writer_reserve(writer, 2);
    assert(at == NULL || writer->size >= 2);
    assert(writer->size <= writer->capacity);
    if (at != NULL) {
        at[0] = (uint8_t)value;
        at[1] = (uint8_t)(value >> 8);
    }
}

void iggy_writer_u32(struct iggy_writer *writer, uint32_t value)
{
    uint8_t *at = iggy_writer_reserve(writer, 4);
    assert(at == NULL || writer->size >= 4);
    assert(writer->size <= writer->capacity);
    if (at != NULL) {
        iggy_wire_store_u32(at, value);
    }
}

void iggy_writer_u64(struct iggy_writer *writer, uint64_t value)
{
    assert(writer != NULL);
    assert(writer->size <= writer->capacity);
    iggy_writer_u32(writer, (uint32_t)value);
    iggy_writer_u32(writer, (uint32_t)(value >> 32));
}

void iggy_writer_bytes(struct iggy_writer *writer, const void *bytes, uint32_t size)
{
    assert(bytes != NULL || size == 0);
    uint8_t *at = iggy_writer_reserve(writer, size);
    if (at != NULL && size > 0) {
        memcpy(at, bytes, size);
    }
}

/* --- helpers ----------------------------------------------------------------------- */

/* Length of the UTF-8 sequence starting at text[index], 0 when invalid. */
static uint32_t iggy_wire_utf8_sequence(const uint8_t *text, uint32_t size, uint32_t index)
{
    assert(text != NULL);
    assert(index < size);
    uint8_t lead = text[index];
    if (lead < 0x80) {
        return 1;
    }
    uint32_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (lead < 0xC2 || lead > 0xF4 || length > size - index) {
        return 0;
    }
    uint8_t second = text[index + 1];
    uint8_t second_min = 0x80;
    uint8_t second_max = 0xBF;
    if (lead == 0xE0) {
        second_min = 0xA0; /* overlong */
    } else if (lead == 0xED) {
        second_max = 0x9F; /* surrogates */
    } else if (lead == 0xF0) {
        second_min = 0x90; /* overlong */
    } else if (lead == 0xF4) {
        second_max = 0x8F; /* above U+10FFFF */
    }
    if (second < second_min || second > second_max) {
        return 0;
    }
    for (uint32_t next = 2; next < length; next++) {
        if ((text[index + next] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return length;
}

bool iggy_wire_is_utf8(struct iggy_bytes text)
{
    assert(text.bytes != NULL || text.size == 0);
    uint32_t index = 0;
    while (index < text.size) { /* advances by >= 1 each turn */
        uint32_t length = iggy_wire_utf8_sequence(text.bytes, text.size, index);
        if (length == 0) {
            return false;
        }
        index += length;
    }
    assert(index == text.size);
    return true;
}

bool iggy_bytes_is_equal(struct iggy_bytes left, struct iggy_bytes right)
{
    assert(left.bytes != NULL || left.size == 0);
    assert(right.bytes != NULL || right.size == 0);
    if (left.size != right.size) {
        return false;
    }
    return left.size == 0 || memcmp(left.bytes, right.bytes, left.size) == 0;
}

struct iggy_bytes iggy_bytes_from_string(const char *text)
{
    assert(text != NULL);
    size_t size = strlen(text);
    assert(size <= UINT32_MAX);
    struct iggy_bytes slice = {(const uint8_t *)text, (uint32_t)size};
    return slice;
}

/* --- names and strings ------------------------------------------------------------- */

struct iggy_bytes iggy_wire_name_decode(struct iggy_reader *reader)
{
    assert(reader != NULL);
    uint8_t size = iggy_reader_u8(reader);
    if (reader->error == 0 && size == 0) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
    struct iggy_bytes name = iggy_reader_bytes(reader, size);
    if (reader->error == 0 && !iggy_wire_is_utf8(name)) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
    return name;
}

void iggy_wire_name_encode(struct iggy_writer *writer, struct iggy_bytes name)
{
    assert(writer != NULL);
    assert(name.size >= 1 && name.size <= IGGY_NAME_SIZE_MAX);
    iggy_writer_u8(writer, (uint8_t)name.size);
    iggy_writer_bytes(writer, name.bytes, name.size);
}

struct iggy_bytes iggy_wire_password_decode(struct iggy_reader *reader)
{
    assert(reader != NULL);
    uint8_t size = iggy_reader_u8(reader);
    struct iggy_bytes password = iggy_reader_bytes(reader, size);
    if (reader->error == 0 && !iggy_wire_is_utf8(password)) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
    return password;
}

void iggy_wire_password_encode(struct iggy_writer *writer, struct iggy_bytes password)
{
    assert(writer != NULL);
    assert(password.size <= IGGY_NAME_SIZE_MAX);
    iggy_writer_u8(writer, (uint8_t)password.size);
    iggy_writer_bytes(writer, password.bytes, password.size);
}

struct iggy_bytes iggy_wire_string32_decode(struct iggy_reader *reader)
{
    assert(reader != NULL);
    uint32_t size = iggy_reader_u32(reader);
    return iggy_reader_bytes(reader, size);
}

void iggy_wire_string32_encode(struct iggy_writer *writer, struct iggy_bytes text)
{
    assert(writer != NULL);
    assert(text.bytes != NULL || text.size == 0);
    iggy_writer_u32(writer, text.size);
    iggy_writer_bytes(writer, text.bytes, text.size);
}

/* --- identifiers, consumers, partitions -------------------------------------------- */

void iggy_wire_identifier_decode(struct iggy_reader *reader, struct iggy_identifier *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    out->kind = iggy_reader_u8(reader);
    uint8_t size = iggy_reader_u8(reader);
    if (reader->error != 0) {
        return;
    }
    if (out->kind == IGGY_IDENTIFIER_NUMERIC) {
        if (size != 4) {
            iggy_reader_fail(reader, -RUNNEL_EFORMAT);
            return;
        }
        out->numeric = iggy_reader_u32(reader);
    } else if (out->kind == IGGY_IDENTIFIER_STRING && size > 0) {
        out->name = iggy_reader_bytes(reader, size);
        if (reader->error == 0 && !iggy_wire_is_utf8(out->name)) {
            iggy_reader_fail(reader, -RUNNEL_EFORMAT);
        }
    } else {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
}

void iggy_wire_identifier_encode(struct iggy_writer *writer, const struct iggy_identifier *id)
{
    assert(writer != NULL);
    assert(id != NULL);
    iggy_writer_u8(writer, id->kind);
    if (id->kind == IGGY_IDENTIFIER_NUMERIC) {
        iggy_writer_u8(writer, 4);
        iggy_writer_u32(writer, id->numeric);
    } else {
        assert(id->kind == IGGY_IDENTIFIER_STRING);
        iggy_wire_name_encode(writer, id->name);
    }
}

struct iggy_identifier iggy_identifier_numeric(uint32_t value)
{
    struct iggy_identifier id = {IGGY_IDENTIFIER_NUMERIC, value, {NULL, 0}};
    assert(id.kind == IGGY_IDENTIFIER_NUMERIC);
    return id;
}

struct iggy_identifier iggy_identifier_string(struct iggy_bytes name)
{
    assert(name.size >= 1 && name.size <= IGGY_NAME_SIZE_MAX);
    struct iggy_identifier id = {IGGY_IDENTIFIER_STRING, 0, name};
    return id;
}

bool iggy_identifier_is_equal(const struct iggy_identifier *left,
                              const struct iggy_identifier *right)
{
    assert(left != NULL);
    assert(right != NULL);
    if (left->kind != right->kind) {
        return false;
    }
    if (left->kind == IGGY_IDENTIFIER_NUMERIC) {
        return left->numeric == right->numeric;
    }
    return iggy_bytes_is_equal(left->name, right->name);
}

void iggy_wire_consumer_decode(struct iggy_reader *reader, struct iggy_consumer *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->kind = iggy_reader_u8(reader);
    if (reader->error == 0 && out->kind != IGGY_CONSUMER_SINGLE &&
        out->kind != IGGY_CONSUMER_GROUP) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
    iggy_wire_identifier_decode(reader, &out->id);
}

void iggy_wire_consumer_encode(struct iggy_writer *writer, const struct iggy_consumer *consumer)
{
    assert(writer != NULL);
    assert(consumer->kind == IGGY_CONSUMER_SINGLE || consumer->kind == IGGY_CONSUMER_GROUP);
    iggy_writer_u8(writer, consumer->kind);
    iggy_wire_identifier_encode(writer, &consumer->id);
}

void iggy_wire_optional_partition_decode(struct iggy_reader *reader,
                                         struct iggy_optional_partition *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    uint8_t flag = iggy_reader_u8(reader);
    uint32_t partition_id = iggy_reader_u32(reader);
    out->is_set = flag == 1;
    out->partition_id = out->is_set ? partition_id : 0;
}

void iggy_wire_optional_partition_encode(struct iggy_writer *writer,
                                         const struct iggy_optional_partition *partition)
{
    assert(writer != NULL);
    assert(partition != NULL);
    iggy_writer_u8(writer, partition->is_set ? 1 : 0);
    iggy_writer_u32(writer, partition->is_set ? partition->partition_id : 0);
}

void iggy_wire_partitioning_decode(struct iggy_reader *reader, struct iggy_partitioning *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    out->kind = iggy_reader_u8(reader);
    uint8_t size = iggy_reader_u8(reader);
    if (reader->error != 0) {
        return;
    }
    if (out->kind == IGGY_PARTITIONING_BALANCED && size == 0) {
        return;
    }
    if (out->kind == IGGY_PARTITIONING_PARTITION_ID && size == 4) {
        out->partition_id = iggy_reader_u32(reader);
        return;
    }
    if (out->kind == IGGY_PARTITIONING_MESSAGES_KEY && size > 0) {
        out->key = iggy_reader_bytes(reader, size);
        return;
    }
    iggy_reader_fail(reader, -RUNNEL_EFORMAT);
}

void iggy_wire_partitioning_encode(struct iggy_writer *writer,
                                   const struct iggy_partitioning *partitioning)
{
    assert(writer != NULL);
    assert(partitioning != NULL);
    iggy_writer_u8(writer, partitioning->kind);
    if (partitioning->kind == IGGY_PARTITIONING_BALANCED) {
        iggy_writer_u8(writer, 0);
    } else if (partitioning->kind == IGGY_PARTITIONING_PARTITION_ID) {
        iggy_writer_u8(writer, 4);
        iggy_writer_u32(writer, partitioning->partition_id);
    } else {
        assert(partitioning->kind == IGGY_PARTITIONING_MESSAGES_KEY);
        assert(partitioning->key.size >= 1 && partitioning->key.size <= IGGY_NAME_SIZE_MAX);
        iggy_writer_u8(writer, (uint8_t)partitioning->key.size);
        iggy_writer_bytes(writer, partitioning->key.bytes, partitioning->key.size);
    }
}

void iggy_wire_polling_decode(struct iggy_reader *reader, struct iggy_polling_strategy *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->kind = iggy_reader_u8(reader);
    out->value = iggy_reader_u64(reader);
    if (reader->error == 0 && (out->kind < IGGY_POLLING_OFFSET || out->kind > IGGY_POLLING_NEXT)) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
}

void iggy_wire_polling_encode(struct iggy_writer *writer,
                              const struct iggy_polling_strategy *strategy)
{
    assert(writer != NULL);
    assert(strategy->kind >= IGGY_POLLING_OFFSET && strategy->kind <= IGGY_POLLING_NEXT);
    iggy_writer_u8(writer, strategy->kind);
    iggy_writer_u64(writer, strategy->value);
}

uint8_t iggy_wire_ack_decode(struct iggy_reader *reader)
{
    assert(reader != NULL);
    uint8_t ack = iggy_reader_u8(reader);
    if (reader->error == 0 && ack > IGGY_ACK_QUORUM) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
    assert(reader->error != 0 || ack <= IGGY_ACK_QUORUM);
    return ack;
}

/* --- result section ---------------------------------------------------------------- */

void iggy_wire_result_encode(struct iggy_writer *writer, uint32_t code)
{
    assert(writer != NULL);
    if (code == 0) {
        iggy_writer_u32(writer, 0);
        return;
    }
    iggy_writer_u32(writer, 1);
    iggy_writer_u32(writer, 0);
    iggy_writer_u32(writer, code);
}

void iggy_wire_result_decode(struct iggy_reader *reader, uint32_t *code_out)
{
    assert(reader != NULL);
    assert(code_out != NULL);
    *code_out = 0;
    uint32_t count = iggy_reader_u32(reader);
    if (count == 0 || reader->error != 0) {
        return;
    }
    if (!iggy_reader_has_entries(reader, count, 8)) {
        return;
    }
    for (uint32_t index = 0; index < count; index++) { /* bounded by the input size */
        (void)iggy_reader_u32(reader);
        uint32_t code = iggy_reader_u32(reader);
        if (index == 0) {
            *code_out = code;
        }
    }
    if (*code_out == 0 && reader->error == 0) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT); /* a failure entry that says success */
    }
}

/* --- TLV blocks -------------------------------------------------------------------- */

/* Reads one TLV entry; sets a format error on kind 0 or a size outside 1..=255. */
static void iggy_wire_tlv_entry(struct iggy_reader *reader, uint8_t *kind_out,
                                struct iggy_bytes *data_out)
{
    assert(kind_out != NULL);
    assert(data_out != NULL);
    *kind_out = iggy_reader_u8(reader);
    uint32_t size = iggy_reader_u32(reader);
    if (reader->error == 0 && (*kind_out == 0 || size == 0 || size > IGGY_NAME_SIZE_MAX)) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
    *data_out = iggy_reader_bytes(reader, reader->error == 0 ? size : 0);
}

/* True when key equals the key of an earlier pair in block (before offset end). */
static bool iggy_wire_tlv_is_duplicate(struct iggy_bytes block, uint32_t end, struct iggy_bytes key)
{
    assert(end <= block.size);
    struct iggy_reader earlier;
    iggy_reader_init(&earlier, block.bytes, end);
    struct iggy_tlv_pair pair;
    while (iggy_wire_tlv_next(&earlier, &pair)) { /* bounded by end */
        if (iggy_bytes_is_equal(pair.key, key)) {
            return true;
        }
    }
    assert(earlier.error == 0);
    return false;
}

int iggy_wire_tlv_validate(struct iggy_bytes block, bool is_options, uint32_t *pair_count_out)
{
    assert(block.bytes != NULL || block.size == 0);
    struct iggy_reader reader;
    iggy_reader_init(&reader, block.bytes, block.size);
    if (is_options && block.size > IGGY_OPTIONS_SIZE_MAX) {
        return -RUNNEL_EFORMAT;
    }
    uint32_t pair_count = 0;
    while (iggy_reader_remaining(&reader) > 0) { /* each pair consumes >= 12 bytes */
        uint32_t pair_offset = reader.offset;
        struct iggy_tlv_pair pair;
        iggy_wire_tlv_entry(&reader, &pair.key_kind, &pair.key);
        if (iggy_reader_remaining(&reader) == 0 && reader.error == 0) {
            return -RUNNEL_EFORMAT; /* odd number of entries */
        }
        iggy_wire_tlv_entry(&reader, &pair.value_kind, &pair.value);
        if (reader.error != 0) {
            return reader.error;
        }
        pair_count++;
        if (is_options && (pair.key_kind != IGGY_TLV_STRING || !iggy_wire_is_utf8(pair.key) ||
                           pair_count > IGGY_OPTIONS_PAIRS_MAX ||
                           iggy_wire_tlv_is_duplicate(block, pair_offset, pair.key))) {
            return -RUNNEL_EFORMAT;
        }
    }
    assert(reader.offset == block.size);
    if (pair_count_out != NULL) {
        *pair_count_out = pair_count;
    }
    return reader.error;
}

bool iggy_wire_tlv_next(struct iggy_reader *reader, struct iggy_tlv_pair *pair_out)
{
    assert(reader != NULL);
    assert(pair_out != NULL);
    if (iggy_reader_remaining(reader) == 0) {
        return false;
    }
    iggy_wire_tlv_entry(reader, &pair_out->key_kind, &pair_out->key);
    iggy_wire_tlv_entry(reader, &pair_out->value_kind, &pair_out->value);
    return reader->error == 0;
}

void iggy_wire_tlv_encode(struct iggy_writer *writer, const struct iggy_tlv_pair *pair)
{
    assert(writer != NULL);
    assert(pair->key.size >= 1 && pair->key.size <= IGGY_NAME_SIZE_MAX);
    assert(pair->value.size >= 1 && pair->value.size <= IGGY_NAME_SIZE_MAX);
    assert(pair->key_kind != 0 && pair->value_kind != 0);
    iggy_writer_u8(writer, pair->key_kind);
    iggy_writer_u32(writer, pair->key.size);
    iggy_writer_bytes(writer, pair->key.bytes, pair->key.size);
    iggy_writer_u8(writer, pair->value_kind);
    iggy_writer_u32(writer, pair->value.size);
    iggy_writer_bytes(writer, pair->value.bytes, pair->value.size);
}

/* Fails the reader unless options (just read from it) is a valid options block; no-op
 * once the reader has failed. Returns options. */
static struct iggy_bytes iggy_wire_options_check(struct iggy_reader *reader,
                                                 struct iggy_bytes options)
{
    assert(reader != NULL);
    assert(options.bytes != NULL || options.size == 0);
    if (reader->error == 0) {
        int result = iggy_wire_tlv_validate(options, true, NULL);
        if (result != 0) {
            iggy_reader_fail(reader, result);
        }
    }
    return options;
}

struct iggy_bytes iggy_wire_options_decode(struct iggy_reader *reader)
{
    assert(reader != NULL);
    return iggy_wire_options_check(reader, iggy_reader_rest(reader));
}

struct iggy_bytes iggy_wire_options32_decode(struct iggy_reader *reader)
{
    assert(reader != NULL);
    return iggy_wire_options_check(reader, iggy_wire_string32_decode(reader));
}

void iggy_wire_options32_encode(struct iggy_writer *writer, struct iggy_bytes options)
{
    assert(writer != NULL);
    assert(options.size <= IGGY_OPTIONS_SIZE_MAX);
    iggy_wire_string32_encode(writer, options);
}

/* --- permissions ------------------------------------------------------------------- */

static void iggy_wire_flags_decode(struct iggy_reader *reader, bool *flags, uint32_t count)
{
    assert(flags != NULL);
    assert(count <= IGGY_PERMISSIONS_GLOBAL_COUNT);
    for (uint32_t index = 0; index < count; index++) {
        flags[index] = iggy_reader_u8(reader) != 0;
    }
}

static void iggy_wire_flags_encode(struct iggy_writer *writer, const bool *flags, uint32_t count)
{
    assert(flags != NULL);
    assert(count <= IGGY_PERMISSIONS_GLOBAL_COUNT);
    for (uint32_t index = 0; index < count; index++) {
        iggy_writer_u8(writer, flags[index] ? 1 : 0);
    }
}

/* Reads one stream entry up to and excluding its has_next_stream byte; topics beyond
 * topics_max are checked and counted but not stored. */
static void iggy_wire_stream_entry_decode(struct iggy_reader *reader,
                                          struct iggy_stream_permissions *stream,
                                          struct iggy_topic_permissions *topics,
                                          uint32_t topics_max)
{
    assert(stream != NULL);
    assert(topics != NULL || topics_max == 0);
    stream->stream_id = iggy_reader_u32(reader);
    iggy_wire_flags_decode(reader, stream->flags, IGGY_STREAM_PERMISSIONS_COUNT);
    stream->topics = topics;
    stream->topic_count = 0;
    bool has_topic = iggy_reader_u8(reader) != 0;
    while (has_topic && reader->error == 0) { /* each topic consumes 9 bytes */
        struct iggy_topic_permissions topic;
        topic.topic_id = iggy_reader_u32(reader);
        iggy_wire_flags_decode(reader, topic.flags, IGGY_TOPIC_PERMISSIONS_COUNT);
        if (stream->topic_count < topics_max) {
            topics[stream->topic_count] = topic;
        }
        stream->topic_count++;
        has_topic = iggy_reader_u8(reader) != 0;
    }
}

void iggy_wire_permissions_decode(struct iggy_reader *reader, uint32_t size,
                                  struct iggy_permissions *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    struct iggy_bytes bytes = iggy_reader_bytes(reader, size);
    struct iggy_reader inner;
    iggy_reader_init(&inner, bytes.bytes, bytes.size);
    iggy_wire_flags_decode(&inner, out->global, IGGY_PERMISSIONS_GLOBAL_COUNT);
    bool has_stream = iggy_reader_u8(&inner) != 0;
    uint32_t streams_offset = inner.offset;
    while (has_stream && inner.error == 0) { /* each stream consumes >= 12 bytes */
        struct iggy_stream_permissions stream;
        iggy_wire_stream_entry_decode(&inner, &stream, NULL, 0);
        out->stream_count++;
        has_stream = iggy_reader_u8(&inner) != 0;
    }
    out->stream_bytes.bytes = bytes.bytes == NULL ? NULL : bytes.bytes + streams_offset;
    out->stream_bytes.size = inner.offset - streams_offset;
    if (reader->error == 0 && iggy_reader_finish(&inner) != 0) {
        iggy_reader_fail(reader, inner.error);
    }
}

uint32_t iggy_wire_permissions_size(const struct iggy_permissions *permissions)
{
    assert(permissions != NULL);
    uint64_t size = IGGY_PERMISSIONS_GLOBAL_COUNT + 1;
    if (permissions->streams == NULL) {
        return (uint32_t)size + permissions->stream_bytes.size; /* decoded form, 1:1 */
    }
    for (uint32_t index = 0; index < permissions->stream_count; index++) {
        size += 12 + 9 * (uint64_t)permissions->streams[index].topic_count;
    }
    assert(size <= UINT32_MAX);
    return (uint32_t)size;
}

/* Re-encodes the validated stream part of a decoded permissions value canonically
 * (every flag byte as 0 or 1), which keeps its size. */
static void iggy_wire_stream_bytes_encode(struct iggy_writer *writer,
                                          const struct iggy_permissions *permissions)
{
    assert(permissions->streams == NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, permissions->stream_bytes.bytes, permissions->stream_bytes.size);
    for (uint32_t index = 0; index < permissions->stream_count; index++) {
        iggy_writer_u32(writer, iggy_reader_u32(&reader));
        for (uint32_t flag = 0; flag < IGGY_STREAM_PERMISSIONS_COUNT; flag++) {
            iggy_writer_u8(writer, iggy_reader_u8(&reader) != 0 ? 1 : 0);
        }
        bool has_topic = iggy_reader_u8(&reader) != 0;
        iggy_writer_u8(writer, has_topic ? 1 : 0);
        while (has_topic && reader.error == 0) { /* each topic consumes 9 bytes */
            iggy_writer_u32(writer, iggy_reader_u32(&reader));
            for (uint32_t flag = 0; flag < IGGY_TOPIC_PERMISSIONS_COUNT; flag++) {
                iggy_writer_u8(writer, iggy_reader_u8(&reader) != 0 ? 1 : 0);
            }
            has_topic = iggy_reader_u8(&reader) != 0;
            iggy_writer_u8(writer, has_topic ? 1 : 0);
        }
        iggy_writer_u8(writer, iggy_reader_u8(&reader) != 0 ? 1 : 0);
    }
    assert(reader.error == 0); /* validated by iggy_wire_permissions_decode */
}

void iggy_wire_permissions_encode(struct iggy_writer *writer,
                                  const struct iggy_permissions *permissions)
{
    assert(writer != NULL);
    assert(permissions != NULL);
    iggy_wire_flags_encode(writer, permissions->global, IGGY_PERMISSIONS_GLOBAL_COUNT);
    iggy_writer_u8(writer, permissions->stream_count > 0 ? 1 : 0);
    if (permissions->streams == NULL) {
        iggy_wire_stream_bytes_encode(writer, permissions);
        return;
    }
    for (uint32_t index = 0; index < permissions->stream_count; index++) {
        const struct iggy_stream_permissions *stream = &permissions->streams[index];
        assert(stream->topics != NULL || stream->topic_count == 0);
        iggy_writer_u32(writer, stream->stream_id);
        iggy_wire_flags_encode(writer, stream->flags, IGGY_STREAM_PERMISSIONS_COUNT);
        iggy_writer_u8(writer, stream->topic_count > 0 ? 1 : 0);
        for (uint32_t topic = 0; topic < stream->topic_count; topic++) {
            iggy_writer_u32(writer, stream->topics[topic].topic_id);
            iggy_wire_flags_encode(writer, stream->topics[topic].flags,
                                   IGGY_TOPIC_PERMISSIONS_COUNT);
            iggy_writer_u8(writer, topic + 1 < stream->topic_count ? 1 : 0);
        }
        iggy_writer_u8(writer, index + 1 < permissions->stream_count ? 1 : 0);
    }
}

void iggy_permissions_cursor_init(struct iggy_permissions_cursor *cursor,
                                  const struct iggy_permissions *permissions)
{
    assert(cursor != NULL);
    assert(permissions != NULL);
    iggy_reader_init(&cursor->reader, permissions->stream_bytes.bytes,
                     permissions->stream_bytes.size);
    cursor->stream_index = 0;
    cursor->stream_count = permissions->stream_count;
}

bool iggy_permissions_cursor_next(struct iggy_permissions_cursor *cursor,
                                  struct iggy_stream_permissions *stream_out,
                                  struct iggy_topic_permissions *topics_out, uint32_t topics_max,
                                  uint32_t *topic_count_out)
{
    assert(cursor != NULL);
    assert(stream_out != NULL && topic_count_out != NULL);
    if (cursor->stream_index >= cursor->stream_count) {
        return false;
    }
    iggy_wire_stream_entry_decode(&cursor->reader, stream_out, topics_out, topics_max);
    (void)iggy_reader_u8(&cursor->reader); /* has_next_stream, already validated */
    *topic_count_out = stream_out->topic_count;
    if (stream_out->topic_count > topics_max) {
        stream_out->topic_count = topics_max;
    }
    cursor->stream_index++;
    assert(cursor->reader.error == 0); /* the bytes were validated by the decoder */
    return true;
}
