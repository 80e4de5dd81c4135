/*
 * A shard's partition groups (see data_plane.h): opening and recovery, the partition
 * state machine (prepare stamping, apply), writes through the replica, and the pass and
 * tick. Polls are in data_plane_poll.c. Runs on the owning shard only.
 */
#include "node/data_plane.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/control_plane.h"
#include "node/broker_cluster.h"
#include "node/data_plane_internal.h"
#include "node/data_plane_sessions.h"
#include "node/recovery.h"
#include "node/replica_bus.h"
#include "proto/batch.h"
#include "proto/iggy_error.h"
#include "proto/iggy_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { DATA_PLANE_SETTLE_ROUNDS_MAX = 200000, DATA_PLANE_CLIENTS_MAX = 64 };

uint32_t data_plane_owner(uint32_t stream_id, uint32_t topic_id, uint32_t partition_id,
                          uint32_t shard_count)
{
    assert(shard_count > 0);
    uint64_t key = ((uint64_t)stream_id << 40) ^ ((uint64_t)topic_id << 20) ^ partition_id;
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    uint32_t owner = (uint32_t)(key % shard_count);
    assert(owner < shard_count);
    return owner;
}

int data_plane_init(struct data_plane *plane, struct broker *broker, uint32_t shard_index,
                    uint32_t metadata_slots_max)
{
    assert(plane != NULL && broker != NULL);
    assert(metadata_slots_max > 0);
    memset(plane, 0, sizeof(*plane));
    plane->broker = broker;
    plane->shard_index = shard_index;
    plane->partitions_max = broker->config->partitions_max;
    plane->ops_max = broker->config->partition_ops_max;
    /* A checkpoint every half ring: the ring's base moves up before the log reaches its top
     * (vsr/replica.h); cheap (a few hundred KiB written per half ring). */
    plane->checkpoint_interval = plane->ops_max / 2;
    plane->record_size_bytes_max = (uint32_t)node_config_record_bytes_max(broker->config);
    plane->partitions = calloc(plane->partitions_max, sizeof(struct data_partition));
    plane->by_metadata_slot = malloc(sizeof(int32_t) * metadata_slots_max);
    if (plane->partitions == NULL || plane->by_metadata_slot == NULL) {
        data_plane_deinit(plane);
        return -ENOMEM;
    }
    plane->metadata_slots_max = metadata_slots_max;
    for (uint32_t index = 0; index < metadata_slots_max; index++) {
        plane->by_metadata_slot[index] = -1;
    }
    int result = data_plane_retire_init(&plane->retire);
    if (result != 0) {
        data_plane_deinit(plane);
    }
    return result;
}

static void data_partition_close(struct data_partition *partition)
{
    assert(partition->is_used);
    assert(partition->plane != NULL);
    if (partition->superblock_slot >= 0) {
        vsr_replica_deinit(&partition->replica);
        superblock_storage_slot_close(&partition->plane->storage,
                                      (uint32_t)partition->superblock_slot);
    }
    /* No partition_close: the shard's ring is gone by now; the process exits and every
     * acknowledged write is already durable. */
    journal_partition_deinit(&partition->journal);
    partition_deinit(&partition->log);
    free(partition->poll_buffer);
    partition->is_used = false;
    struct data_plane *plane = partition->plane;
    while (plane->partitions_end > 0 && !plane->partitions[plane->partitions_end - 1].is_used) {
        plane->partitions_end--;
    }
}

void data_plane_partition_retire(struct data_partition *partition)
{
    struct data_plane *plane = partition->plane;
    assert(partition->is_used && partition->in_flight_count == 0);
    assert(partition->queue_head == NULL && partition->poll_active == NULL);
    assert(partition->poll_forward_head == NULL);
    if (plane->by_metadata_slot[partition->metadata_slot] ==
        (int32_t)(partition - plane->partitions)) {
        plane->by_metadata_slot[partition->metadata_slot] = -1;
    }
    partition_close(&partition->log);
    checkpoint_store_close(&partition->checkpoints);
    data_partition_close(partition);
}

void data_plane_deinit(struct data_plane *plane)
{
    assert(plane != NULL);
    for (uint32_t index = 0; plane->partitions != NULL && index < plane->partitions_max; index++) {
        if (plane->partitions[index].is_used) {
            data_partition_close(&plane->partitions[index]);
        }
    }
    if (plane->has_superblock) {
        superblock_storage_deinit(&plane->storage);
        superblock_deinit(&plane->superblock);
    }
    data_plane_heartbeat_deinit(plane);
    free(plane->partitions);
    free(plane->by_metadata_slot);
    if (plane->retire.queue != NULL) {
        data_plane_retire_deinit(&plane->retire);
    }
    plane->partitions = NULL;
    plane->by_metadata_slot = NULL;
    assert(plane->partitions == NULL);
}

static void data_plane_superblock_callback(struct superblock *superblock, uint64_t sequence,
                                           int result, void *context)
{
    struct data_plane *plane = context;
    assert(plane != NULL && superblock == &plane->superblock);
    superblock_storage_on_write(&plane->storage, sequence, result);
}

int data_plane_start(struct data_plane *plane, struct io *io, char *error_out,
                     size_t error_size_bytes)
{
    assert(plane != NULL && io != NULL);
    const struct node_config *config = plane->broker->config;
    plane->io = io;
    int written = snprintf(plane->superblock_path, sizeof(plane->superblock_path), "%s/shard-%u",
                           config->data_dir, plane->shard_index);
    if (written < 0 || (size_t)written + 16 >= sizeof(plane->superblock_path)) {
        snprintf(error_out, error_size_bytes, "data directory path too long");
        return -RUNNEL_ETOOLARGE;
    }
    (void)mkdir(plane->superblock_path, 0750);
    memcpy(plane->superblock_path + written, "/superblock", sizeof("/superblock"));
    struct superblock_options options = {
        .path = plane->superblock_path,
        .cluster = plane->broker->cluster,
        .shard_count = plane->broker->shard_count,
        .groups_max = plane->partitions_max + 1,
        .callback = data_plane_superblock_callback,
        .context = plane,
    };
    int result = superblock_init(&plane->superblock, &options);
    if (result == 0) {
        result = superblock_open(&plane->superblock, io);
        if (result == -ENOENT || result == -RUNNEL_ENOTFOUND) {
            result = superblock_format(&plane->superblock, io);
        }
    }
    if (result == 0) {
        result =
            superblock_storage_init(&plane->storage, &plane->superblock, plane->partitions_max + 1);
    }
    if (result != 0) {
        snprintf(error_out, error_size_bytes,
                 result == -RUNNEL_ECONFIG
                     ? "%s was formatted with another shard count: start with the same "
                       "shards.count"
                 : result == -RUNNEL_EFORMAT
                     ? "%s was written by a runnel version with another superblock layout"
                     : "cannot open the shard superblock %s",
                 plane->superblock_path);
        return result;
    }
    plane->has_superblock = true;
    result = data_plane_heartbeat_start(plane);
    if (result != 0) {
        snprintf(error_out, error_size_bytes, "cannot set the shard's heartbeats up: %s",
                 error_text(result));
    }
    return result;
}

/* ---- the partition state machine ---- */

static void data_partition_offsets_resume(struct data_partition *partition);

