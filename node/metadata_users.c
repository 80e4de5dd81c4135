/*
 * Users, permissions, personal access tokens and client sessions of the metadata state
 * machine: the root user (Bootstrap, the first op after formation), create / update /
 * delete user, change password (hash resolved by the primary), update permissions,
 * create / delete token (hash resolved by the primary, expiry from the op time),
 * register and logout; the permission rules of Iggy's permissioner as one pure
 * function; Iggy's UserDetails encoder. Runs on shard 0 inside metadata_apply, except
 * metadata_is_permitted, a pure read any holder of the state may call.
 */
#include "lib/assert.h"
#include "node/metadata.h"
#include "node/metadata_internal.h"

#include <string.h>

enum {
    METADATA_PERMISSIONS_SIZE_MAX = 32 * 1024, /* Iggy-encoded; keeps replies bounded */
    METADATA_SERVER_PROTOCOL_VERSION = 11264,  /* 0.11.0, iggy-protocol.md §2.2 */
};

static const char metadata_server_version[] = "0.9.0-edge.5";

/* ---- permission rules (Iggy's permissioner) ---- */

/* The user's stream entry bits and topic entry bits (0 when absent). */
static void metadata_grants_find(const struct metadata *metadata, const struct metadata_user *user,
                                 uint32_t stream_id, uint32_t topic_id, uint32_t *stream_bits,
                                 uint32_t *topic_bits, bool *has_stream)
{
    *stream_bits = 0;
    *topic_bits = 0;
    *has_stream = false;
    uint32_t slot = user->permission_first;
    for (uint32_t step = 0; step < metadata->config.limits.permissions_max && slot != METADATA_NONE;
         step++) {
        const struct metadata_permission *entry = &metadata->permissions[slot];
        assert(entry->is_used && entry->user_id == user->id);
        if (entry->stream_id == stream_id) {
            if (entry->topic_id == METADATA_NONE) {
                *stream_bits = entry->bits;
                *has_stream = true;
            } else if (entry->topic_id == topic_id) {
                *topic_bits = entry->bits;
            }
        } else if (entry->stream_id > stream_id) {
            return; /* sorted */
        }
        slot = entry->next;
    }
}

struct metadata_rule {
    uint32_t global;
    uint32_t stream;
    uint32_t topic;
};

static struct metadata_rule metadata_rule_of(enum metadata_action action)
{
    const uint32_t ms = METADATA_GLOBAL_MANAGE_STREAMS, rs = METADATA_GLOBAL_READ_STREAMS;
    const uint32_t mt = METADATA_GLOBAL_MANAGE_TOPICS, rt = METADATA_GLOBAL_READ_TOPICS;
    const uint32_t s_ms = METADATA_STREAM_MANAGE_STREAM, s_rs = METADATA_STREAM_READ_STREAM;
    const uint32_t s_mt = METADATA_STREAM_MANAGE_TOPICS, s_rt = METADATA_STREAM_READ_TOPICS;
    const uint32_t t_m = METADATA_TOPIC_MANAGE_TOPIC, t_r = METADATA_TOPIC_READ_TOPIC;
    switch (action) {
    case METADATA_ACTION_SERVERS_READ:
        return (struct metadata_rule){METADATA_GLOBAL_MANAGE_SERVERS | METADATA_GLOBAL_READ_SERVERS,
                                      0, 0};
    case METADATA_ACTION_USERS_READ:
        return (struct metadata_rule){METADATA_GLOBAL_MANAGE_USERS | METADATA_GLOBAL_READ_USERS, 0,
                                      0};
    case METADATA_ACTION_USERS_MANAGE:
        return (struct metadata_rule){METADATA_GLOBAL_MANAGE_USERS, 0, 0};
    case METADATA_ACTION_STREAMS_READ:
        return (struct metadata_rule){ms | rs, 0, 0};
    case METADATA_ACTION_STREAM_READ:
        return (struct metadata_rule){ms | rs, s_ms | s_rs, 0};
    case METADATA_ACTION_STREAM_CREATE:
        return (struct metadata_rule){ms, 0, 0};
    case METADATA_ACTION_STREAM_MANAGE:
        return (struct metadata_rule){ms, s_ms, 0};
    case METADATA_ACTION_TOPICS_READ:
        return (struct metadata_rule){ms | rs | mt | rt, s_ms | s_rs | s_mt | s_rt, 0};
    case METADATA_ACTION_TOPIC_READ:
        return (struct metadata_rule){ms | rs | mt | rt, s_ms | s_rs | s_mt | s_rt, t_m | t_r};
    case METADATA_ACTION_TOPIC_CREATE:
        return (struct metadata_rule){ms | mt, s_ms | s_mt, 0};
    case METADATA_ACTION_TOPIC_MANAGE:
        return (struct metadata_rule){ms | mt, s_ms | s_mt, t_m};
    case METADATA_ACTION_POLL:
        return (struct metadata_rule){METADATA_GLOBAL_POLL_MESSAGES | ms | rs | mt | rt,
                                      METADATA_STREAM_POLL_MESSAGES | s_ms | s_rs | s_mt | s_rt,
                                      METADATA_TOPIC_POLL_MESSAGES | t_m | t_r};
    case METADATA_ACTION_SEND:
        return (struct metadata_rule){METADATA_GLOBAL_SEND_MESSAGES | ms | mt,
                                      METADATA_STREAM_SEND_MESSAGES | s_ms | s_mt,
                                      METADATA_TOPIC_SEND_MESSAGES | t_m};
    default:
        unreachable_code();
    }
    return (struct metadata_rule){0, 0, 0};
}

