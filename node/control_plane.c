/*
 * The metadata VSR group on shard 0 (see control_plane.h). Owns the metadata tables, the
 * metadata journal (a storage partition), the replica and the published versions of
 * the metadata. Runs on shard 0; other shards only call read_begin/read_end.
 */
#include "node/control_plane.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/broker_cluster.h"
#include "node/data_plane.h"
#include "node/recovery.h"
#include "node/replica_bus.h"
#include "proto/iggy_error.h"
#include "proto/metadata.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    CONTROL_PLANE_CLIENTS_MAX = 64,
    CONTROL_PLANE_RECORD_MAX = METADATA_OP_BODY_SIZE_MAX + 2 * VSR_HEADER_SIZE,
    CONTROL_PLANE_START_ROUNDS_MAX = 20000,
};

int control_plane_init(struct control_plane *plane, struct broker *broker,
                       const struct node_config *config)
{
    assert(plane != NULL && broker != NULL && config != NULL);
    memset(plane, 0, sizeof(*plane));
    plane->broker = broker;
    plane->superblock_slot = -1;
    struct metadata_config metadata_config;
    metadata_config_defaults(&metadata_config);
    metadata_config.durability = config->durability == NODE_DURABILITY_FSYNC
                                     ? METADATA_DURABILITY_FSYNC
                                     : METADATA_DURABILITY_REPLICATED;
    metadata_config.limits.replies_bytes = config->metadata_replies_bytes;
    int result = metadata_init(&plane->metadata, &metadata_config);
    if (result == 0) {
        result = metadata_versions_init(&plane->versions, &plane->metadata, broker->shard_count);
        if (result != 0) {
            metadata_deinit(&plane->metadata);
        }
    }
    assert(result <= 0);
    return result;
}

void control_plane_deinit(struct control_plane *plane)
{
    assert(plane != NULL);
    assert(plane->broker != NULL);
    if (plane->is_replica_ready) {
        vsr_replica_deinit(&plane->replica);
    }
    if (plane->is_log_open) {
        journal_partition_deinit(&plane->journal); /* files close at exit (ring gone) */
        partition_deinit(&plane->log);
    }
    metadata_versions_deinit(&plane->versions);
    metadata_deinit(&plane->metadata);
}

const struct metadata *control_plane_read_begin(struct control_plane *plane, uint32_t shard_index)
{
    assert(plane != NULL);
    return metadata_versions_read_begin(&plane->versions, shard_index);
}

void control_plane_read_end(struct control_plane *plane, uint32_t shard_index)
{
    assert(plane != NULL);
    metadata_versions_read_end(&plane->versions, shard_index);
}

bool control_plane_is_quiet(const struct control_plane *plane)
{
    assert(plane != NULL);
    assert(plane->in_flight_count <= VSR_PIPELINE_MAX);
    if (!plane->is_log_open) {
        return true;
    }
    return plane->in_flight_count == 0 && plane->queue_head == NULL &&
           plane->unpublished_head == NULL && !journal_partition_is_busy(&plane->journal) &&
           !checkpoint_store_is_busy(&plane->checkpoints) && !partition_has_unflushed(&plane->log);
}

void control_plane_close(struct control_plane *plane)
{
    assert(plane != NULL);
    if (!plane->is_log_open) {
        return;
    }
    if (!control_plane_is_quiet(plane)) {
        log_warn("metadata_journal_left_open", "reason=\"busy when the shard stopped\"");
        return;
    }
    partition_close(&plane->log); /* synchronous, on shard 0's ring */
    checkpoint_store_close(&plane->checkpoints);
}

/* ---- the state machine ---- */

