/*
 * Iggy system commands (research/iggy-protocol.md §3.1 codes 1-22, §3.11, §3.12): ping
 * (empty both ways), stats, snapshot, cluster metadata, options.describe, me, client get
 * and list. Request bodies: 1, 10, 12, 20, 22 are empty; 11, 13 and 21 have decoders.
 *
 * Replies:
 *   10 stats            stats (108-byte fixed part, strings, cache metrics, tail)
 *   11 snapshot         raw ZIP bytes (status 9000 when over the frame limit)
 *   12 cluster.metadata cluster header + node x node_count
 *   13 options.describe [count u32] + descriptor x count
 *   20 me, 21 client    client details (21: an empty body when not found)
 *   22 client.list      client x n, to the end of the body
 */
#ifndef RUNNEL_PROTO_IGGY_SYSTEM_H
#define RUNNEL_PROTO_IGGY_SYSTEM_H

#include "proto/iggy_wire.h"

#include <stdbool.h>
#include <stdint.h>

enum { IGGY_STATS_FIXED_SIZE = 108, IGGY_STATS_CACHE_METRIC_SIZE = 32 };

enum iggy_options_scope {
    IGGY_OPTIONS_SCOPE_TOPIC = 1,
    IGGY_OPTIONS_SCOPE_STREAM = 2,
    IGGY_OPTIONS_SCOPE_USER = 3,
};

enum iggy_transport { IGGY_TRANSPORT_TCP = 1, IGGY_TRANSPORT_QUIC = 2, IGGY_TRANSPORT_WS = 4 };

/* 11: [compression u8][n u8][type u8 x n]. */
struct iggy_snapshot_request {
    uint8_t compression;
    struct iggy_bytes types; /* n bytes */
};

struct iggy_stats_cache_metric {
    uint32_t stream_id;
    uint32_t topic_id;
    uint32_t partition_id;
    uint64_t hits;
    uint64_t misses;
    float hit_ratio;
};

/* StatsResponse. Encode reads cache_metrics[cache_metric_count]; decode leaves
 * cache_metrics NULL and the entries in cache_metric_bytes (32 bytes each). */
struct iggy_stats {
    uint32_t process_id;
    float cpu_usage;
    float total_cpu_usage;
    uint64_t memory_usage_bytes;
    uint64_t total_memory_bytes;
    uint64_t available_memory_bytes;
    uint64_t run_time_us;
    uint64_t start_time_us;
    uint64_t read_bytes;
    uint64_t written_bytes;
    uint64_t messages_size_bytes;
    uint32_t stream_count;
    uint32_t topic_count;
    uint32_t partition_count;
    uint32_t segment_count;
    uint64_t message_count;
    uint32_t client_count;
    uint32_t consumer_group_count;
    struct iggy_bytes hostname;
    struct iggy_bytes os_name;
    struct iggy_bytes os_version;
    struct iggy_bytes kernel_version;
    struct iggy_bytes server_version;
    uint32_t server_semver; /* major*1e6 + minor*1e3 + patch, 0 absent */
    uint32_t cache_metric_count;
    const struct iggy_stats_cache_metric *cache_metrics;
    struct iggy_bytes cache_metric_bytes;
    uint32_t thread_count;
    uint64_t free_disk_space_bytes;
    uint64_t total_disk_space_bytes;
};

enum iggy_node_role { IGGY_NODE_LEADER = 0, IGGY_NODE_FOLLOWER = 1 };

struct iggy_cluster_node {
    struct iggy_bytes name; /* [len u32][bytes] */
    struct iggy_bytes ip;   /* [len u32][bytes] */
    uint16_t tcp_port;
    uint16_t quic_port;
    uint16_t http_port;
    uint16_t websocket_port;
    uint8_t role;   /* enum iggy_node_role */
    uint8_t status; /* 0 healthy, 1 starting, 2 stopping, 3 unreachable, 4 maintenance */
};

/* ClusterMetadata: [name_len u32][name][nodes_count u32] then node_count nodes. */
struct iggy_cluster {
    struct iggy_bytes name;
    uint32_t node_count;
};

/* OptionDescriptor: [key WireName][kind u8][default u32-len][description u32-len]. */
struct iggy_option_descriptor {
    struct iggy_bytes key;
    uint8_t kind; /* enum iggy_tlv_kind */
    struct iggy_bytes default_value;
    struct iggy_bytes description;
};

/* ClientResponse (+ groups for ClientDetails). Encode reads group_ids (3 u32 per group:
 * stream, topic, group); decode leaves them in group_bytes (12 bytes each). */
struct iggy_client_info {
    uint32_t client_id;
    uint32_t user_id;          /* UINT32_MAX = none */
    uint8_t transport;         /* enum iggy_transport */
    struct iggy_bytes address; /* "ip:port" */
    uint32_t consumer_group_count;
    const uint32_t *group_ids;
    struct iggy_bytes group_bytes;
};

int iggy_system_snapshot_decode(const uint8_t *body, uint32_t body_size,
                                struct iggy_snapshot_request *out);
int iggy_system_snapshot_encode(struct iggy_writer *writer, const struct iggy_snapshot_request *in);

/* 13: [scope u8]; any byte decodes (Iggy answers scopes other than 1-3 with status 3). */
int iggy_system_options_describe_decode(const uint8_t *body, uint32_t body_size,
                                        uint8_t *scope_out);
int iggy_system_options_describe_encode(struct iggy_writer *writer, uint8_t scope);

/* 21: [client_id u32]. */
int iggy_system_client_get_decode(const uint8_t *body, uint32_t body_size, uint32_t *client_id_out);
int iggy_system_client_get_encode(struct iggy_writer *writer, uint32_t client_id);

int iggy_system_stats_encode(struct iggy_writer *writer, const struct iggy_stats *in);
int iggy_system_stats_decode(struct iggy_reader *reader, struct iggy_stats *out);

int iggy_system_cluster_encode(struct iggy_writer *writer, const struct iggy_cluster *in);
int iggy_system_cluster_decode(struct iggy_reader *reader, struct iggy_cluster *out);
int iggy_system_node_encode(struct iggy_writer *writer, const struct iggy_cluster_node *in);
int iggy_system_node_decode(struct iggy_reader *reader, struct iggy_cluster_node *out);

int iggy_system_descriptor_encode(struct iggy_writer *writer,
                                  const struct iggy_option_descriptor *in);
int iggy_system_descriptor_decode(struct iggy_reader *reader, struct iggy_option_descriptor *out);

/* ClientResponse alone (client.list) or with its groups (ClientDetails: me, client.get). */
int iggy_system_client_encode(struct iggy_writer *writer, const struct iggy_client_info *in,
                              bool with_details);
int iggy_system_client_decode(struct iggy_reader *reader, struct iggy_client_info *out,
                              bool with_details);

#endif
