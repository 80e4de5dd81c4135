/*
 * The I/O seam's front end (lib/io.h): the io_* submit helpers fill a caller-owned
 * completion and hand it to the backend; io_run, io_pending_count, io_probe_direct and
 * io_wait forward to it. Owns nothing: completions and buffers are the caller's, queues
 * are the backend's. Runs on whichever shard (or tool thread) owns the struct io.
 *
 * Contract checked here for every submit: io has a backend, the callback is set, and the
 * completion is not in flight. A completion counts as in flight when its operation is set
 * and done is false, so a completion must be zero-initialised before its first submit
 * (embedding it in a zeroed object is enough); after its callback ran (done is true) it
 * may be submitted again, from inside that callback too.
 */
#include "lib/io.h"

#include "lib/assert.h"

#include <errno.h>
#include <string.h>

/* Per io_run call of io_wait: long enough for a timer, short enough to re-check done. */
enum { IO_WAIT_STEP_NS = 10 * 1000 * 1000 };

static bool io_completion_is_in_flight(const struct io_completion *completion)
{
    return completion->operation != IO_OPERATION_NONE && !completion->done;
}

static void io_path_check(const char *path)
{
    assert(path != NULL);
    assert_msg(strnlen(path, IO_PATH_SIZE_MAX) < IO_PATH_SIZE_MAX, "path too long");
}

/* Resets completion for operation; the caller sets the operation's own fields next. */
static void io_prepare(struct io *io, struct io_completion *completion, enum io_operation operation,
                       io_callback callback, void *context)
{
    assert(io != NULL);
    assert(io->backend != NULL && io->backend->submit != NULL);
    assert(completion != NULL);
    assert_msg(callback != NULL, "io: callback is required");
    assert_msg(!io_completion_is_in_flight(completion), "io: completion already in flight");
    assert(operation > IO_OPERATION_NONE && operation < IO_OPERATION_END);
    memset(completion, 0, sizeof(*completion));
    completion->callback = callback;
    completion->context = context;
    completion->operation = operation;
    completion->handle = -1;
    completion->done = false;
}

static void io_submit(struct io *io, struct io_completion *completion)
{
    assert(completion->operation > IO_OPERATION_NONE);
    assert(!completion->done);
    io->backend->submit(io, completion);
}

void io_accept(struct io *io, struct io_completion *completion, int32_t listener,
               io_callback callback, void *context)
{
    assert(listener >= 0);
    io_prepare(io, completion, IO_OPERATION_ACCEPT, callback, context);
    completion->handle = listener;
    io_submit(io, completion);
}

void io_connect(struct io *io, struct io_completion *completion, const char *address,
                io_callback callback, void *context)
{
    io_path_check(address);
    io_prepare(io, completion, IO_OPERATION_CONNECT, callback, context);
    completion->path = address;
    io_submit(io, completion);
}

void io_recv(struct io *io, struct io_completion *completion, int32_t socket, void *buffer,
             uint64_t size_bytes, io_callback callback, void *context)
{
    assert(socket >= 0);
    assert(buffer != NULL && size_bytes > 0 && size_bytes <= INT64_MAX);
    io_prepare(io, completion, IO_OPERATION_RECV, callback, context);
    completion->handle = socket;
    completion->buffer = buffer;
    completion->size_bytes = size_bytes;
    io_submit(io, completion);
}

void io_send(struct io *io, struct io_completion *completion, int32_t socket, const void *buffer,
             uint64_t size_bytes, io_callback callback, void *context)
{
    assert(socket >= 0);
    assert(buffer != NULL && size_bytes > 0 && size_bytes <= INT64_MAX);
    io_prepare(io, completion, IO_OPERATION_SEND, callback, context);
    completion->handle = socket;
    completion->buffer = (void *)buffer; /* never written through for SEND */
    completion->size_bytes = size_bytes;
    io_submit(io, completion);
}

