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