bool metadata_is_permitted(const struct metadata *metadata, uint32_t user_id,
                           enum metadata_action action, uint32_t stream_id, uint32_t topic_id)
{
    assert(metadata != NULL);
    assert(action < METADATA_ACTION_COUNT);
    if (user_id == METADATA_ROOT_USER_ID) {
        return true;
    }
    const struct metadata_user *user = metadata_user_get(metadata, user_id);
    if (user == NULL || !user->has_permissions) {
        return false;
    }
    struct metadata_rule rule = metadata_rule_of(action);
    if ((user->global_bits & rule.global) != 0) {
        return true;
    }
    if (rule.stream == 0 || stream_id == METADATA_NONE) {
        return false;
    }
    uint32_t stream_bits = 0;
    uint32_t topic_bits = 0;
    bool has_stream = false;
    metadata_grants_find(metadata, user, stream_id, topic_id, &stream_bits, &topic_bits,
                         &has_stream);
    if (!has_stream) {
        return false;
    }
    return (stream_bits & rule.stream) != 0 ||
           (rule.topic != 0 && topic_id != METADATA_NONE && (topic_bits & rule.topic) != 0);
}

bool metadata_user_can(const struct metadata *metadata, uint32_t user_id,
                       enum metadata_action action, uint32_t stream_id, uint32_t topic_id)
{
    return metadata_is_permitted(metadata, user_id, action, stream_id, topic_id);
}

/* ---- permissions storage ---- */

void metadata_permissions_clear(struct metadata *metadata, struct metadata_user *user)
{
    assert(metadata != NULL);
    assert(user != NULL && user->is_used);
    uint32_t slot = user->permission_first;
    for (uint32_t step = 0; step < metadata->config.limits.permissions_max && slot != METADATA_NONE;
         step++) {
        uint32_t next = metadata->permissions[slot].next;
        memset(&metadata->permissions[slot], 0, sizeof(metadata->permissions[slot]));
        metadata_slots_give(&metadata->permission_slots, slot);
        slot = next;
    }
    user->permission_first = METADATA_NONE;
    user->has_permissions = false;
    user->global_bits = 0;
}

static uint32_t metadata_permission_count(const struct metadata *metadata,
                                          const struct metadata_user *user)
{
    uint32_t count = 0;
    uint32_t slot = user->permission_first;
    for (uint32_t step = 0; step < metadata->config.limits.permissions_max && slot != METADATA_NONE;
         step++) {
        count++;
        slot = metadata->permissions[slot].next;
    }
    return count;
}

