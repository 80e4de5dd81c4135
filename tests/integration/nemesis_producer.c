/*
 * runnel-nemesis-producer: a librunnel exactly-once producer for the cluster tests
 * (tests/integration/nemesis_test.py, cluster_test.py). Sends uniquely numbered messages,
 * one per request, round-robin over the topic's partitions, for a given time, and records
 * every acknowledgement; when a send fails (a node killed or paused: timeouts, refused
 * connections) it moves to the next node (runnel_client_set_endpoint) and resends the
 * same write with the same exactly-once sequence (runnel_client_repeat_sequence), so a
 * write that was applied before the failure is answered with its original offset, never
 * appended twice.
 *
 * Usage: runnel-nemesis-producer PORTS STREAM TOPIC PARTITIONS PRODUCER_ID DURATION_MS OUT [RATE]
 *   PORTS: comma-separated client endpoints of the nodes, each PORT (on 127.0.0.1) or
 *   ADDRESS:PORT (IPv4; the network-namespace testbed), starting at the first.
 *   RATE: at most this many messages per second (0 or absent: as fast as acknowledged).
 * OUT gets one line per event:
 *   ack <number> <partition> <offset> <start_us> <end_us>   (acknowledged, offset given)
 *   fail <number> <code> <port>                            (an attempt failed; resent)
 *   end <acked> <attempts_failed>
 * The payload of message number n of producer p is "p<p>-<n>" (message id high p + 1,
 * low n). Exits 0 once the duration has passed and the last message was acknowledged
 * (it keeps resending it for at most 60 s more), 1 otherwise.
 */
#include <runnel/runnel.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PRODUCER_PORTS_MAX = 8, PRODUCER_LAST_GRACE_MS = 60000 };

struct producer_options {
    char hosts[PRODUCER_PORTS_MAX][16];
    uint16_t ports[PRODUCER_PORTS_MAX];
    uint32_t port_count;
    const char *stream;
    const char *topic;
    uint32_t partitions;
    uint32_t id;
    uint64_t duration_ms;
    const char *out;
    uint64_t rate;
};

static uint64_t producer_now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

/* One endpoint of PORTS at *cursor: PORT or ADDRESS:PORT; advances past it and its comma. */
static int producer_parse_endpoint(char **cursor, struct producer_options *options)
{
    uint32_t index = options->port_count;
    size_t length = strcspn(*cursor, ",");
    const char *colon = memchr(*cursor, ':', length);
    snprintf(options->hosts[index], sizeof(options->hosts[index]), "127.0.0.1");
    if (colon != NULL) {
        size_t host_length = (size_t)(colon - *cursor);
        if (host_length == 0 || host_length >= sizeof(options->hosts[index])) {
            return -1;
        }
        memcpy(options->hosts[index], *cursor, host_length);
        options->hosts[index][host_length] = '\0';
        *cursor += host_length + 1;
    }
    char *end = NULL;
    unsigned long port = strtoul(*cursor, &end, 10);
    if (end == *cursor || port == 0 || port > 65535 || (*end != ',' && *end != '\0')) {
        return -1;
    }
    options->ports[options->port_count++] = (uint16_t)port;
    *cursor = *end == ',' ? end + 1 : end;
    return 0;
}

static int producer_parse(int argc, char **argv, struct producer_options *options)
{
    if (argc != 8 && argc != 9) {
        return -1;
    }
    memset(options, 0, sizeof(*options));
    char *cursor = argv[1];
    while (*cursor != '\0' && options->port_count < PRODUCER_PORTS_MAX) {
        if (producer_parse_endpoint(&cursor, options) != 0) {
            return -1;
        }
    }
    options->stream = argv[2];
    options->topic = argv[3];
    options->partitions = (uint32_t)strtoul(argv[4], NULL, 10);
    options->id = (uint32_t)strtoul(argv[5], NULL, 10);
    options->duration_ms = strtoull(argv[6], NULL, 10);
    options->out = argv[7];
    options->rate = argc == 9 ? strtoull(argv[8], NULL, 10) : 0;
    return options->port_count > 0 && options->partitions > 0 ? 0 : -1;
}

static int producer_client(const struct producer_options *options, struct runnel_client **out)
{
    struct runnel_client_options client_options;
    runnel_client_options_init(&client_options);
    client_options.host = options->hosts[0];
    client_options.port = options->ports[0];
    client_options.connect_timeout_ms = 1000;
    client_options.request_timeout_ms = 8000;
    client_options.reconnect_attempts = 2;
    client_options.reconnect_backoff_ms = 100;
    return runnel_client_create(&client_options, out);
}