static uint32_t control_plane_apply(const struct vsr_header *prepare, const void *body,
                                    void *reply_body, uint32_t reply_size_max, void *context)
{
    struct control_plane *plane = context;
    assert(plane != NULL && prepare != NULL);
    assert(reply_size_max >= METADATA_REPLY_SIZE_MAX);
    uint32_t body_size = prepare->size - VSR_HEADER_SIZE;
    const uint8_t *bytes = body;
    struct metadata_apply_context apply = {
        .op = prepare->u.prepare.op,
        .timestamp_us = prepare->u.prepare.timestamp / 1000,
        .client = 0,
        .user_id = METADATA_ROOT_USER_ID,
    };
    uint32_t format = 0;
    if (body_size >= BROKER_METADATA_PREFIX_V0_SIZE) {
        memcpy(&format, bytes + 4, sizeof(format));
    }
    uint32_t prefix_size = format == BROKER_METADATA_PREFIX_NUMBERED
                               ? BROKER_METADATA_PREFIX_SIZE
                               : BROKER_METADATA_PREFIX_V0_SIZE;
    if (body_size >= prefix_size) {
        memcpy(&apply.user_id, bytes, sizeof(apply.user_id));
        memcpy(&apply.client, bytes + 8, sizeof(apply.client));
        if (prefix_size == BROKER_METADATA_PREFIX_SIZE) {
            memcpy(&apply.request, bytes + 24, sizeof(apply.request));
            memcpy(&apply.request_checksum, bytes + 32, sizeof(apply.request_checksum));
            memcpy(&apply.session, bytes + 40, sizeof(apply.session));
        }
        bytes += prefix_size;
        body_size -= prefix_size;
    } else {
        body_size = 0; /* never sent by this node: a committed rejection (code 3) */
    }
    uint32_t reply_size = 0;
    int result = metadata_apply(&plane->metadata, &apply, bytes, body_size, reply_body,
                                reply_size_max, &reply_size);
    assert(result == 0);
    metadata_versions_record(&plane->versions, &apply, bytes, body_size);
    return reply_size;
}

static void control_plane_reset(void *context)
{
    struct control_plane *plane = context;
    assert(plane != NULL);
    metadata_reset(&plane->metadata);
    metadata_versions_record_reset(&plane->versions);
}

/* The state of a checkpoint: the metadata tables as one deterministic Snapshot message. */
static uint32_t control_plane_snapshot(void *buffer, uint32_t size_max, void *context)
{
    struct control_plane *plane = context;
    assert(plane != NULL && buffer != NULL);
    size_t size = 0;
    int result = metadata_snapshot_encode(&plane->metadata, buffer, size_max, &size);
    assert(result == 0); /* size_max is metadata_snapshot_size_max */
    assert(size <= size_max);
    return (uint32_t)size;
}

/* A checkpoint's state (at start-up or from a state transfer; checksummed by the replica,
 * still validated whole): replaces the tables, and every shard's version is rebuilt. */
static int control_plane_restore(const void *bytes, uint32_t size_bytes, void *context)
{
    struct control_plane *plane = context;
    assert(plane != NULL && bytes != NULL);
    int result = metadata_snapshot_decode(&plane->metadata, bytes, size_bytes);
    metadata_versions_record_replace(&plane->versions);
    if (result != 0) {
        log_error("metadata_checkpoint_invalid", "size=%u error=\"%s\"", size_bytes,
                  error_text(result));
        return result;
    }
    log_info("metadata_checkpoint_restored", "op=%llu size=%u",
             (unsigned long long)plane->metadata.op, size_bytes);
    return 0;
}

static void control_plane_bus_send(uint8_t replica_target, const struct vsr_header *header,
                                   const void *body, void *context)
{
    struct control_plane *plane = context;
    assert(plane != NULL && header != NULL);
    /* A cluster of one has no peers: the replica never sends to another replica. */
    assert(cluster_forward_is_multi(plane->broker));
    replica_bus_vsr_send(replica_target, header, body,
                         replica_bus_vsr_context(plane->broker->bus, 0));
}

/* Completes request once the version with its op is current (read-your-writes on every
 * shard); until then it waits, in order, for control_plane_publish. */
static void control_plane_reply_when_published(struct control_plane *plane,
                                               struct broker_request *request)
{
    assert(request->next == NULL);
    if (plane->unpublished_head == NULL && metadata_versions_is_published(&plane->versions)) {
        broker_request_complete(plane->broker, 0, request);
        return;
    }
    if (plane->unpublished_tail == NULL) {
        plane->unpublished_head = request;
    } else {
        plane->unpublished_tail->next = request;
    }
    plane->unpublished_tail = request;
}

/* Publishes what apply changed (unless a shard still reads the spare version: then the
 * next pass tries again) and sends the replies that waited for it. */
static void control_plane_publish(struct control_plane *plane)
{
    if (!metadata_versions_publish(&plane->versions)) {
        return;
    }
    for (uint32_t round = 0; round < UINT32_MAX && plane->unpublished_head != NULL; round++) {
        struct broker_request *request = plane->unpublished_head;
        plane->unpublished_head = request->next;
        request->next = NULL;
        broker_request_complete(plane->broker, 0, request);
    }
    plane->unpublished_tail = NULL;
}

