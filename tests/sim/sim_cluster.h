/*
 * The deterministic cluster simulator: several VSR groups of 1..6 replicas on as many
 * machines, clients, the simulated network and journals, process crashes and restarts,
 * all decided by one seed. Checkers: one hash-chained committed history per group on every
 * replica, replies equal a model's, acknowledged requests are in the history exactly once
 * (no request number of a session is committed twice), timestamps and views never go
 * back, once faults heal the cluster converges; and what replicas say about their journal
 * holds: a prepare_ok acks only ops durable in it, a do_view_change never nacks an op it
 * holds (even damaged), no prepare sent has a damaged body, and every log ring slot holds
 * only what belongs to the op that maps to it now. Half the log_retained seeds delete their
 * journals' prefixes as runneld's retention does (below a checkpoint durable on a
 * replication quorum, checked), so laggards catch up by state transfer from later first ops.
 * Single thread; the run owns every buffer it allocates at init.
 */
#ifndef RUNNEL_TESTS_SIM_SIM_CLUSTER_H
#define RUNNEL_TESTS_SIM_SIM_CLUSTER_H

#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stdint.h>

struct sim_cluster;
struct vsr_replica;

/* A scenario's script: runs at the end of every tick of the fault phase. */
typedef void (*sim_script_callback)(struct sim_cluster *cluster, uint64_t tick, void *context);

/* Overrides for named scenarios; sim_cluster_run uses the seed alone. */
struct sim_options {
    bool shape_fixed; /* use the counts below instead of the seed's */
    uint32_t replica_count;
    uint32_t group_count;
    uint32_t client_count;
    bool faults_random;           /* loss, duplication, partitions, crashes, pauses, flips */
    int32_t send_only_machine;    /* -1, or a machine that receives nothing (it can send) */
    uint64_t send_only_from_tick; /* ... from this tick until the faults heal */
    uint64_t fault_ticks;         /* 0: from the seed */
    bool storage;                 /* journals on storage/partition + sim_disk (any size) */
    bool exactly_once_all;        /* every client opts in to exactly-once (else the seed's) */
    uint64_t session_ttl_ns;      /* exactly-once session TTL in log time; 0: none */
    bool durability_replicated;   /* groups ack before sync: see sim_cluster_crash_machine */
    uint64_t ring_ops;            /* 0: from the seed; else the ring capacity ... */
    uint64_t checkpoint_interval; /* ... and the checkpoint interval (0: none) */
    bool log_retained;            /* with ring_ops: journals keep every op (partition groups) */
    sim_script_callback script;   /* NULL: none */
    void *script_context;
};

struct sim_result {
    bool passed;
    char reason[256];
    uint64_t ticks;
    uint64_t commits;
    uint64_t view_changes;
    uint64_t crashes;
    uint64_t machine_crashes; /* of crashes: machine crashes (`replicated` runs) */
    uint64_t misdirected_writes;
    uint64_t clogs;
    uint64_t dropped_full;       /* packets dropped at a full link */
    uint64_t too_old;            /* exactly-once requests answered "request too old" */
    uint64_t cached_replies;     /* duplicate requests answered with their original reply */
    uint64_t checkpoints;        /* checkpoints made durable (every replica) */
    uint64_t state_transfers;    /* checkpoints installed from a peer */
    uint64_t headers_learned;    /* canonical headers taken from headers messages (repair) */
    bool wrapped;                /* some group's log went past its ring capacity */
    bool log_retained;           /* journals kept every op (vsr_replica_config.log_retained) */
    uint64_t messages_replica;   /* replica-to-replica messages sent, heartbeats included */
    uint64_t messages_heartbeat; /* of those: commit heartbeats, shared heartbeats and acks */
    uint32_t views_at_heal[6];   /* group 0's replica views when the faults healed */
    uint64_t wipes;              /* machines that lost everything (sim_cluster_wipe) */
    uint64_t prefix_ops_dropped; /* journal ops dropped by prefix truncation (every replica) */
    uint64_t journal_restarts;   /* journals a state transfer began again (every replica) */
    uint64_t marked_restarts;    /* replica restarts whose superblock's log_dropped_op was
                                  * above the op they recovered (the durable mark in force) */
    uint64_t dvc_partial_marked; /* do_view_changes partial by log_dropped_op alone */
};

