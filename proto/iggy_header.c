/*
 * Iggy frame headers: validation of incoming request frames in the order Iggy's server
 * runs its checks (research/iggy-protocol.md §1.7), reply and eviction construction,
 * and the client's side (request construction, reply header checks). Pure functions;
 * used by the connection code on every shard and by the client library.
 */
#include "proto/iggy_header.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_error.h"

#include <string.h>
#include <xxhash.h>

bool iggy_header_is_version_accepted(uint32_t client_version)
{
    assert(IGGY_PROTOCOL_VERSION_MIN <= IGGY_PROTOCOL_VERSION);
    assert(IGGY_PROTOCOL_VERSION == 11264);
    return client_version >= IGGY_PROTOCOL_VERSION_MIN &&
           (client_version >> 10) <= (IGGY_PROTOCOL_VERSION >> 10);
}

bool iggy_header_is_operation_valid(uint8_t operation)
{
    if (operation <= IGGY_OPERATION_LOGOUT) {
        return true;
    }
    if (operation >= IGGY_OPERATION_CREATE_TOPIC_WITH_ASSIGNMENTS &&
        operation <= IGGY_OPERATION_TRUNCATE_PARTITION) {
        return true;
    }
    if (operation >= IGGY_OPERATION_CREATE_STREAM &&
        operation <= IGGY_OPERATION_LEAVE_CONSUMER_GROUP) {
        return true;
    }
    return operation >= IGGY_OPERATION_SEND_MESSAGES &&
           operation <= IGGY_OPERATION_DELETE_CONSUMER_OFFSET;
}

bool iggy_header_is_operation_metadata(uint8_t operation)
{
    if (operation >= IGGY_OPERATION_CREATE_TOPIC_WITH_ASSIGNMENTS &&
        operation <= IGGY_OPERATION_TRUNCATE_PARTITION) {
        return true;
    }
    return operation >= IGGY_OPERATION_CREATE_STREAM &&
           operation <= IGGY_OPERATION_LEAVE_CONSUMER_GROUP &&
           operation != IGGY_OPERATION_DELETE_SEGMENTS;
}

bool iggy_header_is_result_framed(uint8_t operation, uint32_t body_size)
{
    if (iggy_header_is_operation_metadata(operation)) {
        return true;
    }
    if (operation == IGGY_OPERATION_STORE_CONSUMER_OFFSET ||
        operation == IGGY_OPERATION_DELETE_CONSUMER_OFFSET) {
        return true;
    }
    return operation == IGGY_OPERATION_REGISTER && body_size > 0;
}

void iggy_header_request_read(const uint8_t *bytes, struct iggy_request_header *out)
{
    assert(bytes != NULL);
    assert(out != NULL);
    memcpy(out, bytes, sizeof(*out));
}

void iggy_header_reply_read(const uint8_t *bytes, struct iggy_reply_header *out)
{
    assert(bytes != NULL);
    assert(out != NULL);
    memcpy(out, bytes, sizeof(*out));
}

iggy_u128 iggy_header_body_checksum(const void *body, uint32_t body_size)
{
    assert(body != NULL || body_size == 0);
    uint64_t hash = XXH3_64bits(body_size > 0 ? body : "", body_size);
    iggy_u128 wide = (iggy_u128)hash;
    assert((uint64_t)(wide >> 64) == 0);
    return wide;
}

static uint32_t iggy_header_load_u32(const uint8_t *at)
{
    assert(at != NULL);
    assert(offsetof(struct iggy_header_frame, size) % 4 == 0);
    return (uint32_t)at[0] | ((uint32_t)at[1] << 8) | ((uint32_t)at[2] << 16) |
           ((uint32_t)at[3] << 24);
}

int iggy_header_frame_check(const uint8_t *header_bytes, uint32_t size_max, uint32_t *size_out)
{
    assert(header_bytes != NULL);
    assert(size_max >= IGGY_HEADER_SIZE);
    uint32_t size = iggy_header_load_u32(header_bytes + offsetof(struct iggy_header_frame, size));
    uint8_t command = header_bytes[offsetof(struct iggy_header_frame, command)];
    if (size < IGGY_HEADER_SIZE || size > size_max || command > IGGY_HEADER_COMMAND_MAX) {
        return -RUNNEL_EFORMAT;
    }
    if (size_out != NULL) {
        *size_out = size;
    }
    return 0;
}

