/*
 * What runs on a connection's frames: the seam between the shard runtime (node/net.c,
 * node/shard.c) and the broker. The runtime reassembles frames and calls on_frame on the
 * connection's home shard; the handler answers with net_connection_send. Until the broker
 * fills this in, runneld serves connections with node/echo_handler.c.
 *
 * One handler serves every shard: each call names the shard (through the connection or
 * the shard index), and the handler keeps per-shard state itself. Calls for one shard come
 * from that shard's thread only.
 */
#ifndef RUNNEL_NODE_NODE_HANDLER_H
#define RUNNEL_NODE_NODE_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_connection;
struct xshard_entry;

struct node_handler {
    /*
     * A whole frame (header + body, size_bytes >= 256, valid only during the call).
     * Returns 0 when taken; -RUNNEL_EFULL when it cannot be taken now (the connection's
     * input pauses and the same frame is offered again after output drains or
     * net_connection_request_end); any other negative code closes the connection.
     */
    int (*on_frame)(struct node_handler *handler, struct net_connection *connection,
                    const uint8_t *frame, uint32_t size_bytes);
    /* The connection is gone (optional). */
    void (*on_close)(struct node_handler *handler, struct net_connection *connection);
    /* Optional: the connection left this shard (a hand-off; no on_close follows here). */
    void (*on_handoff)(struct node_handler *handler, struct net_connection *connection);
    /* The 10 ms VSR tick on shard shard_index (optional). */
    void (*on_tick)(struct node_handler *handler, uint32_t shard_index);
    /*
     * Optional, on the shard's thread after its ring exists and before any listener or
     * connection is armed (recovery may run io_wait on the shard's io here). A negative
     * return fails the start with error_text.
     */
    int (*on_start)(struct node_handler *handler, uint32_t shard_index, char *error_text,
                    size_t error_size_bytes);
    /* Optional, once per loop pass, outside completion dispatch, before the network
     * flush: deferred completions and group commits run here. */
    void (*on_pass)(struct node_handler *handler, uint32_t shard_index);
    /*
     * Optional, once on shard shard_index when its drain begins (SIGINT/SIGTERM, after the
     * shard stopped accepting): the handler stops taking new work and starts putting its
     * storage to rest (flush, sync, close) while the ring still exists.
     */
    void (*on_drain)(struct node_handler *handler, uint32_t shard_index);
    /*
     * Optional, checked on each pass while shard shard_index drains: true when the
     * handler's storage is quiet (synced and closed). The shard exits only once it is true
     * and its connections and I/O are quiet, or when the drain timeout passes.
     */
    bool (*is_drained)(struct node_handler *handler, uint32_t shard_index);
    /*
     * Optional, once on shard shard_index when its loop has ended (drained, or the drain
     * timed out), while its ring still exists (io_wait allowed): the handler closes the
     * files it still holds. Nothing else of the shard runs after it.
     */
    void (*on_exit)(struct node_handler *handler, uint32_t shard_index);
    /* Optional: a cross-shard entry whose operation is not the runtime's own. */
    void (*on_xshard)(struct node_handler *handler, uint32_t shard_index,
                      const struct xshard_entry *entry);
    void *context;
};

#endif
