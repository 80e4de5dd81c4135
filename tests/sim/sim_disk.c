/*
 * The simulated disk (tests/sim/sim_disk.h): an in-memory file system behind the I/O seam
 * with a durable and a current image per file, a durable and a current namespace, and a
 * seeded fault plan. Owns its inode, name, handle and pending tables (allocated at init)
 * and the file images (grown on demand: this is test harness memory, not a steady state).
 * Runs on the one thread that drives the test or simulated replica.
 */
#include "tests/sim/sim_disk.h"

#include "lib/assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct io_backend sim_disk_backend;

static struct sim_disk *sim_disk_from_io(struct io *io)
{
    assert(io != NULL);
    assert(io->backend == &sim_disk_backend);
    return (struct sim_disk *)io;
}

/* Copies path without "./" prefixes and trailing '/'; "." becomes "" (the root). */
static int sim_disk_path_normalize(const char *path, char *out)
{
    assert(path != NULL);
    assert(out != NULL);
    for (uint32_t guard = 0; guard < IO_PATH_SIZE_MAX && strncmp(path, "./", 2) == 0; guard++) {
        path += 2;
    }
    size_t size = strnlen(path, IO_PATH_SIZE_MAX);
    if (size == IO_PATH_SIZE_MAX) {
        return -ENAMETOOLONG;
    }
    memcpy(out, path, size + 1);
    while (size > 0 && out[size - 1] == '/') {
        out[--size] = '\0';
    }
    if (strcmp(out, ".") == 0) {
        out[0] = '\0';
    }
    return 0;
}

static void sim_disk_path_parent(const char *path, char *parent_out)
{
    assert(path != NULL);
    assert(parent_out != NULL);
    const char *slash = strrchr(path, '/');
    size_t size = slash == NULL ? 0 : (size_t)(slash - path);
    memcpy(parent_out, path, size);
    parent_out[size] = '\0';
}

/* The entry slot named path (current or durable), or -1. */
static int32_t sim_disk_entry_find(const struct sim_disk *disk, const char *path)
{
    assert(disk != NULL);
    assert(path != NULL);
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        const struct sim_disk_entry *entry = &disk->entries[index];
        if ((entry->inode >= 0 || entry->inode_durable >= 0) && strcmp(entry->path, path) == 0) {
            return (int32_t)index;
        }
    }
    return -1;
}

/* The inode path names now, or -1. */
static int32_t sim_disk_lookup(const struct sim_disk *disk, const char *path)
{
    int32_t entry = sim_disk_entry_find(disk, path);
    return entry < 0 ? -1 : disk->entries[entry].inode;
}

static int32_t sim_disk_entry_take(struct sim_disk *disk, const char *path)
{
    int32_t found = sim_disk_entry_find(disk, path);
    if (found >= 0) {
        return found;
    }
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        struct sim_disk_entry *entry = &disk->entries[index];
        if (entry->inode < 0 && entry->inode_durable < 0) {
            snprintf(entry->path, sizeof(entry->path), "%s", path);
            return (int32_t)index;
        }
    }
    return -1;
}

static int32_t sim_disk_inode_take(struct sim_disk *disk, bool is_directory)
{
    assert(disk != NULL);
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        struct sim_disk_inode *inode = &disk->inodes[index];
        if (!inode->used) {
            assert(inode->data == NULL && inode->size_bytes == 0);
            inode->used = true;
            inode->is_directory = is_directory;
            return (int32_t)index;
        }
    }
    return -1;
}

static bool sim_disk_inode_is_referenced(const struct sim_disk *disk, int32_t inode)
{
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        const struct sim_disk_entry *entry = &disk->entries[index];
        if (entry->inode == inode || entry->inode_durable == inode) {
            return true;
        }
    }
    for (uint32_t index = 0; index < disk->options.handles_max; index++) {
        if (disk->handles[index].used && disk->handles[index].inode == inode) {
            return true;
        }
    }
    return false;
}

/* Frees inodes that no name (current or durable) and no handle refers to. */
static void sim_disk_collect(struct sim_disk *disk)
{
    assert(disk != NULL);
    assert(disk->inodes[0].used && disk->inodes[0].is_directory);
    for (uint32_t index = 1; index < disk->options.files_max; index++) {
        struct sim_disk_inode *inode = &disk->inodes[index];
        if (inode->used && !sim_disk_inode_is_referenced(disk, (int32_t)index)) {
            free(inode->data);
            free(inode->data_durable);
            free(inode->sector_dirty);
            memset(inode, 0, sizeof(*inode));
        }
    }
}

