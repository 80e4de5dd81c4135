/*
 * A shard's replica bus inbox: the valid messages received on the shard, copied when they
 * arrive (inside the ring's completion dispatch or a network flush) and handed to the
 * receive callback from the shard's next pass (node_handler.on_pass: outside dispatch).
 * A VSR replica may wait for its journal while it handles a message (a record that left
 * the tail buffer is read back with io_run: a repair request, a commit of old ops), which
 * the runtime refuses inside a dispatch, and a partition group being opened (its replay
 * runs io_run too) must not take messages before its replica exists. A full inbox drops
 * the message and counts it (VSR retransmits and repairs).
 */
#ifndef RUNNEL_NODE_REPLICA_BUS_INBOX_H
#define RUNNEL_NODE_REPLICA_BUS_INBOX_H

#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stdint.h>

struct replica_bus_inbox {
    uint8_t *ring;     /* [capacity], 64-aligned; entries 16-aligned, never split */
    uint32_t capacity; /* bytes */
    uint32_t head;     /* the oldest entry */
    uint32_t tail;     /* where the next entry goes */
    uint32_t wrap_end; /* when is_wrapped: entries fill [head, wrap_end) then [0, tail) */
    bool is_wrapped;
    uint32_t count;    /* entries queued */
    uint64_t deferred; /* messages queued */
    uint64_t dropped;  /* messages dropped: inbox full */
};

/* Allocates a ring that holds at least two messages of message_size_max bytes. Returns 0
 * or -ENOMEM. */
int replica_bus_inbox_init(struct replica_bus_inbox *inbox, uint32_t message_size_max);
void replica_bus_inbox_deinit(struct replica_bus_inbox *inbox);

/* Copies a message (header->size bytes: the header, then body) in; false when it is full
 * (counted in dropped) or header->size is out of range. */
bool replica_bus_inbox_push(struct replica_bus_inbox *inbox, const struct vsr_header *header,
                            const void *body);

/* The oldest message (header and body, valid until its pop; messages pushed meanwhile go
 * after it), or NULL when empty. */
const struct vsr_header *replica_bus_inbox_peek(const struct replica_bus_inbox *inbox,
                                                const void **body_out);
void replica_bus_inbox_pop(struct replica_bus_inbox *inbox);

#endif
