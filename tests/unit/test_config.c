/* Unit tests for lib/config and runneld's schema: parsing, ranges, errors, --set, files. */
#include "lib/config.h"
#include "lib/error.h"
#include "node/node_config.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_defaults(void **state)
{
    (void)state;
    struct node_config config;
    node_config_defaults(&config);
    assert_string_equal(config.data_dir, "data");
    assert_string_equal(config.client_address, "127.0.0.1");
    assert_int_equal(config.client_port, 8090);
    assert_int_equal(config.durability, NODE_DURABILITY_FSYNC);
    assert_int_equal(config.segment_size_bytes, 1ULL << 30);
    assert_true(config.direct_io);
}

static void test_set_assignment_and_suffixes(void **state)
{
    (void)state;
    const struct config_schema *schema = node_config_schema();
    struct node_config config;
    struct config_error error;
    node_config_defaults(&config);
    assert_int_equal(config_set_assignment(schema, &config, "server.client_port=9000", &error), 0);
    assert_int_equal(config.client_port, 9000);
    assert_int_equal(
        config_set_assignment(schema, &config, "storage.segment_size_bytes=16M", &error), 0);
    assert_int_equal(config.segment_size_bytes, 16ULL << 20);
    assert_int_equal(
        config_set_assignment(schema, &config, "storage.durability=replicated", &error), 0);
    assert_int_equal(config.durability, NODE_DURABILITY_REPLICATED);
    assert_int_equal(config_set_assignment(schema, &config, "storage.direct_io=off", &error), 0);
    assert_false(config.direct_io);
}

static void test_errors_name_key_value_and_range(void **state)
{
    (void)state;
    const struct config_schema *schema = node_config_schema();
    struct node_config config;
    struct config_error error;
    node_config_defaults(&config);
    assert_int_equal(config_set_assignment(schema, &config, "server.client_port=99999", &error),
                     -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "server.client_port"));
    assert_non_null(strstr(error.text, "99999"));
    assert_non_null(strstr(error.text, "1..65535"));
    assert_int_equal(config.client_port, 8090); /* unchanged */
    assert_int_equal(config_set_assignment(schema, &config, "server.nope=1", &error),
                     -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "unknown key"));
    assert_int_equal(config_set_assignment(schema, &config, "storage.durability=maybe", &error),
                     -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "fsync|replicated"));
    const char *bad[] = {"server.client_port=",
                         "server.client_port=-1",
                         "noequals",
                         "server.client_port=12x",
                         "=5",
                         "server.client_port=99999999999999999999"};
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        assert_int_equal(config_set_assignment(schema, &config, bad[index], &error),
                         -RUNNEL_ECONFIG);
    }
    assert_int_equal(config.client_port, 8090);
}

static void test_cross_key_validation(void **state)
{
    (void)state;
    struct node_config config;
    struct config_error error;
    node_config_defaults(&config);
    assert_int_equal(node_config_validate(&config, &error), 0);
    config.replica_index = 3;
    config.replica_count = 3;
    assert_int_equal(node_config_validate(&config, &error), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "cluster.replica_index"));
}

/* In a cluster a replica bus frame carries a whole batch and its VSR headers: a
 * frame_size_bytes_max below that is refused, naming both keys; a single node takes it.
 * A replica link's ring holds four such frames (so a forwarded 1 MB batch, iggy-bench's
 * default, fits its half of the ring with the default limits), a client's a poll reply. */
static void test_frame_size_holds_a_batch_in_a_cluster(void **state)
{
    (void)state;
    struct node_config config;
    struct config_error error;
    node_config_defaults(&config);
    config.replica_count = 3;
    assert_int_equal(node_config_validate(&config, &error), 0);
    uint64_t link_frame = node_config_link_frame_bytes_max(&config);
    assert_int_equal(link_frame, (8u << 20) + 512 + 128 * 256);
    assert_int_equal(node_config_link_ring_bytes(&config), 4 * link_frame);
    assert_true(node_config_link_ring_bytes(&config) / 2 >= link_frame + (1u << 20));
    assert_int_equal(node_config_client_ring_bytes(&config), (1u << 20) + 65536);
    assert_int_equal(node_config_link_rings_max(&config), 6);
    config.frame_size_bytes_max = link_frame;
    assert_int_equal(node_config_validate(&config, &error), 0);
    config.frame_size_bytes_max = link_frame - 1;
    assert_int_equal(node_config_validate(&config, &error), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "limits.frame_size_bytes_max"));
    assert_non_null(strstr(error.text, "limits.batch_size_bytes_max"));
    config.batch_size_bytes_max = 1u << 20; /* a smaller batch limit fits again */
    assert_int_equal(node_config_validate(&config, &error), 0);
    config.poll_reply_bytes_max = 64u << 20; /* a forwarded poll's reply: 32 MiB + 4 KiB */
    assert_int_equal(node_config_link_frame_bytes_max(&config), (32u << 20) + 4096);
    assert_int_equal(node_config_validate(&config, &error), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "limits.poll_reply_bytes_max"));
    config.poll_reply_bytes_max = 1u << 20;
    config.batch_size_bytes_max = 8u << 20;
    config.replica_count = 1;
    assert_int_equal(node_config_validate(&config, &error), 0);
    assert_int_equal(node_config_link_rings_max(&config), 0);
}

static void test_load_file(void **state)
{
    (void)state;
    const struct config_schema *schema = node_config_schema();
    struct node_config config;
    struct config_error error;
    char path[] = "/tmp/runnel_test_config_XXXXXX";
    int descriptor = mkstemp(path);
    assert_true(descriptor >= 0);
    FILE *file = fdopen(descriptor, "w");
    fputs("[server]\nclient_port = 7000\n[storage]\nsegment_size_bytes = 2M\n", file);
    fclose(file);
    node_config_defaults(&config);
    assert_int_equal(config_load_file(schema, &config, path, &error), 0);
    assert_int_equal(config.client_port, 7000);
    assert_int_equal(config.segment_size_bytes, 2ULL << 20);
    file = fopen(path, "w");
    fputs("[server]\nclient_port = 7001\nunknown_key = 3\n", file);
    fclose(file);
    assert_int_equal(config_load_file(schema, &config, path, &error), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "server.unknown_key"));
    unlink(path);
    assert_int_equal(config_load_file(schema, &config, path, &error), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "cannot open"));
}

static void test_assert_fires_on_null_schema(void **state)
{
    (void)state;
    struct node_config config;
    struct config_error error;
    expect_assert_failure(config_defaults(NULL, &config, &error));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set_assignment_and_suffixes),
        cmocka_unit_test(test_errors_name_key_value_and_range),
        cmocka_unit_test(test_cross_key_validation),
        cmocka_unit_test(test_frame_size_holds_a_batch_in_a_cluster),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_assert_fires_on_null_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
