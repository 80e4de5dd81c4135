/*
 * Shared heartbeats per (shard, peer) (see heartbeat.h): the sender's rounds of changed
 * entries, the receiver's chunk assembly, vouching and acks. Runs on one shard.
 */
#include "vsr/heartbeat.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vsr_heartbeat_init(struct vsr_heartbeat *heartbeat, u128 cluster, uint8_t replica,
                       uint32_t shard, uint32_t slots_max, uint32_t links_max, uint64_t epoch,
                       uint32_t chunk_entries)
{
    assert(heartbeat != NULL);
    assert(epoch != 0 && links_max > 0);
    memset(heartbeat, 0, sizeof(*heartbeat));
    if (chunk_entries == 0 || chunk_entries > VSR_HEARTBEAT_CHUNK_ENTRIES ||
        slots_max > chunk_entries * VSR_HEARTBEAT_CHUNKS_MAX || replica >= VSR_REPLICAS_MAX) {
        return -RUNNEL_ECONFIG;
    }
    heartbeat->chunk_entries = chunk_entries;
    heartbeat->cluster = cluster;
    heartbeat->replica = replica;
    heartbeat->shard = shard;
    heartbeat->epoch = epoch;
    heartbeat->slots_max = slots_max;
    heartbeat->links_max = links_max;
    heartbeat->slots = calloc(slots_max + 1, sizeof(*heartbeat->slots));
    heartbeat->links = calloc(links_max, sizeof(*heartbeat->links));
    heartbeat->buffer = calloc(slots_max + 1, sizeof(*heartbeat->buffer));
    if (heartbeat->slots == NULL || heartbeat->links == NULL || heartbeat->buffer == NULL) {
        vsr_heartbeat_deinit(heartbeat);
        return -ENOMEM;
    }
    return 0;
}

void vsr_heartbeat_deinit(struct vsr_heartbeat *heartbeat)
{
    assert(heartbeat != NULL);
    free(heartbeat->slots);
    free(heartbeat->links);
    free(heartbeat->buffer);
    heartbeat->slots = NULL;
    heartbeat->links = NULL;
    heartbeat->buffer = NULL;
}

void vsr_heartbeat_link_set(struct vsr_heartbeat *heartbeat, uint32_t link, uint8_t peer,
                            uint32_t peer_shard)
{
    assert(link < heartbeat->links_max);
    assert(peer < VSR_REPLICAS_MAX && peer != heartbeat->replica);
    struct vsr_heartbeat_link *entry = &heartbeat->links[link];
    memset(entry, 0, sizeof(*entry));
    entry->is_used = true;
    entry->peer = peer;
    entry->peer_shard = peer_shard;
}

static bool vsr_heartbeat_is_routed(const struct vsr_heartbeat_host *host, uint32_t slot,
                                    uint32_t link)
{
    return host->is_routed == NULL || host->is_routed(slot, link, host->context);
}

/* Records slot's entry now; a change is carried from the next round on. */
static void vsr_heartbeat_note(struct vsr_heartbeat *heartbeat,
                               const struct vsr_heartbeat_host *host, uint32_t slot)
{
    struct vsr_heartbeat_slot *record = &heartbeat->slots[slot];
    struct vsr_replica *replica = host->replica_at(slot, host->context);
    if (replica == NULL) {
        record->changed_round = 0;
        return;
    }
    struct vsr_heartbeat_entry entry;
    vsr_replica_heartbeat_entry(replica, &entry);
    if (record->changed_round == 0 || memcmp(&entry, &record->entry, sizeof(entry)) != 0) {
        record->entry = entry;
        record->changed_round = heartbeat->round + 1;
    }
    assert(record->changed_round != 0);
}

/* The frame of a heartbeat or ack on link. */
static void vsr_heartbeat_frame(const struct vsr_heartbeat *heartbeat, uint32_t link,
                                uint8_t command, struct vsr_header *header)
{
    const struct vsr_heartbeat_link *entry = &heartbeat->links[link];
    assert(entry->is_used);
    struct vsr_group group = {
        .kind = VSR_GROUP_KIND_SHARD, .stream_id = entry->peer_shard, .topic_id = heartbeat->shard};
    vsr_header_init(header, command, heartbeat->cluster, 0, heartbeat->replica, &group);
}

