/*
 * runnel-storage-bench: partition log throughput on the real disk (issue 3 item 9), next
 * to raw O_DIRECT figures measured in the same run and through the same blocking I/O
 * backend (lib/io_blocking):
 *   1. raw O_DIRECT sequential writes of the size one flushed batch occupies, with and
 *      without an fdatasync after each;
 *   2. one partition appending 1000-message batches of 1000-byte messages, one batch per
 *      flush (group commit of one loop pass), durability fsync and replicated, counting
 *      heap allocations during the steady state and timing the reopen (recovery);
 *   3. N partitions (default 1000) receiving 10-message batches round-robin, one batch
 *      per partition per loop pass, then one flush per partition.
 * Last line: ratio_fsync=R1 ratio_replicated=R2 (append MB/s over raw MB/s, one partition).
 * A program, not a test: it prints figures and passes or fails nothing. Single thread.
 */
#include "lib/assert.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/io_blocking.h"
#include "lib/log.h"
#include "proto/batch.h"
#include "storage/atomic_file.h"
#include "storage/partition.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Heap allocation counting: the executable's malloc family wraps glibc's (not under ASan,
 * whose runtime owns malloc). */
static uint64_t bench_allocation_count;
#if !defined(__SANITIZE_ADDRESS__)
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
void *malloc(size_t size)
{
    bench_allocation_count++;
    return __libc_malloc(size);
}
void *calloc(size_t count, size_t size)
{
    bench_allocation_count++;
    return __libc_calloc(count, size);
}
void *realloc(void *pointer, size_t size)
{
    bench_allocation_count++;
    return __libc_realloc(pointer, size);
}
void *aligned_alloc(size_t alignment, size_t size)
{
    bench_allocation_count++;
    return __libc_memalign(alignment, size);
}
int posix_memalign(void **pointer, size_t alignment, size_t size)
{
    bench_allocation_count++;
    *pointer = __libc_memalign(alignment, size);
    return *pointer == NULL ? ENOMEM : 0;
}
#define BENCH_COUNTS_ALLOCATIONS 1
#else
#define BENCH_COUNTS_ALLOCATIONS 0
#endif

enum {
    BENCH_MESSAGES_LARGE = 1000,
    BENCH_MESSAGES_SMALL = 10,
    BENCH_MESSAGE_SIZE = 1000,
    BENCH_RECORD_LARGE_MAX = (1 << 20) + 64 * 1024,
    BENCH_RECORD_SMALL_MAX = 16 * 1024,
};

struct bench_options {
    const char *directory;
    uint64_t size_bytes;       /* single-partition data per run */
    uint64_t multi_size_bytes; /* data of the many-partition run (per durability) */
    uint32_t partitions;
    uint64_t preallocate_bytes; /* single-partition fallocate chunk; 0: none */
};

struct bench {
    struct io_blocking blocking;
    struct clock clock;
    struct bench_options options;
    uint8_t *body; /* the batch appended (restamped each append) */
    uint64_t body_size_bytes;
    uint64_t op_durable;
    int durable_result;
};

static struct bench bench;

static void bench_durable_callback(struct partition *partition, uint64_t op_durable, int result,
                                   void *context)
{
    (void)partition;
    (void)context;
    bench.op_durable = op_durable;
    if (result != 0) {
        bench.durable_result = result;
    }
}

static void bench_wait_callback(struct io_completion *completion)
{
    assert(completion != NULL && completion->done);
}

static int64_t bench_wait(struct io_completion *completion)
{
    return io_wait(&bench.blocking.io, completion, 1u << 20);
}

static double bench_seconds_since(uint64_t start_ns)
{
    uint64_t now = clock_monotonic_ns(&bench.clock);
    assert(now >= start_ns);
    return (double)(now - start_ns) / 1e9;
}

/* Builds a batch of count messages of BENCH_MESSAGE_SIZE bytes into bench.body. */
static void bench_batch_build(uint32_t count)
{
    struct batch_builder builder;
    static uint8_t payload[BENCH_MESSAGE_SIZE];
    memset(payload, 'r', sizeof(payload));
    batch_builder_init(&builder, bench.body, BENCH_RECORD_LARGE_MAX, 1);
    for (uint32_t index = 0; index < count; index++) {
        int result =
            batch_builder_add(&builder, index + 1, 0, 1, payload, sizeof(payload), NULL, 0);
        assert(result == 0);
    }
    bench.body_size_bytes = batch_builder_finish(&builder);
}

