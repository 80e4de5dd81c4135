/*
 * The metadata state machine's frame: table memory (allocated once at init from the
 * limits), slot stacks, the partition index, the protobuf-c arena, identifier
 * resolution, the reply writer, lookups and the apply entry point that decodes an op
 * and dispatches it to metadata_streams.c, metadata_users.c or metadata_groups.c.
 * Runs on shard 0 (apply); the lookups are pure reads usable by any holder of a copy.
 */
#include "node/metadata.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "node/metadata_internal.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

enum { METADATA_ARENA_OP_FACTOR = 128, METADATA_ARENA_ALIGNMENT = 16 };

void metadata_limits_defaults(struct metadata_limits *limits)
{
    assert(limits != NULL);
    limits->streams_max = 1024;
    limits->topics_max = 4096;
    limits->partitions_max = 16384;
    limits->users_max = 256;
    limits->tokens_max = 1024;
    limits->tokens_per_user_max = 100;
    limits->permissions_max = 4096;
    limits->consumer_groups_max = 1024;
    limits->members_max = 4096;
    limits->assignments_max = 65536;
    limits->clients_max = 4096;
    limits->replies_bytes = METADATA_REPLIES_BYTES_DEFAULT;
    assert(limits->streams_max <= METADATA_STREAMS_ID_MAX);
}

void metadata_config_defaults(struct metadata_config *config)
{
    assert(config != NULL);
    memset(config, 0, sizeof(*config));
    metadata_limits_defaults(&config->limits);
    config->segment_size_bytes = 1ULL << 30;
    config->durability = METADATA_DURABILITY_FSYNC;
    assert(config->limits.users_max > 0);
}

/* ---- arena ---- */

static void *metadata_arena_alloc(void *context, size_t size)
{
    struct metadata_arena *arena = context;
    assert(arena != NULL);
    size_t start = (arena->used_bytes + METADATA_ARENA_ALIGNMENT - 1) &
                   ~(size_t)(METADATA_ARENA_ALIGNMENT - 1);
    if (start > arena->size_bytes || size > arena->size_bytes - start) {
        return NULL; /* protobuf-c fails the unpack cleanly */
    }
    arena->used_bytes = start + size;
    assert(arena->used_bytes <= arena->size_bytes);
    return arena->memory + start;
}

static void metadata_arena_free(void *context, void *pointer)
{
    (void)context;
    (void)pointer; /* the arena is reset as a whole */
}

void metadata_arena_reset(struct metadata_arena *arena)
{
    assert(arena != NULL);
    assert(arena->memory != NULL);
    arena->used_bytes = 0;
    arena->allocator.alloc = metadata_arena_alloc;
    arena->allocator.free = metadata_arena_free;
    arena->allocator.allocator_data = arena;
}

static int metadata_arena_init(struct metadata_arena *arena, size_t size_bytes)
{
    assert(arena != NULL);
    assert(size_bytes > 0);
    arena->memory = malloc(size_bytes);
    if (arena->memory == NULL) {
        return -ENOMEM;
    }
    arena->size_bytes = size_bytes;
    metadata_arena_reset(arena);
    return 0;
}

/* ---- slots ---- */

void metadata_slots_reset(struct metadata_slots *slots)
{
    assert(slots != NULL);
    assert(slots->free_stack != NULL);
    for (uint32_t index = 0; index < slots->capacity; index++) {
        slots->free_stack[index] = slots->capacity - 1 - index;
    }
    slots->free_count = slots->capacity;
}

uint32_t metadata_slots_take(struct metadata_slots *slots)
{
    assert(slots != NULL);
    assert(slots->free_count <= slots->capacity);
    if (slots->free_count == 0) {
        return METADATA_NONE;
    }
    slots->free_count--;
    return slots->free_stack[slots->free_count];
}

void metadata_slots_give(struct metadata_slots *slots, uint32_t slot)
{
    assert(slots != NULL);
    assert(slot < slots->capacity);
    assert(slots->free_count < slots->capacity);
    slots->free_stack[slots->free_count] = slot;
    slots->free_count++;
}

uint32_t metadata_slots_used(const struct metadata_slots *slots)
{
    assert(slots != NULL);
    assert(slots->free_count <= slots->capacity);
    return slots->capacity - slots->free_count;
}

/* ---- partition index (linear probing, backward-shift deletion) ---- */

uint64_t metadata_partition_key(uint32_t stream_id, uint32_t topic_id, uint32_t partition_id)
{
    assert(stream_id < METADATA_STREAMS_ID_MAX);
    assert(topic_id < METADATA_TOPICS_PER_STREAM_MAX);
    return ((uint64_t)stream_id << 32) | ((uint64_t)topic_id << 20) | partition_id;
}

static uint32_t metadata_index_home(const struct metadata_index *index, uint64_t key)
{
    return (uint32_t)(hash_xxh3_64(&key, sizeof(key)) & (index->capacity - 1));
}

void metadata_index_reset(struct metadata_index *index)
{
    assert(index != NULL);
    assert((index->capacity & (index->capacity - 1)) == 0);
    memset(index->keys, 0, sizeof(index->keys[0]) * index->capacity);
}

void metadata_index_put(struct metadata_index *index, uint64_t key, uint32_t value)
{
    assert(index != NULL);
    assert(key != UINT64_MAX);
    uint32_t position = metadata_index_home(index, key);
    for (uint32_t probe = 0; probe < index->capacity; probe++) {
        if (index->keys[position] == 0 || index->keys[position] == key + 1) {
            index->keys[position] = key + 1;
            index->values[position] = value;
            return;
        }
        position = (position + 1) & (index->capacity - 1);
    }
    unreachable_code(); /* capacity is twice the partition table */
}

