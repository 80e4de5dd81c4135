/*
 * Unit tests for node/runtime_uring: ring set-up with SINGLE_ISSUER|DEFER_TASKRUN, the
 * start-up checks, MSG_RING doorbells waking a blocked ring, and the lib/io.h backend on
 * the ring (O_DIRECT writes from the fixed region, a linked fdatasync, a sync held behind
 * an earlier write and not starved by later ones, reads into fixed buffers, timeouts,
 * directory and socket operations), and warm recycling of receive buffers. Exits 77
 * without io_uring.
 */
#include "lib/error.h"
#include "lib/io.h"
#include "node/net.h"
#include "node/runtime_uring.h"

#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static uint64_t test_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static struct runtime_uring *test_create(void)
{
    struct runtime_uring_options options;
    runtime_uring_options_default(&options);
    options.require_defer_taskrun = true;
    struct runtime_uring *uring = NULL;
    char error_text[256] = {0};
    int result = runtime_uring_create(&options, &uring, error_text, sizeof(error_text));
    if (result != 0) {
        fprintf(stderr, "create: %s\n", error_text);
    }
    assert_int_equal(result, 0);
    assert_non_null(uring);
    return uring;
}

static void test_create_defer_taskrun(void **state)
{
    (void)state;
    struct runtime_uring *uring = test_create();
    assert_true(runtime_uring_is_defer_taskrun(uring));
    assert_true(runtime_uring_ring_fd(uring) >= 0);
    uint64_t fixed_size = 0;
    uint8_t *fixed = runtime_uring_fixed_buffer(uring, &fixed_size);
    assert_non_null(fixed);
    assert_int_equal(fixed_size, 1u << 20);
    assert_int_equal((uintptr_t)fixed % IO_SECTOR_SIZE, 0);
    assert_int_equal(runtime_uring_in_flight(uring), 0);
    /* An idle wait ends at its deadline with nothing reaped. */
    uint64_t start_ns = test_now_ns();
    assert_int_equal(runtime_uring_submit_and_wait(uring, 2 * 1000 * 1000), 0);
    assert_true(test_now_ns() - start_ns >= 1500 * 1000);
    assert_int_equal(runtime_uring_dispatch(uring), 0);
    runtime_uring_destroy(uring);
}

static void test_checks(void **state)
{
    (void)state;
    char text[256] = {0};
    assert_int_equal(runtime_uring_check_environment(1u << 20, text, sizeof(text)), 0);
    assert_int_equal(runtime_uring_check_memlock(8u << 20, 4u << 20, false, text, sizeof(text)), 0);
    assert_int_equal(runtime_uring_check_memlock(8u << 20, 16u << 20, true, text, sizeof(text)), 0);
    assert_int_equal(runtime_uring_check_memlock(8u << 20, 16u << 20, false, text, sizeof(text)),
                     -ENOMEM);
    assert_non_null(strstr(text, "locked-memory limit"));
    assert_non_null(strstr(text, "memlock"));
    assert_null(strchr(text, '\n'));
}

struct test_sleeper {
    pthread_mutex_t mutex;
    pthread_cond_t ready;
    int ring_fd; /* -1 until published */
    uint64_t waited_ns;
    uint64_t doorbells;
};

static void *test_sleeper_main(void *argument)
{
    struct test_sleeper *sleeper = argument;
    struct runtime_uring *uring = test_create();
    pthread_mutex_lock(&sleeper->mutex);
    sleeper->ring_fd = runtime_uring_ring_fd(uring);
    pthread_cond_signal(&sleeper->ready);
    pthread_mutex_unlock(&sleeper->mutex);
    uint64_t start_ns = test_now_ns();
    (void)runtime_uring_submit_and_wait(uring, 5ull * 1000 * 1000 * 1000);
    sleeper->waited_ns = test_now_ns() - start_ns;
    runtime_uring_dispatch(uring);
    sleeper->doorbells = runtime_uring_counters(uring)->doorbells;
    runtime_uring_destroy(uring);
    return NULL;
}

