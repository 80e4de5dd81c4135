/*
 * The VSR message header: 256 bytes, shared by the replica bus and the partition log on
 * disk (a record is exactly a prepare message: this header followed by its body).
 *
 * Layout: a 128-byte frame common to every command, then 128 bytes whose meaning is the
 * command's own (one struct per command in the union below). Every field sits at its
 * natural alignment, so the struct is the wire format on little-endian x86-64 when the
 * buffer is 16-byte aligned (static_asserts below pin every offset).
 *
 * Checksums (DESIGN.md §10.1): checksum_body = XXH3-128 of the body (size - 256 bytes);
 * checksum = XXH3-128 of header bytes [16, 256), which covers checksum_body. Set the body
 * checksum first, then the header checksum. Anything read from a peer or a disk is
 * untrusted: check it with vsr_header_validate (no asserts on its contents).
 */
#ifndef RUNNEL_PROTO_VSR_HEADER_H
#define RUNNEL_PROTO_VSR_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 u128;

enum { VSR_HEADER_SIZE = 256, VSR_PROTOCOL_VERSION = 1, VSR_REPLICAS_MAX = 6 };

enum vsr_command {
    VSR_COMMAND_RESERVED = 0,
    VSR_COMMAND_PING = 1,
    VSR_COMMAND_PONG = 2, /* frame only: the sender's view, for a recovering replica */
    VSR_COMMAND_REQUEST = 5,
    VSR_COMMAND_PREPARE = 6,
    VSR_COMMAND_PREPARE_OK = 7,
    VSR_COMMAND_REPLY = 8,
    VSR_COMMAND_COMMIT = 9,
    VSR_COMMAND_START_VIEW_CHANGE = 10,
    VSR_COMMAND_DO_VIEW_CHANGE = 11,
    VSR_COMMAND_REQUEST_START_VIEW = 13,
    VSR_COMMAND_REQUEST_HEADERS = 14,
    VSR_COMMAND_REQUEST_PREPARE = 15,
    VSR_COMMAND_REQUEST_REPLY = 16,
    VSR_COMMAND_HEADERS = 17,
    VSR_COMMAND_EVICTION = 18,
    VSR_COMMAND_START_VIEW = 24,
    VSR_COMMAND_REQUEST_CHECKPOINT = 25, /* state transfer: pull a checkpoint chunk */
    VSR_COMMAND_CHECKPOINT = 26,         /* state transfer: one checkpoint chunk */
    VSR_COMMAND_REQUEST_RECORDS = 27,    /* state transfer: the prepares below a checkpoint */
    VSR_COMMAND_HEARTBEAT = 28,          /* a shard's heartbeat to a peer's (vsr/heartbeat.h) */
    VSR_COMMAND_HEARTBEAT_ACK = 29,      /* its acknowledgement */
    VSR_COMMAND_END = 30,
};

/* Operation numbers of the VSR layer; state machines own 128 and up. */
enum vsr_operation {
    VSR_OPERATION_RESERVED = 0,
    VSR_OPERATION_ROOT = 1,     /* op 0 of every group: the hash-chain anchor */
    VSR_OPERATION_REGISTER = 2, /* client session registration */
    VSR_OPERATION_LOGOUT = 3,   /* releases the client's session (and exactly-once replies) */
    VSR_OPERATION_NOOP = 6,     /* a new primary's first op; padding records use it too */
    VSR_OPERATION_PADDING = 7,  /* storage: explicit sector padding record, never replicated */
    VSR_OPERATION_STATE_MACHINE_MIN = 128,
    /* Partition-group state machine operations. */
    VSR_OPERATION_MESSAGES = 160,        /* body: an Iggy message batch */
    VSR_OPERATION_OFFSET_STORE = 161,    /* body: consumer offset store */
    VSR_OPERATION_OFFSET_DELETE = 162,   /* body: consumer offset delete */
    VSR_OPERATION_TRUNCATE_PREFIX = 163, /* body: new log start offset + checkpoint op */
    /* Never prepared: a poll, or a consumer-offset read (GetConsumerOffset), a backup
     * forwards to the primary's data plane, and its reply (node/data_plane_poll_forward.c). */
    VSR_OPERATION_POLL = 176,
    VSR_OPERATION_OFFSET_GET = 177,
};

