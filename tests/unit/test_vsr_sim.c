/*
 * Named VSR scenarios on the deterministic simulator (tests/sim): a send-only replica
 * cannot depose a healthy primary; the same seed replays the same run; a fault-free
 * cluster of each size commits every request and converges.
 */
#include "tests/sim/sim_cluster.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/*
 * Three replicas, no random faults; from tick 300 replica 2 receives nothing but can still
 * send (its start_view_change votes reach everyone). A vote alone is not a view-change
 * quorum, so replicas 0 and 1 stay in the view they reached at start-up, and after the
 * link heals replica 2 catches up.
 */
static void test_send_only_replica_cannot_depose_primary(void **state)
{
    (void)state;
    struct sim_options options = {
        .shape_fixed = true,
        .replica_count = 3,
        .group_count = 1,
        .client_count = 4,
        .faults_random = false,
        .send_only_machine = 2,
        .send_only_from_tick = 300,
        .fault_ticks = 3000,
    };
    struct sim_options baseline = options;
    baseline.send_only_machine = -1;
    struct sim_result healthy;
    sim_cluster_run_options(11, &baseline, false, &healthy);
    assert_true(healthy.passed);
    struct sim_result result;
    sim_cluster_run_options(11, &options, false, &result);
    assert_true(result.passed);
    assert_true(result.commits > 0);
    assert_int_equal(result.views_at_heal[0], healthy.views_at_heal[0]);
    assert_int_equal(result.views_at_heal[1], healthy.views_at_heal[1]);
    assert_true(result.views_at_heal[0] <= 1);
}

/* One seed decides everything: two runs of it agree on every figure. */
static void test_same_seed_replays_exactly(void **state)
{
    (void)state;
    for (uint64_t seed = 100; seed < 105; seed++) {
        struct sim_result first;
        struct sim_result second;
        sim_cluster_run(seed, false, &first);
        sim_cluster_run(seed, false, &second);
        assert_true(first.passed && second.passed);
        assert_int_equal(first.ticks, second.ticks);
        assert_int_equal(first.commits, second.commits);
        assert_int_equal(first.view_changes, second.view_changes);
        assert_int_equal(first.crashes, second.crashes);
    }
}

/* Without faults every size from 1 to 5 commits every request of several groups. */
static void test_fault_free_clusters_converge(void **state)
{
    (void)state;
    for (uint32_t count = 1; count <= 5; count++) {
        struct sim_options options = {
            .shape_fixed = true,
            .replica_count = count,
            .group_count = 3,
            .client_count = 6,
            .faults_random = false,
            .send_only_machine = -1,
            .fault_ticks = 500,
        };
        struct sim_result result;
        sim_cluster_run_options(count, &options, false, &result);
        assert_true(result.passed);
        assert_true(result.commits >= 6 * 5);
    }
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_only_replica_cannot_depose_primary),
        cmocka_unit_test(test_same_seed_replays_exactly),
        cmocka_unit_test(test_fault_free_clusters_converge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
