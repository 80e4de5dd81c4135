/*
 * The partition log (DESIGN.md §4, §5): one partition incarnation's records (VSR prepares:
 * message batches, consumer-offset ops, prefix truncation, ...) in segments, with a
 * per-record index, group commit and crash recovery. It is also that group's VSR journal.
 *
 * Directory (options.directory, e.g. .../partitions/{p}.{incarnation}):
 *   {base_offset:020}.log    records, sector-padded by padding records, preallocated in
 *                            chunks ahead of the tail; O_DIRECT when the filesystem allows
 *   {base_offset:020}.index  one 512-byte entry per record (storage/record.h), written only
 *                            after the record is durable; buffered (not O_DIRECT). With
 *                            preallocation on, the tail index is extended with zeros in
 *                            chunks ahead of its entries, so that an entry write overwrites
 *                            allocated blocks and its fdatasync commits no metadata; a
 *                            sealed index is cut to its entries
 *
 * Write path (no waiting inside): partition_append copies a prepare into the tail buffer;
 * partition_flush (once per loop pass) writes everything appended since the last flush as
 * one aligned write, fdatasyncs it when durability is fsync, then writes and syncs the
 * index entries, and only then reports the ops durable through options.durable_callback.
 * The log and the index are two lanes: once flush N's records are durable, its index
 * write (and sync) runs while flush N+1's log write (and sync) goes on, so the index costs
 * no extra device round trip per flush in steady state. Order per record is unchanged:
 * record durable, then its index entry written and durable, then reported.
 * A record that does not fit the segment makes append return -RUNNEL_EFULL; the next
 * flush seals the segment and opens the next, after which the append can be retried.
 * An I/O error fails the partition (every later call returns it): the owner reopens it,
 * which runs recovery, exactly as after a crash.
 *
 * Recovery (partition_open) reads only the tail segment's index and the records from the
 * last durable index entry on, plus the first and last entries of each sealed index; a
 * sealed index that is missing, torn or disagrees with its neighbours (entry count vs the
 * next segment's first op) is rebuilt from its log (logged; ops whose records are damaged
 * are listed faulty). A bad record past the last durable entry was never
 * reported durable: the log is cut there. A bad record covered by a durable entry is
 * damage: its op is listed faulty (partition_faulty_ops) for VSR to repair, never cut.
 * Reads verify every record and return -RUNNEL_EFAULTY for a damaged one, never its bytes.
 * Sealed segments are read through the page cache (a buffered handle), the tail from its
 * buffer or with O_DIRECT.
 *
 * Verification (what is checked when): every read checks the record's header (its
 * checksum, group, size, op, and that it is the record the index entry names: a
 * misdirected or stale read is caught). The body checksum (XXH3 over the whole record) is
 * checked on every read of bytes that come from disk, so a bit flip on disk after the
 * write is never served: it is reported faulty and repaired. Only a record copied from
 * the tail buffer, in memory since this process appended it (partition_entry.is_body_trusted),
 * skips the second pass over its body: it was verified once, at write. After a restart
 * no entry is trusted.
 *
 * Memory: everything is allocated by partition_init from options; nothing afterwards.
 * Runs on the shard that owns the partition; all I/O goes through the seam (lib/io.h).
 */
#ifndef RUNNEL_STORAGE_PARTITION_H
#define RUNNEL_STORAGE_PARTITION_H

#include "lib/io.h"
#include "proto/batch.h"
#include "proto/vsr_header.h"
#include "storage/atomic_file.h"
#include "storage/checkpoint.h"
#include "storage/record.h"

#include <stdbool.h>
#include <stdint.h>

struct partition;

/* Called (from io_run) when ops up to op_durable are durable, or with result < 0 when the
 * partition failed. Also called after a rotation (op_durable unchanged). */
typedef void (*partition_durable_callback)(struct partition *partition, uint64_t op_durable,
                                           int result, void *context);

