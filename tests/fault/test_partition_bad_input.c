/*
 * Bad input for the partition log over the simulated disk (issue 3, "Bad input"): a
 * cleanly written partition of several segments is damaged on disk, then reopened and
 * every op read. Damage: a segment log truncated or zero-filled (tail and sealed), an
 * index that disagrees with its log (wrong position, wrong op, a header copy with a bad
 * checksum, entries missing at the end, garbage entries after the end, entries for
 * records past the end of the log, an index without its log), and odd segment files (a
 * name that is not 20 digits, an empty segment, a segment whose first record is not at
 * its base offset). After each: open succeeds without an assertion; a read returns the
 * exact bytes appended or an error, never other bytes; every record whose bytes and
 * index entry are untouched reads back; a damaged record that was reported durable is
 * faulty (-RUNNEL_EFAULTY), never cut; the log (stderr, captured) has a line naming the
 * damaged file with a position and a reason; and the partition takes new appends.
 */
#include "storage/partition.h"

#include "lib/error.h"
#include "lib/log.h"
#include "tests/sim/sim_disk.h"
#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmocka.h>

enum {
    RECORDS = 44,
    OPS_MAX = 64,
    RECORD_SIZE_MAX = 4352,
    SEGMENTS_MAX = 16,
    CAPTURE_SIZE_MAX = 64 * 1024,
};

/* What a read of an op may return after the damage. */
enum expect {
    EXPECT_INTACT = 0, /* the exact bytes */
    EXPECT_FAULTY,     /* -RUNNEL_EFAULTY: a durable record was damaged */
    EXPECT_EITHER,     /* the exact bytes or -RUNNEL_EFAULTY (its index entry was damaged) */
    EXPECT_GONE,       /* also -RUNNEL_ENOTFOUND (its log file is gone) */
};

struct layout {
    uint32_t segment;
    uint64_t position_bytes;
    uint32_t size_bytes;
};

static struct sim_disk disk;
static struct partition partition;
static _Alignas(16) uint8_t records[OPS_MAX][RECORD_SIZE_MAX]; /* each op as appended */
static struct layout layouts[OPS_MAX];
static enum expect expects[OPS_MAX];
static uint64_t op_last;      /* last op appended (and acknowledged) */
static uint64_t acknowledged; /* highest op reported durable */
static bool failed;
static uint32_t segment_count;
static char log_paths[SEGMENTS_MAX][IO_PATH_SIZE_MAX];
static char index_paths[SEGMENTS_MAX][IO_PATH_SIZE_MAX];
static uint64_t base_offsets[SEGMENTS_MAX];
static _Alignas(4096) uint8_t read_buffer[16 * 1024];
static char capture[CAPTURE_SIZE_MAX];
static uint32_t case_count;
static uint32_t faulty_seen_count; /* reads answered -RUNNEL_EFAULTY */
static char case_name[1280];       /* the damage case, for failure messages */

static void durable_callback(struct partition *p, uint64_t op_durable, int result, void *context)
{
    (void)p;
    (void)context;
    if (result < 0) {
        failed = true;
        return;
    }
    assert_true(op_durable >= acknowledged);
    acknowledged = op_durable;
}

static const struct partition_options partition_options = {
    .directory = "p",
    .group = {.stream_id = 1, .topic_id = 2, .partition_id = 0, .kind = 1, .incarnation = 5},
    .cluster = 99,
    .segment_size_bytes = 24 * 1024,
    .preallocate_bytes = 8 * 1024,
    .index_entries_max = 32,
    .record_size_bytes_max = RECORD_SIZE_MAX,
    .buffer_size_bytes = 20 * 1024,
    .flush_records_max = 8,
    .segments_max = SEGMENTS_MAX,
    .faulty_max = 32,
    .durability_fsync = true,
    .direct_allowed = true,
    .durable_callback = durable_callback,
    .context = NULL,
};

static void noop_callback(struct io_completion *completion)
{
    (void)completion;
}

static void run_io(void)
{
    for (int round = 0; round < 100000 && io_pending_count(&disk.io) > 0; round++) {
        io_run(&disk.io, 1);
    }
}

/* A file or directory operation through the seam, waited for. */
static int64_t io_done(struct io_completion *completion)
{
    return io_wait(&disk.io, completion, 100);
}

static uint32_t batch_make(uint8_t *buffer, uint64_t op)
{
    struct batch_builder builder;
    uint8_t payload[200];
    batch_builder_init(&builder, buffer, 4096, 1000);
    for (uint32_t index = 0; index < 4; index++) {
        memset(payload, (uint8_t)(op * 7 + index), sizeof(payload));
        assert_int_equal(
            batch_builder_add(&builder, op, index, 1000, payload, sizeof(payload), NULL, 0), 0);
    }
    return (uint32_t)batch_builder_finish(&builder);
}