/* The group a message belongs to: metadata (all ids 0) or one partition incarnation; a
 * shard heartbeat (kind shard) names the receiving shard (stream_id) and the sending one
 * (topic_id), other ids 0. */
struct vsr_group {
    uint32_t stream_id;
    uint32_t topic_id;
    uint32_t partition_id;
    uint32_t kind;        /* 0 metadata, 1 partition */
    uint64_t incarnation; /* metadata op that created this partition directory */
};

enum { VSR_GROUP_KIND_METADATA = 0, VSR_GROUP_KIND_PARTITION = 1, VSR_GROUP_KIND_SHARD = 2 };

struct vsr_header_prepare {
    u128 parent;           /* checksum of the previous op's header (hash chain) */
    u128 request_checksum; /* checksum of the client request it came from, 0 if none */
    u128 checkpoint_id;
    u128 client;
    uint64_t op;
    uint64_t commit;
    uint64_t timestamp; /* ns since the epoch, max(parent + 1, primary realtime) */
    uint64_t request;   /* client's request number (exactly-once: its own sequence) */
    uint64_t offset;    /* messages: first offset; other ops: next offset at this op */
    uint32_t message_count;
    uint8_t operation;     /* enum vsr_operation */
    uint8_t request_flags; /* register: the request's VSR_REQUEST_FLAG_* */
    uint8_t reserved[18];
};

struct vsr_header_prepare_ok {
    u128 parent;
    u128 prepare_checksum;
    u128 checkpoint_id;
    u128 client;
    uint64_t op;
    uint64_t commit_min;
    uint64_t timestamp;
    uint64_t request;
    uint64_t checkpoint_op; /* the sender's durable checkpoint */
    uint8_t reserved[24];
};

struct vsr_header_commit {
    u128 commit_checksum;
    u128 checkpoint_id;
    uint64_t checkpoint_op;
    uint64_t commit;
    uint64_t timestamp_monotonic;
    uint8_t reserved[72];
};

struct vsr_header_request {
    u128 parent;
    u128 client;
    uint64_t session;
    uint64_t timestamp;
    uint64_t request;
    uint8_t operation;
    uint8_t flags; /* VSR_REQUEST_FLAG_*, register only */
    uint8_t reserved[70];
};

enum {
    /* Register: partition ops of this session are exactly-once (DESIGN.md §10.11). */
    VSR_REQUEST_FLAG_EXACTLY_ONCE = 1u << 0,
};

struct vsr_header_reply {
    u128 request_checksum;
    u128 context;
    u128 client;
    uint64_t op;
    uint64_t commit;
    uint64_t timestamp;
    uint64_t request;
    uint8_t operation;
    uint8_t status; /* enum vsr_reply_status */
    uint8_t reserved[46];
};

enum vsr_reply_status {
    VSR_REPLY_STATUS_OK = 0,
    /* Exactly-once: the number is older than the client's window; nothing was executed. */
    VSR_REPLY_STATUS_REQUEST_TOO_OLD = 1,
    /* A forwarded poll this node did not serve (not the primary, no room): sent again. */
    VSR_REPLY_STATUS_NOT_SERVED = 2,
};

/* start_view_change carries only the frame (view). */
struct vsr_header_do_view_change {
    u128 present_bitset; /* bit i: op (op - i) held and not faulty */
    u128 nack_bitset;    /* bit i: op (op - i) certainly never prepared here */
    uint64_t op;
    uint64_t commit_min;
    uint64_t checkpoint_op;
    uint64_t commit_max; /* highest op the sender knows committed (a truncation floor) */
    uint32_t log_view;
    /* 0 in a do_view_change. Else a recovering_head sender's informing message for the view
     * change to this view: its headers and present bits only, no nack and no vote; the
     * frame's view stays the sender's own (vsr_replica_send_informing_dvc). */
    uint32_t informs_view;
    uint32_t flags; /* VSR_DVC_LOG_PARTIAL */
    uint8_t reserved[52];
};

/* do_view_change flags. */
enum {
    /* A state transfer began the sender's journal again above its checkpoint: its log no
     * longer names what its log_view's log held above commit_min (vsr_replica_choose). */
    VSR_DVC_LOG_PARTIAL = 1u << 0,
};

struct vsr_header_start_view {
    u128 nonce; /* echoes request_start_view */
    uint64_t op;
    uint64_t commit_max;
    uint64_t checkpoint_op;
    uint8_t reserved[88];
};

