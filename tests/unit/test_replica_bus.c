/*
 * Unit tests for node/replica_bus: two or three shard sets ("nodes") in one process on
 * loopback ports. They dial, authenticate with the cluster key and exchange VSR prepares
 * (every message arrives once, on the owning shard, body intact); shard counts that
 * differ (2 and 3) still deliver each group to its owner there; a node with another key
 * is refused on both sides and never linked; a node whose shards stop reading fills its
 * links and drops are counted, while every message to the other node still arrives; a
 * node that stops and restarts on the same port is redialed and used again; forwarded
 * requests the peer never answers use the link's credit up and are refused, and their
 * credit comes back once it ages out. Sends run on the owning shard's thread from the inner
 * handler's tick. Exits 77 without io_uring.
 */
#include "lib/error.h"
#include "node/data_plane.h"
#include "node/replica_bus.h"
#include "node/runtime_uring.h"
#include "node/shard.h"

#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

enum {
    TEST_NODES_MAX = 3,
    TEST_SHARDS_MAX = 3,
    TEST_BODY_SIZE_MAX = 8192,
    TEST_WAIT_MS_MAX = 10000,
};

static const u128 test_cluster = ((u128)0x1234 << 64) | 0x5678;

struct test_node {
    struct shard_set set;
    struct replica_bus bus;
    struct node_handler inner;
    uint32_t index;
    uint32_t shard_count;
    bool is_running;
    atomic_bool is_paused; /* every shard blocks in its tick: stops reading */
    /* The script: shard send_shard sends send_count prepares of group to each target. */
    atomic_uint send_count[TEST_NODES_MAX];
    uint32_t send_shard;
    struct vsr_group send_group;
    uint32_t body_size;
    uint32_t per_tick;
    atomic_bool send_requests; /* forwarded requests (credit) instead of prepares */
    uint64_t op_next[TEST_NODES_MAX];
    atomic_uint sent_ok[TEST_NODES_MAX];
    atomic_uint sent_failed[TEST_NODES_MAX];
    /* A refused send to this target is tried again next tick (as VSR retransmits) instead
     * of being given up: the script's count falls only with sends the bus took. */
    atomic_bool resend_refused[TEST_NODES_MAX];
    /* What arrived, per author and shard. */
    atomic_uint received[TEST_NODES_MAX][TEST_SHARDS_MAX];
    atomic_uint received_bad;
};

static struct test_node test_nodes[TEST_NODES_MAX];
static uint32_t test_ports[TEST_NODES_MAX];
static uint64_t test_pipeline_depth[TEST_NODES_MAX]; /* shared.pipeline_depth_max by node */

static void test_sleep_ms(uint32_t milliseconds)
{
    struct timespec duration = {milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L};
    nanosleep(&duration, NULL);
}

static void test_body_fill(uint8_t *body, uint32_t size, uint64_t op)
{
    for (uint32_t index = 0; index < size; index++) {
        body[index] = (uint8_t)(op * 131u + index);
    }
}

static void test_prepare(struct test_node *node, uint8_t target, struct vsr_header *header,
                         uint8_t *body)
{
    uint64_t op = ++node->op_next[target];
    vsr_header_init(header, VSR_COMMAND_PREPARE, test_cluster, 1, (uint8_t)node->index,
                    &node->send_group);
    header->u.prepare.op = op;
    header->u.prepare.commit = op - 1;
    header->u.prepare.operation = VSR_OPERATION_MESSAGES;
    test_body_fill(body, node->body_size, op);
    vsr_header_seal(header, body, node->body_size);
}

static int test_on_frame(struct node_handler *handler, struct net_connection *connection,
                         const uint8_t *frame, uint32_t size_bytes)
{
    (void)handler;
    (void)connection;
    (void)frame;
    (void)size_bytes;
    return 0;
}

