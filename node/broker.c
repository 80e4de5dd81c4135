/*
 * The broker's handler (see broker.h): per-shard sessions and request pools, frame checks
 * and dispatch, routing between shards, replies. Each shard's part runs on that shard;
 * broker_init and broker_deinit run on the main thread.
 */
#include "node/broker.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/broker_cluster.h"
#include "node/broker_internal.h"
#include "node/data_plane.h"
#include "node/shard.h"
#include "vsr/replica.h"
#include "proto/iggy_command.h"
#include "proto/iggy_error.h"
#include "proto/cluster_wire.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- pools ---- */

struct broker_request *broker_request_take(struct broker_shard *shard, bool is_large)
{
    assert(shard != NULL);
    assert(shard->requests != NULL);
    if (shard->free_small_count == 0 || (is_large && shard->free_large_count == 0)) {
        shard->counters.requests_refused++;
        return NULL;
    }
    struct broker_request *request = &shard->requests[shard->free_small[--shard->free_small_count]];
    assert(!request->is_used);
    uint32_t index = request->index;
    uint8_t *memory = request->memory;
    memset(request, 0, sizeof(*request));
    request->index = index;
    request->memory = memory;
    request->buffer = memory + IGGY_HEADER_SIZE;
    request->buffer_capacity = BROKER_SMALL_BUFFER_SIZE;
    if (is_large) {
        uint32_t large = shard->free_large[--shard->free_large_count];
        request->memory = shard->large_buffers[large];
        request->buffer = request->memory + IGGY_HEADER_SIZE;
        request->buffer_capacity = (uint32_t)shard->broker->large_buffer_size;
        request->is_large = true;
        request->large_index = large;
        request->small_memory = memory;
    }
    request->is_used = true;
    request->home_shard = shard->index;
    request->vsr_request = 1;
    return request;
}

void broker_request_free(struct broker_shard *shard, struct broker_request *request)
{
    assert(shard != NULL && request != NULL);
    assert(request->is_used && request->home_shard == shard->index);
    if (request->is_large) {
        shard->free_large[shard->free_large_count++] = request->large_index;
        request->memory = request->small_memory;
    }
    request->is_used = false;
    explicit_bzero(request->token, sizeof(request->token));
    shard->free_small[shard->free_small_count++] = request->index;
}

struct broker_request *broker_server_request_take(struct broker *broker, uint32_t shard_index,
                                                  bool is_large)
{
    assert(broker != NULL && shard_index < broker->shard_count);
    return broker_request_take(&broker->shards[shard_index], is_large);
}

void broker_server_request_free(struct broker *broker, uint32_t shard_index,
                                struct broker_request *request)
{
    assert(broker != NULL && shard_index < broker->shard_count);
    assert(request != NULL && request->connection == NULL);
    broker_request_free(&broker->shards[shard_index], request);
}

void broker_request_bind(struct broker_shard *shard, struct broker_request *request,
                         struct net_connection *connection,
                         const struct iggy_request_header *header, enum broker_request_kind kind)
{
    assert(shard != NULL && request != NULL && header != NULL);
    assert(connection != NULL);
    struct session *session = broker_session(shard, connection);
    request->kind = kind;
    request->connection = connection;
    request->connection_slot = connection->slot;
    request->connection_generation = session->generation;
    request->header = *header;
    request->reply_operation = header->operation;
    request->user_id = session->user_id;
    request->session_epoch = session->session; /* as Iggy: the connection's, not the header's */
    request->vsr_client = broker_vsr_client_next(shard->broker, shard->index);
}

struct session *broker_session(struct broker_shard *shard, struct net_connection *connection)
{
    assert(shard != NULL && connection != NULL);
    assert(connection->slot < shard->sessions_max);
    return &shard->sessions[connection->slot];
}

u128 broker_vsr_client_next(struct broker *broker, uint32_t shard_index)
{
    assert(broker != NULL);
    assert(shard_index < broker->shard_count);
    struct broker_shard *shard = &broker->shards[shard_index];
    shard->vsr_client_counter++;
    return ((u128)broker->boot_nonce << 64) | ((u128)(shard_index + 1) << 48) |
           shard->vsr_client_counter;
}

void broker_vsr_register(struct vsr_replica *replica, u128 client)
{
    assert(replica != NULL);
    assert(client != 0);
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, replica->config.cluster, replica->view, 0,
                    &replica->config.group);
    header.u.request.client = client;
    header.u.request.operation = VSR_OPERATION_REGISTER;
    vsr_header_seal(&header, NULL, 0);
    vsr_replica_on_message(replica, &header, NULL);
}

