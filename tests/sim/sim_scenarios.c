/*
 * Named simulator scenarios (see sim_scenarios.h): each a script run at the end of every
 * tick of the fault phase, plus the condition checked once the run ended. Runs inside the
 * single simulator thread.
 */
#include "tests/sim/sim_scenarios.h"

#include "lib/assert.h"
#include "vsr/quorum.h"
#include "vsr/replica.h"

#include <stdarg.h>
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
enum {
    /* The backup is cut off early in the clients' work (a new group serves in view 0 from
     * its first ticks), so the others commit several rings of ops without it. */
    LAGGING_CUT_TICK = 40,
};

struct lagging_scenario {
    uint32_t phase;
    uint32_t lagger;
    uint64_t commit_at_cut;
    uint64_t commit_at_heal;
    uint64_t transfers;
    bool caught_up;
};

/* Cuts machine off from every other one of count (both ways, or only what it receives),
 * or joins it again. */
static void scenario_isolate(struct sim_cluster *cluster, uint32_t count, uint32_t machine,
                             bool isolated, bool send_only)
{
    assert(machine < count);
    for (uint32_t other = 0; other < count; other++) {
        if (other != machine) {
            sim_cluster_link_block(cluster, machine, other, isolated && !send_only);
            sim_cluster_link_block(cluster, other, machine, isolated);
        }
    }
}

/* The highest checkpoint replica may restart from: its own, or one whose superblock write
 * is in flight (a crash may keep it). Damage at or below it is never read again. */
static uint64_t scenario_restart_floor(const struct vsr_replica *replica)
{
    if (replica->transfer_stage != VSR_TRANSFER_IDLE) {
        return replica->commit_min > replica->transfer_op ? replica->commit_min
                                                          : replica->transfer_op;
    }
    return replica->checkpoint_stage != VSR_CHECKPOINT_IDLE ? replica->checkpoint_next_op
                                                            : replica->checkpoint_op;
}

/* The machine whose replica of group 0 is its only normal primary, or -1. */
static int32_t scenario_primary(const struct sim_cluster *cluster, uint32_t count)
{
    int32_t primary = -1;
    for (uint32_t machine = 0; machine < count; machine++) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
        if (replica != NULL && vsr_replica_is_primary(replica)) {
            if (primary >= 0) {
                return -1; /* an old primary not yet deposed: wait */
            }
            primary = (int32_t)machine;
        }
    }
    return primary;
}

static void lagging_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct lagging_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= LAGGING_CUT_TICK) {
        for (uint32_t machine = 0; machine < SCENARIO_REPLICAS && scenario->phase == 0; machine++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
            if (replica != NULL && replica->status == VSR_STATUS_NORMAL &&
                !vsr_replica_is_primary(replica)) {
                scenario->lagger = machine;
                scenario->commit_at_cut = sim_cluster_committed_max(cluster, 0);
                scenario_isolate(cluster, SCENARIO_REPLICAS, machine, true, false);
                scenario->phase = 1;
            }
        }
    } else if (scenario->phase == 1 && (sim_cluster_committed_max(cluster, 0) >=
                                            scenario->commit_at_cut + 3 * SCENARIO_RING_OPS ||
                                        tick >= 2500)) {
        scenario->commit_at_heal = sim_cluster_committed_max(cluster, 0);
        scenario_isolate(cluster, SCENARIO_REPLICAS, scenario->lagger, false, false);
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

/* lagging_partition: lagging_replica's script on log_retained groups (partition logs). */
struct retained_scenario {
    struct lagging_scenario lagging;
    uint64_t records_taken;
    uint64_t journal_holes; /* committed ops the caught-up lagger's journal lacks */
    bool checked;
};

static void retained_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct retained_scenario *scenario = context;
    lagging_script(cluster, tick, &scenario->lagging);
    if (scenario->lagging.phase != 2 || !scenario->lagging.caught_up || scenario->checked) {
        return;
    }
    const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, scenario->lagging.lagger);
    if (replica == NULL) {
        return;
    }
    scenario->checked = true;
    scenario->records_taken = replica->stats.records_taken;
    for (uint64_t op = 1; op <= replica->commit_min; op++) {
        u128 checksum = sim_cluster_committed_checksum(cluster, 0, op);
        if (!sim_cluster_journal_is_intact(cluster, 0, scenario->lagging.lagger, op, checksum)) {
            scenario->journal_holes++;
        }
    }
}

