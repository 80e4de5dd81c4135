/*
 * runneld's side of the runnel-only cluster commands (DESIGN.md §10.4,
 * proto/runnel_cluster.h): the roles and partition -> primary map, and moving a
 * connection with its session to another shard. Part of the broker (node/broker*.c);
 * home-shard side unless noted.
 */
#ifndef RUNNEL_NODE_BROKER_CLUSTER_H
#define RUNNEL_NODE_BROKER_CLUSTER_H

#include "node/broker.h"
#include "node/session.h"

struct net_connection;
struct vsr_replica;

/* A runnel-only request (runnel_cluster_is_command(header->code)), logged in. */
int broker_cluster_request(struct broker_shard *shard, struct net_connection *connection,
                           const struct iggy_request_header *header, const uint8_t *body,
                           uint32_t body_size);

/* A session just opened (UNBOUND) for connection: when the connection came by a move,
 * takes over the session it had on its previous shard. */
void broker_cluster_session_adopt(struct net_connection *connection, struct session *session);

/* node_handler.on_handoff: the connection left this shard; its session here ends without
 * a logout (it continues on the target). */
void broker_cluster_on_handoff(struct node_handler *handler, struct net_connection *connection);

/* Each tick, on the owning shard: the group's view and status for the map. */
void broker_cluster_publish_partition(struct broker *broker, uint32_t metadata_slot,
                                      const struct vsr_replica *replica);
/* Each tick, on shard 0: the metadata group's view and status. */
void broker_cluster_publish_metadata(struct broker *broker, const struct vsr_replica *replica);

#endif
