/*
 * A shard's listeners and connections (see net.h). Owns the connection table, the output
 * buffers, the reassembly slot pool and the accept completions. Runs on its shard; only
 * net_listener_open runs elsewhere (on the main thread, before shards start).
 *
 * A connection slot is freed only when none of its operations is in the kernel (no recv
 * armed, no send in flight), so a CQE never names a reused slot.
 */
#include "node/net.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/xshard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void net_recv_callback(struct runtime_uring_completion *completion, int32_t result,
                              uint32_t flags);
static void net_send_callback(struct runtime_uring_completion *completion, int32_t result,
                              uint32_t flags);
static void net_accept_callback(struct runtime_uring_completion *completion, int32_t result,
                                uint32_t flags);
static void net_accept_arm(struct net *net, enum net_peer_kind kind);
static void net_connection_wait(struct net_connection *connection, bool is_slot);

uint64_t net_connection_cost_bytes(const struct net_options *options)
{
    assert(options != NULL);
    assert(options->send_buffer_size_bytes > 0);
    return sizeof(struct net_connection) + options->send_buffer_size_bytes + 2 * sizeof(uint32_t);
}

/* The large output rings (net_connection_output_grow), all free. 0 or -ENOMEM. */
static int net_large_init(struct net *net)
{
    uint32_t count = net->options.large_send_buffers_max;
    assert(count < UINT16_MAX); /* output_large holds 1 + an index */
    assert(count == 0 || net->options.large_send_buffer_size_bytes > 0);
    if (count == 0) {
        return 0;
    }
    net->large_memory = malloc((size_t)count * net->options.large_send_buffer_size_bytes);
    net->large_free = calloc(count, sizeof(uint32_t));
    if (net->large_memory == NULL || net->large_free == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < count; index++) {
        net->large_free[index] = count - 1 - index;
    }
    net->large_free_count = count;
    return 0;
}

int net_init(struct net *net, const struct net_options *options, struct runtime_uring *uring,
             struct xshard *xshard, uint32_t shard_index, uint32_t shard_count,
             struct node_handler *handler)
{
    assert(net != NULL && options != NULL && uring != NULL && handler != NULL);
    assert(options->connections_max > 0 && options->send_buffer_size_bytes > 0);
    assert(shard_index < shard_count && (xshard != NULL || shard_count == 1));
    memset(net, 0, sizeof(*net));
    net->options = *options;
    net->uring = uring;
    net->xshard = xshard;
    net->handler = handler;
    net->shard_index = shard_index;
    net->shard_count = shard_count;
    net->listeners[0] = -1;
    net->listeners[1] = -1;
    uint32_t count = options->connections_max;
    net->connections = calloc(count, sizeof(net->connections[0]));
    net->free_slots = calloc(count, sizeof(uint32_t));
    /* Twice: a walk's connections, then those marked (again) during it (net_flush_dirty). */
    net->dirty = calloc(2 * (size_t)count, sizeof(uint32_t));
    net->waiting = calloc(count, sizeof(uint32_t));
    net->output_memory = malloc((size_t)count * options->send_buffer_size_bytes);
    if (net->connections == NULL || net->free_slots == NULL || net->dirty == NULL ||
        net->waiting == NULL || net->output_memory == NULL || net_large_init(net) != 0 ||
        frame_pool_init(&net->pool, options->reassembly_slots_max, options->frame_size_max) != 0) {
        net_deinit(net);
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < count; index++) {
        struct net_connection *connection = &net->connections[index];
        connection->net = net;
        connection->slot = index;
        connection->fd = -1;
        connection->output = net->output_memory + (size_t)index * options->send_buffer_size_bytes;
        connection->recv_completion.callback = net_recv_callback;
        connection->recv_completion.context = connection;
        connection->send_completion.callback = net_send_callback;
        connection->send_completion.context = connection;
        net->free_slots[index] = count - 1 - index;
    }
    net->free_count = count;
    return 0;
}

void net_deinit(struct net *net)
{
    assert(net != NULL);
    for (uint32_t kind = 0; kind < 2; kind++) {
        if (net->listeners[kind] >= 0) {
            close(net->listeners[kind]);
        }
    }
    for (uint32_t index = 0; index < net->accept_pending_count; index++) {
        close(net->accept_pending[(net->accept_pending_head + index) % NET_ACCEPT_PENDING_MAX].fd);
    }
    if (net->connections != NULL) {
        for (uint32_t index = 0; index < net->options.connections_max; index++) {
            struct net_connection *connection = &net->connections[index];
            if (connection->state != NET_CONNECTION_FREE) {
                frame_reader_reset(&connection->reader);
                if (connection->fd >= 0) {
                    close(connection->fd);
                }
            }
        }
    }
    if (net->pool.memory != NULL) {
        frame_pool_deinit(&net->pool);
    }
    free(net->connections);
    free(net->free_slots);
    free(net->dirty);
    free(net->waiting);
    free(net->output_memory);
    free(net->large_memory);
    free(net->large_free);
    memset(net, 0, sizeof(*net));
}

int net_listener_open(const char *address, uint32_t port, uint32_t *port_out)
{
    assert(address != NULL && port_out != NULL);
    assert(port <= 65535);
    struct sockaddr_in socket_address = {0};
    socket_address.sin_family = AF_INET;
    socket_address.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &socket_address.sin_addr) != 1) {
        return -EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    socklen_t length = sizeof(socket_address);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&socket_address, sizeof(socket_address)) != 0 ||
        listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&socket_address, &length) != 0) {
        int error = -errno;
        close(fd);
        return error;
    }
    *port_out = ntohs(socket_address.sin_port);
    return fd;
}