uint32_t metadata_index_get(const struct metadata_index *index, uint64_t key)
{
    assert(index != NULL);
    assert(key != UINT64_MAX);
    uint32_t position = metadata_index_home(index, key);
    for (uint32_t probe = 0; probe < index->capacity; probe++) {
        if (index->keys[position] == 0) {
            return METADATA_NONE;
        }
        if (index->keys[position] == key + 1) {
            return index->values[position];
        }
        position = (position + 1) & (index->capacity - 1);
    }
    return METADATA_NONE;
}

void metadata_index_remove(struct metadata_index *index, uint64_t key)
{
    assert(index != NULL);
    uint32_t mask = index->capacity - 1;
    uint32_t hole = metadata_index_home(index, key);
    uint32_t probe = 0;
    while (index->keys[hole] != key + 1) {
        assert(index->keys[hole] != 0); /* the key is present */
        hole = (hole + 1) & mask;
        assert(++probe < index->capacity);
    }
    uint32_t next = (hole + 1) & mask;
    for (probe = 0; probe < index->capacity && index->keys[next] != 0; probe++) {
        uint32_t home = metadata_index_home(index, index->keys[next] - 1);
        /* Move next into the hole when its home is not in (hole, next]. */
        bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (!stays) {
            index->keys[hole] = index->keys[next];
            index->values[hole] = index->values[next];
            hole = next;
        }
        next = (next + 1) & mask;
    }
    index->keys[hole] = 0;
}

/* ---- init ---- */

static bool metadata_limits_are_valid(const struct metadata_limits *limits)
{
    assert(limits != NULL);
    const uint32_t big = 1u << 24;
    return limits->streams_max > 0 && limits->streams_max <= METADATA_STREAMS_ID_MAX &&
           limits->topics_max > 0 && limits->topics_max <= big && limits->partitions_max > 0 &&
           limits->partitions_max <= big && limits->users_max > 0 && limits->users_max <= big &&
           limits->tokens_max <= big && limits->tokens_per_user_max <= big &&
           limits->permissions_max <= big && limits->consumer_groups_max <= big &&
           limits->members_max <= big && limits->assignments_max <= big &&
           limits->clients_max <= big && limits->replies_bytes <= METADATA_REPLIES_BYTES_MAX;
}

static int metadata_slots_init(struct metadata_slots *slots, uint32_t capacity)
{
    assert(slots != NULL);
    slots->capacity = capacity;
    slots->free_count = 0;
    slots->free_stack = malloc(sizeof(uint32_t) * (capacity == 0 ? 1 : capacity));
    return slots->free_stack == NULL ? -ENOMEM : 0;
}

static size_t metadata_snapshot_arena_size(const struct metadata_limits *limits)
{
    assert(limits != NULL);
    const size_t pointer = sizeof(void *) + METADATA_ARENA_ALIGNMENT;
    size_t size = 64 * 1024;
    size += (sizeof(Runnel__Metadata__SnapshotStream) + pointer) * limits->streams_max;
    size += (sizeof(Runnel__Metadata__SnapshotTopic) + sizeof(Runnel__Metadata__TopicOptions) +
             2 * pointer) *
            limits->topics_max;
    size += (sizeof(Runnel__Metadata__SnapshotPartition) + pointer) * limits->partitions_max;
    size += (sizeof(Runnel__Metadata__SnapshotUser) + sizeof(Runnel__Metadata__Permissions) +
             2 * pointer) *
            limits->users_max;
    size += (sizeof(Runnel__Metadata__SnapshotToken) + pointer) * limits->tokens_max;
    size += (sizeof(Runnel__Metadata__StreamPermissions) + pointer) * limits->permissions_max;
    size += (sizeof(Runnel__Metadata__SnapshotGroup) + pointer) * limits->consumer_groups_max;
    size += (sizeof(Runnel__Metadata__SnapshotMember) + pointer) * limits->members_max;
    size += (sizeof(Runnel__Metadata__SnapshotAssignment) + pointer) * limits->assignments_max;
    size += (sizeof(Runnel__Metadata__SnapshotClient) + pointer) * limits->clients_max;
    size += (sizeof(Runnel__Metadata__SnapshotClientReply) + pointer) * limits->clients_max *
            METADATA_CLIENT_REPLIES;
    size += METADATA_REPLY_SIZE_MAX + METADATA_ARENA_ALIGNMENT; /* the one that wraps */
    return size;
}

