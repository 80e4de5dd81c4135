/*
 * librunnel: typed calls for consumer groups (600-606) and consumer offsets (120-122).
 * Partition id lists from the server are bounds-checked against the caller's arrays.
 * Caller's thread.
 */
#include "client/client.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_command.h"
#include "proto/iggy_groups.h"
#include "proto/iggy_messages.h"

#include <errno.h>
#include <string.h>

static void groups_copy(struct runnel_group *out, const struct iggy_group_info *in)
{
    out->id = in->id;
    out->partition_count = in->partition_count;
    out->member_count = in->member_count;
    client_copy_text(out->name, sizeof(out->name), in->name);
}

/* A client_entry_decode for ConsumerGroupResponse entries (struct runnel_group). */
static int groups_group_entry(struct iggy_reader *reader, void *entry_out)
{
    struct iggy_group_info info;
    int result = iggy_groups_group_decode(reader, &info);
    if (result == 0 && entry_out != NULL) {
        groups_copy(entry_out, &info);
    }
    return result;
}

int runnel_group_create(struct runnel_client *client, struct runnel_id stream,
                        struct runnel_id topic, const char *name, struct runnel_group *group_out)
{
    struct iggy_group_create request;
    if (client == NULL || name == NULL || name[0] == '\0' ||
        strnlen(name, RUNNEL_NAME_SIZE_MAX + 1) > RUNNEL_NAME_SIZE_MAX ||
        client_identifier(stream, &request.stream) != 0 ||
        client_identifier(topic, &request.topic) != 0) {
        return -EINVAL;
    }
    request.name = iggy_bytes_from_string(name);
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_groups_create_encode(&writer, &request);
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_GROUP_CREATE, &writer, &reader);
    if (result != 0 || group_out == NULL) {
        return result;
    }
    return groups_group_entry(&reader, group_out);
}

int runnel_group_get(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                     struct runnel_id group, struct runnel_group *group_out,
                     struct runnel_group_member *members, uint32_t members_max)
{
    struct runnel_id ids[3] = {stream, topic, group};
    struct iggy_writer writer;
    if (client == NULL || group_out == NULL || (members == NULL && members_max > 0) ||
        client_ids_body(client, &writer, 3, ids) != 0) {
        return -EINVAL;
    }
    struct iggy_reader reader;
    int result = client_call_found(client, IGGY_COMMAND_GROUP_GET, &writer, &reader);
    if (result != 0) {
        return result;
    }
    result = groups_group_entry(&reader, group_out);
    if (result != 0) {
        return result;
    }
    for (uint32_t index = 0; index < group_out->member_count && reader.error == 0; index++) {
        struct iggy_group_member member;
        if (iggy_groups_member_decode(&reader, &member) != 0 || index >= members_max) {
            continue;
        }
        members[index].id = member.id;
        members[index].partition_count = member.partition_count;
        uint32_t kept = member.partition_count < RUNNEL_MEMBER_PARTITIONS_MAX
                            ? member.partition_count
                            : RUNNEL_MEMBER_PARTITIONS_MAX;
        for (uint32_t slot = 0; slot < kept; slot++) {
            members[index].partition_ids[slot] =
                iggy_groups_partition_at(member.partition_bytes, slot);
        }
    }
    return iggy_reader_finish(&reader);
}

int runnel_group_list(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                      struct runnel_group *groups, uint32_t groups_max, uint32_t *count_out)
{
    struct runnel_id ids[2] = {stream, topic};
    struct iggy_writer writer;
    if (client == NULL || count_out == NULL || (groups == NULL && groups_max > 0) ||
        client_ids_body(client, &writer, 2, ids) != 0) {
        return -EINVAL;
    }
    struct client_list list = {.entries = groups,
                               .entry_size_bytes = sizeof(*groups),
                               .entries_max = groups_max,
                               .decode = groups_group_entry};
    return client_call_list(client, IGGY_COMMAND_GROUP_LIST, &writer, &list, count_out);
}

static int groups_call(struct runnel_client *client, uint32_t code, struct runnel_id stream,
                       struct runnel_id topic, struct runnel_id group)
{
    struct runnel_id ids[3] = {stream, topic, group};
    return client_call_ids(client, code, 3, ids);
}

int runnel_group_delete(struct runnel_client *client, struct runnel_id stream,
                        struct runnel_id topic, struct runnel_id group)
{
    return groups_call(client, IGGY_COMMAND_GROUP_DELETE, stream, topic, group);
}

int runnel_group_join(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                      struct runnel_id group)
{
    return groups_call(client, IGGY_COMMAND_GROUP_JOIN, stream, topic, group);
}

