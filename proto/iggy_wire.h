/*
 * Iggy wire primitives (research/iggy-protocol.md §4): a bounds-checked little-endian
 * reader over untrusted bytes, a capacity-checked writer into a caller buffer, and the
 * shared encodings every command body is built from: WireName, Identifier, Consumer,
 * optional partition, Partitioning, PollingStrategy, AckLevel, TLV blocks (options and
 * user headers), Permissions and the result section of result-framed replies (§1.8).
 *
 * Zero-copy: decoded strings and byte ranges are `struct iggy_bytes` slices pointing into
 * the input; nothing is copied or allocated, and a slice lives as long as the input.
 *
 * Errors are sticky on both sides so decoders and encoders read straight through: the
 * first failure is kept in reader->error / writer->error (a negative runnel code) and
 * every later read returns zeros and empty slices, every later write is dropped. Reads
 * past the end give -RUNNEL_ETRUNCATED, bad field values -RUNNEL_EFORMAT, a write that
 * does not fit -RUNNEL_ETOOLARGE. No function asserts on the bytes it reads.
 */
#ifndef RUNNEL_PROTO_IGGY_WIRE_H
#define RUNNEL_PROTO_IGGY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A borrowed byte range; bytes may be NULL only when size is 0. */
struct iggy_bytes {
    const uint8_t *bytes;
    uint32_t size;
};

struct iggy_reader {
    const uint8_t *bytes;
    uint32_t size;   /* bytes readable */
    uint32_t offset; /* next byte to read, <= size */
    int error;       /* 0 or the first negative runnel code */
};

struct iggy_writer {
    uint8_t *bytes;
    uint32_t capacity; /* bytes available at bytes */
    uint32_t size;     /* bytes written so far, <= capacity */
    int error;         /* 0 or -RUNNEL_ETOOLARGE */
};

enum {
    IGGY_NAME_SIZE_MAX = 255,
    IGGY_OPTIONS_PAIRS_MAX = 1024,
    IGGY_OPTIONS_SIZE_MAX = 100000,
};

enum iggy_identifier_kind { IGGY_IDENTIFIER_NUMERIC = 1, IGGY_IDENTIFIER_STRING = 2 };

/* [kind u8][len u8][value]: numeric (len 4, u32) or string (1..=255 UTF-8 bytes). */
struct iggy_identifier {
    uint8_t kind;     /* enum iggy_identifier_kind */
    uint32_t numeric; /* kind numeric */
    struct iggy_bytes name;
};

enum iggy_consumer_kind { IGGY_CONSUMER_SINGLE = 1, IGGY_CONSUMER_GROUP = 2 };

/* [kind u8][Identifier] */
struct iggy_consumer {
    uint8_t kind; /* enum iggy_consumer_kind */
    struct iggy_identifier id;
};

enum iggy_partitioning_kind {
    IGGY_PARTITIONING_BALANCED = 1,
    IGGY_PARTITIONING_PARTITION_ID = 2,
    IGGY_PARTITIONING_MESSAGES_KEY = 3,
};

/* [kind u8][len u8][value] */
struct iggy_partitioning {
    uint8_t kind;          /* enum iggy_partitioning_kind */
    uint32_t partition_id; /* kind partition id */
    struct iggy_bytes key; /* kind messages key: 1..=255 raw bytes */
};

enum iggy_polling_kind {
    IGGY_POLLING_OFFSET = 1,
    IGGY_POLLING_TIMESTAMP = 2,
    IGGY_POLLING_FIRST = 3,
    IGGY_POLLING_LAST = 4,
    IGGY_POLLING_NEXT = 5,
};

/* [kind u8][value u64]: an offset, a µs timestamp, or 0 for first/last/next. */
struct iggy_polling_strategy {
    uint8_t kind; /* enum iggy_polling_kind */
    uint64_t value;
};

enum iggy_ack_level { IGGY_ACK_NONE = 0, IGGY_ACK_QUORUM = 1 };

/* [flag u8][u32], always 5 bytes: set only when flag == 1. */
struct iggy_optional_partition {
    bool is_set;
    uint32_t partition_id;
};

