/*
 * runnel-storage-bench: partition log throughput on the real disk (issue 3 item 9), next
 * to raw O_DIRECT figures measured in the same run through the same I/O backend (the
 * shard's io_uring runtime by default, as runneld uses it; --backend blocking for plain
 * system calls):
 *   1. raw O_DIRECT sequential writes of the size one flushed batch occupies, with and
 *      without an fdatasync after each, to a file preallocated exactly as segments are
 *      (--preallocate-bytes chunks ahead of the tail); the raw loop is also run with plain
 *      blocking system calls and the faster of the two raw figures is the denominator;
 *   2. one partition appending 1000-message batches of 1000-byte messages, one batch per
 *      flush (group commit of one loop pass; the next batch is prepared while the previous
 *      one is written), durability fsync and replicated, counting heap allocations during
 *      the steady state and timing the reopen (recovery);
 *   3. N partitions (default 1000) receiving 10-message batches round-robin, one batch
 *      per partition per loop pass, then one flush per partition.
 * Raw and append runs alternate for --rounds rounds; medians are reported.
 * Last line: ratio_fsync=R1 ratio_replicated=R2: the median over rounds of append MB/s over
 * the raw MB/s measured right before it (one partition). --recovery-write GIB / --recovery-open
 * time the recovery of a large partition (the caller drops the page cache in between for a cold
 * figure). A program, not a test: it prints figures and passes or fails nothing. Single thread.
 */
#include "lib/assert.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/io_blocking.h"
#include "lib/log.h"
#include "node/runtime_uring.h"
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
    BENCH_ROUNDS_MAX = 15,
    BENCH_LOOP_MAX = 1u << 30,
};

struct bench_options {
    const char *directory;
    uint64_t size_bytes;       /* single-partition data per run */
    uint64_t multi_size_bytes; /* data of the many-partition run (per durability) */
    uint32_t partitions;
    uint64_t preallocate_bytes; /* single-partition fallocate chunk (and raw's); 0: none */
    uint32_t rounds;
    bool backend_blocking;
    uint64_t recovery_write_gib; /* > 0: only write a partition of this size and exit */
    bool recovery_open;          /* only time the reopen of that partition */
    bool recovery_remove;        /* remove it afterwards */
};

