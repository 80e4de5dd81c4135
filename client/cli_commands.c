/*
 * runnel CLI commands: argument checks, the librunnel call, and the result printed with
 * cli_output. CLI process, single thread.
 */
#include "client/cli_commands.h"

#include "client/cli_output.h"
#include "lib/assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLI_LIST_MAX = 1000 };

const char *cli_word(const struct cli_context *context, uint32_t index)
{
    return index < context->word_count ? context->words[index] : NULL;
}

const char *cli_option(const struct cli_context *context, const char *name)
{
    for (uint32_t index = 0; index < context->option_count; index++) {
        if (strcmp(context->option_names[index], name) == 0) {
            return context->option_values[index] != NULL ? context->option_values[index] : "";
        }
    }
    return NULL;
}

bool cli_action(const struct cli_context *context, const char *action)
{
    const char *word = cli_word(context, 1);
    return word != NULL && strcmp(word, action) == 0;
}

int cli_usage(const char *text)
{
    fprintf(stderr, "usage: runnel %s\n", text);
    return -EINVAL;
}

/* Parses words[index] as an identifier; false when missing. */
bool cli_id(const struct cli_context *context, uint32_t index, struct runnel_id *id_out)
{
    const char *word = cli_word(context, index);
    return word != NULL && runnel_id_parse(word, id_out) == 0;
}

bool cli_number(const char *text, uint64_t *value_out)
{
    if (text == NULL || text[0] == '\0') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    *value_out = (uint64_t)value;
    return errno == 0 && end != NULL && *end == '\0';
}

bool cli_u32(const struct cli_context *context, uint32_t index, uint32_t *value_out)
{
    uint64_t value = 0;
    if (!cli_number(cli_word(context, index), &value) || value > UINT32_MAX) {
        return false;
    }
    *value_out = (uint32_t)value;
    return true;
}

static const struct cli_column cli_stream_columns[] = {
    {"id", true}, {"name", false}, {"topics", true}, {"size_bytes", true}, {"messages", true}};

static void cli_print_streams(const struct cli_context *context, const struct runnel_stream *items,
                              uint32_t count)
{
    cli_output_begin(context->is_json, cli_stream_columns, 5);
    for (uint32_t index = 0; index < count; index++) {
        cli_output_row("%u\t%s\t%u\t%llu\t%llu", items[index].id, items[index].name,
                       items[index].topic_count, (unsigned long long)items[index].size_bytes,
                       (unsigned long long)items[index].message_count);
    }
    cli_output_end();
}

static int cli_stream(struct cli_context *context)
{
    static struct runnel_stream streams[CLI_LIST_MAX];
    struct runnel_id stream;
    struct runnel_client *client = context->client;
    int result = -EINVAL;
    if (cli_action(context, "create") && cli_word(context, 2) != NULL) {
        result = runnel_stream_create(client, cli_word(context, 2), &streams[0]);
        if (result == 0) {
            cli_print_streams(context, streams, 1);
        }
    } else if (cli_action(context, "list")) {
        uint32_t count = 0;
        result = runnel_stream_list(client, streams, CLI_LIST_MAX, &count);
        if (result == 0) {
            cli_print_streams(context, streams, count < CLI_LIST_MAX ? count : CLI_LIST_MAX);
        }
    } else if (cli_action(context, "get") && cli_id(context, 2, &stream)) {
        result = runnel_stream_get(client, stream, &streams[0]);
        if (result == 0) {
            cli_print_streams(context, streams, 1);
        }
    } else if (cli_action(context, "delete") && cli_id(context, 2, &stream)) {
        result = runnel_stream_delete(client, stream);
    } else if (cli_action(context, "purge") && cli_id(context, 2, &stream)) {
        result = runnel_stream_purge(client, stream);
    } else if (cli_action(context, "update") && cli_id(context, 2, &stream) &&
               cli_word(context, 3) != NULL) {
        result = runnel_stream_update(client, stream, cli_word(context, 3));
    } else {
        return cli_usage("stream create <name> | list | get|delete|purge <stream> | "
                         "update <stream> <name>");
    }
    if (result == 0 && !cli_action(context, "create") && !cli_action(context, "list") &&
        !cli_action(context, "get")) {
        cli_output_ok(context->is_json, "ok");
    }
    return result;
}

static const struct cli_column cli_topic_columns[] = {{"id", true},
                                                      {"name", false},
                                                      {"partitions", true},
                                                      {"size_bytes", true},
                                                      {"messages", true},
                                                      {"message_expiry_us", true},
                                                      {"max_size_bytes", true}};

static void cli_print_topics(const struct cli_context *context, const struct runnel_topic *items,
                             uint32_t count)
{
    cli_output_begin(context->is_json, cli_topic_columns, 7);
    for (uint32_t index = 0; index < count; index++) {
        cli_output_row("%u\t%s\t%u\t%llu\t%llu\t%llu\t%llu", items[index].id, items[index].name,
                       items[index].partition_count, (unsigned long long)items[index].size_bytes,
                       (unsigned long long)items[index].message_count,
                       (unsigned long long)items[index].message_expiry_us,
                       (unsigned long long)items[index].max_topic_size_bytes);
    }
    cli_output_end();
}

