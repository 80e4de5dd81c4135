/*
 * A VSR replica of one group: a pure state machine (research/vsr.md, DESIGN.md §4). It
 * takes messages, journal and superblock completions and ticks; it emits messages through
 * a struct vsr_bus and storage requests through a struct vsr_journal and a struct
 * vsr_superblock. It never reads a clock other than the one handed in and never touches a
 * system call. Runs on the shard that owns the group.
 *
 * Implemented: normal operation (request, prepare, prepare_ok as a durable-prefix ack,
 * commit piggybacked and as a heartbeat, reply, pipeline, in-order commit, timestamps
 * max(parent + 1, realtime)), view change (start_view_change quorum, do_view_change with
 * log_view, present and nack bitsets, log choice, nack-quorum truncation, hash-chain check,
 * start_view), primary (v + g) mod n, durable view/log_view before advertising, restart
 * (old primary moves to view + 1, damaged head -> recovering_head; a replica whose
 * superblock never named its group never acted: a new group serves in view 0 at once),
 * repair along the hash chain (request_prepare/prepare), client sessions (register:
 * session = its commit op; at most once per client request with the cached reply;
 * eviction of the oldest; logout;
 * exactly-once sessions with a window of replies, "request too old" below it, and a TTL
 * in log time), a log ring (slot = op mod (ops_max + 1)) whose base is the durable
 * checkpoint, checkpoints every checkpoint_interval ops (group state: client table plus
 * the state machine's snapshot; slots are reused only below a checkpoint durable on a
 * replication quorum) and state transfer of a peer's checkpoint in bounded chunks
 * (vsr/replica_checkpoint.c), for log_retained groups with the prepares below it
 * (vsr/replica_records.c), shared heartbeats (heartbeat_shared: the shard's heartbeat
 * vouches for its groups, vsr/heartbeat.h; vsr/replica_heartbeat.c), and recovery of a
 * replica that lost everything (config.recovering: it never votes before it caught up).
 */
#ifndef RUNNEL_VSR_REPLICA_H
#define RUNNEL_VSR_REPLICA_H

#include "lib/clock.h"
#include "lib/prng.h"
#include "proto/vsr_header.h"
#include "vsr/journal.h"

#include <stdbool.h>
#include <stdint.h>

enum { VSR_PIPELINE_MAX = 127, VSR_WINDOW_MAX = 1024, VSR_REPAIR_SERVE_MAX = 16 };

enum vsr_eviction_reason {
    VSR_EVICTION_NO_SESSION = 1,       /* never registered, or evicted */
    VSR_EVICTION_SESSION_MISMATCH = 2, /* an older session of this client */
};

enum vsr_status {
    VSR_STATUS_NORMAL = 1,
    VSR_STATUS_VIEW_CHANGE = 2,
    VSR_STATUS_RECOVERING_HEAD = 3,
};

