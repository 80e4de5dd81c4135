/*
 * The replica bus (DESIGN.md §3, §10.2): VSR messages between the nodes of a cluster.
 *
 * Links. Each shard keeps TCP links to the shards of its peers that own the same groups:
 * a group's owner on a node is (group key mod that node's shard count), so when shard
 * counts match shard s links only to shard s of each peer (no hop); when they differ,
 * shard s links to every peer shard b with s = b (mod gcd of the two counts), which are
 * exactly the owners of s's groups there. A link is one connection used both ways, dialed
 * by the node with the lower replica index (non-blocking connect, the socket then homed in
 * the shard's node/net.h table); the peer's shard 0 accepts it and the first frame names
 * the shard it wants, which takes the connection over (net_connection_handoff).
 *
 * Authentication: libsodium crypto_auth (HMAC-SHA-512-256) challenge-response with the
 * cluster key, both ways: hello (dialer's nonce) -> challenge (acceptor's nonce, MAC) ->
 * proof (dialer's MAC). A peer that fails is refused, its connection closed and the
 * refusal logged (event replica_bus_refused); only authenticated links carry VSR frames.
 * A refused or lost link is redialed with exponential backoff and jitter; an
 * authenticated link silent for peer_timeout is closed (a paused peer), keep-alive pings
 * flow every ping_interval.
 *
 * Output: once authenticated, a link takes one of its shard's large output rings
 * (net_connection_output_grow; runneld sizes them for the largest prepare and forwarded
 * request, node_config_link_ring_bytes); before that, and when every large ring is taken
 * (logged), it sends from its connection's own ring. A frame larger than its lane's share
 * of the ring is refused as too large (-RUNNEL_ETOOLARGE, counted).
 *
 * Lanes over a link's output ring: control (ping, pong, commit heartbeats, shard
 * heartbeats and their acks, view-change messages) may use all of it; consensus (prepares,
 * prepare_ok, repair, state transfer) leaves an eighth free for control and is dropped
 * and counted when it does not fit (VSR retransmits and repairs); client traffic
 * (forwarded requests, replies, evictions) may use at most half and forwarded requests
 * also spend the link's credit: refused (-RUNNEL_EFULL, counted, never dropped in
 * silence) rather than crowding consensus out. A reply or eviction from the peer returns
 * one credit; a request the peer never answers (a primary drops what it cannot take: a
 * view change, a full pipeline, a repeat of a request it is preparing) returns its credit
 * after one to two forward_credit_age_ns (counted), so unanswered requests never use the
 * credit up for good. A link to a stalled peer fills and drops; no send ever waits, so
 * other peers and groups are never stalled by it.
 *
 * Receiving: a frame on an authenticated link is checked (vsr_header_validate, size,
 * cluster, author = the authenticated peer (a prepare: any author, see
 * replica_bus.c), body checksum, this shard owns the group) and
 * handed to the receive callback on the owning shard; bad frames are counted and dropped.
 *
 * Plumbing: replica_bus_init wraps the node's handler: frames and closes of replica
 * connections go to the bus, the rest (and every other callback) to the wrapped handler;
 * the 10 ms tick dials, times out and pings. Per-shard state is touched only by its
 * shard's thread; counters are atomics any thread may read.
 */
#ifndef RUNNEL_NODE_REPLICA_BUS_H
#define RUNNEL_NODE_REPLICA_BUS_H

#include "lib/prng.h"
#include "node/cluster_config.h"
#include "node/net.h"
#include "node/node_handler.h"
#include "node/replica_bus_inbox.h"
#include "proto/vsr_header.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct shard_set;

enum {
    REPLICA_BUS_NONCE_SIZE = 32,
    REPLICA_BUS_PENDING_MAX = 16, /* accepted connections mid-handshake, per shard */
};

enum replica_bus_lane {
    REPLICA_BUS_LANE_CONTROL = 0,
    REPLICA_BUS_LANE_CONSENSUS = 1,
    REPLICA_BUS_LANE_CLIENT = 2,
    REPLICA_BUS_LANE_COUNT = 3,
};

/* Delivers one validated message on the shard that owns its group, from that shard's pass
 * (node_handler.on_pass, outside completion dispatch: the callee may run io_run). header is
 * aligned and valid during the call only; body (header->size - 256 bytes), same life. */
typedef void (*replica_bus_receive_callback)(uint32_t shard_index, const struct vsr_header *header,
                                             const void *body, void *context);

/* The group key whose value mod a node's shard count names the owning shard there. The
 * same function must run on every node (metadata: 0). */
typedef uint64_t (*replica_bus_group_key_function)(const struct vsr_group *group);

/*
 * Settings every node of a cluster must share: each shapes what a group replicates or how
 * its replicas reason about each other (the view change's pipeline bound, the log rings
 * and checkpoint intervals, the metadata replies kept, a topic's default durability, the
 * largest batch a primary takes). Every bus frame carries the sender's; a peer with
 * another value is refused, naming the key.
 */