static void retained_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct retained_scenario scenario = {0};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, 1, 4000, retained_script, &scenario);
    options.log_retained = true;
    sim_cluster_run_options(seed, &options, verbose, result);
    const struct lagging_scenario *lagging = &scenario.lagging;
    uint64_t behind = lagging->commit_at_heal - lagging->commit_at_cut;
    if (verbose) {
        printf("lagging_partition: lagger=%u commit at cut=%llu at heal=%llu transfers=%llu "
               "records=%llu holes=%llu\n",
               lagging->lagger, (unsigned long long)lagging->commit_at_cut,
               (unsigned long long)lagging->commit_at_heal, (unsigned long long)lagging->transfers,
               (unsigned long long)scenario.records_taken,
               (unsigned long long)scenario.journal_holes);
    }
    if (result->passed &&
        (lagging->phase != 2 || !scenario.checked || behind < 2 * SCENARIO_RING_OPS ||
         lagging->transfers == 0 || scenario.records_taken == 0 || scenario.journal_holes != 0)) {
        result->passed = false;
        snprintf(result->reason, sizeof(result->reason),
                 "lagging_partition: phase %u, %llu ops behind, %llu transfers, %llu records, "
                 "caught up %d, %llu committed ops missing from its journal",
                 lagging->phase, (unsigned long long)behind, (unsigned long long)lagging->transfers,
                 (unsigned long long)scenario.records_taken, (int)scenario.checked,
                 (unsigned long long)scenario.journal_holes);
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
    if (scenario->phase == 0 && tick >= 60) { /* the clients still have requests to send */
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
enum {
    MANY_QUIET_FROM = 500, /* the groups have formed (in view 0) by then */
    MANY_CRASH_TICK = 700, /* [MANY_QUIET_FROM, MANY_CRASH_TICK): no faults, no view change */
};

struct many_scenario {
    uint32_t phase;
    uint64_t crash_tick;
    uint32_t led;          /* groups the crashed machine led */
    uint32_t leaderless;   /* of those, still without a live normal primary */
    uint64_t recover_tick; /* first tick every one of them led again */
    uint8_t *lost;         /* SIM_SCENARIO_GROUPS: the group lost its primary */
    uint32_t *views;       /* SIM_SCENARIO_GROUPS * SCENARIO_REPLICAS, at MANY_QUIET_FROM */
    uint32_t unstable;     /* replicas whose view moved while nothing failed */
    uint64_t messages[2];  /* replica-to-replica messages at MANY_QUIET_FROM, MANY_CRASH_TICK */
    uint64_t heartbeats[2];
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

/* The quiet window: views kept (counted) and the messages it took. */
static void many_quiet(struct sim_cluster *cluster, uint64_t tick, struct many_scenario *scenario)
{
    uint32_t index = tick == MANY_QUIET_FROM ? 0 : 1;
    sim_cluster_messages(cluster, &scenario->messages[index], &scenario->heartbeats[index]);
    for (uint32_t group = 0; group < SIM_SCENARIO_GROUPS; group++) {
        for (uint32_t machine = 0; machine < SCENARIO_REPLICAS; machine++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, group, machine);
            uint32_t view = replica != NULL ? replica->view : UINT32_MAX;
            uint32_t *kept = &scenario->views[group * SCENARIO_REPLICAS + machine];
            scenario->unstable += index == 1 && *kept != view;

            *kept = view;
        }
    }
}

static void many_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct many_scenario *scenario = context;
    if (tick == MANY_QUIET_FROM || tick == MANY_CRASH_TICK) {
        many_quiet(cluster, tick, scenario);
    }
    if (scenario->phase == 0 && tick >= MANY_CRASH_TICK) {
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

static void many_report(const struct many_scenario *scenario)
{
    double ticks = MANY_CRASH_TICK - MANY_QUIET_FROM;
    printf("many_groups_primary: %u groups, machine 0 led %u; all led again %llu ticks "
           "after the crash (%u still leaderless); idle ticks %d-%d: %.1f heartbeats and %.1f "
           "replica messages per tick, %u views moved\n",
           SIM_SCENARIO_GROUPS, scenario->led,
           (unsigned long long)(scenario->recover_tick - scenario->crash_tick),
           scenario->leaderless, MANY_QUIET_FROM, MANY_CRASH_TICK,
           (double)(scenario->heartbeats[1] - scenario->heartbeats[0]) / ticks,
           (double)(scenario->messages[1] - scenario->messages[0]) / ticks, scenario->unstable);
}

static void many_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    static uint8_t lost[SIM_SCENARIO_GROUPS];
    static uint32_t views[SIM_SCENARIO_GROUPS * SCENARIO_REPLICAS];
    memset(lost, 0, sizeof(lost));
    struct many_scenario scenario = {.lost = lost, .views = views};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, SIM_SCENARIO_GROUPS,
                         MANY_CRASH_TICK + SCENARIO_RECOVERY_TICKS_MAX, many_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        many_report(&scenario);
    }
    if (result->passed && (scenario.phase != 2 || scenario.led < SIM_SCENARIO_GROUPS / 4)) {
        result->passed = false;
        snprintf(result->reason, sizeof(result->reason),
                 "many_groups_primary: machine 0 led %u groups, %u without a primary %d ticks "
                 "after the crash",
                 scenario.led, scenario.leaderless, SCENARIO_RECOVERY_TICKS_MAX);
    }
    if (result->passed && scenario.unstable != 0) {
        result->passed = false;
        snprintf(result->reason, sizeof(result->reason),
                 "many_groups_primary: %u replicas changed view in ticks %d-%d (no faults)",
                 scenario.unstable, MANY_QUIET_FROM, MANY_CRASH_TICK);
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

/* Fails result (when every checker passed) with the scenario's own reason. */
static void scenario_fail(struct sim_result *result, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* wiped_replica */
enum {
    WIPED_CUT_TICK = 100,      /* the lagger is cut off (the clients' work half done) */
    WIPED_FAULT_TICKS = 300,   /* then the primary crashes and the acker is wiped */
    WIPED_STUCK_TICKS = 800,   /* the primary stays paused this long */
    WIPED_RECOVER_TICKS = 900, /* the wiped replica is done within this after it returns */
};

struct wiped_scenario {
    uint32_t phase;
    uint32_t primary;
    uint32_t lagger; /* cut off from prepares: holds none of the ops committed since */
    uint32_t wiped;  /* acked those ops with the primary, then lost everything */
    /* The primary is paused, not crashed: a crash may leave its head uncertain
     * (recovering_head), and with the wiped replica that is a view-change quorum that may
     * not vote: the operator's command, not this scenario. */
    uint64_t cut_tick;
    uint64_t wipe_tick;
    uint64_t committed_at_cut;
    uint64_t committed_at_wipe;
    bool progressed;      /* a commit or a normal primary while the primary was down */
    bool recovering_seen; /* the wiped replica restarted recovering */
    uint64_t recovered_tick;
};

static void wiped_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct wiped_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= WIPED_CUT_TICK) {
        int32_t primary = scenario_primary(cluster, SCENARIO_REPLICAS);
        if (primary < 0) {
            return;
        }
        scenario->primary = (uint32_t)primary;
        scenario->lagger = (scenario->primary + 1) % SCENARIO_REPLICAS;
        scenario->wiped = (scenario->primary + 2) % SCENARIO_REPLICAS;
        /* The lagger hears nobody: the ops committed from here on are on the primary and
         * the other backup only (its votes alone never depose the primary). */
        sim_cluster_link_block(cluster, scenario->primary, scenario->lagger, true);
        sim_cluster_link_block(cluster, scenario->wiped, scenario->lagger, true);
        scenario->committed_at_cut = sim_cluster_committed_max(cluster, 0);
        scenario->cut_tick = tick;
        scenario->phase = 1;
    } else if (scenario->phase == 1 && tick >= scenario->cut_tick + WIPED_FAULT_TICKS) {
        scenario->committed_at_wipe = sim_cluster_committed_max(cluster, 0);
        sim_cluster_pause(cluster, scenario->primary, tick + WIPED_STUCK_TICKS);
        sim_cluster_wipe(cluster, scenario->wiped, tick + 20);
        sim_cluster_link_block(cluster, scenario->primary, scenario->lagger, false);
        sim_cluster_link_block(cluster, scenario->wiped, scenario->lagger, false);
        scenario->wipe_tick = tick;
        scenario->phase = 2;
    } else if (scenario->phase == 2) {
        /* Lagger + wiped replica: a view-change quorum by count, but the wiped replica must
         * not vote, or their view would drop what the primary and it had committed. */
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, scenario->wiped);
        scenario->recovering_seen |= replica != NULL && vsr_replica_is_recovering(replica);
        for (uint32_t machine = 0; machine < SCENARIO_REPLICAS; machine++) {
            const struct vsr_replica *other = sim_cluster_replica(cluster, 0, machine);
            scenario->progressed |=
                machine != scenario->primary && other != NULL && vsr_replica_is_primary(other);
        }
        scenario->progressed |=
            sim_cluster_committed_max(cluster, 0) != scenario->committed_at_wipe;
        if (tick + 1 >= scenario->wipe_tick + WIPED_STUCK_TICKS) {
            scenario->phase = 3; /* the primary returns: the group goes on */
        }
    } else if (scenario->phase == 3 && !sim_cluster_is_recovering(cluster, 0, scenario->wiped)) {
        scenario->recovered_tick = tick;
        scenario->phase = 4;
    }
}

static void wiped_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct wiped_scenario scenario = {0};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, 1, 3000, wiped_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    uint64_t back_tick = scenario.wipe_tick + WIPED_STUCK_TICKS;
    if (verbose) {
        printf("wiped_replica: primary %u, lagger %u, wiped %u; committed %llu at the cut, %llu "
               "at the wipe; recovering %d; progress while the primary was down %d; recovered "
               "%llu ticks after the primary returned\n",
               scenario.primary, scenario.lagger, scenario.wiped,
               (unsigned long long)scenario.committed_at_cut,
               (unsigned long long)scenario.committed_at_wipe, (int)scenario.recovering_seen,
               (int)scenario.progressed,
               (unsigned long long)(scenario.recovered_tick > back_tick
                                        ? scenario.recovered_tick - back_tick
                                        : 0));
    }
    if (scenario.phase != 4 || !scenario.recovering_seen || scenario.progressed ||
        scenario.committed_at_wipe <= scenario.committed_at_cut ||
        scenario.recovered_tick > back_tick + WIPED_RECOVER_TICKS) {
        scenario_fail(result,
                      "wiped_replica: phase %u, recovering %d, progress while stuck %d, "
                      "committed %llu..%llu, recovered at %llu (primary back at %llu)",
                      scenario.phase, (int)scenario.recovering_seen, (int)scenario.progressed,
                      (unsigned long long)scenario.committed_at_cut,
                      (unsigned long long)scenario.committed_at_wipe,
                      (unsigned long long)scenario.recovered_tick, (unsigned long long)back_tick);
    }
}

