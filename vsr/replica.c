/*
 * The VSR replica's life cycle, message dispatch, timeouts, durable view state and
 * in-order execution of committed ops. Owns the replica's buffers (allocated at init
 * from the config's _max limits). Runs on the shard that owns the group.
 */
#include "vsr/replica.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "vsr/quorum.h"
#include "vsr/replica_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint32_t vsr_replica_window_max(const struct vsr_replica *replica)
{
    assert(replica->config.pipeline_max >= 1);
    assert(replica->config.pipeline_max <= VSR_PIPELINE_MAX);
    return replica->config.pipeline_max + 1;
}

bool vsr_replica_in_window(const struct vsr_replica *replica, uint64_t op)
{
    assert(replica->config.ops_max >= 1);
    return op >= replica->checkpoint_op && op <= vsr_replica_window_top(replica);
}

const struct vsr_header *vsr_replica_header(const struct vsr_replica *replica, uint64_t op)
{
    if (!vsr_replica_in_window(replica, op) || !vsr_replica_has(replica, op, VSR_ENTRY_HEADER)) {
        return NULL;
    }
    return vsr_header_at(replica, op);
}

bool vsr_replica_has(const struct vsr_replica *replica, uint64_t op, uint8_t flag)
{
    assert(flag != 0);
    return (vsr_entry_at(replica, op)->flags & flag) != 0;
}

bool vsr_replica_is_durable(const struct vsr_replica *replica, uint64_t op)
{
    const struct vsr_entry *entry = vsr_entry_at(replica, op);
    if ((entry->flags & VSR_ENTRY_CANON) == 0 || (entry->flags & VSR_ENTRY_FAULTY) != 0) {
        return false;
    }
    assert(entry->checksum != 0);
    return entry->journal_checksum == entry->checksum;
}

bool vsr_replica_view_is_durable(const struct vsr_replica *replica)
{
    assert(replica->durable.view <= replica->view);
    assert(replica->log_view <= replica->view);
    /* formed: a new group's replica acts only once its superblock names the group. */
    return replica->durable.formed && replica->durable.view == replica->view &&
           replica->durable.log_view == replica->log_view;
}

/*
 * True when a journal write at op may start now. Not while the log the durable superblock
 * names (its log_view and installed head) is not the one this replica holds (a new view's
 * log was installed, by a start_view or the primary's own choice, or a cut or a state
 * transfer lowered the head, and the superblock write naming it has not landed) and op is
 * within that durable log's reach after a restart: at or below its head, or at or below the
 * highest op the journal may hold (a restart extends that head over the journal's entries
 * of its log_view). A prepare of the new log written there could be durable first; a
 * restart would recover the old log over it, naming another prepare at op, and its
 * do_view_change would nack op though the journal holds the new log's (perhaps committed)
 * prepare there. Above that reach nothing of the old log can be named: the new view's own
 * prepares (the usual case) are written at once.
 */
bool vsr_replica_can_journal(const struct vsr_replica *replica, uint64_t op)
{
    assert(op >= 1);
    const struct vsr_superblock_state *durable = &replica->durable;
    bool named =
        durable->log_view == replica->log_view && durable->log_head_op == replica->log_head_op &&
        (replica->log_head_op < replica->checkpoint_op ||
         durable->log_head_checksum == vsr_entry_at(replica, replica->log_head_op)->checksum);
    return named || (op > durable->log_head_op && op > replica->journal_written_op_max);
}

/* A journal write at op was started: the journal may hold op from now on. */
void vsr_replica_journal_started(struct vsr_replica *replica, uint64_t op)
{
    assert(op >= 1);
    if (op > replica->journal_written_op_max) {
        replica->journal_written_op_max = op;
    }
}

uint8_t vsr_replica_primary_index(const struct vsr_replica *replica, uint32_t view)
{
    assert(replica->config.replica_count >= 1);
    uint64_t index = ((uint64_t)view + replica->group_index) % replica->config.replica_count;
    assert(index < replica->config.replica_count);
    return (uint8_t)index;
}

bool vsr_replica_is_recovering(const struct vsr_replica *replica)
{
    assert(replica->status != 0);
    assert(!replica->recovering || replica->config.replica_count > 1);
    return replica->recovering;
}

void vsr_replica_recovering_wait(struct vsr_replica *replica)
{
    assert(replica->recovering);
    assert(!vsr_replica_is_primary(replica));
    replica->status = VSR_STATUS_RECOVERING_HEAD;
    vsr_replica_timeout_stop(&replica->timeout_normal);
    vsr_replica_timeout_stop(&replica->timeout_view_change);
    if (replica->timeout_resend.deadline == 0) {
        vsr_replica_timeout_start(replica, &replica->timeout_resend);
    }
}

uint32_t vsr_replica_recovering_view_for(const struct vsr_replica *replica, uint32_t view)
{
    uint32_t count = replica->config.replica_count;
    assert(count > 1);
    if (vsr_quorum_view_change(count) >= count) {
        /* 2 replicas: the other was in every view change, so its start_view is of a view
         * at or past any this one promised; a raised view could not form without this
         * replica's do_view_change (it sends none while it recovers). */
        return view;
    }
    if (view > UINT32_MAX - 3) {
        return view; /* a peer's view (untrusted) this high ends no recovery anyway */
    }
    uint32_t target = view + 2;
    if (vsr_replica_primary_index(replica, target) == replica->config.replica) {
        target++; /* a view it would lead: it could not start it while it recovers */
    }
    assert(vsr_replica_primary_index(replica, target) != replica->config.replica);
    return target;
}

