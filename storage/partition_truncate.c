/*
 * Truncation of a partition log (storage/partition.h): prefix truncation (whole sealed
 * segments below a durable checkpoint, asynchronous), suffix truncation (every record at
 * and above an op, for VSR) and a restart (every record, the log begins again at a later
 * op). Runs on the shard that owns the partition.
 */
#include "storage/partition_private.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A suffix cut the disk did not keep (found by the reopen) is made again this many times. */
enum { PARTITION_TRUNCATE_ATTEMPTS_MAX = 3 };

static void partition_truncate_io_callback(struct io_completion *completion);

static void partition_truncate_finish(struct partition *partition, int result)
{
    assert(partition->truncate_step != PARTITION_TRUNCATE_IDLE);
    partition->truncate_step = PARTITION_TRUNCATE_IDLE;
    partition->truncate_callback(partition, result, partition->truncate_context);
}

/* Removes segments[0] from the table once its files are gone. */
static void partition_truncate_forget_first(struct partition *partition)
{
    assert(partition->segment_count > 1);
    memmove(&partition->segments[0], &partition->segments[1],
            (partition->segment_count - 1) * sizeof(partition->segments[0]));
    partition->segment_count--;
    partition->truncate_remaining--;
}

static void partition_truncate_next(struct partition *partition)
{
    struct partition_segment *first = &partition->segments[0];
    struct io_completion *completion = &partition->truncate_completion;
    if (partition->truncate_remaining == 0) {
        partition->truncate_step = PARTITION_TRUNCATE_SYNC_DIRECTORY;
        io_fsync(partition->io, completion, partition->directory_file,
                 partition_truncate_io_callback, partition);
        return;
    }
    partition->truncate_step = PARTITION_TRUNCATE_CLOSE_LOG;
    io_close(partition->io, completion, first->log_file, partition_truncate_io_callback, partition);
}

static void partition_truncate_io_callback(struct io_completion *completion)
{
    struct partition *partition = completion->context;
    assert(partition != NULL && completion == &partition->truncate_completion);
    struct partition_segment *first = &partition->segments[0];
    int64_t result = completion->result;
    if (result < 0 &&
        !(result == -ENOENT && (partition->truncate_step == PARTITION_TRUNCATE_UNLINK_LOG ||
                                partition->truncate_step == PARTITION_TRUNCATE_UNLINK_INDEX))) {
        partition_truncate_finish(partition, (int)result);
        return;
    }
    switch (partition->truncate_step) {
    case PARTITION_TRUNCATE_CLOSE_LOG:
        partition->truncate_step = PARTITION_TRUNCATE_CLOSE_INDEX;
        io_close(partition->io, completion, first->index_file, partition_truncate_io_callback,
                 partition);
        return;
    case PARTITION_TRUNCATE_CLOSE_INDEX:
        partition->truncate_step = PARTITION_TRUNCATE_UNLINK_LOG;
        io_unlink(partition->io, completion, first->log_path, 0, partition_truncate_io_callback,
                  partition);
        return;
    case PARTITION_TRUNCATE_UNLINK_LOG:
        /* The log goes first: an index without its log is reused, never trusted. */
        partition->truncate_step = PARTITION_TRUNCATE_UNLINK_INDEX;
        io_unlink(partition->io, completion, first->index_path, 0, partition_truncate_io_callback,
                  partition);
        return;
    case PARTITION_TRUNCATE_UNLINK_INDEX:
        partition_truncate_forget_first(partition);
        partition_truncate_next(partition);
        return;
    case PARTITION_TRUNCATE_SYNC_DIRECTORY:
        partition_truncate_finish(partition, 0);
        return;
    default:
        break;
    }
    unreachable_code();
}