int runnel_group_leave(struct runnel_client *client, struct runnel_id stream,
                       struct runnel_id topic, struct runnel_id group)
{
    return groups_call(client, IGGY_COMMAND_GROUP_LEAVE, stream, topic, group);
}

int runnel_group_sync(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                      struct runnel_id group, struct runnel_group_sync *sync_out)
{
    struct runnel_id ids[3] = {stream, topic, group};
    struct iggy_writer writer;
    if (client == NULL || sync_out == NULL || client_ids_body(client, &writer, 3, ids) != 0) {
        return -EINVAL;
    }
    struct iggy_reader reader;
    int result = client_call_found(client, IGGY_COMMAND_GROUP_SYNC, &writer, &reader);
    if (result != 0) {
        return result;
    }
    struct iggy_group_sync sync;
    if (iggy_groups_sync_decode(&reader, &sync) != 0) {
        return reader.error;
    }
    if (sync.partition_count > RUNNEL_SYNC_PARTITIONS_MAX) {
        return -RUNNEL_ETOOLARGE;
    }
    sync_out->generation = sync.generation;
    sync_out->partition_count = sync.partition_count;
    for (uint32_t index = 0; index < sync.partition_count; index++) {
        sync_out->partition_ids[index] = iggy_groups_partition_at(sync.partition_bytes, index);
    }
    return iggy_reader_finish(&reader);
}

static int offsets_encode(struct runnel_client *client, uint32_t code, uint8_t consumer_kind,
                          struct runnel_id consumer, struct runnel_id stream,
                          struct runnel_id topic, uint32_t partition_id, uint64_t offset,
                          struct iggy_writer *writer)
{
    struct iggy_consumer_offset request;
    memset(&request, 0, sizeof(request));
    request.consumer.kind = consumer_kind;
    if ((consumer_kind != RUNNEL_CONSUMER_SINGLE && consumer_kind != RUNNEL_CONSUMER_GROUP) ||
        client_identifier(consumer, &request.consumer.id) != 0 ||
        client_identifier(stream, &request.stream) != 0 ||
        client_identifier(topic, &request.topic) != 0) {
        return -EINVAL;
    }
    request.partition.is_set = true;
    request.partition.partition_id = partition_id;
    request.offset = offset;
    request.ack = IGGY_ACK_QUORUM;
    client_body_writer(client, writer);
    return iggy_messages_offset_encode(code, writer, &request);
}

int runnel_offset_get(struct runnel_client *client, uint8_t consumer_kind,
                      struct runnel_id consumer, struct runnel_id stream, struct runnel_id topic,
                      uint32_t partition_id, struct runnel_offset *offset_out)
{
    struct iggy_writer writer;
    if (client == NULL || offset_out == NULL ||
        offsets_encode(client, IGGY_COMMAND_OFFSET_GET, consumer_kind, consumer, stream, topic,
                       partition_id, 0, &writer) != 0) {
        return -EINVAL;
    }
    struct iggy_reader reader;
    int result = client_call_found(client, IGGY_COMMAND_OFFSET_GET, &writer, &reader);
    if (result != 0) {
        return result;
    }
    struct iggy_offset_reply decoded;
    iggy_messages_offset_reply_decode(&reader, &decoded);
    if (iggy_reader_finish(&reader) != 0) {
        return reader.error;
    }
    offset_out->partition_id = decoded.partition_id;
    offset_out->current_offset = decoded.current_offset;
    offset_out->stored_offset = decoded.stored_offset;
    return 0;
}

int runnel_offset_store(struct runnel_client *client, uint8_t consumer_kind,
                        struct runnel_id consumer, struct runnel_id stream, struct runnel_id topic,
                        uint32_t partition_id, uint64_t offset)
{
    struct iggy_writer writer;
    if (client == NULL || offsets_encode(client, IGGY_COMMAND_OFFSET_STORE, consumer_kind, consumer,
                                         stream, topic, partition_id, offset, &writer) != 0) {
        return -EINVAL;
    }
    return client_call_simple(client, IGGY_COMMAND_OFFSET_STORE, &writer);
}

int runnel_offset_delete(struct runnel_client *client, uint8_t consumer_kind,
                         struct runnel_id consumer, struct runnel_id stream, struct runnel_id topic,
                         uint32_t partition_id)
{
    struct iggy_writer writer;
    if (client == NULL || offsets_encode(client, IGGY_COMMAND_OFFSET_DELETE, consumer_kind,
                                         consumer, stream, topic, partition_id, 0, &writer) != 0) {
        return -EINVAL;
    }
    return client_call_simple(client, IGGY_COMMAND_OFFSET_DELETE, &writer);
}
