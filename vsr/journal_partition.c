/*
 * The VSR journal over a storage partition (see journal_partition.h). Owns the read
 * buffer, the parked records, the repair scratch and the rings of unreported writes. Runs
 * on the shard that owns the group; all I/O goes through the partition (lib/io.h).
 */
#include "vsr/journal_partition.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { JOURNAL_PARTITION_WAIT_ROUNDS_MAX = 100000 };

int journal_partition_init_parked(struct journal_partition *journal, struct partition *partition,
                                  uint32_t record_size_bytes_max, uint32_t writes_max,
                                  uint32_t parked_max)
{
    assert(journal != NULL && partition != NULL);
    assert(record_size_bytes_max >= VSR_HEADER_SIZE && writes_max >= 2 && parked_max >= 1);
    memset(journal, 0, sizeof(*journal));
    journal->partition = partition;
    /* What the open recovered is durable: a parked write of an op held there with the same
     * checksum is reported at once. At 0, such a write waited for a durable report that no
     * append would bring, was given up and fetched again for ever (runnel-sim --storage
     * --storage-misdirect --seed 11551: a replica's commit stuck below its faulty op 15). */
    journal->op_durable = partition->op_durable;
    journal->record_size_bytes_max = record_size_bytes_max;
    journal->read_buffer_size_bytes =
        ((uint64_t)record_size_bytes_max + 3 * IO_SECTOR_SIZE) & ~(uint64_t)(IO_SECTOR_SIZE - 1);
    journal->read_buffer = aligned_alloc(IO_SECTOR_SIZE, journal->read_buffer_size_bytes);
    journal->repair_buffer = aligned_alloc(IO_SECTOR_SIZE, journal->read_buffer_size_bytes);
    journal->writes = calloc(writes_max, sizeof(struct journal_partition_write));
    /* A report comes from a ring entry or a parked record, each at most once. */
    journal->reports =
        calloc((size_t)writes_max + parked_max, sizeof(struct journal_partition_report));
    journal->parked = calloc(parked_max, sizeof(struct journal_partition_parked));
    journal->writes_max = writes_max;
    journal->parked_max = parked_max;
    bool ok = journal->read_buffer != NULL && journal->repair_buffer != NULL &&
              journal->writes != NULL && journal->reports != NULL && journal->parked != NULL;
    for (uint32_t index = 0; ok && index < parked_max; index++) {
        journal->parked[index].record = malloc(record_size_bytes_max);
        ok = journal->parked[index].record != NULL;
    }
    if (!ok) {
        journal_partition_deinit(journal);
        return -ENOMEM;
    }
    return 0;
}

int journal_partition_init(struct journal_partition *journal, struct partition *partition,
                           uint32_t record_size_bytes_max, uint32_t writes_max)
{
    assert(journal != NULL && partition != NULL);
    assert(writes_max >= 2);
    return journal_partition_init_parked(journal, partition, record_size_bytes_max, writes_max, 1);
}

