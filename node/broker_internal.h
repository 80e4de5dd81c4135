/*
 * Functions shared by the broker's files: broker.c (handler, pools, routing, replies),
 * broker_ops.c (login, metadata and partition requests) and broker_reads.c
 * (NonReplicated reads). Not for callers outside node/broker*. Home-shard side unless
 * noted.
 */
#ifndef RUNNEL_NODE_BROKER_INTERNAL_H
#define RUNNEL_NODE_BROKER_INTERNAL_H

#include "node/broker.h"
#include "node/control_plane.h"
#include "node/net.h"

/* A free request of shard (large: a buffer for batches and polls), or NULL. */
struct broker_request *broker_request_take(struct broker_shard *shard, bool is_large);
void broker_request_free(struct broker_shard *shard, struct broker_request *request);

/* Fills a request taken for connection's frame (header copied, reply defaults). */
void broker_request_bind(struct broker_shard *shard, struct broker_request *request,
                         struct net_connection *connection,
                         const struct iggy_request_header *header, enum broker_request_kind kind);

/* Sends request to its target shard (or runs it here), counting it in flight. */
void broker_request_route(struct broker *broker, uint32_t shard_index,
                          struct broker_request *request);

/* Writes [user_id][0][client] + the packed op into request's buffer. Returns 0, or
 * -RUNNEL_ETOOLARGE when it does not fit. */
int broker_request_pack(struct broker_request *request,
                        const Runnel__Metadata__MetadataOperation *operation, uint32_t user_id,
                        u128 client);

/* Immediate replies on connection (0, or what net_connection_send returned). */
int broker_reply_send(struct net_connection *connection, const struct iggy_request_header *header,
                      uint8_t operation, uint32_t status, const void *body, uint32_t body_size);
int broker_reply_status(struct broker_shard *shard, struct net_connection *connection,
                        const struct iggy_request_header *header, uint32_t status);
int broker_reply_eviction(struct broker_shard *shard, struct net_connection *connection,
                          const struct iggy_request_header *header, uint8_t reason);

struct session *broker_session(struct broker_shard *shard, struct net_connection *connection);

/* broker_ops.c */
int broker_register(struct broker_shard *shard, struct net_connection *connection,
                    const struct iggy_request_header *header, const uint8_t *body,
                    uint32_t body_size);
int broker_logout(struct broker_shard *shard, struct net_connection *connection,
                  const struct iggy_request_header *header);
int broker_metadata_request(struct broker_shard *shard, struct net_connection *connection,
                            const struct iggy_request_header *header, const uint8_t *body,
                            uint32_t body_size);
int broker_partition_request(struct broker_shard *shard, struct net_connection *connection,
                             const struct iggy_request_header *header, const uint8_t *body,
                             uint32_t body_size);
/* Poll (100) and offset get (120) arrive as NonReplicated reads. */
int broker_partition_read(struct broker_shard *shard, struct net_connection *connection,
                          const struct iggy_request_header *header, const uint8_t *body,
                          uint32_t body_size);
/* DeleteSegments (138); and the home side once the owner resolved the offset (true when
 * the request went on to shard 0). */
int broker_delete_segments(struct broker_shard *shard, struct net_connection *connection,
                           const struct iggy_request_header *header, const uint8_t *body,
                           uint32_t body_size);
bool broker_delete_segments_resolved(struct broker_shard *shard, struct broker_request *request);
/* On the home shard's pass: auth worker completions. */
void broker_auth_pass(struct broker_shard *shard);
/* Home side of a completed login, logout or token request; true when it sent the reply. */
bool broker_ops_finish(struct broker_shard *shard, struct net_connection *connection,
                       struct broker_request *request);

/* broker_reads.c */
int broker_read(struct broker_shard *shard, struct net_connection *connection,
                const struct iggy_request_header *header, const uint8_t *body, uint32_t body_size);

#endif
