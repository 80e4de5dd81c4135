/*
 * The partition log (storage/partition.h): life cycle (init, open, close, purge), the
 * segment table and its file names, the faulty-op list, checkpoints, and the synchronous
 * I/O helpers start-up uses. Recovery is in partition_recover.c, the write path in
 * partition_write.c, reads and repair in partition_read.c, truncation in
 * partition_truncate.c. Owns the partition's segment and index handles and the memory
 * partition_init allocates. Runs on the shard that owns the partition; every file
 * operation goes through lib/io.h.
 */
#include "storage/partition.h"

#include "storage/partition_private.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void partition_wait_callback(struct io_completion *completion)
{
    assert(completion != NULL);
    assert(completion->done);
}

/* Runs io until completion is done (recovery and open only). */
int64_t partition_wait(struct partition *partition, struct io_completion *completion)
{
    assert(partition != NULL && completion != NULL);
    int64_t result = io_wait(partition->io, completion, PARTITION_WAIT_ITERATIONS);
    assert(result != -ETIMEDOUT || !completion->done);
    return result;
}

int partition_read_sync(struct partition *partition, int32_t file, void *buffer,
                        uint64_t size_bytes, uint64_t offset_bytes, uint64_t *read_out)
{
    struct io_completion completion = {0};
    io_read(partition->io, &completion, file, buffer, size_bytes, offset_bytes,
            partition_wait_callback, NULL);
    int64_t result = partition_wait(partition, &completion);
    if (result < 0) {
        return (int)result;
    }
    *read_out = (uint64_t)result;
    return 0;
}

int partition_write_sync(struct partition *partition, int32_t file, const void *buffer,
                         uint64_t size_bytes, uint64_t offset_bytes)
{
    struct io_completion completion = {0};
    io_write(partition->io, &completion, file, buffer, size_bytes, offset_bytes,
             partition_wait_callback, NULL);
    int64_t result = partition_wait(partition, &completion);
    return result < 0 ? (int)result : 0;
}

int partition_sync_sync(struct partition *partition, int32_t file, bool directory)
{
    struct io_completion completion = {0};
    if (directory) {
        io_fsync(partition->io, &completion, file, partition_wait_callback, NULL);
    } else {
        io_fdatasync(partition->io, &completion, file, partition_wait_callback, NULL);
    }
    int64_t result = partition_wait(partition, &completion);
    return result < 0 ? (int)result : 0;
}

int64_t partition_open_sync(struct partition *partition, const char *path, uint32_t flags)
{
    struct io_completion completion = {0};
    io_open(partition->io, &completion, path, flags, partition_wait_callback, NULL);
    return partition_wait(partition, &completion);
}

void partition_close_sync(struct partition *partition, int32_t file)
{
    struct io_completion completion = {0};
    if (file >= 0) {
        io_close(partition->io, &completion, file, partition_wait_callback, NULL);
        partition_wait(partition, &completion);
    }
}

struct partition_segment *partition_tail(struct partition *partition)
{
    assert(partition->segment_count > 0);
    return &partition->segments[partition->segment_count - 1];
}

void partition_segment_paths(const struct partition *partition, struct partition_segment *segment)
{
    assert(partition != NULL && segment != NULL);
    assert(segment->name_sequence < PARTITION_NAME_SEQUENCE_MAX);
    char name[48];
    int size = segment->name_sequence == 0
                   ? snprintf(name, sizeof(name), "%020" PRIu64, segment->base_offset)
                   : snprintf(name, sizeof(name), "%020" PRIu64 "_%06" PRIu32, segment->base_offset,
                              segment->name_sequence);
    assert(size > 0 && (size_t)size < sizeof(name));
    size = snprintf(segment->log_path, sizeof(segment->log_path), "%s/%s.log",
                    partition->options.directory, name);
    assert(size > 0 && (size_t)size < sizeof(segment->log_path));
    size = snprintf(segment->index_path, sizeof(segment->index_path), "%s/%s.index",
                    partition->options.directory, name);
    assert(size > 0 && (size_t)size < sizeof(segment->index_path));
}

