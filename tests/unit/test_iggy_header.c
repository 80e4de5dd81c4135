/* Unit tests for proto/iggy_header, iggy_command and iggy_error: layouts, the §1.7
 * validation outcomes one by one, reply/eviction construction, the client's reply check,
 * eviction error mapping, the Register worked example and the command table. */
#include "lib/error.h"
#include "proto/iggy_command.h"
#include "proto/iggy_error.h"
#include "proto/iggy_header.h"
#include "proto/iggy_users.h"

#include "tests/unit/helper_assert.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static struct iggy_request_header request_make(uint8_t operation, uint32_t code)
{
    struct iggy_request_header header;
    uint64_t number = operation == IGGY_OPERATION_REGISTER ? 0 : 1;
    iggy_header_request_init(&header, 0x1234, number, number, operation, code, NULL, 0, false);
    return header;
}

static enum iggy_header_action check(const struct iggy_request_header *header, bool is_bound,
                                     struct iggy_header_verdict *verdict)
{
    iggy_header_request_check(header, NULL, 0, is_bound, verdict);
    return verdict->action;
}

static void test_checksum_check_values(void **state)
{
    (void)state;
    assert_true(iggy_header_body_checksum(NULL, 0) == (iggy_u128)0x2D06800538D394C2ULL);
    assert_int_equal(IGGY_PROTOCOL_VERSION, 11264);
    assert_int_equal(IGGY_PROTOCOL_VERSION_MIN, 11264);
    assert_true(iggy_header_is_version_accepted(11264));
    assert_true(iggy_header_is_version_accepted(12287));
    assert_false(iggy_header_is_version_accepted(12288));
    assert_false(iggy_header_is_version_accepted(11263));
    assert_false(iggy_header_is_version_accepted(0));
}

static void test_frame_check_closes(void **state)
{
    (void)state;
    uint8_t bytes[IGGY_HEADER_SIZE] = {0};
    uint32_t size = 0;
    bytes[60] = IGGY_FRAME_REQUEST;
    bytes[48] = 0xFF; /* 255: below the header */
    assert_int_equal(iggy_header_frame_check(bytes, IGGY_FRAME_SIZE_MAX, &size), -RUNNEL_EFORMAT);
    bytes[48] = 0x00;
    bytes[49] = 0x01; /* 256 */
    assert_int_equal(iggy_header_frame_check(bytes, IGGY_FRAME_SIZE_MAX, &size), 0);
    assert_int_equal(size, 256);
    bytes[51] = 0x04; /* 64 MiB + 256 */
    assert_int_equal(iggy_header_frame_check(bytes, IGGY_FRAME_SIZE_MAX, &size), -RUNNEL_EFORMAT);
    bytes[51] = 0x04;
    bytes[49] = 0x00; /* exactly 64 MiB */
    assert_int_equal(iggy_header_frame_check(bytes, IGGY_FRAME_SIZE_MAX, &size), 0);
    bytes[60] = 29;
    assert_int_equal(iggy_header_frame_check(bytes, IGGY_FRAME_SIZE_MAX, &size), 0);
    bytes[60] = 30;
    assert_int_equal(iggy_header_frame_check(bytes, IGGY_FRAME_SIZE_MAX, &size), -RUNNEL_EFORMAT);
}

static void test_request_check_drops(void **state)
{
    (void)state;
    struct iggy_header_verdict verdict;
    struct iggy_request_header header = request_make(IGGY_OPERATION_CREATE_STREAM, 0);
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_ACCEPT);
    assert_null(verdict.why);
    header.frame.command = IGGY_FRAME_REPLY;
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_DROP);
    header = request_make(IGGY_OPERATION_CREATE_STREAM, 0);
    header.operation = 4; /* not a discriminant */
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_DROP);
    header.operation = 150;
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_DROP);
    header.operation = IGGY_OPERATION_RESERVED;
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_DROP);
    header = request_make(IGGY_OPERATION_CREATE_STREAM, 0);
    header.client = 0;
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_DROP);
    header = request_make(IGGY_OPERATION_REGISTER, 0);
    assert_int_equal(check(&header, false, &verdict), IGGY_HEADER_ACCEPT);
    header.request = 1;
    assert_int_equal(check(&header, false, &verdict), IGGY_HEADER_DROP);
    header = request_make(IGGY_OPERATION_SEND_MESSAGES, 0);
    header.session = 0;
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_DROP);
    header = request_make(IGGY_OPERATION_LOGOUT, 0);
    header.request = 0;
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_DROP);
    /* NonReplicated may have session 0 (ping before login). */
    header = request_make(IGGY_OPERATION_NON_REPLICATED, IGGY_COMMAND_PING);
    header.session = 0;
    assert_int_equal(check(&header, false, &verdict), IGGY_HEADER_ACCEPT);
}

