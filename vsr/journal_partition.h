/*
 * The VSR journal (vsr/journal.h) on a storage partition log (storage/partition.h): the
 * seam that lets a replica of a partition group, or of the metadata group, keep its
 * prepares in the same segments that serve polls (DESIGN.md §4: the partition log is the
 * VSR journal).
 *
 * Writes append to the partition's tail buffer at once; the owner calls
 * journal_partition_pass once per loop pass (outside completion dispatch), which starts
 * the group commit (partition_flush) and reports every op the partition made durable to
 * the replica (vsr_replica_on_journal_write), in op order. Reporting from the pass rather
 * than from the I/O callback keeps the replica's reactions (commit, execute, journal
 * reads) out of the ring's dispatch. A record refused by a full segment is held (one at a
 * time) and appended after the rotation; while one is held, journal_partition_is_blocked
 * is true and the owner must not hand the replica new requests.
 *
 * Reads are synchronous in the interface: the tail is served from memory; an older record
 * (restart replay) is read with io_wait, so call the replica's execute paths only from
 * outside the ring's dispatch (start-up, the loop pass, ticks).
 *
 * Memory: allocated by journal_partition_init from the record limit. Runs on the shard that
 * owns the group.
 */
#ifndef RUNNEL_VSR_JOURNAL_PARTITION_H
#define RUNNEL_VSR_JOURNAL_PARTITION_H

#include "storage/partition.h"
#include "vsr/journal.h"
#include "vsr/replica.h"

#include <stdbool.h>
#include <stdint.h>

struct journal_partition_write {
    uint64_t op;
    u128 checksum;
};

struct journal_partition {
    struct partition *partition;
    struct vsr_replica *replica; /* set by journal_partition_attach */
    uint8_t *read_buffer;        /* sector-aligned: a record plus two sectors */
    uint64_t read_buffer_size_bytes;
    struct partition_read read;
    bool is_read_done;
    struct journal_partition_write *writes; /* ring of appended, unreported ops */
    uint32_t writes_max;
    uint32_t writes_head;
    uint32_t writes_count;
    uint64_t op_durable; /* highest op the partition reported durable */
    uint8_t *held;       /* header + body of the record waiting for a rotation */
    bool has_held;
    int failed;
    uint64_t reads_blocking_count;
    uint64_t truncate_refused_count;
};

/*
 * Allocates the read buffer, the held record and a ring of writes_max unreported writes
 * (>= the replica's pipeline + 1) for records up to record_size_bytes_max. Returns 0 or
 * -ENOMEM. The partition must outlive the journal.
 */
int journal_partition_init(struct journal_partition *journal, struct partition *partition,
                           uint32_t record_size_bytes_max, uint32_t writes_max);
void journal_partition_deinit(struct journal_partition *journal);

/* The vsr_journal interface over journal (context = journal). */
struct vsr_journal journal_partition_interface(struct journal_partition *journal);

/* Names the replica that receives durability reports (after vsr_replica_init). */
void journal_partition_attach(struct journal_partition *journal, struct vsr_replica *replica);

/* The partition's durable callback forwards here (from I/O dispatch): records only. */
void journal_partition_on_durable(struct journal_partition *journal, uint64_t op_durable,
                                  int result);

/*
 * Once per loop pass, outside dispatch: retries a held record, starts a group commit of
 * what was appended, and reports durable ops to the replica. Returns 0 or the
 * partition's failure.
 */
int journal_partition_pass(struct journal_partition *journal);

/* True while a record waits for a rotation: hand the replica no new request. */
bool journal_partition_is_blocked(const struct journal_partition *journal);

/* True while writes are unreported or a flush is in flight (for start-up loops). */
bool journal_partition_is_busy(const struct journal_partition *journal);

#endif
