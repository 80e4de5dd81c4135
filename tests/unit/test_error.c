/* Unit tests for lib/error: disjoint ranges and names. */
#include "lib/error.h"

#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_runnel_codes_are_not_errno(void **state)
{
    (void)state;
    assert_false(error_is_runnel(-ENOENT));
    assert_false(error_is_runnel(-EIO));
    assert_false(error_is_runnel(0));
    for (int code = RUNNEL_ERROR_BASE; code < RUNNEL_ERROR_END; code++) {
        assert_true(error_is_runnel(-code));
        assert_true(error_is_runnel(code));
    }
    assert_false(error_is_runnel(RUNNEL_ERROR_END));
}

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    assert_string_equal(error_text(0), "success");
    assert_string_equal(error_text(-RUNNEL_ECHECKSUM), "checksum mismatch");
    assert_string_equal(error_text(-ENOENT), strerror(ENOENT));
    assert_string_equal(error_text(-(RUNNEL_ERROR_END + 5)), "unknown error");
    for (int code = RUNNEL_ERROR_BASE; code < RUNNEL_ERROR_END; code++) {
        const char *name = error_text(-code);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
    }
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runnel_codes_are_not_errno),
        cmocka_unit_test(test_strerror_names_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
