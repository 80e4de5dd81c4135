/*
 * Functions shared by data_plane.c (groups, writes) and data_plane_poll.c (reads). Not
 * for callers outside the data plane. Runs on the owning shard.
 */
#ifndef RUNNEL_NODE_DATA_PLANE_INTERNAL_H
#define RUNNEL_NODE_DATA_PLANE_INTERNAL_H

#include "node/data_plane.h"

/* The consumer offset entry of (kind, id), created when is_create; NULL otherwise. */
struct data_offset *data_partition_offset(struct data_partition *partition, uint8_t kind,
                                          uint32_t id, bool is_create);

/* Closes an idle open group (files, replica, memory) and forgets its metadata slot; its
 * directory stays (data_plane_retire.c removes it). */
void data_plane_partition_retire(struct data_partition *partition);

/* The primary prepares an op of its own (auto-commit, prefix truncation) as a request of
 * this node's client with the next number; true when the replica took it. */
bool data_partition_server_op(struct data_partition *partition, uint8_t operation, const void *body,
                              uint32_t body_size);

/* Publishes the partition's figures for reads on other shards (node/broker_stats.h):
 * messages still served (below the log start they are not), bytes appended, segments. */
void data_partition_publish(struct data_partition *partition);

/* Answers request with an Iggy status and an empty body. */
void data_plane_reply_status(struct data_plane *plane, struct broker_request *request,
                             uint32_t status);

/* The partition state machine's snapshot for checkpoints (data_plane_snapshot.c):
 * vsr_state_machine.snapshot and restore, context = the partition. */
uint32_t data_partition_snapshot(void *buffer, uint32_t size_max, void *context);
int data_partition_restore(const void *bytes, uint32_t size_bytes, void *context);

/* The log start offset a snapshot (untrusted bytes, version 1 or 2) holds: 0 or
 * -RUNNEL_EFORMAT. */
int data_partition_snapshot_log_start(const void *bytes, uint32_t size_bytes,
                                      uint64_t *log_start_offset_out);

/* Prefix truncation (data_plane_truncate.c). The body of a TRUNCATE_PREFIX op. */
enum { DATA_TRUNCATE_BODY_SIZE = 16 };
/* What the primary's retention decision reads (data_retention_target). */
struct data_retention {
    uint64_t log_start_offset; /* the group's */
    uint64_t watermark;        /* DeleteSegments (metadata) */
    uint64_t expiry_us;        /* topic message expiry; UINT64_MAX: never */
    uint64_t now_ns;           /* the primary's realtime clock */
    uint64_t share_bytes;      /* max topic size / partitions; UINT64_MAX: unlimited */
};
/* The log start the primary asks for: the highest of the group's, the watermark, the end
 * of the sealed segments whose newest record is older than now - expiry (oldest first, up
 * to the first that is not), and the end of the oldest sealed segments whose removal brings
 * the log's bytes within share_bytes. Only whole sealed segments: the tail never counts. */
uint64_t data_retention_target(const struct partition *log, const struct data_retention *in);
/* Applies a committed TRUNCATE_PREFIX prepare (untrusted body: a bad one changes nothing
 * and is answered InvalidCommand); writes the reply into reply, returns its size. */
uint32_t data_partition_apply_truncate(struct data_partition *partition,
                                       const struct vsr_header *prepare, const uint8_t *body,
                                       uint8_t *reply);
/* Every tick of an open partition: the primary's retention decision (DeleteSegments
 * watermark, message expiry, max topic size) and, on every replica, the log checkpoint and
 * the deletion of whole segments below it. */
void data_partition_truncate_tick(struct data_partition *partition);
/* True while a log checkpoint write or a segment deletion is in flight. */
bool data_partition_truncate_is_busy(const struct data_partition *partition);

/* Polls and offset reads (data_plane_poll.c). */
void data_plane_poll_submit(struct data_partition *partition, struct broker_request *request);
/* Starts the next queued poll when none is active (from the pass). */
void data_plane_poll_pump(struct data_partition *partition);
/* Routing of a poll or a GetConsumerOffset in a cluster (data_plane_poll_forward.c): served
 * here or forwarded to the primary (DESIGN.md §10.5); consumer-offset reads only by the
 * primary, once it executed its view's head (docs/NEMESIS.md bug 11). */
void data_plane_poll_route(struct data_partition *partition, struct broker_request *request);
/* A forwarded read this primary served (reply set): its reply goes back, request freed. */
void data_plane_poll_remote_done(struct data_partition *partition, struct broker_request *request);
/* A forwarded poll, or its reply, off the bus: true when it was one (handled). */
bool data_plane_poll_on_bus_message(struct data_partition *partition,
                                    const struct vsr_header *header, const void *body);
/* Every tick in a cluster: serves the reads waiting here once this node is the current
 * primary, re-sends forwarded ones, or gives up on them. */
void data_plane_poll_forward_tick(struct data_partition *partition);
/* GetConsumerOffset answered from this copy (data_plane_poll.c; see data_plane_poll_route). */
void data_plane_offset_get(struct data_partition *partition, struct broker_request *request);

/* The open partition of group (a partition group), or NULL. */
struct data_partition *data_plane_find_group(struct data_plane *plane,
                                             const struct vsr_group *group);
/* A peer named group, not open here: opened in the next pass if the metadata knows it. */
void data_plane_bus_open_note(struct data_plane *plane, const struct vsr_group *group);

/* Shared heartbeats (data_plane_heartbeat.c): set up at the shard's start in a cluster,
 * run every tick after the replicas'. */
int data_plane_heartbeat_start(struct data_plane *plane);
void data_plane_heartbeat_deinit(struct data_plane *plane);
void data_plane_heartbeat_tick(struct data_plane *plane);

#endif
