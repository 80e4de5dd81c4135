/*
 * The real partition log as a simulated replica's VSR journal (see sim_storage.h). Owns
 * one simulated disk, partition and journal adapter per replica. Runs inside the single
 * simulator thread.
 */
#include "tests/sim/sim_storage.h"

#include "lib/assert.h"
#include "tests/sim/sim_journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sim_storage_noop(struct io_completion *completion)
{
    assert(completion != NULL);
    assert(completion->done);
}

/* op's slot, taken over from an earlier op; NULL when a later op holds it. */
static struct sim_storage_held *sim_storage_slot(struct sim_storage *storage, uint64_t op)
{
    assert(op > 0);
    struct sim_storage_held *slot = &storage->held[op % storage->held_count];
    if (slot->op > op) {
        return NULL;
    }
    if (slot->op < op) {
        memset(slot, 0, sizeof(*slot));
        slot->op = op;
    }
    return slot;
}

/* op's slot when it is op's (NULL: another op's, or none). */
static struct sim_storage_held *sim_storage_find(const struct sim_storage *storage, uint64_t op)
{
    struct sim_storage_held *slot = &storage->held[op % storage->held_count];
    return op > 0 && slot->op == op ? slot : NULL;
}

/* A truncation cut the slot's held record. */
static void sim_storage_cut(struct sim_storage_held *slot)
{
    slot->checksum = 0;
}

/* The journal no longer holds the slot's record (what was written there stays known). */
static void sim_storage_drop(struct sim_storage_held *slot)
{
    sim_storage_cut(slot);
    slot->durable = 0;
}

/* Forgets every op from op_min up (a truncation, durable on return). */
static void sim_storage_forget(struct sim_storage *storage, uint64_t op_min, bool keep_faulty)
{
    assert(op_min > 0);
    for (uint64_t index = 0; index < storage->held_count; index++) {
        struct sim_storage_held *slot = &storage->held[index];
        if (slot->op >= op_min && slot->op > 0 &&
            !(keep_faulty && partition_is_faulty(&storage->partition, slot->op))) {
            sim_storage_drop(slot);
        }
    }
}

/* Marks every record the partition reports durable (the tail's, all of them at a report:
 * a rotation waits for the whole tail) durable, to be held once the replica is told. */
static void sim_storage_note_durable(struct sim_storage *storage)
{
    const struct partition *partition = &storage->partition;
    assert(partition->entry_durable_count <= partition->entry_count);
    for (uint32_t index = 0; index < partition->entry_durable_count; index++) {
        const struct partition_entry *entry = &partition->entries[index];
        struct sim_storage_held *slot =
            entry->checksum != 0 ? sim_storage_slot(storage, entry->op) : NULL;
        if (slot == NULL || slot->checksum == entry->checksum) {
            continue; /* position unknown (faulty), out of the window, or held already */
        }
        slot->durable = entry->checksum;
        if (storage->pending_high < storage->pending_low) {
            storage->pending_low = entry->op;
            storage->pending_high = entry->op;
        }
        storage->pending_low = entry->op < storage->pending_low ? entry->op : storage->pending_low;
        storage->pending_high =
            entry->op > storage->pending_high ? entry->op : storage->pending_high;
    }
}

/* After a pass: what the pass reported to the replica (every append up to the journal's
 * durable op) is held now. */
static void sim_storage_promote(struct sim_storage *storage)
{
    uint64_t reported = storage->journal.op_durable;
    uint64_t low = storage->pending_low;
    uint64_t high = storage->pending_high;
    if (high < low || low > reported) {
        return;
    }
    uint64_t remaining = UINT64_MAX;
    for (uint64_t op = low; op <= high && op - low < storage->held_count; op++) {
        struct sim_storage_held *slot = sim_storage_find(storage, op);
        if (slot == NULL || slot->durable == 0) {
            continue;
        }
        if (op <= reported) {
            slot->checksum = slot->durable;
            slot->durable = 0;
        } else if (remaining == UINT64_MAX) {
            remaining = op;
        }
    }
    storage->pending_low = remaining == UINT64_MAX ? 1 : remaining;
    storage->pending_high = remaining == UINT64_MAX ? 0 : high;
}

/* The adapter cut the log itself during a pass (a different prepare landed at an op):
 * ops above the log's head, and any op whose record in the tail is another one (the cut
 * and everything chained above it), are no longer held. */
