/*
 * The simulator's VSR journal and superblock: an in-memory ring of prepares per replica
 * (slot = op mod (ops_max + 1), as the replica's own ring: a write of op replaces the op
 * one ring below it; a write older than what its slot holds lands nowhere) implementing
 * struct vsr_journal, with writes that complete after a seeded delay and
 * faults: a crash keeps, drops or tears each unsynced write; bit flips damage durable
 * entries (reported as faulty on read, by checksum); a misdirected write lands on a lower
 * op's slot (faulty there: the op does not match) and leaves its own entry damaged (the
 * partition log's second header copy in the index says a record is due there, so the
 * entry reads as faulty, never as missing). Plus a superblock slot whose writes
 * are atomic and complete later (a crash keeps or drops a pending write), with a checkpoint
 * store of two checkpoints (the one the durable superblock names is never written over;
 * chunk writes complete later, a crash drops the pending one). Single thread.
 */
#ifndef RUNNEL_TESTS_SIM_SIM_JOURNAL_H
#define RUNNEL_TESTS_SIM_SIM_JOURNAL_H

#include "lib/prng.h"
#include "vsr/journal.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    SIM_BODY_SIZE_MAX = 16,
    SIM_JOURNAL_WRITES_MAX = 256,
    SIM_CHECKPOINT_SIZE_MAX = 16384,
    SIM_CHUNK_SIZE_MAX = SIM_CHECKPOINT_SIZE_MAX, /* own checkpoints: one write */
};

struct sim_journal_entry {
    struct vsr_header header;
    uint8_t body[SIM_BODY_SIZE_MAX];
    uint64_t op; /* the op this slot was written for */
    /* Checksum of the write of op that completed here (reported durable, or kept by a
     * crash), kept when the bytes are damaged later; 0 when the bytes here never were a
     * completed write (torn by a crash). What the replica may have acked: the checkers'. */
    u128 durable_checksum;
    bool used;
};

struct sim_journal_write {
    struct sim_journal_entry entry;
    uint64_t due_tick;
    bool used;
};

/* Called when a write is durable. */
typedef void (*sim_journal_write_callback)(uint64_t op, u128 checksum, void *context);

struct sim_journal {
    struct sim_journal_entry *entries; /* ops_max + 1 ring slots */
    uint64_t ops_max;
    struct sim_journal_write writes[SIM_JOURNAL_WRITES_MAX];
    struct prng *prng;
    const uint64_t *tick;
    uint32_t write_ticks_max;
    bool faults;                  /* may tear writes on crash, flip bits and misdirect writes */
    uint32_t misdirect_per_mille; /* with faults: chance that a write lands elsewhere */
    sim_journal_write_callback callback;
    void *callback_context;
    uint64_t bit_flips;
    uint64_t torn_writes;
    uint64_t misdirected_writes;
    uint64_t op_first; /* a restart or a prefix drop began the journal here (0: at op 1) */
};

/* Sets up an empty ring of ops_max + 1 slots (allocates once). Returns 0 or -ENOMEM. */
int sim_journal_init(struct sim_journal *journal, uint64_t ops_max, struct prng *prng,
                     const uint64_t *tick);
void sim_journal_deinit(struct sim_journal *journal);
/* Empties the journal (a new run). */
void sim_journal_reset(struct sim_journal *journal);
/* Prefix truncation (a partition log's segments deleted below a checkpoint): forgets every
 * op up to op_max; the journal's first op is op_max + 1 from now on (never lowered). */
void sim_journal_prefix_drop(struct sim_journal *journal, uint64_t op_max);
/* The struct vsr_journal over this journal. */
struct vsr_journal sim_journal_interface(struct sim_journal *journal);
/* Completes writes that are due (callbacks run here). */
void sim_journal_tick(struct sim_journal *journal);
/* Process crash: every pending write is kept, dropped or (faults) torn; no callbacks. */
void sim_journal_crash(struct sim_journal *journal);
/* Flips one bit of a random durable entry (when faults are on). */
void sim_journal_flip(struct sim_journal *journal);
/* Damages op's durable entry (faults on or off); false when there is none. */
bool sim_journal_flip_op(struct sim_journal *journal, uint64_t op);
/* True when a completed write of op's prepare with checksum is in the journal (perhaps
 * damaged since): the replica may have acked it, so it must never nack it. */
bool sim_journal_holds(const struct sim_journal *journal, uint64_t op, u128 checksum);
/* True when op's entry is there and reads back intact with checksum. */
bool sim_journal_is_intact(const struct sim_journal *journal, uint64_t op, u128 checksum);

/* Called when a superblock write is durable. */
typedef void (*sim_superblock_write_callback)(void *context);

struct sim_checkpoint_copy {
    uint8_t *bytes; /* SIM_CHECKPOINT_SIZE_MAX, allocated at the first checkpoint write */
    uint64_t size_bytes;
    u128 checksum;
    bool complete;
};

struct sim_superblock {
    struct sim_checkpoint_copy checkpoints[2];
    uint32_t building; /* copy the chunk writes go to */
    bool chunk_pending;
    uint64_t chunk_offset;
    uint32_t chunk_size;
    bool chunk_last;
    uint64_t chunk_due_tick;
    uint8_t *chunk; /* SIM_CHUNK_SIZE_MAX, allocated with the copies */
    sim_superblock_write_callback checkpoint_callback;
    uint64_t checkpoints_written;
    struct vsr_superblock_state durable;
    struct vsr_superblock_state pending;
    bool pending_used;
    uint64_t due_tick;
    struct prng *prng;
    const uint64_t *tick;
    sim_superblock_write_callback callback;
    void *callback_context;
};

void sim_superblock_init(struct sim_superblock *superblock, struct prng *prng,
                         const uint64_t *tick);
/* Frees the checkpoint store (allocated by the first checkpoint write). */
void sim_superblock_deinit(struct sim_superblock *superblock);
struct vsr_superblock sim_superblock_interface(struct sim_superblock *superblock);
void sim_superblock_tick(struct sim_superblock *superblock);
void sim_superblock_crash(struct sim_superblock *superblock);

#endif
