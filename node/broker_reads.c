/*
 * NonReplicated reads on the home shard (research/iggy-protocol.md §3.1): cluster
 * metadata, me, streams, topics, consumer groups (get, list, sync), users, tokens,
 * options.describe and stats, encoded with proto/iggy_* from the metadata version the
 * control plane published last (one per request), permission-checked as Iggy checks them. Runs on
 * the connection's home shard.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "node/broker_internal.h"
#include "node/shard.h"
#include "proto/iggy_command.h"
#include "proto/iggy_error.h"
#include "proto/iggy_groups.h"
#include "proto/iggy_options.h"
#include "proto/iggy_streams.h"
#include "proto/iggy_system.h"
#include "proto/iggy_users.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { BROKER_READ_BUFFER_SIZE = 1u << 20 };

struct broker_read {
    struct broker_shard *shard;
    struct session *session;
    const struct metadata *metadata;
    struct iggy_writer writer;
    uint32_t status;
};

static struct iggy_bytes broker_name(const struct metadata_name *name)
{
    struct iggy_bytes bytes = {.bytes = name->bytes, .size = name->size};
    return bytes;
}

static const struct metadata_stream *broker_read_stream(const struct metadata *metadata,
                                                        const struct iggy_identifier *id)
{
    assert(metadata != NULL && id != NULL);
    return id->kind == IGGY_IDENTIFIER_NUMERIC
               ? metadata_stream_get(metadata, id->numeric)
               : metadata_stream_find(metadata, id->name.bytes, id->name.size);
}

static const struct metadata_topic *broker_read_topic(const struct metadata *metadata,
                                                      uint32_t stream_id,
                                                      const struct iggy_identifier *id)
{
    assert(metadata != NULL && id != NULL);
    return id->kind == IGGY_IDENTIFIER_NUMERIC
               ? metadata_topic_get(metadata, stream_id, id->numeric)
               : metadata_topic_find(metadata, stream_id, id->name.bytes, id->name.size);
}

/* Adds partition (stream, topic, id)'s published figures to sum; its own into out. */
static void broker_read_partition_figures(const struct broker_read *read, uint32_t stream_id,
                                          uint32_t topic_id, uint32_t id,
                                          struct broker_stats_figures *sum,
                                          struct broker_stats_figures *out)
{
    const struct metadata *metadata = read->metadata;
    const struct metadata_partition *partition =
        metadata_partition_get(metadata, stream_id, topic_id, id);
    struct broker_stats_figures figures;
    memset(&figures, 0, sizeof(figures));
    if (partition != NULL) {
        (void)broker_stats_read(&read->shard->broker->stats,
                                (uint32_t)(partition - metadata->partitions),
                                partition->incarnation, &figures);
    }
    sum->message_count += figures.message_count;
    sum->size_bytes += figures.size_bytes;
    sum->segment_count += figures.segment_count > 0 ? figures.segment_count : 1;
    if (out != NULL) {
        *out = figures;
    }
}

static void broker_read_topic_figures(const struct broker_read *read,
                                      const struct metadata_topic *topic,
                                      struct broker_stats_figures *sum)
{
    assert(topic != NULL && sum != NULL);
    for (uint32_t id = 0; id < topic->partitions_count; id++) {
        broker_read_partition_figures(read, topic->stream_id, topic->id, id, sum, NULL);
    }
}

static void broker_read_stream_figures(const struct broker_read *read,
                                       const struct metadata_stream *stream,
                                       struct broker_stats_figures *sum)
{
    const struct metadata *metadata = read->metadata;
    uint32_t slot = stream->topic_first;
    for (uint32_t count = 0; slot != METADATA_NONE && count < stream->topics_count; count++) {
        broker_read_topic_figures(read, &metadata->topics[slot], sum);
        slot = metadata->topics[slot].next;
    }
}

static void broker_read_stream_info(struct broker_read *read, const struct metadata_stream *stream)
{
    struct broker_stats_figures sum;
    memset(&sum, 0, sizeof(sum));
    broker_read_stream_figures(read, stream, &sum);
    struct iggy_stream_info info = {.id = stream->id,
                                    .created_at_us = stream->created_at_us,
                                    .topic_count = stream->topics_count,
                                    .size_bytes = sum.size_bytes,
                                    .message_count = sum.message_count,
                                    .name = broker_name(&stream->name)};
    (void)iggy_streams_stream_encode(&read->writer, &info);
}

