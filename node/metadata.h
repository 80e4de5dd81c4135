/*
 * The metadata state machine: streams, topics, partitions (with incarnations), consumer
 * groups (Iggy's cooperative rebalance), users, permissions, personal access tokens and
 * client sessions. It is the state behind the metadata VSR group on shard 0.
 *
 * Pure and deterministic: metadata_apply reads only the state, the op body and the
 * apply context (op number, replicated timestamp, client, acting user). No clock, no
 * randomness, no I/O, no allocation after metadata_init: every table is sized from the
 * limits at init. The same ops applied from the same state give the same state, the
 * same replies and the same snapshot bytes on every replica.
 *
 * Ids are assigned at apply time as Iggy assigns them: the lowest free id for streams,
 * topics (per stream) and users; consumer-group ids per topic never reused; group member
 * ids the lowest free within the group; partitions appended and removed at the end.
 * Every partition carries its incarnation: the op that created it (or last purged it).
 *
 * Replies are Iggy's result-framed reply bodies (iggy-protocol.md §1.8): on success
 * [0 u32][typed payload], on a committed rejection [1 u32][0 u32][code u32]. Payloads:
 * CreateStream -> StreamResponse; CreateTopic -> TopicHeader + PartitionResponse x n;
 * CreateUser -> UserDetails; CreateConsumerGroup -> ConsumerGroupDetails; Register ->
 * [user_id u32][session u64][protocol u32][version u8 len + bytes]; CreateToken -> none
 * (the primary's home shard appends the raw token, which apply never sees); all others
 * none. Authorization is checked inside apply, as Iggy does: not-found first, then
 * permission (code 41), from the acting user in the context (0 = root or the server).
 */
#ifndef RUNNEL_NODE_METADATA_H
#define RUNNEL_NODE_METADATA_H

#include "proto/vsr_header.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    METADATA_NAME_SIZE_MAX = 255,
    METADATA_PASSWORD_HASH_SIZE_MAX = 128, /* crypto_pwhash_STRBYTES */
    METADATA_TOKEN_HASH_SIZE_MAX = 64,
    METADATA_OP_BODY_SIZE_MAX = 64 * 1024,
    METADATA_NONE = 0xFFFFFFFFu,
    METADATA_ROOT_USER_ID = 0,
    METADATA_STREAMS_ID_MAX = 1u << 20,    /* Iggy MAX_STREAMS */
    METADATA_TOPICS_PER_STREAM_MAX = 4096, /* Iggy MAX_TOPICS */
    METADATA_PARTITIONS_ID_MAX = 1000000,  /* Iggy MAX_PARTITIONS */
    METADATA_PARTITIONS_PER_REQUEST_MAX = 1000,
    METADATA_USERNAME_SIZE_MIN = 3,
    METADATA_USERNAME_SIZE_MAX = 50,
    METADATA_SNAPSHOT_VERSION = 1,
    METADATA_CLIENT_REPLIES = 5,              /* Iggy's REPLY_RING_CAPACITY */
    METADATA_CLIENT_REPLY_SIZE_MAX = 232,     /* kept inline; a longer one in the replies ring */
    METADATA_REPLIES_BYTES_DEFAULT = 4 << 20, /* limits.replies_bytes */
    METADATA_REPLIES_BYTES_MAX = 1 << 30,
};