void net_listen(struct net *net, int listener, enum net_peer_kind kind)
{
    assert(net != NULL && listener >= 0);
    assert(kind == NET_PEER_CLIENT || kind == NET_PEER_REPLICA);
    assert(net->listeners[kind] == -1);
    net->listeners[kind] = listener;
    net->accept_completions[kind].callback = net_accept_callback;
    net->accept_completions[kind].context = net;
    net_accept_arm(net, kind);
}

static void net_mark_dirty(struct net_connection *connection)
{
    struct net *net = connection->net;
    if (connection->is_dirty) {
        return;
    }
    assert(net->dirty_count < 2 * net->options.connections_max);
    connection->is_dirty = true;
    net->dirty[net->dirty_count++] = connection->slot;
}

/* ---------------------------------------------------------------------------------------
 * Accept and adopt. */

/* Stops accepting: new connections wait in the kernel's listen backlog. */
static void net_accept_pause(struct net *net)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        net->is_accept_paused[kind] = true;
        if (net->is_accept_armed[kind]) {
            runtime_uring_cancel(net->uring, &net->accept_completions[kind]);
        }
    }
}

static void net_accept_arm(struct net *net, enum net_peer_kind kind)
{
    if (net->is_accept_armed[kind] || net->is_accept_paused[kind] || net->is_draining ||
        net->listeners[kind] < 0) {
        return;
    }
    runtime_uring_accept_multishot(net->uring, &net->accept_completions[kind],
                                   net->listeners[kind]);
    net->is_accept_armed[kind] = true;
}

/* Hands an accepted connection to its shard, or parks it (in order) when that shard's
 * queue is full, and then stops accepting until the parked ones have gone. */
static void net_accept_place(struct net *net, int fd, enum net_peer_kind kind, uint32_t target)
{
    if (net->accept_pending_count == 0) {
        if (target == net->shard_index) {
            (void)net_adopt(net, fd, kind);
            return;
        }
        struct xshard_entry entry = {0};
        entry.operation = NET_XSHARD_ADOPT;
        entry.arg0 = (uint64_t)fd;
        entry.arg1 = kind;
        if (xshard_push(net->xshard, net->shard_index, target, XSHARD_CLASS_CLIENT, &entry) == 0) {
            return;
        }
        net_accept_pause(net);
    }
    if (net->accept_pending_count == NET_ACCEPT_PENDING_MAX) {
        net->counters.accept_refused++; /* accepted before the pause took effect: too many */
        close(fd);
        return;
    }
    uint32_t position =
        (net->accept_pending_head + net->accept_pending_count) % NET_ACCEPT_PENDING_MAX;
    net->accept_pending[position].fd = fd;
    net->accept_pending[position].kind = kind;
    net->accept_pending[position].target = target;
    net->accept_pending_count++;
    net->counters.accept_parked++;
}

/* Each pass: retries the parked connections in order; accepts again once none is left. */
static void net_accept_retry(struct net *net)
{
    for (uint32_t guard = 0; guard < NET_ACCEPT_PENDING_MAX && net->accept_pending_count > 0;
         guard++) {
        struct net_accept_pending *pending = &net->accept_pending[net->accept_pending_head];
        if (pending->target != net->shard_index) {
            struct xshard_entry entry = {0};
            entry.operation = NET_XSHARD_ADOPT;
            entry.arg0 = (uint64_t)pending->fd;
            entry.arg1 = pending->kind;
            if (xshard_push(net->xshard, net->shard_index, pending->target, XSHARD_CLASS_CLIENT,
                            &entry) != 0) {
                return; /* still full: next pass (the tick guarantees one) */
            }
        } else {
            (void)net_adopt(net, pending->fd, (enum net_peer_kind)pending->kind);
        }
        net->accept_pending_head = (net->accept_pending_head + 1) % NET_ACCEPT_PENDING_MAX;
        net->accept_pending_count--;
    }
    if (net->accept_pending_count == 0 && (net->is_accept_paused[0] || net->is_accept_paused[1])) {
        for (uint32_t kind = 0; kind < 2; kind++) {
            net->is_accept_paused[kind] = false;
            net_accept_arm(net, (enum net_peer_kind)kind);
        }
    }
}

static void net_accept_callback(struct runtime_uring_completion *completion, int32_t result,
                                uint32_t flags)
{
    struct net *net = completion->context;
    enum net_peer_kind kind = completion == &net->accept_completions[NET_PEER_CLIENT]
                                  ? NET_PEER_CLIENT
                                  : NET_PEER_REPLICA;
    assert(net->shard_index == 0);
    if (result >= 0) {
        net->counters.accepted++;
        if (net->is_draining) {
            close(result);
        } else if (kind == NET_PEER_REPLICA) {
            /* Stays here: its hello names the shard it is for, and the handler moves it
             * there directly (node/replica_bus.h), without a stop on a third shard. */
            net_accept_place(net, result, kind, net->shard_index);
        } else {
            net_accept_place(net, result, kind, net->next_shard++ % net->shard_count);
        }
    } else if (result != -ECANCELED) {
        log_warn("accept_failed", "shard=%u error=\"%s\"", net->shard_index, strerror(-result));
    }
    if (!runtime_uring_is_more(flags)) {
        net->is_accept_armed[kind] = false;
        net_accept_arm(net, kind);
    }
}

static int net_adopt_state(struct net *net, int fd, enum net_peer_kind kind, const uint8_t *state);

int net_adopt(struct net *net, int fd, enum net_peer_kind kind)
{
    return net_adopt_state(net, fd, kind, NULL);
}

