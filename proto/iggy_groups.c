/*
 * Iggy consumer-group command codec: the create body and the group, member and sync
 * reply structures. Pure functions; control plane (shard 0), connection shards and the
 * client library.
 */
#include "proto/iggy_groups.h"

#include "lib/assert.h"
#include "lib/error.h"

int iggy_groups_create_decode(const uint8_t *body, uint32_t body_size,
                              struct iggy_group_create *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->stream);
    iggy_wire_identifier_decode(&reader, &out->topic);
    out->name = iggy_wire_name_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_groups_create_encode(struct iggy_writer *writer, const struct iggy_group_create *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_identifier_encode(writer, &in->topic);
    iggy_wire_name_encode(writer, in->name);
    return writer->error;
}

int iggy_groups_group_encode(struct iggy_writer *writer, const struct iggy_group_info *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->id);
    iggy_writer_u32(writer, in->partition_count);
    iggy_writer_u32(writer, in->member_count);
    iggy_wire_name_encode(writer, in->name);
    return writer->error;
}

int iggy_groups_group_decode(struct iggy_reader *reader, struct iggy_group_info *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->id = iggy_reader_u32(reader);
    out->partition_count = iggy_reader_u32(reader);
    out->member_count = iggy_reader_u32(reader);
    out->name = iggy_wire_name_decode(reader);
    return reader->error;
}

static void iggy_groups_ids_encode(struct iggy_writer *writer, const uint32_t *ids, uint32_t count)
{
    assert(ids != NULL || count == 0);
    assert(writer != NULL);
    iggy_writer_u32(writer, count);
    for (uint32_t index = 0; index < count; index++) {
        iggy_writer_u32(writer, ids[index]);
    }
}

/* Reads [count u32][u32 x count] as a slice; the count is checked against the input. */
static struct iggy_bytes iggy_groups_ids_decode(struct iggy_reader *reader, uint32_t *count_out)
{
    assert(reader != NULL);
    assert(count_out != NULL);
    *count_out = iggy_reader_u32(reader);
    if (!iggy_reader_has_entries(reader, *count_out, 4)) {
        *count_out = 0;
    }
    return iggy_reader_bytes(reader, *count_out * 4);
}

int iggy_groups_member_encode(struct iggy_writer *writer, const struct iggy_group_member *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->id);
    iggy_groups_ids_encode(writer, in->partition_ids, in->partition_count);
    return writer->error;
}

int iggy_groups_member_decode(struct iggy_reader *reader, struct iggy_group_member *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->id = iggy_reader_u32(reader);
    out->partition_ids = NULL;
    out->partition_bytes = iggy_groups_ids_decode(reader, &out->partition_count);
    return reader->error;
}

int iggy_groups_sync_encode(struct iggy_writer *writer, const struct iggy_group_sync *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u64(writer, in->generation);
    iggy_groups_ids_encode(writer, in->partition_ids, in->partition_count);
    return writer->error;
}

int iggy_groups_sync_decode(struct iggy_reader *reader, struct iggy_group_sync *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->generation = iggy_reader_u64(reader);
    out->partition_ids = NULL;
    out->partition_bytes = iggy_groups_ids_decode(reader, &out->partition_count);
    return reader->error;
}

uint32_t iggy_groups_partition_at(struct iggy_bytes partition_bytes, uint32_t index)
{
    assert(index < partition_bytes.size / 4);
    assert(partition_bytes.bytes != NULL);
    const uint8_t *at = partition_bytes.bytes + (size_t)index * 4;
    return (uint32_t)at[0] | ((uint32_t)at[1] << 8) | ((uint32_t)at[2] << 16) |
           ((uint32_t)at[3] << 24);
}
