/*
 * The plain blocking I/O backend (io_blocking.h): performs each lib/io.h operation with
 * ordinary system calls at submit time, queues the finished completion and delivers the
 * queue from io_run. Owns the ready FIFO and the deadline-sorted timer list (both linked
 * through the completions' next field: no allocation). Used by tools, recovery and tests
 * on whichever thread owns the struct; never by the io_uring data plane.
 */
#include "lib/io_blocking.h"

#include "lib/assert.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

enum {
    /* Bound on retries of one system call (EINTR, short transfers): far above any real
     * run, it only turns a livelock into an error. */
    IO_BLOCKING_ATTEMPT_MAX = 1 << 20,
    IO_BLOCKING_NS_PER_S = 1000000000,
    IO_BLOCKING_FILE_MODE = 0640,
    IO_BLOCKING_DIRECTORY_MODE = 0750,
};

static const struct io_backend io_blocking_backend;

static struct io_blocking *io_blocking_from(const struct io *io)
{
    assert(io != NULL);
    assert_msg(io->backend == &io_blocking_backend, "io: not an io_blocking backend");
    return (struct io_blocking *)io;
}

static uint64_t io_blocking_now_ns(void)
{
    struct timespec now;
    int result = clock_gettime(CLOCK_MONOTONIC, &now);
    assert(result == 0);
    assert(now.tv_sec >= 0 && now.tv_nsec >= 0);
    return (uint64_t)now.tv_sec * IO_BLOCKING_NS_PER_S + (uint64_t)now.tv_nsec;
}

static int64_t io_blocking_result(long value)
{
    assert(value >= -1);
    if (value < 0) {
        assert(errno > 0);
        return -(int64_t)errno;
    }
    return (int64_t)value;
}

static int io_blocking_open_flags(uint32_t flags)
{
    assert((flags & IO_UNLINK_DIRECTORY) == 0);
    if (flags & IO_OPEN_DIRECTORY) {
        return O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    }
    int open_flags = O_CLOEXEC | ((flags & IO_OPEN_READ_ONLY) ? O_RDONLY : O_RDWR);
    open_flags |= (flags & IO_OPEN_CREATE) ? O_CREAT : 0;
    open_flags |= (flags & IO_OPEN_EXCLUSIVE) ? O_EXCL : 0;
    open_flags |= (flags & IO_OPEN_DIRECT) ? O_DIRECT : 0;
    return open_flags;
}

static int64_t io_blocking_open(const struct io_completion *completion)
{
    assert(completion->operation == IO_OPERATION_OPEN);
    assert(completion->path != NULL);
    int open_flags = io_blocking_open_flags(completion->flags);
    for (uint32_t attempt = 0; attempt < IO_BLOCKING_ATTEMPT_MAX; attempt++) {
        int file = open(completion->path, open_flags, IO_BLOCKING_FILE_MODE);
        if (file >= 0 || errno != EINTR) {
            return io_blocking_result(file);
        }
    }
    return -EINTR;
}

/* -EINVAL when file was opened with O_DIRECT and the transfer breaks the alignment
 * contract of lib/io.h (address, offset and size multiples of IO_SECTOR_SIZE). */
static int64_t io_blocking_check_direct(const struct io_completion *completion)
{
    assert(completion->operation == IO_OPERATION_READ ||
           completion->operation == IO_OPERATION_WRITE);
    int status_flags = fcntl(completion->handle, F_GETFL);
    if (status_flags < 0) {
        return -(int64_t)errno;
    }
    if ((status_flags & O_DIRECT) == 0) {
        return 0;
    }
    if (!io_is_sector_aligned((uint64_t)(uintptr_t)completion->buffer) ||
        !io_is_sector_aligned(completion->offset_bytes) ||
        !io_is_sector_aligned(completion->size_bytes)) {
        return -EINVAL;
    }
    return 0;
}

/* pread/pwrite until size bytes moved (a read stops early at end of file). */
static int64_t io_blocking_transfer(const struct io_completion *completion)
{
    bool is_write = completion->operation == IO_OPERATION_WRITE;
    assert(is_write || completion->operation == IO_OPERATION_READ);
    int64_t check = io_blocking_check_direct(completion);
    if (check < 0) {
        return check;
    }
    uint8_t *buffer = completion->buffer;
    uint64_t size = completion->size_bytes;
    uint64_t moved = 0;
    for (uint32_t attempt = 0; attempt < IO_BLOCKING_ATTEMPT_MAX && moved < size; attempt++) {
        off_t offset = (off_t)(completion->offset_bytes + moved);
        ssize_t count = is_write ? pwrite(completion->handle, buffer + moved, size - moved, offset)
                                 : pread(completion->handle, buffer + moved, size - moved, offset);
        if (count < 0 && errno == EINTR) {
            continue;
        }
        if (count < 0) {
            return -(int64_t)errno;
        }
        if (count == 0) {
            return is_write ? -EIO : (int64_t)moved; /* end of file */
        }
        moved += (uint64_t)count;
    }
    assert(moved <= size);
    return moved == size ? (int64_t)moved : -EINTR;
}

