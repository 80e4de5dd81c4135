/*
 * Shared between node/replica_bus.c (sending, receiving VSR frames, the handler wrapper)
 * and node/replica_bus_link.c (dialing, the handshake, keep-alive, backoff): the bus's
 * own frame and helpers. Not for other modules.
 *
 * Bus frames share the VSR framing (256-byte header, size at 48) so node/net.h reads
 * them; their command byte (88) lies above every VSR command, so the two never mix. Only
 * bus frames travel before a link is authenticated; pings and pongs after.
 */
#ifndef RUNNEL_NODE_REPLICA_BUS_INTERNAL_H
#define RUNNEL_NODE_REPLICA_BUS_INTERNAL_H

#include "node/replica_bus.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

enum {
    REPLICA_BUS_FRAME_SIZE = 256,
    /* 2: frames carry the shared settings. 3: backups forward GetConsumerOffset as
     * VSR_OPERATION_OFFSET_GET, which a version-2 primary would prepare as an op. */
    REPLICA_BUS_VERSION = 3,
    REPLICA_BUS_MAC_SIZE = 32,           /* crypto_auth_BYTES */
    REPLICA_BUS_MAC_OFFSET = 48,         /* the MAC covers bytes [48, 256) */
    REPLICA_BUS_COMMAND_MIN = 200,       /* bus commands: 200 and up */
    REPLICA_BUS_COMMAND_HELLO = 200,     /* dialer: identity, wanted shard, nonce */
    REPLICA_BUS_COMMAND_MOVED = 201,     /* acceptor: moving you to the shard you asked for */
    REPLICA_BUS_COMMAND_CHALLENGE = 202, /* acceptor: its nonce, MAC */
    REPLICA_BUS_COMMAND_PROOF = 203,     /* dialer: MAC */
    REPLICA_BUS_COMMAND_PING = 204,
    REPLICA_BUS_COMMAND_PONG = 205,
};

struct replica_bus_frame {
    uint8_t magic[16];
    uint8_t mac[REPLICA_BUS_MAC_SIZE];
    uint32_t size; /* 256 */
    uint32_t version;
    uint64_t timestamp_ns; /* ping: sender's clock; pong: echoed */
    u128 cluster;
    uint32_t shard_count; /* sender's */
    uint32_t shard;       /* sender's */
    uint8_t command;
    uint8_t replica; /* sender's */
    uint8_t replica_count;
    uint8_t reserved_byte;
    uint32_t target_shard; /* hello, moved: the shard the link is for on the acceptor */
    uint8_t nonce[REPLICA_BUS_NONCE_SIZE];      /* sender's */
    uint8_t nonce_peer[REPLICA_BUS_NONCE_SIZE]; /* the other side's, echoed */
    struct replica_bus_shared shared;           /* sender's (replica_bus_options.shared) */
    uint8_t reserved[48];
};

_Static_assert(sizeof(struct replica_bus_frame) == REPLICA_BUS_FRAME_SIZE, "a bus frame is 256");
_Static_assert(offsetof(struct replica_bus_frame, size) == 48, "size where net reads it");
_Static_assert(offsetof(struct replica_bus_frame, command) == 88, "command where VSR has it");
_Static_assert(offsetof(struct replica_bus_frame, mac) + REPLICA_BUS_MAC_SIZE ==
                   REPLICA_BUS_MAC_OFFSET,
               "the MAC precedes what it covers");

/* Link of shard to (peer, peer_shard); peer_shard < peer_shard_count_max. */
struct replica_bus_link *replica_bus_link_at(struct replica_bus_shard *shard, uint8_t peer,
                                             uint32_t peer_shard);

/* The shard's net (its connections) and clock. */
struct net *replica_bus_net(struct replica_bus_shard *shard);
uint64_t replica_bus_now_ns(struct replica_bus_shard *shard);

/* Adds delta to one of shard's counters (its own thread only). */
void replica_bus_count(struct replica_bus_shard *shard, enum replica_bus_counter counter,
                       int64_t delta);

/* Owning shard of group among shard_count shards. */
uint32_t replica_bus_owner(const struct replica_bus *bus, const struct vsr_group *group,
                           uint32_t shard_count);

/* Queues frame on connection if it fits under limit bytes of output. 0 or -RUNNEL_EFULL. */
int replica_bus_output(struct net_connection *connection, const void *header, const void *body,
                       uint32_t size_bytes, uint32_t limit_bytes);

/* A bus frame (command >= REPLICA_BUS_COMMAND_MIN) or any frame on a link not yet up. 0, or
 * a negative code that closes the connection. */
int replica_bus_link_on_frame(struct replica_bus_shard *shard, struct net_connection *connection,
                              const uint8_t *frame, uint32_t size_bytes);

/* The connection closed: frees its pending entry or takes its link down. */
void replica_bus_link_on_close(struct replica_bus_shard *shard, struct net_connection *connection);

/* Every tick: dials, handshake and peer timeouts, keep-alive pings. */
void replica_bus_link_tick(struct replica_bus_shard *shard);

/* Returns the credit of link's forwarded requests sent two credit epochs ago and still
 * unanswered (counted, logged), once per forward_credit_age_ns (see replica_bus.h). */
void replica_bus_credit_age(struct replica_bus_shard *shard, struct replica_bus_link *link,
                            uint64_t now_ns);

/* True when connection belongs to an authenticated link; sets *link_out. */
bool replica_bus_link_of(struct replica_bus_shard *shard, struct net_connection *connection,
                         struct replica_bus_link **link_out);

#endif
