/*
 * The deterministic cluster simulator (see sim_cluster.h): set-up from a seed, the tick
 * loop, fault injection, clients and the checkers. Owns one static cluster (the simulator
 * is single-threaded); per-run buffers are allocated at set-up and freed at the end.
 */
#include "tests/sim/sim_cluster.h"

#include "lib/assert.h"
#include "lib/clock.h"
#include "lib/prng.h"
#include "tests/sim/sim_journal.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_storage.h"
#include "vsr/heartbeat.h"
#include "vsr/quorum.h"
#include "vsr/replica.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SIM_GROUPS_MAX = 3,             /* seeded runs */
    SIM_SCENARIO_GROUPS_MAX = 1000, /* a scenario's fixed shape */
    SIM_CLIENTS_MAX = 8,
    SIM_OPS_MAX = 400,
    SIM_PIPELINE = 8,
    SIM_KEYS = 8,
    SIM_REPLY_SIZE = 8,
    SIM_CLIENT_ENDPOINT = 1u << 20,
    SIM_MACHINE_ENDPOINT = 1u << 19,  /* + machine: its shared heartbeats (vsr/heartbeat.h) */
    SIM_HEARTBEAT_CHUNK_ENTRIES = 32, /* a chunk fits a packet */
    SIM_OPERATION_ADD = 200,
    SIM_REQUEST_TIMEOUT_TICKS = 40,
    SIM_CONVERGE_TICKS_MAX = 6000,
    SIM_CLIENT_REQUESTS_MAX = 30,
    SIM_SEQUENCE_MAX = 2 * SIM_CLIENT_REQUESTS_MAX + 2, /* exactly-once numbers skip some */
    SIM_WINDOW = 4,                                     /* exactly-once replies kept per client */
    SIM_INFLIGHT_MAX = 6, /* exactly-once requests in flight per client */
};

struct sim_state_machine {
    uint64_t values[SIM_KEYS];
    uint64_t restores;                  /* restores from a checkpoint so far */
    uint64_t restored_values[SIM_KEYS]; /* the state the latest restore installed */
    uint64_t replies[SIM_OPS_MAX + 1];
    bool applied[SIM_OPS_MAX + 1];
};

enum { SIM_STATE_SIZE = SIM_KEYS * 8 };

struct sim_slot {
    struct vsr_replica replica;
    struct sim_journal journal;
    struct sim_superblock superblock;
    struct sim_state_machine state_machine;
    struct sim_storage *storage; /* NULL: the in-memory journal */
    struct sim_cluster *cluster;
    uint32_t group;
    uint8_t index;
    bool up;
    uint64_t restart_tick;
    uint64_t checked_commit;
    uint64_t restores_checked; /* state machine restores already checked */
    bool boot_changed;         /* the next start follows a machine crash */
    bool forced;               /* the operator's command ran: it may nack what it holds damaged */
    bool recovering;           /* wiped: starts recovering until the replica says it is done */
    uint32_t view_sent_max;
    uint64_t ring_checked[3]; /* head, checkpoint and view + 1 at the last ring check */
    uint64_t checkpoint_max;  /* its highest durable checkpoint seen up (0 after a wipe) */
};

struct sim_check {
    u128 committed[SIM_OPS_MAX + 1];
    struct vsr_header headers[SIM_OPS_MAX + 1];
    uint64_t values_at[SIM_OPS_MAX + 1][SIM_KEYS]; /* the model's state after each op */
    uint64_t expected[SIM_OPS_MAX + 1];
    bool executed[SIM_OPS_MAX + 1];
    uint64_t committed_max;
    uint64_t values[SIM_KEYS];
    uint64_t last_request[SIM_CLIENTS_MAX];
    /* The exactly-once model (DESIGN.md §10.11), per client. */
    bool registered[SIM_CLIENTS_MAX];
    bool exactly_once[SIM_CLIENTS_MAX];
    uint64_t window[SIM_CLIENTS_MAX][SIM_WINDOW];
    uint64_t floor[SIM_CLIENTS_MAX];
    uint64_t removable_op; /* prefix truncation: the highest removable op a primary decided */
    /* Request numbers of each client's session already in the history. */
    bool committed_request[SIM_CLIENTS_MAX][SIM_SEQUENCE_MAX + 1];
};

/* An exactly-once request in flight. */
struct sim_request {
    bool used;
    uint64_t sequence;
    uint64_t sent_tick;
    struct vsr_header header;
    uint8_t body[2];
};

struct sim_client {
    u128 id;
    uint32_t group;
    bool inflight;
    uint64_t session; /* 0 until the register commits */
    uint64_t request; /* current request number, from 1 */
    uint64_t requests_total;
    uint64_t sent_tick;
    uint64_t next_tick;
    uint32_t view_hint;
    uint64_t reply_op[SIM_SEQUENCE_MAX + 1]; /* op of each acknowledged request */
    struct vsr_header header;
    uint8_t body[2];
    /* Exactly-once: several numbered requests in flight, then a logout. */
    bool exactly_once;
    uint32_t inflight_max;
    uint64_t sequence; /* last number used */
    uint64_t issued;   /* requests sent so far (request counts them for at-most-once) */
    struct sim_request requests[SIM_INFLIGHT_MAX];
    bool logging_out;
    bool logged_out;
    uint64_t too_old;
};

/* The heartbeat host of one machine (vsr/heartbeat.h): its replicas by group. */
struct sim_machine_host {
    struct sim_cluster *cluster;
    uint32_t machine;
};

struct sim_cluster {
    uint64_t seed;
    bool verbose;
    struct prng prng;
    uint64_t tick;
    struct clock_fake clock;
    struct sim_network network;
    uint32_t replica_count;
    uint32_t group_count;
    uint32_t client_count;
    uint64_t ring_ops;            /* each replica's log ring (and journal ring) capacity */
    uint64_t checkpoint_interval; /* 0: no checkpoints (the log ends at ring_ops) */
    bool log_retained;            /* journals keep the whole run (vsr_replica_config) */
    bool prefix_truncation;       /* log_retained: journals drop ops below checkpoints */
    uint64_t journal_ops;         /* each journal's ring: ring_ops, or the whole run */
    bool replicated;              /* durability `replicated`: crashes may be machine crashes */
    struct vsr_group *groups;     /* group_count */
    struct sim_slot (*slots)[VSR_REPLICAS_MAX]; /* group_count */
    struct sim_check *checks;                   /* group_count */
    struct sim_client clients[SIM_CLIENTS_MAX];
    bool faults;
    uint32_t crash_per_mille;
    uint32_t pause_per_mille;
    uint64_t paused_until[VSR_REPLICAS_MAX]; /* machine paused (no ticks, no input) until */
    uint32_t flip_per_mille;
    uint32_t misdirect_per_mille; /* faulty machines: a journal write lands on another op */
    uint32_t down_max;
    uint64_t faulty_machines;
    /* --wipes: a crash may instead wipe its machine (sim_cluster_wipe), once a run, decided
     * by its own PRNG so the seed's other faults stay what they were: only where the other
     * replicas keep intact journals (a damaged head elsewhere plus a wiped replica is a
     * quorum that may not vote: the operator's command, not this run's). */
    struct prng wipe_prng;
    bool wipes_allowed;
    bool replies_dropped[VSR_REPLICAS_MAX]; /* scenario: this machine's replies are lost */
    struct sim_result *result;
    struct sim_options options;
    bool heartbeat_shared; /* the machines' heartbeats vouch for their groups */
    struct vsr_heartbeat heartbeats[VSR_REPLICAS_MAX];
    struct sim_machine_host hosts[VSR_REPLICAS_MAX];
    uint64_t storage_flips;      /* --storage: bits flipped in segment logs (faulty machines) */
    uint64_t messages_replica;   /* replica-to-replica messages sent, heartbeats included */
    uint64_t messages_heartbeat; /* of those: commit heartbeats, shared heartbeats, acks */
};

static bool sim_heartbeats_per_group; /* runnel-sim --heartbeats-per-group */
static bool sim_wipes;                /* runnel-sim --wipes */
static bool sim_storage_flips;        /* runnel-sim --storage-flips */
static bool sim_storage_misdirects;   /* runnel-sim --storage-misdirect */

void sim_cluster_heartbeats_per_group(bool per_group)
{
    sim_heartbeats_per_group = per_group;
}

void sim_cluster_wipes(bool wipes)
{
    sim_wipes = wipes;
}

void sim_cluster_storage_flips(bool flips)
{
    sim_storage_flips = flips;
}

void sim_cluster_storage_misdirects(bool misdirects)
{
    sim_storage_misdirects = misdirects;
}

static struct sim_cluster sim_cluster;

static void sim_fail(struct sim_cluster *cluster, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void sim_fail(struct sim_cluster *cluster, const char *format, ...)
{
    assert(format != NULL);
    if (!cluster->result->passed) {
        return;
    }
    cluster->result->passed = false;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(cluster->result->reason, sizeof(cluster->result->reason), format, arguments);
    va_end(arguments);
    assert(cluster->result->reason[0] != 0);
}

/* The body a client sends for a request: fixed by (client, request) so the model knows it. */
static void sim_request_body(uint32_t client, uint64_t request, uint8_t body[2])
{
    uint64_t mixed = (request * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)client * 0xbf58476d1ce4e5b9ull);
    body[0] = (uint8_t)((mixed >> 20) % SIM_KEYS);
    body[1] = (uint8_t)(1 + (mixed >> 40) % 200);
    assert(body[0] < SIM_KEYS);
}

static uint32_t sim_state_machine_apply(const struct vsr_header *prepare, const void *body,
                                        void *reply_body, uint32_t reply_size_max, void *context)
{
    struct sim_state_machine *machine = context;
    const uint8_t *bytes = body;
    assert(reply_size_max >= SIM_REPLY_SIZE);
    assert(prepare->u.prepare.op <= SIM_OPS_MAX);
    uint64_t value = 0;
    if (prepare->size - VSR_HEADER_SIZE >= 2) {
        machine->values[bytes[0] % SIM_KEYS] += bytes[1];
        value = machine->values[bytes[0] % SIM_KEYS];
    }
    memcpy(reply_body, &value, sizeof(value));
    machine->replies[prepare->u.prepare.op] = value;
    machine->applied[prepare->u.prepare.op] = true;
    return SIM_REPLY_SIZE;
}

static uint32_t sim_state_machine_snapshot(void *buffer, uint32_t size_max, void *context)
{
    const struct sim_state_machine *machine = context;
    assert(size_max >= SIM_STATE_SIZE);
    memcpy(buffer, machine->values, sizeof(machine->values));
    return SIM_STATE_SIZE;
}