/* wiped_promise */
enum {
    PROMISE_CUT_TICK = 200,    /* the primary of view v is cut off: the others move on */
    PROMISE_QUIET_TICKS = 100, /* at the earliest once its clients are done this long */
    PROMISE_HOLD_TICKS = 800,  /* the wiped replica hears only that stale primary */
    PROMISE_DONE_TICKS = 1500  /* the wiped replica is done within this after the heal */
};

struct promise_scenario {
    uint32_t phase;
    uint32_t stale;    /* the primary of view v, cut off: stays normal in v */
    uint32_t primary;  /* leads view w > v with the promised replica */
    uint32_t promised; /* sent its do_view_change for w, then lost everything */
    uint32_t view_stale;
    uint32_t view_promised;
    uint64_t committed_at_cut;
    uint64_t quiet_tick;
    uint64_t wipe_tick;
    uint64_t heal_tick;
    uint64_t done_tick;
    bool recovering_seen;
    bool left_below;    /* left recovery in a view below the one it promised */
    uint32_t left_view; /* that view */
};

static void promise_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct promise_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= PROMISE_CUT_TICK) {
        /* Once the clients are done (nothing prepared above the commit for a while): a
         * primary with ops in flight could not commit them with a recovering replica's
         * help (it acks none), so it would never catch up there. */
        int32_t primary = scenario_primary(cluster, SCENARIO_REPLICAS);
        const struct vsr_replica *replica =
            primary < 0 ? NULL : sim_cluster_replica(cluster, 0, (uint32_t)primary);
        if (replica == NULL || replica->op != replica->commit_max) {
            scenario->quiet_tick = tick;
            return;
        }
        if (tick < scenario->quiet_tick + PROMISE_QUIET_TICKS) {
            return;
        }
        scenario->stale = (uint32_t)primary;
        scenario->view_stale = sim_cluster_replica(cluster, 0, scenario->stale)->view;
        scenario->committed_at_cut = sim_cluster_committed_max(cluster, 0);
        scenario_isolate(cluster, SCENARIO_REPLICAS, scenario->stale, true, false);
        scenario->phase = 1;
    } else if (scenario->phase == 1) {
        /* The two others form a later view (a do_view_change from each: the quorum); the
         * backup of it is the promised replica. */
        for (uint32_t machine = 0; machine < SCENARIO_REPLICAS; machine++) {
            if (machine == scenario->stale) {
                continue;
            }
            const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
            uint32_t other = SCENARIO_REPLICAS - machine - scenario->stale; /* the third */
            const struct vsr_replica *backup = sim_cluster_replica(cluster, 0, other);
            if (replica == NULL || backup == NULL || !vsr_replica_is_primary(replica) ||
                replica->view <= scenario->view_stale || backup->view != replica->view ||
                backup->durable.view != replica->view) {
                continue;
            }
            scenario->primary = machine;
            scenario->promised = other;
            scenario->view_promised = replica->view;
            /* It loses its disk and comes back hearing only the stale primary. */
            sim_cluster_wipe(cluster, scenario->promised, tick + 20);
            sim_cluster_link_block(cluster, scenario->primary, scenario->promised, true);
            sim_cluster_link_block(cluster, scenario->promised, scenario->primary, true);
            sim_cluster_link_block(cluster, scenario->stale, scenario->promised, false);
            sim_cluster_link_block(cluster, scenario->promised, scenario->stale, false);
            scenario->wipe_tick = tick;
            scenario->phase = 2;
            break;
        }
    } else if (scenario->phase == 2 || scenario->phase == 3) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, scenario->promised);
        if (replica != NULL && vsr_replica_is_recovering(replica)) {
            scenario->recovering_seen = true;
        } else if (replica != NULL && scenario->recovering_seen &&
                   replica->view < scenario->view_promised && !scenario->left_below) {
            scenario->left_below = true; /* it may ack where the promised view lacks them */
            scenario->left_view = replica->view;
        }
        if (scenario->phase == 2 && tick >= scenario->wipe_tick + PROMISE_HOLD_TICKS) {
            scenario_isolate(cluster, SCENARIO_REPLICAS, scenario->stale, false, false);
            sim_cluster_link_block(cluster, scenario->primary, scenario->promised, false);
            sim_cluster_link_block(cluster, scenario->promised, scenario->primary, false);
            scenario->heal_tick = tick;
            scenario->phase = 3;
        } else if (scenario->phase == 3 && scenario->recovering_seen &&
                   !sim_cluster_is_recovering(cluster, 0, scenario->promised)) {
            scenario->done_tick = tick;
            scenario->phase = 4;
        }
    }
}

