/*
 * The cluster side of runneld (see cluster.h): replica bus options from the
 * configuration, the bus around the node's handler, the broker's groups wired to it. Runs
 * on the main thread, except the receive callbacks, which run on the shard that owns the
 * message's group.
 */
#include "node/cluster.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/broker.h"
#include "node/cluster_config.h"
#include "node/control_plane.h"
#include "node/cluster_forward.h"
#include "node/data_plane.h"
#include "node/xshard.h"

#include <sodium.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    CLUSTER_HANDSHAKE_TIMEOUT_MS = 3000,
    CLUSTER_BACKOFF_MIN_MS = 50,
    CLUSTER_FORWARD_CREDIT_AGE_MS = 1000, /* replica_bus_options.forward_credit_age_ns */
};

static const uint64_t cluster_ns_per_ms = 1000ull * 1000;

int cluster_node_options(const struct node_config *config, const struct format_identity *identity,
                         struct replica_bus_options *options, char *error_text,
                         size_t error_size_bytes)
{
    assert(config != NULL && identity != NULL && options != NULL);
    assert(identity->cluster != 0 && identity->shard_count > 0);
    memset(options, 0, sizeof(*options));
    options->cluster = identity->cluster;
    options->shared = (struct replica_bus_shared){
        .pipeline_depth_max = config->pipeline_depth_max,
        .partition_ops_max = config->partition_ops_max,
        .metadata_ops_max = config->metadata_ops_max,
        .metadata_replies_bytes = config->metadata_replies_bytes,
        .batch_size_bytes_max = config->batch_size_bytes_max,
        .durability = config->durability,
    };
    options->replica_index = (uint8_t)identity->replica_index;
    options->replica_count = (uint8_t)identity->replica_count;
    options->shard_count = identity->shard_count;
    options->peer_shard_count_max = XSHARD_SHARDS_MAX;
    options->frame_size_max = (uint32_t)config->frame_size_bytes_max;
    options->ping_interval_ns = config->ping_interval_ms * cluster_ns_per_ms;
    options->peer_timeout_ns = config->peer_timeout_ms * cluster_ns_per_ms;
    options->handshake_timeout_ns = CLUSTER_HANDSHAKE_TIMEOUT_MS * cluster_ns_per_ms;
    options->backoff_min_ns = CLUSTER_BACKOFF_MIN_MS * cluster_ns_per_ms;
    options->backoff_max_ns = config->reconnect_backoff_max_ms * cluster_ns_per_ms;
    if (options->backoff_max_ns < options->backoff_min_ns) {
        options->backoff_max_ns = options->backoff_min_ns;
    }
    options->forward_credit_max = config->forward_credit_max;
    /* A forwarded request unanswered this long was re-sent (with a new credit) or given up
     * by cluster_forward (CLUSTER_FORWARD_RESEND_TICKS: 0.5 s): its credit is dead. */
    options->forward_credit_age_ns = CLUSTER_FORWARD_CREDIT_AGE_MS * cluster_ns_per_ms;
    randombytes_buf(&options->seed, sizeof(options->seed));
    if (identity->replica_count == 1) {
        return 0;
    }
    struct config_error error;
    if (cluster_config_peers(config, options->peers, VSR_REPLICAS_MAX, &error) != 0 ||
        cluster_config_key_load(config->cluster_key_file, options->key, &error) != 0) {
        snprintf(error_text, error_size_bytes, "%s", error.text);
        return -RUNNEL_ECONFIG;
    }
    return 0;
}

