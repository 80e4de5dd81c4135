/*
 * VSR client sessions: the committed client table of a group (research/vsr.md §1.9,
 * DESIGN.md §4 and §10.11). A register op opens a session (session = its commit op); a
 * logout op or, for exactly-once sessions, a TTL in log time releases it. At-most-once
 * sessions keep the reply of their latest request; exactly-once sessions keep the replies
 * of their recent request numbers in a bounded window (the lowest number leaves first and
 * raises the session's floor): a duplicate gets the original reply, a number at or below
 * the floor gets an explicit "request too old" reply and is never executed. Every decision
 * is made when an op executes, from committed state only, so every replica decides alike.
 * Runs on the shard that owns the group.
 */
#include "lib/assert.h"
#include "vsr/replica_private.h"

#include <string.h>

struct vsr_client_session *vsr_replica_session_find(struct vsr_replica *replica, u128 client)
{
    assert(client != 0);
    assert(replica->config.clients_max >= 1);
    for (uint32_t index = 0; index < replica->config.clients_max; index++) {
        if (replica->sessions[index].client == client) {
            return &replica->sessions[index];
        }
    }
    return NULL;
}

/* The window slots of session: exactly_once_window_max entries. */
static struct vsr_window_entry *vsr_replica_window_of(struct vsr_replica *replica,
                                                      const struct vsr_client_session *session)
{
    uint64_t index = (uint64_t)(session - replica->sessions);
    assert(index < replica->config.clients_max);
    assert(replica->config.exactly_once_window_max > 0);
    return &replica->window_entries[index * replica->config.exactly_once_window_max];
}

static uint8_t *vsr_replica_window_body(struct vsr_replica *replica,
                                        const struct vsr_window_entry *entry)
{
    uint64_t index = (uint64_t)(entry - replica->window_entries);
    assert(index < (uint64_t)replica->config.clients_max * replica->config.exactly_once_window_max);
    assert(entry->request != 0);
    return replica->window_bodies + index * replica->config.reply_size_max;
}

struct vsr_window_entry *vsr_replica_window_find(struct vsr_replica *replica,
                                                 const struct vsr_client_session *session,
                                                 uint64_t request)
{
    assert(session->exactly_once);
    assert(request != 0);
    struct vsr_window_entry *window = vsr_replica_window_of(replica, session);
    for (uint32_t index = 0; index < replica->config.exactly_once_window_max; index++) {
        if (window[index].request == request) {
            return &window[index];
        }
    }
    return NULL;
}

void vsr_replica_window_reply_send(struct vsr_replica *replica,
                                   const struct vsr_client_session *session,
                                   const struct vsr_window_entry *entry)
{
    assert(session->client == entry->reply.u.reply.client);
    assert(entry->reply.command == VSR_COMMAND_REPLY);
    replica->bus.reply(session->client, &entry->reply, vsr_replica_window_body(replica, entry),
                       replica->bus.context);
}

/* Empties session (and its window): the slot is free again. */
static void vsr_replica_session_release(struct vsr_replica *replica,
                                        struct vsr_client_session *session)
{
    assert(session->client != 0);
    if (replica->config.exactly_once_window_max > 0) {
        struct vsr_window_entry *window = vsr_replica_window_of(replica, session);
        memset(window, 0, replica->config.exactly_once_window_max * sizeof(*window));
    }
    memset(session, 0, sizeof(*session));
    assert(session->client == 0);
}

/* Returns client's session, taking a free one or evicting the oldest commit. */
static struct vsr_client_session *vsr_replica_session_take(struct vsr_replica *replica, u128 client)
{
    struct vsr_client_session *session = vsr_replica_session_find(replica, client);
    if (session != NULL) {
        return session;
    }
    struct vsr_client_session *oldest = &replica->sessions[0];
    for (uint32_t index = 0; index < replica->config.clients_max; index++) {
        struct vsr_client_session *candidate = &replica->sessions[index];
        if (candidate->client == 0) {
            oldest = candidate;
            break;
        }
        if (candidate->commit_op < oldest->commit_op) {
            oldest = candidate;
        }
    }
    if (oldest->client != 0) {
        vsr_replica_session_release(replica, oldest);
    }
    oldest->client = client;
    assert(oldest->client != 0);
    return oldest;
}

