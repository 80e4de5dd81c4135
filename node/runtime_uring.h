/*
 * One shard's io_uring: the ring, its registered file table, its provided-buffer ring
 * for receives, its registered (fixed) buffer region for file I/O, and the lib/io.h
 * backend on top of it. Nothing outside node/runtime_uring.c sees liburing.
 *
 * Ownership: a runtime_uring belongs to the thread that created it (SINGLE_ISSUER): every
 * call except runtime_uring_ring_fd must come from that thread. Other shards address it
 * only through its ring fd (MSG_RING doorbells).
 *
 * Completion model (research/iouring.md §8.1): operations carry an intrusive
 * struct runtime_uring_completion whose address is the SQE's user_data. A loop pass calls
 * runtime_uring_submit_and_wait (one io_uring_enter: submit everything queued, wait up to
 * a deadline, copy the CQEs out) and then runtime_uring_dispatch (run the callbacks from
 * the copy). Callbacks never run inside the reap, and SQEs they queue go out in the next
 * pass. A multishot operation calls its callback once per CQE; IORING_CQE_F_MORE absent
 * (runtime_uring_is_more false) means it has ended.
 */
#ifndef RUNNEL_NODE_RUNTIME_URING_H
#define RUNNEL_NODE_RUNTIME_URING_H

#include "lib/io.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msghdr;
struct runtime_uring;
struct runtime_uring_completion;

/* result is the CQE's res (>= 0 or -errno); flags the CQE's flags. */
typedef void (*runtime_uring_callback)(struct runtime_uring_completion *completion, int32_t result,
                                       uint32_t flags);

struct runtime_uring_completion {
    runtime_uring_callback callback;
    void *context;
};

struct runtime_uring_options {
    uint32_t sq_entries;              /* power of two */
    uint32_t cq_entries;              /* power of two, >= sq_entries */
    uint32_t files_max;               /* sparse registered-file table slots (sockets) */
    uint32_t recv_buffer_count;       /* provided buffers, power of two, <= 32768 */
    uint32_t recv_buffer_size_bytes;  /* each provided buffer */
    uint32_t recv_buffers_posted_max; /* in the kernel's ring at once (> 0; capped at count) */
    uint64_t fixed_buffer_size_bytes; /* registered region for file I/O, multiple of 4096 */
    uint32_t io_files_max;            /* files with writes in flight at once (io backend) */
    int32_t cpu;                      /* io-wq workers pinned here; -1: not pinned */
    uint32_t iowq_workers_max;        /* io-wq workers per class (bounded, unbounded) */
    bool require_defer_taskrun;       /* fail instead of falling back (tests) */
};

struct runtime_uring_counters {
    uint64_t enters;          /* io_uring_enter calls */
    uint64_t sqes;            /* SQEs queued */
    uint64_t cqes;            /* CQEs reaped */
    uint64_t doorbells;       /* MSG_RING doorbells received */
    uint64_t doorbells_sent;  /* MSG_RING doorbells queued */
    uint64_t sq_full_flushes; /* submits forced by a full SQ */
};

/* Fills options with defaults sized for tests and tools (small). */
void runtime_uring_options_default(struct runtime_uring_options *options);

/*
 * Creates a ring on the calling thread with SINGLE_ISSUER | DEFER_TASKRUN (falling back,
 * logged, to COOP_TASKRUN when the kernel refuses them), registers the ring fd, a sparse
 * file table, the provided-buffer ring (group 0) and the fixed buffer region, and bounds
 * and pins the io-wq workers. Allocates everything it will ever use. On error returns a
 * negative code and writes one line naming the cause and the fix into error_text.
 */
int runtime_uring_create(const struct runtime_uring_options *options,
                         struct runtime_uring **uring_out, char *error_text,
                         size_t error_size_bytes);

/* Closes the ring (the kernel stops using buffers first), then frees its memory. */
void runtime_uring_destroy(struct runtime_uring *uring);

/*
 * Start-up check for the whole process, run once before shards start: io_uring is
 * enabled (sysctl, seccomp), the kernel supports the opcodes the runtime uses, and
 * RLIMIT_MEMLOCK covers registered_bytes (root and CAP_IPC_LOCK are exempt). Returns 0 or
 * a negative code with one line saying which and how to fix it in error_text.
 */
int runtime_uring_check_environment(uint64_t registered_bytes, char *error_text,
                                    size_t error_size_bytes);

/* Pure part of the memlock check (testable): 0, or -ENOMEM with error_text set. */
int runtime_uring_check_memlock(uint64_t limit_bytes, uint64_t registered_bytes, bool is_exempt,
                                char *error_text, size_t error_size_bytes);

/* The real ring fd, to be targeted by other shards' doorbells. Safe from any thread. */
int runtime_uring_ring_fd(const struct runtime_uring *uring);

/* True when the ring runs with DEFER_TASKRUN (false: the logged fallback). */
bool runtime_uring_is_defer_taskrun(const struct runtime_uring *uring);

const struct runtime_uring_counters *runtime_uring_counters(const struct runtime_uring *uring);

/* Operations queued or in the kernel whose final CQE has not been dispatched. */
uint32_t runtime_uring_in_flight(const struct runtime_uring *uring);

/* Puts descriptor fd into registered slot (sync register update). 0 or -errno. */
int runtime_uring_file_register(struct runtime_uring *uring, uint32_t slot, int fd);

