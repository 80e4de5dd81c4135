/*
 * Iggy stream, topic, partition and segment command codec: request bodies and the
 * StreamResponse / TopicHeader / PartitionResponse reply structures. Pure functions over
 * caller buffers; control plane (shard 0), connection shards and the client library.
 */
#include "proto/iggy_streams.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>

int iggy_streams_create_decode(const uint8_t *body, uint32_t body_size,
                               struct iggy_stream_create *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    out->name = iggy_wire_name_decode(&reader);
    out->options = iggy_wire_options_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_streams_create_encode(struct iggy_writer *writer, const struct iggy_stream_create *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_name_encode(writer, in->name);
    iggy_writer_bytes(writer, in->options.bytes, in->options.size);
    return writer->error;
}

int iggy_streams_update_decode(const uint8_t *body, uint32_t body_size,
                               struct iggy_stream_update *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->stream);
    out->name = iggy_wire_name_decode(&reader);
    out->options = iggy_wire_options_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_streams_update_encode(struct iggy_writer *writer, const struct iggy_stream_update *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_name_encode(writer, in->name);
    iggy_writer_bytes(writer, in->options.bytes, in->options.size);
    return writer->error;
}

int iggy_streams_topic_create_decode(const uint8_t *body, uint32_t body_size,
                                     struct iggy_topic_create *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->stream);
    out->partition_count = iggy_reader_u32(&reader);
    out->name = iggy_wire_name_decode(&reader);
    out->options = iggy_wire_options_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_streams_topic_create_encode(struct iggy_writer *writer, const struct iggy_topic_create *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_writer_u32(writer, in->partition_count);
    iggy_wire_name_encode(writer, in->name);
    iggy_writer_bytes(writer, in->options.bytes, in->options.size);
    return writer->error;
}

int iggy_streams_topic_update_decode(const uint8_t *body, uint32_t body_size,
                                     struct iggy_topic_update *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->stream);
    iggy_wire_identifier_decode(&reader, &out->topic);
    out->name = iggy_wire_name_decode(&reader);
    out->options = iggy_wire_options_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_streams_topic_update_encode(struct iggy_writer *writer, const struct iggy_topic_update *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_identifier_encode(writer, &in->topic);
    iggy_wire_name_encode(writer, in->name);
    iggy_writer_bytes(writer, in->options.bytes, in->options.size);
    return writer->error;
}

int iggy_streams_partitions_decode(const uint8_t *body, uint32_t body_size,
                                   struct iggy_partitions_change *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->stream);
    iggy_wire_identifier_decode(&reader, &out->topic);
    out->partition_count = iggy_reader_u32(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_streams_partitions_encode(struct iggy_writer *writer,
                                   const struct iggy_partitions_change *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_identifier_encode(writer, &in->topic);
    iggy_writer_u32(writer, in->partition_count);
    return writer->error;
}

int iggy_streams_segments_decode(const uint8_t *body, uint32_t body_size,
                                 struct iggy_segments_delete *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->stream);
    iggy_wire_identifier_decode(&reader, &out->topic);
    out->partition_id = iggy_reader_u32(&reader);
    out->segment_count = iggy_reader_u32(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_streams_segments_encode(struct iggy_writer *writer, const struct iggy_segments_delete *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_identifier_encode(writer, &in->topic);
    iggy_writer_u32(writer, in->partition_id);
    iggy_writer_u32(writer, in->segment_count);
    return writer->error;
}

int iggy_streams_stream_encode(struct iggy_writer *writer, const struct iggy_stream_info *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->id);
    iggy_writer_u64(writer, in->created_at_us);
    iggy_writer_u32(writer, in->topic_count);
    iggy_writer_u64(writer, in->size_bytes);
    iggy_writer_u64(writer, in->message_count);
    iggy_wire_name_encode(writer, in->name);
    iggy_wire_options32_encode(writer, in->options);
    return writer->error;
}

int iggy_streams_stream_decode(struct iggy_reader *reader, struct iggy_stream_info *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->id = iggy_reader_u32(reader);
    out->created_at_us = iggy_reader_u64(reader);
    out->topic_count = iggy_reader_u32(reader);
    out->size_bytes = iggy_reader_u64(reader);
    out->message_count = iggy_reader_u64(reader);
    out->name = iggy_wire_name_decode(reader);
    out->options = iggy_wire_options32_decode(reader);
    return reader->error;
}

int iggy_streams_topic_encode(struct iggy_writer *writer, const struct iggy_topic_info *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->id);
    iggy_writer_u64(writer, in->created_at_us);
    iggy_writer_u32(writer, in->partition_count);
    iggy_writer_u64(writer, in->message_expiry_us);
    iggy_writer_u8(writer, in->compression);
    iggy_writer_u64(writer, in->max_topic_size_bytes);
    iggy_writer_u64(writer, in->size_bytes);
    iggy_writer_u64(writer, in->message_count);
    iggy_wire_name_encode(writer, in->name);
    iggy_wire_options32_encode(writer, in->options_explicit);
    iggy_wire_options32_encode(writer, in->options_derived);
    return writer->error;
}

int iggy_streams_topic_decode(struct iggy_reader *reader, struct iggy_topic_info *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->id = iggy_reader_u32(reader);
    out->created_at_us = iggy_reader_u64(reader);
    out->partition_count = iggy_reader_u32(reader);
    out->message_expiry_us = iggy_reader_u64(reader);
    out->compression = iggy_reader_u8(reader);
    out->max_topic_size_bytes = iggy_reader_u64(reader);
    out->size_bytes = iggy_reader_u64(reader);
    out->message_count = iggy_reader_u64(reader);
    out->name = iggy_wire_name_decode(reader);
    out->options_explicit = iggy_wire_options32_decode(reader);
    out->options_derived = iggy_wire_options32_decode(reader);
    return reader->error;
}

int iggy_streams_partition_encode(struct iggy_writer *writer, const struct iggy_partition_info *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->id);
    iggy_writer_u64(writer, in->created_at_us);
    iggy_writer_u32(writer, in->segment_count);
    iggy_writer_u64(writer, in->current_offset);
    iggy_writer_u64(writer, in->size_bytes);
    iggy_writer_u64(writer, in->message_count);
    return writer->error;
}

int iggy_streams_partition_decode(struct iggy_reader *reader, struct iggy_partition_info *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->id = iggy_reader_u32(reader);
    out->created_at_us = iggy_reader_u64(reader);
    out->segment_count = iggy_reader_u32(reader);
    out->current_offset = iggy_reader_u64(reader);
    out->size_bytes = iggy_reader_u64(reader);
    out->message_count = iggy_reader_u64(reader);
    return reader->error;
}