struct vsr_header_request_start_view {
    u128 nonce;
    uint8_t reserved[112];
};

struct vsr_header_request_headers {
    uint64_t op_min;
    uint64_t op_max;
    uint8_t reserved[112];
};

struct vsr_header_request_prepare {
    u128 prepare_checksum; /* 0: any */
    uint64_t prepare_op;
    uint8_t reserved[104];
};

struct vsr_header_ping {
    u128 checkpoint_id;
    uint64_t checkpoint_op;
    uint64_t ping_timestamp_monotonic;
    uint8_t reserved[96];
};

struct vsr_header_eviction {
    u128 client;
    uint8_t reason;
    uint8_t reserved[111];
};

/*
 * request_checkpoint and checkpoint share this layout. request_checkpoint: checkpoint_op is
 * the requester's commit_min (only a newer checkpoint helps), 0 with a checksum to continue
 * that one; checkpoint: one chunk (the body) of the sender's durable checkpoint.
 */
struct vsr_header_checkpoint_chunk {
    u128 checkpoint_checksum; /* of the whole checkpoint's bytes */
    uint64_t checkpoint_op;
    uint64_t chunk_offset_bytes;
    uint64_t chunk_size_bytes;
    uint64_t total_size_bytes;
    /* checkpoint: the lowest op whose committed prepare the sender's journal still holds
     * (prefix truncation removed the ones below; 0 or 1: it holds them from op 1). */
    uint64_t log_op_first;
    uint8_t reserved[72];
};

/*
 * request_records: a replica pulling a log_retained group's checkpoint asks for the
 * committed prepares op_min..op_max (at most VSR_RECORDS_CHUNK_MAX of vsr/replica_private.h, all at
 * or below checkpoint_op, whose prepare has checkpoint_checksum); each comes back as a prepare.
 */
struct vsr_header_request_records {
    u128 checkpoint_checksum;
    uint64_t checkpoint_op;
    uint64_t op_min;
    uint64_t op_max;
    uint8_t reserved[88];
};

/*
 * heartbeat: one chunk of a round (vsr/heartbeat.h); the body is entry_count entries of
 * struct vsr_heartbeat_entry. heartbeat_ack: acknowledges a complete round.
 */
struct vsr_header_heartbeat {
    uint64_t epoch;       /* heartbeat: the sender's; ack: the acknowledging side's */
    uint64_t epoch_acked; /* ack: the epoch of the round acknowledged; heartbeat: 0 */
    uint64_t round;
    uint16_t chunk;       /* heartbeat: this chunk's index, below chunk_count */
    uint16_t chunk_count; /* heartbeat: chunks of the round, 1..VSR_HEARTBEAT_CHUNKS_MAX */
    uint16_t entry_count; /* heartbeat: entries in the body */
    uint16_t flags;       /* VSR_HEARTBEAT_FLAG_* */
    uint8_t reserved[96];
};

/* One group in a heartbeat's body (64 bytes): what the sending shard's replica says. */
struct vsr_heartbeat_entry {
    struct vsr_group group;
    uint32_t view;
    uint32_t flags;         /* VSR_HEARTBEAT_ENTRY_LEADING */
    u128 commit_checksum;   /* leading: the checksum of op commit; else 0 */
    uint64_t commit;        /* leading: the primary's commit_max; else 0 */
    uint64_t checkpoint_op; /* leading: its checkpoint_quorum_op; else 0 */
};

_Static_assert(sizeof(struct vsr_heartbeat_entry) == 64, "heartbeat entry is 64 bytes");

enum {
    VSR_HEARTBEAT_ENTRY_LEADING = 1u << 0,  /* normal primary of view, view durable, heard */
    VSR_HEARTBEAT_FLAG_SWEEP = 1u << 0,     /* heartbeat: every group, not only the changed */
    VSR_HEARTBEAT_FLAG_WANT_FULL = 1u << 1, /* ack: a group here lacks its primary's entry */
};