int partition_truncate_prefix(struct partition *partition, uint64_t log_start_offset,
                              uint64_t checkpoint_op, partition_truncate_callback callback,
                              void *context)
{
    assert(partition != NULL && callback != NULL);
    assert(partition->segment_count > 0);
    if (partition->failed != 0) {
        return partition->failed;
    }
    if (partition->truncate_step != PARTITION_TRUNCATE_IDLE || partition->reads_in_flight > 0) {
        return -RUNNEL_ESTATE;
    }
    /* Never above the partition's own durable checkpoint. */
    const struct checkpoint *local = &partition->checkpoint;
    checkpoint_op = !partition->has_checkpoint  ? 0
                    : checkpoint_op < local->op ? checkpoint_op
                                                : local->op;
    log_start_offset = !partition->has_checkpoint                   ? 0
                       : log_start_offset < local->log_start_offset ? log_start_offset
                                                                    : local->log_start_offset;
    uint32_t removable = 0;
    for (uint32_t index = 0; index + 1 < partition->segment_count; index++) {
        const struct partition_segment *next = &partition->segments[index + 1];
        if (next->base_offset > log_start_offset || next->op_first == UINT64_MAX ||
            next->op_first - 1 > checkpoint_op) {
            break;
        }
        removable++;
    }
    partition->truncate_remaining = removable;
    partition->truncate_callback = callback;
    partition->truncate_context = context;
    memset(&partition->truncate_completion, 0, sizeof(partition->truncate_completion));
    partition_truncate_next(partition);
    return 0;
}

/* Flushes what was appended and waits until both lanes are idle (suffix truncation). */
static int partition_suffix_drain(struct partition *partition)
{
    assert(partition->failed == 0);
    int result = partition_flush(partition);
    for (uint32_t round = 0; result == 0 && round < PARTITION_WAIT_ITERATIONS &&
                             (partition_is_flushing(partition) || partition->rotate_requested);
         round++) {
        (void)io_run(partition->io, 1000 * 1000);
        result = partition->failed;
    }
    if (result == 0 && (partition_is_flushing(partition) || partition->rotate_requested)) {
        result = -ETIMEDOUT;
    }
    return result;
}

/* Removes the last segment's files (log first: an index without its log is never
 * trusted) and makes the removal durable. */
static int partition_suffix_remove_last(struct partition *partition)
{
    struct partition_segment *last = partition_tail(partition);
    assert(partition->segment_count > 0);
    partition_close_sync(partition, last->log_file);
    partition_close_sync(partition, last->index_file);
    last->log_file = -1;
    last->index_file = -1;
    partition->segment_count--;
    struct io_completion completion = {0};
    io_unlink(partition->io, &completion, last->log_path, 0, partition_wait_callback, NULL);
    int64_t result = partition_wait(partition, &completion);
    if (result == 0 || result == -ENOENT) {
        io_unlink(partition->io, &completion, last->index_path, 0, partition_wait_callback, NULL);
        result = partition_wait(partition, &completion);
    }
    if (result != 0 && result != -ENOENT) {
        return (int)result;
    }
    return partition_sync_sync(partition, partition->directory_file, true);
}

/* Keeps [0, keep_bytes) of file and zeroes the rest of its last sector, then cuts the
 * file to that sector and syncs it. Uses the tail buffer (everything is durable). */
static int partition_suffix_cut_file(struct partition *partition, int32_t file, uint64_t keep_bytes)
{
    uint64_t sector = align_down(keep_bytes);
    int result = 0;
    if (keep_bytes > sector) {
        uint64_t read = 0;
        memset(partition->buffer, 0, IO_SECTOR_SIZE);
        result =
            partition_read_sync(partition, file, partition->buffer, IO_SECTOR_SIZE, sector, &read);
        if (result == 0) {
            memset(partition->buffer + (keep_bytes - sector), 0,
                   IO_SECTOR_SIZE - (keep_bytes - sector));
            result =
                partition_write_sync(partition, file, partition->buffer, IO_SECTOR_SIZE, sector);
        }
    }
    if (result == 0) {
        struct io_completion completion = {0};
        io_truncate(partition->io, &completion, file, align_up(keep_bytes), partition_wait_callback,
                    NULL);
        int64_t truncated = partition_wait(partition, &completion);
        result = truncated < 0 ? (int)truncated : 0;
    }
    return result == 0 ? partition_sync_sync(partition, file, false) : result;
}

/* Reads entry of segment index: 0 with the position after its record (after) or of it,
 * 1 when the entry is damaged or names another op, <0 an I/O error. */
