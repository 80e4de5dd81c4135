/*
 * runnel-sim: runs the deterministic cluster simulator over one seed (--seed S) or a range
 * (--seeds N [--seed-base B]). Prints each failing seed with its reason, then a last line
 * "seeds_passed=N seeds_failed=M"; exits 1 when any seed failed. --verbose describes each
 * seed's cluster and faults; --storage runs groups (any size) whose journal is the real
 * partition log (storage/) over the simulated disk, with the same checkers (the journal's
 * durable contents from sim_storage_holds); --scenario NAME runs a named scenario
 * (tests/sim/sim_scenarios.h; --scenario list names them) with each seed;
 * --heartbeats-per-group makes every group send its own commit heartbeats (the way before
 * shared heartbeats, vsr/heartbeat.h), for comparison; --wipes lets a random crash wipe its
 * machine (a recovering restart; not in CI: it still finds the open view problem of
 * docs/OPERATIONS.md "Replacing a node's disk"); --storage-flips gives --storage runs bit
 * flips in the segment logs of faulty machines (not in CI: it finds an open stall);
 * --storage-misdirect makes faulty machines' disks misdirect writes to segment logs and
 * indexes (to another offset of the same file or to another one).
 * `runnel-sim [--scenario NAME] --seed S` replays a failure exactly.
 */
#include "tests/sim/sim_cluster.h"
#include "tests/sim/sim_scenarios.h"

#include "lib/assert.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sim_main_usage(void)
{
    fprintf(stderr, "usage: runnel-sim [--seed S | --seeds N [--seed-base B]] [--storage] "
                    "[--scenario NAME|list] [--heartbeats-per-group] [--wipes] [--storage-flips] "
                    "[--storage-misdirect] [--verbose]\n");
    return 2;
}

static bool sim_main_parse_u64(const char *text, uint64_t *value_out)
{
    assert(value_out != NULL);
    if (text == NULL || text[0] == 0) {
        return false;
    }
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 0);
    if (end == NULL || *end != 0) {
        return false;
    }
    *value_out = value;
    return true;
}

struct sim_main_arguments {
    uint64_t seed_base;
    uint64_t seed_count;
    bool verbose;
    bool storage;
    bool storage_flips;
    bool storage_misdirect;
    const char *scenario; /* NULL: seeded random runs */
};

/* Parses argv; false on a malformed command line. */
static bool sim_main_parse(int argc, char **argv, struct sim_main_arguments *arguments)
{
    memset(arguments, 0, sizeof(*arguments));
    arguments->seed_count = 1;
    for (int index = 1; index < argc; index++) {
        const char *argument = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(argument, "--verbose") == 0) {
            arguments->verbose = true;
        } else if (strcmp(argument, "--storage") == 0) {
            arguments->storage = true;
        } else if (strcmp(argument, "--heartbeats-per-group") == 0) {
            sim_cluster_heartbeats_per_group(true);
        } else if (strcmp(argument, "--wipes") == 0) {
            sim_cluster_wipes(true);
        } else if (strcmp(argument, "--storage-flips") == 0) {
            sim_cluster_storage_flips(true);
            arguments->storage_flips = true;
        } else if (strcmp(argument, "--storage-misdirect") == 0) {
            sim_cluster_storage_misdirects(true);
            arguments->storage_misdirect = true;
        } else if (strcmp(argument, "--scenario") == 0 && value != NULL) {
            arguments->scenario = value;
            index++;
        } else if (strcmp(argument, "--seed") == 0 &&
                   sim_main_parse_u64(value, &arguments->seed_base)) {
            arguments->seed_count = 1;
            index++;
        } else if (strcmp(argument, "--seeds") == 0 &&
                   sim_main_parse_u64(value, &arguments->seed_count)) {
            index++;
        } else if (strcmp(argument, "--seed-base") == 0 &&
                   sim_main_parse_u64(value, &arguments->seed_base)) {
            index++;
        } else {
            return false;
        }
    }
    return true;
}

