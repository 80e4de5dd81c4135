/*
 * Iggy command codes (research/iggy-protocol.md §3.1): the u32 a client names a command
 * by, the operation it travels under (codes of replicated commands never reach the
 * wire: the operation identifies them), and how a server treats each one. Also the
 * request bodies that are nothing but identifiers ([stream], [stream][topic],
 * [stream][topic][group], [user]), which a dozen commands share.
 */
#ifndef RUNNEL_PROTO_IGGY_COMMAND_H
#define RUNNEL_PROTO_IGGY_COMMAND_H

#include "proto/iggy_wire.h"

#include <stdbool.h>
#include <stdint.h>

enum iggy_command_code {
    IGGY_COMMAND_PING = 1,
    IGGY_COMMAND_STATS = 10,
    IGGY_COMMAND_SNAPSHOT = 11,
    IGGY_COMMAND_CLUSTER_METADATA = 12,
    IGGY_COMMAND_OPTIONS_DESCRIBE = 13,
    IGGY_COMMAND_ME = 20,
    IGGY_COMMAND_CLIENT_GET = 21,
    IGGY_COMMAND_CLIENT_LIST = 22,
    IGGY_COMMAND_USER_GET = 31,
    IGGY_COMMAND_USER_LIST = 32,
    IGGY_COMMAND_USER_CREATE = 33,
    IGGY_COMMAND_USER_DELETE = 34,
    IGGY_COMMAND_USER_UPDATE = 35,
    IGGY_COMMAND_USER_PERMISSIONS = 36,
    IGGY_COMMAND_USER_PASSWORD = 37,
    IGGY_COMMAND_USER_LOGIN_LEGACY = 38,
    IGGY_COMMAND_USER_LOGOUT = 39,
    IGGY_COMMAND_LOGIN_REGISTER = 40,
    IGGY_COMMAND_PAT_LIST = 41,
    IGGY_COMMAND_PAT_CREATE = 42,
    IGGY_COMMAND_PAT_DELETE = 43,
    IGGY_COMMAND_PAT_LOGIN_LEGACY = 44,
    IGGY_COMMAND_LOGIN_REGISTER_WITH_PAT = 45,
    IGGY_COMMAND_MESSAGE_POLL = 100,
    IGGY_COMMAND_MESSAGE_SEND = 101,
    IGGY_COMMAND_MESSAGE_FLUSH = 102,
    IGGY_COMMAND_OFFSET_GET = 120,
    IGGY_COMMAND_OFFSET_STORE = 121,
    IGGY_COMMAND_OFFSET_DELETE = 122,
    IGGY_COMMAND_STREAM_GET = 200,
    IGGY_COMMAND_STREAM_LIST = 201,
    IGGY_COMMAND_STREAM_CREATE = 202,
    IGGY_COMMAND_STREAM_DELETE = 203,
    IGGY_COMMAND_STREAM_UPDATE = 204,
    IGGY_COMMAND_STREAM_PURGE = 205,
    IGGY_COMMAND_TOPIC_GET = 300,
    IGGY_COMMAND_TOPIC_LIST = 301,
    IGGY_COMMAND_TOPIC_CREATE = 302,
    IGGY_COMMAND_TOPIC_DELETE = 303,
    IGGY_COMMAND_TOPIC_UPDATE = 304,
    IGGY_COMMAND_TOPIC_PURGE = 305,
    IGGY_COMMAND_PARTITION_CREATE = 402,
    IGGY_COMMAND_PARTITION_DELETE = 403,
    IGGY_COMMAND_SEGMENT_DELETE = 503,
    IGGY_COMMAND_GROUP_GET = 600,
    IGGY_COMMAND_GROUP_LIST = 601,
    IGGY_COMMAND_GROUP_CREATE = 602,
    IGGY_COMMAND_GROUP_DELETE = 603,
    IGGY_COMMAND_GROUP_JOIN = 604,
    IGGY_COMMAND_GROUP_LEAVE = 605,
    IGGY_COMMAND_GROUP_SYNC = 606,
};

/* How a server answers a NonReplicated code (§1.7 step 12). */
enum iggy_command_class {
    IGGY_COMMAND_UNKNOWN = 0,         /* not a code: status 3 */
    IGGY_COMMAND_READ,                /* NonReplicated with a handler: dispatch */
    IGGY_COMMAND_REPLICATED,          /* sent as NonReplicated: status 5 */
    IGGY_COMMAND_HANDLERLESS,         /* 39, 40, 45 as NonReplicated: empty status-0 reply */
    IGGY_COMMAND_LEGACY_LOGIN,        /* 38, 44: eviction 15 */
    IGGY_COMMAND_FEATURE_UNAVAILABLE, /* 102 (flush): always status 5 */
};

/* The class of code when it arrives with operation NonReplicated. */
enum iggy_command_class iggy_command_class_of(uint32_t code);

/* The operation a client sends code under (the SDK's operation_for_code): the command's
 * own replicated operation, Register, Logout, or NonReplicated for everything else. */
uint8_t iggy_command_operation(uint32_t code);

/* The command code a replicated operation stands for (register answers 40), 0 for
 * NonReplicated and for operations no client sends. */
uint32_t iggy_command_for_operation(uint8_t operation);

/* Iggy's dotted name ("stream.create"), "unknown" otherwise. */
const char *iggy_command_name(uint32_t code);

/*
 * Decodes a body made of exactly id_count identifiers (1..3) into ids[0..id_count).
 * Codes 31, 34, 200, 203, 205 ([id]); 300, 303, 305, 601 ([stream][topic]);
 * 600, 603, 604, 605, 606 ([stream][topic][group]). Returns 0, -RUNNEL_ETRUNCATED or
 * -RUNNEL_EFORMAT (bad identifier or trailing bytes). Names point into body.
 */
int iggy_command_identifiers_decode(const uint8_t *body, uint32_t body_size, uint32_t id_count,
                                    struct iggy_identifier *ids);

/* Appends id_count identifiers; returns 0 or -RUNNEL_ETOOLARGE (writer->error). */
int iggy_command_identifiers_encode(struct iggy_writer *writer, uint32_t id_count,
                                    const struct iggy_identifier *ids);

#endif
