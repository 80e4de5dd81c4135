/* Unit tests for lib/spsc: full/empty, wrap-around, batches, and a two-thread stress run. */
#include "lib/error.h"
#include "lib/spsc.h"

#include "tests/unit/helper_assert.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum {
    TEST_CAPACITY = 64,
    TEST_STRESS_ITEMS = 1000000,
    TEST_BATCH_MAX = 7,
    /* Spins allowed per item before the stress test declares the other thread stuck. */
    TEST_SPINS_PER_ITEM_MAX = 100000,
};

static void test_full_and_empty_in_order(void **state)
{
    (void)state;
    static struct spsc queue;
    uint64_t memory[TEST_CAPACITY];
    spsc_init(&queue, memory, sizeof(uint64_t), TEST_CAPACITY);
    uint64_t value = 0;
    assert_int_equal(spsc_pop(&queue, &value), -RUNNEL_EEMPTY);
    assert_int_equal(spsc_count(&queue), 0);
    for (uint64_t index = 0; index < TEST_CAPACITY; index++) {
        uint64_t entry = index * 3;
        assert_int_equal(spsc_push(&queue, &entry), 0);
    }
    assert_int_equal(spsc_count(&queue), TEST_CAPACITY);
    uint64_t extra = 999;
    assert_int_equal(spsc_push(&queue, &extra), -RUNNEL_EFULL);
    for (uint64_t index = 0; index < TEST_CAPACITY; index++) {
        assert_int_equal(spsc_pop(&queue, &value), 0);
        assert_int_equal(value, index * 3);
    }
    assert_int_equal(spsc_pop(&queue, &value), -RUNNEL_EEMPTY);
    assert_int_equal(spsc_count(&queue), 0);
}

/* Odd-sized entries and batches that straddle the end of the ring. */
static void test_batches_wrap_around(void **state)
{
    (void)state;
    static struct spsc queue;
    char memory[8 * 5];
    spsc_init(&queue, memory, 5, 8);
    char in[10][5];
    char out[10][5];
    uint32_t next_in = 0;
    uint32_t next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (uint32_t index = 0; index < 10; index++) {
            memset(in[index], (int)('a' + (next_in + index) % 26), 5);
        }
        uint32_t pushed = spsc_push_batch(&queue, in, 5);
        assert_true(pushed <= 5);
        next_in += pushed;
        uint32_t popped = spsc_pop_batch(&queue, out, 3);
        for (uint32_t index = 0; index < popped; index++) {
            assert_int_equal(out[index][0], 'a' + (next_out + index) % 26);
            assert_int_equal(out[index][4], 'a' + (next_out + index) % 26);
        }
        next_out += popped;
        assert_int_equal(spsc_count(&queue), next_in - next_out);
    }
    /* Each round tops the ring up to 8 then takes 3. */
    assert_int_equal(spsc_count(&queue), 5);
    assert_int_equal(spsc_push_batch(&queue, in, 10), 3);
    assert_int_equal(spsc_push_batch(&queue, in, 1), 0);
    assert_int_equal(spsc_pop_batch(&queue, out, 10), 8);
    assert_int_equal(spsc_pop_batch(&queue, out, 10), 0);
    assert_int_equal(spsc_push_batch(&queue, NULL, 0), 0);
}

struct test_stress {
    struct spsc queue;
    uint64_t memory[TEST_CAPACITY];
    uint64_t consumer_errors; /* out-of-order or missing items seen by the consumer */
};

static void *test_stress_producer(void *argument)
{
    struct test_stress *stress = argument;
    uint64_t batch[TEST_BATCH_MAX];
    uint64_t next = 0;
    uint64_t spins = 0;
    while (next < TEST_STRESS_ITEMS && spins < (uint64_t)TEST_STRESS_ITEMS * 100) {
        uint32_t want = (uint32_t)(next % TEST_BATCH_MAX) + 1;
        want = next + want > TEST_STRESS_ITEMS ? (uint32_t)(TEST_STRESS_ITEMS - next) : want;
        for (uint32_t index = 0; index < want; index++) {
            batch[index] = next + index;
        }
        uint32_t pushed = want == 1 ? (spsc_push(&stress->queue, batch) == 0 ? 1U : 0U)
                                    : spsc_push_batch(&stress->queue, batch, want);
        next += pushed;
        if (pushed == 0) {
            spins++;
            sched_yield();
        }
    }
    return NULL;
}

static void *test_stress_consumer(void *argument)
{
    struct test_stress *stress = argument;
    uint64_t batch[TEST_BATCH_MAX];
    uint64_t expected = 0;
    uint64_t spins = 0;
    while (expected < TEST_STRESS_ITEMS && spins < (uint64_t)TEST_STRESS_ITEMS * 100) {
        uint32_t want = (uint32_t)(expected % 5) + 1;
        uint32_t popped = want == 1 ? (spsc_pop(&stress->queue, batch) == 0 ? 1U : 0U)
                                    : spsc_pop_batch(&stress->queue, batch, want);
        for (uint32_t index = 0; index < popped; index++) {
            stress->consumer_errors += batch[index] != expected ? 1U : 0U;
            expected++;
        }
        if (popped == 0) {
            spins++;
            sched_yield();
        }
    }
    stress->consumer_errors += expected != TEST_STRESS_ITEMS ? 1U : 0U;
    return NULL;
}

static void test_two_thread_stress_keeps_order_and_loses_nothing(void **state)
{
    (void)state;
    static struct test_stress stress;
    spsc_init(&stress.queue, stress.memory, sizeof(uint64_t), TEST_CAPACITY);
    stress.consumer_errors = 0;
    pthread_t producer;
    pthread_t consumer;
    assert_int_equal(pthread_create(&consumer, NULL, test_stress_consumer, &stress), 0);
    assert_int_equal(pthread_create(&producer, NULL, test_stress_producer, &stress), 0);
    assert_int_equal(pthread_join(producer, NULL), 0);
    assert_int_equal(pthread_join(consumer, NULL), 0);
    assert_int_equal(stress.consumer_errors, 0);
    assert_int_equal(spsc_count(&stress.queue), 0);
    assert_int_equal(atomic_load(&stress.queue.tail), TEST_STRESS_ITEMS);
}

static void test_contract_assertions_fire(void **state)
{
    (void)state;
    static struct spsc queue;
    uint64_t memory[TEST_CAPACITY];
    expect_assert_failure(spsc_init(&queue, memory, sizeof(uint64_t), 48));
    expect_assert_failure(spsc_init(&queue, memory, 0, 8));
    spsc_init(&queue, memory, sizeof(uint64_t), 8);
    expect_assert_failure(spsc_push(&queue, NULL));
    expect_assert_failure(spsc_pop(&queue, NULL));
    expect_assert_failure(spsc_pop_batch(&queue, NULL, 2));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_and_empty_in_order),
        cmocka_unit_test(test_batches_wrap_around),
        cmocka_unit_test(test_two_thread_stress_keeps_order_and_loses_nothing),
        cmocka_unit_test(test_contract_assertions_fire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
