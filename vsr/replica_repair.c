/*
 * VSR log knowledge and repair: installing a new view's log, deriving canonical checksums
 * down the hash chain, fetching missing or faulty prepares from peers (request_prepare by
 * op and checksum, answered only from a verified journal entry: a faulty entry is never
 * served and never nacked), and recovering a replica's state after a restart. Runs on the
 * shard that owns the group.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "vsr/quorum.h"
#include "vsr/replica_private.h"

#include <errno.h>
#include <string.h>

static void vsr_replica_request_headers(struct vsr_replica *replica);

void vsr_replica_log_install(struct vsr_replica *replica, const struct vsr_header *window,
                             uint64_t op_low, uint64_t op_high, u128 head_checksum)
{
    assert(op_high >= replica->commit_min);
    assert(head_checksum != 0);
    uint64_t top = replica->op > op_high ? replica->op : op_high;
    for (uint64_t op = replica->commit_min + 1; op <= top; op++) {
        vsr_entry_at(replica, op)->flags &= (uint8_t)(VSR_ENTRY_FAULTY | VSR_ENTRY_WRITING);
        vsr_entry_at(replica, op)->checksum = 0;
    }
    for (uint64_t op = op_low; op <= op_high; op++) {
        const struct vsr_header *header = &window[op - op_low];
        if (op > replica->commit_min && header->checksum != 0) {
            vsr_replica_entry_set(replica, header);
        }
    }
    replica->op = op_high;
    if (op_high > replica->commit_min) {
        vsr_entry_at(replica, op_high)->checksum = head_checksum;
        vsr_entry_at(replica, op_high)->flags |= VSR_ENTRY_CANON;
    }
    if (replica->op_prefix > replica->commit_min) {
        replica->op_prefix = replica->commit_min;
    }
    vsr_replica_chain_walk(replica);
    vsr_replica_prefix_update(replica);
    assert(replica->op == op_high);
}

/* Learns the header of a canonical op from the journal when it holds that prepare. */
static void vsr_replica_header_load(struct vsr_replica *replica, uint64_t op)
{
    struct vsr_entry *entry = vsr_entry_at(replica, op);
    assert((entry->flags & VSR_ENTRY_CANON) != 0);
    if ((entry->flags & VSR_ENTRY_HEADER) != 0 || entry->journal_checksum != entry->checksum ||
        (entry->flags & VSR_ENTRY_FAULTY) != 0) {
        return;
    }
    struct vsr_header header;
    int result = vsr_replica_journal_read(replica, op, &header, NULL);
    if (result == 0 && header.checksum == entry->checksum) {
        vsr_replica_entry_set(replica, &header);
    } else if (result == 0) {
        entry->journal_checksum = header.checksum;
    }
}

void vsr_replica_chain_walk(struct vsr_replica *replica)
{
    assert(replica->op <= vsr_replica_window_top(replica));
    assert(replica->commit_min <= replica->op);
    for (uint64_t op = replica->op; op > replica->commit_min; op--) {
        struct vsr_entry *entry = vsr_entry_at(replica, op);
        if ((entry->flags & VSR_ENTRY_CANON) == 0) {
            if (op == replica->op || !vsr_replica_has(replica, op + 1, VSR_ENTRY_HEADER)) {
                continue;
            }
            entry->checksum = vsr_header_at(replica, op + 1)->u.prepare.parent;
            entry->flags |= VSR_ENTRY_CANON;
        }
        vsr_replica_header_load(replica, op);
    }
}

/* The peer to ask for a prepare: backups prefer the primary, primaries pick at random. */
static uint8_t vsr_replica_repair_target(struct vsr_replica *replica)
{
    uint8_t count = replica->config.replica_count;
    assert(count >= 2);
    uint8_t primary = vsr_replica_primary_index(replica, replica->view);
    if (primary != replica->config.replica && prng_percent(&replica->prng, 50)) {
        return primary;
    }
    uint8_t target = (uint8_t)prng_range(&replica->prng, count - 1u);
    if (target >= replica->config.replica) {
        target++;
    }
    assert(target < count && target != replica->config.replica);
    return target;
}

