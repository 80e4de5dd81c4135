/*
 * A node's recovery from its cluster (DESIGN.md §10.10, node/format.h). A node whose data
 * directory was empty formats itself recovering; while the directory's recovering marker
 * exists, every group the node opens starts recovering (vsr_replica_config.recovering: it
 * never votes before it holds again what it may once have acknowledged). Each shard opens
 * the partitions of the metadata it owns (peers may never name an idle group) and reports
 * how many are not open or still recovering; shard 0 ends the recovery once the metadata
 * group caught up and every shard reported none at a metadata op at or past the one the
 * metadata group caught up to: it removes the marker durably, then clears the flag (groups
 * opened later are new: created after the node joined, nothing acknowledged there before).
 * Logs recovery_progress every 5 s and recovery_complete.
 *
 * The flag is read by every shard; a shard's report is written by that shard and read by
 * shard 0; everything else is shard 0's.
 */
#ifndef RUNNEL_NODE_RECOVERY_H
#define RUNNEL_NODE_RECOVERY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vsr_replica;

enum { RECOVERY_PROGRESS_TICKS = 500, RECOVERY_SHARD_TICKS = 50 };

struct recovery_shard {
    _Atomic uint64_t checked_op; /* metadata op of the version the report counted (+1; 0: none) */
    _Atomic uint32_t pending;    /* partitions this shard owns not open or still recovering */
    _Atomic uint32_t total;      /* partitions this shard owns */
};

struct recovery {
    atomic_bool is_active;
    atomic_bool is_metadata_done; /* the metadata group caught up (set by shard 0) */
    const char *data_dir;         /* the config's: outlives the node */
    uint32_t shard_count;
    struct recovery_shard *shards; /* [shard_count] */
    /* Shard 0's. */
    uint64_t tick;
    uint64_t started_tick;
    uint64_t metadata_op; /* the metadata state's op once its group caught up; 0: not yet */
    bool is_failed;       /* the marker could not be removed: logged once, retried */
};

/* Sets recovery up inactive for shard_count shards. Returns 0 or -ENOMEM. */
int recovery_init(struct recovery *recovery, const char *data_dir, uint32_t shard_count);
void recovery_deinit(struct recovery *recovery);

/* The node recovers (format_identity.is_recovering): before the shards start. */
void recovery_activate(struct recovery *recovery);

/* True while the node recovers: groups opened now start recovering. Any shard. */
bool recovery_is_active(const struct recovery *recovery);

/* True while the node recovers and its metadata group has not caught up: its metadata
 * may lack users and streams, so logins are answered 58 (resent by Iggy's SDKs) instead
 * of a refusal. Any shard. */
bool recovery_is_metadata_pending(const struct recovery *recovery);

/* shard_index counted, in the metadata version of op, pending of its total partitions not
 * open or still recovering. That shard only. */
void recovery_shard_report(struct recovery *recovery, uint32_t shard_index, uint64_t op,
                           uint32_t pending, uint32_t total);

/* Shard 0, every tick while active: progress, and the end of the recovery once metadata
 * (this node's metadata replica; metadata_op: the op of the metadata state it applied, the
 * op the shards' reports name) and every shard's partitions caught up. */
void recovery_tick(struct recovery *recovery, const struct vsr_replica *metadata,
                   uint64_t metadata_op);

#endif
