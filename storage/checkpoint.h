/*
 * A partition group's checkpoint (DESIGN.md §4): its whole state at an op, so that the log
 * below it can be removed and a lagging replica can be sent the state instead of the log.
 * Written to "{partition directory}/checkpoint" with storage/atomic_file (old or new
 * content after a crash, never a mix) and checksummed (XXH3-128), so a damaged file is
 * detected, never trusted.
 *
 * Encoding (little-endian): checksum u128 of bytes [16, size) | magic u64 | size u64 |
 * op u64 | anchor_checksum u128 | anchor_timestamp u64 | log_start_offset u64 |
 * offset_next u64 | consumer_offset_count u32 | sessions_size u32 |
 * consumer offsets (kind u32, consumer_id u32, offset u64)... | sessions bytes.
 * The exactly-once windows ("sessions") are opaque bytes owned by vsr/.
 */
#ifndef RUNNEL_STORAGE_CHECKPOINT_H
#define RUNNEL_STORAGE_CHECKPOINT_H

#include "proto/vsr_header.h"

#include <stdint.h>

struct checkpoint_consumer_offset {
    uint32_t kind; /* 1 consumer, 2 consumer group */
    uint32_t consumer_id;
    uint64_t offset;
};

struct checkpoint {
    uint64_t op;               /* the checkpoint op */
    u128 anchor_checksum;      /* header checksum of op: the hash chain resumes from it */
    uint64_t anchor_timestamp; /* ns, timestamp of op */
    uint64_t log_start_offset; /* first offset still readable */
    uint64_t offset_next;      /* next message offset after op */
    uint32_t consumer_offset_count;
    uint32_t sessions_size_bytes;
    struct checkpoint_consumer_offset *consumer_offsets; /* caller's array */
    uint8_t *sessions;                                   /* caller's bytes */
};

/* Bytes checkpoint_encode needs for checkpoint. */
uint64_t checkpoint_size_bytes(const struct checkpoint *checkpoint);

/* Encodes into buffer. Returns 0 with *size_out set, or -RUNNEL_ETOOLARGE. */
int checkpoint_encode(const struct checkpoint *checkpoint, uint8_t *buffer, uint64_t size_bytes_max,
                      uint64_t *size_out);

/*
 * Decodes untrusted bytes into checkpoint, whose consumer_offsets and sessions must point
 * at arrays of consumer_offsets_max entries and sessions_size_max bytes. Returns 0,
 * -RUNNEL_ECHECKSUM, -RUNNEL_EFORMAT, -RUNNEL_ETRUNCATED or -RUNNEL_ETOOLARGE.
 */
int checkpoint_decode(const uint8_t *bytes, uint64_t size_bytes, struct checkpoint *checkpoint,
                      uint32_t consumer_offsets_max, uint32_t sessions_size_max);

/*
 * Decodes only the fixed part of untrusted bytes (the whole frame is still verified):
 * op, anchor, log start, offset_next and the two counts; consumer_offsets and sessions are
 * left NULL. For the partition log, which needs no more. Errors as checkpoint_decode.
 */
int checkpoint_decode_summary(const uint8_t *bytes, uint64_t size_bytes,
                              struct checkpoint *checkpoint);

#endif
