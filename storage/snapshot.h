/*
 * Metadata snapshots (DESIGN.md §5): the metadata state machine's state at an op, as
 * opaque bytes that the broker fills (a protobuf-c message of proto/metadata.proto),
 * framed with the op and an XXH3-128 checksum and written atomically (storage/atomic_file:
 * temp file, fdatasync, rename, directory fsync) as data/metadata/snapshot.
 *
 * The metadata journal itself is a struct partition (storage/partition.h) whose group is
 * the metadata group (kind VSR_GROUP_KIND_METADATA, all ids 0) in data/metadata/journal:
 * the same records (prepares), group commit, index and recovery as a partition log, so it
 * needs no code of its own. After a snapshot at op is durable, journal segments up to it
 * may be removed with partition_truncate_prefix.
 *
 * File layout: checksum u128 of [16, size) | magic u64 | op u64 | size u64 | bytes.
 * Runs on shard 0.
 */
#ifndef RUNNEL_STORAGE_SNAPSHOT_H
#define RUNNEL_STORAGE_SNAPSHOT_H

#include "lib/io.h"
#include "storage/atomic_file.h"

#include <stdint.h>

enum { SNAPSHOT_HEADER_SIZE = 40 };

/*
 * Frames bytes (size_bytes) for op into buffer (size_bytes + SNAPSHOT_HEADER_SIZE at
 * least; bytes may already sit at buffer + SNAPSHOT_HEADER_SIZE, then nothing is copied)
 * and writes it atomically to path. The buffer must stay untouched until the callback.
 * Returns 0, -RUNNEL_ETOOLARGE or -RUNNEL_ESTATE (file busy).
 */
int snapshot_write(struct atomic_file *file, struct io *io, const char *path, uint64_t op,
                   const void *bytes, uint64_t size_bytes, uint8_t *buffer,
                   uint64_t buffer_size_bytes, atomic_file_callback callback, void *context);

/*
 * Reads and verifies path into buffer (synchronous: start-up). On success *op_out is the
 * snapshot's op and the state is bytes_out[0, size_out). Returns 0, -ENOENT (no
 * snapshot), -RUNNEL_ECHECKSUM / -RUNNEL_EFORMAT / -RUNNEL_ETRUNCATED (damaged: never
 * trusted), -RUNNEL_ETOOLARGE or -errno.
 */
int snapshot_read(struct io *io, const char *path, uint8_t *buffer, uint64_t buffer_size_bytes,
                  uint64_t *op_out, const uint8_t **bytes_out, uint64_t *size_out);

#endif