/* Iggy error codes that apply puts in a committed rejection (iggy-protocol.md §6). */
enum metadata_status {
    METADATA_STATUS_OK = 0,
    METADATA_STATUS_ERROR = 1, /* capacity of a runnel table exhausted (see limits) */
    METADATA_STATUS_INVALID_COMMAND = 3,
    METADATA_STATUS_RESOURCE_NOT_FOUND = 20,
    METADATA_STATUS_UNAUTHENTICATED = 40,
    METADATA_STATUS_UNAUTHORIZED = 41,
    METADATA_STATUS_INVALID_CREDENTIALS = 42,
    METADATA_STATUS_INVALID_USERNAME = 43,
    METADATA_STATUS_USER_ALREADY_EXISTS = 46,
    METADATA_STATUS_USER_INACTIVE = 47,
    METADATA_STATUS_CANNOT_DELETE_USER = 48,
    METADATA_STATUS_CANNOT_CHANGE_PERMISSIONS = 49,
    METADATA_STATUS_TOKEN_ALREADY_EXISTS = 51,
    METADATA_STATUS_TOKENS_LIMIT_REACHED = 52,
    METADATA_STATUS_INVALID_TOKEN = 53,
    METADATA_STATUS_USERS_LIMIT_REACHED = 55,
    METADATA_STATUS_INVALID_TOKEN_EXPIRY = 56,
    METADATA_STATUS_REQUEST_ALREADY_APPLIED = 59,
    METADATA_STATUS_STREAM_NOT_FOUND = 1009,
    METADATA_STATUS_STREAM_NAME_EXISTS = 1012,
    METADATA_STATUS_INVALID_TOPIC_SIZE = 1019,
    METADATA_STATUS_TOO_MANY_STREAMS = 1020,
    METADATA_STATUS_TOPIC_NOT_FOUND = 2010,
    METADATA_STATUS_TOPIC_NAME_EXISTS = 2013,
    METADATA_STATUS_TOO_MANY_PARTITIONS = 2015,
    METADATA_STATUS_INVALID_PARTITIONS_COUNT = 2019,
    METADATA_STATUS_TOO_MANY_TOPICS = 2021,
    METADATA_STATUS_PARTITION_NOT_FOUND = 3007,
    METADATA_STATUS_PARTITION_ID_SPACE_EXHAUSTED = 3013,
    METADATA_STATUS_INVALID_OPTION_VALUE = 4042,
    METADATA_STATUS_GROUP_NOT_FOUND = 5000,
    METADATA_STATUS_GROUP_NAME_EXISTS = 5004,
    METADATA_STATUS_GROUP_MEMBER_NOT_FOUND = 5006,
};

/* Every table's capacity; memory is allocated once from these at metadata_init. */
struct metadata_limits {
    uint32_t streams_max;         /* stream ids are < streams_max (<= 1 << 20) */
    uint32_t topics_max;          /* all streams together */
    uint32_t partitions_max;      /* all topics together */
    uint32_t users_max;           /* user ids are < users_max */
    uint32_t tokens_max;          /* personal access tokens, all users together */
    uint32_t tokens_per_user_max; /* Iggy: 100 */
    uint32_t permissions_max;     /* per-stream and per-topic grants, all users */
    uint32_t consumer_groups_max; /* all topics together */
    uint32_t members_max;         /* group memberships, all groups together */
    uint32_t assignments_max;     /* partitions owned by members, all groups together */
    uint32_t clients_max;         /* registered client sessions */
    uint32_t replies_bytes;       /* the ring of kept replies longer than
                                   * METADATA_CLIENT_REPLY_SIZE_MAX (0: none kept); the same
                                   * on every replica (it decides which replies age out) */
};

enum metadata_compression { METADATA_COMPRESSION_NONE = 1, METADATA_COMPRESSION_GZIP = 2 };

enum metadata_durability { METADATA_DURABILITY_FSYNC = 0, METADATA_DURABILITY_REPLICATED = 1 };

/* Resolved topic settings (Iggy's topic options catalog, iggy-protocol.md §3.12). */
struct metadata_topic_settings {
    uint32_t compression_algorithm;             /* enum metadata_compression */
    uint64_t message_expiry_us;                 /* UINT64_MAX: never */
    uint64_t max_topic_size_bytes;              /* UINT64_MAX: unlimited */
    uint64_t segment_size_bytes;                /* 1 MiB..1 GiB, multiple of 512 */
    bool enforce_fsync;                         /* as stored in the options */
    uint32_t messages_required_to_save;         /* 1..16 Mi */
    uint64_t size_of_messages_required_to_save; /* bytes, <= 1 GiB */
    bool preallocate_segments;
    uint32_t durability; /* enum metadata_durability (§10.7) */
};

