/*
 * runnel-bench output (see bench_report.h). The bench's main thread, after the actors
 * joined.
 */
#include "client/bench_report.h"

#include "lib/assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { REPORT_BUCKET_NS = 100 * 1000 * 1000, REPORT_BUCKETS_MAX = 4096 };

static const char *const report_roles[] = {"", "producer", "consumer", "group_consumer",
                                           "producing_consumer"};

static void report_summary_json(FILE *file, const struct bench_summary *summary)
{
    fprintf(file,
            "{\"throughput_mb_s\":%.3f,\"messages_per_s\":%.1f,\"messages\":%llu,"
            "\"bytes\":%llu,\"batches\":%llu,\"duration_s\":%.3f,\"latency_avg_ms\":%.4f",
            summary->throughput_mb_s, summary->messages_per_s,
            (unsigned long long)summary->messages, (unsigned long long)summary->bytes,
            (unsigned long long)summary->batches, summary->duration_s, summary->latency_avg_ms);
    for (int index = 0; index < BENCH_PERCENTILE_COUNT; index++) {
        fprintf(file, ",\"latency_%s_ms\":%.4f", bench_percentile_names[index],
                summary->latency_percentiles_ms[index]);
    }
    fprintf(file, "}");
}

static int report_json(const char *path, const struct bench_config *config,
                       const struct bench_actor *actors, uint32_t actor_count,
                       const struct bench_summary *total)
{
    FILE *file = fopen(path, "w");
    if (file == NULL) {
        return -errno;
    }
    fprintf(file,
            "{\"tool\":\"runnel-bench\",\"workload\":\"%s\",\"server\":\"%s:%u\","
            "\"producers\":%u,\"consumers\":%u,\"streams\":%u,\"partitions\":%u,"
            "\"message_size_bytes\":%u,\"messages_per_batch\":%u,\"message_batches\":%u,"
            "\"total\":",
            config->kind_name, config->host, config->port, config->producers, config->consumers,
            config->streams, config->partitions, config->message_size_bytes,
            config->messages_per_batch, config->message_batches);
    report_summary_json(file, total);
    fprintf(file, ",\"actors\":[");
    for (uint32_t index = 0; index < actor_count; index++) {
        fprintf(file, "%s{\"role\":\"%s\",\"index\":%u,\"summary\":", index ? "," : "",
                report_roles[actors[index].role], actors[index].index);
        report_summary_json(file, &actors[index].summary);
        fprintf(file, "}");
    }
    fprintf(file, "]}\n");
    return fclose(file) == 0 ? 0 : -errno;
}

/* Per 100 ms bucket: MB/s summed over actors and mean batch latency (ms). */
static uint32_t report_series(const struct bench_actor *actors, uint32_t actor_count,
                              double *throughput, double *latency)
{
    static double latency_count[REPORT_BUCKETS_MAX];
    memset(latency_count, 0, sizeof(latency_count));
    uint32_t bucket_count = 0;
    for (uint32_t actor = 0; actor < actor_count; actor++) {
        for (uint32_t index = 0; index < actors[actor].sample_count; index++) {
            const struct bench_sample *sample = &actors[actor].samples[index];
            uint64_t bucket = sample->end_ns / REPORT_BUCKET_NS;
            if (bucket >= REPORT_BUCKETS_MAX) {
                continue;
            }
            throughput[bucket] += sample->bytes / 1e6 / (REPORT_BUCKET_NS / 1e9);
            latency[bucket] += (double)sample->latency_ns / 1e6;
            latency_count[bucket] += 1;
            bucket_count = bucket + 1 > bucket_count ? (uint32_t)bucket + 1 : bucket_count;
        }
    }
    for (uint32_t bucket = 0; bucket < bucket_count; bucket++) {
        latency[bucket] = latency_count[bucket] > 0 ? latency[bucket] / latency_count[bucket] : 0;
    }
    return bucket_count;
}

static void report_chart(FILE *file, const char *title, const char *unit, const double *values,
                         uint32_t count)
{
    double maximum = 1e-9;
    for (uint32_t index = 0; index < count; index++) {
        maximum = values[index] > maximum ? values[index] : maximum;
    }
    fprintf(file,
            "<h2>%s</h2><svg width=\"820\" height=\"260\" xmlns=\"http://www.w3.org/2000/svg\">"
            "<rect x=\"60\" y=\"10\" width=\"740\" height=\"200\" fill=\"#fafafa\" "
            "stroke=\"#ccc\"/><text x=\"5\" y=\"20\" font-size=\"11\">%.2f %s</text>"
            "<text x=\"5\" y=\"210\" font-size=\"11\">0</text>"
            "<text x=\"60\" y=\"230\" font-size=\"11\">0 s</text>"
            "<text x=\"760\" y=\"230\" font-size=\"11\">%.1f s</text>"
            "<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"1.5\" points=\"",
            title, maximum, unit, count * (REPORT_BUCKET_NS / 1e9));
    for (uint32_t index = 0; index < count; index++) {
        double x = 60 + 740.0 * (count > 1 ? (double)index / (count - 1) : 0);
        double y = 210 - 200.0 * values[index] / maximum;
        fprintf(file, "%.1f,%.1f ", x, y);
    }
    fprintf(file, "\"/></svg>\n");
}

