/*
 * VSR checkpoints, the log ring and state transfer (DESIGN.md §4). Every
 * checkpoint_interval executed ops a replica encodes its group state (the anchor: the
 * checkpoint op's prepare header; the client table with its kept replies; the state
 * machine's snapshot), writes it to the checkpoint store, then names it in the superblock.
 * Once that superblock write is durable the checkpoint is the replica's: the ring's base
 * moves up to it (slots below are reused) and it is advertised in prepare_ok and view
 * change messages. The primary counts the checkpoints a replication quorum holds durably
 * and prepares an op only when its slot's previous op is below that count, so a log prefix
 * leaves the ring (and the journal's ring) only once a quorum can rebuild it.
 *
 * A replica that stops making progress while a peer holds a newer checkpoint than its
 * commit pulls that checkpoint in bounded chunks (request_checkpoint / checkpoint), writes
 * each chunk through the checkpoint store, checks the whole by checksum, names it in the
 * superblock and installs it; the prepares after it come by the usual repair (a
 * log_retained group's replica first takes the committed prepares up to it into its journal:
 * vsr/replica_records.c; it starts only once commit_max is beyond its ring). Encoding
 * (native layout, the same build on every replica): anchor header (256 bytes) | magic u32 |
 * reserved u32 | op u64 | sessions size u64 | state size u64 | sessions | state.
 * Runs on the shard that owns the group.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "vsr/quorum.h"
#include "vsr/replica_private.h"

#include <string.h>

enum { VSR_CHECKPOINT_FIXED = VSR_HEADER_SIZE + 32 };

struct vsr_checkpoint_frame {
    uint32_t magic;
    uint32_t reserved;
    uint64_t op;
    uint64_t sessions_size;
    uint64_t state_size;
};

_Static_assert(sizeof(struct vsr_checkpoint_frame) == 32, "checkpoint frame is 32 bytes");

static uint64_t vsr_replica_window_count(const struct vsr_replica *replica)
{
    return (uint64_t)replica->config.clients_max * replica->config.exactly_once_window_max;
}

uint64_t vsr_replica_sessions_size(const struct vsr_replica *replica)
{
    uint64_t clients = replica->config.clients_max;
    uint64_t windows = vsr_replica_window_count(replica);
    return clients * sizeof(struct vsr_client_session) + clients * replica->config.reply_size_max +
           windows * sizeof(struct vsr_window_entry) + windows * replica->config.reply_size_max;
}

void vsr_replica_sessions_save(const struct vsr_replica *replica, uint8_t *bytes)
{
    uint64_t clients = replica->config.clients_max;
    uint64_t windows = vsr_replica_window_count(replica);
    uint8_t *cursor = bytes;
    memcpy(cursor, replica->sessions, clients * sizeof(struct vsr_client_session));
    cursor += clients * sizeof(struct vsr_client_session);
    memcpy(cursor, replica->reply_bodies, clients * replica->config.reply_size_max);
    cursor += clients * replica->config.reply_size_max;
    memcpy(cursor, replica->window_entries, windows * sizeof(struct vsr_window_entry));
    cursor += windows * sizeof(struct vsr_window_entry);
    memcpy(cursor, replica->window_bodies, windows * replica->config.reply_size_max);
    cursor += windows * replica->config.reply_size_max;
    assert((uint64_t)(cursor - bytes) == vsr_replica_sessions_size(replica));
}

/* True when a kept reply read from a checkpoint is one this replica could have made. */
static bool vsr_replica_kept_reply_is_valid(const struct vsr_replica *replica,
                                            const struct vsr_header *reply, uint32_t size_bytes)
{
    if (reply->checksum == 0) {
        return size_bytes == 0;
    }
    return vsr_header_is_checksum_valid(reply) && reply->command == VSR_COMMAND_REPLY &&
           size_bytes <= replica->config.reply_size_max;
}

