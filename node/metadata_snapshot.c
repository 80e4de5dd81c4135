/*
 * The metadata snapshot: the whole state as one packed protobuf Snapshot message, so it
 * can be written with a checkpoint and loaded at start-up or on state transfer. Encoding
 * walks every table in id order (never in slot order), so equal states give equal bytes
 * on every replica. Decoding treats the bytes as untrusted: it validates every id,
 * range and reference and rebuilds the tables; on any error the state is reset. The
 * message tree lives in metadata.snapshot_arena (sized at init). Runs on shard 0.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "node/metadata.h"
#include "node/metadata_internal.h"

#include <stdlib.h>
#include <string.h>

/* Shorter names for the generated types used throughout this file. */
#define SNAPSHOT_NEW(arena, type, init) metadata_snapshot_new(arena, sizeof(type), &(type)init)

static void *metadata_snapshot_new(struct metadata_arena *arena, size_t size, const void *init)
{
    void *object = arena->allocator.alloc(arena, size);
    assert(object != NULL); /* the arena is sized from the limits */
    memcpy(object, init, size);
    return object;
}

static void **metadata_snapshot_array(struct metadata_arena *arena, size_t count)
{
    if (count == 0) {
        return NULL;
    }
    void **array = arena->allocator.alloc(arena, sizeof(void *) * count);
    assert(array != NULL);
    return array;
}

static ProtobufCBinaryData metadata_snapshot_bytes(const void *data, size_t size)
{
    return (ProtobufCBinaryData){.len = size, .data = (uint8_t *)(uintptr_t)data};
}

size_t metadata_snapshot_size_max(const struct metadata *metadata)
{
    assert(metadata != NULL);
    const struct metadata_limits *limits = &metadata->config.limits;
    size_t size = 64;
    size += (size_t)limits->streams_max * (METADATA_NAME_SIZE_MAX + 40);
    size += (size_t)limits->topics_max * (METADATA_NAME_SIZE_MAX + 160);
    size += (size_t)limits->partitions_max * 48;
    size +=
        (size_t)limits->users_max * (METADATA_NAME_SIZE_MAX + METADATA_PASSWORD_HASH_SIZE_MAX + 80);
    size +=
        (size_t)limits->tokens_max * (METADATA_NAME_SIZE_MAX + METADATA_TOKEN_HASH_SIZE_MAX + 24);
    size += (size_t)limits->permissions_max * 40;
    size += (size_t)limits->consumer_groups_max * (METADATA_NAME_SIZE_MAX + 32);
    size += (size_t)limits->members_max * 40;
    size += (size_t)limits->assignments_max * 32;
    size += (size_t)limits->clients_max *
            (64 + METADATA_CLIENT_REPLIES * (METADATA_CLIENT_REPLY_SIZE_MAX + 48));
    size += 16 + (size_t)limits->replies_bytes; /* the ring's intact replies, head */
    return size;
}

/* ---- encode ---- */

static Runnel__Metadata__TopicOptions *
metadata_snapshot_options(struct metadata_arena *arena,
                          const struct metadata_topic_settings *settings)
{
    Runnel__Metadata__TopicOptions *options =
        SNAPSHOT_NEW(arena, Runnel__Metadata__TopicOptions, RUNNEL__METADATA__TOPIC_OPTIONS__INIT);
    options->has_compression_algorithm = true;
    options->compression_algorithm = settings->compression_algorithm;
    options->has_message_expiry_us = true;
    options->message_expiry_us = settings->message_expiry_us;
    options->has_max_topic_size_bytes = true;
    options->max_topic_size_bytes = settings->max_topic_size_bytes;
    options->has_segment_size_bytes = true;
    options->segment_size_bytes = settings->segment_size_bytes;
    options->has_enforce_fsync = true;
    options->enforce_fsync = settings->enforce_fsync;
    options->has_messages_required_to_save = true;
    options->messages_required_to_save = settings->messages_required_to_save;
    options->has_size_of_messages_required_to_save = true;
    options->size_of_messages_required_to_save = settings->size_of_messages_required_to_save;
    options->has_preallocate_segments = true;
    options->preallocate_segments = settings->preallocate_segments;
    return options;
}

static Runnel__Metadata__SnapshotMember *
metadata_snapshot_member(struct metadata *metadata, const struct metadata_member *member)
{
    struct metadata_arena *arena = &metadata->snapshot_arena;
    Runnel__Metadata__SnapshotMember *out = SNAPSHOT_NEW(arena, Runnel__Metadata__SnapshotMember,
                                                         RUNNEL__METADATA__SNAPSHOT_MEMBER__INIT);
    out->id = member->id;
    out->client_low = (uint64_t)member->client;
    out->client_high = (uint64_t)(member->client >> 64);
    out->n_assignments = member->assignments_count;
    out->assignments = (Runnel__Metadata__SnapshotAssignment **)metadata_snapshot_array(
        arena, member->assignments_count);
    uint32_t slot = member->assignment_first;
    for (uint32_t index = 0; index < member->assignments_count; index++) {
        const struct metadata_assignment *entry = &metadata->assignments[slot];
        Runnel__Metadata__SnapshotAssignment *assignment =
            SNAPSHOT_NEW(arena, Runnel__Metadata__SnapshotAssignment,
                         RUNNEL__METADATA__SNAPSHOT_ASSIGNMENT__INIT);
        assignment->partition_id = entry->partition_id;
        assignment->has_pending_target_member = entry->is_pending;
        assignment->pending_target_member = entry->is_pending ? entry->pending_target_member : 0;
        assignment->has_pending_created_at_us = entry->is_pending;
        assignment->pending_created_at_us = entry->is_pending ? entry->pending_created_at_us : 0;
        out->assignments[index] = assignment;
        slot = entry->next;
    }
    return out;
}

