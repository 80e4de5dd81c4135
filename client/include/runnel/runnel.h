/*
 * librunnel: the C client SDK for runneld and for Apache Iggy's server (same binary
 * protocol over TCP).
 *
 * Handles. struct runnel_client is one TCP connection with its session; a producer and a
 * consumer each use one client they are given (and do not own). All handles are opaque.
 *
 * Thread-safety rules:
 *   - runnel_set_allocator() is process-wide: call it before any other librunnel call,
 *     never concurrently with one.
 *   - A client, and a producer or consumer built on it, must be used by one thread at a
 *     time (calls are blocking, request/reply in lockstep). Use one client per thread,
 *     or serialise calls with your own lock.
 *   - Different clients share nothing and may be used from different threads at once.
 *   - Data returned by pointer (polled messages) lives in the client's reply buffer and
 *     stays valid until the next call on that client.
 *
 * Errors: every function that acts returns 0 (or a count) on success and a negative
 * code on failure:
 *   - -errno for system errors (-ETIMEDOUT, -ECONNREFUSED, -ENOMEM, -EINVAL, ...);
 *   - -RUNNEL_CLIENT_E* for protocol problems (a malformed or truncated reply, ...);
 *   - -(RUNNEL_SERVER_ERROR_BASE + code) when the server answered with Iggy error code
 *     `code` (runnel_server_error_code() recovers it).
 * runnel_strerror() describes any of them. Nothing a server sends can make the
 * library abort: every reply is validated before use.
 *
 * Memory: a client allocates its buffers once, at runnel_client_create(); calls do not
 * allocate afterwards (the producer's send path included).
 */
#ifndef RUNNEL_RUNNEL_H
#define RUNNEL_RUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RUNNEL_CLIENT_VERSION "0.1.0"

/* Protocol-level error codes (the same values as runnel's lib/error.h). */
enum runnel_client_error {
    RUNNEL_CLIENT_ECONFIG = 10000,      /* invalid option */
    RUNNEL_CLIENT_ETRUNCATED = 10002,   /* reply shorter than its structure */
    RUNNEL_CLIENT_EFORMAT = 10003,      /* malformed reply */
    RUNNEL_CLIENT_ETOOLARGE = 10004,    /* request or reply over a size limit */
    RUNNEL_CLIENT_EFULL = 10005,        /* a fixed capacity is exhausted */
    RUNNEL_CLIENT_EEMPTY = 10006,       /* nothing to return */
    RUNNEL_CLIENT_ENOTFOUND = 10007,    /* the server has no such entry (empty reply) */
    RUNNEL_CLIENT_EUNSUPPORTED = 10010, /* the server lacks the feature */
    RUNNEL_CLIENT_ESTATE = 10011,       /* not valid now (not logged in, ...) */
    RUNNEL_CLIENT_ETOOOLD = 10013,      /* exactly-once: request older than the window */
};

#define RUNNEL_SERVER_ERROR_BASE 1000000

enum {
    RUNNEL_NAME_SIZE_MAX = 255,
    RUNNEL_DEFAULT_PORT = 8090,
    RUNNEL_MEMBER_PARTITIONS_MAX = 64, /* partition ids kept per group member */
    RUNNEL_SYNC_PARTITIONS_MAX = 1024, /* partitions one group member may own */
};

/* Describes any code this library returns (static text). */
const char *runnel_strerror(int code);

/* The Iggy error code inside a server error, 0 when code is not one. */
uint32_t runnel_server_error_code(int code);

/* --- allocator ------------------------------------------------------------------- */

struct runnel_allocator {
    void *(*malloc_function)(size_t size_bytes, void *context);
    void (*free_function)(void *pointer, void *context);
    void *context;
};

/* Replaces malloc/free for every later allocation (NULL restores libc). Process-wide. */
void runnel_set_allocator(const struct runnel_allocator *allocator);

/* --- identifiers ----------------------------------------------------------------- */

/* A stream, topic, group or user: by number, or by name when name is not NULL. */
struct runnel_id {
    uint32_t number;
    const char *name;
};

struct runnel_id runnel_id_number(uint32_t number);
struct runnel_id runnel_id_name(const char *name);

/* Parses text: all digits -> number, anything else -> name (points into text). */
int runnel_id_parse(const char *text, struct runnel_id *id_out);

/* --- client ---------------------------------------------------------------------- */

