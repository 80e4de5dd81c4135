/*
 * The plain blocking backend of the I/O seam (lib/io.h), for tools, recovery and early
 * tests. Every operation runs synchronously inside its submit (pread/pwrite loops,
 * fdatasync, accept4, recv, ...), its result is stored and the completion is queued;
 * io_run delivers the queue in submission order. Timers become ready once their delay
 * has passed on CLOCK_MONOTONIC; io_run sleeps for them (never longer than its wait_ns).
 *
 * Usage:
 *     struct io_blocking blocking;
 *     io_blocking_init(&blocking);
 *     io_open(&blocking.io, &completion, "file", IO_OPEN_CREATE, callback, context);
 *     io_run(&blocking.io, 0);
 *     io_blocking_deinit(&blocking);
 *
 * Sockets block: a recv on a socket without data waits for it inside the submit, so this
 * backend suits request/response tools, not servers. Single-threaded; needs no memory
 * beyond the struct (completions are linked through their own next field).
 */
#ifndef RUNNEL_LIB_IO_BLOCKING_H
#define RUNNEL_LIB_IO_BLOCKING_H

#include "lib/io.h"

#include <stdbool.h>
#include <stdint.h>

struct io_blocking {
    struct io io; /* first: callers pass &blocking.io */
    /* Completions whose operation is done, in submission order (FIFO). */
    struct io_completion *ready_head;
    struct io_completion *ready_tail;
    uint32_t ready_count;
    /* Timeouts not yet due, sorted by deadline (backend_data[0], monotonic ns); ties keep
     * submission order. */
    struct io_completion *timer_head;
    uint32_t timer_count;
    bool is_running; /* inside io_run: a callback must not call io_run again */
};

/* Sets up an empty backend. Returns 0 (kept int so callers need no change if it can fail). */
int io_blocking_init(struct io_blocking *blocking);

/* Forgets completions not yet delivered (their callbacks never run) and poisons the
 * backend. Closes no handles: those belong to the caller. */
void io_blocking_deinit(struct io_blocking *blocking);

#endif