static Runnel__Metadata__SnapshotGroup *metadata_snapshot_group(struct metadata *metadata,
                                                                const struct metadata_group *group)
{
    struct metadata_arena *arena = &metadata->snapshot_arena;
    Runnel__Metadata__SnapshotGroup *out = SNAPSHOT_NEW(arena, Runnel__Metadata__SnapshotGroup,
                                                        RUNNEL__METADATA__SNAPSHOT_GROUP__INIT);
    out->id = group->id;
    out->name = metadata_snapshot_bytes(group->name.bytes, group->name.size);
    out->generation = group->generation;
    out->n_members = group->members_count;
    out->members =
        (Runnel__Metadata__SnapshotMember **)metadata_snapshot_array(arena, group->members_count);
    uint32_t slot = group->member_first;
    for (uint32_t index = 0; index < group->members_count; index++) {
        out->members[index] = metadata_snapshot_member(metadata, &metadata->members[slot]);
        slot = metadata->members[slot].next;
    }
    return out;
}

static Runnel__Metadata__SnapshotTopic *metadata_snapshot_topic(struct metadata *metadata,
                                                                const struct metadata_topic *topic)
{
    struct metadata_arena *arena = &metadata->snapshot_arena;
    Runnel__Metadata__SnapshotTopic *out = SNAPSHOT_NEW(arena, Runnel__Metadata__SnapshotTopic,
                                                        RUNNEL__METADATA__SNAPSHOT_TOPIC__INIT);
    out->id = topic->id;
    out->name = metadata_snapshot_bytes(topic->name.bytes, topic->name.size);
    out->created_at_us = topic->created_at_us;
    out->options = metadata_snapshot_options(arena, &topic->settings);
    out->explicit_mask = topic->explicit_mask;
    out->group_id_next = topic->group_id_next;
    out->n_partitions = topic->partitions_count;
    out->partitions = (Runnel__Metadata__SnapshotPartition **)metadata_snapshot_array(
        arena, topic->partitions_count);
    for (uint32_t id = 0; id < topic->partitions_count; id++) {
        const struct metadata_partition *partition =
            metadata_partition_get(metadata, topic->stream_id, topic->id, id);
        assert(partition != NULL);
        Runnel__Metadata__SnapshotPartition *entry = SNAPSHOT_NEW(
            arena, Runnel__Metadata__SnapshotPartition, RUNNEL__METADATA__SNAPSHOT_PARTITION__INIT);
        entry->id = id;
        entry->incarnation = partition->incarnation;
        entry->created_at_us = partition->created_at_us;
        entry->deleted_up_to_offset = partition->deleted_up_to_offset;
        out->partitions[id] = entry;
    }
    out->n_groups = topic->groups_count;
    out->groups =
        (Runnel__Metadata__SnapshotGroup **)metadata_snapshot_array(arena, topic->groups_count);
    uint32_t slot = topic->group_first;
    for (uint32_t index = 0; index < topic->groups_count; index++) {
        out->groups[index] = metadata_snapshot_group(metadata, &metadata->groups[slot]);
        slot = metadata->groups[slot].next;
    }
    return out;
}

static Runnel__Metadata__SnapshotStream *
metadata_snapshot_stream(struct metadata *metadata, const struct metadata_stream *stream)
{
    struct metadata_arena *arena = &metadata->snapshot_arena;
    Runnel__Metadata__SnapshotStream *out = SNAPSHOT_NEW(arena, Runnel__Metadata__SnapshotStream,
                                                         RUNNEL__METADATA__SNAPSHOT_STREAM__INIT);
    out->id = stream->id;
    out->name = metadata_snapshot_bytes(stream->name.bytes, stream->name.size);
    out->created_at_us = stream->created_at_us;
    out->n_topics = stream->topics_count;
    out->topics =
        (Runnel__Metadata__SnapshotTopic **)metadata_snapshot_array(arena, stream->topics_count);
    uint32_t slot = stream->topic_first;
    for (uint32_t index = 0; index < stream->topics_count; index++) {
        out->topics[index] = metadata_snapshot_topic(metadata, &metadata->topics[slot]);
        slot = metadata->topics[slot].next;
    }
    return out;
}

static void metadata_snapshot_global(Runnel__Metadata__Permissions *out, uint32_t bits)
{
    protobuf_c_boolean *fields[] = {&out->manage_servers, &out->read_servers,   &out->manage_users,
                                    &out->read_users,     &out->manage_streams, &out->read_streams,
                                    &out->manage_topics,  &out->read_topics,    &out->poll_messages,
                                    &out->send_messages};
    protobuf_c_boolean *has[] = {&out->has_manage_servers, &out->has_read_servers,
                                 &out->has_manage_users,   &out->has_read_users,
                                 &out->has_manage_streams, &out->has_read_streams,
                                 &out->has_manage_topics,  &out->has_read_topics,
                                 &out->has_poll_messages,  &out->has_send_messages};
    for (uint32_t index = 0; index < 10; index++) {
        *fields[index] = (bits >> index) & 1u;
        *has[index] = *fields[index];
    }
}

