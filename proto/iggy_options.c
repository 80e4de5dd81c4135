/*
 * Iggy's topic option catalog: value parsing with Iggy's accepted forms and errors,
 * resolution to defaults, admission checks, canonical explicit/derived blocks and the
 * options.describe catalog. Pure functions over caller memory; any shard.
 */
#include "proto/iggy_options.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "proto/iggy_error.h"

#include <string.h>

static const char *const iggy_topic_option_keys[IGGY_TOPIC_OPTION_COUNT] = {
    [IGGY_TOPIC_OPTION_COMPRESSION] = "compression_algorithm",
    [IGGY_TOPIC_OPTION_MESSAGE_EXPIRY] = "message_expiry",
    [IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE] = "max_topic_size",
    [IGGY_TOPIC_OPTION_SEGMENT_SIZE] = "segment_size",
    [IGGY_TOPIC_OPTION_ENFORCE_FSYNC] = "enforce_fsync",
    [IGGY_TOPIC_OPTION_MESSAGES_REQUIRED_TO_SAVE] = "messages_required_to_save",
    [IGGY_TOPIC_OPTION_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE] = "size_of_messages_required_to_save",
    [IGGY_TOPIC_OPTION_PREALLOCATE_SEGMENTS] = "preallocate_segments",
};

/* Iggy's encoding order: keys sorted by their bytes (a BTreeMap of string keys). */
static const uint8_t iggy_topic_option_order[IGGY_TOPIC_OPTION_COUNT] = {
    IGGY_TOPIC_OPTION_COMPRESSION,
    IGGY_TOPIC_OPTION_ENFORCE_FSYNC,
    IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE,
    IGGY_TOPIC_OPTION_MESSAGE_EXPIRY,
    IGGY_TOPIC_OPTION_MESSAGES_REQUIRED_TO_SAVE,
    IGGY_TOPIC_OPTION_PREALLOCATE_SEGMENTS,
    IGGY_TOPIC_OPTION_SEGMENT_SIZE,
    IGGY_TOPIC_OPTION_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE,
};

const char *iggy_options_topic_key(enum iggy_topic_option option)
{
    assert(option < IGGY_TOPIC_OPTION_COUNT);
    assert(iggy_topic_option_keys[option] != NULL);
    return iggy_topic_option_keys[option];
}

static bool iggy_options_text_is(struct iggy_bytes value, const char *text)
{
    assert(text != NULL);
    return iggy_bytes_is_equal(value, iggy_bytes_from_string(text));
}

static uint64_t iggy_options_load(struct iggy_bytes value)
{
    assert(value.size <= 8);
    uint64_t result = 0;
    for (uint32_t index = 0; index < value.size; index++) {
        result |= (uint64_t)value.bytes[index] << (8 * index);
    }
    return result;
}

/* Reads decimal digits at text[*index..]; false when there are none or on overflow. */
static bool iggy_options_digits(struct iggy_bytes text, uint32_t *index, uint64_t *value_out)
{
    assert(index != NULL && value_out != NULL);
    uint32_t start = *index;
    uint64_t value = 0;
    while (*index < text.size && text.bytes[*index] >= '0' && text.bytes[*index] <= '9') {
        uint64_t digit = (uint64_t)(text.bytes[*index] - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            return false;
        }
        value = value * 10 + digit;
        (*index)++;
    }
    *value_out = value;
    return *index > start;
}

/* Rust's integer from_str: an optional '+', then only digits. */
static bool iggy_options_decimal(struct iggy_bytes text, uint64_t *value_out)
{
    assert(value_out != NULL);
    uint32_t index = text.size > 0 && text.bytes[0] == '+' ? 1 : 0;
    return iggy_options_digits(text, &index, value_out) && index == text.size;
}

static bool iggy_options_unit_is(struct iggy_bytes unit, const char *name, bool ignore_case)
{
    size_t size = strlen(name);
    if (unit.size != size) {
        return false;
    }
    for (uint32_t index = 0; index < unit.size; index++) {
        uint8_t left = unit.bytes[index];
        uint8_t right = (uint8_t)name[index];
        if (ignore_case && left >= 'A' && left <= 'Z') {
            left = (uint8_t)(left - 'A' + 'a');
        }
        if (left != right) {
            return false;
        }
    }
    return true;
}

