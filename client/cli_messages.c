/*
 * runnel CLI: message send/poll, consumer-group and consumer-offset commands. CLI
 * process, single thread.
 */
#include "client/cli_commands.h"

#include "client/cli_output.h"
#include "lib/assert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { CLI_SEND_MAX = 32, CLI_GROUPS_MAX = 256, CLI_PAYLOAD_SHOWN_MAX = 80 };

static int cli_message_send(struct cli_context *context, struct runnel_id stream,
                            struct runnel_id topic)
{
    struct runnel_message_out messages[CLI_SEND_MAX];
    uint32_t count = 0;
    for (uint32_t index = 4; index < context->word_count && count < CLI_SEND_MAX; index++) {
        const char *text = context->words[index];
        messages[count++] = (struct runnel_message_out){
            .payload = text, .payload_size_bytes = (uint32_t)strlen(text)};
        if (messages[count - 1].payload_size_bytes == 0) {
            return cli_usage("message send: empty messages are not allowed");
        }
    }
    if (count == 0) {
        return cli_usage("message send <stream> <topic> [--partition-id N | --key K] <message>...");
    }
    struct runnel_partitioning partitioning = {.kind = RUNNEL_PARTITIONING_BALANCED};
    uint64_t partition = 0;
    const char *key = cli_option(context, "--key");
    if (cli_number(cli_option(context, "--partition-id"), &partition)) {
        partitioning.kind = RUNNEL_PARTITIONING_PARTITION_ID;
        partitioning.partition_id = (uint32_t)partition;
    } else if (key != NULL && key[0] != '\0') {
        partitioning.kind = RUNNEL_PARTITIONING_KEY;
        partitioning.key = key;
        partitioning.key_size_bytes = (uint32_t)strlen(key);
    }
    struct runnel_send_result sent;
    int result =
        runnel_send_messages(context->client, stream, topic, &partitioning, messages, count, &sent);
    if (result == 0) {
        static const struct cli_column columns[] = {
            {"messages", true}, {"partition", true}, {"base_offset", true}};
        cli_output_begin(context->is_json, columns, 3);
        char offset[24] = "-"; /* the server may not report it */
        if (sent.has_offset) {
            snprintf(offset, sizeof(offset), "%llu", (unsigned long long)sent.base_offset);
        }
        cli_output_row("%u\t%u\t%s", count, sent.partition_id, offset);
        cli_output_end();
    }
    return result;
}

/* The first bytes of a payload with control characters (tabs, NULs, escapes) and
 * bytes over 0x7E shown as '.', so they cannot break the table or the terminal. */
static void cli_printable(const uint8_t *payload, uint32_t size, char *text, size_t text_size)
{
    assert(text != NULL);
    assert(text_size > 0);
    size_t count = size < text_size - 1 ? size : text_size - 1;
    for (size_t index = 0; index < count; index++) {
        text[index] = payload[index] >= 0x20 && payload[index] < 0x7F ? (char)payload[index] : '.';
    }
    text[count] = '\0';
}

static void cli_poll_strategy(const struct cli_context *context,
                              struct runnel_poll_request *request)
{
    uint64_t value = 0;
    request->polling_kind = RUNNEL_POLLING_FIRST;
    if (cli_number(cli_option(context, "--offset"), &value)) {
        request->polling_kind = RUNNEL_POLLING_OFFSET;
        request->polling_value = value;
    } else if (cli_number(cli_option(context, "--timestamp"), &value)) {
        request->polling_kind = RUNNEL_POLLING_TIMESTAMP;
        request->polling_value = value;
    } else if (cli_option(context, "--last") != NULL) {
        request->polling_kind = RUNNEL_POLLING_LAST;
    } else if (cli_option(context, "--next") != NULL) {
        request->polling_kind = RUNNEL_POLLING_NEXT;
    }
    request->count = 1;
    if (cli_number(cli_option(context, "--count"), &value) && value <= UINT32_MAX) {
        request->count = (uint32_t)value;
    }
    request->consumer = runnel_id_number(0);
    if (cli_option(context, "--consumer") != NULL) {
        (void)runnel_id_parse(cli_option(context, "--consumer"), &request->consumer);
    }
    request->auto_commit = cli_option(context, "--auto-commit") != NULL;
}

