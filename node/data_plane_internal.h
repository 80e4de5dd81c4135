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

/* Polls and offset reads (data_plane_poll.c). */
void data_plane_poll_submit(struct data_partition *partition, struct broker_request *request);
/* Starts the next queued poll when none is active (from the pass). */
void data_plane_poll_pump(struct data_partition *partition);
void data_plane_offset_get(struct data_partition *partition, struct broker_request *request);

#endif