/* Validates the client table in bytes (untrusted), then copies it in; false if invalid. */
bool vsr_replica_sessions_load(struct vsr_replica *replica, const uint8_t *bytes)
{
    uint64_t clients = replica->config.clients_max;
    uint64_t windows = vsr_replica_window_count(replica);
    const uint8_t *entries = bytes + clients * sizeof(struct vsr_client_session) +
                             clients * replica->config.reply_size_max;
    for (uint64_t index = 0; index < clients; index++) {
        struct vsr_client_session session;
        memcpy(&session, bytes + index * sizeof(session), sizeof(session));
        if (!vsr_replica_kept_reply_is_valid(replica, &session.reply, session.reply_size_bytes)) {
            return false;
        }
    }
    for (uint64_t index = 0; index < windows; index++) {
        struct vsr_window_entry entry;
        memcpy(&entry, entries + index * sizeof(entry), sizeof(entry));
        if (!vsr_replica_kept_reply_is_valid(replica, &entry.reply, entry.reply_size_bytes) ||
            (entry.request != 0 && entry.reply.checksum == 0)) {
            return false;
        }
    }
    const uint8_t *cursor = bytes;
    memcpy(replica->sessions, cursor, clients * sizeof(struct vsr_client_session));
    cursor += clients * sizeof(struct vsr_client_session);
    memcpy(replica->reply_bodies, cursor, clients * replica->config.reply_size_max);
    cursor += clients * replica->config.reply_size_max;
    memcpy(replica->window_entries, cursor, windows * sizeof(struct vsr_window_entry));
    cursor += windows * sizeof(struct vsr_window_entry);
    memcpy(replica->window_bodies, cursor, windows * replica->config.reply_size_max);
    return true;
}

/* Encodes the state after commit_min into bytes; returns the size. */
static uint64_t vsr_replica_checkpoint_encode(struct vsr_replica *replica, uint8_t *bytes)
{
    uint64_t op = replica->commit_min;
    assert(vsr_replica_has(replica, op, VSR_ENTRY_HEADER));
    memcpy(bytes, vsr_header_at(replica, op), VSR_HEADER_SIZE);
    struct vsr_checkpoint_frame frame = {
        .magic = VSR_CHECKPOINT_MAGIC,
        .op = op,
        .sessions_size = vsr_replica_sessions_size(replica),
    };
    vsr_replica_sessions_save(replica, bytes + VSR_CHECKPOINT_FIXED);
    uint64_t state_at = VSR_CHECKPOINT_FIXED + frame.sessions_size;
    frame.state_size = replica->state_machine.snapshot(
        bytes + state_at, replica->config.state_size_max, replica->state_machine.context);
    assert(frame.state_size <= replica->config.state_size_max);
    memcpy(bytes + VSR_HEADER_SIZE, &frame, sizeof(frame));
    assert(state_at + frame.state_size <= replica->checkpoint_size_max);
    return state_at + frame.state_size;
}

/* Checks an encoded checkpoint (untrusted); fills frame_out. */
static bool vsr_replica_checkpoint_is_valid(const struct vsr_replica *replica, const uint8_t *bytes,
                                            uint64_t size_bytes,
                                            struct vsr_checkpoint_frame *frame_out)
{
    if (size_bytes < VSR_CHECKPOINT_FIXED || size_bytes > replica->checkpoint_size_max) {
        return false;
    }
    struct vsr_header anchor;
    memcpy(&anchor, bytes, sizeof(anchor));
    memcpy(frame_out, bytes + VSR_HEADER_SIZE, sizeof(*frame_out));
    const struct vsr_checkpoint_frame *frame = frame_out;
    return frame->magic == VSR_CHECKPOINT_MAGIC && frame->reserved == 0 && frame->op > 0 &&
           frame->sessions_size == vsr_replica_sessions_size(replica) &&
           frame->state_size <= replica->config.state_size_max &&
           VSR_CHECKPOINT_FIXED + frame->sessions_size + frame->state_size == size_bytes &&
           vsr_header_is_checksum_valid(&anchor) && anchor.command == VSR_COMMAND_PREPARE &&
           anchor.u.prepare.op == frame->op && anchor.cluster == replica->config.cluster &&
           vsr_group_is_equal(&anchor.group, &replica->config.group);
}

/* Replaces the state machine and the client table with a checkpoint's (valid frame). */
static int vsr_replica_checkpoint_restore(struct vsr_replica *replica, const uint8_t *bytes,
                                          const struct vsr_checkpoint_frame *frame)
{
    assert(frame->magic == VSR_CHECKPOINT_MAGIC);
    const uint8_t *sessions = bytes + VSR_CHECKPOINT_FIXED;
    int result =
        replica->state_machine.restore(sessions + frame->sessions_size, (uint32_t)frame->state_size,
                                       replica->state_machine.context);
    if (result != 0) {
        return result;
    }
    return vsr_replica_sessions_load(replica, sessions) ? 0 : -RUNNEL_EFORMAT;
}