struct partition_options {
    const char *directory;
    struct vsr_group group;
    u128 cluster;
    uint64_t segment_size_bytes;    /* a segment holds at most this many bytes */
    uint64_t preallocate_bytes;     /* fallocate chunk ahead of the tail; 0: none */
    uint32_t index_entries_max;     /* records per segment (the in-memory tail index) */
    uint32_t record_size_bytes_max; /* header + body */
    uint64_t buffer_size_bytes;     /* tail buffer; >= 2 * record max + 2 sectors */
    uint32_t flush_records_max;     /* records appended between two flushes */
    uint32_t segments_max;
    uint32_t faulty_max;       /* faulty ops remembered */
    bool durability_fsync;     /* false: `replicated` (no fdatasync) */
    bool direct_allowed;       /* probe O_DIRECT and use it when it works */
    uint64_t log_start_offset; /* base offset of a fresh partition's first segment */
    partition_durable_callback durable_callback;
    void *context;
};

/* The in-memory index of the tail segment: one per record. */
struct partition_entry {
    uint64_t op;
    uint64_t offset;         /* header.u.prepare.offset */
    uint64_t timestamp;      /* header.u.prepare.timestamp */
    uint64_t position_bytes; /* in the segment */
    uint32_t size_bytes;
    uint32_t message_count;
    uint8_t operation;
    bool is_faulty; /* damaged; position_bytes may be unknown (size_bytes 0) */
    /* Appended by this process (partition_append): reads check its header, not its body
     * again (see "Verification" above). */
    bool is_body_trusted;
    u128 checksum; /* the record header's checksum */
};

/* A segment; sealed ones keep a small summary in memory for lookups (partition_find.h):
 * their offsets are [base_offset, next segment's base_offset). */
struct partition_segment {
    uint64_t base_offset; /* from the file name */
    /* 0: "{base_offset:020}.log"; n > 0: "{base_offset:020}_{n:06}.log", a segment opened
     * when the one before it (same base offset) held no message: names stay unique. */
    uint32_t name_sequence;
    uint64_t op_first; /* UINT64_MAX: unknown (first entry unreadable) or empty */
    int32_t log_file;  /* sealed: a buffered (page-cache) handle */
    int32_t index_file;
    uint32_t entry_count;     /* sealed: from the index's last valid entry */
    uint64_t timestamp_first; /* sealed: of the first entry; 0 when unknown */
    uint64_t timestamp_last;  /* sealed: of the last entry; UINT64_MAX when unknown */
    uint64_t size_bytes;      /* sealed: end of its last record; 0 when unknown */
    bool is_index_damaged;    /* sealed: the first entry was unreadable at open */
    char log_path[IO_PATH_SIZE_MAX];
    char index_path[IO_PATH_SIZE_MAX];
};

enum partition_flush_step {
    PARTITION_FLUSH_IDLE = 0,
    PARTITION_FLUSH_ALLOCATE,
    PARTITION_FLUSH_WRITE_LOG, /* records written and (fsync) synced, together */
    PARTITION_FLUSH_SEAL_TRUNCATE,
    PARTITION_FLUSH_SEAL_INDEX,
    PARTITION_FLUSH_SEAL_INDEX_SYNC,
    PARTITION_FLUSH_SEAL_REOPEN, /* the sealed log: a buffered handle replaces O_DIRECT */
    PARTITION_FLUSH_SEAL_CLOSE,
    PARTITION_FLUSH_OPEN_LOG,
    PARTITION_FLUSH_OPEN_INDEX,
    PARTITION_FLUSH_TRUNCATE_INDEX,
    PARTITION_FLUSH_SYNC_DIRECTORY,
};

/* The index lane: entries of records already durable, written then synced. */
enum partition_index_step {
    PARTITION_INDEX_IDLE = 0,
    PARTITION_INDEX_ZERO,  /* extends the index with zeros ahead of the entries */
    PARTITION_INDEX_WRITE, /* entries written and (fsync) synced, together */
};

typedef void (*partition_truncate_callback)(struct partition *partition, int result, void *context);

enum partition_truncate_step {
    PARTITION_TRUNCATE_IDLE = 0,
    PARTITION_TRUNCATE_CLOSE_LOG,
    PARTITION_TRUNCATE_CLOSE_INDEX,
    PARTITION_TRUNCATE_UNLINK_LOG,
    PARTITION_TRUNCATE_UNLINK_INDEX,
    PARTITION_TRUNCATE_SYNC_DIRECTORY,
};

typedef void (*partition_checkpoint_callback)(struct partition *partition, int result,
                                              void *context);

