/*
 * Iggy message and consumer-offset command codec (outer fields of SendMessages and
 * PollMessages, offsets, flush, their replies) and the byte-pure partitioning functions.
 * Runs on the data-plane shards and in the client library.
 */
#include "proto/iggy_messages.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "proto/batch.h"
#include "proto/iggy_command.h"

#include <string.h>

int iggy_messages_send_decode(const uint8_t *body, uint32_t body_size,
                              struct iggy_send_messages *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    uint32_t metadata_size = iggy_reader_u32(&reader);
    struct iggy_bytes metadata = iggy_reader_bytes(&reader, metadata_size);
    if (reader.error != 0) {
        return reader.error;
    }
    struct iggy_reader inner;
    iggy_reader_init(&inner, metadata.bytes, metadata.size);
    iggy_wire_identifier_decode(&inner, &out->stream);
    iggy_wire_identifier_decode(&inner, &out->topic);
    iggy_wire_partitioning_decode(&inner, &out->partitioning);
    out->message_count = iggy_reader_u32(&inner);
    int result = iggy_reader_finish(&inner);
    if (result != 0) {
        return result;
    }
    out->batch = iggy_reader_rest(&reader);
    assert(reader.offset == body_size);
    return reader.error;
}

int iggy_messages_send_admit(const struct iggy_send_messages *send, const char **reason_out)
{
    assert(send != NULL);
    assert(send->batch.bytes != NULL || send->batch.size == 0);
    const char *reason = NULL;
    int result = batch_validate(send->batch.bytes, send->batch.size, &reason);
    if (result == 0 && batch_message_count(send->batch.bytes) != send->message_count) {
        reason = "batch message_count differs from the metadata";
        result = -RUNNEL_EFORMAT;
    }
    if (reason_out != NULL) {
        *reason_out = reason;
    }
    return result;
}

int iggy_messages_send_encode(struct iggy_writer *writer, const struct iggy_send_messages *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    uint8_t *length_at = iggy_writer_reserve(writer, 4);
    uint32_t metadata_start = writer->size;
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_identifier_encode(writer, &in->topic);
    iggy_wire_partitioning_encode(writer, &in->partitioning);
    iggy_writer_u32(writer, in->message_count);
    if (writer->error == 0) {
        assert(length_at != NULL);
        iggy_wire_store_u32(length_at, writer->size - metadata_start);
    }
    iggy_writer_bytes(writer, in->batch.bytes, in->batch.size);
    return writer->error;
}

int iggy_messages_poll_decode(const uint8_t *body, uint32_t body_size,
                              struct iggy_poll_messages *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_consumer_decode(&reader, &out->consumer);
    iggy_wire_identifier_decode(&reader, &out->stream);
    iggy_wire_identifier_decode(&reader, &out->topic);
    iggy_wire_optional_partition_decode(&reader, &out->partition);
    iggy_wire_polling_decode(&reader, &out->strategy);
    out->count = iggy_reader_u32(&reader);
    out->auto_commit = iggy_reader_u8(&reader) != 0;
    return iggy_reader_finish(&reader);
}

int iggy_messages_poll_encode(struct iggy_writer *writer, const struct iggy_poll_messages *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_consumer_encode(writer, &in->consumer);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_identifier_encode(writer, &in->topic);
    iggy_wire_optional_partition_encode(writer, &in->partition);
    iggy_wire_polling_encode(writer, &in->strategy);
    iggy_writer_u32(writer, in->count);
    iggy_writer_u8(writer, in->auto_commit ? 1 : 0);
    return writer->error;
}

int iggy_messages_flush_decode(const uint8_t *body, uint32_t body_size,
                               struct iggy_flush_messages *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->stream);
    iggy_wire_identifier_decode(&reader, &out->topic);
    out->partition_id = iggy_reader_u32(&reader);
    out->fsync = iggy_reader_u8(&reader) != 0;
    return iggy_reader_finish(&reader);
}

int iggy_messages_flush_encode(struct iggy_writer *writer, const struct iggy_flush_messages *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_identifier_encode(writer, &in->topic);
    iggy_writer_u32(writer, in->partition_id);
    iggy_writer_u8(writer, in->fsync ? 1 : 0);
    return writer->error;
}

int iggy_messages_offset_decode(uint32_t code, const uint8_t *body, uint32_t body_size,
                                struct iggy_consumer_offset *out)
{
    assert(code >= IGGY_COMMAND_OFFSET_GET && code <= IGGY_COMMAND_OFFSET_DELETE);
    assert(out != NULL && (body != NULL || body_size == 0));
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_consumer_decode(&reader, &out->consumer);
    iggy_wire_identifier_decode(&reader, &out->stream);
    iggy_wire_identifier_decode(&reader, &out->topic);
    iggy_wire_optional_partition_decode(&reader, &out->partition);
    out->offset = 0;
    out->ack = IGGY_ACK_QUORUM;
    if (code == IGGY_COMMAND_OFFSET_STORE) {
        out->offset = iggy_reader_u64(&reader);
    }
    if (code != IGGY_COMMAND_OFFSET_GET) {
        out->ack = iggy_wire_ack_decode(&reader);
    }
    return iggy_reader_finish(&reader);
}

