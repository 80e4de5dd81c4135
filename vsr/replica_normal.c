/*
 * VSR normal operation: a primary turns client requests into hash-chained prepares
 * (pipeline of pipeline_max), broadcasts them (star), counts durable-prefix prepare_oks and
 * commits in op order; backups journal prepares, ack their durable prefix and learn
 * commits from prepares and commit heartbeats. Runs on the shard that owns the group.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "vsr/quorum.h"
#include "vsr/replica_private.h"

#include <string.h>

void vsr_replica_reply_send(struct vsr_replica *replica, const struct vsr_client_session *session,
                            const void *body)
{
    assert(session->client != 0);
    assert(session->reply.command == VSR_COMMAND_REPLY);
    replica->bus.reply(session->client, &session->reply, body, replica->bus.context);
}

/* Tells client its session is gone (a full table evicted it, or it never registered). */
static void vsr_replica_evict(struct vsr_replica *replica, u128 client, uint8_t reason)
{
    assert(client != 0);
    assert(reason == VSR_EVICTION_NO_SESSION || reason == VSR_EVICTION_SESSION_MISMATCH);
    struct vsr_header eviction;
    vsr_replica_message_init(replica, &eviction, VSR_COMMAND_EVICTION);
    eviction.u.eviction.client = client;
    eviction.u.eviction.reason = reason;
    vsr_header_seal(&eviction, NULL, 0);
    replica->bus.reply(client, &eviction, NULL, replica->bus.context);
}

/*
 * True when the uncommitted pipeline holds a prepare of client numbered request (exact) or
 * at least request (!exact).
 */
static bool vsr_replica_pipeline_has(const struct vsr_replica *replica, u128 client,
                                     uint64_t request, bool exact)
{
    assert(client != 0);
    assert(replica->op >= replica->commit_max);
    for (uint64_t op = replica->commit_max + 1; op <= replica->op; op++) {
        const struct vsr_header *header = vsr_header_at(replica, op);
        if (vsr_replica_has(replica, op, VSR_ENTRY_HEADER) && header->u.prepare.client == client &&
            (exact ? header->u.prepare.request == request : header->u.prepare.request >= request)) {
            return true;
        }
    }
    return false;
}

/* Answers an exactly-once request from the group's state; false when it is new. */
static bool vsr_replica_exactly_once_answered(struct vsr_replica *replica,
                                              const struct vsr_client_session *session,
                                              const struct vsr_header *header)
{
    const struct vsr_header_request *request = &header->u.request;
    assert(session->exactly_once);
    assert(request->request != 0);
    const struct vsr_window_entry *entry =
        vsr_replica_window_find(replica, session, request->request);
    if (entry != NULL) {
        vsr_replica_window_reply_send(replica, session, entry); /* the original reply */
        replica->stats.cached_replies++;
        return true;
    }
    if (request->request <= session->request_floor) {
        struct vsr_header prepare;
        vsr_replica_message_init(replica, &prepare, VSR_COMMAND_PREPARE);
        prepare.u.prepare.client = request->client;
        prepare.u.prepare.request_checksum = header->checksum;
        prepare.u.prepare.request = request->request;
        prepare.u.prepare.operation = request->operation;
        prepare.u.prepare.op = replica->commit_min;
        prepare.u.prepare.timestamp = vsr_header_at(replica, replica->op)->u.prepare.timestamp;
        struct vsr_header reply;
        vsr_replica_reply_build(replica, &reply, &prepare, 0, VSR_REPLY_STATUS_REQUEST_TOO_OLD);
        replica->bus.reply(request->client, &reply, NULL, replica->bus.context);
        return true;
    }
    return vsr_replica_pipeline_has(replica, request->client, request->request, true);
}