static void sim_storage_reconcile(struct sim_storage *storage)
{
    const struct partition *partition = &storage->partition;
    uint64_t cut = partition->op_last + 1;
    for (uint32_t index = 0; index < partition->entry_count; index++) {
        const struct partition_entry *entry = &partition->entries[index];
        struct sim_storage_held *slot = sim_storage_find(storage, entry->op);
        if (slot == NULL || entry->checksum == 0) {
            continue;
        }
        if (slot->durable != 0 && slot->durable != entry->checksum) {
            slot->durable = 0;
        }
        if (slot->checksum != 0 && slot->checksum != entry->checksum && entry->op < cut) {
            cut = entry->op;
        }
    }
    for (uint64_t index = 0; index < storage->held_count; index++) {
        struct sim_storage_held *slot = &storage->held[index];
        if (slot->op == 0) {
            continue;
        }
        bool above = slot->op > partition->op_last && !partition_is_faulty(partition, slot->op);
        if (above) {
            sim_storage_drop(slot);
        } else if (slot->op >= cut) {
            sim_storage_cut(slot);
        }
    }
    storage->truncations_seen = storage->journal.truncations_count;
}

/* A restart recovered the log (durable from here on): every record it holds is held; a
 * record durable before the crash but not yet reported is one of them. */
static void sim_storage_recovered(struct sim_storage *storage)
{
    const struct partition *partition = &storage->partition;
    uint64_t op_first = storage->inner.op_first(storage->inner.context);
    for (uint64_t index = 0; index < storage->held_count; index++) {
        struct sim_storage_held *slot = &storage->held[index];
        if (slot->op == 0) {
            continue;
        }
        bool gone = slot->op < op_first ||
                    (slot->op > partition->op_last && !partition_is_faulty(partition, slot->op));
        if (gone) {
            sim_storage_drop(slot);
        } else if (slot->durable != 0) {
            slot->checksum = slot->durable;
            slot->durable = 0;
        }
    }
    for (uint32_t index = 0; index < partition->entry_count; index++) {
        const struct partition_entry *entry = &partition->entries[index];
        struct sim_storage_held *slot =
            entry->checksum != 0 ? sim_storage_slot(storage, entry->op) : NULL;
        if (slot == NULL) {
            continue;
        }
        slot->checksum = entry->checksum;
        slot->durable = 0;
    }
    storage->pending_low = 1;
    storage->pending_high = 0;
    storage->truncations_seen = storage->journal.truncations_count;
}

static void sim_storage_durable(struct partition *partition, uint64_t op_durable, int result,
                                void *context)
{
    struct sim_storage *storage = context;
    assert(partition == &storage->partition);
    journal_partition_on_durable(&storage->journal, op_durable, result);
    if (result == 0) {
        sim_storage_note_durable(storage);
    }
}

/* The replica's journal: journal_partition's, with truncation and restart noted. */
static int sim_storage_write(const struct vsr_header *header, const void *body, void *context)
{
    struct sim_storage *storage = context;
    int result = storage->inner.write(header, body, storage->inner.context);
    struct sim_storage_held *slot = sim_storage_slot(storage, header->u.prepare.op);
    bool known = slot == NULL || result != 0;
    for (uint32_t index = 0; !known && index < SIM_STORAGE_WRITTEN_MAX; index++) {
        known = slot->written[index] == header->checksum;
    }
    if (!known) {
        slot->written[slot->written_next] = header->checksum;
        slot->written_next = (slot->written_next + 1) % SIM_STORAGE_WRITTEN_MAX;
    }
    return result;
}

static int sim_storage_read(uint64_t op, struct vsr_header *header_out, void *body_out,
                            uint32_t body_size_max, void *context)
{
    struct sim_storage *storage = context;
    return storage->inner.read(op, header_out, body_out, body_size_max, storage->inner.context);
}

static void sim_storage_truncate(uint64_t op_min, void *context)
{
    struct sim_storage *storage = context;
    storage->inner.truncate(op_min, storage->inner.context);
    if (storage->journal.failed == 0) {
        sim_storage_forget(storage, op_min, true);
    }
    storage->truncations_seen = storage->journal.truncations_count;
}

static uint64_t sim_storage_op_max(void *context)
{
    struct sim_storage *storage = context;
    return storage->inner.op_max(storage->inner.context);
}

static uint64_t sim_storage_op_first(void *context)
{
    struct sim_storage *storage = context;
    return storage->inner.op_first(storage->inner.context);
}

static int sim_storage_restart(const struct vsr_header *header, void *context)
{
    struct sim_storage *storage = context;
    int result = storage->inner.restart(header, storage->inner.context);
    if (result == 0) {
        sim_storage_forget(storage, 1, false);
    }
    storage->truncations_seen = storage->journal.truncations_count;
    return result;
}