static int sim_state_machine_restore(const void *bytes, uint32_t size_bytes, void *context)
{
    struct sim_state_machine *machine = context;
    if (size_bytes != SIM_STATE_SIZE) {
        return -1;
    }
    memcpy(machine->values, bytes, sizeof(machine->values));
    memcpy(machine->restored_values, bytes, sizeof(machine->values));
    machine->restores++;
    return 0;
}

static void sim_state_machine_reset(void *context)
{
    struct sim_state_machine *machine = context;
    assert(machine != NULL);
    memset(machine, 0, sizeof(*machine));
}

static uint32_t sim_endpoint(uint32_t group, uint32_t replica)
{
    assert(group < SIM_SCENARIO_GROUPS_MAX);
    assert(replica < VSR_REPLICAS_MAX);
    return group * VSR_REPLICAS_MAX + replica;
}

/* The ring slot of op in replica's log (op within its window). */
static const struct vsr_entry *sim_entry(const struct vsr_replica *replica, uint64_t op)
{
    assert(vsr_replica_in_window(replica, op));
    return &replica->entries[op % (replica->config.ops_max + 1)];
}

/*
 * True when slot's journal durably holds op's prepare with checksum, a completed write,
 * perhaps damaged since: the in-memory journal's sim_journal_holds, or, on the partition
 * log, sim_storage_holds (what the partition made durable and the replica was told of, or
 * a restart recovered; a suffix truncation ends it).
 */
static bool sim_slot_holds(const struct sim_slot *slot, uint64_t op, u128 checksum)
{
    return slot->storage != NULL ? sim_storage_holds(slot->storage, op, checksum)
                                 : sim_journal_holds(&slot->journal, op, checksum);
}

/*
 * A prepare_ok acks the sender's prefix (commit_min, op]: every op of it must be durable in
 * its journal (a completed write), or a crash could lose an op a quorum counted.
 */
static void sim_check_ack(struct sim_cluster *cluster, const struct sim_slot *slot,
                          const struct vsr_header *header)
{
    const struct vsr_replica *replica = &slot->replica;
    uint64_t op = header->u.prepare_ok.op;
    uint64_t low =
        replica->commit_min > replica->checkpoint_op ? replica->commit_min : replica->checkpoint_op;
    assert(op <= replica->op);
    for (uint64_t acked = op; acked > low; acked--) {
        u128 checksum = acked == op ? header->u.prepare_ok.prepare_checksum
                                    : sim_entry(replica, acked)->checksum;
        if (checksum == 0 || !sim_slot_holds(slot, acked, checksum)) {
            sim_fail(cluster, "group %u replica %u: acked op %llu (prefix to %llu) not durable",
                     slot->group, slot->index, (unsigned long long)acked, (unsigned long long)op);
            return;
        }
    }
}

/*
 * A do_view_change nacks an op only when its sender never durably held it: a nack of an op
 * whose prepare (the one its own log names, or the committed one) its journal holds, even
 * damaged, could let a view change truncate an acknowledged op. Exempt after the
 * operator's command, which accepts that loss.
 */
static void sim_check_nacks(struct sim_cluster *cluster, const struct sim_slot *slot,
                            const struct vsr_header *header, const struct vsr_header *body)
{
    const struct vsr_header_do_view_change *dvc = &header->u.do_view_change;
    const struct sim_check *check = &cluster->checks[slot->group];
    uint64_t count = (header->size - VSR_HEADER_SIZE) / VSR_HEADER_SIZE;
    if (slot->forced) {
        return;
    }
    for (uint64_t index = 0; index < count && index < 128; index++) {
        uint64_t op = dvc->op - index;
        if (((dvc->nack_bitset >> index) & 1) == 0 || op == 0) {
            continue;
        }
        bool held = (body[index].checksum != 0 && sim_slot_holds(slot, op, body[index].checksum)) ||
                    (op <= check->committed_max && sim_slot_holds(slot, op, check->committed[op]));
        if (held) {
            sim_fail(cluster, "group %u replica %u: view %u nacks op %llu that its journal holds",
                     slot->group, slot->index, header->view, (unsigned long long)op);
            return;
        }
    }
}

/* What a replica sends about its journal must be true of its journal. */
static void sim_check_sent(struct sim_cluster *cluster, const struct sim_slot *slot,
                           const struct vsr_header *header, const void *body)
{
    if (header->command == VSR_COMMAND_PREPARE && !vsr_header_is_body_valid(header, body)) {
        sim_fail(cluster, "group %u replica %u: sent prepare %llu with a damaged body", slot->group,
                 slot->index, (unsigned long long)header->u.prepare.op);
    }
    bool votes = header->command == VSR_COMMAND_PREPARE_OK ||
                 header->command == VSR_COMMAND_START_VIEW_CHANGE ||
                 header->command == VSR_COMMAND_DO_VIEW_CHANGE;
    if (votes && vsr_replica_is_recovering(&slot->replica)) {
        sim_fail(cluster, "group %u replica %u: sent %s while recovering (view %u)", slot->group,
                 slot->index, vsr_command_name(header->command), header->view);
    }
    if (header->command == VSR_COMMAND_PREPARE_OK) {
        sim_check_ack(cluster, slot, header);
    } else if (header->command == VSR_COMMAND_DO_VIEW_CHANGE) {
        sim_check_nacks(cluster, slot, header, body);
    }
}

static void sim_bus_send(uint8_t target, const struct vsr_header *header, const void *body,
                         void *context)
{
    struct sim_slot *slot = context;
    struct sim_cluster *cluster = slot->cluster;
    assert(slot->up);
    assert(target < cluster->replica_count);
    uint8_t command = header->command;
    sim_check_sent(cluster, slot, header, body);
    cluster->messages_replica++;
    cluster->messages_heartbeat += command == VSR_COMMAND_COMMIT;
    if (command == VSR_COMMAND_DO_VIEW_CHANGE || command == VSR_COMMAND_START_VIEW ||
        command == VSR_COMMAND_PREPARE_OK || command == VSR_COMMAND_COMMIT) {
        if (header->view < slot->view_sent_max) {
            sim_fail(cluster, "group %u replica %u: view went back from %u to %u (%s)", slot->group,
                     slot->index, slot->view_sent_max, header->view, vsr_command_name(command));
        }
        slot->view_sent_max = header->view;
    }
    sim_network_send(&cluster->network, slot->index, target, sim_endpoint(slot->group, target),
                     header, body);
}

static void sim_bus_reply(u128 client, const struct vsr_header *header, const void *body,
                          void *context)
{
    struct sim_slot *slot = context;
    struct sim_cluster *cluster = slot->cluster;
    assert(client >= 1 && client <= cluster->client_count);
    assert(header->command == VSR_COMMAND_REPLY || header->command == VSR_COMMAND_EVICTION);
    if (cluster->replies_dropped[slot->index]) {
        return;
    }
    sim_network_send(&cluster->network, slot->index, -1,
                     SIM_CLIENT_ENDPOINT + (uint32_t)(client - 1), header, body);
}

static void sim_journal_written(uint64_t op, u128 checksum, void *context)
{
    struct sim_slot *slot = context;
    assert(slot->up);
    vsr_replica_on_journal_write(&slot->replica, op, checksum);
}

static void sim_superblock_written(void *context)
{
    struct sim_slot *slot = context;
    assert(slot->up);
    vsr_replica_on_superblock_write(&slot->replica);
}

static void sim_checkpoint_written(void *context)
{
    struct sim_slot *slot = context;
    assert(slot->up);
    vsr_replica_on_checkpoint_write(&slot->replica);
}

static void sim_slot_start(struct sim_cluster *cluster, struct sim_slot *slot)
{
    assert(!slot->up);
    struct vsr_replica_config config = {
        .cluster = 0x5eed,
        .group = cluster->groups[slot->group],
        .replica = slot->index,
        .replica_count = (uint8_t)cluster->replica_count,
        .pipeline_max = SIM_PIPELINE,
        .ops_max = cluster->ring_ops,
        .checkpoint_interval = cluster->checkpoint_interval,
        .log_retained = cluster->log_retained,
        .state_size_max = SIM_STATE_SIZE,
        .body_size_max = SIM_BODY_SIZE_MAX,
        .reply_size_max = SIM_REPLY_SIZE,
        .clients_max = SIM_CLIENTS_MAX,
        .exactly_once_window_max = SIM_WINDOW,
        .session_ttl_ns = cluster->options.session_ttl_ns,
        .durability_replicated = cluster->replicated,
        .boot_changed = slot->boot_changed,
        .heartbeat_shared = cluster->heartbeat_shared,
        .recovering = slot->recovering,
        .seed = prng_u64(&cluster->prng),
    };
    struct vsr_journal journal = sim_journal_interface(&slot->journal);
    if (slot->storage != NULL) {
        int opened = sim_storage_open(slot->storage, &journal);
        assert(opened == 0);
    }
    struct vsr_superblock superblock = sim_superblock_interface(&slot->superblock);
    struct vsr_state_machine machine = {
        .apply = sim_state_machine_apply,
        .reset = sim_state_machine_reset,
        .context = &slot->state_machine,
        .snapshot = sim_state_machine_snapshot,
        .restore = sim_state_machine_restore,
    };
    struct vsr_bus bus = {.send = sim_bus_send, .reply = sim_bus_reply, .context = slot};
    slot->up = true;
    slot->checked_commit = 0;
    slot->restores_checked = 0;
    memset(slot->ring_checked, 0, sizeof(slot->ring_checked));
    slot->boot_changed = false;
    int result = vsr_replica_init(&slot->replica, &config, &slot->superblock.durable, &journal,
                                  &superblock, &machine, &bus, &cluster->clock.clock);
    assert(result == 0);
    cluster->result->marked_restarts += slot->replica.log_dropped_op > slot->replica.op ? 1 : 0;
    if (slot->storage != NULL) {
        sim_storage_attach(slot->storage, &slot->replica);
    }
}

/* Adds a replica's counters to the run's (before it stops). */
static void sim_slot_stats(struct sim_cluster *cluster, const struct sim_slot *slot)
{
    const struct vsr_replica_stats *stats = &slot->replica.stats;
    assert(slot->up);
    cluster->result->view_changes += stats->view_changes;
    cluster->result->cached_replies += stats->cached_replies;
    cluster->result->checkpoints += stats->checkpoints;
    cluster->result->state_transfers += stats->state_transfers;
    cluster->result->headers_learned += stats->headers_learned;
    cluster->result->journal_restarts += stats->journal_restarts;
    cluster->result->dvc_partial_marked += stats->dvc_partial_marked;
}