static void test_request_check_replies_and_evictions(void **state)
{
    (void)state;
    struct iggy_header_verdict verdict;
    uint8_t body[3] = {1, 2, 3};
    struct iggy_request_header header;
    iggy_header_request_init(&header, 7, 1, 1, IGGY_OPERATION_CREATE_STREAM, 0, body, 3, true);
    iggy_header_request_check(&header, body, 3, true, &verdict);
    assert_int_equal(verdict.action, IGGY_HEADER_ACCEPT);
    body[1] = 9;
    iggy_header_request_check(&header, body, 3, true, &verdict);
    assert_int_equal(verdict.action, IGGY_HEADER_REPLY);
    assert_int_equal(verdict.status, IGGY_ERROR_INVALID_FORMAT);
    header = request_make(IGGY_OPERATION_NON_REPLICATED, 38);
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_EVICT);
    assert_int_equal(verdict.reason, IGGY_EVICTION_MALFORMED_LOGIN);
    header = request_make(IGGY_OPERATION_NON_REPLICATED, IGGY_COMMAND_STATS);
    assert_int_equal(check(&header, false, &verdict), IGGY_HEADER_REPLY);
    assert_int_equal(verdict.status, IGGY_ERROR_UNAUTHENTICATED);
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_ACCEPT);
    header = request_make(IGGY_OPERATION_TRUNCATE_PARTITION, 0);
    assert_int_equal(check(&header, true, &verdict), IGGY_HEADER_EVICT);
    assert_int_equal(verdict.reason, IGGY_EVICTION_INVALID_REQUEST_OPERATION);
    header = request_make(IGGY_OPERATION_CREATE_TOPIC, 0);
    assert_int_equal(check(&header, false, &verdict), IGGY_HEADER_EVICT);
    assert_int_equal(verdict.reason, IGGY_EVICTION_NO_SESSION);
    header = request_make(IGGY_OPERATION_LOGOUT, 0);
    assert_int_equal(check(&header, false, &verdict), IGGY_HEADER_ACCEPT);
}

static void test_reply_and_eviction_headers(void **state)
{
    (void)state;
    struct iggy_request_header request = request_make(IGGY_OPERATION_NON_REPLICATED, 1);
    request.timestamp = 99;
    request.frame.cluster = 5;
    struct iggy_reply_header reply;
    iggy_header_reply_init(&reply, &request, IGGY_OPERATION_NON_REPLICATED, 0, 10);
    uint8_t bytes[IGGY_HEADER_SIZE];
    memcpy(bytes, &reply, sizeof(bytes));
    assert_int_equal(bytes[60], 8);
    assert_int_equal(bytes[48] | (bytes[49] << 8), 266);
    assert_int_equal(bytes[208], IGGY_OPERATION_NON_REPLICATED);
    assert_int_equal(bytes[192], 99);
    assert_int_equal(bytes[32], 5);
    struct iggy_reply_info info;
    assert_int_equal(iggy_header_reply_check(bytes, IGGY_FRAME_SIZE_MAX, &info), 0);
    assert_int_equal(info.command, IGGY_FRAME_REPLY);
    assert_int_equal(info.size, 266);
    bytes[208] = 150;
    assert_int_equal(iggy_header_reply_check(bytes, IGGY_FRAME_SIZE_MAX, &info), -RUNNEL_EFORMAT);
    iggy_header_reply_init(&reply, &request, IGGY_OPERATION_NON_REPLICATED, 41, 0);
    memcpy(bytes, &reply, sizeof(bytes));
    assert_int_equal(iggy_header_reply_check(bytes, IGGY_FRAME_SIZE_MAX, &info), 0);
    assert_int_equal(info.status, 41);
    bytes[48] = 1; /* a status with a body */
    assert_int_equal(iggy_header_reply_check(bytes, IGGY_FRAME_SIZE_MAX, &info), -RUNNEL_EFORMAT);
    struct iggy_eviction_header eviction;
    iggy_header_eviction_init(&eviction, 0x77, IGGY_EVICTION_INCOMPATIBLE_PROTOCOL);
    memcpy(bytes, &eviction, sizeof(bytes));
    assert_int_equal(bytes[255], 14);
    assert_int_equal(bytes[60], 13);
    assert_int_equal(bytes[144] | (bytes[145] << 8), 11264);
    assert_int_equal(iggy_header_reply_check(bytes, IGGY_FRAME_SIZE_MAX, &info), 0);
    assert_int_equal(iggy_header_eviction_error(info.reason, info.protocol_version_max,
                                                info.protocol_version_min),
                     IGGY_ERROR_INCOMPATIBLE_PROTOCOL_VERSION);
    bytes[48] = 1; /* an eviction with a body */
    assert_int_equal(iggy_header_reply_check(bytes, IGGY_FRAME_SIZE_MAX, &info), -RUNNEL_EFORMAT);
    bytes[60] = IGGY_FRAME_REQUEST;
    assert_int_equal(iggy_header_reply_check(bytes, IGGY_FRAME_SIZE_MAX, &info), -RUNNEL_EFORMAT);
}