static void promise_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct promise_scenario scenario = {0};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, 1, 4000, promise_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        printf("wiped_promise: stale primary %u in view %u, primary %u and promised %u in view "
               "%u; left recovery below it %d (view %u); done %llu ticks after the heal\n",
               scenario.stale, scenario.view_stale, scenario.primary, scenario.promised,
               scenario.view_promised, (int)scenario.left_below, scenario.left_view,
               (unsigned long long)(scenario.done_tick > scenario.heal_tick
                                        ? scenario.done_tick - scenario.heal_tick
                                        : 0));
    }
    if (scenario.phase != 4 || scenario.left_below ||
        scenario.done_tick > scenario.heal_tick + PROMISE_DONE_TICKS) {
        scenario_fail(result,
                      "wiped_promise: phase %u, left recovery in view %u below the promised "
                      "view %u: %d, done at %llu (healed at %llu)",
                      scenario.phase, scenario.left_view, scenario.view_promised,
                      (int)scenario.left_below, (unsigned long long)scenario.done_tick,
                      (unsigned long long)scenario.heal_tick);
    }
}

static void scenario_fail(struct sim_result *result, const char *format, ...)
{
    if (!result->passed) {
        return;
    }
    result->passed = false;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(result->reason, sizeof(result->reason), format, arguments);
    va_end(arguments);
}

/* partition_2_1 */
enum {
    PARTITION_TICKS = 1000,
    PARTITION_CATCH_UP_TICKS = 1000,
    PARTITION_IN_FLIGHT_TICKS = 8, /* past the scenarios' largest network delay */
};

struct partition_scenario {
    uint32_t phase;
    bool primary_cut; /* the minority is the primary (even seeds) or a backup */
    uint32_t minority;
    uint64_t cut_tick;
    uint64_t heal_tick;
    uint64_t minority_commit; /* its commit once what was in flight at the cut arrived */
    uint64_t committed_at_cut;
    uint64_t committed_at_heal;
    bool minority_committed; /* it committed or executed beyond minority_commit, cut off */
    uint64_t caught_up_tick; /* it executed what the majority had at the heal */
};