/* Entries needed, or METADATA_NONE for duplicates or a size over the bound. */
static uint32_t metadata_permissions_needed(const Runnel__Metadata__Permissions *permissions)
{
    uint64_t entries = 0;
    uint64_t size_bytes = 11;
    for (size_t index = 0; index < permissions->n_streams; index++) {
        const Runnel__Metadata__StreamPermissions *stream = permissions->streams[index];
        for (size_t other = 0; other < index; other++) {
            if (permissions->streams[other]->stream_id == stream->stream_id) {
                return METADATA_NONE;
            }
        }
        for (size_t topic = 0; topic < stream->n_topics; topic++) {
            for (size_t other = 0; other < topic; other++) {
                if (stream->topics[other]->topic_id == stream->topics[topic]->topic_id) {
                    return METADATA_NONE;
                }
            }
        }
        entries += 1 + stream->n_topics;
        size_bytes += 12 + 9 * (uint64_t)stream->n_topics;
    }
    return size_bytes > METADATA_PERMISSIONS_SIZE_MAX ? METADATA_NONE : (uint32_t)entries;
}

/* Links a new entry into the user's list, sorted by (stream_id, topic_id + 1). */
static void metadata_permission_insert(struct metadata *metadata, struct metadata_user *user,
                                       uint32_t stream_id, uint32_t topic_id, uint32_t bits)
{
    uint32_t slot = metadata_slots_take(&metadata->permission_slots);
    assert(slot != METADATA_NONE);
    struct metadata_permission *entry = &metadata->permissions[slot];
    *entry = (struct metadata_permission){.is_used = true,
                                          .user_id = user->id,
                                          .stream_id = stream_id,
                                          .topic_id = topic_id,
                                          .bits = bits};
    uint64_t key = ((uint64_t)stream_id << 32) | (uint32_t)(topic_id + 1);
    uint32_t previous = METADATA_NONE;
    uint32_t cursor = user->permission_first;
    for (uint32_t step = 0;
         step < metadata->config.limits.permissions_max && cursor != METADATA_NONE; step++) {
        const struct metadata_permission *other = &metadata->permissions[cursor];
        if ((((uint64_t)other->stream_id << 32) | (uint32_t)(other->topic_id + 1)) > key) {
            break;
        }
        previous = cursor;
        cursor = other->next;
    }
    entry->next = cursor;
    if (previous == METADATA_NONE) {
        user->permission_first = slot;
    } else {
        metadata->permissions[previous].next = slot;
    }
}

static uint32_t metadata_global_bits(const Runnel__Metadata__Permissions *permissions)
{
    const protobuf_c_boolean flags[] = {permissions->manage_servers, permissions->read_servers,
                                        permissions->manage_users,   permissions->read_users,
                                        permissions->manage_streams, permissions->read_streams,
                                        permissions->manage_topics,  permissions->read_topics,
                                        permissions->poll_messages,  permissions->send_messages};
    uint32_t bits = 0;
    for (uint32_t index = 0; index < sizeof(flags) / sizeof(flags[0]); index++) {
        bits |= flags[index] ? 1u << index : 0;
    }
    return bits;
}

uint32_t metadata_permissions_set(struct metadata *metadata, struct metadata_user *user,
                                  const Runnel__Metadata__Permissions *permissions)
{
    assert(metadata != NULL);
    assert(user != NULL && user->is_used);
    uint32_t needed = permissions == NULL ? 0 : metadata_permissions_needed(permissions);
    if (needed == METADATA_NONE) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    if (needed >
        metadata->permission_slots.free_count + metadata_permission_count(metadata, user)) {
        return METADATA_STATUS_ERROR; /* permissions_max */
    }
    metadata_permissions_clear(metadata, user);
    if (permissions == NULL) {
        return METADATA_STATUS_OK;
    }
    user->has_permissions = true;
    user->global_bits = metadata_global_bits(permissions);
    for (size_t index = 0; index < permissions->n_streams; index++) {
        const Runnel__Metadata__StreamPermissions *stream = permissions->streams[index];
        const protobuf_c_boolean flags[] = {stream->manage_stream, stream->read_stream,
                                            stream->manage_topics, stream->read_topics,
                                            stream->poll_messages, stream->send_messages};
        uint32_t bits = 0;
        for (uint32_t flag = 0; flag < 6; flag++) {
            bits |= flags[flag] ? 1u << flag : 0;
        }
        metadata_permission_insert(metadata, user, stream->stream_id, METADATA_NONE, bits);
        for (size_t topic_index = 0; topic_index < stream->n_topics; topic_index++) {
            const Runnel__Metadata__TopicPermissions *topic = stream->topics[topic_index];
            uint32_t topic_bits = (topic->manage_topic ? METADATA_TOPIC_MANAGE_TOPIC : 0) |
                                  (topic->read_topic ? METADATA_TOPIC_READ_TOPIC : 0) |
                                  (topic->poll_messages ? METADATA_TOPIC_POLL_MESSAGES : 0) |
                                  (topic->send_messages ? METADATA_TOPIC_SEND_MESSAGES : 0);
            metadata_permission_insert(metadata, user, stream->stream_id, topic->topic_id,
                                       topic_bits);
        }
    }
    return METADATA_STATUS_OK;
}