static void test_eviction_errors(void **state)
{
    (void)state;
    const uint32_t expected[16] = {40, 40, 3, 3, 3, 3, 3, 40, 40, 42, 53, 40, 40, 30, 14003, 4};
    for (uint8_t reason = 0; reason < 16; reason++) {
        assert_int_equal(iggy_header_eviction_error(reason, 11264, 11264), expected[reason]);
    }
    assert_int_equal(iggy_header_eviction_error(14, 11264, 0), 40);
    assert_int_equal(iggy_header_eviction_error(14, 100, 200), 40);
    assert_int_equal(iggy_header_eviction_error(200, 0, 0), 40);
}

static void test_result_framing(void **state)
{
    (void)state;
    assert_true(iggy_header_is_result_framed(IGGY_OPERATION_CREATE_STREAM, 4));
    assert_true(iggy_header_is_result_framed(IGGY_OPERATION_TRUNCATE_PARTITION, 4));
    assert_false(iggy_header_is_result_framed(IGGY_OPERATION_DELETE_SEGMENTS, 4));
    assert_true(iggy_header_is_result_framed(IGGY_OPERATION_STORE_CONSUMER_OFFSET, 4));
    assert_false(iggy_header_is_result_framed(IGGY_OPERATION_SEND_MESSAGES, 24));
    assert_false(iggy_header_is_result_framed(IGGY_OPERATION_NON_REPLICATED, 4));
    assert_true(iggy_header_is_result_framed(IGGY_OPERATION_REGISTER, 30));
    assert_false(iggy_header_is_result_framed(IGGY_OPERATION_REGISTER, 0));
    assert_false(iggy_header_is_result_framed(IGGY_OPERATION_LOGOUT, 0));
    assert_string_equal(iggy_header_operation_name(132), "create_topic");
    assert_string_equal(iggy_header_operation_name(4), "unknown");
}

/* §2.3 worked example: Rust SDK, iggy/iggy, 41-byte body, frame size 297. */
static void test_register_worked_example(void **state)
{
    (void)state;
    static const uint8_t expected[41] = {0x00, 0x2C, 0x00, 0x00, 8,   'r', 'u', 's', 't', '-', 's',
                                         'd',  'k',  13,   '0',  '.', '1', '1', '.', '0', '-', 'e',
                                         'd',  'g',  'e',  '.',  '4', 4,   'i', 'g', 'g', 'y', 4,
                                         'i',  'g',  'g',  'y',  0,   0,   0,   0};
    struct iggy_register login;
    memset(&login, 0, sizeof(login));
    login.version.protocol_version = IGGY_PROTOCOL_VERSION;
    login.version.sdk_name = iggy_bytes_from_string("rust-sdk");
    login.version.sdk_version = iggy_bytes_from_string("0.11.0-edge.4");
    login.username = iggy_bytes_from_string("iggy");
    login.password = iggy_bytes_from_string("iggy");
    uint8_t body[64];
    struct iggy_writer writer;
    iggy_writer_init(&writer, body, sizeof(body));
    assert_int_equal(iggy_users_register_encode(&writer, &login, false), 0);
    assert_int_equal(writer.size, 41);
    assert_memory_equal(body, expected, 41);
    struct iggy_request_header header;
    iggy_header_request_init(&header, 0xABCDEF, 0, 0, IGGY_OPERATION_REGISTER, 0, body, 41, true);
    uint8_t bytes[IGGY_HEADER_SIZE];
    memcpy(bytes, &header, sizeof(bytes));
    assert_int_equal(bytes[48], 0x29);
    assert_int_equal(bytes[49], 0x01);
    assert_int_equal(bytes[60], 5);
    assert_int_equal(bytes[176], 1);
    assert_int_equal(bytes[128], 0xEF);
    struct iggy_header_verdict verdict;
    struct iggy_request_header read;
    iggy_header_request_read(bytes, &read);
    iggy_header_request_check(&read, body, 41, false, &verdict);
    assert_int_equal(verdict.action, IGGY_HEADER_ACCEPT);
    struct iggy_register decoded;
    assert_int_equal(iggy_users_register_decode(body, 41, &decoded), 0);
    assert_true(decoded.has_password_shape);
    assert_false(decoded.has_token_shape);
    assert_true(iggy_bytes_is_equal(decoded.username, login.username));
    assert_true(iggy_header_is_version_accepted(decoded.version.protocol_version));
}

