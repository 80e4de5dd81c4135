/*
 * State transfer's second half for log_retained groups (vsr/replica.h): the journal is a
 * partition log whose records are the partition's data, so a checkpoint pulled from a peer
 * (vsr/replica_checkpoint.c: complete, checksum and frame checked) is installed only once
 * the journal holds every committed prepare up to its anchor. The replica asks a peer that
 * committed the anchor for the prepares (commit_min, anchor op] in bounded chunks
 * (request_records: at most VSR_RECORDS_CHUNK_MAX prepares, a peer stops a chunk past
 * VSR_RECORDS_CHUNK_BYTES); the peer answers each with the prepare itself, read verified
 * from its journal (a damaged one ends the chunk: never served). The replica takes them
 * strictly in op order, each naming the one before as its parent (the first names the
 * replica's own commit_min), the last being the anchor itself, so what it writes is the
 * committed hash chain and nothing else (a prepare its journal already holds durably is
 * not written again); at most VSR_RECORDS_PENDING_MAX wait to be reported durable. A log
 * that leaves the chain is cut there, and no record is written above the cut before the
 * superblock names the lower head. When the peer's journal begins above commit_min + 1 (its
 * checkpoint chunks name its first op: prefix truncation removed the older ones on every
 * peer, below a checkpoint durable on a replication quorum, while this replica was down or
 * behind), the records start at that first op instead: the journal restarts there
 * (vsr_journal.restart: every older entry dropped) and that first record's parent, which no
 * peer holds, is the one link not checked; the chain from it must still end at the anchor,
 * and the checkpoint replaces the state the skipped ops built. A write the journal gave up
 * on starts the taking again from the lowest op not yet durable. Once the anchor is durable
 * the checkpoint is named in the superblock and installed. Unanswered chunks are asked again
 * from the repair timeout, from another peer than the silent one after
 * VSR_TRANSFER_TIMEOUT_TICKS; silent after as many changes of peer as the group has replicas
 * (or after one change once a peer checkpointed past the anchor), the transfer starts over
 * from a checkpoint and the first op its peer holds then (the peers may have deleted the
 * records meanwhile). A replica that leads a view drops its transfer (its log is the
 * view's). Runs on the shard that owns the group.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "vsr/replica_private.h"

#include <errno.h>
#include <string.h>

static uint64_t vsr_records_bit(uint64_t op)
{
    return 1ull << (op % VSR_RECORDS_PENDING_MAX);
}

/* Asks transfer_peer for the next chunk, as far as the pending slots allow. */
static void vsr_replica_records_request(struct vsr_replica *replica)
{
    assert(replica->transfer_stage == VSR_TRANSFER_RECORDS);
    assert(replica->records_low <= replica->records_op);
    uint64_t pending = replica->records_op - replica->records_low;
    if (replica->records_op > replica->transfer_op || pending >= VSR_RECORDS_PENDING_MAX) {
        return; /* all taken (waiting to be durable), or every slot waits */
    }
    uint64_t count = VSR_RECORDS_PENDING_MAX - pending;
    count = count < VSR_RECORDS_CHUNK_MAX ? count : VSR_RECORDS_CHUNK_MAX;
    uint64_t left = replica->transfer_op - replica->records_op + 1;
    count = count < left ? count : left;
    struct vsr_header message;
    vsr_replica_message_init(replica, &message, VSR_COMMAND_REQUEST_RECORDS);
    struct vsr_header_request_records *request = &message.u.request_records;
    request->checkpoint_checksum = replica->records_anchor;
    request->checkpoint_op = replica->transfer_op;
    request->op_min = replica->records_op;
    request->op_max = replica->records_op + count - 1;
    vsr_header_seal(&message, NULL, 0);
    vsr_replica_send(replica, replica->transfer_peer, &message, NULL);
    replica->records_requested = request->op_max;
}

