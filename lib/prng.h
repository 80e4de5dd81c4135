/*
 * Seeded deterministic pseudo-random numbers: xoshiro256** seeded through splitmix64.
 *
 * The same seed gives the same sequence on every machine and build, which is what lets
 * the simulator replay a failing run from its printed seed (DESIGN.md section 6). Not for
 * secrets: use libsodium for keys and tokens. A struct prng belongs to one thread; it
 * owns no memory and needs no teardown.
 */
#ifndef RUNNEL_LIB_PRNG_H
#define RUNNEL_LIB_PRNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prng {
    uint64_t state[4]; /* xoshiro256** state; never all zero */
};

/* Seeds prng; every seed (0 included) gives a distinct, valid state. */
void prng_init(struct prng *prng, uint64_t seed);

/* Returns the next 64 uniformly distributed bits. */
uint64_t prng_u64(struct prng *prng);

/* Returns a uniform value in [0, bound), without modulo bias. bound must be > 0. */
uint64_t prng_range(struct prng *prng, uint64_t bound);

/* Returns a uniform value in [value_min, value_max] (inclusive; value_min <= value_max). */
uint64_t prng_between(struct prng *prng, uint64_t value_min, uint64_t value_max);

/* True with probability numerator / denominator (denominator > 0, numerator <= it). */
bool prng_chance(struct prng *prng, uint64_t numerator, uint64_t denominator);

/* True with probability percent / 100 (percent <= 100). */
bool prng_percent(struct prng *prng, uint32_t percent);

/* Fills size_bytes bytes of buffer with random bytes. */
void prng_fill(struct prng *prng, void *buffer, size_t size_bytes);

#endif
