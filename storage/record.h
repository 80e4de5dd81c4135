/*
 * Records and index entries: the on-disk units of the partition log (DESIGN.md §5).
 *
 * A record is a VSR prepare exactly as the replica bus carries it: a 256-byte header
 * (proto/vsr_header.h) followed by size - 256 body bytes, at any byte position of a
 * segment (headers are copied out with memcpy, never dereferenced in place). A padding
 * record (operation VSR_OPERATION_PADDING, zero body) fills a write up to the sector; it
 * is not part of the hash chain and carries the op of the record before it.
 *
 * An index entry is 512 bytes: a second copy of the record's header, the record's byte
 * position in its segment, and an XXH3-64 of the entry. Entries are 512-byte aligned, so
 * rewriting the index's last 4 KiB sector can tear only whole entries, never an entry
 * that was already durable (its bytes are the same in the old and new sector images).
 */
#ifndef RUNNEL_STORAGE_RECORD_H
#define RUNNEL_STORAGE_RECORD_H

#include "proto/vsr_header.h"

#include <stdbool.h>
#include <stdint.h>

enum { RECORD_INDEX_ENTRY_SIZE = 512 };

struct record_index_entry {
    struct vsr_header header; /* copy of the record's header */
    uint64_t position_bytes;  /* of the record in its segment */
    uint64_t checksum;        /* XXH3-64 of the entry with this field zero */
    uint8_t reserved[RECORD_INDEX_ENTRY_SIZE - VSR_HEADER_SIZE - 16];
};

_Static_assert(sizeof(struct record_index_entry) == RECORD_INDEX_ENTRY_SIZE, "512-byte entry");

/*
 * Checks untrusted record bytes at a segment position: a valid prepare header of group
 * and cluster whose size fits size_bytes_max and the bytes available, then the body
 * checksum. header_out receives the header (also when only the body is bad). Returns 0,
 * -RUNNEL_ETRUNCATED (fewer bytes than the header says), -RUNNEL_ECHECKSUM or
 * -RUNNEL_EFORMAT; *reason_out names the check.
 */
int record_validate(const uint8_t *bytes, uint64_t available_bytes, uint32_t size_bytes_max,
                    const struct vsr_group *group, u128 cluster, struct vsr_header *header_out,
                    const char **reason_out);

/* record_validate without the body checksum: for a record whose body this process already
 * trusts (storage/partition.h, "Verification"); the header and its size are still checked. */
int record_validate_header(const uint8_t *bytes, uint64_t available_bytes, uint32_t size_bytes_max,
                           const struct vsr_group *group, u128 cluster,
                           struct vsr_header *header_out, const char **reason_out);

/* Writes a padding record of size_bytes (>= 256) after op into buffer. */
void record_padding_write(uint8_t *buffer, uint32_t size_bytes, const struct vsr_group *group,
                          u128 cluster, uint64_t op);

/* Fills entry for a record header at position_bytes and seals it. */
void record_index_entry_init(struct record_index_entry *entry, const struct vsr_header *header,
                             uint64_t position_bytes);

/* Checks untrusted entry bytes: entry checksum, then the header copy. Returns 0,
 * -RUNNEL_ECHECKSUM or -RUNNEL_EFORMAT; header_out and position_out filled on success. */
int record_index_entry_validate(const uint8_t *bytes, uint32_t size_bytes_max,
                                const struct vsr_group *group, u128 cluster,
                                struct vsr_header *header_out, uint64_t *position_out);

/* True for records that are part of the hash chain (everything but padding). */
bool record_is_chained(const struct vsr_header *header);

#endif
