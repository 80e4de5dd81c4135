/*
 * The auth worker: one thread, off every shard loop, that computes argon2id password
 * hashes (libsodium crypto_pwhash_str) and verifies passwords against them
 * (crypto_pwhash_str_verify), so a login never stalls a shard (DESIGN.md §10.6). Each
 * shard has its own bounded request queue in and completion queue out (lib/spsc): the
 * shard submits and takes completions from its own thread only; the worker drains every
 * request queue. A full queue is backpressure (-RUNNEL_EFULL), never a wait.
 *
 * Verifications are rate-limited per source address by a token bucket (auth_limiter,
 * a fixed table) before any hashing: a source over its budget gets -EAGAIN at once.
 *
 * Also here, because they need libsodium's randomness and hashing and run only on the
 * primary before an op is replicated: personal access token generation and hashing.
 */
#ifndef RUNNEL_NODE_AUTH_H
#define RUNNEL_NODE_AUTH_H

#include "lib/spsc.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    AUTH_PASSWORD_SIZE_MAX = 255,
    AUTH_HASH_SIZE_MAX = 128, /* crypto_pwhash_STRBYTES, NUL included */
    AUTH_ADDRESS_SIZE_MAX = 16,
    AUTH_TOKEN_RANDOM_BYTES = 50,
    AUTH_TOKEN_SIZE = 68,      /* standard Base64 of 50 bytes, with padding (Iggy's shape) */
    AUTH_TOKEN_HASH_SIZE = 32, /* BLAKE2b-256 of the token text */
};

/* ---- per-source login rate limiter (token bucket, fixed table) ---- */

struct auth_limiter_entry {
    uint8_t address[AUTH_ADDRESS_SIZE_MAX];
    uint8_t address_size;  /* 0: free */
    uint32_t tokens_milli; /* thousandths of an attempt */
    uint64_t updated_ns;
};

struct auth_limiter {
    struct auth_limiter_entry *entries; /* [entries_max], allocated at init */
    uint32_t entries_max;
    uint32_t burst;              /* attempts a quiet source may make at once */
    uint64_t refill_interval_ns; /* one attempt regained per interval */
    uint64_t evictions_count;
};

/* Allocates the table; returns 0, -EINVAL for a zero limit, or -ENOMEM. Start-up only. */
int auth_limiter_init(struct auth_limiter *limiter, uint32_t entries_max, uint32_t burst,
                      uint64_t refill_interval_ns);

void auth_limiter_deinit(struct auth_limiter *limiter);

/*
 * Takes one attempt from the bucket of address (address_size 1..16 bytes) at now_ns
 * (monotonic). True when allowed. A source not in the table starts with a full bucket;
 * when its probe window is full, the entry with the fullest bucket (then the oldest) is
 * replaced, so a flood of new sources never blocks a known one. Single-threaded.
 */
bool auth_limiter_try_take(struct auth_limiter *limiter, const uint8_t *address,
                           uint32_t address_size, uint64_t now_ns);

/* ---- the worker ---- */

enum auth_kind {
    AUTH_KIND_HASH = 1,   /* password -> argon2id string in completion.hash */
    AUTH_KIND_VERIFY = 2, /* password against request.hash (rate-limited by source) */
};

struct auth_request {
    uint64_t user_data; /* the caller's tag, echoed in the completion */
    uint32_t kind;      /* enum auth_kind */
    uint8_t password_size;
    uint8_t address_size; /* source of a VERIFY; 0 for none (not rate-limited) */
    char password[AUTH_PASSWORD_SIZE_MAX];
    uint8_t address[AUTH_ADDRESS_SIZE_MAX];
    char hash[AUTH_HASH_SIZE_MAX]; /* VERIFY: stored hash, NUL-terminated; "" = no such
                                      user (a dummy verify runs, so timing does not tell) */
    uint64_t now_ns;               /* VERIFY: the submitting shard's monotonic time */
};

struct auth_completion {
    uint64_t user_data;
    uint32_t kind;
    int32_t result;   /* 0; -EAGAIN rate-limited; -ENOMEM hashing failed; -EINVAL bad request */
    bool is_verified; /* VERIFY: the password matches */
    char hash[AUTH_HASH_SIZE_MAX]; /* HASH: NUL-terminated argon2id string */
};

struct auth_config {
    uint32_t shard_count;
    uint32_t queue_depth;  /* per shard, a power of two */
    uint64_t opslimit;     /* crypto_pwhash opslimit (tests: crypto_pwhash_OPSLIMIT_MIN) */
    size_t memlimit_bytes; /* crypto_pwhash memlimit (tests: crypto_pwhash_MEMLIMIT_MIN) */
    uint32_t limiter_entries_max;
    uint32_t limiter_burst;
    uint64_t limiter_refill_interval_ns;
    /* Called on the worker thread after completions were queued for shard_index (e.g.
     * to ring that shard's doorbell). May be NULL. */
    void (*notify)(uint32_t shard_index, void *context);
    void *notify_context;
};

struct auth_shard_queues {
    struct spsc requests;     /* shard -> worker */
    struct spsc completions;  /* worker -> shard */
    uint32_t in_flight_count; /* submitted and not yet taken: touched by the shard only */
};

struct auth {
    struct auth_config config;
    struct auth_shard_queues *shards; /* [shard_count] */
    void *memory;                     /* every queue's entries */
    struct auth_limiter limiter;      /* worker thread only */
    char dummy_hash[AUTH_HASH_SIZE_MAX];
    sem_t wakeup;
    atomic_bool is_stopping;
    pthread_t thread;
    bool is_running;
    _Atomic uint64_t verified_count;
    _Atomic uint64_t rejected_count;
    _Atomic uint64_t limited_count;
};

/* Interactive argon2id limits, 1 shard, depth 64, 5 attempts then one per 2 s. */
void auth_config_defaults(struct auth_config *config);

/* Allocates the queues, initialises libsodium and starts the worker. Returns 0,
 * -RUNNEL_ECONFIG for a bad config, -ENOMEM, or -errno from pthread/semaphores. */
int auth_init(struct auth *auth, const struct auth_config *config);

/* Stops and joins the worker (pending requests are dropped) and frees everything. */
void auth_deinit(struct auth *auth);

/* Queues request from shard_index's thread. Returns 0 or -RUNNEL_EFULL when the shard
 * already has queue_depth requests in flight. The password is copied (and wiped by the
 * worker after use). */
int auth_submit(struct auth *auth, uint32_t shard_index, const struct auth_request *request);

/* Takes one completion for shard_index (its thread only): 0 or -RUNNEL_EEMPTY. */
int auth_take(struct auth *auth, uint32_t shard_index, struct auth_completion *completion);

/* Primary only: a fresh random token (AUTH_TOKEN_SIZE chars + NUL into token_out) and
 * its hash (what the CreateToken op carries). */
void auth_token_generate(char token_out[AUTH_TOKEN_SIZE + 1],
                         uint8_t hash_out[AUTH_TOKEN_HASH_SIZE]);

/* The hash of a presented token, for a token login (RegisterClient.token_hash). */
void auth_token_hash(const char *token, size_t token_size, uint8_t hash_out[AUTH_TOKEN_HASH_SIZE]);

#endif