/* Sets op's slot to the checkpoint's anchor: canonical, header known, durable. */
static void vsr_replica_anchor_set(struct vsr_replica *replica, const uint8_t *bytes)
{
    struct vsr_header anchor;
    memcpy(&anchor, bytes, sizeof(anchor));
    uint64_t op = anchor.u.prepare.op;
    assert(op == replica->checkpoint_op);
    struct vsr_entry *entry = vsr_entry_at(replica, op);
    memset(entry, 0, sizeof(*entry));
    vsr_replica_entry_set(replica, &anchor);
    entry->journal_checksum = anchor.checksum;
}

/*
 * Learns what the journal holds at the ops [op_min, op_max] that just entered the ring: a
 * state transfer's records above the old top were written while the ring could not record
 * them (vsr_replica_on_journal_write drops a report above the top), and an own checkpoint
 * that moves the window over them would otherwise leave them unknown, nacked in a
 * do_view_change though held (runnel-sim --seed 4242005325: record 47 written with the ring
 * top at 38, the own checkpoint at 38 then covered it). Only ops a write may have reached.
 */
static void vsr_replica_window_load(struct vsr_replica *replica, uint64_t op_min, uint64_t op_max)
{
    uint64_t top =
        op_max < replica->journal_written_op_max ? op_max : replica->journal_written_op_max;
    struct vsr_header header;
    for (uint64_t op = op_min; op <= top; op++) {
        struct vsr_entry *entry = vsr_entry_at(replica, op);
        int result = replica->journal.read(op, &header, NULL, 0, replica->journal.context);
        if (result == 0 && header.u.prepare.op == op) {
            entry->journal_checksum = header.checksum;
        } else if (result != -RUNNEL_ENOTFOUND) {
            entry->flags |= VSR_ENTRY_FAULTY; /* damaged or unreadable now: never nacked */
        }
    }
}

/* Moves the ring's base up to base: slots of ops below it now hold ops above the old top. */
static void vsr_replica_window_move(struct vsr_replica *replica, uint64_t base)
{
    assert(base > replica->checkpoint_op);
    uint64_t slots = replica->config.ops_max + 1;
    uint64_t top_old = vsr_replica_window_top(replica);
    uint64_t top_new = base + replica->config.ops_max;
    if (top_new - top_old >= slots) {
        memset(replica->entries, 0, slots * sizeof(struct vsr_entry));
        memset(replica->headers, 0, slots * sizeof(struct vsr_header));
    } else {
        for (uint64_t op = top_old + 1; op <= top_new; op++) {
            memset(&replica->entries[op % slots], 0, sizeof(struct vsr_entry));
            memset(&replica->headers[op % slots], 0, sizeof(struct vsr_header));
        }
    }
    replica->checkpoint_op = base;
    vsr_replica_window_load(replica, top_old + 1 > base + 1 ? top_old + 1 : base + 1, top_new);
}

void vsr_replica_checkpoint_quorum_update(struct vsr_replica *replica)
{
    replica->peer_checkpoint_op[replica->config.replica] = replica->checkpoint_op;
    uint64_t quorum_op = vsr_quorum_op(replica->peer_checkpoint_op, replica->config.replica_count);
    if (quorum_op > replica->checkpoint_quorum_op) {
        replica->checkpoint_quorum_op = quorum_op;
    }
}

uint64_t vsr_replica_log_removable_op(const struct vsr_replica *replica)
{
    uint32_t count = replica->config.replica_count;
    assert(count >= 1 && count <= VSR_REPLICAS_MAX);
    uint64_t ops[VSR_REPLICAS_MAX];
    memcpy(ops, replica->peer_checkpoint_op, count * sizeof(ops[0]));
    ops[replica->config.replica] = replica->checkpoint_op;
    uint64_t op = vsr_quorum_op(ops, count); /* a replication quorum's durable checkpoint */
    if (op > replica->checkpoint_op) {
        op = replica->checkpoint_op; /* never above its own */
    }
    return op;
}

