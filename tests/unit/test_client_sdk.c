/*
 * Unit tests for librunnel against an in-process fake server: a thread with a loopback
 * listener that speaks Iggy frames with the proto/ codecs. Happy paths (login, streams,
 * topics, send/poll, offsets, producer partitioning, group consumer, exactly-once resend
 * after a lost connection), hostile replies (truncated, lying sizes, garbage, evictions,
 * random bodies) that must give clean errors, and the Nth allocation failing.
 */
#include "client/bench_workload.h"
#include "client/include/runnel/runnel.h"
#include "lib/error.h"
#include "proto/batch.h"
#include "proto/cluster_wire.h"
#include "proto/iggy_command.h"
#include "proto/iggy_error.h"
#include "proto/iggy_groups.h"
#include "proto/iggy_header.h"
#include "proto/iggy_messages.h"
#include "proto/iggy_streams.h"
#include "proto/iggy_system.h"
#include "proto/iggy_users.h"

#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

enum fake_fault {
    FAULT_NONE = 0,
    FAULT_TRUNCATE,     /* body cut short (size field matches) */
    FAULT_GARBAGE_HEAD, /* 256 bytes of 0xAB */
    FAULT_SIZE_LIE,     /* size claims more than is sent */
    FAULT_OVERSIZE,     /* size over any limit */
    FAULT_STATUS,       /* status 1009 */
    FAULT_EVICT,        /* eviction reason 9 */
    FAULT_CLOSE,        /* connection closed instead of a reply */
    FAULT_GARBAGE_BODY, /* body bytes all 0xFF */
    FAULT_RANDOM_BODY,  /* random body of random size */
    FAULT_COUNT,
};

enum { FAKE_PARTITIONS_MAX = 4, FAKE_STORE_SIZE = 256 * 1024, FAKE_FRAME_MAX = 512 * 1024 };

struct fake_server {
    int listen_fd;
    uint16_t port;
    pthread_t thread;
    volatile int stop;
    /* configuration (set before the client talks) */
    uint32_t fault_code;
    enum fake_fault fault;
    uint32_t fault_seed;
    bool is_runneld;
    uint32_t partition_count;
    bool close_after_next_send;      /* apply the send, then drop the connection unanswered */
    uint32_t transient_status_count; /* the next replies get status 58, not applied */
    /* state */
    uint8_t store[FAKE_PARTITIONS_MAX][FAKE_STORE_SIZE];
    uint32_t store_size[FAKE_PARTITIONS_MAX];
    uint64_t next_offset[FAKE_PARTITIONS_MAX];
    uint32_t batches_applied;
    uint32_t batches_per_partition[FAKE_PARTITIONS_MAX];
    uint64_t last_sequence; /* exactly-once: highest partition request applied */
    uint64_t stored_offset[FAKE_PARTITIONS_MAX];
    bool has_stored_offset[FAKE_PARTITIONS_MAX];
    uint32_t connections;
    uint32_t connection_shard; /* runnel-only map and move: 0 at each accept */
    uint32_t map_requests;
    uint32_t move_requests;
    uint32_t ids_count; /* identifiers in the last bare-identifiers request (delete, join) */
    uint32_t ids[3];    /* their numeric values */
    uint8_t request[FAKE_FRAME_MAX];
    uint8_t reply[FAKE_FRAME_MAX];
};

static struct fake_server fake;

static int fake_read(int fd, uint8_t *into, uint32_t size)
{
    uint32_t got = 0;
    while (got < size) {
        ssize_t result = recv(fd, into + got, size - got, 0);
        if (result <= 0) {
            return -1;
        }
        got += (uint32_t)result;
    }
    return 0;
}

static void fake_write(int fd, const uint8_t *bytes, uint32_t size)
{
    uint32_t sent = 0;
    while (sent < size) {
        ssize_t result = send(fd, bytes + sent, size - sent, MSG_NOSIGNAL);
        if (result <= 0) {
            return;
        }
        sent += (uint32_t)result;
    }
}

static void fake_stream(struct iggy_writer *writer, uint32_t id, const char *name)
{
    struct iggy_stream_info info = {.id = id, .name = iggy_bytes_from_string(name)};
    iggy_streams_stream_encode(writer, &info);
}

static void fake_topic(struct iggy_writer *writer)
{
    struct iggy_topic_info topic = {.id = 0,
                                    .partition_count = fake.partition_count,
                                    .compression = 1,
                                    .name = iggy_bytes_from_string("topic-1")};
    iggy_streams_topic_encode(writer, &topic);
    for (uint32_t index = 0; index < fake.partition_count; index++) {
        struct iggy_partition_info partition = {.id = index,
                                                .current_offset = fake.next_offset[index]};
        iggy_streams_partition_encode(writer, &partition);
    }
}

static void fake_send(const struct iggy_request_header *header, const uint8_t *body,
                      uint32_t body_size, struct iggy_writer *writer)
{
    struct iggy_send_messages send;
    assert_int_equal(iggy_messages_send_decode(body, body_size, &send), 0);
    assert_int_equal(iggy_messages_send_admit(&send, NULL), 0);
    uint32_t partition = send.partitioning.partition_id % FAKE_PARTITIONS_MAX;
    bool is_duplicate = fake.is_runneld && header->request <= fake.last_sequence;
    if (!is_duplicate && fake.store_size[partition] + send.batch.size <= FAKE_STORE_SIZE) {
        uint8_t *at = fake.store[partition] + fake.store_size[partition];
        memcpy(at, send.batch.bytes, send.batch.size);
        batch_stamp(at, send.batch.size, partition, fake.next_offset[partition], 1000);
        fake.store_size[partition] += send.batch.size;
        fake.next_offset[partition] += send.message_count;
        fake.batches_applied++;
        fake.batches_per_partition[partition]++;
        fake.last_sequence = header->request;
    }
    struct iggy_send_confirmation confirmation = {.partition_id = partition};
    iggy_messages_send_reply_encode(writer, &confirmation);
}

static void fake_poll(const uint8_t *body, uint32_t body_size, struct iggy_writer *writer)
{
    struct iggy_poll_messages poll;
    assert_int_equal(iggy_messages_poll_decode(body, body_size, &poll), 0);
    uint32_t partition = poll.partition.partition_id % FAKE_PARTITIONS_MAX;
    uint64_t start = poll.strategy.kind == IGGY_POLLING_OFFSET ? poll.strategy.value : 0;
    if (poll.strategy.kind == IGGY_POLLING_NEXT && fake.has_stored_offset[partition]) {
        start = fake.stored_offset[partition] + 1;
    }
    struct iggy_poll_reply reply = {.partition_id = partition,
                                    .current_offset = fake.next_offset[partition]};
    uint8_t *count_at = writer->bytes + writer->size + 12;
    iggy_messages_poll_reply_encode(writer, &reply);
    uint32_t position = 0;
    uint32_t count = 0;
    while (position < fake.store_size[partition]) {
        const uint8_t *batch = fake.store[partition] + position;
        struct batch_header batch_header;
        batch_header_read(batch, &batch_header);
        if (batch_header.base_offset + batch_header.message_count > start) {
            iggy_writer_bytes(writer, batch, (uint32_t)batch_header.batch_length_bytes);
            count += batch_header.message_count;
        }
        position += (uint32_t)batch_header.batch_length_bytes;
    }
    iggy_wire_store_u32(count_at, count);
}

