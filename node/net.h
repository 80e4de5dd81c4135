/*
 * A shard's network side (DESIGN.md §3, research/iouring.md §8.2-8.3): the listeners
 * (shard 0 only), the connections homed on this shard, and the frames flowing through
 * them.
 *
 * Shard 0 accepts (multishot) on the client and replica listeners and hands each new client
 * connection to a shard round-robin (itself included) through the cross-shard queues; a
 * replica connection stays on shard 0 until its hello names the shard it is for, and the
 * replica bus then moves it there directly (one move at most, none for shard 0); when
 * a queue is full the connection is parked (in order) and shard 0 stops accepting until
 * the parked ones have gone, so new connections wait in the listen backlog. The home
 * shard puts the socket in its registered file table, receives with one multishot recv
 * into the provided-buffer ring, and at the end of the pass reads frames from what
 * arrived (node/frame_reader.h; in place, also across adjacent buffers, or reassembled),
 * passes them to the node_handler, and sends what the handler queued with one send per
 * connection per pass from the connection's output buffer: a ring, so every reply queued
 * before the pass's flush goes out in one SQE (a send when the bytes are contiguous, a
 * two-iovec sendmsg when they wrap), with no copy or memmove after a short send. With
 * send_zc_min_bytes set, sends at least that large are zero-copy (SEND_ZC / SENDMSG_ZC):
 * the bytes stay put until the kernel's notification (off by default: over loopback the
 * kernel copies anyway, and it measured slower, docs/BENCHMARKS.md). When every receive buffer is
 * out, connections whose receive ended wait on a list and are re-armed once buffers
 * return (no re-arming of an empty ring every pass).
 *
 * Backpressure: a handler that refuses a frame (-RUNNEL_EFULL), a full output buffer or
 * too many requests in flight pause the connection's input: its receive is not re-armed,
 * and received buffers wait (at most NET_INPUT_SEGMENTS_MAX) until it resumes.
 * Limits: frame size (closes), requests in flight (pauses), idle timeout (closes).
 * A connection can be handed to another shard (net_connection_handoff): its multishot
 * receive stops, what was received is served here, the rest of a partial frame is read
 * with exact one-shot receives (never past the frame), and once its output has drained
 * the socket moves; the target continues the byte stream where this shard stopped.
 *
 * Memory: connections_max connection records and output buffers, allocated at init, plus
 * large_send_buffers_max large output rings that connections take on request
 * (net_connection_output_grow: replica links, whose frames are larger than a client's).
 * Everything here runs on the owning shard's thread.
 */
#ifndef RUNNEL_NODE_NET_H
#define RUNNEL_NODE_NET_H

#include "node/frame_reader.h"
#include "node/node_handler.h"
#include "node/runtime_uring.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct xshard;
struct xshard_entry;

enum {
    NET_INPUT_SEGMENTS_MAX = 16, /* >= runtime_uring recv_buffers_posted_max (see shard.c) */
    NET_ACCEPT_PENDING_MAX = 64, /* accepted connections parked while a queue is full */
    NET_XSHARD_ADOPT = 1,        /* arg0: socket fd, arg1: enum net_peer_kind (| state flag) */
    NET_HANDOFF_STATE_SIZE = 32, /* handler bytes a hand-off carries (xshard entry payload) */
    NET_ADOPT_WITH_STATE = 1u << 8,
};

enum net_peer_kind { NET_PEER_CLIENT = 0, NET_PEER_REPLICA = 1 };

enum net_connection_state {
    NET_CONNECTION_FREE = 0,
    NET_CONNECTION_OPEN,
    NET_CONNECTION_CLOSING, /* waiting for its operations to end */
};

struct net_options {
    uint32_t connections_max;              /* connections homed on this shard */
    uint32_t send_buffer_size_bytes;       /* per connection */
    uint32_t frame_size_max;               /* bytes, header included */
    uint32_t reassembly_slots_max;         /* frames split across buffers at once */
    uint32_t requests_in_flight_max;       /* per connection */
    uint64_t idle_timeout_ns;              /* 0: never */
    uint32_t send_zc_min_bytes;            /* sends at least this large are zero-copy; 0: never */
    uint32_t large_send_buffer_size_bytes; /* a large output ring (net_connection_output_grow) */
    uint32_t large_send_buffers_max;       /* large rings on this shard; 0: none */
};

struct net_input_segment {
    uint16_t buffer_id;
    uint32_t offset;
    uint32_t size_bytes;
};

struct net;

struct net_accept_pending {
    int fd;
    uint32_t kind;   /* enum net_peer_kind */
    uint32_t target; /* shard */
};

/* Gives back the memory of a held send (net_connection_send_held). */
typedef void (*net_held_release)(void *owner, void *item);

