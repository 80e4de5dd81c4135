/*
 * A client connection's session on its home shard (research/iggy-protocol.md §2): bound
 * or not, the Iggy client id and session from Register, the acting user, whether the
 * client opted in to exactly-once partition ops (DESIGN.md §10.11), and a generation that
 * tells a late reply from a connection that has gone. One per connection slot, allocated
 * by the broker at start-up; touched only by the home shard.
 */
#ifndef RUNNEL_NODE_SESSION_H
#define RUNNEL_NODE_SESSION_H

#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stdint.h>

enum { SESSION_ADDRESS_SIZE_MAX = 16, SESSION_SEEN_MAX = 16 };

#define SESSION_EXACTLY_ONCE_CONTEXT "runnel.exactly_once=1"

enum session_state {
    SESSION_FREE = 0,
    SESSION_UNBOUND, /* connected, not logged in: only ping (and login) */
    SESSION_BOUND,   /* logged in */
};

/* Read-your-writes (DESIGN.md §10.5): the op of a partition group a reply on this
 * connection reflected (a write's op, the commit a primary's poll was served at). */
struct session_seen {
    uint32_t metadata_slot;
    uint64_t incarnation; /* 0: the entry is free */
    uint64_t op;
    bool is_unknown; /* an entry here was overwritten (or lost by a move): what hashes here
                      * and is not the entry is unknown */
};

struct session {
    enum session_state state;
    uint64_t generation; /* bumped at every open and close */
    u128 client;         /* Iggy client id bound at Register */
    uint64_t session;    /* session epoch from Register (its metadata op) */
    uint32_t user_id;
    bool is_exactly_once;
    bool has_request; /* an asynchronous request is in flight */
    bool is_moving;   /* moving to another shard (node/broker_cluster.c): no more frames here */
    bool has_address;
    uint8_t address[SESSION_ADDRESS_SIZE_MAX];
    uint8_t address_size;
    uint32_t port;
    struct session_seen seen[SESSION_SEEN_MAX]; /* direct-mapped by metadata slot */
};

/* Starts a session for a new connection (state UNBOUND, generation advanced). */
void session_open(struct session *session);

/* Ends it: FREE, generation advanced, so replies in flight are dropped. */
void session_close(struct session *session);

/* Binds a registered client. */
void session_bind(struct session *session, u128 client, uint64_t session_epoch, uint32_t user_id,
                  bool is_exactly_once);

/* Back to unbound (logout). */
void session_unbind(struct session *session);

bool session_is_bound(const struct session *session);

/* A reply of (metadata_slot, incarnation) reflected op: the connection's floor there rises. */
void session_seen_note(struct session *session, uint32_t metadata_slot, uint64_t incarnation,
                       uint64_t op);

/* The op a copy of (metadata_slot, incarnation) must have applied before it serves this
 * connection (0: nothing seen); false when it is unknown (forgotten: ask the primary). */
bool session_seen_floor(const struct session *session, uint32_t metadata_slot, uint64_t incarnation,
                        uint64_t *op_out);

/* Everything seen is forgotten (the connection moved here without it): every floor is
 * unknown until the next reply of each group. */
void session_seen_forget(struct session *session);

/* Records the peer address of fd (IPv4/IPv6 bytes) once, for the login rate limiter and
 * client listings. */
void session_address_load(struct session *session, int fd);

#endif