bool vsr_replica_checkpoint_state(const struct vsr_replica *replica, const uint8_t **bytes_out,
                                  uint32_t *size_out, struct vsr_header *anchor_out)
{
    assert(bytes_out != NULL && size_out != NULL && anchor_out != NULL);
    if (replica->checkpoint_op == 0 || replica->checkpoint_size_bytes < VSR_CHECKPOINT_FIXED) {
        return false;
    }
    struct vsr_checkpoint_frame frame;
    memcpy(anchor_out, replica->checkpoint_bytes, sizeof(*anchor_out));
    memcpy(&frame, replica->checkpoint_bytes + VSR_HEADER_SIZE, sizeof(frame));
    /* Checked when it became durable (own encoding, or a peer's frame validated). */
    assert(frame.op == replica->checkpoint_op && anchor_out->u.prepare.op == frame.op);
    assert(VSR_CHECKPOINT_FIXED + frame.sessions_size + frame.state_size ==
           replica->checkpoint_size_bytes);
    *bytes_out = replica->checkpoint_bytes + VSR_CHECKPOINT_FIXED + frame.sessions_size;
    *size_out = (uint32_t)frame.state_size;
    return true;
}

void vsr_replica_checkpoint_learn(struct vsr_replica *replica, uint8_t peer, uint64_t op)
{
    assert(peer < VSR_REPLICAS_MAX);
    if (peer >= replica->config.replica_count || op <= replica->peer_checkpoint_op[peer]) {
        return;
    }
    replica->peer_checkpoint_op[peer] = op;
    vsr_replica_checkpoint_quorum_update(replica);
}

void vsr_replica_checkpoint_maybe(struct vsr_replica *replica)
{
    uint64_t interval = replica->config.checkpoint_interval;
    if (interval == 0 || replica->commit_min < replica->checkpoint_op + interval ||
        replica->checkpoint_stage != VSR_CHECKPOINT_IDLE) {
        return; /* not due, or a write in flight: a later op takes its place */
    }
    if (replica->transfer_stage == VSR_TRANSFER_PULLING) {
        replica->transfer_stage = VSR_TRANSFER_IDLE; /* its own progress moves the ring first */
    } else if (replica->transfer_stage != VSR_TRANSFER_IDLE) {
        return;
    }
    uint64_t size = vsr_replica_checkpoint_encode(replica, replica->checkpoint_next);
    assert(size <= UINT32_MAX);
    replica->checkpoint_next_op = replica->commit_min;
    replica->checkpoint_next_checksum = vsr_checksum(replica->checkpoint_next, size);
    replica->checkpoint_next_size_bytes = size;
    int result = replica->superblock.checkpoint_write(0, replica->checkpoint_next, (uint32_t)size,
                                                      true, replica->superblock.checkpoint_context);
    if (result == 0) {
        replica->checkpoint_stage = VSR_CHECKPOINT_WRITING;
    }
}

/*
 * True when this replica's log provably leaves the committed history at the anchor: it
 * holds another prepare at the anchor's op, or one above whose parent is not the anchor.
 * An op it does not know (a gap) proves nothing: the log above it is kept.
 */
static bool vsr_replica_transfer_divergent(const struct vsr_replica *replica,
                                           const struct vsr_header *anchor)
{
    uint64_t op = anchor->u.prepare.op;
    if (op > replica->op || !vsr_replica_in_window(replica, op)) {
        return false;
    }
    if (vsr_replica_has(replica, op, VSR_ENTRY_CANON) &&
        vsr_entry_at(replica, op)->checksum != anchor->checksum) {
        return true;
    }
    return vsr_replica_in_window(replica, op + 1) &&
           vsr_replica_has(replica, op + 1, VSR_ENTRY_HEADER) &&
           vsr_header_at(replica, op + 1)->u.prepare.parent != anchor->checksum;
}