/* Appends one record (flushing when the partition asks); keeps a copy of its bytes. */
static void append_one(void)
{
    uint8_t body[4096];
    for (int attempt = 0; attempt < 4; attempt++) {
        assert_false(failed);
        uint64_t op = partition.op_last + 1;
        assert_true(op < OPS_MAX);
        uint32_t size = batch_make(body, op);
        struct vsr_header header;
        partition_prepare(&partition, &header, VSR_OPERATION_MESSAGES, body, size, 1000000 * op);
        int result = partition_append(&partition, &header, body);
        if (result == 0) {
            memcpy(records[op], &header, VSR_HEADER_SIZE);
            memcpy(records[op] + VSR_HEADER_SIZE, body, size);
            return;
        }
        assert_int_equal(result, -RUNNEL_EFULL);
        assert_int_equal(partition_flush(&partition), 0);
        run_io();
    }
    fail_msg("append did not fit after flushes");
}

/* Appends count records, three per flush, and waits for them to be durable. */
static void workload(uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        append_one();
        if (index % 3 == 2 || index + 1 == count) {
            assert_int_equal(partition_flush(&partition), 0);
            run_io();
        }
    }
    assert_false(failed);
    assert_int_equal(acknowledged, partition.op_last);
}

static bool read_done;

static void read_callback(struct partition_read *read, void *context)
{
    (void)read;
    (void)context;
    read_done = true;
}

static int read_op(uint64_t op, struct partition_read *read)
{
    read_done = false;
    int result = partition_read_op(&partition, read, op, read_buffer, sizeof(read_buffer),
                                   read_callback, NULL);
    if (result < 0) {
        return result;
    }
    if (result == 0) {
        run_io();
        assert_true(read_done);
    }
    return read->result;
}

static bool record_is_exact(const struct partition_read *read, uint64_t op)
{
    struct vsr_header header;
    memcpy(&header, records[op], VSR_HEADER_SIZE);
    return read->record != NULL && read->header.size == header.size &&
           memcmp(read->record, records[op], header.size) == 0;
}

/* A fresh disk holding a cleanly closed partition of several segments; every op's
 * segment, position and size are noted from a clean read. */
static void build(void)
{
    memset(&disk, 0, sizeof(disk));
    memset(expects, 0, sizeof(expects));
    acknowledged = 0;
    failed = false;
    struct sim_disk_options options = {
        .seed = 7,
        .files_max = 64,
        .handles_max = 96,
        .pending_max = 64,
        .file_size_bytes_max = 1 << 20,
        .direct_supported = true,
    };
    assert_int_equal(sim_disk_init(&disk, &options), 0);
    struct io_completion completion = {0};
    io_mkdir(&disk.io, &completion, "p", noop_callback, NULL);
    assert_int_equal(io_done(&completion), 0);
    assert_int_equal(partition_init(&partition, &partition_options), 0);
    assert_int_equal(partition_open(&partition, &disk.io), 0);
    workload(RECORDS);
    op_last = partition.op_last;
    assert_int_equal(op_last, RECORDS);
    segment_count = partition.segment_count;
    assert_true(segment_count >= 3);
    for (uint32_t index = 0; index < segment_count; index++) {
        snprintf(log_paths[index], IO_PATH_SIZE_MAX, "%s", partition.segments[index].log_path);
        snprintf(index_paths[index], IO_PATH_SIZE_MAX, "%s", partition.segments[index].index_path);
        base_offsets[index] = partition.segments[index].base_offset;
    }
    for (uint64_t op = 1; op <= op_last; op++) {
        struct partition_read read;
        assert_int_equal(read_op(op, &read), 0);
        assert_true(record_is_exact(&read, op));
        layouts[op] = (struct layout){read.segment, read.position_bytes, read.header.size};
    }
    partition_close(&partition);
}

static void teardown(void)
{
    partition_deinit(&partition);
    sim_disk_deinit(&disk);
}

static uint32_t tail(void)
{
    return segment_count - 1;
}

static uint64_t file_size(const char *path)
{
    uint64_t size = 0;
    assert_int_equal(sim_disk_file_size(&disk, path, &size), 0);
    return size;
}

/* Zeroes [from, to) of path (within its size). */
static void zero_fill(const char *path, uint64_t from, uint64_t to)
{
    static const uint8_t zeros[64 * 1024];
    uint64_t size = file_size(path);
    to = to < size ? to : size;
    if (from < to) {
        assert_true(to - from <= sizeof(zeros));
        assert_int_equal(sim_disk_file_write(&disk, path, zeros, to - from, from), 0);
    }
}

/* After damage to segment logs: an op whose bytes on disk differ from what was appended
 * (or are gone) must read faulty; the others intact. */