/* Validates a request's fields beyond the frame; false (counted) when it is malformed. */
static bool vsr_replica_request_is_valid(struct vsr_replica *replica,
                                         const struct vsr_header *header)
{
    const struct vsr_header_request *request = &header->u.request;
    bool is_register = request->operation == VSR_OPERATION_REGISTER;
    bool is_logout = request->operation == VSR_OPERATION_LOGOUT;
    if (request->client == 0 || header->size - VSR_HEADER_SIZE > replica->config.body_size_max ||
        (!is_register && !is_logout && request->operation < VSR_OPERATION_STATE_MACHINE_MIN) ||
        (is_register && (request->request != 0 || header->size != VSR_HEADER_SIZE)) ||
        (!is_register && (request->flags != 0 || request->request == 0)) ||
        (request->flags & ~VSR_REQUEST_FLAG_EXACTLY_ONCE) != 0) {
        replica->stats.messages_invalid++;
        return false;
    }
    return true;
}

/* True when the primary may take a new request now. */
static bool vsr_replica_can_prepare(const struct vsr_replica *replica)
{
    if (!vsr_replica_is_primary(replica)) {
        return false; /* a lagging backup may know commits beyond its ring */
    }
    assert(replica->op >= replica->commit_max);
    if (!vsr_replica_view_is_durable(replica) || vsr_replica_is_abdicating(replica) ||
        replica->commit_min != replica->commit_max || replica->commit_max < replica->log_head_op) {
        /* Sessions are committed state: commit and execute the previous views' ops first. */
        return false;
    }
    uint64_t base = replica->checkpoint_quorum_op < replica->checkpoint_op
                        ? replica->checkpoint_quorum_op
                        : replica->checkpoint_op;
    if (replica->op - replica->commit_max >= replica->config.pipeline_max ||
        replica->op + 1 > base + replica->config.ops_max) {
        /* The ring reuses a slot only below a checkpoint durable on a replication quorum. */
        return false;
    }
    return vsr_replica_has(replica, replica->op, VSR_ENTRY_HEADER);
}

void vsr_replica_on_request(struct vsr_replica *replica, const struct vsr_header *header,
                            const void *body)
{
    const struct vsr_header_request *request = &header->u.request;
    assert(header->command == VSR_COMMAND_REQUEST);
    bool is_register = request->operation == VSR_OPERATION_REGISTER;
    if (!vsr_replica_request_is_valid(replica, header) || !vsr_replica_can_prepare(replica)) {
        return; /* the client retries; backups do not forward yet */
    }
    struct vsr_client_session *session = vsr_replica_session_find(replica, request->client);
    if (!is_register && session == NULL &&
        vsr_replica_pipeline_has(replica, request->client, 0, false)) {
        return; /* its register is still in the pipeline (a stale primary's, maybe) */
    }
    if (!is_register && (session == NULL || session->session != request->session)) {
        vsr_replica_evict(replica, request->client,
                          session == NULL ? VSR_EVICTION_NO_SESSION
                                          : VSR_EVICTION_SESSION_MISMATCH);
        return;
    }
    if (session != NULL && session->exactly_once) {
        if (is_register) {
            vsr_replica_reply_send(replica, session, NULL); /* a reconnect: the same session */
            return;
        }
        if (vsr_replica_exactly_once_answered(replica, session, header)) {
            return;
        }
    } else if (session != NULL && session->request > request->request) {
        return;
    } else if (session != NULL && session->request == request->request) {
        uint64_t index = (uint64_t)(session - replica->sessions);
        vsr_replica_reply_send(replica, session,
                               replica->reply_bodies + index * replica->config.reply_size_max);
        replica->stats.cached_replies++;
        return; /* executed already: the cached reply again, never a second execution */
    }
    if (vsr_replica_pipeline_has(replica, request->client, request->request,
                                 session != NULL && session->exactly_once && !is_register)) {
        return;
    }
    const struct vsr_header *parent = vsr_header_at(replica, replica->op);
    uint64_t realtime_ns = clock_realtime_ns(replica->clock);
    struct vsr_header prepare;
    vsr_replica_message_init(replica, &prepare, VSR_COMMAND_PREPARE);
    prepare.u.prepare.parent = parent->checksum;
    prepare.u.prepare.request_checksum = header->checksum;
    prepare.u.prepare.client = request->client;
    prepare.u.prepare.op = replica->op + 1;
    prepare.u.prepare.commit = replica->commit_max;
    prepare.u.prepare.timestamp = parent->u.prepare.timestamp + 1 > realtime_ns
                                      ? parent->u.prepare.timestamp + 1
                                      : realtime_ns;
    prepare.u.prepare.request = request->request;
    prepare.u.prepare.operation = request->operation;
    prepare.u.prepare.request_flags = request->flags;
    if (replica->state_machine.prepare != NULL) {
        /* Every op, registers and logouts too: a partition's records all carry its next
         * offset, so a log that ends in a register still tells where offsets resume. */
        body = replica->state_machine.prepare(&prepare, body, header->size - VSR_HEADER_SIZE,
                                              replica->body_buffer, replica->state_machine.context);
    }
    vsr_header_seal(&prepare, body, header->size - VSR_HEADER_SIZE);
    assert(prepare.u.prepare.timestamp > parent->u.prepare.timestamp);
    vsr_replica_head_extend(replica, replica->op + 1);
    vsr_replica_entry_set(replica, &prepare);
    vsr_replica_journal_write(replica, &prepare, body);
    vsr_replica_broadcast(replica, &prepare, body);
    if (replica->timeout_prepare.deadline == 0) {
        vsr_replica_timeout_start(replica, &replica->timeout_prepare);
    }
}

