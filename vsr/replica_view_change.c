/*
 * VSR view change: start_view_change votes (a view-change quorum is needed to leave a
 * view), do_view_change (log_view, present and nack bitsets, the sender's top headers),
 * the new primary's log choice (highest log_view, then op; truncation only on a nack
 * quorum; hash-chain check) and start_view. Runs on the shard that owns the group.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "vsr/quorum.h"
#include "vsr/replica_private.h"

#include <string.h>

static void vsr_replica_send_start_view_change(struct vsr_replica *replica, uint32_t view)
{
    assert(view >= replica->view);
    assert(replica->status != VSR_STATUS_RECOVERING_HEAD);
    struct vsr_header message;
    vsr_replica_message_init(replica, &message, VSR_COMMAND_START_VIEW_CHANGE);
    message.view = view;
    vsr_header_seal(&message, NULL, 0);
    vsr_replica_broadcast(replica, &message, NULL);
}

static void vsr_replica_votes_check(struct vsr_replica *replica)
{
    assert(replica->vote_view > 0);
    uint32_t quorum = vsr_quorum_view_change(replica->config.replica_count);
    if (replica->vote_view > replica->view && vsr_quorum_count(replica->votes) >= quorum) {
        vsr_replica_view_change_start(replica, replica->vote_view);
    }
}

void vsr_replica_vote(struct vsr_replica *replica, uint32_t view)
{
    assert(view > 0);
    if (view < replica->vote_view && replica->vote_view > replica->view) {
        /* Peers already vote for a later view: join theirs. Voting view + 1 instead left
         * a replica in an older view (it missed the views between) and one in a newer view
         * each alone in its vote for ever once the third replica stopped voting. */
        view = replica->vote_view;
    }
    if (view <= replica->view || replica->status == VSR_STATUS_RECOVERING_HEAD ||
        replica->recovering || view < replica->vote_view || !replica->durable.formed) {
        return; /* !formed: a new group's replica votes once its superblock names the group */
    }
    if (view > replica->vote_view) {
        replica->vote_view = view;
        replica->votes = 0;
    }
    replica->voted = true;
    replica->votes |= 1ull << replica->config.replica;
    vsr_replica_send_start_view_change(replica, view);
    vsr_replica_votes_check(replica);
}

void vsr_replica_view_change_start(struct vsr_replica *replica, uint32_t view)
{
    assert(view > replica->view);
    assert(replica->status != VSR_STATUS_RECOVERING_HEAD);
    if (replica->recovering) {
        /* Joining a view change would promise (and nack) what it may have forgotten: it
         * waits for the view's start_view instead. */
        vsr_replica_recovering_wait(replica);
        return;
    }
    replica->view = view;
    replica->status = VSR_STATUS_VIEW_CHANGE;
    replica->dvc_present = 0;
    replica->dvc_informed = 0;
    replica->stats.view_changes++;
    memset(replica->ack_op, 0, sizeof(replica->ack_op));
    if (replica->vote_view < view) {
        replica->vote_view = view;
        replica->votes = 0;
        replica->voted = false;
    }
    vsr_replica_timeout_stop(&replica->timeout_heartbeat);
    vsr_replica_timeout_stop(&replica->timeout_prepare);
    vsr_replica_timeout_stop(&replica->timeout_normal);
    vsr_replica_timeout_start(replica, &replica->timeout_view_change);
    vsr_replica_timeout_start(replica, &replica->timeout_resend);
    vsr_replica_persist(replica);
    if (vsr_replica_view_is_durable(replica)) {
        vsr_replica_send_view_change_messages(replica);
    }
}

/*
 * True when a state transfer began this replica's journal again above its checkpoint (the
 * records phase from a peer's first held op: vsr_replica_records_restart) and no
 * checkpoint at or above that start is installed yet: its log forgot what its log_view's
 * log held above commit_min. Derived from the journal, so a restart mid-transfer knows it.
 */
static bool vsr_replica_log_is_partial(const struct vsr_replica *replica)
{
    return replica->journal.op_first != NULL &&
           replica->journal.op_first(replica->journal.context) > replica->checkpoint_op + 1;
}

/*
 * Fills body[i] with the canonical header of op (op - i), zero when unknown; returns count.
 * informs_view 0: this replica's do_view_change; else its informing message for the view
 * change to informs_view (recovering_head: present bits only, never a nack).
 */