static int metadata_tables_allocate(struct metadata *metadata)
{
    const struct metadata_limits *limits = &metadata->config.limits;
    metadata->streams = calloc(limits->streams_max, sizeof(metadata->streams[0]));
    metadata->topics = calloc(limits->topics_max, sizeof(metadata->topics[0]));
    metadata->partitions = calloc(limits->partitions_max, sizeof(metadata->partitions[0]));
    metadata->users = calloc(limits->users_max, sizeof(metadata->users[0]));
    metadata->tokens = calloc(limits->tokens_max + 1, sizeof(metadata->tokens[0]));
    metadata->permissions = calloc(limits->permissions_max + 1, sizeof(metadata->permissions[0]));
    metadata->groups = calloc(limits->consumer_groups_max + 1, sizeof(metadata->groups[0]));
    metadata->members = calloc(limits->members_max + 1, sizeof(metadata->members[0]));
    metadata->assignments = calloc(limits->assignments_max + 1, sizeof(metadata->assignments[0]));
    metadata->clients = calloc(limits->clients_max + 1, sizeof(metadata->clients[0]));
    metadata->client_replies = calloc((size_t)limits->clients_max * METADATA_CLIENT_REPLIES + 1,
                                      sizeof(metadata->client_replies[0]));
    const size_t partition_words = (limits->partitions_max + 63) / 64;
    metadata->scratch.partition_bits = calloc(partition_words, sizeof(uint64_t));
    metadata->scratch.in_flight_bits = calloc(partition_words, sizeof(uint64_t));
    metadata->scratch.member_bits = calloc((limits->members_max + 64) / 64, sizeof(uint64_t));
    metadata->scratch.excess_partitions = calloc(limits->partitions_max, sizeof(uint32_t));
    metadata->scratch.excess_members = calloc(limits->partitions_max, sizeof(uint32_t));
    metadata->scratch.idle_members = calloc(limits->members_max + 1, sizeof(uint32_t));
    if (metadata->scratch.partition_bits == NULL || metadata->scratch.in_flight_bits == NULL ||
        metadata->scratch.member_bits == NULL || metadata->scratch.excess_partitions == NULL ||
        metadata->scratch.excess_members == NULL || metadata->scratch.idle_members == NULL) {
        return -ENOMEM;
    }
    uint32_t capacity = 16;
    while (capacity < 2 * limits->partitions_max) {
        capacity *= 2;
    }
    metadata->partition_index.capacity = capacity;
    metadata->partition_index.keys = calloc(capacity, sizeof(uint64_t));
    metadata->partition_index.values = calloc(capacity, sizeof(uint32_t));
    if (metadata->streams == NULL || metadata->topics == NULL || metadata->partitions == NULL ||
        metadata->users == NULL || metadata->tokens == NULL || metadata->permissions == NULL ||
        metadata->groups == NULL || metadata->members == NULL || metadata->assignments == NULL ||
        metadata->clients == NULL || metadata->client_replies == NULL ||
        metadata->partition_index.keys == NULL || metadata->partition_index.values == NULL) {
        return -ENOMEM;
    }
    return 0;
}

static int metadata_init_with(struct metadata *metadata, const struct metadata_config *config,
                              bool is_copy)
{
    assert(metadata != NULL);
    assert(config != NULL);
    memset(metadata, 0, sizeof(*metadata));
    if (!metadata_limits_are_valid(&config->limits)) {
        return -RUNNEL_ECONFIG;
    }
    metadata->config = *config;
    const struct metadata_limits *limits = &config->limits;
    int result = metadata_tables_allocate(metadata);
    if (result == 0 && !is_copy && limits->replies_bytes > 0) {
        metadata->replies.bytes = calloc(limits->replies_bytes, 1);
        result = metadata->replies.bytes == NULL ? -ENOMEM : 0;
    }
    result = result != 0 ? result : metadata_slots_init(&metadata->topic_slots, limits->topics_max);
    result = result != 0 ? result
                         : metadata_slots_init(&metadata->partition_slots, limits->partitions_max);
    result = result != 0 ? result : metadata_slots_init(&metadata->token_slots, limits->tokens_max);
    result = result != 0
                 ? result
                 : metadata_slots_init(&metadata->permission_slots, limits->permissions_max);
    result = result != 0 ? result
                         : metadata_slots_init(&metadata->group_slots, limits->consumer_groups_max);
    result =
        result != 0 ? result : metadata_slots_init(&metadata->member_slots, limits->members_max);
    result = result != 0
                 ? result
                 : metadata_slots_init(&metadata->assignment_slots, limits->assignments_max);
    result =
        result != 0 ? result : metadata_slots_init(&metadata->client_slots, limits->clients_max);
    result = result != 0 ? result
                         : metadata_arena_init(&metadata->arena, (size_t)METADATA_ARENA_OP_FACTOR *
                                                                     METADATA_OP_BODY_SIZE_MAX);
    result = result != 0 ? result
                         : metadata_arena_init(&metadata->snapshot_arena,
                                               metadata_snapshot_arena_size(limits) +
                                                   metadata_snapshot_size_max(metadata));
    if (result != 0) {
        metadata_deinit(metadata);
        return result;
    }
    metadata_reset(metadata);
    return 0;
}

int metadata_init(struct metadata *metadata, const struct metadata_config *config)
{
    return metadata_init_with(metadata, config, false);
}

int metadata_init_copy(struct metadata *metadata, const struct metadata_config *config)
{
    return metadata_init_with(metadata, config, true);
}

void metadata_deinit(struct metadata *metadata)
{
    assert(metadata != NULL);
    void *blocks[] = {metadata->streams,
                      metadata->topics,
                      metadata->partitions,
                      metadata->users,
                      metadata->tokens,
                      metadata->permissions,
                      metadata->groups,
                      metadata->members,
                      metadata->assignments,
                      metadata->clients,
                      metadata->client_replies,
                      metadata->replies.bytes,
                      metadata->partition_index.keys,
                      metadata->partition_index.values,
                      metadata->topic_slots.free_stack,
                      metadata->partition_slots.free_stack,
                      metadata->token_slots.free_stack,
                      metadata->permission_slots.free_stack,
                      metadata->group_slots.free_stack,
                      metadata->member_slots.free_stack,
                      metadata->assignment_slots.free_stack,
                      metadata->client_slots.free_stack,
                      metadata->scratch.partition_bits,
                      metadata->scratch.in_flight_bits,
                      metadata->scratch.member_bits,
                      metadata->scratch.excess_partitions,
                      metadata->scratch.excess_members,
                      metadata->scratch.idle_members,
                      metadata->arena.memory,
                      metadata->snapshot_arena.memory};
    for (size_t index = 0; index < sizeof(blocks) / sizeof(blocks[0]); index++) {
        free(blocks[index]);
    }
    memset(metadata, 0, sizeof(*metadata));
    assert(metadata->streams == NULL);
}

