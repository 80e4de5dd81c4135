/*
 * Exactly-once partition ops of librunnel clients (see data_plane_sessions.h): the
 * implicit per-group register, the op's header, pipeline membership and the reply's
 * status. Owns nothing; reads the replica's committed client table and pipeline headers.
 * Runs on the partition's owning shard.
 */
#include "node/data_plane_sessions.h"

#include "lib/assert.h"
#include "proto/iggy_error.h"

#include <string.h>

uint64_t data_plane_sessions_find(const struct vsr_replica *replica, u128 client)
{
    assert(replica != NULL && replica->sessions != NULL);
    assert(client != 0);
    for (uint32_t index = 0; index < replica->config.clients_max; index++) {
        const struct vsr_client_session *session = &replica->sessions[index];
        if (session->client == client) {
            assert(session->session != 0);
            return session->exactly_once ? session->session : 0;
        }
    }
    return 0;
}

bool data_plane_sessions_request(const struct vsr_replica *replica, u128 client, uint64_t sequence,
                                 uint8_t operation, const void *body, uint32_t body_size,
                                 struct vsr_header *header_out)
{
    assert(replica != NULL && header_out != NULL);
    assert(client != 0 && sequence != 0 && operation >= VSR_OPERATION_STATE_MACHINE_MIN);
    uint64_t session = data_plane_sessions_find(replica, client);
    vsr_header_init(header_out, VSR_COMMAND_REQUEST, replica->config.cluster, replica->view, 0,
                    &replica->config.group);
    header_out->u.request.client = client;
    if (session == 0) {
        header_out->u.request.operation = VSR_OPERATION_REGISTER;
        header_out->u.request.flags = VSR_REQUEST_FLAG_EXACTLY_ONCE;
        vsr_header_seal(header_out, NULL, 0);
        return false;
    }
    header_out->u.request.session = session;
    header_out->u.request.request = sequence;
    header_out->u.request.operation = operation;
    (void)body; /* local: its checksum is not computed (vsr_replica_on_local_request) */
    vsr_replica_request_seal_local(header_out, body_size);
    assert(header_out->size == VSR_HEADER_SIZE + body_size);
    return true;
}

bool data_plane_sessions_is_pending(const struct vsr_replica *replica, u128 client,
                                    uint64_t sequence)
{
    assert(replica != NULL && client != 0);
    assert(replica->op >= replica->commit_max);
    for (uint64_t op = replica->commit_max + 1; op <= replica->op; op++) {
        const struct vsr_header *header = vsr_replica_header(replica, op);
        if (header != NULL && header->u.prepare.client == client &&
            header->u.prepare.request == sequence) {
            return true;
        }
    }
    return false;
}

bool data_plane_sessions_logout(const struct vsr_replica *replica, u128 client,
                                struct vsr_header *header_out)
{
    assert(replica != NULL && header_out != NULL);
    assert(client != 0);
    uint64_t session = data_plane_sessions_find(replica, client);
    if (session == 0) {
        return false;
    }
    vsr_header_init(header_out, VSR_COMMAND_REQUEST, replica->config.cluster, replica->view, 0,
                    &replica->config.group);
    header_out->u.request.client = client;
    header_out->u.request.session = session;
    header_out->u.request.request = UINT64_MAX;
    header_out->u.request.operation = VSR_OPERATION_LOGOUT;
    vsr_header_seal(header_out, NULL, 0);
    return true;
}

uint32_t data_plane_sessions_reply_status(const struct vsr_header *reply)
{
    assert(reply != NULL);
    assert(reply->command == VSR_COMMAND_REPLY);
    if (reply->u.reply.status == VSR_REPLY_STATUS_REQUEST_TOO_OLD) {
        return IGGY_ERROR_REQUEST_ALREADY_APPLIED;
    }
    return 0;
}
