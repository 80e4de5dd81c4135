/*
 * Iggy system command codec: snapshot, options.describe and client.get bodies; stats,
 * cluster metadata, option descriptor and client reply structures. Pure functions;
 * connection shards, the control plane (shard 0) and the client library.
 */
#include "proto/iggy_system.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>

int iggy_system_snapshot_decode(const uint8_t *body, uint32_t body_size,
                                struct iggy_snapshot_request *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    out->compression = iggy_reader_u8(&reader);
    uint8_t count = iggy_reader_u8(&reader);
    out->types = iggy_reader_bytes(&reader, count);
    return iggy_reader_finish(&reader);
}

int iggy_system_snapshot_encode(struct iggy_writer *writer, const struct iggy_snapshot_request *in)
{
    assert(writer != NULL);
    assert(in != NULL && in->types.size <= UINT8_MAX);
    iggy_writer_u8(writer, in->compression);
    iggy_writer_u8(writer, (uint8_t)in->types.size);
    iggy_writer_bytes(writer, in->types.bytes, in->types.size);
    return writer->error;
}

int iggy_system_options_describe_decode(const uint8_t *body, uint32_t body_size, uint8_t *scope_out)
{
    assert(body != NULL || body_size == 0);
    assert(scope_out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    *scope_out = iggy_reader_u8(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_system_options_describe_encode(struct iggy_writer *writer, uint8_t scope)
{
    assert(writer != NULL);
    assert(scope >= IGGY_OPTIONS_SCOPE_TOPIC && scope <= IGGY_OPTIONS_SCOPE_USER);
    iggy_writer_u8(writer, scope);
    return writer->error;
}

int iggy_system_client_get_decode(const uint8_t *body, uint32_t body_size, uint32_t *client_id_out)
{
    assert(body != NULL || body_size == 0);
    assert(client_id_out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    *client_id_out = iggy_reader_u32(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_system_client_get_encode(struct iggy_writer *writer, uint32_t client_id)
{
    assert(writer != NULL);
    assert(writer->size <= writer->capacity);
    iggy_writer_u32(writer, client_id);
    return writer->error;
}

static uint32_t iggy_system_float_bits(float value)
{
    uint32_t bits;
    _Static_assert(sizeof(bits) == sizeof(value), "f32 is 32 bits");
    memcpy(&bits, &value, sizeof(bits));
    return bits;
}

static float iggy_system_float_from_bits(uint32_t bits)
{
    float value;
    _Static_assert(sizeof(bits) == sizeof(value), "f32 is 32 bits");
    memcpy(&value, &bits, sizeof(value));
    return value;
}

static void iggy_system_stats_fixed_encode(struct iggy_writer *writer, const struct iggy_stats *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->process_id);
    iggy_writer_u32(writer, iggy_system_float_bits(in->cpu_usage));
    iggy_writer_u32(writer, iggy_system_float_bits(in->total_cpu_usage));
    iggy_writer_u64(writer, in->memory_usage_bytes);
    iggy_writer_u64(writer, in->total_memory_bytes);
    iggy_writer_u64(writer, in->available_memory_bytes);
    iggy_writer_u64(writer, in->run_time_us);
    iggy_writer_u64(writer, in->start_time_us);
    iggy_writer_u64(writer, in->read_bytes);
    iggy_writer_u64(writer, in->written_bytes);
    iggy_writer_u64(writer, in->messages_size_bytes);
    iggy_writer_u32(writer, in->stream_count);
    iggy_writer_u32(writer, in->topic_count);
    iggy_writer_u32(writer, in->partition_count);
    iggy_writer_u32(writer, in->segment_count);
    iggy_writer_u64(writer, in->message_count);
    iggy_writer_u32(writer, in->client_count);
    iggy_writer_u32(writer, in->consumer_group_count);
}

int iggy_system_stats_encode(struct iggy_writer *writer, const struct iggy_stats *in)
{
    assert(writer != NULL);
    assert(in->cache_metrics != NULL || in->cache_metric_count == 0);
    iggy_system_stats_fixed_encode(writer, in);
    iggy_wire_string32_encode(writer, in->hostname);
    iggy_wire_string32_encode(writer, in->os_name);
    iggy_wire_string32_encode(writer, in->os_version);
    iggy_wire_string32_encode(writer, in->kernel_version);
    iggy_wire_string32_encode(writer, in->server_version);
    iggy_writer_u32(writer, in->server_semver);
    iggy_writer_u32(writer, in->cache_metric_count);
    for (uint32_t index = 0; index < in->cache_metric_count; index++) {
        const struct iggy_stats_cache_metric *metric = &in->cache_metrics[index];
        iggy_writer_u32(writer, metric->stream_id);
        iggy_writer_u32(writer, metric->topic_id);
        iggy_writer_u32(writer, metric->partition_id);
        iggy_writer_u64(writer, metric->hits);
        iggy_writer_u64(writer, metric->misses);
        iggy_writer_u32(writer, iggy_system_float_bits(metric->hit_ratio));
    }
    iggy_writer_u32(writer, in->thread_count);
    iggy_writer_u64(writer, in->free_disk_space_bytes);
    iggy_writer_u64(writer, in->total_disk_space_bytes);
    return writer->error;
}

static void iggy_system_stats_fixed_decode(struct iggy_reader *reader, struct iggy_stats *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->process_id = iggy_reader_u32(reader);
    out->cpu_usage = iggy_system_float_from_bits(iggy_reader_u32(reader));
    out->total_cpu_usage = iggy_system_float_from_bits(iggy_reader_u32(reader));
    out->memory_usage_bytes = iggy_reader_u64(reader);
    out->total_memory_bytes = iggy_reader_u64(reader);
    out->available_memory_bytes = iggy_reader_u64(reader);
    out->run_time_us = iggy_reader_u64(reader);
    out->start_time_us = iggy_reader_u64(reader);
    out->read_bytes = iggy_reader_u64(reader);
    out->written_bytes = iggy_reader_u64(reader);
    out->messages_size_bytes = iggy_reader_u64(reader);
    out->stream_count = iggy_reader_u32(reader);
    out->topic_count = iggy_reader_u32(reader);
    out->partition_count = iggy_reader_u32(reader);
    out->segment_count = iggy_reader_u32(reader);
    out->message_count = iggy_reader_u64(reader);
    out->client_count = iggy_reader_u32(reader);
    out->consumer_group_count = iggy_reader_u32(reader);
}

int iggy_system_stats_decode(struct iggy_reader *reader, struct iggy_stats *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    iggy_system_stats_fixed_decode(reader, out);
    out->hostname = iggy_wire_string32_decode(reader);
    out->os_name = iggy_wire_string32_decode(reader);
    out->os_version = iggy_wire_string32_decode(reader);
    out->kernel_version = iggy_wire_string32_decode(reader);
    out->server_version = iggy_wire_string32_decode(reader);
    out->server_semver = iggy_reader_u32(reader);
    out->cache_metric_count = iggy_reader_u32(reader);
    if (!iggy_reader_has_entries(reader, out->cache_metric_count, IGGY_STATS_CACHE_METRIC_SIZE)) {
        out->cache_metric_count = 0;
    }
    out->cache_metric_bytes =
        iggy_reader_bytes(reader, out->cache_metric_count * IGGY_STATS_CACHE_METRIC_SIZE);
    out->thread_count = iggy_reader_u32(reader);
    out->free_disk_space_bytes = iggy_reader_u64(reader);
    out->total_disk_space_bytes = iggy_reader_u64(reader);
    return reader->error;
}

int iggy_system_cluster_encode(struct iggy_writer *writer, const struct iggy_cluster *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_string32_encode(writer, in->name);
    iggy_writer_u32(writer, in->node_count);
    return writer->error;
}

int iggy_system_cluster_decode(struct iggy_reader *reader, struct iggy_cluster *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->name = iggy_wire_string32_decode(reader);
    out->node_count = iggy_reader_u32(reader);
    return reader->error;
}

int iggy_system_node_encode(struct iggy_writer *writer, const struct iggy_cluster_node *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_string32_encode(writer, in->name);
    iggy_wire_string32_encode(writer, in->ip);
    iggy_writer_u16(writer, in->tcp_port);
    iggy_writer_u16(writer, in->quic_port);
    iggy_writer_u16(writer, in->http_port);
    iggy_writer_u16(writer, in->websocket_port);
    iggy_writer_u8(writer, in->role);
    iggy_writer_u8(writer, in->status);
    return writer->error;
}

int iggy_system_node_decode(struct iggy_reader *reader, struct iggy_cluster_node *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->name = iggy_wire_string32_decode(reader);
    out->ip = iggy_wire_string32_decode(reader);
    out->tcp_port = iggy_reader_u16(reader);
    out->quic_port = iggy_reader_u16(reader);
    out->http_port = iggy_reader_u16(reader);
    out->websocket_port = iggy_reader_u16(reader);
    out->role = iggy_reader_u8(reader);
    out->status = iggy_reader_u8(reader);
    return reader->error;
}

int iggy_system_descriptor_encode(struct iggy_writer *writer,
                                  const struct iggy_option_descriptor *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_name_encode(writer, in->key);
    iggy_writer_u8(writer, in->kind);
    iggy_wire_string32_encode(writer, in->default_value);
    iggy_wire_string32_encode(writer, in->description);
    return writer->error;
}

int iggy_system_descriptor_decode(struct iggy_reader *reader, struct iggy_option_descriptor *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->key = iggy_wire_name_decode(reader);
    out->kind = iggy_reader_u8(reader);
    out->default_value = iggy_wire_string32_decode(reader);
    out->description = iggy_wire_string32_decode(reader);
    return reader->error;
}

int iggy_system_client_encode(struct iggy_writer *writer, const struct iggy_client_info *in,
                              bool with_details)
{
    assert(writer != NULL);
    assert(in->group_ids != NULL || in->consumer_group_count == 0 || !with_details);
    assert(in->consumer_group_count <= UINT32_MAX / 3);
    iggy_writer_u32(writer, in->client_id);
    iggy_writer_u32(writer, in->user_id);
    iggy_writer_u8(writer, in->transport);
    iggy_wire_string32_encode(writer, in->address);
    iggy_writer_u32(writer, in->consumer_group_count);
    for (uint32_t index = 0; with_details && index < in->consumer_group_count * 3; index++) {
        iggy_writer_u32(writer, in->group_ids[index]);
    }
    return writer->error;
}

int iggy_system_client_decode(struct iggy_reader *reader, struct iggy_client_info *out,
                              bool with_details)
{
    assert(reader != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    out->client_id = iggy_reader_u32(reader);
    out->user_id = iggy_reader_u32(reader);
    out->transport = iggy_reader_u8(reader);
    out->address = iggy_wire_string32_decode(reader);
    out->consumer_group_count = iggy_reader_u32(reader);
    if (!with_details) {
        return reader->error;
    }
    if (!iggy_reader_has_entries(reader, out->consumer_group_count, 12)) {
        return reader->error;
    }
    out->group_bytes = iggy_reader_bytes(reader, out->consumer_group_count * 12);
    return reader->error;
}