/* A transferred checkpoint is durable: its state replaces this replica's. */
static void vsr_replica_transfer_install(struct vsr_replica *replica, uint64_t op)
{
    const uint8_t *bytes = replica->checkpoint_bytes;
    struct vsr_checkpoint_frame frame;
    bool valid =
        vsr_replica_checkpoint_is_valid(replica, bytes, replica->checkpoint_size_bytes, &frame);
    assert(valid && frame.op == op); /* checked before it was persisted */
    struct vsr_header anchor;
    memcpy(&anchor, bytes, sizeof(anchor));
    if (replica->commit_min >= op) {
        vsr_replica_window_move(replica, op); /* caught up meanwhile: the same state */
        return;
    }
    bool divergent = vsr_replica_transfer_divergent(replica, &anchor);
    if (vsr_replica_checkpoint_restore(replica, bytes, &frame) != 0) {
        replica->stats.messages_invalid++;
    }
    vsr_replica_window_move(replica, op);
    if (divergent || replica->op < op) {
        /* Its log above op does not chain to the committed anchor: none of it is canonical.
         * The journal drops everything above op, so every slot above it forgets what the
         * journal held there, above the head too (a view change that lowered the head left
         * those entries' journal checksums: kept, a prepare of that op and checksum would
         * count as durable and be acked though the journal no longer has it). */
        replica->journal.truncate(op + 1, replica->journal.context);
        for (uint64_t above = op + 1; above <= vsr_replica_window_top(replica); above++) {
            memset(vsr_entry_at(replica, above), 0, sizeof(struct vsr_entry));
        }
        replica->op = op;
        if (replica->log_head_op > op) {
            replica->log_head_op = op; /* its installed head was not canonical either */
        }
    }
    vsr_replica_anchor_set(replica, bytes);
    replica->commit_min = op;
    replica->commit_max = replica->commit_max > op ? replica->commit_max : op;
    replica->op_prefix = op;
    replica->stats.state_transfers++;
}

void vsr_replica_checkpoint_durable(struct vsr_replica *replica)
{
    uint64_t op = replica->durable.checkpoint_op;
    bool transfer = replica->transfer_stage == VSR_TRANSFER_PERSISTING;
    assert(transfer || replica->checkpoint_stage == VSR_CHECKPOINT_PERSISTING);
    assert(op == replica->checkpoint_next_op && op > replica->checkpoint_op);
    uint8_t *swap = replica->checkpoint_bytes;
    replica->checkpoint_bytes = replica->checkpoint_next;
    replica->checkpoint_next = swap;
    replica->checkpoint_checksum = replica->checkpoint_next_checksum;
    replica->checkpoint_size_bytes = replica->checkpoint_next_size_bytes;
    if (transfer) {
        vsr_replica_transfer_install(replica, op);
        replica->transfer_stage = VSR_TRANSFER_IDLE;
    } else {
        vsr_replica_window_move(replica, op);
        replica->checkpoint_stage = VSR_CHECKPOINT_IDLE;
        replica->stats.checkpoints++;
    }
    vsr_replica_checkpoint_quorum_update(replica);
    if (transfer) {
        vsr_replica_chain_walk(replica);
        vsr_replica_prefix_update(replica);
        vsr_replica_execute(replica);
    }
}

int vsr_replica_checkpoint_load(struct vsr_replica *replica)
{
    const struct vsr_superblock_state *durable = &replica->durable;
    if (durable->checkpoint_op == 0) {
        return 0;
    }
    if (replica->config.checkpoint_interval == 0 ||
        durable->checkpoint_size_bytes > replica->checkpoint_size_max) {
        return -RUNNEL_ECONFIG;
    }
    uint8_t *bytes = replica->checkpoint_bytes;
    int result = replica->superblock.checkpoint_read(durable->checkpoint_checksum, 0, bytes,
                                                     durable->checkpoint_size_bytes,
                                                     replica->superblock.checkpoint_context);
    struct vsr_checkpoint_frame frame;
    if (result == 0 &&
        (vsr_checksum(bytes, durable->checkpoint_size_bytes) != durable->checkpoint_checksum ||
         !vsr_replica_checkpoint_is_valid(replica, bytes, durable->checkpoint_size_bytes, &frame) ||
         frame.op != durable->checkpoint_op)) {
        result = -RUNNEL_EFAULTY;
    }
    if (result == 0) {
        result = vsr_replica_checkpoint_restore(replica, bytes, &frame);
    }
    if (result != 0) {
        return result;
    }
    replica->checkpoint_checksum = durable->checkpoint_checksum;
    replica->checkpoint_size_bytes = durable->checkpoint_size_bytes;
    vsr_replica_anchor_set(replica, bytes);
    replica->commit_min = frame.op;
    replica->op_prefix = frame.op;
    vsr_replica_checkpoint_quorum_update(replica);
    return 0;
}

