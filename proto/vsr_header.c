/* VSR message header: sealing, checksum checks and validation of untrusted headers. */
#include "proto/vsr_header.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>
#include <xxhash.h>

u128 vsr_checksum(const void *body, size_t size_bytes)
{
    assert(body != NULL || size_bytes == 0);
    XXH128_hash_t hash = XXH3_128bits(size_bytes ? body : "", size_bytes);
    return ((u128)hash.high64 << 64) | (u128)hash.low64;
}

void vsr_header_init(struct vsr_header *header, enum vsr_command command, u128 cluster,
                     uint32_t view, uint8_t replica, const struct vsr_group *group)
{
    assert(header != NULL);
    assert(command > VSR_COMMAND_RESERVED && command < VSR_COMMAND_END);
    assert(replica < VSR_REPLICAS_MAX);
    memset(header, 0, sizeof(*header));
    header->command = (uint8_t)command;
    header->cluster = cluster;
    header->view = view;
    header->replica = replica;
    header->protocol = VSR_PROTOCOL_VERSION;
    header->size = VSR_HEADER_SIZE;
    if (group != NULL) {
        header->group = *group;
    }
}

static u128 vsr_header_compute_checksum(const struct vsr_header *header)
{
    const unsigned char *bytes = (const unsigned char *)header;
    return vsr_checksum(bytes + sizeof(header->checksum),
                        VSR_HEADER_SIZE - sizeof(header->checksum));
}

void vsr_header_set_checksum(struct vsr_header *header)
{
    assert(header != NULL);
    assert(header->size >= VSR_HEADER_SIZE);
    header->checksum = vsr_header_compute_checksum(header);
}

void vsr_header_seal(struct vsr_header *header, const void *body, uint32_t body_size_bytes)
{
    assert(header != NULL);
    assert(body != NULL || body_size_bytes == 0);
    assert(body_size_bytes <= UINT32_MAX - VSR_HEADER_SIZE);
    header->size = VSR_HEADER_SIZE + body_size_bytes;
    header->checksum_body = vsr_checksum(body, body_size_bytes);
    vsr_header_set_checksum(header);
    assert(vsr_header_is_checksum_valid(header));
}

bool vsr_header_is_checksum_valid(const struct vsr_header *header)
{
    assert(header != NULL);
    return header->checksum == vsr_header_compute_checksum(header);
}

bool vsr_header_is_body_valid(const struct vsr_header *header, const void *body)
{
    assert(header != NULL);
    assert(header->size >= VSR_HEADER_SIZE);
    size_t body_size = header->size - VSR_HEADER_SIZE;
    assert(body != NULL || body_size == 0);
    return header->checksum_body == vsr_checksum(body, body_size);
}

static bool is_zero(const void *bytes, size_t size)
{
    const unsigned char *cursor = bytes;
    for (size_t index = 0; index < size; index++) {
        if (cursor[index] != 0) {
            return false;
        }
    }
    return true;
}

static bool vsr_command_is_known(uint8_t command)
{
    switch (command) {
    case VSR_COMMAND_PING:
    case VSR_COMMAND_PONG:
    case VSR_COMMAND_REQUEST:
    case VSR_COMMAND_PREPARE:
    case VSR_COMMAND_PREPARE_OK:
    case VSR_COMMAND_REPLY:
    case VSR_COMMAND_COMMIT:
    case VSR_COMMAND_START_VIEW_CHANGE:
    case VSR_COMMAND_DO_VIEW_CHANGE:
    case VSR_COMMAND_REQUEST_START_VIEW:
    case VSR_COMMAND_REQUEST_HEADERS:
    case VSR_COMMAND_REQUEST_PREPARE:
    case VSR_COMMAND_REQUEST_REPLY:
    case VSR_COMMAND_HEADERS:
    case VSR_COMMAND_EVICTION:
    case VSR_COMMAND_START_VIEW:
    case VSR_COMMAND_REQUEST_CHECKPOINT:
    case VSR_COMMAND_CHECKPOINT:
    case VSR_COMMAND_REQUEST_RECORDS:
    case VSR_COMMAND_HEARTBEAT:
    case VSR_COMMAND_HEARTBEAT_ACK:
        return true;
    default:
        return false;
    }
}

