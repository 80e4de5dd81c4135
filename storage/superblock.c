/*
 * The per-shard superblock (storage/superblock.h): encoding, copy-by-copy writes and
 * newest-valid-copy recovery. Owns its file handle and the buffer allocated at init. Runs
 * on the shard it belongs to.
 */
#include "storage/superblock.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { SUPERBLOCK_WAIT_ITERATIONS = 1u << 20 };

/* The layout's version: \3 added log_dropped_op (group record 352 -> 368 bytes). */
static const uint64_t superblock_magic = 0x0342505553534e52ULL; /* "RNSSUPB\3" */

/* Copy layout: checksum u128 of [24, size) | copy u32 | reserved u32 | magic u64 |
 * sequence u64 | shard_count u32 | group_count u32 | cluster u128 | groups. */
enum {
    SUPERBLOCK_AT_COPY = 16,
    SUPERBLOCK_AT_MAGIC = 24,
    SUPERBLOCK_AT_SEQUENCE = 32,
    SUPERBLOCK_AT_SHARDS = 40,
    SUPERBLOCK_AT_GROUPS = 44,
    SUPERBLOCK_AT_CLUSTER = 48,
};

static void superblock_io_callback(struct io_completion *completion);

static void superblock_wait_callback(struct io_completion *completion)
{
    assert(completion != NULL && completion->done);
}

static int64_t superblock_wait(struct superblock *superblock, struct io_completion *completion)
{
    assert(superblock != NULL && completion != NULL);
    return io_wait(superblock->io, completion, SUPERBLOCK_WAIT_ITERATIONS);
}

int superblock_init(struct superblock *superblock, const struct superblock_options *options)
{
    assert(superblock != NULL && options != NULL && options->path != NULL);
    assert(options->groups_max > 0 && options->shard_count > 0 && options->callback != NULL);
    memset(superblock, 0, sizeof(*superblock));
    superblock->options = *options;
    uint64_t size = SUPERBLOCK_HEADER_SIZE + (uint64_t)options->groups_max * SUPERBLOCK_GROUP_SIZE;
    superblock->copy_size_bytes = (size + IO_SECTOR_SIZE - 1) / IO_SECTOR_SIZE * IO_SECTOR_SIZE;
    superblock->groups = calloc(options->groups_max, sizeof(superblock->groups[0]));
    superblock->buffer = aligned_alloc(IO_SECTOR_SIZE, superblock->copy_size_bytes);
    superblock->file = -1;
    superblock->copy = SUPERBLOCK_COPIES;
    if (superblock->groups == NULL || superblock->buffer == NULL) {
        superblock_deinit(superblock);
        return -ENOMEM;
    }
    return 0;
}

void superblock_deinit(struct superblock *superblock)
{
    assert(superblock != NULL);
    free(superblock->groups);
    free(superblock->buffer);
    memset(superblock, 0, sizeof(*superblock));
}

/* Encodes the state with sequence into buffer, for copy. */
static void superblock_encode(struct superblock *superblock, uint64_t sequence, uint32_t copy)
{
    uint8_t *buffer = superblock->buffer;
    assert(copy < SUPERBLOCK_COPIES);
    memset(buffer, 0, superblock->copy_size_bytes);
    memcpy(buffer + SUPERBLOCK_AT_MAGIC, &superblock_magic, 8);
    memcpy(buffer + SUPERBLOCK_AT_SEQUENCE, &sequence, 8);
    memcpy(buffer + SUPERBLOCK_AT_SHARDS, &superblock->options.shard_count, 4);
    memcpy(buffer + SUPERBLOCK_AT_GROUPS, &superblock->group_count, 4);
    memcpy(buffer + SUPERBLOCK_AT_CLUSTER, &superblock->options.cluster, 16);
    memcpy(buffer + SUPERBLOCK_HEADER_SIZE, superblock->groups,
           (uint64_t)superblock->group_count * SUPERBLOCK_GROUP_SIZE);
    u128 checksum = vsr_checksum(buffer + SUPERBLOCK_AT_MAGIC,
                                 superblock->copy_size_bytes - SUPERBLOCK_AT_MAGIC);
    memcpy(buffer, &checksum, 16);
    memcpy(buffer + SUPERBLOCK_AT_COPY, &copy, 4);
}

