/*
 * The runnel-only cluster commands' bodies (see cluster_wire.h). Pure encoding and
 * validated decoding; used by runneld (node/broker_cluster.c) and librunnel.
 */
#include "proto/cluster_wire.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_command.h"

#include <stddef.h>
#include <string.h>

bool cluster_wire_is_command(uint32_t code)
{
    return code == RUNNEL_COMMAND_CLUSTER_MAP || code == RUNNEL_COMMAND_CONNECTION_MOVE;
}

const char *cluster_wire_command_name(uint32_t code)
{
    if (code == RUNNEL_COMMAND_CLUSTER_MAP) {
        return "runnel.cluster.map";
    }
    if (code == RUNNEL_COMMAND_CONNECTION_MOVE) {
        return "runnel.connection.move";
    }
    return NULL;
}

int cluster_wire_map_request_encode(struct iggy_writer *writer, bool has_topic,
                                    const struct iggy_identifier *stream,
                                    const struct iggy_identifier *topic)
{
    assert(writer != NULL);
    if (!has_topic) {
        return writer->error;
    }
    assert(stream != NULL && topic != NULL);
    struct iggy_identifier ids[2] = {*stream, *topic};
    return iggy_command_identifiers_encode(writer, 2, ids);
}

int cluster_wire_map_request_decode(const uint8_t *body, uint32_t body_size, bool *has_topic_out,
                                    struct iggy_identifier *stream_out,
                                    struct iggy_identifier *topic_out)
{
    assert(body != NULL || body_size == 0);
    assert(has_topic_out != NULL && stream_out != NULL && topic_out != NULL);
    *has_topic_out = false;
    if (body_size == 0) {
        return 0;
    }
    struct iggy_identifier ids[2];
    int result = iggy_command_identifiers_decode(body, body_size, 2, ids);
    if (result != 0) {
        return result;
    }
    *has_topic_out = true;
    *stream_out = ids[0];
    *topic_out = ids[1];
    return 0;
}

void cluster_wire_head_encode(struct iggy_writer *writer, const struct cluster_wire_head *head)
{
    assert(writer != NULL && head != NULL);
    assert(head->replica_count >= 1 && head->self < head->replica_count);
    assert(head->metadata_primary < head->replica_count);
    assert(head->shard_count >= 1 && head->connection_shard < head->shard_count);
    iggy_writer_u8(writer, CLUSTER_WIRE_MAP_VERSION);
    iggy_writer_u8(writer, head->replica_count);
    iggy_writer_u8(writer, head->self);
    iggy_writer_u8(writer, head->metadata_primary);
    iggy_writer_u32(writer, head->metadata_view);
    iggy_writer_u8(writer, head->metadata_status);
    static const uint8_t reserved[3] = {0, 0, 0};
    iggy_writer_bytes(writer, reserved, sizeof(reserved));
    iggy_writer_u32(writer, head->shard_count);
    iggy_writer_u32(writer, head->connection_shard);
}

void cluster_wire_node_encode(struct iggy_writer *writer, const struct cluster_wire_node *node)
{
    assert(writer != NULL && node != NULL);
    assert(node->role == CLUSTER_WIRE_ROLE_PRIMARY || node->role == CLUSTER_WIRE_ROLE_BACKUP);
    iggy_writer_u8(writer, node->replica);
    iggy_writer_u8(writer, node->role);
    iggy_writer_u8(writer, node->is_self ? 1 : 0);
    iggy_writer_u8(writer, 0);
    iggy_writer_u32(writer, node->partitions_led);
}

void cluster_wire_partition_encode(struct iggy_writer *writer,
                                   const struct cluster_wire_partition *partition)
{
    assert(writer != NULL && partition != NULL);
    assert(partition->status <= CLUSTER_WIRE_STATUS_RECOVERING_HEAD);
    iggy_writer_u32(writer, partition->stream_id);
    iggy_writer_u32(writer, partition->topic_id);
    iggy_writer_u32(writer, partition->partition_id);
    iggy_writer_u64(writer, partition->incarnation);
    iggy_writer_u32(writer, partition->view);
    iggy_writer_u8(writer, partition->primary);
    iggy_writer_u8(writer, partition->status);
    iggy_writer_u16(writer, partition->shard);
}

static int cluster_wire_head_decode(struct iggy_reader *reader, struct cluster_wire_head *head)
{
    uint8_t version = iggy_reader_u8(reader);
    head->replica_count = iggy_reader_u8(reader);
    head->self = iggy_reader_u8(reader);
    head->metadata_primary = iggy_reader_u8(reader);
    head->metadata_view = iggy_reader_u32(reader);
    head->metadata_status = iggy_reader_u8(reader);
    (void)iggy_reader_bytes(reader, 3);
    head->shard_count = iggy_reader_u32(reader);
    head->connection_shard = iggy_reader_u32(reader);
    if (reader->error != 0) {
        return reader->error;
    }
    if (version != CLUSTER_WIRE_MAP_VERSION || head->replica_count == 0 ||
        head->replica_count > CLUSTER_WIRE_REPLICAS_MAX || head->self >= head->replica_count ||
        head->metadata_primary >= head->replica_count ||
        head->metadata_status > CLUSTER_WIRE_STATUS_RECOVERING_HEAD || head->shard_count == 0 ||
        head->shard_count > UINT16_MAX || head->connection_shard >= head->shard_count) {
        return -RUNNEL_EFORMAT;
    }
    return 0;
}

