/*
 * The partition state machine's snapshot (vsr_state_machine.snapshot / restore) for the
 * group's checkpoints (DESIGN.md §4, vsr/replica_checkpoint.c): everything apply keeps
 * besides the log itself, which stays in the partition's segments. The VSR checkpoint
 * around it holds the anchor (the checkpoint op's prepare header: op, checksum, offset and
 * timestamp of the chain's resume point) and the client table with the exactly-once
 * windows.
 *
 * Encoding (native layout, the same build on every replica), version 2, DATA_SNAPSHOT_FIXED
 * bytes: magic u32 | version u32 | op_applied u64 | commit_offset_next u64 |
 * messages_count u64 | size_bytes u64 | log_start_offset u64 | removable_op u64 |
 * offset_count u32 | reserved u32, then offset_count committed consumer offsets of 16
 * bytes: kind u8 (1 consumer, 2 group) | has_offset u8 (1) | reserved u16 | id u32 |
 * offset u64. Version 1 (before prefix truncation) has no log_start_offset nor
 * removable_op (48 fixed bytes); it restores with both 0. Auto-commit offsets polled but
 * not yet committed are not state. Restore validates every byte before it changes
 * anything. Runs on the owning shard.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "node/data_plane_internal.h"

#include <string.h>

enum {
    DATA_SNAPSHOT_MAGIC = 0x4e535052, /* "RPSN" */
    DATA_SNAPSHOT_VERSION = 2,
    DATA_SNAPSHOT_FIXED = 64,
    DATA_SNAPSHOT_FIXED_V1 = 48,
    DATA_SNAPSHOT_ENTRY = 16,
};

struct data_snapshot_fixed {
    uint32_t magic;
    uint32_t version;
    uint64_t op_applied;
    uint64_t commit_offset_next;
    uint64_t messages_count;
    uint64_t size_bytes;
    uint64_t log_start_offset;
    uint64_t removable_op;
    uint32_t offset_count;
    uint32_t reserved;
};

/* Version 1: the fixed part before prefix truncation. */
struct data_snapshot_fixed_v1 {
    uint32_t magic;
    uint32_t version;
    uint64_t op_applied;
    uint64_t commit_offset_next;
    uint64_t messages_count;
    uint64_t size_bytes;
    uint32_t offset_count;
    uint32_t reserved;
};

struct data_snapshot_entry {
    uint8_t kind;
    uint8_t has_offset;
    uint16_t reserved;
    uint32_t id;
    uint64_t offset;
};

_Static_assert(sizeof(struct data_snapshot_fixed) == DATA_SNAPSHOT_FIXED, "snapshot fixed part");
_Static_assert(sizeof(struct data_snapshot_fixed_v1) == DATA_SNAPSHOT_FIXED_V1, "version 1");
_Static_assert(sizeof(struct data_snapshot_entry) == DATA_SNAPSHOT_ENTRY, "snapshot entry");
_Static_assert(DATA_SNAPSHOT_FIXED + DATA_PLANE_OFFSETS_MAX * DATA_SNAPSHOT_ENTRY <=
                   DATA_PLANE_SNAPSHOT_SIZE_MAX,
               "every consumer offset fits a snapshot");

uint32_t data_partition_snapshot(void *buffer, uint32_t size_max, void *context)
{
    const struct data_partition *partition = context;
    assert(partition != NULL && buffer != NULL);
    assert(size_max >= DATA_PLANE_SNAPSHOT_SIZE_MAX);
    uint8_t *bytes = buffer;
    struct data_snapshot_fixed fixed = {
        .magic = DATA_SNAPSHOT_MAGIC,
        .version = DATA_SNAPSHOT_VERSION,
        .op_applied = partition->op_applied,
        .commit_offset_next = partition->commit_offset_next,
        .messages_count = partition->messages_count,
        .size_bytes = partition->size_bytes,
        .log_start_offset = partition->log_start_offset,
        .removable_op = partition->removable_op,
    };
    assert(fixed.log_start_offset <= fixed.commit_offset_next);
    for (uint32_t index = 0; index < DATA_PLANE_OFFSETS_MAX; index++) {
        const struct data_offset *offset = &partition->offsets[index];
        if (!offset->is_used || !offset->has_offset) {
            continue;
        }
        struct data_snapshot_entry entry = {
            .kind = offset->kind, .has_offset = 1, .id = offset->id, .offset = offset->offset};
        memcpy(bytes + DATA_SNAPSHOT_FIXED + (size_t)fixed.offset_count * DATA_SNAPSHOT_ENTRY,
               &entry, sizeof(entry));
        fixed.offset_count++;
    }
    memcpy(bytes, &fixed, sizeof(fixed));
    uint32_t size = DATA_SNAPSHOT_FIXED + fixed.offset_count * DATA_SNAPSHOT_ENTRY;
    assert(size <= size_max);
    return size;
}