/* Raw O_DIRECT writes of write_size_bytes until total; returns MB/s (1e6 bytes). */
static double bench_raw(uint64_t write_size_bytes, uint64_t total_bytes, bool sync)
{
    char path[IO_PATH_SIZE_MAX];
    snprintf(path, sizeof(path), "%s/raw.data", bench.options.directory);
    struct io *io = &bench.blocking.io;
    struct io_completion completion = {0};
    io_open(io, &completion, path, IO_OPEN_CREATE | IO_OPEN_DIRECT, bench_wait_callback, NULL);
    int64_t file = bench_wait(&completion);
    assert_msg(file >= 0, "raw file open (O_DIRECT) failed");
    io_truncate(io, &completion, (int32_t)file, 0, bench_wait_callback, NULL);
    bench_wait(&completion);
    uint8_t *buffer = aligned_alloc(IO_SECTOR_SIZE, write_size_bytes);
    assert(buffer != NULL);
    memset(buffer, 'w', write_size_bytes);
    uint64_t writes = total_bytes / write_size_bytes;
    uint64_t start = clock_monotonic_ns(&bench.clock);
    for (uint64_t index = 0; index < writes; index++) {
        io_write(io, &completion, (int32_t)file, buffer, write_size_bytes, index * write_size_bytes,
                 bench_wait_callback, NULL);
        assert(bench_wait(&completion) == (int64_t)write_size_bytes);
        if (sync) {
            io_fdatasync(io, &completion, (int32_t)file, bench_wait_callback, NULL);
            assert(bench_wait(&completion) == 0);
        }
    }
    double seconds = bench_seconds_since(start);
    io_close(io, &completion, (int32_t)file, bench_wait_callback, NULL);
    bench_wait(&completion);
    io_unlink(io, &completion, path, 0, bench_wait_callback, NULL);
    bench_wait(&completion);
    free(buffer);
    return (double)(writes * write_size_bytes) / seconds / 1e6;
}

static void bench_removed_callback(struct atomic_file *file, int result, void *context)
{
    (void)file;
    *(int *)context = result == 0 ? 1 : result;
}

/* Removes a partition directory and its files (ignores a missing one). */
static void bench_remove_directory(const char *path)
{
    static char names[1 << 16];
    static struct atomic_file file;
    int done = 0;
    assert(atomic_file_remove_directory(&file, &bench.blocking.io, path, names, sizeof(names),
                                        bench_removed_callback, &done) == 0);
    for (uint32_t round = 0; round < 1000000 && done == 0; round++) {
        io_run(&bench.blocking.io, 1000000);
    }
    assert(done != 0);
}

static void bench_partition_options(struct partition_options *options, const char *directory,
                                    uint32_t partition_id, bool fsync, bool large)
{
    memset(options, 0, sizeof(*options));
    options->directory = directory;
    options->group = (struct vsr_group){
        .stream_id = 1, .topic_id = 1, .partition_id = partition_id, .kind = 1, .incarnation = 1};
    options->cluster = 1;
    options->segment_size_bytes = large ? (1ull << 30) : (64ull << 20);
    options->preallocate_bytes = large ? bench.options.preallocate_bytes : (1ull << 20);
    options->index_entries_max = large ? 4096 : 1024;
    options->record_size_bytes_max = large ? BENCH_RECORD_LARGE_MAX : BENCH_RECORD_SMALL_MAX;
    options->buffer_size_bytes = large ? (4ull << 20) : (48ull << 10);
    options->flush_records_max = large ? 4 : 8;
    options->segments_max = 64;
    options->faulty_max = 16;
    options->durability_fsync = fsync;
    options->direct_allowed = true;
    options->durable_callback = bench_durable_callback;
}

/* Appends one batch (retrying once after the flush that rotates a full segment). */
static void bench_append(struct partition *partition, uint64_t timestamp_ns)
{
    struct vsr_header header;
    for (int attempt = 0; attempt < 2; attempt++) {
        partition_prepare(partition, &header, VSR_OPERATION_MESSAGES, bench.body,
                          (uint32_t)bench.body_size_bytes, timestamp_ns);
        int result = partition_append(partition, &header, bench.body);
        if (result == 0) {
            return;
        }
        assert(result == -RUNNEL_EFULL);
        assert(partition_flush(partition) == 0);
        for (uint32_t round = 0; round < 1000 && partition_is_flushing(partition); round++) {
            io_run(&bench.blocking.io, 0);
        }
    }
    assert_msg(false, "append refused twice");
}