/* count entries of entry_size bytes; *bytes_out points at them. */
static int cluster_wire_array_decode(struct iggy_reader *reader, uint32_t entry_size,
                                     uint32_t *count_out, const uint8_t **bytes_out)
{
    uint32_t count = iggy_reader_u32(reader);
    if (reader->error != 0) {
        return reader->error;
    }
    if ((uint64_t)count * entry_size > iggy_reader_remaining(reader)) {
        return -RUNNEL_ETRUNCATED;
    }
    struct iggy_bytes bytes = iggy_reader_bytes(reader, count * entry_size);
    *count_out = count;
    *bytes_out = bytes.bytes;
    return reader->error;
}

static bool cluster_wire_entries_valid(const struct cluster_wire_map *view)
{
    for (uint32_t index = 0; index < view->node_count; index++) {
        struct cluster_wire_node node;
        cluster_wire_node_at(view, index, &node);
        if (node.replica >= view->head.replica_count ||
            (node.role != CLUSTER_WIRE_ROLE_PRIMARY && node.role != CLUSTER_WIRE_ROLE_BACKUP)) {
            return false;
        }
    }
    for (uint32_t index = 0; index < view->partition_count; index++) {
        struct cluster_wire_partition partition;
        cluster_wire_partition_at(view, index, &partition);
        if (partition.primary >= view->head.replica_count ||
            partition.status > CLUSTER_WIRE_STATUS_RECOVERING_HEAD ||
            partition.shard >= view->head.shard_count) {
            return false;
        }
    }
    return true;
}

int cluster_wire_map_decode(const uint8_t *body, uint32_t body_size,
                            struct cluster_wire_map *view_out)
{
    assert(body != NULL || body_size == 0);
    assert(view_out != NULL);
    memset(view_out, 0, sizeof(*view_out));
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    int result = cluster_wire_head_decode(&reader, &view_out->head);
    if (result == 0) {
        result = cluster_wire_array_decode(&reader, CLUSTER_WIRE_NODE_SIZE, &view_out->node_count,
                                           &view_out->nodes);
    }
    if (result == 0 && view_out->node_count > view_out->head.replica_count) {
        result = -RUNNEL_EFORMAT;
    }
    if (result == 0) {
        result = cluster_wire_array_decode(&reader, CLUSTER_WIRE_PARTITION_SIZE,
                                           &view_out->partition_count, &view_out->partitions);
    }
    if (result == 0) {
        result = iggy_reader_finish(&reader);
    }
    if (result == 0 && !cluster_wire_entries_valid(view_out)) {
        result = -RUNNEL_EFORMAT;
    }
    if (result != 0) {
        memset(view_out, 0, sizeof(*view_out));
    }
    return result;
}

void cluster_wire_node_at(const struct cluster_wire_map *view, uint32_t index,
                          struct cluster_wire_node *node_out)
{
    assert(view != NULL && node_out != NULL);
    assert(index < view->node_count);
    struct iggy_reader reader;
    iggy_reader_init(&reader, view->nodes + (size_t)index * CLUSTER_WIRE_NODE_SIZE,
                     CLUSTER_WIRE_NODE_SIZE);
    node_out->replica = iggy_reader_u8(&reader);
    node_out->role = iggy_reader_u8(&reader);
    node_out->is_self = iggy_reader_u8(&reader) != 0;
    (void)iggy_reader_u8(&reader);
    node_out->partitions_led = iggy_reader_u32(&reader);
    assert(reader.error == 0);
}

void cluster_wire_partition_at(const struct cluster_wire_map *view, uint32_t index,
                               struct cluster_wire_partition *partition_out)
{
    assert(view != NULL && partition_out != NULL);
    assert(index < view->partition_count);
    struct iggy_reader reader;
    iggy_reader_init(&reader, view->partitions + (size_t)index * CLUSTER_WIRE_PARTITION_SIZE,
                     CLUSTER_WIRE_PARTITION_SIZE);
    partition_out->stream_id = iggy_reader_u32(&reader);
    partition_out->topic_id = iggy_reader_u32(&reader);
    partition_out->partition_id = iggy_reader_u32(&reader);
    partition_out->incarnation = iggy_reader_u64(&reader);
    partition_out->view = iggy_reader_u32(&reader);
    partition_out->primary = iggy_reader_u8(&reader);
    partition_out->status = iggy_reader_u8(&reader);
    partition_out->shard = iggy_reader_u16(&reader);
    assert(reader.error == 0);
}

void cluster_wire_move_request_encode(struct iggy_writer *writer, uint32_t shard)
{
    assert(writer != NULL);
    iggy_writer_u32(writer, shard);
}

int cluster_wire_move_request_decode(const uint8_t *body, uint32_t body_size, uint32_t *shard_out)
{
    assert(body != NULL || body_size == 0);
    assert(shard_out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    *shard_out = iggy_reader_u32(&reader);
    return iggy_reader_finish(&reader);
}

void cluster_wire_move_reply_encode(struct iggy_writer *writer, uint32_t shard,
                                    uint32_t shard_count)
{
    assert(writer != NULL);
    assert(shard < shard_count);
    iggy_writer_u32(writer, shard);
    iggy_writer_u32(writer, shard_count);
}

int cluster_wire_move_reply_decode(const uint8_t *body, uint32_t body_size, uint32_t *shard_out,
                                   uint32_t *shard_count_out)
{
    assert(body != NULL || body_size == 0);
    assert(shard_out != NULL && shard_count_out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    *shard_out = iggy_reader_u32(&reader);
    *shard_count_out = iggy_reader_u32(&reader);
    int result = iggy_reader_finish(&reader);
    if (result == 0 && *shard_out >= *shard_count_out) {
        result = -RUNNEL_EFORMAT;
    }
    return result;
}