void partition_fault(struct partition *partition, uint64_t op)
{
    assert(partition != NULL);
    if (partition_is_faulty(partition, op)) {
        return;
    }
    if (partition->faulty_count == partition->options.faulty_max) {
        partition->faulty_ops_overflow++;
        return;
    }
    partition->faulty_ops[partition->faulty_count++] = op;
}

int partition_directory_path(char *path, uint64_t path_size_bytes, const char *root,
                             const struct vsr_group *group)
{
    assert(path != NULL && root != NULL && group != NULL);
    assert(group->kind == VSR_GROUP_KIND_PARTITION && path_size_bytes > 0);
    int size =
        snprintf(path, path_size_bytes,
                 "%s/streams/%" PRIu32 "/topics/%" PRIu32 "/partitions/%" PRIu32 ".%" PRIu64, root,
                 group->stream_id, group->topic_id, group->partition_id, group->incarnation);
    return size > 0 && (uint64_t)size < path_size_bytes ? 0 : -RUNNEL_ETOOLARGE;
}

int partition_init(struct partition *partition, const struct partition_options *options)
{
    assert(partition != NULL && options != NULL && options->directory != NULL);
    assert(options->record_size_bytes_max >= VSR_HEADER_SIZE + IO_SECTOR_SIZE);
    assert(options->buffer_size_bytes >=
           2 * (uint64_t)options->record_size_bytes_max + 2 * IO_SECTOR_SIZE);
    assert(options->segment_size_bytes >= options->buffer_size_bytes);
    assert(options->index_entries_max > 0 && options->flush_records_max > 0);
    assert(options->segments_max > 0 && options->faulty_max > 0);
    memset(partition, 0, sizeof(*partition));
    partition->options = *options;
    /* Entries not yet index-durable: the index lane's flush, the log lane's and the
     * appends since, plus the partial sector they start in. */
    partition->index_buffer_entries_max =
        3 * options->flush_records_max + PARTITION_ENTRIES_PER_SECTOR;
    uint64_t buffer_size = align_up(options->buffer_size_bytes);
    uint64_t index_size = (uint64_t)partition->index_buffer_entries_max * RECORD_INDEX_ENTRY_SIZE;
    partition->options.buffer_size_bytes = buffer_size;
    partition->segments = calloc(options->segments_max, sizeof(partition->segments[0]));
    partition->entries = calloc(options->index_entries_max, sizeof(partition->entries[0]));
    partition->faulty_ops = calloc(options->faulty_max, sizeof(partition->faulty_ops[0]));
    partition->faulty_kept = calloc(options->faulty_max, sizeof(partition->faulty_kept[0]));
    partition->buffer = aligned_alloc(IO_SECTOR_SIZE, buffer_size);
    partition->index_buffer = aligned_alloc(IO_SECTOR_SIZE, align_up(index_size));
    partition->index_write_buffer = aligned_alloc(IO_SECTOR_SIZE, align_up(index_size));
    /* The index is preallocated in proportion to the log (an entry per record of ~256+
     * bytes at most), within bounds, and by at least one index write. */
    uint64_t zero_size = align_up(options->preallocate_bytes / 256);
    zero_size = zero_size < PARTITION_INDEX_ZERO_MIN ? PARTITION_INDEX_ZERO_MIN : zero_size;
    zero_size = zero_size > PARTITION_INDEX_ZERO_MAX ? PARTITION_INDEX_ZERO_MAX : zero_size;
    zero_size = zero_size < align_up(index_size) ? align_up(index_size) : zero_size;
    partition->index_zero_size_bytes = options->preallocate_bytes > 0 ? zero_size : 0;
    partition->index_zero_buffer = calloc(1, options->preallocate_bytes > 0 ? zero_size : 1);
    if (!partition->index_write_buffer || !partition->index_zero_buffer || !partition->segments ||
        !partition->entries || !partition->faulty_ops || !partition->faulty_kept ||
        !partition->buffer || !partition->index_buffer) {
        partition_deinit(partition);
        return -ENOMEM;
    }
    partition->directory_file = -1;
    int size = snprintf(partition->checkpoint_path, sizeof(partition->checkpoint_path),
                        "%s/checkpoint", options->directory);
    assert(size > 0 && (size_t)size < sizeof(partition->checkpoint_path));
    return 0;
}

