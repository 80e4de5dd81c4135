/*
 * Unit tests for lib/io.c and the blocking backend lib/io_blocking.c: every operation of
 * lib/io.h on a temporary directory (under /tmp and under the build directory), callbacks
 * only from io_run and in FIFO order, io_wait, error results, timers, the O_DIRECT
 * alignment contract when the filesystem supports it, sockets through the seam, and the
 * submit contract's assertions.
 */
#include "lib/io.h"
#include "lib/io_blocking.h"

#include "tests/unit/helper_assert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

enum { WAIT_ITERATIONS = 1000, RECORD_MAX = 64, MS = 1000 * 1000 };

/* What the callbacks saw, in order (the last RECORD_MAX). */
struct record {
    uint32_t count;
    int64_t results[RECORD_MAX];
    uintptr_t tags[RECORD_MAX];
};

static struct record record;

static void record_callback(struct io_completion *completion)
{
    assert_true(completion->done);
    record.results[record.count % RECORD_MAX] = completion->result;
    record.tags[record.count % RECORD_MAX] = (uintptr_t)completion->context;
    record.count++;
}

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
}

/* A fresh temporary directory: under /tmp when base is NULL, else under base. */
static void make_directory(const char *base, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/runnel-io-test-XXXXXX", base != NULL ? base : "/tmp");
    assert_non_null(mkdtemp(path));
}

static void join(char *out, size_t out_size, const char *directory, const char *name)
{
    int printed = snprintf(out, out_size, "%s/%s", directory, name);
    assert_true(printed > 0 && (size_t)printed < out_size);
}

/* Submits nothing: waits for completion and checks its callback ran exactly once. */
static int64_t wait_for(struct io *io, struct io_completion *completion)
{
    uint32_t before = record.count;
    int64_t result = io_wait(io, completion, WAIT_ITERATIONS);
    assert_int_equal(record.count, before + 1);
    return result;
}

static bool list_has(const char *buffer, int64_t used, const char *name)
{
    for (int64_t at = 0; at < used; at += (int64_t)strlen(buffer + at) + 1) {
        if (strcmp(buffer + at, name) == 0) {
            return true;
        }
    }
    return false;
}

static uint32_t list_count(const char *buffer, int64_t used)
{
    uint32_t count = 0;
    for (int64_t at = 0; at < used; at += (int64_t)strlen(buffer + at) + 1) {
        count++;
    }
    return count;
}

