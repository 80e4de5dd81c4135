/*
 * Fixed-memory latency histogram with log-linear buckets (the HdrHistogram layout).
 *
 * Values are unsigned integers in whatever unit the caller picks (name it: latency_ns).
 * Values below 256 are kept exactly; above, each power of two is split into 128 equal
 * buckets, so a reported value is within 1/256 (0.4%) of a recorded one. The range is
 * [0, HISTOGRAM_VALUE_MAX], about 73 minutes in nanoseconds; larger values are counted in
 * the top bucket (min, max and mean still use the exact value). count, min, max and mean
 * are exact. The buckets are an array inside the struct (36 KiB): nothing is allocated.
 * A histogram belongs to one thread; merge per-shard histograms to report.
 */
#ifndef RUNNEL_LIB_HISTOGRAM_H
#define RUNNEL_LIB_HISTOGRAM_H

#include <stdint.h>

enum {
    HISTOGRAM_SUB_BUCKET_BITS = 7,
    HISTOGRAM_SUB_BUCKET_COUNT = 1 << HISTOGRAM_SUB_BUCKET_BITS, /* buckets per octave */
    HISTOGRAM_VALUE_BITS = 42,
    HISTOGRAM_BUCKET_COUNT =
        (HISTOGRAM_VALUE_BITS - HISTOGRAM_SUB_BUCKET_BITS + 1) * HISTOGRAM_SUB_BUCKET_COUNT,
};

#define HISTOGRAM_VALUE_MAX ((1ULL << HISTOGRAM_VALUE_BITS) - 1)

struct histogram {
    uint64_t count;                                 /* values recorded */
    uint64_t value_min;                             /* UINT64_MAX while empty */
    uint64_t value_max;                             /* 0 while empty */
    unsigned __int128 value_sum;                    /* exact sum, for the mean */
    uint64_t bucket_counts[HISTOGRAM_BUCKET_COUNT]; /* values per bucket */
};

/* The usual report: all zero for an empty histogram. */
struct histogram_summary {
    uint64_t count;
    uint64_t value_min;
    uint64_t value_max;
    double value_mean;
    uint64_t p50;
    uint64_t p90;
    uint64_t p95;
    uint64_t p99;
    uint64_t p999;
    uint64_t p9999;
};

/* Sets histogram up empty. */
void histogram_init(struct histogram *histogram);

/* Empties histogram (same as init). */
void histogram_reset(struct histogram *histogram);

/* Records one value. */
void histogram_record(struct histogram *histogram, uint64_t value);

/* Records value count times (count may be 0). */
void histogram_record_count(struct histogram *histogram, uint64_t value, uint64_t count);

/* Values recorded. */
uint64_t histogram_count(const struct histogram *histogram);

/* Smallest / largest value recorded, exactly; 0 when empty. */
uint64_t histogram_min(const struct histogram *histogram);
uint64_t histogram_max(const struct histogram *histogram);

/* Exact mean of the values recorded; 0 when empty. */
double histogram_mean(const struct histogram *histogram);

/*
 * The value at percentile (0 to 100): the nearest-rank value, the smallest recorded value
 * v such that at least percentile% of values are <= v, to within 1/256 of it and never
 * outside [min, max]. 0 when empty.
 */
uint64_t histogram_percentile(const struct histogram *histogram, double percentile);

/* Fills summary with count, min, max, mean and p50/p90/p95/p99/p99.9/p99.99. */
void histogram_summarize(const struct histogram *histogram, struct histogram_summary *summary);

/* Adds every value recorded in from to into. */
void histogram_merge(struct histogram *into, const struct histogram *from);

#endif