void vsr_replica_reply_build(struct vsr_replica *replica, struct vsr_header *reply,
                             const struct vsr_header *prepare_header, uint32_t reply_size,
                             uint8_t status)
{
    const struct vsr_header_prepare *prepare = &prepare_header->u.prepare;
    assert(reply_size <= replica->config.reply_size_max);
    assert(prepare->client != 0);
    vsr_header_init(reply, VSR_COMMAND_REPLY, replica->config.cluster, replica->view,
                    replica->config.replica, &replica->config.group);
    reply->u.reply.request_checksum = prepare->request_checksum;
    reply->u.reply.context = prepare_header->checksum;
    reply->u.reply.client = prepare->client;
    reply->u.reply.op = prepare->op;
    reply->u.reply.commit = prepare->op;
    reply->u.reply.timestamp = prepare->timestamp;
    reply->u.reply.request = prepare->request;
    reply->u.reply.operation = prepare->operation;
    reply->u.reply.status = status;
    vsr_header_seal(reply, replica->reply_buffer, reply_size);
}

/* True when this replica should send replies now (it leads a durable view). */
static bool vsr_replica_is_replying(const struct vsr_replica *replica)
{
    assert(replica->status != 0);
    return vsr_replica_is_primary(replica) && vsr_replica_view_is_durable(replica);
}

/* Register: a new session (or a reconnecting exactly-once client keeps its window). */
static void vsr_replica_session_register(struct vsr_replica *replica,
                                         const struct vsr_header *header)
{
    const struct vsr_header_prepare *prepare = &header->u.prepare;
    assert(prepare->operation == VSR_OPERATION_REGISTER);
    struct vsr_client_session *session = vsr_replica_session_take(replica, prepare->client);
    bool exactly_once = (prepare->request_flags & VSR_REQUEST_FLAG_EXACTLY_ONCE) != 0 &&
                        replica->config.exactly_once_window_max > 0;
    if (session->exactly_once && !exactly_once) {
        vsr_replica_session_release(replica, session); /* the window goes with the opt-in */
        session->client = prepare->client;
    }
    if (!exactly_once) {
        session->request = 0;
    }
    session->exactly_once = exactly_once;
    session->session = prepare->op; /* sessions only increase */
    session->commit_op = prepare->op;
    session->timestamp = prepare->timestamp;
    session->reply_size_bytes = 0;
    vsr_replica_reply_build(replica, &session->reply, header, 0, VSR_REPLY_STATUS_OK);
    if (vsr_replica_is_replying(replica)) {
        vsr_replica_reply_send(replica, session, replica->reply_buffer);
    }
}

/* Logout: the session and its replies are released; the reply is not kept. */
static void vsr_replica_session_logout(struct vsr_replica *replica,
                                       struct vsr_client_session *session,
                                       const struct vsr_header *header)
{
    assert(header->u.prepare.operation == VSR_OPERATION_LOGOUT);
    assert(session->client == header->u.prepare.client);
    struct vsr_header reply;
    vsr_replica_reply_build(replica, &reply, header, 0, VSR_REPLY_STATUS_OK);
    vsr_replica_session_release(replica, session);
    if (vsr_replica_is_replying(replica)) {
        replica->bus.reply(header->u.prepare.client, &reply, NULL, replica->bus.context);
    }
}