static const void *data_partition_prepare(struct vsr_header *prepare, const void *body,
                                          uint32_t body_size_bytes, void *scratch, void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && prepare != NULL);
    assert(prepare->command == VSR_COMMAND_PREPARE);
    data_partition_offsets_resume(partition); /* a cluster: whoever sent it, after the head */
    prepare->u.prepare.offset = partition->offset_prepared_next;
    if (prepare->u.prepare.operation != VSR_OPERATION_MESSAGES) {
        return body;
    }
    /* This node's own request (the one being submitted) is stamped in place: its buffer is
     * the partition's until the reply; a peer's request body is copied first. */
    const struct broker_request *submitting = partition->submitting;
    uint8_t *stamped = scratch;
    if (submitting != NULL && body == submitting->buffer + submitting->body_offset &&
        body_size_bytes == submitting->body_size) {
        stamped = submitting->buffer + submitting->body_offset;
    } else {
        memcpy(scratch, body, body_size_bytes);
    }
    uint32_t count = batch_message_count(stamped);
    batch_stamp(stamped, body_size_bytes, partition->group.partition_id,
                partition->offset_prepared_next, prepare->u.prepare.timestamp / 1000);
    prepare->u.prepare.message_count = count;
    partition->offset_prepared_next += count;
    return stamped;
}

static struct data_offset *data_partition_offset_find(struct data_partition *partition,
                                                      uint8_t kind, uint32_t id, bool is_create)
{
    assert(partition != NULL);
    assert(kind == 1 || kind == 2);
    struct data_offset *free_entry = NULL;
    for (uint32_t index = 0; index < DATA_PLANE_OFFSETS_MAX; index++) {
        struct data_offset *entry = &partition->offsets[index];
        if (entry->is_used && entry->kind == kind && entry->id == id) {
            return entry;
        }
        if (!entry->is_used && free_entry == NULL) {
            free_entry = entry;
        }
    }
    if (!is_create || free_entry == NULL) {
        return NULL;
    }
    memset(free_entry, 0, sizeof(*free_entry));
    free_entry->is_used = true;
    free_entry->kind = kind;
    free_entry->id = id;
    return free_entry;
}

struct data_offset *data_partition_offset(struct data_partition *partition, uint8_t kind,
                                          uint32_t id, bool is_create)
{
    assert(partition != NULL);
    assert(partition->is_used);
    return data_partition_offset_find(partition, kind, id, is_create);
}

/* Offset ops carry [kind u8][id u32][offset u64]. */
static uint32_t data_partition_apply_offset(struct data_partition *partition,
                                            const struct vsr_header *prepare, const uint8_t *body,
                                            uint8_t *reply)
{
    uint32_t body_size = prepare->size - VSR_HEADER_SIZE;
    struct iggy_writer writer;
    iggy_writer_init(&writer, reply, DATA_PLANE_REPLY_SIZE_MAX);
    if (body_size < 13) {
        iggy_wire_result_encode(&writer, IGGY_ERROR_INVALID_COMMAND);
        return writer.size;
    }
    uint32_t id = 0;
    uint64_t offset = 0;
    memcpy(&id, body + 1, sizeof(id));
    memcpy(&offset, body + 5, sizeof(offset));
    bool is_store = prepare->u.prepare.operation == VSR_OPERATION_OFFSET_STORE;
    struct data_offset *entry = data_partition_offset_find(partition, body[0], id, is_store);
    uint32_t code = 0;
    if (is_store && entry != NULL) {
        entry->has_offset = true;
        entry->offset = offset;
    } else if (!is_store && entry != NULL && entry->has_offset) {
        memset(entry, 0, sizeof(*entry));
    } else {
        code = is_store ? IGGY_ERROR_ERROR : IGGY_ERROR_CONSUMER_OFFSET_NOT_FOUND;
    }
    iggy_wire_result_encode(&writer, code);
    return writer.size;
}

void data_partition_publish(struct data_partition *partition)
{
    assert(partition->group.incarnation != 0);
    assert(partition->plane != NULL);
    /* Offsets are dense from 0: the log start is the count of messages no longer served. */
    uint64_t gone = partition->log_start_offset < partition->messages_count
                        ? partition->log_start_offset
                        : partition->messages_count;
    struct broker_stats_figures figures = {.message_count = partition->messages_count - gone,
                                           .size_bytes = partition->size_bytes,
                                           .segment_count = partition->log.segment_count,
                                           .offset_next = partition->commit_offset_next};
    broker_stats_publish(&partition->plane->broker->stats, partition->metadata_slot,
                         partition->group.incarnation, &figures);
}

static uint32_t data_partition_apply(const struct vsr_header *prepare, const void *body,
                                     void *reply_body, uint32_t reply_size_max, void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && prepare != NULL);
    assert(reply_size_max >= DATA_PLANE_REPLY_SIZE_MAX);
    uint64_t op = prepare->u.prepare.op;
    assert(op > partition->op_applied);
    partition->op_applied = op; /* polls read records up to here (ops skipped: registers) */
    if (prepare->u.prepare.operation == VSR_OPERATION_TRUNCATE_PREFIX) {
        uint32_t size = data_partition_apply_truncate(partition, prepare, body, reply_body);
        data_partition_publish(partition);
        return size;
    }
    if (prepare->u.prepare.operation != VSR_OPERATION_MESSAGES) {
        return data_partition_apply_offset(partition, prepare, body, reply_body);
    }
    uint32_t count = prepare->u.prepare.message_count;
    partition->commit_offset_next = prepare->u.prepare.offset + count;
    partition->messages_count += count;
    partition->size_bytes += prepare->size - VSR_HEADER_SIZE;
    data_partition_publish(partition);
    struct iggy_writer writer;
    iggy_writer_init(&writer, reply_body, DATA_PLANE_REPLY_SIZE_MAX);
    iggy_writer_u32(&writer, 1);
    iggy_writer_u32(&writer, partition->group.stream_id);
    iggy_writer_u32(&writer, partition->group.topic_id);
    iggy_writer_u32(&writer, partition->group.partition_id);
    iggy_writer_u64(&writer, prepare->u.prepare.offset);
    assert(writer.error == 0);
    return writer.size;
}

static void data_partition_reset(void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL);
    assert(partition->poll_buffer != NULL);
    memset(partition->offsets, 0, sizeof(partition->offsets));
    partition->op_applied = 0;
    partition->commit_offset_next = 0;
    partition->messages_count = 0;
    partition->size_bytes = 0;
    partition->log_start_offset = 0;
    partition->removable_op = 0;
}

static void data_partition_bus_send(uint8_t replica_target, const struct vsr_header *header,
                                    const void *body, void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && header != NULL);
    struct broker *broker = partition->plane->broker;
    assert(cluster_forward_is_multi(broker)); /* a cluster of one has no peers */
    replica_bus_vsr_send(replica_target, header, body,
                         replica_bus_vsr_context(broker->bus, partition->plane->shard_index));
}

/* Completes every in-flight request of (client, number) with reply (a resend waits on its
 * original's prepare, so one reply may answer two requests); returns how many. */