static void sim_slot_crash(struct sim_cluster *cluster, struct sim_slot *slot)
{
    assert(slot->up);
    sim_slot_stats(cluster, slot);
    sim_journal_crash(&slot->journal);
    if (slot->storage != NULL) {
        sim_storage_crash(slot->storage, (enum sim_disk_crash_mode)prng_range(&cluster->prng, 3));
    }
    sim_superblock_crash(&slot->superblock);
    vsr_replica_deinit(&slot->replica);
    slot->up = false;
}

static struct vsr_replica *sim_host_replica_at(uint32_t slot, void *context)
{
    const struct sim_machine_host *host = context;
    assert(slot < host->cluster->group_count);
    struct sim_slot *entry = &host->cluster->slots[slot][host->machine];
    return entry->up ? &entry->replica : NULL;
}

static int32_t sim_host_find(const struct vsr_group *group, void *context)
{
    const struct sim_machine_host *host = context;
    uint32_t index = group->kind == VSR_GROUP_KIND_PARTITION ? group->partition_id : 0;
    if (index < host->cluster->group_count &&
        vsr_group_is_equal(group, &host->cluster->groups[index])) {
        return (int32_t)index;
    }
    return -1;
}

static bool sim_host_send(uint32_t link, const struct vsr_header *header, const void *body,
                          void *context)
{
    const struct sim_machine_host *host = context;
    struct sim_cluster *cluster = host->cluster;
    assert(link < cluster->replica_count && link != host->machine);
    cluster->messages_replica++;
    cluster->messages_heartbeat++;
    sim_network_send(&cluster->network, (int32_t)host->machine, (int32_t)link,
                     SIM_MACHINE_ENDPOINT + link, header, body);
    return true;
}

static struct vsr_heartbeat_host sim_heartbeat_host(struct sim_cluster *cluster, uint32_t machine)
{
    assert(machine < cluster->replica_count);
    cluster->hosts[machine].cluster = cluster;
    cluster->hosts[machine].machine = machine;
    struct vsr_heartbeat_host host = {.replica_at = sim_host_replica_at,
                                      .find = sim_host_find,
                                      .send = sim_host_send,
                                      .context = &cluster->hosts[machine]};
    return host;
}

/* A machine (re)starts: its heartbeats begin a new epoch. */
static void sim_machine_heartbeat_start(struct sim_cluster *cluster, uint32_t machine)
{
    struct vsr_heartbeat *heartbeat = &cluster->heartbeats[machine];
    if (!cluster->heartbeat_shared) {
        return;
    }
    if (heartbeat->slots != NULL) {
        vsr_heartbeat_deinit(heartbeat);
    }
    int result = vsr_heartbeat_init(heartbeat, 0x5eed, (uint8_t)machine, 0, cluster->group_count,
                                    cluster->replica_count, prng_u64(&cluster->prng) | 1,
                                    SIM_HEARTBEAT_CHUNK_ENTRIES);
    assert(result == 0);
    for (uint32_t peer = 0; peer < cluster->replica_count; peer++) {
        if (peer != machine) {
            vsr_heartbeat_link_set(heartbeat, peer, (uint8_t)peer, 0);
        }
    }
}

static int sim_setup_slots(struct sim_cluster *cluster)
{
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            struct sim_slot *slot = &cluster->slots[group][index];
            memset(slot, 0, sizeof(*slot));
            slot->cluster = cluster;
            slot->group = group;
            slot->index = (uint8_t)index;
            int result = sim_journal_init(&slot->journal, cluster->journal_ops, &cluster->prng,
                                          &cluster->tick);
            if (result != 0) {
                return result;
            }
            slot->journal.callback = sim_journal_written;
            slot->journal.callback_context = slot;
            slot->journal.faults = ((cluster->faulty_machines >> index) & 1) != 0;
            slot->journal.misdirect_per_mille = cluster->misdirect_per_mille;
            sim_superblock_init(&slot->superblock, &cluster->prng, &cluster->tick);
            if (cluster->options.storage) {
                slot->storage = calloc(1, sizeof(*slot->storage));
                if (slot->storage == NULL) {
                    return -ENOMEM;
                }
                result = sim_storage_init(slot->storage, prng_u64(&cluster->prng),
                                          &cluster->groups[group], 0x5eed, cluster->journal_ops);
                if (result != 0) {
                    return result;
                }
                /* The in-memory journal's rate, per disk write instead of per prepare;
                 * faulty machines only (fewer than a replication quorum). */
                if (sim_storage_misdirects && slot->journal.faults) {
                    sim_storage_misdirect(slot->storage, cluster->misdirect_per_mille * 1000);
                }
            }
            slot->superblock.callback = sim_superblock_written;
            slot->superblock.checkpoint_callback = sim_checkpoint_written;
            slot->superblock.callback_context = slot;
        }
    }
    cluster->heartbeat_shared = cluster->replica_count > 1 && !sim_heartbeats_per_group;
    for (uint32_t index = 0; index < cluster->replica_count; index++) {
        sim_machine_heartbeat_start(cluster, index);
    }
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            sim_slot_start(cluster, &cluster->slots[group][index]);
        }
    }
    return 0;
}

/*
 * The log ring: most seeds checkpoint every 4..24 ops into a ring a little larger than a
 * checkpoint interval plus the pipeline, so logs wrap many times a run; one in five keeps
 * the whole run in the ring without checkpoints. --storage runs keep the partition log
 * whole (no checkpoints: the partition log has no rebase onto a transferred checkpoint).
 * Drawn from their own PRNG so the seed's cluster and faults stay what they were.
 */
static void sim_setup_ring(struct sim_cluster *cluster)
{
    struct prng prng;
    prng_init(&prng, cluster->seed ^ 0x72696e67ull);
    cluster->ring_ops = SIM_OPS_MAX;
    cluster->checkpoint_interval = 0;
    if (!cluster->options.storage && !prng_percent(&prng, 20)) {
        cluster->checkpoint_interval = prng_between(&prng, 4, 24);
        cluster->ring_ops =
            cluster->checkpoint_interval + SIM_PIPELINE + 1 + prng_between(&prng, 0, 24);
    }
    if (cluster->options.ring_ops != 0) {
        cluster->ring_ops = cluster->options.ring_ops;
        cluster->checkpoint_interval = cluster->options.checkpoint_interval;
    }
    cluster->replicated = cluster->options.durability_replicated ||
                          (cluster->options.faults_random && !cluster->options.storage &&
                           cluster->replica_count >= 3 && prng_percent(&prng, 40));
    /* One in three checkpointing seeds runs as runneld's partition groups do: journals keep
     * every op (the whole run); laggards within reach repair from below their peers'
     * rings, those below them take a checkpoint and the prepares up to it (state
     * transfer with records). Scenarios that set the ring choose. */
    cluster->log_retained = cluster->options.ring_ops == 0 && cluster->checkpoint_interval > 0 &&
                            prng_percent(&prng, 33);
    cluster->log_retained |= cluster->options.ring_ops != 0 && cluster->options.log_retained;
    cluster->journal_ops = cluster->log_retained ? SIM_OPS_MAX : cluster->ring_ops;
    cluster->result->log_retained = cluster->log_retained;
    /* Half of those delete their prefix as runneld's retention does (sim_prefix_tick), from
     * a PRNG of their own (the rest of the seed stays what it was). */
    struct prng truncation;
    prng_init(&truncation, cluster->seed ^ 0x7472756eull);
    cluster->prefix_truncation =
        cluster->log_retained && cluster->options.ring_ops == 0 && prng_percent(&truncation, 50);
}

/* --wipes: whether this run's crashes may wipe (from the wipes' own PRNG). */
static void sim_setup_wipes(struct sim_cluster *cluster)
{
    prng_init(&cluster->wipe_prng, cluster->seed ^ 0x77697065ull);
    cluster->wipes_allowed =
        sim_wipes && cluster->options.faults_random && !cluster->options.storage &&
        !cluster->replicated && cluster->replica_count >= 3 &&
        vsr_quorum_count(cluster->faulty_machines) <= 1 && prng_percent(&cluster->wipe_prng, 60);
}

/* Chooses the cluster shape and fault rates from the seed. */
static void sim_setup_shape(struct sim_cluster *cluster)
{
    struct prng *prng = &cluster->prng;
    cluster->replica_count = (uint32_t)prng_between(prng, 1, VSR_REPLICAS_MAX);
    cluster->group_count = (uint32_t)prng_between(prng, 1, SIM_GROUPS_MAX);
    cluster->client_count = (uint32_t)prng_between(prng, 1, SIM_CLIENTS_MAX);
    if (cluster->options.shape_fixed) {
        cluster->replica_count = cluster->options.replica_count;
        cluster->group_count = cluster->options.group_count;
        cluster->client_count = cluster->options.client_count;
    }
    assert(cluster->replica_count >= 1 && cluster->replica_count <= VSR_REPLICAS_MAX);
    assert(cluster->group_count >= 1 && cluster->group_count <= SIM_SCENARIO_GROUPS_MAX);
    cluster->groups = calloc(cluster->group_count, sizeof(cluster->groups[0]));
    cluster->slots = calloc(cluster->group_count, sizeof(cluster->slots[0]));
    cluster->checks = calloc(cluster->group_count, sizeof(cluster->checks[0]));
    assert(cluster->groups != NULL && cluster->slots != NULL && cluster->checks != NULL);
    sim_network_reset(&cluster->network, cluster->replica_count);
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        struct vsr_group *identity = &cluster->groups[group];
        memset(identity, 0, sizeof(*identity));
        if (group > 0) {
            identity->kind = VSR_GROUP_KIND_PARTITION;
            identity->stream_id = 1;
            identity->topic_id = 1;
            identity->partition_id = group;
            identity->incarnation = 7;
        }
    }
    struct sim_network_faults *faults = &cluster->network.faults;
    faults->loss_percent = (uint32_t)prng_between(prng, 0, 20);
    faults->duplicate_percent = (uint32_t)prng_between(prng, 0, 20);
    faults->delay_ticks_max = (uint32_t)prng_between(prng, 1, 20);
    faults->partition_per_mille = (uint32_t)prng_between(prng, 0, 10);
    faults->heal_per_mille = (uint32_t)prng_between(prng, 5, 50);
    cluster->crash_per_mille = (uint32_t)prng_between(prng, 0, 8);
    cluster->flip_per_mille = (uint32_t)prng_between(prng, 0, 20);
    cluster->pause_per_mille = (uint32_t)prng_between(prng, 0, 4);
    faults->clog_per_mille = (uint32_t)prng_between(prng, 0, 20);
    faults->clog_ticks_mean = (uint32_t)prng_between(prng, 5, 100);
    faults->link_capacity = prng_percent(prng, 50) ? 0 : (uint32_t)prng_between(prng, 16, 128);
    cluster->misdirect_per_mille = (uint32_t)prng_between(prng, 0, 30);
    if (!cluster->options.faults_random) {
        memset(faults, 0, sizeof(*faults));
        cluster->misdirect_per_mille = 0;
        faults->delay_ticks_max = 3;
        cluster->crash_per_mille = 0;
        cluster->flip_per_mille = 0;
        cluster->pause_per_mille = 0;
    }
    sim_setup_ring(cluster);
    uint32_t replication = vsr_quorum_replication(cluster->replica_count);
    uint32_t view_change = vsr_quorum_view_change(cluster->replica_count);
    cluster->down_max = cluster->replica_count - view_change;
    if (cluster->down_max == 0) {
        cluster->down_max = 1; /* n = 1, 2: a crash stops the group until the restart */
    }
    cluster->faulty_machines = 0;
    if (cluster->replica_count >= 3) {
        for (uint32_t round = 0; round < 16; round++) {
            if (vsr_quorum_count(cluster->faulty_machines) + 1 >= replication) {
                break;
            }
            cluster->faulty_machines |= 1ull << prng_range(prng, cluster->replica_count);
        }
    }
    if (cluster->replicated && cluster->options.faults_random) {
        /* Machine crashes instead: no damage-made recovering_head on top of theirs. */
        cluster->faulty_machines = 0;
    }
    sim_setup_wipes(cluster);
}

