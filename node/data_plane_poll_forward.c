/*
 * Read routing in a cluster (DESIGN.md §10.5, see data_plane.h): polls and consumer-offset
 * reads (GetConsumerOffset). On the node that received one (its owning shard): a read of
 * the consumer offsets (GetConsumerOffset, for a consumer or a consumer group; a poll with
 * auto-commit, strategy Next or a consumer group) goes to the partition's primary, where
 * the offsets live, as does a poll whose connection's read-your-writes floor (the op its
 * last reply of this group reflected) this copy has not applied yet, or whose floor the
 * connection forgot; the other polls are served here, from this copy's committed records
 * (a backup applies only committed, verified, contiguous ops, so it never serves past
 * min(commit, its contiguous verified op)). A backup never answers a consumer-offset read
 * from its own copy: restarted (kill -9), it applied far less than it, or another node,
 * served before, and a consumer reading its offset there would rewind (docs/NEMESIS.md
 * bug 11).
 *
 * The primary serves a read that needs it (any of the above but a poll whose floor this
 * copy applied) only once it has executed its view's log head (commit_min >= log_head_op,
 * as vsr_replica_can_prepare waits for before it prepares): the head a view starts from
 * holds every op an earlier view committed, so no value any node served before (at a
 * commit of an earlier view, or at an earlier commit of this one) is newer than what it
 * answers. Until then (right after a view change) a read that reached it waits in the
 * forwarded list (its own) or is answered "not served" (a peer's: re-sent; Next polls
 * were served at once before, from a state that could be behind the last view's). Not
 * covered: a primary cut off from the others that does not know yet that a later view
 * replaced it answers from its own state (no leases), and an auto-commit not yet
 * replicated is served from the primary's pending entry (read-your-writes there) and lost
 * if the primary dies before its tick submits it.
 *
 * A read for the primary travels the replica bus as a request (client lane, forward
 * credit) with operation VSR_OPERATION_POLL carrying the resolved poll target, or
 * VSR_OPERATION_OFFSET_GET carrying the consumer; the primary's data plane serves it like
 * its own (never through the replica: nothing is prepared) and sends the reply back as a
 * reply whose op is the commit it was served at. Forwarded reads wait in a list per
 * partition, are re-sent to the primary of the current view every
 * CLUSTER_FORWARD_RESEND_TICKS without a reply (served here once this node leads and is
 * current) and answered 57 after CLUSTER_FORWARD_PARK_TICKS without progress (58 when
 * never sent). Runs on the owning shard.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/data_plane_internal.h"
#include "node/replica_bus.h"
#include "proto/iggy_error.h"
#include "proto/iggy_messages.h"
#include "proto/iggy_wire.h"

#include <string.h>

enum {
    /* [strategy u8 u64][count u32][consumer kind u8][consumer id u32][auto-commit u8]
     * [group poll u8][log start u64][capacity u32] */
    DATA_POLL_FORWARD_BODY_SIZE = 9 + 4 + 1 + 4 + 1 + 1 + 8 + 4,
    /* GetConsumerOffset: [consumer kind u8][consumer id u32] */
    DATA_OFFSET_FORWARD_BODY_SIZE = 1 + 4,
    /* Its reply: empty (no offset stored) or [partition u32][current u64][stored u64]. */
    DATA_OFFSET_REPLY_SIZE = 4 + 8 + 8,
};

/* A read of the consumer offsets: only the primary answers it. */
static bool data_poll_needs_primary(const struct broker_request *request)
{
    const struct broker_partition_target *target = &request->partition;
    return request->kind == BROKER_REQUEST_OFFSET_GET || target->auto_commit ||
           target->strategy.kind == IGGY_POLLING_NEXT ||
           target->consumer_kind == IGGY_CONSUMER_GROUP || target->is_group_poll;
}

/* The primary, having executed its view's log head: it may answer any read (see above). */
static bool data_poll_primary_is_current(const struct vsr_replica *replica)
{
    return vsr_replica_is_primary(replica) && replica->commit_min >= replica->log_head_op;
}

/* True when this node answers request now: a poll that needs no consumer offset and
 * whose read-your-writes floor this copy applied, or any read on a current primary. */
