/*
 * The VSR superblock seam (vsr/journal.h struct vsr_superblock) on the per-shard storage
 * superblock (storage/superblock.h): every group a shard owns gets a slot; a replica's
 * write records its state in the shared superblock, and the next superblock write (at
 * most one in flight, started from the loop pass) makes it durable for every group that
 * changed at once (DESIGN.md §4: one write per shard, not per group).
 *
 * Mapping of struct vsr_superblock_state onto struct superblock_group: view, log_view,
 * commit_max -> commit, log_head_op, log_head_checksum, log_head_header -> log_head (the
 * head a log_view installed, with its header, is the durable anchor a restart needs),
 * log_dropped_op; formed is the group's presence in the superblock (a replica's first write
 * adds it).
 *
 * Completions are reported to replicas from superblock_storage_pass, outside the ring's
 * dispatch, like the journal's. Memory: slots_max slots allocated at init. Runs on its
 * shard.
 */
#ifndef RUNNEL_VSR_SUPERBLOCK_STORAGE_H
#define RUNNEL_VSR_SUPERBLOCK_STORAGE_H

#include "storage/superblock.h"
#include "vsr/journal.h"
#include "vsr/replica.h"

#include <stdbool.h>
#include <stdint.h>

struct superblock_storage;

struct superblock_storage_slot {
    struct superblock_storage *owner;
    bool is_used;
    bool is_waiting;        /* a write of this group's state is not yet durable */
    bool is_done;           /* durable (or nothing to write): report in the pass */
    uint64_t sequence_wait; /* the superblock sequence that carries the state */
    struct vsr_group group;
    struct vsr_replica *replica;
};

struct superblock_storage {
    struct superblock *superblock;
    struct superblock_storage_slot *slots; /* slots_max */
    uint32_t slots_max;
    uint64_t sequence_durable; /* highest sequence reported durable */
    uint32_t pending_count;    /* slots is_waiting or is_done (recounted by each pass) */
    int failed;
};

/* Allocates slots_max slots over an opened (or formatted) superblock. 0 or -ENOMEM. */
int superblock_storage_init(struct superblock_storage *storage, struct superblock *superblock,
                            uint32_t slots_max);
void superblock_storage_deinit(struct superblock_storage *storage);

/* The superblock's completion callback must forward here (from I/O dispatch). */
void superblock_storage_on_write(struct superblock_storage *storage, uint64_t sequence, int result);

/*
 * Takes a slot for group and fills state_out with its durable state (all zero for a new
 * group). Returns the slot index, or -RUNNEL_EFULL.
 */
int superblock_storage_slot_open(struct superblock_storage *storage, const struct vsr_group *group,
                                 struct vsr_superblock_state *state_out);

/* Names the replica of slot (after vsr_replica_init). */
void superblock_storage_slot_attach(struct superblock_storage *storage, uint32_t slot,
                                    struct vsr_replica *replica);

/* Frees slot (the group's last state stays in the superblock). */
void superblock_storage_slot_close(struct superblock_storage *storage, uint32_t slot);

/* The vsr_superblock interface of slot. */
struct vsr_superblock superblock_storage_interface(struct superblock_storage *storage,
                                                   uint32_t slot);

/* Once per loop pass, outside dispatch: starts a write when dirty and reports durable
 * states to their replicas. Returns 0 or the superblock's failure. */
int superblock_storage_pass(struct superblock_storage *storage);

/* True while some slot waits for a write. */
bool superblock_storage_is_busy(const struct superblock_storage *storage);

#endif
