/*
 * runnel CLI commands: each subcommand (stream, topic, ..., ping, me) as a function over
 * the parsed command line and one logged-in client. CLI process, single thread.
 */
#ifndef RUNNEL_CLIENT_CLI_COMMANDS_H
#define RUNNEL_CLIENT_CLI_COMMANDS_H

#include "client/include/runnel/runnel.h"

#include <stdbool.h>
#include <stdint.h>

enum { CLI_WORDS_MAX = 64, CLI_OPTIONS_MAX = 32 };

struct cli_context {
    struct runnel_client *client;
    bool is_json;
    const char *words[CLI_WORDS_MAX]; /* positionals: words[0] is the command */
    uint32_t word_count;
    const char *option_names[CLI_OPTIONS_MAX];  /* "--offset" ... */
    const char *option_values[CLI_OPTIONS_MAX]; /* NULL for a bare flag */
    uint32_t option_count;
};

/* Global options: connection and credentials (NULL when not given). */
struct cli_arguments {
    const char *host;
    const char *port;
    const char *username;
    const char *password;
    const char *token;
};

/* True for option names that take no value. */
bool cli_is_bare_flag(const char *name);

/*
 * Sorts argv into global options (arguments), command options and positional words
 * (context; sets is_json). Returns 0, or -EINVAL after printing why on stderr: an
 * option without its value, an unknown option, an unknown or missing command, more
 * words or options than fit.
 */
int cli_parse(int argc, char **argv, struct cli_arguments *arguments, struct cli_context *context);

/* Runs words[0] (words[1] is its action). Returns 0, -EINVAL after printing usage, or a
 * librunnel error. */
int cli_run(struct cli_context *context);

/* True when words[0] names a command. */
bool cli_is_command(const char *name);

/* Helpers shared by the cli_*.c command files. */
const char *cli_word(const struct cli_context *context, uint32_t index);
/* The value of an option ("" for a bare flag), NULL when absent. */
const char *cli_option(const struct cli_context *context, const char *name);
bool cli_action(const struct cli_context *context, const char *action);
/* Prints "usage: runnel <text>" and returns -EINVAL. */
int cli_usage(const char *text);
bool cli_id(const struct cli_context *context, uint32_t index, struct runnel_id *id_out);
bool cli_number(const char *text, uint64_t *value_out);
bool cli_u32(const struct cli_context *context, uint32_t index, uint32_t *value_out);

/* Commands in cli_messages.c and cli_admin.c. */
int cli_message(struct cli_context *context);
int cli_group(struct cli_context *context);
int cli_offset(struct cli_context *context);
int cli_user(struct cli_context *context);
int cli_pat(struct cli_context *context);
int cli_clients(struct cli_context *context);
int cli_system(struct cli_context *context);

#endif
