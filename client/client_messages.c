/*
 * librunnel: SendMessages (101) and PollMessages (100). Builds batches in place after the
 * request metadata (proto/batch's builder, no copy of the batch), and validates the
 * structure of every polled record (header, batch_length, frames tiling each batch) so
 * runnel_polled_next can walk them without further checks. Caller's thread.
 */
#include "client/client_messages.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/batch.h"
#include "proto/iggy_command.h"

#include <errno.h>
#include <string.h>
#include <time.h>

enum { MESSAGES_RECORDS_MAX = 1 << 24 };

uint64_t client_messages_now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

int client_messages_prefix(struct iggy_writer *writer, struct runnel_id stream,
                           struct runnel_id topic, const struct runnel_partitioning *partitioning,
                           uint32_t message_count)
{
    assert(writer != NULL);
    assert(partitioning != NULL);
    struct iggy_send_messages request;
    memset(&request, 0, sizeof(request));
    if (client_identifier(stream, &request.stream) != 0 ||
        client_identifier(topic, &request.topic) != 0) {
        return -EINVAL;
    }
    request.partitioning.kind = partitioning->kind;
    request.partitioning.partition_id = partitioning->partition_id;
    if (partitioning->kind == RUNNEL_PARTITIONING_KEY) {
        if (partitioning->key == NULL || partitioning->key_size_bytes == 0 ||
            partitioning->key_size_bytes > RUNNEL_NAME_SIZE_MAX) {
            return -EINVAL;
        }
        request.partitioning.key =
            (struct iggy_bytes){partitioning->key, partitioning->key_size_bytes};
    } else if (partitioning->kind != RUNNEL_PARTITIONING_BALANCED &&
               partitioning->kind != RUNNEL_PARTITIONING_PARTITION_ID) {
        return -EINVAL;
    }
    request.message_count = message_count;
    request.batch = (struct iggy_bytes){NULL, 0};
    return iggy_messages_send_encode(writer, &request);
}

int client_messages_add(struct runnel_client *client, struct batch_builder *builder,
                        const struct runnel_message_out *message, uint64_t origin_us)
{
    assert(builder != NULL);
    if (message == NULL || message->payload == NULL || message->payload_size_bytes == 0 ||
        (message->user_headers == NULL && message->user_headers_size_bytes > 0)) {
        return -EINVAL;
    }
    uint64_t id_low = message->id_low;
    uint64_t id_high = message->id_high;
    if (id_low == 0 && id_high == 0) {
        id_low = client_random(client);
        id_high = client_random(client);
    }
    return batch_builder_add(builder, id_low, id_high, origin_us, message->payload,
                             message->payload_size_bytes, message->user_headers,
                             message->user_headers_size_bytes);
}

int client_messages_send(struct runnel_client *client, const struct iggy_writer *writer,
                         struct runnel_send_result *result_out)
{
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_MESSAGE_SEND, writer, &reader);
    if (result != 0) {
        return result;
    }
    uint32_t count = 0;
    struct iggy_send_confirmation first;
    if (iggy_messages_send_reply_decode(&reader, &count, &first) != 0) {
        return reader.error;
    }
    if (result_out != NULL) {
        result_out->has_offset = count > 0;
        result_out->partition_id = first.partition_id;
        result_out->base_offset = first.base_offset;
    }
    return 0;
}

int runnel_send_messages(struct runnel_client *client, struct runnel_id stream,
                         struct runnel_id topic, const struct runnel_partitioning *partitioning,
                         const struct runnel_message_out *messages, uint32_t message_count,
                         struct runnel_send_result *result_out)
{
    if (client == NULL || partitioning == NULL || messages == NULL || message_count == 0) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    int result = client_messages_prefix(&writer, stream, topic, partitioning, message_count);
    if (result != 0) {
        return result == -RUNNEL_ETOOLARGE ? result : -EINVAL;
    }
    struct batch_builder builder;
    uint64_t now_us = client_messages_now_us();
    batch_builder_init(&builder, writer.bytes + writer.size, writer.capacity - writer.size, now_us);
    for (uint32_t index = 0; index < message_count; index++) {
        result = client_messages_add(client, &builder, &messages[index], now_us);
        if (result != 0) {
            return result == -RUNNEL_EFULL ? -RUNNEL_ETOOLARGE : result;
        }
    }
    uint64_t batch_size = batch_builder_finish(&builder);
    assert(batch_size <= writer.capacity - writer.size);
    writer.size += (uint32_t)batch_size;
    return client_messages_send(client, &writer, result_out);
}

/* Checks the frames of one batch tile [256, batch_length) exactly. */
static int messages_check_batch(const uint8_t *batch, uint64_t batch_length,
                                uint32_t *message_count_out)
{
    uint32_t declared = batch_message_count(batch);
    uint64_t position = BATCH_HEADER_SIZE;
    uint32_t count = 0;
    for (; count < declared && position < batch_length; count++) {
        if (batch_length - position < BATCH_FRAME_HEADER_SIZE) {
            return -RUNNEL_ETRUNCATED;
        }
        uint32_t user_headers_size;
        uint32_t payload_size;
        memcpy(&user_headers_size, batch + position + 32, 4);
        memcpy(&payload_size, batch + position + 36, 4);
        uint64_t frame_size =
            (uint64_t)BATCH_FRAME_HEADER_SIZE + payload_size + (uint64_t)user_headers_size;
        if (frame_size > batch_length - position) {
            return -RUNNEL_ETRUNCATED;
        }
        position += frame_size;
    }
    if (count != declared || position != batch_length) {
        return -RUNNEL_EFORMAT;
    }
    *message_count_out = count;
    return 0;
}