static void sim_setup_clients(struct sim_cluster *cluster)
{
    for (uint32_t index = 0; index < cluster->client_count; index++) {
        struct sim_client *client = &cluster->clients[index];
        memset(client, 0, sizeof(*client));
        client->id = index + 1;
        client->group = (uint32_t)prng_range(&cluster->prng, cluster->group_count);
        client->requests_total = prng_between(&cluster->prng, 5, SIM_CLIENT_REQUESTS_MAX);
        client->next_tick = prng_between(&cluster->prng, 1, 50);
        client->exactly_once = prng_percent(&cluster->prng, 50);
        client->inflight_max = (uint32_t)prng_between(&cluster->prng, 1, SIM_INFLIGHT_MAX);
        if (cluster->options.exactly_once_all) {
            client->exactly_once = true;
        }
    }
    assert(cluster->client_count * SIM_CLIENT_REQUESTS_MAX < SIM_OPS_MAX);
}

static void sim_client_send_message(struct sim_cluster *cluster, struct sim_client *client,
                                    const struct vsr_header *header, const void *body, bool all)
{
    uint32_t count = cluster->replica_count;
    uint64_t group_index = vsr_group_index(&cluster->groups[client->group]);
    uint32_t primary = (uint32_t)((client->view_hint + group_index) % count);
    assert(header->command == VSR_COMMAND_REQUEST);
    for (uint32_t target = 0; target < count; target++) {
        if (all || target == primary) {
            sim_network_send(&cluster->network, -1, (int32_t)target,
                             sim_endpoint(client->group, target), header, body);
        }
    }
}

static void sim_client_send(struct sim_cluster *cluster, struct sim_client *client, bool all)
{
    assert(client->inflight);
    sim_client_send_message(cluster, client, &client->header, client->body, all);
    client->sent_tick = cluster->tick;
}

/* Exactly-once: true when nothing is in flight and every request was answered. */
static bool sim_client_is_idle(const struct sim_client *client)
{
    assert(client->exactly_once);
    for (uint32_t index = 0; index < SIM_INFLIGHT_MAX; index++) {
        if (client->requests[index].used) {
            return false;
        }
    }
    return !client->inflight;
}

/* Exactly-once: resends what timed out, numbers new requests, logs out at the end. */
static void sim_client_tick_exactly_once(struct sim_cluster *cluster, struct sim_client *client)
{
    uint32_t used = 0;
    for (uint32_t index = 0; index < SIM_INFLIGHT_MAX; index++) {
        struct sim_request *request = &client->requests[index];
        if (request->used && cluster->tick - request->sent_tick >= SIM_REQUEST_TIMEOUT_TICKS) {
            sim_client_send_message(cluster, client, &request->header, request->body, true);
            request->sent_tick = cluster->tick;
        }
        used += request->used;
    }
    if (client->issued >= client->requests_total) {
        if (sim_client_is_idle(client) && !client->logged_out) {
            struct vsr_header *header = &client->header;
            vsr_header_init(header, VSR_COMMAND_REQUEST, 0x5eed, client->view_hint, 0,
                            &cluster->groups[client->group]);
            header->u.request.client = client->id;
            header->u.request.session = client->session;
            header->u.request.request = ++client->sequence;
            header->u.request.operation = VSR_OPERATION_LOGOUT;
            vsr_header_seal(header, NULL, 0);
            client->inflight = true;
            client->logging_out = true;
            sim_client_send(cluster, client, false);
        }
        return;
    }
    if (used >= client->inflight_max || cluster->tick < client->next_tick) {
        return;
    }
    struct sim_request *request = NULL;
    for (uint32_t index = 0; index < SIM_INFLIGHT_MAX && request == NULL; index++) {
        request = client->requests[index].used ? NULL : &client->requests[index];
    }
    assert(request != NULL);
    client->sequence += prng_between(&cluster->prng, 1, 2); /* gaps: other partitions */
    client->issued++;
    request->used = true;
    request->sequence = client->sequence;
    request->sent_tick = cluster->tick;
    sim_request_body((uint32_t)(client->id - 1), request->sequence, request->body);
    struct vsr_header *header = &request->header;
    vsr_header_init(header, VSR_COMMAND_REQUEST, 0x5eed, client->view_hint, 0,
                    &cluster->groups[client->group]);
    header->u.request.client = client->id;
    header->u.request.session = client->session;
    header->u.request.request = request->sequence;
    header->u.request.operation = SIM_OPERATION_ADD;
    vsr_header_seal(header, request->body, sizeof(request->body));
    sim_client_send_message(cluster, client, header, request->body, false);
    client->next_tick = cluster->tick + prng_range(&cluster->prng, 5);
}

static void sim_client_tick(struct sim_cluster *cluster, struct sim_client *client)
{
    if (client->exactly_once && client->session != 0) {
        if (client->inflight && cluster->tick - client->sent_tick >= SIM_REQUEST_TIMEOUT_TICKS) {
            sim_client_send(cluster, client, true);
        }
        if (!client->logging_out) {
            sim_client_tick_exactly_once(cluster, client);
        }
        return;
    }
    if (client->inflight) {
        if (cluster->tick - client->sent_tick >= SIM_REQUEST_TIMEOUT_TICKS) {
            sim_client_send(cluster, client, true);
        }
        return;
    }
    if (client->request >= client->requests_total || cluster->tick < client->next_tick) {
        return;
    }
    struct vsr_header *header = &client->header;
    vsr_header_init(header, VSR_COMMAND_REQUEST, 0x5eed, client->view_hint, 0,
                    &cluster->groups[client->group]);
    header->u.request.client = client->id;
    client->inflight = true;
    if (client->session == 0) {
        header->u.request.operation = VSR_OPERATION_REGISTER;
        header->u.request.flags = client->exactly_once ? VSR_REQUEST_FLAG_EXACTLY_ONCE : 0;
        vsr_header_seal(header, NULL, 0);
        sim_client_send(cluster, client, false);
        return;
    }
    client->request++;
    uint32_t index = (uint32_t)(client->id - 1);
    sim_request_body(index, client->request, client->body);
    header->u.request.session = client->session;
    header->u.request.request = client->request;
    header->u.request.operation = SIM_OPERATION_ADD;
    vsr_header_seal(header, client->body, sizeof(client->body));
    sim_client_send(cluster, client, false);
}

/* A register's reply: the session is the op that committed it. */
static void sim_client_on_register(struct sim_cluster *cluster, struct sim_client *client,
                                   const struct vsr_header *header)
{
    const struct sim_check *check = &cluster->checks[client->group];
    uint64_t op = header->u.reply.op;
    assert(header->u.reply.operation == VSR_OPERATION_REGISTER);
    if (op == 0 || op > check->committed_max || check->headers[op].u.prepare.client != client->id ||
        check->headers[op].u.prepare.operation != VSR_OPERATION_REGISTER) {
        sim_fail(cluster, "client %llu: register reply for op %llu not in the history",
                 (unsigned long long)client->id, (unsigned long long)op);
        return;
    }
    if (client->session != 0 && client->session != op) {
        sim_fail(cluster, "client %llu: registered twice (sessions %llu and %llu)",
                 (unsigned long long)client->id, (unsigned long long)client->session,
                 (unsigned long long)op);
        return;
    }
    if (client->inflight && client->session == 0) {
        client->session = op;
        client->inflight = false;
        client->view_hint = header->view;
    }
}

/* Exactly-once: the request numbered sequence is answered (no longer in flight). */
static void sim_client_request_done(struct sim_client *client, uint64_t sequence)
{
    assert(client->exactly_once);
    assert(sequence != 0);
    for (uint32_t index = 0; index < SIM_INFLIGHT_MAX; index++) {
        if (client->requests[index].used && client->requests[index].sequence == sequence) {
            client->requests[index].used = false;
        }
    }
}

/* True when the model's window of client holds sequence (its reply is kept). */
static bool sim_model_window_has(const struct sim_check *check, uint32_t client, uint64_t sequence)
{
    assert(client < SIM_CLIENTS_MAX);
    assert(sequence != 0);
    for (uint32_t index = 0; index < SIM_WINDOW; index++) {
        if (check->window[client][index] == sequence) {
            return true;
        }
    }
    return false;
}

/*
 * "Request too old": right only for a number the group no longer keeps a reply for (a
 * number in the model's window must get its original reply); the request ends unacked.
 */
static void sim_client_on_too_old(struct sim_cluster *cluster, struct sim_client *client,
                                  const struct vsr_header *header)
{
    const struct sim_check *check = &cluster->checks[client->group];
    uint64_t sequence = header->u.reply.request;
    uint32_t index = (uint32_t)(client->id - 1);
    bool waiting = false;
    for (uint32_t slot = 0; slot < SIM_INFLIGHT_MAX; slot++) {
        waiting |= client->requests[slot].used && client->requests[slot].sequence == sequence;
    }
    if (!client->exactly_once || header->size != VSR_HEADER_SIZE ||
        (waiting &&
         (sim_model_window_has(check, index, sequence) || sequence > check->floor[index]))) {
        sim_fail(cluster, "client %u: request %llu called too old (floor %llu)", index,
                 (unsigned long long)sequence, (unsigned long long)check->floor[index]);
        return;
    }
    if (waiting) {
        client->too_old++; /* answered: never executed, and never will be */
        sim_client_request_done(client, sequence);
    }
}