/* Repair: accept only the prepare the canonical log names (any view, executed or not). */
static void vsr_replica_on_prepare_repair(struct vsr_replica *replica,
                                          const struct vsr_header *header, const void *body)
{
    uint64_t op = header->u.prepare.op;
    assert(header->command == VSR_COMMAND_PREPARE && op >= 1);
    if (op <= replica->op && op > replica->checkpoint_op &&
        vsr_replica_has(replica, op, VSR_ENTRY_CANON) &&
        vsr_entry_at(replica, op)->checksum == header->checksum) {
        vsr_replica_entry_set(replica, header);
        vsr_replica_journal_write(replica, header, body); /* nothing when durable already */
        vsr_replica_chain_walk(replica);
    }
}

/* A prepare of the current view from its primary: part of the canonical log. */
static void vsr_replica_on_prepare_current(struct vsr_replica *replica,
                                           const struct vsr_header *header, const void *body)
{
    uint64_t op = header->u.prepare.op;
    assert(header->view == replica->view);
    assert(!vsr_replica_is_primary(replica));
    vsr_replica_timeout_start(replica, &replica->timeout_normal);
    if (op > vsr_replica_window_top(replica)) {
        replica->stats.window_full++; /* taken again once a checkpoint moves the ring */
        return;
    }
    if (op <= replica->commit_min) {
        /* Executed, yet its journal copy may have been damaged or cut since (faulty, asked
         * for again by vsr_replica_repair): the answer, prepared in this very view, lands
         * like any repair. Dropped, the journal never held the op again and every write
         * above it waited parked for ever (runnel-sim --storage --storage-misdirect
         * --seed 3571). */
        vsr_replica_on_prepare_repair(replica, header, body);
        return;
    }
    if (op <= replica->op && vsr_replica_has(replica, op, VSR_ENTRY_CANON) &&
        vsr_entry_at(replica, op)->checksum != header->checksum) {
        replica->stats.messages_invalid++; /* cannot happen within one view */
        return;
    }
    if (op > replica->op) {
        vsr_replica_head_extend(replica, op);
    }
    vsr_replica_entry_set(replica, header);
    if (!vsr_replica_has(replica, op - 1, VSR_ENTRY_CANON)) {
        vsr_entry_at(replica, op - 1)->checksum = header->u.prepare.parent;
        vsr_entry_at(replica, op - 1)->flags |= VSR_ENTRY_CANON;
    }
    vsr_replica_journal_write(replica, header, body);
    vsr_replica_prefix_update(replica);
    if (vsr_replica_is_durable(replica, op)) {
        vsr_replica_send_prepare_ok(replica);
    }
    if (header->u.prepare.commit > replica->commit_max) {
        replica->commit_max = header->u.prepare.commit;
    }
    vsr_replica_execute(replica);
}