void vsr_replica_recovering_hear(struct vsr_replica *replica, uint8_t peer, uint32_t view)
{
    if (!replica->recovering || peer >= replica->config.replica_count ||
        peer == replica->config.replica) {
        return;
    }
    replica->recovering_heard |= 1ull << peer;
    if (view > replica->recovering_heard_views[peer]) {
        replica->recovering_heard_views[peer] = view;
    }
}

/* Peers a recovering replica must have heard before it acts: enough that one of them was in
 * any view-change quorum that counted it (0 at 2 replicas: see vsr_replica_recovering_check). */
static uint32_t vsr_replica_recovering_peers_needed(const struct vsr_replica *replica)
{
    uint32_t count = replica->config.replica_count;
    uint32_t quorum = vsr_quorum_view_change(count);
    return quorum >= count ? 0 : count - quorum + 1;
}

/*
 * Ends recovery once the replica has executed through its target (a normal backup) in a
 * view at or past recovering_view; caught up in a lower view, it raises its view there
 * first and asks for it (the resend timeout's request_start_view, once the view is
 * durable, moves every peer below it into a view change to it) and waits, recovering_head,
 * for a start_view of that view or a later one.
 *
 * Why the raise. Before it lost its disk this replica may have sent a do_view_change for
 * a view w, a promise to take part in no view below w, that w's primary used (or holds)
 * to form w. The start_view that answered it first, of view v, may come from a primary
 * that has not heard of w yet (it is cut off, or slow): acks in v would let it commit ops
 * w's log lacks, lost once w's start_view reaches it (runnel-sim --wipes --seed 992539).
 * No fixed margin bounds w from v alone: the vote-joining rule of vsr_replica_vote lets a
 * replica vote for a peer's view far past its own + 1, so two replicas climb views
 * together while a third stays the primary of v. The raise instead makes this replica
 * act only in a view that a view-change quorum left v for after its wipe: w's primary
 * holds w (or later) durably from before the wipe (it persists a view before it counts
 * do_view_changes), and this replica sends no do_view_change while it recovers, so
 *   - a view u > v formed after the wipe had a quorum of do_view_changes from the other
 *     replicas; at 3 replicas that is both, w's primary among them: u >= w; at 4, three
 *     of three: the same; then acks in u are safe (u == w: it installed w's start_view,
 *     the log w's primary chose; u > w: w came first);
 *   - a view u > v formed before the wipe whose primary is still normal in it is led by
 *     neither v's primary (one view at a time) nor this replica, so at 3 and 4 replicas
 *     by a replica of w's quorum, which holds w or later: u >= w.
 * So at 3 and 4 replicas any installed view above v is safe: + 1 would do; + 2 is
 * TigerBeetle's margin (research/vsr.md §1.5: its recovered replica votes in that view at
 * once) and costs nothing more here; + 3 when this replica would lead v + 2, a view it
 * could not start while it recovers (the others would wait out a timeout). At 5 and more
 * replicas the second case has a hole: two primaries stale in v and in some u >= v + 2
 * below w (neither in w's quorum) would let it leave recovery in u. So, as VSR's recovery
 * does, it also hears the views of n - q + 1 peers (q: the view-change quorum) before it
 * acts, each a view the peer was in after this start (vsr_replica_recovering_hear: a
 * pong to its request_start_view, a start_view, commit or view-change message, a
 * heartbeat entry), and acts in none below the highest: w's quorum holds q - 1 peers
 * besides it, in w or later, and n - q + 1 of the n - 1 peers always take one of them.
 * At 3 replicas that is both peers, as the raise needs anyway. Pre-wipe messages still
 * in flight after it (a peer using a do_view_change the wiped replica sent before it lost
 * its disk) are assumed gone: a wipe and restart take far longer than a message on the
 * bus.
 */
static void vsr_replica_recovering_check(struct vsr_replica *replica)
{
    if (!replica->recovering || !replica->recovering_op_known ||
        replica->status != VSR_STATUS_NORMAL || replica->commit_min < replica->recovering_op) {
        return;
    }
    assert(!vsr_replica_is_primary(replica));
    assert(replica->recovering_view_known);
    uint32_t needed = vsr_replica_recovering_peers_needed(replica);
    if (vsr_quorum_count(replica->recovering_heard) < needed) {
        return; /* the resend timeout asks the peers not heard yet */
    }
    for (uint8_t peer = 0; peer < replica->config.replica_count && needed > 0; peer++) {
        uint32_t view = replica->recovering_heard_views[peer];
        if (((replica->recovering_heard >> peer) & 1) != 0 && view > replica->recovering_view) {
            replica->recovering_view = view; /* a view it may have promised: at the least */
            while (vsr_replica_primary_index(replica, replica->recovering_view) ==
                       replica->config.replica &&
                   replica->recovering_view < UINT32_MAX) {
                replica->recovering_view++; /* one it would lead: it could not start it */
            }
        }
    }
    if (replica->view < replica->recovering_view) {
        replica->view = replica->recovering_view; /* log_view stays: the log it holds */
        replica->stats.recovery_raises++;
        vsr_replica_recovering_wait(replica);
        vsr_replica_persist(replica); /* asked for from the resend timeout, once durable */
        return;
    }
    replica->recovering = false;
    replica->stats.recoveries++;
    vsr_replica_send_prepare_ok(replica); /* a voting backup from here on */
}