static void expect_from_logs(void)
{
    static uint8_t bytes[RECORD_SIZE_MAX];
    for (uint64_t op = 1; op <= op_last; op++) {
        const struct layout *layout = &layouts[op];
        uint64_t got = 0;
        int result = sim_disk_file_read(&disk, log_paths[layout->segment], bytes,
                                        layout->size_bytes, layout->position_bytes, &got);
        bool intact = result == 0 && got == layout->size_bytes &&
                      memcmp(bytes, records[op], layout->size_bytes) == 0;
        expects[op] = intact ? EXPECT_INTACT : EXPECT_FAULTY;
    }
}

static bool any_damaged(void)
{
    for (uint64_t op = 1; op <= op_last; op++) {
        if (expects[op] != EXPECT_INTACT) {
            return true;
        }
    }
    return false;
}

/* Runs open under a stderr capture: the log lines land in capture. */
static int capture_begin(void)
{
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    FILE *file = tmpfile();
    assert_non_null(file);
    assert_true(dup2(fileno(file), 2) >= 0);
    fclose(file); /* fd 2 keeps the file open */
    return saved;
}

static void capture_end(int saved)
{
    fflush(stderr);
    off_t size = lseek(2, 0, SEEK_END);
    assert_true(size >= 0);
    size_t want = (size_t)size < sizeof(capture) - 1 ? (size_t)size : sizeof(capture) - 1;
    ssize_t got = pread(2, capture, want, 0);
    assert_true(got >= 0);
    capture[got] = '\0';
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
}

/* True when a captured line names file (a path, matched by its last component) with a
 * position and a reason. */
static bool capture_reports(const char *path)
{
    const char *name = strrchr(path, '/');
    name = name != NULL ? name + 1 : path;
    const char *line = capture;
    for (int guard = 0; guard < 4096 && *line != '\0'; guard++) {
        const char *end = strchr(line, '\n');
        size_t size = end != NULL ? (size_t)(end - line) : strlen(line);
        char copy[1024];
        size = size < sizeof(copy) - 1 ? size : sizeof(copy) - 1;
        memcpy(copy, line, size);
        copy[size] = '\0';
        if (strstr(copy, name) != NULL && strstr(copy, "position=") != NULL &&
            strstr(copy, "reason=") != NULL) {
            return true;
        }
        line = end != NULL ? end + 1 : line + size;
    }
    return false;
}

static int results[OPS_MAX];
static bool exact[OPS_MAX];

/* Reopens (recovery) and reads every op with the log captured; nothing is asserted
 * until stderr is back. */
static int open_and_read_captured(void)
{
    int saved = capture_begin();
    int result = partition_open(&partition, &disk.io);
    for (uint64_t op = 1; result == 0 && op <= op_last; op++) {
        struct partition_read read;
        results[op] = read_op(op, &read);
        exact[op] = results[op] == 0 && record_is_exact(&read, op);
    }
    capture_end(saved);
    return result;
}

static void check_op(uint64_t op)
{
    if (results[op] == 0) {
        if (!exact[op]) {
            fail_msg("%s: op %" PRIu64 ": other bytes than appended", case_name, op);
        }
        assert_true(expects[op] != EXPECT_FAULTY); /* damaged bytes must not verify */
        return;
    }
    if (expects[op] == EXPECT_INTACT) {
        fprintf(stderr, "%s", capture);
        fail_msg("%s: op %" PRIu64 ": intact record lost (%d %s)", case_name, op, results[op],
                 error_text(results[op]));
    }
    if (results[op] == -RUNNEL_ENOTFOUND && expects[op] != EXPECT_GONE) {
        fail_msg("%s: op %" PRIu64 ": durable damaged record cut (not found)", case_name, op);
    }
    assert_true(results[op] == -RUNNEL_EFAULTY || results[op] == -RUNNEL_ENOTFOUND);
    assert_true(results[op] != -RUNNEL_EFAULTY || partition_is_faulty(&partition, op));
    faulty_seen_count += results[op] == -RUNNEL_EFAULTY ? 1 : 0;
}

/* Recovery and reads after damage; report_path (NULL: nothing to report) must be named
 * by a log line with a position and a reason. Then the partition takes new appends. */
static void verify(const char *report_path)
{
    case_count++;
    int result = open_and_read_captured();
    if (result != 0) {
        fprintf(stderr, "%s", capture);
        fail_msg("%s: open after damage: %s", case_name, error_text(result));
    }
    bool is_gone_allowed = false;
    for (uint64_t op = 1; op <= op_last; op++) {
        is_gone_allowed = is_gone_allowed || expects[op] == EXPECT_GONE;
    }
    /* Nothing acknowledged is cut, unless a whole log file is gone. */
    assert_true(is_gone_allowed || partition.op_last >= op_last);
    for (uint64_t op = 1; op <= op_last; op++) {
        check_op(op);
    }
    if (report_path != NULL && !capture_reports(report_path)) {
        fprintf(stderr, "%s", capture);
        fail_msg("%s: no log line names %s with a position and a reason", case_name, report_path);
    }
    uint64_t before = partition.op_last;
    acknowledged = before;
    workload(2);
    assert_int_equal(acknowledged, before + 2);
    partition_close(&partition);
}