static void test_doorbell_wakes_blocked_ring(void **state)
{
    (void)state;
    struct test_sleeper sleeper = {.ring_fd = -1};
    pthread_mutex_init(&sleeper.mutex, NULL);
    pthread_cond_init(&sleeper.ready, NULL);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, test_sleeper_main, &sleeper), 0);
    pthread_mutex_lock(&sleeper.mutex);
    while (sleeper.ring_fd < 0) {
        pthread_cond_wait(&sleeper.ready, &sleeper.mutex);
    }
    pthread_mutex_unlock(&sleeper.mutex);
    usleep(20 * 1000); /* let it block */
    struct runtime_uring *uring = test_create();
    runtime_uring_doorbell(uring, sleeper.ring_fd, 7);
    assert_int_equal(runtime_uring_submit_and_wait(uring, 0), 0); /* sender: no CQE */
    pthread_join(thread, NULL);
    assert_int_equal(sleeper.doorbells, 1);
    assert_true(sleeper.waited_ns < 2ull * 1000 * 1000 * 1000);
    assert_int_equal(runtime_uring_counters(uring)->doorbells_sent, 1);
    runtime_uring_destroy(uring);
}

struct test_order {
    uint32_t sequence;
    uint32_t order[4];
};

static void test_io_callback(struct io_completion *completion)
{
    struct test_order *order = completion->context;
    assert_true(order->sequence < 4);
    order->order[order->sequence++] = (uint32_t)completion->operation;
}

struct test_file {
    char directory[64];
    char path[128];
    bool is_direct;
    int32_t handle;
};

static void test_file_open(struct io *io, struct test_file *file)
{
    strcpy(file->directory, "/tmp/runnel_test_uring_XXXXXX");
    assert_non_null(mkdtemp(file->directory));
    snprintf(file->path, sizeof(file->path), "%s/file", file->directory);
    file->is_direct = io_probe_direct(io, file->directory);
    struct io_completion completion = {0};
    struct test_order order = {0};
    uint32_t flags = IO_OPEN_CREATE | (file->is_direct ? IO_OPEN_DIRECT : 0u);
    io_open(io, &completion, file->path, flags, test_io_callback, &order);
    int64_t result = io_wait(io, &completion, 100);
    assert_true(result >= 0);
    file->handle = (int32_t)result;
    io_fallocate(io, &completion, file->handle, 0, 1u << 20, test_io_callback, &order);
    assert_int_equal(io_wait(io, &completion, 100), 0);
}

static void test_file_close(struct io *io, struct test_file *file)
{
    struct io_completion completion = {0};
    struct test_order order = {0};
    io_close(io, &completion, file->handle, test_io_callback, &order);
    assert_int_equal(io_wait(io, &completion, 100), 0);
    unlink(file->path);
    rmdir(file->directory);
}

static void test_io_write_linked_sync_read(void **state)
{
    (void)state;
    struct runtime_uring *uring = test_create();
    struct io *io = runtime_uring_io(uring);
    struct test_file file;
    test_file_open(io, &file);
    uint64_t fixed_size = 0;
    uint8_t *fixed = runtime_uring_fixed_buffer(uring, &fixed_size);
    for (uint32_t index = 0; index < 65536; index++) {
        fixed[index] = (uint8_t)(index * 7u + 3u);
    }
    struct io_completion write = {0}, sync = {0}, read = {0};
    struct test_order order = {0};
    io_write(io, &write, file.handle, fixed, 65536, 4096, test_io_callback, &order);
    io_fdatasync(io, &sync, file.handle, test_io_callback, &order);
    assert_int_equal(io_pending_count(io), 2);
    assert_int_equal(io_wait(io, &sync, 100), 0);
    assert_true(write.done);
    assert_int_equal(write.result, 65536);
    assert_int_equal(order.sequence, 2);
    assert_int_equal(order.order[0], IO_OPERATION_WRITE);
    assert_int_equal(order.order[1], IO_OPERATION_FDATASYNC);
    io_read(io, &read, file.handle, fixed + 65536, 65536, 4096, test_io_callback, &order);
    assert_int_equal(io_wait(io, &read, 100), 65536);
    assert_memory_equal(fixed, fixed + 65536, 65536);
    assert_int_equal(io_pending_count(io), 0);
    test_file_close(io, &file);
    runtime_uring_destroy(uring);
}

