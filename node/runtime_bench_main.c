/*
 * runnel-runtime-bench: microbenchmarks of the shard runtime (issue 5), figures only.
 *   1. cross-shard round trip: two rings on two threads ping-pong through the SPSC matrix
 *      with MSG_RING doorbells, each side sleeping in io_uring_enter between messages;
 *   2. one TCP connection over loopback into the runtime (multishot recv, reassembly,
 *      echo handler) against a plain blocking receiver thread, in the same run;
 *   3. O_DIRECT file writes through the ring (WRITE_FIXED, queue depth 4, one linked
 *      fdatasync) against plain pwrite + fdatasync, with the io-wq worker count seen;
 *   4. the memory cost of 1,000 idle connections (RSS delta and the configured cost).
 * The last line reads `tcp_ratio=R xshard_rtt_p50_us=U`.
 *
 *   runnel-runtime-bench [--quick] [--dir PATH]
 */
#include "lib/assert.h"
#include "lib/histogram.h"
#include "lib/io.h"
#include "lib/log.h"
#include "node/echo_handler.h"
#include "node/runtime_uring.h"
#include "node/shard.h"
#include "node/xshard.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    BENCH_FRAME_SIZE = 64 * 1024,
    BENCH_COMMAND_SINK = 5,
    BENCH_IDLE_CONNECTIONS = 1000,
};

static uint64_t bench_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* ---------------------------------------------------------------------------------------
 * 1. Cross-shard round trip. */

struct bench_side {
    struct xshard *xshard;
    pthread_barrier_t *barrier;
    uint32_t self;
    uint32_t rounds;
    uint32_t received;
    struct histogram *rtt_ns; /* side 0 only */
};

static void bench_count(const struct xshard_entry *entry, void *context)
{
    struct bench_side *side = context;
    (void)entry;
    side->received++;
}

static void bench_side_wait(struct bench_side *side, struct runtime_uring *uring, uint32_t want)
{
    for (uint32_t guard = 0; guard < 1000000 && side->received < want; guard++) {
        int result = runtime_uring_submit_and_wait(uring, 1000ull * 1000 * 1000);
        assert(result >= 0);
        runtime_uring_dispatch(uring);
        xshard_drain(side->xshard, side->self, 64, bench_count, side);
    }
    assert(side->received == want);
}

static void *bench_side_main(void *argument)
{
    struct bench_side *side = argument;
    struct runtime_uring_options options;
    runtime_uring_options_default(&options);
    options.recv_buffer_count = 0;
    options.fixed_buffer_size_bytes = 0;
    struct runtime_uring *uring = NULL;
    char text[256];
    int result = runtime_uring_create(&options, &uring, text, sizeof(text));
    assert_msg(result == 0, "ring set-up");
    xshard_ring_fd_set(side->xshard, side->self, runtime_uring_ring_fd(uring));
    pthread_barrier_wait(side->barrier);
    struct xshard_entry entry = {0};
    for (uint32_t round = 0; round < side->rounds; round++) {
        uint64_t start_ns = bench_now_ns();
        if (side->self == 1) {
            bench_side_wait(side, uring, round + 1);
        }
        result = xshard_push(side->xshard, side->self, 1 - side->self, XSHARD_CLASS_CLIENT, &entry);
        assert(result == 0);
        xshard_flush(side->xshard, side->self, uring);
        if (side->self == 0) {
            bench_side_wait(side, uring, round + 1); /* submits the doorbell, then sleeps */
            histogram_record(side->rtt_ns, bench_now_ns() - start_ns);
        } else {
            result = runtime_uring_submit_and_wait(uring, 0);
            assert(result >= 0);
        }
    }
    pthread_barrier_wait(side->barrier);
    runtime_uring_destroy(uring);
    return NULL;
}

