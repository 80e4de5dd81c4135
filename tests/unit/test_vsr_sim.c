/*
 * VSR on the deterministic simulator (tests/sim): the same seed replays the same run; a
 * fault-free cluster of each size commits every request and converges; a 2-1 partition
 * (symmetric, or the primary hearing nothing) moves the primary; an assertion fails one
 * seed only. The named scenarios (send-only replica, damaged acked record, duplicate
 * request after a view change, ...) run as runnel-sim --scenario over many seeds
 * (tests/sim/sim_scenarios.h).
 */
#include "tests/sim/sim_cluster.h"
#include "vsr/replica.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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

/* Without faults every size from 1 to 6 commits every request of several groups. */
static void test_fault_free_clusters_converge(void **state)
{
    (void)state;
    for (uint32_t count = 1; count <= 6; count++) {
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

struct partition_scenario {
    bool one_way;     /* the primary still sends but hears nothing */
    int32_t isolated; /* the primary at tick 200, -1 before */
    uint32_t view_before;
};

/* Cuts group 0's primary off the two backups from tick 200 to tick 1500. */
static void partition_scenario_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct partition_scenario *scenario = context;
    if (tick == 200) {
        for (uint32_t machine = 0; machine < 3; machine++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
            if (replica != NULL && vsr_replica_is_primary(replica)) {
                scenario->isolated = (int32_t)machine;
                scenario->view_before = replica->view;
            }
        }
    }
    if (scenario->isolated < 0 || (tick != 200 && tick != 1500)) {
        return;
    }
    uint32_t isolated = (uint32_t)scenario->isolated;
    for (uint32_t machine = 0; machine < 3; machine++) {
        if (machine != isolated) {
            sim_cluster_link_block(cluster, machine, isolated, tick == 200);
            sim_cluster_link_block(cluster, isolated, machine, tick == 200 && !scenario->one_way);
        }
    }
}

/*
 * A 2-1 partition isolating the primary, symmetric and one-way (the primary can send but
 * hears nothing: it must abdicate, or its heartbeats would keep the backups from voting).
 * Either way the two backups elect a new primary and keep committing; after the partition
 * heals the old primary follows.
 */
static void test_partition_two_one_moves_the_primary(void **state)
{
    (void)state;
    for (uint32_t round = 0; round < 2; round++) {
        struct partition_scenario scenario = {.one_way = round == 1, .isolated = -1};
        struct sim_options options = {
            .shape_fixed = true,
            .replica_count = 3,
            .group_count = 1,
            .client_count = 4,
            .faults_random = false,
            .send_only_machine = -1,
            .fault_ticks = 2500,
            .script = partition_scenario_script,
            .script_context = &scenario,
        };
        struct sim_result result;
        sim_cluster_run_options(5 + round, &options, false, &result);
        assert_true(result.passed);
        assert_true(scenario.isolated >= 0);
        for (uint32_t machine = 0; machine < 3; machine++) {
            assert_true(result.views_at_heal[machine] > scenario.view_before);
        }
    }
}

/* Breaks a simulator contract (a link from a machine to itself) at tick 50. */
static void assertion_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    (void)context;
    if (tick == 50) {
        sim_cluster_link_block(cluster, 0, 0, true);
    }
}

/*
 * An assertion inside a run fails that seed only, with the assertion as its reason; the
 * next seed runs normally (runnel-sim --seeds goes on and counts it as one failure).
 */
static void test_assertion_fails_one_seed(void **state)
{
    (void)state;
    struct sim_options options = {
        .shape_fixed = true,
        .replica_count = 3,
        .group_count = 2,
        .client_count = 2,
        .faults_random = false,
        .send_only_machine = -1,
        .fault_ticks = 200,
        .script = assertion_script,
    };
    struct sim_result result;
    sim_cluster_run_options(3, &options, false, &result);
    assert_false(result.passed);
    assert_non_null(strstr(result.reason, "assertion from != to"));
    assert_int_equal(result.ticks, 50);
    options.script = NULL;
    sim_cluster_run_options(3, &options, false, &result);
    assert_true(result.passed);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_replays_exactly),
        cmocka_unit_test(test_fault_free_clusters_converge),
        cmocka_unit_test(test_partition_two_one_moves_the_primary),
        cmocka_unit_test(test_assertion_fails_one_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