static Runnel__Metadata__StreamPermissions *
metadata_snapshot_stream_grant(struct metadata_arena *arena,
                               const struct metadata_permission *entry, size_t topics_count)
{
    Runnel__Metadata__StreamPermissions *out = SNAPSHOT_NEW(
        arena, Runnel__Metadata__StreamPermissions, RUNNEL__METADATA__STREAM_PERMISSIONS__INIT);
    out->stream_id = entry->stream_id;
    protobuf_c_boolean *fields[] = {&out->manage_stream, &out->read_stream,   &out->manage_topics,
                                    &out->read_topics,   &out->poll_messages, &out->send_messages};
    protobuf_c_boolean *has[] = {&out->has_manage_stream, &out->has_read_stream,
                                 &out->has_manage_topics, &out->has_read_topics,
                                 &out->has_poll_messages, &out->has_send_messages};
    for (uint32_t index = 0; index < 6; index++) {
        *fields[index] = (entry->bits >> index) & 1u;
        *has[index] = *fields[index];
    }
    out->n_topics = topics_count;
    out->topics =
        (Runnel__Metadata__TopicPermissions **)metadata_snapshot_array(arena, topics_count);
    return out;
}

static Runnel__Metadata__TopicPermissions *
metadata_snapshot_topic_grant(struct metadata_arena *arena, const struct metadata_permission *entry)
{
    Runnel__Metadata__TopicPermissions *out = SNAPSHOT_NEW(
        arena, Runnel__Metadata__TopicPermissions, RUNNEL__METADATA__TOPIC_PERMISSIONS__INIT);
    out->topic_id = entry->topic_id;
    out->has_manage_topic = out->manage_topic = (entry->bits & METADATA_TOPIC_MANAGE_TOPIC) != 0;
    out->has_read_topic = out->read_topic = (entry->bits & METADATA_TOPIC_READ_TOPIC) != 0;
    out->has_poll_messages = out->poll_messages = (entry->bits & METADATA_TOPIC_POLL_MESSAGES) != 0;
    out->has_send_messages = out->send_messages = (entry->bits & METADATA_TOPIC_SEND_MESSAGES) != 0;
    return out;
}

/* Counts of stream entries and of topic entries following the stream entry at slot. */
static size_t metadata_snapshot_topic_grants(const struct metadata *metadata, uint32_t slot)
{
    size_t count = 0;
    slot = metadata->permissions[slot].next;
    while (slot != METADATA_NONE && metadata->permissions[slot].topic_id != METADATA_NONE &&
           count < metadata->config.limits.permissions_max) {
        count++;
        slot = metadata->permissions[slot].next;
    }
    return count;
}

static Runnel__Metadata__Permissions *
metadata_snapshot_permissions(struct metadata *metadata, const struct metadata_user *user)
{
    struct metadata_arena *arena = &metadata->snapshot_arena;
    Runnel__Metadata__Permissions *out =
        SNAPSHOT_NEW(arena, Runnel__Metadata__Permissions, RUNNEL__METADATA__PERMISSIONS__INIT);
    metadata_snapshot_global(out, user->global_bits);
    size_t streams_count = 0;
    uint32_t slot = user->permission_first;
    for (uint32_t step = 0; step < metadata->config.limits.permissions_max && slot != METADATA_NONE;
         step++) {
        streams_count += metadata->permissions[slot].topic_id == METADATA_NONE ? 1 : 0;
        slot = metadata->permissions[slot].next;
    }
    out->n_streams = streams_count;
    out->streams =
        (Runnel__Metadata__StreamPermissions **)metadata_snapshot_array(arena, streams_count);
    slot = user->permission_first;
    for (size_t index = 0; index < streams_count; index++) {
        size_t topics_count = metadata_snapshot_topic_grants(metadata, slot);
        Runnel__Metadata__StreamPermissions *stream =
            metadata_snapshot_stream_grant(arena, &metadata->permissions[slot], topics_count);
        slot = metadata->permissions[slot].next;
        for (size_t topic = 0; topic < topics_count; topic++) {
            stream->topics[topic] =
                metadata_snapshot_topic_grant(arena, &metadata->permissions[slot]);
            slot = metadata->permissions[slot].next;
        }
        out->streams[index] = stream;
    }
    return out;
}

static int metadata_snapshot_token_compare(const void *left, const void *right)
{
    const Runnel__Metadata__SnapshotToken *a = *(Runnel__Metadata__SnapshotToken *const *)left;
    const Runnel__Metadata__SnapshotToken *b = *(Runnel__Metadata__SnapshotToken *const *)right;
    size_t common = a->name.len < b->name.len ? a->name.len : b->name.len;
    int order = memcmp(a->name.data, b->name.data, common);
    return order != 0 ? order : (a->name.len > b->name.len) - (a->name.len < b->name.len);
}