void journal_partition_deinit(struct journal_partition *journal)
{
    assert(journal != NULL);
    for (uint32_t index = 0; journal->parked != NULL && index < journal->parked_max; index++) {
        free(journal->parked[index].record);
    }
    free(journal->parked);
    free(journal->read_buffer);
    free(journal->repair_buffer);
    free(journal->writes);
    free(journal->reports);
    journal->parked = NULL;
    journal->read_buffer = NULL;
    journal->repair_buffer = NULL;
    journal->writes = NULL;
    journal->reports = NULL;
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

/* Queues a report for the next pass (checksum as given: see journal_partition.h). */
static void journal_partition_report_as(struct journal_partition *journal, uint64_t op,
                                        u128 checksum, bool held)
{
    assert(journal->reports_count < journal->writes_max + journal->parked_max);
    assert(op > 0 && checksum != 0);
    journal->reports[journal->reports_count].op = op;
    journal->reports[journal->reports_count].checksum = checksum;
    journal->reports[journal->reports_count].held = held;
    journal->reports_count++;
}

static void journal_partition_report(struct journal_partition *journal, uint64_t op, u128 checksum)
{
    journal_partition_report_as(journal, op, checksum, true);
}

/* The checksum a not-held report of (op, checksum) carries: it names no prepare. */
static u128 journal_partition_unheld_checksum(u128 checksum)
{
    u128 lost = checksum ^ 1;
    return lost != 0 ? lost : 2;
}

/* The journal gave up on a write of (op, checksum): report that it holds no such prepare. */
static void journal_partition_report_lost(struct journal_partition *journal, uint64_t op,
                                          u128 checksum)
{
    assert(op > 0);
    journal->given_up_count++;
    journal_partition_report_as(journal, op, journal_partition_unheld_checksum(checksum), false);
}

static bool journal_partition_continues(const struct partition *partition,
                                        const struct vsr_header *header)
{
    return header->u.prepare.op == partition->op_last + 1 &&
           (!partition->is_chain_known || header->u.prepare.parent == partition->checksum_last);
}

static bool journal_partition_has_room(const struct journal_partition *journal)
{
    assert(journal->writes_count <= journal->writes_max);
    assert(journal->reports_count <= journal->writes_max + journal->parked_max);
    return journal->writes_count + journal->reports_count + 1 < journal->writes_max;
}

static int journal_partition_park(struct journal_partition *journal,
                                  const struct vsr_header *header, const void *body)
{
    assert(header->size <= journal->record_size_bytes_max);
    for (uint32_t index = 0; index < journal->parked_max; index++) {
        struct journal_partition_parked *parked = &journal->parked[index];
        if (!parked->used) {
            memcpy(parked->record, header, VSR_HEADER_SIZE);
            memcpy(parked->record + VSR_HEADER_SIZE, body, header->size - VSR_HEADER_SIZE);
            parked->used = true;
            parked->is_repairing = false;
            parked->is_replacing = false;
            parked->passes = 0;
            journal->parked_count++;
            return 0;
        }
    }
    return -RUNNEL_EFULL;
}

static int journal_partition_write(const struct vsr_header *header, const void *body, void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL && header != NULL);
    assert(header->command == VSR_COMMAND_PREPARE);
    if (journal->failed != 0) {
        return journal->failed;
    }
    if (!journal_partition_has_room(journal) || journal->parked_count == journal->parked_max) {
        return -RUNNEL_EFULL;
    }
    static const uint8_t empty[1] = {0};
    if (body == NULL) {
        assert(header->size == VSR_HEADER_SIZE);
        body = empty; /* a bodiless prepare (register): never a NULL for memcpy */
    }
    if (header->u.prepare.op > journal->partition->op_last + 1 + journal->parked_max) {
        /* Beyond what the parked records could ever bridge (a backup far behind hearing
         * the primary's head): refused now instead of holding a parked slot until it is
         * given up; the replica fetches it again once the ops below it landed. */
        journal->refused_far_count++;
        return -RUNNEL_EFULL;
    }
    if (journal->parked_count > 0 || !journal_partition_continues(journal->partition, header)) {
        return journal_partition_park(journal, header, body);
    }
    int result = partition_append(journal->partition, header, body);
    if (result == -RUNNEL_EFULL) {
        /* A full segment or buffer: park the record, rotate or drain, append in the pass. */
        (void)partition_flush(journal->partition);
        return journal_partition_park(journal, header, body);
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

/* A read started inside dispatch: 1 when it answers op now (result in *result_out), 0 when
 * it is out of the way (done for another op, or waited out), -EAGAIN while in flight and
 * waiting is not allowed. */
static int journal_partition_read_deferred(struct journal_partition *journal, uint64_t op,
                                           int *result_out)
{
    assert(journal->is_read_deferred);
    if (!journal->is_read_done) {
        if (!io_can_wait(journal->partition->io)) {
            return -EAGAIN;
        }
        (void)journal_partition_read_wait(journal);
        if (!journal->is_read_done) {
            return -ETIMEDOUT; /* still in flight: stays deferred */
        }
    }
    journal->is_read_deferred = false;
    if (journal->read_deferred_op == op) {
        *result_out = journal->read.result;
        return 1;
    }
    return 0;
}

/* Reads op's record into read_buffer: 0 (journal->read.record), -RUNNEL_EFAULTY,
 * -RUNNEL_ENOTFOUND, -EAGAIN (inside dispatch: started, ask again later) or an I/O error. */
static int journal_partition_read_record(struct journal_partition *journal, uint64_t op)
{
    assert(journal != NULL && op > 0);
    int result = 0;
    if (journal->is_read_deferred) {
        int state = journal_partition_read_deferred(journal, op, &result);
        if (state != 0) {
            return state == 1 ? (result == -RUNNEL_ECHECKSUM ? -RUNNEL_EFAULTY : result) : state;
        }
    }
    assert(!journal->is_read_deferred);
    journal->is_read_done = false;
    result = partition_read_op(journal->partition, &journal->read, op, journal->read_buffer,
                               journal->read_buffer_size_bytes, journal_partition_read_callback,
                               journal);
    if (result == 0 && !io_can_wait(journal->partition->io)) {
        journal->is_read_deferred = true;
        journal->read_deferred_op = op;
        journal->reads_deferred_count++;
        return -EAGAIN;
    }
    if (result == 0) {
        result = journal_partition_read_wait(journal);
    } else if (result == 1) {
        result = journal->read.result;
    }
    return result == -RUNNEL_ECHECKSUM ? -RUNNEL_EFAULTY : result;
}

static int journal_partition_read(uint64_t op, struct vsr_header *header_out, void *body_out,
                                  uint32_t body_size_max, void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL && header_out != NULL);
    /* A record still in the tail buffer (a commit right after its write) is copied out
     * once from there instead of through the read buffer. */
    uint32_t size = 0;
    const uint8_t *record = partition_tail_record(journal->partition, op, &size);
    if (record == NULL) {
        int result = journal_partition_read_record(journal, op);
        if (result != 0) {
            return result;
        }
        record = journal->read.record;
    }
    memcpy(header_out, record, VSR_HEADER_SIZE);
    uint32_t body_size = header_out->size - VSR_HEADER_SIZE;
    assert(size == 0 || header_out->size == size);
    if (body_out != NULL) {
        if (body_size > body_size_max) {
            return -RUNNEL_EFAULTY;
        }
        memcpy(body_out, record + VSR_HEADER_SIZE, body_size);
    }
    return 0;
}

/* What the partition holds at op (<= op_last): 0 with *checksum_out (verified), or
 * -RUNNEL_EFAULTY (*checksum_out: the index's copy when known, else 0). */
static int journal_partition_held(struct journal_partition *journal, uint64_t op,
                                  u128 *checksum_out)
{
    struct partition *partition = journal->partition;
    assert(op >= 1 && op <= partition->op_last);
    *checksum_out = 0;
    struct partition_segment *tail = &partition->segments[partition->segment_count - 1];
    bool in_tail = tail->op_first != UINT64_MAX && op >= tail->op_first &&
                   op - tail->op_first < partition->entry_count;
    if (in_tail) {
        const struct partition_entry *entry = &partition->entries[op - tail->op_first];
        *checksum_out = entry->checksum;
        return entry->is_faulty || partition_is_faulty(partition, op) ? -RUNNEL_EFAULTY : 0;
    }
    int result = journal_partition_read_record(journal, op);
    if (result == 0) {
        *checksum_out = journal->read.header.checksum;
    }
    return result;
}

/* Drops every unreported append at op_min and above: reported as not held. */
static void journal_partition_writes_cut(struct journal_partition *journal, uint64_t op_min)
{
    assert(journal->writes_count <= journal->writes_max);
    for (uint32_t round = 0; round < journal->writes_max && journal->writes_count > 0; round++) {
        uint32_t last = (journal->writes_head + journal->writes_count - 1) % journal->writes_max;
        if (journal->writes[last].op < op_min) {
            break;
        }
        journal_partition_report_lost(journal, journal->writes[last].op,
                                      journal->writes[last].checksum);
        journal->writes_count--;
    }
}

/*
 * A cut removed what the first queued reports (those queued before it) say the log holds
 * at op_min and above: each becomes a not-held report. Every accepted write is reported
 * once: a dropped report left the replica waiting on a write in flight that no longer
 * was (its entry never fetched again: the journal kept a hole below every later write,
 * runnel-sim --storage --storage-misdirect --seed 3355), and one delivered as held
 * would claim a prepare the log lost.
 */
static void journal_partition_reports_unhold(struct journal_partition *journal, uint64_t op_min,
                                             uint32_t queued)
{
    assert(op_min > 0);
    assert(queued <= journal->reports_count);
    for (uint32_t index = 0; index < queued; index++) {
        struct journal_partition_report *report = &journal->reports[index];
        if (report->held && report->op >= op_min) {
            report->checksum = journal_partition_unheld_checksum(report->checksum);
            report->held = false;
            journal->unheld_count++;
        }
    }
}

/* A cut the replica did not ask for (landing another prepare at op_min, or a reopen that
 * kept less than asked): the next pass tells the replica first
 * (vsr_replica_on_journal_cut), before any report. */
static void journal_partition_cut_note(struct journal_partition *journal, uint64_t op_min)
{
    assert(op_min > 0);
    if (journal->cut_min == 0 || op_min < journal->cut_min) {
        journal->cut_min = op_min;
    }
}

/* Cuts the log at op_min, or with restart (op_min 1) begins it again at restart's op
 * (partition_restart); synchronous, outside dispatch; 0 or -RUNNEL_ESTATE to retry. */
static int journal_partition_cut(struct journal_partition *journal, uint64_t op_min,
                                 const struct vsr_header *restart)
{
    assert(op_min > 0);
    assert(restart == NULL || op_min == 1);
    if (journal->is_repairing) {
        return -RUNNEL_ESTATE;
    }
    uint32_t queued = journal->reports_count;
    int result = restart != NULL ? partition_restart(journal->partition, restart)
                                 : partition_truncate_suffix(journal->partition, op_min);
    if (result == -RUNNEL_ESTATE) {
        return result;
    }
    if (result != 0) {
        journal->failed = result;
        return result;
    }
    journal->truncations_count++;
    journal->op_durable = journal->partition->op_durable;
    /* The reopen after the cut may keep less than asked (a damaged tail index entry makes
     * recovery cut at it): what it lost below op_min is reported as an own cut. */
    uint64_t lost_min = journal->partition->op_last + 1;
    uint64_t gone_min = restart != NULL ? 1 : (lost_min < op_min ? lost_min : op_min);
    journal_partition_reports_unhold(journal, gone_min, queued);
    journal_partition_writes_cut(journal, gone_min);
    if (restart == NULL && lost_min < op_min) {
        journal->lost_below_cut_count++;
        journal_partition_cut_note(journal, lost_min);
    }
    return 0;
}

static void journal_partition_parked_free(struct journal_partition *journal,
                                          struct journal_partition_parked *parked)
{
    assert(parked->used && journal->parked_count > 0);
    assert(!parked->is_repairing);
    parked->used = false;
    journal->parked_count--;
}

static void journal_partition_repair_callback(struct partition_repair *repair, int result,
                                              void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL && repair == &journal->repair);
    assert(journal->is_repairing);
    journal->is_repairing = false;
    for (uint32_t index = 0; index < journal->parked_max; index++) {
        struct journal_partition_parked *parked = &journal->parked[index];
        if (parked->used && parked->is_repairing) {
            const struct vsr_header *header = (const void *)parked->record;
            parked->is_repairing = false;
            if (result == 0) {
                journal->repairs_count++;
                journal_partition_report(journal, header->u.prepare.op, header->checksum);
                journal_partition_parked_free(journal, parked);
            } else {
                /* Another record in the index, a damaged entry, a refused place or an I/O
                 * error: in place is not possible; the next pass replaces the record. */
                journal->replaced_count++;
                parked->is_replacing = true;
            }
            return;
        }
    }
    unreachable_code();
}

