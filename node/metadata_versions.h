/*
 * Published versions of the metadata for the shards' reads (issue 6: other shards read
 * metadata without waiting on shard 0).
 *
 * Shard 0 (the writer) applies every metadata op to its own mutable state (`source`, the
 * control plane's struct metadata), which no other shard reads. Readers read one of two
 * copies, `copies[0]` and `copies[1]`, through the atomic pointer `current`: a reader
 * takes it once per request (metadata_versions_read_begin) and holds that version, whole
 * and unchanging, until metadata_versions_read_end. Neither side ever waits on the other:
 * no lock, no spin, no sleep.
 *
 * Publication (metadata_versions_publish, shard 0, once per loop pass): the copy that is
 * not current (the spare) is brought up to the source and swapped in with one atomic
 * store. Bringing it up replays, with metadata_apply, the ops the source applied since
 * the spare last matched it: apply is deterministic (the same ops on the same state give
 * the same state), so the spare ends byte-for-byte where the source is, at the cost of
 * the ops themselves, not of the tables (a CreateTopic among 10,000 topics replays one
 * CreateTopic). The writer records each applied op (and each reset) in a bounded log for
 * this; when the log overflows (a long replay at start-up) the spare is copied whole once.
 *
 * Reclamation rule (epochs, RCU-style): a global epoch counts publications. A reader
 * stores the epoch it saw into its own slot before it loads `current`, and stores 0 when
 * it is done. Publishing stores the new `current` and then advances the epoch to r; the
 * copy it replaced is retired at r. The writer may write into a retired copy only once
 * every reader slot reads 0 (outside a read) or at least r (its read began after the
 * swap, so it loaded the new pointer). A reader that loaded the retired pointer stored
 * an epoch below r before loading it (all these accesses are sequentially consistent),
 * so the writer sees its slot and leaves that copy alone until the reader is done. When
 * the spare is still held, publish returns false and changes nothing: the writer tries
 * again on a later pass (it never waits), and shard 0 holds back the replies of the ops
 * not yet published, so a client never sees its own write missing from a later read.
 *
 * Readers see versions in publication order (each read loads the newest pointer), and a
 * version seen by one shard is seen, or a newer one, by any shard it then messages.
 *
 * Memory: three struct metadata (source, owned by the caller; two copies without the
 * replies ring, metadata_init_copy: readers never replay a kept reply), the op log
 * (entries and bytes below) and one slot of a cache line per reader, all allocated at
 * init. Nested reads on one reader share the outer read's version.
 */
#ifndef RUNNEL_NODE_METADATA_VERSIONS_H
#define RUNNEL_NODE_METADATA_VERSIONS_H

#include "node/metadata.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    METADATA_VERSIONS_LOG_ENTRIES_MAX = 4096,
    METADATA_VERSIONS_LOG_BYTES_MAX = 2u << 20,
    METADATA_VERSIONS_CACHE_LINE = 64,
};

/* One reader's slot (a shard's), written by that reader, read by the writer. */
struct metadata_versions_reader {
    alignas(METADATA_VERSIONS_CACHE_LINE) _Atomic uint64_t epoch; /* 0: not reading */
    const struct metadata *held; /* the reader's own: the version it reads */
    uint32_t depth;              /* nested read_begin calls */
};

/* A change applied to the source: an op (its body in the log's bytes) or a reset. */
struct metadata_versions_entry {
    struct metadata_apply_context context;
    uint32_t body_offset;
    uint32_t body_size;
    bool is_reset;
};

struct metadata_versions {
    const struct metadata *source; /* the writer's state (not owned) */
    struct metadata copies[2];
    uint64_t copy_sequence[2];      /* changes of the source each copy reflects */
    uint64_t copy_retired_epoch[2]; /* epoch at which it stopped being current */
    uint32_t current_index;         /* writer's: the copy `current` points at, or 2 */
    _Atomic(const struct metadata *) current;
    _Atomic uint64_t epoch;
    struct metadata_versions_reader *readers;
    uint32_t readers_count;
    uint64_t sequence; /* changes recorded (ops and resets) */
    /* The log: the last entries_count changes, (sequence - entries_count, sequence]. */
    struct metadata_versions_entry *entries;
    uint32_t entries_count;
    uint8_t *bytes;
    uint32_t bytes_used;
    uint8_t *reply; /* replies of replayed ops (discarded) */
    /* Figures (writer's). */
    uint64_t publishes;
    uint64_t publishes_deferred; /* the spare was still held */
    uint64_t replayed;           /* changes replayed into a copy */
    uint64_t copies_whole;       /* a copy brought up by copying the tables */
    uint64_t log_overflows;
};

/*
 * Allocates the copies (with source's config) and the reader slots. source must be freshly
 * initialized (no op applied yet): the copies start equal to it. Returns 0 or -ENOMEM
 * (or metadata_init's error). Start-up only.
 */
int metadata_versions_init(struct metadata_versions *versions, const struct metadata *source,
                           uint32_t readers_count);
void metadata_versions_deinit(struct metadata_versions *versions);

/* Writer, right after metadata_apply(source, context, body, body_size) returned. */
void metadata_versions_record(struct metadata_versions *versions,
                              const struct metadata_apply_context *context, const uint8_t *body,
                              uint32_t body_size);

/* Writer, right after metadata_reset(source). */
void metadata_versions_record_reset(struct metadata_versions *versions);

/* Writer, after the source was replaced whole (a checkpoint restored, decoded or not): the
 * next publication copies the tables instead of replaying ops. */
void metadata_versions_record_replace(struct metadata_versions *versions);

/* Writer: true when the current version reflects every recorded change. */
bool metadata_versions_is_published(const struct metadata_versions *versions);

/*
 * Writer: makes the source's state the current version, unless a reader still holds the
 * spare copy: then returns false, changes nothing and never waits (call again later).
 * Returns true when the current version reflects every recorded change.
 */
bool metadata_versions_publish(struct metadata_versions *versions);

/* Reader `reader` (< readers_count; each reader index used by one thread at a time):
 * the current version, held until the matching read_end. Never blocks. */
const struct metadata *metadata_versions_read_begin(struct metadata_versions *versions,
                                                    uint32_t reader);
void metadata_versions_read_end(struct metadata_versions *versions, uint32_t reader);

#endif
