/*
 * Shared heartbeats of a shard's partition groups (vsr/heartbeat.h, issue 4 item 9): one
 * heartbeat round per link (a peer shard that owns some of these groups there) every
 * VSR_HEARTBEAT_INTERVAL_TICKS instead of one commit heartbeat per group; the groups'
 * replicas run with heartbeat_shared. Links are (peer, peer shard) pairs, numbered
 * peer * peer_shard_count_max + peer shard. A shard whose partitions_max exceeds what one
 * round carries keeps per-group heartbeats. Runs on the owning shard only.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/cluster_forward.h"
#include "node/data_plane_internal.h"
#include "node/replica_bus.h"

#include <string.h>

enum { DATA_PLANE_HEARTBEAT_LOG_TICKS = 3000 }; /* a stats line every 30 s */

static struct vsr_replica *data_plane_heartbeat_replica_at(uint32_t slot, void *context)
{
    struct data_plane *plane = context;
    assert(slot < plane->partitions_max);
    struct data_partition *partition = &plane->partitions[slot];
    return partition->is_used && partition->superblock_slot >= 0 ? &partition->replica : NULL;
}

static int32_t data_plane_heartbeat_find(const struct vsr_group *group, void *context)
{
    struct data_plane *plane = context;
    if (group->kind != VSR_GROUP_KIND_PARTITION) {
        return -1;
    }
    struct data_partition *partition = data_plane_find_group(plane, group);
    if (partition == NULL) {
        data_plane_bus_open_note(plane, group); /* opened next pass when the metadata knows it */
        return -1;
    }
    return (int32_t)(partition - plane->partitions);
}

static uint32_t data_plane_heartbeat_stride(const struct data_plane *plane)
{
    return plane->broker->bus->options.peer_shard_count_max;
}

static bool data_plane_heartbeat_is_routed(uint32_t slot, uint32_t link, void *context)
{
    struct data_plane *plane = context;
    uint32_t stride = data_plane_heartbeat_stride(plane);
    assert(slot < plane->partitions_max);
    return replica_bus_is_routed(plane->broker->bus, plane->shard_index, (uint8_t)(link / stride),
                                 link % stride, &plane->partitions[slot].group);
}

static bool data_plane_heartbeat_is_up(uint32_t link, void *context)
{
    struct data_plane *plane = context;
    uint32_t stride = data_plane_heartbeat_stride(plane);
    return replica_bus_is_link_up(plane->broker->bus, plane->shard_index, (uint8_t)(link / stride),
                                  link % stride);
}

static bool data_plane_heartbeat_send(uint32_t link, const struct vsr_header *header,
                                      const void *body, void *context)
{
    struct data_plane *plane = context;
    uint32_t stride = data_plane_heartbeat_stride(plane);
    int result = replica_bus_send_shard(plane->broker->bus, plane->shard_index,
                                        (uint8_t)(link / stride), link % stride, header, body);
    return result == 0;
}

static struct vsr_heartbeat_host data_plane_heartbeat_host(struct data_plane *plane)
{
    struct vsr_heartbeat_host host = {.replica_at = data_plane_heartbeat_replica_at,
                                      .find = data_plane_heartbeat_find,
                                      .is_routed = data_plane_heartbeat_is_routed,
                                      .is_up = data_plane_heartbeat_is_up,
                                      .send = data_plane_heartbeat_send,
                                      .context = plane};
    return host;
}

int data_plane_heartbeat_start(struct data_plane *plane)
{
    struct broker *broker = plane->broker;
    assert(!plane->has_heartbeat);
    if (!cluster_forward_is_multi(broker) || broker->bus == NULL) {
        return 0;
    }
    uint32_t stride = broker->bus->options.peer_shard_count_max;
    uint64_t epoch = (broker->boot_nonce ^ ((uint64_t)plane->shard_index << 48)) | 1;
    int result = vsr_heartbeat_init(
        &plane->heartbeat, broker->cluster, broker->replica_index, plane->shard_index,
        plane->partitions_max, broker->replica_count * stride, epoch, VSR_HEARTBEAT_CHUNK_ENTRIES);
    if (result == -RUNNEL_ECONFIG) {
        log_warn("heartbeat_per_group",
                 "shard=%u partitions_max=%u: above %u, groups send "
                 "their own heartbeats",
                 plane->shard_index, plane->partitions_max,
                 VSR_HEARTBEAT_CHUNK_ENTRIES * VSR_HEARTBEAT_CHUNKS_MAX);
        return 0;
    }
    if (result != 0) {
        return result;
    }
    for (uint32_t peer = 0; peer < broker->replica_count; peer++) {
        for (uint32_t peer_shard = 0; peer_shard < stride && peer != broker->replica_index;
             peer_shard++) {
            vsr_heartbeat_link_set(&plane->heartbeat, peer * stride + peer_shard, (uint8_t)peer,
                                   peer_shard);
        }
    }
    plane->has_heartbeat = true;
    return 0;
}

void data_plane_heartbeat_deinit(struct data_plane *plane)
{
    if (plane->has_heartbeat) {
        vsr_heartbeat_deinit(&plane->heartbeat);
        plane->has_heartbeat = false;
    }
}

static void data_plane_heartbeat_log(const struct data_plane *plane)
{
    const struct vsr_heartbeat_stats *stats = &plane->heartbeat.stats;
    log_info("heartbeat_stats",
             "shard=%u rounds=%llu messages_sent=%llu bytes_sent=%llu entries_sent=%llu "
             "rounds_received=%llu invalid=%llu stale=%llu unknown_groups=%llu",
             plane->shard_index, (unsigned long long)stats->rounds,
             (unsigned long long)stats->messages_sent, (unsigned long long)stats->bytes_sent,
             (unsigned long long)stats->entries_sent, (unsigned long long)stats->rounds_received,
             (unsigned long long)stats->invalid, (unsigned long long)stats->stale,
             (unsigned long long)stats->unknown_groups);
}

void data_plane_heartbeat_tick(struct data_plane *plane)
{
    if (!plane->has_heartbeat) {
        return;
    }
    struct vsr_heartbeat_host host = data_plane_heartbeat_host(plane);
    vsr_heartbeat_tick(&plane->heartbeat, &host, plane->partitions_end);
    if (plane->heartbeat.tick % DATA_PLANE_HEARTBEAT_LOG_TICKS == 0) {
        data_plane_heartbeat_log(plane);
    }
}

void data_plane_on_heartbeat(struct data_plane *plane, const struct vsr_header *header,
                             const void *body)
{
    assert(plane != NULL && header != NULL);
    assert(header->group.kind == VSR_GROUP_KIND_SHARD);
    if (!plane->has_heartbeat) {
        plane->bus_dropped++;
        return;
    }
    uint32_t stride = data_plane_heartbeat_stride(plane);
    if (header->group.topic_id >= stride) {
        plane->heartbeat.stats.invalid++; /* no such peer shard: untrusted, dropped */
        return;
    }
    struct vsr_heartbeat_host host = data_plane_heartbeat_host(plane);
    uint32_t link = header->replica * stride + header->group.topic_id;
    vsr_heartbeat_on_message(&plane->heartbeat, &host, link, header, body);
}
