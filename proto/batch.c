/*
 * Iggy message batch: validation of untrusted batches, frame walks, server stamping, poll
 * slices and a producer-side builder. Owns no memory; works in place on caller buffers.
 * Pure functions: any shard (the owning shard stamps and slices; home shards validate).
 */
#include "proto/batch.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "batch fields are little-endian");

static uint64_t load_u64(const uint8_t *bytes)
{
    uint64_t value;
    memcpy(&value, bytes, sizeof(value));
    return value;
}

static uint32_t load_u32(const uint8_t *bytes)
{
    uint32_t value;
    memcpy(&value, bytes, sizeof(value));
    return value;
}

static void store_u64(uint8_t *bytes, uint64_t value)
{
    memcpy(bytes, &value, sizeof(value));
}

static void store_u32(uint8_t *bytes, uint32_t value)
{
    memcpy(bytes, &value, sizeof(value));
}

static bool is_zero(const uint8_t *bytes, size_t size_bytes)
{
    for (size_t index = 0; index < size_bytes; index++) {
        if (bytes[index] != 0) {
            return false;
        }
    }
    return true;
}

uint64_t batch_hash(const void *bytes, size_t size_bytes)
{
    assert(bytes != NULL || size_bytes == 0);
    uint64_t hash = XXH3_64bits(size_bytes ? bytes : "", size_bytes);
    assert(size_bytes != 0 || hash == 0x2D06800538D394C2ULL);
    return hash;
}

void batch_header_read(const void *bytes, struct batch_header *header_out)
{
    assert(bytes != NULL);
    assert(header_out != NULL);
    const uint8_t *header = bytes;
    header_out->partition_id = load_u64(header + BATCH_OFFSET_PARTITION_ID);
    header_out->base_offset = load_u64(header + BATCH_OFFSET_BASE_OFFSET);
    header_out->base_timestamp_us = load_u64(header + BATCH_OFFSET_BASE_TIMESTAMP);
    header_out->origin_timestamp_us = load_u64(header + BATCH_OFFSET_ORIGIN_TIMESTAMP);
    header_out->batch_length_bytes = load_u64(header + BATCH_OFFSET_BATCH_LENGTH);
    header_out->batch_checksum = load_u64(header + BATCH_OFFSET_BATCH_CHECKSUM);
    header_out->message_count = load_u32(header + BATCH_OFFSET_MESSAGE_COUNT);
}

uint32_t batch_message_count(const void *bytes)
{
    assert(bytes != NULL);
    return load_u32((const uint8_t *)bytes + BATCH_OFFSET_MESSAGE_COUNT);
}

uint64_t batch_base_offset(const void *bytes)
{
    assert(bytes != NULL);
    return load_u64((const uint8_t *)bytes + BATCH_OFFSET_BASE_OFFSET);
}

uint64_t batch_base_timestamp_us(const void *bytes)
{
    assert(bytes != NULL);
    return load_u64((const uint8_t *)bytes + BATCH_OFFSET_BASE_TIMESTAMP);
}

/* The batch checksum over header (its first 44 field bytes, with batch_length and
 * message_count as given) and the stored checksums of the frames in [frames, +size). */
static uint64_t batch_checksum_compute(const uint8_t *header, uint64_t batch_length_bytes,
                                       uint32_t message_count, const uint8_t *frames,
                                       uint64_t frames_size_bytes)
{
    assert(header != NULL);
    assert(frames != NULL || frames_size_bytes == 0);
    uint8_t fields[BATCH_CHECKSUM_FIELDS_SIZE];
    memcpy(fields, header, BATCH_OFFSET_BATCH_LENGTH);
    store_u64(fields + BATCH_OFFSET_BATCH_LENGTH, batch_length_bytes);
    store_u32(fields + BATCH_OFFSET_BATCH_LENGTH + 8, message_count);
    XXH3_state_t state;
    XXH3_INITSTATE(&state);
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, fields, sizeof(fields));
    uint64_t position = 0;
    for (uint32_t index = 0; index < message_count; index++) {
        assert(position + BATCH_FRAME_HEADER_SIZE <= frames_size_bytes);
        XXH3_64bits_update(&state, frames + position, sizeof(uint64_t));
        uint64_t payload = load_u32(frames + position + 36);
        uint64_t user_headers = load_u32(frames + position + 32);
        position += BATCH_FRAME_HEADER_SIZE + payload + user_headers;
    }
    assert(position == frames_size_bytes);
    return XXH3_64bits_digest(&state);
}

