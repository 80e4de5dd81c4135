/* Unit tests for lib/log: level names, thresholds, and the key=value line written to stderr
 * (captured by pointing stderr at a temporary file). */
#include "lib/error.h"
#include "lib/log.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

enum { TEST_CAPTURE_SIZE_MAX = 8192 };

struct test_capture {
    char path[64];
    int file_fd;
    int saved_stderr_fd;
    char text[TEST_CAPTURE_SIZE_MAX];
    size_t size_bytes;
};

static void test_capture_begin(struct test_capture *capture)
{
    strcpy(capture->path, "/tmp/runnel_test_log_XXXXXX");
    capture->file_fd = mkstemp(capture->path);
    assert_true(capture->file_fd >= 0);
    capture->saved_stderr_fd = dup(STDERR_FILENO);
    assert_true(capture->saved_stderr_fd >= 0);
    assert_true(dup2(capture->file_fd, STDERR_FILENO) >= 0);
}

/* Restores stderr and reads what was written into capture->text (NUL-terminated). */
static void test_capture_end(struct test_capture *capture)
{
    assert_true(dup2(capture->saved_stderr_fd, STDERR_FILENO) >= 0);
    close(capture->saved_stderr_fd);
    ssize_t got = pread(capture->file_fd, capture->text, sizeof(capture->text) - 1, 0);
    assert_true(got >= 0);
    capture->size_bytes = (size_t)got;
    capture->text[capture->size_bytes] = '\0';
    close(capture->file_fd);
    unlink(capture->path);
}

static void test_level_parse(void **state)
{
    (void)state;
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int level = LOG_LEVEL_DEBUG; level <= LOG_LEVEL_OFF; level++) {
        enum log_level parsed = LOG_LEVEL_OFF;
        assert_int_equal(log_level_parse(names[level], &parsed), 0);
        assert_int_equal(parsed, level);
    }
    static const char *const bad[] = {"", "INFO", "warning", "info ", "5"};
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        enum log_level parsed = LOG_LEVEL_WARN;
        assert_int_equal(log_level_parse(bad[index], &parsed), -RUNNEL_ECONFIG);
        assert_int_equal(parsed, LOG_LEVEL_WARN);
    }
}

static void test_is_enabled_thresholds(void **state)
{
    (void)state;
    enum log_level saved = log_level_get();
    log_level_set(LOG_LEVEL_WARN);
    assert_int_equal(log_level_get(), LOG_LEVEL_WARN);
    assert_false(log_is_enabled(LOG_LEVEL_DEBUG));
    assert_false(log_is_enabled(LOG_LEVEL_INFO));
    assert_true(log_is_enabled(LOG_LEVEL_WARN));
    assert_true(log_is_enabled(LOG_LEVEL_ERROR));
    log_level_set(LOG_LEVEL_DEBUG);
    assert_true(log_is_enabled(LOG_LEVEL_DEBUG));
    assert_false(log_is_enabled(LOG_LEVEL_OFF));
    log_level_set(LOG_LEVEL_OFF);
    assert_false(log_is_enabled(LOG_LEVEL_ERROR));
    log_level_set(saved);
}

/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ level=info event=x k=v */
static void test_line_format(void **state)
{
    (void)state;
    enum log_level saved = log_level_get();
    log_level_set(LOG_LEVEL_INFO);
    struct test_capture capture;
    test_capture_begin(&capture);
    log_info("x", "k=%d name=%s", 42, "abc");
    log_debug("hidden", "k=%d", 1);
    log_warn("bare", NULL);
    test_capture_end(&capture);
    log_level_set(saved);

    char *second = strchr(capture.text, '\n');
    assert_non_null(second);
    second++;
    assert_int_equal(strncmp(capture.text, "ts=", 3), 0);
    const char *ts = capture.text + 3; /* 2026-11-28T20:43:28.123Z */
    assert_true(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':' &&
                ts[19] == '.' && ts[23] == 'Z' && ts[24] == ' ');
    assert_int_equal(strncmp(ts + 24, " level=info event=x k=42 name=abc\n", 34), 0);
    assert_int_equal(strncmp(second, "ts=", 3), 0);
    assert_int_equal(strcmp(second + 27, " level=warn event=bare\n"), 0);
    assert_null(strstr(capture.text, "hidden"));
}

/* An over-long tail is cut, but the line still ends with a newline, in one write. */
static void test_long_line_is_truncated(void **state)
{
    (void)state;
    static char long_value[4000];
    memset(long_value, 'v', sizeof(long_value) - 1);
    struct test_capture capture;
    test_capture_begin(&capture);
    log_error("long", "value=%s", long_value);
    test_capture_end(&capture);
    assert_true(capture.size_bytes > 1000 && capture.size_bytes <= 2048);
    assert_int_equal(capture.text[capture.size_bytes - 1], '\n');
    assert_ptr_equal(strchr(capture.text, '\n'), capture.text + capture.size_bytes - 1);
}

static void test_contract_assertions_fire(void **state)
{
    (void)state;
    enum log_level parsed;
    expect_assert_failure(log_level_parse(NULL, &parsed));
    expect_assert_failure(log_level_set((enum log_level)7));
    expect_assert_failure(log_write(LOG_LEVEL_OFF, "x", "k=%d", 1));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_is_enabled_thresholds),
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_long_line_is_truncated),
        cmocka_unit_test(test_contract_assertions_fire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