static uint32_t vsr_replica_dvc_build(struct vsr_replica *replica, struct vsr_header *message,
                                      struct vsr_header *body, uint32_t informs_view)
{
    assert(informs_view == 0 || replica->status == VSR_STATUS_RECOVERING_HEAD);
    uint32_t count = vsr_replica_window_max(replica);
    if (replica->op < count) {
        count = (uint32_t)replica->op;
    }
    if (replica->op - replica->checkpoint_op + 1 < count) {
        count = (uint32_t)(replica->op - replica->checkpoint_op + 1); /* the ring's ops only */
    }
    vsr_replica_message_init(replica, message, VSR_COMMAND_DO_VIEW_CHANGE);
    struct vsr_header_do_view_change *dvc = &message->u.do_view_change;
    for (uint32_t index = 0; index < count; index++) {
        uint64_t op = replica->op - index;
        const struct vsr_entry *entry = vsr_entry_at(replica, op);
        memset(&body[index], 0, sizeof(body[index]));
        if ((entry->flags & VSR_ENTRY_HEADER) != 0) {
            body[index] = *vsr_header_at(replica, op);
        }
        bool faulty = (entry->flags & VSR_ENTRY_FAULTY) != 0;
        bool canon = (entry->flags & VSR_ENTRY_CANON) != 0;
        if (vsr_replica_is_durable(replica, op)) {
            dvc->present_bitset |= (u128)1 << index;
        } else if (informs_view == 0 && !faulty &&
                   ((canon && entry->journal_checksum != entry->checksum) ||
                    (!canon && entry->journal_checksum == 0))) {
            dvc->nack_bitset |= (u128)1 << index; /* never durably held: never acked */
        }
    }
    dvc->op = replica->op;
    dvc->commit_min = replica->commit_min;
    dvc->commit_max = replica->commit_max < replica->op ? replica->commit_max : replica->op;
    dvc->log_view = replica->log_view;
    dvc->checkpoint_op = replica->checkpoint_op;
    dvc->informs_view = informs_view;
    /* Below its own commit_max its log lacks committed ops, so it is not its log_view's log
     * whole either (a state transfer's journal restart dropped what lay above commit_min:
     * runnel-sim --seed 4242009649); nor below the op its log_view's log reached before such
     * a restart (log_dropped_op), which others may have committed unknown to it. */
    bool partial = vsr_replica_log_is_partial(replica) || replica->op < replica->commit_max;
    if (!partial && replica->op < replica->log_dropped_op) {
        partial = true;
        replica->stats.dvc_partial_marked++;
    }
    dvc->flags = partial ? VSR_DVC_LOG_PARTIAL : 0;
    vsr_header_seal(message, body, count * VSR_HEADER_SIZE);
    assert((dvc->present_bitset & dvc->nack_bitset) == 0);
    return count;
}

static bool vsr_replica_choose(struct vsr_replica *replica);

void vsr_replica_send_view_change_messages(struct vsr_replica *replica)
{
    assert(replica->status == VSR_STATUS_VIEW_CHANGE);
    assert(vsr_replica_view_is_durable(replica));
    vsr_replica_send_start_view_change(replica, replica->view);
    uint8_t primary = vsr_replica_primary_index(replica, replica->view);
    uint32_t window = vsr_replica_window_max(replica);
    uint8_t self = replica->config.replica;
    struct vsr_header *body = &replica->dvc_headers[(uint64_t)self * window];
    vsr_replica_dvc_build(replica, &replica->dvc[self], body, 0);
    /* Broadcast, not only to the new primary: a do_view_change proves its sender left
     * the old view (a vote quorum, or a restarted primary), so replicas still in an older
     * view follow it instead of leaving it alone in a view nobody else joins. */
    vsr_replica_broadcast(replica, &replica->dvc[self], body);
    if (primary == self) {
        replica->dvc_present |= 1ull << self;
        vsr_replica_choose(replica);
    }
}

void vsr_replica_on_start_view_change(struct vsr_replica *replica, const struct vsr_header *header)
{
    assert(header->command == VSR_COMMAND_START_VIEW_CHANGE);
    assert(header->replica != replica->config.replica);
    if (replica->status == VSR_STATUS_RECOVERING_HEAD || replica->recovering ||
        header->view <= replica->view) {
        return;
    }
    if (header->view > replica->vote_view) {
        replica->vote_view = header->view;
        replica->votes = 0;
        replica->voted = false;
    }
    if (header->view == replica->vote_view) {
        replica->votes |= 1ull << header->replica;
        vsr_replica_votes_check(replica);
    }
}

