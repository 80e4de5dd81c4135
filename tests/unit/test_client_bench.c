/* Unit tests for runnel-bench's metrics: linear-interpolation percentiles, summaries
 * (MB = 10^6 bytes, 10 ms buckets) and group aggregation (sum / average). */
#include "client/bench_metrics.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_percentile_interpolates(void **state)
{
    (void)state;
    const double sorted[] = {1, 2, 3, 4};
    assert_true(bench_percentile(sorted, 4, 50) > 2.49 && bench_percentile(sorted, 4, 50) < 2.51);
    assert_true(bench_percentile(sorted, 4, 100) == 4);
    assert_true(bench_percentile(sorted, 4, 0) == 1);
    assert_true(bench_percentile(sorted, 1, 99) == 1);
    assert_true(bench_percentile(NULL, 0, 99) == 0);
    double p90 = bench_percentile(sorted, 4, 90); /* rank 2.7 -> 3.7 */
    assert_true(p90 > 3.69 && p90 < 3.71);
}

static void test_summary_and_group(void **state)
{
    (void)state;
    /* 100 batches of 1 MB, one every 10 ms, each taking 1 ms: 100 MB/s. */
    static struct bench_sample samples[100];
    static double scratch[100];
    for (uint32_t index = 0; index < 100; index++) {
        samples[index] = (struct bench_sample){.end_ns = (index + 1) * 10000000ull - 1,
                                               .latency_ns = 1000000,
                                               .bytes = 1000000,
                                               .messages = 1000};
    }
    struct bench_summary summary;
    bench_summarise(samples, 100, scratch, &summary);
    assert_int_equal(summary.messages, 100000);
    assert_true(summary.throughput_mb_s > 95 && summary.throughput_mb_s < 105);
    assert_true(summary.latency_percentiles_ms[3] > 0.999 &&
                summary.latency_percentiles_ms[3] < 1.001);
    struct bench_summary group = {0};
    bench_group_add(&group, &summary);
    bench_group_add(&group, &summary);
    bench_group_finish(&group, 2);
    assert_true(group.throughput_mb_s > 190 && group.throughput_mb_s < 210);
    assert_true(group.latency_avg_ms > 0.999 && group.latency_avg_ms < 1.001);
}

/* Iggy's throughput: the amount between consecutive batches spread over the 10 ms
 * buckets the interval overlaps (the first batch only starts the series), empty buckets
 * dropped, 20-point moving average, mean. Records at 5, 15, 25 ms of 1 MB each give
 * buckets of 0.5, 1, 0.5 MB = 50, 100, 50 MB/s; SMA 50, 75, 66.667; mean 63.889. */
static void test_throughput_as_iggy(void **state)
{
    (void)state;
    static struct bench_sample samples[3];
    static double scratch[3];
    for (uint32_t index = 0; index < 3; index++) {
        samples[index] = (struct bench_sample){.end_ns = (5 + 10 * (uint64_t)index) * 1000000,
                                               .latency_ns = 1000000,
                                               .bytes = 1000000,
                                               .messages = 1000};
    }
    struct bench_summary summary;
    bench_summarise(samples, 3, scratch, &summary);
    assert_true(summary.throughput_mb_s > 63.888 && summary.throughput_mb_s < 63.890);
    assert_true(summary.messages_per_s > 63888.0 && summary.messages_per_s < 63890.0);
    assert_true(summary.duration_s > 0.0249 && summary.duration_s < 0.0251);
    /* A gap: 1 MB over 40 ms (5..45 ms) is 12.5, 25, 25, 25, 12.5 MB/s, not one spike
     * followed by empty buckets. */
    samples[1].end_ns = 45000000;
    bench_summarise(samples, 2, scratch, &summary);
    double expected = (12.5 + 18.75 + 62.5 / 3 + 21.875 + 20.0) / 5;
    assert_true(summary.throughput_mb_s > expected - 0.002 &&
                summary.throughput_mb_s < expected + 0.002);
    /* One record: no interval, Iggy falls back to total / elapsed. */
    bench_summarise(samples, 1, scratch, &summary);
    assert_true(summary.throughput_mb_s > 199.9 && summary.throughput_mb_s < 200.1);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_interpolates),
        cmocka_unit_test(test_summary_and_group),
        cmocka_unit_test(test_throughput_as_iggy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