void vsr_replica_repair(struct vsr_replica *replica)
{
    assert(replica->commit_min <= replica->op);
    if (replica->status != VSR_STATUS_NORMAL) {
        return;
    }
    if (replica->op_prefix < replica->op) {
        vsr_replica_chain_walk(replica);
        vsr_replica_prefix_update(replica);
        vsr_replica_execute(replica);
    }
    if (replica->config.replica_count == 1) {
        return;
    }
    vsr_replica_request_headers(replica);
    /* One peer per round: its answers arrive in op order over one link, so they append to
     * the journal one after another instead of waiting parked for the ones below. */
    uint8_t target = vsr_replica_repair_target(replica);
    uint32_t requests = 0;
    uint64_t round_bytes = 0;
    for (uint64_t op = replica->checkpoint_op + 1; op <= replica->op; op++) {
        if (requests >= VSR_REPAIR_REQUESTS_MAX || round_bytes >= VSR_REPAIR_ROUND_BYTES) {
            break;
        }
        const struct vsr_entry *entry = vsr_entry_at(replica, op);
        if ((entry->flags & VSR_ENTRY_CANON) == 0 || (entry->flags & VSR_ENTRY_WRITING) != 0 ||
            vsr_replica_is_durable(replica, op) ||
            (op <= replica->commit_min && (entry->flags & VSR_ENTRY_FAULTY) == 0)) {
            continue; /* executed ops are repaired only when found damaged */
        }
        struct vsr_header message;
        vsr_replica_message_init(replica, &message, VSR_COMMAND_REQUEST_PREPARE);
        message.u.request_prepare.prepare_checksum = entry->checksum;
        message.u.request_prepare.prepare_op = op;
        vsr_header_seal(&message, NULL, 0);
        vsr_replica_send(replica, target, &message, NULL);
        replica->stats.repairs_requested++;
        requests++;
        /* A header not learned yet counts as a full chunk's share. */
        round_bytes += (entry->flags & VSR_ENTRY_HEADER) != 0
                           ? vsr_header_at(replica, op)->size
                           : VSR_REPAIR_ROUND_BYTES / VSR_REPAIR_REQUESTS_MAX;
    }
}

/* Keeps a request_prepare whose read could not wait (one slot per op; full: dropped, the
 * peer asks again). */
void vsr_replica_serve_defer(struct vsr_replica *replica, uint8_t target, uint64_t op,
                             u128 checksum, bool record)
{
    struct vsr_repair_serve *free_slot = NULL;
    for (uint32_t index = 0; index < VSR_REPAIR_SERVE_MAX; index++) {
        struct vsr_repair_serve *serve = &replica->serve[index];
        if (serve->checksum != 0 && serve->op == op && serve->replica == target &&
            serve->record == record) {
            return;
        }
        if (serve->checksum == 0 && free_slot == NULL) {
            free_slot = serve;
        }
    }
    if (free_slot != NULL) {
        *free_slot = (struct vsr_repair_serve){
            .checksum = checksum, .op = op, .replica = target, .record = record};
        replica->serve_count++;
        replica->stats.repairs_deferred++;
    }
}

void vsr_replica_on_request_prepare(struct vsr_replica *replica, const struct vsr_header *header)
{
    const struct vsr_header_request_prepare *request = &header->u.request_prepare;
    assert(header->command == VSR_COMMAND_REQUEST_PREPARE);
    if (request->prepare_op == 0 || request->prepare_checksum == 0) {
        replica->stats.messages_invalid++;
        return;
    }
    struct vsr_header prepare;
    int result =
        vsr_replica_journal_read(replica, request->prepare_op, &prepare, replica->body_buffer);
    if (result == -EAGAIN) {
        vsr_replica_serve_defer(replica, header->replica, request->prepare_op,
                                request->prepare_checksum, false);
        return;
    }
    if (result != 0 || prepare.checksum != request->prepare_checksum) {
        return; /* missing or faulty here: stay silent, never nack */
    }
    vsr_replica_send(replica, header->replica, &prepare, replica->body_buffer);
}