static bool data_poll_is_served_here(const struct data_partition *partition,
                                     const struct broker_request *request)
{
    const struct vsr_replica *replica = &partition->replica;
    const struct broker_partition_target *target = &request->partition;
    if (!data_poll_needs_primary(request) && !target->is_read_floor_unknown &&
        replica->commit_min >= target->read_op_floor) {
        return true;
    }
    return data_poll_primary_is_current(replica);
}

/* Serves request from this node's copy (a poll is queued behind the active one). */
static void data_poll_serve(struct data_partition *partition, struct broker_request *request)
{
    if (request->kind == BROKER_REQUEST_OFFSET_GET) {
        data_plane_offset_get(partition, request);
    } else {
        data_plane_poll_submit(partition, request);
    }
}

static uint8_t data_poll_operation(const struct broker_request *request)
{
    return request->kind == BROKER_REQUEST_OFFSET_GET ? VSR_OPERATION_OFFSET_GET
                                                      : VSR_OPERATION_POLL;
}

/* A forwarded poll's reply holds at most half the link's buffer (the client lane's share,
 * node/replica_bus.h; runneld sizes that buffer above poll_reply_bytes_max). */
static uint32_t data_poll_forward_capacity(const struct data_plane *plane, uint32_t capacity)
{
    uint64_t limit = plane->broker->config->poll_reply_bytes_max / 2;
    assert(limit > IGGY_POLL_REPLY_HEADER_SIZE);
    return limit < capacity ? (uint32_t)limit : capacity;
}

/* The body of a forwarded poll: its resolved target and the reply room it has. */
static void data_poll_forward_encode(const struct data_plane *plane,
                                     const struct broker_request *request, uint8_t *body)
{
    const struct broker_partition_target *target = &request->partition;
    struct iggy_writer writer;
    iggy_writer_init(&writer, body, DATA_POLL_FORWARD_BODY_SIZE);
    iggy_wire_polling_encode(&writer, &target->strategy);
    iggy_writer_u32(&writer, target->count);
    iggy_writer_u8(&writer, (uint8_t)target->consumer_kind);
    iggy_writer_u32(&writer, target->consumer_id);
    iggy_writer_u8(&writer, target->auto_commit ? 1 : 0);
    iggy_writer_u8(&writer, target->is_group_poll ? 1 : 0);
    iggy_writer_u64(&writer, target->log_start_offset);
    iggy_writer_u32(&writer, data_poll_forward_capacity(plane, request->buffer_capacity));
    assert(writer.error == 0 && writer.size == DATA_POLL_FORWARD_BODY_SIZE);
}

/* Untrusted (a peer's bytes): 0 and target filled, or -RUNNEL_EFORMAT. */
static int data_poll_forward_decode(const uint8_t *body, uint32_t size,
                                    struct broker_partition_target *target, uint32_t *capacity_out)
{
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, size);
    iggy_wire_polling_decode(&reader, &target->strategy);
    target->count = iggy_reader_u32(&reader);
    target->consumer_kind = iggy_reader_u8(&reader);
    target->consumer_id = iggy_reader_u32(&reader);
    uint8_t auto_commit = iggy_reader_u8(&reader);
    uint8_t is_group_poll = iggy_reader_u8(&reader);
    target->log_start_offset = iggy_reader_u64(&reader);
    *capacity_out = iggy_reader_u32(&reader);
    if (iggy_reader_finish(&reader) != 0 || auto_commit > 1 || is_group_poll > 1 ||
        (target->consumer_kind != IGGY_CONSUMER_SINGLE &&
         target->consumer_kind != IGGY_CONSUMER_GROUP) ||
        *capacity_out <= IGGY_POLL_REPLY_HEADER_SIZE) {
        return -RUNNEL_EFORMAT;
    }
    target->auto_commit = auto_commit == 1;
    target->is_group_poll = is_group_poll == 1;
    return 0;
}

/* The body of a forwarded GetConsumerOffset: its consumer. */
static void data_offset_forward_encode(const struct broker_request *request, uint8_t *body)
{
    struct iggy_writer writer;
    iggy_writer_init(&writer, body, DATA_OFFSET_FORWARD_BODY_SIZE);
    iggy_writer_u8(&writer, (uint8_t)request->partition.consumer_kind);
    iggy_writer_u32(&writer, request->partition.consumer_id);
    assert(writer.error == 0 && writer.size == DATA_OFFSET_FORWARD_BODY_SIZE);
}

