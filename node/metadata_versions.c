/*
 * Published metadata versions (see metadata_versions.h): two copies brought up to the
 * writer's state by replaying its recorded ops, swapped in through an atomic pointer,
 * reused only after every reader has left the version (epoch per reader). The writer
 * runs on shard 0; read_begin/read_end run on every shard.
 */
#include "node/metadata_versions.h"

#include "lib/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { METADATA_VERSIONS_NONE = 2 };

int metadata_versions_init(struct metadata_versions *versions, const struct metadata *source,
                           uint32_t readers_count)
{
    assert(versions != NULL && source != NULL);
    assert(readers_count > 0);
    assert(source->op == 0 && !source->is_bootstrapped); /* the copies start equal to it */
    memset(versions, 0, sizeof(*versions));
    versions->source = source;
    versions->current_index = METADATA_VERSIONS_NONE;
    atomic_init(&versions->current, NULL);
    atomic_init(&versions->epoch, 1);
    versions->readers_count = readers_count;
    versions->readers =
        aligned_alloc(METADATA_VERSIONS_CACHE_LINE, readers_count * sizeof(versions->readers[0]));
    versions->entries =
        calloc(METADATA_VERSIONS_LOG_ENTRIES_MAX, sizeof(struct metadata_versions_entry));
    versions->bytes = malloc(METADATA_VERSIONS_LOG_BYTES_MAX);
    versions->reply = malloc(METADATA_REPLY_SIZE_MAX);
    int result = versions->readers == NULL || versions->entries == NULL ||
                         versions->bytes == NULL || versions->reply == NULL
                     ? -ENOMEM
                     : 0;
    for (uint32_t index = 0; result == 0 && index < readers_count; index++) {
        memset(&versions->readers[index], 0, sizeof(versions->readers[index]));
        atomic_init(&versions->readers[index].epoch, 0);
    }
    for (uint32_t copy = 0; result == 0 && copy < 2; copy++) {
        /* Readers never replay a kept reply: no copy of the replies ring. */
        result = metadata_init_copy(&versions->copies[copy], &source->config);
    }
    if (result != 0) {
        metadata_versions_deinit(versions);
        return result;
    }
    return 0;
}

void metadata_versions_deinit(struct metadata_versions *versions)
{
    assert(versions != NULL);
    for (uint32_t copy = 0; copy < 2; copy++) {
        if (versions->copies[copy].streams != NULL) {
            metadata_deinit(&versions->copies[copy]);
        }
    }
    free(versions->readers);
    free(versions->entries);
    free(versions->bytes);
    free(versions->reply);
    memset(versions, 0, sizeof(*versions));
    assert(versions->readers == NULL);
}

/* Appends a change to the log; when it does not fit, the log restarts empty (copies that
 * lag behind it are then copied whole). */
static void metadata_versions_append(struct metadata_versions *versions,
                                     const struct metadata_versions_entry *entry,
                                     const uint8_t *body)
{
    assert(versions->entries_count <= METADATA_VERSIONS_LOG_ENTRIES_MAX);
    assert(versions->bytes_used <= METADATA_VERSIONS_LOG_BYTES_MAX);
    versions->sequence++;
    if (versions->entries_count == METADATA_VERSIONS_LOG_ENTRIES_MAX ||
        entry->body_size > METADATA_VERSIONS_LOG_BYTES_MAX - versions->bytes_used) {
        versions->entries_count = 0;
        versions->bytes_used = 0;
        versions->log_overflows++;
        return;
    }
    struct metadata_versions_entry *slot = &versions->entries[versions->entries_count++];
    *slot = *entry;
    slot->body_offset = versions->bytes_used;
    if (entry->body_size > 0) {
        memcpy(versions->bytes + versions->bytes_used, body, entry->body_size);
    }
    versions->bytes_used += entry->body_size;
}

void metadata_versions_record(struct metadata_versions *versions,
                              const struct metadata_apply_context *context, const uint8_t *body,
                              uint32_t body_size)
{
    assert(versions != NULL && context != NULL);
    assert(body != NULL || body_size == 0);
    assert(versions->source->op == context->op);
    struct metadata_versions_entry entry = {
        .context = *context, .body_size = body_size, .is_reset = false};
    metadata_versions_append(versions, &entry, body);
}

void metadata_versions_record_reset(struct metadata_versions *versions)
{
    assert(versions != NULL);
    assert(versions->source->op == 0);
    struct metadata_versions_entry entry = {.is_reset = true};
    metadata_versions_append(versions, &entry, NULL);
}

void metadata_versions_record_replace(struct metadata_versions *versions)
{
    assert(versions != NULL);
    versions->sequence++;
    versions->entries_count = 0; /* no copy can replay up to it: each is copied whole */
    versions->bytes_used = 0;
}

bool metadata_versions_is_published(const struct metadata_versions *versions)
{
    assert(versions != NULL);
    return versions->current_index != METADATA_VERSIONS_NONE &&
           versions->copy_sequence[versions->current_index] == versions->sequence;
}

/* True when no reader can still hold copy: each slot is outside a read (0) or began its
 * read at or after the epoch the copy was retired at (so it loaded a newer pointer). */
