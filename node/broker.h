/*
 * runneld's broker: the node_handler (node/node_handler.h) that serves Iggy's binary
 * protocol on client connections (research/iggy-protocol.md) as a cluster of one
 * (DESIGN.md §3, §4): every metadata operation goes through the metadata VSR group on
 * shard 0 (node/control_plane.h) and every partition write through that partition's VSR
 * group on the shard that owns it (node/data_plane.h).
 *
 * The path of a request: the home shard checks the frame (§1.7), its session and the
 * permissions (metadata read from the control plane's published version), then either answers at
 * once (ping, reads) or copies the frame into a struct broker_request from its own pool
 * and hands it to the target shard (shard 0 or the partition's owner) through the
 * cross-shard queue (or directly when it is the target). The target writes the reply into
 * the request's buffer and hands it back; the home shard sends it and frees the request.
 * Passwords are hashed and verified by the auth worker (node/auth.h) before an operation
 * leaves the home shard. One request per connection is in flight at a time (Iggy's SDKs
 * are lockstep; the runtime pauses the connection's input meanwhile).
 *
 * Memory: sessions, requests and their buffers are allocated per shard at broker_init
 * from the configured limits; nothing afterwards on the request path.
 */
#ifndef RUNNEL_NODE_BROKER_H
#define RUNNEL_NODE_BROKER_H

#include "node/auth.h"
#include "node/broker_stats.h"
#include "node/node_config.h"
#include "node/node_handler.h"
#include "node/recovery.h"
#include "node/session.h"
#include "proto/iggy_header.h"
#include "proto/iggy_wire.h"
#include "proto/metadata.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

struct shard_set;
struct vsr_replica;
struct control_plane;
struct data_plane;

enum {
    BROKER_SMALL_BUFFER_SIZE = 80 * 1024, /* frames and replies up to this size */
    BROKER_XSHARD_REQUEST = 100,          /* pointer: struct broker_request, home -> target */
    BROKER_XSHARD_REPLY = 101,            /* pointer: struct broker_request, target -> home */
    /* A metadata op's prefix: [user_id u32][format u32][client u128][request u64]
     * [request_checksum u64][session u64] (the Iggy client's request number, the checksum's
     * low 64 bits and the connection's session; node/metadata.h keeps an op at most once
     * per (client, request)). Format 0 (ops journaled before numbers were carried) ends
     * after client: 24 bytes, not numbered. */
    BROKER_METADATA_PREFIX_SIZE = 48,
    BROKER_METADATA_PREFIX_V0_SIZE = 24,
    BROKER_METADATA_PREFIX_NUMBERED = 1, /* format */
    BROKER_HELD_REPLY_MIN = 64 * 1024,   /* replies from here on are sent from the request */
    BROKER_HELD_LARGE_RESERVE = 2,       /* ... while more large buffers than this are free */
};

enum broker_request_kind {
    BROKER_REQUEST_METADATA = 1, /* a metadata op for the control plane */
    BROKER_REQUEST_SEND,
    BROKER_REQUEST_POLL,
    BROKER_REQUEST_OFFSET_GET,
    BROKER_REQUEST_OFFSET_STORE,
    BROKER_REQUEST_OFFSET_DELETE,
    BROKER_REQUEST_AUTH,     /* waiting on the auth worker on the home shard */
    BROKER_REQUEST_RELEASE,  /* an exactly-once client logged out: release its partition sessions */
    BROKER_REQUEST_SEGMENTS, /* DeleteSegments: the owner resolves the count to an offset */
};

