/*
 * A node's membership in its cluster (DESIGN.md §10.2, §10.10): builds the replica bus
 * (node/replica_bus.h) from the configuration and the formatted identity and wraps the
 * node's handler with it, so runneld's shards dial, authenticate and keep links to every
 * peer. cluster_node_wire runs the broker's groups across the nodes: messages that arrive
 * go to the group's replica on the owning shard (the metadata group on shard 0, a
 * partition group on its owner), and the groups send through replica_bus_vsr_send and
 * forward client requests (node/cluster_forward.h). Unwired, messages are counted and
 * dropped (cluster_node_receive_unwired).
 * Set up on the main thread before the shards start, freed after they are joined.
 */
#ifndef RUNNEL_NODE_CLUSTER_H
#define RUNNEL_NODE_CLUSTER_H

#include "node/format.h"
#include "node/node_config.h"
#include "node/replica_bus.h"

#include <stdatomic.h>
#include <stddef.h>

struct broker;
struct cluster_forward_table;

struct cluster_node {
    struct replica_bus bus;
    bool has_bus;
    struct broker *broker;                        /* wired: the groups' owner */
    struct cluster_forward_table *forward_tables; /* [shard count]: clients off the bus */
    atomic_uint_fast64_t dropped_unknown;         /* messages of a kind of group no one runs */
    atomic_uint_fast64_t dropped_misrouted;       /* metadata messages off shard 0 */
};

/*
 * Fills bus options from config (peers, key file, timeouts) and identity (cluster id,
 * shard count). Returns 0 or -RUNNEL_ECONFIG with one line in error_text.
 */
int cluster_node_options(const struct node_config *config, const struct format_identity *identity,
                         struct replica_bus_options *options, char *error_text,
                         size_t error_size_bytes);

/*
 * Sets node up for set (started afterwards with cluster_node_handler) around inner.
 * receive NULL: cluster_node_receive_unwired. Returns 0 or a negative code with one line.
 */
int cluster_node_init(struct cluster_node *node, const struct node_config *config,
                      const struct format_identity *identity, struct shard_set *set,
                      struct node_handler *inner, replica_bus_receive_callback receive,
                      void *context, char *error_text, size_t error_size_bytes);

/*
 * After cluster_node_init, before the shards start: runs broker's groups with this node's
 * replica index and count, their messages delivered by the bus (cluster_node_receive) and
 * sent through it. Returns 0 or -ENOMEM (the forwarding tables).
 */
int cluster_node_wire(struct cluster_node *node, struct broker *broker);

/* The wired receive callback (context: the struct cluster_node), on the owning shard. */
void cluster_node_receive(uint32_t shard_index, const struct vsr_header *header, const void *body,
                          void *context);

/* The handler to start the shards with. */
struct node_handler *cluster_node_handler(struct cluster_node *node);

/* After the shards were joined. */
void cluster_node_deinit(struct cluster_node *node);

/* Counts and drops a message (no VSR group runs across nodes yet); logs the first. */
void cluster_node_receive_unwired(uint32_t shard_index, const struct vsr_header *header,
                                  const void *body, void *context);

#endif
