/*
 * The stand-in node_handler runneld uses until the broker exists (and the runtime's tests
 * and benchmark use): a frame whose command byte (offset 88, VSR framing) is PING gets a
 * 256-byte PONG with the same header otherwise; command 0 (reserved) is echoed back whole;
 * MOVE is echoed back whole and then the connection moves to shard (byte 89 modulo the
 * shard count), standing in for runnel's move-connection request; every other frame is
 * consumed and counted. Stateless but for per-shard counters.
 */
#ifndef RUNNEL_NODE_ECHO_HANDLER_H
#define RUNNEL_NODE_ECHO_HANDLER_H

#include "node/node_handler.h"

#include <stdint.h>

enum {
    ECHO_HANDLER_COMMAND_OFFSET = 88,
    ECHO_HANDLER_COMMAND_ECHO = 0,
    ECHO_HANDLER_COMMAND_PING = 1,
    ECHO_HANDLER_COMMAND_PONG = 2,
    ECHO_HANDLER_COMMAND_MOVE = 3,
    ECHO_HANDLER_MOVE_SHARD_OFFSET = 89,
    ECHO_HANDLER_SHARDS_MAX = 256,
};

struct echo_handler_counters {
    uint64_t frames;
    uint64_t bytes;
    uint64_t ticks;
} __attribute__((aligned(64)));

struct echo_handler {
    struct node_handler handler; /* pass &echo->handler to the runtime */
    struct echo_handler_counters counters[ECHO_HANDLER_SHARDS_MAX]; /* written by each shard */
};

void echo_handler_init(struct echo_handler *echo);

#endif
