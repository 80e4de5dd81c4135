/*
 * librunnel: typed calls for users (31-37) and personal access tokens (41-43). Global
 * permission flags only (per-stream permissions are not exposed). Caller's thread.
 */
#include "client/client.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_command.h"
#include "proto/iggy_users.h"

#include <errno.h>
#include <string.h>

enum { USERS_LIST_MAX = 1 << 24, USERS_TOKEN_SIZE_MAX = 256 };

static bool users_is_text_valid(const char *text, size_t size_min)
{
    if (text == NULL) {
        return false;
    }
    size_t length = strnlen(text, RUNNEL_NAME_SIZE_MAX + 1);
    return length >= size_min && length <= RUNNEL_NAME_SIZE_MAX;
}

static void users_copy(struct runnel_user *out, const struct iggy_user_info *in)
{
    memset(out, 0, sizeof(*out));
    out->id = in->id;
    out->created_at_us = in->created_at_us;
    out->status = in->status;
    client_copy_text(out->username, sizeof(out->username), in->username);
    out->has_permissions = in->has_permissions;
    if (in->has_permissions) {
        for (int index = 0; index < IGGY_PERMISSIONS_GLOBAL_COUNT; index++) {
            out->global_permissions[index] = in->permissions.global[index];
        }
    }
}

static void users_permissions(struct iggy_permissions *out, const bool *global)
{
    memset(out, 0, sizeof(*out));
    for (int index = 0; index < IGGY_PERMISSIONS_GLOBAL_COUNT; index++) {
        out->global[index] = global[index];
    }
}

