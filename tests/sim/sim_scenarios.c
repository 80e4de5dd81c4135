/*
 * Named simulator scenarios (see sim_scenarios.h): each a script run at the end of every
 * tick of the fault phase, plus the condition checked once the run ended. Runs inside the
 * single simulator thread.
 */
#include "tests/sim/sim_scenarios.h"

#include "lib/assert.h"
#include "vsr/replica.h"

#include <stdio.h>
#include <string.h>

enum {
    SCENARIO_RING_OPS = 24,
    SCENARIO_CHECKPOINT_INTERVAL = 6,
    SCENARIO_REPLICAS = 3,
    SCENARIO_RECOVERY_TICKS_MAX = 1000, /* a crashed primary's groups lead again within */
};

/* The fixed shape every scenario starts from: no random faults, a small ring. */
static struct sim_options scenario_options(uint32_t replica_count, uint32_t group_count,
                                           uint64_t fault_ticks, sim_script_callback script,
                                           void *context)
{
    struct sim_options options = {
        .shape_fixed = true,
        .replica_count = replica_count,
        .group_count = group_count,
        .client_count = 8,
        .send_only_machine = -1,
        .fault_ticks = fault_ticks,
        .ring_ops = SCENARIO_RING_OPS,
        .checkpoint_interval = SCENARIO_CHECKPOINT_INTERVAL,
        .script = script,
        .script_context = context,
    };
    return options;
}

/* lagging_replica */
struct lagging_scenario {
    uint32_t phase;
    uint32_t lagger;
    uint64_t commit_at_cut;
    uint64_t commit_at_heal;
    uint64_t transfers;
    bool caught_up;
};

/* Cuts machine off from every other one (both ways), or joins it again. */
static void scenario_isolate(struct sim_cluster *cluster, uint32_t machine, bool isolated)
{
    for (uint32_t other = 0; other < SCENARIO_REPLICAS; other++) {
        if (other != machine) {
            sim_cluster_link_block(cluster, machine, other, isolated);
            sim_cluster_link_block(cluster, other, machine, isolated);
        }
    }
}

static void lagging_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct lagging_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= 100) {
        for (uint32_t machine = 0; machine < SCENARIO_REPLICAS && scenario->phase == 0; machine++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
            if (replica != NULL && replica->status == VSR_STATUS_NORMAL &&
                !vsr_replica_is_primary(replica)) {
                scenario->lagger = machine;
                scenario->commit_at_cut = sim_cluster_committed_max(cluster, 0);
                scenario_isolate(cluster, machine, true);
                scenario->phase = 1;
            }
        }
    } else if (scenario->phase == 1 && (sim_cluster_committed_max(cluster, 0) >=
                                            scenario->commit_at_cut + 3 * SCENARIO_RING_OPS ||
                                        tick >= 2500)) {
        scenario->commit_at_heal = sim_cluster_committed_max(cluster, 0);
        scenario_isolate(cluster, scenario->lagger, false);
        scenario->phase = 2;
    } else if (scenario->phase == 2) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, scenario->lagger);
        if (replica != NULL) {
            scenario->transfers = replica->stats.state_transfers;
            scenario->caught_up |= replica->commit_min >= scenario->commit_at_heal;
        }
    }
}

static void lagging_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct lagging_scenario scenario = {0};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, 1, 4000, lagging_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        printf("lagging_replica: lagger=%u commit at cut=%llu at heal=%llu transfers=%llu "
               "caught_up=%d\n",
               scenario.lagger, (unsigned long long)scenario.commit_at_cut,
               (unsigned long long)scenario.commit_at_heal, (unsigned long long)scenario.transfers,
               (int)scenario.caught_up);
    }
    if (result->passed && (scenario.phase != 2 || !scenario.caught_up ||
                           scenario.commit_at_heal < scenario.commit_at_cut + SCENARIO_RING_OPS ||
                           scenario.transfers == 0)) {
        result->passed = false;
        snprintf(result->reason, sizeof(result->reason),
                 "lagging_replica: phase %u, %llu ops behind, %llu transfers, caught up %d",
                 scenario.phase,
                 (unsigned long long)(scenario.commit_at_heal - scenario.commit_at_cut),
                 (unsigned long long)scenario.transfers, (int)scenario.caught_up);
    }
}

/* primary_crash_commit */
struct crash_scenario {
    uint32_t phase;
    uint64_t op_at_crash;
    uint64_t commit_at_crash;
    uint64_t committed_at_crash;
    uint64_t committed_after;
};

