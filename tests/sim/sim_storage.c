/*
 * The real partition log as a simulated replica's VSR journal (see sim_storage.h). Owns
 * one simulated disk, partition and journal adapter per replica. Runs inside the single
 * simulator thread.
 */
#include "tests/sim/sim_storage.h"

#include "lib/assert.h"
#include "tests/sim/sim_journal.h"

#include <errno.h>
#include <string.h>

static void sim_storage_noop(struct io_completion *completion)
{
    assert(completion != NULL);
    assert(completion->done);
}

static void sim_storage_durable(struct partition *partition, uint64_t op_durable, int result,
                                void *context)
{
    struct sim_storage *storage = context;
    assert(partition == &storage->partition);
    journal_partition_on_durable(&storage->journal, op_durable, result);
}

int sim_storage_init(struct sim_storage *storage, uint64_t seed, const struct vsr_group *group,
                     u128 cluster)
{
    assert(storage != NULL && group != NULL);
    memset(storage, 0, sizeof(*storage));
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
    *journal_out = journal_partition_interface(&storage->journal);
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
    for (uint32_t round = 0; round < 4 && io_pending_count(&storage->disk.io) > 0; round++) {
        (void)io_run(&storage->disk.io, 0);
    }
}

void sim_storage_crash(struct sim_storage *storage, enum sim_disk_crash_mode mode)
{
    assert(storage->is_open);
    sim_disk_crash(&storage->disk, mode);
    journal_partition_deinit(&storage->journal);
    partition_deinit(&storage->partition);
    storage->is_open = false;
}

uint64_t sim_storage_op_durable(const struct sim_storage *storage)
{
    assert(storage->is_open);
    return storage->partition.op_durable;
}