static Runnel__Metadata__SnapshotUser *metadata_snapshot_user(struct metadata *metadata,
                                                              const struct metadata_user *user)
{
    struct metadata_arena *arena = &metadata->snapshot_arena;
    Runnel__Metadata__SnapshotUser *out =
        SNAPSHOT_NEW(arena, Runnel__Metadata__SnapshotUser, RUNNEL__METADATA__SNAPSHOT_USER__INIT);
    out->id = user->id;
    out->username = metadata_snapshot_bytes(user->username.bytes, user->username.size);
    out->password_hash = metadata_snapshot_bytes(user->password_hash, user->password_hash_size);
    out->status = user->status;
    out->created_at_us = user->created_at_us;
    out->permissions = user->has_permissions ? metadata_snapshot_permissions(metadata, user) : NULL;
    out->tokens =
        (Runnel__Metadata__SnapshotToken **)metadata_snapshot_array(arena, user->tokens_count);
    for (uint32_t slot = 0; slot < metadata->config.limits.tokens_max; slot++) {
        const struct metadata_token *token = &metadata->tokens[slot];
        if (!token->is_used || token->user_id != user->id) {
            continue;
        }
        assert(out->n_tokens < user->tokens_count);
        Runnel__Metadata__SnapshotToken *entry = SNAPSHOT_NEW(
            arena, Runnel__Metadata__SnapshotToken, RUNNEL__METADATA__SNAPSHOT_TOKEN__INIT);
        entry->name = metadata_snapshot_bytes(token->name.bytes, token->name.size);
        entry->token_hash = metadata_snapshot_bytes(token->hash, token->hash_size);
        entry->expiry_at_us = token->expiry_at_us;
        out->tokens[out->n_tokens++] = entry;
    }
    assert(out->n_tokens == user->tokens_count);
    if (out->n_tokens > 1) {
        qsort(out->tokens, out->n_tokens, sizeof(out->tokens[0]), metadata_snapshot_token_compare);
    }
    return out;
}

static int metadata_snapshot_client_compare(const void *left, const void *right)
{
    const Runnel__Metadata__SnapshotClient *a = *(Runnel__Metadata__SnapshotClient *const *)left;
    const Runnel__Metadata__SnapshotClient *b = *(Runnel__Metadata__SnapshotClient *const *)right;
    if (a->client_high != b->client_high) {
        return a->client_high < b->client_high ? -1 : 1;
    }
    return (a->client_low > b->client_low) - (a->client_low < b->client_low);
}

/* The client's watermark and kept replies, in request order (not slot order: a restored
 * state may hold them in other slots and must encode the same bytes). */
static void metadata_snapshot_client_replies(struct metadata *metadata, uint32_t slot,
                                             Runnel__Metadata__SnapshotClient *out)
{
    struct metadata_arena *arena = &metadata->snapshot_arena;
    const struct metadata_client *client = &metadata->clients[slot];
    const struct metadata_client_reply *kept = metadata_client_replies(metadata, slot);
    out->has_request_last = client->request_last != 0;
    out->request_last = client->request_last;
    uint32_t count = 0;
    for (uint32_t index = 0; index < METADATA_CLIENT_REPLIES; index++) {
        count += kept[index].request != 0 ? 1 : 0;
    }
    if (count == 0) {
        return;
    }
    out->replies = (Runnel__Metadata__SnapshotClientReply **)metadata_snapshot_array(arena, count);
    uint64_t previous = 0;
    for (uint32_t round = 0; round < count; round++) {
        const struct metadata_client_reply *next = NULL;
        for (uint32_t index = 0; index < METADATA_CLIENT_REPLIES; index++) {
            if (kept[index].request > previous &&
                (next == NULL || kept[index].request < next->request)) {
                next = &kept[index];
            }
        }
        assert(next != NULL);
        previous = next->request;
        Runnel__Metadata__SnapshotClientReply *entry =
            SNAPSHOT_NEW(arena, Runnel__Metadata__SnapshotClientReply,
                         RUNNEL__METADATA__SNAPSHOT_CLIENT_REPLY__INIT);
        entry->request = next->request;
        entry->has_checksum = next->checksum != 0;
        entry->checksum = next->checksum;
        entry->has_reply = next->state == METADATA_CLIENT_REPLY_KEPT;
        if (entry->has_reply) {
            entry->reply = metadata_snapshot_bytes(next->bytes, next->size);
        }
        if (next->state == METADATA_CLIENT_REPLY_RING && metadata_replies_holds(metadata, next)) {
            /* A published copy has no ring bytes: it is never encoded while it holds one. */
            assert(metadata->replies.bytes != NULL);
            const uint32_t capacity = metadata->config.limits.replies_bytes;
            const uint8_t *bytes = metadata->replies.bytes + next->position % capacity;
            if (next->position % capacity + next->size > capacity) {
                /* The one reply that wraps (intact ones lie in the last capacity bytes). */
                uint8_t *flat = arena->allocator.alloc(arena, next->size);
                assert(flat != NULL); /* the arena has room for it */
                metadata_replies_read(metadata, next, flat);
                bytes = flat;
            }
            entry->has_reply = true;
            entry->reply = metadata_snapshot_bytes(bytes, next->size);
            entry->has_position = true;
            entry->position = next->position;
        }
        out->replies[out->n_replies++] = entry;
    }
    assert(out->n_replies == count);
}

static void metadata_snapshot_clients(struct metadata *metadata, Runnel__Metadata__Snapshot *out)
{
    struct metadata_arena *arena = &metadata->snapshot_arena;
    uint32_t count = metadata_slots_used(&metadata->client_slots);
    out->clients = (Runnel__Metadata__SnapshotClient **)metadata_snapshot_array(arena, count);
    for (uint32_t slot = 0; slot < metadata->config.limits.clients_max; slot++) {
        const struct metadata_client *client = &metadata->clients[slot];
        if (!client->is_used) {
            continue;
        }
        Runnel__Metadata__SnapshotClient *entry = SNAPSHOT_NEW(
            arena, Runnel__Metadata__SnapshotClient, RUNNEL__METADATA__SNAPSHOT_CLIENT__INIT);
        entry->client_low = (uint64_t)client->client;
        entry->client_high = (uint64_t)(client->client >> 64);
        entry->session = client->session;
        entry->user_id = client->user_id;
        entry->has_node = client->node != 0;
        entry->node = client->node != 0 ? client->node - 1u : 0;
        metadata_snapshot_client_replies(metadata, slot, entry);
        out->clients[out->n_clients++] = entry;
    }
    assert(out->n_clients == count);
    if (count > 1) {
        qsort(out->clients, count, sizeof(out->clients[0]), metadata_snapshot_client_compare);
    }
}

