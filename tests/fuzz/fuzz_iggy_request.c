/*
 * libFuzzer harness: every Iggy request-body decoder (proto/iggy_*). The first input byte
 * picks the decoder, the rest is the body. A body that decodes is re-encoded, decoded
 * again and re-encoded again: the two encodings must be identical (decode then encode is
 * a projection onto canonical bytes), and the canonical bytes may differ from the input
 * only where a flag was normalised (fuzz_canonical_check), so decoders and encoders agree
 * on every field.
 * Built with -fsanitize=fuzzer,address by tests/fuzz/tests.cmake when clang has
 * libFuzzer; replayed over tests/fuzz/corpus/fuzz_iggy_request by fuzz_replay.c.
 */
#include "lib/assert.h"
#include "proto/iggy_command.h"
#include "proto/iggy_groups.h"
#include "proto/iggy_messages.h"
#include "proto/iggy_streams.h"
#include "proto/iggy_system.h"
#include "proto/iggy_users.h"
#include "proto/iggy_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_BUFFER_SIZE = 1 << 17 };

static uint8_t first_buffer[FUZZ_BUFFER_SIZE];
static uint8_t second_buffer[FUZZ_BUFFER_SIZE];

/* Decodes body as decoder `which`; on success appends its canonical encoding to writer.
 * Returns the decode result. */
static int fuzz_streams(uint32_t which, const uint8_t *body, uint32_t size,
                        struct iggy_writer *writer)
{
    assert(which < 6);
    assert(writer != NULL);
    union {
        struct iggy_stream_create stream_create;
        struct iggy_stream_update stream_update;
        struct iggy_topic_create topic_create;
        struct iggy_topic_update topic_update;
        struct iggy_partitions_change partitions;
        struct iggy_segments_delete segments;
    } value;
    int result = 0;
    if (which == 0 &&
        (result = iggy_streams_create_decode(body, size, &value.stream_create)) == 0) {
        (void)iggy_streams_create_encode(writer, &value.stream_create);
    } else if (which == 1 &&
               (result = iggy_streams_update_decode(body, size, &value.stream_update)) == 0) {
        (void)iggy_streams_update_encode(writer, &value.stream_update);
    } else if (which == 2 &&
               (result = iggy_streams_topic_create_decode(body, size, &value.topic_create)) == 0) {
        (void)iggy_streams_topic_create_encode(writer, &value.topic_create);
    } else if (which == 3 &&
               (result = iggy_streams_topic_update_decode(body, size, &value.topic_update)) == 0) {
        (void)iggy_streams_topic_update_encode(writer, &value.topic_update);
    } else if (which == 4 &&
               (result = iggy_streams_partitions_decode(body, size, &value.partitions)) == 0) {
        (void)iggy_streams_partitions_encode(writer, &value.partitions);
    } else if (which == 5 &&
               (result = iggy_streams_segments_decode(body, size, &value.segments)) == 0) {
        (void)iggy_streams_segments_encode(writer, &value.segments);
    }
    return result;
}

static int fuzz_messages(uint32_t which, const uint8_t *body, uint32_t size,
                         struct iggy_writer *writer)
{
    assert(which < 6);
    assert(writer != NULL);
    static const uint32_t offset_codes[3] = {IGGY_COMMAND_OFFSET_GET, IGGY_COMMAND_OFFSET_STORE,
                                             IGGY_COMMAND_OFFSET_DELETE};
    union {
        struct iggy_send_messages send;
        struct iggy_poll_messages poll;
        struct iggy_flush_messages flush;
        struct iggy_consumer_offset offset;
    } value;
    int result = 0;
    if (which == 0 && (result = iggy_messages_send_decode(body, size, &value.send)) == 0) {
        (void)iggy_messages_send_admit(&value.send, NULL);
        (void)iggy_messages_send_encode(writer, &value.send);
    } else if (which == 1 && (result = iggy_messages_poll_decode(body, size, &value.poll)) == 0) {
        (void)iggy_messages_poll_encode(writer, &value.poll);
    } else if (which == 2 && (result = iggy_messages_flush_decode(body, size, &value.flush)) == 0) {
        (void)iggy_messages_flush_encode(writer, &value.flush);
    } else if (which >= 3) {
        uint32_t code = offset_codes[which - 3];
        result = iggy_messages_offset_decode(code, body, size, &value.offset);
        if (result == 0) {
            (void)iggy_messages_offset_encode(code, writer, &value.offset);
        }
    }
    return result;
}

static int fuzz_users(uint32_t which, const uint8_t *body, uint32_t size,
                      struct iggy_writer *writer)
{
    assert(which < 6);
    assert(writer != NULL);
    union {
        struct iggy_user_create create;
        struct iggy_user_update update;
        struct iggy_user_permissions permissions;
        struct iggy_user_password password;
        struct iggy_pat_create pat_create;
        struct iggy_bytes pat_name;
    } value;
    int result = 0;
    if (which == 0 && (result = iggy_users_create_decode(body, size, &value.create)) == 0) {
        (void)iggy_users_create_encode(writer, &value.create);
    } else if (which == 1 && (result = iggy_users_update_decode(body, size, &value.update)) == 0) {
        (void)iggy_users_update_encode(writer, &value.update);
    } else if (which == 2 &&
               (result = iggy_users_permissions_decode(body, size, &value.permissions)) == 0) {
        (void)iggy_users_permissions_encode(writer, &value.permissions);
    } else if (which == 3 &&
               (result = iggy_users_password_decode(body, size, &value.password)) == 0) {
        (void)iggy_users_password_encode(writer, &value.password);
    } else if (which == 4 &&
               (result = iggy_users_pat_create_decode(body, size, &value.pat_create)) == 0) {
        (void)iggy_users_pat_create_encode(writer, &value.pat_create);
    } else if (which == 5 &&
               (result = iggy_users_pat_delete_decode(body, size, &value.pat_name)) == 0) {
        (void)iggy_users_pat_delete_encode(writer, value.pat_name);
    }
    return result;
}