void metadata_reset(struct metadata *metadata)
{
    assert(metadata != NULL);
    const struct metadata_limits *limits = &metadata->config.limits;
    assert(metadata->streams != NULL);
    memset(metadata->streams, 0, sizeof(metadata->streams[0]) * limits->streams_max);
    memset(metadata->topics, 0, sizeof(metadata->topics[0]) * limits->topics_max);
    memset(metadata->partitions, 0, sizeof(metadata->partitions[0]) * limits->partitions_max);
    memset(metadata->users, 0, sizeof(metadata->users[0]) * limits->users_max);
    memset(metadata->tokens, 0, sizeof(metadata->tokens[0]) * limits->tokens_max);
    memset(metadata->permissions, 0, sizeof(metadata->permissions[0]) * limits->permissions_max);
    memset(metadata->groups, 0, sizeof(metadata->groups[0]) * limits->consumer_groups_max);
    memset(metadata->members, 0, sizeof(metadata->members[0]) * limits->members_max);
    memset(metadata->assignments, 0, sizeof(metadata->assignments[0]) * limits->assignments_max);
    memset(metadata->clients, 0, sizeof(metadata->clients[0]) * limits->clients_max);
    memset(metadata->client_replies, 0,
           sizeof(metadata->client_replies[0]) * limits->clients_max * METADATA_CLIENT_REPLIES);
    metadata->replies.head = 0; /* the ring's bytes are read only where an entry points */
    metadata_index_reset(&metadata->partition_index);
    struct metadata_slots *all[] = {&metadata->topic_slots,      &metadata->partition_slots,
                                    &metadata->token_slots,      &metadata->permission_slots,
                                    &metadata->group_slots,      &metadata->member_slots,
                                    &metadata->assignment_slots, &metadata->client_slots};
    for (size_t index = 0; index < sizeof(all) / sizeof(all[0]); index++) {
        metadata_slots_reset(all[index]);
    }
    metadata->op = 0;
    metadata->is_bootstrapped = false;
    metadata->streams_count = 0;
    metadata->users_count = 0;
}

void metadata_copy(struct metadata *target, const struct metadata *source)
{
    assert(target != NULL && source != NULL && target != source);
    const struct metadata_limits *limits = &source->config.limits;
    assert(memcmp(&target->config, &source->config, sizeof(source->config)) == 0);
    memcpy(target->streams, source->streams, sizeof(source->streams[0]) * limits->streams_max);
    memcpy(target->topics, source->topics, sizeof(source->topics[0]) * limits->topics_max);
    memcpy(target->partitions, source->partitions,
           sizeof(source->partitions[0]) * limits->partitions_max);
    memcpy(target->users, source->users, sizeof(source->users[0]) * limits->users_max);
    memcpy(target->tokens, source->tokens, sizeof(source->tokens[0]) * limits->tokens_max);
    memcpy(target->permissions, source->permissions,
           sizeof(source->permissions[0]) * limits->permissions_max);
    memcpy(target->groups, source->groups, sizeof(source->groups[0]) * limits->consumer_groups_max);
    memcpy(target->members, source->members, sizeof(source->members[0]) * limits->members_max);
    memcpy(target->assignments, source->assignments,
           sizeof(source->assignments[0]) * limits->assignments_max);
    memcpy(target->clients, source->clients, sizeof(source->clients[0]) * limits->clients_max);
    memcpy(target->client_replies, source->client_replies,
           sizeof(source->client_replies[0]) * limits->clients_max * METADATA_CLIENT_REPLIES);
    target->replies.head = source->replies.head;
    if (target->replies.bytes != NULL) {
        assert(source->replies.bytes != NULL);
        memcpy(target->replies.bytes, source->replies.bytes, limits->replies_bytes);
    }
    assert(target->partition_index.capacity == source->partition_index.capacity);
    memcpy(target->partition_index.keys, source->partition_index.keys,
           sizeof(uint64_t) * source->partition_index.capacity);
    memcpy(target->partition_index.values, source->partition_index.values,
           sizeof(uint32_t) * source->partition_index.capacity);
    struct metadata_slots *to[] = {&target->topic_slots,      &target->partition_slots,
                                   &target->token_slots,      &target->permission_slots,
                                   &target->group_slots,      &target->member_slots,
                                   &target->assignment_slots, &target->client_slots};
    const struct metadata_slots *from[] = {&source->topic_slots,      &source->partition_slots,
                                           &source->token_slots,      &source->permission_slots,
                                           &source->group_slots,      &source->member_slots,
                                           &source->assignment_slots, &source->client_slots};
    for (size_t index = 0; index < sizeof(to) / sizeof(to[0]); index++) {
        assert(to[index]->capacity == from[index]->capacity);
        memcpy(to[index]->free_stack, from[index]->free_stack,
               sizeof(uint32_t) * from[index]->free_count);
        to[index]->free_count = from[index]->free_count;
    }
    target->op = source->op;
    target->is_bootstrapped = source->is_bootstrapped;
    target->streams_count = source->streams_count;
    target->users_count = source->users_count;
}

/* ---- names and identifiers ---- */

bool metadata_name_is_valid(const ProtobufCBinaryData *bytes)
{
    assert(bytes != NULL);
    return bytes->len >= 1 && bytes->len <= METADATA_NAME_SIZE_MAX && bytes->data != NULL;
}

void metadata_name_set(struct metadata_name *name, const ProtobufCBinaryData *bytes)
{
    assert(name != NULL);
    assert(bytes->len <= METADATA_NAME_SIZE_MAX);
    memset(name, 0, sizeof(*name));
    name->size = (uint8_t)bytes->len;
    if (bytes->len > 0) {
        memcpy(name->bytes, bytes->data, bytes->len);
    }
}

