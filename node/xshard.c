/*
 * Cross-shard queues and doorbells (see xshard.h). Owns the queue matrix and its memory,
 * allocated once at start-up. Each function runs on the shard named by its from/to
 * argument; the matrix itself is shared read-only after init.
 */
#include "node/xshard.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "node/runtime_uring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { XSHARD_DRAIN_CHUNK = 16 };

int xshard_init(struct xshard *xshard, uint32_t shard_count, uint32_t entry_count_max)
{
    assert(xshard != NULL);
    assert(shard_count > 0 && shard_count <= XSHARD_SHARDS_MAX);
    assert(entry_count_max > 0 && (entry_count_max & (entry_count_max - 1)) == 0);
    memset(xshard, 0, sizeof(*xshard));
    size_t pairs = (size_t)shard_count * shard_count;
    size_t queue_bytes = (size_t)entry_count_max * sizeof(struct xshard_entry);
    xshard->queues = aligned_alloc(SPSC_CACHE_LINE_SIZE_BYTES, pairs * sizeof(struct spsc));
    xshard->counters = calloc(pairs, sizeof(struct xshard_counters));
    xshard->doorbell_pending = calloc(pairs, sizeof(bool));
    xshard->ring_fds = calloc(shard_count, sizeof(int));
    xshard->sleeps =
        aligned_alloc(SPSC_CACHE_LINE_SIZE_BYTES, shard_count * sizeof(struct xshard_sleep));
    xshard->memory = aligned_alloc(SPSC_CACHE_LINE_SIZE_BYTES, pairs * queue_bytes);
    if (xshard->queues == NULL || xshard->counters == NULL || xshard->doorbell_pending == NULL ||
        xshard->ring_fds == NULL || xshard->memory == NULL || xshard->sleeps == NULL) {
        xshard_deinit(xshard);
        return -ENOMEM;
    }
    xshard->shard_count = shard_count;
    xshard->entry_count_max = entry_count_max;
    for (size_t index = 0; index < pairs; index++) {
        spsc_init(&xshard->queues[index], (uint8_t *)xshard->memory + index * queue_bytes,
                  sizeof(struct xshard_entry), entry_count_max);
    }
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        xshard->ring_fds[shard] = -1;
        atomic_init(&xshard->sleeps[shard].is_sleeping, true);
    }
    return 0;
}

void xshard_deinit(struct xshard *xshard)
{
    assert(xshard != NULL);
    free(xshard->queues);
    free(xshard->counters);
    free(xshard->doorbell_pending);
    free(xshard->ring_fds);
    free(xshard->memory);
    free(xshard->sleeps);
    memset(xshard, 0, sizeof(*xshard));
}

void xshard_ring_fd_set(struct xshard *xshard, uint32_t shard, int ring_fd)
{
    assert(xshard != NULL);
    assert(shard < xshard->shard_count && ring_fd >= 0);
    xshard->ring_fds[shard] = ring_fd;
}

int xshard_push(struct xshard *xshard, uint32_t from, uint32_t to, enum xshard_class class,
                const struct xshard_entry *entry)
{
    assert(xshard != NULL && entry != NULL);
    assert(from < xshard->shard_count && to < xshard->shard_count && from != to);
    struct xshard_entry copy = *entry;
    copy.source_shard = from;
    struct xshard_counters *counters = &xshard->counters[from * xshard->shard_count + to];
    if (spsc_push(&xshard->queues[to * xshard->shard_count + from], &copy) != 0) {
        if (class == XSHARD_CLASS_CONSENSUS) {
            counters->drops++;
        } else {
            counters->stalls++;
        }
        return -RUNNEL_EFULL;
    }
    counters->pushed++;
    xshard->doorbell_pending[from * xshard->shard_count + to] = true;
    return 0;
}

uint32_t xshard_flush(struct xshard *xshard, uint32_t from, struct runtime_uring *uring)
{
    assert(xshard != NULL && uring != NULL);
    assert(from < xshard->shard_count);
    /* Orders this pass's pushes before the reads of the sleeping flags (pairs with the
     * fence in xshard_sleep_begin). */
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t doorbells = 0;
    for (uint32_t to = 0; to < xshard->shard_count; to++) {
        bool *pending = &xshard->doorbell_pending[from * xshard->shard_count + to];
        if (!*pending) {
            continue;
        }
        *pending = false;
        if (!atomic_load_explicit(&xshard->sleeps[to].is_sleeping, memory_order_relaxed)) {
            xshard->counters[from * xshard->shard_count + to].doorbells_skipped++;
            continue;
        }
        assert(xshard->ring_fds[to] >= 0);
        runtime_uring_doorbell(uring, xshard->ring_fds[to], from);
        doorbells++;
    }
    return doorbells;
}

bool xshard_sleep_begin(struct xshard *xshard, uint32_t shard)
{
    assert(xshard != NULL);
    assert(shard < xshard->shard_count);
    atomic_store_explicit(&xshard->sleeps[shard].is_sleeping, true, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in xshard_flush */
    for (uint32_t from = 0; from < xshard->shard_count; from++) {
        if (from != shard && spsc_count(&xshard->queues[shard * xshard->shard_count + from]) > 0) {
            return false;
        }
    }
    return true;
}

void xshard_sleep_end(struct xshard *xshard, uint32_t shard)
{
    assert(xshard != NULL);
    assert(shard < xshard->shard_count);
    atomic_store_explicit(&xshard->sleeps[shard].is_sleeping, false, memory_order_relaxed);
}

uint32_t xshard_drain(struct xshard *xshard, uint32_t to, uint32_t batch_max,
                      xshard_callback callback, void *context)
{
    assert(xshard != NULL && callback != NULL);
    assert(to < xshard->shard_count && batch_max > 0);
    struct xshard_entry batch[XSHARD_DRAIN_CHUNK];
    uint32_t handled = 0;
    for (uint32_t from = 0; from < xshard->shard_count; from++) {
        if (from == to) {
            continue;
        }
        struct spsc *queue = &xshard->queues[to * xshard->shard_count + from];
        for (uint32_t taken = 0; taken < batch_max;) {
            uint32_t want =
                batch_max - taken < XSHARD_DRAIN_CHUNK ? batch_max - taken : XSHARD_DRAIN_CHUNK;
            uint32_t count = spsc_pop_batch(queue, batch, want);
            for (uint32_t index = 0; index < count; index++) {
                assert(batch[index].source_shard == from);
                callback(&batch[index], context);
            }
            taken += count;
            handled += count;
            if (count < want) {
                break;
            }
        }
    }
    return handled;
}

uint32_t xshard_depth(const struct xshard *xshard, uint32_t from, uint32_t to)
{
    assert(xshard != NULL);
    assert(from < xshard->shard_count && to < xshard->shard_count);
    return spsc_count(&xshard->queues[to * xshard->shard_count + from]);
}

const struct xshard_counters *xshard_counters(const struct xshard *xshard, uint32_t from,
                                              uint32_t to)
{
    assert(xshard != NULL);
    assert(from < xshard->shard_count && to < xshard->shard_count);
    return &xshard->counters[from * xshard->shard_count + to];
}
