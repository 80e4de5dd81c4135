/*
 * VSR quorum sizes (TigerBeetle's flexible quorums, research/vsr.md §1.2, DESIGN.md §4).
 *
 * replication: min(ceil(n/2), 3), except 2 when n = 2.
 * view change: max(n - replication + 1, majority), so any view-change quorum intersects
 *              every replication quorum.
 * nack:        n - replication + 1: that many "never prepared it" answers prove that no
 *              replication quorum ever held the op, so it may be truncated.
 */
#ifndef RUNNEL_VSR_QUORUM_H
#define RUNNEL_VSR_QUORUM_H

#include <stdint.h>

/* Prepare-oks (the primary included) needed to commit an op; replica_count in [1, 6]. */
uint32_t vsr_quorum_replication(uint32_t replica_count);

/* start_view_change votes (or do_view_change messages) needed to move to a new view. */
uint32_t vsr_quorum_view_change(uint32_t replica_count);

/* Nacks needed to truncate an uncommitted op during a view change. */
uint32_t vsr_quorum_nack(uint32_t replica_count);

/*
 * The highest op a replication quorum has reached, given each replica's op (ops has
 * replica_count entries): the replication-quorum-th highest of them.
 */
uint64_t vsr_quorum_op(const uint64_t *ops, uint32_t replica_count);

/* Number of bits set in a replica bitset. */
uint32_t vsr_quorum_count(uint64_t bitset);

#endif