struct runnel_client;

struct runnel_client_options {
    const char *host;              /* "127.0.0.1" when NULL */
    uint16_t port;                 /* 8090 when 0 */
    uint32_t connect_timeout_ms;   /* 5000 when 0 */
    uint32_t request_timeout_ms;   /* per request round trip; 30000 when 0 */
    uint32_t reply_size_bytes_max; /* largest reply accepted; 16 MiB when 0 */
    uint32_t send_size_bytes_max;  /* largest request; 16 MiB when 0 */
    uint32_t reconnect_attempts;   /* after a lost connection; 0 = never reconnect */
    uint32_t reconnect_backoff_ms; /* between attempts; 500 when 0 */
    bool disable_exactly_once;     /* do not opt in to exactly-once against runneld */
};

/* Fills options with the defaults (every field zero means "default"). */
void runnel_client_options_init(struct runnel_client_options *options);

/* Allocates a client (no connection yet). Errors: -ENOMEM, -EINVAL. */
int runnel_client_create(const struct runnel_client_options *options,
                         struct runnel_client **client_out);

/* Closes the connection (without logout) and frees the client. NULL is ignored. */
void runnel_client_destroy(struct runnel_client *client);

/* Points the client at another node of a cluster (host NULL: "127.0.0.1"): closes the
 * connection without logout; the next call connects there and logs in again with the
 * stored credentials (reconnect_attempts > 0). An exactly-once client keeps its client id
 * and sequence, so a write resent through the other node is applied once. Errors: -EINVAL. */
int runnel_client_set_endpoint(struct runnel_client *client, const char *host, uint16_t port);

/* Exactly-once (runneld): the next partition request (SendMessages, offset store or
 * delete) carries the same sequence number as the last one. Call it before resending a
 * write whose outcome is unknown (a timeout, a failure after the reconnects, a switch to
 * another node with runnel_client_set_endpoint): runneld then applies it once and answers
 * the resend with the original reply. Does nothing without exactly-once. */
void runnel_client_repeat_sequence(struct runnel_client *client);

/* Opens the TCP connection within connect_timeout_ms. Errors: -ETIMEDOUT,
 * -ECONNREFUSED, -EHOSTUNREACH, -RUNNEL_CLIENT_ECONFIG (unresolvable host), ... */
int runnel_client_connect(struct runnel_client *client);

/* Logs in (Iggy's Register) with a password or with a personal access token. The
 * credentials are kept for reconnects. A server eviction arrives as a server error
 * (42 invalid credentials, 53 invalid token, 14003 incompatible protocol, ...). */
int runnel_login_password(struct runnel_client *client, const char *username, const char *password);
int runnel_login_token(struct runnel_client *client, const char *token);

/* Logs out (the connection stays open). */
int runnel_logout(struct runnel_client *client);

/* Connects (if needed) and logs in with the credentials given. */
int runnel_connect_and_login(struct runnel_client *client, const char *username,
                             const char *password);

/* True once a login succeeded on the current connection. */
bool runnel_client_is_logged_in(const struct runnel_client *client);

/* True when the server is runneld (decided from the login reply). */
bool runnel_client_is_runneld(const struct runnel_client *client);

/* True when partition ops are exactly-once (runneld accepted the capability). */
bool runnel_client_has_exactly_once(const struct runnel_client *client);

/* The server's version string from the login reply ("" before). */
const char *runnel_client_server_version(const struct runnel_client *client);

/* The user id from the login reply. */
uint32_t runnel_client_user_id(const struct runnel_client *client);

/* Connections opened so far (a consumer rejoins its group when this changes). */
uint64_t runnel_client_connection_count(const struct runnel_client *client);

/* Round trip of code 1; works before login. */
int runnel_ping(struct runnel_client *client);

/* --- streams, topics, partitions, segments ---------------------------------------- */

struct runnel_stream {
    uint32_t id;
    uint64_t created_at_us;
    uint32_t topic_count;
    uint64_t size_bytes;
    uint64_t message_count;
    char name[RUNNEL_NAME_SIZE_MAX + 1];
};

struct runnel_topic {
    uint32_t id;
    uint64_t created_at_us;
    uint32_t partition_count;
    uint64_t message_expiry_us;    /* 0 server default, UINT64_MAX never */
    uint8_t compression;           /* 1 none, 2 gzip */
    uint64_t max_topic_size_bytes; /* 0 server default, UINT64_MAX unlimited */
    uint64_t size_bytes;
    uint64_t message_count;
    char name[RUNNEL_NAME_SIZE_MAX + 1];
};