/* Checks that frames tile [256, size) exactly with message_count frames and zero reserved
 * fields; with frame checksums when check_frames. Untrusted input: no asserts on it. */
static int batch_validate_frames(const uint8_t *batch, uint64_t size_bytes, uint32_t message_count,
                                 bool check_frames, const char **reason)
{
    assert(batch != NULL);
    assert(size_bytes >= BATCH_HEADER_SIZE);
    uint64_t position = BATCH_HEADER_SIZE;
    for (uint32_t index = 0; index < message_count; index++) {
        if (size_bytes - position < BATCH_FRAME_HEADER_SIZE) {
            *reason = "frame header past the batch";
            return -RUNNEL_EFORMAT;
        }
        const uint8_t *frame = batch + position;
        uint64_t body = (uint64_t)load_u32(frame + 32) + load_u32(frame + 36);
        if (body > size_bytes - position - BATCH_FRAME_HEADER_SIZE) {
            *reason = "frame body past the batch";
            return -RUNNEL_EFORMAT;
        }
        if (load_u64(frame + 40) != 0) {
            *reason = "frame reserved not zero";
            return -RUNNEL_EFORMAT;
        }
        if (check_frames &&
            batch_hash(frame + 8, BATCH_FRAME_HEADER_SIZE - 8 + body) != load_u64(frame)) {
            *reason = "frame checksum";
            return -RUNNEL_ECHECKSUM;
        }
        position += BATCH_FRAME_HEADER_SIZE + body;
    }
    if (position != size_bytes) {
        *reason = "frames do not fill the batch";
        return -RUNNEL_EFORMAT;
    }
    return 0;
}

static int batch_validate_with(const void *bytes, uint64_t size_bytes, bool check_frames,
                               const char **reason_out)
{
    assert(bytes != NULL || size_bytes == 0);
    const char *reason_ignored = NULL;
    const char **reason = reason_out != NULL ? reason_out : &reason_ignored;
    const uint8_t *batch = bytes;
    if (size_bytes < BATCH_HEADER_SIZE + BATCH_FRAME_HEADER_SIZE) {
        *reason = "batch shorter than a header and a frame";
        return -RUNNEL_ETRUNCATED;
    }
    struct batch_header header;
    batch_header_read(batch, &header);
    if (header.batch_length_bytes != size_bytes) {
        *reason = "batch_length does not match the size";
        return header.batch_length_bytes > size_bytes ? -RUNNEL_ETRUNCATED : -RUNNEL_EFORMAT;
    }
    if (!is_zero(batch + BATCH_OFFSET_RESERVED, BATCH_HEADER_SIZE - BATCH_OFFSET_RESERVED)) {
        *reason = "batch reserved not zero";
        return -RUNNEL_EFORMAT;
    }
    if (header.message_count == 0) {
        *reason = "message_count is zero";
        return -RUNNEL_EFORMAT;
    }
    int result =
        batch_validate_frames(batch, size_bytes, header.message_count, check_frames, reason);
    if (result != 0) {
        return result;
    }
    uint64_t expected =
        batch_checksum_compute(batch, size_bytes, header.message_count, batch + BATCH_HEADER_SIZE,
                               size_bytes - BATCH_HEADER_SIZE);
    if (expected != header.batch_checksum) {
        *reason = "batch checksum";
        return -RUNNEL_ECHECKSUM;
    }
    return 0;
}

int batch_validate(const void *bytes, uint64_t size_bytes, const char **reason_out)
{
    assert(bytes != NULL || size_bytes == 0);
    int result = batch_validate_with(bytes, size_bytes, true, reason_out);
    assert(result <= 0);
    return result;
}

int batch_validate_structure(const void *bytes, uint64_t size_bytes, const char **reason_out)
{
    assert(bytes != NULL || size_bytes == 0);
    int result = batch_validate_with(bytes, size_bytes, false, reason_out);
    assert(result <= 0);
    return result;
}

void batch_cursor_init(struct batch_cursor *cursor, const void *bytes, uint64_t size_bytes)
{
    assert(cursor != NULL);
    assert(bytes != NULL);
    assert(size_bytes >= BATCH_HEADER_SIZE);
    cursor->bytes = bytes;
    cursor->size_bytes = size_bytes;
    cursor->position_bytes = BATCH_HEADER_SIZE;
    cursor->index = 0;
    cursor->message_count = batch_message_count(bytes);
}

