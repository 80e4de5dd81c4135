/*
 * One shard's io_uring and the lib/io.h backend on it (see runtime_uring.h). This is the
 * only file that uses liburing (through node/uring_compat.h).
 *
 * Owns: the ring, the copy of the CQEs reaped in a pass, the provided-buffer ring and its
 * buffers, the fixed (registered) buffer region, and the io backend's bookkeeping (files
 * with writes in flight, syncs held back behind them, operations completed without the
 * kernel). Runs on the shard thread that created it.
 *
 * user_data encoding: 0 = ignore (cancels, a failed doorbell's sender CQE); low bit 1 = a
 * doorbell from shard (user_data >> 1); low bits 10 = a struct io_completion; otherwise a
 * struct runtime_uring_completion (8-byte aligned).
 */
#include "node/runtime_uring.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"
#include "node/uring_compat.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

enum {
    URING_TAG_DOORBELL = 1,
    URING_TAG_IO = 2,
    URING_TAG_MASK = 3,
    URING_BUFFER_GROUP = 0,
    URING_FIXED_BUFFER_INDEX = 0,
};

_Static_assert(_Alignof(struct runtime_uring_completion) >= 4, "user_data tags need 2 bits");
_Static_assert(_Alignof(struct io_completion) >= 4, "user_data tags need 2 bits");
_Static_assert(sizeof(struct sockaddr_in) <= 2 * sizeof(uint64_t), "fits backend_data[2..3]");
_Static_assert(sizeof(struct __kernel_timespec) <= 2 * sizeof(uint64_t), "fits backend_data");

struct runtime_uring_cqe {
    uint64_t user_data;
    int32_t result;
    uint32_t flags;
};

/*
 * A file with io writes in flight, and the syncs held back for them. Each held sync waits
 * only for the writes submitted before it (not for later ones, so a steady stream of
 * writes cannot starve it): writes carry the file's generation when submitted
 * (backend_data[0]); a held sync records the generation it closed (backend_data[1]) and
 * how many earlier writes are still in flight (backend_data[0]).
 */
struct runtime_uring_io_file {
    int32_t handle; /* -1: free entry */
    uint32_t writes_in_flight;
    uint64_t generation;
    struct io_completion *held_head;
    struct io_completion *held_tail;
};

struct runtime_uring {
    struct io_uring ring;
    struct io io;
    struct runtime_uring_options options;
    bool is_defer_taskrun;
    bool is_dispatching;
    uint32_t in_flight;
    struct runtime_uring_counters counters;
    struct runtime_uring_cqe *cqes; /* cq_entries copies */
    uint32_t cqe_count;
    struct io_uring_buf_ring *buffer_ring;
    uint8_t *recv_memory;
    uint16_t *recv_free;      /* released buffer ids, a stack: the warmest on top */
    uint32_t recv_free_count; /* ids on the stack */
    uint32_t recv_in_ring;    /* posted to the kernel and not yet seen in a CQE */
    uint32_t recv_held;       /* handed to callers, not yet released */
    uint32_t recv_demand;     /* extra buffers to post this pass (receives waiting for one) */
    uint8_t *fixed_memory;
    struct io_completion *local_head; /* io ops completed without the kernel */
    struct io_completion *local_tail;
    struct runtime_uring_io_file *io_files;
    uint32_t io_pending;
    /* The last SQE prepared, when it was an io write (for linking a sync to it). */
    struct io_uring_sqe *chain_sqe;
    int32_t chain_handle;
    uint32_t chain_writes;
};

static const struct io_backend runtime_uring_io_backend;

void runtime_uring_options_default(struct runtime_uring_options *options)
{
    assert(options != NULL);
    memset(options, 0, sizeof(*options));
    options->sq_entries = 256;
    options->cq_entries = 1024;
    options->files_max = 64;
    options->recv_buffer_count = 64;
    options->recv_buffer_size_bytes = 16384;
    options->recv_buffers_posted_max = 16;
    options->fixed_buffer_size_bytes = 1u << 20;
    options->io_files_max = 16;
    options->cpu = -1;
    options->iowq_workers_max = 2;
    assert(options->cq_entries >= options->sq_entries);
}