/*
 * A reply for request number `answered` of this node's client: every request still in
 * flight under a lower number never gets a reply now. The group keeps one session per
 * client and ignores a number below its last (a forwarded request the primary dropped, a
 * full pipeline say, while a later one was prepared; or one whose reply was lost): before,
 * such a request was resent unanswered until its parking bound (57 after 15 s, bug 10 in
 * docs/NEMESIS.md). They go back to the head of the queue, in order, to be numbered anew:
 * one that did run is not run twice, as the metadata state machine keeps an Iggy client's
 * op at most once per (client, request) and answers the resend with the kept reply; server
 * ops (bootstrap, member release, a closed connection's logout) and Register are idempotent.
 */
static void control_plane_requeue_below(struct control_plane *plane, uint64_t answered)
{
    struct broker_request *below[VSR_PIPELINE_MAX];
    uint32_t kept = 0;
    uint32_t requeued = 0;
    for (uint32_t index = 0; index < plane->in_flight_count; index++) {
        struct broker_request *request = plane->in_flight[index];
        if (request->vsr_request >= answered) {
            plane->in_flight[kept++] = request;
            continue;
        }
        /* In number order (sending order; in_flight is not): insertion, a pipeline's few. */
        uint32_t at = requeued++;
        for (; at > 0 && below[at - 1]->vsr_request > request->vsr_request; at--) {
            below[at] = below[at - 1];
        }
        below[at] = request;
    }
    if (requeued == 0) {
        return;
    }
    plane->in_flight_count = kept;
    for (uint32_t index = requeued; index > 0; index--) {
        struct broker_request *request = below[index - 1];
        assert(request->next == NULL);
        request->next = plane->queue_head;
        if (plane->queue_head == NULL) {
            plane->queue_tail = request;
        }
        plane->queue_head = request;
    }
    plane->requests_requeued += requeued;
    log_info("metadata_requests_requeued", "count=%u answered=%llu first=%llu", requeued,
             (unsigned long long)answered, (unsigned long long)below[0]->vsr_request);
}

static void control_plane_bus_reply(u128 client, const struct vsr_header *header, const void *body,
                                    void *context)
{
    struct control_plane *plane = context;
    assert(plane != NULL && header != NULL);
    assert(client != 0);
    if (cluster_forward_reply_relay(plane->broker, 0, client, header, body)) {
        return; /* another node's client */
    }
    if (client != plane->client) {
        plane->replies_orphaned++; /* a previous boot's client, replayed */
        return;
    }
    if (header->command == VSR_COMMAND_EVICTION) {
        log_error("metadata_session_evicted", "reason=%u", header->u.eviction.reason);
        plane->session = 0;
        return;
    }
    if (header->u.reply.operation == VSR_OPERATION_REGISTER) {
        plane->session = header->u.reply.op;
        return;
    }
    cluster_forward_progress(&plane->forward);
    control_plane_requeue_below(plane, header->u.reply.request);
    for (uint32_t index = 0; index < plane->in_flight_count; index++) {
        struct broker_request *request = plane->in_flight[index];
        if (request->vsr_request != header->u.reply.request) {
            continue;
        }
        plane->in_flight[index] = plane->in_flight[--plane->in_flight_count];
        uint32_t size = header->size - VSR_HEADER_SIZE;
        assert(size <= request->buffer_capacity);
        memcpy(request->buffer, body, size);
        request->reply_size = size;
        request->reply_status = 0;
        request->has_reply = true;
        control_plane_reply_when_published(plane, request);
        return;
    }
    plane->replies_orphaned++; /* replayed ops after a restart: nobody waits */
}

static void control_plane_durable(struct partition *partition, uint64_t op_durable, int result,
                                  void *context)
{
    struct control_plane *plane = context;
    assert(plane != NULL && partition == &plane->log);
    journal_partition_on_durable(&plane->journal, op_durable, result);
}

/* ---- start-up ---- */

