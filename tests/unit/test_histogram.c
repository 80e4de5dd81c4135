/* Unit tests for lib/histogram: exact small values, percentiles against a sorted array
 * within the stated 1/256 relative error, merge, reset and saturation. */
#include "lib/histogram.h"
#include "lib/prng.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

enum { TEST_VALUE_COUNT = 100000 };

static struct histogram test_first;
static struct histogram test_second;
static uint64_t test_values[TEST_VALUE_COUNT];

static int test_compare_u64(const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *)left;
    uint64_t b = *(const uint64_t *)right;
    return (a > b) - (a < b);
}

/* The nearest-rank percentile of a sorted array: the reference the histogram must match. */
static uint64_t test_exact_percentile(const uint64_t *sorted, size_t count, double percentile)
{
    double rank_real = percentile / 100.0 * (double)count;
    size_t rank = (size_t)rank_real;
    rank += (double)rank < rank_real ? 1 : 0; /* ceil without libm */
    rank = rank < 1 ? 1 : rank;
    rank = rank > count ? count : rank;
    return sorted[rank - 1];
}

static void test_small_values_are_exact(void **state)
{
    (void)state;
    histogram_init(&test_first);
    assert_int_equal(histogram_count(&test_first), 0);
    assert_int_equal(histogram_min(&test_first), 0);
    assert_int_equal(histogram_max(&test_first), 0);
    assert_int_equal(histogram_percentile(&test_first, 50.0), 0);
    assert_true(histogram_mean(&test_first) == 0.0);
    for (uint64_t value = 100; value >= 1; value--) {
        histogram_record(&test_first, value);
    }
    assert_int_equal(histogram_count(&test_first), 100);
    assert_int_equal(histogram_min(&test_first), 1);
    assert_int_equal(histogram_max(&test_first), 100);
    assert_true(histogram_mean(&test_first) == 50.5);
    assert_int_equal(histogram_percentile(&test_first, 0.0), 1);
    assert_int_equal(histogram_percentile(&test_first, 50.0), 50);
    assert_int_equal(histogram_percentile(&test_first, 50.5), 51);
    assert_int_equal(histogram_percentile(&test_first, 99.0), 99);
    assert_int_equal(histogram_percentile(&test_first, 100.0), 100);
    histogram_record_count(&test_first, 7, 900);
    histogram_record_count(&test_first, 3, 0);
    assert_int_equal(histogram_count(&test_first), 1000);
    assert_int_equal(histogram_percentile(&test_first, 50.0), 7);
}

/* Log-uniform values from 1 ns to about an hour, like real latencies with long tails. */
static void test_percentiles_within_stated_error(void **state)
{
    (void)state;
    static const double percentiles[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};
    struct prng prng;
    prng_init(&prng, 31337);
    histogram_init(&test_first);
    for (size_t index = 0; index < TEST_VALUE_COUNT; index++) {
        uint64_t octave = prng_range(&prng, 42);
        uint64_t value = (1ULL << octave) + prng_range(&prng, 1ULL << octave);
        value = value > 3600000000000ULL ? 3600000000000ULL : value;
        test_values[index] = value;
        histogram_record(&test_first, value);
    }
    qsort(test_values, TEST_VALUE_COUNT, sizeof(uint64_t), test_compare_u64);
    assert_int_equal(histogram_min(&test_first), test_values[0]);
    assert_int_equal(histogram_max(&test_first), test_values[TEST_VALUE_COUNT - 1]);
    for (size_t index = 0; index < sizeof(percentiles) / sizeof(percentiles[0]); index++) {
        uint64_t exact = test_exact_percentile(test_values, TEST_VALUE_COUNT, percentiles[index]);
        uint64_t reported = histogram_percentile(&test_first, percentiles[index]);
        uint64_t error = reported > exact ? reported - exact : exact - reported;
        if (error * 256 > exact) {
            print_error("p%g exact=%lu reported=%lu\n", percentiles[index], (unsigned long)exact,
                        (unsigned long)reported);
            fail();
        }
    }
    struct histogram_summary summary;
    histogram_summarize(&test_first, &summary);
    assert_int_equal(summary.count, TEST_VALUE_COUNT);
    assert_int_equal(summary.p99, histogram_percentile(&test_first, 99.0));
    assert_int_equal(summary.p9999, histogram_percentile(&test_first, 99.99));
    assert_true(summary.p50 <= summary.p90 && summary.p90 <= summary.p95);
    assert_true(summary.p95 <= summary.p99 && summary.p99 <= summary.p999);
    assert_true(summary.p999 <= summary.p9999 && summary.p9999 <= summary.value_max);
}

static void test_merge_equals_recording_everything(void **state)
{
    (void)state;
    static struct histogram together;
    struct prng prng;
    prng_init(&prng, 5);
    histogram_init(&test_first);
    histogram_init(&test_second);
    histogram_init(&together);
    for (int index = 0; index < 10000; index++) {
        uint64_t value = prng_range(&prng, 1000000);
        histogram_record(index % 3 == 0 ? &test_first : &test_second, value);
        histogram_record(&together, value);
    }
    histogram_merge(&test_first, &test_second);
    assert_int_equal(histogram_count(&test_first), histogram_count(&together));
    assert_int_equal(histogram_min(&test_first), histogram_min(&together));
    assert_int_equal(histogram_max(&test_first), histogram_max(&together));
    assert_true(histogram_mean(&test_first) == histogram_mean(&together));
    for (double percentile = 0; percentile <= 100.0; percentile += 0.5) {
        assert_int_equal(histogram_percentile(&test_first, percentile),
                         histogram_percentile(&together, percentile));
    }
    histogram_reset(&test_second);
    histogram_merge(&test_first, &test_second);
    assert_int_equal(histogram_count(&test_first), 10000);
    assert_int_equal(histogram_count(&test_second), 0);
    assert_int_equal(histogram_percentile(&test_second, 99.0), 0);
}

static void test_values_over_the_range_saturate(void **state)
{
    (void)state;
    histogram_init(&test_first);
    histogram_record(&test_first, UINT64_MAX);
    histogram_record(&test_first, HISTOGRAM_VALUE_MAX + 1);
    assert_int_equal(histogram_max(&test_first), UINT64_MAX);
    assert_int_equal(histogram_min(&test_first), HISTOGRAM_VALUE_MAX + 1);
    assert_int_equal(histogram_percentile(&test_first, 100.0), HISTOGRAM_VALUE_MAX + 1);
    assert_true(histogram_mean(&test_first) > (double)HISTOGRAM_VALUE_MAX);
}

static void test_contract_assertions_fire(void **state)
{
    (void)state;
    histogram_init(&test_first);
    expect_assert_failure(histogram_percentile(&test_first, 100.5));
    expect_assert_failure(histogram_percentile(&test_first, -1.0));
    expect_assert_failure(histogram_merge(&test_first, &test_first));
    expect_assert_failure(histogram_record(NULL, 1));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_values_are_exact),
        cmocka_unit_test(test_percentiles_within_stated_error),
        cmocka_unit_test(test_merge_equals_recording_everything),
        cmocka_unit_test(test_values_over_the_range_saturate),
        cmocka_unit_test(test_contract_assertions_fire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
