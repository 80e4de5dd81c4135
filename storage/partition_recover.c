/*
 * Recovery of a partition log at open (storage/partition.h): sealed segments' summaries
 * (first op, entry count, timestamps), rebuilding a missing, torn or disagreeing sealed
 * index from its log, and the tail segment's recovery (its index, then the records from
 * the last durable entry on: torn records cut, damaged durable ones listed faulty).
 * Synchronous (io_wait): start-up and truncation only. Runs on the shard that owns the
 * partition.
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

enum { PARTITION_BASE_ENTRIES_MAX = 64, PARTITION_BASE_CANDIDATES = 4 };

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

static bool partition_is_zero(const uint8_t *bytes, uint64_t size_bytes)
{
    assert(bytes != NULL);
    for (uint64_t index = 0; index < size_bytes; index++) {
        if (bytes[index] != 0) {
            return false;
        }
    }
    return true;
}

/* A sealed segment's entry count: up to its index's last valid entry (the file is
 * sector-rounded, so its size alone overcounts; what follows that entry must be zeros). */
static void partition_sealed_count(struct partition *partition, struct partition_segment *segment)
{
    struct io_completion completion = {0};
    segment->entry_count = 0;
    segment->timestamp_first = 0;
    segment->timestamp_last = UINT64_MAX;
    segment->size_bytes = 0;
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
    uint64_t garbage = 0; /* entries after the last valid one that are not zeros */
    for (uint64_t index = read / RECORD_INDEX_ENTRY_SIZE; index > 0; index--) {
        const uint8_t *bytes = partition->buffer + (index - 1) * RECORD_INDEX_ENTRY_SIZE;
        if (record_index_entry_validate(bytes, partition->options.record_size_bytes_max,
                                        &partition->options.group, partition->options.cluster,
                                        &header, &position) == 0) {
            segment->entry_count = (uint32_t)(last_sector / RECORD_INDEX_ENTRY_SIZE + index);
            segment->timestamp_last = header.u.prepare.timestamp;
            segment->size_bytes = position + header.size;
            if (garbage > 0) {
                log_warn("partition_index_entry_bad",
                         "file=%s position=%" PRIu64 " reason=garbage_after_last_entry",
                         segment->index_path, last_sector + index * RECORD_INDEX_ENTRY_SIZE);
            }
            return;
        }
        garbage += partition_is_zero(bytes, RECORD_INDEX_ENTRY_SIZE) ? 0 : 1;
    }
    log_warn("partition_index_entry_bad", "file=%s position=%" PRIu64 " reason=last_sector",
             segment->index_path, last_sector);
}

/* The header of a sealed segment's first record (read from its log), when intact. */
static bool partition_sealed_first_record(struct partition *partition,
                                          struct partition_segment *segment,
                                          struct vsr_header *header_out, const char **reason)
{
    uint64_t read = 0;
    if (partition_read_sync(partition, segment->log_file, partition->buffer, IO_SECTOR_SIZE, 0,
                            &read) != 0 ||
        read < VSR_HEADER_SIZE) {
        *reason = "first record unreadable";
        return false;
    }
    memcpy(header_out, partition->buffer, VSR_HEADER_SIZE);
    return vsr_header_validate(header_out, partition->options.record_size_bytes_max, reason) == 0 &&
           header_out->command == VSR_COMMAND_PREPARE && record_is_chained(header_out) &&
           vsr_group_is_equal(&header_out->group, &partition->options.group);
}

/* True when the log's next chained record after first (past padding) names first as its
 * parent: first is the segment's own first record, not one a misdirected write put there
 * (that one's successor is chained to the record it replaced). */
