/*
 * The data plane's part of shutdown (see data_plane_drain.h): waits until the open groups
 * are idle, then flushes, fdatasyncs and closes every partition while the ring exists.
 * Owns the drain state embedded in struct data_plane; runs on the data plane's shard.
 */
#include "node/data_plane_drain.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/data_plane_internal.h"
#include "proto/iggy_error.h"

#include <errno.h>

enum { DATA_PLANE_DRAIN_WAIT_ITERATIONS = 100000 };

void data_plane_drain_begin(struct data_plane *plane)
{
    assert(plane != NULL);
    assert(!plane->drain.is_draining);
    plane->drain.is_draining = true;
    log_info("data_plane_drain", "shard=%u", plane->shard_index);
}

/* True when partition has nothing queued, in flight, polled or unreported. */
static bool data_plane_drain_is_idle(const struct data_partition *partition)
{
    assert(partition != NULL);
    assert(partition->is_used);
    return partition->in_flight_count == 0 && partition->queue_head == NULL &&
           partition->submitting == NULL && partition->poll_active == NULL &&
           partition->poll_head == NULL && partition->poll_forward_head == NULL &&
           !journal_partition_is_busy(&partition->journal) &&
           !checkpoint_store_is_busy(&partition->checkpoints) &&
           !data_partition_truncate_is_busy(partition) && !partition_is_flushing(&partition->log) &&
           !partition_has_unflushed(&partition->log);
}

static void data_plane_drain_sync_callback(struct io_completion *completion)
{
    assert(completion != NULL);
    assert(completion->done);
}

/* fdatasync of one file, waited for (shutdown only). Returns 0 or a negative code. */
static int data_plane_drain_sync_file(struct data_plane *plane, int32_t file)
{
    assert(plane != NULL && plane->io != NULL);
    assert(file >= 0);
    struct io_completion completion = {0};
    io_fdatasync(plane->io, &completion, file, data_plane_drain_sync_callback, NULL);
    int64_t result = io_wait(plane->io, &completion, DATA_PLANE_DRAIN_WAIT_ITERATIONS);
    return result < 0 ? (int)result : 0;
}

/* Syncs every log and index file of partition, then closes it. */
static void data_plane_drain_close(struct data_plane *plane, struct data_partition *partition)
{
    assert(data_plane_drain_is_idle(partition));
    struct partition *log = &partition->log;
    uint32_t files = 0;
    int failure = 0;
    for (uint32_t index = 0; log->failed == 0 && index < log->segment_count; index++) {
        int32_t pair[2] = {log->segments[index].log_file, log->segments[index].index_file};
        for (uint32_t side = 0; side < 2; side++) {
            int result = pair[side] >= 0 ? data_plane_drain_sync_file(plane, pair[side]) : 0;
            files += pair[side] >= 0 && result == 0 ? 1u : 0u;
            failure = result != 0 ? result : failure;
        }
    }
    if (failure != 0 || log->failed != 0) {
        plane->drain.failed_count++;
        log_error("partition_sync_failed", "directory=%s error=\"%s\"", partition->directory,
                  error_text(failure != 0 ? failure : log->failed));
    }
    log_info("partition_synced_closed", "directory=%s segments=%u files_synced=%u op=%llu",
             partition->directory, log->segment_count, files, (unsigned long long)log->op_last);
    data_plane_partition_retire(partition);
    plane->drain.synced_count++;
    assert(!partition->is_used);
}

void data_plane_drain_pass(struct data_plane *plane)
{
    assert(plane != NULL);
    assert(plane->drain.is_draining);
    if (plane->drain.is_closed) {
        if (plane->has_superblock) {
            (void)superblock_storage_pass(&plane->storage); /* view state still unwritten */
        }
        return;
    }
    if (!plane->has_superblock || plane->open_head != NULL) {
        plane->drain.is_closed = !plane->has_superblock;
        return;
    }
    bool is_idle = true;
    for (uint32_t index = 0; index < plane->partitions_end; index++) {
        struct data_partition *partition = &plane->partitions[index];
        if (partition->is_used && !data_plane_drain_is_idle(partition)) {
            is_idle = false;
            if (partition_has_unflushed(&partition->log) &&
                !partition_is_flushing(&partition->log)) {
                (void)partition_flush(&partition->log);
            }
        }
    }
    if (!is_idle) {
        return;
    }
    for (uint32_t index = 0; index < plane->partitions_end; index++) {
        if (plane->partitions[index].is_used) {
            data_plane_drain_close(plane, &plane->partitions[index]);
        }
    }
    plane->drain.is_closed = true;
    log_info("data_plane_drained", "shard=%u partitions_closed=%llu sync_failed=%llu",
             plane->shard_index, (unsigned long long)plane->drain.synced_count,
             (unsigned long long)plane->drain.failed_count);
}

bool data_plane_drain_is_closed(const struct data_plane *plane)
{
    assert(plane != NULL);
    assert(plane->drain.is_draining || !plane->drain.is_closed);
    return plane->drain.is_closed;
}

bool data_plane_drain_is_done(const struct data_plane *plane)
{
    assert(plane != NULL);
    assert(plane->drain.is_draining || !plane->drain.is_closed);
    if (!plane->drain.is_closed) {
        return false;
    }
    return !plane->has_superblock || !superblock_storage_is_busy(&plane->storage);
}

void data_plane_drain_close_files(struct data_plane *plane)
{
    assert(plane != NULL);
    if (!plane->has_superblock) {
        return;
    }
    if (superblock_storage_is_busy(&plane->storage)) {
        log_warn("superblock_left_open", "shard=%u reason=\"a write in flight\"",
                 plane->shard_index);
        return;
    }
    superblock_close(&plane->superblock);
}

void data_plane_drain_refuse(struct data_plane *plane, struct broker_request *request)
{
    assert(plane != NULL && request != NULL);
    assert(plane->drain.is_closed);
    plane->drain.refused_count++;
    data_plane_reply_status(plane, request, IGGY_ERROR_FEATURE_UNAVAILABLE);
}
