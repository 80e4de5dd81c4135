/*
 * The simulator's network: messages between endpoints (replicas of every group, and
 * clients) with seeded delay (hence reordering), loss, duplication, symmetric or
 * asymmetric partitions between replica machines, clogged links (packets held, not lost,
 * until the clog clears) and a capacity per machine-to-machine link (a full link drops). Packets
 * live in a fixed pool allocated at init; a full pool drops (as a full link would). Single thread.
 */
#ifndef RUNNEL_TESTS_SIM_SIM_NETWORK_H
#define RUNNEL_TESTS_SIM_SIM_NETWORK_H

#include "lib/prng.h"
#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    SIM_NETWORK_PACKETS_MAX = 8192,
    SIM_NETWORK_DELAY_TICKS_MAX = 64, /* ring of delivery buckets */
    SIM_MACHINES_MAX = VSR_REPLICAS_MAX,
};

struct sim_packet {
    uint32_t next;          /* index + 1 of the next packet in its bucket; 0 ends */
    uint32_t target;        /* endpoint */
    int32_t source_machine; /* -1: a client */
    int32_t target_machine; /* -1: a client */
    uint64_t due_tick;
    uint8_t *data; /* packet_size_max bytes: header then body */
};

struct sim_network_faults {
    uint32_t loss_percent;
    uint32_t duplicate_percent;
    uint32_t delay_ticks_max;     /* 1..SIM_NETWORK_DELAY_TICKS_MAX - 1 */
    uint32_t partition_per_mille; /* chance per tick that a partition starts */
    uint32_t heal_per_mille;      /* chance per tick that it heals */
    uint32_t clog_per_mille;      /* chance per tick that one link clogs */
    uint32_t clog_ticks_mean;     /* mean clog duration (exponential-ish) */
    uint32_t link_capacity;       /* packets in flight per link; 0: unbounded */
};

typedef void (*sim_network_deliver_callback)(uint32_t target, const struct vsr_header *header,
                                             const void *body, void *context);

struct sim_network {
    struct sim_packet *packets;
    uint8_t *data;
    uint32_t packet_size_max;
    uint32_t free_head;                            /* index + 1 */
    uint32_t buckets[SIM_NETWORK_DELAY_TICKS_MAX]; /* index + 1 of each bucket's first */
    struct sim_network_faults faults;
    struct prng *prng;
    const uint64_t *tick;
    /* blocked[a][b]: machine a cannot send to machine b. */
    bool blocked[SIM_MACHINES_MAX][SIM_MACHINES_MAX];
    /* clogged_until[a][b]: packets from a to b are held until this tick. */
    uint64_t clogged_until[SIM_MACHINES_MAX][SIM_MACHINES_MAX];
    uint32_t in_flight[SIM_MACHINES_MAX][SIM_MACHINES_MAX];
    bool partitioned;
    uint32_t machine_count;
    sim_network_deliver_callback deliver;
    void *deliver_context;
    uint64_t sent;
    uint64_t dropped;
    uint64_t dropped_full; /* of dropped: the link was at capacity */
    uint64_t clogs;
};

int sim_network_init(struct sim_network *network, uint32_t packet_size_max, struct prng *prng,
                     const uint64_t *tick);
void sim_network_deinit(struct sim_network *network);
/* Empties every queue and heals every partition. */
void sim_network_reset(struct sim_network *network, uint32_t machine_count);
/*
 * Queues a message from endpoint on machine source_machine (or -1 for a client) to target
 * on target_machine (or -1). Applies loss, duplication, delay and partitions.
 */
void sim_network_send(struct sim_network *network, int32_t source_machine, int32_t target_machine,
                      uint32_t target, const struct vsr_header *header, const void *body);
/* Delivers this tick's packets; starts and heals partitions; clogs links. */
void sim_network_tick(struct sim_network *network);
/* Heals every partition and clog and turns faults off (the link capacity stays). */
void sim_network_heal(struct sim_network *network);

#endif
