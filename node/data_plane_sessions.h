/*
 * Exactly-once partition ops of librunnel clients in a partition VSR group (DESIGN.md §4,
 * §10.11): how the data plane turns such a client's op into requests to the group's
 * replica, and how it reads the replica's answer.
 *
 * A partition group knows a client only once the group has committed a session for it.
 * The client registers with the broker (metadata group), never with each partition, so
 * the data plane registers it implicitly: the first op of an exactly-once client that
 * finds no exactly-once session of that client in the group's committed client table is
 * held back while a VSR register op (flag VSR_REQUEST_FLAG_EXACTLY_ONCE, the VSR client
 * = the client's Iggy client id, kept across its reconnects) goes through the group; the
 * op follows with the session that register committed. The register is an op of the
 * group's log, so every replica (and a restart replaying the log) builds the same session
 * and the same window of kept replies; nothing here decides from local state that a
 * backup would not have. Resubmitting the register while it is in the pipeline is
 * harmless: the replica ignores a client's second request while one is uncommitted.
 *
 * The op then carries the client's own sequence in the request field. The replica
 * executes a new number once and keeps its reply in the client's window; a resend gets
 * the kept reply (same base offset); a number at or below the window's floor gets "request
 * too old" and is never executed. A session ends on the group's TTL (log time,
 * DATA_PLANE_SESSIONS_TTL_NS) or when the table (clients_max) evicts its oldest session.
 *
 * Pure functions over a replica's public state; no I/O. Runs on the group's owning shard.
 */
#ifndef RUNNEL_NODE_DATA_PLANE_SESSIONS_H
#define RUNNEL_NODE_DATA_PLANE_SESSIONS_H

#include "proto/vsr_header.h"
#include "vsr/replica.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    /* Replies kept per exactly-once client and group: librunnel has one request in flight
     * per connection, so a resend is always among the client's last few numbers here. */
    DATA_PLANE_SESSIONS_WINDOW_MAX = 8,
};

/* Log time an exactly-once session of a group lives without an op (15 minutes). */
#define DATA_PLANE_SESSIONS_TTL_NS (15ull * 60 * 1000 * 1000 * 1000)

/* The group's committed exactly-once session of client, or 0 when it has none. */
uint64_t data_plane_sessions_find(const struct vsr_replica *replica, u128 client);

/*
 * Fills header_out with what replica must take next for client's exactly-once op numbered
 * sequence (operation, body of body_size bytes): the op itself with the group's session
 * (returns true), or the register that must commit first (returns false; the op waits).
 * The header is sealed, the op's as a local request (vsr_replica_request_seal_local, no body
 * checksum): for this node's replica only, sealed again before it leaves the node
 * (cluster_forward_request does both); body goes with it only when it is the op.
 */
bool data_plane_sessions_request(const struct vsr_replica *replica, u128 client, uint64_t sequence,
                                 uint8_t operation, const void *body, uint32_t body_size,
                                 struct vsr_header *header_out);

/* True when the uncommitted pipeline holds client's op numbered sequence: a resend of it
 * waits for that prepare's reply instead of becoming a second op. */
bool data_plane_sessions_is_pending(const struct vsr_replica *replica, u128 client,
                                    uint64_t sequence);

/*
 * Fills header_out with the logout of client's exactly-once session in replica's group
 * (request number UINT64_MAX: above any number of the client). False when the group has
 * no such session.
 */
bool data_plane_sessions_logout(const struct vsr_replica *replica, u128 client,
                                struct vsr_header *header_out);

/* The Iggy status of the replica's reply to an exactly-once op: 0, or
 * IGGY_ERROR_REQUEST_ALREADY_APPLIED (59) when the number was older than the window. */
uint32_t data_plane_sessions_reply_status(const struct vsr_header *reply);

#endif
