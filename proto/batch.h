/*
 * Iggy's message batch (research/iggy-protocol.md §5), zero-copy: the same bytes are the
 * body of a SendMessages request, of a VSR_OPERATION_MESSAGES record on disk and of a
 * PollMessages reply. Nothing here copies a batch; every call works on the caller's
 * buffer, which may sit at any alignment (fields are read with memcpy, little-endian).
 *
 * Layout: a 256-byte batch header, then message_count frames, each a 48-byte frame
 * header followed by its payload and then its user headers:
 *
 *   header  0 partition_id u64 | 8 base_offset u64 | 16 base_timestamp u64 (µs)
 *          24 origin_timestamp u64 (µs) | 32 batch_length u64 (256 + frames)
 *          40 batch_checksum u64 | 48 message_count u32 | 52 reserved[204] = 0
 *   frame   0 checksum u64 | 8 id u128 | 24 offset_delta u32 | 28 timestamp_delta u32
 *          32 user_headers_length u32 | 36 payload_length u32 | 40 reserved u64 = 0
 *
 * Checksums, XXH3-64 with seed 0 exactly as Iggy computes them:
 *   frame checksum = XXH3_64(frame[8..48] ‖ payload ‖ user_headers);
 *   batch checksum = XXH3_64(partition_id ‖ base_offset ‖ base_timestamp ‖
 *                            origin_timestamp ‖ batch_length ‖ message_count (44 bytes),
 *                            then each frame's 8 stored checksum bytes in order).
 *
 * A message's offset is base_offset + its frame index. Iggy does not validate a frame's
 * offset_delta; neither do we, so slices and lookups go by frame index.
 *
 * Every batch from a client or a disk is untrusted: call batch_validate before any other
 * call (the others assert only on what batch_validate guarantees, and re-check bounds
 * where a corrupt buffer could otherwise make them read out of range).
 */
#ifndef RUNNEL_PROTO_BATCH_H
#define RUNNEL_PROTO_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    BATCH_HEADER_SIZE = 256,
    BATCH_FRAME_HEADER_SIZE = 48,
    BATCH_CHECKSUM_FIELDS_SIZE = 44, /* the header fields the batch checksum covers */
};

/* Byte offsets inside the batch header. */
enum {
    BATCH_OFFSET_PARTITION_ID = 0,
    BATCH_OFFSET_BASE_OFFSET = 8,
    BATCH_OFFSET_BASE_TIMESTAMP = 16,
    BATCH_OFFSET_ORIGIN_TIMESTAMP = 24,
    BATCH_OFFSET_BATCH_LENGTH = 32,
    BATCH_OFFSET_BATCH_CHECKSUM = 40,
    BATCH_OFFSET_MESSAGE_COUNT = 48,
    BATCH_OFFSET_RESERVED = 52,
};

/* The decoded batch header (a copy; the batch bytes stay where they are). */
struct batch_header {
    uint64_t partition_id;
    uint64_t base_offset;
    uint64_t base_timestamp_us;
    uint64_t origin_timestamp_us;
    uint64_t batch_length_bytes; /* 256 + frames */
    uint64_t batch_checksum;
    uint32_t message_count;
};

/* One message frame, pointing into the batch. */
struct batch_frame {
    const uint8_t *bytes; /* the frame's first byte (its checksum) */
    uint64_t checksum;
    uint64_t id_low; /* id u128, low then high 64 bits */
    uint64_t id_high;
    uint32_t offset_delta;
    uint32_t timestamp_delta_us;
    const uint8_t *payload;
    uint32_t payload_size_bytes;
    const uint8_t *user_headers;
    uint32_t user_headers_size_bytes;
    uint64_t frame_size_bytes; /* 48 + payload + user headers */
};

/* Walks the frames of a validated batch. */
struct batch_cursor {
    const uint8_t *bytes;
    uint64_t size_bytes;
    uint64_t position_bytes; /* of the next frame */
    uint32_t index;          /* of the next frame */
    uint32_t message_count;
};

/* A poll reply's view of frames [index_first, index_end) of a batch: a rewritten header
 * (owned here) followed by the original frame bytes (pointed to, not copied). */