struct io *broker_shard_io(struct broker *broker, uint32_t shard_index)
{
    assert(broker != NULL && broker->set != NULL);
    assert(shard_index < broker->shard_count);
    return runtime_uring_io(broker->set->shards[shard_index].uring);
}

const struct clock *broker_shard_clock(struct broker *broker, uint32_t shard_index)
{
    assert(broker != NULL && broker->set != NULL);
    assert(shard_index < broker->shard_count);
    return &broker->set->shards[shard_index].clock;
}

int broker_request_pack(struct broker_request *request,
                        const Runnel__Metadata__MetadataOperation *operation, uint32_t user_id,
                        u128 client)
{
    assert(request != NULL && operation != NULL);
    assert(request->buffer_capacity > BROKER_METADATA_PREFIX_SIZE);
    size_t size = runnel__metadata__metadata_operation__get_packed_size(operation);
    if (size > METADATA_OP_BODY_SIZE_MAX ||
        size + BROKER_METADATA_PREFIX_SIZE > request->buffer_capacity) {
        return -RUNNEL_ETOOLARGE;
    }
    /* An Iggy client's op carries its request number; Register (request 0) and server ops
     * (bootstrap, release, the logout of a closed connection) are not numbered. */
    uint32_t format = BROKER_METADATA_PREFIX_NUMBERED;
    uint64_t number = 0;
    uint64_t checksum = 0;
    uint64_t session = 0;
    bool is_server_op = request->purpose == BROKER_PURPOSE_BOOTSTRAP ||
                        request->purpose == BROKER_PURPOSE_CLOSE ||
                        request->purpose == BROKER_PURPOSE_RELEASE;
    if (client != 0 && request->purpose != BROKER_PURPOSE_REGISTER && !is_server_op) {
        number = request->header.request;
        checksum = (uint64_t)request->header.request_checksum;
        session = request->session_epoch;
    }
    memset(request->buffer, 0, BROKER_METADATA_PREFIX_SIZE);
    memcpy(request->buffer, &user_id, sizeof(user_id));
    memcpy(request->buffer + 4, &format, sizeof(format));
    memcpy(request->buffer + 8, &client, sizeof(client));
    memcpy(request->buffer + 24, &number, sizeof(number));
    memcpy(request->buffer + 32, &checksum, sizeof(checksum));
    memcpy(request->buffer + 40, &session, sizeof(session));
    size_t packed = runnel__metadata__metadata_operation__pack(
        operation, request->buffer + BROKER_METADATA_PREFIX_SIZE);
    assert(packed == size);
    request->kind = BROKER_REQUEST_METADATA;
    request->body_offset = 0;
    request->body_size = (uint32_t)(BROKER_METADATA_PREFIX_SIZE + size);
    request->target_shard = 0;
    return 0;
}

int broker_server_op_submit(struct broker *broker, uint32_t shard_index,
                            const Runnel__Metadata__MetadataOperation *operation,
                            enum broker_request_purpose purpose, u128 client)
{
    assert(broker != NULL && operation != NULL);
    assert(purpose == BROKER_PURPOSE_BOOTSTRAP || purpose == BROKER_PURPOSE_CLOSE ||
           purpose == BROKER_PURPOSE_RELEASE);
    struct broker_shard *shard = &broker->shards[shard_index];
    struct broker_request *request = broker_request_take(shard, false);
    if (request == NULL) {
        return -RUNNEL_EFULL;
    }
    request->purpose = purpose;
    request->vsr_client = broker_vsr_client_next(broker, shard_index);
    int result = broker_request_pack(request, operation, METADATA_ROOT_USER_ID, client);
    if (result != 0) {
        broker_request_free(shard, request);
        return result;
    }
    broker_request_route(broker, shard_index, request);
    return 0;
}

/* ---- routing ---- */

static void broker_outbox_add(struct broker_shard *shard, struct broker_request *request,
                              uint32_t operation)
{
    assert(request->next == NULL);
    request->xshard_operation = operation;
    if (shard->outbox_tail == NULL) {
        shard->outbox_head = request;
    } else {
        shard->outbox_tail->next = request;
    }
    shard->outbox_tail = request;
}

static bool broker_push(struct broker *broker, uint32_t from, uint32_t to, uint32_t operation,
                        struct broker_request *request)
{
    assert(from != to);
    assert(request != NULL);
    struct xshard_entry entry;
    memset(&entry, 0, sizeof(entry));
    entry.operation = operation;
    entry.pointer = request;
    return xshard_push(&broker->set->xshard, from, to, XSHARD_CLASS_CLIENT, &entry) == 0;
}

