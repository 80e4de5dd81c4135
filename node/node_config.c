/* runneld's configuration schema and cross-key validation (see node_config.h). */
#include "node/node_config.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/vsr_header.h"
#include "vsr/replica.h"

#include <stddef.h>
#include <stdio.h>

static const char *const log_level_names[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const durability_names[] = {"fsync", "replicated", NULL};

#define KEY_U32(section, name, field, low, high, fallback, text)                                 \
    {                                                                                            \
        section, name, CONFIG_TYPE_U32, offsetof(struct node_config, field), low, high, 0, NULL, \
            fallback, text                                                                       \
    }
#define KEY_U64(section, name, field, low, high, fallback, text)                                 \
    {                                                                                            \
        section, name, CONFIG_TYPE_U64, offsetof(struct node_config, field), low, high, 0, NULL, \
            fallback, text                                                                       \
    }
#define KEY_STRING(section, name, field, low, fallback, text)                           \
    {                                                                                   \
        section, name, CONFIG_TYPE_STRING, offsetof(struct node_config, field), low, 0, \
            sizeof(((struct node_config *)0)->field), NULL, fallback, text              \
    }
#define KEY_ENUM(section, name, field, names, fallback, text)                                 \
    {                                                                                         \
        section, name, CONFIG_TYPE_ENUM, offsetof(struct node_config, field), 0, 0, 0, names, \
            fallback, text                                                                    \
    }
#define KEY_BOOL(section, name, field, fallback, text)                                       \
    {                                                                                        \
        section, name, CONFIG_TYPE_BOOL, offsetof(struct node_config, field), 0, 1, 0, NULL, \
            fallback, text                                                                   \
    }

static const struct config_key node_config_keys[] = {
    KEY_STRING("server", "data_dir", data_dir, 1, "data", "directory for all node state"),
    KEY_STRING("server", "client_address", client_address, 1, "127.0.0.1",
               "IPv4 address clients connect to"),
    KEY_U32("server", "client_port", client_port, 1, 65535, "8090", "TCP port for clients"),
    KEY_STRING("server", "replica_address", replica_address, 1, "127.0.0.1",
               "IPv4 address peers connect to"),
    KEY_U32("server", "replica_port", replica_port, 1, 65535, "8091", "TCP port for peers"),
    KEY_ENUM("server", "log_level", log_level, log_level_names, "info", "minimum log level"),
    KEY_U32("shards", "count", shard_count, 0, 256, "0",
            "shard threads (0: one per CPU of the affinity mask)"),
    KEY_U32("cluster", "replica_index", replica_index, 0, 5, "0", "this node's index"),
    KEY_U32("cluster", "replica_count", replica_count, 1, 6, "1", "nodes in the cluster"),
    KEY_STRING("cluster", "peers", peers, 0, "",
               "comma-separated host:port replica addresses, in replica order"),
    KEY_STRING("cluster", "id", cluster_id, 0, "",
               "cluster id, 1-32 hex digits, the same on every node (empty: a single node "
               "picks a random one when it formats)"),
    KEY_STRING("cluster", "key_file", cluster_key_file, 0, "",
               "file holding the cluster key (64 hex digits); required when replica_count > 1"),
    KEY_U32("cluster", "ping_interval_ms", ping_interval_ms, 10, 60000, "500",
            "replica bus keep-alive interval per link"),
    KEY_U32("cluster", "peer_timeout_ms", peer_timeout_ms, 100, 600000, "5000",
            "a replica bus link silent this long is closed and redialed"),
    KEY_U32("cluster", "reconnect_backoff_max_ms", reconnect_backoff_max_ms, 10, 600000, "2000",
            "longest wait between redials of a peer (doubles from 50 ms)"),
    KEY_U32("cluster", "forward_credit_max", forward_credit_max, 1, 65536, "64",
            "forwarded client requests in flight per replica bus link"),
    KEY_U32("cluster", "member_lease_ms", member_lease_ms, 100, 86400000, "15000",
            "a node unreachable this long loses the consumer-group members of its clients "
            "(released by the metadata primary)"),
    KEY_ENUM("storage", "durability", durability, durability_names, "fsync",
             "default topic durability"),
    KEY_U64("storage", "segment_size_bytes", segment_size_bytes, 1ULL << 20, 1ULL << 40, "1G",
            "segment size before rotation"),
    KEY_U64("storage", "preallocate_bytes", preallocate_bytes, 0, 1ULL << 30, "64M",
            "preallocation chunk ahead of the tail (0: none)"),
    KEY_BOOL("storage", "direct_io", direct_io, "true", "use O_DIRECT where the filesystem allows"),
    KEY_U64("limits", "frame_size_bytes_max", frame_size_bytes_max, 4096, 1ULL << 30, "64M",
            "largest frame accepted (a cluster: at least batch_size_bytes_max + 33,280 and "
            "poll_reply_bytes_max / 2 + 4096)"),
    KEY_U32("limits", "connections_max", connections_max, 1, 1000000, "10000",
            "connections per node"),
    KEY_U32("limits", "partitions_max", partitions_max, 1, 1000000, "10000",
            "partitions per shard"),
    KEY_U32("limits", "requests_in_flight_max", requests_in_flight_max, 1, 4096, "64",
            "requests in flight per connection"),
    KEY_U32("limits", "idle_timeout_ms", idle_timeout_ms, 0, 86400000, "300000",
            "close connections idle this long (0: never)"),
    KEY_U32("limits", "pipeline_depth_max", pipeline_depth_max, 1, 127, "64",
            "VSR prepares in flight per group"),
    KEY_U64("limits", "partition_ops_max", partition_ops_max, 1024, 1ULL << 24, "65536",
            "VSR log ring of a partition group (ops; it checkpoints every half ring)"),
    KEY_U64("limits", "metadata_ops_max", metadata_ops_max, 1024, 1ULL << 24, "1048576",
            "VSR log ring of the metadata group (ops; it checkpoints every half ring)"),
    KEY_U32("limits", "metadata_replies_bytes", metadata_replies_bytes, 0, 1U << 30, "4M",
            "ring of kept metadata replies longer than 232 bytes, for resends (0: none; the "
            "same on every node)"),
    KEY_U64("limits", "batch_size_bytes_max", batch_size_bytes_max, 65536, 1ULL << 26, "8M",
            "largest message batch a SendMessages may carry (a cluster's replica links "
            "send from rings of 4 x (this + 33,280) bytes)"),
    KEY_U64("limits", "poll_reply_bytes_max", poll_reply_bytes_max, 65536, 1ULL << 26, "1M",
            "poll replies carry at most this many bytes of records"),
    KEY_U32("limits", "requests_max", requests_max, 16, 65536, "256",
            "broker requests in flight per shard"),
    KEY_U32("limits", "large_requests_max", large_requests_max, 1, 4096, "16",
            "broker requests per shard with a batch-sized buffer (sends and polls)"),
    KEY_BOOL("runtime", "pin_threads", pin_threads, "true", "pin each shard to its CPU"),
    KEY_U32("runtime", "ring_entries", ring_entries, 64, 32768, "1024",
            "io_uring submission entries per shard (power of two; completion queue 8x)"),
    KEY_U32("runtime", "recv_buffer_count", recv_buffer_count, 16, 32768, "256",
            "provided receive buffers per shard (power of two)"),
    KEY_U32("runtime", "recv_buffer_size_bytes", recv_buffer_size_bytes, 4096, 1U << 24, "64K",
            "size of each receive buffer"),
    KEY_U32("runtime", "send_buffer_size_bytes", send_buffer_size_bytes, 4096, 1U << 30, "16K",
            "output buffer per connection"),
    KEY_U32("runtime", "send_zc_min_bytes", send_zc_min_bytes, 0, 1U << 30, "0",
            "sends at least this large are zero-copy (SEND_ZC); 0: never (see BENCHMARKS.md)"),
    KEY_U64("runtime", "fixed_buffer_size_bytes", fixed_buffer_size_bytes, 0, 1ULL << 34, "2M",
            "registered buffers per shard for file I/O (locked memory)"),
    KEY_U32("runtime", "reassembly_slots_max", reassembly_slots_max, 1, 65536, "16",
            "frames split across receive buffers at once, per shard"),
    KEY_U32("runtime", "timers_max", timers_max, 16, 1U << 24, "4096", "timers per shard"),
    KEY_U32("runtime", "xshard_queue_entries_max", xshard_queue_entries_max, 16, 1U << 20, "1024",
            "cross-shard queue entries per ordered pair of shards (power of two)"),
    KEY_U32("runtime", "iowq_workers_max", iowq_workers_max, 1, 64, "2",
            "kernel io-wq workers per shard and class"),
    KEY_U32("runtime", "tick_ms", tick_ms, 1, 1000, "10", "VSR tick"),
    KEY_U32("runtime", "drain_timeout_ms", drain_timeout_ms, 0, 600000, "5000",
            "shutdown: longest wait for requests in flight"),
};

static const struct config_schema node_config_schema_value = {
    node_config_keys, sizeof(node_config_keys) / sizeof(node_config_keys[0])};

const struct config_schema *node_config_schema(void)
{
    return &node_config_schema_value;
}

void node_config_defaults(struct node_config *config)
{
    assert(config != NULL);
    struct config_error error;
    int result = config_defaults(&node_config_schema_value, config, &error);
    assert_msg(result == 0, "built-in defaults are valid");
}

int node_config_validate(const struct node_config *config, struct config_error *error)
{
    assert(config != NULL);
    assert(error != NULL);
    if (config->replica_index >= config->replica_count) {
        snprintf(error->text, sizeof(error->text),
                 "config: invalid value key=cluster.replica_index value=\"%u\" allowed=0..%u "
                 "(below cluster.replica_count)",
                 config->replica_index, config->replica_count - 1);
        return -RUNNEL_ECONFIG;
    }
    const struct {
        const char *key;
        uint32_t value;
    } powers[] = {{"runtime.ring_entries", config->ring_entries},
                  {"runtime.recv_buffer_count", config->recv_buffer_count},
                  {"runtime.xshard_queue_entries_max", config->xshard_queue_entries_max}};
    for (size_t index = 0; index < sizeof(powers) / sizeof(powers[0]); index++) {
        if ((powers[index].value & (powers[index].value - 1)) != 0) {
            snprintf(error->text, sizeof(error->text),
                     "config: invalid value key=%s value=\"%u\" allowed=a power of two",
                     powers[index].key, powers[index].value);
            return -RUNNEL_ECONFIG;
        }
    }
    uint64_t link_frame = node_config_link_frame_bytes_max(config);
    if (config->replica_count > 1 && config->frame_size_bytes_max < link_frame) {
        snprintf(error->text, sizeof(error->text),
                 "config: invalid value key=limits.frame_size_bytes_max value=\"%llu\" "
                 "allowed=at least %llu in a cluster (the largest replica bus frame: a prepare "
                 "of a whole batch, limits.batch_size_bytes_max + 33280, or a forwarded poll's "
                 "reply, limits.poll_reply_bytes_max / 2 + 4096; raise it or lower those)",
                 (unsigned long long)config->frame_size_bytes_max, (unsigned long long)link_frame);
        return -RUNNEL_ECONFIG;
    }
    if (config->client_port == config->replica_port && config->client_address[0] != '\0') {
        snprintf(error->text, sizeof(error->text),
                 "config: invalid value key=server.replica_port value=\"%u\" allowed=any port "
                 "but server.client_port",
                 config->replica_port);
        return -RUNNEL_ECONFIG;
    }
    return 0;
}

uint64_t node_config_record_bytes_max(const struct node_config *config)
{
    assert(config != NULL);
    assert(config->batch_size_bytes_max > 0);
    return config->batch_size_bytes_max + 512;
}

uint64_t node_config_link_frame_bytes_max(const struct node_config *config)
{
    assert(config != NULL);
    uint64_t prepare =
        node_config_record_bytes_max(config) + (uint64_t)(VSR_PIPELINE_MAX + 1) * VSR_HEADER_SIZE;
    uint64_t poll = config->poll_reply_bytes_max / 2 + 4096; /* a forwarded poll's reply */
    return prepare > poll ? prepare : poll;
}

uint64_t node_config_client_ring_bytes(const struct node_config *config)
{
    assert(config != NULL);
    uint64_t reply_bytes = config->poll_reply_bytes_max + 64 * 1024;
    return reply_bytes > config->send_buffer_size_bytes ? reply_bytes
                                                        : config->send_buffer_size_bytes;
}

uint64_t node_config_link_ring_bytes(const struct node_config *config)
{
    assert(config != NULL);
    uint64_t ring = 4 * node_config_link_frame_bytes_max(config);
    uint64_t client = node_config_client_ring_bytes(config);
    ring = ring > client ? ring : client;
    assert(ring <= UINT32_MAX); /* the limits' ranges keep it there */
    return ring;
}

uint32_t node_config_link_rings_max(const struct node_config *config)
{
    assert(config != NULL);
    assert(config->replica_count >= 1);
    return config->replica_count > 1 ? 2 * (config->replica_count - 1) + 2 : 0;
}
