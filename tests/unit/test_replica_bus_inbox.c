/* Unit tests for node/replica_bus_inbox: messages come out in order with their bodies,
 * entries wrap around the ring without being split, a full inbox drops and counts, sizes
 * out of range are refused, and a seeded random push/pop sequence against a model queue. */
#include "lib/prng.h"
#include "node/replica_bus_inbox.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { TEST_BODY_MAX = 1u << 20, TEST_MODEL_MAX = 4096 };

static uint8_t test_body[TEST_BODY_MAX];

/* A message whose view is its sequence number and whose body bytes derive from it. */
static void test_message(struct vsr_header *header, uint32_t sequence, uint32_t body_size)
{
    memset(header, 0, sizeof(*header));
    header->size = VSR_HEADER_SIZE + body_size;
    header->view = sequence;
    for (uint32_t index = 0; index < body_size; index++) {
        test_body[index] = (uint8_t)(sequence * 31u + index);
    }
}

/* Peeks the oldest message, checks it is sequence with body_size bytes, pops it. */
static void test_expect(struct replica_bus_inbox *inbox, uint32_t sequence, uint32_t body_size)
{
    const void *body = NULL;
    const struct vsr_header *header = replica_bus_inbox_peek(inbox, &body);
    assert_non_null(header);
    assert_int_equal((uintptr_t)header % 16, 0);
    assert_int_equal(header->view, sequence);
    assert_int_equal(header->size, VSR_HEADER_SIZE + body_size);
    const uint8_t *bytes = body;
    for (uint32_t index = 0; index < body_size; index += 997) {
        assert_int_equal(bytes[index], (uint8_t)(sequence * 31u + index));
    }
    replica_bus_inbox_pop(inbox);
}

static void test_order_wrap_and_full(void **state)
{
    (void)state;
    struct replica_bus_inbox inbox;
    assert_int_equal(replica_bus_inbox_init(&inbox, VSR_HEADER_SIZE + TEST_BODY_MAX), 0);
    struct vsr_header header;
    uint32_t pushed = 0;
    while (true) { /* 1 MiB messages until full: never split, so fewer than capacity / 1 MiB */
        test_message(&header, pushed, TEST_BODY_MAX - 1000);
        if (!replica_bus_inbox_push(&inbox, &header, test_body)) {
            break;
        }
        pushed++;
        assert_true(pushed < 64);
    }
    assert_true(pushed >= 2);
    assert_int_equal(inbox.dropped, 1);
    test_expect(&inbox, 0, TEST_BODY_MAX - 1000);
    test_message(&header, 100, TEST_BODY_MAX - 1000); /* wraps to the start */
    assert_true(replica_bus_inbox_push(&inbox, &header, test_body));
    assert_true(inbox.is_wrapped);
    for (uint32_t sequence = 1; sequence < pushed; sequence++) {
        test_expect(&inbox, sequence, TEST_BODY_MAX - 1000);
    }
    test_expect(&inbox, 100, TEST_BODY_MAX - 1000);
    const void *body = NULL;
    assert_null(replica_bus_inbox_peek(&inbox, &body));
    assert_int_equal(inbox.head, 0);
    assert_int_equal(inbox.tail, 0);
    test_message(&header, 7, 0); /* bodiless */
    assert_true(replica_bus_inbox_push(&inbox, &header, NULL));
    test_expect(&inbox, 7, 0);
    header.size = VSR_HEADER_SIZE - 1; /* out of range: refused, counted */
    assert_false(replica_bus_inbox_push(&inbox, &header, NULL));
    header.size = inbox.capacity;
    assert_false(replica_bus_inbox_push(&inbox, &header, test_body));
    assert_int_equal(inbox.dropped, 3);
    replica_bus_inbox_deinit(&inbox);
}

static void test_random_against_model(void **state)
{
    (void)state;
    struct replica_bus_inbox inbox;
    assert_int_equal(replica_bus_inbox_init(&inbox, VSR_HEADER_SIZE + TEST_BODY_MAX), 0);
    static uint32_t model_sequence[TEST_MODEL_MAX];
    static uint32_t model_size[TEST_MODEL_MAX];
    uint32_t head = 0, tail = 0, next = 0;
    struct prng prng;
    prng_init(&prng, 0x1b0c5);
    struct vsr_header header;
    for (uint32_t step = 0; step < 20000; step++) {
        if (prng_percent(&prng, 55) && tail - head < TEST_MODEL_MAX) {
            uint32_t size = prng_percent(&prng, 10) ? (uint32_t)prng_range(&prng, TEST_BODY_MAX)
                                                    : (uint32_t)prng_range(&prng, 4096);
            test_message(&header, next, size);
            bool was_empty = inbox.count == 0;
            if (replica_bus_inbox_push(&inbox, &header, test_body)) {
                model_sequence[tail % TEST_MODEL_MAX] = next;
                model_size[tail % TEST_MODEL_MAX] = size;
                tail++;
            } else {
                assert_false(was_empty); /* an empty inbox takes any message in range */
            }
            next++;
        } else if (head < tail) {
            test_expect(&inbox, model_sequence[head % TEST_MODEL_MAX],
                        model_size[head % TEST_MODEL_MAX]);
            head++;
        }
        assert_int_equal(inbox.count, tail - head);
    }
    while (head < tail) {
        test_expect(&inbox, model_sequence[head % TEST_MODEL_MAX],
                    model_size[head % TEST_MODEL_MAX]);
        head++;
    }
    replica_bus_inbox_deinit(&inbox);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_wrap_and_full),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