/* Bits of metadata_topic.explicit_mask, in the options catalog's field order. */
enum metadata_topic_option {
    METADATA_TOPIC_OPTION_COMPRESSION = 1u << 0,
    METADATA_TOPIC_OPTION_MESSAGE_EXPIRY = 1u << 1,
    METADATA_TOPIC_OPTION_MAX_TOPIC_SIZE = 1u << 2,
    METADATA_TOPIC_OPTION_SEGMENT_SIZE = 1u << 3,
    METADATA_TOPIC_OPTION_ENFORCE_FSYNC = 1u << 4,
    METADATA_TOPIC_OPTION_MESSAGES_TO_SAVE = 1u << 5,
    METADATA_TOPIC_OPTION_SIZE_TO_SAVE = 1u << 6,
    METADATA_TOPIC_OPTION_PREALLOCATE = 1u << 7,
    METADATA_TOPIC_OPTION_ALL = 0xFFu,
};

/* Cluster-wide settings; must be identical on every replica (they feed apply). */
struct metadata_config {
    struct metadata_limits limits;
    uint64_t segment_size_bytes; /* topic default (Iggy: 1 GiB) */
    uint32_t durability;         /* enum metadata_durability: default when enforce_fsync absent */
};

struct metadata_name {
    uint8_t size;
    uint8_t bytes[METADATA_NAME_SIZE_MAX];
};

struct metadata_stream {
    bool is_used;
    uint32_t id; /* = index in metadata.streams */
    uint64_t created_at_us;
    uint32_t topics_count;
    uint32_t topic_first; /* topic slot with the lowest id; topics linked in id order */
    struct metadata_name name;
};

struct metadata_topic {
    bool is_used;
    uint32_t stream_id;
    uint32_t id;
    uint32_t next; /* next topic slot of the stream, in id order, or METADATA_NONE */
    uint64_t created_at_us;
    struct metadata_name name;
    uint32_t partitions_count; /* partition ids are 0..partitions_count-1 */
    struct metadata_topic_settings settings;
    uint32_t explicit_mask; /* enum metadata_topic_option: keys the client sent */
    uint32_t group_first;   /* group slots of the topic, in id order */
    uint32_t group_last;
    uint32_t groups_count;
    uint32_t group_id_next; /* never reused */
};

struct metadata_partition {
    bool is_used;
    uint32_t stream_id;
    uint32_t topic_id;
    uint32_t id;
    uint64_t incarnation; /* metadata op that created (or last purged) it */
    uint64_t created_at_us;
    uint64_t deleted_up_to_offset; /* delete-segments watermark; 0 after purge */
};

enum metadata_user_status { METADATA_USER_ACTIVE = 1, METADATA_USER_INACTIVE = 2 };

/* Global permission bits, in Iggy's wire order. */
enum metadata_global_permission {
    METADATA_GLOBAL_MANAGE_SERVERS = 1u << 0,
    METADATA_GLOBAL_READ_SERVERS = 1u << 1,
    METADATA_GLOBAL_MANAGE_USERS = 1u << 2,
    METADATA_GLOBAL_READ_USERS = 1u << 3,
    METADATA_GLOBAL_MANAGE_STREAMS = 1u << 4,
    METADATA_GLOBAL_READ_STREAMS = 1u << 5,
    METADATA_GLOBAL_MANAGE_TOPICS = 1u << 6,
    METADATA_GLOBAL_READ_TOPICS = 1u << 7,
    METADATA_GLOBAL_POLL_MESSAGES = 1u << 8,
    METADATA_GLOBAL_SEND_MESSAGES = 1u << 9,
    METADATA_GLOBAL_ALL = 0x3FFu,
};

/* Per-stream permission bits (topic_id == METADATA_NONE), in Iggy's wire order. */
enum metadata_stream_permission {
    METADATA_STREAM_MANAGE_STREAM = 1u << 0,
    METADATA_STREAM_READ_STREAM = 1u << 1,
    METADATA_STREAM_MANAGE_TOPICS = 1u << 2,
    METADATA_STREAM_READ_TOPICS = 1u << 3,
    METADATA_STREAM_POLL_MESSAGES = 1u << 4,
    METADATA_STREAM_SEND_MESSAGES = 1u << 5,
};

