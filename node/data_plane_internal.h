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

/* Answers request with an Iggy status and an empty body. */
void data_plane_reply_status(struct data_plane *plane, struct broker_request *request,
                             uint32_t status);

/* The partition state machine's snapshot for checkpoints (data_plane_snapshot.c):
 * vsr_state_machine.snapshot and restore, context = the partition. */
uint32_t data_partition_snapshot(void *buffer, uint32_t size_max, void *context);
int data_partition_restore(const void *bytes, uint32_t size_bytes, void *context);

/* Polls and offset reads (data_plane_poll.c). */
void data_plane_poll_submit(struct data_partition *partition, struct broker_request *request);
/* Starts the next queued poll when none is active (from the pass). */
void data_plane_poll_pump(struct data_partition *partition);
/* Poll routing in a cluster (data_plane_poll_forward.c): served here or forwarded to
 * the primary (DESIGN.md §10.5). */
void data_plane_poll_route(struct data_partition *partition, struct broker_request *request);
/* A forwarded poll this primary served (reply set): its reply goes back, request freed. */
void data_plane_poll_remote_done(struct data_partition *partition, struct broker_request *request);
/* A forwarded poll, or its reply, off the bus: true when it was one (handled). */
bool data_plane_poll_on_bus_message(struct data_partition *partition,
                                    const struct vsr_header *header, const void *body);
/* Every tick in a cluster: re-sends forwarded polls, or gives up on them. */
void data_plane_poll_forward_tick(struct data_partition *partition);
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