static void test_io_link_failure_cancels_sync(void **state)
{
    (void)state;
    struct runtime_uring *uring = test_create();
    struct io *io = runtime_uring_io(uring);
    struct test_file file;
    test_file_open(io, &file);
    if (!file.is_direct) {
        test_file_close(io, &file);
        runtime_uring_destroy(uring);
        skip();
    }
    uint64_t fixed_size = 0;
    uint8_t *fixed = runtime_uring_fixed_buffer(uring, &fixed_size);
    struct io_completion write = {0}, sync = {0};
    struct test_order order = {0};
    /* Unaligned offset under O_DIRECT: the write fails, the linked sync is cancelled. */
    io_write(io, &write, file.handle, fixed, 4096, 100, test_io_callback, &order);
    io_fdatasync(io, &sync, file.handle, test_io_callback, &order);
    assert_int_equal(io_wait(io, &sync, 100), -ECANCELED);
    assert_int_equal(write.result, -EINVAL);
    test_file_close(io, &file);
    runtime_uring_destroy(uring);
}

static void test_io_sync_held_behind_earlier_write(void **state)
{
    (void)state;
    struct runtime_uring *uring = test_create();
    struct io *io = runtime_uring_io(uring);
    struct test_file file;
    test_file_open(io, &file);
    uint64_t fixed_size = 0;
    uint8_t *fixed = runtime_uring_fixed_buffer(uring, &fixed_size);
    struct io_completion write = {0}, sync = {0};
    struct test_order order = {0};
    io_write(io, &write, file.handle, fixed, 1u << 19, 0, test_io_callback, &order);
    /* Submit the write alone, then the sync in a later pass: it must wait for the write. */
    assert_true(runtime_uring_submit_and_wait(uring, 0) >= 0);
    io_fsync(io, &sync, file.handle, test_io_callback, &order);
    assert_int_equal(io_wait(io, &sync, 200), 0);
    assert_int_equal(order.sequence, 2);
    assert_int_equal(order.order[0], IO_OPERATION_WRITE);
    assert_int_equal(order.order[1], IO_OPERATION_FSYNC);
    assert_int_equal(write.result, 1 << 19);
    test_file_close(io, &file);
    runtime_uring_destroy(uring);
}

static void test_io_timeout_and_local_ops(void **state)
{
    (void)state;
    struct runtime_uring *uring = test_create();
    struct io *io = runtime_uring_io(uring);
    struct io_completion timeout = {0};
    struct test_order order = {0};
    uint64_t start_ns = test_now_ns();
    io_timeout(io, &timeout, 5 * 1000 * 1000, test_io_callback, &order);
    assert_int_equal(io_wait(io, &timeout, 100), 0);
    assert_true(test_now_ns() - start_ns >= 4 * 1000 * 1000);
    struct test_file file;
    test_file_open(io, &file);
    struct io_completion size = {0};
    io_size(io, &size, file.handle, test_io_callback, &order);
    assert_int_equal(io_wait(io, &size, 10), 0);
    assert_int_equal(size.size_bytes_out, 1u << 20);
    char names[64];
    struct io_completion list = {0};
    io_list(io, &list, file.directory, names, sizeof(names), test_io_callback, &order);
    assert_int_equal(io_wait(io, &list, 10), 5);
    assert_string_equal(names, "file");
    test_file_close(io, &file);
    runtime_uring_destroy(uring);
}