/* A read of one whole record into a caller buffer; see partition_read_op. */
struct partition_read;
typedef void (*partition_read_callback)(struct partition_read *read, void *context);

struct partition_read {
    struct io_completion completion;
    struct partition *partition;
    partition_read_callback callback;
    void *context;
    uint8_t *buffer; /* IO_SECTOR_SIZE-aligned */
    uint64_t buffer_size_bytes;
    uint64_t op;
    uint32_t segment;
    uint64_t position_bytes;
    uint64_t read_position_bytes;       /* aligned start of the disk read */
    uint64_t entry_read_position_bytes; /* sealed: aligned start of the index read */
    uint32_t size_bytes;
    /* A damaged sealed index entry: the record is found after the previous one instead,
     * and trusted only if intact, of this op and (when known) chained to its parent. */
    bool is_located_by_neighbour;
    bool has_parent_expected;
    u128 parent_expected;
    bool is_body_trusted; /* the tail entry's flag when the read started */
    /* Result: 0, -RUNNEL_EFAULTY (damaged: ask for repair), -RUNNEL_ENOTFOUND or -errno. */
    int result;
    const uint8_t *record; /* into buffer: header + body, verified */
    struct vsr_header header;
};

struct partition {
    struct io *io;
    struct partition_options options;
    bool is_direct;
    int failed; /* 0, or the error that failed the partition */
    int32_t directory_file;
    struct partition_segment *segments; /* segments_max, by base offset */
    uint32_t segment_count;
    /* Tail segment. */
    struct partition_entry *entries;  /* index_entries_max */
    uint32_t entry_count;             /* appended (durable or not) */
    uint32_t entry_durable_count;     /* entries whose index entry is durable: reported */
    uint32_t entry_log_durable_count; /* entries whose record is durable (log lane) */
    uint8_t *buffer;                  /* tail buffer, sector-aligned */
    uint64_t buffer_position_bytes;   /* segment position of buffer[0], sector-aligned */
    uint64_t appended_bytes;          /* end of appended records */
    uint64_t written_bytes;           /* end of records durable on disk (log lane) */
    uint64_t flush_end_bytes;         /* end of the flush in flight */
    uint64_t allocated_bytes;         /* file size reserved */
    uint8_t *index_buffer;            /* entries from the last partial sector on */
    uint32_t index_buffer_first;      /* entry number of index_buffer's first entry */
    uint32_t index_buffer_entries_max;
    uint8_t *index_write_buffer; /* what one index write sends (no undurable entries) */
    uint8_t *index_zero_buffer;  /* index_zero_size_bytes of zeros */
    uint64_t index_zero_size_bytes;
    uint64_t index_allocated_bytes; /* tail index bytes already on disk (entries or zeros) */
    /* Chain state. */
    uint64_t op_last;    /* last chained op appended */
    u128 checksum_last;  /* its header checksum */
    bool is_chain_known; /* false: the next op's parent is not checked */
    uint64_t timestamp_last;
    uint64_t offset_next; /* next message offset */
    uint64_t op_durable;
    uint32_t flush_entry_end; /* entry count covered by the log flush in flight */
    bool rotate_requested;
    bool flush_requested;
    enum partition_flush_step flush_step; /* the log lane (and rotation) */
    struct io_completion flush_completion;
    /* A write and the fdatasync covering it are submitted together (a sync covers the
     * writes to its file submitted before it, on every lib/io.h backend): the step ends
     * when both are in. */
    struct io_completion flush_sync_completion;
    uint32_t flush_pending; /* completions of the step still out */
    int flush_pending_result;
    enum partition_index_step index_step; /* the index lane */
    uint32_t index_flush_end;             /* entry count covered by the index write in flight */
    struct io_completion index_completion;
    struct io_completion index_sync_completion;
    uint32_t index_pending;
    int index_pending_result;
    int32_t seal_direct_file; /* rotation: the sealed log's O_DIRECT handle being closed */
    char path_scratch[IO_PATH_SIZE_MAX];
    char index_path_scratch[IO_PATH_SIZE_MAX];
    /* Prefix truncation in flight. */
    enum partition_truncate_step truncate_step;
    struct io_completion truncate_completion;
    uint32_t truncate_remaining; /* whole segments still to remove */
    partition_truncate_callback truncate_callback;
    void *truncate_context;
    uint32_t reads_in_flight;
    uint64_t faulty_ops_overflow;
    uint64_t *faulty_ops;  /* faulty_max */
    uint64_t *faulty_kept; /* faulty_max: kept across a suffix truncation's reopen */
    uint32_t faulty_count;
    /* Counters. */
    uint64_t flush_count;
    uint64_t truncated_bytes; /* cut at recovery */
    uint64_t rebuilt_entry_count;
    uint64_t index_entry_damaged_count; /* sealed entries found damaged on read */
    uint64_t suffix_cuts_not_kept;      /* suffix cuts the reopen found not kept */
    /* The latest locally durable checkpoint ({directory}/checkpoint): loaded at open,
     * replaced by partition_checkpoint_write. */
    bool has_checkpoint;
    struct checkpoint checkpoint;         /* summary only: no consumer offsets or sessions */
    struct checkpoint checkpoint_pending; /* being written */
    struct atomic_file checkpoint_file;
    partition_checkpoint_callback checkpoint_callback;
    void *checkpoint_context;
    char checkpoint_path[IO_PATH_SIZE_MAX];
};