void vsr_replica_records_start(struct vsr_replica *replica)
{
    assert(replica->transfer_stage == VSR_TRANSFER_PULLING);
    assert(replica->config.log_retained);
    assert(replica->transfer_op > replica->commit_min);
    assert(vsr_replica_has(replica, replica->commit_min, VSR_ENTRY_CANON));
    struct vsr_header anchor;
    memcpy(&anchor, replica->checkpoint_next, sizeof(anchor));
    assert(anchor.u.prepare.op == replica->transfer_op); /* the frame was checked */
    uint64_t first = replica->transfer_log_op_first;
    bool restart = first > replica->commit_min + 1 && replica->journal.restart != NULL;
    if (restart && first > replica->transfer_op) {
        /* The peer holds not even the anchor's prepare: no chain to take from it. */
        replica->stats.messages_invalid++;
        replica->transfer_stage = VSR_TRANSFER_IDLE; /* stalls again: another attempt */
        return;
    }
    replica->transfer_stage = VSR_TRANSFER_RECORDS;
    replica->records_anchor = anchor.checksum;
    /* Below every peer's log start (prefix truncation removed the prepares right above its
     * commit): the records begin at the peer's first op, where its journal restarts. */
    replica->records_restart_op = restart ? first : 0;
    replica->records_op = restart ? first : replica->commit_min + 1;
    replica->records_low = replica->records_op;
    replica->records_requested = replica->records_op - 1;
    replica->records_parent = restart ? 0 : vsr_entry_at(replica, replica->commit_min)->checksum;
    replica->records_low_parent = replica->records_parent;
    replica->records_durable = 0;
    replica->records_silences = 0;
    replica->transfer_tick = replica->tick;
    vsr_replica_records_request(replica);
}

/*
 * True once the superblock durably marks what a journal restart drops now: the op its
 * log_view's log reached (log_dropped_op), with that log_view. Ops of that log above
 * commit_min, perhaps committed by others, are gone once the journal restarts, and the
 * journal's own trace of it (op_first above the checkpoint) ends when the transfer's
 * checkpoint is installed: from then on only the mark keeps a restarted process from
 * passing for that log whole (its do_view_change, op back at commit_min, would let a new
 * view truncate those ops). So it is durable before the restart, which is durable on
 * return; until then the record is asked for again.
 */
static bool vsr_replica_records_drop_is_marked(struct vsr_replica *replica)
{
    if (replica->op <= replica->commit_min) {
        return true; /* nothing of the log above commit_min to drop */
    }
    if (replica->op > replica->log_dropped_op) {
        replica->log_dropped_op = replica->op; /* only more cautious until the restart */
    }
    if (replica->durable.log_view == replica->log_view &&
        replica->durable.log_dropped_op >= replica->log_dropped_op) {
        return true;
    }
    vsr_replica_persist(replica); /* busy: from the write in flight's completion */
    return false;
}

/*
 * Restarts the journal at header's op (records_restart_op, above commit_min + 1): nothing
 * of the log above commit_min is held any more, so every slot above it forgets what it
 * knew (as a cut at commit_min + 1 would); the ops between are never needed (the
 * checkpoint installed at the anchor replaces the state they built). First the drop is
 * marked durably (vsr_replica_records_drop_is_marked). Returns the journal's result, or
 * -EAGAIN while the mark is not durable (not 0: the record is asked for again).
 */