bool vsr_replica_is_primary(const struct vsr_replica *replica)
{
    assert(replica->status != 0);
    return replica->status == VSR_STATUS_NORMAL &&
           vsr_replica_primary_index(replica, replica->view) == replica->config.replica;
}

void vsr_replica_message_init(const struct vsr_replica *replica, struct vsr_header *header,
                              enum vsr_command command)
{
    assert(header != NULL);
    assert(command != VSR_COMMAND_PREPARE || replica->status == VSR_STATUS_NORMAL);
    vsr_header_init(header, command, replica->config.cluster, replica->view,
                    replica->config.replica, &replica->config.group);
}

void vsr_replica_send(struct vsr_replica *replica, uint8_t target, const struct vsr_header *header,
                      const void *body)
{
    assert(target < replica->config.replica_count);
    assert(target != replica->config.replica);
    assert(vsr_header_is_checksum_valid(header));
    replica->bus.send(target, header, body, replica->bus.context);
}

void vsr_replica_broadcast(struct vsr_replica *replica, const struct vsr_header *header,
                           const void *body)
{
    assert(header != NULL);
    assert(replica->config.replica_count <= VSR_REPLICAS_MAX);
    for (uint8_t target = 0; target < replica->config.replica_count; target++) {
        if (target != replica->config.replica) {
            vsr_replica_send(replica, target, header, body);
        }
    }
}

void vsr_replica_timeout_start(struct vsr_replica *replica, struct vsr_timeout *timeout)
{
    assert(timeout->ticks > 0);
    uint64_t jitter = prng_range(&replica->prng, timeout->ticks / 2 + 1);
    timeout->deadline = replica->tick + timeout->ticks + jitter;
    assert(timeout->deadline > replica->tick);
}

void vsr_replica_timeout_stop(struct vsr_timeout *timeout)
{
    assert(timeout != NULL);
    timeout->deadline = 0;
}

bool vsr_replica_timeout_fired(struct vsr_replica *replica, struct vsr_timeout *timeout)
{
    assert(timeout != NULL);
    if (timeout->deadline == 0 || replica->tick < timeout->deadline) {
        return false;
    }
    vsr_replica_timeout_start(replica, timeout);
    return true;
}

/* The header of the installed head when known (zero for op 0 or while unknown). */
static void vsr_replica_log_head_header(const struct vsr_replica *replica,
                                        struct vsr_header *header_out)
{
    uint64_t op = replica->log_head_op;
    assert(op <= replica->op);
    memset(header_out, 0, sizeof(*header_out));
    if (op < replica->checkpoint_op) {
        *header_out = replica->durable.log_head_header; /* persisted before it left the ring */
        return;
    }
    if (op > 0 && vsr_replica_has(replica, op, VSR_ENTRY_HEADER) &&
        vsr_header_at(replica, op)->checksum == vsr_entry_at(replica, op)->checksum) {
        *header_out = *vsr_header_at(replica, op);
    }
    assert(header_out->checksum == 0 || header_out->u.prepare.op == op);
}

/*
 * Writes the view state when it differs from what is durable, or when the superblock does
 * not name the group yet (one write at a time), including the installed head's header
 * once it becomes known and the mark of a journal restart's dropped ops (log_dropped_op).
 */
void vsr_replica_persist(struct vsr_replica *replica)
{
    assert(replica->log_view <= replica->view);
    assert(replica->log_head_op <= replica->op);
    if (replica->superblock_busy) {
        return;
    }
    struct vsr_header head_header;
    vsr_replica_log_head_header(replica, &head_header);
    u128 head_checksum = replica->log_head_op < replica->checkpoint_op
                             ? replica->durable.log_head_checksum
                             : vsr_entry_at(replica, replica->log_head_op)->checksum;
    bool checkpoint_next = replica->checkpoint_stage == VSR_CHECKPOINT_PERSISTING ||
                           replica->transfer_stage == VSR_TRANSFER_PERSISTING;
    uint64_t checkpoint_op = checkpoint_next ? replica->checkpoint_next_op : replica->checkpoint_op;
    struct vsr_superblock_state target = replica->durable;
    if (target.formed && target.view == replica->view && target.log_view == replica->log_view &&
        target.log_head_op == replica->log_head_op && target.log_head_checksum == head_checksum &&
        target.log_head_header.checksum == head_header.checksum &&
        target.checkpoint_op == checkpoint_op && target.log_dropped_op == replica->log_dropped_op) {
        return;
    }
    target.formed = true;
    target.log_dropped_op = replica->log_dropped_op;
    target.view = replica->view;
    target.log_view = replica->log_view;
    target.commit_max = replica->commit_max;
    target.log_head_op = replica->log_head_op;
    target.log_head_checksum = head_checksum;
    target.log_head_header = head_header;
    if (checkpoint_next) {
        target.checkpoint_op = replica->checkpoint_next_op;
        target.checkpoint_checksum = replica->checkpoint_next_checksum;
        target.checkpoint_size_bytes = replica->checkpoint_next_size_bytes;
    }
    assert(target.checkpoint_op >= replica->durable.checkpoint_op);
    assert(target.log_head_checksum != 0);
    assert(target.view >= replica->durable.view);
    replica->writing = target;
    replica->superblock_busy = true;
    int result = replica->superblock.write(&replica->writing, replica->superblock.context);
    assert(result == 0);
}