/* Byte-unit multiplier for an SI ("kb") or IEC ("kib") unit, case-insensitive; 0 if none. */
static uint64_t iggy_options_byte_unit(struct iggy_bytes unit)
{
    static const char *const si[] = {"k", "m", "g", "t", "p", "e"};
    static const char *const si_b[] = {"kb", "mb", "gb", "tb", "pb", "eb"};
    static const char *const iec[] = {"ki", "mi", "gi", "ti", "pi", "ei"};
    static const char *const iec_b[] = {"kib", "mib", "gib", "tib", "pib", "eib"};
    if (unit.size == 0 || iggy_options_unit_is(unit, "b", true)) {
        return 1;
    }
    uint64_t decimal = 1;
    for (uint32_t power = 0; power < 6; power++) {
        decimal *= 1000;
        if (iggy_options_unit_is(unit, si[power], true) ||
            iggy_options_unit_is(unit, si_b[power], true)) {
            return decimal;
        }
        if (iggy_options_unit_is(unit, iec[power], true) ||
            iggy_options_unit_is(unit, iec_b[power], true)) {
            return 1ULL << (10 * (power + 1));
        }
    }
    return 0;
}

/* IggyByteSize::from_str: "0", "unlimited", "none" (and capitalised) are 0; otherwise an
 * integer, optional spaces and an optional unit. */
static bool iggy_options_byte_size(struct iggy_bytes text, uint64_t *bytes_out)
{
    assert(bytes_out != NULL);
    static const char *const zero_words[] = {"0", "unlimited", "Unlimited", "none", "None"};
    for (uint32_t index = 0; index < 5; index++) {
        if (iggy_options_text_is(text, zero_words[index])) {
            *bytes_out = 0;
            return true;
        }
    }
    uint32_t index = 0;
    uint64_t count = 0;
    if (!iggy_options_digits(text, &index, &count)) {
        return false;
    }
    while (index < text.size && text.bytes[index] == ' ') {
        index++;
    }
    struct iggy_bytes unit = {text.bytes + index, text.size - index};
    uint64_t multiplier = iggy_options_byte_unit(unit);
    if (multiplier == 0 || (count > 0 && multiplier > UINT64_MAX / count)) {
        return false;
    }
    *bytes_out = count * multiplier;
    return true;
}

/* Seconds per humantime unit (0: not a unit); nanos_out gets sub-second units. */
static uint64_t iggy_options_time_unit(struct iggy_bytes unit, uint64_t *nanos_out)
{
    static const struct {
        const char *name;
        uint64_t seconds;
        uint64_t nanos;
    } units[] = {
        {"nanos", 0, 1},       {"nsec", 0, 1},     {"ns", 0, 1},
        {"usec", 0, 1000},     {"us", 0, 1000},    {"millis", 0, 1000000},
        {"msec", 0, 1000000},  {"ms", 0, 1000000}, {"seconds", 1, 0},
        {"second", 1, 0},      {"secs", 1, 0},     {"sec", 1, 0},
        {"s", 1, 0},           {"minutes", 60, 0}, {"minute", 60, 0},
        {"mins", 60, 0},       {"min", 60, 0},     {"m", 60, 0},
        {"hours", 3600, 0},    {"hour", 3600, 0},  {"hrs", 3600, 0},
        {"hr", 3600, 0},       {"h", 3600, 0},     {"days", 86400, 0},
        {"day", 86400, 0},     {"d", 86400, 0},    {"weeks", 604800, 0},
        {"week", 604800, 0},   {"w", 604800, 0},   {"months", 2630016, 0},
        {"month", 2630016, 0}, {"M", 2630016, 0},  {"years", 31557600, 0},
        {"year", 31557600, 0}, {"y", 31557600, 0},
    };
    assert(nanos_out != NULL);
    for (uint32_t index = 0; index < sizeof(units) / sizeof(units[0]); index++) {
        if (iggy_options_unit_is(unit, units[index].name, false)) {
            *nanos_out = units[index].nanos;
            return units[index].seconds;
        }
    }
    *nanos_out = 0;
    return 0;
}

