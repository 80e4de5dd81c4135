/*
 * Metadata snapshot framing and atomic persistence (storage/snapshot.h). Owns nothing
 * beyond the caller's buffers. Runs on shard 0.
 */
#include "storage/snapshot.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/vsr_header.h"

#include <string.h>

static const uint64_t snapshot_magic = 0x0150414e53534e52ULL; /* "RNSSNAP\1" */

int snapshot_write(struct atomic_file *file, struct io *io, const char *path, uint64_t op,
                   const void *bytes, uint64_t size_bytes, uint8_t *buffer,
                   uint64_t buffer_size_bytes, atomic_file_callback callback, void *context)
{
    assert(file != NULL && io != NULL && path != NULL && buffer != NULL);
    assert(bytes != NULL || size_bytes == 0);
    if (size_bytes > buffer_size_bytes || buffer_size_bytes - size_bytes < SNAPSHOT_HEADER_SIZE) {
        return -RUNNEL_ETOOLARGE;
    }
    if (size_bytes > 0 && bytes != buffer + SNAPSHOT_HEADER_SIZE) {
        memmove(buffer + SNAPSHOT_HEADER_SIZE, bytes, size_bytes);
    }
    memcpy(buffer + 16, &snapshot_magic, 8);
    memcpy(buffer + 24, &op, 8);
    memcpy(buffer + 32, &size_bytes, 8);
    u128 checksum = vsr_checksum(buffer + 16, SNAPSHOT_HEADER_SIZE - 16 + size_bytes);
    memcpy(buffer, &checksum, 16);
    return atomic_file_write(file, io, path, buffer, SNAPSHOT_HEADER_SIZE + size_bytes, callback,
                             context);
}

int snapshot_read(struct io *io, const char *path, uint8_t *buffer, uint64_t buffer_size_bytes,
                  uint64_t *op_out, const uint8_t **bytes_out, uint64_t *size_out)
{
    assert(io != NULL && path != NULL && buffer != NULL);
    assert(op_out != NULL && bytes_out != NULL && size_out != NULL);
    uint64_t read = 0;
    int result = atomic_file_read(io, path, buffer, buffer_size_bytes, &read);
    if (result != 0) {
        return result;
    }
    if (read < SNAPSHOT_HEADER_SIZE) {
        return -RUNNEL_ETRUNCATED;
    }
    u128 checksum;
    uint64_t magic = 0;
    uint64_t size = 0;
    memcpy(&checksum, buffer, 16);
    memcpy(&magic, buffer + 16, 8);
    memcpy(op_out, buffer + 24, 8);
    memcpy(&size, buffer + 32, 8);
    if (magic != snapshot_magic) {
        return -RUNNEL_EFORMAT;
    }
    if (size != read - SNAPSHOT_HEADER_SIZE) {
        return size > read - SNAPSHOT_HEADER_SIZE ? -RUNNEL_ETRUNCATED : -RUNNEL_EFORMAT;
    }
    if (checksum != vsr_checksum(buffer + 16, read - 16)) {
        return -RUNNEL_ECHECKSUM;
    }
    *bytes_out = buffer + SNAPSHOT_HEADER_SIZE;
    *size_out = size;
    return 0;
}