bool metadata_name_equals(const struct metadata_name *name, const uint8_t *bytes, size_t size)
{
    assert(name != NULL);
    assert(bytes != NULL || size == 0);
    return name->size == size && (size == 0 || memcmp(name->bytes, bytes, size) == 0);
}

static bool metadata_identifier_is_valid(const Runnel__Metadata__Identifier *identifier)
{
    return identifier != NULL && (identifier->has_id != identifier->has_name) &&
           (!identifier->has_name || metadata_name_is_valid(&identifier->name));
}

uint32_t metadata_resolve_stream(const struct metadata *metadata,
                                 const Runnel__Metadata__Identifier *identifier)
{
    assert(metadata != NULL);
    if (!metadata_identifier_is_valid(identifier)) {
        return METADATA_NONE;
    }
    const struct metadata_stream *stream =
        identifier->has_id
            ? metadata_stream_get(metadata, identifier->id)
            : metadata_stream_find(metadata, identifier->name.data, (uint32_t)identifier->name.len);
    assert(stream == NULL || stream->is_used);
    return stream == NULL ? METADATA_NONE : stream->id;
}

uint32_t metadata_topic_slot(const struct metadata *metadata, uint32_t stream_id, uint32_t topic_id)
{
    const struct metadata_stream *stream = metadata_stream_get(metadata, stream_id);
    if (stream == NULL) {
        return METADATA_NONE;
    }
    uint32_t slot = stream->topic_first;
    for (uint32_t step = 0; step < metadata->config.limits.topics_max && slot != METADATA_NONE;
         step++) {
        const struct metadata_topic *topic = &metadata->topics[slot];
        assert(topic->is_used && topic->stream_id == stream_id);
        if (topic->id == topic_id) {
            return slot;
        }
        if (topic->id > topic_id) {
            return METADATA_NONE; /* sorted by id */
        }
        slot = topic->next;
    }
    return METADATA_NONE;
}

uint32_t metadata_resolve_topic_slot(const struct metadata *metadata, uint32_t stream_id,
                                     const Runnel__Metadata__Identifier *identifier)
{
    assert(metadata != NULL);
    if (!metadata_identifier_is_valid(identifier)) {
        return METADATA_NONE;
    }
    if (identifier->has_id) {
        return metadata_topic_slot(metadata, stream_id, identifier->id);
    }
    const struct metadata_topic *topic = metadata_topic_find(
        metadata, stream_id, identifier->name.data, (uint32_t)identifier->name.len);
    return topic == NULL ? METADATA_NONE : (uint32_t)(topic - metadata->topics);
}

uint32_t metadata_resolve_group_slot(const struct metadata *metadata,
                                     const struct metadata_topic *topic,
                                     const Runnel__Metadata__Identifier *identifier)
{
    assert(metadata != NULL);
    assert(topic != NULL && topic->is_used);
    if (!metadata_identifier_is_valid(identifier)) {
        return METADATA_NONE;
    }
    uint32_t slot = topic->group_first;
    for (uint32_t step = 0; step < topic->groups_count && slot != METADATA_NONE; step++) {
        const struct metadata_group *group = &metadata->groups[slot];
        assert(group->is_used);
        if (identifier->has_id
                ? group->id == identifier->id
                : metadata_name_equals(&group->name, identifier->name.data, identifier->name.len)) {
            return slot;
        }
        slot = group->next;
    }
    return METADATA_NONE;
}

uint32_t metadata_resolve_user(const struct metadata *metadata,
                               const Runnel__Metadata__Identifier *identifier)
{
    assert(metadata != NULL);
    if (!metadata_identifier_is_valid(identifier)) {
        return METADATA_NONE;
    }
    const struct metadata_user *user =
        identifier->has_id
            ? metadata_user_get(metadata, identifier->id)
            : metadata_user_find(metadata, identifier->name.data, (uint32_t)identifier->name.len);
    return user == NULL ? METADATA_NONE : user->id;
}

/* ---- lookups ---- */

const struct metadata_stream *metadata_stream_get(const struct metadata *metadata,
                                                  uint32_t stream_id)
{
    assert(metadata != NULL);
    if (stream_id >= metadata->config.limits.streams_max || !metadata->streams[stream_id].is_used) {
        return NULL;
    }
    assert(metadata->streams[stream_id].id == stream_id);
    return &metadata->streams[stream_id];
}

const struct metadata_stream *metadata_stream_find(const struct metadata *metadata,
                                                   const uint8_t *name, uint32_t name_size)
{
    assert(metadata != NULL);
    assert(name != NULL || name_size == 0);
    for (uint32_t id = 0; id < metadata->config.limits.streams_max; id++) {
        const struct metadata_stream *stream = &metadata->streams[id];
        if (stream->is_used && metadata_name_equals(&stream->name, name, name_size)) {
            return stream;
        }
    }
    return NULL;
}

const struct metadata_topic *metadata_topic_get(const struct metadata *metadata, uint32_t stream_id,
                                                uint32_t topic_id)
{
    assert(metadata != NULL);
    uint32_t slot = metadata_topic_slot(metadata, stream_id, topic_id);
    assert(slot == METADATA_NONE || slot < metadata->config.limits.topics_max);
    return slot == METADATA_NONE ? NULL : &metadata->topics[slot];
}

