/*
 * The simulated disk: an in-memory backend of the I/O seam (lib/io.h) for files and
 * directories, with faults decided by a seeded PRNG or placed exactly by a test. Used by
 * tests/fault (SQLite-style loops) and by the VSR simulator (tests/sim), one sim_disk per
 * simulated replica. Single-threaded; deterministic for a given seed and call sequence.
 *
 * Model (what survives a crash, as on Linux with a journaling filesystem):
 *   - Each file keeps two images: what reads see now, and what is durable. A write marks
 *     its 512-byte sectors unsynced; fdatasync/fsync of any handle on the file makes all of
 *     them (and the file size) durable.
 *   - Names are directory entries: creating, renaming or unlinking a file changes the
 *     current namespace; it becomes durable only when its parent directory is fsynced
 *     (open the directory with IO_OPEN_DIRECTORY, then io_fsync). "" / "." is the root.
 *   - sim_disk_crash throws away every handle and every completion in flight (their
 *     callbacks never run), and keeps, drops or tears (each 512-byte sector and each name
 *     change independently at random) what was not durable.
 *
 * Faults:
 *   - the Nth counted operation (1-based, among the kinds in fail_operation_mask) fails
 *     with fail_error, once (transient) or also every later counted one (persistent);
 *     a failed write or sync changes nothing;
 *   - crash_at_sync: the Nth sync (fdatasync or fsync) is not performed and the disk
 *     stops: sim_disk_is_crashed turns true, nothing more completes, until sim_disk_crash;
 *   - completion latency of 0..latency_steps_max io_run steps, so completions reorder;
 *   - misdirected writes (per million, at a random sector-aligned offset of the same file
 *     or, if asked, of another file in the same directory; the place asked for keeps what
 *     it held) and explicit bit flips / overwrites of durable data (sim_disk_flip_bit,
 *     sim_disk_file_write).
 * Direct-I/O alignment (IO_SECTOR_SIZE) is enforced with -EINVAL, as the kernel does.
 * Sockets and connect/accept are not simulated here (-EOPNOTSUPP).
 */
#ifndef RUNNEL_TESTS_SIM_SIM_DISK_H
#define RUNNEL_TESTS_SIM_SIM_DISK_H

#include "lib/io.h"
#include "lib/prng.h"

#include <stdbool.h>
#include <stdint.h>

enum { SIM_DISK_SECTOR_SIZE = 512, SIM_DISK_MISDIRECT_SUFFIXES_MAX = 8 };

enum sim_disk_crash_mode {
    SIM_DISK_CRASH_KEEP = 0, /* every unsynced write and name change survives */
    SIM_DISK_CRASH_DROP = 1, /* none survives */
    SIM_DISK_CRASH_TEAR = 2, /* each unsynced 512-byte sector / name change: coin flip */
};

struct sim_disk_options {
    uint64_t seed;
    uint32_t files_max;           /* names and inodes (files + directories) */
    uint32_t handles_max;         /* open handles */
    uint32_t pending_max;         /* completions in flight */
    uint64_t file_size_bytes_max; /* a write or fallocate past it fails with -EFBIG */
    bool direct_supported;        /* what io_probe_direct answers */
};

struct sim_disk_faults {
    uint64_t fail_operation_at;   /* 1-based index among counted operations; 0: never */
    uint32_t fail_operation_mask; /* bit (1u << enum io_operation) per counted kind */
    bool fail_persistent;         /* the failure sticks for every later counted operation */
    int32_t fail_error;           /* negative errno, e.g. -EIO */
    uint64_t crash_at_sync;       /* 1-based sync index at which the disk stops; 0: never */
    uint32_t latency_steps_max;   /* completion delay 0..max io_run steps */
    uint32_t misdirect_per_million;
    /* Which writes may be misdirected: those to files whose name ends with one of these
     * (NULL-terminated, at most SIM_DISK_MISDIRECT_SUFFIXES_MAX; NULL: every file). Such a write
     * lands, with this chance, in another admitted file of the same directory (or whenever its own
     * file is too short to hold it elsewhere), else at another offset of its own file. 0 and NULL:
     * the same-file model alone, with the same PRNG draws as before these fields existed. */
    const char *const *misdirect_suffixes;
    uint32_t misdirect_other_file_percent;
};