struct test_count {
    uint32_t done;
};

static void test_count_callback(struct io_completion *completion)
{
    struct test_count *count = completion->context;
    count->done++;
}

/* Runs io until more than done_before callbacks have counted (bounded). */
static void test_run_until(struct io *io, struct test_count *count, uint32_t done_before)
{
    for (uint32_t guard = 0; guard < 200 && count->done <= done_before; guard++) {
        io_run(io, 10 * 1000 * 1000);
    }
    assert_true(count->done > done_before);
}

/*
 * A held fdatasync waits for the writes submitted before it, not for later ones. The
 * writes go to an eventfd whose counter is near its maximum, so each stays in flight
 * until the test makes room, and the room decides which one fits: write 0 adds 1, later
 * writes add EVENTFD_BIG. The sync (held behind write 0) must complete once write 0 has,
 * while later writes are still in flight; before the fix it waited for the file to go
 * idle, which a steady stream of writes never allows.
 */
static void test_io_sync_not_starved_by_later_writes(void **state)
{
    (void)state;
    struct runtime_uring *uring = test_create();
    struct io *io = runtime_uring_io(uring);
    int event = eventfd(0, EFD_CLOEXEC); /* blocking: io_uring waits for room */
    assert_true(event >= 0);
    static const uint64_t one = 1, big = UINT64_MAX - 1;
    uint64_t value = 0;
    assert_int_equal(write(event, &big, 8), 8); /* full: any write would overflow */
    struct io_completion early = {0}, sync = {0}, late[3];
    memset(late, 0, sizeof(late));
    struct test_count written = {0}, synced = {0};
    io_write(io, &early, event, &one, 8, 0, test_count_callback, &written);
    assert_true(runtime_uring_submit_and_wait(uring, 0) >= 0);    /* in flight, blocked */
    io_fdatasync(io, &sync, event, test_count_callback, &synced); /* held behind it */
    for (uint32_t index = 0; index < 3; index++) {
        io_write(io, &late[index], event, &big, 8, 0, test_count_callback, &written);
    }
    assert_true(runtime_uring_submit_and_wait(uring, 0) >= 0);
    assert_int_equal(written.done, 0);
    /* Room for the early write only: counter 1, so +1 fits and +BIG does not. */
    assert_int_equal(read(event, &value, 8), 8);
    assert_int_equal(write(event, &one, 8), 8);
    test_run_until(io, &written, 0);
    for (uint32_t guard = 0; guard < 100 && synced.done == 0; guard++) {
        io_run(io, 1000 * 1000); /* the sync runs (an eventfd refuses it: -EINVAL) */
    }
    assert_true(early.done);
    assert_int_equal(synced.done, 1);
    assert_int_equal(written.done, 1); /* the later writes are still in flight */
    /* Let the later writes in, one per reset of the counter. */
    for (uint32_t guard = 0; guard < 300 && io_pending_count(io) > 0; guard++) {
        struct pollfd readable = {.fd = event, .events = POLLIN};
        if (poll(&readable, 1, 0) == 1) { /* a read of a zero counter would block */
            assert_int_equal(read(event, &value, 8), 8);
        }
        io_run(io, 1000 * 1000);
    }
    assert_int_equal(io_pending_count(io), 0);
    assert_int_equal(written.done, 4);
    close(event);
    runtime_uring_destroy(uring);
}

struct test_recv {
    struct runtime_uring *uring;
    bool is_armed;
    bool is_eof;
    uint32_t count;
    uint32_t no_buffers;
    uint16_t ids[16];
    uint64_t bytes;
};