struct net_connection {
    struct runtime_uring_completion recv_completion;
    struct runtime_uring_completion send_completion;
    struct net *net;
    enum net_connection_state state;
    enum net_peer_kind kind;
    uint32_t slot; /* index in the connection table and the registered file table */
    int fd;        /* plain descriptor, kept for setsockopt and hand-off */
    bool is_recv_armed;
    bool is_recv_exact; /* the armed receive is one-shot into the reader (moving) */
    bool is_send_in_flight;
    bool is_paused;
    bool is_dirty;     /* on the flush list */
    bool is_waiting;   /* on the waiting list */
    bool is_starved;   /* waits for a receive buffer (the ring ran dry) */
    bool is_slot_wait; /* waits for a reassembly slot (input paused) */
    bool is_handoff;
    bool is_output_growing; /* moves to its large ring once no send is in flight */
    uint16_t output_large;  /* 1 + the large ring it holds or waits for; 0: none */
    uint32_t handoff_shard;
    bool has_handoff_state; /* handoff_state goes with the socket (net_connection_handoff_state) */
    bool has_adopted_state; /* adopted_state came with the socket (a hand-off) */
    uint8_t handoff_state[NET_HANDOFF_STATE_SIZE];
    uint8_t adopted_state[NET_HANDOFF_STATE_SIZE];
    uint32_t requests_in_flight;
    uint64_t last_active_ns;
    struct net_input_segment input[NET_INPUT_SEGMENTS_MAX];
    uint32_t input_head;
    uint32_t input_count;
    uint8_t *output;         /* a ring of net_connection_output_size bytes */
    uint32_t output_head;    /* first unsent byte (back to 0 whenever the ring empties) */
    uint32_t output_used;    /* bytes queued from output_head on, in flight included */
    uint32_t output_sending; /* bytes of output in the send in flight */
    bool is_send_zc;         /* the send in flight is zero-copy: done at its notification */
    int32_t send_result;     /* a zero-copy send's result, applied at its notification */
    const uint8_t *held;     /* a held send's bytes (sent before the ring's), or NULL */
    uint32_t held_size;      /* its bytes */
    uint32_t held_sent;      /* of them, sent */
    bool is_send_held;       /* the send in flight is from held */
    net_held_release held_release;
    void *held_owner;
    void *held_item;
    struct iovec send_iov[2];
    struct msghdr send_message; /* a wrapped send's sendmsg (kept until its final CQE) */
    uint64_t frames_in;
    uint64_t bytes_in;
    uint64_t bytes_out;
    void *user; /* the handler's per-connection pointer */
    struct frame_reader reader;
};

struct net_counters {
    uint64_t accepted;
    uint64_t accept_refused; /* no free connection, or too many parked */
    uint64_t accept_parked;  /* accepted while the target's queue was full: parked, retried */
    uint64_t adopted;
    uint64_t closed;
    uint64_t closed_idle;
    uint64_t closed_bad_frame;
    uint64_t input_overrun;   /* more receive CQEs than input segments while paused */
    uint64_t recv_rearmed;    /* multishot receives re-armed (ENOBUFS, end, resume) */
    uint64_t recv_no_buffers; /* receives ended by -ENOBUFS (buffer ring ran dry) */
    uint64_t slot_waits;      /* inputs paused for want of a reassembly slot */
    uint64_t handoffs;
    uint64_t pauses;
    uint64_t sends;                /* send SQEs (one per connection per pass at most) */
    uint64_t sends_vectored;       /* of them, two-iovec sendmsg (the output ring wrapped) */
    uint64_t sends_zc;             /* of them, zero-copy */
    uint64_t sends_zc_copied;      /* zero-copy sends the kernel copied after all */
    uint64_t sends_held;           /* of them, from a held send's memory (no copy into the ring) */
    uint64_t outputs_grown;        /* connections given a large output ring */
    uint64_t outputs_grow_refused; /* asked for one while every large ring was taken */
};

struct net {
    struct net_options options;
    struct runtime_uring *uring;
    struct xshard *xshard;
    struct node_handler *handler;
    uint32_t shard_index;
    uint32_t shard_count;
    struct net_connection *connections;
    uint32_t *free_slots;
    uint32_t free_count;
    uint32_t *dirty; /* slots to visit at the next flush */
    uint32_t dirty_count;
    uint32_t *waiting; /* slots waiting for a receive buffer or a reassembly slot */
    uint32_t waiting_count;
    bool has_recv_demand; /* the ring was asked for extra buffers (cleared once none wait) */
    struct net_accept_pending accept_pending[NET_ACCEPT_PENDING_MAX]; /* a FIFO */
    uint32_t accept_pending_head;
    uint32_t accept_pending_count;
    bool is_accept_paused[2];
    uint8_t *output_memory;
    uint8_t *large_memory; /* large_send_buffers_max large rings */
    uint32_t *large_free;  /* indices of the free ones (a stack) */
    uint32_t large_free_count;
    struct frame_pool pool;
    int listeners[2]; /* by net_peer_kind; -1: none */
    struct runtime_uring_completion accept_completions[2];
    bool is_accept_armed[2];
    uint32_t next_shard;
    bool is_draining;
    uint64_t now_ns;
    struct net_counters counters;
};