/* Validates a do_view_change body: count, ops, and each present header's frame. */
static bool vsr_replica_dvc_is_valid(const struct vsr_replica *replica,
                                     const struct vsr_header *header, const struct vsr_header *body)
{
    const struct vsr_header_do_view_change *dvc = &header->u.do_view_change;
    uint64_t count_max = vsr_replica_window_max(replica);
    if (dvc->op < count_max) {
        count_max = dvc->op;
    }
    uint64_t count = (header->size - VSR_HEADER_SIZE) / VSR_HEADER_SIZE;
    if ((header->size - VSR_HEADER_SIZE) % VSR_HEADER_SIZE != 0 || count > count_max ||
        (count == 0 && dvc->op > 0) || dvc->commit_max > dvc->op ||
        dvc->checkpoint_op > dvc->commit_min || dvc->commit_min > dvc->op ||
        (dvc->present_bitset & dvc->nack_bitset) != 0) {
        return false;
    }
    for (uint64_t index = 0; index < count; index++) {
        const struct vsr_header *entry = &body[index];
        if (entry->checksum == 0) {
            continue;
        }
        if (!vsr_header_is_checksum_valid(entry) || entry->command != VSR_COMMAND_PREPARE ||
            entry->u.prepare.op != dvc->op - index || entry->cluster != replica->config.cluster ||
            !vsr_group_is_equal(&entry->group, &replica->config.group)) {
            return false;
        }
    }
    return true;
}

/*
 * A recovering_head replica votes and nacks nothing, but its log may hold the only intact
 * copies of ops a view-change quorum cannot decide without (prepares of the last primary
 * that only it received, above the others' heads, not nacked by a quorum): it tells the
 * primary of view what it holds and promises nothing (the frame keeps its own view). The
 * primary takes from it only headers that are canonical by themselves and intact copies
 * (vsr_replica_choose). A wiped replica sends none: it keeps out of view changes wholly.
 */
static void vsr_replica_send_informing_dvc(struct vsr_replica *replica, uint32_t view)
{
    assert(replica->status == VSR_STATUS_RECOVERING_HEAD);
    assert(view > replica->view);
    uint8_t self = replica->config.replica;
    uint8_t primary = vsr_replica_primary_index(replica, view);
    if (replica->recovering || primary == self) {
        return; /* it cannot lead while recovering_head: the others time out to the next */
    }
    struct vsr_header message;
    struct vsr_header *body =
        &replica->dvc_headers[(uint64_t)self * vsr_replica_window_max(replica)];
    vsr_replica_dvc_build(replica, &message, body, view);
    vsr_replica_send(replica, primary, &message, body);
}

/* The new primary keeps an informing message for its view change (no vote: no quorum). */
static void vsr_replica_on_informing_dvc(struct vsr_replica *replica,
                                         const struct vsr_header *header, const void *body)
{
    uint8_t sender = header->replica;
    uint32_t view = header->u.do_view_change.informs_view;
    assert(view > header->view);
    if (replica->status != VSR_STATUS_VIEW_CHANGE || replica->recovering || view != replica->view ||
        vsr_replica_primary_index(replica, view) != replica->config.replica ||
        ((replica->dvc_present >> sender) & 1) != 0) {
        return; /* not this view change's primary, or the sender's vote already counts */
    }
    if (!vsr_replica_dvc_is_valid(replica, header, body)) {
        replica->stats.messages_invalid++;
        return;
    }
    uint32_t window = vsr_replica_window_max(replica);
    replica->dvc[sender] = *header;
    memcpy(&replica->dvc_headers[(uint64_t)sender * window], body, header->size - VSR_HEADER_SIZE);
    replica->dvc_informed |= 1ull << sender;
    replica->stats.dvc_informing++;
    if (vsr_replica_view_is_durable(replica) &&
        (replica->dvc_present & (1ull << replica->config.replica)) != 0) {
        vsr_replica_choose(replica);
    }
}