static void crash_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct crash_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= 150) {
        for (uint32_t machine = 0; machine < SCENARIO_REPLICAS && scenario->phase == 0; machine++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
            if (replica != NULL && vsr_replica_is_primary(replica) &&
                replica->op > replica->commit_max) {
                scenario->op_at_crash = replica->op;
                scenario->commit_at_crash = replica->commit_max;
                scenario->committed_at_crash = sim_cluster_committed_max(cluster, 0);
                sim_cluster_crash(cluster, machine, tick + 300);
                scenario->phase = 1;
            }
        }
    } else if (scenario->phase == 1) {
        scenario->committed_after = sim_cluster_committed_max(cluster, 0);
    }
}

static void crash_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct crash_scenario scenario = {0};
    uint32_t replica_count = SCENARIO_REPLICAS + 2 * (uint32_t)(seed % 2); /* 3 or 5 */
    struct sim_options options = scenario_options(replica_count, 1, 3000, crash_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        printf("primary_crash_commit: primary op=%llu commit=%llu at the crash; history %llu "
               "then %llu\n",
               (unsigned long long)scenario.op_at_crash,
               (unsigned long long)scenario.commit_at_crash,
               (unsigned long long)scenario.committed_at_crash,
               (unsigned long long)scenario.committed_after);
    }
    if (result->passed &&
        (scenario.phase != 1 || scenario.committed_after <= scenario.committed_at_crash)) {
        result->passed = false;
        snprintf(result->reason, sizeof(result->reason),
                 "primary_crash_commit: phase %u, history %llu at the crash, %llu after",
                 scenario.phase, (unsigned long long)scenario.committed_at_crash,
                 (unsigned long long)scenario.committed_after);
    }
}

/* many_groups_primary */
struct many_scenario {
    uint32_t phase;
    uint64_t crash_tick;
    uint32_t led;          /* groups the crashed machine led */
    uint32_t leaderless;   /* of those, still without a live normal primary */
    uint64_t recover_tick; /* first tick every one of them led again */
    uint8_t *lost;         /* SIM_SCENARIO_GROUPS: the group lost its primary */
};

/* True when a live replica of group leads it (normal, primary of its view). */
static bool many_group_led(const struct sim_cluster *cluster, uint32_t group)
{
    for (uint32_t machine = 1; machine < SCENARIO_REPLICAS; machine++) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, group, machine);
        if (replica != NULL && vsr_replica_is_primary(replica)) {
            return true;
        }
    }
    return false;
}

static void many_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct many_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= 400) {
        for (uint32_t group = 0; group < SIM_SCENARIO_GROUPS; group++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, group, 0);
            scenario->lost[group] = replica != NULL && vsr_replica_is_primary(replica);
            scenario->led += scenario->lost[group];
        }
        sim_cluster_crash(cluster, 0, tick + 1000000); /* back only once the faults heal */
        scenario->crash_tick = tick;
        scenario->phase = 1;
    } else if (scenario->phase == 1) {
        uint32_t leaderless = 0;
        for (uint32_t group = 0; group < SIM_SCENARIO_GROUPS; group++) {
            leaderless += scenario->lost[group] && !many_group_led(cluster, group);
        }
        scenario->leaderless = leaderless;
        if (leaderless == 0) {
            scenario->recover_tick = tick;
            scenario->phase = 2;
        }
    }
}

static void many_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    static uint8_t lost[SIM_SCENARIO_GROUPS];
    memset(lost, 0, sizeof(lost));
    struct many_scenario scenario = {.lost = lost};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, SIM_SCENARIO_GROUPS, 400 + SCENARIO_RECOVERY_TICKS_MAX,
                         many_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        printf("many_groups_primary: %u groups, machine 0 led %u; all led again %llu ticks "
               "after the crash (%u still leaderless)\n",
               SIM_SCENARIO_GROUPS, scenario.led,
               (unsigned long long)(scenario.recover_tick - scenario.crash_tick),
               scenario.leaderless);
    }
    if (result->passed && (scenario.phase != 2 || scenario.led < SIM_SCENARIO_GROUPS / 4)) {
        result->passed = false;
        snprintf(result->reason, sizeof(result->reason),
                 "many_groups_primary: machine 0 led %u groups, %u without a primary %d ticks "
                 "after the crash",
                 scenario.led, scenario.leaderless, SCENARIO_RECOVERY_TICKS_MAX);
    }
}

/* recovering_quorum */
struct recovering_scenario {
    uint32_t phase;
    uint32_t crashed[2];
    uint64_t crash_tick;
    uint64_t committed_at_crash;
    bool recovering_seen; /* both restarted recovering_head */
    bool progressed;      /* a commit or a normal primary while stuck: must not happen */
    bool refused;         /* the command was refused (the replica was not recovering) */
    uint64_t force_tick;
    bool led_after; /* a normal primary after the command */
};