int metadata_snapshot_encode(struct metadata *metadata, uint8_t *buffer, size_t buffer_capacity,
                             size_t *size_out)
{
    assert(metadata != NULL);
    assert(buffer != NULL && size_out != NULL);
    struct metadata_arena *arena = &metadata->snapshot_arena;
    metadata_arena_reset(arena);
    Runnel__Metadata__Snapshot snapshot = RUNNEL__METADATA__SNAPSHOT__INIT;
    snapshot.version = METADATA_SNAPSHOT_VERSION;
    snapshot.op = metadata->op;
    snapshot.is_bootstrapped = metadata->is_bootstrapped;
    snapshot.streams = (Runnel__Metadata__SnapshotStream **)metadata_snapshot_array(
        arena, metadata->streams_count);
    for (uint32_t id = 0; id < metadata->config.limits.streams_max; id++) {
        if (metadata->streams[id].is_used) {
            snapshot.streams[snapshot.n_streams++] =
                metadata_snapshot_stream(metadata, &metadata->streams[id]);
        }
    }
    snapshot.users =
        (Runnel__Metadata__SnapshotUser **)metadata_snapshot_array(arena, metadata->users_count);
    for (uint32_t id = 0; id < metadata->config.limits.users_max; id++) {
        if (metadata->users[id].is_used) {
            snapshot.users[snapshot.n_users++] =
                metadata_snapshot_user(metadata, &metadata->users[id]);
        }
    }
    metadata_snapshot_clients(metadata, &snapshot);
    snapshot.has_replies_head = metadata->replies.head != 0;
    snapshot.replies_head = metadata->replies.head;
    size_t size = runnel__metadata__snapshot__get_packed_size(&snapshot);
    if (size > buffer_capacity) {
        return -RUNNEL_EFULL;
    }
    size_t packed = runnel__metadata__snapshot__pack(&snapshot, buffer);
    assert(packed == size);
    *size_out = packed;
    return 0;
}

/* ---- decode (untrusted bytes) ---- */

static int metadata_restore_settings(const struct metadata *metadata,
                                     const Runnel__Metadata__SnapshotTopic *in,
                                     struct metadata_topic *topic)
{
    const Runnel__Metadata__TopicOptions *options = in->options;
    if (options == NULL || !options->has_compression_algorithm || !options->has_message_expiry_us ||
        !options->has_max_topic_size_bytes || !options->has_segment_size_bytes ||
        !options->has_enforce_fsync || !options->has_messages_required_to_save ||
        !options->has_size_of_messages_required_to_save || !options->has_preallocate_segments ||
        (options->compression_algorithm != METADATA_COMPRESSION_NONE &&
         options->compression_algorithm != METADATA_COMPRESSION_GZIP) ||
        (in->explicit_mask & ~(uint32_t)METADATA_TOPIC_OPTION_ALL) != 0) {
        return -RUNNEL_EFORMAT;
    }
    struct metadata_topic_settings *settings = &topic->settings;
    settings->compression_algorithm = options->compression_algorithm;
    settings->message_expiry_us = options->message_expiry_us;
    settings->max_topic_size_bytes = options->max_topic_size_bytes;
    settings->segment_size_bytes = options->segment_size_bytes;
    settings->enforce_fsync = options->enforce_fsync;
    settings->messages_required_to_save = options->messages_required_to_save;
    settings->size_of_messages_required_to_save = options->size_of_messages_required_to_save;
    settings->preallocate_segments = options->preallocate_segments;
    /* enforce_fsync absent = the cluster default (DESIGN.md §10.7). */
    settings->durability =
        (in->explicit_mask & METADATA_TOPIC_OPTION_ENFORCE_FSYNC)
            ? (options->enforce_fsync ? METADATA_DURABILITY_FSYNC : METADATA_DURABILITY_REPLICATED)
            : metadata->config.durability;
    topic->explicit_mask = in->explicit_mask;
    return 0;
}

static int metadata_restore_partitions(struct metadata *metadata, struct metadata_topic *topic,
                                       const Runnel__Metadata__SnapshotTopic *in)
{
    if (in->n_partitions > METADATA_PARTITIONS_ID_MAX) {
        return -RUNNEL_EFORMAT;
    }
    for (size_t index = 0; index < in->n_partitions; index++) {
        const Runnel__Metadata__SnapshotPartition *entry = in->partitions[index];
        if (entry->id != index) {
            return -RUNNEL_EFORMAT; /* ids are 0..n-1 in order */
        }
        uint32_t slot = metadata_slots_take(&metadata->partition_slots);
        if (slot == METADATA_NONE) {
            return -RUNNEL_EFULL;
        }
        struct metadata_partition *partition = &metadata->partitions[slot];
        *partition =
            (struct metadata_partition){.is_used = true,
                                        .stream_id = topic->stream_id,
                                        .topic_id = topic->id,
                                        .id = entry->id,
                                        .incarnation = entry->incarnation,
                                        .created_at_us = entry->created_at_us,
                                        .deleted_up_to_offset = entry->deleted_up_to_offset};
        metadata_index_put(&metadata->partition_index,
                           metadata_partition_key(topic->stream_id, topic->id, entry->id), slot);
        topic->partitions_count++;
    }
    return 0;
}

