/* Fixed-capacity object pool: a free-index stack plus an in-use bitmap (see pool.h). */
#include "lib/pool.h"

#include "lib/assert.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>

enum { POOL_ALIGNMENT_BYTES = alignof(max_align_t) };

static size_t pool_round_up(size_t value, size_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

static size_t pool_bitmap_words(uint32_t object_count_max)
{
    return ((size_t)object_count_max + 63) / 64;
}

size_t pool_memory_size_bytes(size_t object_size_bytes, uint32_t object_count_max)
{
    assert(object_size_bytes > 0);
    assert(object_count_max > 0);
    if (object_size_bytes > SIZE_MAX / 2 / object_count_max) {
        return 0;
    }
    size_t stride = pool_round_up(object_size_bytes, POOL_ALIGNMENT_BYTES);
    size_t objects = stride * object_count_max;
    size_t bitmap = pool_bitmap_words(object_count_max) * sizeof(uint64_t);
    size_t stack = (size_t)object_count_max * sizeof(uint32_t);
    return objects + bitmap + stack;
}

void pool_init(struct pool *pool, void *memory, size_t object_size_bytes, uint32_t object_count_max)
{
    assert(pool != NULL);
    assert(memory != NULL);
    assert((uintptr_t)memory % POOL_ALIGNMENT_BYTES == 0);
    assert(pool_memory_size_bytes(object_size_bytes, object_count_max) > 0);
    size_t stride = pool_round_up(object_size_bytes, POOL_ALIGNMENT_BYTES);
    size_t bitmap_words = pool_bitmap_words(object_count_max);
    pool->memory = memory;
    pool->in_use_bitmap = (uint64_t *)(void *)(pool->memory + stride * object_count_max);
    pool->free_stack = (uint32_t *)(void *)(pool->in_use_bitmap + bitmap_words);
    pool->object_size_bytes = object_size_bytes;
    pool->object_stride_bytes = stride;
    pool->object_count_max = object_count_max;
    pool->free_count = object_count_max;
    pool->memory_owned = false;
    for (size_t word = 0; word < bitmap_words; word++) {
        pool->in_use_bitmap[word] = 0;
    }
    /* Highest index at the bottom so that slot 0 is acquired first. */
    for (uint32_t index = 0; index < object_count_max; index++) {
        pool->free_stack[index] = object_count_max - 1 - index;
    }
    assert(pool_count_free(pool) == object_count_max);
}

int pool_init_allocate(struct pool *pool, size_t object_size_bytes, uint32_t object_count_max)
{
    assert(pool != NULL);
    size_t size_bytes = pool_memory_size_bytes(object_size_bytes, object_count_max);
    if (size_bytes == 0) {
        return -ENOMEM;
    }
    void *memory =
        aligned_alloc(POOL_ALIGNMENT_BYTES, pool_round_up(size_bytes, POOL_ALIGNMENT_BYTES));
    if (memory == NULL) {
        return -ENOMEM;
    }
    pool_init(pool, memory, object_size_bytes, object_count_max);
    pool->memory_owned = true;
    assert(pool->memory == memory);
    return 0;
}

void pool_deinit(struct pool *pool)
{
    assert(pool != NULL);
    assert(pool->memory != NULL);
    if (pool->memory_owned) {
        free(pool->memory);
    }
    pool->memory = NULL;
    pool->free_count = 0;
}

bool pool_is_in_use(const struct pool *pool, uint32_t index)
{
    assert(pool != NULL);
    assert(index < pool->object_count_max);
    return (pool->in_use_bitmap[index / 64] >> (index % 64)) & 1;
}

void *pool_acquire(struct pool *pool)
{
    assert(pool != NULL);
    assert(pool->free_count <= pool->object_count_max);
    if (pool->free_count == 0) {
        return NULL;
    }
    pool->free_count--;
    uint32_t index = pool->free_stack[pool->free_count];
    assert(!pool_is_in_use(pool, index));
    pool->in_use_bitmap[index / 64] |= 1ULL << (index % 64);
    return pool->memory + (size_t)index * pool->object_stride_bytes;
}

void pool_release(struct pool *pool, void *object)
{
    assert(pool != NULL);
    uint32_t index = pool_index_of(pool, object);
    assert_msg(pool_is_in_use(pool, index), "pool_release of a free slot (double release)");
    assert(pool->free_count < pool->object_count_max);
    pool->in_use_bitmap[index / 64] &= ~(1ULL << (index % 64));
    pool->free_stack[pool->free_count] = index;
    pool->free_count++;
}

uint32_t pool_count_free(const struct pool *pool)
{
    assert(pool != NULL);
    assert(pool->free_count <= pool->object_count_max);
    return pool->free_count;
}

uint32_t pool_index_of(const struct pool *pool, const void *object)
{
    assert(pool != NULL);
    assert(object != NULL);
    uintptr_t start = (uintptr_t)pool->memory;
    uintptr_t address = (uintptr_t)object;
    assert_msg(address >= start, "object is not from this pool");
    uintptr_t offset = address - start;
    assert_msg(offset < pool->object_stride_bytes * pool->object_count_max,
               "object is not from this pool");
    assert_msg(offset % pool->object_stride_bytes == 0, "pointer is inside an object");
    return (uint32_t)(offset / pool->object_stride_bytes);
}

void *pool_object_at(const struct pool *pool, uint32_t index)
{
    assert(pool != NULL);
    assert(index < pool->object_count_max);
    return pool->memory + (size_t)index * pool->object_stride_bytes;
}
