/*
 * Frame reassembly for a byte stream arriving in provided buffers (research/iouring.md
 * §8.3). A frame is a 256-byte header whose little-endian u32 at offset 48 is the whole
 * frame's size (header included: the VSR header layout, proto/vsr_header.h), then the body.
 *
 * A frame that lies whole inside one receive buffer is returned in place (no copy). A
 * frame split across buffers is copied into the connection's 256-byte header array and,
 * for a body, into a reassembly slot taken from a shared per-shard frame_pool (slots of
 * frame_size_max bytes, reserved at start-up and touched only when used).
 *
 * frame_reader_next is idempotent until frame_reader_done: a caller that cannot take a
 * frame now (backpressure) calls next again later with the same bytes and gets the same
 * frame and the same consumed count. The bytes are untrusted: a bad size is an error
 * returned (the caller closes the connection), never an assertion. One shard owns a
 * reader and its pool.
 */
#ifndef RUNNEL_NODE_FRAME_READER_H
#define RUNNEL_NODE_FRAME_READER_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

enum { FRAME_HEADER_SIZE = 256, FRAME_SIZE_OFFSET = 48 };

struct frame_pool {
    uint8_t *memory; /* slot_count * slot_size_bytes, reserved (not committed) at init */
    uint32_t slot_size_bytes;
    uint32_t slot_count;
    uint32_t *free_slots; /* stack of free slot indexes */
    uint32_t free_count;
    uint64_t exhausted_count; /* acquisitions refused */
};

struct frame_view {
    const uint8_t *bytes;
    uint32_t size_bytes;
};

struct frame_reader {
    alignas(16) uint8_t header[FRAME_HEADER_SIZE]; /* a header split across buffers */
    struct frame_pool *pool;
    uint32_t frame_size_max;
    uint32_t header_bytes; /* bytes of header[] filled (0: at a frame boundary) */
    uint32_t frame_size;   /* the frame's size once its header is whole */
    int32_t slot;          /* reassembly slot, -1: none */
    uint32_t slot_bytes;   /* bytes of the frame in the slot */
    bool is_ready;         /* a reassembled frame waits for frame_reader_done */
    uint32_t ready_consumed;
};

/* Reserves slot_count slots of slot_size_bytes (>= FRAME_HEADER_SIZE). 0 or -ENOMEM. */
int frame_pool_init(struct frame_pool *pool, uint32_t slot_count, uint32_t slot_size_bytes);
void frame_pool_deinit(struct frame_pool *pool);

/* Sets reader up at a frame boundary; frames over frame_size_max (<= the pool's slot
 * size) are refused. */
void frame_reader_init(struct frame_reader *reader, struct frame_pool *pool,
                       uint32_t frame_size_max);

/*
 * Reads from bytes[0, size_bytes). Returns 1 with *frame_out set when a whole frame is
 * available (*consumed_out: bytes of this call that belong to it and what came before in
 * this call); 0 when every byte was taken into the partial frame (*consumed_out ==
 * size_bytes); -RUNNEL_EFORMAT (size < 256) or -RUNNEL_ETOOLARGE (size > max) for a bad
 * header; -RUNNEL_EFULL when no reassembly slot is free (*consumed_out bytes were kept; call
 * again with the rest once a slot frees). The frame stays valid until
 * frame_reader_done or the bytes are released.
 */
int frame_reader_next(struct frame_reader *reader, const uint8_t *bytes, uint32_t size_bytes,
                      uint32_t *consumed_out, struct frame_view *frame_out);

/* The caller took the frame last returned: releases its slot, back at a boundary. */
void frame_reader_done(struct frame_reader *reader);

/* Drops any partial frame (connection closing) and releases its slot. */
void frame_reader_reset(struct frame_reader *reader);

/*
 * For a caller that must not read past the current frame (a connection about to move to
 * another shard): where the next bytes of the partial frame go and how many complete its
 * current part (the header, then the body). False at a frame boundary, when a frame is
 * ready, or when the body needs a reassembly slot and none is free (try again later).
 */
bool frame_reader_gap(struct frame_reader *reader, uint8_t **destination_out,
                      uint32_t *size_bytes_out);

/*
 * size_bytes (at most the gap's size) were written where frame_reader_gap said. Returns 1
 * when the frame is whole (frame_reader_next(reader, NULL, 0, ...) then returns it), 0
 * when more is needed, or the header errors of frame_reader_next.
 */
int frame_reader_fill(struct frame_reader *reader, uint32_t size_bytes);

/* True when a reassembled frame waits for frame_reader_done. */
bool frame_reader_is_ready(const struct frame_reader *reader);

/* True at a frame boundary with nothing buffered. */
bool frame_reader_is_idle(const struct frame_reader *reader);

#endif