static int metadata_restore_assignments(struct metadata *metadata, struct metadata_member *member,
                                        const Runnel__Metadata__SnapshotMember *in,
                                        const struct metadata_topic *topic)
{
    for (size_t index = 0; index < in->n_assignments; index++) {
        const Runnel__Metadata__SnapshotAssignment *entry = in->assignments[index];
        if (entry->partition_id >= topic->partitions_count ||
            entry->has_pending_target_member != entry->has_pending_created_at_us) {
            return -RUNNEL_EFORMAT;
        }
        uint32_t slot = metadata_slots_take(&metadata->assignment_slots);
        if (slot == METADATA_NONE) {
            return -RUNNEL_EFULL;
        }
        metadata->assignments[slot] =
            (struct metadata_assignment){.is_used = true,
                                         .is_pending = entry->has_pending_target_member,
                                         .partition_id = entry->partition_id,
                                         .pending_target_member = entry->pending_target_member,
                                         .pending_created_at_us = entry->pending_created_at_us,
                                         .next = METADATA_NONE};
        if (member->assignment_last == METADATA_NONE) {
            member->assignment_first = slot;
        } else {
            metadata->assignments[member->assignment_last].next = slot;
        }
        member->assignment_last = slot;
        member->assignments_count++;
    }
    return 0;
}

static int metadata_restore_members(struct metadata *metadata, struct metadata_group *group,
                                    const Runnel__Metadata__SnapshotGroup *in,
                                    const struct metadata_topic *topic)
{
    uint32_t previous = METADATA_NONE;
    for (size_t index = 0; index < in->n_members; index++) {
        const Runnel__Metadata__SnapshotMember *entry = in->members[index];
        u128 client = ((u128)entry->client_high << 64) | entry->client_low;
        if (client == 0 || entry->id >= metadata->config.limits.members_max ||
            (previous != METADATA_NONE && entry->id <= metadata->members[previous].id)) {
            return -RUNNEL_EFORMAT; /* ids ascending */
        }
        uint32_t slot = metadata_slots_take(&metadata->member_slots);
        if (slot == METADATA_NONE) {
            return -RUNNEL_EFULL;
        }
        struct metadata_member *member = &metadata->members[slot];
        *member = (struct metadata_member){.is_used = true,
                                           .group_slot = (uint32_t)(group - metadata->groups),
                                           .id = entry->id,
                                           .client = client,
                                           .next = METADATA_NONE,
                                           .assignment_first = METADATA_NONE,
                                           .assignment_last = METADATA_NONE};
        if (previous == METADATA_NONE) {
            group->member_first = slot;
        } else {
            metadata->members[previous].next = slot;
        }
        previous = slot;
        group->members_count++;
        int result = metadata_restore_assignments(metadata, member, entry, topic);
        if (result != 0) {
            return result;
        }
    }
    return 0;
}

static int metadata_restore_groups(struct metadata *metadata, struct metadata_topic *topic,
                                   const Runnel__Metadata__SnapshotTopic *in)
{
    for (size_t index = 0; index < in->n_groups; index++) {
        const Runnel__Metadata__SnapshotGroup *entry = in->groups[index];
        bool is_ascending = topic->group_last == METADATA_NONE ||
                            entry->id > metadata->groups[topic->group_last].id;
        if (!is_ascending || entry->id >= in->group_id_next ||
            !metadata_name_is_valid(&entry->name)) {
            return -RUNNEL_EFORMAT;
        }
        uint32_t slot = metadata_slots_take(&metadata->group_slots);
        if (slot == METADATA_NONE) {
            return -RUNNEL_EFULL;
        }
        struct metadata_group *group = &metadata->groups[slot];
        *group = (struct metadata_group){.is_used = true,
                                         .stream_id = topic->stream_id,
                                         .topic_id = topic->id,
                                         .id = entry->id,
                                         .next = METADATA_NONE,
                                         .generation = entry->generation,
                                         .member_first = METADATA_NONE};
        metadata_name_set(&group->name, &entry->name);
        if (topic->group_last == METADATA_NONE) {
            topic->group_first = slot;
        } else {
            metadata->groups[topic->group_last].next = slot;
        }
        topic->group_last = slot;
        topic->groups_count++;
        int result = metadata_restore_members(metadata, group, entry, topic);
        if (result != 0) {
            return result;
        }
    }
    return 0;
}