const struct metadata_topic *metadata_topic_find(const struct metadata *metadata,
                                                 uint32_t stream_id, const uint8_t *name,
                                                 uint32_t name_size)
{
    assert(metadata != NULL);
    const struct metadata_stream *stream = metadata_stream_get(metadata, stream_id);
    if (stream == NULL) {
        return NULL;
    }
    uint32_t slot = stream->topic_first;
    for (uint32_t step = 0; step < stream->topics_count && slot != METADATA_NONE; step++) {
        const struct metadata_topic *topic = &metadata->topics[slot];
        assert(topic->is_used);
        if (metadata_name_equals(&topic->name, name, name_size)) {
            return topic;
        }
        slot = topic->next;
    }
    return NULL;
}

const struct metadata_partition *metadata_partition_get(const struct metadata *metadata,
                                                        uint32_t stream_id, uint32_t topic_id,
                                                        uint32_t partition_id)
{
    assert(metadata != NULL);
    if (stream_id >= METADATA_STREAMS_ID_MAX || topic_id >= METADATA_TOPICS_PER_STREAM_MAX ||
        partition_id >= METADATA_PARTITIONS_ID_MAX) {
        return NULL;
    }
    uint32_t slot = metadata_index_get(&metadata->partition_index,
                                       metadata_partition_key(stream_id, topic_id, partition_id));
    if (slot == METADATA_NONE) {
        return NULL;
    }
    const struct metadata_partition *partition = &metadata->partitions[slot];
    assert(partition->is_used && partition->id == partition_id);
    return partition;
}

const struct metadata_user *metadata_user_get(const struct metadata *metadata, uint32_t user_id)
{
    assert(metadata != NULL);
    if (user_id >= metadata->config.limits.users_max || !metadata->users[user_id].is_used) {
        return NULL;
    }
    assert(metadata->users[user_id].id == user_id);
    return &metadata->users[user_id];
}

const struct metadata_user *metadata_user_find(const struct metadata *metadata, const uint8_t *name,
                                               uint32_t name_size)
{
    assert(metadata != NULL);
    assert(name != NULL || name_size == 0);
    for (uint32_t id = 0; id < metadata->config.limits.users_max; id++) {
        const struct metadata_user *user = &metadata->users[id];
        if (user->is_used && metadata_name_equals(&user->username, name, name_size)) {
            return user;
        }
    }
    return NULL;
}

const struct metadata_group *metadata_group_get(const struct metadata *metadata, uint32_t stream_id,
                                                uint32_t topic_id, uint32_t group_id)
{
    assert(metadata != NULL);
    const struct metadata_topic *topic = metadata_topic_get(metadata, stream_id, topic_id);
    if (topic == NULL) {
        return NULL;
    }
    Runnel__Metadata__Identifier identifier = RUNNEL__METADATA__IDENTIFIER__INIT;
    identifier.has_id = true;
    identifier.id = group_id;
    uint32_t slot = metadata_resolve_group_slot(metadata, topic, &identifier);
    return slot == METADATA_NONE ? NULL : &metadata->groups[slot];
}

const struct metadata_client *metadata_client_get(const struct metadata *metadata, u128 client)
{
    assert(metadata != NULL);
    for (uint32_t slot = 0; slot < metadata->config.limits.clients_max; slot++) {
        const struct metadata_client *entry = &metadata->clients[slot];
        if (entry->is_used && entry->client == client) {
            return entry;
        }
    }
    return NULL;
}

const struct metadata_user *metadata_token_user(const struct metadata *metadata,
                                                const uint8_t *hash, uint32_t hash_size,
                                                uint64_t now_us)
{
    assert(metadata != NULL);
    assert(hash != NULL || hash_size == 0);
    for (uint32_t slot = 0; slot < metadata->config.limits.tokens_max; slot++) {
        const struct metadata_token *token = &metadata->tokens[slot];
        if (!token->is_used || token->hash_size != hash_size || hash_size == 0 ||
            memcmp(token->hash, hash, hash_size) != 0) {
            continue;
        }
        if (token->expiry_at_us != 0 && token->expiry_at_us <= now_us) {
            return NULL;
        }
        return metadata_user_get(metadata, token->user_id);
    }
    return NULL;
}

/* ---- reply writer ---- */

void metadata_writer_bytes(struct metadata_writer *writer, const void *bytes, uint32_t size)
{
    assert(writer != NULL);
    assert(bytes != NULL || size == 0);
    if (writer->is_overflow || size > writer->capacity - writer->size) {
        writer->is_overflow = true;
        return;
    }
    if (size > 0) {
        memcpy(writer->buffer + writer->size, bytes, size);
    }
    writer->size += size;
}

void metadata_writer_u8(struct metadata_writer *writer, uint8_t value)
{
    metadata_writer_bytes(writer, &value, 1);
}

void metadata_writer_u32(struct metadata_writer *writer, uint32_t value)
{
    uint8_t bytes[4];
    for (uint32_t index = 0; index < 4; index++) {
        bytes[index] = (uint8_t)(value >> (8 * index));
    }
    metadata_writer_bytes(writer, bytes, sizeof(bytes));
}

void metadata_writer_u64(struct metadata_writer *writer, uint64_t value)
{
    uint8_t bytes[8];
    for (uint32_t index = 0; index < 8; index++) {
        bytes[index] = (uint8_t)(value >> (8 * index));
    }
    metadata_writer_bytes(writer, bytes, sizeof(bytes));
}

void metadata_writer_name(struct metadata_writer *writer, const struct metadata_name *name)
{
    assert(name != NULL);
    metadata_writer_u8(writer, name->size);
    metadata_writer_bytes(writer, name->bytes, name->size);
}

/* ---- apply ---- */

