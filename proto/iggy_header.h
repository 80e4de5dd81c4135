/*
 * Iggy's 256-byte frame headers (research/iggy-protocol.md §1): the request a client
 * sends, the reply and the eviction a server sends back. Each struct is the wire layout
 * on little-endian x86-64 (every field at its natural alignment; _Static_asserts pin the
 * offsets). Frames arrive in unaligned buffers, so copy a header out with
 * iggy_header_request_read / iggy_header_reply_read rather than casting in place.
 *
 * Server side: iggy_header_frame_check decides from the first 256 bytes whether the frame
 * can be read at all (§1.7 checks 1-2: else close the connection), then
 * iggy_header_request_check runs checks 3-11 and 15 and says what Iggy does with the
 * frame (accept, drop, reply with a status, evict). iggy_header_reply_init and
 * iggy_header_eviction_init fill reply headers.
 *
 * Client side: iggy_header_request_init builds a request header (stamping
 * request_checksum when asked), iggy_header_reply_check validates an incoming reply or
 * eviction header, and iggy_header_eviction_error maps an eviction to the error the Rust
 * SDK surfaces.
 */
#ifndef RUNNEL_PROTO_IGGY_HEADER_H
#define RUNNEL_PROTO_IGGY_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 iggy_u128;

enum {
    IGGY_HEADER_SIZE = 256,
    IGGY_FRAME_SIZE_MAX = 64 * 1024 * 1024, /* [message_bus] max_message_size */
    IGGY_HEADER_COMMAND_MAX = 29,           /* highest known Command discriminant */
};

/* Command byte (offset 60). */
enum iggy_frame_command {
    IGGY_FRAME_REQUEST = 5,
    IGGY_FRAME_REPLY = 8,
    IGGY_FRAME_EVICTION = 13,
};

/* Operation discriminants (§1.3.1). */
enum iggy_operation {
    IGGY_OPERATION_RESERVED = 0,
    IGGY_OPERATION_REGISTER = 1,
    IGGY_OPERATION_NON_REPLICATED = 2,
    IGGY_OPERATION_LOGOUT = 3,
    IGGY_OPERATION_CREATE_TOPIC_WITH_ASSIGNMENTS = 64,
    IGGY_OPERATION_CREATE_PARTITIONS_WITH_ASSIGNMENTS = 65,
    IGGY_OPERATION_REMOVE_CONSUMER_GROUP_MEMBER = 66,
    IGGY_OPERATION_COMPLETE_CONSUMER_GROUP_REVOCATION = 67,
    IGGY_OPERATION_TRUNCATE_PARTITION = 68,
    IGGY_OPERATION_CREATE_STREAM = 128,
    IGGY_OPERATION_UPDATE_STREAM = 129,
    IGGY_OPERATION_DELETE_STREAM = 130,
    IGGY_OPERATION_PURGE_STREAM = 131,
    IGGY_OPERATION_CREATE_TOPIC = 132,
    IGGY_OPERATION_UPDATE_TOPIC = 133,
    IGGY_OPERATION_DELETE_TOPIC = 134,
    IGGY_OPERATION_PURGE_TOPIC = 135,
    IGGY_OPERATION_CREATE_PARTITIONS = 136,
    IGGY_OPERATION_DELETE_PARTITIONS = 137,
    IGGY_OPERATION_DELETE_SEGMENTS = 138,
    IGGY_OPERATION_CREATE_CONSUMER_GROUP = 139,
    IGGY_OPERATION_DELETE_CONSUMER_GROUP = 140,
    IGGY_OPERATION_CREATE_USER = 141,
    IGGY_OPERATION_UPDATE_USER = 142,
    IGGY_OPERATION_DELETE_USER = 143,
    IGGY_OPERATION_CHANGE_PASSWORD = 144,
    IGGY_OPERATION_UPDATE_PERMISSIONS = 145,
    IGGY_OPERATION_CREATE_PERSONAL_ACCESS_TOKEN = 146,
    IGGY_OPERATION_DELETE_PERSONAL_ACCESS_TOKEN = 147,
    IGGY_OPERATION_JOIN_CONSUMER_GROUP = 148,
    IGGY_OPERATION_LEAVE_CONSUMER_GROUP = 149,
    IGGY_OPERATION_SEND_MESSAGES = 160,
    IGGY_OPERATION_STORE_CONSUMER_OFFSET = 161,
    IGGY_OPERATION_DELETE_CONSUMER_OFFSET = 162,
};