static int net_adopt_state(struct net *net, int fd, enum net_peer_kind kind, const uint8_t *state)
{
    assert(net != NULL && fd >= 0);
    assert(kind == NET_PEER_CLIENT || kind == NET_PEER_REPLICA);
    if (net->free_count == 0 || net->is_draining) {
        net->counters.accept_refused++;
        close(fd);
        return -RUNNEL_EFULL;
    }
    uint32_t slot = net->free_slots[net->free_count - 1];
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int result = runtime_uring_file_register(net->uring, slot, fd);
    if (result != 0) {
        log_warn("adopt_failed", "shard=%u error=\"%s\"", net->shard_index, strerror(-result));
        close(fd);
        return result;
    }
    net->free_count--;
    struct net_connection *connection = &net->connections[slot];
    assert(connection->state == NET_CONNECTION_FREE);
    connection->state = NET_CONNECTION_OPEN;
    connection->kind = kind;
    connection->fd = fd;
    connection->is_paused = false;
    connection->is_recv_exact = false;
    connection->is_starved = false;
    connection->is_slot_wait = false;
    connection->is_handoff = false;
    connection->has_handoff_state = false;
    connection->has_adopted_state = state != NULL;
    if (state != NULL) {
        memcpy(connection->adopted_state, state, NET_HANDOFF_STATE_SIZE);
    }
    connection->requests_in_flight = 0;
    connection->last_active_ns = net->now_ns;
    connection->input_head = 0;
    connection->input_count = 0;
    connection->output_head = 0;
    connection->output_used = 0;
    connection->output_sending = 0;
    connection->held = NULL;
    connection->is_send_held = false;
    connection->frames_in = 0;
    connection->bytes_in = 0;
    connection->bytes_out = 0;
    connection->user = NULL;
    frame_reader_init(&connection->reader, &net->pool, net->options.frame_size_max);
    runtime_uring_recv_multishot(net->uring, &connection->recv_completion, slot);
    connection->is_recv_armed = true;
    net->counters.adopted++;
    return 0;
}

void net_on_xshard(struct net *net, const struct xshard_entry *entry)
{
    assert(net != NULL && entry != NULL);
    assert(entry->operation == NET_XSHARD_ADOPT);
    uint64_t kind = entry->arg1 & ~(uint64_t)NET_ADOPT_WITH_STATE;
    assert(kind == NET_PEER_CLIENT || kind == NET_PEER_REPLICA);
    _Static_assert(sizeof(entry->payload) == NET_HANDOFF_STATE_SIZE, "state fits an entry");
    (void)net_adopt_state(net, (int)entry->arg0, (enum net_peer_kind)kind,
                          (entry->arg1 & NET_ADOPT_WITH_STATE) != 0 ? entry->payload : NULL);
}

/* ---------------------------------------------------------------------------------------
 * Closing. */

static void net_connection_input_release(struct net_connection *connection)
{
    for (uint32_t index = 0; index < connection->input_count; index++) {
        uint32_t position = (connection->input_head + index) % NET_INPUT_SEGMENTS_MAX;
        runtime_uring_recv_buffer_release(connection->net->uring,
                                          connection->input[position].buffer_id);
    }
    connection->input_head = 0;
    connection->input_count = 0;
}

/* Gives a held send's memory back to its owner (sent, or the connection closed). */
static void net_held_done(struct net_connection *connection)
{
    assert(connection->held != NULL && !connection->is_send_held);
    net_held_release release = connection->held_release;
    void *owner = connection->held_owner;
    void *item = connection->held_item;
    connection->held = NULL;
    connection->held_release = NULL;
    release(owner, item);
}

/* Frees the slot once nothing of the connection is in the kernel. */
static void net_connection_maybe_free(struct net_connection *connection)
{
    struct net *net = connection->net;
    if (connection->state != NET_CONNECTION_CLOSING || connection->is_recv_armed ||
        connection->is_send_in_flight) {
        return;
    }
    connection->state = NET_CONNECTION_FREE;
    if (connection->output_large != 0) {
        assert(net->large_free_count < net->options.large_send_buffers_max);
        net->large_free[net->large_free_count++] = connection->output_large - 1u;
        connection->output_large = 0;
        connection->is_output_growing = false;
        connection->output =
            net->output_memory + (size_t)connection->slot * net->options.send_buffer_size_bytes;
    }
    assert(net->free_count < net->options.connections_max);
    net->free_slots[net->free_count++] = connection->slot;
}

/* Ends the connection's life here; close_fd false for a hand-off. */
static void net_connection_end(struct net_connection *connection, bool close_fd)
{
    struct net *net = connection->net;
    assert(connection->state == NET_CONNECTION_OPEN);
    connection->state = NET_CONNECTION_CLOSING;
    if (connection->is_recv_armed) {
        runtime_uring_cancel(net->uring, &connection->recv_completion);
    }
    net_connection_input_release(connection);
    frame_reader_reset(&connection->reader);
    if (connection->held != NULL && !connection->is_send_held) {
        net_held_done(connection); /* one in flight is given back at its completion */
    }
    int result = runtime_uring_file_unregister(net->uring, connection->slot);
    assert(result == 0);
    if (close_fd) {
        if (connection->is_send_in_flight || connection->is_recv_armed) {
            shutdown(connection->fd, SHUT_RDWR); /* ends the kernel's operations */
        }
        close(connection->fd);
        net->counters.closed++;
        if (net->handler->on_close != NULL) {
            net->handler->on_close(net->handler, connection);
        }
    } else if (net->handler->on_handoff != NULL) {
        net->handler->on_handoff(net->handler, connection);
    }
    connection->fd = -1;
    net_connection_maybe_free(connection);
}