void vsr_replica_on_prepare(struct vsr_replica *replica, const struct vsr_header *header,
                            const void *body)
{
    uint64_t op = header->u.prepare.op;
    assert(header->command == VSR_COMMAND_PREPARE);
    if (op == 0 || header->size - VSR_HEADER_SIZE > replica->config.body_size_max) {
        replica->stats.messages_invalid++;
        return;
    }
    if (vsr_replica_records_take(replica, header, body)) {
        return; /* the next prepare below a transferred checkpoint (any view) */
    }
    if (header->view > replica->view && header->replica < replica->config.replica_count &&
        header->replica == vsr_replica_primary_index(replica, header->view)) {
        vsr_replica_request_start_view(replica, header->replica);
        return;
    }
    if (replica->status == VSR_STATUS_NORMAL && header->view == replica->view &&
        !vsr_replica_is_primary(replica)) {
        vsr_replica_on_prepare_current(replica, header, body);
        return;
    }
    if (replica->status == VSR_STATUS_VIEW_CHANGE && header->view == replica->view &&
        header->replica == vsr_replica_primary_index(replica, replica->view) &&
        header->replica != replica->config.replica) {
        vsr_replica_request_start_view(replica, header->replica);
        return;
    }
    vsr_replica_on_prepare_repair(replica, header, body);
}

/* Backup: acknowledges its durable canonical prefix to the primary. */
void vsr_replica_send_prepare_ok(struct vsr_replica *replica)
{
    assert(replica->op_prefix <= replica->op);
    if (replica->status != VSR_STATUS_NORMAL || vsr_replica_is_primary(replica) ||
        !vsr_replica_view_is_durable(replica) || replica->recovering) {
        return; /* recovering: its acks count only once it holds what it may have acked */
    }
    struct vsr_header ok;
    vsr_replica_message_init(replica, &ok, VSR_COMMAND_PREPARE_OK);
    ok.u.prepare_ok.op = replica->op_prefix;
    ok.u.prepare_ok.prepare_checksum = vsr_entry_at(replica, replica->op_prefix)->checksum;
    ok.u.prepare_ok.commit_min = replica->commit_min;
    ok.u.prepare_ok.checkpoint_op = replica->checkpoint_op;
    vsr_header_seal(&ok, NULL, 0);
    vsr_replica_send(replica, vsr_replica_primary_index(replica, replica->view), &ok, NULL);
}

void vsr_replica_on_prepare_ok(struct vsr_replica *replica, const struct vsr_header *header)
{
    uint64_t op = header->u.prepare_ok.op;
    assert(header->command == VSR_COMMAND_PREPARE_OK);
    vsr_replica_checkpoint_learn(replica, header->replica, header->u.prepare_ok.checkpoint_op);
    if (!vsr_replica_is_primary(replica) || header->view != replica->view) {
        return;
    }
    if (op > replica->op || op == 0 || op < replica->checkpoint_op ||
        vsr_entry_at(replica, op)->checksum != header->u.prepare_ok.prepare_checksum) {
        return; /* acks a log this primary does not hold */
    }
    if (op > replica->ack_op[header->replica]) {
        replica->ack_op[header->replica] = op;
        vsr_replica_primary_commit(replica);
    }
}

/* Primary: commits the highest op a replication quorum holds durably, then executes. */
void vsr_replica_primary_commit(struct vsr_replica *replica)
{
    assert(replica->config.replica_count <= VSR_REPLICAS_MAX);
    if (!vsr_replica_is_primary(replica) || !vsr_replica_view_is_durable(replica)) {
        return;
    }
    replica->ack_op[replica->config.replica] = replica->op_prefix;
    uint64_t quorum_op = vsr_quorum_op(replica->ack_op, replica->config.replica_count);
    if (quorum_op > replica->op) {
        quorum_op = replica->op;
    }
    if (quorum_op > replica->commit_max) {
        replica->commit_max = quorum_op;
        replica->commit_tick = replica->tick;
    }
    vsr_replica_execute(replica);
    if (replica->commit_max == replica->op) {
        vsr_replica_timeout_stop(&replica->timeout_prepare);
    }
}

