/*
 * Always-on assertions for programmer errors (never for untrusted input).
 *
 * assert(expr) is on in every build, Release included: it logs file, line and
 * expression, then aborts. assert_msg(expr, msg) adds a message. assert_hot(expr) is
 * for hot paths: on in Debug and simulator builds (RUNNEL_ASSERT_HOT=1), compiled to
 * nothing in Release. Tests may install a hook (cmocka's mock_assert) with
 * assert_hook_set so that expect_assert_failure can observe a firing assertion.
 *
 * Include as "lib/assert.h"; it replaces <assert.h>'s assert.
 */
#ifndef RUNNEL_LIB_ASSERT_H
#define RUNNEL_LIB_ASSERT_H

#include <stdbool.h>
#include <stddef.h>

#ifndef RUNNEL_ASSERT_HOT
#define RUNNEL_ASSERT_HOT 0
#endif

/* Called before abort(); a test hook may longjmp out instead of returning. */
typedef void (*assert_hook_fn)(int result, const char *expression, const char *file, int line);

/* Installs hook (NULL restores the default: log and abort). Not thread-safe: tests only. */
void assert_hook_set(assert_hook_fn hook);

/* Reports a failed assertion and never returns. */
__attribute__((noreturn, cold)) void assert_fail(const char *expression, const char *message,
                                                 const char *file, int line);

#undef assert
#define assert(expr) \
    (__builtin_expect(!!(expr), 1) ? (void)0 : assert_fail(#expr, NULL, __FILE__, __LINE__))

#define assert_msg(expr, message) \
    (__builtin_expect(!!(expr), 1) ? (void)0 : assert_fail(#expr, (message), __FILE__, __LINE__))

#if RUNNEL_ASSERT_HOT
#define assert_hot(expr) assert(expr)
#else
#define assert_hot(expr) ((void)sizeof(!(expr)))
#endif

/* Marks code that must never run. */
#define unreachable_code() assert_fail("unreachable", NULL, __FILE__, __LINE__)

/* Documents that either outcome is fine; evaluates nothing. */
#define maybe(expr) ((void)sizeof(!(expr)))

#define MUST_USE __attribute__((warn_unused_result))

#endif