struct vsr_replica_config {
    u128 cluster;
    struct vsr_group group;
    uint8_t replica;       /* this replica's index */
    uint8_t replica_count; /* 1..VSR_REPLICAS_MAX */
    uint32_t pipeline_max; /* prepares in flight, 1..VSR_PIPELINE_MAX */
    /*
     * Log ring capacity in ops: the replica holds ops (checkpoint_op, checkpoint_op + ops_max]
     * (slot = op mod (ops_max + 1); checkpoint_op's own slot is the chain's anchor). With
     * checkpoint_interval 0 there is no checkpoint, so the log ends at op ops_max.
     */
    uint64_t ops_max;
    uint64_t checkpoint_interval; /* commit ops between checkpoints; 0: never (no wrap) */
    /*
     * The journal keeps every op, also below the ring (a partition log: its records are
     * the partition's data, so a checkpoint alone can never stand in for them). Peers
     * serve headers and prepares below their rings from their journals, so a replica
     * lagging within reach repairs as usual. One that fell below its peers' rings (the
     * ring reuses a slot below a checkpoint durable on a replication quorum) catches up by
     * state transfer: it pulls a peer's checkpoint, then the committed prepares between its
     * commit_min and the checkpoint's anchor (request_records, bounded chunks, each prepare
     * verified and hash-chained from its own commit_min to the anchor) into its journal,
     * all durable before the checkpoint is installed: its journal stays the whole history.
     */
    bool log_retained;
    uint32_t state_size_max; /* largest state machine snapshot (checkpoints) */
    uint32_t body_size_max;  /* largest prepare body */
    uint32_t reply_size_max;
    uint32_t clients_max;
    uint32_t exactly_once_window_max; /* replies kept per exactly-once client; 0: no opt-in */
    uint64_t session_ttl_ns; /* exactly-once sessions idle this long (log time) end; 0: never */
    uint64_t seed;           /* timeout jitter */
    /*
     * Durability `replicated` (DESIGN.md §4): a replica acks a prepare once written, before
     * it is synced, so a machine crash may take what it acked. A start after one
     * (boot_changed: the boot id differs from the last start's) is recovering_head when
     * the replica held anything; a process crash loses no completed write. At
     * replica_count 1 `replicated` behaves as fsync.
     */
    bool durability_replicated;
    bool boot_changed;
    /*
     * Failure detection per (shard, peer) (vsr/heartbeat.h): the primary sends no commit
     * heartbeats of its own; its shard's heartbeat vouches for it (vsr_replica_heartbeat_entry)
     * and a backup's normal timeout restarts when the heartbeat of its primary's shard
     * arrives and that shard's latest entry for the group says it leads the current view.
     */
    bool heartbeat_shared;
    /*
     * The replica lost everything it held (a wiped node joining its cluster again, DESIGN.md
     * §10.10), or is resuming such a recovery: it may have acknowledged ops it no longer
     * holds, so it must not vote until it holds them again (research/vsr.md §1.5: a blank
     * replica would nack ops it once acked). It starts recovering_head (asks peers for a
     * start_view; sends no start_view_change, do_view_change or nack, counts no votes) and,
     * once a start_view made it normal, sends no prepare_ok and never starts a view change
     * (a silent primary sends it back to recovering_head). It leaves recovery when it has
     * executed through the recovery target: the head op of the first start_view it
     * installed, lowered to the head of a later one (ops above a later view's head were
     * truncated on a nack quorum that did not count this replica: never committed), and
     * is in a view at or past the first installed view + 2 (at 3 or more replicas:
     * vsr_replica_recovering_view_for): caught up below it, it raises its own view there
     * (persisted) and asks for it, which moves the others to it (it may have promised a
     * later view than the one that answered first before it lost its disk;
     * vsr_replica_recovering_check), and in none below the views n - q + 1 peers were in
     * after this start (q: the view-change quorum). That view's log was chosen without
     * this replica, so it holds every committed op this replica may have acked before it
     * lost them. Ignored at replica_count 1.
     */
    bool recovering;
};

/* Per-op knowledge (a ring slot: index = op mod (ops_max + 1)). */
struct vsr_entry {
    u128 checksum;         /* canonical checksum in the current log (valid if CANON) */
    u128 journal_checksum; /* what the journal durably holds, 0 if nothing known */
    uint8_t flags;         /* VSR_ENTRY_* */
};

enum {
    VSR_ENTRY_CANON = 1u << 0,   /* checksum is the current log's */
    VSR_ENTRY_HEADER = 1u << 1,  /* headers[op] is the canonical header */
    VSR_ENTRY_FAULTY = 1u << 2,  /* the journal's copy is damaged: never nack */
    VSR_ENTRY_WRITING = 1u << 3, /* a journal write of the canonical prepare is in flight */
};

struct vsr_client_session {
    u128 client;
    uint64_t session;        /* op that committed the client's register */
    uint64_t request;        /* highest executed request number */
    uint64_t commit_op;      /* op of its latest committed op (eviction order) */
    uint64_t timestamp;      /* log time of that op, ns (exactly-once TTL) */
    uint64_t request_floor;  /* exactly-once: numbers at or below, not in the window, too old */
    bool exactly_once;       /* opted in at register (DESIGN.md §10.11) */
    struct vsr_header reply; /* at-most-once: the reply of request */
    uint32_t reply_size_bytes;
};

/* One kept reply of an exactly-once session (request 0: a free slot). */
struct vsr_window_entry {
    uint64_t request;
    uint32_t reply_size_bytes;
    struct vsr_header reply;
};

struct vsr_timeout {
    uint64_t ticks;    /* base duration */
    uint64_t deadline; /* tick at which it fires; 0 = stopped */
};