/* TopicHeader (+ partitions): options split into explicit and derived blocks. */
static void broker_read_topic_info(struct broker_read *read, const struct metadata_topic *topic,
                                   bool with_partitions)
{
    const struct metadata_topic_settings *settings = &topic->settings;
    struct iggy_topic_options options = {
        .present = topic->explicit_mask,
        .compression = (uint8_t)settings->compression_algorithm,
        .message_expiry_us = settings->message_expiry_us,
        .max_topic_size_bytes = settings->max_topic_size_bytes,
        .segment_size_bytes = settings->segment_size_bytes,
        .enforce_fsync = settings->enforce_fsync,
        .messages_required_to_save = settings->messages_required_to_save,
        .size_of_messages_required_to_save_bytes = settings->size_of_messages_required_to_save,
        .preallocate_segments = settings->preallocate_segments,
    };
    uint8_t explicit_bytes[2048];
    uint8_t derived_bytes[2048];
    struct iggy_writer explicit_writer;
    struct iggy_writer derived_writer;
    iggy_writer_init(&explicit_writer, explicit_bytes, sizeof(explicit_bytes));
    iggy_writer_init(&derived_writer, derived_bytes, sizeof(derived_bytes));
    (void)iggy_options_topic_encode(&explicit_writer, &options, false);
    (void)iggy_options_topic_encode(&derived_writer, &options, true);
    struct broker_stats_figures sum;
    memset(&sum, 0, sizeof(sum));
    broker_read_topic_figures(read, topic, &sum);
    struct iggy_topic_info info = {
        .id = topic->id,
        .created_at_us = topic->created_at_us,
        .partition_count = topic->partitions_count,
        .message_expiry_us = settings->message_expiry_us,
        .compression = (uint8_t)settings->compression_algorithm,
        .max_topic_size_bytes = settings->max_topic_size_bytes,
        .size_bytes = sum.size_bytes,
        .message_count = sum.message_count,
        .name = broker_name(&topic->name),
        .options_explicit = {.bytes = explicit_bytes, .size = explicit_writer.size},
        .options_derived = {.bytes = derived_bytes, .size = derived_writer.size},
    };
    (void)iggy_streams_topic_encode(&read->writer, &info);
    for (uint32_t id = 0; with_partitions && id < topic->partitions_count; id++) {
        const struct metadata_partition *partition =
            metadata_partition_get(read->metadata, topic->stream_id, topic->id, id);
        struct broker_stats_figures figures;
        broker_read_partition_figures(read, topic->stream_id, topic->id, id, &sum, &figures);
        struct iggy_partition_info partition_info = {
            .id = id,
            .created_at_us = partition != NULL ? partition->created_at_us : 0,
            .segment_count = figures.segment_count > 0 ? (uint32_t)figures.segment_count : 1,
            .current_offset = figures.offset_next > 0 ? figures.offset_next - 1 : 0,
            .size_bytes = figures.size_bytes,
            .message_count = figures.message_count,
        };
        (void)iggy_streams_partition_encode(&read->writer, &partition_info);
    }
}

static void broker_read_streams(struct broker_read *read, const struct iggy_request_header *header,
                                const uint8_t *body, uint32_t body_size)
{
    const struct metadata *metadata = read->metadata;
    uint32_t user = read->session->user_id;
    if (header->code == IGGY_COMMAND_STREAM_LIST) {
        if (!metadata_is_permitted(metadata, user, METADATA_ACTION_STREAMS_READ, METADATA_NONE,
                                   METADATA_NONE)) {
            read->status = IGGY_ERROR_UNAUTHORIZED;
            return;
        }
        for (uint32_t id = 0; id < metadata->config.limits.streams_max; id++) {
            const struct metadata_stream *stream = metadata_stream_get(metadata, id);
            if (stream != NULL) {
                broker_read_stream_info(read, stream);
            }
        }
        return;
    }
    struct iggy_identifier id;
    if (iggy_command_identifiers_decode(body, body_size, 1, &id) != 0) {
        return;
    }
    const struct metadata_stream *stream = broker_read_stream(metadata, &id);
    if (stream == NULL) {
        return;
    }
    if (!metadata_is_permitted(metadata, user, METADATA_ACTION_STREAM_READ, stream->id,
                               METADATA_NONE)) {
        read->status = IGGY_ERROR_UNAUTHORIZED;
        return;
    }
    broker_read_stream_info(read, stream);
    for (uint32_t slot = stream->topic_first, round = 0;
         slot != METADATA_NONE && round < stream->topics_count; round++) {
        broker_read_topic_info(read, &metadata->topics[slot], false);
        slot = metadata->topics[slot].next;
    }
}

