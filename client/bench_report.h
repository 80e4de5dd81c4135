/*
 * runnel-bench output: DIR/result.json (summaries per actor and in total),
 * DIR/report.html (self-contained, SVG charts of throughput and latency over time) and
 * --compare of two result files side by side with ratios.
 */
#ifndef RUNNEL_CLIENT_BENCH_REPORT_H
#define RUNNEL_CLIENT_BENCH_REPORT_H

#include "client/bench_workload.h"

#include <stdint.h>

/* Writes result.json and report.html into directory (created if missing). */
int bench_report_write(const char *directory, const struct bench_config *config,
                       const struct bench_actor *actors, uint32_t actor_count,
                       const struct bench_summary *total);

/* Prints the total summaries of two result.json files side by side. */
int bench_report_compare(const char *path_a, const char *path_b);

#endif