static void fake_register(const uint8_t *body, uint32_t body_size, struct iggy_writer *writer,
                          bool *is_evicted)
{
    struct iggy_register request;
    assert_int_equal(iggy_users_register_decode(body, body_size, &request), 0);
    bool is_ok = (request.has_password_shape &&
                  iggy_bytes_is_equal(request.password, iggy_bytes_from_string("iggy"))) ||
                 (request.has_token_shape &&
                  iggy_bytes_is_equal(request.token, iggy_bytes_from_string("token-1")));
    if (!is_ok) {
        *is_evicted = true;
        return;
    }
    struct iggy_register_reply reply = {
        .user_id = 7,
        .session = 1 + fake.connections,
        .server_protocol_version = IGGY_PROTOCOL_VERSION,
        .server_version = iggy_bytes_from_string(fake.is_runneld ? "runneld 0.1.0" : "0.9.0")};
    iggy_users_register_reply_encode(writer, &reply);
}

/* runneld's map: one node, two shards, partition p on shard p % 2. */
static void fake_cluster_map(struct iggy_writer *writer)
{
    fake.map_requests++;
    struct cluster_wire_head head = {.replica_count = 1,
                                     .metadata_status = CLUSTER_WIRE_STATUS_NORMAL,
                                     .shard_count = 2,
                                     .connection_shard = fake.connection_shard};
    cluster_wire_head_encode(writer, &head);
    iggy_writer_u32(writer, 1);
    struct cluster_wire_node node = {
        .role = CLUSTER_WIRE_ROLE_PRIMARY, .is_self = true, .partitions_led = fake.partition_count};
    cluster_wire_node_encode(writer, &node);
    iggy_writer_u32(writer, fake.partition_count);
    for (uint32_t id = 0; id < fake.partition_count; id++) {
        struct cluster_wire_partition partition = {.stream_id = 1,
                                                   .partition_id = id,
                                                   .incarnation = 9,
                                                   .status = CLUSTER_WIRE_STATUS_NORMAL,
                                                   .shard = (uint16_t)(id % 2)};
        cluster_wire_partition_encode(writer, &partition);
    }
}

static void fake_connection_move(const uint8_t *body, uint32_t body_size,
                                 struct iggy_writer *writer)
{
    fake.move_requests++;
    uint32_t shard = 0;
    assert_int_equal(cluster_wire_move_request_decode(body, body_size, &shard), 0);
    assert_true(shard < 2);
    fake.connection_shard = shard;
    cluster_wire_move_reply_encode(writer, shard, 2);
}

/* Records the identifiers making up a request body such as delete or join (names as
 * UINT32_MAX). */
static void fake_ids(const uint8_t *body, uint32_t body_size)
{
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    fake.ids_count = 0;
    while (fake.ids_count < 3 && iggy_reader_remaining(&reader) > 0) {
        struct iggy_identifier id;
        iggy_wire_identifier_decode(&reader, &id);
        assert_int_equal(reader.error, 0);
        fake.ids[fake.ids_count++] = id.kind == IGGY_IDENTIFIER_NUMERIC ? id.numeric : UINT32_MAX;
    }
    assert_int_equal(iggy_reader_finish(&reader), 0);
}

/* UserInfo entries, then a UserInfoDetails with the "manage servers" permission. */
static void fake_users(struct iggy_writer *writer, uint32_t count, bool with_details)
{
    for (uint32_t id = 1; id <= count; id++) {
        char name[16];
        snprintf(name, sizeof(name), "user-%u", id);
        struct iggy_user_info user = {.id = id,
                                      .created_at_us = 1000 + id,
                                      .status = 1,
                                      .username = iggy_bytes_from_string(name),
                                      .has_permissions = with_details};
        user.permissions.global[0] = true;
        iggy_users_user_encode(writer, &user, with_details);
    }
}

/* Groups 1..count; with members, each of the two members owns two partitions. */
static void fake_groups(struct iggy_writer *writer, uint32_t count, bool with_members)
{
    uint32_t partitions[2][2] = {{0, 2}, {1, 3}};
    for (uint32_t id = 1; id <= count; id++) {
        struct iggy_group_info group = {.id = id,
                                        .partition_count = 4,
                                        .member_count = with_members ? 2 : 0,
                                        .name = iggy_bytes_from_string("group")};
        iggy_groups_group_encode(writer, &group);
        for (uint32_t member = 0; member < group.member_count; member++) {
            struct iggy_group_member info = {
                .id = 10 + member, .partition_count = 2, .partition_ids = partitions[member]};
            iggy_groups_member_encode(writer, &info);
        }
    }
}

/* ClientInfo entries 1..count; with details, one group membership each. */
static void fake_clients(struct iggy_writer *writer, uint32_t count, bool with_details)
{
    uint32_t group_ids[3] = {1, 0, 5};
    for (uint32_t id = 1; id <= count; id++) {
        struct iggy_client_info client = {.client_id = id,
                                          .user_id = 7,
                                          .transport = 1,
                                          .address = iggy_bytes_from_string("127.0.0.1:1"),
                                          .consumer_group_count = 1,
                                          .group_ids = group_ids};
        iggy_system_client_encode(writer, &client, with_details);
    }
}

/* Answers the typed admin calls (users, tokens, groups, clients) with fixed entries. */
static void fake_admin(uint32_t code, const uint8_t *body, uint32_t body_size,
                       struct iggy_writer *writer)
{
    switch (code) {
    case IGGY_COMMAND_USER_LIST:
        fake_users(writer, 3, false);
        break;
    case IGGY_COMMAND_USER_CREATE:
        fake_users(writer, 1, true);
        break;
    case IGGY_COMMAND_PAT_LIST:
        for (uint32_t index = 0; index < 2; index++) {
            struct iggy_pat_info pat = {.name = iggy_bytes_from_string(index ? "pat-b" : "pat-a"),
                                        .expiry_at_us = 100 + index};
            iggy_users_pat_encode(writer, &pat);
        }
        break;
    case IGGY_COMMAND_GROUP_LIST:
        fake_groups(writer, 3, false);
        break;
    case IGGY_COMMAND_GROUP_GET:
        fake_groups(writer, 1, true);
        break;
    case IGGY_COMMAND_CLIENT_LIST:
        fake_clients(writer, 2, false);
        break;
    case IGGY_COMMAND_ME:
        fake_clients(writer, 1, true);
        break;
    case IGGY_COMMAND_USER_DELETE:
    case IGGY_COMMAND_STREAM_DELETE:
    case IGGY_COMMAND_TOPIC_PURGE:
    case IGGY_COMMAND_GROUP_JOIN:
        fake_ids(body, body_size);
        break;
    default:
        break; /* an empty body: "not found" for the get calls */
    }
}