/* Answers the deferred request_prepares (from a tick: the journal may wait here). */
void vsr_replica_repair_serve(struct vsr_replica *replica)
{
    assert(replica->serve_count <= VSR_REPAIR_SERVE_MAX);
    if (replica->serve_count == 0) {
        return; /* every tick of every group: no walk while nothing waits */
    }
    for (uint32_t index = 0; index < VSR_REPAIR_SERVE_MAX; index++) {
        struct vsr_repair_serve *serve = &replica->serve[index];
        if (serve->checksum == 0) {
            continue;
        }
        if (serve->record) {
            if (vsr_replica_record_send(replica, serve->replica, serve->op) == -EAGAIN) {
                return; /* still may not wait: the next tick */
            }
        } else {
            struct vsr_header prepare;
            int result =
                vsr_replica_journal_read(replica, serve->op, &prepare, replica->body_buffer);
            if (result == -EAGAIN) {
                return;
            }
            if (result == 0 && prepare.checksum == serve->checksum) {
                vsr_replica_send(replica, serve->replica, &prepare, replica->body_buffer);
            }
        }
        serve->checksum = 0;
        replica->serve_count--;
    }
    assert(replica->serve_count == 0);
}

/* The top of the highest gap in the canonical chain above commit_min: the highest op whose
 * checksum is known and whose header is not (0: none). */
static uint64_t vsr_replica_gap_top(struct vsr_replica *replica)
{
    uint64_t floor =
        replica->commit_min > replica->checkpoint_op ? replica->commit_min : replica->checkpoint_op;
    for (uint64_t op = replica->op; op > floor; op--) {
        const struct vsr_entry *entry = vsr_entry_at(replica, op);
        if ((entry->flags & VSR_ENTRY_CANON) != 0 && (entry->flags & VSR_ENTRY_HEADER) == 0) {
            return op;
        }
    }
    return 0;
}

/* Headers a headers message may carry: within the largest message a replica accepts. */
static uint32_t vsr_replica_headers_batch(const struct vsr_replica *replica)
{
    uint32_t fit = replica->config.body_size_max / VSR_HEADER_SIZE;
    if (fit < vsr_replica_window_max(replica)) {
        fit = vsr_replica_window_max(replica);
    }
    return fit < VSR_HEADERS_BATCH_MAX ? fit : VSR_HEADERS_BATCH_MAX;
}

/* Asks a peer for the canonical headers below the top of the highest gap: one round trip
 * learns a batch of the chain instead of one op per prepare fetched. */
static void vsr_replica_request_headers(struct vsr_replica *replica)
{
    uint64_t top = vsr_replica_gap_top(replica);
    if (top == 0 || vsr_replica_has(replica, top - 1, VSR_ENTRY_CANON)) {
        return; /* no gap, or a single missing header: the prepare repair covers it */
    }
    uint64_t floor =
        replica->commit_min > replica->checkpoint_op ? replica->commit_min : replica->checkpoint_op;
    uint32_t batch = vsr_replica_headers_batch(replica);
    uint64_t low = top - floor > batch ? top - batch + 1 : floor + 1;
    struct vsr_header message;
    vsr_replica_message_init(replica, &message, VSR_COMMAND_REQUEST_HEADERS);
    message.u.request_headers.op_min = low;
    message.u.request_headers.op_max = top;
    vsr_header_seal(&message, NULL, 0);
    vsr_replica_send(replica, vsr_replica_repair_target(replica), &message, NULL);
}

/*
 * A committed op below the ring, read from a journal that keeps every op (log_retained):
 * its header into header_out. The requester checks it against the chain it holds.
 */
static bool vsr_replica_header_retained(struct vsr_replica *replica, uint64_t op,
                                        struct vsr_header *header_out)
{
    if (!replica->config.log_retained || op == 0 || op >= replica->checkpoint_op) {
        return false;
    }
    assert(op < replica->commit_min);
    int result = replica->journal.read(op, header_out, NULL, 0, replica->journal.context);
    return result == 0 && header_out->command == VSR_COMMAND_PREPARE &&
           header_out->u.prepare.op == op;
}

