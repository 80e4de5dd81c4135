/*
 * Frame reassembly (see frame_reader.h). Owns the reassembly slot pool of a shard and,
 * per connection, the partial frame. Runs on the shard that owns the connection. Every
 * loop is bounded by the bytes offered.
 */
#include "node/frame_reader.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int frame_pool_init(struct frame_pool *pool, uint32_t slot_count, uint32_t slot_size_bytes)
{
    assert(pool != NULL);
    assert(slot_size_bytes >= FRAME_HEADER_SIZE && slot_count > 0);
    memset(pool, 0, sizeof(*pool));
    size_t size = (size_t)slot_count * slot_size_bytes;
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    pool->free_slots = calloc(slot_count, sizeof(pool->free_slots[0]));
    if (memory == MAP_FAILED || pool->free_slots == NULL) {
        if (memory != MAP_FAILED) {
            munmap(memory, size);
        }
        free(pool->free_slots);
        pool->free_slots = NULL;
        return -ENOMEM;
    }
    pool->memory = memory;
    pool->slot_count = slot_count;
    pool->slot_size_bytes = slot_size_bytes;
    for (uint32_t index = 0; index < slot_count; index++) {
        pool->free_slots[index] = slot_count - 1 - index;
    }
    pool->free_count = slot_count;
    return 0;
}

void frame_pool_deinit(struct frame_pool *pool)
{
    assert(pool != NULL);
    if (pool->memory != NULL) {
        assert_msg(pool->free_count == pool->slot_count, "frame slots still held");
        munmap(pool->memory, (size_t)pool->slot_count * pool->slot_size_bytes);
    }
    free(pool->free_slots);
    memset(pool, 0, sizeof(*pool));
}

static uint8_t *frame_pool_slot(struct frame_pool *pool, int32_t slot)
{
    assert(slot >= 0 && (uint32_t)slot < pool->slot_count);
    return pool->memory + (size_t)slot * pool->slot_size_bytes;
}

void frame_reader_init(struct frame_reader *reader, struct frame_pool *pool,
                       uint32_t frame_size_max)
{
    assert(reader != NULL && pool != NULL);
    assert(frame_size_max >= FRAME_HEADER_SIZE && frame_size_max <= pool->slot_size_bytes);
    reader->pool = pool;
    reader->frame_size_max = frame_size_max;
    reader->header_bytes = 0;
    reader->frame_size = 0;
    reader->slot = -1;
    reader->slot_bytes = 0;
    reader->is_ready = false;
    reader->ready_consumed = 0;
}

static uint32_t frame_size_read(const uint8_t *header)
{
    return (uint32_t)header[FRAME_SIZE_OFFSET] | (uint32_t)header[FRAME_SIZE_OFFSET + 1] << 8 |
           (uint32_t)header[FRAME_SIZE_OFFSET + 2] << 16 |
           (uint32_t)header[FRAME_SIZE_OFFSET + 3] << 24;
}

static int frame_size_check(const struct frame_reader *reader, uint32_t size)
{
    if (size < FRAME_HEADER_SIZE) {
        return -RUNNEL_EFORMAT;
    }
    return size > reader->frame_size_max ? -RUNNEL_ETOOLARGE : 0;
}

/* header[] is whole: validates it and records the frame's size. */
static int frame_reader_header_check(struct frame_reader *reader)
{
    if (reader->header_bytes < FRAME_HEADER_SIZE) {
        return 0;
    }
    uint32_t size = frame_size_read(reader->header);
    int result = frame_size_check(reader, size);
    if (result != 0) {
        return result;
    }
    reader->frame_size = size;
    return 1;
}

/* A whole header of a frame with a body: takes a reassembly slot if it has none yet. A
 * refusal leaves the reader as it was, so the caller can try again once a slot frees. */
static int frame_reader_slot_take(struct frame_reader *reader)
{
    assert(reader->header_bytes == FRAME_HEADER_SIZE && reader->frame_size > FRAME_HEADER_SIZE);
    if (reader->slot >= 0) {
        return 0;
    }
    if (reader->pool->free_count == 0) {
        reader->pool->exhausted_count++;
        return -RUNNEL_EFULL;
    }
    reader->slot = (int32_t)reader->pool->free_slots[--reader->pool->free_count];
    memcpy(frame_pool_slot(reader->pool, reader->slot), reader->header, FRAME_HEADER_SIZE);
    reader->slot_bytes = FRAME_HEADER_SIZE;
    return 0;
}

static int frame_reader_ready(struct frame_reader *reader, uint32_t consumed,
                              uint32_t *consumed_out, struct frame_view *frame_out)
{
    reader->is_ready = true;
    reader->ready_consumed = consumed;
    *consumed_out = consumed;
    frame_out->bytes =
        reader->slot >= 0 ? frame_pool_slot(reader->pool, reader->slot) : reader->header;
    frame_out->size_bytes = reader->frame_size;
    return 1;
}

/* Completes header[] from bytes; on a whole header, validates it (1), else 0 or an error. */
static int frame_reader_header(struct frame_reader *reader, const uint8_t *bytes,
                               uint32_t size_bytes, uint32_t *consumed)
{
    uint32_t take = FRAME_HEADER_SIZE - reader->header_bytes;
    take = take < size_bytes ? take : size_bytes;
    memcpy(reader->header + reader->header_bytes, bytes, take);
    reader->header_bytes += take;
    *consumed += take;
    return frame_reader_header_check(reader);
}

