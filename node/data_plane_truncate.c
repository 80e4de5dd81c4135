/*
 * Prefix truncation of a partition group (DESIGN.md §4, issue 4 item 5; docs/OPERATIONS.md
 * "Retention"). Runs on the shard that owns the partition.
 *
 * Deciding: only the primary decides, on a timer, from three sources: the DeleteSegments
 * watermark in the metadata (broker_delete_segments), message expiry (whole sealed
 * segments whose newest record is older than now - expiry) and max topic size (the oldest
 * sealed segments while the partition's share, max size / partitions, is exceeded). The
 * active (tail) segment is never a candidate. The decision is replicated as a
 * TRUNCATE_PREFIX op whose body is [log_start_offset u64][removable_op u64]: every replica
 * applies it deterministically (log_start_offset only goes up, never past the committed
 * offsets; polls never serve below it), and removable_op is the primary's
 * vsr_replica_log_removable_op when it prepared it (ops at or below are checkpointed
 * durably on a replication quorum of the group, the primary included).
 *
 * Deleting files, on every replica: once the group's checkpoint is durable, its summary
 * (op, anchor, the group's log start at that op) is written as the log's own checkpoint
 * ({directory}/checkpoint); partition_truncate_prefix then removes whole sealed segments
 * below both that checkpoint's log start and min(removable_op, its op), the checkpoint's
 * own record (its anchor) kept. A replica's durable checkpoint at or above an op means it
 * never asks a peer for records at or below it (repair starts above commit_min, a state
 * transfer's records phase too), and a replication quorum having one means every
 * view-change quorum holds a replica with that checkpoint and the records above it. A
 * lagging or down replica therefore no longer keeps the others' files: when it returns
 * with its commit below every peer's log start it takes a state transfer, a peer's
 * checkpoint and the records from that peer's first held op (vsr/replica_records.c,
 * partition_restart: its log restarts there), as a wiped node does; it acks and serves
 * nothing past its gap meanwhile.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/control_plane.h"
#include "node/data_plane_internal.h"
#include "proto/iggy_error.h"
#include "proto/iggy_wire.h"
#include "storage/checkpoint.h"

#include <string.h>

enum { DATA_TRUNCATE_CHECK_TICKS = 100 }; /* about 1 s between the primary's decisions */

uint32_t data_partition_apply_truncate(struct data_partition *partition,
                                       const struct vsr_header *prepare, const uint8_t *body,
                                       uint8_t *reply)
{
    assert(partition != NULL && prepare != NULL && reply != NULL);
    assert(prepare->u.prepare.operation == VSR_OPERATION_TRUNCATE_PREFIX);
    struct iggy_writer writer;
    iggy_writer_init(&writer, reply, DATA_PLANE_REPLY_SIZE_MAX);
    uint64_t log_start = 0;
    uint64_t removable = 0;
    if (prepare->size - VSR_HEADER_SIZE == DATA_TRUNCATE_BODY_SIZE) {
        memcpy(&log_start, body, sizeof(log_start));
        memcpy(&removable, body + 8, sizeof(removable));
    }
    if (prepare->size - VSR_HEADER_SIZE != DATA_TRUNCATE_BODY_SIZE ||
        removable >= prepare->u.prepare.op) {
        iggy_wire_result_encode(&writer, IGGY_ERROR_INVALID_COMMAND);
        return writer.size;
    }
    /* Never past the committed offsets, never down. */
    if (log_start > partition->commit_offset_next) {
        log_start = partition->commit_offset_next;
    }
    if (log_start > partition->log_start_offset) {
        partition->log_start_offset = log_start;
    }
    if (removable > partition->removable_op) {
        partition->removable_op = removable;
    }
    assert(partition->log_start_offset <= partition->commit_offset_next);
    iggy_wire_result_encode(&writer, 0);
    return writer.size;
}

bool data_partition_truncate_is_busy(const struct data_partition *partition)
{
    return partition->is_log_checkpoint_busy || partition->is_truncating;
}

/* ---- the primary's decision ---- */