static bool vsr_heartbeat_send(struct vsr_heartbeat *heartbeat,
                               const struct vsr_heartbeat_host *host, uint32_t link,
                               const struct vsr_header *header, const void *body)
{
    if (!host->send(link, header, body, host->context)) {
        return false;
    }
    heartbeat->stats.messages_sent++;
    heartbeat->stats.bytes_sent += header->size;
    return true;
}

/* Sends this round to link: the entries it has not acknowledged (all on a sweep). */
static void vsr_heartbeat_send_round(struct vsr_heartbeat *heartbeat,
                                     const struct vsr_heartbeat_host *host, uint32_t link)
{
    const struct vsr_heartbeat_link *entry = &heartbeat->links[link];
    bool is_sweep = heartbeat->round % VSR_HEARTBEAT_SWEEP_ROUNDS == 0;
    uint32_t count = 0;
    for (uint32_t slot = 0; slot < heartbeat->slots_end; slot++) {
        const struct vsr_heartbeat_slot *record = &heartbeat->slots[slot];
        if (record->changed_round != 0 &&
            (is_sweep || record->changed_round > entry->acked_round) &&
            vsr_heartbeat_is_routed(host, slot, link)) {
            heartbeat->buffer[count++] = record->entry;
        }
    }
    assert(count <= heartbeat->slots_max);
    uint32_t per_chunk = heartbeat->chunk_entries;
    uint32_t chunk_count = (count + per_chunk - 1) / per_chunk;
    chunk_count = chunk_count == 0 ? 1 : chunk_count;
    assert(chunk_count <= VSR_HEARTBEAT_CHUNKS_MAX);
    for (uint32_t chunk = 0; chunk < chunk_count; chunk++) {
        uint32_t first = chunk * per_chunk;
        uint32_t entries = count - first < per_chunk ? count - first : per_chunk;
        struct vsr_header header;
        vsr_heartbeat_frame(heartbeat, link, VSR_COMMAND_HEARTBEAT, &header);
        header.u.heartbeat.epoch = heartbeat->epoch;
        header.u.heartbeat.round = heartbeat->round;
        header.u.heartbeat.chunk = (uint16_t)chunk;
        header.u.heartbeat.chunk_count = (uint16_t)chunk_count;
        header.u.heartbeat.entry_count = (uint16_t)entries;
        header.u.heartbeat.flags = is_sweep ? VSR_HEARTBEAT_FLAG_SWEEP : 0;
        const void *body = entries > 0 ? &heartbeat->buffer[first] : NULL;
        vsr_header_seal(&header, body, entries * (uint32_t)sizeof(struct vsr_heartbeat_entry));
        if (!vsr_heartbeat_send(heartbeat, host, link, &header, body)) {
            return; /* the link is down: the next round carries it all again */
        }
        heartbeat->stats.entries_sent += entries;
    }
}

void vsr_heartbeat_tick(struct vsr_heartbeat *heartbeat, const struct vsr_heartbeat_host *host,
                        uint32_t slots_end)
{
    assert(heartbeat->slots != NULL && host != NULL);
    assert(slots_end <= heartbeat->slots_max);
    for (uint32_t slot = slots_end; slot < heartbeat->slots_end; slot++) {
        heartbeat->slots[slot].changed_round = 0;
    }
    heartbeat->slots_end = slots_end;
    heartbeat->tick++;
    for (uint32_t slot = 0; slot < slots_end; slot++) {
        vsr_heartbeat_note(heartbeat, host, slot);
    }
    if (heartbeat->tick % VSR_HEARTBEAT_INTERVAL_TICKS != 0) {
        return;
    }
    heartbeat->round++;
    heartbeat->stats.rounds++;
    for (uint32_t link = 0; link < heartbeat->links_max; link++) {
        if (heartbeat->links[link].is_used &&
            (host->is_up == NULL || host->is_up(link, host->context))) {
            vsr_heartbeat_send_round(heartbeat, host, link);
        }
    }
}

