/*
 * Hashes and checksums (hash.h): thin wrappers over libxxhash, and CRC-32C with an SSE4.2
 * path picked at start-up by cpuid and a slicing-by-8 table fallback. The tables and the
 * CPU check are filled once by a constructor, before main and before any thread starts.
 */
#include "lib/hash.h"

#include "lib/assert.h"

#include <string.h>
#include <xxhash.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "slicing-by-8 assumes little endian");

enum { HASH_CRC32C_TABLE_COUNT = 8 };

/* CRC-32C polynomial 0x1EDC6F41, bit-reversed. */
#define HASH_CRC32C_POLYNOMIAL_REVERSED 0x82F63B78U

static uint32_t hash_crc32c_table[HASH_CRC32C_TABLE_COUNT][256];
static bool hash_crc32c_hardware;

/* The empty input may come as NULL; libxxhash gets a valid pointer either way. */
static const void *hash_input(const void *data, size_t size_bytes)
{
    assert(data != NULL || size_bytes == 0);
    assert(data == NULL || (uintptr_t)data <= UINTPTR_MAX - size_bytes);
    return data != NULL ? data : "";
}

uint64_t hash_xxh3_64(const void *data, size_t size_bytes)
{
    const void *input = hash_input(data, size_bytes);
    assert(input != NULL);
    return XXH3_64bits(input, size_bytes);
}

struct hash128 hash_xxh3_128(const void *data, size_t size_bytes)
{
    const void *input = hash_input(data, size_bytes);
    assert(input != NULL);
    XXH128_hash_t hash = XXH3_128bits(input, size_bytes);
    struct hash128 result = {.low = hash.low64, .high = hash.high64};
    return result;
}

bool hash128_is_equal(struct hash128 left, struct hash128 right)
{
    return left.low == right.low && left.high == right.high;
}

uint64_t hash_xxh64(const void *data, size_t size_bytes, uint64_t seed)
{
    const void *input = hash_input(data, size_bytes);
    assert(input != NULL);
    return XXH64(input, size_bytes, seed);
}

uint32_t hash_xxh32(const void *data, size_t size_bytes, uint32_t seed)
{
    const void *input = hash_input(data, size_bytes);
    assert(input != NULL);
    return XXH32(input, size_bytes, seed);
}

__attribute__((constructor)) static void hash_crc32c_init(void)
{
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1) ? (crc >> 1) ^ HASH_CRC32C_POLYNOMIAL_REVERSED : crc >> 1;
        }
        hash_crc32c_table[0][byte] = crc;
    }
    for (uint32_t byte = 0; byte < 256; byte++) {
        for (int table = 1; table < HASH_CRC32C_TABLE_COUNT; table++) {
            uint32_t previous = hash_crc32c_table[table - 1][byte];
            hash_crc32c_table[table][byte] =
                (previous >> 8) ^ hash_crc32c_table[0][previous & 0xFF];
        }
    }
    assert(hash_crc32c_table[0][128] == HASH_CRC32C_POLYNOMIAL_REVERSED);
#if defined(__x86_64__)
    __builtin_cpu_init(); /* required before __builtin_cpu_supports in a constructor */
    hash_crc32c_hardware = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t hash_crc32c_software(uint32_t crc, const void *data, size_t size_bytes)
{
    assert(data != NULL || size_bytes == 0);
    assert(hash_crc32c_table[0][128] != 0); /* the constructor ran */
    const unsigned char *bytes = data;
    uint32_t state = ~crc;
    size_t offset = 0;
    for (; offset + 8 <= size_bytes; offset += 8) {
        uint64_t word;
        memcpy(&word, bytes + offset, sizeof(word));
        word ^= state;
        state =
            hash_crc32c_table[7][word & 0xFF] ^ hash_crc32c_table[6][(word >> 8) & 0xFF] ^
            hash_crc32c_table[5][(word >> 16) & 0xFF] ^ hash_crc32c_table[4][(word >> 24) & 0xFF] ^
            hash_crc32c_table[3][(word >> 32) & 0xFF] ^ hash_crc32c_table[2][(word >> 40) & 0xFF] ^
            hash_crc32c_table[1][(word >> 48) & 0xFF] ^ hash_crc32c_table[0][word >> 56];
    }
    for (; offset < size_bytes; offset++) {
        state = (state >> 8) ^ hash_crc32c_table[0][(state ^ bytes[offset]) & 0xFF];
    }
    return ~state;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
hash_crc32c_sse42(uint32_t crc, const unsigned char *bytes, size_t size_bytes)
{
    assert(bytes != NULL || size_bytes == 0);
    assert(hash_crc32c_hardware);
    uint64_t state = ~crc;
    size_t offset = 0;
    for (; offset + 8 <= size_bytes; offset += 8) {
        uint64_t word;
        memcpy(&word, bytes + offset, sizeof(word));
        state = __builtin_ia32_crc32di(state, word);
    }
    uint32_t narrow = (uint32_t)state;
    for (; offset < size_bytes; offset++) {
        narrow = __builtin_ia32_crc32qi(narrow, bytes[offset]);
    }
    return ~narrow;
}
#endif

uint32_t hash_crc32c(uint32_t crc, const void *data, size_t size_bytes)
{
    assert(data != NULL || size_bytes == 0);
    assert(data == NULL || (uintptr_t)data <= UINTPTR_MAX - size_bytes);
#if defined(__x86_64__)
    if (hash_crc32c_hardware) {
        return hash_crc32c_sse42(crc, data, size_bytes);
    }
#endif
    return hash_crc32c_software(crc, data, size_bytes);
}

bool hash_crc32c_is_hardware(void)
{
    return hash_crc32c_hardware;
}
