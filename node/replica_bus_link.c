/*
 * The replica bus's links (see replica_bus.h): dialing the peers with a higher replica
 * index (non-blocking connect, the socket homed in the shard's net), the cluster-key
 * handshake on both sides (hello, moved, challenge, proof), keep-alive pings, handshake
 * and peer timeouts, and redial backoff with jitter. Owns the per-shard link and pending
 * tables' state transitions. Runs on the shard that owns the link; the socket calls here
 * (socket, connect) never block.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/replica_bus_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const uint8_t replica_bus_magic[16] = "runnel-replica1";

_Static_assert(crypto_auth_BYTES == REPLICA_BUS_MAC_SIZE, "crypto_auth MAC size");
_Static_assert(crypto_auth_KEYBYTES == CLUSTER_KEY_SIZE_BYTES, "crypto_auth key size");

/* ---------------------------------------------------------------------------------------
 * Frames. */

static void replica_bus_frame_init(struct replica_bus_shard *shard, struct replica_bus_frame *frame,
                                   uint8_t command)
{
    const struct replica_bus_options *options = &shard->bus->options;
    assert(command >= REPLICA_BUS_COMMAND_MIN);
    memset(frame, 0, sizeof(*frame));
    memcpy(frame->magic, replica_bus_magic, sizeof(frame->magic));
    frame->size = REPLICA_BUS_FRAME_SIZE;
    frame->version = REPLICA_BUS_VERSION;
    frame->cluster = options->cluster;
    frame->shard_count = options->shard_count;
    frame->shard = shard->index;
    frame->command = command;
    frame->replica = options->replica_index;
    frame->replica_count = options->replica_count;
    frame->shared = options->shared;
    assert(frame->shard < frame->shard_count);
}

static void replica_bus_frame_sign(const struct replica_bus *bus, struct replica_bus_frame *frame)
{
    const uint8_t *bytes = (const uint8_t *)frame;
    assert(frame->size == REPLICA_BUS_FRAME_SIZE);
    crypto_auth(frame->mac, bytes + REPLICA_BUS_MAC_OFFSET,
                REPLICA_BUS_FRAME_SIZE - REPLICA_BUS_MAC_OFFSET, bus->options.key);
}

static bool replica_bus_frame_is_signed(const struct replica_bus *bus,
                                        const struct replica_bus_frame *frame)
{
    const uint8_t *bytes = (const uint8_t *)frame;
    assert(bus != NULL && frame != NULL);
    return crypto_auth_verify(frame->mac, bytes + REPLICA_BUS_MAC_OFFSET,
                              REPLICA_BUS_FRAME_SIZE - REPLICA_BUS_MAC_OFFSET,
                              bus->options.key) == 0;
}

/* Each shared setting's place in struct replica_bus_shared and the refusal naming its key. */
static const struct {
    size_t offset;
    const char *reason;
} replica_bus_shared_keys[] = {
    {offsetof(struct replica_bus_shared, pipeline_depth_max),
     "limits.pipeline_depth_max differs from this node's (the same on every node)"},
    {offsetof(struct replica_bus_shared, partition_ops_max),
     "limits.partition_ops_max differs from this node's (the same on every node)"},
    {offsetof(struct replica_bus_shared, metadata_ops_max),
     "limits.metadata_ops_max differs from this node's (the same on every node)"},
    {offsetof(struct replica_bus_shared, metadata_replies_bytes),
     "limits.metadata_replies_bytes differs from this node's (the same on every node)"},
    {offsetof(struct replica_bus_shared, batch_size_bytes_max),
     "limits.batch_size_bytes_max differs from this node's (the same on every node)"},
    {offsetof(struct replica_bus_shared, durability),
     "storage.durability differs from this node's (the same on every node)"},
};

_Static_assert(sizeof(replica_bus_shared_keys) / sizeof(replica_bus_shared_keys[0]) ==
                   sizeof(struct replica_bus_shared) / sizeof(uint64_t),
               "every shared setting has its key");

/* NULL when a peer's shared settings are this node's, else the reason naming the first key
 * that differs. */
