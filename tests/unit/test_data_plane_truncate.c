/*
 * Unit tests for prefix truncation of a partition group (node/data_plane_truncate.c,
 * node/data_plane_snapshot.c): applying TRUNCATE_PREFIX ops (the log start only goes up and
 * never past the committed offsets; a bad body changes nothing), the snapshot's version 2
 * round trip and version 1 decode (log start 0), bad snapshots refused without a change,
 * and the primary's retention target (DeleteSegments watermark, message expiry by the newest
 * record of whole sealed segments, max size share by the oldest sealed segments; never the
 * tail).
 */
#include "node/data_plane_internal.h"

#include "lib/error.h"
#include "proto/vsr_header.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct data_partition *partition_new(void)
{
    struct data_partition *partition = calloc(1, sizeof(*partition));
    assert_non_null(partition);
    partition->is_used = true;
    return partition;
}

/* A committed TRUNCATE_PREFIX prepare at op with body [log_start][removable] (or size). */
static uint32_t apply_truncate(struct data_partition *partition, uint64_t op, uint64_t log_start,
                               uint64_t removable, uint32_t body_size)
{
    uint8_t body[DATA_TRUNCATE_BODY_SIZE + 8] = {0};
    memcpy(body, &log_start, sizeof(log_start));
    memcpy(body + 8, &removable, sizeof(removable));
    struct vsr_header prepare;
    memset(&prepare, 0, sizeof(prepare));
    prepare.command = VSR_COMMAND_PREPARE;
    prepare.size = VSR_HEADER_SIZE + body_size;
    prepare.u.prepare.op = op;
    prepare.u.prepare.operation = VSR_OPERATION_TRUNCATE_PREFIX;
    uint8_t reply[DATA_PLANE_REPLY_SIZE_MAX];
    uint32_t size = data_partition_apply_truncate(partition, &prepare, body, reply);
    uint32_t is_error = 0;
    uint32_t status = 0;
    memcpy(&is_error, reply, sizeof(is_error));
    assert_int_equal(size, is_error == 0 ? 4 : 12); /* iggy_wire_result_encode */
    if (is_error != 0) {
        memcpy(&status, reply + 8, sizeof(status));
        assert_int_not_equal(status, 0);
    }
    return status;
}

static void test_apply_raises_never_lowers(void **state)
{
    (void)state;
    struct data_partition *partition = partition_new();
    partition->commit_offset_next = 1000;
    assert_int_equal(apply_truncate(partition, 10, 300, 5, 16), 0);
    assert_int_equal(partition->log_start_offset, 300);
    assert_int_equal(partition->removable_op, 5);
    assert_int_equal(apply_truncate(partition, 11, 200, 3, 16), 0); /* lower: no change */
    assert_int_equal(partition->log_start_offset, 300);
    assert_int_equal(partition->removable_op, 5);
    assert_int_equal(apply_truncate(partition, 12, 5000, 9, 16), 0); /* past the end */
    assert_int_equal(partition->log_start_offset, 1000);
    assert_int_equal(partition->removable_op, 9);
    free(partition);
}

static void test_apply_bad_body_changes_nothing(void **state)
{
    (void)state;
    struct data_partition *partition = partition_new();
    partition->commit_offset_next = 1000;
    partition->log_start_offset = 100;
    partition->removable_op = 4;
    assert_int_not_equal(apply_truncate(partition, 20, 500, 6, 15), 0);
    assert_int_not_equal(apply_truncate(partition, 20, 500, 6, 24), 0);
    assert_int_not_equal(apply_truncate(partition, 20, 500, 20, 16), 0); /* not below op */
    assert_int_equal(partition->log_start_offset, 100);
    assert_int_equal(partition->removable_op, 4);
    free(partition);
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    struct data_partition *partition = partition_new();
    partition->op_applied = 77;
    partition->commit_offset_next = 900;
    partition->messages_count = 900;
    partition->size_bytes = 123456;
    partition->log_start_offset = 640;
    partition->removable_op = 50;
    partition->offsets[0] = (struct data_offset){
        .is_used = true, .kind = 1, .id = 3, .has_offset = true, .offset = 700};
    static uint8_t bytes[DATA_PLANE_SNAPSHOT_SIZE_MAX];
    uint32_t size = data_partition_snapshot(bytes, sizeof(bytes), partition);
    assert_int_equal(size, 64 + 16);
    uint64_t log_start = 0;
    assert_int_equal(data_partition_snapshot_log_start(bytes, size, &log_start), 0);
    assert_int_equal(log_start, 640);
    struct data_partition *copy = partition_new();
    assert_int_equal(data_partition_restore(bytes, size, copy), 0);
    assert_int_equal(copy->op_applied, 77);
    assert_int_equal(copy->commit_offset_next, 900);
    assert_int_equal(copy->log_start_offset, 640);
    assert_int_equal(copy->removable_op, 50);
    assert_true(copy->offsets[0].is_used && copy->offsets[0].offset == 700);
    free(copy);
    free(partition);
}