const char *vsr_command_name(uint8_t command)
{
    static const char *const names[VSR_COMMAND_END] = {
        [VSR_COMMAND_PING] = "ping",
        [VSR_COMMAND_PONG] = "pong",
        [VSR_COMMAND_REQUEST] = "request",
        [VSR_COMMAND_PREPARE] = "prepare",
        [VSR_COMMAND_PREPARE_OK] = "prepare_ok",
        [VSR_COMMAND_REPLY] = "reply",
        [VSR_COMMAND_COMMIT] = "commit",
        [VSR_COMMAND_START_VIEW_CHANGE] = "start_view_change",
        [VSR_COMMAND_DO_VIEW_CHANGE] = "do_view_change",
        [VSR_COMMAND_REQUEST_START_VIEW] = "request_start_view",
        [VSR_COMMAND_REQUEST_HEADERS] = "request_headers",
        [VSR_COMMAND_REQUEST_PREPARE] = "request_prepare",
        [VSR_COMMAND_REQUEST_REPLY] = "request_reply",
        [VSR_COMMAND_HEADERS] = "headers",
        [VSR_COMMAND_EVICTION] = "eviction",
        [VSR_COMMAND_START_VIEW] = "start_view",
        [VSR_COMMAND_REQUEST_CHECKPOINT] = "request_checkpoint",
        [VSR_COMMAND_CHECKPOINT] = "checkpoint",
        [VSR_COMMAND_REQUEST_RECORDS] = "request_records",
        [VSR_COMMAND_HEARTBEAT] = "heartbeat",
        [VSR_COMMAND_HEARTBEAT_ACK] = "heartbeat_ack",
    };
    if (!vsr_command_is_known(command)) {
        return "unknown";
    }
    return names[command];
}

/* Zero-filled trailing bytes of the command's own part. Commands without a layout of
 * their own here (pong, headers, request_reply) are not checked. */
static bool vsr_header_command_reserved_is_zero(const struct vsr_header *header)
{
    const unsigned char *bytes = header->u.bytes;
    size_t size = 0;
    switch (header->command) {
    case VSR_COMMAND_PREPARE:
        return is_zero(header->u.prepare.reserved, sizeof(header->u.prepare.reserved));
    case VSR_COMMAND_PREPARE_OK:
        return is_zero(header->u.prepare_ok.reserved, sizeof(header->u.prepare_ok.reserved));
    case VSR_COMMAND_COMMIT:
        return is_zero(header->u.commit.reserved, sizeof(header->u.commit.reserved));
    case VSR_COMMAND_REQUEST:
        return is_zero(header->u.request.reserved, sizeof(header->u.request.reserved));
    case VSR_COMMAND_REPLY:
        return is_zero(header->u.reply.reserved, sizeof(header->u.reply.reserved));
    case VSR_COMMAND_START_VIEW_CHANGE:
        size = sizeof(header->u.bytes); /* carries only the frame */
        break;
    case VSR_COMMAND_DO_VIEW_CHANGE:
        bytes = header->u.do_view_change.reserved;
        size = sizeof(header->u.do_view_change.reserved);
        break;
    case VSR_COMMAND_START_VIEW:
        bytes = header->u.start_view.reserved;
        size = sizeof(header->u.start_view.reserved);
        break;
    case VSR_COMMAND_REQUEST_START_VIEW:
        bytes = header->u.request_start_view.reserved;
        size = sizeof(header->u.request_start_view.reserved);
        break;
    case VSR_COMMAND_REQUEST_HEADERS:
        bytes = header->u.request_headers.reserved;
        size = sizeof(header->u.request_headers.reserved);
        break;
    case VSR_COMMAND_REQUEST_PREPARE:
        bytes = header->u.request_prepare.reserved;
        size = sizeof(header->u.request_prepare.reserved);
        break;
    case VSR_COMMAND_PING:
        bytes = header->u.ping.reserved;
        size = sizeof(header->u.ping.reserved);
        break;
    case VSR_COMMAND_EVICTION:
        bytes = header->u.eviction.reserved;
        size = sizeof(header->u.eviction.reserved);
        break;
    case VSR_COMMAND_REQUEST_CHECKPOINT:
    case VSR_COMMAND_CHECKPOINT:
        bytes = header->u.checkpoint_chunk.reserved;
        size = sizeof(header->u.checkpoint_chunk.reserved);
        break;
    case VSR_COMMAND_REQUEST_RECORDS:
        bytes = header->u.request_records.reserved;
        size = sizeof(header->u.request_records.reserved);
        break;
    case VSR_COMMAND_HEARTBEAT:
    case VSR_COMMAND_HEARTBEAT_ACK:
        bytes = header->u.heartbeat.reserved;
        size = sizeof(header->u.heartbeat.reserved);
        break;
    default:
        break;
    }
    assert(size <= sizeof(header->u.bytes));
    return is_zero(bytes, size);
}