static const char *replica_bus_shared_differs(const struct replica_bus_shared *ours,
                                              const struct replica_bus_shared *theirs)
{
    for (size_t index = 0;
         index < sizeof(replica_bus_shared_keys) / sizeof(replica_bus_shared_keys[0]); index++) {
        uint64_t mine = 0;
        uint64_t peer = 0;
        memcpy(&mine, (const uint8_t *)ours + replica_bus_shared_keys[index].offset, sizeof(mine));
        memcpy(&peer, (const uint8_t *)theirs + replica_bus_shared_keys[index].offset,
               sizeof(peer));
        if (mine != peer) {
            return replica_bus_shared_keys[index].reason;
        }
    }
    return NULL;
}

/* Copies an untrusted bus frame out and checks what every bus frame must hold. Returns
 * NULL or the reason it is refused. */
static const char *replica_bus_frame_read(const struct replica_bus *bus, const uint8_t *bytes,
                                          uint32_t size_bytes, struct replica_bus_frame *frame)
{
    assert(bus != NULL && bytes != NULL && frame != NULL);
    if (size_bytes != REPLICA_BUS_FRAME_SIZE) {
        return "not a replica bus frame (size)";
    }
    memcpy(frame, bytes, sizeof(*frame));
    if (memcmp(frame->magic, replica_bus_magic, sizeof(frame->magic)) != 0) {
        return "not a replica bus frame (magic)";
    }
    if (frame->version != REPLICA_BUS_VERSION) {
        return "another replica bus version";
    }
    if (frame->cluster != bus->options.cluster) {
        return "another cluster id";
    }
    if (frame->replica_count != bus->options.replica_count ||
        frame->replica >= bus->options.replica_count ||
        frame->replica == bus->options.replica_index) {
        return "replica index or count does not fit this cluster";
    }
    if (frame->shard_count == 0 || frame->shard_count > bus->options.peer_shard_count_max ||
        frame->shard >= frame->shard_count) {
        return "shard count out of range";
    }
    return replica_bus_shared_differs(&bus->options.shared, &frame->shared);
}

static int replica_bus_refuse(struct replica_bus_shard *shard, struct net_connection *connection,
                              int replica, const char *reason)
{
    assert(reason != NULL);
    assert(connection != NULL);
    replica_bus_count(shard, REPLICA_BUS_REFUSED, 1);
    log_warn("replica_bus_refused", "shard=%u peer=%d reason=\"%s\"", shard->index, replica,
             reason);
    return -RUNNEL_EFORMAT; /* the connection closes */
}

/* ---------------------------------------------------------------------------------------
 * Link state. */

static bool replica_bus_is_link(struct replica_bus_shard *shard, const void *user)
{
    const struct replica_bus_options *options = &shard->bus->options;
    const struct replica_bus_link *begin = shard->links;
    const struct replica_bus_link *end =
        begin + (size_t)options->replica_count * options->peer_shard_count_max;
    return user != NULL && (const struct replica_bus_link *)user >= begin &&
           (const struct replica_bus_link *)user < end;
}

static struct replica_bus_pending *replica_bus_pending_of(struct replica_bus_shard *shard,
                                                          const void *user)
{
    if (user == NULL) {
        return NULL;
    }
    for (uint32_t index = 0; index < REPLICA_BUS_PENDING_MAX; index++) {
        if (user == &shard->pending[index]) {
            return &shard->pending[index];
        }
    }
    return NULL;
}

static struct replica_bus_pending *replica_bus_pending_free(struct replica_bus_shard *shard)
{
    for (uint32_t index = 0; index < REPLICA_BUS_PENDING_MAX; index++) {
        if (shard->pending[index].connection == NULL) {
            return &shard->pending[index];
        }
    }
    return NULL;
}

bool replica_bus_link_of(struct replica_bus_shard *shard, struct net_connection *connection,
                         struct replica_bus_link **link_out)
{
    assert(shard != NULL && connection != NULL && link_out != NULL);
    if (!replica_bus_is_link(shard, connection->user)) {
        return false;
    }
    struct replica_bus_link *link = connection->user;
    *link_out = link;
    return link->connection == connection && link->state == REPLICA_BUS_LINK_UP;
}