static bool runtime_uring_is_power_of_two(uint64_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

/* ---------------------------------------------------------------------------------------
 * Set-up and teardown. */

static int runtime_uring_ring_init(struct runtime_uring *uring, char *error_text,
                                   size_t error_size_bytes)
{
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                   IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
    params.cq_entries = uring->options.cq_entries;
    int result = io_uring_queue_init_params(uring->options.sq_entries, &uring->ring, &params);
    uring->is_defer_taskrun = result == 0;
    if (result == -EINVAL && !uring->options.require_defer_taskrun) {
        log_warn("uring_fallback", "reason=\"SINGLE_ISSUER|DEFER_TASKRUN refused\" "
                                   "using=COOP_TASKRUN");
        memset(&params, 0, sizeof(params));
        params.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
                       IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
        params.cq_entries = uring->options.cq_entries;
        result = io_uring_queue_init_params(uring->options.sq_entries, &uring->ring, &params);
    }
    if (result != 0) {
        snprintf(error_text, error_size_bytes,
                 "io_uring unavailable (io_uring_setup: %s): needs Linux 6.1+ with "
                 "kernel.io_uring_disabled=0 and no seccomp filter blocking it (docker: "
                 "security_opt: seccomp:unconfined)",
                 strerror(-result));
        return result;
    }
    if ((params.features & IORING_FEAT_EXT_ARG) == 0) {
        io_uring_queue_exit(&uring->ring);
        snprintf(error_text, error_size_bytes,
                 "io_uring too old (no IORING_FEAT_EXT_ARG): needs Linux 6.1+");
        return -RUNNEL_EUNSUPPORTED;
    }
    return 0;
}

static void runtime_uring_memlock_text(char *error_text, size_t error_size_bytes, const char *what,
                                       int result)
{
    snprintf(error_text, error_size_bytes,
             "cannot lock memory for io_uring %s (%s): raise the locked-memory limit "
             "(ulimit -l unlimited; systemd LimitMEMLOCK=infinity; docker ulimits: memlock: -1)",
             what, strerror(-result));
}

/*
 * Posts released buffers to the kernel until recv_buffers_posted_max (plus the demand the
 * caller declared for this pass) are in its ring, the
 * most recently released first and in ascending address order within the batch, then
 * publishes them with one advance. Posting only a few at a time keeps receives landing in
 * memory that is still in the cache: the kernel takes buffers in ring (FIFO) order, so
 * posting all of them would cycle every receive through the whole pool.
 */
static void runtime_uring_recv_refill(struct runtime_uring *uring)
{
    uint32_t target = uring->options.recv_buffers_posted_max + uring->recv_demand;
    if (uring->recv_in_ring >= target || uring->recv_free_count == 0) {
        return;
    }
    uint32_t want = target - uring->recv_in_ring;
    want = want < uring->recv_free_count ? want : uring->recv_free_count;
    uint16_t *batch = &uring->recv_free[uring->recv_free_count - want];
    for (uint32_t index = 1; index < want && want <= 64; index++) { /* insertion sort */
        uint16_t id = batch[index];
        uint32_t position = index;
        for (; position > 0 && batch[position - 1] > id; position--) {
            batch[position] = batch[position - 1];
        }
        batch[position] = id;
    }
    int mask = io_uring_buf_ring_mask(uring->options.recv_buffer_count);
    uint32_t size = uring->options.recv_buffer_size_bytes;
    for (uint32_t index = 0; index < want; index++) {
        io_uring_buf_ring_add(uring->buffer_ring, uring->recv_memory + (size_t)batch[index] * size,
                              size, batch[index], mask, (int)index);
    }
    io_uring_buf_ring_advance(uring->buffer_ring, (int)want);
    uring->recv_free_count -= want;
    uring->recv_in_ring += want;
    assert(uring->recv_in_ring + uring->recv_free_count + uring->recv_held ==
           uring->options.recv_buffer_count);
}

static int runtime_uring_register_recv(struct runtime_uring *uring, char *error_text,
                                       size_t error_size_bytes)
{
    uint32_t count = uring->options.recv_buffer_count;
    uint32_t size = uring->options.recv_buffer_size_bytes;
    if (count == 0) {
        return 0;
    }
    uring->recv_memory = aligned_alloc(4096, (size_t)count * size);
    uring->recv_free = calloc(count, sizeof(uring->recv_free[0]));
    if (uring->recv_memory == NULL || uring->recv_free == NULL) {
        snprintf(error_text, error_size_bytes, "out of memory for receive buffers");
        return -ENOMEM;
    }
    memset(uring->recv_memory, 0, (size_t)count * size); /* first touch on this shard */
    int result = 0;
    uring->buffer_ring =
        uring_compat_setup_buf_ring(&uring->ring, count, URING_BUFFER_GROUP, &result);
    if (uring->buffer_ring == NULL) {
        runtime_uring_memlock_text(error_text, error_size_bytes, "buffer ring", result);
        return result;
    }
    for (uint32_t index = 0; index < count; index++) {
        uring->recv_free[index] = (uint16_t)(count - 1 - index); /* id 0 on top */
    }
    uring->recv_free_count = count;
    runtime_uring_recv_refill(uring);
    return 0;
}

static int runtime_uring_register_fixed(struct runtime_uring *uring, char *error_text,
                                        size_t error_size_bytes)
{
    uint64_t size = uring->options.fixed_buffer_size_bytes;
    if (size == 0) {
        return 0;
    }
    uring->fixed_memory = aligned_alloc(IO_SECTOR_SIZE, size);
    if (uring->fixed_memory == NULL) {
        snprintf(error_text, error_size_bytes, "out of memory for fixed buffers");
        return -ENOMEM;
    }
    memset(uring->fixed_memory, 0, size);
    struct iovec vector = {.iov_base = uring->fixed_memory, .iov_len = size};
    int result = io_uring_register_buffers(&uring->ring, &vector, 1);
    if (result != 0) {
        runtime_uring_memlock_text(error_text, error_size_bytes, "fixed buffers", result);
        return result;
    }
    return 0;
}

static void runtime_uring_bound_workers(struct runtime_uring *uring)
{
    unsigned int workers[2] = {uring->options.iowq_workers_max, uring->options.iowq_workers_max};
    int result = io_uring_register_iowq_max_workers(&uring->ring, workers);
    if (result != 0) {
        log_warn("uring_iowq_bound_failed", "error=\"%s\"", strerror(-result));
    }
    if (uring->options.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((size_t)uring->options.cpu, &set);
        result = io_uring_register_iowq_aff(&uring->ring, sizeof(set), &set);
        if (result != 0) {
            log_warn("uring_iowq_pin_failed", "cpu=%d error=\"%s\"", uring->options.cpu,
                     strerror(-result));
        }
    }
}

static int runtime_uring_allocate(struct runtime_uring *uring)
{
    uring->cqes = calloc(uring->options.cq_entries, sizeof(uring->cqes[0]));
    uring->io_files = calloc(uring->options.io_files_max, sizeof(uring->io_files[0]));
    if (uring->cqes == NULL || uring->io_files == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < uring->options.io_files_max; index++) {
        uring->io_files[index].handle = -1;
    }
    uring->io.backend = &runtime_uring_io_backend;
    uring->chain_handle = -1;
    return 0;
}

static int runtime_uring_setup(struct runtime_uring *uring, char *error_text,
                               size_t error_size_bytes)
{
    int result = runtime_uring_ring_init(uring, error_text, error_size_bytes);
    if (result != 0) {
        return result;
    }
    if (io_uring_register_ring_fd(&uring->ring) < 0) {
        log_warn("uring_register_ring_fd_failed", NULL);
    }
    result = io_uring_register_files_sparse(&uring->ring, uring->options.files_max);
    if (result != 0) {
        snprintf(error_text, error_size_bytes,
                 "cannot register %u io_uring file slots (%s): raise the open-file limit "
                 "(ulimit -n)",
                 uring->options.files_max, strerror(-result));
        return result;
    }
    result = runtime_uring_register_recv(uring, error_text, error_size_bytes);
    if (result == 0) {
        result = runtime_uring_register_fixed(uring, error_text, error_size_bytes);
    }
    if (result == 0) {
        runtime_uring_bound_workers(uring);
    }
    return result;
}

int runtime_uring_create(const struct runtime_uring_options *options,
                         struct runtime_uring **uring_out, char *error_text,
                         size_t error_size_bytes)
{
    assert(options != NULL && uring_out != NULL && error_text != NULL);
    assert(runtime_uring_is_power_of_two(options->sq_entries));
    assert(runtime_uring_is_power_of_two(options->cq_entries));
    assert(options->cq_entries >= options->sq_entries);
    assert(options->recv_buffer_count == 0 ||
           (runtime_uring_is_power_of_two(options->recv_buffer_count) &&
            options->recv_buffer_count <= 32768 && options->recv_buffer_size_bytes > 0));
    assert(io_is_sector_aligned(options->fixed_buffer_size_bytes));
    assert(options->files_max > 0 && options->io_files_max > 0);
    *uring_out = NULL;
    struct runtime_uring *uring = calloc(1, sizeof(*uring));
    if (uring == NULL) {
        snprintf(error_text, error_size_bytes, "out of memory for the ring");
        return -ENOMEM;
    }
    uring->options = *options;
    uring->ring.ring_fd = -1;
    int result = runtime_uring_allocate(uring);
    if (result != 0) {
        snprintf(error_text, error_size_bytes, "out of memory for the ring");
    } else {
        result = runtime_uring_setup(uring, error_text, error_size_bytes);
    }
    if (result != 0) {
        runtime_uring_destroy(uring);
        return result;
    }
    *uring_out = uring;
    return 0;
}

void runtime_uring_destroy(struct runtime_uring *uring)
{
    if (uring == NULL) {
        return;
    }
    assert(!uring->is_dispatching);
    if (uring->ring.ring_fd >= 0) {
        if (uring->buffer_ring != NULL) {
            uring_compat_free_buf_ring(&uring->ring, uring->buffer_ring,
                                       uring->options.recv_buffer_count, URING_BUFFER_GROUP);
        }
        /* Exiting the ring cancels what is in flight before the buffers are freed. */
        io_uring_queue_exit(&uring->ring);
    }
    free(uring->recv_memory);
    free(uring->recv_free);
    free(uring->fixed_memory);
    free(uring->cqes);
    free(uring->io_files);
    free(uring);
}

/* ---------------------------------------------------------------------------------------
 * Start-up checks. */

int runtime_uring_check_memlock(uint64_t limit_bytes, uint64_t registered_bytes, bool is_exempt,
                                char *error_text, size_t error_size_bytes)
{
    assert(error_text != NULL);
    assert(error_size_bytes > 0);
    if (is_exempt || limit_bytes >= registered_bytes) {
        return 0;
    }
    snprintf(error_text, error_size_bytes,
             "locked-memory limit too small for io_uring: %llu KiB allowed, %llu KiB needed "
             "(ulimit -l unlimited; systemd LimitMEMLOCK=infinity; docker ulimits: memlock: -1)",
             (unsigned long long)(limit_bytes / 1024),
             (unsigned long long)((registered_bytes + 1023) / 1024));
    return -ENOMEM;
}

static bool runtime_uring_is_memlock_exempt(void)
{
    /* Root normally holds CAP_IPC_LOCK; the registration itself still reports ENOMEM
     * (with the same advice) if a container dropped it. */
    return geteuid() == 0;
}

static int runtime_uring_check_opcodes(struct io_uring *ring, char *error_text,
                                       size_t error_size_bytes)
{
    static const int opcodes[] = {
        IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_FSYNC,      IORING_OP_TIMEOUT,
        IORING_OP_ACCEPT,     IORING_OP_RECV,        IORING_OP_SEND,       IORING_OP_MSG_RING,
        IORING_OP_OPENAT,     IORING_OP_CLOSE,       IORING_OP_FALLOCATE,  IORING_OP_ASYNC_CANCEL,
        IORING_OP_SENDMSG,    IORING_OP_SEND_ZC,     IORING_OP_SENDMSG_ZC,
    };
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    if (probe == NULL) {
        snprintf(error_text, error_size_bytes, "io_uring opcode probe failed: needs Linux 6.1+");
        return -RUNNEL_EUNSUPPORTED;
    }
    int result = 0;
    for (size_t index = 0; index < sizeof(opcodes) / sizeof(opcodes[0]); index++) {
        if (!io_uring_opcode_supported(probe, opcodes[index])) {
            snprintf(error_text, error_size_bytes,
                     "io_uring lacks opcode %d the runtime needs: needs Linux 6.1+",
                     opcodes[index]);
            result = -RUNNEL_EUNSUPPORTED;
            break;
        }
    }
    io_uring_free_probe(probe);
    return result;
}

int runtime_uring_check_environment(uint64_t registered_bytes, char *error_text,
                                    size_t error_size_bytes)
{
    assert(error_text != NULL);
    assert(error_size_bytes > 0);
    FILE *sysctl = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (sysctl != NULL) {
        int disabled = 0;
        int scanned = fscanf(sysctl, "%d", &disabled);
        fclose(sysctl);
        if (scanned == 1 && disabled == 2) {
            snprintf(error_text, error_size_bytes,
                     "io_uring unavailable: kernel.io_uring_disabled=2 (sysctl -w "
                     "kernel.io_uring_disabled=0)");
            return -EPERM;
        }
    }
    struct io_uring ring;
    int result = io_uring_queue_init(8, &ring, 0);
    if (result != 0) {
        snprintf(error_text, error_size_bytes,
                 "io_uring unavailable (io_uring_setup: %s): needs Linux 6.1+ with "
                 "kernel.io_uring_disabled=0 and no seccomp filter blocking it (docker: "
                 "security_opt: seccomp:unconfined)",
                 strerror(-result));
        return result;
    }
    result = runtime_uring_check_opcodes(&ring, error_text, error_size_bytes);
    io_uring_queue_exit(&ring);
    if (result != 0) {
        return result;
    }
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) {
        return 0;
    }
    uint64_t limit_bytes = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : limit.rlim_cur;
    return runtime_uring_check_memlock(limit_bytes, registered_bytes,
                                       runtime_uring_is_memlock_exempt(), error_text,
                                       error_size_bytes);
}