static void sim_client_on_reply(struct sim_cluster *cluster, uint32_t index,
                                const struct vsr_header *header, const void *body)
{
    assert(index < cluster->client_count);
    struct sim_client *client = &cluster->clients[index];
    const struct vsr_header_reply *reply = &header->u.reply;
    if (!vsr_header_is_checksum_valid(header) ||
        (header->command != VSR_COMMAND_REPLY && header->command != VSR_COMMAND_EVICTION) ||
        !vsr_header_is_body_valid(header, body)) {
        sim_fail(cluster, "client %u: damaged reply", index);
        return;
    }
    if (client->logged_out ||
        (header->command == VSR_COMMAND_EVICTION && header->view < client->view_hint)) {
        return; /* a stale copy after the logout, or from a primary of an older view */
    }
    if (client->logging_out &&
        ((header->command == VSR_COMMAND_EVICTION &&
          header->u.eviction.reason == VSR_EVICTION_NO_SESSION) ||
         (header->command == VSR_COMMAND_REPLY && reply->operation == VSR_OPERATION_LOGOUT))) {
        client->logged_out = true; /* an eviction: the logout ran, its reply was lost */
        client->inflight = false;
        return;
    }
    if (header->command == VSR_COMMAND_EVICTION) {
        sim_fail(cluster, "client %u evicted (reason %u) with a table for every client", index,
                 header->u.eviction.reason);
        return;
    }
    struct sim_check *check = &cluster->checks[client->group];
    if (reply->operation == VSR_OPERATION_REGISTER) {
        sim_client_on_register(cluster, client, header);
        return;
    }
    if (reply->status == VSR_REPLY_STATUS_REQUEST_TOO_OLD) {
        sim_client_on_too_old(cluster, client, header);
        return;
    }
    uint64_t value = 0;
    memcpy(&value, body, sizeof(value));
    if (reply->op == 0 || reply->op > check->committed_max) {
        sim_fail(cluster, "client %u: reply for op %llu beyond the committed history", index,
                 (unsigned long long)reply->op);
        return;
    }
    const struct vsr_header *committed = &check->headers[reply->op];
    if (committed->u.prepare.client != client->id ||
        committed->u.prepare.request != reply->request || !check->executed[reply->op] ||
        check->expected[reply->op] != value) {
        sim_fail(cluster, "client %u: reply to request %llu (op %llu) differs from the model",
                 index, (unsigned long long)reply->request, (unsigned long long)reply->op);
        return;
    }
    if (reply->request <= SIM_SEQUENCE_MAX && client->reply_op[reply->request] != 0 &&
        client->reply_op[reply->request] != reply->op) {
        sim_fail(cluster, "client %u: request %llu executed twice (ops %llu and %llu)", index,
                 (unsigned long long)reply->request,
                 (unsigned long long)client->reply_op[reply->request],
                 (unsigned long long)reply->op);
        return;
    }
    if (reply->request <= SIM_SEQUENCE_MAX) {
        client->reply_op[reply->request] = reply->op;
    }
    if (client->exactly_once) {
        sim_client_request_done(client, reply->request);
        client->view_hint = header->view > client->view_hint ? header->view : client->view_hint;
    } else if (client->inflight && reply->request == client->request) {
        client->inflight = false;
        client->view_hint = header->view;
        client->next_tick = cluster->tick + prng_range(&cluster->prng, 10);
    }
}

/* The model's session ops: register (opt-in) and logout (releases the window). */
static void sim_model_session(struct sim_check *check, const struct vsr_header_prepare *prepare)
{
    uint32_t index = (uint32_t)(prepare->client - 1);
    assert(index < SIM_CLIENTS_MAX);
    bool exactly_once = (prepare->request_flags & VSR_REQUEST_FLAG_EXACTLY_ONCE) != 0;
    if (prepare->operation == VSR_OPERATION_REGISTER) {
        if (!check->registered[index] || !exactly_once || !check->exactly_once[index]) {
            memset(check->window[index], 0, sizeof(check->window[index]));
            memset(check->committed_request[index], 0, sizeof(check->committed_request[index]));
            check->floor[index] = 0;
            check->last_request[index] = 0;
        }
        check->registered[index] = true;
        check->exactly_once[index] = exactly_once;
    } else if (prepare->operation == VSR_OPERATION_LOGOUT && check->registered[index]) {
        check->registered[index] = false;
        memset(check->window[index], 0, sizeof(check->window[index]));
        memset(check->committed_request[index], 0, sizeof(check->committed_request[index]));
        check->floor[index] = 0;
    }
}

/* The exactly-once model: false for a kept or too-old number; else keeps it (lowest out). */
static bool sim_model_exactly_once(struct sim_check *check, uint32_t index, uint64_t sequence)
{
    assert(index < SIM_CLIENTS_MAX);
    if (sequence <= check->floor[index] || sim_model_window_has(check, index, sequence)) {
        return false;
    }
    uint32_t lowest = 0;
    for (uint32_t slot = 1; slot < SIM_WINDOW; slot++) {
        if (check->window[index][slot] < check->window[index][lowest]) {
            lowest = slot;
        }
    }
    if (check->window[index][lowest] > check->floor[index]) {
        check->floor[index] = check->window[index][lowest];
    }
    check->window[index][lowest] = sequence;
    return true;
}

/*
 * The model: applies committed op (header) as the session rules say, at most once. Returns
 * false when op is a request number of a session the history already holds (a duplicate
 * the group prepared again: a second append, even if it is not executed twice).
 */
static bool sim_model_apply(struct sim_check *check, const struct vsr_header *header)
{
    const struct vsr_header_prepare *prepare = &header->u.prepare;
    uint64_t op = prepare->op;
    assert(op <= SIM_OPS_MAX);
    if (prepare->client == 0 || prepare->client > SIM_CLIENTS_MAX) {
        return true;
    }
    uint32_t index = (uint32_t)(prepare->client - 1);
    if (prepare->operation == VSR_OPERATION_REGISTER ||
        prepare->operation == VSR_OPERATION_LOGOUT) {
        sim_model_session(check, prepare);
        return true;
    }
    if (prepare->operation != SIM_OPERATION_ADD || !check->registered[index]) {
        return true;
    }
    bool again = false;
    if (prepare->request <= SIM_SEQUENCE_MAX) {
        again = check->committed_request[index][prepare->request];
        check->committed_request[index][prepare->request] = true;
    }
    if (check->exactly_once[index] ? !sim_model_exactly_once(check, index, prepare->request)
                                   : prepare->request <= check->last_request[index]) {
        return !again; /* not executed: a duplicate, or too old by the time it committed */
    }
    uint8_t body[2];
    sim_request_body(index, prepare->request, body);
    check->values[body[0]] += body[1];
    check->expected[op] = check->values[body[0]];
    check->executed[op] = true;
    if (!check->exactly_once[index]) {
        check->last_request[index] = prepare->request;
    }
    return !again;
}

/* Checks what the state machine did for op against the model. */
static void sim_check_applied(struct sim_cluster *cluster, const struct sim_slot *slot, uint64_t op)
{
    const struct sim_check *check = &cluster->checks[slot->group];
    const struct sim_state_machine *machine = &slot->state_machine;
    assert(op <= check->committed_max);
    if (machine->applied[op] != check->executed[op] ||
        (machine->applied[op] && machine->replies[op] != check->expected[op])) {
        sim_fail(cluster, "group %u replica %u: op %llu executed unlike the model", slot->group,
                 slot->index, (unsigned long long)op);
    }
}

/* Checks op, just executed by slot, against the group's one committed history. */
static void sim_check_commit(struct sim_cluster *cluster, struct sim_slot *slot, uint64_t op)
{
    struct sim_check *check = &cluster->checks[slot->group];
    const struct vsr_replica *replica = &slot->replica;
    assert(op >= 1 && op <= replica->commit_min);
    const struct vsr_header *header = vsr_replica_header(replica, op);
    if (header == NULL && op < replica->checkpoint_op && op <= check->committed_max &&
        vsr_replica_header(replica, replica->checkpoint_op)->checksum ==
            check->committed[replica->checkpoint_op]) {
        /* Executed and checkpointed within one step (a transfer it overtook): the ring no
         * longer holds its header; the committed anchor above it and the state machine's
         * own record of the op still are checked. */
        sim_check_applied(cluster, slot, op);
        return;
    }
    if (header == NULL) {
        sim_fail(cluster,
                 "group %u replica %u: executed op %llu left the ring unchecked (checkpoint %llu)",
                 slot->group, slot->index, (unsigned long long)op,
                 (unsigned long long)replica->checkpoint_op);
        return;
    }
    if (op > check->committed_max + 1) {
        sim_fail(cluster, "group %u: op %llu committed before op %llu", slot->group,
                 (unsigned long long)op, (unsigned long long)check->committed_max + 1);
        return;
    }
    if (op == check->committed_max + 1) {
        if (header->u.prepare.parent != check->committed[op - 1]) {
            sim_fail(cluster, "group %u: op %llu breaks the hash chain", slot->group,
                     (unsigned long long)op);
            return;
        }
        if (op > 1 && header->u.prepare.timestamp <= check->headers[op - 1].u.prepare.timestamp) {
            sim_fail(cluster, "group %u: timestamp went back at op %llu", slot->group,
                     (unsigned long long)op);
        }
        check->committed[op] = header->checksum;
        check->headers[op] = *header;
        check->committed_max = op;
        if (!sim_model_apply(check, header)) {
            sim_fail(cluster, "group %u: op %llu commits client %llu request %llu again",
                     slot->group, (unsigned long long)op,
                     (unsigned long long)header->u.prepare.client,
                     (unsigned long long)header->u.prepare.request);
        }
        memcpy(check->values_at[op], check->values, sizeof(check->values));
        cluster->result->commits++;
    }
    if (check->committed[op] != header->checksum) {
        sim_fail(cluster, "group %u replica %u: committed a different op %llu (fork)", slot->group,
                 slot->index, (unsigned long long)op);
        return;
    }
    sim_check_applied(cluster, slot, op);
}

/*
 * The replica's state came from a checkpoint (its own at a restart, or a peer's by state
 * transfer): it must equal the model's state after that op of the one committed history.
 */