struct vsr_replica_stats {
    uint64_t messages_invalid;
    uint64_t messages_other_group;
    uint64_t view_changes;
    uint64_t repairs_requested;
    uint64_t truncated_ops;
    uint64_t faulty_reads;
    uint64_t cut_canonical;      /* canonical prepares an own journal cut removed */
    uint64_t cached_replies;     /* duplicate requests answered with the kept reply */
    uint64_t checkpoints;        /* own checkpoints made durable */
    uint64_t state_transfers;    /* checkpoints installed from a peer */
    uint64_t window_full;        /* prepares refused: the ring holds no slot for them yet */
    uint64_t forced_recoveries;  /* operator commands that ended recovering_head */
    uint64_t messages_reentrant; /* messages dropped: delivered while the replica waited */
    uint64_t headers_learned;    /* canonical headers taken from headers messages */
    uint64_t repairs_deferred;   /* request_prepare answered from a tick (read could not wait) */
    uint64_t dvc_informing;      /* informing do_view_changes taken (recovering_head peers) */
    uint64_t dvc_partial_waits;  /* choices waited for: only partial logs had log_view_max */
    uint64_t records_taken;      /* prepares taken by state transfer (log_retained) */
    uint64_t records_served;     /* prepares served to a peer's state transfer */
    uint64_t journal_restarts;   /* journals begun again at a peer's first op (transfer) */
    uint64_t dvc_partial_marked; /* do_view_changes partial by log_dropped_op alone */
    uint64_t recoveries;         /* recoveries completed (config.recovering) */
    uint64_t recovery_raises;    /* caught up below recovering_view: raised its view there */
};

/* A peer's request_prepare whose journal read could not wait: answered from a tick. */
struct vsr_repair_serve {
    u128 checksum; /* 0: free slot */
    uint64_t op;
    uint8_t replica;
    bool record; /* request_records: any verified committed prepare at op */
};

enum vsr_transfer_stage {
    VSR_TRANSFER_IDLE = 0,
    VSR_TRANSFER_PULLING = 1,    /* asking a peer for the next chunk */
    VSR_TRANSFER_WRITING = 2,    /* a received chunk is being written */
    VSR_TRANSFER_PERSISTING = 3, /* complete: the superblock names it next */
    VSR_TRANSFER_RECORDS = 4,    /* log_retained: pulling the prepares up to its anchor */
};

enum { VSR_RECORDS_PENDING_MAX = 64 };

enum vsr_checkpoint_stage {
    VSR_CHECKPOINT_IDLE = 0,
    VSR_CHECKPOINT_WRITING = 1,    /* own snapshot being written */
    VSR_CHECKPOINT_PERSISTING = 2, /* written: the superblock names it next */
};

struct vsr_replica {
    struct vsr_replica_config config;
    struct vsr_journal journal;
    struct vsr_superblock superblock;
    struct vsr_state_machine state_machine;
    struct vsr_bus bus;
    const struct clock *clock;
    struct prng prng;

    enum vsr_status status;
    uint32_t view;
    uint32_t log_view;
    uint64_t op;          /* head */
    uint64_t commit_min;  /* executed */
    uint64_t commit_max;  /* known committed */
    uint64_t op_prefix;   /* ops (commit_min, op_prefix] are canonical and durable */
    uint64_t log_head_op; /* install point of log_view */
    uint64_t tick;
    uint64_t commit_tick;  /* primary: last tick commit_max advanced or the pipeline was empty */
    uint64_t primary_tick; /* tick this replica last became primary */
    uint64_t group_index;
    u128 root_checksum; /* op 0's prepare (the root of the hash chain) */

    /*
     * Checkpoints (DESIGN.md §4): checkpoint_op is the durable one (the superblock names
     * it) and the base of the ring; checkpoint_bytes holds its encoding (served to peers).
     * The next one is built in checkpoint_next (own snapshot or a peer's chunks).
     */
    uint64_t checkpoint_op;
    u128 checkpoint_checksum;
    uint64_t checkpoint_size_bytes;
    uint64_t checkpoint_size_max;
    uint8_t *checkpoint_bytes; /* checkpoint_size_max */
    uint8_t *checkpoint_next;  /* checkpoint_size_max */
    enum vsr_checkpoint_stage checkpoint_stage;
    uint64_t checkpoint_next_op;
    u128 checkpoint_next_checksum;
    uint64_t checkpoint_next_size_bytes;
    /* Highest durable checkpoint op each replica reported (prepare_ok, commit, views). */
    uint64_t peer_checkpoint_op[VSR_REPLICAS_MAX];
    /* Ops at or below are checkpointed durably on a replication quorum (the primary's
     * count, carried to backups in commits): the ring may reuse their slots. */
    uint64_t checkpoint_quorum_op;