void vsr_replica_on_do_view_change(struct vsr_replica *replica, const struct vsr_header *header,
                                   const void *body)
{
    assert(header->command == VSR_COMMAND_DO_VIEW_CHANGE);
    uint8_t sender = header->replica;
    if (header->u.do_view_change.informs_view != 0) {
        vsr_replica_on_informing_dvc(replica, header, body);
        return;
    }
    if (replica->status == VSR_STATUS_RECOVERING_HEAD && header->view > replica->view) {
        vsr_replica_send_informing_dvc(replica, header->view);
        return;
    }
    if (replica->status == VSR_STATUS_RECOVERING_HEAD || header->view < replica->view) {
        return;
    }
    if (replica->recovering) {
        if (header->view > replica->view) {
            vsr_replica_recovering_wait(replica); /* a view change it sits out */
        }
        return;
    }
    if (vsr_replica_primary_index(replica, header->view) != replica->config.replica) {
        if (header->view > replica->view) {
            vsr_replica_view_change_start(replica, header->view);
        }
        return;
    }
    if (header->view == replica->view && vsr_replica_is_primary(replica)) {
        if (vsr_replica_view_is_durable(replica)) {
            vsr_replica_send_start_view(replica, sender);
        }
        return;
    }
    if (!vsr_replica_dvc_is_valid(replica, header, body)) {
        replica->stats.messages_invalid++;
        return;
    }
    if (header->view > replica->view) {
        vsr_replica_view_change_start(replica, header->view); /* the sender saw a quorum */
    }
    if (replica->status != VSR_STATUS_VIEW_CHANGE || header->view != replica->view) {
        return;
    }
    uint32_t window = vsr_replica_window_max(replica);
    vsr_replica_checkpoint_learn(replica, sender, header->u.do_view_change.checkpoint_op);
    replica->dvc[sender] = *header;
    memcpy(&replica->dvc_headers[(uint64_t)sender * window], body, header->size - VSR_HEADER_SIZE);
    replica->dvc_present |= 1ull << sender;
    replica->dvc_informed &= ~(1ull << sender);
    if (vsr_replica_view_is_durable(replica) &&
        (replica->dvc_present & (1ull << replica->config.replica)) != 0) {
        vsr_replica_choose(replica);
    }
}

/* The header of op in replica r's do_view_change, or NULL when it names none. */
static const struct vsr_header *vsr_replica_dvc_header(const struct vsr_replica *replica, uint8_t r,
                                                       uint64_t op)
{
    const struct vsr_header_do_view_change *dvc = &replica->dvc[r].u.do_view_change;
    uint64_t count = (replica->dvc[r].size - VSR_HEADER_SIZE) / VSR_HEADER_SIZE;
    if (op > dvc->op || op + count <= dvc->op || op == 0) {
        return NULL;
    }
    const struct vsr_header *header =
        &replica->dvc_headers[(uint64_t)r * vsr_replica_window_max(replica) + (dvc->op - op)];
    assert(header->checksum == 0 || header->u.prepare.op == op);
    return header->checksum == 0 ? NULL : header;
}

/* True when replica r's do_view_change says r never acked canonical at op. */
static bool vsr_replica_dvc_nacks(const struct vsr_replica *replica, uint8_t r, uint64_t op,
                                  const struct vsr_header *canonical, uint32_t log_view_max)
{
    const struct vsr_header_do_view_change *dvc = &replica->dvc[r].u.do_view_change;
    assert(op > 0);
    if (op > dvc->op) {
        return true;
    }
    uint64_t count = (replica->dvc[r].size - VSR_HEADER_SIZE) / VSR_HEADER_SIZE;
    uint64_t index = dvc->op - op;
    if (index >= count) {
        return false;
    }
    if ((dvc->nack_bitset >> index) & 1) {
        return true;
    }
    const struct vsr_header *header = vsr_replica_dvc_header(replica, r, op);
    return dvc->log_view < log_view_max && header != NULL && canonical != NULL &&
           header->checksum != canonical->checksum;
}

/* True when replica r's do_view_change says r holds canonical's prepare intact. */
static bool vsr_replica_dvc_has_copy(const struct vsr_replica *replica, uint8_t r, uint64_t op,
                                     const struct vsr_header *canonical, uint32_t log_view_max)
{
    const struct vsr_header_do_view_change *dvc = &replica->dvc[r].u.do_view_change;
    assert(op > 0 && canonical != NULL);
    uint64_t count = (replica->dvc[r].size - VSR_HEADER_SIZE) / VSR_HEADER_SIZE;
    if (op > dvc->op || dvc->op - op >= count ||
        ((dvc->present_bitset >> (dvc->op - op)) & 1) == 0) {
        return false;
    }
    const struct vsr_header *header = vsr_replica_dvc_header(replica, r, op);
    if (header == NULL) {
        /* One log per log_view: the canonical one (an informing sender's log above its
         * damaged head may be an older view's: only named copies count). */
        return ((replica->dvc_present >> r) & 1) != 0 && dvc->log_view == log_view_max;
    }
    return header->checksum == canonical->checksum;
}

/* What the do_view_change quorum says about the log. */
struct vsr_choice {
    uint32_t log_view_max;
    uint64_t head;      /* highest op among the canonical (highest log_view) messages */
    uint64_t floor;     /* ops at or below are committed: never truncated */
    uint64_t committed; /* the highest op known committed (the messages, this replica) */
    uint64_t base;      /* lowest op of the window (replica->window[op - base]) */
    uint64_t head_new;  /* head after nack-quorum truncation */
    bool log_whole;     /* a log_view_max message's log is not partial (VSR_DVC_LOG_PARTIAL) */
};