void vsr_replica_on_request_headers(struct vsr_replica *replica, const struct vsr_header *header)
{
    const struct vsr_header_request_headers *request = &header->u.request_headers;
    assert(header->command == VSR_COMMAND_REQUEST_HEADERS);
    uint32_t batch = vsr_replica_headers_batch(replica);
    if (request->op_min == 0 || request->op_min > request->op_max ||
        request->op_max - request->op_min >= batch) {
        replica->stats.messages_invalid++;
        return;
    }
    assert(batch <= VSR_HEADERS_BATCH_MAX);
    struct vsr_header headers[VSR_HEADERS_BATCH_MAX];
    uint32_t count = 0;
    for (uint64_t op = request->op_max; op >= request->op_min && count < batch; op--) {
        const struct vsr_header *known = vsr_replica_header(replica, op);
        if (known != NULL && op <= replica->op) {
            headers[count++] = *known; /* descending: each checks against the one above */
        } else if (known == NULL && vsr_replica_header_retained(replica, op, &headers[count])) {
            count++;
        }
    }
    if (count == 0) {
        return;
    }
    struct vsr_header message;
    vsr_replica_message_init(replica, &message, VSR_COMMAND_HEADERS);
    vsr_header_seal(&message, headers, count * VSR_HEADER_SIZE);
    vsr_replica_send(replica, header->replica, &message, headers);
}

/* Takes one header of a headers message when it is the canonical prepare of its op (its
 * checksum equals the one the chain above names); learns its parent's checksum. */
static bool vsr_replica_header_learn(struct vsr_replica *replica, const struct vsr_header *header)
{
    uint64_t op = header->u.prepare.op;
    if (op <= replica->commit_min || op <= replica->checkpoint_op || op > replica->op) {
        return false;
    }
    struct vsr_entry *entry = vsr_entry_at(replica, op);
    if ((entry->flags & VSR_ENTRY_CANON) == 0 || (entry->flags & VSR_ENTRY_HEADER) != 0 ||
        entry->checksum != header->checksum) {
        return false;
    }
    vsr_replica_entry_set(replica, header);
    struct vsr_entry *below =
        op - 1 > replica->checkpoint_op ? vsr_entry_at(replica, op - 1) : NULL;
    if (below != NULL && (below->flags & VSR_ENTRY_CANON) == 0) {
        below->checksum = header->u.prepare.parent;
        below->flags |= VSR_ENTRY_CANON;
    }
    replica->stats.headers_learned++;
    return true;
}

void vsr_replica_on_headers(struct vsr_replica *replica, const struct vsr_header *header,
                            const void *body)
{
    assert(header->command == VSR_COMMAND_HEADERS);
    uint32_t body_size = header->size - VSR_HEADER_SIZE;
    if (body_size % VSR_HEADER_SIZE != 0 ||
        body_size / VSR_HEADER_SIZE > vsr_replica_headers_batch(replica)) {
        replica->stats.messages_invalid++;
        return;
    }
    if (replica->status != VSR_STATUS_NORMAL || header->view != replica->view) {
        return;
    }
    uint32_t learned = 0;
    for (uint32_t index = 0; index < body_size / VSR_HEADER_SIZE; index++) {
        struct vsr_header candidate;
        memcpy(&candidate, (const uint8_t *)body + (size_t)index * VSR_HEADER_SIZE,
               sizeof(candidate));
        if (vsr_header_validate(&candidate, VSR_HEADER_SIZE + replica->config.body_size_max,
                                NULL) != 0 ||
            candidate.command != VSR_COMMAND_PREPARE ||
            !vsr_group_is_equal(&candidate.group, &replica->config.group)) {
            replica->stats.messages_invalid++;
            return;
        }
        learned += vsr_replica_header_learn(replica, &candidate) ? 1u : 0u;
    }
    if (learned > 0) {
        vsr_replica_chain_walk(replica);
        vsr_replica_request_headers(replica); /* the next batch down, if a gap remains */
    }
}

/* Builds op 0: the group's root prepare, identical on every replica (the ring's anchor
 * until the first checkpoint). */
static void vsr_replica_root_init(struct vsr_replica *replica)
{
    struct vsr_header root;
    vsr_header_init(&root, VSR_COMMAND_PREPARE, replica->config.cluster, 0, 0,
                    &replica->config.group);
    root.u.prepare.operation = VSR_OPERATION_ROOT;
    vsr_header_seal(&root, NULL, 0);
    replica->root_checksum = root.checksum;
    if (replica->checkpoint_op > 0) {
        return;
    }
    *vsr_header_at(replica, 0) = root;
    vsr_entry_at(replica, 0)->checksum = root.checksum;
    vsr_entry_at(replica, 0)->journal_checksum = root.checksum;
    vsr_entry_at(replica, 0)->flags = VSR_ENTRY_CANON | VSR_ENTRY_HEADER;
    assert(vsr_replica_is_durable(replica, 0));
}

