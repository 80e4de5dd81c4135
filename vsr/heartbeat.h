/*
 * Shared heartbeats (issue 4 item 9): failure detection per (shard, peer) instead of per
 * group. Every VSR_HEARTBEAT_INTERVAL_TICKS a shard sends each link (a peer shard that
 * holds replicas of its groups) one heartbeat round: the entries (group, view, leading,
 * commit) of the groups whose entry changed since the last round that link acknowledged
 * whole, every group on every VSR_HEARTBEAT_SWEEP_ROUNDS-th round (the sweep) and when
 * the peer asks (an ack with want_full, at most every VSR_HEARTBEAT_FULL_ROUNDS_MIN
 * rounds), in chunks of at most VSR_HEARTBEAT_CHUNK_ENTRIES entries (one message each).
 * The receiver feeds each entry to its replica of the group (a leading entry of the
 * current view is a commit heartbeat: vsr_replica_on_heartbeat_entry); once every chunk
 * of a round is in, each of its groups reached through that link restarts its normal
 * timeout when the group's latest entry from there says the primary leads the current
 * view (vsr_replica_on_heartbeat), and the round is acknowledged; an ack marks the peer
 * heard in every group reached through that link (abdication, hand back). So an idle
 * cluster sends 2 messages per link per interval instead of 2 per group, and a group's
 * primary that stops leading (view change, abdication) is un-vouched by the next round.
 *
 * Epochs (one per start, nonzero) tell a restarted peer apart: an ack from a new epoch
 * makes the next round carry every group, chunks of an older round are dropped. Every
 * field from the wire is checked here (the caller checked the frame: checksums, cluster,
 * author = the link's peer). Pure and deterministic (the simulator runs it); single
 * thread (the shard's).
 */
#ifndef RUNNEL_VSR_HEARTBEAT_H
#define RUNNEL_VSR_HEARTBEAT_H

#include "proto/vsr_header.h"
#include "vsr/replica.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    VSR_HEARTBEAT_INTERVAL_TICKS = 5,
    VSR_HEARTBEAT_SWEEP_ROUNDS = 60,
    VSR_HEARTBEAT_FULL_ROUNDS_MIN = 4,
    VSR_HEARTBEAT_CHUNK_ENTRIES = 128, /* 8 KiB of entries per message */
    VSR_HEARTBEAT_CHUNKS_MAX = 256,
    VSR_HEARTBEAT_CHUNK_SIZE_MAX =
        VSR_HEADER_SIZE + VSR_HEARTBEAT_CHUNK_ENTRIES * (int)sizeof(struct vsr_heartbeat_entry),
};

/* The shard's groups, by slot (the caller's table index), and its links. */
struct vsr_heartbeat_host {
    /* The replica in slot, or NULL when the slot holds none now. */
    struct vsr_replica *(*replica_at)(uint32_t slot, void *context);
    /* The slot of the replica of group here, or -1 (the caller may open it later). */
    int32_t (*find)(const struct vsr_group *group, void *context);
    /* True when slot's group reaches its replica on link's peer through link; NULL: always. */
    bool (*is_routed)(uint32_t slot, uint32_t link, void *context);
    /* True when link is up now (NULL: always); a round skips links that are down. */
    bool (*is_up)(uint32_t link, void *context);
    /* Sends a sealed message on link; false when the link is down (nothing sent). */
    bool (*send)(uint32_t link, const struct vsr_header *header, const void *body, void *context);
    void *context;
};

struct vsr_heartbeat_slot {
    struct vsr_heartbeat_entry entry; /* as noted last */
    uint64_t changed_round;           /* first round that carries entry; 0: empty slot */
};

struct vsr_heartbeat_link {
    bool is_used;
    uint8_t peer;
    uint32_t peer_shard;
    /* Sending. */
    uint64_t acked_round; /* the rounds up to this one reached the peer whole */
    uint64_t peer_epoch;  /* the peer's epoch at its last ack */
    uint64_t full_round;  /* the last round a want_full was honoured */
    /* Receiving. */
    uint64_t received_epoch;
    uint64_t received_round;
    uint32_t received_chunk_count;
    uint32_t received_chunks;
    uint64_t received_mask[VSR_HEARTBEAT_CHUNKS_MAX / 64];
};

struct vsr_heartbeat_stats {
    uint64_t rounds;        /* rounds sent (each to every link up) */
    uint64_t messages_sent; /* heartbeat chunks and acks */
    uint64_t bytes_sent;    /* of those, headers and bodies */
    uint64_t entries_sent;
    uint64_t rounds_received; /* complete */
    uint64_t invalid;         /* messages dropped: a field out of range */
    uint64_t stale;           /* chunks of an older round, duplicates */
    uint64_t unknown_groups;  /* entries for groups not here */
};

struct vsr_heartbeat {
    u128 cluster;
    uint8_t replica;
    uint32_t shard;
    uint64_t epoch;
    uint64_t tick;
    uint64_t round;
    uint32_t slots_max;
    uint32_t slots_end; /* slots walked: [0, slots_end) */
    uint32_t links_max;
    uint32_t chunk_entries;
    struct vsr_heartbeat_slot *slots;   /* slots_max */
    struct vsr_heartbeat_link *links;   /* links_max */
    struct vsr_heartbeat_entry *buffer; /* slots_max: one round's entries */
    struct vsr_heartbeat_stats stats;
};

/* Allocates the tables. epoch: nonzero, another one for every start; chunk_entries
 * (1..VSR_HEARTBEAT_CHUNK_ENTRIES) bounds a message's entries. Returns 0, -ENOMEM, or
 * -RUNNEL_ECONFIG when slots_max exceeds chunk_entries * VSR_HEARTBEAT_CHUNKS_MAX. */
int vsr_heartbeat_init(struct vsr_heartbeat *heartbeat, u128 cluster, uint8_t replica,
                       uint32_t shard, uint32_t slots_max, uint32_t links_max, uint64_t epoch,
                       uint32_t chunk_entries);
void vsr_heartbeat_deinit(struct vsr_heartbeat *heartbeat);

/* Link link (below links_max) leads to shard peer_shard of replica peer. */
void vsr_heartbeat_link_set(struct vsr_heartbeat *heartbeat, uint32_t link, uint8_t peer,
                            uint32_t peer_shard);

/* Every tick, after the replicas' ticks: notes every slot below slots_end (<= slots_max)
 * and, every VSR_HEARTBEAT_INTERVAL_TICKS, sends the next round to every link. */
void vsr_heartbeat_tick(struct vsr_heartbeat *heartbeat, const struct vsr_heartbeat_host *host,
                        uint32_t slots_end);

/* A heartbeat or heartbeat_ack that arrived on link (frame checked by the caller). */
void vsr_heartbeat_on_message(struct vsr_heartbeat *heartbeat,
                              const struct vsr_heartbeat_host *host, uint32_t link,
                              const struct vsr_header *header, const void *body);

#endif