/* Loads {directory}/checkpoint's summary (start-up). Absent: none; damaged: logged. */
/* Loads {directory}/checkpoint's summary (start-up). Absent: none; damaged: logged. */
static int partition_checkpoint_load(struct partition *partition)
{
    uint64_t size = 0;
    partition->has_checkpoint = false;
    int result = atomic_file_read(partition->io, partition->checkpoint_path, partition->buffer,
                                  partition->options.buffer_size_bytes, &size);
    if (result == -ENOENT) {
        return 0;
    }
    if (result == 0) {
        result = checkpoint_decode_summary(partition->buffer, size, &partition->checkpoint);
    }
    if (result == 0) {
        partition->has_checkpoint = true;
        return 0;
    }
    if (result > -RUNNEL_ERROR_BASE && result != -RUNNEL_ETOOLARGE) {
        return result; /* an I/O error: the open fails, as for the log */
    }
    log_warn("partition_checkpoint_damaged", "file=%s error=\"%s\"", partition->checkpoint_path,
             error_text(result));
    return 0;
}

void partition_deinit(struct partition *partition)
{
    assert(partition != NULL);
    free(partition->segments);
    free(partition->entries);
    free(partition->faulty_ops);
    free(partition->faulty_kept);
    free(partition->buffer);
    free(partition->index_buffer);
    free(partition->index_write_buffer);
    free(partition->index_zero_buffer);
    memset(partition, 0, sizeof(*partition));
}

