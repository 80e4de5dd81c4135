/*
 * Non-cryptographic hashes and checksums over byte ranges.
 *
 *   hash_xxh3_64 / hash_xxh3_128: fast checksums and hash-table keys (libxxhash, XXH3).
 *   hash_xxh64 / hash_xxh32:      the older xxHash variants, for formats that name them.
 *   hash_crc32c:                  CRC-32C (Castagnoli), as used by iSCSI, ext4 and Kafka
 *                                 record batches; SSE4.2 when the CPU has it, else a
 *                                 slicing-by-8 table.
 *
 * 128-bit results are `struct hash128` (two 64-bit halves, the same split XXH128_hash_t
 * uses) so that this header needs no compiler extension; callers that keep a u128 combine
 * them as ((u128)high << 64) | low. All functions are pure and thread-safe; none allocates.
 * data may be NULL only when size_bytes is 0.
 */
#ifndef RUNNEL_LIB_HASH_H
#define RUNNEL_LIB_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hash128 {
    uint64_t low;  /* XXH128_hash_t.low64 */
    uint64_t high; /* XXH128_hash_t.high64 */
};

/* XXH3 64-bit hash of size_bytes bytes at data (seed 0). */
uint64_t hash_xxh3_64(const void *data, size_t size_bytes);

/* XXH3 128-bit hash of size_bytes bytes at data (seed 0). */
struct hash128 hash_xxh3_128(const void *data, size_t size_bytes);

/* True when both halves are equal. */
bool hash128_is_equal(struct hash128 left, struct hash128 right);

/* XXH64 of size_bytes bytes at data with seed. */
uint64_t hash_xxh64(const void *data, size_t size_bytes, uint64_t seed);

/* XXH32 of size_bytes bytes at data with seed. */
uint32_t hash_xxh32(const void *data, size_t size_bytes, uint32_t seed);

/*
 * CRC-32C of size_bytes bytes at data, continuing from crc: pass 0 to start, and the
 * previous result to extend, so hash_crc32c(hash_crc32c(0, a), b) equals the CRC of a
 * followed by b. Inversion before and after is done inside (crc32c("123456789") is
 * 0xE3069283).
 */
uint32_t hash_crc32c(uint32_t crc, const void *data, size_t size_bytes);

/* The table-driven CRC-32C that hash_crc32c falls back to; exposed so tests can compare
 * it with the hardware path. Same contract as hash_crc32c. */
uint32_t hash_crc32c_software(uint32_t crc, const void *data, size_t size_bytes);

/* True when hash_crc32c uses the SSE4.2 crc32 instruction on this CPU. */
bool hash_crc32c_is_hardware(void);

#endif