/* Log damage: expectations from the bytes on disk; a damaged op must be reported. */
static void verify_log_damage(uint32_t segment)
{
    expect_from_logs();
    verify(any_damaged() ? log_paths[segment] : NULL);
}

static void test_truncated(void **state)
{
    (void)state;
    build();
    uint64_t sizes[2] = {file_size(log_paths[tail()]), file_size(log_paths[1])};
    teardown();
    static const uint64_t odd[] = {1, 255, 256, 257, 1000, 4095, 4097, 6001, 9999};
    uint32_t faulty_before = faulty_seen_count;
    for (uint32_t which = 0; which < 2; which++) {
        uint64_t step = which == 0 ? 512 : 1536; /* the tail: every 512-byte boundary */
        uint64_t count = sizes[which] / step + 1 + sizeof(odd) / sizeof(odd[0]);
        for (uint64_t index = 0; index < count; index++) {
            uint64_t cut = index * step;
            if (cut > sizes[which]) {
                cut = odd[index - sizes[which] / step - 1] % sizes[which];
            }
            build();
            uint32_t segment = which == 0 ? tail() : 1;
            assert_int_equal(sim_disk_file_truncate(&disk, log_paths[segment], cut), 0);
            snprintf(case_name, sizeof(case_name), "log %s cut at %" PRIu64, log_paths[segment],
                     cut);
            verify_log_damage(segment);
            teardown();
        }
    }
    assert_true(faulty_seen_count > faulty_before + 50); /* the damage was met, not missed */
}

/* Zero-filled ranges: one 512-byte sector, several sectors, from a point to the end. */
static void test_zero_filled(void **state)
{
    (void)state;
    build();
    uint64_t sizes[2] = {file_size(log_paths[tail()]), file_size(log_paths[1])};
    teardown();
    for (uint32_t which = 0; which < 2; which++) {
        uint32_t segment = which == 0 ? segment_count - 1 : 1;
        for (uint32_t shape = 0; shape < 3; shape++) {
            uint64_t step = shape == 0 ? 512 : (shape == 1 ? 1536 : 2048);
            step *= which == 0 ? 1 : 2;
            for (uint64_t from = 0; from < sizes[which]; from += step) {
                uint64_t to = shape == 0 ? from + 512 : (shape == 1 ? from + 2560 : UINT64_MAX);
                build();
                zero_fill(log_paths[segment], from, to);
                snprintf(case_name, sizeof(case_name), "log %s zeroed [%" PRIu64 ", %" PRIu64 ")",
                         log_paths[segment], from, to);
                verify_log_damage(segment);
                teardown();
            }
        }
    }
}

static uint64_t segment_op_first(uint32_t segment)
{
    for (uint64_t op = 1; op <= op_last; op++) {
        if (layouts[op].segment == segment) {
            return op;
        }
    }
    fail_msg("segment %" PRIu32 " holds no op", segment);
    return 0;
}

static uint32_t segment_op_count(uint32_t segment)
{
    uint32_t count = 0;
    for (uint64_t op = 1; op <= op_last; op++) {
        count += layouts[op].segment == segment ? 1 : 0;
    }
    return count;
}

static void entry_read(uint32_t segment, uint32_t index, struct record_index_entry *entry)
{
    uint64_t got = 0;
    assert_int_equal(sim_disk_file_read(&disk, index_paths[segment], entry, sizeof(*entry),
                                        (uint64_t)index * RECORD_INDEX_ENTRY_SIZE, &got),
                     0);
    assert_int_equal(got, sizeof(*entry));
}

/* Writes entry (re-sealed: its own checksum valid, whatever its contents say). */
static void entry_write(uint32_t segment, uint32_t index, struct record_index_entry *entry)
{
    entry->checksum = 0;
    entry->checksum = XXH3_64bits(entry, sizeof(*entry));
    assert_int_equal(sim_disk_file_write(&disk, index_paths[segment], entry, sizeof(*entry),
                                         (uint64_t)index * RECORD_INDEX_ENTRY_SIZE),
                     0);
}

