/*
 * The replica bus's data path (see replica_bus.h): the handler wrapper, routing a sealed
 * VSR message to the link of the owning shard on its target, the lanes over a link's
 * output buffer, and the checks on every received VSR frame before it reaches the
 * callback. Owns the per-shard link tables and counters (allocated at init). Everything
 * but init, deinit and the counter reads runs on the shard it names.
 */
#include "node/replica_bus.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/replica_bus_internal.h"
#include "node/shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Helpers shared with replica_bus_link.c. */

uint64_t replica_bus_group_key(const struct vsr_group *group)
{
    assert(group != NULL);
    assert(group->kind == VSR_GROUP_KIND_METADATA || group->kind == VSR_GROUP_KIND_PARTITION);
    if (group->kind == VSR_GROUP_KIND_METADATA) {
        return 0;
    }
    uint64_t key = ((uint64_t)group->stream_id << 40) ^ ((uint64_t)group->topic_id << 20) ^
                   group->partition_id;
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return key;
}

uint32_t replica_bus_owner(const struct replica_bus *bus, const struct vsr_group *group,
                           uint32_t shard_count)
{
    assert(bus != NULL && group != NULL);
    assert(shard_count > 0);
    if (group->kind == VSR_GROUP_KIND_SHARD) {
        return group->stream_id % shard_count; /* a shard heartbeat names its target shard */
    }
    uint32_t owner = (uint32_t)(bus->options.group_key(group) % shard_count);
    assert(owner < shard_count);
    return owner;
}

struct replica_bus_link *replica_bus_link_at(struct replica_bus_shard *shard, uint8_t peer,
                                             uint32_t peer_shard)
{
    const struct replica_bus_options *options = &shard->bus->options;
    assert(peer < options->replica_count && peer != options->replica_index);
    assert(peer_shard < options->peer_shard_count_max);
    return &shard->links[(size_t)peer * options->peer_shard_count_max + peer_shard];
}

struct net *replica_bus_net(struct replica_bus_shard *shard)
{
    assert(shard != NULL);
    assert(shard->index < shard->bus->set->shard_count);
    return &shard->bus->set->shards[shard->index].net;
}

uint64_t replica_bus_now_ns(struct replica_bus_shard *shard)
{
    assert(shard != NULL);
    assert(shard->index < shard->bus->set->shard_count);
    return clock_monotonic_ns(&shard->bus->set->shards[shard->index].clock);
}

void replica_bus_count(struct replica_bus_shard *shard, enum replica_bus_counter counter,
                       int64_t delta)
{
    assert(shard != NULL);
    assert(counter < REPLICA_BUS_COUNTER_COUNT);
    /* One writer per shard: a relaxed load and store, readable from any thread. */
    uint_fast64_t value = atomic_load_explicit(&shard->counters[counter], memory_order_relaxed);
    atomic_store_explicit(&shard->counters[counter], value + (uint_fast64_t)delta,
                          memory_order_relaxed);
}

