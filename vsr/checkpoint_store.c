/*
 * A VSR group's checkpoint store on two files (vsr/checkpoint_store.h): writes alternate
 * between the files, each checkpoint's last chunk is synced before it is reported, reads
 * pick the file whose bytes match the checksum the superblock names. Runs on the shard
 * that owns the group; all I/O through lib/io.h.
 */
#include "vsr/checkpoint_store.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { CHECKPOINT_STORE_WAIT_ITERATIONS = 1u << 20 };

static void checkpoint_store_wait_callback(struct io_completion *completion)
{
    assert(completion != NULL);
    assert(completion->done);
}

/* Runs one operation to its end (start-up and the pass only). */
static int64_t checkpoint_store_wait(struct checkpoint_store *store,
                                     struct io_completion *completion)
{
    assert(io_can_wait(store->io));
    return io_wait(store->io, completion, CHECKPOINT_STORE_WAIT_ITERATIONS);
}

static int checkpoint_store_sync_directory(struct checkpoint_store *store, const char *directory)
{
    struct io_completion completion = {0};
    io_open(store->io, &completion, directory, IO_OPEN_READ_ONLY | IO_OPEN_DIRECTORY,
            checkpoint_store_wait_callback, NULL);
    int64_t handle = checkpoint_store_wait(store, &completion);
    if (handle < 0) {
        return (int)handle;
    }
    memset(&completion, 0, sizeof(completion));
    io_fsync(store->io, &completion, (int32_t)handle, checkpoint_store_wait_callback, NULL);
    int64_t result = checkpoint_store_wait(store, &completion);
    memset(&completion, 0, sizeof(completion));
    io_close(store->io, &completion, (int32_t)handle, checkpoint_store_wait_callback, NULL);
    (void)checkpoint_store_wait(store, &completion);
    return result < 0 ? (int)result : 0;
}

int checkpoint_store_open(struct checkpoint_store *store, struct io *io, const char *directory)
{
    assert(store != NULL && io != NULL && directory != NULL);
    memset(store, 0, sizeof(*store));
    store->io = io;
    store->current = -1;
    store->writing = -1;
    store->is_reported = true;
    for (int32_t index = 0; index < CHECKPOINT_STORE_FILES; index++) {
        store->files[index] = -1;
    }
    for (int32_t index = 0; index < CHECKPOINT_STORE_FILES; index++) {
        int written = snprintf(store->paths[index], sizeof(store->paths[index]),
                               "%s/vsr-checkpoint-%d", directory, (int)index);
        if (written < 0 || (size_t)written >= sizeof(store->paths[index])) {
            checkpoint_store_close(store);
            return -RUNNEL_ETOOLARGE;
        }
        struct io_completion completion = {0};
        io_open(io, &completion, store->paths[index], IO_OPEN_CREATE,
                checkpoint_store_wait_callback, NULL);
        int64_t handle = checkpoint_store_wait(store, &completion);
        if (handle < 0) {
            checkpoint_store_close(store);
            return (int)handle;
        }
        store->files[index] = (int32_t)handle;
    }
    int result = checkpoint_store_sync_directory(store, directory);
    if (result != 0) {
        checkpoint_store_close(store);
    }
    return result;
}

void checkpoint_store_close(struct checkpoint_store *store)
{
    assert(store != NULL);
    assert(store->pending == 0);
    for (int32_t index = 0; index < CHECKPOINT_STORE_FILES; index++) {
        if (store->files[index] >= 0) {
            struct io_completion completion = {0};
            io_close(store->io, &completion, store->files[index], checkpoint_store_wait_callback,
                     NULL);
            (void)checkpoint_store_wait(store, &completion);
            store->files[index] = -1;
        }
    }
}

