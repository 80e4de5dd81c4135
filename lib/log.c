/* Leveled key=value logging: formats into a stack buffer, one write(2) per line. */
#include "lib/log.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { LOG_LINE_SIZE_MAX = 2048 };

static enum log_level log_level_current = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {"debug", "info", "warn", "error", "off"};

void log_level_set(enum log_level level)
{
    assert(level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_OFF);
    log_level_current = level;
}

enum log_level log_level_get(void)
{
    return log_level_current;
}

int log_level_parse(const char *text, enum log_level *level_out)
{
    assert(text != NULL);
    assert(level_out != NULL);
    for (int level = LOG_LEVEL_DEBUG; level <= LOG_LEVEL_OFF; level++) {
        if (strcmp(text, log_level_names[level]) == 0) {
            *level_out = (enum log_level)level;
            return 0;
        }
    }
    return -RUNNEL_ECONFIG;
}

bool log_is_enabled(enum log_level level)
{
    return level != LOG_LEVEL_OFF && level >= log_level_current;
}

static size_t log_prefix(char *line, size_t size, enum log_level level, const char *event)
{
    struct timespec now;
    struct tm utc;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    int written = snprintf(line, size, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                           utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                           utc.tm_sec, now.tv_nsec / 1000000, log_level_names[level], event);
    assert(written > 0);
    return (size_t)written < size ? (size_t)written : size - 1;
}

void log_write(enum log_level level, const char *event, const char *format, ...)
{
    assert(event != NULL);
    assert(level >= LOG_LEVEL_DEBUG && level < LOG_LEVEL_OFF);
    if (!log_is_enabled(level)) {
        return;
    }
    char line[LOG_LINE_SIZE_MAX];
    size_t used = log_prefix(line, sizeof(line) - 1, level, event);
    if (format != NULL && format[0] != '\0' && used + 2 < sizeof(line) - 1) {
        line[used++] = ' ';
        va_list arguments;
        va_start(arguments, format);
        int written = vsnprintf(line + used, sizeof(line) - 1 - used, format, arguments);
        va_end(arguments);
        if (written > 0) {
            used += (size_t)written < sizeof(line) - 1 - used ? (size_t)written
                                                              : sizeof(line) - 2 - used;
        }
    }
    line[used++] = '\n';
    ssize_t result = write(STDERR_FILENO, line, used);
    maybe(result < 0); /* Nowhere to report a failed log write. */
    (void)result;
}