int replica_bus_output(struct net_connection *connection, const void *header, const void *body,
                       uint32_t size_bytes, uint32_t limit_bytes)
{
    assert(connection != NULL && header != NULL);
    assert(size_bytes >= VSR_HEADER_SIZE && (body != NULL || size_bytes == VSR_HEADER_SIZE));
    if (connection->output_used > limit_bytes ||
        size_bytes > limit_bytes - connection->output_used) {
        return -RUNNEL_EFULL;
    }
    int result = net_connection_send(connection, header, VSR_HEADER_SIZE);
    assert(result == 0); /* space was checked: both parts fit */
    if (size_bytes > VSR_HEADER_SIZE) {
        result = net_connection_send(connection, body, size_bytes - VSR_HEADER_SIZE);
        assert(result == 0);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Sending. */

enum replica_bus_lane replica_bus_lane_of(uint8_t command)
{
    switch (command) {
    case VSR_COMMAND_PING:
    case VSR_COMMAND_PONG:
    case VSR_COMMAND_COMMIT:
    case VSR_COMMAND_START_VIEW_CHANGE:
    case VSR_COMMAND_DO_VIEW_CHANGE:
    case VSR_COMMAND_START_VIEW:
    case VSR_COMMAND_REQUEST_START_VIEW:
    case VSR_COMMAND_HEARTBEAT:
    case VSR_COMMAND_HEARTBEAT_ACK:
        return REPLICA_BUS_LANE_CONTROL;
    case VSR_COMMAND_REQUEST:
    case VSR_COMMAND_REPLY:
    case VSR_COMMAND_EVICTION:
        return REPLICA_BUS_LANE_CLIENT;
    default:
        return REPLICA_BUS_LANE_CONSENSUS;
    }
}

/* Bytes of an output ring of size bytes a lane may fill (see replica_bus.h). */
static uint32_t replica_bus_lane_limit(uint32_t size, enum replica_bus_lane lane)
{
    assert(size > 0);
    assert(lane < REPLICA_BUS_LANE_COUNT);
    if (lane == REPLICA_BUS_LANE_CONTROL) {
        return size;
    }
    return lane == REPLICA_BUS_LANE_CONSENSUS ? size - size / 8 : size / 2;
}

/* The authenticated link from shard to the owner of group on target, or NULL. */
static struct replica_bus_link *replica_bus_route(struct replica_bus_shard *shard, uint8_t target,
                                                  const struct vsr_group *group)
{
    uint32_t peer_shard_count = shard->peer_shard_count[target];
    if (peer_shard_count == 0) {
        return NULL;
    }
    uint32_t peer_shard = replica_bus_owner(shard->bus, group, peer_shard_count);
    if (peer_shard >= shard->bus->options.peer_shard_count_max) {
        return NULL;
    }
    struct replica_bus_link *link = replica_bus_link_at(shard, target, peer_shard);
    return link->state == REPLICA_BUS_LINK_UP ? link : NULL;
}

/* Queues header and body on link (NULL: no authenticated link) in header's lane. */
static int replica_bus_send_on(struct replica_bus_shard *shard, struct replica_bus_link *link,
                               const struct vsr_header *header, const void *body)
{
    struct replica_bus *bus = shard->bus;
    enum replica_bus_lane lane = replica_bus_lane_of(header->command);
    if (link == NULL) {
        replica_bus_count(shard, REPLICA_BUS_DROPPED_DOWN, 1);
        return -ENOTCONN;
    }
    /* Too large for the link's ring for good, or (briefly, while the link's ring grows,
     * net_connection_output_grow) for the one it sends from now: full. */
    if (header->size >
        replica_bus_lane_limit(net_connection_output_capacity(link->connection), lane)) {
        replica_bus_count(shard, REPLICA_BUS_TOO_LARGE, 1);
        return -RUNNEL_ETOOLARGE;
    }
    uint32_t limit = replica_bus_lane_limit(net_connection_output_size(link->connection), lane);
    bool is_forward = header->command == VSR_COMMAND_REQUEST;
    if (is_forward && link->credit_used >= bus->options.forward_credit_max) {
        replica_bus_count(shard, REPLICA_BUS_REFUSED_CREDIT, 1);
        return -RUNNEL_EFULL;
    }
    if (replica_bus_output(link->connection, header, body, header->size, limit) != 0) {
        replica_bus_count(shard, (enum replica_bus_counter)(REPLICA_BUS_FULL_CONTROL + lane), 1);
        return -RUNNEL_EFULL;
    }
    link->credit_used += is_forward ? 1 : 0;
    replica_bus_count(shard, (enum replica_bus_counter)(REPLICA_BUS_SENT_CONTROL + lane), 1);
    return 0;
}

int replica_bus_send(struct replica_bus *bus, uint32_t shard_index, uint8_t target,
                     const struct vsr_header *header, const void *body)
{
    assert(bus != NULL && header != NULL);
    assert(shard_index < bus->options.shard_count);
    assert(target < bus->options.replica_count && target != bus->options.replica_index);
    assert(vsr_header_is_checksum_valid(header) && header->size >= VSR_HEADER_SIZE);
    assert(replica_bus_owner(bus, &header->group, bus->options.shard_count) == shard_index);
    struct replica_bus_shard *shard = &bus->shards[shard_index];
    return replica_bus_send_on(shard, replica_bus_route(shard, target, &header->group), header,
                               body);
}

/* The authenticated link from shard_index to shard peer_shard of peer, or NULL. */
static struct replica_bus_link *replica_bus_link_up(struct replica_bus *bus, uint32_t shard_index,
                                                    uint8_t peer, uint32_t peer_shard)
{
    assert(bus != NULL && shard_index < bus->options.shard_count);
    assert(peer < bus->options.replica_count && peer != bus->options.replica_index);
    struct replica_bus_shard *shard = &bus->shards[shard_index];
    if (peer_shard >= bus->options.peer_shard_count_max ||
        peer_shard >= shard->peer_shard_count[peer]) {
        return NULL;
    }
    struct replica_bus_link *link = replica_bus_link_at(shard, peer, peer_shard);
    return link->state == REPLICA_BUS_LINK_UP ? link : NULL;
}

int replica_bus_send_shard(struct replica_bus *bus, uint32_t shard_index, uint8_t peer,
                           uint32_t peer_shard, const struct vsr_header *header, const void *body)
{
    assert(header != NULL && header->group.kind == VSR_GROUP_KIND_SHARD);
    assert(vsr_header_is_checksum_valid(header) && header->group.stream_id == peer_shard);
    return replica_bus_send_on(&bus->shards[shard_index],
                               replica_bus_link_up(bus, shard_index, peer, peer_shard), header,
                               body);
}

bool replica_bus_is_link_up(struct replica_bus *bus, uint32_t shard_index, uint8_t peer,
                            uint32_t peer_shard)
{
    return replica_bus_link_up(bus, shard_index, peer, peer_shard) != NULL;
}

bool replica_bus_is_routed(struct replica_bus *bus, uint32_t shard_index, uint8_t peer,
                           uint32_t peer_shard, const struct vsr_group *group)
{
    assert(bus != NULL && shard_index < bus->options.shard_count && group != NULL);
    assert(peer < bus->options.replica_count);
    uint32_t peer_shard_count = bus->shards[shard_index].peer_shard_count[peer];
    return peer_shard_count != 0 && replica_bus_owner(bus, group, peer_shard_count) == peer_shard;
}

void replica_bus_vsr_send(uint8_t target, const struct vsr_header *header, const void *body,
                          void *context)
{
    struct replica_bus_shard *shard = context;
    assert(shard != NULL && shard->bus != NULL);
    assert(&shard->bus->shards[shard->index] == shard);
    (void)replica_bus_send(shard->bus, shard->index, target, header, body);
}

void *replica_bus_vsr_context(struct replica_bus *bus, uint32_t shard_index)
{
    assert(bus != NULL && bus->shards != NULL);
    assert(shard_index < bus->options.shard_count);
    return &bus->shards[shard_index];
}

/* One forwarded request was answered: its credit (counted as the oldest) returns. */
static void replica_bus_credit_return(struct replica_bus_link *link)
{
    assert(link->credit_older <= link->credit_used);
    if (link->credit_used > 0) {
        link->credit_used--;
        link->credit_older -= link->credit_older > 0 ? 1 : 0;
    }
    assert(link->credit_older <= link->credit_used);
}

void replica_bus_credit_age(struct replica_bus_shard *shard, struct replica_bus_link *link,
                            uint64_t now_ns)
{
    uint64_t age_ns = shard->bus->options.forward_credit_age_ns;
    assert(age_ns > 0);
    assert(link->credit_older <= link->credit_used);
    if (now_ns - link->credit_epoch_ns < age_ns) {
        return;
    }
    uint32_t expired = link->credit_older;
    link->credit_used -= expired;
    link->credit_older = link->credit_used; /* this epoch's: expire at the next one */
    link->credit_epoch_ns = now_ns;
    if (expired > 0) {
        replica_bus_count(shard, REPLICA_BUS_CREDIT_EXPIRED, expired);
        log_info("replica_bus_credit_expired", "shard=%u peer=%u peer_shard=%u expired=%u",
                 shard->index, link->peer, link->peer_shard, expired);
    }
}

bool replica_bus_is_peer_up(struct replica_bus *bus, uint32_t shard_index, uint8_t peer)
{
    assert(bus != NULL && shard_index < bus->options.shard_count);
    assert(peer < bus->options.replica_count && peer != bus->options.replica_index);
    struct replica_bus_shard *shard = &bus->shards[shard_index];
    for (uint32_t peer_shard = 0; peer_shard < bus->options.peer_shard_count_max; peer_shard++) {
        if (replica_bus_link_at(shard, peer, peer_shard)->state == REPLICA_BUS_LINK_UP) {
            return true;
        }
    }
    return false;
}

void replica_bus_forward_done(struct replica_bus *bus, uint32_t shard_index, uint8_t target,
                              const struct vsr_group *group)
{
    assert(bus != NULL && group != NULL);
    assert(shard_index < bus->options.shard_count && target < bus->options.replica_count);
    struct replica_bus_link *link = replica_bus_route(&bus->shards[shard_index], target, group);
    if (link != NULL) {
        replica_bus_credit_return(link);
    }
}

/* ---------------------------------------------------------------------------------------
 * Receiving. */

/* Checks one VSR frame from link's authenticated peer and delivers it. Bad frames are
 * counted and dropped (the link stays: a peer's bug must not cut the cluster). */
static void replica_bus_receive(struct replica_bus_shard *shard, struct replica_bus_link *link,
                                const uint8_t *frame, uint32_t size_bytes)
{
    struct replica_bus *bus = shard->bus;
    assert(size_bytes >= VSR_HEADER_SIZE);
    assert(link->state == REPLICA_BUS_LINK_UP);
    struct vsr_header header;
    memcpy(&header, frame, sizeof(header)); /* in place the frame may be unaligned */
    const char *reason = NULL;
    const uint8_t *body = frame + VSR_HEADER_SIZE;
    if (vsr_header_validate(&header, bus->options.frame_size_max, &reason) != 0) {
        /* reason set by the validator */
    } else if (header.size != size_bytes) {
        reason = "size differs from the frame";
    } else if (header.cluster != bus->options.cluster) {
        reason = "another cluster";
    } else if (header.replica != link->peer && header.command != VSR_COMMAND_PREPARE) {
        /* A prepare keeps its first primary as author (it is hash-chained): a later
         * primary retransmits it and any replica repairs with it. */
        reason = "author is not the authenticated peer";
    } else if (!vsr_header_is_body_valid(&header, body)) {
        reason = "body checksum";
    }
    if (reason != NULL) {
        replica_bus_count(shard, REPLICA_BUS_RECEIVED_INVALID, 1);
        log_debug("replica_bus_frame_invalid", "shard=%u peer=%u reason=\"%s\"", shard->index,
                  link->peer, reason);
        return;
    }
    if (replica_bus_owner(bus, &header.group, bus->options.shard_count) != shard->index) {
        replica_bus_count(shard, REPLICA_BUS_RECEIVED_MISROUTED, 1);
        return;
    }
    if (header.command == VSR_COMMAND_REPLY || header.command == VSR_COMMAND_EVICTION) {
        replica_bus_credit_return(link);
    }
    if (!replica_bus_inbox_push(&shard->inbox, &header, body)) {
        replica_bus_count(shard, REPLICA_BUS_INBOX_FULL, 1); /* VSR retransmits and repairs */
        return;
    }
    replica_bus_count(shard, REPLICA_BUS_RECEIVED, 1);
}

/* Hands the messages queued before this pass to the callback; those that arrive while one
 * is handled (a journal wait runs the ring) wait for the next pass. */
static void replica_bus_deliver(struct replica_bus *bus, struct replica_bus_shard *shard)
{
    uint32_t queued = shard->inbox.count;
    for (uint32_t round = 0; round < queued; round++) {
        const void *body = NULL;
        const struct vsr_header *header = replica_bus_inbox_peek(&shard->inbox, &body);
        assert(header != NULL);
        bus->receive(shard->index, header, header->size > VSR_HEADER_SIZE ? body : NULL,
                     bus->receive_context);
        replica_bus_inbox_pop(&shard->inbox);
    }
}

/* ---------------------------------------------------------------------------------------
 * The handler wrapper. */

static struct replica_bus *replica_bus_of(struct node_handler *handler)
{
    assert(handler != NULL);
    struct replica_bus *bus = (struct replica_bus *)handler; /* handler is the first member */
    assert(&bus->handler == handler && bus->inner != NULL);
    return bus;
}

static int replica_bus_on_frame(struct node_handler *handler, struct net_connection *connection,
                                const uint8_t *frame, uint32_t size_bytes)
{
    struct replica_bus *bus = replica_bus_of(handler);
    assert(connection != NULL && frame != NULL && size_bytes >= VSR_HEADER_SIZE);
    if (connection->kind != NET_PEER_REPLICA) {
        return bus->inner->on_frame(bus->inner, connection, frame, size_bytes);
    }
    struct replica_bus_shard *shard = &bus->shards[net_connection_shard(connection)];
    struct replica_bus_link *link = NULL;
    if (frame[offsetof(struct vsr_header, command)] < REPLICA_BUS_COMMAND_MIN &&
        replica_bus_link_of(shard, connection, &link)) {
        link->received_ns = replica_bus_now_ns(shard);
        replica_bus_receive(shard, link, frame, size_bytes);
        return 0;
    }
    return replica_bus_link_on_frame(shard, connection, frame, size_bytes);
}

static void replica_bus_on_close(struct node_handler *handler, struct net_connection *connection)
{
    struct replica_bus *bus = replica_bus_of(handler);
    assert(connection != NULL);
    if (connection->kind == NET_PEER_REPLICA) {
        replica_bus_link_on_close(&bus->shards[net_connection_shard(connection)], connection);
    } else if (bus->inner->on_close != NULL) {
        bus->inner->on_close(bus->inner, connection);
    }
}

static void replica_bus_on_tick(struct node_handler *handler, uint32_t shard_index)
{
    struct replica_bus *bus = replica_bus_of(handler);
    assert(shard_index < bus->options.shard_count);
    if (bus->options.replica_count > 1) {
        replica_bus_link_tick(&bus->shards[shard_index]);
    }
    if (bus->inner->on_tick != NULL) {
        bus->inner->on_tick(bus->inner, shard_index);
    }
}

static void replica_bus_on_pass(struct node_handler *handler, uint32_t shard_index)
{
    struct replica_bus *bus = replica_bus_of(handler);
    assert(shard_index < bus->options.shard_count);
    replica_bus_deliver(bus, &bus->shards[shard_index]);
    if (bus->inner->on_pass != NULL) {
        bus->inner->on_pass(bus->inner, shard_index);
    }
}

/* ---------------------------------------------------------------------------------------
 * Set-up. */

static void replica_bus_shard_init(struct replica_bus *bus, uint32_t index)
{
    struct replica_bus_shard *shard = &bus->shards[index];
    const struct replica_bus_options *options = &bus->options;
    shard->bus = bus;
    shard->index = index;
    prng_init(&shard->prng, options->seed ^ ((uint64_t)index << 32) ^ options->replica_index);
    size_t link_count = (size_t)options->replica_count * options->peer_shard_count_max;
    for (size_t position = 0; position < link_count; position++) {
        struct replica_bus_link *link = &shard->links[position];
        link->peer = (uint8_t)(position / options->peer_shard_count_max);
        link->peer_shard = (uint32_t)(position % options->peer_shard_count_max);
        link->is_dialer = link->peer > options->replica_index;
        link->backoff_ns = options->backoff_min_ns;
    }
    for (uint32_t counter = 0; counter < REPLICA_BUS_COUNTER_COUNT; counter++) {
        atomic_init(&shard->counters[counter], 0);
    }
}

int replica_bus_init(struct replica_bus *bus, const struct replica_bus_options *options,
                     struct shard_set *set, struct node_handler *inner,
                     replica_bus_receive_callback receive, void *context)
{
    assert(bus != NULL && options != NULL && set != NULL && inner != NULL && receive != NULL);
    assert(options->replica_count >= 1 && options->replica_count <= VSR_REPLICAS_MAX);
    assert(options->replica_index < options->replica_count && options->shard_count > 0);
    assert(options->peer_shard_count_max > 0 && options->frame_size_max >= VSR_HEADER_SIZE);
    assert(options->backoff_min_ns > 0 && options->backoff_min_ns <= options->backoff_max_ns);
    assert(options->forward_credit_age_ns > 0);
    memset(bus, 0, sizeof(*bus));
    bus->options = *options;
    if (bus->options.group_key == NULL) {
        bus->options.group_key = replica_bus_group_key;
    }
    bus->set = set;
    bus->inner = inner;
    bus->receive = receive;
    bus->receive_context = context;
    bus->handler = *inner; /* callbacks the bus does not need pass through, context too */
    bus->handler.on_frame = replica_bus_on_frame;
    bus->handler.on_close = replica_bus_on_close;
    bus->handler.on_tick = replica_bus_on_tick;
    bus->handler.on_pass = replica_bus_on_pass;
    size_t link_count = (size_t)options->replica_count * options->peer_shard_count_max;
    bus->shards = aligned_alloc(64, sizeof(bus->shards[0]) * options->shard_count);
    if (bus->shards == NULL) {
        return -ENOMEM;
    }
    memset(bus->shards, 0, sizeof(bus->shards[0]) * options->shard_count);
    for (uint32_t index = 0; index < options->shard_count; index++) {
        bus->shards[index].links = calloc(link_count, sizeof(struct replica_bus_link));
        if (bus->shards[index].links == NULL ||
            replica_bus_inbox_init(&bus->shards[index].inbox, options->frame_size_max) != 0) {
            replica_bus_deinit(bus);
            return -ENOMEM;
        }
        replica_bus_shard_init(bus, index);
    }
    return 0;
}

void replica_bus_deinit(struct replica_bus *bus)
{
    assert(bus != NULL);
    assert(bus->options.shard_count > 0);
    if (bus->shards != NULL) {
        for (uint32_t index = 0; index < bus->options.shard_count; index++) {
            free(bus->shards[index].links);
            replica_bus_inbox_deinit(&bus->shards[index].inbox);
        }
        free(bus->shards);
    }
    memset(bus->options.key, 0, sizeof(bus->options.key));
    bus->shards = NULL;
}

uint64_t replica_bus_shard_counter(const struct replica_bus *bus, uint32_t shard_index,
                                   enum replica_bus_counter counter)
{
    assert(bus != NULL && shard_index < bus->options.shard_count);
    assert(counter < REPLICA_BUS_COUNTER_COUNT);
    return (uint64_t)atomic_load_explicit(&bus->shards[shard_index].counters[counter],
                                          memory_order_relaxed);
}

uint64_t replica_bus_counter(const struct replica_bus *bus, enum replica_bus_counter counter)
{
    assert(bus != NULL && bus->shards != NULL);
    assert(counter < REPLICA_BUS_COUNTER_COUNT);
    uint64_t total = 0;
    for (uint32_t index = 0; index < bus->options.shard_count; index++) {
        total += replica_bus_shard_counter(bus, index, counter);
    }
    return total;
}
