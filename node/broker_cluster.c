/*
 * The runnel-only cluster commands (DESIGN.md §10.4, proto/cluster_wire.h) on the home
 * shard: the true roles of the nodes and the partition -> primary map (from the metadata
 * and the roles each group's owning shard publishes every tick in broker_stats), and the
 * move of a connection, with its session, to another shard of the node (the runtime's
 * hand-off, node/net.h). Also the tick hooks that publish the roles.
 */
#include "node/broker_cluster.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "node/broker_internal.h"
#include "node/data_plane.h"
#include "proto/iggy_error.h"
#include "proto/cluster_wire.h"
#include "vsr/replica.h"

#include <string.h>

enum { BROKER_CLUSTER_READ_BUFFER_SIZE = 512u * 1024 /* 18 724 partitions */ };

/* ---- roles published by the owning shards ---- */

void broker_cluster_publish_partition(struct broker *broker, uint32_t metadata_slot,
                                      const struct vsr_replica *replica)
{
    assert(broker != NULL && replica != NULL);
    struct broker_stats_role role = {.view = replica->view, .status = (uint8_t)replica->status};
    broker_stats_role_publish(&broker->stats, metadata_slot, replica->config.group.incarnation,
                              role);
}

void broker_cluster_publish_metadata(struct broker *broker, const struct vsr_replica *replica)
{
    assert(broker != NULL && replica != NULL);
    struct broker_stats_role role = {.view = replica->view, .status = (uint8_t)replica->status};
    broker_stats_metadata_role_publish(&broker->stats, role);
}

/* ---- the map ---- */

struct broker_cluster_map {
    struct broker_shard *shard;
    const struct metadata *metadata;
    struct iggy_writer writer;
    uint32_t partitions_led[CLUSTER_WIRE_REPLICAS_MAX];
    uint32_t partition_count;
};

static uint8_t broker_cluster_replica_count(const struct broker *broker)
{
    return broker->replica_count == 0 ? 1 : broker->replica_count;
}

static void broker_cluster_map_partition(struct broker_cluster_map *map,
                                         const struct metadata_partition *partition)
{
    struct broker *broker = map->shard->broker;
    uint8_t replica_count = broker_cluster_replica_count(broker);
    struct vsr_group group = {.stream_id = partition->stream_id,
                              .topic_id = partition->topic_id,
                              .partition_id = partition->id,
                              .kind = VSR_GROUP_KIND_PARTITION,
                              .incarnation = partition->incarnation};
    struct broker_stats_role role;
    uint32_t slot = (uint32_t)(partition - map->metadata->partitions);
    bool is_open = broker_stats_role_read(&broker->stats, slot, partition->incarnation, &role);
    uint32_t view = is_open ? role.view : 0;
    uint8_t primary = (uint8_t)(((uint64_t)view + vsr_group_index(&group)) % replica_count);
    struct cluster_wire_partition entry = {
        .stream_id = partition->stream_id,
        .topic_id = partition->topic_id,
        .partition_id = partition->id,
        .incarnation = partition->incarnation,
        .view = view,
        .primary = primary,
        .status = is_open && role.status <= CLUSTER_WIRE_STATUS_RECOVERING_HEAD ? role.status : 0,
        .shard = (uint16_t)data_plane_owner(partition->stream_id, partition->topic_id,
                                            partition->id, broker->shard_count),
    };
    cluster_wire_partition_encode(&map->writer, &entry);
    map->partitions_led[primary]++;
    map->partition_count++;
}

/* Writes the head; returns the metadata group's primary. */
static uint8_t broker_cluster_head(struct broker_cluster_map *map,
                                   struct net_connection *connection)
{
    struct broker *broker = map->shard->broker;
    uint8_t replica_count = broker_cluster_replica_count(broker);
    struct broker_stats_role role;
    bool has_role = broker_stats_metadata_role_read(&broker->stats, &role);
    uint32_t view = has_role ? role.view : 0;
    struct cluster_wire_head head = {
        .replica_count = replica_count,
        .self = broker->replica_index < replica_count ? broker->replica_index : 0,
        .metadata_primary = (uint8_t)(view % replica_count), /* the metadata group's index is 0 */
        .metadata_view = view,
        .metadata_status =
            has_role && role.status <= CLUSTER_WIRE_STATUS_RECOVERING_HEAD ? role.status : 0,
        .shard_count = broker->shard_count,
        .connection_shard = net_connection_shard(connection),
    };
    cluster_wire_head_encode(&map->writer, &head);
    return head.metadata_primary;
}