/* ---- UserDetails ---- */

static void metadata_write_bits(struct metadata_writer *writer, uint32_t bits, uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        metadata_writer_u8(writer, (uint8_t)((bits >> index) & 1u));
    }
}

/* Iggy's Permissions encoding (iggy-protocol.md §4.2) from the sorted entry list. */
static void metadata_write_permissions(struct metadata_writer *writer,
                                       const struct metadata *metadata,
                                       const struct metadata_user *user)
{
    metadata_write_bits(writer, user->global_bits, 10);
    uint32_t slot = user->permission_first;
    metadata_writer_u8(writer, slot == METADATA_NONE ? 0 : 1);
    for (uint32_t step = 0; step < metadata->config.limits.permissions_max && slot != METADATA_NONE;
         step++) {
        const struct metadata_permission *entry = &metadata->permissions[slot];
        assert(entry->topic_id == METADATA_NONE); /* a stream entry leads its topics */
        metadata_writer_u32(writer, entry->stream_id);
        metadata_write_bits(writer, entry->bits, 6);
        slot = entry->next;
        bool has_topics =
            slot != METADATA_NONE && metadata->permissions[slot].topic_id != METADATA_NONE;
        metadata_writer_u8(writer, has_topics ? 1 : 0);
        for (uint32_t topic_step = 0;
             topic_step < metadata->config.limits.permissions_max && slot != METADATA_NONE &&
             metadata->permissions[slot].topic_id != METADATA_NONE;
             topic_step++) {
            const struct metadata_permission *topic = &metadata->permissions[slot];
            metadata_writer_u32(writer, topic->topic_id);
            metadata_write_bits(writer, topic->bits, 4);
            slot = topic->next;
            bool has_next =
                slot != METADATA_NONE && metadata->permissions[slot].topic_id != METADATA_NONE;
            metadata_writer_u8(writer, has_next ? 1 : 0);
        }
        metadata_writer_u8(writer, slot != METADATA_NONE ? 1 : 0);
    }
}

void metadata_write_user_details(struct metadata_writer *writer, const struct metadata *metadata,
                                 const struct metadata_user *user)
{
    assert(writer != NULL);
    assert(user != NULL && user->is_used);
    metadata_writer_u32(writer, user->id);
    metadata_writer_u64(writer, user->created_at_us);
    metadata_writer_u8(writer, (uint8_t)user->status);
    metadata_writer_name(writer, &user->username);
    metadata_writer_u32(writer, 0); /* the user options catalog is empty */
    if (!user->has_permissions) {
        metadata_writer_u32(writer, 0);
        return;
    }
    metadata_writer_u8(writer, 1);
    uint32_t size_at = writer->size;
    metadata_writer_u32(writer, 0); /* patched below */
    metadata_write_permissions(writer, metadata, user);
    if (!writer->is_overflow) {
        uint32_t size = writer->size - size_at - 4;
        for (uint32_t index = 0; index < 4; index++) {
            writer->buffer[size_at + index] = (uint8_t)(size >> (8 * index));
        }
    }
}

/* ---- users ---- */

static bool metadata_username_is_valid(const ProtobufCBinaryData *name)
{
    return name->len >= METADATA_USERNAME_SIZE_MIN && name->len <= METADATA_USERNAME_SIZE_MAX;
}

static bool metadata_password_hash_is_valid(const ProtobufCBinaryData *hash)
{
    return hash->len >= 1 && hash->len < METADATA_PASSWORD_HASH_SIZE_MAX;
}

