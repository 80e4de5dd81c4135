/*
 * Internal functions shared by the replica's source files (replica.c: life cycle,
 * dispatch, commit; replica_normal.c: normal operation; replica_view_change.c;
 * replica_repair.c). Not for callers outside vsr/.
 */
#ifndef RUNNEL_VSR_REPLICA_PRIVATE_H
#define RUNNEL_VSR_REPLICA_PRIVATE_H

#include "lib/assert.h"
#include "vsr/replica.h"

enum {
    VSR_TIMEOUT_HEARTBEAT_TICKS = 5,
    VSR_TIMEOUT_PREPARE_TICKS = 10,
    VSR_TIMEOUT_NORMAL_TICKS = 40,
    VSR_TIMEOUT_VIEW_CHANGE_TICKS = 60,
    VSR_TIMEOUT_RESEND_TICKS = 10,
    VSR_TIMEOUT_REPAIR_TICKS = 4,
    VSR_ABDICATE_TICKS = 100,
    VSR_COMMIT_STALL_TICKS = 400,
    VSR_HAND_BACK_TICKS = 300,
    VSR_REPAIR_REQUESTS_MAX = 64,      /* request_prepares one repair round sends at most */
    VSR_REPAIR_ROUND_BYTES = 1 << 18,  /* and the prepares they ask for, by known size */
    VSR_HEADERS_BATCH_MAX = 64,        /* canonical headers one headers message carries at most */
    VSR_STALL_REPAIRS = 12,            /* repair rounds without progress before a transfer */
    VSR_STALL_REPAIRS_RETAINED = 96,   /* the same within reach of a log_retained ring */
    VSR_TRANSFER_TIMEOUT_TICKS = 40,   /* a chunk not answered: ask another peer */
    VSR_CHECKPOINT_MAGIC = 0x52434b50, /* "PKCR" */
    VSR_RECORDS_CHUNK_MAX = 16,        /* prepares one request_records asks for */
    VSR_RECORDS_CHUNK_BYTES = 1 << 18, /* a peer stops serving a chunk past this many bytes */
};

/* The ring slot of op (op within the window: see vsr_replica_in_window). */
static inline struct vsr_entry *vsr_entry_at(const struct vsr_replica *replica, uint64_t op)
{
    assert(vsr_replica_in_window(replica, op));
    return &replica->entries[op % (replica->config.ops_max + 1)];
}

static inline struct vsr_header *vsr_header_at(const struct vsr_replica *replica, uint64_t op)
{
    assert(vsr_replica_in_window(replica, op));
    return &replica->headers[op % (replica->config.ops_max + 1)];
}

/* Highest op the ring can hold now. */
static inline uint64_t vsr_replica_window_top(const struct vsr_replica *replica)
{
    return replica->checkpoint_op + replica->config.ops_max;
}

/* replica.c */
uint32_t vsr_replica_window_max(const struct vsr_replica *replica);
bool vsr_replica_has(const struct vsr_replica *replica, uint64_t op, uint8_t flag);
bool vsr_replica_is_durable(const struct vsr_replica *replica, uint64_t op);
bool vsr_replica_view_is_durable(const struct vsr_replica *replica);
bool vsr_replica_can_journal(const struct vsr_replica *replica, uint64_t op);
void vsr_replica_journal_started(struct vsr_replica *replica, uint64_t op);
void vsr_replica_message_init(const struct vsr_replica *replica, struct vsr_header *header,
                              enum vsr_command command);
void vsr_replica_send(struct vsr_replica *replica, uint8_t target, const struct vsr_header *header,
                      const void *body);
void vsr_replica_broadcast(struct vsr_replica *replica, const struct vsr_header *header,
                           const void *body);
void vsr_replica_timeout_start(struct vsr_replica *replica, struct vsr_timeout *timeout);
void vsr_replica_timeout_stop(struct vsr_timeout *timeout);
bool vsr_replica_timeout_fired(struct vsr_replica *replica, struct vsr_timeout *timeout);
void vsr_replica_persist(struct vsr_replica *replica);
void vsr_replica_execute(struct vsr_replica *replica);
void vsr_replica_prefix_update(struct vsr_replica *replica);
int vsr_replica_journal_read(struct vsr_replica *replica, uint64_t op,
                             struct vsr_header *header_out, void *body_out);
void vsr_replica_entry_set(struct vsr_replica *replica, const struct vsr_header *header);
void vsr_replica_journal_write(struct vsr_replica *replica, const struct vsr_header *header,
                               const void *body);
void vsr_replica_head_extend(struct vsr_replica *replica, uint64_t op);
/* A recovering replica (config.recovering) leaves the view it followed: recovering_head,
 * asking peers for the current start_view instead of voting. */
void vsr_replica_recovering_wait(struct vsr_replica *replica);
/* The view a recovering replica that installed view first acts in at the earliest: view + 2,
 * or + 3 when it would lead view + 2; view itself at 2 replicas (vsr_replica_recovering_check). */
uint32_t vsr_replica_recovering_view_for(const struct vsr_replica *replica, uint32_t view);
/* A recovering replica notes that peer is in view (or later) now: a message peer sent in
 * its own current view (no prepare: it keeps the view it was prepared in). */
void vsr_replica_recovering_hear(struct vsr_replica *replica, uint8_t peer, uint32_t view);