/* Per-command checks of untrusted fields; NULL when the header is consistent. */
static const char *vsr_header_command_problem(const struct vsr_header *header)
{
    assert(vsr_command_is_known(header->command));
    if (!vsr_header_command_reserved_is_zero(header)) {
        return "command reserved bytes not zero";
    }
    if (header->command == VSR_COMMAND_PREPARE) {
        const struct vsr_header_prepare *prepare = &header->u.prepare;
        if (prepare->operation == VSR_OPERATION_RESERVED) {
            return "prepare operation reserved";
        }
        if (prepare->op == 0 && prepare->operation != VSR_OPERATION_ROOT) {
            return "prepare op 0 is not root";
        }
        if (prepare->op != 0 && prepare->operation == VSR_OPERATION_ROOT) {
            return "prepare root is not op 0";
        }
        if (prepare->op > 0 && prepare->commit >= prepare->op) {
            return "prepare commit not below op";
        }
        return NULL;
    }
    if (header->command == VSR_COMMAND_REQUEST_HEADERS &&
        header->u.request_headers.op_min > header->u.request_headers.op_max) {
        return "request_headers op_min above op_max";
    }
    if (header->command == VSR_COMMAND_DO_VIEW_CHANGE &&
        header->u.do_view_change.log_view > header->view) {
        return "do_view_change log_view above view";
    }
    if (header->command == VSR_COMMAND_DO_VIEW_CHANGE &&
        (header->u.do_view_change.flags & ~(uint32_t)VSR_DVC_LOG_PARTIAL) != 0) {
        return "do_view_change flags unknown";
    }
    if (header->command == VSR_COMMAND_DO_VIEW_CHANGE &&
        header->u.do_view_change.informs_view != 0 &&
        (header->u.do_view_change.informs_view <= header->view ||
         header->u.do_view_change.nack_bitset != 0)) {
        return "do_view_change informs a view not above its own, or nacks";
    }
    if (header->command == VSR_COMMAND_START_VIEW &&
        header->u.start_view.commit_max > header->u.start_view.op) {
        return "start_view commit_max above op";
    }
    return NULL;
}

int vsr_header_validate(const struct vsr_header *header, uint32_t size_bytes_max,
                        const char **reason_out)
{
    assert(header != NULL);
    assert(size_bytes_max >= VSR_HEADER_SIZE);
    const char *reason = NULL;
    if (!vsr_header_is_checksum_valid(header)) {
        if (reason_out != NULL) {
            *reason_out = "header checksum mismatch";
        }
        return -RUNNEL_ECHECKSUM;
    }
    if (header->protocol != VSR_PROTOCOL_VERSION) {
        reason = "unknown protocol version";
    } else if (!vsr_command_is_known(header->command)) {
        reason = "unknown command";
    } else if (header->size < VSR_HEADER_SIZE || header->size > size_bytes_max) {
        reason = "size out of range";
    } else if (header->epoch != 0) {
        reason = "epoch not zero";
    } else if (header->replica >= VSR_REPLICAS_MAX) {
        reason = "replica out of range";
    } else if (!is_zero(header->reserved_frame, sizeof(header->reserved_frame))) {
        reason = "frame reserved bytes not zero";
    } else if (header->group.kind > VSR_GROUP_KIND_SHARD) {
        reason = "unknown group kind";
    } else if ((header->group.kind == VSR_GROUP_KIND_SHARD) !=
               (header->command == VSR_COMMAND_HEARTBEAT ||
                header->command == VSR_COMMAND_HEARTBEAT_ACK)) {
        reason = "shard group and heartbeat go together";
    } else if (header->group.kind == VSR_GROUP_KIND_SHARD &&
               (header->group.partition_id != 0 || header->group.incarnation != 0)) {
        reason = "shard group ids not zero";
    } else if (header->group.kind == VSR_GROUP_KIND_METADATA &&
               !is_zero(&header->group, offsetof(struct vsr_group, kind))) {
        reason = "metadata group ids not zero";
    } else if (header->group.kind == VSR_GROUP_KIND_METADATA && header->group.incarnation != 0) {
        reason = "metadata group ids not zero";
    } else {
        reason = vsr_header_command_problem(header);
    }
    if (reason_out != NULL) {
        *reason_out = reason;
    }
    return reason == NULL ? 0 : -RUNNEL_EFORMAT;
}

bool vsr_group_is_equal(const struct vsr_group *a, const struct vsr_group *b)
{
    assert(a != NULL);
    assert(b != NULL);
    return a->stream_id == b->stream_id && a->topic_id == b->topic_id &&
           a->partition_id == b->partition_id && a->kind == b->kind &&
           a->incarnation == b->incarnation;
}

uint64_t vsr_group_index(const struct vsr_group *group)
{
    assert(group != NULL);
    if (group->kind == VSR_GROUP_KIND_METADATA) {
        return 0;
    }
    /* Spread partitions of one topic over consecutive primaries. */
    return (uint64_t)group->stream_id * 7919u + (uint64_t)group->topic_id * 104729u +
           (uint64_t)group->partition_id;
}
