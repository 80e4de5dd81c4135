/* Unit tests for node/metadata_versions: published copies equal the writer's state
 * (replayed ops, the log's overflow, resets), a version a reader holds stays intact across
 * publishes (reclamation waits for the reader), readers make progress while the writer is
 * between an apply and its publication and while it publishes, and the publication cost
 * with 10,000 topics (printed, not asserted). */
#include "node/metadata_versions.h"
#include "proto/metadata.pb-c.h"

#include "tests/unit/helper_assert.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

enum { READERS = 3, WAIT_ROUNDS_MAX = 500 * 1000 };

static struct metadata source;
static struct metadata_versions versions;
static uint64_t op_last;
static uint8_t reply[METADATA_REPLY_SIZE_MAX];
static uint8_t body[METADATA_OP_BODY_SIZE_MAX];

static void setup_with(const struct metadata_config *config)
{
    assert_int_equal(metadata_init(&source, config), 0);
    assert_int_equal(metadata_versions_init(&versions, &source, READERS), 0);
    op_last = 0;
    assert_true(metadata_versions_publish(&versions)); /* the empty state */
}

static void setup_default(void)
{
    struct metadata_config config;
    metadata_config_defaults(&config);
    setup_with(&config);
}

static void teardown(void)
{
    metadata_versions_deinit(&versions);
    metadata_deinit(&source);
}

/* Applies an op to the writer's state and records it, as the control plane does. */
static uint32_t apply(const Runnel__Metadata__MetadataOperation *operation)
{
    uint32_t size = (uint32_t)runnel__metadata__metadata_operation__pack(operation, body);
    struct metadata_apply_context context = {
        .op = ++op_last, .timestamp_us = op_last * 1000, .client = 0, .user_id = 0};
    uint32_t reply_size = 0;
    assert_int_equal(
        metadata_apply(&source, &context, body, size, reply, sizeof(reply), &reply_size), 0);
    metadata_versions_record(&versions, &context, body, size);
    return (uint32_t)metadata_reply_status(reply, reply_size);
}

/* Applies operation as the op of kind (its message already set). */
static uint32_t apply_kind(Runnel__Metadata__MetadataOperation *operation, int kind)
{
    operation->operation_case = (Runnel__Metadata__MetadataOperation__OperationCase)kind;
    return apply(operation);
}

static ProtobufCBinaryData text(const char *value)
{
    return (ProtobufCBinaryData){.len = strlen(value), .data = (uint8_t *)(uintptr_t)value};
}

static void bootstrap(void)
{
    Runnel__Metadata__Bootstrap request = RUNNEL__METADATA__BOOTSTRAP__INIT;
    request.username = text("root");
    request.password_hash = text("$argon2id$hash");
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.bootstrap = &request;
    assert_int_equal(
        apply_kind(&operation, RUNNEL__METADATA__METADATA_OPERATION__OPERATION_BOOTSTRAP), 0);
}

static uint32_t create_stream(const char *name)
{
    Runnel__Metadata__CreateStream request = RUNNEL__METADATA__CREATE_STREAM__INIT;
    request.name = text(name);
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.create_stream = &request;
    return apply_kind(&operation, RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_STREAM);
}

static uint32_t delete_stream(uint32_t stream_id)
{
    Runnel__Metadata__Identifier stream = RUNNEL__METADATA__IDENTIFIER__INIT;
    stream.has_id = true;
    stream.id = stream_id;
    Runnel__Metadata__DeleteStream request = RUNNEL__METADATA__DELETE_STREAM__INIT;
    request.stream = &stream;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.delete_stream = &request;
    return apply_kind(&operation, RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_STREAM);
}

static uint32_t create_topic(uint32_t stream_id, const char *name, uint32_t partitions)
{
    Runnel__Metadata__Identifier stream = RUNNEL__METADATA__IDENTIFIER__INIT;
    stream.has_id = true;
    stream.id = stream_id;
    Runnel__Metadata__CreateTopic request = RUNNEL__METADATA__CREATE_TOPIC__INIT;
    request.stream = &stream;
    request.name = text(name);
    request.partitions_count = partitions;
    Runnel__Metadata__MetadataOperation operation = RUNNEL__METADATA__METADATA_OPERATION__INIT;
    operation.create_topic = &request;
    return apply_kind(&operation, RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_TOPIC);
}

