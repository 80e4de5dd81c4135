/*
 * libFuzzer harness: Iggy frame headers (proto/iggy_header). The input is a frame:
 * 256 header bytes then a body. Runs the server's checks (frame size/command, the §1.7
 * request verdict, bound and unbound) and the client's reply check; every verdict must
 * be one of the documented actions, with a status or reason exactly when it needs one.
 */
#include "lib/assert.h"
#include "proto/iggy_header.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_verdict_check(const struct iggy_header_verdict *verdict)
{
    assert(verdict != NULL);
    switch (verdict->action) {
    case IGGY_HEADER_ACCEPT:
        assert(verdict->why == NULL && verdict->status == 0 && verdict->reason == 0);
        break;
    case IGGY_HEADER_DROP:
        assert(verdict->why != NULL);
        break;
    case IGGY_HEADER_REPLY:
        assert(verdict->status != 0);
        break;
    case IGGY_HEADER_EVICT:
        assert(verdict->reason >= IGGY_EVICTION_NO_SESSION &&
               verdict->reason <= IGGY_EVICTION_MALFORMED_LOGIN);
        break;
    default:
        unreachable_code();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < IGGY_HEADER_SIZE || size > IGGY_FRAME_SIZE_MAX) {
        return 0;
    }
    uint32_t frame_size = 0;
    struct iggy_reply_info info;
    if (iggy_header_reply_check(data, IGGY_FRAME_SIZE_MAX, &info) == 0) {
        assert(info.command == IGGY_FRAME_REPLY || info.command == IGGY_FRAME_EVICTION);
        (void)iggy_header_eviction_error(info.reason, info.protocol_version_max,
                                         info.protocol_version_min);
    }
    if (iggy_header_frame_check(data, IGGY_FRAME_SIZE_MAX, &frame_size) != 0) {
        return 0;
    }
    assert(frame_size >= IGGY_HEADER_SIZE);
    /* The body is what follows the header in the input, up to the declared size. */
    uint32_t body_size = (uint32_t)(size - IGGY_HEADER_SIZE);
    if (frame_size - IGGY_HEADER_SIZE < body_size) {
        body_size = frame_size - IGGY_HEADER_SIZE;
    }
    struct iggy_request_header header;
    iggy_header_request_read(data, &header);
    struct iggy_header_verdict verdict;
    for (int bound = 0; bound < 2; bound++) {
        iggy_header_request_check(&header, data + IGGY_HEADER_SIZE, body_size, bound == 1,
                                  &verdict);
        fuzz_verdict_check(&verdict);
    }
    if (verdict.action == IGGY_HEADER_ACCEPT) {
        struct iggy_reply_header reply;
        iggy_header_reply_init(&reply, &header, header.operation, 0, 0);
        assert(reply.frame.size == IGGY_HEADER_SIZE);
        assert(iggy_header_reply_check((const uint8_t *)&reply, IGGY_FRAME_SIZE_MAX, &info) == 0);
    }
    return 0;
}