enum iggy_tlv_kind {
    IGGY_TLV_RAW = 1,
    IGGY_TLV_STRING = 2,
    IGGY_TLV_BOOL = 3,
    IGGY_TLV_INT8 = 4,
    IGGY_TLV_INT16 = 5,
    IGGY_TLV_INT32 = 6,
    IGGY_TLV_INT64 = 7,
    IGGY_TLV_INT128 = 8,
    IGGY_TLV_UINT8 = 9,
    IGGY_TLV_UINT16 = 10,
    IGGY_TLV_UINT32 = 11,
    IGGY_TLV_UINT64 = 12,
    IGGY_TLV_UINT128 = 13,
    IGGY_TLV_FLOAT32 = 14,
    IGGY_TLV_FLOAT64 = 15,
};

/* One key/value pair of a TLV block; each entry is [kind u8][len u32][data]. */
struct iggy_tlv_pair {
    uint8_t key_kind;
    struct iggy_bytes key;
    uint8_t value_kind;
    struct iggy_bytes value;
};

/* Permissions (§4.2) as flags; a decoded value keeps its stream part as a slice. */
enum { IGGY_PERMISSIONS_GLOBAL_COUNT = 10, IGGY_STREAM_PERMISSIONS_COUNT = 6 };
enum { IGGY_TOPIC_PERMISSIONS_COUNT = 4 };

/* Global flag order on the wire. */
enum iggy_permission_global {
    IGGY_PERMISSION_MANAGE_SERVERS,
    IGGY_PERMISSION_READ_SERVERS,
    IGGY_PERMISSION_MANAGE_USERS,
    IGGY_PERMISSION_READ_USERS,
    IGGY_PERMISSION_MANAGE_STREAMS,
    IGGY_PERMISSION_READ_STREAMS,
    IGGY_PERMISSION_MANAGE_TOPICS,
    IGGY_PERMISSION_READ_TOPICS,
    IGGY_PERMISSION_POLL_MESSAGES,
    IGGY_PERMISSION_SEND_MESSAGES,
};

/* Per-stream flag order on the wire. */
enum iggy_permission_stream {
    IGGY_PERMISSION_STREAM_MANAGE_STREAM,
    IGGY_PERMISSION_STREAM_READ_STREAM,
    IGGY_PERMISSION_STREAM_MANAGE_TOPICS,
    IGGY_PERMISSION_STREAM_READ_TOPICS,
    IGGY_PERMISSION_STREAM_POLL_MESSAGES,
    IGGY_PERMISSION_STREAM_SEND_MESSAGES,
};

/* Per-topic flag order on the wire. */
enum iggy_permission_topic {
    IGGY_PERMISSION_TOPIC_MANAGE_TOPIC,
    IGGY_PERMISSION_TOPIC_READ_TOPIC,
    IGGY_PERMISSION_TOPIC_POLL_MESSAGES,
    IGGY_PERMISSION_TOPIC_SEND_MESSAGES,
};

struct iggy_topic_permissions {
    uint32_t topic_id;
    bool flags[IGGY_TOPIC_PERMISSIONS_COUNT]; /* enum iggy_permission_topic */
};

struct iggy_stream_permissions {
    uint32_t stream_id;
    bool flags[IGGY_STREAM_PERMISSIONS_COUNT];   /* enum iggy_permission_stream */
    const struct iggy_topic_permissions *topics; /* encode side only */
    uint32_t topic_count;
};

struct iggy_permissions {
    bool global[IGGY_PERMISSIONS_GLOBAL_COUNT]; /* enum iggy_permission_global */
    /* Encode: streams[stream_count]. Decode: streams is NULL; stream_count entries are
     * in stream_bytes (validated) and are read with iggy_wire_permissions_next_stream. */
    const struct iggy_stream_permissions *streams;
    uint32_t stream_count;
    struct iggy_bytes stream_bytes;
};

/* Walks the stream entries of a decoded struct iggy_permissions. */
struct iggy_permissions_cursor {
    struct iggy_reader reader;
    uint32_t stream_index; /* entries returned so far */
    uint32_t stream_count;
};

/* --- reader ------------------------------------------------------------------------ */

/* Starts reading size bytes at bytes (bytes may be NULL when size is 0). */
void iggy_reader_init(struct iggy_reader *reader, const void *bytes, uint32_t size);