/*
 * Writes "{root}/streams/{s}/topics/{t}/partitions/{p}.{incarnation}" (DESIGN.md §5) into
 * path. A purge gives the partition a new incarnation: create the new directory
 * (atomic_file_create_directory, name durable), open a fresh partition there, and once
 * that is durable remove the old one (atomic_file_remove_directory). Returns 0 or
 * -RUNNEL_ETOOLARGE when it does not fit path_size_bytes.
 */
int partition_directory_path(char *path, uint64_t path_size_bytes, const char *root,
                             const struct vsr_group *group);

/* Allocates the partition's memory from options (the directory string is copied by
 * pointer: keep it alive). Returns 0 or -ENOMEM. */
int partition_init(struct partition *partition, const struct partition_options *options);
void partition_deinit(struct partition *partition);

/*
 * Opens (creating the directory contents when empty) and recovers the partition. Loads
 * the checkpoint first: when no record before the tail names the chain (an empty tail
 * after truncation, or a checkpoint installed by state transfer), the chain, the next op
 * and the next offset resume from the checkpoint's anchor. A damaged checkpoint file is
 * logged and not trusted.
 * Synchronous: runs io with io_wait, so call it at start-up or from outside any io
 * callback. The directory must exist. Returns 0, -errno from I/O, or -RUNNEL_EFULL when
 * more ops are faulty than faulty_max (the log is left untouched). Damage is logged with
 * file, position and reason.
 */
int partition_open(struct partition *partition, struct io *io);

/*
 * Purge (DESIGN.md §4), step 1: creates the new incarnation's directory
 * (options.directory, from partition_directory_path with the new incarnation), makes its
 * name durable, then opens the partition there (its first segment is made durable).
 * Synchronous, like partition_open. -EEXIST is accepted (a purge resumed after a crash).
 * Returns what partition_open returns, or -errno from the directory.
 */
int partition_purge_open(struct partition *partition, struct io *io);

/*
 * Purge, step 2: once the new incarnation is open (partition, after partition_purge_open),
 * removes old_directory and its files, then fsyncs its parent (storage/atomic_file). A
 * crash before this completes leaves the old directory: the broker removes incarnations
 * that are not current at start-up with the same call. Returns 0 (callback later) or
 * -RUNNEL_ESTATE (file busy).
 */
int partition_purge_remove_old(const struct partition *partition, struct atomic_file *file,
                               const char *old_directory, char *names, uint64_t names_size_bytes,
                               atomic_file_callback callback, void *context);

/* Closes the partition's files (synchronously, as partition_open). */
void partition_close(struct partition *partition);

/*
 * Fills header (a prepare of this group) for the next op: op, parent, offset, timestamp
 * (max(last + 1, timestamp_ns)), message_count, and seals it with body. For MESSAGES the
 * body is a validated batch that this stamps (partition id, base offset, µs timestamp).
 * For the primary, tests and tools; a backup appends the primary's headers as they are.
 */
void partition_prepare(struct partition *partition, struct vsr_header *header, uint8_t operation,
                       void *body, uint32_t body_size_bytes, uint64_t timestamp_ns);

