/*
 * The data plane of one shard (DESIGN.md §3-§5): the partition VSR groups this shard owns
 * (partition -> shard is a fixed hash of (stream, topic, partition) modulo the shard
 * count), each a replica whose journal is the partition's storage log under
 * data/streams/{s}/topics/{t}/partitions/{p}.{incarnation}/, plus the shard's superblock
 * (data/shard-{i}/superblock) holding every group's view state.
 *
 * Writes (SendMessages, consumer-offset store and delete) become prepares: the primary
 * stamps offsets and the broker timestamp into the batch (vsr_state_machine.prepare), the
 * journal appends it, the loop pass group-commits (fdatasync under `fsync` durability)
 * and the commit executes it (apply: the offset index, the commit point, consumer
 * offsets) and answers. Polls read committed records only (never past the commit point),
 * from the tail buffer or from sealed segments, and are capped in bytes; auto-commit is
 * coalesced per partition and submitted on the tick without delaying the poll.
 *
 * A partition is opened on first use (its replica loads its latest checkpoint and replays
 * the log after it). Memory per partition is allocated when it opens; runs on the owning
 * shard only.
 *
 * Checkpoints (DESIGN.md §4; docs/OPERATIONS.md): each group checkpoints every half of its
 * log ring (limits.partition_ops_max ops): the state machine's snapshot
 * (data_plane_snapshot.c) inside VSR's checkpoint, written to two files in the partition's
 * directory (vsr/checkpoint_store.h); the ring wraps, so a partition has no op limit. The
 * records stay in the segments and polls find them through the segment indexes. Lagging
 * replicas: the partition log is the data, so no checkpoint can stand in for it; the groups
 * run with log_retained (vsr/replica.h): a replica within reach repairs what it missed from
 * its peers' partition logs (below their rings too), one that fell below their rings (a
 * slot is reused below a checkpoint durable on a replication quorum, so a down node never
 * pauses writes) takes a peer's checkpoint after pulling every committed record up to it
 * into its own partition log (vsr/replica_records.c). Every replica's log stays contiguous.
 *
 * Prefix truncation (data_plane_truncate.c): the primary replicates a new log start
 * (DeleteSegments, expiry, max size) as a TRUNCATE_PREFIX op; polls never serve below it;
 * each replica deletes whole sealed segments below it once a checkpoint that holds it is
 * durable and below the lowest checkpoint durable on every replica of the group.
 */
#ifndef RUNNEL_NODE_DATA_PLANE_H
#define RUNNEL_NODE_DATA_PLANE_H

#include "node/broker.h"
#include "node/cluster_forward.h"
#include "node/data_plane_drain.h"
#include "node/data_plane_retire.h"
#include "storage/partition.h"
#include "storage/partition_find.h"
#include "storage/superblock.h"
#include "vsr/checkpoint_store.h"
#include "vsr/heartbeat.h"
#include "vsr/journal_partition.h"
#include "vsr/replica.h"
#include "vsr/superblock_storage.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    DATA_PLANE_OFFSETS_MAX = 1024,
    DATA_PLANE_REPLY_SIZE_MAX = 64,
    DATA_PLANE_BUS_OPEN_MAX = 16,
    DATA_PLANE_SNAPSHOT_SIZE_MAX = 64 + 16 * DATA_PLANE_OFFSETS_MAX /* data_plane_snapshot.c */
};

struct data_offset {
    bool is_used;
    uint8_t kind; /* 1 consumer, 2 consumer group */
    uint32_t id;
    bool has_offset; /* committed */
    uint64_t offset;
    bool has_pending; /* auto-commit polled up to here (read-your-writes floor) */
    uint64_t pending;
    bool is_dirty; /* pending not yet submitted */
};

struct data_plane;