static int vsr_replica_records_restart(struct vsr_replica *replica, const struct vsr_header *header)
{
    uint64_t op = header->u.prepare.op;
    assert(op == replica->records_restart_op && op > replica->commit_min + 1);
    assert(op == replica->records_low);
    if (!vsr_replica_records_drop_is_marked(replica)) {
        return -EAGAIN;
    }
    int result = replica->journal.restart(header, replica->journal.context);
    if (result != 0) {
        return result;
    }
    uint64_t top = vsr_replica_window_top(replica);
    for (uint64_t above = replica->commit_min + 1; above <= top; above++) {
        memset(vsr_entry_at(replica, above), 0, sizeof(struct vsr_entry));
    }
    /* The executed ops above the checkpoint stay canonical, but the journal no longer holds
     * them (a crash now restarts from the checkpoint and needs a transfer again). */
    for (uint64_t executed = replica->checkpoint_op + 1; executed <= replica->commit_min;
         executed++) {
        vsr_entry_at(replica, executed)->journal_checksum = 0;
    }
    if (replica->op > replica->commit_min) {
        /* Ops of its log_view's log above commit_min, perhaps committed by others, are gone
         * here: its log is not that log whole until its op is back there (marked above). */
        assert(replica->durable.log_dropped_op >= replica->op);
        assert(replica->log_dropped_op >= replica->op);
        replica->op = replica->commit_min;
    }
    if (replica->log_head_op > replica->op) {
        replica->log_head_op = replica->op;
    }
    if (replica->op_prefix > replica->op) {
        replica->op_prefix = replica->op;
    }
    replica->stats.journal_restarts++;
    return 0;
}

/*
 * The committed prepare at op differs from what this replica's log names there or its
 * journal holds: its log from op up is not the committed history (never acked as such: a
 * later view replaced it). Dropped, journal included, as an install drops a divergent log.
 */
static void vsr_replica_records_cut(struct vsr_replica *replica, uint64_t op)
{
    assert(op > replica->commit_min && op <= vsr_replica_window_top(replica));
    replica->journal.truncate(op, replica->journal.context);
    for (uint64_t above = op; above <= vsr_replica_window_top(replica); above++) {
        memset(vsr_entry_at(replica, above), 0, sizeof(struct vsr_entry));
    }
    if (replica->op >= op) {
        replica->op = op - 1;
    }
    if (replica->log_head_op > replica->op) {
        replica->log_head_op = replica->op;
    }
    if (replica->op_prefix > replica->op) {
        replica->op_prefix = replica->op;
    }
    /* The new top is the record just taken (or commit_min): committed, so canonical. Its
     * slot may be a gap, and the head persisted next needs its checksum. */
    assert(replica->records_op == op);
    struct vsr_entry *top = vsr_entry_at(replica, op - 1);
    assert((top->flags & VSR_ENTRY_CANON) == 0 || top->checksum == replica->records_parent);
    top->checksum = replica->records_parent;
    top->flags |= VSR_ENTRY_CANON;
}

/* True when this replica's log or journal names another prepare at op than checksum. */
static bool vsr_replica_records_diverge(const struct vsr_replica *replica, uint64_t op,
                                        u128 checksum)
{
    if (op <= replica->commit_min || op > vsr_replica_window_top(replica)) {
        return false; /* executed (the committed one), or beyond what the ring knows */
    }
    const struct vsr_entry *entry = vsr_entry_at(replica, op);
    return ((entry->flags & VSR_ENTRY_CANON) != 0 && entry->checksum != checksum) ||
           (entry->journal_checksum != 0 && entry->journal_checksum != checksum);
}

