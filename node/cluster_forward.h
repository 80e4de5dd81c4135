/*
 * Forwarding between the nodes of a cluster (DESIGN.md §3 step 5, §10.3): each group
 * (metadata, every partition) has one node-local VSR client per node; its requests go to
 * the group's primary, the local replica when it leads, otherwise over the replica bus
 * (client lane, forward credit). The primary's replies to another node's client are
 * relayed back over the bus: each shard remembers, in a small direct-mapped table
 * (struct cluster_forward_table), which node each client that sent a request over the bus
 * lives on; a reply for a client not in it is this node's. Node-client ids also carry
 * their node's replica index (bits 40..47, index + 1). librunnel's exactly-once clients
 * (DESIGN.md §10.11) travel with their own id and sequence: a backup forwards such a
 * write as the client's request (its register first when the group has no session for
 * it), so the primary's window deduplicates it across nodes, view changes and reconnects
 * to another node; the data plane answers a reply locally when the client's request is
 * in flight on this node, and relays it otherwise. A group with requests in flight and no reply
 * re-sends them to the primary of its current view (a view change), and after
 * CLUSTER_FORWARD_PARK_TICKS without progress gives up on them: status 57 for requests
 * sent (outcome unknown), 58 for requests never handed on. A partition write is also
 * never handed on (again) once cluster_forward_handoff_ns_max of monotonic time passed
 * since it reached the node (tick counts stretch across a stopped process).
 *
 * Runs on the shard that owns the group; no state of its own beyond struct
 * cluster_forward_state, embedded in each group.
 */
#ifndef RUNNEL_NODE_CLUSTER_FORWARD_H
#define RUNNEL_NODE_CLUSTER_FORWARD_H

#include "node/broker.h"
#include "proto/vsr_header.h"
#include "vsr/replica.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    CLUSTER_FORWARD_RESEND_TICKS = 50, /* 0.5 s without a reply: re-sent to the primary */
    CLUSTER_FORWARD_REGISTER_TICKS = 20,
    CLUSTER_FORWARD_PARK_TICKS = 500, /* 5 s without progress: given up (57 / 58) */
};

enum cluster_forward_action {
    CLUSTER_FORWARD_WAIT = 0,
    CLUSTER_FORWARD_RESEND,
    CLUSTER_FORWARD_EXPIRE,
};

/* Per group: ticks since the group was idle or last heard a reply, and since a resend. */
struct cluster_forward_state {
    uint64_t tick;
    uint64_t progress_tick;
    uint64_t resend_tick;
    uint64_t register_tick;
    uint64_t exactly_once_register_tick; /* an exactly-once client's register sent on */
};

enum { CLUSTER_FORWARD_TABLE_SIZE = 1024 };

/* Per shard: clients that sent requests over the bus -> their node (direct-mapped). */
struct cluster_forward_table {
    u128 client[CLUSTER_FORWARD_TABLE_SIZE];
    uint8_t replica[CLUSTER_FORWARD_TABLE_SIZE];
};

/* On shard_index's table: client's requests come from replica (a request off the bus). */
void cluster_forward_table_note(struct cluster_forward_table *table, u128 client, uint8_t replica);

/* True when broker's groups span more than one node. */
bool cluster_forward_is_multi(const struct broker *broker);

/*
 * CLUSTER_FORWARD_PARK_TICKS of the configured tick, in monotonic nanoseconds: a write
 * that reached a node longer ago than this is never handed on to a primary (again). Tick
 * counts stretch across a stopped or starved process (shard.c skips missed ticks), a
 * client's timeout does not: counted in ticks, a node stopped while it held a write
 * re-sent it after its client had given up and stored a later value through another
 * node, and the old value was executed after it (docs/NEMESIS.md, seed 501).
 */
uint64_t cluster_forward_handoff_ns_max(const struct broker *broker);

/* client with this node's replica index in bits 40..47 (unchanged on a cluster of one). */
u128 cluster_forward_client(const struct broker *broker, u128 client);

/*
 * From a local replica of a group on shard_index: a reply or eviction for client. When
 * the client sent its requests over the bus from another node (the shard's table),
 * relays it there (its author re-stamped as this node; dropped and counted by the bus
 * when the link is down) and returns true; false when the client is this node's.
 */
bool cluster_forward_reply_relay(struct broker *broker, uint32_t shard_index, u128 client,
                                 const struct vsr_header *header, const void *body);

/*
 * Hands a node-client request (header: every request field set, unsealed; body of
 * body_size bytes) to replica's primary: vsr_replica_on_local_request of the local replica
 * when it leads (no body checksum computed; *is_local_out true; the caller checks what it
 * took), the bus otherwise (sealed with this node as author). Returns 0 when handed on; -EAGAIN
 * when no primary is known now, or the bus refused it (credit, lane full, link down): the caller
 * keeps it.
 */
int cluster_forward_request(struct broker *broker, uint32_t shard_index,
                            struct vsr_replica *replica, struct vsr_header *header,
                            const void *body, uint32_t body_size, bool *is_local_out);

/* A register request for client sent to replica's primary (local or over the bus). */
void cluster_forward_register(struct broker *broker, uint32_t shard_index,
                              struct vsr_replica *replica, u128 client);

/* A reply for the group arrived (or it has nothing waiting): restarts the park clock. */
void cluster_forward_progress(struct cluster_forward_state *state);

/*
 * Every tick of a group with is_waiting requests (queued or in flight): WAIT, RESEND
 * (re-send what is in flight to the current primary) or EXPIRE (give up on all).
 */
enum cluster_forward_action cluster_forward_tick(struct cluster_forward_state *state,
                                                 bool is_waiting);

/* True at most once per CLUSTER_FORWARD_RESEND_TICKS: an exactly-once client's register
 * may go to a primary on another node (the primary ignores a repeat while the first is in
 * its pipeline, and such a repeat's credit is only reclaimed later). */
bool cluster_forward_is_exactly_once_register_due(struct cluster_forward_state *state);

/* True every CLUSTER_FORWARD_REGISTER_TICKS ticks: time to (re)send a register. */
bool cluster_forward_is_register_due(struct cluster_forward_state *state);

#endif
