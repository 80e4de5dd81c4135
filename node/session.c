/*
 * Client sessions (see session.h). Owns nothing beyond the struct; runs on the
 * connection's home shard.
 */
#include "node/session.h"

#include "lib/assert.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

void session_open(struct session *session)
{
    assert(session != NULL);
    assert(session->state == SESSION_FREE);
    uint64_t generation = session->generation + 1;
    memset(session, 0, sizeof(*session));
    session->generation = generation;
    session->state = SESSION_UNBOUND;
}

void session_close(struct session *session)
{
    assert(session != NULL);
    assert(session->state != SESSION_FREE);
    uint64_t generation = session->generation + 1;
    memset(session, 0, sizeof(*session));
    session->generation = generation;
    assert(session->state == SESSION_FREE);
}

void session_bind(struct session *session, u128 client, uint64_t session_epoch, uint32_t user_id,
                  bool is_exactly_once)
{
    assert(session != NULL && session->state != SESSION_FREE);
    assert(client != 0 && session_epoch != 0);
    session->state = SESSION_BOUND;
    session->client = client;
    session->session = session_epoch;
    session->user_id = user_id;
    session->is_exactly_once = is_exactly_once;
}

void session_unbind(struct session *session)
{
    assert(session != NULL);
    assert(session->state == SESSION_BOUND);
    session->state = SESSION_UNBOUND;
    session->client = 0;
    session->session = 0;
    session->user_id = 0;
    session->is_exactly_once = false;
}

bool session_is_bound(const struct session *session)
{
    assert(session != NULL);
    assert(session->state <= SESSION_BOUND);
    return session->state == SESSION_BOUND;
}

static uint32_t session_seen_position(uint32_t metadata_slot)
{
    uint32_t position = (metadata_slot * 2654435761u) >> 28;
    _Static_assert(SESSION_SEEN_MAX == 16, "the hash keeps four bits");
    assert(position < SESSION_SEEN_MAX);
    return position;
}

void session_seen_note(struct session *session, uint32_t metadata_slot, uint64_t incarnation,
                       uint64_t op)
{
    assert(session != NULL);
    assert(incarnation != 0);
    struct session_seen *seen = &session->seen[session_seen_position(metadata_slot)];
    bool is_same = seen->incarnation == incarnation && seen->metadata_slot == metadata_slot;
    if (!is_same) {
        if (seen->incarnation != 0) {
            seen->is_unknown = true; /* the other group's floor is forgotten */
        }
        seen->metadata_slot = metadata_slot;
        seen->incarnation = incarnation;
        seen->op = op;
        return;
    }
    if (op > seen->op) {
        seen->op = op;
    }
    assert(seen->op >= op);
}

bool session_seen_floor(const struct session *session, uint32_t metadata_slot, uint64_t incarnation,
                        uint64_t *op_out)
{
    assert(session != NULL && op_out != NULL);
    const struct session_seen *seen = &session->seen[session_seen_position(metadata_slot)];
    *op_out = 0;
    if (seen->incarnation == incarnation && seen->metadata_slot == metadata_slot) {
        *op_out = seen->op;
        return true;
    }
    return !seen->is_unknown;
}

void session_seen_forget(struct session *session)
{
    assert(session != NULL);
    for (uint32_t position = 0; position < SESSION_SEEN_MAX; position++) {
        session->seen[position] = (struct session_seen){.is_unknown = true};
    }
}

void session_address_load(struct session *session, int fd)
{
    assert(session != NULL);
    assert(fd >= 0);
    if (session->has_address) {
        return;
    }
    struct sockaddr_storage address;
    socklen_t size = sizeof(address);
    session->has_address = true;
    if (getpeername(fd, (struct sockaddr *)&address, &size) != 0) {
        return;
    }
    if (address.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&address;
        memcpy(session->address, &in->sin_addr, 4);
        session->address_size = 4;
        session->port = ntohs(in->sin_port);
    } else if (address.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&address;
        memcpy(session->address, &in6->sin6_addr, 16);
        session->address_size = 16;
        session->port = ntohs(in6->sin6_port);
    }
}