int frame_reader_next(struct frame_reader *reader, const uint8_t *bytes, uint32_t size_bytes,
                      uint32_t *consumed_out, struct frame_view *frame_out)
{
    assert(reader != NULL && consumed_out != NULL && frame_out != NULL);
    assert(bytes != NULL || size_bytes == 0);
    if (reader->is_ready) {
        assert(reader->ready_consumed <= size_bytes);
        return frame_reader_ready(reader, reader->ready_consumed, consumed_out, frame_out);
    }
    *consumed_out = 0;
    if (reader->header_bytes == 0 && size_bytes >= FRAME_HEADER_SIZE) {
        uint32_t size = frame_size_read(bytes);
        int result = frame_size_check(reader, size);
        if (result != 0) {
            return result;
        }
        if (size <= size_bytes) { /* whole in this buffer: in place */
            *consumed_out = size;
            frame_out->bytes = bytes;
            frame_out->size_bytes = size;
            return 1;
        }
    }
    uint32_t consumed = 0;
    if (reader->header_bytes < FRAME_HEADER_SIZE) {
        int result = frame_reader_header(reader, bytes, size_bytes, &consumed);
        if (result <= 0) {
            *consumed_out = consumed;
            return result;
        }
    }
    if (reader->frame_size == FRAME_HEADER_SIZE) {
        return frame_reader_ready(reader, consumed, consumed_out, frame_out);
    }
    int result = frame_reader_slot_take(reader);
    if (result != 0) {
        *consumed_out = consumed; /* the header bytes are kept in header[] */
        return result;
    }
    uint32_t take = reader->frame_size - reader->slot_bytes;
    take = take < size_bytes - consumed ? take : size_bytes - consumed;
    memcpy(frame_pool_slot(reader->pool, reader->slot) + reader->slot_bytes, bytes + consumed,
           take);
    reader->slot_bytes += take;
    consumed += take;
    if (reader->slot_bytes == reader->frame_size) {
        return frame_reader_ready(reader, consumed, consumed_out, frame_out);
    }
    assert(consumed == size_bytes);
    *consumed_out = consumed;
    return 0;
}

bool frame_reader_gap(struct frame_reader *reader, uint8_t **destination_out,
                      uint32_t *size_bytes_out)
{
    assert(reader != NULL);
    assert(destination_out != NULL && size_bytes_out != NULL);
    if (reader->is_ready || frame_reader_is_idle(reader)) {
        return false;
    }
    if (reader->header_bytes < FRAME_HEADER_SIZE) {
        *destination_out = reader->header + reader->header_bytes;
        *size_bytes_out = FRAME_HEADER_SIZE - reader->header_bytes;
        return true;
    }
    if (frame_reader_slot_take(reader) != 0) {
        return false;
    }
    *destination_out = frame_pool_slot(reader->pool, reader->slot) + reader->slot_bytes;
    *size_bytes_out = reader->frame_size - reader->slot_bytes;
    return *size_bytes_out > 0;
}

int frame_reader_fill(struct frame_reader *reader, uint32_t size_bytes)
{
    assert(reader != NULL);
    assert(!reader->is_ready && !frame_reader_is_idle(reader));
    if (reader->header_bytes < FRAME_HEADER_SIZE) {
        assert(size_bytes <= FRAME_HEADER_SIZE - reader->header_bytes);
        reader->header_bytes += size_bytes;
        int result = frame_reader_header_check(reader);
        if (result <= 0) {
            return result;
        }
        if (reader->frame_size > FRAME_HEADER_SIZE) {
            return 0; /* the body follows, into a slot (frame_reader_gap) */
        }
    } else {
        assert(reader->slot >= 0 && size_bytes <= reader->frame_size - reader->slot_bytes);
        reader->slot_bytes += size_bytes;
        if (reader->slot_bytes < reader->frame_size) {
            return 0;
        }
    }
    reader->is_ready = true;
    reader->ready_consumed = 0;
    return 1;
}

bool frame_reader_is_ready(const struct frame_reader *reader)
{
    assert(reader != NULL);
    assert(!reader->is_ready || reader->frame_size >= FRAME_HEADER_SIZE);
    return reader->is_ready;
}

void frame_reader_reset(struct frame_reader *reader)
{
    assert(reader != NULL);
    if (reader->slot >= 0) {
        struct frame_pool *pool = reader->pool;
        assert(pool->free_count < pool->slot_count);
        pool->free_slots[pool->free_count++] = (uint32_t)reader->slot;
    }
    reader->slot = -1;
    reader->slot_bytes = 0;
    reader->header_bytes = 0;
    reader->frame_size = 0;
    reader->is_ready = false;
    reader->ready_consumed = 0;
}

void frame_reader_done(struct frame_reader *reader)
{
    assert(reader != NULL);
    if (!reader->is_ready) {
        assert(reader->header_bytes == 0 && reader->slot < 0); /* an in-place frame */
        return;
    }
    frame_reader_reset(reader);
    assert(frame_reader_is_idle(reader));
}

bool frame_reader_is_idle(const struct frame_reader *reader)
{
    assert(reader != NULL);
    return reader->header_bytes == 0 && reader->slot < 0 && !reader->is_ready;
}
