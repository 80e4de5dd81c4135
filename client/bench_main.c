/*
 * runnel-bench: Iggy's benchmark workloads (pinned-producer, pinned-consumer,
 * pinned-producer-and-consumer, balanced-producer, balanced-consumer-group, end-to-end)
 * against runneld or Iggy's server, with iggy-bench's defaults and metric definitions.
 * One thread per actor; the main thread prints a progress line on stderr, then the
 * summary, and with --output DIR writes result.json and report.html.
 */
#include "client/bench_report.h"
#include "client/bench_workload.h"

#include "client/include/runnel/runnel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BENCH_ACTORS_MAX = 256 };

static const struct {
    const char *name;
    const char *alias;
    enum bench_kind kind;
} bench_kinds[] = {
    {"pinned-producer", "pp", BENCH_PINNED_PRODUCER},
    {"pinned-consumer", "pc", BENCH_PINNED_CONSUMER},
    {"pinned-producer-and-consumer", "ppc", BENCH_PINNED_PRODUCER_AND_CONSUMER},
    {"balanced-producer", "bp", BENCH_BALANCED_PRODUCER},
    {"balanced-consumer-group", "bcg", BENCH_BALANCED_CONSUMER_GROUP},
    {"end-to-end", "e2e", BENCH_END_TO_END},
};

static void bench_usage(FILE *stream)
{
    fprintf(stream, "usage: runnel-bench [--help] [--version] <workload> [options]\n"
                    "       runnel-bench --compare A.json B.json\n"
                    "\n"
                    "Workloads: pinned-producer (pp), pinned-consumer (pc),\n"
                    "pinned-producer-and-consumer (ppc), balanced-producer (bp),\n"
                    "balanced-consumer-group (bcg), end-to-end (e2e)\n"
                    "\n"
                    "Options (iggy-bench defaults): --producers 8 --consumers 8 --streams 8|1\n"
                    "  --partitions 1|24 --message-size 1000 --messages-per-batch 1000\n"
                    "  --message-batches 1000 --host 127.0.0.1 --port 8090 --username iggy\n"
                    "  --password iggy --enforce-fsync --output DIR\n"
                    "  --no-placement (runneld: keep connections where the server put them)\n");
}

static int bench_option(struct bench_config *config, const char *name, const char *value,
                        const char **output)
{
    unsigned long number = value != NULL ? strtoul(value, NULL, 10) : 0;
    if (strcmp(name, "--enforce-fsync") == 0) {
        config->enforce_fsync = true;
        return 0;
    }
    if (strcmp(name, "--no-placement") == 0) {
        config->disable_placement = true;
        return 0;
    }
    if (value == NULL) {
        return -1;
    }
    struct {
        const char *name;
        uint32_t *field;
    } numbers[] = {{"--producers", &config->producers},
                   {"--consumers", &config->consumers},
                   {"--streams", &config->streams},
                   {"--partitions", &config->partitions},
                   {"--message-size", &config->message_size_bytes},
                   {"--messages-per-batch", &config->messages_per_batch},
                   {"--message-batches", &config->message_batches}};
    for (size_t index = 0; index < sizeof(numbers) / sizeof(numbers[0]); index++) {
        if (strcmp(name, numbers[index].name) == 0) {
            *numbers[index].field = (uint32_t)number;
            return number > 0 ? 1 : -1;
        }
    }
    if (strcmp(name, "--port") == 0) {
        config->port = (uint16_t)number;
    } else if (strcmp(name, "--host") == 0) {
        config->host = value;
    } else if (strcmp(name, "--username") == 0) {
        config->username = value;
    } else if (strcmp(name, "--password") == 0) {
        config->password = value;
    } else if (strcmp(name, "--output") == 0) {
        *output = value;
    } else {
        return -1;
    }
    return 1;
}