static uint32_t data_partition_answer(struct data_partition *partition, u128 client,
                                      uint64_t number, const struct vsr_header *reply,
                                      const void *body, uint32_t status)
{
    assert(reply->command == VSR_COMMAND_REPLY || reply->command == VSR_COMMAND_EVICTION);
    assert(partition->in_flight_count <= VSR_PIPELINE_MAX);
    uint32_t size = reply->size - VSR_HEADER_SIZE;
    uint32_t answered = 0;
    for (uint32_t index = 0; index < partition->in_flight_count;) {
        struct broker_request *request = partition->in_flight[index];
        if (request->vsr_client != client || request->vsr_request != number) {
            index++;
            continue;
        }
        partition->in_flight[index] = partition->in_flight[--partition->in_flight_count];
        if (request == partition->submitting) {
            partition->submitting = NULL; /* answered during the replica's on_request */
        }
        assert(size <= request->buffer_capacity);
        request->reply_status = status;
        request->reply_op = reply->command == VSR_COMMAND_REPLY ? reply->u.reply.op : 0;
        request->reply_size = status == 0 ? size : 0;
        if (status == 0 && size > 0) {
            memcpy(request->buffer, body, size);
        }
        request->has_reply = true;
        broker_request_complete(partition->plane->broker, partition->plane->shard_index, request);
        answered++;
    }
    return answered;
}

/* True when a request of client waits in flight on this node. */
static bool data_partition_is_in_flight(const struct data_partition *partition, u128 client)
{
    assert(partition->in_flight_count <= VSR_PIPELINE_MAX);
    for (uint32_t index = 0; index < partition->in_flight_count; index++) {
        if (partition->in_flight[index]->vsr_client == client) {
            return true;
        }
    }
    return false;
}

/* A reply to an exactly-once client of the group (data_plane_sessions.h). */
static void data_partition_bus_reply_exactly_once(struct data_partition *partition, u128 client,
                                                  const struct vsr_header *header, const void *body)
{
    assert(client != partition->client);
    if (header->command == VSR_COMMAND_EVICTION) {
        /* Its session was evicted between the lookup and the request: the client replays
         * the same number (status 58), which registers it again. */
        for (uint32_t round = 0; round <= VSR_PIPELINE_MAX; round++) {
            uint64_t number = 0;
            for (uint32_t index = 0; index < partition->in_flight_count && number == 0; index++) {
                if (partition->in_flight[index]->vsr_client == client) {
                    number = partition->in_flight[index]->vsr_request;
                }
            }
            if (number == 0) {
                return;
            }
            (void)data_partition_answer(partition, client, number, header, NULL,
                                        IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
        }
        return;
    }
    if (header->u.reply.operation == VSR_OPERATION_REGISTER ||
        header->u.reply.operation == VSR_OPERATION_LOGOUT) {
        return; /* the session exists now (the waiting op goes next pass), or is released */
    }
    uint32_t status = data_plane_sessions_reply_status(header);
    if (data_partition_answer(partition, client, header->u.reply.request, header, body, status) ==
        0) {
        partition->plane->replies_orphaned++; /* its connection and resends are gone */
    }
}

static void data_partition_bus_reply(u128 client, const struct vsr_header *header, const void *body,
                                     void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && header != NULL);
    if (client != partition->client && data_partition_is_in_flight(partition, client)) {
        data_partition_bus_reply_exactly_once(partition, client, header, body);
        return; /* an exactly-once client of this node (maybe also heard over the bus) */
    }
    if (cluster_forward_reply_relay(partition->plane->broker, partition->plane->shard_index, client,
                                    header, body)) {
        return; /* another node's client */
    }
    if (client != partition->client) {
        data_partition_bus_reply_exactly_once(partition, client, header, body);
        return;
    }
    if (header->command == VSR_COMMAND_EVICTION) {
        log_warn("partition_session_evicted", "directory=%s", partition->directory);
        partition->session = 0; /* registered again by the pump */
        return;
    }
    if (header->u.reply.operation == VSR_OPERATION_REGISTER) {
        partition->session = header->u.reply.op;
        return;
    }
    cluster_forward_progress(&partition->forward);
    if (data_partition_answer(partition, client, header->u.reply.request, header, body, 0) == 0) {
        partition->plane->replies_orphaned++; /* a server op (auto-commit) */
    }
}

static void data_partition_durable(struct partition *log, uint64_t op_durable, int result,
                                   void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && log == &partition->log);
    journal_partition_on_durable(&partition->journal, op_durable, result);
}

/* ---- opening a partition (in the pass: io_wait, outside dispatch) ---- */

static int data_plane_mkdirs(char *path)
{
    assert(path != NULL && path[0] != '\0');
    size_t size = strlen(path);
    assert(size < IO_PATH_SIZE_MAX);
    for (size_t index = 1; index <= size; index++) {
        if (path[index] != '/' && path[index] != '\0') {
            continue;
        }
        char saved = path[index];
        path[index] = '\0';
        int result = mkdir(path, 0750);
        path[index] = saved;
        if (result != 0 && errno != EEXIST) {
            return -errno;
        }
    }
    return 0;
}

static int data_partition_open_log(struct data_partition *partition,
                                   const struct broker_partition_target *target)
{
    struct data_plane *plane = partition->plane;
    const struct node_config *config = plane->broker->config;
    int result = partition_directory_path(partition->directory, sizeof(partition->directory),
                                          config->data_dir, &target->group);
    if (result == 0) {
        result = data_plane_mkdirs(partition->directory);
    }
    if (result != 0) {
        return result;
    }
    uint64_t segment_size = target->segment_size_bytes;
    if (segment_size < 4ull * plane->record_size_bytes_max) {
        segment_size = 4ull * plane->record_size_bytes_max;
    }
    struct partition_options options = {
        .directory = partition->directory,
        .group = target->group,
        .cluster = plane->broker->cluster,
        .segment_size_bytes = segment_size,
        .preallocate_bytes = config->preallocate_bytes,
        .index_entries_max = 65536,
        .record_size_bytes_max = plane->record_size_bytes_max,
        .buffer_size_bytes = 2ull * plane->record_size_bytes_max + 4 * IO_SECTOR_SIZE,
        .flush_records_max = 4096,
        .segments_max = 4096,
        .faulty_max = 64,
        .durability_fsync = target->is_fsync,
        .direct_allowed = config->direct_io,
        .durable_callback = data_partition_durable,
        .context = partition,
    };
    result = partition_init(&partition->log, &options);
    if (result != 0) {
        return result;
    }
    result = partition_open(&partition->log, plane->io);
    if (result == 0) {
        result = checkpoint_store_open(&partition->checkpoints, plane->io, partition->directory);
        if (result != 0) {
            partition_close(&partition->log);
        }
    }
    if (result == 0) {
        result = journal_partition_init(&partition->journal, &partition->log,
                                        plane->record_size_bytes_max, VSR_PIPELINE_MAX + 2);
        if (result != 0) {
            partition_close(&partition->log);
            checkpoint_store_close(&partition->checkpoints);
        }
    }
    if (result != 0) {
        partition_deinit(&partition->log);
    }
    return result;
}