/* The normal reply body for code; returns false when the request gets an eviction. */
static bool fake_answer(const struct iggy_request_header *header, uint32_t code,
                        const uint8_t *body, uint32_t body_size, struct iggy_writer *writer)
{
    bool is_evicted = false;
    if (iggy_header_is_operation_metadata(header->operation) || code == IGGY_COMMAND_OFFSET_STORE) {
        iggy_wire_result_encode(writer, 0);
    }
    switch (code) {
    case IGGY_COMMAND_LOGIN_REGISTER:
        fake_register(body, body_size, writer, &is_evicted);
        break;
    case IGGY_COMMAND_STREAM_CREATE:
        fake_stream(writer, 1, "bench-stream-1");
        break;
    case IGGY_COMMAND_STREAM_LIST:
        fake_stream(writer, 1, "bench-stream-1");
        fake_stream(writer, 2, "bench-stream-2");
        break;
    case IGGY_COMMAND_TOPIC_CREATE:
    case IGGY_COMMAND_TOPIC_GET:
        fake_topic(writer);
        break;
    case IGGY_COMMAND_MESSAGE_SEND:
        fake_send(header, body, body_size, writer);
        break;
    case IGGY_COMMAND_MESSAGE_POLL:
        fake_poll(body, body_size, writer);
        break;
    case IGGY_COMMAND_OFFSET_STORE: {
        struct iggy_consumer_offset offset;
        assert_int_equal(iggy_messages_offset_decode(code, body, body_size, &offset), 0);
        uint32_t partition = offset.partition.partition_id % FAKE_PARTITIONS_MAX;
        fake.stored_offset[partition] = offset.offset;
        fake.has_stored_offset[partition] = true;
        break;
    }
    case IGGY_COMMAND_OFFSET_GET:
        if (fake.has_stored_offset[1]) {
            struct iggy_offset_reply reply = {.stored_offset = fake.stored_offset[1]};
            iggy_messages_offset_reply_encode(writer, &reply);
        }
        break;
    case IGGY_COMMAND_GROUP_SYNC: {
        uint32_t ids[FAKE_PARTITIONS_MAX] = {0, 1, 2, 3};
        struct iggy_group_sync sync = {
            .generation = 1, .partition_count = fake.partition_count, .partition_ids = ids};
        iggy_groups_sync_encode(writer, &sync);
        break;
    }
    case RUNNEL_COMMAND_CLUSTER_MAP:
        fake_cluster_map(writer);
        break;
    case RUNNEL_COMMAND_CONNECTION_MOVE:
        fake_connection_move(body, body_size, writer);
        break;
    case IGGY_COMMAND_CLUSTER_METADATA: {
        struct iggy_cluster cluster = {.name = iggy_bytes_from_string("fake"), .node_count = 1};
        struct iggy_cluster_node node = {.name = iggy_bytes_from_string("n0"),
                                         .ip = iggy_bytes_from_string("127.0.0.1"),
                                         .tcp_port = 8090};
        iggy_system_cluster_encode(writer, &cluster);
        iggy_system_node_encode(writer, &node);
        break;
    }
    default:
        fake_admin(code, body, body_size, writer);
        break;
    }
    return !is_evicted;
}

static uint32_t fake_random(void)
{
    fake.fault_seed = fake.fault_seed * 1103515245u + 12345u;
    return fake.fault_seed >> 8;
}

/* Writes the (possibly corrupted) reply frame; returns its size, 0 to close instead. */
static uint32_t fake_reply(const struct iggy_request_header *header, uint32_t code,
                           const uint8_t *body, uint32_t body_size)
{
    struct iggy_writer writer;
    iggy_writer_init(&writer, fake.reply + IGGY_HEADER_SIZE, FAKE_FRAME_MAX - IGGY_HEADER_SIZE);
    bool is_answered = fake_answer(header, code, body, body_size, &writer);
    assert_int_equal(writer.error, 0);
    enum fake_fault fault = code == fake.fault_code ? fake.fault : FAULT_NONE;
    if (!is_answered || fault == FAULT_EVICT) {
        struct iggy_eviction_header eviction;
        iggy_header_eviction_init(&eviction, header->client, IGGY_EVICTION_INVALID_CREDENTIALS);
        memcpy(fake.reply, &eviction, IGGY_HEADER_SIZE);
        return IGGY_HEADER_SIZE;
    }
    uint32_t size = writer.size;
    if (fault == FAULT_TRUNCATE) {
        size = size > 5 ? size - 5 : 0;
    } else if (fault == FAULT_GARBAGE_BODY) {
        memset(fake.reply + IGGY_HEADER_SIZE, 0xFF, size);
    } else if (fault == FAULT_RANDOM_BODY) {
        size = fake_random() % 200;
        for (uint32_t index = 0; index < size; index++) {
            fake.reply[IGGY_HEADER_SIZE + index] = (uint8_t)fake_random();
        }
    }
    struct iggy_reply_header reply;
    uint32_t status = fault == FAULT_STATUS ? IGGY_ERROR_STREAM_ID_NOT_FOUND : 0;
    iggy_header_reply_init(&reply, header, header->operation, status, status ? 0 : size);
    memcpy(fake.reply, &reply, IGGY_HEADER_SIZE);
    if (fault == FAULT_GARBAGE_HEAD) {
        memset(fake.reply, 0xAB, IGGY_HEADER_SIZE);
    } else if (fault == FAULT_SIZE_LIE || fault == FAULT_OVERSIZE) {
        uint32_t lie = fault == FAULT_SIZE_LIE ? IGGY_HEADER_SIZE + size + 1000 : 0x7FFFFFFF;
        memcpy(fake.reply + 48, &lie, 4);
    } else if (fault == FAULT_CLOSE) {
        return 0;
    }
    return IGGY_HEADER_SIZE + (status ? 0 : size);
}

static void fake_serve(int fd)
{
    for (;;) {
        if (fake_read(fd, fake.request, IGGY_HEADER_SIZE) != 0) {
            return;
        }
        struct iggy_request_header header;
        iggy_header_request_read(fake.request, &header);
        assert_true(header.frame.size >= IGGY_HEADER_SIZE && header.frame.size <= FAKE_FRAME_MAX);
        uint32_t body_size = header.frame.size - IGGY_HEADER_SIZE;
        if (fake_read(fd, fake.request + IGGY_HEADER_SIZE, body_size) != 0) {
            return;
        }
        uint32_t code = header.operation == IGGY_OPERATION_NON_REPLICATED
                            ? header.code
                            : iggy_command_for_operation(header.operation);
        if (fake.transient_status_count > 0 && code != IGGY_COMMAND_LOGIN_REGISTER) {
            fake.transient_status_count--;
            struct iggy_reply_header reply;
            iggy_header_reply_init(&reply, &header, header.operation,
                                   IGGY_ERROR_TRANSIENT_NOT_ACCEPTED, 0);
            fake_write(fd, (const uint8_t *)&reply, IGGY_HEADER_SIZE);
            continue;
        }
        uint32_t size = fake_reply(&header, code, fake.request + IGGY_HEADER_SIZE, body_size);
        if (code == IGGY_COMMAND_MESSAGE_SEND && fake.close_after_next_send) {
            fake.close_after_next_send = false;
            return;
        }
        if (size == 0) {
            return;
        }
        fake_write(fd, fake.reply, size);
    }
}

