/*
 * The partition log (storage/partition.h): segment files, tail buffer, group commit with
 * the index written after durability, rotation, verified reads and tail recovery. Owns the
 * partition's segment and index handles and the memory partition_init allocates. Runs on
 * the shard that owns the partition; every file operation goes through lib/io.h.
 */
#include "storage/partition.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    PARTITION_WAIT_ITERATIONS = 1u << 20,
    PARTITION_ENTRIES_PER_SECTOR = IO_SECTOR_SIZE / RECORD_INDEX_ENTRY_SIZE,
    PARTITION_LIST_NAME_SIZE = 32,
    PARTITION_INDEX_ZERO_MIN = 16 * 1024, /* index zero-fill chunk bounds */
    PARTITION_INDEX_ZERO_MAX = 256 * 1024,
};

static uint64_t align_down(uint64_t value)
{
    return value - value % IO_SECTOR_SIZE;
}

static uint64_t align_up(uint64_t value)
{
    return align_down(value + IO_SECTOR_SIZE - 1);
}

static void partition_wait_callback(struct io_completion *completion)
{
    assert(completion != NULL);
    assert(completion->done);
}

/* Runs io until completion is done (recovery and open only). */
static int64_t partition_wait(struct partition *partition, struct io_completion *completion)
{
    assert(partition != NULL && completion != NULL);
    int64_t result = io_wait(partition->io, completion, PARTITION_WAIT_ITERATIONS);
    assert(result != -ETIMEDOUT || !completion->done);
    return result;
}

static int partition_read_sync(struct partition *partition, int32_t file, void *buffer,
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

static int partition_write_sync(struct partition *partition, int32_t file, const void *buffer,
                                uint64_t size_bytes, uint64_t offset_bytes)
{
    struct io_completion completion = {0};
    io_write(partition->io, &completion, file, buffer, size_bytes, offset_bytes,
             partition_wait_callback, NULL);
    int64_t result = partition_wait(partition, &completion);
    return result < 0 ? (int)result : 0;
}

static int partition_sync_sync(struct partition *partition, int32_t file, bool directory)
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

static int64_t partition_open_sync(struct partition *partition, const char *path, uint32_t flags)
{
    struct io_completion completion = {0};
    io_open(partition->io, &completion, path, flags, partition_wait_callback, NULL);
    return partition_wait(partition, &completion);
}

static void partition_close_sync(struct partition *partition, int32_t file)
{
    struct io_completion completion = {0};
    if (file >= 0) {
        io_close(partition->io, &completion, file, partition_wait_callback, NULL);
        partition_wait(partition, &completion);
    }
}

static struct partition_segment *partition_tail(struct partition *partition)
{
    assert(partition->segment_count > 0);
    return &partition->segments[partition->segment_count - 1];
}

static void partition_segment_paths(const struct partition *partition,
                                    struct partition_segment *segment)
{
    int size = snprintf(segment->log_path, sizeof(segment->log_path), "%s/%020" PRIu64 ".log",
                        partition->options.directory, segment->base_offset);
    assert(size > 0 && (size_t)size < sizeof(segment->log_path));
    size = snprintf(segment->index_path, sizeof(segment->index_path), "%s/%020" PRIu64 ".index",
                    partition->options.directory, segment->base_offset);
    assert(size > 0 && (size_t)size < sizeof(segment->index_path));
}

static void partition_fault(struct partition *partition, uint64_t op)
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
        !partition->entries || !partition->faulty_ops || !partition->buffer ||
        !partition->index_buffer) {
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

/* With no record before the tail's first, the chain resumes from the checkpoint. */
static void partition_recover_chain_from_checkpoint(struct partition *partition)
{
    const struct checkpoint *checkpoint = &partition->checkpoint;
    if (!partition->has_checkpoint || partition->entry_count > 0 ||
        (partition->is_chain_known && partition->op_last >= checkpoint->op)) {
        return;
    }
    partition->op_last = checkpoint->op;
    partition->checksum_last = checkpoint->anchor_checksum;
    partition->timestamp_last = checkpoint->anchor_timestamp;
    partition->offset_next = checkpoint->offset_next;
    partition->is_chain_known = true;
}

void partition_deinit(struct partition *partition)
{
    assert(partition != NULL);
    free(partition->segments);
    free(partition->entries);
    free(partition->faulty_ops);
    free(partition->buffer);
    free(partition->index_buffer);
    free(partition->index_write_buffer);
    free(partition->index_zero_buffer);
    memset(partition, 0, sizeof(*partition));
}

/* Parses "{20 digits}.log"; false for anything else. */
static bool partition_parse_log_name(const char *name, uint64_t *base_offset_out)
{
    if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0) {
        return false;
    }
    uint64_t value = 0;
    for (int index = 0; index < 20; index++) {
        if (name[index] < '0' || name[index] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(name[index] - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            return false;
        }
        value = value * 10 + digit;
    }
    *base_offset_out = value;
    return true;
}

/* Lists the directory and fills segments sorted by base offset (insertion sort). */
static int partition_list_segments(struct partition *partition)
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
        if (!partition_parse_log_name(name, &base)) {
            continue;
        }
        if (partition->segment_count == partition->options.segments_max) {
            return -RUNNEL_EFULL;
        }
        uint32_t slot = partition->segment_count++;
        for (; slot > 0 && partition->segments[slot - 1].base_offset > base; slot--) {
            partition->segments[slot] = partition->segments[slot - 1];
        }
        memset(&partition->segments[slot], 0, sizeof(partition->segments[slot]));
        partition->segments[slot].base_offset = base;
        partition_segment_paths(partition, &partition->segments[slot]);
    }
    return 0;
}