/* Grows inode's images to hold size_bytes (zero-filled). */
static int sim_disk_inode_reserve(struct sim_disk *disk, struct sim_disk_inode *inode,
                                  uint64_t size_bytes)
{
    assert(disk != NULL && inode != NULL);
    if (size_bytes > disk->options.file_size_bytes_max) {
        return -EFBIG;
    }
    if (size_bytes <= inode->capacity_bytes) {
        return 0;
    }
    uint64_t capacity = inode->capacity_bytes ? inode->capacity_bytes : 64 * 1024;
    while (capacity < size_bytes) {
        capacity *= 2;
    }
    uint8_t *data = realloc(inode->data, capacity);
    uint8_t *durable = data ? realloc(inode->data_durable, capacity) : NULL;
    uint8_t *dirty = durable ? realloc(inode->sector_dirty, capacity / SIM_DISK_SECTOR_SIZE) : 0;
    assert_msg(data && durable && dirty, "sim_disk: out of memory");
    uint64_t old = inode->capacity_bytes;
    memset(data + old, 0, capacity - old);
    memset(durable + old, 0, capacity - old);
    memset(dirty + old / SIM_DISK_SECTOR_SIZE, 0, (capacity - old) / SIM_DISK_SECTOR_SIZE);
    inode->data = data;
    inode->data_durable = durable;
    inode->sector_dirty = dirty;
    inode->capacity_bytes = capacity;
    return 0;
}

static void sim_disk_mark_dirty(struct sim_disk_inode *inode, uint64_t offset, uint64_t size)
{
    assert(inode != NULL);
    assert(offset + size <= inode->capacity_bytes);
    if (size == 0) {
        return;
    }
    uint64_t first = offset / SIM_DISK_SECTOR_SIZE;
    uint64_t last = (offset + size - 1) / SIM_DISK_SECTOR_SIZE;
    for (uint64_t sector = first; sector <= last; sector++) {
        inode->sector_dirty[sector] = 1;
    }
}

/* Sets the current size; a shrink zeroes the cut tail so later growth reads zeros. */
static void sim_disk_resize(struct sim_disk_inode *inode, uint64_t size_bytes)
{
    assert(inode != NULL);
    assert(size_bytes <= inode->capacity_bytes);
    if (size_bytes < inode->size_bytes) {
        memset(inode->data + size_bytes, 0, inode->size_bytes - size_bytes);
        sim_disk_mark_dirty(inode, size_bytes, inode->size_bytes - size_bytes);
    } else {
        sim_disk_mark_dirty(inode, inode->size_bytes, size_bytes - inode->size_bytes);
    }
    inode->size_bytes = size_bytes;
}

static void sim_disk_inode_sync(struct sim_disk_inode *inode)
{
    assert(inode != NULL && inode->used);
    uint64_t sectors = inode->capacity_bytes / SIM_DISK_SECTOR_SIZE;
    for (uint64_t sector = 0; sector < sectors; sector++) {
        if (inode->sector_dirty[sector]) {
            uint64_t at = sector * SIM_DISK_SECTOR_SIZE;
            memcpy(inode->data_durable + at, inode->data + at, SIM_DISK_SECTOR_SIZE);
            inode->sector_dirty[sector] = 0;
        }
    }
    inode->size_bytes_durable = inode->size_bytes;
}

/* Makes the names directly inside directory path durable. */
static void sim_disk_directory_sync(struct sim_disk *disk, const char *path)
{
    assert(disk != NULL && path != NULL);
    char parent[IO_PATH_SIZE_MAX];
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        struct sim_disk_entry *entry = &disk->entries[index];
        if (entry->inode < 0 && entry->inode_durable < 0) {
            continue;
        }
        sim_disk_path_parent(entry->path, parent);
        if (strcmp(parent, path) == 0 && entry->path[0] != '\0') {
            entry->inode_durable = entry->inode;
        }
    }
    sim_disk_collect(disk);
}

static struct sim_disk_handle *sim_disk_handle_get(struct sim_disk *disk, int32_t handle)
{
    if (handle < 0 || (uint32_t)handle >= disk->options.handles_max ||
        !disk->handles[handle].used) {
        return NULL;
    }
    return &disk->handles[handle];
}

static bool sim_disk_direct_is_aligned(const struct sim_disk_handle *handle,
                                       const struct io_completion *completion)
{
    if (!(handle->flags & IO_OPEN_DIRECT)) {
        return true;
    }
    return io_is_sector_aligned((uint64_t)(uintptr_t)completion->buffer) &&
           io_is_sector_aligned(completion->size_bytes) &&
           io_is_sector_aligned(completion->offset_bytes);
}

static int64_t sim_disk_open_create(struct sim_disk *disk, const char *path, bool is_directory)
{
    char parent[IO_PATH_SIZE_MAX];
    sim_disk_path_parent(path, parent);
    int32_t parent_inode = sim_disk_lookup(disk, parent);
    if (parent_inode < 0) {
        return -ENOENT;
    }
    if (!disk->inodes[parent_inode].is_directory) {
        return -ENOTDIR;
    }
    int32_t entry = sim_disk_entry_take(disk, path);
    int32_t inode = entry < 0 ? -1 : sim_disk_inode_take(disk, is_directory);
    if (inode < 0) {
        return -ENOSPC;
    }
    disk->entries[entry].inode = inode;
    return inode;
}

