/*
 * librunnel example: a consumer-group member. Joins group "example-group" on
 * example-stream / example-topic (creating it when missing), reads the partitions the
 * server assigns, lets the server commit on each poll, and leaves on exit.
 *   runnel-example-consumer_group [host] [port]   (user iggy / password iggy)
 */
#include <runnel/runnel.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, int code)
{
    fprintf(stderr, "consumer_group: %s: %s\n", what, runnel_strerror(code));
    return 1;
}

int main(int argc, char **argv)
{
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    options.host = argc > 1 ? argv[1] : "127.0.0.1";
    options.port = (uint16_t)(argc > 2 ? atoi(argv[2]) : 8090);
    options.reconnect_attempts = 3; /* the consumer rejoins after a reconnect */
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
        .consumer_kind = RUNNEL_CONSUMER_GROUP,
        .consumer = runnel_id_name("example-group"),
        .batch_count = 100,
        .auto_commit = RUNNEL_AUTO_COMMIT_AFTER_POLL,
    };
    struct runnel_consumer *consumer = NULL;
    result = runnel_consumer_create(client, &consumer_options, &consumer);
    if (result != 0) {
        runnel_client_destroy(client);
        return fail("consumer", result);
    }
    uint32_t per_partition[8] = {0};
    int received = 0;
    struct runnel_message message;
    uint32_t partition = 0;
    while ((result = runnel_consumer_next(consumer, &message, &partition)) == 0) {
        per_partition[partition % 8]++;
        received++;
    }
    printf("consumer_group: %d messages (partition 0: %u, 1: %u, 2: %u) (%s)\n", received,
           per_partition[0], per_partition[1], per_partition[2], runnel_strerror(result));
    int destroyed = runnel_consumer_destroy(consumer); /* leaves the group */
    runnel_client_destroy(client);
    return result == -RUNNEL_CLIENT_EEMPTY && destroyed == 0 ? 0 : 1;
}
