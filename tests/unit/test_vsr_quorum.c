/* Unit tests for vsr/quorum: TigerBeetle's quorum table and the intersection properties. */
#include "vsr/quorum.h"

#include "proto/vsr_header.h"
#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* research/vsr.md §1.2 and DESIGN.md §4 (view change = max(flexible, majority)). */
static void test_quorum_table(void **state)
{
    (void)state;
    static const uint32_t replication[] = {0, 1, 2, 2, 2, 3, 3};
    static const uint32_t view_change[] = {0, 1, 2, 2, 3, 3, 4};
    static const uint32_t nack[] = {0, 1, 1, 2, 3, 3, 4};
    for (uint32_t count = 1; count <= VSR_REPLICAS_MAX; count++) {
        assert_int_equal(vsr_quorum_replication(count), replication[count]);
        assert_int_equal(vsr_quorum_view_change(count), view_change[count]);
        assert_int_equal(vsr_quorum_nack(count), nack[count]);
    }
}

/* Every view-change quorum meets every replication quorum; a nack quorum excludes one. */
static void test_quorum_intersections(void **state)
{
    (void)state;
    for (uint32_t count = 1; count <= VSR_REPLICAS_MAX; count++) {
        uint32_t all = (1u << count) - 1;
        for (uint32_t a = 0; a <= all; a++) {
            for (uint32_t b = 0; b <= all; b++) {
                bool a_replication = vsr_quorum_count(a) >= vsr_quorum_replication(count);
                bool b_view_change = vsr_quorum_count(b) >= vsr_quorum_view_change(count);
                if (a_replication && b_view_change) {
                    assert_true((a & b) != 0);
                }
                /* b nacks: disjoint from holders a, so a can't be a replication quorum. */
                bool b_nack = vsr_quorum_count(b) >= vsr_quorum_nack(count);
                if (b_nack && (a & b) == 0) {
                    assert_false(a_replication);
                }
            }
        }
    }
}

/* The op a replication quorum reached: the replication-quorum-th highest, in any order. */
static void test_quorum_op(void **state)
{
    (void)state;
    uint64_t one[] = {7};
    assert_int_equal(vsr_quorum_op(one, 1), 7);
    uint64_t two[] = {3, 9};
    assert_int_equal(vsr_quorum_op(two, 2), 3); /* n = 2: both */
    uint64_t three[] = {5, 9, 1};
    assert_int_equal(vsr_quorum_op(three, 3), 5);
    uint64_t six[] = {4, 10, 2, 8, 6, 12};
    assert_int_equal(vsr_quorum_op(six, 6), 8); /* replication 3: the third highest */
    assert_int_equal(six[0], 4);                /* the input is left as it was */
}

static void test_quorum_rejects_bad_counts(void **state)
{
    (void)state;
    expect_assert_failure(vsr_quorum_replication(0));
    expect_assert_failure(vsr_quorum_view_change(VSR_REPLICAS_MAX + 1));
    expect_assert_failure(vsr_quorum_nack(0));
    assert_int_equal(vsr_quorum_count(0x2d), 4);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorum_table),
        cmocka_unit_test(test_quorum_intersections),
        cmocka_unit_test(test_quorum_op),
        cmocka_unit_test(test_quorum_rejects_bad_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