/* A forwarded client request numbered like a prepare (the bus counts it against credit). */
static void test_request(struct test_node *node, uint8_t target, struct vsr_header *header,
                         uint8_t *body)
{
    uint64_t number = ++node->op_next[target];
    vsr_header_init(header, VSR_COMMAND_REQUEST, test_cluster, 1, (uint8_t)node->index,
                    &node->send_group);
    header->u.request.client = 0x77;
    header->u.request.request = number;
    header->u.request.operation = VSR_OPERATION_MESSAGES;
    test_body_fill(body, node->body_size, number);
    vsr_header_seal(header, body, node->body_size);
}

/* The inner handler's tick: pauses, or sends this tick's share of the script. */
static void test_on_tick(struct node_handler *handler, uint32_t shard_index)
{
    struct test_node *node = handler->context;
    for (uint32_t round = 0; round < 100000 && atomic_load(&node->is_paused); round++) {
        test_sleep_ms(1);
    }
    if (shard_index != node->send_shard) {
        return;
    }
    static _Thread_local uint8_t body[TEST_BODY_SIZE_MAX];
    for (uint8_t target = 0; target < TEST_NODES_MAX; target++) {
        for (uint32_t round = 0;
             round < node->per_tick && atomic_load(&node->send_count[target]) > 0; round++) {
            struct vsr_header header;
            if (atomic_load(&node->send_requests)) {
                test_request(node, target, &header, body);
            } else {
                test_prepare(node, target, &header, body);
            }
            int result = replica_bus_send(&node->bus, shard_index, target, &header, body);
            atomic_fetch_add(result == 0 ? &node->sent_ok[target] : &node->sent_failed[target], 1);
            if (result != 0 && atomic_load(&node->resend_refused[target])) {
                break; /* the link is full this tick: the next tick tries again */
            }
            atomic_fetch_sub(&node->send_count[target], 1);
        }
    }
}

static void test_receive(uint32_t shard_index, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct test_node *node = context;
    uint8_t expected[TEST_BODY_SIZE_MAX];
    uint32_t body_size = header->size - VSR_HEADER_SIZE;
    bool is_request = header->command == VSR_COMMAND_REQUEST;
    bool is_good = (header->command == VSR_COMMAND_PREPARE || is_request) &&
                   header->replica < TEST_NODES_MAX && shard_index < TEST_SHARDS_MAX &&
                   body_size <= TEST_BODY_SIZE_MAX;
    if (is_good && body_size > 0) {
        test_body_fill(expected, body_size,
                       is_request ? header->u.request.request : header->u.prepare.op);
        is_good = memcmp(expected, body, body_size) == 0;
    }
    if (!is_good) {
        atomic_fetch_add(&node->received_bad, 1);
        return;
    }
    atomic_fetch_add(&node->received[header->replica][shard_index], 1);
}

static uint32_t test_free_port(void)
{
    uint32_t port = 0;
    int fd = net_listener_open("127.0.0.1", 0, &port);
    assert_true(fd >= 0);
    close(fd);
    return port;
}

static void test_options(uint32_t index, uint32_t node_count, uint32_t shard_count,
                         uint8_t key_byte, struct replica_bus_options *options)
{
    memset(options, 0, sizeof(*options));
    options->cluster = test_cluster;
    options->replica_index = (uint8_t)index;
    options->replica_count = (uint8_t)node_count;
    for (uint32_t peer = 0; peer < node_count; peer++) {
        snprintf(options->peers[peer].address, sizeof(options->peers[peer].address), "127.0.0.1");
        options->peers[peer].port = test_ports[peer];
    }
    memset(options->key, key_byte, sizeof(options->key));
    options->shard_count = shard_count;
    options->peer_shard_count_max = 8;
    options->frame_size_max = 1u << 20;
    options->ping_interval_ns = 50ull * 1000 * 1000;
    options->peer_timeout_ns = 30ull * 1000 * 1000 * 1000;
    options->handshake_timeout_ns = 1000ull * 1000 * 1000;
    options->backoff_min_ns = 20ull * 1000 * 1000;
    options->backoff_max_ns = 200ull * 1000 * 1000;
    options->forward_credit_max = 4;
    options->forward_credit_age_ns = 500ull * 1000 * 1000;
    options->seed = index + 1;
}

