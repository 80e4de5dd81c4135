/* Unit tests for node/frame_reader: frames fed by hand in place and split over buffers at
 * every cut point, the idempotent retry contract, bad sizes, slot exhaustion and the retry
 * after it, and the exact gap/fill path of a moving connection. */
#include "lib/error.h"
#include "node/frame_reader.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { TEST_STREAM_SIZE = 256 + 300 + 1000 + 256 };

static const uint32_t test_sizes[4] = {256, 300, 1000, 256};

static void test_frame_make(uint8_t *frame, uint32_t size, uint8_t seed)
{
    for (uint32_t index = 0; index < size; index++) {
        frame[index] = (uint8_t)(seed + index * 13u);
    }
    frame[48] = (uint8_t)size;
    frame[49] = (uint8_t)(size >> 8);
    frame[50] = 0;
    frame[51] = 0;
}

static uint32_t test_stream_make(uint8_t *stream)
{
    uint32_t offset = 0;
    for (uint32_t index = 0; index < 4; index++) {
        test_frame_make(stream + offset, test_sizes[index], (uint8_t)(index * 50));
        offset += test_sizes[index];
    }
    assert_int_equal(offset, TEST_STREAM_SIZE);
    return offset;
}

/* Feeds chunk to reader, checking each frame against the stream; returns frames seen. */
static uint32_t test_feed(struct frame_reader *reader, const uint8_t *chunk, uint32_t size,
                          const uint8_t *stream, uint32_t *frame_index, uint32_t *frame_offset)
{
    uint32_t offset = 0;
    uint32_t frames = 0;
    for (uint32_t guard = 0; guard < 16; guard++) {
        uint32_t consumed = 0;
        struct frame_view frame;
        int result = frame_reader_next(reader, chunk + offset, size - offset, &consumed, &frame);
        assert_true(result >= 0);
        if (result == 0) {
            assert_int_equal(consumed, size - offset);
            return frames;
        }
        /* Asking again before done gives the same answer (backpressure retry). */
        uint32_t again_consumed = 0;
        struct frame_view again;
        assert_int_equal(
            frame_reader_next(reader, chunk + offset, size - offset, &again_consumed, &again), 1);
        assert_int_equal(again_consumed, consumed);
        assert_ptr_equal(again.bytes, frame.bytes);
        assert_int_equal(frame.size_bytes, test_sizes[*frame_index]);
        assert_memory_equal(frame.bytes, stream + *frame_offset, frame.size_bytes);
        frame_reader_done(reader);
        *frame_offset += frame.size_bytes;
        (*frame_index)++;
        offset += consumed;
        frames++;
        if (offset == size) {
            return frames;
        }
    }
    fail();
    return frames;
}

static void test_every_split(void **state)
{
    (void)state;
    static uint8_t stream[TEST_STREAM_SIZE];
    uint32_t total = test_stream_make(stream);
    struct frame_pool pool;
    assert_int_equal(frame_pool_init(&pool, 2, 4096), 0);
    struct frame_reader reader;
    for (uint32_t cut_a = 1; cut_a < total; cut_a += 7) {
        for (uint32_t cut_b = cut_a; cut_b < total; cut_b += 61) {
            frame_reader_init(&reader, &pool, 4096);
            uint32_t frame_index = 0, frame_offset = 0, frames = 0;
            frames += test_feed(&reader, stream, cut_a, stream, &frame_index, &frame_offset);
            frames += test_feed(&reader, stream + cut_a, cut_b - cut_a, stream, &frame_index,
                                &frame_offset);
            frames += test_feed(&reader, stream + cut_b, total - cut_b, stream, &frame_index,
                                &frame_offset);
            assert_int_equal(frames, 4);
            assert_true(frame_reader_is_idle(&reader));
            assert_int_equal(pool.free_count, 2);
        }
    }
    frame_pool_deinit(&pool);
}

