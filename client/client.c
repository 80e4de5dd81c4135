/*
 * librunnel: client lifetime (create/destroy with buffers sized once from the options),
 * the allocator hook, error descriptions, identifiers and random ids. Runs on the
 * caller's thread; owns the client struct and its two buffers.
 */
#include "client/client.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_command.h"
#include "proto/iggy_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

_Static_assert((int)RUNNEL_CLIENT_ECONFIG == (int)RUNNEL_ECONFIG, "client codes match lib/error.h");
_Static_assert((int)RUNNEL_CLIENT_ETRUNCATED == (int)RUNNEL_ETRUNCATED, "client codes match");
_Static_assert((int)RUNNEL_CLIENT_EFORMAT == (int)RUNNEL_EFORMAT, "client codes match");
_Static_assert((int)RUNNEL_CLIENT_ETOOLARGE == (int)RUNNEL_ETOOLARGE, "client codes match");
_Static_assert((int)RUNNEL_CLIENT_EFULL == (int)RUNNEL_EFULL, "client codes match");
_Static_assert((int)RUNNEL_CLIENT_EEMPTY == (int)RUNNEL_EEMPTY, "client codes match");
_Static_assert((int)RUNNEL_CLIENT_ENOTFOUND == (int)RUNNEL_ENOTFOUND, "client codes match");
_Static_assert((int)RUNNEL_CLIENT_EUNSUPPORTED == (int)RUNNEL_EUNSUPPORTED, "client codes match");
_Static_assert((int)RUNNEL_CLIENT_ESTATE == (int)RUNNEL_ESTATE, "client codes match");
_Static_assert((int)RUNNEL_CLIENT_ETOOOLD == (int)RUNNEL_ETOOOLD, "client codes match");
_Static_assert(RUNNEL_SERVER_ERROR_BASE > RUNNEL_ERROR_END, "server codes are disjoint");

static struct runnel_allocator client_allocator; /* zero: libc */

void runnel_set_allocator(const struct runnel_allocator *allocator)
{
    if (allocator == NULL) {
        memset(&client_allocator, 0, sizeof(client_allocator));
        return;
    }
    assert(allocator->malloc_function != NULL);
    assert(allocator->free_function != NULL);
    client_allocator = *allocator;
}

void *client_allocate(size_t size_bytes)
{
    assert(size_bytes > 0);
    if (client_allocator.malloc_function != NULL) {
        return client_allocator.malloc_function(size_bytes, client_allocator.context);
    }
    return malloc(size_bytes);
}

void client_free(void *pointer)
{
    if (pointer == NULL) {
        return;
    }
    if (client_allocator.free_function != NULL) {
        client_allocator.free_function(pointer, client_allocator.context);
        return;
    }
    free(pointer);
}

uint32_t runnel_server_error_code(int code)
{
    if (code >= 0 || code < -(RUNNEL_SERVER_ERROR_BASE + 1000000000)) {
        return 0;
    }
    int positive = -code;
    if (positive < RUNNEL_SERVER_ERROR_BASE) {
        return 0;
    }
    return (uint32_t)(positive - RUNNEL_SERVER_ERROR_BASE);
}

int client_server_error(uint32_t code)
{
    assert(code != 0);
    uint32_t capped = code > 1000000000u ? 1000000000u : code;
    int result = -(RUNNEL_SERVER_ERROR_BASE + (int)capped);
    assert(result < 0);
    return result;
}

const char *runnel_strerror(int code)
{
    uint32_t server_code = runnel_server_error_code(code);
    if (server_code != 0) {
        const char *name = iggy_error_name(server_code);
        return strcmp(name, "unknown") == 0 ? "server error (unknown code)" : name;
    }
    return error_text(code);
}

struct runnel_id runnel_id_number(uint32_t number)
{
    struct runnel_id id = {.number = number, .name = NULL};
    return id;
}

struct runnel_id runnel_id_name(const char *name)
{
    assert(name != NULL);
    struct runnel_id id = {.number = 0, .name = name};
    return id;
}