static void iggy_header_verdict_set(struct iggy_header_verdict *verdict,
                                    enum iggy_header_action action, uint32_t status, uint8_t reason,
                                    const char *why)
{
    assert(verdict != NULL);
    assert(action >= IGGY_HEADER_ACCEPT && action <= IGGY_HEADER_EVICT);
    verdict->action = action;
    verdict->status = status;
    verdict->reason = reason;
    verdict->why = why;
}

/* Checks 3-8: the typed parse and field rules whose failures Iggy drops silently. */
static const char *iggy_header_drop_reason(const struct iggy_request_header *header)
{
    assert(header != NULL);
    uint8_t operation = header->operation;
    if (header->frame.command != IGGY_FRAME_REQUEST) {
        return "command is not request";
    }
    if (!iggy_header_is_operation_valid(operation)) {
        return "unknown operation";
    }
    if (header->client == 0) {
        return "client is zero";
    }
    if (operation == IGGY_OPERATION_RESERVED) {
        return "operation reserved";
    }
    if (operation == IGGY_OPERATION_REGISTER && (header->session != 0 || header->request != 0)) {
        return "register with a session or request number";
    }
    if (operation != IGGY_OPERATION_REGISTER && operation != IGGY_OPERATION_NON_REPLICATED &&
        (header->session == 0 || header->request == 0)) {
        return "session or request number is zero";
    }
    return NULL;
}

void iggy_header_request_check(const struct iggy_request_header *header, const uint8_t *body,
                               uint32_t body_size, bool is_bound,
                               struct iggy_header_verdict *verdict)
{
    assert(header != NULL && verdict != NULL);
    assert(body != NULL || body_size == 0);
    uint8_t operation = header->operation;
    const char *drop = iggy_header_drop_reason(header);
    if (drop != NULL) {
        iggy_header_verdict_set(verdict, IGGY_HEADER_DROP, 0, 0, drop);
    } else if (header->request_checksum != 0 &&
               header->request_checksum != iggy_header_body_checksum(body, body_size)) {
        iggy_header_verdict_set(verdict, IGGY_HEADER_REPLY, IGGY_ERROR_INVALID_FORMAT, 0,
                                "request checksum mismatch");
    } else if (operation == IGGY_OPERATION_NON_REPLICATED &&
               (header->code == 38 || header->code == 44)) {
        iggy_header_verdict_set(verdict, IGGY_HEADER_EVICT, 0, IGGY_EVICTION_MALFORMED_LOGIN,
                                "legacy login code");
    } else if (operation == IGGY_OPERATION_NON_REPLICATED && header->code != 1 && !is_bound) {
        iggy_header_verdict_set(verdict, IGGY_HEADER_REPLY, IGGY_ERROR_UNAUTHENTICATED, 0,
                                "read before login");
    } else if (operation >= IGGY_OPERATION_CREATE_TOPIC_WITH_ASSIGNMENTS &&
               operation <= IGGY_OPERATION_TRUNCATE_PARTITION) {
        iggy_header_verdict_set(verdict, IGGY_HEADER_EVICT, 0,
                                IGGY_EVICTION_INVALID_REQUEST_OPERATION, "internal operation");
    } else if (operation != IGGY_OPERATION_REGISTER && operation != IGGY_OPERATION_LOGOUT &&
               operation != IGGY_OPERATION_NON_REPLICATED && !is_bound) {
        iggy_header_verdict_set(verdict, IGGY_HEADER_EVICT, 0, IGGY_EVICTION_NO_SESSION,
                                "no session");
    } else {
        iggy_header_verdict_set(verdict, IGGY_HEADER_ACCEPT, 0, 0, NULL);
    }
    assert(verdict->action != IGGY_HEADER_CLOSE);
}

void iggy_header_reply_init(struct iggy_reply_header *reply,
                            const struct iggy_request_header *request, uint8_t operation,
                            uint32_t status, uint32_t body_size)
{
    assert(reply != NULL && request != NULL);
    assert(body_size <= UINT32_MAX - IGGY_HEADER_SIZE);
    assert(status == 0 || body_size == 0); /* a status never comes with a body */
    memset(reply, 0, sizeof(*reply));
    reply->frame.cluster = request->frame.cluster;
    reply->frame.view = request->frame.view;
    reply->frame.release = request->frame.release;
    reply->frame.replica = request->frame.replica;
    reply->frame.command = IGGY_FRAME_REPLY;
    reply->frame.size = IGGY_HEADER_SIZE + body_size;
    reply->request_checksum = request->request_checksum;
    reply->client = request->client;
    reply->op = request->session;
    reply->timestamp = request->timestamp;
    reply->request = request->request;
    reply->operation = operation;
    reply->status = status;
}

