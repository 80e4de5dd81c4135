/*
 * The partition log's write path (storage/partition.h): appends into the tail buffer,
 * group commit in two lanes (records, then their index entries, each written and synced),
 * rotation to a new segment. No waiting: every step completes through lib/io.h
 * callbacks. Runs on the shard that owns the partition.
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

/* Room for a record of size_bytes plus the padding a flush may add after it. */
static bool partition_buffer_has_room(const struct partition *partition, uint64_t size_bytes)
{
    uint64_t end = partition->appended_bytes + size_bytes + IO_SECTOR_SIZE + VSR_HEADER_SIZE;
    return end - partition->buffer_position_bytes <= partition->options.buffer_size_bytes;
}

/* Drops durable bytes from the front of the tail buffer (no flush may be in flight). */
static void partition_buffer_compact(struct partition *partition)
{
    assert(partition->flush_step == PARTITION_FLUSH_IDLE);
    uint64_t keep_from = align_down(partition->written_bytes);
    assert(keep_from >= partition->buffer_position_bytes);
    uint64_t shift = keep_from - partition->buffer_position_bytes;
    memmove(partition->buffer, partition->buffer + shift, partition->appended_bytes - keep_from);
    partition->buffer_position_bytes = keep_from;
}

/* Why an append of size_bytes must wait (-RUNNEL_EFULL), or 0. Compacts the tail buffer
 * when that makes room and compact is set. */
static int partition_append_check(struct partition *partition, uint64_t size_bytes, bool compact)
{
    assert(partition != NULL);
    assert(size_bytes <= partition->options.record_size_bytes_max);
    if (partition->failed != 0) {
        return partition->failed;
    }
    if (partition->rotate_requested ||
        partition->appended_bytes + size_bytes + IO_SECTOR_SIZE + VSR_HEADER_SIZE >
            partition->options.segment_size_bytes ||
        partition->entry_count == partition->options.index_entries_max) {
        if (compact) {
            partition->rotate_requested = partition->entry_count > 0;
            assert(partition->rotate_requested);
        }
        return -RUNNEL_EFULL;
    }
    if (partition->entry_count + 1 - partition->index_buffer_first >
        partition->index_buffer_entries_max) {
        return -RUNNEL_EFULL;
    }
    if (partition_buffer_has_room(partition, size_bytes)) {
        return 0;
    }
    if (partition->flush_step != PARTITION_FLUSH_IDLE) {
        return -RUNNEL_EFULL;
    }
    uint64_t kept = partition->appended_bytes - align_down(partition->written_bytes);
    if (kept + size_bytes + IO_SECTOR_SIZE + VSR_HEADER_SIZE >
        partition->options.buffer_size_bytes) {
        return -RUNNEL_EFULL;
    }
    if (compact) {
        partition_buffer_compact(partition);
        assert(partition_buffer_has_room(partition, size_bytes));
    }
    return 0;
}

bool partition_can_append(struct partition *partition, uint32_t size_bytes)
{
    assert(partition != NULL);
    assert(size_bytes >= VSR_HEADER_SIZE);
    return partition_append_check(partition, size_bytes, false) == 0;
}

int partition_append(struct partition *partition, const struct vsr_header *header, const void *body)
{
    assert(partition != NULL && header != NULL);
    assert(header->command == VSR_COMMAND_PREPARE && record_is_chained(header));
    assert(header->size <= partition->options.record_size_bytes_max);
    assert(!partition->is_chain_known || (header->u.prepare.op == partition->op_last + 1 &&
                                          header->u.prepare.parent == partition->checksum_last));
    uint64_t size = header->size;
    int check = partition_append_check(partition, size, true);
    if (check != 0) {
        return check;
    }
    uint8_t *at =
        partition->buffer + (partition->appended_bytes - partition->buffer_position_bytes);
    memcpy(at, header, VSR_HEADER_SIZE);
    memcpy(at + VSR_HEADER_SIZE, body, size - VSR_HEADER_SIZE);
    uint32_t entry = partition->entry_count;
    partition_entry_set(&partition->entries[entry], header, partition->appended_bytes);
    /* Verified once, here: the body is the caller's memory the header was sealed over (or
     * checked against on receipt); later reads check the header only. */
    partition->entries[entry].is_body_trusted = true;
    record_index_entry_init(
        (struct record_index_entry *)(void *)(partition->index_buffer +
                                              (uint64_t)(entry - partition->index_buffer_first) *
                                                  RECORD_INDEX_ENTRY_SIZE),
        header, partition->appended_bytes);
    if (entry == 0) {
        partition_tail(partition)->op_first = header->u.prepare.op;
    }
    partition->entry_count++;
    partition->appended_bytes += size;
    partition_chain_advance(partition, header);
    return 0;
}