static void sim_check_restored(struct sim_cluster *cluster, struct sim_slot *slot)
{
    const struct sim_check *check = &cluster->checks[slot->group];
    uint64_t op = slot->replica.checkpoint_op; /* the restore happened this step */
    slot->restores_checked = slot->state_machine.restores;
    if (op < slot->checked_commit || op > check->committed_max ||
        memcmp(check->values_at[op], slot->state_machine.restored_values, sizeof(check->values)) !=
            0 ||
        vsr_replica_header(&slot->replica, op) == NULL ||
        vsr_replica_header(&slot->replica, op)->checksum != check->committed[op]) {
        sim_fail(cluster, "group %u replica %u: checkpoint state at op %llu differs from the model",
                 slot->group, slot->index, (unsigned long long)op);
        return;
    }
    slot->checked_commit = op;
}

/* A write of op below the journal's first op (a restart or a prefix drop began it above)
 * lands nowhere and is reported with a checksum no prepare has (sim_journal_tick): the
 * replica records it as not durable, never as the canonical prepare. */
static bool sim_slot_write_refused(const struct sim_slot *slot, uint64_t op,
                                   const struct vsr_entry *entry)
{
    return op < slot->journal.op_first && entry->journal_checksum != entry->checksum;
}

/*
 * What the replica believes its journal holds at op (entry->journal_checksum), the journal
 * holds. On the partition log one belief is not the journal's: the checksum it reports for
 * a write it gave up on (names no prepare: "not held"). A prepare the adapter's own suffix
 * cut removed (journal_partition.c cuts op and every op above when a different prepare
 * lands at op) is forgotten by the replica (vsr_replica_on_journal_cut); before it was,
 * about one --storage seed in five failed here (runnel-sim --storage --seed 5 at a40675b:
 * op 10 of group 0's replica 1), and a later view naming the cut prepare again would have
 * counted it durable.
 */
static bool sim_is_belief_stale(const struct sim_slot *slot, const struct vsr_entry *entry,
                                uint64_t op)
{
    u128 believed = entry->journal_checksum;
    if (believed == 0 || sim_slot_holds(slot, op, believed)) {
        return false;
    }
    if (slot->storage == NULL) {
        return !sim_slot_write_refused(slot, op, entry);
    }
    return !sim_storage_is_given_up(slot->storage, op, believed);
}

/*
 * Every slot of a replica's log ring holds only what belongs to the op that maps to it now:
 * above the head no canonical knowledge (a slot the ring reuses must have been cleared),
 * at or below it a known header is that op's, canonical. FAULTY, WRITING and the journal's
 * checksum may stay above the head: they describe what the journal holds there, and a
 * journal checksum anywhere must be a write the journal completed for that op.
 */
static void sim_check_ring(struct sim_cluster *cluster, struct sim_slot *slot)
{
    const struct vsr_replica *replica = &slot->replica;
    uint64_t slots = replica->config.ops_max + 1;
    uint64_t now[3] = {replica->op, replica->checkpoint_op, (uint64_t)replica->view + 1};
    if (memcmp(now, slot->ring_checked, sizeof(now)) == 0) {
        return; /* checked since the ring last moved, grew or was replaced */
    }
    memcpy(slot->ring_checked, now, sizeof(now));
    for (uint64_t op = replica->checkpoint_op; op < replica->checkpoint_op + slots; op++) {
        const struct vsr_entry *entry = &replica->entries[op % slots];
        const struct vsr_header *header = &replica->headers[op % slots];
        bool stale =
            op > replica->op
                ? (entry->flags & (VSR_ENTRY_CANON | VSR_ENTRY_HEADER)) != 0 || entry->checksum != 0
                : (entry->flags & VSR_ENTRY_HEADER) != 0 &&
                      (header->u.prepare.op != op || (entry->flags & VSR_ENTRY_CANON) == 0 ||
                       header->checksum != entry->checksum);
        /* What it believes its journal holds there, the journal holds (a completed write,
         * perhaps damaged since); the anchor is the checkpoint's, maybe a peer's. */
        stale |= op > replica->checkpoint_op && sim_is_belief_stale(slot, entry, op);
        if (stale) {
            sim_fail(cluster,
                     "group %u replica %u: ring slot of op %llu holds stale state (flags 0x%x, "
                     "header op %llu, head %llu, checkpoint %llu)",
                     slot->group, slot->index, (unsigned long long)op, entry->flags,
                     (unsigned long long)header->u.prepare.op, (unsigned long long)replica->op,
                     (unsigned long long)replica->checkpoint_op);
            return;
        }
    }
}

static void sim_check_commits(struct sim_cluster *cluster)
{
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        struct sim_check *check = &cluster->checks[group];
        if (check->committed[0] == 0) {
            check->committed[0] = vsr_replica_root_checksum(&cluster->slots[group][0].replica);
        }
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            struct sim_slot *slot = &cluster->slots[group][index];
            if (!slot->up) {
                continue;
            }
            if (slot->replica.commit_min < slot->checked_commit) {
                slot->checked_commit = 0; /* restarted: executes from op 1 again */
            }
            if (slot->state_machine.restores != slot->restores_checked) {
                sim_check_restored(cluster, slot);
            }
            sim_check_ring(cluster, slot);
            for (uint64_t op = slot->checked_commit + 1; op <= slot->replica.commit_min; op++) {
                sim_check_commit(cluster, slot, op);
            }
            slot->checked_commit = slot->replica.commit_min;
        }
    }
}

static void sim_deliver(uint32_t target, const struct vsr_header *header, const void *body,
                        void *context)
{
    struct sim_cluster *cluster = context;
    assert(header != NULL);
    if (target >= SIM_CLIENT_ENDPOINT) {
        sim_client_on_reply(cluster, target - SIM_CLIENT_ENDPOINT, header, body);
        return;
    }
    if (target >= SIM_MACHINE_ENDPOINT) {
        uint32_t machine = target - SIM_MACHINE_ENDPOINT;
        assert(machine < cluster->replica_count && cluster->heartbeat_shared);
        if (cluster->slots[0][machine].up && cluster->paused_until[machine] <= cluster->tick &&
            vsr_header_validate(header, VSR_HEARTBEAT_CHUNK_SIZE_MAX, NULL) == 0 &&
            vsr_header_is_body_valid(header, body)) {
            struct vsr_heartbeat_host host = sim_heartbeat_host(cluster, machine);
            vsr_heartbeat_on_message(&cluster->heartbeats[machine], &host, header->replica, header,
                                     body);
        }
        return;
    }
    uint32_t group = target / VSR_REPLICAS_MAX;
    if (cluster->faults && cluster->group_count > 1 && prng_chance(&cluster->prng, 1, 100)) {
        group = (group + 1) % cluster->group_count; /* misrouted: must be dropped, counted */
    }
    struct sim_slot *slot = &cluster->slots[group][target % VSR_REPLICAS_MAX];
    assert(slot->cluster == cluster);
    if (slot->up && cluster->paused_until[slot->index] <= cluster->tick) {
        vsr_replica_on_message(&slot->replica, header, body);
    }
}

static uint32_t sim_machines_down(const struct sim_cluster *cluster)
{
    uint32_t down = 0;
    for (uint32_t index = 0; index < cluster->replica_count; index++) {
        down += !cluster->slots[0][index].up || cluster->paused_until[index] > cluster->tick;
    }
    assert(down <= cluster->replica_count);
    return down;
}

/* True when some replica of some group is recovering_head. */
static bool sim_any_recovering(const struct sim_cluster *cluster)
{
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            const struct sim_slot *slot = &cluster->slots[group][index];
            if (slot->up && slot->replica.status == VSR_STATUS_RECOVERING_HEAD) {
                return true;
            }
        }
    }
    return false;
}

/* Crashes and restarts whole machines (every group's replica on it), flips bits. */
static void sim_faults_tick(struct sim_cluster *cluster)
{
    struct prng *prng = &cluster->prng;
    for (uint32_t index = 0; index < cluster->replica_count; index++) {
        struct sim_slot *first = &cluster->slots[0][index];
        if (!first->up && cluster->tick >= first->restart_tick) {
            sim_machine_heartbeat_start(cluster, index);
            for (uint32_t group = 0; group < cluster->group_count; group++) {
                sim_slot_start(cluster, &cluster->slots[group][index]);
            }
        }
    }
    if (!cluster->faults) {
        return;
    }
    if (sim_machines_down(cluster) < cluster->down_max &&
        prng_chance(prng, cluster->crash_per_mille, 1000)) {
        uint32_t index = (uint32_t)prng_range(prng, cluster->replica_count);
        if (cluster->slots[0][index].up) {
            uint64_t restart = cluster->tick + prng_between(prng, 5, 400);
            /* `replicated` groups: one machine crash at a time, so it is on fewer than a
             * replication quorum and the others keep a view-change quorum. */
            bool machine = cluster->replicated && sim_machines_down(cluster) == 0 &&
                           !sim_any_recovering(cluster) && prng_percent(prng, 50);
            /* The faulty machine, if any, is the one wiped: the others' journals are intact. */
            bool wipe =
                cluster->wipes_allowed && cluster->result->wipes == 0 &&
                (cluster->faulty_machines == 0 || cluster->faulty_machines == 1ull << index) &&
                prng_percent(&cluster->wipe_prng, 50);
            if (machine) {
                sim_cluster_crash_machine(cluster, index, restart);
                cluster->result->machine_crashes++;
            } else if (wipe) {
                sim_cluster_wipe(cluster, index, restart);
            } else {
                sim_cluster_crash(cluster, index, restart);
            }
        }
    }
    if (sim_machines_down(cluster) < cluster->down_max &&
        prng_chance(prng, cluster->pause_per_mille, 1000)) {
        uint32_t index = (uint32_t)prng_range(prng, cluster->replica_count);
        cluster->paused_until[index] = cluster->tick + prng_between(prng, 10, 300);
    }
    if (cluster->faulty_machines != 0 && prng_chance(prng, cluster->flip_per_mille, 1000)) {
        uint32_t index = (uint32_t)prng_range(prng, cluster->replica_count);
        uint32_t group = (uint32_t)prng_range(prng, cluster->group_count);
        struct sim_slot *slot = &cluster->slots[group][index];
        if (slot->storage == NULL || !sim_storage_flips) {
            sim_journal_flip(&slot->journal); /* --storage: the unused in-memory journal */
        } else if (slot->journal.faults && slot->up) {
            cluster->storage_flips += sim_storage_flip(slot->storage, prng);
        }
    }
    int32_t send_only = cluster->options.send_only_machine;
    if (send_only >= 0 && cluster->tick == cluster->options.send_only_from_tick) {
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            cluster->network.blocked[index][send_only] = index != (uint32_t)send_only;
        }
    }
    if (prng_chance(prng, 1, 200)) {
        uint64_t back_ns = prng_between(prng, 1, 2000000000ull);
        clock_fake_set_realtime_ns(&cluster->clock, cluster->clock.now_realtime_ns - back_ns);
    }
}

