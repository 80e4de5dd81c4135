/*
 * The control plane on shard 0 (DESIGN.md §4): the metadata VSR group (one replica per
 * node; a single node is a cluster of one) whose journal is a storage partition under
 * data/metadata/journal and whose state machine is node/metadata.h. Requests from any
 * shard arrive as struct broker_request (packed MetadataOperation behind a 24-byte prefix
 * carrying the acting user and the Iggy client id); each is handed to the replica as a
 * VSR request of a one-shot client, and the committed reply goes back to the request's
 * home shard.
 *
 * Shard 0 applies ops to `metadata`, which only shard 0 reads. Every shard (shard 0's
 * request handling too) reads a published version instead (node/metadata_versions.h):
 * control_plane_read_begin takes the current version without any lock and holds it until
 * control_plane_read_end; shard 0 publishes once per loop pass and never waits for a
 * reader. A metadata reply leaves shard 0 only once its op is published, so a client's
 * next request, on any shard, reads a version that has its write.
 *
 * Memory: the metadata tables, the journal partition and the replica are allocated by
 * control_plane_start. Runs on shard 0 only (except read_begin/read_end).
 */
#ifndef RUNNEL_NODE_CONTROL_PLANE_H
#define RUNNEL_NODE_CONTROL_PLANE_H

#include "lib/io.h"
#include "node/broker.h"
#include "node/cluster_forward.h"
#include "node/metadata.h"
#include "node/metadata_versions.h"
#include "storage/partition.h"
#include "vsr/checkpoint_store.h"
#include "vsr/journal_partition.h"
#include "vsr/replica.h"
#include "vsr/superblock_storage.h"

#include <stdbool.h>
#include <stdint.h>

enum { CONTROL_PLANE_OPERATION = VSR_OPERATION_STATE_MACHINE_MIN };

struct control_plane {
    struct broker *broker;
    struct metadata metadata;          /* shard 0's own, written by apply */
    struct metadata_versions versions; /* what every shard reads */
    struct partition log;
    struct journal_partition journal;
    struct checkpoint_store checkpoints; /* data/metadata/vsr-checkpoint-{0,1} */
    struct vsr_replica replica;
    struct superblock_storage *superblocks;
    int32_t superblock_slot;
    char directory[IO_PATH_SIZE_MAX];
    struct broker_request *queue_head; /* waiting for the replica */
    struct broker_request *queue_tail;
    u128 client;           /* this node's VSR client of the group (registered at start) */
    uint64_t session;      /* its session (the register's commit op), 0 until registered */
    uint64_t request_last; /* its last request number */
    struct broker_request *in_flight[VSR_PIPELINE_MAX];
    struct broker_request *unpublished_head; /* replied, waiting for their op's version */
    struct broker_request *unpublished_tail;
    uint32_t in_flight_count;
    bool is_started;
    bool is_log_open;
    bool is_replica_ready;
    uint64_t replies_orphaned;
    uint64_t requests_requeued;           /* in flight below an answered number: numbered anew */
    struct cluster_forward_state forward; /* requests at a primary on another node */
    bool is_bootstrap_submitted;          /* a cluster: its first primary bootstraps, once */
    char bootstrap_hash[128];             /* root password hash (crypto_pwhash_STRBYTES) */
    uint32_t view_logged;                 /* a cluster: view and status last logged */
    uint64_t transfers_logged;            /* state transfers last logged */
    uint32_t status_logged;
    /* Member lease (a cluster): ticks each peer has been unreachable from this node, and
     * the tick of the last release submitted for it (0: none). */
    uint64_t tick;
    uint64_t peer_down_ticks[VSR_REPLICAS_MAX];
    uint64_t peer_release_tick[VSR_REPLICAS_MAX];
};

/* Allocates the metadata tables from config (main thread, before the shards start). */
int control_plane_init(struct control_plane *plane, struct broker *broker,
                       const struct node_config *config);
void control_plane_deinit(struct control_plane *plane);

/*
 * Shard 0's on_start: opens the journal, recovers the replica (replaying the metadata
 * log), becomes primary and bootstraps the root user on a fresh directory. Uses io_wait:
 * start-up only. Returns 0 or a negative code with error_text set.
 */
int control_plane_start(struct control_plane *plane, struct io *io,
                        struct superblock_storage *superblocks, char *error_text,
                        size_t error_size_bytes);

/* Shard 0: queues a metadata request for the replica. */
void control_plane_submit(struct control_plane *plane, struct broker_request *request);

/* Shard 0, once per loop pass: journal group commit and durability, queued requests,
 * then publishes the ops applied since the last pass and sends their held replies. */
void control_plane_pass(struct control_plane *plane);

/* Shard 0, every tick. */
void control_plane_tick(struct control_plane *plane);

/* Shard 0: a message of the metadata group from a peer (node/replica_bus.h): a reply for
 * this node's client, or anything for the replica. */
void control_plane_on_bus_message(struct control_plane *plane, const struct vsr_header *header,
                                  const void *body);

/* Any shard: the current metadata version, held (unchanged, never reclaimed) until
 * read_end; never waits on shard 0. Copy out what outlives the read; nothing read may be
 * kept past read_end. Nested calls on a shard share one version. */
const struct metadata *control_plane_read_begin(struct control_plane *plane, uint32_t shard_index);
void control_plane_read_end(struct control_plane *plane, uint32_t shard_index);

/* Shard 0, at shutdown: true when no metadata request is queued or in flight and the
 * journal has nothing unflushed or unreported (its log is synced: metadata is `fsync`). */
bool control_plane_is_quiet(const struct control_plane *plane);

/* Shard 0, when its loop has ended (the ring still exists): closes the journal's files
 * once quiet; otherwise (the drain timed out) leaves them, with a line. Idempotent. */
void control_plane_close(struct control_plane *plane);

#endif