/* Bytes left to read (0 once an error is set). */
uint32_t iggy_reader_remaining(const struct iggy_reader *reader);

/* Records code (negative) as the reader's error unless one is already set. */
void iggy_reader_fail(struct iggy_reader *reader, int code);

/* Fixed-width little-endian reads; on a short input they set -RUNNEL_ETRUNCATED and
 * return 0. */
uint8_t iggy_reader_u8(struct iggy_reader *reader);
uint16_t iggy_reader_u16(struct iggy_reader *reader);
uint32_t iggy_reader_u32(struct iggy_reader *reader);
uint64_t iggy_reader_u64(struct iggy_reader *reader);

/* A slice of the next size bytes (empty on error). */
struct iggy_bytes iggy_reader_bytes(struct iggy_reader *reader, uint32_t size);

/* The rest of the input as a slice (reads it all). */
struct iggy_bytes iggy_reader_rest(struct iggy_reader *reader);

/* Fails with -RUNNEL_EFORMAT unless the whole input was read; returns reader->error. */
int iggy_reader_finish(struct iggy_reader *reader);

/*
 * Checks a count read from the input before it sizes a read or bounds a loop: false, and
 * the reader failed with -RUNNEL_ETRUNCATED, when count entries of entry_size bytes each
 * (entry_size > 0, their smallest encoding) cannot fit in what is left to read.
 */
bool iggy_reader_has_entries(struct iggy_reader *reader, uint32_t count, uint32_t entry_size);

/* --- writer ------------------------------------------------------------------------ */

/* Starts writing into capacity bytes at bytes (bytes may be NULL when capacity is 0). */
void iggy_writer_init(struct iggy_writer *writer, void *bytes, uint32_t capacity);

void iggy_writer_u8(struct iggy_writer *writer, uint8_t value);
void iggy_writer_u16(struct iggy_writer *writer, uint16_t value);
void iggy_writer_u32(struct iggy_writer *writer, uint32_t value);
void iggy_writer_u64(struct iggy_writer *writer, uint64_t value);
void iggy_writer_bytes(struct iggy_writer *writer, const void *bytes, uint32_t size);

/* Reserves size bytes and returns where they start (NULL once the writer failed). The
 * caller fills them; used to patch a length written before its contents. */
uint8_t *iggy_writer_reserve(struct iggy_writer *writer, uint32_t size);

/* Stores value little-endian at an address obtained from iggy_writer_reserve. */
void iggy_wire_store_u32(uint8_t *at, uint32_t value);

/* --- helpers ----------------------------------------------------------------------- */

/* True when the slice is valid UTF-8 (no overlong forms, surrogates or > U+10FFFF). */
bool iggy_wire_is_utf8(struct iggy_bytes text);

/* True when both slices hold the same bytes. */
bool iggy_bytes_is_equal(struct iggy_bytes left, struct iggy_bytes right);

/* A slice over a NUL-terminated C string (tests and fixed names; never NULL). */
struct iggy_bytes iggy_bytes_from_string(const char *text);

/* --- primitives (decode from a reader, encode into a writer) ----------------------- */

/* WireName: [len u8][UTF-8], len 1..=255. */
struct iggy_bytes iggy_wire_name_decode(struct iggy_reader *reader);
void iggy_wire_name_encode(struct iggy_writer *writer, struct iggy_bytes name);

/* Password: [len u8][UTF-8], len 0..=255. */
struct iggy_bytes iggy_wire_password_decode(struct iggy_reader *reader);
void iggy_wire_password_encode(struct iggy_writer *writer, struct iggy_bytes password);

/* [len u32][bytes] (stats, cluster metadata, client address, descriptors, context). */
struct iggy_bytes iggy_wire_string32_decode(struct iggy_reader *reader);
void iggy_wire_string32_encode(struct iggy_writer *writer, struct iggy_bytes text);

void iggy_wire_identifier_decode(struct iggy_reader *reader, struct iggy_identifier *out);
void iggy_wire_identifier_encode(struct iggy_writer *writer, const struct iggy_identifier *id);