/* Untrusted (a peer's bytes): 0 and target's consumer filled, or -RUNNEL_EFORMAT. */
static int data_offset_forward_decode(const uint8_t *body, uint32_t size,
                                      struct broker_partition_target *target)
{
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, size);
    target->consumer_kind = iggy_reader_u8(&reader);
    target->consumer_id = iggy_reader_u32(&reader);
    if (iggy_reader_finish(&reader) != 0 || (target->consumer_kind != IGGY_CONSUMER_SINGLE &&
                                             target->consumer_kind != IGGY_CONSUMER_GROUP)) {
        return -RUNNEL_EFORMAT;
    }
    return 0;
}

/* Sends one forwarded read to the primary; false when it could not be handed on now. */
static bool data_poll_forward_send(struct data_partition *partition, struct broker_request *request)
{
    struct vsr_replica *replica = &partition->replica;
    assert(!vsr_replica_is_primary(replica));
    uint8_t primary = vsr_replica_primary_index(replica, replica->view);
    struct broker *broker = partition->plane->broker;
    if (replica->status != VSR_STATUS_NORMAL || primary == broker->replica_index) {
        return false; /* no primary to send to now: the next resend tries again */
    }
    uint8_t body[DATA_POLL_FORWARD_BODY_SIZE];
    uint32_t body_size = DATA_POLL_FORWARD_BODY_SIZE;
    if (request->kind == BROKER_REQUEST_OFFSET_GET) {
        data_offset_forward_encode(request, body);
        body_size = DATA_OFFSET_FORWARD_BODY_SIZE;
    } else {
        data_poll_forward_encode(partition->plane, request, body);
    }
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, replica->config.cluster, replica->view,
                    broker->replica_index, &partition->group);
    header.u.request.client = partition->client;
    header.u.request.request = request->vsr_request;
    header.u.request.operation = data_poll_operation(request);
    vsr_header_seal(&header, body, body_size);
    int result =
        replica_bus_send(broker->bus, partition->plane->shard_index, primary, &header, body);
    if (result != 0) {
        return false;
    }
    request->is_forwarded = true;
    partition->polls_forwarded++;
    return true;
}

static void data_poll_forward_queue(struct data_partition *partition,
                                    struct broker_request *request)
{
    assert(request->next == NULL);
    if (partition->poll_forward_tail == NULL) {
        partition->poll_forward_head = request;
    } else {
        partition->poll_forward_tail->next = request;
    }
    partition->poll_forward_tail = request;
}

/* Takes request (by number) out of the forwarded list; NULL when it is not there. */
static struct broker_request *data_poll_forward_take(struct data_partition *partition,
                                                     uint64_t number)
{
    struct broker_request *previous = NULL;
    for (struct broker_request *request = partition->poll_forward_head; request != NULL;
         request = request->next) {
        if (request->vsr_request != number) {
            previous = request;
            continue;
        }
        if (previous == NULL) {
            partition->poll_forward_head = request->next;
        } else {
            previous->next = request->next;
        }
        if (partition->poll_forward_tail == request) {
            partition->poll_forward_tail = previous;
        }
        request->next = NULL;
        return request;
    }
    return NULL;
}

void data_plane_poll_route(struct data_partition *partition, struct broker_request *request)
{
    assert(partition != NULL && request != NULL);
    assert(request->kind == BROKER_REQUEST_POLL || request->kind == BROKER_REQUEST_OFFSET_GET);
    assert(request->connection != NULL);
    if (!cluster_forward_is_multi(partition->plane->broker) ||
        data_poll_is_served_here(partition, request)) {
        data_poll_serve(partition, request);
        return;
    }
    request->vsr_request = ++partition->poll_forward_last;
    request->is_forwarded = false;
    data_poll_forward_queue(partition, request);
    if (!vsr_replica_is_primary(&partition->replica)) {
        (void)data_poll_forward_send(partition, request);
    } /* else a primary not current yet: served from the tick once it is */
}

/* ---- on the primary ---- */