static int metadata_restore_topic(struct metadata *metadata, struct metadata_stream *stream,
                                  const Runnel__Metadata__SnapshotTopic *in, uint32_t *previous)
{
    bool is_ascending = *previous == METADATA_NONE || in->id > metadata->topics[*previous].id;
    if (!is_ascending || in->id >= METADATA_TOPICS_PER_STREAM_MAX ||
        !metadata_name_is_valid(&in->name) ||
        metadata_topic_find(metadata, stream->id, in->name.data, (uint32_t)in->name.len) != NULL) {
        return -RUNNEL_EFORMAT;
    }
    uint32_t slot = metadata_slots_take(&metadata->topic_slots);
    if (slot == METADATA_NONE) {
        return -RUNNEL_EFULL;
    }
    struct metadata_topic *topic = &metadata->topics[slot];
    *topic = (struct metadata_topic){.is_used = true,
                                     .stream_id = stream->id,
                                     .id = in->id,
                                     .next = METADATA_NONE,
                                     .created_at_us = in->created_at_us,
                                     .group_first = METADATA_NONE,
                                     .group_last = METADATA_NONE,
                                     .group_id_next = in->group_id_next};
    metadata_name_set(&topic->name, &in->name);
    if (*previous == METADATA_NONE) {
        stream->topic_first = slot;
    } else {
        metadata->topics[*previous].next = slot;
    }
    *previous = slot;
    stream->topics_count++;
    int result = metadata_restore_settings(metadata, in, topic);
    result = result != 0 ? result : metadata_restore_partitions(metadata, topic, in);
    result = result != 0 ? result : metadata_restore_groups(metadata, topic, in);
    return result;
}

static int metadata_restore_stream(struct metadata *metadata,
                                   const Runnel__Metadata__SnapshotStream *in)
{
    if (in->id >= metadata->config.limits.streams_max) {
        return -RUNNEL_EFULL;
    }
    if (metadata->streams[in->id].is_used || !metadata_name_is_valid(&in->name) ||
        metadata_stream_find(metadata, in->name.data, (uint32_t)in->name.len) != NULL) {
        return -RUNNEL_EFORMAT;
    }
    struct metadata_stream *stream = &metadata->streams[in->id];
    *stream = (struct metadata_stream){.is_used = true,
                                       .id = in->id,
                                       .created_at_us = in->created_at_us,
                                       .topic_first = METADATA_NONE};
    metadata_name_set(&stream->name, &in->name);
    metadata->streams_count++;
    uint32_t previous = METADATA_NONE;
    for (size_t index = 0; index < in->n_topics; index++) {
        int result = metadata_restore_topic(metadata, stream, in->topics[index], &previous);
        if (result != 0) {
            return result;
        }
    }
    return 0;
}

static int metadata_restore_tokens(struct metadata *metadata, struct metadata_user *user,
                                   const Runnel__Metadata__SnapshotUser *in)
{
    for (size_t index = 0; index < in->n_tokens; index++) {
        const Runnel__Metadata__SnapshotToken *entry = in->tokens[index];
        if (!metadata_name_is_valid(&entry->name) || entry->token_hash.len == 0 ||
            entry->token_hash.len > METADATA_TOKEN_HASH_SIZE_MAX) {
            return -RUNNEL_EFORMAT;
        }
        if (index > 0 &&
            metadata_snapshot_token_compare(&in->tokens[index - 1], &in->tokens[index]) >= 0) {
            return -RUNNEL_EFORMAT; /* sorted, unique names */
        }
        uint32_t slot = metadata_slots_take(&metadata->token_slots);
        if (slot == METADATA_NONE ||
            user->tokens_count >= metadata->config.limits.tokens_per_user_max) {
            return -RUNNEL_EFULL;
        }
        struct metadata_token *token = &metadata->tokens[slot];
        *token = (struct metadata_token){.is_used = true,
                                         .user_id = user->id,
                                         .hash_size = (uint8_t)entry->token_hash.len,
                                         .expiry_at_us = entry->expiry_at_us};
        metadata_name_set(&token->name, &entry->name);
        memcpy(token->hash, entry->token_hash.data, entry->token_hash.len);
        user->tokens_count++;
    }
    return 0;
}

static int metadata_restore_user(struct metadata *metadata,
                                 const Runnel__Metadata__SnapshotUser *in)
{
    if (in->id >= metadata->config.limits.users_max) {
        return -RUNNEL_EFULL;
    }
    if (metadata->users[in->id].is_used || !metadata_name_is_valid(&in->username) ||
        metadata_user_find(metadata, in->username.data, (uint32_t)in->username.len) != NULL ||
        in->password_hash.len == 0 || in->password_hash.len >= METADATA_PASSWORD_HASH_SIZE_MAX ||
        (in->status != METADATA_USER_ACTIVE && in->status != METADATA_USER_INACTIVE)) {
        return -RUNNEL_EFORMAT;
    }
    struct metadata_user *user = &metadata->users[in->id];
    *user = (struct metadata_user){.is_used = true,
                                   .id = in->id,
                                   .created_at_us = in->created_at_us,
                                   .status = in->status,
                                   .password_hash_size = (uint8_t)in->password_hash.len,
                                   .permission_first = METADATA_NONE};
    metadata_name_set(&user->username, &in->username);
    memcpy(user->password_hash, in->password_hash.data, in->password_hash.len);
    metadata->users_count++;
    uint32_t status = metadata_permissions_set(metadata, user, in->permissions);
    if (status != METADATA_STATUS_OK) {
        return status == METADATA_STATUS_ERROR ? -RUNNEL_EFULL : -RUNNEL_EFORMAT;
    }
    return metadata_restore_tokens(metadata, user, in);
}

/* A reply held in the replies ring (untrusted): longer than the inline ones, written
 * before the head. It stays in the ring when this node's ring still holds it (the same
 * limits.replies_bytes as the encoder's: the same state), else it is not kept. */