bool batch_cursor_next(struct batch_cursor *cursor, struct batch_frame *frame_out)
{
    assert(cursor != NULL);
    assert(frame_out != NULL);
    assert(cursor->position_bytes <= cursor->size_bytes);
    uint64_t remaining = cursor->size_bytes - cursor->position_bytes;
    if (cursor->index >= cursor->message_count || remaining < BATCH_FRAME_HEADER_SIZE) {
        return false;
    }
    const uint8_t *frame = cursor->bytes + cursor->position_bytes;
    uint32_t user_headers = load_u32(frame + 32);
    uint32_t payload = load_u32(frame + 36);
    uint64_t frame_size = BATCH_FRAME_HEADER_SIZE + (uint64_t)user_headers + payload;
    if (frame_size > remaining) {
        return false;
    }
    frame_out->bytes = frame;
    frame_out->checksum = load_u64(frame);
    frame_out->id_low = load_u64(frame + 8);
    frame_out->id_high = load_u64(frame + 16);
    frame_out->offset_delta = load_u32(frame + 24);
    frame_out->timestamp_delta_us = load_u32(frame + 28);
    frame_out->payload = frame + BATCH_FRAME_HEADER_SIZE;
    frame_out->payload_size_bytes = payload;
    frame_out->user_headers = frame + BATCH_FRAME_HEADER_SIZE + payload;
    frame_out->user_headers_size_bytes = user_headers;
    frame_out->frame_size_bytes = frame_size;
    cursor->position_bytes += frame_size;
    cursor->index++;
    return true;
}

void batch_stamp(void *bytes, uint64_t size_bytes, uint64_t partition_id, uint64_t base_offset,
                 uint64_t base_timestamp_us)
{
    assert(bytes != NULL);
    assert(size_bytes >= BATCH_HEADER_SIZE + BATCH_FRAME_HEADER_SIZE);
    uint8_t *batch = bytes;
    assert(load_u64(batch + BATCH_OFFSET_BATCH_LENGTH) == size_bytes);
    store_u64(batch + BATCH_OFFSET_PARTITION_ID, partition_id);
    store_u64(batch + BATCH_OFFSET_BASE_OFFSET, base_offset);
    store_u64(batch + BATCH_OFFSET_BASE_TIMESTAMP, base_timestamp_us);
    uint64_t checksum =
        batch_checksum_compute(batch, size_bytes, batch_message_count(batch),
                               batch + BATCH_HEADER_SIZE, size_bytes - BATCH_HEADER_SIZE);
    store_u64(batch + BATCH_OFFSET_BATCH_CHECKSUM, checksum);
}

int batch_slice(const void *bytes, uint64_t size_bytes, uint32_t index_first, uint32_t index_end,
                struct batch_slice *slice_out)
{
    assert(bytes != NULL);
    assert(slice_out != NULL);
    assert(size_bytes >= BATCH_HEADER_SIZE);
    const uint8_t *batch = bytes;
    uint32_t message_count = batch_message_count(batch);
    if (index_first >= index_end || index_end > message_count) {
        return -RUNNEL_EFORMAT;
    }
    if (index_first == 0 && index_end == message_count &&
        load_u64(batch + BATCH_OFFSET_BATCH_LENGTH) == size_bytes &&
        size_bytes >= BATCH_HEADER_SIZE + BATCH_FRAME_HEADER_SIZE) {
        /* The whole validated batch: its frames fill it, no walk (a walk touches every
         * frame header: 8 % of a pinned consumer's server CPU for 1000-message batches). */
        memcpy(slice_out->header, batch, BATCH_HEADER_SIZE);
        slice_out->frames = batch + BATCH_HEADER_SIZE;
        slice_out->frames_size_bytes = size_bytes - BATCH_HEADER_SIZE;
        slice_out->message_count = message_count;
        return 0;
    }
    struct batch_cursor cursor;
    struct batch_frame frame;
    batch_cursor_init(&cursor, batch, size_bytes);
    uint64_t first_bytes = 0;
    uint64_t end_bytes = 0;
    for (uint32_t index = 0; index < index_end; index++) {
        if (index == index_first) {
            first_bytes = cursor.position_bytes;
        }
        if (!batch_cursor_next(&cursor, &frame)) {
            return -RUNNEL_EFORMAT;
        }
    }
    end_bytes = cursor.position_bytes;
    memcpy(slice_out->header, batch, BATCH_HEADER_SIZE);
    slice_out->frames = batch + first_bytes;
    slice_out->frames_size_bytes = end_bytes - first_bytes;
    slice_out->message_count = index_end - index_first;
    if (slice_out->message_count != message_count) {
        uint64_t length = BATCH_HEADER_SIZE + slice_out->frames_size_bytes;
        store_u64(slice_out->header + BATCH_OFFSET_BATCH_LENGTH, length);
        store_u32(slice_out->header + BATCH_OFFSET_MESSAGE_COUNT, slice_out->message_count);
        store_u64(slice_out->header + BATCH_OFFSET_BATCH_CHECKSUM,
                  batch_checksum_compute(slice_out->header, length, slice_out->message_count,
                                         slice_out->frames, slice_out->frames_size_bytes));
    }
    assert(slice_out->frames_size_bytes >= BATCH_FRAME_HEADER_SIZE);
    return 0;
}

