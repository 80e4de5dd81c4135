/*
 * Per-partition figures the broker reports (stats, stream and topic details): messages,
 * bytes, segments and the next offset of each partition group, published by the shard
 * that owns the group and read by any shard answering a read, without locks. One entry
 * per metadata partition slot, tagged with the incarnation it describes, so a slot reused
 * by a recreated partition never reports the old one's figures. Allocated at broker_init.
 */
#ifndef RUNNEL_NODE_BROKER_STATS_H
#define RUNNEL_NODE_BROKER_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct broker_stats_partition {
    _Atomic uint64_t incarnation; /* 0: nothing published */
    _Atomic uint64_t message_count;
    _Atomic uint64_t size_bytes; /* message batches as stored */
    _Atomic uint64_t segment_count;
    _Atomic uint64_t offset_next;
    _Atomic uint64_t role_incarnation; /* 0: no role published */
    _Atomic uint64_t role_state;       /* view << 8 | vsr status */
};

struct broker_stats_figures {
    uint64_t message_count;
    uint64_t size_bytes;
    uint64_t segment_count;
    uint64_t offset_next;
};

struct broker_stats {
    struct broker_stats_partition *partitions; /* [partitions_max] by metadata slot */
    uint32_t partitions_max;
    _Atomic uint64_t metadata_role_state; /* shard 0: view << 8 | vsr status (0: none yet) */
};

/* A group's replica as its owning shard last saw it (DESIGN.md §10.4's map). */
struct broker_stats_role {
    uint32_t view;
    uint8_t status; /* enum vsr_status */
};

/* Allocates partitions_max entries (main thread). Returns 0 or -ENOMEM. */
int broker_stats_init(struct broker_stats *stats, uint32_t partitions_max);
void broker_stats_deinit(struct broker_stats *stats);

/* The owning shard publishes slot's figures for incarnation (after each apply). */
void broker_stats_publish(struct broker_stats *stats, uint32_t slot, uint64_t incarnation,
                          const struct broker_stats_figures *figures);

/*
 * Any shard: slot's figures for incarnation into out; false (out zeroed) when none are
 * published for that incarnation (the partition was not opened since start-up, or the
 * slot now describes another one).
 */
bool broker_stats_read(const struct broker_stats *stats, uint32_t slot, uint64_t incarnation,
                       struct broker_stats_figures *out);

/* The owning shard publishes slot's replica view and status for incarnation (each tick). */
void broker_stats_role_publish(struct broker_stats *stats, uint32_t slot, uint64_t incarnation,
                               struct broker_stats_role role);

/* Any shard: slot's role for incarnation; false (out zeroed) when none is published. */
bool broker_stats_role_read(const struct broker_stats *stats, uint32_t slot, uint64_t incarnation,
                            struct broker_stats_role *out);

/* Shard 0 publishes the metadata group's role each tick; any shard reads it (false: none). */
void broker_stats_metadata_role_publish(struct broker_stats *stats, struct broker_stats_role role);
bool broker_stats_metadata_role_read(const struct broker_stats *stats,
                                     struct broker_stats_role *out);

#endif