/* op <= last, same checksum: held (reported once durable) or faulty (repaired in place).
 * Returns true when the parked record is done with. */
static bool journal_partition_land_same(struct journal_partition *journal,
                                        struct journal_partition_parked *parked, int held)
{
    const struct vsr_header *header = (const void *)parked->record;
    uint64_t op = header->u.prepare.op;
    if (held == 0) {
        if (op > journal->op_durable) {
            return false; /* its append is still in the write ring: reported from there */
        }
        journal_partition_report(journal, op, header->checksum);
        return true;
    }
    if (journal->is_repairing || partition_is_flushing(journal->partition)) {
        return false;
    }
    int result = partition_repair(journal->partition, &journal->repair, header,
                                  parked->record + VSR_HEADER_SIZE, journal->repair_buffer,
                                  journal->read_buffer_size_bytes,
                                  journal_partition_repair_callback, journal);
    if (result == 0) {
        journal->is_repairing = true;
        parked->is_repairing = true;
    } else if (result != -RUNNEL_ESTATE) {
        journal->replaced_count++;
        parked->is_replacing = true; /* its place unknown, or another record: replaced */
    }
    return false;
}

/* Tries to land one parked record; true when it is done with (appended or reported). */
static bool journal_partition_land(struct journal_partition *journal,
                                   struct journal_partition_parked *parked)
{
    struct partition *partition = journal->partition;
    const struct vsr_header *header = (const void *)parked->record;
    uint64_t op = header->u.prepare.op;
    if (op <= partition->op_last) {
        u128 checksum = 0;
        int held = journal_partition_held(journal, op, &checksum);
        if (held != 0 && held != -RUNNEL_EFAULTY) {
            return false;
        }
        /* A faulty entry of unknown checksum may be this very record: repair in place
         * checks the index first (cutting would drop the intact records above it). */
        bool faulty = held == -RUNNEL_EFAULTY;
        if ((held == 0 && checksum == header->checksum) ||
            (faulty && !parked->is_replacing && (checksum == header->checksum || checksum == 0))) {
            return journal_partition_land_same(journal, parked, held);
        }
        u128 parent = 0;
        if (op > 1 && (journal_partition_held(journal, op - 1, &parent) != 0 ||
                       parent != header->u.prepare.parent)) {
            return false; /* the entry below is not this record's parent (yet) */
        }
        if (partition_is_flushing(partition) || journal_partition_cut(journal, op, NULL) != 0) {
            return false;
        }
        journal_partition_cut_note(journal, op);
    }
    if (!journal_partition_continues(partition, header) ||
        journal->writes_count + journal->reports_count + 1 >= journal->writes_max) {
        return false;
    }
    int result = partition_append(partition, header, parked->record + VSR_HEADER_SIZE);
    if (result == -RUNNEL_EFULL) {
        (void)partition_flush(partition); /* rotates; retried next pass */
        return false;
    }
    if (result != 0) {
        journal->failed = result;
        return false;
    }
    journal_partition_writes_push(journal, header);
    return true;
}

