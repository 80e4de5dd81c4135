/*
 * Unit tests for the broker's pieces that need no running shard (node/broker.h,
 * node/session.h): a broker set up by broker_init from a small config (no shard started,
 * no I/O): session lifecycle and its generation fence, the request pools (small and large
 * buffers, exhaustion counted, a large buffer lent and given back), binding a request to a
 * connection's session, packing a metadata op (prefix layout, too large), one-shot VSR
 * client ids, per-partition figures by incarnation (node/broker_stats.h), and partition ->
 * shard routing.
 */
#include "lib/error.h"
#include "node/broker.h"
#include "node/broker_internal.h"
#include "node/data_plane.h"
#include "node/node_config.h"
#include "node/session.h"
#include "node/shard.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { FIXTURE_SHARDS = 2, FIXTURE_REQUESTS = 4, FIXTURE_LARGE = 2 };

struct fixture {
    struct node_config config;
    struct shard_set set;
    struct broker broker;
};

static int fixture_setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    assert_non_null(fixture);
    node_config_defaults(&fixture->config);
    fixture->config.requests_max = FIXTURE_REQUESTS;
    fixture->config.large_requests_max = FIXTURE_LARGE;
    fixture->config.batch_size_bytes_max = 64 * 1024;
    fixture->config.poll_reply_bytes_max = 64 * 1024;
    fixture->config.connections_max = 8;
    fixture->config.partitions_max = 4;
    char error[256] = {0};
    int result = broker_init(&fixture->broker, &fixture->config, &fixture->set, FIXTURE_SHARDS,
                             (u128)0x5eed, error, sizeof(error));
    assert_int_equal(result, 0);
    *state = fixture;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *fixture = *state;
    broker_deinit(&fixture->broker);
    free(fixture);
    return 0;
}

static void test_session_lifecycle(void **state)
{
    (void)state;
    struct session session;
    memset(&session, 0, sizeof(session));
    session_open(&session);
    assert_int_equal(session.state, SESSION_UNBOUND);
    assert_false(session_is_bound(&session));
    uint64_t opened = session.generation;
    session_bind(&session, 77, 12, 3, true);
    assert_true(session_is_bound(&session));
    assert_true(session.client == 77);
    assert_int_equal(session.session, 12);
    assert_int_equal(session.user_id, 3);
    assert_true(session.is_exactly_once);
    session_unbind(&session); /* logout: the connection stays, unbound */
    assert_false(session_is_bound(&session));
    assert_true(session.client == 0);
    assert_false(session.is_exactly_once);
    assert_int_equal(session.generation, opened);
    expect_assert_failure(session_unbind(&session));
    expect_assert_failure(session_bind(&session, 0, 12, 3, false)); /* client 0 never binds */
    session_close(&session);
    assert_int_equal(session.state, SESSION_FREE);
    assert_true(session.generation > opened); /* replies still in flight are dropped */
    session_open(&session);
    assert_true(session.generation > opened + 1);
    expect_assert_failure(session_open(&session)); /* already open */
}

static void test_request_pools(void **state)
{
    struct fixture *fixture = *state;
    struct broker_shard *shard = &fixture->broker.shards[1];
    struct broker_request *taken[FIXTURE_REQUESTS];
    taken[0] = broker_request_take(shard, true);
    taken[1] = broker_request_take(shard, true);
    assert_non_null(taken[0]);
    assert_non_null(taken[1]);
    assert_true(taken[0]->is_large && taken[0]->buffer_capacity >= 64 * 1024);
    assert_true(taken[0]->memory != taken[1]->memory);
    assert_null(broker_request_take(shard, true)); /* no large buffer left */
    assert_int_equal(shard->counters.requests_refused, 1);
    taken[2] = broker_request_take(shard, false); /* small ones still there */
    taken[3] = broker_request_take(shard, false);
    assert_non_null(taken[2]);
    assert_non_null(taken[3]);
    assert_int_equal(taken[2]->buffer_capacity, BROKER_SMALL_BUFFER_SIZE);
    assert_int_equal(taken[2]->home_shard, 1);
    assert_null(broker_request_take(shard, false));
    assert_int_equal(shard->counters.requests_refused, 2);
    uint8_t *lent = taken[0]->memory;
    broker_request_free(shard, taken[0]);
    struct broker_request *again = broker_request_take(shard, false);
    assert_non_null(again);
    assert_false(again->is_large);
    assert_true(again->memory != lent); /* the large buffer went back to its pool */
    struct broker_request *large = broker_request_take(shard, true);
    assert_null(large); /* every slot is taken, even though a large buffer is free */
    broker_request_free(shard, again);
    large = broker_request_take(shard, true);
    assert_non_null(large);
    assert_ptr_equal(large->memory, lent);
    broker_request_free(shard, large);
    expect_assert_failure(broker_request_free(shard, large)); /* twice */
    for (uint32_t index = 1; index < FIXTURE_REQUESTS; index++) {
        broker_request_free(shard, taken[index]);
    }
    assert_int_equal(shard->free_small_count, FIXTURE_REQUESTS);
    assert_int_equal(shard->free_large_count, FIXTURE_LARGE);
}

