/*
 * The auth worker thread and the per-source login rate limiter. Owns one request queue
 * and one completion queue per shard (lib/spsc), the limiter table (touched only by the
 * worker) and the worker thread. Runs on its own thread; shards only push requests and
 * pop completions on their own queues. Argon2id via libsodium; passwords are wiped from
 * the worker's copies after use.
 */
#include "node/auth.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/hash.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { AUTH_LIMITER_PROBES = 8, AUTH_MILLI = 1000 };

/* ---- limiter ---- */

int auth_limiter_init(struct auth_limiter *limiter, uint32_t entries_max, uint32_t burst,
                      uint64_t refill_interval_ns)
{
    assert(limiter != NULL);
    memset(limiter, 0, sizeof(*limiter));
    if (entries_max == 0 || burst == 0 || refill_interval_ns == 0 ||
        burst > UINT32_MAX / AUTH_MILLI) {
        return -EINVAL;
    }
    limiter->entries = calloc(entries_max, sizeof(limiter->entries[0]));
    if (limiter->entries == NULL) {
        return -ENOMEM;
    }
    limiter->entries_max = entries_max;
    limiter->burst = burst;
    limiter->refill_interval_ns = refill_interval_ns;
    assert(limiter->entries[0].address_size == 0);
    return 0;
}

void auth_limiter_deinit(struct auth_limiter *limiter)
{
    assert(limiter != NULL);
    free(limiter->entries);
    memset(limiter, 0, sizeof(*limiter));
    assert(limiter->entries == NULL);
}

/* The entry's bucket refilled up to now_ns (not stored). */
static uint32_t auth_limiter_tokens(const struct auth_limiter *limiter,
                                    const struct auth_limiter_entry *entry, uint64_t now_ns)
{
    uint32_t full = limiter->burst * AUTH_MILLI;
    uint64_t elapsed = now_ns > entry->updated_ns ? now_ns - entry->updated_ns : 0;
    if (elapsed / limiter->refill_interval_ns >= limiter->burst) {
        return full;
    }
    uint64_t gained = elapsed * AUTH_MILLI / limiter->refill_interval_ns;
    uint64_t tokens = entry->tokens_milli + gained;
    assert(full > 0);
    return tokens > full ? full : (uint32_t)tokens;
}

/* The entry for address: found, else a free one, else the fullest (then oldest) one. */
static struct auth_limiter_entry *auth_limiter_slot(struct auth_limiter *limiter,
                                                    const uint8_t *address, uint32_t address_size,
                                                    uint64_t now_ns, bool *is_new)
{
    uint32_t home = (uint32_t)(hash_xxh3_64(address, address_size) % limiter->entries_max);
    uint32_t probes =
        limiter->entries_max < AUTH_LIMITER_PROBES ? limiter->entries_max : AUTH_LIMITER_PROBES;
    struct auth_limiter_entry *victim = NULL;
    uint32_t victim_tokens = 0;
    for (uint32_t probe = 0; probe < probes; probe++) {
        struct auth_limiter_entry *entry = &limiter->entries[(home + probe) % limiter->entries_max];
        if (entry->address_size == address_size &&
            memcmp(entry->address, address, address_size) == 0) {
            *is_new = false;
            return entry;
        }
        uint32_t tokens =
            entry->address_size == 0 ? UINT32_MAX : auth_limiter_tokens(limiter, entry, now_ns);
        if (victim == NULL || tokens > victim_tokens ||
            (tokens == victim_tokens && entry->updated_ns < victim->updated_ns)) {
            victim = entry;
            victim_tokens = tokens;
        }
    }
    assert(victim != NULL);
    if (victim->address_size != 0) {
        limiter->evictions_count++;
    }
    *is_new = true;
    return victim;
}

bool auth_limiter_try_take(struct auth_limiter *limiter, const uint8_t *address,
                           uint32_t address_size, uint64_t now_ns)
{
    assert(limiter != NULL && limiter->entries != NULL);
    assert(address != NULL && address_size >= 1 && address_size <= AUTH_ADDRESS_SIZE_MAX);
    bool is_new = false;
    struct auth_limiter_entry *entry =
        auth_limiter_slot(limiter, address, address_size, now_ns, &is_new);
    if (is_new) {
        memset(entry, 0, sizeof(*entry));
        memcpy(entry->address, address, address_size);
        entry->address_size = (uint8_t)address_size;
        entry->tokens_milli = limiter->burst * AUTH_MILLI;
    } else {
        entry->tokens_milli = auth_limiter_tokens(limiter, entry, now_ns);
    }
    entry->updated_ns = now_ns > entry->updated_ns ? now_ns : entry->updated_ns;
    if (entry->tokens_milli < AUTH_MILLI) {
        return false;
    }
    entry->tokens_milli -= AUTH_MILLI;
    return true;
}