static void test_in_place_when_whole(void **state)
{
    (void)state;
    static uint8_t stream[TEST_STREAM_SIZE];
    uint32_t total = test_stream_make(stream);
    struct frame_pool pool;
    assert_int_equal(frame_pool_init(&pool, 1, 4096), 0);
    struct frame_reader reader;
    frame_reader_init(&reader, &pool, 4096);
    uint32_t consumed = 0;
    struct frame_view frame;
    assert_int_equal(frame_reader_next(&reader, stream, total, &consumed, &frame), 1);
    assert_ptr_equal(frame.bytes, stream); /* no copy */
    assert_int_equal(consumed, 256);
    frame_reader_done(&reader);
    assert_int_equal(frame_reader_next(&reader, stream + 256, total - 256, &consumed, &frame), 1);
    assert_ptr_equal(frame.bytes, stream + 256);
    assert_int_equal(frame.size_bytes, 300);
    frame_reader_done(&reader);
    frame_pool_deinit(&pool);
}

static void test_bad_sizes_and_exhaustion(void **state)
{
    (void)state;
    uint8_t frame[600];
    struct frame_pool pool;
    assert_int_equal(frame_pool_init(&pool, 1, 1024), 0);
    struct frame_reader reader;
    uint32_t consumed = 0;
    struct frame_view view;
    test_frame_make(frame, 255, 1);
    frame_reader_init(&reader, &pool, 512);
    assert_int_equal(frame_reader_next(&reader, frame, 600, &consumed, &view), -RUNNEL_EFORMAT);
    test_frame_make(frame, 513, 1);
    frame_reader_init(&reader, &pool, 512);
    assert_int_equal(frame_reader_next(&reader, frame, 600, &consumed, &view), -RUNNEL_ETOOLARGE);
    /* A split header with a bad size is caught once the header is whole. */
    frame_reader_init(&reader, &pool, 512);
    assert_int_equal(frame_reader_next(&reader, frame, 40, &consumed, &view), 0);
    assert_int_equal(frame_reader_next(&reader, frame + 40, 560, &consumed, &view),
                     -RUNNEL_ETOOLARGE);
    frame_reader_reset(&reader);
    /* Two split frames, one slot: the second is refused until the first is done. */
    test_frame_make(frame, 400, 1);
    struct frame_reader other;
    frame_reader_init(&reader, &pool, 512);
    frame_reader_init(&other, &pool, 512);
    assert_int_equal(frame_reader_next(&reader, frame, 300, &consumed, &view), 0);
    assert_int_equal(frame_reader_next(&other, frame, 300, &consumed, &view), -RUNNEL_EFULL);
    assert_int_equal(pool.exhausted_count, 1);
    frame_reader_reset(&other);
    assert_int_equal(frame_reader_next(&reader, frame + 300, 100, &consumed, &view), 1);
    assert_int_equal(consumed, 100);
    assert_memory_equal(view.bytes, frame, 400);
    frame_reader_done(&reader);
    expect_assert_failure(frame_reader_init(&reader, &pool, 2048));
    frame_pool_deinit(&pool);
}

/* A refused slot (pool empty) keeps the header taken so far; asking again once a slot is
 * free continues the frame (before the fix the retry copied into slot -1 and asserted). */
static void test_slot_refused_then_retried(void **state)
{
    (void)state;
    struct frame_pool pool;
    assert_int_equal(frame_pool_init(&pool, 1, 4096), 0);
    static struct frame_reader first, second;
    frame_reader_init(&first, &pool, 4096);
    frame_reader_init(&second, &pool, 4096);
    uint8_t frame[1000];
    test_frame_make(frame, sizeof(frame), 9);
    uint32_t consumed = 0;
    struct frame_view view;
    assert_int_equal(frame_reader_next(&first, frame, 500, &consumed, &view), 0); /* slot */
    assert_int_equal(frame_reader_next(&second, frame, 400, &consumed, &view), -RUNNEL_EFULL);
    assert_int_equal(consumed, 256); /* the header was kept */
    assert_int_equal(frame_reader_next(&second, frame + 256, 144, &consumed, &view), -RUNNEL_EFULL);
    assert_int_equal(consumed, 0);
    assert_int_equal(frame_reader_next(&first, frame + 500, 500, &consumed, &view), 1);
    frame_reader_done(&first);
    assert_int_equal(frame_reader_next(&second, frame + 256, 744, &consumed, &view), 1);
    assert_int_equal(consumed, 744);
    assert_int_equal(view.size_bytes, sizeof(frame));
    assert_memory_equal(view.bytes, frame, sizeof(frame));
    frame_reader_done(&second);
    frame_pool_deinit(&pool);
}

