/* The replica bus's inbox (replica_bus_inbox.h): a byte ring of copied messages. */
#include "node/replica_bus_inbox.h"

#include "lib/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { INBOX_ALIGN = 16, INBOX_PREFIX = 16, INBOX_CAPACITY_MIN = 4u << 20 };

static uint32_t inbox_entry_size(uint32_t message_size)
{
    return (INBOX_PREFIX + message_size + INBOX_ALIGN - 1) & ~(uint32_t)(INBOX_ALIGN - 1);
}

int replica_bus_inbox_init(struct replica_bus_inbox *inbox, uint32_t message_size_max)
{
    assert(inbox != NULL);
    assert(message_size_max >= VSR_HEADER_SIZE && message_size_max <= (1u << 30));
    memset(inbox, 0, sizeof(*inbox));
    uint32_t capacity = 2 * inbox_entry_size(message_size_max) + INBOX_ALIGN;
    capacity = capacity < INBOX_CAPACITY_MIN ? INBOX_CAPACITY_MIN : capacity;
    capacity = (capacity + 63u) & ~63u;
    inbox->ring = aligned_alloc(64, capacity);
    if (inbox->ring == NULL) {
        return -ENOMEM;
    }
    inbox->capacity = capacity;
    return 0;
}

void replica_bus_inbox_deinit(struct replica_bus_inbox *inbox)
{
    assert(inbox != NULL);
    free(inbox->ring);
    inbox->ring = NULL;
    inbox->capacity = 0;
}

/* Where an entry of size bytes goes, or UINT32_MAX when it does not fit (never split). */
static uint32_t inbox_place(struct replica_bus_inbox *inbox, uint32_t size)
{
    if (inbox->is_wrapped) {
        return inbox->head - inbox->tail >= size ? inbox->tail : UINT32_MAX;
    }
    if (inbox->capacity - inbox->tail >= size) {
        return inbox->tail;
    }
    if (inbox->head >= size) { /* the free start of the ring (tail may meet head: full) */
        inbox->wrap_end = inbox->tail;
        inbox->is_wrapped = true;
        inbox->tail = 0;
        return 0;
    }
    return UINT32_MAX;
}

bool replica_bus_inbox_push(struct replica_bus_inbox *inbox, const struct vsr_header *header,
                            const void *body)
{
    assert(inbox != NULL && inbox->ring != NULL && header != NULL);
    if (header->size < VSR_HEADER_SIZE || header->size > inbox->capacity / 2) {
        inbox->dropped++;
        return false;
    }
    uint32_t body_size = header->size - VSR_HEADER_SIZE;
    assert(body_size == 0 || body != NULL);
    uint32_t size = inbox_entry_size(header->size);
    uint32_t at = inbox_place(inbox, size);
    if (at == UINT32_MAX) {
        inbox->dropped++;
        return false;
    }
    assert(at % INBOX_ALIGN == 0 && at + size <= inbox->capacity);
    memcpy(inbox->ring + at, &size, sizeof(size));
    memcpy(inbox->ring + at + INBOX_PREFIX, header, VSR_HEADER_SIZE);
    if (body_size > 0) {
        memcpy(inbox->ring + at + INBOX_PREFIX + VSR_HEADER_SIZE, body, body_size);
    }
    inbox->tail = at + size;
    inbox->count++;
    inbox->deferred++;
    return true;
}

const struct vsr_header *replica_bus_inbox_peek(const struct replica_bus_inbox *inbox,
                                                const void **body_out)
{
    assert(inbox != NULL && body_out != NULL);
    if (inbox->count == 0) {
        return NULL;
    }
    const uint8_t *entry = inbox->ring + inbox->head;
    *body_out = entry + INBOX_PREFIX + VSR_HEADER_SIZE;
    return (const struct vsr_header *)(const void *)(entry + INBOX_PREFIX);
}

void replica_bus_inbox_pop(struct replica_bus_inbox *inbox)
{
    assert(inbox != NULL && inbox->count > 0);
    uint32_t size = 0;
    memcpy(&size, inbox->ring + inbox->head, sizeof(size));
    assert(size >= INBOX_PREFIX + VSR_HEADER_SIZE && inbox->head + size <= inbox->capacity);
    inbox->head += size;
    inbox->count--;
    if (inbox->is_wrapped && inbox->head == inbox->wrap_end) {
        inbox->head = 0;
        inbox->is_wrapped = false;
    }
    if (inbox->count == 0) {
        inbox->head = 0;
        inbox->tail = 0;
        inbox->is_wrapped = false;
    }
}