static uint32_t metadata_apply_operation(struct metadata_apply_state *state,
                                         const Runnel__Metadata__MetadataOperation *operation)
{
    assert(state != NULL);
    assert(operation != NULL);
    switch (operation->operation_case) {
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_STREAM:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_STREAM:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_STREAM:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOPIC:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_TOPIC:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOPIC:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_PURGE_TOPIC:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_PARTITIONS:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_PARTITIONS:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_SEGMENTS:
        return metadata_apply_stream_op(state, operation);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_CONSUMER_GROUP:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_CONSUMER_GROUP:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_JOIN_CONSUMER_GROUP:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LEAVE_CONSUMER_GROUP:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_COMPLETE_REVOCATION:
        return metadata_apply_group_op(state, operation);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_BOOTSTRAP:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_USER:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_USER:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_USER:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CHANGE_PASSWORD:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_PERMISSIONS:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOKEN:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOKEN:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_REGISTER_CLIENT:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LOGOUT_CLIENT:
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_RELEASE_NODE_MEMBERS:
        return metadata_apply_user_op(state, operation);
    default:
        return METADATA_STATUS_INVALID_COMMAND; /* not set, or from a newer release */
    }
}

/* ---- at most once per (client, request) ---- */

struct metadata_client_reply *metadata_client_replies(const struct metadata *metadata,
                                                      uint32_t client_slot)
{
    assert(metadata != NULL);
    assert(client_slot < metadata->config.limits.clients_max);
    return &metadata->client_replies[(size_t)client_slot * METADATA_CLIENT_REPLIES];
}

void metadata_client_replies_clear(struct metadata *metadata, uint32_t client_slot)
{
    memset(metadata_client_replies(metadata, client_slot), 0,
           sizeof(struct metadata_client_reply) * METADATA_CLIENT_REPLIES);
}

bool metadata_replies_holds(const struct metadata *metadata,
                            const struct metadata_client_reply *entry)
{
    assert(entry->state == METADATA_CLIENT_REPLY_RING);
    assert(entry->position + entry->size <= metadata->replies.head);
    return metadata->replies.head - entry->position <= metadata->config.limits.replies_bytes;
}

/* Where the ring's bytes of position start, and how many of size fit before it wraps. */
static uint32_t metadata_replies_split(const struct metadata *metadata, uint64_t position,
                                       uint32_t size, uint32_t *first_out)
{
    const uint32_t capacity = metadata->config.limits.replies_bytes;
    assert(metadata->replies.bytes != NULL && size <= capacity);
    uint32_t start = (uint32_t)(position % capacity);
    *first_out = size < capacity - start ? size : capacity - start;
    return start;
}

void metadata_replies_read(const struct metadata *metadata,
                           const struct metadata_client_reply *entry, uint8_t *out)
{
    assert(metadata_replies_holds(metadata, entry));
    uint32_t first = 0;
    uint32_t start = metadata_replies_split(metadata, entry->position, entry->size, &first);
    memcpy(out, metadata->replies.bytes + start, first);
    memcpy(out + first, metadata->replies.bytes, entry->size - first);
}

void metadata_replies_write(struct metadata *metadata, uint64_t position, const uint8_t *bytes,
                            uint32_t size)
{
    if (metadata->replies.bytes == NULL) {
        return; /* a published copy keeps only the bookkeeping */
    }
    uint32_t first = 0;
    uint32_t start = metadata_replies_split(metadata, position, size, &first);
    memcpy(metadata->replies.bytes + start, bytes, first);
    memcpy(metadata->replies.bytes, bytes + first, size - first);
}

/* The registered client an op is numbered for, or NULL: not numbered (server ops,
 * Register, old records) or not registered (then it runs as before: no watermark). */
static struct metadata_client *
metadata_numbered_client(struct metadata *metadata, const struct metadata_apply_context *context)
{
    if (context->client == 0 || context->request == 0) {
        return NULL;
    }
    return (struct metadata_client *)metadata_client_get(metadata, context->client);
}

/* A committed rejection: the reply frame (1, 0, status). Returns its size. */
static uint32_t metadata_reply_rejection(uint8_t *reply, uint32_t reply_capacity, uint32_t status)
{
    struct metadata_writer writer = {.buffer = reply, .capacity = reply_capacity};
    metadata_writer_u32(&writer, 1);
    metadata_writer_u32(&writer, 0);
    metadata_writer_u32(&writer, status);
    assert(!writer.is_overflow);
    return writer.size;
}

/* A request at or below the watermark: its kept reply when the checksums agree (0 is
 * unstamped and agrees with any), else a committed rejection 59. */
static uint32_t metadata_replay(const struct metadata *metadata,
                                const struct metadata_client *client,
                                const struct metadata_apply_context *context, uint8_t *reply)
{
    assert(context->request <= client->request_last);
    const struct metadata_client_reply *kept =
        metadata_client_replies(metadata, (uint32_t)(client - metadata->clients));
    for (uint32_t index = 0; index < METADATA_CLIENT_REPLIES; index++) {
        const struct metadata_client_reply *entry = &kept[index];
        if (entry->request != context->request || (entry->state != METADATA_CLIENT_REPLY_KEPT &&
                                                   entry->state != METADATA_CLIENT_REPLY_RING)) {
            continue;
        }
        if (entry->checksum != 0 && context->request_checksum != 0 &&
            entry->checksum != context->request_checksum) {
            break; /* the same number with another body: not this request's reply */
        }
        if (entry->state == METADATA_CLIENT_REPLY_KEPT) {
            assert(entry->size <= METADATA_CLIENT_REPLY_SIZE_MAX);
            memcpy(reply, entry->bytes, entry->size);
            return entry->size;
        }
        /* A published copy has no ring: its replies are never sent (59 there is moot). */
        if (metadata_replies_holds(metadata, entry) && metadata->replies.bytes != NULL) {
            assert(entry->size <= METADATA_REPLY_SIZE_MAX);
            metadata_replies_read(metadata, entry, reply);
            return entry->size;
        }
        break; /* overwritten by later long replies */
    }
    return metadata_reply_rejection(reply, METADATA_REPLY_SIZE_MAX,
                                    METADATA_STATUS_REQUEST_ALREADY_APPLIED);
}

