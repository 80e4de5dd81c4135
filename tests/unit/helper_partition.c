/* Test helper: a storage partition over the simulated disk (see helper_partition.h). */
#include "tests/unit/helper_partition.h"

#include "lib/error.h"
#include "proto/batch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

struct partition_fixture partition_fixture;
static void partition_fixture_durable_callback(struct partition *partition, uint64_t op_durable,
                                               int result, void *context)
{
    (void)partition;
    struct partition_fixture *state = context;
    state->op_durable = op_durable;
    state->durable_result = result;
    state->durable_calls++;
}

void partition_fixture_noop_callback(struct io_completion *completion)
{
    (void)completion;
}

void partition_fixture_setup(uint64_t seed)
{
    memset(&partition_fixture, 0, sizeof(partition_fixture));
    struct sim_disk_options disk_options = {
        .seed = seed,
        .files_max = 64,
        .handles_max = 64,
        .pending_max = 64,
        .file_size_bytes_max = 1 << 22,
        .direct_supported = true,
    };
    assert_int_equal(sim_disk_init(&partition_fixture.disk, &disk_options), 0);
    struct io_completion completion = {0};
    io_mkdir(&partition_fixture.disk.io, &completion, "p", partition_fixture_noop_callback, NULL);
    assert_int_equal(io_wait(&partition_fixture.disk.io, &completion, 10), 0);
    struct partition_options options = {
        .directory = "p",
        .group = {.stream_id = 1, .topic_id = 1, .partition_id = 3, .kind = 1, .incarnation = 9},
        .cluster = 77,
        .segment_size_bytes = 64 * 1024,
        .preallocate_bytes = 16 * 1024,
        .index_entries_max = 64,
        .record_size_bytes_max = 8 * 1024,
        .buffer_size_bytes = 32 * 1024,
        .flush_records_max = 16,
        .segments_max = 16,
        .faulty_max = 16,
        .durability_fsync = true,
        .direct_allowed = true,
        .durable_callback = partition_fixture_durable_callback,
        .context = &partition_fixture,
    };
    assert_int_equal(partition_init(&partition_fixture.partition, &options), 0);
    assert_int_equal(partition_open(&partition_fixture.partition, &partition_fixture.disk.io), 0);
}

void partition_fixture_teardown(void)
{
    partition_close(&partition_fixture.partition);
    partition_deinit(&partition_fixture.partition);
    sim_disk_deinit(&partition_fixture.disk);
}

/* A batch of count messages of size bytes, payload bytes derived from seed. */
uint32_t partition_fixture_batch(uint8_t *buffer, uint32_t count, uint32_t size, uint8_t seed)
{
    struct batch_builder builder;
    uint8_t payload[2048];
    assert_true(size <= sizeof(payload));
    batch_builder_init(&builder, buffer, 8 * 1024, 1000);
    for (uint32_t index = 0; index < count; index++) {
        memset(payload, (uint8_t)(seed + index), size);
        assert_int_equal(
            batch_builder_add(&builder, index + 1, 0, 1000 + index, payload, size, NULL, 0), 0);
    }
    return (uint32_t)batch_builder_finish(&builder);
}

void partition_fixture_run(void)
{
    for (int round = 0; round < 10000 && io_pending_count(&partition_fixture.disk.io) > 0;
         round++) {
        io_run(&partition_fixture.disk.io, 1);
    }
    assert_false(partition_is_flushing(&partition_fixture.partition));
}

/* Appends one batch, flushing and retrying when the partition asks for it. */
void partition_fixture_append(uint8_t seed, uint32_t count, uint64_t timestamp_ns)
{
    uint8_t body[8 * 1024];
    uint32_t size = partition_fixture_batch(body, count, 100, seed);
    struct vsr_header header;
    for (int attempt = 0; attempt < 3; attempt++) {
        partition_prepare(&partition_fixture.partition, &header, VSR_OPERATION_MESSAGES, body, size,
                          timestamp_ns);
        int result = partition_append(&partition_fixture.partition, &header, body);
        if (result == 0) {
            return;
        }
        assert_int_equal(result, -RUNNEL_EFULL);
        assert_int_equal(partition_flush(&partition_fixture.partition), 0);
        partition_fixture_run();
    }
    fail();
}