/* Loads what the journal holds; returns its highest op. */
static uint64_t vsr_replica_recover_journal(struct vsr_replica *replica)
{
    uint64_t op_max = replica->journal.op_max(replica->journal.context);
    replica->journal_written_op_max = op_max; /* vsr_replica_can_journal */
    if (op_max > vsr_replica_window_top(replica)) {
        op_max = vsr_replica_window_top(replica);
    }
    struct vsr_header header;
    for (uint64_t op = replica->checkpoint_op + 1; op <= op_max; op++) {
        int result = replica->journal.read(op, &header, NULL, 0, replica->journal.context);
        if (result == 0 && header.u.prepare.op == op) {
            vsr_entry_at(replica, op)->journal_checksum = header.checksum;
        } else if (result == -RUNNEL_EFAULTY || result == 0) {
            vsr_entry_at(replica, op)->flags |= VSR_ENTRY_FAULTY;
        }
    }
    return op_max;
}

/*
 * Extends the log above the installed head. Every verified journal entry above that head
 * prepared in log_view is canonical: only log_view's primary prepares in log_view, and only
 * above the head it installed. The new head is the highest of them; damaged entries below
 * it are named by the chain (faulty, never nacked) and repaired. Returns true when a
 * damaged entry lies above the new head: it may have been acknowledged, so the head is
 * uncertain (recovering_head).
 */
static bool vsr_replica_recover_head(struct vsr_replica *replica, uint64_t journal_op_max)
{
    assert(replica->op == replica->log_head_op || replica->op == replica->checkpoint_op);
    struct vsr_header header;
    uint64_t top = replica->op;
    for (uint64_t op = replica->op + 1; op <= journal_op_max; op++) {
        if (replica->journal.read(op, &header, NULL, 0, replica->journal.context) == 0 &&
            header.u.prepare.op == op && header.view == replica->log_view) {
            vsr_replica_entry_set(replica, &header);
            top = op;
        }
    }
    replica->op = top;
    for (uint64_t op = top + 1; op <= journal_op_max; op++) {
        if (vsr_replica_has(replica, op, VSR_ENTRY_FAULTY)) {
            return true;
        }
    }
    return false;
}

/* True when header (from the superblock: untrusted) is the installed head's prepare. */
static bool vsr_replica_log_head_header_is_valid(const struct vsr_replica *replica,
                                                 const struct vsr_header *header)
{
    const struct vsr_superblock_state *durable = &replica->durable;
    assert(durable->log_head_checksum != 0);
    assert(replica->op == durable->log_head_op);
    return durable->log_head_op > 0 && header->checksum == durable->log_head_checksum &&
           vsr_header_is_checksum_valid(header) && header->command == VSR_COMMAND_PREPARE &&
           header->u.prepare.op == durable->log_head_op &&
           header->cluster == replica->config.cluster &&
           vsr_group_is_equal(&header->group, &replica->config.group);
}

/*
 * A replica whose superblock does not name its group never acted: it writes that mark
 * before it sends anything that binds it (vsr_replica_view_is_durable, vsr_replica_vote),
 * so it never prepared, acked or voted, and whatever its journal holds was never acked.
 * It starts normal in view 0 and writes the mark; view 0's primary leads at once. The
 * restart rule below (an old primary moves to view + 1) exists for a primary that may
 * have sent prepares its own journal lost: leading the same view again from a shorter log
 * would prepare another op at the same number. A replica that never acted prepared
 * nothing, so a new group forms without a view change.
 */