static void broker_read_topics(struct broker_read *read, const struct iggy_request_header *header,
                               const uint8_t *body, uint32_t body_size)
{
    const struct metadata *metadata = read->metadata;
    bool is_list = header->code == IGGY_COMMAND_TOPIC_LIST;
    struct iggy_identifier ids[2];
    if (iggy_command_identifiers_decode(body, body_size, is_list ? 1 : 2, ids) != 0) {
        return;
    }
    const struct metadata_stream *stream = broker_read_stream(metadata, &ids[0]);
    if (is_list) {
        uint8_t *count_at = iggy_writer_reserve(&read->writer, 4);
        uint32_t count = 0;
        if (stream != NULL &&
            metadata_is_permitted(metadata, read->session->user_id, METADATA_ACTION_TOPICS_READ,
                                  stream->id, METADATA_NONE)) {
            for (uint32_t slot = stream->topic_first;
                 slot != METADATA_NONE && count < stream->topics_count; count++) {
                broker_read_topic_info(read, &metadata->topics[slot], false);
                slot = metadata->topics[slot].next;
            }
        }
        if (count_at != NULL) {
            iggy_wire_store_u32(count_at, count);
        }
        return;
    }
    const struct metadata_topic *topic =
        stream != NULL ? broker_read_topic(metadata, stream->id, &ids[1]) : NULL;
    if (topic == NULL) {
        return;
    }
    if (!metadata_is_permitted(metadata, read->session->user_id, METADATA_ACTION_TOPIC_READ,
                               stream->id, topic->id)) {
        read->status = IGGY_ERROR_UNAUTHORIZED;
        return;
    }
    broker_read_topic_info(read, topic, true);
}

static const struct metadata_group *broker_read_group(const struct metadata *metadata,
                                                      const struct metadata_topic *topic,
                                                      const struct iggy_identifier *id)
{
    for (uint32_t slot = topic->group_first, round = 0;
         slot != METADATA_NONE && round < topic->groups_count; round++) {
        const struct metadata_group *group = &metadata->groups[slot];
        bool is_match = id->kind == IGGY_IDENTIFIER_NUMERIC
                            ? group->id == id->numeric
                            : group->name.size == id->name.size &&
                                  memcmp(group->name.bytes, id->name.bytes, id->name.size) == 0;
        if (is_match) {
            return group;
        }
        slot = group->next;
    }
    return NULL;
}

static void broker_read_group_info(struct broker_read *read, const struct metadata_topic *topic,
                                   const struct metadata_group *group, bool with_members)
{
    const struct metadata *metadata = read->metadata;
    struct iggy_group_info info = {.id = group->id,
                                   .partition_count = topic->partitions_count,
                                   .member_count = group->members_count,
                                   .name = broker_name(&group->name)};
    (void)iggy_groups_group_encode(&read->writer, &info);
    for (uint32_t slot = group->member_first, round = 0;
         with_members && slot != METADATA_NONE && round < group->members_count; round++) {
        const struct metadata_member *member = &metadata->members[slot];
        uint32_t partitions[256];
        uint32_t count = 0;
        for (uint32_t at = member->assignment_first;
             at != METADATA_NONE && count < 256 && count < member->assignments_count; count++) {
            partitions[count] = metadata->assignments[at].partition_id;
            at = metadata->assignments[at].next;
        }
        struct iggy_group_member encoded = {
            .id = member->id, .partition_count = count, .partition_ids = partitions};
        (void)iggy_groups_member_encode(&read->writer, &encoded);
        slot = member->next;
    }
}