static void vsr_replica_choice_scan(const struct vsr_replica *replica, struct vsr_choice *choice)
{
    assert(replica->dvc_present != 0);
    memset(choice, 0, sizeof(*choice));
    for (uint8_t r = 0; r < replica->config.replica_count; r++) {
        if ((replica->dvc_present >> r) & 1) {
            const struct vsr_header_do_view_change *dvc = &replica->dvc[r].u.do_view_change;
            if (dvc->log_view > choice->log_view_max) {
                choice->log_view_max = dvc->log_view;
            }
            if (dvc->commit_max > choice->floor) {
                choice->floor = dvc->commit_max;
            }
        }
    }
    for (uint8_t r = 0; r < replica->config.replica_count; r++) {
        const struct vsr_header_do_view_change *dvc = &replica->dvc[r].u.do_view_change;
        if (((replica->dvc_present >> r) & 1) && dvc->log_view == choice->log_view_max) {
            choice->head = dvc->op > choice->head ? dvc->op : choice->head;
            choice->log_whole |= (dvc->flags & VSR_DVC_LOG_PARTIAL) == 0;
        }
    }
    choice->committed = replica->commit_max > choice->floor ? replica->commit_max : choice->floor;
    /* The primary that prepared head had committed everything a pipeline below it. */
    uint64_t pipeline = replica->config.pipeline_max;
    if (choice->head > pipeline && choice->head - pipeline > choice->floor) {
        choice->floor = choice->head - pipeline;
    }
    if (choice->floor > choice->head) {
        choice->floor = choice->head;
    }
    uint64_t window = vsr_replica_window_max(replica);
    choice->base = choice->head >= window ? choice->head - window + 1 : 1;
    assert(choice->floor + 1 >= choice->base || choice->floor == 0);
}

/* Fills the window with canonical headers; false when canonical messages disagree. */
static bool vsr_replica_choice_canonical(struct vsr_replica *replica,
                                         const struct vsr_choice *choice)
{
    uint64_t window = vsr_replica_window_max(replica);
    memset(replica->window, 0, window * sizeof(struct vsr_header));
    for (uint64_t op = choice->base; op <= choice->head; op++) {
        struct vsr_header *slot = &replica->window[op - choice->base];
        for (uint8_t r = 0; r < replica->config.replica_count; r++) {
            bool voter = ((replica->dvc_present >> r) & 1) != 0 &&
                         replica->dvc[r].u.do_view_change.log_view == choice->log_view_max;
            bool informant = ((replica->dvc_informed >> r) & 1) != 0;
            if (!voter && !informant) {
                continue;
            }
            const struct vsr_header *header = vsr_replica_dvc_header(replica, r, op);
            if (header == NULL || (!voter && header->view != choice->log_view_max)) {
                /* A prepare of view log_view_max is that log's at its op, whoever holds it:
                 * the view's primary prepares each op once, above the log it started with. */
                continue;
            }
            if (slot->checksum != 0 && slot->checksum != header->checksum) {
                replica->stats.messages_invalid++;
                return false; /* one log_view, two logs: refuse to choose */
            }
            *slot = *header;
        }
    }
    return true;
}

/*
 * Fills window slots the canonical messages left empty down the hash chain: a header any
 * do_view_change holds (whatever its log_view) whose checksum is the parent named by the
 * canonical header above it is that op's canonical prepare. A replica that restarted
 * without the prepares below its installed head still lets the group choose.
 */
static void vsr_replica_choice_chain_fill(struct vsr_replica *replica,
                                          const struct vsr_choice *choice)
{
    assert(choice->base >= 1);
    assert(choice->head >= choice->base || choice->head == 0);
    for (uint64_t op = choice->head; op > choice->base; op--) {
        const struct vsr_header *high = &replica->window[op - choice->base];
        struct vsr_header *low = &replica->window[op - 1 - choice->base];
        if (high->checksum == 0 || low->checksum != 0) {
            continue;
        }
        for (uint8_t r = 0; r < replica->config.replica_count; r++) {
            uint64_t senders = replica->dvc_present | replica->dvc_informed;
            const struct vsr_header *header =
                ((senders >> r) & 1) ? vsr_replica_dvc_header(replica, r, op - 1) : NULL;
            if (header != NULL && header->checksum == high->u.prepare.parent) {
                *low = *header;
                break;
            }
        }
    }
}

