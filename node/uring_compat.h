/*
 * The one place that includes <liburing.h> (only node/runtime_uring.c includes this
 * header). Debian ships liburing 2.3 while the target kernel is 6.18: this header fills
 * the gaps 2.3 leaves (research/iouring.md §7) so the runtime code reads as if it had a
 * newer liburing:
 *   - io_uring_setup_buf_ring (2.4): a provided-buffer ring set up by hand (mmap +
 *     io_uring_register_buf_ring + io_uring_buf_ring_init);
 *   - constants newer than the 2.3 uapi header, behind #ifndef (SINGLE_ISSUER,
 *     DEFER_TASKRUN, send_zc's usage report); 2.3 has io_uring_prep_send_zc and
 *     io_uring_prep_sendmsg_zc themselves.
 * Runs on whichever shard owns the ring.
 */
#ifndef RUNNEL_NODE_URING_COMPAT_H
#define RUNNEL_NODE_URING_COMPAT_H

#include <liburing.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
/* send_zc: ask the notification to say whether the kernel copied after all (6.2). */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

/*
 * Maps and registers a provided-buffer ring of entries (a power of two) as group_id on
 * ring. Returns the ring (already initialised, tail 0) or NULL with *error_out set to a
 * negative errno. Free with uring_compat_free_buf_ring.
 */
static inline struct io_uring_buf_ring *uring_compat_setup_buf_ring(struct io_uring *ring,
                                                                    uint32_t entries,
                                                                    uint16_t group_id,
                                                                    int *error_out)
{
    size_t size_bytes = (size_t)entries * sizeof(struct io_uring_buf);
    void *memory =
        mmap(NULL, size_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (memory == MAP_FAILED) {
        *error_out = -errno;
        return NULL;
    }
    struct io_uring_buf_reg registration = {0};
    registration.ring_addr = (uint64_t)(uintptr_t)memory;
    registration.ring_entries = entries;
    registration.bgid = group_id;
    int result = io_uring_register_buf_ring(ring, &registration, 0);
    if (result != 0) {
        munmap(memory, size_bytes);
        *error_out = result;
        return NULL;
    }
    struct io_uring_buf_ring *buffer_ring = memory;
    io_uring_buf_ring_init(buffer_ring);
    *error_out = 0;
    return buffer_ring;
}

/* Unregisters and unmaps a ring made by uring_compat_setup_buf_ring. */
static inline void uring_compat_free_buf_ring(struct io_uring *ring,
                                              struct io_uring_buf_ring *buffer_ring,
                                              uint32_t entries, uint16_t group_id)
{
    (void)io_uring_unregister_buf_ring(ring, group_id);
    munmap(buffer_ring, (size_t)entries * sizeof(struct io_uring_buf));
}

#endif