struct bench_single_result {
    double append_mb_per_second;
    uint64_t allocation_count;
    double recovery_ms;
    uint32_t segment_count;
};

static void bench_single(bool fsync, struct bench_single_result *result_out)
{
    static struct partition partition;
    char directory[IO_PATH_SIZE_MAX];
    snprintf(directory, sizeof(directory), "%s/partition-single", bench.options.directory);
    struct partition_options options;
    bench_partition_options(&options, directory, 0, fsync, true);
    assert(atomic_file_create_directory(&bench.blocking.io, directory) == 0);
    assert(partition_init(&partition, &options) == 0);
    assert(partition_open(&partition, &bench.blocking.io) == 0);
    uint64_t batches = bench.options.size_bytes / bench.body_size_bytes;
    uint64_t allocations = bench_allocation_count;
    uint64_t start = clock_monotonic_ns(&bench.clock);
    for (uint64_t index = 0; index < batches; index++) {
        bench_append(&partition, start + index);
        assert(partition_flush(&partition) == 0);
        for (uint32_t round = 0; round < 1000 && partition_is_flushing(&partition); round++) {
            io_run(&bench.blocking.io, 0);
        }
    }
    double seconds = bench_seconds_since(start);
    result_out->allocation_count = bench_allocation_count - allocations;
    assert(bench.durable_result == 0 && bench.op_durable == batches);
    result_out->append_mb_per_second = (double)(batches * bench.body_size_bytes) / seconds / 1e6;
    result_out->segment_count = partition.segment_count;
    partition_close(&partition);
    uint64_t recovery_start = clock_monotonic_ns(&bench.clock);
    assert(partition_open(&partition, &bench.blocking.io) == 0);
    result_out->recovery_ms = bench_seconds_since(recovery_start) * 1e3;
    assert(partition.op_last == batches);
    partition_close(&partition);
    partition_deinit(&partition);
    bench_remove_directory(directory);
}

/* Many partitions, one small batch each per loop pass; returns aggregate MB/s. */
static double bench_multi(bool fsync)
{
    uint32_t count = bench.options.partitions;
    struct partition *partitions = calloc(count, sizeof(partitions[0]));
    char(*directories)[IO_PATH_SIZE_MAX] = calloc(count, IO_PATH_SIZE_MAX);
    assert(partitions != NULL && directories != NULL);
    for (uint32_t index = 0; index < count; index++) {
        snprintf(directories[index], IO_PATH_SIZE_MAX, "%s/partition-%u", bench.options.directory,
                 index);
        struct partition_options options;
        bench_partition_options(&options, directories[index], index, fsync, false);
        assert(atomic_file_create_directory(&bench.blocking.io, directories[index]) == 0);
        assert(partition_init(&partitions[index], &options) == 0);
        assert(partition_open(&partitions[index], &bench.blocking.io) == 0);
    }
    uint64_t passes = bench.options.multi_size_bytes / (bench.body_size_bytes * count);
    passes = passes == 0 ? 1 : passes;
    uint64_t start = clock_monotonic_ns(&bench.clock);
    for (uint64_t pass = 0; pass < passes; pass++) {
        for (uint32_t index = 0; index < count; index++) {
            bench_append(&partitions[index], start + pass);
        }
        for (uint32_t index = 0; index < count; index++) {
            assert(partition_flush(&partitions[index]) == 0);
        }
        for (uint32_t round = 0; round < 1000000 && io_pending_count(&bench.blocking.io) > 0;
             round++) {
            io_run(&bench.blocking.io, 0);
        }
    }
    double seconds = bench_seconds_since(start);
    assert(bench.durable_result == 0);
    for (uint32_t index = 0; index < count; index++) {
        partition_close(&partitions[index]);
        partition_deinit(&partitions[index]);
        bench_remove_directory(directories[index]);
    }
    free(partitions);
    free(directories);
    return (double)(passes * count * bench.body_size_bytes) / seconds / 1e6;
}