/* An authenticated link sends from one of the shard's large output rings (net's
 * large_send_buffer_size_bytes; runneld sizes them for the largest prepare and forwarded
 * request, node/node_config.h). When none is free the link keeps a client-sized ring
 * (logged): frames larger than its lanes' shares are refused as too large. */
static void replica_bus_link_ring(struct replica_bus_shard *shard, struct replica_bus_link *link,
                                  struct net_connection *connection)
{
    const struct net_options *options = &connection->net->options;
    if (options->large_send_buffers_max == 0 ||
        options->large_send_buffer_size_bytes <= options->send_buffer_size_bytes) {
        return; /* no larger ring to take (a test's net) */
    }
    if (net_connection_output_grow(connection) != 0) {
        log_warn("replica_bus_link_ring_small",
                 "shard=%u peer=%u peer_shard=%u rings=%u reason=\"every large output ring "
                 "of the shard is taken: large frames on this link are refused\"",
                 shard->index, link->peer, link->peer_shard, options->large_send_buffers_max);
    }
}

/* The link is authenticated on connection. */
static void replica_bus_link_up(struct replica_bus_shard *shard, struct replica_bus_link *link,
                                struct net_connection *connection)
{
    assert(link->state != REPLICA_BUS_LINK_UP);
    assert(link->connection == NULL || link->connection == connection);
    uint64_t now_ns = replica_bus_now_ns(shard);
    link->connection = connection;
    connection->user = link;
    link->state = REPLICA_BUS_LINK_UP;
    link->credit_used = 0;
    link->credit_older = 0;
    link->credit_epoch_ns = now_ns;
    link->received_ns = now_ns;
    link->ping_sent_ns = now_ns;
    link->backoff_ns = shard->bus->options.backoff_min_ns;
    replica_bus_link_ring(shard, link, connection);
    replica_bus_count(shard, REPLICA_BUS_HANDSHAKES, 1);
    replica_bus_count(shard, REPLICA_BUS_LINKS_UP, 1);
    log_info("replica_bus_connected", "shard=%u peer=%u peer_shard=%u role=%s", shard->index,
             link->peer, link->peer_shard, link->is_dialer ? "dialer" : "acceptor");
}

/* The link lost its connection (closing or closed): down, and for a dialer the next dial
 * is scheduled after the backoff (doubled, with up to half of it again as jitter). */
static void replica_bus_link_down(struct replica_bus_shard *shard, struct replica_bus_link *link)
{
    const struct replica_bus_options *options = &shard->bus->options;
    assert(link->connection != NULL);
    if (link->state == REPLICA_BUS_LINK_UP) {
        replica_bus_count(shard, REPLICA_BUS_DISCONNECTS, 1);
        replica_bus_count(shard, REPLICA_BUS_LINKS_UP, -1);
        log_warn("replica_bus_disconnected", "shard=%u peer=%u peer_shard=%u", shard->index,
                 link->peer, link->peer_shard);
    }
    link->connection = NULL;
    link->state = REPLICA_BUS_LINK_DOWN;
    link->credit_used = 0;
    link->credit_older = 0;
    uint64_t jitter_ns = prng_range(&shard->prng, link->backoff_ns / 2 + 1);
    link->deadline_ns = replica_bus_now_ns(shard) + link->backoff_ns + jitter_ns;
    link->backoff_ns = link->backoff_ns * 2 < options->backoff_max_ns ? link->backoff_ns * 2
                                                                      : options->backoff_max_ns;
    assert(link->backoff_ns >= options->backoff_min_ns);
}

