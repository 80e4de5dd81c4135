/*
 * One VSR replica's seams for unit tests: the simulator's in-memory journal and superblock
 * (with its checkpoint store), a fake clock and a PRNG, each reporting completions to the
 * replica. The test initialises replica itself (vsr_replica_init with the interfaces of
 * journal and superblock). Single thread.
 */
#ifndef RUNNEL_TESTS_UNIT_HELPER_VSR_H
#define RUNNEL_TESTS_UNIT_HELPER_VSR_H

#include "lib/clock.h"
#include "lib/prng.h"
#include "tests/sim/sim_journal.h"
#include "vsr/replica.h"

#include <stdint.h>

struct helper_vsr {
    struct prng prng;
    uint64_t tick;
    struct clock_fake clock;
    struct sim_journal journal;
    struct sim_superblock superblock;
    struct vsr_replica replica;
};

/* Sets the seams up (a journal ring of ops_max ops); fails the test if it cannot. */
void helper_vsr_init(struct helper_vsr *vsr, uint64_t ops_max, uint64_t seed);

/* Initialises vsr->replica over the seams (the simulated journal and superblock, the fake
 * clock, the superblock's durable state) with the test's state machine and bus; returns
 * vsr_replica_init's result. */
int helper_vsr_start(struct helper_vsr *vsr, const struct vsr_replica_config *config,
                     const struct vsr_state_machine *machine, const struct vsr_bus *bus);

/* Frees the replica (when initialised) and the seams. */
void helper_vsr_deinit(struct helper_vsr *vsr);

/* One tick: the clock moves 10 ms, due writes complete, the replica ticks. */
void helper_vsr_tick(struct helper_vsr *vsr);

/* count ticks (helper_vsr_tick each). */
void helper_vsr_ticks(struct helper_vsr *vsr, uint32_t count);

/* A state machine and bus that do nothing, for tests that only watch the replica: apply
 * replies with nothing, reset keeps nothing, snapshot is empty, replies are dropped. */
uint32_t helper_vsr_apply_nothing(const struct vsr_header *prepare, const void *body,
                                  void *reply_body, uint32_t reply_size_max, void *context);
void helper_vsr_reset_nothing(void *context);
uint32_t helper_vsr_snapshot_empty(void *buffer, uint32_t size_max, void *context);
void helper_vsr_reply_dropped(u128 client, const struct vsr_header *header, const void *body,
                              void *context);

/* A peer's checkpoint of anchor's op for a replica of config, as the replica encodes one:
 * the anchor header, the frame, an empty session table and a state of 40 bytes (0x33 each;
 * state_size_max must allow 40). Written into bytes (capacity bytes, zero-filled first);
 * returns its size. */
uint64_t helper_vsr_checkpoint_bytes(const struct vsr_replica_config *config,
                                     const struct vsr_header *anchor, uint8_t *bytes,
                                     uint64_t capacity);

/* Delivers a checkpoint of op (bytes, total bytes) to vsr->replica from sender in view, in
 * chunks of chunk bytes naming log_op_first (cluster and group: the replica's), 4 ticks
 * after each (its write completes). */
void helper_vsr_checkpoint_send(struct helper_vsr *vsr, uint8_t sender, uint32_t view, uint64_t op,
                                const uint8_t *bytes, uint64_t total, uint64_t chunk,
                                uint64_t log_op_first);

#endif