/* Validates an untrusted copy read from position copy. Returns its sequence or 0. */
static uint64_t superblock_copy_sequence(const struct superblock *superblock, const uint8_t *bytes,
                                         uint32_t copy)
{
    u128 checksum;
    uint32_t copy_stored = 0;
    uint64_t magic = 0;
    uint64_t sequence = 0;
    uint32_t group_count = 0;
    u128 cluster;
    memcpy(&checksum, bytes, 16);
    memcpy(&copy_stored, bytes + SUPERBLOCK_AT_COPY, 4);
    memcpy(&magic, bytes + SUPERBLOCK_AT_MAGIC, 8);
    memcpy(&sequence, bytes + SUPERBLOCK_AT_SEQUENCE, 8);
    memcpy(&group_count, bytes + SUPERBLOCK_AT_GROUPS, 4);
    memcpy(&cluster, bytes + SUPERBLOCK_AT_CLUSTER, 16);
    if (checksum != vsr_checksum(bytes + SUPERBLOCK_AT_MAGIC,
                                 superblock->copy_size_bytes - SUPERBLOCK_AT_MAGIC) ||
        magic != superblock_magic || copy_stored != copy ||
        group_count > superblock->options.groups_max || cluster != superblock->options.cluster) {
        return 0;
    }
    return sequence;
}

/* The layout version a copy's magic names when it is a superblock of another layout (the
 * magic's first 7 bytes, another last byte), else 0. Untrusted: only for the refusal. */
static uint8_t superblock_copy_version_other(const uint8_t *bytes)
{
    uint64_t magic = 0;
    memcpy(&magic, bytes + SUPERBLOCK_AT_MAGIC, 8);
    uint64_t prefix_mask = (1ULL << 56) - 1;
    if ((magic & prefix_mask) != (superblock_magic & prefix_mask) || magic == superblock_magic) {
        return 0;
    }
    return (uint8_t)(magic >> 56);
}

static int superblock_write_sync(struct superblock *superblock, uint32_t copy)
{
    struct io_completion completion = {0};
    io_write(superblock->io, &completion, superblock->file, superblock->buffer,
             superblock->copy_size_bytes, copy * superblock->copy_size_bytes,
             superblock_wait_callback, NULL);
    int64_t result = superblock_wait(superblock, &completion);
    if (result < 0) {
        return (int)result;
    }
    io_fdatasync(superblock->io, &completion, superblock->file, superblock_wait_callback, NULL);
    result = superblock_wait(superblock, &completion);
    return result < 0 ? (int)result : 0;
}

static int superblock_open_file(struct superblock *superblock, uint32_t flags)
{
    struct io_completion completion = {0};
    io_open(superblock->io, &completion, superblock->options.path, flags, superblock_wait_callback,
            NULL);
    int64_t file = superblock_wait(superblock, &completion);
    if (file < 0) {
        return (int)file;
    }
    superblock->file = (int32_t)file;
    return 0;
}

/* Makes the file's name durable: fsync of its parent directory. */
static int superblock_sync_parent(struct superblock *superblock)
{
    char parent[IO_PATH_SIZE_MAX];
    const char *path = superblock->options.path;
    const char *slash = strrchr(path, '/');
    size_t size = slash == NULL ? 0 : (size_t)(slash - path);
    assert(size < sizeof(parent));
    memcpy(parent, path, size);
    parent[size] = '\0';
    struct io_completion completion = {0};
    io_open(superblock->io, &completion, size == 0 ? "." : parent, IO_OPEN_DIRECTORY,
            superblock_wait_callback, NULL);
    int64_t directory = superblock_wait(superblock, &completion);
    if (directory < 0) {
        return (int)directory;
    }
    io_fsync(superblock->io, &completion, (int32_t)directory, superblock_wait_callback, NULL);
    int64_t result = superblock_wait(superblock, &completion);
    io_close(superblock->io, &completion, (int32_t)directory, superblock_wait_callback, NULL);
    superblock_wait(superblock, &completion);
    return result < 0 ? (int)result : 0;
}

int superblock_format(struct superblock *superblock, struct io *io)
{
    assert(superblock != NULL && io != NULL);
    assert(superblock->file < 0);
    superblock->io = io;
    int result = superblock_open_file(superblock, IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE);
    superblock->group_count = 0;
    superblock->sequence = 1;
    for (uint32_t copy = 0; result == 0 && copy < SUPERBLOCK_COPIES; copy++) {
        superblock_encode(superblock, 1, copy);
        result = superblock_write_sync(superblock, copy);
    }
    if (result == 0) {
        result = superblock_sync_parent(superblock);
    }
    superblock->sequence_durable = result == 0 ? 1 : 0;
    return result;
}