static int partition_suffix_entry(struct partition *partition, uint32_t index, uint64_t entry,
                                  bool after, uint64_t *cut_out)
{
    const struct partition_segment *segment = &partition->segments[index];
    uint64_t from = align_down(entry * RECORD_INDEX_ENTRY_SIZE);
    uint64_t read = 0;
    int result = partition_read_sync(partition, segment->index_file, partition->buffer,
                                     IO_SECTOR_SIZE, from, &read);
    if (result != 0) {
        return result;
    }
    uint64_t inside = entry * RECORD_INDEX_ENTRY_SIZE - from;
    struct vsr_header header;
    uint64_t position = 0;
    if (inside + RECORD_INDEX_ENTRY_SIZE <= read &&
        record_index_entry_validate(
            partition->buffer + inside, partition->options.record_size_bytes_max,
            &partition->options.group, partition->options.cluster, &header, &position) == 0 &&
        header.u.prepare.op == segment->op_first + entry) {
        *cut_out = after ? position + header.size : position;
        return 0;
    }
    return 1;
}

/* Where the records of segment index from its entry *k on begin: after record *k - 1, or
 * at record *k. When neither entry is known (damaged records the index rebuild could not
 * place) and lower is set, the cut moves down to just after the nearest known record
 * below (*k lowered; the ops between were damaged: the reopen reports them lost), or to
 * the segment's start. */
static int partition_suffix_position(struct partition *partition, uint32_t index, uint64_t *k,
                                     bool lower, uint64_t *cut_out)
{
    *cut_out = 0;
    if (*k == 0) {
        return 0;
    }
    for (uint64_t step = 0; step <= *k; step++) {
        if (step >= 2 && !lower) {
            break;
        }
        /* step 0: after entry k - 1; step 1: at entry k; step s >= 2: after entry k - s. */
        uint64_t entry = step == 1 ? *k : *k - (step == 0 ? 1 : step);
        int result = partition_suffix_entry(partition, index, entry, step != 1, cut_out);
        if (result <= 0) {
            if (result == 0 && step >= 2) {
                *k = entry + 1;
            }
            return result;
        }
    }
    if (lower) {
        *k = 0; /* the segment's records all go (the reopen reports them lost) */
        return 0;
    }
    return -RUNNEL_EFAULTY;
}

/* Cuts the segment holding op_min and removes every segment after it. */
static int partition_suffix_cut(struct partition *partition, uint32_t index, uint64_t op_min)
{
    while (partition->segment_count > index + 1) {
        int result = partition_suffix_remove_last(partition);
        if (result != 0) {
            return result;
        }
    }
    struct partition_segment *segment = partition_tail(partition);
    uint64_t k = op_min - segment->op_first;
    uint64_t cut = 0;
    int result = partition_suffix_position(partition, index, &k, false, &cut);
    if (result == -RUNNEL_EFAULTY) {
        /* The index lost the entries at the cut (damage, a misdirected write) while the log
         * may hold the records: rebuild the index from the log, then ask it again. */
        log_warn("partition_index_damaged", "file=%s position=%" PRIu64 " reason=entries_at_cut",
                 segment->index_path, (k - 1) * RECORD_INDEX_ENTRY_SIZE);
        result = partition_rebuild_index(partition, segment, UINT64_MAX);
        k = op_min > segment->op_first ? op_min - segment->op_first : 0;
        if (result == 0) {
            result = partition_suffix_position(partition, index, &k, true, &cut);
        }
    }
    if (result == 0) {
        result =
            partition_suffix_cut_file(partition, segment->index_file, k * RECORD_INDEX_ENTRY_SIZE);
    }
    if (result == 0) {
        result = partition_suffix_cut_file(partition, segment->log_file, cut);
    }
    return result;
}

/* One attempt of partition_truncate_suffix: its result, or 1 when the reopened partition
 * still holds records at op_min (the disk did not keep the cut: a misdirected rewrite of
 * its last sector); the partition is then open and consistent with the disk. */
