/*
 * Unit tests for node/recovery: a node's recovery ends only once its metadata group caught
 * up and every shard reported no partition pending at a metadata op at or past the one the
 * metadata group caught up to; then the recovering marker is gone and the flag cleared.
 * Logins wait (58) while the metadata group recovers.
 */
#include "node/format.h"
#include "node/recovery.h"
#include "vsr/replica.h"

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

static char test_root[64];
static char test_marker[128];

static void test_metadata(struct vsr_replica *replica, bool recovering)
{
    memset(replica, 0, sizeof(*replica));
    replica->config.replica_count = 3;
    replica->status = recovering ? VSR_STATUS_RECOVERING_HEAD : VSR_STATUS_NORMAL;
    replica->recovering = recovering;
}

static void test_ticks(struct recovery *recovery, const struct vsr_replica *metadata,
                       uint64_t metadata_op, uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        recovery_tick(recovery, metadata, metadata_op);
    }
}

static void test_inactive_does_nothing(void **state)
{
    (void)state;
    struct recovery recovery;
    assert_int_equal(recovery_init(&recovery, test_root, 2), 0);
    struct vsr_replica metadata;
    test_metadata(&metadata, false);
    assert_false(recovery_is_active(&recovery));
    assert_false(recovery_is_metadata_pending(&recovery));
    test_ticks(&recovery, &metadata, 5, 10);
    assert_int_equal(access(test_marker, F_OK), 0); /* an inactive recovery removes nothing */
    recovery_deinit(&recovery);
}

static void test_ends_once_everything_caught_up(void **state)
{
    (void)state;
    struct recovery recovery;
    assert_int_equal(recovery_init(&recovery, test_root, 2), 0);
    recovery_activate(&recovery);
    struct vsr_replica metadata;
    test_metadata(&metadata, true);
    recovery_shard_report(&recovery, 0, 3, 0, 0);
    recovery_shard_report(&recovery, 1, 3, 0, 0);
    test_ticks(&recovery, &metadata, 3, 10);
    assert_true(recovery_is_active(&recovery)); /* the metadata group still recovers */
    assert_true(recovery_is_metadata_pending(&recovery));
    test_metadata(&metadata, false);
    recovery_shard_report(&recovery, 0, 7, 0, 1);
    recovery_shard_report(&recovery, 1, 7, 1, 2); /* one partition still recovering */
    test_ticks(&recovery, &metadata, 7, 10);
    assert_true(recovery_is_active(&recovery));
    assert_false(recovery_is_metadata_pending(&recovery));
    assert_int_equal(access(test_marker, F_OK), 0);
    recovery_shard_report(&recovery, 1, 6, 0, 2); /* counted in an older version */
    test_ticks(&recovery, &metadata, 8, 10);
    assert_true(recovery_is_active(&recovery));
    recovery_shard_report(&recovery, 1, 7, 0, 2);
    test_ticks(&recovery, &metadata, 8, 1);
    assert_false(recovery_is_active(&recovery));
    assert_int_not_equal(access(test_marker, F_OK), 0); /* the marker is gone */
    recovery_deinit(&recovery);
}

static int test_setup(void **state)
{
    (void)state;
    snprintf(test_root, sizeof(test_root), "/tmp/runnel_test_recovery_XXXXXX");
    assert_non_null(mkdtemp(test_root));
    snprintf(test_marker, sizeof(test_marker), "%s/recovering", test_root);
    FILE *file = fopen(test_marker, "w");
    assert_non_null(file);
    fputs("recovering\n", file);
    fclose(file);
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    (void)unlink(test_marker); /* gone when the recovery ended */
    return rmdir(test_root);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inactive_does_nothing, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_ends_once_everything_caught_up, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