/*
 * A commit heard from peer in view (a commit message, or a shard heartbeat's entry): a
 * newer view asks for its start_view; the current view's primary restarts the normal
 * timeout and moves commit_max. Untrusted values: checked here.
 */
void vsr_replica_commit_heard(struct vsr_replica *replica, uint8_t peer, uint32_t view,
                              const struct vsr_header_commit *commit)
{
    assert(peer < replica->config.replica_count);
    assert(peer != replica->config.replica);
    if (view > replica->view || (view == replica->view && replica->status != VSR_STATUS_NORMAL)) {
        vsr_replica_request_start_view(replica, peer);
        return;
    }
    if (view < replica->view || vsr_replica_is_primary(replica) ||
        peer != vsr_replica_primary_index(replica, replica->view)) {
        return;
    }
    vsr_replica_timeout_start(replica, &replica->timeout_normal);
    if (commit->commit_checksum == 0) {
        replica->stats.messages_invalid++;
        return;
    }
    if (commit->checkpoint_op > replica->checkpoint_quorum_op) {
        replica->checkpoint_quorum_op = commit->checkpoint_op;
    }
    if (commit->commit > vsr_replica_window_top(replica) ||
        commit->commit < replica->checkpoint_op) {
        /* Beyond the ring (a checkpoint or a state transfer comes first), or long done. */
        replica->commit_max =
            commit->commit > replica->commit_max ? commit->commit : replica->commit_max;
        vsr_replica_execute(replica);
        vsr_replica_send_prepare_ok(replica);
        return;
    }
    if (commit->commit > replica->op) {
        vsr_replica_head_extend(replica, commit->commit);
        vsr_entry_at(replica, commit->commit)->checksum = commit->commit_checksum;
        vsr_entry_at(replica, commit->commit)->flags |= VSR_ENTRY_CANON;
    } else if (vsr_entry_at(replica, commit->commit)->checksum != commit->commit_checksum &&
               vsr_replica_has(replica, commit->commit, VSR_ENTRY_CANON)) {
        replica->stats.messages_invalid++;
        return;
    }
    if (commit->commit > replica->commit_max) {
        replica->commit_max = commit->commit;
    }
    vsr_replica_execute(replica);
    vsr_replica_send_prepare_ok(replica); /* also tells the primary this backup hears it */
}

void vsr_replica_on_commit(struct vsr_replica *replica, const struct vsr_header *header)
{
    assert(header->command == VSR_COMMAND_COMMIT);
    vsr_replica_commit_heard(replica, header->replica, header->view, &header->u.commit);
}

/*
 * True when the primary should step aside: it has not heard from a replication quorum
 * lately, or its pipeline has not committed for many ticks (an op only it held was
 * lost; a view change truncates it on a nack quorum), or it is lagging (log_retained: it
 * cannot execute what is committed, the prepares it lacks gone from its peers; a state
 * transfer, which it runs as a backup, brings them). Backups stop hearing heartbeats and
 * depose it.
 */
bool vsr_replica_is_abdicating(const struct vsr_replica *replica)
{
    assert(vsr_replica_is_primary(replica));
    uint32_t heard = 1;
    for (uint8_t index = 0; index < replica->config.replica_count; index++) {
        if (index != replica->config.replica &&
            replica->heard_tick[index] + VSR_ABDICATE_TICKS >= replica->tick) {
            heard++;
        }
    }
    if (heard < vsr_quorum_replication(replica->config.replica_count) ||
        (replica->config.replica_count > 1 && vsr_replica_is_lagging(replica))) {
        return true;
    }
    return replica->config.replica_count > 1 && replica->op > replica->commit_max &&
           replica->tick > replica->commit_tick + VSR_COMMIT_STALL_TICKS;
}