void iggy_header_eviction_init(struct iggy_eviction_header *eviction, iggy_u128 client,
                               uint8_t reason)
{
    assert(eviction != NULL);
    assert(reason >= IGGY_EVICTION_NO_SESSION && reason <= IGGY_EVICTION_MALFORMED_LOGIN);
    memset(eviction, 0, sizeof(*eviction));
    eviction->frame.command = IGGY_FRAME_EVICTION;
    eviction->frame.size = IGGY_HEADER_SIZE;
    eviction->client = client;
    eviction->reason = reason;
    if (reason == IGGY_EVICTION_INCOMPATIBLE_PROTOCOL) {
        eviction->protocol_version_max = IGGY_PROTOCOL_VERSION;
        eviction->protocol_version_min = IGGY_PROTOCOL_VERSION_MIN;
    }
}

void iggy_header_request_init(struct iggy_request_header *request, iggy_u128 client,
                              uint64_t session, uint64_t request_number, uint8_t operation,
                              uint32_t code, const void *body, uint32_t body_size,
                              bool stamp_checksum)
{
    assert(request != NULL && client != 0);
    assert(iggy_header_is_operation_valid(operation) && operation != IGGY_OPERATION_RESERVED);
    assert(body_size <= UINT32_MAX - IGGY_HEADER_SIZE);
    memset(request, 0, sizeof(*request));
    request->frame.command = IGGY_FRAME_REQUEST;
    request->frame.size = IGGY_HEADER_SIZE + body_size;
    request->client = client;
    request->session = session;
    request->request = request_number;
    request->operation = operation;
    request->code = operation == IGGY_OPERATION_NON_REPLICATED ? code : 0;
    if (stamp_checksum) {
        request->request_checksum = iggy_header_body_checksum(body, body_size);
    }
}

int iggy_header_reply_check(const uint8_t *header_bytes, uint32_t size_max,
                            struct iggy_reply_info *out)
{
    assert(header_bytes != NULL && out != NULL);
    assert(size_max >= IGGY_HEADER_SIZE);
    memset(out, 0, sizeof(*out));
    if (iggy_header_frame_check(header_bytes, size_max, &out->size) != 0) {
        return -RUNNEL_EFORMAT;
    }
    out->command = header_bytes[offsetof(struct iggy_header_frame, command)];
    if (out->command == IGGY_FRAME_EVICTION) {
        struct iggy_eviction_header eviction;
        memcpy(&eviction, header_bytes, sizeof(eviction));
        out->reason = eviction.reason;
        out->protocol_version_max = eviction.protocol_version_max;
        out->protocol_version_min = eviction.protocol_version_min;
        return out->size == IGGY_HEADER_SIZE ? 0 : -RUNNEL_EFORMAT;
    }
    if (out->command != IGGY_FRAME_REPLY) {
        return -RUNNEL_EFORMAT;
    }
    struct iggy_reply_header reply;
    iggy_header_reply_read(header_bytes, &reply);
    out->operation = reply.operation;
    out->status = reply.status;
    if (!iggy_header_is_operation_valid(reply.operation) ||
        (reply.status != 0 && out->size != IGGY_HEADER_SIZE)) {
        return -RUNNEL_EFORMAT;
    }
    return 0;
}

