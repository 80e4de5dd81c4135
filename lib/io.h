/*
 * The I/O seam (DESIGN.md §6). storage/ and vsr/ do every file, directory, network and
 * timer operation through this interface, never through system calls, so that the same
 * code runs on three backends:
 *   - io_blocking (lib/io_blocking.c): plain pread/pwrite/fdatasync, done at submit time;
 *     completions are queued and delivered by io_run. Tools and early tests use it.
 *   - the io_uring runtime (node/), one per shard.
 *   - the simulator (tests/sim/), where a seeded PRNG decides latency and faults.
 *
 * Model: the caller owns a struct io_completion (usually embedded in a longer-lived
 * object), fills it through one of the io_* calls and must keep it and every buffer it
 * names alive and untouched until its callback runs. Callbacks run only from io_run,
 * never from inside a submit (no recursion). result >= 0 is success (bytes, a handle);
 * result < 0 is -errno or -RUNNEL_E*.
 *
 * Files are named by path (relative to the process's working directory, or absolute) and
 * addressed by an int32 handle after open. Direct I/O (IO_OPEN_DIRECT) requires buffer
 * addresses, file offsets and sizes to be multiples of IO_SECTOR_SIZE; io_probe_direct
 * says whether a directory's filesystem accepts it. Handles and paths are the backend's.
 */
#ifndef RUNNEL_LIB_IO_H
#define RUNNEL_LIB_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { IO_SECTOR_SIZE = 4096, IO_PATH_SIZE_MAX = 512 };

enum io_operation {
    IO_OPERATION_NONE = 0,
    /* network */
    IO_OPERATION_ACCEPT,  /* handle: listening socket; result: new socket handle */
    IO_OPERATION_CONNECT, /* path: "a.b.c.d:port"; result: socket handle */
    IO_OPERATION_RECV,    /* result: bytes received, 0 at end of stream */
    IO_OPERATION_SEND,    /* result: bytes sent (may be short) */
    IO_OPERATION_CLOSE,   /* sockets and files */
    /* files */
    IO_OPERATION_OPEN,      /* path, flags; result: file handle */
    IO_OPERATION_READ,      /* buffer, size, offset; result: bytes read (short at EOF) */
    IO_OPERATION_WRITE,     /* buffer, size, offset; result: bytes written (== size) */
    IO_OPERATION_FALLOCATE, /* offset, size: reserve blocks (mode 0: extends the size) */
    IO_OPERATION_FDATASYNC,
    IO_OPERATION_FSYNC,
    IO_OPERATION_SIZE,     /* result: 0; size_bytes_out set */
    IO_OPERATION_TRUNCATE, /* size: new file size */
    /* directories and names */
    IO_OPERATION_MKDIR,  /* path; -EEXIST when present */
    IO_OPERATION_LIST,   /* path; buffer receives NUL-terminated names (no . or ..);
                            result: bytes used, -ERANGE when they do not fit */
    IO_OPERATION_RENAME, /* path -> path_target, atomic replace */
    IO_OPERATION_UNLINK, /* path (a file, or an empty directory with IO_UNLINK_DIRECTORY) */
    /* time */
    IO_OPERATION_TIMEOUT, /* fires after size ns; result: 0 */
    IO_OPERATION_END,
};

/* Open flags. */
enum {
    IO_OPEN_READ_ONLY = 1u << 0,
    IO_OPEN_CREATE = 1u << 1,    /* create if missing (mode 0640) */
    IO_OPEN_EXCLUSIVE = 1u << 2, /* with CREATE: fail with -EEXIST if present */
    IO_OPEN_DIRECT = 1u << 3,    /* O_DIRECT: alignment contract applies */
    IO_OPEN_DIRECTORY = 1u << 4, /* open a directory (for fsync) */
    IO_UNLINK_DIRECTORY = 1u << 5,
};

struct io_completion;
struct io;

/* Called from io_run once the operation is done; completion->result holds the outcome. */
typedef void (*io_callback)(struct io_completion *completion);

struct io_completion {
    io_callback callback;
    void *context;
    int64_t result;
    bool done; /* set by the backend just before the callback runs; cleared at submit */
    enum io_operation operation;
    int32_t handle;
    uint32_t flags;
    void *buffer;
    uint64_t size_bytes; /* buffer size; for TIMEOUT the delay in ns */
    uint64_t offset_bytes;
    uint64_t size_bytes_out; /* SIZE: the file size */
    const char *path;        /* caller keeps the string alive until the callback */
    const char *path_target;
    struct io_completion *next; /* backend's intrusive queue link */
    uint64_t backend_data[4];   /* backend-private */
};