static int bench_parse(int argc, char **argv, struct bench_options *options)
{
    options->directory = "./bench-data";
    options->size_bytes = 2ull << 30;
    options->multi_size_bytes = 64ull << 20;
    options->partitions = 1000;
    options->preallocate_bytes = 64ull << 20;
    for (int index = 1; index + 1 < argc; index += 2) {
        const char *name = argv[index];
        const char *value = argv[index + 1];
        if (strcmp(name, "--dir") == 0) {
            options->directory = value;
        } else if (strcmp(name, "--size-bytes") == 0) {
            options->size_bytes = strtoull(value, NULL, 10);
        } else if (strcmp(name, "--multi-size-bytes") == 0) {
            options->multi_size_bytes = strtoull(value, NULL, 10);
        } else if (strcmp(name, "--preallocate-bytes") == 0) {
            options->preallocate_bytes = strtoull(value, NULL, 10);
        } else if (strcmp(name, "--partitions") == 0) {
            options->partitions = (uint32_t)strtoul(value, NULL, 10);
        } else {
            return -1;
        }
    }
    if ((argc - 1) % 2 != 0 || options->size_bytes < (8ull << 20) || options->partitions == 0) {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (bench_parse(argc, argv, &bench.options) != 0) {
        fprintf(stderr, "usage: runnel-storage-bench [--dir DIR] [--size-bytes N (>= 8 MiB)]"
                        " [--multi-size-bytes N] [--partitions N] [--preallocate-bytes N]\n");
        return 2;
    }
    log_level_set(LOG_LEVEL_WARN);
    clock_system_init(&bench.clock);
    io_blocking_init(&bench.blocking);
    int made = atomic_file_create_directory(&bench.blocking.io, bench.options.directory);
    assert_msg(made == 0 || made == -EEXIST, "cannot create --dir");
    if (!io_probe_direct(&bench.blocking.io, bench.options.directory)) {
        fprintf(stderr, "runnel-storage-bench: %s does not accept O_DIRECT\n",
                bench.options.directory);
        return 77;
    }
    bench.body = aligned_alloc(IO_SECTOR_SIZE, BENCH_RECORD_LARGE_MAX);
    assert(bench.body != NULL);
    bench_batch_build(BENCH_MESSAGES_LARGE);
    /* The bytes one flushed batch occupies: record plus its sector padding record. */
    uint64_t record = VSR_HEADER_SIZE + bench.body_size_bytes;
    uint64_t write_size = (record + IO_SECTOR_SIZE - 1) / IO_SECTOR_SIZE * IO_SECTOR_SIZE;
    write_size += write_size - record < VSR_HEADER_SIZE ? IO_SECTOR_SIZE : 0;
    printf("batch_bytes=%" PRIu64 " write_bytes=%" PRIu64 " size_bytes=%" PRIu64 "\n",
           bench.body_size_bytes, write_size, bench.options.size_bytes);
    fflush(stdout);
    /* Each raw figure is measured right before the append run it is compared with, so
     * both meet the same background writeback of the earlier phases. */
    double raw_sync = bench_raw(write_size, bench.options.size_bytes, true);
    printf("raw_direct_fdatasync_mb_s=%.1f\n", raw_sync);
    fflush(stdout);
    struct bench_single_result fsync_result;
    struct bench_single_result replicated_result;
    bench_single(true, &fsync_result);
    printf("append_fsync_mb_s=%.1f segments=%u recovery_ms=%.1f steady_allocations=%" PRIu64 "%s\n",
           fsync_result.append_mb_per_second, fsync_result.segment_count, fsync_result.recovery_ms,
           fsync_result.allocation_count,
           BENCH_COUNTS_ALLOCATIONS ? "" : " (not counted under ASan)");
    fflush(stdout);
    double raw = bench_raw(write_size, bench.options.size_bytes, false);
    printf("raw_direct_mb_s=%.1f\n", raw);
    fflush(stdout);
    bench_single(false, &replicated_result);
    printf("append_replicated_mb_s=%.1f segments=%u recovery_ms=%.1f steady_allocations=%" PRIu64
           "\n",
           replicated_result.append_mb_per_second, replicated_result.segment_count,
           replicated_result.recovery_ms, replicated_result.allocation_count);
    fflush(stdout);
    bench_batch_build(BENCH_MESSAGES_SMALL);
    double multi_fsync = bench_multi(true);
    printf("partitions=%u batch_messages=%u multi_fsync_mb_s=%.1f\n", bench.options.partitions,
           BENCH_MESSAGES_SMALL, multi_fsync);
    fflush(stdout);
    double multi_replicated = bench_multi(false);
    printf("partitions=%u batch_messages=%u multi_replicated_mb_s=%.1f\n", bench.options.partitions,
           BENCH_MESSAGES_SMALL, multi_replicated);
    printf("ratio_fsync=%.3f ratio_replicated=%.3f\n", fsync_result.append_mb_per_second / raw_sync,
           replicated_result.append_mb_per_second / raw);
    free(bench.body);
    io_blocking_deinit(&bench.blocking);
    return 0;
}