/* ---------------------------------------------------------------------------------------
 * Accessors. */

int runtime_uring_ring_fd(const struct runtime_uring *uring)
{
    assert(uring != NULL);
    assert(uring->ring.ring_fd >= 0);
    return uring->ring.ring_fd;
}

bool runtime_uring_is_defer_taskrun(const struct runtime_uring *uring)
{
    assert(uring != NULL);
    return uring->is_defer_taskrun;
}

const struct runtime_uring_counters *runtime_uring_counters(const struct runtime_uring *uring)
{
    assert(uring != NULL);
    return &uring->counters;
}

uint32_t runtime_uring_in_flight(const struct runtime_uring *uring)
{
    assert(uring != NULL);
    return uring->in_flight;
}

bool runtime_uring_buffer_id(uint32_t flags, uint16_t *buffer_id)
{
    assert(buffer_id != NULL);
    if ((flags & IORING_CQE_F_BUFFER) == 0) {
        return false;
    }
    *buffer_id = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
    return true;
}

bool runtime_uring_is_more(uint32_t flags)
{
    return (flags & IORING_CQE_F_MORE) != 0;
}

uint8_t *runtime_uring_recv_buffer(struct runtime_uring *uring, uint16_t buffer_id)
{
    assert(uring != NULL);
    assert(buffer_id < uring->options.recv_buffer_count);
    return uring->recv_memory + (size_t)buffer_id * uring->options.recv_buffer_size_bytes;
}