/* A version 1 snapshot (48 fixed bytes) as the previous release wrote it. */
static uint32_t snapshot_v1(uint8_t *bytes, uint32_t offset_count)
{
    memset(bytes, 0, 48 + 16 * offset_count);
    uint32_t magic = 0x4e535052;
    uint32_t version = 1;
    uint64_t fields[4] = {33, 500, 500, 9999}; /* op_applied, next, count, size */
    memcpy(bytes, &magic, 4);
    memcpy(bytes + 4, &version, 4);
    memcpy(bytes + 8, fields, sizeof(fields));
    memcpy(bytes + 40, &offset_count, 4);
    for (uint32_t index = 0; index < offset_count; index++) {
        uint8_t *entry = bytes + 48 + 16 * index;
        entry[0] = 2;
        entry[1] = 1;
        uint32_t id = 10 + index;
        uint64_t offset = 400 + index;
        memcpy(entry + 4, &id, 4);
        memcpy(entry + 8, &offset, 8);
    }
    return 48 + 16 * offset_count;
}

static void test_snapshot_v1_restores_with_log_start_0(void **state)
{
    (void)state;
    static uint8_t bytes[DATA_PLANE_SNAPSHOT_SIZE_MAX];
    uint32_t size = snapshot_v1(bytes, 2);
    struct data_partition *partition = partition_new();
    partition->log_start_offset = 77; /* replaced by the snapshot's (none: 0) */
    assert_int_equal(data_partition_restore(bytes, size, partition), 0);
    assert_int_equal(partition->op_applied, 33);
    assert_int_equal(partition->commit_offset_next, 500);
    assert_int_equal(partition->log_start_offset, 0);
    assert_int_equal(partition->removable_op, 0);
    assert_true(partition->offsets[1].is_used && partition->offsets[1].id == 11 &&
                partition->offsets[1].offset == 401);
    uint64_t log_start = 99;
    assert_int_equal(data_partition_snapshot_log_start(bytes, size, &log_start), 0);
    assert_int_equal(log_start, 0);
    free(partition);
}

/* Each corruption of a valid snapshot is refused and changes nothing. */
static void test_snapshot_bad_input_refused(void **state)
{
    (void)state;
    struct data_partition *source = partition_new();
    source->op_applied = 40;
    source->commit_offset_next = 300;
    source->log_start_offset = 100;
    source->removable_op = 20;
    static uint8_t good[DATA_PLANE_SNAPSHOT_SIZE_MAX];
    static uint8_t bytes[DATA_PLANE_SNAPSHOT_SIZE_MAX];
    uint32_t size = data_partition_snapshot(good, sizeof(good), source);
    struct {
        uint32_t at;
        uint64_t value;
        uint32_t width;
    } cases[] = {
        {0, 0x12345678, 4}, /* magic */
        {4, 3, 4},          /* unknown version */
        {4, 0, 4},          /* version 0 */
        {40, 301, 8},       /* log start past the committed offsets */
        {48, 41, 8},        /* removable op above op_applied */
        {56, 1, 4},         /* an offset count the size does not hold */
        {60, 1, 4},         /* reserved */
    };
    struct data_partition *partition = partition_new();
    partition->log_start_offset = 5;
    for (uint32_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        memcpy(bytes, good, size);
        memcpy(bytes + cases[index].at, &cases[index].value, cases[index].width);
        assert_int_equal(data_partition_restore(bytes, size, partition), -RUNNEL_EFORMAT);
        assert_int_equal(partition->log_start_offset, 5);
    }
    for (uint32_t cut = 0; cut < size; cut += 7) { /* every shorter prefix */
        assert_int_equal(data_partition_restore(good, cut, partition), -RUNNEL_EFORMAT);
    }
    uint32_t v1_size = snapshot_v1(bytes, 1);
    uint32_t version = 2; /* a version 1 body read as version 2: too short */
    memcpy(bytes + 4, &version, 4);
    assert_int_equal(data_partition_restore(bytes, v1_size, partition), -RUNNEL_EFORMAT);
    assert_int_equal(partition->log_start_offset, 5);
    free(partition);
    free(source);
}