/* The snapshot bytes of state (deterministic: equal bytes, equal state). */
static uint8_t *encode(struct metadata *state, size_t *size_out)
{
    size_t capacity = metadata_snapshot_size_max(state);
    uint8_t *bytes = malloc(capacity);
    assert_non_null(bytes);
    assert_int_equal(metadata_snapshot_encode(state, bytes, capacity, size_out), 0);
    return bytes;
}

/* The current version equals the writer's state, byte for byte. */
static void assert_current_is_source(void)
{
    assert_true(metadata_versions_is_published(&versions));
    struct metadata *current = &versions.copies[versions.current_index];
    assert_ptr_equal(atomic_load(&versions.current), current);
    size_t source_size = 0;
    size_t current_size = 0;
    uint8_t *source_bytes = encode(&source, &source_size);
    uint8_t *current_bytes = encode(current, &current_size);
    assert_int_equal(source_size, current_size);
    assert_memory_equal(source_bytes, current_bytes, source_size);
    free(source_bytes);
    free(current_bytes);
}

static void test_published_copies_equal_the_source(void **state)
{
    (void)state;
    setup_default();
    bootstrap();
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    char name[32];
    for (uint32_t round = 0; round < 40; round++) {
        snprintf(name, sizeof(name), "stream-%u", round);
        assert_int_equal(create_stream(name), 0);
        uint32_t stream_id = (uint32_t)reply[4] | (uint32_t)reply[5] << 8; /* StreamResponse */
        assert_int_equal(create_topic(stream_id, "topic", 1 + round % 3), 0);
        if (round % 4 == 3) {
            uint32_t status = delete_stream(stream_id / 2); /* a rejection is an op too */
            assert_true(status == 0 || status == METADATA_STATUS_STREAM_NOT_FOUND);
        }
        if (round % 3 == 0) { /* both copies take turns; batches of 1..3 rounds */
            assert_true(metadata_versions_publish(&versions));
            assert_current_is_source();
        }
    }
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    assert_true(versions.replayed > 0);
    assert_int_equal(versions.copies_whole, 0);
    assert_true(versions.entries_count < 20); /* trimmed to what the spare lacks */
    teardown();
}

static void test_log_overflow_and_reset(void **state)
{
    (void)state;
    setup_default();
    bootstrap();
    char name[32];
    for (uint32_t round = 0; round < METADATA_VERSIONS_LOG_ENTRIES_MAX + 10; round++) {
        snprintf(name, sizeof(name), "s-%u", round % 512);
        uint32_t status = create_stream(name); /* names repeat: rejections are ops too */
        assert_true(status == 0 || status == METADATA_STATUS_STREAM_NAME_EXISTS);
    }
    assert_true(versions.log_overflows > 0);
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    assert_int_equal(versions.copies_whole, 1);
    assert_true(metadata_versions_publish(&versions));
    assert_true(metadata_versions_is_published(&versions));
    metadata_reset(&source); /* a reset is a change the copies replay */
    metadata_versions_record_reset(&versions);
    op_last = 0;
    bootstrap();
    assert_int_equal(create_stream("after-reset"), 0);
    assert_false(metadata_versions_is_published(&versions));
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    assert_true(metadata_versions_publish(&versions));
    assert_int_equal(versions.copies_whole, 2); /* the other copy lagged behind the log */
    assert_int_equal(create_stream("again"), 0);
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    assert_int_equal(versions.copies_whole, 2);
    teardown();
}

/* A checkpoint restored into the source (its tables replaced by a decoded snapshot that no
 * logged op leads to): both copies are copied whole, never replayed from the log. */
