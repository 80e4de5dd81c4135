/* Unit tests for storage/checkpoint (encoding, damage detection) and storage/atomic_file
 * (old-or-new after a crash at any sync, directory removal) over the simulated disk. */
#include "storage/atomic_file.h"
#include "storage/checkpoint.h"

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

static uint64_t encode_sample(uint8_t *buffer, uint64_t op)
{
    struct checkpoint_consumer_offset offsets[3] = {
        {.kind = 1, .consumer_id = 7, .offset = 100 + op},
        {.kind = 2, .consumer_id = 9, .offset = 50},
        {.kind = 1, .consumer_id = 1, .offset = 0},
    };
    uint8_t sessions[40];
    memset(sessions, (int)op, sizeof(sessions));
    struct checkpoint checkpoint = {
        .op = op,
        .anchor_checksum = ((u128)op << 64) | 5,
        .anchor_timestamp = 123,
        .log_start_offset = 10,
        .offset_next = 1000 + op,
        .consumer_offset_count = 3,
        .sessions_size_bytes = sizeof(sessions),
        .consumer_offsets = offsets,
        .sessions = sessions,
    };
    uint64_t size = 0;
    assert_int_equal(checkpoint_encode(&checkpoint, buffer, 4096, &size), 0);
    assert_int_equal(size, checkpoint_size_bytes(&checkpoint));
    return size;
}

static int decode_sample(const uint8_t *buffer, uint64_t size, struct checkpoint *out)
{
    static struct checkpoint_consumer_offset offsets[4];
    static uint8_t sessions[64];
    memset(out, 0, sizeof(*out));
    out->consumer_offsets = offsets;
    out->sessions = sessions;
    return checkpoint_decode(buffer, size, out, 4, sizeof(sessions));
}

static void test_encode_decode_and_damage(void **state)
{
    (void)state;
    uint8_t buffer[4096];
    uint64_t size = encode_sample(buffer, 42);
    struct checkpoint decoded;
    assert_int_equal(decode_sample(buffer, size, &decoded), 0);
    assert_int_equal(decoded.op, 42);
    assert_true(decoded.anchor_checksum == (((u128)42 << 64) | 5));
    assert_int_equal(decoded.offset_next, 1042);
    assert_int_equal(decoded.consumer_offset_count, 3);
    assert_int_equal(decoded.consumer_offsets[0].offset, 142);
    assert_int_equal(decoded.sessions[39], 42);
    assert_int_equal(decode_sample(buffer, size - 1, &decoded), -RUNNEL_ETRUNCATED);
    assert_int_equal(decode_sample(buffer, 10, &decoded), -RUNNEL_ETRUNCATED);
    for (uint64_t bit = 0; bit < size * 8; bit++) {
        buffer[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(decode_sample(buffer, size, &decoded) < 0);
        buffer[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    uint8_t small[16];
    struct checkpoint empty = {0};
    uint64_t unused = 0;
    assert_int_equal(checkpoint_encode(&empty, small, sizeof(small), &unused), -RUNNEL_ETOOLARGE);
}

static bool written;
static int written_result;

static void write_callback(struct atomic_file *file, int result, void *context)
{
    (void)file;
    (void)context;
    written = true;
    written_result = result;
}

static void disk_setup(struct sim_disk *disk, uint64_t seed)
{
    struct sim_disk_options options = {.seed = seed,
                                       .files_max = 16,
                                       .handles_max = 8,
                                       .pending_max = 8,
                                       .file_size_bytes_max = 1 << 20,
                                       .direct_supported = true};
    assert_int_equal(sim_disk_init(disk, &options), 0);
    assert_int_equal(atomic_file_create_directory(&disk->io, "p"), 0);
}

static int write_file(struct sim_disk *disk, struct atomic_file *file, const uint8_t *buffer,
                      uint64_t size)
{
    written = false;
    assert_int_equal(
        atomic_file_write(file, &disk->io, "p/checkpoint", buffer, size, write_callback, NULL), 0);
    for (int round = 0; round < 1000 && io_pending_count(&disk->io) > 0; round++) {
        io_run(&disk->io, 1);
    }
    return written ? written_result : -ETIMEDOUT;
}

/* A crash at every sync of a second write leaves the first or the second checkpoint. */
static void test_atomic_replacement_under_crash(void **state)
{
    (void)state;
    static const enum sim_disk_crash_mode modes[] = {SIM_DISK_CRASH_KEEP, SIM_DISK_CRASH_DROP,
                                                     SIM_DISK_CRASH_TEAR};
    uint8_t first[4096];
    uint8_t second[4096];
    uint8_t read[4096];
    uint64_t first_size = encode_sample(first, 1);
    uint64_t second_size = encode_sample(second, 2);
    for (uint64_t nth = 1; nth <= 3; nth++) {
        for (size_t mode = 0; mode < 3; mode++) {
            struct sim_disk disk;
            struct atomic_file file = {0};
            disk_setup(&disk, nth * 3 + mode);
            assert_int_equal(write_file(&disk, &file, first, first_size), 0);
            struct sim_disk_faults faults = {.crash_at_sync = nth};
            sim_disk_faults_set(&disk, &faults);
            write_file(&disk, &file, second, second_size);
            sim_disk_crash(&disk, modes[mode]);
            uint64_t size = 0;
            assert_int_equal(atomic_file_read(&disk.io, "p/checkpoint", read, sizeof(read), &size),
                             0);
            struct checkpoint decoded;
            assert_int_equal(decode_sample(read, size, &decoded), 0);
            assert_true(decoded.op == 1 || decoded.op == 2);
            sim_disk_deinit(&disk);
        }
    }
}

static void test_failure_and_directory_removal(void **state)
{
    (void)state;
    struct sim_disk disk;
    struct atomic_file file = {0};
    uint8_t buffer[4096];
    uint64_t size = encode_sample(buffer, 3);
    disk_setup(&disk, 9);
    struct sim_disk_faults faults = {
        .fail_operation_at = 3, .fail_operation_mask = sim_disk_mask_files(), .fail_error = -EIO};
    sim_disk_faults_set(&disk, &faults);
    assert_int_equal(write_file(&disk, &file, buffer, size), -EIO);
    assert_false(sim_disk_exists(&disk, "p/checkpoint"));
    assert_int_equal(write_file(&disk, &file, buffer, size), 0);
    assert_true(sim_disk_exists(&disk, "p/checkpoint"));
    char names[256];
    written = false;
    assert_int_equal(atomic_file_remove_directory(&file, &disk.io, "p", names, sizeof(names),
                                                  write_callback, NULL),
                     0);
    for (int round = 0; round < 1000 && io_pending_count(&disk.io) > 0; round++) {
        io_run(&disk.io, 1);
    }
    assert_true(written);
    assert_int_equal(written_result, 0);
    assert_false(sim_disk_exists(&disk, "p"));
    sim_disk_crash(&disk, SIM_DISK_CRASH_DROP); /* the removal was made durable */
    assert_false(sim_disk_exists(&disk, "p"));
    sim_disk_deinit(&disk);
}

int main(void)
{
    helper_assert_install();
    log_level_set(LOG_LEVEL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode_and_damage),
        cmocka_unit_test(test_atomic_replacement_under_crash),
        cmocka_unit_test(test_failure_and_directory_removal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