/* Gives up on a record parked too long, also of an op the journal holds faulty (the replica
 * keeps it faulty: see journal_partition.h); its place goes to the ops it waits for. */
static bool journal_partition_give_up(struct journal_partition *journal,
                                      struct journal_partition_parked *parked)
{
    const struct vsr_header *header = (const void *)parked->record;
    uint64_t op = header->u.prepare.op;
    if (parked->is_repairing || parked->passes < JOURNAL_PARTITION_PARKED_PASSES_MAX ||
        journal->reports_count + journal->writes_count + 1 >= journal->writes_max) {
        return false;
    }
    journal_partition_report_lost(journal, op, header->checksum);
    return true;
}

/* The parked record with the lowest op above after (NULL: none). */
static struct journal_partition_parked *
journal_partition_parked_next(struct journal_partition *journal, uint64_t after)
{
    struct journal_partition_parked *lowest = NULL;
    uint64_t lowest_op = UINT64_MAX;
    for (uint32_t index = 0; index < journal->parked_max; index++) {
        struct journal_partition_parked *parked = &journal->parked[index];
        uint64_t op = ((const struct vsr_header *)(void *)parked->record)->u.prepare.op;
        if (parked->used && !parked->is_repairing && op > after && op < lowest_op) {
            lowest = parked;
            lowest_op = op;
        }
    }
    assert(lowest == NULL || lowest_op > after);
    return lowest;
}