/* Walks the uncommitted ops: truncates at the first nack quorum; false to await more. */
static bool vsr_replica_choice_head(struct vsr_replica *replica, struct vsr_choice *choice)
{
    uint32_t quorum = vsr_quorum_nack(replica->config.replica_count);
    choice->head_new = choice->head;
    for (uint64_t op = choice->floor + 1; op <= choice->head; op++) {
        const struct vsr_header *canonical = &replica->window[op - choice->base];
        if (canonical->checksum == 0) {
            canonical = NULL;
        }
        uint32_t nacks = 0;
        uint32_t copies = 0;
        for (uint8_t r = 0; r < replica->config.replica_count; r++) {
            bool voter = ((replica->dvc_present >> r) & 1) != 0;
            if (!voter && ((replica->dvc_informed >> r) & 1) == 0) {
                continue;
            }
            nacks +=
                voter && vsr_replica_dvc_nacks(replica, r, op, canonical, choice->log_view_max);
            copies += canonical != NULL &&
                      vsr_replica_dvc_has_copy(replica, r, op, canonical, choice->log_view_max);
        }
        if (nacks >= quorum) {
            choice->head_new = op - 1;
            replica->stats.truncated_ops += choice->head - choice->head_new;
            return true;
        }
        if (canonical == NULL || copies == 0) {
            /* No header, or no intact copy to repair it from, and no proof it was never
             * committed: wait for more do_view_changes (a damaged copy never nacks). */
            return false;
        }
    }
    return true;
}

/* The checksum of the new head, or 0 when nothing names it yet. */
static u128 vsr_replica_choice_head_checksum(const struct vsr_replica *replica,
                                             const struct vsr_choice *choice)
{
    uint64_t op = choice->head_new;
    assert(op <= choice->head);
    if (op == 0) {
        return vsr_replica_root_checksum(replica);
    }
    if (op >= choice->base && replica->window[op - choice->base].checksum != 0) {
        return replica->window[op - choice->base].checksum;
    }
    if (op + 1 <= choice->head && op + 1 >= choice->base &&
        replica->window[op + 1 - choice->base].checksum != 0) {
        return replica->window[op + 1 - choice->base].u.prepare.parent;
    }
    if (replica->log_view == choice->log_view_max && op <= replica->op &&
        vsr_replica_in_window(replica, op) && vsr_replica_has(replica, op, VSR_ENTRY_CANON)) {
        return vsr_entry_at(replica, op)->checksum;
    }
    return 0;
}

/* Checks parent links between neighbouring known headers of the window. */
static bool vsr_replica_choice_chain_is_valid(const struct vsr_replica *replica,
                                              const struct vsr_choice *choice)
{
    assert(choice->head_new <= choice->head);
    for (uint64_t op = choice->base + 1; op <= choice->head_new; op++) {
        const struct vsr_header *low = &replica->window[op - 1 - choice->base];
        const struct vsr_header *high = &replica->window[op - choice->base];
        if (low->checksum != 0 && high->checksum != 0 && high->u.prepare.parent != low->checksum) {
            return false;
        }
    }
    return true;
}

static bool vsr_replica_choose(struct vsr_replica *replica)
{
    assert(replica->status == VSR_STATUS_VIEW_CHANGE);
    assert(vsr_replica_primary_index(replica, replica->view) == replica->config.replica);
    if (vsr_quorum_count(replica->dvc_present) <
        vsr_quorum_view_change(replica->config.replica_count)) {
        return false;
    }
    struct vsr_choice choice;
    vsr_replica_choice_scan(replica, &choice);
    if (!choice.log_whole) {
        /* Only partial logs speak for log_view_max: what that log held above their heads
         * (committed ops among it) is unknown here. Before, such a log was chosen and
         * committed ops dropped (runnel-sim --seed 7000092); the next do_view_change of a
         * replica that holds that log decides. */
        replica->stats.dvc_partial_waits++;
        return false;
    }
    if (choice.committed > choice.head) {
        /* The log_view_max logs end below an op known committed: none of them is that log
         * whole (a state transfer's journal restart made a replica forget its suffix). A
         * log of any later view holds every committed op; wait for one that reaches it. */
        replica->stats.dvc_partial_waits++;
        return false;
    }
    if (!vsr_replica_choice_canonical(replica, &choice)) {
        return false;
    }
    vsr_replica_choice_chain_fill(replica, &choice);
    if (!vsr_replica_choice_head(replica, &choice)) {
        return false;
    }
    u128 head_checksum = vsr_replica_choice_head_checksum(replica, &choice);
    if (head_checksum == 0 || !vsr_replica_choice_chain_is_valid(replica, &choice) ||
        choice.head_new < replica->commit_min) {
        replica->stats.messages_invalid += head_checksum != 0;
        return false;
    }
    if (choice.head_new > vsr_replica_window_top(replica)) {
        replica->commit_max =
            choice.floor > replica->commit_max ? choice.floor : replica->commit_max;
        replica->stats.window_full++; /* too far behind to lead: a later view's primary */
        return false;
    }
    vsr_replica_log_install(replica, replica->window, choice.base, choice.head_new, head_checksum);
    replica->log_view = replica->view;
    replica->log_dropped_op = 0;
    replica->log_head_op = choice.head_new;
    replica->status = VSR_STATUS_NORMAL;
    if (choice.floor > replica->commit_max) {
        replica->commit_max = choice.floor;
    }
    memset(replica->ack_op, 0, sizeof(replica->ack_op));
    replica->commit_tick = replica->tick;
    replica->primary_tick = replica->tick;
    for (uint8_t r = 0; r < replica->config.replica_count; r++) {
        replica->heard_tick[r] = replica->tick;
    }
    vsr_replica_timeout_stop(&replica->timeout_view_change);
    vsr_replica_timeout_stop(&replica->timeout_heartbeat);
    vsr_replica_timeout_start(replica, &replica->timeout_prepare);
    vsr_replica_persist(replica);
    return true;
}

