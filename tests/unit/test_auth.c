/* Unit tests for node/auth: the login rate limiter (refill, per-source, eviction keeps
 * limited sources), the argon2id worker (hash, verify right and wrong, unknown user,
 * rate-limited verify, queue backpressure, notify) and token generation. */
#include "lib/error.h"
#include "node/auth.h"

#include "tests/unit/helper_assert.h"

#include <errno.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define SECOND_NS 1000000000ULL

static void test_limiter_refill_and_sources(void **state)
{
    (void)state;
    struct auth_limiter limiter;
    assert_int_equal(auth_limiter_init(&limiter, 64, 3, SECOND_NS), 0);
    const uint8_t a[4] = {10, 0, 0, 1};
    const uint8_t b[4] = {10, 0, 0, 2};
    for (int attempt = 0; attempt < 3; attempt++) {
        assert_true(auth_limiter_try_take(&limiter, a, 4, 0));
    }
    assert_false(auth_limiter_try_take(&limiter, a, 4, 0));
    assert_true(auth_limiter_try_take(&limiter, b, 4, 0)); /* another source is unaffected */
    assert_false(auth_limiter_try_take(&limiter, a, 4, SECOND_NS / 2));
    assert_true(auth_limiter_try_take(&limiter, a, 4, SECOND_NS)); /* one regained */
    assert_false(auth_limiter_try_take(&limiter, a, 4, SECOND_NS));
    /* A long quiet period refills to the burst, no further. */
    for (int attempt = 0; attempt < 3; attempt++) {
        assert_true(auth_limiter_try_take(&limiter, a, 4, 100 * SECOND_NS));
    }
    assert_false(auth_limiter_try_take(&limiter, a, 4, 100 * SECOND_NS));
    auth_limiter_deinit(&limiter);
    assert_int_equal(auth_limiter_init(&limiter, 0, 3, SECOND_NS), -EINVAL);
}

static void test_limiter_flood_does_not_free_a_limited_source(void **state)
{
    (void)state;
    struct auth_limiter limiter;
    assert_int_equal(auth_limiter_init(&limiter, 4, 2, 60 * SECOND_NS), 0);
    const uint8_t attacker[16] = {0xfe, 0x80, 1};
    assert_true(auth_limiter_try_take(&limiter, attacker, 16, 0));
    assert_true(auth_limiter_try_take(&limiter, attacker, 16, 0));
    assert_false(auth_limiter_try_take(&limiter, attacker, 16, 0));
    for (uint32_t source = 0; source < 1000; source++) {
        uint8_t address[4] = {192, 168, (uint8_t)(source >> 8), (uint8_t)source};
        (void)auth_limiter_try_take(&limiter, address, 4, 1);
    }
    assert_true(limiter.evictions_count > 0);
    assert_false(auth_limiter_try_take(&limiter, attacker, 16, 2));
    auth_limiter_deinit(&limiter);
}

static atomic_uint notify_count;

static void notify_callback(uint32_t shard_index, void *context)
{
    assert_int_equal(shard_index, 1);
    assert_ptr_equal(context, &notify_count);
    atomic_fetch_add(&notify_count, 1);
}