static void partition_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct partition_scenario *scenario = context;
    const struct vsr_replica *minority = sim_cluster_replica(cluster, 0, scenario->minority);
    if (scenario->phase == 0 && tick >= 60) { /* the clients still have requests to send */
        int32_t primary = scenario_primary(cluster, SCENARIO_REPLICAS);
        if (primary < 0) {
            return;
        }
        scenario->minority = ((uint32_t)primary + !scenario->primary_cut) % SCENARIO_REPLICAS;
        minority = sim_cluster_replica(cluster, 0, scenario->minority);
        scenario->minority_commit = minority->commit_max;
        scenario->committed_at_cut = sim_cluster_committed_max(cluster, 0);
        scenario->cut_tick = tick;
        scenario_isolate(cluster, SCENARIO_REPLICAS, scenario->minority, true, false);
        scenario->phase = 1;
    } else if (scenario->phase == 1 && tick <= scenario->cut_tick + PARTITION_IN_FLIGHT_TICKS) {
        /* What was on the wire at the cut still arrives (acks, commits): it may commit. */
        uint64_t commit = minority->commit_max > minority->commit_min ? minority->commit_max
                                                                      : minority->commit_min;
        scenario->minority_commit = commit;
    } else if (scenario->phase == 1) {
        scenario->minority_committed |= minority->commit_max > scenario->minority_commit ||
                                        minority->commit_min > scenario->minority_commit;
        if (tick >= scenario->cut_tick + PARTITION_TICKS) {
            scenario->committed_at_heal = sim_cluster_committed_max(cluster, 0);
            scenario->heal_tick = tick;
            scenario_isolate(cluster, SCENARIO_REPLICAS, scenario->minority, false, false);
            scenario->phase = 2;
        }
    } else if (scenario->phase == 2 && scenario->caught_up_tick == 0 && minority != NULL &&
               minority->status == VSR_STATUS_NORMAL &&
               minority->commit_min >= scenario->committed_at_heal) {
        scenario->caught_up_tick = tick;
    }
}

static void partition_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct partition_scenario scenario = {.primary_cut = seed % 2 == 0};
    struct sim_options options = scenario_options(
        SCENARIO_REPLICAS, 1, 300 + PARTITION_TICKS + PARTITION_CATCH_UP_TICKS + 200,
        partition_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        printf("partition_2_1: minority %u (%s) commit %llu; history %llu at the cut, %llu at "
               "the heal; minority committed %d; caught up %lld ticks after the heal\n",
               scenario.minority, scenario.primary_cut ? "the primary" : "a backup",
               (unsigned long long)scenario.minority_commit,
               (unsigned long long)scenario.committed_at_cut,
               (unsigned long long)scenario.committed_at_heal, (int)scenario.minority_committed,
               scenario.caught_up_tick == 0
                   ? -1ll
                   : (long long)(scenario.caught_up_tick - scenario.heal_tick));
    }
    if (scenario.phase != 2 || scenario.minority_committed ||
        scenario.committed_at_heal < scenario.committed_at_cut + 5 ||
        scenario.caught_up_tick == 0 ||
        scenario.caught_up_tick > scenario.heal_tick + PARTITION_CATCH_UP_TICKS) {
        scenario_fail(result,
                      "partition_2_1: phase %u, minority committed %d, majority %llu -> %llu, "
                      "minority caught up at tick %llu (heal %llu)",
                      scenario.phase, (int)scenario.minority_committed,
                      (unsigned long long)scenario.committed_at_cut,
                      (unsigned long long)scenario.committed_at_heal,
                      (unsigned long long)scenario.caught_up_tick,
                      (unsigned long long)scenario.heal_tick);
    }
}

/* send_only_replica */
enum { SEND_ONLY_TICKS = 1200 };

struct send_only_scenario {
    uint32_t phase;
    uint32_t count;
    uint32_t sender;    /* hears nothing, reaches everyone */
    uint32_t preferred; /* leads view 0: the primary may hand the group back to it */
    uint32_t view;      /* the healthy primary's view at the cut */
    uint64_t cut_tick;
    uint64_t committed_at_cut;
    uint64_t committed_at_heal;
    uint32_t vote_view_max; /* the highest view the sender asked for */
    bool deposed;           /* a healthy replica moved to a view the primary did not choose */
    bool caught_up;
};

/* Once group 0 is normal in one view everywhere: cuts what a backup other than the
 * preferred primary receives. */
static void send_only_start(struct sim_cluster *cluster, uint64_t tick,
                            struct send_only_scenario *scenario)
{
    int32_t primary = scenario_primary(cluster, scenario->count);
    if (primary < 0) {
        return;
    }
    const struct vsr_replica *leader = sim_cluster_replica(cluster, 0, (uint32_t)primary);
    for (uint32_t machine = 0; machine < scenario->count; machine++) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
        if (replica->status != VSR_STATUS_NORMAL || replica->view != leader->view) {
            return;
        }
    }
    scenario->preferred = vsr_replica_primary_index(leader, 0);
    scenario->sender = ((uint32_t)primary + 1) % scenario->count;
    if (scenario->sender == scenario->preferred) {
        scenario->sender = (scenario->sender + 1) % scenario->count;
    }
    scenario->view = leader->view;
    scenario->cut_tick = tick;
    scenario->committed_at_cut = sim_cluster_committed_max(cluster, 0);
    scenario_isolate(cluster, scenario->count, scenario->sender, true, true);
    scenario->phase = 1;
}