int iggy_messages_offset_encode(uint32_t code, struct iggy_writer *writer,
                                const struct iggy_consumer_offset *in)
{
    assert(code >= IGGY_COMMAND_OFFSET_GET && code <= IGGY_COMMAND_OFFSET_DELETE);
    assert(writer != NULL && in != NULL);
    iggy_wire_consumer_encode(writer, &in->consumer);
    iggy_wire_identifier_encode(writer, &in->stream);
    iggy_wire_identifier_encode(writer, &in->topic);
    iggy_wire_optional_partition_encode(writer, &in->partition);
    if (code == IGGY_COMMAND_OFFSET_STORE) {
        iggy_writer_u64(writer, in->offset);
    }
    if (code != IGGY_COMMAND_OFFSET_GET) {
        assert(in->ack <= IGGY_ACK_QUORUM);
        iggy_writer_u8(writer, in->ack);
    }
    return writer->error;
}

int iggy_messages_send_reply_encode(struct iggy_writer *writer,
                                    const struct iggy_send_confirmation *confirmation)
{
    assert(writer != NULL);
    iggy_writer_u32(writer, confirmation == NULL ? 0 : 1);
    if (confirmation != NULL) {
        iggy_writer_u32(writer, confirmation->stream_id);
        iggy_writer_u32(writer, confirmation->topic_id);
        iggy_writer_u32(writer, confirmation->partition_id);
        iggy_writer_u64(writer, confirmation->base_offset);
    }
    assert(writer->error != 0 || writer->size >= 4);
    return writer->error;
}

int iggy_messages_send_reply_decode(struct iggy_reader *reader, uint32_t *count_out,
                                    struct iggy_send_confirmation *first_out)
{
    assert(reader != NULL);
    assert(count_out != NULL && first_out != NULL);
    memset(first_out, 0, sizeof(*first_out));
    *count_out = 0;
    if (iggy_reader_remaining(reader) == 0) {
        return reader->error; /* legacy "no confirmations" */
    }
    uint32_t count = iggy_reader_u32(reader);
    if (!iggy_reader_has_entries(reader, count, IGGY_SEND_CONFIRMATION_SIZE)) {
        return reader->error;
    }
    for (uint32_t index = 0; index < count; index++) { /* bounded by the input size */
        struct iggy_send_confirmation entry;
        entry.stream_id = iggy_reader_u32(reader);
        entry.topic_id = iggy_reader_u32(reader);
        entry.partition_id = iggy_reader_u32(reader);
        entry.base_offset = iggy_reader_u64(reader);
        if (index == 0) {
            *first_out = entry;
        }
    }
    *count_out = count;
    return reader->error;
}

int iggy_messages_poll_reply_encode(struct iggy_writer *writer, const struct iggy_poll_reply *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->partition_id);
    iggy_writer_u64(writer, in->current_offset);
    iggy_writer_u32(writer, in->message_count);
    return writer->error;
}

int iggy_messages_poll_reply_decode(struct iggy_reader *reader, struct iggy_poll_reply *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->partition_id = iggy_reader_u32(reader);
    out->current_offset = iggy_reader_u64(reader);
    out->message_count = iggy_reader_u32(reader);
    out->records = iggy_reader_rest(reader);
    return reader->error;
}

int iggy_messages_offset_reply_encode(struct iggy_writer *writer,
                                      const struct iggy_offset_reply *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->partition_id);
    iggy_writer_u64(writer, in->current_offset);
    iggy_writer_u64(writer, in->stored_offset);
    return writer->error;
}

int iggy_messages_offset_reply_decode(struct iggy_reader *reader, struct iggy_offset_reply *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->partition_id = iggy_reader_u32(reader);
    out->current_offset = iggy_reader_u64(reader);
    out->stored_offset = iggy_reader_u64(reader);
    return reader->error;
}

uint32_t iggy_messages_key_partition(struct iggy_bytes key, uint32_t partition_count)
{
    assert(partition_count > 0);
    assert(key.bytes != NULL || key.size == 0);
    uint32_t partition = hash_xxh32(key.bytes, key.size, 0) % partition_count;
    assert(partition < partition_count);
    return partition;
}

uint32_t iggy_messages_balanced_next(uint32_t *counter, uint32_t partition_count)
{
    assert(counter != NULL);
    assert(partition_count > 0);
    uint32_t partition = *counter % partition_count;
    *counter = (partition + 1) % partition_count;
    return partition;
}

uint32_t iggy_messages_consumer_id(const struct iggy_identifier *id)
{
    assert(id != NULL);
    if (id->kind == IGGY_IDENTIFIER_NUMERIC) {
        return id->numeric;
    }
    assert(id->kind == IGGY_IDENTIFIER_STRING);
    return hash_xxh32(id->name.bytes, id->name.size, 0);
}
