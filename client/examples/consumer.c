/*
 * librunnel example: a single consumer reading partition 0 of example-stream /
 * example-topic from the first offset, committing after each message it consumed.
 *   runnel-example-consumer [host] [port]   (user iggy / password iggy)
 */
#include <runnel/runnel.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, int code)
{
    fprintf(stderr, "consumer: %s: %s\n", what, runnel_strerror(code));
    return 1;
}

int main(int argc, char **argv)
{
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    options.host = argc > 1 ? argv[1] : "127.0.0.1";
    options.port = (uint16_t)(argc > 2 ? atoi(argv[2]) : 8090);
    struct runnel_client *client = NULL;
    int result = runnel_client_create(&options, &client);
    if (result != 0) {
        return fail("create", result);
    }
    result = runnel_connect_and_login(client, "iggy", "iggy");
    if (result != 0) {
        runnel_client_destroy(client);
        return fail("login", result);
    }
    struct runnel_consumer_options consumer_options = {
        .stream = runnel_id_name("example-stream"),
        .topic = runnel_id_name("example-topic"),
        .consumer_kind = RUNNEL_CONSUMER_SINGLE,
        .consumer = runnel_id_number(1),
        .partition_id = 0,
        .polling_kind = RUNNEL_POLLING_FIRST,
        .batch_count = 100,
        .auto_commit = RUNNEL_AUTO_COMMIT_AFTER_CONSUME,
    };
    struct runnel_consumer *consumer = NULL;
    result = runnel_consumer_create(client, &consumer_options, &consumer);
    if (result != 0) {
        runnel_client_destroy(client);
        return fail("consumer", result);
    }
    int received = 0;
    struct runnel_message message;
    while ((result = runnel_consumer_next(consumer, &message, NULL)) == 0) {
        if (received < 3) {
            printf("offset %llu: %.*s\n", (unsigned long long)message.offset,
                   (int)message.payload_size_bytes, (const char *)message.payload);
        }
        received++;
    }
    printf("consumer: %d messages from partition 0 (%s)\n", received, runnel_strerror(result));
    int destroyed = runnel_consumer_destroy(consumer);
    runnel_client_destroy(client);
    return result == -RUNNEL_CLIENT_EEMPTY && destroyed == 0 ? 0 : 1;
}