/* Asks transfer_peer for the next chunk (the first: any checkpoint above commit_min). */
static void vsr_replica_transfer_request(struct vsr_replica *replica)
{
    assert(replica->transfer_stage == VSR_TRANSFER_PULLING);
    struct vsr_header message;
    vsr_replica_message_init(replica, &message, VSR_COMMAND_REQUEST_CHECKPOINT);
    struct vsr_header_checkpoint_chunk *chunk = &message.u.checkpoint_chunk;
    chunk->checkpoint_op = replica->transfer_op == 0 ? replica->commit_min : replica->transfer_op;
    chunk->checkpoint_checksum = replica->transfer_checksum;
    chunk->chunk_offset_bytes = replica->transfer_offset_bytes;
    vsr_header_seal(&message, NULL, 0);
    vsr_replica_send(replica, replica->transfer_peer, &message, NULL);
    replica->transfer_tick = replica->tick;
}

uint8_t vsr_replica_peer_random(struct vsr_replica *replica)
{
    uint8_t count = replica->config.replica_count;
    assert(count >= 2);
    uint8_t target = (uint8_t)prng_range(&replica->prng, count - 1u);
    return target >= replica->config.replica ? (uint8_t)(target + 1) : target;
}

/* Starts (or restarts) pulling a checkpoint from target (a random peer when none). */
static void vsr_replica_transfer_start(struct vsr_replica *replica, uint8_t target)
{
    if (target >= replica->config.replica_count || target == replica->config.replica) {
        target = vsr_replica_peer_random(replica);
    }
    replica->transfer_stage = VSR_TRANSFER_PULLING;
    replica->transfer_peer = target;
    replica->transfer_op = 0;
    replica->transfer_checksum = 0;
    replica->transfer_size_bytes = 0;
    replica->transfer_offset_bytes = 0;
    replica->transfer_log_op_first = 0;
    vsr_replica_transfer_request(replica);
}

bool vsr_replica_peer_checkpoint_is_above(const struct vsr_replica *replica, uint64_t op)
{
    assert(replica->config.replica_count <= VSR_REPLICAS_MAX);
    if (replica->checkpoint_quorum_op > op) {
        return true;
    }
    for (uint8_t peer = 0; peer < replica->config.replica_count; peer++) {
        if (peer != replica->config.replica && replica->peer_checkpoint_op[peer] > op) {
            return true;
        }
    }
    return false;
}

bool vsr_replica_transfer_is_leading(const struct vsr_replica *replica)
{
    return replica->config.log_retained && vsr_replica_is_primary(replica) &&
           (replica->transfer_stage == VSR_TRANSFER_PULLING ||
            replica->transfer_stage == VSR_TRANSFER_RECORDS);
}

/*
 * True when a replica cannot execute what is committed from its peers: its repair made no
 * progress for VSR_STALL_REPAIRS_RETAINED rounds while a peer checkpointed past its commit
 * (the prepares above it may be gone from every peer: prefix truncation with log_retained,
 * or below every peer's ring and overwritten in their journals). Only a state transfer
 * brings them, and a primary runs none: it steps aside (vsr_replica_is_abdicating) and
 * transfers as a backup (runnel-sim --seed 1940239517086: a view's primary lacking ops 1-4,
 * below its peers' checkpoint of op 18, repaired in vain for ever).
 */
bool vsr_replica_is_lagging(const struct vsr_replica *replica)
{
    return replica->commit_min < replica->commit_max &&
           replica->commit_min == replica->stall_commit_min &&
           replica->stall_ticks >= VSR_STALL_REPAIRS_RETAINED &&
           vsr_replica_peer_checkpoint_is_above(replica, replica->commit_min);
}

void vsr_replica_transfer_check(struct vsr_replica *replica)
{
    vsr_replica_checkpoint_maybe(replica);
    if (replica->config.checkpoint_interval == 0 || replica->config.replica_count == 1) {
        return;
    }
    if (vsr_replica_transfer_is_leading(replica)) {
        replica->transfer_stage = VSR_TRANSFER_IDLE;
    }
    if (replica->transfer_stage == VSR_TRANSFER_RECORDS) {
        vsr_replica_records_tick(replica);
        return;
    }
    if (replica->transfer_stage == VSR_TRANSFER_PULLING) {
        if (replica->tick > replica->transfer_tick + VSR_TRANSFER_TIMEOUT_TICKS) {
            vsr_replica_transfer_start(replica, VSR_REPLICAS_MAX); /* silent: another peer */
        }
        return;
    }
    if (replica->commit_min != replica->stall_commit_min ||
        replica->commit_min >= replica->commit_max) {
        replica->stall_commit_min = replica->commit_min;
        replica->stall_ticks = 0;
        return;
    }
    replica->stall_ticks++;
    if (replica->config.log_retained && replica->commit_max <= vsr_replica_window_top(replica) &&
        !(replica->stall_ticks >= VSR_STALL_REPAIRS_RETAINED &&
          vsr_replica_peer_checkpoint_is_above(replica, replica->commit_min))) {
        /* Within reach: peers serve what it lacks from below their rings. Unless repair
         * made no progress for long while a peer checkpointed past its commit: the prepares
         * it needs may be below every peer's log start (prefix truncation), and a state
         * transfer's records restart its journal at a peer's first op. */
        return;
    }
    if (replica->stall_ticks >= VSR_STALL_REPAIRS && !vsr_replica_is_primary(replica) &&
        replica->transfer_stage == VSR_TRANSFER_IDLE &&
        replica->checkpoint_stage == VSR_CHECKPOINT_IDLE) {
        replica->stall_ticks = 0;
        vsr_replica_transfer_start(replica, vsr_replica_primary_index(replica, replica->view));
    }
}