/* Tries every parked record once, in op order (what lands may let the next land). */
static void journal_partition_land_parked(struct journal_partition *journal)
{
    uint64_t after = 0;
    for (uint32_t round = 0; round < journal->parked_max && journal->failed == 0; round++) {
        struct journal_partition_parked *parked = journal_partition_parked_next(journal, after);
        if (parked == NULL) {
            return;
        }
        after = ((const struct vsr_header *)(void *)parked->record)->u.prepare.op;
        if (journal_partition_land(journal, parked)) {
            journal_partition_parked_free(journal, parked);
        }
    }
}

static void journal_partition_age_parked(struct journal_partition *journal)
{
    for (uint32_t index = 0; index < journal->parked_max; index++) {
        struct journal_partition_parked *parked = &journal->parked[index];
        if (!parked->used) {
            continue;
        }
        parked->passes++;
        if (journal_partition_give_up(journal, parked)) {
            journal_partition_parked_free(journal, parked);
        }
    }
}

/* Drops every parked write at op_min and above (not one being repaired): not held. */
static void journal_partition_parked_drop(struct journal_partition *journal, uint64_t op_min)
{
    assert(op_min > 0);
    for (uint32_t index = 0; index < journal->parked_max; index++) {
        struct journal_partition_parked *parked = &journal->parked[index];
        const struct vsr_header *header = (const void *)parked->record;
        if (parked->used && !parked->is_repairing && header->u.prepare.op >= op_min) {
            journal_partition_report_lost(journal, header->u.prepare.op, header->checksum);
            journal_partition_parked_free(journal, parked);
        }
    }
}

