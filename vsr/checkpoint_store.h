/*
 * The checkpoint store of a VSR group (vsr/journal.h: checkpoint_write, checkpoint_read) on
 * two files in the group's directory, "vsr-checkpoint-0" and "vsr-checkpoint-1" (DESIGN.md
 * §4-§5: a partition group's checkpoints live next to its segments).
 *
 * One file holds the complete checkpoint the replica last made durable (or read back at
 * start-up); a new checkpoint is written into the other one, chunk by chunk at its offsets,
 * and its last chunk is followed by an fdatasync: only then is it complete (reported to
 * the replica, which names it in the superblock next). A crash while writing leaves the
 * previous complete checkpoint untouched in its file; the superblock names one of the two
 * by the checksum of its bytes, so a read tries both files and returns the one whose bytes
 * match (a torn or stale file never matches). Bytes that match neither are refused with
 * -RUNNEL_EFAULTY, never trusted.
 *
 * Writes are asynchronous through lib/io.h; the caller's bytes must stay untouched until
 * the write is reported (the replica writes from its checkpoint buffer). Completions are
 * handed to the owner by checkpoint_store_pass, outside the ring's dispatch, like the
 * journal's reports. Reads are synchronous (io_wait): only at start-up (replica recovery), never
 * inside dispatch. Runs on the shard that owns the group.
 */
#ifndef RUNNEL_VSR_CHECKPOINT_STORE_H
#define RUNNEL_VSR_CHECKPOINT_STORE_H

#include "lib/io.h"
#include "vsr/journal.h"

#include <stdbool.h>
#include <stdint.h>

enum { CHECKPOINT_STORE_FILES = 2 };

struct checkpoint_store {
    struct io *io;
    char paths[CHECKPOINT_STORE_FILES][IO_PATH_SIZE_MAX];
    int32_t files[CHECKPOINT_STORE_FILES]; /* -1: closed */
    int32_t current;                       /* file of the complete checkpoint; -1: none known */
    int32_t writing;                       /* file being written; -1: none */
    struct io_completion write_completion;
    struct io_completion sync_completion;
    uint32_t pending; /* completions of the write in flight */
    uint64_t pending_size_bytes;
    int pending_result;
    bool is_last;           /* the write in flight ends a checkpoint */
    bool is_reported;       /* false: a finished write waits for the pass to report it */
    int failed;             /* an I/O error: no more writes (the group stops checkpointing) */
    uint64_t written_count; /* complete checkpoints written */
};

/*
 * Opens (creating when absent) both files under directory, synchronously (io_wait: call it
 * at start-up or from the loop pass), and makes their names durable. Returns 0,
 * -RUNNEL_ETOOLARGE (path) or -errno.
 */
int checkpoint_store_open(struct checkpoint_store *store, struct io *io, const char *directory);

/* Closes both files (synchronously, as open). Nothing may be in flight. */
void checkpoint_store_close(struct checkpoint_store *store);

/* The vsr_superblock checkpoint seam (vsr/journal.h), context = the store: set
 * checkpoint_write and checkpoint_read to these and checkpoint_context to the store.
 * write returns 0, -RUNNEL_EFULL (a write in flight: the replica tries again later),
 * -RUNNEL_ESTATE (a chunk that does not continue the checkpoint being written) or the
 * store's I/O failure; read returns 0, -RUNNEL_ENOTFOUND (neither file holds bytes of
 * that checksum, or offset is not 0: only whole checkpoints are read back), -RUNNEL_EFAULTY
 * (a file holds that many bytes, none match), -EAGAIN (inside dispatch) or -errno. */
int checkpoint_store_write(uint64_t offset, const void *bytes, uint32_t size_bytes, bool last,
                           void *context);
int checkpoint_store_read(u128 checksum, uint64_t offset, void *bytes, uint64_t size_bytes,
                          void *context);

/* Once per loop pass, outside dispatch: true when a write finished since the last call
 * (the owner reports it: vsr_replica_on_checkpoint_write). A failed write never finishes. */
bool checkpoint_store_pass(struct checkpoint_store *store);

/* True while a write is in flight or unreported. */
bool checkpoint_store_is_busy(const struct checkpoint_store *store);

#endif
