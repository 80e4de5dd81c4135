/*
 * Reads and repair of a partition log (storage/partition.h): verified reads of one
 * record by op (tail buffer, tail on disk, sealed segments through their index, a damaged
 * index entry located by its neighbour), tail lookups by offset and timestamp, poll
 * slices, and in-place repair of a faulty record. Runs on the shard that owns the
 * partition; I/O through lib/io.h.
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

static void partition_read_io_callback(struct io_completion *completion);

/* Verifies the record in read->buffer at read->record (the body too unless the read is of
 * a body this process appended: partition.h, "Verification"); marks damage faulty. */
static void partition_read_verify(struct partition *partition, struct partition_read *read,
                                  uint64_t available_bytes, u128 checksum_expected,
                                  const char *path)
{
    const char *reason = "";
    const struct partition_options *options = &partition->options;
    int result =
        read->is_body_trusted
            ? record_validate_header(read->record, available_bytes, options->record_size_bytes_max,
                                     &options->group, options->cluster, &read->header, &reason)
            : record_validate(read->record, available_bytes, options->record_size_bytes_max,
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
    log_warn("partition_index_entry_bad",
             "file=%s position=%" PRIu64 " op=%" PRIu64 " reason=entry_invalid_or_not_this_op",
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
    if (result == -RUNNEL_EFAULTY) {
        /* Neither the entry nor the one before it locates the record: it is listed faulty
         * like a damaged record (covered by the index: written once, never to be nacked). */
        log_warn("partition_record_faulty",
                 "file=%s op=%" PRIu64 " reason=\"index entries of the op and the one before "
                 "are damaged\"",
                 segment->log_path, read->op);
        partition_fault(partition, read->op);
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
int32_t partition_segment_of_op(const struct partition *partition, uint64_t op)
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

/* The first segment above op when op lies between two segments' ops (records lost at the
 * end or the start of a segment, their places unknown: the log is contiguous, so such an
 * op is damaged, never absent), else -1. */
int32_t partition_segment_after_gap(const struct partition *partition, uint64_t op)
{
    const struct partition_segment *tail = &partition->segments[partition->segment_count - 1];
    if (op > partition->op_last || (tail->op_first != UINT64_MAX && op >= tail->op_first) ||
        partition_segment_of_op(partition, op) >= 0) {
        return -1; /* the tail's entries run on from its first op to op_last: no gap there */
    }
    bool is_above_some = false;
    for (uint32_t index = 0; index < partition->segment_count; index++) {
        const struct partition_segment *segment = &partition->segments[index];
        bool is_tail = index + 1 == partition->segment_count;
        uint64_t count = is_tail ? partition->entry_count : segment->entry_count;
        if (segment->op_first == UINT64_MAX || count == 0) {
            continue;
        }
        if (segment->op_first > op) {
            return is_above_some ? (int32_t)index : -1;
        }
        is_above_some = true; /* holds ops below op (none at op: not its segment) */
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
        return partition_segment_after_gap(partition, op) >= 0 ? -RUNNEL_EFAULTY
                                                               : -RUNNEL_ENOTFOUND;
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
    read->is_body_trusted = false; /* bytes read back from disk: the body is verified */
    if (entry->position_bytes >= partition->buffer_position_bytes &&
        entry->position_bytes + entry->size_bytes <= partition->appended_bytes &&
        entry->size_bytes <= buffer_size_bytes) {
        memcpy(buffer,
               partition->buffer + (entry->position_bytes - partition->buffer_position_bytes),
               entry->size_bytes);
        read->record = buffer;
        read->is_body_trusted = entry->is_body_trusted; /* copied from memory it appended */
        partition_read_verify(partition, read, entry->size_bytes, entry->checksum,
                              partition->segments[segment].log_path);
        return 1;
    }
    return partition_read_record(partition, read);
}

const uint8_t *partition_tail_record(const struct partition *partition, uint64_t op,
                                     uint32_t *size_out)
{
    assert(partition != NULL && size_out != NULL);
    int32_t segment = partition_segment_of_op(partition, op);
    if (partition->failed != 0 || segment < 0 ||
        (uint32_t)segment + 1 != partition->segment_count || partition_is_faulty(partition, op)) {
        return NULL;
    }
    const struct partition_entry *entry =
        &partition->entries[op - partition->segments[segment].op_first];
    assert(entry->op == op);
    /* Only a body this process appended is trusted unverified: the buffer's bytes read
     * back from disk (the open's last partial sector) go through partition_read_op. */
    if (entry->is_faulty || !entry->is_body_trusted ||
        entry->position_bytes < partition->buffer_position_bytes ||
        entry->position_bytes + entry->size_bytes > partition->appended_bytes) {
        return NULL;
    }
    const uint8_t *record =
        partition->buffer + (entry->position_bytes - partition->buffer_position_bytes);
    struct vsr_header header;
    memcpy(&header, record, VSR_HEADER_SIZE);
    if (header.checksum != entry->checksum || header.u.prepare.op != op ||
        header.size != entry->size_bytes || !vsr_header_is_checksum_valid(&header)) {
        return NULL; /* partition_read_op verifies it and reports the fault */
    }
    *size_out = entry->size_bytes;
    return record;
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

/* Where the record after one ending at end_bytes starts: right after it, or after the
 * padding record a flush adds up to the sector (partition_write.c), or 0 for a segment's
 * first record (end_bytes UINT64_MAX). Segments hold records back to back from 0. */
static bool partition_repair_is_after(uint64_t end_bytes, uint64_t position_bytes)
{
    if (end_bytes == UINT64_MAX) {
        return position_bytes == 0;
    }
    uint64_t padded = align_up(end_bytes);
    if (padded > end_bytes && padded - end_bytes < VSR_HEADER_SIZE) {
        padded += IO_SECTOR_SIZE;
    }
    assert(padded >= end_bytes);
    return position_bytes == end_bytes || position_bytes == padded;
}

/* A repair never writes where another record lies: an index entry with a valid checksum
 * but a wrong position would make it overwrite an intact, acknowledged record. Logs the
 * refusal; the op stays faulty (VSR keeps it so) rather than another record being lost. */
static int partition_repair_refuse(const struct partition *partition,
                                   const struct partition_repair *repair, const char *reason)
{
    assert(repair->segment < partition->segment_count);
    assert(reason != NULL);
    log_warn("partition_repair_refused",
             "file=%s position=%" PRIu64 " op=%" PRIu64 " reason=\"%s\"",
             partition->segments[repair->segment].log_path, repair->position_bytes,
             repair->header->u.prepare.op, reason);
    return -RUNNEL_EFAULTY;
}

/* Sealed: the index entry of op from the entries read at entries_from (false when it is
 * not there, invalid or of another op). */
static bool partition_repair_entry(const struct partition_repair *repair, uint64_t op,
                                   uint64_t entries_from, struct vsr_header *header_out,
                                   uint64_t *position_out)
{
    const struct partition *partition = repair->partition;
    const struct partition_segment *segment = &partition->segments[repair->segment];
    assert(op >= segment->op_first);
    uint64_t inside = (op - segment->op_first) * RECORD_INDEX_ENTRY_SIZE - entries_from;
    return repair->completion.result >= (int64_t)(inside + RECORD_INDEX_ENTRY_SIZE) &&
           record_index_entry_validate(repair->buffer + inside,
                                       partition->options.record_size_bytes_max,
                                       &partition->options.group, partition->options.cluster,
                                       header_out, position_out) == 0 &&
           header_out->u.prepare.op == op;
}

/* Sealed: the index read starts at the previous entry's sector (it checks the record's
 * place), and runs to the next entry's. */
static uint64_t partition_repair_entries_from(const struct partition_segment *segment, uint64_t op)
{
    assert(op >= segment->op_first);
    uint64_t at = (op - segment->op_first) * RECORD_INDEX_ENTRY_SIZE;
    return align_down(op > segment->op_first ? at - RECORD_INDEX_ENTRY_SIZE : at);
}

/* Sealed: the record's place must follow the previous entry's record and end before the
 * next entry's (when those entries are intact). */
static int partition_repair_check_sealed(struct partition_repair *repair, uint64_t entries_from)
{
    struct partition *partition = repair->partition;
    const struct partition_segment *segment = &partition->segments[repair->segment];
    uint64_t op = repair->header->u.prepare.op;
    struct vsr_header neighbour;
    uint64_t position = 0;
    uint64_t end = UINT64_MAX;
    if (op > segment->op_first) {
        if (!partition_repair_entry(repair, op - 1, entries_from, &neighbour, &position)) {
            return partition_repair_refuse(partition, repair, "previous index entry unusable");
        }
        end = position + neighbour.size;
    }
    if (!partition_repair_is_after(end, repair->position_bytes)) {
        return partition_repair_refuse(partition, repair,
                                       "entry's position is not right after the previous record");
    }
    if (partition_repair_entry(repair, op + 1, entries_from, &neighbour, &position) &&
        repair->position_bytes + repair->header->size > position) {
        return partition_repair_refuse(partition, repair, "entry's span overlaps the next record");
    }
    return 0;
}

/* Sealed: the index entry read; it must name this very record. */
static int partition_repair_locate(struct partition_repair *repair)
{
    struct partition *partition = repair->partition;
    const struct partition_segment *segment = &partition->segments[repair->segment];
    uint64_t op = repair->header->u.prepare.op;
    uint64_t entries_from = partition_repair_entries_from(segment, op);
    struct vsr_header entry;
    uint64_t position = 0;
    if (!partition_repair_entry(repair, op, entries_from, &entry, &position)) {
        return -RUNNEL_ENOTFOUND;
    }
    if (entry.checksum != repair->header->checksum || entry.size != repair->header->size) {
        return -RUNNEL_EFORMAT;
    }
    repair->position_bytes = position;
    int result = partition_repair_check_sealed(repair, entries_from);
    if (result != 0) {
        return result;
    }
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

/* Tail: entry index's record must start right after the previous entry's record (a
 * previous one of unknown place: refused) and overlap no other record whose place is
 * known. */
static bool partition_repair_tail_fits(const struct partition *partition, uint32_t index)
{
    assert(index < partition->entry_count);
    const struct partition_entry *entry = &partition->entries[index];
    assert(entry->size_bytes > 0);
    const struct partition_entry *previous = index > 0 ? &partition->entries[index - 1] : NULL;
    if ((previous != NULL && previous->size_bytes == 0) ||
        !partition_repair_is_after(
            previous != NULL ? previous->position_bytes + previous->size_bytes : UINT64_MAX,
            entry->position_bytes)) {
        return false;
    }
    uint64_t end = entry->position_bytes + entry->size_bytes;
    for (uint32_t other = 0; other < partition->entry_count; other++) {
        const struct partition_entry *known = &partition->entries[other];
        if (other != index && known->size_bytes > 0 && known->position_bytes < end &&
            entry->position_bytes < known->position_bytes + known->size_bytes) {
            return false;
        }
    }
    return true;
}

/* Sealed segment: starts with the index entry's sector. */
static int partition_repair_sealed(struct partition *partition, struct partition_repair *repair)
{
    const struct partition_segment *segment = &partition->segments[repair->segment];
    uint64_t op = repair->header->u.prepare.op;
    uint64_t at = (op - segment->op_first) * RECORD_INDEX_ENTRY_SIZE;
    /* The entry with its neighbours: they check the record's place (at most 2 sectors). */
    uint64_t from = partition_repair_entries_from(segment, op);
    uint64_t size = align_up(at + 2 * RECORD_INDEX_ENTRY_SIZE) - from;
    if (!vsr_header_is_body_valid(repair->header, repair->body)) {
        return -RUNNEL_EFORMAT;
    }
    if (repair->buffer_size_bytes < size) {
        return -RUNNEL_ETOOLARGE;
    }
    repair->is_entry_step = true;
    partition->reads_in_flight++;
    io_read(partition->io, &repair->completion, segment->index_file, repair->buffer, size, from,
            partition_repair_io_callback, repair);
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
    const struct partition_segment *tail = &partition->segments[partition->segment_count - 1];
    struct partition_entry *entry = &partition->entries[op - tail->op_first];
    if (entry->size_bytes == 0) {
        return -RUNNEL_ENOTFOUND; /* position unknown: needs the index entry first */
    }
    if (header->checksum != entry->checksum || header->size != entry->size_bytes ||
        !vsr_header_is_body_valid(header, body)) {
        return -RUNNEL_EFORMAT;
    }
    repair->position_bytes = entry->position_bytes;
    if (!partition_repair_tail_fits(partition, (uint32_t)(op - tail->op_first))) {
        return partition_repair_refuse(partition, repair,
                                       "entry's position is not between its neighbours' records");
    }
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