static int data_partition_open_replica(struct data_partition *partition)
{
    struct data_plane *plane = partition->plane;
    struct vsr_replica_config config = {
        .cluster = plane->broker->cluster,
        .group = partition->group,
        .replica = plane->broker->replica_index,
        .replica_count = plane->broker->replica_count > 1 ? plane->broker->replica_count : 1,
        .pipeline_max = plane->broker->config->pipeline_depth_max,
        .ops_max = plane->ops_max,
        .checkpoint_interval = plane->checkpoint_interval,
        .log_retained = true, /* the partition log is the data: never replaced by a checkpoint */
        .state_size_max = DATA_PLANE_SNAPSHOT_SIZE_MAX,
        .body_size_max = plane->record_size_bytes_max - VSR_HEADER_SIZE,
        .reply_size_max = DATA_PLANE_REPLY_SIZE_MAX,
        .clients_max = DATA_PLANE_CLIENTS_MAX,
        .exactly_once_window_max = DATA_PLANE_SESSIONS_WINDOW_MAX,
        .session_ttl_ns = DATA_PLANE_SESSIONS_TTL_NS,
        .heartbeat_shared = plane->has_heartbeat,
        .recovering = recovery_is_active(&plane->broker->recovery),
        .seed = plane->broker->boot_nonce ^ partition->group.incarnation,
    };
    struct vsr_superblock_state durable;
    int slot = superblock_storage_slot_open(&plane->storage, &partition->group, &durable);
    if (slot < 0) {
        return slot;
    }
    struct vsr_journal journal = journal_partition_interface(&partition->journal);
    struct vsr_superblock superblock =
        superblock_storage_interface(&plane->storage, (uint32_t)slot);
    superblock.checkpoint_write = checkpoint_store_write;
    superblock.checkpoint_read = checkpoint_store_read;
    superblock.checkpoint_context = &partition->checkpoints;
    struct vsr_state_machine machine = {.apply = data_partition_apply,
                                        .reset = data_partition_reset,
                                        .context = partition,
                                        .prepare = data_partition_prepare,
                                        .snapshot = data_partition_snapshot,
                                        .restore = data_partition_restore};
    struct vsr_bus bus = {
        .send = data_partition_bus_send, .reply = data_partition_bus_reply, .context = partition};
    int result =
        vsr_replica_init(&partition->replica, &config, &durable, &journal, &superblock, &machine,
                         &bus, broker_shard_clock(plane->broker, plane->shard_index));
    if (result != 0) {
        superblock_storage_slot_close(&plane->storage, (uint32_t)slot);
        return result;
    }
    partition->superblock_slot = slot;
    journal_partition_attach(&partition->journal, &partition->replica);
    superblock_storage_slot_attach(&plane->storage, (uint32_t)slot, &partition->replica);
    return 0;
}

/* Runs the new replica until it leads and has replayed its log. */
static int data_partition_settle(struct data_partition *partition)
{
    struct data_plane *plane = partition->plane;
    struct vsr_replica *replica = &partition->replica;
    bool is_multi = cluster_forward_is_multi(plane->broker);
    for (uint32_t round = 0; round < DATA_PLANE_SETTLE_ROUNDS_MAX; round++) {
        (void)journal_partition_pass(&partition->journal);
        if (checkpoint_store_pass(&partition->checkpoints)) {
            vsr_replica_on_checkpoint_write(replica);
        }
        (void)superblock_storage_pass(&plane->storage);
        if (is_multi && !journal_partition_is_busy(&partition->journal) &&
            !superblock_storage_is_busy(&plane->storage)) {
            return 0; /* a cluster: replayed; the view and the session come over the bus */
        }
        bool is_caught_up = vsr_replica_is_primary(replica) && replica->commit_min == replica->op &&
                            !journal_partition_is_busy(&partition->journal);
        if (is_caught_up && partition->session == 0 && round % 8 == 0) {
            partition->offset_prepared_next = partition->log.offset_next;
            broker_vsr_register(replica, partition->client); /* repeated until taken */
        }
        if (is_caught_up && partition->session != 0) {
            partition->offset_prepared_next = partition->log.offset_next;
            return 0;
        }
        (void)io_run(plane->io, 1000 * 1000);
        if (round % 5 == 4) {
            vsr_replica_tick(replica);
        }
    }
    return -ETIMEDOUT;
}

static int data_partition_allocate(struct data_partition *partition)
{
    partition->poll_buffer_size_bytes =
        ((uint64_t)partition->plane->record_size_bytes_max + 3 * IO_SECTOR_SIZE) &
        ~(uint64_t)(IO_SECTOR_SIZE - 1);
    partition->poll_buffer = aligned_alloc(IO_SECTOR_SIZE, partition->poll_buffer_size_bytes);
    if (partition->poll_buffer == NULL) {
        return -ENOMEM;
    }
    return 0;
}

/* Opens the partition a request names (its directory, log, replica); -1 on failure. */
static int32_t data_plane_open(struct data_plane *plane,
                               const struct broker_partition_target *target)
{
    int32_t free_index = -1;
    for (uint32_t index = 0; index < plane->partitions_max && free_index < 0; index++) {
        free_index = plane->partitions[index].is_used ? -1 : (int32_t)index;
    }
    if (free_index < 0) {
        return -1;
    }
    struct data_partition *partition = &plane->partitions[free_index];
    memset(partition, 0, sizeof(*partition));
    partition->plane = plane;
    partition->group = target->group;
    partition->metadata_slot = target->metadata_slot;
    partition->superblock_slot = -1;
    partition->client = cluster_forward_client(
        plane->broker, broker_vsr_client_next(plane->broker, plane->shard_index));
    int result = data_partition_allocate(partition);
    if (result == 0) {
        result = data_partition_open_log(partition, target);
        if (result != 0) {
            free(partition->poll_buffer);
        }
    }
    partition->is_used = result == 0;
    if (partition->is_used && (uint32_t)free_index >= plane->partitions_end) {
        plane->partitions_end = (uint32_t)free_index + 1;
    }
    if (result == 0) {
        result = data_partition_open_replica(partition);
        result = result == 0 ? data_partition_settle(partition) : result;
    }
    if (result != 0) {
        log_error("partition_open_failed", "directory=%s error=\"%s\"", partition->directory,
                  error_text(result));
        if (partition->is_used) {
            data_partition_close(partition);
        }
        return -1;
    }
    data_partition_publish(partition);
    log_info("partition_open", "directory=%s op=%llu next_offset=%llu", partition->directory,
             (unsigned long long)partition->replica.op,
             (unsigned long long)partition->commit_offset_next);
    plane->by_metadata_slot[target->metadata_slot] = free_index;
    return free_index;
}

/* ---- requests ---- */

void data_plane_reply_status(struct data_plane *plane, struct broker_request *request,
                             uint32_t status)
{
    assert(plane != NULL && request != NULL);
    assert(status != 0);
    request->reply_status = status;
    request->reply_size = 0;
    request->has_reply = true;
    broker_request_complete(plane->broker, plane->shard_index, request);
}

static struct data_partition *data_plane_find(struct data_plane *plane,
                                              const struct broker_partition_target *target)
{
    assert(target->metadata_slot < plane->metadata_slots_max);
    int32_t index = plane->by_metadata_slot[target->metadata_slot];
    if (index < 0) {
        return NULL;
    }
    struct data_partition *partition = &plane->partitions[index];
    if (!partition->is_used || !vsr_group_is_equal(&partition->group, &target->group)) {
        return NULL;
    }
    return partition;
}

static void data_plane_queue(struct broker_request **head, struct broker_request **tail,
                             struct broker_request *request)
{
    assert(request->next == NULL);
    assert((*head == NULL) == (*tail == NULL));
    if (*tail == NULL) {
        *head = request;
    } else {
        (*tail)->next = request;
    }
    *tail = request;
}

static struct broker_request *data_plane_dequeue(struct broker_request **head,
                                                 struct broker_request **tail)
{
    struct broker_request *request = *head;
    assert(request != NULL);
    *head = request->next;
    if (*head == NULL) {
        *tail = NULL;
    }
    request->next = NULL;
    return request;
}