/* A humantime duration ("7 days", "1h 30m") in µs, at most u32::MAX seconds. */
static bool iggy_options_duration(struct iggy_bytes text, uint64_t *micros_out)
{
    assert(micros_out != NULL);
    uint64_t seconds = 0;
    uint64_t nanos = 0;
    uint32_t index = 0;
    uint32_t items = 0;
    while (index < text.size) { /* each turn consumes at least one digit */
        while (index < text.size && text.bytes[index] == ' ') {
            index++;
        }
        uint64_t count = 0;
        if (!iggy_options_digits(text, &index, &count) || count > UINT32_MAX) {
            return false;
        }
        while (index < text.size && text.bytes[index] == ' ') {
            index++;
        }
        uint32_t unit_start = index;
        while (index < text.size &&
               ((text.bytes[index] | 0x20) >= 'a' && (text.bytes[index] | 0x20) <= 'z')) {
            index++;
        }
        struct iggy_bytes unit = {text.bytes + unit_start, index - unit_start};
        uint64_t unit_nanos = 0;
        uint64_t unit_seconds = iggy_options_time_unit(unit, &unit_nanos);
        if (unit_seconds == 0 && unit_nanos == 0) {
            return false;
        }
        seconds += count * unit_seconds;
        nanos += count * unit_nanos;
        if (seconds + nanos / 1000000000 > UINT32_MAX) {
            return false;
        }
        items++;
        while (index < text.size && text.bytes[index] == ' ') {
            index++;
        }
    }
    *micros_out = seconds * 1000000 + nanos / 1000;
    return items > 0;
}

/* Uint64 (exactly 8 bytes) or a String through text_parse. */
static bool iggy_options_u64(const struct iggy_tlv_pair *pair,
                             bool (*text_parse)(struct iggy_bytes, uint64_t *), uint64_t *out)
{
    assert(pair != NULL && out != NULL);
    if (pair->value_kind == IGGY_TLV_UINT64 && pair->value.size == 8) {
        *out = iggy_options_load(pair->value);
        return true;
    }
    return pair->value_kind == IGGY_TLV_STRING && text_parse(pair->value, out);
}

/* IggyExpiry::from_str, then IggyExpiry::from(u64): 0 default, UINT64_MAX never. */
static bool iggy_options_expiry_text(struct iggy_bytes text, uint64_t *out)
{
    static const char *const never[] = {"unlimited", "none", "None", "Unlimited", "never_expire"};
    static const char *const server[] = {"default", "server_default", "Default", "Server_default"};
    assert(out != NULL);
    for (uint32_t index = 0; index < 5; index++) {
        if (iggy_options_text_is(text, never[index])) {
            *out = UINT64_MAX;
            return true;
        }
    }
    for (uint32_t index = 0; index < 4; index++) {
        if (iggy_options_text_is(text, server[index])) {
            *out = 0;
            return true;
        }
    }
    return iggy_options_duration(text, out);
}

/* MaxTopicSize::from_str: "unlimited" is UINT64_MAX; "0"/"server_default" 0; else bytes. */
static bool iggy_options_topic_size_text(struct iggy_bytes text, uint64_t *out)
{
    assert(out != NULL);
    if (iggy_options_text_is(text, "unlimited")) {
        *out = UINT64_MAX;
        return true;
    }
    if (iggy_options_text_is(text, "server_default")) {
        *out = 0;
        return true;
    }
    return iggy_options_byte_size(text, out);
}

static bool iggy_options_bool(const struct iggy_tlv_pair *pair, bool *out)
{
    assert(pair != NULL && out != NULL);
    if (pair->value_kind == IGGY_TLV_BOOL) {
        *out = pair->value.size == 1 && pair->value.bytes[0] == 1;
        return pair->value.size == 1 && pair->value.bytes[0] <= 1;
    }
    if (pair->value_kind != IGGY_TLV_STRING) {
        return false;
    }
    *out = iggy_options_text_is(pair->value, "true");
    return *out || iggy_options_text_is(pair->value, "false");
}