uint32_t runtime_uring_recv_buffer_size(const struct runtime_uring *uring)
{
    assert(uring != NULL);
    assert(uring->recv_memory != NULL);
    return uring->options.recv_buffer_size_bytes;
}

void runtime_uring_recv_buffer_release(struct runtime_uring *uring, uint16_t buffer_id)
{
    assert(uring != NULL);
    assert(buffer_id < uring->options.recv_buffer_count);
    assert(uring->recv_held > 0);
    assert(uring->recv_free_count < uring->options.recv_buffer_count);
    uring->recv_free[uring->recv_free_count++] = buffer_id;
    uring->recv_held--;
}

void runtime_uring_recv_demand(struct runtime_uring *uring, uint32_t buffer_count)
{
    assert(uring != NULL);
    assert(uring->buffer_ring != NULL);
    uint32_t count = uring->options.recv_buffer_count;
    uring->recv_demand = buffer_count < count ? buffer_count : count;
}

uint32_t runtime_uring_recv_buffers_available(const struct runtime_uring *uring)
{
    assert(uring != NULL);
    assert(uring->recv_in_ring + uring->recv_free_count <= uring->options.recv_buffer_count);
    return uring->recv_in_ring + uring->recv_free_count;
}

uint32_t runtime_uring_recv_buffers_held(const struct runtime_uring *uring)
{
    assert(uring != NULL);
    return uring->recv_held;
}

uint8_t *runtime_uring_fixed_buffer(struct runtime_uring *uring, uint64_t *size_bytes_out)
{
    assert(uring != NULL);
    assert(size_bytes_out != NULL);
    *size_bytes_out = uring->options.fixed_buffer_size_bytes;
    return uring->fixed_memory;
}

struct io *runtime_uring_io(struct runtime_uring *uring)
{
    assert(uring != NULL);
    assert(uring->io.backend == &runtime_uring_io_backend);
    return &uring->io;
}

/* ---------------------------------------------------------------------------------------
 * Submission. */

/* Returns a fresh SQE; a full SQ is submitted first (the SQ is sized so that this is
 * rare; it is counted). */
static struct io_uring_sqe *runtime_uring_sqe(struct runtime_uring *uring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&uring->ring);
    if (sqe == NULL) {
        uring->counters.sq_full_flushes++;
        uring->counters.enters++;
        int result = io_uring_submit(&uring->ring);
        assert(result >= 0);
        sqe = io_uring_get_sqe(&uring->ring);
    }
    assert(sqe != NULL);
    uring->chain_sqe = NULL;
    uring->chain_handle = -1;
    uring->chain_writes = 0;
    uring->counters.sqes++;
    return sqe;
}

void runtime_uring_accept_multishot(struct runtime_uring *uring,
                                    struct runtime_uring_completion *completion, int listener)
{
    assert(uring != NULL && completion != NULL && completion->callback != NULL);
    assert(listener >= 0);
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    io_uring_prep_multishot_accept(sqe, listener, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, completion);
    uring->in_flight++;
}