void net_connection_close(struct net_connection *connection)
{
    assert(connection != NULL);
    assert(connection->state != NET_CONNECTION_FREE);
    if (connection->state == NET_CONNECTION_OPEN) {
        net_connection_end(connection, true);
    }
}

/* ---------------------------------------------------------------------------------------
 * Receiving and frames. */

static const uint8_t *net_segment_bytes(const struct net_connection *connection,
                                        const struct net_input_segment *segment)
{
    return runtime_uring_recv_buffer(connection->net->uring, segment->buffer_id) + segment->offset;
}

/*
 * Bytes contiguous in memory from the head segment on. runtime_uring posts buffers in
 * ascending address order, so when the kernel filled a buffer to its end and took the
 * adjacent one next, the stream continues in place and a frame spanning the two is read
 * there instead of being copied into a reassembly slot.
 */
static uint32_t net_connection_span(const struct net_connection *connection)
{
    const struct net_input_segment *head = &connection->input[connection->input_head];
    const uint8_t *end = net_segment_bytes(connection, head) + head->size_bytes;
    uint32_t span = head->size_bytes;
    for (uint32_t index = 1; index < connection->input_count; index++) {
        const struct net_input_segment *segment =
            &connection->input[(connection->input_head + index) % NET_INPUT_SEGMENTS_MAX];
        if (net_segment_bytes(connection, segment) != end) {
            break;
        }
        span += segment->size_bytes;
        end += segment->size_bytes;
    }
    assert(span >= head->size_bytes);
    return span;
}

/* Drops consumed bytes from the front of the input, releasing the buffers it empties. */
static void net_connection_consume(struct net_connection *connection, uint32_t consumed)
{
    for (uint32_t guard = 0; guard < NET_INPUT_SEGMENTS_MAX && consumed > 0; guard++) {
        assert(connection->input_count > 0);
        struct net_input_segment *segment = &connection->input[connection->input_head];
        uint32_t take = consumed < segment->size_bytes ? consumed : segment->size_bytes;
        segment->offset += take;
        segment->size_bytes -= take;
        consumed -= take;
        if (segment->size_bytes == 0) {
            runtime_uring_recv_buffer_release(connection->net->uring, segment->buffer_id);
            connection->input_head = (connection->input_head + 1) % NET_INPUT_SEGMENTS_MAX;
            connection->input_count--;
        }
    }
    assert(consumed == 0);
}

/* Stops the connection's input until net_connection_flush resumes it. */
static void net_connection_pause(struct net_connection *connection)
{
    struct net *net = connection->net;
    connection->is_paused = true;
    net->counters.pauses++;
    if (connection->is_recv_armed && !connection->is_recv_exact) {
        runtime_uring_cancel(net->uring, &connection->recv_completion);
    }
}

/* Hands a whole frame to the handler: 0 taken, -RUNNEL_EFULL not now, other: close. */
static int net_connection_offer(struct net_connection *connection, const struct frame_view *frame)
{
    struct net *net = connection->net;
    if (connection->requests_in_flight >= net->options.requests_in_flight_max) {
        return -RUNNEL_EFULL;
    }
    int result = net->handler->on_frame(net->handler, connection, frame->bytes, frame->size_bytes);
    if (result == 0) {
        frame_reader_done(&connection->reader);
        connection->frames_in++;
    }
    return result;
}

/* Offers the frames in the input (and a frame the reader completed) to the handler until
 * paused or empty. */
static void net_connection_process(struct net_connection *connection)
{
    struct net *net = connection->net;
    uint32_t frames_max = NET_INPUT_SEGMENTS_MAX *
                          (runtime_uring_recv_buffer_size(net->uring) / FRAME_HEADER_SIZE + 2);
    for (uint32_t guard = 0; guard < frames_max; guard++) {
        bool has_input = connection->input_count > 0;
        if (connection->state != NET_CONNECTION_OPEN || connection->is_paused ||
            (!has_input && !frame_reader_is_ready(&connection->reader))) {
            return;
        }
        const uint8_t *bytes = NULL;
        uint32_t size = 0;
        if (has_input) {
            bytes = net_segment_bytes(connection, &connection->input[connection->input_head]);
            size = frame_reader_is_idle(&connection->reader)
                       ? net_connection_span(connection)
                       : connection->input[connection->input_head].size_bytes;
        }
        uint32_t consumed = 0;
        struct frame_view frame;
        int result = frame_reader_next(&connection->reader, bytes, size, &consumed, &frame);
        if (result == -RUNNEL_EFULL) { /* no reassembly slot: keep what was taken, wait */
            net_connection_consume(connection, consumed);
            net->counters.slot_waits++;
            net_connection_pause(connection);
            net_connection_wait(connection, true);
            return;
        }
        if (result == 1) {
            result = net_connection_offer(connection, &frame);
            if (result == -RUNNEL_EFULL) {
                net_connection_pause(connection); /* the same frame is offered again */
                return;
            }
        }
        if (result < 0) {
            net->counters.closed_bad_frame++;
            net_connection_close(connection);
            return;
        }
        net_connection_consume(connection, consumed);
    }
}

static void net_recv_data(struct net_connection *connection, uint16_t buffer_id, int32_t size)
{
    struct net *net = connection->net;
    if (connection->state == NET_CONNECTION_OPEN &&
        connection->input_count == NET_INPUT_SEGMENTS_MAX) {
        net_connection_process(connection); /* make room */
    }
    if (connection->state != NET_CONNECTION_OPEN ||
        connection->input_count == NET_INPUT_SEGMENTS_MAX) {
        runtime_uring_recv_buffer_release(net->uring, buffer_id);
        if (connection->state == NET_CONNECTION_OPEN) {
            net->counters.input_overrun++;
            net_connection_close(connection);
        }
        return;
    }
    uint32_t position = (connection->input_head + connection->input_count) % NET_INPUT_SEGMENTS_MAX;
    connection->input[position].buffer_id = buffer_id;
    connection->input[position].offset = 0;
    connection->input[position].size_bytes = (uint32_t)size;
    connection->input_count++;
    connection->bytes_in += (uint64_t)size;
    connection->last_active_ns = net->now_ns;
    /* Processed at the flush, once every CQE of the pass is in: adjacent buffers can then
     * be read as one span. */
    net_mark_dirty(connection);
}

