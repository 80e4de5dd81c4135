/*
 * Polls and consumer-offset reads on a partition's owning shard (see data_plane.h; which
 * node serves them: data_plane_poll_forward.c):
 * resolves the start offset (Offset, Timestamp, First, Last, Next), walks the committed
 * records from the op holding it (tail from memory, sealed segments through async reads,
 * one poll per partition at a time), slices each batch to the requested messages and
 * caps the reply in bytes. Auto-commit is recorded as a pending offset (read-your-writes
 * on this primary) and submitted on the next tick. Runs on the owning shard.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "lib/io.h"
#include "lib/log.h"
#include "node/broker.h"
#include "node/data_plane_internal.h"
#include "proto/batch.h"
#include "proto/iggy_messages.h"
#include "proto/iggy_wire.h"

#include <stdint.h>
#include <string.h>

static uint64_t data_poll_stored_next(struct data_partition *partition,
                                      const struct broker_partition_target *target)
{
    struct data_offset *entry = data_partition_offset(partition, (uint8_t)target->consumer_kind,
                                                      target->consumer_id, false);
    if (entry == NULL || (!entry->has_offset && !entry->has_pending)) {
        return 0;
    }
    uint64_t stored = entry->has_offset ? entry->offset : 0;
    if (entry->has_pending && entry->pending > stored) {
        stored = entry->pending;
    }
    return stored + 1;
}

static void data_poll_finish(struct data_partition *partition);
static void data_poll_continue(struct data_partition *partition);

/*
 * The start offset of a poll (Timestamp: UINT64_MAX, the record the lookup finds decides);
 * false when the poll is empty by construction.
 */
static bool data_poll_start(struct data_partition *partition, struct broker_request *request,
                            uint64_t *offset_out)
{
    const struct broker_partition_target *target = &request->partition;
    uint64_t next = partition->commit_offset_next;
    uint64_t offset = 0;
    switch (target->strategy.kind) {
    case IGGY_POLLING_OFFSET:
        offset = target->strategy.value;
        break;
    case IGGY_POLLING_LAST:
        offset = next > target->count ? next - target->count : 0;
        break;
    case IGGY_POLLING_NEXT:
        offset = data_poll_stored_next(partition, target);
        break;
    case IGGY_POLLING_TIMESTAMP:
        *offset_out = UINT64_MAX;
        return target->count > 0 && next > target->log_start_offset;
    default: /* first */
        offset = 0;
        break;
    }
    if (offset < target->log_start_offset) {
        offset = target->log_start_offset; /* below it, segments were deleted */
    }
    *offset_out = offset;
    return target->count > 0 && offset < next;
}

/* The start op is known (or the lookup failed): read from it. */
static void data_poll_found(struct partition_find *find, void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && find == &partition->poll_find);
    assert(partition->poll_active != NULL);
    if (find->result != 0 || find->op > partition->op_applied) {
        if (find->result != 0 && find->result != -RUNNEL_ENOTFOUND) {
            log_warn("poll_find_failed", "directory=%s error=\"%s\"", partition->directory,
                     error_text(find->result));
        }
        data_poll_finish(partition); /* nothing committed at or after the key */
        return;
    }
    partition->poll_op = find->op;
    data_poll_continue(partition);
}

/* Puts a slice of the record just read into the reply. A record read into the poll buffer
 * is copied after what the reply holds. The first record of a poll is read straight into
 * the request's buffer (data_poll_read_target): there the reply is made to start right
 * before the slice's frames (its batch header, then the reply header, overwrite bytes
 * already checked and not served: the record header or skipped frames), so the batch is
 * not copied at all. False when the slice does not fit the reply. */