/* Ways one entry can disagree with its log while its own checksum is valid. */
enum entry_damage {
    ENTRY_POSITION_SHIFTED = 0, /* 512 bytes further */
    ENTRY_POSITION_OTHER,       /* a neighbouring record's position */
    ENTRY_POSITION_PAST_END,    /* past the segment */
    ENTRY_OTHER_ENTRY,          /* a neighbouring op's entry (wrong op) */
    ENTRY_OP_CHANGED,           /* the header copy's op + 1, its checksum resealed */
    ENTRY_HEADER_CHECKSUM_BAD,  /* the header copy's checksum wrong */
    ENTRY_DAMAGE_COUNT,
};

static void entry_damage(uint32_t segment, uint32_t index, enum entry_damage damage)
{
    uint32_t count = segment_op_count(segment);
    uint32_t neighbour = index + 1 < count ? index + 1 : index - 1;
    struct record_index_entry entry;
    struct record_index_entry other;
    entry_read(segment, index, &entry);
    entry_read(segment, neighbour, &other);
    switch (damage) {
    case ENTRY_POSITION_SHIFTED:
        entry.position_bytes += 512;
        break;
    case ENTRY_POSITION_OTHER:
        entry.position_bytes = other.position_bytes;
        break;
    case ENTRY_POSITION_PAST_END:
        entry.position_bytes = partition_options.segment_size_bytes + 4096;
        break;
    case ENTRY_OTHER_ENTRY:
        entry = other;
        break;
    case ENTRY_OP_CHANGED:
        entry.header.u.prepare.op++;
        vsr_header_set_checksum(&entry.header);
        break;
    case ENTRY_HEADER_CHECKSUM_BAD:
        entry.header.checksum ^= 1;
        break;
    default:
        fail();
    }
    entry_write(segment, index, &entry);
}

/* A line must name the segment's index or log (the read that meets the damage). */
static void verify_index_damage(uint32_t segment)
{
    verify(NULL);
    if (!capture_reports(index_paths[segment]) && !capture_reports(log_paths[segment])) {
        fprintf(stderr, "%s", capture);
        fail_msg("%s: no log line names segment %" PRIu32 "'s files with position and reason",
                 case_name, segment);
    }
}

static void test_index_entry_disagrees(void **state)
{
    (void)state;
    build();
    uint32_t segments[2] = {tail(), 1};
    uint32_t counts[2] = {segment_op_count(tail()), segment_op_count(1)};
    teardown();
    for (uint32_t which = 0; which < 2; which++) {
        uint32_t picks[4] = {0, 1, counts[which] / 2, counts[which] - 1};
        for (uint32_t pick = 0; pick < 4; pick++) {
            for (uint32_t damage = 0; damage < ENTRY_DAMAGE_COUNT; damage++) {
                build();
                uint32_t segment = segments[which];
                entry_damage(segment, picks[pick], (enum entry_damage)damage);
                snprintf(case_name, sizeof(case_name), "index %s entry %" PRIu32 " damage %" PRIu32,
                         index_paths[segment], picks[pick], damage);
                expects[segment_op_first(segment) + picks[pick]] = EXPECT_EITHER;
                verify_index_damage(segment);
                teardown();
            }
        }
    }
}

/* Entries missing at the end (cut or zeroed): every record is still found from the log;
 * a sealed index is reported and rebuilt (a short tail index is what a crash leaves). */
static void test_index_entries_missing(void **state)
{
    (void)state;
    build();
    uint32_t segments[3] = {tail(), 1, 0};
    uint32_t counts[3] = {segment_op_count(tail()), segment_op_count(1), segment_op_count(0)};
    teardown();
    for (uint32_t which = 0; which < 3; which++) {
        uint32_t keeps[5] = {0, 1, 8, counts[which] / 2, counts[which] - 1};
        for (uint32_t keep = 0; keep < 5; keep++) {
            for (uint32_t zeroed = 0; zeroed < 2 && keeps[keep] < counts[which]; zeroed++) {
                build();
                const char *path = index_paths[segments[which]];
                uint64_t at = (uint64_t)keeps[keep] * RECORD_INDEX_ENTRY_SIZE;
                if (zeroed) {
                    zero_fill(path, at, UINT64_MAX);
                } else {
                    assert_int_equal(sim_disk_file_truncate(&disk, path, at), 0);
                }
                snprintf(case_name, sizeof(case_name), "index %s keeps %" PRIu32 " entries (%s)",
                         path, keeps[keep], zeroed ? "zeroed" : "cut");
                verify(which == 0 ? NULL : path);
                teardown();
            }
        }
    }
}

/* Garbage after the last entry: random bytes (ignored, or a sealed index rebuilt), or a
 * well-formed entry of the next op whose record is not there (a durable entry whose
 * record is damaged: that op is faulty, the others intact). */