static int messages_check_records(const uint8_t *records, uint32_t size,
                                  uint32_t *message_count_out)
{
    uint32_t position = 0;
    uint32_t total = 0;
    for (int round = 0; round < MESSAGES_RECORDS_MAX && position < size; round++) {
        if (size - position < BATCH_HEADER_SIZE) {
            return -RUNNEL_ETRUNCATED;
        }
        uint64_t batch_length;
        memcpy(&batch_length, records + position + BATCH_OFFSET_BATCH_LENGTH, 8);
        if (batch_length < BATCH_HEADER_SIZE || batch_length > size - position) {
            return -RUNNEL_EFORMAT;
        }
        uint32_t count = 0;
        int result = messages_check_batch(records + position, batch_length, &count);
        if (result != 0) {
            return result;
        }
        total += count;
        position += (uint32_t)batch_length;
    }
    *message_count_out = total;
    return position == size ? 0 : -RUNNEL_EFORMAT;
}

int runnel_poll_messages(struct runnel_client *client, const struct runnel_poll_request *request,
                         struct runnel_polled *polled_out)
{
    if (client == NULL || request == NULL || polled_out == NULL) {
        return -EINVAL;
    }
    memset(polled_out, 0, sizeof(*polled_out));
    struct iggy_poll_messages poll;
    memset(&poll, 0, sizeof(poll));
    poll.consumer.kind = request->consumer_kind;
    if ((request->consumer_kind != RUNNEL_CONSUMER_SINGLE &&
         request->consumer_kind != RUNNEL_CONSUMER_GROUP) ||
        request->polling_kind < RUNNEL_POLLING_OFFSET ||
        request->polling_kind > RUNNEL_POLLING_NEXT ||
        client_identifier(request->consumer, &poll.consumer.id) != 0 ||
        client_identifier(request->stream, &poll.stream) != 0 ||
        client_identifier(request->topic, &poll.topic) != 0) {
        return -EINVAL;
    }
    poll.partition.is_set = request->has_partition;
    poll.partition.partition_id = request->partition_id;
    poll.strategy.kind = request->polling_kind;
    poll.strategy.value = request->polling_value;
    poll.count = request->count;
    poll.auto_commit = request->auto_commit;
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_messages_poll_encode(&writer, &poll);
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_MESSAGE_POLL, &writer, &reader);
    if (result != 0) {
        return result;
    }
    struct iggy_poll_reply decoded;
    if (iggy_messages_poll_reply_decode(&reader, &decoded) != 0) {
        return reader.error;
    }
    uint32_t message_count = 0;
    result = messages_check_records(decoded.records.bytes, decoded.records.size, &message_count);
    if (result != 0) {
        return result;
    }
    polled_out->partition_id = decoded.partition_id;
    polled_out->current_offset = decoded.current_offset;
    polled_out->message_count = message_count;
    polled_out->records = decoded.records.bytes;
    polled_out->records_size_bytes = decoded.records.size;
    return 0;
}

bool runnel_polled_next(struct runnel_polled *polled, struct runnel_message *message_out)
{
    assert(polled != NULL && message_out != NULL);
    assert(polled->position_bytes <= polled->records_size_bytes);
    /* Skip to a batch with a frame left (a batch may hold none); bounded by the size. */
    for (uint32_t round = 0; polled->position_bytes == polled->batch_end_bytes; round++) {
        if (polled->position_bytes >= polled->records_size_bytes ||
            round > polled->records_size_bytes / BATCH_HEADER_SIZE) {
            return false;
        }
        struct batch_header header;
        batch_header_read(polled->records + polled->position_bytes, &header);
        polled->batch_end_bytes = polled->position_bytes + (uint32_t)header.batch_length_bytes;
        polled->batch_base_offset = header.base_offset;
        polled->batch_base_timestamp_us = header.base_timestamp_us;
        polled->batch_origin_timestamp_us = header.origin_timestamp_us;
        polled->position_bytes += BATCH_HEADER_SIZE;
    }
    const uint8_t *frame = polled->records + polled->position_bytes;
    uint32_t offset_delta, timestamp_delta, user_headers_size, payload_size;
    memcpy(&message_out->id_low, frame + 8, 8);
    memcpy(&message_out->id_high, frame + 16, 8);
    memcpy(&offset_delta, frame + 24, 4);
    memcpy(&timestamp_delta, frame + 28, 4);
    memcpy(&user_headers_size, frame + 32, 4);
    memcpy(&payload_size, frame + 36, 4);
    message_out->offset = polled->batch_base_offset + offset_delta;
    message_out->timestamp_us = polled->batch_base_timestamp_us;
    message_out->origin_timestamp_us = polled->batch_origin_timestamp_us + timestamp_delta;
    message_out->payload = frame + BATCH_FRAME_HEADER_SIZE;
    message_out->payload_size_bytes = payload_size;
    message_out->user_headers = message_out->payload + payload_size;
    message_out->user_headers_size_bytes = user_headers_size;
    polled->position_bytes += BATCH_FRAME_HEADER_SIZE + payload_size + user_headers_size;
    assert(polled->position_bytes <= polled->batch_end_bytes);
    return true;
}
