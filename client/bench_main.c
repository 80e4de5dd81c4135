/*
 * runnel-bench: Iggy's benchmark workloads against runneld or Iggy's server. The
 * workloads arrive with the client issue; this entry point answers --help and --version.
 */
#include <stdio.h>
#include <string.h>

static void bench_usage(FILE *stream)
{
    fprintf(stream, "usage: runnel-bench [--help] [--version] <workload> [options]\n"
                    "\n"
                    "Workloads: pinned-producer, pinned-consumer, pinned-producer-and-consumer,\n"
                    "balanced-producer, balanced-consumer-group, end-to-end\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        bench_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("runnel-bench %s\n", RUNNEL_VERSION);
        return 0;
    }
    fprintf(stderr, "runnel-bench: workload \"%s\" is not available yet\n", argv[1]);
    return 2;
}