/* Offset ops carry [kind u8][id u32][offset u64] in the request's buffer. */
static void data_plane_offset_body(struct broker_request *request)
{
    assert(request->buffer_capacity >= 13);
    request->buffer[0] = (uint8_t)request->partition.consumer_kind;
    memcpy(request->buffer + 1, &request->partition.consumer_id, sizeof(uint32_t));
    memcpy(request->buffer + 5, &request->partition.offset, sizeof(uint64_t));
    request->body_offset = 0;
    request->body_size = 13;
}

/* Monotonic now on the owning shard's clock. */
static uint64_t data_plane_now_ns(const struct data_plane *plane)
{
    return clock_monotonic_ns(broker_shard_clock(plane->broker, plane->shard_index));
}

/* True when request (a write) reached this shard longer ago than a hand-off may follow
 * (cluster_forward_handoff_ns_max): its client has given up on it, so it is answered and
 * never sent to a primary (again): executed after a later write of that client through
 * another node, it would undo it. A cluster of one has no hand-off to bound. */
static bool data_partition_write_is_late(const struct data_partition *partition,
                                         const struct broker_request *request)
{
    const struct data_plane *plane = partition->plane;
    assert(request->accepted_ns != 0);
    if (!cluster_forward_is_multi(plane->broker)) {
        return false;
    }
    uint64_t now_ns = data_plane_now_ns(plane);
    return now_ns > request->accepted_ns &&
           now_ns - request->accepted_ns > cluster_forward_handoff_ns_max(plane->broker);
}

static void data_partition_write_submit(struct data_partition *partition,
                                        struct broker_request *request)
{
    request->accepted_ns = data_plane_now_ns(partition->plane);
    assert(request->accepted_ns != 0);
    /* No op limit: the group checkpoints and its log ring wraps. While the ring has no free
     * slot (a checkpoint not yet durable on every replica) the replica does not take the
     * write and it waits queued (answered 57/58 if that lasts: see data_partition_expire). */
    if (request->kind != BROKER_REQUEST_SEND) {
        data_plane_offset_body(request);
    }
    data_plane_queue(&partition->queue_head, &partition->queue_tail, request);
}

/*
 * DeleteSegments resolved on the owner (broker_delete_segments): the first offset of the
 * segment after the request's count of the oldest sealed segments that still hold offsets
 * at or above the watermark (the tail segment is never among them); the watermark itself
 * when there are none. Replies with that offset (8 bytes).
 */
static void data_plane_segments(struct data_partition *partition, struct broker_request *request)
{
    const struct partition *log = &partition->log;
    uint64_t watermark = request->partition.log_start_offset > partition->log_start_offset
                             ? request->partition.log_start_offset
                             : partition->log_start_offset;
    uint32_t sealed = log->segment_count > 0 ? log->segment_count - 1 : 0;
    uint32_t first = 0; /* sealed segments wholly below the watermark are gone already */
    for (; first < sealed && log->segments[first + 1].base_offset <= watermark; first++) {
    }
    uint32_t end =
        request->partition.count < sealed - first ? first + request->partition.count : sealed;
    uint64_t offset = end > first ? log->segments[end].base_offset : watermark;
    assert(offset >= watermark || end == first);
    memcpy(request->buffer, &offset, sizeof(offset));
    request->reply_size = sizeof(offset);
    request->reply_status = 0;
    request->has_reply = true;
    broker_request_complete(partition->plane->broker, partition->plane->shard_index, request);
}

/* An exactly-once client logged out: a logout op in every group this shard leads that
 * holds its session; the request goes back at once (nothing waits on it). */
static void data_plane_release(struct data_plane *plane, struct broker_request *request)
{
    assert(request->kind == BROKER_REQUEST_RELEASE);
    assert(request->vsr_client != 0);
    for (uint32_t index = 0; index < plane->partitions_end; index++) {
        struct data_partition *partition = &plane->partitions[index];
        struct vsr_replica *replica = &partition->replica;
        struct vsr_header header;
        if (partition->is_used && vsr_replica_is_primary(replica) &&
            replica->op - replica->commit_max < replica->config.pipeline_max &&
            data_plane_sessions_logout(replica, request->vsr_client, &header)) {
            vsr_replica_on_message(replica, &header, NULL); /* the TTL covers a refusal */
        }
    }
    request->reply_status = 0;
    request->reply_size = 0;
    request->has_reply = true;
    broker_request_complete(plane->broker, plane->shard_index, request);
}

void data_plane_submit(struct data_plane *plane, struct broker_request *request)
{
    assert(plane != NULL && request != NULL);
    assert(request->next == NULL);
    if (request->kind == BROKER_REQUEST_RELEASE) {
        data_plane_release(plane, request);
        return;
    }
    struct data_partition *partition = data_plane_find(plane, &request->partition);
    if (partition == NULL) {
        data_plane_queue(&plane->open_head, &plane->open_tail, request);
        return;
    }
    switch (request->kind) {
    case BROKER_REQUEST_POLL:
    case BROKER_REQUEST_OFFSET_GET:
        data_plane_poll_route(partition, request);
        break;
    case BROKER_REQUEST_SEGMENTS:
        data_plane_segments(partition, request);
        break;
    default:
        data_partition_write_submit(partition, request);
        break;
    }
}

static uint8_t data_plane_operation_of(enum broker_request_kind kind)
{
    static const uint8_t operations[] = {
        [BROKER_REQUEST_SEND] = VSR_OPERATION_MESSAGES,
        [BROKER_REQUEST_OFFSET_STORE] = VSR_OPERATION_OFFSET_STORE,
        [BROKER_REQUEST_OFFSET_DELETE] = VSR_OPERATION_OFFSET_DELETE,
    };
    assert(kind < sizeof(operations) && operations[kind] != 0);
    assert(operations[kind] >= VSR_OPERATION_STATE_MACHINE_MIN);
    return operations[kind];
}

/* Takes request out of in_flight; false when it is not there (a reply completed it). */
static bool data_partition_in_flight_remove(struct data_partition *partition,
                                            const struct broker_request *request)
{
    assert(partition->in_flight_count <= VSR_PIPELINE_MAX);
    for (uint32_t index = 0; index < partition->in_flight_count; index++) {
        if (partition->in_flight[index] == request) {
            partition->in_flight[index] = partition->in_flight[--partition->in_flight_count];
            return true;
        }
    }
    return false;
}

/* Takes back a write the replica did not take (it cannot prepare now, e.g. while it
 * executes the previous view's ops): out of in_flight, first in the queue again. */
static void data_partition_requeue(struct data_partition *partition, struct broker_request *request)
{
    assert(partition->in_flight_count > 0);
    (void)data_partition_in_flight_remove(partition, request);
    request->next = partition->queue_head;
    partition->queue_head = request;
    if (partition->queue_tail == NULL) {
        partition->queue_tail = request;
    }
    assert(partition->queue_head == request);
}

/* Hands header (sealed or not) to the group's primary, local or over the bus. */
static int data_partition_forward(struct data_partition *partition, struct vsr_header *header,
                                  const void *body, uint32_t body_size, bool *is_local_out)
{
    return cluster_forward_request(partition->plane->broker, partition->plane->shard_index,
                                   &partition->replica, header, body, body_size, is_local_out);
}

/* The request for an exactly-once write (its own client id and number), or the register
 * it needs first (false), from the group's committed sessions on this node. */
static bool data_partition_exactly_once_header(struct data_partition *partition,
                                               const struct broker_request *request,
                                               struct vsr_header *header_out)
{
    assert(request->is_exactly_once && request->vsr_request != 0);
    return data_plane_sessions_request(&partition->replica, request->vsr_client,
                                       request->vsr_request, data_plane_operation_of(request->kind),
                                       request->buffer + request->body_offset, request->body_size,
                                       header_out);
}