static bool data_poll_place(struct data_partition *partition, const struct batch_slice *slice)
{
    uint64_t piece = BATCH_HEADER_SIZE + slice->frames_size_bytes;
    if (!partition->is_poll_read_direct) {
        if (partition->poll_position + piece > partition->poll_capacity) {
            return false;
        }
        uint8_t *at = partition->poll_reply + partition->poll_position;
        memcpy(at, slice->header, BATCH_HEADER_SIZE);
        memcpy(at + BATCH_HEADER_SIZE, slice->frames, slice->frames_size_bytes);
        partition->poll_position += (uint32_t)piece;
        return true;
    }
    struct broker_request *request = partition->poll_active;
    assert(partition->poll_messages == 0 && partition->poll_reply == request->buffer);
    uint8_t *batch = (uint8_t *)(uintptr_t)slice->frames - BATCH_HEADER_SIZE;
    uint8_t *reply = batch - IGGY_POLL_REPLY_HEADER_SIZE;
    assert(reply >= request->buffer); /* its header's room starts at request->memory or later */
    assert(batch + piece <= request->buffer + request->buffer_capacity);
    uint64_t limit = partition->plane->broker->config->poll_reply_bytes_max;
    uint64_t room = request->buffer_capacity - (uint64_t)(reply - request->buffer);
    uint64_t capacity = limit < room ? limit : room;
    if (IGGY_POLL_REPLY_HEADER_SIZE + piece > capacity) {
        return false;
    }
    memcpy(batch, slice->header, BATCH_HEADER_SIZE);
    partition->poll_reply = reply;
    partition->poll_capacity = (uint32_t)capacity;
    partition->poll_position = (uint32_t)(IGGY_POLL_REPLY_HEADER_SIZE + piece);
    return true;
}

/* Where the next record is read: the first of a poll into the request's buffer (from its
 * first aligned byte on) when a whole record fits there, later ones into the poll buffer. */
static uint8_t *data_poll_read_target(struct data_partition *partition, uint64_t *size_out)
{
    struct broker_request *request = partition->poll_active;
    uint8_t *buffer = request->buffer;
    uintptr_t first = ((uintptr_t)buffer + IO_SECTOR_SIZE - 1) & ~(uintptr_t)(IO_SECTOR_SIZE - 1);
    uint64_t skip = (uint64_t)(first - (uintptr_t)buffer);
    uint64_t room = request->buffer_capacity > skip
                        ? (request->buffer_capacity - skip) & ~(uint64_t)(IO_SECTOR_SIZE - 1)
                        : 0;
    partition->is_poll_read_direct =
        partition->poll_messages == 0 && room >= partition->poll_buffer_size_bytes;
    if (partition->is_poll_read_direct) {
        *size_out = room;
        return (uint8_t *)first;
    }
    *size_out = partition->poll_buffer_size_bytes;
    return partition->poll_buffer;
}

/* Appends the selected messages of the record just read; false when the reply is full. */
static bool data_poll_consume(struct data_partition *partition)
{
    const struct partition_read *read = &partition->poll_read;
    uint64_t op = partition->poll_op;
    if (read->result != 0 || read->header.u.prepare.op != op) {
        log_warn("poll_read_failed", "directory=%s op=%llu error=\"%s\"", partition->directory,
                 (unsigned long long)op, error_text(read->result));
        return false;
    }
    uint64_t base = read->header.u.prepare.offset;
    uint32_t count = read->header.u.prepare.message_count;
    partition->poll_op++;
    if (read->header.u.prepare.operation != VSR_OPERATION_MESSAGES ||
        partition->poll_offset >= base + count) {
        return true; /* no message of the poll here (an offset op, a register, or below) */
    }
    const uint8_t *body = read->record + VSR_HEADER_SIZE;
    uint64_t body_size = read->header.size - VSR_HEADER_SIZE;
    uint32_t first = partition->poll_offset > base ? (uint32_t)(partition->poll_offset - base) : 0;
    uint32_t end = count;
    if (end - first > partition->poll_remaining) {
        end = first + partition->poll_remaining;
    }
    struct batch_slice slice;
    if (batch_slice(body, body_size, first, end, &slice) != 0) {
        return false;
    }
    if (!data_poll_place(partition, &slice)) {
        partition->poll_op--;
        return false;
    }
    partition->poll_messages += slice.message_count;
    partition->poll_remaining -= slice.message_count;
    partition->poll_offset = base + end;
    return partition->poll_remaining > 0;
}

