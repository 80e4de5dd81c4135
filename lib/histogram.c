/*
 * Log-linear histogram (histogram.h). Bucket index of value v:
 *   v < 2 * SUB_BUCKET_COUNT:   v itself (exact);
 *   otherwise, with e = floor(log2 v) and shift = e - SUB_BUCKET_BITS:
 *     (shift + 1) * SUB_BUCKET_COUNT + ((v >> shift) - SUB_BUCKET_COUNT),
 * so each octave [2^e, 2^(e+1)) has SUB_BUCKET_COUNT buckets 2^shift wide, and a bucket's
 * width is at most 1/SUB_BUCKET_COUNT of its lowest value. Reporting the midpoint halves
 * that: the error is at most 1/256.
 */
#include "lib/histogram.h"

#include "lib/assert.h"

#include <string.h>

static uint32_t histogram_bucket_index(uint64_t value)
{
    uint64_t clamped = value < HISTOGRAM_VALUE_MAX ? value : HISTOGRAM_VALUE_MAX;
    if (clamped < 2 * HISTOGRAM_SUB_BUCKET_COUNT) {
        return (uint32_t)clamped;
    }
    int exponent = 63 - __builtin_clzll(clamped);
    assert_hot(exponent > HISTOGRAM_SUB_BUCKET_BITS && exponent < HISTOGRAM_VALUE_BITS);
    uint32_t shift = (uint32_t)(exponent - HISTOGRAM_SUB_BUCKET_BITS);
    uint32_t index = (shift + 1) * HISTOGRAM_SUB_BUCKET_COUNT +
                     (uint32_t)((clamped >> shift) - HISTOGRAM_SUB_BUCKET_COUNT);
    assert_hot(index < HISTOGRAM_BUCKET_COUNT);
    return index;
}

/* The midpoint of bucket index: the value reported for anything recorded in it. */
static uint64_t histogram_bucket_value(uint32_t index)
{
    assert(index < HISTOGRAM_BUCKET_COUNT);
    if (index < 2 * HISTOGRAM_SUB_BUCKET_COUNT) {
        return index;
    }
    uint32_t shift = index / HISTOGRAM_SUB_BUCKET_COUNT - 1;
    uint64_t mantissa = HISTOGRAM_SUB_BUCKET_COUNT + index % HISTOGRAM_SUB_BUCKET_COUNT;
    uint64_t lowest = mantissa << shift;
    assert(histogram_bucket_index(lowest) == index);
    return lowest + ((1ULL << shift) >> 1);
}

void histogram_init(struct histogram *histogram)
{
    assert(histogram != NULL);
    memset(histogram, 0, sizeof(*histogram));
    histogram->value_min = UINT64_MAX;
    assert(histogram_count(histogram) == 0);
}

void histogram_reset(struct histogram *histogram)
{
    assert(histogram != NULL);
    histogram_init(histogram);
    assert(histogram->value_max == 0);
}

void histogram_record_count(struct histogram *histogram, uint64_t value, uint64_t count)
{
    assert(histogram != NULL);
    assert(histogram->count <= UINT64_MAX - count);
    if (count == 0) {
        return;
    }
    histogram->bucket_counts[histogram_bucket_index(value)] += count;
    histogram->count += count;
    histogram->value_sum += (unsigned __int128)value * count;
    histogram->value_min = value < histogram->value_min ? value : histogram->value_min;
    histogram->value_max = value > histogram->value_max ? value : histogram->value_max;
}

void histogram_record(struct histogram *histogram, uint64_t value)
{
    assert(histogram != NULL);
    assert(histogram->count < UINT64_MAX);
    histogram_record_count(histogram, value, 1);
}

uint64_t histogram_count(const struct histogram *histogram)
{
    assert(histogram != NULL);
    assert(histogram->count == 0 || histogram->value_min <= histogram->value_max);
    return histogram->count;
}

uint64_t histogram_min(const struct histogram *histogram)
{
    assert(histogram != NULL);
    assert(histogram->count > 0 || histogram->value_min == UINT64_MAX);
    return histogram->count == 0 ? 0 : histogram->value_min;
}

uint64_t histogram_max(const struct histogram *histogram)
{
    assert(histogram != NULL);
    assert(histogram->count > 0 || histogram->value_max == 0);
    return histogram->value_max;
}

double histogram_mean(const struct histogram *histogram)
{
    assert(histogram != NULL);
    assert(histogram->count > 0 || histogram->value_sum == 0);
    if (histogram->count == 0) {
        return 0.0;
    }
    return (double)histogram->value_sum / (double)histogram->count;
}

uint64_t histogram_percentile(const struct histogram *histogram, double percentile)
{
    assert(histogram != NULL);
    assert(percentile >= 0.0 && percentile <= 100.0);
    if (histogram->count == 0) {
        return 0;
    }
    /* Nearest rank: ceil(percentile / 100 * count), at least 1. */
    double rank_real = percentile / 100.0 * (double)histogram->count;
    uint64_t rank = (uint64_t)rank_real;
    rank += (double)rank < rank_real ? 1 : 0;
    rank = rank < 1 ? 1 : (rank > histogram->count ? histogram->count : rank);
    uint64_t seen = 0;
    for (uint32_t index = 0; index < HISTOGRAM_BUCKET_COUNT; index++) {
        seen += histogram->bucket_counts[index];
        if (seen >= rank) {
            uint64_t value = histogram_bucket_value(index);
            value = value < histogram->value_min ? histogram->value_min : value;
            return value > histogram->value_max ? histogram->value_max : value;
        }
    }
    unreachable_code(); /* the buckets add up to count */
}

void histogram_summarize(const struct histogram *histogram, struct histogram_summary *summary)
{
    assert(histogram != NULL);
    assert(summary != NULL);
    summary->count = histogram_count(histogram);
    summary->value_min = histogram_min(histogram);
    summary->value_max = histogram_max(histogram);
    summary->value_mean = histogram_mean(histogram);
    summary->p50 = histogram_percentile(histogram, 50.0);
    summary->p90 = histogram_percentile(histogram, 90.0);
    summary->p95 = histogram_percentile(histogram, 95.0);
    summary->p99 = histogram_percentile(histogram, 99.0);
    summary->p999 = histogram_percentile(histogram, 99.9);
    summary->p9999 = histogram_percentile(histogram, 99.99);
}

void histogram_merge(struct histogram *into, const struct histogram *from)
{
    assert(into != NULL && from != NULL);
    assert(into != from);
    assert(into->count <= UINT64_MAX - from->count);
    if (from->count == 0) {
        return;
    }
    for (uint32_t index = 0; index < HISTOGRAM_BUCKET_COUNT; index++) {
        into->bucket_counts[index] += from->bucket_counts[index];
    }
    into->count += from->count;
    into->value_sum += from->value_sum;
    into->value_min = from->value_min < into->value_min ? from->value_min : into->value_min;
    into->value_max = from->value_max > into->value_max ? from->value_max : into->value_max;
}
