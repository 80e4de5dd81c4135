/* Configuration loading and validation over a program-supplied schema (see config.h). */
#include "lib/config.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <ini.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CONFIG_VALUE_TEXT_MAX = 256, CONFIG_NAME_MAX = 128 };

__attribute__((format(printf, 2, 3))) static int config_fail(struct config_error *error,
                                                             const char *format, ...)
{
    if (error != NULL) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(error->text, sizeof(error->text), format, arguments);
        va_end(arguments);
    }
    return -RUNNEL_ECONFIG;
}

static const struct config_key *config_find(const struct config_schema *schema, const char *section,
                                            const char *key)
{
    for (size_t index = 0; index < schema->key_count; index++) {
        const struct config_key *entry = &schema->keys[index];
        if (strcmp(entry->section, section) == 0 && strcmp(entry->key, key) == 0) {
            return entry;
        }
    }
    return NULL;
}

static int config_parse_u64(const char *text, uint64_t *value_out)
{
    if (text[0] < '0' || text[0] > '9') {
        return -RUNNEL_ECONFIG;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text) {
        return -RUNNEL_ECONFIG;
    }
    uint64_t multiplier = 1;
    if (*end != '\0') {
        const char *suffixes = "KMGT";
        const char *found = strchr(suffixes, *end);
        if (found == NULL || end[1] != '\0') {
            return -RUNNEL_ECONFIG;
        }
        multiplier = 1ULL << (10 * (found - suffixes + 1));
    }
    if (value > UINT64_MAX / multiplier) {
        return -RUNNEL_ECONFIG;
    }
    *value_out = (uint64_t)value * multiplier;
    return 0;
}

static int config_parse_bool(const char *text, bool *value_out)
{
    static const char *const truths[] = {"true", "yes", "on", "1"};
    static const char *const falsehoods[] = {"false", "no", "off", "0"};
    for (size_t index = 0; index < 4; index++) {
        if (strcmp(text, truths[index]) == 0) {
            *value_out = true;
            return 0;
        }
        if (strcmp(text, falsehoods[index]) == 0) {
            *value_out = false;
            return 0;
        }
    }
    return -RUNNEL_ECONFIG;
}

static void config_enum_allowed(const struct config_key *entry, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    for (size_t index = 0; entry->enum_names[index] != NULL && index < 64; index++) {
        int written =
            snprintf(text + used, size - used, "%s%s", index ? "|" : "", entry->enum_names[index]);
        if (written < 0 || (size_t)written >= size - used) {
            break;
        }
        used += (size_t)written;
    }
}

static int config_set_integer(const struct config_key *entry, void *field, const char *value,
                              struct config_error *error)
{
    uint64_t number = 0;
    if (config_parse_u64(value, &number) != 0 || number < entry->value_min ||
        number > entry->value_max) {
        return config_fail(error, "config: invalid value key=%s.%s value=\"%s\" allowed=%llu..%llu",
                           entry->section, entry->key, value, (unsigned long long)entry->value_min,
                           (unsigned long long)entry->value_max);
    }
    if (entry->type == CONFIG_TYPE_U32) {
        assert(entry->value_max <= UINT32_MAX);
        uint32_t narrow = (uint32_t)number;
        memcpy(field, &narrow, sizeof(narrow));
    } else {
        memcpy(field, &number, sizeof(number));
    }
    return 0;
}

static int config_set_entry(const struct config_key *entry, void *target, const char *value,
                            struct config_error *error)
{
    char *field = (char *)target + entry->offset;
    if (entry->type == CONFIG_TYPE_U64 || entry->type == CONFIG_TYPE_U32) {
        return config_set_integer(entry, field, value, error);
    }
    if (entry->type == CONFIG_TYPE_BOOL) {
        bool flag = false;
        if (config_parse_bool(value, &flag) != 0) {
            return config_fail(error,
                               "config: invalid value key=%s.%s value=\"%s\" allowed=true|false",
                               entry->section, entry->key, value);
        }
        memcpy(field, &flag, sizeof(flag));
        return 0;
    }
    if (entry->type == CONFIG_TYPE_STRING) {
        size_t size = strlen(value);
        assert(entry->string_size_max > 0);
        if (size < entry->value_min || size >= entry->string_size_max) {
            return config_fail(
                error,
                "config: invalid value key=%s.%s value=\"%s\" allowed=string of %llu..%zu bytes",
                entry->section, entry->key, value, (unsigned long long)entry->value_min,
                entry->string_size_max - 1);
        }
        memcpy(field, value, size + 1);
        return 0;
    }
    assert(entry->type == CONFIG_TYPE_ENUM);
    assert(entry->enum_names != NULL);
    for (uint32_t index = 0; entry->enum_names[index] != NULL && index < 64; index++) {
        if (strcmp(entry->enum_names[index], value) == 0) {
            memcpy(field, &index, sizeof(index));
            return 0;
        }
    }
    char allowed[CONFIG_VALUE_TEXT_MAX];
    config_enum_allowed(entry, allowed, sizeof(allowed));
    return config_fail(error, "config: invalid value key=%s.%s value=\"%s\" allowed=%s",
                       entry->section, entry->key, value, allowed);
}

