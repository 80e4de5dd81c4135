/* Unit tests for storage/snapshot (framing, atomic write, damage never trusted) and for
 * the metadata journal, which is a partition log over the metadata group. */
#include "storage/partition.h"
#include "storage/snapshot.h"

#include "lib/error.h"
#include "lib/log.h"
#include "tests/sim/sim_disk.h"
#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static struct sim_disk disk;
static bool done;
static int done_result;

static void done_callback(struct atomic_file *file, int result, void *context)
{
    (void)file;
    (void)context;
    done = true;
    done_result = result;
}

static void run_io(void)
{
    for (int round = 0; round < 10000 && io_pending_count(&disk.io) > 0; round++) {
        io_run(&disk.io, 1);
    }
}

static void disk_setup(uint64_t seed)
{
    struct sim_disk_options options = {.seed = seed,
                                       .files_max = 32,
                                       .handles_max = 16,
                                       .pending_max = 16,
                                       .file_size_bytes_max = 1 << 20,
                                       .direct_supported = true};
    assert_int_equal(sim_disk_init(&disk, &options), 0);
    assert_int_equal(atomic_file_create_directory(&disk.io, "metadata"), 0);
}

static void test_snapshot_roundtrip_and_damage(void **state)
{
    (void)state;
    disk_setup(1);
    static const char protobuf[] = "\x0a\x05hello\x10\x2a"; /* any bytes: opaque here */
    uint8_t buffer[256];
    struct atomic_file file = {0};
    done = false;
    assert_int_equal(snapshot_write(&file, &disk.io, "metadata/snapshot", 77, protobuf,
                                    sizeof(protobuf), buffer, sizeof(buffer), done_callback, NULL),
                     0);
    run_io();
    assert_true(done);
    assert_int_equal(done_result, 0);
    sim_disk_crash(&disk, SIM_DISK_CRASH_DROP); /* durable once the callback ran */
    uint8_t read[256];
    uint64_t op = 0;
    const uint8_t *bytes = NULL;
    uint64_t size = 0;
    assert_int_equal(
        snapshot_read(&disk.io, "metadata/snapshot", read, sizeof(read), &op, &bytes, &size), 0);
    assert_int_equal(op, 77);
    assert_int_equal(size, sizeof(protobuf));
    assert_memory_equal(bytes, protobuf, sizeof(protobuf));
    for (uint64_t bit = 0; bit < (SNAPSHOT_HEADER_SIZE + sizeof(protobuf)) * 8; bit++) {
        assert_int_equal(sim_disk_flip_bit(&disk, "metadata/snapshot", bit), 0);
        assert_true(snapshot_read(&disk.io, "metadata/snapshot", read, sizeof(read), &op, &bytes,
                                  &size) < 0);
        assert_int_equal(sim_disk_flip_bit(&disk, "metadata/snapshot", bit), 0);
    }
    assert_int_equal(
        snapshot_read(&disk.io, "metadata/none", read, sizeof(read), &op, &bytes, &size), -ENOENT);
    assert_int_equal(snapshot_write(&file, &disk.io, "metadata/snapshot", 1, protobuf, 250, buffer,
                                    sizeof(buffer), done_callback, NULL),
                     -RUNNEL_ETOOLARGE);
    sim_disk_deinit(&disk);
}

static uint64_t journal_durable;

static void journal_callback(struct partition *partition, uint64_t op_durable, int result,
                             void *context)
{
    (void)partition;
    (void)context;
    assert_int_equal(result, 0);
    journal_durable = op_durable;
}

static bool read_done;

static void read_callback(struct partition_read *read, void *context)
{
    (void)read;
    (void)context;
    read_done = true;
}

static void test_metadata_journal(void **state)
{
    (void)state;
    disk_setup(2);
    assert_int_equal(atomic_file_create_directory(&disk.io, "metadata/journal"), 0);
    struct partition_options options = {
        .directory = "metadata/journal",
        .group = {.kind = VSR_GROUP_KIND_METADATA},
        .cluster = 3,
        .segment_size_bytes = 64 * 1024,
        .index_entries_max = 64,
        .record_size_bytes_max = 8192,
        .buffer_size_bytes = 32 * 1024,
        .flush_records_max = 8,
        .segments_max = 8,
        .faulty_max = 8,
        .durability_fsync = true,
        .durable_callback = journal_callback,
    };
    static struct partition journal;
    assert_int_equal(partition_init(&journal, &options), 0);
    assert_int_equal(partition_open(&journal, &disk.io), 0);
    for (uint32_t index = 0; index < 5; index++) {
        uint8_t body[32];
        memset(body, (int)index, sizeof(body));
        struct vsr_header header;
        partition_prepare(&journal, &header, 130, body, sizeof(body), 1000 + index);
        assert_int_equal(partition_append(&journal, &header, body), 0);
    }
    assert_int_equal(partition_flush(&journal), 0);
    run_io();
    assert_int_equal(journal_durable, 5);
    sim_disk_crash(&disk, SIM_DISK_CRASH_DROP);
    assert_int_equal(partition_open(&journal, &disk.io), 0);
    assert_int_equal(journal.op_last, 5);
    static _Alignas(4096) uint8_t read_buffer[16384];
    struct partition_read read;
    read_done = false;
    int result = partition_read_op(&journal, &read, 4, read_buffer, sizeof(read_buffer),
                                   read_callback, NULL);
    assert_true(result == 0 || result == 1); /* from disk, or from the tail in memory */
    run_io();
    assert_true(result == 1 || read_done);
    assert_int_equal(read.result, 0);
    assert_int_equal(read.header.u.prepare.operation, 130);
    assert_int_equal(read.record[VSR_HEADER_SIZE], 3);
    partition_close(&journal);
    partition_deinit(&journal);
    sim_disk_deinit(&disk);
}

int main(void)
{
    helper_assert_install();
    log_level_set(LOG_LEVEL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_roundtrip_and_damage),
        cmocka_unit_test(test_metadata_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