static void test_request_bind_takes_the_session(void **state)
{
    struct fixture *fixture = *state;
    struct broker_shard *shard = &fixture->broker.shards[0];
    struct net_connection connection;
    memset(&connection, 0, sizeof(connection));
    connection.slot = 3;
    struct session *session = broker_session(shard, &connection);
    session_open(session);
    session_bind(session, 99, 5, 7, false);
    struct iggy_request_header header;
    memset(&header, 0, sizeof(header));
    header.client = 99;
    header.session = 5;
    header.request = 4;
    header.operation = IGGY_OPERATION_CREATE_STREAM;
    struct broker_request *request = broker_request_take(shard, false);
    assert_non_null(request);
    broker_request_bind(shard, request, &connection, &header, BROKER_REQUEST_METADATA);
    assert_int_equal(request->user_id, 7);
    assert_int_equal(request->connection_slot, 3);
    assert_int_equal(request->connection_generation, session->generation);
    assert_int_equal(request->reply_operation, IGGY_OPERATION_CREATE_STREAM);
    assert_int_equal(request->header.request, 4);
    assert_true(request->vsr_client != 0 && request->vsr_client != header.client);
    broker_request_free(shard, request);
    struct net_connection beyond = connection;
    beyond.slot = shard->sessions_max;
    expect_assert_failure(broker_session(shard, &beyond));
    session_close(session);
}

static void test_request_pack(void **state)
{
    struct fixture *fixture = *state;
    struct broker_shard *shard = &fixture->broker.shards[0];
    struct broker_request *request = broker_request_take(shard, false);
    assert_non_null(request);
    Runnel__Metadata__CreateStream create = RUNNEL__METADATA__CREATE_STREAM__INIT;
    create.name.data = (uint8_t *)"orders";
    create.name.len = 6;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_STREAM;
    operation.create_stream = &create;
    u128 client = ((u128)0xabcdef << 64) | 0x42;
    request->header.request = 5;
    request->header.request_checksum = 0x1234;
    request->header.session = 3; /* the client's: not what goes */
    request->session_epoch = 11; /* the connection's bound session */
    assert_int_equal(broker_request_pack(request, &operation, 9, client), 0);
    assert_int_equal(request->kind, BROKER_REQUEST_METADATA);
    /* The Iggy client's request number and checksum ride the prefix (not for Register). */
    uint32_t format = 0;
    uint64_t number = 0, checksum = 0, session = 0;
    memcpy(&format, request->buffer + 4, sizeof(format));
    memcpy(&session, request->buffer + 40, sizeof(session));
    memcpy(&number, request->buffer + 24, sizeof(number));
    memcpy(&checksum, request->buffer + 32, sizeof(checksum));
    assert_int_equal(format, BROKER_METADATA_PREFIX_NUMBERED);
    assert_int_equal(number, 5);
    assert_int_equal(checksum, 0x1234);
    assert_int_equal(session, 11);
    request->purpose = BROKER_PURPOSE_REGISTER;
    assert_int_equal(broker_request_pack(request, &operation, 9, client), 0);
    memcpy(&number, request->buffer + 24, sizeof(number));
    assert_int_equal(number, 0);
    request->purpose = BROKER_PURPOSE_PLAIN;
    assert_int_equal(request->target_shard, 0); /* metadata goes to shard 0 */
    uint32_t user_id = 0;
    u128 packed_client = 0;
    memcpy(&user_id, request->buffer, sizeof(user_id));
    memcpy(&packed_client, request->buffer + 8, sizeof(packed_client));
    assert_int_equal(user_id, 9);
    assert_true(packed_client == client);
    size_t size = runnel__metadata__metadata_operation__get_packed_size(&operation);
    assert_int_equal(request->body_size, BROKER_METADATA_PREFIX_SIZE + size);
    Runnel__Metadata__MetadataOperation *decoded = runnel__metadata__metadata_operation__unpack(
        NULL, size, request->buffer + BROKER_METADATA_PREFIX_SIZE);
    assert_non_null(decoded);
    assert_int_equal(decoded->create_stream->name.len, 6);
    assert_memory_equal(decoded->create_stream->name.data, "orders", 6);
    runnel__metadata__metadata_operation__free_unpacked(decoded, NULL);
    static uint8_t name[METADATA_OP_BODY_SIZE_MAX + 16];
    memset(name, 'n', sizeof(name));
    create.name.data = name;
    create.name.len = sizeof(name);
    assert_int_equal(broker_request_pack(request, &operation, 9, client), -RUNNEL_ETOOLARGE);
    broker_request_free(shard, request);
}

