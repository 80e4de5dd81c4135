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

/* value rounded half away from zero to 3 decimals, as Iggy rounds its points (a
 * negative value, only ever float drift around 0, counts as 0). */
static double bench_round_milli(double value)
{
    double positive = value > 0 ? value : 0;
    double rounded = (double)(uint64_t)(positive * 1000.0 + 0.5) / 1000.0;
    assert(rounded >= 0);
    assert(rounded <= positive + 0.001);
    return rounded;
}

/*
 * Iggy's throughput series (time_series/calculators/throughput.rs): the records are
 * cumulative at elapsed µs since the actor started; the amount between two consecutive
 * records is spread evenly over the interval between them, rounded per 10 ms bucket
 * overlapped (the first record's own amount therefore counts only as a starting point).
 * Fills values (bucket_count entries, zeroed by the caller).
 */
static void bench_bucket_values(const struct bench_sample *samples, uint32_t count, bool is_bytes,
                                uint64_t *values, uint64_t bucket_count)
{
    assert(count >= 2);
    assert(values != NULL);
    const uint64_t bucket_us = BENCH_BUCKET_NS / 1000;
    for (uint32_t index = 1; index < count; index++) {
        uint64_t previous_us = samples[index - 1].end_ns / 1000;
        uint64_t current_us = samples[index].end_ns / 1000;
        uint64_t amount = is_bytes ? samples[index].bytes : samples[index].messages;
        if (current_us <= previous_us) {
            continue;
        }
        double per_us = (double)amount / (double)(current_us - previous_us);
        uint64_t cursor_us = previous_us;
        for (uint64_t round = 0; cursor_us < current_us && round < bucket_count; round++) {
            uint64_t bucket = cursor_us / bucket_us;
            if (bucket >= bucket_count) {
                break;
            }
            uint64_t bucket_end_us = (bucket + 1) * bucket_us;
            uint64_t overlap_end_us = current_us < bucket_end_us ? current_us : bucket_end_us;
            values[bucket] += (uint64_t)(per_us * (double)(overlap_end_us - cursor_us) + 0.5);
            cursor_us = overlap_end_us;
        }
    }
}

/*
 * Mean of the series after Iggy's moving average (processors/moving_average.rs): empty
 * buckets are not points, the window is partial at the start, every point is rounded
 * to 3 decimals. Falls back to total / elapsed time when there are no points, as Iggy.
 */
static double bench_smoothed_rate(const struct bench_sample *samples, uint32_t count, bool is_bytes)
{
    assert(count > 0);
    uint64_t total = 0;
    for (uint32_t index = 0; index < count; index++) {
        total += is_bytes ? samples[index].bytes : samples[index].messages;
    }
    double scale = is_bytes ? 1e6 : 1.0; /* MB = 10^6 bytes */
    double elapsed_s = (double)(samples[count - 1].end_ns / 1000) / 1e6;
    double fallback = elapsed_s > 0 ? (double)total / scale / elapsed_s : 0;
    uint64_t bucket_us = BENCH_BUCKET_NS / 1000;
    uint64_t bucket_count = (samples[count - 1].end_ns / 1000 + bucket_us - 1) / bucket_us;
    uint64_t *values =
        count >= 2 && bucket_count > 0 ? calloc(bucket_count, sizeof(*values)) : NULL;
    if (values == NULL) {
        return fallback;
    }
    bench_bucket_values(samples, count, is_bytes, values, bucket_count);
    double window[BENCH_SMA_WINDOW];
    double window_sum = 0;
    double sum = 0;
    uint64_t points = 0;
    for (uint64_t bucket = 0; bucket < bucket_count; bucket++) {
        if (values[bucket] == 0) {
            continue;
        }
        double rate = bench_round_milli((double)values[bucket] / scale / ((double)bucket_us / 1e6));
        uint64_t slot = points % BENCH_SMA_WINDOW;
        window_sum -= points >= BENCH_SMA_WINDOW ? window[slot] : 0;
        window[slot] = rate;
        window_sum += rate;
        points++;
        uint64_t filled = points < BENCH_SMA_WINDOW ? points : BENCH_SMA_WINDOW;
        sum += bench_round_milli(window_sum / (double)filled);
    }
    free(values);
    return points > 0 ? sum / (double)points : fallback;
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
    summary_out->duration_s = (double)samples[count - 1].end_ns / 1e9; /* Iggy: last elapsed */
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
