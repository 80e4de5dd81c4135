/* Assertion failure reporting: one line to stderr, then abort (or a test hook). */
#include "lib/assert.h"

#include <stdio.h>
#include <stdlib.h>

static assert_hook_fn assert_hook;

void assert_hook_set(assert_hook_fn hook)
{
    assert_hook = hook;
}

void assert_fail(const char *expression, const char *message, const char *file, int line)
{
    if (assert_hook != NULL) {
        assert_hook(0, expression, file, line);
    }
    fprintf(stderr, "level=fatal event=assert_failed file=%s line=%d expression=\"%s\"%s%s%s\n",
            file, line, expression, message ? " message=\"" : "", message ? message : "",
            message ? "\"" : "");
    fflush(stderr);
    abort();
}