void vsr_replica_on_superblock_write(struct vsr_replica *replica)
{
    assert(replica->superblock_busy);
    assert(replica->writing.formed);
    assert(replica->writing.view >= replica->durable.view);
    assert(replica->writing.log_view >= replica->durable.log_view);
    replica->durable = replica->writing;
    replica->superblock_busy = false;
    if (replica->durable.checkpoint_op > replica->checkpoint_op) {
        vsr_replica_checkpoint_durable(replica);
    }
    vsr_replica_persist(replica);
    if (!vsr_replica_view_is_durable(replica)) {
        return;
    }
    if (replica->status == VSR_STATUS_VIEW_CHANGE) {
        vsr_replica_send_view_change_messages(replica);
    } else if (vsr_replica_is_primary(replica)) {
        for (uint8_t target = 0; target < replica->config.replica_count; target++) {
            if (target != replica->config.replica) {
                vsr_replica_send_start_view(replica, target);
            }
        }
        vsr_replica_primary_commit(replica);
    } else if (replica->status == VSR_STATUS_NORMAL) {
        vsr_replica_send_prepare_ok(replica);
    }
}

int vsr_replica_journal_read(struct vsr_replica *replica, uint64_t op,
                             struct vsr_header *header_out, void *body_out)
{
    assert(op >= 1);
    assert(header_out != NULL);
    int result = replica->journal.read(op, header_out, body_out, replica->config.body_size_max,
                                       replica->journal.context);
    if (result == -RUNNEL_EFAULTY && !vsr_replica_in_window(replica, op)) {
        return result; /* below the ring (a peer's repair): nothing to record */
    }
    if (result == -RUNNEL_EFAULTY) {
        replica->stats.faulty_reads++;
        vsr_replica_on_journal_faulty(replica, op);
        return result;
    }
    if (result == 0 && header_out->u.prepare.op != op) {
        return -RUNNEL_EFAULTY; /* the journal's own check failed: treat as damaged */
    }
    return result;
}

/* Records header as the canonical prepare of its op (header and checksum known). */
void vsr_replica_entry_set(struct vsr_replica *replica, const struct vsr_header *header)
{
    uint64_t op = header->u.prepare.op;
    assert(op >= 1 && vsr_replica_in_window(replica, op));
    assert(header->command == VSR_COMMAND_PREPARE);
    struct vsr_entry *entry = vsr_entry_at(replica, op);
    if ((entry->flags & VSR_ENTRY_CANON) != 0) {
        assert(entry->checksum == header->checksum);
    }
    entry->checksum = header->checksum;
    entry->flags |= VSR_ENTRY_CANON | VSR_ENTRY_HEADER;
    *vsr_header_at(replica, op) = *header;
}

/* Starts the journal write of a canonical prepare unless it is durable or in flight. */
void vsr_replica_journal_write(struct vsr_replica *replica, const struct vsr_header *header,
                               const void *body)
{
    uint64_t op = header->u.prepare.op;
    assert(vsr_replica_has(replica, op, VSR_ENTRY_CANON));
    assert(vsr_entry_at(replica, op)->checksum == header->checksum);
    if (vsr_replica_is_durable(replica, op) || vsr_replica_has(replica, op, VSR_ENTRY_WRITING)) {
        return;
    }
    if (!vsr_replica_can_journal(replica, op)) {
        vsr_replica_persist(replica); /* busy: from the write in flight's completion */
        return; /* resent by the primary or repaired, once the superblock names the log */
    }
    int result = replica->journal.write(header, body, replica->journal.context);
    if (result == 0) {
        vsr_entry_at(replica, op)->flags |= VSR_ENTRY_WRITING;
        vsr_replica_journal_started(replica, op);
    }
}

void vsr_replica_on_journal_write(struct vsr_replica *replica, uint64_t op, u128 checksum)
{
    assert(op >= 1);
    assert(checksum != 0);
    vsr_replica_records_written(replica, op, checksum);
    if (op <= replica->checkpoint_op || op > vsr_replica_window_top(replica)) {
        return; /* a write of an op the ring no longer (or not yet) holds */
    }
    struct vsr_entry *entry = vsr_entry_at(replica, op);
    entry->journal_checksum = checksum;
    entry->flags &= (uint8_t)~VSR_ENTRY_WRITING;
    if (checksum == entry->checksum) {
        /* Only the canonical prepare ends the damage: a not-held report (a cut, a given-up
         * write) or another prepare leaves op faulty, never nacked and fetched again. */
        entry->flags &= (uint8_t)~VSR_ENTRY_FAULTY;
    }
    vsr_replica_prefix_update(replica);
    if (replica->status != VSR_STATUS_NORMAL || !vsr_replica_view_is_durable(replica)) {
        return;
    }
    if (vsr_replica_is_primary(replica)) {
        vsr_replica_primary_commit(replica);
    } else {
        vsr_replica_send_prepare_ok(replica);
        vsr_replica_execute(replica);
    }
}