    /* State transfer: pulling a peer's checkpoint in chunks. */
    enum vsr_transfer_stage transfer_stage;
    uint8_t transfer_peer;
    uint64_t transfer_op;
    u128 transfer_checksum;
    uint64_t transfer_size_bytes;
    uint64_t transfer_offset_bytes; /* bytes received and written */
    uint64_t transfer_tick;         /* last progress */
    uint64_t transfer_log_op_first; /* the lowest op the transfer peer's journal holds */
    /*
     * VSR_TRANSFER_RECORDS: the prepares (commit_min, transfer_op] are taken in op order,
     * each naming the previous as parent (records_parent), the last being the anchor
     * (records_anchor); taken ones wait in records_checksums (slot op % PENDING_MAX) until
     * the journal reports them durable (records_low: the lowest not yet reported).
     * When the peer's journal no longer holds commit_min + 1 (prefix truncation removed it
     * on every peer), the records start at the peer's first op instead (records_restart_op):
     * the journal restarts there, and that first record's parent is not checked (the chain
     * from it still has to end at the anchor).
     */
    uint64_t records_op;        /* next op to take */
    uint64_t records_low;       /* lowest taken op not yet reported durable */
    uint64_t records_requested; /* highest op asked for */
    u128 records_parent;        /* parent the prepare at records_op must name */
    u128 records_low_parent;    /* parent of the prepare at records_low */
    u128 records_anchor;        /* checksum of the prepare at transfer_op */
    uint64_t records_durable;   /* bit op % PENDING_MAX: taken op reported durable */
    u128 records_checksums[VSR_RECORDS_PENDING_MAX];
    uint64_t records_restart_op; /* 0, or the op the journal restarts at */
    /* The op its log_view's log reached when a journal restart dropped the ops above
     * commit_min (0: none since the last install): its do_view_changes say partial while
     * its op is below it. Durable (vsr_superblock_state.log_dropped_op) before the restart
     * drops them; restored by vsr_replica_recover. */
    uint64_t log_dropped_op;
    uint32_t records_silences; /* timeouts without a record taken, since the last one */
    uint64_t stall_ticks;      /* repair rounds since commit_min last moved */
    uint64_t stall_commit_min;

    struct vsr_superblock_state durable; /* last state known durable */
    struct vsr_superblock_state writing; /* state in flight */
    bool superblock_busy;
    /* The highest op the journal may hold an entry at: its op_max at recovery, raised by
     * every write started since, never lowered (vsr_replica_can_journal). */
    uint64_t journal_written_op_max;

    struct vsr_entry *entries;  /* ops_max + 1 ring slots */
    struct vsr_header *headers; /* ops_max + 1 canonical headers, ring slots */
    uint8_t *body_buffer;       /* body_size_max */
    uint8_t *reply_buffer;      /* reply_size_max */

    /* Primary: highest op acked (durable prefix) per replica in this view. */
    uint64_t ack_op[VSR_REPLICAS_MAX];
    uint64_t heard_tick[VSR_REPLICAS_MAX];

    /* View change. */
    uint32_t vote_view;    /* view the votes below are for */
    uint64_t votes;        /* replicas that sent start_view_change(vote_view) */
    bool voted;            /* this replica sent start_view_change(vote_view) */
    uint64_t dvc_present;  /* bit r: dvc_headers[r] holds r's message */
    uint64_t dvc_informed; /* bit r: ... r's informing message (recovering_head: no vote) */
    struct vsr_header dvc[VSR_REPLICAS_MAX];
    struct vsr_header *dvc_headers; /* replica_count * (pipeline_max + 1) */
    struct vsr_header *window;      /* pipeline_max + 1 scratch headers */

    struct vsr_client_session *sessions;     /* clients_max */
    uint8_t *reply_bodies;                   /* clients_max * reply_size_max */
    struct vsr_window_entry *window_entries; /* clients_max * exactly_once_window_max */
    uint8_t *window_bodies;                  /* one reply_size_max body per window entry */

    struct vsr_timeout timeout_heartbeat;   /* primary: send commit */
    struct vsr_timeout timeout_prepare;     /* primary: resend unacked prepares */
    struct vsr_timeout timeout_normal;      /* backup: primary silent -> vote */
    struct vsr_timeout timeout_view_change; /* view change stuck -> next view */
    struct vsr_timeout timeout_resend;      /* resend svc / dvc / request_start_view */
    struct vsr_timeout timeout_repair;