/* replica_checkpoint.c */
void vsr_replica_checkpoint_maybe(struct vsr_replica *replica);
void vsr_replica_checkpoint_durable(struct vsr_replica *replica);
int vsr_replica_checkpoint_load(struct vsr_replica *replica);
void vsr_replica_checkpoint_learn(struct vsr_replica *replica, uint8_t peer, uint64_t op);
void vsr_replica_checkpoint_quorum_update(struct vsr_replica *replica);
void vsr_replica_transfer_check(struct vsr_replica *replica);
void vsr_replica_transfer_want(struct vsr_replica *replica, uint8_t peer);
void vsr_replica_transfer_persist(struct vsr_replica *replica);
bool vsr_replica_is_lagging(const struct vsr_replica *replica);
/* True when a log_retained replica leads a view (or is its primary-elect) while pulling a
 * checkpoint or its records: its log is the one the view change chose, which a journal
 * restart, a cut or an install below its head would drop. The transfer is dropped; it
 * steps aside if it cannot execute (vsr_replica_is_lagging) and transfers as a backup. */
bool vsr_replica_transfer_is_leading(const struct vsr_replica *replica);
/* True when some peer reported a durable checkpoint above op, or the primary's commits say
 * a replication quorum has one (a backup hears its peers' own reports only in view
 * changes). */
bool vsr_replica_peer_checkpoint_is_above(const struct vsr_replica *replica, uint64_t op);
uint8_t vsr_replica_peer_random(struct vsr_replica *replica);
void vsr_replica_on_request_checkpoint(struct vsr_replica *replica,
                                       const struct vsr_header *header);
void vsr_replica_on_checkpoint(struct vsr_replica *replica, const struct vsr_header *header,
                               const void *body);
uint64_t vsr_replica_sessions_size(const struct vsr_replica *replica);
void vsr_replica_sessions_save(const struct vsr_replica *replica, uint8_t *bytes);
bool vsr_replica_sessions_load(struct vsr_replica *replica, const uint8_t *bytes);

/* replica_records.c */
void vsr_replica_records_start(struct vsr_replica *replica);
void vsr_replica_records_tick(struct vsr_replica *replica);
bool vsr_replica_records_take(struct vsr_replica *replica, const struct vsr_header *header,
                              const void *body);
void vsr_replica_records_written(struct vsr_replica *replica, uint64_t op, u128 checksum);
void vsr_replica_on_request_records(struct vsr_replica *replica, const struct vsr_header *header);
int64_t vsr_replica_record_send(struct vsr_replica *replica, uint8_t target, uint64_t op);

/* replica_sessions.c */
struct vsr_client_session *vsr_replica_session_find(struct vsr_replica *replica, u128 client);
struct vsr_window_entry *vsr_replica_window_find(struct vsr_replica *replica,
                                                 const struct vsr_client_session *session,
                                                 uint64_t request);
void vsr_replica_window_reply_send(struct vsr_replica *replica,
                                   const struct vsr_client_session *session,
                                   const struct vsr_window_entry *entry);
void vsr_replica_reply_build(struct vsr_replica *replica, struct vsr_header *reply,
                             const struct vsr_header *prepare_header, uint32_t reply_size,
                             uint8_t status);
void vsr_replica_execute_one(struct vsr_replica *replica, const struct vsr_header *header,
                             const void *body);

/* replica_normal.c */
void vsr_replica_on_request(struct vsr_replica *replica, const struct vsr_header *header,
                            const void *body);
void vsr_replica_on_prepare(struct vsr_replica *replica, const struct vsr_header *header,
                            const void *body);
void vsr_replica_on_prepare_ok(struct vsr_replica *replica, const struct vsr_header *header);
void vsr_replica_on_commit(struct vsr_replica *replica, const struct vsr_header *header);
void vsr_replica_commit_heard(struct vsr_replica *replica, uint8_t peer, uint32_t view,
                              const struct vsr_header_commit *commit);
void vsr_replica_send_prepare_ok(struct vsr_replica *replica);
void vsr_replica_primary_commit(struct vsr_replica *replica);
void vsr_replica_tick_primary(struct vsr_replica *replica);
bool vsr_replica_is_abdicating(const struct vsr_replica *replica);
void vsr_replica_reply_send(struct vsr_replica *replica, const struct vsr_client_session *session,
                            const void *body);

/* replica_view_change.c */
void vsr_replica_vote(struct vsr_replica *replica, uint32_t view);
void vsr_replica_view_change_start(struct vsr_replica *replica, uint32_t view);
void vsr_replica_on_start_view_change(struct vsr_replica *replica, const struct vsr_header *header);
void vsr_replica_on_do_view_change(struct vsr_replica *replica, const struct vsr_header *header,
                                   const void *body);
void vsr_replica_on_start_view(struct vsr_replica *replica, const struct vsr_header *header,
                               const void *body);
void vsr_replica_on_request_start_view(struct vsr_replica *replica,
                                       const struct vsr_header *header);
void vsr_replica_send_view_change_messages(struct vsr_replica *replica);
void vsr_replica_send_start_view(struct vsr_replica *replica, uint8_t target);
void vsr_replica_request_start_view(struct vsr_replica *replica, uint8_t target);

/* replica_repair.c */
void vsr_replica_log_install(struct vsr_replica *replica, const struct vsr_header *window,
                             uint64_t op_low, uint64_t op_high, u128 head_checksum);
void vsr_replica_chain_walk(struct vsr_replica *replica);
void vsr_replica_repair(struct vsr_replica *replica);
void vsr_replica_on_request_prepare(struct vsr_replica *replica, const struct vsr_header *header);
void vsr_replica_on_request_headers(struct vsr_replica *replica, const struct vsr_header *header);
void vsr_replica_on_headers(struct vsr_replica *replica, const struct vsr_header *header,
                            const void *body);
void vsr_replica_repair_serve(struct vsr_replica *replica);
void vsr_replica_serve_defer(struct vsr_replica *replica, uint8_t target, uint64_t op,
                             u128 checksum, bool record);
int vsr_replica_recover(struct vsr_replica *replica);

#endif
