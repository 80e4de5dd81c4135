/*
 * Internal functions and constants shared by the partition log's source files
 * (partition.c: life cycle and synchronous helpers; partition_recover.c; partition_write.c;
 * partition_read.c; partition_truncate.c). Not for callers outside storage/.
 */
#ifndef RUNNEL_STORAGE_PARTITION_PRIVATE_H
#define RUNNEL_STORAGE_PARTITION_PRIVATE_H

#include "storage/partition.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    PARTITION_WAIT_ITERATIONS = 1u << 20,
    PARTITION_ENTRIES_PER_SECTOR = IO_SECTOR_SIZE / RECORD_INDEX_ENTRY_SIZE,
    PARTITION_INDEX_ZERO_MIN = 16 * 1024, /* index zero-fill chunk bounds */
    PARTITION_INDEX_ZERO_MAX = 256 * 1024,
    PARTITION_NAME_SEQUENCE_MAX = 1000000, /* six digits */
};

static inline uint64_t align_down(uint64_t value)
{
    return value - value % IO_SECTOR_SIZE;
}

static inline uint64_t align_up(uint64_t value)
{
    return align_down(value + IO_SECTOR_SIZE - 1);
}

/* partition.c: synchronous I/O (start-up, recovery, suffix truncation). */
void partition_wait_callback(struct io_completion *completion);
int64_t partition_wait(struct partition *partition, struct io_completion *completion);
int partition_read_sync(struct partition *partition, int32_t file, void *buffer,
                        uint64_t size_bytes, uint64_t offset_bytes, uint64_t *read_out);
int partition_write_sync(struct partition *partition, int32_t file, const void *buffer,
                         uint64_t size_bytes, uint64_t offset_bytes);
int partition_sync_sync(struct partition *partition, int32_t file, bool directory);
int64_t partition_open_sync(struct partition *partition, const char *path, uint32_t flags);
void partition_close_sync(struct partition *partition, int32_t file);

/* partition.c: segments and faults. */
struct partition_segment *partition_tail(struct partition *partition);
void partition_segment_paths(const struct partition *partition, struct partition_segment *segment);
int partition_list_segments(struct partition *partition);
int partition_segment_open(struct partition *partition, struct partition_segment *segment,
                           bool create, bool sealed);
int partition_segment_create(struct partition *partition, uint64_t base_offset);
void partition_fault(struct partition *partition, uint64_t op);

/* partition_recover.c */
void partition_sealed_load(struct partition *partition, struct partition_segment *segment,
                           uint64_t op_expected);
int partition_rebuild_sealed(struct partition *partition, uint32_t listed);
int partition_rebuild_index(struct partition *partition, struct partition_segment *segment,
                            uint64_t op_end);
int partition_recover_tail(struct partition *partition);
void partition_entry_set(struct partition_entry *entry, const struct vsr_header *header,
                         uint64_t position_bytes);
void partition_chain_advance(struct partition *partition, const struct vsr_header *header);

/* partition_read.c */
int32_t partition_segment_of_op(const struct partition *partition, uint64_t op);
int32_t partition_segment_after_gap(const struct partition *partition, uint64_t op);

#endif