/*
 * An exactly-once client's write (data_plane_sessions.h): registers the client with the
 * group first when it has no session there (the write stays queued), then hands the write
 * over with the client's own number. A resend of a number still in the pipeline waits in
 * in_flight for that prepare's reply; a kept or too-old number is answered at once.
 * False when the replica cannot take it now.
 */
static bool data_partition_pump_exactly_once(struct data_partition *partition,
                                             struct broker_request *request)
{
    struct vsr_replica *replica = &partition->replica;
    assert(request->is_exactly_once && request->vsr_client != 0);
    const uint8_t *body = request->buffer + request->body_offset;
    struct vsr_header header;
    bool is_local = false;
    if (!data_partition_exactly_once_header(partition, request, &header)) {
        if (vsr_replica_is_primary(replica) ||
            cluster_forward_is_exactly_once_register_due(&partition->forward)) {
            (void)data_partition_forward(partition, &header, NULL, 0, &is_local);
        }
        return false; /* the implicit register goes first; the write waits for its commit */
    }
    uint64_t op_before = replica->op;
    (void)data_plane_dequeue(&partition->queue_head, &partition->queue_tail);
    partition->in_flight[partition->in_flight_count++] = request;
    partition->submitting = request;
    int result = data_partition_forward(partition, &header, body, request->body_size, &is_local);
    if (partition->submitting == NULL) {
        return true; /* the kept reply, or "too old": answered in on_message */
    }
    partition->submitting = NULL;
    if ((!is_local && result == 0) || (is_local && replica->op == op_before + 1) ||
        (is_local &&
         data_plane_sessions_is_pending(replica, request->vsr_client, request->vsr_request))) {
        return true; /* a new prepare, a resend joined to its original, or sent to the primary */
    }
    data_partition_requeue(partition, request);
    return false;
}

/* Sends a numbered write to the partition's primary: the local replica or over the bus. */
static int data_partition_send(struct data_partition *partition, struct broker_request *request,
                               bool *is_local_out)
{
    assert(request->vsr_request != 0);
    struct vsr_replica *replica = &partition->replica;
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, replica->config.cluster, replica->view, 0,
                    &partition->group);
    header.u.request.client = partition->client;
    header.u.request.session = partition->session;
    header.u.request.request = request->vsr_request;
    header.u.request.operation = data_plane_operation_of(request->kind);
    const uint8_t *body = request->buffer + request->body_offset;
    return cluster_forward_request(partition->plane->broker, partition->plane->shard_index, replica,
                                   &header, body, request->body_size, is_local_out);
}

/* A cluster's primary (maybe new after a view change), about to prepare an op after its
 * head: offsets continue after the head's prepare, which the primary that made it stamped
 * with the next offset (every op is, DESIGN.md §4), plus its messages. */
static void data_partition_offsets_resume(struct data_partition *partition)
{
    const struct vsr_replica *replica = &partition->replica;
    assert(partition->is_used);
    assert(replica->op >= replica->commit_min);
    if (!cluster_forward_is_multi(partition->plane->broker) || !vsr_replica_is_primary(replica)) {
        return;
    }
    const struct vsr_header *head = vsr_replica_header(replica, replica->op);
    uint64_t next = partition->commit_offset_next;
    if (head != NULL && replica->op > 0) {
        next = head->u.prepare.offset + (head->u.prepare.operation == VSR_OPERATION_MESSAGES
                                             ? head->u.prepare.message_count
                                             : 0);
    }
    if (next != partition->offset_prepared_next) {
        log_debug("partition_offsets_resume", "directory=%s op=%llu commit=%llu next=%llu was=%llu",
                  partition->directory, (unsigned long long)replica->op,
                  (unsigned long long)replica->commit_min, (unsigned long long)next,
                  (unsigned long long)partition->offset_prepared_next);
    }
    partition->offset_prepared_next = next;
}

/* Hands one queued write to the replica; false when it cannot take one now. A write
 * queued too long is answered 58 instead (never handed on: nothing executed). */
