/*
 * runneld's configuration: every key runneld accepts, its type, range and default.
 * Filled once at start-up (defaults, then --config FILE, then each --set in order) and
 * read-only afterwards, so every shard may read it without locks.
 */
#ifndef RUNNEL_NODE_CONFIG_H
#define RUNNEL_NODE_CONFIG_H

#include "lib/config.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    NODE_CONFIG_PATH_SIZE_MAX = 512,
    NODE_CONFIG_ADDRESS_SIZE_MAX = 64,
    NODE_CONFIG_PEERS_SIZE_MAX = 1024,
    NODE_CONFIG_CLUSTER_ID_SIZE_MAX = 33 /* 32 hex digits and the NUL */
};

enum node_durability { NODE_DURABILITY_FSYNC = 0, NODE_DURABILITY_REPLICATED = 1 };

struct node_config {
    /* [server] */
    char data_dir[NODE_CONFIG_PATH_SIZE_MAX];
    char client_address[NODE_CONFIG_ADDRESS_SIZE_MAX];
    uint32_t client_port;
    char replica_address[NODE_CONFIG_ADDRESS_SIZE_MAX];
    uint32_t replica_port;
    uint32_t log_level; /* enum log_level */
    /* [shards] */
    uint32_t shard_count; /* 0: one per CPU of the affinity mask */
    /* [cluster] */
    uint32_t replica_index;
    uint32_t replica_count;
    char peers[NODE_CONFIG_PEERS_SIZE_MAX]; /* comma-separated host:port, by replica index */
    char cluster_id[NODE_CONFIG_CLUSTER_ID_SIZE_MAX]; /* hex; "": random at format (n = 1) */
    char cluster_key_file[NODE_CONFIG_PATH_SIZE_MAX]; /* 64 hex digits; needed when n > 1 */
    uint32_t ping_interval_ms;                        /* replica bus keep-alive per link */
    uint32_t peer_timeout_ms;          /* a link silent this long is closed and redialed */
    uint32_t reconnect_backoff_max_ms; /* redial backoff doubles up to this */
    uint32_t forward_credit_max;       /* forwarded client requests in flight per link */
    uint32_t member_lease_ms; /* unreachable node: its clients' group members are released */
    /* [storage] */
    uint32_t durability; /* enum node_durability: topic default */
    uint64_t segment_size_bytes;
    uint64_t preallocate_bytes;
    bool direct_io;
    /* [limits] */
    uint64_t frame_size_bytes_max;
    uint32_t connections_max;
    uint32_t partitions_max;
    uint32_t requests_in_flight_max;
    uint32_t idle_timeout_ms;
    uint32_t pipeline_depth_max;
    uint64_t partition_ops_max;      /* a partition group's VSR log ring (ops) */
    uint64_t metadata_ops_max;       /* the metadata group's VSR log ring (ops) */
    uint32_t metadata_replies_bytes; /* kept long metadata replies (metadata_limits) */
    uint64_t batch_size_bytes_max;   /* largest SendMessages batch */
    uint64_t poll_reply_bytes_max;   /* poll replies are capped here */
    uint32_t requests_max;           /* broker requests in flight per shard */
    uint32_t large_requests_max;     /* of them, with a batch-sized buffer */
    /* [runtime] (per shard unless noted) */
    bool pin_threads;
    uint32_t ring_entries;      /* SQ entries; the CQ gets 8x */
    uint32_t recv_buffer_count; /* provided receive buffers, a power of two */
    uint32_t recv_buffer_size_bytes;
    uint32_t send_buffer_size_bytes;  /* per connection */
    uint32_t send_zc_min_bytes;       /* zero-copy sends from this size on; 0: never */
    uint64_t fixed_buffer_size_bytes; /* registered for file I/O (counts against memlock) */
    uint32_t reassembly_slots_max;    /* frames split across receive buffers at once */
    uint32_t timers_max;
    uint32_t xshard_queue_entries_max; /* per ordered pair of shards, a power of two */
    uint32_t iowq_workers_max;         /* io-wq workers per class */
    uint32_t tick_ms;                  /* VSR tick */
    uint32_t drain_timeout_ms;         /* shutdown: longest wait for requests in flight */
};

/* The schema behind struct node_config. */
const struct config_schema *node_config_schema(void);

/* Fills config with the built-in defaults (never fails for the built-in table). */
void node_config_defaults(struct node_config *config);

/* Cross-key checks after all values are in; returns 0 or -RUNNEL_ECONFIG with error set.
 * In a cluster limits.frame_size_bytes_max must hold node_config_link_frame_bytes_max. */
int node_config_validate(const struct node_config *config, struct config_error *error);

/* The largest partition record, VSR header included: a prepare of one whole batch
 * (limits.batch_size_bytes_max + 512). */
uint64_t node_config_record_bytes_max(const struct node_config *config);

/* The largest frame a replica bus link carries: a record (a prepare, or the forwarded
 * request it comes from), with room for a view change's window of headers
 * ((VSR_PIPELINE_MAX + 1) x 256 B) on top, or a forwarded poll's reply (half of
 * limits.poll_reply_bytes_max, node/data_plane_poll_forward.c, + 4 KiB). */
uint64_t node_config_link_frame_bytes_max(const struct node_config *config);

/* A client connection's output ring: a whole poll reply (limits.poll_reply_bytes_max +
 * 64 KiB), at least runtime.send_buffer_size_bytes. */
uint64_t node_config_client_ring_bytes(const struct node_config *config);

/* A replica link's output ring (net_connection_output_grow): four of the largest link
 * frames, so that two forwarded requests (the client lane: half the ring) or three
 * prepares (the consensus lane: seven eighths) of that size are in flight at once; at
 * least a client connection's ring. */
uint64_t node_config_link_ring_bytes(const struct node_config *config);

/* Link rings per shard: two per peer and two to spare (a redialed link's new connection
 * comes up while the old one's sends end); 0 on a single node. */
uint32_t node_config_link_rings_max(const struct node_config *config);

#endif