static void test_index_garbage_after_end(void **state)
{
    (void)state;
    build();
    uint32_t segments[2] = {tail(), 1};
    teardown();
    for (uint32_t which = 0; which < 2; which++) {
        for (uint32_t kind = 0; kind < 2; kind++) {
            build();
            uint32_t segment = segments[which];
            uint32_t count = segment_op_count(segment);
            struct record_index_entry entry;
            entry_read(segment, count - 1, &entry);
            if (kind == 0) {
                memset(&entry, 0, sizeof(entry));
                for (uint32_t index = 0; index < sizeof(entry); index++) {
                    ((uint8_t *)&entry)[index] = (uint8_t)(index * 131 + 17);
                }
                assert_int_equal(sim_disk_file_write(&disk, index_paths[segment], &entry,
                                                     sizeof(entry),
                                                     (uint64_t)count * RECORD_INDEX_ENTRY_SIZE),
                                 0);
            } else {
                entry.header.u.prepare.op++;
                entry.position_bytes += entry.header.size;
                vsr_header_set_checksum(&entry.header);
                entry_write(segment, count, &entry);
            }
            snprintf(case_name, sizeof(case_name), "index %s garbage %" PRIu32 " after the end",
                     index_paths[segment], kind);
            if (which == 0 && kind == 0) {
                verify(NULL);
            } else {
                verify_index_damage(segment);
            }
            teardown();
        }
    }
}

/* The index is longer than its log: the log cut after a record (its entries beyond are
 * durable, so those ops are faulty, not cut), or the index padded past the log's size. */
static void test_index_longer_than_log(void **state)
{
    (void)state;
    build();
    uint32_t segments[2] = {tail(), 1};
    teardown();
    for (uint32_t which = 0; which < 2; which++) {
        for (uint32_t kind = 0; kind < 3; kind++) {
            build();
            uint32_t segment = segments[which];
            uint64_t op = segment_op_first(segment) + kind; /* the log ends after op */
            snprintf(case_name, sizeof(case_name), "index %s longer than its log (%" PRIu32 ")",
                     index_paths[segment], kind);
            if (kind < 2) {
                uint64_t end = layouts[op].position_bytes + layouts[op].size_bytes;
                assert_int_equal(sim_disk_file_truncate(&disk, log_paths[segment], end), 0);
                verify_log_damage(segment);
            } else {
                static const uint8_t zeros[3 * 4096];
                uint64_t size = file_size(log_paths[segment]);
                assert_int_equal(
                    sim_disk_file_write(&disk, index_paths[segment], zeros, sizeof(zeros), size),
                    0);
                verify(NULL);
            }
            teardown();
        }
    }
}

static void unlink_path(const char *path)
{
    struct io_completion completion = {0};
    io_unlink(&disk.io, &completion, path, 0, noop_callback, NULL);
    assert_int_equal(io_done(&completion), 0);
}

/* A log file is gone (its index left behind): its ops are not found or faulty, the
 * other segments' intact, and the orphan index is reported. An index file is gone: it
 * is rebuilt from the log (a sealed one reported). */
static void test_file_missing(void **state)
{
    (void)state;
    build();
    uint32_t segments[3] = {0, 1, tail()};
    teardown();
    for (uint32_t which = 0; which < 3; which++) {
        for (uint32_t kind = 0; kind < 2; kind++) {
            build();
            uint32_t segment = segments[which];
            snprintf(case_name, sizeof(case_name), "segment %" PRIu32 " %s missing", segment,
                     kind == 0 ? "log" : "index");
            if (kind == 0) {
                unlink_path(log_paths[segment]);
                for (uint64_t op = 1; op <= op_last; op++) {
                    expects[op] = layouts[op].segment == segment ? EXPECT_GONE : EXPECT_INTACT;
                }
                verify(index_paths[segment]);
            } else {
                unlink_path(index_paths[segment]);
                verify(segment == tail() ? NULL : index_paths[segment]);
            }
            teardown();
        }
    }
}

static void create_file(const char *path, const char *copy_of)
{
    struct io_completion completion = {0};
    io_open(&disk.io, &completion, path, IO_OPEN_CREATE, noop_callback, NULL);
    int64_t file = io_done(&completion);
    assert_true(file >= 0);
    io_close(&disk.io, &completion, (int32_t)file, noop_callback, NULL);
    assert_int_equal(io_done(&completion), 0);
    if (copy_of != NULL) {
        static uint8_t bytes[64 * 1024];
        uint64_t got = 0;
        assert_int_equal(sim_disk_file_read(&disk, copy_of, bytes, sizeof(bytes), 0, &got), 0);
        assert_int_equal(sim_disk_file_write(&disk, path, bytes, got, 0), 0);
    }
}

/* Files whose names are not {20 digits}.log (or an index without its log): ignored and
 * reported; every op intact. */
