/*
 * A node's membership in its cluster (DESIGN.md §10.2, §10.10): builds the replica bus
 * (node/replica_bus.h) from the configuration and the formatted identity and wraps the
 * node's handler with it, so runneld's shards dial, authenticate and keep links to every
 * peer. Until the broker runs its VSR groups across nodes, messages that arrive are
 * counted and dropped (cluster_node_receive_unwired); the broker plugs its own receive
 * callback in and sends through replica_bus_send / replica_bus_vsr_send.
 * Set up on the main thread before the shards start, freed after they are joined.
 */
#ifndef RUNNEL_NODE_CLUSTER_H
#define RUNNEL_NODE_CLUSTER_H

#include "node/format.h"
#include "node/node_config.h"
#include "node/replica_bus.h"

#include <stddef.h>

struct cluster_node {
    struct replica_bus bus;
    bool has_bus;
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

/* The handler to start the shards with. */
struct node_handler *cluster_node_handler(struct cluster_node *node);

/* After the shards were joined. */
void cluster_node_deinit(struct cluster_node *node);

/* Counts and drops a message (no VSR group runs across nodes yet); logs the first. */
void cluster_node_receive_unwired(uint32_t shard_index, const struct vsr_header *header,
                                  const void *body, void *context);

#endif