static void test_file_operations(void **state)
{
    (void)state;
    record.count = 0;
    struct io_blocking blocking;
    assert_int_equal(io_blocking_init(&blocking), 0);
    struct io *io = &blocking.io;
    struct io_completion completion = {0};
    char directory[256];
    char file_path[320];
    make_directory(NULL, directory, sizeof(directory));
    join(file_path, sizeof(file_path), directory, "data");

    io_open(io, &completion, file_path, IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE, record_callback, NULL);
    assert_false(completion.done); /* performed, but not delivered inside the submit */
    assert_int_equal(record.count, 0);
    assert_int_equal(io_pending_count(io), 1);
    int64_t file = wait_for(io, &completion);
    assert_true(file >= 0);
    assert_int_equal(io_pending_count(io), 0);

    const char text[] = "hello, runnel";
    io_write(io, &completion, (int32_t)file, text, sizeof(text), 100, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), sizeof(text));
    char back[64] = {0};
    io_read(io, &completion, (int32_t)file, back, sizeof(back), 100, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), sizeof(text)); /* short at end of file */
    assert_memory_equal(back, text, sizeof(text));
    io_read(io, &completion, (int32_t)file, back, sizeof(back), 4096, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);

    io_size(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    assert_int_equal(completion.size_bytes_out, 100 + sizeof(text));
    io_fallocate(io, &completion, (int32_t)file, 0, 65536, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_size(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    assert_int_equal(completion.size_bytes_out, 65536);
    io_truncate(io, &completion, (int32_t)file, 10, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_size(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    assert_int_equal(completion.size_bytes_out, 10);
    io_fdatasync(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_fsync(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_close(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);

    /* Read-only handles refuse writes; the error is a result, not a crash. */
    io_open(io, &completion, file_path, IO_OPEN_READ_ONLY, record_callback, NULL);
    file = wait_for(io, &completion);
    assert_true(file >= 0);
    io_write(io, &completion, (int32_t)file, text, sizeof(text), 0, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -EBADF);
    io_close(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);

    io_unlink(io, &completion, file_path, 0, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_unlink(io, &completion, directory, IO_UNLINK_DIRECTORY, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_blocking_deinit(&blocking);
}

static void test_directory_operations(void **state)
{
    (void)state;
    record.count = 0;
    struct io_blocking blocking;
    io_blocking_init(&blocking);
    struct io *io = &blocking.io;
    struct io_completion completion = {0};
    char directory[256];
    char sub[320];
    char name_a[320];
    char name_b[320];
    make_directory(NULL, directory, sizeof(directory));
    join(sub, sizeof(sub), directory, "sub");
    join(name_a, sizeof(name_a), directory, "a");
    join(name_b, sizeof(name_b), directory, "b");

    io_mkdir(io, &completion, sub, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_mkdir(io, &completion, sub, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -EEXIST);
    io_open(io, &completion, name_a, IO_OPEN_CREATE, record_callback, NULL);
    int64_t file = wait_for(io, &completion);
    assert_true(file >= 0);
    io_close(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);

    char names[64];
    io_list(io, &completion, directory, names, sizeof(names), record_callback, NULL);
    int64_t used = wait_for(io, &completion);
    assert_int_equal(used, strlen("sub") + 1 + strlen("a") + 1);
    assert_int_equal(list_count(names, used), 2);
    assert_true(list_has(names, used, "sub") && list_has(names, used, "a"));
    io_list(io, &completion, directory, names, 5, record_callback, NULL); /* needs 6 */
    assert_int_equal(wait_for(io, &completion), -ERANGE);
    io_list(io, &completion, directory, names, 6, record_callback, NULL); /* exact fit */
    assert_int_equal(wait_for(io, &completion), 6);
    io_list(io, &completion, sub, names, sizeof(names), record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);

    io_rename(io, &completion, name_a, name_b, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_list(io, &completion, directory, names, sizeof(names), record_callback, NULL);
    used = wait_for(io, &completion);
    assert_true(list_has(names, used, "b") && !list_has(names, used, "a"));
    io_rename(io, &completion, name_a, name_b, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -ENOENT);

    /* A directory handle can be fsynced (makes the rename durable). */
    io_open(io, &completion, directory, IO_OPEN_DIRECTORY, record_callback, NULL);
    file = wait_for(io, &completion);
    assert_true(file >= 0);
    io_fsync(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_close(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);

    io_unlink(io, &completion, directory, IO_UNLINK_DIRECTORY, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -ENOTEMPTY);
    io_unlink(io, &completion, name_b, 0, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_unlink(io, &completion, sub, IO_UNLINK_DIRECTORY, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_unlink(io, &completion, directory, IO_UNLINK_DIRECTORY, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_list(io, &completion, directory, names, sizeof(names), record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -ENOENT);
    io_blocking_deinit(&blocking);
}

static void test_error_results(void **state)
{
    (void)state;
    record.count = 0;
    struct io_blocking blocking;
    io_blocking_init(&blocking);
    struct io *io = &blocking.io;
    struct io_completion completion = {0};
    char directory[256];
    char path[320];
    make_directory(NULL, directory, sizeof(directory));
    join(path, sizeof(path), directory, "missing");

    io_open(io, &completion, path, 0, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -ENOENT);
    io_open(io, &completion, path, IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE, record_callback, NULL);
    int64_t file = wait_for(io, &completion);
    assert_true(file >= 0);
    struct io_completion second = {0};
    io_open(io, &second, path, IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE, record_callback, NULL);
    assert_int_equal(wait_for(io, &second), -EEXIST);
    io_open(io, &second, directory, IO_OPEN_CREATE, record_callback, NULL);
    assert_int_equal(wait_for(io, &second), -EISDIR);
    io_close(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_close(io, &completion, (int32_t)file, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -EBADF);
    io_unlink(io, &completion, path, 0, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_unlink(io, &completion, path, 0, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -ENOENT);
    io_connect(io, &completion, "not-an-address", record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -EINVAL);
    io_connect(io, &completion, "127.0.0.1:70000", record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -EINVAL);
    io_unlink(io, &completion, directory, IO_UNLINK_DIRECTORY, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_blocking_deinit(&blocking);
}

struct chain {
    struct io *io;
    struct io_completion completion;
    uint32_t runs;
};

static void chain_callback(struct io_completion *completion)
{
    struct chain *chain = completion->context;
    assert_true(completion->done);
    chain->runs++;
    if (chain->runs < 3) {
        io_truncate(chain->io, completion, (int32_t)completion->handle, 0, chain_callback, chain);
        assert_false(completion->done);
    }
}

static void test_fifo_order_and_bounded_runs(void **state)
{
    (void)state;
    record.count = 0;
    struct io_blocking blocking;
    io_blocking_init(&blocking);
    struct io *io = &blocking.io;
    assert_int_equal(io_run(io, 0), 0); /* nothing pending: returns at once */
    char directory[256];
    char path[320];
    make_directory(NULL, directory, sizeof(directory));
    join(path, sizeof(path), directory, "f");
    struct io_completion completions[4] = {{0}};
    char names[8];
    io_mkdir(io, &completions[0], directory, record_callback, (void *)10);
    io_open(io, &completions[1], path, IO_OPEN_CREATE, record_callback, (void *)11);
    io_mkdir(io, &completions[2], path, record_callback, (void *)12);
    io_list(io, &completions[3], path, names, sizeof(names), record_callback, (void *)13);
    assert_int_equal(record.count, 0);
    assert_int_equal(io_pending_count(io), 4);
    assert_int_equal(io_run(io, 0), 4);
    assert_int_equal(record.count, 4);
    for (uint32_t index = 0; index < 4; index++) {
        assert_int_equal(record.tags[index], 10 + index);
    }
    assert_int_equal(record.results[0], -EEXIST);
    assert_true(record.results[1] >= 0);
    assert_int_equal(record.results[2], -EEXIST);
    assert_int_equal(record.results[3], -ENOTDIR);

    /* A callback that resubmits is delivered once per run, not in a loop. */
    struct chain chain = {.io = io};
    io_fsync(io, &chain.completion, (int32_t)record.results[1], chain_callback, &chain);
    assert_int_equal(io_run(io, 0), 1);
    assert_int_equal(chain.runs, 1);
    assert_int_equal(io_pending_count(io), 1);
    assert_int_equal(io_run(io, 0), 1);
    assert_int_equal(io_run(io, 0), 1);
    assert_int_equal(chain.runs, 3);
    assert_int_equal(io_run(io, 0), 0);
    assert_int_equal(io_pending_count(io), 0);

    io_close(io, &completions[1], (int32_t)record.results[1], record_callback, NULL);
    assert_int_equal(wait_for(io, &completions[1]), 0);
    io_unlink(io, &completions[1], path, 0, record_callback, NULL);
    assert_int_equal(wait_for(io, &completions[1]), 0);
    io_unlink(io, &completions[1], directory, IO_UNLINK_DIRECTORY, record_callback, NULL);
    assert_int_equal(wait_for(io, &completions[1]), 0);
    io_blocking_deinit(&blocking);
}

static void test_timeouts(void **state)
{
    (void)state;
    record.count = 0;
    struct io_blocking blocking;
    io_blocking_init(&blocking);
    struct io *io = &blocking.io;
    struct io_completion timers[3] = {{0}};
    uint64_t start_ns = now_ns();
    io_timeout(io, &timers[0], 60 * MS, record_callback, (void *)60);
    io_timeout(io, &timers[1], 20 * MS, record_callback, (void *)20);
    io_timeout(io, &timers[2], 40 * MS, record_callback, (void *)40);
    assert_int_equal(io_pending_count(io), 3);
    assert_int_equal(io_run(io, 0), 0); /* not due, and told not to wait */
    uint32_t delivered = 0;
    for (uint32_t iteration = 0; iteration < 100 && delivered < 3; iteration++) {
        delivered += io_run(io, 1000 * MS);
    }
    assert_int_equal(delivered, 3);
    uint64_t elapsed_ns = now_ns() - start_ns;
    assert_true(elapsed_ns >= 60 * MS);
    assert_true(elapsed_ns < 1000 * MS);
    assert_int_equal(record.tags[0], 20); /* earliest deadline first */
    assert_int_equal(record.tags[1], 40);
    assert_int_equal(record.tags[2], 60);
    assert_int_equal(record.results[0], 0);

    /* io_run never waits longer than asked. */
    io_timeout(io, &timers[0], 500 * MS, record_callback, NULL);
    start_ns = now_ns();
    assert_int_equal(io_run(io, 5 * MS), 0);
    elapsed_ns = now_ns() - start_ns;
    assert_true(elapsed_ns >= 5 * MS && elapsed_ns < 200 * MS);

    /* io_wait gives up after its bound, then succeeds on a short timer. */
    assert_int_equal(io_wait(io, &timers[0], 1), -ETIMEDOUT);
    io_timeout(io, &timers[1], 1 * MS, record_callback, (void *)1);
    assert_int_equal(io_wait(io, &timers[1], WAIT_ITERATIONS), 0);
    assert_true(timers[1].done);
    assert_int_equal(io_pending_count(io), 1); /* the 500 ms timer */
    io_blocking_deinit(&blocking);             /* drops it: its callback never runs */
    assert_false(timers[0].done);
}

/* Direct I/O contract in a fresh directory under base (NULL: /tmp). */
static void check_direct(const char *base)
{
    record.count = 0;
    struct io_blocking blocking;
    io_blocking_init(&blocking);
    struct io *io = &blocking.io;
    char directory[256];
    char path[320];
    make_directory(base, directory, sizeof(directory));
    join(path, sizeof(path), directory, "direct");
    struct io_completion completion = {0};
    bool is_supported = io_probe_direct(io, directory);
    char names[64];
    io_list(io, &completion, directory, names, sizeof(names), record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0); /* the probe cleaned up after itself */
    print_message("direct I/O under %s: %s\n", directory, is_supported ? "yes" : "no");
    if (is_supported) {
        uint8_t *buffer = aligned_alloc(IO_SECTOR_SIZE, 3 * IO_SECTOR_SIZE);
        assert_non_null(buffer);
        memset(buffer, 0xA5, 3 * IO_SECTOR_SIZE);
        io_open(io, &completion, path, IO_OPEN_CREATE | IO_OPEN_DIRECT, record_callback, NULL);
        int64_t file = wait_for(io, &completion);
        assert_true(file >= 0);
        int32_t handle = (int32_t)file;
        io_write(io, &completion, handle, buffer, 2 * IO_SECTOR_SIZE, IO_SECTOR_SIZE,
                 record_callback, NULL);
        assert_int_equal(wait_for(io, &completion), 2 * IO_SECTOR_SIZE);
        io_write(io, &completion, handle, buffer + 512, IO_SECTOR_SIZE, 0, record_callback, NULL);
        assert_int_equal(wait_for(io, &completion), -EINVAL); /* address */
        io_write(io, &completion, handle, buffer, IO_SECTOR_SIZE, 512, record_callback, NULL);
        assert_int_equal(wait_for(io, &completion), -EINVAL); /* offset */
        io_write(io, &completion, handle, buffer, 512, 0, record_callback, NULL);
        assert_int_equal(wait_for(io, &completion), -EINVAL); /* size */
        io_read(io, &completion, handle, buffer + 512, IO_SECTOR_SIZE, 0, record_callback, NULL);
        assert_int_equal(wait_for(io, &completion), -EINVAL);
        memset(buffer, 0, 3 * IO_SECTOR_SIZE);
        io_read(io, &completion, handle, buffer, 3 * IO_SECTOR_SIZE, IO_SECTOR_SIZE,
                record_callback, NULL);
        assert_int_equal(wait_for(io, &completion), 2 * IO_SECTOR_SIZE);
        assert_int_equal(buffer[0], 0xA5);
        assert_int_equal(buffer[2 * IO_SECTOR_SIZE - 1], 0xA5);
        io_close(io, &completion, handle, record_callback, NULL);
        assert_int_equal(wait_for(io, &completion), 0);
        io_unlink(io, &completion, path, 0, record_callback, NULL);
        assert_int_equal(wait_for(io, &completion), 0);
        free(buffer);
    }
    io_unlink(io, &completion, directory, IO_UNLINK_DIRECTORY, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    assert_false(io_probe_direct(io, directory)); /* gone: cannot say yes */
    io_blocking_deinit(&blocking);
}

static void test_direct_in_tmp(void **state)
{
    (void)state;
    check_direct(NULL);
}

static void test_direct_in_build_directory(void **state)
{
    (void)state;
    check_direct("."); /* ctest runs unit tests in the build directory */
}

static int listen_on_loopback(uint16_t *port_out)
{
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(listener >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(listener, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(listener, 4), 0);
    socklen_t address_size = sizeof(address);
    assert_int_equal(getsockname(listener, (struct sockaddr *)&address, &address_size), 0);
    *port_out = ntohs(address.sin_port);
    return listener;
}

static void test_sockets(void **state)
{
    (void)state;
    record.count = 0;
    struct io_blocking blocking;
    io_blocking_init(&blocking);
    struct io *io = &blocking.io;
    uint16_t port = 0;
    int listener = listen_on_loopback(&port);
    char address[32];
    snprintf(address, sizeof(address), "127.0.0.1:%u", (unsigned)port);
    struct io_completion completion = {0};
    io_connect(io, &completion, address, record_callback, NULL);
    int64_t client = wait_for(io, &completion);
    assert_true(client >= 0);
    io_accept(io, &completion, listener, record_callback, NULL);
    int64_t server = wait_for(io, &completion);
    assert_true(server >= 0);

    const char message[] = "ping";
    io_send(io, &completion, (int32_t)client, message, sizeof(message), record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), sizeof(message));
    char received[16] = {0};
    io_recv(io, &completion, (int32_t)server, received, sizeof(received), record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), sizeof(message));
    assert_string_equal(received, "ping");

    io_close(io, &completion, (int32_t)client, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    io_recv(io, &completion, (int32_t)server, received, sizeof(received), record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0); /* end of stream */
    io_close(io, &completion, (int32_t)server, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), 0);
    close(listener);
    /* Nobody listens any more. */
    io_connect(io, &completion, address, record_callback, NULL);
    assert_int_equal(wait_for(io, &completion), -ECONNREFUSED);
    io_blocking_deinit(&blocking);
}

static void test_contract_assertions_fire(void **state)
{
    (void)state;
    record.count = 0;
    struct io_blocking blocking;
    io_blocking_init(&blocking);
    struct io *io = &blocking.io;
    struct io_completion completion = {0};
    expect_assert_failure(io_open(io, &completion, "x", IO_OPEN_CREATE, NULL, NULL));
    expect_assert_failure(io_timeout(io, NULL, 1, record_callback, NULL));
    expect_assert_failure(io_open(io, &completion, "x", IO_OPEN_EXCLUSIVE, record_callback, NULL));
    expect_assert_failure(io_unlink(io, &completion, "x", IO_OPEN_DIRECT, record_callback, NULL));
    expect_assert_failure(io_read(io, &completion, 0, NULL, 1, 0, record_callback, NULL));
    expect_assert_failure(io_close(io, &completion, -1, record_callback, NULL));
    assert_int_equal(io_pending_count(io), 0);
    /* A completion in flight cannot be submitted again. */
    io_timeout(io, &completion, 1000 * MS, record_callback, NULL);
    expect_assert_failure(io_timeout(io, &completion, 1, record_callback, NULL));
    assert_int_equal(io_pending_count(io), 1);
    struct io_completion never = {0};
    expect_assert_failure(io_wait(io, &never, 1)); /* never submitted */
    io_blocking_deinit(&blocking);
    expect_assert_failure(io_run(io, 0)); /* deinit poisons the backend */
    struct io none = {NULL};
    expect_assert_failure(io_pending_count(&none));
    assert_int_equal(record.count, 0);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_operations),
        cmocka_unit_test(test_directory_operations),
        cmocka_unit_test(test_error_results),
        cmocka_unit_test(test_fifo_order_and_bounded_runs),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_direct_in_tmp),
        cmocka_unit_test(test_direct_in_build_directory),
        cmocka_unit_test(test_sockets),
        cmocka_unit_test(test_contract_assertions_fire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
