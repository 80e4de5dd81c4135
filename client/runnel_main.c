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

static int runnel_connect(const struct cli_arguments *arguments, struct runnel_client **out)
{
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    const char *host = arguments->host ? arguments->host : runnel_environment("RUNNEL_HOST", NULL);
    const char *port = arguments->port ? arguments->port : runnel_environment("RUNNEL_PORT", NULL);
    options.host = host != NULL ? host : "127.0.0.1";
    uint64_t port_number = RUNNEL_DEFAULT_PORT;
    if (port != NULL &&
        (!cli_number(port, &port_number) || port_number == 0 || port_number > UINT16_MAX)) {
        fprintf(stderr, "runnel: bad port \"%s\"\n", port);
        return -EINVAL;
    }
    options.port = (uint16_t)port_number;
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
    struct cli_arguments arguments = {0};
    if (cli_parse(argc, argv, &arguments, &context) != 0) {
        return 2; /* cli_parse said why */
    }
    int result = runnel_connect(&arguments, &context.client);
    if (result != 0) {
        runnel_report("login", result);
        runnel_client_destroy(context.client);
        return result == -EINVAL ? 2 : 1;
    }
    result = cli_run(&context);
    (void)runnel_logout(context.client);
    runnel_client_destroy(context.client);
    if (result != 0) {
        /* -EINVAL after a usage line, or an argument librunnel refused (name too long). */
        runnel_report(context.words[0], result);
        return result == -EINVAL ? 2 : 1;
    }
    return 0;
}