/* The one-shot receive of a connection about to move: bytes went straight into the
 * reader's partial frame (no provided buffer), never past its end. */
static void net_recv_exact_data(struct net_connection *connection, int32_t size)
{
    struct net *net = connection->net;
    if (connection->state != NET_CONNECTION_OPEN) {
        return;
    }
    connection->bytes_in += (uint64_t)size;
    connection->last_active_ns = net->now_ns;
    int result = frame_reader_fill(&connection->reader, (uint32_t)size);
    if (result < 0) {
        net->counters.closed_bad_frame++;
        net_connection_close(connection);
        return;
    }
    net_mark_dirty(connection);
}

static void net_recv_callback(struct runtime_uring_completion *completion, int32_t result,
                              uint32_t flags)
{
    struct net_connection *connection = completion->context;
    assert(connection->state != NET_CONNECTION_FREE);
    assert(connection->is_recv_armed);
    uint16_t buffer_id = 0;
    bool has_buffer = runtime_uring_buffer_id(flags, &buffer_id);
    bool is_exact = connection->is_recv_exact;
    if (!runtime_uring_is_more(flags)) {
        connection->is_recv_armed = false;
        connection->is_recv_exact = false;
    }
    if (result > 0 && is_exact) {
        assert(!has_buffer);
        net_recv_exact_data(connection, result);
    } else if (result > 0) {
        assert(has_buffer);
        net_recv_data(connection, buffer_id, result);
    } else {
        if (has_buffer) {
            runtime_uring_recv_buffer_release(connection->net->uring, buffer_id);
        }
        /* 0: the peer closed. -ENOBUFS: every buffer is out; re-armed once some return. */
        if (result != -ENOBUFS && result != -ECANCELED &&
            connection->state == NET_CONNECTION_OPEN) {
            net_connection_close(connection);
        }
        if (result == -ENOBUFS && connection->state == NET_CONNECTION_OPEN) {
            connection->net->counters.recv_no_buffers++;
            net_connection_wait(connection, false); /* re-armed by net_flush_waiting */
        }
    }
    if (!connection->is_recv_armed) {
        if (connection->state == NET_CONNECTION_OPEN) {
            net_mark_dirty(connection);
        }
        net_connection_maybe_free(connection);
    }
}

/* ---------------------------------------------------------------------------------------
 * Sending. */

uint32_t net_connection_output_size(const struct net_connection *connection)
{
    assert(connection != NULL);
    const struct net_options *options = &connection->net->options;
    bool is_large = connection->output_large != 0 && !connection->is_output_growing;
    return is_large ? options->large_send_buffer_size_bytes : options->send_buffer_size_bytes;
}

uint32_t net_connection_output_capacity(const struct net_connection *connection)
{
    assert(connection != NULL);
    const struct net_options *options = &connection->net->options;
    return connection->output_large != 0 ? options->large_send_buffer_size_bytes
                                         : options->send_buffer_size_bytes;
}

/* A grow waiting for the kernel: once no send is in flight (and no held send waits), the
 * bytes still queued move to the start of the large ring, which the connection sends from
 * from then on. */
static void net_output_grow_finish(struct net_connection *connection)
{
    struct net *net = connection->net;
    if (!connection->is_output_growing || connection->held != NULL ||
        connection->is_send_in_flight) {
        return;
    }
    assert(connection->output_large != 0);
    uint32_t size = net->options.send_buffer_size_bytes;
    uint32_t used = connection->output_used;
    uint32_t first = used < size - connection->output_head ? used : size - connection->output_head;
    uint8_t *large = net->large_memory + (size_t)(connection->output_large - 1u) *
                                             net->options.large_send_buffer_size_bytes;
    assert(used <= size && used <= net->options.large_send_buffer_size_bytes);
    memcpy(large, connection->output + connection->output_head, first);
    memcpy(large + first, connection->output, used - first);
    connection->output = large;
    connection->output_head = 0;
    connection->is_output_growing = false;
}

int net_connection_output_grow(struct net_connection *connection)
{
    assert(connection != NULL);
    assert(connection->state == NET_CONNECTION_OPEN && connection->output_large == 0);
    struct net *net = connection->net;
    if (net->large_free_count == 0) {
        net->counters.outputs_grow_refused++;
        return -RUNNEL_EFULL;
    }
    connection->output_large = (uint16_t)(net->large_free[--net->large_free_count] + 1u);
    connection->is_output_growing = true;
    net->counters.outputs_grown++;
    net_output_grow_finish(connection);
    return 0;
}

int net_connection_send(struct net_connection *connection, const void *bytes, uint32_t size_bytes)
{
    assert(connection != NULL && bytes != NULL);
    assert(connection->state == NET_CONNECTION_OPEN);
    uint32_t size = net_connection_output_size(connection);
    assert(connection->output_head < size && connection->output_used <= size);
    if (size_bytes > size) {
        return -RUNNEL_ETOOLARGE; /* can never fit: the handler must not wait for it */
    }
    if (size_bytes > size - connection->output_used) {
        return -RUNNEL_EFULL;
    }
    uint32_t tail = (connection->output_head + connection->output_used) % size;
    uint32_t first = size_bytes < size - tail ? size_bytes : size - tail;
    memcpy(connection->output + tail, bytes, first);
    memcpy(connection->output, (const uint8_t *)bytes + first, size_bytes - first);
    connection->output_used += size_bytes;
    net_mark_dirty(connection);
    return 0;
}

