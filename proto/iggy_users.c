/*
 * Iggy user, session and personal-access-token command codec: Register bodies and reply,
 * user administration bodies, PAT bodies, and the user reply structures. Pure
 * functions; connection shards, the control plane (shard 0) and the client library.
 */
#include "proto/iggy_users.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>

static void iggy_users_version_decode(struct iggy_reader *reader, struct iggy_client_version *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->protocol_version = iggy_reader_u32(reader);
    out->sdk_name = iggy_wire_name_decode(reader);
    out->sdk_version = iggy_wire_name_decode(reader);
}

/* [context_len u32][UTF-8 context]. */
static struct iggy_bytes iggy_users_context_decode(struct iggy_reader *reader)
{
    struct iggy_bytes context = iggy_wire_string32_decode(reader);
    if (reader->error == 0 && !iggy_wire_is_utf8(context)) {
        iggy_reader_fail(reader, -RUNNEL_EFORMAT);
    }
    assert(context.bytes != NULL || context.size == 0);
    return context;
}

int iggy_users_register_decode(const uint8_t *body, uint32_t body_size, struct iggy_register *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_users_version_decode(&reader, &out->version);
    if (reader.error != 0) {
        return reader.error;
    }
    struct iggy_reader shape = reader;
    out->username = iggy_wire_name_decode(&shape);
    out->password = iggy_wire_password_decode(&shape);
    out->password_context = iggy_users_context_decode(&shape);
    out->has_password_shape = shape.error == 0;
    shape = reader;
    out->token = iggy_wire_name_decode(&shape);
    out->token_context = iggy_users_context_decode(&shape);
    out->has_token_shape = shape.error == 0;
    return 0;
}

int iggy_users_register_encode(struct iggy_writer *writer, const struct iggy_register *in,
                               bool with_token)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->version.protocol_version);
    iggy_wire_name_encode(writer, in->version.sdk_name);
    iggy_wire_name_encode(writer, in->version.sdk_version);
    if (with_token) {
        iggy_wire_name_encode(writer, in->token);
        iggy_wire_string32_encode(writer, in->token_context);
    } else {
        iggy_wire_name_encode(writer, in->username);
        iggy_wire_password_encode(writer, in->password);
        iggy_wire_string32_encode(writer, in->password_context);
    }
    return writer->error;
}

int iggy_users_register_reply_encode(struct iggy_writer *writer,
                                     const struct iggy_register_reply *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_result_encode(writer, in->result);
    if (in->result == 0) {
        assert(in->session != 0);
        iggy_writer_u32(writer, in->user_id);
        iggy_writer_u64(writer, in->session);
        iggy_writer_u32(writer, in->server_protocol_version);
        iggy_wire_name_encode(writer, in->server_version);
    }
    return writer->error;
}

int iggy_users_register_reply_decode(struct iggy_reader *reader, struct iggy_register_reply *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    iggy_wire_result_decode(reader, &out->result);
    if (out->result != 0 || reader->error != 0) {
        return reader->error;
    }
    out->user_id = iggy_reader_u32(reader);
    out->session = iggy_reader_u64(reader);
    out->server_protocol_version = iggy_reader_u32(reader);
    out->server_version = iggy_wire_name_decode(reader);
    return reader->error;
}

/* [perm_len u32][Permissions of exactly perm_len bytes]. */
static void iggy_users_permissions_block_decode(struct iggy_reader *reader,
                                                struct iggy_permissions *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    uint32_t size = iggy_reader_u32(reader);
    iggy_wire_permissions_decode(reader, reader->error == 0 ? size : 0, out);
}

static void iggy_users_permissions_block_encode(struct iggy_writer *writer,
                                                const struct iggy_permissions *permissions)
{
    assert(writer != NULL);
    assert(permissions != NULL);
    iggy_writer_u32(writer, iggy_wire_permissions_size(permissions));
    iggy_wire_permissions_encode(writer, permissions);
}

int iggy_users_create_decode(const uint8_t *body, uint32_t body_size, struct iggy_user_create *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    out->username = iggy_wire_name_decode(&reader);
    out->password = iggy_wire_password_decode(&reader);
    out->status = iggy_reader_u8(&reader);
    out->has_permissions = iggy_reader_u8(&reader) == 1;
    if (out->has_permissions) {
        iggy_users_permissions_block_decode(&reader, &out->permissions);
    }
    out->options = iggy_wire_options_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_users_create_encode(struct iggy_writer *writer, const struct iggy_user_create *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_name_encode(writer, in->username);
    iggy_wire_password_encode(writer, in->password);
    iggy_writer_u8(writer, in->status);
    iggy_writer_u8(writer, in->has_permissions ? 1 : 0);
    if (in->has_permissions) {
        iggy_users_permissions_block_encode(writer, &in->permissions);
    }
    iggy_writer_bytes(writer, in->options.bytes, in->options.size);
    return writer->error;
}

int iggy_users_update_decode(const uint8_t *body, uint32_t body_size, struct iggy_user_update *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->user);
    out->has_username = iggy_reader_u8(&reader) == 1;
    if (out->has_username) {
        out->username = iggy_wire_name_decode(&reader);
    }
    out->has_status = iggy_reader_u8(&reader) == 1;
    if (out->has_status) {
        out->status = iggy_reader_u8(&reader);
    }
    out->options = iggy_wire_options_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_users_update_encode(struct iggy_writer *writer, const struct iggy_user_update *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->user);
    iggy_writer_u8(writer, in->has_username ? 1 : 0);
    if (in->has_username) {
        iggy_wire_name_encode(writer, in->username);
    }
    iggy_writer_u8(writer, in->has_status ? 1 : 0);
    if (in->has_status) {
        iggy_writer_u8(writer, in->status);
    }
    iggy_writer_bytes(writer, in->options.bytes, in->options.size);
    return writer->error;
}