static bool data_partition_pump_one(struct data_partition *partition)
{
    struct vsr_replica *replica = &partition->replica;
    struct broker_request *request = partition->queue_head;
    if (data_partition_write_is_late(partition, request)) {
        (void)data_plane_dequeue(&partition->queue_head, &partition->queue_tail);
        partition->plane->writes_late++;
        data_plane_reply_status(partition->plane, request, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
        return true;
    }
    bool is_primary = vsr_replica_is_primary(replica);
    bool is_multi = cluster_forward_is_multi(partition->plane->broker);
    if (partition->session == 0 || (!is_primary && !is_multi) ||
        (is_primary && journal_partition_is_blocked(&partition->journal)) ||
        partition->in_flight_count == VSR_PIPELINE_MAX ||
        (is_primary && replica->op - replica->commit_max >= replica->config.pipeline_max)) {
        if (partition->session == 0 && is_primary && !is_multi) {
            broker_vsr_register(replica, partition->client); /* evicted: register again */
        }
        return false;
    }
    if (request->is_exactly_once) {
        return data_partition_pump_exactly_once(partition, request);
    }
    request->vsr_client = partition->client;
    request->vsr_request = partition->request_last + 1;
    uint64_t op_before = replica->op;
    (void)data_plane_dequeue(&partition->queue_head, &partition->queue_tail);
    partition->in_flight[partition->in_flight_count++] = request;
    partition->submitting = request;
    bool is_local = false;
    int result = data_partition_send(partition, request, &is_local);
    if (partition->submitting == NULL) {
        return true; /* answered from the replica's client table */
    }
    partition->submitting = NULL;
    if ((!is_local && result == 0) || (is_local && replica->op == op_before + 1)) {
        partition->request_last++;
        return true;
    }
    /* Not taken (no primary reachable, or one that cannot prepare now): first in line
     * again. The node's own numbers never repeat, so nothing was executed. */
    data_partition_requeue(partition, request);
    return false;
}

static void data_partition_pump(struct data_partition *partition)
{
    assert(partition->is_used);
    for (uint32_t round = 0; round < VSR_PIPELINE_MAX && partition->queue_head != NULL; round++) {
        if (!data_partition_pump_one(partition)) {
            return;
        }
    }
}

static void data_plane_open_pending(struct data_plane *plane)
{
    for (uint32_t round = 0; round < 64 && plane->open_head != NULL; round++) {
        struct broker_request *request = data_plane_dequeue(&plane->open_head, &plane->open_tail);
        if (data_plane_find(plane, &request->partition) == NULL &&
            data_plane_retire_is_stale(plane, &request->partition.group)) {
            /* routed before a delete or purge committed: never recreate its directory */
            data_plane_reply_status(plane, request, IGGY_ERROR_PARTITION_NOT_FOUND);
            continue;
        }
        if (data_plane_find(plane, &request->partition) == NULL &&
            data_plane_open(plane, &request->partition) < 0) {
            data_plane_reply_status(plane, request, IGGY_ERROR_ERROR);
            continue;
        }
        data_plane_submit(plane, request);
    }
}

/* The partition of group among the open ones, or NULL. */
struct data_partition *data_plane_find_group(struct data_plane *plane,
                                             const struct vsr_group *group)
{
    assert(group->kind == VSR_GROUP_KIND_PARTITION);
    for (uint32_t index = 0; index < plane->partitions_end; index++) {
        struct data_partition *partition = &plane->partitions[index];
        if (partition->is_used && vsr_group_is_equal(&partition->group, group)) {
            return partition;
        }
    }
    return NULL;
}

/* The target of group as this node's metadata has it (current version); false when the
 * metadata does not know it (yet), or knows another incarnation. */
static bool data_plane_group_target(struct data_plane *plane, const struct vsr_group *group,
                                    struct broker_partition_target *target)
{
    struct control_plane *control = plane->broker->control_plane;
    memset(target, 0, sizeof(*target));
    const struct metadata *metadata = control_plane_read_begin(control, plane->shard_index);
    const struct metadata_partition *partition =
        metadata_partition_get(metadata, group->stream_id, group->topic_id, group->partition_id);
    const struct metadata_topic *topic =
        metadata_topic_get(metadata, group->stream_id, group->topic_id);
    bool is_known =
        partition != NULL && topic != NULL && partition->incarnation == group->incarnation;
    if (is_known) {
        target->group = *group;
        target->metadata_slot = (uint32_t)(partition - metadata->partitions);
        target->is_fsync = topic->settings.durability == METADATA_DURABILITY_FSYNC;
        target->segment_size_bytes = topic->settings.segment_size_bytes;
    }
    control_plane_read_end(control, plane->shard_index);
    assert(!is_known || target->metadata_slot < plane->metadata_slots_max);
    return is_known;
}

/* Opens the groups peers named (a backup materializes a group the metadata created). */
static void data_plane_open_from_bus(struct data_plane *plane)
{
    assert(plane->bus_open_count <= DATA_PLANE_BUS_OPEN_MAX);
    for (uint32_t index = 0; index < plane->bus_open_count; index++) {
        struct broker_partition_target target;
        if (data_plane_find_group(plane, &plane->bus_open[index]) == NULL &&
            data_plane_group_target(plane, &plane->bus_open[index], &target)) {
            (void)data_plane_open(plane, &target);
        }
    }
    plane->bus_open_count = 0;
}

void data_plane_bus_open_note(struct data_plane *plane, const struct vsr_group *group)
{
    assert(group->kind == VSR_GROUP_KIND_PARTITION);
    bool is_noted = false;
    for (uint32_t index = 0; index < plane->bus_open_count && !is_noted; index++) {
        is_noted = vsr_group_is_equal(&plane->bus_open[index], group);
    }
    if (!is_noted && plane->bus_open_count < DATA_PLANE_BUS_OPEN_MAX) {
        plane->bus_open[plane->bus_open_count++] = *group;
    }
}

void data_plane_on_bus_message(struct data_plane *plane, const struct vsr_header *header,
                               const void *body)
{
    assert(plane != NULL && header != NULL);
    assert(header->group.kind == VSR_GROUP_KIND_PARTITION);
    struct data_partition *partition =
        plane->has_superblock ? data_plane_find_group(plane, &header->group) : NULL;
    if (partition == NULL) {
        plane->bus_dropped++;
        data_plane_bus_open_note(plane, &header->group);
        return;
    }
    if (data_plane_poll_on_bus_message(partition, header, body)) {
        return;
    }
    if (header->command == VSR_COMMAND_REPLY || header->command == VSR_COMMAND_EVICTION) {
        u128 client = header->command == VSR_COMMAND_REPLY ? header->u.reply.client
                                                           : header->u.eviction.client;
        if (client == partition->client) {
            data_partition_bus_reply(client, header, body, partition);
        } else if (data_partition_is_in_flight(partition, client)) {
            /* an exactly-once client's write this node forwarded (never relayed again) */
            data_partition_bus_reply_exactly_once(partition, client, header, body);
        }
        return; /* otherwise a previous boot's client: nobody waits */
    }
    vsr_replica_on_message(&partition->replica, header, body);
}

void data_plane_pass(struct data_plane *plane)
{
    assert(plane != NULL);
    if (!plane->has_superblock) {
        return;
    }
    data_plane_open_pending(plane);
    data_plane_open_from_bus(plane);
    for (uint32_t index = 0; index < plane->partitions_end; index++) {
        struct data_partition *partition = &plane->partitions[index];
        if (!partition->is_used) {
            continue;
        }
        int result = journal_partition_pass(&partition->journal);
        if (result != 0) {
            log_error("partition_failed", "directory=%s error=\"%s\"", partition->directory,
                      error_text(result));
        }
        if (checkpoint_store_pass(&partition->checkpoints)) {
            vsr_replica_on_checkpoint_write(&partition->replica);
        }
        data_partition_pump(partition);
        data_plane_poll_pump(partition);
    }
    (void)superblock_storage_pass(&plane->storage);
}

bool data_partition_server_op(struct data_partition *partition, uint8_t operation, const void *body,
                              uint32_t body_size)
{
    struct vsr_replica *replica = &partition->replica;
    assert(operation >= VSR_OPERATION_STATE_MACHINE_MIN);
    assert(partition->session != 0 && vsr_replica_is_primary(replica));
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_REQUEST, replica->config.cluster, replica->view, 0,
                    &partition->group);
    header.u.request.client = partition->client;
    header.u.request.session = partition->session;
    header.u.request.request = partition->request_last + 1;
    header.u.request.operation = operation;
    vsr_header_seal(&header, body, body_size);
    uint64_t op_before = replica->op;
    vsr_replica_on_message(replica, &header, body);
    if (replica->op != op_before + 1) {
        return false;
    }
    partition->request_last++;
    return true;
}

/* Submits the coalesced auto-commits of a partition, at most one op per tick. */
static void data_partition_auto_commit(struct data_partition *partition)
{
    struct vsr_replica *replica = &partition->replica;
    if (!partition->has_dirty_offsets || partition->queue_head != NULL || partition->session == 0 ||
        !vsr_replica_is_primary(replica) || journal_partition_is_blocked(&partition->journal) ||
        replica->op - replica->commit_max >= replica->config.pipeline_max) {
        return;
    }
    for (uint32_t index = 0; index < DATA_PLANE_OFFSETS_MAX; index++) {
        struct data_offset *entry = &partition->offsets[index];
        if (!entry->is_used || !entry->is_dirty) {
            continue;
        }
        uint8_t body[13];
        body[0] = entry->kind;
        memcpy(body + 1, &entry->id, sizeof(entry->id));
        memcpy(body + 5, &entry->pending, sizeof(entry->pending));
        if (data_partition_server_op(partition, VSR_OPERATION_OFFSET_STORE, body, sizeof(body))) {
            entry->is_dirty = false;
        }
        return; /* one op per partition per tick; the others follow */
    }
    partition->has_dirty_offsets = false;
}

/* Gives up on every waiting write: 57 for those sent (outcome unknown), 58 for queued. */
static void data_partition_expire(struct data_partition *partition)
{
    struct data_plane *plane = partition->plane;
    uint32_t count = partition->in_flight_count;
    partition->in_flight_count = 0;
    for (uint32_t index = 0; index < count; index++) {
        data_plane_reply_status(plane, partition->in_flight[index],
                                IGGY_ERROR_TRANSIENT_NOT_COMMITTED);
    }
    for (uint32_t round = 0; round < UINT32_MAX && partition->queue_head != NULL; round++) {
        struct broker_request *request =
            data_plane_dequeue(&partition->queue_head, &partition->queue_tail);
        data_plane_reply_status(plane, request, IGGY_ERROR_TRANSIENT_NOT_ACCEPTED);
    }
    assert(partition->queue_head == NULL && partition->in_flight_count == 0);
}