static int control_plane_open_log(struct control_plane *plane, struct io *io)
{
    const struct node_config *config = plane->broker->config;
    int written =
        snprintf(plane->directory, sizeof(plane->directory), "%s/metadata", config->data_dir);
    if (written < 0 || (size_t)written + 16 >= sizeof(plane->directory)) {
        return -RUNNEL_ETOOLARGE;
    }
    (void)mkdir(plane->directory, 0750);
    char checkpoints[IO_PATH_SIZE_MAX];
    memcpy(checkpoints, plane->directory, (size_t)written + 1); /* beside journal/ */
    memcpy(plane->directory + written, "/journal", sizeof("/journal"));
    if (mkdir(plane->directory, 0750) != 0 && errno != EEXIST) {
        return -errno;
    }
    struct partition_options options = {
        .directory = plane->directory,
        .group = {.kind = VSR_GROUP_KIND_METADATA},
        .cluster = plane->broker->cluster,
        .segment_size_bytes = 64u << 20,
        .preallocate_bytes = 0,
        .index_entries_max = 65536,
        .record_size_bytes_max = CONTROL_PLANE_RECORD_MAX,
        .buffer_size_bytes = 4u << 20,
        .flush_records_max = 4096,
        .segments_max = 4096,
        .faulty_max = 64,
        .durability_fsync = true,
        .direct_allowed = config->direct_io,
        .durable_callback = control_plane_durable,
        .context = plane,
    };
    int result = partition_init(&plane->log, &options);
    if (result != 0) {
        return result;
    }
    result = partition_open(&plane->log, io);
    if (result != 0) {
        partition_deinit(&plane->log);
        return result;
    }
    result = journal_partition_init(&plane->journal, &plane->log, CONTROL_PLANE_RECORD_MAX,
                                    VSR_PIPELINE_MAX + 2);
    assert(result == 0 || result == -ENOMEM);
    if (result == 0) {
        result = checkpoint_store_open(&plane->checkpoints, io, checkpoints);
        if (result != 0) {
            journal_partition_deinit(&plane->journal);
        }
    }
    if (result != 0) {
        partition_deinit(&plane->log);
        return result;
    }
    plane->is_log_open = true;
    return 0;
}

static int control_plane_open_replica(struct control_plane *plane)
{
    size_t state_size_max = metadata_snapshot_size_max(&plane->metadata);
    if (state_size_max > UINT32_MAX / 2) {
        log_error("metadata_limits_too_large", "snapshot_size_max=%zu", state_size_max);
        return -RUNNEL_ECONFIG; /* a checkpoint's state must fit a u32 size */
    }
    struct vsr_replica_config config = {
        .cluster = plane->broker->cluster,
        .group = {.kind = VSR_GROUP_KIND_METADATA},
        .replica = plane->broker->replica_index,
        .replica_count = plane->broker->replica_count > 1 ? plane->broker->replica_count : 1,
        .pipeline_max = 16,
        .ops_max = plane->broker->config->metadata_ops_max,
        .checkpoint_interval = plane->broker->config->metadata_ops_max / 2,
        .log_retained = true, /* the journal keeps every op: state transfer pulls the rest */
        .state_size_max = (uint32_t)state_size_max,
        .body_size_max = METADATA_OP_BODY_SIZE_MAX + BROKER_METADATA_PREFIX_SIZE,
        .reply_size_max = METADATA_REPLY_SIZE_MAX,
        .clients_max = CONTROL_PLANE_CLIENTS_MAX,
        .recovering = recovery_is_active(&plane->broker->recovery),
        .seed = plane->broker->boot_nonce,
    };
    struct vsr_superblock_state durable;
    int slot = superblock_storage_slot_open(plane->superblocks, &config.group, &durable);
    if (slot < 0) {
        return slot;
    }
    plane->superblock_slot = slot;
    struct vsr_journal journal = journal_partition_interface(&plane->journal);
    struct vsr_superblock superblock =
        superblock_storage_interface(plane->superblocks, (uint32_t)slot);
    superblock.checkpoint_write = checkpoint_store_write;
    superblock.checkpoint_read = checkpoint_store_read;
    superblock.checkpoint_context = &plane->checkpoints;
    struct vsr_state_machine machine = {.apply = control_plane_apply,
                                        .reset = control_plane_reset,
                                        .snapshot = control_plane_snapshot,
                                        .restore = control_plane_restore,
                                        .context = plane};
    struct vsr_bus bus = {
        .send = control_plane_bus_send, .reply = control_plane_bus_reply, .context = plane};
    int result = vsr_replica_init(&plane->replica, &config, &durable, &journal, &superblock,
                                  &machine, &bus, broker_shard_clock(plane->broker, 0));
    if (result != 0) {
        return result;
    }
    plane->is_replica_ready = true;
    log_info("metadata_group", "ops_max=%llu checkpoint_interval=%llu state_size_max=%zu",
             (unsigned long long)config.ops_max, (unsigned long long)config.checkpoint_interval,
             state_size_max);
    journal_partition_attach(&plane->journal, &plane->replica);
    superblock_storage_slot_attach(plane->superblocks, (uint32_t)slot, &plane->replica);
    return 0;
}