void io_close(struct io *io, struct io_completion *completion, int32_t handle, io_callback callback,
              void *context)
{
    assert(handle >= 0);
    io_prepare(io, completion, IO_OPERATION_CLOSE, callback, context);
    completion->handle = handle;
    io_submit(io, completion);
}

void io_open(struct io *io, struct io_completion *completion, const char *path, uint32_t flags,
             io_callback callback, void *context)
{
    io_path_check(path);
    const uint32_t known =
        IO_OPEN_READ_ONLY | IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE | IO_OPEN_DIRECT | IO_OPEN_DIRECTORY;
    assert_msg((flags & ~known) == 0, "io_open: unknown flag");
    assert_msg(!(flags & IO_OPEN_EXCLUSIVE) || (flags & IO_OPEN_CREATE),
               "io_open: EXCLUSIVE needs CREATE");
    assert_msg(!(flags & IO_OPEN_DIRECTORY) || !(flags & (IO_OPEN_CREATE | IO_OPEN_DIRECT)),
               "io_open: DIRECTORY excludes CREATE and DIRECT");
    io_prepare(io, completion, IO_OPERATION_OPEN, callback, context);
    completion->path = path;
    completion->flags = flags;
    io_submit(io, completion);
}

void io_read(struct io *io, struct io_completion *completion, int32_t file, void *buffer,
             uint64_t size_bytes, uint64_t offset_bytes, io_callback callback, void *context)
{
    assert(file >= 0);
    assert(buffer != NULL && size_bytes > 0 && size_bytes <= INT64_MAX);
    assert(offset_bytes <= INT64_MAX - size_bytes);
    io_prepare(io, completion, IO_OPERATION_READ, callback, context);
    completion->handle = file;
    completion->buffer = buffer;
    completion->size_bytes = size_bytes;
    completion->offset_bytes = offset_bytes;
    io_submit(io, completion);
}

void io_write(struct io *io, struct io_completion *completion, int32_t file, const void *buffer,
              uint64_t size_bytes, uint64_t offset_bytes, io_callback callback, void *context)
{
    assert(file >= 0);
    assert(buffer != NULL && size_bytes > 0 && size_bytes <= INT64_MAX);
    assert(offset_bytes <= INT64_MAX - size_bytes);
    io_prepare(io, completion, IO_OPERATION_WRITE, callback, context);
    completion->handle = file;
    completion->buffer = (void *)buffer; /* never written through for WRITE */
    completion->size_bytes = size_bytes;
    completion->offset_bytes = offset_bytes;
    io_submit(io, completion);
}

void io_fallocate(struct io *io, struct io_completion *completion, int32_t file,
                  uint64_t offset_bytes, uint64_t size_bytes, io_callback callback, void *context)
{
    assert(file >= 0);
    assert(size_bytes > 0 && size_bytes <= INT64_MAX && offset_bytes <= INT64_MAX - size_bytes);
    io_prepare(io, completion, IO_OPERATION_FALLOCATE, callback, context);
    completion->handle = file;
    completion->size_bytes = size_bytes;
    completion->offset_bytes = offset_bytes;
    io_submit(io, completion);
}

void io_fdatasync(struct io *io, struct io_completion *completion, int32_t file,
                  io_callback callback, void *context)
{
    assert(file >= 0);
    io_prepare(io, completion, IO_OPERATION_FDATASYNC, callback, context);
    completion->handle = file;
    io_submit(io, completion);
}

void io_fsync(struct io *io, struct io_completion *completion, int32_t file, io_callback callback,
              void *context)
{
    assert(file >= 0);
    io_prepare(io, completion, IO_OPERATION_FSYNC, callback, context);
    completion->handle = file;
    io_submit(io, completion);
}

void io_size(struct io *io, struct io_completion *completion, int32_t file, io_callback callback,
             void *context)
{
    assert(file >= 0);
    io_prepare(io, completion, IO_OPERATION_SIZE, callback, context);
    completion->handle = file;
    io_submit(io, completion);
}

