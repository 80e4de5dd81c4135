/*
 * librunnel: the connection. TCP connect with a timeout, frames out (header + body in
 * one sendmsg) and in (256-byte header, then the body) with a deadline, request
 * numbering (Iggy's counter, or runnel's exactly-once sequence for partition ops),
 * reply validation (eviction, status, result section, transient retry), login, logout,
 * ping and reconnect after a lost connection. Runs on the caller's thread, blocking
 * (non-blocking socket + poll for the deadlines).
 */
#include "client/client.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_command.h"
#include "proto/iggy_error.h"
#include "proto/iggy_users.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum {
    REGISTER_BODY_SIZE_MAX = 4 + 256 * 3 + 256 + 4 + 64,
    TRANSIENT_ROUNDS_MAX = 1000,
    IO_ROUNDS_MAX = 1 << 30,
};

static uint64_t connection_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static void connection_sleep_ms(uint32_t milliseconds)
{
    struct timespec delay = {.tv_sec = milliseconds / 1000,
                             .tv_nsec = (long)(milliseconds % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

/* Waits for events on the socket until deadline_ms; 0, -ETIMEDOUT or -errno. */
static int connection_wait(int fd, short events, uint64_t deadline_ms)
{
    assert(fd >= 0);
    assert(events != 0);
    for (int round = 0; round < IO_ROUNDS_MAX; round++) {
        uint64_t now_ms = connection_now_ms();
        if (now_ms >= deadline_ms) {
            return -ETIMEDOUT;
        }
        struct pollfd descriptor = {.fd = fd, .events = events, .revents = 0};
        uint64_t wait_ms = deadline_ms - now_ms;
        int ready = poll(&descriptor, 1, wait_ms > 60000 ? 60000 : (int)wait_ms);
        if (ready > 0) {
            return 0;
        }
        if (ready < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return -ETIMEDOUT;
}

void client_disconnect(struct runnel_client *client)
{
    assert(client != NULL);
    if (client->fd >= 0) {
        close(client->fd);
    }
    client->fd = -1;
    client->is_logged_in = false;
    client->session = 0;
    if (!client->keeps_identity) {
        client->request_counter = 1;
    }
    assert(client->fd == -1);
}

static int connection_open(const struct addrinfo *address, uint64_t deadline_ms, int *fd_out)
{
    int fd = socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    address->ai_protocol);
    if (fd < 0) {
        return -errno;
    }
    int result = 0;
    if (connect(fd, address->ai_addr, address->ai_addrlen) != 0) {
        result = errno == EINPROGRESS ? connection_wait(fd, POLLOUT, deadline_ms) : -errno;
        int error = 0;
        socklen_t error_size = sizeof(error);
        if (result == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_size) != 0) {
            result = -errno;
        } else if (result == 0 && error != 0) {
            result = -error;
        }
    }
    if (result != 0) {
        close(fd);
        return result;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *fd_out = fd;
    return 0;
}

int runnel_client_connect(struct runnel_client *client)
{
    if (client == NULL) {
        return -EINVAL;
    }
    client_disconnect(client);
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%u", (unsigned)client->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *addresses = NULL;
    if (getaddrinfo(client->host, port_text, &hints, &addresses) != 0 || addresses == NULL) {
        return -RUNNEL_ECONFIG;
    }
    uint64_t deadline_ms = connection_now_ms() + client->connect_timeout_ms;
    int result = -ECONNREFUSED;
    int address_count = 0;
    for (struct addrinfo *address = addresses; address != NULL && address_count < 16;
         address = address->ai_next, address_count++) {
        result = connection_open(address, deadline_ms, &client->fd);
        if (result == 0) {
            break;
        }
    }
    freeaddrinfo(addresses);
    if (result != 0) {
        return result;
    }
    client->connection_count++;
    bool keeps_id = client->has_exactly_once || client->keeps_identity;
    if (!keeps_id || client->client_id == 0) {
        client->client_id = ((iggy_u128)client_random(client) << 64) | client_random(client);
        client->client_id |= 1;
    }
    if (!client->keeps_identity) {
        client->request_counter = 1;
    }
    assert(client->fd >= 0);
    return 0;
}

static bool connection_is_lost(int code)
{
    return code == -ECONNRESET || code == -EPIPE || code == -ENOTCONN || code == -ECONNABORTED;
}

static int connection_send(struct runnel_client *client, const struct iggy_request_header *header,
                           const uint8_t *body, uint32_t body_size, uint64_t deadline_ms)
{
    struct iovec parts[2] = {{.iov_base = (void *)header, .iov_len = IGGY_HEADER_SIZE},
                             {.iov_base = (void *)body, .iov_len = body_size}};
    size_t total = IGGY_HEADER_SIZE + (size_t)body_size;
    size_t sent = 0;
    for (int round = 0; round < IO_ROUNDS_MAX && sent < total; round++) {
        struct iovec remaining[2];
        int count = 0;
        if (sent < IGGY_HEADER_SIZE) {
            remaining[count++] = (struct iovec){.iov_base = (uint8_t *)parts[0].iov_base + sent,
                                                .iov_len = IGGY_HEADER_SIZE - sent};
        }
        size_t body_sent = sent > IGGY_HEADER_SIZE ? sent - IGGY_HEADER_SIZE : 0;
        if (body_size > body_sent) {
            remaining[count++] = (struct iovec){.iov_base = (uint8_t *)body + body_sent,
                                                .iov_len = body_size - body_sent};
        }
        struct msghdr message = {.msg_iov = remaining, .msg_iovlen = (size_t)count};
        ssize_t written = sendmsg(client->fd, &message, MSG_NOSIGNAL);
        if (written > 0) {
            sent += (size_t)written;
        } else if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int result = connection_wait(client->fd, POLLOUT, deadline_ms);
            if (result != 0) {
                return result;
            }
        } else if (written < 0 && errno != EINTR) {
            return -errno;
        }
    }
    assert(sent == total);
    return 0;
}

static int connection_receive(struct runnel_client *client, uint8_t *into, uint32_t size,
                              uint64_t deadline_ms)
{
    assert(into != NULL);
    uint32_t received = 0;
    for (int round = 0; round < IO_ROUNDS_MAX && received < size; round++) {
        ssize_t got = recv(client->fd, into + received, size - received, 0);
        if (got > 0) {
            received += (uint32_t)got;
        } else if (got == 0) {
            return -ECONNRESET;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int result = connection_wait(client->fd, POLLIN, deadline_ms);
            if (result != 0) {
                return result;
            }
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return received == size ? 0 : -ETIMEDOUT;
}

/* One frame out, one frame in; info describes the validated reply header. */
static int connection_exchange(struct runnel_client *client,
                               const struct iggy_request_header *header, const uint8_t *body,
                               uint32_t body_size, struct iggy_reply_info *info)
{
    if (client->fd < 0) {
        return -ENOTCONN;
    }
    uint64_t deadline_ms = connection_now_ms() + client->request_timeout_ms;
    int result = connection_send(client, header, body, body_size, deadline_ms);
    if (result == 0) {
        result = connection_receive(client, client->reply_buffer, IGGY_HEADER_SIZE, deadline_ms);
    }
    if (result == 0) {
        result = iggy_header_reply_check(client->reply_buffer, client->reply_capacity_bytes, info);
    }
    if (result == 0 && info->size > IGGY_HEADER_SIZE) {
        result = connection_receive(client, client->reply_buffer + IGGY_HEADER_SIZE,
                                    info->size - IGGY_HEADER_SIZE, deadline_ms);
    }
    if (result != 0) {
        /* The stream position is unknown now (timeout, garbage, loss): start over. */
        client_disconnect(client);
    }
    return result;
}

/* Reply header checked: eviction, status, then the result section if framed. */
static int connection_reply(struct runnel_client *client, const struct iggy_reply_info *info,
                            struct client_reply *reply_out, uint32_t *result_code_out)
{
    *result_code_out = 0;
    if (info->command == IGGY_FRAME_EVICTION) {
        uint32_t code = iggy_header_eviction_error(info->reason, info->protocol_version_max,
                                                   info->protocol_version_min);
        client->is_logged_in = false;
        client->session = 0;
        return client_server_error(code == 0 ? IGGY_ERROR_UNAUTHENTICATED : code);
    }
    uint32_t body_size = info->size - IGGY_HEADER_SIZE;
    if (info->status != 0) {
        /* Iggy's SDK replays 57/58 whether they come as the status or the result
         * section (a partition not yet routable answers status 58). */
        *result_code_out = info->status;
        return client_server_error(info->status);
    }
    reply_out->body = client->reply_buffer + IGGY_HEADER_SIZE;
    reply_out->body_size = body_size;
    reply_out->operation = info->operation;
    if (!iggy_header_is_result_framed(info->operation, body_size)) {
        return 0;
    }
    struct iggy_reader reader;
    iggy_reader_init(&reader, reply_out->body, body_size);
    uint32_t code = 0;
    iggy_wire_result_decode(&reader, &code);
    if (reader.error != 0) {
        return reader.error;
    }
    if (code != 0) {
        *result_code_out = code;
        return client_server_error(code);
    }
    reply_out->body += reader.offset;
    reply_out->body_size -= reader.offset;
    return 0;
}

static uint64_t connection_request_number(struct runnel_client *client, uint8_t operation)
{
    if (operation == IGGY_OPERATION_REGISTER) {
        return 0;
    }
    if (operation == IGGY_OPERATION_NON_REPLICATED) {
        return client->request_counter;
    }
    if (operation >= IGGY_OPERATION_SEND_MESSAGES &&
        operation <= IGGY_OPERATION_DELETE_CONSUMER_OFFSET) {
        if (client->has_exactly_once) {
            client->partition_sequence++;
            client->is_sequence_open = true;
            return client->partition_sequence;
        }
        return client->request_counter;
    }
    uint64_t number = client->request_counter;
    client->request_counter++;
    return number;
}

/* Sends one request (already numbered) and retries transient rejections (57, 58). */
static int connection_round_trip(struct runnel_client *client,
                                 const struct iggy_request_header *header, const uint8_t *body,
                                 uint32_t body_size, struct client_reply *reply_out)
{
    uint64_t deadline_ms = connection_now_ms() + client->request_timeout_ms;
    int result = -ETIMEDOUT;
    for (int round = 0; round < TRANSIENT_ROUNDS_MAX; round++) {
        struct iggy_reply_info info;
        result = connection_exchange(client, header, body, body_size, &info);
        if (result != 0) {
            return result;
        }
        uint32_t result_code = 0;
        result = connection_reply(client, &info, reply_out, &result_code);
        bool is_transient = result_code == IGGY_ERROR_TRANSIENT_NOT_COMMITTED ||
                            result_code == IGGY_ERROR_TRANSIENT_NOT_ACCEPTED;
        if (!is_transient || connection_now_ms() >= deadline_ms) {
            return result;
        }
        connection_sleep_ms(CLIENT_TRANSIENT_RETRY_MS);
    }
    return result;
}

static int connection_send_request(struct runnel_client *client, uint32_t code, const uint8_t *body,
                                   uint32_t body_size, struct client_reply *reply_out)
{
    uint8_t operation = iggy_command_operation(code);
    bool stamp = operation == IGGY_OPERATION_REGISTER || operation == IGGY_OPERATION_LOGOUT ||
                 (operation >= IGGY_OPERATION_CREATE_STREAM &&
                  operation <= IGGY_OPERATION_LEAVE_CONSUMER_GROUP);
    uint64_t session = operation == IGGY_OPERATION_REGISTER ? 0 : client->session;
    uint64_t number = connection_request_number(client, operation);
    struct iggy_request_header header;
    iggy_header_request_init(&header, client->client_id, session, number, operation, code, body,
                             body_size, stamp);
    int result = connection_round_trip(client, &header, body, body_size, reply_out);
    uint32_t status = runnel_server_error_code(result);
    bool is_partition = operation >= IGGY_OPERATION_SEND_MESSAGES &&
                        operation <= IGGY_OPERATION_DELETE_CONSUMER_OFFSET;
    if (is_partition &&
        (result == 0 || (status != 0 && status != IGGY_ERROR_TRANSIENT_NOT_COMMITTED &&
                         status != IGGY_ERROR_TRANSIENT_NOT_ACCEPTED))) {
        client->is_sequence_open = false; /* a definite answer: never repeated */
    }
    return result;
}

static int connection_register(struct runnel_client *client)
{
    uint8_t body[REGISTER_BODY_SIZE_MAX];
    struct iggy_writer writer;
    iggy_writer_init(&writer, body, sizeof(body));
    struct iggy_register request;
    memset(&request, 0, sizeof(request));
    request.version.protocol_version = IGGY_PROTOCOL_VERSION;
    request.version.sdk_name = iggy_bytes_from_string("runnel-c-sdk");
    request.version.sdk_version = iggy_bytes_from_string(RUNNEL_CLIENT_VERSION);
    struct iggy_bytes context = client->is_exactly_once_wanted
                                    ? iggy_bytes_from_string(CLIENT_EXACTLY_ONCE_CONTEXT)
                                    : iggy_bytes_from_string("");
    bool with_token = client->login_kind == CLIENT_LOGIN_TOKEN;
    if (with_token) {
        request.token = iggy_bytes_from_string(client->token);
        request.token_context = context;
    } else {
        request.username = iggy_bytes_from_string(client->username);
        request.password = iggy_bytes_from_string(client->password);
        request.password_context = context;
    }
    int result = iggy_users_register_encode(&writer, &request, with_token);
    if (result != 0) {
        return -EINVAL;
    }
    struct client_reply reply;
    uint32_t code = with_token ? IGGY_COMMAND_LOGIN_REGISTER_WITH_PAT : IGGY_COMMAND_LOGIN_REGISTER;
    result = connection_send_request(client, code, body, writer.size, &reply);
    explicit_bzero(body, sizeof(body));
    if (result != 0) {
        return result;
    }
    struct iggy_register_reply decoded;
    struct iggy_reader reader;
    /* connection_reply stripped the result prefix; the decoder wants it back. */
    iggy_reader_init(&reader, reply.body - 4, reply.body_size + 4);
    if (reply.body_size == 0 || reply.operation != IGGY_OPERATION_REGISTER ||
        iggy_users_register_reply_decode(&reader, &decoded) != 0 || decoded.session == 0) {
        client_disconnect(client);
        return -RUNNEL_EFORMAT;
    }
    client->session = decoded.session;
    client->user_id = decoded.user_id;
    client->is_logged_in = true;
    client_copy_text(client->server_version, sizeof(client->server_version),
                     decoded.server_version);
    size_t prefix_size = strlen(CLIENT_RUNNELD_VERSION_PREFIX);
    client->is_runneld =
        strncmp(client->server_version, CLIENT_RUNNELD_VERSION_PREFIX, prefix_size) == 0;
    if (client->is_runneld && client->is_exactly_once_wanted && !client->has_exactly_once) {
        client->has_exactly_once = true; /* keeps the client id from now on */
    }
    /* Iggy's server resumes a session whose client comes back with its id and numbering
     * (its client table survives a restart; a crash leaves no logout), so a group member
     * keeps its partitions instead of becoming a second member waiting for the first. */
    client->keeps_identity = !client->is_runneld;
    return 0;
}

/* Reconnects and logs in again with the stored credentials (bounded attempts). */
static int connection_recover(struct runnel_client *client)
{
    int result = -ENOTCONN;
    for (uint32_t attempt = 0; attempt < client->reconnect_attempts; attempt++) {
        if (attempt > 0) {
            connection_sleep_ms(client->reconnect_backoff_ms);
        }
        result = runnel_client_connect(client);
        if (result == 0 && client->login_kind != CLIENT_LOGIN_NONE) {
            result = connection_register(client);
        }
        if (result == 0 || (!connection_is_lost(result) && result != -ECONNREFUSED &&
                            result != -ETIMEDOUT && result != -ENOTCONN)) {
            return result;
        }
    }
    return result;
}

void client_body_writer(struct runnel_client *client, struct iggy_writer *writer)
{
    assert(client != NULL);
    assert(writer != NULL);
    iggy_writer_init(writer, client->send_buffer, client->send_capacity_bytes - IGGY_HEADER_SIZE);
}

int client_call(struct runnel_client *client, uint32_t code, const struct iggy_writer *writer,
                struct client_reply *reply_out)
{
    assert(client != NULL);
    assert(writer != NULL && reply_out != NULL);
    if (writer->error != 0) {
        return writer->error == -RUNNEL_ETOOLARGE ? -RUNNEL_ETOOLARGE : -EINVAL;
    }
    bool can_recover = client->reconnect_attempts > 0 && client->login_kind != CLIENT_LOGIN_NONE;
    if (client->fd < 0 && can_recover) {
        int result = connection_recover(client);
        if (result != 0) {
            return result;
        }
    }
    if (client->fd < 0) {
        return -ENOTCONN;
    }
    uint64_t sequence = client->partition_sequence;
    int result = connection_send_request(client, code, writer->bytes, writer->size, reply_out);
    if (!connection_is_lost(result) || !can_recover) {
        return result;
    }
    result = connection_recover(client);
    if (result != 0) {
        return result;
    }
    /* Exactly-once: the resend carries the same sequence number, so it is applied once. */
    client->partition_sequence = sequence;
    return connection_send_request(client, code, writer->bytes, writer->size, reply_out);
}

int client_call_simple(struct runnel_client *client, uint32_t code,
                       const struct iggy_writer *writer)
{
    struct client_reply reply;
    return client_call(client, code, writer, &reply);
}

int client_call_reader(struct runnel_client *client, uint32_t code,
                       const struct iggy_writer *writer, struct iggy_reader *reader_out)
{
    assert(reader_out != NULL);
    struct client_reply reply;
    int result = client_call(client, code, writer, &reply);
    if (result != 0) {
        return result;
    }
    iggy_reader_init(reader_out, reply.body, reply.body_size);
    return 0;
}

int client_call_found(struct runnel_client *client, uint32_t code, const struct iggy_writer *writer,
                      struct iggy_reader *reader_out)
{
    int result = client_call_reader(client, code, writer, reader_out);
    if (result != 0) {
        return result;
    }
    return reader_out->size == 0 ? -RUNNEL_ENOTFOUND : 0;
}

/* Bounds the entries of one list reply (each takes at least one byte). */
enum { CONNECTION_LIST_ENTRIES_MAX = 1 << 24 };

int client_call_list(struct runnel_client *client, uint32_t code, const struct iggy_writer *writer,
                     const struct client_list *list, uint32_t *count_out)
{
    assert(list != NULL && list->decode != NULL && count_out != NULL);
    assert(list->entries != NULL || list->entries_max == 0);
    *count_out = 0;
    struct iggy_reader reader;
    int result = client_call_reader(client, code, writer, &reader);
    if (result != 0) {
        return result;
    }
    uint32_t count = 0;
    for (; count < CONNECTION_LIST_ENTRIES_MAX && iggy_reader_remaining(&reader) > 0; count++) {
        uint8_t *entry = NULL;
        if (count < list->entries_max) {
            entry = (uint8_t *)list->entries + (size_t)count * list->entry_size_bytes;
        }
        result = list->decode(&reader, entry);
        if (result != 0) {
            return result;
        }
    }
    *count_out = count;
    return 0;
}

static int connection_store(char *destination, const char *source)
{
    if (source == NULL) {
        return -EINVAL;
    }
    size_t length = strnlen(source, CLIENT_CREDENTIAL_SIZE_MAX);
    if (length == 0 || length >= CLIENT_CREDENTIAL_SIZE_MAX) {
        return -EINVAL;
    }
    memcpy(destination, source, length + 1);
    return 0;
}

/*
 * Logs in with the credentials of kind, already stored in the client, and keeps kind for
 * reconnects (even when not connected: -ENOTCONN then). A session already open is
 * logged out first; logout forgets the kind, so it is set again.
 */
static int connection_login(struct runnel_client *client, enum client_login_kind kind)
{
    assert(kind == CLIENT_LOGIN_PASSWORD || kind == CLIENT_LOGIN_TOKEN);
    client->login_kind = kind;
    if (client->fd < 0) {
        return -ENOTCONN;
    }
    if (client->is_logged_in) {
        int result = runnel_logout(client);
        if (result != 0) {
            return result;
        }
        client->login_kind = kind;
    }
    return connection_register(client);
}

int runnel_login_password(struct runnel_client *client, const char *username, const char *password)
{
    if (client == NULL || connection_store(client->username, username) != 0 ||
        connection_store(client->password, password) != 0) {
        return -EINVAL;
    }
    return connection_login(client, CLIENT_LOGIN_PASSWORD);
}

int runnel_login_token(struct runnel_client *client, const char *token)
{
    if (client == NULL || connection_store(client->token, token) != 0) {
        return -EINVAL;
    }
    return connection_login(client, CLIENT_LOGIN_TOKEN);
}

int runnel_connect_and_login(struct runnel_client *client, const char *username,
                             const char *password)
{
    if (client == NULL) {
        return -EINVAL;
    }
    int result = client->fd < 0 ? runnel_client_connect(client) : 0;
    return result != 0 ? result : runnel_login_password(client, username, password);
}

int runnel_logout(struct runnel_client *client)
{
    if (client == NULL) {
        return -EINVAL;
    }
    if (client->fd < 0) {
        return -ENOTCONN;
    }
    struct client_reply reply;
    int result = connection_send_request(client, IGGY_COMMAND_USER_LOGOUT, NULL, 0, &reply);
    client->is_logged_in = false;
    client->session = 0;
    client->login_kind = CLIENT_LOGIN_NONE;
    return result;
}

int runnel_ping(struct runnel_client *client)
{
    if (client == NULL) {
        return -EINVAL;
    }
    struct iggy_writer writer;
    client_body_writer(client, &writer);
    return client_call_simple(client, IGGY_COMMAND_PING, &writer);
}
