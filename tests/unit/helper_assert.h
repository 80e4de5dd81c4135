/*
 * Test helper: routes runnel's assert() into cmocka's mock_assert so that
 * expect_assert_failure(call) can check that an assertion fires.
 * Call helper_assert_install() at the start of main().
 */
#ifndef RUNNEL_TESTS_HELPER_ASSERT_H
#define RUNNEL_TESTS_HELPER_ASSERT_H

void helper_assert_install(void);

#endif