static bool iggy_options_compression(const struct iggy_tlv_pair *pair, uint8_t *out)
{
    assert(pair != NULL && out != NULL);
    if (pair->value_kind == IGGY_TLV_UINT8) {
        *out = pair->value.size == 1 ? pair->value.bytes[0] : 0;
        return *out == IGGY_COMPRESSION_NONE || *out == IGGY_COMPRESSION_GZIP;
    }
    if (pair->value_kind != IGGY_TLV_STRING) {
        return false;
    }
    if (iggy_options_unit_is(pair->value, "none", true)) {
        *out = IGGY_COMPRESSION_NONE;
        return true;
    }
    *out = IGGY_COMPRESSION_GZIP;
    return iggy_options_unit_is(pair->value, "gzip", true);
}

static bool iggy_options_messages_to_save(const struct iggy_tlv_pair *pair, uint32_t *out)
{
    assert(pair != NULL && out != NULL);
    uint64_t value = 0;
    if (pair->value_kind == IGGY_TLV_UINT32 && pair->value.size == 4) {
        value = iggy_options_load(pair->value);
    } else if (pair->value_kind != IGGY_TLV_STRING || !iggy_options_decimal(pair->value, &value) ||
               value > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)value;
    return value >= 1 && value <= IGGY_TOPIC_MESSAGES_TO_SAVE_MAX;
}

/* Parses one key's value into options; false means 4042. A zero "server default" value
 * leaves the key absent. */
static bool iggy_options_absorb(enum iggy_topic_option option, const struct iggy_tlv_pair *pair,
                                struct iggy_topic_options *options)
{
    assert(option < IGGY_TOPIC_OPTION_COUNT);
    assert(pair != NULL && options != NULL);
    uint64_t value = 0;
    bool is_valid = false;
    bool is_set = true;
    switch (option) {
    case IGGY_TOPIC_OPTION_COMPRESSION:
        is_valid = iggy_options_compression(pair, &options->compression);
        break;
    case IGGY_TOPIC_OPTION_MESSAGE_EXPIRY:
        is_valid = iggy_options_u64(pair, iggy_options_expiry_text, &value);
        options->message_expiry_us = value;
        is_set = value != 0;
        break;
    case IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE:
        is_valid = iggy_options_u64(pair, iggy_options_topic_size_text, &value);
        options->max_topic_size_bytes = value;
        is_set = value != 0;
        break;
    case IGGY_TOPIC_OPTION_SEGMENT_SIZE:
        is_valid = iggy_options_u64(pair, iggy_options_byte_size, &value);
        options->segment_size_bytes = value;
        is_set = value != 0;
        break;
    case IGGY_TOPIC_OPTION_ENFORCE_FSYNC:
        is_valid = iggy_options_bool(pair, &options->enforce_fsync);
        break;
    case IGGY_TOPIC_OPTION_MESSAGES_REQUIRED_TO_SAVE:
        is_valid = iggy_options_messages_to_save(pair, &options->messages_required_to_save);
        break;
    case IGGY_TOPIC_OPTION_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE:
        is_valid = iggy_options_u64(pair, iggy_options_byte_size, &value) &&
                   value <= IGGY_TOPIC_BYTES_TO_SAVE_MAX;
        options->size_of_messages_required_to_save_bytes = value;
        is_set = value != 0;
        break;
    default:
        is_valid = iggy_options_bool(pair, &options->preallocate_segments);
        break;
    }
    if (is_valid && is_set) {
        options->present |= 1u << option;
    } else if (is_valid) {
        options->present &= ~(1u << option);
    }
    return is_valid;
}

