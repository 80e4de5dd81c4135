/* Names of Iggy's error codes for logs and tests; pure table lookup, any thread. */
#include "proto/iggy_error.h"

#include "lib/assert.h"

#include <stddef.h>

struct iggy_error_entry {
    uint32_t code;
    const char *name;
};

static const struct iggy_error_entry iggy_error_entries[] = {
    {IGGY_ERROR_OK, "ok"},
    {IGGY_ERROR_ERROR, "error"},
    {IGGY_ERROR_INVALID_CONFIGURATION, "invalid_configuration"},
    {IGGY_ERROR_INVALID_COMMAND, "invalid_command"},
    {IGGY_ERROR_INVALID_FORMAT, "invalid_format"},
    {IGGY_ERROR_FEATURE_UNAVAILABLE, "feature_unavailable"},
    {IGGY_ERROR_INVALID_IDENTIFIER, "invalid_identifier"},
    {IGGY_ERROR_INVALID_VERSION, "invalid_version"},
    {IGGY_ERROR_DISCONNECTED, "disconnected"},
    {IGGY_ERROR_RESOURCE_NOT_FOUND, "resource_not_found"},
    {IGGY_ERROR_STALE_CLIENT, "stale_client"},
    {IGGY_ERROR_UNAUTHENTICATED, "unauthenticated"},
    {IGGY_ERROR_UNAUTHORIZED, "unauthorized"},
    {IGGY_ERROR_INVALID_CREDENTIALS, "invalid_credentials"},
    {IGGY_ERROR_INVALID_USERNAME, "invalid_username"},
    {IGGY_ERROR_USER_ALREADY_EXISTS, "user_already_exists"},
    {IGGY_ERROR_USER_INACTIVE, "user_inactive"},
    {IGGY_ERROR_CANNOT_DELETE_USER, "cannot_delete_user"},
    {IGGY_ERROR_CANNOT_CHANGE_PERMISSIONS, "cannot_change_permissions"},
    {IGGY_ERROR_PERSONAL_ACCESS_TOKEN_ALREADY_EXISTS, "personal_access_token_already_exists"},
    {IGGY_ERROR_PERSONAL_ACCESS_TOKENS_LIMIT_REACHED, "personal_access_tokens_limit_reached"},
    {IGGY_ERROR_INVALID_PERSONAL_ACCESS_TOKEN, "invalid_personal_access_token"},
    {IGGY_ERROR_INVALID_PERSONAL_ACCESS_TOKEN_EXPIRY, "invalid_personal_access_token_expiry"},
    {IGGY_ERROR_TRANSIENT_NOT_COMMITTED, "transient_not_committed"},
    {IGGY_ERROR_TRANSIENT_NOT_ACCEPTED, "transient_not_accepted"},
    {IGGY_ERROR_REQUEST_ALREADY_APPLIED, "request_already_applied"},
    {IGGY_ERROR_STREAM_ID_NOT_FOUND, "stream_id_not_found"},
    {IGGY_ERROR_STREAM_NAME_ALREADY_EXISTS, "stream_name_already_exists"},
    {IGGY_ERROR_INVALID_TOPIC_SIZE, "invalid_topic_size"},
    {IGGY_ERROR_TOO_MANY_STREAMS, "too_many_streams"},
    {IGGY_ERROR_TOPIC_ID_NOT_FOUND, "topic_id_not_found"},
    {IGGY_ERROR_TOPIC_NAME_ALREADY_EXISTS, "topic_name_already_exists"},
    {IGGY_ERROR_TOO_MANY_PARTITIONS, "too_many_partitions"},
    {IGGY_ERROR_INVALID_PARTITIONS_COUNT, "invalid_partitions_count"},
    {IGGY_ERROR_TOO_MANY_TOPICS, "too_many_topics"},
    {IGGY_ERROR_PARTITION_NOT_FOUND, "partition_not_found"},
    {IGGY_ERROR_PARTITION_ID_SPACE_EXHAUSTED, "partition_id_space_exhausted"},
    {IGGY_ERROR_CONSUMER_OFFSET_NOT_FOUND, "consumer_offset_not_found"},
    {IGGY_ERROR_INVALID_MESSAGE_CHECKSUM, "invalid_message_checksum"},
    {IGGY_ERROR_INVALID_MESSAGE_TIMESTAMP_DELTA, "invalid_message_timestamp_delta"},
    {IGGY_ERROR_INVALID_BATCH_CHECKSUM, "invalid_batch_checksum"},
    {IGGY_ERROR_UNSUPPORTED_OPTION_KEY, "unsupported_option_key"},
    {IGGY_ERROR_INVALID_OPTION_VALUE, "invalid_option_value"},
    {IGGY_ERROR_OPTIONS_BLOCK_TOO_LARGE, "options_block_too_large"},
    {IGGY_ERROR_INVALID_OFFSET, "invalid_offset"},
    {IGGY_ERROR_CONSUMER_GROUP_ID_NOT_FOUND, "consumer_group_id_not_found"},
    {IGGY_ERROR_CONSUMER_GROUP_NAME_ALREADY_EXISTS, "consumer_group_name_already_exists"},
    {IGGY_ERROR_CONSUMER_GROUP_MEMBER_NOT_FOUND, "consumer_group_member_not_found"},
    {IGGY_ERROR_CONSUMER_GROUP_PARTITION_NOT_OWNED, "consumer_group_partition_not_owned"},
    {IGGY_ERROR_SNAPSHOT_FILE_COMPLETION_FAILED, "snapshot_file_completion_failed"},
    {IGGY_ERROR_ALREADY_AUTHENTICATED, "already_authenticated"},
    {IGGY_ERROR_INVALID_SESSION, "invalid_session"},
    {IGGY_ERROR_INCOMPATIBLE_PROTOCOL_VERSION, "incompatible_protocol_version"},
};

const char *iggy_error_name(uint32_t code)
{
    size_t count = sizeof(iggy_error_entries) / sizeof(iggy_error_entries[0]);
    assert(count > 0);
    for (size_t index = 0; index < count; index++) {
        assert(index == 0 || iggy_error_entries[index - 1].code < iggy_error_entries[index].code);
        if (iggy_error_entries[index].code == code) {
            return iggy_error_entries[index].name;
        }
    }
    return "unknown";
}