/* Reads every copy; loads the valid one with the highest sequence. -RUNNEL_EFORMAT when
 * none is valid and one names another layout version (a binary of another version wrote
 * it: refused, never formatted over). */
static int superblock_load(struct superblock *superblock)
{
    uint64_t best_sequence = 0;
    uint32_t best_copy = SUPERBLOCK_COPIES;
    uint8_t version_other = 0;
    for (uint32_t copy = 0; copy < SUPERBLOCK_COPIES; copy++) {
        struct io_completion completion = {0};
        io_read(superblock->io, &completion, superblock->file, superblock->buffer,
                superblock->copy_size_bytes, copy * superblock->copy_size_bytes,
                superblock_wait_callback, NULL);
        int64_t read = superblock_wait(superblock, &completion);
        if (read < 0) {
            return (int)read;
        }
        uint64_t sequence = (uint64_t)read == superblock->copy_size_bytes
                                ? superblock_copy_sequence(superblock, superblock->buffer, copy)
                                : 0;
        if (sequence == 0 && (uint64_t)read >= SUPERBLOCK_AT_MAGIC + 8) {
            uint8_t version = superblock_copy_version_other(superblock->buffer);
            version_other = version != 0 ? version : version_other;
        }
        if (sequence == 0) {
            log_warn("superblock_copy_invalid", "file=%s copy=%u position=%llu",
                     superblock->options.path, copy,
                     (unsigned long long)(copy * superblock->copy_size_bytes));
        }
        if (sequence > best_sequence) {
            best_sequence = sequence;
            best_copy = copy;
        }
    }
    if (best_copy == SUPERBLOCK_COPIES && version_other != 0) {
        log_error("superblock_version", "file=%s version=%u expected=%u", superblock->options.path,
                  version_other, (unsigned)(superblock_magic >> 56));
        return -RUNNEL_EFORMAT;
    }
    if (best_copy == SUPERBLOCK_COPIES) {
        return -RUNNEL_ENOTFOUND;
    }
    struct io_completion completion = {0};
    io_read(superblock->io, &completion, superblock->file, superblock->buffer,
            superblock->copy_size_bytes, best_copy * superblock->copy_size_bytes,
            superblock_wait_callback, NULL);
    int64_t read = superblock_wait(superblock, &completion);
    if (read < 0 || superblock_copy_sequence(superblock, superblock->buffer, best_copy) == 0) {
        return read < 0 ? (int)read : -RUNNEL_ECHECKSUM;
    }
    superblock->sequence = best_sequence;
    superblock->sequence_durable = best_sequence;
    return 0;
}

/* Rewrites every copy with the loaded state and sequence, so that a later write torn in
 * its first copy can fall back only to this state, never to an older one. */
static int superblock_repair(struct superblock *superblock)
{
    for (uint32_t copy = 0; copy < SUPERBLOCK_COPIES; copy++) {
        superblock_encode(superblock, superblock->sequence, copy);
        int result = superblock_write_sync(superblock, copy);
        if (result != 0) {
            return result;
        }
    }
    return 0;
}

int superblock_open(struct superblock *superblock, struct io *io)
{
    assert(superblock != NULL && io != NULL);
    assert(superblock->file < 0);
    superblock->io = io;
    superblock->copy = SUPERBLOCK_COPIES;
    superblock->is_dirty = false;
    memset(&superblock->completion, 0, sizeof(superblock->completion));
    int result = superblock_open_file(superblock, 0);
    if (result == 0) {
        result = superblock_load(superblock);
    }
    uint32_t shard_count = 0;
    memcpy(&shard_count, superblock->buffer + SUPERBLOCK_AT_SHARDS, 4);
    if (result == 0 && shard_count != superblock->options.shard_count) {
        log_error("superblock_shard_count", "file=%s formatted=%u configured=%u",
                  superblock->options.path, shard_count, superblock->options.shard_count);
        result = -RUNNEL_ECONFIG;
    }
    if (result == 0) {
        memcpy(&superblock->group_count, superblock->buffer + SUPERBLOCK_AT_GROUPS, 4);
        memcpy(superblock->groups, superblock->buffer + SUPERBLOCK_HEADER_SIZE,
               (uint64_t)superblock->group_count * SUPERBLOCK_GROUP_SIZE);
        result = superblock_repair(superblock);
    }
    if (result != 0) {
        superblock_close(superblock);
    }
    return result;
}