void vsr_replica_transfer_want(struct vsr_replica *replica, uint8_t peer)
{
    assert(peer < VSR_REPLICAS_MAX);
    if (!vsr_replica_is_primary(replica) && replica->config.checkpoint_interval > 0 &&
        replica->config.replica_count > 1 && replica->transfer_stage == VSR_TRANSFER_IDLE &&
        replica->checkpoint_stage == VSR_CHECKPOINT_IDLE) {
        vsr_replica_transfer_start(replica, peer);
    }
}

void vsr_replica_on_request_checkpoint(struct vsr_replica *replica, const struct vsr_header *header)
{
    const struct vsr_header_checkpoint_chunk *request = &header->u.checkpoint_chunk;
    assert(header->command == VSR_COMMAND_REQUEST_CHECKPOINT);
    if (replica->checkpoint_op == 0 || header->size != VSR_HEADER_SIZE ||
        (request->checkpoint_checksum == 0
             ? replica->checkpoint_op <= request->checkpoint_op
             : request->checkpoint_checksum != replica->checkpoint_checksum) ||
        request->chunk_offset_bytes >= replica->checkpoint_size_bytes) {
        return; /* nothing newer here, or that checkpoint is gone: the requester moves on */
    }
    uint64_t offset = request->chunk_offset_bytes;
    uint64_t size = (uint64_t)vsr_replica_window_max(replica) * VSR_HEADER_SIZE;
    if (size > replica->checkpoint_size_bytes - offset) {
        size = replica->checkpoint_size_bytes - offset;
    }
    struct vsr_header message;
    vsr_replica_message_init(replica, &message, VSR_COMMAND_CHECKPOINT);
    struct vsr_header_checkpoint_chunk *chunk = &message.u.checkpoint_chunk;
    chunk->checkpoint_checksum = replica->checkpoint_checksum;
    chunk->checkpoint_op = replica->checkpoint_op;
    chunk->chunk_offset_bytes = offset;
    chunk->chunk_size_bytes = size;
    chunk->total_size_bytes = replica->checkpoint_size_bytes;
    chunk->log_op_first =
        replica->journal.op_first != NULL ? replica->journal.op_first(replica->journal.context) : 1;
    vsr_header_seal(&message, replica->checkpoint_bytes + offset, (uint32_t)size);
    vsr_replica_send(replica, header->replica, &message, replica->checkpoint_bytes + offset);
}

/* True when chunk (untrusted) continues the transfer in progress. */
static bool vsr_replica_chunk_fits(const struct vsr_replica *replica,
                                   const struct vsr_header *header)
{
    const struct vsr_header_checkpoint_chunk *chunk = &header->u.checkpoint_chunk;
    uint64_t size = header->size - VSR_HEADER_SIZE;
    bool first = replica->transfer_op == 0;
    return header->replica == replica->transfer_peer && chunk->chunk_size_bytes == size &&
           size > 0 && chunk->chunk_offset_bytes == replica->transfer_offset_bytes &&
           chunk->total_size_bytes >= VSR_CHECKPOINT_FIXED &&
           chunk->total_size_bytes <= replica->checkpoint_size_max &&
           size <= chunk->total_size_bytes - chunk->chunk_offset_bytes &&
           chunk->checkpoint_checksum != 0 &&
           (first ? chunk->checkpoint_op > replica->commit_min
                  : chunk->checkpoint_op == replica->transfer_op &&
                        chunk->checkpoint_checksum == replica->transfer_checksum &&
                        chunk->total_size_bytes == replica->transfer_size_bytes);
}

