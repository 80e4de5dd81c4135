/*
 * Metadata ops on the namespace: streams, topics (settings resolved from Iggy's options
 * catalog, durability from enforce_fsync per DESIGN.md §10.7), partitions (appended and
 * removed at the end, each with its incarnation), purge (new incarnations) and
 * delete-segments watermarks; plus Iggy's StreamResponse, TopicHeader and
 * PartitionResponse encoders. Runs on shard 0 inside metadata_apply: validates fully
 * before the first mutation, so a rejection leaves the state unchanged.
 */
#include "lib/assert.h"
#include "node/metadata.h"
#include "node/metadata_internal.h"

#include <string.h>

enum {
    METADATA_SEGMENT_SIZE_MIN = 1u << 20,
    METADATA_SEGMENT_SIZE_MAX = 1u << 30,
    METADATA_MESSAGES_TO_SAVE_DEFAULT = 1024,
    METADATA_MESSAGES_TO_SAVE_MAX = 16777216,
    METADATA_SIZE_TO_SAVE_DEFAULT = 1u << 20,
};

#define METADATA_PREALLOCATE_BYTES_MAX (64ULL << 30)

/* ---- reply encoders ---- */

void metadata_write_stream_response(struct metadata_writer *writer,
                                    const struct metadata_stream *stream)
{
    assert(writer != NULL);
    assert(stream != NULL && stream->is_used);
    metadata_writer_u32(writer, stream->id);
    metadata_writer_u64(writer, stream->created_at_us);
    metadata_writer_u32(writer, stream->topics_count);
    metadata_writer_u64(writer, 0); /* size_bytes: partition-plane statistics */
    metadata_writer_u64(writer, 0); /* messages_count */
    metadata_writer_name(writer, &stream->name);
    metadata_writer_u32(writer, 0); /* the stream options catalog is empty */
}

static void metadata_write_option_key(struct metadata_writer *writer, const char *key)
{
    metadata_writer_u8(writer, 2); /* String */
    metadata_writer_u32(writer, (uint32_t)strlen(key));
    metadata_writer_bytes(writer, key, (uint32_t)strlen(key));
}

static void metadata_write_option_u64(struct metadata_writer *writer, const char *key, uint8_t kind,
                                      uint64_t value, uint32_t size)
{
    metadata_write_option_key(writer, key);
    metadata_writer_u8(writer, kind);
    metadata_writer_u32(writer, size);
    for (uint32_t index = 0; index < size; index++) {
        metadata_writer_u8(writer, (uint8_t)(value >> (8 * index)));
    }
}

/* One options block (keys in byte order, resolved values) with the keys in mask. */
static void metadata_write_topic_options(struct metadata_writer *writer,
                                         const struct metadata_topic *topic, uint32_t mask)
{
    const struct metadata_topic_settings *settings = &topic->settings;
    uint32_t size_at = writer->size;
    metadata_writer_u32(writer, 0); /* patched below */
    if (mask & METADATA_TOPIC_OPTION_COMPRESSION) {
        const char *value =
            settings->compression_algorithm == METADATA_COMPRESSION_GZIP ? "gzip" : "none";
        metadata_write_option_key(writer, "compression_algorithm");
        metadata_writer_u8(writer, 2);
        metadata_writer_u32(writer, 4);
        metadata_writer_bytes(writer, value, 4);
    }
    if (mask & METADATA_TOPIC_OPTION_ENFORCE_FSYNC) {
        metadata_write_option_u64(writer, "enforce_fsync", 3, settings->enforce_fsync, 1);
    }
    if (mask & METADATA_TOPIC_OPTION_MAX_TOPIC_SIZE) {
        metadata_write_option_u64(writer, "max_topic_size", 12, settings->max_topic_size_bytes, 8);
    }
    if (mask & METADATA_TOPIC_OPTION_MESSAGE_EXPIRY) {
        metadata_write_option_u64(writer, "message_expiry", 12, settings->message_expiry_us, 8);
    }
    if (mask & METADATA_TOPIC_OPTION_MESSAGES_TO_SAVE) {
        metadata_write_option_u64(writer, "messages_required_to_save", 11,
                                  settings->messages_required_to_save, 4);
    }
    if (mask & METADATA_TOPIC_OPTION_PREALLOCATE) {
        metadata_write_option_u64(writer, "preallocate_segments", 3, settings->preallocate_segments,
                                  1);
    }
    if (mask & METADATA_TOPIC_OPTION_SEGMENT_SIZE) {
        metadata_write_option_u64(writer, "segment_size", 12, settings->segment_size_bytes, 8);
    }
    if (mask & METADATA_TOPIC_OPTION_SIZE_TO_SAVE) {
        metadata_write_option_u64(writer, "size_of_messages_required_to_save", 12,
                                  settings->size_of_messages_required_to_save, 8);
    }
    if (!writer->is_overflow) {
        uint32_t block_size = writer->size - size_at - 4;
        for (uint32_t index = 0; index < 4; index++) {
            writer->buffer[size_at + index] = (uint8_t)(block_size >> (8 * index));
        }
    }
}

