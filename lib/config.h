/*
 * Schema-driven configuration. A program describes its settings as a table of
 * struct config_key (section, key, type, allowed range, default, where the value lives
 * in the program's config struct). This module fills such a struct from the defaults,
 * from an INI file (inih) and from "section.key=value" assignments (--set), validating
 * every value. An error names the key, the value and what is allowed, in one line.
 * Nothing here allocates; strings are copied into fixed-size arrays in the target.
 */
#ifndef RUNNEL_LIB_CONFIG_H
#define RUNNEL_LIB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum config_type {
    CONFIG_TYPE_U64,    /* uint64_t; accepts K/M/G/T (1024-based) suffixes when is_size */
    CONFIG_TYPE_U32,    /* uint32_t */
    CONFIG_TYPE_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 */
    CONFIG_TYPE_STRING, /* char[string_size_max] */
    CONFIG_TYPE_ENUM,   /* uint32_t index into enum_names */
};

struct config_key {
    const char *section;
    const char *key;
    enum config_type type;
    size_t offset;      /* offsetof(program struct, field) */
    uint64_t value_min; /* integers: inclusive range */
    uint64_t value_max;
    size_t string_size_max;        /* strings: size of the char array, NUL included */
    const char *const *enum_names; /* enums: NULL-terminated list */
    const char *default_text;      /* parsed like any other value */
    const char *help;
};

struct config_schema {
    const struct config_key *keys;
    size_t key_count;
};

enum { CONFIG_ERROR_SIZE_MAX = 512 };

struct config_error {
    char text[CONFIG_ERROR_SIZE_MAX]; /* one line, no newline */
};

/* Writes every key's default into target. Returns 0 or -RUNNEL_ECONFIG (a bad default). */
int config_defaults(const struct config_schema *schema, void *target, struct config_error *error);

/* Parses and validates value for section.key; target is unchanged on error. */
int config_set(const struct config_schema *schema, void *target, const char *section,
               const char *key, const char *value, struct config_error *error);

/* Applies "section.key=value". */
int config_set_assignment(const struct config_schema *schema, void *target, const char *assignment,
                          struct config_error *error);

/* Loads an INI file; stops at the first error. Unknown sections and keys are errors. */
int config_load_file(const struct config_schema *schema, void *target, const char *path,
                     struct config_error *error);

/* Logs every key and its effective value (event=config). */
void config_log(const struct config_schema *schema, const void *target);

/* Writes a help listing of every key, its default and range to stream (a FILE *). */
void config_print_help(const struct config_schema *schema, void *stream);

#endif