static bool partition_sealed_first_is_parent(struct partition *partition,
                                             struct partition_segment *segment,
                                             const struct vsr_header *first)
{
    uint64_t read = 0;
    if (partition_read_sync(partition, segment->log_file, partition->buffer,
                            partition->options.buffer_size_bytes, 0, &read) != 0) {
        return false;
    }
    uint64_t position = first->size;
    for (uint64_t guard = 0; guard <= read / VSR_HEADER_SIZE && position + VSR_HEADER_SIZE <= read;
         guard++) {
        struct vsr_header header;
        const char *reason = NULL;
        if (record_validate_header(partition->buffer + position, read - position,
                                   partition->options.record_size_bytes_max,
                                   &partition->options.group, partition->options.cluster, &header,
                                   &reason) != 0) {
            return false;
        }
        if (record_is_chained(&header)) {
            return header.u.prepare.op == first->u.prepare.op + 1 &&
                   header.u.prepare.parent == first->checksum;
        }
        position += header.size; /* padding */
    }
    return false;
}

/* Reads a sealed segment's first index entry for its first op and its entry count. When
 * the entry and the log's first record disagree, the one naming op_expected (the previous
 * segment's end; UINT64_MAX: unknown) wins; when neither does, the record wins if it names
 * the lower op and the log's next record is chained to it (a misdirected entry is most
 * often a later segment's; a later segment's records misdirected here, a flush of several,
 * name the higher op and may be chained among themselves), else the entry. A record that
 * wins makes the index rebuilt from the log. */
void partition_sealed_load(struct partition *partition, struct partition_segment *segment,
                           uint64_t op_expected)
{
    uint64_t read = 0;
    struct vsr_header header;
    struct vsr_header record;
    uint64_t position = 0;
    partition_sealed_count(partition, segment);
    bool has_entry =
        partition_read_sync(partition, segment->index_file, partition->buffer, IO_SECTOR_SIZE, 0,
                            &read) == 0 &&
        read >= RECORD_INDEX_ENTRY_SIZE &&
        record_index_entry_validate(partition->buffer, partition->options.record_size_bytes_max,
                                    &partition->options.group, partition->options.cluster, &header,
                                    &position) == 0;
    const char *reason = "first index entry and first record header invalid";
    bool has_record = partition_sealed_first_record(partition, segment, &record, &reason);
    if (has_entry && has_record && record.checksum != header.checksum) {
        log_warn("partition_index_disagrees",
                 "file=%s position=0 reason=\"first entry names op %" PRIu64
                 ", the log's first record op %" PRIu64 "\"",
                 segment->index_path, header.u.prepare.op, record.u.prepare.op);
        has_entry =
            record.u.prepare.op != op_expected &&
            (header.u.prepare.op == op_expected || record.u.prepare.op >= header.u.prepare.op ||
             !partition_sealed_first_is_parent(partition, segment, &record));
    }
    if (has_entry) {
        segment->op_first = header.u.prepare.op;
        segment->timestamp_first = header.u.prepare.timestamp;
        if (header.u.prepare.offset != segment->base_offset) {
            log_warn("partition_segment_base_mismatch",
                     "file=%s position=0 reason=\"first record's offset %" PRIu64
                     " is not the base offset in the name\"",
                     segment->log_path, header.u.prepare.offset);
        }
        return;
    }
    segment->is_index_damaged = true;
    if (has_record) { /* the first record's header names the first op */
        segment->op_first = record.u.prepare.op;
        log_warn("partition_index_entry_bad", "file=%s position=0 reason=first_entry_not_used",
                 segment->index_path);
        return;
    }
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
    uint64_t op_end;  /* the next segment's first op (UINT64_MAX: unknown): none at or above */
    u128 checksum_last;
    uint64_t log_size_bytes;
    uint64_t chunk_position_bytes;
    uint64_t chunk_size_bytes;
    uint64_t op_first;              /* the op of entry 0 (an intact record's or a damaged one's) */
    bool has_header_first;          /* header_first is set */
    struct vsr_header header_first; /* the first intact record's header */
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
                                 const struct vsr_header *header, uint64_t position_bytes,
                                 uint64_t op)
{
    assert(header == NULL || header->u.prepare.op == op);
    if (rebuild->count == partition->options.index_entries_max) {
        return -RUNNEL_EFULL;
    }
    if (rebuild->count == 0) {
        rebuild->op_first = op; /* a damaged first record still names the segment's first op */
    }
    uint8_t *slot = partition->index_write_buffer +
                    (uint64_t)(rebuild->count - rebuild->staged_first) * RECORD_INDEX_ENTRY_SIZE;
    if (header != NULL) {
        record_index_entry_init((struct record_index_entry *)(void *)slot, header, position_bytes);
        if (!rebuild->has_header_first) {
            rebuild->header_first = *header;
            rebuild->has_header_first = true;
        }
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
    if (op >= rebuild->op_end) {
        *next_out = 0; /* a later segment's record misdirected here: keep looking */
        return 0;
    }
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
        int result = partition_rebuild_add(partition, rebuild, NULL, 0, missing);
        if (result != 0) {
            return result;
        }
    }
    rebuild->has_chain = true;
    rebuild->op_next = op + 1;
    rebuild->checksum_last = header->checksum;
    return partition_rebuild_add(partition, rebuild, header, position, op);
}