/* The exact path used by a moving connection: the gap is never larger than what the
 * current frame still needs, and a frame completed by fill is returned by next(NULL, 0). */
static void test_gap_and_fill(void **state)
{
    (void)state;
    struct frame_pool pool;
    assert_int_equal(frame_pool_init(&pool, 1, 4096), 0);
    static struct frame_reader reader;
    frame_reader_init(&reader, &pool, 4096);
    uint8_t frame[1000], next[256];
    test_frame_make(frame, sizeof(frame), 3);
    test_frame_make(next, sizeof(next), 4);
    uint8_t *gap = NULL;
    uint32_t gap_size = 0;
    assert_false(frame_reader_gap(&reader, &gap, &gap_size)); /* at a boundary */
    uint32_t consumed = 0;
    struct frame_view view;
    assert_int_equal(frame_reader_next(&reader, frame, 100, &consumed, &view), 0);
    assert_true(frame_reader_gap(&reader, &gap, &gap_size));
    assert_int_equal(gap_size, 156); /* the rest of the header only */
    memcpy(gap, frame + 100, 100);
    assert_int_equal(frame_reader_fill(&reader, 100), 0);
    assert_true(frame_reader_gap(&reader, &gap, &gap_size));
    assert_int_equal(gap_size, 56);
    memcpy(gap, frame + 200, 56);
    assert_int_equal(frame_reader_fill(&reader, 56), 0);
    assert_true(frame_reader_gap(&reader, &gap, &gap_size));
    assert_int_equal(gap_size, 744); /* the body, into the slot */
    memcpy(gap, frame + 256, 744);
    assert_int_equal(frame_reader_fill(&reader, 744), 1);
    assert_true(frame_reader_is_ready(&reader));
    assert_false(frame_reader_gap(&reader, &gap, &gap_size));
    assert_int_equal(frame_reader_next(&reader, NULL, 0, &consumed, &view), 1);
    assert_int_equal(consumed, 0);
    assert_memory_equal(view.bytes, frame, sizeof(frame));
    frame_reader_done(&reader);
    /* A header-only frame completes with its header; a bad size is an error. */
    assert_int_equal(frame_reader_next(&reader, next, 10, &consumed, &view), 0);
    assert_true(frame_reader_gap(&reader, &gap, &gap_size));
    memcpy(gap, next + 10, gap_size);
    assert_int_equal(frame_reader_fill(&reader, gap_size), 1);
    assert_int_equal(frame_reader_next(&reader, NULL, 0, &consumed, &view), 1);
    assert_int_equal(view.size_bytes, 256);
    frame_reader_done(&reader);
    next[49] = 0x20; /* 8192 + 256: over the maximum */
    assert_int_equal(frame_reader_next(&reader, next, 10, &consumed, &view), 0);
    assert_true(frame_reader_gap(&reader, &gap, &gap_size));
    memcpy(gap, next + 10, gap_size);
    assert_int_equal(frame_reader_fill(&reader, gap_size), -RUNNEL_ETOOLARGE);
    frame_reader_reset(&reader);
    frame_pool_deinit(&pool);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_in_place_when_whole),
        cmocka_unit_test(test_bad_sizes_and_exhaustion),
        cmocka_unit_test(test_slot_refused_then_retried),
        cmocka_unit_test(test_gap_and_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