static void send_only_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct send_only_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= 20) {
        send_only_start(cluster, tick, scenario);
    } else if (scenario->phase == 1) {
        for (uint32_t machine = 0; machine < scenario->count; machine++) {
            const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
            assert(replica != NULL); /* no crashes in this scenario */
            if (machine == scenario->sender) {
                uint32_t asked = replica->vote_view > replica->view ? replica->vote_view : 0;
                scenario->vote_view_max =
                    asked > scenario->vote_view_max ? asked : scenario->vote_view_max;
            } else {
                /* Only the primary's hand-back to the preferred replica moves the view. */
                scenario->deposed |=
                    replica->view != scenario->view &&
                    vsr_replica_primary_index(replica, replica->view) != scenario->preferred;
            }
        }
        if (tick >= scenario->cut_tick + SEND_ONLY_TICKS) {
            scenario->committed_at_heal = sim_cluster_committed_max(cluster, 0);
            scenario_isolate(cluster, scenario->count, scenario->sender, false, true);
            scenario->phase = 2;
        }
    } else if (scenario->phase == 2) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, scenario->sender);
        assert(replica != NULL);
        scenario->caught_up |= replica->status == VSR_STATUS_NORMAL &&
                               replica->commit_min >= scenario->committed_at_heal;
    }
}

static void send_only_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct send_only_scenario scenario = {.count = SCENARIO_REPLICAS + 2 * (uint32_t)(seed % 2)};
    struct sim_options options = scenario_options(scenario.count, 1, 100 + SEND_ONLY_TICKS + 1000,
                                                  send_only_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        printf("send_only_replica: %u replicas, replica %u send-only in view %u; it asked for "
               "view %u; deposed %d; history %llu -> %llu; caught up %d\n",
               scenario.count, scenario.sender, scenario.view, scenario.vote_view_max,
               (int)scenario.deposed, (unsigned long long)scenario.committed_at_cut,
               (unsigned long long)scenario.committed_at_heal, (int)scenario.caught_up);
    }
    if (scenario.phase != 2 || scenario.deposed || scenario.vote_view_max <= scenario.view ||
        scenario.committed_at_heal <= scenario.committed_at_cut || !scenario.caught_up) {
        scenario_fail(result,
                      "send_only_replica: phase %u, deposed %d, sender asked for view %u (view "
                      "%u), history %llu -> %llu, caught up %d",
                      scenario.phase, (int)scenario.deposed, scenario.vote_view_max, scenario.view,
                      (unsigned long long)scenario.committed_at_cut,
                      (unsigned long long)scenario.committed_at_heal, (int)scenario.caught_up);
    }
}

/* corrupt_prepare_minority */
struct corrupt_scenario {
    uint32_t phase;
    uint32_t count;
    uint32_t victims; /* replication quorum - 1 replicas from the primary or the one after */
    uint32_t primary;
    bool primary_damaged;         /* a victim: its restart starts a view change over the damage */
    uint64_t op;                  /* the damaged op */
    bool found[VSR_REPLICAS_MAX]; /* the victim marked op faulty */
    bool repaired[VSR_REPLICAS_MAX]; /* the victim holds op intact again, or a checkpoint
                                      * above it from a peer */
};

static uint32_t corrupt_victim(const struct corrupt_scenario *scenario, uint32_t index)
{
    assert(index < scenario->victims);
    return (scenario->primary + !scenario->primary_damaged + index) % scenario->count;
}

/* Damages one op every victim holds durably above any checkpoint it may restart from (and
 * one durable op above it), then restarts the victims: recovery reads the damage, and
 * executing the op again needs it repaired. */
static void corrupt_start(struct sim_cluster *cluster, uint64_t tick,
                          struct corrupt_scenario *scenario)
{
    int32_t primary = scenario_primary(cluster, scenario->count);
    if (primary < 0) {
        return;
    }
    scenario->primary = (uint32_t)primary;
    uint64_t op = 0;
    uint64_t prefix = UINT64_MAX;
    for (uint32_t index = 0; index < scenario->victims; index++) {
        const struct vsr_replica *victim =
            sim_cluster_replica(cluster, 0, corrupt_victim(scenario, index));
        if (victim == NULL) {
            return;
        }
        uint64_t floor = scenario_restart_floor(victim);
        op = floor + 1 > op ? floor + 1 : op;
        prefix = victim->op_prefix < prefix ? victim->op_prefix : prefix;
    }
    if (op >= prefix) {
        return;
    }
    for (uint32_t index = 0; index < scenario->victims; index++) {
        bool damaged = sim_cluster_corrupt(cluster, 0, corrupt_victim(scenario, index), op);
        assert(damaged);
    }
    for (uint32_t index = 0; index < scenario->victims; index++) {
        sim_cluster_crash(cluster, corrupt_victim(scenario, index), tick + 5);
    }
    scenario->op = op;
    scenario->phase = 1;
}

static void corrupt_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct corrupt_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= 60) { /* the clients still have requests to send */
        corrupt_start(cluster, tick, scenario);
        return;
    }
    if (scenario->phase != 1) {
        return;
    }
    bool committed = sim_cluster_committed_max(cluster, 0) >= scenario->op;
    u128 checksum = committed ? sim_cluster_committed_checksum(cluster, 0, scenario->op) : 0;
    for (uint32_t index = 0; index < scenario->victims; index++) {
        uint32_t machine = corrupt_victim(scenario, index);
        const struct vsr_replica *victim = sim_cluster_replica(cluster, 0, machine);
        if (victim != NULL && vsr_replica_in_window(victim, scenario->op)) {
            const struct vsr_entry *entry =
                &victim->entries[scenario->op % (victim->config.ops_max + 1)];
            scenario->found[index] |= (entry->flags & VSR_ENTRY_FAULTY) != 0;
        }
        /* Repaired from a peer's prepare, or (its peers' rings moved past the op meanwhile)
         * replaced by a peer's checkpoint above it. */
        scenario->repaired[index] |=
            victim != NULL &&
            ((committed &&
              sim_cluster_journal_is_intact(cluster, 0, machine, scenario->op, checksum)) ||
             (victim->stats.state_transfers > 0 && victim->checkpoint_op >= scenario->op));
    }
}