int cluster_node_init(struct cluster_node *node, const struct node_config *config,
                      const struct format_identity *identity, struct shard_set *set,
                      struct node_handler *inner, replica_bus_receive_callback receive,
                      void *context, char *error_text, size_t error_size_bytes)
{
    assert(node != NULL && config != NULL && identity != NULL && set != NULL && inner != NULL);
    assert(error_text != NULL && error_size_bytes > 0);
    memset(node, 0, sizeof(*node));
    struct replica_bus_options options;
    int result = cluster_node_options(config, identity, &options, error_text, error_size_bytes);
    if (result != 0) {
        return result;
    }
    if (receive == NULL) {
        receive = cluster_node_receive_unwired;
        context = node;
    }
    result = replica_bus_init(&node->bus, &options, set, inner, receive, context);
    memset(options.key, 0, sizeof(options.key));
    if (result != 0) {
        snprintf(error_text, error_size_bytes, "out of memory for the replica bus (%u shards)",
                 identity->shard_count);
        return result;
    }
    node->has_bus = true;
    if (identity->replica_count > 1) {
        log_info("cluster", "replica=%u/%u peers=\"%s\"", identity->replica_index,
                 identity->replica_count, config->peers);
    }
    return 0;
}

struct node_handler *cluster_node_handler(struct cluster_node *node)
{
    assert(node != NULL);
    assert(node->has_bus);
    return &node->bus.handler;
}

void cluster_node_deinit(struct cluster_node *node)
{
    assert(node != NULL);
    if (node->has_bus) {
        replica_bus_deinit(&node->bus);
    }
    free(node->forward_tables);
    node->forward_tables = NULL;
    node->has_bus = false;
}

void cluster_node_receive_unwired(uint32_t shard_index, const struct vsr_header *header,
                                  const void *body, void *context)
{
    static atomic_bool is_logged;
    (void)body;
    (void)context;
    assert(header != NULL);
    assert(header->size >= VSR_HEADER_SIZE);
    if (!atomic_exchange(&is_logged, true)) {
        log_warn("replica_bus_unwired",
                 "shard=%u command=%s advice=\"no VSR group runs across "
                 "nodes yet: messages are counted and dropped\"",
                 shard_index, vsr_command_name(header->command));
    }
}

int cluster_node_wire(struct cluster_node *node, struct broker *broker)
{
    assert(node != NULL && broker != NULL);
    assert(node->has_bus && broker->bus == NULL);
    node->forward_tables = calloc(node->bus.options.shard_count, sizeof(*node->forward_tables));
    if (node->forward_tables == NULL) {
        return -ENOMEM;
    }
    broker->forward_tables = node->forward_tables;
    node->broker = broker;
    node->bus.receive = cluster_node_receive;
    node->bus.receive_context = node;
    broker->bus = &node->bus;
    broker->replica_index = node->bus.options.replica_index;
    broker->replica_count = node->bus.options.replica_count;
    assert(broker->replica_index < broker->replica_count);
    return 0;
}

void cluster_node_receive(uint32_t shard_index, const struct vsr_header *header, const void *body,
                          void *context)
{
    struct cluster_node *node = context;
    assert(node != NULL && node->broker != NULL && header != NULL);
    assert(shard_index < node->broker->shard_count);
    struct broker *broker = node->broker;
    static const uint8_t empty[1] = {0};
    if (body == NULL) {
        body = empty; /* a bodiless message: never a NULL source for a zero-size copy */
    }
    if (header->command == VSR_COMMAND_REQUEST) {
        cluster_forward_table_note(&node->forward_tables[shard_index], header->u.request.client,
                                   header->replica); /* its reply goes back there */
    }
    if (header->group.kind == VSR_GROUP_KIND_METADATA) {
        if (shard_index != 0) {
            atomic_fetch_add(&node->dropped_misrouted, 1);
            return;
        }
        control_plane_on_bus_message(broker->control_plane, header, body);
    } else if (header->group.kind == VSR_GROUP_KIND_PARTITION) {
        data_plane_on_bus_message(broker->shards[shard_index].data_plane, header, body);
    } else if (header->group.kind == VSR_GROUP_KIND_SHARD) {
        data_plane_on_heartbeat(broker->shards[shard_index].data_plane, header, body);
    } else {
        atomic_fetch_add(&node->dropped_unknown, 1);
    }
}
