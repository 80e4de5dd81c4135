/*
 * libFuzzer harness: the client-side reply decoders (what librunnel runs on bytes from a
 * server). The first input byte picks the reply shape; the rest is a reply body, decoded
 * as Iggy's SDK would (lists to the end of the body, count-driven sections, the result
 * section first where the reply is result-framed). Only memory safety and the absence of
 * assertion failures are checked; every list loop is bounded by the body size.
 */
#include "lib/assert.h"
#include "proto/iggy_groups.h"
#include "proto/iggy_messages.h"
#include "proto/iggy_streams.h"
#include "proto/iggy_system.h"
#include "proto/iggy_users.h"
#include "proto/iggy_wire.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes count-driven children after a parent; stops at the first error. */
static void fuzz_stream_or_topic(struct iggy_reader *reader, bool is_stream)
{
    uint32_t count = 0;
    if (is_stream) {
        struct iggy_stream_info stream;
        (void)iggy_streams_stream_decode(reader, &stream);
        count = stream.topic_count;
    } else {
        struct iggy_topic_info topic;
        (void)iggy_streams_topic_decode(reader, &topic);
        count = topic.partition_count;
    }
    for (uint32_t index = 0; index < count && reader->error == 0; index++) {
        if (is_stream) {
            struct iggy_topic_info topic;
            (void)iggy_streams_topic_decode(reader, &topic);
        } else {
            struct iggy_partition_info partition;
            (void)iggy_streams_partition_decode(reader, &partition);
        }
    }
    assert(reader->offset <= reader->size);
}

static void fuzz_group(struct iggy_reader *reader)
{
    struct iggy_group_info group;
    (void)iggy_groups_group_decode(reader, &group);
    for (uint32_t index = 0; index < group.member_count && reader->error == 0; index++) {
        struct iggy_group_member member;
        if (iggy_groups_member_decode(reader, &member) == 0 && member.partition_count > 0) {
            (void)iggy_groups_partition_at(member.partition_bytes, member.partition_count - 1);
        }
    }
    assert(reader->offset <= reader->size);
}

static void fuzz_lists(uint32_t which, struct iggy_reader *reader)
{
    assert(which < 4);
    while (iggy_reader_remaining(reader) > 0) { /* each item consumes >= 1 byte or fails */
        uint32_t before = reader->offset;
        if (which == 0) {
            struct iggy_stream_info stream;
            (void)iggy_streams_stream_decode(reader, &stream);
        } else if (which == 1) {
            struct iggy_user_info user;
            (void)iggy_users_user_decode(reader, &user, false);
        } else if (which == 2) {
            struct iggy_client_info client;
            (void)iggy_system_client_decode(reader, &client, false);
        } else {
            struct iggy_pat_info pat;
            (void)iggy_users_pat_decode(reader, &pat);
        }
        assert(reader->error != 0 || reader->offset > before);
    }
}

static void fuzz_single(uint32_t which, struct iggy_reader *reader)
{
    assert(which < 9);
    union {
        struct iggy_stats stats;
        struct iggy_cluster cluster;
        struct iggy_user_info user;
        struct iggy_client_info client;
        struct iggy_register_reply login;
        struct iggy_group_sync sync;
        struct iggy_poll_reply poll;
        struct iggy_offset_reply offset;
        struct iggy_send_confirmation confirmation;
    } value;
    uint32_t count = 0;
    if (which == 0) {
        (void)iggy_system_stats_decode(reader, &value.stats);
    } else if (which == 1 && iggy_system_cluster_decode(reader, &value.cluster) == 0) {
        count = value.cluster.node_count;
        for (uint32_t index = 0; index < count && reader->error == 0; index++) {
            struct iggy_cluster_node node;
            (void)iggy_system_node_decode(reader, &node);
        }
    } else if (which == 2) {
        (void)iggy_users_user_decode(reader, &value.user, true);
    } else if (which == 3) {
        (void)iggy_system_client_decode(reader, &value.client, true);
    } else if (which == 4) {
        (void)iggy_users_register_reply_decode(reader, &value.login);
    } else if (which == 5 && iggy_groups_sync_decode(reader, &value.sync) == 0 &&
               value.sync.partition_count > 0) {
        (void)iggy_groups_partition_at(value.sync.partition_bytes, 0);
    } else if (which == 6) {
        (void)iggy_messages_poll_reply_decode(reader, &value.poll);
    } else if (which == 7) {
        (void)iggy_messages_offset_reply_decode(reader, &value.offset);
    } else if (which == 8) {
        (void)iggy_messages_send_reply_decode(reader, &count, &value.confirmation);
    }
}

static void fuzz_descriptors(struct iggy_reader *reader)
{
    uint32_t count = iggy_reader_u32(reader);
    for (uint32_t index = 0; index < count && reader->error == 0; index++) {
        struct iggy_option_descriptor descriptor;
        (void)iggy_system_descriptor_decode(reader, &descriptor);
    }
    assert(reader->offset <= reader->size);
}

/* 0 GetStream, 1 GetTopic, 2 GetConsumerGroup, 3-6 lists (streams, users, clients,
 * PATs), 7 options.describe, 8-16 single structures (see fuzz_single). */
static void fuzz_dispatch(uint32_t selector, struct iggy_reader *reader)
{
    assert(selector < 17);
    assert(reader != NULL);
    if (selector <= 1) {
        fuzz_stream_or_topic(reader, selector == 0);
    } else if (selector == 2) {
        fuzz_group(reader);
    } else if (selector < 7) {
        fuzz_lists(selector - 3, reader);
    } else if (selector == 7) {
        fuzz_descriptors(reader);
    } else {
        fuzz_single(selector - 8, reader);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 17-20: the typed create replies (stream, topic, group, user) after a result section. */
    static const uint32_t create_shapes[4] = {0, 1, 2, 8 + 2};
    if (size < 1 || size > UINT32_MAX) {
        return 0;
    }
    uint32_t selector = data[0] % 21;
    struct iggy_reader reader;
    iggy_reader_init(&reader, data + 1, (uint32_t)(size - 1));
    if (selector >= 17) {
        uint32_t code = 0;
        iggy_wire_result_decode(&reader, &code);
        if (code != 0 || reader.error != 0) {
            return 0;
        }
        selector = create_shapes[selector - 17];
    }
    fuzz_dispatch(selector, &reader);
    assert(reader.offset <= reader.size);
    return 0;
}