/* Register tolerates trailing bytes and has two shapes: re-encode each shape that
 * decoded and check it decodes back to the same fields. */
static void fuzz_register(const uint8_t *body, uint32_t size)
{
    struct iggy_register login;
    if (iggy_users_register_decode(body, size, &login) != 0) {
        return;
    }
    for (uint32_t shape = 0; shape < 2; shape++) {
        bool with_token = shape == 1;
        if ((with_token && !login.has_token_shape) || (!with_token && !login.has_password_shape)) {
            continue;
        }
        struct iggy_writer writer;
        iggy_writer_init(&writer, first_buffer, FUZZ_BUFFER_SIZE);
        assert(iggy_users_register_encode(&writer, &login, with_token) == 0);
        struct iggy_register again;
        assert(iggy_users_register_decode(first_buffer, writer.size, &again) == 0);
        assert(again.version.protocol_version == login.version.protocol_version);
        assert(iggy_bytes_is_equal(again.version.sdk_version, login.version.sdk_version));
        if (with_token) {
            assert(again.has_token_shape && iggy_bytes_is_equal(again.token, login.token));
        } else {
            assert(again.has_password_shape && iggy_bytes_is_equal(again.password, login.password));
        }
    }
}

static int fuzz_other(uint32_t which, const uint8_t *body, uint32_t size,
                      struct iggy_writer *writer)
{
    assert(which < 6);
    assert(writer != NULL);
    struct iggy_identifier ids[3];
    struct iggy_group_create group;
    struct iggy_snapshot_request snapshot;
    uint32_t client_id = 0;
    int result = 0;
    if (which < 3 && (result = iggy_command_identifiers_decode(body, size, which + 1, ids)) == 0) {
        (void)iggy_command_identifiers_encode(writer, which + 1, ids);
    } else if (which == 3 && (result = iggy_groups_create_decode(body, size, &group)) == 0) {
        (void)iggy_groups_create_encode(writer, &group);
    } else if (which == 4 && (result = iggy_system_snapshot_decode(body, size, &snapshot)) == 0) {
        (void)iggy_system_snapshot_encode(writer, &snapshot);
    } else if (which == 5 &&
               (result = iggy_system_client_get_decode(body, size, &client_id)) == 0) {
        (void)iggy_system_client_get_encode(writer, client_id);
    }
    return result;
}

static int fuzz_decode(uint32_t selector, const uint8_t *body, uint32_t size,
                       struct iggy_writer *writer)
{
    assert(selector < 24);
    assert(writer != NULL);
    if (selector < 6) {
        return fuzz_streams(selector, body, size, writer);
    }
    if (selector < 12) {
        return fuzz_messages(selector - 6, body, size, writer);
    }
    if (selector < 18) {
        return fuzz_users(selector - 12, body, size, writer);
    }
    return fuzz_other(selector - 18, body, size, writer);
}

/*
 * Every request decoder maps each input byte to one output byte (flags become 0 or 1, an
 * unset optional partition becomes 0), so the canonical encoding has the input's size and
 * differs only where a flag byte > 1 became 1 or a byte became 0. A field dropped,
 * swapped, resized or re-encoded with a wrong value breaks this.
 */
static void fuzz_canonical_check(const uint8_t *input, uint32_t input_size,
                                 const uint8_t *canonical, uint32_t canonical_size)
{
    assert(input != NULL || input_size == 0);
    assert(canonical_size == input_size);
    for (uint32_t index = 0; index < input_size; index++) {
        uint8_t before = input[index];
        uint8_t after = canonical[index];
        assert(before == after || after == 0 || (after == 1 && before > 1));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_BUFFER_SIZE / 2) {
        return 0;
    }
    uint32_t selector = data[0] % 25;
    if (selector == 24) {
        fuzz_register(data + 1, (uint32_t)(size - 1));
        return 0;
    }
    struct iggy_writer first;
    iggy_writer_init(&first, first_buffer, FUZZ_BUFFER_SIZE);
    if (fuzz_decode(selector, data + 1, (uint32_t)(size - 1), &first) != 0) {
        return 0;
    }
    assert(first.error == 0);
    fuzz_canonical_check(data + 1, (uint32_t)(size - 1), first_buffer, first.size);
    struct iggy_writer second;
    iggy_writer_init(&second, second_buffer, FUZZ_BUFFER_SIZE);
    int result = fuzz_decode(selector, first_buffer, first.size, &second);
    assert(result == 0);
    assert(second.error == 0);
    assert(second.size == first.size);
    assert(memcmp(first_buffer, second_buffer, first.size) == 0);
    return 0;
}
