/*
 * Iggy command-code table: code -> operation, class and name; and the identifier-only
 * request bodies. Pure lookups; any shard and the client library.
 */
#include "proto/iggy_command.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_header.h"

#include <stddef.h>

struct iggy_command_entry {
    uint32_t code;
    uint8_t operation; /* what a client sends it under */
    uint8_t class;     /* enum iggy_command_class when sent as NonReplicated */
    const char *name;
};

#define READ  IGGY_COMMAND_READ
#define REPL  IGGY_COMMAND_REPLICATED
#define NOHAN IGGY_COMMAND_HANDLERLESS
#define NONR  IGGY_OPERATION_NON_REPLICATED

static const struct iggy_command_entry iggy_command_entries[] = {
    {IGGY_COMMAND_PING, NONR, READ, "ping"},
    {IGGY_COMMAND_STATS, NONR, READ, "stats"},
    {IGGY_COMMAND_SNAPSHOT, NONR, READ, "snapshot"},
    {IGGY_COMMAND_CLUSTER_METADATA, NONR, READ, "cluster.metadata"},
    {IGGY_COMMAND_OPTIONS_DESCRIBE, NONR, READ, "options.describe"},
    {IGGY_COMMAND_ME, NONR, READ, "me"},
    {IGGY_COMMAND_CLIENT_GET, NONR, READ, "client.get"},
    {IGGY_COMMAND_CLIENT_LIST, NONR, READ, "client.list"},
    {IGGY_COMMAND_USER_GET, NONR, READ, "user.get"},
    {IGGY_COMMAND_USER_LIST, NONR, READ, "user.list"},
    {IGGY_COMMAND_USER_CREATE, IGGY_OPERATION_CREATE_USER, REPL, "user.create"},
    {IGGY_COMMAND_USER_DELETE, IGGY_OPERATION_DELETE_USER, REPL, "user.delete"},
    {IGGY_COMMAND_USER_UPDATE, IGGY_OPERATION_UPDATE_USER, REPL, "user.update"},
    {IGGY_COMMAND_USER_PERMISSIONS, IGGY_OPERATION_UPDATE_PERMISSIONS, REPL, "user.permissions"},
    {IGGY_COMMAND_USER_PASSWORD, IGGY_OPERATION_CHANGE_PASSWORD, REPL, "user.password"},
    {IGGY_COMMAND_USER_LOGIN_LEGACY, NONR, IGGY_COMMAND_LEGACY_LOGIN, "user.login"},
    {IGGY_COMMAND_USER_LOGOUT, IGGY_OPERATION_LOGOUT, NOHAN, "user.logout"},
    {IGGY_COMMAND_LOGIN_REGISTER, IGGY_OPERATION_REGISTER, NOHAN, "login_register"},
    {IGGY_COMMAND_PAT_LIST, NONR, READ, "pat.list"},
    {IGGY_COMMAND_PAT_CREATE, IGGY_OPERATION_CREATE_PERSONAL_ACCESS_TOKEN, REPL, "pat.create"},
    {IGGY_COMMAND_PAT_DELETE, IGGY_OPERATION_DELETE_PERSONAL_ACCESS_TOKEN, REPL, "pat.delete"},
    {IGGY_COMMAND_PAT_LOGIN_LEGACY, NONR, IGGY_COMMAND_LEGACY_LOGIN, "pat.login"},
    {IGGY_COMMAND_LOGIN_REGISTER_WITH_PAT, IGGY_OPERATION_REGISTER, NOHAN,
     "login_register_with_pat"},
    {IGGY_COMMAND_MESSAGE_POLL, NONR, READ, "message.poll"},
    {IGGY_COMMAND_MESSAGE_SEND, IGGY_OPERATION_SEND_MESSAGES, REPL, "message.send"},
    {IGGY_COMMAND_MESSAGE_FLUSH, NONR, IGGY_COMMAND_FEATURE_UNAVAILABLE,
     "message.flush_unsaved_buffer"},
    {IGGY_COMMAND_OFFSET_GET, NONR, READ, "consumer_offset.get"},
    {IGGY_COMMAND_OFFSET_STORE, IGGY_OPERATION_STORE_CONSUMER_OFFSET, REPL,
     "consumer_offset.store"},
    {IGGY_COMMAND_OFFSET_DELETE, IGGY_OPERATION_DELETE_CONSUMER_OFFSET, REPL,
     "consumer_offset.delete"},
    {IGGY_COMMAND_STREAM_GET, NONR, READ, "stream.get"},
    {IGGY_COMMAND_STREAM_LIST, NONR, READ, "stream.list"},
    {IGGY_COMMAND_STREAM_CREATE, IGGY_OPERATION_CREATE_STREAM, REPL, "stream.create"},
    {IGGY_COMMAND_STREAM_DELETE, IGGY_OPERATION_DELETE_STREAM, REPL, "stream.delete"},
    {IGGY_COMMAND_STREAM_UPDATE, IGGY_OPERATION_UPDATE_STREAM, REPL, "stream.update"},
    {IGGY_COMMAND_STREAM_PURGE, IGGY_OPERATION_PURGE_STREAM, REPL, "stream.purge"},
    {IGGY_COMMAND_TOPIC_GET, NONR, READ, "topic.get"},
    {IGGY_COMMAND_TOPIC_LIST, NONR, READ, "topic.list"},
    {IGGY_COMMAND_TOPIC_CREATE, IGGY_OPERATION_CREATE_TOPIC, REPL, "topic.create"},
    {IGGY_COMMAND_TOPIC_DELETE, IGGY_OPERATION_DELETE_TOPIC, REPL, "topic.delete"},
    {IGGY_COMMAND_TOPIC_UPDATE, IGGY_OPERATION_UPDATE_TOPIC, REPL, "topic.update"},
    {IGGY_COMMAND_TOPIC_PURGE, IGGY_OPERATION_PURGE_TOPIC, REPL, "topic.purge"},
    {IGGY_COMMAND_PARTITION_CREATE, IGGY_OPERATION_CREATE_PARTITIONS, REPL, "partition.create"},
    {IGGY_COMMAND_PARTITION_DELETE, IGGY_OPERATION_DELETE_PARTITIONS, REPL, "partition.delete"},
    {IGGY_COMMAND_SEGMENT_DELETE, IGGY_OPERATION_DELETE_SEGMENTS, REPL, "segment.delete"},
    {IGGY_COMMAND_GROUP_GET, NONR, READ, "consumer_group.get"},
    {IGGY_COMMAND_GROUP_LIST, NONR, READ, "consumer_group.list"},
    {IGGY_COMMAND_GROUP_CREATE, IGGY_OPERATION_CREATE_CONSUMER_GROUP, REPL,
     "consumer_group.create"},
    {IGGY_COMMAND_GROUP_DELETE, IGGY_OPERATION_DELETE_CONSUMER_GROUP, REPL,
     "consumer_group.delete"},
    {IGGY_COMMAND_GROUP_JOIN, IGGY_OPERATION_JOIN_CONSUMER_GROUP, REPL, "consumer_group.join"},
    {IGGY_COMMAND_GROUP_LEAVE, IGGY_OPERATION_LEAVE_CONSUMER_GROUP, REPL, "consumer_group.leave"},
    {IGGY_COMMAND_GROUP_SYNC, NONR, READ, "consumer_group.sync"},
};

