/*
 * Background scrub of sealed segments (storage/scrub.h): one verified record read per
 * step, in op order, wrapping around. Owns only the caller's struct scrub; runs on the
 * shard that owns the partition; reads go through partition_read_op (lib/io.h).
 */
#include "storage/scrub.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <inttypes.h>
#include <string.h>

void scrub_init(struct scrub *scrub, struct partition *partition, uint8_t *buffer,
                uint64_t buffer_size_bytes, scrub_callback callback, void *context)
{
    assert(scrub != NULL && partition != NULL && callback != NULL);
    assert(buffer != NULL && io_is_sector_aligned((uint64_t)(uintptr_t)buffer));
    memset(scrub, 0, sizeof(*scrub));
    scrub->partition = partition;
    scrub->buffer = buffer;
    scrub->buffer_size_bytes = buffer_size_bytes;
    scrub->callback = callback;
    scrub->context = context;
}

/* The sealed ops [first, end), from the segment table; false when there are none. */
static bool scrub_range(const struct partition *partition, uint64_t *first_out, uint64_t *end_out)
{
    assert(first_out != NULL && end_out != NULL);
    *first_out = UINT64_MAX;
    *end_out = 0;
    for (uint32_t index = 0; index + 1 < partition->segment_count; index++) {
        const struct partition_segment *segment = &partition->segments[index];
        if (segment->op_first == UINT64_MAX || segment->entry_count == 0) {
            continue;
        }
        *first_out = *first_out < segment->op_first ? *first_out : segment->op_first;
        *end_out = segment->op_first + segment->entry_count;
    }
    return *first_out != UINT64_MAX && *end_out > *first_out;
}

static void scrub_finish(struct scrub *scrub, uint64_t op, int result)
{
    assert(scrub->is_busy);
    scrub->is_busy = false;
    if (result == 0) {
        scrub->verified_count++;
    } else if (result == -RUNNEL_EFAULTY) {
        scrub->damaged_count++;
        log_warn("scrub_found_damage", "directory=%s op=%" PRIu64,
                 scrub->partition->options.directory, op);
    }
    scrub->callback(scrub, op, result, scrub->context);
}

static void scrub_read_callback(struct partition_read *read, void *context)
{
    struct scrub *scrub = context;
    assert(scrub != NULL && read == &scrub->read);
    scrub_finish(scrub, read->op, read->result);
}

int scrub_step(struct scrub *scrub)
{
    assert(scrub != NULL && scrub->partition != NULL);
    struct partition *partition = scrub->partition;
    if (partition->failed != 0) {
        return partition->failed;
    }
    if (scrub->is_busy) {
        return -RUNNEL_ESTATE;
    }
    uint64_t first = 0;
    uint64_t end = 0;
    if (!scrub_range(partition, &first, &end)) {
        return 1;
    }
    /* Skip ops awaiting repair (bounded by the faulty table). */
    uint64_t op = scrub->op_next;
    for (uint32_t guard = 0; guard <= partition->options.faulty_max + 1; guard++) {
        if (op < first || op >= end) {
            scrub->cycle_count += op >= end ? 1 : 0;
            op = first;
        }
        if (!partition_is_faulty(partition, op)) {
            break;
        }
        op++;
    }
    scrub->op_next = op + 1;
    scrub->is_busy = true;
    int result = partition_read_op(partition, &scrub->read, op, scrub->buffer,
                                   scrub->buffer_size_bytes, scrub_read_callback, scrub);
    if (result == 0) {
        return 0;
    }
    scrub_finish(scrub, op, result == 1 ? scrub->read.result : result);
    return 0;
}