uint32_t iggy_options_topic_parse(struct iggy_bytes block, bool is_update,
                                  struct iggy_topic_options *out)
{
    assert(out != NULL);
    assert(iggy_wire_tlv_validate(block, true, NULL) == 0);
    memset(out, 0, sizeof(*out));
    struct iggy_reader reader;
    iggy_reader_init(&reader, block.bytes, block.size);
    struct iggy_tlv_pair pair;
    while (iggy_wire_tlv_next(&reader, &pair)) { /* bounded by the block */
        uint32_t option = 0;
        while (option < IGGY_TOPIC_OPTION_COUNT &&
               !iggy_options_text_is(pair.key, iggy_topic_option_keys[option])) {
            option++;
        }
        if (option == IGGY_TOPIC_OPTION_COUNT ||
            (is_update && option > IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE)) {
            return IGGY_ERROR_UNSUPPORTED_OPTION_KEY;
        }
        if (!iggy_options_absorb((enum iggy_topic_option)option, &pair, out)) {
            return IGGY_ERROR_INVALID_OPTION_VALUE;
        }
    }
    return 0;
}

void iggy_options_topic_resolve(struct iggy_topic_options *options)
{
    assert(options != NULL);
    assert(options->present < (1u << IGGY_TOPIC_OPTION_COUNT));
    uint32_t present = options->present;
    if (!(present & (1u << IGGY_TOPIC_OPTION_COMPRESSION))) {
        options->compression = IGGY_COMPRESSION_NONE;
    }
    if (!(present & (1u << IGGY_TOPIC_OPTION_MESSAGE_EXPIRY))) {
        options->message_expiry_us = UINT64_MAX;
    }
    if (!(present & (1u << IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE))) {
        options->max_topic_size_bytes = UINT64_MAX;
    }
    if (!(present & (1u << IGGY_TOPIC_OPTION_SEGMENT_SIZE))) {
        options->segment_size_bytes = IGGY_TOPIC_SEGMENT_SIZE_DEFAULT;
    }
    if (!(present & (1u << IGGY_TOPIC_OPTION_ENFORCE_FSYNC))) {
        options->enforce_fsync = false;
    }
    if (!(present & (1u << IGGY_TOPIC_OPTION_MESSAGES_REQUIRED_TO_SAVE))) {
        options->messages_required_to_save = IGGY_TOPIC_MESSAGES_TO_SAVE_DEFAULT;
    }
    if (!(present & (1u << IGGY_TOPIC_OPTION_SIZE_OF_MESSAGES_REQUIRED_TO_SAVE))) {
        options->size_of_messages_required_to_save_bytes = IGGY_TOPIC_BYTES_TO_SAVE_DEFAULT;
    }
    if (!(present & (1u << IGGY_TOPIC_OPTION_PREALLOCATE_SEGMENTS))) {
        options->preallocate_segments = false;
    }
}

uint32_t iggy_options_topic_check(const struct iggy_topic_options *resolved,
                                  uint32_t partition_count)
{
    assert(resolved != NULL);
    uint64_t segment = resolved->segment_size_bytes;
    assert(segment != 0);
    if (segment < IGGY_TOPIC_SEGMENT_SIZE_MIN || segment > IGGY_TOPIC_SEGMENT_SIZE_MAX ||
        segment % 512 != 0) {
        return IGGY_ERROR_INVALID_OPTION_VALUE;
    }
    if (resolved->max_topic_size_bytes < segment) {
        return IGGY_ERROR_INVALID_TOPIC_SIZE;
    }
    if (resolved->preallocate_segments &&
        segment * (uint64_t)partition_count > IGGY_TOPIC_PREALLOCATED_BYTES_MAX) {
        return IGGY_ERROR_INVALID_OPTION_VALUE;
    }
    return 0;
}

