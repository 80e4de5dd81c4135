/*
 * librunnel example: a batching producer. Creates stream "example-stream" and topic
 * "example-topic" (3 partitions) if needed, then sends 1000 messages, balanced.
 *   runnel-example-producer [host] [port]   (user iggy / password iggy)
 */
#include <runnel/runnel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int code)
{
    fprintf(stderr, "producer: %s: %s\n", what, runnel_strerror(code));
    return 1;
}

int main(int argc, char **argv)
{
    struct runnel_client_options options;
    runnel_client_options_init(&options);
    options.host = argc > 1 ? argv[1] : "127.0.0.1";
    options.port = (uint16_t)(argc > 2 ? atoi(argv[2]) : 8090);
    options.reconnect_attempts = 3;
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
    /* Already existing is fine: the example may run twice. */
    (void)runnel_stream_create(client, "example-stream", NULL);
    (void)runnel_topic_create(client, runnel_id_name("example-stream"), "example-topic", 3, NULL,
                              NULL);
    struct runnel_producer_options producer_options = {
        .stream = runnel_id_name("example-stream"),
        .topic = runnel_id_name("example-topic"),
        .partitioning = {.kind = RUNNEL_PARTITIONING_BALANCED},
        .batch_messages_max = 100,
        .linger_us = 5000,
    };
    struct runnel_producer *producer = NULL;
    result = runnel_producer_create(client, &producer_options, &producer);
    for (int index = 0; result == 0 && index < 1000; index++) {
        char payload[64];
        int size = snprintf(payload, sizeof(payload), "hello %d", index);
        struct runnel_message_out message = {.payload = payload,
                                             .payload_size_bytes = (uint32_t)size};
        result = runnel_producer_send(producer, &message);
    }
    int flushed = runnel_producer_destroy(producer);
    result = result != 0 ? result : flushed;
    if (result != 0) {
        runnel_client_destroy(client);
        return fail("send", result);
    }
    printf("producer: sent 1000 messages to example-stream/example-topic\n");
    (void)runnel_logout(client);
    runnel_client_destroy(client);
    return 0;
}