static void journal_partition_truncate(uint64_t op_min, void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL);
    assert(op_min > 0);
    journal_partition_parked_drop(journal, op_min);
    /* Durable on return: wait out a repair or a read in flight (outside dispatch only). */
    for (uint32_t round = 0; round < JOURNAL_PARTITION_WAIT_ROUNDS_MAX && journal->failed == 0;
         round++) {
        if (op_min > journal->partition->op_last ||
            journal_partition_cut(journal, op_min, NULL) == 0) {
            return;
        }
        (void)io_run(journal->partition->io, 1000 * 1000);
    }
    log_error("journal_truncate_failed", "directory=%s op_min=%llu error=\"%s\"",
              journal->partition->options.directory, (unsigned long long)op_min,
              error_text(journal->failed));
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

static uint64_t journal_partition_op_first(void *context)
{
    const struct journal_partition *journal = context;
    assert(journal != NULL && journal->partition != NULL);
    const struct partition *partition = journal->partition;
    assert(partition->segment_count > 0);
    uint64_t first = partition->segments[0].op_first;
    if (first == UINT64_MAX) {
        /* Empty (a log begun at a checkpoint: the next op), or the first op unknown. */
        bool empty = partition->segment_count == 1 && partition->entry_count == 0;
        return empty && partition->is_chain_known ? partition->op_last + 1 : 1;
    }
    return first > 0 ? first : 1;
}

static int journal_partition_restart(const struct vsr_header *header, void *context)
{
    struct journal_partition *journal = context;
    assert(journal != NULL && header != NULL);
    assert(header->command == VSR_COMMAND_PREPARE && header->u.prepare.op >= 1);
    if (journal->failed != 0) {
        return journal->failed;
    }
    /* Every parked write and unreported append is of the old log: reported as not held. */
    journal_partition_parked_drop(journal, 1);
    return journal_partition_cut(journal, 1, header);
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
        .op_first = journal_partition_op_first,
        .restart = journal_partition_restart,
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

/* Reports an own cut, the damaged entries the partition lists (its own reads found some
 * the replica never read), queued reports, then appends that became durable (op order). */
static void journal_partition_report_all(struct journal_partition *journal)
{
    if (journal->cut_min != 0 && journal->replica != NULL) {
        vsr_replica_on_journal_cut(journal->replica, journal->cut_min);
    }
    journal->cut_min = 0;
    uint32_t faulty = partition_faulty_count(journal->partition);
    for (uint32_t index = 0; index < faulty && journal->replica != NULL; index++) {
        vsr_replica_on_journal_faulty(journal->replica,
                                      partition_faulty_op(journal->partition, index));
    }
    for (uint32_t index = 0; index < journal->reports_count; index++) {
        if (journal->replica != NULL) {
            vsr_replica_on_journal_write(journal->replica, journal->reports[index].op,
                                         journal->reports[index].checksum);
        }
    }
    journal->reports_count = 0;
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
}

int journal_partition_pass(struct journal_partition *journal)
{
    assert(journal != NULL);
    assert(journal->writes_count <= journal->writes_max);
    if (journal->failed == 0 && journal->parked_count > 0) {
        journal_partition_land_parked(journal);
        journal_partition_age_parked(journal);
    }
    if (journal->failed == 0) {
        int result = partition_flush(journal->partition);
        journal->failed = result;
    }
    journal_partition_report_all(journal);
    return journal->failed;
}

bool journal_partition_is_blocked(const struct journal_partition *journal)
{
    assert(journal != NULL);
    assert(journal->writes_count <= journal->writes_max);
    return journal->parked_count == journal->parked_max || journal->failed != 0 ||
           journal->writes_count + journal->reports_count + 1 >= journal->writes_max;
}

bool journal_partition_is_busy(const struct journal_partition *journal)
{
    assert(journal != NULL);
    assert(journal->partition != NULL);
    return journal->writes_count > 0 || journal->parked_count > 0 || journal->reports_count > 0 ||
           journal->is_repairing || partition_is_flushing(journal->partition) ||
           (journal->is_read_deferred && !journal->is_read_done);
}
