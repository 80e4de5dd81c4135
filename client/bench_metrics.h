/*
 * runnel-bench metrics, with iggy-bench's definitions: latency per batch (one send or
 * poll round trip; for consumers of produced-while-consumed data, now minus the first
 * message's origin timestamp), percentiles by linear interpolation over the sorted raw
 * latencies, throughput as the mean of the 10 ms bucket MB/s series (each interval
 * between two batches spread over the buckets it overlaps, empty buckets dropped) after
 * a 20-point moving average, MB = 10^6 bytes. Group figures: throughput summed,
 * percentiles averaged.
 */
#ifndef RUNNEL_CLIENT_BENCH_METRICS_H
#define RUNNEL_CLIENT_BENCH_METRICS_H

#include <stdint.h>

enum {
    BENCH_BUCKET_NS = 10 * 1000 * 1000,
    BENCH_SMA_WINDOW = 20,
    BENCH_PERCENTILE_COUNT = 6, /* p50 p90 p95 p99 p999 p9999 */
};

/* One batch as an actor saw it. */
struct bench_sample {
    uint64_t end_ns;     /* since the actor started (after its login, as Iggy) */
    uint64_t latency_ns; /* round trip */
    uint32_t bytes;      /* payload bytes moved */
    uint32_t messages;
};

struct bench_summary {
    double throughput_mb_s;
    double messages_per_s;
    double latency_avg_ms;
    double latency_percentiles_ms[BENCH_PERCENTILE_COUNT];
    uint64_t messages;
    uint64_t bytes;
    uint64_t batches;
    double duration_s;
};

extern const double bench_percentiles[BENCH_PERCENTILE_COUNT];
extern const char *const bench_percentile_names[BENCH_PERCENTILE_COUNT];

/* Percentile p (0..100) of sorted values by linear interpolation. */
double bench_percentile(const double *sorted, uint32_t count, double p);

/* Summarises one actor's samples; scratch holds count doubles (sorted in place). */
void bench_summarise(const struct bench_sample *samples, uint32_t count, double *scratch,
                     struct bench_summary *summary_out);

/* Adds an actor's summary into a group total (call bench_group_finish at the end). */
void bench_group_add(struct bench_summary *group, const struct bench_summary *actor);
void bench_group_finish(struct bench_summary *group, uint32_t actor_count);

#endif