void runtime_uring_recv_multishot(struct runtime_uring *uring,
                                  struct runtime_uring_completion *completion, uint32_t slot)
{
    assert(uring != NULL && completion != NULL && completion->callback != NULL);
    assert(slot < uring->options.files_max);
    assert(uring->buffer_ring != NULL);
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    io_uring_prep_recv_multishot(sqe, (int)slot, NULL, 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = URING_BUFFER_GROUP;
    io_uring_sqe_set_data(sqe, completion);
    uring->in_flight++;
}

void runtime_uring_recv(struct runtime_uring *uring, struct runtime_uring_completion *completion,
                        uint32_t slot, void *buffer, uint32_t size_bytes)
{
    assert(uring != NULL && completion != NULL && completion->callback != NULL);
    assert(slot < uring->options.files_max);
    assert(buffer != NULL && size_bytes > 0);
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    io_uring_prep_recv(sqe, (int)slot, buffer, size_bytes, 0);
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data(sqe, completion);
    uring->in_flight++;
}

static void runtime_uring_send_one(struct runtime_uring *uring,
                                   struct runtime_uring_completion *completion, uint32_t slot,
                                   const void *buffer, uint32_t size_bytes, bool is_zero_copy)
{
    assert(uring != NULL && completion != NULL && completion->callback != NULL);
    assert(slot < uring->options.files_max);
    assert(buffer != NULL && size_bytes > 0);
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    if (is_zero_copy) {
        io_uring_prep_send_zc(sqe, (int)slot, buffer, size_bytes, MSG_NOSIGNAL,
                              IORING_SEND_ZC_REPORT_USAGE);
    } else {
        io_uring_prep_send(sqe, (int)slot, buffer, size_bytes, MSG_NOSIGNAL);
    }
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data(sqe, completion);
    uring->in_flight++;
}

void runtime_uring_send(struct runtime_uring *uring, struct runtime_uring_completion *completion,
                        uint32_t slot, const void *buffer, uint32_t size_bytes)
{
    runtime_uring_send_one(uring, completion, slot, buffer, size_bytes, false);
}

void runtime_uring_send_zc(struct runtime_uring *uring, struct runtime_uring_completion *completion,
                           uint32_t slot, const void *buffer, uint32_t size_bytes)
{
    runtime_uring_send_one(uring, completion, slot, buffer, size_bytes, true);
}

void runtime_uring_sendmsg(struct runtime_uring *uring, struct runtime_uring_completion *completion,
                           uint32_t slot, const struct msghdr *message, bool is_zero_copy)
{
    assert(uring != NULL && completion != NULL && completion->callback != NULL);
    assert(slot < uring->options.files_max);
    assert(message != NULL && message->msg_iovlen > 0 && message->msg_name == NULL);
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    if (is_zero_copy) {
        io_uring_prep_sendmsg_zc(sqe, (int)slot, message, MSG_NOSIGNAL);
        sqe->ioprio = IORING_SEND_ZC_REPORT_USAGE;
    } else {
        io_uring_prep_sendmsg(sqe, (int)slot, message, MSG_NOSIGNAL);
    }
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data(sqe, completion);
    uring->in_flight++;
}

bool runtime_uring_is_notification(uint32_t flags)
{
    return (flags & IORING_CQE_F_NOTIF) != 0;
}

bool runtime_uring_notification_copied(int32_t result)
{
    return ((uint32_t)result & IORING_NOTIF_USAGE_ZC_COPIED) != 0;
}

void runtime_uring_cancel(struct runtime_uring *uring,
                          const struct runtime_uring_completion *target)
{
    assert(uring != NULL);
    assert(target != NULL);
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)target, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void runtime_uring_doorbell(struct runtime_uring *uring, int target_ring_fd, uint32_t source)
{
    assert(uring != NULL);
    assert(target_ring_fd >= 0);
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    uint64_t data = ((uint64_t)source << 2) | URING_TAG_DOORBELL;
    io_uring_prep_msg_ring(sqe, target_ring_fd, 0, data, 0);
    io_uring_sqe_set_data64(sqe, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    uring->counters.doorbells_sent++;
}

int runtime_uring_file_register(struct runtime_uring *uring, uint32_t slot, int fd)
{
    assert(uring != NULL);
    assert(slot < uring->options.files_max && fd >= 0);
    int result = io_uring_register_files_update(&uring->ring, slot, &fd, 1);
    return result == 1 ? 0 : (result < 0 ? result : -EIO);
}

int runtime_uring_file_unregister(struct runtime_uring *uring, uint32_t slot)
{
    assert(uring != NULL);
    assert(slot < uring->options.files_max);
    int empty = -1;
    int result = io_uring_register_files_update(&uring->ring, slot, &empty, 1);
    return result == 1 ? 0 : (result < 0 ? result : -EIO);
}

/* ---------------------------------------------------------------------------------------
 * The loop pass: submit, wait, reap; dispatch. */

static void runtime_uring_reap(struct runtime_uring *uring)
{
    struct io_uring_cqe *cqe = NULL;
    unsigned head = 0;
    uint32_t count = uring->cqe_count;
    io_uring_for_each_cqe(&uring->ring, head, cqe)
    {
        if (count == uring->options.cq_entries) {
            break;
        }
        uring->cqes[count].user_data = cqe->user_data;
        uring->cqes[count].result = cqe->res;
        uring->cqes[count].flags = cqe->flags;
        count++;
    }
    io_uring_cq_advance(&uring->ring, count - uring->cqe_count);
    uring->counters.cqes += count - uring->cqe_count;
    uring->cqe_count = count;
}

int runtime_uring_submit_and_wait(struct runtime_uring *uring, uint64_t wait_ns)
{
    assert(uring != NULL);
    assert(!uring->is_dispatching);
    if (uring->buffer_ring != NULL) {
        runtime_uring_recv_refill(uring);
    }
    uring->chain_sqe = NULL;
    uring->chain_handle = -1;
    uring->chain_writes = 0;
    uring->counters.enters++;
    int result = 0;
    if (wait_ns == 0 || uring->cqe_count > 0 || uring->local_head != NULL) {
        result = io_uring_submit_and_get_events(&uring->ring);
    } else {
        struct __kernel_timespec timeout = {.tv_sec = (long long)(wait_ns / 1000000000u),
                                            .tv_nsec = (long long)(wait_ns % 1000000000u)};
        struct io_uring_cqe *cqe = NULL;
        result = io_uring_submit_and_wait_timeout(&uring->ring, &cqe, 1, &timeout, NULL);
    }
    if (result < 0 && result != -ETIME && result != -EINTR && result != -EAGAIN &&
        result != -EBUSY) {
        return result;
    }
    uint32_t before = uring->cqe_count;
    runtime_uring_reap(uring);
    return (int)(uring->cqe_count - before);
}

bool runtime_uring_has_ready(const struct runtime_uring *uring)
{
    assert(uring != NULL);
    return uring->cqe_count > 0 || uring->local_head != NULL;
}

static void runtime_uring_io_complete(struct runtime_uring *uring, struct io_completion *completion,
                                      int64_t result);
static uint32_t runtime_uring_dispatch_local(struct runtime_uring *uring);

static void runtime_uring_dispatch_one(struct runtime_uring *uring,
                                       const struct runtime_uring_cqe *cqe)
{
    uint64_t tag = cqe->user_data & URING_TAG_MASK;
    if (cqe->user_data == 0) {
        /* A cancel that found nothing (-ENOENT, -EALREADY) is normal: the operation had
         * ended on its own. Anything else is worth a line. */
        if (cqe->result < 0 && cqe->result != -ENOENT && cqe->result != -EALREADY) {
            log_warn("uring_untracked_error", "error=\"%s\"", strerror(-cqe->result));
        }
    } else if (tag == URING_TAG_DOORBELL) {
        uring->counters.doorbells++;
    } else if (tag == URING_TAG_IO) {
        struct io_completion *completion =
            (struct io_completion *)(uintptr_t)(cqe->user_data & ~(uint64_t)URING_TAG_MASK);
        runtime_uring_io_complete(uring, completion, cqe->result);
    } else {
        assert(tag == 0);
        struct runtime_uring_completion *completion =
            (struct runtime_uring_completion *)(uintptr_t)cqe->user_data;
        assert(completion->callback != NULL);
        if (!runtime_uring_is_more(cqe->flags)) {
            assert(uring->in_flight > 0);
            uring->in_flight--;
        }
        uint16_t buffer_id = 0;
        if (runtime_uring_buffer_id(cqe->flags, &buffer_id)) {
            assert(uring->recv_in_ring > 0);
            uring->recv_in_ring--;
            uring->recv_held++;
        }
        completion->callback(completion, cqe->result, cqe->flags);
    }
}

uint32_t runtime_uring_dispatch(struct runtime_uring *uring)
{
    assert(uring != NULL);
    assert(!uring->is_dispatching);
    uring->is_dispatching = true;
    uint32_t count = uring->cqe_count;
    for (uint32_t index = 0; index < count; index++) {
        runtime_uring_dispatch_one(uring, &uring->cqes[index]);
    }
    uring->cqe_count = 0;
    count += runtime_uring_dispatch_local(uring);
    uring->is_dispatching = false;
    return count;
}

/* ---------------------------------------------------------------------------------------
 * The lib/io.h backend. */

static struct runtime_uring *runtime_uring_from_io(struct io *io)
{
    assert(io != NULL);
    assert(io->backend == &runtime_uring_io_backend);
    return (struct runtime_uring *)((char *)io - offsetof(struct runtime_uring, io));
}

static void runtime_uring_io_local(struct runtime_uring *uring, struct io_completion *completion,
                                   int64_t result)
{
    completion->result = result;
    completion->next = NULL;
    if (uring->local_tail == NULL) {
        uring->local_head = completion;
    } else {
        uring->local_tail->next = completion;
    }
    uring->local_tail = completion;
}

static uint32_t runtime_uring_dispatch_local(struct runtime_uring *uring)
{
    /* Bounded: only what is queued now; callbacks that complete locally go next pass. */
    struct io_completion *completion = uring->local_head;
    uring->local_head = NULL;
    uring->local_tail = NULL;
    uint32_t count = 0;
    for (uint32_t guard = 0; completion != NULL; guard++) {
        assert(guard < UINT32_MAX);
        struct io_completion *next = completion->next;
        assert(uring->io_pending > 0);
        uring->io_pending--;
        completion->done = true;
        completion->callback(completion);
        completion = next;
        count++;
    }
    return count;
}

static struct runtime_uring_io_file *runtime_uring_io_file_find(struct runtime_uring *uring,
                                                                int32_t handle, bool is_create)
{
    struct runtime_uring_io_file *free_entry = NULL;
    for (uint32_t index = 0; index < uring->options.io_files_max; index++) {
        struct runtime_uring_io_file *entry = &uring->io_files[index];
        if (entry->handle == handle) {
            return entry;
        }
        if (entry->handle == -1 && free_entry == NULL) {
            free_entry = entry;
        }
    }
    if (!is_create || free_entry == NULL) {
        return NULL;
    }
    free_entry->handle = handle;
    free_entry->writes_in_flight = 0;
    free_entry->generation = 0;
    free_entry->held_head = NULL;
    free_entry->held_tail = NULL;
    return free_entry;
}

static void runtime_uring_io_sqe_set(struct io_uring_sqe *sqe, struct io_completion *completion)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)completion | URING_TAG_IO);
}

