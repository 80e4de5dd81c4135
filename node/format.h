/*
 * Formation of a node's data directory (DESIGN.md §10.10): `runneld format` writes the
 * node's identity, {data_dir}/cluster, once; every later start reads it back and refuses
 * to run when the configuration disagrees (another cluster id, replica index, replica
 * count or shard count). The file is text, written atomically (temporary file, fsync,
 * rename, directory fsync):
 *
 *   cluster=<32 hex digits>
 *   replica_index=<n>
 *   replica_count=<n>
 *   shard_count=<n>
 *
 * A member of a larger cluster started on an empty, unformatted directory (its disk was
 * replaced or wiped) formats itself *recovering*: {data_dir}/recovering is written and
 * synced first, then the cluster file. While that marker exists every group of the node
 * starts recovering (vsr_replica_config.recovering: it never votes before it holds what it
 * may once have acknowledged); a crash during recovery resumes it. The node removes the
 * marker once every group caught up (format_recovery_complete).
 *
 * Runs on the main thread before the shards start. Errors are one line in error_text.
 */
#ifndef RUNNEL_NODE_FORMAT_H
#define RUNNEL_NODE_FORMAT_H

#include "node/node_config.h"
#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { FORMAT_ERROR_SIZE_MAX = 640 };

struct format_identity {
    u128 cluster;
    uint32_t replica_index;
    uint32_t replica_count;
    uint32_t shard_count;
    bool is_recovering; /* format_prepare: the recovering marker is there */
};

/* True when data_dir holds a cluster file (formatted, possibly damaged). */
bool format_is_formatted(const char *data_dir);

/*
 * The identity a new data directory gets from config: cluster.id, or (a single node
 * without one) a random id; replica index and count; shard_count (the node's real
 * count, > 0). Returns 0, or -RUNNEL_ECONFIG when replica_count > 1 and cluster.id is
 * empty or invalid.
 */
int format_identity_from_config(const struct node_config *config, uint32_t shard_count,
                                struct format_identity *identity, char *error_text,
                                size_t error_size_bytes);

/*
 * Formats data_dir (created if missing; its parent must exist) with identity. Refuses a
 * formatted directory (-RUNNEL_EEXISTS) and, when is_empty_required, one that holds
 * anything at all (-RUNNEL_EEXISTS). Returns 0 or a negative code.
 */
int format_write(const char *data_dir, const struct format_identity *identity,
                 bool is_empty_required, char *error_text, size_t error_size_bytes);

/*
 * Reads data_dir's identity. Returns 0, -RUNNEL_ENOTFOUND (not formatted) or
 * -RUNNEL_EFORMAT (the file is damaged: a line missing or malformed).
 */
int format_read(const char *data_dir, struct format_identity *identity, char *error_text,
                size_t error_size_bytes);

/*
 * Compares what is on disk with what this start expects (expected->cluster 0: any).
 * Returns 0 or -RUNNEL_ECONFIG naming the first difference and the fix.
 */
int format_check(const struct format_identity *disk, const struct format_identity *expected,
                 const char *data_dir, char *error_text, size_t error_size_bytes);

/*
 * What runneld does before serving (DESIGN.md §10.10): a formatted directory is read and
 * checked against config; a single node (replica_count 1) formats a new directory itself;
 * a member of a larger cluster formats an empty (or missing) one recovering (see above)
 * and refuses an unformatted one that holds anything (-RUNNEL_EEXISTS: it may be someone's
 * data). identity->is_recovering says whether the node recovers (new or resumed).
 * Returns 0 with *identity set, or a negative code with one line in error_text.
 */
int format_prepare(const struct node_config *config, uint32_t shard_count,
                   struct format_identity *identity, char *error_text, size_t error_size_bytes);

/*
 * The node caught up with its cluster: removes the recovering marker durably (unlink,
 * directory fsync). Returns 0 (also when there was none) or a negative errno.
 */
int format_recovery_complete(const char *data_dir);

/*
 * `runneld format`: formats config->data_dir for a new cluster (refuses a directory that
 * is formatted or not empty). Returns 0 or a negative code with one line in error_text.
 */
int format_command(const struct node_config *config, uint32_t shard_count, char *error_text,
                   size_t error_size_bytes);

#endif
