/*
 * The stand-in frame handler (see echo_handler.h). Owns nothing but counters, one line
 * per shard; each shard's calls run on that shard.
 */
#include "node/echo_handler.h"

#include "lib/assert.h"
#include "node/frame_reader.h"
#include "node/net.h"

#include <stddef.h>
#include <string.h>

static int echo_handler_on_frame(struct node_handler *handler, struct net_connection *connection,
                                 const uint8_t *frame, uint32_t size_bytes)
{
    assert(handler != NULL && connection != NULL && frame != NULL);
    assert(size_bytes >= FRAME_HEADER_SIZE);
    struct echo_handler *echo = handler->context;
    uint32_t shard = net_connection_shard(connection);
    assert(shard < ECHO_HANDLER_SHARDS_MAX);
    uint8_t command = frame[ECHO_HANDLER_COMMAND_OFFSET];
    int result = 0;
    if (command == ECHO_HANDLER_COMMAND_PING) {
        uint8_t pong[FRAME_HEADER_SIZE];
        memcpy(pong, frame, FRAME_HEADER_SIZE);
        pong[ECHO_HANDLER_COMMAND_OFFSET] = ECHO_HANDLER_COMMAND_PONG;
        pong[FRAME_SIZE_OFFSET] = (uint8_t)FRAME_HEADER_SIZE;
        pong[FRAME_SIZE_OFFSET + 1] = (uint8_t)(FRAME_HEADER_SIZE >> 8);
        pong[FRAME_SIZE_OFFSET + 2] = 0;
        pong[FRAME_SIZE_OFFSET + 3] = 0;
        result = net_connection_send(connection, pong, sizeof(pong));
    } else if (command == ECHO_HANDLER_COMMAND_ECHO || command == ECHO_HANDLER_COMMAND_MOVE) {
        result = net_connection_send(connection, frame, size_bytes);
        if (result == 0 && command == ECHO_HANDLER_COMMAND_MOVE) {
            uint32_t target = frame[ECHO_HANDLER_MOVE_SHARD_OFFSET] %
                              net_connection_shard_count(connection); /* untrusted byte */
            net_connection_handoff(connection, target);
        }
    }
    if (result == 0) {
        echo->counters[shard].frames++;
        echo->counters[shard].bytes += size_bytes;
    }
    return result;
}

static void echo_handler_on_tick(struct node_handler *handler, uint32_t shard_index)
{
    assert(handler != NULL);
    assert(shard_index < ECHO_HANDLER_SHARDS_MAX);
    struct echo_handler *echo = handler->context;
    echo->counters[shard_index].ticks++;
}

void echo_handler_init(struct echo_handler *echo)
{
    assert(echo != NULL);
    memset(echo, 0, sizeof(*echo));
    echo->handler.on_frame = echo_handler_on_frame;
    echo->handler.on_close = NULL;
    echo->handler.on_tick = echo_handler_on_tick;
    echo->handler.context = echo;
    assert(echo->handler.context == echo);
}