void vsr_replica_on_journal_faulty(struct vsr_replica *replica, uint64_t op)
{
    assert(op >= 1);
    if (!vsr_replica_in_window(replica, op) || op <= replica->checkpoint_op) {
        return; /* below the ring (a peer's repair, a prefix): nothing to record */
    }
    struct vsr_entry *entry = vsr_entry_at(replica, op);
    entry->flags |= VSR_ENTRY_FAULTY;
    entry->journal_checksum = 0;
    if (replica->op_prefix >= op) {
        /* executed ops need no ack: the prefix never drops below commit_min */
        replica->op_prefix = op - 1 > replica->commit_min ? op - 1 : replica->commit_min;
    }
}

void vsr_replica_on_journal_cut(struct vsr_replica *replica, uint64_t op_min)
{
    assert(op_min >= 1);
    uint64_t top = vsr_replica_window_top(replica);
    uint64_t low = op_min > replica->checkpoint_op ? op_min : replica->checkpoint_op + 1;
    for (uint64_t op = low; op <= top; op++) {
        struct vsr_entry *entry = vsr_entry_at(replica, op);
        if (op <= replica->op && (entry->flags & VSR_ENTRY_CANON) != 0 &&
            entry->journal_checksum == entry->checksum && entry->checksum != 0) {
            replica->stats.cut_canonical++;
            entry->flags |= VSR_ENTRY_FAULTY;
        }
        entry->journal_checksum = 0;
    }
    if (replica->op_prefix >= op_min) {
        /* executed ops need no ack: the prefix never drops below commit_min */
        replica->op_prefix = op_min - 1 > replica->commit_min ? op_min - 1 : replica->commit_min;
    }
}

/* Advances op_prefix over canonical durable ops. */
void vsr_replica_prefix_update(struct vsr_replica *replica)
{
    assert(replica->op_prefix <= vsr_replica_window_top(replica));
    assert(replica->commit_min <= replica->op);
    if (replica->op_prefix > replica->op) {
        replica->op_prefix = replica->op;
    }
    if (replica->op_prefix < replica->commit_min) {
        replica->op_prefix = replica->commit_min; /* executed ops are committed: no ack needed */
    }
    while (replica->op_prefix < replica->op &&
           vsr_replica_is_durable(replica, replica->op_prefix + 1)) {
        replica->op_prefix++;
    }
    assert(replica->op_prefix <= replica->op);
}

/* Moves the head up to op; ops between the old head and op become unknown. */
void vsr_replica_head_extend(struct vsr_replica *replica, uint64_t op)
{
    assert(op > replica->op);
    assert(op <= vsr_replica_window_top(replica));
    for (uint64_t gap = replica->op + 1; gap <= op; gap++) {
        vsr_entry_at(replica, gap)->flags &= (uint8_t)(VSR_ENTRY_FAULTY | VSR_ENTRY_WRITING);
        vsr_entry_at(replica, gap)->checksum = 0;
    }
    replica->op = op;
}

/* Executes committed ops in op order while their prepares are durable and canonical. */
void vsr_replica_execute(struct vsr_replica *replica)
{
    assert(replica->commit_min <= replica->op_prefix || replica->commit_min <= replica->op);
    if (replica->status != VSR_STATUS_NORMAL) {
        /* Outside normal status the log above commit_min is not known to be the one that
         * commit_max committed (a state transfer installed during a view change: executing
         * the old view's suffix up to a newer view's commit_max forked, seed 3986142515284). */
        return;
    }
    struct vsr_header header;
    for (uint64_t round = 0; round < replica->config.ops_max; round++) {
        if (replica->commit_min >= replica->commit_max ||
            replica->commit_min >= replica->op_prefix) {
            break;
        }
        uint64_t op = replica->commit_min + 1;
        int result = vsr_replica_journal_read(replica, op, &header, replica->body_buffer);
        if (result == -EAGAIN) {
            break; /* a read that may not wait here: started, executed from a later tick */
        }
        if (result != 0 || header.checksum != vsr_entry_at(replica, op)->checksum) {
            vsr_entry_at(replica, op)->journal_checksum = 0;
            replica->op_prefix = op - 1;
            break;
        }
        vsr_replica_entry_set(replica, &header);
        vsr_replica_execute_one(replica, &header, replica->body_buffer);
        replica->commit_min = op;
        vsr_replica_checkpoint_maybe(replica);
    }
    assert(replica->commit_min <= replica->op);
    vsr_replica_recovering_check(replica);
}

u128 vsr_replica_root_checksum(const struct vsr_replica *replica)
{
    assert(replica->headers != NULL);
    assert(replica->root_checksum != 0);
    return replica->root_checksum;
}

static int vsr_replica_config_check(const struct vsr_replica_config *config)
{
    assert(config != NULL);
    if (config->replica_count < 1 || config->replica_count > VSR_REPLICAS_MAX ||
        config->replica >= config->replica_count || config->pipeline_max < 1 ||
        config->pipeline_max > VSR_PIPELINE_MAX || config->ops_max < 1 || config->clients_max < 1 ||
        config->ops_max > (1ull << 32) || config->exactly_once_window_max > VSR_WINDOW_MAX) {
        return -RUNNEL_ECONFIG;
    }
    /* A checkpoint every interval ops leaves room for the pipeline above it in the ring. */
    if (config->checkpoint_interval > 0 &&
        (config->checkpoint_interval + config->pipeline_max + 1 > config->ops_max ||
         config->state_size_max == 0)) {
        return -RUNNEL_ECONFIG;
    }
    return 0;
}

