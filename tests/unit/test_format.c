/*
 * Unit tests for node/format and node/cluster_config: `runneld format` writes the identity
 * once and refuses a formatted or non-empty directory; a start reads it back and refuses
 * another shard count, replica index or cluster id with one line; a single node formats
 * itself; a cluster member formats an empty directory recovering (the marker first, kept
 * across restarts until the recovery completes) and refuses an unformatted one that holds
 * anything; a damaged identity file is refused; the peer list, the cluster id and the
 * cluster key file are validated.
 */
#include "lib/error.h"
#include "node/cluster_config.h"
#include "node/format.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char test_root[64];

static void test_path(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", test_root, name);
}

static void test_write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static void test_config(struct node_config *config, const char *name, uint32_t replica_count)
{
    node_config_defaults(config);
    test_path(config->data_dir, sizeof(config->data_dir), name);
    config->replica_count = replica_count;
    config->replica_index = replica_count > 1 ? 1 : 0;
}

static void test_format_once(void **state)
{
    (void)state;
    struct node_config config;
    test_config(&config, "once", 3);
    snprintf(config.cluster_id, sizeof(config.cluster_id), "c0ffee");
    char error[FORMAT_ERROR_SIZE_MAX];
    assert_false(format_is_formatted(config.data_dir));
    assert_int_equal(format_command(&config, 4, error, sizeof(error)), 0);
    assert_true(format_is_formatted(config.data_dir));
    struct format_identity identity;
    assert_int_equal(format_read(config.data_dir, &identity, error, sizeof(error)), 0);
    assert_true(identity.cluster == 0xc0ffee);
    assert_int_equal(identity.replica_index, 1);
    assert_int_equal(identity.replica_count, 3);
    assert_int_equal(identity.shard_count, 4);
    assert_int_equal(format_command(&config, 4, error, sizeof(error)), -RUNNEL_EEXISTS);
    assert_non_null(strstr(error, "already formatted"));
    assert_null(strchr(error, '\n'));
    struct format_identity prepared;
    assert_int_equal(format_prepare(&config, 4, &prepared, error, sizeof(error)), 0);
    assert_true(prepared.cluster == identity.cluster);
    assert_int_equal(format_prepare(&config, 2, &prepared, error, sizeof(error)), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error, "shard count 4"));
    config.replica_index = 2;
    assert_int_equal(format_prepare(&config, 4, &prepared, error, sizeof(error)), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error, "replica index"));
    config.replica_index = 1;
    snprintf(config.cluster_id, sizeof(config.cluster_id), "beef");
    assert_int_equal(format_prepare(&config, 4, &prepared, error, sizeof(error)), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error, "cluster"));
}

static void test_format_refuses_non_empty(void **state)
{
    (void)state;
    struct node_config config;
    test_config(&config, "busy", 1);
    assert_int_equal(mkdir(config.data_dir, 0755), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/leftover", config.data_dir);
    test_write_file(path, "x");
    char error[FORMAT_ERROR_SIZE_MAX];
    assert_int_equal(format_command(&config, 1, error, sizeof(error)), -RUNNEL_EEXISTS);
    assert_non_null(strstr(error, "not empty"));
    assert_false(format_is_formatted(config.data_dir));
}

static void test_prepare_single_and_cluster(void **state)
{
    (void)state;
    struct node_config config;
    char error[FORMAT_ERROR_SIZE_MAX];
    struct format_identity identity;
    test_config(&config, "single", 1);
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), 0);
    assert_true(identity.cluster != 0); /* random: no cluster.id */
    u128 first = identity.cluster;
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), 0);
    assert_true(identity.cluster == first); /* read back, not re-formatted */
    test_config(&config, "member", 3);
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error, "cluster.id"));
    snprintf(config.cluster_id, sizeof(config.cluster_id), "abc");
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), 0);
    assert_true(format_is_formatted(config.data_dir));
    assert_true(identity.is_recovering); /* an empty member recovers from its peers */
    assert_int_equal(identity.replica_count, 3);
}

static void test_member_recovers(void **state)
{
    (void)state;
    struct node_config config;
    char error[FORMAT_ERROR_SIZE_MAX];
    struct format_identity identity;
    test_config(&config, "wiped", 3);
    snprintf(config.cluster_id, sizeof(config.cluster_id), "abc");
    assert_int_equal(mkdir(config.data_dir, 0755), 0); /* an emptied directory */
    char marker[600];
    snprintf(marker, sizeof(marker), "%s/recovering", config.data_dir);
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), 0);
    assert_true(identity.is_recovering);
    assert_int_equal(access(marker, F_OK), 0);
    /* A restart before the recovery completed resumes it. */
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), 0);
    assert_true(identity.is_recovering);
    assert_int_equal(format_recovery_complete(config.data_dir), 0);
    assert_int_not_equal(access(marker, F_OK), 0);
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), 0);
    assert_false(identity.is_recovering);
    assert_int_equal(format_recovery_complete(config.data_dir), 0); /* none: fine */
    /* A crash between the marker and the identity file: still recovering, not refused. */
    test_config(&config, "torn", 3);
    snprintf(config.cluster_id, sizeof(config.cluster_id), "abc");
    assert_int_equal(mkdir(config.data_dir, 0755), 0);
    snprintf(marker, sizeof(marker), "%s/recovering", config.data_dir);
    test_write_file(marker, "recovering\n");
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), 0);
    assert_true(identity.is_recovering);
}