struct runnel_partition {
    uint32_t id;
    uint64_t created_at_us;
    uint32_t segment_count;
    uint64_t current_offset;
    uint64_t size_bytes;
    uint64_t message_count;
};

/* Topic options; 0 means "leave to the server" for each. */
struct runnel_topic_options {
    uint64_t message_expiry_us;    /* UINT64_MAX never */
    uint64_t max_topic_size_bytes; /* UINT64_MAX unlimited */
    int8_t enforce_fsync;          /* -1 false (runneld: replicated), 0 default, 1 true */
    bool compression_gzip;
};

/* Each list call fills up to *_max entries and sets *count_out to the number the server
 * returned (which may be larger: the excess is dropped). stream_out may be NULL. */
int runnel_stream_create(struct runnel_client *client, const char *name,
                         struct runnel_stream *stream_out);
int runnel_stream_get(struct runnel_client *client, struct runnel_id stream,
                      struct runnel_stream *stream_out);
int runnel_stream_list(struct runnel_client *client, struct runnel_stream *streams,
                       uint32_t streams_max, uint32_t *count_out);
int runnel_stream_update(struct runnel_client *client, struct runnel_id stream, const char *name);
int runnel_stream_delete(struct runnel_client *client, struct runnel_id stream);
int runnel_stream_purge(struct runnel_client *client, struct runnel_id stream);

int runnel_topic_create(struct runnel_client *client, struct runnel_id stream, const char *name,
                        uint32_t partition_count, const struct runnel_topic_options *options,
                        struct runnel_topic *topic_out);
/* Gets a topic and up to partitions_max of its partitions (partitions may be NULL). */
int runnel_topic_get(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                     struct runnel_topic *topic_out, struct runnel_partition *partitions,
                     uint32_t partitions_max);
int runnel_topic_list(struct runnel_client *client, struct runnel_id stream,
                      struct runnel_topic *topics, uint32_t topics_max, uint32_t *count_out);
int runnel_topic_update(struct runnel_client *client, struct runnel_id stream,
                        struct runnel_id topic, const char *name,
                        const struct runnel_topic_options *options);
int runnel_topic_delete(struct runnel_client *client, struct runnel_id stream,
                        struct runnel_id topic);
int runnel_topic_purge(struct runnel_client *client, struct runnel_id stream,
                       struct runnel_id topic);

int runnel_partition_create(struct runnel_client *client, struct runnel_id stream,
                            struct runnel_id topic, uint32_t partition_count);
int runnel_partition_delete(struct runnel_client *client, struct runnel_id stream,
                            struct runnel_id topic, uint32_t partition_count);
int runnel_segment_delete(struct runnel_client *client, struct runnel_id stream,
                          struct runnel_id topic, uint32_t partition_id, uint32_t segment_count);

/* --- messages ---------------------------------------------------------------------- */

enum runnel_partitioning_kind {
    RUNNEL_PARTITIONING_BALANCED = 1,
    RUNNEL_PARTITIONING_PARTITION_ID = 2,
    RUNNEL_PARTITIONING_KEY = 3,
};

struct runnel_partitioning {
    uint8_t kind; /* enum runnel_partitioning_kind */
    uint32_t partition_id;
    const void *key; /* 1..255 bytes */
    uint32_t key_size_bytes;
};

/* A message to send. id 0 (both halves) lets the library mint a random id. */
struct runnel_message_out {
    uint64_t id_low;
    uint64_t id_high;
    const void *payload; /* 1 byte at least */
    uint32_t payload_size_bytes;
    const void *user_headers; /* TLV, may be NULL */
    uint32_t user_headers_size_bytes;
};

struct runnel_send_result {
    uint32_t partition_id;
    uint64_t base_offset;
    bool has_offset; /* the server confirmed an offset */
};

/* Sends one batch with the partitioning as given (resolved by the server). */
int runnel_send_messages(struct runnel_client *client, struct runnel_id stream,
                         struct runnel_id topic, const struct runnel_partitioning *partitioning,
                         const struct runnel_message_out *messages, uint32_t message_count,
                         struct runnel_send_result *result_out);