bool vsr_replica_records_take(struct vsr_replica *replica, const struct vsr_header *header,
                              const void *body)
{
    uint64_t op = header->u.prepare.op;
    bool restart = replica->transfer_stage == VSR_TRANSFER_RECORDS &&
                   op == replica->records_restart_op && op == replica->records_op;
    if (vsr_replica_transfer_is_leading(replica)) {
        replica->transfer_stage = VSR_TRANSFER_IDLE;
        return false;
    }
    if (replica->transfer_stage != VSR_TRANSFER_RECORDS || op != replica->records_op ||
        (!restart && header->u.prepare.parent != replica->records_parent) ||
        replica->records_op - replica->records_low >= VSR_RECORDS_PENDING_MAX) {
        return false; /* not the next record: the usual paths judge it */
    }
    if (op == replica->transfer_op && header->checksum != replica->records_anchor) {
        /* The chain from this replica's commit_min does not end at the anchor. */
        replica->stats.messages_invalid++;
        replica->transfer_stage = VSR_TRANSFER_IDLE; /* stalls again: another attempt */
        return true;
    }
    if (restart) {
        /* The first record from the peer's log start: its parent is below what any peer
         * holds, so only the chain from it to the anchor vouches for it. */
        if (vsr_replica_records_restart(replica, header) != 0) {
            return true; /* the journal is busy: asked again from the next repair round */
        }
        replica->records_low_parent = header->u.prepare.parent;
    }
    bool held = !restart && vsr_replica_in_window(replica, op) && op > replica->checkpoint_op &&
                vsr_entry_at(replica, op)->journal_checksum == header->checksum &&
                !vsr_replica_has(replica, op, VSR_ENTRY_FAULTY);
    if (!held && vsr_replica_records_diverge(replica, op, header->checksum)) {
        vsr_replica_records_cut(replica, op);
    }
    if (!held && !vsr_replica_can_journal(replica, op)) {
        /* A cut (or a journal restart, or a view's log installed meanwhile) the superblock
         * does not name yet: a restart would recover the old log over the record (its op
         * named by the old prepare, the journal holding the committed one: nacked though
         * held, seed 351789847474). */
        vsr_replica_persist(replica); /* busy: from the write in flight's completion */
        return true; /* asked again from the next repair round, once the cut is durable */
    }
    if (!held && replica->journal.write(header, body, replica->journal.context) != 0) {
        return true; /* the journal is busy: asked again from the next repair round */
    }
    if (!held) {
        vsr_replica_journal_started(replica, op);
    }
    replica->records_checksums[op % VSR_RECORDS_PENDING_MAX] = header->checksum;
    replica->records_durable &= ~vsr_records_bit(op);
    replica->records_op = op + 1;
    replica->records_parent = header->checksum;
    replica->transfer_tick = replica->tick;
    replica->records_silences = 0;
    replica->stats.records_taken++;
    if (held) {
        vsr_replica_records_written(replica, op, header->checksum); /* durable already */
    } else if (replica->records_op > replica->records_requested) {
        vsr_replica_records_request(replica);
    }
    return true;
}

void vsr_replica_records_written(struct vsr_replica *replica, uint64_t op, u128 checksum)
{
    if (replica->transfer_stage != VSR_TRANSFER_RECORDS || op < replica->records_low ||
        op >= replica->records_op) {
        return;
    }
    if (checksum != replica->records_checksums[op % VSR_RECORDS_PENDING_MAX]) {
        /* The journal gave this write up: take everything not yet durable again. */
        replica->records_op = replica->records_low;
        replica->records_parent = replica->records_low_parent;
        replica->records_durable = 0;
        vsr_replica_records_request(replica);
        return;
    }
    replica->records_durable |= vsr_records_bit(op);
    while (replica->records_low < replica->records_op &&
           (replica->records_durable & vsr_records_bit(replica->records_low)) != 0) {
        replica->records_durable &= ~vsr_records_bit(replica->records_low);
        replica->records_low_parent =
            replica->records_checksums[replica->records_low % VSR_RECORDS_PENDING_MAX];
        replica->records_low++;
    }
    if (replica->records_low > replica->transfer_op) {
        vsr_replica_transfer_persist(replica); /* the whole chain up to the anchor is durable */
        return;
    }
    if (replica->records_op > replica->records_requested) {
        vsr_replica_records_request(replica);
    }
}

/* A random peer other than transfer_peer (silent), when the group has one. */
static uint8_t vsr_replica_records_peer_other(struct vsr_replica *replica)
{
    uint8_t count = replica->config.replica_count;
    uint8_t self = replica->config.replica;
    uint8_t silent = replica->transfer_peer;
    assert(silent < count && silent != self);
    if (count <= 2) {
        return silent; /* the only peer */
    }
    uint64_t index = prng_range(&replica->prng, count - 2u);
    for (uint8_t peer = 0; peer < count; peer++) {
        if (peer != self && peer != silent && index-- == 0) {
            return peer;
        }
    }
    unreachable_code();
}