int vsr_replica_force_recovery(struct vsr_replica *replica)
{
    assert(replica->op <= vsr_replica_window_top(replica));
    if (replica->status != VSR_STATUS_RECOVERING_HEAD || replica->recovering) {
        return -RUNNEL_ESTATE;
    }
    for (uint64_t op = replica->commit_min + 1; op <= replica->op; op++) {
        struct vsr_entry *entry = vsr_entry_at(replica, op);
        if ((entry->flags & VSR_ENTRY_FAULTY) != 0) {
            entry->flags &= (uint8_t)~VSR_ENTRY_FAULTY; /* nacked from now on: loss accepted */
            entry->journal_checksum = 0;
        }
    }
    replica->status = VSR_STATUS_VIEW_CHANGE;
    replica->stats.forced_recoveries++;
    vsr_replica_view_change_start(replica, replica->view + 1);
    return 0;
}

void vsr_replica_send_start_view(struct vsr_replica *replica, uint8_t target)
{
    assert(vsr_replica_is_primary(replica));
    assert(vsr_replica_view_is_durable(replica));
    if (!vsr_replica_has(replica, replica->op, VSR_ENTRY_HEADER) || replica->op == 0) {
        if (replica->op != 0) {
            return; /* the head's header is being repaired; backups ask again */
        }
    }
    uint32_t count = 0;
    uint32_t window = vsr_replica_window_max(replica);
    struct vsr_header *body = &replica->dvc_headers[(uint64_t)replica->config.replica * window];
    while (count < window && count < replica->op && replica->op - count >= replica->checkpoint_op &&
           vsr_replica_has(replica, replica->op - count, VSR_ENTRY_HEADER)) {
        body[count] = *vsr_header_at(replica, replica->op - count);
        count++;
    }
    struct vsr_header message;
    vsr_replica_message_init(replica, &message, VSR_COMMAND_START_VIEW);
    message.u.start_view.op = replica->op;
    message.u.start_view.commit_max = replica->commit_max;
    message.u.start_view.checkpoint_op = replica->checkpoint_op;
    vsr_header_seal(&message, body, count * VSR_HEADER_SIZE);
    vsr_replica_send(replica, target, &message, body);
}

void vsr_replica_request_start_view(struct vsr_replica *replica, uint8_t target)
{
    assert(replica->config.replica_count <= VSR_REPLICAS_MAX);
    if (target >= replica->config.replica_count || target == replica->config.replica) {
        return;
    }
    struct vsr_header message;
    vsr_replica_message_init(replica, &message, VSR_COMMAND_REQUEST_START_VIEW);
    vsr_header_seal(&message, NULL, 0);
    vsr_replica_send(replica, target, &message, NULL);
}

void vsr_replica_on_request_start_view(struct vsr_replica *replica, const struct vsr_header *header)
{
    assert(header->command == VSR_COMMAND_REQUEST_START_VIEW);
    assert(header->replica != replica->config.replica);
    if (header->view > replica->view && replica->status != VSR_STATUS_RECOVERING_HEAD &&
        !replica->recovering) {
        /* A recovering replica stuck in a later view: the group must reach that view. */
        vsr_replica_view_change_start(replica, header->view);
        return;
    }
    if (vsr_replica_is_primary(replica) && vsr_replica_view_is_durable(replica) &&
        header->view <= replica->view) {
        vsr_replica_send_start_view(replica, header->replica);
    } else if (!replica->recovering) {
        /* Its view, for a recovering replica that must hear a quorum's views (a start_view
         * carries the primary's); a recovering replica forgot those it promised. */
        struct vsr_header pong;
        vsr_replica_message_init(replica, &pong, VSR_COMMAND_PONG);
        vsr_header_seal(&pong, NULL, 0);
        vsr_replica_send(replica, header->replica, &pong, NULL);
    }
}