void superblock_close(struct superblock *superblock)
{
    assert(superblock != NULL);
    if (superblock->file >= 0 && superblock->io != NULL) {
        struct io_completion completion = {0};
        io_close(superblock->io, &completion, superblock->file, superblock_wait_callback, NULL);
        superblock_wait(superblock, &completion);
    }
    superblock->file = -1;
}

static int32_t superblock_group_find(const struct superblock *superblock,
                                     const struct vsr_group *group)
{
    for (uint32_t index = 0; index < superblock->group_count; index++) {
        if (vsr_group_is_equal(&superblock->groups[index].group, group)) {
            return (int32_t)index;
        }
    }
    return -1;
}

int superblock_group_set(struct superblock *superblock, const struct superblock_group *state)
{
    assert(superblock != NULL && state != NULL);
    assert(state->log_view <= state->view);
    int32_t found = superblock_group_find(superblock, &state->group);
    if (found < 0) {
        if (superblock->group_count == superblock->options.groups_max) {
            return -RUNNEL_EFULL;
        }
        found = (int32_t)superblock->group_count++;
        memset(&superblock->groups[found], 0, sizeof(superblock->groups[found]));
        superblock->is_dirty = true;
    }
    struct superblock_group *stored = &superblock->groups[found];
    assert(state->view >= stored->view && state->log_view >= stored->log_view);
    assert(state->checkpoint_op >= stored->checkpoint_op);
    if (state->view != stored->view || state->log_view != stored->log_view ||
        state->checkpoint_op != stored->checkpoint_op ||
        state->checkpoint_id != stored->checkpoint_id ||
        state->log_head_op != stored->log_head_op ||
        state->log_head_checksum != stored->log_head_checksum ||
        state->log_head.checksum != stored->log_head.checksum ||
        state->log_dropped_op != stored->log_dropped_op) {
        superblock->is_dirty = true;
    }
    *stored = *state;
    return 0;
}

int superblock_group_get(const struct superblock *superblock, const struct vsr_group *group,
                         struct superblock_group *state_out)
{
    assert(superblock != NULL && group != NULL && state_out != NULL);
    int32_t found = superblock_group_find(superblock, group);
    if (found < 0) {
        return -RUNNEL_ENOTFOUND;
    }
    *state_out = superblock->groups[found];
    return 0;
}

static void superblock_write_copy(struct superblock *superblock)
{
    assert(superblock->copy < SUPERBLOCK_COPIES);
    memcpy(superblock->buffer + SUPERBLOCK_AT_COPY, &superblock->copy, 4);
    superblock->is_syncing = false;
    io_write(superblock->io, &superblock->completion, superblock->file, superblock->buffer,
             superblock->copy_size_bytes, superblock->copy * superblock->copy_size_bytes,
             superblock_io_callback, superblock);
}

static void superblock_io_callback(struct io_completion *completion)
{
    struct superblock *superblock = completion->context;
    assert(superblock != NULL && completion == &superblock->completion);
    assert(superblock->copy < SUPERBLOCK_COPIES);
    if (completion->result < 0) {
        superblock->copy = SUPERBLOCK_COPIES;
        superblock->is_dirty = true; /* retried at a later tick */
        superblock->options.callback(superblock, superblock->sequence, (int)completion->result,
                                     superblock->options.context);
        return;
    }
    if (!superblock->is_syncing) {
        superblock->is_syncing = true;
        io_fdatasync(superblock->io, completion, superblock->file, superblock_io_callback,
                     superblock);
        return;
    }
    superblock->copy++;
    if (superblock->copy < SUPERBLOCK_COPIES) {
        superblock_write_copy(superblock);
        return;
    }
    superblock->sequence_durable = superblock->sequence;
    superblock->options.callback(superblock, superblock->sequence, 0, superblock->options.context);
}

int superblock_tick(struct superblock *superblock)
{
    assert(superblock != NULL);
    assert(superblock->file >= 0);
    if (!superblock->is_dirty || superblock->copy < SUPERBLOCK_COPIES) {
        return 0;
    }
    superblock->is_dirty = false;
    superblock->sequence++;
    superblock->copy = 0;
    superblock_encode(superblock, superblock->sequence, 0);
    superblock_write_copy(superblock);
    return 0;
}