enum runnel_polling_kind {
    RUNNEL_POLLING_OFFSET = 1,
    RUNNEL_POLLING_TIMESTAMP = 2,
    RUNNEL_POLLING_FIRST = 3,
    RUNNEL_POLLING_LAST = 4,
    RUNNEL_POLLING_NEXT = 5,
};

enum runnel_consumer_kind { RUNNEL_CONSUMER_SINGLE = 1, RUNNEL_CONSUMER_GROUP = 2 };

struct runnel_poll_request {
    uint8_t consumer_kind;     /* enum runnel_consumer_kind */
    struct runnel_id consumer; /* consumer id, or the group */
    struct runnel_id stream;
    struct runnel_id topic;
    bool has_partition;
    uint32_t partition_id;
    uint8_t polling_kind;   /* enum runnel_polling_kind */
    uint64_t polling_value; /* offset or µs timestamp */
    uint32_t count;
    bool auto_commit;
};

/* One received message; payload and user headers point into the client's buffer. */
struct runnel_message {
    uint64_t offset;
    uint64_t timestamp_us;        /* broker time of its batch */
    uint64_t origin_timestamp_us; /* producer time */
    uint64_t id_low;
    uint64_t id_high;
    const uint8_t *payload;
    uint32_t payload_size_bytes;
    const uint8_t *user_headers;
    uint32_t user_headers_size_bytes;
};

/* A poll reply, validated; walk it with runnel_polled_next. */
struct runnel_polled {
    uint32_t partition_id;
    uint64_t current_offset;
    uint32_t message_count; /* messages in the records (validated) */
    const uint8_t *records;
    uint32_t records_size_bytes;
    uint32_t position_bytes;    /* walk state */
    uint32_t batch_end_bytes;   /* walk state */
    uint64_t batch_base_offset; /* walk state */
    uint64_t batch_base_timestamp_us;
    uint64_t batch_origin_timestamp_us;
};

/* Polls; the reply's structure is validated before it is returned. */
int runnel_poll_messages(struct runnel_client *client, const struct runnel_poll_request *request,
                         struct runnel_polled *polled_out);

/* Fills message_out with the next message; false after the last. */
bool runnel_polled_next(struct runnel_polled *polled, struct runnel_message *message_out);

/* --- consumer offsets ------------------------------------------------------------------ */

struct runnel_offset {
    uint32_t partition_id;
    uint64_t current_offset;
    uint64_t stored_offset;
};

/* Returns -RUNNEL_CLIENT_ENOTFOUND when nothing is stored. */
int runnel_offset_get(struct runnel_client *client, uint8_t consumer_kind,
                      struct runnel_id consumer, struct runnel_id stream, struct runnel_id topic,
                      uint32_t partition_id, struct runnel_offset *offset_out);
int runnel_offset_store(struct runnel_client *client, uint8_t consumer_kind,
                        struct runnel_id consumer, struct runnel_id stream, struct runnel_id topic,
                        uint32_t partition_id, uint64_t offset);
int runnel_offset_delete(struct runnel_client *client, uint8_t consumer_kind,
                         struct runnel_id consumer, struct runnel_id stream, struct runnel_id topic,
                         uint32_t partition_id);

/* --- consumer groups ------------------------------------------------------------------- */

struct runnel_group {
    uint32_t id;
    uint32_t partition_count;
    uint32_t member_count;
    char name[RUNNEL_NAME_SIZE_MAX + 1];
};

struct runnel_group_member {
    uint32_t id;
    uint32_t partition_count;
    uint32_t partition_ids[RUNNEL_MEMBER_PARTITIONS_MAX]; /* first ones */
};

struct runnel_group_sync {
    uint64_t generation;
    uint32_t partition_count;
    uint32_t partition_ids[RUNNEL_SYNC_PARTITIONS_MAX];
};

int runnel_group_create(struct runnel_client *client, struct runnel_id stream,
                        struct runnel_id topic, const char *name, struct runnel_group *group_out);
int runnel_group_get(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                     struct runnel_id group, struct runnel_group *group_out,
                     struct runnel_group_member *members, uint32_t members_max);
int runnel_group_list(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                      struct runnel_group *groups, uint32_t groups_max, uint32_t *count_out);
int runnel_group_delete(struct runnel_client *client, struct runnel_id stream,
                        struct runnel_id topic, struct runnel_id group);