static void vsr_replica_recover_unformed(struct vsr_replica *replica)
{
    assert(!replica->durable.formed && !replica->recovering);
    assert(replica->view == 0 && replica->log_view == 0 && replica->checkpoint_op == 0);
    replica->status = VSR_STATUS_NORMAL;
    if (vsr_replica_primary_index(replica, replica->view) == replica->config.replica) {
        replica->commit_tick = replica->tick;
        replica->primary_tick = replica->tick;
        for (uint8_t r = 0; r < replica->config.replica_count; r++) {
            replica->heard_tick[r] = replica->tick;
        }
    } else {
        vsr_replica_timeout_start(replica, &replica->timeout_normal);
    }
    vsr_replica_persist(replica);
    assert(replica->superblock_busy);
}

int vsr_replica_recover(struct vsr_replica *replica)
{
    assert(replica->entries != NULL);
    assert(replica->durable.log_view <= replica->durable.view);
    replica->state_machine.reset(replica->state_machine.context);
    replica->checkpoint_op = replica->durable.checkpoint_op;
    vsr_replica_root_init(replica);
    int loaded = vsr_replica_checkpoint_load(replica);
    if (loaded != 0) {
        return loaded;
    }
    replica->view = replica->durable.view;
    replica->log_view = replica->durable.log_view;
    replica->commit_max = replica->durable.commit_max;
    replica->log_head_op = replica->durable.log_head_op;
    replica->log_dropped_op = replica->durable.log_dropped_op; /* a journal restart's mark */
    if (replica->durable.log_head_checksum == 0) {
        assert(replica->log_head_op == 0);
        replica->durable.log_head_checksum = vsr_replica_root_checksum(replica);
    }
    uint64_t journal_op_max = vsr_replica_recover_journal(replica);
    replica->op = replica->checkpoint_op;
    if (replica->log_head_op >= replica->checkpoint_op) {
        replica->op = replica->log_head_op;
        vsr_entry_at(replica, replica->op)->checksum = replica->durable.log_head_checksum;
        vsr_entry_at(replica, replica->op)->flags |= VSR_ENTRY_CANON;
        if (vsr_replica_log_head_header_is_valid(replica, &replica->durable.log_head_header)) {
            vsr_replica_entry_set(replica, &replica->durable.log_head_header);
        }
    }
    bool head_uncertain = vsr_replica_recover_head(replica, journal_op_max);
    if (replica->config.durability_replicated && replica->config.boot_changed &&
        replica->config.replica_count > 1 &&
        (journal_op_max > replica->checkpoint_op || replica->durable.formed)) {
        /* A machine crash may have taken writes it acked. Not `view > 0`: a new group
         * serves in view 0, so a replica whose superblock names the group may have acked
         * there; one whose superblock does not never sent a prepare_ok. */
        head_uncertain = true;
    }
    if (replica->commit_max > replica->op) {
        replica->commit_max = replica->op; /* a lower floor is only more cautious */
    }
    if (replica->commit_max < replica->checkpoint_op) {
        replica->commit_max = replica->checkpoint_op;
    }
    vsr_replica_chain_walk(replica);
    vsr_replica_prefix_update(replica);
    vsr_replica_timeout_start(replica, &replica->timeout_repair);
    vsr_replica_timeout_start(replica, &replica->timeout_resend);
    if (replica->recovering && replica->view > replica->log_view) {
        /* Raised before this restart (only a recovering replica's own raise leaves its view
         * above its log_view): it still acts in that view at the earliest. */
        replica->recovering_view = replica->view;
        replica->recovering_view_known = true;
    }
    if (head_uncertain || replica->recovering) {
        replica->status = VSR_STATUS_RECOVERING_HEAD; /* recovering: never votes before */
    } else if (!replica->durable.formed) {
        vsr_replica_recover_unformed(replica);
    } else if (replica->log_view == replica->view &&
               vsr_replica_primary_index(replica, replica->view) == replica->config.replica) {
        replica->status = VSR_STATUS_NORMAL;
        vsr_replica_view_change_start(replica, replica->view + 1);
    } else if (replica->log_view == replica->view) {
        replica->status = VSR_STATUS_NORMAL;
        vsr_replica_timeout_start(replica, &replica->timeout_normal);
    } else {
        replica->status = VSR_STATUS_VIEW_CHANGE;
        vsr_replica_timeout_start(replica, &replica->timeout_view_change);
        vsr_replica_send_view_change_messages(replica);
    }
    return 0;
}