/* True when some live replica of group 0 is a normal primary. */
static bool recovering_led(const struct sim_cluster *cluster)
{
    for (uint32_t machine = 0; machine < SCENARIO_REPLICAS; machine++) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
        if (replica != NULL && vsr_replica_is_primary(replica)) {
            return true;
        }
    }
    return false;
}

/* Crashes the primary and one backup of group 0 as machines. */
static void recovering_crash(struct sim_cluster *cluster, uint64_t tick,
                             struct recovering_scenario *scenario)
{
    uint32_t count = 0;
    for (uint32_t machine = 0; machine < SCENARIO_REPLICAS; machine++) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
        if (replica != NULL && vsr_replica_is_primary(replica)) {
            scenario->crashed[count++] = machine;
        }
    }
    if (count != 1) {
        return; /* between primaries: try again next tick */
    }
    scenario->crashed[1] = (scenario->crashed[0] + 1) % SCENARIO_REPLICAS;
    scenario->committed_at_crash = sim_cluster_committed_max(cluster, 0);
    sim_cluster_crash_machine(cluster, scenario->crashed[0], tick + 20);
    sim_cluster_crash_machine(cluster, scenario->crashed[1], tick + 20);
    scenario->crash_tick = tick;
    scenario->phase = 1;
}

static void recovering_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct recovering_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= 200) {
        recovering_crash(cluster, tick, scenario);
    } else if (scenario->phase == 1 && tick >= scenario->crash_tick + 40) {
        bool recovering = true;
        for (uint32_t index = 0; index < 2; index++) {
            const struct vsr_replica *replica =
                sim_cluster_replica(cluster, 0, scenario->crashed[index]);
            recovering &= replica != NULL && replica->status == VSR_STATUS_RECOVERING_HEAD;
        }
        scenario->recovering_seen |= recovering && tick == scenario->crash_tick + 40;
        scenario->progressed |= recovering_led(cluster) || sim_cluster_committed_max(cluster, 0) !=
                                                               scenario->committed_at_crash;
        if (tick >= scenario->crash_tick + 800) {
            for (uint32_t index = 0; index < 2; index++) {
                int forced = sim_cluster_force_recovery(cluster, 0, scenario->crashed[index]);
                scenario->refused |= forced != 0;
            }
            scenario->force_tick = tick;
            scenario->phase = 2;
        }
    } else if (scenario->phase == 2) {
        scenario->led_after |= recovering_led(cluster);
    }
}

static void recovering_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct recovering_scenario scenario = {0};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, 1, 2500, recovering_script, &scenario);
    options.durability_replicated = true;
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        printf("recovering_quorum: crashed %u and %u at tick %llu (history %llu); recovering "
               "%d; progress while stuck %d; led after the command %d\n",
               scenario.crashed[0], scenario.crashed[1], (unsigned long long)scenario.crash_tick,
               (unsigned long long)scenario.committed_at_crash, (int)scenario.recovering_seen,
               (int)scenario.progressed, (int)scenario.led_after);
    }
    if (result->passed && (scenario.phase != 2 || !scenario.recovering_seen ||
                           scenario.progressed || scenario.refused || !scenario.led_after)) {
        result->passed = false;
        snprintf(result->reason, sizeof(result->reason),
                 "recovering_quorum: phase %u, recovering %d, progress while stuck %d, command "
                 "refused %d, led after the command %d",
                 scenario.phase, (int)scenario.recovering_seen, (int)scenario.progressed,
                 (int)scenario.refused, (int)scenario.led_after);
    }
}

struct scenario {
    const char *name;
    void (*run)(uint64_t seed, bool verbose, struct sim_result *result);
};

static const struct scenario scenarios[] = {
    {"lagging_replica", lagging_run},
    {"primary_crash_commit", crash_run},
    {"recovering_quorum", recovering_run},
    {"many_groups_primary", many_run},
};

static const struct scenario *scenario_find(const char *name)
{
    assert(name != NULL);
    for (size_t index = 0; index < sizeof(scenarios) / sizeof(scenarios[0]); index++) {
        if (strcmp(scenarios[index].name, name) == 0) {
            return &scenarios[index];
        }
    }
    return NULL;
}

bool sim_scenario_exists(const char *name)
{
    return scenario_find(name) != NULL;
}

void sim_scenario_list(void)
{
    for (size_t index = 0; index < sizeof(scenarios) / sizeof(scenarios[0]); index++) {
        printf("%s\n", scenarios[index].name);
    }
}

void sim_scenario_run(const char *name, uint64_t seed, bool verbose, struct sim_result *result)
{
    const struct scenario *scenario = scenario_find(name);
    assert(scenario != NULL);
    assert(result != NULL);
    scenario->run(seed, verbose, result);
}