int runnel_group_join(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                      struct runnel_id group);
int runnel_group_leave(struct runnel_client *client, struct runnel_id stream,
                       struct runnel_id topic, struct runnel_id group);
/* -RUNNEL_CLIENT_ENOTFOUND when this client is not a member. */
int runnel_group_sync(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                      struct runnel_id group, struct runnel_group_sync *sync_out);

/* --- users, tokens, clients, system ------------------------------------------------------ */

struct runnel_user {
    uint32_t id;
    uint64_t created_at_us;
    uint8_t status; /* 1 active, 2 inactive */
    char username[RUNNEL_NAME_SIZE_MAX + 1];
    bool has_permissions;
    bool global_permissions[10]; /* manage/read servers, users, streams, topics, poll, send */
};

struct runnel_pat {
    char name[RUNNEL_NAME_SIZE_MAX + 1];
    uint64_t expiry_at_us; /* 0 never */
};

struct runnel_client_info {
    uint32_t client_id;
    uint32_t user_id;  /* UINT32_MAX none */
    uint8_t transport; /* 1 tcp, 2 quic, 4 websocket */
    char address[RUNNEL_NAME_SIZE_MAX + 1];
    uint32_t consumer_group_count;
};

struct runnel_stats {
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
    uint32_t thread_count;
    uint64_t free_disk_space_bytes;
    uint64_t total_disk_space_bytes;
    char hostname[RUNNEL_NAME_SIZE_MAX + 1];
    char os_name[RUNNEL_NAME_SIZE_MAX + 1];
    char os_version[RUNNEL_NAME_SIZE_MAX + 1];
    char kernel_version[RUNNEL_NAME_SIZE_MAX + 1];
    char server_version[RUNNEL_NAME_SIZE_MAX + 1];
};

struct runnel_cluster_node {
    char name[RUNNEL_NAME_SIZE_MAX + 1];
    char ip[RUNNEL_NAME_SIZE_MAX + 1];
    uint16_t tcp_port;
    uint16_t quic_port;
    uint16_t http_port;
    uint16_t websocket_port;
    uint8_t role;   /* 0 leader, 1 follower */
    uint8_t status; /* 0 healthy, 1 starting, 2 stopping, 3 unreachable, 4 maintenance */
};

/* Global permission flags; NULL permissions means "none". */
int runnel_user_create(struct runnel_client *client, const char *username, const char *password,
                       bool is_active, const bool *global_permissions,
                       struct runnel_user *user_out);
int runnel_user_get(struct runnel_client *client, struct runnel_id user,
                    struct runnel_user *user_out);
int runnel_user_list(struct runnel_client *client, struct runnel_user *users, uint32_t users_max,
                     uint32_t *count_out);
/* username NULL keeps the name; status 0 keeps the status. */
int runnel_user_update(struct runnel_client *client, struct runnel_id user, const char *username,
                       uint8_t status);
int runnel_user_delete(struct runnel_client *client, struct runnel_id user);
int runnel_user_password(struct runnel_client *client, struct runnel_id user,
                         const char *current_password, const char *new_password);
/* NULL global_permissions clears the permissions. */
int runnel_user_permissions(struct runnel_client *client, struct runnel_id user,
                            const bool *global_permissions);

/* expiry_us: 0 never, else µs from now. token_out receives up to token_size - 1 bytes. */
int runnel_pat_create(struct runnel_client *client, const char *name, uint64_t expiry_us,
                      char *token_out, size_t token_size);
int runnel_pat_delete(struct runnel_client *client, const char *name);
int runnel_pat_list(struct runnel_client *client, struct runnel_pat *pats, uint32_t pats_max,
                    uint32_t *count_out);

int runnel_client_get(struct runnel_client *client, uint32_t client_id,
                      struct runnel_client_info *info_out);
int runnel_client_list(struct runnel_client *client, struct runnel_client_info *infos,
                       uint32_t infos_max, uint32_t *count_out);
int runnel_me(struct runnel_client *client, struct runnel_client_info *info_out);
int runnel_stats_get(struct runnel_client *client, struct runnel_stats *stats_out);
/* name_out (may be NULL) receives the cluster name. */
int runnel_cluster_metadata(struct runnel_client *client, char *name_out, size_t name_size,
                            struct runnel_cluster_node *nodes, uint32_t nodes_max,
                            uint32_t *count_out);