static void test_node_start(uint32_t index, uint32_t node_count, uint32_t shard_count,
                            uint8_t key_byte)
{
    struct test_node *node = &test_nodes[index];
    memset(node, 0, sizeof(*node));
    node->index = index;
    node->shard_count = shard_count;
    node->send_shard = UINT32_MAX;
    node->inner.on_frame = test_on_frame;
    node->inner.on_tick = test_on_tick;
    node->inner.context = node;
    struct replica_bus_options bus_options;
    test_options(index, node_count, shard_count, key_byte, &bus_options);
    bus_options.shared.pipeline_depth_max = test_pipeline_depth[index];
    assert_int_equal(
        replica_bus_init(&node->bus, &bus_options, &node->set, &node->inner, test_receive, node),
        0);
    struct shard_set_options options;
    shard_set_options_default(&options);
    options.shard_count = shard_count;
    options.replica_port = test_ports[index];
    options.net.send_buffer_size_bytes = 256 * 1024;
    char error_text[SHARD_ERROR_SIZE_MAX];
    int result =
        shard_set_start(&node->set, &options, &node->bus.handler, error_text, sizeof(error_text));
    assert_int_equal(result, 0);
    node->is_running = true;
}

static void test_node_stop(uint32_t index)
{
    struct test_node *node = &test_nodes[index];
    if (!node->is_running) {
        return;
    }
    atomic_store(&node->is_paused, false);
    shard_set_stop(&node->set);
    shard_set_join(&node->set);
    replica_bus_deinit(&node->bus);
    node->is_running = false;
}

static bool test_wait_links(uint32_t index, uint64_t links)
{
    for (uint32_t waited = 0; waited < TEST_WAIT_MS_MAX; waited += 10) {
        if (replica_bus_counter(&test_nodes[index].bus, REPLICA_BUS_LINKS_UP) == links) {
            return true;
        }
        test_sleep_ms(10);
    }
    return false;
}

/* Nodes 0 and 1 (shards_0 and shards_1 shards, one key) up, with links up on each. */
static void test_pair_start(uint32_t shards_0, uint32_t shards_1, uint8_t key_byte, uint64_t links)
{
    test_ports[0] = test_free_port();
    test_ports[1] = test_free_port();
    test_node_start(0, 2, shards_0, key_byte);
    test_node_start(1, 2, shards_1, key_byte);
    assert_true(test_wait_links(0, links));
    assert_true(test_wait_links(1, links));
}

static bool test_wait_received(uint32_t index, uint32_t author, uint32_t shard, uint32_t count)
{
    for (uint32_t waited = 0; waited < TEST_WAIT_MS_MAX; waited += 10) {
        if (atomic_load(&test_nodes[index].received[author][shard]) >= count) {
            return true;
        }
        test_sleep_ms(10);
    }
    return false;
}

/* A partition group whose owner among shard_count shards is shard. */
static struct vsr_group test_group_owned_by(uint32_t shard, uint32_t shard_count)
{
    struct vsr_group group = {.stream_id = 1, .topic_id = 1, .kind = VSR_GROUP_KIND_PARTITION};
    for (uint32_t partition = 1; partition < 1000; partition++) {
        group.partition_id = partition;
        group.incarnation = 7;
        if (replica_bus_group_key(&group) % shard_count == shard) {
            return group;
        }
    }
    fail_msg("no partition owned by shard %u", shard);
    return group;
}

static void test_script(uint32_t index, uint32_t shard, struct vsr_group group, uint32_t body_size,
                        uint32_t per_tick)
{
    struct test_node *node = &test_nodes[index];
    node->send_group = group;
    node->body_size = body_size;
    node->per_tick = per_tick;
    node->send_shard = shard;
}

static int test_uring_available(void)
{
    char error_text[256];
    return runtime_uring_check_environment(0, error_text, sizeof(error_text)) == 0;
}