static void test_segment_name_bad(void **state)
{
    (void)state;
    static const char *const names[] = {
        "p/abc.log",
        "p/0000000000000000000x.log",
        "p/000000000000000000000.log",
        "p/00000000000000000001.index",
        "p/0000000000000000000.index",
    };
    for (uint32_t which = 0; which < sizeof(names) / sizeof(names[0]); which++) {
        build();
        create_file(names[which], which == 3 ? index_paths[1] : log_paths[1]);
        snprintf(case_name, sizeof(case_name), "file %s", names[which]);
        verify(names[which]);
        teardown();
    }
}

/* An empty segment file: after the tail (an empty tail, as after a rotation) or between
 * two sealed segments (reported); every op intact. */
static void test_segment_empty(void **state)
{
    (void)state;
    for (uint32_t which = 0; which < 2; which++) {
        build();
        uint64_t base = which == 0 ? base_offsets[tail()] + 1000 : base_offsets[0] + 1;
        char path[IO_PATH_SIZE_MAX];
        snprintf(path, sizeof(path), "p/%020" PRIu64 ".log", base);
        create_file(path, NULL);
        snprintf(case_name, sizeof(case_name), "empty segment %s", path);
        verify(which == 0 ? NULL : path);
        teardown();
    }
}

/* A segment whose first record's offset is not the base offset in its name (files
 * renamed): reported; every op still reads intact by op. */
static void test_segment_base_mismatch(void **state)
{
    (void)state;
    static const int64_t shifts[] = {3, -3};
    build();
    uint32_t segments[2] = {1, tail()};
    teardown();
    for (uint32_t which = 0; which < 2; which++) {
        for (uint32_t shift = 0; shift < 2; shift++) {
            build();
            uint32_t segment = segments[which];
            uint64_t base = base_offsets[segment] + (uint64_t)shifts[shift];
            char log_path[IO_PATH_SIZE_MAX];
            char index_path[IO_PATH_SIZE_MAX];
            snprintf(log_path, sizeof(log_path), "p/%020" PRIu64 ".log", base);
            snprintf(index_path, sizeof(index_path), "p/%020" PRIu64 ".index", base);
            struct io_completion completion = {0};
            io_rename(&disk.io, &completion, log_paths[segment], log_path, noop_callback, NULL);
            assert_int_equal(io_done(&completion), 0);
            io_rename(&disk.io, &completion, index_paths[segment], index_path, noop_callback, NULL);
            assert_int_equal(io_done(&completion), 0);
            snprintf(case_name, sizeof(case_name), "segment %" PRIu32 " renamed %s", segment,
                     log_path);
            verify(log_path);
            teardown();
        }
    }
}

static bool repair_done;
static int repair_result;

static void repair_callback(struct partition_repair *repair, int result, void *context)
{
    (void)repair;
    (void)context;
    repair_done = true;
    repair_result = result;
}

/* Repairs op from its intact copy (as a peer sends it): 0 or the refusal. */
static int repair_op(uint64_t op)
{
    static _Alignas(4096) uint8_t scratch[16 * 1024];
    static struct vsr_header header; /* the repair keeps pointing at it */
    memcpy(&header, records[op], VSR_HEADER_SIZE);
    repair_done = false;
    static struct partition_repair repair;
    int result = partition_repair(&partition, &repair, &header, records[op] + VSR_HEADER_SIZE,
                                  scratch, sizeof(scratch), repair_callback, NULL);
    return result;
}

/* True when every op but skip still has its exact bytes at its place in its log. */
static bool others_intact_on_disk(uint64_t skip)
{
    static uint8_t bytes[RECORD_SIZE_MAX];
    for (uint64_t op = 1; op <= op_last; op++) {
        const struct layout *layout = &layouts[op];
        uint64_t got = 0;
        if (op != skip &&
            (sim_disk_file_read(&disk, log_paths[layout->segment], bytes, layout->size_bytes,
                                layout->position_bytes, &got) != 0 ||
             got != layout->size_bytes || memcmp(bytes, records[op], layout->size_bytes) != 0)) {
            fprintf(stderr, "%s: op %" PRIu64 " overwritten on disk\n", case_name, op);
            return false;
        }
    }
    return true;
}

/* Every op read exact before stays exact; op reads exact when repaired, else faulty. */
static void repair_check_reads(uint64_t op, const bool *exact_before, bool is_repaired)
{
    for (uint64_t other = 1; other <= op_last; other++) {
        if (other != op && exact_before[other] && !exact[other]) {
            fprintf(stderr, "%s", capture);
            fail_msg("%s: op %" PRIu64 " lost after the repair of op %" PRIu64 " (%d)", case_name,
                     other, op, results[other]);
        }
    }
    if (is_repaired ? !exact[op] : results[op] != -RUNNEL_EFAULTY) {
        fail_msg("%s: op %" PRIu64 " reads %d after repair %s", case_name, op, results[op],
                 is_repaired ? "done" : "refused");
    }
}