int net_connection_send_held(struct net_connection *connection, const void *bytes,
                             uint32_t size_bytes, net_held_release release, void *owner, void *item)
{
    assert(connection != NULL && bytes != NULL && release != NULL);
    assert(connection->state == NET_CONNECTION_OPEN);
    assert(size_bytes > 0);
    if (connection->output_used > 0 || connection->held != NULL) {
        return -RUNNEL_EFULL;
    }
    connection->held = bytes;
    connection->held_size = size_bytes;
    connection->held_sent = 0;
    connection->held_release = release;
    connection->held_owner = owner;
    connection->held_item = item;
    net_mark_dirty(connection);
    return 0;
}

/* The send (or the zero-copy notification) ended with result: sent bytes leave the ring
 * (or the held send). */
static void net_send_done(struct net_connection *connection, int32_t result)
{
    bool was_held = connection->is_send_held;
    connection->is_send_in_flight = false;
    connection->is_send_zc = false;
    connection->is_send_held = false;
    if (connection->state != NET_CONNECTION_OPEN) {
        if (was_held) {
            net_held_done(connection);
        }
        net_connection_maybe_free(connection);
        return;
    }
    if (result <= 0) {
        net_connection_close(connection);
        return;
    }
    if (was_held) {
        assert((uint32_t)result <= connection->held_size - connection->held_sent);
        connection->held_sent += (uint32_t)result;
        connection->bytes_out += (uint32_t)result;
        if (connection->held_sent == connection->held_size) {
            net_held_done(connection);
            net_output_grow_finish(connection);
        }
        net_mark_dirty(connection);
        return;
    }
    uint32_t sent = (uint32_t)result;
    assert(sent <= connection->output_sending &&
           connection->output_sending <= connection->output_used);
    connection->output_head =
        (connection->output_head + sent) % net_connection_output_size(connection);
    connection->output_used -= sent;
    if (connection->output_used == 0) {
        connection->output_head = 0; /* small replies keep to the ring's first pages */
    }
    connection->output_sending = 0;
    connection->bytes_out += sent;
    net_output_grow_finish(connection);
    net_mark_dirty(connection);
}

static void net_send_callback(struct runtime_uring_completion *completion, int32_t result,
                              uint32_t flags)
{
    struct net_connection *connection = completion->context;
    assert(connection->is_send_in_flight);
    if (!connection->is_send_zc) {
        assert(!runtime_uring_is_more(flags));
        net_send_done(connection, result);
        return;
    }
    if (runtime_uring_is_notification(flags)) {
        if (runtime_uring_notification_copied(result)) {
            connection->net->counters.sends_zc_copied++;
        }
        net_send_done(connection, connection->send_result);
        return;
    }
    connection->send_result = result; /* the bytes stay the kernel's until the notification */
    if (!runtime_uring_is_more(flags)) {
        net_send_done(connection, result); /* no notification follows */
    }
}

/* One send: what is left of a held send, else everything the ring holds: contiguous, or
 * its two pieces in one sendmsg; zero-copy from send_zc_min_bytes on. */
static void net_connection_send_start(struct net_connection *connection)
{
    struct net *net = connection->net;
    uint32_t size = net_connection_output_size(connection);
    uint32_t used = connection->output_used;
    assert(!connection->is_send_in_flight);
    if (connection->held != NULL) {
        assert(connection->held_sent < connection->held_size);
        connection->is_send_in_flight = true;
        connection->is_send_held = true;
        net->counters.sends++;
        net->counters.sends_held++;
        runtime_uring_send(net->uring, &connection->send_completion, connection->slot,
                           connection->held + connection->held_sent,
                           connection->held_size - connection->held_sent);
        return;
    }
    assert(used > 0);
    bool is_zc = net->options.send_zc_min_bytes > 0 && used >= net->options.send_zc_min_bytes;
    connection->output_sending = used;
    connection->is_send_in_flight = true;
    connection->is_send_zc = is_zc;
    connection->send_result = 0;
    uint8_t *head = connection->output + connection->output_head;
    net->counters.sends++;
    net->counters.sends_zc += is_zc ? 1 : 0;
    if (used <= size - connection->output_head) {
        if (is_zc) {
            runtime_uring_send_zc(net->uring, &connection->send_completion, connection->slot, head,
                                  used);
        } else {
            runtime_uring_send(net->uring, &connection->send_completion, connection->slot, head,
                               used);
        }
        return;
    }
    connection->send_iov[0].iov_base = head;
    connection->send_iov[0].iov_len = size - connection->output_head;
    connection->send_iov[1].iov_base = connection->output;
    connection->send_iov[1].iov_len = used - (size - connection->output_head);
    memset(&connection->send_message, 0, sizeof(connection->send_message));
    connection->send_message.msg_iov = connection->send_iov;
    connection->send_message.msg_iovlen = 2;
    net->counters.sends_vectored++;
    runtime_uring_sendmsg(net->uring, &connection->send_completion, connection->slot,
                          &connection->send_message, is_zc);
}

void net_connection_request_begin(struct net_connection *connection)
{
    assert(connection != NULL);
    assert(connection->state == NET_CONNECTION_OPEN);
    connection->requests_in_flight++;
}

void net_connection_request_end(struct net_connection *connection)
{
    assert(connection != NULL);
    assert(connection->requests_in_flight > 0);
    connection->requests_in_flight--;
    if (connection->state == NET_CONNECTION_OPEN) {
        net_mark_dirty(connection);
    }
}