/* True when entries (untrusted) are well-formed and name no consumer twice. */
static bool data_snapshot_entries_are_valid(const uint8_t *entries, uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        struct data_snapshot_entry entry;
        memcpy(&entry, entries + (size_t)index * DATA_SNAPSHOT_ENTRY, sizeof(entry));
        if ((entry.kind != 1 && entry.kind != 2) || entry.has_offset != 1 || entry.reserved != 0) {
            return false;
        }
        for (uint32_t other = 0; other < index; other++) {
            struct data_snapshot_entry before;
            memcpy(&before, entries + (size_t)other * DATA_SNAPSHOT_ENTRY, sizeof(before));
            if (before.kind == entry.kind && before.id == entry.id) {
                return false;
            }
        }
    }
    return true;
}

/* The fixed part of untrusted bytes of either version (version 1: log start and
 * removable op 0); -RUNNEL_EFORMAT when it is neither or does not fit. */
static int data_snapshot_fixed_decode(const uint8_t *bytes, uint32_t size_bytes,
                                      struct data_snapshot_fixed *fixed, uint32_t *entries_at_out)
{
    if (size_bytes < 8) {
        return -RUNNEL_EFORMAT;
    }
    uint32_t version = 0;
    memcpy(&version, bytes + 4, sizeof(version));
    if (version == DATA_SNAPSHOT_VERSION && size_bytes >= DATA_SNAPSHOT_FIXED) {
        memcpy(fixed, bytes, sizeof(*fixed));
        *entries_at_out = DATA_SNAPSHOT_FIXED;
        return 0;
    }
    if (version != 1 || size_bytes < DATA_SNAPSHOT_FIXED_V1) {
        return -RUNNEL_EFORMAT;
    }
    struct data_snapshot_fixed_v1 old;
    memcpy(&old, bytes, sizeof(old));
    *fixed = (struct data_snapshot_fixed){.magic = old.magic,
                                          .version = old.version,
                                          .op_applied = old.op_applied,
                                          .commit_offset_next = old.commit_offset_next,
                                          .messages_count = old.messages_count,
                                          .size_bytes = old.size_bytes,
                                          .offset_count = old.offset_count,
                                          .reserved = old.reserved};
    *entries_at_out = DATA_SNAPSHOT_FIXED_V1;
    return 0;
}

int data_partition_restore(const void *bytes, uint32_t size_bytes, void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && bytes != NULL);
    struct data_snapshot_fixed fixed;
    uint32_t entries_at = 0;
    if (data_snapshot_fixed_decode(bytes, size_bytes, &fixed, &entries_at) != 0) {
        return -RUNNEL_EFORMAT;
    }
    const uint8_t *entries = (const uint8_t *)bytes + entries_at;
    if (fixed.magic != DATA_SNAPSHOT_MAGIC || fixed.reserved != 0 ||
        fixed.offset_count > DATA_PLANE_OFFSETS_MAX ||
        size_bytes != entries_at + fixed.offset_count * DATA_SNAPSHOT_ENTRY ||
        fixed.messages_count > fixed.commit_offset_next ||
        fixed.log_start_offset > fixed.commit_offset_next ||
        fixed.removable_op > fixed.op_applied ||
        !data_snapshot_entries_are_valid(entries, fixed.offset_count)) {
        return -RUNNEL_EFORMAT;
    }
    memset(partition->offsets, 0, sizeof(partition->offsets));
    for (uint32_t index = 0; index < fixed.offset_count; index++) {
        struct data_snapshot_entry entry;
        memcpy(&entry, entries + (size_t)index * DATA_SNAPSHOT_ENTRY, sizeof(entry));
        struct data_offset *offset = &partition->offsets[index];
        offset->is_used = true;
        offset->kind = entry.kind;
        offset->id = entry.id;
        offset->has_offset = true;
        offset->offset = entry.offset;
    }
    partition->op_applied = fixed.op_applied;
    partition->commit_offset_next = fixed.commit_offset_next;
    partition->messages_count = fixed.messages_count;
    partition->size_bytes = fixed.size_bytes;
    partition->log_start_offset = fixed.log_start_offset;
    partition->removable_op = fixed.removable_op;
    return 0;
}

int data_partition_snapshot_log_start(const void *bytes, uint32_t size_bytes,
                                      uint64_t *log_start_offset_out)
{
    assert(bytes != NULL && log_start_offset_out != NULL);
    struct data_snapshot_fixed fixed;
    uint32_t entries_at = 0;
    if (data_snapshot_fixed_decode(bytes, size_bytes, &fixed, &entries_at) != 0 ||
        fixed.magic != DATA_SNAPSHOT_MAGIC || fixed.log_start_offset > fixed.commit_offset_next) {
        return -RUNNEL_EFORMAT;
    }
    *log_start_offset_out = fixed.log_start_offset;
    return 0;
}