static void cli_topic_options(const struct cli_context *context,
                              struct runnel_topic_options *options)
{
    memset(options, 0, sizeof(*options));
    uint64_t value = 0;
    if (cli_number(cli_option(context, "--message-expiry"), &value)) {
        options->message_expiry_us = value;
    }
    if (cli_number(cli_option(context, "--max-size"), &value)) {
        options->max_topic_size_bytes = value;
    }
    const char *fsync = cli_option(context, "--enforce-fsync");
    if (fsync != NULL) {
        options->enforce_fsync = strcmp(fsync, "false") == 0 ? -1 : 1;
    }
    options->compression_gzip = cli_option(context, "--gzip") != NULL;
}

static int cli_topic(struct cli_context *context)
{
    static struct runnel_topic topics[CLI_LIST_MAX];
    struct runnel_id stream;
    struct runnel_id topic;
    struct runnel_topic_options options;
    cli_topic_options(context, &options);
    struct runnel_client *client = context->client;
    uint32_t count = 0;
    bool has_ids = cli_id(context, 2, &stream) && cli_id(context, 3, &topic);
    int result = 1;
    if (cli_action(context, "create") && cli_id(context, 2, &stream) &&
        cli_word(context, 3) != NULL && cli_u32(context, 4, &count)) {
        result =
            runnel_topic_create(client, stream, cli_word(context, 3), count, &options, &topics[0]);
        count = 1;
    } else if (cli_action(context, "list") && cli_id(context, 2, &stream)) {
        result = runnel_topic_list(client, stream, topics, CLI_LIST_MAX, &count);
        count = count < CLI_LIST_MAX ? count : CLI_LIST_MAX;
    } else if (cli_action(context, "get") && has_ids) {
        result = runnel_topic_get(client, stream, topic, &topics[0], NULL, 0);
        count = 1;
    } else if (cli_action(context, "delete") && has_ids) {
        result = runnel_topic_delete(client, stream, topic);
        count = 0;
    } else if (cli_action(context, "purge") && has_ids) {
        result = runnel_topic_purge(client, stream, topic);
        count = 0;
    } else if (cli_action(context, "update") && has_ids && cli_word(context, 4) != NULL) {
        result = runnel_topic_update(client, stream, topic, cli_word(context, 4), &options);
        count = 0;
    }
    if (result == 1) {
        return cli_usage("topic create <stream> <name> <partitions> [--message-expiry us] "
                         "[--max-size bytes] [--enforce-fsync true|false] | list <stream> | "
                         "get|delete|purge <stream> <topic> | update <stream> <topic> <name>");
    }
    if (result == 0 && count > 0) {
        cli_print_topics(context, topics, count);
    } else if (result == 0) {
        cli_output_ok(context->is_json, "ok");
    }
    return result;
}

static int cli_partition_segment(struct cli_context *context)
{
    struct runnel_id stream;
    struct runnel_id topic;
    uint32_t first = 0;
    uint32_t second = 0;
    bool has_ids = cli_id(context, 2, &stream) && cli_id(context, 3, &topic);
    bool is_segment = strcmp(context->words[0], "segment") == 0;
    int result = -EINVAL;
    if (is_segment && cli_action(context, "delete") && has_ids && cli_u32(context, 4, &first) &&
        cli_u32(context, 5, &second)) {
        result = runnel_segment_delete(context->client, stream, topic, first, second);
    } else if (!is_segment && cli_action(context, "create") && has_ids &&
               cli_u32(context, 4, &first)) {
        result = runnel_partition_create(context->client, stream, topic, first);
    } else if (!is_segment && cli_action(context, "delete") && has_ids &&
               cli_u32(context, 4, &first)) {
        result = runnel_partition_delete(context->client, stream, topic, first);
    } else {
        return cli_usage(is_segment ? "segment delete <stream> <topic> <partition> <count>"
                                    : "partition create|delete <stream> <topic> <count>");
    }
    if (result == 0) {
        cli_output_ok(context->is_json, "ok");
    }
    return result;
}

struct cli_command {
    const char *name;
    const char *alias;
    int (*run)(struct cli_context *context);
};

static const struct cli_command cli_commands[] = {
    {"stream", "s", cli_stream},
    {"topic", "t", cli_topic},
    {"partition", "p", cli_partition_segment},
    {"segment", "seg", cli_partition_segment},
    {"message", "m", cli_message},
    {"consumer-group", "g", cli_group},
    {"consumer-offset", "o", cli_offset},
    {"user", "u", cli_user},
    {"pat", "pat", cli_pat},
    {"client", "c", cli_clients},
    {"cluster", "cl", cli_system},
    {"stats", "stats", cli_system},
    {"ping", "ping", cli_system},
    {"me", "me", cli_system},
};

