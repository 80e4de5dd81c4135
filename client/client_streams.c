/*
 * librunnel: typed calls for streams, topics, partitions and segments (codes 200-205,
 * 300-305, 402, 403, 503). Encodes with proto/iggy_streams, validates every reply with
 * its decoders and copies names into the caller's structs. Caller's thread.
 */
#include "client/client.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_command.h"
#include "proto/iggy_streams.h"

#include <errno.h>
#include <string.h>

enum { TOPIC_OPTIONS_SIZE_MAX = 256 };

static void streams_copy_stream(struct runnel_stream *out, const struct iggy_stream_info *in)
{
    out->id = in->id;
    out->created_at_us = in->created_at_us;
    out->topic_count = in->topic_count;
    out->size_bytes = in->size_bytes;
    out->message_count = in->message_count;
    client_copy_text(out->name, sizeof(out->name), in->name);
}

static void streams_copy_topic(struct runnel_topic *out, const struct iggy_topic_info *in)
{
    out->id = in->id;
    out->created_at_us = in->created_at_us;
    out->partition_count = in->partition_count;
    out->message_expiry_us = in->message_expiry_us;
    out->compression = in->compression;
    out->max_topic_size_bytes = in->max_topic_size_bytes;
    out->size_bytes = in->size_bytes;
    out->message_count = in->message_count;
    client_copy_text(out->name, sizeof(out->name), in->name);
}

/* A client_entry_decode for StreamResponse entries (struct runnel_stream). */
static int streams_stream_entry(struct iggy_reader *reader, void *entry_out)
{
    struct iggy_stream_info info;
    int result = iggy_streams_stream_decode(reader, &info);
    if (result == 0 && entry_out != NULL) {
        streams_copy_stream(entry_out, &info);
    }
    return result;
}

/* A client_entry_decode for TopicHeader entries (struct runnel_topic). */
static int streams_topic_entry(struct iggy_reader *reader, void *entry_out)
{
    struct iggy_topic_info info;
    int result = iggy_streams_topic_decode(reader, &info);
    if (result == 0 && entry_out != NULL) {
        streams_copy_topic(entry_out, &info);
    }
    return result;
}

static bool streams_is_name_valid(const char *name)
{
    if (name == NULL) {
        return false;
    }
    size_t length = strnlen(name, RUNNEL_NAME_SIZE_MAX + 1);
    return length > 0 && length <= RUNNEL_NAME_SIZE_MAX;
}

int runnel_stream_create(struct runnel_client *client, const char *name,
                         struct runnel_stream *stream_out)
{
    if (client == NULL || !streams_is_name_valid(name)) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct iggy_stream_create request = {.name = iggy_bytes_from_string(name),
                                         .options = {NULL, 0}};
    iggy_streams_create_encode(&writer, &request);
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_STREAM_CREATE, &writer, &reader);
    if (result != 0 || stream_out == NULL) {
        return result;
    }
    return streams_stream_entry(&reader, stream_out);
}

int runnel_stream_get(struct runnel_client *client, struct runnel_id stream,
                      struct runnel_stream *stream_out)
{
    struct iggy_writer writer;
    if (client == NULL || stream_out == NULL || client_ids_body(client, &writer, 1, &stream) != 0) {
        return -EINVAL;
    }
    struct iggy_reader reader;
    int result = client_call_found(client, IGGY_COMMAND_STREAM_GET, &writer, &reader);
    if (result != 0) {
        return result;
    }
    result = streams_stream_entry(&reader, stream_out);
    if (result != 0) {
        return result;
    }
    for (uint32_t index = 0; index < stream_out->topic_count && reader.error == 0; index++) {
        struct iggy_topic_info topic;
        iggy_streams_topic_decode(&reader, &topic);
    }
    return iggy_reader_finish(&reader);
}

int runnel_stream_list(struct runnel_client *client, struct runnel_stream *streams,
                       uint32_t streams_max, uint32_t *count_out)
{
    if (client == NULL || count_out == NULL || (streams == NULL && streams_max > 0)) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct client_list list = {.entries = streams,
                               .entry_size_bytes = sizeof(*streams),
                               .entries_max = streams_max,
                               .decode = streams_stream_entry};
    return client_call_list(client, IGGY_COMMAND_STREAM_LIST, &writer, &list, count_out);
}