/* Builders for identifiers (encode side). */
struct iggy_identifier iggy_identifier_numeric(uint32_t value);
struct iggy_identifier iggy_identifier_string(struct iggy_bytes name);

/* True when both identifiers have the same kind and value. */
bool iggy_identifier_is_equal(const struct iggy_identifier *left,
                              const struct iggy_identifier *right);

void iggy_wire_consumer_decode(struct iggy_reader *reader, struct iggy_consumer *out);
void iggy_wire_consumer_encode(struct iggy_writer *writer, const struct iggy_consumer *consumer);

void iggy_wire_optional_partition_decode(struct iggy_reader *reader,
                                         struct iggy_optional_partition *out);
void iggy_wire_optional_partition_encode(struct iggy_writer *writer,
                                         const struct iggy_optional_partition *partition);

void iggy_wire_partitioning_decode(struct iggy_reader *reader, struct iggy_partitioning *out);
void iggy_wire_partitioning_encode(struct iggy_writer *writer,
                                   const struct iggy_partitioning *partitioning);

void iggy_wire_polling_decode(struct iggy_reader *reader, struct iggy_polling_strategy *out);
void iggy_wire_polling_encode(struct iggy_writer *writer,
                              const struct iggy_polling_strategy *strategy);

/* AckLevel: 0 or 1, anything else is a format error. */
uint8_t iggy_wire_ack_decode(struct iggy_reader *reader);

/*
 * Checks a TLV block (§4.1): kind != 0, 1 <= len <= 255, no overrun, consumed exactly, an
 * even number of entries. With is_options it also requires string UTF-8 keys, no
 * duplicate key, at most 1024 pairs and 100 000 bytes. Returns 0, -RUNNEL_EFORMAT or
 * -RUNNEL_ETRUNCATED; *pair_count_out (if not NULL) gets the number of pairs.
 */
int iggy_wire_tlv_validate(struct iggy_bytes block, bool is_options, uint32_t *pair_count_out);

/* Reads the next pair of a block already validated; false at the end. */
bool iggy_wire_tlv_next(struct iggy_reader *reader, struct iggy_tlv_pair *pair_out);

/* Appends one pair (key and value sizes must be 1..=255). */
void iggy_wire_tlv_encode(struct iggy_writer *writer, const struct iggy_tlv_pair *pair);

/* Options block running to the end of a request body; validated as options. */
struct iggy_bytes iggy_wire_options_decode(struct iggy_reader *reader);

/* Options in a reply: [len u32][TLV]; validated as options. */
struct iggy_bytes iggy_wire_options32_decode(struct iggy_reader *reader);
void iggy_wire_options32_encode(struct iggy_writer *writer, struct iggy_bytes options);

/* Permissions body (no wrapper), exactly size bytes. */
void iggy_wire_permissions_decode(struct iggy_reader *reader, uint32_t size,
                                  struct iggy_permissions *out);
/* Encodes either form: streams[] (built by a caller) or, when streams is NULL, the
 * validated stream_bytes of a decoded value, re-emitted with every flag as 0 or 1. */
void iggy_wire_permissions_encode(struct iggy_writer *writer,
                                  const struct iggy_permissions *permissions);

/* Byte size of permissions when encoded: 11 + sum(12 + 9 x topics). */
uint32_t iggy_wire_permissions_size(const struct iggy_permissions *permissions);

/* Starts walking a decoded permissions value's streams. */
void iggy_permissions_cursor_init(struct iggy_permissions_cursor *cursor,
                                  const struct iggy_permissions *permissions);

/* Next stream entry (topics are not returned here: topics_out receives up to
 * topics_max of them and *topic_count_out the number present). False at the end. */
bool iggy_permissions_cursor_next(struct iggy_permissions_cursor *cursor,
                                  struct iggy_stream_permissions *stream_out,
                                  struct iggy_topic_permissions *topics_out, uint32_t topics_max,
                                  uint32_t *topic_count_out);

/* Result section (§1.8): [count u32] {index u32, result u32} x count. */
void iggy_wire_result_encode(struct iggy_writer *writer, uint32_t code);

/* Reads a result section: *code_out = 0 for success, else the first result code. */
void iggy_wire_result_decode(struct iggy_reader *reader, uint32_t *code_out);

#endif
