/*
 * Atomic whole-file replacement (temp, fdatasync, rename, directory fsync), directory
 * removal and start-up reads, all through lib/io.h. Owns only the handles it opens while a
 * step is in flight. Runs on the shard that owns the file.
 */
#include "storage/atomic_file.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { ATOMIC_FILE_WAIT_ITERATIONS = 1u << 20 };

static void atomic_file_io_callback(struct io_completion *completion);

static void atomic_file_parent(const char *path, char *parent_out)
{
    assert(path != NULL && parent_out != NULL);
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        memcpy(parent_out, ".", 2);
        return;
    }
    size_t size = (size_t)(slash - path);
    memcpy(parent_out, path, size);
    parent_out[size] = '\0';
}

static void atomic_file_finish(struct atomic_file *file)
{
    assert(file->step != ATOMIC_FILE_IDLE);
    file->step = ATOMIC_FILE_IDLE;
    file->callback(file, file->result, file->context);
}

static void atomic_file_sync_parent(struct atomic_file *file)
{
    file->step = ATOMIC_FILE_OPEN_DIRECTORY;
    io_open(file->io, &file->completion, file->directory, IO_OPEN_DIRECTORY,
            atomic_file_io_callback, file);
}

/* Next file of the listing to unlink, or the directory itself. */
static void atomic_file_remove_next(struct atomic_file *file)
{
    if (file->name_position_bytes < file->names_used_bytes) {
        const char *name = file->names + file->name_position_bytes;
        file->name_position_bytes += strlen(name) + 1;
        int size =
            snprintf(file->path_temporary, sizeof(file->path_temporary), "%s/%s", file->path, name);
        assert(size > 0 && (size_t)size < sizeof(file->path_temporary));
        file->step = ATOMIC_FILE_UNLINK;
        io_unlink(file->io, &file->completion, file->path_temporary, 0, atomic_file_io_callback,
                  file);
        return;
    }
    file->step = ATOMIC_FILE_UNLINK_DIRECTORY;
    io_unlink(file->io, &file->completion, file->path, IO_UNLINK_DIRECTORY, atomic_file_io_callback,
              file);
}

/* After an error: close the handle that is open (if any), then report the error. */
static bool atomic_file_failed(struct atomic_file *file, int64_t result)
{
    assert(file->step != ATOMIC_FILE_IDLE);
    if (result >= 0) {
        return false;
    }
    if (file->result == 0) {
        file->result = (int)result;
    }
    if (file->file >= 0) {
        int32_t handle = file->file;
        file->file = -1;
        file->step = ATOMIC_FILE_CLOSE_DIRECTORY; /* "close, then finish" */
        io_close(file->io, &file->completion, handle, atomic_file_io_callback, file);
        return true;
    }
    atomic_file_finish(file);
    return true;
}

static void atomic_file_io_callback(struct io_completion *completion)
{
    struct atomic_file *file = completion->context;
    assert(file != NULL && completion == &file->completion);
    int64_t result = completion->result;
    if (file->step == ATOMIC_FILE_UNLINK && result == -ENOENT) {
        result = 0; /* removal is idempotent */
    }
    if (file->step == ATOMIC_FILE_CLOSE_DIRECTORY) {
        file->file = -1;
        atomic_file_finish(file);
        return;
    }
    if (atomic_file_failed(file, result)) {
        return;
    }
    switch (file->step) {
    case ATOMIC_FILE_OPEN:
        file->file = (int32_t)result;
        file->step = ATOMIC_FILE_TRUNCATE;
        io_truncate(file->io, completion, file->file, 0, atomic_file_io_callback, file);
        return;
    case ATOMIC_FILE_TRUNCATE:
        file->step = ATOMIC_FILE_WRITE;
        io_write(file->io, completion, file->file, file->buffer, file->size_bytes, 0,
                 atomic_file_io_callback, file);
        return;
    case ATOMIC_FILE_WRITE:
        file->step = ATOMIC_FILE_SYNC;
        io_fdatasync(file->io, completion, file->file, atomic_file_io_callback, file);
        return;
    case ATOMIC_FILE_SYNC:
        file->step = ATOMIC_FILE_CLOSE;
        io_close(file->io, completion, file->file, atomic_file_io_callback, file);
        file->file = -1;
        return;
    case ATOMIC_FILE_CLOSE:
        file->step = ATOMIC_FILE_RENAME;
        io_rename(file->io, completion, file->path_temporary, file->path, atomic_file_io_callback,
                  file);
        return;
    case ATOMIC_FILE_RENAME:
    case ATOMIC_FILE_UNLINK_DIRECTORY:
        atomic_file_sync_parent(file);
        return;
    case ATOMIC_FILE_OPEN_DIRECTORY:
        file->file = (int32_t)result;
        file->step = ATOMIC_FILE_SYNC_DIRECTORY;
        io_fsync(file->io, completion, file->file, atomic_file_io_callback, file);
        return;
    case ATOMIC_FILE_SYNC_DIRECTORY:
        file->step = ATOMIC_FILE_CLOSE_DIRECTORY;
        io_close(file->io, completion, file->file, atomic_file_io_callback, file);
        return;
    case ATOMIC_FILE_LIST:
        file->names_used_bytes = (uint64_t)result;
        file->name_position_bytes = 0;
        atomic_file_remove_next(file);
        return;
    case ATOMIC_FILE_UNLINK:
        atomic_file_remove_next(file);
        return;
    default:
        break;
    }
    unreachable_code();
}

