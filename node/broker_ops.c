/*
 * The broker's writes and logins on the home shard (see broker.h): Register with a
 * password (verified by the auth worker) or a token, Logout, every metadata operation
 * (decoded with proto/iggy_*, checked as Iggy checks before consensus, then packed as a
 * MetadataOperation for the control plane), and partition requests (send, consumer
 * offsets, poll) resolved in one published metadata version, permission-checked and routed to
 * the owning shard. Runs on the connection's home shard.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/broker_internal.h"
#include "node/data_plane.h"
#include "node/recovery.h"
#include "proto/iggy_command.h"
#include "proto/iggy_error.h"
#include "proto/iggy_groups.h"
#include "proto/iggy_messages.h"
#include "proto/iggy_options.h"
#include "proto/iggy_streams.h"
#include "proto/iggy_users.h"

#include <string.h>

typedef Runnel__Metadata__MetadataOperation broker_operation;

static Runnel__Metadata__Identifier broker_identifier(const struct iggy_identifier *id)
{
    Runnel__Metadata__Identifier out = RUNNEL__METADATA__IDENTIFIER__INIT;
    assert(id != NULL);
    if (id->kind == IGGY_IDENTIFIER_NUMERIC) {
        out.has_id = true;
        out.id = id->numeric;
    } else {
        out.has_name = true;
        out.name.data = (uint8_t *)id->name.bytes;
        out.name.len = id->name.size;
    }
    return out;
}

static ProtobufCBinaryData broker_binary(struct iggy_bytes bytes)
{
    ProtobufCBinaryData out = {.len = bytes.size, .data = (uint8_t *)bytes.bytes};
    return out;
}

/* Takes a request for a metadata op, packs it and routes it to shard 0. */
static int broker_metadata_submit(struct broker_shard *shard, struct net_connection *connection,
                                  const struct iggy_request_header *header,
                                  const broker_operation *operation,
                                  enum broker_request_purpose purpose)
{
    struct session *session = broker_session(shard, connection);
    struct broker_request *request = broker_request_take(shard, false);
    if (request == NULL) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    broker_request_bind(shard, request, connection, header, BROKER_REQUEST_METADATA);
    request->purpose = purpose;
    if (broker_request_pack(request, operation, session->user_id, session->client) != 0) {
        broker_request_free(shard, request);
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    broker_request_route(shard->broker, shard->index, request);
    return 0;
}

/* ---- streams and topics ---- */

static void broker_topic_options(const struct iggy_topic_options *in,
                                 Runnel__Metadata__TopicOptions *out)
{
    assert(in != NULL && out != NULL);
    uint32_t present = in->present;
    out->has_compression_algorithm = (present & (1u << IGGY_TOPIC_OPTION_COMPRESSION)) != 0;
    out->compression_algorithm = in->compression;
    out->has_message_expiry_us = (present & (1u << IGGY_TOPIC_OPTION_MESSAGE_EXPIRY)) != 0;
    out->message_expiry_us = in->message_expiry_us;
    out->has_max_topic_size_bytes = (present & (1u << IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE)) != 0;
    out->max_topic_size_bytes = in->max_topic_size_bytes;
    out->has_segment_size_bytes = (present & (1u << IGGY_TOPIC_OPTION_SEGMENT_SIZE)) != 0;
    out->segment_size_bytes = in->segment_size_bytes;
    out->has_enforce_fsync = (present & (1u << IGGY_TOPIC_OPTION_ENFORCE_FSYNC)) != 0;
    out->enforce_fsync = in->enforce_fsync;
    out->has_messages_required_to_save =
        (present & (1u << IGGY_TOPIC_OPTION_MESSAGES_REQUIRED_TO_SAVE)) != 0;
    out->messages_required_to_save = in->messages_required_to_save;
    out->has_size_of_messages_required_to_save =
        (present & (1u << IGGY_TOPIC_OPTION_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE)) != 0;
    out->size_of_messages_required_to_save = in->size_of_messages_required_to_save_bytes;
    out->has_preallocate_segments = (present & (1u << IGGY_TOPIC_OPTION_PREALLOCATE_SEGMENTS)) != 0;
    out->preallocate_segments = in->preallocate_segments;
}

static int broker_topic_create(struct broker_shard *shard, struct net_connection *connection,
                               const struct iggy_request_header *header, const uint8_t *body,
                               uint32_t body_size)
{
    struct iggy_topic_create create;
    if (iggy_streams_topic_create_decode(body, body_size, &create) != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    if (create.partition_count > IGGY_PARTITIONS_PER_REQUEST_MAX) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TOO_MANY_PARTITIONS);
    }
    struct iggy_topic_options options;
    uint32_t code = iggy_options_topic_parse(create.options, false, &options);
    struct iggy_topic_options resolved = options;
    iggy_options_topic_resolve(&resolved);
    code = code != 0 ? code : iggy_options_topic_check(&resolved, create.partition_count);
    if (code != 0) {
        return broker_reply_status(shard, connection, header, code);
    }
    Runnel__Metadata__TopicOptions topic_options = RUNNEL__METADATA__TOPIC_OPTIONS__INIT;
    broker_topic_options(&options, &topic_options);
    Runnel__Metadata__Identifier stream = broker_identifier(&create.stream);
    Runnel__Metadata__CreateTopic op = RUNNEL__METADATA__CREATE_TOPIC__INIT;
    op.stream = &stream;
    op.partitions_count = create.partition_count;
    op.name = broker_binary(create.name);
    op.options = &topic_options;
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOPIC;
    operation.create_topic = &op;
    return broker_metadata_submit(shard, connection, header, &operation, BROKER_PURPOSE_PLAIN);
}

