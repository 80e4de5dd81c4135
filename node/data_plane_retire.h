/*
 * Retiring partition incarnations that the metadata no longer has (DESIGN.md §4: a
 * deleted stream, topic or partition, or a purge, which gives the partition a new
 * incarnation): the data plane closes an open group of a stale incarnation once it is
 * idle and removes its directory; once after start-up it sweeps the data directory for
 * directories of stale incarnations this shard owns (a crash between a purge and the
 * removal, or a deletion while the partition was closed) and removes them too. One
 * directory removal at a time per shard, through storage/atomic_file.
 *
 * Stale means: the metadata has applied the op that created the incarnation (its number
 * is the incarnation) and its partition of (stream, topic, partition id) is gone or has
 * another incarnation. An incarnation the metadata has not reached yet is never stale.
 * Runs on the shard that owns the partitions.
 */
#ifndef RUNNEL_NODE_DATA_PLANE_RETIRE_H
#define RUNNEL_NODE_DATA_PLANE_RETIRE_H

#include "lib/io.h"
#include "proto/vsr_header.h"
#include "storage/atomic_file.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    DATA_PLANE_RETIRE_QUEUE_MAX = 64,          /* directories waiting for removal */
    DATA_PLANE_RETIRE_NAMES_SIZE = 256 * 1024, /* a directory listing (segment files) */
    DATA_PLANE_RETIRE_INTERVAL_TICKS = 50,     /* how often open groups are checked */
    DATA_PLANE_RETIRE_ENTRIES_MAX = 1u << 20,  /* directory entries read per sweep level */
};

struct data_plane;

struct data_plane_retire {
    struct atomic_file file;
    bool is_removing;
    bool is_swept;                   /* the start-up sweep found everything it looked for */
    char (*queue)[IO_PATH_SIZE_MAX]; /* [DATA_PLANE_RETIRE_QUEUE_MAX] */
    uint32_t queue_count;
    char *names; /* [DATA_PLANE_RETIRE_NAMES_SIZE] listing scratch */
    uint64_t ticks;
    uint64_t closed_count;  /* open groups closed */
    uint64_t removed_count; /* directories removed */
    uint64_t failed_count;  /* removals that failed (logged, not retried) */
};

/* Allocates the queue and the listing buffer (main thread). Returns 0 or -ENOMEM. */
int data_plane_retire_init(struct data_plane_retire *retire);
void data_plane_retire_deinit(struct data_plane_retire *retire);

/* True when group is a stale incarnation (see above), in the current metadata
 * version (node/metadata_versions.h). */
bool data_plane_retire_is_stale(struct data_plane *plane, const struct vsr_group *group);

/* Every tick of plane's shard: closes idle stale groups, sweeps once after start-up,
 * starts the next directory removal. */
void data_plane_retire_tick(struct data_plane *plane);

#endif
