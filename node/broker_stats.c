/*
 * Per-partition figures (see broker_stats.h). Owns the table; written by the owning
 * shard of each partition, read by every shard with relaxed atomics (figures only grow
 * within an incarnation; the incarnation is read before and after the figures, so a
 * slot republished meanwhile reads as empty).
 */
#include "node/broker_stats.h"

#include "lib/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int broker_stats_init(struct broker_stats *stats, uint32_t partitions_max)
{
    assert(stats != NULL);
    assert(partitions_max > 0);
    stats->partitions = calloc(partitions_max, sizeof(stats->partitions[0]));
    stats->partitions_max = stats->partitions != NULL ? partitions_max : 0;
    atomic_init(&stats->metadata_role_state, 0);
    return stats->partitions != NULL ? 0 : -ENOMEM;
}

void broker_stats_deinit(struct broker_stats *stats)
{
    assert(stats != NULL);
    free(stats->partitions);
    stats->partitions = NULL;
    stats->partitions_max = 0;
    assert(stats->partitions == NULL);
}

void broker_stats_publish(struct broker_stats *stats, uint32_t slot, uint64_t incarnation,
                          const struct broker_stats_figures *figures)
{
    assert(stats != NULL && figures != NULL);
    assert(slot < stats->partitions_max && incarnation != 0);
    struct broker_stats_partition *entry = &stats->partitions[slot];
    if (atomic_load_explicit(&entry->incarnation, memory_order_relaxed) != incarnation) {
        atomic_store_explicit(&entry->incarnation, 0, memory_order_release);
    }
    atomic_store_explicit(&entry->message_count, figures->message_count, memory_order_relaxed);
    atomic_store_explicit(&entry->size_bytes, figures->size_bytes, memory_order_relaxed);
    atomic_store_explicit(&entry->segment_count, figures->segment_count, memory_order_relaxed);
    atomic_store_explicit(&entry->offset_next, figures->offset_next, memory_order_relaxed);
    atomic_store_explicit(&entry->incarnation, incarnation, memory_order_release);
}

bool broker_stats_read(const struct broker_stats *stats, uint32_t slot, uint64_t incarnation,
                       struct broker_stats_figures *out)
{
    assert(stats != NULL && out != NULL);
    assert(slot < stats->partitions_max);
    memset(out, 0, sizeof(*out));
    struct broker_stats_partition *entry = &stats->partitions[slot];
    if (incarnation == 0 ||
        atomic_load_explicit(&entry->incarnation, memory_order_acquire) != incarnation) {
        return false;
    }
    out->message_count = atomic_load_explicit(&entry->message_count, memory_order_relaxed);
    out->size_bytes = atomic_load_explicit(&entry->size_bytes, memory_order_relaxed);
    out->segment_count = atomic_load_explicit(&entry->segment_count, memory_order_relaxed);
    out->offset_next = atomic_load_explicit(&entry->offset_next, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&entry->incarnation, memory_order_relaxed) != incarnation) {
        memset(out, 0, sizeof(*out));
        return false;
    }
    return true;
}

static uint64_t broker_stats_role_pack(struct broker_stats_role role)
{
    assert(role.status != 0);
    return ((uint64_t)role.view << 8) | role.status;
}

static struct broker_stats_role broker_stats_role_unpack(uint64_t state)
{
    struct broker_stats_role role = {.view = (uint32_t)(state >> 8),
                                     .status = (uint8_t)(state & 0xFF)};
    return role;
}

void broker_stats_role_publish(struct broker_stats *stats, uint32_t slot, uint64_t incarnation,
                               struct broker_stats_role role)
{
    assert(stats != NULL);
    assert(slot < stats->partitions_max && incarnation != 0);
    struct broker_stats_partition *entry = &stats->partitions[slot];
    uint64_t state = broker_stats_role_pack(role);
    if (atomic_load_explicit(&entry->role_incarnation, memory_order_relaxed) == incarnation &&
        atomic_load_explicit(&entry->role_state, memory_order_relaxed) == state) {
        return; /* unchanged: no store on the tick's path */
    }
    atomic_store_explicit(&entry->role_incarnation, 0, memory_order_release);
    atomic_store_explicit(&entry->role_state, state, memory_order_relaxed);
    atomic_store_explicit(&entry->role_incarnation, incarnation, memory_order_release);
}

bool broker_stats_role_read(const struct broker_stats *stats, uint32_t slot, uint64_t incarnation,
                            struct broker_stats_role *out)
{
    assert(stats != NULL && out != NULL);
    assert(slot < stats->partitions_max);
    memset(out, 0, sizeof(*out));
    struct broker_stats_partition *entry = &stats->partitions[slot];
    if (incarnation == 0 ||
        atomic_load_explicit(&entry->role_incarnation, memory_order_acquire) != incarnation) {
        return false;
    }
    uint64_t state = atomic_load_explicit(&entry->role_state, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&entry->role_incarnation, memory_order_relaxed) != incarnation) {
        return false;
    }
    *out = broker_stats_role_unpack(state);
    return true;
}

void broker_stats_metadata_role_publish(struct broker_stats *stats, struct broker_stats_role role)
{
    assert(stats != NULL);
    atomic_store_explicit(&stats->metadata_role_state, broker_stats_role_pack(role),
                          memory_order_relaxed);
}

bool broker_stats_metadata_role_read(const struct broker_stats *stats,
                                     struct broker_stats_role *out)
{
    assert(stats != NULL && out != NULL);
    uint64_t state = atomic_load_explicit(&stats->metadata_role_state, memory_order_relaxed);
    memset(out, 0, sizeof(*out));
    if (state == 0) {
        return false;
    }
    *out = broker_stats_role_unpack(state);
    return true;
}