/* Opens a segment's files; a sealed segment's log without O_DIRECT (page cache). */
static int partition_segment_open(struct partition *partition, struct partition_segment *segment,
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

/* A sealed segment's entry count: up to its index's last valid entry (the file is
 * sector-rounded, so its size alone overcounts). */
static void partition_sealed_count(struct partition *partition, struct partition_segment *segment)
{
    struct io_completion completion = {0};
    segment->entry_count = 0;
    segment->timestamp_first = 0;
    segment->timestamp_last = UINT64_MAX;
    io_size(partition->io, &completion, segment->index_file, partition_wait_callback, NULL);
    if (partition_wait(partition, &completion) != 0 || completion.size_bytes_out == 0) {
        return;
    }
    uint64_t last_sector = align_down(completion.size_bytes_out - 1);
    uint64_t read = 0;
    if (partition_read_sync(partition, segment->index_file, partition->buffer, IO_SECTOR_SIZE,
                            last_sector, &read) != 0) {
        return;
    }
    struct vsr_header header;
    uint64_t position = 0;
    for (uint64_t index = read / RECORD_INDEX_ENTRY_SIZE; index > 0; index--) {
        if (record_index_entry_validate(partition->buffer + (index - 1) * RECORD_INDEX_ENTRY_SIZE,
                                        partition->options.record_size_bytes_max,
                                        &partition->options.group, partition->options.cluster,
                                        &header, &position) == 0) {
            segment->entry_count = (uint32_t)(last_sector / RECORD_INDEX_ENTRY_SIZE + index);
            segment->timestamp_last = header.u.prepare.timestamp;
            return;
        }
    }
    log_warn("partition_index_entry_bad", "file=%s position=%" PRIu64 " reason=last_sector",
             segment->index_path, last_sector);
}

/* Reads a sealed segment's first index entry for its first op and its entry count. */
static void partition_sealed_load(struct partition *partition, struct partition_segment *segment)
{
    uint64_t read = 0;
    struct vsr_header header;
    uint64_t position = 0;
    partition_sealed_count(partition, segment);
    if (partition_read_sync(partition, segment->index_file, partition->buffer, IO_SECTOR_SIZE, 0,
                            &read) == 0 &&
        read >= RECORD_INDEX_ENTRY_SIZE &&
        record_index_entry_validate(partition->buffer, partition->options.record_size_bytes_max,
                                    &partition->options.group, partition->options.cluster, &header,
                                    &position) == 0) {
        segment->op_first = header.u.prepare.op;
        segment->timestamp_first = header.u.prepare.timestamp;
        return;
    }
    /* The first entry is damaged: the first record's header names the first op. */
    const char *reason = "first index entry and first record header invalid";
    if (partition_read_sync(partition, segment->log_file, partition->buffer, IO_SECTOR_SIZE, 0,
                            &read) == 0 &&
        read >= VSR_HEADER_SIZE) {
        memcpy(&header, partition->buffer, VSR_HEADER_SIZE);
        if (vsr_header_validate(&header, partition->options.record_size_bytes_max, &reason) == 0 &&
            header.command == VSR_COMMAND_PREPARE && record_is_chained(&header) &&
            vsr_group_is_equal(&header.group, &partition->options.group)) {
            segment->op_first = header.u.prepare.op;
            segment->is_index_damaged = true;
            log_warn("partition_index_entry_bad", "file=%s position=0 reason=first_entry_invalid",
                     segment->index_path);
            return;
        }
    }
    segment->is_index_damaged = true;
    log_warn("partition_segment_unreadable", "file=%s position=0 reason=\"%s\"", segment->log_path,
             reason);
}

/* A sealed index being rebuilt from its log: entries are staged in index_write_buffer
 * and written a multiple of sectors at a time; log bytes are read into the tail buffer
 * (start-up, before the tail is recovered). */
struct partition_rebuild {
    struct partition_segment *segment;
    uint32_t count;        /* entries produced */
    uint32_t staged_first; /* entry number of the staging buffer's first slot */
    uint32_t staged_max;   /* a multiple of the entries per sector */
    bool has_chain;
    uint64_t op_next; /* UINT64_MAX: unknown */
    u128 checksum_last;
    uint64_t log_size_bytes;
    uint64_t chunk_position_bytes;
    uint64_t chunk_size_bytes;
    struct vsr_header header_first;
    struct vsr_header header_last;
};

static int partition_rebuild_write(struct partition *partition, struct partition_rebuild *rebuild)
{
    uint32_t staged = rebuild->count - rebuild->staged_first;
    assert(staged <= rebuild->staged_max);
    if (staged == 0) {
        return 0;
    }
    uint64_t size = align_up((uint64_t)staged * RECORD_INDEX_ENTRY_SIZE);
    memset(partition->index_write_buffer + (uint64_t)staged * RECORD_INDEX_ENTRY_SIZE, 0,
           size - (uint64_t)staged * RECORD_INDEX_ENTRY_SIZE);
    int result =
        partition_write_sync(partition, rebuild->segment->index_file, partition->index_write_buffer,
                             size, (uint64_t)rebuild->staged_first * RECORD_INDEX_ENTRY_SIZE);
    rebuild->staged_first = rebuild->count;
    return result;
}

/* Adds the next entry (header NULL: an op whose record is damaged, a zero entry). */
static int partition_rebuild_add(struct partition *partition, struct partition_rebuild *rebuild,
                                 const struct vsr_header *header, uint64_t position_bytes)
{
    if (rebuild->count == partition->options.index_entries_max) {
        return -RUNNEL_EFULL;
    }
    uint8_t *slot = partition->index_write_buffer +
                    (uint64_t)(rebuild->count - rebuild->staged_first) * RECORD_INDEX_ENTRY_SIZE;
    if (header != NULL) {
        record_index_entry_init((struct record_index_entry *)(void *)slot, header, position_bytes);
        rebuild->header_first = rebuild->count == 0 ? *header : rebuild->header_first;
        rebuild->header_last = *header;
    } else {
        memset(slot, 0, RECORD_INDEX_ENTRY_SIZE);
    }
    rebuild->count++;
    return rebuild->count - rebuild->staged_first == rebuild->staged_max
               ? partition_rebuild_write(partition, rebuild)
               : 0;
}

/* Validates the record at position (reading log chunks as needed): 0 intact, 1 damaged
 * or past the end, <0 an I/O error. */
static int partition_rebuild_check(struct partition *partition, struct partition_rebuild *rebuild,
                                   uint64_t position, struct vsr_header *header)
{
    const struct partition_options *options = &partition->options;
    for (uint32_t attempt = 0; attempt < 2; attempt++) {
        uint64_t end = rebuild->chunk_position_bytes + rebuild->chunk_size_bytes;
        if (attempt == 1 || position < rebuild->chunk_position_bytes || position >= end) {
            uint64_t read = 0;
            rebuild->chunk_position_bytes = align_down(position);
            int result = partition_read_sync(partition, rebuild->segment->log_file,
                                             partition->buffer, options->buffer_size_bytes,
                                             rebuild->chunk_position_bytes, &read);
            if (result != 0) {
                return result;
            }
            rebuild->chunk_size_bytes = read;
            end = rebuild->chunk_position_bytes + read;
        }
        const char *reason = NULL;
        int result =
            position >= end
                ? -RUNNEL_ETRUNCATED
                : record_validate(partition->buffer + (position - rebuild->chunk_position_bytes),
                                  end - position, options->record_size_bytes_max, &options->group,
                                  options->cluster, header, &reason);
        if (result != -RUNNEL_ETRUNCATED || end >= rebuild->log_size_bytes || attempt == 1) {
            return result == 0 ? 0 : 1;
        }
    }
    return 1;
}

/* One record of the scan: chained records continuing the chain become entries (ops
 * skipped over by damage become zero entries, faulty); padding is stepped over. Returns
 * the position after it, or 0 to resynchronise at the next sector. */
static int partition_rebuild_take(struct partition *partition, struct partition_rebuild *rebuild,
                                  const struct vsr_header *header, uint64_t position,
                                  uint64_t *next_out)
{
    *next_out = position + header->size;
    if (!record_is_chained(header)) {
        return 0;
    }
    uint64_t op = header->u.prepare.op;
    bool continues = rebuild->has_chain && op == rebuild->op_next &&
                     header->u.prepare.parent == rebuild->checksum_last;
    bool is_after_gap =
        !rebuild->has_chain &&
        (rebuild->op_next == UINT64_MAX ||
         (op >= rebuild->op_next && op - rebuild->op_next <= partition->options.index_entries_max));
    if (!continues && !is_after_gap) {
        *next_out = 0; /* stale or misdirected: keep looking */
        return 0;
    }
    for (uint64_t missing = rebuild->op_next;
         is_after_gap && rebuild->op_next != UINT64_MAX && missing < op; missing++) {
        partition_fault(partition, missing);
        int result = partition_rebuild_add(partition, rebuild, NULL, 0);
        if (result != 0) {
            return result;
        }
    }
    rebuild->has_chain = true;
    rebuild->op_next = op + 1;
    rebuild->checksum_last = header->checksum;
    return partition_rebuild_add(partition, rebuild, header, position);
}

/* Rebuilds a sealed segment's index from its log (start-up), durably. */
static int partition_rebuild_index(struct partition *partition, struct partition_segment *segment)
{
    struct partition_rebuild rebuild;
    memset(&rebuild, 0, sizeof(rebuild));
    rebuild.segment = segment;
    rebuild.staged_max = partition->index_buffer_entries_max -
                         partition->index_buffer_entries_max % PARTITION_ENTRIES_PER_SECTOR;
    rebuild.op_next = segment->op_first;
    rebuild.chunk_position_bytes = UINT64_MAX / 2;
    struct io_completion completion = {0};
    io_size(partition->io, &completion, segment->log_file, partition_wait_callback, NULL);
    int result = (int)partition_wait(partition, &completion);
    rebuild.log_size_bytes = completion.size_bytes_out;
    uint64_t position = 0;
    for (uint64_t guard = 0; result == 0 && guard <= rebuild.log_size_bytes / VSR_HEADER_SIZE &&
                             position + VSR_HEADER_SIZE <= rebuild.log_size_bytes;
         guard++) {
        struct vsr_header header;
        int check = partition_rebuild_check(partition, &rebuild, position, &header);
        uint64_t next = 0;
        if (check < 0) {
            result = check;
        } else if (check == 0) {
            result = partition_rebuild_take(partition, &rebuild, &header, position, &next);
        }
        if (next == 0) {
            rebuild.has_chain = false; /* damage: resynchronise at a flush boundary */
            next = align_down(position) + IO_SECTOR_SIZE;
        }
        position = next;
    }
    if (result == 0) {
        result = partition_rebuild_write(partition, &rebuild);
    }
    if (result == 0) {
        io_truncate(partition->io, &completion, segment->index_file,
                    align_up((uint64_t)rebuild.count * RECORD_INDEX_ENTRY_SIZE),
                    partition_wait_callback, NULL);
        result = (int)partition_wait(partition, &completion);
    }
    if (result == 0) {
        result = partition_sync_sync(partition, segment->index_file, false);
    }
    if (result != 0 || rebuild.count == 0) {
        return result;
    }
    segment->entry_count = rebuild.count;
    segment->op_first = rebuild.header_first.u.prepare.op;
    segment->timestamp_first = rebuild.header_first.u.prepare.timestamp;
    segment->timestamp_last = rebuild.header_last.u.prepare.timestamp;
    segment->is_index_damaged = false;
    partition->rebuilt_entry_count += rebuild.count;
    log_warn("partition_index_rebuilt", "file=%s entries=%" PRIu32, segment->index_path,
             rebuild.count);
    return 0;
}

/* The first op of segment index + 1 as its index or first record says (UINT64_MAX when
 * unknown): checks the entry count of sealed segment index. */
static uint64_t partition_op_first_hint(struct partition *partition, uint32_t index)
{
    assert(index + 1 < partition->segment_count);
    if (index + 2 < partition->segment_count) {
        return partition->segments[index + 1].op_first;
    }
    /* The tail (not recovered yet): its first index entry, when intact. */
    uint64_t read = 0;
    struct vsr_header header;
    uint64_t position = 0;
    if (partition_read_sync(partition, partition->segments[index + 1].index_file, partition->buffer,
                            IO_SECTOR_SIZE, 0, &read) == 0 &&
        read >= RECORD_INDEX_ENTRY_SIZE &&
        record_index_entry_validate(partition->buffer, partition->options.record_size_bytes_max,
                                    &partition->options.group, partition->options.cluster, &header,
                                    &position) == 0) {
        return header.u.prepare.op;
    }
    return UINT64_MAX;
}

/* Rebuilds every sealed index that is missing, torn, damaged at its first entry, or whose
 * entry count disagrees with the next segment's first op. listed includes the tail. */
static int partition_rebuild_sealed(struct partition *partition, uint32_t listed)
{
    for (uint32_t index = 0; index + 1 < listed; index++) {
        struct partition_segment *segment = &partition->segments[index];
        uint64_t next_first = partition_op_first_hint(partition, index);
        bool disagrees = next_first != UINT64_MAX && segment->op_first != UINT64_MAX &&
                         segment->op_first + segment->entry_count != next_first;
        if (segment->entry_count > 0 && !segment->is_index_damaged && !disagrees) {
            continue;
        }
        log_warn("partition_index_damaged", "file=%s entries=%" PRIu32 " reason=%s",
                 segment->index_path, segment->entry_count,
                 disagrees ? "entry_count_vs_next_segment" : "missing_or_torn");
        int result = partition_rebuild_index(partition, segment);
        if (result != 0) {
            return result;
        }
    }
    return 0;
}

/* Creates the first (or next) segment's files and makes their names durable. */
static int partition_segment_create(struct partition *partition, uint64_t base_offset)
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

/* What the tail segment's index says, before the log is scanned. */
struct partition_recovery {
    uint32_t prefix_count;  /* entries [0, prefix) valid and op-consecutive */
    bool has_durable;       /* some valid entry exists */
    uint32_t durable_index; /* the last valid entry */
    struct vsr_header durable_header;
    uint64_t durable_position_bytes;
    uint64_t chunk_position_bytes; /* log bytes held in partition->buffer */
    uint64_t chunk_size_bytes;
    bool chunk_is_short; /* the chunk read hit the end of the file */
};

static void partition_entry_set(struct partition_entry *entry, const struct vsr_header *header,
                                uint64_t position_bytes)
{
    assert(entry != NULL && header != NULL);
    assert(header->command == VSR_COMMAND_PREPARE);
    entry->op = header->u.prepare.op;
    entry->offset = header->u.prepare.offset;
    entry->timestamp = header->u.prepare.timestamp;
    entry->position_bytes = position_bytes;
    entry->size_bytes = header->size;
    entry->message_count = header->u.prepare.message_count;
    entry->operation = header->u.prepare.operation;
    entry->is_faulty = false;
    entry->checksum = header->checksum;
}

/* Parses one index entry i of the tail segment into recovery. */
static void partition_recover_entry(struct partition *partition,
                                    struct partition_recovery *recovery, uint32_t index,
                                    const uint8_t *bytes)
{
    struct vsr_header header;
    uint64_t position = 0;
    const struct partition_options *options = &partition->options;
    if (record_index_entry_validate(bytes, options->record_size_bytes_max, &options->group,
                                    options->cluster, &header, &position) != 0 ||
        position >= options->segment_size_bytes) {
        return;
    }
    recovery->has_durable = true;
    recovery->durable_index = index;
    recovery->durable_header = header;
    recovery->durable_position_bytes = position;
    if (recovery->prefix_count == index) {
        const struct partition_entry *previous = index > 0 ? &partition->entries[index - 1] : NULL;
        if (previous == NULL || (header.u.prepare.op == previous->op + 1 &&
                                 position >= previous->position_bytes + previous->size_bytes)) {
            partition_entry_set(&partition->entries[index], &header, position);
            recovery->prefix_count++;
        }
    }
}

static int partition_recover_index(struct partition *partition, struct partition_recovery *recovery)
{
    struct partition_segment *tail = partition_tail(partition);
    struct io_completion completion = {0};
    io_size(partition->io, &completion, tail->index_file, partition_wait_callback, NULL);
    int64_t result = partition_wait(partition, &completion);
    if (result < 0) {
        return (int)result;
    }
    uint64_t entry_total = completion.size_bytes_out / RECORD_INDEX_ENTRY_SIZE;
    if (entry_total > partition->options.index_entries_max) {
        entry_total = partition->options.index_entries_max;
    }
    uint64_t chunk_entries = partition->options.buffer_size_bytes / RECORD_INDEX_ENTRY_SIZE;
    for (uint64_t first = 0; first < entry_total; first += chunk_entries) {
        uint64_t count = entry_total - first < chunk_entries ? entry_total - first : chunk_entries;
        uint64_t read = 0;
        int read_result = partition_read_sync(partition, tail->index_file, partition->buffer,
                                              align_up(count * RECORD_INDEX_ENTRY_SIZE),
                                              first * RECORD_INDEX_ENTRY_SIZE, &read);
        if (read_result != 0) {
            return read_result;
        }
        for (uint64_t index = 0; index < count && (index + 1) * RECORD_INDEX_ENTRY_SIZE <= read;
             index++) {
            partition_recover_entry(partition, recovery, (uint32_t)(first + index),
                                    partition->buffer + index * RECORD_INDEX_ENTRY_SIZE);
        }
    }
    return 0;
}

/* Writes index_buffer's entries [index_buffer_first, entry_count) and keeps the last
 * partial sector at the front. Synchronous (recovery). */
static int partition_recover_index_write(struct partition *partition)
{
    uint32_t used = partition->entry_count - partition->index_buffer_first;
    if (used == 0) {
        return 0;
    }
    uint64_t size = align_up((uint64_t)used * RECORD_INDEX_ENTRY_SIZE);
    int result = partition_write_sync(
        partition, partition_tail(partition)->index_file, partition->index_buffer, size,
        (uint64_t)partition->index_buffer_first * RECORD_INDEX_ENTRY_SIZE);
    if (result != 0) {
        return result;
    }
    uint32_t keep_first =
        partition->entry_count - partition->entry_count % PARTITION_ENTRIES_PER_SECTOR;
    uint32_t shift = keep_first - partition->index_buffer_first;
    memmove(partition->index_buffer,
            partition->index_buffer + (uint64_t)shift * RECORD_INDEX_ENTRY_SIZE, IO_SECTOR_SIZE);
    partition->index_buffer_first = keep_first;
    return 0;
}

/* Adds entry k = entry_count (header NULL: a faulty op with no known header: zero entry). */
static int partition_recover_add(struct partition *partition, const struct vsr_header *header,
                                 uint64_t op, uint64_t position_bytes)
{
    if (partition->entry_count == partition->options.index_entries_max) {
        return -RUNNEL_EFULL;
    }
    if (partition->entry_count - partition->index_buffer_first ==
        partition->index_buffer_entries_max) {
        int result = partition_recover_index_write(partition);
        if (result != 0) {
            return result;
        }
    }
    struct partition_entry *entry = &partition->entries[partition->entry_count];
    uint8_t *slot = partition->index_buffer +
                    (uint64_t)(partition->entry_count - partition->index_buffer_first) *
                        RECORD_INDEX_ENTRY_SIZE;
    if (header != NULL) {
        partition_entry_set(entry, header, position_bytes);
        record_index_entry_init((struct record_index_entry *)(void *)slot, header, position_bytes);
    } else {
        memset(entry, 0, sizeof(*entry));
        entry->op = op;
        entry->is_faulty = true;
        memset(slot, 0, RECORD_INDEX_ENTRY_SIZE);
    }
    partition->entry_count++;
    return 0;
}

/* Makes sure [position, position + need) is in the buffer; returns the bytes available
 * from position (fewer than need only at the end of the file), or a negative error. */
static int64_t partition_recover_fetch(struct partition *partition,
                                       struct partition_recovery *recovery, uint64_t position,
                                       uint64_t need)
{
    uint64_t chunk_end = recovery->chunk_position_bytes + recovery->chunk_size_bytes;
    bool inside = position >= recovery->chunk_position_bytes && position <= chunk_end;
    if (!inside || (position + need > chunk_end && !recovery->chunk_is_short)) {
        uint64_t start = align_down(position);
        uint64_t read = 0;
        int result =
            partition_read_sync(partition, partition_tail(partition)->log_file, partition->buffer,
                                partition->options.buffer_size_bytes, start, &read);
        if (result != 0) {
            return result;
        }
        recovery->chunk_position_bytes = start;
        recovery->chunk_size_bytes = read;
        recovery->chunk_is_short = read < partition->options.buffer_size_bytes;
        chunk_end = start + read;
    }
    return position >= chunk_end ? 0 : (int64_t)(chunk_end - position);
}

/* Validates the record at position: 0 when it is intact and continues the chain. */
static int partition_recover_check(struct partition *partition, struct partition_recovery *recovery,
                                   uint64_t position, struct vsr_header *header,
                                   const char **reason)
{
    int64_t available = partition_recover_fetch(partition, recovery, position, VSR_HEADER_SIZE);
    if (available < 0) {
        return (int)available;
    }
    const uint8_t *bytes = partition->buffer + (position - recovery->chunk_position_bytes);
    const struct partition_options *options = &partition->options;
    int result = record_validate(bytes, (uint64_t)available, options->record_size_bytes_max,
                                 &options->group, options->cluster, header, reason);
    if (result == -RUNNEL_ETRUNCATED && (uint64_t)available >= VSR_HEADER_SIZE) {
        available = partition_recover_fetch(partition, recovery, position, header->size);
        if (available < 0) {
            return (int)available;
        }
        bytes = partition->buffer + (position - recovery->chunk_position_bytes);
        result = record_validate(bytes, (uint64_t)available, options->record_size_bytes_max,
                                 &options->group, options->cluster, header, reason);
    }
    if (result == 0 && record_is_chained(header) && partition->is_chain_known &&
        (header->u.prepare.op != partition->op_last + 1 ||
         header->u.prepare.parent != partition->checksum_last)) {
        *reason = "record does not continue the hash chain";
        result = -RUNNEL_EFORMAT;
    }
    return result < 0 && result > -RUNNEL_ERROR_BASE ? result : (result < 0 ? 1 : 0);
}

static void partition_chain_advance(struct partition *partition, const struct vsr_header *header)
{
    assert(record_is_chained(header));
    partition->op_last = header->u.prepare.op;
    partition->checksum_last = header->checksum;
    partition->timestamp_last = header->u.prepare.timestamp;
    partition->offset_next = header->u.prepare.offset;
    if (header->u.prepare.operation == VSR_OPERATION_MESSAGES) {
        partition->offset_next += header->u.prepare.message_count;
    }
    partition->is_chain_known = true;
}

/* Chain state from the previous segment's last entry when the tail segment is empty. */
static void partition_recover_chain_from_sealed(struct partition *partition)
{
    if (partition->segment_count < 2) {
        return;
    }
    struct partition_segment *sealed = &partition->segments[partition->segment_count - 2];
    if (sealed->entry_count == 0) {
        return;
    }
    uint64_t at = (uint64_t)(sealed->entry_count - 1) * RECORD_INDEX_ENTRY_SIZE;
    uint64_t read = 0;
    struct vsr_header header;
    uint64_t position = 0;
    if (partition_read_sync(partition, sealed->index_file, partition->buffer, IO_SECTOR_SIZE,
                            align_down(at), &read) == 0 &&
        read >= at - align_down(at) + RECORD_INDEX_ENTRY_SIZE &&
        record_index_entry_validate(
            partition->buffer + (at - align_down(at)), partition->options.record_size_bytes_max,
            &partition->options.group, partition->options.cluster, &header, &position) == 0) {
        partition_chain_advance(partition, &header);
    }
}

/* Faulty ops with no usable entry up to the durable entry, then the durable record. */
static int partition_recover_to_durable(struct partition *partition,
                                        struct partition_recovery *recovery, uint64_t *position)
{
    const struct vsr_header *durable = &recovery->durable_header;
    uint64_t op_durable = durable->u.prepare.op;
    uint64_t op_next = partition->is_chain_known ? partition->op_last + 1 : op_durable;
    if (op_next > op_durable ||
        op_durable - op_next != recovery->durable_index - partition->entry_count) {
        log_warn("partition_index_disagrees", "file=%s entry=%" PRIu32 " reason=op_gap",
                 partition_tail(partition)->index_path, recovery->durable_index);
        return -RUNNEL_EFORMAT;
    }
    for (uint64_t op = op_next; op < op_durable; op++) {
        partition_fault(partition, op);
        int result = partition_recover_add(partition, NULL, op, 0);
        if (result != 0) {
            return result;
        }
    }
    struct vsr_header header;
    const char *reason = "";
    int check = partition_recover_check(partition, recovery, recovery->durable_position_bytes,
                                        &header, &reason);
    if (check < 0) {
        return check;
    }
    int result =
        partition_recover_add(partition, durable, op_durable, recovery->durable_position_bytes);
    if (result != 0) {
        return result;
    }
    if (check != 0 || header.checksum != durable->checksum) {
        log_warn("partition_record_faulty",
                 "file=%s position=%" PRIu64 " op=%" PRIu64 " reason=\"%s\"",
                 partition_tail(partition)->log_path, recovery->durable_position_bytes, op_durable,
                 check ? reason : "index mismatch");
        partition_fault(partition, op_durable);
        partition->entries[partition->entry_count - 1].is_faulty = true;
    }
    partition_chain_advance(partition, durable);
    *position = recovery->durable_position_bytes + durable->size;
    return 0;
}

/* One step at a record already covered by a valid prefix entry. */
static int partition_recover_known(struct partition *partition, struct partition_recovery *recovery,
                                   uint64_t *position)
{
    struct partition_entry *entry = &partition->entries[partition->entry_count];
    struct vsr_header header;
    const char *reason = "";
    int check =
        partition_recover_check(partition, recovery, entry->position_bytes, &header, &reason);
    if (check < 0) {
        return check;
    }
    if (check == 0 && header.checksum == entry->checksum) {
        partition_chain_advance(partition, &header);
    } else {
        log_warn("partition_record_faulty",
                 "file=%s position=%" PRIu64 " op=%" PRIu64 " reason=\"%s\"",
                 partition_tail(partition)->log_path, entry->position_bytes, entry->op,
                 check ? reason : "index mismatch");
        partition_fault(partition, entry->op);
        entry->is_faulty = true;
        partition->op_last = entry->op;
        partition->checksum_last = entry->checksum;
        partition->timestamp_last = entry->timestamp;
        partition->offset_next =
            entry->offset + (entry->operation == VSR_OPERATION_MESSAGES ? entry->message_count : 0);
        partition->is_chain_known = true;
    }
    *position = entry->position_bytes + entry->size_bytes;
    partition->entry_count++;
    return 0;
}

/* Walks the tail from the last valid prefix entry; returns the end of the log. */
static int partition_recover_scan(struct partition *partition, struct partition_recovery *recovery,
                                  uint64_t *end_out)
{
    uint32_t known = recovery->prefix_count;
    uint64_t position = 0;
    partition->entry_count = known > 0 ? known - 1 : 0;
    if (known > 0) {
        partition->is_chain_known = false; /* the resumed record is checked by its entry */
    }
    uint64_t limit = partition->options.segment_size_bytes;
    for (uint64_t guard = 0; guard <= limit / VSR_HEADER_SIZE; guard++) {
        int result = 0;
        if (partition->entry_count < known) {
            result = partition_recover_known(partition, recovery, &position);
            if (result != 0) {
                return result;
            }
            continue;
        }
        struct vsr_header header;
        const char *reason = "end of segment";
        int check = position + VSR_HEADER_SIZE <= limit
                        ? partition_recover_check(partition, recovery, position, &header, &reason)
                        : 1;
        if (check < 0) {
            return check;
        }
        bool is_durable_slot =
            recovery->has_durable && recovery->durable_index == partition->entry_count;
        if (check == 0 && !record_is_chained(&header)) {
            position += header.size;
            continue;
        }
        if (check == 0 &&
            (!is_durable_slot || header.checksum == recovery->durable_header.checksum)) {
            result = partition_recover_add(partition, &header, header.u.prepare.op, position);
            partition_chain_advance(partition, &header);
            position += header.size;
        } else if (recovery->has_durable && recovery->durable_index >= partition->entry_count) {
            result = partition_recover_to_durable(partition, recovery, &position);
        } else {
            log_debug("partition_tail_end", "file=%s position=%" PRIu64 " reason=\"%s\"",
                      partition_tail(partition)->log_path, position, reason);
            break;
        }
        if (result != 0) {
            return result;
        }
    }
    *end_out = position;
    return 0;
}

static int partition_recover_finish(struct partition *partition, uint64_t end)
{
    struct partition_segment *tail = partition_tail(partition);
    int result = partition_sync_sync(partition, tail->log_file, false);
    if (result == 0) {
        result = partition_recover_index_write(partition);
    }
    if (result == 0) {
        result = partition_sync_sync(partition, tail->index_file, false);
    }
    if (result != 0) {
        return result;
    }
    partition->entry_durable_count = partition->entry_count;
    partition->entry_log_durable_count = partition->entry_count;
    partition->appended_bytes = end;
    partition->written_bytes = end;
    partition->flush_end_bytes = end;
    partition->buffer_position_bytes = align_down(end);
    memset(partition->buffer, 0, IO_SECTOR_SIZE);
    uint64_t read = 0;
    if (end > partition->buffer_position_bytes) {
        result = partition_read_sync(partition, tail->log_file, partition->buffer, IO_SECTOR_SIZE,
                                     partition->buffer_position_bytes, &read);
        if (result != 0) {
            return result;
        }
    }
    struct io_completion completion = {0};
    io_size(partition->io, &completion, tail->log_file, partition_wait_callback, NULL);
    int64_t size = partition_wait(partition, &completion);
    if (size < 0) {
        return (int)size;
    }
    partition->allocated_bytes = align_down(completion.size_bytes_out);
    io_size(partition->io, &completion, tail->index_file, partition_wait_callback, NULL);
    size = partition_wait(partition, &completion);
    if (size < 0) {
        return (int)size;
    }
    partition->index_allocated_bytes = align_down(completion.size_bytes_out);
    partition->op_durable = partition->op_last;
    if (partition->entry_count > 0 && tail->op_first == UINT64_MAX) {
        tail->op_first = partition->entries[0].op;
    }
    return 0;
}

static int partition_recover_tail(struct partition *partition)
{
    struct partition_recovery recovery;
    memset(&recovery, 0, sizeof(recovery));
    partition->entry_count = 0;
    partition->is_chain_known = false;
    partition->op_last = 0;
    partition->offset_next = partition_tail(partition)->base_offset;
    partition_recover_chain_from_sealed(partition);
    if (partition->segment_count > 1 && !partition->is_chain_known) {
        log_warn("partition_chain_unknown", "file=%s reason=\"previous segment's last entry\"",
                 partition->segments[partition->segment_count - 2].index_path);
    }
    int result = partition_recover_index(partition, &recovery);
    if (result != 0) {
        return result;
    }
    /* Start the index buffer at the sector holding the first entry to (re)write. */
    uint32_t first = recovery.prefix_count;
    partition->index_buffer_first = first - first % PARTITION_ENTRIES_PER_SECTOR;
    memset(partition->index_buffer, 0, IO_SECTOR_SIZE);
    uint64_t read = 0;
    result = partition_read_sync(
        partition, partition_tail(partition)->index_file, partition->index_buffer, IO_SECTOR_SIZE,
        (uint64_t)partition->index_buffer_first * RECORD_INDEX_ENTRY_SIZE, &read);
    if (result != 0) {
        return result;
    }
    uint64_t keep = (uint64_t)(first - partition->index_buffer_first) * RECORD_INDEX_ENTRY_SIZE;
    memset(partition->index_buffer + keep, 0, IO_SECTOR_SIZE - keep);
    recovery.chunk_size_bytes = 0;
    recovery.chunk_position_bytes = UINT64_MAX / 2;
    uint64_t end = 0;
    result = partition_recover_scan(partition, &recovery, &end);
    if (result == 0 && partition->faulty_ops_overflow > 0) {
        result = -RUNNEL_EFULL;
    }
    partition_recover_chain_from_checkpoint(partition);
    return result != 0 ? result : partition_recover_finish(partition, end);
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
            partition_sealed_load(partition, &partition->segments[index]);
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
    return false;
}

static void partition_read_io_callback(struct io_completion *completion);

/* Verifies the record in read->buffer at read->record; marks damage faulty. */
static void partition_read_verify(struct partition *partition, struct partition_read *read,
                                  uint64_t available_bytes, u128 checksum_expected,
                                  const char *path)
{
    const char *reason = "";
    const struct partition_options *options = &partition->options;
    int result = record_validate(read->record, available_bytes, options->record_size_bytes_max,
                                 &options->group, options->cluster, &read->header, &reason);
    if (result == 0 &&
        (read->header.checksum != checksum_expected || read->header.u.prepare.op != read->op)) {
        result = -RUNNEL_EFORMAT;
        reason = "record disagrees with its index entry (misdirected or stale)";
    }
    if (result != 0) {
        log_warn("partition_record_faulty",
                 "file=%s position=%" PRIu64 " op=%" PRIu64 " reason=\"%s\"", path,
                 read->position_bytes, read->op, reason);
        partition_fault(partition, read->op);
        read->record = NULL;
        read->result = -RUNNEL_EFAULTY;
        return;
    }
    read->result = 0;
}

/* Starts the disk read of the record at read->position_bytes (size read->size_bytes). */
static int partition_read_record(struct partition *partition, struct partition_read *read)
{
    uint64_t from = align_down(read->position_bytes);
    uint64_t size = align_up(read->position_bytes + read->size_bytes) - from;
    if (size > read->buffer_size_bytes || read->size_bytes < VSR_HEADER_SIZE) {
        return read->size_bytes < VSR_HEADER_SIZE ? -RUNNEL_EFAULTY : -RUNNEL_ETOOLARGE;
    }
    read->read_position_bytes = from;
    partition->reads_in_flight++;
    io_read(partition->io, &read->completion, partition->segments[read->segment].log_file,
            read->buffer, size, from, partition_read_io_callback, read);
    return 0;
}

/* The index entry of op is damaged: locate the record after the previous entry's
 * record (or at 0 for the segment's first op) and read a span that holds it. */
static int partition_read_by_neighbour(struct partition *partition, struct partition_read *read,
                                       uint64_t inside)
{
    struct partition_segment *segment = &partition->segments[read->segment];
    partition->index_entry_damaged_count++;
    log_warn("partition_index_entry_bad", "file=%s position=%" PRIu64 " op=%" PRIu64,
             segment->index_path, (read->op - segment->op_first) * RECORD_INDEX_ENTRY_SIZE,
             read->op);
    uint64_t position = 0;
    read->has_parent_expected = false;
    if (read->op > segment->op_first) {
        struct vsr_header previous;
        uint64_t previous_position = 0;
        if (inside < RECORD_INDEX_ENTRY_SIZE ||
            record_index_entry_validate(read->buffer + inside - RECORD_INDEX_ENTRY_SIZE,
                                        partition->options.record_size_bytes_max,
                                        &partition->options.group, partition->options.cluster,
                                        &previous, &previous_position) != 0 ||
            previous.u.prepare.op + 1 != read->op) {
            return -RUNNEL_EFAULTY;
        }
        position = previous_position + previous.size;
        read->has_parent_expected = true;
        read->parent_expected = previous.checksum;
    }
    read->is_located_by_neighbour = true;
    read->position_bytes = position;
    read->read_position_bytes = align_down(position);
    uint64_t size = align_down(read->buffer_size_bytes);
    partition->reads_in_flight++;
    io_read(partition->io, &read->completion, segment->log_file, read->buffer, size,
            read->read_position_bytes, partition_read_io_callback, read);
    return 0;
}

static void partition_read_entry_done(struct partition *partition, struct partition_read *read)
{
    struct partition_segment *segment = &partition->segments[read->segment];
    uint64_t at = (read->op - segment->op_first) * RECORD_INDEX_ENTRY_SIZE;
    uint64_t inside = at - read->entry_read_position_bytes;
    uint64_t position = 0;
    int result = 0;
    if (read->completion.result < (int64_t)(inside + RECORD_INDEX_ENTRY_SIZE) ||
        record_index_entry_validate(read->buffer + inside, partition->options.record_size_bytes_max,
                                    &partition->options.group, partition->options.cluster,
                                    &read->header, &position) != 0 ||
        read->header.u.prepare.op != read->op) {
        result = read->completion.result >= (int64_t)inside
                     ? partition_read_by_neighbour(partition, read, inside)
                     : -RUNNEL_EFAULTY;
    } else {
        read->position_bytes = position;
        read->size_bytes = read->header.size;
        read->read_position_bytes = UINT64_MAX; /* marks the record step */
        result = partition_read_record(partition, read);
    }
    if (result != 0) {
        read->result = result;
        read->callback(read, read->context);
    }
}

/* Neighbour mode: skips a padding record, then takes the record of op if it is intact
 * and continues the chain. */
static void partition_read_neighbour_verify(struct partition *partition,
                                            struct partition_read *read, uint64_t got_bytes)
{
    const struct partition_options *options = &partition->options;
    const char *reason = "record after the previous one not found";
    for (uint32_t step = 0; step < 2; step++) {
        uint64_t inside = read->position_bytes - read->read_position_bytes;
        uint64_t available = got_bytes > inside ? got_bytes - inside : 0;
        int result =
            record_validate(read->buffer + inside, available, options->record_size_bytes_max,
                            &options->group, options->cluster, &read->header, &reason);
        if (result != 0) {
            break;
        }
        if (!record_is_chained(&read->header)) {
            read->position_bytes += read->header.size;
            continue;
        }
        if (read->header.u.prepare.op == read->op &&
            (!read->has_parent_expected ||
             read->header.u.prepare.parent == read->parent_expected)) {
            read->record = read->buffer + inside;
            read->size_bytes = read->header.size;
            read->result = 0;
            return;
        }
        reason = "record after the previous one is another op or off the chain";
        break;
    }
    log_warn("partition_record_faulty", "file=%s position=%" PRIu64 " op=%" PRIu64 " reason=\"%s\"",
             partition->segments[read->segment].log_path, read->position_bytes, read->op, reason);
    partition_fault(partition, read->op);
    read->record = NULL;
    read->result = -RUNNEL_EFAULTY;
}

static void partition_read_io_callback(struct io_completion *completion)
{
    struct partition_read *read = completion->context;
    assert(read != NULL && completion == &read->completion);
    struct partition *partition = read->partition;
    assert(partition->reads_in_flight > 0);
    partition->reads_in_flight--;
    if (completion->result < 0) {
        read->result = (int)completion->result;
        read->callback(read, read->context);
        return;
    }
    if (read->read_position_bytes == UINT64_MAX - 1) {
        partition_read_entry_done(partition, read);
        return;
    }
    uint64_t inside = read->position_bytes - read->read_position_bytes;
    uint64_t got = (uint64_t)completion->result;
    if (read->is_located_by_neighbour) {
        partition_read_neighbour_verify(partition, read, got);
        read->callback(read, read->context);
        return;
    }
    read->record = read->buffer + inside;
    u128 expected = read->header.checksum; /* the index's copy */
    partition_read_verify(partition, read, got > inside ? got - inside : 0, expected,
                          partition->segments[read->segment].log_path);
    read->callback(read, read->context);
}

/* The segment holding op, or -1. */
static int32_t partition_segment_of_op(const struct partition *partition, uint64_t op)
{
    for (uint32_t index = partition->segment_count; index > 0; index--) {
        const struct partition_segment *segment = &partition->segments[index - 1];
        bool is_tail = index == partition->segment_count;
        uint64_t count = is_tail ? partition->entry_count : segment->entry_count;
        if (segment->op_first != UINT64_MAX && op >= segment->op_first &&
            op - segment->op_first < count) {
            return (int32_t)(index - 1);
        }
    }
    return -1;
}

int partition_read_op(struct partition *partition, struct partition_read *read, uint64_t op,
                      uint8_t *buffer, uint64_t buffer_size_bytes, partition_read_callback callback,
                      void *context)
{
    assert(partition != NULL && read != NULL && callback != NULL);
    assert(buffer != NULL && io_is_sector_aligned((uint64_t)(uintptr_t)buffer));
    if (partition->failed != 0) {
        return partition->failed;
    }
    memset(read, 0, sizeof(*read));
    read->partition = partition;
    read->callback = callback;
    read->context = context;
    read->buffer = buffer;
    read->buffer_size_bytes = buffer_size_bytes;
    read->op = op;
    int32_t segment = partition_segment_of_op(partition, op);
    if (segment < 0) {
        return -RUNNEL_ENOTFOUND;
    }
    if (partition_is_faulty(partition, op)) {
        return -RUNNEL_EFAULTY;
    }
    read->segment = (uint32_t)segment;
    if ((uint32_t)segment + 1 < partition->segment_count) {
        const struct partition_segment *sealed = &partition->segments[segment];
        uint64_t at = (op - sealed->op_first) * RECORD_INDEX_ENTRY_SIZE;
        /* The previous entry too: it locates the record if this entry is damaged. */
        uint64_t from = align_down(op > sealed->op_first ? at - RECORD_INDEX_ENTRY_SIZE : at);
        read->entry_read_position_bytes = from;
        read->read_position_bytes = UINT64_MAX - 1; /* marks the entry step */
        partition->reads_in_flight++;
        io_read(partition->io, &read->completion, sealed->index_file, buffer,
                align_up(at + RECORD_INDEX_ENTRY_SIZE) - from, from, partition_read_io_callback,
                read);
        return 0;
    }
    const struct partition_entry *entry =
        &partition->entries[op - partition->segments[segment].op_first];
    assert(entry->op == op);
    read->position_bytes = entry->position_bytes;
    read->size_bytes = entry->size_bytes;
    read->header.checksum = entry->checksum;
    if (entry->position_bytes >= partition->buffer_position_bytes &&
        entry->position_bytes + entry->size_bytes <= partition->appended_bytes &&
        entry->size_bytes <= buffer_size_bytes) {
        memcpy(buffer,
               partition->buffer + (entry->position_bytes - partition->buffer_position_bytes),
               entry->size_bytes);
        read->record = buffer;
        partition_read_verify(partition, read, entry->size_bytes, entry->checksum,
                              partition->segments[segment].log_path);
        return 1;
    }
    return partition_read_record(partition, read);
}

int partition_find_offset(const struct partition *partition, uint64_t offset, uint64_t *op_out)
{
    assert(partition != NULL && op_out != NULL);
    assert(partition->entry_count <= partition->options.index_entries_max);
    uint32_t low = 0;
    uint32_t high = partition->entry_count; /* first entry with entry.offset > offset */
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (partition->entries[middle].offset <= offset) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    for (uint32_t index = low; index > 0; index--) {
        const struct partition_entry *entry = &partition->entries[index - 1];
        if (entry->operation == VSR_OPERATION_MESSAGES) {
            if (offset - entry->offset < entry->message_count) {
                *op_out = entry->op;
                return 0;
            }
            break;
        }
    }
    return -RUNNEL_ENOTFOUND;
}

int partition_find_timestamp(const struct partition *partition, uint64_t timestamp_ns,
                             uint64_t *op_out)
{
    assert(partition != NULL && op_out != NULL);
    assert(partition->entry_count <= partition->options.index_entries_max);
    uint32_t low = 0;
    uint32_t high = partition->entry_count; /* first entry with timestamp >= timestamp_ns */
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (partition->entries[middle].timestamp < timestamp_ns) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    for (uint32_t index = low; index < partition->entry_count; index++) {
        if (partition->entries[index].operation == VSR_OPERATION_MESSAGES) {
            *op_out = partition->entries[index].op;
            return 0;
        }
    }
    return -RUNNEL_ENOTFOUND;
}

int partition_record_slice(const struct partition_read *read, uint64_t offset_first,
                           uint32_t count_max, struct batch_slice *slice_out)
{
    assert(read != NULL && slice_out != NULL);
    assert(read->result == 0 && read->record != NULL);
    const struct vsr_header_prepare *prepare = &read->header.u.prepare;
    if (prepare->operation != VSR_OPERATION_MESSAGES || count_max == 0) {
        return -RUNNEL_ENOTFOUND;
    }
    uint64_t first = offset_first > prepare->offset ? offset_first - prepare->offset : 0;
    if (first >= prepare->message_count) {
        return -RUNNEL_ENOTFOUND;
    }
    uint64_t end =
        first + count_max < prepare->message_count ? first + count_max : prepare->message_count;
    int result = batch_slice(read->record + VSR_HEADER_SIZE, read->header.size - VSR_HEADER_SIZE,
                             (uint32_t)first, (uint32_t)end, slice_out);
    return result == 0 ? 0 : -RUNNEL_ENOTFOUND;
}

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

static void partition_fault_clear(struct partition *partition, uint64_t op)
{
    assert(partition->faulty_count <= partition->options.faulty_max);
    for (uint32_t index = 0; index < partition->faulty_count; index++) {
        if (partition->faulty_ops[index] == op) {
            partition->faulty_ops[index] = partition->faulty_ops[--partition->faulty_count];
            return;
        }
    }
}

static void partition_repair_finish(struct partition_repair *repair, int result)
{
    struct partition *partition = repair->partition;
    assert(partition->reads_in_flight > 0);
    partition->reads_in_flight--;
    if (result == 0) {
        uint64_t op = repair->header->u.prepare.op;
        if (repair->segment + 1 == partition->segment_count) {
            partition->entries[op - partition_tail(partition)->op_first].is_faulty = false;
        }
        partition_fault_clear(partition, op);
    }
    repair->callback(repair, result, repair->context);
}

/* Sealed: the index entry read; it must name this very record. */
static int partition_repair_locate(struct partition_repair *repair)
{
    struct partition *partition = repair->partition;
    const struct partition_segment *segment = &partition->segments[repair->segment];
    uint64_t at = (repair->header->u.prepare.op - segment->op_first) * RECORD_INDEX_ENTRY_SIZE;
    uint64_t inside = at - align_down(at);
    struct vsr_header entry;
    uint64_t position = 0;
    if (repair->completion.result < (int64_t)(inside + RECORD_INDEX_ENTRY_SIZE) ||
        record_index_entry_validate(
            repair->buffer + inside, partition->options.record_size_bytes_max,
            &partition->options.group, partition->options.cluster, &entry, &position) != 0) {
        return -RUNNEL_ENOTFOUND;
    }
    if (entry.checksum != repair->header->checksum || entry.size != repair->header->size) {
        return -RUNNEL_EFORMAT;
    }
    repair->position_bytes = position;
    repair->from_bytes = align_down(position);
    repair->span_bytes = align_up(position + entry.size) - repair->from_bytes;
    return repair->span_bytes > repair->buffer_size_bytes ? -RUNNEL_ETOOLARGE : 0;
}

static void partition_repair_io_callback(struct io_completion *completion)
{
    struct partition_repair *repair = completion->context;
    assert(repair != NULL && completion == &repair->completion);
    struct partition *partition = repair->partition;
    const struct vsr_header *header = repair->header;
    int32_t log_file = partition->segments[repair->segment].log_file;
    if (completion->result < 0) {
        partition_repair_finish(repair, (int)completion->result);
        return;
    }
    if (repair->is_entry_step) {
        repair->is_entry_step = false;
        int result = partition_repair_locate(repair);
        if (result != 0) {
            partition_repair_finish(repair, result);
            return;
        }
        io_read(partition->io, completion, log_file, repair->buffer, repair->span_bytes,
                repair->from_bytes, partition_repair_io_callback, repair);
        return;
    }
    if (completion->operation == IO_OPERATION_READ) {
        uint8_t *at = repair->buffer + (repair->position_bytes - repair->from_bytes);
        memcpy(at, header, VSR_HEADER_SIZE);
        memcpy(at + VSR_HEADER_SIZE, repair->body, header->size - VSR_HEADER_SIZE);
        io_write(partition->io, completion, log_file, repair->buffer, repair->span_bytes,
                 repair->from_bytes, partition_repair_io_callback, repair);
        return;
    }
    if (completion->operation == IO_OPERATION_WRITE && partition->options.durability_fsync) {
        io_fdatasync(partition->io, completion, log_file, partition_repair_io_callback, repair);
        return;
    }
    partition_repair_finish(repair, 0);
}

/* The tail buffer may hold (part of) the damaged record, read back at recovery: later
 * flushes rewrite those bytes from memory, so they are patched there too. */
static void partition_repair_patch_memory(struct partition *partition,
                                          const struct partition_entry *entry,
                                          const struct vsr_header *header, const void *body)
{
    uint64_t first = entry->position_bytes;
    uint64_t end = entry->position_bytes + entry->size_bytes;
    first = first > partition->buffer_position_bytes ? first : partition->buffer_position_bytes;
    end = end < partition->appended_bytes ? end : partition->appended_bytes;
    for (uint64_t at = first; at < end; at++) {
        uint64_t inside = at - entry->position_bytes;
        uint8_t byte = inside < VSR_HEADER_SIZE ? ((const uint8_t *)header)[inside]
                                                : ((const uint8_t *)body)[inside - VSR_HEADER_SIZE];
        partition->buffer[at - partition->buffer_position_bytes] = byte;
    }
}

/* Sealed segment: starts with the index entry's sector. */
static int partition_repair_sealed(struct partition *partition, struct partition_repair *repair)
{
    const struct partition_segment *segment = &partition->segments[repair->segment];
    uint64_t at = (repair->header->u.prepare.op - segment->op_first) * RECORD_INDEX_ENTRY_SIZE;
    if (!vsr_header_is_body_valid(repair->header, repair->body)) {
        return -RUNNEL_EFORMAT;
    }
    if (repair->buffer_size_bytes < IO_SECTOR_SIZE) {
        return -RUNNEL_ETOOLARGE;
    }
    repair->is_entry_step = true;
    partition->reads_in_flight++;
    io_read(partition->io, &repair->completion, segment->index_file, repair->buffer, IO_SECTOR_SIZE,
            align_down(at), partition_repair_io_callback, repair);
    return 0;
}

int partition_repair(struct partition *partition, struct partition_repair *repair,
                     const struct vsr_header *header, const void *body, uint8_t *buffer,
                     uint64_t buffer_size_bytes, partition_repair_callback callback, void *context)
{
    assert(partition != NULL && repair != NULL && header != NULL && callback != NULL);
    assert(buffer != NULL && io_is_sector_aligned((uint64_t)(uintptr_t)buffer));
    uint64_t op = header->u.prepare.op;
    int32_t segment = partition_segment_of_op(partition, op);
    if (!partition_is_faulty(partition, op) || segment < 0) {
        return -RUNNEL_ENOTFOUND;
    }
    if (partition->truncate_step != PARTITION_TRUNCATE_IDLE) {
        return -RUNNEL_ESTATE;
    }
    memset(repair, 0, sizeof(*repair));
    repair->partition = partition;
    repair->callback = callback;
    repair->context = context;
    repair->header = header;
    repair->body = body;
    repair->buffer = buffer;
    repair->buffer_size_bytes = buffer_size_bytes;
    repair->segment = (uint32_t)segment;
    if ((uint32_t)segment + 1 < partition->segment_count) {
        return partition_repair_sealed(partition, repair);
    }
    const struct partition_segment *tail = partition_tail(partition);
    struct partition_entry *entry = &partition->entries[op - tail->op_first];
    if (entry->size_bytes == 0) {
        return -RUNNEL_ENOTFOUND; /* position unknown: needs the index entry first */
    }
    if (header->checksum != entry->checksum || header->size != entry->size_bytes ||
        !vsr_header_is_body_valid(header, body)) {
        return -RUNNEL_EFORMAT;
    }
    repair->position_bytes = entry->position_bytes;
    repair->from_bytes = align_down(entry->position_bytes);
    repair->span_bytes = align_up(entry->position_bytes + entry->size_bytes) - repair->from_bytes;
    if (repair->span_bytes > buffer_size_bytes) {
        return -RUNNEL_ETOOLARGE;
    }
    if (repair->from_bytes + repair->span_bytes > align_down(partition->written_bytes) &&
        partition->flush_step != PARTITION_FLUSH_IDLE) {
        return -RUNNEL_ESTATE;
    }
    partition_repair_patch_memory(partition, entry, header, body);
    partition->reads_in_flight++;
    io_read(partition->io, &repair->completion, tail->log_file, buffer, repair->span_bytes,
            repair->from_bytes, partition_repair_io_callback, repair);
    return 0;
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