/* Eviction reasons (§1.5). */
enum iggy_eviction_reason {
    IGGY_EVICTION_NO_SESSION = 1,
    IGGY_EVICTION_CLIENT_RELEASE_TOO_LOW = 2,
    IGGY_EVICTION_CLIENT_RELEASE_TOO_HIGH = 3,
    IGGY_EVICTION_INVALID_REQUEST_OPERATION = 4,
    IGGY_EVICTION_INVALID_REQUEST_BODY = 5,
    IGGY_EVICTION_INVALID_REQUEST_BODY_SIZE = 6,
    IGGY_EVICTION_SESSION_TOO_LOW = 7,
    IGGY_EVICTION_SESSION_RELEASE_MISMATCH = 8,
    IGGY_EVICTION_INVALID_CREDENTIALS = 9,
    IGGY_EVICTION_INVALID_TOKEN = 10,
    IGGY_EVICTION_USER_INACTIVE = 11,
    IGGY_EVICTION_SESSION_ERROR = 12,
    IGGY_EVICTION_STALE_CLIENT = 13,
    IGGY_EVICTION_INCOMPATIBLE_PROTOCOL = 14,
    IGGY_EVICTION_MALFORMED_LOGIN = 15,
};

/* The 128-byte prefix common to every header (§1.2). */
struct iggy_header_frame {
    iggy_u128 checksum;      /* 0 */
    iggy_u128 checksum_body; /* 0 */
    iggy_u128 cluster;
    uint32_t size; /* header + body, bytes */
    uint32_t view;
    uint32_t release;
    uint8_t command; /* enum iggy_frame_command */
    uint8_t replica;
    uint8_t reserved_frame[66];
};

struct iggy_request_header {
    struct iggy_header_frame frame;
    iggy_u128 client;           /* must be != 0 */
    iggy_u128 request_checksum; /* 0 or XXH3_64(body) zero-extended */
    uint64_t timestamp;         /* informational, echoed */
    uint64_t request;           /* per-client request number */
    uint8_t operation;          /* enum iggy_operation */
    uint8_t padding[7];
    uint64_t session;
    uint32_t user_id;
    uint32_t code; /* NonReplicated only: the command code (reserved[0..4]) */
    uint8_t reserved[56];
};

struct iggy_reply_header {
    struct iggy_header_frame frame;
    iggy_u128 request_checksum; /* echo */
    iggy_u128 context;          /* 0 */
    iggy_u128 client;
    uint64_t op;
    uint64_t commit;
    uint64_t timestamp;
    uint64_t request;
    uint8_t operation; /* read by the SDK: decides result framing */
    uint8_t padding[7];
    uint32_t status; /* 0 ok, else an Iggy error code with an empty body */
    uint8_t reserved[36];
};

struct iggy_eviction_header {
    struct iggy_header_frame frame;
    iggy_u128 client;
    uint32_t protocol_version_max; /* reason 14 only */
    uint32_t protocol_version_min; /* reason 14 only */
    uint8_t reserved[103];
    uint8_t reason; /* enum iggy_eviction_reason */
};