/* --- runnel-only: roles, partition -> primary map, shard placement (runneld) ---------- */

/*
 * runneld's true roles and partition -> primary map (DESIGN.md §10.4; Iggy's cluster
 * metadata reports every node as Leader). Against Iggy's server these calls return
 * -RUNNEL_CLIENT_EUNSUPPORTED without sending anything.
 */
enum { RUNNEL_CLUSTER_NODES_MAX = 16 };

enum runnel_cluster_role { RUNNEL_ROLE_PRIMARY = 1, RUNNEL_ROLE_BACKUP = 2 };

/* A group's replica state on the answering node. */
enum runnel_group_status {
    RUNNEL_GROUP_CLOSED = 0, /* not open on that node yet: primary is the preferred one */
    RUNNEL_GROUP_NORMAL = 1,
    RUNNEL_GROUP_VIEW_CHANGE = 2,
    RUNNEL_GROUP_RECOVERING_HEAD = 3,
};

struct runnel_cluster_roles {
    uint8_t replica_count;    /* nodes in the cluster */
    uint8_t self;             /* the answering node's replica index */
    uint8_t metadata_primary; /* replica index of the metadata group's primary */
    uint32_t metadata_view;
    uint8_t metadata_status;   /* enum runnel_group_status */
    uint32_t shard_count;      /* shards of the answering node */
    uint32_t connection_shard; /* the shard this connection lives on */
    uint32_t node_count;
    struct {
        uint8_t replica;
        uint8_t role; /* enum runnel_cluster_role (of the metadata group) */
        bool is_self;
        uint32_t partitions_led; /* partitions of the reply whose primary it is */
    } nodes[RUNNEL_CLUSTER_NODES_MAX];
};

/* Where a partition group lives: its primary node and, on the answering node, its shard. */
struct runnel_partition_route {
    uint32_t stream_id;
    uint32_t topic_id;
    uint32_t partition_id;
    uint64_t incarnation;
    uint32_t view;
    uint8_t primary; /* replica index */
    uint8_t status;  /* enum runnel_group_status */
    uint16_t shard;
};

/*
 * Roles and the map: of one topic when stream and topic are given (topic-read
 * permission), of every partition when both are NULL (servers-read permission). Fills
 * up to routes_max routes (routes may be NULL when routes_max is 0); *count_out gets
 * the number the server returned.
 */
int runnel_cluster_map(struct runnel_client *client, const struct runnel_id *stream,
                       const struct runnel_id *topic, struct runnel_cluster_roles *roles_out,
                       struct runnel_partition_route *routes, uint32_t routes_max,
                       uint32_t *count_out);

/*
 * Moves this connection, with its session, to shard of the node (the shard that owns
 * the partitions it sends to saves the server a hop between shards). Returns 0 once the
 * server agreed (*shard_count_out, may be NULL, gets the node's shard count); the next
 * request is served there. A reconnect lands on a shard of the server's choosing.
 */
int runnel_connection_move(struct runnel_client *client, uint32_t shard, uint32_t *shard_count_out);

/*
 * Placement: reads the topic's map and moves the connection to the shard that owns
 * partition_id (has_partition), else to the shard owning most of the topic's partitions
 * led by the node it is connected to. Does nothing (returns 0) against Iggy's server,
 * when the connection is already there, or when the node leads none of them (requests
 * are forwarded whichever shard sends them). Errors of the map or the move are returned.
 */
int runnel_connection_place(struct runnel_client *client, struct runnel_id stream,
                            struct runnel_id topic, bool has_partition, uint32_t partition_id);

/* --- producer ------------------------------------------------------------------------ */

struct runnel_producer;

struct runnel_producer_options {
    struct runnel_id stream;
    struct runnel_id topic;
    struct runnel_partitioning partitioning; /* balanced (client side) when kind is 0 */
    uint32_t batch_messages_max;             /* 1000 when 0 */
    uint32_t batch_size_bytes_max;           /* 1 MiB when 0 */
    uint32_t linger_us;                      /* 1000 when 0; UINT32_MAX = only when full */
    uint32_t retries;                        /* resends of a failed batch; 3 when 0 */
    uint32_t retry_backoff_ms;               /* 100 when 0 */
    bool disable_placement;                  /* runneld: do not move to the owning shard */
};