struct sim_disk_inode {
    bool used;
    bool is_directory;
    uint8_t *data;         /* current image (capacity_bytes) */
    uint8_t *data_durable; /* durable image (capacity_bytes) */
    uint8_t *sector_dirty; /* one flag per 512-byte sector: written since the last sync */
    uint64_t size_bytes;
    uint64_t size_bytes_durable;
    uint64_t capacity_bytes;
};

struct sim_disk_entry {
    char path[IO_PATH_SIZE_MAX];
    int32_t inode;         /* current namespace: -1 when absent */
    int32_t inode_durable; /* after a crash: -1 when absent */
};

struct sim_disk_handle {
    bool used;
    int32_t inode;
    uint32_t flags;
};

struct sim_disk_pending {
    struct io_completion *completion;
    uint64_t due_step;
    uint64_t sequence; /* submission order, to break ties */
};

struct sim_disk {
    struct io io; /* first: callers pass &disk->io */
    struct sim_disk_options options;
    struct sim_disk_faults faults;
    struct prng prng;
    struct sim_disk_inode *inodes;    /* files_max */
    struct sim_disk_entry *entries;   /* files_max */
    struct sim_disk_handle *handles;  /* handles_max */
    struct sim_disk_pending *pending; /* pending_max */
    uint32_t pending_count;
    uint64_t step;
    uint64_t sequence;
    bool is_crashed;
    bool is_failing; /* a persistent failure has started */
    /* Tests: io_can_wait answers false, as inside a runtime's completion callback. */
    bool refuse_waits;
    /* Counters (since init; tests read them to size their loops). */
    uint64_t operation_count; /* counted operations submitted */
    uint64_t sync_count;
    uint64_t fault_count; /* operations failed on purpose */
    uint64_t misdirect_count;
};

/* Allocates everything from options (the only allocation). Returns 0 or -ENOMEM. */
int sim_disk_init(struct sim_disk *disk, const struct sim_disk_options *options);

/* Frees everything; completions in flight are forgotten. */
void sim_disk_deinit(struct sim_disk *disk);

/* Replaces the fault plan and resets the operation and sync counters it indexes. */
void sim_disk_faults_set(struct sim_disk *disk, const struct sim_disk_faults *faults);

/* A mask with every file and directory operation a storage write path issues. */
uint32_t sim_disk_mask_files(void);

/* True once crash_at_sync has been reached (the process is "dead"). */
bool sim_disk_is_crashed(const struct sim_disk *disk);

/* The process dies now: handles and in-flight completions vanish; what was not durable is
 * kept, dropped or torn per mode. The disk then serves a restarted process normally (the
 * fault plan is cleared). */
void sim_disk_crash(struct sim_disk *disk, enum sim_disk_crash_mode mode);

/* Test inspection and damage, outside the I/O seam (paths as given to io_open). They act
 * on both images: the damage is durable. Return 0 or -ENOENT / -EINVAL. */
int sim_disk_flip_bit(struct sim_disk *disk, const char *path, uint64_t bit_index);
int sim_disk_file_write(struct sim_disk *disk, const char *path, const void *buffer,
                        uint64_t size_bytes, uint64_t offset_bytes);
int sim_disk_file_read(struct sim_disk *disk, const char *path, void *buffer, uint64_t size_bytes,
                       uint64_t offset_bytes, uint64_t *size_bytes_out);
int sim_disk_file_size(struct sim_disk *disk, const char *path, uint64_t *size_bytes_out);
int sim_disk_file_truncate(struct sim_disk *disk, const char *path, uint64_t size_bytes);
bool sim_disk_exists(struct sim_disk *disk, const char *path);

#endif
