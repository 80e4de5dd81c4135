/*
 * librunnel: runneld's runnel-only cluster commands (proto/cluster_wire.h): the roles
 * and partition -> primary map, moving the connection to a shard, and the producer's
 * placement built on both. Caller's thread.
 */
#include "client/client.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/cluster_wire.h"

#include <errno.h>
#include <string.h>

enum {
    CLIENT_PLACE_ROUTES_MAX = 256, /* partitions of a topic considered for placement */
    CLIENT_PLACE_SHARDS_MAX = 256, /* shards tallied */
};

static void client_cluster_roles_fill(const struct cluster_wire_map *view,
                                      struct runnel_cluster_roles *roles)
{
    memset(roles, 0, sizeof(*roles));
    roles->replica_count = view->head.replica_count;
    roles->self = view->head.self;
    roles->metadata_primary = view->head.metadata_primary;
    roles->metadata_view = view->head.metadata_view;
    roles->metadata_status = view->head.metadata_status;
    roles->shard_count = view->head.shard_count;
    roles->connection_shard = view->head.connection_shard;
    roles->node_count = view->node_count; /* <= replica_count <= RUNNEL_CLUSTER_NODES_MAX */
    for (uint32_t index = 0; index < view->node_count; index++) {
        struct cluster_wire_node node;
        cluster_wire_node_at(view, index, &node);
        roles->nodes[index].replica = node.replica;
        roles->nodes[index].role = node.role;
        roles->nodes[index].is_self = node.is_self;
        roles->nodes[index].partitions_led = node.partitions_led;
    }
}

int runnel_cluster_map(struct runnel_client *client, const struct runnel_id *stream,
                       const struct runnel_id *topic, struct runnel_cluster_roles *roles_out,
                       struct runnel_partition_route *routes, uint32_t routes_max,
                       uint32_t *count_out)
{
    _Static_assert((int)RUNNEL_CLUSTER_NODES_MAX == (int)CLUSTER_WIRE_REPLICAS_MAX, "nodes fit");
    if (client == NULL || roles_out == NULL || count_out == NULL ||
        (routes == NULL && routes_max > 0) || ((stream == NULL) != (topic == NULL))) {
        return -EINVAL;
    }
    *count_out = 0;
    if (!client->is_runneld) {
        return -RUNNEL_EUNSUPPORTED;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct iggy_identifier ids[2];
    if (stream != NULL &&
        (client_identifier(*stream, &ids[0]) != 0 || client_identifier(*topic, &ids[1]) != 0)) {
        return -EINVAL;
    }
    (void)cluster_wire_map_request_encode(&writer, stream != NULL, &ids[0], &ids[1]);
    struct client_reply reply;
    int result = client_call(client, RUNNEL_COMMAND_CLUSTER_MAP, &writer, &reply);
    if (result != 0) {
        return result;
    }
    struct cluster_wire_map view;
    result = cluster_wire_map_decode(reply.body, reply.body_size, &view);
    if (result != 0) {
        return result;
    }
    client_cluster_roles_fill(&view, roles_out);
    for (uint32_t index = 0; index < view.partition_count && index < routes_max; index++) {
        struct cluster_wire_partition partition;
        cluster_wire_partition_at(&view, index, &partition);
        routes[index] = (struct runnel_partition_route){.stream_id = partition.stream_id,
                                                        .topic_id = partition.topic_id,
                                                        .partition_id = partition.partition_id,
                                                        .incarnation = partition.incarnation,
                                                        .view = partition.view,
                                                        .primary = partition.primary,
                                                        .status = partition.status,
                                                        .shard = partition.shard};
    }
    *count_out = view.partition_count;
    return 0;
}

int runnel_connection_move(struct runnel_client *client, uint32_t shard, uint32_t *shard_count_out)
{
    if (client == NULL) {
        return -EINVAL;
    }
    if (!client->is_runneld) {
        return -RUNNEL_EUNSUPPORTED;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    cluster_wire_move_request_encode(&writer, shard);
    struct client_reply reply;
    int result = client_call(client, RUNNEL_COMMAND_CONNECTION_MOVE, &writer, &reply);
    if (result != 0) {
        return result;
    }
    uint32_t moved_to = 0;
    uint32_t shard_count = 0;
    result = cluster_wire_move_reply_decode(reply.body, reply.body_size, &moved_to, &shard_count);
    if (result == 0 && moved_to != shard) {
        result = -RUNNEL_EFORMAT;
    }
    if (result == 0) {
        client->moves++;
        if (shard_count_out != NULL) {
            *shard_count_out = shard_count;
        }
    }
    return result;
}

/* The shard to live on: partition_id's, or the one owning most partitions led here. */
static bool client_place_target(const struct runnel_cluster_roles *roles,
                                const struct runnel_partition_route *routes, uint32_t count,
                                bool has_partition, uint32_t partition_id, uint32_t *shard_out)
{
    uint32_t tally[CLIENT_PLACE_SHARDS_MAX];
    memset(tally, 0, sizeof(tally));
    bool has_target = false;
    for (uint32_t index = 0; index < count; index++) {
        const struct runnel_partition_route *route = &routes[index];
        if (route->primary != roles->self || route->shard >= CLIENT_PLACE_SHARDS_MAX ||
            (has_partition && route->partition_id != partition_id)) {
            continue; /* led by another node: forwarded whichever shard sends it */
        }
        tally[route->shard]++;
        if (!has_target || tally[route->shard] > tally[*shard_out]) {
            *shard_out = route->shard;
            has_target = true;
        }
    }
    return has_target;
}

int runnel_connection_place(struct runnel_client *client, struct runnel_id stream,
                            struct runnel_id topic, bool has_partition, uint32_t partition_id)
{
    if (client == NULL) {
        return -EINVAL;
    }
    if (!client->is_runneld) {
        return 0;
    }
    struct runnel_cluster_roles roles;
    struct runnel_partition_route routes[CLIENT_PLACE_ROUTES_MAX];
    uint32_t count = 0;
    int result = runnel_cluster_map(client, &stream, &topic, &roles, routes,
                                    CLIENT_PLACE_ROUTES_MAX, &count);
    if (result != 0) {
        return result;
    }
    uint32_t shard = 0;
    count = count < CLIENT_PLACE_ROUTES_MAX ? count : CLIENT_PLACE_ROUTES_MAX;
    if (!client_place_target(&roles, routes, count, has_partition, partition_id, &shard) ||
        shard == roles.connection_shard) {
        return 0;
    }
    return runnel_connection_move(client, shard, NULL);
}
