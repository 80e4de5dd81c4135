/*
 * Iggy stream, topic, partition and segment commands (research/iggy-protocol.md §3.1,
 * §3.4-3.7, §3.11): request bodies (decode for the server, encode for the client) and
 * the reply structures StreamResponse, TopicHeader and PartitionResponse (encode for the
 * server, decode for the client). Identifier-only bodies (200, 203, 205, 300, 303, 305)
 * use iggy_command_identifiers_decode.
 *
 * Replies are composed by appending pieces to one writer:
 *   202 stream.create  result(0) + stream (topic_count 0)
 *   200 stream.get     stream + topic x stream.topic_count (or an empty body)
 *   201 stream.list    stream x n, to the end of the body
 *   302 topic.create   result(0) + topic + partition x topic.partition_count
 *   300 topic.get      topic + partition x topic.partition_count (or an empty body)
 *   301 topic.list     [count u32] + topic x count
 *   203-205, 303-305, 402, 403: result only; 503: empty or result (§3.7)
 * Decoded names and options point into the input; options blocks are validated.
 */
#ifndef RUNNEL_PROTO_IGGY_STREAMS_H
#define RUNNEL_PROTO_IGGY_STREAMS_H

#include "proto/iggy_wire.h"

#include <stdint.h>

enum { IGGY_PARTITIONS_PER_REQUEST_MAX = 1000 };

/* 202: [name][options to end] */
struct iggy_stream_create {
    struct iggy_bytes name;
    struct iggy_bytes options;
};

/* 204: [stream][name][options to end] */
struct iggy_stream_update {
    struct iggy_identifier stream;
    struct iggy_bytes name;
    struct iggy_bytes options;
};

/* 302: [stream][partitions_count u32][name][options to end] */
struct iggy_topic_create {
    struct iggy_identifier stream;
    uint32_t partition_count;
    struct iggy_bytes name;
    struct iggy_bytes options;
};

/* 304: [stream][topic][name][options to end] */
struct iggy_topic_update {
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    struct iggy_bytes name;
    struct iggy_bytes options;
};

/* 402 and 403: [stream][topic][partitions_count u32] */
struct iggy_partitions_change {
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    uint32_t partition_count;
};

/* 503: [stream][topic][partition_id u32][segments_count u32] */
struct iggy_segments_delete {
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    uint32_t partition_id;
    uint32_t segment_count;
};

/* StreamResponse. */
struct iggy_stream_info {
    uint32_t id;
    uint64_t created_at_us;
    uint32_t topic_count;
    uint64_t size_bytes;
    uint64_t message_count;
    struct iggy_bytes name;
    struct iggy_bytes options; /* TLV, explicit keys */
};

/* TopicHeader. */
struct iggy_topic_info {
    uint32_t id;
    uint64_t created_at_us;
    uint32_t partition_count;
    uint64_t message_expiry_us;    /* 0 server default, UINT64_MAX never */
    uint8_t compression;           /* 1 none, 2 gzip */
    uint64_t max_topic_size_bytes; /* 0 server default, UINT64_MAX unlimited */
    uint64_t size_bytes;
    uint64_t message_count;
    struct iggy_bytes name;
    struct iggy_bytes options_explicit; /* keys the client sent, canonical */
    struct iggy_bytes options_derived;  /* every other catalog key, resolved */
};

/* PartitionResponse (40 bytes). */
struct iggy_partition_info {
    uint32_t id;
    uint64_t created_at_us;
    uint32_t segment_count;
    uint64_t current_offset;
    uint64_t size_bytes;
    uint64_t message_count;
};

/* Request bodies. Decoders return 0, -RUNNEL_ETRUNCATED or -RUNNEL_EFORMAT (Iggy answers
 * an undecodable body with status 3); encoders return 0 or -RUNNEL_ETOOLARGE. */
int iggy_streams_create_decode(const uint8_t *body, uint32_t body_size,
                               struct iggy_stream_create *out);
int iggy_streams_create_encode(struct iggy_writer *writer, const struct iggy_stream_create *in);
int iggy_streams_update_decode(const uint8_t *body, uint32_t body_size,
                               struct iggy_stream_update *out);
int iggy_streams_update_encode(struct iggy_writer *writer, const struct iggy_stream_update *in);
int iggy_streams_topic_create_decode(const uint8_t *body, uint32_t body_size,
                                     struct iggy_topic_create *out);
int iggy_streams_topic_create_encode(struct iggy_writer *writer,
                                     const struct iggy_topic_create *in);
int iggy_streams_topic_update_decode(const uint8_t *body, uint32_t body_size,
                                     struct iggy_topic_update *out);
int iggy_streams_topic_update_encode(struct iggy_writer *writer,
                                     const struct iggy_topic_update *in);
int iggy_streams_partitions_decode(const uint8_t *body, uint32_t body_size,
                                   struct iggy_partitions_change *out);
int iggy_streams_partitions_encode(struct iggy_writer *writer,
                                   const struct iggy_partitions_change *in);
int iggy_streams_segments_decode(const uint8_t *body, uint32_t body_size,
                                 struct iggy_segments_delete *out);
int iggy_streams_segments_encode(struct iggy_writer *writer, const struct iggy_segments_delete *in);

/* Reply pieces: append one structure / read one structure from a reader. */
int iggy_streams_stream_encode(struct iggy_writer *writer, const struct iggy_stream_info *in);
int iggy_streams_stream_decode(struct iggy_reader *reader, struct iggy_stream_info *out);
int iggy_streams_topic_encode(struct iggy_writer *writer, const struct iggy_topic_info *in);
int iggy_streams_topic_decode(struct iggy_reader *reader, struct iggy_topic_info *out);
int iggy_streams_partition_encode(struct iggy_writer *writer, const struct iggy_partition_info *in);
int iggy_streams_partition_decode(struct iggy_reader *reader, struct iggy_partition_info *out);

#endif
