/*
 * Unit tests for node/runtime_uring: ring set-up with SINGLE_ISSUER|DEFER_TASKRUN, the
 * start-up checks, MSG_RING doorbells waking a blocked ring, and the lib/io.h backend on
 * the ring (O_DIRECT writes from the fixed region, a linked fdatasync, a sync held behind
 * an earlier write, reads into fixed buffers, timeouts). Exits 77 without io_uring.
 */
#include "lib/error.h"
#include "lib/io.h"
#include "node/runtime_uring.h"

#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