struct replica_bus_shared {
    uint64_t pipeline_depth_max;
    uint64_t partition_ops_max;
    uint64_t metadata_ops_max;
    uint64_t metadata_replies_bytes;
    uint64_t batch_size_bytes_max;
    uint64_t durability;
};

struct replica_bus_options {
    u128 cluster;
    struct replica_bus_shared shared; /* the same on every node, else refused */
    uint8_t replica_index;
    uint8_t replica_count;
    struct cluster_peer peers[VSR_REPLICAS_MAX]; /* by replica index */
    uint8_t key[CLUSTER_KEY_SIZE_BYTES];
    uint32_t shard_count;           /* this node's */
    uint32_t peer_shard_count_max;  /* largest shard count of a peer this node links to */
    uint32_t frame_size_max;        /* largest VSR frame accepted, header included */
    uint64_t ping_interval_ns;      /* keep-alive per link */
    uint64_t peer_timeout_ns;       /* silence that closes an authenticated link */
    uint64_t handshake_timeout_ns;  /* dial to authenticated */
    uint64_t backoff_min_ns;        /* first redial delay */
    uint64_t backoff_max_ns;        /* redial delays double up to this */
    uint32_t forward_credit_max;    /* forwarded requests in flight per link */
    uint64_t forward_credit_age_ns; /* an unanswered forwarded request's credit returns after
                                       one to two of these (> 0) */
    replica_bus_group_key_function group_key; /* NULL: replica_bus_group_key */
    uint64_t seed;                            /* jitter */
};

enum replica_bus_counter {
    REPLICA_BUS_SENT_CONTROL = 0, /* by lane: REPLICA_BUS_SENT_CONTROL + lane */
    REPLICA_BUS_SENT_CONSENSUS,
    REPLICA_BUS_SENT_CLIENT,
    REPLICA_BUS_FULL_CONTROL, /* lane full: control and consensus dropped, client refused */
    REPLICA_BUS_FULL_CONSENSUS,
    REPLICA_BUS_FULL_CLIENT,
    REPLICA_BUS_DROPPED_DOWN,       /* no authenticated link to the target */
    REPLICA_BUS_REFUSED_CREDIT,     /* forwarded requests over the link's credit */
    REPLICA_BUS_TOO_LARGE,          /* larger than a link's output buffer */
    REPLICA_BUS_RECEIVED,           /* valid, queued for the callback (next pass) */
    REPLICA_BUS_RECEIVED_INVALID,   /* failed validation, dropped */
    REPLICA_BUS_RECEIVED_MISROUTED, /* a group this shard does not own, dropped */
    REPLICA_BUS_DIALS,
    REPLICA_BUS_HANDSHAKES,  /* links authenticated (either side) */
    REPLICA_BUS_REFUSED,     /* handshakes refused (key, cluster, protocol) */
    REPLICA_BUS_TIMEOUTS,    /* handshake or peer timeouts */
    REPLICA_BUS_DISCONNECTS, /* authenticated links lost */
    REPLICA_BUS_PINGS,
    REPLICA_BUS_LINKS_UP,       /* a gauge: authenticated links now */
    REPLICA_BUS_INBOX_FULL,     /* received while the shard's inbox was full, dropped */
    REPLICA_BUS_CREDIT_EXPIRED, /* credits of forwarded requests never answered, returned */
    REPLICA_BUS_COUNTER_COUNT,
};

enum replica_bus_link_state {
    REPLICA_BUS_LINK_DOWN = 0,
    REPLICA_BUS_LINK_DIALING, /* dialer: hello sent, waiting for moved or challenge */
    REPLICA_BUS_LINK_UP,      /* authenticated */
};

/* This shard's link to shard peer_shard of replica peer. */
struct replica_bus_link {
    struct net_connection *connection; /* NULL while down */
    enum replica_bus_link_state state;
    uint8_t peer;
    bool is_dialer;
    uint32_t peer_shard;
    uint32_t credit_used;     /* forwarded requests sent and not yet answered */
    uint32_t credit_older;    /* of those, sent before credit_epoch_ns: expire at the next epoch */
    uint64_t credit_epoch_ns; /* start of the current credit epoch (forward_credit_age_ns) */
    uint64_t deadline_ns;     /* dialing: handshake deadline; down (dialer): next dial */
    uint64_t backoff_ns;      /* next redial delay */
    uint64_t received_ns;     /* last frame received */
    uint64_t ping_sent_ns;    /* last keep-alive sent */
    uint64_t round_trip_ns;   /* last ping's round trip */
    uint8_t nonce[REPLICA_BUS_NONCE_SIZE]; /* dialer: its hello nonce */
};