static void broker_read_groups(struct broker_read *read, const struct iggy_request_header *header,
                               const uint8_t *body, uint32_t body_size)
{
    const struct metadata *metadata = read->metadata;
    bool is_list = header->code == IGGY_COMMAND_GROUP_LIST;
    struct iggy_identifier ids[3];
    if (iggy_command_identifiers_decode(body, body_size, is_list ? 2 : 3, ids) != 0) {
        return;
    }
    const struct metadata_stream *stream = broker_read_stream(metadata, &ids[0]);
    const struct metadata_topic *topic =
        stream != NULL ? broker_read_topic(metadata, stream->id, &ids[1]) : NULL;
    if (topic == NULL) {
        if (header->code != IGGY_COMMAND_GROUP_SYNC) {
            read->status =
                stream == NULL ? IGGY_ERROR_STREAM_ID_NOT_FOUND : IGGY_ERROR_TOPIC_ID_NOT_FOUND;
        }
        return;
    }
    if (header->code != IGGY_COMMAND_GROUP_SYNC &&
        !metadata_is_permitted(metadata, read->session->user_id, METADATA_ACTION_TOPIC_READ,
                               stream->id, topic->id)) {
        read->status = IGGY_ERROR_UNAUTHORIZED;
        return;
    }
    if (is_list) {
        for (uint32_t slot = topic->group_first, round = 0;
             slot != METADATA_NONE && round < topic->groups_count; round++) {
            broker_read_group_info(read, topic, &metadata->groups[slot], false);
            slot = metadata->groups[slot].next;
        }
        return;
    }
    const struct metadata_group *group = broker_read_group(metadata, topic, &ids[2]);
    if (group == NULL) {
        return;
    }
    if (header->code == IGGY_COMMAND_GROUP_GET) {
        broker_read_group_info(read, topic, group, true);
        return;
    }
    uint32_t partitions[1024];
    uint64_t generation = 0;
    int count =
        metadata_group_sync(metadata, group, read->session->client, &generation, partitions, 1024);
    if (count >= 0) {
        struct iggy_group_sync sync = {.generation = generation,
                                       .partition_count = (uint32_t)count,
                                       .partition_ids = partitions};
        (void)iggy_groups_sync_encode(&read->writer, &sync);
    }
}

static void broker_read_cluster(struct broker_read *read)
{
    const struct node_config *config = read->shard->broker->config;
    struct iggy_cluster cluster = {.name = iggy_bytes_from_string("runnel"), .node_count = 1};
    (void)iggy_system_cluster_encode(&read->writer, &cluster);
    struct iggy_cluster_node node = {
        .name = iggy_bytes_from_string("runneld-0"),
        .ip = iggy_bytes_from_string(config->client_address),
        .tcp_port = (uint16_t)shard_set_port(read->shard->broker->set, NET_PEER_CLIENT),
        .role = IGGY_NODE_LEADER,
        .status = 0,
    };
    (void)iggy_system_node_encode(&read->writer, &node);
}

/* "ip:port" of session's peer into address (the caller's own connection only: the other
 * connections live on their home shards). */
static void broker_read_address(const struct session *session, char *address, size_t size)
{
    assert(session != NULL && address != NULL);
    assert(size >= 64);
    if (session->address_size == 4) {
        snprintf(address, size, "%u.%u.%u.%u:%u", session->address[0], session->address[1],
                 session->address[2], session->address[3], session->port);
    } else {
        snprintf(address, size, "[::]:%u", session->port);
    }
}

static void broker_read_me(struct broker_read *read)
{
    char address[64];
    const struct session *session = read->session;
    broker_read_address(session, address, sizeof(address));
    struct iggy_client_info info = {.client_id = (uint32_t)session->client,
                                    .user_id = session->user_id,
                                    .transport = IGGY_TRANSPORT_TCP,
                                    .address = iggy_bytes_from_string(address)};
    (void)iggy_system_client_encode(&read->writer, &info, true);
}

/*
 * client.list (22) and client.get (21) from the metadata group's client table (every
 * registered session of the node, whatever shard serves it). The client id is the low
 * 32 bits of the Iggy client id, as `me` reports it; the address is known for the
 * caller's own connection only (others: empty); consumer groups are not listed.
 */
static void broker_read_clients(struct broker_read *read, uint32_t code, const uint8_t *body,
                                uint32_t body_size)
{
    const struct metadata *metadata = read->metadata;
    uint32_t wanted = 0;
    if (code == IGGY_COMMAND_CLIENT_GET) {
        if (iggy_system_client_get_decode(body, body_size, &wanted) != 0) {
            read->status = IGGY_ERROR_INVALID_COMMAND;
            return;
        }
    }
    char address[64];
    for (uint32_t slot = 0; slot < metadata->client_slots.capacity; slot++) {
        const struct metadata_client *client = &metadata->clients[slot];
        if (!client->is_used ||
            (code == IGGY_COMMAND_CLIENT_GET && (uint32_t)client->client != wanted)) {
            continue;
        }
        bool is_own = client->client == read->session->client;
        address[0] = '\0';
        if (is_own) {
            broker_read_address(read->session, address, sizeof(address));
        }
        struct iggy_client_info info = {.client_id = (uint32_t)client->client,
                                        .user_id = client->user_id,
                                        .transport = IGGY_TRANSPORT_TCP,
                                        .address = iggy_bytes_from_string(address)};
        (void)iggy_system_client_encode(&read->writer, &info, code == IGGY_COMMAND_CLIENT_GET);
        if (code == IGGY_COMMAND_CLIENT_GET) {
            return; /* the first match; empty when none */
        }
    }
}