/* Target side: hands the request to the control plane or the data plane. */
static void broker_target_handle(struct broker *broker, uint32_t shard_index,
                                 struct broker_request *request)
{
    assert(request->target_shard == shard_index);
    assert(request->next == NULL);
    if (request->kind == BROKER_REQUEST_METADATA) {
        assert(shard_index == 0);
        control_plane_submit(broker->control_plane, request);
    } else if (data_plane_drain_is_closed(broker->shards[shard_index].data_plane)) {
        data_plane_drain_refuse(broker->shards[shard_index].data_plane, request);
    } else {
        data_plane_submit(broker->shards[shard_index].data_plane, request);
    }
}

void broker_request_route(struct broker *broker, uint32_t shard_index,
                          struct broker_request *request)
{
    assert(broker != NULL && request != NULL);
    assert(request->home_shard == shard_index && request->target_shard < broker->shard_count);
    struct session *session = &broker->shards[shard_index].sessions[request->connection_slot];
    if (request->connection != NULL && !session->has_request) {
        net_connection_request_begin(request->connection);
        session->has_request = true;
    }
    if (request->target_shard == shard_index) {
        broker_target_handle(broker, shard_index, request);
    } else if (!broker_push(broker, shard_index, request->target_shard, BROKER_XSHARD_REQUEST,
                            request)) {
        broker_outbox_add(&broker->shards[shard_index], request, BROKER_XSHARD_REQUEST);
    }
}

static void broker_request_finish(struct broker *broker, uint32_t shard_index,
                                  struct broker_request *request);

void broker_request_complete(struct broker *broker, uint32_t shard_index,
                             struct broker_request *request)
{
    assert(broker != NULL && request != NULL);
    assert(request->target_shard == shard_index);
    request->next = NULL;
    if (request->home_shard == shard_index) {
        broker_request_finish(broker, shard_index, request);
    } else if (!broker_push(broker, shard_index, request->home_shard, BROKER_XSHARD_REPLY,
                            request)) {
        broker_outbox_add(&broker->shards[shard_index], request, BROKER_XSHARD_REPLY);
    }
}

static void broker_outbox_pass(struct broker *broker, struct broker_shard *shard)
{
    for (uint32_t round = 0; round < 1024 && shard->outbox_head != NULL; round++) {
        struct broker_request *request = shard->outbox_head;
        uint32_t to = request->xshard_operation == BROKER_XSHARD_REQUEST ? request->target_shard
                                                                         : request->home_shard;
        struct broker_request *rest = request->next;
        request->next = NULL; /* once pushed, the other shard owns the link */
        if (!broker_push(broker, shard->index, to, request->xshard_operation, request)) {
            request->next = rest;
            return;
        }
        shard->outbox_head = rest;
        if (rest == NULL) {
            shard->outbox_tail = NULL;
        }
    }
}

/* ---- replies ---- */

int broker_reply_send(struct net_connection *connection, const struct iggy_request_header *header,
                      uint8_t operation, uint32_t status, const void *body, uint32_t body_size)
{
    assert(connection != NULL && header != NULL);
    assert(status == 0 || body_size == 0);
    uint8_t frame[IGGY_HEADER_SIZE + 256];
    assert(body_size <= sizeof(frame) - IGGY_HEADER_SIZE);
    struct iggy_reply_header reply;
    iggy_header_reply_init(&reply, header, operation, status, body_size);
    memcpy(frame, &reply, IGGY_HEADER_SIZE);
    if (body_size > 0) {
        memcpy(frame + IGGY_HEADER_SIZE, body, body_size);
    }
    return net_connection_send(connection, frame, IGGY_HEADER_SIZE + body_size);
}

int broker_reply_status(struct broker_shard *shard, struct net_connection *connection,
                        const struct iggy_request_header *header, uint32_t status)
{
    assert(shard != NULL);
    assert(status != 0);
    shard->counters.status_replies++;
    return broker_reply_send(connection, header, header->operation, status, NULL, 0);
}

int broker_reply_eviction(struct broker_shard *shard, struct net_connection *connection,
                          const struct iggy_request_header *header, uint8_t reason)
{
    assert(shard != NULL && header != NULL);
    assert(reason != 0);
    shard->counters.evictions++;
    struct iggy_eviction_header eviction;
    iggy_header_eviction_init(&eviction, header->client != 0 ? header->client : 1, reason);
    return net_connection_send(connection, &eviction, IGGY_HEADER_SIZE);
}

