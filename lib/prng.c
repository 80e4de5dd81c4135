/*
 * xoshiro256** (Blackman and Vigna, public domain reference at prng.di.unimi.it) seeded by
 * splitmix64; bounded draws use Lemire's multiply-and-reject method (see prng.h).
 */
#include "lib/prng.h"

#include "lib/assert.h"

#include <string.h>

/* Each try is rejected with probability below 1/2, so 128 rejections in a row mean the
 * generator is broken, not unlucky (odds 2^-128). */
enum { PRNG_REJECTIONS_MAX = 128 };

static uint64_t prng_splitmix64(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ULL;
    uint64_t mixed = *state;
    mixed = (mixed ^ (mixed >> 30)) * 0xBF58476D1CE4E5B9ULL;
    mixed = (mixed ^ (mixed >> 27)) * 0x94D049BB133111EBULL;
    return mixed ^ (mixed >> 31);
}

static uint64_t prng_rotate_left(uint64_t value, unsigned shift)
{
    return (value << shift) | (value >> (64 - shift));
}

void prng_init(struct prng *prng, uint64_t seed)
{
    assert(prng != NULL);
    uint64_t splitmix_state = seed;
    for (size_t index = 0; index < 4; index++) {
        prng->state[index] = prng_splitmix64(&splitmix_state);
    }
    /* splitmix64 is a bijection of distinct inputs, so the four words cannot all be 0. */
    assert((prng->state[0] | prng->state[1] | prng->state[2] | prng->state[3]) != 0);
}

uint64_t prng_u64(struct prng *prng)
{
    assert(prng != NULL);
    uint64_t *state = prng->state;
    assert_hot((state[0] | state[1] | state[2] | state[3]) != 0);
    uint64_t result = prng_rotate_left(state[1] * 5, 7) * 9;
    uint64_t shifted = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= shifted;
    state[3] = prng_rotate_left(state[3], 45);
    return result;
}

uint64_t prng_range(struct prng *prng, uint64_t bound)
{
    assert(prng != NULL);
    assert(bound > 0);
    /* Lemire: the high word of random * bound is uniform once the low word is outside the
     * (2^64 mod bound) values that would be over-represented. */
    uint64_t threshold = (0 - bound) % bound;
    for (int attempt = 0; attempt < PRNG_REJECTIONS_MAX; attempt++) {
        unsigned __int128 product = (unsigned __int128)prng_u64(prng) * bound;
        if ((uint64_t)product >= threshold) {
            uint64_t result = (uint64_t)(product >> 64);
            assert(result < bound);
            return result;
        }
    }
    unreachable_code();
}

uint64_t prng_between(struct prng *prng, uint64_t value_min, uint64_t value_max)
{
    assert(prng != NULL);
    assert(value_min <= value_max);
    if (value_min == 0 && value_max == UINT64_MAX) {
        return prng_u64(prng);
    }
    uint64_t result = value_min + prng_range(prng, value_max - value_min + 1);
    assert(result >= value_min && result <= value_max);
    return result;
}

bool prng_chance(struct prng *prng, uint64_t numerator, uint64_t denominator)
{
    assert(prng != NULL);
    assert(denominator > 0);
    assert(numerator <= denominator);
    return prng_range(prng, denominator) < numerator;
}

bool prng_percent(struct prng *prng, uint32_t percent)
{
    assert(prng != NULL);
    assert(percent <= 100);
    return prng_chance(prng, percent, 100);
}

void prng_fill(struct prng *prng, void *buffer, size_t size_bytes)
{
    assert(prng != NULL);
    assert(buffer != NULL || size_bytes == 0);
    unsigned char *bytes = buffer;
    size_t offset = 0;
    while (offset < size_bytes) {
        uint64_t word = prng_u64(prng);
        size_t chunk = size_bytes - offset < sizeof(word) ? size_bytes - offset : sizeof(word);
        memcpy(bytes + offset, &word, chunk);
        offset += chunk;
    }
    assert(offset == size_bytes);
}