/* A log of sealed segments [0,100) [100,200) [200,300) [300,400), tail from 400. */
static void log_fixture(struct partition *log, struct partition_segment *segments)
{
    memset(log, 0, sizeof(*log));
    memset(segments, 0, 5 * sizeof(*segments));
    log->segments = segments;
    log->segment_count = 5;
    log->options.segment_size_bytes = 1000;
    log->appended_bytes = 500; /* the tail */
    for (uint32_t index = 0; index < 5; index++) {
        segments[index].base_offset = 100 * index;
        segments[index].op_first = 1 + 100 * index;
        segments[index].timestamp_last = 1000 * (index + 1); /* ns */
        segments[index].size_bytes = index < 4 ? 1000 : 0;
    }
}

static void test_retention_target(void **state)
{
    (void)state;
    struct partition log;
    struct partition_segment segments[5];
    log_fixture(&log, segments);
    struct data_retention none = {
        .expiry_us = UINT64_MAX, .now_ns = 1000000, .share_bytes = UINT64_MAX};
    assert_int_equal(data_retention_target(&log, &none), 0);
    struct data_retention watermark = none;
    watermark.watermark = 150;
    assert_int_equal(data_retention_target(&log, &watermark), 150);
    watermark.log_start_offset = 250; /* the group's is higher: kept */
    assert_int_equal(data_retention_target(&log, &watermark), 250);
    /* Expiry: records older than now - expiry; segments 0 and 1 (newest 1000, 2000 ns). */
    struct data_retention expiry = none;
    expiry.now_ns = 2000 + 5000 * 1000;
    expiry.expiry_us = 5000;
    assert_int_equal(data_retention_target(&log, &expiry), 100); /* 2000 is not older */
    expiry.now_ns += 1;
    assert_int_equal(data_retention_target(&log, &expiry), 200);
    expiry.now_ns = UINT64_MAX / 2; /* everything old: every sealed segment, never the tail */
    assert_int_equal(data_retention_target(&log, &expiry), 400);
    segments[1].timestamp_last = UINT64_MAX; /* unknown: it and what follows stay */
    assert_int_equal(data_retention_target(&log, &expiry), 100);
    segments[1].timestamp_last = 2000;
    /* Max size: 4 x 1000 sealed + 500 tail; a share of 2600 drops the two oldest. */
    struct data_retention size = none;
    size.share_bytes = 2600;
    assert_int_equal(data_retention_target(&log, &size), 200);
    size.share_bytes = 0; /* never the tail */
    assert_int_equal(data_retention_target(&log, &size), 400);
    size.share_bytes = 2600; /* counted from the group's start: 3 x 1000 + 500 */
    size.log_start_offset = 100;
    assert_int_equal(data_retention_target(&log, &size), 200);
    segments[0].size_bytes = 0; /* unknown sizes count as a whole segment */
    size.log_start_offset = 0;
    assert_int_equal(data_retention_target(&log, &size), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_raises_never_lowers),
        cmocka_unit_test(test_apply_bad_body_changes_nothing),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_v1_restores_with_log_start_0),
        cmocka_unit_test(test_snapshot_bad_input_refused),
        cmocka_unit_test(test_retention_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
