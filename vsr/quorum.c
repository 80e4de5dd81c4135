/*
 * VSR quorum arithmetic: pure functions of the replica count, used by every group on
 * every shard. Owns nothing.
 */
#include "vsr/quorum.h"

#include "lib/assert.h"
#include "proto/vsr_header.h"

#include <string.h>

uint32_t vsr_quorum_replication(uint32_t replica_count)
{
    assert(replica_count >= 1);
    assert(replica_count <= VSR_REPLICAS_MAX);
    if (replica_count == 2) {
        return 2;
    }
    uint32_t half_up = (replica_count + 1) / 2;
    uint32_t quorum = half_up < 3 ? half_up : 3;
    assert(quorum >= 1 && quorum <= replica_count);
    return quorum;
}

uint32_t vsr_quorum_view_change(uint32_t replica_count)
{
    assert(replica_count >= 1);
    assert(replica_count <= VSR_REPLICAS_MAX);
    uint32_t flexible = replica_count - vsr_quorum_replication(replica_count) + 1;
    uint32_t majority = replica_count / 2 + 1;
    uint32_t quorum = flexible > majority ? flexible : majority;
    /* Every view-change quorum meets every replication quorum. */
    assert(quorum + vsr_quorum_replication(replica_count) > replica_count);
    assert(quorum <= replica_count);
    return quorum;
}

uint32_t vsr_quorum_nack(uint32_t replica_count)
{
    assert(replica_count >= 1);
    assert(replica_count <= VSR_REPLICAS_MAX);
    uint32_t quorum = replica_count - vsr_quorum_replication(replica_count) + 1;
    /* A nack quorum and a replication quorum cannot both exist. */
    assert(quorum + vsr_quorum_replication(replica_count) > replica_count);
    assert(quorum >= 1);
    return quorum;
}

uint64_t vsr_quorum_op(const uint64_t *ops, uint32_t replica_count)
{
    assert(ops != NULL);
    assert(replica_count >= 1 && replica_count <= VSR_REPLICAS_MAX);
    uint64_t sorted[VSR_REPLICAS_MAX];
    memcpy(sorted, ops, replica_count * sizeof(sorted[0]));
    for (uint32_t i = 1; i < replica_count; i++) {
        for (uint32_t j = i; j > 0 && sorted[j - 1] < sorted[j]; j--) {
            uint64_t swap = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = swap;
        }
    }
    return sorted[vsr_quorum_replication(replica_count) - 1];
}

uint32_t vsr_quorum_count(uint64_t bitset)
{
    uint32_t count = (uint32_t)__builtin_popcountll(bitset);
    assert(count <= 64);
    return count;
}