static void *fake_main(void *argument)
{
    (void)argument;
    while (!fake.stop) {
        struct pollfd descriptor = {.fd = fake.listen_fd, .events = POLLIN};
        if (poll(&descriptor, 1, 20) <= 0) {
            continue;
        }
        int fd = accept(fake.listen_fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        fake.connections++;
        fake.connection_shard = 0;
        fake_serve(fd);
        close(fd);
    }
    return NULL;
}

static void fake_start(void)
{
    memset(&fake, 0, sizeof(fake));
    fake.partition_count = 3;
    fake.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fake.listen_fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fake.listen_fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(fake.listen_fd, 8), 0);
    socklen_t size = sizeof(address);
    assert_int_equal(getsockname(fake.listen_fd, (struct sockaddr *)&address, &size), 0);
    fake.port = ntohs(address.sin_port);
    assert_int_equal(pthread_create(&fake.thread, NULL, fake_main, NULL), 0);
}

static void fake_stop(void)
{
    fake.stop = 1;
    pthread_join(fake.thread, NULL);
    close(fake.listen_fd);
}

/* Round-trip deadline: short where a test waits for it to expire (hostile and random
 * replies), long elsewhere so a loaded CI machine never turns a slow reply into a resend. */
static uint32_t client_request_timeout_ms = 5000;

static struct runnel_client *client_open(uint32_t reconnect_attempts)
{
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    options.port = fake.port;
    options.request_timeout_ms = client_request_timeout_ms;
    options.reply_size_bytes_max = 256 * 1024;
    options.send_size_bytes_max = 256 * 1024;
    options.reconnect_attempts = reconnect_attempts;
    options.reconnect_backoff_ms = 10;
    struct runnel_client *client = NULL;
    assert_int_equal(runnel_client_create(&options, &client), 0);
    assert_int_equal(runnel_connect_and_login(client, "iggy", "iggy"), 0);
    return client;
}

static void send_messages(struct runnel_client *client, uint32_t partition, uint32_t count)
{
    struct runnel_message_out messages[16];
    char payloads[16][24];
    assert_true(count <= 16);
    for (uint32_t index = 0; index < count; index++) {
        snprintf(payloads[index], sizeof(payloads[index]), "message-%u", index);
        messages[index] = (struct runnel_message_out){
            .payload = payloads[index], .payload_size_bytes = (uint32_t)strlen(payloads[index])};
    }
    struct runnel_partitioning partitioning = {.kind = RUNNEL_PARTITIONING_PARTITION_ID,
                                               .partition_id = partition};
    assert_int_equal(runnel_send_messages(client, runnel_id_name("bench-stream-1"),
                                          runnel_id_number(0), &partitioning, messages, count,
                                          NULL),
                     0);
}

static void test_happy_path(void **state)
{
    (void)state;
    fake_start();
    struct runnel_client *client = client_open(0);
    assert_true(runnel_client_is_logged_in(client));
    assert_false(runnel_client_is_runneld(client));
    assert_int_equal(runnel_client_user_id(client), 7);
    assert_int_equal(runnel_ping(client), 0);
    struct runnel_stream stream;
    assert_int_equal(runnel_stream_create(client, "bench-stream-1", &stream), 0);
    assert_string_equal(stream.name, "bench-stream-1");
    struct runnel_stream streams[1];
    uint32_t count = 0;
    assert_int_equal(runnel_stream_list(client, streams, 1, &count), 0);
    assert_int_equal(count, 2); /* two returned, one kept */
    struct runnel_topic topic;
    struct runnel_partition partitions[4];
    assert_int_equal(runnel_topic_create(client, runnel_id_number(1), "topic-1", 3, NULL, &topic),
                     0);
    assert_int_equal(
        runnel_topic_get(client, runnel_id_number(1), runnel_id_number(0), &topic, partitions, 4),
        0);
    assert_int_equal(topic.partition_count, 3);
    send_messages(client, 1, 10);
    struct runnel_poll_request request = {.consumer_kind = RUNNEL_CONSUMER_SINGLE,
                                          .consumer = runnel_id_number(1),
                                          .stream = runnel_id_number(1),
                                          .topic = runnel_id_number(0),
                                          .has_partition = true,
                                          .partition_id = 1,
                                          .polling_kind = RUNNEL_POLLING_OFFSET,
                                          .count = 100};
    struct runnel_polled polled;
    assert_int_equal(runnel_poll_messages(client, &request, &polled), 0);
    assert_int_equal(polled.message_count, 10);
    struct runnel_message message;
    uint32_t seen = 0;
    while (runnel_polled_next(&polled, &message)) {
        char expected[24];
        snprintf(expected, sizeof(expected), "message-%u", seen);
        assert_int_equal(message.offset, seen);
        assert_memory_equal(message.payload, expected, strlen(expected));
        seen++;
    }
    assert_int_equal(seen, 10);
    struct runnel_offset offset;
    assert_int_equal(runnel_offset_get(client, 1, runnel_id_number(1), runnel_id_number(1),
                                       runnel_id_number(0), 1, &offset),
                     -RUNNEL_ENOTFOUND);
    assert_int_equal(runnel_offset_store(client, 1, runnel_id_number(1), runnel_id_number(1),
                                         runnel_id_number(0), 1, 9),
                     0);
    assert_int_equal(runnel_offset_get(client, 1, runnel_id_number(1), runnel_id_number(1),
                                       runnel_id_number(0), 1, &offset),
                     0);
    assert_int_equal(offset.stored_offset, 9);
    struct runnel_cluster_node node;
    char name[32];
    assert_int_equal(runnel_cluster_metadata(client, name, sizeof(name), &node, 1, &count), 0);
    assert_string_equal(name, "fake");
    assert_int_equal(node.tcp_port, 8090);
    assert_int_equal(runnel_logout(client), 0);
    runnel_client_destroy(client);
    fake_stop();
}

static void test_login_failures(void **state)
{
    (void)state;
    fake_start();
    struct runnel_client *client = NULL;
    assert_int_equal(runnel_client_create(NULL, &client), 0);
    runnel_client_destroy(client);
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    options.port = fake.port;
    assert_int_equal(runnel_client_create(&options, &client), 0);
    assert_int_equal(runnel_ping(client), -ENOTCONN);
    int result = runnel_connect_and_login(client, "iggy", "wrong");
    assert_int_equal(runnel_server_error_code(result), IGGY_ERROR_INVALID_CREDENTIALS);
    assert_string_equal(runnel_strerror(result), "invalid_credentials");
    assert_false(runnel_client_is_logged_in(client));
    assert_int_equal(runnel_login_token(client, "token-1"), 0);
    assert_true(runnel_client_is_logged_in(client));
    runnel_client_destroy(client);
    options.port = 1; /* nothing listens there */
    assert_int_equal(runnel_client_create(&options, &client), 0);
    assert_true(runnel_client_connect(client) < 0);
    runnel_client_destroy(client);
    fake_stop();
}