/*
 * Appends a sealed prepare (header + body) that continues the chain (op = last + 1,
 * parent = last checksum). Copies it; nothing is written until partition_flush. Returns
 * 0, -RUNNEL_EFULL (flush first: the buffer, the index or the segment is full), or the
 * partition's failure.
 */
int partition_append(struct partition *partition, const struct vsr_header *header,
                     const void *body);

/* True when partition_append of a record of size_bytes would be accepted now (not
 * -RUNNEL_EFULL, not failed): lets the primary skip sealing a prepare that must wait. */
bool partition_can_append(struct partition *partition, uint32_t size_bytes);

/* Starts a group commit of everything appended (no-op when nothing is). When a flush is
 * in flight, another one follows it. Returns 0 or the partition's failure. */
int partition_flush(struct partition *partition);

/* True while a flush (either lane) or a rotation is in flight. */
bool partition_is_flushing(const struct partition *partition);

/* True when records were appended that no started flush covers yet (a partition_flush
 * now, or when the log lane frees, writes them). */
bool partition_has_unflushed(const struct partition *partition);

/*
 * Reads op's record, verified, into buffer (IO_SECTOR_SIZE-aligned, at least record
 * max + 2 sectors). Returns 1 when served now from the tail buffer (read->result set, no
 * callback), 0 when the callback will run, or a negative error (-RUNNEL_ENOTFOUND for an
 * op not in the log, -RUNNEL_EFAULTY for an op known faulty).
 */
int partition_read_op(struct partition *partition, struct partition_read *read, uint64_t op,
                      uint8_t *buffer, uint64_t buffer_size_bytes, partition_read_callback callback,
                      void *context);

/*
 * op's record when it is still in the tail buffer (appended by this process and not yet
 * moved out): a pointer into that memory and its size, valid until the next append, flush
 * or rotation; NULL when it is not there (sealed, older, faulty, or read back from disk by
 * the open rather than appended: use partition_read_op).
 * Only the header is checked (checksum, op and size against the index entry): the body is
 * the memory the record was sealed from, so no second pass over it.
 */
const uint8_t *partition_tail_record(const struct partition *partition, uint64_t op,
                                     uint32_t *size_out);

/* The op of the message record holding offset (tail segment only for now), or
 * -RUNNEL_ENOTFOUND. */
int partition_find_offset(const struct partition *partition, uint64_t offset, uint64_t *op_out);

/* The op of the first message record with a timestamp >= timestamp_ns (tail segment). */
int partition_find_timestamp(const struct partition *partition, uint64_t timestamp_ns,
                             uint64_t *op_out);

/*
 * Writes the partition's checkpoint atomically to {directory}/checkpoint (encoded into
 * buffer, which must stay untouched until the callback); once durable it becomes the
 * partition's checkpoint (prefix truncation and the next open use it). Returns 0
 * (callback later), -RUNNEL_ETOOLARGE (buffer) or -RUNNEL_ESTATE (a write in flight).
 */
int partition_checkpoint_write(struct partition *partition, const struct checkpoint *checkpoint,
                               uint8_t *buffer, uint64_t buffer_size_bytes,
                               partition_checkpoint_callback callback, void *context);

/*
 * Removes whole sealed segments that hold only offsets below log_start_offset and ops at
 * or below checkpoint_op (a checkpoint durable on a replication quorum: the caller's
 * guarantee), and never above the partition's own durable checkpoint (its op and log
 * start: nothing is removed without one), oldest first, then fsyncs the directory. The
 * tail segment is never removed. Returns 0 (callback later, also when nothing is
 * removed) or -RUNNEL_ESTATE while a truncation or a read is in flight.
 */
int partition_truncate_prefix(struct partition *partition, uint64_t log_start_offset,
                              uint64_t checkpoint_op, partition_truncate_callback callback,
                              void *context);