uint64_t data_retention_target(const struct partition *log, const struct data_retention *in)
{
    assert(log != NULL && in != NULL);
    uint64_t target = in->log_start_offset > in->watermark ? in->log_start_offset : in->watermark;
    uint32_t sealed = log->segment_count > 0 ? log->segment_count - 1 : 0;
    uint32_t first = 0; /* the oldest sealed segment still served */
    for (; first < sealed && log->segments[first + 1].base_offset <= target; first++) {
    }
    if (in->expiry_us != UINT64_MAX && in->now_ns / 1000 > in->expiry_us) {
        uint64_t cutoff_ns = in->now_ns - in->expiry_us * 1000;
        for (uint32_t index = first; index < sealed; index++) {
            uint64_t newest = log->segments[index].timestamp_last;
            if (newest == UINT64_MAX || newest >= cutoff_ns) {
                break; /* unknown or not expired: the ones after it are newer */
            }
            uint64_t next = log->segments[index + 1].base_offset;
            target = next > target ? next : target;
        }
    }
    if (in->share_bytes != UINT64_MAX) {
        uint64_t total = log->appended_bytes; /* the tail */
        for (uint32_t index = first; index < sealed; index++) {
            uint64_t size = log->segments[index].size_bytes;
            total += size > 0 ? size : log->options.segment_size_bytes;
        }
        for (uint32_t index = first; index < sealed && total > in->share_bytes; index++) {
            uint64_t size = log->segments[index].size_bytes;
            total -= size > 0 ? size : log->options.segment_size_bytes;
            uint64_t next = log->segments[index + 1].base_offset;
            target = next > target ? next : target;
        }
    }
    return target;
}

/* What the metadata says of the partition's retention; false when it no longer knows it. */
static bool data_partition_retention_read(struct data_partition *partition,
                                          struct data_retention *out)
{
    struct data_plane *plane = partition->plane;
    struct control_plane *control = plane->broker->control_plane;
    const struct vsr_group *group = &partition->group;
    const struct metadata *metadata = control_plane_read_begin(control, plane->shard_index);
    const struct metadata_partition *entry =
        metadata_partition_get(metadata, group->stream_id, group->topic_id, group->partition_id);
    const struct metadata_topic *topic =
        metadata_topic_get(metadata, group->stream_id, group->topic_id);
    bool is_known = entry != NULL && topic != NULL && entry->incarnation == group->incarnation &&
                    topic->partitions_count > 0;
    if (is_known) {
        out->watermark = entry->deleted_up_to_offset;
        out->expiry_us = topic->settings.message_expiry_us;
        out->share_bytes = topic->settings.max_topic_size_bytes == UINT64_MAX
                               ? UINT64_MAX
                               : topic->settings.max_topic_size_bytes / topic->partitions_count;
    }
    control_plane_read_end(control, plane->shard_index);
    return is_known;
}

/* Prepares a TRUNCATE_PREFIX op with body [log_start][removable] (this node's client). */
static void data_partition_truncate_submit(struct data_partition *partition, uint64_t log_start,
                                           uint64_t removable)
{
    uint8_t body[DATA_TRUNCATE_BODY_SIZE];
    memcpy(body, &log_start, sizeof(log_start));
    memcpy(body + 8, &removable, sizeof(removable));
    if (data_partition_server_op(partition, VSR_OPERATION_TRUNCATE_PREFIX, body, sizeof(body))) {
        log_info("partition_truncate_prepared",
                 "directory=%s op=%llu log_start_offset=%llu removable_op=%llu",
                 partition->directory, (unsigned long long)partition->replica.op,
                 (unsigned long long)log_start, (unsigned long long)removable);
    }
}

/* The primary, every DATA_TRUNCATE_CHECK_TICKS: a new log start, or a removable op that
 * frees files, is replicated. */
static void data_partition_retention_check(struct data_partition *partition)
{
    struct vsr_replica *replica = &partition->replica;
    if (++partition->truncate_tick < DATA_TRUNCATE_CHECK_TICKS) {
        return;
    }
    if (partition->queue_head != NULL || partition->session == 0 ||
        !vsr_replica_is_primary(replica) || journal_partition_is_blocked(&partition->journal) ||
        replica->op - replica->commit_max >= replica->config.pipeline_max) {
        return; /* busy: next tick (queued writes go first; the pipeline needs room) */
    }
    partition->truncate_tick = 0;
    struct data_retention retention = {.log_start_offset = partition->log_start_offset};
    if (!data_partition_retention_read(partition, &retention)) {
        return;
    }
    retention.now_ns = clock_realtime_ns(
        broker_shard_clock(partition->plane->broker, partition->plane->shard_index));
    uint64_t target = data_retention_target(&partition->log, &retention);
    if (target > partition->commit_offset_next) {
        target = partition->commit_offset_next;
    }
    uint64_t removable = vsr_replica_log_removable_op(replica);
    bool is_new_start = target > partition->log_start_offset;
    /* A higher removable op may free segments on any replica (each has its own segment
     * boundaries), so it is replicated whenever the group has a log start: at most once per
     * checkpoint, since checkpoints are what move it. */
    bool frees_files = removable > partition->removable_op && partition->log_start_offset > 0;
    if (is_new_start || frees_files) {
        data_partition_truncate_submit(
            partition, is_new_start ? target : partition->log_start_offset, removable);
    }
}

