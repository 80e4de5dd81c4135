/* Unit tests for node/xshard: order and batching, full queues (client stall vs consensus
 * drop), one doorbell per destination per flush, none to an awake destination, and a
 * two-thread ping-pong in which each side sleeps in io_uring until the other's doorbell
 * wakes it (with and without the sleeping flag). Exits 77 without io_uring. */
#include "lib/error.h"
#include "node/runtime_uring.h"
#include "node/xshard.h"

#include "tests/unit/helper_assert.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

enum { TEST_ROUNDS = 500 };

static uint64_t test_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

struct test_seen {
    uint64_t values[64];
    uint32_t count;
};

static void test_collect(const struct xshard_entry *entry, void *context)
{
    struct test_seen *seen = context;
    assert_true(seen->count < 64);
    seen->values[seen->count++] = entry->arg0 | (uint64_t)entry->source_shard << 32;
}

static void test_full_queue_and_order(void **state)
{
    (void)state;
    struct xshard xshard;
    assert_int_equal(xshard_init(&xshard, 3, 4), 0);
    struct xshard_entry entry = {0};
    for (uint32_t index = 0; index < 4; index++) {
        entry.arg0 = index;
        assert_int_equal(xshard_push(&xshard, 0, 1, XSHARD_CLASS_CLIENT, &entry), 0);
    }
    assert_int_equal(xshard_push(&xshard, 0, 1, XSHARD_CLASS_CLIENT, &entry), -RUNNEL_EFULL);
    assert_int_equal(xshard_push(&xshard, 0, 1, XSHARD_CLASS_CONSENSUS, &entry), -RUNNEL_EFULL);
    entry.arg0 = 9;
    assert_int_equal(xshard_push(&xshard, 2, 1, XSHARD_CLASS_CLIENT, &entry), 0);
    assert_int_equal(xshard_counters(&xshard, 0, 1)->stalls, 1);
    assert_int_equal(xshard_counters(&xshard, 0, 1)->drops, 1);
    assert_int_equal(xshard_counters(&xshard, 0, 1)->pushed, 4);
    assert_int_equal(xshard_depth(&xshard, 0, 1), 4);
    struct test_seen seen = {0};
    /* batch_max bounds each source separately. */
    assert_int_equal(xshard_drain(&xshard, 1, 3, test_collect, &seen), 4);
    assert_int_equal(seen.values[0], 0);
    assert_int_equal(seen.values[2], 2);
    assert_int_equal(seen.values[3], 9 | (2ull << 32));
    assert_int_equal(xshard_drain(&xshard, 1, 3, test_collect, &seen), 1);
    assert_int_equal(seen.values[4], 3);
    assert_int_equal(xshard_depth(&xshard, 0, 1), 0);
    expect_assert_failure(xshard_push(&xshard, 1, 1, XSHARD_CLASS_CLIENT, &entry));
    xshard_deinit(&xshard);
}

struct test_side {
    struct xshard *xshard;
    pthread_barrier_t *barrier;
    uint32_t self;
    bool is_sleep_protocol; /* wait through xshard_sleep_begin/end (as shards do) */
    uint64_t wait_ns_max;   /* longest single wait: a lost doorbell would cost the timeout */
    uint64_t doorbells_sent;
    uint64_t doorbells;
    uint32_t received;
};

static void test_count(const struct xshard_entry *entry, void *context)
{
    struct test_side *side = context;
    assert_int_equal(entry->arg0, side->received);
    side->received++;
}

static void test_side_wait(struct test_side *side, struct runtime_uring *uring, uint32_t want)
{
    for (uint32_t guard = 0; guard < 100 && side->received < want; guard++) {
        uint64_t start_ns = test_now_ns();
        uint64_t wait_ns = 1000ull * 1000 * 1000;
        if (side->is_sleep_protocol && !xshard_sleep_begin(side->xshard, side->self)) {
            wait_ns = 0;
        }
        assert_true(runtime_uring_submit_and_wait(uring, wait_ns) >= 0);
        if (side->is_sleep_protocol) {
            xshard_sleep_end(side->xshard, side->self);
        }
        uint64_t waited_ns = test_now_ns() - start_ns;
        side->wait_ns_max = waited_ns > side->wait_ns_max ? waited_ns : side->wait_ns_max;
        runtime_uring_dispatch(uring);
        xshard_drain(side->xshard, side->self, 64, test_count, side);
    }
    assert_int_equal(side->received, want);
}

static void *test_side_main(void *argument)
{
    struct test_side *side = argument;
    struct runtime_uring_options options;
    runtime_uring_options_default(&options);
    options.recv_buffer_count = 0;
    options.fixed_buffer_size_bytes = 0;
    struct runtime_uring *uring = NULL;
    char text[256];
    assert_int_equal(runtime_uring_create(&options, &uring, text, sizeof(text)), 0);
    xshard_ring_fd_set(side->xshard, side->self, runtime_uring_ring_fd(uring));
    pthread_barrier_wait(side->barrier);
    uint32_t peer = 1 - side->self;
    struct xshard_entry entry = {0};
    for (uint32_t round = 0; round < TEST_ROUNDS; round++) {
        /* Shard 0 sends round then waits for the answer; shard 1 waits, then answers. */
        for (uint32_t step = 0; step < 2; step++) {
            bool is_send = (side->self == 0) == (step == 0);
            if (is_send) {
                entry.arg0 = round;
                assert_int_equal(
                    xshard_push(side->xshard, side->self, peer, XSHARD_CLASS_CLIENT, &entry), 0);
                uint32_t doorbells = xshard_flush(side->xshard, side->self, uring);
                assert_true(doorbells == 1 || (side->is_sleep_protocol && doorbells == 0));
                assert_int_equal(xshard_flush(side->xshard, side->self, uring), 0);
                assert_true(runtime_uring_submit_and_wait(uring, 0) >= 0);
                continue;
            }
            test_side_wait(side, uring, round + 1);
        }
    }
    side->doorbells_sent = runtime_uring_counters(uring)->doorbells_sent;
    side->doorbells = runtime_uring_counters(uring)->doorbells;
    pthread_barrier_wait(side->barrier); /* keep the ring open until both are done */
    runtime_uring_destroy(uring);
    return NULL;
}