static int bench_parse(int argc, char **argv, struct bench_config *config, const char **output)
{
    for (size_t index = 0; index < sizeof(bench_kinds) / sizeof(bench_kinds[0]); index++) {
        if (strcmp(argv[1], bench_kinds[index].name) == 0 ||
            strcmp(argv[1], bench_kinds[index].alias) == 0) {
            bench_config_defaults(config, bench_kinds[index].kind);
            config->kind_name = bench_kinds[index].name;
        }
    }
    if (config->kind_name == NULL) {
        fprintf(stderr, "runnel-bench: unknown workload \"%s\"\n", argv[1]);
        return -1;
    }
    for (int index = 2; index < argc; index++) {
        int used =
            bench_option(config, argv[index], index + 1 < argc ? argv[index + 1] : NULL, output);
        if (used < 0) {
            fprintf(stderr, "runnel-bench: bad option \"%s\"\n", argv[index]);
            return -1;
        }
        index += used;
    }
    if (config->producers + config->consumers > BENCH_ACTORS_MAX) {
        fprintf(stderr, "runnel-bench: at most %d actors\n", BENCH_ACTORS_MAX);
        return -1;
    }
    return 0;
}

/* Lays out the actors of the workload; returns their count. */
static uint32_t bench_plan(const struct bench_config *config, struct bench_actor *actors)
{
    enum bench_kind kind = config->kind;
    uint32_t producers = kind == BENCH_PINNED_CONSUMER || kind == BENCH_BALANCED_CONSUMER_GROUP ||
                                 kind == BENCH_END_TO_END
                             ? 0
                             : config->producers;
    uint32_t consumers =
        kind == BENCH_PINNED_PRODUCER || kind == BENCH_BALANCED_PRODUCER ? 0 : config->consumers;
    enum bench_role consumer_role = kind == BENCH_BALANCED_CONSUMER_GROUP ? BENCH_GROUP_CONSUMER
                                    : kind == BENCH_END_TO_END            ? BENCH_PRODUCING_CONSUMER
                                                                          : BENCH_CONSUMER;
    static int64_t group_batches_left;
    group_batches_left = (int64_t)consumers * config->message_batches;
    bool is_shared = kind == BENCH_BALANCED_CONSUMER_GROUP;
    uint32_t count = 0;
    for (uint32_t index = 0; index < producers + consumers; index++) {
        bool is_producer = index < producers;
        uint32_t role_index = is_producer ? index : index - producers;
        actors[count++] = (struct bench_actor){
            .config = config,
            .role = is_producer ? BENCH_PRODUCER : consumer_role,
            .index = role_index + 1,
            .stream = role_index % config->streams + 1,
            .samples_max = is_shared ? consumers * config->message_batches
                           : kind == BENCH_PINNED_PRODUCER_AND_CONSUMER
                               ? config->message_batches * (producers + consumers) /
                                     (is_producer ? producers : consumers)
                               : 0,
            .shared_batches_left = is_shared ? &group_batches_left : NULL,
        };
    }
    return count;
}

static void bench_progress(const struct bench_actor *actors, uint32_t count, uint64_t start_ns)
{
    uint64_t total = (uint64_t)count * actors[0].config->message_batches;
    uint64_t done = 0;
    uint64_t messages = 0;
    for (uint32_t index = 0; index < count; index++) {
        done += actors[index].sample_count;
        messages += actors[index].messages_done;
    }
    double seconds = (double)(bench_now_ns() - start_ns) / 1e9;
    double mb = (double)messages * actors[0].config->message_size_bytes / 1e6;
    fprintf(stderr, "\rrunnel-bench: %llu/%llu batches, %.1f s, %.1f MB/s   ",
            (unsigned long long)done, (unsigned long long)total, seconds,
            seconds > 0 ? mb / seconds : 0);
}

