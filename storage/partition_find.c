/*
 * Offset and timestamp lookups across a partition's segments (storage/partition_find.h):
 * the segment from the in-memory summary, then a binary search over its index sectors and
 * a short forward scan, each entry verified. Owns nothing beyond the caller's struct
 * partition_find; runs on the shard that owns the partition; I/O through lib/io.h.
 */
#include "storage/partition_find.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <inttypes.h>
#include <string.h>

enum {
    PARTITION_FIND_PER_SECTOR = IO_SECTOR_SIZE / RECORD_INDEX_ENTRY_SIZE,
    PARTITION_FIND_STEPS_MAX = 4096, /* 64 binary steps and a forward scan, at most */
};

struct partition_find_sector {
    uint32_t count;
    struct partition_entry entries[PARTITION_FIND_PER_SECTOR];
};

static void partition_find_io_callback(struct io_completion *completion);

static uint64_t partition_find_sector_count(const struct partition_segment *segment)
{
    assert(segment != NULL);
    return ((uint64_t)segment->entry_count + PARTITION_FIND_PER_SECTOR - 1) /
           PARTITION_FIND_PER_SECTOR;
}

static bool partition_find_is_tail(const struct partition_find *find)
{
    assert(find->segment < find->partition->segment_count);
    return find->segment + 1 == find->partition->segment_count;
}

/* Parses and verifies the entries of sector; a damaged one (bad checksum, or not the op
 * its slot names) is marked is_faulty. 0, or -RUNNEL_EFAULTY when none is usable. */
static int partition_find_parse(struct partition_find *find, uint64_t sector, int64_t read_bytes,
                                struct partition_find_sector *out)
{
    const struct partition *partition = find->partition;
    const struct partition_segment *segment = &partition->segments[find->segment];
    uint64_t first = sector * PARTITION_FIND_PER_SECTOR;
    assert(first < segment->entry_count);
    uint64_t left = segment->entry_count - first;
    out->count = left < PARTITION_FIND_PER_SECTOR ? (uint32_t)left : PARTITION_FIND_PER_SECTOR;
    if (segment->op_first == UINT64_MAX ||
        read_bytes < (int64_t)out->count * RECORD_INDEX_ENTRY_SIZE) {
        return -RUNNEL_EFAULTY;
    }
    uint32_t valid = 0;
    for (uint32_t index = 0; index < out->count; index++) {
        struct vsr_header header;
        uint64_t position = 0;
        struct partition_entry *entry = &out->entries[index];
        int result = record_index_entry_validate(
            find->buffer + (uint64_t)index * RECORD_INDEX_ENTRY_SIZE,
            partition->options.record_size_bytes_max, &partition->options.group,
            partition->options.cluster, &header, &position);
        entry->is_faulty = result != 0 || header.u.prepare.op != segment->op_first + first + index;
        if (entry->is_faulty) {
            log_warn("partition_index_entry_bad", "file=%s position=%" PRIu64 " reason=lookup",
                     segment->index_path, (first + index) * RECORD_INDEX_ENTRY_SIZE);
            continue;
        }
        valid++;
        entry->op = header.u.prepare.op;
        entry->offset = header.u.prepare.offset;
        entry->timestamp = header.u.prepare.timestamp;
        entry->message_count = header.u.prepare.message_count;
        entry->operation = header.u.prepare.operation;
    }
    return valid > 0 ? 0 : -RUNNEL_EFAULTY;
}

/* Whether entry reaches the key: holds messages at or past the offset, or is at or past
 * the timestamp. Monotonic along the log. */
static bool partition_find_reaches(const struct partition_find *find,
                                   const struct partition_entry *entry)
{
    if (find->is_timestamp) {
        return entry->timestamp >= find->key;
    }
    uint64_t end = entry->offset;
    end += entry->operation == VSR_OPERATION_MESSAGES ? entry->message_count : 0;
    return end > find->key;
}

/* Whether damaged entry index cannot be the answer: a later intact entry of the sector
 * starts at or before the offset (or at or before the timestamp). */
static bool partition_find_is_skippable(const struct partition_find *find,
                                        const struct partition_find_sector *sector, uint32_t index)
{
    assert(index < sector->count && sector->entries[index].is_faulty);
    for (uint32_t next = index + 1; next < sector->count; next++) {
        const struct partition_entry *entry = &sector->entries[next];
        if (!entry->is_faulty) {
            /* Timestamps strictly increase along the chain; offsets never go back. */
            return find->is_timestamp ? entry->timestamp <= find->key : entry->offset <= find->key;
        }
    }
    return false;
}

/* The answer within a scanned sector: 0 found, 1 look further on, <0 not found or
 * -RUNNEL_EFAULTY when a damaged entry comes before the answer (it may be the answer). */
static int partition_find_in_sector(struct partition_find *find,
                                    const struct partition_find_sector *sector)
{
    for (uint32_t index = 0; index < sector->count; index++) {
        const struct partition_entry *entry = &sector->entries[index];
        if (entry->is_faulty) {
            if (!partition_find_is_skippable(find, sector, index)) {
                return -RUNNEL_EFAULTY;
            }
            continue;
        }
        if (entry->operation != VSR_OPERATION_MESSAGES || !partition_find_reaches(find, entry)) {
            continue;
        }
        if (!find->is_timestamp && find->key < entry->offset) {
            return -RUNNEL_ENOTFOUND; /* a gap: no record holds the offset */
        }
        find->op = entry->op;
        return 0;
    }
    return 1;
}

