/*
 * libFuzzer harness: the runnel-only cluster bodies (proto/cluster_wire.h) as librunnel
 * and runneld decode them. The first input byte picks the shape (map reply, map request,
 * move request, move reply); the rest is the body. Checks memory safety, no assertion
 * failure, and that an accepted map reply's entries all read back within range.
 */
#include "lib/assert.h"
#include "proto/cluster_wire.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_map(const uint8_t *body, uint32_t size)
{
    struct cluster_wire_map map;
    if (cluster_wire_map_decode(body, size, &map) != 0) {
        assert(map.node_count == 0 && map.partition_count == 0);
        return;
    }
    assert(map.node_count <= map.head.replica_count);
    for (uint32_t index = 0; index < map.node_count; index++) {
        struct cluster_wire_node node;
        cluster_wire_node_at(&map, index, &node);
        assert(node.replica < map.head.replica_count);
    }
    for (uint32_t index = 0; index < map.partition_count; index++) {
        struct cluster_wire_partition partition;
        cluster_wire_partition_at(&map, index, &partition);
        assert(partition.shard < map.head.shard_count);
        assert(partition.primary < map.head.replica_count);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 20)) {
        return 0;
    }
    const uint8_t *body = data + 1;
    uint32_t body_size = (uint32_t)(size - 1);
    uint32_t shard = 0;
    uint32_t shard_count = 0;
    bool has_topic = false;
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    switch (data[0] % 4) {
    case 0:
        fuzz_map(body, body_size);
        break;
    case 1:
        (void)cluster_wire_map_request_decode(body, body_size, &has_topic, &stream, &topic);
        break;
    case 2:
        (void)cluster_wire_move_request_decode(body, body_size, &shard);
        break;
    default:
        if (cluster_wire_move_reply_decode(body, body_size, &shard, &shard_count) == 0) {
            assert(shard < shard_count);
        }
        break;
    }
    return 0;
}