static int metadata_restore_ring_reply(struct metadata *metadata,
                                       const Runnel__Metadata__SnapshotClientReply *entry,
                                       struct metadata_client_reply *out)
{
    const uint64_t head = metadata->replies.head;
    if (!entry->has_reply || entry->reply.data == NULL ||
        entry->reply.len <= METADATA_CLIENT_REPLY_SIZE_MAX ||
        entry->reply.len > METADATA_REPLY_SIZE_MAX || entry->position > head ||
        entry->reply.len > head - entry->position) {
        return -RUNNEL_EFORMAT;
    }
    out->state = METADATA_CLIENT_REPLY_RING;
    out->size = (uint32_t)entry->reply.len;
    out->position = entry->position;
    if (!metadata_replies_holds(metadata, out)) {
        out->state = METADATA_CLIENT_REPLY_NOT_KEPT;
        out->size = 0;
        out->position = 0;
        return 0;
    }
    metadata_replies_write(metadata, out->position, entry->reply.data, out->size);
    return 0;
}

/* Untrusted: at most METADATA_CLIENT_REPLIES, numbered above 0, ascending, none above the
 * watermark, each reply short enough to be kept inline or held in the replies ring. */
static int metadata_restore_client_replies(struct metadata *metadata, uint32_t slot,
                                           const Runnel__Metadata__SnapshotClient *in)
{
    if (in->n_replies > METADATA_CLIENT_REPLIES) {
        return -RUNNEL_EFORMAT;
    }
    struct metadata_client_reply *kept = metadata_client_replies(metadata, slot);
    uint64_t previous = 0;
    for (size_t index = 0; index < in->n_replies; index++) {
        const Runnel__Metadata__SnapshotClientReply *entry = in->replies[index];
        if (entry->request <= previous || entry->request > in->request_last ||
            (!entry->has_position && entry->has_reply &&
             (entry->reply.len > METADATA_CLIENT_REPLY_SIZE_MAX ||
              (entry->reply.len > 0 && entry->reply.data == NULL)))) {
            return -RUNNEL_EFORMAT;
        }
        previous = entry->request;
        struct metadata_client_reply *out = &kept[index];
        out->request = entry->request;
        out->checksum = entry->has_checksum ? entry->checksum : 0;
        if (entry->has_position) {
            int result = metadata_restore_ring_reply(metadata, entry, out);
            if (result != 0) {
                return result;
            }
            continue;
        }
        out->state = entry->has_reply ? METADATA_CLIENT_REPLY_KEPT : METADATA_CLIENT_REPLY_NOT_KEPT;
        out->size = entry->has_reply ? (uint32_t)entry->reply.len : 0;
        if (out->size > 0) {
            memcpy(out->bytes, entry->reply.data, out->size);
        }
    }
    return 0;
}

static int metadata_restore_clients(struct metadata *metadata, const Runnel__Metadata__Snapshot *in)
{
    metadata->replies.head = in->has_replies_head ? in->replies_head : 0;
    for (size_t index = 0; index < in->n_clients; index++) {
        const Runnel__Metadata__SnapshotClient *entry = in->clients[index];
        u128 client = ((u128)entry->client_high << 64) | entry->client_low;
        if (client == 0 || metadata_user_get(metadata, entry->user_id) == NULL ||
            (entry->has_node && entry->node >= VSR_REPLICAS_MAX) ||
            (index > 0 &&
             metadata_snapshot_client_compare(&in->clients[index - 1], &in->clients[index]) >= 0)) {
            return -RUNNEL_EFORMAT;
        }
        uint32_t slot = metadata_slots_take(&metadata->client_slots);
        if (slot == METADATA_NONE) {
            return -RUNNEL_EFULL;
        }
        metadata->clients[slot] =
            (struct metadata_client){.is_used = true,
                                     .client = client,
                                     .session = entry->session,
                                     .user_id = entry->user_id,
                                     .node = entry->has_node ? (uint8_t)(entry->node + 1) : 0,
                                     .request_last = entry->request_last};
        int result = metadata_restore_client_replies(metadata, slot, entry);
        if (result != 0) {
            return result;
        }
    }
    return 0;
}

int metadata_snapshot_decode(struct metadata *metadata, const uint8_t *bytes, size_t size)
{
    assert(metadata != NULL);
    assert(bytes != NULL || size == 0);
    metadata_reset(metadata);
    if (size > metadata_snapshot_size_max(metadata)) {
        return -RUNNEL_EFULL;
    }
    metadata_arena_reset(&metadata->snapshot_arena);
    Runnel__Metadata__Snapshot *in =
        runnel__metadata__snapshot__unpack(&metadata->snapshot_arena.allocator, size, bytes);
    if (in == NULL || in->version != METADATA_SNAPSHOT_VERSION) {
        return in == NULL ? -RUNNEL_EFORMAT : -RUNNEL_EVERSION;
    }
    int result = 0;
    for (size_t index = 0; index < in->n_streams && result == 0; index++) {
        result = metadata_restore_stream(metadata, in->streams[index]);
    }
    for (size_t index = 0; index < in->n_users && result == 0; index++) {
        result = metadata_restore_user(metadata, in->users[index]);
    }
    result = result != 0 ? result : metadata_restore_clients(metadata, in);
    if (result == 0 && in->is_bootstrapped &&
        metadata_user_get(metadata, METADATA_ROOT_USER_ID) == NULL) {
        result = -RUNNEL_EFORMAT;
    }
    if (result != 0) {
        metadata_reset(metadata);
        return result;
    }
    metadata->op = in->op;
    metadata->is_bootstrapped = in->is_bootstrapped;
    return 0;
}