static int64_t sim_disk_do_open(struct sim_disk *disk, struct io_completion *completion,
                                const char *path)
{
    uint32_t flags = completion->flags;
    int32_t inode = sim_disk_lookup(disk, path);
    if (inode >= 0 && (flags & IO_OPEN_EXCLUSIVE)) {
        return -EEXIST;
    }
    if (inode < 0 && !(flags & IO_OPEN_CREATE)) {
        return -ENOENT;
    }
    if (inode >= 0 && disk->inodes[inode].is_directory != !!(flags & IO_OPEN_DIRECTORY)) {
        return (flags & IO_OPEN_DIRECTORY) ? -ENOTDIR : -EISDIR;
    }
    if ((flags & IO_OPEN_DIRECT) && !disk->options.direct_supported) {
        return -EINVAL;
    }
    for (uint32_t index = 0; index < disk->options.handles_max; index++) {
        struct sim_disk_handle *handle = &disk->handles[index];
        if (!handle->used) {
            if (inode < 0) {
                int64_t created = sim_disk_open_create(disk, path, false);
                if (created < 0) {
                    return created;
                }
                inode = (int32_t)created;
            }
            handle->used = true;
            handle->inode = inode;
            handle->flags = flags;
            return (int64_t)index;
        }
    }
    return -EMFILE;
}

/* The entry that names inode now, or -1 (a file unlinked while open has none). */
static int32_t sim_disk_entry_of(const struct sim_disk *disk, int32_t inode)
{
    assert(inode >= 0 && (uint32_t)inode < disk->options.files_max);
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        if (disk->entries[index].inode == inode) {
            return (int32_t)index;
        }
    }
    return -1;
}

/* True when the fault plan lets a write to path be misdirected (or land there). */
static bool sim_disk_misdirect_admits(const struct sim_disk *disk, const char *path)
{
    const char *const *suffixes = disk->faults.misdirect_suffixes;
    if (suffixes == NULL) {
        return true;
    }
    size_t size = strlen(path);
    for (uint32_t index = 0; index < SIM_DISK_MISDIRECT_SUFFIXES_MAX && suffixes[index] != NULL;
         index++) {
        size_t suffix_size = strlen(suffixes[index]);
        if (size >= suffix_size && strcmp(path + size - suffix_size, suffixes[index]) == 0) {
            return true;
        }
    }
    return false;
}

/* The files a write of size_bytes to the file named by entry source may land in instead:
 * other admitted files of its directory that already hold size_bytes. Returns how many;
 * with pick below that, the pick-th one's inode goes to inode_out. No PRNG draw. */
static uint32_t sim_disk_misdirect_targets(const struct sim_disk *disk, int32_t source,
                                           uint64_t size_bytes, uint32_t pick, int32_t *inode_out)
{
    assert(source >= 0 && inode_out != NULL);
    char directory[IO_PATH_SIZE_MAX];
    char parent[IO_PATH_SIZE_MAX];
    sim_disk_path_parent(disk->entries[source].path, directory);
    uint32_t count = 0;
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        const struct sim_disk_entry *entry = &disk->entries[index];
        if (entry->inode < 0 || entry->inode == disk->entries[source].inode ||
            disk->inodes[entry->inode].is_directory ||
            disk->inodes[entry->inode].size_bytes < size_bytes ||
            !sim_disk_misdirect_admits(disk, entry->path)) {
            continue;
        }
        sim_disk_path_parent(entry->path, parent);
        if (strcmp(parent, directory) == 0) {
            if (count == pick) {
                *inode_out = entry->inode;
            }
            count++;
        }
    }
    return count;
}

/* Decides whether this write is misdirected and where it lands instead: inode_inout and
 * offset_inout name the place the bytes go to (a random sector-aligned offset of the
 * own file, or of another file when the plan asks for that). */