static void partition_flush_callback(struct io_completion *completion);
static void partition_index_callback(struct io_completion *completion);

/* An I/O error in either lane fails the partition; the other lane's completion, when it
 * arrives, only marks its lane idle. */
static void partition_flush_fail(struct partition *partition, int result)
{
    assert(result < 0);
    log_warn("partition_io_failed", "directory=%s step=%d index_step=%d error=\"%s\"",
             partition->options.directory, (int)partition->flush_step, (int)partition->index_step,
             error_text(result));
    bool was_failed = partition->failed != 0;
    partition->failed = result;
    if (!was_failed) {
        partition->options.durable_callback(partition, partition->op_durable, result,
                                            partition->options.context);
    }
}

/* Submits the log write of [align_down(written), flush_end) and, under `fsync`, the
 * fdatasync that covers it, together. */
static void partition_flush_write_log(struct partition *partition)
{
    assert(partition->flush_end_bytes > partition->written_bytes);
    assert(io_is_sector_aligned(partition->flush_end_bytes));
    struct partition_segment *tail = partition_tail(partition);
    uint64_t from = align_down(partition->written_bytes);
    partition->flush_step = PARTITION_FLUSH_WRITE_LOG;
    partition->flush_pending = partition->options.durability_fsync ? 2 : 1;
    partition->flush_pending_result = 0;
    io_write(partition->io, &partition->flush_completion, tail->log_file,
             partition->buffer + (from - partition->buffer_position_bytes),
             partition->flush_end_bytes - from, from, partition_flush_callback, partition);
    if (partition->options.durability_fsync) {
        io_fdatasync(partition->io, &partition->flush_sync_completion, tail->log_file,
                     partition_flush_callback, partition);
    }
}

/* Pads the appended records to the sector and starts writing them. */
static void partition_flush_start(struct partition *partition)
{
    assert(partition->flush_step == PARTITION_FLUSH_IDLE);
    assert(partition->appended_bytes > partition->written_bytes);
    uint64_t pad = align_up(partition->appended_bytes) - partition->appended_bytes;
    if (pad > 0 && pad < VSR_HEADER_SIZE) {
        pad += IO_SECTOR_SIZE;
    }
    if (pad > 0) {
        record_padding_write(partition->buffer +
                                 (partition->appended_bytes - partition->buffer_position_bytes),
                             (uint32_t)pad, &partition->options.group, partition->options.cluster,
                             partition->op_last);
        partition->appended_bytes += pad;
    }
    partition->flush_end_bytes = partition->appended_bytes;
    partition->flush_entry_end = partition->entry_count;
    partition->flush_count++;
    struct partition_segment *tail = partition_tail(partition);
    if (partition->options.preallocate_bytes > 0 &&
        partition->allocated_bytes < partition->flush_end_bytes) {
        uint64_t chunk = partition->options.preallocate_bytes;
        uint64_t need = partition->flush_end_bytes - partition->allocated_bytes;
        chunk = align_up(chunk > need ? chunk : need);
        if (chunk > partition->options.segment_size_bytes - partition->allocated_bytes) {
            chunk = align_up(partition->options.segment_size_bytes) - partition->allocated_bytes;
        }
        partition->flush_step = PARTITION_FLUSH_ALLOCATE;
        io_fallocate(partition->io, &partition->flush_completion, tail->log_file,
                     partition->allocated_bytes, chunk, partition_flush_callback, partition);
        return;
    }
    partition_flush_write_log(partition);
}

/* Writes index_write_buffer (prepared by partition_index_start). */
static void partition_index_write(struct partition *partition)
{
    uint32_t first = partition->entry_durable_count -
                     partition->entry_durable_count % PARTITION_ENTRIES_PER_SECTOR;
    uint64_t size =
        align_up((uint64_t)(partition->index_flush_end - first) * RECORD_INDEX_ENTRY_SIZE);
    assert(partition->index_zero_size_bytes == 0 ||
           (uint64_t)first * RECORD_INDEX_ENTRY_SIZE + size <= partition->index_allocated_bytes);
    partition->index_step = PARTITION_INDEX_WRITE;
    partition->index_pending = partition->options.durability_fsync ? 2 : 1;
    partition->index_pending_result = 0;
    int32_t file = partition_tail(partition)->index_file;
    io_write(partition->io, &partition->index_completion, file, partition->index_write_buffer, size,
             (uint64_t)first * RECORD_INDEX_ENTRY_SIZE, partition_index_callback, partition);
    if (partition->options.durability_fsync) {
        io_fdatasync(partition->io, &partition->index_sync_completion, file,
                     partition_index_callback, partition);
    }
}