static int bench_run(const struct bench_config *config, struct bench_actor *actors, uint32_t count)
{
    bool is_producing =
        config->kind != BENCH_PINNED_CONSUMER && config->kind != BENCH_BALANCED_CONSUMER_GROUP;
    if (is_producing && bench_setup(config) != 0) {
        return 1;
    }
    uint64_t start_ns = bench_now_ns();
    int started = bench_actors_start(actors, count);
    if (started != 0) {
        fprintf(stderr, "runnel-bench: cannot start the actors: %s\n", runnel_strerror(started));
    }
    bool is_running = true;
    for (uint32_t round = 0; is_running && round < 100000000; round++) {
        struct timespec delay = {.tv_sec = 0, .tv_nsec = 250000000};
        nanosleep(&delay, NULL);
        bench_progress(actors, count, start_ns);
        is_running = bench_actors_reap(actors, count);
    }
    fprintf(stderr, "\n");
    int failures = 0;
    for (uint32_t index = 0; index < count; index++) {
        if (actors[index].result != 0) {
            fprintf(stderr, "runnel-bench: actor %u: %s\n", index,
                    runnel_strerror(actors[index].result));
            failures++;
        }
    }
    return failures > 0 || started != 0 ? 1 : 0;
}

static void bench_print(const struct bench_summary *summary, const char *label)
{
    printf("%-10s %9.2f MB/s %11.0f msg/s  avg %.3f ms", label, summary->throughput_mb_s,
           summary->messages_per_s, summary->latency_avg_ms);
    for (int index = 0; index < BENCH_PERCENTILE_COUNT; index++) {
        printf("  %s %.3f", bench_percentile_names[index], summary->latency_percentiles_ms[index]);
    }
    printf(" ms\n");
}

/* One line per role when the workload mixes producers and consumers (as iggy-bench's
 * "Producers Results" and "Consumers Results"). */
static void bench_print_roles(const struct bench_actor *actors, uint32_t count)
{
    static const char *const labels[] = {"", "producers", "consumers", "consumers", "producing"};
    bool is_mixed = false;
    for (uint32_t index = 1; index < count; index++) {
        is_mixed = is_mixed || actors[index].role != actors[0].role;
    }
    for (int role = BENCH_PRODUCER; is_mixed && role <= BENCH_PRODUCING_CONSUMER; role++) {
        struct bench_summary group = {0};
        uint32_t members = 0;
        for (uint32_t index = 0; index < count; index++) {
            if ((int)actors[index].role == role) {
                bench_group_add(&group, &actors[index].summary);
                members++;
            }
        }
        if (members > 0) {
            bench_group_finish(&group, members);
            bench_print(&group, labels[role]);
        }
    }
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
    if (strcmp(argv[1], "--compare") == 0) {
        return argc == 4 && bench_report_compare(argv[2], argv[3]) == 0 ? 0 : 2;
    }
    static struct bench_config config;
    static struct bench_actor actors[BENCH_ACTORS_MAX];
    const char *output = NULL;
    if (bench_parse(argc, argv, &config, &output) != 0) {
        return 2;
    }
    uint32_t count = bench_plan(&config, actors);
    int status = bench_run(&config, actors, count);
    if (count == 0 || actors[0].samples == NULL) {
        return status != 0 ? status : 2; /* setup failed: nothing ran */
    }
    struct bench_summary total = {0};
    for (uint32_t index = 0; index < count; index++) {
        double *scratch = calloc(actors[index].samples_max + 1, sizeof(double));
        if (scratch == NULL) {
            return 1;
        }
        bench_summarise(actors[index].samples, actors[index].sample_count, scratch,
                        &actors[index].summary);
        bench_group_add(&total, &actors[index].summary);
        free(scratch);
    }
    bench_group_finish(&total, count);
    printf("%s: %u actors\n", config.kind_name, count);
    bench_print_roles(actors, count);
    bench_print(&total, "total");
    if (output != NULL && bench_report_write(output, &config, actors, count, &total) != 0) {
        fprintf(stderr, "runnel-bench: cannot write %s\n", output);
        status = 1;
    }
    for (uint32_t index = 0; index < count; index++) {
        free(actors[index].samples);
    }
    return status;
}