static void sim_disk_misdirect(struct sim_disk *disk, int32_t *inode_inout, uint64_t *offset_inout,
                               uint64_t size)
{
    const struct sim_disk_faults *faults = &disk->faults;
    if (faults->misdirect_per_million == 0) {
        return;
    }
    /* Without a filter or other files, no name is looked at: the same-file model. */
    bool is_filtered =
        faults->misdirect_suffixes != NULL || faults->misdirect_other_file_percent > 0;
    int32_t source = is_filtered ? sim_disk_entry_of(disk, *inode_inout) : -1;
    if (is_filtered &&
        (source < 0 || !sim_disk_misdirect_admits(disk, disk->entries[source].path))) {
        return;
    }
    int32_t target = -1;
    bool fits_own = disk->inodes[*inode_inout].size_bytes >= size;
    uint32_t others = source < 0 || faults->misdirect_other_file_percent == 0
                          ? 0
                          : sim_disk_misdirect_targets(disk, source, size, UINT32_MAX, &target);
    if ((!fits_own && others == 0) ||
        !prng_chance(&disk->prng, faults->misdirect_per_million, 1000000)) {
        return;
    }
    if (others > 0 &&
        (!fits_own || prng_percent(&disk->prng, faults->misdirect_other_file_percent))) {
        uint32_t pick = (uint32_t)prng_range(&disk->prng, others);
        (void)sim_disk_misdirect_targets(disk, source, size, pick, &target);
        assert(target >= 0 && target != *inode_inout);
        *inode_inout = target;
    }
    const struct sim_disk_inode *inode = &disk->inodes[*inode_inout];
    assert(inode->size_bytes >= size);
    uint64_t slots = (inode->size_bytes - size) / SIM_DISK_SECTOR_SIZE + 1;
    *offset_inout = prng_range(&disk->prng, slots) * SIM_DISK_SECTOR_SIZE;
    disk->misdirect_count++;
}

static int64_t sim_disk_do_write(struct sim_disk *disk, struct sim_disk_handle *handle,
                                 struct io_completion *completion)
{
    if (handle->flags & IO_OPEN_READ_ONLY) {
        return -EBADF;
    }
    int32_t target = handle->inode;
    uint64_t offset = completion->offset_bytes;
    uint64_t size = completion->size_bytes;
    sim_disk_misdirect(disk, &target, &offset, size);
    struct sim_disk_inode *inode = &disk->inodes[target];
    int result = sim_disk_inode_reserve(disk, inode, offset + size);
    if (result != 0) {
        return result;
    }
    if (offset + size > inode->size_bytes) {
        sim_disk_resize(inode, offset + size);
    }
    memcpy(inode->data + offset, completion->buffer, size);
    sim_disk_mark_dirty(inode, offset, size);
    return (int64_t)completion->size_bytes;
}

static int64_t sim_disk_do_read(struct sim_disk *disk, struct sim_disk_handle *handle,
                                struct io_completion *completion)
{
    const struct sim_disk_inode *inode = &disk->inodes[handle->inode];
    uint64_t offset = completion->offset_bytes;
    if (offset >= inode->size_bytes) {
        return 0;
    }
    uint64_t size = inode->size_bytes - offset;
    if (size > completion->size_bytes) {
        size = completion->size_bytes;
    }
    memcpy(completion->buffer, inode->data + offset, size);
    return (int64_t)size;
}

/* Operations on an open file handle. */
static int64_t sim_disk_do_handle(struct sim_disk *disk, struct io_completion *completion)
{
    struct sim_disk_handle *handle = sim_disk_handle_get(disk, completion->handle);
    if (handle == NULL) {
        return -EBADF;
    }
    struct sim_disk_inode *inode = &disk->inodes[handle->inode];
    bool is_data =
        completion->operation == IO_OPERATION_READ || completion->operation == IO_OPERATION_WRITE;
    if (is_data && (inode->is_directory || !sim_disk_direct_is_aligned(handle, completion))) {
        return inode->is_directory ? -EISDIR : -EINVAL;
    }
    uint64_t end = completion->offset_bytes + completion->size_bytes;
    int result = 0;
    switch (completion->operation) {
    case IO_OPERATION_CLOSE:
        handle->used = false;
        sim_disk_collect(disk);
        return 0;
    case IO_OPERATION_READ:
        return sim_disk_do_read(disk, handle, completion);
    case IO_OPERATION_WRITE:
        return sim_disk_do_write(disk, handle, completion);
    case IO_OPERATION_FALLOCATE:
        result = sim_disk_inode_reserve(disk, inode, end);
        if (result == 0 && end > inode->size_bytes) {
            sim_disk_resize(inode, end);
        }
        return result;
    case IO_OPERATION_TRUNCATE:
        result = sim_disk_inode_reserve(disk, inode, completion->size_bytes);
        if (result == 0) {
            sim_disk_resize(inode, completion->size_bytes);
        }
        return result;
    case IO_OPERATION_SIZE:
        completion->size_bytes_out = inode->size_bytes;
        return 0;
    default:
        break;
    }
    unreachable_code();
}

static int64_t sim_disk_do_sync(struct sim_disk *disk, struct io_completion *completion)
{
    struct sim_disk_handle *handle = sim_disk_handle_get(disk, completion->handle);
    if (handle == NULL) {
        return -EBADF;
    }
    struct sim_disk_inode *inode = &disk->inodes[handle->inode];
    if (!inode->is_directory) {
        sim_disk_inode_sync(inode);
        return 0;
    }
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        const struct sim_disk_entry *entry = &disk->entries[index];
        if (entry->inode == handle->inode) {
            sim_disk_directory_sync(disk, entry->path);
            return 0;
        }
    }
    return 0; /* a directory removed since it was opened: nothing to persist */
}