struct batch_slice {
    uint8_t header[BATCH_HEADER_SIZE];
    const uint8_t *frames;
    uint64_t frames_size_bytes;
    uint32_t message_count;
};

/* Builds a producer batch into a caller buffer (clients, tests, benchmarks). */
struct batch_builder {
    uint8_t *buffer;
    uint64_t size_bytes_max;
    uint64_t position_bytes;
    uint32_t message_count;
    uint64_t origin_timestamp_us;
};

/* XXH3-64, seed 0, of size_bytes bytes (bytes may be NULL when size_bytes is 0). */
uint64_t batch_hash(const void *bytes, size_t size_bytes);

/*
 * Validates an untrusted batch occupying exactly size_bytes: size >= 256 + 48,
 * batch_length == size_bytes, reserved bytes zero, message_count >= 1, frames tiling the
 * body exactly with count == message_count, every frame's reserved field zero, every
 * frame checksum and the batch checksum. Returns 0, -RUNNEL_ETRUNCATED, -RUNNEL_EFORMAT
 * or -RUNNEL_ECHECKSUM; *reason_out (if not NULL) names the failed check.
 */
int batch_validate(const void *bytes, uint64_t size_bytes, const char **reason_out);

/* Like batch_validate, but skips the per-frame checksums: only the structure and the batch
 * checksum (which covers the stored frame checksums). For trusted re-reads. */
int batch_validate_structure(const void *bytes, uint64_t size_bytes, const char **reason_out);

/* Decodes the header of at least 256 bytes (no validation). */
void batch_header_read(const void *bytes, struct batch_header *header_out);

/* Reads fields of a batch header of at least 256 bytes. */
uint32_t batch_message_count(const void *bytes);
uint64_t batch_base_offset(const void *bytes);
uint64_t batch_base_timestamp_us(const void *bytes);

/* Starts a walk over a validated batch of size_bytes bytes. */
void batch_cursor_init(struct batch_cursor *cursor, const void *bytes, uint64_t size_bytes);

/* Fills frame_out with the next frame and returns true; false after the last frame or if
 * the next frame would run past the batch (corruption since validation). */
bool batch_cursor_next(struct batch_cursor *cursor, struct batch_frame *frame_out);

/*
 * Server-side stamping of a validated batch at append time: sets partition_id,
 * base_offset and base_timestamp and recomputes the batch checksum. Frames are untouched,
 * so frame checksums stay valid.
 */
void batch_stamp(void *bytes, uint64_t size_bytes, uint64_t partition_id, uint64_t base_offset,
                 uint64_t base_timestamp_us);

/*
 * Poll reply view of messages [index_first, index_end) of a validated batch of size_bytes:
 * the header is the batch's with batch_length, message_count and batch_checksum rewritten
 * (partition_id, base_offset, base_timestamp and origin_timestamp unchanged, so each
 * frame's offset is still base_offset + its index), frames unchanged. When the range is
 * the whole batch the header is the original and the frames are not walked (its
 * batch_length must be size_bytes). Returns 0, or -RUNNEL_EFORMAT when the range is empty
 * or past the batch, or the frames of a partial range do not walk (corruption since
 * validation).
 */
int batch_slice(const void *bytes, uint64_t size_bytes, uint32_t index_first, uint32_t index_end,
                struct batch_slice *slice_out);

/* Starts building a batch in buffer (size_bytes_max >= 256); origin_timestamp_us is the
 * batch's origin (the minimum of its messages' origin timestamps). */
void batch_builder_init(struct batch_builder *builder, void *buffer, uint64_t size_bytes_max,
                        uint64_t origin_timestamp_us);

/* Appends a message (id, origin timestamp >= the batch's, payload, user headers) with
 * offset_delta = its index and its frame checksum. Returns 0 or -RUNNEL_EFULL when it does
 * not fit (the builder is unchanged). */
int batch_builder_add(struct batch_builder *builder, uint64_t id_low, uint64_t id_high,
                      uint64_t origin_timestamp_us, const void *payload,
                      uint32_t payload_size_bytes, const void *user_headers,
                      uint32_t user_headers_size_bytes);

/* Writes the header (producer values: partition and base fields 0) and the batch
 * checksum. Returns the batch size in bytes. At least one message must have been added. */
uint64_t batch_builder_finish(struct batch_builder *builder);

#endif
