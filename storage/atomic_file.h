/*
 * Whole-file replacement that survives crashes: write "{path}.tmp", fdatasync it, rename
 * it over path, fsync the directory. After a crash the file is either the old or the new
 * content, never a mix (partition checkpoints, metadata snapshots). Also removal of a
 * directory with its files (an old partition incarnation).
 *
 * Asynchronous through lib/io.h; the caller owns the struct atomic_file and the buffer
 * until the callback runs. Runs on the shard that owns the file.
 */
#ifndef RUNNEL_STORAGE_ATOMIC_FILE_H
#define RUNNEL_STORAGE_ATOMIC_FILE_H

#include "lib/io.h"

#include <stdint.h>

struct atomic_file;
typedef void (*atomic_file_callback)(struct atomic_file *file, int result, void *context);

enum atomic_file_step {
    ATOMIC_FILE_IDLE = 0,
    ATOMIC_FILE_OPEN,
    ATOMIC_FILE_TRUNCATE,
    ATOMIC_FILE_WRITE,
    ATOMIC_FILE_SYNC,
    ATOMIC_FILE_CLOSE,
    ATOMIC_FILE_RENAME,
    ATOMIC_FILE_OPEN_DIRECTORY,
    ATOMIC_FILE_SYNC_DIRECTORY,
    ATOMIC_FILE_CLOSE_DIRECTORY,
    ATOMIC_FILE_LIST,
    ATOMIC_FILE_UNLINK,
    ATOMIC_FILE_UNLINK_DIRECTORY,
};

struct atomic_file {
    struct io *io;
    struct io_completion completion;
    enum atomic_file_step step;
    atomic_file_callback callback;
    void *context;
    const void *buffer;
    uint64_t size_bytes;
    int32_t file;
    int result; /* first error, reported once the handles are closed */
    char path[IO_PATH_SIZE_MAX];
    char path_temporary[IO_PATH_SIZE_MAX];
    char directory[IO_PATH_SIZE_MAX];
    char *names; /* removal: listing buffer */
    uint64_t names_size_bytes;
    uint64_t names_used_bytes;
    uint64_t name_position_bytes;
};

/*
 * Replaces path's content with size_bytes of buffer (see above). Returns 0 (callback
 * later with 0 or -errno) or -RUNNEL_ESTATE when file is busy.
 */
int atomic_file_write(struct atomic_file *file, struct io *io, const char *path, const void *buffer,
                      uint64_t size_bytes, atomic_file_callback callback, void *context);

/*
 * Removes directory and the files directly in it (no subdirectories), then fsyncs its
 * parent. names is scratch for the listing. Returns 0 or -RUNNEL_ESTATE when busy.
 */
int atomic_file_remove_directory(struct atomic_file *file, struct io *io, const char *directory,
                                 char *names, uint64_t names_size_bytes,
                                 atomic_file_callback callback, void *context);

/*
 * Reads all of path into buffer, synchronously (start-up only: runs io with io_wait).
 * Returns 0 with *size_out set, -ENOENT when missing, -RUNNEL_ETOOLARGE when it does not
 * fit, or -errno.
 */
int atomic_file_read(struct io *io, const char *path, void *buffer, uint64_t size_bytes_max,
                     uint64_t *size_out);

/* Creates directory path and makes its name durable (fsync of its parent). Synchronous,
 * for start-up and new incarnations. -EEXIST when present. */
int atomic_file_create_directory(struct io *io, const char *path);

#endif
