/*
 * runnel: the command-line client (subcommands mirror Iggy's CLI). The commands arrive
 * with the client issue; this entry point already answers --help and --version.
 */
#include <stdio.h>
#include <string.h>

static void runnel_usage(FILE *stream)
{
    fprintf(stream, "usage: runnel [--help] [--version] <command> [arguments]\n"
                    "\n"
                    "Command-line client for runneld and Iggy servers.\n"
                    "Commands: stream, topic, partition, segment, message, consumer-group,\n"
                    "consumer-offset, user, pat, client, cluster, stats, ping, me\n");
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
    fprintf(stderr, "runnel: command \"%s\" is not available yet\n", argv[1]);
    return 2;
}
