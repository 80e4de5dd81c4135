/*
 * Iggy's topic option catalog (research/iggy-protocol.md §3.12): parsing a CreateTopic /
 * UpdateTopic options block into typed values with Iggy's errors (unknown key 4041, bad
 * value 4042), the admission checks on the resolved values (segment size range 4042,
 * max_topic_size below the segment size 1019, preallocation cap 4042), and the two
 * blocks a TopicHeader carries: explicit (the keys the client sent, re-encoded in their
 * canonical kinds) and derived (every other catalog key at its resolved default), both
 * in Iggy's key order. Also the options.describe (13) catalog reply.
 *
 * Accepted value forms per key follow Iggy: the canonical kind, a String, and for
 * compression a Uint8 code. String values accept plain decimal integers, the special
 * words Iggy accepts ("unlimited", "none", "never_expire", "server_default", ...),
 * durations as integer+unit sequences ("7 days", "1h 30m") and byte sizes with an
 * integer and an optional SI or IEC unit ("512 MiB", "1GB"). Fractional byte sizes
 * ("1.5 GiB") are refused with 4042 where Iggy's byte-unit parser accepts them.
 *
 * Pure functions; the control plane (shard 0) and the client library.
 */
#ifndef RUNNEL_PROTO_IGGY_OPTIONS_H
#define RUNNEL_PROTO_IGGY_OPTIONS_H

#include "proto/iggy_wire.h"

#include <stdbool.h>
#include <stdint.h>

/* Catalog keys, in the order options.describe serves them. */
enum iggy_topic_option {
    IGGY_TOPIC_OPTION_COMPRESSION,
    IGGY_TOPIC_OPTION_MESSAGE_EXPIRY,
    IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE,
    IGGY_TOPIC_OPTION_SEGMENT_SIZE,
    IGGY_TOPIC_OPTION_ENFORCE_FSYNC,
    IGGY_TOPIC_OPTION_MESSAGES_REQUIRED_TO_SAVE,
    IGGY_TOPIC_OPTION_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE,
    IGGY_TOPIC_OPTION_PREALLOCATE_SEGMENTS,
    IGGY_TOPIC_OPTION_COUNT,
};

enum iggy_compression { IGGY_COMPRESSION_NONE = 1, IGGY_COMPRESSION_GZIP = 2 };

#define IGGY_TOPIC_SEGMENT_SIZE_DEFAULT     (1ULL << 30)
#define IGGY_TOPIC_SEGMENT_SIZE_MIN         (1ULL << 20)
#define IGGY_TOPIC_SEGMENT_SIZE_MAX         (1ULL << 30)
#define IGGY_TOPIC_MESSAGES_TO_SAVE_DEFAULT 1024u
#define IGGY_TOPIC_MESSAGES_TO_SAVE_MAX     (16u * 1024 * 1024)
#define IGGY_TOPIC_BYTES_TO_SAVE_DEFAULT    (1ULL << 20)
#define IGGY_TOPIC_BYTES_TO_SAVE_MAX        (1ULL << 30)
#define IGGY_TOPIC_PREALLOCATED_BYTES_MAX   (64ULL << 30)

/* Typed topic options. A field is meaningful when its bit (1 << enum iggy_topic_option)
 * is in present; iggy_options_topic_resolve fills the others with Iggy's defaults. */
struct iggy_topic_options {
    uint32_t present;
    uint8_t compression;           /* enum iggy_compression */
    uint64_t message_expiry_us;    /* UINT64_MAX never */
    uint64_t max_topic_size_bytes; /* UINT64_MAX unlimited */
    uint64_t segment_size_bytes;
    bool enforce_fsync;
    uint32_t messages_required_to_save;
    uint64_t size_of_messages_required_to_save_bytes;
    bool preallocate_segments;
};

/* The catalog key name (a NUL-terminated static string). */
const char *iggy_options_topic_key(enum iggy_topic_option option);

/*
 * Parses a validated options block (iggy_wire_options_decode) into out (present set for
 * each key given; zero values meaning "server default" leave the key absent, as Iggy
 * normalises them). is_update: only compression_algorithm, message_expiry and
 * max_topic_size are accepted. Returns 0 or the Iggy error code (4041, 4042).
 */
uint32_t iggy_options_topic_parse(struct iggy_bytes block, bool is_update,
                                  struct iggy_topic_options *out);

/* Fills every absent field with Iggy's default (present is unchanged). */
void iggy_options_topic_resolve(struct iggy_topic_options *options);

/* CreateTopic admission on resolved options: segment size 1 MiB..1 GiB and a multiple of
 * 512 (else 4042), max_topic_size >= segment size (else 1019), preallocation of
 * segment_size x partition_count <= 64 GiB (else 4042). Returns 0 or the code. */
uint32_t iggy_options_topic_check(const struct iggy_topic_options *resolved,
                                  uint32_t partition_count);

/* Appends the TLV pairs (no length prefix) of the present fields (explicit block) or of
 * the absent ones with their resolved values (derived: resolve first), canonical kinds,
 * in Iggy's key order. Returns 0 or -RUNNEL_ETOOLARGE. */
int iggy_options_topic_encode(struct iggy_writer *writer, const struct iggy_topic_options *options,
                              bool derived);

/* options.describe reply for scope 1 (the topic catalog), 2 and 3 (count 0). Returns 0,
 * -RUNNEL_ETOOLARGE, or -RUNNEL_EFORMAT for another scope (Iggy: status 3). */
int iggy_options_describe_encode(struct iggy_writer *writer, uint8_t scope);

#endif