/* A round from link is complete: its groups vouch, the round is acknowledged. */
static void vsr_heartbeat_round_done(struct vsr_heartbeat *heartbeat,
                                     const struct vsr_heartbeat_host *host, uint32_t link)
{
    const struct vsr_heartbeat_link *entry = &heartbeat->links[link];
    bool want_full = false;
    heartbeat->stats.rounds_received++;
    for (uint32_t slot = 0; slot < heartbeat->slots_end; slot++) {
        struct vsr_replica *replica = host->replica_at(slot, host->context);
        if (replica != NULL && vsr_heartbeat_is_routed(host, slot, link)) {
            want_full |= vsr_replica_on_heartbeat(replica, entry->peer, link);
        }
    }
    struct vsr_header ack;
    vsr_heartbeat_frame(heartbeat, link, VSR_COMMAND_HEARTBEAT_ACK, &ack);
    ack.u.heartbeat.epoch = heartbeat->epoch;
    ack.u.heartbeat.epoch_acked = entry->received_epoch;
    ack.u.heartbeat.round = entry->received_round;
    ack.u.heartbeat.flags = want_full ? VSR_HEARTBEAT_FLAG_WANT_FULL : 0;
    vsr_header_seal(&ack, NULL, 0);
    (void)vsr_heartbeat_send(heartbeat, host, link, &ack, NULL);
}

/* Takes a chunk into link's current round; false when it is stale or a duplicate. */
static bool vsr_heartbeat_chunk_take(struct vsr_heartbeat *heartbeat, uint32_t link,
                                     const struct vsr_header_heartbeat *part)
{
    struct vsr_heartbeat_link *entry = &heartbeat->links[link];
    if (part->epoch != entry->received_epoch) {
        entry->received_epoch = part->epoch; /* the sender restarted */
        entry->received_round = 0;
    }
    if (part->round < entry->received_round || (part->round == entry->received_round &&
                                                part->chunk_count != entry->received_chunk_count)) {
        return false;
    }
    if (part->round > entry->received_round) {
        entry->received_round = part->round;
        entry->received_chunk_count = part->chunk_count;
        entry->received_chunks = 0;
        memset(entry->received_mask, 0, sizeof(entry->received_mask));
    }
    uint64_t bit = 1ull << (part->chunk % 64);
    if ((entry->received_mask[part->chunk / 64] & bit) != 0) {
        return false;
    }
    entry->received_mask[part->chunk / 64] |= bit;
    entry->received_chunks++;
    assert(entry->received_chunks <= entry->received_chunk_count);
    return true;
}

static void vsr_heartbeat_on_chunk(struct vsr_heartbeat *heartbeat,
                                   const struct vsr_heartbeat_host *host, uint32_t link,
                                   const struct vsr_header *header, const uint8_t *body)
{
    const struct vsr_header_heartbeat *part = &header->u.heartbeat;
    const struct vsr_heartbeat_link *entry = &heartbeat->links[link];
    if (part->epoch == 0 || part->epoch_acked != 0 || part->round == 0 || part->chunk_count == 0 ||
        part->chunk_count > VSR_HEARTBEAT_CHUNKS_MAX || part->chunk >= part->chunk_count ||
        part->entry_count > VSR_HEARTBEAT_CHUNK_ENTRIES ||
        (part->flags & ~(uint32_t)VSR_HEARTBEAT_FLAG_SWEEP) != 0 ||
        header->size != VSR_HEADER_SIZE + part->entry_count * sizeof(struct vsr_heartbeat_entry)) {
        heartbeat->stats.invalid++;
        return;
    }
    if (!vsr_heartbeat_chunk_take(heartbeat, link, part)) {
        heartbeat->stats.stale++;
        return;
    }
    for (uint32_t index = 0; index < part->entry_count; index++) {
        struct vsr_heartbeat_entry group_entry;
        memcpy(&group_entry, body + (size_t)index * sizeof(group_entry), sizeof(group_entry));
        int32_t slot = group_entry.group.kind == VSR_GROUP_KIND_PARTITION ||
                               group_entry.group.kind == VSR_GROUP_KIND_METADATA
                           ? host->find(&group_entry.group, host->context)
                           : -1;
        if (slot < 0 || (uint32_t)slot >= heartbeat->slots_end ||
            !vsr_heartbeat_is_routed(host, (uint32_t)slot, link)) {
            heartbeat->stats.unknown_groups++;
            continue;
        }
        struct vsr_replica *replica = host->replica_at((uint32_t)slot, host->context);
        if (replica != NULL) {
            vsr_replica_on_heartbeat_entry(replica, entry->peer, link, &group_entry);
        }
    }
    if (entry->received_chunks == entry->received_chunk_count) {
        vsr_heartbeat_round_done(heartbeat, host, link);
    }
}