/* One binary step from a parsed sector: the last usable entry decides the direction. */
static void partition_find_bisect(struct partition_find *find, uint64_t sector,
                                  const struct partition_find_sector *parsed)
{
    uint32_t last = parsed->count;
    for (; last > 0 && parsed->entries[last - 1].is_faulty; last--) {
    }
    assert(last > 0); /* partition_find_parse saw a usable entry */
    if (partition_find_reaches(find, &parsed->entries[last - 1])) {
        find->sector_high = sector;
    } else if (last == parsed->count) {
        find->sector_low = sector + 1;
    } else {
        /* Damaged entries after the last usable one may reach: scan from here. */
        find->sector_low = sector;
        find->sector_high = sector;
    }
}

static void partition_find_finish(struct partition_find *find, int result)
{
    assert(result <= 0);
    find->result = result;
    find->callback(find, find->context);
}

/* Answers from the tail segment's in-memory entries. */
static int partition_find_tail(struct partition_find *find)
{
    assert(partition_find_is_tail(find));
    const struct partition *partition = find->partition;
    int result = find->is_timestamp ? partition_find_timestamp(partition, find->key, &find->op)
                                    : partition_find_offset(partition, find->key, &find->op);
    find->result = result;
    return result;
}

/* Issues the next read (binary step or scan), or finishes. Returns 1 when finished now. */
static int partition_find_next(struct partition_find *find)
{
    struct partition *partition = find->partition;
    for (uint32_t guard = 0; guard <= partition->segment_count; guard++) {
        const struct partition_segment *segment = &partition->segments[find->segment];
        uint64_t sector = find->sector_low;
        if (find->steps++ == PARTITION_FIND_STEPS_MAX || segment->entry_count == 0) {
            find->result = segment->entry_count == 0 ? -RUNNEL_EFAULTY : -RUNNEL_ENOTFOUND;
            return 1; /* an unreadable index: rebuild it */
        }
        if (!find->is_scanning && find->sector_low < find->sector_high) {
            sector = find->sector_low + (find->sector_high - find->sector_low) / 2;
        } else if (sector == partition_find_sector_count(segment)) {
            if (!find->is_timestamp) {
                find->result = -RUNNEL_ENOTFOUND;
                return 1;
            }
            find->segment++; /* every entry here is earlier: the answer follows */
            find->sector_low = 0;
            find->is_scanning = true;
            if (partition_find_is_tail(find)) {
                partition_find_tail(find);
                return 1;
            }
            continue;
        } else {
            find->is_scanning = true;
        }
        io_read(partition->io, &find->completion, segment->index_file, find->buffer, IO_SECTOR_SIZE,
                sector * IO_SECTOR_SIZE, partition_find_io_callback, find);
        return 0;
    }
    unreachable_code();
}

static void partition_find_io_callback(struct io_completion *completion)
{
    struct partition_find *find = completion->context;
    assert(find != NULL && completion == &find->completion);
    if (completion->result < 0) {
        partition_find_finish(find, (int)completion->result);
        return;
    }
    uint64_t sector = completion->offset_bytes / IO_SECTOR_SIZE;
    struct partition_find_sector parsed;
    int result = partition_find_parse(find, sector, completion->result, &parsed);
    if (result != 0) {
        partition_find_finish(find, result);
        return;
    }
    if (!find->is_scanning) {
        partition_find_bisect(find, sector, &parsed);
    } else {
        result = partition_find_in_sector(find, &parsed);
        if (result <= 0) {
            partition_find_finish(find, result);
            return;
        }
        find->sector_low = sector + 1;
    }
    if (partition_find_next(find) == 1) {
        find->callback(find, find->context);
    }
}

/* Common set-up; returns 1 (answered), 0 (callback later) or the partition's failure. */
static int partition_find_start(struct partition *partition, struct partition_find *find,
                                uint32_t segment, uint8_t *buffer, partition_find_callback callback,
                                void *context)
{
    assert(segment < partition->segment_count);
    assert(buffer != NULL && io_is_sector_aligned((uint64_t)(uintptr_t)buffer));
    find->partition = partition;
    find->callback = callback;
    find->context = context;
    find->buffer = buffer;
    find->segment = segment;
    find->sector_low = 0;
    find->sector_high = partition_find_sector_count(&partition->segments[segment]);
    find->is_scanning = false;
    find->steps = 0;
    find->result = 0;
    find->op = 0;
    if (partition_find_is_tail(find)) {
        partition_find_tail(find);
        return 1;
    }
    return partition_find_next(find);
}

int partition_find_offset_start(struct partition *partition, struct partition_find *find,
                                uint64_t offset, uint8_t *buffer, partition_find_callback callback,
                                void *context)
{
    assert(partition != NULL && find != NULL && callback != NULL);
    assert(partition->segment_count > 0);
    if (partition->failed != 0) {
        return partition->failed;
    }
    memset(find, 0, sizeof(*find));
    find->key = offset;
    uint32_t segment = partition->segment_count;
    for (; segment > 0 && partition->segments[segment - 1].base_offset > offset; segment--) {
    }
    if (segment == 0) {
        find->result = -RUNNEL_ENOTFOUND; /* below the log start */
        return 1;
    }
    return partition_find_start(partition, find, segment - 1, buffer, callback, context);
}

int partition_find_timestamp_start(struct partition *partition, struct partition_find *find,
                                   uint64_t timestamp_ns, uint8_t *buffer,
                                   partition_find_callback callback, void *context)
{
    assert(partition != NULL && find != NULL && callback != NULL);
    assert(partition->segment_count > 0);
    if (partition->failed != 0) {
        return partition->failed;
    }
    memset(find, 0, sizeof(*find));
    find->key = timestamp_ns;
    find->is_timestamp = true;
    uint32_t segment = 0;
    for (; segment + 1 < partition->segment_count &&
           partition->segments[segment].timestamp_last < timestamp_ns;
         segment++) {
    }
    return partition_find_start(partition, find, segment, buffer, callback, context);
}