void replica_bus_link_on_close(struct replica_bus_shard *shard, struct net_connection *connection)
{
    assert(shard != NULL && connection != NULL);
    assert(connection->kind == NET_PEER_REPLICA);
    struct replica_bus_pending *pending = replica_bus_pending_of(shard, connection->user);
    if (pending != NULL) {
        assert(pending->connection == connection);
        pending->connection = NULL;
        log_warn("replica_bus_handshake_abandoned",
                 "shard=%u peer=%u reason=\"closed before its proof (the dialer refused our "
                 "challenge: another cluster key?)\"",
                 shard->index, pending->peer);
    } else if (replica_bus_is_link(shard, connection->user)) {
        struct replica_bus_link *link = connection->user;
        if (link->connection == connection) {
            replica_bus_link_down(shard, link);
        }
    }
    connection->user = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Dialer side. */

static int replica_bus_send_hello(struct replica_bus_shard *shard, struct replica_bus_link *link)
{
    struct replica_bus_frame frame;
    assert(link->is_dialer && link->connection != NULL);
    replica_bus_frame_init(shard, &frame, REPLICA_BUS_COMMAND_HELLO);
    randombytes_buf(link->nonce, sizeof(link->nonce));
    memcpy(frame.nonce, link->nonce, sizeof(frame.nonce));
    frame.target_shard = link->peer_shard;
    return replica_bus_output(link->connection, &frame, NULL, sizeof(frame),
                              net_connection_output_size(link->connection));
}

/* Non-blocking connect to the peer; the socket is homed in net and hello queued. */
static void replica_bus_dial(struct replica_bus_shard *shard, struct replica_bus_link *link,
                             uint64_t now_ns)
{
    const struct cluster_peer *peer = &shard->bus->options.peers[link->peer];
    struct net *net = replica_bus_net(shard);
    assert(link->state == REPLICA_BUS_LINK_DOWN && link->connection == NULL);
    link->deadline_ns = now_ns + link->backoff_ns; /* if anything below fails */
    if (net->free_count == 0 || net->is_draining) {
        return;
    }
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)peer->port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_pton(AF_INET, peer->address, &address.sin_addr) != 1 ||
        (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0 && errno != EINPROGRESS)) {
        log_debug("replica_bus_dial_failed", "shard=%u peer=%u error=\"%s\"", shard->index,
                  link->peer, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    /* net_adopt takes the top free slot: that is the connection it homes fd in. */
    uint32_t slot = net->free_slots[net->free_count - 1];
    if (net_adopt(net, fd, NET_PEER_REPLICA) != 0) {
        return; /* fd closed by net_adopt */
    }
    struct net_connection *connection = &net->connections[slot];
    assert(connection->state == NET_CONNECTION_OPEN && connection->fd == fd);
    connection->user = link;
    link->connection = connection;
    link->state = REPLICA_BUS_LINK_DIALING;
    link->deadline_ns = now_ns + shard->bus->options.handshake_timeout_ns;
    replica_bus_count(shard, REPLICA_BUS_DIALS, 1);
    int result = replica_bus_send_hello(shard, link);
    assert(result == 0); /* a new connection's output is empty */
}

static int replica_bus_on_moved(struct replica_bus_shard *shard, struct replica_bus_link *link,
                                const struct replica_bus_frame *frame)
{
    assert(link->state == REPLICA_BUS_LINK_DIALING);
    if (frame->replica != link->peer) {
        return replica_bus_refuse(shard, link->connection, frame->replica,
                                  "moved from another "
                                  "replica");
    }
    shard->peer_shard_count[link->peer] = frame->shard_count;
    if (link->peer_shard >= frame->shard_count) {
        return -RUNNEL_ENOTFOUND; /* no such shard there: close; the tick dials the right ones */
    }
    return replica_bus_send_hello(shard, link); /* to the shard the connection moves to */
}

static int replica_bus_on_challenge(struct replica_bus_shard *shard, struct replica_bus_link *link,
                                    const struct replica_bus_frame *frame)
{
    assert(link->state == REPLICA_BUS_LINK_DIALING);
    struct replica_bus *bus = shard->bus;
    if (frame->replica != link->peer || frame->shard != link->peer_shard ||
        memcmp(frame->nonce_peer, link->nonce, sizeof(link->nonce)) != 0) {
        return replica_bus_refuse(shard, link->connection, frame->replica,
                                  "challenge does not answer this hello");
    }
    if (!replica_bus_frame_is_signed(bus, frame)) {
        return replica_bus_refuse(shard, link->connection, frame->replica,
                                  "challenge MAC does not verify: the peer has another cluster "
                                  "key");
    }
    shard->peer_shard_count[link->peer] = frame->shard_count;
    struct replica_bus_frame proof;
    replica_bus_frame_init(shard, &proof, REPLICA_BUS_COMMAND_PROOF);
    proof.target_shard = link->peer_shard;
    memcpy(proof.nonce, link->nonce, sizeof(proof.nonce));
    memcpy(proof.nonce_peer, frame->nonce, sizeof(proof.nonce_peer));
    replica_bus_frame_sign(bus, &proof);
    int result = replica_bus_output(link->connection, &proof, NULL, sizeof(proof),
                                    net_connection_output_size(link->connection));
    if (result == 0) {
        replica_bus_link_up(shard, link, link->connection);
    }
    return result;
}

/* ---------------------------------------------------------------------------------------
 * Acceptor side. */

static int replica_bus_on_hello(struct replica_bus_shard *shard, struct net_connection *connection,
                                const struct replica_bus_frame *frame)
{
    struct replica_bus *bus = shard->bus;
    assert(connection->user == NULL);
    if (frame->replica > bus->options.replica_index) {
        return replica_bus_refuse(shard, connection, frame->replica,
                                  "a higher replica dialed (the lower index dials)");
    }
    shard->peer_shard_count[frame->replica] = frame->shard_count;
    uint32_t target = frame->target_shard;
    if (target != shard->index || target >= bus->options.shard_count) {
        struct replica_bus_frame moved;
        replica_bus_frame_init(shard, &moved, REPLICA_BUS_COMMAND_MOVED);
        moved.target_shard = target;
        int result = replica_bus_output(connection, &moved, NULL, sizeof(moved),
                                        net_connection_output_size(connection));
        if (result == 0 && target < bus->options.shard_count) {
            net_connection_handoff(connection, target); /* after moved is sent */
        }
        return result;
    }
    struct replica_bus_pending *pending = replica_bus_pending_free(shard);
    if (pending == NULL) {
        return replica_bus_refuse(shard, connection, frame->replica,
                                  "too many handshakes at once (the dialer backs off)");
    }
    pending->connection = connection;
    pending->peer = frame->replica;
    pending->peer_shard = frame->shard;
    pending->peer_shard_count = frame->shard_count;
    pending->deadline_ns = replica_bus_now_ns(shard) + bus->options.handshake_timeout_ns;
    randombytes_buf(pending->nonce, sizeof(pending->nonce));
    memcpy(pending->nonce_peer, frame->nonce, sizeof(pending->nonce_peer));
    connection->user = pending;
    struct replica_bus_frame challenge;
    replica_bus_frame_init(shard, &challenge, REPLICA_BUS_COMMAND_CHALLENGE);
    challenge.target_shard = target;
    memcpy(challenge.nonce, pending->nonce, sizeof(challenge.nonce));
    memcpy(challenge.nonce_peer, frame->nonce, sizeof(challenge.nonce_peer));
    replica_bus_frame_sign(bus, &challenge);
    return replica_bus_output(connection, &challenge, NULL, sizeof(challenge),
                              net_connection_output_size(connection));
}

static int replica_bus_on_proof(struct replica_bus_shard *shard,
                                struct replica_bus_pending *pending,
                                const struct replica_bus_frame *frame)
{
    struct net_connection *connection = pending->connection;
    assert(connection != NULL && connection->user == pending);
    if (frame->replica != pending->peer || frame->shard != pending->peer_shard ||
        frame->target_shard != shard->index ||
        memcmp(frame->nonce_peer, pending->nonce, sizeof(pending->nonce)) != 0 ||
        memcmp(frame->nonce, pending->nonce_peer, sizeof(pending->nonce_peer)) != 0) {
        return replica_bus_refuse(shard, connection, frame->replica,
                                  "proof does not answer this challenge");
    }
    if (!replica_bus_frame_is_signed(shard->bus, frame)) {
        return replica_bus_refuse(shard, connection, frame->replica,
                                  "proof MAC does not verify: the dialer has another cluster key");
    }
    struct replica_bus_link *link = replica_bus_link_at(shard, pending->peer, pending->peer_shard);
    pending->connection = NULL;
    connection->user = NULL;
    if (link->connection != NULL) {
        struct net_connection *old = link->connection; /* the peer redialed: newest wins */
        replica_bus_link_down(shard, link);
        net_connection_close(old);
    }
    replica_bus_link_up(shard, link, connection);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Frames on a replica connection that are not VSR traffic of an authenticated link. */

static int replica_bus_on_keepalive(struct replica_bus_shard *shard, struct replica_bus_link *link,
                                    const struct replica_bus_frame *frame)
{
    if (frame->command == REPLICA_BUS_COMMAND_PONG) {
        uint64_t now_ns = replica_bus_now_ns(shard);
        link->round_trip_ns = now_ns > frame->timestamp_ns ? now_ns - frame->timestamp_ns : 0;
        return 0;
    }
    if (frame->command != REPLICA_BUS_COMMAND_PING) {
        return replica_bus_refuse(shard, link->connection, frame->replica,
                                  "handshake frame on an authenticated link");
    }
    struct replica_bus_frame pong;
    replica_bus_frame_init(shard, &pong, REPLICA_BUS_COMMAND_PONG);
    pong.timestamp_ns = frame->timestamp_ns;
    (void)replica_bus_output(link->connection, &pong, NULL, sizeof(pong),
                             net_connection_output_size(link->connection));
    return 0; /* a pong that does not fit is not worth a close: the next ping retries */
}

static int replica_bus_link_dispatch(struct replica_bus_shard *shard,
                                     struct net_connection *connection, const uint8_t *frame,
                                     uint32_t size_bytes)
{
    struct replica_bus_frame copy;
    if (shard->bus->options.replica_count == 1) {
        return replica_bus_refuse(shard, connection, -1, "this node is a cluster of one");
    }
    const char *reason = replica_bus_frame_read(shard->bus, frame, size_bytes, &copy);
    if (reason != NULL) {
        return replica_bus_refuse(shard, connection, -1, reason);
    }
    struct replica_bus_pending *pending = replica_bus_pending_of(shard, connection->user);
    if (connection->user == NULL && copy.command == REPLICA_BUS_COMMAND_HELLO) {
        return replica_bus_on_hello(shard, connection, &copy);
    }
    if (pending != NULL && copy.command == REPLICA_BUS_COMMAND_PROOF) {
        return replica_bus_on_proof(shard, pending, &copy);
    }
    if (replica_bus_is_link(shard, connection->user)) {
        struct replica_bus_link *link = connection->user;
        link->received_ns = replica_bus_now_ns(shard);
        if (link->state == REPLICA_BUS_LINK_UP) {
            return replica_bus_on_keepalive(shard, link, &copy);
        }
        if (link->state == REPLICA_BUS_LINK_DIALING && copy.command == REPLICA_BUS_COMMAND_MOVED) {
            return replica_bus_on_moved(shard, link, &copy);
        }
        if (link->state == REPLICA_BUS_LINK_DIALING &&
            copy.command == REPLICA_BUS_COMMAND_CHALLENGE) {
            return replica_bus_on_challenge(shard, link, &copy);
        }
    }
    return replica_bus_refuse(shard, connection, copy.replica, "frame out of handshake order");
}

int replica_bus_link_on_frame(struct replica_bus_shard *shard, struct net_connection *connection,
                              const uint8_t *frame, uint32_t size_bytes)
{
    assert(shard != NULL && connection != NULL && frame != NULL);
    assert(connection->kind == NET_PEER_REPLICA);
    int result = replica_bus_link_dispatch(shard, connection, frame, size_bytes);
    /* -RUNNEL_EFULL would make net offer the frame again: a handshake reply that does not
     * fit an empty output buffer is a broken connection, closed. */
    return result == -RUNNEL_EFULL ? -RUNNEL_ESTATE : result;
}

/* ---------------------------------------------------------------------------------------
 * The tick. */

static uint32_t replica_bus_gcd(uint32_t a, uint32_t b)
{
    assert(a > 0 && b > 0);
    for (uint32_t round = 0; round < 64 && b != 0; round++) {
        uint32_t rest = a % b;
        a = b;
        b = rest;
    }
    return a;
}

/* True when this shard links to peer_shard of a peer with peer_shard_count shards (0:
 * unknown yet, so only the same-numbered shard is dialed to learn it). */
static bool replica_bus_is_needed(const struct replica_bus_shard *shard, uint32_t peer_shard,
                                  uint32_t peer_shard_count)
{
    if (peer_shard_count == 0) {
        return peer_shard == shard->index;
    }
    uint32_t divisor = replica_bus_gcd(shard->bus->options.shard_count, peer_shard_count);
    return peer_shard < peer_shard_count && shard->index % divisor == peer_shard % divisor;
}

static void replica_bus_ping(struct replica_bus_shard *shard, struct replica_bus_link *link,
                             uint64_t now_ns)
{
    struct replica_bus_frame ping;
    assert(link->state == REPLICA_BUS_LINK_UP);
    replica_bus_frame_init(shard, &ping, REPLICA_BUS_COMMAND_PING);
    ping.timestamp_ns = now_ns;
    link->ping_sent_ns = now_ns;
    if (replica_bus_output(link->connection, &ping, NULL, sizeof(ping),
                           net_connection_output_size(link->connection)) == 0) {
        replica_bus_count(shard, REPLICA_BUS_PINGS, 1);
    }
}

/* One link's timers: dial when due, time out a handshake or a silent peer, ping. */
static void replica_bus_link_check(struct replica_bus_shard *shard, struct replica_bus_link *link,
                                   bool is_needed, uint64_t now_ns)
{
    const struct replica_bus_options *options = &shard->bus->options;
    if (link->state == REPLICA_BUS_LINK_DOWN) {
        if (link->is_dialer && is_needed && now_ns >= link->deadline_ns) {
            replica_bus_dial(shard, link, now_ns);
        }
        return;
    }
    const char *reason = NULL;
    if (!is_needed) {
        reason = "the peer's shard count changed";
    } else if (link->state == REPLICA_BUS_LINK_DIALING && now_ns >= link->deadline_ns) {
        reason = "handshake timeout";
    } else if (link->state == REPLICA_BUS_LINK_UP &&
               now_ns - link->received_ns > options->peer_timeout_ns) {
        reason = "peer silent";
    }
    if (reason != NULL) {
        replica_bus_count(shard, REPLICA_BUS_TIMEOUTS, is_needed ? 1 : 0);
        log_warn("replica_bus_link_closed", "shard=%u peer=%u peer_shard=%u reason=\"%s\"",
                 shard->index, link->peer, link->peer_shard, reason);
        net_connection_close(link->connection); /* on_close takes the link down */
        return;
    }
    if (link->state == REPLICA_BUS_LINK_UP) {
        replica_bus_credit_age(shard, link, now_ns);
    }
    if (link->state == REPLICA_BUS_LINK_UP &&
        now_ns - link->ping_sent_ns >= options->ping_interval_ns) {
        replica_bus_ping(shard, link, now_ns);
    }
}

void replica_bus_link_tick(struct replica_bus_shard *shard)
{
    const struct replica_bus_options *options = &shard->bus->options;
    assert(options->replica_count > 1);
    uint64_t now_ns = replica_bus_now_ns(shard);
    for (uint8_t peer = 0; peer < options->replica_count; peer++) {
        if (peer == options->replica_index) {
            continue;
        }
        uint32_t count = shard->peer_shard_count[peer];
        uint32_t span = count != 0 ? count : shard->index + 1;
        span = span < options->peer_shard_count_max ? span : options->peer_shard_count_max;
        for (uint32_t peer_shard = 0; peer_shard < span; peer_shard++) {
            replica_bus_link_check(shard, replica_bus_link_at(shard, peer, peer_shard),
                                   replica_bus_is_needed(shard, peer_shard, count), now_ns);
        }
    }
    for (uint32_t index = 0; index < REPLICA_BUS_PENDING_MAX; index++) {
        struct replica_bus_pending *pending = &shard->pending[index];
        if (pending->connection != NULL && now_ns >= pending->deadline_ns) {
            replica_bus_count(shard, REPLICA_BUS_TIMEOUTS, 1);
            log_warn("replica_bus_link_closed", "shard=%u peer=%u reason=\"handshake timeout\"",
                     shard->index, pending->peer);
            net_connection_close(pending->connection); /* on_close frees the entry */
        }
    }
}
