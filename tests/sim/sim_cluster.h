/*
 * The deterministic cluster simulator: several VSR groups of 1..5 replicas on as many
 * machines, clients, the simulated network and journals, process crashes and restarts,
 * all decided by one seed. Checkers: one hash-chained committed history per group on every
 * replica, replies equal a model's, acknowledged requests are in the history exactly once,
 * timestamps and views never go back, and once faults heal the cluster converges.
 * Single thread; the run owns every buffer it allocates at init.
 */
#ifndef RUNNEL_TESTS_SIM_SIM_CLUSTER_H
#define RUNNEL_TESTS_SIM_SIM_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

struct sim_result {
    bool passed;
    char reason[256];
    uint64_t ticks;
    uint64_t commits;
    uint64_t view_changes;
    uint64_t crashes;
};

/* Runs one seed to completion; result says whether every checker held. */
void sim_cluster_run(uint64_t seed, bool verbose, struct sim_result *result);

#endif