static struct metadata_user *metadata_user_insert(struct metadata *metadata, uint32_t id,
                                                  const ProtobufCBinaryData *username,
                                                  const ProtobufCBinaryData *password_hash,
                                                  uint64_t created_at_us)
{
    assert(id < metadata->config.limits.users_max && !metadata->users[id].is_used);
    struct metadata_user *user = &metadata->users[id];
    memset(user, 0, sizeof(*user));
    user->is_used = true;
    user->id = id;
    user->created_at_us = created_at_us;
    user->status = METADATA_USER_ACTIVE;
    metadata_name_set(&user->username, username);
    user->password_hash_size = (uint8_t)password_hash->len;
    memcpy(user->password_hash, password_hash->data, password_hash->len);
    user->permission_first = METADATA_NONE;
    metadata->users_count++;
    return user;
}

static uint32_t metadata_bootstrap(struct metadata_apply_state *state,
                                   const Runnel__Metadata__Bootstrap *request)
{
    struct metadata *metadata = state->metadata;
    if (state->context->user_id != METADATA_ROOT_USER_ID) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    if (metadata->is_bootstrapped || metadata->users_count > 0) {
        return METADATA_STATUS_USER_ALREADY_EXISTS;
    }
    if (!metadata_username_is_valid(&request->username)) {
        return METADATA_STATUS_INVALID_USERNAME;
    }
    if (!metadata_password_hash_is_valid(&request->password_hash)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    struct metadata_user *root =
        metadata_user_insert(metadata, METADATA_ROOT_USER_ID, &request->username,
                             &request->password_hash, state->context->timestamp_us);
    root->has_permissions = true;
    root->global_bits = METADATA_GLOBAL_ALL;
    metadata->is_bootstrapped = true;
    metadata_write_user_details(state->payload, metadata, root);
    return METADATA_STATUS_OK;
}

static uint32_t metadata_create_user(struct metadata_apply_state *state,
                                     const Runnel__Metadata__CreateUser *request)
{
    struct metadata *metadata = state->metadata;
    if (!metadata_user_can(metadata, state->context->user_id, METADATA_ACTION_USERS_MANAGE,
                           METADATA_NONE, METADATA_NONE)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    if (!metadata_username_is_valid(&request->username)) {
        return METADATA_STATUS_INVALID_USERNAME;
    }
    if (metadata_user_find(metadata, request->username.data, (uint32_t)request->username.len) !=
        NULL) {
        return METADATA_STATUS_USER_ALREADY_EXISTS;
    }
    if (!metadata_password_hash_is_valid(&request->password_hash)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    uint32_t id = 0;
    while (id < metadata->config.limits.users_max && metadata->users[id].is_used) {
        id++;
    }
    if (id == metadata->config.limits.users_max) {
        return METADATA_STATUS_USERS_LIMIT_REACHED;
    }
    uint32_t needed =
        request->permissions == NULL ? 0 : metadata_permissions_needed(request->permissions);
    if (needed == METADATA_NONE) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    if (needed > metadata->permission_slots.free_count) {
        return METADATA_STATUS_ERROR; /* permissions_max */
    }
    struct metadata_user *user = metadata_user_insert(
        metadata, id, &request->username, &request->password_hash, state->context->timestamp_us);
    user->status =
        request->status == METADATA_USER_INACTIVE ? METADATA_USER_INACTIVE : METADATA_USER_ACTIVE;
    uint32_t status = metadata_permissions_set(metadata, user, request->permissions);
    assert(status == METADATA_STATUS_OK);
    metadata_write_user_details(state->payload, metadata, user);
    return METADATA_STATUS_OK;
}

static uint32_t metadata_update_user(struct metadata_apply_state *state,
                                     const Runnel__Metadata__UpdateUser *request)
{
    struct metadata *metadata = state->metadata;
    if (!metadata_user_can(metadata, state->context->user_id, METADATA_ACTION_USERS_MANAGE,
                           METADATA_NONE, METADATA_NONE)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    uint32_t id = metadata_resolve_user(metadata, request->user);
    if (id == METADATA_NONE) {
        return METADATA_STATUS_RESOURCE_NOT_FOUND;
    }
    if (request->has_username) {
        if (!metadata_username_is_valid(&request->username)) {
            return METADATA_STATUS_INVALID_USERNAME;
        }
        const struct metadata_user *other =
            metadata_user_find(metadata, request->username.data, (uint32_t)request->username.len);
        if (other != NULL && other->id != id) {
            return METADATA_STATUS_USER_ALREADY_EXISTS;
        }
        metadata_name_set(&metadata->users[id].username, &request->username);
    }
    if (request->has_status) {
        metadata->users[id].status = request->status == METADATA_USER_INACTIVE
                                         ? METADATA_USER_INACTIVE
                                         : METADATA_USER_ACTIVE;
    }
    return METADATA_STATUS_OK;
}

static void metadata_client_release(struct metadata *metadata, uint32_t slot)
{
    assert(metadata->clients[slot].is_used);
    metadata_groups_remove_client(metadata, metadata->clients[slot].client);
    memset(&metadata->clients[slot], 0, sizeof(metadata->clients[slot]));
    metadata_client_replies_clear(metadata, slot);
    metadata_slots_give(&metadata->client_slots, slot);
}

static uint32_t metadata_delete_user(struct metadata_apply_state *state,
                                     const Runnel__Metadata__DeleteUser *request)
{
    struct metadata *metadata = state->metadata;
    if (!metadata_user_can(metadata, state->context->user_id, METADATA_ACTION_USERS_MANAGE,
                           METADATA_NONE, METADATA_NONE)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    uint32_t id = metadata_resolve_user(metadata, request->user);
    if (id == METADATA_NONE) {
        return METADATA_STATUS_RESOURCE_NOT_FOUND;
    }
    if (id == METADATA_ROOT_USER_ID) {
        return METADATA_STATUS_CANNOT_DELETE_USER;
    }
    struct metadata_user *user = &metadata->users[id];
    metadata_permissions_clear(metadata, user);
    for (uint32_t slot = 0; slot < metadata->config.limits.tokens_max; slot++) {
        if (metadata->tokens[slot].is_used && metadata->tokens[slot].user_id == id) {
            memset(&metadata->tokens[slot], 0, sizeof(metadata->tokens[slot]));
            metadata_slots_give(&metadata->token_slots, slot);
        }
    }
    /* Sessions go too: the id is reused by the next user created. */
    for (uint32_t slot = 0; slot < metadata->config.limits.clients_max; slot++) {
        if (metadata->clients[slot].is_used && metadata->clients[slot].user_id == id) {
            metadata_client_release(metadata, slot);
        }
    }
    memset(user, 0, sizeof(*user));
    metadata->users_count--;
    return METADATA_STATUS_OK;
}

static uint32_t metadata_change_password(struct metadata_apply_state *state,
                                         const Runnel__Metadata__ChangePassword *request)
{
    struct metadata *metadata = state->metadata;
    uint32_t id = metadata_resolve_user(metadata, request->user);
    if (id == METADATA_NONE) {
        return METADATA_STATUS_RESOURCE_NOT_FOUND;
    }
    if (id != state->context->user_id &&
        !metadata_user_can(metadata, state->context->user_id, METADATA_ACTION_USERS_MANAGE,
                           METADATA_NONE, METADATA_NONE)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    if (request->password_hash.len == 0) {
        return METADATA_STATUS_INVALID_CREDENTIALS; /* the primary found it wrong */
    }
    if (!metadata_password_hash_is_valid(&request->password_hash)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    struct metadata_user *user = &metadata->users[id];
    memset(user->password_hash, 0, sizeof(user->password_hash));
    memcpy(user->password_hash, request->password_hash.data, request->password_hash.len);
    user->password_hash_size = (uint8_t)request->password_hash.len;
    return METADATA_STATUS_OK;
}

static uint32_t metadata_update_permissions(struct metadata_apply_state *state,
                                            const Runnel__Metadata__UpdatePermissions *request)
{
    struct metadata *metadata = state->metadata;
    if (!metadata_user_can(metadata, state->context->user_id, METADATA_ACTION_USERS_MANAGE,
                           METADATA_NONE, METADATA_NONE)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    uint32_t id = metadata_resolve_user(metadata, request->user);
    if (id == METADATA_NONE) {
        return METADATA_STATUS_RESOURCE_NOT_FOUND;
    }
    if (id == METADATA_ROOT_USER_ID) {
        return METADATA_STATUS_CANNOT_CHANGE_PERMISSIONS;
    }
    return metadata_permissions_set(metadata, &metadata->users[id], request->permissions);
}

/* ---- personal access tokens ---- */

static uint32_t metadata_token_slot(const struct metadata *metadata, uint32_t user_id,
                                    const ProtobufCBinaryData *name)
{
    for (uint32_t slot = 0; slot < metadata->config.limits.tokens_max; slot++) {
        const struct metadata_token *token = &metadata->tokens[slot];
        if (token->is_used && token->user_id == user_id &&
            metadata_name_equals(&token->name, name->data, name->len)) {
            return slot;
        }
    }
    return METADATA_NONE;
}

static uint32_t metadata_create_token(struct metadata_apply_state *state,
                                      const Runnel__Metadata__CreateToken *request)
{
    struct metadata *metadata = state->metadata;
    const struct metadata_apply_context *context = state->context;
    struct metadata_user *user =
        (struct metadata_user *)metadata_user_get(metadata, context->user_id);
    if (user == NULL) {
        return METADATA_STATUS_RESOURCE_NOT_FOUND;
    }
    if (!metadata_name_is_valid(&request->name) || request->token_hash.len == 0 ||
        request->token_hash.len > METADATA_TOKEN_HASH_SIZE_MAX) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    if (metadata_token_slot(metadata, user->id, &request->name) != METADATA_NONE) {
        return METADATA_STATUS_TOKEN_ALREADY_EXISTS;
    }
    uint64_t expiry_at_us = 0; /* never */
    if (request->expiry_us != 0 && request->expiry_us != UINT64_MAX) {
        expiry_at_us = context->timestamp_us > UINT64_MAX - request->expiry_us
                           ? UINT64_MAX
                           : context->timestamp_us + request->expiry_us;
        if (expiry_at_us <= context->timestamp_us) {
            return METADATA_STATUS_INVALID_TOKEN_EXPIRY;
        }
    }
    if (user->tokens_count >= metadata->config.limits.tokens_per_user_max ||
        metadata->token_slots.free_count == 0) {
        return METADATA_STATUS_TOKENS_LIMIT_REACHED;
    }
    uint32_t slot = metadata_slots_take(&metadata->token_slots);
    assert(slot != METADATA_NONE);
    struct metadata_token *token = &metadata->tokens[slot];
    memset(token, 0, sizeof(*token));
    token->is_used = true;
    token->user_id = user->id;
    metadata_name_set(&token->name, &request->name);
    token->hash_size = (uint8_t)request->token_hash.len;
    memcpy(token->hash, request->token_hash.data, request->token_hash.len);
    token->expiry_at_us = expiry_at_us;
    user->tokens_count++;
    return METADATA_STATUS_OK;
}

static uint32_t metadata_delete_token(struct metadata_apply_state *state,
                                      const Runnel__Metadata__DeleteToken *request)
{
    struct metadata *metadata = state->metadata;
    struct metadata_user *user =
        (struct metadata_user *)metadata_user_get(metadata, state->context->user_id);
    uint32_t slot =
        user == NULL ? METADATA_NONE : metadata_token_slot(metadata, user->id, &request->name);
    bool only_if_expired = request->has_only_if_expired && request->only_if_expired;
    if (slot == METADATA_NONE) {
        return only_if_expired ? METADATA_STATUS_OK : METADATA_STATUS_RESOURCE_NOT_FOUND;
    }
    const struct metadata_token *token = &metadata->tokens[slot];
    if (only_if_expired &&
        (token->expiry_at_us == 0 || token->expiry_at_us > state->context->timestamp_us)) {
        return METADATA_STATUS_OK; /* recreated since the cleaner looked */
    }
    memset(&metadata->tokens[slot], 0, sizeof(metadata->tokens[slot]));
    metadata_slots_give(&metadata->token_slots, slot);
    user->tokens_count--;
    return METADATA_STATUS_OK;
}

/* ---- sessions ---- */

static uint32_t metadata_register_client(struct metadata_apply_state *state,
                                         const Runnel__Metadata__RegisterClient *request)
{
    struct metadata *metadata = state->metadata;
    const struct metadata_apply_context *context = state->context;
    if (context->client == 0 || request->has_user_id == request->has_token_hash ||
        (request->has_node && request->node >= VSR_REPLICAS_MAX)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    const struct metadata_user *user = NULL;
    if (request->has_token_hash) {
        user = metadata_token_user(metadata, request->token_hash.data,
                                   (uint32_t)request->token_hash.len, context->timestamp_us);
        if (user == NULL) {
            return METADATA_STATUS_INVALID_TOKEN;
        }
    } else {
        user = metadata_user_get(metadata, request->user_id);
        if (user == NULL) {
            return METADATA_STATUS_INVALID_CREDENTIALS;
        }
    }
    if (user->status != METADATA_USER_ACTIVE) {
        return METADATA_STATUS_USER_INACTIVE;
    }
    struct metadata_client *entry =
        (struct metadata_client *)metadata_client_get(metadata, context->client);
    if (entry == NULL) {
        uint32_t slot = metadata_slots_take(&metadata->client_slots);
        if (slot == METADATA_NONE) {
            return METADATA_STATUS_ERROR; /* clients_max */
        }
        entry = &metadata->clients[slot];
        memset(entry, 0, sizeof(*entry));
        entry->is_used = true;
        entry->client = context->client;
    }
    entry->session = context->op;
    entry->request_last = 0; /* a new session: its request 1 is new (iggy-protocol.md §2.5) */
    metadata_client_replies_clear(metadata, (uint32_t)(entry - metadata->clients));
    entry->user_id = user->id;
    entry->node = request->has_node ? (uint8_t)(request->node + 1) : 0;
    metadata_writer_u32(state->payload, user->id);
    metadata_writer_u64(state->payload, entry->session);
    metadata_writer_u32(state->payload, METADATA_SERVER_PROTOCOL_VERSION);
    metadata_writer_u8(state->payload, (uint8_t)(sizeof(metadata_server_version) - 1));
    metadata_writer_bytes(state->payload, metadata_server_version,
                          (uint32_t)(sizeof(metadata_server_version) - 1));
    return METADATA_STATUS_OK;
}

static uint32_t metadata_logout_client(struct metadata_apply_state *state)
{
    struct metadata *metadata = state->metadata;
    if (state->context->client == 0) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    const struct metadata_client *entry = metadata_client_get(metadata, state->context->client);
    if (entry != NULL) {
        metadata_client_release(metadata, (uint32_t)(entry - metadata->clients));
    } else {
        metadata_groups_remove_client(metadata, state->context->client);
    }
    return METADATA_STATUS_OK; /* logging out an unknown client is not an error */
}

/* Every consumer-group member whose client registered through node leaves its groups. */
static uint32_t metadata_release_node_members(struct metadata_apply_state *state,
                                              const Runnel__Metadata__ReleaseNodeMembers *request)
{
    struct metadata *metadata = state->metadata;
    if (request->node >= VSR_REPLICAS_MAX) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    for (uint32_t slot = 0; slot < metadata->config.limits.clients_max; slot++) {
        const struct metadata_client *client = &metadata->clients[slot];
        if (client->is_used && client->node == request->node + 1) {
            metadata_groups_remove_client(metadata, client->client);
        }
    }
    return METADATA_STATUS_OK;
}

uint32_t metadata_apply_user_op(struct metadata_apply_state *state,
                                const Runnel__Metadata__MetadataOperation *operation)
{
    assert(state != NULL);
    assert(operation != NULL);
    switch (operation->operation_case) {
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_BOOTSTRAP:
        return metadata_bootstrap(state, operation->bootstrap);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_USER:
        return metadata_create_user(state, operation->create_user);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_USER:
        return metadata_update_user(state, operation->update_user);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_USER:
        return metadata_delete_user(state, operation->delete_user);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CHANGE_PASSWORD:
        return metadata_change_password(state, operation->change_password);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_UPDATE_PERMISSIONS:
        return metadata_update_permissions(state, operation->update_permissions);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOKEN:
        return metadata_create_token(state, operation->create_token);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_TOKEN:
        return metadata_delete_token(state, operation->delete_token);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_REGISTER_CLIENT:
        return metadata_register_client(state, operation->register_client);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LOGOUT_CLIENT:
        return metadata_logout_client(state);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_RELEASE_NODE_MEMBERS:
        return metadata_release_node_members(state, operation->release_node_members);
    default:
        unreachable_code();
    }
    return METADATA_STATUS_INVALID_COMMAND;
}