static int cli_message_poll(struct cli_context *context, struct runnel_id stream,
                            struct runnel_id topic)
{
    struct runnel_poll_request request = {.consumer_kind = RUNNEL_CONSUMER_SINGLE,
                                          .stream = stream,
                                          .topic = topic,
                                          .has_partition = true};
    if (!cli_u32(context, 4, &request.partition_id)) {
        return cli_usage("message poll <stream> <topic> <partition> [--offset N | --first | "
                         "--last | --next | --timestamp us] [--count N] [--consumer ID] "
                         "[--auto-commit]");
    }
    cli_poll_strategy(context, &request);
    struct runnel_polled polled;
    int result = runnel_poll_messages(context->client, &request, &polled);
    if (result != 0) {
        return result;
    }
    static const struct cli_column columns[] = {
        {"offset", true}, {"timestamp_us", true}, {"size_bytes", true}, {"payload", false}};
    cli_output_begin(context->is_json, columns, 4);
    struct runnel_message message;
    for (uint32_t index = 0; index < CLI_ROWS_MAX && runnel_polled_next(&polled, &message);
         index++) {
        char shown[CLI_PAYLOAD_SHOWN_MAX + 1];
        cli_printable(message.payload, message.payload_size_bytes, shown, sizeof(shown));
        cli_output_row("%llu\t%llu\t%u\t%s", (unsigned long long)message.offset,
                       (unsigned long long)message.timestamp_us, message.payload_size_bytes, shown);
    }
    cli_output_end();
    return 0;
}

int cli_message(struct cli_context *context)
{
    struct runnel_id stream;
    struct runnel_id topic;
    bool has_ids = cli_id(context, 2, &stream) && cli_id(context, 3, &topic);
    if (cli_action(context, "send") && has_ids) {
        return cli_message_send(context, stream, topic);
    }
    if (cli_action(context, "poll") && has_ids) {
        return cli_message_poll(context, stream, topic);
    }
    return cli_usage("message send|poll <stream> <topic> ...");
}

static void cli_print_groups(const struct cli_context *context, const struct runnel_group *groups,
                             uint32_t count)
{
    static const struct cli_column columns[] = {
        {"id", true}, {"name", false}, {"partitions", true}, {"members", true}};
    cli_output_begin(context->is_json, columns, 4);
    for (uint32_t index = 0; index < count; index++) {
        cli_output_row("%u\t%s\t%u\t%u", groups[index].id, groups[index].name,
                       groups[index].partition_count, groups[index].member_count);
    }
    cli_output_end();
}

int cli_group(struct cli_context *context)
{
    static struct runnel_group groups[CLI_GROUPS_MAX];
    struct runnel_id stream;
    struct runnel_id topic;
    struct runnel_id group;
    bool has_ids = cli_id(context, 2, &stream) && cli_id(context, 3, &topic);
    bool has_group = has_ids && cli_id(context, 4, &group);
    uint32_t count = 1;
    int result = 1;
    if (cli_action(context, "create") && has_ids && cli_word(context, 4) != NULL) {
        result =
            runnel_group_create(context->client, stream, topic, cli_word(context, 4), &groups[0]);
    } else if (cli_action(context, "get") && has_group) {
        result = runnel_group_get(context->client, stream, topic, group, &groups[0], NULL, 0);
    } else if (cli_action(context, "list") && has_ids) {
        result = runnel_group_list(context->client, stream, topic, groups, CLI_GROUPS_MAX, &count);
        count = count < CLI_GROUPS_MAX ? count : CLI_GROUPS_MAX;
    } else if (cli_action(context, "delete") && has_group) {
        result = runnel_group_delete(context->client, stream, topic, group);
        count = 0;
    }
    if (result == 1) {
        return cli_usage("consumer-group create <stream> <topic> <name> | "
                         "get|delete <stream> <topic> <group> | list <stream> <topic>");
    }
    if (result == 0 && count > 0) {
        cli_print_groups(context, groups, count);
    } else if (result == 0) {
        cli_output_ok(context->is_json, "ok");
    }
    return result;
}

int cli_offset(struct cli_context *context)
{
    struct runnel_id consumer;
    struct runnel_id stream;
    struct runnel_id topic;
    uint32_t partition = 0;
    uint64_t offset = 0;
    bool has_args = cli_id(context, 2, &consumer) && cli_id(context, 3, &stream) &&
                    cli_id(context, 4, &topic) && cli_u32(context, 5, &partition);
    uint8_t kind =
        cli_option(context, "--group") != NULL ? RUNNEL_CONSUMER_GROUP : RUNNEL_CONSUMER_SINGLE;
    if (cli_action(context, "get") && has_args) {
        struct runnel_offset stored;
        int result =
            runnel_offset_get(context->client, kind, consumer, stream, topic, partition, &stored);
        if (result == 0) {
            static const struct cli_column columns[] = {
                {"partition", true}, {"current_offset", true}, {"stored_offset", true}};
            cli_output_begin(context->is_json, columns, 3);
            cli_output_row("%u\t%llu\t%llu", stored.partition_id,
                           (unsigned long long)stored.current_offset,
                           (unsigned long long)stored.stored_offset);
            cli_output_end();
        }
        return result;
    }
    if (cli_action(context, "set") && has_args && cli_number(cli_word(context, 6), &offset)) {
        int result =
            runnel_offset_store(context->client, kind, consumer, stream, topic, partition, offset);
        if (result == 0) {
            cli_output_ok(context->is_json, "ok");
        }
        return result;
    }
    return cli_usage("consumer-offset get <consumer> <stream> <topic> <partition> | "
                     "set <consumer> <stream> <topic> <partition> <offset> [--group]");
}