/* Empties registered slot; in-flight operations keep their own reference. */
int runtime_uring_file_unregister(struct runtime_uring *uring, uint32_t slot);

/* Multishot accept on a plain listening fd: one callback per connection (result = fd). */
void runtime_uring_accept_multishot(struct runtime_uring *uring,
                                    struct runtime_uring_completion *completion, int listener);

/* Multishot receive on registered slot into the provided-buffer ring. */
void runtime_uring_recv_multishot(struct runtime_uring *uring,
                                  struct runtime_uring_completion *completion, uint32_t slot);

/* One receive of at most size_bytes into buffer (not the buffer ring) on registered slot:
 * for reading an exact number of bytes and no more. */
void runtime_uring_recv(struct runtime_uring *uring, struct runtime_uring_completion *completion,
                        uint32_t slot, void *buffer, uint32_t size_bytes);

/* One send of size_bytes from buffer on registered slot (may complete short). */
void runtime_uring_send(struct runtime_uring *uring, struct runtime_uring_completion *completion,
                        uint32_t slot, const void *buffer, uint32_t size_bytes);

/*
 * Zero-copy send (IORING_OP_SEND_ZC) of size_bytes from buffer on registered slot. Two
 * CQEs: the result (runtime_uring_is_more true when a notification follows), then the
 * notification (runtime_uring_is_notification; its result says whether the kernel copied
 * after all, runtime_uring_notification_copied). The buffer belongs to the kernel until the
 * notification, also when the send failed.
 */
void runtime_uring_send_zc(struct runtime_uring *uring, struct runtime_uring_completion *completion,
                           uint32_t slot, const void *buffer, uint32_t size_bytes);

/* One sendmsg of message's iovecs on registered slot (may complete short); zero-copy
 * (SENDMSG_ZC, two CQEs as for runtime_uring_send_zc) when is_zero_copy. message, its
 * iovecs and their bytes stay untouched until the final CQE. */
void runtime_uring_sendmsg(struct runtime_uring *uring, struct runtime_uring_completion *completion,
                           uint32_t slot, const struct msghdr *message, bool is_zero_copy);

/* True for a zero-copy send's notification CQE (the send's buffer is free again). */
bool runtime_uring_is_notification(uint32_t flags);

/* A notification's result: true when the kernel copied the bytes (e.g. over loopback). */
bool runtime_uring_notification_copied(int32_t result);

/* Asks the kernel to cancel target (by user_data); target's callback still runs. */
void runtime_uring_cancel(struct runtime_uring *uring,
                          const struct runtime_uring_completion *target);

/*
 * Queues a MSG_RING doorbell to the ring whose fd is target_ring_fd, carrying source. It
 * wakes that ring's owner if it sleeps; its CQE is counted and otherwise ignored there.
 * No completion on success here (CQE_SKIP_SUCCESS).
 */
void runtime_uring_doorbell(struct runtime_uring *uring, int target_ring_fd, uint32_t source);

/* Start of provided buffer id (as returned by runtime_uring_buffer_id). */
uint8_t *runtime_uring_recv_buffer(struct runtime_uring *uring, uint16_t buffer_id);

uint32_t runtime_uring_recv_buffer_size(const struct runtime_uring *uring);

/* Gives buffer_id back to the kernel (visible at the next submit). */
void runtime_uring_recv_buffer_release(struct runtime_uring *uring, uint16_t buffer_id);

/* Asks for buffer_count buffers more than recv_buffers_posted_max in the kernel's ring
 * from the next submit on (until changed): receives re-armed after -ENOBUFS each need
 * one, and many connections receiving at once should not be fed a few at a time. */
void runtime_uring_recv_demand(struct runtime_uring *uring, uint32_t buffer_count);

/* Buffers the kernel can still fill or that wait, released, to be posted again. Zero means
 * every buffer is held by callers: a receive armed now would end with -ENOBUFS. */
uint32_t runtime_uring_recv_buffers_available(const struct runtime_uring *uring);

/* Buffers handed out by receives and not yet released. */
uint32_t runtime_uring_recv_buffers_held(const struct runtime_uring *uring);

/* True when the CQE names a provided buffer; sets *buffer_id. */
bool runtime_uring_buffer_id(uint32_t flags, uint16_t *buffer_id);

/* True when a multishot operation will deliver more CQEs. */
bool runtime_uring_is_more(uint32_t flags);

/* The registered region for file I/O (O_DIRECT aligned); writes and reads whose buffer
 * lies inside it use WRITE_FIXED / READ_FIXED. */
uint8_t *runtime_uring_fixed_buffer(struct runtime_uring *uring, uint64_t *size_bytes_out);

/* The lib/io.h backend running on this ring. */
struct io *runtime_uring_io(struct runtime_uring *uring);

/*
 * Submits everything queued in one io_uring_enter and waits up to wait_ns (0: do not
 * wait) for a completion, then copies the CQEs for runtime_uring_dispatch. Returns the
 * number copied, or a negative errno from the kernel (other than a timeout or EINTR).
 */
int runtime_uring_submit_and_wait(struct runtime_uring *uring, uint64_t wait_ns);

/* Runs the callbacks of the CQEs copied by the last submit_and_wait, and of io
 * operations the backend completed without the kernel. Returns callbacks run. */
uint32_t runtime_uring_dispatch(struct runtime_uring *uring);

/* True when dispatch has work without waiting (copied CQEs or local completions). */
bool runtime_uring_has_ready(const struct runtime_uring *uring);

#endif