static int vsr_replica_allocate(struct vsr_replica *replica)
{
    const struct vsr_replica_config *config = &replica->config;
    uint64_t window = vsr_replica_window_max(replica);
    replica->entries = calloc(config->ops_max + 1, sizeof(struct vsr_entry));
    replica->headers = calloc(config->ops_max + 1, sizeof(struct vsr_header));
    replica->body_buffer = calloc(1, (size_t)config->body_size_max + 1);
    replica->reply_buffer = calloc(1, (size_t)config->reply_size_max + 1);
    replica->dvc_headers = calloc(config->replica_count * window, sizeof(struct vsr_header));
    replica->window = calloc(window, sizeof(struct vsr_header));
    replica->sessions = calloc(config->clients_max, sizeof(struct vsr_client_session));
    replica->reply_bodies = calloc(config->clients_max, (size_t)config->reply_size_max + 1);
    uint64_t window_count = (uint64_t)config->clients_max * config->exactly_once_window_max + 1;
    replica->window_entries = calloc(window_count, sizeof(struct vsr_window_entry));
    replica->window_bodies = calloc(window_count, (size_t)config->reply_size_max + 1);
    if (config->checkpoint_interval > 0) {
        replica->checkpoint_size_max =
            VSR_HEADER_SIZE + 32 + vsr_replica_sessions_size(replica) + config->state_size_max;
        replica->checkpoint_bytes = calloc(1, replica->checkpoint_size_max);
        replica->checkpoint_next = calloc(1, replica->checkpoint_size_max);
        if (replica->checkpoint_bytes == NULL || replica->checkpoint_next == NULL) {
            vsr_replica_deinit(replica);
            return -ENOMEM;
        }
    }
    if (replica->window_entries == NULL || replica->window_bodies == NULL ||
        replica->entries == NULL || replica->headers == NULL || replica->body_buffer == NULL ||
        replica->reply_buffer == NULL || replica->dvc_headers == NULL || replica->window == NULL ||
        replica->sessions == NULL || replica->reply_bodies == NULL) {
        vsr_replica_deinit(replica);
        return -ENOMEM;
    }
    return 0;
}

int vsr_replica_init(struct vsr_replica *replica, const struct vsr_replica_config *config,
                     const struct vsr_superblock_state *durable, const struct vsr_journal *journal,
                     const struct vsr_superblock *superblock,
                     const struct vsr_state_machine *state_machine, const struct vsr_bus *bus,
                     const struct clock *clock)
{
    assert(replica != NULL && config != NULL && durable != NULL);
    assert(journal != NULL && superblock != NULL && state_machine != NULL && bus != NULL);
    int result = vsr_replica_config_check(config);
    if (result != 0) {
        return result;
    }
    if (config->checkpoint_interval > 0 &&
        (state_machine->snapshot == NULL || state_machine->restore == NULL ||
         superblock->checkpoint_write == NULL || superblock->checkpoint_read == NULL)) {
        return -RUNNEL_ECONFIG;
    }
    memset(replica, 0, sizeof(*replica));
    replica->config = *config;
    replica->journal = *journal;
    replica->superblock = *superblock;
    replica->state_machine = *state_machine;
    replica->bus = *bus;
    replica->clock = clock;
    replica->durable = *durable;
    replica->group_index = vsr_group_index(&config->group);
    prng_init(&replica->prng, config->seed);
    result = vsr_replica_allocate(replica);
    if (result != 0) {
        return result;
    }
    replica->timeout_heartbeat.ticks = VSR_TIMEOUT_HEARTBEAT_TICKS;
    replica->timeout_prepare.ticks = VSR_TIMEOUT_PREPARE_TICKS;
    replica->timeout_normal.ticks = VSR_TIMEOUT_NORMAL_TICKS;
    replica->timeout_view_change.ticks = VSR_TIMEOUT_VIEW_CHANGE_TICKS;
    replica->timeout_resend.ticks = VSR_TIMEOUT_RESEND_TICKS;
    replica->timeout_repair.ticks = VSR_TIMEOUT_REPAIR_TICKS;
    replica->recovering = config->recovering && config->replica_count > 1;
    result = vsr_replica_recover(replica);
    if (result != 0) {
        vsr_replica_deinit(replica);
    }
    return result;
}

void vsr_replica_deinit(struct vsr_replica *replica)
{
    assert(replica != NULL);
    free(replica->entries);
    free(replica->headers);
    free(replica->body_buffer);
    free(replica->reply_buffer);
    free(replica->dvc_headers);
    free(replica->window);
    free(replica->sessions);
    free(replica->reply_bodies);
    free(replica->window_entries);
    free(replica->window_bodies);
    free(replica->checkpoint_bytes);
    free(replica->checkpoint_next);
    replica->checkpoint_bytes = NULL;
    replica->checkpoint_next = NULL;
    replica->window_entries = NULL;
    replica->entries = NULL;
    replica->headers = NULL;
    replica->sessions = NULL;
    assert(replica->entries == NULL);
}