struct bench {
    struct io_blocking blocking;
    struct runtime_uring *uring;
    struct io *io; /* the backend partitions and raw runs use */
    struct clock clock;
    struct bench_options options;
    uint8_t *body; /* the batch appended (restamped each append) */
    uint64_t body_size_bytes;
    uint64_t write_size_bytes; /* bytes one flushed batch occupies */
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

static int64_t bench_wait(struct io *io, struct io_completion *completion)
{
    assert(io != NULL && completion != NULL);
    return io_wait(io, completion, 1u << 24);
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

/* One raw operation through io, waited for. */
static int64_t bench_raw_operation(struct io *io, struct io_completion *completion)
{
    int64_t result = bench_wait(io, completion);
    assert_msg(result >= 0, "raw I/O failed");
    return result;
}

/* Raw O_DIRECT writes of write_size_bytes until total, preallocated like a segment;
 * returns MB/s (1e6 bytes) of the writes (fallocate included, as appends pay it). */
static double bench_raw(struct io *io, uint64_t total_bytes, bool sync)
{
    char path[IO_PATH_SIZE_MAX];
    snprintf(path, sizeof(path), "%s/raw.data", bench.options.directory);
    uint64_t write_size = bench.write_size_bytes;
    struct io_completion completion = {0};
    struct io_completion sync_completion = {0};
    io_open(io, &completion, path, IO_OPEN_CREATE | IO_OPEN_DIRECT, bench_wait_callback, NULL);
    int32_t file = (int32_t)bench_raw_operation(io, &completion);
    io_truncate(io, &completion, file, 0, bench_wait_callback, NULL);
    bench_raw_operation(io, &completion);
    uint8_t *buffer = aligned_alloc(IO_SECTOR_SIZE, write_size);
    assert(buffer != NULL);
    memset(buffer, 'w', write_size);
    uint64_t writes = total_bytes / write_size;
    uint64_t allocated = 0;
    uint64_t chunk = bench.options.preallocate_bytes;
    uint64_t start = clock_monotonic_ns(&bench.clock);
    for (uint64_t index = 0; index < writes; index++) {
        uint64_t end = (index + 1) * write_size;
        if (chunk > 0 && allocated < end) {
            uint64_t size = chunk > end - allocated ? chunk : end - allocated;
            io_fallocate(io, &completion, file, allocated, size, bench_wait_callback, NULL);
            bench_raw_operation(io, &completion);
            allocated += size;
        }
        io_write(io, &completion, file, buffer, write_size, index * write_size, bench_wait_callback,
                 NULL);
        if (sync) {
            /* Queued in the same pass: the ring links it behind the write. */
            io_fdatasync(io, &sync_completion, file, bench_wait_callback, NULL);
        }
        assert(bench_raw_operation(io, &completion) == (int64_t)write_size);
        if (sync) {
            bench_raw_operation(io, &sync_completion);
        }
    }
    double seconds = bench_seconds_since(start);
    io_close(io, &completion, file, bench_wait_callback, NULL);
    bench_raw_operation(io, &completion);
    io_unlink(io, &completion, path, 0, bench_wait_callback, NULL);
    bench_raw_operation(io, &completion);
    free(buffer);
    return (double)(writes * write_size) / seconds / 1e6;
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
    assert(atomic_file_remove_directory(&file, bench.io, path, names, sizeof(names),
                                        bench_removed_callback, &done) == 0);
    for (uint32_t round = 0; round < BENCH_LOOP_MAX && done == 0; round++) {
        io_run(bench.io, 1000000);
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

/* Tries to append one batch: 0, or -RUNNEL_EFULL (a flush or rotation must finish). */
static int bench_try_append(struct partition *partition, uint64_t timestamp_ns)
{
    struct vsr_header header;
    partition_prepare(partition, &header, VSR_OPERATION_MESSAGES, bench.body,
                      (uint32_t)bench.body_size_bytes, timestamp_ns);
    int result = partition_append(partition, &header, bench.body);
    assert(result == 0 || result == -RUNNEL_EFULL);
    return result;
}

/* Appends one batch, waiting for the flush or rotation that makes room. */
static void bench_append(struct partition *partition, uint64_t timestamp_ns)
{
    for (uint32_t attempt = 0; attempt < BENCH_LOOP_MAX; attempt++) {
        if (bench_try_append(partition, timestamp_ns) == 0) {
            return;
        }
        assert(partition_flush(partition) == 0);
        io_run(bench.io, 1000000);
    }
    assert_msg(false, "append refused");
}

/*
 * The single-partition loop: one batch per flush (the write size the raw runs use). The
 * next batch is prepared and appended while the previous flush is in flight, then flushed
 * as soon as the log lane is free, as a loop pass of a busy shard would.
 */
static void bench_single_loop(struct partition *partition, uint64_t batches, uint64_t start_ns)
{
    uint64_t appended = 0;
    for (uint64_t guard = 0; guard < BENCH_LOOP_MAX && bench.op_durable < batches; guard++) {
        uint32_t size = (uint32_t)(VSR_HEADER_SIZE + bench.body_size_bytes);
        if (appended < batches && !partition_has_unflushed(partition) &&
            partition_can_append(partition, size)) {
            assert(bench_try_append(partition, start_ns + appended) == 0);
            appended++;
            assert(partition_flush(partition) == 0);
            io_run(bench.io, 0); /* submit the flush before preparing the next batch */
            continue;
        }
        if (appended < batches && !partition_has_unflushed(partition) &&
            !partition_is_flushing(partition)) {
            /* A full segment: the append asks for the rotation, the flush starts it. */
            assert(bench_try_append(partition, start_ns + appended) == -RUNNEL_EFULL);
            assert(partition_flush(partition) == 0);
        }
        io_run(bench.io, 1000000);
        io_run(bench.io, 0); /* submit what the callbacks queued before more CPU work */
    }
    assert(bench.durable_result == 0 && bench.op_durable == batches);
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
    assert(atomic_file_create_directory(bench.io, directory) == 0);
    assert(partition_init(&partition, &options) == 0);
    assert(partition_open(&partition, bench.io) == 0);
    uint64_t batches = bench.options.size_bytes / bench.body_size_bytes;
    bench.op_durable = 0;
    uint64_t allocations = bench_allocation_count;
    uint64_t start = clock_monotonic_ns(&bench.clock);
    bench_single_loop(&partition, batches, start);
    double seconds = bench_seconds_since(start);
    result_out->allocation_count = bench_allocation_count - allocations;
    result_out->append_mb_per_second = (double)(batches * bench.body_size_bytes) / seconds / 1e6;
    result_out->segment_count = partition.segment_count;
    partition_close(&partition);
    uint64_t recovery_start = clock_monotonic_ns(&bench.clock);
    assert(partition_open(&partition, bench.io) == 0);
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
        assert(atomic_file_create_directory(bench.io, directories[index]) == 0);
        assert(partition_init(&partitions[index], &options) == 0);
        assert(partition_open(&partitions[index], bench.io) == 0);
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
        for (uint32_t round = 0; round < BENCH_LOOP_MAX && io_pending_count(bench.io) > 0;
             round++) {
            io_run(bench.io, 1000000);
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

static int bench_parse_value(struct bench_options *options, const char *name, const char *value)
{
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
    } else if (strcmp(name, "--rounds") == 0) {
        options->rounds = (uint32_t)strtoul(value, NULL, 10);
    } else if (strcmp(name, "--backend") == 0) {
        options->backend_blocking = strcmp(value, "blocking") == 0;
        return strcmp(value, "blocking") == 0 || strcmp(value, "uring") == 0 ? 0 : -1;
    } else if (strcmp(name, "--recovery-write") == 0) {
        options->recovery_write_gib = strtoull(value, NULL, 10);
    } else if (strcmp(name, "--recovery-open") == 0) {
        options->recovery_open = true;
        options->recovery_remove = strcmp(value, "remove") == 0;
    } else {
        return -1;
    }
    return 0;
}

static int bench_parse(int argc, char **argv, struct bench_options *options)
{
    options->directory = "./bench-data";
    options->size_bytes = 2ull << 30;
    options->multi_size_bytes = 64ull << 20;
    options->partitions = 1000;
    options->preallocate_bytes = 64ull << 20;
    options->rounds = 3;
    for (int index = 1; index + 1 < argc; index += 2) {
        if (bench_parse_value(options, argv[index], argv[index + 1]) != 0) {
            return -1;
        }
    }
    if ((argc - 1) % 2 != 0 || options->size_bytes < (8ull << 20) || options->partitions == 0 ||
        options->rounds == 0 || options->rounds > BENCH_ROUNDS_MAX) {
        return -1;
    }
    return 0;
}

/* The io the runs use: the io_uring runtime unless --backend blocking or unavailable. */
static void bench_backend_init(void)
{
    io_blocking_init(&bench.blocking);
    bench.io = &bench.blocking.io;
    if (bench.options.backend_blocking) {
        return;
    }
    struct runtime_uring_options options;
    runtime_uring_options_default(&options);
    options.sq_entries = 4096;
    options.cq_entries = 8192;
    options.recv_buffer_count = 0;
    options.fixed_buffer_size_bytes = 0;
    options.io_files_max = 2 * bench.options.partitions + 16;
    options.iowq_workers_max = 4; /* a log sync and an index sync may be in flight at once */
    char text[256];
    if (runtime_uring_create(&options, &bench.uring, text, sizeof(text)) != 0) {
        fprintf(stderr, "runnel-storage-bench: ring unavailable (%s): blocking backend\n", text);
        bench.uring = NULL;
        return;
    }
    bench.io = runtime_uring_io(bench.uring);
}

static double bench_median(double *values, uint32_t count)
{
    assert(count > 0 && count <= BENCH_ROUNDS_MAX);
    for (uint32_t index = 1; index < count; index++) {
        for (uint32_t at = index; at > 0 && values[at - 1] > values[at]; at--) {
            double swap = values[at];
            values[at] = values[at - 1];
            values[at - 1] = swap;
        }
    }
    return count % 2 == 1 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

/* Writes a partition of recovery_write_gib GiB in 1 GiB segments and leaves it. */
static void bench_recovery_write(const char *directory)
{
    static struct partition partition;
    struct partition_options options;
    bench_partition_options(&options, directory, 0, false, true);
    assert(atomic_file_create_directory(bench.io, directory) == 0);
    assert(partition_init(&partition, &options) == 0);
    assert(partition_open(&partition, bench.io) == 0);
    uint64_t batches = (bench.options.recovery_write_gib << 30) / bench.body_size_bytes;
    bench.op_durable = 0;
    uint64_t start = clock_monotonic_ns(&bench.clock);
    bench_single_loop(&partition, batches, start);
    printf("recovery_written_gib=%" PRIu64 " segments=%u ops=%" PRIu64 " seconds=%.1f\n",
           bench.options.recovery_write_gib, partition.segment_count, batches,
           bench_seconds_since(start));
    partition_close(&partition);
    partition_deinit(&partition);
}

/* Times partition_open of the partition bench_recovery_write left (optionally removes it). */
static void bench_recovery_open(const char *directory)
{
    static struct partition partition;
    struct partition_options options;
    bench_partition_options(&options, directory, 0, false, true);
    assert(partition_init(&partition, &options) == 0);
    uint64_t start = clock_monotonic_ns(&bench.clock);
    int result = partition_open(&partition, bench.io);
    double milliseconds = bench_seconds_since(start) * 1e3;
    assert_msg(result == 0, "recovery: partition_open failed");
    printf("recovery_open_ms=%.1f segments=%u op_last=%" PRIu64 " faulty=%u\n", milliseconds,
           partition.segment_count, partition.op_last, partition_faulty_count(&partition));
    partition_close(&partition);
    partition_deinit(&partition);
    if (bench.options.recovery_remove) {
        bench_remove_directory(directory);
    }
}

struct bench_round {
    double raw_sync[2]; /* [0] the backend's, [1] plain blocking system calls */
    double raw[2];
    struct bench_single_result fsync;
    struct bench_single_result replicated;
};

/* One round: raw runs right before the append run they are compared with. */
static void bench_round_run(struct bench_round *round, uint32_t number)
{
    uint64_t size = bench.options.size_bytes;
    round->raw_sync[0] = bench_raw(bench.io, size, true);
    round->raw_sync[1] = bench.io == &bench.blocking.io ? round->raw_sync[0]
                                                        : bench_raw(&bench.blocking.io, size, true);
    bench_single(true, &round->fsync);
    round->raw[0] = bench_raw(bench.io, size, false);
    round->raw[1] =
        bench.io == &bench.blocking.io ? round->raw[0] : bench_raw(&bench.blocking.io, size, false);
    bench_single(false, &round->replicated);
    printf("round=%u raw_direct_fdatasync_mb_s=%.1f/%.1f append_fsync_mb_s=%.1f"
           " raw_direct_mb_s=%.1f/%.1f append_replicated_mb_s=%.1f segments=%u"
           " recovery_ms=%.1f/%.1f steady_allocations=%" PRIu64 "/%" PRIu64 "%s\n",
           number, round->raw_sync[0], round->raw_sync[1], round->fsync.append_mb_per_second,
           round->raw[0], round->raw[1], round->replicated.append_mb_per_second,
           round->fsync.segment_count, round->fsync.recovery_ms, round->replicated.recovery_ms,
           round->fsync.allocation_count, round->replicated.allocation_count,
           BENCH_COUNTS_ALLOCATIONS ? "" : " (not counted under ASan)");
    fflush(stdout);
}

static void bench_rounds(void)
{
    static struct bench_round rounds[BENCH_ROUNDS_MAX];
    uint32_t count = bench.options.rounds;
    double raw_sync[BENCH_ROUNDS_MAX];
    double raw[BENCH_ROUNDS_MAX];
    double append_fsync[BENCH_ROUNDS_MAX];
    double append_replicated[BENCH_ROUNDS_MAX];
    double ratio_fsync[BENCH_ROUNDS_MAX];
    double ratio_replicated[BENCH_ROUNDS_MAX];
    for (uint32_t index = 0; index < count; index++) {
        struct bench_round *round = &rounds[index];
        bench_round_run(round, index + 1);
        /* The denominator is the faster raw figure of the two backends. */
        raw_sync[index] =
            round->raw_sync[0] > round->raw_sync[1] ? round->raw_sync[0] : round->raw_sync[1];
        raw[index] = round->raw[0] > round->raw[1] ? round->raw[0] : round->raw[1];
        append_fsync[index] = round->fsync.append_mb_per_second;
        append_replicated[index] = round->replicated.append_mb_per_second;
        ratio_fsync[index] = append_fsync[index] / raw_sync[index];
        ratio_replicated[index] = append_replicated[index] / raw[index];
    }
    double median_raw_sync = bench_median(raw_sync, count);
    double median_raw = bench_median(raw, count);
    double median_fsync = bench_median(append_fsync, count);
    double median_replicated = bench_median(append_replicated, count);
    printf("median raw_direct_fdatasync_mb_s=%.1f append_fsync_mb_s=%.1f raw_direct_mb_s=%.1f"
           " append_replicated_mb_s=%.1f rounds=%u\n",
           median_raw_sync, median_fsync, median_raw, median_replicated, count);
    bench_batch_build(BENCH_MESSAGES_SMALL);
    double multi_fsync = bench_multi(true);
    printf("partitions=%u batch_messages=%u multi_fsync_mb_s=%.1f\n", bench.options.partitions,
           BENCH_MESSAGES_SMALL, multi_fsync);
    fflush(stdout);
    double multi_replicated = bench_multi(false);
    printf("partitions=%u batch_messages=%u multi_replicated_mb_s=%.1f\n", bench.options.partitions,
           BENCH_MESSAGES_SMALL, multi_replicated);
    /* Each round's append run against the raw run measured right before it: the device's
     * speed drifts between rounds on a shared VM, so the ratio is taken per round. */
    printf("ratio_fsync=%.3f ratio_replicated=%.3f\n", bench_median(ratio_fsync, count),
           bench_median(ratio_replicated, count));
}

int main(int argc, char **argv)
{
    if (bench_parse(argc, argv, &bench.options) != 0) {
        fprintf(stderr, "usage: runnel-storage-bench [--dir DIR] [--size-bytes N (>= 8 MiB)]"
                        " [--multi-size-bytes N] [--partitions N] [--preallocate-bytes N]"
                        " [--rounds N (1..15)] [--backend uring|blocking]"
                        " [--recovery-write GIB | --recovery-open keep|remove]\n");
        return 2;
    }
    log_level_set(LOG_LEVEL_WARN);
    clock_system_init(&bench.clock);
    bench_backend_init();
    int made = atomic_file_create_directory(bench.io, bench.options.directory);
    assert_msg(made == 0 || made == -EEXIST, "cannot create --dir");
    if (!io_probe_direct(bench.io, bench.options.directory)) {
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
    bench.write_size_bytes = write_size;
    char recovery_directory[IO_PATH_SIZE_MAX];
    snprintf(recovery_directory, sizeof(recovery_directory), "%s/partition-recovery",
             bench.options.directory);
    if (bench.options.recovery_write_gib > 0) {
        bench_recovery_write(recovery_directory);
    } else if (bench.options.recovery_open) {
        bench_recovery_open(recovery_directory);
    } else {
        printf("backend=%s batch_bytes=%" PRIu64 " write_bytes=%" PRIu64 " size_bytes=%" PRIu64
               " preallocate_bytes=%" PRIu64 "\n",
               bench.uring != NULL ? "uring" : "blocking", bench.body_size_bytes, write_size,
               bench.options.size_bytes, bench.options.preallocate_bytes);
        fflush(stdout);
        bench_rounds();
    }
    free(bench.body);
    if (bench.uring != NULL) {
        runtime_uring_destroy(bench.uring);
    }
    io_blocking_deinit(&bench.blocking);
    return 0;
}