int sim_storage_init(struct sim_storage *storage, uint64_t seed, const struct vsr_group *group,
                     u128 cluster, uint64_t ops_max)
{
    assert(storage != NULL && group != NULL);
    assert(ops_max > 0);
    memset(storage, 0, sizeof(*storage));
    storage->held_count = ops_max + 1;
    storage->held = calloc(storage->held_count, sizeof(struct sim_storage_held));
    if (storage->held == NULL) {
        return -ENOMEM;
    }
    storage->pending_low = 1;
    struct sim_disk_options disk_options = {
        .seed = seed,
        .files_max = 256,
        .handles_max = 128,
        .pending_max = 128,
        .file_size_bytes_max = 8 << 20,
        .direct_supported = true,
    };
    int result = sim_disk_init(&storage->disk, &disk_options);
    if (result != 0) {
        return result;
    }
    struct io_completion completion = {0};
    io_mkdir(&storage->disk.io, &completion, "p", sim_storage_noop, NULL);
    if (io_wait(&storage->disk.io, &completion, 100) != 0) {
        return -EIO;
    }
    io_open(&storage->disk.io, &completion, "", IO_OPEN_DIRECTORY, sim_storage_noop, NULL);
    int32_t root = (int32_t)io_wait(&storage->disk.io, &completion, 100);
    io_fsync(&storage->disk.io, &completion, root, sim_storage_noop, NULL);
    (void)io_wait(&storage->disk.io, &completion, 100);
    io_close(&storage->disk.io, &completion, root, sim_storage_noop, NULL);
    (void)io_wait(&storage->disk.io, &completion, 100);
    struct partition_options *options = &storage->options;
    options->directory = "p";
    options->group = *group;
    options->cluster = cluster;
    options->segment_size_bytes = 64 * 1024; /* rotates every ~16 flushes */
    options->preallocate_bytes = 16 * 1024;
    options->index_entries_max = 512;
    options->record_size_bytes_max = VSR_HEADER_SIZE + IO_SECTOR_SIZE;
    options->buffer_size_bytes = 32 * 1024;
    options->flush_records_max = 64;
    options->segments_max = 64;
    options->faulty_max = 64;
    options->durability_fsync = true;
    options->direct_allowed = true;
    options->durable_callback = sim_storage_durable;
    options->context = storage;
    return 0;
}

void sim_storage_deinit(struct sim_storage *storage)
{
    assert(storage != NULL);
    if (storage->is_open) {
        journal_partition_deinit(&storage->journal);
        partition_deinit(&storage->partition);
        storage->is_open = false;
    }
    sim_disk_deinit(&storage->disk);
    free(storage->held);
    storage->held = NULL;
}

int sim_storage_open(struct sim_storage *storage, struct vsr_journal *journal_out)
{
    assert(!storage->is_open);
    assert(journal_out != NULL);
    int result = partition_init(&storage->partition, &storage->options);
    if (result != 0) {
        return result;
    }
    result = partition_open(&storage->partition, &storage->disk.io);
    if (result == 0) {
        result = journal_partition_init_parked(&storage->journal, &storage->partition,
                                               storage->options.record_size_bytes_max, 64,
                                               SIM_STORAGE_PARKED_MAX);
    }
    if (result != 0) {
        partition_deinit(&storage->partition);
        return result;
    }
    storage->is_open = true;
    storage->inner = journal_partition_interface(&storage->journal);
    sim_storage_recovered(storage);
    *journal_out = (struct vsr_journal){
        .write = sim_storage_write,
        .read = sim_storage_read,
        .truncate = sim_storage_truncate,
        .op_max = sim_storage_op_max,
        .op_first = sim_storage_op_first,
        .restart = sim_storage_restart,
        .context = storage,
    };
    return 0;
}

void sim_storage_attach(struct sim_storage *storage, struct vsr_replica *replica)
{
    assert(storage->is_open);
    assert(replica != NULL);
    journal_partition_attach(&storage->journal, replica);
}

void sim_storage_tick(struct sim_storage *storage)
{
    assert(storage->is_open);
    int result = journal_partition_pass(&storage->journal);
    assert(result == 0);
    if (storage->journal.truncations_count != storage->truncations_seen) {
        sim_storage_reconcile(storage);
    }
    sim_storage_promote(storage);
    for (uint32_t round = 0; round < 4 && io_pending_count(&storage->disk.io) > 0; round++) {
        (void)io_run(&storage->disk.io, 0);
    }
}

void sim_storage_crash(struct sim_storage *storage, enum sim_disk_crash_mode mode)
{
    assert(storage->is_open);
    sim_disk_crash(&storage->disk, mode);
    sim_disk_faults_set(&storage->disk, &storage->faults); /* the crash cleared the plan */
    journal_partition_deinit(&storage->journal);
    partition_deinit(&storage->partition);
    storage->is_open = false;
}