static void vsr_replica_tick_run(struct vsr_replica *replica);

void vsr_replica_log_state(const struct vsr_replica *replica, const char *where)
{
    assert(replica != NULL && where != NULL);
    uint64_t next = replica->commit_min + 1;
    const struct vsr_entry *entry = next <= replica->op && vsr_replica_in_window(replica, next)
                                        ? vsr_entry_at(replica, next)
                                        : NULL;
    log_warn("vsr_group_state",
             "where=%s status=%d view=%u log_view=%u op=%llu commit_min=%llu commit_max=%llu "
             "op_prefix=%llu checkpoint=%llu next_flags=%d next_held=%d depth=%u "
             "repairs=%llu headers_learned=%llu reentrant=%llu checkpoint_quorum=%llu "
             "checkpoint_stage=%d window_full=%llu",
             where, (int)replica->status, replica->view, replica->log_view,
             (unsigned long long)replica->op, (unsigned long long)replica->commit_min,
             (unsigned long long)replica->commit_max, (unsigned long long)replica->op_prefix,
             (unsigned long long)replica->checkpoint_op, entry != NULL ? (int)entry->flags : -1,
             entry != NULL && entry->checksum != 0 && entry->journal_checksum == entry->checksum,
             replica->depth, (unsigned long long)replica->stats.repairs_requested,
             (unsigned long long)replica->stats.headers_learned,
             (unsigned long long)replica->stats.messages_reentrant,
             (unsigned long long)replica->checkpoint_quorum_op, (int)replica->checkpoint_stage,
             (unsigned long long)replica->stats.window_full);
}

void vsr_replica_tick(struct vsr_replica *replica)
{
    assert(replica->status != 0);
    if (replica->depth > 0) {
        return; /* a wait inside this replica's own call delivered the tick: the next one */
    }
    replica->depth++;
    vsr_replica_tick_run(replica);
    vsr_replica_repair_serve(replica);
    replica->depth--;
    assert(replica->depth == 0);
}

static void vsr_replica_tick_run(struct vsr_replica *replica)
{
    replica->tick++;
    if (vsr_replica_is_primary(replica)) {
        vsr_replica_tick_primary(replica);
    } else if (replica->status == VSR_STATUS_NORMAL) {
        if (vsr_replica_timeout_fired(replica, &replica->timeout_normal)) {
            if (replica->recovering) {
                vsr_replica_recovering_wait(replica); /* never votes: asks for the view */
            } else {
                vsr_replica_vote(replica, replica->view + 1);
            }
        }
    } else if (replica->status == VSR_STATUS_VIEW_CHANGE) {
        if (vsr_replica_timeout_fired(replica, &replica->timeout_view_change)) {
            vsr_replica_vote(replica, replica->view + 1);
        }
    }
    if (vsr_replica_timeout_fired(replica, &replica->timeout_resend)) {
        /* Not before the view is durable: a slow superblock write outlives the timeout. */
        if (replica->status == VSR_STATUS_VIEW_CHANGE && vsr_replica_view_is_durable(replica)) {
            vsr_replica_send_view_change_messages(replica);
        } else if (replica->status == VSR_STATUS_RECOVERING_HEAD &&
                   (!replica->recovering || vsr_replica_view_is_durable(replica))) {
            /* A recovering replica asks for a raised view only once it is durable. */
            for (uint8_t target = 0; target < replica->config.replica_count; target++) {
                if (target != replica->config.replica) {
                    vsr_replica_request_start_view(replica, target);
                }
            }
        } else if (replica->recovering && replica->status == VSR_STATUS_NORMAL &&
                   vsr_quorum_count(replica->recovering_heard) <
                       vsr_replica_recovering_peers_needed(replica)) {
            /* Caught up or not: the peers not heard yet answer with their view (pong). */
            for (uint8_t target = 0; target < replica->config.replica_count; target++) {
                if (target != replica->config.replica &&
                    ((replica->recovering_heard >> target) & 1) == 0) {
                    vsr_replica_request_start_view(replica, target);
                }
            }
        }
        if (replica->voted && replica->vote_view > replica->view) {
            vsr_replica_vote(replica, replica->vote_view);
        }
    }
    if (vsr_replica_timeout_fired(replica, &replica->timeout_repair)) {
        vsr_replica_transfer_check(replica);
        vsr_replica_repair(replica);
        if (replica->durable.log_head_header.checksum == 0 && replica->log_head_op > 0) {
            vsr_replica_persist(replica); /* the head's header may be known now */
        }
    }
    if (replica->status == VSR_STATUS_NORMAL && replica->commit_min < replica->commit_max &&
        replica->commit_min < replica->op_prefix) {
        vsr_replica_execute(replica); /* what a message could not read without waiting */
    }
}