static void test_replaced_source_is_copied_whole(void **state)
{
    (void)state;
    setup_default();
    bootstrap();
    assert_int_equal(create_stream("before"), 0);
    assert_true(metadata_versions_publish(&versions));
    assert_true(metadata_versions_publish(&versions));
    size_t size = 0;
    uint8_t *bytes = encode(&source, &size); /* the checkpoint: "before" only */
    assert_int_equal(create_stream("not-in-the-checkpoint"), 0);
    uint64_t whole = versions.copies_whole;
    assert_int_equal(metadata_snapshot_decode(&source, bytes, size), 0);
    metadata_versions_record_replace(&versions);
    assert_false(metadata_versions_is_published(&versions));
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source(); /* a replay would have the stream the checkpoint lacks */
    assert_int_equal(versions.copies_whole, whole + 1);
    assert_int_equal(create_stream("after"), 0);
    assert_true(metadata_versions_publish(&versions)); /* the other copy: whole too */
    assert_current_is_source();
    assert_int_equal(versions.copies_whole, whole + 2);
    assert_int_equal(create_stream("again"), 0); /* replay resumes from the replaced state */
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    assert_int_equal(versions.copies_whole, whole + 2);
    free(bytes);
    teardown();
}

/* A stream's name as a version has it ("" when the id is free). */
static void stream_name(const struct metadata *version, uint32_t stream_id, char *out)
{
    const struct metadata_stream *stream = metadata_stream_get(version, stream_id);
    size_t size = stream == NULL ? 0 : stream->name.size;
    memcpy(out, stream == NULL ? (const uint8_t *)"" : stream->name.bytes, size);
    out[size] = '\0';
}

static void test_held_version_survives_publishes(void **state)
{
    (void)state;
    setup_default();
    bootstrap();
    assert_int_equal(create_stream("first"), 0);
    assert_true(metadata_versions_publish(&versions));
    const struct metadata *held = metadata_versions_read_begin(&versions, 1);
    uint64_t held_op = held->op;
    char name[METADATA_NAME_SIZE_MAX + 1];
    /* The writer replaces stream 0 twice; the first publish goes to the spare copy. */
    for (uint32_t round = 0; round < 3; round++) {
        assert_int_equal(delete_stream(0), 0);
        snprintf(name, sizeof(name), "replaced-%u", round);
        assert_int_equal(create_stream(name), 0);
        bool is_published = metadata_versions_publish(&versions);
        assert_int_equal(held->op, held_op);
        stream_name(held, 0, name);
        assert_string_equal(name, "first");
        assert_int_equal(held->streams_count, 1);
        assert_true(is_published == (round == 0)); /* then the spare is the held copy */
    }
    assert_int_equal(versions.publishes_deferred, 2);
    /* Another reader starting now reads the newest published version. */
    const struct metadata *fresh = metadata_versions_read_begin(&versions, 2);
    assert_ptr_not_equal(fresh, held);
    stream_name(fresh, 0, name);
    assert_string_equal(name, "replaced-0");
    metadata_versions_read_end(&versions, 2);
    /* Nested reads share the outer version; the copy is free once the outer read ends. */
    assert_ptr_equal(metadata_versions_read_begin(&versions, 1), held);
    metadata_versions_read_end(&versions, 1);
    assert_false(metadata_versions_publish(&versions));
    metadata_versions_read_end(&versions, 1);
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    stream_name(atomic_load(&versions.current), 0, name);
    assert_string_equal(name, "replaced-2");
    teardown();
}

/* ---- concurrency: a reader thread against the writer ---- */

struct reader_state {
    _Atomic uint64_t reads;
    _Atomic bool is_stopping;
    _Atomic uint64_t errors;
};

/* Reads versions until told to stop; each must be whole (its counts match its tables)
 * and no older than the one before. */
static void *reader_main(void *argument)
{
    struct reader_state *reader = argument;
    uint64_t op_seen = 0;
    for (uint64_t round = 0; round < UINT64_MAX && !atomic_load(&reader->is_stopping); round++) {
        const struct metadata *version = metadata_versions_read_begin(&versions, 1);
        uint32_t used = 0;
        for (uint32_t id = 0; id < 64; id++) {
            used += metadata_stream_get(version, id) != NULL;
        }
        uint64_t op = version->op;
        if (used != version->streams_count || op < op_seen) {
            atomic_fetch_add(&reader->errors, 1);
        }
        op_seen = op;
        metadata_versions_read_end(&versions, 1);
        atomic_fetch_add(&reader->reads, 1);
    }
    return NULL;
}

