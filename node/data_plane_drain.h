/*
 * Putting a shard's partitions to rest at shutdown (issue 5, Deliver item 6): when the
 * shard's drain begins the data plane keeps serving the requests already in flight; once
 * every open group is idle (nothing queued, in flight, polled or unreported, no flush or
 * repair running) and no request waits for a partition to open, each partition's log is
 * flushed, every log and index file is fdatasynced (also under `replicated` durability,
 * where a flush writes without syncing) and the partition is closed while the shard's
 * ring still exists. From then on the plane takes no new work: a request gets
 * IGGY_ERROR_FEATURE_UNAVAILABLE, passes and ticks only finish the superblock's writes.
 * Runs on the data plane's shard.
 */
#ifndef RUNNEL_NODE_DATA_PLANE_DRAIN_H
#define RUNNEL_NODE_DATA_PLANE_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

struct data_plane;
struct broker_request;

struct data_plane_drain {
    bool is_draining;
    bool is_closed;         /* every partition synced and closed */
    uint64_t synced_count;  /* partitions whose files were synced and closed */
    uint64_t failed_count;  /* fdatasyncs that failed (logged) */
    uint64_t refused_count; /* requests refused after the close */
};

/* The shard's drain began (node_handler.on_drain): stop opening, start closing. */
void data_plane_drain_begin(struct data_plane *plane);

/* Each pass while draining: closes the plane once it is idle; once closed, only runs the
 * superblock's writes (data_plane_pass must not run then). */
void data_plane_drain_pass(struct data_plane *plane);

/* True once every partition is synced and closed and the superblock is quiet. */
bool data_plane_drain_is_done(const struct data_plane *plane);

/* When the shard's loop has ended (the ring still exists; shard 0: after the control
 * plane closed its journal): closes the shard's superblock file unless a write is in
 * flight (the drain timed out; a line says so). Partitions were closed by the drain. */
void data_plane_drain_close_files(struct data_plane *plane);

/* True once the plane takes no new work (data_plane_pass and _tick must not run). */
bool data_plane_drain_is_closed(const struct data_plane *plane);

/* A request reached the plane after it closed: answered with a status, counted. */
void data_plane_drain_refuse(struct data_plane *plane, struct broker_request *request);

#endif