/* An accepted connection between hello and proof (acceptor side). */
struct replica_bus_pending {
    struct net_connection *connection; /* NULL: free */
    uint8_t peer;
    uint32_t peer_shard;
    uint32_t peer_shard_count;
    uint64_t deadline_ns;
    uint8_t nonce[REPLICA_BUS_NONCE_SIZE];      /* ours (challenge) */
    uint8_t nonce_peer[REPLICA_BUS_NONCE_SIZE]; /* the dialer's (hello) */
};

struct replica_bus;

struct replica_bus_shard {
    struct replica_bus *bus;
    uint32_t index;
    struct replica_bus_link *links;              /* [peer * peer_shard_count_max + peer_shard] */
    uint32_t peer_shard_count[VSR_REPLICAS_MAX]; /* learned at handshakes; 0: unknown */
    struct replica_bus_pending pending[REPLICA_BUS_PENDING_MAX];
    struct prng prng;
    struct replica_bus_inbox inbox; /* received, handed to the callback from on_pass */
    atomic_uint_fast64_t counters[REPLICA_BUS_COUNTER_COUNT]; /* written by this shard */
} __attribute__((aligned(64)));

struct replica_bus {
    struct node_handler handler; /* the wrapper: pass &bus->handler to shard_set_start */
    struct node_handler *inner;
    struct replica_bus_options options;
    struct shard_set *set;
    struct replica_bus_shard *shards; /* [options.shard_count] */
    replica_bus_receive_callback receive;
    void *receive_context;
};

/* The built-in group key (metadata 0; a partition: a mix of its stream, topic and
 * partition ids, the same as the data plane's owner hash). */
uint64_t replica_bus_group_key(const struct vsr_group *group);

/*
 * Sets bus up for the shards of set (started afterwards with &bus->handler, the same shard
 * count): allocates every link, copies options, wraps inner (every callback the bus does
 * not need passes through unchanged, with inner's context). receive gets each valid
 * message. With replica_count 1 the bus is inert. Returns 0 or -ENOMEM.
 */
int replica_bus_init(struct replica_bus *bus, const struct replica_bus_options *options,
                     struct shard_set *set, struct node_handler *inner,
                     replica_bus_receive_callback receive, void *context);

/* Frees the bus (after the shard set has been joined). */
void replica_bus_deinit(struct replica_bus *bus);

/*
 * On shard shard_index, which must own header's group: queues the sealed message for
 * replica target (not this node) on the link to the owning shard there. Never waits.
 * Returns 0; -ENOTCONN (no authenticated link: dropped, counted); -RUNNEL_EFULL (lane
 * full: control and consensus dropped and counted; client traffic refused, counted, the
 * caller keeps it); -RUNNEL_ETOOLARGE (never fits a link's buffer, counted).
 */
int replica_bus_send(struct replica_bus *bus, uint32_t shard_index, uint8_t target,
                     const struct vsr_header *header, const void *body);

/*
 * On shard shard_index: queues a shard heartbeat or its ack (vsr/heartbeat.h; group kind
 * shard naming peer_shard) on the link to shard peer_shard of peer. Returns as
 * replica_bus_send (-ENOTCONN when that link is not authenticated).
 */
int replica_bus_send_shard(struct replica_bus *bus, uint32_t shard_index, uint8_t peer,
                           uint32_t peer_shard, const struct vsr_header *header, const void *body);

/* On shard_index: true when the link to shard peer_shard of peer is authenticated now. */
bool replica_bus_is_link_up(struct replica_bus *bus, uint32_t shard_index, uint8_t peer,
                            uint32_t peer_shard);

/* On shard_index: true when peer's shard count is known and peer_shard owns group there. */
bool replica_bus_is_routed(struct replica_bus *bus, uint32_t shard_index, uint8_t peer,
                           uint32_t peer_shard, const struct vsr_group *group);

/* A struct vsr_bus send: context is replica_bus_vsr_context(bus, shard_index). */
void replica_bus_vsr_send(uint8_t target, const struct vsr_header *header, const void *body,
                          void *context);

void *replica_bus_vsr_context(struct replica_bus *bus, uint32_t shard_index);

/* On shard_index: a forwarded request to target for group ended without a reply on the
 * link (parked too long, given up): returns its credit. Replies and evictions received on
 * the link return credit by themselves. */
void replica_bus_forward_done(struct replica_bus *bus, uint32_t shard_index, uint8_t target,
                              const struct vsr_group *group);

/* On shard_index: true when a link to peer (any of its shards) is authenticated now. */
bool replica_bus_is_peer_up(struct replica_bus *bus, uint32_t shard_index, uint8_t peer);

/* The lane a command travels in. */
enum replica_bus_lane replica_bus_lane_of(uint8_t command);

/* counter summed over every shard (any thread; a snapshot). */
uint64_t replica_bus_counter(const struct replica_bus *bus, enum replica_bus_counter counter);

/* counter of one shard (any thread; a snapshot). */
uint64_t replica_bus_shard_counter(const struct replica_bus *bus, uint32_t shard_index,
                                   enum replica_bus_counter counter);

#endif
