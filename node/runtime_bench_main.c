/*
 * runnel-runtime-bench: microbenchmarks of the shard runtime (issue 5), figures only.
 *   1. cross-shard round trip: two rings on two threads ping-pong through the SPSC matrix
 *      with MSG_RING doorbells, each side sleeping in io_uring_enter between messages;
 *   2. one TCP connection over loopback into the runtime (multishot recv, reassembly,
 *      echo handler) against a plain blocking receiver thread, in the same run;
 *   3. O_DIRECT file writes through the ring (WRITE_FIXED, queue depth 4, one linked
 *      fdatasync) against plain pwrite + fdatasync, with the io-wq worker count seen;
 *   4. the memory cost of 1,000 idle connections (RSS delta and the configured cost);
 *   5. replies sent by the runtime (4 KiB, 64 KiB, 1 MiB) to a plain client over loopback:
 *      plain send against zero-copy send (SEND_ZC), interleaved in the same run.
 * The last line reads `tcp_ratio=R xshard_rtt_p50_us=U`.
 *
 *   runnel-runtime-bench [--quick] [--tcp-only] [--send-only] [--dir PATH]
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
#include <sched.h>
#include <stdatomic.h>
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
    BENCH_PLAIN_BUFFER_SIZE = 4 * BENCH_FRAME_SIZE,
    BENCH_TCP_PAIRS_MAX = 32,
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
 * io-wq workers under load: a sampler thread counts this process's `iou-wrk-*` threads
 * (/proc/self/task/N/comm) every few milliseconds and keeps the maximum per phase. */

enum {
    BENCH_PHASE_IDLE = 0,
    BENCH_PHASE_TCP,
    BENCH_PHASE_FILE,
    BENCH_PHASE_SEND,
    BENCH_PHASE_COUNT
};

struct bench_sampler {
    pthread_t thread;
    atomic_uint phase;
    atomic_bool is_stopping;
    atomic_uint workers_max[BENCH_PHASE_COUNT];
    atomic_uint threads_max[BENCH_PHASE_COUNT];
};

static void bench_threads_count(uint32_t *workers_out, uint32_t *threads_out)
{
    DIR *directory = opendir("/proc/self/task");
    uint32_t workers = 0, threads = 0;
    for (uint32_t guard = 0; directory != NULL && guard < 100000; guard++) {
        struct dirent *entry = readdir(directory);
        if (entry == NULL) {
            break;
        }
        if (entry->d_name[0] == '.') {
            continue;
        }
        char path[300], name[64] = {0};
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", entry->d_name);
        FILE *comm = fopen(path, "r");
        if (comm != NULL) {
            threads++;
            workers += fgets(name, sizeof(name), comm) != NULL && strncmp(name, "iou-wrk", 7) == 0;
            fclose(comm);
        }
    }
    if (directory != NULL) {
        closedir(directory);
    }
    *workers_out = workers;
    *threads_out = threads;
}

static void bench_atomic_max(atomic_uint *slot, uint32_t value)
{
    uint32_t seen = atomic_load(slot);
    for (uint32_t guard = 0; guard < 64 && value > seen; guard++) {
        if (atomic_compare_exchange_weak(slot, &seen, value)) {
            break;
        }
    }
}

static void *bench_sampler_main(void *argument)
{
    struct bench_sampler *sampler = argument;
    for (uint64_t guard = 0; guard < (1ull << 40) && !atomic_load(&sampler->is_stopping); guard++) {
        uint32_t workers = 0, threads = 0;
        bench_threads_count(&workers, &threads);
        uint32_t phase = atomic_load(&sampler->phase);
        bench_atomic_max(&sampler->workers_max[phase], workers);
        bench_atomic_max(&sampler->threads_max[phase], threads);
        usleep(5 * 1000);
    }
    return NULL;
}

static struct bench_sampler bench_sampler;