int runnel_stream_update(struct runnel_client *client, struct runnel_id stream, const char *name)
{
    struct iggy_stream_update request = {.options = {NULL, 0}};
    if (client == NULL || !streams_is_name_valid(name) ||
        client_identifier(stream, &request.stream) != 0) {
        return -EINVAL;
    }
    request.name = iggy_bytes_from_string(name);
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_streams_update_encode(&writer, &request);
    return client_call_simple(client, IGGY_COMMAND_STREAM_UPDATE, &writer);
}

int runnel_stream_delete(struct runnel_client *client, struct runnel_id stream)
{
    return client_call_ids(client, IGGY_COMMAND_STREAM_DELETE, 1, &stream);
}

int runnel_stream_purge(struct runnel_client *client, struct runnel_id stream)
{
    return client_call_ids(client, IGGY_COMMAND_STREAM_PURGE, 1, &stream);
}

static void streams_option_u64(struct iggy_writer *writer, const char *key, uint64_t value)
{
    uint8_t bytes[8];
    for (int index = 0; index < 8; index++) {
        bytes[index] = (uint8_t)(value >> (8 * index));
    }
    struct iggy_tlv_pair pair = {.key_kind = IGGY_TLV_STRING,
                                 .key = iggy_bytes_from_string(key),
                                 .value_kind = IGGY_TLV_UINT64,
                                 .value = {bytes, 8}};
    iggy_wire_tlv_encode(writer, &pair);
}

/* The options block, keys sorted as Iggy's SDK sends them. */
static void streams_topic_options(struct iggy_writer *writer,
                                  const struct runnel_topic_options *options)
{
    if (options == NULL) {
        return;
    }
    if (options->compression_gzip) {
        struct iggy_tlv_pair pair = {.key_kind = IGGY_TLV_STRING,
                                     .key = iggy_bytes_from_string("compression_algorithm"),
                                     .value_kind = IGGY_TLV_STRING,
                                     .value = iggy_bytes_from_string("gzip")};
        iggy_wire_tlv_encode(writer, &pair);
    }
    if (options->enforce_fsync != 0) {
        uint8_t value = options->enforce_fsync > 0 ? 1 : 0;
        struct iggy_tlv_pair pair = {.key_kind = IGGY_TLV_STRING,
                                     .key = iggy_bytes_from_string("enforce_fsync"),
                                     .value_kind = IGGY_TLV_BOOL,
                                     .value = {&value, 1}};
        iggy_wire_tlv_encode(writer, &pair);
    }
    if (options->max_topic_size_bytes != 0) {
        streams_option_u64(writer, "max_topic_size", options->max_topic_size_bytes);
    }
    if (options->message_expiry_us != 0) {
        streams_option_u64(writer, "message_expiry", options->message_expiry_us);
    }
}

int runnel_topic_create(struct runnel_client *client, struct runnel_id stream, const char *name,
                        uint32_t partition_count, const struct runnel_topic_options *options,
                        struct runnel_topic *topic_out)
{
    struct iggy_topic_create request;
    if (client == NULL || !streams_is_name_valid(name) ||
        client_identifier(stream, &request.stream) != 0) {
        return -EINVAL;
    }
    uint8_t options_bytes[TOPIC_OPTIONS_SIZE_MAX];
    struct iggy_writer options_writer;
    iggy_writer_init(&options_writer, options_bytes, sizeof(options_bytes));
    streams_topic_options(&options_writer, options);
    assert(options_writer.error == 0);
    request.partition_count = partition_count;
    request.name = iggy_bytes_from_string(name);
    request.options = (struct iggy_bytes){options_bytes, options_writer.size};
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_streams_topic_create_encode(&writer, &request);
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_TOPIC_CREATE, &writer, &reader);
    if (result != 0 || topic_out == NULL) {
        return result;
    }
    return streams_topic_entry(&reader, topic_out);
}

int runnel_topic_get(struct runnel_client *client, struct runnel_id stream, struct runnel_id topic,
                     struct runnel_topic *topic_out, struct runnel_partition *partitions,
                     uint32_t partitions_max)
{
    struct runnel_id ids[2] = {stream, topic};
    struct iggy_writer writer;
    if (client == NULL || topic_out == NULL || (partitions == NULL && partitions_max > 0) ||
        client_ids_body(client, &writer, 2, ids) != 0) {
        return -EINVAL;
    }
    struct iggy_reader reader;
    int result = client_call_found(client, IGGY_COMMAND_TOPIC_GET, &writer, &reader);
    if (result != 0) {
        return result;
    }
    result = streams_topic_entry(&reader, topic_out);
    if (result != 0) {
        return result;
    }
    for (uint32_t index = 0; index < topic_out->partition_count && reader.error == 0; index++) {
        struct iggy_partition_info partition;
        if (iggy_streams_partition_decode(&reader, &partition) == 0 && index < partitions_max) {
            partitions[index] = (struct runnel_partition){
                .id = partition.id,
                .created_at_us = partition.created_at_us,
                .segment_count = partition.segment_count,
                .current_offset = partition.current_offset,
                .size_bytes = partition.size_bytes,
                .message_count = partition.message_count,
            };
        }
    }
    return iggy_reader_finish(&reader);
}