/*
 * One case: op's index entry (re-sealed, checksum valid) names shift bytes into the next
 * op's record, optionally with op's own record damaged too (a flipped body byte); or
 * only the record damaged (a control: the repair must succeed). Reopened, op is faulty
 * once read; the repair with op's intact prepare must never write over another record:
 * it either repairs op (exact bytes, also after a reopen) or is refused (op faulty).
 */
static bool repair_case(uint32_t segment, uint32_t index, uint64_t shift, uint32_t kind)
{
    build();
    uint64_t op = segment_op_first(segment) + index;
    snprintf(case_name, sizeof(case_name),
             "segment %" PRIu32 " op %" PRIu64 " entry +%" PRIu64 " into op %" PRIu64
             " kind %" PRIu32,
             segment, op, shift, op + 1, kind);
    if (kind != 2) {
        struct record_index_entry entry;
        entry_read(segment, index, &entry);
        entry.position_bytes = layouts[op + 1].position_bytes + shift;
        entry_write(segment, index, &entry);
    }
    if (kind != 0) {
        uint8_t byte = records[op][300] ^ 0x5a;
        assert_int_equal(sim_disk_file_write(&disk, log_paths[segment], &byte, 1,
                                             layouts[op].position_bytes + 300),
                         0);
    }
    assert_int_equal(open_and_read_captured(), 0);
    bool exact_before[OPS_MAX];
    memcpy(exact_before, exact, sizeof(exact_before));
    if (results[op] != -RUNNEL_EFAULTY) {
        assert_true(exact[op]); /* recovery found the record from the log: nothing to repair */
        teardown();
        return false;
    }
    int saved = capture_begin();
    int result = repair_op(op);
    if (result == 0) {
        run_io();
        result = repair_done ? repair_result : -RUNNEL_ESTATE;
    }
    capture_end(saved);
    assert_true(others_intact_on_disk(op));
    if (result != 0 && (result != -RUNNEL_EFAULTY || !capture_reports(log_paths[segment]))) {
        fprintf(stderr, "%s", capture);
        fail_msg("%s: repair refused with %d and no log line naming the log", case_name, result);
    }
    assert_true(kind != 2 || result == 0); /* a record damaged in place is repaired */
    assert_true(result == 0 || partition_is_faulty(&partition, op));
    for (uint32_t pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            partition_close(&partition);
            assert_int_equal(open_and_read_captured(), 0);
        } else {
            for (uint64_t other = 1; other <= op_last; other++) {
                struct partition_read read;
                results[other] = read_op(other, &read);
                exact[other] = results[other] == 0 && record_is_exact(&read, other);
            }
        }
        repair_check_reads(op, exact_before, result == 0);
    }
    assert_true(others_intact_on_disk(op));
    partition_close(&partition);
    teardown();
    return true;
}

/* An entry with a valid checksum but a wrong position, in the tail and in a sealed
 * segment: a repair must not write the peer's copy over another record. */
static void test_index_entry_position_repair(void **state)
{
    (void)state;
    build();
    uint32_t segments[2] = {tail(), 1};
    uint32_t counts[2] = {segment_op_count(tail()), segment_op_count(1)};
    teardown();
    static const uint64_t shifts[] = {0, 200, 512};
    uint32_t faulty_cases = 0;
    for (uint32_t which = 0; which < 2; which++) {
        uint32_t picks[3] = {0, 1, counts[which] / 2};
        for (uint32_t pick = 0; pick < 3; pick++) {
            for (uint32_t shift = 0; shift < 3; shift++) {
                for (uint32_t kind = 0; kind < 3; kind++) {
                    faulty_cases +=
                        repair_case(segments[which], picks[pick], shifts[shift], kind) ? 1 : 0;
                }
            }
        }
    }
    assert_true(faulty_cases >= 20); /* the damage was met, not missed */
}

int main(void)
{
    helper_assert_install();
    log_level_set(LOG_LEVEL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_zero_filled),
        cmocka_unit_test(test_index_entry_disagrees),
        cmocka_unit_test(test_index_entries_missing),
        cmocka_unit_test(test_index_garbage_after_end),
        cmocka_unit_test(test_index_longer_than_log),
        cmocka_unit_test(test_file_missing),
        cmocka_unit_test(test_segment_name_bad),
        cmocka_unit_test(test_segment_empty),
        cmocka_unit_test(test_segment_base_mismatch),
        cmocka_unit_test(test_index_entry_position_repair),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    fprintf(stderr, "bad input: %" PRIu32 " damage cases, %" PRIu32 " faulty reads\n", case_count,
            faulty_seen_count);
    return failures;
}