/* ---------------------------------------------------------------------------------------
 * 2. TCP throughput: one connection into the runtime against a plain blocking receiver.
 *
 * Fair by construction: the same sending code, frame size and byte count; both receivers
 * pinned to the same CPU and the sender to the other one; both receivers parse every
 * frame from its 256-byte header (size at 48, validated against the same maximum) and
 * see each frame contiguous in memory (the runtime hands whole frames to its handler; the
 * plain receiver reads into one buffer and moves a partial frame to its front). Runs
 * alternate runtime/plain (the order flips every pair) and the median of the per-pair
 * ratios is reported, so drifting load on the shared VM hits both sides alike. */

static void bench_cpus(int32_t *receiver_cpu, int32_t *sender_cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    int32_t cpus[2] = {-1, -1};
    uint32_t count = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int32_t cpu = 0; cpu < CPU_SETSIZE && count < 2; cpu++) {
            if (CPU_ISSET((size_t)cpu, &set)) {
                cpus[count++] = cpu;
            }
        }
    }
    *receiver_cpu = cpus[0]; /* shard 0 of a pinned set lands on the first CPU too */
    *sender_cpu = count > 1 ? cpus[1] : cpus[0];
}

static void bench_pin_self(int32_t cpu)
{
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((size_t)cpu, &set);
    int result = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    assert_msg(result == 0, "pin");
}

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

/* A blocking send may return short (a signal, e.g. task work notification); finish it. */
static void bench_send_all(int fd, const uint8_t *bytes, uint32_t size)
{
    uint32_t sent = 0;
    for (uint32_t guard = 0; guard < 1000000 && sent < size; guard++) {
        ssize_t result = send(fd, bytes + sent, size - sent, MSG_NOSIGNAL);
        if (result < 0 && errno == EINTR) {
            continue;
        }
        assert_msg(result > 0, "send");
        sent += (uint32_t)result;
    }
    assert(sent == size);
}