/* Runs one seed to completion; result says whether every checker held. */
void sim_cluster_run(uint64_t seed, bool verbose, struct sim_result *result);

/* As sim_cluster_run, with a scenario's overrides (options may be NULL). */
void sim_cluster_run_options(uint64_t seed, const struct sim_options *options, bool verbose,
                             struct sim_result *result);

/* Groups send their own commit heartbeats (vsr_replica_config.heartbeat_shared false) in
 * the runs that follow; by default each machine's shared heartbeat vouches for them. */
void sim_cluster_heartbeats_per_group(bool per_group);

/* In the runs that follow, a random crash may wipe its machine instead (sim_cluster_wipe;
 * off by default: see docs/OPERATIONS.md "Replacing a node's disk" for what it finds). */
void sim_cluster_wipes(bool wipes);

/* In the --storage runs that follow, a bit flip of a faulty machine damages one of the
 * partition's segment logs on its simulated disk (sim_storage_flip); without it --storage
 * has no bit flips (the in-memory journal they would hit is unused there). Not in CI: a
 * flip in a record the replica must execute can stall it (docs/OPERATIONS.md, open). */
void sim_cluster_storage_flips(bool flips);
/* In the --storage runs that follow, faulty machines' disks misdirect writes to the
 * partition's segment logs and indexes (sim_storage_misdirect: another offset of the same
 * file, or another log or index), at the seed's misdirect rate per disk write. Off: every
 * seed replays as before. */
void sim_cluster_storage_misdirects(bool misdirects);

/* Replica-to-replica messages sent so far, and of those the heartbeats (commit messages,
 * shared heartbeats and their acks). */
void sim_cluster_messages(const struct sim_cluster *cluster, uint64_t *replica_out,
                          uint64_t *heartbeat_out);

/* Scenario actions (during the fault phase; healing undoes links and restarts machines). */
void sim_cluster_link_block(struct sim_cluster *cluster, uint32_t from, uint32_t to, bool blocked);
void sim_cluster_crash(struct sim_cluster *cluster, uint32_t machine, uint64_t restart_tick);
/* As sim_cluster_crash, as a machine crash: the replicas restart with boot_changed. */
void sim_cluster_crash_machine(struct sim_cluster *cluster, uint32_t machine,
                               uint64_t restart_tick);
/* Pauses machine until until_tick: it neither ticks nor receives (as SIGSTOP, messages to
 * it lost). */
void sim_cluster_pause(struct sim_cluster *cluster, uint32_t machine, uint64_t until_tick);
/* As sim_cluster_crash, and the machine loses everything it held (journals, superblocks):
 * it restarts with vsr_replica_config.recovering, again after each crash until the replica
 * says it caught up (a node's durable recovering marker). */
void sim_cluster_wipe(struct sim_cluster *cluster, uint32_t machine, uint64_t restart_tick);
/* True while group's replica on machine has not finished a recovery after a wipe. */
bool sim_cluster_is_recovering(const struct sim_cluster *cluster, uint32_t group, uint32_t machine);
/* The operator's command on group's replica on machine (vsr_replica_force_recovery). */
int sim_cluster_force_recovery(struct sim_cluster *cluster, uint32_t group, uint32_t machine);
/* Loses every reply (to clients) that machine sends, until the faults heal. */
void sim_cluster_replies_drop(struct sim_cluster *cluster, uint32_t machine, bool dropped);
/* Damages op's durable entry in one replica's journal; false when it holds none. */
bool sim_cluster_corrupt(struct sim_cluster *cluster, uint32_t group, uint32_t machine,
                         uint64_t op);
/* The replica of group on machine, or NULL while the machine is down. */
const struct vsr_replica *sim_cluster_replica(const struct sim_cluster *cluster, uint32_t group,
                                              uint32_t machine);
/* The highest op of group's committed history so far. */
uint64_t sim_cluster_committed_max(const struct sim_cluster *cluster, uint32_t group);
/* The checksum of op (<= sim_cluster_committed_max) in group's committed history. */
u128 sim_cluster_committed_checksum(const struct sim_cluster *cluster, uint32_t group, uint64_t op);
/* True when group's replica on machine has op's prepare with checksum intact in its journal. */
bool sim_cluster_journal_is_intact(const struct sim_cluster *cluster, uint32_t group,
                                   uint32_t machine, uint64_t op, u128 checksum);

#endif