/*
 * The preferred primary of a group leads view 0 ((0 + g) mod n), so partition primaries
 * spread over the nodes. Once it has caught up (holds everything committed, answers
 * heartbeats) and this primary has led for a while with an idle pipeline, this primary
 * moves the group to the next view the preferred replica leads (its do_view_change is
 * broadcast, so the others follow). Returns true when it did.
 */
static bool vsr_replica_hand_back(struct vsr_replica *replica)
{
    uint8_t preferred = vsr_replica_primary_index(replica, 0);
    assert(vsr_replica_is_primary(replica));
    if (preferred == replica->config.replica ||
        replica->tick < replica->primary_tick + VSR_HAND_BACK_TICKS ||
        replica->op != replica->commit_max || replica->ack_op[preferred] < replica->commit_max ||
        replica->heard_tick[preferred] + 2 * VSR_TIMEOUT_HEARTBEAT_TICKS < replica->tick) {
        return false;
    }
    uint32_t view = replica->view + 1;
    for (uint32_t round = 0; round < VSR_REPLICAS_MAX; round++) {
        if (vsr_replica_primary_index(replica, view) == preferred) {
            break;
        }
        view++;
    }
    assert(vsr_replica_primary_index(replica, view) == preferred);
    vsr_replica_view_change_start(replica, view);
    return true;
}

/* Primary: resends prepares a backup has not acked, sends heartbeats. */
void vsr_replica_tick_primary(struct vsr_replica *replica)
{
    assert(vsr_replica_is_primary(replica));
    if (replica->op == replica->commit_max) {
        replica->commit_tick = replica->tick;
    }
    if (!vsr_replica_view_is_durable(replica)) {
        return;
    }
    if (vsr_replica_is_abdicating(replica)) {
        if (replica->timeout_normal.deadline == 0) {
            vsr_replica_timeout_start(replica, &replica->timeout_normal);
        }
        if (vsr_replica_timeout_fired(replica, &replica->timeout_normal)) {
            vsr_replica_vote(replica, replica->view + 1); /* step aside: n = 2 needs it */
        }
        return;
    }
    vsr_replica_timeout_stop(&replica->timeout_normal);
    if (vsr_replica_hand_back(replica)) {
        return;
    }
    if (!replica->config.heartbeat_shared &&
        (replica->timeout_heartbeat.deadline == 0 ||
         vsr_replica_timeout_fired(replica, &replica->timeout_heartbeat))) {
        /* With heartbeat_shared the shard's heartbeat vouches for this group instead. */
        vsr_replica_timeout_start(replica, &replica->timeout_heartbeat);
        struct vsr_header commit;
        vsr_replica_message_init(replica, &commit, VSR_COMMAND_COMMIT);
        commit.u.commit.commit = replica->commit_max;
        commit.u.commit.commit_checksum = vsr_entry_at(replica, replica->commit_max)->checksum;
        commit.u.commit.timestamp_monotonic = replica->tick;
        commit.u.commit.checkpoint_op = replica->checkpoint_quorum_op;
        vsr_header_seal(&commit, NULL, 0);
        vsr_replica_broadcast(replica, &commit, NULL);
    }
    if (!vsr_replica_timeout_fired(replica, &replica->timeout_prepare)) {
        return;
    }
    struct vsr_header prepare;
    for (uint64_t op = replica->commit_max + 1; op <= replica->op; op++) {
        if (vsr_replica_journal_read(replica, op, &prepare, replica->body_buffer) != 0 ||
            prepare.checksum != vsr_entry_at(replica, op)->checksum) {
            continue;
        }
        for (uint8_t target = 0; target < replica->config.replica_count; target++) {
            if (target != replica->config.replica && replica->ack_op[target] < op) {
                vsr_replica_send(replica, target, &prepare, replica->body_buffer);
            }
        }
    }
}