/* ---- deleting files, every replica ---- */

static void data_partition_log_checkpoint_written(struct partition *log, int result, void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && log == &partition->log);
    assert(partition->is_log_checkpoint_busy);
    partition->is_log_checkpoint_busy = false;
    if (result != 0) {
        log_warn("partition_log_checkpoint_failed", "directory=%s error=\"%s\"",
                 partition->directory, error_text(result));
    }
}

/* Writes the group's durable checkpoint's summary as the log's own checkpoint. */
static void data_partition_log_checkpoint(struct data_partition *partition)
{
    struct partition *log = &partition->log;
    const uint8_t *state = NULL;
    uint32_t state_size = 0;
    struct vsr_header anchor;
    if (!vsr_replica_checkpoint_state(&partition->replica, &state, &state_size, &anchor) ||
        (log->has_checkpoint && log->checkpoint.op >= anchor.u.prepare.op)) {
        return;
    }
    uint64_t log_start = 0;
    if (data_partition_snapshot_log_start(state, state_size, &log_start) != 0) {
        return; /* checked at restore: cannot happen for a durable checkpoint */
    }
    uint64_t offset_next =
        anchor.u.prepare.offset +
        (anchor.u.prepare.operation == VSR_OPERATION_MESSAGES ? anchor.u.prepare.message_count : 0);
    struct checkpoint summary = {
        .op = anchor.u.prepare.op,
        .anchor_checksum = anchor.checksum,
        .anchor_timestamp = anchor.u.prepare.timestamp,
        .log_start_offset = log_start < offset_next ? log_start : offset_next,
        .offset_next = offset_next,
    };
    int result = partition_checkpoint_write(log, &summary, partition->log_checkpoint_buffer,
                                            sizeof(partition->log_checkpoint_buffer),
                                            data_partition_log_checkpoint_written, partition);
    if (result == 0) {
        partition->is_log_checkpoint_busy = true;
    }
}

static void data_partition_truncated(struct partition *log, int result, void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && log == &partition->log);
    assert(partition->is_truncating);
    partition->is_truncating = false;
    assert(log->segment_count <= partition->truncate_segments_before);
    partition->segments_removed += partition->truncate_segments_before - log->segment_count;
    data_partition_publish(partition); /* the segment count */
    if (result != 0) {
        log_warn("partition_truncate_failed", "directory=%s error=\"%s\"", partition->directory,
                 error_text(result));
    }
}

/* Starts the deletion of whole segments below the log checkpoint when one is due. */
static void data_partition_truncate_files(struct data_partition *partition)
{
    const struct partition *log = &partition->log;
    if (!log->has_checkpoint || log->segment_count < 2) {
        return;
    }
    uint64_t log_start = partition->log_start_offset < log->checkpoint.log_start_offset
                             ? partition->log_start_offset
                             : log->checkpoint.log_start_offset;
    uint64_t checkpoint_op =
        partition->removable_op < log->checkpoint.op ? partition->removable_op : log->checkpoint.op;
    if (checkpoint_op == 0) {
        return;
    }
    /* The checkpoint's own record (its anchor) stays: a lagging peer's state transfer takes
     * the records from this log's first op up to that anchor, the chain ending there. */
    uint64_t op_max = checkpoint_op - 1;
    const struct partition_segment *next = &log->segments[1];
    if (next->base_offset > log_start || next->op_first == UINT64_MAX ||
        next->op_first - 1 > op_max) {
        return; /* the oldest segment is still needed */
    }
    partition->truncate_segments_before = log->segment_count;
    int result = partition_truncate_prefix(&partition->log, log_start, op_max,
                                           data_partition_truncated, partition);
    if (result == 0) {
        partition->is_truncating = true;
        log_info("partition_truncate_prefix",
                 "directory=%s log_start_offset=%llu op_max=%llu segments=%u", partition->directory,
                 (unsigned long long)log_start, (unsigned long long)op_max,
                 partition->truncate_segments_before);
    }
}

void data_partition_truncate_tick(struct data_partition *partition)
{
    assert(partition->is_used);
    data_partition_retention_check(partition);
    if (data_partition_truncate_is_busy(partition) || partition->log.failed != 0) {
        return;
    }
    data_partition_log_checkpoint(partition);
    if (!partition->is_log_checkpoint_busy) {
        data_partition_truncate_files(partition);
    }
}