struct vsr_header {
    u128 checksum;      /* XXH3-128 of header bytes [16, 256) */
    u128 checksum_body; /* XXH3-128 of the body */
    u128 cluster;
    uint32_t size;  /* header + body, bytes */
    uint32_t epoch; /* reconfiguration epoch; 0 today */
    uint32_t view;
    uint32_t release;
    struct vsr_group group; /* 24 bytes at 64 */
    uint8_t command;        /* enum vsr_command */
    uint8_t replica;        /* author */
    uint8_t protocol;       /* VSR_PROTOCOL_VERSION */
    uint8_t reserved_frame[37];
    union {
        struct vsr_header_prepare prepare;
        struct vsr_header_prepare_ok prepare_ok;
        struct vsr_header_commit commit;
        struct vsr_header_request request;
        struct vsr_header_reply reply;
        struct vsr_header_do_view_change do_view_change;
        struct vsr_header_start_view start_view;
        struct vsr_header_request_start_view request_start_view;
        struct vsr_header_request_headers request_headers;
        struct vsr_header_request_prepare request_prepare;
        struct vsr_header_ping ping;
        struct vsr_header_eviction eviction;
        struct vsr_header_checkpoint_chunk checkpoint_chunk;
        struct vsr_header_request_records request_records;
        struct vsr_header_heartbeat heartbeat;
        uint8_t bytes[128];
    } u;
};

_Static_assert(sizeof(struct vsr_header) == VSR_HEADER_SIZE, "header is 256 bytes");
_Static_assert(offsetof(struct vsr_header, size) == 48, "size at 48");
_Static_assert(offsetof(struct vsr_header, group) == 64, "group at 64");
_Static_assert(offsetof(struct vsr_header, command) == 88, "command at 88");
_Static_assert(offsetof(struct vsr_header, u) == 128, "command part at 128");
_Static_assert(sizeof(struct vsr_header_prepare) == 128, "prepare part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_prepare_ok) == 128, "prepare_ok part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_commit) == 128, "commit part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_request) == 128, "request part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_reply) == 128, "reply part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_do_view_change) == 128, "dvc part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_start_view) == 128, "sv part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_request_start_view) == 128, "rsv part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_request_headers) == 128, "rh part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_request_prepare) == 128, "rp part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_ping) == 128, "ping part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_eviction) == 128, "eviction part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_checkpoint_chunk) == 128, "chunk part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_request_records) == 128, "records part is 128 bytes");
_Static_assert(sizeof(struct vsr_header_heartbeat) == 128, "heartbeat part is 128 bytes");

/* Zeroes header and sets the frame fields every message has. */
void vsr_header_init(struct vsr_header *header, enum vsr_command command, u128 cluster,
                     uint32_t view, uint8_t replica, const struct vsr_group *group);

/* XXH3-128 of body; size_bytes may be 0 (body may then be NULL). */
u128 vsr_checksum(const void *body, size_t size_bytes);

/* Sets size = 256 + body_size_bytes and checksum_body, then the header checksum. */
void vsr_header_seal(struct vsr_header *header, const void *body, uint32_t body_size_bytes);

/* Recomputes only the header checksum (after editing fields; body unchanged). */
void vsr_header_set_checksum(struct vsr_header *header);

/* True when the header checksum matches (the header itself is intact). */
bool vsr_header_is_checksum_valid(const struct vsr_header *header);

/* True when body (size - 256 bytes) matches checksum_body. Requires a valid header. */
bool vsr_header_is_body_valid(const struct vsr_header *header, const void *body);

/*
 * Validates untrusted header bytes: checksum, protocol, a known command, size within
 * [256, size_bytes_max], epoch 0, replica in range, a known group kind (a metadata group
 * has all ids 0), zero reserved bytes (the frame's, and the reserved tail of the
 * command's own part; start_view_change must leave all 128 bytes zero; pong, headers
 * and request_reply have no layout here yet and are not checked) and the command's
 * invariants (prepare: operation set, op 0 if and only if root, commit below op;
 * request_headers: op_min <= op_max; do_view_change: log_view <= view; start_view:
 * commit_max <= op). Returns 0, -RUNNEL_ECHECKSUM when the header checksum fails, or
 * -RUNNEL_EFORMAT; *reason_out (if not NULL) names the failed check (NULL on success).
 */
int vsr_header_validate(const struct vsr_header *header, uint32_t size_bytes_max,
                        const char **reason_out);

/* True when both groups are the same group and incarnation. */
bool vsr_group_is_equal(const struct vsr_group *a, const struct vsr_group *b);

/* A stable small integer for (v + g) mod n primary placement. */
uint64_t vsr_group_index(const struct vsr_group *group);

/* Name of a command for logs ("prepare"), "unknown" for values outside the enum. */
const char *vsr_command_name(uint8_t command);

#endif