void vsr_replica_on_checkpoint(struct vsr_replica *replica, const struct vsr_header *header,
                               const void *body)
{
    const struct vsr_header_checkpoint_chunk *chunk = &header->u.checkpoint_chunk;
    assert(header->command == VSR_COMMAND_CHECKPOINT);
    if (vsr_replica_transfer_is_leading(replica)) {
        replica->transfer_stage = VSR_TRANSFER_IDLE;
    }
    if (replica->transfer_stage != VSR_TRANSFER_PULLING ||
        !vsr_replica_chunk_fits(replica, header)) {
        return; /* late, duplicated or not the one being pulled */
    }
    if (replica->transfer_op == 0) {
        replica->transfer_op = chunk->checkpoint_op;
        replica->transfer_checksum = chunk->checkpoint_checksum;
        replica->transfer_size_bytes = chunk->total_size_bytes;
        replica->transfer_log_op_first = chunk->log_op_first;
    }
    uint64_t offset = chunk->chunk_offset_bytes;
    uint32_t size = header->size - VSR_HEADER_SIZE;
    memcpy(replica->checkpoint_next + offset, body, size);
    bool last = offset + size == replica->transfer_size_bytes;
    /* From checkpoint_next, not body: the store may write the bytes after this returns. */
    int result =
        replica->superblock.checkpoint_write(offset, replica->checkpoint_next + offset, size, last,
                                             replica->superblock.checkpoint_context);
    if (result != 0) {
        return; /* the store is busy: the chunk is asked for again */
    }
    replica->transfer_stage = VSR_TRANSFER_WRITING;
    replica->transfer_offset_bytes = offset + size;
    replica->transfer_tick = replica->tick;
}

/* A transferred chunk is written: the next one, or (complete and intact) persist it. */
static void vsr_replica_transfer_written(struct vsr_replica *replica)
{
    assert(replica->transfer_stage == VSR_TRANSFER_WRITING);
    replica->transfer_stage = VSR_TRANSFER_PULLING;
    if (replica->transfer_offset_bytes < replica->transfer_size_bytes) {
        vsr_replica_transfer_request(replica);
        return;
    }
    struct vsr_checkpoint_frame frame;
    uint64_t size = replica->transfer_size_bytes;
    if (vsr_checksum(replica->checkpoint_next, size) != replica->transfer_checksum ||
        !vsr_replica_checkpoint_is_valid(replica, replica->checkpoint_next, size, &frame) ||
        frame.op != replica->transfer_op || frame.op <= replica->commit_min ||
        replica->checkpoint_stage != VSR_CHECKPOINT_IDLE) {
        replica->stats.messages_invalid++;
        replica->transfer_stage = VSR_TRANSFER_IDLE; /* stalls again: another attempt */
        return;
    }
    if (vsr_replica_transfer_is_leading(replica)) {
        replica->transfer_stage = VSR_TRANSFER_IDLE; /* it leads a view now: its log stays */
        return;
    }
    if (replica->config.log_retained) {
        vsr_replica_records_start(replica); /* the prepares up to its anchor first */
        return;
    }
    vsr_replica_transfer_persist(replica);
}

void vsr_replica_transfer_persist(struct vsr_replica *replica)
{
    assert(replica->transfer_stage == VSR_TRANSFER_PULLING ||
           replica->transfer_stage == VSR_TRANSFER_RECORDS);
    assert(replica->transfer_offset_bytes == replica->transfer_size_bytes);
    replica->checkpoint_next_op = replica->transfer_op;
    replica->checkpoint_next_checksum = replica->transfer_checksum;
    replica->checkpoint_next_size_bytes = replica->transfer_size_bytes;
    replica->transfer_stage = VSR_TRANSFER_PERSISTING;
    vsr_replica_persist(replica);
}

void vsr_replica_on_checkpoint_write(struct vsr_replica *replica)
{
    if (replica->checkpoint_stage == VSR_CHECKPOINT_WRITING) {
        replica->checkpoint_stage = VSR_CHECKPOINT_PERSISTING;
        vsr_replica_persist(replica);
        return;
    }
    assert(replica->transfer_stage == VSR_TRANSFER_WRITING);
    vsr_replica_transfer_written(replica);
}