static int64_t sim_disk_do_list(struct sim_disk *disk, struct io_completion *completion,
                                const char *path)
{
    int32_t inode = sim_disk_lookup(disk, path);
    if (inode < 0) {
        return -ENOENT;
    }
    if (!disk->inodes[inode].is_directory) {
        return -ENOTDIR;
    }
    char parent[IO_PATH_SIZE_MAX];
    char *buffer = completion->buffer;
    uint64_t used = 0;
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        const struct sim_disk_entry *entry = &disk->entries[index];
        if (entry->inode < 0 || entry->path[0] == '\0') {
            continue;
        }
        sim_disk_path_parent(entry->path, parent);
        if (strcmp(parent, path) != 0) {
            continue;
        }
        const char *name = entry->path + strlen(parent) + (parent[0] != '\0');
        size_t size = strlen(name) + 1;
        if (size > completion->size_bytes - used) {
            return -ERANGE;
        }
        memcpy(buffer + used, name, size);
        used += size;
    }
    return (int64_t)used;
}

static int64_t sim_disk_do_rename(struct sim_disk *disk, const char *path, const char *target)
{
    int32_t source = sim_disk_entry_find(disk, path);
    if (source < 0 || disk->entries[source].inode < 0) {
        return -ENOENT;
    }
    char parent[IO_PATH_SIZE_MAX];
    sim_disk_path_parent(target, parent);
    if (sim_disk_lookup(disk, parent) < 0) {
        return -ENOENT;
    }
    int32_t existing = sim_disk_lookup(disk, target);
    if (existing >= 0 && disk->inodes[existing].is_directory) {
        return -EISDIR;
    }
    int32_t slot = sim_disk_entry_take(disk, target);
    if (slot < 0) {
        return -ENOSPC;
    }
    disk->entries[slot].inode = disk->entries[source].inode;
    disk->entries[source].inode = -1;
    sim_disk_collect(disk);
    return 0;
}

static int64_t sim_disk_do_unlink(struct sim_disk *disk, struct io_completion *completion,
                                  const char *path)
{
    int32_t entry = sim_disk_entry_find(disk, path);
    if (entry < 0 || disk->entries[entry].inode < 0 || path[0] == '\0') {
        return -ENOENT;
    }
    struct sim_disk_inode *inode = &disk->inodes[disk->entries[entry].inode];
    bool want_directory = (completion->flags & IO_UNLINK_DIRECTORY) != 0;
    if (inode->is_directory != want_directory) {
        return want_directory ? -ENOTDIR : -EISDIR;
    }
    if (want_directory) {
        char parent[IO_PATH_SIZE_MAX];
        for (uint32_t index = 0; index < disk->options.files_max; index++) {
            const struct sim_disk_entry *child = &disk->entries[index];
            sim_disk_path_parent(child->path, parent);
            if (child->inode >= 0 && child->path[0] != '\0' && strcmp(parent, path) == 0) {
                return -ENOTEMPTY;
            }
        }
    }
    disk->entries[entry].inode = -1;
    sim_disk_collect(disk);
    return 0;
}

static int64_t sim_disk_do_path(struct sim_disk *disk, struct io_completion *completion)
{
    char path[IO_PATH_SIZE_MAX];
    char target[IO_PATH_SIZE_MAX];
    if (sim_disk_path_normalize(completion->path, path) != 0) {
        return -ENAMETOOLONG;
    }
    switch (completion->operation) {
    case IO_OPERATION_OPEN:
        return sim_disk_do_open(disk, completion, path);
    case IO_OPERATION_MKDIR:
        if (sim_disk_lookup(disk, path) >= 0) {
            return -EEXIST;
        }
        return sim_disk_open_create(disk, path, true) < 0 ? -ENOENT : 0;
    case IO_OPERATION_LIST:
        return sim_disk_do_list(disk, completion, path);
    case IO_OPERATION_RENAME:
        if (sim_disk_path_normalize(completion->path_target, target) != 0) {
            return -ENAMETOOLONG;
        }
        return sim_disk_do_rename(disk, path, target);
    case IO_OPERATION_UNLINK:
        return sim_disk_do_unlink(disk, completion, path);
    default:
        break;
    }
    unreachable_code();
}

static int64_t sim_disk_execute(struct sim_disk *disk, struct io_completion *completion)
{
    switch (completion->operation) {
    case IO_OPERATION_ACCEPT:
    case IO_OPERATION_CONNECT:
    case IO_OPERATION_RECV:
    case IO_OPERATION_SEND:
        return -EOPNOTSUPP;
    case IO_OPERATION_TIMEOUT:
        return 0;
    case IO_OPERATION_FDATASYNC:
    case IO_OPERATION_FSYNC:
        return sim_disk_do_sync(disk, completion);
    case IO_OPERATION_OPEN:
    case IO_OPERATION_MKDIR:
    case IO_OPERATION_LIST:
    case IO_OPERATION_RENAME:
    case IO_OPERATION_UNLINK:
        return sim_disk_do_path(disk, completion);
    default:
        return sim_disk_do_handle(disk, completion);
    }
}

