/*
 * Named VSR scenarios on the deterministic simulator (tests/sim): a send-only replica
 * cannot depose a healthy primary; the same seed replays the same run; a fault-free
 * cluster of each size commits every request and converges; a committed record damaged on
 * one replica and missing on another survives the view change.
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

/*
 * Three replicas, no random faults; from tick 300 replica 2 receives nothing but can still
 * send (its start_view_change votes reach everyone). A vote alone is not a view-change
 * quorum, so replicas 0 and 1 end in the same view as in the same run without the fault
 * (start-up, then the hand-back to the preferred primary), and after the link heals
 * replica 2 catches up.
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

struct damaged_scenario {
    uint32_t phase;
    uint8_t primary;
    uint8_t acker;  /* acked the ops, then loses one to corruption */
    uint8_t missed; /* never receives them */
    uint64_t damaged_op;
    uint64_t committed_op; /* the primary's commit when it crashed */
};

/* Finds the primary of group 0 once the cluster runs; blocks its link to one backup. */
static void damaged_scenario_start(struct sim_cluster *cluster, struct damaged_scenario *scenario)
{
    for (uint8_t machine = 0; machine < 3; machine++) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
        if (replica != NULL && vsr_replica_is_primary(replica)) {
            scenario->primary = machine;
            scenario->acker = (uint8_t)((machine + 1) % 3);
            scenario->missed = (uint8_t)((machine + 2) % 3);
            sim_cluster_link_block(cluster, machine, scenario->missed, true);
            scenario->phase = 1;
            return;
        }
    }
}

/*
 * Waits until the primary has committed two ops that the acking backup holds but does not
 * yet know committed; then the primary crashes (until the faults heal), the lower of the
 * two is damaged in the backup's journal and the backup restarts (it finds the damage).
 */
static void damaged_scenario_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct damaged_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= 150) {
        damaged_scenario_start(cluster, scenario);
        return;
    }
    if (scenario->phase != 1) {
        return;
    }
    const struct vsr_replica *primary = sim_cluster_replica(cluster, 0, scenario->primary);
    const struct vsr_replica *acker = sim_cluster_replica(cluster, 0, scenario->acker);
    if (primary == NULL || acker == NULL || !vsr_replica_is_primary(primary) ||
        primary->commit_max < acker->commit_max + 2 || acker->op_prefix < primary->commit_max) {
        return;
    }
    scenario->damaged_op = acker->commit_max + 1;
    scenario->committed_op = primary->commit_max;
    sim_cluster_crash(cluster, scenario->primary, tick + 1000000);
    assert_true(sim_cluster_corrupt(cluster, 0, scenario->acker, scenario->damaged_op));
    sim_cluster_crash(cluster, scenario->acker, tick + 1);
    scenario->phase = 2;
}

/*
 * research/vsr.md §9: an acknowledged (here committed) record damaged on one replica while
 * the other never received it. The damaged replica must not nack it; the survivors cannot
 * truncate it (one nack is below the nack quorum of 2), wait for the old primary and
 * repair it; the committed history checker fails the run if it were lost or replaced.
 */
static void test_damaged_acked_record_is_not_truncated(void **state)
{
    (void)state;
    uint32_t triggered = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct damaged_scenario scenario = {0};
        struct sim_options options = {
            .shape_fixed = true,
            .replica_count = 3,
            .group_count = 1,
            .client_count = 6,
            .faults_random = false,
            .send_only_machine = -1,
            .fault_ticks = 2500,
            .script = damaged_scenario_script,
            .script_context = &scenario,
        };
        struct sim_result result;
        sim_cluster_run_options(seed, &options, false, &result);
        assert_true(result.passed);
        if (scenario.phase == 2) {
            assert_true(scenario.damaged_op < scenario.committed_op);
            triggered++;
        }
    }
    assert_true(triggered >= 10);
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

struct duplicate_scenario {
    uint32_t phase;
    uint32_t primary;
    uint64_t commit_start;
    uint64_t cached_after_crash; /* replies the survivors served from the kept replies */
};

/*
 * From tick 150 every reply of group 0's primary is lost; once it has committed (and
 * executed) four more ops it crashes. The clients, still waiting, resend to every replica;
 * the new primary must answer from the replies kept in the group's state.
 */
static void duplicate_scenario_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct duplicate_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= 150) {
        for (uint32_t machine = 0; machine < 3; machine++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
            if (replica != NULL && vsr_replica_is_primary(replica)) {
                scenario->primary = machine;
                scenario->commit_start = sim_cluster_committed_max(cluster, 0);
                sim_cluster_replies_drop(cluster, machine, true);
                scenario->phase = 1;
            }
        }
    } else if (scenario->phase == 1 &&
               sim_cluster_committed_max(cluster, 0) >= scenario->commit_start + 4) {
        sim_cluster_crash(cluster, scenario->primary, tick + 1000000);
        scenario->phase = 2;
    } else if (scenario->phase == 2) {
        uint64_t cached = 0;
        for (uint32_t machine = 0; machine < 3; machine++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
            cached += replica != NULL ? replica->stats.cached_replies : 0;
        }
        scenario->cached_after_crash = cached;
    }
}

/*
 * research/vsr.md §9 "duplicate client request after a view change": requests committed
 * by a primary that crashed before any reply got out are resent to the new primary; they
 * get their original replies (same op) and are never executed twice (the model and the
 * executed-twice checker fail the run otherwise), for exactly-once sessions and for a mix.
 */
static void test_duplicate_request_after_view_change(void **state)
{
    (void)state;
    for (uint32_t round = 0; round < 4; round++) {
        struct duplicate_scenario scenario = {0};
        struct sim_options options = {
            .shape_fixed = true,
            .replica_count = 3,
            .group_count = 1,
            .client_count = 6,
            .faults_random = false,
            .exactly_once_all = round < 2,
            .send_only_machine = -1,
            .fault_ticks = 2000,
            .ring_ops = 32,
            .checkpoint_interval = 6, /* the kept replies also cross checkpoints */
            .script = duplicate_scenario_script,
            .script_context = &scenario,
        };
        struct sim_result result;
        sim_cluster_run_options(40 + round, &options, false, &result);
        assert_true(result.passed);
        assert_int_equal(scenario.phase, 2);
        assert_true(scenario.cached_after_crash > 0);
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
        cmocka_unit_test(test_send_only_replica_cannot_depose_primary),
        cmocka_unit_test(test_same_seed_replays_exactly),
        cmocka_unit_test(test_fault_free_clusters_converge),
        cmocka_unit_test(test_damaged_acked_record_is_not_truncated),
        cmocka_unit_test(test_partition_two_one_moves_the_primary),
        cmocka_unit_test(test_assertion_fails_one_seed),
        cmocka_unit_test(test_duplicate_request_after_view_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