/* A completion of the write in flight (from I/O dispatch): the pass reports the whole. */
static void checkpoint_store_io_callback(struct io_completion *completion)
{
    struct checkpoint_store *store = completion->context;
    assert(store != NULL && store->pending > 0);
    if (completion->result < 0 && store->pending_result == 0) {
        store->pending_result = (int)completion->result;
    } else if (completion == &store->write_completion &&
               (uint64_t)completion->result != store->pending_size_bytes &&
               store->pending_result == 0) {
        store->pending_result = -EIO; /* a short write */
    }
    store->pending--;
    if (store->pending > 0) {
        return;
    }
    if (store->pending_result != 0) {
        store->failed = store->pending_result;
        log_error("checkpoint_write_failed", "path=%s error=\"%s\"", store->paths[store->writing],
                  error_text(store->failed));
        store->writing = -1;
        return; /* never reported: the replica makes no more checkpoints (its ring fills) */
    }
    if (store->is_last) {
        store->current = store->writing;
        store->writing = -1;
        store->written_count++;
    }
    store->is_reported = false;
}

int checkpoint_store_write(uint64_t offset, const void *bytes, uint32_t size_bytes, bool last,
                           void *context)
{
    struct checkpoint_store *store = context;
    assert(store != NULL && bytes != NULL && size_bytes > 0);
    if (store->failed != 0) {
        return store->failed;
    }
    if (store->pending > 0 || !store->is_reported) {
        return -RUNNEL_EFULL;
    }
    if (offset == 0) {
        store->writing = store->current == 0 ? 1 : 0; /* never over the complete one */
    } else if (store->writing < 0) {
        return -RUNNEL_ESTATE;
    }
    assert(store->writing != store->current);
    int32_t file = store->files[store->writing];
    assert(file >= 0);
    store->pending = last ? 2u : 1u;
    store->pending_size_bytes = size_bytes;
    store->pending_result = 0;
    store->is_last = last;
    io_write(store->io, &store->write_completion, file, bytes, size_bytes, offset,
             checkpoint_store_io_callback, store);
    if (last) {
        /* Submitted together: the sync covers the writes to its file submitted before it. */
        io_fdatasync(store->io, &store->sync_completion, file, checkpoint_store_io_callback, store);
    }
    return 0;
}

/* Reads file index's first size_bytes into bytes: true when they match checksum. */
static bool checkpoint_store_read_file(struct checkpoint_store *store, int32_t index, u128 checksum,
                                       void *bytes, uint64_t size_bytes, bool *is_sized_out)
{
    struct io_completion completion = {0};
    io_read(store->io, &completion, store->files[index], bytes, size_bytes, 0,
            checkpoint_store_wait_callback, NULL);
    int64_t result = checkpoint_store_wait(store, &completion);
    if (result < 0 || (uint64_t)result != size_bytes) {
        return false;
    }
    *is_sized_out = true;
    return vsr_checksum(bytes, size_bytes) == checksum;
}

int checkpoint_store_read(u128 checksum, uint64_t offset, void *bytes, uint64_t size_bytes,
                          void *context)
{
    struct checkpoint_store *store = context;
    assert(store != NULL && bytes != NULL);
    if (offset != 0 || size_bytes == 0) {
        return -RUNNEL_ENOTFOUND;
    }
    if (!io_can_wait(store->io)) {
        return -EAGAIN;
    }
    bool is_sized = false;
    for (int32_t index = 0; index < CHECKPOINT_STORE_FILES; index++) {
        if (store->files[index] >= 0 &&
            checkpoint_store_read_file(store, index, checksum, bytes, size_bytes, &is_sized)) {
            if (store->writing < 0) {
                store->current = index; /* the next checkpoint goes into the other file */
            }
            return 0;
        }
    }
    log_error("checkpoint_read_failed", "path=%s size=%llu reason=\"%s\"", store->paths[0],
              (unsigned long long)size_bytes,
              is_sized ? "no file's bytes match the checksum" : "no file holds that many bytes");
    return is_sized ? -RUNNEL_EFAULTY : -RUNNEL_ENOTFOUND;
}

bool checkpoint_store_pass(struct checkpoint_store *store)
{
    assert(store != NULL);
    if (store->is_reported || store->pending > 0) {
        return false;
    }
    store->is_reported = true;
    return true;
}

bool checkpoint_store_is_busy(const struct checkpoint_store *store)
{
    assert(store != NULL);
    return store->pending > 0 || !store->is_reported;
}