/* Decides whether the fault plan fails this counted operation. */
static bool sim_disk_should_fail(struct sim_disk *disk, enum io_operation operation)
{
    if (!(disk->faults.fail_operation_mask & (1u << operation))) {
        return false;
    }
    disk->operation_count++;
    if (disk->is_failing) {
        return true;
    }
    if (disk->faults.fail_operation_at != 0 &&
        disk->operation_count == disk->faults.fail_operation_at) {
        disk->is_failing = disk->faults.fail_persistent;
        return true;
    }
    return false;
}

static void sim_disk_submit(struct io *io, struct io_completion *completion)
{
    struct sim_disk *disk = sim_disk_from_io(io);
    assert(completion != NULL && !completion->done);
    if (disk->is_crashed) {
        return; /* the process is dead: nothing it submits happens */
    }
    enum io_operation operation = completion->operation;
    bool is_sync = operation == IO_OPERATION_FDATASYNC || operation == IO_OPERATION_FSYNC;
    if (is_sync) {
        disk->sync_count++;
        if (disk->faults.crash_at_sync != 0 && disk->sync_count == disk->faults.crash_at_sync) {
            disk->is_crashed = true;
            return;
        }
    }
    if (sim_disk_should_fail(disk, operation)) {
        disk->fault_count++;
        completion->result = disk->faults.fail_error;
    } else {
        completion->result = sim_disk_execute(disk, completion);
    }
    assert_msg(disk->pending_count < disk->options.pending_max, "sim_disk: pending_max");
    uint64_t delay = disk->faults.latency_steps_max == 0
                         ? 0
                         : prng_range(&disk->prng, (uint64_t)disk->faults.latency_steps_max + 1);
    struct sim_disk_pending *pending = &disk->pending[disk->pending_count++];
    pending->completion = completion;
    pending->due_step = disk->step + 1 + delay;
    pending->sequence = disk->sequence++;
}

static uint32_t sim_disk_run(struct io *io, uint64_t wait_ns)
{
    struct sim_disk *disk = sim_disk_from_io(io);
    if (disk->is_crashed || disk->pending_count == 0) {
        return 0;
    }
    uint64_t due_min = UINT64_MAX;
    for (uint32_t index = 0; index < disk->pending_count; index++) {
        due_min = disk->pending[index].due_step < due_min ? disk->pending[index].due_step : due_min;
    }
    disk->step = wait_ns > 0 && due_min > disk->step + 1 ? due_min : disk->step + 1;
    /* Take the due completions out first: callbacks may submit more. Deliver in due order
     * (ties in submission order), which reorders completions when latencies differ. */
    uint32_t delivered = 0;
    for (uint32_t round = 0; round < disk->options.pending_max && !disk->is_crashed; round++) {
        int32_t best = -1;
        for (uint32_t index = 0; index < disk->pending_count; index++) {
            const struct sim_disk_pending *pending = &disk->pending[index];
            if (pending->due_step <= disk->step &&
                (best < 0 || pending->due_step < disk->pending[best].due_step ||
                 (pending->due_step == disk->pending[best].due_step &&
                  pending->sequence < disk->pending[best].sequence))) {
                best = (int32_t)index;
            }
        }
        if (best < 0) {
            break;
        }
        struct io_completion *completion = disk->pending[best].completion;
        disk->pending[best] = disk->pending[--disk->pending_count];
        completion->done = true;
        completion->callback(completion);
        delivered++;
    }
    return delivered;
}

static bool sim_disk_probe_direct(struct io *io, const char *path)
{
    struct sim_disk *disk = sim_disk_from_io(io);
    assert(path != NULL);
    return disk->options.direct_supported;
}

static uint32_t sim_disk_pending_count(const struct io *io)
{
    assert(io != NULL && io->backend == &sim_disk_backend);
    const struct sim_disk *disk = (const struct sim_disk *)io;
    return disk->is_crashed ? 0 : disk->pending_count;
}

static bool sim_disk_is_dispatching(const struct io *io)
{
    assert(io != NULL && io->backend == &sim_disk_backend);
    return ((const struct sim_disk *)io)->refuse_waits;
}

static const struct io_backend sim_disk_backend = {
    .submit = sim_disk_submit,
    .run = sim_disk_run,
    .probe_direct = sim_disk_probe_direct,
    .pending_count = sim_disk_pending_count,
    .is_dispatching = sim_disk_is_dispatching,
};