/* True when the replica leads, has executed every op it holds and nothing is pending. */
static bool control_plane_is_settled(const struct control_plane *plane)
{
    const struct vsr_replica *replica = &plane->replica;
    return plane->session != 0 && vsr_replica_is_primary(replica) &&
           replica->commit_min == replica->op && !journal_partition_is_busy(&plane->journal) &&
           !superblock_storage_is_busy(plane->superblocks) && plane->queue_head == NULL &&
           plane->in_flight_count == 0;
}

/* Start-up: runs the replica (I/O, durability reports, ticks) until it settles. */
static int control_plane_settle(struct control_plane *plane, struct io *io)
{
    assert(plane->is_replica_ready);
    for (uint32_t round = 0; round < CONTROL_PLANE_START_ROUNDS_MAX; round++) {
        const struct vsr_replica *replica = &plane->replica;
        if (plane->session == 0 && round % 8 == 0 && vsr_replica_is_primary(replica) &&
            replica->commit_min == replica->op) {
            broker_vsr_register(&plane->replica, plane->client); /* repeated until taken */
        }
        (void)io_run(io, 1000 * 1000);
        control_plane_pass(plane);
        (void)superblock_storage_pass(plane->superblocks);
        control_plane_pass(plane);
        if (control_plane_is_settled(plane)) {
            return 0;
        }
        if (round % 5 == 4) {
            vsr_replica_tick(&plane->replica);
        }
    }
    return -ETIMEDOUT;
}

/* Start-up of a cluster's replica: runs I/O until the journal has replayed (no quorum
 * is needed; the replica joins its view once the bus links are up). */
static int control_plane_replay(struct control_plane *plane, struct io *io)
{
    assert(plane->is_replica_ready);
    assert(cluster_forward_is_multi(plane->broker));
    for (uint32_t round = 0; round < CONTROL_PLANE_START_ROUNDS_MAX; round++) {
        (void)io_run(io, 1000 * 1000);
        (void)journal_partition_pass(&plane->journal);
        if (checkpoint_store_pass(&plane->checkpoints)) {
            vsr_replica_on_checkpoint_write(&plane->replica);
        }
        (void)superblock_storage_pass(plane->superblocks);
        if (!journal_partition_is_busy(&plane->journal) &&
            !checkpoint_store_is_busy(&plane->checkpoints) &&
            !superblock_storage_is_busy(plane->superblocks)) {
            return 0;
        }
    }
    return -ETIMEDOUT;
}

