/*
 * Lookups by message offset and by timestamp across every segment of a partition log
 * (storage/partition.h), for polls (Iggy's PollingStrategy offset / timestamp).
 *
 * The tail segment is answered from memory. A sealed segment is chosen from the
 * in-memory summary (offsets [base_offset, next base_offset), first and last timestamps),
 * then searched on disk: a binary search over its index sectors (one 4 KiB read per step,
 * through the page cache), then a forward scan of at most a few sectors. Every index
 * entry read is verified; a sector with a damaged entry makes the lookup answer
 * -RUNNEL_EFAULTY (never a wrong op): the caller reads on from a neighbouring op or asks
 * for the segment's index to be rebuilt.
 *
 * Runs on the shard that owns the partition; the caller owns the struct partition_find
 * and its buffer until the callback runs.
 */
#ifndef RUNNEL_STORAGE_PARTITION_FIND_H
#define RUNNEL_STORAGE_PARTITION_FIND_H

#include "lib/io.h"
#include "storage/partition.h"

#include <stdbool.h>
#include <stdint.h>

struct partition_find;
typedef void (*partition_find_callback)(struct partition_find *find, void *context);

struct partition_find {
    struct io_completion completion;
    struct partition *partition;
    partition_find_callback callback;
    void *context;
    uint8_t *buffer; /* IO_SECTOR_SIZE bytes, sector-aligned */
    bool is_timestamp;
    uint64_t key;         /* offset, or timestamp in ns */
    uint32_t segment;     /* being searched */
    uint64_t sector_low;  /* binary search over index sectors: [low, high) */
    uint64_t sector_high; /* the first sector whose last entry reaches the key */
    bool is_scanning;     /* past the binary search: reading sectors forward */
    uint32_t steps;       /* reads issued (bounded) */
    /* Result: 0 with op set, -RUNNEL_ENOTFOUND, -RUNNEL_EFAULTY (damaged index) or -errno. */
    int result;
    uint64_t op;
};

/*
 * Finds the op of the message record holding offset. Returns 1 when answered now
 * (find->result set, no callback), 0 when the callback will run, or a negative error
 * (the partition's failure).
 */
int partition_find_offset_start(struct partition *partition, struct partition_find *find,
                                uint64_t offset, uint8_t *buffer, partition_find_callback callback,
                                void *context);

/* Finds the op of the first message record with timestamp >= timestamp_ns (as above). */
int partition_find_timestamp_start(struct partition *partition, struct partition_find *find,
                                   uint64_t timestamp_ns, uint8_t *buffer,
                                   partition_find_callback callback, void *context);

#endif