static void broker_unsent_add(struct broker_shard *shard, struct broker_request *request)
{
    assert(request->next == NULL);
    assert(request->home_shard == shard->index);
    if (shard->unsent_tail == NULL) {
        shard->unsent_head = request;
    } else {
        shard->unsent_tail->next = request;
    }
    shard->unsent_tail = request;
}

/* A held reply was sent (or its connection closed): the request goes back to the pool. */
static void broker_request_release(void *owner, void *item)
{
    broker_request_free(owner, item);
}

/* Sends a finished request's reply (header in the IGGY_HEADER_SIZE bytes before it: the
 * room before the buffer, or the buffer's own bytes for a poll reply that starts further
 * in, data_plane_poll.c). A large reply on a connection with nothing queued is sent from
 * the request's own memory (no copy into the output buffer): then the request stays
 * taken until the send ends (1). Returns 0 (copied: free the request), 1 (held),
 * -RUNNEL_EFULL (retry in a later pass) or another error (the connection closes). */
static int broker_request_send(struct broker_shard *shard, struct broker_request *request)
{
    assert(request->has_reply);
    assert(request->reply_size <= request->buffer_capacity);
    uint32_t size = request->reply_status == 0 ? request->reply_size : 0;
    uint32_t offset = request->reply_status == 0 ? request->reply_offset : 0;
    assert(offset <= request->buffer_capacity - size);
    uint8_t *at = request->buffer + offset - IGGY_HEADER_SIZE; /* request->memory at 0 */
    struct iggy_reply_header reply;
    iggy_header_reply_init(&reply, &request->header, request->reply_operation,
                           request->reply_status, size);
    memcpy(at, &reply, IGGY_HEADER_SIZE);
    if (request->is_large && size >= BROKER_HELD_REPLY_MIN &&
        shard->free_large_count > BROKER_HELD_LARGE_RESERVE &&
        net_connection_send_held(request->connection, at, IGGY_HEADER_SIZE + size,
                                 broker_request_release, shard, request) == 0) {
        return 1;
    }
    return net_connection_send(request->connection, at, IGGY_HEADER_SIZE + size);
}

/* Home side: the target answered; send it on its connection if that is still there. */
static void broker_request_finish(struct broker *broker, uint32_t shard_index,
                                  struct broker_request *request)
{
    struct broker_shard *shard = &broker->shards[shard_index];
    assert(request->home_shard == shard_index);
    if (request->connection == NULL || request->purpose == BROKER_PURPOSE_CLOSE ||
        request->purpose == BROKER_PURPOSE_BOOTSTRAP ||
        request->purpose == BROKER_PURPOSE_RELEASE) {
        broker_request_free(shard, request);
        return;
    }
    struct session *session = &shard->sessions[request->connection_slot];
    if (session->generation != request->connection_generation) {
        shard->counters.replies_stale++;
        broker_request_free(shard, request);
        return;
    }
    if (request->purpose == BROKER_PURPOSE_SEGMENTS &&
        broker_delete_segments_resolved(shard, request)) {
        return; /* on to the metadata group; the connection stays in its request */
    }
    session->has_request = false;
    if (request->reply_op != 0 && request->reply_status == 0) {
        assert(request->kind != BROKER_REQUEST_METADATA);
        session_seen_note(session, request->partition.metadata_slot,
                          request->partition.group.incarnation, request->reply_op);
    }
    if (broker_ops_finish(shard, request->connection, request)) {
        net_connection_request_end(request->connection);
        broker_request_free(shard, request);
        return;
    }
    int result = broker_request_send(shard, request);
    if (result == -RUNNEL_EFULL) {
        broker_unsent_add(shard, request); /* the connection stays paused until it is sent */
        return;
    }
    net_connection_request_end(request->connection);
    if (result == 1) {
        return; /* held: freed when sent */
    }
    if (result != 0) {
        shard->counters.replies_unsent++;
        net_connection_close(request->connection);
    }
    broker_request_free(shard, request);
}

static void broker_unsent_pass(struct broker_shard *shard)
{
    for (uint32_t round = 0; round < 1024 && shard->unsent_head != NULL; round++) {
        struct broker_request *request = shard->unsent_head;
        struct session *session = &shard->sessions[request->connection_slot];
        int result = 0;
        if (session->generation == request->connection_generation) {
            result = broker_request_send(shard, request);
            if (result == -RUNNEL_EFULL) {
                return;
            }
            net_connection_request_end(request->connection);
            if (result < 0) {
                net_connection_close(request->connection);
            }
        }
        shard->unsent_head = request->next;
        if (shard->unsent_head == NULL) {
            shard->unsent_tail = NULL;
        }
        request->next = NULL;
        if (result != 1) {
            broker_request_free(shard, request); /* a held one is freed when sent */
        }
    }
}