/*
 * Prefix truncation on the seeds that draw it, as runneld's partition groups do it
 * (node/data_plane_truncate.c): a group's removable op is the highest
 * vsr_replica_log_removable_op a primary in normal status decided (runneld replicates it
 * as an op; here every replica learns it at once), and every replica running drops its
 * journal's ops below min(that op, its own durable checkpoint), as files go (the
 * checkpoint's anchor stays, as in runneld). Checked:
 * a replication quorum had a durable checkpoint at or above each removable op (runs without
 * wipes: a wiped replica's reports outlive its disk). Every replica behind it must catch up
 * from its peers' later first ops (state transfer), and the checkers still hold.
 */
static void sim_prefix_tick(struct sim_cluster *cluster)
{
    for (uint32_t group = 0; group < cluster->group_count && cluster->prefix_truncation; group++) {
        struct sim_check *check = &cluster->checks[group];
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            struct sim_slot *slot = &cluster->slots[group][index];
            if (slot->up && slot->replica.checkpoint_op > slot->checkpoint_max) {
                slot->checkpoint_max = slot->replica.checkpoint_op;
            }
        }
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            const struct vsr_replica *replica = &cluster->slots[group][index].replica;
            if (!cluster->slots[group][index].up || replica->status != VSR_STATUS_NORMAL ||
                !vsr_replica_is_primary(replica)) {
                continue;
            }
            uint64_t removable = vsr_replica_log_removable_op(replica);
            if (removable <= check->removable_op) {
                continue;
            }
            uint32_t durable = 0;
            for (uint32_t peer = 0; peer < cluster->replica_count; peer++) {
                durable += cluster->slots[group][peer].checkpoint_max >= removable;
            }
            if (cluster->result->wipes == 0 &&
                durable < vsr_quorum_replication(cluster->replica_count)) {
                sim_fail(cluster,
                         "group %u replica %u: removable op %llu is durably checkpointed on %u "
                         "replicas, fewer than a replication quorum",
                         group, index, (unsigned long long)removable, durable);
            }
            check->removable_op = removable;
        }
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            struct sim_slot *slot = &cluster->slots[group][index];
            if (!slot->up || cluster->paused_until[index] > cluster->tick ||
                slot->storage != NULL) {
                continue;
            }
            uint64_t checkpoint_op = check->removable_op < slot->replica.checkpoint_op
                                         ? check->removable_op
                                         : slot->replica.checkpoint_op;
            uint64_t op_max = checkpoint_op > 0 ? checkpoint_op - 1 : 0; /* the anchor stays */
            if (op_max > 0 && op_max + 1 > slot->journal.op_first) {
                cluster->result->prefix_ops_dropped +=
                    op_max + 1 - (slot->journal.op_first > 1 ? slot->journal.op_first : 1);
                sim_journal_prefix_drop(&slot->journal, op_max);
            }
        }
    }
}

static void sim_step(struct sim_cluster *cluster)
{
    cluster->tick++;
    clock_fake_advance_ns(&cluster->clock, 10000000);
    sim_network_tick(&cluster->network);
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            struct sim_slot *slot = &cluster->slots[group][index];
            if (slot->up && cluster->paused_until[index] <= cluster->tick) {
                if (slot->storage != NULL) {
                    sim_storage_tick(slot->storage);
                }
                sim_journal_tick(&slot->journal);
                sim_superblock_tick(&slot->superblock);
                vsr_replica_tick(&slot->replica);
            }
            if (slot->up && slot->recovering && !vsr_replica_is_recovering(&slot->replica)) {
                slot->recovering = false; /* the node's marker: cleared once it caught up */
            }
        }
    }
    for (uint32_t index = 0; index < cluster->replica_count && cluster->heartbeat_shared; index++) {
        if (cluster->slots[0][index].up && cluster->paused_until[index] <= cluster->tick) {
            struct vsr_heartbeat_host host = sim_heartbeat_host(cluster, index);
            vsr_heartbeat_tick(&cluster->heartbeats[index], &host, cluster->group_count);
        }
    }
    for (uint32_t index = 0; index < cluster->client_count; index++) {
        sim_client_tick(cluster, &cluster->clients[index]);
    }
    sim_check_commits(cluster); /* before a crash can hide what a replica executed */
    sim_prefix_tick(cluster);
    sim_faults_tick(cluster);
    if (cluster->faults && cluster->options.script != NULL) {
        cluster->options.script(cluster, cluster->tick, cluster->options.script_context);
    }
}

void sim_cluster_link_block(struct sim_cluster *cluster, uint32_t from, uint32_t to, bool blocked)
{
    assert(from < cluster->replica_count && to < cluster->replica_count);
    assert(from != to);
    cluster->network.blocked[from][to] = blocked;
}

void sim_cluster_replies_drop(struct sim_cluster *cluster, uint32_t machine, bool dropped)
{
    assert(machine < cluster->replica_count);
    assert(cluster->faults);
    cluster->replies_dropped[machine] = dropped;
}

void sim_cluster_crash(struct sim_cluster *cluster, uint32_t machine, uint64_t restart_tick)
{
    assert(machine < cluster->replica_count);
    assert(restart_tick > cluster->tick);
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        struct sim_slot *slot = &cluster->slots[group][machine];
        if (slot->up) {
            sim_slot_crash(cluster, slot);
        }
        slot->restart_tick = restart_tick;
    }
    cluster->result->crashes++;
}

void sim_cluster_pause(struct sim_cluster *cluster, uint32_t machine, uint64_t until_tick)
{
    assert(machine < cluster->replica_count);
    assert(until_tick > cluster->tick);
    cluster->paused_until[machine] = until_tick;
}

void sim_cluster_wipe(struct sim_cluster *cluster, uint32_t machine, uint64_t restart_tick)
{
    sim_cluster_crash(cluster, machine, restart_tick);
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        struct sim_slot *slot = &cluster->slots[group][machine];
        assert(slot->storage == NULL);
        sim_journal_reset(&slot->journal);
        struct sim_superblock kept = slot->superblock;
        sim_superblock_deinit(&slot->superblock);
        sim_superblock_init(&slot->superblock, kept.prng, kept.tick);
        slot->superblock.callback = kept.callback;
        slot->superblock.checkpoint_callback = kept.checkpoint_callback;
        slot->superblock.callback_context = kept.callback_context;
        memset(&slot->state_machine, 0, sizeof(slot->state_machine));
        slot->recovering = true;
        slot->boot_changed = false;
        slot->checkpoint_max = 0;
    }
    cluster->result->wipes++;
}

bool sim_cluster_is_recovering(const struct sim_cluster *cluster, uint32_t group, uint32_t machine)
{
    assert(group < cluster->group_count && machine < cluster->replica_count);
    return cluster->slots[group][machine].recovering;
}

void sim_cluster_crash_machine(struct sim_cluster *cluster, uint32_t machine, uint64_t restart_tick)
{
    sim_cluster_crash(cluster, machine, restart_tick);
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        cluster->slots[group][machine].boot_changed = true;
    }
}

int sim_cluster_force_recovery(struct sim_cluster *cluster, uint32_t group, uint32_t machine)
{
    assert(group < cluster->group_count && machine < cluster->replica_count);
    struct sim_slot *slot = &cluster->slots[group][machine];
    assert(slot->up);
    int result = vsr_replica_force_recovery(&slot->replica);
    slot->forced |= result == 0;
    return result;
}

bool sim_cluster_corrupt(struct sim_cluster *cluster, uint32_t group, uint32_t machine, uint64_t op)
{
    assert(group < cluster->group_count && machine < cluster->replica_count);
    assert(op >= 1 && op <= SIM_OPS_MAX);
    return sim_journal_flip_op(&cluster->slots[group][machine].journal, op);
}

const struct vsr_replica *sim_cluster_replica(const struct sim_cluster *cluster, uint32_t group,
                                              uint32_t machine)
{
    assert(group < cluster->group_count && machine < cluster->replica_count);
    const struct sim_slot *slot = &cluster->slots[group][machine];
    return slot->up ? &slot->replica : NULL;
}

void sim_cluster_messages(const struct sim_cluster *cluster, uint64_t *replica_out,
                          uint64_t *heartbeat_out)
{
    assert(replica_out != NULL && heartbeat_out != NULL);
    *replica_out = cluster->messages_replica;
    *heartbeat_out = cluster->messages_heartbeat;
}

uint64_t sim_cluster_committed_max(const struct sim_cluster *cluster, uint32_t group)
{
    assert(group < cluster->group_count);
    assert(cluster->checks[group].committed_max <= SIM_OPS_MAX);
    return cluster->checks[group].committed_max;
}

u128 sim_cluster_committed_checksum(const struct sim_cluster *cluster, uint32_t group, uint64_t op)
{
    assert(group < cluster->group_count);
    assert(op <= cluster->checks[group].committed_max);
    return cluster->checks[group].committed[op];
}

bool sim_cluster_journal_is_intact(const struct sim_cluster *cluster, uint32_t group,
                                   uint32_t machine, uint64_t op, u128 checksum)
{
    assert(group < cluster->group_count && machine < cluster->replica_count);
    assert(op >= 1);
    return sim_journal_is_intact(&cluster->slots[group][machine].journal, op, checksum);
}

/* True when every client finished and every replica of every group caught up. */
static bool sim_is_converged(const struct sim_cluster *cluster)
{
    for (uint32_t index = 0; index < cluster->client_count; index++) {
        const struct sim_client *client = &cluster->clients[index];
        if (client->exactly_once ? !client->logged_out
                                 : client->inflight || client->request < client->requests_total) {
            return false;
        }
    }
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        const struct sim_check *check = &cluster->checks[group];
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            const struct sim_slot *slot = &cluster->slots[group][index];
            if (!slot->up || slot->replica.status != VSR_STATUS_NORMAL ||
                slot->replica.commit_min != check->committed_max ||
                slot->replica.view != cluster->slots[group][0].replica.view) {
                return false;
            }
        }
    }
    return true;
}

static void sim_heal(struct sim_cluster *cluster)
{
    cluster->faults = false;
    memset(cluster->paused_until, 0, sizeof(cluster->paused_until));
    memset(cluster->replies_dropped, 0, sizeof(cluster->replies_dropped));
    sim_network_heal(&cluster->network);
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            struct sim_slot *slot = &cluster->slots[group][index];
            slot->journal.faults = false;
            if (!slot->up) {
                slot->restart_tick = cluster->tick + 1;
            }
        }
    }
    assert(!cluster->faults);
}