static int broker_topic_update(struct broker_shard *shard, struct net_connection *connection,
                               const struct iggy_request_header *header, const uint8_t *body,
                               uint32_t body_size)
{
    struct iggy_topic_update update;
    if (iggy_streams_topic_update_decode(body, body_size, &update) != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    struct iggy_topic_options options;
    uint32_t code = iggy_options_topic_parse(update.options, true, &options);
    if (code != 0) {
        return broker_reply_status(shard, connection, header, code);
    }
    Runnel__Metadata__TopicOptions topic_options = RUNNEL__METADATA__TOPIC_OPTIONS__INIT;
    broker_topic_options(&options, &topic_options);
    Runnel__Metadata__Identifier stream = broker_identifier(&update.stream);
    Runnel__Metadata__Identifier topic = broker_identifier(&update.topic);
    Runnel__Metadata__UpdateTopic op = RUNNEL__METADATA__UPDATE_TOPIC__INIT;
    op.stream = &stream;
    op.topic = &topic;
    op.name = broker_binary(update.name);
    op.options = &topic_options;
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_TOPIC;
    operation.update_topic = &op;
    return broker_metadata_submit(shard, connection, header, &operation, BROKER_PURPOSE_PLAIN);
}

static int broker_stream_op(struct broker_shard *shard, struct net_connection *connection,
                            const struct iggy_request_header *header, const uint8_t *body,
                            uint32_t body_size)
{
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    Runnel__Metadata__CreateStream create = RUNNEL__METADATA__CREATE_STREAM__INIT;
    Runnel__Metadata__UpdateStream update = RUNNEL__METADATA__UPDATE_STREAM__INIT;
    Runnel__Metadata__DeleteStream remove = RUNNEL__METADATA__DELETE_STREAM__INIT;
    Runnel__Metadata__PurgeStream purge = RUNNEL__METADATA__PURGE_STREAM__INIT;
    Runnel__Metadata__Identifier stream;
    struct iggy_stream_create created;
    struct iggy_stream_update updated;
    struct iggy_identifier id;
    int result = 0;
    if (header->operation == IGGY_OPERATION_CREATE_STREAM) {
        result = iggy_streams_create_decode(body, body_size, &created);
        if (result == 0 && created.options.size > 0) {
            return broker_reply_status(shard, connection, header,
                                       IGGY_ERROR_UNSUPPORTED_OPTION_KEY);
        }
        create.name = broker_binary(created.name);
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_STREAM;
        operation.create_stream = &create;
    } else if (header->operation == IGGY_OPERATION_UPDATE_STREAM) {
        result = iggy_streams_update_decode(body, body_size, &updated);
        if (result == 0 && updated.options.size > 0) {
            return broker_reply_status(shard, connection, header,
                                       IGGY_ERROR_UNSUPPORTED_OPTION_KEY);
        }
        stream = broker_identifier(&updated.stream);
        update.stream = &stream;
        update.name = broker_binary(updated.name);
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_STREAM;
        operation.update_stream = &update;
    } else {
        result = iggy_command_identifiers_decode(body, body_size, 1, &id);
        stream = broker_identifier(&id);
        remove.stream = &stream;
        purge.stream = &stream;
        bool is_delete = header->operation == IGGY_OPERATION_DELETE_STREAM;
        operation.operation_case =
            is_delete ? RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM
                      : RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_STREAM;
        operation.delete_stream = &remove;
        if (!is_delete) {
            operation.purge_stream = &purge;
        }
    }
    if (result != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    return broker_metadata_submit(shard, connection, header, &operation, BROKER_PURPOSE_PLAIN);
}

/* Decodes the bodies of delete/purge topic, partitions and consumer-group ops: 0, or the
 * status to answer with. */
static uint32_t broker_topic_group_decode(const struct iggy_request_header *header,
                                          const uint8_t *body, uint32_t body_size,
                                          struct iggy_identifier ids[3], uint32_t *count_out,
                                          struct iggy_bytes *name_out)
{
    uint8_t code = header->operation;
    memset(ids, 0, 3 * sizeof(ids[0]));
    int result = 0;
    if (code == IGGY_OPERATION_CREATE_PARTITIONS || code == IGGY_OPERATION_DELETE_PARTITIONS) {
        struct iggy_partitions_change change;
        result = iggy_streams_partitions_decode(body, body_size, &change);
        ids[0] = change.stream;
        ids[1] = change.topic;
        *count_out = change.partition_count;
        if (result == 0 && (*count_out == 0 || *count_out > IGGY_PARTITIONS_PER_REQUEST_MAX)) {
            return IGGY_ERROR_TOO_MANY_PARTITIONS;
        }
    } else if (code == IGGY_OPERATION_CREATE_CONSUMER_GROUP) {
        struct iggy_group_create group_create;
        result = iggy_groups_create_decode(body, body_size, &group_create);
        ids[0] = group_create.stream;
        ids[1] = group_create.topic;
        *name_out = group_create.name;
    } else {
        bool is_topic = code == IGGY_OPERATION_DELETE_TOPIC || code == IGGY_OPERATION_PURGE_TOPIC;
        result = iggy_command_identifiers_decode(body, body_size, is_topic ? 2 : 3, ids);
    }
    return result == 0 ? 0 : IGGY_ERROR_INVALID_COMMAND;
}

/* The pieces every topic and group op is built from (kept alive until packed). */
struct broker_topic_group {
    Runnel__Metadata__Identifier stream;
    Runnel__Metadata__Identifier topic;
    Runnel__Metadata__Identifier group;
    Runnel__Metadata__DeleteTopic delete_topic;
    Runnel__Metadata__PurgeTopic purge_topic;
    Runnel__Metadata__CreatePartitions create_partitions;
    Runnel__Metadata__DeletePartitions delete_partitions;
    Runnel__Metadata__CreateConsumerGroup create_group;
    Runnel__Metadata__DeleteConsumerGroup delete_group;
    Runnel__Metadata__JoinConsumerGroup join;
    Runnel__Metadata__LeaveConsumerGroup leave;
};

static void broker_topic_op_build(struct broker_topic_group *parts, uint8_t code, uint32_t count,
                                  broker_operation *operation)
{
    switch (code) {
    case IGGY_OPERATION_DELETE_TOPIC:
        parts->delete_topic.stream = &parts->stream;
        parts->delete_topic.topic = &parts->topic;
        operation->delete_topic = &parts->delete_topic;
        operation->operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOPIC;
        break;
    case IGGY_OPERATION_PURGE_TOPIC:
        parts->purge_topic.stream = &parts->stream;
        parts->purge_topic.topic = &parts->topic;
        operation->purge_topic = &parts->purge_topic;
        operation->operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_TOPIC;
        break;
    case IGGY_OPERATION_CREATE_PARTITIONS:
        parts->create_partitions.stream = &parts->stream;
        parts->create_partitions.topic = &parts->topic;
        parts->create_partitions.count = count;
        operation->create_partitions = &parts->create_partitions;
        operation->operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_PARTITIONS;
        break;
    default:
        assert(code == IGGY_OPERATION_DELETE_PARTITIONS);
        parts->delete_partitions.stream = &parts->stream;
        parts->delete_partitions.topic = &parts->topic;
        parts->delete_partitions.count = count;
        operation->delete_partitions = &parts->delete_partitions;
        operation->operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_PARTITIONS;
        break;
    }
}

static void broker_group_op_build(struct broker_topic_group *parts, uint8_t code,
                                  struct iggy_bytes name, broker_operation *operation)
{
    switch (code) {
    case IGGY_OPERATION_CREATE_CONSUMER_GROUP:
        parts->create_group.stream = &parts->stream;
        parts->create_group.topic = &parts->topic;
        parts->create_group.name = broker_binary(name);
        operation->create_consumer_group = &parts->create_group;
        operation->operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_CONSUMER_GROUP;
        break;
    case IGGY_OPERATION_DELETE_CONSUMER_GROUP:
        parts->delete_group.stream = &parts->stream;
        parts->delete_group.topic = &parts->topic;
        parts->delete_group.group = &parts->group;
        operation->delete_consumer_group = &parts->delete_group;
        operation->operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_CONSUMER_GROUP;
        break;
    case IGGY_OPERATION_JOIN_CONSUMER_GROUP:
        parts->join.stream = &parts->stream;
        parts->join.topic = &parts->topic;
        parts->join.group = &parts->group;
        operation->join_consumer_group = &parts->join;
        operation->operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_JOIN_CONSUMER_GROUP;
        break;
    default:
        parts->leave.stream = &parts->stream;
        parts->leave.topic = &parts->topic;
        parts->leave.group = &parts->group;
        operation->leave_consumer_group = &parts->leave;
        operation->operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LEAVE_CONSUMER_GROUP;
        break;
    }
}

/* Delete/purge topic, partitions, consumer groups: identifier bodies and counts. */
static int broker_topic_group_op(struct broker_shard *shard, struct net_connection *connection,
                                 const struct iggy_request_header *header, const uint8_t *body,
                                 uint32_t body_size)
{
    struct iggy_identifier ids[3];
    uint32_t count = 0;
    struct iggy_bytes name = {.bytes = NULL, .size = 0};
    uint32_t status = broker_topic_group_decode(header, body, body_size, ids, &count, &name);
    if (status != 0) {
        return broker_reply_status(shard, connection, header, status);
    }
    struct broker_topic_group parts = {
        .stream = broker_identifier(&ids[0]),
        .topic = broker_identifier(&ids[1]),
        .group = broker_identifier(&ids[2]),
        .delete_topic = RUNNEL__METADATA__DELETE_TOPIC__INIT,
        .purge_topic = RUNNEL__METADATA__PURGE_TOPIC__INIT,
        .create_partitions = RUNNEL__METADATA__CREATE_PARTITIONS__INIT,
        .delete_partitions = RUNNEL__METADATA__DELETE_PARTITIONS__INIT,
        .create_group = RUNNEL__METADATA__CREATE_CONSUMER_GROUP__INIT,
        .delete_group = RUNNEL__METADATA__DELETE_CONSUMER_GROUP__INIT,
        .join = RUNNEL__METADATA__JOIN_CONSUMER_GROUP__INIT,
        .leave = RUNNEL__METADATA__LEAVE_CONSUMER_GROUP__INIT,
    };
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    uint8_t code = header->operation;
    if (code >= IGGY_OPERATION_CREATE_CONSUMER_GROUP) {
        broker_group_op_build(&parts, code, name, &operation);
    } else {
        broker_topic_op_build(&parts, code, count, &operation);
    }
    return broker_metadata_submit(shard, connection, header, &operation, BROKER_PURPOSE_PLAIN);
}

/* ---- users and tokens ---- */

/*
 * Takes and binds a request for an op that waits on the auth worker (purpose), keeping
 * its body in the upper half of the request's buffer for the later steps. NULL, with
 * nothing taken, when no request is free or the body does not fit in a quarter of the
 * buffer: the caller answers "transient".
 */
static struct broker_request *broker_auth_request_take(struct broker_shard *shard,
                                                       struct net_connection *connection,
                                                       const struct iggy_request_header *header,
                                                       const uint8_t *body, uint32_t body_size,
                                                       enum broker_request_purpose purpose)
{
    struct broker_request *request = broker_request_take(shard, false);
    if (request == NULL || body_size > request->buffer_capacity / 4) {
        if (request != NULL) {
            broker_request_free(shard, request);
        }
        return NULL;
    }
    broker_request_bind(shard, request, connection, header, BROKER_REQUEST_AUTH);
    request->purpose = purpose;
    memcpy(request->buffer + request->buffer_capacity / 2, body, body_size);
    request->body_size = body_size;
    return request;
}

/* Asks the auth worker to hash password for request; the result of auth_submit. The
 * password is wiped from the stack copy either way. */
static int broker_auth_hash_submit(struct broker_shard *shard, const struct broker_request *request,
                                   struct iggy_bytes password)
{
    struct auth_request hash;
    memset(&hash, 0, sizeof(hash));
    assert(password.size <= sizeof(hash.password));
    hash.user_data = request->index;
    hash.kind = AUTH_KIND_HASH;
    hash.password_size = (uint8_t)password.size;
    memcpy(hash.password, password.bytes, password.size);
    int result = auth_submit(&shard->broker->auth, shard->index, &hash);
    explicit_bzero(&hash, sizeof(hash));
    return result;
}

/* Answers request on its home shard without an op (an auth step failed). */
static void broker_auth_fail(struct broker_shard *shard, struct broker_request *request,
                             uint32_t status)
{
    assert(status != 0);
    assert(request->kind == BROKER_REQUEST_AUTH);
    request->reply_status = status;
    request->has_reply = true;
    request->target_shard = shard->index;
    broker_request_complete(shard->broker, shard->index, request);
}

/* The last auth step is done: packs operation as the request's session (packing must
 * succeed, as both callers asserted) and routes it as a plain metadata op. */
static void broker_auth_op_send(struct broker_shard *shard, struct broker_request *request,
                                const broker_operation *operation)
{
    struct session *session = &shard->sessions[request->connection_slot];
    int result = broker_request_pack(request, operation, session->user_id, session->client);
    assert(result == 0);
    request->purpose = BROKER_PURPOSE_PLAIN;
    broker_request_route(shard->broker, shard->index, request);
}

enum { BROKER_PERMISSION_STREAMS_MAX = 32, BROKER_PERMISSION_TOPICS_MAX = 32 };

struct broker_permissions {
    Runnel__Metadata__Permissions global;
    Runnel__Metadata__StreamPermissions streams[BROKER_PERMISSION_STREAMS_MAX];
    Runnel__Metadata__StreamPermissions *stream_pointers[BROKER_PERMISSION_STREAMS_MAX];
    Runnel__Metadata__TopicPermissions topics[BROKER_PERMISSION_STREAMS_MAX]
                                             [BROKER_PERMISSION_TOPICS_MAX];
    Runnel__Metadata__TopicPermissions
        *topic_pointers[BROKER_PERMISSION_STREAMS_MAX][BROKER_PERMISSION_TOPICS_MAX];
};

static void broker_permissions_stream(Runnel__Metadata__StreamPermissions *out,
                                      const struct iggy_stream_permissions *in)
{
    *out = (Runnel__Metadata__StreamPermissions)RUNNEL__METADATA__STREAM_PERMISSIONS__INIT;
    out->stream_id = in->stream_id;
    out->has_manage_stream = out->has_read_stream = out->has_manage_topics = true;
    out->has_read_topics = out->has_poll_messages = out->has_send_messages = true;
    out->manage_stream = in->flags[IGGY_PERMISSION_STREAM_MANAGE_STREAM];
    out->read_stream = in->flags[IGGY_PERMISSION_STREAM_READ_STREAM];
    out->manage_topics = in->flags[IGGY_PERMISSION_STREAM_MANAGE_TOPICS];
    out->read_topics = in->flags[IGGY_PERMISSION_STREAM_READ_TOPICS];
    out->poll_messages = in->flags[IGGY_PERMISSION_STREAM_POLL_MESSAGES];
    out->send_messages = in->flags[IGGY_PERMISSION_STREAM_SEND_MESSAGES];
}

/* Converts decoded Iggy permissions; false when they exceed the fixed scratch. */
static bool broker_permissions_convert(const struct iggy_permissions *in,
                                       struct broker_permissions *out)
{
    out->global = (Runnel__Metadata__Permissions)RUNNEL__METADATA__PERMISSIONS__INIT;
    Runnel__Metadata__Permissions *global = &out->global;
    const bool *flags = in->global;
    global->has_manage_servers = global->has_read_servers = global->has_manage_users = true;
    global->has_read_users = global->has_manage_streams = global->has_read_streams = true;
    global->has_manage_topics = global->has_read_topics = global->has_poll_messages = true;
    global->has_send_messages = true;
    global->manage_servers = flags[IGGY_PERMISSION_MANAGE_SERVERS];
    global->read_servers = flags[IGGY_PERMISSION_READ_SERVERS];
    global->manage_users = flags[IGGY_PERMISSION_MANAGE_USERS];
    global->read_users = flags[IGGY_PERMISSION_READ_USERS];
    global->manage_streams = flags[IGGY_PERMISSION_MANAGE_STREAMS];
    global->read_streams = flags[IGGY_PERMISSION_READ_STREAMS];
    global->manage_topics = flags[IGGY_PERMISSION_MANAGE_TOPICS];
    global->read_topics = flags[IGGY_PERMISSION_READ_TOPICS];
    global->poll_messages = flags[IGGY_PERMISSION_POLL_MESSAGES];
    global->send_messages = flags[IGGY_PERMISSION_SEND_MESSAGES];
    struct iggy_permissions_cursor cursor;
    iggy_permissions_cursor_init(&cursor, in);
    struct iggy_stream_permissions stream;
    struct iggy_topic_permissions topics[BROKER_PERMISSION_TOPICS_MAX];
    uint32_t topic_count = 0;
    uint32_t count = 0;
    while (iggy_permissions_cursor_next(&cursor, &stream, topics, BROKER_PERMISSION_TOPICS_MAX,
                                        &topic_count)) {
        if (count == BROKER_PERMISSION_STREAMS_MAX || topic_count > BROKER_PERMISSION_TOPICS_MAX) {
            return false;
        }
        broker_permissions_stream(&out->streams[count], &stream);
        for (uint32_t index = 0; index < topic_count; index++) {
            Runnel__Metadata__TopicPermissions *topic = &out->topics[count][index];
            *topic = (Runnel__Metadata__TopicPermissions)RUNNEL__METADATA__TOPIC_PERMISSIONS__INIT;
            topic->topic_id = topics[index].topic_id;
            topic->has_manage_topic = topic->has_read_topic = true;
            topic->has_poll_messages = topic->has_send_messages = true;
            topic->manage_topic = topics[index].flags[IGGY_PERMISSION_TOPIC_MANAGE_TOPIC];
            topic->read_topic = topics[index].flags[IGGY_PERMISSION_TOPIC_READ_TOPIC];
            topic->poll_messages = topics[index].flags[IGGY_PERMISSION_TOPIC_POLL_MESSAGES];
            topic->send_messages = topics[index].flags[IGGY_PERMISSION_TOPIC_SEND_MESSAGES];
            out->topic_pointers[count][index] = topic;
        }
        out->streams[count].n_topics = topic_count;
        out->streams[count].topics = out->topic_pointers[count];
        out->stream_pointers[count] = &out->streams[count];
        count++;
    }
    global->n_streams = count;
    global->streams = out->stream_pointers;
    return cursor.reader.error == 0;
}

/* CreateUser: the body waits in the request while the auth worker hashes the password. */
static int broker_user_create(struct broker_shard *shard, struct net_connection *connection,
                              const struct iggy_request_header *header, const uint8_t *body,
                              uint32_t body_size)
{
    struct iggy_user_create create;
    if (iggy_users_create_decode(body, body_size, &create) != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    if (create.options.size > 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_UNSUPPORTED_OPTION_KEY);
    }
    struct broker_request *request = broker_auth_request_take(
        shard, connection, header, body, body_size, BROKER_PURPOSE_CREATE_USER);
    if (request == NULL) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    if (broker_auth_hash_submit(shard, request, create.password) != 0) {
        broker_request_free(shard, request);
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    net_connection_request_begin(connection);
    broker_session(shard, connection)->has_request = true;
    return 0;
}

/* The hash is ready: sends the CreateUser op. */
static void broker_user_create_hashed(struct broker_shard *shard, struct broker_request *request,
                                      const char *hash)
{
    struct iggy_user_create create;
    const uint8_t *body = request->buffer + request->buffer_capacity / 2;
    int result = iggy_users_create_decode(body, request->body_size, &create);
    assert(result == 0);
    static __thread struct broker_permissions permissions;
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    Runnel__Metadata__CreateUser op = RUNNEL__METADATA__CREATE_USER__INIT;
    op.username = broker_binary(create.username);
    op.password_hash.data = (uint8_t *)hash;
    op.password_hash.len = strlen(hash);
    op.status = create.status;
    if (create.has_permissions) {
        if (!broker_permissions_convert(&create.permissions, &permissions)) {
            broker_auth_fail(shard, request, IGGY_ERROR_INVALID_COMMAND);
            return;
        }
        op.permissions = &permissions.global;
    }
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_USER;
    operation.create_user = &op;
    broker_auth_op_send(shard, request, &operation);
}

/*
 * ChangePassword (37): the auth worker verifies the current password against the target
 * user's hash (rate-limited by source, like a login), then hashes the new one; the op
 * carries only the new hash (DESIGN.md §4: the primary resolves password hashes). Who
 * may change whose password is decided when the op applies. The body waits in the upper
 * half of the request's buffer.
 */
static int broker_change_password(struct broker_shard *shard, struct net_connection *connection,
                                  const struct iggy_request_header *header, const uint8_t *body,
                                  uint32_t body_size)
{
    struct iggy_user_password change;
    if (iggy_users_password_decode(body, body_size, &change) != 0 || change.new_password.size < 3 ||
        change.new_password.size > 100) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    struct broker_request *request = broker_auth_request_take(
        shard, connection, header, body, body_size, BROKER_PURPOSE_CHANGE_PASSWORD);
    if (request == NULL) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    struct session *session = broker_session(shard, connection);
    struct auth_request verify;
    memset(&verify, 0, sizeof(verify));
    verify.user_data = request->index;
    verify.kind = AUTH_KIND_VERIFY;
    verify.password_size = (uint8_t)change.current_password.size;
    memcpy(verify.password, change.current_password.bytes, change.current_password.size);
    verify.address_size = session->address_size;
    memcpy(verify.address, session->address, sizeof(verify.address));
    verify.now_ns = clock_monotonic_ns(broker_shard_clock(shard->broker, shard->index));
    const struct metadata *metadata =
        control_plane_read_begin(shard->broker->control_plane, shard->index);
    const struct metadata_user *user =
        change.user.kind == IGGY_IDENTIFIER_NUMERIC
            ? metadata_user_get(metadata, change.user.numeric)
            : metadata_user_find(metadata, change.user.name.bytes, change.user.name.size);
    if (user != NULL && user->password_hash_size < sizeof(verify.hash)) {
        memcpy(verify.hash, user->password_hash, user->password_hash_size);
    }
    control_plane_read_end(shard->broker->control_plane, shard->index);
    int result = auth_submit(&shard->broker->auth, shard->index, &verify);
    explicit_bzero(&verify, sizeof(verify));
    if (result != 0) {
        broker_request_free(shard, request);
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    net_connection_request_begin(connection);
    session->has_request = true;
    return 0;
}

/* An auth step of ChangePassword finished: hash the new password, or send the op. */
static void broker_change_password_step(struct broker_shard *shard, struct broker_request *request,
                                        const struct auth_completion *completion)
{
    assert(request->purpose == BROKER_PURPOSE_CHANGE_PASSWORD);
    struct iggy_user_password change;
    const uint8_t *body = request->buffer + request->buffer_capacity / 2;
    int result = iggy_users_password_decode(body, request->body_size, &change);
    assert(result == 0);
    if (completion->kind == AUTH_KIND_VERIFY) {
        if (completion->result != 0 || !completion->is_verified) {
            broker_auth_fail(shard, request, IGGY_ERROR_INVALID_CREDENTIALS);
            return;
        }
        if (broker_auth_hash_submit(shard, request, change.new_password) != 0) {
            broker_auth_fail(shard, request, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
        }
        return;
    }
    if (completion->result != 0) {
        broker_auth_fail(shard, request, IGGY_ERROR_ERROR);
        return;
    }
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    Runnel__Metadata__ChangePassword op = RUNNEL__METADATA__CHANGE_PASSWORD__INIT;
    Runnel__Metadata__Identifier user = broker_identifier(&change.user);
    op.user = &user;
    op.password_hash.data = (uint8_t *)completion->hash;
    op.password_hash.len = strlen(completion->hash);
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CHANGE_PASSWORD;
    operation.change_password = &op;
    broker_auth_op_send(shard, request, &operation);
}

static int broker_user_op(struct broker_shard *shard, struct net_connection *connection,
                          const struct iggy_request_header *header, const uint8_t *body,
                          uint32_t body_size)
{
    static __thread struct broker_permissions permissions;
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    Runnel__Metadata__UpdateUser update = RUNNEL__METADATA__UPDATE_USER__INIT;
    Runnel__Metadata__DeleteUser remove = RUNNEL__METADATA__DELETE_USER__INIT;
    Runnel__Metadata__UpdatePermissions grant = RUNNEL__METADATA__UPDATE_PERMISSIONS__INIT;
    Runnel__Metadata__Identifier user;
    struct iggy_user_update updated;
    struct iggy_user_permissions granted;
    struct iggy_identifier id;
    int result = 0;
    if (header->operation == IGGY_OPERATION_UPDATE_USER) {
        result = iggy_users_update_decode(body, body_size, &updated);
        if (result == 0 && updated.options.size > 0) {
            return broker_reply_status(shard, connection, header,
                                       IGGY_ERROR_UNSUPPORTED_OPTION_KEY);
        }
        user = broker_identifier(&updated.user);
        update.user = &user;
        update.has_username = updated.has_username;
        update.username = broker_binary(updated.username);
        update.has_status = updated.has_status;
        update.status = updated.status;
        operation.update_user = &update;
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_USER;
    } else if (header->operation == IGGY_OPERATION_UPDATE_PERMISSIONS) {
        result = iggy_users_permissions_decode(body, body_size, &granted);
        user = broker_identifier(&granted.user);
        grant.user = &user;
        if (result == 0 && granted.has_permissions) {
            result = broker_permissions_convert(&granted.permissions, &permissions) ? 0 : -1;
            grant.permissions = &permissions.global;
        }
        operation.update_permissions = &grant;
        operation.operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_PERMISSIONS;
    } else {
        result = iggy_command_identifiers_decode(body, body_size, 1, &id);
        user = broker_identifier(&id);
        remove.user = &user;
        operation.delete_user = &remove;
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_USER;
    }
    if (result != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    return broker_metadata_submit(shard, connection, header, &operation, BROKER_PURPOSE_PLAIN);
}

static int broker_token_op(struct broker_shard *shard, struct net_connection *connection,
                           const struct iggy_request_header *header, const uint8_t *body,
                           uint32_t body_size)
{
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    if (header->operation == IGGY_OPERATION_DELETE_PERSONAL_ACCESS_TOKEN) {
        struct iggy_bytes name;
        if (iggy_users_pat_delete_decode(body, body_size, &name) != 0) {
            return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
        }
        Runnel__Metadata__DeleteToken remove = RUNNEL__METADATA__DELETE_TOKEN__INIT;
        remove.name = broker_binary(name);
        operation.delete_token = &remove;
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOKEN;
        return broker_metadata_submit(shard, connection, header, &operation, BROKER_PURPOSE_PLAIN);
    }
    struct iggy_pat_create create;
    if (iggy_users_pat_create_decode(body, body_size, &create) != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    struct broker_request *request = broker_request_take(shard, false);
    if (request == NULL) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    broker_request_bind(shard, request, connection, header, BROKER_REQUEST_METADATA);
    request->purpose = BROKER_PURPOSE_TOKEN;
    uint8_t hash[AUTH_TOKEN_HASH_SIZE];
    auth_token_generate(request->token, hash);
    Runnel__Metadata__CreateToken op = RUNNEL__METADATA__CREATE_TOKEN__INIT;
    op.name = broker_binary(create.name);
    op.expiry_us = create.expiry_us;
    op.token_hash.data = hash;
    op.token_hash.len = sizeof(hash);
    operation.create_token = &op;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOKEN;
    struct session *session = broker_session(shard, connection);
    if (broker_request_pack(request, &operation, session->user_id, session->client) != 0) {
        broker_request_free(shard, request);
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    }
    broker_request_route(shard->broker, shard->index, request);
    return 0;
}

int broker_metadata_request(struct broker_shard *shard, struct net_connection *connection,
                            const struct iggy_request_header *header, const uint8_t *body,
                            uint32_t body_size)
{
    assert(shard != NULL && header != NULL);
    assert(iggy_header_is_operation_metadata(header->operation));
    switch (header->operation) {
    case IGGY_OPERATION_CREATE_STREAM:
    case IGGY_OPERATION_UPDATE_STREAM:
    case IGGY_OPERATION_DELETE_STREAM:
    case IGGY_OPERATION_PURGE_STREAM:
        return broker_stream_op(shard, connection, header, body, body_size);
    case IGGY_OPERATION_CREATE_TOPIC:
        return broker_topic_create(shard, connection, header, body, body_size);
    case IGGY_OPERATION_UPDATE_TOPIC:
        return broker_topic_update(shard, connection, header, body, body_size);
    case IGGY_OPERATION_CREATE_USER:
        return broker_user_create(shard, connection, header, body, body_size);
    case IGGY_OPERATION_UPDATE_USER:
    case IGGY_OPERATION_DELETE_USER:
    case IGGY_OPERATION_UPDATE_PERMISSIONS:
        return broker_user_op(shard, connection, header, body, body_size);
    case IGGY_OPERATION_CHANGE_PASSWORD:
        return broker_change_password(shard, connection, header, body, body_size);
    case IGGY_OPERATION_CREATE_PERSONAL_ACCESS_TOKEN:
    case IGGY_OPERATION_DELETE_PERSONAL_ACCESS_TOKEN:
        return broker_token_op(shard, connection, header, body, body_size);
    default:
        return broker_topic_group_op(shard, connection, header, body, body_size);
    }
}

/* ---- login and logout ---- */

static int broker_register_op(struct broker_shard *shard, struct broker_request *request,
                              bool is_token)
{
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    Runnel__Metadata__RegisterClient op = RUNNEL__METADATA__REGISTER_CLIENT__INIT;
    if (is_token) {
        op.has_token_hash = true;
        op.token_hash.data = request->token_hash;
        op.token_hash.len = sizeof(request->token_hash);
    } else {
        op.has_user_id = true;
        op.user_id = request->user_id;
    }
    op.has_node = true; /* its members are released if this node stays unreachable */
    op.node = shard->broker->replica_index;
    operation.register_client = &op;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_REGISTER_CLIENT;
    request->purpose = BROKER_PURPOSE_REGISTER;
    request->has_token_shape = is_token;
    int result = broker_request_pack(request, &operation, request->user_id, request->header.client);
    assert(result == 0);
    broker_request_route(shard->broker, shard->index, request);
    return 0;
}

static bool broker_is_exactly_once(const struct iggy_register *decoded)
{
    struct iggy_bytes wanted = iggy_bytes_from_string(SESSION_EXACTLY_ONCE_CONTEXT);
    return (decoded->has_password_shape &&
            iggy_bytes_is_equal(decoded->password_context, wanted)) ||
           (!decoded->has_password_shape && decoded->has_token_shape &&
            iggy_bytes_is_equal(decoded->token_context, wanted));
}

/* Queues the password check on the auth worker (the user's hash read from the current
 * metadata version). */
static int broker_register_verify(struct broker_shard *shard, struct broker_request *request,
                                  const struct iggy_register *decoded)
{
    struct broker *broker = shard->broker;
    struct session *session = &shard->sessions[request->connection_slot];
    struct auth_request verify;
    memset(&verify, 0, sizeof(verify));
    verify.user_data = request->index;
    verify.kind = AUTH_KIND_VERIFY;
    verify.password_size = (uint8_t)decoded->password.size;
    memcpy(verify.password, decoded->password.bytes, decoded->password.size);
    verify.address_size = session->address_size;
    memcpy(verify.address, session->address, sizeof(verify.address));
    verify.now_ns = clock_monotonic_ns(broker_shard_clock(broker, shard->index));
    request->user_id = UINT32_MAX;
    const struct metadata *metadata = control_plane_read_begin(broker->control_plane, shard->index);
    const struct metadata_user *user =
        metadata_user_find(metadata, decoded->username.bytes, decoded->username.size);
    if (user != NULL && user->password_hash_size < sizeof(verify.hash)) {
        memcpy(verify.hash, user->password_hash, user->password_hash_size);
        request->user_id = user->id;
    }
    control_plane_read_end(broker->control_plane, shard->index);
    int result = auth_submit(&broker->auth, shard->index, &verify);
    explicit_bzero(&verify, sizeof(verify));
    return result;
}

int broker_register(struct broker_shard *shard, struct net_connection *connection,
                    const struct iggy_request_header *header, const uint8_t *body,
                    uint32_t body_size)
{
    struct iggy_register decoded;
    if (iggy_users_register_decode(body, body_size, &decoded) != 0) {
        return broker_reply_eviction(shard, connection, header, IGGY_EVICTION_MALFORMED_LOGIN);
    }
    if (!iggy_header_is_version_accepted(decoded.version.protocol_version)) {
        return broker_reply_eviction(shard, connection, header,
                                     IGGY_EVICTION_INCOMPATIBLE_PROTOCOL);
    }
    if (!decoded.has_password_shape && !decoded.has_token_shape) {
        return broker_reply_eviction(shard, connection, header, IGGY_EVICTION_MALFORMED_LOGIN);
    }
    if (recovery_is_metadata_pending(&shard->broker->recovery)) {
        /* A recovering node's metadata may not hold the user yet: not a wrong password. */
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    struct broker_request *request = broker_request_take(shard, false);
    if (request == NULL) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    broker_request_bind(shard, request, connection, header, BROKER_REQUEST_AUTH);
    request->purpose = BROKER_PURPOSE_LOGIN_VERIFY;
    request->is_exactly_once = broker_is_exactly_once(&decoded);
    request->has_token_shape = decoded.has_token_shape;
    if (decoded.has_token_shape) {
        auth_token_hash((const char *)decoded.token.bytes, decoded.token.size, request->token_hash);
    }
    if (!decoded.has_password_shape) {
        request->user_id = METADATA_ROOT_USER_ID;
        return broker_register_op(shard, request, true);
    }
    if (broker_register_verify(shard, request, &decoded) != 0) {
        broker_request_free(shard, request);
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    net_connection_request_begin(connection);
    broker_session(shard, connection)->has_request = true;
    return 0;
}

int broker_logout(struct broker_shard *shard, struct net_connection *connection,
                  const struct iggy_request_header *header)
{
    struct session *session = broker_session(shard, connection);
    if (!session_is_bound(session)) {
        return broker_reply_send(connection, header, IGGY_OPERATION_LOGOUT, 0, NULL, 0);
    }
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    Runnel__Metadata__LogoutClient op = RUNNEL__METADATA__LOGOUT_CLIENT__INIT;
    operation.logout_client = &op;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LOGOUT_CLIENT;
    return broker_metadata_submit(shard, connection, header, &operation, BROKER_PURPOSE_LOGOUT);
}

/* An auth worker completion: continue the login or the user creation it belongs to. */
static void broker_auth_complete(struct broker_shard *shard,
                                 const struct auth_completion *completion)
{
    assert(completion->user_data < shard->broker->config->requests_max);
    struct broker_request *request = &shard->requests[completion->user_data];
    assert(request->is_used && request->kind == BROKER_REQUEST_AUTH);
    struct session *session = &shard->sessions[request->connection_slot];
    if (session->generation != request->connection_generation) {
        broker_request_free(shard, request);
        return;
    }
    if (request->purpose == BROKER_PURPOSE_CHANGE_PASSWORD) {
        broker_change_password_step(shard, request, completion);
        return;
    }
    if (request->purpose == BROKER_PURPOSE_CREATE_USER) {
        if (completion->result != 0) {
            broker_auth_fail(shard, request, IGGY_ERROR_ERROR);
            return;
        }
        broker_user_create_hashed(shard, request, completion->hash);
        return;
    }
    bool is_verified =
        completion->result == 0 && completion->is_verified && request->user_id != UINT32_MAX;
    if (is_verified || request->has_token_shape) {
        (void)broker_register_op(shard, request, !is_verified);
        return;
    }
    request->reply_status = 0;
    request->has_reply = false; /* an eviction, sent by broker_ops_finish */
    request->target_shard = shard->index;
    request->purpose = BROKER_PURPOSE_REGISTER;
    request->reply_size = 0;
    broker_request_complete(shard->broker, shard->index, request);
}

void broker_auth_pass(struct broker_shard *shard)
{
    assert(shard != NULL);
    if (!shard->broker->has_auth) {
        return;
    }
    struct auth_completion completion;
    for (uint32_t round = 0; round < 64; round++) {
        if (auth_take(&shard->broker->auth, shard->index, &completion) != 0) {
            return;
        }
        broker_auth_complete(shard, &completion);
        explicit_bzero(&completion, sizeof(completion));
    }
}

static uint8_t broker_login_eviction(const struct broker_request *request, int64_t status)
{
    assert(request != NULL);
    assert(status != 0);
    if (status == METADATA_STATUS_INVALID_TOKEN) {
        return IGGY_EVICTION_INVALID_TOKEN;
    }
    if (status == METADATA_STATUS_USER_INACTIVE && request->has_token_shape) {
        return IGGY_EVICTION_USER_INACTIVE;
    }
    if (status == METADATA_STATUS_INVALID_CREDENTIALS || status == METADATA_STATUS_USER_INACTIVE) {
        return IGGY_EVICTION_INVALID_CREDENTIALS;
    }
    return IGGY_EVICTION_SESSION_ERROR;
}

/* Binds the session from a committed RegisterClient and answers with runneld's version. */
static void broker_register_finish(struct broker_shard *shard, struct net_connection *connection,
                                   struct broker_request *request)
{
    int64_t status = request->reply_size == 0
                         ? METADATA_STATUS_INVALID_CREDENTIALS
                         : metadata_reply_status(request->buffer, request->reply_size);
    struct iggy_register_reply reply;
    struct iggy_reader reader;
    iggy_reader_init(&reader, request->buffer, request->reply_size);
    if (status != 0 || iggy_users_register_reply_decode(&reader, &reply) != 0 ||
        reply.session == 0) {
        (void)broker_reply_eviction(shard, connection, &request->header,
                                    broker_login_eviction(request, status != 0 ? status : 12));
        return;
    }
    struct session *session = broker_session(shard, connection);
    if (!session_is_bound(session)) {
        session_bind(session, request->header.client, reply.session, reply.user_id,
                     request->is_exactly_once);
    } else if (session->client == request->header.client) {
        /* The same client registered again on its connection: the metadata's client table
         * holds the new session now, and numbered ops must name it (node/metadata.h). */
        session->session = reply.session;
    }
    reply.session = session->session;
    reply.server_version = iggy_bytes_from_string("runneld-" RUNNEL_VERSION);
    uint8_t body[128];
    struct iggy_writer writer;
    iggy_writer_init(&writer, body, sizeof(body));
    int result = iggy_users_register_reply_encode(&writer, &reply);
    assert(result == 0);
    struct iggy_request_header header = request->header;
    header.session = session->session;
    (void)broker_reply_send(connection, &header, IGGY_OPERATION_REGISTER, 0, body, writer.size);
}

/*
 * An exactly-once client logged out (DESIGN.md §10.11): every shard's data plane releases
 * the client's sessions (and kept replies) in the partition groups it leads, with a logout
 * op in each. Best effort: a shard whose request cannot be taken now leaves them to the
 * groups' TTL. A closed connection does not release them: the client may reconnect and
 * resend.
 */
static void broker_release_exactly_once(struct broker_shard *shard, u128 client)
{
    assert(client != 0);
    assert(shard->broker->shard_count > 0);
    for (uint32_t target = 0; target < shard->broker->shard_count; target++) {
        struct broker_request *request = broker_request_take(shard, false);
        if (request == NULL) {
            log_warn("exactly_once_release_deferred", "shard=%u target=%u", shard->index, target);
            return;
        }
        request->kind = BROKER_REQUEST_RELEASE;
        request->purpose = BROKER_PURPOSE_RELEASE;
        request->vsr_client = client;
        request->target_shard = target;
        broker_request_route(shard->broker, shard->index, request);
    }
}

bool broker_ops_finish(struct broker_shard *shard, struct net_connection *connection,
                       struct broker_request *request)
{
    assert(shard != NULL && request != NULL);
    assert(connection != NULL);
    if (request->purpose == BROKER_PURPOSE_REGISTER) {
        if (request->reply_status == IGGY_ERROR_TRANSIENT_NOT_COMMITTED ||
            request->reply_status == IGGY_ERROR_TRANSIENT_NOT_ACCEPTED) {
            /* Parked past its bound (no quorum, a view change): a transient status, which
             * Iggy's SDKs resend, not the eviction a refused login gets. */
            return false;
        }
        broker_register_finish(shard, connection, request);
        return true;
    }
    if (request->reply_status != 0) {
        return false;
    }
    int64_t status = metadata_reply_status(request->buffer, request->reply_size);
    if (request->purpose == BROKER_PURPOSE_LOGOUT) {
        struct session *session = broker_session(shard, connection);
        if (status == 0 && session_is_bound(session)) {
            if (session->is_exactly_once) {
                broker_release_exactly_once(shard, session->client);
            }
            session_unbind(session);
        }
        request->reply_size = 0; /* Logout replies are empty (not result-framed) */
    } else if (request->purpose == BROKER_PURPOSE_TOKEN && status == 0 &&
               request->reply_size + 1 + AUTH_TOKEN_SIZE <= request->buffer_capacity) {
        request->buffer[request->reply_size] = AUTH_TOKEN_SIZE;
        memcpy(request->buffer + request->reply_size + 1, request->token, AUTH_TOKEN_SIZE);
        request->reply_size += 1 + AUTH_TOKEN_SIZE;
    }
    return false;
}

/* ---- partition requests ---- */

/* What a partition request names, before resolution. */
struct broker_partition_names {
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    struct iggy_partitioning partitioning;
    struct iggy_consumer consumer;
    bool has_consumer;
};

/* Resolves names in one metadata version: 0, or the Iggy status for a miss (stream, topic,
 * partition), a denial (41) or a group fence failure (IGGY_POLL_RESYNC_PARTITION). */
static uint32_t broker_partition_resolve(struct broker_shard *shard,
                                         const struct metadata *metadata, struct session *session,
                                         const struct broker_partition_names *names,
                                         enum metadata_action action,
                                         struct broker_partition_target *target)
{
    const struct metadata_stream *stream =
        names->stream.kind == IGGY_IDENTIFIER_NUMERIC
            ? metadata_stream_get(metadata, names->stream.numeric)
            : metadata_stream_find(metadata, names->stream.name.bytes, names->stream.name.size);
    if (stream == NULL) {
        return IGGY_ERROR_STREAM_ID_NOT_FOUND;
    }
    const struct metadata_topic *topic =
        names->topic.kind == IGGY_IDENTIFIER_NUMERIC
            ? metadata_topic_get(metadata, stream->id, names->topic.numeric)
            : metadata_topic_find(metadata, stream->id, names->topic.name.bytes,
                                  names->topic.name.size);
    if (topic == NULL) {
        return IGGY_ERROR_TOPIC_ID_NOT_FOUND;
    }
    if (!metadata_is_permitted(metadata, session->user_id, action, stream->id, topic->id)) {
        return IGGY_ERROR_UNAUTHORIZED;
    }
    uint32_t partition_id = names->partitioning.partition_id;
    if (names->partitioning.kind != IGGY_PARTITIONING_PARTITION_ID) {
        if (topic->partitions_count == 0) {
            return IGGY_ERROR_PARTITION_NOT_FOUND;
        }
        partition_id =
            names->partitioning.kind == IGGY_PARTITIONING_BALANCED
                ? iggy_messages_balanced_next(&shard->balanced[topic - metadata->topics],
                                              topic->partitions_count)
                : iggy_messages_key_partition(names->partitioning.key, topic->partitions_count);
    }
    const struct metadata_partition *partition =
        metadata_partition_get(metadata, stream->id, topic->id, partition_id);
    if (partition == NULL) {
        return IGGY_ERROR_PARTITION_NOT_FOUND;
    }
    target->group = (struct vsr_group){.stream_id = stream->id,
                                       .topic_id = topic->id,
                                       .partition_id = partition_id,
                                       .kind = VSR_GROUP_KIND_PARTITION,
                                       .incarnation = partition->incarnation};
    target->metadata_slot = (uint32_t)(partition - metadata->partitions);
    target->log_start_offset = partition->deleted_up_to_offset;
    target->is_fsync = topic->settings.durability == METADATA_DURABILITY_FSYNC;
    target->segment_size_bytes = topic->settings.segment_size_bytes;
    return 0;
}

/* The consumer of an offset or poll request: a plain id, or a group (fenced). */
static uint32_t broker_partition_consumer(const struct metadata *metadata, struct session *session,
                                          const struct broker_partition_names *names, bool is_poll,
                                          struct broker_partition_target *target)
{
    if (names->consumer.kind != IGGY_CONSUMER_GROUP) {
        target->consumer_kind = IGGY_CONSUMER_SINGLE;
        target->consumer_id = iggy_messages_consumer_id(&names->consumer.id);
        return 0;
    }
    const struct metadata_group *group = NULL;
    const struct metadata_topic *topic =
        metadata_topic_get(metadata, target->group.stream_id, target->group.topic_id);
    assert(topic != NULL);
    for (uint32_t slot = topic->group_first, round = 0;
         slot != METADATA_NONE && round < topic->groups_count; round++) {
        const struct metadata_group *candidate = &metadata->groups[slot];
        bool is_match = names->consumer.id.kind == IGGY_IDENTIFIER_NUMERIC
                            ? candidate->id == names->consumer.id.numeric
                            : candidate->name.size == names->consumer.id.name.size &&
                                  memcmp(candidate->name.bytes, names->consumer.id.name.bytes,
                                         candidate->name.size) == 0;
        if (is_match) {
            group = candidate;
            break;
        }
        slot = candidate->next;
    }
    if (group == NULL) {
        return IGGY_ERROR_RESOURCE_NOT_FOUND;
    }
    target->consumer_kind = IGGY_CONSUMER_GROUP;
    target->consumer_id = group->id;
    target->is_group_poll = is_poll;
    bool is_allowed = is_poll ? metadata_group_can_poll(metadata, group, session->client,
                                                        target->group.partition_id)
                              : metadata_group_can_commit(metadata, group, session->client,
                                                          target->group.partition_id);
    return is_allowed ? 0 : IGGY_POLL_RESYNC_PARTITION;
}

/* Resolves (and for groups fences) in one metadata version, held for the lookup; the
 * target carries the partition's incarnation, which the owning shard checks again. */
static uint32_t broker_partition_lookup(struct broker_shard *shard, struct session *session,
                                        const struct broker_partition_names *names,
                                        enum metadata_action action, bool is_poll,
                                        struct broker_partition_target *target)
{
    struct control_plane *plane = shard->broker->control_plane;
    const struct metadata *metadata = control_plane_read_begin(plane, shard->index);
    uint32_t status = broker_partition_resolve(shard, metadata, session, names, action, target);
    if (status == 0 && names->has_consumer) {
        status = broker_partition_consumer(metadata, session, names, is_poll, target);
    }
    control_plane_read_end(plane, shard->index);
    return status;
}

/* Routes a resolved partition request to the owning shard; batch (may be NULL) is
 * copied into the request first. */
static int broker_partition_route(struct broker_shard *shard, struct net_connection *connection,
                                  const struct iggy_request_header *header,
                                  enum broker_request_kind kind,
                                  const struct broker_partition_target *target,
                                  struct iggy_bytes batch)
{
    struct broker_request *request = broker_request_take(
        shard, kind == BROKER_REQUEST_POLL || batch.size + 64 > BROKER_SMALL_BUFFER_SIZE);
    if (request == NULL) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    broker_request_bind(shard, request, connection, header, kind);
    request->partition = *target;
    request->target_shard =
        data_plane_owner(target->group.stream_id, target->group.topic_id,
                         target->group.partition_id, shard->broker->shard_count);
    assert(batch.size <= request->buffer_capacity);
    if (batch.size > 0) {
        memcpy(request->buffer, batch.bytes, batch.size);
    }
    request->body_offset = 0;
    request->body_size = batch.size;
    request->reply_operation = header->operation;
    if (kind == BROKER_REQUEST_SEGMENTS) {
        request->purpose = BROKER_PURPOSE_SEGMENTS;
    }
    struct session *session = broker_session(shard, connection);
    bool is_write = kind == BROKER_REQUEST_SEND || kind == BROKER_REQUEST_OFFSET_STORE ||
                    kind == BROKER_REQUEST_OFFSET_DELETE;
    if (is_write && session->is_exactly_once) {
        /* DESIGN.md §10.11: the group deduplicates by the client's id (kept across its
         * reconnects) and its own sequence in the request field (never 0: §1.7 check 8). */
        assert(session->client != 0 && header->request != 0);
        request->is_exactly_once = true;
        request->vsr_client = session->client;
        request->vsr_request = header->request;
    }
    broker_request_route(shard->broker, shard->index, request);
    return 0;
}

static int broker_send(struct broker_shard *shard, struct net_connection *connection,
                       const struct iggy_request_header *header, const uint8_t *body,
                       uint32_t body_size)
{
    struct iggy_send_messages send;
    if (iggy_messages_send_decode(body, body_size, &send) != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_RESOURCE_NOT_FOUND);
    }
    const char *reason = NULL;
    int result = iggy_messages_send_admit(&send, &reason);
    if (result != 0) {
        uint32_t status = result != -RUNNEL_ECHECKSUM ? IGGY_ERROR_INVALID_COMMAND
                          : reason != NULL && strstr(reason, "batch") != NULL
                              ? IGGY_ERROR_INVALID_BATCH_CHECKSUM
                              : IGGY_ERROR_INVALID_MESSAGE_CHECKSUM;
        return broker_reply_status(shard, connection, header, status);
    }
    if (send.batch.size > shard->broker->config->batch_size_bytes_max) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_FORMAT);
    }
    struct broker_partition_names names = {
        .stream = send.stream, .topic = send.topic, .partitioning = send.partitioning};
    struct broker_partition_target target;
    memset(&target, 0, sizeof(target));
    uint32_t status = broker_partition_lookup(shard, broker_session(shard, connection), &names,
                                              METADATA_ACTION_SEND, false, &target);
    if (status != 0) {
        return broker_reply_status(
            shard, connection, header,
            status == IGGY_ERROR_UNAUTHORIZED ? status : IGGY_ERROR_RESOURCE_NOT_FOUND);
    }
    return broker_partition_route(shard, connection, header, BROKER_REQUEST_SEND, &target,
                                  send.batch);
}

int broker_partition_request(struct broker_shard *shard, struct net_connection *connection,
                             const struct iggy_request_header *header, const uint8_t *body,
                             uint32_t body_size)
{
    assert(shard != NULL && header != NULL);
    assert(header->operation >= IGGY_OPERATION_SEND_MESSAGES);
    if (header->operation == IGGY_OPERATION_SEND_MESSAGES) {
        return broker_send(shard, connection, header, body, body_size);
    }
    bool is_store = header->operation == IGGY_OPERATION_STORE_CONSUMER_OFFSET;
    uint32_t code = is_store ? IGGY_COMMAND_OFFSET_STORE : IGGY_COMMAND_OFFSET_DELETE;
    struct iggy_consumer_offset offset;
    if (iggy_messages_offset_decode(code, body, body_size, &offset) != 0) {
        return broker_reply_status(shard, connection, header, IGGY_ERROR_RESOURCE_NOT_FOUND);
    }
    struct broker_partition_names names = {
        .stream = offset.stream,
        .topic = offset.topic,
        .partitioning = {.kind = IGGY_PARTITIONING_PARTITION_ID,
                         .partition_id =
                             offset.partition.is_set ? offset.partition.partition_id : 0},
        .consumer = offset.consumer,
        .has_consumer = true,
    };
    struct broker_partition_target target;
    memset(&target, 0, sizeof(target));
    uint32_t status = broker_partition_lookup(shard, broker_session(shard, connection), &names,
                                              METADATA_ACTION_POLL, false, &target);
    if (status != 0) {
        return broker_reply_status(
            shard, connection, header,
            status == IGGY_ERROR_UNAUTHORIZED ? status : IGGY_ERROR_RESOURCE_NOT_FOUND);
    }
    target.offset = offset.offset;
    struct iggy_bytes none = {.bytes = NULL, .size = 0};
    return broker_partition_route(
        shard, connection, header,
        is_store ? BROKER_REQUEST_OFFSET_STORE : BROKER_REQUEST_OFFSET_DELETE, &target, none);
}

/*
 * DeleteSegments (138, research/iggy-protocol.md §3.7): the owning shard resolves
 * segments_count to the first offset after that many of the oldest sealed segments still
 * served (the tail segment is never deleted), then a DeleteSegments metadata op raises the
 * partition's watermark; polls never serve below it. The files stay until prefix
 * truncation exists (it needs partition checkpoints). An undecodable body gets an empty
 * status-0 reply, as Iggy's server sends.
 */
int broker_delete_segments(struct broker_shard *shard, struct net_connection *connection,
                           const struct iggy_request_header *header, const uint8_t *body,
                           uint32_t body_size)
{
    assert(shard != NULL && header != NULL);
    assert(header->operation == IGGY_OPERATION_DELETE_SEGMENTS);
    struct iggy_segments_delete segments;
    if (iggy_streams_segments_decode(body, body_size, &segments) != 0) {
        return broker_reply_send(connection, header, header->operation, 0, NULL, 0);
    }
    struct broker_partition_names names = {
        .stream = segments.stream,
        .topic = segments.topic,
        .partitioning = {.kind = IGGY_PARTITIONING_PARTITION_ID,
                         .partition_id = segments.partition_id},
    };
    struct broker_partition_target target;
    memset(&target, 0, sizeof(target));
    uint32_t status = broker_partition_lookup(shard, broker_session(shard, connection), &names,
                                              METADATA_ACTION_TOPIC_MANAGE, false, &target);
    if (status != 0) {
        return broker_reply_status(shard, connection, header, status);
    }
    target.count = segments.segment_count;
    struct iggy_bytes none = {.bytes = NULL, .size = 0};
    return broker_partition_route(shard, connection, header, BROKER_REQUEST_SEGMENTS, &target,
                                  none);
}

bool broker_delete_segments_resolved(struct broker_shard *shard, struct broker_request *request)
{
    assert(request->purpose == BROKER_PURPOSE_SEGMENTS);
    assert(request->home_shard == shard->index);
    uint64_t offset = 0;
    if (request->reply_status != 0 || request->reply_size != sizeof(offset)) {
        return false; /* the owner's error goes back as it is */
    }
    memcpy(&offset, request->buffer, sizeof(offset));
    request->reply_size = 0;
    if (offset <= request->partition.log_start_offset) {
        return false; /* nothing to delete: success, empty body */
    }
    struct iggy_identifier stream_id = {.kind = IGGY_IDENTIFIER_NUMERIC,
                                        .numeric = request->partition.group.stream_id};
    struct iggy_identifier topic_id = {.kind = IGGY_IDENTIFIER_NUMERIC,
                                       .numeric = request->partition.group.topic_id};
    Runnel__Metadata__Identifier stream = broker_identifier(&stream_id);
    Runnel__Metadata__Identifier topic = broker_identifier(&topic_id);
    Runnel__Metadata__DeleteSegments op = RUNNEL__METADATA__DELETE_SEGMENTS__INIT;
    op.stream = &stream;
    op.topic = &topic;
    op.partition_id = request->partition.group.partition_id;
    op.up_to_offset = offset;
    broker_operation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_SEGMENTS;
    operation.delete_segments = &op;
    struct session *session = &shard->sessions[request->connection_slot];
    int result = broker_request_pack(request, &operation, session->user_id, session->client);
    assert(result == 0);
    request->purpose = BROKER_PURPOSE_PLAIN;
    request->has_reply = false;
    broker_request_route(shard->broker, shard->index, request);
    return true;
}

/* A 16-byte poll reply with no messages (partition_id 0, or the resync sentinel). */
static int broker_poll_empty(struct net_connection *connection,
                             const struct iggy_request_header *header, uint32_t partition_id)
{
    uint8_t body[IGGY_POLL_REPLY_HEADER_SIZE];
    struct iggy_writer writer;
    iggy_writer_init(&writer, body, sizeof(body));
    struct iggy_poll_reply reply = {.partition_id = partition_id};
    int result = iggy_messages_poll_reply_encode(&writer, &reply);
    assert(result == 0 && writer.size == sizeof(body));
    return broker_reply_send(connection, header, IGGY_OPERATION_NON_REPLICATED, 0, body,
                             writer.size);
}

static int broker_poll(struct broker_shard *shard, struct net_connection *connection,
                       const struct iggy_request_header *header, const uint8_t *body,
                       uint32_t body_size)
{
    struct iggy_poll_messages poll;
    if (iggy_messages_poll_decode(body, body_size, &poll) != 0 ||
        (poll.consumer.kind == IGGY_CONSUMER_GROUP && !poll.partition.is_set)) {
        return broker_poll_empty(connection, header, 0);
    }
    struct broker_partition_names names = {
        .stream = poll.stream,
        .topic = poll.topic,
        .partitioning = {.kind = IGGY_PARTITIONING_PARTITION_ID,
                         .partition_id = poll.partition.is_set ? poll.partition.partition_id : 0},
        .consumer = poll.consumer,
        .has_consumer = true,
    };
    struct broker_partition_target target;
    memset(&target, 0, sizeof(target));
    uint32_t status = broker_partition_lookup(shard, broker_session(shard, connection), &names,
                                              METADATA_ACTION_POLL, true, &target);
    if (status == IGGY_POLL_RESYNC_PARTITION) {
        return broker_poll_empty(connection, header, IGGY_POLL_RESYNC_PARTITION);
    }
    if (status == IGGY_ERROR_RESOURCE_NOT_FOUND) {
        return broker_poll_empty(connection, header, 0);
    }
    if (status != 0) {
        return broker_reply_status(shard, connection, header, status);
    }
    target.strategy = poll.strategy;
    target.count = poll.count;
    target.auto_commit = poll.auto_commit;
    target.is_read_floor_unknown =
        !session_seen_floor(broker_session(shard, connection), target.metadata_slot,
                            target.group.incarnation, &target.read_op_floor);
    struct iggy_bytes none = {.bytes = NULL, .size = 0};
    return broker_partition_route(shard, connection, header, BROKER_REQUEST_POLL, &target, none);
}

int broker_partition_read(struct broker_shard *shard, struct net_connection *connection,
                          const struct iggy_request_header *header, const uint8_t *body,
                          uint32_t body_size)
{
    assert(shard != NULL && header != NULL);
    if (header->code == IGGY_COMMAND_MESSAGE_POLL) {
        return broker_poll(shard, connection, header, body, body_size);
    }
    struct iggy_consumer_offset offset;
    if (iggy_messages_offset_decode(IGGY_COMMAND_OFFSET_GET, body, body_size, &offset) != 0) {
        return broker_reply_send(connection, header, header->operation, 0, NULL, 0);
    }
    struct broker_partition_names names = {
        .stream = offset.stream,
        .topic = offset.topic,
        .partitioning = {.kind = IGGY_PARTITIONING_PARTITION_ID,
                         .partition_id =
                             offset.partition.is_set ? offset.partition.partition_id : 0},
        .consumer = offset.consumer,
        .has_consumer = true,
    };
    struct broker_partition_target target;
    memset(&target, 0, sizeof(target));
    uint32_t status = broker_partition_lookup(shard, broker_session(shard, connection), &names,
                                              METADATA_ACTION_POLL, false, &target);
    if (status == IGGY_ERROR_UNAUTHORIZED || status == IGGY_ERROR_PARTITION_NOT_FOUND) {
        return broker_reply_status(shard, connection, header, status);
    }
    if (status != 0 && status != IGGY_POLL_RESYNC_PARTITION) {
        return broker_reply_send(connection, header, header->operation, 0, NULL, 0);
    }
    struct iggy_bytes none = {.bytes = NULL, .size = 0};
    return broker_partition_route(shard, connection, header, BROKER_REQUEST_OFFSET_GET, &target,
                                  none);
}