/* Logging in again over a session logs out first and keeps the new credentials for the
 * reconnect after a lost connection; without a connection the login is -ENOTCONN. */
static void test_login_again(void **state)
{
    (void)state;
    fake_start();
    struct runnel_client *client = client_open(1);
    assert_int_equal(runnel_login_token(client, "token-1"), 0);
    assert_true(runnel_client_is_logged_in(client));
    fake.close_after_next_send = true;
    send_messages(client, 0, 1); /* the reconnect logs in with the token and resends */
    assert_true(fake.connections >= 2);
    assert_true(runnel_client_is_logged_in(client));
    assert_int_equal(runnel_login_password(client, "iggy", "iggy"), 0);
    fake.close_after_next_send = true;
    send_messages(client, 0, 1);
    assert_true(runnel_client_is_logged_in(client));
    runnel_client_destroy(client);
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    options.port = fake.port;
    assert_int_equal(runnel_client_create(&options, &client), 0);
    assert_int_equal(runnel_login_token(client, "token-1"), -ENOTCONN);
    assert_int_equal(runnel_login_password(client, "iggy", "iggy"), -ENOTCONN);
    runnel_client_destroy(client);
    fake_stop();
}

/* One call per command under test; returns its result. */
static int hostile_call(struct runnel_client *client, uint32_t code)
{
    struct runnel_stream streams[2];
    struct runnel_topic topic;
    struct runnel_polled polled;
    struct runnel_group_sync sync;
    uint32_t count = 0;
    struct runnel_poll_request request = {.consumer_kind = RUNNEL_CONSUMER_SINGLE,
                                          .consumer = runnel_id_number(1),
                                          .stream = runnel_id_number(1),
                                          .topic = runnel_id_number(0),
                                          .has_partition = true,
                                          .polling_kind = RUNNEL_POLLING_OFFSET,
                                          .count = 10};
    switch (code) {
    case IGGY_COMMAND_STREAM_LIST:
        return runnel_stream_list(client, streams, 2, &count);
    case IGGY_COMMAND_TOPIC_GET:
        return runnel_topic_get(client, runnel_id_number(1), runnel_id_number(0), &topic, NULL, 0);
    case IGGY_COMMAND_MESSAGE_POLL:
        return runnel_poll_messages(client, &request, &polled);
    case IGGY_COMMAND_GROUP_SYNC:
        return runnel_group_sync(client, runnel_id_number(1), runnel_id_number(0),
                                 runnel_id_number(0), &sync);
    default:
        return runnel_stream_create(client, "s", &streams[0]);
    }
}

static void test_hostile_replies(void **state)
{
    (void)state;
    client_request_timeout_ms = 300;
    fake_start();
    struct runnel_client *writer = client_open(0);
    send_messages(writer, 0, 3); /* something to poll */
    runnel_client_destroy(writer);
    const uint32_t codes[] = {IGGY_COMMAND_STREAM_LIST, IGGY_COMMAND_TOPIC_GET,
                              IGGY_COMMAND_MESSAGE_POLL, IGGY_COMMAND_GROUP_SYNC,
                              IGGY_COMMAND_STREAM_CREATE};
    for (uint32_t code_index = 0; code_index < 5; code_index++) {
        for (int fault = FAULT_TRUNCATE; fault < FAULT_COUNT; fault++) {
            fake.fault_code = 0;
            struct runnel_client *client = client_open(0);
            fake.fault_code = codes[code_index];
            fake.fault = (enum fake_fault)fault;
            int result = hostile_call(client, codes[code_index]);
            if (fault == FAULT_RANDOM_BODY) {
                (void)result; /* any outcome but a crash */
            } else if (fault == FAULT_TRUNCATE && codes[code_index] == IGGY_COMMAND_STREAM_LIST) {
                assert_true(result < 0); /* list decodes to the end: truncation shows */
            } else {
                assert_true(result < 0);
            }
            if (fault == FAULT_STATUS) {
                assert_int_equal(runnel_server_error_code(result), 1009);
            }
            fake.fault_code = 0;
            runnel_client_destroy(client);
        }
    }
    fake_stop();
    client_request_timeout_ms = 5000;
}

static void test_random_replies(void **state)
{
    (void)state;
    client_request_timeout_ms = 300;
    fake_start();
    struct runnel_client *client = client_open(0);
    const uint32_t codes[] = {IGGY_COMMAND_STREAM_LIST, IGGY_COMMAND_TOPIC_GET,
                              IGGY_COMMAND_MESSAGE_POLL, IGGY_COMMAND_GROUP_SYNC};
    for (uint32_t seed = 1; seed <= 400; seed++) {
        fake.fault_seed = seed;
        fake.fault = FAULT_RANDOM_BODY;
        fake.fault_code = codes[seed % 4];
        (void)hostile_call(client, codes[seed % 4]);
        fake.fault_code = 0;
        if (!runnel_client_is_logged_in(client)) {
            assert_int_equal(runnel_connect_and_login(client, "iggy", "iggy"), 0);
        }
    }
    runnel_client_destroy(client);
    fake_stop();
    client_request_timeout_ms = 5000;
}

static void test_producer_partitioning(void **state)
{
    (void)state;
    fake_start();
    struct runnel_client *client = client_open(0);
    struct runnel_producer_options options = {.stream = runnel_id_name("bench-stream-1"),
                                              .topic = runnel_id_name("topic-1"),
                                              .batch_messages_max = 4,
                                              .batch_size_bytes_max = 64 * 1024,
                                              .linger_us = UINT32_MAX};
    struct runnel_producer *producer = NULL;
    assert_int_equal(runnel_producer_create(client, &options, &producer), 0);
    struct runnel_message_out message = {.payload = "payload", .payload_size_bytes = 7};
    for (int index = 0; index < 12; index++) {
        assert_int_equal(runnel_producer_send(producer, &message), 0);
    }
    assert_int_equal(fake.batches_applied, 3);
    for (int partition = 0; partition < 3; partition++) {
        assert_int_equal(fake.batches_per_partition[partition], 1);
    }
    assert_int_equal(runnel_producer_send_keyed(producer, "key", 3, &message), 0);
    assert_int_equal(runnel_producer_sent_messages(producer), 12);
    assert_int_equal(runnel_producer_destroy(producer), 0); /* flushes the keyed one */
    assert_int_equal(fake.batches_applied, 4);
    runnel_client_destroy(client);
    fake_stop();
}

/* A producer on runneld reads its topic's map once per connection and moves to the
 * owning shard; hostile map replies only cost the placement; Iggy is never asked. */
