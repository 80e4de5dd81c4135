/*
 * librunnel internals shared by the client/ sources: the client struct, the allocator
 * hook, and the request/reply call every typed command goes through. Not installed.
 */
#ifndef RUNNEL_CLIENT_CLIENT_H
#define RUNNEL_CLIENT_CLIENT_H

#include "client/include/runnel/runnel.h"
#include "proto/iggy_header.h"
#include "proto/iggy_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum client_login_kind { CLIENT_LOGIN_NONE = 0, CLIENT_LOGIN_PASSWORD, CLIENT_LOGIN_TOKEN };

enum {
    CLIENT_HOST_SIZE_MAX = 256,
    CLIENT_CREDENTIAL_SIZE_MAX = 256,
    CLIENT_TRANSIENT_RETRY_MS = 50,
    CLIENT_SIZE_BYTES_MIN = 64 * 1024,
};

/* The Register context that opts in to exactly-once partition ops (DESIGN §10.11). */
#define CLIENT_EXACTLY_ONCE_CONTEXT   "runnel.exactly_once=1"
/* runneld's Register reply names its version with this prefix. */
#define CLIENT_RUNNELD_VERSION_PREFIX "runneld"

struct runnel_client {
    char host[CLIENT_HOST_SIZE_MAX];
    uint16_t port;
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms;
    uint32_t reconnect_attempts;
    uint32_t reconnect_backoff_ms;
    bool is_exactly_once_wanted;

    int fd; /* -1 when not connected */
    uint64_t connection_count;
    iggy_u128 client_id;
    uint64_t session;            /* 0 until logged in */
    uint64_t request_counter;    /* the next metadata request number (1 after login) */
    uint64_t partition_sequence; /* exactly-once: last partition request number used */
    bool is_sequence_open;       /* the last one's outcome is unknown (no definite reply) */
    uint32_t user_id;
    bool is_logged_in;
    bool is_runneld;
    bool has_exactly_once;
    /* Iggy's server: after a login, the client id and request numbering survive
     * reconnects, so the server resumes the session (and its group memberships). */
    bool keeps_identity;
    char server_version[RUNNEL_NAME_SIZE_MAX + 1];

    enum client_login_kind login_kind;
    char username[CLIENT_CREDENTIAL_SIZE_MAX];
    char password[CLIENT_CREDENTIAL_SIZE_MAX];
    char token[CLIENT_CREDENTIAL_SIZE_MAX];

    uint8_t *send_buffer; /* 256-byte header + body */
    uint32_t send_capacity_bytes;
    uint8_t *reply_buffer;
    uint32_t reply_capacity_bytes;
    uint64_t random_state; /* xorshift for client and message ids */
    uint64_t moves;        /* runnel_connection_move calls the server agreed to */
};

/* A reply body after the status and result section were checked. */
struct client_reply {
    const uint8_t *body;
    uint32_t body_size;
    uint8_t operation;
};

/* Allocation through the hook; client_allocate returns NULL on failure. */
void *client_allocate(size_t size_bytes);
void client_free(void *pointer);

/* The encode area for a request body (after the header). */
void client_body_writer(struct runnel_client *client, struct iggy_writer *writer);

/*
 * Sends the body written with client_body_writer (writer->size bytes) as command code,
 * waits for the reply and validates it: eviction, status, result section (57/58 retried),
 * and a lost connection (reconnect, login again, resend once when reconnect_attempts).
 * Returns 0 with reply_out filled (pointing into the reply buffer) or a negative code.
 */
int client_call(struct runnel_client *client, uint32_t code, const struct iggy_writer *writer,
                struct client_reply *reply_out);

/* Like client_call for commands whose reply body is ignored. */
int client_call_simple(struct runnel_client *client, uint32_t code,
                       const struct iggy_writer *writer);

/* Like client_call, then reader_out reads the whole reply body (which may be empty). */
int client_call_reader(struct runnel_client *client, uint32_t code,
                       const struct iggy_writer *writer, struct iggy_reader *reader_out);

/*
 * Like client_call_reader for the get commands, whose empty reply means the entity does
 * not exist: -RUNNEL_ENOTFOUND then.
 */
int client_call_found(struct runnel_client *client, uint32_t code, const struct iggy_writer *writer,
                      struct iggy_reader *reader_out);

/*
 * Decodes one list entry from reader and, when entry_out is not NULL, copies it there.
 * Returns 0 or the reader's error (the entry is not copied then).
 */
typedef int (*client_entry_decode)(struct iggy_reader *reader, void *entry_out);

/* Where the entries of a list reply go: the caller's array of entries_max slots. */
struct client_list {
    void *entries; /* NULL when entries_max == 0 */
    size_t entry_size_bytes;
    uint32_t entries_max;
    client_entry_decode decode;
};

/*
 * For the list commands whose reply is entries back to back up to the end of the body
 * (no count prefix): calls, decodes every entry with list->decode, copies the first
 * entries_max into list->entries, and stores the number of entries in *count_out
 * (which may exceed entries_max). *count_out is 0 on any error. The client, the writer
 * and count_out were checked by the caller.
 */
int client_call_list(struct runnel_client *client, uint32_t code, const struct iggy_writer *writer,
                     const struct client_list *list, uint32_t *count_out);

/* -(RUNNEL_SERVER_ERROR_BASE + code). */
int client_server_error(uint32_t code);

/* 64 random bits (never 0 twice in a row across calls of one client). */
uint64_t client_random(struct runnel_client *client);

/* An iggy identifier for a runnel id (the name is borrowed); -EINVAL if invalid. */
int client_identifier(struct runnel_id id, struct iggy_identifier *out);

/*
 * Starts a request body in writer holding the identifiers of ids[0..count) (1 to 3, e.g.
 * stream, topic, group), the whole body of the get, delete and purge commands.
 * -EINVAL if an id is invalid (the writer is not started then).
 */
int client_ids_body(struct runnel_client *client, struct iggy_writer *writer, uint32_t count,
                    const struct runnel_id *ids);

/*
 * Sends a command whose body is the identifiers of ids[0..count) and whose reply body is
 * ignored (delete, purge, join, leave). -EINVAL if client is NULL or an id is invalid.
 */
int client_call_ids(struct runnel_client *client, uint32_t code, uint32_t count,
                    const struct runnel_id *ids);

/*
 * An id that no longer borrows the caller's name: a numeric id as is, a named one
 * pointing at its copy in storage (RUNNEL_NAME_SIZE_MAX + 1 bytes; a longer name is
 * truncated). For handles that outlive their options (producer, consumer).
 */
struct runnel_id client_copy_id(struct runnel_id id, char *storage);

/* Copies a slice into a NUL-terminated fixed buffer (truncating). */
void client_copy_text(char *destination, size_t destination_size, struct iggy_bytes text);

/* Closes the socket (no logout) and forgets the session. */
void client_disconnect(struct runnel_client *client);

#endif