void metadata_write_topic_header(struct metadata_writer *writer, const struct metadata_topic *topic)
{
    assert(writer != NULL);
    assert(topic != NULL && topic->is_used);
    metadata_writer_u32(writer, topic->id);
    metadata_writer_u64(writer, topic->created_at_us);
    metadata_writer_u32(writer, topic->partitions_count);
    metadata_writer_u64(writer, topic->settings.message_expiry_us);
    metadata_writer_u8(writer, (uint8_t)topic->settings.compression_algorithm);
    metadata_writer_u64(writer, topic->settings.max_topic_size_bytes);
    metadata_writer_u64(writer, 0); /* size_bytes */
    metadata_writer_u64(writer, 0); /* messages_count */
    metadata_writer_name(writer, &topic->name);
    metadata_write_topic_options(writer, topic, topic->explicit_mask);
    metadata_write_topic_options(writer, topic, ~topic->explicit_mask & METADATA_TOPIC_OPTION_ALL);
}

void metadata_write_partition_response(struct metadata_writer *writer,
                                       const struct metadata_partition *partition)
{
    assert(writer != NULL);
    assert(partition != NULL && partition->is_used);
    metadata_writer_u32(writer, partition->id);
    metadata_writer_u64(writer, partition->created_at_us);
    metadata_writer_u32(writer, 0); /* segments_count: partition-plane statistics */
    metadata_writer_u64(writer, 0); /* current_offset */
    metadata_writer_u64(writer, 0); /* size_bytes */
    metadata_writer_u64(writer, 0); /* messages_count */
}

/* ---- topic settings ---- */

static void metadata_settings_defaults(const struct metadata *metadata,
                                       struct metadata_topic_settings *settings)
{
    memset(settings, 0, sizeof(*settings));
    settings->compression_algorithm = METADATA_COMPRESSION_NONE;
    settings->message_expiry_us = UINT64_MAX;
    settings->max_topic_size_bytes = UINT64_MAX;
    settings->segment_size_bytes = metadata->config.segment_size_bytes;
    settings->enforce_fsync = false;
    settings->messages_required_to_save = METADATA_MESSAGES_TO_SAVE_DEFAULT;
    settings->size_of_messages_required_to_save = METADATA_SIZE_TO_SAVE_DEFAULT;
    settings->preallocate_segments = false;
    settings->durability = metadata->config.durability;
}