static void test_command_table(void **state)
{
    (void)state;
    assert_int_equal(iggy_command_operation(IGGY_COMMAND_STREAM_CREATE), 128);
    assert_int_equal(iggy_command_operation(IGGY_COMMAND_LOGIN_REGISTER_WITH_PAT), 1);
    assert_int_equal(iggy_command_operation(IGGY_COMMAND_USER_LOGOUT), 3);
    assert_int_equal(iggy_command_operation(IGGY_COMMAND_MESSAGE_POLL), 2);
    assert_int_equal(iggy_command_operation(9999), 2);
    assert_int_equal(iggy_command_for_operation(160), IGGY_COMMAND_MESSAGE_SEND);
    assert_int_equal(iggy_command_for_operation(138), IGGY_COMMAND_SEGMENT_DELETE);
    assert_int_equal(iggy_command_for_operation(2), 0);
    assert_int_equal(iggy_command_for_operation(64), 0);
    assert_int_equal(iggy_command_class_of(9999), IGGY_COMMAND_UNKNOWN);
    assert_int_equal(iggy_command_class_of(202), IGGY_COMMAND_REPLICATED);
    assert_int_equal(iggy_command_class_of(102), IGGY_COMMAND_FEATURE_UNAVAILABLE);
    assert_int_equal(iggy_command_class_of(44), IGGY_COMMAND_LEGACY_LOGIN);
    assert_int_equal(iggy_command_class_of(40), IGGY_COMMAND_HANDLERLESS);
    assert_int_equal(iggy_command_class_of(606), IGGY_COMMAND_READ);
    assert_string_equal(iggy_command_name(302), "topic.create");
    /* Every replicated operation maps back to a code whose operation it is. */
    for (uint32_t operation = 1; operation < 256; operation++) {
        uint32_t code = iggy_command_for_operation((uint8_t)operation);
        if (code != 0) {
            assert_int_equal(iggy_command_operation(code), operation);
        }
    }
    assert_string_equal(iggy_error_name(1009), "stream_id_not_found");
    assert_string_equal(iggy_error_name(14003), "incompatible_protocol_version");
    assert_string_equal(iggy_error_name(12345), "unknown");
}

static void test_contract_asserts(void **state)
{
    (void)state;
    struct iggy_request_header header;
    expect_assert_failure(
        iggy_header_request_init(&header, 0, 1, 1, IGGY_OPERATION_LOGOUT, 0, NULL, 0, false));
    struct iggy_eviction_header eviction;
    expect_assert_failure(iggy_header_eviction_init(&eviction, 1, 0));
}

int main(void)
{
    helper_assert_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_check_values),
        cmocka_unit_test(test_frame_check_closes),
        cmocka_unit_test(test_request_check_drops),
        cmocka_unit_test(test_request_check_replies_and_evictions),
        cmocka_unit_test(test_reply_and_eviction_headers),
        cmocka_unit_test(test_eviction_errors),
        cmocka_unit_test(test_result_framing),
        cmocka_unit_test(test_register_worked_example),
        cmocka_unit_test(test_command_table),
        cmocka_unit_test(test_contract_asserts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
