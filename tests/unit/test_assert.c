/* Unit tests for lib/assert: assertions fire through the test hook, and without a hook they
 * log one key=value line and abort the process (checked in a forked child). */
#include "lib/assert.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static int test_checked_half(int value)
{
    assert(value % 2 == 0);
    return value / 2;
}

static int test_checked_with_message(int value)
{
    assert_msg(value > 0, "value must be positive");
    return value;
}

static int test_checked_hot(int value)
{
    assert_hot(value != 3);
    return value;
}

static void test_assert_passes_and_fires(void **state)
{
    (void)state;
    assert_int_equal(test_checked_half(8), 4);
    expect_assert_failure(test_checked_half(7));
    assert_int_equal(test_checked_with_message(5), 5);
    expect_assert_failure(test_checked_with_message(0));
    expect_assert_failure(unreachable_code());
}

/* assert_hot compiles in every build; it checks only where RUNNEL_ASSERT_HOT is 1. */
static void test_assert_hot_depends_on_build(void **state)
{
    (void)state;
    assert_int_equal(test_checked_hot(4), 4);
#if RUNNEL_ASSERT_HOT
    expect_assert_failure(test_checked_hot(3));
#else
    assert_int_equal(test_checked_hot(3), 3);
#endif
    int evaluated = 0;
    maybe(evaluated++ == 0); /* documents only: never evaluated */
    assert_int_equal(evaluated, 0);
}

/* Without a hook a failed assertion writes level=fatal ... and aborts, in Release too. */
static void test_default_failure_logs_and_aborts(void **state)
{
    (void)state;
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pipe_fds[0]);
        dup2(pipe_fds[1], STDERR_FILENO);
        assert_hook_set(NULL);
        test_checked_with_message(-1);
        _exit(0); /* not reached when the assertion aborts */
    }
    close(pipe_fds[1]);
    char output[1024] = {0};
    size_t used = 0;
    for (int reads = 0; reads < 64 && used < sizeof(output) - 1; reads++) {
        ssize_t got = read(pipe_fds[0], output + used, sizeof(output) - 1 - used);
        if (got <= 0) {
            break;
        }
        used += (size_t)got;
    }
    close(pipe_fds[0]);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(output, "level=fatal event=assert_failed file="));
    assert_non_null(strstr(output, "expression=\"value > 0\""));
    assert_non_null(strstr(output, "message=\"value must be positive\""));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assert_passes_and_fires),
        cmocka_unit_test(test_assert_hot_depends_on_build),
        cmocka_unit_test(test_default_failure_logs_and_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