/* Sends frame_count sink frames and a ping, waits for the pong; returns bytes per second. */
static double bench_tcp_send(uint32_t port, uint32_t frame_count)
{
    static uint8_t frame[BENCH_FRAME_SIZE];
    int fd = bench_connect(port);
    bench_frame_header(frame, BENCH_FRAME_SIZE, BENCH_COMMAND_SINK);
    uint64_t start_ns = bench_now_ns();
    for (uint32_t index = 0; index < frame_count; index++) {
        bench_send_all(fd, frame, sizeof(frame));
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
    assert(ping[88] == ECHO_HANDLER_COMMAND_PONG);
    close(fd);
    return (double)frame_count * BENCH_FRAME_SIZE * 1e9 / (double)elapsed_ns;
}

struct bench_plain {
    int listener;
    int32_t cpu;
    uint32_t frame_size_max;
    uint64_t frames;
    uint64_t cpu_ns; /* the receiver thread's CPU time, accept to close */
};

static uint64_t bench_cpu_ns(clockid_t clock)
{
    struct timespec now;
    int result = clock_gettime(clock, &now);
    assert(result == 0);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* The plain receiver: blocking reads into one buffer; every frame's header parsed and its
 * size validated like the runtime does; a partial frame moved to the buffer's front so
 * each frame is contiguous; a pong for the ping. */
static void *bench_plain_main(void *argument)
{
    struct bench_plain *plain = argument;
    bench_pin_self(plain->cpu);
    (void)pthread_setname_np(pthread_self(), "bench-plain");
    int fd = accept(plain->listener, NULL, NULL);
    assert(fd >= 0);
    uint64_t start_ns = bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    static uint8_t buffer[BENCH_PLAIN_BUFFER_SIZE];
    uint32_t used = 0;
    for (uint64_t guard = 0; guard < (1ull << 32); guard++) {
        ssize_t result = read(fd, buffer + used, sizeof(buffer) - used);
        assert(result > 0);
        used += (uint32_t)result;
        uint32_t offset = 0;
        for (uint32_t frames = 0; frames < 1024 && used - offset >= 256; frames++) {
            uint32_t size = 0;
            memcpy(&size, buffer + offset + 48, sizeof(size));
            assert_msg(size >= 256 && size <= plain->frame_size_max, "bad frame");
            if (used - offset < size) {
                break;
            }
            plain->frames++;
            if (buffer[offset + 88] == ECHO_HANDLER_COMMAND_PING) {
                buffer[offset + 88] = ECHO_HANDLER_COMMAND_PONG;
                result = write(fd, buffer + offset, 256);
                assert(result == 256);
                close(fd);
                plain->cpu_ns = bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID) - start_ns;
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

static double bench_tcp_plain(uint32_t frame_count, int32_t cpu, uint32_t frame_size_max,
                              double *cpu_ns_per_mib)
{
    uint32_t port = 0;
    struct bench_plain plain = {.cpu = cpu, .frame_size_max = frame_size_max};
    plain.listener = net_listener_open("127.0.0.1", 0, &port);
    assert(plain.listener >= 0);
    pthread_t thread;
    int result = pthread_create(&thread, NULL, bench_plain_main, &plain);
    assert(result == 0);
    double rate = bench_tcp_send(port, frame_count);
    pthread_join(thread, NULL);
    close(plain.listener);
    assert(plain.frames == frame_count + 1);
    *cpu_ns_per_mib = (double)plain.cpu_ns / ((double)frame_count * BENCH_FRAME_SIZE / (1 << 20));
    return rate;
}

/* One run into the runtime, with the shard thread's CPU time per MiB. */
static double bench_tcp_runtime(uint32_t port, uint32_t frame_count, clockid_t shard_clock,
                                double *cpu_ns_per_mib)
{
    uint64_t start_ns = bench_cpu_ns(shard_clock);
    double rate = bench_tcp_send(port, frame_count);
    uint64_t cpu_ns = bench_cpu_ns(shard_clock) - start_ns;
    *cpu_ns_per_mib = (double)cpu_ns / ((double)frame_count * BENCH_FRAME_SIZE / (1 << 20));
    return rate;
}

static int bench_double_compare(const void *left, const void *right)
{
    double a = *(const double *)left, b = *(const double *)right;
    return (a > b) - (a < b);
}

static double bench_median(const double *values, uint32_t count)
{
    double sorted[BENCH_TCP_PAIRS_MAX];
    assert(count > 0 && count <= BENCH_TCP_PAIRS_MAX);
    memcpy(sorted, values, count * sizeof(sorted[0]));
    qsort(sorted, count, sizeof(sorted[0]), bench_double_compare);
    return count % 2 == 1 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

static double bench_extreme(const double *values, uint32_t count, bool is_max)
{
    assert(count > 0);
    double extreme = values[0];
    for (uint32_t index = 1; index < count; index++) {
        bool is_beyond = is_max ? values[index] > extreme : values[index] < extreme;
        extreme = is_beyond ? values[index] : extreme;
    }
    return extreme;
}

static double bench_tcp(uint32_t frame_count, uint32_t pairs)
{
    static struct echo_handler echo;
    static struct shard_set set;
    assert(pairs > 0 && pairs <= BENCH_TCP_PAIRS_MAX);
    int32_t receiver_cpu = -1, sender_cpu = -1;
    bench_cpus(&receiver_cpu, &sender_cpu);
    struct shard_set_options options;
    shard_set_options_default(&options);
    options.shard_count = 1;
    options.is_pinned = receiver_cpu >= 0;
    options.uring.recv_buffer_count = 256; /* runneld's defaults */
    options.uring.recv_buffer_size_bytes = 64 * 1024;
    options.net.frame_size_max = 1u << 20;
    echo_handler_init(&echo);
    char text[SHARD_ERROR_SIZE_MAX];
    int result = shard_set_start(&set, &options, &echo.handler, text, sizeof(text));
    assert_msg(result == 0, "shard start");
    cpu_set_t saved;
    result = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved);
    assert(result == 0);
    bench_pin_self(sender_cpu);
    atomic_store(&bench_sampler.phase, BENCH_PHASE_TCP);
    double runtime[BENCH_TCP_PAIRS_MAX], plain[BENCH_TCP_PAIRS_MAX], ratio[BENCH_TCP_PAIRS_MAX];
    double runtime_cpu[BENCH_TCP_PAIRS_MAX], plain_cpu[BENCH_TCP_PAIRS_MAX];
    uint32_t port = shard_set_port(&set, NET_PEER_CLIENT);
    clockid_t shard_clock;
    result = pthread_getcpuclockid(set.shards[0].thread, &shard_clock);
    assert(result == 0);
    uint32_t frame_size_max = options.net.frame_size_max;
    for (uint32_t pair = 0; pair < pairs; pair++) {
        if (pair % 2 == 0) {
            runtime[pair] = bench_tcp_runtime(port, frame_count, shard_clock, &runtime_cpu[pair]);
            plain[pair] =
                bench_tcp_plain(frame_count, receiver_cpu, frame_size_max, &plain_cpu[pair]);
        } else {
            plain[pair] =
                bench_tcp_plain(frame_count, receiver_cpu, frame_size_max, &plain_cpu[pair]);
            runtime[pair] = bench_tcp_runtime(port, frame_count, shard_clock, &runtime_cpu[pair]);
        }
        ratio[pair] = runtime[pair] / plain[pair];
    }
    atomic_store(&bench_sampler.phase, BENCH_PHASE_IDLE);
    result = pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
    assert(result == 0);
    const struct net_counters *counters = &set.shards[0].net.counters;
    printf("tcp_runs");
    for (uint32_t pair = 0; pair < pairs; pair++) {
        printf(" %.0f/%.0f", runtime[pair] / (1 << 20), plain[pair] / (1 << 20));
    }
    printf(" (runtime/plain MiB/s)\n");
    printf("tcp_receiver_cpu runtime_us_per_mib_median=%.1f plain_us_per_mib_median=%.1f\n",
           bench_median(runtime_cpu, pairs) / 1000, bench_median(plain_cpu, pairs) / 1000);
    double ratio_median = bench_median(ratio, pairs);
    printf("tcp pairs=%u frames=%u frame_bytes=%u receiver_cpu=%d sender_cpu=%d "
           "runtime_mib_s_median=%.0f plain_mib_s_median=%.0f ratio_median=%.3f "
           "ratio_min=%.3f ratio_max=%.3f recv_rearmed=%llu iowq_workers_max=%u threads_max=%u\n",
           pairs, frame_count, BENCH_FRAME_SIZE, receiver_cpu, sender_cpu,
           bench_median(runtime, pairs) / (1 << 20), bench_median(plain, pairs) / (1 << 20),
           ratio_median, bench_extreme(ratio, pairs, false), bench_extreme(ratio, pairs, true),
           (unsigned long long)counters->recv_rearmed,
           atomic_load(&bench_sampler.workers_max[BENCH_PHASE_TCP]),
           atomic_load(&bench_sampler.threads_max[BENCH_PHASE_TCP]));
    shard_set_stop(&set);
    shard_set_join(&set);
    return ratio_median;
}

/* ---------------------------------------------------------------------------------------
 * 5. Replies: the runtime sends, a plain blocking client reads. The client asks for
 *    replies of one size with a window of requests outstanding (a new request per reply
 *    read); the handler copies each reply into the connection's output ring (as the
 *    broker does) and the pass sends what is queued in one SQE. Two one-shard sets run
 *    side by side, one with plain sends and one with every send zero-copy; runs alternate
 *    between them (the order flipping every pair) and the median of per-pair ratios is
 *    reported with the kernel's own count of zero-copy sends it copied anyway. */

enum {
    BENCH_COMMAND_FETCH = 6,
    BENCH_REPLY_SIZE_OFFSET = 92,
    BENCH_REPLY_MAX = 1 << 20,
    BENCH_WINDOW_MAX = 64,
};

struct bench_reply_handler {
    struct node_handler handler;
    uint8_t *reply; /* BENCH_REPLY_MAX bytes */
};

static int bench_reply_on_frame(struct node_handler *handler, struct net_connection *connection,
                                const uint8_t *frame, uint32_t size_bytes)
{
    struct bench_reply_handler *bench = handler->context;
    uint32_t size = 0;
    memcpy(&size, frame + BENCH_REPLY_SIZE_OFFSET, sizeof(size));
    assert_msg(size_bytes == 256 && frame[88] == BENCH_COMMAND_FETCH, "fetch request");
    assert_msg(size >= 256 && size <= BENCH_REPLY_MAX, "reply size");
    bench_frame_header(bench->reply, size, BENCH_COMMAND_FETCH);
    return net_connection_send(connection, bench->reply, size); /* full: offered again */
}

/* One run: count replies of reply_size, window outstanding; returns bytes per second. */
static double bench_reply_run(uint32_t port, uint32_t reply_size, uint32_t window, uint32_t count)
{
    static uint8_t requests[BENCH_WINDOW_MAX * 256], buffer[1 << 20];
    assert(window > 0 && window <= BENCH_WINDOW_MAX && count >= window);
    for (uint32_t index = 0; index < window; index++) {
        bench_frame_header(requests + index * 256, 256, BENCH_COMMAND_FETCH);
        memcpy(requests + index * 256 + BENCH_REPLY_SIZE_OFFSET, &reply_size, sizeof(reply_size));
    }
    int fd = bench_connect(port);
    uint64_t goal = (uint64_t)count * reply_size, received = 0;
    uint64_t start_ns = bench_now_ns();
    bench_send_all(fd, requests, window * 256);
    uint32_t requested = window;
    for (uint64_t guard = 0; guard < (1ull << 32) && received < goal; guard++) {
        ssize_t result = recv(fd, buffer, sizeof(buffer), 0);
        if (result < 0 && errno == EINTR) {
            continue;
        }
        assert_msg(result > 0, "reply");
        uint64_t done_before = received / reply_size;
        received += (uint64_t)result;
        uint64_t more = received / reply_size - done_before;
        uint32_t asks = more < count - requested ? (uint32_t)more : count - requested;
        if (asks > 0) {
            bench_send_all(fd, requests, asks * 256);
            requested += asks;
        }
    }
    uint64_t elapsed_ns = bench_now_ns() - start_ns;
    assert(received == goal);
    close(fd);
    return (double)goal * 1e9 / (double)elapsed_ns;
}

struct bench_reply_case {
    uint32_t reply_size;
    uint32_t window;
};

static void bench_reply_case(struct shard_set *sets, const struct bench_reply_case *bench_case,
                             uint64_t bytes, uint32_t pairs)
{
    double copy[BENCH_TCP_PAIRS_MAX], zc[BENCH_TCP_PAIRS_MAX], ratio[BENCH_TCP_PAIRS_MAX];
    uint32_t count = (uint32_t)(bytes / bench_case->reply_size);
    uint32_t ports[2] = {shard_set_port(&sets[0], NET_PEER_CLIENT),
                         shard_set_port(&sets[1], NET_PEER_CLIENT)};
    for (uint32_t pair = 0; pair < pairs; pair++) {
        for (uint32_t step = 0; step < 2; step++) {
            uint32_t which = (step + pair) % 2; /* 0: copy, 1: zero-copy */
            double rate =
                bench_reply_run(ports[which], bench_case->reply_size, bench_case->window, count);
            *(which == 0 ? &copy[pair] : &zc[pair]) = rate;
        }
        ratio[pair] = zc[pair] / copy[pair];
    }
    printf("send reply_bytes=%u window=%u pairs=%u copy_mib_s_median=%.0f zc_mib_s_median=%.0f "
           "zc_ratio_median=%.3f zc_ratio_min=%.3f zc_ratio_max=%.3f\n",
           bench_case->reply_size, bench_case->window, pairs, bench_median(copy, pairs) / (1 << 20),
           bench_median(zc, pairs) / (1 << 20), bench_median(ratio, pairs),
           bench_extreme(ratio, pairs, false), bench_extreme(ratio, pairs, true));
}

static void bench_replies(uint64_t bytes, uint32_t pairs)
{
    static struct bench_reply_handler handlers[2];
    static struct shard_set sets[2];
    int32_t shard_cpu = -1, client_cpu = -1;
    bench_cpus(&shard_cpu, &client_cpu);
    for (uint32_t which = 0; which < 2; which++) {
        struct shard_set_options options;
        shard_set_options_default(&options);
        options.shard_count = 1;
        options.is_pinned = shard_cpu >= 0;
        options.net.send_buffer_size_bytes = 4u << 20;
        options.net.send_zc_min_bytes = which == 1 ? 1 : 0;
        handlers[which].handler.on_frame = bench_reply_on_frame;
        handlers[which].handler.context = &handlers[which];
        handlers[which].reply = calloc(1, BENCH_REPLY_MAX);
        assert(handlers[which].reply != NULL);
        char text[SHARD_ERROR_SIZE_MAX];
        int result =
            shard_set_start(&sets[which], &options, &handlers[which].handler, text, sizeof(text));
        assert_msg(result == 0, "shard start");
    }
    cpu_set_t saved;
    int result = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved);
    assert(result == 0);
    bench_pin_self(client_cpu);
    atomic_store(&bench_sampler.phase, BENCH_PHASE_SEND);
    static const struct bench_reply_case cases[] = {{4096, 32}, {65536, 8}, {1u << 20, 2}};
    for (uint32_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        bench_reply_case(sets, &cases[index], bytes, pairs);
    }
    atomic_store(&bench_sampler.phase, BENCH_PHASE_IDLE);
    result = pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
    assert(result == 0);
    struct net_counters counters[2];
    for (uint32_t which = 0; which < 2; which++) {
        counters[which] = sets[which].shards[0].net.counters; /* read before join frees it */
        shard_set_stop(&sets[which]);
        shard_set_join(&sets[which]);
    }
    const struct net_counters *copy = &counters[0], *zc = &counters[1];
    printf("send_counters copy_sends=%llu copy_vectored=%llu zc_sends=%llu zc_vectored=%llu "
           "zc_copied_by_kernel=%llu iowq_workers_max=%u\n",
           (unsigned long long)copy->sends, (unsigned long long)copy->sends_vectored,
           (unsigned long long)zc->sends_zc, (unsigned long long)zc->sends_vectored,
           (unsigned long long)zc->sends_zc_copied,
           atomic_load(&bench_sampler.workers_max[BENCH_PHASE_SEND]));
    for (uint32_t which = 0; which < 2; which++) {
        free(handlers[which].reply);
    }
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

static double bench_file_ring(const char *path, uint32_t chunk_count)
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
    atomic_store(&bench_sampler.phase, BENCH_PHASE_FILE);
    double ring = bench_file_ring(path, chunk_count);
    atomic_store(&bench_sampler.phase, BENCH_PHASE_IDLE);
    double plain = bench_file_plain(path, chunk_count);
    unlink(path);
    printf("file_write mib=%u chunk_kib=1024 ring_mib_s=%.0f plain_mib_s=%.0f "
           "iowq_workers_max=%u\n",
           chunk_count, ring / (1 << 20), plain / (1 << 20),
           atomic_load(&bench_sampler.workers_max[BENCH_PHASE_FILE]));
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
    bool is_tcp_only = false;
    bool is_send_only = false;
    const char *directory = ".";
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "--quick") == 0) {
            is_quick = true;
        } else if (strcmp(argv[index], "--tcp-only") == 0) {
            is_tcp_only = true;
        } else if (strcmp(argv[index], "--send-only") == 0) {
            is_send_only = true;
        } else if (strcmp(argv[index], "--dir") == 0 && index + 1 < argc) {
            directory = argv[++index];
        } else {
            fprintf(stderr, "usage: runnel-runtime-bench [--quick] [--tcp-only] [--send-only] "
                            "[--dir PATH]\n");
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
    int result = pthread_create(&bench_sampler.thread, NULL, bench_sampler_main, &bench_sampler);
    assert(result == 0);
    bool is_all = !is_tcp_only && !is_send_only;
    double rtt_p50_us = is_all ? bench_xshard(is_quick ? 2000 : 20000) : 0;
    double ratio = is_send_only ? 0 : bench_tcp(is_quick ? 1024 : 4096, is_quick ? 5 : 9);
    if (is_all) {
        bench_file(directory, is_quick ? 16 : 128);
        bench_idle();
    }
    if (!is_tcp_only) {
        bench_replies(is_quick ? 32ull << 20 : 128ull << 20, is_quick ? 3 : 7);
    }
    atomic_store(&bench_sampler.is_stopping, true);
    pthread_join(bench_sampler.thread, NULL);
    printf("tcp_ratio=%.3f xshard_rtt_p50_us=%.1f\n", ratio, rtt_p50_us);
    return 0;
}