static void corrupt_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct corrupt_scenario scenario = {
        .count = SCENARIO_REPLICAS + 2 * (uint32_t)(seed % 2),
        .primary_damaged = (seed / 2) % 2 == 1,
    };
    scenario.victims = vsr_quorum_replication(scenario.count) - 1;
    struct sim_options options =
        scenario_options(scenario.count, 1, 2500, corrupt_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    bool found = true;
    bool repaired = true;
    for (uint32_t index = 0; index < scenario.victims; index++) {
        found &= scenario.found[index];
        repaired &= scenario.repaired[index];
    }
    if (verbose) {
        printf("corrupt_prepare_minority: %u replicas, op %llu damaged on %u replicas from %s "
               "%u; found %d; repaired %d\n",
               scenario.count, (unsigned long long)scenario.op, scenario.victims,
               scenario.primary_damaged ? "primary" : "after primary", scenario.primary, (int)found,
               (int)repaired);
    }
    if (scenario.phase != 1 || !found || !repaired) {
        scenario_fail(result,
                      "corrupt_prepare_minority: phase %u, op %llu, damage found %d, repaired %d",
                      scenario.phase, (unsigned long long)scenario.op, (int)found, (int)repaired);
    }
}

/* damaged_acked_record */
enum {
    DAMAGED_START_TICK = 60, /* the clients still have requests to send */
};

struct damaged_scenario {
    uint32_t phase;
    uint32_t primary;
    uint32_t acker;  /* acked the ops, then loses one to damage */
    uint32_t missed; /* never receives them */
    uint64_t damaged_op;
    uint64_t committed_op; /* the primary's commit when it was cut off */
    uint64_t rejoin_tick;
};

/*
 * Once the primary has committed an op the acking backup holds (with one above it) but
 * does not yet know committed: the primary is cut off (600 ticks), that op is damaged in
 * the backup's journal and the backup restarts (its recovery reads the damage). The other
 * backup never received it (its link from the primary is cut from the start).
 */
static void damaged_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct damaged_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= DAMAGED_START_TICK) {
        int32_t primary = scenario_primary(cluster, SCENARIO_REPLICAS);
        if (primary >= 0) {
            scenario->primary = (uint32_t)primary;
            scenario->acker = (scenario->primary + 1) % SCENARIO_REPLICAS;
            scenario->missed = (scenario->primary + 2) % SCENARIO_REPLICAS;
            sim_cluster_link_block(cluster, scenario->primary, scenario->missed, true);
            scenario->phase = 1;
        }
        return;
    }
    if (scenario->phase == 2 && tick == scenario->rejoin_tick) {
        scenario_isolate(cluster, SCENARIO_REPLICAS, scenario->primary, false, false);
    }
    if (scenario->phase != 1) {
        return;
    }
    const struct vsr_replica *primary = sim_cluster_replica(cluster, 0, scenario->primary);
    const struct vsr_replica *acker = sim_cluster_replica(cluster, 0, scenario->acker);
    const struct vsr_replica *missed = sim_cluster_replica(cluster, 0, scenario->missed);
    /* Damage below the acker's durable head (damage at its head is recovering_head), on an
     * op the other backup never received. */
    if (primary == NULL || acker == NULL || missed == NULL || !vsr_replica_is_primary(primary) ||
        primary->commit_max <= acker->commit_max || acker->op_prefix < primary->commit_max ||
        acker->op_prefix < acker->commit_max + 2 || missed->op > acker->commit_max ||
        scenario_restart_floor(acker) > acker->commit_max) {
        return;
    }
    scenario->damaged_op = acker->commit_max + 1;
    scenario->committed_op = primary->commit_max;
    scenario->rejoin_tick = tick + 600;
    scenario_isolate(cluster, SCENARIO_REPLICAS, scenario->primary, true, false);
    bool damaged = sim_cluster_corrupt(cluster, 0, scenario->acker, scenario->damaged_op);
    assert(damaged);
    sim_cluster_crash(cluster, scenario->acker, tick + 1);
    scenario->phase = 2;
}

static void damaged_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct damaged_scenario scenario = {0};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, 1, 2500, damaged_script, &scenario);
    sim_cluster_run_options(seed, &options, verbose, result);
    uint64_t committed = result->commits; /* one group: its history's length */
    if (verbose) {
        printf("damaged_acked_record: op %llu damaged on %u, missed by %u, committed up to %llu "
               "by primary %u; history %llu\n",
               (unsigned long long)scenario.damaged_op, scenario.acker, scenario.missed,
               (unsigned long long)scenario.committed_op, scenario.primary,
               (unsigned long long)committed);
    }
    if (scenario.phase != 2 || scenario.damaged_op > scenario.committed_op ||
        committed <= scenario.committed_op) {
        scenario_fail(result,
                      "damaged_acked_record: phase %u, op %llu damaged, %llu committed, "
                      "history %llu",
                      scenario.phase, (unsigned long long)scenario.damaged_op,
                      (unsigned long long)scenario.committed_op, (unsigned long long)committed);
    }
}