/*
 * Suffix truncation for VSR: drops every record at op_min and above, with its index entry,
 * in any segment, durably before it returns. Synchronous (io_wait, like partition_open):
 * call it from outside I/O dispatch (the journal's loop pass). Records appended below
 * op_min are flushed first; segments above the one holding op_min are removed (last
 * first, each name change made durable); that segment's index is cut, then its log (a
 * crash in between leaves old records after op_min, which recovery keeps: a prefix of
 * the old log, never a hole below op_min); then the partition is reopened, so the tail,
 * the chain and the buffers are rebuilt by recovery. A reopen that still finds records at
 * op_min (the disk did not keep the cut: a misdirected write) makes the cut again, up to 3
 * times, then fails the partition with -RUNNEL_EFORMAT. Faulty ops below op_min stay
 * faulty. Returns 0 (also when op_min is above the last op), -RUNNEL_ESTATE while a read,
 * repair, prefix truncation or checkpoint write is in flight (retry once idle),
 * -RUNNEL_ENOTFOUND when op_min is below the log or in a segment whose first op is
 * unknown, -RUNNEL_EFAULTY when the record before op_min has no known position, or the
 * I/O error (the partition is then failed: reopen it).
 */
int partition_truncate_suffix(struct partition *partition, uint64_t op_min);

/*
 * Restart for VSR state transfer (a replica whose next op is below every peer's log start):
 * removes every record and segment file (durably, the last segment first), then begins the
 * log again with one empty segment whose base offset is header's offset, its chain resuming
 * right below header (op - 1, parent): the next append must be header's record. Synchronous
 * like partition_truncate_suffix (outside I/O dispatch). A crash in between leaves a prefix
 * of the old segments or an empty log (opened from the checkpoint file, if any): never a
 * hole. Returns 0, -RUNNEL_ESTATE while a read, prefix truncation or checkpoint write is in
 * flight (retry once idle), or the I/O error (the partition is then failed: reopen it).
 */
int partition_restart(struct partition *partition, const struct vsr_header *header);

/* Rewrites one faulty record of the tail segment with an intact copy (from a peer). */
struct partition_repair;
typedef void (*partition_repair_callback)(struct partition_repair *repair, int result,
                                          void *context);

struct partition_repair {
    struct io_completion completion;
    struct partition *partition;
    partition_repair_callback callback;
    void *context;
    const struct vsr_header *header;
    const void *body;
    uint8_t *buffer; /* sector-aligned scratch: the sectors around the record */
    uint64_t buffer_size_bytes;
    uint64_t from_bytes; /* aligned span rewritten */
    uint64_t span_bytes;
    bool is_syncing;
    uint32_t segment;        /* holding the op */
    uint64_t position_bytes; /* of the record in its segment */
    bool is_entry_step;      /* sealed: reading the index entry that locates the record */
};

/*
 * Repairs faulty op (partition_is_faulty) in place, in any segment: header must be the
 * very record the index names (same checksum), body its body. For a sealed segment the
 * index entry is read first (an intact entry locates the record; a damaged one makes the
 * callback report -RUNNEL_ENOTFOUND: the index is rebuilt at the next open). Reads the
 * sectors around the record, patches them, writes them back (and fdatasyncs under
 * `fsync`), then clears the fault. Returns 0 (callback later), -RUNNEL_ENOTFOUND (not a
 * faulty op, or the tail's position unknown), -RUNNEL_EFORMAT (another record),
 * -RUNNEL_ETOOLARGE (buffer) or -RUNNEL_ESTATE (a flush touches the same sectors, or a
 * truncation runs: retry after it).
 */
int partition_repair(struct partition *partition, struct partition_repair *repair,
                     const struct vsr_header *header, const void *body, uint8_t *buffer,
                     uint64_t buffer_size_bytes, partition_repair_callback callback, void *context);

/* Ops found damaged (recovery, reads) and not yet repaired. partition_is_faulty is also
 * true of an op between two segments' ops (records lost at a segment's end or start,
 * places unknown: not listed, never repaired in place, replaced by a suffix cut). */
uint32_t partition_faulty_count(const struct partition *partition);
uint64_t partition_faulty_op(const struct partition *partition, uint32_t index);
bool partition_is_faulty(const struct partition *partition, uint64_t op);

/* Poll view of messages [offset_first, offset_first + count_max) of a verified MESSAGES
 * record (partition_read result): a batch_slice. Returns 0 or -RUNNEL_ENOTFOUND. */
int partition_record_slice(const struct partition_read *read, uint64_t offset_first,
                           uint32_t count_max, struct batch_slice *slice_out);

#endif