static void test_three_nodes_exchange(void **state)
{
    (void)state;
    for (uint32_t index = 0; index < 3; index++) {
        test_ports[index] = test_free_port();
    }
    for (uint32_t index = 0; index < 3; index++) {
        test_node_start(index, 3, 2, 0x5a);
    }
    for (uint32_t index = 0; index < 3; index++) {
        assert_true(test_wait_links(index, 4)); /* 2 shards x 2 peers, shard s to shard s */
    }
    struct vsr_group metadata = {0};
    test_script(0, 0, metadata, 1000, 4);
    struct vsr_group partition = test_group_owned_by(1, 2);
    test_script(2, 1, partition, 3000, 4);
    atomic_store(&test_nodes[2].send_count[0], 50);
    atomic_store(&test_nodes[0].send_count[1], 100);
    atomic_store(&test_nodes[0].send_count[2], 100);
    assert_true(test_wait_received(1, 0, 0, 100));
    assert_true(test_wait_received(2, 0, 0, 100));
    assert_true(test_wait_received(0, 2, 1, 50));
    test_sleep_ms(50);
    assert_int_equal(atomic_load(&test_nodes[1].received[0][0]), 100);
    assert_int_equal(atomic_load(&test_nodes[0].received[2][1]), 50);
    assert_int_equal(atomic_load(&test_nodes[1].received[0][1]), 0); /* owner shard only */
    assert_int_equal(atomic_load(&test_nodes[0].sent_failed[1]), 0);
    for (uint32_t index = 0; index < 3; index++) {
        assert_int_equal(atomic_load(&test_nodes[index].received_bad), 0);
        assert_int_equal(replica_bus_counter(&test_nodes[index].bus, REPLICA_BUS_RECEIVED_INVALID),
                         0);
        assert_int_equal(replica_bus_counter(&test_nodes[index].bus, REPLICA_BUS_REFUSED), 0);
    }
    for (uint32_t index = 0; index < 3; index++) {
        test_node_stop(index);
    }
}

static void test_shard_counts_differ(void **state)
{
    (void)state;
    /* gcd(2, 3) = 1: every shard of one node links to every shard of the other. */
    test_pair_start(2, 3, 0x11, 6);
    struct vsr_group group = test_group_owned_by(1, 2);
    uint32_t owner_there = (uint32_t)(replica_bus_group_key(&group) % 3);
    test_script(0, 1, group, 500, 8);
    atomic_store(&test_nodes[0].send_count[1], 40);
    assert_true(test_wait_received(1, 0, owner_there, 40));
    assert_int_equal(replica_bus_counter(&test_nodes[1].bus, REPLICA_BUS_RECEIVED_MISROUTED), 0);
    assert_int_equal(atomic_load(&test_nodes[1].received_bad), 0);
    test_node_stop(0);
    test_node_stop(1);
}

static void test_wrong_key_refused(void **state)
{
    (void)state;
    test_ports[0] = test_free_port();
    test_ports[1] = test_free_port();
    test_node_start(0, 2, 1, 0x22);
    test_node_start(1, 2, 1, 0x33); /* another cluster key */
    for (uint32_t waited = 0; waited < TEST_WAIT_MS_MAX; waited += 10) {
        if (replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_REFUSED) >= 2) {
            break;
        }
        test_sleep_ms(10);
    }
    /* The dialer refuses the challenge; redials are refused again (backoff). */
    assert_true(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_REFUSED) >= 2);
    assert_true(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_DIALS) >= 2);
    assert_int_equal(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_HANDSHAKES), 0);
    assert_int_equal(replica_bus_counter(&test_nodes[1].bus, REPLICA_BUS_HANDSHAKES), 0);
    test_node_stop(0);
    test_node_stop(1);
}

/* A peer whose shared settings differ (here limits.pipeline_depth_max: a view change's
 * bound on what the last primary committed) is refused like one with another key. */