_Static_assert(sizeof(struct iggy_header_frame) == 128, "frame prefix is 128 bytes");
_Static_assert(offsetof(struct iggy_header_frame, size) == 48, "size at 48");
_Static_assert(offsetof(struct iggy_header_frame, view) == 52, "view at 52");
_Static_assert(offsetof(struct iggy_header_frame, release) == 56, "release at 56");
_Static_assert(offsetof(struct iggy_header_frame, command) == 60, "command at 60");
_Static_assert(offsetof(struct iggy_header_frame, replica) == 61, "replica at 61");
_Static_assert(sizeof(struct iggy_request_header) == IGGY_HEADER_SIZE, "request 256 bytes");
_Static_assert(offsetof(struct iggy_request_header, client) == 128, "client at 128");
_Static_assert(offsetof(struct iggy_request_header, request_checksum) == 144, "at 144");
_Static_assert(offsetof(struct iggy_request_header, timestamp) == 160, "timestamp at 160");
_Static_assert(offsetof(struct iggy_request_header, request) == 168, "request at 168");
_Static_assert(offsetof(struct iggy_request_header, operation) == 176, "operation at 176");
_Static_assert(offsetof(struct iggy_request_header, session) == 184, "session at 184");
_Static_assert(offsetof(struct iggy_request_header, user_id) == 192, "user_id at 192");
_Static_assert(offsetof(struct iggy_request_header, code) == 196, "code at 196");
_Static_assert(sizeof(struct iggy_reply_header) == IGGY_HEADER_SIZE, "reply 256 bytes");
_Static_assert(offsetof(struct iggy_reply_header, request_checksum) == 128, "at 128");
_Static_assert(offsetof(struct iggy_reply_header, context) == 144, "context at 144");
_Static_assert(offsetof(struct iggy_reply_header, client) == 160, "client at 160");
_Static_assert(offsetof(struct iggy_reply_header, op) == 176, "op at 176");
_Static_assert(offsetof(struct iggy_reply_header, commit) == 184, "commit at 184");
_Static_assert(offsetof(struct iggy_reply_header, timestamp) == 192, "timestamp at 192");
_Static_assert(offsetof(struct iggy_reply_header, request) == 200, "request at 200");
_Static_assert(offsetof(struct iggy_reply_header, operation) == 208, "operation at 208");
_Static_assert(offsetof(struct iggy_reply_header, status) == 216, "status at 216");
_Static_assert(sizeof(struct iggy_eviction_header) == IGGY_HEADER_SIZE, "eviction 256 bytes");
_Static_assert(offsetof(struct iggy_eviction_header, client) == 128, "client at 128");
_Static_assert(offsetof(struct iggy_eviction_header, protocol_version_max) == 144, "at 144");
_Static_assert(offsetof(struct iggy_eviction_header, protocol_version_min) == 148, "at 148");
_Static_assert(offsetof(struct iggy_eviction_header, reason) == 255, "reason at 255");

/* What to do with an incoming request frame (§1.7). */
enum iggy_header_action {
    IGGY_HEADER_ACCEPT = 1, /* dispatch it */
    IGGY_HEADER_CLOSE,      /* close the connection */
    IGGY_HEADER_DROP,       /* drop the frame, keep the connection, send nothing */
    IGGY_HEADER_REPLY,      /* reply with verdict.status and an empty body */
    IGGY_HEADER_EVICT,      /* send an eviction with verdict.reason */
};

struct iggy_header_verdict {
    enum iggy_header_action action;
    uint32_t status; /* IGGY_HEADER_REPLY: an Iggy error code */
    uint8_t reason;  /* IGGY_HEADER_EVICT: enum iggy_eviction_reason */
    const char *why; /* static text naming the failed check (NULL when accepted) */
};

/* Protocol version packing (§2.2): major<<20 | minor<<10 | patch. */
enum {
    IGGY_PROTOCOL_VERSION = (0u << 20) | (11u << 10) | 0u, /* 0.11.0 = 11264 */
    IGGY_PROTOCOL_VERSION_MIN = IGGY_PROTOCOL_VERSION & ~0x3FFu,
};

/* True when the version gate of §2.2 accepts a client's packed version. */
bool iggy_header_is_version_accepted(uint32_t client_version);

