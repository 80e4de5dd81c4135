/*
 * librunnel internals for message sends: the request metadata prefix, adding a message
 * to a batch being built, and sending a finished body. Shared by client_messages.c and
 * the producer. Not installed.
 */
#ifndef RUNNEL_CLIENT_CLIENT_MESSAGES_H
#define RUNNEL_CLIENT_CLIENT_MESSAGES_H

#include "client/client.h"
#include "proto/batch.h"
#include "proto/iggy_messages.h"

#include <stdint.h>

/* Wall clock in µs (message origin timestamps). */
uint64_t client_messages_now_us(void);

/* Appends [metadata_length][stream][topic][partitioning][message_count] (no batch).
 * Returns 0, -EINVAL (bad id or key) or -RUNNEL_ETOOLARGE. */
int client_messages_prefix(struct iggy_writer *writer, struct runnel_id stream,
                           struct runnel_id topic, const struct runnel_partitioning *partitioning,
                           uint32_t message_count);

/* Adds message to builder (minting an id when it has none). 0, -EINVAL or -RUNNEL_EFULL. */
int client_messages_add(struct runnel_client *client, struct batch_builder *builder,
                        const struct runnel_message_out *message, uint64_t origin_us);

/* Sends a complete SendMessages body and decodes the confirmation. */
int client_messages_send(struct runnel_client *client, const struct iggy_writer *writer,
                         struct runnel_send_result *result_out);

#endif