struct data_partition {
    bool is_used;
    struct data_plane *plane;
    struct vsr_group group;
    uint32_t metadata_slot;
    char directory[IO_PATH_SIZE_MAX];
    struct partition log;
    struct journal_partition journal;
    struct checkpoint_store checkpoints; /* the group's checkpoints, in its directory */
    struct vsr_replica replica;
    int32_t superblock_slot;
    uint64_t op_applied; /* executed: polls read committed records up to this op */
    u128 client;         /* this node's VSR client of the group */
    uint64_t session;    /* 0 until its register committed */
    uint64_t request_last;
    uint64_t offset_prepared_next;
    uint64_t commit_offset_next; /* offsets below are committed */
    uint64_t messages_count;
    uint64_t size_bytes;
    struct data_offset offsets[DATA_PLANE_OFFSETS_MAX];
    bool has_dirty_offsets;
    /* Prefix truncation (data_plane_truncate.c). Group state, raised by TRUNCATE_PREFIX
     * ops and never lowered: polls serve nothing below log_start_offset; removable_op is the
     * primary's replication-quorum checkpoint op (vsr_replica_log_removable_op) when it
     * prepared the latest one. */
    uint64_t log_start_offset;
    uint64_t removable_op;
    /* Local: the log's own checkpoint ({directory}/checkpoint, storage/partition.h) that
     * follows the group's durable one, and the deletion of segments below it. */
    uint64_t truncate_tick;            /* primary: ticks since retention was last checked */
    bool is_log_checkpoint_busy;       /* partition_checkpoint_write in flight */
    bool is_truncating;                /* partition_truncate_prefix in flight */
    uint32_t truncate_segments_before; /* segment count when the deletion started */
    uint64_t segments_removed;         /* segments this replica deleted (prefix truncation) */
    uint8_t log_checkpoint_buffer[128];
    struct broker_request *queue_head; /* writes waiting for the replica */
    struct broker_request *queue_tail;
    struct broker_request *in_flight[VSR_PIPELINE_MAX];
    uint32_t in_flight_count;
    struct broker_request *submitting; /* while the replica takes it (on_request) */
    struct broker_request *poll_head;  /* polls waiting for the active one */
    struct broker_request *poll_tail;
    struct broker_request *poll_active;
    uint64_t poll_op;
    uint64_t poll_offset; /* next offset to return (records below it are skipped) */
    uint32_t poll_remaining;
    uint32_t poll_messages;
    uint8_t *poll_reply;      /* the reply's start in the request's buffer (see data_plane_poll) */
    uint32_t poll_position;   /* reply bytes from poll_reply on */
    uint32_t poll_capacity;   /* reply bytes that fit from poll_reply on */
    bool is_poll_read_direct; /* the record read lands in the request's buffer */
    struct partition_read poll_read;
    struct partition_find poll_find; /* the start op, by offset or timestamp (storage index) */
    uint8_t *poll_buffer;
    uint64_t poll_buffer_size_bytes;
    struct cluster_forward_state forward;     /* writes at a primary on another node */
    struct broker_request *poll_forward_head; /* reads sent on to the primary (§10.5) */
    struct broker_request *poll_forward_tail;
    uint64_t poll_forward_last; /* their numbers */
    uint64_t polls_forwarded;
    struct cluster_forward_state poll_forward;
    bool was_primary; /* at the last tick (a change is logged) */
    uint32_t view_logged;
    uint64_t transfers_logged; /* replica.stats.state_transfers last logged */
};

struct data_plane {
    struct broker *broker;
    uint32_t shard_index;
    struct io *io;
    struct superblock superblock;
    struct superblock_storage storage;
    bool has_superblock;
    char superblock_path[IO_PATH_SIZE_MAX];
    struct data_partition *partitions; /* [partitions_max] */
    uint32_t partitions_max;
    uint32_t partitions_end;   /* 1 + the highest used index: passes and ticks walk [0, end) */
    int32_t *by_metadata_slot; /* [metadata partitions_max] -> index or -1 */
    uint64_t recovery_ticks;   /* ticks while the node recovers (node/recovery.h) */
    uint32_t metadata_slots_max;
    struct broker_request *open_head; /* requests whose partition opens in the next pass */
    struct broker_request *open_tail;
    uint64_t ops_max;             /* a partition group's log ring (limits.partition_ops_max) */
    uint64_t checkpoint_interval; /* ops between a group's checkpoints (its ring wraps) */
    uint32_t record_size_bytes_max;
    uint64_t polls_served;
    uint64_t replies_orphaned;
    uint64_t writes_late; /* answered 57/58 instead of handed on after their bound */
    struct vsr_group bus_open[DATA_PLANE_BUS_OPEN_MAX]; /* groups peers named, opened next pass */
    uint32_t bus_open_count;
    uint64_t bus_dropped;            /* peer messages for groups not open (yet) or unknown */
    struct data_plane_retire retire; /* stale incarnations: closed, directories removed */
    struct data_plane_drain drain;   /* shutdown: partitions synced and closed */
    struct vsr_heartbeat heartbeat;  /* shared heartbeats (data_plane_heartbeat.c) */
    bool has_heartbeat;              /* a cluster: the groups run with heartbeat_shared */
};

/* Allocates the tables (main thread). Returns 0 or -ENOMEM. */
int data_plane_init(struct data_plane *plane, struct broker *broker, uint32_t shard_index,
                    uint32_t metadata_slots_max);
void data_plane_deinit(struct data_plane *plane);

/*
 * on_start of its shard: opens (formats when absent) data/shard-{i}/superblock. Returns 0,
 * or a negative code with error_text set (-RUNNEL_ECONFIG: another shard count).
 */
int data_plane_start(struct data_plane *plane, struct io *io, char *error_out,
                     size_t error_size_bytes);

/* A partition request (send, poll, offsets) arrived at its owning shard. */
void data_plane_submit(struct data_plane *plane, struct broker_request *request);

/* Once per loop pass: opens partitions, group commits, durability, queued writes. */
void data_plane_pass(struct data_plane *plane);

/* Every tick: replica ticks, coalesced auto-commits. */
void data_plane_tick(struct data_plane *plane);

/* A message of a partition group from a peer (node/replica_bus.h), on its owning shard:
 * to the group's replica, a reply to this node's client; a group not open yet is opened in
 * the next pass when the metadata knows it (the message is dropped and counted: VSR
 * retransmits); an unknown group or incarnation is dropped and counted. */
void data_plane_on_bus_message(struct data_plane *plane, const struct vsr_header *header,
                               const void *body);

/* A shard heartbeat or its ack from a peer (vsr/heartbeat.h), on the shard it names. */
void data_plane_on_heartbeat(struct data_plane *plane, const struct vsr_header *header,
                             const void *body);

/* The owning shard of a partition of (stream, topic, partition) among shard_count. */
uint32_t data_plane_owner(uint32_t stream_id, uint32_t topic_id, uint32_t partition_id,
                          uint32_t shard_count);

#endif
