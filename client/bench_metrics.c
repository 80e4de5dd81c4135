/*
 * runnel-bench metrics (see bench_metrics.h). Pure functions, the bench's main thread.
 */
#include "client/bench_metrics.h"

#include "lib/assert.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const double bench_percentiles[BENCH_PERCENTILE_COUNT] = {50, 90, 95, 99, 99.9, 99.99};
const char *const bench_percentile_names[BENCH_PERCENTILE_COUNT] = {"p50", "p90",  "p95",
                                                                    "p99", "p999", "p9999"};

double bench_percentile(const double *sorted, uint32_t count, double p)
{
    assert(sorted != NULL || count == 0);
    assert(p >= 0 && p <= 100);
    if (count == 0) {
        return 0;
    }
    double rank = p / 100.0 * (double)(count - 1);
    uint32_t lower = (uint32_t)rank;
    uint32_t upper = lower + 1 < count ? lower + 1 : lower;
    double fraction = rank - (double)lower;
    return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
}

static int bench_compare(const void *left, const void *right)
{
    double a = *(const double *)left;
    double b = *(const double *)right;
    return (a > b) - (a < b);
}

/* Mean of the SMA-smoothed per-bucket series of value per second. */
static double bench_smoothed_rate(const struct bench_sample *samples, uint32_t count, bool is_bytes)
{
    uint64_t end_ns = samples[count - 1].end_ns;
    uint64_t first_ns = samples[0].end_ns - samples[0].latency_ns;
    uint32_t bucket_first = (uint32_t)(first_ns / BENCH_BUCKET_NS);
    uint32_t bucket_count = (uint32_t)(end_ns / BENCH_BUCKET_NS) - bucket_first + 1;
    double *series = calloc(bucket_count, sizeof(double));
    if (series == NULL) {
        return 0;
    }
    for (uint32_t index = 0; index < count; index++) {
        uint32_t bucket = (uint32_t)(samples[index].end_ns / BENCH_BUCKET_NS) - bucket_first;
        double amount = is_bytes ? samples[index].bytes / 1e6 : samples[index].messages;
        series[bucket] += amount / (BENCH_BUCKET_NS / 1e9);
    }
    double total = 0;
    double window_sum = 0;
    for (uint32_t index = 0; index < bucket_count; index++) {
        window_sum += series[index];
        if (index >= BENCH_SMA_WINDOW) {
            window_sum -= series[index - BENCH_SMA_WINDOW];
        }
        uint32_t window = index + 1 < BENCH_SMA_WINDOW ? index + 1 : BENCH_SMA_WINDOW;
        total += window_sum / window;
    }
    free(series);
    return total / bucket_count;
}

void bench_summarise(const struct bench_sample *samples, uint32_t count, double *scratch,
                     struct bench_summary *summary_out)
{
    assert(summary_out != NULL);
    memset(summary_out, 0, sizeof(*summary_out));
    if (count == 0) {
        return;
    }
    assert(samples != NULL && scratch != NULL);
    double latency_sum = 0;
    for (uint32_t index = 0; index < count; index++) {
        scratch[index] = (double)samples[index].latency_ns / 1e6;
        latency_sum += scratch[index];
        summary_out->messages += samples[index].messages;
        summary_out->bytes += samples[index].bytes;
    }
    qsort(scratch, count, sizeof(double), bench_compare);
    for (int index = 0; index < BENCH_PERCENTILE_COUNT; index++) {
        summary_out->latency_percentiles_ms[index] =
            bench_percentile(scratch, count, bench_percentiles[index]);
    }
    summary_out->latency_avg_ms = latency_sum / count;
    summary_out->batches = count;
    summary_out->duration_s =
        (double)(samples[count - 1].end_ns - (samples[0].end_ns - samples[0].latency_ns)) / 1e9;
    summary_out->throughput_mb_s = bench_smoothed_rate(samples, count, true);
    summary_out->messages_per_s = bench_smoothed_rate(samples, count, false);
}

void bench_group_add(struct bench_summary *group, const struct bench_summary *actor)
{
    assert(group != NULL && actor != NULL);
    group->throughput_mb_s += actor->throughput_mb_s;
    group->messages_per_s += actor->messages_per_s;
    group->latency_avg_ms += actor->latency_avg_ms;
    for (int index = 0; index < BENCH_PERCENTILE_COUNT; index++) {
        group->latency_percentiles_ms[index] += actor->latency_percentiles_ms[index];
    }
    group->messages += actor->messages;
    group->bytes += actor->bytes;
    group->batches += actor->batches;
    group->duration_s =
        actor->duration_s > group->duration_s ? actor->duration_s : group->duration_s;
}

void bench_group_finish(struct bench_summary *group, uint32_t actor_count)
{
    assert(group != NULL);
    if (actor_count == 0) {
        return;
    }
    group->latency_avg_ms /= actor_count;
    for (int index = 0; index < BENCH_PERCENTILE_COUNT; index++) {
        group->latency_percentiles_ms[index] /= actor_count;
    }
}
