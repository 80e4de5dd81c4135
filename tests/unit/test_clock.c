/* Unit tests for lib/clock: the system clock's readings and the fake clock's control. */
#include "lib/clock.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

static void test_system_clock_reads_monotonic_and_realtime(void **state)
{
    (void)state;
    struct clock clock;
    clock_system_init(&clock);
    uint64_t previous_ns = clock_monotonic_ns(&clock);
    for (int round = 0; round < 1000; round++) {
        uint64_t now_ns = clock_monotonic_ns(&clock);
        assert_true(now_ns >= previous_ns);
        previous_ns = now_ns;
    }
    uint64_t wall_ns = clock_realtime_ns(&clock);
    uint64_t wall_s = (uint64_t)time(NULL);
    uint64_t reading_s = wall_ns / 1000000000ULL;
    assert_true(reading_s + 2 >= wall_s && reading_s <= wall_s + 2);
}

static void test_fake_clock_moves_only_when_told(void **state)
{
    (void)state;
    struct clock_fake fake;
    clock_fake_init(&fake, 1000, 1700000000000000000ULL);
    const struct clock *clock = &fake.clock;
    assert_int_equal(clock_monotonic_ns(clock), 1000);
    assert_int_equal(clock_monotonic_ns(clock), 1000);
    assert_int_equal(clock_realtime_ns(clock), 1700000000000000000ULL);
    clock_fake_advance_ns(&fake, 250);
    assert_int_equal(clock_monotonic_ns(clock), 1250);
    assert_int_equal(clock_realtime_ns(clock), 1700000000000000250ULL);
    clock_fake_advance_ns(&fake, 0);
    assert_int_equal(clock_monotonic_ns(clock), 1250);
}

static void test_fake_realtime_steps_without_moving_monotonic(void **state)
{
    (void)state;
    struct clock_fake fake;
    clock_fake_init(&fake, 5, 9000);
    clock_fake_set_realtime_ns(&fake, 10);
    assert_int_equal(clock_realtime_ns(&fake.clock), 10);
    assert_int_equal(clock_monotonic_ns(&fake.clock), 5);
    clock_fake_set_realtime_ns(&fake, 20000);
    clock_fake_advance_ns(&fake, 1);
    assert_int_equal(clock_realtime_ns(&fake.clock), 20001);
    assert_int_equal(clock_monotonic_ns(&fake.clock), 6);
}

static void test_contract_assertions_fire(void **state)
{
    (void)state;
    struct clock_fake fake;
    clock_fake_init(&fake, UINT64_MAX - 10, 0);
    expect_assert_failure(clock_fake_advance_ns(&fake, 11));
    assert_int_equal(clock_monotonic_ns(&fake.clock), UINT64_MAX - 10);
    expect_assert_failure(clock_monotonic_ns(NULL));
    struct clock empty = {NULL, NULL};
    expect_assert_failure(clock_realtime_ns(&empty));
    struct clock_fake system_backed;
    clock_system_init(&system_backed.clock);
    expect_assert_failure(clock_fake_advance_ns(&system_backed, 1));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_system_clock_reads_monotonic_and_realtime),
        cmocka_unit_test(test_fake_clock_moves_only_when_told),
        cmocka_unit_test(test_fake_realtime_steps_without_moving_monotonic),
        cmocka_unit_test(test_contract_assertions_fire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
