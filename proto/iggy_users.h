/*
 * Iggy user, session and personal-access-token commands (research/iggy-protocol.md
 * §2.2-2.4, §3.2, §3.3, §3.11): Register bodies (codes 40 and 45, operation 1) and the
 * Register reply, CreateUser / UpdateUser / UpdatePermissions / ChangePassword, PAT
 * create / delete / list, and the UserResponse / UserDetails reply structures. 31 and 34
 * are identifier-only (iggy_command_identifiers_decode); 32, 39 and 41 have empty bodies.
 *
 * Replies:
 *   40/45 register   register reply (its result prefix included), or an eviction
 *   33 user.create   result(0) + user details
 *   31 user.get      user details, or an empty body
 *   32 user.list     user x n, to the end of the body
 *   42 pat.create    result(0) + [token WireName]
 *   41 pat.list      pat entry x n, to the end of the body
 *   34-37, 43        result only
 * Passwords are borrowed slices of the request: callers hash them and wipe the frame.
 */
#ifndef RUNNEL_PROTO_IGGY_USERS_H
#define RUNNEL_PROTO_IGGY_USERS_H

#include "proto/iggy_wire.h"

#include <stdbool.h>
#include <stdint.h>

enum iggy_user_status { IGGY_USER_ACTIVE = 1, IGGY_USER_INACTIVE = 2 };

/* ClientVersionInfo: [protocol_version u32][sdk_name WireName][sdk_version WireName]. */
struct iggy_client_version {
    uint32_t protocol_version;
    struct iggy_bytes sdk_name;
    struct iggy_bytes sdk_version;
};

/*
 * A Register body decoded both ways, as Iggy's server tries them (§2.3):
 * password shape [version][username WireName][password u8 len][context_len u32][context]
 * and PAT shape [version][token WireName][context_len u32][context]. Each shape counts as
 * decoded when its fields fit in the body (trailing bytes are ignored, as Iggy does).
 */
struct iggy_register {
    struct iggy_client_version version;
    bool has_password_shape;
    struct iggy_bytes username;
    struct iggy_bytes password;
    struct iggy_bytes password_context;
    bool has_token_shape;
    struct iggy_bytes token;
    struct iggy_bytes token_context;
};

/* Register reply body: result(0) + [user_id u32][session u64][protocol u32][version]. */
struct iggy_register_reply {
    uint32_t result; /* 0, or a transient code (57, 58) with no payload */
    uint32_t user_id;
    uint64_t session;
    uint32_t server_protocol_version;
    struct iggy_bytes server_version; /* WireName */
};

/* 33: [username][password][status u8][has_perms u8]([perm_len u32][perms])[options]. */
struct iggy_user_create {
    struct iggy_bytes username;
    struct iggy_bytes password;
    uint8_t status; /* raw byte: unknown values are stored as active, echoed raw */
    bool has_permissions;
    struct iggy_permissions permissions;
    struct iggy_bytes options;
};

/* 35: [user][has_username u8]([username])[has_status u8]([status u8])[options]. */
struct iggy_user_update {
    struct iggy_identifier user;
    bool has_username;
    struct iggy_bytes username;
    bool has_status;
    uint8_t status;
    struct iggy_bytes options;
};

/* 36: [user][has_perms u8]([perm_len u32][perms]). */
struct iggy_user_permissions {
    struct iggy_identifier user;
    bool has_permissions;
    struct iggy_permissions permissions;
};

/* 37: [user][current_password u8 len][new_password u8 len]. */
struct iggy_user_password {
    struct iggy_identifier user;
    struct iggy_bytes current_password;
    struct iggy_bytes new_password;
};

/* 42: [name WireName][expiry u64] (0 server default = never, UINT64_MAX never, else µs). */
struct iggy_pat_create {
    struct iggy_bytes name;
    uint64_t expiry_us;
};

/* 41 reply entry: [name WireName][expiry_at u64] (µs UNIX, 0 never). */
struct iggy_pat_info {
    struct iggy_bytes name;
    uint64_t expiry_at_us;
};

/* UserResponse (+ permissions for UserDetails). */
struct iggy_user_info {
    uint32_t id;
    uint64_t created_at_us;
    uint8_t status;
    struct iggy_bytes username;
    struct iggy_bytes options;
    bool has_permissions; /* details only */
    struct iggy_permissions permissions;
};

/*
 * Decodes a Register body. Returns -RUNNEL_EFORMAT / -RUNNEL_ETRUNCATED when the version
 * prefix does not decode (Iggy: eviction 15); otherwise 0 with the shape flags set (the
 * caller runs the version gate, then tries the shapes; neither shape: eviction 15).
 */
int iggy_users_register_decode(const uint8_t *body, uint32_t body_size, struct iggy_register *out);

/* Client: appends a Register body: the password shape unless with_token (then token). */
int iggy_users_register_encode(struct iggy_writer *writer, const struct iggy_register *in,
                               bool with_token);

int iggy_users_register_reply_encode(struct iggy_writer *writer,
                                     const struct iggy_register_reply *in);
/* Reads a non-empty Register reply; a transient result leaves the payload zeroed. */
int iggy_users_register_reply_decode(struct iggy_reader *reader, struct iggy_register_reply *out);

int iggy_users_create_decode(const uint8_t *body, uint32_t body_size, struct iggy_user_create *out);
int iggy_users_create_encode(struct iggy_writer *writer, const struct iggy_user_create *in);
int iggy_users_update_decode(const uint8_t *body, uint32_t body_size, struct iggy_user_update *out);
int iggy_users_update_encode(struct iggy_writer *writer, const struct iggy_user_update *in);
int iggy_users_permissions_decode(const uint8_t *body, uint32_t body_size,
                                  struct iggy_user_permissions *out);
int iggy_users_permissions_encode(struct iggy_writer *writer,
                                  const struct iggy_user_permissions *in);
int iggy_users_password_decode(const uint8_t *body, uint32_t body_size,
                               struct iggy_user_password *out);
int iggy_users_password_encode(struct iggy_writer *writer, const struct iggy_user_password *in);

int iggy_users_pat_create_decode(const uint8_t *body, uint32_t body_size,
                                 struct iggy_pat_create *out);
int iggy_users_pat_create_encode(struct iggy_writer *writer, const struct iggy_pat_create *in);
/* 43: [name WireName]. */
int iggy_users_pat_delete_decode(const uint8_t *body, uint32_t body_size,
                                 struct iggy_bytes *name_out);
int iggy_users_pat_delete_encode(struct iggy_writer *writer, struct iggy_bytes name);
int iggy_users_pat_encode(struct iggy_writer *writer, const struct iggy_pat_info *in);
int iggy_users_pat_decode(struct iggy_reader *reader, struct iggy_pat_info *out);

/* UserResponse alone (lists) or with its permissions part (UserDetails). */
int iggy_users_user_encode(struct iggy_writer *writer, const struct iggy_user_info *in,
                           bool with_details);
int iggy_users_user_decode(struct iggy_reader *reader, struct iggy_user_info *out,
                           bool with_details);

#endif
