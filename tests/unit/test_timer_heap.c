/* Unit tests for node/timer_heap: ordering, ties, cancel, re-arm from a callback, capacity,
 * and a seeded random sequence checked against a brute-force model. */
#include "lib/error.h"
#include "lib/prng.h"
#include "node/timer_heap.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { TEST_TIMERS = 64 };

struct test_log {
    uint32_t fired[256];
    uint32_t count;
};

static struct test_log test_fired;

static void test_timer_fire(struct timer *timer, void *context)
{
    (void)timer;
    assert_true(test_fired.count < 256);
    test_fired.fired[test_fired.count++] = (uint32_t)(uintptr_t)context;
}

static void test_order_and_ties(void **state)
{
    (void)state;
    struct timer *memory[8];
    struct timer timers[5];
    struct timer_heap heap;
    timer_heap_init(&heap, memory, 8);
    memset(&test_fired, 0, sizeof(test_fired));
    const uint64_t deadlines[5] = {30, 10, 20, 10, 5};
    for (uint32_t index = 0; index < 5; index++) {
        timer_init(&timers[index]);
        assert_int_equal(timer_heap_add(&heap, &timers[index], deadlines[index], test_timer_fire,
                                        (void *)(uintptr_t)index),
                         0);
    }
    uint64_t next = 0;
    assert_true(timer_heap_has_next(&heap, &next));
    assert_int_equal(next, 5);
    assert_int_equal(timer_heap_expire(&heap, 4, 10), 0);
    assert_int_equal(timer_heap_expire(&heap, 20, 10), 4);
    assert_int_equal(test_fired.fired[0], 4);
    assert_int_equal(test_fired.fired[1], 1); /* tie at 10: armed first, fires first */
    assert_int_equal(test_fired.fired[2], 3);
    assert_int_equal(test_fired.fired[3], 2);
    assert_true(timer_is_armed(&timers[0]));
    assert_false(timer_is_armed(&timers[1]));
    timer_heap_cancel(&heap, &timers[0]);
    timer_heap_cancel(&heap, &timers[0]); /* no-op */
    assert_false(timer_heap_has_next(&heap, &next));
}

static void test_capacity_and_double_arm(void **state)
{
    (void)state;
    struct timer *memory[2];
    struct timer timers[3];
    struct timer_heap heap;
    timer_heap_init(&heap, memory, 2);
    for (uint32_t index = 0; index < 3; index++) {
        timer_init(&timers[index]);
    }
    assert_int_equal(timer_heap_add(&heap, &timers[0], 1, test_timer_fire, NULL), 0);
    assert_int_equal(timer_heap_add(&heap, &timers[1], 1, test_timer_fire, NULL), 0);
    assert_int_equal(timer_heap_add(&heap, &timers[2], 1, test_timer_fire, NULL), -RUNNEL_EFULL);
    expect_assert_failure(timer_heap_add(&heap, &timers[0], 2, test_timer_fire, NULL));
}

struct test_periodic {
    struct timer_heap *heap;
    uint32_t fired;
};

static void test_periodic_fire(struct timer *timer, void *context)
{
    struct test_periodic *periodic = context;
    periodic->fired++;
    assert_int_equal(timer_heap_add(periodic->heap, timer, timer->deadline_ns + 10,
                                    test_periodic_fire, periodic),
                     0);
}

static void test_rearm_from_callback_is_bounded(void **state)
{
    (void)state;
    struct timer *memory[2];
    struct timer timer;
    struct timer_heap heap;
    timer_heap_init(&heap, memory, 2);
    timer_init(&timer);
    struct test_periodic periodic = {&heap, 0};
    assert_int_equal(timer_heap_add(&heap, &timer, 10, test_periodic_fire, &periodic), 0);
    /* Far behind: each expire fires at most the bound, and ticks catch up in order. */
    assert_int_equal(timer_heap_expire(&heap, 1000, 3), 3);
    assert_int_equal(periodic.fired, 3);
    uint64_t next = 0;
    assert_true(timer_heap_has_next(&heap, &next));
    assert_int_equal(next, 40);
}

static void test_random_against_model(void **state)
{
    (void)state;
    struct timer *memory[TEST_TIMERS];
    struct timer timers[TEST_TIMERS];
    struct timer_heap heap;
    struct prng prng;
    prng_init(&prng, 42);
    timer_heap_init(&heap, memory, TEST_TIMERS);
    for (uint32_t index = 0; index < TEST_TIMERS; index++) {
        timer_init(&timers[index]);
    }
    uint64_t now = 0;
    for (uint32_t step = 0; step < 20000; step++) {
        uint32_t index = (uint32_t)prng_range(&prng, TEST_TIMERS);
        if (!timer_is_armed(&timers[index])) {
            assert_int_equal(timer_heap_add(&heap, &timers[index], now + prng_range(&prng, 100),
                                            test_timer_fire, NULL),
                             0);
        } else if (prng_percent(&prng, 50)) {
            timer_heap_cancel(&heap, &timers[index]);
        }
        /* The model: the earliest armed deadline, by brute force. */
        uint64_t earliest = UINT64_MAX;
        for (uint32_t other = 0; other < TEST_TIMERS; other++) {
            if (timer_is_armed(&timers[other]) && timers[other].deadline_ns < earliest) {
                earliest = timers[other].deadline_ns;
            }
        }
        uint64_t next = 0;
        assert_int_equal(timer_heap_has_next(&heap, &next), earliest != UINT64_MAX);
        if (earliest != UINT64_MAX) {
            assert_int_equal(next, earliest);
        }
        if (prng_percent(&prng, 10)) {
            now += prng_range(&prng, 20);
            test_fired.count = 0;
            timer_heap_expire(&heap, now, TEST_TIMERS);
            for (uint32_t other = 0; other < TEST_TIMERS; other++) {
                assert_false(timer_is_armed(&timers[other]) && timers[other].deadline_ns <= now);
            }
        }
    }
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ties),
        cmocka_unit_test(test_capacity_and_double_arm),
        cmocka_unit_test(test_rearm_from_callback_is_bounded),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