/* Nodes (with the partitions each leads) after the partitions were counted. */
static void broker_cluster_nodes(struct broker_cluster_map *map, uint8_t metadata_primary,
                                 uint8_t *nodes_at)
{
    struct broker *broker = map->shard->broker;
    uint8_t replica_count = broker_cluster_replica_count(broker);
    struct iggy_writer nodes;
    iggy_writer_init(&nodes, nodes_at, (uint32_t)replica_count * CLUSTER_WIRE_NODE_SIZE);
    for (uint8_t replica = 0; replica < replica_count; replica++) {
        struct cluster_wire_node node = {
            .replica = replica,
            .role =
                replica == metadata_primary ? CLUSTER_WIRE_ROLE_PRIMARY : CLUSTER_WIRE_ROLE_BACKUP,
            .is_self = replica == broker->replica_index,
            .partitions_led = map->partitions_led[replica],
        };
        cluster_wire_node_encode(&nodes, &node);
    }
    assert(nodes.error == 0 && nodes.size == nodes.capacity);
}

/* The partitions the request names (one topic, or all the caller may see). */
static uint32_t broker_cluster_map_partitions(struct broker_cluster_map *map,
                                              struct session *session, const uint8_t *body,
                                              uint32_t body_size)
{
    const struct metadata *metadata = map->metadata;
    bool has_topic = false;
    struct iggy_identifier ids[2];
    if (cluster_wire_map_request_decode(body, body_size, &has_topic, &ids[0], &ids[1]) != 0) {
        return IGGY_ERROR_INVALID_COMMAND;
    }
    if (!has_topic) {
        if (!metadata_is_permitted(metadata, session->user_id, METADATA_ACTION_SERVERS_READ,
                                   METADATA_NONE, METADATA_NONE)) {
            return IGGY_ERROR_UNAUTHORIZED;
        }
        for (uint32_t slot = 0; slot < metadata->config.limits.partitions_max; slot++) {
            if (metadata->partitions[slot].is_used) {
                broker_cluster_map_partition(map, &metadata->partitions[slot]);
            }
        }
        return 0;
    }
    const struct metadata_stream *stream =
        ids[0].kind == IGGY_IDENTIFIER_NUMERIC
            ? metadata_stream_get(metadata, ids[0].numeric)
            : metadata_stream_find(metadata, ids[0].name.bytes, ids[0].name.size);
    if (stream == NULL) {
        return IGGY_ERROR_STREAM_ID_NOT_FOUND;
    }
    const struct metadata_topic *topic =
        ids[1].kind == IGGY_IDENTIFIER_NUMERIC
            ? metadata_topic_get(metadata, stream->id, ids[1].numeric)
            : metadata_topic_find(metadata, stream->id, ids[1].name.bytes, ids[1].name.size);
    if (topic == NULL) {
        return IGGY_ERROR_TOPIC_ID_NOT_FOUND;
    }
    if (!metadata_is_permitted(metadata, session->user_id, METADATA_ACTION_TOPIC_READ, stream->id,
                               topic->id)) {
        return IGGY_ERROR_UNAUTHORIZED;
    }
    for (uint32_t id = 0; id < topic->partitions_count; id++) {
        const struct metadata_partition *partition =
            metadata_partition_get(metadata, stream->id, topic->id, id);
        if (partition != NULL) {
            broker_cluster_map_partition(map, partition);
        }
    }
    return 0;
}

static int broker_cluster_map_read(struct broker_shard *shard, struct net_connection *connection,
                                   const struct iggy_request_header *header, const uint8_t *body,
                                   uint32_t body_size)
{
    static __thread uint8_t frame[IGGY_HEADER_SIZE + BROKER_CLUSTER_READ_BUFFER_SIZE];
    struct broker_cluster_map map;
    memset(&map, 0, sizeof(map));
    map.shard = shard;
    iggy_writer_init(&map.writer, frame + IGGY_HEADER_SIZE, BROKER_CLUSTER_READ_BUFFER_SIZE);
    uint8_t metadata_primary = broker_cluster_head(&map, connection);
    uint8_t replica_count = broker_cluster_replica_count(shard->broker);
    iggy_writer_u32(&map.writer, replica_count);
    uint8_t *nodes_at =
        iggy_writer_reserve(&map.writer, (uint32_t)replica_count * CLUSTER_WIRE_NODE_SIZE);
    uint8_t *count_at = iggy_writer_reserve(&map.writer, 4);
    map.metadata = control_plane_read_begin(shard->broker->control_plane, shard->index);
    uint32_t status =
        broker_cluster_map_partitions(&map, broker_session(shard, connection), body, body_size);
    control_plane_read_end(shard->broker->control_plane, shard->index);
    map.metadata = NULL;
    if (status == 0 && map.writer.error != 0) {
        status = IGGY_ERROR_ERROR; /* more partitions than one reply holds */
    }
    if (status != 0) {
        return broker_reply_status(shard, connection, header, status);
    }
    assert(nodes_at != NULL && count_at != NULL);
    broker_cluster_nodes(&map, metadata_primary, nodes_at);
    iggy_wire_store_u32(count_at, map.partition_count);
    struct iggy_reply_header reply;
    iggy_header_reply_init(&reply, header, header->operation, 0, map.writer.size);
    memcpy(frame, &reply, IGGY_HEADER_SIZE);
    return net_connection_send(connection, frame, IGGY_HEADER_SIZE + map.writer.size);
}

