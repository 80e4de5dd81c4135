/*
 * Records and index entries of the partition log: validation of untrusted bytes read
 * from a segment or an index, padding records, entry sealing. Pure; owns nothing; runs on
 * the shard that owns the partition (or shard 0 for the metadata journal).
 */
#include "storage/record.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <string.h>
#include <xxhash.h>

bool record_is_chained(const struct vsr_header *header)
{
    assert(header != NULL);
    assert(header->command == VSR_COMMAND_PREPARE);
    return header->u.prepare.operation != VSR_OPERATION_PADDING;
}

static int record_header_check(const struct vsr_header *header, uint32_t size_bytes_max,
                               const struct vsr_group *group, u128 cluster, const char **reason)
{
    assert(header != NULL && group != NULL);
    assert(reason != NULL);
    int result = vsr_header_validate(header, size_bytes_max, reason);
    if (result != 0) {
        return result;
    }
    if (header->command != VSR_COMMAND_PREPARE) {
        *reason = "not a prepare";
        return -RUNNEL_EFORMAT;
    }
    if (header->cluster != cluster || !vsr_group_is_equal(&header->group, group)) {
        *reason = "record of another cluster or group (misdirected)";
        return -RUNNEL_EFORMAT;
    }
    return 0;
}

int record_validate_header(const uint8_t *bytes, uint64_t available_bytes, uint32_t size_bytes_max,
                           const struct vsr_group *group, u128 cluster,
                           struct vsr_header *header_out, const char **reason_out)
{
    assert(bytes != NULL && header_out != NULL);
    assert(size_bytes_max >= VSR_HEADER_SIZE);
    const char *ignored = NULL;
    const char **reason = reason_out != NULL ? reason_out : &ignored;
    if (available_bytes < VSR_HEADER_SIZE) {
        *reason = "record header past the end";
        return -RUNNEL_ETRUNCATED;
    }
    memcpy(header_out, bytes, VSR_HEADER_SIZE);
    int result = record_header_check(header_out, size_bytes_max, group, cluster, reason);
    if (result != 0) {
        return result;
    }
    if (header_out->size > available_bytes) {
        *reason = "record body past the end";
        return -RUNNEL_ETRUNCATED;
    }
    return 0;
}

int record_validate(const uint8_t *bytes, uint64_t available_bytes, uint32_t size_bytes_max,
                    const struct vsr_group *group, u128 cluster, struct vsr_header *header_out,
                    const char **reason_out)
{
    const char *ignored = NULL;
    const char **reason = reason_out != NULL ? reason_out : &ignored;
    int result = record_validate_header(bytes, available_bytes, size_bytes_max, group, cluster,
                                        header_out, reason);
    if (result != 0) {
        return result;
    }
    if (!vsr_header_is_body_valid(header_out, bytes + VSR_HEADER_SIZE)) {
        *reason = "record body checksum mismatch";
        return -RUNNEL_ECHECKSUM;
    }
    return 0;
}

void record_padding_write(uint8_t *buffer, uint32_t size_bytes, const struct vsr_group *group,
                          u128 cluster, uint64_t op)
{
    assert(buffer != NULL && group != NULL);
    assert(size_bytes >= VSR_HEADER_SIZE);
    assert(op > 0);
    struct vsr_header header;
    vsr_header_init(&header, VSR_COMMAND_PREPARE, cluster, 0, 0, group);
    header.u.prepare.op = op;
    header.u.prepare.operation = VSR_OPERATION_PADDING;
    memset(buffer + VSR_HEADER_SIZE, 0, size_bytes - VSR_HEADER_SIZE);
    vsr_header_seal(&header, buffer + VSR_HEADER_SIZE, size_bytes - VSR_HEADER_SIZE);
    memcpy(buffer, &header, VSR_HEADER_SIZE);
}

static uint64_t record_index_entry_checksum(const struct record_index_entry *entry)
{
    struct record_index_entry copy;
    memcpy(&copy, entry, sizeof(copy));
    copy.checksum = 0;
    return XXH3_64bits(&copy, sizeof(copy));
}

void record_index_entry_init(struct record_index_entry *entry, const struct vsr_header *header,
                             uint64_t position_bytes)
{
    assert(entry != NULL && header != NULL);
    assert(vsr_header_is_checksum_valid(header));
    memset(entry, 0, sizeof(*entry));
    entry->header = *header;
    entry->position_bytes = position_bytes;
    entry->checksum = record_index_entry_checksum(entry);
}

int record_index_entry_validate(const uint8_t *bytes, uint32_t size_bytes_max,
                                const struct vsr_group *group, u128 cluster,
                                struct vsr_header *header_out, uint64_t *position_out)
{
    assert(bytes != NULL && header_out != NULL);
    assert(position_out != NULL);
    struct record_index_entry entry;
    memcpy(&entry, bytes, sizeof(entry));
    if (entry.checksum != record_index_entry_checksum(&entry)) {
        return -RUNNEL_ECHECKSUM;
    }
    const char *reason = NULL;
    int result = record_header_check(&entry.header, size_bytes_max, group, cluster, &reason);
    if (result != 0) {
        return result;
    }
    *header_out = entry.header;
    *position_out = entry.position_bytes;
    return 0;
}
