/*
 * The VSR journal over a storage partition (see journal_partition.h). Owns the read
 * buffer, the held record and the ring of unreported writes. Runs on the shard that owns
 * the group; all I/O goes through the partition (lib/io.h).
 */
#include "vsr/journal_partition.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { JOURNAL_PARTITION_WAIT_ROUNDS_MAX = 100000 };

int journal_partition_init(struct journal_partition *journal, struct partition *partition,
                           uint32_t record_size_bytes_max, uint32_t writes_max)
{
    assert(journal != NULL && partition != NULL);
    assert(record_size_bytes_max >= VSR_HEADER_SIZE && writes_max >= 2);
    memset(journal, 0, sizeof(*journal));
    journal->partition = partition;
    journal->read_buffer_size_bytes =
        ((uint64_t)record_size_bytes_max + 3 * IO_SECTOR_SIZE) & ~(uint64_t)(IO_SECTOR_SIZE - 1);
    journal->read_buffer = aligned_alloc(IO_SECTOR_SIZE, journal->read_buffer_size_bytes);
    journal->held = malloc(record_size_bytes_max);
    journal->writes = calloc(writes_max, sizeof(struct journal_partition_write));
    journal->writes_max = writes_max;
    if (journal->read_buffer == NULL || journal->held == NULL || journal->writes == NULL) {
        journal_partition_deinit(journal);
        return -ENOMEM;
    }
    return 0;
}

void journal_partition_deinit(struct journal_partition *journal)
{
    assert(journal != NULL);
    free(journal->read_buffer);
    free(journal->held);
    free(journal->writes);
    journal->read_buffer = NULL;
    journal->held = NULL;
    journal->writes = NULL;
    assert(journal->writes == NULL);
}

void journal_partition_attach(struct journal_partition *journal, struct vsr_replica *replica)
{
    assert(journal != NULL && replica != NULL);
    assert(journal->replica == NULL || journal->replica == replica);
    journal->replica = replica;
}

static void journal_partition_writes_push(struct journal_partition *journal,
                                          const struct vsr_header *header)
{
    assert(journal->writes_count < journal->writes_max);
    assert(header->u.prepare.op > 0);
    uint32_t at = (journal->writes_head + journal->writes_count) % journal->writes_max;
    journal->writes[at].op = header->u.prepare.op;
    journal->writes[at].checksum = header->checksum;
    journal->writes_count++;
}

static int journal_partition_write(const struct vsr_header *header, const void *body, void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL && header != NULL);
    assert(header->command == VSR_COMMAND_PREPARE);
    if (journal->failed != 0) {
        return journal->failed;
    }
    if (journal->has_held || journal->writes_count == journal->writes_max) {
        return -RUNNEL_EFULL;
    }
    static const uint8_t empty[1] = {0};
    if (body == NULL) {
        assert(header->size == VSR_HEADER_SIZE);
        body = empty; /* a bodiless prepare (register): never a NULL for memcpy */
    }
    int result = partition_append(journal->partition, header, body);
    if (result == -RUNNEL_EFULL) {
        /* A full segment or buffer: hold the record, rotate or drain, append in the pass. */
        memcpy(journal->held, header, VSR_HEADER_SIZE);
        memcpy(journal->held + VSR_HEADER_SIZE, body, header->size - VSR_HEADER_SIZE);
        journal->has_held = true;
        (void)partition_flush(journal->partition);
        result = 0;
    }
    if (result != 0) {
        journal->failed = result;
        return result;
    }
    journal_partition_writes_push(journal, header);
    return 0;
}

static void journal_partition_read_callback(struct partition_read *read, void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL && read == &journal->read);
    journal->is_read_done = true;
}

/* Waits for an asynchronous read (start-up replay, or a record that left the tail). */
static int journal_partition_read_wait(struct journal_partition *journal)
{
    assert(!journal->is_read_done || journal->read.result <= 0);
    journal->reads_blocking_count++;
    for (uint32_t round = 0; round < JOURNAL_PARTITION_WAIT_ROUNDS_MAX; round++) {
        if (journal->is_read_done) {
            return journal->read.result;
        }
        (void)io_run(journal->partition->io, 1000 * 1000);
    }
    log_error("journal_read_stuck", "directory=%s op=%llu", journal->partition->options.directory,
              (unsigned long long)journal->read.op);
    return -ETIMEDOUT;
}