/* duplicate_after_view_change */
enum {
    DUPLICATE_START_TICK = 60, /* the clients still have requests to send */
};

struct duplicate_scenario {
    uint32_t phase;
    uint64_t start_tick; /* phase 1 begins at or after it */
    uint32_t primary;
    uint64_t commit_start;
    uint64_t committed_at_crash;
    uint64_t cached_at_crash;    /* kept replies the survivors had served before */
    uint64_t cached_after_crash; /* ... and after: the new primary's */
};

static uint64_t duplicate_cached(const struct sim_cluster *cluster)
{
    uint64_t cached = 0;
    for (uint32_t machine = 0; machine < SCENARIO_REPLICAS; machine++) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
        cached += replica != NULL ? replica->stats.cached_replies : 0;
    }
    return cached;
}

/* True when every live backup of group 0 executed op (its reply is in its client table). */
static bool duplicate_backups_executed(const struct sim_cluster *cluster, uint32_t primary,
                                       uint64_t op)
{
    for (uint32_t machine = 0; machine < SCENARIO_REPLICAS; machine++) {
        const struct vsr_replica *replica = sim_cluster_replica(cluster, 0, machine);
        if (machine != primary && replica != NULL && replica->commit_min < op) {
            return false;
        }
    }
    return true;
}

/*
 * From tick DUPLICATE_START_TICK every reply of group 0's primary is lost (if another
 * primary takes over before the crash, the drop starts over on it 100 ticks later). Once
 * it has committed two more ops and every backup has executed them (a new primary that
 * executes them itself would answer from the execution), it crashes (two, not more: after
 * a start-over fewer clients may still be sending, and each waits for its lost reply).
 * The clients, still waiting, resend to every replica; the new primary must answer from
 * the replies kept in the group's state.
 */
static void duplicate_script(struct sim_cluster *cluster, uint64_t tick, void *context)
{
    struct duplicate_scenario *scenario = context;
    if (scenario->phase == 0 && tick >= scenario->start_tick) {
        int32_t primary = scenario_primary(cluster, SCENARIO_REPLICAS);
        if (primary >= 0) {
            scenario->primary = (uint32_t)primary;
            scenario->commit_start = sim_cluster_committed_max(cluster, 0);
            sim_cluster_replies_drop(cluster, scenario->primary, true);
            scenario->phase = 1;
        }
    } else if (scenario->phase == 1 && scenario_primary(cluster, SCENARIO_REPLICAS) >= 0 &&
               (uint32_t)scenario_primary(cluster, SCENARIO_REPLICAS) != scenario->primary) {
        /* Another primary leads before the crash (the preferred one took the group back)
         * and sends its replies: start over once the clients have had them. */
        sim_cluster_replies_drop(cluster, scenario->primary, false);
        scenario->start_tick = tick + 100;
        scenario->phase = 0;
    } else if (scenario->phase == 1 &&
               sim_cluster_committed_max(cluster, 0) >= scenario->commit_start + 2 &&
               duplicate_backups_executed(cluster, scenario->primary, scenario->commit_start + 2)) {
        sim_cluster_crash(cluster, scenario->primary, tick + 1000000);
        scenario->committed_at_crash = sim_cluster_committed_max(cluster, 0);
        scenario->cached_at_crash = duplicate_cached(cluster);
        scenario->phase = 2;
    } else if (scenario->phase == 2) {
        scenario->cached_after_crash = duplicate_cached(cluster) - scenario->cached_at_crash;
    }
}

static void duplicate_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct duplicate_scenario scenario = {.start_tick = DUPLICATE_START_TICK};
    struct sim_options options =
        scenario_options(SCENARIO_REPLICAS, 1, 2000, duplicate_script, &scenario);
    options.exactly_once_all = seed % 2 == 0; /* else each client's own choice */
    sim_cluster_run_options(seed, &options, verbose, result);
    if (verbose) {
        printf("duplicate_after_view_change: primary %u lost its replies from history %llu, "
               "crashed at %llu; the new primary answered %llu from kept replies\n",
               scenario.primary, (unsigned long long)scenario.commit_start,
               (unsigned long long)scenario.committed_at_crash,
               (unsigned long long)scenario.cached_after_crash);
    }
    /* A duplicate is answered from a kept reply, or (an exactly-once number the window no
     * longer keeps) "too old"; the checkers fail a second execution or a wrong reply. */
    if (scenario.phase != 2 || scenario.cached_after_crash + result->too_old == 0) {
        scenario_fail(result,
                      "duplicate_after_view_change: phase %u, %llu kept replies served, %llu "
                      "too old",
                      scenario.phase, (unsigned long long)scenario.cached_after_crash,
                      (unsigned long long)result->too_old);
    }
}

struct scenario {
    const char *name;
    void (*run)(uint64_t seed, bool verbose, struct sim_result *result);
};

static const struct scenario scenarios[] = {
    {"lagging_replica", lagging_run},      {"lagging_partition", retained_run},
    {"primary_crash_commit", crash_run},   {"recovering_quorum", recovering_run},
    {"many_groups_primary", many_run},     {"partition_2_1", partition_run},
    {"send_only_replica", send_only_run},  {"corrupt_prepare_minority", corrupt_run},
    {"damaged_acked_record", damaged_run}, {"duplicate_after_view_change", duplicate_run},
    {"wiped_replica", wiped_run},          {"wiped_promise", promise_run},
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
