/*
 * A shard's timers: a fixed-capacity binary min-heap of intrusive timers keyed by a
 * monotonic deadline in nanoseconds (research/iouring.md §8.6). The loop waits until the
 * earliest deadline (no timeout SQE per timer) and then expires what is due.
 *
 * The heap holds pointers to caller-owned struct timer, which must stay alive while armed.
 * Capacity is fixed at init: arming beyond it is backpressure (-RUNNEL_EFULL). One shard
 * owns a heap; nothing here is thread-safe.
 */
#ifndef RUNNEL_NODE_TIMER_HEAP_H
#define RUNNEL_NODE_TIMER_HEAP_H

#include <stdbool.h>
#include <stdint.h>

struct timer;

typedef void (*timer_callback)(struct timer *timer, void *context);

enum { TIMER_INDEX_NONE = UINT32_MAX };

struct timer {
    uint64_t deadline_ns;
    uint64_t sequence; /* ties on deadline_ns expire in arming order */
    timer_callback callback;
    void *context;
    uint32_t heap_index; /* TIMER_INDEX_NONE while not armed */
};

struct timer_heap {
    struct timer **entries; /* count_max slots, caller-owned memory */
    uint32_t count;
    uint32_t count_max;
    uint64_t sequence_next;
};

/* Sets heap up empty over memory (count_max pointers). */
void timer_heap_init(struct timer_heap *heap, struct timer **memory, uint32_t count_max);

/* Marks timer as not armed; call once before its first use. */
void timer_init(struct timer *timer);

bool timer_is_armed(const struct timer *timer);

/* Arms timer (not armed) to fire at deadline_ns. 0 or -RUNNEL_EFULL. */
int timer_heap_add(struct timer_heap *heap, struct timer *timer, uint64_t deadline_ns,
                   timer_callback callback, void *context);

/* Disarms timer if armed (a no-op otherwise). */
void timer_heap_cancel(struct timer_heap *heap, struct timer *timer);

/* True when a timer is armed; *deadline_ns_out is the earliest deadline. */
bool timer_heap_has_next(const struct timer_heap *heap, uint64_t *deadline_ns_out);

/* Fires, earliest first, up to fire_count_max timers whose deadline is <= now_ns; each is
 * disarmed before its callback, which may re-arm it. Returns the number fired. */
uint32_t timer_heap_expire(struct timer_heap *heap, uint64_t now_ns, uint32_t fire_count_max);

#endif