/* Waits (count-bounded, no clock) until the reader has finished `more` further reads. */
static bool reader_progresses(struct reader_state *reader, uint64_t more)
{
    uint64_t target = atomic_load(&reader->reads) + more;
    for (uint32_t round = 0; round < WAIT_ROUNDS_MAX; round++) {
        if (atomic_load(&reader->reads) >= target) {
            return true;
        }
        sched_yield();
    }
    return false;
}

static void test_readers_never_wait_for_the_writer(void **state)
{
    (void)state;
    setup_default();
    bootstrap();
    assert_true(metadata_versions_publish(&versions));
    struct reader_state reader;
    memset(&reader, 0, sizeof(reader));
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, reader_main, &reader), 0);
    char name[32];
    uint32_t published = 0;
    for (uint32_t round = 0; round < 300; round++) {
        snprintf(name, sizeof(name), "s-%u", round % 40);
        if (round % 40 >= 20) {
            (void)delete_stream(round % 20);
        } else {
            (void)create_stream(name);
        }
        /* The writer holds an applied, unpublished state: the reader still reads (with a
         * lock around apply and publish, it would wait here until this loop gave up). */
        assert_true(reader_progresses(&reader, 3));
        published += metadata_versions_publish(&versions);
    }
    atomic_store(&reader.is_stopping, true);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(atomic_load(&reader.errors), 0);
    assert_true(published > 0);
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    teardown();
}

/* ---- the cost of a publish with 10,000 topics (printed) ---- */

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void test_publish_cost_with_10000_topics(void **state)
{
    (void)state;
    struct metadata_config config;
    metadata_config_defaults(&config);
    config.limits.topics_max = 16000;
    config.limits.partitions_max = 16384;
    setup_with(&config);
    bootstrap();
    char name[32];
    for (uint32_t stream = 0; stream < 10; stream++) {
        snprintf(name, sizeof(name), "stream-%u", stream);
        assert_int_equal(create_stream(name), 0);
        for (uint32_t topic = 0; topic < 1000; topic++) {
            snprintf(name, sizeof(name), "topic-%u", topic);
            assert_int_equal(create_topic(stream, name, 1), 0);
        }
        assert_true(metadata_versions_publish(&versions));
    }
    assert_true(metadata_versions_publish(&versions));
    assert_current_is_source();
    enum { LOOP = 2000 };
    double apply_seconds = 0;
    double publish_seconds = 0;
    uint64_t replayed_before = versions.replayed;
    for (uint32_t round = 0; round < LOOP; round++) { /* a create-topic loop */
        snprintf(name, sizeof(name), "extra-%u", round);
        double started = seconds_now();
        assert_int_equal(create_topic(round % 10, name, 1), 0);
        double applied = seconds_now();
        assert_true(metadata_versions_publish(&versions));
        publish_seconds += seconds_now() - applied;
        apply_seconds += applied - started;
    }
    assert_current_is_source();
    double started = seconds_now();
    metadata_copy(&versions.copies[versions.current_index == 0 ? 1 : 0], &source);
    double copy_whole = seconds_now() - started;
    printf("metadata_versions: 10,000-12,000 topics, a create-topic loop: apply %.1f us per op, "
           "publish %.1f us per op (%.1f ops replayed per publish); copying the tables whole "
           "would take %.0f us\n",
           apply_seconds / LOOP * 1e6, publish_seconds / LOOP * 1e6,
           (double)(versions.replayed - replayed_before) / LOOP, copy_whole * 1e6);
    teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_copies_equal_the_source),
        cmocka_unit_test(test_log_overflow_and_reset),
        cmocka_unit_test(test_replaced_source_is_copied_whole),
        cmocka_unit_test(test_held_version_survives_publishes),
        cmocka_unit_test(test_readers_never_wait_for_the_writer),
        cmocka_unit_test(test_publish_cost_with_10000_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
