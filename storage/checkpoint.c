/*
 * Partition checkpoint encoding and validation (storage/checkpoint.h). Pure: the file is
 * written by storage/atomic_file. Runs on the shard that owns the partition.
 */
#include "storage/checkpoint.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>

enum {
    CHECKPOINT_FIXED_SIZE = 16 + 8 + 8 + 8 + 16 + 8 + 8 + 8 + 4 + 4,
    CHECKPOINT_OFFSET_SIZE = 16,
};

static const uint64_t checkpoint_magic = 0x0154504b434c4e52ULL; /* "RNLCKPT\1" */

uint64_t checkpoint_size_bytes(const struct checkpoint *checkpoint)
{
    assert(checkpoint != NULL);
    assert(checkpoint->consumer_offsets != NULL || checkpoint->consumer_offset_count == 0);
    return CHECKPOINT_FIXED_SIZE +
           (uint64_t)checkpoint->consumer_offset_count * CHECKPOINT_OFFSET_SIZE +
           checkpoint->sessions_size_bytes;
}

static uint8_t *put(uint8_t *cursor, const void *value, size_t size)
{
    memcpy(cursor, value, size);
    return cursor + size;
}

static const uint8_t *get(const uint8_t *cursor, void *value, size_t size)
{
    memcpy(value, cursor, size);
    return cursor + size;
}

int checkpoint_encode(const struct checkpoint *checkpoint, uint8_t *buffer, uint64_t size_bytes_max,
                      uint64_t *size_out)
{
    assert(checkpoint != NULL && buffer != NULL && size_out != NULL);
    assert(checkpoint->sessions != NULL || checkpoint->sessions_size_bytes == 0);
    uint64_t size = checkpoint_size_bytes(checkpoint);
    if (size > size_bytes_max) {
        return -RUNNEL_ETOOLARGE;
    }
    uint8_t *cursor = buffer + 16;
    cursor = put(cursor, &checkpoint_magic, 8);
    cursor = put(cursor, &size, 8);
    cursor = put(cursor, &checkpoint->op, 8);
    cursor = put(cursor, &checkpoint->anchor_checksum, 16);
    cursor = put(cursor, &checkpoint->anchor_timestamp, 8);
    cursor = put(cursor, &checkpoint->log_start_offset, 8);
    cursor = put(cursor, &checkpoint->offset_next, 8);
    cursor = put(cursor, &checkpoint->consumer_offset_count, 4);
    cursor = put(cursor, &checkpoint->sessions_size_bytes, 4);
    for (uint32_t index = 0; index < checkpoint->consumer_offset_count; index++) {
        const struct checkpoint_consumer_offset *offset = &checkpoint->consumer_offsets[index];
        cursor = put(cursor, &offset->kind, 4);
        cursor = put(cursor, &offset->consumer_id, 4);
        cursor = put(cursor, &offset->offset, 8);
    }
    if (checkpoint->sessions_size_bytes > 0) {
        cursor = put(cursor, checkpoint->sessions, checkpoint->sessions_size_bytes);
    }
    assert((uint64_t)(cursor - buffer) == size);
    u128 checksum = vsr_checksum(buffer + 16, size - 16);
    memcpy(buffer, &checksum, 16);
    *size_out = size;
    return 0;
}

static int checkpoint_check_frame(const uint8_t *bytes, uint64_t size_bytes)
{
    if (size_bytes < CHECKPOINT_FIXED_SIZE) {
        return -RUNNEL_ETRUNCATED;
    }
    u128 checksum;
    uint64_t magic = 0;
    uint64_t size = 0;
    memcpy(&checksum, bytes, 16);
    memcpy(&magic, bytes + 16, 8);
    memcpy(&size, bytes + 24, 8);
    if (magic != checkpoint_magic) {
        return -RUNNEL_EFORMAT;
    }
    if (size != size_bytes) {
        return size > size_bytes ? -RUNNEL_ETRUNCATED : -RUNNEL_EFORMAT;
    }
    if (checksum != vsr_checksum(bytes + 16, size - 16)) {
        return -RUNNEL_ECHECKSUM;
    }
    return 0;
}

int checkpoint_decode(const uint8_t *bytes, uint64_t size_bytes, struct checkpoint *checkpoint,
                      uint32_t consumer_offsets_max, uint32_t sessions_size_max)
{
    assert(bytes != NULL && checkpoint != NULL);
    assert(checkpoint->consumer_offsets != NULL || consumer_offsets_max == 0);
    int result = checkpoint_check_frame(bytes, size_bytes);
    if (result != 0) {
        return result;
    }
    const uint8_t *cursor = bytes + 32;
    cursor = get(cursor, &checkpoint->op, 8);
    cursor = get(cursor, &checkpoint->anchor_checksum, 16);
    cursor = get(cursor, &checkpoint->anchor_timestamp, 8);
    cursor = get(cursor, &checkpoint->log_start_offset, 8);
    cursor = get(cursor, &checkpoint->offset_next, 8);
    cursor = get(cursor, &checkpoint->consumer_offset_count, 4);
    cursor = get(cursor, &checkpoint->sessions_size_bytes, 4);
    if (checkpoint->consumer_offset_count > consumer_offsets_max ||
        checkpoint->sessions_size_bytes > sessions_size_max) {
        return -RUNNEL_ETOOLARGE;
    }
    if (checkpoint_size_bytes(checkpoint) != size_bytes ||
        checkpoint->log_start_offset > checkpoint->offset_next) {
        return -RUNNEL_EFORMAT;
    }
    for (uint32_t index = 0; index < checkpoint->consumer_offset_count; index++) {
        struct checkpoint_consumer_offset *offset = &checkpoint->consumer_offsets[index];
        cursor = get(cursor, &offset->kind, 4);
        cursor = get(cursor, &offset->consumer_id, 4);
        cursor = get(cursor, &offset->offset, 8);
    }
    if (checkpoint->sessions_size_bytes > 0) {
        cursor = get(cursor, checkpoint->sessions, checkpoint->sessions_size_bytes);
    }
    assert((uint64_t)(cursor - bytes) == size_bytes);
    return 0;
}

int checkpoint_decode_summary(const uint8_t *bytes, uint64_t size_bytes,
                              struct checkpoint *checkpoint)
{
    assert(bytes != NULL && checkpoint != NULL);
    memset(checkpoint, 0, sizeof(*checkpoint));
    int result = checkpoint_check_frame(bytes, size_bytes);
    if (result != 0) {
        return result;
    }
    const uint8_t *cursor = bytes + 32;
    cursor = get(cursor, &checkpoint->op, 8);
    cursor = get(cursor, &checkpoint->anchor_checksum, 16);
    cursor = get(cursor, &checkpoint->anchor_timestamp, 8);
    cursor = get(cursor, &checkpoint->log_start_offset, 8);
    cursor = get(cursor, &checkpoint->offset_next, 8);
    cursor = get(cursor, &checkpoint->consumer_offset_count, 4);
    cursor = get(cursor, &checkpoint->sessions_size_bytes, 4);
    assert(cursor <= bytes + size_bytes);
    if (checkpoint_size_bytes(checkpoint) != size_bytes ||
        checkpoint->log_start_offset > checkpoint->offset_next) {
        return -RUNNEL_EFORMAT;
    }
    return 0;
}