/* ---- frames ---- */

/* What Iggy drops in silence gets a documented reply here (docs/COMPATIBILITY.md):
 * status 3 (InvalidCommand) for a request header that fails checks 4-8. */
static int broker_verdict(struct broker_shard *shard, struct net_connection *connection,
                          const struct iggy_request_header *header,
                          const struct iggy_header_verdict *verdict)
{
    assert(verdict->action != IGGY_HEADER_ACCEPT);
    switch (verdict->action) {
    case IGGY_HEADER_CLOSE:
        return -RUNNEL_EFORMAT;
    case IGGY_HEADER_DROP:
        shard->counters.dropped++;
        if (header->frame.command != IGGY_FRAME_REQUEST) {
            return 0; /* not a request: nothing to answer */
        }
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    case IGGY_HEADER_REPLY:
        if (verdict->status == 0) {
            return broker_reply_send(connection, header, header->operation, 0, NULL, 0);
        }
        return broker_reply_status(shard, connection, header, verdict->status);
    case IGGY_HEADER_EVICT:
        return broker_reply_eviction(shard, connection, header, verdict->reason);
    default:
        unreachable_code();
    }
    return 0;
}

static int broker_non_replicated(struct broker_shard *shard, struct net_connection *connection,
                                 const struct iggy_request_header *header, const uint8_t *body,
                                 uint32_t body_size)
{
    if (cluster_wire_is_command(header->code)) {
        return broker_cluster_request(shard, connection, header, body, body_size);
    }
    switch (iggy_command_class_of(header->code)) {
    case IGGY_COMMAND_UNKNOWN:
        return broker_reply_status(shard, connection, header, IGGY_ERROR_INVALID_COMMAND);
    case IGGY_COMMAND_REPLICATED:
    case IGGY_COMMAND_FEATURE_UNAVAILABLE:
        return broker_reply_status(shard, connection, header, IGGY_ERROR_FEATURE_UNAVAILABLE);
    case IGGY_COMMAND_HANDLERLESS:
        return broker_reply_send(connection, header, header->operation, 0, NULL, 0);
    case IGGY_COMMAND_LEGACY_LOGIN:
        return broker_reply_eviction(shard, connection, header, IGGY_EVICTION_MALFORMED_LOGIN);
    default:
        break;
    }
    if (header->code == IGGY_COMMAND_MESSAGE_POLL || header->code == IGGY_COMMAND_OFFSET_GET) {
        return broker_partition_read(shard, connection, header, body, body_size);
    }
    return broker_read(shard, connection, header, body, body_size);
}

static int broker_dispatch(struct broker_shard *shard, struct net_connection *connection,
                           const struct iggy_request_header *header, const uint8_t *body,
                           uint32_t body_size)
{
    uint8_t operation = header->operation;
    if (operation == IGGY_OPERATION_NON_REPLICATED) {
        return broker_non_replicated(shard, connection, header, body, body_size);
    }
    if (operation == IGGY_OPERATION_REGISTER) {
        return broker_register(shard, connection, header, body, body_size);
    }
    if (operation == IGGY_OPERATION_LOGOUT) {
        return broker_logout(shard, connection, header);
    }
    if (operation >= 64 && operation <= 68) {
        return broker_reply_eviction(shard, connection, header,
                                     IGGY_EVICTION_INVALID_REQUEST_OPERATION);
    }
    if (!session_is_bound(broker_session(shard, connection))) {
        return broker_reply_eviction(shard, connection, header, IGGY_EVICTION_NO_SESSION);
    }
    if (operation >= IGGY_OPERATION_SEND_MESSAGES) {
        return broker_partition_request(shard, connection, header, body, body_size);
    }
    if (operation == IGGY_OPERATION_DELETE_SEGMENTS) {
        return broker_delete_segments(shard, connection, header, body, body_size);
    }
    return broker_metadata_request(shard, connection, header, body, body_size);
}