int config_set(const struct config_schema *schema, void *target, const char *section,
               const char *key, const char *value, struct config_error *error)
{
    assert(schema != NULL);
    assert(target != NULL);
    assert(section != NULL && key != NULL && value != NULL);
    const struct config_key *entry = config_find(schema, section, key);
    if (entry == NULL) {
        return config_fail(error,
                           "config: unknown key key=%s.%s value=\"%s\" allowed=see --help-config",
                           section, key, value);
    }
    return config_set_entry(entry, target, value, error);
}

int config_defaults(const struct config_schema *schema, void *target, struct config_error *error)
{
    assert(schema != NULL);
    assert(target != NULL);
    for (size_t index = 0; index < schema->key_count; index++) {
        const struct config_key *entry = &schema->keys[index];
        assert(entry->default_text != NULL);
        int result = config_set_entry(entry, target, entry->default_text, error);
        if (result != 0) {
            return result;
        }
    }
    return 0;
}

int config_set_assignment(const struct config_schema *schema, void *target, const char *assignment,
                          struct config_error *error)
{
    assert(assignment != NULL);
    const char *dot = strchr(assignment, '.');
    const char *equals = strchr(assignment, '=');
    if (dot == NULL || equals == NULL || dot > equals || dot == assignment || equals == dot + 1) {
        return config_fail(
            error, "config: invalid assignment value=\"%s\" allowed=section.key=value", assignment);
    }
    size_t section_size = (size_t)(dot - assignment);
    size_t key_size = (size_t)(equals - dot - 1);
    if (section_size >= CONFIG_NAME_MAX || key_size >= CONFIG_NAME_MAX) {
        return config_fail(error,
                           "config: invalid assignment value=\"%s\" allowed=names under %d bytes",
                           assignment, CONFIG_NAME_MAX);
    }
    char section[CONFIG_NAME_MAX];
    char key[CONFIG_NAME_MAX];
    memcpy(section, assignment, section_size);
    section[section_size] = '\0';
    memcpy(key, dot + 1, key_size);
    key[key_size] = '\0';
    return config_set(schema, target, section, key, equals + 1, error);
}

struct config_load_context {
    const struct config_schema *schema;
    void *target;
    struct config_error *error;
    int result;
};

static int config_ini_handler(void *user, const char *section, const char *key, const char *value)
{
    struct config_load_context *context = user;
    if (context->result != 0) {
        return 0;
    }
    context->result =
        config_set(context->schema, context->target, section, key, value, context->error);
    return context->result == 0 ? 1 : 0;
}

int config_load_file(const struct config_schema *schema, void *target, const char *path,
                     struct config_error *error)
{
    assert(schema != NULL && target != NULL && path != NULL);
    struct config_load_context context = {schema, target, error, 0};
    int result = ini_parse(path, config_ini_handler, &context);
    if (context.result != 0) {
        return context.result;
    }
    if (result == -1) {
        return config_fail(error, "config: cannot open file path=\"%s\"", path);
    }
    if (result != 0) {
        return config_fail(error, "config: syntax error path=\"%s\" line=%d", path, result);
    }
    return 0;
}

static void config_format_value(const struct config_key *entry, const void *target, char *text,
                                size_t size)
{
    const char *field = (const char *)target + entry->offset;
    if (entry->type == CONFIG_TYPE_U64) {
        uint64_t number;
        memcpy(&number, field, sizeof(number));
        snprintf(text, size, "%llu", (unsigned long long)number);
    } else if (entry->type == CONFIG_TYPE_U32) {
        uint32_t number;
        memcpy(&number, field, sizeof(number));
        snprintf(text, size, "%u", number);
    } else if (entry->type == CONFIG_TYPE_BOOL) {
        bool flag;
        memcpy(&flag, field, sizeof(flag));
        snprintf(text, size, "%s", flag ? "true" : "false");
    } else if (entry->type == CONFIG_TYPE_STRING) {
        snprintf(text, size, "%s", field);
    } else {
        uint32_t index;
        memcpy(&index, field, sizeof(index));
        snprintf(text, size, "%s", entry->enum_names[index]);
    }
}

void config_log(const struct config_schema *schema, const void *target)
{
    assert(schema != NULL && target != NULL);
    for (size_t index = 0; index < schema->key_count; index++) {
        const struct config_key *entry = &schema->keys[index];
        char value[CONFIG_VALUE_TEXT_MAX];
        config_format_value(entry, target, value, sizeof(value));
        log_info("config", "key=%s.%s value=\"%s\"", entry->section, entry->key, value);
    }
}

void config_print_help(const struct config_schema *schema, void *stream)
{
    assert(schema != NULL && stream != NULL);
    FILE *file = stream;
    for (size_t index = 0; index < schema->key_count; index++) {
        const struct config_key *entry = &schema->keys[index];
        char allowed[CONFIG_VALUE_TEXT_MAX];
        if (entry->type == CONFIG_TYPE_ENUM) {
            config_enum_allowed(entry, allowed, sizeof(allowed));
        } else if (entry->type == CONFIG_TYPE_BOOL) {
            snprintf(allowed, sizeof(allowed), "true|false");
        } else if (entry->type == CONFIG_TYPE_STRING) {
            snprintf(allowed, sizeof(allowed), "string < %zu bytes", entry->string_size_max);
        } else {
            snprintf(allowed, sizeof(allowed), "%llu..%llu", (unsigned long long)entry->value_min,
                     (unsigned long long)entry->value_max);
        }
        fprintf(file, "  %s.%s = %s  (%s) %s\n", entry->section, entry->key, entry->default_text,
                allowed, entry->help ? entry->help : "");
    }
}