static void test_other_shared_settings_refused(void **state)
{
    (void)state;
    test_ports[0] = test_free_port();
    test_ports[1] = test_free_port();
    test_pipeline_depth[1] = 8;
    test_node_start(0, 2, 1, 0x22);
    test_node_start(1, 2, 1, 0x22);
    test_pipeline_depth[1] = 0;
    /* The acceptor refuses the hello; the dialer redials (backoff) and is refused again. */
    uint64_t refused = 0;
    for (uint32_t waited = 0; waited < TEST_WAIT_MS_MAX && refused < 2; waited += 10) {
        test_sleep_ms(10);
        refused = replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_REFUSED) +
                  replica_bus_counter(&test_nodes[1].bus, REPLICA_BUS_REFUSED);
    }
    assert_true(refused >= 2);
    assert_int_equal(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_HANDSHAKES), 0);
    assert_int_equal(replica_bus_counter(&test_nodes[1].bus, REPLICA_BUS_HANDSHAKES), 0);
    test_node_stop(0);
    test_node_stop(1);
}

static void test_stalled_peer_does_not_block(void **state)
{
    (void)state;
    for (uint32_t index = 0; index < 3; index++) {
        test_ports[index] = test_free_port();
    }
    for (uint32_t index = 0; index < 3; index++) {
        test_node_start(index, 3, 1, 0x44);
    }
    for (uint32_t index = 0; index < 3; index++) {
        assert_true(test_wait_links(index, 2));
    }
    atomic_store(&test_nodes[2].is_paused, true); /* node 2 stops reading */
    struct vsr_group metadata = {0};
    test_script(0, 0, metadata, TEST_BODY_SIZE_MAX - 256, 8);
    atomic_store(&test_nodes[0].send_count[2], 2000); /* 16 MiB to the stalled node */
    atomic_store(&test_nodes[0].resend_refused[1], true);
    atomic_store(&test_nodes[0].send_count[1], 2000);
    for (uint32_t waited = 0; waited < 30000 && (atomic_load(&test_nodes[0].send_count[1]) > 0 ||
                                                 atomic_load(&test_nodes[0].send_count[2]) > 0);
         waited += 10) {
        test_sleep_ms(10);
    }
    assert_int_equal(atomic_load(&test_nodes[0].send_count[2]), 0);
    uint64_t dropped = replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_FULL_CONSENSUS);
    assert_true(dropped > 0);
    /* Every failed send was counted as a drop; the script's own traffic to the stalled
     * node may add a few drops of its own, so the counter can be larger. */
    uint64_t failed = atomic_load(&test_nodes[0].sent_failed[2]);
    assert_true(failed > 0);
    assert_true(dropped >= failed);
    /* The live node receives all 2000 while the stalled one still reads nothing: the
     * stalled link never blocks it. On a loaded machine the live link may itself fill for
     * a moment (the bus refuses and counts; the script tries again next tick, as VSR
     * retransmits), so refusals toward it are allowed, a lost or blocked message is not. */
    uint32_t failed_live = atomic_load(&test_nodes[0].sent_failed[1]);
    assert_int_equal(atomic_load(&test_nodes[0].send_count[1]), 0);
    assert_true(test_wait_received(1, 0, 0, 2000));
    assert_int_equal(atomic_load(&test_nodes[1].received_bad), 0);
    print_message("stalled peer: %llu dropped; live peer: %u refusals retried, 2000 delivered\n",
                  (unsigned long long)dropped, failed_live);
    atomic_store(&test_nodes[2].is_paused, false);
    for (uint32_t index = 0; index < 3; index++) {
        test_node_stop(index);
    }
}

static void test_reconnect_after_restart(void **state)
{
    (void)state;
    test_pair_start(1, 1, 0x55, 1);
    test_node_stop(1);
    assert_true(test_wait_links(0, 0));
    assert_true(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_DISCONNECTS) >= 1);
    test_sleep_ms(300); /* a few refused redials */
    test_node_start(1, 2, 1, 0x55);
    assert_true(test_wait_links(0, 1));
    assert_true(test_wait_links(1, 1));
    struct vsr_group metadata = {0};
    test_script(0, 0, metadata, 100, 4);
    atomic_store(&test_nodes[0].send_count[1], 20);
    assert_true(test_wait_received(1, 0, 0, 20));
    assert_int_equal(atomic_load(&test_nodes[0].sent_failed[1]), 0);
    test_node_stop(0);
    test_node_stop(1);
}