int runnel_id_parse(const char *text, struct runnel_id *id_out)
{
    if (text == NULL || id_out == NULL || text[0] == '\0') {
        return -EINVAL;
    }
    size_t length = strnlen(text, RUNNEL_NAME_SIZE_MAX + 1);
    if (length > RUNNEL_NAME_SIZE_MAX) {
        return -EINVAL;
    }
    bool is_number = length <= 10;
    uint64_t value = 0;
    for (size_t index = 0; index < length && is_number; index++) {
        is_number = text[index] >= '0' && text[index] <= '9';
        value = value * 10 + (uint64_t)(text[index] - '0');
    }
    if (is_number && value <= UINT32_MAX) {
        *id_out = runnel_id_number((uint32_t)value);
    } else {
        *id_out = runnel_id_name(text);
    }
    return 0;
}

int client_identifier(struct runnel_id id, struct iggy_identifier *out)
{
    assert(out != NULL);
    if (id.name == NULL) {
        *out = iggy_identifier_numeric(id.number);
        return 0;
    }
    size_t length = strnlen(id.name, RUNNEL_NAME_SIZE_MAX + 1);
    if (length == 0 || length > RUNNEL_NAME_SIZE_MAX) {
        return -EINVAL;
    }
    *out = iggy_identifier_string(iggy_bytes_from_string(id.name));
    assert(out->kind == IGGY_IDENTIFIER_STRING);
    return 0;
}

int client_ids_body(struct runnel_client *client, struct iggy_writer *writer, uint32_t count,
                    const struct runnel_id *ids)
{
    assert(client != NULL && writer != NULL && ids != NULL);
    assert(count >= 1 && count <= 3);
    struct iggy_identifier encoded[3];
    for (uint32_t index = 0; index < count; index++) {
        if (client_identifier(ids[index], &encoded[index]) != 0) {
            return -EINVAL;
        }
    }
    client_body_writer(client, writer);
    /* Three names of at most 255 bytes fit the body area (at least 64 KiB). */
    int result = iggy_command_identifiers_encode(writer, count, encoded);
    assert(result == 0);
    return 0;
}

int client_call_ids(struct runnel_client *client, uint32_t code, uint32_t count,
                    const struct runnel_id *ids)
{
    struct iggy_writer writer;
    if (client == NULL || client_ids_body(client, &writer, count, ids) != 0) {
        return -EINVAL;
    }
    return client_call_simple(client, code, &writer);
}

struct runnel_id client_copy_id(struct runnel_id id, char *storage)
{
    assert(storage != NULL);
    if (id.name == NULL) {
        return id;
    }
    size_t length = strnlen(id.name, RUNNEL_NAME_SIZE_MAX);
    memcpy(storage, id.name, length);
    storage[length] = '\0';
    return runnel_id_name(storage);
}

void client_copy_text(char *destination, size_t destination_size, struct iggy_bytes text)
{
    assert(destination != NULL);
    assert(destination_size > 0);
    size_t size = text.size < destination_size - 1 ? text.size : destination_size - 1;
    if (size > 0) {
        memcpy(destination, text.bytes, size);
    }
    destination[size] = '\0';
}

uint64_t client_random(struct runnel_client *client)
{
    assert(client != NULL);
    assert(client->random_state != 0);
    uint64_t x = client->random_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    client->random_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void runnel_client_options_init(struct runnel_client_options *options)
{
    assert(options != NULL);
    memset(options, 0, sizeof(*options));
    options->host = "127.0.0.1";
    options->port = RUNNEL_DEFAULT_PORT;
}

static uint32_t client_or_default(uint32_t value, uint32_t fallback)
{
    return value == 0 ? fallback : value;
}

static int client_options_apply(struct runnel_client *client,
                                const struct runnel_client_options *options)
{
    const char *host = options->host == NULL ? "127.0.0.1" : options->host;
    size_t host_length = strnlen(host, CLIENT_HOST_SIZE_MAX);
    if (host_length == 0 || host_length >= CLIENT_HOST_SIZE_MAX) {
        return -EINVAL;
    }
    memcpy(client->host, host, host_length + 1);
    client->port = options->port == 0 ? RUNNEL_DEFAULT_PORT : options->port;
    client->connect_timeout_ms = client_or_default(options->connect_timeout_ms, 5000);
    client->request_timeout_ms = client_or_default(options->request_timeout_ms, 30000);
    client->reconnect_attempts = options->reconnect_attempts;
    client->reconnect_backoff_ms = client_or_default(options->reconnect_backoff_ms, 500);
    client->is_exactly_once_wanted = !options->disable_exactly_once;
    client->send_capacity_bytes = client_or_default(options->send_size_bytes_max, 16u << 20);
    client->reply_capacity_bytes = client_or_default(options->reply_size_bytes_max, 16u << 20);
    if (client->send_capacity_bytes < CLIENT_SIZE_BYTES_MIN ||
        client->reply_capacity_bytes < CLIENT_SIZE_BYTES_MIN ||
        client->send_capacity_bytes > IGGY_FRAME_SIZE_MAX ||
        client->reply_capacity_bytes > IGGY_FRAME_SIZE_MAX) {
        return -EINVAL;
    }
    return 0;
}

static uint64_t client_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        seed = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^ (uint64_t)(uintptr_t)&now;
    }
    return seed == 0 ? 0x9E3779B97F4A7C15ULL : seed;
}

