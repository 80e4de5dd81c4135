/*
 * Single-producer single-consumer ring (spsc.h). head and tail count entries since init and
 * never wrap in practice (2^64 entries); the slot of position p is p & index_mask.
 */
#include "lib/spsc.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>

void spsc_init(struct spsc *queue, void *memory, size_t entry_size_bytes, uint32_t entry_count_max)
{
    assert(queue != NULL);
    assert(memory != NULL);
    assert(entry_size_bytes > 0);
    assert(entry_count_max > 0 && (entry_count_max & (entry_count_max - 1)) == 0);
    assert(entry_size_bytes <= SIZE_MAX / entry_count_max);
    atomic_init(&queue->head, 0);
    atomic_init(&queue->tail, 0);
    queue->tail_cached = 0;
    queue->head_cached = 0;
    queue->entries = memory;
    queue->entry_size_bytes = entry_size_bytes;
    queue->entry_count_max = entry_count_max;
    queue->index_mask = entry_count_max - 1;
}

/* The ring holds entry_count entries from position in two runs: slot onward, then from 0. */
static uint32_t spsc_first_run(const struct spsc *queue, uint64_t position, uint32_t entry_count,
                               uint32_t *slot_out)
{
    assert(entry_count <= queue->entry_count_max);
    assert(slot_out != NULL);
    uint32_t slot = (uint32_t)(position & queue->index_mask);
    uint32_t until_end = queue->entry_count_max - slot;
    *slot_out = slot;
    return until_end < entry_count ? until_end : entry_count;
}

static void spsc_copy_in(struct spsc *queue, uint64_t position, const unsigned char *entries,
                         uint32_t entry_count)
{
    assert(entries != NULL);
    uint32_t slot = 0;
    uint32_t first = spsc_first_run(queue, position, entry_count, &slot);
    size_t size = queue->entry_size_bytes;
    memcpy(queue->entries + (size_t)slot * size, entries, (size_t)first * size);
    memcpy(queue->entries, entries + (size_t)first * size, (size_t)(entry_count - first) * size);
}

static void spsc_copy_out(const struct spsc *queue, uint64_t position, unsigned char *entries,
                          uint32_t entry_count)
{
    assert(entries != NULL);
    uint32_t slot = 0;
    uint32_t first = spsc_first_run(queue, position, entry_count, &slot);
    size_t size = queue->entry_size_bytes;
    memcpy(entries, queue->entries + (size_t)slot * size, (size_t)first * size);
    memcpy(entries + (size_t)first * size, queue->entries, (size_t)(entry_count - first) * size);
}

/* Producer: room for up to want entries, refreshing the cached head only when needed. */
static uint32_t spsc_room(struct spsc *queue, uint64_t tail, uint32_t want)
{
    uint64_t used = tail - queue->head_cached;
    assert_hot(used <= queue->entry_count_max);
    if (queue->entry_count_max - used < want) {
        queue->head_cached = atomic_load_explicit(&queue->head, memory_order_acquire);
        used = tail - queue->head_cached;
        assert(used <= queue->entry_count_max);
    }
    return (uint32_t)(queue->entry_count_max - used);
}

/* Consumer: entries available, up to want, refreshing the cached tail only when needed. */
static uint32_t spsc_available(struct spsc *queue, uint64_t head, uint32_t want)
{
    uint64_t available = queue->tail_cached - head;
    assert_hot(available <= queue->entry_count_max);
    if (available < want) {
        queue->tail_cached = atomic_load_explicit(&queue->tail, memory_order_acquire);
        available = queue->tail_cached - head;
        assert(available <= queue->entry_count_max);
    }
    return (uint32_t)available;
}

uint32_t spsc_push_batch(struct spsc *queue, const void *entries, uint32_t entry_count)
{
    assert(queue != NULL);
    assert(entries != NULL || entry_count == 0);
    uint64_t tail = atomic_load_explicit(&queue->tail, memory_order_relaxed);
    uint32_t room = spsc_room(queue, tail, entry_count);
    uint32_t count = room < entry_count ? room : entry_count;
    if (count == 0) {
        return 0;
    }
    spsc_copy_in(queue, tail, entries, count);
    atomic_store_explicit(&queue->tail, tail + count, memory_order_release);
    return count;
}

uint32_t spsc_pop_batch(struct spsc *queue, void *entries_out, uint32_t entry_count_max)
{
    assert(queue != NULL);
    assert(entries_out != NULL || entry_count_max == 0);
    uint64_t head = atomic_load_explicit(&queue->head, memory_order_relaxed);
    uint32_t available = spsc_available(queue, head, entry_count_max);
    uint32_t count = available < entry_count_max ? available : entry_count_max;
    if (count == 0) {
        return 0;
    }
    spsc_copy_out(queue, head, entries_out, count);
    atomic_store_explicit(&queue->head, head + count, memory_order_release);
    return count;
}

int spsc_push(struct spsc *queue, const void *entry)
{
    assert(queue != NULL);
    assert(entry != NULL);
    return spsc_push_batch(queue, entry, 1) == 1 ? 0 : -RUNNEL_EFULL;
}

int spsc_pop(struct spsc *queue, void *entry_out)
{
    assert(queue != NULL);
    assert(entry_out != NULL);
    return spsc_pop_batch(queue, entry_out, 1) == 1 ? 0 : -RUNNEL_EEMPTY;
}

uint32_t spsc_count(const struct spsc *queue)
{
    assert(queue != NULL);
    /* Head first: the tail read after it is at least as new, so tail >= head. */
    uint64_t head = atomic_load_explicit(&queue->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&queue->tail, memory_order_acquire);
    assert(tail >= head);
    uint64_t count = tail - head;
    return count < queue->entry_count_max ? (uint32_t)count : queue->entry_count_max;
}