static int64_t io_blocking_size(struct io_completion *completion)
{
    assert(completion->operation == IO_OPERATION_SIZE);
    struct stat status;
    if (fstat(completion->handle, &status) != 0) {
        return -(int64_t)errno;
    }
    assert(status.st_size >= 0);
    completion->size_bytes_out = (uint64_t)status.st_size;
    return 0;
}

static bool io_blocking_is_dot(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Names of path's entries (no . or ..), each NUL-terminated, in directory order. */
static int64_t io_blocking_list(const struct io_completion *completion)
{
    assert(completion->operation == IO_OPERATION_LIST);
    assert(completion->buffer != NULL && completion->size_bytes > 0);
    DIR *directory = opendir(completion->path);
    if (directory == NULL) {
        return -(int64_t)errno;
    }
    char *buffer = completion->buffer;
    uint64_t used = 0;
    int64_t result = -ERANGE;
    /* Each listed name takes at least 2 bytes: more entries than this cannot fit. */
    uint64_t entry_max = completion->size_bytes / 2 + 3;
    for (uint64_t entry_index = 0; entry_index < entry_max; entry_index++) {
        errno = 0;
        struct dirent *entry = readdir(directory);
        if (entry == NULL) {
            result = errno != 0 ? -(int64_t)errno : (int64_t)used;
            break;
        }
        if (io_blocking_is_dot(entry->d_name)) {
            continue;
        }
        size_t name_size = strlen(entry->d_name) + 1;
        if (name_size > completion->size_bytes - used) {
            result = -ERANGE;
            break;
        }
        memcpy(buffer + used, entry->d_name, name_size);
        used += name_size;
    }
    closedir(directory);
    assert(result < 0 || (uint64_t)result <= completion->size_bytes);
    return result;
}

/* Parses "a.b.c.d:port" (port 1..65535). */
static bool io_blocking_parse_address(const char *text, struct sockaddr_in *address)
{
    assert(text != NULL && address != NULL);
    memset(address, 0, sizeof(*address));
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || (size_t)(colon - text) >= INET_ADDRSTRLEN) {
        return false;
    }
    char host[INET_ADDRSTRLEN];
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || errno != 0 || *end != '\0' || port == 0 ||
        port > 65535) {
        return false;
    }
    address->sin_family = AF_INET;
    address->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &address->sin_addr) == 1;
}