/* ---- tokens ---- */

void auth_token_generate(char token_out[AUTH_TOKEN_SIZE + 1],
                         uint8_t hash_out[AUTH_TOKEN_HASH_SIZE])
{
    assert(token_out != NULL);
    assert(hash_out != NULL);
    uint8_t random[AUTH_TOKEN_RANDOM_BYTES];
    randombytes_buf(random, sizeof(random));
    sodium_bin2base64(token_out, AUTH_TOKEN_SIZE + 1, random, sizeof(random),
                      sodium_base64_VARIANT_ORIGINAL);
    assert(strlen(token_out) == AUTH_TOKEN_SIZE);
    sodium_memzero(random, sizeof(random));
    auth_token_hash(token_out, AUTH_TOKEN_SIZE, hash_out);
}

void auth_token_hash(const char *token, size_t token_size, uint8_t hash_out[AUTH_TOKEN_HASH_SIZE])
{
    assert(token != NULL || token_size == 0);
    assert(hash_out != NULL);
    int result = crypto_generichash(hash_out, AUTH_TOKEN_HASH_SIZE, (const unsigned char *)token,
                                    token_size, NULL, 0);
    assert(result == 0);
}

/* ---- worker ---- */

static void auth_process(struct auth *auth, struct auth_request *request,
                         struct auth_completion *completion)
{
    memset(completion, 0, sizeof(*completion));
    completion->user_data = request->user_data;
    completion->kind = request->kind;
    if (request->kind == AUTH_KIND_HASH) {
        int result = crypto_pwhash_str_alg(
            completion->hash, request->password, request->password_size, auth->config.opslimit,
            auth->config.memlimit_bytes, crypto_pwhash_ALG_ARGON2ID13);
        completion->result = result == 0 ? 0 : -ENOMEM;
        return;
    }
    if (request->kind != AUTH_KIND_VERIFY || request->address_size > AUTH_ADDRESS_SIZE_MAX ||
        memchr(request->hash, 0, sizeof(request->hash)) == NULL) {
        completion->result = -EINVAL;
        return;
    }
    if (request->address_size > 0 &&
        !auth_limiter_try_take(&auth->limiter, request->address, request->address_size,
                               request->now_ns)) {
        atomic_fetch_add(&auth->limited_count, 1);
        completion->result = -EAGAIN;
        return;
    }
    const char *hash = request->hash[0] == 0 ? auth->dummy_hash : request->hash;
    bool matches = crypto_pwhash_str_verify(hash, request->password, request->password_size) == 0;
    completion->is_verified = matches && request->hash[0] != 0;
    atomic_fetch_add(completion->is_verified ? &auth->verified_count : &auth->rejected_count, 1);
}

/* Serves every request queued for one shard; true when any was served. */
static bool auth_drain_shard(struct auth *auth, uint32_t shard_index)
{
    struct auth_shard_queues *queues = &auth->shards[shard_index];
    struct auth_request request;
    struct auth_completion completion;
    bool served = false;
    for (uint32_t count = 0; count < auth->config.queue_depth; count++) {
        if (spsc_pop(&queues->requests, &request) != 0) {
            break;
        }
        auth_process(auth, &request, &completion);
        sodium_memzero(&request, sizeof(request));
        int result = spsc_push(&queues->completions, &completion);
        assert(result == 0); /* in-flight requests never exceed the completion queue */
        sodium_memzero(&completion, sizeof(completion));
        served = true;
    }
    if (served && auth->config.notify != NULL) {
        auth->config.notify(shard_index, auth->config.notify_context);
    }
    return served;
}

static void *auth_thread_main(void *argument)
{
    struct auth *auth = argument;
    assert(auth != NULL);
    while (!atomic_load(&auth->is_stopping)) {
        if (sem_wait(&auth->wakeup) != 0) {
            assert(errno == EINTR);
            continue;
        }
        for (uint32_t round = 0; round < 1u << 16; round++) { /* bounded; posts re-wake us */
            bool served = false;
            for (uint32_t shard = 0; shard < auth->config.shard_count; shard++) {
                served = auth_drain_shard(auth, shard) || served;
            }
            if (!served) {
                break;
            }
        }
    }
    return NULL;
}