static void test_producer_placement(void **state)
{
    (void)state;
    fake_start();
    fake.is_runneld = true;
    struct runnel_client *client = client_open(1);
    struct runnel_producer_options options = {
        .stream = runnel_id_name("bench-stream-1"),
        .topic = runnel_id_name("topic-1"),
        .partitioning = {.kind = RUNNEL_PARTITIONING_PARTITION_ID, .partition_id = 1},
        .batch_messages_max = 2,
        .batch_size_bytes_max = 64 * 1024,
        .linger_us = UINT32_MAX};
    struct runnel_producer *producer = NULL;
    assert_int_equal(runnel_producer_create(client, &options, &producer), 0);
    struct runnel_message_out message = {.payload = "payload", .payload_size_bytes = 7};
    for (int index = 0; index < 6; index++) {
        assert_int_equal(runnel_producer_send(producer, &message), 0);
    }
    assert_int_equal(fake.batches_per_partition[1], 3);
    assert_int_equal(fake.map_requests, 1); /* once per connection, not per batch */
    assert_int_equal(fake.move_requests, 1);
    assert_int_equal(fake.connection_shard, 1); /* partition 1's shard */
    struct runnel_cluster_roles roles;
    struct runnel_partition_route routes[4];
    uint32_t count = 0;
    assert_int_equal(runnel_cluster_map(client, NULL, NULL, &roles, routes, 4, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(roles.connection_shard, 1);
    assert_int_equal(roles.node_count, 1);
    assert_true(roles.nodes[0].is_self);
    assert_int_equal(routes[2].shard, 0);
    assert_int_equal(runnel_producer_destroy(producer), 0);
    runnel_client_destroy(client); /* the fake serves one connection at a time */
    /* Balanced: the shard owning most partitions (0 and 2 on shard 0): already there. */
    struct runnel_client *second = client_open(0);
    options.partitioning.kind = RUNNEL_PARTITIONING_BALANCED;
    assert_int_equal(runnel_producer_create(second, &options, &producer), 0);
    assert_int_equal(runnel_producer_send(producer, &message), 0);
    assert_int_equal(runnel_producer_destroy(producer), 0);
    assert_int_equal(fake.map_requests, 3);
    assert_int_equal(fake.move_requests, 1);
    /* A hostile map reply: a clean error from the call, the producer still sends. */
    for (enum fake_fault fault = FAULT_TRUNCATE; fault <= FAULT_RANDOM_BODY; fault++) {
        if (fault == FAULT_EVICT || fault == FAULT_CLOSE || fault == FAULT_SIZE_LIE ||
            fault == FAULT_GARBAGE_HEAD || fault == FAULT_OVERSIZE) {
            continue; /* connection-level faults: covered by test_hostile_replies */
        }
        fake.fault_code = RUNNEL_COMMAND_CLUSTER_MAP;
        fake.fault = fault;
        fake.fault_seed = (uint32_t)fault;
        assert_true(runnel_cluster_map(second, NULL, NULL, &roles, routes, 4, &count) < 0);
    }
    fake.fault_code = 0;
    runnel_client_destroy(second);
    fake_stop();
    /* Iggy's server: never asked, the calls refuse without sending. */
    fake_start();
    client = client_open(0);
    options.partitioning.kind = RUNNEL_PARTITIONING_PARTITION_ID;
    assert_int_equal(runnel_producer_create(client, &options, &producer), 0);
    assert_int_equal(runnel_producer_send(producer, &message), 0);
    assert_int_equal(runnel_producer_destroy(producer), 0);
    assert_int_equal(fake.map_requests, 0);
    assert_int_equal(runnel_cluster_map(client, NULL, NULL, &roles, routes, 4, &count),
                     -RUNNEL_CLIENT_EUNSUPPORTED);
    assert_int_equal(runnel_connection_move(client, 1, NULL), -RUNNEL_CLIENT_EUNSUPPORTED);
    runnel_client_destroy(client);
    fake_stop();
}

static void test_group_consumer(void **state)
{
    (void)state;
    fake_start();
    struct runnel_client *client = client_open(0);
    send_messages(client, 0, 5);
    send_messages(client, 2, 5);
    struct runnel_consumer_options options = {.stream = runnel_id_number(1),
                                              .topic = runnel_id_number(0),
                                              .consumer_kind = RUNNEL_CONSUMER_GROUP,
                                              .consumer = runnel_id_name("cg-1"),
                                              .auto_commit = RUNNEL_AUTO_COMMIT_AFTER_CONSUME};
    struct runnel_consumer *consumer = NULL;
    assert_int_equal(runnel_consumer_create(client, &options, &consumer), 0);
    struct runnel_message message;
    uint32_t partition = 0;
    uint32_t received = 0;
    for (int round = 0; round < 10; round++) {
        if (runnel_consumer_next(consumer, &message, &partition) == 0) {
            received++;
        }
    }
    assert_int_equal(received, 10);
    assert_true(fake.has_stored_offset[0] && fake.has_stored_offset[2]);
    assert_int_equal(fake.stored_offset[2], 3); /* the last one is stored once consumed */
    assert_int_equal(runnel_consumer_destroy(consumer), 0);
    assert_int_equal(fake.stored_offset[2], 4);
    runnel_client_destroy(client);
    fake_stop();
}

static void test_resend_after_lost_connection(void **state)
{
    (void)state;
    for (int is_runneld = 0; is_runneld <= 1; is_runneld++) {
        fake_start();
        fake.is_runneld = is_runneld;
        struct runnel_client *client = client_open(3);
        assert_int_equal(runnel_client_has_exactly_once(client), is_runneld);
        fake.close_after_next_send = true;
        send_messages(client, 0, 2); /* applied, reply lost, resent after reconnect */
        assert_int_equal(runnel_client_connection_count(client), 2);
        /* runneld deduplicates the resend; Iggy's server appends it again. */
        assert_int_equal(fake.batches_applied, is_runneld ? 1 : 2);
        runnel_client_destroy(client);
        fake_stop();
    }
}

/* Iggy's server answers status 58 (not a result section) while a new partition is not
 * routable yet; the SDK replays it, so must librunnel (it failed the send before). */
static void test_transient_status_is_replayed(void **state)
{
    (void)state;
    fake_start();
    struct runnel_client *client = client_open(0);
    fake.transient_status_count = 3;
    send_messages(client, 1, 2);
    assert_int_equal(fake.transient_status_count, 0);
    assert_int_equal(fake.batches_applied, 1);
    runnel_client_destroy(client);
    fake_stop();
}

/* Runs actors against the fake (which serves one connection at a time, so they finish
 * at different times) and waits, bounded, until bench_actors_reap says all joined. */
static void bench_actors_run(struct bench_actor *actors, uint32_t count)
{
    assert_int_equal(bench_actors_start(actors, count), 0);
    bool is_running = true;
    for (int round = 0; is_running && round < 1000; round++) {
        struct timespec delay = {.tv_sec = 0, .tv_nsec = 5000000};
        nanosleep(&delay, NULL);
        is_running = bench_actors_reap(actors, count);
    }
    assert_false(is_running); /* joining a thread twice used to keep this true */
}

static void test_bench_actors(void **state)
{
    (void)state;
    fake_start();
    fake.partition_count = 1;
    static struct bench_config config;
    bench_config_defaults(&config, BENCH_PINNED_PRODUCER);
    config.port = fake.port;
    config.streams = 1;
    config.partitions = 1;
    config.message_size_bytes = 16;
    config.messages_per_batch = 4;
    config.message_batches = 3;
    assert_int_equal(bench_setup(&config), 0);
    static struct bench_actor actors[3];
    for (uint32_t index = 0; index < 3; index++) {
        actors[index] = (struct bench_actor){
            .config = &config, .role = BENCH_PRODUCER, .index = index + 1, .stream = 1};
    }
    bench_actors_run(actors, 3);
    for (uint32_t index = 0; index < 3; index++) {
        assert_int_equal(actors[index].result, 0);
        assert_int_equal(actors[index].sample_count, 3);
        assert_int_equal(actors[index].samples[2].bytes, 64);
        free(actors[index].samples);
    }
    assert_int_equal(fake.batches_applied, 9);
    /* A producing consumer sends one batch per record (Iggy's require_reply) and counts
     * the bytes both ways. */
    config.kind = BENCH_END_TO_END;
    actors[0] = (struct bench_actor){
        .config = &config, .role = BENCH_PRODUCING_CONSUMER, .index = 1, .stream = 1};
    bench_actors_run(actors, 1);
    assert_int_equal(actors[0].result, 0);
    assert_int_equal(actors[0].sample_count, 3);
    assert_int_equal(fake.batches_applied, 12);
    assert_int_equal(actors[0].samples[0].bytes, 64 + 40 * 16); /* 4 sent, 36 + 4 polled */
    assert_int_equal(actors[0].samples[1].messages, 4 + 4);
    free(actors[0].samples);
    fake_stop();
}

/* Allocator that fails the Nth call and counts live blocks. */
static int allocation_fail_at;
static int allocation_calls;
static int allocation_live;

static void *failing_malloc(size_t size, void *context)
{
    (void)context;
    allocation_calls++;
    if (allocation_calls == allocation_fail_at) {
        return NULL;
    }
    allocation_live++;
    return malloc(size);
}

static void failing_free(void *pointer, void *context)
{
    (void)context;
    allocation_live--;
    free(pointer);
}

static int allocation_scenario(void)
{
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    options.port = fake.port;
    options.reply_size_bytes_max = 128 * 1024;
    options.send_size_bytes_max = 128 * 1024;
    struct runnel_client *client = NULL;
    int result = runnel_client_create(&options, &client);
    if (result != 0) {
        return result;
    }
    result = runnel_connect_and_login(client, "iggy", "iggy");
    struct runnel_producer *producer = NULL;
    struct runnel_producer_options producer_options = {.stream = runnel_id_number(1),
                                                       .topic = runnel_id_number(0),
                                                       .batch_size_bytes_max = 64 * 1024};
    if (result == 0) {
        result = runnel_producer_create(client, &producer_options, &producer);
    }
    struct runnel_message_out message = {.payload = "x", .payload_size_bytes = 1};
    if (result == 0) {
        result = runnel_producer_send(producer, &message);
        int flushed = runnel_producer_destroy(producer);
        result = result != 0 ? result : flushed;
    }
    struct runnel_consumer *consumer = NULL;
    struct runnel_consumer_options consumer_options = {.stream = runnel_id_number(1),
                                                       .topic = runnel_id_number(0),
                                                       .consumer = runnel_id_number(1)};
    if (result == 0) {
        result = runnel_consumer_create(client, &consumer_options, &consumer);
    }
    if (result == 0) {
        result = runnel_consumer_poll(consumer) < 0 ? -EIO : 0;
        runnel_consumer_destroy(consumer);
    }
    runnel_client_destroy(client);
    return result;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    fake_start();
    struct runnel_allocator allocator = {failing_malloc, failing_free, NULL};
    runnel_set_allocator(&allocator);
    int result = -ENOMEM;
    int fail_at = 1;
    for (; fail_at < 100 && result == -ENOMEM; fail_at++) {
        allocation_fail_at = fail_at;
        allocation_calls = 0;
        allocation_live = 0;
        result = allocation_scenario();
        assert_true(result == 0 || result == -ENOMEM);
        assert_int_equal(allocation_live, 0);
    }
    assert_int_equal(result, 0);
    assert_true(fail_at > 5); /* client, 2 buffers, producer, its buffer, consumer ... */
    runnel_set_allocator(NULL);
    fake_stop();
}

/* Issue 7's target: no allocation per message on the producer's send path in steady
 * state. Every librunnel allocation goes through the allocator hook (client/ calls malloc
 * only in the default hook), so a counting hook sees all of them: after the first batch
 * (which places the connection), thousands of messages through the producer and direct
 * sends allocate nothing; creating the client and producer did. */
static void test_send_path_allocates_nothing(void **state)
{
    (void)state;
    fake_start();
    fake.is_runneld = true;
    struct runnel_allocator allocator = {failing_malloc, failing_free, NULL};
    runnel_set_allocator(&allocator);
    allocation_fail_at = 0;
    allocation_calls = 0;
    allocation_live = 0;
    struct runnel_client *client = client_open(1);
    struct runnel_producer_options options = {
        .stream = runnel_id_name("bench-stream-1"),
        .topic = runnel_id_name("topic-1"),
        .partitioning = {.kind = RUNNEL_PARTITIONING_PARTITION_ID, .partition_id = 1},
        .batch_messages_max = 100,
        .batch_size_bytes_max = 64 * 1024,
        .linger_us = UINT32_MAX};
    struct runnel_producer *producer = NULL;
    assert_int_equal(runnel_producer_create(client, &options, &producer), 0);
    char payload[100];
    memset(payload, 'p', sizeof(payload));
    struct runnel_message_out message = {.payload = payload, .payload_size_bytes = 100};
    for (int index = 0; index < 100; index++) { /* warm-up: one batch, the placement */
        assert_int_equal(runnel_producer_send(producer, &message), 0);
    }
    int after_setup = allocation_calls;
    assert_true(after_setup >= 4); /* client, its two buffers, producer, its buffer */
    for (int index = 0; index < 5000; index++) {
        message.id_low = (uint64_t)index + 1;
        assert_int_equal(runnel_producer_send(producer, &message), 0);
    }
    assert_int_equal(runnel_producer_flush(producer), 0);
    struct runnel_message_out batch[16];
    for (int index = 0; index < 16; index++) {
        batch[index] = message;
    }
    struct runnel_partitioning partitioning = {.kind = RUNNEL_PARTITIONING_PARTITION_ID,
                                               .partition_id = 2};
    for (int round = 0; round < 50; round++) {
        assert_int_equal(runnel_send_messages(client, runnel_id_number(1), runnel_id_number(0),
                                              &partitioning, batch, 16, NULL),
                         0);
    }
    assert_int_equal(allocation_calls, after_setup);
    assert_int_equal(fake.move_requests, 1);
    assert_int_equal(runnel_producer_sent_messages(producer), 5100);
    assert_int_equal(runnel_producer_destroy(producer), 0);
    runnel_client_destroy(client);
    assert_int_equal(allocation_live, 0);
    runnel_set_allocator(NULL);
    fake_stop();
}

/* The typed admin calls: list entries past the caller's array are counted, not copied;
 * empty get replies are "not found"; bare-identifier bodies carry every id in order. */
static void test_typed_admin_calls(void **state)
{
    (void)state;
    fake_start();
    struct runnel_client *client = client_open(0);
    struct runnel_user users[3];
    memset(users, 0xEE, sizeof(users));
    uint32_t count = 99;
    assert_int_equal(runnel_user_list(client, users, 2, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(users[1].id, 2);
    assert_int_equal(users[1].created_at_us, 1002);
    assert_string_equal(users[1].username, "user-2");
    assert_false(users[1].has_permissions);
    assert_int_equal(users[2].id, 0xEEEEEEEE); /* past users_max: untouched */
    assert_int_equal(runnel_user_list(client, NULL, 0, &count), 0);
    assert_int_equal(count, 3);
    struct runnel_user user;
    assert_int_equal(runnel_user_create(client, "user-1", "secret", true, NULL, &user), 0);
    assert_string_equal(user.username, "user-1");
    assert_true(user.has_permissions && user.global_permissions[0] && !user.global_permissions[1]);
    assert_int_equal(runnel_user_get(client, runnel_id_number(1), &user), -RUNNEL_ENOTFOUND);
    assert_int_equal(runnel_user_delete(client, runnel_id_number(4)), 0);
    assert_int_equal(fake.ids_count, 1);
    assert_int_equal(fake.ids[0], 4);
    assert_int_equal(runnel_user_delete(client, runnel_id_name("")), -EINVAL);
    struct runnel_pat pats[2];
    assert_int_equal(runnel_pat_list(client, pats, 2, &count), 0);
    assert_int_equal(count, 2);
    assert_string_equal(pats[1].name, "pat-b");
    assert_int_equal(pats[1].expiry_at_us, 101);
    struct runnel_group groups[1];
    assert_int_equal(
        runnel_group_list(client, runnel_id_number(1), runnel_id_number(0), groups, 1, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(groups[0].id, 1);
    assert_string_equal(groups[0].name, "group");
    struct runnel_group group;
    struct runnel_group_member members[1];
    assert_int_equal(runnel_group_get(client, runnel_id_number(1), runnel_id_number(0),
                                      runnel_id_number(1), &group, members, 1),
                     0);
    assert_int_equal(group.member_count, 2);
    assert_int_equal(members[0].id, 10);
    assert_int_equal(members[0].partition_count, 2);
    assert_int_equal(members[0].partition_ids[1], 2);
    assert_int_equal(
        runnel_group_join(client, runnel_id_number(3), runnel_id_number(2), runnel_id_number(1)),
        0);
    assert_int_equal(fake.ids_count, 3);
    assert_true(fake.ids[0] == 3 && fake.ids[1] == 2 && fake.ids[2] == 1);
    assert_int_equal(runnel_topic_purge(client, runnel_id_number(5), runnel_id_number(6)), 0);
    assert_int_equal(fake.ids_count, 2);
    assert_true(fake.ids[0] == 5 && fake.ids[1] == 6);
    assert_int_equal(runnel_stream_delete(client, runnel_id_number(8)), 0);
    assert_true(fake.ids_count == 1 && fake.ids[0] == 8);
    struct runnel_stream stream;
    assert_int_equal(runnel_stream_get(client, runnel_id_number(1), &stream), -RUNNEL_ENOTFOUND);
    struct runnel_client_info infos[2];
    assert_int_equal(runnel_client_list(client, infos, 2, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(infos[1].client_id, 2);
    assert_string_equal(infos[1].address, "127.0.0.1:1");
    struct runnel_client_info me;
    assert_int_equal(runnel_me(client, &me), 0);
    assert_int_equal(me.consumer_group_count, 1);
    runnel_client_destroy(client);
    fake_stop();
}

/* A list reply cut inside an entry fails the call and reports no entries. */
static void test_truncated_list(void **state)
{
    (void)state;
    const uint32_t codes[] = {IGGY_COMMAND_USER_LIST, IGGY_COMMAND_GROUP_LIST,
                              IGGY_COMMAND_CLIENT_LIST, IGGY_COMMAND_PAT_LIST};
    fake_start();
    for (uint32_t index = 0; index < 4; index++) {
        fake.fault_code = 0;
        struct runnel_client *client = client_open(0);
        fake.fault_code = codes[index];
        fake.fault = FAULT_TRUNCATE;
        struct runnel_user users[4];
        struct runnel_group groups[4];
        struct runnel_client_info infos[4];
        struct runnel_pat pats[4];
        uint32_t count = 99;
        int result = 0;
        if (codes[index] == IGGY_COMMAND_USER_LIST) {
            result = runnel_user_list(client, users, 4, &count);
        } else if (codes[index] == IGGY_COMMAND_GROUP_LIST) {
            result = runnel_group_list(client, runnel_id_number(1), runnel_id_number(0), groups, 4,
                                       &count);
        } else if (codes[index] == IGGY_COMMAND_CLIENT_LIST) {
            result = runnel_client_list(client, infos, 4, &count);
        } else {
            result = runnel_pat_list(client, pats, 4, &count);
        }
        assert_true(result < 0);
        assert_int_equal(count, 0);
        runnel_client_destroy(client);
    }
    fake.fault_code = 0;
    fake_stop();
}

static void test_identifiers_and_errors(void **state)
{
    (void)state;
    struct runnel_id id;
    assert_int_equal(runnel_id_parse("42", &id), 0);
    assert_null(id.name);
    assert_int_equal(id.number, 42);
    assert_int_equal(runnel_id_parse("orders", &id), 0);
    assert_string_equal(id.name, "orders");
    assert_int_equal(runnel_id_parse("99999999999", &id), 0);
    assert_non_null(id.name);
    assert_int_equal(runnel_id_parse("", &id), -EINVAL);
    assert_int_equal(runnel_server_error_code(-EINVAL), 0);
    assert_int_equal(runnel_server_error_code(-RUNNEL_EFORMAT), 0);
    assert_int_equal(runnel_server_error_code(-(RUNNEL_SERVER_ERROR_BASE + 2010)), 2010);
    assert_string_equal(runnel_strerror(-(RUNNEL_SERVER_ERROR_BASE + 2010)), "topic_id_not_found");
    assert_string_equal(runnel_strerror(-RUNNEL_EFORMAT), "malformed input");
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_login_failures),
        cmocka_unit_test(test_login_again),
        cmocka_unit_test(test_hostile_replies),
        cmocka_unit_test(test_random_replies),
        cmocka_unit_test(test_producer_partitioning),
        cmocka_unit_test(test_group_consumer),
        cmocka_unit_test(test_resend_after_lost_connection),
        cmocka_unit_test(test_producer_placement),
        cmocka_unit_test(test_transient_status_is_replayed),
        cmocka_unit_test(test_bench_actors),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_send_path_allocates_nothing),
        cmocka_unit_test(test_typed_admin_calls),
        cmocka_unit_test(test_truncated_list),
        cmocka_unit_test(test_identifiers_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