static int atomic_file_start(struct atomic_file *file, struct io *io, const char *path,
                             atomic_file_callback callback, void *context)
{
    assert(file != NULL && io != NULL && path != NULL && callback != NULL);
    if (file->step != ATOMIC_FILE_IDLE) {
        return -RUNNEL_ESTATE;
    }
    int size = snprintf(file->path, sizeof(file->path), "%s", path);
    int size_temporary =
        snprintf(file->path_temporary, sizeof(file->path_temporary), "%s.tmp", path);
    assert(size > 0 && size_temporary > 0 && (size_t)size_temporary < sizeof(file->path));
    memset(&file->completion, 0, sizeof(file->completion));
    file->io = io;
    file->callback = callback;
    file->context = context;
    file->file = -1;
    file->result = 0;
    atomic_file_parent(file->path, file->directory);
    return 0;
}

int atomic_file_write(struct atomic_file *file, struct io *io, const char *path, const void *buffer,
                      uint64_t size_bytes, atomic_file_callback callback, void *context)
{
    assert(buffer != NULL && size_bytes > 0);
    int result = atomic_file_start(file, io, path, callback, context);
    if (result != 0) {
        return result;
    }
    file->buffer = buffer;
    file->size_bytes = size_bytes;
    file->step = ATOMIC_FILE_OPEN;
    io_open(io, &file->completion, file->path_temporary, IO_OPEN_CREATE, atomic_file_io_callback,
            file);
    return 0;
}

int atomic_file_remove_directory(struct atomic_file *file, struct io *io, const char *directory,
                                 char *names, uint64_t names_size_bytes,
                                 atomic_file_callback callback, void *context)
{
    assert(names != NULL && names_size_bytes > 0);
    int result = atomic_file_start(file, io, directory, callback, context);
    if (result != 0) {
        return result;
    }
    file->names = names;
    file->names_size_bytes = names_size_bytes;
    file->step = ATOMIC_FILE_LIST;
    io_list(io, &file->completion, file->path, names, names_size_bytes, atomic_file_io_callback,
            file);
    return 0;
}

static void atomic_file_wait_callback(struct io_completion *completion)
{
    assert(completion != NULL && completion->done);
}

static int64_t atomic_file_wait(struct io *io, struct io_completion *completion)
{
    assert(io != NULL && completion != NULL);
    return io_wait(io, completion, ATOMIC_FILE_WAIT_ITERATIONS);
}

int atomic_file_read(struct io *io, const char *path, void *buffer, uint64_t size_bytes_max,
                     uint64_t *size_out)
{
    assert(io != NULL && path != NULL && buffer != NULL && size_out != NULL);
    assert(size_bytes_max > 0);
    struct io_completion completion = {0};
    io_open(io, &completion, path, IO_OPEN_READ_ONLY, atomic_file_wait_callback, NULL);
    int64_t file = atomic_file_wait(io, &completion);
    if (file < 0) {
        return (int)file;
    }
    io_read(io, &completion, (int32_t)file, buffer, size_bytes_max, 0, atomic_file_wait_callback,
            NULL);
    int64_t read = atomic_file_wait(io, &completion);
    uint64_t probe = 0;
    if (read == (int64_t)size_bytes_max) {
        io_read(io, &completion, (int32_t)file, &probe, 1, size_bytes_max,
                atomic_file_wait_callback, NULL);
        read = atomic_file_wait(io, &completion) > 0 ? -RUNNEL_ETOOLARGE : read;
    }
    io_close(io, &completion, (int32_t)file, atomic_file_wait_callback, NULL);
    atomic_file_wait(io, &completion);
    if (read < 0) {
        return (int)read;
    }
    *size_out = (uint64_t)read;
    return 0;
}

int atomic_file_create_directory(struct io *io, const char *path)
{
    assert(io != NULL && path != NULL);
    char parent[IO_PATH_SIZE_MAX];
    struct io_completion completion = {0};
    io_mkdir(io, &completion, path, atomic_file_wait_callback, NULL);
    int64_t result = atomic_file_wait(io, &completion);
    if (result < 0) {
        return (int)result;
    }
    atomic_file_parent(path, parent);
    io_open(io, &completion, parent, IO_OPEN_DIRECTORY, atomic_file_wait_callback, NULL);
    int64_t directory = atomic_file_wait(io, &completion);
    if (directory < 0) {
        return (int)directory;
    }
    io_fsync(io, &completion, (int32_t)directory, atomic_file_wait_callback, NULL);
    result = atomic_file_wait(io, &completion);
    io_close(io, &completion, (int32_t)directory, atomic_file_wait_callback, NULL);
    atomic_file_wait(io, &completion);
    return result < 0 ? (int)result : 0;
}