void auth_config_defaults(struct auth_config *config)
{
    assert(config != NULL);
    memset(config, 0, sizeof(*config));
    config->shard_count = 1;
    config->queue_depth = 64;
    config->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    config->memlimit_bytes = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    config->limiter_entries_max = 4096;
    config->limiter_burst = 5;
    config->limiter_refill_interval_ns = 2000000000ULL;
    assert(config->queue_depth > 0);
}

static int auth_queues_init(struct auth *auth)
{
    const struct auth_config *config = &auth->config;
    size_t per_shard = (size_t)config->queue_depth *
                       (sizeof(struct auth_request) + sizeof(struct auth_completion));
    auth->shards = calloc(config->shard_count, sizeof(auth->shards[0]));
    auth->memory = calloc(config->shard_count, per_shard);
    if (auth->shards == NULL || auth->memory == NULL) {
        return -ENOMEM;
    }
    for (uint32_t shard = 0; shard < config->shard_count; shard++) {
        unsigned char *base = (unsigned char *)auth->memory + per_shard * shard;
        spsc_init(&auth->shards[shard].requests, base, sizeof(struct auth_request),
                  config->queue_depth);
        spsc_init(&auth->shards[shard].completions,
                  base + (size_t)config->queue_depth * sizeof(struct auth_request),
                  sizeof(struct auth_completion), config->queue_depth);
    }
    return 0;
}

int auth_init(struct auth *auth, const struct auth_config *config)
{
    assert(auth != NULL);
    assert(config != NULL);
    memset(auth, 0, sizeof(*auth));
    if (config->shard_count == 0 || config->queue_depth == 0 ||
        (config->queue_depth & (config->queue_depth - 1)) != 0 || sodium_init() < 0) {
        return -RUNNEL_ECONFIG;
    }
    auth->config = *config;
    int result = auth_limiter_init(&auth->limiter, config->limiter_entries_max,
                                   config->limiter_burst, config->limiter_refill_interval_ns);
    result = result == -EINVAL ? -RUNNEL_ECONFIG : result;
    result = result != 0 ? result : auth_queues_init(auth);
    if (result == 0 &&
        crypto_pwhash_str_alg(auth->dummy_hash, "runnel", 6, config->opslimit,
                              config->memlimit_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        result = -RUNNEL_ECONFIG; /* limits libsodium refuses */
    }
    if (result == 0 && sem_init(&auth->wakeup, 0, 0) != 0) {
        result = -errno;
    }
    if (result == 0) {
        result = -pthread_create(&auth->thread, NULL, auth_thread_main, auth);
        auth->is_running = result == 0;
        if (result != 0) {
            sem_destroy(&auth->wakeup);
        }
    }
    if (result != 0) {
        auth_limiter_deinit(&auth->limiter);
        free(auth->shards);
        free(auth->memory);
        memset(auth, 0, sizeof(*auth));
    }
    return result;
}

void auth_deinit(struct auth *auth)
{
    assert(auth != NULL);
    if (auth->is_running) {
        atomic_store(&auth->is_stopping, true);
        sem_post(&auth->wakeup);
        int result = pthread_join(auth->thread, NULL);
        assert(result == 0);
        sem_destroy(&auth->wakeup);
    }
    if (auth->memory != NULL) {
        size_t per_shard = (size_t)auth->config.queue_depth *
                           (sizeof(struct auth_request) + sizeof(struct auth_completion));
        sodium_memzero(auth->memory, per_shard * auth->config.shard_count);
    }
    auth_limiter_deinit(&auth->limiter);
    free(auth->shards);
    free(auth->memory);
    memset(auth, 0, sizeof(*auth));
}

int auth_submit(struct auth *auth, uint32_t shard_index, const struct auth_request *request)
{
    assert(auth != NULL && auth->is_running);
    assert(shard_index < auth->config.shard_count && request != NULL);
    struct auth_shard_queues *queues = &auth->shards[shard_index];
    if (queues->in_flight_count >= auth->config.queue_depth ||
        spsc_push(&queues->requests, request) != 0) {
        return -RUNNEL_EFULL;
    }
    queues->in_flight_count++;
    int result = sem_post(&auth->wakeup);
    assert(result == 0);
    return 0;
}

int auth_take(struct auth *auth, uint32_t shard_index, struct auth_completion *completion)
{
    assert(auth != NULL);
    assert(shard_index < auth->config.shard_count && completion != NULL);
    struct auth_shard_queues *queues = &auth->shards[shard_index];
    if (spsc_pop(&queues->completions, completion) != 0) {
        return -RUNNEL_EEMPTY;
    }
    assert(queues->in_flight_count > 0);
    queues->in_flight_count--;
    return 0;
}