/* Sends message number until acknowledged or the grace time after the end has passed. */
static int producer_send_one(struct runnel_client *client, const struct producer_options *options,
                             uint64_t number, uint64_t end_us, uint32_t *port_index, FILE *out,
                             uint64_t *failed)
{
    char payload[64];
    int size = snprintf(payload, sizeof(payload), "p%u-%" PRIu64, options->id, number);
    struct runnel_message_out message = {.id_low = number,
                                         .id_high = options->id + 1u,
                                         .payload = payload,
                                         .payload_size_bytes = (uint32_t)size};
    struct runnel_partitioning partitioning = {.kind = RUNNEL_PARTITIONING_PARTITION_ID,
                                               .partition_id =
                                                   (uint32_t)(number % options->partitions)};
    uint64_t start_us = producer_now_us();
    for (uint32_t attempt = 0; attempt < 10000; attempt++) {
        struct runnel_send_result result;
        int code = runnel_send_messages(client, runnel_id_name(options->stream),
                                        runnel_id_name(options->topic), &partitioning, &message, 1,
                                        &result);
        if (code == 0) {
            fprintf(out, "ack %" PRIu64 " %u %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", number,
                    partitioning.partition_id, result.has_offset ? result.base_offset : UINT64_MAX,
                    start_us, producer_now_us());
            return 0;
        }
        (*failed)++;
        fprintf(out, "fail %" PRIu64 " %d %u\n", number, code, options->ports[*port_index]);
        fflush(out);
        if (producer_now_us() > end_us + PRODUCER_LAST_GRACE_MS * 1000ull) {
            return -1;
        }
        *port_index = (*port_index + 1) % options->port_count;
        runnel_client_repeat_sequence(client); /* the same write, applied at most once */
        if (runnel_client_set_endpoint(client, options->hosts[*port_index],
                                       options->ports[*port_index]) != 0) {
            return -1;
        }
        struct timespec delay = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        nanosleep(&delay, NULL);
    }
    return -1;
}

/* With a rate, waits until message number is due (start + (number - 1) / rate). */
static void producer_pace(const struct producer_options *options, uint64_t start_us,
                          uint64_t number)
{
    if (options->rate == 0) {
        return;
    }
    uint64_t due_us = start_us + (number - 1) * 1000000u / options->rate;
    uint64_t now_us = producer_now_us();
    if (due_us > now_us) {
        uint64_t wait_us = due_us - now_us;
        struct timespec delay = {.tv_sec = (time_t)(wait_us / 1000000u),
                                 .tv_nsec = (long)(wait_us % 1000000u) * 1000};
        nanosleep(&delay, NULL);
    }
}

int main(int argc, char **argv)
{
    struct producer_options options;
    if (producer_parse(argc, argv, &options) != 0) {
        fprintf(stderr, "usage: runnel-nemesis-producer PORTS STREAM TOPIC PARTITIONS "
                        "PRODUCER_ID DURATION_MS OUT [RATE]\n");
        return 2;
    }
    FILE *out = fopen(options.out, "w");
    struct runnel_client *client = NULL;
    if (out == NULL || producer_client(&options, &client) != 0) {
        fprintf(stderr, "nemesis-producer: cannot start (%s)\n", strerror(errno));
        return 1;
    }
    uint32_t port_index = 0;
    int result = -1;
    for (uint32_t attempt = 0; attempt < 100 && result != 0; attempt++) {
        port_index = attempt % options.port_count;
        (void)runnel_client_set_endpoint(client, options.hosts[port_index],
                                         options.ports[port_index]);
        result = runnel_connect_and_login(client, "iggy", "iggy");
        if (result != 0) {
            struct timespec delay = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
            nanosleep(&delay, NULL);
        }
    }
    uint64_t start_us = producer_now_us();
    uint64_t end_us = start_us + options.duration_ms * 1000u;
    uint64_t acked = 0, failed = 0;
    for (uint64_t number = 1; result == 0 && producer_now_us() < end_us; number++) {
        producer_pace(&options, start_us, number);
        result = producer_send_one(client, &options, number, end_us, &port_index, out, &failed);
        acked += result == 0 ? 1 : 0;
    }
    fprintf(out, "end %" PRIu64 " %" PRIu64 "\n", acked, failed);
    fclose(out);
    runnel_client_destroy(client);
    return result == 0 ? 0 : 1;
}