void vsr_replica_records_tick(struct vsr_replica *replica)
{
    assert(replica->transfer_stage == VSR_TRANSFER_RECORDS);
    if (replica->commit_min >= replica->transfer_op) {
        vsr_replica_transfer_persist(replica); /* caught up meanwhile: installs as a no-op */
        return;
    }
    bool silent = replica->tick > replica->transfer_tick + VSR_TRANSFER_TIMEOUT_TICKS;
    if (silent && (replica->records_silences >= replica->config.replica_count ||
                   (replica->records_silences > 0 &&
                    vsr_replica_peer_checkpoint_is_above(replica, replica->transfer_op)))) {
        /* Silent after as many changes of peer as it has peers and more, or after one change
         * while a peer checkpointed past the anchor: the records it needs may be gone from
         * every peer (prefix truncation moved their first op past what the checkpoint's
         * chunks named). The transfer starts over: a checkpoint and the first op its peer
         * holds now. Never before another peer was asked: one peer's silence may be its own
         * damaged record (never served; below its ring it is never repaired), and the
         * transfer starting over asks the primary again, the same peer (seed 835024293622). */
        replica->transfer_stage = VSR_TRANSFER_IDLE;
        return;
    }
    if (silent) {
        replica->transfer_peer = vsr_replica_records_peer_other(replica);
        replica->transfer_tick = replica->tick;
        replica->records_silences++;
    } else if (replica->tick < replica->transfer_tick + VSR_TIMEOUT_REPAIR_TICKS) {
        return; /* records arrived lately: the chunk is still coming */
    }
    replica->records_requested = replica->records_op - 1;
    vsr_replica_records_request(replica);
}

/* Reads op's committed prepare and sends it to target: its size, 0 when it is not
 * served (missing or damaged here), -EAGAIN when the read may not wait now. */
int64_t vsr_replica_record_send(struct vsr_replica *replica, uint8_t target, uint64_t op)
{
    assert(op >= 1 && op <= replica->commit_min);
    struct vsr_header prepare;
    int result = vsr_replica_journal_read(replica, op, &prepare, replica->body_buffer);
    if (result == -EAGAIN) {
        return -EAGAIN;
    }
    if (result != 0 || prepare.command != VSR_COMMAND_PREPARE) {
        return 0;
    }
    vsr_replica_send(replica, target, &prepare, replica->body_buffer);
    replica->stats.records_served++;
    return prepare.size;
}

void vsr_replica_on_request_records(struct vsr_replica *replica, const struct vsr_header *header)
{
    const struct vsr_header_request_records *request = &header->u.request_records;
    assert(header->command == VSR_COMMAND_REQUEST_RECORDS);
    if (header->size != VSR_HEADER_SIZE || request->op_min == 0 ||
        request->op_min > request->op_max ||
        request->op_max - request->op_min >= VSR_RECORDS_CHUNK_MAX ||
        request->op_max > request->checkpoint_op || request->checkpoint_checksum == 0) {
        replica->stats.messages_invalid++;
        return;
    }
    if (!replica->config.log_retained || request->checkpoint_op > replica->commit_min) {
        return; /* not committed here (or no journal below the ring): stay silent */
    }
    const struct vsr_header *anchor = vsr_replica_header(replica, request->checkpoint_op);
    if (anchor != NULL && anchor->checksum != request->checkpoint_checksum) {
        return; /* another history: never serve it */
    }
    int64_t bytes = 0;
    for (uint64_t op = request->op_min; op <= request->op_max; op++) {
        int64_t sent = vsr_replica_record_send(replica, header->replica, op);
        if (sent == -EAGAIN) {
            vsr_replica_serve_defer(replica, header->replica, op, request->checkpoint_checksum,
                                    true);
        }
        if (sent <= 0) {
            return; /* the chunk ends here: the requester asks again from its next op */
        }
        bytes += sent;
        if (bytes >= VSR_RECORDS_CHUNK_BYTES) {
            return;
        }
    }
}
