/*
 * runnel-nemesis-reader: reads one partition from an offset to its end through one login
 * and one connection (tests/integration/nemesis_test.py's checker). The runnel CLI logs in
 * once per poll, and a login is a replicated metadata op: on a loaded machine each CLI poll
 * took about 2.4 s, so reading a 10-minute run back 1,000 messages per CLI poll took
 * longer than the convergence bound.
 *
 * Usage: runnel-nemesis-reader ADDRESS:PORT STREAM TOPIC PARTITION FROM
 * Prints one line per message, in order:
 *   <offset> <timestamp_us> <size_bytes> <fnv1a64 of the payload, hex> <payload's first
 *   64 bytes, hex>
 * until a poll returns nothing. A failed poll is tried again 3 times, 1 s apart (a poll
 * forwarded to a primary that changes view is answered 57/58). Exits 0 at the end of the
 * partition, 1 when a poll still failed (the lines printed so far are valid), 2 on usage.
 */
#include <runnel/runnel.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { READER_COUNT = 1000, READER_RETRIES = 3, READER_SHOWN_BYTES = 64 };

struct reader_options {
    char host[16];
    uint16_t port;
    const char *stream;
    const char *topic;
    uint32_t partition;
    uint64_t from;
};

static int reader_parse(int argc, char **argv, struct reader_options *options)
{
    if (argc != 6) {
        return -1;
    }
    memset(options, 0, sizeof(*options));
    const char *colon = strchr(argv[1], ':');
    if (colon == NULL || colon == argv[1] || (size_t)(colon - argv[1]) >= sizeof(options->host)) {
        return -1;
    }
    memcpy(options->host, argv[1], (size_t)(colon - argv[1]));
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port == 0 || port > 65535) {
        return -1;
    }
    options->port = (uint16_t)port;
    options->stream = argv[2];
    options->topic = argv[3];
    unsigned long partition = strtoul(argv[4], &end, 10);
    if (end == argv[4] || *end != '\0' || partition > UINT32_MAX) {
        return -1;
    }
    options->partition = (uint32_t)partition;
    options->from = strtoull(argv[5], &end, 10);
    return end == argv[5] || *end != '\0' ? -1 : 0;
}

static uint64_t reader_fnv1a64(const uint8_t *bytes, uint32_t size)
{
    uint64_t hash = 14695981039346656037ull;
    for (uint32_t index = 0; index < size; index++) {
        hash = (hash ^ bytes[index]) * 1099511628211ull;
    }
    return hash;
}

static void reader_print(const struct runnel_message *message)
{
    printf("%" PRIu64 " %" PRIu64 " %u %016" PRIx64 " ", message->offset, message->timestamp_us,
           message->payload_size_bytes,
           reader_fnv1a64(message->payload, message->payload_size_bytes));
    uint32_t shown = message->payload_size_bytes < READER_SHOWN_BYTES ? message->payload_size_bytes
                                                                      : READER_SHOWN_BYTES;
    for (uint32_t index = 0; index < shown; index++) {
        printf("%02x", message->payload[index]);
    }
    printf("\n");
}

/* Polls from *next; prints what came and advances *next. Returns the messages printed or
 * -1 when the poll failed. */
static int64_t reader_poll(struct runnel_client *client, const struct reader_options *options,
                           uint64_t *next)
{
    struct runnel_poll_request request = {.consumer_kind = RUNNEL_CONSUMER_SINGLE,
                                          .consumer = runnel_id_number(0),
                                          .stream = runnel_id_name(options->stream),
                                          .topic = runnel_id_name(options->topic),
                                          .has_partition = true,
                                          .partition_id = options->partition,
                                          .polling_kind = RUNNEL_POLLING_OFFSET,
                                          .polling_value = *next,
                                          .count = READER_COUNT};
    struct runnel_polled polled;
    if (runnel_poll_messages(client, &request, &polled) != 0) {
        return -1;
    }
    int64_t printed = 0;
    struct runnel_message message;
    while (runnel_polled_next(&polled, &message)) {
        reader_print(&message);
        *next = message.offset + 1;
        printed++;
    }
    return printed;
}

static int reader_run(struct runnel_client *client, const struct reader_options *options)
{
    struct timespec second = {.tv_sec = 1, .tv_nsec = 0};
    uint64_t next = options->from;
    uint32_t failures = 0;
    for (;;) {
        int64_t printed = reader_poll(client, options, &next);
        if (printed == 0) {
            return 0;
        }
        if (printed > 0) {
            failures = 0;
            continue;
        }
        if (++failures > READER_RETRIES) {
            return 1;
        }
        nanosleep(&second, NULL);
        (void)runnel_connect_and_login(client, "iggy", "iggy");
    }
}

int main(int argc, char **argv)
{
    struct reader_options options;
    if (reader_parse(argc, argv, &options) != 0) {
        fprintf(stderr, "usage: runnel-nemesis-reader ADDRESS:PORT STREAM TOPIC PARTITION FROM\n");
        return 2;
    }
    struct runnel_client_options client_options;
    runnel_client_options_init(&client_options);
    client_options.host = options.host;
    client_options.port = options.port;
    client_options.request_timeout_ms = 20000;
    client_options.reconnect_attempts = 2;
    client_options.reconnect_backoff_ms = 200;
    struct runnel_client *client = NULL;
    if (runnel_client_create(&client_options, &client) != 0) {
        return 1;
    }
    int result = 1;
    if (runnel_connect_and_login(client, "iggy", "iggy") == 0) {
        result = reader_run(client, &options);
    }
    runnel_client_destroy(client);
    return result;
}