static void data_poll_read_callback(struct partition_read *read, void *context);

/* Reads committed records until the poll is complete or a read goes asynchronous. */
static void data_poll_continue(struct data_partition *partition)
{
    for (uint32_t round = 0; round < 1u << 20; round++) {
        uint64_t op = partition->poll_op;
        if (op > partition->op_applied) {
            break;
        }
        uint64_t size = 0;
        uint8_t *target = data_poll_read_target(partition, &size);
        int result = partition_read_op(&partition->log, &partition->poll_read, op, target, size,
                                       data_poll_read_callback, partition);
        if (result == 0) {
            return; /* the callback continues */
        }
        if (result < 0) {
            partition->poll_read.result = result;
        }
        if (!data_poll_consume(partition)) {
            break;
        }
    }
    data_poll_finish(partition);
}

static void data_poll_read_callback(struct partition_read *read, void *context)
{
    struct data_partition *partition = context;
    assert(partition != NULL && read == &partition->poll_read);
    assert(partition->poll_active != NULL);
    if (data_poll_consume(partition)) {
        data_poll_continue(partition);
        return;
    }
    data_poll_finish(partition);
}

/* Starts the lookup of the start op in the partition's index (storage/partition_find.h). */
static void data_poll_find(struct data_partition *partition, uint64_t timestamp_us)
{
    struct partition_find *find = &partition->poll_find;
    int result = 0;
    if (partition->poll_offset != UINT64_MAX) {
        result = partition_find_offset_start(&partition->log, find, partition->poll_offset,
                                             partition->poll_buffer, data_poll_found, partition);
    } else if (timestamp_us > UINT64_MAX / 1000) {
        find->result = -RUNNEL_ENOTFOUND; /* after every record */
        result = 1;
    } else {
        partition->poll_offset = partition->poll_active->partition.log_start_offset;
        result = partition_find_timestamp_start(&partition->log, find, timestamp_us * 1000,
                                                partition->poll_buffer, data_poll_found, partition);
    }
    if (result < 0) {
        find->result = result;
    }
    if (result != 0) {
        data_poll_found(find, partition);
    }
}

static void data_poll_begin(struct data_partition *partition)
{
    struct broker_request *request = partition->poll_active;
    assert(request != NULL && request->kind == BROKER_REQUEST_POLL);
    uint32_t capacity = request->buffer_capacity;
    uint64_t limit = partition->plane->broker->config->poll_reply_bytes_max;
    partition->poll_capacity = limit < capacity ? (uint32_t)limit : capacity;
    partition->poll_reply = request->buffer;
    partition->poll_position = IGGY_POLL_REPLY_HEADER_SIZE;
    partition->poll_messages = 0;
    partition->poll_remaining = request->partition.count;
    if (request->partition.log_start_offset < partition->log_start_offset) {
        request->partition.log_start_offset = partition->log_start_offset; /* prefix truncated */
    }
    uint64_t offset = 0;
    if (!data_poll_start(partition, request, &offset)) {
        data_poll_finish(partition);
        return;
    }
    partition->poll_offset = offset;
    data_poll_find(partition, request->partition.strategy.value);
}

static void data_poll_auto_commit(struct data_partition *partition,
                                  const struct broker_partition_target *target)
{
    if (!target->auto_commit || partition->poll_messages == 0) {
        return;
    }
    struct data_offset *entry =
        data_partition_offset(partition, (uint8_t)target->consumer_kind, target->consumer_id, true);
    if (entry == NULL) {
        return; /* offsets table full: the commit is skipped (counted by the log) */
    }
    uint64_t last = partition->poll_offset - 1;
    if (!entry->has_pending || last > entry->pending) {
        entry->pending = last;
        entry->has_pending = true;
        entry->is_dirty = true;
        partition->has_dirty_offsets = true;
    }
}