static bool runtime_uring_is_fixed(const struct runtime_uring *uring, const void *buffer,
                                   uint64_t size_bytes)
{
    const uint8_t *start = buffer;
    const uint8_t *fixed = uring->fixed_memory;
    return fixed != NULL && start >= fixed &&
           size_bytes <= uring->options.fixed_buffer_size_bytes &&
           (uint64_t)(start - fixed) <= uring->options.fixed_buffer_size_bytes - size_bytes;
}

static void runtime_uring_io_write(struct runtime_uring *uring, struct io_completion *completion)
{
    struct runtime_uring_io_file *file =
        runtime_uring_io_file_find(uring, completion->handle, true);
    if (file == NULL) {
        runtime_uring_io_local(uring, completion, -RUNNEL_EFULL);
        return;
    }
    bool is_chain = uring->chain_sqe != NULL && uring->chain_handle == completion->handle;
    uint32_t chain_writes = is_chain ? uring->chain_writes : 0;
    struct io_uring_sqe *previous = uring->chain_sqe;
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    if (is_chain && previous != NULL && io_uring_sq_ready(&uring->ring) > 1) {
        previous->flags |= IOSQE_IO_LINK; /* same pass, adjacent: keep the order */
    } else {
        chain_writes = 0;
    }
    uint32_t size = (uint32_t)completion->size_bytes;
    if (runtime_uring_is_fixed(uring, completion->buffer, completion->size_bytes)) {
        io_uring_prep_write_fixed(sqe, completion->handle, completion->buffer, size,
                                  completion->offset_bytes, URING_FIXED_BUFFER_INDEX);
    } else {
        io_uring_prep_write(sqe, completion->handle, completion->buffer, size,
                            completion->offset_bytes);
    }
    runtime_uring_io_sqe_set(sqe, completion);
    completion->backend_data[0] = file->generation;
    file->writes_in_flight++;
    uring->chain_sqe = sqe;
    uring->chain_handle = completion->handle;
    uring->chain_writes = chain_writes + 1;
}

static void runtime_uring_io_sync_sqe(struct runtime_uring *uring, struct io_completion *completion)
{
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    unsigned flags = completion->operation == IO_OPERATION_FDATASYNC ? IORING_FSYNC_DATASYNC : 0;
    io_uring_prep_fsync(sqe, completion->handle, flags);
    runtime_uring_io_sqe_set(sqe, completion);
}

/*
 * A sync covers the writes to its file submitted before it. Writes prepared just before it
 * in this pass (adjacent in the SQ) are linked to it; if earlier writes are still in the
 * kernel, the sync is held until they complete.
 */
