/*
 * Leveled key=value logging to stderr, one line per event:
 *   ts=2026-11-28T20:43:28.123Z level=info event=startup shard=0 port=8090
 * The caller supplies the event name and a printf-style tail of key=value pairs.
 * Lines are written with one write(2) so concurrent shards do not interleave.
 */
#ifndef RUNNEL_LIB_LOG_H
#define RUNNEL_LIB_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
    LOG_LEVEL_OFF = 4,
};

/* Sets the minimum level written (process-wide; set before threads start). */
void log_level_set(enum log_level level);
enum log_level log_level_get(void);

/* Parses "debug", "info", "warn", "error" or "off"; returns 0 or -RUNNEL_ECONFIG. */
int log_level_parse(const char *text, enum log_level *level_out);

bool log_is_enabled(enum log_level level);

/* Writes one line if level is enabled. format may be NULL (no tail). */
__attribute__((format(printf, 3, 4))) void log_write(enum log_level level, const char *event,
                                                     const char *format, ...);

#define log_debug(event, ...) log_write(LOG_LEVEL_DEBUG, event, __VA_ARGS__)
#define log_info(event, ...)  log_write(LOG_LEVEL_INFO, event, __VA_ARGS__)
#define log_warn(event, ...)  log_write(LOG_LEVEL_WARN, event, __VA_ARGS__)
#define log_error(event, ...) log_write(LOG_LEVEL_ERROR, event, __VA_ARGS__)

#endif