int sim_disk_init(struct sim_disk *disk, const struct sim_disk_options *options)
{
    assert(disk != NULL && options != NULL);
    assert(options->files_max >= 2 && options->handles_max >= 1 && options->pending_max >= 1);
    memset(disk, 0, sizeof(*disk));
    disk->io.backend = &sim_disk_backend;
    disk->options = *options;
    prng_init(&disk->prng, options->seed);
    disk->inodes = calloc(options->files_max, sizeof(disk->inodes[0]));
    disk->entries = calloc(options->files_max, sizeof(disk->entries[0]));
    disk->handles = calloc(options->handles_max, sizeof(disk->handles[0]));
    disk->pending = calloc(options->pending_max, sizeof(disk->pending[0]));
    if (!disk->inodes || !disk->entries || !disk->handles || !disk->pending) {
        sim_disk_deinit(disk);
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < options->files_max; index++) {
        disk->entries[index].inode = -1;
        disk->entries[index].inode_durable = -1;
    }
    /* The root directory "" is inode 0 and always exists. */
    disk->inodes[0].used = true;
    disk->inodes[0].is_directory = true;
    disk->entries[0].inode = 0;
    disk->entries[0].inode_durable = 0;
    return 0;
}

void sim_disk_deinit(struct sim_disk *disk)
{
    assert(disk != NULL);
    for (uint32_t index = 0; disk->inodes != NULL && index < disk->options.files_max; index++) {
        free(disk->inodes[index].data);
        free(disk->inodes[index].data_durable);
        free(disk->inodes[index].sector_dirty);
    }
    free(disk->inodes);
    free(disk->entries);
    free(disk->handles);
    free(disk->pending);
    memset(disk, 0, sizeof(*disk));
}

void sim_disk_faults_set(struct sim_disk *disk, const struct sim_disk_faults *faults)
{
    assert(disk != NULL && faults != NULL);
    assert(faults->fail_operation_at == 0 || faults->fail_error < 0);
    disk->faults = *faults;
    disk->operation_count = 0;
    disk->sync_count = 0;
    disk->is_failing = false;
}

uint32_t sim_disk_mask_files(void)
{
    uint32_t mask = 0;
    static const enum io_operation kinds[] = {
        IO_OPERATION_OPEN,      IO_OPERATION_READ,   IO_OPERATION_WRITE,    IO_OPERATION_FALLOCATE,
        IO_OPERATION_FDATASYNC, IO_OPERATION_FSYNC,  IO_OPERATION_TRUNCATE, IO_OPERATION_MKDIR,
        IO_OPERATION_LIST,      IO_OPERATION_RENAME, IO_OPERATION_UNLINK,   IO_OPERATION_SIZE,
    };
    for (size_t index = 0; index < sizeof(kinds) / sizeof(kinds[0]); index++) {
        mask |= 1u << kinds[index];
    }
    assert(mask != 0);
    return mask;
}

bool sim_disk_is_crashed(const struct sim_disk *disk)
{
    assert(disk != NULL);
    return disk->is_crashed;
}

static bool sim_disk_keeps(struct sim_disk *disk, enum sim_disk_crash_mode mode)
{
    assert(mode <= SIM_DISK_CRASH_TEAR);
    if (mode == SIM_DISK_CRASH_TEAR) {
        return prng_chance(&disk->prng, 1, 2);
    }
    return mode == SIM_DISK_CRASH_KEEP;
}

static void sim_disk_crash_inode(struct sim_disk *disk, struct sim_disk_inode *inode,
                                 enum sim_disk_crash_mode mode)
{
    assert(inode->used);
    uint64_t sectors = inode->capacity_bytes / SIM_DISK_SECTOR_SIZE;
    for (uint64_t sector = 0; sector < sectors; sector++) {
        if (inode->sector_dirty[sector]) {
            uint64_t at = sector * SIM_DISK_SECTOR_SIZE;
            if (!sim_disk_keeps(disk, mode)) {
                memcpy(inode->data + at, inode->data_durable + at, SIM_DISK_SECTOR_SIZE);
            }
            inode->sector_dirty[sector] = 0;
        }
    }
    if (inode->size_bytes != inode->size_bytes_durable && !sim_disk_keeps(disk, mode)) {
        uint64_t size = inode->size_bytes_durable;
        if (size < inode->size_bytes) {
            memset(inode->data + size, 0, inode->size_bytes - size);
        }
        inode->size_bytes = size;
    }
    if (inode->capacity_bytes > 0) {
        memcpy(inode->data_durable, inode->data, inode->capacity_bytes);
    }
    inode->size_bytes_durable = inode->size_bytes;
}