/* Waits until node index's script to target has nothing left to send. */
static bool test_wait_sent(uint32_t index, uint32_t target)
{
    for (uint32_t waited = 0; waited < TEST_WAIT_MS_MAX; waited += 10) {
        if (atomic_load(&test_nodes[index].send_count[target]) == 0) {
            return true;
        }
        test_sleep_ms(10);
    }
    return false;
}

/* A peer that answers none of the forwarded requests (a primary drops what it cannot take)
 * uses the link's credit up: further requests are refused, but only until the unanswered
 * credit ages out; before, it never came back while the link stayed up, and a node whose
 * credit to the metadata primary was used up could send no register and no login for
 * minutes (docs/NEMESIS.md bug 4). */
static void test_unanswered_forward_credit_returns(void **state)
{
    (void)state;
    test_pair_start(1, 1, 0x66, 1);
    struct vsr_group metadata = {0};
    test_script(0, 0, metadata, 64, 8);
    atomic_store(&test_nodes[0].send_requests, true);
    atomic_store(&test_nodes[0].send_count[1], 4 + 2); /* credit 4: two refused */
    assert_true(test_wait_sent(0, 1));
    assert_int_equal(atomic_load(&test_nodes[0].sent_ok[1]), 4);
    assert_int_equal(atomic_load(&test_nodes[0].sent_failed[1]), 2);
    assert_int_equal(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_REFUSED_CREDIT), 2);
    assert_true(test_wait_received(1, 0, 0, 4));
    test_sleep_ms(1100); /* two credit ages (500 ms): nothing was answered */
    atomic_store(&test_nodes[0].send_count[1], 4);
    assert_true(test_wait_sent(0, 1));
    assert_int_equal(atomic_load(&test_nodes[0].sent_ok[1]), 8);
    assert_int_equal(atomic_load(&test_nodes[0].sent_failed[1]), 2);
    assert_true(test_wait_received(1, 0, 0, 8));
    assert_int_equal(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_CREDIT_EXPIRED), 4);
    assert_int_equal(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_LINKS_UP), 1);
    assert_int_equal(replica_bus_counter(&test_nodes[0].bus, REPLICA_BUS_DISCONNECTS), 0);
    assert_int_equal(atomic_load(&test_nodes[1].received_bad), 0);
    test_node_stop(0);
    test_node_stop(1);
}

/* The bus routes with the data plane's owner hash, so a node's owner of a partition is the
 * shard its replica runs on. */
static void test_group_key_matches_data_plane(void **state)
{
    (void)state;
    struct vsr_group metadata = {0};
    assert_int_equal(replica_bus_group_key(&metadata), 0);
    for (uint32_t id = 1; id < 200; id++) {
        struct vsr_group group = {.stream_id = id % 7 + 1,
                                  .topic_id = id % 5 + 1,
                                  .partition_id = id,
                                  .kind = VSR_GROUP_KIND_PARTITION,
                                  .incarnation = id};
        for (uint32_t shard_count = 1; shard_count <= 9; shard_count++) {
            assert_int_equal(
                replica_bus_group_key(&group) % shard_count,
                data_plane_owner(group.stream_id, group.topic_id, group.partition_id, shard_count));
        }
    }
}

int main(void)
{
    helper_assert_install();
    if (!test_uring_available()) {
        return 77; /* the key test alone is not worth a partial pass */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_key_matches_data_plane),
        cmocka_unit_test(test_three_nodes_exchange),
        cmocka_unit_test(test_shard_counts_differ),
        cmocka_unit_test(test_wrong_key_refused),
        cmocka_unit_test(test_other_shared_settings_refused),
        cmocka_unit_test(test_stalled_peer_does_not_block),
        cmocka_unit_test(test_reconnect_after_restart),
        cmocka_unit_test(test_unanswered_forward_credit_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