static void broker_read_stats(struct broker_read *read)
{
    const struct metadata *metadata = read->metadata;
    struct iggy_stats stats;
    memset(&stats, 0, sizeof(stats));
    stats.process_id = (uint32_t)getpid();
    stats.start_time_us = read->shard->broker->started_at_us;
    stats.stream_count = metadata->streams_count;
    stats.partition_count =
        metadata->partition_slots.capacity - metadata->partition_slots.free_count;
    stats.topic_count = metadata->topic_slots.capacity - metadata->topic_slots.free_count;
    stats.consumer_group_count = metadata->group_slots.capacity - metadata->group_slots.free_count;
    stats.client_count = metadata->client_slots.capacity - metadata->client_slots.free_count;
    stats.hostname = iggy_bytes_from_string("localhost");
    stats.os_name = iggy_bytes_from_string("Linux");
    stats.os_version = iggy_bytes_from_string("");
    stats.kernel_version = iggy_bytes_from_string("");
    stats.server_version = iggy_bytes_from_string("runneld-" RUNNEL_VERSION);
    stats.thread_count = read->shard->broker->shard_count;
    struct broker_stats_figures sum;
    memset(&sum, 0, sizeof(sum));
    for (uint32_t slot = 0; slot < metadata->partition_slots.capacity; slot++) {
        const struct metadata_partition *partition = &metadata->partitions[slot];
        if (partition->is_used) {
            broker_read_partition_figures(read, partition->stream_id, partition->topic_id,
                                          partition->id, &sum, NULL);
        }
    }
    stats.message_count = sum.message_count;
    stats.messages_size_bytes = sum.size_bytes;
    stats.segment_count = (uint32_t)sum.segment_count;
    (void)iggy_system_stats_encode(&read->writer, &stats);
}

static void broker_read_user_info(struct broker_read *read, const struct metadata_user *user)
{
    struct iggy_user_info info = {.id = user->id,
                                  .created_at_us = user->created_at_us,
                                  .status = (uint8_t)user->status,
                                  .username = broker_name(&user->username),
                                  .has_permissions = false};
    (void)iggy_users_user_encode(&read->writer, &info, true);
}

static void broker_read_users(struct broker_read *read, const struct iggy_request_header *header,
                              const uint8_t *body, uint32_t body_size)
{
    const struct metadata *metadata = read->metadata;
    uint32_t self = read->session->user_id;
    if (header->code == IGGY_COMMAND_USER_LIST) {
        if (!metadata_is_permitted(metadata, self, METADATA_ACTION_USERS_READ, METADATA_NONE,
                                   METADATA_NONE)) {
            read->status = IGGY_ERROR_UNAUTHORIZED;
            return;
        }
        for (uint32_t id = 0; id < metadata->config.limits.users_max; id++) {
            const struct metadata_user *user = metadata_user_get(metadata, id);
            if (user != NULL) {
                struct iggy_user_info info = {.id = user->id,
                                              .created_at_us = user->created_at_us,
                                              .status = (uint8_t)user->status,
                                              .username = broker_name(&user->username)};
                (void)iggy_users_user_encode(&read->writer, &info, false);
            }
        }
        return;
    }
    struct iggy_identifier id;
    if (iggy_command_identifiers_decode(body, body_size, 1, &id) != 0) {
        return;
    }
    const struct metadata_user *user =
        id.kind == IGGY_IDENTIFIER_NUMERIC
            ? metadata_user_get(metadata, id.numeric)
            : metadata_user_find(metadata, id.name.bytes, id.name.size);
    if (user == NULL) {
        return;
    }
    if (user->id != self && !metadata_is_permitted(metadata, self, METADATA_ACTION_USERS_READ,
                                                   METADATA_NONE, METADATA_NONE)) {
        read->status = IGGY_ERROR_UNAUTHORIZED;
        return;
    }
    broker_read_user_info(read, user);
}