/*
 * A batching producer on client (not owned). Messages are copied into a buffer
 * allocated here, so the caller's payload may be reused at once. A batch is sent when it
 * reaches batch_messages_max or batch_size_bytes_max, when runnel_producer_send finds
 * the oldest pending message older than linger_us, on runnel_producer_flush_if_due
 * (call it from your loop to honour linger without sending), and on flush/destroy.
 * Balanced and key partitioning are resolved here, as Iggy's SDKs do (one topic get for
 * the partition count), and sent as a partition id. Retries resend the same batch; on
 * runneld with exactly-once the retry is appended once, on Iggy it may be duplicated.
 * Placement (runneld only): before its first batch on each connection the producer reads
 * its topic's map (runnel_cluster_map) and moves the connection
 * (runnel_connection_place) to the shard that owns its partition (partition id), or the
 * shard owning most of the topic's partitions led by the node it is connected to
 * (balanced, key); once per connection, never per batch. Set disable_placement to keep
 * the connection where the server put it.
 */
int runnel_producer_create(struct runnel_client *client,
                           const struct runnel_producer_options *options,
                           struct runnel_producer **producer_out);
/* Flushes pending messages, then frees; returns the flush's error. NULL is ignored. */
int runnel_producer_destroy(struct runnel_producer *producer);
int runnel_producer_send(struct runnel_producer *producer,
                         const struct runnel_message_out *message);
/* For key partitioning: the key picks the partition (a new batch when it changes). */
int runnel_producer_send_keyed(struct runnel_producer *producer, const void *key,
                               uint32_t key_size_bytes, const struct runnel_message_out *message);
int runnel_producer_flush(struct runnel_producer *producer);
int runnel_producer_flush_if_due(struct runnel_producer *producer);
/* Messages sent and batches sent so far. */
uint64_t runnel_producer_sent_messages(const struct runnel_producer *producer);

/* --- consumer ------------------------------------------------------------------------ */

struct runnel_consumer;

enum runnel_auto_commit {
    RUNNEL_AUTO_COMMIT_DISABLED = 0,
    RUNNEL_AUTO_COMMIT_AFTER_POLL = 1, /* the server stores the offset on each poll */
    RUNNEL_AUTO_COMMIT_INTERVAL = 2,   /* store the last consumed offset every interval */
    RUNNEL_AUTO_COMMIT_AFTER_CONSUME =
        3, /* store after each message runnel_consumer_next returns */
};

struct runnel_consumer_options {
    struct runnel_id stream;
    struct runnel_id topic;
    uint8_t consumer_kind;            /* single (default) or group */
    struct runnel_id consumer;        /* consumer id, or the group (created if missing) */
    uint32_t partition_id;            /* single consumer: the partition to read */
    uint8_t polling_kind;             /* single: any; group: always NEXT. NEXT when 0 */
    uint64_t polling_value;           /* OFFSET: start offset, TIMESTAMP: µs */
    uint32_t batch_count;             /* messages per poll; 100 when 0 */
    uint8_t auto_commit;              /* enum runnel_auto_commit */
    uint32_t auto_commit_interval_ms; /* 1000 when 0 */
    uint32_t heartbeat_interval_ms;   /* group: ping + sync when idle that long; 5000 */
};

/* A consumer on client (not owned). A group consumer joins (creating the group when it
 * does not exist), syncs its partitions, polls them round-robin, re-syncs on a fence,
 * rejoins after a reconnect and leaves on destroy. */
int runnel_consumer_create(struct runnel_client *client,
                           const struct runnel_consumer_options *options,
                           struct runnel_consumer **consumer_out);
/* Commits (when auto-commit is on), leaves the group, frees. NULL is ignored. */
int runnel_consumer_destroy(struct runnel_consumer *consumer);
/* One poll: returns the number of messages now buffered (0 when none). */
int runnel_consumer_poll(struct runnel_consumer *consumer);
/* Next message: polls when the buffer is empty; -RUNNEL_CLIENT_EEMPTY when none. */
int runnel_consumer_next(struct runnel_consumer *consumer, struct runnel_message *message_out,
                         uint32_t *partition_id_out);
/* Stores the offset of the last message returned, per partition touched. */
int runnel_consumer_commit(struct runnel_consumer *consumer);
/* Group: ping and sync if idle for heartbeat_interval_ms. */
int runnel_consumer_heartbeat(struct runnel_consumer *consumer);

#ifdef __cplusplus
}
#endif

#endif