/* A forwarded read's reply to origin (lost when the link is down or full: re-sent). */
static void data_poll_remote_reply(struct data_partition *partition, uint8_t origin, u128 client,
                                   uint64_t number, uint8_t operation, uint8_t status, uint64_t op,
                                   const void *body, uint32_t body_size)
{
    struct data_plane *plane = partition->plane;
    struct broker *broker = plane->broker;
    struct vsr_replica *replica = &partition->replica;
    if (origin >= broker->replica_count || origin == broker->replica_index) {
        return;
    }
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REPLY, replica->config.cluster, replica->view,
                    broker->replica_index, &partition->group);
    header.u.reply.client = client;
    header.u.reply.request = number;
    header.u.reply.operation = operation;
    header.u.reply.status = status;
    header.u.reply.op = op;
    header.u.reply.commit = replica->commit_min;
    vsr_header_seal(&header, body, body_size);
    int result = replica_bus_send(broker->bus, plane->shard_index, origin, &header, body);
    log_debug("poll_forward_answered",
              "directory=%s to=%u request=%llu status=%u size=%u result=%d", partition->directory,
              origin, (unsigned long long)number, status, body_size, result);
}

static void data_poll_remote(struct data_partition *partition, const struct vsr_header *header,
                             const void *body)
{
    struct data_plane *plane = partition->plane;
    uint8_t operation = header->u.request.operation;
    bool is_offset_get = operation == VSR_OPERATION_OFFSET_GET;
    struct broker_partition_target target;
    memset(&target, 0, sizeof(target));
    uint32_t capacity = 0;
    uint32_t body_size = header->size - VSR_HEADER_SIZE;
    int decoded = is_offset_get ? data_offset_forward_decode(body, body_size, &target)
                                : data_poll_forward_decode(body, body_size, &target, &capacity);
    if (decoded != 0) {
        plane->bus_dropped++;
        log_debug("poll_forward_invalid", "directory=%s from=%u operation=%u", partition->directory,
                  header->replica, operation);
        return;
    }
    struct broker_request *request =
        data_poll_primary_is_current(&partition->replica)
            ? broker_server_request_take(plane->broker, plane->shard_index, !is_offset_get)
            : NULL;
    if (request == NULL) {
        /* Not the primary (any more), not current yet (its view's head not executed), or
         * no room now: told so, which also returns the link's forward credit; the sender
         * re-sends to the primary of its view. */
        data_poll_remote_reply(partition, header->replica, header->u.request.client,
                               header->u.request.request, operation, VSR_REPLY_STATUS_NOT_SERVED, 0,
                               NULL, 0);
        return;
    }
    target.group = partition->group;
    target.metadata_slot = partition->metadata_slot;
    request->kind = is_offset_get ? BROKER_REQUEST_OFFSET_GET : BROKER_REQUEST_POLL;
    request->purpose = BROKER_PURPOSE_REMOTE_POLL;
    request->target_shard = plane->shard_index;
    request->partition = target;
    request->vsr_client = header->u.request.client;
    request->vsr_request = header->u.request.request;
    request->origin_replica = header->replica;
    if (is_offset_get) {
        data_plane_offset_get(partition, request);
        return;
    }
    request->buffer_capacity = data_poll_forward_capacity(plane, request->buffer_capacity);
    if (capacity < request->buffer_capacity) {
        request->buffer_capacity = capacity;
    }
    data_plane_poll_submit(partition, request);
}

void data_plane_poll_remote_done(struct data_partition *partition, struct broker_request *request)
{
    assert(request->purpose == BROKER_PURPOSE_REMOTE_POLL && request->has_reply);
    assert(request->reply_status == 0 &&
           request->reply_size <= request->buffer_capacity - request->reply_offset);
    struct data_plane *plane = partition->plane;
    data_poll_remote_reply(partition, request->origin_replica, request->vsr_client,
                           request->vsr_request, data_poll_operation(request), VSR_REPLY_STATUS_OK,
                           request->reply_op, request->buffer + request->reply_offset,
                           request->reply_size);
    broker_server_request_free(plane->broker, plane->shard_index, request);
}

/* ---- back on the node that forwarded ---- */