/* Per-topic permission bits, in Iggy's wire order. */
enum metadata_topic_permission {
    METADATA_TOPIC_MANAGE_TOPIC = 1u << 0,
    METADATA_TOPIC_READ_TOPIC = 1u << 1,
    METADATA_TOPIC_POLL_MESSAGES = 1u << 2,
    METADATA_TOPIC_SEND_MESSAGES = 1u << 3,
};

/* One per-stream or per-topic grant; a user's grants are linked sorted by
 * (stream_id, topic_id) with the stream entry (topic_id METADATA_NONE) first. */
struct metadata_permission {
    bool is_used;
    uint32_t user_id;
    uint32_t stream_id;
    uint32_t topic_id; /* METADATA_NONE: the stream entry */
    uint32_t bits;     /* enum metadata_stream_permission or metadata_topic_permission */
    uint32_t next;
};

struct metadata_user {
    bool is_used;
    uint32_t id; /* = index in metadata.users */
    uint64_t created_at_us;
    uint32_t status; /* enum metadata_user_status */
    struct metadata_name username;
    uint8_t password_hash_size;
    char password_hash[METADATA_PASSWORD_HASH_SIZE_MAX];
    bool has_permissions;
    uint32_t global_bits;      /* enum metadata_global_permission */
    uint32_t permission_first; /* slot in metadata.permissions, or METADATA_NONE */
    uint32_t tokens_count;
};

struct metadata_token {
    bool is_used;
    uint32_t user_id;
    struct metadata_name name;
    uint8_t hash_size;
    uint8_t hash[METADATA_TOKEN_HASH_SIZE_MAX];
    uint64_t expiry_at_us; /* 0: never */
};

struct metadata_group {
    bool is_used;
    uint32_t stream_id;
    uint32_t topic_id;
    uint32_t id;
    uint32_t next; /* next group slot of the topic, in id order */
    uint64_t generation;
    struct metadata_name name;
    uint32_t member_first; /* member slots in member-id order */
    uint32_t members_count;
};

struct metadata_member {
    bool is_used;
    uint32_t group_slot;
    uint32_t id; /* lowest free within the group */
    u128 client;
    uint32_t next;
    uint32_t assignment_first; /* owned partitions in the order they were given */
    uint32_t assignment_last;
    uint32_t assignments_count;
};

/* A partition owned by a member; is_pending: being handed to pending_target_member. */
struct metadata_assignment {
    bool is_used;
    bool is_pending;
    uint32_t partition_id;
    uint32_t pending_target_member; /* member id within the group */
    uint64_t pending_created_at_us;
    uint32_t next;
};

struct metadata_client {
    bool is_used;
    u128 client;
    uint64_t session; /* op of the committed Register */
    uint32_t user_id;
    uint8_t node;          /* replica index + 1 of the node it registered through; 0: unknown */
    uint64_t request_last; /* Iggy request watermark: ops numbered at or below run no more */
};

enum metadata_client_reply_state {
    METADATA_CLIENT_REPLY_EMPTY = 0,
    METADATA_CLIENT_REPLY_KEPT = 1,     /* bytes hold the reply */
    METADATA_CLIENT_REPLY_NOT_KEPT = 2, /* longer than the replies ring, or a CreateToken
                                         * (its raw token is not in the state): a resend
                                         * gets 59 */
    METADATA_CLIENT_REPLY_RING = 3,     /* in the replies ring at position; a resend gets 59
                                         * once later replies overwrote it */
};

/* One of a client's last METADATA_CLIENT_REPLIES replies (Iggy's client-table ring). */
struct metadata_client_reply {
    uint64_t request;  /* Iggy request number; 0: empty */
    uint64_t checksum; /* the request's checksum (low 64 bits), 0 when unstamped */
    uint64_t position; /* RING: absolute position of its first byte in the replies ring */
    uint32_t size;
    uint8_t state;                                 /* enum metadata_client_reply_state */
    uint8_t bytes[METADATA_CLIENT_REPLY_SIZE_MAX]; /* KEPT */
};