/* Sets net up for shard shard_index of shard_count; allocates everything. 0 or -ENOMEM. */
int net_init(struct net *net, const struct net_options *options, struct runtime_uring *uring,
             struct xshard *xshard, uint32_t shard_index, uint32_t shard_count,
             struct node_handler *handler);

/* Frees net's memory (after the ring is gone or every connection is closed). */
void net_deinit(struct net *net);

/* Opens a listening TCP socket on address:port (0: any free port, *port_out says which).
 * SO_REUSEADDR, never SO_REUSEPORT. Returns the fd or -errno. Any thread. */
int net_listener_open(const char *address, uint32_t port, uint32_t *port_out);

/* Shard 0: starts accepting on listener for kind (net takes the fd). */
void net_listen(struct net *net, int listener, enum net_peer_kind kind);

/* Homes the socket fd on this shard (or closes it, counted, when the table is full). */
int net_adopt(struct net *net, int fd, enum net_peer_kind kind);

/* A cross-shard entry addressed to net (NET_XSHARD_*). */
void net_on_xshard(struct net *net, const struct xshard_entry *entry);

/* Once per loop pass: resumes paused input, starts sends, re-arms receives, moves
 * handed-off connections. now_ns is the loop's clock reading. */
void net_flush(struct net *net, uint64_t now_ns);

/* Closes connections idle longer than the idle timeout. */
void net_sweep_idle(struct net *net, uint64_t now_ns);

/* Shutdown: stop accepting and receiving; connections close once their output is sent. */
void net_drain_begin(struct net *net);

/* Closes every connection now (drain deadline passed). */
void net_close_all(struct net *net);

/* True when no connection is open or parked and no accept is armed. */
bool net_is_drained(const struct net *net);

uint32_t net_connections_open(const struct net *net);

/* Queues size_bytes for sending on connection. 0, -RUNNEL_EFULL (does not fit now) or
 * -RUNNEL_ETOOLARGE (larger than the whole output buffer). */
int net_connection_send(struct net_connection *connection, const void *bytes, uint32_t size_bytes);

/*
 * Queues size_bytes at bytes for sending without copying them into the output buffer:
 * the caller leaves that memory unchanged until release(owner, item) is called, exactly
 * once, on this shard, after the last byte was sent or once the connection closed (never
 * inside this call). Only when nothing is queued on the connection (empty output buffer,
 * no held send): -RUNNEL_EFULL otherwise (net_connection_send copies instead). Bytes
 * queued later with net_connection_send go out after these.
 */
int net_connection_send_held(struct net_connection *connection, const void *bytes,
                             uint32_t size_bytes, net_held_release release, void *owner,
                             void *item);

/*
 * Gives connection one of the shard's large output rings (large_send_buffer_size_bytes,
 * e.g. a replica link's) for the rest of its life here: at once when no send is in flight,
 * else when the one in flight ends (until then it queues into its own ring); what is
 * queued then is copied over, in order. Its slot's own ring stays unused meanwhile; the
 * large ring returns to the shard's pool when the slot is freed. 0, or -RUNNEL_EFULL when
 * every large ring is taken (counted; the connection keeps its ring).
 */
int net_connection_output_grow(struct net_connection *connection);

/* Bytes connection's output ring holds now. */
uint32_t net_connection_output_size(const struct net_connection *connection);

/* Bytes its output ring will hold: the large ring's size once one is given (also while
 * the move waits for a send in flight), else net_connection_output_size. */
uint32_t net_connection_output_capacity(const struct net_connection *connection);

/* Starts closing connection (idempotent). */
void net_connection_close(struct net_connection *connection);

/* A request the handler answers later: counts against requests_in_flight_max. */
void net_connection_request_begin(struct net_connection *connection);
void net_connection_request_end(struct net_connection *connection);

/*
 * Moves connection to shard target_shard (its home shard's thread; e.g. from on_frame):
 * frames already received are still handed to this shard's handler, in order, and their
 * replies sent; then the socket goes to the target through the cross-shard queue, which
 * serves the next frame. No byte is lost or reordered. A later request before the move
 * replaces the target; one naming this shard cancels the move. The move waits for the
 * connection's requests in flight to end (net_connection_request_end).
 */
void net_connection_handoff(struct net_connection *connection, uint32_t target_shard);

/*
 * The handler's state for the connection's next move (size_bytes <= NET_HANDOFF_STATE_SIZE,
 * zero-padded): the target finds it in adopted_state (has_adopted_state) before the
 * connection's first frame there. Call before or after net_connection_handoff; the last
 * state given before the move goes (a handler that serves frames received before the move
 * gives it again after each).
 */
void net_connection_handoff_state(struct net_connection *connection, const void *state,
                                  uint32_t size_bytes);

uint32_t net_connection_shard(const struct net_connection *connection);

/* Shards of the node (targets of net_connection_handoff are below it). */
uint32_t net_connection_shard_count(const struct net_connection *connection);

/* Bytes a connection costs when idle: its record and its output buffer (the large rings
 * are a separate, per-shard reservation: large_send_buffers_max of them). */
uint64_t net_connection_cost_bytes(const struct net_options *options);

#endif
