/*
 * Simulated network (see sim_network.h). Owns the packet pool and delivery buckets. Runs
 * inside the single simulator thread.
 */
#include "tests/sim/sim_network.h"

#include "lib/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sim_network_init(struct sim_network *network, uint32_t packet_size_max, struct prng *prng,
                     const uint64_t *tick)
{
    assert(network != NULL && prng != NULL && tick != NULL);
    assert(packet_size_max >= VSR_HEADER_SIZE);
    memset(network, 0, sizeof(*network));
    network->packets = calloc(SIM_NETWORK_PACKETS_MAX, sizeof(struct sim_packet));
    network->data = calloc(SIM_NETWORK_PACKETS_MAX, packet_size_max);
    if (network->packets == NULL || network->data == NULL) {
        sim_network_deinit(network);
        return -ENOMEM;
    }
    network->packet_size_max = packet_size_max;
    network->prng = prng;
    network->tick = tick;
    for (uint32_t index = 0; index < SIM_NETWORK_PACKETS_MAX; index++) {
        network->packets[index].data = network->data + (uint64_t)index * packet_size_max;
    }
    sim_network_reset(network, 1);
    return 0;
}

void sim_network_deinit(struct sim_network *network)
{
    assert(network != NULL);
    free(network->packets);
    free(network->data);
    network->packets = NULL;
    network->data = NULL;
}

void sim_network_reset(struct sim_network *network, uint32_t machine_count)
{
    assert(machine_count >= 1 && machine_count <= SIM_MACHINES_MAX);
    assert(network->packets != NULL);
    for (uint32_t index = 0; index < SIM_NETWORK_PACKETS_MAX; index++) {
        network->packets[index].next = index + 2 <= SIM_NETWORK_PACKETS_MAX ? index + 2 : 0;
    }
    network->free_head = 1;
    memset(network->buckets, 0, sizeof(network->buckets));
    memset(network->blocked, 0, sizeof(network->blocked));
    memset(network->clogged_until, 0, sizeof(network->clogged_until));
    memset(network->in_flight, 0, sizeof(network->in_flight));
    memset(&network->faults, 0, sizeof(network->faults));
    network->faults.delay_ticks_max = 1;
    network->partitioned = false;
    network->machine_count = machine_count;
    network->sent = 0;
    network->dropped = 0;
    network->dropped_full = 0;
    network->clogs = 0;
}

static void sim_network_enqueue(struct sim_network *network, int32_t source_machine,
                                int32_t target_machine, uint32_t target,
                                const struct vsr_header *header, const void *body)
{
    assert(header->size <= network->packet_size_max);
    assert(network->faults.delay_ticks_max < SIM_NETWORK_DELAY_TICKS_MAX);
    bool is_link = source_machine >= 0 && target_machine >= 0;
    uint32_t capacity = network->faults.link_capacity;
    if (is_link && capacity != 0 &&
        network->in_flight[source_machine][target_machine] >= capacity) {
        network->dropped++;
        network->dropped_full++;
        return;
    }
    if (network->free_head == 0) {
        network->dropped++;
        return;
    }
    uint32_t index = network->free_head - 1;
    struct sim_packet *packet = &network->packets[index];
    network->free_head = packet->next;
    packet->target = target;
    packet->source_machine = source_machine;
    packet->target_machine = target_machine;
    packet->due_tick =
        *network->tick + prng_between(network->prng, 1, network->faults.delay_ticks_max);
    if (is_link) {
        network->in_flight[source_machine][target_machine]++;
        uint64_t clogged_until = network->clogged_until[source_machine][target_machine];
        if (clogged_until > packet->due_tick) {
            packet->due_tick = clogged_until; /* held on the clogged path, not lost */
        }
    }
    memcpy(packet->data, header, VSR_HEADER_SIZE);
    if (header->size > VSR_HEADER_SIZE) {
        memcpy(packet->data + VSR_HEADER_SIZE, body, header->size - VSR_HEADER_SIZE);
    }
    uint32_t bucket = (uint32_t)(packet->due_tick % SIM_NETWORK_DELAY_TICKS_MAX);
    packet->next = network->buckets[bucket];
    network->buckets[bucket] = index + 1;
}

void sim_network_send(struct sim_network *network, int32_t source_machine, int32_t target_machine,
                      uint32_t target, const struct vsr_header *header, const void *body)
{
    assert(header != NULL);
    assert(source_machine < SIM_MACHINES_MAX && target_machine < SIM_MACHINES_MAX);
    network->sent++;
    if (source_machine >= 0 && target_machine >= 0 &&
        network->blocked[source_machine][target_machine]) {
        network->dropped++;
        return;
    }
    if (prng_percent(network->prng, network->faults.loss_percent)) {
        network->dropped++;
        return;
    }
    sim_network_enqueue(network, source_machine, target_machine, target, header, body);
    if (prng_percent(network->prng, network->faults.duplicate_percent)) {
        sim_network_enqueue(network, source_machine, target_machine, target, header, body);
    }
}