/*
 * Replies longer than METADATA_CLIENT_REPLY_SIZE_MAX (up to METADATA_REPLY_SIZE_MAX: a
 * CreateTopic of many partitions, a CreateUser with permissions), kept whole in one byte
 * ring shared by every client: each is written at the absolute position `head` (its bytes
 * at position % limits.replies_bytes, wrapping) and head moves past it, so a reply is
 * intact while head - position <= limits.replies_bytes and overwritten after. Which
 * replies are kept and when they age out depends only on the ops and the limit: the same
 * on every replica, and in snapshots (positions and head included).
 */
struct metadata_replies {
    uint8_t *bytes; /* [limits.replies_bytes]; NULL in a published copy (metadata_init_copy) */
    uint64_t head;  /* bytes ever written: the position of the next reply */
};

/* Open-addressing index (stream, topic, partition) -> partition slot. */
struct metadata_index {
    uint64_t *keys;    /* 0: empty; else key + 1 */
    uint32_t *values;  /* partition slot */
    uint32_t capacity; /* power of two */
};

/* Free slots of a fixed table: a stack, slot 0 taken first after a reset. */
struct metadata_slots {
    uint32_t *free_stack;
    uint32_t free_count;
    uint32_t capacity;
};

/* A bump allocator for protobuf-c: reset before each decode, never frees. */
struct metadata_arena {
    uint8_t *memory;
    size_t size_bytes;
    size_t used_bytes;
    ProtobufCAllocator allocator;
};

/* Working memory for rebalances, sized from the limits (no allocation in apply). */
struct metadata_scratch {
    uint64_t *partition_bits;    /* [partitions_max bits]: assigned / chosen partitions */
    uint64_t *in_flight_bits;    /* [partitions_max bits]: join's in-flight set */
    uint64_t *member_bits;       /* [members_max bits]: member ids that are targets */
    uint32_t *excess_partitions; /* [partitions_max] */
    uint32_t *excess_members;    /* [partitions_max]: member slots */
    uint32_t *idle_members;      /* [members_max]: member slots */
};

struct metadata {
    struct metadata_config config;
    uint64_t op;                           /* last applied op */
    bool is_bootstrapped;                  /* the root user exists */
    struct metadata_stream *streams;       /* [limits.streams_max], index = id */
    struct metadata_topic *topics;         /* [limits.topics_max] */
    struct metadata_partition *partitions; /* [limits.partitions_max] */
    struct metadata_user *users;           /* [limits.users_max], index = id */
    struct metadata_token *tokens;         /* [limits.tokens_max] */
    struct metadata_permission *permissions;
    struct metadata_group *groups;
    struct metadata_member *members;
    struct metadata_assignment *assignments;
    struct metadata_client *clients;
    struct metadata_client_reply *client_replies; /* [clients_max * METADATA_CLIENT_REPLIES] */
    struct metadata_replies replies;              /* the long ones' bytes */
    struct metadata_index partition_index;
    uint32_t streams_count;
    uint32_t users_count;
    struct metadata_slots topic_slots;
    struct metadata_slots partition_slots;
    struct metadata_slots token_slots;
    struct metadata_slots permission_slots;
    struct metadata_slots group_slots;
    struct metadata_slots member_slots;
    struct metadata_slots assignment_slots;
    struct metadata_slots client_slots;
    struct metadata_scratch scratch;
    struct metadata_arena arena;          /* op decode */
    struct metadata_arena snapshot_arena; /* snapshot encode/decode */
};

/* What the VSR layer knows about an op, resolved before it was replicated. */
struct metadata_apply_context {
    uint64_t op;               /* this op's number: incarnations and sessions come from it */
    uint64_t timestamp_us;     /* replicated prepare timestamp, µs since the UNIX epoch */
    u128 client;               /* VSR client id of the request (0 for server ops) */
    uint32_t user_id;          /* acting user; 0 = root or a server-originated op */
    uint64_t request;          /* the Iggy client's request number; 0: not numbered (Register,
                                * server ops, ops journaled before numbers were carried) */
    uint64_t request_checksum; /* its request_checksum (low 64 bits); 0: unstamped */
    uint64_t session;          /* the session it was sent in (numbered ops); 0: unknown */
};