static void test_recv_callback(struct runtime_uring_completion *completion, int32_t result,
                               uint32_t flags)
{
    struct test_recv *recv = completion->context;
    uint16_t id = 0;
    if (result > 0) {
        assert_true(runtime_uring_buffer_id(flags, &id));
        assert_true(recv->count < 16);
        recv->ids[recv->count++] = id;
        recv->bytes += (uint64_t)result;
        const uint8_t *bytes = runtime_uring_recv_buffer(recv->uring, id);
        assert_int_equal(bytes[0], (uint8_t)((recv->bytes - (uint64_t)result) / 4096));
        runtime_uring_recv_buffer_release(recv->uring, id);
    } else if (result == 0) {
        recv->is_eof = true;
    } else {
        assert_int_equal(result, -ENOBUFS);
        recv->no_buffers++;
    }
    if (!runtime_uring_is_more(flags)) {
        recv->is_armed = false;
    }
}

static int64_t test_io_wait_ok(struct io *io, struct io_completion *completion)
{
    int64_t result = io_wait(io, completion, 200);
    assert_true(completion->done);
    return result;
}

/* The seam's directory operations on the ring: mkdir, open in it, rename, list, unlink
 * of a file and of the directory, with their errors. */
static void test_io_seam_directories(void **state)
{
    (void)state;
    struct runtime_uring *uring = test_create();
    struct io *io = runtime_uring_io(uring);
    struct test_count count = {0};
    char base[64] = "/tmp/runnel_test_seam_XXXXXX";
    assert_non_null(mkdtemp(base));
    char directory[128], from[160], to[160];
    snprintf(directory, sizeof(directory), "%s/sub", base);
    snprintf(from, sizeof(from), "%s/a", directory);
    snprintf(to, sizeof(to), "%s/b", directory);
    struct io_completion c = {0};
    io_mkdir(io, &c, directory, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 0);
    io_mkdir(io, &c, directory, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), -EEXIST);
    io_open(io, &c, from, IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE, test_count_callback, &count);
    int64_t handle = test_io_wait_ok(io, &c);
    assert_true(handle >= 0);
    io_close(io, &c, (int32_t)handle, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 0);
    io_rename(io, &c, from, to, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 0);
    char names[64] = {0};
    io_list(io, &c, directory, names, sizeof(names), test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 2);
    assert_string_equal(names, "b");
    io_unlink(io, &c, from, 0, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), -ENOENT);
    io_unlink(io, &c, to, 0, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 0);
    io_unlink(io, &c, directory, IO_UNLINK_DIRECTORY, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 0);
    io_list(io, &c, base, names, sizeof(names), test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 0);
    assert_int_equal(rmdir(base), 0);
    assert_int_equal(count.done, 10);
    runtime_uring_destroy(uring);
}

/* The seam's socket operations on the ring: accept and connect in flight together, send
 * and recv across, close; a bad address and a refused connection are errors. */
static void test_io_seam_sockets(void **state)
{
    (void)state;
    struct runtime_uring *uring = test_create();
    struct io *io = runtime_uring_io(uring);
    struct test_count count = {0};
    uint32_t port = 0;
    int listener = net_listener_open("127.0.0.1", 0, &port);
    assert_true(listener >= 0);
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%u", port);
    struct io_completion accept = {0}, connect = {0}, send = {0}, recv = {0}, c = {0};
    io_accept(io, &accept, listener, test_count_callback, &count);
    io_connect(io, &connect, address, test_count_callback, &count);
    int64_t client = test_io_wait_ok(io, &connect);
    int64_t server = test_io_wait_ok(io, &accept);
    assert_true(client >= 0 && server >= 0);
    static const char hello[] = "hello, shard";
    char buffer[64] = {0};
    io_recv(io, &recv, (int32_t)server, buffer, sizeof(buffer), test_count_callback, &count);
    io_send(io, &send, (int32_t)client, hello, sizeof(hello), test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &send), (int64_t)sizeof(hello));
    assert_int_equal(test_io_wait_ok(io, &recv), (int64_t)sizeof(hello));
    assert_string_equal(buffer, hello);
    io_close(io, &c, (int32_t)client, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 0);
    io_recv(io, &recv, (int32_t)server, buffer, sizeof(buffer), test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &recv), 0); /* the peer closed */
    io_close(io, &c, (int32_t)server, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &c), 0);
    close(listener); /* nothing listens on port now */
    io_connect(io, &connect, address, test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &connect), -ECONNREFUSED);
    io_connect(io, &connect, "localhost", test_count_callback, &count);
    assert_int_equal(test_io_wait_ok(io, &connect), -EINVAL);
    assert_int_equal(io_pending_count(io), 0);
    runtime_uring_destroy(uring);
}

