/*
 * runnel-only commands (DESIGN.md §10.4), sent as NonReplicated requests with codes
 * outside Iggy's ranges (Iggy's server answers them with status 3, InvalidCommand):
 *
 * RUNNEL_COMMAND_CLUSTER_MAP (9000): the true roles of the nodes and the partition ->
 * primary map as the answering node knows it (Iggy's cluster metadata, code 12, reports
 * every node as Leader). Request body: empty (every partition; needs the servers-read
 * permission) or [stream identifier][topic identifier] (that topic's partitions; needs
 * the topic-read permission). Reply (little-endian):
 *   [version u8 = 1][replica_count u8][self u8][metadata_primary u8]
 *   [metadata_view u32][metadata_status u8][reserved u8 x 3]
 *   [shard_count u32][connection_shard u32]
 *   [node_count u32] then per node [replica u8][role u8][is_self u8][reserved u8]
 *                                  [partitions_led u32]
 *   [partition_count u32] then per partition [stream u32][topic u32][partition u32]
 *       [incarnation u64][view u32][primary u8][status u8][shard u16]
 * role: 1 primary of the metadata group, 2 backup. status: 0 not open on this node (the
 * primary is the preferred one, view 0), 1 normal, 2 view change, 3 recovering head.
 * shard: the shard of the answering node that owns the partition group.
 *
 * RUNNEL_COMMAND_CONNECTION_MOVE (9001): moves the connection to a shard of the node.
 * Request [shard u32]; reply [shard u32][shard_count u32]: the shard the connection
 * moves to. The session (login, client id, exactly-once sequence) moves with it. The
 * client must send nothing else until the reply arrives: the server closes a connection
 * that sends a frame while it is moving.
 *
 * Decoders validate everything (untrusted bytes never reach an assert).
 */
#ifndef RUNNEL_PROTO_CLUSTER_WIRE_H
#define RUNNEL_PROTO_CLUSTER_WIRE_H

#include "proto/iggy_wire.h"

#include <stdbool.h>
#include <stdint.h>

enum cluster_wire_command {
    RUNNEL_COMMAND_CLUSTER_MAP = 9000,
    RUNNEL_COMMAND_CONNECTION_MOVE = 9001,
};

enum {
    CLUSTER_WIRE_MAP_VERSION = 1,
    CLUSTER_WIRE_MAP_HEAD_SIZE = 20,
    CLUSTER_WIRE_NODE_SIZE = 8,
    CLUSTER_WIRE_PARTITION_SIZE = 28,
    CLUSTER_WIRE_REPLICAS_MAX = 16,
};

enum cluster_wire_role { CLUSTER_WIRE_ROLE_PRIMARY = 1, CLUSTER_WIRE_ROLE_BACKUP = 2 };

enum cluster_wire_status {
    CLUSTER_WIRE_STATUS_CLOSED = 0,
    CLUSTER_WIRE_STATUS_NORMAL = 1,
    CLUSTER_WIRE_STATUS_VIEW_CHANGE = 2,
    CLUSTER_WIRE_STATUS_RECOVERING_HEAD = 3,
};

struct cluster_wire_head {
    uint8_t replica_count; /* 1..CLUSTER_WIRE_REPLICAS_MAX */
    uint8_t self;          /* < replica_count */
    uint8_t metadata_primary;
    uint32_t metadata_view;
    uint8_t metadata_status; /* enum cluster_wire_status */
    uint32_t shard_count;    /* >= 1 */
    uint32_t connection_shard;
};

struct cluster_wire_node {
    uint8_t replica;
    uint8_t role; /* enum cluster_wire_role */
    bool is_self;
    uint32_t partitions_led;
};

struct cluster_wire_partition {
    uint32_t stream_id;
    uint32_t topic_id;
    uint32_t partition_id;
    uint64_t incarnation;
    uint32_t view;
    uint8_t primary; /* replica index */
    uint8_t status;  /* enum cluster_wire_status */
    uint16_t shard;
};

/* True for the codes above. */
bool cluster_wire_is_command(uint32_t code);

/* Dotted name of a runnel-only code ("runnel.cluster.map"), NULL for other codes. */
const char *cluster_wire_command_name(uint32_t code);

/* --- map request ---------------------------------------------------------------------- */

/* has_topic false: the whole map (empty body). Returns 0 or -RUNNEL_ETOOLARGE. */
int cluster_wire_map_request_encode(struct iggy_writer *writer, bool has_topic,
                                    const struct iggy_identifier *stream,
                                    const struct iggy_identifier *topic);

/* Returns 0 with *has_topic_out (and ids when true), -RUNNEL_ETRUNCATED or
 * -RUNNEL_EFORMAT. Names point into body. */
int cluster_wire_map_request_decode(const uint8_t *body, uint32_t body_size, bool *has_topic_out,
                                    struct iggy_identifier *stream_out,
                                    struct iggy_identifier *topic_out);

/* --- map reply ------------------------------------------------------------------------ */

/* Writers in order: head, node_count then nodes, partition count then partitions. The
 * counts are u32s the caller writes with iggy_writer_u32 (or reserves and patches). */
void cluster_wire_head_encode(struct iggy_writer *writer, const struct cluster_wire_head *head);
void cluster_wire_node_encode(struct iggy_writer *writer, const struct cluster_wire_node *node);
void cluster_wire_partition_encode(struct iggy_writer *writer,
                                   const struct cluster_wire_partition *partition);

/*
 * Checks a whole map reply and reads its head, node count and partition count; the
 * entries are then read with cluster_wire_node_at / cluster_wire_partition_at.
 * Returns 0, -RUNNEL_ETRUNCATED (shorter than its counts say) or -RUNNEL_EFORMAT (bad
 * version, replica/self/role/status out of range, trailing bytes).
 */
struct cluster_wire_map {
    struct cluster_wire_head head;
    uint32_t node_count;
    uint32_t partition_count;
    const uint8_t *nodes;      /* node_count * CLUSTER_WIRE_NODE_SIZE bytes */
    const uint8_t *partitions; /* partition_count * CLUSTER_WIRE_PARTITION_SIZE bytes */
};
int cluster_wire_map_decode(const uint8_t *body, uint32_t body_size,
                            struct cluster_wire_map *view_out);

/* Entry index of a decoded map (index < the count; checked by the decoder). */
void cluster_wire_node_at(const struct cluster_wire_map *view, uint32_t index,
                          struct cluster_wire_node *node_out);
void cluster_wire_partition_at(const struct cluster_wire_map *view, uint32_t index,
                               struct cluster_wire_partition *partition_out);

/* --- move ------------------------------------------------------------------------------ */

void cluster_wire_move_request_encode(struct iggy_writer *writer, uint32_t shard);
/* Returns 0, -RUNNEL_ETRUNCATED or -RUNNEL_EFORMAT (trailing bytes). */
int cluster_wire_move_request_decode(const uint8_t *body, uint32_t body_size, uint32_t *shard_out);

void cluster_wire_move_reply_encode(struct iggy_writer *writer, uint32_t shard,
                                    uint32_t shard_count);
/* Returns 0, -RUNNEL_ETRUNCATED or -RUNNEL_EFORMAT (shard not below shard_count). */
int cluster_wire_move_reply_decode(const uint8_t *body, uint32_t body_size, uint32_t *shard_out,
                                   uint32_t *shard_count_out);

#endif