static void test_member_refuses_unformatted_data(void **state)
{
    (void)state;
    struct node_config config;
    char error[FORMAT_ERROR_SIZE_MAX];
    struct format_identity identity;
    test_config(&config, "foreign", 3);
    snprintf(config.cluster_id, sizeof(config.cluster_id), "abc");
    assert_int_equal(mkdir(config.data_dir, 0755), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/shard-0", config.data_dir);
    assert_int_equal(mkdir(path, 0755), 0); /* someone's data, not formatted */
    assert_int_equal(format_prepare(&config, 2, &identity, error, sizeof(error)), -RUNNEL_EEXISTS);
    assert_non_null(strstr(error, "not empty"));
    assert_null(strchr(error, '\n'));
    assert_false(format_is_formatted(config.data_dir));
    snprintf(path, sizeof(path), "%s/recovering", config.data_dir);
    assert_int_not_equal(access(path, F_OK), 0); /* nothing written */
}

static void test_damaged_identity(void **state)
{
    (void)state;
    char directory[128];
    test_path(directory, sizeof(directory), "damaged");
    assert_int_equal(mkdir(directory, 0755), 0);
    char path[200];
    snprintf(path, sizeof(path), "%s/cluster", directory);
    test_write_file(path, "cluster=00ff\nreplica_index=7\nreplica_count=3\nshard_count=1\n");
    char error[FORMAT_ERROR_SIZE_MAX];
    struct format_identity identity;
    assert_int_equal(format_read(directory, &identity, error, sizeof(error)), -RUNNEL_EFORMAT);
    test_write_file(path, "cluster=00ff\nreplica_index=0\n");
    assert_int_equal(format_read(directory, &identity, error, sizeof(error)), -RUNNEL_EFORMAT);
    assert_non_null(strstr(error, "damaged"));
    test_path(directory, sizeof(directory), "absent");
    assert_int_equal(format_read(directory, &identity, error, sizeof(error)), -RUNNEL_ENOTFOUND);
}

static void test_cluster_config(void **state)
{
    (void)state;
    struct node_config config;
    struct config_error error;
    struct cluster_peer peers[VSR_REPLICAS_MAX];
    node_config_defaults(&config);
    config.replica_count = 3;
    snprintf(config.peers, sizeof(config.peers), "127.0.0.1:9001, 10.77.0.2:9002,10.77.0.3:9003");
    assert_int_equal(cluster_config_peers(&config, peers, VSR_REPLICAS_MAX, &error), 0);
    assert_string_equal(peers[1].address, "10.77.0.2");
    assert_int_equal(peers[2].port, 9003);
    const char *bad[] = {"127.0.0.1:9001,10.77.0.2:9002", "a:1,b:2,c:3",
                         "127.0.0.1:9001,,127.0.0.1:9003", "127.0.0.1:0,1.1.1.1:1,1.1.1.1:2",
                         "127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003,127.0.0.1:9004"};
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        snprintf(config.peers, sizeof(config.peers), "%s", bad[index]);
        assert_int_equal(cluster_config_peers(&config, peers, VSR_REPLICAS_MAX, &error),
                         -RUNNEL_ECONFIG);
        assert_non_null(strstr(error.text, "cluster.peers"));
    }
    u128 cluster = 0;
    assert_int_equal(cluster_config_id_parse("0123456789abcdefABCDEF0123456789", &cluster, &error),
                     0);
    assert_int_equal(cluster_config_id_parse("0", &cluster, &error), -RUNNEL_ECONFIG);
    assert_int_equal(cluster_config_id_parse("xyz", &cluster, &error), -RUNNEL_ECONFIG);
    assert_int_equal(cluster_config_id_parse("123456789012345678901234567890123", &cluster, &error),
                     -RUNNEL_ECONFIG);
}

static void test_cluster_key(void **state)
{
    (void)state;
    char path[128];
    test_path(path, sizeof(path), "key");
    uint8_t key[CLUSTER_KEY_SIZE_BYTES];
    struct config_error error;
    test_write_file(path, "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n");
    chmod(path, 0600);
    assert_int_equal(cluster_config_key_load(path, key, &error), 0);
    assert_int_equal(key[1], 0x11);
    assert_int_equal(key[31], 0xff);
    test_write_file(path, "0011\n");
    assert_int_equal(cluster_config_key_load(path, key, &error), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "64 hex digits"));
    assert_null(strstr(error.text, "0011"));
    test_write_file(path, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeffXX");
    assert_int_equal(cluster_config_key_load(path, key, &error), -RUNNEL_ECONFIG);
    test_path(path, sizeof(path), "no_such_key");
    assert_int_equal(cluster_config_key_load(path, key, &error), -RUNNEL_ECONFIG);
    struct node_config config;
    node_config_defaults(&config);
    config.replica_count = 2;
    snprintf(config.peers, sizeof(config.peers), "127.0.0.1:1,127.0.0.1:2");
    snprintf(config.cluster_id, sizeof(config.cluster_id), "1");
    assert_int_equal(cluster_config_validate(&config, &error), -RUNNEL_ECONFIG);
    assert_non_null(strstr(error.text, "cluster.key_file"));
    test_path(config.cluster_key_file, sizeof(config.cluster_key_file), "key");
    test_write_file(config.cluster_key_file,
                    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    assert_int_equal(cluster_config_validate(&config, &error), 0);
}

static int test_setup(void **state)
{
    (void)state;
    snprintf(test_root, sizeof(test_root), "/tmp/runnel_test_format_XXXXXX");
    assert_non_null(mkdtemp(test_root));
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", test_root);
    return system(command) == 0 ? 0 : -1;
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_once),
        cmocka_unit_test(test_format_refuses_non_empty),
        cmocka_unit_test(test_prepare_single_and_cluster),
        cmocka_unit_test(test_member_recovers),
        cmocka_unit_test(test_member_refuses_unformatted_data),
        cmocka_unit_test(test_damaged_identity),
        cmocka_unit_test(test_cluster_config),
        cmocka_unit_test(test_cluster_key),
    };
    return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