/* Fills limits with defaults fit for one node (and for tests). */
void metadata_limits_defaults(struct metadata_limits *limits);

/* Fills config with Iggy's defaults (1 GiB segments, fsync) and default limits. */
void metadata_config_defaults(struct metadata_config *config);

/*
 * Allocates every table from config->limits and starts empty (no root user: the first
 * op, a Bootstrap, creates it). Returns 0, -RUNNEL_ECONFIG for limits out of range, or
 * -ENOMEM. Start-up only.
 */
int metadata_init(struct metadata *metadata, const struct metadata_config *config);

/*
 * metadata_init for a published copy (node/metadata_versions.h): the same state and
 * bookkeeping, but no replies ring (its readers never replay a reply, and it would be a
 * copy of limits.replies_bytes more): a replay there answers 59 for a reply held in the
 * ring, and it must never be snapshot-encoded while it holds one.
 */
int metadata_init_copy(struct metadata *metadata, const struct metadata_config *config);

/* Frees what metadata_init allocated. */
void metadata_deinit(struct metadata *metadata);

/* Empties every table (keeps the memory and config), as after metadata_init. */
void metadata_reset(struct metadata *metadata);

/*
 * Makes target's state equal to source's (same config: both from metadata_init with it):
 * every table, index and free list, not the scratch or arenas. Afterwards both give the
 * same lookups, and the same op applied to both gives the same state.
 */
void metadata_copy(struct metadata *target, const struct metadata *source);

/*
 * Applies one metadata op (a packed MetadataOperation). context->op must be above the
 * last applied op. At most once per (client, request) (Iggy's client table, iggy-protocol.md
 * §2.5): when context->request is not 0 and the client is registered, a request number at
 * or below the client's watermark is not executed again; the reply is then the one kept
 * from its first apply (the last METADATA_CLIENT_REPLIES replies are kept: up to
 * METADATA_CLIENT_REPLY_SIZE_MAX bytes inline, longer ones whole in the replies ring while
 * later long replies have not overwritten them), or a committed rejection with code 59
 * (RequestAlreadyApplied) when it is not kept or its checksum differs (state unchanged). A
 * numbered op sent in an older session of the client (a connection left from before the
 * client registered again: Iggy's eviction 7, SessionTooLow) runs not and gets code 40.
 * Writes the result-framed reply into reply (reply_capacity >=
 * METADATA_REPLY_SIZE_MAX) and its size into reply_size_out. A body that does not decode
 * or is out of bounds is a committed rejection with code 3 (InvalidCommand), never an
 * assertion: the state is unchanged and the op still counts as applied.
 * Returns 0 (the reply carries the outcome).
 */
int metadata_apply(struct metadata *metadata, const struct metadata_apply_context *context,
                   const uint8_t *body, uint32_t body_size, uint8_t *reply, uint32_t reply_capacity,
                   uint32_t *reply_size_out);

/* Largest reply apply writes (CreateTopic with 1000 partitions, CreateUser). */
enum { METADATA_REPLY_SIZE_MAX = 64 * 1024 };

/* The status carried in a result-framed reply (0 for success); -1 if malformed. */
int64_t metadata_reply_status(const uint8_t *reply, uint32_t reply_size);

/* ---- Permission checks (pure; used by every shard before each request). ---- */

enum metadata_action {
    METADATA_ACTION_SERVERS_READ,  /* stats, clients, snapshot */
    METADATA_ACTION_USERS_READ,    /* user.get (others), user.list */
    METADATA_ACTION_USERS_MANAGE,  /* create/update/delete user, permissions, password */
    METADATA_ACTION_STREAMS_READ,  /* stream.list */
    METADATA_ACTION_STREAM_READ,   /* stream.get */
    METADATA_ACTION_STREAM_CREATE, /* stream.create */
    METADATA_ACTION_STREAM_MANAGE, /* stream update/delete/purge */
    METADATA_ACTION_TOPICS_READ,   /* topic.list */
    METADATA_ACTION_TOPIC_READ,    /* topic.get, consumer groups (TR) */
    METADATA_ACTION_TOPIC_CREATE,  /* topic.create */
    METADATA_ACTION_TOPIC_MANAGE,  /* topic update/delete/purge, partitions, segments (TM) */
    METADATA_ACTION_POLL,          /* poll, consumer offsets */
    METADATA_ACTION_SEND,          /* send */
    METADATA_ACTION_COUNT,
};