int runnel_client_create(const struct runnel_client_options *options,
                         struct runnel_client **client_out)
{
    if (client_out == NULL) {
        return -EINVAL;
    }
    *client_out = NULL;
    struct runnel_client_options defaults;
    runnel_client_options_init(&defaults);
    struct runnel_client *client = client_allocate(sizeof(*client));
    if (client == NULL) {
        return -ENOMEM;
    }
    memset(client, 0, sizeof(*client));
    client->fd = -1;
    int result = client_options_apply(client, options == NULL ? &defaults : options);
    if (result == 0) {
        client->send_buffer = client_allocate(client->send_capacity_bytes);
        client->reply_buffer = client_allocate(client->reply_capacity_bytes);
        result = client->send_buffer == NULL || client->reply_buffer == NULL ? -ENOMEM : 0;
    }
    if (result != 0) {
        runnel_client_destroy(client);
        return result;
    }
    client->random_state = client_seed();
    *client_out = client;
    assert(client->fd == -1);
    return 0;
}

int runnel_client_set_endpoint(struct runnel_client *client, const char *host, uint16_t port)
{
    if (client == NULL) {
        return -EINVAL;
    }
    host = host == NULL ? "127.0.0.1" : host;
    size_t host_length = strnlen(host, CLIENT_HOST_SIZE_MAX);
    if (host_length == 0 || host_length >= CLIENT_HOST_SIZE_MAX) {
        return -EINVAL;
    }
    client_disconnect(client);
    memcpy(client->host, host, host_length + 1);
    client->port = port == 0 ? RUNNEL_DEFAULT_PORT : port;
    return 0;
}

void runnel_client_repeat_sequence(struct runnel_client *client)
{
    if (client != NULL && client->has_exactly_once && client->is_sequence_open &&
        client->partition_sequence > 0) {
        client->partition_sequence--;
        client->is_sequence_open = false;
    }
}

void runnel_client_destroy(struct runnel_client *client)
{
    if (client == NULL) {
        return;
    }
    client_disconnect(client);
    explicit_bzero(client->password, sizeof(client->password));
    explicit_bzero(client->token, sizeof(client->token));
    client_free(client->send_buffer);
    client_free(client->reply_buffer);
    client_free(client);
}

bool runnel_client_is_logged_in(const struct runnel_client *client)
{
    assert(client != NULL);
    return client->is_logged_in;
}

bool runnel_client_is_runneld(const struct runnel_client *client)
{
    assert(client != NULL);
    return client->is_runneld;
}

bool runnel_client_has_exactly_once(const struct runnel_client *client)
{
    assert(client != NULL);
    return client->has_exactly_once;
}

const char *runnel_client_server_version(const struct runnel_client *client)
{
    assert(client != NULL);
    return client->server_version;
}

uint32_t runnel_client_user_id(const struct runnel_client *client)
{
    assert(client != NULL);
    return client->user_id;
}

uint64_t runnel_client_connection_count(const struct runnel_client *client)
{
    assert(client != NULL);
    return client->connection_count;
}