static bool metadata_versions_is_free(struct metadata_versions *versions, uint32_t copy)
{
    uint64_t retired = versions->copy_retired_epoch[copy];
    for (uint32_t index = 0; index < versions->readers_count; index++) {
        uint64_t epoch = atomic_load(&versions->readers[index].epoch);
        if (epoch != 0 && epoch < retired) {
            return false;
        }
    }
    return true;
}

/* Brings a free copy to the source's state: replays the logged changes it lacks, or
 * copies the tables when the log no longer reaches back to it. */
static void metadata_versions_catch_up(struct metadata_versions *versions, uint32_t copy)
{
    struct metadata *target = &versions->copies[copy];
    uint64_t log_first = versions->sequence - versions->entries_count; /* before entries[0] */
    if (versions->copy_sequence[copy] < log_first) {
        metadata_copy(target, versions->source);
        versions->copies_whole++;
    } else {
        uint64_t skip = versions->copy_sequence[copy] - log_first;
        assert(skip <= versions->entries_count);
        for (uint32_t index = (uint32_t)skip; index < versions->entries_count; index++) {
            const struct metadata_versions_entry *entry = &versions->entries[index];
            uint32_t reply_size = 0;
            if (entry->is_reset) {
                metadata_reset(target);
            } else {
                int result = metadata_apply(target, &entry->context,
                                            versions->bytes + entry->body_offset, entry->body_size,
                                            versions->reply, METADATA_REPLY_SIZE_MAX, &reply_size);
                assert(result == 0);
            }
            versions->replayed++;
        }
    }
    versions->copy_sequence[copy] = versions->sequence;
    /* Replay is deterministic: the copy is where the source is. */
    assert(target->op == versions->source->op);
    assert(target->streams_count == versions->source->streams_count);
    assert(target->users_count == versions->source->users_count);
    assert(target->is_bootstrapped == versions->source->is_bootstrapped);
}

/* Drops the log entries both copies already reflect. */
static void metadata_versions_trim(struct metadata_versions *versions)
{
    uint64_t log_first = versions->sequence - versions->entries_count;
    uint64_t oldest = versions->copy_sequence[0] < versions->copy_sequence[1]
                          ? versions->copy_sequence[0]
                          : versions->copy_sequence[1];
    if (oldest <= log_first) {
        return;
    }
    uint32_t drop = (uint32_t)(oldest - log_first);
    assert(drop <= versions->entries_count);
    uint32_t keep = versions->entries_count - drop;
    uint32_t bytes_drop = keep == 0 ? versions->bytes_used : versions->entries[drop].body_offset;
    memmove(versions->entries, versions->entries + drop, keep * sizeof(versions->entries[0]));
    memmove(versions->bytes, versions->bytes + bytes_drop, versions->bytes_used - bytes_drop);
    for (uint32_t index = 0; index < keep; index++) {
        assert(versions->entries[index].body_offset >= bytes_drop);
        versions->entries[index].body_offset -= bytes_drop;
    }
    versions->entries_count = keep;
    versions->bytes_used -= bytes_drop;
}

bool metadata_versions_publish(struct metadata_versions *versions)
{
    assert(versions != NULL);
    if (metadata_versions_is_published(versions)) {
        return true;
    }
    uint32_t previous = versions->current_index;
    uint32_t spare = previous == 0 ? 1 : 0;
    if (!metadata_versions_is_free(versions, spare)) {
        versions->publishes_deferred++;
        return false;
    }
    metadata_versions_catch_up(versions, spare);
    atomic_store(&versions->current, &versions->copies[spare]);
    versions->current_index = spare;
    if (previous != METADATA_VERSIONS_NONE) {
        /* Readers that loaded the old pointer stored an epoch below this one first. */
        versions->copy_retired_epoch[previous] = atomic_fetch_add(&versions->epoch, 1) + 1;
    }
    versions->publishes++;
    metadata_versions_trim(versions);
    assert(metadata_versions_is_published(versions));
    return true;
}

const struct metadata *metadata_versions_read_begin(struct metadata_versions *versions,
                                                    uint32_t reader)
{
    assert(versions != NULL);
    assert(reader < versions->readers_count);
    struct metadata_versions_reader *slot = &versions->readers[reader];
    if (slot->depth++ > 0) {
        assert(slot->held != NULL);
        return slot->held;
    }
    /* Epoch first, pointer second (both sequentially consistent): see the header. */
    atomic_store(&slot->epoch, atomic_load(&versions->epoch));
    slot->held = atomic_load(&versions->current);
    assert(slot->held != NULL); /* published once at start-up, before the shards read */
    return slot->held;
}

void metadata_versions_read_end(struct metadata_versions *versions, uint32_t reader)
{
    assert(versions != NULL);
    assert(reader < versions->readers_count);
    struct metadata_versions_reader *slot = &versions->readers[reader];
    assert(slot->depth > 0 && slot->held != NULL);
    if (--slot->depth == 0) {
        slot->held = NULL;
        atomic_store(&slot->epoch, 0); /* release: this reader's reads are done */
    }
}