enum broker_request_purpose {
    BROKER_PURPOSE_PLAIN = 0,       /* reply = the metadata op's reply */
    BROKER_PURPOSE_REGISTER,        /* bind the session from a RegisterClient reply */
    BROKER_PURPOSE_LOGOUT,          /* unbind after LogoutClient */
    BROKER_PURPOSE_CLOSE,           /* logout of a closed connection: no reply */
    BROKER_PURPOSE_TOKEN,           /* CreateToken: append the raw token */
    BROKER_PURPOSE_BOOTSTRAP,       /* server op: no reply */
    BROKER_PURPOSE_CREATE_USER,     /* the auth worker hashes, then the op goes */
    BROKER_PURPOSE_LOGIN_VERIFY,    /* the auth worker verifies, then RegisterClient */
    BROKER_PURPOSE_CHANGE_PASSWORD, /* verify the current password, hash the new one, op */
    BROKER_PURPOSE_RELEASE,         /* server-side, no reply: freed when it comes back */
    BROKER_PURPOSE_SEGMENTS,        /* resolved by the owner, then the metadata op */
    BROKER_PURPOSE_REMOTE_POLL,     /* a poll another node forwarded: its reply goes back there */
};

/* Resolved partition of a partition request (filled by the home shard). */
struct replica_bus;
struct cluster_forward_table;

struct broker_partition_target {
    struct vsr_group group;
    uint32_t metadata_slot; /* index in metadata.partitions */
    bool is_fsync;          /* topic durability */
    uint64_t segment_size_bytes;
    uint32_t consumer_kind; /* offsets and polls */
    uint32_t consumer_id;
    uint64_t offset; /* offset store */
    struct iggy_polling_strategy strategy;
    uint32_t count;            /* poll: messages; DeleteSegments: segments */
    uint64_t log_start_offset; /* DeleteSegments watermark: nothing below is served */
    bool auto_commit;
    bool is_group_poll;
    uint32_t group_slot;
    /* Poll (DESIGN.md §10.5): the op a backup must have applied to serve the connection
     * (read-your-writes); unknown: only the primary serves it. */
    uint64_t read_op_floor;
    bool is_read_floor_unknown;
};

struct broker_request {
    uint32_t index;
    uint32_t home_shard;
    uint32_t target_shard;
    bool is_used;
    enum broker_request_kind kind;
    enum broker_request_purpose purpose;
    uint32_t connection_slot;
    uint64_t connection_generation;
    struct net_connection *connection;
    struct iggy_request_header header;
    uint8_t *memory; /* IGGY_HEADER_SIZE of room for the reply header, then buffer */
    uint8_t *buffer; /* request body, then reply body */
    uint32_t buffer_capacity;
    uint32_t user_id;          /* acting user (or the user a login verified) */
    uint32_t xshard_operation; /* while parked in the outbox */
    bool is_large;
    uint32_t large_index;
    uint8_t *small_memory; /* the slot's own buffer while a large one is lent */
    uint32_t body_offset;  /* where the op body starts in buffer */
    uint32_t body_size;
    uint32_t reply_size;
    uint32_t reply_offset; /* the reply body starts at buffer + reply_offset (polls) */
    uint32_t reply_status;
    uint8_t reply_operation;
    bool has_reply;
    uint64_t reply_op; /* partition replies: the group's op the reply reflects (0: none) */
    bool is_forwarded; /* a poll sent on to the primary at least once */
    u128 vsr_client;
    uint64_t vsr_request;
    uint64_t session_epoch; /* the connection's bound session when bound (0: unbound) */
    uint64_t accepted_ns;   /* a partition write: monotonic ns its owning shard took it */
    uint8_t vsr_operation;
    uint8_t origin_replica; /* BROKER_PURPOSE_REMOTE_POLL: the node its reply goes to */
    struct broker_partition_target partition;
    char token[AUTH_TOKEN_SIZE + 1];
    bool has_token_shape;
    bool is_exactly_once;
    uint8_t token_hash[AUTH_TOKEN_HASH_SIZE];
    struct broker_request *next; /* queue link on the current shard */
};

struct broker_counters {
    uint64_t frames;
    uint64_t dropped;
    uint64_t evictions;
    uint64_t status_replies;
    uint64_t requests_refused; /* no free request: input paused */
    uint64_t replies_stale;    /* the connection had gone */
    uint64_t replies_unsent;   /* output full: connection closed */
};