/* The three keys UpdateTopic may carry; 0 means the server default for both u64s. */
static uint32_t metadata_settings_patch(struct metadata_topic_settings *settings, uint32_t *mask,
                                        const Runnel__Metadata__TopicOptions *options)
{
    if (options->has_compression_algorithm) {
        if (options->compression_algorithm != METADATA_COMPRESSION_NONE &&
            options->compression_algorithm != METADATA_COMPRESSION_GZIP) {
            return METADATA_STATUS_INVALID_OPTION_VALUE;
        }
        settings->compression_algorithm = options->compression_algorithm;
        *mask |= METADATA_TOPIC_OPTION_COMPRESSION;
    }
    if (options->has_message_expiry_us) {
        settings->message_expiry_us =
            options->message_expiry_us == 0 ? UINT64_MAX : options->message_expiry_us;
        *mask |= METADATA_TOPIC_OPTION_MESSAGE_EXPIRY;
    }
    if (options->has_max_topic_size_bytes) {
        settings->max_topic_size_bytes =
            options->max_topic_size_bytes == 0 ? UINT64_MAX : options->max_topic_size_bytes;
        *mask |= METADATA_TOPIC_OPTION_MAX_TOPIC_SIZE;
    }
    if (settings->max_topic_size_bytes < settings->segment_size_bytes) {
        return METADATA_STATUS_INVALID_TOPIC_SIZE;
    }
    return METADATA_STATUS_OK;
}

static uint32_t metadata_settings_create_only(const struct metadata *metadata,
                                              struct metadata_topic_settings *settings,
                                              uint32_t *mask,
                                              const Runnel__Metadata__TopicOptions *options)
{
    if (options->has_segment_size_bytes) {
        uint64_t size = options->segment_size_bytes;
        if (size != 0 && (size < METADATA_SEGMENT_SIZE_MIN || size > METADATA_SEGMENT_SIZE_MAX ||
                          size % 512 != 0)) {
            return METADATA_STATUS_INVALID_OPTION_VALUE;
        }
        settings->segment_size_bytes = size == 0 ? metadata->config.segment_size_bytes : size;
        *mask |= METADATA_TOPIC_OPTION_SEGMENT_SIZE;
    }
    if (options->has_enforce_fsync) {
        settings->enforce_fsync = options->enforce_fsync;
        settings->durability =
            options->enforce_fsync ? METADATA_DURABILITY_FSYNC : METADATA_DURABILITY_REPLICATED;
        *mask |= METADATA_TOPIC_OPTION_ENFORCE_FSYNC;
    }
    if (options->has_messages_required_to_save) {
        uint32_t count = options->messages_required_to_save;
        if (count == 0 || count > METADATA_MESSAGES_TO_SAVE_MAX) {
            return METADATA_STATUS_INVALID_OPTION_VALUE;
        }
        settings->messages_required_to_save = count;
        *mask |= METADATA_TOPIC_OPTION_MESSAGES_TO_SAVE;
    }
    if (options->has_size_of_messages_required_to_save) {
        uint64_t size = options->size_of_messages_required_to_save;
        if (size > METADATA_SEGMENT_SIZE_MAX) {
            return METADATA_STATUS_INVALID_OPTION_VALUE;
        }
        settings->size_of_messages_required_to_save =
            size == 0 ? METADATA_SIZE_TO_SAVE_DEFAULT : size;
        *mask |= METADATA_TOPIC_OPTION_SIZE_TO_SAVE;
    }
    if (options->has_preallocate_segments) {
        settings->preallocate_segments = options->preallocate_segments;
        *mask |= METADATA_TOPIC_OPTION_PREALLOCATE;
    }
    return METADATA_STATUS_OK;
}

/* Resolves a CreateTopic's settings over the cluster defaults. */
static uint32_t metadata_settings_resolve(const struct metadata *metadata,
                                          const Runnel__Metadata__TopicOptions *options,
                                          uint32_t partitions_count,
                                          struct metadata_topic_settings *settings, uint32_t *mask)
{
    metadata_settings_defaults(metadata, settings);
    *mask = 0;
    if (options == NULL) {
        return METADATA_STATUS_OK;
    }
    uint32_t status = metadata_settings_create_only(metadata, settings, mask, options);
    if (status == METADATA_STATUS_OK) {
        status = metadata_settings_patch(settings, mask, options);
    }
    if (status == METADATA_STATUS_OK && settings->preallocate_segments &&
        settings->segment_size_bytes * partitions_count > METADATA_PREALLOCATE_BYTES_MAX) {
        status = METADATA_STATUS_INVALID_OPTION_VALUE;
    }
    return status;
}

/* ---- streams ---- */