static int partition_truncate_suffix_once(struct partition *partition, uint64_t op_min)
{
    if (partition->failed != 0) {
        return partition->failed;
    }
    if (op_min > partition->op_last) {
        return 0;
    }
    if (partition->reads_in_flight > 0 || partition->truncate_step != PARTITION_TRUNCATE_IDLE ||
        partition->checkpoint_callback != NULL) {
        return -RUNNEL_ESTATE;
    }
    int32_t index = partition_segment_of_op(partition, op_min);
    if (index < 0) {
        index = partition_segment_after_gap(partition, op_min);
        if (index < 0) {
            return -RUNNEL_ENOTFOUND;
        }
        op_min = partition->segments[index].op_first; /* the gap's ops are gone already */
    }
    int result = partition_suffix_drain(partition);
    uint32_t kept = 0;
    for (uint32_t fault = 0; fault < partition->faulty_count; fault++) {
        if (partition->faulty_ops[fault] < op_min) {
            partition->faulty_kept[kept++] = partition->faulty_ops[fault];
        }
    }
    if (result == 0) {
        result = partition_suffix_cut(partition, (uint32_t)index, op_min);
    }
    if (result == 0) {
        partition_close(partition);
        result = partition_open(partition, partition->io);
    }
    if (result != 0) {
        log_warn("partition_truncate_suffix_failed", "directory=%s op_min=%" PRIu64 " error=\"%s\"",
                 partition->options.directory, op_min, error_text(result));
        partition->failed = partition->failed != 0 ? partition->failed : result;
        return result;
    }
    for (uint32_t fault = 0; fault < kept; fault++) {
        partition_fault(partition, partition->faulty_kept[fault]);
    }
    if (partition->op_last >= op_min) {
        return 1;
    }
    log_info("partition_truncated_suffix", "directory=%s op_min=%" PRIu64 " op_last=%" PRIu64,
             partition->options.directory, op_min, partition->op_last);
    return 0;
}

int partition_truncate_suffix(struct partition *partition, uint64_t op_min)
{
    assert(partition != NULL && partition->io != NULL);
    assert(op_min >= 1);
    for (uint32_t attempt = 0; attempt < PARTITION_TRUNCATE_ATTEMPTS_MAX; attempt++) {
        int result = partition_truncate_suffix_once(partition, op_min);
        if (result != 1) {
            return result;
        }
        partition->suffix_cuts_not_kept++;
        log_warn("partition_truncate_suffix_not_kept",
                 "directory=%s op_min=%" PRIu64 " op_last=%" PRIu64 " attempt=%" PRIu32,
                 partition->options.directory, op_min, partition->op_last, attempt + 1);
    }
    partition->failed = -RUNNEL_EFORMAT; /* the disk keeps not keeping the cut: reopen */
    return partition->failed;
}

int partition_restart(struct partition *partition, const struct vsr_header *header)
{
    assert(partition != NULL && partition->io != NULL && header != NULL);
    assert(header->command == VSR_COMMAND_PREPARE && header->u.prepare.op >= 1);
    if (partition->failed != 0) {
        return partition->failed;
    }
    if (partition->reads_in_flight > 0 || partition->truncate_step != PARTITION_TRUNCATE_IDLE ||
        partition->checkpoint_callback != NULL) {
        return -RUNNEL_ESTATE;
    }
    int result = partition_suffix_drain(partition);
    for (uint32_t round = 0;
         result == 0 && partition->segment_count > 0 && round < partition->options.segments_max;
         round++) {
        result = partition_suffix_remove_last(partition);
    }
    if (result == 0) {
        /* An empty directory: open creates the first segment at the record's offset. */
        uint64_t log_start_offset = partition->options.log_start_offset;
        partition->options.log_start_offset = header->u.prepare.offset;
        partition_close(partition);
        result = partition_open(partition, partition->io);
        partition->options.log_start_offset = log_start_offset;
    }
    if (result == 0 && (partition->segment_count != 1 || partition->entry_count != 0)) {
        result = -RUNNEL_EFORMAT; /* the disk did not keep the removal */
    }
    if (result != 0) {
        log_warn("partition_restart_failed", "directory=%s op=%" PRIu64 " error=\"%s\"",
                 partition->options.directory, header->u.prepare.op, error_text(result));
        partition->failed = partition->failed != 0 ? partition->failed : result;
        return result;
    }
    /* The chain resumes right below the record (a stale checkpoint file is not its base). */
    partition->faulty_count = 0;
    partition->op_last = header->u.prepare.op - 1;
    partition->op_durable = partition->op_last;
    partition->checksum_last = header->u.prepare.parent;
    partition->timestamp_last =
        header->u.prepare.timestamp > 0 ? header->u.prepare.timestamp - 1 : 0;
    partition->offset_next = header->u.prepare.offset;
    partition->is_chain_known = true;
    log_info("partition_restarted", "directory=%s op_first=%" PRIu64 " offset_first=%" PRIu64,
             partition->options.directory, header->u.prepare.op, header->u.prepare.offset);
    return 0;
}