uint32_t iggy_header_eviction_error(uint8_t reason, uint32_t version_max, uint32_t version_min)
{
    assert(IGGY_ERROR_UNAUTHENTICATED != 0);
    assert(IGGY_EVICTION_MALFORMED_LOGIN == 15);
    switch (reason) {
    case IGGY_EVICTION_CLIENT_RELEASE_TOO_LOW:
    case IGGY_EVICTION_CLIENT_RELEASE_TOO_HIGH:
    case IGGY_EVICTION_INVALID_REQUEST_OPERATION:
    case IGGY_EVICTION_INVALID_REQUEST_BODY:
    case IGGY_EVICTION_INVALID_REQUEST_BODY_SIZE:
        return IGGY_ERROR_INVALID_COMMAND;
    case IGGY_EVICTION_INVALID_CREDENTIALS:
        return IGGY_ERROR_INVALID_CREDENTIALS;
    case IGGY_EVICTION_INVALID_TOKEN:
        return IGGY_ERROR_INVALID_PERSONAL_ACCESS_TOKEN;
    case IGGY_EVICTION_STALE_CLIENT:
        return IGGY_ERROR_STALE_CLIENT;
    case IGGY_EVICTION_INCOMPATIBLE_PROTOCOL:
        if (version_min == 0 || version_max < version_min) {
            return IGGY_ERROR_UNAUTHENTICATED;
        }
        return IGGY_ERROR_INCOMPATIBLE_PROTOCOL_VERSION;
    case IGGY_EVICTION_MALFORMED_LOGIN:
        return IGGY_ERROR_INVALID_FORMAT;
    default: /* 1, 7, 8, 11, 12 and unknown reasons */
        return IGGY_ERROR_UNAUTHENTICATED;
    }
}

const char *iggy_header_operation_name(uint8_t operation)
{
    static const char *const names[] = {
        [IGGY_OPERATION_REGISTER] = "register",
        [IGGY_OPERATION_NON_REPLICATED] = "non_replicated",
        [IGGY_OPERATION_LOGOUT] = "logout",
        [IGGY_OPERATION_CREATE_TOPIC_WITH_ASSIGNMENTS] = "create_topic_with_assignments",
        [IGGY_OPERATION_CREATE_PARTITIONS_WITH_ASSIGNMENTS] = "create_partitions_with_assignments",
        [IGGY_OPERATION_REMOVE_CONSUMER_GROUP_MEMBER] = "remove_consumer_group_member",
        [IGGY_OPERATION_COMPLETE_CONSUMER_GROUP_REVOCATION] = "complete_revocation",
        [IGGY_OPERATION_TRUNCATE_PARTITION] = "truncate_partition",
        [IGGY_OPERATION_CREATE_STREAM] = "create_stream",
        [IGGY_OPERATION_UPDATE_STREAM] = "update_stream",
        [IGGY_OPERATION_DELETE_STREAM] = "delete_stream",
        [IGGY_OPERATION_PURGE_STREAM] = "purge_stream",
        [IGGY_OPERATION_CREATE_TOPIC] = "create_topic",
        [IGGY_OPERATION_UPDATE_TOPIC] = "update_topic",
        [IGGY_OPERATION_DELETE_TOPIC] = "delete_topic",
        [IGGY_OPERATION_PURGE_TOPIC] = "purge_topic",
        [IGGY_OPERATION_CREATE_PARTITIONS] = "create_partitions",
        [IGGY_OPERATION_DELETE_PARTITIONS] = "delete_partitions",
        [IGGY_OPERATION_DELETE_SEGMENTS] = "delete_segments",
        [IGGY_OPERATION_CREATE_CONSUMER_GROUP] = "create_consumer_group",
        [IGGY_OPERATION_DELETE_CONSUMER_GROUP] = "delete_consumer_group",
        [IGGY_OPERATION_CREATE_USER] = "create_user",
        [IGGY_OPERATION_UPDATE_USER] = "update_user",
        [IGGY_OPERATION_DELETE_USER] = "delete_user",
        [IGGY_OPERATION_CHANGE_PASSWORD] = "change_password",
        [IGGY_OPERATION_UPDATE_PERMISSIONS] = "update_permissions",
        [IGGY_OPERATION_CREATE_PERSONAL_ACCESS_TOKEN] = "create_personal_access_token",
        [IGGY_OPERATION_DELETE_PERSONAL_ACCESS_TOKEN] = "delete_personal_access_token",
        [IGGY_OPERATION_JOIN_CONSUMER_GROUP] = "join_consumer_group",
        [IGGY_OPERATION_LEAVE_CONSUMER_GROUP] = "leave_consumer_group",
        [IGGY_OPERATION_SEND_MESSAGES] = "send_messages",
        [IGGY_OPERATION_STORE_CONSUMER_OFFSET] = "store_consumer_offset",
        [IGGY_OPERATION_DELETE_CONSUMER_OFFSET] = "delete_consumer_offset",
    };
    if (operation >= sizeof(names) / sizeof(names[0]) || names[operation] == NULL) {
        return "unknown";
    }
    return names[operation];
}