/* Hashes the root password for the bootstrap op (argon2id: start-up only). */
static int control_plane_bootstrap_hash(struct control_plane *plane)
{
    struct broker *broker = plane->broker;
    assert(sizeof(plane->bootstrap_hash) >= crypto_pwhash_STRBYTES);
    if (crypto_pwhash_str(plane->bootstrap_hash, broker->root_password,
                          strlen(broker->root_password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return -ENOMEM;
    }
    assert(plane->bootstrap_hash[0] != '\0');
    return 0;
}

/* Submits the root user's bootstrap op with the hash made by control_plane_bootstrap_hash
 * (a cluster hashes at start-up, so shard 0's loop never stalls on it later). */
static int control_plane_bootstrap_submit(struct control_plane *plane)
{
    struct broker *broker = plane->broker;
    const char *hash = plane->bootstrap_hash;
    assert(hash[0] != '\0');
    Runnel__Metadata__Bootstrap bootstrap = RUNNEL__METADATA__BOOTSTRAP__INIT;
    bootstrap.username.data = (uint8_t *)broker->root_username;
    bootstrap.username.len = strlen(broker->root_username);
    bootstrap.password_hash.data = (uint8_t *)hash;
    bootstrap.password_hash.len = strlen(hash);
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.operation_case = RUNNEL__METADATA__METADATA_OPERATION__OPERATION_BOOTSTRAP;
    operation.bootstrap = &bootstrap;
    return broker_server_op_submit(broker, 0, &operation, BROKER_PURPOSE_BOOTSTRAP, 0);
}

static int control_plane_bootstrap(struct control_plane *plane, struct io *io)
{
    struct broker *broker = plane->broker;
    int result = control_plane_bootstrap_hash(plane);
    if (result == 0) {
        result = control_plane_bootstrap_submit(plane);
    }
    if (result != 0) {
        return result;
    }
    result = control_plane_settle(plane, io);
    if (result == 0 && broker->is_root_password_random) {
        /* Printed once: the hash is all that is kept. */
        printf("runneld: root user \"%s\" created with password \"%s\" "
               "(set RUNNEL_ROOT_USERNAME/RUNNEL_ROOT_PASSWORD to choose)\n",
               broker->root_username, broker->root_password);
        fflush(stdout);
    }
    explicit_bzero(broker->root_password, sizeof(broker->root_password));
    return result;
}

int control_plane_start(struct control_plane *plane, struct io *io,
                        struct superblock_storage *superblocks, char *error_out,
                        size_t error_size_bytes)
{
    assert(plane != NULL && io != NULL && superblocks != NULL);
    assert(!plane->is_started);
    plane->superblocks = superblocks;
    plane->client = cluster_forward_client(plane->broker, broker_vsr_client_next(plane->broker, 0));
    bool is_multi = cluster_forward_is_multi(plane->broker);
    int result = control_plane_open_log(plane, io);
    if (result == 0) {
        result = control_plane_open_replica(plane);
    }
    if (result == 0) {
        /* A cluster: the group needs its peers, reached once the shards run. */
        result = is_multi ? control_plane_replay(plane, io) : control_plane_settle(plane, io);
    }
    if (result == 0 && is_multi && !plane->metadata.is_bootstrapped) {
        result = control_plane_bootstrap_hash(plane); /* submitted by the first primary */
    }
    if (result == 0 && !is_multi && !plane->metadata.is_bootstrapped) {
        result = control_plane_bootstrap(plane, io);
    }
    if (result != 0) {
        snprintf(error_out, error_size_bytes,
                 "cannot recover the metadata group under %s (%s): check the data directory",
                 plane->directory, error_text(result));
        return result;
    }
    control_plane_publish(plane); /* no shard reads yet: nothing holds a version */
    assert(metadata_versions_is_published(&plane->versions));
    plane->is_started = true;
    log_info("metadata_ready", "op=%llu commit=%llu view=%u streams=%u users=%u",
             (unsigned long long)plane->replica.op, (unsigned long long)plane->replica.commit_min,
             plane->replica.view, plane->metadata.streams_count, plane->metadata.users_count);
    return 0;
}

/* ---- steady state ---- */

void control_plane_submit(struct control_plane *plane, struct broker_request *request)
{
    assert(plane != NULL && request != NULL);
    assert(request->kind == BROKER_REQUEST_METADATA && request->next == NULL);
    if (plane->queue_tail == NULL) {
        plane->queue_head = request;
    } else {
        plane->queue_tail->next = request;
    }
    plane->queue_tail = request;
}

/* Sends request (numbered) to the group's primary: the local replica or over the bus. */
static int control_plane_send(struct control_plane *plane, struct broker_request *request,
                              bool *is_local_out)
{
    struct vsr_replica *replica = &plane->replica;
    assert(request->vsr_request != 0);
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, plane->broker->cluster, replica->view, 0,
                    &replica->config.group);
    header.u.request.client = plane->client;
    header.u.request.session = plane->session;
    header.u.request.request = request->vsr_request;
    header.u.request.operation = CONTROL_PLANE_OPERATION;
    const uint8_t *body = request->buffer + request->body_offset;
    return cluster_forward_request(plane->broker, 0, replica, &header, body, request->body_size,
                                   is_local_out);
}

/* Hands queued requests to the replica while it takes them. */
static void control_plane_pump(struct control_plane *plane)
{
    struct vsr_replica *replica = &plane->replica;
    for (uint32_t round = 0; round < VSR_PIPELINE_MAX && plane->queue_head != NULL; round++) {
        bool is_primary = vsr_replica_is_primary(replica);
        if (plane->session == 0 || (!is_primary && !cluster_forward_is_multi(plane->broker)) ||
            (is_primary && journal_partition_is_blocked(&plane->journal)) ||
            plane->in_flight_count == VSR_PIPELINE_MAX ||
            (is_primary && replica->op - replica->commit_max >= replica->config.pipeline_max)) {
            return;
        }
        struct broker_request *request = plane->queue_head;
        request->vsr_client = plane->client;
        request->vsr_request = plane->request_last + 1;
        uint64_t op_before = replica->op;
        bool is_local = false;
        if (control_plane_send(plane, request, &is_local) != 0 ||
            (is_local && replica->op != op_before + 1)) {
            return; /* not taken now: retried next pass */
        }
        plane->request_last++;
        plane->queue_head = request->next;
        if (plane->queue_head == NULL) {
            plane->queue_tail = NULL;
        }
        request->next = NULL;
        plane->in_flight[plane->in_flight_count++] = request;
    }
}

void control_plane_pass(struct control_plane *plane)
{
    assert(plane != NULL);
    if (!plane->is_replica_ready) {
        return;
    }
    int result = journal_partition_pass(&plane->journal);
    if (result != 0) {
        log_error("metadata_journal_failed", "error=\"%s\"", error_text(result));
    }
    if (checkpoint_store_pass(&plane->checkpoints)) {
        vsr_replica_on_checkpoint_write(&plane->replica);
    }
    control_plane_pump(plane);
    control_plane_publish(plane);
}

/* Gives up on every waiting request: 57 for those sent (outcome unknown), 58 for queued. */
static void control_plane_expire(struct control_plane *plane)
{
    for (uint32_t index = 0; index < plane->in_flight_count; index++) {
        struct broker_request *request = plane->in_flight[index];
        request->reply_status = IGGY_ERROR_TRANSIENT_NOT_COMMITTED;
        request->reply_size = 0;
        request->has_reply = true;
        broker_request_complete(plane->broker, 0, request);
    }
    plane->in_flight_count = 0;
    for (uint32_t round = 0; round < UINT32_MAX && plane->queue_head != NULL; round++) {
        struct broker_request *request = plane->queue_head;
        plane->queue_head = request->next;
        request->next = NULL;
        request->reply_status = IGGY_ERROR_TRANSIENT_NOT_ACCEPTED;
        request->reply_size = 0;
        request->has_reply = true;
        broker_request_complete(plane->broker, 0, request);
    }
    plane->queue_tail = NULL;
    assert(plane->queue_head == NULL);
}

/* A cluster, every tick: the session, the bootstrap (by a primary), re-sends, parking. */
/* True when a consumer-group member's client registered through node (replica index). */
static bool control_plane_node_has_members(const struct metadata *metadata, uint8_t node)
{
    for (uint32_t slot = 0; slot < metadata->config.limits.members_max; slot++) {
        const struct metadata_member *member = &metadata->members[slot];
        const struct metadata_client *client =
            member->is_used ? metadata_client_get(metadata, member->client) : NULL;
        if (client != NULL && client->node == node + 1) {
            return true;
        }
    }
    return false;
}

/*
 * The member lease: every tick, how long each peer's links have been down; on the
 * metadata primary, a peer down for cluster.member_lease_ms that still has members gets a
 * ReleaseNodeMembers op (again each lease while members remain: a refused or lost op is
 * retried). Shard 0 writes the metadata, so it reads it here without the lock.
 */
static void control_plane_member_lease(struct control_plane *plane)
{
    struct broker *broker = plane->broker;
    const struct vsr_replica *replica = &plane->replica;
    uint64_t lease_ticks = broker->config->member_lease_ms / broker->config->tick_ms + 1;
    bool is_leading = vsr_replica_is_primary(replica) && replica->status == VSR_STATUS_NORMAL &&
                      plane->session != 0 && plane->metadata.is_bootstrapped;
    plane->tick++;
    for (uint8_t peer = 0; peer < broker->replica_count; peer++) {
        if (peer == broker->replica_index || replica_bus_is_peer_up(broker->bus, 0, peer)) {
            plane->peer_down_ticks[peer] = 0;
            continue;
        }
        plane->peer_down_ticks[peer]++;
        if (!is_leading || plane->peer_down_ticks[peer] < lease_ticks ||
            (plane->peer_release_tick[peer] != 0 &&
             plane->tick - plane->peer_release_tick[peer] < lease_ticks) ||
            !control_plane_node_has_members(&plane->metadata, peer)) {
            continue;
        }
        Runnel__Metadata__ReleaseNodeMembers release = RUNNEL__METADATA__RELEASE_NODE_MEMBERS__INIT;
        release.node = peer;
        Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
        operation.operation_case =
            RUNNEL__METADATA__METADATA_OPERATION__OPERATION_RELEASE_NODE_MEMBERS;
        operation.release_node_members = &release;
        int result = broker_server_op_submit(broker, 0, &operation, BROKER_PURPOSE_RELEASE, 0);
        plane->peer_release_tick[peer] = plane->tick;
        log_warn("consumer_members_released", "node=%u unreachable_ms=%llu result=%d", peer,
                 (unsigned long long)(plane->peer_down_ticks[peer] * broker->config->tick_ms),
                 result);
    }
}

static void control_plane_cluster_tick(struct control_plane *plane)
{
    struct vsr_replica *replica = &plane->replica;
    bool is_waiting = plane->in_flight_count > 0 || plane->queue_head != NULL;
    enum cluster_forward_action action = cluster_forward_tick(&plane->forward, is_waiting);
    if (replica->view != plane->view_logged || replica->status != plane->status_logged) {
        plane->view_logged = replica->view;
        plane->status_logged = replica->status;
        log_info("metadata_view", "view=%u status=%u primary=%u op=%llu commit=%llu", replica->view,
                 replica->status, vsr_replica_primary_index(replica, replica->view),
                 (unsigned long long)replica->op, (unsigned long long)replica->commit_min);
    }
    if (replica->stats.state_transfers != plane->transfers_logged) {
        plane->transfers_logged = replica->stats.state_transfers;
        log_info("metadata_state_transfer", "checkpoint_op=%llu records_taken=%llu",
                 (unsigned long long)replica->checkpoint_op,
                 (unsigned long long)replica->stats.records_taken);
    }
    if (plane->session == 0 && cluster_forward_is_register_due(&plane->forward)) {
        cluster_forward_register(plane->broker, 0, replica, plane->client);
    }
    control_plane_member_lease(plane);
    if (plane->session != 0 && !plane->is_bootstrap_submitted && plane->bootstrap_hash[0] != '\0' &&
        vsr_replica_is_primary(replica) && replica->commit_min == replica->op &&
        !plane->metadata.is_bootstrapped) {
        plane->is_bootstrap_submitted = control_plane_bootstrap_submit(plane) == 0;
        if (plane->is_bootstrap_submitted && plane->broker->is_root_password_random) {
            printf("runneld: root user \"%s\" created with password \"%s\"\n",
                   plane->broker->root_username, plane->broker->root_password);
            fflush(stdout);
        }
        explicit_bzero(plane->broker->root_password, sizeof(plane->broker->root_password));
    }
    if (action == CLUSTER_FORWARD_EXPIRE) {
        /* refused_credit: forwarded requests the bus refused over the links' credit */
        log_warn("metadata_requests_parked_too_long",
                 "in_flight=%u view=%u session=%d refused_credit=%llu", plane->in_flight_count,
                 replica->view, plane->session != 0,
                 (unsigned long long)replica_bus_counter(plane->broker->bus,
                                                         REPLICA_BUS_REFUSED_CREDIT));
        vsr_replica_log_state(replica, "metadata");
        control_plane_expire(plane);
    } else if (action == CLUSTER_FORWARD_RESEND && plane->session != 0) {
        /* Also when this node became the primary: requests it forwarded to the old one may
         * never have reached a prepare (the replica ignores those in its pipeline and
         * answers executed ones from its client table). */
        struct broker_request *sent[VSR_PIPELINE_MAX];
        uint32_t count = plane->in_flight_count;
        memcpy(sent, plane->in_flight, count * sizeof(sent[0]));
        for (uint32_t index = 0; index < count; index++) {
            bool is_local = false; /* a reply may complete it meanwhile: a copy is walked */
            (void)control_plane_send(plane, sent[index], &is_local);
        }
    }
}

void control_plane_tick(struct control_plane *plane)
{
    assert(plane != NULL);
    if (plane->is_replica_ready) {
        vsr_replica_tick(&plane->replica);
        broker_cluster_publish_metadata(plane->broker, &plane->replica);
        if (plane->is_started && cluster_forward_is_multi(plane->broker)) {
            control_plane_cluster_tick(plane);
            recovery_tick(&plane->broker->recovery, &plane->replica, plane->metadata.op);
        }
    }
}

void control_plane_on_bus_message(struct control_plane *plane, const struct vsr_header *header,
                                  const void *body)
{
    assert(plane != NULL && header != NULL);
    assert(header->group.kind == VSR_GROUP_KIND_METADATA);
    if (!plane->is_started) {
        return; /* still replaying: the peer retransmits */
    }
    if (header->command == VSR_COMMAND_REPLY || header->command == VSR_COMMAND_EVICTION) {
        u128 client = header->command == VSR_COMMAND_REPLY ? header->u.reply.client
                                                           : header->u.eviction.client;
        if (client == plane->client) {
            control_plane_bus_reply(client, header, body, plane);
        }
        return; /* a reply for a previous boot's client: nobody waits */
    }
    vsr_replica_on_message(&plane->replica, header, body);
}
