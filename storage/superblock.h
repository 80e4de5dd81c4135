/*
 * The per-shard superblock (DESIGN.md §4): the VSR state of every group owned by a shard
 * (view, log_view, checkpoint, the installed log head and its header, the mark of ops a journal
 * restart dropped; commit lazily) and the shard count the data directory was formatted with, in
 * SUPERBLOCK_COPIES checksummed, sequence-numbered copies of one file. The magic names the
 * layout's version: a copy of another layout is invalid (never read as this one).
 *
 * A write encodes the state once with sequence + 1 and writes the copies one at a time,
 * each followed by fdatasync, so a crash tears at most the copy being written. Opening
 * picks the valid copy with the highest sequence: a torn or corrupt copy is skipped, and
 * since every copy of a sequence is identical, state never goes back past the last write
 * that completed. The copy number sits outside the checksum, so a read that lands on the
 * wrong copy (misdirected) is detected by the copy field.
 *
 * Writes happen only when a view, log_view, checkpoint, log head or the dropped ops' mark
 * changed (commit alone rides along with the next one) and at most once per superblock_tick.
 * Memory is allocated at init from groups_max. Runs on its shard; I/O through lib/io.h.
 */
#ifndef RUNNEL_STORAGE_SUPERBLOCK_H
#define RUNNEL_STORAGE_SUPERBLOCK_H

#include "lib/io.h"
#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stdint.h>

enum { SUPERBLOCK_COPIES = 4, SUPERBLOCK_GROUP_SIZE = 368, SUPERBLOCK_HEADER_SIZE = 64 };

struct superblock_group {
    struct vsr_group group;
    uint32_t view;
    uint32_t log_view;
    uint64_t commit;
    uint64_t checkpoint_op;
    u128 checkpoint_id; /* checksum of the checkpoint's bytes */
    /* The head log_view installed: op, checksum and (zero while unknown) its prepare
     * header, so a restart can follow the hash chain down from it. May go back (a later
     * view truncates uncommitted ops). */
    uint64_t log_head_op;
    uint64_t checkpoint_size_bytes;
    u128 log_head_checksum;
    struct vsr_header log_head;
    /* 0, or the op log_view's log had reached when a state transfer's journal restart
     * dropped the ops above commit (vsr_superblock_state.log_dropped_op). Goes back to 0
     * with a new log_view. */
    uint64_t log_dropped_op;
    uint8_t reserved[8];
};

_Static_assert(sizeof(struct superblock_group) == SUPERBLOCK_GROUP_SIZE, "368-byte group");

struct superblock;
/* Called when the write of sequence is durable (every copy), or with result < 0. */
typedef void (*superblock_callback)(struct superblock *superblock, uint64_t sequence, int result,
                                    void *context);

struct superblock_options {
    const char *path; /* e.g. data/shard-3/superblock */
    u128 cluster;
    uint32_t shard_count;
    uint32_t groups_max;
    superblock_callback callback;
    void *context;
};

struct superblock {
    struct io *io;
    struct superblock_options options;
    struct superblock_group *groups; /* groups_max */
    uint32_t group_count;
    uint64_t sequence;         /* highest sequence written or being written */
    uint64_t sequence_durable; /* highest sequence whose every copy is durable */
    bool is_dirty;             /* a view, log_view or checkpoint changed since encoding */
    int32_t file;
    uint64_t copy_size_bytes;
    uint8_t *buffer; /* one encoded copy, sector-aligned */
    uint32_t copy;   /* copy being written; SUPERBLOCK_COPIES when idle */
    bool is_syncing; /* the copy's write is done; its fdatasync is in flight */
    struct io_completion completion;
};

/* Allocates from options. Returns 0 or -ENOMEM. */
int superblock_init(struct superblock *superblock, const struct superblock_options *options);
void superblock_deinit(struct superblock *superblock);

/* Creates the file with every copy at sequence 1 and no groups, durable, then leaves it
 * open (synchronous: formatting). -EEXIST when the file exists. */
int superblock_format(struct superblock *superblock, struct io *io);

/*
 * Opens and loads the newest valid copy (synchronous: start-up). Returns 0,
 * -RUNNEL_ENOTFOUND when no copy is valid, -RUNNEL_EFORMAT when none is and one names
 * another layout version (logged: superblock_version), -RUNNEL_ECONFIG when the shard count
 * differs from the one formatted (the caller prints one line and exits), or -errno.
 */
int superblock_open(struct superblock *superblock, struct io *io);
void superblock_close(struct superblock *superblock);

/*
 * Records group's state. view, log_view and checkpoint_op never go back (asserted: VSR's
 * invariant). Marks the superblock dirty when view, log_view, the checkpoint, the log
 * head or log_dropped_op changed;
 * a commit change alone is kept in memory until the next write. Returns 0 or
 * -RUNNEL_EFULL when groups_max groups are already known.
 */
int superblock_group_set(struct superblock *superblock, const struct superblock_group *state);

/* The stored state of group, or -RUNNEL_ENOTFOUND. */
int superblock_group_get(const struct superblock *superblock, const struct vsr_group *group,
                         struct superblock_group *state_out);

/* Once per tick: starts a write when dirty and none is in flight. Returns 0. */
int superblock_tick(struct superblock *superblock);

#endif
