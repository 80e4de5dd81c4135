#include "tests/unit/helper_metadata.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

uint32_t helper_metadata_apply(struct metadata *metadata,
                               const struct metadata_apply_context *context,
                               const Runnel__Metadata__MetadataOperation *operation, uint8_t *reply,
                               uint32_t *reply_size)
{
    static uint8_t body[METADATA_OP_BODY_SIZE_MAX];
    size_t size = runnel__metadata__metadata_operation__pack(operation, body);
    assert_int_equal(metadata_apply(metadata, context, body, (uint32_t)size, reply,
                                    METADATA_REPLY_SIZE_MAX, reply_size),
                     0);
    int64_t status = metadata_reply_status(reply, *reply_size);
    assert_true(status >= 0);
    return (uint32_t)status;
}

size_t helper_metadata_snapshot(struct metadata *metadata, uint8_t **bytes_out)
{
    size_t capacity = metadata_snapshot_size_max(metadata);
    uint8_t *bytes = malloc(capacity);
    assert_non_null(bytes);
    size_t size = 0;
    assert_int_equal(metadata_snapshot_encode(metadata, bytes, capacity, &size), 0);
    *bytes_out = bytes;
    return size;
}
