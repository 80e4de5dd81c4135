/*
 * Bounded lock-free single-producer single-consumer queue of fixed-size entries, for
 * handing work between two shards (threads) without locks or allocation.
 *
 * Exactly one thread pushes and exactly one thread pops; spsc_count may be called from
 * either. The capacity is a power of two set at init over caller-owned memory of
 * entry_count_max * entry_size_bytes bytes, which must outlive the queue. Entries are
 * copied in and out. A full queue is backpressure: push returns -RUNNEL_EFULL.
 *
 * The producer's and consumer's positions live on separate 64-byte cache lines, each with
 * a cached copy of the other side's position, so a thread touches the shared line only
 * when its cached view says full (producer) or empty (consumer). Publishing uses release
 * stores and observing uses acquire loads: an entry's bytes are visible before its index.
 */
#ifndef RUNNEL_LIB_SPSC_H
#define RUNNEL_LIB_SPSC_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { SPSC_CACHE_LINE_SIZE_BYTES = 64 };

struct spsc {
    /* Consumer's line: entries popped so far, and the producer's tail as last seen. */
    alignas(SPSC_CACHE_LINE_SIZE_BYTES) _Atomic uint64_t head;
    uint64_t tail_cached;
    /* Producer's line: entries pushed so far, and the consumer's head as last seen. */
    alignas(SPSC_CACHE_LINE_SIZE_BYTES) _Atomic uint64_t tail;
    uint64_t head_cached;
    /* Read-only after init. */
    alignas(SPSC_CACHE_LINE_SIZE_BYTES) unsigned char *entries;
    size_t entry_size_bytes;
    uint32_t entry_count_max; /* capacity, a power of two */
    uint32_t index_mask;      /* entry_count_max - 1 */
};

/* Sets queue up, empty, over memory (entry_count_max * entry_size_bytes bytes). */
void spsc_init(struct spsc *queue, void *memory, size_t entry_size_bytes, uint32_t entry_count_max);

/* Producer: copies entry in; returns 0 or -RUNNEL_EFULL (nothing copied). */
int spsc_push(struct spsc *queue, const void *entry);

/* Consumer: copies the oldest entry out to entry_out; returns 0 or -RUNNEL_EEMPTY. */
int spsc_pop(struct spsc *queue, void *entry_out);

/* Producer: copies in up to entry_count consecutive entries from entries; returns how many
 * (fewer when the queue fills, 0 when full). */
uint32_t spsc_push_batch(struct spsc *queue, const void *entries, uint32_t entry_count);

/* Consumer: copies out up to entry_count_max of the oldest entries; returns how many. */
uint32_t spsc_pop_batch(struct spsc *queue, void *entries_out, uint32_t entry_count_max);

/* Entries queued. Exact when neither side is running; otherwise a snapshot between the
 * two sides' views, always within [0, entry_count_max]. */
uint32_t spsc_count(const struct spsc *queue);

#endif