/* Starts the index lane for entries [entry_durable_count, entry_log_durable_count): their
 * records are durable. Rewrites from the sector holding the first one. */
static void partition_index_start(struct partition *partition)
{
    assert(partition->index_step == PARTITION_INDEX_IDLE);
    assert(partition->entry_log_durable_count >= partition->entry_durable_count);
    if (partition->failed != 0 ||
        partition->entry_log_durable_count == partition->entry_durable_count) {
        return;
    }
    uint32_t first = partition->entry_durable_count -
                     partition->entry_durable_count % PARTITION_ENTRIES_PER_SECTOR;
    assert(first >= partition->index_buffer_first);
    uint32_t count = partition->entry_log_durable_count - first;
    assert(count <= partition->index_buffer_entries_max);
    uint64_t size = align_up((uint64_t)count * RECORD_INDEX_ENTRY_SIZE);
    memcpy(partition->index_write_buffer,
           partition->index_buffer +
               (uint64_t)(first - partition->index_buffer_first) * RECORD_INDEX_ENTRY_SIZE,
           (uint64_t)count * RECORD_INDEX_ENTRY_SIZE);
    memset(partition->index_write_buffer + (uint64_t)count * RECORD_INDEX_ENTRY_SIZE, 0,
           size - (uint64_t)count * RECORD_INDEX_ENTRY_SIZE);
    partition->index_flush_end = partition->entry_log_durable_count;
    uint64_t end = (uint64_t)first * RECORD_INDEX_ENTRY_SIZE + size;
    if (partition->index_zero_size_bytes > 0 && end > partition->index_allocated_bytes) {
        partition->index_step = PARTITION_INDEX_ZERO;
        io_write(partition->io, &partition->index_completion, partition_tail(partition)->index_file,
                 partition->index_zero_buffer, partition->index_zero_size_bytes,
                 partition->index_allocated_bytes, partition_index_callback, partition);
        return;
    }
    partition_index_write(partition);
}

/* Records and index entries up to index_flush_end are durable: report them. */
static void partition_index_durable(struct partition *partition)
{
    assert(partition->index_flush_end >= partition->entry_durable_count);
    assert(partition->index_flush_end <= partition->entry_log_durable_count);
    partition->entry_durable_count = partition->index_flush_end;
    if (partition->index_flush_end > 0) {
        partition->op_durable = partition->entries[partition->index_flush_end - 1].op;
    }
    uint32_t keep = partition->entry_durable_count -
                    partition->entry_durable_count % PARTITION_ENTRIES_PER_SECTOR;
    uint32_t shift = keep - partition->index_buffer_first;
    memmove(partition->index_buffer,
            partition->index_buffer + (uint64_t)shift * RECORD_INDEX_ENTRY_SIZE,
            (uint64_t)(partition->entry_count - keep) * RECORD_INDEX_ENTRY_SIZE);
    partition->index_buffer_first = keep;
    partition->index_step = PARTITION_INDEX_IDLE;
    partition->options.durable_callback(partition, partition->op_durable, 0,
                                        partition->options.context);
}