uint32_t net_connection_shard(const struct net_connection *connection)
{
    assert(connection != NULL);
    assert(connection->net != NULL);
    return connection->net->shard_index;
}

uint32_t net_connection_shard_count(const struct net_connection *connection)
{
    assert(connection != NULL);
    assert(connection->net != NULL && connection->net->shard_count > 0);
    return connection->net->shard_count;
}

/* ---------------------------------------------------------------------------------------
 * Hand-off, flush, drain. */

void net_connection_handoff(struct net_connection *connection, uint32_t target_shard)
{
    assert(connection != NULL && connection->state == NET_CONNECTION_OPEN);
    assert(target_shard < connection->net->shard_count);
    if (target_shard == connection->net->shard_index) {
        connection->is_handoff = false; /* a later request wins: stay (receives resume) */
        net_mark_dirty(connection);
        return;
    }
    connection->handoff_shard = target_shard;
    if (!connection->is_handoff && connection->is_recv_armed && !connection->is_recv_exact) {
        runtime_uring_cancel(connection->net->uring, &connection->recv_completion);
    }
    connection->is_handoff = true;
    net_mark_dirty(connection);
}

void net_connection_handoff_state(struct net_connection *connection, const void *state,
                                  uint32_t size_bytes)
{
    assert(connection != NULL && connection->state == NET_CONNECTION_OPEN);
    assert(state != NULL && size_bytes <= NET_HANDOFF_STATE_SIZE);
    memset(connection->handoff_state, 0, NET_HANDOFF_STATE_SIZE);
    memcpy(connection->handoff_state, state, size_bytes);
    connection->has_handoff_state = true;
}

static bool net_connection_is_quiet(const struct net_connection *connection)
{
    return !connection->is_recv_armed && !connection->is_send_in_flight &&
           connection->requests_in_flight == 0 && connection->output_used == 0 &&
           connection->held == NULL && connection->input_count == 0 &&
           frame_reader_is_idle(&connection->reader);
}

static void net_connection_move(struct net_connection *connection)
{
    struct net *net = connection->net;
    struct xshard_entry entry = {0};
    entry.operation = NET_XSHARD_ADOPT;
    entry.arg0 = (uint64_t)connection->fd;
    entry.arg1 = connection->kind;
    if (connection->has_handoff_state) {
        entry.arg1 |= NET_ADOPT_WITH_STATE;
        memcpy(entry.payload, connection->handoff_state, NET_HANDOFF_STATE_SIZE);
    }
    if (xshard_push(net->xshard, net->shard_index, connection->handoff_shard, XSHARD_CLASS_CLIENT,
                    &entry) != 0) {
        net_mark_dirty(connection); /* queue full: try again next pass */
        return;
    }
    net->counters.handoffs++;
    net_connection_end(connection, false);
}

/* Puts connection on the waiting list: for a receive buffer (is_slot false) or for a
 * reassembly slot. net_flush_waiting resumes it once one is free. */
static void net_connection_wait(struct net_connection *connection, bool is_slot)
{
    struct net *net = connection->net;
    connection->is_starved |= !is_slot;
    connection->is_slot_wait |= is_slot;
    if (connection->is_waiting) {
        return;
    }
    assert(net->waiting_count < net->options.connections_max);
    connection->is_waiting = true;
    net->waiting[net->waiting_count++] = connection->slot;
}

/* A connection moving to another shard reads only the rest of its partial frame, with
 * one-shot receives straight into the reader, so no byte past the frame is taken here. */
static void net_connection_receive_exact(struct net_connection *connection)
{
    struct net *net = connection->net;
    uint8_t *gap = NULL;
    uint32_t gap_size = 0;
    if (frame_reader_gap(&connection->reader, &gap, &gap_size)) {
        runtime_uring_recv(net->uring, &connection->recv_completion, connection->slot, gap,
                           gap_size);
        connection->is_recv_armed = true;
        connection->is_recv_exact = true;
    } else if (!frame_reader_is_idle(&connection->reader) &&
               !frame_reader_is_ready(&connection->reader)) {
        net_connection_wait(connection, true); /* the body needs a reassembly slot */
    }
}

/* Arms the connection's receive if it should have one: multishot into the buffer ring, or
 * (moving) exact; waits instead when every receive buffer is out, so an exhausted ring is
 * not re-armed over and over. */
static void net_connection_receive(struct net_connection *connection)
{
    struct net *net = connection->net;
    if (connection->is_recv_armed || connection->is_paused || net->is_draining ||
        connection->input_count >= NET_INPUT_SEGMENTS_MAX / 2) {
        return;
    }
    if (connection->is_handoff) {
        if (connection->input_count == 0) {
            net_connection_receive_exact(connection);
        }
        return;
    }
    if (connection->is_starved || runtime_uring_recv_buffers_available(net->uring) == 0) {
        net_connection_wait(connection, false); /* its turn comes in net_flush_waiting */
        return;
    }
    runtime_uring_recv_multishot(net->uring, &connection->recv_completion, connection->slot);
    connection->is_recv_armed = true;
    net->counters.recv_rearmed++;
}

static void net_connection_flush(struct net_connection *connection)
{
    struct net *net = connection->net;
    if (connection->is_paused && !connection->is_slot_wait &&
        connection->requests_in_flight < net->options.requests_in_flight_max) {
        connection->is_paused = false;
    }
    net_connection_process(connection);
    if (connection->state != NET_CONNECTION_OPEN) {
        return;
    }
    if ((connection->output_used > 0 || connection->held != NULL) &&
        !connection->is_send_in_flight) {
        net_connection_send_start(connection);
    }
    net_connection_receive(connection);
    if (connection->is_handoff && net_connection_is_quiet(connection)) {
        net_connection_move(connection);
    } else if (net->is_draining && connection->output_used == 0 && connection->held == NULL &&
               !connection->is_send_in_flight) {
        net_connection_close(connection);
    }
}