/* ---- moving a connection with its session ---- */

/* [state u8][exactly_once u8][0 u16][user u32][session u64][client u128] */
static void broker_cluster_session_pack(const struct session *session,
                                        uint8_t state[NET_HANDOFF_STATE_SIZE])
{
    _Static_assert(NET_HANDOFF_STATE_SIZE >= 32, "a session fits a hand-off");
    memset(state, 0, NET_HANDOFF_STATE_SIZE);
    state[0] = (uint8_t)session->state;
    state[1] = session->is_exactly_once ? 1 : 0;
    memcpy(state + 4, &session->user_id, 4);
    memcpy(state + 8, &session->session, 8);
    memcpy(state + 16, &session->client, 16);
}

void broker_cluster_session_adopt(struct net_connection *connection, struct session *session)
{
    assert(connection != NULL && session != NULL);
    assert(session->state == SESSION_UNBOUND);
    if (!connection->has_adopted_state) {
        return;
    }
    connection->has_adopted_state = false;
    const uint8_t *state = connection->adopted_state;
    uint32_t user_id = 0;
    uint64_t epoch = 0;
    u128 client = 0;
    memcpy(&user_id, state + 4, 4);
    memcpy(&epoch, state + 8, 8);
    memcpy(&client, state + 16, 16);
    if (state[0] == SESSION_BOUND) {
        assert(client != 0 && epoch != 0); /* written by broker_cluster_session_pack */
        session_bind(session, client, epoch, user_id, state[1] != 0);
    }
    session_seen_forget(session); /* the floors stayed behind: the primary serves first */
}

static int broker_cluster_move(struct broker_shard *shard, struct net_connection *connection,
                               const struct iggy_request_header *header, const uint8_t *body,
                               uint32_t body_size)
{
    uint32_t target = 0;
    if (cluster_wire_move_request_decode(body, body_size, &target) != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    uint32_t shard_count = net_connection_shard_count(connection);
    if (target >= shard_count) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    uint8_t reply[8];
    struct iggy_writer writer;
    iggy_writer_init(&writer, reply, sizeof(reply));
    cluster_wire_move_reply_encode(&writer, target, shard_count);
    int result =
        broker_reply_send(connection, header, header->operation, 0, writer.bytes, writer.size);
    if (result != 0 || target == shard->index) {
        return result;
    }
    struct session *session = broker_session(shard, connection);
    assert(session_is_bound(session));
    uint8_t state[NET_HANDOFF_STATE_SIZE];
    broker_cluster_session_pack(session, state);
    session->is_moving = true;
    net_connection_handoff_state(connection, state, sizeof(state));
    net_connection_handoff(connection, target);
    return 0;
}

void broker_cluster_on_handoff(struct node_handler *handler, struct net_connection *connection)
{
    struct broker *broker = handler->context;
    assert(broker != NULL && connection != NULL);
    struct broker_shard *shard = &broker->shards[net_connection_shard(connection)];
    struct session *session = broker_session(shard, connection);
    if (session->state != SESSION_FREE) {
        session_close(session); /* the session lives on at the target: no logout */
    }
    shard->connections[connection->slot] = NULL;
}

int broker_cluster_request(struct broker_shard *shard, struct net_connection *connection,
                           const struct iggy_request_header *header, const uint8_t *body,
                           uint32_t body_size)
{
    assert(shard != NULL && connection != NULL && header != NULL);
    assert(cluster_wire_is_command(header->code));
    if (header->code == RUNNEL_COMMAND_CONNECTION_MOVE) {
        return broker_cluster_move(shard, connection, header, body, body_size);
    }
    return broker_cluster_map_read(shard, connection, header, body, body_size);
}