    /* Shared heartbeats: the latest entry for this group from a peer's shard. */
    bool vouch_known;
    bool vouch_leading;
    uint8_t vouch_peer;
    uint32_t vouch_view;
    uint32_t vouch_link; /* the heartbeat link it came through (vsr/heartbeat.h) */

    struct vsr_repair_serve serve[VSR_REPAIR_SERVE_MAX];
    uint32_t serve_count; /* used slots of serve: ticks skip the walk while it is 0 */
    uint32_t depth;       /* calls of on_message / tick on the stack (a wait may deliver more) */

    /* config.recovering until the replica has executed through recovering_op (known once
     * recovering_op_known: the head of the start_views it installed, the lowest) in a view
     * at or past recovering_view (known once recovering_view_known: the view of the first
     * start_view it installed + 2, or the view it raised itself to before a restart; see
     * vsr_replica_recovering_check). */
    bool recovering;
    bool recovering_op_known;
    bool recovering_view_known;
    uint64_t recovering_op;
    uint32_t recovering_view;
    /* While recovering: the peers heard since this start (bit i: replica i) and the highest
     * view each sent (its own at the time: vsr_replica_recovering_hear). */
    uint64_t recovering_heard;
    uint32_t recovering_heard_views[VSR_REPLICAS_MAX];

    struct vsr_replica_stats stats;
};

/*
 * Sets replica up (allocates every buffer from config limits) and recovers its state
 * from the journal and the superblock state `durable` (all zero for a new replica).
 * Returns 0, or -ENOMEM / -RUNNEL_ECONFIG. The interfaces are copied; clock must outlive.
 */
int vsr_replica_init(struct vsr_replica *replica, const struct vsr_replica_config *config,
                     const struct vsr_superblock_state *durable, const struct vsr_journal *journal,
                     const struct vsr_superblock *superblock,
                     const struct vsr_state_machine *state_machine, const struct vsr_bus *bus,
                     const struct clock *clock);

/* Frees what init allocated. */
void vsr_replica_deinit(struct vsr_replica *replica);

/* Delivers one message (untrusted: validated here, counted and dropped if bad). */
void vsr_replica_on_message(struct vsr_replica *replica, const struct vsr_header *header,
                            const void *body);

/*
 * A request this process built itself from memory it owns (a node's own writes to its
 * local replica), never bytes from a peer or a client socket: validated like
 * vsr_replica_on_message except that its body checksum is not computed nor checked (the
 * body crossed no boundary; the prepare's checksum covers it from here on). Seal such a
 * header with vsr_replica_request_seal_local.
 */
void vsr_replica_on_local_request(struct vsr_replica *replica, const struct vsr_header *header,
                                  const void *body);

/* Sets a local request's size for a body of body_size_bytes, checksum_body to 0 and its
 * header checksum: one pass over 256 bytes instead of the body. */
void vsr_replica_request_seal_local(struct vsr_header *header, uint32_t body_size_bytes);

/* Advances time by one tick (10 ms nominal): timeouts, repair, heartbeats. */
void vsr_replica_tick(struct vsr_replica *replica);

/* Logs one warn line (event vsr_group_state) with where the group stands: status, view,
 * op, commit_min/commit_max, durable prefix and the next op's entry; for operators when a
 * group makes no progress. */
void vsr_replica_log_state(const struct vsr_replica *replica, const char *where);

/* The journal finished writing the prepare (op, checksum): it is durable. */
void vsr_replica_on_journal_write(struct vsr_replica *replica, uint64_t op, u128 checksum);
/* The journal found op's entry damaged on its own (a read of its own, not the replica's):
 * the ring marks it faulty (never nacked, fetched again), as a faulty read would. */
void vsr_replica_on_journal_faulty(struct vsr_replica *replica, uint64_t op);
/* The journal cut its log at op_min on its own (it landed another prepare there): it holds
 * none of the prepares it reported at op_min and above any more. The ring forgets them
 * (journal_checksum 0); writes reported after this call are held again. A canonical
 * prepare among them (the cut replaced a damaged record it could not repair in place) may
 * have been acknowledged, or executed: it is marked faulty (never nacked) and repaired. */
void vsr_replica_on_journal_cut(struct vsr_replica *replica, uint64_t op_min);

/* The superblock write of replica->writing is durable. */
void vsr_replica_on_superblock_write(struct vsr_replica *replica);