static int broker_on_frame(struct node_handler *handler, struct net_connection *connection,
                           const uint8_t *frame, uint32_t size_bytes)
{
    struct broker *broker = handler->context;
    assert(broker != NULL && connection != NULL && frame != NULL);
    assert(size_bytes >= IGGY_HEADER_SIZE);
    struct broker_shard *shard = &broker->shards[net_connection_shard(connection)];
    struct session *session = broker_session(shard, connection);
    if (session->state == SESSION_FREE) {
        session_open(session);
        broker_cluster_session_adopt(connection, session);
        shard->connections[connection->slot] = connection;
    }
    if (session->is_moving) {
        return -RUNNEL_EFORMAT; /* a frame after a move request: closed (proto/cluster_wire.h) */
    }
    if (session->has_request) {
        return -RUNNEL_EFULL; /* one request at a time per connection */
    }
    session_address_load(session, connection->fd);
    shard->counters.frames++;
    uint32_t size = 0;
    if (iggy_header_frame_check(frame,
                                broker->config->frame_size_bytes_max > UINT32_MAX
                                    ? UINT32_MAX
                                    : (uint32_t)broker->config->frame_size_bytes_max,
                                &size) != 0 ||
        size != size_bytes) {
        return -RUNNEL_EFORMAT;
    }
    struct iggy_request_header header;
    iggy_header_request_read(frame, &header);
    const uint8_t *body = frame + IGGY_HEADER_SIZE;
    uint32_t body_size = size_bytes - IGGY_HEADER_SIZE;
    struct iggy_header_verdict verdict;
    iggy_header_request_check(&header, body, body_size, session_is_bound(session), &verdict);
    if (verdict.action != IGGY_HEADER_ACCEPT) {
        return broker_verdict(shard, connection, &header, &verdict);
    }
    return broker_dispatch(shard, connection, &header, body, body_size);
}

static void broker_on_close(struct node_handler *handler, struct net_connection *connection)
{
    struct broker *broker = handler->context;
    assert(broker != NULL && connection != NULL);
    struct broker_shard *shard = &broker->shards[net_connection_shard(connection)];
    struct session *session = broker_session(shard, connection);
    if (session->state == SESSION_FREE && connection->has_adopted_state) {
        session_open(session); /* moved here and closed before its first frame */
        broker_cluster_session_adopt(connection, session);
    }
    if (session->state == SESSION_FREE) {
        return;
    }
    if (session_is_bound(session)) {
        Runnel__Metadata__LogoutClient logout = RUNNEL__METADATA__LOGOUT_CLIENT__INIT;
        Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
        operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LOGOUT_CLIENT;
        operation.logout_client = &logout;
        if (broker_server_op_submit(broker, shard->index, &operation, BROKER_PURPOSE_CLOSE,
                                    session->client) != 0) {
            log_warn("logout_on_close_dropped", "shard=%u", shard->index);
        }
    }
    session_close(session);
    shard->connections[connection->slot] = NULL;
}

/* ---- the other handler callbacks ---- */

static int broker_on_start(struct node_handler *handler, uint32_t shard_index, char *error_out,
                           size_t error_size_bytes)
{
    struct broker *broker = handler->context;
    assert(broker != NULL && error_out != NULL);
    assert(shard_index < broker->shard_count);
    struct io *io = broker_shard_io(broker, shard_index);
    struct data_plane *plane = broker->shards[shard_index].data_plane;
    int result = data_plane_start(plane, io, error_out, error_size_bytes);
    if (result == 0 && shard_index == 0) {
        result = control_plane_start(broker->control_plane, io, &plane->storage, error_out,
                                     error_size_bytes);
    }
    return result;
}

static void broker_on_pass(struct node_handler *handler, uint32_t shard_index)
{
    struct broker *broker = handler->context;
    assert(broker != NULL);
    assert(shard_index < broker->shard_count);
    struct broker_shard *shard = &broker->shards[shard_index];
    if (shard_index == 0) {
        control_plane_pass(broker->control_plane);
    }
    if (!data_plane_drain_is_closed(shard->data_plane)) {
        data_plane_pass(shard->data_plane);
    }
    if (shard->data_plane->drain.is_draining) {
        data_plane_drain_pass(shard->data_plane);
    }
    broker_auth_pass(shard);
    broker_outbox_pass(broker, shard);
    broker_unsent_pass(shard);
}

static void broker_on_tick(struct node_handler *handler, uint32_t shard_index)
{
    struct broker *broker = handler->context;
    assert(broker != NULL);
    assert(shard_index < broker->shard_count);
    if (shard_index == 0) {
        control_plane_tick(broker->control_plane);
    }
    if (!data_plane_drain_is_closed(broker->shards[shard_index].data_plane)) {
        data_plane_tick(broker->shards[shard_index].data_plane);
    }
}

/* The shard's drain began: its data plane starts putting its partitions to rest. */
static void broker_on_drain(struct node_handler *handler, uint32_t shard_index)
{
    struct broker *broker = handler->context;
    assert(broker != NULL);
    assert(shard_index < broker->shard_count);
    data_plane_drain_begin(broker->shards[shard_index].data_plane);
}