/* Raises the client's watermark to the request and keeps its reply in place of the oldest
 * (empty first; the lowest request number), so which slot holds it never matters. */
static void metadata_keep_reply(struct metadata *metadata, struct metadata_client *client,
                                const struct metadata_apply_context *context, bool is_replayable,
                                const uint8_t *reply, uint32_t reply_size)
{
    assert(context->request > client->request_last);
    client->request_last = context->request;
    struct metadata_client_reply *kept =
        metadata_client_replies(metadata, (uint32_t)(client - metadata->clients));
    struct metadata_client_reply *oldest = &kept[0];
    for (uint32_t index = 1; index < METADATA_CLIENT_REPLIES; index++) {
        if (kept[index].request < oldest->request) {
            oldest = &kept[index];
        }
    }
    memset(oldest, 0, sizeof(*oldest));
    oldest->request = context->request;
    oldest->checksum = context->request_checksum;
    const uint32_t ring_capacity = metadata->config.limits.replies_bytes;
    if (!is_replayable ||
        (reply_size > METADATA_CLIENT_REPLY_SIZE_MAX && reply_size > ring_capacity)) {
        oldest->state = METADATA_CLIENT_REPLY_NOT_KEPT;
        return;
    }
    if (reply_size > METADATA_CLIENT_REPLY_SIZE_MAX) {
        oldest->state = METADATA_CLIENT_REPLY_RING;
        oldest->size = reply_size;
        oldest->position = metadata->replies.head;
        metadata->replies.head += reply_size;
        metadata_replies_write(metadata, oldest->position, reply, reply_size);
        return;
    }
    oldest->state = METADATA_CLIENT_REPLY_KEPT;
    oldest->size = reply_size;
    memcpy(oldest->bytes, reply, reply_size);
}

int metadata_apply(struct metadata *metadata, const struct metadata_apply_context *context,
                   const uint8_t *body, uint32_t body_size, uint8_t *reply, uint32_t reply_capacity,
                   uint32_t *reply_size_out)
{
    assert(metadata != NULL && context != NULL);
    assert(reply != NULL && reply_size_out != NULL);
    assert(reply_capacity >= METADATA_REPLY_SIZE_MAX);
    assert(context->op > metadata->op);
    assert(body != NULL || body_size == 0);
    metadata->op = context->op;
    const struct metadata_client *numbered = metadata_numbered_client(metadata, context);
    if (numbered != NULL && context->session != 0 && context->session != numbered->session) {
        *reply_size_out =
            metadata_reply_rejection(reply, reply_capacity, METADATA_STATUS_UNAUTHENTICATED);
        return 0; /* a zombie of an older session: it must not move the new one's watermark */
    }
    if (numbered != NULL && context->request <= numbered->request_last) {
        *reply_size_out = metadata_replay(metadata, numbered, context, reply);
        return 0; /* executed once already: nothing changes */
    }
    bool is_replayable = true;
    struct metadata_writer payload = {
        .buffer = reply + 4, .capacity = METADATA_REPLY_SIZE_MAX - 4, .size = 0};
    struct metadata_apply_state state = {
        .metadata = metadata, .context = context, .payload = &payload};
    uint32_t status = METADATA_STATUS_INVALID_COMMAND;
    if (body_size <= METADATA_OP_BODY_SIZE_MAX) {
        metadata_arena_reset(&metadata->arena);
        Runnel__Metadata__MetadataOperation *operation =
            runnel__metadata__metadata_operation__unpack(&metadata->arena.allocator, body_size,
                                                         body);
        if (operation != NULL) {
            status = metadata_apply_operation(&state, operation);
            /* The raw token went to the client only with the first reply. */
            is_replayable = operation->operation_case !=
                            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOKEN;
        }
    }
    assert(!payload.is_overflow); /* payloads are bounded by METADATA_REPLY_SIZE_MAX */
    if (status == METADATA_STATUS_OK) {
        struct metadata_writer writer = {.buffer = reply, .capacity = reply_capacity};
        metadata_writer_u32(&writer, 0);
        writer.size += payload.size;
        assert(!writer.is_overflow);
        *reply_size_out = writer.size;
    } else {
        *reply_size_out = metadata_reply_rejection(reply, reply_capacity, status);
    }
    /* Looked up again: the op may have released the client (Logout, DeleteUser) or
     * registered it afresh (watermark 0). */
    struct metadata_client *client = metadata_numbered_client(metadata, context);
    if (client != NULL && context->request > client->request_last) {
        metadata_keep_reply(metadata, client, context, is_replayable, reply, *reply_size_out);
    }
    return 0;
}

int64_t metadata_reply_status(const uint8_t *reply, uint32_t reply_size)
{
    assert(reply != NULL || reply_size == 0);
    if (reply_size < 4) {
        return -1;
    }
    uint32_t count = (uint32_t)reply[0] | (uint32_t)reply[1] << 8 | (uint32_t)reply[2] << 16 |
                     (uint32_t)reply[3] << 24;
    if (count == 0) {
        return 0;
    }
    if (reply_size < 12) {
        return -1;
    }
    return (int64_t)((uint32_t)reply[8] | (uint32_t)reply[9] << 8 | (uint32_t)reply[10] << 16 |
                     (uint32_t)reply[11] << 24);
}