struct io_backend {
    /* Starts completion's operation (fields already filled). Never calls a callback. */
    void (*submit)(struct io *io, struct io_completion *completion);
    /* Delivers ready completions; waits up to wait_ns for at least one if none is
     * ready (0: do not wait). Returns the number of callbacks run. */
    uint32_t (*run)(struct io *io, uint64_t wait_ns);
    /* Whether files under directory path accept O_DIRECT with IO_SECTOR_SIZE alignment. */
    bool (*probe_direct)(struct io *io, const char *path);
    /* Operations submitted and not yet delivered. */
    uint32_t (*pending_count)(const struct io *io);
    /* Optional: whether a callback of run is on the stack (run must not be called then).
     * NULL: never (the backend's callbacks never wait). */
    bool (*is_dispatching)(const struct io *io);
};

struct io {
    const struct io_backend *backend;
};

void io_accept(struct io *io, struct io_completion *completion, int32_t listener,
               io_callback callback, void *context);
void io_connect(struct io *io, struct io_completion *completion, const char *address,
                io_callback callback, void *context);
void io_recv(struct io *io, struct io_completion *completion, int32_t socket, void *buffer,
             uint64_t size_bytes, io_callback callback, void *context);
void io_send(struct io *io, struct io_completion *completion, int32_t socket, const void *buffer,
             uint64_t size_bytes, io_callback callback, void *context);
void io_close(struct io *io, struct io_completion *completion, int32_t handle, io_callback callback,
              void *context);
void io_open(struct io *io, struct io_completion *completion, const char *path, uint32_t flags,
             io_callback callback, void *context);
void io_read(struct io *io, struct io_completion *completion, int32_t file, void *buffer,
             uint64_t size_bytes, uint64_t offset_bytes, io_callback callback, void *context);
void io_write(struct io *io, struct io_completion *completion, int32_t file, const void *buffer,
              uint64_t size_bytes, uint64_t offset_bytes, io_callback callback, void *context);
void io_fallocate(struct io *io, struct io_completion *completion, int32_t file,
                  uint64_t offset_bytes, uint64_t size_bytes, io_callback callback, void *context);
void io_fdatasync(struct io *io, struct io_completion *completion, int32_t file,
                  io_callback callback, void *context);
void io_fsync(struct io *io, struct io_completion *completion, int32_t file, io_callback callback,
              void *context);
void io_size(struct io *io, struct io_completion *completion, int32_t file, io_callback callback,
             void *context);
void io_truncate(struct io *io, struct io_completion *completion, int32_t file, uint64_t size_bytes,
                 io_callback callback, void *context);
void io_mkdir(struct io *io, struct io_completion *completion, const char *path,
              io_callback callback, void *context);
void io_list(struct io *io, struct io_completion *completion, const char *path, void *buffer,
             uint64_t size_bytes, io_callback callback, void *context);
void io_rename(struct io *io, struct io_completion *completion, const char *path,
               const char *path_target, io_callback callback, void *context);
void io_unlink(struct io *io, struct io_completion *completion, const char *path, uint32_t flags,
               io_callback callback, void *context);
void io_timeout(struct io *io, struct io_completion *completion, uint64_t delay_ns,
                io_callback callback, void *context);

/* Runs callbacks (see struct io_backend.run). */
uint32_t io_run(struct io *io, uint64_t wait_ns);

/* Operations in flight. */
uint32_t io_pending_count(const struct io *io);
/* Whether io_run (and so io_wait) may be called now: false inside one of io's callbacks.
 * Code reachable from a callback that would wait starts the operation and retries later. */
bool io_can_wait(const struct io *io);

bool io_probe_direct(struct io *io, const char *path);

/*
 * Start-up convenience: submits nothing itself; runs io until completion's callback has
 * run (bounded by iteration_max io_run calls). Returns completion->result, or -ETIMEDOUT
 * when the bound is reached. For recovery and tools, never on a steady-state path.
 */
int64_t io_wait(struct io *io, struct io_completion *completion, uint32_t iteration_max);

/* True when value is a multiple of IO_SECTOR_SIZE (for offsets, sizes, addresses). */
static inline bool io_is_sector_aligned(uint64_t value)
{
    return (value % IO_SECTOR_SIZE) == 0;
}

#endif
