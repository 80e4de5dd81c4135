/* Unit tests for lib/pool: capacity as backpressure, slot mapping, release checks. */
#include "lib/pool.h"
#include "lib/prng.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { TEST_OBJECT_SIZE_BYTES = 24, TEST_OBJECT_COUNT_MAX = 70 };

static alignas(max_align_t) unsigned char test_memory[8192];

static void test_pool_setup(struct pool *pool)
{
    size_t size_bytes = pool_memory_size_bytes(TEST_OBJECT_SIZE_BYTES, TEST_OBJECT_COUNT_MAX);
    assert_true(size_bytes > 0 && size_bytes <= sizeof(test_memory));
    pool_init(pool, test_memory, TEST_OBJECT_SIZE_BYTES, TEST_OBJECT_COUNT_MAX);
}

static void test_acquire_until_empty_then_backpressure(void **state)
{
    (void)state;
    struct pool pool;
    test_pool_setup(&pool);
    void *objects[TEST_OBJECT_COUNT_MAX];
    for (uint32_t index = 0; index < TEST_OBJECT_COUNT_MAX; index++) {
        objects[index] = pool_acquire(&pool);
        assert_non_null(objects[index]);
        assert_int_equal(pool_index_of(&pool, objects[index]), index);
        assert_ptr_equal(pool_object_at(&pool, index), objects[index]);
        assert_true(pool_is_in_use(&pool, index));
        assert_int_equal((uintptr_t)objects[index] % alignof(max_align_t), 0);
        /* Writing a whole object must not disturb the pool's own bookkeeping. */
        memset(objects[index], 0xEE, TEST_OBJECT_SIZE_BYTES);
    }
    assert_int_equal(pool_count_free(&pool), 0);
    assert_null(pool_acquire(&pool));
    pool_release(&pool, objects[17]);
    assert_false(pool_is_in_use(&pool, 17));
    assert_int_equal(pool_count_free(&pool), 1);
    assert_ptr_equal(pool_acquire(&pool), objects[17]);
    assert_null(pool_acquire(&pool));
    for (uint32_t index = 0; index < TEST_OBJECT_COUNT_MAX; index++) {
        pool_release(&pool, objects[index]);
    }
    assert_int_equal(pool_count_free(&pool), TEST_OBJECT_COUNT_MAX);
}

/* A random acquire/release walk checked against a model of which slots are in use. */
static void test_random_walk_matches_model(void **state)
{
    (void)state;
    struct pool pool;
    test_pool_setup(&pool);
    struct prng prng;
    prng_init(&prng, 2024);
    bool model_in_use[TEST_OBJECT_COUNT_MAX] = {false};
    uint32_t model_free = TEST_OBJECT_COUNT_MAX;
    for (int step = 0; step < 20000; step++) {
        if (prng_percent(&prng, 55)) {
            unsigned char *object = pool_acquire(&pool);
            if (model_free == 0) {
                assert_null(object);
                continue;
            }
            assert_non_null(object);
            uint32_t index = pool_index_of(&pool, object);
            assert_false(model_in_use[index]);
            model_in_use[index] = true;
            model_free--;
            object[0] = (unsigned char)index;
        } else {
            uint32_t index = (uint32_t)prng_range(&prng, TEST_OBJECT_COUNT_MAX);
            if (!model_in_use[index]) {
                continue;
            }
            unsigned char *object = pool_object_at(&pool, index);
            assert_int_equal(object[0], (unsigned char)index);
            pool_release(&pool, object);
            model_in_use[index] = false;
            model_free++;
        }
        assert_int_equal(pool_count_free(&pool), model_free);
    }
    for (uint32_t index = 0; index < TEST_OBJECT_COUNT_MAX; index++) {
        assert_int_equal(pool_is_in_use(&pool, index), model_in_use[index]);
    }
}

static void test_allocated_pool(void **state)
{
    (void)state;
    struct pool pool;
    assert_int_equal(pool_init_allocate(&pool, 1, 1), 0);
    unsigned char *only = pool_acquire(&pool);
    assert_non_null(only);
    assert_null(pool_acquire(&pool));
    pool_release(&pool, only);
    pool_deinit(&pool);
    assert_int_equal(pool_memory_size_bytes(SIZE_MAX / 4, UINT32_MAX), 0);
    assert_int_not_equal(pool_init_allocate(&pool, SIZE_MAX / 4, UINT32_MAX), 0);
}

static void test_contract_assertions_fire(void **state)
{
    (void)state;
    struct pool pool;
    test_pool_setup(&pool);
    unsigned char *object = pool_acquire(&pool);
    unsigned char outside[32];
    expect_assert_failure(pool_release(&pool, outside));
    expect_assert_failure(pool_release(&pool, object + 1));
    pool_release(&pool, object);
    expect_assert_failure(pool_release(&pool, object));
    expect_assert_failure(pool_object_at(&pool, TEST_OBJECT_COUNT_MAX));
    expect_assert_failure(pool_init(&pool, test_memory + 1, 8, 4));
    expect_assert_failure(pool_init(&pool, test_memory, 0, 4));
    assert_int_equal(pool_count_free(&pool), TEST_OBJECT_COUNT_MAX);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acquire_until_empty_then_backpressure),
        cmocka_unit_test(test_random_walk_matches_model),
        cmocka_unit_test(test_allocated_pool),
        cmocka_unit_test(test_contract_assertions_fire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