bool sim_storage_is_given_up(const struct sim_storage *storage, uint64_t op, u128 checksum)
{
    assert(storage != NULL && storage->held != NULL);
    const struct sim_storage_held *slot = &storage->held[op % storage->held_count];
    for (uint32_t index = 0; slot->op == op && index < SIM_STORAGE_WRITTEN_MAX; index++) {
        u128 written = slot->written[index];
        if (written != 0 && ((written ^ 1) == checksum || ((written ^ 1) == 0 && checksum == 2))) {
            return true;
        }
    }
    return false;
}

/* True while op's append waits in the journal's ring of writes not yet reported. */
static bool sim_storage_is_unreported(const struct sim_storage *storage, uint64_t op)
{
    const struct journal_partition *journal = &storage->journal;
    assert(journal->writes_count <= journal->writes_max);
    for (uint32_t index = 0; index < journal->writes_count; index++) {
        if (journal->writes[(journal->writes_head + index) % journal->writes_max].op == op) {
            return true;
        }
    }
    return false;
}

bool sim_storage_holds(const struct sim_storage *storage, uint64_t op, u128 checksum)
{
    assert(storage != NULL && storage->held != NULL);
    const struct sim_storage_held *slot = &storage->held[op % storage->held_count];
    if (op == 0 || checksum == 0 || slot->op != op) {
        return false;
    }
    /* A durable record is held from the moment the pass reports it (the replica acts on
     * the report at once): its append has left the ring of unreported writes. */
    return slot->checksum == checksum || (slot->durable == checksum && storage->is_open &&
                                          !sim_storage_is_unreported(storage, op));
}

bool sim_storage_flip(struct sim_storage *storage, struct prng *prng)
{
    assert(storage != NULL && prng != NULL);
    if (!storage->is_open || storage->partition.segment_count == 0) {
        return false;
    }
    const struct partition_segment *segment =
        &storage->partition.segments[prng_range(prng, storage->partition.segment_count)];
    uint64_t size_bytes = 0;
    if (sim_disk_file_size(&storage->disk, segment->log_path, &size_bytes) != 0 ||
        size_bytes == 0) {
        return false;
    }
    return sim_disk_flip_bit(&storage->disk, segment->log_path, prng_range(prng, size_bytes * 8)) ==
           0;
}

void sim_storage_misdirect(struct sim_storage *storage, uint32_t per_million)
{
    static const char *const suffixes[] = {".log", ".index", NULL};
    assert(storage != NULL);
    assert(per_million <= 1000000);
    storage->faults.misdirect_per_million = per_million;
    storage->faults.misdirect_suffixes = per_million > 0 ? suffixes : NULL;
    storage->faults.misdirect_other_file_percent = per_million > 0 ? 50 : 0;
    sim_disk_faults_set(&storage->disk, &storage->faults);
}

void sim_storage_dump(const struct sim_storage *storage)
{
    if (storage == NULL) {
        return;
    }
    const struct journal_partition *journal = &storage->journal;
    const struct partition *partition = &storage->partition;
    if (!storage->is_open) {
        printf("    journal closed\n");
        return;
    }
    printf("    journal op_last=%llu op_durable=%llu writes=%u reports=%u parked=%u repairing=%d "
           "failed=%d faulty=%u repairs=%llu given_up=%llu\n",
           (unsigned long long)partition->op_last, (unsigned long long)journal->op_durable,
           journal->writes_count, journal->reports_count, journal->parked_count,
           (int)journal->is_repairing, journal->failed, partition_faulty_count(partition),
           (unsigned long long)journal->repairs_count, (unsigned long long)journal->given_up_count);
    for (uint32_t index = 0; index < partition->segment_count; index++) {
        printf("      segment %u op_first=%llu entries=%u\n", index,
               (unsigned long long)partition->segments[index].op_first,
               partition->segments[index].entry_count);
    }
    for (uint32_t index = 0; index < partition_faulty_count(partition); index++) {
        printf("      faulty op %llu\n", (unsigned long long)partition_faulty_op(partition, index));
    }
    for (uint32_t index = 0; index < journal->parked_max; index++) {
        const struct journal_partition_parked *parked = &journal->parked[index];
        if (parked->used) {
            const struct vsr_header *header = (const void *)parked->record;
            printf("      parked op %llu repairing=%d passes=%u\n",
                   (unsigned long long)header->u.prepare.op, (int)parked->is_repairing,
                   parked->passes);
        }
    }
}