static int journal_partition_read(uint64_t op, struct vsr_header *header_out, void *body_out,
                                  uint32_t body_size_max, void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL && header_out != NULL);
    journal->is_read_done = false;
    int result = partition_read_op(journal->partition, &journal->read, op, journal->read_buffer,
                                   journal->read_buffer_size_bytes, journal_partition_read_callback,
                                   journal);
    if (result == 0) {
        result = journal_partition_read_wait(journal);
    } else if (result == 1) {
        result = journal->read.result;
    }
    if (result != 0) {
        return result == -RUNNEL_ECHECKSUM ? -RUNNEL_EFAULTY : result;
    }
    memcpy(header_out, journal->read.record, VSR_HEADER_SIZE);
    uint32_t body_size = header_out->size - VSR_HEADER_SIZE;
    if (body_out != NULL) {
        if (body_size > body_size_max) {
            return -RUNNEL_EFAULTY;
        }
        memcpy(body_out, journal->read.record + VSR_HEADER_SIZE, body_size);
    }
    return 0;
}

static void journal_partition_truncate(uint64_t op_min, void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL);
    assert(op_min > 0);
    if (op_min > journal->partition->op_last) {
        return;
    }
    /* The storage partition has no suffix truncation yet: only a multi-replica view change
     * asks for it. Counted and logged; the entries stay (they are canonical at n = 1). */
    journal->truncate_refused_count++;
    log_warn("journal_truncate_refused", "directory=%s op_min=%llu op_last=%llu",
             journal->partition->options.directory, (unsigned long long)op_min,
             (unsigned long long)journal->partition->op_last);
}

static uint64_t journal_partition_op_max(void *context)
{
    const struct journal_partition *journal = context;
    assert(journal != NULL && journal->partition != NULL);
    uint64_t op_max = journal->partition->op_last;
    uint32_t faulty = partition_faulty_count(journal->partition);
    for (uint32_t index = 0; index < faulty; index++) {
        uint64_t op = partition_faulty_op(journal->partition, index);
        op_max = op > op_max ? op : op_max;
    }
    return op_max;
}

struct vsr_journal journal_partition_interface(struct journal_partition *journal)
{
    assert(journal != NULL);
    assert(journal->partition != NULL);
    struct vsr_journal interface = {
        .write = journal_partition_write,
        .read = journal_partition_read,
        .truncate = journal_partition_truncate,
        .op_max = journal_partition_op_max,
        .context = journal,
    };
    return interface;
}

void journal_partition_on_durable(struct journal_partition *journal, uint64_t op_durable,
                                  int result)
{
    assert(journal != NULL);
    assert(result <= 0);
    if (result < 0) {
        journal->failed = result;
        return;
    }
    if (op_durable > journal->op_durable) {
        journal->op_durable = op_durable;
    }
}

/* Appends the held record once the rotation made room. */
static int journal_partition_retry_held(struct journal_partition *journal)
{
    assert(journal->has_held);
    const struct vsr_header *header = (const struct vsr_header *)(void *)journal->held;
    assert(header->command == VSR_COMMAND_PREPARE);
    if (partition_is_flushing(journal->partition)) {
        return 0;
    }
    int result = partition_append(journal->partition, header, journal->held + VSR_HEADER_SIZE);
    if (result == 0) {
        journal->has_held = false;
        return 0;
    }
    if (result == -RUNNEL_EFULL) {
        return partition_flush(journal->partition); /* rotates, then retried next pass */
    }
    return result;
}

int journal_partition_pass(struct journal_partition *journal)
{
    assert(journal != NULL);
    assert(journal->writes_count <= journal->writes_max);
    if (journal->failed == 0 && journal->has_held) {
        journal->failed = journal_partition_retry_held(journal);
    }
    if (journal->failed == 0) {
        int result = partition_flush(journal->partition);
        journal->failed = result;
    }
    for (uint32_t round = 0; round < journal->writes_max && journal->writes_count > 0; round++) {
        struct journal_partition_write write = journal->writes[journal->writes_head];
        if (write.op > journal->op_durable) {
            break;
        }
        journal->writes_head = (journal->writes_head + 1) % journal->writes_max;
        journal->writes_count--;
        if (journal->replica != NULL) {
            vsr_replica_on_journal_write(journal->replica, write.op, write.checksum);
        }
    }
    return journal->failed;
}

bool journal_partition_is_blocked(const struct journal_partition *journal)
{
    assert(journal != NULL);
    assert(journal->writes_count <= journal->writes_max);
    return journal->has_held || journal->failed != 0 ||
           journal->writes_count + 1 >= journal->writes_max;
}

bool journal_partition_is_busy(const struct journal_partition *journal)
{
    assert(journal != NULL);
    assert(journal->partition != NULL);
    return journal->writes_count > 0 || journal->has_held ||
           partition_is_flushing(journal->partition);
}