/*
 * Receive buffers are posted a few at a time, the most recently released first and in
 * ascending address order, so receives reuse warm memory and a stream filling whole
 * buffers continues in the adjacent one.
 */
static void test_recv_buffers_recycled_warm(void **state)
{
    (void)state;
    struct runtime_uring_options options;
    runtime_uring_options_default(&options);
    options.recv_buffer_count = 64;
    options.recv_buffer_size_bytes = 4096;
    options.recv_buffers_posted_max = 4;
    struct runtime_uring *uring = NULL;
    char text[256];
    assert_int_equal(runtime_uring_create(&options, &uring, text, sizeof(text)), 0);
    assert_int_equal(runtime_uring_recv_buffers_available(uring), 64);
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    assert_int_equal(runtime_uring_file_register(uring, 0, fds[0]), 0);
    static uint8_t bytes[6 * 4096];
    for (uint32_t index = 0; index < sizeof(bytes); index++) {
        bytes[index] = (uint8_t)(index / 4096);
    }
    struct test_recv recv = {0};
    recv.uring = uring;
    struct runtime_uring_completion completion = {test_recv_callback, &recv};
    assert_int_equal(write(fds[1], bytes, sizeof(bytes)), (ssize_t)sizeof(bytes));
    assert_int_equal(shutdown(fds[1], SHUT_WR), 0); /* the last round ends at EOF */
    for (uint32_t round = 0; round < 3 && !recv.is_eof; round++) {
        runtime_uring_recv_multishot(uring, &completion, 0);
        recv.is_armed = true;
        for (uint32_t guard = 0; guard < 100 && recv.is_armed; guard++) {
            assert_true(runtime_uring_submit_and_wait(uring, 10 * 1000 * 1000) >= 0);
            runtime_uring_dispatch(uring);
        }
        assert_false(recv.is_armed);
    }
    /* 4 posted: 4 full buffers 0..3, then -ENOBUFS; released and posted again (the same
     * four, warm, not 4..7); then the last 2 and the end of the stream. */
    assert_int_equal(recv.count, 6);
    assert_int_equal(recv.no_buffers, 1);
    assert_true(recv.is_eof);
    for (uint32_t index = 0; index < 4; index++) {
        assert_int_equal(recv.ids[index], index);
    }
    assert_int_equal(recv.ids[4], 0);
    assert_int_equal(recv.ids[5], 1);
    assert_int_equal(recv.bytes, sizeof(bytes));
    assert_int_equal(runtime_uring_recv_buffers_held(uring), 0);
    close(fds[0]);
    close(fds[1]);
    runtime_uring_destroy(uring);
}

int main(void)
{
    helper_assert_install();
    char text[256] = {0};
    if (runtime_uring_check_environment(1u << 20, text, sizeof(text)) != 0) {
        fprintf(stderr, "skipped: %s\n", text);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_defer_taskrun),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_doorbell_wakes_blocked_ring),
        cmocka_unit_test(test_io_write_linked_sync_read),
        cmocka_unit_test(test_io_link_failure_cancels_sync),
        cmocka_unit_test(test_io_sync_held_behind_earlier_write),
        cmocka_unit_test(test_io_timeout_and_local_ops),
        cmocka_unit_test(test_io_sync_not_starved_by_later_writes),
        cmocka_unit_test(test_io_seam_directories),
        cmocka_unit_test(test_io_seam_sockets),
        cmocka_unit_test(test_recv_buffers_recycled_warm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