/* The canonical TLV value of one option (kind + little-endian bytes into storage). */
static struct iggy_tlv_pair iggy_options_pair(enum iggy_topic_option option,
                                              const struct iggy_topic_options *options,
                                              uint8_t storage[8])
{
    assert(option < IGGY_TOPIC_OPTION_COUNT);
    assert(storage != NULL);
    struct iggy_tlv_pair pair;
    pair.key_kind = IGGY_TLV_STRING;
    pair.key = iggy_bytes_from_string(iggy_topic_option_keys[option]);
    uint64_t value = 0;
    pair.value_kind = IGGY_TLV_UINT64;
    pair.value.bytes = storage;
    pair.value.size = 8;
    if (option == IGGY_TOPIC_OPTION_COMPRESSION) {
        pair.value_kind = IGGY_TLV_STRING;
        pair.value =
            iggy_bytes_from_string(options->compression == IGGY_COMPRESSION_GZIP ? "gzip" : "none");
        return pair;
    }
    if (option == IGGY_TOPIC_OPTION_ENFORCE_FSYNC ||
        option == IGGY_TOPIC_OPTION_PREALLOCATE_SEGMENTS) {
        pair.value_kind = IGGY_TLV_BOOL;
        pair.value.size = 1;
        value = option == IGGY_TOPIC_OPTION_ENFORCE_FSYNC ? options->enforce_fsync
                                                          : options->preallocate_segments;
    } else if (option == IGGY_TOPIC_OPTION_MESSAGES_REQUIRED_TO_SAVE) {
        pair.value_kind = IGGY_TLV_UINT32;
        pair.value.size = 4;
        value = options->messages_required_to_save;
    } else if (option == IGGY_TOPIC_OPTION_MESSAGE_EXPIRY) {
        value = options->message_expiry_us;
    } else if (option == IGGY_TOPIC_OPTION_MAX_TOPIC_SIZE) {
        value = options->max_topic_size_bytes;
    } else if (option == IGGY_TOPIC_OPTION_SEGMENT_SIZE) {
        value = options->segment_size_bytes;
    } else {
        value = options->size_of_messages_required_to_save_bytes;
    }
    for (uint32_t index = 0; index < 8; index++) {
        storage[index] = (uint8_t)(value >> (8 * index));
    }
    return pair;
}

int iggy_options_topic_encode(struct iggy_writer *writer, const struct iggy_topic_options *options,
                              bool derived)
{
    assert(writer != NULL);
    assert(options != NULL && options->present < (1u << IGGY_TOPIC_OPTION_COUNT));
    for (uint32_t index = 0; index < IGGY_TOPIC_OPTION_COUNT; index++) {
        enum iggy_topic_option option = (enum iggy_topic_option)iggy_topic_option_order[index];
        bool is_present = (options->present & (1u << option)) != 0;
        if (is_present == derived) {
            continue;
        }
        uint8_t storage[8];
        struct iggy_tlv_pair pair = iggy_options_pair(option, options, storage);
        iggy_wire_tlv_encode(writer, &pair);
    }
    return writer->error;
}

int iggy_options_describe_encode(struct iggy_writer *writer, uint8_t scope)
{
    static const char *const descriptions[IGGY_TOPIC_OPTION_COUNT] = {
        "compression applied to stored messages: none or gzip",
        "how long messages are kept, in microseconds; u64::MAX never expires",
        "largest size of the topic in bytes; u64::MAX is unlimited",
        "size of one partition segment in bytes (1 MiB to 1 GiB, a multiple of 512)",
        "flush every append to disk before acknowledging it",
        "messages buffered before a flush",
        "bytes buffered before a flush",
        "reserve each segment's disk space when it is created",
    };
    assert(writer != NULL);
    if (scope < 1 || scope > 3) {
        return -RUNNEL_EFORMAT;
    }
    iggy_writer_u32(writer, scope == 1 ? IGGY_TOPIC_OPTION_COUNT : 0);
    struct iggy_topic_options defaults;
    memset(&defaults, 0, sizeof(defaults));
    iggy_options_topic_resolve(&defaults);
    for (uint32_t option = 0; scope == 1 && option < IGGY_TOPIC_OPTION_COUNT; option++) {
        uint8_t storage[8];
        struct iggy_tlv_pair pair =
            iggy_options_pair((enum iggy_topic_option)option, &defaults, storage);
        iggy_wire_name_encode(writer, pair.key);
        iggy_writer_u8(writer, pair.value_kind);
        iggy_wire_string32_encode(writer, pair.value);
        iggy_wire_string32_encode(writer, iggy_bytes_from_string(descriptions[option]));
    }
    return writer->error;
}