static void data_poll_forward_reply(struct data_partition *partition,
                                    const struct vsr_header *header, const void *body)
{
    if (header->command != VSR_COMMAND_REPLY || header->u.reply.client != partition->client) {
        return; /* a previous boot's poll: nobody waits */
    }
    uint32_t size = header->size - VSR_HEADER_SIZE;
    struct broker_request *request = data_poll_forward_take(partition, header->u.reply.request);
    if (request == NULL) {
        return; /* answered already (a resend's second reply), or given up */
    }
    if (header->u.reply.status != VSR_REPLY_STATUS_OK) {
        request->is_forwarded = false; /* not served there: sent again on the next resend */
        data_poll_forward_queue(partition, request);
        return;
    }
    cluster_forward_progress(&partition->poll_forward);
    bool is_offset_get = request->kind == BROKER_REQUEST_OFFSET_GET;
    bool is_shape = is_offset_get ? size == 0 || size == DATA_OFFSET_REPLY_SIZE
                                  : size >= IGGY_POLL_REPLY_HEADER_SIZE;
    if (header->u.reply.operation != data_poll_operation(request) || !is_shape ||
        size > request->buffer_capacity) {
        data_plane_reply_status(partition->plane, request, IGGY_ERROR_TRANSIENT_NOT_COMMITTED);
        return; /* a peer's bytes that do not fit: an error, never an assert */
    }
    memcpy(request->buffer, body, size);
    request->reply_offset = 0;
    request->reply_size = size;
    request->reply_status = 0;
    request->reply_operation = IGGY_OPERATION_NON_REPLICATED;
    request->reply_op = header->u.reply.op;
    request->has_reply = true;
    broker_request_complete(partition->plane->broker, partition->plane->shard_index, request);
}

bool data_plane_poll_on_bus_message(struct data_partition *partition,
                                    const struct vsr_header *header, const void *body)
{
    assert(partition != NULL && header != NULL);
    if (header->command == VSR_COMMAND_REQUEST &&
        (header->u.request.operation == VSR_OPERATION_POLL ||
         header->u.request.operation == VSR_OPERATION_OFFSET_GET)) {
        data_poll_remote(partition, header, body);
        return true;
    }
    if (header->command == VSR_COMMAND_REPLY &&
        (header->u.reply.operation == VSR_OPERATION_POLL ||
         header->u.reply.operation == VSR_OPERATION_OFFSET_GET)) {
        data_poll_forward_reply(partition, header, body);
        return true;
    }
    return false;
}

/* Takes the whole forwarded list (its requests still linked through next). */
static struct broker_request *data_poll_forward_take_all(struct data_partition *partition)
{
    struct broker_request *head = partition->poll_forward_head;
    partition->poll_forward_head = NULL;
    partition->poll_forward_tail = NULL;
    return head;
}

void data_plane_poll_forward_tick(struct data_partition *partition)
{
    assert(partition != NULL);
    if (partition->poll_forward_head != NULL && data_poll_primary_is_current(&partition->replica)) {
        /* This node leads now and executed its view's head: it answers them all itself
         * (a reply from the node it forwarded one to finds nobody waiting). */
        struct broker_request *head = data_poll_forward_take_all(partition);
        cluster_forward_progress(&partition->poll_forward);
        for (uint32_t round = 0; round < UINT32_MAX && head != NULL; round++) {
            struct broker_request *request = head;
            head = request->next;
            request->next = NULL;
            data_poll_serve(partition, request);
        }
    }
    enum cluster_forward_action action =
        cluster_forward_tick(&partition->poll_forward, partition->poll_forward_head != NULL);
    if (action == CLUSTER_FORWARD_WAIT) {
        return;
    }
    struct broker_request *head = data_poll_forward_take_all(partition);
    bool is_primary = vsr_replica_is_primary(&partition->replica);
    if (action == CLUSTER_FORWARD_EXPIRE) {
        log_warn("partition_polls_parked_too_long", "directory=%s view=%u", partition->directory,
                 partition->replica.view);
    }
    for (uint32_t round = 0; round < UINT32_MAX && head != NULL; round++) {
        struct broker_request *request = head;
        head = request->next;
        request->next = NULL;
        if (action == CLUSTER_FORWARD_EXPIRE) {
            data_plane_reply_status(partition->plane, request,
                                    request->is_forwarded ? IGGY_ERROR_TRANSIENT_NOT_COMMITTED
                                                          : IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
        } else {
            data_poll_forward_queue(partition, request);
            if (!is_primary) {
                (void)data_poll_forward_send(partition, request);
            } /* else this primary is not current yet: kept until it is, or expired */
        }
    }
}