/* Starts a partition: a random side of machines, symmetric or one-way (send-only side). */
static void sim_network_partition(struct sim_network *network)
{
    uint32_t count = network->machine_count;
    assert(count >= 2);
    uint64_t side = prng_between(network->prng, 1, (1ull << count) - 2);
    bool one_way = prng_percent(network->prng, 30);
    for (uint32_t a = 0; a < count; a++) {
        for (uint32_t b = 0; b < count; b++) {
            bool a_in = ((side >> a) & 1) != 0;
            bool b_in = ((side >> b) & 1) != 0;
            if (a_in != b_in && (!one_way || b_in)) {
                network->blocked[a][b] = true; /* one-way: side cannot receive */
            }
        }
    }
    network->partitioned = true;
}

/* Clogs one random link for a while: its packets wait (TigerBeetle's path clog). */
static void sim_network_clog(struct sim_network *network)
{
    uint32_t count = network->machine_count;
    assert(count >= 2);
    uint32_t from = (uint32_t)prng_range(network->prng, count);
    uint32_t to = (uint32_t)prng_range(network->prng, count - 1);
    to += to >= from ? 1 : 0;
    assert(to < count && to != from);
    uint64_t mean = network->faults.clog_ticks_mean > 0 ? network->faults.clog_ticks_mean : 1;
    /* Roughly exponential: a uniform duration, doubled or halved now and then. */
    uint64_t ticks = prng_between(network->prng, 1, 2 * mean);
    if (prng_percent(network->prng, 20)) {
        ticks *= 2;
    }
    network->clogged_until[from][to] = *network->tick + ticks;
    network->clogs++;
}

void sim_network_tick(struct sim_network *network)
{
    assert(network->deliver != NULL);
    uint32_t bucket = (uint32_t)(*network->tick % SIM_NETWORK_DELAY_TICKS_MAX);
    uint32_t cursor = network->buckets[bucket];
    network->buckets[bucket] = 0;
    for (uint32_t round = 0; cursor != 0 && round < SIM_NETWORK_PACKETS_MAX; round++) {
        struct sim_packet *packet = &network->packets[cursor - 1];
        uint32_t next = packet->next;
        assert(packet->due_tick >= *network->tick);
        if (packet->due_tick > *network->tick) {
            packet->next = network->buckets[bucket]; /* held by a clog: a later lap */
            network->buckets[bucket] = cursor;
            cursor = next;
            continue;
        }
        if (packet->source_machine >= 0 && packet->target_machine >= 0) {
            assert(network->in_flight[packet->source_machine][packet->target_machine] > 0);
            network->in_flight[packet->source_machine][packet->target_machine]--;
        }
        const struct vsr_header *header = (const struct vsr_header *)packet->data;
        network->deliver(packet->target, header, packet->data + VSR_HEADER_SIZE,
                         network->deliver_context);
        packet->next = network->free_head;
        network->free_head = cursor;
        cursor = next;
    }
    if (network->machine_count < 2) {
        return;
    }
    if (prng_chance(network->prng, network->faults.clog_per_mille, 1000)) {
        sim_network_clog(network);
    }
    if (!network->partitioned &&
        prng_chance(network->prng, network->faults.partition_per_mille, 1000)) {
        sim_network_partition(network);
    } else if (network->partitioned &&
               prng_chance(network->prng, network->faults.heal_per_mille, 1000)) {
        memset(network->blocked, 0, sizeof(network->blocked));
        network->partitioned = false;
    }
}

void sim_network_heal(struct sim_network *network)
{
    assert(network != NULL);
    memset(network->blocked, 0, sizeof(network->blocked));
    for (uint32_t from = 0; from < SIM_MACHINES_MAX; from++) {
        for (uint32_t to = 0; to < SIM_MACHINES_MAX; to++) {
            if (network->clogged_until[from][to] > *network->tick + 1) {
                network->clogged_until[from][to] = *network->tick + 1;
            }
        }
    }
    network->partitioned = false;
    network->faults.clog_per_mille = 0;
    network->faults.loss_percent = 0;
    network->faults.duplicate_percent = 0;
    network->faults.partition_per_mille = 0;
    network->faults.delay_ticks_max = network->faults.delay_ticks_max > 3 ? 3 : 1;
    assert(!network->partitioned);
}
