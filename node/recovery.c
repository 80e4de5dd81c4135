/*
 * A node's recovery from its cluster (see recovery.h): the flag every shard reads, the
 * shards' reports and shard 0's decision to end it.
 */
#include "node/recovery.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/format.h"
#include "vsr/replica.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int recovery_init(struct recovery *recovery, const char *data_dir, uint32_t shard_count)
{
    assert(recovery != NULL && data_dir != NULL);
    assert(shard_count > 0);
    memset(recovery, 0, sizeof(*recovery));
    atomic_init(&recovery->is_active, false);
    atomic_init(&recovery->is_metadata_done, false);
    recovery->data_dir = data_dir;
    recovery->shard_count = shard_count;
    recovery->shards = calloc(shard_count, sizeof(struct recovery_shard));
    if (recovery->shards == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < shard_count; index++) {
        atomic_init(&recovery->shards[index].checked_op, 0);
        atomic_init(&recovery->shards[index].pending, 0);
        atomic_init(&recovery->shards[index].total, 0);
    }
    return 0;
}

void recovery_deinit(struct recovery *recovery)
{
    assert(recovery != NULL);
    free(recovery->shards);
    recovery->shards = NULL;
}

void recovery_activate(struct recovery *recovery)
{
    assert(recovery->shards != NULL);
    atomic_store_explicit(&recovery->is_active, true, memory_order_release);
}

bool recovery_is_active(const struct recovery *recovery)
{
    assert(recovery != NULL);
    return atomic_load_explicit(&recovery->is_active, memory_order_acquire);
}

bool recovery_is_metadata_pending(const struct recovery *recovery)
{
    return recovery_is_active(recovery) &&
           !atomic_load_explicit(&recovery->is_metadata_done, memory_order_acquire);
}

void recovery_shard_report(struct recovery *recovery, uint32_t shard_index, uint64_t op,
                           uint32_t pending, uint32_t total)
{
    assert(shard_index < recovery->shard_count);
    assert(pending <= total);
    struct recovery_shard *shard = &recovery->shards[shard_index];
    atomic_store_explicit(&shard->pending, pending, memory_order_relaxed);
    atomic_store_explicit(&shard->total, total, memory_order_relaxed);
    atomic_store_explicit(&shard->checked_op, op + 1, memory_order_release);
}

/* Sums the shards' reports; true when every one counted none pending at metadata_op or
 * later. */
static bool recovery_shards_done(const struct recovery *recovery, uint32_t *pending_out,
                                 uint32_t *total_out)
{
    bool is_done = true;
    *pending_out = 0;
    *total_out = 0;
    for (uint32_t index = 0; index < recovery->shard_count; index++) {
        const struct recovery_shard *shard = &recovery->shards[index];
        uint64_t checked = atomic_load_explicit(&shard->checked_op, memory_order_acquire);
        uint32_t pending = atomic_load_explicit(&shard->pending, memory_order_relaxed);
        *pending_out += pending;
        *total_out += atomic_load_explicit(&shard->total, memory_order_relaxed);
        is_done = is_done && pending == 0 && recovery->metadata_op > 0 &&
                  checked >= recovery->metadata_op + 1;
    }
    return is_done;
}

void recovery_tick(struct recovery *recovery, const struct vsr_replica *metadata,
                   uint64_t metadata_op)
{
    assert(metadata != NULL);
    if (!recovery_is_active(recovery)) {
        return;
    }
    recovery->tick++;
    if (recovery->started_tick == 0) {
        recovery->started_tick = recovery->tick;
    }
    if (recovery->metadata_op == 0 && !vsr_replica_is_recovering(metadata)) {
        recovery->metadata_op = metadata_op > 0 ? metadata_op : 1;
        atomic_store_explicit(&recovery->is_metadata_done, true, memory_order_release);
        log_info("recovery_metadata_complete", "op=%llu commit=%llu view=%u metadata_op=%llu",
                 (unsigned long long)metadata->op, (unsigned long long)metadata->commit_min,
                 metadata->view, (unsigned long long)metadata_op);
    }
    uint32_t pending = 0;
    uint32_t total = 0;
    bool is_done = recovery_shards_done(recovery, &pending, &total);
    if (!is_done) {
        if (recovery->tick % RECOVERY_PROGRESS_TICKS == 0) {
            log_info("recovery_progress",
                     "metadata_recovering=%d metadata_status=%d metadata_view=%u "
                     "metadata_commit=%llu metadata_target=%llu partitions_pending=%u "
                     "partitions=%u",
                     (int)vsr_replica_is_recovering(metadata), (int)metadata->status,
                     metadata->view, (unsigned long long)metadata->commit_min,
                     (unsigned long long)metadata->recovering_op, pending, total);
        }
        return;
    }
    int result = format_recovery_complete(recovery->data_dir);
    if (result != 0) {
        if (!recovery->is_failed) {
            log_error("recovery_marker_remove_failed", "data_dir=%s error=\"%s\"",
                      recovery->data_dir, error_text(result));
        }
        recovery->is_failed = true;
        return; /* still recovering: retried next tick */
    }
    atomic_store_explicit(&recovery->is_active, false, memory_order_release);
    log_info("recovery_complete", "metadata_op=%llu partitions=%u ticks=%llu",
             (unsigned long long)recovery->metadata_op, total,
             (unsigned long long)(recovery->tick - recovery->started_tick));
}