static int report_html(const char *path, const struct bench_config *config,
                       const struct bench_actor *actors, uint32_t actor_count,
                       const struct bench_summary *total)
{
    static double throughput[REPORT_BUCKETS_MAX];
    static double latency[REPORT_BUCKETS_MAX];
    memset(throughput, 0, sizeof(throughput));
    memset(latency, 0, sizeof(latency));
    uint32_t count = report_series(actors, actor_count, throughput, latency);
    FILE *file = fopen(path, "w");
    if (file == NULL) {
        return -errno;
    }
    fprintf(file,
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>runnel-bench %s</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;"
            "text-align:right}</style></head><body><h1>runnel-bench: %s</h1>"
            "<p>%u producers, %u consumers, %u streams x %u partitions, %u messages of %u B "
            "per batch, %u batches per actor, server %s:%u</p><table><tr><th>MB/s</th>"
            "<th>msg/s</th><th>avg ms</th>",
            config->kind_name, config->kind_name, config->producers, config->consumers,
            config->streams, config->partitions, config->messages_per_batch,
            config->message_size_bytes, config->message_batches, config->host, config->port);
    for (int index = 0; index < BENCH_PERCENTILE_COUNT; index++) {
        fprintf(file, "<th>%s ms</th>", bench_percentile_names[index]);
    }
    fprintf(file, "</tr><tr><td>%.2f</td><td>%.0f</td><td>%.3f</td>", total->throughput_mb_s,
            total->messages_per_s, total->latency_avg_ms);
    for (int index = 0; index < BENCH_PERCENTILE_COUNT; index++) {
        fprintf(file, "<td>%.3f</td>", total->latency_percentiles_ms[index]);
    }
    fprintf(file, "</tr></table>\n");
    report_chart(file, "Throughput (all actors, 100 ms buckets)", "MB/s", throughput, count);
    report_chart(file, "Mean batch latency (100 ms buckets)", "ms", latency, count);
    fprintf(file, "</body></html>\n");
    return fclose(file) == 0 ? 0 : -errno;
}

int bench_report_write(const char *directory, const struct bench_config *config,
                       const struct bench_actor *actors, uint32_t actor_count,
                       const struct bench_summary *total)
{
    assert(directory != NULL && config != NULL);
    assert(actors != NULL && total != NULL);
    if (mkdir(directory, 0755) != 0 && errno != EEXIST) {
        return -errno;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/result.json", directory);
    int result = report_json(path, config, actors, actor_count, total);
    if (result == 0) {
        snprintf(path, sizeof(path), "%s/report.html", directory);
        result = report_html(path, config, actors, actor_count, total);
    }
    return result;
}

/* Reads the number after "key": inside the "total" object of a result file. */
static double report_value(const char *text, const char *key)
{
    const char *total = strstr(text, "\"total\":{");
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    const char *at = total != NULL ? strstr(total, pattern) : NULL;
    return at != NULL ? strtod(at + strlen(pattern), NULL) : 0;
}

static int report_load(const char *path, char *text, size_t size)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        fprintf(stderr, "runnel-bench: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    size_t got = fread(text, 1, size - 1, file);
    text[got] = '\0';
    fclose(file);
    return 0;
}

int bench_report_compare(const char *path_a, const char *path_b)
{
    static char text_a[1 << 20];
    static char text_b[1 << 20];
    if (report_load(path_a, text_a, sizeof(text_a)) != 0 ||
        report_load(path_b, text_b, sizeof(text_b)) != 0) {
        return -ENOENT;
    }
    static const char *const keys[] = {"throughput_mb_s", "messages_per_s",  "latency_avg_ms",
                                       "latency_p50_ms",  "latency_p90_ms",  "latency_p95_ms",
                                       "latency_p99_ms",  "latency_p999_ms", "latency_p9999_ms"};
    printf("%-18s %14s %14s %8s\n", "metric", "A", "B", "B/A");
    for (size_t index = 0; index < sizeof(keys) / sizeof(keys[0]); index++) {
        double a = report_value(text_a, keys[index]);
        double b = report_value(text_b, keys[index]);
        printf("%-18s %14.3f %14.3f %8.3f\n", keys[index], a, b, a != 0 ? b / a : 0);
    }
    return 0;
}
