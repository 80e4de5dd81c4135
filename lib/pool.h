/*
 * Fixed-capacity object pool: object_count_max slots of object_size_bytes each, handed out
 * and taken back in O(1) without calling malloc. An empty pool is backpressure: acquire
 * returns NULL and the caller refuses or defers work.
 *
 * The memory is one block laid out as [objects][in-use bitmap][free stack]; its size comes
 * from pool_memory_size_bytes. The caller owns it (pool_init), or the pool allocates it
 * once at start-up (pool_init_allocate, freed by pool_deinit). Each slot starts at a
 * multiple of alignof(max_align_t). Releasing a pointer the pool did not hand out, or one
 * already released, is a programmer error and asserts. A pool belongs to one shard.
 */
#ifndef RUNNEL_LIB_POOL_H
#define RUNNEL_LIB_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool {
    unsigned char *memory;      /* start of the objects; alignof(max_align_t)-aligned */
    uint64_t *in_use_bitmap;    /* bit index set while slot index is acquired */
    uint32_t *free_stack;       /* indices of free slots; the top is the next acquired */
    size_t object_size_bytes;   /* as given at init */
    size_t object_stride_bytes; /* object_size_bytes rounded up to alignof(max_align_t) */
    uint32_t object_count_max;  /* slots in the pool */
    uint32_t free_count;        /* entries on free_stack */
    bool memory_owned;          /* allocated by pool_init_allocate */
};

/* Bytes of memory pool_init needs for these limits (0 if they overflow size_t). */
size_t pool_memory_size_bytes(size_t object_size_bytes, uint32_t object_count_max);

/*
 * Sets pool up over memory, which must be pool_memory_size_bytes(...) bytes aligned to
 * alignof(max_align_t) and outlive the pool. Every slot starts free; acquire hands out
 * slot 0 first.
 */
void pool_init(struct pool *pool, void *memory, size_t object_size_bytes,
               uint32_t object_count_max);

/* As pool_init over memory it allocates; returns 0 or -ENOMEM. Start-up only. */
int pool_init_allocate(struct pool *pool, size_t object_size_bytes, uint32_t object_count_max);

/* Frees memory allocated by pool_init_allocate (nothing otherwise). */
void pool_deinit(struct pool *pool);

/* Takes a free slot, or returns NULL when every slot is in use. Contents are undefined. */
void *pool_acquire(struct pool *pool);

/* Gives object, acquired from this pool and not yet released, back to the pool. */
void pool_release(struct pool *pool, void *object);

/* Slots free to acquire. */
uint32_t pool_count_free(const struct pool *pool);

/* The slot index of object, which must point at the start of a slot of this pool. */
uint32_t pool_index_of(const struct pool *pool, const void *object);

/* The slot at index (< object_count_max), acquired or not. */
void *pool_object_at(const struct pool *pool, uint32_t index);

/* True while slot index is acquired. */
bool pool_is_in_use(const struct pool *pool, uint32_t index);

#endif