/* Validates a start_view body: 1..window contiguous headers from op down, hash-chained. */
static bool vsr_replica_start_view_is_valid(const struct vsr_replica *replica,
                                            const struct vsr_header *header,
                                            const struct vsr_header *body, uint64_t count)
{
    const struct vsr_header_start_view *start_view = &header->u.start_view;
    if (count > vsr_replica_window_max(replica) || count > start_view->op ||
        (count == 0 && start_view->op != 0) || start_view->checkpoint_op > start_view->op ||
        (header->size - VSR_HEADER_SIZE) % VSR_HEADER_SIZE != 0) {
        return false;
    }
    for (uint64_t index = 0; index < count; index++) {
        const struct vsr_header *entry = &body[index];
        if (!vsr_header_is_checksum_valid(entry) || entry->command != VSR_COMMAND_PREPARE ||
            entry->u.prepare.op != start_view->op - index ||
            entry->cluster != replica->config.cluster ||
            !vsr_group_is_equal(&entry->group, &replica->config.group)) {
            return false;
        }
        if (index > 0 && body[index - 1].u.prepare.parent != entry->checksum) {
            return false;
        }
    }
    return true;
}

/* True when this start_view should replace the replica's view and log. */
static bool vsr_replica_start_view_applies(const struct vsr_replica *replica,
                                           const struct vsr_header *header)
{
    assert(header->command == VSR_COMMAND_START_VIEW);
    if (header->view < replica->view ||
        header->replica != vsr_replica_primary_index(replica, header->view)) {
        return false;
    }
    if (header->view == replica->view && replica->status == VSR_STATUS_NORMAL &&
        (vsr_replica_is_primary(replica) || header->u.start_view.op <= replica->op)) {
        return false;
    }
    return header->u.start_view.op >= replica->commit_min;
}

void vsr_replica_on_start_view(struct vsr_replica *replica, const struct vsr_header *header,
                               const void *body)
{
    uint64_t count = (header->size - VSR_HEADER_SIZE) / VSR_HEADER_SIZE;
    const struct vsr_header *headers = body;
    if (!vsr_replica_start_view_applies(replica, header)) {
        return;
    }
    if (!vsr_replica_start_view_is_valid(replica, header, headers, count)) {
        replica->stats.messages_invalid++;
        return;
    }
    uint64_t op = header->u.start_view.op;
    vsr_replica_checkpoint_learn(replica, header->replica, header->u.start_view.checkpoint_op);
    if (op > vsr_replica_window_top(replica)) {
        /* Too far behind to hold this log: leave the old view (the start_view proves the
         * new one), pull a checkpoint, then ask again. */
        replica->stats.window_full++;
        if (header->view > replica->view && replica->status != VSR_STATUS_RECOVERING_HEAD) {
            vsr_replica_view_change_start(replica, header->view);
        }
        vsr_replica_transfer_want(replica, header->replica);
        return;
    }
    for (uint64_t index = 0; index < count; index++) {
        replica->window[count - 1 - index] = headers[index];
    }
    u128 head_checksum = count > 0 ? headers[0].checksum : vsr_replica_root_checksum(replica);
    replica->view = header->view;
    replica->log_view = header->view;
    replica->log_dropped_op = 0;
    replica->status = VSR_STATUS_NORMAL;
    vsr_replica_log_install(replica, replica->window, op - count + 1, op, head_checksum);
    replica->log_head_op = op;
    if (header->u.start_view.commit_max > replica->commit_max) {
        replica->commit_max = header->u.start_view.commit_max;
    }
    if (replica->recovering && (!replica->recovering_op_known || op < replica->recovering_op)) {
        replica->recovering_op = op; /* this view's log holds all it may have acked */
        replica->recovering_op_known = true;
    }
    if (replica->recovering && !replica->recovering_view_known) {
        /* The first view that answered may be older than one it promised before its wipe. */
        replica->recovering_view = vsr_replica_recovering_view_for(replica, header->view);
        replica->recovering_view_known = true;
    }
    memset(replica->ack_op, 0, sizeof(replica->ack_op));
    vsr_replica_timeout_stop(&replica->timeout_view_change);
    vsr_replica_timeout_start(replica, &replica->timeout_normal);
    vsr_replica_persist(replica);
    if (vsr_replica_view_is_durable(replica)) {
        vsr_replica_send_prepare_ok(replica);
    }
    vsr_replica_execute(replica);
}