static double bench_xshard(uint32_t rounds)
{
    static struct histogram rtt_ns;
    histogram_init(&rtt_ns);
    struct xshard xshard;
    int result = xshard_init(&xshard, 2, 64);
    assert(result == 0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct bench_side sides[2] = {{&xshard, &barrier, 0, rounds, 0, &rtt_ns},
                                  {&xshard, &barrier, 1, rounds, 0, NULL}};
    pthread_t threads[2];
    for (uint32_t index = 0; index < 2; index++) {
        result = pthread_create(&threads[index], NULL, bench_side_main, &sides[index]);
        assert(result == 0);
    }
    for (uint32_t index = 0; index < 2; index++) {
        pthread_join(threads[index], NULL);
    }
    pthread_barrier_destroy(&barrier);
    xshard_deinit(&xshard);
    double p50_us = (double)histogram_percentile(&rtt_ns, 50) / 1000.0;
    printf("xshard_rtt rounds=%u p50_us=%.1f p99_us=%.1f max_us=%.1f\n", rounds, p50_us,
           (double)histogram_percentile(&rtt_ns, 99) / 1000.0,
           (double)histogram_max(&rtt_ns) / 1000.0);
    return p50_us;
}

/* ---------------------------------------------------------------------------------------
 * 2. TCP throughput: one connection, the runtime against a plain blocking receiver. */

static int bench_connect(uint32_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert(fd >= 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int result = connect(fd, (struct sockaddr *)&address, sizeof(address));
    assert_msg(result == 0, "connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void bench_frame_header(uint8_t *frame, uint32_t size, uint8_t command)
{
    memset(frame, 0, 256);
    memcpy(frame + 48, &size, sizeof(size));
    frame[88] = command;
}

/* Sends frame_count sink frames and a ping, waits for the pong; returns bytes per second. */
static double bench_tcp_send(uint32_t port, uint32_t frame_count)
{
    static uint8_t frame[BENCH_FRAME_SIZE];
    int fd = bench_connect(port);
    bench_frame_header(frame, BENCH_FRAME_SIZE, BENCH_COMMAND_SINK);
    uint64_t start_ns = bench_now_ns();
    for (uint32_t index = 0; index < frame_count; index++) {
        ssize_t result = send(fd, frame, sizeof(frame), MSG_NOSIGNAL);
        assert_msg(result == (ssize_t)sizeof(frame), "send");
    }
    uint8_t ping[256];
    bench_frame_header(ping, 256, ECHO_HANDLER_COMMAND_PING);
    ssize_t result = send(fd, ping, sizeof(ping), MSG_NOSIGNAL);
    assert(result == 256);
    uint32_t received = 0;
    for (uint32_t guard = 0; guard < 1000 && received < 256; guard++) {
        result = recv(fd, ping + received, 256 - received, 0);
        assert_msg(result > 0, "pong");
        received += (uint32_t)result;
    }
    uint64_t elapsed_ns = bench_now_ns() - start_ns;
    close(fd);
    return (double)frame_count * BENCH_FRAME_SIZE * 1e9 / (double)elapsed_ns;
}

/* The plain receiver: blocking reads into one buffer, frames parsed by size, a pong for
 * the ping. */
static void *bench_plain_main(void *argument)
{
    int listener = *(int *)argument;
    int fd = accept(listener, NULL, NULL);
    assert(fd >= 0);
    static uint8_t buffer[256 * 1024];
    uint32_t used = 0;
    for (uint64_t guard = 0; guard < (1ull << 32); guard++) {
        ssize_t result = read(fd, buffer + used, sizeof(buffer) - used);
        assert(result > 0);
        used += (uint32_t)result;
        uint32_t offset = 0;
        for (uint32_t frames = 0; frames < 1024 && used - offset >= 256; frames++) {
            uint32_t size = 0;
            memcpy(&size, buffer + offset + 48, sizeof(size));
            if (used - offset < size) {
                break;
            }
            if (buffer[offset + 88] == ECHO_HANDLER_COMMAND_PING) {
                buffer[offset + 88] = ECHO_HANDLER_COMMAND_PONG;
                result = write(fd, buffer + offset, 256);
                assert(result == 256);
                close(fd);
                return NULL;
            }
            offset += size;
        }
        memmove(buffer, buffer + offset, used - offset);
        used -= offset;
    }
    unreachable_code();
    return NULL;
}

static double bench_tcp_plain(uint32_t frame_count)
{
    uint32_t port = 0;
    int listener = net_listener_open("127.0.0.1", 0, &port);
    assert(listener >= 0);
    pthread_t thread;
    int result = pthread_create(&thread, NULL, bench_plain_main, &listener);
    assert(result == 0);
    double rate = bench_tcp_send(port, frame_count);
    pthread_join(thread, NULL);
    close(listener);
    return rate;
}

static double bench_tcp(uint32_t frame_count)
{
    static struct echo_handler echo;
    static struct shard_set set;
    struct shard_set_options options;
    shard_set_options_default(&options);
    options.shard_count = 1;
    options.uring.recv_buffer_count = 256;
    options.uring.recv_buffer_size_bytes = 64 * 1024;
    options.net.frame_size_max = 1u << 20;
    echo_handler_init(&echo);
    char text[SHARD_ERROR_SIZE_MAX];
    int result = shard_set_start(&set, &options, &echo.handler, text, sizeof(text));
    assert_msg(result == 0, "shard start");
    double runtime_best = 0, plain_best = 0;
    for (uint32_t repeat = 0; repeat < 3; repeat++) {
        double runtime = bench_tcp_send(shard_set_port(&set, NET_PEER_CLIENT), frame_count);
        double plain = bench_tcp_plain(frame_count);
        runtime_best = runtime > runtime_best ? runtime : runtime_best;
        plain_best = plain > plain_best ? plain : plain_best;
    }
    shard_set_stop(&set);
    shard_set_join(&set);
    double ratio = runtime_best / plain_best;
    printf("tcp frames=%u frame_bytes=%u runtime_mib_s=%.0f plain_mib_s=%.0f ratio=%.3f\n",
           frame_count, BENCH_FRAME_SIZE, runtime_best / (1 << 20), plain_best / (1 << 20), ratio);
    return ratio;
}

/* ---------------------------------------------------------------------------------------
 * 3. File writes: the ring (O_DIRECT, WRITE_FIXED, depth 4, one fdatasync) against plain
 *    pwrite + fdatasync. */

struct bench_file {
    uint32_t done;
    uint32_t failed;
};

static void bench_file_callback(struct io_completion *completion)
{
    struct bench_file *file = completion->context;
    file->done++;
    file->failed += completion->result < 0 ? 1 : 0;
}

static uint32_t bench_iowq_workers(void)
{
    DIR *directory = opendir("/proc/self/task");
    uint32_t count = 0;
    for (uint32_t guard = 0; directory != NULL && guard < 100000; guard++) {
        struct dirent *entry = readdir(directory);
        if (entry == NULL) {
            break;
        }
        char path[300], name[64] = {0};
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", entry->d_name);
        FILE *comm = fopen(path, "r");
        if (comm != NULL) {
            count += fgets(name, sizeof(name), comm) != NULL && strncmp(name, "iou-wrk", 7) == 0;
            fclose(comm);
        }
    }
    if (directory != NULL) {
        closedir(directory);
    }
    return count;
}

static double bench_file_ring(const char *path, uint32_t chunk_count, uint32_t *workers_max)
{
    struct runtime_uring_options options;
    runtime_uring_options_default(&options);
    options.fixed_buffer_size_bytes = 4u << 20;
    options.recv_buffer_count = 0;
    struct runtime_uring *uring = NULL;
    char text[256];
    int result = runtime_uring_create(&options, &uring, text, sizeof(text));
    assert_msg(result == 0, "ring set-up");
    struct io *io = runtime_uring_io(uring);
    uint64_t fixed_size = 0;
    uint8_t *fixed = runtime_uring_fixed_buffer(uring, &fixed_size);
    memset(fixed, 0x5a, fixed_size);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
    assert_msg(fd >= 0, "O_DIRECT open");
    result = fallocate(fd, 0, 0, (off_t)chunk_count << 20);
    assert(result == 0);
    static struct io_completion writes[4], sync;
    struct bench_file file = {0};
    uint64_t start_ns = bench_now_ns();
    for (uint32_t submitted = 0; submitted < chunk_count || file.done < chunk_count;) {
        for (uint32_t slot = 0; slot < 4 && submitted < chunk_count; slot++) {
            if (writes[slot].operation != IO_OPERATION_NONE && !writes[slot].done) {
                continue; /* still in flight */
            }
            io_write(io, &writes[slot], fd, fixed + slot * (1u << 20), 1u << 20,
                     (uint64_t)submitted << 20, bench_file_callback, &file);
            submitted++;
        }
        io_run(io, 1000 * 1000);
        uint32_t workers = bench_iowq_workers();
        *workers_max = workers > *workers_max ? workers : *workers_max;
    }
    io_fdatasync(io, &sync, fd, bench_file_callback, &file);
    int64_t synced = io_wait(io, &sync, 1000);
    uint64_t elapsed_ns = bench_now_ns() - start_ns;
    assert(synced == 0 && file.failed == 0);
    close(fd);
    runtime_uring_destroy(uring);
    return (double)chunk_count * (1 << 20) * 1e9 / (double)elapsed_ns;
}

static double bench_file_plain(const char *path, uint32_t chunk_count)
{
    uint8_t *buffer = aligned_alloc(IO_SECTOR_SIZE, 1u << 20);
    assert(buffer != NULL);
    memset(buffer, 0x5a, 1u << 20);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
    assert_msg(fd >= 0, "O_DIRECT open");
    int result = fallocate(fd, 0, 0, (off_t)chunk_count << 20);
    assert(result == 0);
    uint64_t start_ns = bench_now_ns();
    for (uint32_t chunk = 0; chunk < chunk_count; chunk++) {
        ssize_t written = pwrite(fd, buffer, 1u << 20, (off_t)chunk << 20);
        assert(written == 1 << 20);
    }
    result = fdatasync(fd);
    assert(result == 0);
    uint64_t elapsed_ns = bench_now_ns() - start_ns;
    close(fd);
    free(buffer);
    return (double)chunk_count * (1 << 20) * 1e9 / (double)elapsed_ns;
}

static void bench_file(const char *directory, uint32_t chunk_count)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/runtime_bench_%d.dat", directory, (int)getpid());
    uint32_t workers_max = 0;
    double ring = bench_file_ring(path, chunk_count, &workers_max);
    double plain = bench_file_plain(path, chunk_count);
    unlink(path);
    printf("file_write mib=%u chunk_kib=1024 ring_mib_s=%.0f plain_mib_s=%.0f "
           "iowq_workers_max=%u\n",
           chunk_count, ring / (1 << 20), plain / (1 << 20), workers_max);
}

/* ---------------------------------------------------------------------------------------
 * 4. Idle connections. */

static uint64_t bench_rss_bytes(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t rss_kib = 0;
    for (uint32_t guard = 0; status != NULL && guard < 1000; guard++) {
        if (fgets(line, sizeof(line), status) == NULL) {
            break;
        }
        if (sscanf(line, "VmRSS: %lu kB", &rss_kib) == 1) {
            break;
        }
    }
    if (status != NULL) {
        fclose(status);
    }
    return rss_kib * 1024;
}

static void bench_idle(void)
{
    static struct echo_handler echo;
    static struct shard_set set;
    static int fds[BENCH_IDLE_CONNECTIONS];
    struct shard_set_options options;
    shard_set_options_default(&options);
    options.connections_max = 2 * BENCH_IDLE_CONNECTIONS;
    echo_handler_init(&echo);
    char text[SHARD_ERROR_SIZE_MAX];
    int result = shard_set_start(&set, &options, &echo.handler, text, sizeof(text));
    assert_msg(result == 0, "shard start");
    usleep(50 * 1000);
    uint64_t rss_before = bench_rss_bytes();
    for (uint32_t index = 0; index < BENCH_IDLE_CONNECTIONS; index++) {
        fds[index] = bench_connect(shard_set_port(&set, NET_PEER_CLIENT));
    }
    usleep(200 * 1000); /* adopted by the shards */
    uint64_t rss_after = bench_rss_bytes();
    uint32_t open = 0;
    for (uint32_t index = 0; index < set.shard_count; index++) {
        open += net_connections_open(&set.shards[index].net);
    }
    for (uint32_t index = 0; index < BENCH_IDLE_CONNECTIONS; index++) {
        close(fds[index]);
    }
    shard_set_stop(&set);
    shard_set_join(&set);
    printf("idle_connections=%u open=%u rss_delta_per_connection_bytes=%llu "
           "reserved_per_connection_bytes=%llu\n",
           BENCH_IDLE_CONNECTIONS, open,
           (unsigned long long)((rss_after - rss_before) / BENCH_IDLE_CONNECTIONS),
           (unsigned long long)net_connection_cost_bytes(&options.net));
}

int main(int argc, char **argv)
{
    bool is_quick = false;
    const char *directory = ".";
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "--quick") == 0) {
            is_quick = true;
        } else if (strcmp(argv[index], "--dir") == 0 && index + 1 < argc) {
            directory = argv[++index];
        } else {
            fprintf(stderr, "usage: runnel-runtime-bench [--quick] [--dir PATH]\n");
            return 2;
        }
    }
    log_level_set(LOG_LEVEL_WARN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char text[256];
    if (runtime_uring_check_environment(8u << 20, text, sizeof(text)) != 0) {
        fprintf(stderr, "runnel-runtime-bench: %s\n", text);
        return 77;
    }
    double rtt_p50_us = bench_xshard(is_quick ? 2000 : 20000);
    double ratio = bench_tcp(is_quick ? 512 : 4096);
    bench_file(directory, is_quick ? 16 : 128);
    bench_idle();
    printf("tcp_ratio=%.3f xshard_rtt_p50_us=%.1f\n", ratio, rtt_p50_us);
    return 0;
}