/* Parses digits_count decimal digits; false on anything else or overflow. */
static bool partition_parse_digits(const char *text, uint32_t digits_count, uint64_t *value_out)
{
    assert(text != NULL && value_out != NULL);
    assert(digits_count > 0 && digits_count <= 20);
    uint64_t value = 0;
    for (uint32_t index = 0; index < digits_count; index++) {
        if (text[index] < '0' || text[index] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(text[index] - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            return false;
        }
        value = value * 10 + digit;
    }
    *value_out = value;
    return true;
}

/* Parses "{20 digits}.log" or "{20 digits}_{6 digits}.log"; false for anything else. */
static bool partition_parse_log_name(const char *name, uint64_t *base_offset_out,
                                     uint32_t *sequence_out)
{
    assert(name != NULL && base_offset_out != NULL && sequence_out != NULL);
    size_t length = strlen(name);
    uint64_t sequence = 0;
    if (length == 24 && strcmp(name + 20, ".log") == 0) {
        *sequence_out = 0;
    } else if (length == 31 && name[20] == '_' && strcmp(name + 27, ".log") == 0 &&
               partition_parse_digits(name + 21, 6, &sequence) && sequence > 0) {
        *sequence_out = (uint32_t)sequence;
    } else {
        return false;
    }
    return partition_parse_digits(name, 20, base_offset_out);
}

/* True when segment a sorts after (base_offset, sequence). */
static bool partition_segment_is_after(const struct partition_segment *a, uint64_t base_offset,
                                       uint32_t sequence)
{
    return a->base_offset > base_offset ||
           (a->base_offset == base_offset && a->name_sequence > sequence);
}

static bool partition_name_ends_with(const char *name, const char *suffix)
{
    assert(name != NULL && suffix != NULL);
    size_t size = strlen(name);
    return size >= strlen(suffix) && strcmp(name + size - strlen(suffix), suffix) == 0;
}

/* Why the listing skips name, or NULL: a name that looks like a segment file but is not
 * one, or an index whose log is missing (its records are lost: VSR repairs them). */
static const char *partition_list_skip_reason(const struct partition *partition, const char *name)
{
    char log_name[48]; /* longer names are not segment names */
    uint64_t base = 0;
    uint32_t sequence = 0;
    size_t size = strlen(name);
    if (partition_name_ends_with(name, ".log")) {
        return partition_parse_log_name(name, &base, &sequence)
                   ? NULL
                   : "not a segment name ({base_offset:020}.log): ignored";
    }
    if (!partition_name_ends_with(name, ".index")) {
        return NULL;
    }
    int written = snprintf(log_name, sizeof(log_name), "%.*s.log", (int)(size - 6), name);
    if (written <= 0 || (size_t)written >= sizeof(log_name) ||
        !partition_parse_log_name(log_name, &base, &sequence)) {
        return "not a segment name ({base_offset:020}.index): ignored";
    }
    for (uint32_t index = 0; index < partition->segment_count; index++) {
        const struct partition_segment *segment = &partition->segments[index];
        if (segment->base_offset == base && segment->name_sequence == sequence) {
            return NULL;
        }
    }
    return "index without its log: the segment's records are lost";
}

/* Reports what the listing skips (names: used bytes of NUL-terminated strings). */
static void partition_list_report(const struct partition *partition, const char *names,
                                  int64_t used)
{
    assert(partition != NULL && names != NULL);
    for (int64_t at = 0; at < used;) {
        const char *name = names + at;
        at += (int64_t)strlen(name) + 1;
        const char *reason = partition_list_skip_reason(partition, name);
        if (reason != NULL) {
            log_warn("partition_file_ignored", "file=%s/%s position=0 reason=\"%s\"",
                     partition->options.directory, name, reason);
        }
    }
}

/* Lists the directory and fills segments sorted by base offset (insertion sort). */
int partition_list_segments(struct partition *partition)
{
    struct io_completion completion = {0};
    char *names = (char *)partition->buffer;
    io_list(partition->io, &completion, partition->options.directory, names,
            partition->options.buffer_size_bytes, partition_wait_callback, NULL);
    int64_t used = partition_wait(partition, &completion);
    if (used < 0) {
        return (int)used;
    }
    partition->segment_count = 0;
    for (int64_t at = 0; at < used;) {
        const char *name = names + at;
        at += (int64_t)strlen(name) + 1;
        uint64_t base = 0;
        uint32_t sequence = 0;
        if (!partition_parse_log_name(name, &base, &sequence)) {
            continue;
        }
        if (partition->segment_count == partition->options.segments_max) {
            return -RUNNEL_EFULL;
        }
        uint32_t slot = partition->segment_count++;
        for (;
             slot > 0 && partition_segment_is_after(&partition->segments[slot - 1], base, sequence);
             slot--) {
            partition->segments[slot] = partition->segments[slot - 1];
        }
        memset(&partition->segments[slot], 0, sizeof(partition->segments[slot]));
        partition->segments[slot].base_offset = base;
        partition->segments[slot].name_sequence = sequence;
        partition_segment_paths(partition, &partition->segments[slot]);
    }
    partition_list_report(partition, names, used);
    return 0;
}

/* Opens a segment's files; a sealed segment's log without O_DIRECT (page cache). */
int partition_segment_open(struct partition *partition, struct partition_segment *segment,
                           bool create, bool sealed)
{
    assert(!(create && sealed));
    uint32_t flags = (create ? IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE : 0) |
                     (partition->is_direct && !sealed ? IO_OPEN_DIRECT : 0);
    int64_t log_file = partition_open_sync(partition, segment->log_path, flags);
    if (log_file < 0) {
        return (int)log_file;
    }
    segment->log_file = (int32_t)log_file;
    /* A missing index is rebuilt from the log. The index is small and rewritten a sector at
     * a time: it goes through the page cache (fdatasync makes it durable), which spares
     * `replicated` durability a device round trip per flush. */
    int64_t index_file = partition_open_sync(partition, segment->index_path, IO_OPEN_CREATE);
    if (index_file < 0) {
        partition_close_sync(partition, segment->log_file);
        return (int)index_file;
    }
    segment->index_file = (int32_t)index_file;
    segment->op_first = UINT64_MAX;
    return 0;
}

/* Creates the first (or next) segment's files and makes their names durable. */
int partition_segment_create(struct partition *partition, uint64_t base_offset)
{
    if (partition->segment_count == partition->options.segments_max) {
        return -RUNNEL_EFULL;
    }
    struct partition_segment *segment = &partition->segments[partition->segment_count];
    memset(segment, 0, sizeof(*segment));
    segment->base_offset = base_offset;
    partition_segment_paths(partition, segment);
    int result = partition_segment_open(partition, segment, true, false);
    if (result != 0) {
        return result;
    }
    partition->segment_count++;
    struct io_completion completion = {0};
    io_truncate(partition->io, &completion, segment->index_file, 0, partition_wait_callback, NULL);
    int64_t truncated = partition_wait(partition, &completion);
    if (truncated < 0) {
        return (int)truncated;
    }
    return partition_sync_sync(partition, partition->directory_file, true);
}

int partition_open(struct partition *partition, struct io *io)
{
    assert(partition != NULL && io != NULL);
    assert(partition->segments != NULL);
    partition->io = io;
    /* Forget everything a previous life left in flight (a crash abandons completions). */
    partition->failed = 0;
    partition->flush_step = PARTITION_FLUSH_IDLE;
    partition->index_step = PARTITION_INDEX_IDLE;
    partition->rotate_requested = false;
    partition->flush_requested = false;
    partition->faulty_ops_overflow = 0;
    partition->reads_in_flight = 0;
    partition->truncate_step = PARTITION_TRUNCATE_IDLE;
    memset(&partition->flush_completion, 0, sizeof(partition->flush_completion));
    memset(&partition->index_completion, 0, sizeof(partition->index_completion));
    memset(&partition->checkpoint_file, 0, sizeof(partition->checkpoint_file));
    partition->checkpoint_callback = NULL;
    memset(&partition->flush_sync_completion, 0, sizeof(partition->flush_sync_completion));
    memset(&partition->index_sync_completion, 0, sizeof(partition->index_sync_completion));
    partition->is_direct =
        partition->options.direct_allowed && io_probe_direct(io, partition->options.directory);
    int64_t directory =
        partition_open_sync(partition, partition->options.directory, IO_OPEN_DIRECTORY);
    if (directory < 0) {
        return (int)directory;
    }
    partition->directory_file = (int32_t)directory;
    int result = partition_list_segments(partition);
    uint32_t listed = partition->segment_count;
    for (uint32_t index = 0; result == 0 && index < listed; index++) {
        partition->segment_count = index;
        result = partition_segment_open(partition, &partition->segments[index], false,
                                        index + 1 < listed);
        partition->segment_count = index + 1;
        if (result == 0 && index + 1 < listed) {
            const struct partition_segment *previous =
                index > 0 ? &partition->segments[index - 1] : NULL;
            bool is_known =
                previous != NULL && previous->op_first != UINT64_MAX && previous->entry_count > 0;
            partition_sealed_load(partition, &partition->segments[index],
                                  is_known ? previous->op_first + previous->entry_count
                                           : UINT64_MAX);
        }
    }
    if (result == 0 && listed == 0) {
        result = partition_segment_create(partition, partition->options.log_start_offset);
    }
    if (result == 0) {
        result = partition_checkpoint_load(partition);
    }
    if (result == 0) {
        partition->faulty_count = 0;
        result = partition_rebuild_sealed(partition, listed);
    }
    if (result == 0) {
        result = partition_recover_tail(partition);
    }
    if (result != 0) {
        log_warn("partition_open_failed", "directory=%s error=\"%s\"", partition->options.directory,
                 error_text(result));
        partition_close(partition);
    }
    return result;
}

void partition_close(struct partition *partition)
{
    assert(partition != NULL);
    assert((partition->flush_step == PARTITION_FLUSH_IDLE &&
            partition->index_step == PARTITION_INDEX_IDLE) ||
           partition->failed != 0 || partition->io == NULL);
    for (uint32_t index = 0; partition->io != NULL && index < partition->segment_count; index++) {
        partition_close_sync(partition, partition->segments[index].log_file);
        partition_close_sync(partition, partition->segments[index].index_file);
    }
    if (partition->io != NULL && partition->directory_file >= 0) {
        partition_close_sync(partition, partition->directory_file);
    }
    partition->directory_file = -1;
    partition->segment_count = 0;
}

void partition_prepare(struct partition *partition, struct vsr_header *header, uint8_t operation,
                       void *body, uint32_t body_size_bytes, uint64_t timestamp_ns)
{
    assert(partition != NULL && header != NULL);
    assert(operation >= VSR_OPERATION_STATE_MACHINE_MIN || operation == VSR_OPERATION_NOOP);
    vsr_header_init(header, VSR_COMMAND_PREPARE, partition->options.cluster, 0, 0,
                    &partition->options.group);
    struct vsr_header_prepare *prepare = &header->u.prepare;
    prepare->op = partition->op_last + 1;
    prepare->parent = partition->checksum_last;
    prepare->timestamp =
        timestamp_ns > partition->timestamp_last ? timestamp_ns : partition->timestamp_last + 1;
    prepare->offset = partition->offset_next;
    prepare->commit = partition->op_durable < prepare->op ? partition->op_durable : 0;
    prepare->operation = operation;
    if (operation == VSR_OPERATION_MESSAGES) {
        assert(body != NULL && body_size_bytes >= BATCH_HEADER_SIZE);
        prepare->message_count = batch_message_count(body);
        batch_stamp(body, body_size_bytes, partition->options.group.partition_id,
                    partition->offset_next, prepare->timestamp / 1000);
    }
    vsr_header_seal(header, body, body_size_bytes);
}

uint32_t partition_faulty_count(const struct partition *partition)
{
    assert(partition != NULL);
    assert(partition->faulty_count <= partition->options.faulty_max);
    return partition->faulty_count;
}

uint64_t partition_faulty_op(const struct partition *partition, uint32_t index)
{
    assert(partition != NULL);
    assert(index < partition->faulty_count);
    return partition->faulty_ops[index];
}

bool partition_is_faulty(const struct partition *partition, uint64_t op)
{
    assert(partition != NULL);
    assert(partition->faulty_count <= partition->options.faulty_max);
    for (uint32_t index = 0; index < partition->faulty_count; index++) {
        if (partition->faulty_ops[index] == op) {
            return true;
        }
    }
    return partition_segment_after_gap(partition, op) >= 0;
}

static void partition_checkpoint_written(struct atomic_file *file, int result, void *context)
{
    struct partition *partition = context;
    assert(partition != NULL && file == &partition->checkpoint_file);
    assert(partition->checkpoint_callback != NULL);
    if (result == 0) {
        partition->checkpoint = partition->checkpoint_pending;
        partition->has_checkpoint = true;
    }
    partition_checkpoint_callback callback = partition->checkpoint_callback;
    partition->checkpoint_callback = NULL;
    callback(partition, result, partition->checkpoint_context);
}

int partition_checkpoint_write(struct partition *partition, const struct checkpoint *checkpoint,
                               uint8_t *buffer, uint64_t buffer_size_bytes,
                               partition_checkpoint_callback callback, void *context)
{
    assert(partition != NULL && checkpoint != NULL && callback != NULL);
    assert(checkpoint->log_start_offset <= checkpoint->offset_next);
    assert(!partition->has_checkpoint || checkpoint->op >= partition->checkpoint.op);
    if (partition->checkpoint_callback != NULL) {
        return -RUNNEL_ESTATE;
    }
    uint64_t size = 0;
    int result = checkpoint_encode(checkpoint, buffer, buffer_size_bytes, &size);
    if (result != 0) {
        return result;
    }
    result =
        atomic_file_write(&partition->checkpoint_file, partition->io, partition->checkpoint_path,
                          buffer, size, partition_checkpoint_written, partition);
    if (result != 0) {
        return result;
    }
    partition->checkpoint_pending = *checkpoint;
    partition->checkpoint_pending.consumer_offsets = NULL;
    partition->checkpoint_pending.sessions = NULL;
    partition->checkpoint_callback = callback;
    partition->checkpoint_context = context;
    return 0;
}

int partition_purge_open(struct partition *partition, struct io *io)
{
    assert(partition != NULL && io != NULL);
    assert(partition->segment_count == 0);
    int result = atomic_file_create_directory(io, partition->options.directory);
    if (result != 0 && result != -EEXIST) {
        log_warn("partition_purge_failed", "directory=%s error=\"%s\"",
                 partition->options.directory, error_text(result));
        return result;
    }
    return partition_open(partition, io);
}

int partition_purge_remove_old(const struct partition *partition, struct atomic_file *file,
                               const char *old_directory, char *names, uint64_t names_size_bytes,
                               atomic_file_callback callback, void *context)
{
    assert(partition != NULL && file != NULL && old_directory != NULL);
    /* The new incarnation is open: its directory and first segment are durable. */
    assert(partition->segment_count > 0 && partition->directory_file >= 0);
    assert(strcmp(old_directory, partition->options.directory) != 0);
    return atomic_file_remove_directory(file, partition->io, old_directory, names, names_size_bytes,
                                        callback, context);
}