/* Exactly-once: executes a new number and keeps its reply; answers duplicates and old ones. */
static void vsr_replica_execute_exactly_once(struct vsr_replica *replica,
                                             struct vsr_client_session *session,
                                             const struct vsr_header *header, const void *body)
{
    uint64_t request = header->u.prepare.request;
    assert(session->exactly_once);
    struct vsr_window_entry *entry = vsr_replica_window_find(replica, session, request);
    if (entry != NULL) {
        if (vsr_replica_is_replying(replica)) {
            vsr_replica_window_reply_send(replica, session, entry); /* committed twice */
        }
        return;
    }
    if (request <= session->request_floor) {
        struct vsr_header reply;
        vsr_replica_reply_build(replica, &reply, header, 0, VSR_REPLY_STATUS_REQUEST_TOO_OLD);
        if (vsr_replica_is_replying(replica)) {
            replica->bus.reply(session->client, &reply, NULL, replica->bus.context);
        }
        return;
    }
    uint32_t reply_size = replica->state_machine.apply(header, body, replica->reply_buffer,
                                                       replica->config.reply_size_max,
                                                       replica->state_machine.context);
    assert(reply_size <= replica->config.reply_size_max);
    struct vsr_window_entry *window = vsr_replica_window_of(replica, session);
    entry = &window[0];
    for (uint32_t index = 0; index < replica->config.exactly_once_window_max; index++) {
        if (window[index].request < entry->request) {
            entry = &window[index]; /* a free slot (0) or the lowest number */
        }
    }
    if (entry->request > session->request_floor) {
        session->request_floor = entry->request;
    }
    entry->request = request;
    entry->reply_size_bytes = reply_size;
    vsr_replica_reply_build(replica, &entry->reply, header, reply_size, VSR_REPLY_STATUS_OK);
    memcpy(vsr_replica_window_body(replica, entry), replica->reply_buffer, reply_size);
    if (request > session->request) {
        session->request = request;
    }
    if (vsr_replica_is_replying(replica)) {
        vsr_replica_window_reply_send(replica, session, entry);
    }
}

/* Releases exactly-once sessions idle for longer than the TTL, in log time. */
static void vsr_replica_sessions_expire(struct vsr_replica *replica, uint64_t timestamp)
{
    uint64_t ttl_ns = replica->config.session_ttl_ns;
    assert(replica->sessions != NULL);
    if (ttl_ns == 0) {
        return;
    }
    for (uint32_t index = 0; index < replica->config.clients_max; index++) {
        struct vsr_client_session *session = &replica->sessions[index];
        if (session->client != 0 && session->exactly_once &&
            session->timestamp + ttl_ns < timestamp) {
            vsr_replica_session_release(replica, session);
        }
    }
}

/* Executes one committed op whose prepare is in header/body. */
void vsr_replica_execute_one(struct vsr_replica *replica, const struct vsr_header *header,
                             const void *body)
{
    const struct vsr_header_prepare *prepare = &header->u.prepare;
    assert(prepare->op == replica->commit_min + 1);
    assert(header->checksum == vsr_entry_at(replica, prepare->op)->checksum);
    vsr_replica_sessions_expire(replica, prepare->timestamp);
    if (prepare->client == 0) {
        return;
    }
    if (prepare->operation == VSR_OPERATION_REGISTER) {
        vsr_replica_session_register(replica, header);
        return;
    }
    struct vsr_client_session *session = vsr_replica_session_find(replica, prepare->client);
    if (session == NULL) {
        return; /* no session (evicted or released) */
    }
    session->timestamp = prepare->timestamp;
    session->commit_op = prepare->op;
    if (prepare->operation == VSR_OPERATION_LOGOUT) {
        vsr_replica_session_logout(replica, session, header);
        return;
    }
    if (prepare->operation < VSR_OPERATION_STATE_MACHINE_MIN) {
        return;
    }
    if (session->exactly_once) {
        vsr_replica_execute_exactly_once(replica, session, header, body);
        return;
    }
    if (session->request >= prepare->request) {
        return; /* a duplicate of an executed request */
    }
    uint32_t reply_size = replica->state_machine.apply(header, body, replica->reply_buffer,
                                                       replica->config.reply_size_max,
                                                       replica->state_machine.context);
    assert(reply_size <= replica->config.reply_size_max);
    session->request = prepare->request;
    session->reply_size_bytes = reply_size;
    vsr_replica_reply_build(replica, &session->reply, header, reply_size, VSR_REPLY_STATUS_OK);
    uint64_t index = (uint64_t)(session - replica->sessions);
    memcpy(replica->reply_bodies + index * replica->config.reply_size_max, replica->reply_buffer,
           reply_size);
    if (vsr_replica_is_replying(replica)) {
        vsr_replica_reply_send(replica, session, replica->reply_buffer);
    }
}