/* Validates the frame of an untrusted message; false (and counted) when it is bad. */
static bool vsr_replica_message_is_valid(struct vsr_replica *replica,
                                         const struct vsr_header *header, const void *body)
{
    uint32_t size_max = VSR_HEADER_SIZE + replica->config.body_size_max +
                        vsr_replica_window_max(replica) * VSR_HEADER_SIZE;
    if (vsr_header_validate(header, size_max, NULL) != 0 ||
        header->cluster != replica->config.cluster || header->release != 0) {
        replica->stats.messages_invalid++;
        return false;
    }
    if (!vsr_group_is_equal(&header->group, &replica->config.group)) {
        replica->stats.messages_other_group++;
        return false;
    }
    if (!vsr_header_is_body_valid(header, body)) {
        replica->stats.messages_invalid++;
        return false;
    }
    if (header->command != VSR_COMMAND_REQUEST && header->command != VSR_COMMAND_PREPARE &&
        (header->replica >= replica->config.replica_count ||
         header->replica == replica->config.replica)) {
        replica->stats.messages_invalid++;
        return false;
    }
    return true;
}

void vsr_replica_request_seal_local(struct vsr_header *header, uint32_t body_size_bytes)
{
    assert(header != NULL && header->command == VSR_COMMAND_REQUEST);
    assert(body_size_bytes <= UINT32_MAX - VSR_HEADER_SIZE);
    header->size = VSR_HEADER_SIZE + body_size_bytes;
    header->checksum_body = 0;
    vsr_header_set_checksum(header);
}

void vsr_replica_on_local_request(struct vsr_replica *replica, const struct vsr_header *header,
                                  const void *body)
{
    assert(header != NULL && header->command == VSR_COMMAND_REQUEST);
    assert(replica->status != 0);
    assert(body != NULL || header->size == VSR_HEADER_SIZE);
    if (vsr_header_validate(header, VSR_HEADER_SIZE + replica->config.body_size_max, NULL) != 0 ||
        header->cluster != replica->config.cluster || header->release != 0 ||
        !vsr_group_is_equal(&header->group, &replica->config.group)) {
        replica->stats.messages_invalid++;
        return;
    }
    vsr_replica_on_request(replica, header, body);
}

static void vsr_replica_on_message_dispatch(struct vsr_replica *replica,
                                            const struct vsr_header *header, const void *body);

void vsr_replica_on_message(struct vsr_replica *replica, const struct vsr_header *header,
                            const void *body)
{
    assert(header != NULL);
    assert(replica->status != 0);
    if (!vsr_replica_message_is_valid(replica, header, body)) {
        return;
    }
    if (replica->depth > 0) {
        /* Delivered while this replica waits on its journal (a read from a tick runs the
         * ring): dropped, as the network may; the sender's retransmit recovers it. */
        replica->stats.messages_reentrant++;
        return;
    }
    if (header->command != VSR_COMMAND_REQUEST && header->command != VSR_COMMAND_PREPARE) {
        replica->heard_tick[header->replica] = replica->tick;
    }
    switch (header->command) {
    case VSR_COMMAND_PONG:
    case VSR_COMMAND_COMMIT:
    case VSR_COMMAND_START_VIEW_CHANGE:
    case VSR_COMMAND_DO_VIEW_CHANGE:
    case VSR_COMMAND_START_VIEW:
    case VSR_COMMAND_HEADERS:
        vsr_replica_recovering_hear(replica, header->replica, header->view); /* its view now */
        break;
    default:
        break;
    }
    replica->depth++;
    vsr_replica_on_message_dispatch(replica, header, body);
    replica->depth--;
}

static void vsr_replica_on_message_dispatch(struct vsr_replica *replica,
                                            const struct vsr_header *header, const void *body)
{
    switch (header->command) {
    case VSR_COMMAND_REQUEST:
        vsr_replica_on_request(replica, header, body);
        break;
    case VSR_COMMAND_PREPARE:
        vsr_replica_on_prepare(replica, header, body);
        break;
    case VSR_COMMAND_PREPARE_OK:
        vsr_replica_on_prepare_ok(replica, header);
        break;
    case VSR_COMMAND_COMMIT:
        vsr_replica_on_commit(replica, header);
        break;
    case VSR_COMMAND_START_VIEW_CHANGE:
        vsr_replica_on_start_view_change(replica, header);
        break;
    case VSR_COMMAND_DO_VIEW_CHANGE:
        vsr_replica_on_do_view_change(replica, header, body);
        break;
    case VSR_COMMAND_START_VIEW:
        vsr_replica_on_start_view(replica, header, body);
        break;
    case VSR_COMMAND_REQUEST_START_VIEW:
        vsr_replica_on_request_start_view(replica, header);
        break;
    case VSR_COMMAND_REQUEST_PREPARE:
        vsr_replica_on_request_prepare(replica, header);
        break;
    case VSR_COMMAND_REQUEST_HEADERS:
        vsr_replica_on_request_headers(replica, header);
        break;
    case VSR_COMMAND_HEADERS:
        vsr_replica_on_headers(replica, header, body);
        break;
    case VSR_COMMAND_REQUEST_CHECKPOINT:
        vsr_replica_on_request_checkpoint(replica, header);
        break;
    case VSR_COMMAND_CHECKPOINT:
        vsr_replica_on_checkpoint(replica, header, body);
        break;
    case VSR_COMMAND_PONG:
        break; /* a peer's view for a recovering replica: heard in on_message */
    case VSR_COMMAND_REQUEST_RECORDS:
        vsr_replica_on_request_records(replica, header);
        break;
    default:
        replica->stats.messages_invalid++;
        break;
    }
}