int runnel_topic_list(struct runnel_client *client, struct runnel_id stream,
                      struct runnel_topic *topics, uint32_t topics_max, uint32_t *count_out)
{
    struct iggy_writer writer;
    if (client == NULL || count_out == NULL || (topics == NULL && topics_max > 0) ||
        client_ids_body(client, &writer, 1, &stream) != 0) {
        return -EINVAL;
    }
    *count_out = 0;
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_TOPIC_LIST, &writer, &reader);
    if (result != 0) {
        return result;
    }
    uint32_t count = iggy_reader_u32(&reader);
    if (reader.error != 0 || count > reader.size / 8) {
        return reader.error != 0 ? reader.error : -RUNNEL_EFORMAT;
    }
    for (uint32_t index = 0; index < count; index++) {
        result = streams_topic_entry(&reader, index < topics_max ? &topics[index] : NULL);
        if (result != 0) {
            return result;
        }
    }
    *count_out = count;
    return iggy_reader_finish(&reader);
}

int runnel_topic_update(struct runnel_client *client, struct runnel_id stream,
                        struct runnel_id topic, const char *name,
                        const struct runnel_topic_options *options)
{
    struct iggy_topic_update request;
    if (client == NULL || !streams_is_name_valid(name) ||
        client_identifier(stream, &request.stream) != 0 ||
        client_identifier(topic, &request.topic) != 0) {
        return -EINVAL;
    }
    uint8_t options_bytes[TOPIC_OPTIONS_SIZE_MAX];
    struct iggy_writer options_writer;
    iggy_writer_init(&options_writer, options_bytes, sizeof(options_bytes));
    streams_topic_options(&options_writer, options);
    request.name = iggy_bytes_from_string(name);
    request.options = (struct iggy_bytes){options_bytes, options_writer.size};
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_streams_topic_update_encode(&writer, &request);
    return client_call_simple(client, IGGY_COMMAND_TOPIC_UPDATE, &writer);
}

int runnel_topic_delete(struct runnel_client *client, struct runnel_id stream,
                        struct runnel_id topic)
{
    struct runnel_id ids[2] = {stream, topic};
    return client_call_ids(client, IGGY_COMMAND_TOPIC_DELETE, 2, ids);
}

int runnel_topic_purge(struct runnel_client *client, struct runnel_id stream,
                       struct runnel_id topic)
{
    struct runnel_id ids[2] = {stream, topic};
    return client_call_ids(client, IGGY_COMMAND_TOPIC_PURGE, 2, ids);
}

static int streams_partitions(struct runnel_client *client, uint32_t code, struct runnel_id stream,
                              struct runnel_id topic, uint32_t partition_count)
{
    struct iggy_partitions_change request = {.partition_count = partition_count};
    if (client == NULL || client_identifier(stream, &request.stream) != 0 ||
        client_identifier(topic, &request.topic) != 0) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_streams_partitions_encode(&writer, &request);
    return client_call_simple(client, code, &writer);
}

int runnel_partition_create(struct runnel_client *client, struct runnel_id stream,
                            struct runnel_id topic, uint32_t partition_count)
{
    return streams_partitions(client, IGGY_COMMAND_PARTITION_CREATE, stream, topic,
                              partition_count);
}

int runnel_partition_delete(struct runnel_client *client, struct runnel_id stream,
                            struct runnel_id topic, uint32_t partition_count)
{
    return streams_partitions(client, IGGY_COMMAND_PARTITION_DELETE, stream, topic,
                              partition_count);
}

int runnel_segment_delete(struct runnel_client *client, struct runnel_id stream,
                          struct runnel_id topic, uint32_t partition_id, uint32_t segment_count)
{
    struct iggy_segments_delete request = {.partition_id = partition_id,
                                           .segment_count = segment_count};
    if (client == NULL || client_identifier(stream, &request.stream) != 0 ||
        client_identifier(topic, &request.topic) != 0) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_streams_segments_encode(&writer, &request);
    return client_call_simple(client, IGGY_COMMAND_SEGMENT_DELETE, &writer);
}