/* Seals the tail segment (cut to its records) and opens the next one. */
static void partition_rotate_step(struct partition *partition)
{
    struct partition_segment *tail = partition_tail(partition);
    struct partition_segment *next = &partition->segments[partition->segment_count];
    struct io_completion *completion = &partition->flush_completion;
    switch (partition->flush_step) {
    case PARTITION_FLUSH_IDLE:
        partition->flush_step = PARTITION_FLUSH_SEAL_TRUNCATE;
        io_truncate(partition->io, completion, tail->log_file, partition->written_bytes,
                    partition_flush_callback, partition);
        return;
    case PARTITION_FLUSH_SEAL_TRUNCATE:
        /* A sealed index ends with its last entry (zeros ahead of it are cut), durably: the
         * next open reads its entry count from its last sector. */
        partition->flush_step = PARTITION_FLUSH_SEAL_INDEX;
        io_truncate(partition->io, completion, tail->index_file,
                    align_up((uint64_t)partition->entry_count * RECORD_INDEX_ENTRY_SIZE),
                    partition_flush_callback, partition);
        return;
    case PARTITION_FLUSH_SEAL_INDEX:
        partition->flush_step = PARTITION_FLUSH_SEAL_INDEX_SYNC;
        io_fdatasync(partition->io, completion, tail->index_file, partition_flush_callback,
                     partition);
        return;
    case PARTITION_FLUSH_SEAL_INDEX_SYNC:
        partition->flush_step = PARTITION_FLUSH_SEAL_REOPEN;
        io_open(partition->io, completion, tail->log_path, 0, partition_flush_callback, partition);
        return;
    case PARTITION_FLUSH_SEAL_REOPEN:
        partition->flush_step = PARTITION_FLUSH_SEAL_CLOSE;
        partition->seal_direct_file = tail->log_file;
        tail->log_file = (int32_t)completion->result;
        io_close(partition->io, completion, partition->seal_direct_file, partition_flush_callback,
                 partition);
        return;
    case PARTITION_FLUSH_SEAL_CLOSE:
        memset(next, 0, sizeof(*next));
        next->base_offset = partition->offset_next;
        /* No message since the tail opened: same base offset, the next name in sequence. */
        assert(partition->offset_next >= tail->base_offset);
        next->name_sequence =
            partition->offset_next == tail->base_offset ? tail->name_sequence + 1 : 0;
        next->op_first = UINT64_MAX;
        partition_segment_paths(partition, next);
        partition->flush_step = PARTITION_FLUSH_OPEN_LOG;
        io_open(partition->io, completion, next->log_path,
                IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE | (partition->is_direct ? IO_OPEN_DIRECT : 0),
                partition_flush_callback, partition);
        return;
    case PARTITION_FLUSH_OPEN_LOG:
        /* An index may survive a crash without its log (names become durable one by one):
         * reuse the name, never its stale entries. */
        next->log_file = (int32_t)completion->result;
        partition->flush_step = PARTITION_FLUSH_OPEN_INDEX;
        io_open(partition->io, completion, next->index_path, IO_OPEN_CREATE,
                partition_flush_callback, partition);
        return;
    case PARTITION_FLUSH_OPEN_INDEX:
        next->index_file = (int32_t)completion->result;
        partition->flush_step = PARTITION_FLUSH_TRUNCATE_INDEX;
        io_truncate(partition->io, completion, next->index_file, 0, partition_flush_callback,
                    partition);
        return;
    case PARTITION_FLUSH_TRUNCATE_INDEX:
        partition->flush_step = PARTITION_FLUSH_SYNC_DIRECTORY;
        io_fsync(partition->io, completion, partition->directory_file, partition_flush_callback,
                 partition);
        return;
    default:
        break;
    }
    unreachable_code();
}

/* The new segment's names are durable: it becomes the tail. */
static void partition_rotate_done(struct partition *partition)
{
    assert(partition->segment_count < partition->options.segments_max);
    assert(partition->index_step == PARTITION_INDEX_IDLE);
    struct partition_segment *sealed = partition_tail(partition);
    sealed->entry_count = partition->entry_count;
    sealed->timestamp_first = partition->entries[0].timestamp;
    sealed->timestamp_last = partition->entries[partition->entry_count - 1].timestamp;
    sealed->size_bytes = partition->appended_bytes;
    partition->segment_count++;
    partition->entry_count = 0;
    partition->entry_durable_count = 0;
    partition->entry_log_durable_count = 0;
    partition->index_buffer_first = 0;
    partition->buffer_position_bytes = 0;
    partition->appended_bytes = 0;
    partition->written_bytes = 0;
    partition->flush_end_bytes = 0;
    partition->allocated_bytes = 0;
    partition->index_allocated_bytes = 0;
    partition->rotate_requested = false;
    partition->flush_step = PARTITION_FLUSH_IDLE;
    partition->options.durable_callback(partition, partition->op_durable, 0,
                                        partition->options.context);
}

/* Starts the log lane's next flush, or the rotation once both lanes are drained. */
static void partition_flush_next(struct partition *partition)
{
    assert(partition->flush_step == PARTITION_FLUSH_IDLE);
    if (partition->failed != 0) {
        return;
    }
    if (partition->appended_bytes > partition->written_bytes &&
        (partition->flush_requested || partition->rotate_requested)) {
        partition->flush_requested = false;
        partition_flush_start(partition);
    } else if (partition->rotate_requested && partition->index_step == PARTITION_INDEX_IDLE &&
               partition->entry_durable_count == partition->entry_count) {
        if (partition->segment_count == partition->options.segments_max) {
            partition_flush_fail(partition, -RUNNEL_EFULL);
            return;
        }
        partition_rotate_step(partition);
    }
}