/* Prints one seed's outcome: a failure always, its figures when verbose. */
static void sim_main_report(const struct sim_main_arguments *arguments, uint64_t seed,
                            const struct sim_result *result)
{
    const char *scenario = arguments->scenario;
    if (!result->passed) {
        printf("seed=%llu failed: %s (replay: runnel-sim%s%s%s%s%s --seed %llu)\n",
               (unsigned long long)seed, result->reason, scenario != NULL ? " --scenario " : "",
               scenario != NULL ? scenario : "", arguments->storage ? " --storage" : "",
               arguments->storage_flips ? " --storage-flips" : "",
               arguments->storage_misdirect ? " --storage-misdirect" : "",
               (unsigned long long)seed);
    }
    if (arguments->verbose) {
        printf("seed=%llu %s ticks=%llu commits=%llu view_changes=%llu crashes=%llu "
               "misdirected_writes=%llu clogs=%llu dropped_full=%llu too_old=%llu "
               "checkpoints=%llu state_transfers=%llu wrapped=%d machine_crashes=%llu wipes=%llu "
               "journal_restarts=%llu marked_restarts=%llu dvc_partial_marked=%llu\n",
               (unsigned long long)seed, result->passed ? "passed" : "FAILED",
               (unsigned long long)result->ticks, (unsigned long long)result->commits,
               (unsigned long long)result->view_changes, (unsigned long long)result->crashes,
               (unsigned long long)result->misdirected_writes, (unsigned long long)result->clogs,
               (unsigned long long)result->dropped_full, (unsigned long long)result->too_old,
               (unsigned long long)result->checkpoints, (unsigned long long)result->state_transfers,
               (int)result->wrapped, (unsigned long long)result->machine_crashes,
               (unsigned long long)result->wipes, (unsigned long long)result->journal_restarts,
               (unsigned long long)result->marked_restarts,
               (unsigned long long)result->dvc_partial_marked);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct sim_main_arguments arguments;
    if (!sim_main_parse(argc, argv, &arguments)) {
        return sim_main_usage();
    }
    const char *scenario = arguments.scenario;
    if (scenario != NULL && strcmp(scenario, "list") == 0) {
        sim_scenario_list();
        return 0;
    }
    if (scenario != NULL && (!sim_scenario_exists(scenario) || arguments.storage)) {
        return sim_main_usage();
    }
    log_level_set(LOG_LEVEL_WARN);
    uint64_t passed = 0;
    uint64_t checkpoints = 0;
    uint64_t transfers = 0;
    uint64_t headers_learned = 0;
    uint64_t wrapped = 0;
    uint64_t retained_wrapped = 0;
    uint64_t wiped = 0;
    uint64_t truncated = 0;
    uint64_t journal_restarts = 0;
    uint64_t marked_restarts = 0;
    uint64_t dvc_partial_marked = 0;
    for (uint64_t offset = 0; offset < arguments.seed_count; offset++) {
        struct sim_result result;
        uint64_t seed = arguments.seed_base + offset;
        struct sim_options options = {
            .faults_random = true, .send_only_machine = -1, .storage = arguments.storage};
        if (scenario != NULL) {
            sim_scenario_run(scenario, seed, arguments.verbose, &result);
        } else {
            sim_cluster_run_options(seed, &options, arguments.verbose, &result);
        }
        checkpoints += result.checkpoints;
        transfers += result.state_transfers;
        headers_learned += result.headers_learned;
        wrapped += result.wrapped;
        retained_wrapped += result.wrapped && result.log_retained;
        wiped += result.wipes > 0;
        truncated += result.prefix_ops_dropped > 0;
        journal_restarts += result.journal_restarts;
        marked_restarts += result.marked_restarts;
        dvc_partial_marked += result.dvc_partial_marked;
        passed += result.passed;
        sim_main_report(&arguments, seed, &result);
    }
    uint64_t failed = arguments.seed_count - passed;
    printf("checkpoints=%llu state_transfers=%llu seeds_wrapped=%llu headers_learned=%llu "
           "seeds_wrapped_log_retained=%llu seeds_wiped=%llu seeds_prefix_truncated=%llu\n",
           (unsigned long long)checkpoints, (unsigned long long)transfers,
           (unsigned long long)wrapped, (unsigned long long)headers_learned,
           (unsigned long long)retained_wrapped, (unsigned long long)wiped,
           (unsigned long long)truncated);
    printf("journal_restarts=%llu marked_restarts=%llu dvc_partial_marked=%llu\n",
           (unsigned long long)journal_restarts, (unsigned long long)marked_restarts,
           (unsigned long long)dvc_partial_marked);
    printf("seeds_passed=%llu seeds_failed=%llu\n", (unsigned long long)passed,
           (unsigned long long)failed);
    return failed == 0 ? 0 : 1;
}