/* Takes request out of in_flight and answers it 57 (sent: executed or not, unknown);
 * nothing when a reply completed it meanwhile (it is no longer in flight). */
static void data_partition_in_flight_expire(struct data_partition *partition,
                                            struct broker_request *request)
{
    if (data_partition_in_flight_remove(partition, request)) {
        partition->plane->writes_late++;
        data_plane_reply_status(partition->plane, request, IGGY_ERROR_TRANSIENT_NOT_COMMITTED);
    }
}

/*
 * Re-sends the writes in flight to the primary of the current view (a view change). A
 * librunnel exactly-once write keeps its client's id and number (the new primary's
 * window answers it if it was executed); when this node no longer finds the client's
 * session, the register goes again and the write waits for the next resend. A write
 * in flight too long is answered 57 instead and not sent again.
 */
static void data_partition_resend(struct data_partition *partition)
{
    struct broker_request *sent[VSR_PIPELINE_MAX];
    uint32_t count = partition->in_flight_count;
    assert(count <= VSR_PIPELINE_MAX);
    memcpy(sent, partition->in_flight, count * sizeof(sent[0]));
    for (uint32_t index = 0; index < count; index++) {
        if (sent[index]->is_used && data_partition_write_is_late(partition, sent[index])) {
            data_partition_in_flight_expire(partition, sent[index]);
            continue;
        }
        bool is_local = false; /* a reply may complete one meanwhile: a copy is walked */
        if (!sent[index]->is_exactly_once) {
            (void)data_partition_send(partition, sent[index], &is_local);
            continue;
        }
        struct vsr_header header;
        bool is_write = data_partition_exactly_once_header(partition, sent[index], &header);
        (void)data_partition_forward(
            partition, &header, is_write ? sent[index]->buffer + sent[index]->body_offset : NULL,
            is_write ? sent[index]->body_size : 0, &is_local);
    }
}

/* A cluster, every tick of a partition: its session, re-sends and parking. */
static void data_partition_cluster_tick(struct data_partition *partition)
{
    struct broker *broker = partition->plane->broker;
    bool is_waiting = partition->in_flight_count > 0 || partition->queue_head != NULL;
    enum cluster_forward_action action = cluster_forward_tick(&partition->forward, is_waiting);
    bool is_primary = vsr_replica_is_primary(&partition->replica);
    if (is_primary != partition->was_primary || partition->view_logged != partition->replica.view) {
        partition->was_primary = is_primary;
        partition->view_logged = partition->replica.view;
        log_info(is_primary ? "partition_primary" : "partition_backup",
                 "stream=%u topic=%u partition=%u view=%u op=%llu commit=%llu",
                 partition->group.stream_id, partition->group.topic_id,
                 partition->group.partition_id, partition->replica.view,
                 (unsigned long long)partition->replica.op,
                 (unsigned long long)partition->replica.commit_min);
    }
    if (partition->replica.stats.state_transfers != partition->transfers_logged) {
        partition->transfers_logged = partition->replica.stats.state_transfers;
        log_info("partition_state_transfer",
                 "stream=%u topic=%u partition=%u checkpoint_op=%llu records_taken=%llu",
                 partition->group.stream_id, partition->group.topic_id,
                 partition->group.partition_id,
                 (unsigned long long)partition->replica.checkpoint_op,
                 (unsigned long long)partition->replica.stats.records_taken);
    }
    if (partition->session == 0 && cluster_forward_is_register_due(&partition->forward)) {
        cluster_forward_register(broker, partition->plane->shard_index, &partition->replica,
                                 partition->client);
    }
    if (action == CLUSTER_FORWARD_EXPIRE) {
        log_warn("partition_writes_parked_too_long", "directory=%s in_flight=%u view=%u",
                 partition->directory, partition->in_flight_count, partition->replica.view);
        vsr_replica_log_state(&partition->replica, partition->directory);
        data_partition_expire(partition);
    } else if (action == CLUSTER_FORWARD_RESEND && partition->session != 0) {
        /* Also when this node became the primary: writes it forwarded to the old one may
         * never have reached a prepare (the replica drops what it already has). */
        data_partition_resend(partition);
    }
}

enum { DATA_PLANE_RECOVERY_OPENS_MAX = 8 };

/*
 * The node recovers (node/recovery.h): counts the partitions of the current metadata this
 * shard owns that are not open or still recovering, opens a few of those not open (an
 * idle group's peers may never name it), and reports the count.
 */
static void data_plane_recovery_tick(struct data_plane *plane)
{
    struct control_plane *control = plane->broker->control_plane;
    struct vsr_group missing[DATA_PLANE_RECOVERY_OPENS_MAX];
    uint32_t missing_count = 0;
    uint32_t pending = 0;
    uint32_t total = 0;
    const struct metadata *metadata = control_plane_read_begin(control, plane->shard_index);
    uint64_t op = metadata->op;
    for (uint32_t slot = 0; slot < metadata->config.limits.partitions_max; slot++) {
        const struct metadata_partition *entry = &metadata->partitions[slot];
        if (!entry->is_used || data_plane_owner(entry->stream_id, entry->topic_id, entry->id,
                                                plane->broker->shard_count) != plane->shard_index) {
            continue;
        }
        struct vsr_group group = {.stream_id = entry->stream_id,
                                  .topic_id = entry->topic_id,
                                  .partition_id = entry->id,
                                  .kind = VSR_GROUP_KIND_PARTITION,
                                  .incarnation = entry->incarnation};
        const struct data_partition *partition = data_plane_find_group(plane, &group);
        total++;
        if (partition == NULL && missing_count < DATA_PLANE_RECOVERY_OPENS_MAX) {
            missing[missing_count++] = group;
        }
        pending += partition == NULL || vsr_replica_is_recovering(&partition->replica);
    }
    control_plane_read_end(control, plane->shard_index);
    recovery_shard_report(&plane->broker->recovery, plane->shard_index, op, pending, total);
    for (uint32_t index = 0; index < missing_count; index++) {
        struct broker_partition_target target;
        if (data_plane_find_group(plane, &missing[index]) == NULL &&
            data_plane_group_target(plane, &missing[index], &target)) {
            (void)data_plane_open(plane, &target);
        }
    }
}

void data_plane_tick(struct data_plane *plane)
{
    assert(plane != NULL);
    assert(plane->partitions != NULL);
    bool is_multi = cluster_forward_is_multi(plane->broker);
    for (uint32_t index = 0; index < plane->partitions_end; index++) {
        struct data_partition *partition = &plane->partitions[index];
        if (partition->is_used) {
            vsr_replica_tick(&partition->replica);
            broker_cluster_publish_partition(plane->broker, partition->metadata_slot,
                                             &partition->replica);
            data_partition_auto_commit(partition);
            data_partition_truncate_tick(partition);
            if (is_multi) {
                data_partition_cluster_tick(partition);
                data_plane_poll_forward_tick(partition);
            }
        }
    }
    data_plane_heartbeat_tick(plane);
    data_plane_retire_tick(plane);
    if (is_multi && !plane->drain.is_draining && recovery_is_active(&plane->broker->recovery) &&
        ++plane->recovery_ticks % RECOVERY_SHARD_TICKS == 0) {
        /* Not while draining: a shutdown opens no partition. */
        data_plane_recovery_tick(plane);
    }
}
