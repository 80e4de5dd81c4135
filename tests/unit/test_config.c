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
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_assert_fires_on_null_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