/* The checkpoint store finished the write the replica started last. */
void vsr_replica_on_checkpoint_write(struct vsr_replica *replica);

/*
 * The operator's command for a group whose view-change quorum is recovering_head (DESIGN.md
 * §4): this replica leaves recovering_head and starts a view change with the log it holds,
 * nacking what it does not hold intact (damaged entries included), so the group can
 * proceed at the cost of possibly losing acknowledged ops. Returns 0, or -RUNNEL_ESTATE
 * when the replica is not recovering_head or recovers a lost state (config.recovering: it
 * holds nothing to offer).
 */
int vsr_replica_force_recovery(struct vsr_replica *replica);

/* The canonical header of op (within the ring window) when known, else NULL. */
const struct vsr_header *vsr_replica_header(const struct vsr_replica *replica, uint64_t op);

/* True when op's slot in the ring belongs to op now. */
bool vsr_replica_in_window(const struct vsr_replica *replica, uint64_t op);

/* Shared heartbeats (vsr/heartbeat.h). What this replica says in its shard's heartbeat:
 * leading (with commit, its checksum and the checkpoint quorum op) when it is the normal
 * primary of its view, the view is durable and it is not abdicating; else only the view. */
void vsr_replica_heartbeat_entry(const struct vsr_replica *replica,
                                 struct vsr_heartbeat_entry *entry);

/* An entry for this group in a heartbeat from peer's shard over link (untrusted: checked
 * here, counted and dropped when bad). A leading entry of the current view counts as a
 * commit heartbeat from the primary; any entry is kept as the group's vouch. */
void vsr_replica_on_heartbeat_entry(struct vsr_replica *replica, uint8_t peer, uint32_t link,
                                    const struct vsr_heartbeat_entry *entry);

/* A whole heartbeat round from peer's shard over link arrived. A normal backup whose
 * primary is peer restarts its normal timeout when the vouch it keeps from link says the
 * primary leads the current view. Returns true when it has no entry about its current
 * view from there (the sender should send every group again). */
bool vsr_replica_on_heartbeat(struct vsr_replica *replica, uint8_t peer, uint32_t link);

/* peer acknowledged this shard's heartbeat: it is heard (abdication, hand back). */
void vsr_replica_on_peer_alive(struct vsr_replica *replica, uint8_t peer);

/*
 * Prefix truncation of a log_retained group (DESIGN.md §4, issue 4 item 5): the highest op
 * whose records the group may delete, min(this replica's durable checkpoint, the op a
 * replication quorum (vsr_quorum_replication: 2 of 3, 3 of 5) has durably checkpointed,
 * this replica counted with its own and each peer with the highest it reported
 * (prepare_ok, do_view_change, start_view; 0 if never heard)). A replica whose durable
 * checkpoint is at op c never asks a peer for a record at or below c (repair starts above
 * its commit_min, a state transfer's records phase above it too), and every replica
 * deletes only at or below min(this op, its own checkpoint): so every view-change quorum
 * holds a replica with a checkpoint at or above the result and every record above it. A
 * replica below the result (lagging, down, restarted) may find what it lacks deleted on
 * its peers: it acks no further than its gap (prepare_ok names op_prefix), executes and
 * serves nothing past it, and catches up by state transfer (a peer's checkpoint, then the
 * records from that peer's first held op, vsr/replica_records.c). One replica down for
 * good does not stop deletion.
 */
uint64_t vsr_replica_log_removable_op(const struct vsr_replica *replica);

/* The durable checkpoint's state machine snapshot (inside checkpoint_bytes, valid until the
 * next checkpoint becomes durable) and its anchor header; false when there is none. */
bool vsr_replica_checkpoint_state(const struct vsr_replica *replica, const uint8_t **bytes_out,
                                  uint32_t *size_out, struct vsr_header *anchor_out);

/* True while the replica recovers what it lost (vsr_replica_config.recovering): it does
 * not vote. */
bool vsr_replica_is_recovering(const struct vsr_replica *replica);

/* Primary of view in this group: (view + group index) mod replica_count. */
uint8_t vsr_replica_primary_index(const struct vsr_replica *replica, uint32_t view);

/* True when this replica is normal and the primary of its view. */
bool vsr_replica_is_primary(const struct vsr_replica *replica);

/* The checksum of op 0 (the group's root prepare), the anchor of the hash chain. */
u128 vsr_replica_root_checksum(const struct vsr_replica *replica);

#endif