/* The log lane's flush is done: its records are durable (written, under `replicated`). */
static void partition_flush_log_done(struct partition *partition)
{
    assert(partition->flush_entry_end >= partition->entry_log_durable_count);
    assert(partition->flush_end_bytes >= partition->written_bytes);
    partition->written_bytes = partition->flush_end_bytes;
    partition->entry_log_durable_count = partition->flush_entry_end;
    partition->flush_step = PARTITION_FLUSH_IDLE;
    /* The tail buffer moves only while no log write is in flight: make room for the next
     * record now, so appends keep flowing while the next flush is in flight. */
    if (!partition_buffer_has_room(partition, partition->options.record_size_bytes_max)) {
        partition_buffer_compact(partition);
    }
    if (partition->index_step == PARTITION_INDEX_IDLE) {
        partition_index_start(partition);
    }
}

/* Folds one completion of a two-completion step into its lane; true when the step is
 * complete, with *result the first error (or 0). */
static bool partition_step_collect(uint32_t *pending, int *pending_result, int64_t result)
{
    assert(pending != NULL && pending_result != NULL);
    assert(*pending > 0);
    if (result < 0 && *pending_result == 0) {
        *pending_result = (int)result;
    }
    (*pending)--;
    return *pending == 0;
}

static void partition_flush_callback(struct io_completion *completion)
{
    struct partition *partition = completion->context;
    assert(partition != NULL && (completion == &partition->flush_completion ||
                                 completion == &partition->flush_sync_completion));
    assert(partition->flush_step != PARTITION_FLUSH_IDLE);
    int64_t result = completion->result;
    if (partition->flush_step == PARTITION_FLUSH_WRITE_LOG) {
        if (!partition_step_collect(&partition->flush_pending, &partition->flush_pending_result,
                                    result)) {
            return;
        }
        result = partition->flush_pending_result;
    }
    if (result < 0 || partition->failed != 0) {
        partition->flush_step = PARTITION_FLUSH_IDLE;
        if (result < 0) {
            partition_flush_fail(partition, (int)result);
        }
        return;
    }
    switch (partition->flush_step) {
    case PARTITION_FLUSH_ALLOCATE:
        partition->allocated_bytes += completion->size_bytes;
        partition_flush_write_log(partition);
        return;
    case PARTITION_FLUSH_WRITE_LOG:
        partition_flush_log_done(partition);
        break;
    case PARTITION_FLUSH_SYNC_DIRECTORY:
        partition_rotate_done(partition);
        break;
    default:
        partition_rotate_step(partition);
        return;
    }
    if (partition->flush_step == PARTITION_FLUSH_IDLE) {
        partition_flush_next(partition); /* unless the durable callback started one */
    }
}

static void partition_index_callback(struct io_completion *completion)
{
    struct partition *partition = completion->context;
    assert(partition != NULL && (completion == &partition->index_completion ||
                                 completion == &partition->index_sync_completion));
    assert(partition->index_step != PARTITION_INDEX_IDLE);
    int64_t result = completion->result;
    if (partition->index_step == PARTITION_INDEX_WRITE) {
        if (!partition_step_collect(&partition->index_pending, &partition->index_pending_result,
                                    result)) {
            return;
        }
        result = partition->index_pending_result;
    }
    if (result < 0 || partition->failed != 0) {
        partition->index_step = PARTITION_INDEX_IDLE;
        if (result < 0) {
            partition_flush_fail(partition, (int)result);
        }
        return;
    }
    if (partition->index_step == PARTITION_INDEX_ZERO) {
        partition->index_allocated_bytes += partition->index_zero_size_bytes;
        partition_index_write(partition);
        return;
    }
    partition_index_durable(partition);
    /* The callback may have appended and flushed; more records may be durable already. */
    if (partition->index_step == PARTITION_INDEX_IDLE) {
        partition_index_start(partition);
    }
    if (partition->flush_step == PARTITION_FLUSH_IDLE) {
        partition_flush_next(partition); /* a rotation waits for the index lane */
    }
}

int partition_flush(struct partition *partition)
{
    assert(partition != NULL);
    assert(partition->io != NULL);
    if (partition->failed != 0) {
        return partition->failed;
    }
    partition->flush_requested = true;
    if (partition->flush_step == PARTITION_FLUSH_IDLE) {
        partition_flush_next(partition);
    }
    return partition->failed;
}

bool partition_is_flushing(const struct partition *partition)
{
    assert(partition != NULL);
    return partition->flush_step != PARTITION_FLUSH_IDLE ||
           partition->index_step != PARTITION_INDEX_IDLE;
}

bool partition_has_unflushed(const struct partition *partition)
{
    assert(partition != NULL);
    assert(partition->appended_bytes >= partition->written_bytes);
    return partition->appended_bytes > partition->flush_end_bytes;
}
