/*
 * Private seam between the metadata_*.c files (not for other modules): slot tables,
 * identifier resolution, the reply writer and the per-area apply functions that
 * metadata.c dispatches to. Everything here runs on shard 0 inside metadata_apply.
 */
#ifndef RUNNEL_NODE_METADATA_INTERNAL_H
#define RUNNEL_NODE_METADATA_INTERNAL_H

#include "node/metadata.h"
#include "proto/metadata.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

/* Appends little-endian values to a reply buffer; overflow is sticky and checked once. */
struct metadata_writer {
    uint8_t *buffer;
    uint32_t capacity;
    uint32_t size;
    bool is_overflow;
};

void metadata_writer_u8(struct metadata_writer *writer, uint8_t value);
void metadata_writer_u32(struct metadata_writer *writer, uint32_t value);
void metadata_writer_u64(struct metadata_writer *writer, uint64_t value);
void metadata_writer_bytes(struct metadata_writer *writer, const void *bytes, uint32_t size);
void metadata_writer_name(struct metadata_writer *writer, const struct metadata_name *name);

/* What an apply function hands back: a status and, on success, a payload in writer. */
struct metadata_apply_state {
    struct metadata *metadata;
    const struct metadata_apply_context *context;
    struct metadata_writer *payload; /* after the 4-byte success result section */
};

/* Slot tables. */
void metadata_slots_reset(struct metadata_slots *slots);
uint32_t metadata_slots_take(struct metadata_slots *slots); /* METADATA_NONE when full */
void metadata_slots_give(struct metadata_slots *slots, uint32_t slot);
uint32_t metadata_slots_used(const struct metadata_slots *slots);

/* Names: a valid name is 1..255 bytes. */
bool metadata_name_is_valid(const ProtobufCBinaryData *bytes);
void metadata_name_set(struct metadata_name *name, const ProtobufCBinaryData *bytes);
bool metadata_name_equals(const struct metadata_name *name, const uint8_t *bytes, size_t size);

/* Identifier resolution against committed state: METADATA_NONE when missing. */
uint32_t metadata_resolve_stream(const struct metadata *metadata,
                                 const Runnel__Metadata__Identifier *identifier);
uint32_t metadata_resolve_topic_slot(const struct metadata *metadata, uint32_t stream_id,
                                     const Runnel__Metadata__Identifier *identifier);
uint32_t metadata_resolve_group_slot(const struct metadata *metadata,
                                     const struct metadata_topic *topic,
                                     const Runnel__Metadata__Identifier *identifier);
uint32_t metadata_resolve_user(const struct metadata *metadata,
                               const Runnel__Metadata__Identifier *identifier);
uint32_t metadata_topic_slot(const struct metadata *metadata, uint32_t stream_id,
                             uint32_t topic_id);

/* Partition index. */
void metadata_index_reset(struct metadata_index *index);
void metadata_index_put(struct metadata_index *index, uint64_t key, uint32_t value);
uint32_t metadata_index_get(const struct metadata_index *index, uint64_t key);
void metadata_index_remove(struct metadata_index *index, uint64_t key);
uint64_t metadata_partition_key(uint32_t stream_id, uint32_t topic_id, uint32_t partition_id);

/* Areas (metadata_streams.c, metadata_users.c, metadata_groups.c). Each returns a
 * metadata_status; on METADATA_STATUS_OK it may have written a payload. */
uint32_t metadata_apply_stream_op(struct metadata_apply_state *state,
                                  const Runnel__Metadata__MetadataOperation *operation);
uint32_t metadata_apply_user_op(struct metadata_apply_state *state,
                                const Runnel__Metadata__MetadataOperation *operation);
uint32_t metadata_apply_group_op(struct metadata_apply_state *state,
                                 const Runnel__Metadata__MetadataOperation *operation);

/* The METADATA_CLIENT_REPLIES kept replies of the client at client_slot; clear empties them. */
struct metadata_client_reply *metadata_client_replies(const struct metadata *metadata,
                                                      uint32_t client_slot);
void metadata_client_replies_clear(struct metadata *metadata, uint32_t client_slot);

/* The replies ring (struct metadata_replies): holds is true while a RING entry's bytes are
 * not overwritten; read copies them out (the ring must be there: not a published copy);
 * write puts size bytes at the absolute position (nothing in a published copy). */
bool metadata_replies_holds(const struct metadata *metadata,
                            const struct metadata_client_reply *entry);
void metadata_replies_read(const struct metadata *metadata,
                           const struct metadata_client_reply *entry, uint8_t *out);
void metadata_replies_write(struct metadata *metadata, uint64_t position, const uint8_t *bytes,
                            uint32_t size);

/* Removes every partition, group and member of the topic at topic_slot. */
void metadata_topic_release(struct metadata *metadata, uint32_t topic_slot);

/* Removes every group of the topic (with members and assignments). */
void metadata_topic_groups_release(struct metadata *metadata, struct metadata_topic *topic);

/* Eager round-robin rebalance of every group of the topic (generation + 1 each). */
void metadata_topic_groups_rebalance(struct metadata *metadata, struct metadata_topic *topic);

/* True when the assignment table can hold an eager rebalance of every group of topic
 * over partitions_count partitions. */
bool metadata_topic_groups_can_rebalance(const struct metadata *metadata,
                                         const struct metadata_topic *topic,
                                         uint32_t partitions_count);

/* Drops client from every group it is a member of (eager rebalance of each). */
void metadata_groups_remove_client(struct metadata *metadata, u128 client);

/* Removes a user's grants; sets them from permissions (NULL: none). Returns a status. */
void metadata_permissions_clear(struct metadata *metadata, struct metadata_user *user);
uint32_t metadata_permissions_set(struct metadata *metadata, struct metadata_user *user,
                                  const Runnel__Metadata__Permissions *permissions);

/* Writes Iggy's reply structures (iggy-protocol.md §3.11). */
void metadata_write_stream_response(struct metadata_writer *writer,
                                    const struct metadata_stream *stream);
void metadata_write_topic_header(struct metadata_writer *writer,
                                 const struct metadata_topic *topic);
void metadata_write_partition_response(struct metadata_writer *writer,
                                       const struct metadata_partition *partition);
void metadata_write_user_details(struct metadata_writer *writer, const struct metadata *metadata,
                                 const struct metadata_user *user);
void metadata_write_group_details(struct metadata_writer *writer, const struct metadata *metadata,
                                  const struct metadata_group *group);

/* Permission gate for an op by context->user_id: 0 allowed, else a status. */
bool metadata_user_can(const struct metadata *metadata, uint32_t user_id,
                       enum metadata_action action, uint32_t stream_id, uint32_t topic_id);

/* Arena allocator for protobuf-c. */
void metadata_arena_reset(struct metadata_arena *arena);

#endif