static void runtime_uring_io_sync(struct runtime_uring *uring, struct io_completion *completion)
{
    struct runtime_uring_io_file *file =
        runtime_uring_io_file_find(uring, completion->handle, false);
    if (file == NULL) {
        runtime_uring_io_sync_sqe(uring, completion);
        return;
    }
    bool can_link = uring->chain_sqe != NULL && uring->chain_handle == completion->handle &&
                    uring->chain_writes == file->writes_in_flight && file->held_head == NULL &&
                    io_uring_sq_space_left(&uring->ring) > 0;
    if (can_link) {
        uring->chain_sqe->flags |= IOSQE_IO_LINK;
        runtime_uring_io_sync_sqe(uring, completion);
        return;
    }
    completion->next = NULL;
    completion->backend_data[0] = file->writes_in_flight; /* writes it waits for */
    completion->backend_data[1] = file->generation++;
    if (file->held_tail == NULL) {
        file->held_head = completion;
    } else {
        file->held_tail->next = completion;
    }
    file->held_tail = completion;
}

static void runtime_uring_io_write_done(struct runtime_uring *uring,
                                        struct io_completion *completion)
{
    struct runtime_uring_io_file *file =
        runtime_uring_io_file_find(uring, completion->handle, false);
    assert(file != NULL);
    assert(file->writes_in_flight > 0);
    file->writes_in_flight--;
    uint64_t write_generation = completion->backend_data[0];
    for (struct io_completion *held = file->held_head; held != NULL; held = held->next) {
        if (held->backend_data[1] >= write_generation) { /* submitted before this sync */
            assert(held->backend_data[0] > 0);
            held->backend_data[0]--;
        }
    }
    /* Later syncs wait for a superset of earlier ones' writes: issue from the head. */
    for (uint32_t guard = 0; file->held_head != NULL && file->held_head->backend_data[0] == 0;
         guard++) {
        assert(guard < UINT32_MAX);
        struct io_completion *held = file->held_head;
        file->held_head = held->next;
        runtime_uring_io_sync_sqe(uring, held);
    }
    if (file->held_head == NULL) {
        file->held_tail = NULL;
        if (file->writes_in_flight == 0) {
            file->handle = -1;
        }
    }
}

static void runtime_uring_io_complete(struct runtime_uring *uring, struct io_completion *completion,
                                      int64_t result)
{
    assert(uring->io_pending > 0);
    assert(completion->callback != NULL);
    if (completion->operation == IO_OPERATION_WRITE) {
        runtime_uring_io_write_done(uring, completion);
    } else if (completion->operation == IO_OPERATION_TIMEOUT && result == -ETIME) {
        result = 0;
    } else if (completion->operation == IO_OPERATION_CONNECT) {
        int fd = (int)completion->backend_data[1];
        if (result < 0) {
            close(fd);
        } else {
            result = fd;
        }
    }
    uring->io_pending--;
    completion->result = result;
    completion->done = true;
    completion->callback(completion);
}

static int runtime_uring_open_flags(uint32_t flags)
{
    int open_flags = O_CLOEXEC;
    if ((flags & IO_OPEN_DIRECTORY) != 0) {
        return open_flags | O_DIRECTORY | O_RDONLY;
    }
    open_flags |= (flags & IO_OPEN_READ_ONLY) != 0 ? O_RDONLY : O_RDWR;
    open_flags |= (flags & IO_OPEN_CREATE) != 0 ? O_CREAT : 0;
    open_flags |= (flags & IO_OPEN_EXCLUSIVE) != 0 ? O_EXCL : 0;
    open_flags |= (flags & IO_OPEN_DIRECT) != 0 ? O_DIRECT : 0;
    return open_flags;
}

static int64_t runtime_uring_list(struct io_completion *completion)
{
    DIR *directory = opendir(completion->path);
    if (directory == NULL) {
        return -errno;
    }
    char *out = completion->buffer;
    uint64_t used = 0;
    int64_t result = 0;
    for (uint32_t guard = 0; guard < UINT32_MAX; guard++) {
        struct dirent *entry = readdir(directory);
        if (entry == NULL) {
            break;
        }
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
            continue;
        }
        size_t name_size = strlen(entry->d_name) + 1;
        if (used + name_size > completion->size_bytes) {
            result = -ERANGE;
            break;
        }
        memcpy(out + used, entry->d_name, name_size);
        used += name_size;
    }
    closedir(directory);
    return result < 0 ? result : (int64_t)used;
}

/* Operations io_uring on 6.18 + liburing 2.3 lacks (or that never block): done now,
 * delivered by the next dispatch. */
static void runtime_uring_io_local_op(struct runtime_uring *uring, struct io_completion *completion)
{
    int64_t result = 0;
    struct stat status;
    switch (completion->operation) {
    case IO_OPERATION_SIZE:
        result = fstat(completion->handle, &status) == 0 ? 0 : -errno;
        completion->size_bytes_out = result == 0 ? (uint64_t)status.st_size : 0;
        break;
    case IO_OPERATION_TRUNCATE:
        result = ftruncate(completion->handle, (off_t)completion->size_bytes) == 0 ? 0 : -errno;
        break;
    case IO_OPERATION_LIST:
        result = runtime_uring_list(completion);
        break;
    default:
        unreachable_code();
    }
    runtime_uring_io_local(uring, completion, result);
}