static void broker_read_tokens(struct broker_read *read)
{
    const struct metadata *metadata = read->metadata;
    for (uint32_t slot = 0; slot < metadata->config.limits.tokens_max; slot++) {
        const struct metadata_token *token = &metadata->tokens[slot];
        if (token->is_used && token->user_id == read->session->user_id) {
            struct iggy_pat_info info = {.name = broker_name(&token->name),
                                         .expiry_at_us = token->expiry_at_us};
            (void)iggy_users_pat_encode(&read->writer, &info);
        }
    }
}

static void broker_read_dispatch(struct broker_read *read, const struct iggy_request_header *header,
                                 const uint8_t *body, uint32_t body_size)
{
    const struct metadata *metadata = read->metadata;
    uint32_t code = header->code;
    bool is_servers = code == IGGY_COMMAND_STATS || code == IGGY_COMMAND_CLIENT_LIST ||
                      code == IGGY_COMMAND_CLIENT_GET || code == IGGY_COMMAND_SNAPSHOT;
    if (is_servers &&
        !metadata_is_permitted(metadata, read->session->user_id, METADATA_ACTION_SERVERS_READ,
                               METADATA_NONE, METADATA_NONE)) {
        read->status = IGGY_ERROR_UNAUTHORIZED;
        return;
    }
    uint8_t scope = 0;
    switch (code) {
    case IGGY_COMMAND_PING:
        return;
    case IGGY_COMMAND_CLIENT_LIST:
    case IGGY_COMMAND_CLIENT_GET:
        broker_read_clients(read, code, body, body_size);
        return;
    case IGGY_COMMAND_SNAPSHOT:
        read->status = IGGY_ERROR_FEATURE_UNAVAILABLE;
        return;
    case IGGY_COMMAND_STATS:
        broker_read_stats(read);
        return;
    case IGGY_COMMAND_CLUSTER_METADATA:
        broker_read_cluster(read);
        return;
    case IGGY_COMMAND_ME:
        broker_read_me(read);
        return;
    case IGGY_COMMAND_OPTIONS_DESCRIBE:
        if (iggy_system_options_describe_decode(body, body_size, &scope) != 0 ||
            iggy_options_describe_encode(&read->writer, scope) != 0) {
            read->status = IGGY_ERROR_INVALID_COMMAND;
        }
        return;
    case IGGY_COMMAND_USER_GET:
    case IGGY_COMMAND_USER_LIST:
        broker_read_users(read, header, body, body_size);
        return;
    case IGGY_COMMAND_PAT_LIST:
        broker_read_tokens(read);
        return;
    case IGGY_COMMAND_STREAM_GET:
    case IGGY_COMMAND_STREAM_LIST:
        broker_read_streams(read, header, body, body_size);
        return;
    case IGGY_COMMAND_TOPIC_GET:
    case IGGY_COMMAND_TOPIC_LIST:
        broker_read_topics(read, header, body, body_size);
        return;
    default:
        broker_read_groups(read, header, body, body_size);
        return;
    }
}

int broker_read(struct broker_shard *shard, struct net_connection *connection,
                const struct iggy_request_header *header, const uint8_t *body, uint32_t body_size)
{
    assert(shard != NULL && header != NULL);
    assert(header->operation == IGGY_OPERATION_NON_REPLICATED);
    static __thread uint8_t frame[IGGY_HEADER_SIZE + BROKER_READ_BUFFER_SIZE];
    struct broker_read read = {.shard = shard, .session = broker_session(shard, connection)};
    iggy_writer_init(&read.writer, frame + IGGY_HEADER_SIZE, BROKER_READ_BUFFER_SIZE);
    read.metadata = control_plane_read_begin(shard->broker->control_plane, shard->index);
    broker_read_dispatch(&read, header, body, body_size);
    control_plane_read_end(shard->broker->control_plane, shard->index);
    read.metadata = NULL;
    if (read.status == 0 && read.writer.error != 0) {
        read.status = IGGY_ERROR_ERROR;
    }
    if (read.status != 0) {
        return broker_reply_status(shard, connection, header, read.status);
    }
    struct iggy_reply_header reply;
    iggy_header_reply_init(&reply, header, header->operation, 0, read.writer.size);
    memcpy(frame, &reply, IGGY_HEADER_SIZE);
    return net_connection_send(connection, frame, IGGY_HEADER_SIZE + read.writer.size);
}