void batch_builder_init(struct batch_builder *builder, void *buffer, uint64_t size_bytes_max,
                        uint64_t origin_timestamp_us)
{
    assert(builder != NULL);
    assert(buffer != NULL);
    assert(size_bytes_max >= BATCH_HEADER_SIZE);
    builder->buffer = buffer;
    builder->size_bytes_max = size_bytes_max;
    builder->position_bytes = BATCH_HEADER_SIZE;
    builder->message_count = 0;
    builder->origin_timestamp_us = origin_timestamp_us;
    memset(buffer, 0, BATCH_HEADER_SIZE);
}

int batch_builder_add(struct batch_builder *builder, uint64_t id_low, uint64_t id_high,
                      uint64_t origin_timestamp_us, const void *payload,
                      uint32_t payload_size_bytes, const void *user_headers,
                      uint32_t user_headers_size_bytes)
{
    assert(builder != NULL);
    assert(payload != NULL || payload_size_bytes == 0);
    assert(user_headers != NULL || user_headers_size_bytes == 0);
    assert(origin_timestamp_us >= builder->origin_timestamp_us);
    assert(origin_timestamp_us - builder->origin_timestamp_us <= UINT32_MAX);
    uint64_t frame_size =
        BATCH_FRAME_HEADER_SIZE + (uint64_t)payload_size_bytes + user_headers_size_bytes;
    if (frame_size > builder->size_bytes_max - builder->position_bytes) {
        return -RUNNEL_EFULL;
    }
    uint8_t *frame = builder->buffer + builder->position_bytes;
    store_u64(frame + 8, id_low);
    store_u64(frame + 16, id_high);
    store_u32(frame + 24, builder->message_count);
    store_u32(frame + 28, (uint32_t)(origin_timestamp_us - builder->origin_timestamp_us));
    store_u32(frame + 32, user_headers_size_bytes);
    store_u32(frame + 36, payload_size_bytes);
    store_u64(frame + 40, 0);
    if (payload_size_bytes > 0) {
        memcpy(frame + BATCH_FRAME_HEADER_SIZE, payload, payload_size_bytes);
    }
    if (user_headers_size_bytes > 0) {
        memcpy(frame + BATCH_FRAME_HEADER_SIZE + payload_size_bytes, user_headers,
               user_headers_size_bytes);
    }
    store_u64(frame, batch_hash(frame + 8, frame_size - 8));
    builder->position_bytes += frame_size;
    builder->message_count++;
    return 0;
}

uint64_t batch_builder_finish(struct batch_builder *builder)
{
    assert(builder != NULL);
    assert(builder->message_count > 0);
    uint8_t *batch = builder->buffer;
    uint64_t length = builder->position_bytes;
    memset(batch, 0, BATCH_HEADER_SIZE);
    store_u64(batch + BATCH_OFFSET_ORIGIN_TIMESTAMP, builder->origin_timestamp_us);
    store_u64(batch + BATCH_OFFSET_BATCH_LENGTH, length);
    store_u32(batch + BATCH_OFFSET_MESSAGE_COUNT, builder->message_count);
    store_u64(batch + BATCH_OFFSET_BATCH_CHECKSUM,
              batch_checksum_compute(batch, length, builder->message_count,
                                     batch + BATCH_HEADER_SIZE, length - BATCH_HEADER_SIZE));
    assert(batch_validate(batch, length, NULL) == 0);
    return length;
}