void sim_disk_crash(struct sim_disk *disk, enum sim_disk_crash_mode mode)
{
    assert(disk != NULL);
    assert(mode <= SIM_DISK_CRASH_TEAR);
    disk->pending_count = 0;
    memset(disk->handles, 0, disk->options.handles_max * sizeof(disk->handles[0]));
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        struct sim_disk_entry *entry = &disk->entries[index];
        if (entry->inode != entry->inode_durable && !sim_disk_keeps(disk, mode)) {
            entry->inode = entry->inode_durable;
        }
        entry->inode_durable = entry->inode;
    }
    sim_disk_collect(disk);
    for (uint32_t index = 0; index < disk->options.files_max; index++) {
        if (disk->inodes[index].used && !disk->inodes[index].is_directory) {
            sim_disk_crash_inode(disk, &disk->inodes[index], mode);
        }
    }
    struct sim_disk_faults none = {0};
    sim_disk_faults_set(disk, &none);
    disk->is_crashed = false;
}

static struct sim_disk_inode *sim_disk_file_get(struct sim_disk *disk, const char *path)
{
    char normalized[IO_PATH_SIZE_MAX];
    if (sim_disk_path_normalize(path, normalized) != 0) {
        return NULL;
    }
    int32_t inode = sim_disk_lookup(disk, normalized);
    if (inode < 0 || disk->inodes[inode].is_directory) {
        return NULL;
    }
    return &disk->inodes[inode];
}

int sim_disk_flip_bit(struct sim_disk *disk, const char *path, uint64_t bit_index)
{
    assert(disk != NULL && path != NULL);
    struct sim_disk_inode *inode = sim_disk_file_get(disk, path);
    if (inode == NULL) {
        return -ENOENT;
    }
    if (bit_index / 8 >= inode->size_bytes) {
        return -EINVAL;
    }
    inode->data[bit_index / 8] ^= (uint8_t)(1u << (bit_index % 8));
    inode->data_durable[bit_index / 8] ^= (uint8_t)(1u << (bit_index % 8));
    return 0;
}

int sim_disk_file_write(struct sim_disk *disk, const char *path, const void *buffer,
                        uint64_t size_bytes, uint64_t offset_bytes)
{
    assert(disk != NULL && path != NULL);
    assert(buffer != NULL || size_bytes == 0);
    struct sim_disk_inode *inode = sim_disk_file_get(disk, path);
    if (inode == NULL) {
        return -ENOENT;
    }
    int result = sim_disk_inode_reserve(disk, inode, offset_bytes + size_bytes);
    if (result != 0 || size_bytes == 0) {
        return result;
    }
    memcpy(inode->data + offset_bytes, buffer, size_bytes);
    memcpy(inode->data_durable + offset_bytes, buffer, size_bytes);
    if (offset_bytes + size_bytes > inode->size_bytes) {
        inode->size_bytes = offset_bytes + size_bytes;
    }
    if (offset_bytes + size_bytes > inode->size_bytes_durable) {
        inode->size_bytes_durable = offset_bytes + size_bytes;
    }
    return 0;
}

int sim_disk_file_read(struct sim_disk *disk, const char *path, void *buffer, uint64_t size_bytes,
                       uint64_t offset_bytes, uint64_t *size_bytes_out)
{
    assert(disk != NULL && path != NULL);
    assert(buffer != NULL && size_bytes_out != NULL);
    struct sim_disk_inode *inode = sim_disk_file_get(disk, path);
    if (inode == NULL) {
        return -ENOENT;
    }
    uint64_t size = 0;
    if (offset_bytes < inode->size_bytes) {
        size = inode->size_bytes - offset_bytes;
        size = size < size_bytes ? size : size_bytes;
        memcpy(buffer, inode->data + offset_bytes, size);
    }
    *size_bytes_out = size;
    return 0;
}

int sim_disk_file_size(struct sim_disk *disk, const char *path, uint64_t *size_bytes_out)
{
    assert(disk != NULL && path != NULL);
    assert(size_bytes_out != NULL);
    struct sim_disk_inode *inode = sim_disk_file_get(disk, path);
    if (inode == NULL) {
        return -ENOENT;
    }
    *size_bytes_out = inode->size_bytes;
    return 0;
}

int sim_disk_file_truncate(struct sim_disk *disk, const char *path, uint64_t size_bytes)
{
    assert(disk != NULL && path != NULL);
    struct sim_disk_inode *inode = sim_disk_file_get(disk, path);
    if (inode == NULL) {
        return -ENOENT;
    }
    if (size_bytes > inode->size_bytes) {
        return -EINVAL;
    }
    if (inode->capacity_bytes == 0) {
        return 0;
    }
    memset(inode->data + size_bytes, 0, inode->size_bytes - size_bytes);
    memset(inode->data_durable + size_bytes, 0, inode->capacity_bytes - size_bytes);
    inode->size_bytes = size_bytes;
    inode->size_bytes_durable = size_bytes;
    return 0;
}

bool sim_disk_exists(struct sim_disk *disk, const char *path)
{
    assert(disk != NULL && path != NULL);
    char normalized[IO_PATH_SIZE_MAX];
    if (sim_disk_path_normalize(path, normalized) != 0) {
        return false;
    }
    return sim_disk_lookup(disk, normalized) >= 0;
}