/* After connect() was interrupted the attempt goes on: wait for it, then read its error. */
static int io_blocking_connect_finish(int socket_handle)
{
    assert(socket_handle >= 0);
    struct pollfd poll_entry = {.fd = socket_handle, .events = POLLOUT};
    for (uint32_t attempt = 0; attempt < IO_BLOCKING_ATTEMPT_MAX; attempt++) {
        int ready = poll(&poll_entry, 1, -1);
        if (ready > 0) {
            int error = 0;
            socklen_t error_size = sizeof(error);
            if (getsockopt(socket_handle, SOL_SOCKET, SO_ERROR, &error, &error_size) != 0) {
                return -errno;
            }
            return -error;
        }
        if (ready < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return -EINTR;
}

static int64_t io_blocking_connect(const struct io_completion *completion)
{
    assert(completion->operation == IO_OPERATION_CONNECT);
    struct sockaddr_in address;
    if (!io_blocking_parse_address(completion->path, &address)) {
        return -EINVAL;
    }
    int socket_handle = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (socket_handle < 0) {
        return -(int64_t)errno;
    }
    int error = 0;
    if (connect(socket_handle, (const struct sockaddr *)&address, sizeof(address)) != 0) {
        error = errno == EINTR ? io_blocking_connect_finish(socket_handle) : -errno;
    }
    if (error != 0) {
        close(socket_handle);
        return error;
    }
    /* Request/response tools: do not hold small writes back (Nagle). Best effort. */
    int enable = 1;
    (void)setsockopt(socket_handle, IPPROTO_TCP, TCP_NODELAY, &enable, sizeof(enable));
    return socket_handle;
}

/* accept4, recv or send, retried on EINTR. */
static int64_t io_blocking_socket(const struct io_completion *completion)
{
    enum io_operation operation = completion->operation;
    assert(operation == IO_OPERATION_ACCEPT || operation == IO_OPERATION_RECV ||
           operation == IO_OPERATION_SEND);
    for (uint32_t attempt = 0; attempt < IO_BLOCKING_ATTEMPT_MAX; attempt++) {
        long value;
        if (operation == IO_OPERATION_ACCEPT) {
            value = accept4(completion->handle, NULL, NULL, SOCK_CLOEXEC);
        } else if (operation == IO_OPERATION_RECV) {
            value = recv(completion->handle, completion->buffer, completion->size_bytes, 0);
        } else {
            value =
                send(completion->handle, completion->buffer, completion->size_bytes, MSG_NOSIGNAL);
        }
        if (value >= 0 || errno != EINTR) {
            return io_blocking_result(value);
        }
    }
    return -EINTR;
}

/* Runs completion's operation now (every operation but TIMEOUT); returns its result. */
static int64_t io_blocking_perform(struct io_completion *completion)
{
    int handle = completion->handle;
    switch (completion->operation) {
    case IO_OPERATION_ACCEPT:
    case IO_OPERATION_RECV:
    case IO_OPERATION_SEND:
        return io_blocking_socket(completion);
    case IO_OPERATION_CONNECT:
        return io_blocking_connect(completion);
    case IO_OPERATION_CLOSE:
        return io_blocking_result(close(handle));
    case IO_OPERATION_OPEN:
        return io_blocking_open(completion);
    case IO_OPERATION_READ:
    case IO_OPERATION_WRITE:
        return io_blocking_transfer(completion);
    case IO_OPERATION_FALLOCATE:
        return io_blocking_result(
            fallocate(handle, 0, (off_t)completion->offset_bytes, (off_t)completion->size_bytes));
    case IO_OPERATION_FDATASYNC:
        return io_blocking_result(fdatasync(handle));
    case IO_OPERATION_FSYNC:
        return io_blocking_result(fsync(handle));
    case IO_OPERATION_SIZE:
        return io_blocking_size(completion);
    case IO_OPERATION_TRUNCATE:
        return io_blocking_result(ftruncate(handle, (off_t)completion->size_bytes));
    case IO_OPERATION_MKDIR:
        return io_blocking_result(mkdir(completion->path, IO_BLOCKING_DIRECTORY_MODE));
    case IO_OPERATION_LIST:
        return io_blocking_list(completion);
    case IO_OPERATION_RENAME:
        return io_blocking_result(rename(completion->path, completion->path_target));
    case IO_OPERATION_UNLINK:
        return io_blocking_result((completion->flags & IO_UNLINK_DIRECTORY)
                                      ? rmdir(completion->path)
                                      : unlink(completion->path));
    case IO_OPERATION_TIMEOUT:
    case IO_OPERATION_NONE:
    case IO_OPERATION_END:
        break;
    }
    unreachable_code();
}

static void io_blocking_ready_push(struct io_blocking *blocking, struct io_completion *completion)
{
    assert(completion->next == NULL);
    assert((blocking->ready_head == NULL) == (blocking->ready_count == 0));
    if (blocking->ready_tail == NULL) {
        blocking->ready_head = completion;
    } else {
        blocking->ready_tail->next = completion;
    }
    blocking->ready_tail = completion;
    blocking->ready_count++;
}

static struct io_completion *io_blocking_ready_pop(struct io_blocking *blocking)
{
    struct io_completion *completion = blocking->ready_head;
    assert(completion != NULL && blocking->ready_count > 0);
    blocking->ready_head = completion->next;
    if (blocking->ready_head == NULL) {
        blocking->ready_tail = NULL;
    }
    blocking->ready_count--;
    completion->next = NULL;
    return completion;
}

/* Inserts a timeout after every timer whose deadline is not later (stable). */
static void io_blocking_timer_insert(struct io_blocking *blocking, struct io_completion *completion)
{
    uint64_t deadline_ns = completion->backend_data[0];
    struct io_completion **link = &blocking->timer_head;
    for (uint32_t index = 0; index < blocking->timer_count; index++) {
        assert(*link != NULL);
        if ((*link)->backend_data[0] > deadline_ns) {
            break;
        }
        link = &(*link)->next;
    }
    completion->next = *link;
    *link = completion;
    blocking->timer_count++;
}

/* Moves every timer due at now_ns to the ready queue, earliest first. */
static void io_blocking_timers_expire(struct io_blocking *blocking, uint64_t now_ns)
{
    uint32_t timer_count = blocking->timer_count;
    for (uint32_t index = 0; index < timer_count; index++) {
        struct io_completion *timer = blocking->timer_head;
        assert(timer != NULL);
        if (timer->backend_data[0] > now_ns) {
            break;
        }
        blocking->timer_head = timer->next;
        blocking->timer_count--;
        timer->next = NULL;
        timer->result = 0;
        io_blocking_ready_push(blocking, timer);
    }
    assert((blocking->timer_head == NULL) == (blocking->timer_count == 0));
}

static void io_blocking_submit(struct io *io, struct io_completion *completion)
{
    struct io_blocking *blocking = io_blocking_from(io);
    assert(completion != NULL && completion->callback != NULL);
    assert(!completion->done);
    completion->next = NULL;
    if (completion->operation == IO_OPERATION_TIMEOUT) {
        completion->backend_data[0] = io_blocking_now_ns() + completion->size_bytes;
        io_blocking_timer_insert(blocking, completion);
        return;
    }
    completion->result = io_blocking_perform(completion);
    io_blocking_ready_push(blocking, completion);
}

/* Sleeps until the earliest timer is due, but no longer than wait_ns. */
static void io_blocking_sleep(const struct io_blocking *blocking, uint64_t wait_ns)
{
    assert(blocking->timer_head != NULL);
    assert(wait_ns > 0);
    uint64_t now_ns = io_blocking_now_ns();
    uint64_t until_ns = blocking->timer_head->backend_data[0];
    if (until_ns > now_ns && until_ns - now_ns > wait_ns) {
        until_ns = now_ns + wait_ns;
    }
    struct timespec until = {.tv_sec = (time_t)(until_ns / IO_BLOCKING_NS_PER_S),
                             .tv_nsec = (long)(until_ns % IO_BLOCKING_NS_PER_S)};
    for (uint32_t attempt = 0; attempt < IO_BLOCKING_ATTEMPT_MAX; attempt++) {
        int result = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
        if (result != EINTR) {
            assert(result == 0);
            return;
        }
    }
}

static uint32_t io_blocking_run(struct io *io, uint64_t wait_ns)
{
    struct io_blocking *blocking = io_blocking_from(io);
    assert_msg(!blocking->is_running, "io_run: called from inside a callback");
    blocking->is_running = true;
    io_blocking_timers_expire(blocking, io_blocking_now_ns());
    if (blocking->ready_count == 0 && blocking->timer_count > 0 && wait_ns > 0) {
        io_blocking_sleep(blocking, wait_ns);
        io_blocking_timers_expire(blocking, io_blocking_now_ns());
    }
    /* Only what is ready now: callbacks that submit more wait for the next run. */
    uint32_t delivered_count = blocking->ready_count;
    for (uint32_t index = 0; index < delivered_count; index++) {
        struct io_completion *completion = io_blocking_ready_pop(blocking);
        assert(!completion->done);
        completion->done = true;
        completion->callback(completion);
    }
    assert(blocking->io.backend == &io_blocking_backend);
    assert(blocking->is_running);
    blocking->is_running = false;
    return delivered_count;
}

static uint32_t io_blocking_pending_count(const struct io *io)
{
    const struct io_blocking *blocking = io_blocking_from(io);
    assert(blocking->ready_count <= UINT32_MAX - blocking->timer_count);
    return blocking->ready_count + blocking->timer_count;
}

static bool io_blocking_probe_direct(struct io *io, const char *path)
{
    io_blocking_from(io);
    assert(path != NULL);
    static const _Alignas(IO_SECTOR_SIZE) uint8_t sector[IO_SECTOR_SIZE];
    char probe_path[IO_PATH_SIZE_MAX + 64];
    int printed = snprintf(probe_path, sizeof(probe_path), "%s/.runnel-direct-probe-%ld", path,
                           (long)getpid());
    if (printed < 0 || (size_t)printed >= sizeof(probe_path)) {
        return false;
    }
    int file =
        open(probe_path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, IO_BLOCKING_FILE_MODE);
    if (file < 0) {
        return false; /* EINVAL: no O_DIRECT here; anything else: cannot tell, say no */
    }
    ssize_t written = -1;
    for (uint32_t attempt = 0; attempt < IO_BLOCKING_ATTEMPT_MAX; attempt++) {
        written = pwrite(file, sector, IO_SECTOR_SIZE, 0);
        if (written >= 0 || errno != EINTR) {
            break;
        }
    }
    close(file);
    unlink(probe_path);
    return written == IO_SECTOR_SIZE;
}

static const struct io_backend io_blocking_backend = {
    .submit = io_blocking_submit,
    .run = io_blocking_run,
    .probe_direct = io_blocking_probe_direct,
    .pending_count = io_blocking_pending_count,
};

int io_blocking_init(struct io_blocking *blocking)
{
    assert(blocking != NULL);
    memset(blocking, 0, sizeof(*blocking));
    blocking->io.backend = &io_blocking_backend;
    assert(io_blocking_pending_count(&blocking->io) == 0);
    return 0;
}

void io_blocking_deinit(struct io_blocking *blocking)
{
    assert(blocking != NULL);
    assert(blocking->io.backend == &io_blocking_backend);
    memset(blocking, 0, sizeof(*blocking));
    assert(blocking->io.backend == NULL);
}