/*
 * True when user_id may perform action on (stream_id, topic_id) (pass METADATA_NONE
 * where the action has no such scope). Root passes everything; an unknown user
 * nothing. Pure: reads the permission tables only.
 */
bool metadata_is_permitted(const struct metadata *metadata, uint32_t user_id,
                           enum metadata_action action, uint32_t stream_id, uint32_t topic_id);

/* ---- Lookups (read-only; for the shards and for tests). ---- */

const struct metadata_stream *metadata_stream_get(const struct metadata *metadata,
                                                  uint32_t stream_id);
const struct metadata_stream *metadata_stream_find(const struct metadata *metadata,
                                                   const uint8_t *name, uint32_t name_size);
const struct metadata_topic *metadata_topic_get(const struct metadata *metadata, uint32_t stream_id,
                                                uint32_t topic_id);
const struct metadata_topic *metadata_topic_find(const struct metadata *metadata,
                                                 uint32_t stream_id, const uint8_t *name,
                                                 uint32_t name_size);
const struct metadata_partition *metadata_partition_get(const struct metadata *metadata,
                                                        uint32_t stream_id, uint32_t topic_id,
                                                        uint32_t partition_id);
const struct metadata_user *metadata_user_get(const struct metadata *metadata, uint32_t user_id);
const struct metadata_user *metadata_user_find(const struct metadata *metadata, const uint8_t *name,
                                               uint32_t name_size);
const struct metadata_group *metadata_group_get(const struct metadata *metadata, uint32_t stream_id,
                                                uint32_t topic_id, uint32_t group_id);
const struct metadata_client *metadata_client_get(const struct metadata *metadata, u128 client);

/*
 * The user owning the token whose hash is hash (hash_size bytes), if it is not expired
 * at now_us; NULL otherwise.
 */
const struct metadata_user *metadata_token_user(const struct metadata *metadata,
                                                const uint8_t *hash, uint32_t hash_size,
                                                uint64_t now_us);

/*
 * Consumer-group sync: the member's generation and pollable partitions (owned minus
 * pending revocation), in assignment order, up to partitions_capacity ids.
 * Returns the number of pollable partitions, or -RUNNEL_ENOTFOUND when client is not a
 * member (the Sync reply is then empty), -RUNNEL_EFULL when they do not fit.
 */
int metadata_group_sync(const struct metadata *metadata, const struct metadata_group *group,
                        u128 client, uint64_t *generation_out, uint32_t *partitions,
                        uint32_t partitions_capacity);

/* Poll fence: the client owns partition_id in group and it is not pending revocation. */
bool metadata_group_can_poll(const struct metadata *metadata, const struct metadata_group *group,
                             u128 client, uint32_t partition_id);

/* Offset-store fence: the client owns partition_id (pending revocation included). */
bool metadata_group_can_commit(const struct metadata *metadata, const struct metadata_group *group,
                               u128 client, uint32_t partition_id);

/* ---- Snapshot ---- */

/* Upper bound on the bytes metadata_snapshot_encode writes for these limits. */
size_t metadata_snapshot_size_max(const struct metadata *metadata);

/*
 * Encodes the whole state as a packed Snapshot (deterministic: same state, same bytes).
 * Returns 0 with *size_out set, or -RUNNEL_EFULL when buffer_capacity is too small.
 */
int metadata_snapshot_encode(struct metadata *metadata, uint8_t *buffer, size_t buffer_capacity,
                             size_t *size_out);

/*
 * Replaces the state with a decoded snapshot. Untrusted bytes: returns -RUNNEL_EFORMAT
 * for bytes that do not decode or break an invariant (duplicate ids, out-of-range
 * values), -RUNNEL_EFULL when the snapshot exceeds the limits; the state is then reset.
 */
int metadata_snapshot_decode(struct metadata *metadata, const uint8_t *bytes, size_t size);

#endif