void io_truncate(struct io *io, struct io_completion *completion, int32_t file, uint64_t size_bytes,
                 io_callback callback, void *context)
{
    assert(file >= 0);
    assert(size_bytes <= INT64_MAX);
    io_prepare(io, completion, IO_OPERATION_TRUNCATE, callback, context);
    completion->handle = file;
    completion->size_bytes = size_bytes;
    io_submit(io, completion);
}

void io_mkdir(struct io *io, struct io_completion *completion, const char *path,
              io_callback callback, void *context)
{
    io_path_check(path);
    io_prepare(io, completion, IO_OPERATION_MKDIR, callback, context);
    completion->path = path;
    io_submit(io, completion);
}

void io_list(struct io *io, struct io_completion *completion, const char *path, void *buffer,
             uint64_t size_bytes, io_callback callback, void *context)
{
    io_path_check(path);
    assert(buffer != NULL && size_bytes > 0 && size_bytes <= INT64_MAX);
    io_prepare(io, completion, IO_OPERATION_LIST, callback, context);
    completion->path = path;
    completion->buffer = buffer;
    completion->size_bytes = size_bytes;
    io_submit(io, completion);
}

void io_rename(struct io *io, struct io_completion *completion, const char *path,
               const char *path_target, io_callback callback, void *context)
{
    io_path_check(path);
    io_path_check(path_target);
    io_prepare(io, completion, IO_OPERATION_RENAME, callback, context);
    completion->path = path;
    completion->path_target = path_target;
    io_submit(io, completion);
}

void io_unlink(struct io *io, struct io_completion *completion, const char *path, uint32_t flags,
               io_callback callback, void *context)
{
    io_path_check(path);
    assert_msg((flags & ~(uint32_t)IO_UNLINK_DIRECTORY) == 0, "io_unlink: unknown flag");
    io_prepare(io, completion, IO_OPERATION_UNLINK, callback, context);
    completion->path = path;
    completion->flags = flags;
    io_submit(io, completion);
}

void io_timeout(struct io *io, struct io_completion *completion, uint64_t delay_ns,
                io_callback callback, void *context)
{
    assert_msg(delay_ns <= INT64_MAX / 2, "io_timeout: delay too long");
    io_prepare(io, completion, IO_OPERATION_TIMEOUT, callback, context);
    completion->size_bytes = delay_ns;
    io_submit(io, completion);
}

uint32_t io_run(struct io *io, uint64_t wait_ns)
{
    assert(io != NULL);
    assert(io->backend != NULL && io->backend->run != NULL);
    return io->backend->run(io, wait_ns);
}

uint32_t io_pending_count(const struct io *io)
{
    assert(io != NULL);
    assert(io->backend != NULL && io->backend->pending_count != NULL);
    return io->backend->pending_count(io);
}

bool io_can_wait(const struct io *io)
{
    assert(io != NULL);
    assert(io->backend != NULL);
    return io->backend->is_dispatching == NULL || !io->backend->is_dispatching(io);
}

bool io_probe_direct(struct io *io, const char *path)
{
    assert(io != NULL);
    assert(io->backend != NULL && io->backend->probe_direct != NULL);
    io_path_check(path);
    return io->backend->probe_direct(io, path);
}

int64_t io_wait(struct io *io, struct io_completion *completion, uint32_t iteration_max)
{
    assert(io != NULL);
    assert(completion != NULL);
    assert_msg(completion->operation != IO_OPERATION_NONE, "io_wait: nothing was submitted");
    assert(iteration_max > 0);
    for (uint32_t iteration = 0; iteration < iteration_max && !completion->done; iteration++) {
        io_run(io, IO_WAIT_STEP_NS);
    }
    if (!completion->done) {
        return -ETIMEDOUT;
    }
    return completion->result;
}