static void vsr_heartbeat_on_ack(struct vsr_heartbeat *heartbeat,
                                 const struct vsr_heartbeat_host *host, uint32_t link,
                                 const struct vsr_header *header)
{
    const struct vsr_header_heartbeat *part = &header->u.heartbeat;
    struct vsr_heartbeat_link *entry = &heartbeat->links[link];
    if (part->epoch == 0 || part->epoch_acked == 0 || part->round == 0 || part->chunk != 0 ||
        part->chunk_count != 0 || part->entry_count != 0 || header->size != VSR_HEADER_SIZE ||
        (part->flags & ~(uint32_t)VSR_HEARTBEAT_FLAG_WANT_FULL) != 0) {
        heartbeat->stats.invalid++;
        return;
    }
    if (part->epoch_acked != heartbeat->epoch || part->round > heartbeat->round) {
        heartbeat->stats.stale++; /* an ack of a previous start's round */
        return;
    }
    if (part->epoch != entry->peer_epoch) {
        entry->peer_epoch = part->epoch; /* the peer restarted: every group again */
        entry->acked_round = 0;
    } else if (part->round > entry->acked_round) {
        entry->acked_round = part->round;
    }
    if ((part->flags & VSR_HEARTBEAT_FLAG_WANT_FULL) != 0 &&
        heartbeat->round >= entry->full_round + VSR_HEARTBEAT_FULL_ROUNDS_MIN) {
        entry->full_round = heartbeat->round;
        entry->acked_round = 0;
    }
    for (uint32_t slot = 0; slot < heartbeat->slots_end; slot++) {
        struct vsr_replica *replica = host->replica_at(slot, host->context);
        if (replica != NULL && vsr_heartbeat_is_routed(host, slot, link)) {
            vsr_replica_on_peer_alive(replica, entry->peer);
        }
    }
}

void vsr_heartbeat_on_message(struct vsr_heartbeat *heartbeat,
                              const struct vsr_heartbeat_host *host, uint32_t link,
                              const struct vsr_header *header, const void *body)
{
    assert(heartbeat->slots != NULL && host != NULL && header != NULL);
    const struct vsr_heartbeat_link *entry =
        link < heartbeat->links_max ? &heartbeat->links[link] : NULL;
    if (entry == NULL || !entry->is_used || header->replica != entry->peer ||
        header->group.kind != VSR_GROUP_KIND_SHARD || header->group.stream_id != heartbeat->shard ||
        header->group.topic_id != entry->peer_shard || header->cluster != heartbeat->cluster) {
        heartbeat->stats.invalid++;
        return;
    }
    if (header->command == VSR_COMMAND_HEARTBEAT) {
        vsr_heartbeat_on_chunk(heartbeat, host, link, header, body);
    } else if (header->command == VSR_COMMAND_HEARTBEAT_ACK) {
        vsr_heartbeat_on_ack(heartbeat, host, link, header);
    } else {
        heartbeat->stats.invalid++;
    }
}
