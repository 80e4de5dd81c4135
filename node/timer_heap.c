/*
 * Fixed-capacity binary min-heap of timers (see timer_heap.h). Owns only the ordering:
 * the timers and the slot array are the caller's. Runs on the shard that owns the heap.
 * Sift loops are bounded by the heap's height (at most 32 levels for a u32 count).
 */
#include "node/timer_heap.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <stddef.h>

void timer_heap_init(struct timer_heap *heap, struct timer **memory, uint32_t count_max)
{
    assert(heap != NULL);
    assert(memory != NULL && count_max > 0);
    heap->entries = memory;
    heap->count = 0;
    heap->count_max = count_max;
    heap->sequence_next = 0;
}

void timer_init(struct timer *timer)
{
    assert(timer != NULL);
    timer->heap_index = TIMER_INDEX_NONE;
    timer->callback = NULL;
    timer->context = NULL;
    timer->deadline_ns = 0;
    timer->sequence = 0;
}

bool timer_is_armed(const struct timer *timer)
{
    assert(timer != NULL);
    return timer->heap_index != TIMER_INDEX_NONE;
}

static bool timer_heap_is_before(const struct timer *a, const struct timer *b)
{
    if (a->deadline_ns != b->deadline_ns) {
        return a->deadline_ns < b->deadline_ns;
    }
    return a->sequence < b->sequence;
}

static void timer_heap_place(struct timer_heap *heap, uint32_t index, struct timer *timer)
{
    heap->entries[index] = timer;
    timer->heap_index = index;
}

static void timer_heap_sift_up(struct timer_heap *heap, uint32_t index)
{
    assert(index < heap->count);
    struct timer *timer = heap->entries[index];
    for (uint32_t level = 0; level < 32 && index > 0; level++) {
        uint32_t parent = (index - 1) / 2;
        if (!timer_heap_is_before(timer, heap->entries[parent])) {
            break;
        }
        timer_heap_place(heap, index, heap->entries[parent]);
        index = parent;
    }
    timer_heap_place(heap, index, timer);
}

static void timer_heap_sift_down(struct timer_heap *heap, uint32_t index)
{
    assert(index < heap->count);
    struct timer *timer = heap->entries[index];
    for (uint32_t level = 0; level < 32; level++) {
        uint32_t child = index * 2 + 1;
        if (child >= heap->count) {
            break;
        }
        if (child + 1 < heap->count &&
            timer_heap_is_before(heap->entries[child + 1], heap->entries[child])) {
            child++;
        }
        if (!timer_heap_is_before(heap->entries[child], timer)) {
            break;
        }
        timer_heap_place(heap, index, heap->entries[child]);
        index = child;
    }
    timer_heap_place(heap, index, timer);
}

int timer_heap_add(struct timer_heap *heap, struct timer *timer, uint64_t deadline_ns,
                   timer_callback callback, void *context)
{
    assert(heap != NULL && timer != NULL);
    assert(callback != NULL);
    assert_msg(!timer_is_armed(timer), "timer already armed");
    if (heap->count == heap->count_max) {
        return -RUNNEL_EFULL;
    }
    timer->deadline_ns = deadline_ns;
    timer->sequence = heap->sequence_next++;
    timer->callback = callback;
    timer->context = context;
    heap->count++;
    timer_heap_place(heap, heap->count - 1, timer);
    timer_heap_sift_up(heap, heap->count - 1);
    return 0;
}

void timer_heap_cancel(struct timer_heap *heap, struct timer *timer)
{
    assert(heap != NULL && timer != NULL);
    if (!timer_is_armed(timer)) {
        return;
    }
    uint32_t index = timer->heap_index;
    assert(index < heap->count && heap->entries[index] == timer);
    timer->heap_index = TIMER_INDEX_NONE;
    heap->count--;
    if (index == heap->count) {
        return;
    }
    struct timer *moved = heap->entries[heap->count];
    timer_heap_place(heap, index, moved);
    timer_heap_sift_down(heap, index);
    timer_heap_sift_up(heap, moved->heap_index);
}

bool timer_heap_has_next(const struct timer_heap *heap, uint64_t *deadline_ns_out)
{
    assert(heap != NULL);
    assert(deadline_ns_out != NULL);
    if (heap->count == 0) {
        return false;
    }
    *deadline_ns_out = heap->entries[0]->deadline_ns;
    return true;
}

uint32_t timer_heap_expire(struct timer_heap *heap, uint64_t now_ns, uint32_t fire_count_max)
{
    assert(heap != NULL);
    assert(fire_count_max > 0);
    uint32_t fired = 0;
    while (fired < fire_count_max && heap->count > 0 && heap->entries[0]->deadline_ns <= now_ns) {
        struct timer *timer = heap->entries[0];
        timer_heap_cancel(heap, timer);
        assert(!timer_is_armed(timer));
        fired++;
        timer->callback(timer, timer->context);
    }
    return fired;
}