static void test_vsr_client_ids(void **state)
{
    struct fixture *fixture = *state;
    struct broker *broker = &fixture->broker;
    u128 first = broker_vsr_client_next(broker, 0);
    u128 second = broker_vsr_client_next(broker, 0);
    u128 other = broker_vsr_client_next(broker, 1);
    assert_true(first != 0 && second != 0 && other != 0);
    assert_true(first != second && first != other && second != other);
    assert_true((uint64_t)(first >> 64) == broker->boot_nonce); /* unique per boot */
    assert_true((broker->boot_nonce & 1) != 0);
    assert_int_equal((uint32_t)((uint64_t)first >> 48), 1); /* shard 0 */
    assert_int_equal((uint32_t)((uint64_t)other >> 48), 2); /* shard 1 */
    expect_assert_failure(broker_vsr_client_next(broker, FIXTURE_SHARDS));
}

static void test_partition_figures(void **state)
{
    (void)state;
    struct broker_stats stats;
    assert_int_equal(broker_stats_init(&stats, 4), 0);
    struct broker_stats_figures figures;
    assert_false(broker_stats_read(&stats, 2, 7, &figures)); /* nothing published yet */
    struct broker_stats_figures published = {
        .message_count = 5, .size_bytes = 1300, .segment_count = 1, .offset_next = 5};
    broker_stats_publish(&stats, 2, 7, &published);
    assert_true(broker_stats_read(&stats, 2, 7, &figures));
    assert_int_equal(figures.message_count, 5);
    assert_int_equal(figures.size_bytes, 1300);
    assert_int_equal(figures.offset_next, 5);
    /* The slot now names another incarnation (a purge, or a recreated partition): the old
     * figures are never reported for it, nor the new ones for the old. */
    assert_false(broker_stats_read(&stats, 2, 8, &figures));
    assert_int_equal(figures.message_count, 0);
    struct broker_stats_figures purged = {.message_count = 1, .size_bytes = 300};
    broker_stats_publish(&stats, 2, 8, &purged);
    assert_false(broker_stats_read(&stats, 2, 7, &figures));
    assert_true(broker_stats_read(&stats, 2, 8, &figures));
    assert_int_equal(figures.message_count, 1);
    assert_false(broker_stats_read(&stats, 3, 0, &figures)); /* incarnation 0: none */
    expect_assert_failure(broker_stats_publish(&stats, 4, 7, &published));
    broker_stats_deinit(&stats);
}

static void test_partition_routing(void **state)
{
    (void)state;
    uint32_t per_shard[4] = {0};
    for (uint32_t partition = 0; partition < 24; partition++) {
        uint32_t owner = data_plane_owner(1, 0, partition, 4);
        assert_true(owner < 4);
        assert_int_equal(owner, data_plane_owner(1, 0, partition, 4)); /* a fixed hash */
        per_shard[owner]++;
        assert_int_equal(data_plane_owner(1, 0, partition, 1), 0);
    }
    for (uint32_t shard = 0; shard < 4; shard++) {
        assert_true(per_shard[shard] > 0); /* a topic's partitions spread over the shards */
    }
    uint32_t streams_on_zero = 0;
    for (uint32_t stream = 1; stream <= 8; stream++) {
        streams_on_zero += data_plane_owner(stream, 0, 0, 2) == 0 ? 1 : 0;
    }
    assert_true(streams_on_zero > 0 && streams_on_zero < 8);
    expect_assert_failure(data_plane_owner(1, 0, 0, 0));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_lifecycle),
        cmocka_unit_test_setup_teardown(test_request_pools, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_request_bind_takes_the_session, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_request_pack, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_vsr_client_ids, fixture_setup, fixture_teardown),
        cmocka_unit_test(test_partition_figures),
        cmocka_unit_test(test_partition_routing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