/* True for a valid Operation discriminant (any value a typed parse accepts). */
bool iggy_header_is_operation_valid(uint8_t operation);

/* True for metadata operations: 64-68 and 128-149 except 138. */
bool iggy_header_is_operation_metadata(uint8_t operation);

/* True when a reply with this operation and body size carries a result section. */
bool iggy_header_is_result_framed(uint8_t operation, uint32_t body_size);

/* Copies 256 header bytes (any alignment) into a header struct. */
void iggy_header_request_read(const uint8_t *bytes, struct iggy_request_header *out);
void iggy_header_reply_read(const uint8_t *bytes, struct iggy_reply_header *out);

/* XXH3_64(body) zero-extended to 128 bits (body may be NULL when size is 0). */
iggy_u128 iggy_header_body_checksum(const void *body, uint32_t body_size);

/*
 * §1.7 checks 1-2 on the first 256 bytes of a frame from an untrusted peer: size within
 * [256, size_max] and a known command byte (<= 29). Returns 0 with *size_out set, or
 * -RUNNEL_EFORMAT: the connection must be closed.
 */
int iggy_header_frame_check(const uint8_t *header_bytes, uint32_t size_max, uint32_t *size_out);

/*
 * §1.7 checks 3-11 and 15 on a whole request frame (header already through
 * iggy_header_frame_check, body = size - 256 bytes). is_bound: the connection has a
 * registered session. Fills verdict with what Iggy does; IGGY_HEADER_ACCEPT means the
 * body may be dispatched by operation (and, for NonReplicated, by header->code).
 */
void iggy_header_request_check(const struct iggy_request_header *header, const uint8_t *body,
                               uint32_t body_size, bool is_bound,
                               struct iggy_header_verdict *verdict);

/*
 * Fills a reply header for request: echoes cluster, view, release, replica, client,
 * request_checksum, timestamp and request; op = request's session; commit = 0;
 * size = 256 + body_size. The caller may then set op and commit.
 */
void iggy_header_reply_init(struct iggy_reply_header *reply,
                            const struct iggy_request_header *request, uint8_t operation,
                            uint32_t status, uint32_t body_size);

/* Fills an eviction (size 256). The version window is sent only for reason 14. */
void iggy_header_eviction_init(struct iggy_eviction_header *eviction, iggy_u128 client,
                               uint8_t reason);

/*
 * Client: fills a request header. operation 2 carries code; stamp_checksum sets
 * request_checksum = XXH3_64(body) as the Rust SDK does for ops 1, 3 and 128-149.
 */
void iggy_header_request_init(struct iggy_request_header *request, iggy_u128 client,
                              uint64_t session, uint64_t request_number, uint8_t operation,
                              uint32_t code, const void *body, uint32_t body_size,
                              bool stamp_checksum);

/* What a client learns from a reply or eviction header. */
struct iggy_reply_info {
    uint8_t command;   /* IGGY_FRAME_REPLY or IGGY_FRAME_EVICTION */
    uint32_t size;     /* whole frame */
    uint8_t operation; /* reply only */
    uint32_t status;   /* reply only */
    uint8_t reason;    /* eviction only */
    uint32_t protocol_version_max;
    uint32_t protocol_version_min;
};

/*
 * Client: validates the first 256 bytes of an untrusted reply frame: command 8 or 13,
 * size within [256, size_max], an eviction exactly 256 bytes, a reply operation that is
 * a valid discriminant. Returns 0 or -RUNNEL_EFORMAT.
 */
int iggy_header_reply_check(const uint8_t *header_bytes, uint32_t size_max,
                            struct iggy_reply_info *out);

/* The Iggy error code the Rust SDK reports for an eviction (§1.5 table). */
uint32_t iggy_header_eviction_error(uint8_t reason, uint32_t version_max, uint32_t version_min);

/* Name of an operation for logs ("create_stream"), "unknown" otherwise. */
const char *iggy_header_operation_name(uint8_t operation);

#endif