/* Waits (bounded) for one completion on shard 1. */
static void take_one(struct auth *auth, struct auth_completion *completion)
{
    for (int attempt = 0; attempt < 20000; attempt++) {
        if (auth_take(auth, 1, completion) == 0) {
            return;
        }
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    fail_msg("no completion within 20 s");
}

static struct auth_request request_of(uint32_t kind, const char *password, const char *hash,
                                      uint8_t source)
{
    struct auth_request request;
    memset(&request, 0, sizeof(request));
    request.kind = kind;
    request.user_data = source;
    request.password_size = (uint8_t)strlen(password);
    memcpy(request.password, password, strlen(password));
    if (hash != NULL) {
        strcpy(request.hash, hash);
    }
    request.address_size = source == 0 ? 0 : 4;
    request.address[3] = source;
    return request;
}

static void test_worker_hashes_and_verifies(void **state)
{
    (void)state;
    struct auth_config config;
    auth_config_defaults(&config);
    config.shard_count = 2;
    config.queue_depth = 4;
    config.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    config.memlimit_bytes = crypto_pwhash_MEMLIMIT_MIN;
    config.limiter_burst = 2;
    config.notify = notify_callback;
    config.notify_context = &notify_count;
    struct auth auth;
    assert_int_equal(auth_init(&auth, &config), 0);
    struct auth_request request = request_of(AUTH_KIND_HASH, "secret", NULL, 0);
    assert_int_equal(auth_submit(&auth, 1, &request), 0);
    struct auth_completion completion;
    take_one(&auth, &completion);
    assert_int_equal(completion.result, 0);
    assert_int_equal(strncmp(completion.hash, "$argon2id$", 10), 0);
    char hash[AUTH_HASH_SIZE_MAX];
    strcpy(hash, completion.hash);
    assert_true(atomic_load(&notify_count) >= 1);
    /* Right password, wrong password, unknown user (empty hash). */
    struct auth_request right = request_of(AUTH_KIND_VERIFY, "secret", hash, 7);
    struct auth_request wrong = request_of(AUTH_KIND_VERIFY, "secreT", hash, 8);
    struct auth_request unknown = request_of(AUTH_KIND_VERIFY, "secret", "", 9);
    assert_int_equal(auth_submit(&auth, 1, &right), 0);
    assert_int_equal(auth_submit(&auth, 1, &wrong), 0);
    assert_int_equal(auth_submit(&auth, 1, &unknown), 0);
    bool seen[3] = {false, false, false};
    for (int index = 0; index < 3; index++) {
        take_one(&auth, &completion);
        assert_int_equal(completion.result, 0);
        assert_true(completion.user_data >= 7 && completion.user_data <= 9);
        seen[completion.user_data - 7] = true;
        assert_int_equal(completion.is_verified, completion.user_data == 7);
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    /* Source 7 had a burst of 2 and spent 1: one more, then rate-limited. */
    assert_int_equal(auth_submit(&auth, 1, &right), 0);
    take_one(&auth, &completion);
    assert_true(completion.is_verified);
    assert_int_equal(auth_submit(&auth, 1, &right), 0);
    take_one(&auth, &completion);
    assert_int_equal(completion.result, -EAGAIN);
    assert_false(completion.is_verified);
    auth_deinit(&auth);
}

static void test_worker_backpressure(void **state)
{
    (void)state;
    struct auth_config config;
    auth_config_defaults(&config);
    config.shard_count = 2;
    config.queue_depth = 2;
    config.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    config.memlimit_bytes = crypto_pwhash_MEMLIMIT_MIN;
    struct auth auth;
    assert_int_equal(auth_init(&auth, &config), 0);
    struct auth_request request = request_of(AUTH_KIND_HASH, "pw", NULL, 0);
    assert_int_equal(auth_submit(&auth, 1, &request), 0);
    assert_int_equal(auth_submit(&auth, 1, &request), 0);
    assert_int_equal(auth_submit(&auth, 1, &request), -RUNNEL_EFULL); /* 2 in flight */
    assert_int_equal(auth_submit(&auth, 0, &request), 0);             /* per shard */
    struct auth_completion completion;
    take_one(&auth, &completion);
    assert_int_equal(auth_submit(&auth, 1, &request), 0);
    take_one(&auth, &completion);
    take_one(&auth, &completion);
    assert_int_equal(auth_take(&auth, 1, &completion), -RUNNEL_EEMPTY);
    config.queue_depth = 3;
    struct auth bad;
    assert_int_equal(auth_init(&bad, &config), -RUNNEL_ECONFIG);
    auth_deinit(&auth);
}

static void test_token_generation(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    char first[AUTH_TOKEN_SIZE + 1];
    char second[AUTH_TOKEN_SIZE + 1];
    uint8_t first_hash[AUTH_TOKEN_HASH_SIZE];
    uint8_t second_hash[AUTH_TOKEN_HASH_SIZE];
    auth_token_generate(first, first_hash);
    auth_token_generate(second, second_hash);
    assert_int_equal(strlen(first), AUTH_TOKEN_SIZE);
    assert_string_not_equal(first, second);
    assert_int_equal(first[AUTH_TOKEN_SIZE - 1], '='); /* 50 bytes: padded Base64 */
    uint8_t again[AUTH_TOKEN_HASH_SIZE];
    auth_token_hash(first, AUTH_TOKEN_SIZE, again);
    assert_memory_equal(again, first_hash, AUTH_TOKEN_HASH_SIZE);
    assert_memory_not_equal(first_hash, second_hash, AUTH_TOKEN_HASH_SIZE);
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limiter_refill_and_sources),
        cmocka_unit_test(test_limiter_flood_does_not_free_a_limited_source),
        cmocka_unit_test(test_worker_hashes_and_verifies),
        cmocka_unit_test(test_worker_backpressure),
        cmocka_unit_test(test_token_generation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