/* Prints every replica's state (verbose runs, on failure). */
static void sim_dump(const struct sim_cluster *cluster)
{
    if (cluster->slots == NULL) {
        return;
    }
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        printf("group %u committed_max=%llu\n", group,
               (unsigned long long)cluster->checks[group].committed_max);
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            const struct sim_slot *slot = &cluster->slots[group][index];
            const struct vsr_replica *replica = &slot->replica;
            if (!slot->up) {
                printf("  replica %u down\n", index);
                continue;
            }
            printf("  replica %u status=%d view=%u log_view=%u op=%llu commit_min=%llu "
                   "commit_max=%llu prefix=%llu log_head=%llu durable_view=%u invalid=%llu "
                   "checkpoint=%llu/%llu ring=%llu transfer=%d/%llu window_full=%llu\n",
                   index, (int)replica->status, replica->view, replica->log_view,
                   (unsigned long long)replica->op, (unsigned long long)replica->commit_min,
                   (unsigned long long)replica->commit_max, (unsigned long long)replica->op_prefix,
                   (unsigned long long)replica->log_head_op, replica->durable.view,
                   (unsigned long long)replica->stats.messages_invalid,
                   (unsigned long long)replica->checkpoint_op,
                   (unsigned long long)replica->checkpoint_quorum_op,
                   (unsigned long long)replica->config.ops_max, (int)replica->transfer_stage,
                   (unsigned long long)replica->stats.state_transfers,
                   (unsigned long long)replica->stats.window_full);
            if (replica->commit_min < replica->commit_max) {
                printf("    stall=%llu/%llu primary=%d checkpoint_stage=%d peers=%llu,%llu,%llu\n",
                       (unsigned long long)replica->stall_ticks,
                       (unsigned long long)replica->stall_commit_min,
                       (int)vsr_replica_is_primary(replica), (int)replica->checkpoint_stage,
                       (unsigned long long)replica->peer_checkpoint_op[0],
                       (unsigned long long)replica->peer_checkpoint_op[1],
                       (unsigned long long)replica->peer_checkpoint_op[2]);
            }
            if (replica->transfer_stage != 0) {
                printf("    transfer peer=%u op=%llu log_op_first=%llu records_op=%llu low=%llu "
                       "requested=%llu restart_op=%llu journal_first=%llu durable_head=%llu "
                       "checkpoint_stage=%d\n",
                       replica->transfer_peer, (unsigned long long)replica->transfer_op,
                       (unsigned long long)replica->transfer_log_op_first,
                       (unsigned long long)replica->records_op,
                       (unsigned long long)replica->records_low,
                       (unsigned long long)replica->records_requested,
                       (unsigned long long)replica->records_restart_op,
                       (unsigned long long)slot->journal.op_first,
                       (unsigned long long)replica->durable.log_head_op,
                       (int)replica->checkpoint_stage);
            }
            sim_storage_dump(slot->storage); /* nothing for the in-memory journal */
            for (uint64_t op = replica->commit_min + 1; op <= replica->op; op++) {
                const struct vsr_entry *entry =
                    &replica->entries[op % (replica->config.ops_max + 1)];
                printf("    op %llu flags=0x%x canon=%d journal_match=%d\n", (unsigned long long)op,
                       entry->flags, entry->checksum == cluster->checks[group].committed[op],
                       entry->journal_checksum == entry->checksum);
            }
        }
    }
    for (uint32_t index = 0; index < cluster->client_count; index++) {
        const struct sim_client *client = &cluster->clients[index];
        printf("  client %u group=%u request=%llu/%llu inflight=%d exactly_once=%d session=%llu "
               "issued=%llu logging_out=%d logged_out=%d\n",
               index, client->group, (unsigned long long)client->request,
               (unsigned long long)client->requests_total, (int)client->inflight,
               (int)client->exactly_once, (unsigned long long)client->session,
               (unsigned long long)client->issued, (int)client->logging_out,
               (int)client->logged_out);
    }
}

static void sim_teardown(struct sim_cluster *cluster)
{
    if (cluster->slots == NULL) {
        cluster->group_count = 0; /* failed before the groups were set up */
    }
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        for (uint32_t index = 0; index < cluster->replica_count; index++) {
            struct sim_slot *slot = &cluster->slots[group][index];
            if (slot->up) {
                sim_slot_stats(cluster, slot);
                vsr_replica_deinit(&slot->replica);
            }
            cluster->result->misdirected_writes += slot->journal.misdirected_writes;
            sim_journal_deinit(&slot->journal);
            sim_superblock_deinit(&slot->superblock);
            if (slot->storage != NULL) {
                cluster->result->misdirected_writes += slot->storage->disk.misdirect_count;
                sim_storage_deinit(slot->storage);
                free(slot->storage);
                slot->storage = NULL;
            }
        }
    }
    for (uint32_t index = 0; index < VSR_REPLICAS_MAX; index++) {
        if (cluster->heartbeats[index].slots != NULL) {
            vsr_heartbeat_deinit(&cluster->heartbeats[index]);
        }
    }
    cluster->result->messages_replica = cluster->messages_replica;
    cluster->result->messages_heartbeat = cluster->messages_heartbeat;
    cluster->result->clogs = cluster->network.clogs;
    for (uint32_t index = 0; index < cluster->client_count; index++) {
        cluster->result->too_old += cluster->clients[index].too_old;
    }
    cluster->result->dropped_full = cluster->network.dropped_full;
    for (uint32_t group = 0; group < cluster->group_count; group++) {
        cluster->result->wrapped |= cluster->checks[group].committed_max > cluster->ring_ops;
    }
    free(cluster->groups);
    free(cluster->slots);
    free(cluster->checks);
    cluster->groups = NULL;
    cluster->slots = NULL;
    cluster->checks = NULL;
    sim_network_deinit(&cluster->network);
}

static uint64_t sim_seed_current;
static jmp_buf sim_assert_jump;
static bool sim_assert_armed;
static char sim_assert_text[200];

/*
 * An assertion inside the run (vsr/, storage/ or the simulator) fails this seed only: the
 * hook prints the seed and jumps back to sim_cluster_run_options, which records the
 * failure and frees the run; a --seeds run goes on with the next seed.
 */
static void sim_assert_hook(int result, const char *expression, const char *file, int line)
{
    (void)result;
    fprintf(stderr, "runnel-sim: seed=%llu failed: assertion %s at %s:%d\n",
            (unsigned long long)sim_seed_current, expression, file, line);
    fflush(stderr);
    if (sim_assert_armed) {
        sim_assert_armed = false;
        snprintf(sim_assert_text, sizeof(sim_assert_text), "assertion %s at %s:%d", expression,
                 file, line);
        longjmp(sim_assert_jump, 1);
    }
}

static void sim_describe(const struct sim_cluster *cluster)
{
    const struct sim_network_faults *faults = &cluster->network.faults;
    printf("seed=%llu replicas=%u groups=%u clients=%u loss=%u%% dup=%u%% delay<=%u "
           "partition=%u/1000 clog=%u/1000 (mean %u) capacity=%u crash=%u/1000 pause=%u/1000 "
           "flip=%u/1000 misdirect=%u/1000 faulty_machines=0x%llx\n",
           (unsigned long long)cluster->seed, cluster->replica_count, cluster->group_count,
           cluster->client_count, faults->loss_percent, faults->duplicate_percent,
           faults->delay_ticks_max, faults->partition_per_mille, faults->clog_per_mille,
           faults->clog_ticks_mean, faults->link_capacity, cluster->crash_per_mille,
           cluster->pause_per_mille, cluster->flip_per_mille, cluster->misdirect_per_mille,
           (unsigned long long)cluster->faulty_machines);
}

void sim_cluster_run(uint64_t seed, bool verbose, struct sim_result *result)
{
    struct sim_options options = {.faults_random = true, .send_only_machine = -1};
    sim_cluster_run_options(seed, &options, verbose, result);
}

/* Sets the cluster up from the seed, runs the fault phase, heals and awaits convergence. */
static void sim_cluster_play(struct sim_cluster *cluster, const struct sim_options *options)
{
    struct sim_result *result = cluster->result;
    assert(result != NULL && options != NULL);
    prng_init(&cluster->prng, cluster->seed);
    clock_fake_init(&cluster->clock, 1000000000ull, 1800000000000000000ull);
    uint32_t packet_size = VSR_HEADER_SIZE * 11 + SIM_BODY_SIZE_MAX;
    int status = sim_network_init(&cluster->network, (packet_size + 15) / 16 * 16, &cluster->prng,
                                  &cluster->tick);
    assert(status == 0);
    cluster->network.deliver = sim_deliver;
    cluster->network.deliver_context = cluster;
    sim_setup_shape(cluster);
    cluster->faults = true;
    status = sim_setup_slots(cluster);
    assert(status == 0);
    sim_setup_clients(cluster);
    if (cluster->verbose) {
        sim_describe(cluster);
    }
    uint64_t fault_ticks = prng_between(&cluster->prng, 1000, 4000);
    if (options->fault_ticks != 0) {
        fault_ticks = options->fault_ticks;
    }
    for (uint64_t round = 0; round < fault_ticks && result->passed; round++) {
        sim_step(cluster);
    }
    for (uint32_t index = 0; index < cluster->replica_count; index++) {
        result->views_at_heal[index] = cluster->slots[0][index].replica.view;
    }
    sim_heal(cluster);
    for (uint64_t round = 0; round < SIM_CONVERGE_TICKS_MAX && result->passed; round++) {
        sim_step(cluster);
        if (sim_is_converged(cluster)) {
            break;
        }
    }
    if (result->passed && !sim_is_converged(cluster)) {
        sim_fail(cluster, "no convergence %d ticks after the faults healed",
                 SIM_CONVERGE_TICKS_MAX);
    }
}

void sim_cluster_run_options(uint64_t seed, const struct sim_options *options, bool verbose,
                             struct sim_result *result)
{
    assert(result != NULL);
    assert(options != NULL);
    struct sim_cluster *cluster = &sim_cluster;
    memset(cluster, 0, sizeof(*cluster));
    cluster->options = *options;
    memset(result, 0, sizeof(*result));
    result->passed = true;
    cluster->result = result;
    cluster->seed = seed;
    cluster->verbose = verbose;
    sim_seed_current = seed;
    assert_hook_set(sim_assert_hook);
    sim_assert_armed = true;
    if (setjmp(sim_assert_jump) == 0) {
        sim_cluster_play(cluster, options);
    } else {
        sim_fail(cluster, "%s", sim_assert_text); /* the hook disarmed itself */
    }
    sim_assert_armed = false;
    result->ticks = cluster->tick;
    if (verbose && !result->passed) {
        sim_dump(cluster);
    }
    sim_teardown(cluster);
}
