/*
 * runnel-sim: runs the deterministic cluster simulator over one seed (--seed S) or a range
 * (--seeds N [--seed-base B]). Prints each failing seed with its reason, then a last line
 * "seeds_passed=N seeds_failed=M"; exits 1 when any seed failed. --verbose describes each
 * seed's cluster and faults; --storage runs groups (any size) whose journal is the real
 * partition log (storage/) over the simulated disk. `runnel-sim --seed S` replays a failure
 * exactly.
 */
#include "tests/sim/sim_cluster.h"

#include "lib/assert.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sim_main_usage(void)
{
    fprintf(stderr, "usage: runnel-sim [--seed S | --seeds N [--seed-base B]] [--storage] "
                    "[--verbose]\n");
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

int main(int argc, char **argv)
{
    uint64_t seed_base = 0;
    uint64_t seed_count = 1;
    bool verbose = false;
    bool storage = false;
    for (int index = 1; index < argc; index++) {
        const char *argument = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(argument, "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argument, "--storage") == 0) {
            storage = true;
        } else if (strcmp(argument, "--seed") == 0 && sim_main_parse_u64(value, &seed_base)) {
            seed_count = 1;
            index++;
        } else if (strcmp(argument, "--seeds") == 0 && sim_main_parse_u64(value, &seed_count)) {
            index++;
        } else if (strcmp(argument, "--seed-base") == 0 && sim_main_parse_u64(value, &seed_base)) {
            index++;
        } else {
            return sim_main_usage();
        }
    }
    log_level_set(LOG_LEVEL_WARN);
    uint64_t passed = 0;
    uint64_t failed = 0;
    for (uint64_t offset = 0; offset < seed_count; offset++) {
        struct sim_result result;
        uint64_t seed = seed_base + offset;
        struct sim_options options = {
            .faults_random = true, .send_only_machine = -1, .storage = storage};
        sim_cluster_run_options(seed, &options, verbose, &result);
        if (result.passed) {
            passed++;
        } else {
            failed++;
            printf("seed=%llu failed: %s (replay: runnel-sim --seed %llu)\n",
                   (unsigned long long)seed, result.reason, (unsigned long long)seed);
        }
        if (verbose) {
            printf("seed=%llu %s ticks=%llu commits=%llu view_changes=%llu crashes=%llu "
                   "misdirected_writes=%llu clogs=%llu dropped_full=%llu too_old=%llu\n",
                   (unsigned long long)seed, result.passed ? "passed" : "FAILED",
                   (unsigned long long)result.ticks, (unsigned long long)result.commits,
                   (unsigned long long)result.view_changes, (unsigned long long)result.crashes,
                   (unsigned long long)result.misdirected_writes, (unsigned long long)result.clogs,
                   (unsigned long long)result.dropped_full, (unsigned long long)result.too_old);
        }
        fflush(stdout);
    }
    printf("seeds_passed=%llu seeds_failed=%llu\n", (unsigned long long)passed,
           (unsigned long long)failed);
    return failed == 0 ? 0 : 1;
}