int iggy_users_permissions_decode(const uint8_t *body, uint32_t body_size,
                                  struct iggy_user_permissions *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->user);
    out->has_permissions = iggy_reader_u8(&reader) == 1;
    if (out->has_permissions) {
        iggy_users_permissions_block_decode(&reader, &out->permissions);
    }
    return iggy_reader_finish(&reader);
}

int iggy_users_permissions_encode(struct iggy_writer *writer,
                                  const struct iggy_user_permissions *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->user);
    iggy_writer_u8(writer, in->has_permissions ? 1 : 0);
    if (in->has_permissions) {
        iggy_users_permissions_block_encode(writer, &in->permissions);
    }
    return writer->error;
}

int iggy_users_password_decode(const uint8_t *body, uint32_t body_size,
                               struct iggy_user_password *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    iggy_wire_identifier_decode(&reader, &out->user);
    out->current_password = iggy_wire_password_decode(&reader);
    out->new_password = iggy_wire_password_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_users_password_encode(struct iggy_writer *writer, const struct iggy_user_password *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_identifier_encode(writer, &in->user);
    iggy_wire_password_encode(writer, in->current_password);
    iggy_wire_password_encode(writer, in->new_password);
    return writer->error;
}

int iggy_users_pat_create_decode(const uint8_t *body, uint32_t body_size,
                                 struct iggy_pat_create *out)
{
    assert(body != NULL || body_size == 0);
    assert(out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    out->name = iggy_wire_name_decode(&reader);
    out->expiry_us = iggy_reader_u64(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_users_pat_create_encode(struct iggy_writer *writer, const struct iggy_pat_create *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_name_encode(writer, in->name);
    iggy_writer_u64(writer, in->expiry_us);
    return writer->error;
}

int iggy_users_pat_delete_decode(const uint8_t *body, uint32_t body_size,
                                 struct iggy_bytes *name_out)
{
    assert(body != NULL || body_size == 0);
    assert(name_out != NULL);
    struct iggy_reader reader;
    iggy_reader_init(&reader, body, body_size);
    *name_out = iggy_wire_name_decode(&reader);
    return iggy_reader_finish(&reader);
}

int iggy_users_pat_delete_encode(struct iggy_writer *writer, struct iggy_bytes name)
{
    assert(writer != NULL);
    assert(name.size > 0);
    iggy_wire_name_encode(writer, name);
    return writer->error;
}

int iggy_users_pat_encode(struct iggy_writer *writer, const struct iggy_pat_info *in)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_wire_name_encode(writer, in->name);
    iggy_writer_u64(writer, in->expiry_at_us);
    return writer->error;
}

int iggy_users_pat_decode(struct iggy_reader *reader, struct iggy_pat_info *out)
{
    assert(reader != NULL);
    assert(out != NULL);
    out->name = iggy_wire_name_decode(reader);
    out->expiry_at_us = iggy_reader_u64(reader);
    return reader->error;
}

int iggy_users_user_encode(struct iggy_writer *writer, const struct iggy_user_info *in,
                           bool with_details)
{
    assert(writer != NULL);
    assert(in != NULL);
    iggy_writer_u32(writer, in->id);
    iggy_writer_u64(writer, in->created_at_us);
    iggy_writer_u8(writer, in->status);
    iggy_wire_name_encode(writer, in->username);
    iggy_wire_options32_encode(writer, in->options);
    if (with_details && in->has_permissions) {
        iggy_writer_u8(writer, 1);
        iggy_users_permissions_block_encode(writer, &in->permissions);
    } else if (with_details) {
        iggy_writer_u32(writer, 0); /* asymmetric: 4 zero bytes mean "none" */
    }
    return writer->error;
}

int iggy_users_user_decode(struct iggy_reader *reader, struct iggy_user_info *out,
                           bool with_details)
{
    assert(reader != NULL);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    out->id = iggy_reader_u32(reader);
    out->created_at_us = iggy_reader_u64(reader);
    out->status = iggy_reader_u8(reader);
    out->username = iggy_wire_name_decode(reader);
    out->options = iggy_wire_options32_decode(reader);
    if (!with_details) {
        return reader->error;
    }
    out->has_permissions = iggy_reader_u8(reader) != 0;
    if (out->has_permissions) {
        iggy_users_permissions_block_decode(reader, &out->permissions);
    } else {
        (void)iggy_reader_bytes(reader, 3);
    }
    return reader->error;
}