/* The shard may exit once its partitions are synced and closed (shard 0: and the metadata
 * journal has nothing unflushed). */
static bool broker_is_drained(struct node_handler *handler, uint32_t shard_index)
{
    struct broker *broker = handler->context;
    assert(broker != NULL);
    assert(shard_index < broker->shard_count);
    if (shard_index == 0 && !control_plane_is_quiet(broker->control_plane)) {
        return false;
    }
    return data_plane_drain_is_done(broker->shards[shard_index].data_plane);
}

/* The shard's loop ended: the metadata journal (shard 0) and the superblock close. */
static void broker_on_exit(struct node_handler *handler, uint32_t shard_index)
{
    struct broker *broker = handler->context;
    assert(broker != NULL);
    assert(shard_index < broker->shard_count);
    if (shard_index == 0) {
        control_plane_close(broker->control_plane); /* before the superblock it writes to */
    }
    data_plane_drain_close_files(broker->shards[shard_index].data_plane);
}

static void broker_on_xshard(struct node_handler *handler, uint32_t shard_index,
                             const struct xshard_entry *entry)
{
    struct broker *broker = handler->context;
    assert(broker != NULL && entry != NULL);
    struct broker_request *request = entry->pointer;
    assert(request != NULL && request->is_used);
    if (entry->operation == BROKER_XSHARD_REQUEST) {
        broker_target_handle(broker, shard_index, request);
    } else {
        assert(entry->operation == BROKER_XSHARD_REPLY);
        broker_request_finish(broker, shard_index, request);
    }
}

/* ---- set-up ---- */

static int broker_shard_init(struct broker *broker, struct broker_shard *shard, uint32_t index)
{
    const struct node_config *config = broker->config;
    shard->broker = broker;
    shard->index = index;
    shard->sessions_max = config->connections_max;
    shard->sessions = calloc(shard->sessions_max, sizeof(struct session));
    shard->connections = calloc(shard->sessions_max, sizeof(struct net_connection *));
    shard->requests = calloc(config->requests_max, sizeof(struct broker_request));
    shard->free_small = calloc(config->requests_max, sizeof(uint32_t));
    shard->large_buffers = calloc(config->large_requests_max, sizeof(uint8_t *));
    shard->free_large = calloc(config->large_requests_max, sizeof(uint32_t));
    shard->data_plane = calloc(1, sizeof(struct data_plane));
    shard->balanced =
        calloc(broker->control_plane->metadata.config.limits.topics_max, sizeof(uint32_t));
    if (shard->balanced == NULL || shard->sessions == NULL || shard->connections == NULL ||
        shard->requests == NULL || shard->free_small == NULL || shard->large_buffers == NULL ||
        shard->free_large == NULL || shard->data_plane == NULL) {
        return -ENOMEM;
    }
    for (uint32_t slot = 0; slot < config->requests_max; slot++) {
        shard->requests[slot].index = slot;
        shard->requests[slot].memory = malloc(IGGY_HEADER_SIZE + BROKER_SMALL_BUFFER_SIZE);
        if (shard->requests[slot].memory == NULL) {
            return -ENOMEM;
        }
        shard->free_small[shard->free_small_count++] = config->requests_max - 1 - slot;
    }
    for (uint32_t slot = 0; slot < config->large_requests_max; slot++) {
        shard->large_buffers[slot] = malloc(IGGY_HEADER_SIZE + broker->large_buffer_size);
        if (shard->large_buffers[slot] == NULL) {
            return -ENOMEM;
        }
        shard->free_large[shard->free_large_count++] = slot;
    }
    return data_plane_init(shard->data_plane, broker, index,
                           broker->control_plane->metadata.config.limits.partitions_max);
}

static void broker_root_credentials(struct broker *broker)
{
    const char *username = getenv("RUNNEL_ROOT_USERNAME");
    const char *password = getenv("RUNNEL_ROOT_PASSWORD");
    snprintf(broker->root_username, sizeof(broker->root_username), "%s",
             username != NULL && username[0] != '\0' ? username : "iggy");
    if (password != NULL && password[0] != '\0') {
        snprintf(broker->root_password, sizeof(broker->root_password), "%s", password);
        return;
    }
    static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (uint32_t index = 0; index < 20; index++) {
        broker->root_password[index] =
            alphabet[randombytes_uniform((uint32_t)(sizeof(alphabet) - 1))];
    }
    broker->root_password[20] = '\0';
    broker->is_root_password_random = true;
}

