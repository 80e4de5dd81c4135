/*
 * What a VSR replica needs from its journal (the partition log in storage/, or the
 * simulator's in-memory log). The journal stores prepares (header + body) by op, may
 * overwrite an op's entry (repair, a new view's log), and reports each entry as verified,
 * faulty (written once, now damaged: never to be nacked) or missing (never durably
 * written). Reads are synchronous; writes complete later through
 * vsr_replica_on_journal_write. Truncation is durable when the call returns.
 */
#ifndef RUNNEL_VSR_JOURNAL_H
#define RUNNEL_VSR_JOURNAL_H

#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stdint.h>

struct vsr_journal {
    /*
     * Starts writing a prepare at header->u.prepare.op, replacing any entry there. The
     * journal copies header and body before returning. Returns 0 or a negative code
     * (-RUNNEL_EFULL: try again later). Completion is reported to the replica later.
     */
    int (*write)(const struct vsr_header *header, const void *body, void *context);
    /*
     * Reads op's entry: 0 with header_out (and body_out, up to body_size_max bytes;
     * body_out may be NULL for the header alone) verified by checksum; -RUNNEL_EFAULTY
     * when the entry is damaged; -RUNNEL_ENOTFOUND when nothing was durably written;
     * -EAGAIN when the read may not wait now (the replica retries from a later tick).
     */
    int (*read)(uint64_t op, struct vsr_header *header_out, void *body_out, uint32_t body_size_max,
                void *context);
    /* Drops every entry at op_min and above; durable on return. */
    void (*truncate)(uint64_t op_min, void *context);
    /* Highest op holding any entry (verified or faulty), 0 when empty. */
    uint64_t (*op_max)(void *context);
    /*
     * Optional (both NULL: the journal always begins at op 1). op_first: the lowest op the
     * journal may hold (prefix truncation removed the ones below, or a restart began there);
     * 1 when it begins at op 1. restart: drops every entry and begins the journal again at
     * header's op, durable on return: the next write is header's prepare, whose parent is
     * not checked. For a log_retained replica whose next op no peer holds any more
     * (vsr/replica_records.c). Returns 0 or a negative code (-RUNNEL_ESTATE: retry later).
     */
    uint64_t (*op_first)(void *context);
    int (*restart)(const struct vsr_header *header, void *context);
    void *context;
};

/* The durable per-group view state (a slot in the per-shard superblock). */
struct vsr_superblock_state {
    uint32_t view;     /* highest view this replica advertised or may advertise */
    uint32_t log_view; /* view whose log this replica holds; <= view */
    uint64_t commit_max;
    uint64_t log_head_op;   /* head installed when log_view began */
    u128 log_head_checksum; /* checksum of that head's prepare header */
    /*
     * That head's prepare header (all zero while unknown, and for op 0): a restart whose
     * journal never received the head's prepare still follows the hash chain down from it
     * (its parent names op - 1) and names it in its do_view_change. Untrusted on load.
     */
    struct vsr_header log_head_header;
    /* The durable checkpoint (0: none; the log starts at op 1): its op, and the checksum
     * and size of its bytes in the checkpoint store. Never goes back. */
    uint64_t checkpoint_op;
    u128 checkpoint_checksum;
    uint64_t checkpoint_size_bytes;
    /*
     * The superblock names the group: this replica wrote its state at least once (every
     * write sets it; a store that keeps a slot per group reports it for a group it holds).
     * A replica writes it before it sends anything that binds it (prepare, prepare_ok, a
     * vote or a view change message), so false means it never acted: a new group's
     * view-0 primary leads view 0 at once (vsr_replica_recover).
     */
    bool formed;
    /*
     * 0, or the op log_view's log had reached when a state transfer's journal restart
     * dropped the ops above commit_min (vsr_replica_records_restart): its do_view_changes
     * say partial while its op is below it. Durable before the restart drops them, so a
     * crash after it still knows; 0 again with the next view installed (in the same write
     * as that log_view: the mark belongs to the log of the log_view it is stored with).
     */
    uint64_t log_dropped_op;
};

/*
 * The superblock seam: write persists a whole state (atomically) and completes later
 * through vsr_replica_on_superblock_write; at most one write is in flight per replica.
 *
 * Checkpoint store (needed when checkpoint_interval > 0; NULL otherwise): the bytes of a
 * checkpoint are written in chunks (offset 0 first, in order; last marks the final
 * chunk), each completing through vsr_replica_on_checkpoint_write, at most one in flight;
 * the replica keeps a chunk's bytes untouched until that completion.
 * Once the last chunk is durable the checkpoint is complete and readable by the checksum
 * of its bytes; the previous complete checkpoint stays readable until the next one is
 * complete (the superblock names one of the two). A crash drops an incomplete one.
 * checkpoint_read reads bytes [offset, offset + size) of a complete checkpoint: 0,
 * -RUNNEL_ENOTFOUND, or -RUNNEL_EFAULTY when its bytes no longer match checksum.
 */
struct vsr_superblock {
    int (*write)(const struct vsr_superblock_state *state, void *context);
    void *context;
    int (*checkpoint_write)(uint64_t offset, const void *bytes, uint32_t size_bytes, bool last,
                            void *context);
    int (*checkpoint_read)(u128 checksum, uint64_t offset, void *bytes, uint64_t size_bytes,
                           void *context);
    void *checkpoint_context; /* handed to checkpoint_write and checkpoint_read */
};

/*
 * The state machine behind a group (metadata or a partition). apply runs once per
 * committed op, in op order, on every replica, and writes the reply body; it returns the
 * reply size in bytes (<= reply_size_max). reset returns it to the empty state (restart).
 * prepare (optional) lets the primary stamp what only it may decide (message offsets).
 */
struct vsr_state_machine {
    uint32_t (*apply)(const struct vsr_header *prepare, const void *body, void *reply_body,
                      uint32_t reply_size_max, void *context);
    void (*reset)(void *context);
    void *context;
    /*
     * Optional, primary only, once per new prepare before it is sealed: fills the state
     * machine's own prepare fields (offset, message_count) and may stamp a copy of the body
     * into scratch (body_size_bytes fit); returns the body to journal (body or scratch).
     */
    const void *(*prepare)(struct vsr_header *prepare, const void *body, uint32_t body_size_bytes,
                           void *scratch, void *context);
    /*
     * Checkpoints (needed when checkpoint_interval > 0): snapshot writes the whole state
     * after the last applied op into buffer and returns its size (<= size_max); restore
     * replaces the state with a snapshot's bytes (this replica's or a peer's, checksum
     * verified but still validated: returns 0 or -RUNNEL_EFORMAT).
     */
    uint32_t (*snapshot)(void *buffer, uint32_t size_max, void *context);
    int (*restore)(const void *bytes, uint32_t size_bytes, void *context);
};

/* Where the replica's messages go: to a replica index, or (reply) to a client id. */
struct vsr_bus {
    void (*send)(uint8_t replica_target, const struct vsr_header *header, const void *body,
                 void *context);
    void (*reply)(u128 client, const struct vsr_header *header, const void *body, void *context);
    void *context;
};

#endif