/* Rebuilds a segment's index from its log, durably: a sealed one at start-up, or the one a
 * suffix truncation cuts (its log durable, the tail buffer free). A record naming op_end
 * (the next segment's first op; UINT64_MAX: unknown) or above is not this segment's: taken,
 * a later segment's record misdirected here listed every op below it faulty (runnel-sim
 * --storage --storage-misdirect --seed 10067: ops 8-71 of a segment holding 1-23, which
 * overflowed the faulty list and failed the open). */
int partition_rebuild_index(struct partition *partition, struct partition_segment *segment,
                            uint64_t op_end)
{
    struct partition_rebuild rebuild;
    memset(&rebuild, 0, sizeof(rebuild));
    rebuild.segment = segment;
    rebuild.op_end = op_end;
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
    assert(rebuild.has_header_first); /* a NULL entry is only added before an intact one */
    segment->op_first = rebuild.op_first;
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

/* True when the index entry at slot (its header in header, its record's position) names
 * the record this segment's log holds there. */
static bool partition_sealed_entry_checks(struct partition *partition,
                                          struct partition_segment *segment,
                                          const struct vsr_header *header, uint64_t position)
{
    uint64_t read = 0;
    uint64_t start = align_down(position);
    if (partition_read_sync(partition, segment->log_file, partition->buffer, 2 * IO_SECTOR_SIZE,
                            start, &read) != 0 ||
        read < position - start + VSR_HEADER_SIZE) {
        return false;
    }
    struct vsr_header record;
    const char *reason = NULL;
    return record_validate_header(partition->buffer + (position - start), read - (position - start),
                                  partition->options.record_size_bytes_max,
                                  &partition->options.group, partition->options.cluster, &record,
                                  &reason) == 0 &&
           record.checksum == header->checksum;
}

/*
 * A sealed segment's first op as its index entries say, each checked against the log: the
 * entry at slot i naming op X, whose record the log holds at the entry's position, says
 * the segment begins at X - i. Returns the lowest first op such entries (of the first
 * PARTITION_BASE_ENTRIES_MAX) name, or UINT64_MAX when none checks. An entry written to a
 * lower slot than its own (a misdirected flush of the index; seed 3490 with
 * --storage-flips: ops 5-15's entries at slots 0-10) names a higher first op, one at a
 * higher slot a first op below the log's start (not an op) or inside the segment before
 * (which the caller's bounds exclude). Unlike the first record or the first entry alone,
 * this survives damage to the segment's first records (a flush of its own later records
 * misdirected over them: the rebuild began at the first intact record and the ops below
 * were lost to the log, runnel-sim --storage --storage-misdirect --seed 5583).
 */
static uint64_t partition_sealed_checked_first(struct partition *partition,
                                               struct partition_segment *segment)
{
    uint64_t lowest = UINT64_MAX;
    uint32_t entries = segment->entry_count < partition->options.index_entries_max
                           ? segment->entry_count
                           : partition->options.index_entries_max;
    for (uint32_t slot = 0; slot < entries && slot < PARTITION_BASE_ENTRIES_MAX; slot++) {
        uint64_t read = 0;
        struct vsr_header header;
        uint64_t position = 0;
        if (partition_read_sync(partition, segment->index_file, partition->index_write_buffer,
                                RECORD_INDEX_ENTRY_SIZE, (uint64_t)slot * RECORD_INDEX_ENTRY_SIZE,
                                &read) != 0 ||
            read < RECORD_INDEX_ENTRY_SIZE ||
            record_index_entry_validate(
                partition->index_write_buffer, partition->options.record_size_bytes_max,
                &partition->options.group, partition->options.cluster, &header, &position) != 0 ||
            header.u.prepare.op <= slot ||
            !partition_sealed_entry_checks(partition, segment, &header, position)) {
            continue;
        }
        uint64_t base = header.u.prepare.op - slot;
        lowest = base < lowest ? base : lowest;
    }
    return lowest;
}

/* Rebuilds every sealed index that is missing, torn, damaged at its first entry, or whose
 * entry count disagrees with the next segment's first op. listed includes the tail. */
int partition_rebuild_sealed(struct partition *partition, uint32_t listed)
{
    for (uint32_t index = 0; index + 1 < listed; index++) {
        struct partition_segment *segment = &partition->segments[index];
        uint64_t next_first = partition_op_first_hint(partition, index);
        bool disagrees = next_first != UINT64_MAX && segment->op_first != UINT64_MAX &&
                         segment->op_first + segment->entry_count != next_first;
        if (segment->entry_count > 0 && !segment->is_index_damaged && !disagrees) {
            continue;
        }
        uint64_t checked = partition_sealed_checked_first(partition, segment);
        uint64_t floor = index > 0 && partition->segments[index - 1].op_first != UINT64_MAX
                             ? partition->segments[index - 1].op_first +
                                   partition->segments[index - 1].entry_count
                             : 1;
        bool is_known = segment->op_first != UINT64_MAX &&
                        (next_first == UINT64_MAX || segment->op_first < next_first);
        if (checked != UINT64_MAX && checked >= floor &&
            (next_first == UINT64_MAX || checked < next_first) &&
            (!is_known || checked < segment->op_first)) {
            segment->op_first = checked; /* the ops below the first intact record are faulty */
        } else if (disagrees && segment->op_first >= next_first) {
            /* A first op at or past the next segment's cannot be this one's (a later
             * segment's entry misdirected to its slot 0 won over a first record whose
             * successor is damaged): the rebuild takes the log's first chained record. */
            segment->op_first = UINT64_MAX;
        }
        log_warn("partition_index_damaged",
                 "file=%s position=%" PRIu64 " entries=%" PRIu32 " reason=%s", segment->index_path,
                 (uint64_t)segment->entry_count * RECORD_INDEX_ENTRY_SIZE, segment->entry_count,
                 disagrees ? "entry_count_vs_next_segment" : "missing_or_torn");
        int result = partition_rebuild_index(partition, segment, next_first);
        if (result != 0) {
            return result;
        }
    }
    return 0;
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
    uint64_t op_base;    /* the op entry 0 holds: entry i holds op_base + i (UINT64_MAX: unknown) */
    uint32_t bad_first;  /* the first entry neither valid nor zeros (UINT32_MAX: none) */
    uint64_t bases[PARTITION_BASE_CANDIDATES]; /* op_base candidates, with their votes */
    uint32_t votes[PARTITION_BASE_CANDIDATES];
};

void partition_entry_set(struct partition_entry *entry, const struct vsr_header *header,
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
    entry->is_body_trusted = false;
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
        bool is_bad = !partition_is_zero(bytes, RECORD_INDEX_ENTRY_SIZE);
        recovery->bad_first = is_bad && index < recovery->bad_first ? index : recovery->bad_first;
        return;
    }
    uint64_t op = header.u.prepare.op;
    recovery->op_base =
        recovery->op_base == UINT64_MAX && op >= index ? op - index : recovery->op_base;
    if (recovery->op_base == UINT64_MAX || op != recovery->op_base + index) {
        /* A well-formed entry of another slot (misdirected or stale): not trusted. */
        log_warn("partition_index_disagrees",
                 "file=%s position=%" PRIu64 " op=%" PRIu64 " reason=entry_op_not_its_slot",
                 partition_tail(partition)->index_path, (uint64_t)index * RECORD_INDEX_ENTRY_SIZE,
                 op);
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

/* Counts entry i's vote for op_base (a valid entry naming op says op - i). */
static void partition_recover_vote(struct partition *partition, struct partition_recovery *recovery,
                                   uint32_t index, const uint8_t *bytes)
{
    struct vsr_header header;
    uint64_t position = 0;
    const struct partition_options *options = &partition->options;
    if (record_index_entry_validate(bytes, options->record_size_bytes_max, &options->group,
                                    options->cluster, &header, &position) != 0 ||
        position >= options->segment_size_bytes || header.u.prepare.op < index) {
        return;
    }
    uint64_t base = header.u.prepare.op - index;
    for (uint32_t at = 0; at < PARTITION_BASE_CANDIDATES; at++) {
        if (recovery->votes[at] == 0 || recovery->bases[at] == base) {
            recovery->bases[at] = base;
            recovery->votes[at]++;
            return;
        }
    }
}

typedef void (*partition_recover_entry_fn)(struct partition *partition,
                                           struct partition_recovery *recovery, uint32_t index,
                                           const uint8_t *bytes);

/* Reads the tail index's first entry_total entries in chunks, calling fn on each. */
static int partition_recover_index_pass(struct partition *partition,
                                        struct partition_recovery *recovery, uint64_t entry_total,
                                        partition_recover_entry_fn fn)
{
    struct partition_segment *tail = partition_tail(partition);
    uint64_t chunk_entries = partition->options.buffer_size_bytes / RECORD_INDEX_ENTRY_SIZE;
    for (uint64_t first = 0; first < entry_total; first += chunk_entries) {
        uint64_t count = entry_total - first < chunk_entries ? entry_total - first : chunk_entries;
        uint64_t read = 0;
        int result = partition_read_sync(partition, tail->index_file, partition->buffer,
                                         align_up(count * RECORD_INDEX_ENTRY_SIZE),
                                         first * RECORD_INDEX_ENTRY_SIZE, &read);
        if (result != 0) {
            return result;
        }
        for (uint64_t index = 0; index < count && (index + 1) * RECORD_INDEX_ENTRY_SIZE <= read;
             index++) {
            fn(partition, recovery, (uint32_t)(first + index),
               partition->buffer + index * RECORD_INDEX_ENTRY_SIZE);
        }
    }
    return 0;
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
    /* Entry 0 alone does not name op_base: a misdirected entry there made every intact
     * entry after it "not its slot", and the tail began at its op, the ops below lost to
     * the log (runnel-sim --storage --storage-flips --storage-misdirect --seed 2216). */
    if (recovery->op_base == UINT64_MAX) { /* else the sealed chain names it */
        int vote_result =
            partition_recover_index_pass(partition, recovery, entry_total, partition_recover_vote);
        if (vote_result != 0) {
            return vote_result;
        }
        uint32_t best = 0;
        for (uint32_t at = 1; at < PARTITION_BASE_CANDIDATES; at++) {
            best = recovery->votes[at] > recovery->votes[best] ? at : best;
        }
        recovery->op_base = recovery->votes[best] > 0 ? recovery->bases[best] : UINT64_MAX;
    }
    int read_result =
        partition_recover_index_pass(partition, recovery, entry_total, partition_recover_entry);
    if (read_result != 0) {
        return read_result;
    }
    if (recovery->bad_first != UINT32_MAX) { /* entries are written whole: not a crash */
        log_warn("partition_index_entry_bad",
                 "file=%s position=%" PRIu64 " reason=entry_neither_valid_nor_zeros",
                 tail->index_path, (uint64_t)recovery->bad_first * RECORD_INDEX_ENTRY_SIZE);
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

/* Checks the record of the prefix's last entry (the scan resumes from it). When it is not
 * where the entry says but right after the previous entry's record (past padding), the
 * entry's position is what is damaged: the entry leaves the prefix, and the scan re-adds
 * the record from the log and rewrites the entry. */
static int partition_recover_prefix_check(struct partition *partition,
                                          struct partition_recovery *recovery)
{
    if (recovery->prefix_count == 0) {
        return 0;
    }
    uint32_t last = recovery->prefix_count - 1;
    const struct partition_entry *entry = &partition->entries[last];
    const struct partition_entry *previous = last > 0 ? &partition->entries[last - 1] : NULL;
    uint64_t position = previous != NULL ? previous->position_bytes + previous->size_bytes : 0;
    bool is_chain_known = partition->is_chain_known;
    partition->is_chain_known = false; /* checksums decide here, not the chain */
    struct vsr_header header;
    const char *reason = "";
    int check =
        partition_recover_check(partition, recovery, entry->position_bytes, &header, &reason);
    bool is_found = check == 0 && header.checksum == entry->checksum;
    for (uint32_t step = 0; check >= 0 && !is_found && step < 2; step++) {
        check = partition_recover_check(partition, recovery, position, &header, &reason);
        if (check != 0 || (record_is_chained(&header) && header.checksum != entry->checksum)) {
            break;
        }
        if (header.checksum == entry->checksum && position != entry->position_bytes) {
            log_warn("partition_index_disagrees",
                     "file=%s position=%" PRIu64 " op=%" PRIu64
                     " reason=\"entry says the record is at %" PRIu64 ", the log has it at %" PRIu64
                     "\"",
                     partition_tail(partition)->index_path,
                     (uint64_t)last * RECORD_INDEX_ENTRY_SIZE, entry->op, entry->position_bytes,
                     position);
            recovery->prefix_count = last;
            break;
        }
        position += header.size; /* padding */
    }
    partition->is_chain_known = is_chain_known;
    return check < 0 ? check : 0;
}

void partition_chain_advance(struct partition *partition, const struct vsr_header *header)
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

/* Reads the last entry of sealed segment into header_out: 0 (*is_last_out: valid and naming
 * the segment's last op) or an I/O error. */
static int partition_sealed_last_entry(struct partition *partition,
                                       const struct partition_segment *sealed,
                                       struct vsr_header *header_out, bool *is_last_out)
{
    assert(sealed->entry_count > 0);
    *is_last_out = false;
    uint64_t at = (uint64_t)(sealed->entry_count - 1) * RECORD_INDEX_ENTRY_SIZE;
    uint64_t read = 0;
    uint64_t position = 0;
    int result = partition_read_sync(partition, sealed->index_file, partition->buffer,
                                     IO_SECTOR_SIZE, align_down(at), &read);
    if (result != 0) {
        return result;
    }
    *is_last_out =
        read >= at - align_down(at) + RECORD_INDEX_ENTRY_SIZE &&
        record_index_entry_validate(
            partition->buffer + (at - align_down(at)), partition->options.record_size_bytes_max,
            &partition->options.group, partition->options.cluster, header_out, &position) == 0 &&
        (sealed->op_first == UINT64_MAX ||
         header_out->u.prepare.op == sealed->op_first + sealed->entry_count - 1);
    return 0;
}

/* Chain state from the previous segment's last entry when the tail segment is empty. An
 * entry that is damaged or not the segment's last op (a misdirected write replaced it after
 * the segment was loaded, e.g. a rebuild's of another index) would leave the chain unknown
 * or restart it at another op and cut the tail there: the segment's index is rebuilt from
 * its log and read again once; still not the last op, the chain stays unknown. */
static int partition_recover_chain_from_sealed(struct partition *partition)
{
    if (partition->segment_count < 2) {
        return 0;
    }
    struct partition_segment *sealed = &partition->segments[partition->segment_count - 2];
    for (uint32_t attempt = 0; attempt < 2 && sealed->entry_count > 0; attempt++) {
        struct vsr_header header;
        bool is_last = false;
        /* An I/O error fails the open (a guessed chain would restart the ops at 1). */
        int result = partition_sealed_last_entry(partition, sealed, &header, &is_last);
        if (result != 0) {
            return result;
        }
        if (is_last) {
            partition_chain_advance(partition, &header);
            return 0;
        }
        if (attempt == 0) {
            log_warn("partition_index_entry_bad",
                     "file=%s position=%" PRIu64 " reason=last_entry_not_the_last_op",
                     sealed->index_path,
                     (uint64_t)(sealed->entry_count - 1) * RECORD_INDEX_ENTRY_SIZE);
            result = partition_rebuild_index(partition, sealed, UINT64_MAX);
            if (result != 0) {
                return result;
            }
        }
    }
    return 0;
}

/* Faulty ops with no usable entry up to entry index (valid: durable, its header and
 * record position), then its record. */
static int partition_recover_to_entry(struct partition *partition,
                                      struct partition_recovery *recovery, uint32_t index,
                                      const struct vsr_header *durable, uint64_t durable_position,
                                      uint64_t *position)
{
    uint64_t op_durable = durable->u.prepare.op;
    /* With the chain unknown the entries name the ops: entry i holds op_base + i (a rebuilt
     * index begins with zero entries when the segment's first records are damaged). */
    uint64_t op_next = partition->is_chain_known ? partition->op_last + 1
                       : recovery->op_base != UINT64_MAX
                           ? recovery->op_base + partition->entry_count
                           : op_durable;
    if (op_next > op_durable || op_durable - op_next != index - partition->entry_count) {
        log_warn("partition_index_disagrees", "file=%s entry=%" PRIu32 " reason=op_gap",
                 partition_tail(partition)->index_path, index);
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
    int check = partition_recover_check(partition, recovery, durable_position, &header, &reason);
    if (check < 0) {
        return check;
    }
    int result = partition_recover_add(partition, durable, op_durable, durable_position);
    if (result != 0) {
        return result;
    }
    if (check != 0 || header.checksum != durable->checksum) {
        log_warn("partition_record_faulty",
                 "file=%s position=%" PRIu64 " op=%" PRIu64 " reason=\"%s\"",
                 partition_tail(partition)->log_path, durable_position, op_durable,
                 check ? reason : "index mismatch");
        partition_fault(partition, op_durable);
        partition->entries[partition->entry_count - 1].is_faulty = true;
    }
    partition_chain_advance(partition, durable);
    *position = durable_position + durable->size;
    return 0;
}

/* The log broke at entry entry_count (a damaged, missing or misdirected record): resumes
 * at the first valid entry from there on (the durable one at the latest), read again from
 * the index, with the ops before it faulty. */
static int partition_recover_resume(struct partition *partition,
                                    struct partition_recovery *recovery, uint64_t *position)
{
    const struct partition_options *options = &partition->options;
    struct partition_segment *tail = partition_tail(partition);
    recovery->chunk_position_bytes = UINT64_MAX / 2; /* the buffer holds index bytes now */
    uint64_t from = 0;
    uint64_t read = 0;
    for (uint32_t index = partition->entry_count; index < recovery->durable_index; index++) {
        uint64_t at = (uint64_t)index * RECORD_INDEX_ENTRY_SIZE;
        if (at < from || at + RECORD_INDEX_ENTRY_SIZE > from + read) {
            from = align_down(at);
            int result = partition_read_sync(partition, tail->index_file, partition->buffer,
                                             options->buffer_size_bytes, from, &read);
            if (result != 0) {
                return result;
            }
        }
        struct vsr_header header;
        uint64_t record_position = 0;
        if (at + RECORD_INDEX_ENTRY_SIZE <= from + read &&
            record_index_entry_validate(partition->buffer + (at - from),
                                        options->record_size_bytes_max, &options->group,
                                        options->cluster, &header, &record_position) == 0 &&
            record_position < options->segment_size_bytes && recovery->op_base != UINT64_MAX &&
            header.u.prepare.op == recovery->op_base + index) {
            recovery->chunk_position_bytes = UINT64_MAX / 2;
            return partition_recover_to_entry(partition, recovery, index, &header, record_position,
                                              position);
        }
    }
    recovery->chunk_position_bytes = UINT64_MAX / 2;
    return partition_recover_to_entry(partition, recovery, recovery->durable_index,
                                      &recovery->durable_header, recovery->durable_position_bytes,
                                      position);
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
        /* With the chain unknown, a record that is not its entry's op (a misdirected copy
         * at the front of the log) begins nothing: the entries decide. */
        bool is_slot_op = partition->is_chain_known || recovery->op_base == UINT64_MAX ||
                          header.u.prepare.op == recovery->op_base + partition->entry_count;
        if (check == 0 && is_slot_op &&
            (!is_durable_slot || header.checksum == recovery->durable_header.checksum)) {
            if (is_durable_slot && position != recovery->durable_position_bytes) {
                log_warn("partition_index_disagrees",
                         "file=%s position=%" PRIu64 " reason=\"entry's record position %" PRIu64
                         " is not where the log has it\"",
                         partition_tail(partition)->index_path,
                         (uint64_t)recovery->durable_index * RECORD_INDEX_ENTRY_SIZE,
                         recovery->durable_position_bytes);
            }
            result = partition_recover_add(partition, &header, header.u.prepare.op, position);
            partition_chain_advance(partition, &header);
            position += header.size;
        } else if (recovery->has_durable && recovery->durable_index >= partition->entry_count) {
            result = partition_recover_resume(partition, recovery, &position);
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
    if (partition->entry_count > 0 && !partition->entries[0].is_faulty &&
        partition->entries[0].offset != tail->base_offset) {
        log_warn("partition_segment_base_mismatch",
                 "file=%s position=%" PRIu64 " reason=\"first record's offset %" PRIu64
                 " is not the base offset in the name\"",
                 tail->log_path, partition->entries[0].position_bytes,
                 partition->entries[0].offset);
    }
    return 0;
}

int partition_recover_tail(struct partition *partition)
{
    struct partition_recovery recovery;
    memset(&recovery, 0, sizeof(recovery));
    partition->entry_count = 0;
    partition->is_chain_known = false;
    partition->op_last = 0;
    partition->offset_next = partition_tail(partition)->base_offset;
    int result = partition_recover_chain_from_sealed(partition);
    if (result != 0) {
        return result;
    }
    if (partition->segment_count > 1 && !partition->is_chain_known) {
        log_warn("partition_chain_unknown", "file=%s reason=\"previous segment's last entry\"",
                 partition->segments[partition->segment_count - 2].index_path);
    }
    recovery.op_base = partition->is_chain_known ? partition->op_last + 1 : UINT64_MAX;
    recovery.bad_first = UINT32_MAX;
    recovery.chunk_position_bytes = UINT64_MAX / 2;
    result = partition_recover_index(partition, &recovery);
    if (result == 0) {
        result = partition_recover_prefix_check(partition, &recovery);
    }
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
    uint64_t end = 0;
    result = partition_recover_scan(partition, &recovery, &end);
    if (result == 0 && partition->faulty_ops_overflow > 0) {
        result = -RUNNEL_EFULL;
    }
    partition_recover_chain_from_checkpoint(partition);
    return result != 0 ? result : partition_recover_finish(partition, end);
}
