/*
 * Iggy consumer-group commands (research/iggy-protocol.md §3.8, §3.11): the create body
 * (600, 603-606 are identifier-only: iggy_command_identifiers_decode with 3 ids; 601
 * with 2) and the reply structures. Replies:
 *   602 create   result(0) + group (member_count 0)
 *   600 get      group + member x group.member_count (or an empty body)
 *   601 list     group x n, to the end of the body
 *   603-605      result only
 *   606 sync     sync reply, or an empty body ("not a member")
 * Partition id lists are decoded as slices of u32s read with iggy_groups_partition_at.
 */
#ifndef RUNNEL_PROTO_IGGY_GROUPS_H
#define RUNNEL_PROTO_IGGY_GROUPS_H

#include "proto/iggy_wire.h"

#include <stdint.h>

/* 602: [stream][topic][name] */
struct iggy_group_create {
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    struct iggy_bytes name;
};

/* ConsumerGroupResponse. */
struct iggy_group_info {
    uint32_t id;
    uint32_t partition_count; /* the topic's partition count */
    uint32_t member_count;
    struct iggy_bytes name;
};

/* Member: [id u32][partitions_count u32][partition_id u32 x count]. Encode reads
 * partition_ids; decode sets partition_bytes (count x 4 bytes, LE). */
struct iggy_group_member {
    uint32_t id;
    uint32_t partition_count;
    const uint32_t *partition_ids;
    struct iggy_bytes partition_bytes;
};

/* 606 reply: [generation u64][count u32][partition_id u32 x count]; same convention. */
struct iggy_group_sync {
    uint64_t generation;
    uint32_t partition_count;
    const uint32_t *partition_ids;
    struct iggy_bytes partition_bytes;
};

int iggy_groups_create_decode(const uint8_t *body, uint32_t body_size,
                              struct iggy_group_create *out);
int iggy_groups_create_encode(struct iggy_writer *writer, const struct iggy_group_create *in);

int iggy_groups_group_encode(struct iggy_writer *writer, const struct iggy_group_info *in);
int iggy_groups_group_decode(struct iggy_reader *reader, struct iggy_group_info *out);
int iggy_groups_member_encode(struct iggy_writer *writer, const struct iggy_group_member *in);
int iggy_groups_member_decode(struct iggy_reader *reader, struct iggy_group_member *out);
int iggy_groups_sync_encode(struct iggy_writer *writer, const struct iggy_group_sync *in);
int iggy_groups_sync_decode(struct iggy_reader *reader, struct iggy_group_sync *out);

/* The index-th u32 of a decoded partition list (index < count). */
uint32_t iggy_groups_partition_at(struct iggy_bytes partition_bytes, uint32_t index);

#endif