static void test_ping_pong(bool is_sleep_protocol)
{
    struct xshard xshard;
    assert_int_equal(xshard_init(&xshard, 2, 8), 0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct test_side sides[2];
    memset(sides, 0, sizeof(sides));
    for (uint32_t index = 0; index < 2; index++) {
        sides[index].xshard = &xshard;
        sides[index].barrier = &barrier;
        sides[index].self = index;
        sides[index].is_sleep_protocol = is_sleep_protocol;
    }
    pthread_t threads[2];
    for (uint32_t index = 0; index < 2; index++) {
        assert_int_equal(pthread_create(&threads[index], NULL, test_side_main, &sides[index]), 0);
    }
    for (uint32_t index = 0; index < 2; index++) {
        pthread_join(threads[index], NULL);
    }
    assert_int_equal(sides[0].received, TEST_ROUNDS);
    assert_int_equal(sides[1].received, TEST_ROUNDS);
    if (!is_sleep_protocol) {
        assert_true(sides[0].doorbells_sent >= TEST_ROUNDS);
        assert_true(sides[1].doorbells >= TEST_ROUNDS - 1);
    }
    /* Every wait ended by a doorbell, never by the 1 s timeout. */
    assert_true(sides[0].wait_ns_max < 500ull * 1000 * 1000);
    assert_true(sides[1].wait_ns_max < 500ull * 1000 * 1000);
    pthread_barrier_destroy(&barrier);
    xshard_deinit(&xshard);
}

static void test_ping_pong_wakes_sleepers(void **state)
{
    (void)state;
    test_ping_pong(false);
}

/* The same with the sleeping flag: doorbells go only to shards that may sleep, and none
 * is lost (a lost one would end a wait at the 1 s timeout). */
static void test_ping_pong_sleep_protocol(void **state)
{
    (void)state;
    test_ping_pong(true);
}

/* A destination that said it is awake gets no doorbell (it drains on its next pass);
 * one about to sleep does, and xshard_sleep_begin refuses to sleep over waiting entries. */
static void test_doorbell_skipped_for_awake_shard(void **state)
{
    (void)state;
    struct runtime_uring_options options;
    runtime_uring_options_default(&options);
    options.recv_buffer_count = 0;
    options.fixed_buffer_size_bytes = 0;
    struct runtime_uring *uring = NULL;
    char text[256];
    assert_int_equal(runtime_uring_create(&options, &uring, text, sizeof(text)), 0);
    struct xshard xshard;
    assert_int_equal(xshard_init(&xshard, 2, 8), 0);
    xshard_ring_fd_set(&xshard, 0, runtime_uring_ring_fd(uring));
    xshard_ring_fd_set(&xshard, 1, runtime_uring_ring_fd(uring));
    struct xshard_entry entry = {0};
    assert_int_equal(xshard_push(&xshard, 0, 1, XSHARD_CLASS_CLIENT, &entry), 0);
    assert_int_equal(xshard_flush(&xshard, 0, uring), 1); /* never said it is awake */
    xshard_sleep_end(&xshard, 1);
    assert_int_equal(xshard_push(&xshard, 0, 1, XSHARD_CLASS_CLIENT, &entry), 0);
    assert_int_equal(xshard_flush(&xshard, 0, uring), 0); /* awake: skipped */
    assert_int_equal(xshard_counters(&xshard, 0, 1)->doorbells_skipped, 1);
    assert_false(xshard_sleep_begin(&xshard, 1)); /* two entries wait: do not sleep */
    xshard_sleep_end(&xshard, 1);
    struct test_seen seen = {0};
    assert_int_equal(xshard_drain(&xshard, 1, 64, test_collect, &seen), 2);
    assert_true(xshard_sleep_begin(&xshard, 1)); /* empty: may sleep */
    assert_int_equal(xshard_push(&xshard, 0, 1, XSHARD_CLASS_CLIENT, &entry), 0);
    assert_int_equal(xshard_flush(&xshard, 0, uring), 1); /* asleep: rung */
    xshard_sleep_end(&xshard, 1);
    assert_int_equal(runtime_uring_counters(uring)->doorbells_sent, 2);
    xshard_deinit(&xshard);
    runtime_uring_destroy(uring);
}

int main(void)
{
    helper_assert_install();
    char text[256] = {0};
    if (runtime_uring_check_environment(0, text, sizeof(text)) != 0) {
        fprintf(stderr, "skipped: %s\n", text);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_queue_and_order),
        cmocka_unit_test(test_ping_pong_wakes_sleepers),
        cmocka_unit_test(test_ping_pong_sleep_protocol),
        cmocka_unit_test(test_doorbell_skipped_for_awake_shard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