/*
 * Resumes waiting connections whose buffer or slot is there now (marks them dirty), in
 * the order they started waiting: starved receives only as many as there are buffers, so
 * an exhausted ring is not answered by re-arming every waiting connection at once. Asks
 * the ring to post a buffer for each starved connection, resumed or still waiting.
 * Returns how many were resumed.
 */
static uint32_t net_flush_waiting(struct net *net)
{
    uint32_t buffers = runtime_uring_recv_buffers_available(net->uring);
    uint32_t slots = net->pool.free_count;
    uint32_t kept = 0, resumed = 0, starved = 0;
    for (uint32_t index = 0; index < net->waiting_count; index++) {
        struct net_connection *connection = &net->connections[net->waiting[index]];
        bool is_open = connection->state == NET_CONNECTION_OPEN;
        bool is_ready =
            (connection->is_starved && buffers > 0) || (connection->is_slot_wait && slots > 0);
        starved += is_open && connection->is_starved ? 1 : 0;
        if (is_open && !is_ready && (connection->is_starved || connection->is_slot_wait)) {
            net->waiting[kept++] = connection->slot;
            continue;
        }
        connection->is_waiting = false;
        if (is_open && is_ready) {
            buffers -= connection->is_starved ? 1 : 0;
            slots -= connection->is_slot_wait && slots > 0 ? 1 : 0;
            connection->is_starved = false;
            connection->is_slot_wait = false;
            net_mark_dirty(connection);
            resumed++;
        }
    }
    net->waiting_count = kept;
    runtime_uring_recv_demand(net->uring, starved);
    net->has_recv_demand = starved > 0; /* walk again next pass to withdraw it */
    return resumed;
}

static void net_flush_dirty(struct net *net)
{
    /* Connections marked during this walk are appended after it and go on the next walk
     * (bounded by the count). They must not overwrite entries not yet visited: a skipped
     * entry kept its is_dirty, so it was never marked again and its output stayed queued
     * for good (a replica bus link that went silent after one frame marked two others). */
    uint32_t count = net->dirty_count;
    assert(count <= net->options.connections_max);
    for (uint32_t index = 0; index < count; index++) {
        struct net_connection *connection = &net->connections[net->dirty[index]];
        connection->is_dirty = false;
        if (connection->state == NET_CONNECTION_OPEN) {
            net_connection_flush(connection);
        }
    }
    uint32_t marked = net->dirty_count - count;
    memmove(net->dirty, net->dirty + count, marked * sizeof(net->dirty[0]));
    net->dirty_count = marked;
    assert(net->dirty_count <= net->options.connections_max);
}

void net_flush(struct net *net, uint64_t now_ns)
{
    assert(net != NULL);
    assert(net->dirty_count <= net->options.connections_max);
    net->now_ns = now_ns > net->now_ns ? now_ns : net->now_ns; /* timers may read later */
    net_accept_retry(net);
    net_flush_dirty(net);
    if ((net->waiting_count > 0 || net->has_recv_demand) && net_flush_waiting(net) > 0) {
        net_flush_dirty(net);
    }
}

void net_sweep_idle(struct net *net, uint64_t now_ns)
{
    assert(net != NULL);
    net->now_ns = now_ns > net->now_ns ? now_ns : net->now_ns;
    if (net->options.idle_timeout_ns == 0) {
        return;
    }
    for (uint32_t index = 0; index < net->options.connections_max; index++) {
        struct net_connection *connection = &net->connections[index];
        if (connection->state == NET_CONNECTION_OPEN &&
            now_ns - connection->last_active_ns > net->options.idle_timeout_ns &&
            connection->requests_in_flight == 0) {
            net->counters.closed_idle++;
            net_connection_close(connection);
        }
    }
}

void net_drain_begin(struct net *net)
{
    assert(net != NULL);
    assert(!net->is_draining);
    net->is_draining = true;
    for (uint32_t kind = 0; kind < 2; kind++) {
        if (net->is_accept_armed[kind]) {
            runtime_uring_cancel(net->uring, &net->accept_completions[kind]);
        }
    }
    for (uint32_t index = 0; index < net->accept_pending_count; index++) {
        close(net->accept_pending[(net->accept_pending_head + index) % NET_ACCEPT_PENDING_MAX].fd);
    }
    net->accept_pending_count = 0;
    for (uint32_t index = 0; index < net->options.connections_max; index++) {
        struct net_connection *connection = &net->connections[index];
        if (connection->state == NET_CONNECTION_OPEN) {
            if (connection->is_recv_armed) {
                runtime_uring_cancel(net->uring, &connection->recv_completion);
            }
            net_mark_dirty(connection);
        }
    }
}

void net_close_all(struct net *net)
{
    assert(net != NULL);
    assert(net->is_draining);
    for (uint32_t index = 0; index < net->options.connections_max; index++) {
        if (net->connections[index].state == NET_CONNECTION_OPEN) {
            net_connection_close(&net->connections[index]);
        }
    }
}

uint32_t net_connections_open(const struct net *net)
{
    assert(net != NULL);
    assert(net->free_count <= net->options.connections_max);
    return net->options.connections_max - net->free_count;
}

bool net_is_drained(const struct net *net)
{
    assert(net != NULL);
    return net_connections_open(net) == 0 && net->accept_pending_count == 0 &&
           !net->is_accept_armed[0] && !net->is_accept_armed[1];
}