struct broker_shard {
    struct broker *broker;
    uint32_t index;
    struct session *sessions; /* [connections per shard] */
    struct net_connection **connections;
    uint32_t sessions_max;
    struct broker_request *requests; /* [requests_max] */
    uint32_t *free_small;
    uint32_t free_small_count;
    uint8_t **large_buffers;
    uint32_t *free_large;
    uint32_t free_large_count;
    struct broker_request *outbox_head; /* entries whose cross-shard push was refused */
    struct broker_request *outbox_tail;
    struct broker_request *unsent_head; /* replies waiting for room in the output buffer */
    struct broker_request *unsent_tail;
    uint64_t vsr_client_counter;
    uint32_t *balanced; /* [metadata topics_max]: Balanced round-robin per topic slot */
    struct data_plane *data_plane;
    struct broker_counters counters;
};

struct broker {
    struct node_handler handler;
    const struct node_config *config;
    struct shard_set *set;
    uint32_t shard_count;
    struct broker_shard *shards;
    struct control_plane *control_plane;
    struct auth auth;
    bool has_auth;
    uint64_t boot_nonce; /* high half of one-shot VSR client ids (unique per boot) */
    u128 cluster;
    uint64_t large_buffer_size; /* bytes after the header room */
    uint64_t started_at_us;
    char root_username[64];
    char root_password[128];
    bool is_root_password_random; /* printed once, at bootstrap */
    struct broker_stats stats;    /* per-partition figures for reads on every shard */
    /* The cluster (node/cluster_forward.h), set by runneld before the shards start: the
     * replica bus (NULL: a cluster of one), this node's replica index and the count. */
    struct replica_bus *bus;
    uint8_t replica_index;
    uint8_t replica_count;
    struct cluster_forward_table *forward_tables; /* [shard_count], NULL: a cluster of one */
    struct recovery recovery;                     /* a wiped node catching up (node/recovery.h) */
};

/*
 * Sets the broker up for shard_count shards of set (before shard_set_start): sessions,
 * request pools and buffers, the auth worker, the control plane and the per-shard data
 * planes. root credentials come from RUNNEL_ROOT_USERNAME/RUNNEL_ROOT_PASSWORD (else the
 * name "iggy" and a random password printed once at bootstrap). Returns 0 or a negative
 * code with one line in error_text.
 */
int broker_init(struct broker *broker, const struct node_config *config, struct shard_set *set,
                uint32_t shard_count, u128 cluster, char *error_text, size_t error_size_bytes);

/* After the shards stopped: frees everything. */
void broker_deinit(struct broker *broker);

/* ---- used by the control and data planes (target side) ---- */

/* The target finished request (reply fields set): hands it back to its home shard. */
void broker_request_complete(struct broker *broker, uint32_t shard_index,
                             struct broker_request *request);

/* A free request of shard_index's pool for server-side work (large: poll-sized), or NULL;
 * freed with broker_server_request_free on the same shard. */
struct broker_request *broker_server_request_take(struct broker *broker, uint32_t shard_index,
                                                  bool is_large);
void broker_server_request_free(struct broker *broker, uint32_t shard_index,
                                struct broker_request *request);

/*
 * Submits a server-originated metadata op (bootstrap, logout of a closed connection) from
 * shard_index with a request of its pool. Returns 0 or -RUNNEL_EFULL.
 */
int broker_server_op_submit(struct broker *broker, uint32_t shard_index,
                            const Runnel__Metadata__MetadataOperation *operation,
                            enum broker_request_purpose purpose, u128 client);

/* A fresh one-shot VSR client id for a server-side request on shard_index. */
u128 broker_vsr_client_next(struct broker *broker, uint32_t shard_index);

/* Sends a VSR register request for client to replica (a group's node-local client; the
 * reply's op is the session). */
void broker_vsr_register(struct vsr_replica *replica, u128 client);

/* The shard's io (lib/io.h) and clock; valid on that shard's thread. */
struct io *broker_shard_io(struct broker *broker, uint32_t shard_index);
const struct clock *broker_shard_clock(struct broker *broker, uint32_t shard_index);

#endif