static int runtime_uring_parse_address(const char *address, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(address, ':');
    if (colon == NULL || (size_t)(colon - address) >= sizeof(host)) {
        return -EINVAL;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (end == colon + 1 || *end != '\0' || port == 0 || port > 65535 ||
        inet_pton(AF_INET, host, &out->sin_addr) != 1) {
        return -EINVAL;
    }
    return 0;
}

static void runtime_uring_io_connect(struct runtime_uring *uring, struct io_completion *completion)
{
    struct sockaddr_in *address = (struct sockaddr_in *)(void *)&completion->backend_data[2];
    int result = runtime_uring_parse_address(completion->path, address);
    int fd = result == 0 ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (result != 0 || fd < 0) {
        runtime_uring_io_local(uring, completion, result != 0 ? result : -errno);
        return;
    }
    completion->backend_data[1] = (uint64_t)fd;
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    io_uring_prep_connect(sqe, fd, (struct sockaddr *)address, sizeof(*address));
    runtime_uring_io_sqe_set(sqe, completion);
}

static void runtime_uring_io_timeout(struct runtime_uring *uring, struct io_completion *completion)
{
    struct __kernel_timespec *timeout =
        (struct __kernel_timespec *)(void *)&completion->backend_data[2];
    timeout->tv_sec = (long long)(completion->size_bytes / 1000000000u);
    timeout->tv_nsec = (long long)(completion->size_bytes % 1000000000u);
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    io_uring_prep_timeout(sqe, timeout, 0, 0);
    runtime_uring_io_sqe_set(sqe, completion);
}

static void runtime_uring_io_simple(struct runtime_uring *uring, struct io_completion *c)
{
    struct io_uring_sqe *sqe = runtime_uring_sqe(uring);
    uint32_t size = (uint32_t)c->size_bytes;
    switch (c->operation) {
    case IO_OPERATION_ACCEPT:
        io_uring_prep_accept(sqe, c->handle, NULL, NULL, SOCK_CLOEXEC);
        break;
    case IO_OPERATION_RECV:
        io_uring_prep_recv(sqe, c->handle, c->buffer, size, 0);
        break;
    case IO_OPERATION_SEND:
        io_uring_prep_send(sqe, c->handle, c->buffer, size, MSG_NOSIGNAL);
        break;
    case IO_OPERATION_CLOSE:
        io_uring_prep_close(sqe, c->handle);
        break;
    case IO_OPERATION_OPEN:
        io_uring_prep_openat(sqe, AT_FDCWD, c->path, runtime_uring_open_flags(c->flags), 0640);
        break;
    case IO_OPERATION_READ:
        if (runtime_uring_is_fixed(uring, c->buffer, c->size_bytes)) {
            io_uring_prep_read_fixed(sqe, c->handle, c->buffer, size, c->offset_bytes,
                                     URING_FIXED_BUFFER_INDEX);
        } else {
            io_uring_prep_read(sqe, c->handle, c->buffer, size, c->offset_bytes);
        }
        break;
    case IO_OPERATION_FALLOCATE:
        io_uring_prep_fallocate(sqe, c->handle, 0, (off_t)c->offset_bytes, (off_t)c->size_bytes);
        break;
    case IO_OPERATION_MKDIR:
        io_uring_prep_mkdirat(sqe, AT_FDCWD, c->path, 0750);
        break;
    case IO_OPERATION_RENAME:
        io_uring_prep_renameat(sqe, AT_FDCWD, c->path, AT_FDCWD, c->path_target, 0);
        break;
    case IO_OPERATION_UNLINK:
        io_uring_prep_unlinkat(sqe, AT_FDCWD, c->path,
                               (c->flags & IO_UNLINK_DIRECTORY) != 0 ? AT_REMOVEDIR : 0);
        break;
    default:
        unreachable_code();
    }
    runtime_uring_io_sqe_set(sqe, c);
}

static void runtime_uring_io_submit(struct io *io, struct io_completion *completion)
{
    struct runtime_uring *uring = runtime_uring_from_io(io);
    assert(completion != NULL && completion->callback != NULL);
    assert(completion->operation > IO_OPERATION_NONE && completion->operation < IO_OPERATION_END);
    assert(completion->size_bytes <= UINT32_MAX || completion->operation == IO_OPERATION_TIMEOUT ||
           completion->operation == IO_OPERATION_FALLOCATE ||
           completion->operation == IO_OPERATION_TRUNCATE);
    completion->done = false;
    completion->result = 0;
    uring->io_pending++;
    switch (completion->operation) {
    case IO_OPERATION_WRITE:
        runtime_uring_io_write(uring, completion);
        break;
    case IO_OPERATION_FDATASYNC:
    case IO_OPERATION_FSYNC:
        runtime_uring_io_sync(uring, completion);
        break;
    case IO_OPERATION_SIZE:
    case IO_OPERATION_TRUNCATE:
    case IO_OPERATION_LIST:
        runtime_uring_io_local_op(uring, completion);
        break;
    case IO_OPERATION_CONNECT:
        runtime_uring_io_connect(uring, completion);
        break;
    case IO_OPERATION_TIMEOUT:
        runtime_uring_io_timeout(uring, completion);
        break;
    default:
        runtime_uring_io_simple(uring, completion);
        break;
    }
}

static uint32_t runtime_uring_io_run(struct io *io, uint64_t wait_ns)
{
    struct runtime_uring *uring = runtime_uring_from_io(io);
    assert(!uring->is_dispatching); /* io_run from a callback would recurse */
    if (!runtime_uring_has_ready(uring)) {
        int result = runtime_uring_submit_and_wait(uring, wait_ns);
        assert(result >= 0 || result == -EBADF || result == -ENXIO);
    } else {
        (void)runtime_uring_submit_and_wait(uring, 0);
    }
    return runtime_uring_dispatch(uring);
}

static bool runtime_uring_io_probe_direct(struct io *io, const char *path)
{
    (void)runtime_uring_from_io(io);
    assert(path != NULL);
    char name[IO_PATH_SIZE_MAX + 32];
    snprintf(name, sizeof(name), "%s/.direct_probe_%d", path, (int)getpid());
    int fd = open(name, O_CREAT | O_TRUNC | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return false;
    }
    void *block = aligned_alloc(IO_SECTOR_SIZE, IO_SECTOR_SIZE);
    bool is_direct = false;
    if (block != NULL) {
        memset(block, 0, IO_SECTOR_SIZE);
        is_direct = pwrite(fd, block, IO_SECTOR_SIZE, 0) == IO_SECTOR_SIZE;
        free(block);
    }
    close(fd);
    unlink(name);
    return is_direct;
}

static uint32_t runtime_uring_io_pending_count(const struct io *io)
{
    assert(io != NULL);
    const struct runtime_uring *uring =
        (const struct runtime_uring *)((const char *)io - offsetof(struct runtime_uring, io));
    return uring->io_pending;
}

static bool runtime_uring_io_is_dispatching(const struct io *io)
{
    assert(io != NULL);
    const struct runtime_uring *uring =
        (const struct runtime_uring *)((const char *)io - offsetof(struct runtime_uring, io));
    return uring->is_dispatching;
}

static const struct io_backend runtime_uring_io_backend = {
    .submit = runtime_uring_io_submit,
    .run = runtime_uring_io_run,
    .probe_direct = runtime_uring_io_probe_direct,
    .pending_count = runtime_uring_io_pending_count,
    .is_dispatching = runtime_uring_io_is_dispatching,
};
