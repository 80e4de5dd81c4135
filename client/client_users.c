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

enum { USERS_TOKEN_SIZE_MAX = 256 };

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

/* Decodes a UserInfo (with_details: UserInfoDetails) into user_out unless it is NULL. */
static int users_user_read(struct iggy_reader *reader, bool with_details,
                           struct runnel_user *user_out)
{
    struct iggy_user_info info;
    int result = iggy_users_user_decode(reader, &info, with_details);
    if (result == 0 && user_out != NULL) {
        users_copy(user_out, &info);
    }
    return result;
}

/* A client_entry_decode for the UserInfo entries of the user list. */
static int users_user_entry(struct iggy_reader *reader, void *entry_out)
{
    return users_user_read(reader, false, entry_out);
}

/* A client_entry_decode for PersonalAccessTokenInfo entries (struct runnel_pat). */
static int users_pat_entry(struct iggy_reader *reader, void *entry_out)
{
    struct iggy_pat_info info;
    int result = iggy_users_pat_decode(reader, &info);
    struct runnel_pat *pat = entry_out;
    if (result == 0 && pat != NULL) {
        client_copy_text(pat->name, sizeof(pat->name), info.name);
        pat->expiry_at_us = info.expiry_at_us;
    }
    return result;
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
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_USER_CREATE, &writer, &reader);
    if (result != 0 || user_out == NULL) {
        return result;
    }
    return users_user_read(&reader, true, user_out);
}

int runnel_user_get(struct runnel_client *client, struct runnel_id user,
                    struct runnel_user *user_out)
{
    struct iggy_writer writer;
    if (client == NULL || user_out == NULL || client_ids_body(client, &writer, 1, &user) != 0) {
        return -EINVAL;
    }
    struct iggy_reader reader;
    int result = client_call_found(client, IGGY_COMMAND_USER_GET, &writer, &reader);
    if (result != 0) {
        return result;
    }
    return users_user_read(&reader, true, user_out);
}

int runnel_user_list(struct runnel_client *client, struct runnel_user *users, uint32_t users_max,
                     uint32_t *count_out)
{
    if (client == NULL || count_out == NULL || (users == NULL && users_max > 0)) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct client_list list = {.entries = users,
                               .entry_size_bytes = sizeof(*users),
                               .entries_max = users_max,
                               .decode = users_user_entry};
    return client_call_list(client, IGGY_COMMAND_USER_LIST, &writer, &list, count_out);
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
    return client_call_ids(client, IGGY_COMMAND_USER_DELETE, 1, &user);
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
    struct iggy_reader reader;
    int result = client_call_reader(client, IGGY_COMMAND_PAT_CREATE, &writer, &reader);
    if (result != 0) {
        return result;
    }
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
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    struct client_list list = {.entries = pats,
                               .entry_size_bytes = sizeof(*pats),
                               .entries_max = pats_max,
                               .decode = users_pat_entry};
    return client_call_list(client, IGGY_COMMAND_PAT_LIST, &writer, &list, count_out);
}