enum { CLI_COMMAND_COUNT = sizeof(cli_commands) / sizeof(cli_commands[0]) };

static const struct cli_command *cli_find(const char *name)
{
    for (uint32_t index = 0; name != NULL && index < CLI_COMMAND_COUNT; index++) {
        if (strcmp(cli_commands[index].name, name) == 0 ||
            strcmp(cli_commands[index].alias, name) == 0) {
            return &cli_commands[index];
        }
    }
    return NULL;
}

bool cli_is_command(const char *name)
{
    return cli_find(name) != NULL;
}

static bool cli_is_listed(const char *const *names, uint32_t count, const char *name)
{
    assert(names != NULL);
    assert(name != NULL);
    for (uint32_t index = 0; index < count; index++) {
        if (strcmp(names[index], name) == 0) {
            return true;
        }
    }
    return false;
}

bool cli_is_bare_flag(const char *name)
{
    static const char *const flags[] = {"--json",        "--first",    "--last",    "--next",
                                        "--auto-commit", "--inactive", "--gzip",    "--all",
                                        "--none",        "--help",     "--version", "--group"};
    return cli_is_listed(flags, sizeof(flags) / sizeof(flags[0]), name);
}

/* True for the command options that take a value. */
static bool cli_is_value_option(const char *name)
{
    static const char *const options[] = {
        "--offset",       "--timestamp", "--count",          "--consumer",      "--key",
        "--partition-id", "--max-size",  "--message-expiry", "--enforce-fsync", "--expiry-us"};
    return cli_is_listed(options, sizeof(options) / sizeof(options[0]), name);
}

/* The global option's slot in arguments, NULL when word is not one. */
static const char **cli_global(struct cli_arguments *arguments, const char *word)
{
    assert(arguments != NULL);
    assert(word != NULL);
    if (strcmp(word, "--host") == 0) {
        return &arguments->host;
    }
    if (strcmp(word, "--port") == 0) {
        return &arguments->port;
    }
    if (strcmp(word, "-u") == 0 || strcmp(word, "--username") == 0) {
        return &arguments->username;
    }
    if (strcmp(word, "-p") == 0 || strcmp(word, "--password") == 0) {
        return &arguments->password;
    }
    if (strcmp(word, "-t") == 0 || strcmp(word, "--token") == 0) {
        return &arguments->token;
    }
    return NULL;
}

/* Sorts one word (and its value, when it takes one); returns the words used or -EINVAL. */
static int cli_parse_word(const char *word, const char *next, struct cli_arguments *arguments,
                          struct cli_context *context)
{
    const char **global = cli_global(arguments, word);
    bool is_flag = cli_is_bare_flag(word);
    bool is_option = global != NULL || cli_is_value_option(word);
    if (!is_flag && !is_option && word[0] == '-' && word[1] != '\0') {
        fprintf(stderr, "runnel: unknown option %s (see runnel --help)\n", word);
        return -EINVAL;
    }
    if (is_option && next == NULL) {
        fprintf(stderr, "runnel: %s needs a value\n", word);
        return -EINVAL;
    }
    if (global != NULL) {
        *global = next;
        return 2;
    }
    if (is_flag || is_option) {
        if (context->option_count >= CLI_OPTIONS_MAX) {
            fprintf(stderr, "runnel: too many options\n");
            return -EINVAL;
        }
        context->option_names[context->option_count] = word;
        context->option_values[context->option_count++] = is_flag ? NULL : next;
        context->is_json = context->is_json || strcmp(word, "--json") == 0;
        return is_flag ? 1 : 2;
    }
    if (context->word_count >= CLI_WORDS_MAX) {
        fprintf(stderr, "runnel: too many arguments\n");
        return -EINVAL;
    }
    context->words[context->word_count++] = word;
    return 1;
}

int cli_parse(int argc, char **argv, struct cli_arguments *arguments, struct cli_context *context)
{
    assert(argv != NULL && arguments != NULL);
    assert(context != NULL);
    for (int index = 1; index < argc;) {
        int used = cli_parse_word(argv[index], index + 1 < argc ? argv[index + 1] : NULL, arguments,
                                  context);
        if (used < 0) {
            return used;
        }
        index += used;
    }
    if (context->word_count == 0 || !cli_is_command(context->words[0])) {
        fprintf(stderr, "runnel: unknown command \"%s\" (see runnel --help)\n",
                context->word_count > 0 ? context->words[0] : "");
        return -EINVAL;
    }
    return 0;
}

int cli_run(struct cli_context *context)
{
    assert(context != NULL && context->word_count > 0);
    const struct cli_command *command = cli_find(context->words[0]);
    assert(command != NULL);
    context->words[0] = command->name;
    return command->run(context);
}