#undef READ
#undef REPL
#undef NOHAN
#undef NONR

enum { IGGY_COMMAND_COUNT = sizeof(iggy_command_entries) / sizeof(iggy_command_entries[0]) };

static const struct iggy_command_entry *iggy_command_find(uint32_t code)
{
    assert(IGGY_COMMAND_COUNT > 0);
    for (uint32_t index = 0; index < IGGY_COMMAND_COUNT; index++) {
        assert(index == 0 ||
               iggy_command_entries[index - 1].code < iggy_command_entries[index].code);
        if (iggy_command_entries[index].code == code) {
            return &iggy_command_entries[index];
        }
    }
    return NULL;
}

enum iggy_command_class iggy_command_class_of(uint32_t code)
{
    const struct iggy_command_entry *entry = iggy_command_find(code);
    assert(entry == NULL || entry->code == code);
    if (entry == NULL) {
        return IGGY_COMMAND_UNKNOWN;
    }
    assert(entry->class != IGGY_COMMAND_UNKNOWN);
    return (enum iggy_command_class)entry->class;
}

uint8_t iggy_command_operation(uint32_t code)
{
    const struct iggy_command_entry *entry = iggy_command_find(code);
    assert(entry == NULL || entry->code == code);
    if (entry == NULL) {
        return IGGY_OPERATION_NON_REPLICATED;
    }
    assert(iggy_header_is_operation_valid(entry->operation));
    return entry->operation;
}

uint32_t iggy_command_for_operation(uint8_t operation)
{
    assert(IGGY_COMMAND_COUNT > 0);
    if (operation == IGGY_OPERATION_NON_REPLICATED) {
        return 0;
    }
    for (uint32_t index = 0; index < IGGY_COMMAND_COUNT; index++) {
        if (iggy_command_entries[index].operation == operation) {
            assert(iggy_command_entries[index].code != 0);
            return iggy_command_entries[index].code;
        }
    }
    return 0;
}

const char *iggy_command_name(uint32_t code)
{
    const struct iggy_command_entry *entry = iggy_command_find(code);
    assert(entry == NULL || entry->code == code);
    if (entry == NULL) {
        return "unknown";
    }
    assert(entry->name != NULL);
    return entry->name;
}

int iggy_command_identifiers_decode(const uint8_t *body, uint32_t body_size, uint32_t id_count,
                                    struct iggy_identifier *ids)
{
    assert(body != NULL || body_size == 0);
    assert(ids != NULL && id_count >= 1 && id_count <= 3);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    for (uint32_t index = 0; index < id_count; index++) {
        iggy_wire_identifier_decode(&reader, &ids[index]);
    }
    return iggy_reader_finish(&reader);
}

int iggy_command_identifiers_encode(struct iggy_writer *writer, uint32_t id_count,
                                    const struct iggy_identifier *ids)
{
    assert(writer != NULL);
    assert(ids != NULL && id_count >= 1 && id_count <= 3);
    for (uint32_t index = 0; index < id_count; index++) {
        iggy_wire_identifier_encode(writer, &ids[index]);
    }
    return writer->error;
}