int runnel_user_create(struct runnel_client *client, const char *username, const char *password,
                       bool is_active, const bool *global_permissions, struct runnel_user *user_out)
{
    if (client == NULL || !users_is_text_valid(username, 1) || !users_is_text_valid(password, 0)) {
        return -EINVAL;
    }
    struct iggy_user_create request;
    memset(&request, 0, sizeof(request));
    request.username = iggy_bytes_from_string(username);
    request.password = iggy_bytes_from_string(password);
    request.status = is_active ? IGGY_USER_ACTIVE : IGGY_USER_INACTIVE;
    request.has_permissions = global_permissions != NULL;
    if (global_permissions != NULL) {
        users_permissions(&request.permissions, global_permissions);
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_users_create_encode(&writer, &request);
    struct client_reply reply;
    int result = client_call(client, IGGY_COMMAND_USER_CREATE, &writer, &reply);
    if (result != 0 || user_out == NULL) {
        return result;
    }
    struct iggy_reader reader;
    iggy_reader_init(&reader, reply.body, reply.body_size);
    struct iggy_user_info info;
    if (iggy_users_user_decode(&reader, &info, true) != 0) {
        return reader.error;
    }
    users_copy(user_out, &info);
    return 0;
}

int runnel_user_get(struct runnel_client *client, struct runnel_id user,
                    struct runnel_user *user_out)
{
    struct iggy_identifier id;
    if (client == NULL || user_out == NULL || client_identifier(user, &id) != 0) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_command_identifiers_encode(&writer, 1, &id);
    struct client_reply reply;
    int result = client_call(client, IGGY_COMMAND_USER_GET, &writer, &reply);
    if (result != 0) {
        return result;
    }
    if (reply.body_size == 0) {
        return -RUNNEL_ENOTFOUND;
    }
    struct iggy_reader reader;
    iggy_reader_init(&reader, reply.body, reply.body_size);
    struct iggy_user_info info;
    if (iggy_users_user_decode(&reader, &info, true) != 0) {
        return reader.error;
    }
    users_copy(user_out, &info);
    return 0;
}

int runnel_user_list(struct runnel_client *client, struct runnel_user *users, uint32_t users_max,
                     uint32_t *count_out)
{
    if (client == NULL || count_out == NULL || (users == NULL && users_max > 0)) {
        return -EINVAL;
    }
    *count_out = 0;
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct client_reply reply;
    int result = client_call(client, IGGY_COMMAND_USER_LIST, &writer, &reply);
    if (result != 0) {
        return result;
    }
    struct iggy_reader reader;
    iggy_reader_init(&reader, reply.body, reply.body_size);
    uint32_t count = 0;
    for (; count < USERS_LIST_MAX && iggy_reader_remaining(&reader) > 0; count++) {
        struct iggy_user_info info;
        if (iggy_users_user_decode(&reader, &info, false) != 0) {
            return reader.error;
        }
        if (count < users_max) {
            users_copy(&users[count], &info);
        }
    }
    *count_out = count;
    return 0;
}

int runnel_user_update(struct runnel_client *client, struct runnel_id user, const char *username,
                       uint8_t status)
{
    struct iggy_user_update request;
    memset(&request, 0, sizeof(request));
    if (client == NULL || client_identifier(user, &request.user) != 0 ||
        (username != NULL && !users_is_text_valid(username, 1)) || status > 2) {
        return -EINVAL;
    }
    request.has_username = username != NULL;
    if (username != NULL) {
        request.username = iggy_bytes_from_string(username);
    }
    request.has_status = status != 0;
    request.status = status;
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_users_update_encode(&writer, &request);
    return client_call_simple(client, IGGY_COMMAND_USER_UPDATE, &writer);
}

int runnel_user_delete(struct runnel_client *client, struct runnel_id user)
{
    struct iggy_identifier id;
    if (client == NULL || client_identifier(user, &id) != 0) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_command_identifiers_encode(&writer, 1, &id);
    return client_call_simple(client, IGGY_COMMAND_USER_DELETE, &writer);
}

int runnel_user_password(struct runnel_client *client, struct runnel_id user,
                         const char *current_password, const char *new_password)
{
    struct iggy_user_password request;
    if (client == NULL || client_identifier(user, &request.user) != 0 ||
        !users_is_text_valid(current_password, 0) || !users_is_text_valid(new_password, 0)) {
        return -EINVAL;
    }
    request.current_password = iggy_bytes_from_string(current_password);
    request.new_password = iggy_bytes_from_string(new_password);
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_users_password_encode(&writer, &request);
    return client_call_simple(client, IGGY_COMMAND_USER_PASSWORD, &writer);
}

int runnel_user_permissions(struct runnel_client *client, struct runnel_id user,
                            const bool *global_permissions)
{
    struct iggy_user_permissions request;
    memset(&request, 0, sizeof(request));
    if (client == NULL || client_identifier(user, &request.user) != 0) {
        return -EINVAL;
    }
    request.has_permissions = global_permissions != NULL;
    if (global_permissions != NULL) {
        users_permissions(&request.permissions, global_permissions);
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_users_permissions_encode(&writer, &request);
    return client_call_simple(client, IGGY_COMMAND_USER_PERMISSIONS, &writer);
}

int runnel_pat_create(struct runnel_client *client, const char *name, uint64_t expiry_us,
                      char *token_out, size_t token_size)
{
    if (client == NULL || !users_is_text_valid(name, 1) || token_out == NULL || token_size == 0) {
        return -EINVAL;
    }
    token_out[0] = '\0';
    struct iggy_pat_create request = {.name = iggy_bytes_from_string(name), .expiry_us = expiry_us};
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_users_pat_create_encode(&writer, &request);
    struct client_reply reply;
    int result = client_call(client, IGGY_COMMAND_PAT_CREATE, &writer, &reply);
    if (result != 0) {
        return result;
    }
    struct iggy_reader reader;
    iggy_reader_init(&reader, reply.body, reply.body_size);
    struct iggy_bytes token = iggy_wire_name_decode(&reader);
    if (iggy_reader_finish(&reader) != 0) {
        return reader.error;
    }
    if (token.size >= token_size) {
        return -RUNNEL_ETOOLARGE;
    }
    client_copy_text(token_out, token_size, token);
    return 0;
}

int runnel_pat_delete(struct runnel_client *client, const char *name)
{
    if (client == NULL || !users_is_text_valid(name, 1)) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    iggy_users_pat_delete_encode(&writer, iggy_bytes_from_string(name));
    return client_call_simple(client, IGGY_COMMAND_PAT_DELETE, &writer);
}

int runnel_pat_list(struct runnel_client *client, struct runnel_pat *pats, uint32_t pats_max,
                    uint32_t *count_out)
{
    if (client == NULL || count_out == NULL || (pats == NULL && pats_max > 0)) {
        return -EINVAL;
    }
    *count_out = 0;
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct client_reply reply;
    int result = client_call(client, IGGY_COMMAND_PAT_LIST, &writer, &reply);
    if (result != 0) {
        return result;
    }
    struct iggy_reader reader;
    iggy_reader_init(&reader, reply.body, reply.body_size);
    uint32_t count = 0;
    for (; count < USERS_LIST_MAX && iggy_reader_remaining(&reader) > 0; count++) {
        struct iggy_pat_info info;
        if (iggy_users_pat_decode(&reader, &info) != 0) {
            return reader.error;
        }
        if (count < pats_max) {
            client_copy_text(pats[count].name, sizeof(pats[count].name), info.name);
            pats[count].expiry_at_us = info.expiry_at_us;
        }
    }
    *count_out = count;
    return 0;
}
