/*
 * runnel: the command-line client for runneld and Iggy servers (subcommands mirror
 * Iggy's CLI). Per invocation: connect, log in (flags, else RUNNEL_* then IGGY_*
 * environment variables, else iggy/iggy), run one command, log out. Tables by default,
 * --json for scripts; on error, the server's message on stderr and exit status 1.
 */
#include "client/cli_commands.h"

#include "client/include/runnel/runnel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct runnel_arguments {
    const char *host;
    const char *port;
    const char *username;
    const char *password;
    const char *token;
};

static void runnel_usage(FILE *stream)
{
    fprintf(stream, "usage: runnel [--help] [--version] [options] <command> [arguments]\n"
                    "\n"
                    "Command-line client for runneld and Iggy servers.\n"
                    "Commands: stream, topic, partition, segment, message, consumer-group,\n"
                    "consumer-offset, user, pat, client, cluster, stats, ping, me\n"
                    "\n"
                    "Options:\n"
                    "  --host HOST          server address (RUNNEL_HOST; default 127.0.0.1)\n"
                    "  --port PORT          TCP port (RUNNEL_PORT; default 8090)\n"
                    "  -u, --username NAME  (RUNNEL_USERNAME, IGGY_USERNAME; default iggy)\n"
                    "  -p, --password PASS  (RUNNEL_PASSWORD, IGGY_PASSWORD; default iggy)\n"
                    "  -t, --token TOKEN    personal access token (RUNNEL_TOKEN, IGGY_TOKEN)\n"
                    "  --json               JSON output for scripts\n");
}

static const char *runnel_environment(const char *first, const char *second)
{
    const char *value = getenv(first);
    if (value == NULL || value[0] == '\0') {
        value = second != NULL ? getenv(second) : NULL;
    }
    return value != NULL && value[0] != '\0' ? value : NULL;
}

/* Sorts argv into global options, command options and positional words. */
static int runnel_parse(int argc, char **argv, struct runnel_arguments *arguments,
                        struct cli_context *context)
{
    for (int index = 1; index < argc; index++) {
        const char *word = argv[index];
        const char *next = index + 1 < argc ? argv[index + 1] : NULL;
        const char **global = NULL;
        if (strcmp(word, "--host") == 0) {
            global = &arguments->host;
        } else if (strcmp(word, "--port") == 0) {
            global = &arguments->port;
        } else if (strcmp(word, "-u") == 0 || strcmp(word, "--username") == 0) {
            global = &arguments->username;
        } else if (strcmp(word, "-p") == 0 || strcmp(word, "--password") == 0) {
            global = &arguments->password;
        } else if (strcmp(word, "-t") == 0 || strcmp(word, "--token") == 0) {
            global = &arguments->token;
        }
        if (global != NULL || (strncmp(word, "--", 2) == 0 && !cli_is_bare_flag(word))) {
            if (next == NULL) {
                fprintf(stderr, "runnel: %s needs a value\n", word);
                return -EINVAL;
            }
            index++;
        }
        if (global != NULL) {
            *global = next;
        } else if (strncmp(word, "--", 2) == 0 && context->option_count < CLI_OPTIONS_MAX) {
            context->option_names[context->option_count] = word;
            context->option_values[context->option_count++] = cli_is_bare_flag(word) ? NULL : next;
        } else if (context->word_count < CLI_WORDS_MAX) {
            context->words[context->word_count++] = word;
        }
    }
    return 0;
}

static int runnel_connect(const struct runnel_arguments *arguments, struct runnel_client **out)
{
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    const char *host = arguments->host ? arguments->host : runnel_environment("RUNNEL_HOST", NULL);
    const char *port = arguments->port ? arguments->port : runnel_environment("RUNNEL_PORT", NULL);
    options.host = host != NULL ? host : "127.0.0.1";
    options.port = (uint16_t)(port != NULL ? atoi(port) : RUNNEL_DEFAULT_PORT);
    int result = runnel_client_create(&options, out);
    if (result == 0) {
        result = runnel_client_connect(*out);
    }
    if (result != 0) {
        return result;
    }
    const char *token =
        arguments->token ? arguments->token : runnel_environment("RUNNEL_TOKEN", "IGGY_TOKEN");
    if (token != NULL && arguments->username == NULL) {
        return runnel_login_token(*out, token);
    }
    const char *username = arguments->username
                               ? arguments->username
                               : runnel_environment("RUNNEL_USERNAME", "IGGY_USERNAME");
    const char *password = arguments->password
                               ? arguments->password
                               : runnel_environment("RUNNEL_PASSWORD", "IGGY_PASSWORD");
    return runnel_login_password(*out, username ? username : "iggy", password ? password : "iggy");
}

static void runnel_report(const char *what, int code)
{
    uint32_t server_code = runnel_server_error_code(code);
    if (server_code != 0) {
        fprintf(stderr, "runnel: %s: server error %u: %s\n", what, server_code,
                runnel_strerror(code));
    } else {
        fprintf(stderr, "runnel: %s: %s\n", what, runnel_strerror(code));
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        runnel_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("runnel %s\n", RUNNEL_VERSION);
        return 0;
    }
    static struct cli_context context;
    struct runnel_arguments arguments = {0};
    if (runnel_parse(argc, argv, &arguments, &context) != 0 || context.word_count == 0 ||
        !cli_is_command(context.words[0])) {
        fprintf(stderr, "runnel: unknown command \"%s\" (see runnel --help)\n",
                context.word_count > 0 ? context.words[0] : "");
        return 2;
    }
    for (uint32_t index = 0; index < context.option_count; index++) {
        context.is_json = context.is_json || strcmp(context.option_names[index], "--json") == 0;
    }
    int result = runnel_connect(&arguments, &context.client);
    if (result != 0) {
        runnel_report("login", result);
        runnel_client_destroy(context.client);
        return 1;
    }
    result = cli_run(&context);
    (void)runnel_logout(context.client);
    runnel_client_destroy(context.client);
    if (result == -EINVAL) {
        return 2;
    }
    if (result != 0) {
        runnel_report(context.words[0], result);
        return 1;
    }
    return 0;
}