int broker_init(struct broker *broker, const struct node_config *config, struct shard_set *set,
                uint32_t shard_count, u128 cluster, char *error_out, size_t error_size_bytes)
{
    assert(broker != NULL && config != NULL && set != NULL);
    assert(shard_count > 0);
    memset(broker, 0, sizeof(*broker));
    broker->config = config;
    broker->set = set;
    broker->shard_count = shard_count;
    broker->cluster = cluster;
    broker->handler = (struct node_handler){.on_frame = broker_on_frame,
                                            .on_close = broker_on_close,
                                            .on_handoff = broker_cluster_on_handoff,
                                            .on_tick = broker_on_tick,
                                            .on_start = broker_on_start,
                                            .on_pass = broker_on_pass,
                                            .on_drain = broker_on_drain,
                                            .is_drained = broker_is_drained,
                                            .on_exit = broker_on_exit,
                                            .on_xshard = broker_on_xshard,
                                            .context = broker};
    uint64_t batch = config->batch_size_bytes_max + 64 * 1024;
    uint64_t poll = config->poll_reply_bytes_max + 4096;
    broker->large_buffer_size = batch > poll ? batch : poll;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    broker->started_at_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    struct auth_config auth_config;
    auth_config_defaults(&auth_config);
    auth_config.shard_count = shard_count;
    /* A burst a benchmark's actors fit in (each logs in), then 50 attempts a second. */
    auth_config.limiter_burst = 256;
    auth_config.limiter_refill_interval_ns = 20 * 1000 * 1000;
    /* Iggy's cost for new hashes (the argon2 crate's default, OWASP's argon2id minimum:
     * 19 MiB, 2 passes) instead of libsodium's interactive 64 MiB: one auth thread verifies
     * every login, and iggy-bench's actors log in at once (consumer-group runs started
     * their consumers 100-300 ms apart). A hash keeps the cost it was made with. */
    auth_config.opslimit = 2;
    auth_config.memlimit_bytes = 19u * 1024u * 1024u;
    int result = auth_init(&broker->auth, &auth_config);
    broker->has_auth = result == 0;
    randombytes_buf(&broker->boot_nonce, sizeof(broker->boot_nonce));
    broker->boot_nonce |= 1;
    broker_root_credentials(broker);
    broker->control_plane = calloc(1, sizeof(struct control_plane));
    broker->shards = calloc(shard_count, sizeof(struct broker_shard));
    if (result == 0 && (broker->control_plane == NULL || broker->shards == NULL)) {
        result = -ENOMEM;
    }
    if (result == 0) {
        result = recovery_init(&broker->recovery, config->data_dir, shard_count);
    }
    if (result == 0) {
        result = control_plane_init(broker->control_plane, broker, config);
    }
    if (result == 0) {
        result = broker_stats_init(&broker->stats,
                                   broker->control_plane->metadata.config.limits.partitions_max);
    }
    for (uint32_t index = 0; result == 0 && index < shard_count; index++) {
        result = broker_shard_init(broker, &broker->shards[index], index);
    }
    if (result != 0) {
        snprintf(error_out, error_size_bytes,
                 "cannot set the broker up (%s): lower limits.requests_max, "
                 "limits.large_requests_max or limits.batch_size_bytes_max",
                 error_text(result));
    }
    return result;
}

void broker_deinit(struct broker *broker)
{
    assert(broker != NULL);
    for (uint32_t index = 0; broker->shards != NULL && index < broker->shard_count; index++) {
        struct broker_shard *shard = &broker->shards[index];
        if (shard->data_plane != NULL && shard->data_plane->partitions != NULL) {
            data_plane_deinit(shard->data_plane);
        }
        for (uint32_t slot = 0; shard->requests != NULL && slot < broker->config->requests_max;
             slot++) {
            free(shard->requests[slot].memory);
        }
        for (uint32_t slot = 0;
             shard->large_buffers != NULL && slot < broker->config->large_requests_max; slot++) {
            free(shard->large_buffers[slot]);
        }
        free(shard->sessions);
        free(shard->connections);
        free(shard->requests);
        free(shard->free_small);
        free(shard->large_buffers);
        free(shard->free_large);
        free(shard->data_plane);
        free(shard->balanced);
    }
    if (broker->control_plane != NULL && broker->control_plane->broker != NULL) {
        control_plane_deinit(broker->control_plane);
    }
    free(broker->control_plane);
    free(broker->shards);
    if (broker->stats.partitions != NULL) {
        broker_stats_deinit(&broker->stats);
    }
    if (broker->has_auth) {
        auth_deinit(&broker->auth);
    }
    recovery_deinit(&broker->recovery);
    broker->shards = NULL;
    assert(broker->shards == NULL);
}