static void data_poll_finish(struct data_partition *partition)
{
    struct broker_request *request = partition->poll_active;
    assert(request != NULL);
    struct iggy_writer writer;
    iggy_writer_init(&writer, partition->poll_reply, IGGY_POLL_REPLY_HEADER_SIZE);
    struct iggy_poll_reply reply = {
        .partition_id = partition->group.partition_id,
        .current_offset = partition->commit_offset_next > 0 ? partition->commit_offset_next - 1 : 0,
        .message_count = partition->poll_messages,
    };
    int result = iggy_messages_poll_reply_encode(&writer, &reply);
    assert(result == 0);
    data_poll_auto_commit(partition, &request->partition);
    request->reply_offset = (uint32_t)(partition->poll_reply - request->buffer);
    request->reply_size = partition->poll_position;
    request->reply_status = 0;
    request->reply_operation = IGGY_OPERATION_NON_REPLICATED;
    request->has_reply = true;
    request->reply_op = partition->replica.commit_min; /* read-your-writes (§10.5) */
    partition->poll_active = NULL;
    partition->plane->polls_served++;
    if (request->purpose == BROKER_PURPOSE_REMOTE_POLL) {
        data_plane_poll_remote_done(partition, request); /* back to the node that forwarded */
        return;
    }
    broker_request_complete(partition->plane->broker, partition->plane->shard_index, request);
}

void data_plane_poll_pump(struct data_partition *partition)
{
    assert(partition != NULL);
    assert(partition->is_used);
    if (partition->poll_active != NULL || partition->poll_head == NULL) {
        return;
    }
    partition->poll_active = partition->poll_head;
    partition->poll_head = partition->poll_head->next;
    if (partition->poll_head == NULL) {
        partition->poll_tail = NULL;
    }
    partition->poll_active->next = NULL;
    data_poll_begin(partition);
}

void data_plane_poll_submit(struct data_partition *partition, struct broker_request *request)
{
    assert(partition != NULL && request != NULL);
    assert(request->kind == BROKER_REQUEST_POLL);
    if (partition->poll_active != NULL) {
        if (partition->poll_tail == NULL) {
            partition->poll_head = request;
        } else {
            partition->poll_tail->next = request;
        }
        partition->poll_tail = request;
        return;
    }
    partition->poll_active = request;
    data_poll_begin(partition);
}

/* GetConsumerOffset from this copy's offsets (the committed value, or a higher auto-commit
 * pending here); in a cluster only the primary, once current, gets here
 * (data_plane_poll_forward.c). The reply reflects commit_min (read-your-writes). */
void data_plane_offset_get(struct data_partition *partition, struct broker_request *request)
{
    assert(partition != NULL && request != NULL);
    assert(request->kind == BROKER_REQUEST_OFFSET_GET);
    const struct broker_partition_target *target = &request->partition;
    struct data_offset *entry = data_partition_offset(partition, (uint8_t)target->consumer_kind,
                                                      target->consumer_id, false);
    request->reply_size = 0;
    if (entry != NULL && (entry->has_offset || entry->has_pending)) {
        struct iggy_writer writer;
        iggy_writer_init(&writer, request->buffer, request->buffer_capacity);
        struct iggy_offset_reply reply = {
            .partition_id = partition->group.partition_id,
            .current_offset =
                partition->commit_offset_next > 0 ? partition->commit_offset_next - 1 : 0,
            .stored_offset =
                entry->has_offset && (!entry->has_pending || entry->offset >= entry->pending)
                    ? entry->offset
                    : entry->pending,
        };
        (void)iggy_messages_offset_reply_encode(&writer, &reply);
        request->reply_size = writer.size;
    }
    request->reply_offset = 0;
    request->reply_status = 0;
    request->reply_operation = IGGY_OPERATION_NON_REPLICATED;
    request->has_reply = true;
    request->reply_op = partition->replica.commit_min;
    if (request->purpose == BROKER_PURPOSE_REMOTE_POLL) {
        data_plane_poll_remote_done(partition, request); /* back to the node that forwarded */
        return;
    }
    broker_request_complete(partition->plane->broker, partition->plane->shard_index, request);
}
