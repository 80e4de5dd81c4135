/*
 * Forwarding of node-client requests to a group's primary and relaying of replies (see
 * cluster_forward.h). Runs on the shard that owns the group; stateless apart from the
 * struct cluster_forward_state its caller embeds.
 */
#include "node/cluster_forward.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/replica_bus.h"

#include <errno.h>
#include <string.h>

enum { CLUSTER_FORWARD_TAG_SHIFT = 40 };

static const u128 cluster_forward_tag_mask = (u128)0xff << CLUSTER_FORWARD_TAG_SHIFT;

bool cluster_forward_is_multi(const struct broker *broker)
{
    assert(broker != NULL);
    assert(broker->replica_count <= VSR_REPLICAS_MAX);
    return broker->bus != NULL && broker->replica_count > 1;
}

uint64_t cluster_forward_handoff_ns_max(const struct broker *broker)
{
    assert(broker != NULL && broker->config != NULL);
    assert(broker->config->tick_ms > 0);
    return (uint64_t)CLUSTER_FORWARD_PARK_TICKS * broker->config->tick_ms * 1000 * 1000;
}

u128 cluster_forward_client(const struct broker *broker, u128 client)
{
    assert(broker != NULL && client != 0);
    assert((client & cluster_forward_tag_mask) == 0); /* counters stay below 2^40 */
    if (!cluster_forward_is_multi(broker)) {
        return client;
    }
    return client | ((u128)(broker->replica_index + 1u) << CLUSTER_FORWARD_TAG_SHIFT);
}

static uint32_t cluster_forward_table_slot(u128 client)
{
    uint64_t key = (uint64_t)client ^ (uint64_t)(client >> 64);
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    uint32_t slot = (uint32_t)(key % CLUSTER_FORWARD_TABLE_SIZE);
    assert(slot < CLUSTER_FORWARD_TABLE_SIZE);
    return slot;
}

void cluster_forward_table_note(struct cluster_forward_table *table, u128 client, uint8_t replica)
{
    assert(table != NULL);
    assert(replica < VSR_REPLICAS_MAX);
    uint32_t slot = cluster_forward_table_slot(client);
    table->client[slot] = client; /* a collision forgets the other: its resend re-notes it */
    table->replica[slot] = replica;
}

bool cluster_forward_reply_relay(struct broker *broker, uint32_t shard_index, u128 client,
                                 const struct vsr_header *header, const void *body)
{
    assert(broker != NULL && header != NULL);
    assert(header->size >= VSR_HEADER_SIZE);
    if (!cluster_forward_is_multi(broker) || broker->forward_tables == NULL) {
        return false;
    }
    const struct cluster_forward_table *table = &broker->forward_tables[shard_index];
    uint32_t slot = cluster_forward_table_slot(client);
    uint32_t tag = (uint32_t)((client & cluster_forward_tag_mask) >> CLUSTER_FORWARD_TAG_SHIFT);
    if (client == 0 || table->client[slot] != client ||
        table->replica[slot] == broker->replica_index) {
        return false; /* never heard over the bus: this node's client */
    }
    /* A node client carries its node's tag; an exactly-once client's own id (random, kept
     * across reconnects) may carry anything there, and its table entry names the node its
     * last request came from. */
    maybe(tag == table->replica[slot] + 1u);
    struct vsr_header relayed = *header;
    relayed.replica = broker->replica_index; /* a cached reply may name its first author */
    vsr_header_seal(&relayed, body, header->size - VSR_HEADER_SIZE);
    int result = replica_bus_send(broker->bus, shard_index, table->replica[slot], &relayed, body);
    log_debug("cluster_reply_relayed", "to=%u command=%s request=%llu result=%d", tag - 1,
              vsr_command_name(header->command), (unsigned long long)header->u.reply.request,
              result);
    return true;
}

int cluster_forward_request(struct broker *broker, uint32_t shard_index,
                            struct vsr_replica *replica, struct vsr_header *header,
                            const void *body, uint32_t body_size, bool *is_local_out)
{
    assert(broker != NULL && replica != NULL && header != NULL && is_local_out != NULL);
    assert(header->command == VSR_COMMAND_REQUEST);
    *is_local_out = false;
    if (vsr_replica_is_primary(replica)) {
        *is_local_out = true;
        vsr_replica_request_seal_local(header, body_size); /* no pass over the body */
        vsr_replica_on_local_request(replica, header, body);
        return 0;
    }
    uint8_t primary = vsr_replica_primary_index(replica, replica->view);
    if (!cluster_forward_is_multi(broker) || replica->status != VSR_STATUS_NORMAL ||
        primary == broker->replica_index) {
        return -EAGAIN; /* no primary to send to now */
    }
    header->replica = broker->replica_index;
    header->view = replica->view;
    vsr_header_seal(header, body, body_size);
    int result = replica_bus_send(broker->bus, shard_index, primary, header, body);
    assert(result <= 0);
    log_debug("cluster_request_forwarded", "to=%u view=%u operation=%u request=%llu result=%d",
              primary, replica->view, header->u.request.operation,
              (unsigned long long)header->u.request.request, result);
    return result == 0 ? 0 : -EAGAIN;
}

void cluster_forward_register(struct broker *broker, uint32_t shard_index,
                              struct vsr_replica *replica, u128 client)
{
    assert(broker != NULL && replica != NULL);
    assert(client != 0);
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, replica->config.cluster, replica->view, 0,
                    &replica->config.group);
    header.u.request.client = client;
    header.u.request.operation = VSR_OPERATION_REGISTER;
    bool is_local = false;
    (void)cluster_forward_request(broker, shard_index, replica, &header, NULL, 0, &is_local);
}

void cluster_forward_progress(struct cluster_forward_state *state)
{
    assert(state != NULL);
    state->progress_tick = state->tick;
    state->resend_tick = state->tick;
    assert(state->progress_tick == state->tick);
}

enum cluster_forward_action cluster_forward_tick(struct cluster_forward_state *state,
                                                 bool is_waiting)
{
    assert(state != NULL);
    assert(state->progress_tick <= state->tick && state->resend_tick <= state->tick);
    state->tick++;
    if (!is_waiting) {
        cluster_forward_progress(state);
        return CLUSTER_FORWARD_WAIT;
    }
    if (state->tick - state->progress_tick >= CLUSTER_FORWARD_PARK_TICKS) {
        cluster_forward_progress(state);
        return CLUSTER_FORWARD_EXPIRE;
    }
    if (state->tick - state->resend_tick >= CLUSTER_FORWARD_RESEND_TICKS) {
        state->resend_tick = state->tick;
        return CLUSTER_FORWARD_RESEND;
    }
    return CLUSTER_FORWARD_WAIT;
}

bool cluster_forward_is_exactly_once_register_due(struct cluster_forward_state *state)
{
    assert(state != NULL);
    assert(state->exactly_once_register_tick <= state->tick + 1);
    if (state->exactly_once_register_tick != 0 &&
        state->tick < state->exactly_once_register_tick + CLUSTER_FORWARD_RESEND_TICKS) {
        return false;
    }
    state->exactly_once_register_tick = state->tick + 1;
    return true;
}

bool cluster_forward_is_register_due(struct cluster_forward_state *state)
{
    assert(state != NULL);
    assert(state->register_tick <= state->tick + CLUSTER_FORWARD_REGISTER_TICKS);
    if (state->tick < state->register_tick + CLUSTER_FORWARD_REGISTER_TICKS &&
        state->register_tick != 0) {
        return false;
    }
    state->register_tick = state->tick + 1;
    return true;
}