static uint32_t metadata_create_stream(struct metadata_apply_state *state,
                                       const Runnel__Metadata__CreateStream *request)
{
    struct metadata *metadata = state->metadata;
    if (!metadata_user_can(metadata, state->context->user_id, METADATA_ACTION_STREAM_CREATE,
                           METADATA_NONE, METADATA_NONE)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    if (!metadata_name_is_valid(&request->name)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    if (metadata_stream_find(metadata, request->name.data, (uint32_t)request->name.len) != NULL) {
        return METADATA_STATUS_STREAM_NAME_EXISTS;
    }
    uint32_t id = 0;
    while (id < metadata->config.limits.streams_max && metadata->streams[id].is_used) {
        id++;
    }
    if (id == metadata->config.limits.streams_max) {
        return METADATA_STATUS_TOO_MANY_STREAMS;
    }
    struct metadata_stream *stream = &metadata->streams[id];
    memset(stream, 0, sizeof(*stream));
    stream->is_used = true;
    stream->id = id;
    stream->created_at_us = state->context->timestamp_us;
    stream->topic_first = METADATA_NONE;
    metadata_name_set(&stream->name, &request->name);
    metadata->streams_count++;
    metadata_write_stream_response(state->payload, stream);
    return METADATA_STATUS_OK;
}

/* Resolves a stream and checks action on it: the status, with *stream_id_out set. */
static uint32_t metadata_stream_gate(struct metadata_apply_state *state,
                                     const Runnel__Metadata__Identifier *identifier,
                                     enum metadata_action action, uint32_t *stream_id_out)
{
    *stream_id_out = metadata_resolve_stream(state->metadata, identifier);
    if (*stream_id_out == METADATA_NONE) {
        return METADATA_STATUS_STREAM_NOT_FOUND;
    }
    if (!metadata_user_can(state->metadata, state->context->user_id, action, *stream_id_out,
                           METADATA_NONE)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    return METADATA_STATUS_OK;
}

static uint32_t metadata_update_stream(struct metadata_apply_state *state,
                                       const Runnel__Metadata__UpdateStream *request)
{
    uint32_t stream_id = METADATA_NONE;
    uint32_t status =
        metadata_stream_gate(state, request->stream, METADATA_ACTION_STREAM_MANAGE, &stream_id);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    if (!metadata_name_is_valid(&request->name)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    const struct metadata_stream *other =
        metadata_stream_find(state->metadata, request->name.data, (uint32_t)request->name.len);
    if (other != NULL && other->id != stream_id) {
        return METADATA_STATUS_STREAM_NAME_EXISTS;
    }
    metadata_name_set(&state->metadata->streams[stream_id].name, &request->name);
    return METADATA_STATUS_OK;
}

static uint32_t metadata_delete_stream(struct metadata_apply_state *state,
                                       const Runnel__Metadata__DeleteStream *request)
{
    uint32_t stream_id = METADATA_NONE;
    uint32_t status =
        metadata_stream_gate(state, request->stream, METADATA_ACTION_STREAM_MANAGE, &stream_id);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    struct metadata *metadata = state->metadata;
    struct metadata_stream *stream = &metadata->streams[stream_id];
    for (uint32_t step = 0; step < METADATA_TOPICS_PER_STREAM_MAX; step++) {
        uint32_t slot = stream->topic_first;
        if (slot == METADATA_NONE) {
            break;
        }
        stream->topic_first = metadata->topics[slot].next;
        metadata_topic_release(metadata, slot);
    }
    assert(stream->topic_first == METADATA_NONE);
    memset(stream, 0, sizeof(*stream));
    metadata->streams_count--;
    return METADATA_STATUS_OK;
}

static void metadata_topic_purge(struct metadata *metadata, const struct metadata_topic *topic,
                                 uint64_t op)
{
    for (uint32_t id = 0; id < topic->partitions_count; id++) {
        uint32_t slot = metadata_index_get(&metadata->partition_index,
                                           metadata_partition_key(topic->stream_id, topic->id, id));
        assert(slot != METADATA_NONE);
        metadata->partitions[slot].incarnation = op; /* offsets restart in a fresh group */
        metadata->partitions[slot].deleted_up_to_offset = 0;
    }
}

static uint32_t metadata_purge_stream(struct metadata_apply_state *state,
                                      const Runnel__Metadata__PurgeStream *request)
{
    uint32_t stream_id = METADATA_NONE;
    uint32_t status =
        metadata_stream_gate(state, request->stream, METADATA_ACTION_STREAM_MANAGE, &stream_id);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    struct metadata *metadata = state->metadata;
    uint32_t slot = metadata->streams[stream_id].topic_first;
    for (uint32_t step = 0; step < METADATA_TOPICS_PER_STREAM_MAX && slot != METADATA_NONE;
         step++) {
        metadata_topic_purge(metadata, &metadata->topics[slot], state->context->op);
        slot = metadata->topics[slot].next;
    }
    return METADATA_STATUS_OK;
}

/* ---- topics ---- */

/* Lowest free topic id of the stream, and the slot to link after (NONE: at the head). */
static uint32_t metadata_topic_id_free(const struct metadata *metadata,
                                       const struct metadata_stream *stream, uint32_t *previous)
{
    uint32_t id = 0;
    *previous = METADATA_NONE;
    uint32_t slot = stream->topic_first;
    for (uint32_t step = 0; step < METADATA_TOPICS_PER_STREAM_MAX && slot != METADATA_NONE;
         step++) {
        if (metadata->topics[slot].id != id) {
            break; /* a gap */
        }
        id++;
        *previous = slot;
        slot = metadata->topics[slot].next;
    }
    return id;
}

static void metadata_partitions_append(struct metadata *metadata, struct metadata_topic *topic,
                                       uint32_t count, const struct metadata_apply_context *context)
{
    assert(metadata_slots_used(&metadata->partition_slots) + count <=
           metadata->config.limits.partitions_max);
    for (uint32_t index = 0; index < count; index++) {
        uint32_t slot = metadata_slots_take(&metadata->partition_slots);
        assert(slot != METADATA_NONE);
        struct metadata_partition *partition = &metadata->partitions[slot];
        memset(partition, 0, sizeof(*partition));
        partition->is_used = true;
        partition->stream_id = topic->stream_id;
        partition->topic_id = topic->id;
        partition->id = topic->partitions_count;
        partition->incarnation = context->op;
        partition->created_at_us = context->timestamp_us;
        metadata_index_put(&metadata->partition_index,
                           metadata_partition_key(topic->stream_id, topic->id, partition->id),
                           slot);
        topic->partitions_count++;
    }
}

static void metadata_partitions_truncate(struct metadata *metadata, struct metadata_topic *topic,
                                         uint32_t count)
{
    assert(count <= topic->partitions_count);
    for (uint32_t index = 0; index < count; index++) {
        uint64_t key =
            metadata_partition_key(topic->stream_id, topic->id, topic->partitions_count - 1);
        uint32_t slot = metadata_index_get(&metadata->partition_index, key);
        assert(slot != METADATA_NONE);
        metadata_index_remove(&metadata->partition_index, key);
        memset(&metadata->partitions[slot], 0, sizeof(metadata->partitions[slot]));
        metadata_slots_give(&metadata->partition_slots, slot);
        topic->partitions_count--;
    }
}

static uint32_t metadata_create_topic_check(struct metadata_apply_state *state,
                                            const Runnel__Metadata__CreateTopic *request,
                                            const struct metadata_stream *stream)
{
    const struct metadata *metadata = state->metadata;
    if (request->partitions_count > METADATA_PARTITIONS_PER_REQUEST_MAX) {
        return METADATA_STATUS_TOO_MANY_PARTITIONS;
    }
    if (!metadata_name_is_valid(&request->name)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    if (metadata_topic_find(metadata, stream->id, request->name.data,
                            (uint32_t)request->name.len) != NULL) {
        return METADATA_STATUS_TOPIC_NAME_EXISTS;
    }
    uint32_t previous = METADATA_NONE;
    if (metadata_topic_id_free(metadata, stream, &previous) >= METADATA_TOPICS_PER_STREAM_MAX ||
        metadata->topic_slots.free_count == 0) {
        return METADATA_STATUS_TOO_MANY_TOPICS;
    }
    if (metadata->partition_slots.free_count < request->partitions_count) {
        return METADATA_STATUS_TOO_MANY_PARTITIONS; /* partitions_max (DESIGN.md §10.8) */
    }
    return METADATA_STATUS_OK;
}

static uint32_t metadata_create_topic(struct metadata_apply_state *state,
                                      const Runnel__Metadata__CreateTopic *request)
{
    uint32_t stream_id = METADATA_NONE;
    uint32_t status =
        metadata_stream_gate(state, request->stream, METADATA_ACTION_TOPIC_CREATE, &stream_id);
    struct metadata *metadata = state->metadata;
    struct metadata_stream *stream = &metadata->streams[stream_id == METADATA_NONE ? 0 : stream_id];
    status =
        status != METADATA_STATUS_OK ? status : metadata_create_topic_check(state, request, stream);
    struct metadata_topic_settings settings;
    uint32_t mask = 0;
    status = status != METADATA_STATUS_OK
                 ? status
                 : metadata_settings_resolve(metadata, request->options, request->partitions_count,
                                             &settings, &mask);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    uint32_t previous = METADATA_NONE;
    uint32_t id = metadata_topic_id_free(metadata, stream, &previous);
    uint32_t slot = metadata_slots_take(&metadata->topic_slots);
    assert(slot != METADATA_NONE);
    struct metadata_topic *topic = &metadata->topics[slot];
    memset(topic, 0, sizeof(*topic));
    topic->is_used = true;
    topic->stream_id = stream_id;
    topic->id = id;
    topic->created_at_us = state->context->timestamp_us;
    metadata_name_set(&topic->name, &request->name);
    topic->settings = settings;
    topic->explicit_mask = mask;
    topic->group_first = METADATA_NONE;
    topic->group_last = METADATA_NONE;
    topic->next = previous == METADATA_NONE ? stream->topic_first : metadata->topics[previous].next;
    if (previous == METADATA_NONE) {
        stream->topic_first = slot;
    } else {
        metadata->topics[previous].next = slot;
    }
    stream->topics_count++;
    metadata_partitions_append(metadata, topic, request->partitions_count, state->context);
    metadata_write_topic_header(state->payload, topic);
    for (uint32_t index = 0; index < topic->partitions_count; index++) {
        metadata_write_partition_response(
            state->payload, metadata_partition_get(metadata, stream_id, topic->id, index));
    }
    return METADATA_STATUS_OK;
}

/* Resolves stream and topic, then checks action: the status, with *topic_out set. */
static uint32_t metadata_topic_gate(struct metadata_apply_state *state,
                                    const Runnel__Metadata__Identifier *stream_identifier,
                                    const Runnel__Metadata__Identifier *topic_identifier,
                                    enum metadata_action action, struct metadata_topic **topic_out)
{
    *topic_out = NULL;
    uint32_t stream_id = metadata_resolve_stream(state->metadata, stream_identifier);
    if (stream_id == METADATA_NONE) {
        return METADATA_STATUS_STREAM_NOT_FOUND;
    }
    uint32_t slot = metadata_resolve_topic_slot(state->metadata, stream_id, topic_identifier);
    if (slot == METADATA_NONE) {
        return METADATA_STATUS_TOPIC_NOT_FOUND;
    }
    struct metadata_topic *topic = &state->metadata->topics[slot];
    if (!metadata_user_can(state->metadata, state->context->user_id, action, stream_id,
                           topic->id)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    *topic_out = topic;
    return METADATA_STATUS_OK;
}

static uint32_t metadata_update_topic(struct metadata_apply_state *state,
                                      const Runnel__Metadata__UpdateTopic *request)
{
    struct metadata_topic *topic = NULL;
    uint32_t status = metadata_topic_gate(state, request->stream, request->topic,
                                          METADATA_ACTION_TOPIC_MANAGE, &topic);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    if (!metadata_name_is_valid(&request->name)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    const struct metadata_topic *other = metadata_topic_find(
        state->metadata, topic->stream_id, request->name.data, (uint32_t)request->name.len);
    if (other != NULL && other != topic) {
        return METADATA_STATUS_TOPIC_NAME_EXISTS;
    }
    struct metadata_topic_settings settings = topic->settings;
    uint32_t mask = topic->explicit_mask;
    if (request->options != NULL) {
        const Runnel__Metadata__TopicOptions *options = request->options;
        if (options->has_segment_size_bytes || options->has_enforce_fsync ||
            options->has_messages_required_to_save ||
            options->has_size_of_messages_required_to_save || options->has_preallocate_segments) {
            return METADATA_STATUS_INVALID_COMMAND; /* create-only keys (4041 at admission) */
        }
        status = metadata_settings_patch(&settings, &mask, options);
        if (status != METADATA_STATUS_OK) {
            return status;
        }
    }
    metadata_name_set(&topic->name, &request->name);
    topic->settings = settings;
    topic->explicit_mask = mask;
    return METADATA_STATUS_OK;
}

void metadata_topic_release(struct metadata *metadata, uint32_t topic_slot)
{
    assert(topic_slot < metadata->config.limits.topics_max);
    struct metadata_topic *topic = &metadata->topics[topic_slot];
    assert(topic->is_used);
    metadata_topic_groups_release(metadata, topic);
    metadata_partitions_truncate(metadata, topic, topic->partitions_count);
    struct metadata_stream *stream = &metadata->streams[topic->stream_id];
    stream->topics_count--;
    memset(topic, 0, sizeof(*topic));
    metadata_slots_give(&metadata->topic_slots, topic_slot);
}

static uint32_t metadata_delete_topic(struct metadata_apply_state *state,
                                      const Runnel__Metadata__DeleteTopic *request)
{
    struct metadata_topic *topic = NULL;
    uint32_t status = metadata_topic_gate(state, request->stream, request->topic,
                                          METADATA_ACTION_TOPIC_MANAGE, &topic);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    struct metadata *metadata = state->metadata;
    struct metadata_stream *stream = &metadata->streams[topic->stream_id];
    uint32_t slot = (uint32_t)(topic - metadata->topics);
    if (stream->topic_first == slot) {
        stream->topic_first = topic->next;
    } else {
        uint32_t previous = stream->topic_first;
        for (uint32_t step = 0;
             step < stream->topics_count && metadata->topics[previous].next != slot; step++) {
            previous = metadata->topics[previous].next;
        }
        assert(metadata->topics[previous].next == slot);
        metadata->topics[previous].next = topic->next;
    }
    metadata_topic_release(metadata, slot);
    return METADATA_STATUS_OK;
}

static uint32_t metadata_purge_topic(struct metadata_apply_state *state,
                                     const Runnel__Metadata__PurgeTopic *request)
{
    struct metadata_topic *topic = NULL;
    uint32_t status = metadata_topic_gate(state, request->stream, request->topic,
                                          METADATA_ACTION_TOPIC_MANAGE, &topic);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    metadata_topic_purge(state->metadata, topic, state->context->op);
    return METADATA_STATUS_OK;
}

/* ---- partitions and segments ---- */

/*
 * The checks CreatePartitions and DeletePartitions share: the topic gate (manage), then a
 * count of 1 to METADATA_PARTITIONS_PER_REQUEST_MAX. The status, with *topic_out set
 * when it is OK.
 */
static uint32_t metadata_partitions_gate(struct metadata_apply_state *state,
                                         const Runnel__Metadata__Identifier *stream_identifier,
                                         const Runnel__Metadata__Identifier *topic_identifier,
                                         uint32_t count, struct metadata_topic **topic_out)
{
    uint32_t status = metadata_topic_gate(state, stream_identifier, topic_identifier,
                                          METADATA_ACTION_TOPIC_MANAGE, topic_out);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    assert(*topic_out != NULL);
    if (count == 0 || count > METADATA_PARTITIONS_PER_REQUEST_MAX) {
        return METADATA_STATUS_TOO_MANY_PARTITIONS;
    }
    return METADATA_STATUS_OK;
}

static uint32_t metadata_create_partitions(struct metadata_apply_state *state,
                                           const Runnel__Metadata__CreatePartitions *request)
{
    struct metadata_topic *topic = NULL;
    uint32_t status =
        metadata_partitions_gate(state, request->stream, request->topic, request->count, &topic);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    struct metadata *metadata = state->metadata;
    if ((uint64_t)topic->partitions_count + request->count > METADATA_PARTITIONS_ID_MAX) {
        return METADATA_STATUS_PARTITION_ID_SPACE_EXHAUSTED;
    }
    if (metadata->partition_slots.free_count < request->count) {
        return METADATA_STATUS_TOO_MANY_PARTITIONS; /* partitions_max (DESIGN.md §10.8) */
    }
    if (!metadata_topic_groups_can_rebalance(metadata, topic,
                                             topic->partitions_count + request->count)) {
        return METADATA_STATUS_ERROR; /* assignments_max */
    }
    metadata_partitions_append(metadata, topic, request->count, state->context);
    metadata_topic_groups_rebalance(metadata, topic);
    return METADATA_STATUS_OK;
}

static uint32_t metadata_delete_partitions(struct metadata_apply_state *state,
                                           const Runnel__Metadata__DeletePartitions *request)
{
    struct metadata_topic *topic = NULL;
    uint32_t status =
        metadata_partitions_gate(state, request->stream, request->topic, request->count, &topic);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    if (request->count > topic->partitions_count) {
        return METADATA_STATUS_INVALID_PARTITIONS_COUNT;
    }
    metadata_partitions_truncate(state->metadata, topic, request->count);
    metadata_topic_groups_rebalance(state->metadata, topic);
    return METADATA_STATUS_OK;
}

static uint32_t metadata_delete_segments(struct metadata_apply_state *state,
                                         const Runnel__Metadata__DeleteSegments *request)
{
    struct metadata_topic *topic = NULL;
    uint32_t status = metadata_topic_gate(state, request->stream, request->topic,
                                          METADATA_ACTION_TOPIC_MANAGE, &topic);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    if (request->partition_id >= topic->partitions_count) {
        return METADATA_STATUS_PARTITION_NOT_FOUND;
    }
    uint32_t slot = metadata_index_get(
        &state->metadata->partition_index,
        metadata_partition_key(topic->stream_id, topic->id, request->partition_id));
    assert(slot != METADATA_NONE);
    struct metadata_partition *partition = &state->metadata->partitions[slot];
    if (request->up_to_offset > partition->deleted_up_to_offset) {
        partition->deleted_up_to_offset = request->up_to_offset; /* never rewinds */
    }
    return METADATA_STATUS_OK;
}

uint32_t metadata_apply_stream_op(struct metadata_apply_state *state,
                                  const Runnel__Metadata__MetadataOperation *operation)
{
    assert(state != NULL);
    assert(operation != NULL);
    switch (operation->operation_case) {
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_STREAM:
        return metadata_create_stream(state, operation->create_stream);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_STREAM:
        return metadata_update_stream(state, operation->update_stream);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM:
        return metadata_delete_stream(state, operation->delete_stream);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_STREAM:
        return metadata_purge_stream(state, operation->purge_stream);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOPIC:
        return metadata_create_topic(state, operation->create_topic);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_TOPIC:
        return metadata_update_topic(state, operation->update_topic);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOPIC:
        return metadata_delete_topic(state, operation->delete_topic);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_TOPIC:
        return metadata_purge_topic(state, operation->purge_topic);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_PARTITIONS:
        return metadata_create_partitions(state, operation->create_partitions);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_PARTITIONS:
        return metadata_delete_partitions(state, operation->delete_partitions);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_SEGMENTS:
        return metadata_delete_segments(state, operation->delete_segments);
    default:
        unreachable_code();
    }
    return METADATA_STATUS_INVALID_COMMAND;
}
