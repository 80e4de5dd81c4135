/*
 * Iggy message and consumer-offset commands (research/iggy-protocol.md §3.9, §3.10,
 * §3.1 codes 100-102 and 120-122) and the partitioning functions of §7.1-7.2 and §7.4.
 *
 * SendMessages and PollMessages carry Iggy message batches (§5). This codec decodes the
 * outer fields only and hands the batch bytes over as a slice; batch validation (frames,
 * checksums, counts, slicing) belongs to the batch module.
 *
 * Replies:
 *   100 poll            poll reply header (16 bytes) + batch records to the end
 *   101 send            send reply (not result-framed; count 0 or an empty body also OK)
 *   102 flush           always status 5 (FeatureUnavailable), no body
 *   120 offset get      offset reply (20 bytes) or an empty body
 *   121, 122            result only
 */
#ifndef RUNNEL_PROTO_IGGY_MESSAGES_H
#define RUNNEL_PROTO_IGGY_MESSAGES_H

#include "proto/iggy_wire.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    IGGY_POLL_REPLY_HEADER_SIZE = 16,
    IGGY_OFFSET_REPLY_SIZE = 20,
    IGGY_SEND_CONFIRMATION_SIZE = 20,
    IGGY_POLL_RESYNC_PARTITION = 0xFFFFFFFFu, /* group fence sentinel partition id */
};

/* 101: [metadata_length u32][stream][topic][partitioning][messages_count u32][batch]. */
struct iggy_send_messages {
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    struct iggy_partitioning partitioning;
    uint32_t message_count;  /* as declared in the metadata */
    struct iggy_bytes batch; /* the rest of the body: 256-byte batch header + frames */
};

/* 100: [consumer][stream][topic][optional partition][strategy][count u32][auto_commit]. */
struct iggy_poll_messages {
    struct iggy_consumer consumer;
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    struct iggy_optional_partition partition;
    struct iggy_polling_strategy strategy;
    uint32_t count;
    bool auto_commit; /* any non-zero byte */
};

/* 102: [stream][topic][partition_id u32][fsync u8]. */
struct iggy_flush_messages {
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    uint32_t partition_id;
    bool fsync;
};

/* 120, 121, 122: [consumer][stream][topic][optional partition], then for 121
 * [offset u64][ack u8] and for 122 [ack u8]. */
struct iggy_consumer_offset {
    struct iggy_consumer consumer;
    struct iggy_identifier stream;
    struct iggy_identifier topic;
    struct iggy_optional_partition partition;
    uint64_t offset; /* 121 only */
    uint8_t ack;     /* 121, 122: enum iggy_ack_level */
};

/* 101 reply entry. */
struct iggy_send_confirmation {
    uint32_t stream_id;
    uint32_t topic_id;
    uint32_t partition_id;
    uint64_t base_offset;
};

/* 100 reply: the fixed part before the records. */
struct iggy_poll_reply {
    uint32_t partition_id;
    uint64_t current_offset;
    uint32_t message_count;
    struct iggy_bytes records; /* decode only: batch records to the end of the body */
};

/* 120 reply. */
struct iggy_offset_reply {
    uint32_t partition_id;
    uint64_t current_offset;
    uint64_t stored_offset;
};

/*
 * Decodes the outer fields of a SendMessages body (§5.3 checks 1-3): at least 4 bytes,
 * metadata within the body and decoding to exactly metadata_length bytes. The batch is
 * not looked at. Returns 0, -RUNNEL_ETRUNCATED or -RUNNEL_EFORMAT; Iggy answers all of
 * them with status 20.
 */
int iggy_messages_send_decode(const uint8_t *body, uint32_t body_size,
                              struct iggy_send_messages *out);

/*
 * §5.3 checks 4-11 on a decoded SendMessages: the batch validates (proto/batch.h: header,
 * frames tiling it exactly, reserved bytes, frame and batch checksums, count >= 1) and
 * its message_count equals the metadata's. Returns 0, -RUNNEL_ETRUNCATED,
 * -RUNNEL_EFORMAT or -RUNNEL_ECHECKSUM; *reason_out (if not NULL) names the check. Iggy
 * drops such a request silently; a server may reply status 3 / 4027 / 4039 instead.
 */
int iggy_messages_send_admit(const struct iggy_send_messages *send, const char **reason_out);

/* Client: appends a SendMessages body; in->batch is copied after the metadata. */
int iggy_messages_send_encode(struct iggy_writer *writer, const struct iggy_send_messages *in);

int iggy_messages_poll_decode(const uint8_t *body, uint32_t body_size,
                              struct iggy_poll_messages *out);
int iggy_messages_poll_encode(struct iggy_writer *writer, const struct iggy_poll_messages *in);
int iggy_messages_flush_decode(const uint8_t *body, uint32_t body_size,
                               struct iggy_flush_messages *out);
int iggy_messages_flush_encode(struct iggy_writer *writer, const struct iggy_flush_messages *in);

/* code is 120, 121 or 122: it decides the trailing fields. */
int iggy_messages_offset_decode(uint32_t code, const uint8_t *body, uint32_t body_size,
                                struct iggy_consumer_offset *out);
int iggy_messages_offset_encode(uint32_t code, struct iggy_writer *writer,
                                const struct iggy_consumer_offset *in);

/* 101 reply: [count u32] + confirmations; count is 0 when confirmation is NULL. */
int iggy_messages_send_reply_encode(struct iggy_writer *writer,
                                    const struct iggy_send_confirmation *confirmation);

/* Reads a 101 reply: *count_out entries (0 for an empty body); the first is returned in
 * first_out (zeroed when there is none). */
int iggy_messages_send_reply_decode(struct iggy_reader *reader, uint32_t *count_out,
                                    struct iggy_send_confirmation *first_out);

/* 100 reply header; the records follow (appended by the caller, in->records ignored). */
int iggy_messages_poll_reply_encode(struct iggy_writer *writer, const struct iggy_poll_reply *in);
int iggy_messages_poll_reply_decode(struct iggy_reader *reader, struct iggy_poll_reply *out);

int iggy_messages_offset_reply_encode(struct iggy_writer *writer,
                                      const struct iggy_offset_reply *in);
int iggy_messages_offset_reply_decode(struct iggy_reader *reader, struct iggy_offset_reply *out);

/* MessagesKey (§7.1): XXH32(key, seed 0) % partition_count (> 0). */
uint32_t iggy_messages_key_partition(struct iggy_bytes key, uint32_t partition_count);

/* Balanced (§7.2): returns *counter % partition_count (> 0) and advances the counter
 * modulo partition_count, so the first send goes to partition 0. */
uint32_t iggy_messages_balanced_next(uint32_t *counter, uint32_t partition_count);

/* Consumer id for offsets (§7.4): the numeric id, or XXH32(name, seed 0). */
uint32_t iggy_messages_consumer_id(const struct iggy_identifier *id);

#endif
