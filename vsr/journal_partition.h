/*
 * The VSR journal (vsr/journal.h) on a storage partition log (storage/partition.h): the
 * seam that lets a replica of a partition group, or of the metadata group, keep its
 * prepares in the same segments that serve polls (DESIGN.md §4: the partition log is the
 * VSR journal).
 *
 * Writes that continue the log's hash chain append to the partition's tail buffer at once;
 * the owner calls
 * journal_partition_pass once per loop pass (outside completion dispatch), which starts
 * the group commit (partition_flush) and reports every op the partition made durable to
 * the replica (vsr_replica_on_journal_write), in op order. Reporting from the pass rather
 * than from the I/O callback keeps the replica's reactions (commit, execute, journal
 * reads) out of the ring's dispatch. A record refused by a full segment is parked and
 * appended after the rotation; while the parking is full, journal_partition_is_blocked is
 * true and the owner must not hand the replica new requests.
 *
 * A multi-replica journal (journal_partition_init_parked) also takes writes out of op
 * order, as repair and a new view's log make them. The partition log stays a hash-chained
 * prefix; a write is parked (copied, up to parked_max) until the pass can land it:
 *   - op = last + 1 continuing the chain: appended;
 *   - op <= last with the same checksum: the entry is there (reported once durable), or
 *     it is faulty and is repaired in place (partition_repair); a faulty entry whose
 *     checksum is unknown here (a sealed segment's damaged record) is repaired in place
 *     too, which checks the index entry's checksum first;
 *   - op <= last, faulty, and it cannot be repaired in place (the index entry names
 *     another record, or is damaged itself, or the record's place is unknown): replaced
 *     as below (cut, then appended), though the entries above may then be canonical ones
 *     (the replica marks those faulty on the cut: never nacked, fetched again);
 *   - op <= last with another checksum whose parent is the entry below: the log is cut at
 *     op (partition_truncate_suffix: every entry above is chained to the replaced one, so
 *     none of them is in the replica's canonical log), then the record is appended; the
 *     next pass tells the replica first (vsr_replica_on_journal_cut: it forgets what it
 *     was told the journal held there, which a later view could name again);
 *   - anything else (a gap below it, a parent not held yet) waits parked.
 * Every accepted write is reported once to vsr_replica_on_journal_write; a cut that
 * removes its op before the report went out makes it a not-held report. A write the
 * journal gave up on (cut by a later truncation, or parked longer than
 * JOURNAL_PARTITION_PARKED_PASSES_MAX passes without a way to land) is reported with a
 * checksum that names no prepare (the prepare's own checksum with its low bit flipped):
 * the replica sees the entry as not durable and repairs it again, and the journal never
 * claims to hold what it does not. An op the journal holds faulty stays faulty at the
 * replica through such a report (never nacked): only the canonical checksum clears the
 * mark, and every pass reports the partition's faulty ops first. Its writes are given up
 * too: parked ones that wait for a faulty parent could otherwise fill the parking for
 * ever and shut out the write below them that would let them land.
 *
 * Reads are synchronous in the interface: the tail is served from memory; an older record
 * (restart replay, repair) is read with io_wait outside the ring's dispatch (start-up, the
 * loop pass, ticks). Inside dispatch (a message handled in a completion callback) waiting
 * is not allowed: the read is started and -EAGAIN returned; the same op asked again once
 * that read completed is served from it (the replica retries from its next tick).
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

enum { JOURNAL_PARTITION_PARKED_PASSES_MAX = 40 };

struct journal_partition_write {
    uint64_t op;
    u128 checksum;
};

/* A report for the next pass: held (the prepare of checksum is in the log) or not held
 * (checksum names no prepare, see above). */
struct journal_partition_report {
    uint64_t op;
    u128 checksum;
    bool held;
};

/* A write waiting to land (see above); record is header + body. */
struct journal_partition_parked {
    bool used;
    bool is_repairing; /* partition_repair of the faulty entry in flight */
    bool is_replacing; /* the faulty entry cannot be repaired in place: cut and append */
    uint32_t passes;   /* passes spent parked */
    uint8_t *record;   /* record_size_bytes_max */
};

struct journal_partition {
    struct partition *partition;
    struct vsr_replica *replica; /* set by journal_partition_attach */
    uint8_t *read_buffer;        /* sector-aligned: a record plus two sectors */
    uint64_t read_buffer_size_bytes;
    struct partition_read read;
    bool is_read_done;
    bool is_read_deferred; /* a read started inside dispatch, for read_deferred_op */
    uint64_t read_deferred_op;
    struct journal_partition_write *writes; /* ring of appended, unreported ops */
    uint32_t writes_max;
    uint32_t writes_head;
    uint32_t writes_count;
    struct journal_partition_report *reports; /* to report in the next pass */
    uint32_t reports_count;
    uint64_t op_durable; /* highest op the partition reported durable (or recovered) */
    uint64_t cut_min;    /* lowest op an own cut removed since the last pass; 0: none */
    struct journal_partition_parked *parked; /* parked_max */
    uint32_t parked_max;
    uint32_t parked_count;
    uint32_t record_size_bytes_max;
    struct partition_repair repair; /* one in-place repair at a time */
    uint8_t *repair_buffer;         /* sector-aligned, read_buffer_size_bytes */
    bool is_repairing;
    int failed;
    uint64_t reads_blocking_count;
    uint64_t reads_deferred_count; /* reads answered -EAGAIN inside dispatch */
    uint64_t truncations_count;    /* suffix truncations (a different prepare at an op) */
    uint64_t repairs_count;        /* faulty entries rewritten in place */
    uint64_t replaced_count;       /* faulty entries replaced instead (cut and append) */
    uint64_t given_up_count;       /* writes reported as not held (see above) */
    uint64_t unheld_count;         /* held reports a cut turned into not-held ones */
    uint64_t refused_far_count;    /* writes refused: too far above the log to park */
    uint64_t lost_below_cut_count; /* cuts whose reopen kept less than asked */
};

/*
 * Allocates the read buffer, the held record and a ring of writes_max unreported writes
 * (>= the replica's pipeline + 1) for records up to record_size_bytes_max. Returns 0 or
 * -ENOMEM. The partition must outlive the journal.
 */
int journal_partition_init(struct journal_partition *journal, struct partition *partition,
                           uint32_t record_size_bytes_max, uint32_t writes_max);

/*
 * As journal_partition_init, for a replica of a multi-replica group: up to parked_max
 * (>= 1) writes that cannot land yet are held in memory (parked_max records of
 * record_size_bytes_max bytes). journal_partition_init parks one (a rotation).
 */
int journal_partition_init_parked(struct journal_partition *journal, struct partition *partition,
                                  uint32_t record_size_bytes_max, uint32_t writes_max,
                                  uint32_t parked_max);
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

/* True while no more writes can be parked: hand the replica no new request. */
bool journal_partition_is_blocked(const struct journal_partition *journal);

/* True while writes are unreported or a flush is in flight (for start-up loops). */
bool journal_partition_is_busy(const struct journal_partition *journal);

#endif
