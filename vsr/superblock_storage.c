/*
 * The VSR superblock seam over the per-shard storage superblock (see
 * superblock_storage.h). Owns the slot table. Runs on its shard.
 */
#include "vsr/superblock_storage.h"

#include "lib/assert.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int superblock_storage_init(struct superblock_storage *storage, struct superblock *superblock,
                            uint32_t slots_max)
{
    assert(storage != NULL && superblock != NULL);
    assert(slots_max > 0);
    memset(storage, 0, sizeof(*storage));
    storage->superblock = superblock;
    storage->slots = calloc(slots_max, sizeof(struct superblock_storage_slot));
    if (storage->slots == NULL) {
        return -ENOMEM;
    }
    storage->slots_max = slots_max;
    storage->sequence_durable = superblock->sequence_durable;
    return 0;
}

void superblock_storage_deinit(struct superblock_storage *storage)
{
    assert(storage != NULL);
    free(storage->slots);
    storage->slots = NULL;
    storage->slots_max = 0;
    assert(storage->slots == NULL);
}

void superblock_storage_on_write(struct superblock_storage *storage, uint64_t sequence, int result)
{
    assert(storage != NULL);
    assert(result <= 0);
    if (result < 0) {
        log_error("superblock_write_failed", "error=\"%s\"", error_text(result));
        storage->failed = result;
        return;
    }
    if (sequence > storage->sequence_durable) {
        storage->sequence_durable = sequence;
    }
}

int superblock_storage_slot_open(struct superblock_storage *storage, const struct vsr_group *group,
                                 struct vsr_superblock_state *state_out)
{
    assert(storage != NULL && group != NULL && state_out != NULL);
    assert(storage->slots != NULL);
    memset(state_out, 0, sizeof(*state_out));
    for (uint32_t index = 0; index < storage->slots_max; index++) {
        struct superblock_storage_slot *slot = &storage->slots[index];
        if (slot->is_used) {
            continue;
        }
        memset(slot, 0, sizeof(*slot));
        slot->owner = storage;
        slot->is_used = true;
        slot->group = *group;
        struct superblock_group stored;
        if (superblock_group_get(storage->superblock, group, &stored) == 0) {
            state_out->formed = true; /* the superblock names the group */
            state_out->view = stored.view;
            state_out->log_view = stored.log_view;
            state_out->commit_max = stored.commit;
            state_out->log_head_op = stored.log_head_op;
            state_out->log_head_checksum = stored.log_head_checksum;
            state_out->log_head_header = stored.log_head; /* validated by the replica */
            state_out->checkpoint_op = stored.checkpoint_op;
            state_out->checkpoint_checksum = stored.checkpoint_id;
            state_out->checkpoint_size_bytes = stored.checkpoint_size_bytes;
            state_out->log_dropped_op = stored.log_dropped_op;
        }
        return (int)index;
    }
    return -RUNNEL_EFULL;
}

void superblock_storage_slot_attach(struct superblock_storage *storage, uint32_t slot,
                                    struct vsr_replica *replica)
{
    assert(storage != NULL && replica != NULL);
    assert(slot < storage->slots_max && storage->slots[slot].is_used);
    storage->slots[slot].replica = replica;
}

void superblock_storage_slot_close(struct superblock_storage *storage, uint32_t slot)
{
    assert(storage != NULL);
    assert(slot < storage->slots_max && storage->slots[slot].is_used);
    if ((storage->slots[slot].is_waiting || storage->slots[slot].is_done) &&
        storage->pending_count > 0) {
        storage->pending_count--;
    }
    memset(&storage->slots[slot], 0, sizeof(storage->slots[slot]));
}

static int superblock_storage_write(const struct vsr_superblock_state *state, void *context)
{
    struct superblock_storage_slot *slot = context;
    assert(slot != NULL && slot->is_used && state != NULL);
    assert(!slot->is_waiting && !slot->is_done);
    struct superblock_storage *storage = slot->owner;
    struct superblock_group stored;
    memset(&stored, 0, sizeof(stored));
    stored.group = slot->group;
    stored.view = state->view;
    stored.log_view = state->log_view;
    stored.commit = state->commit_max;
    stored.log_head_op = state->log_head_op;
    stored.log_head_checksum = state->log_head_checksum;
    stored.log_head = state->log_head_header;
    stored.checkpoint_op = state->checkpoint_op;
    stored.checkpoint_id = state->checkpoint_checksum;
    stored.checkpoint_size_bytes = state->checkpoint_size_bytes;
    stored.log_dropped_op = state->log_dropped_op;
    int result = superblock_group_set(storage->superblock, &stored);
    if (result != 0) {
        return result;
    }
    if (storage->superblock->is_dirty) {
        slot->sequence_wait = storage->superblock->sequence + 1;
        slot->is_waiting = true;
    } else {
        slot->is_done = true; /* nothing durable changed (commit rides along later) */
    }
    storage->pending_count++;
    return 0;
}

struct vsr_superblock superblock_storage_interface(struct superblock_storage *storage,
                                                   uint32_t slot)
{
    assert(storage != NULL);
    assert(slot < storage->slots_max && storage->slots[slot].is_used);
    struct vsr_superblock interface = {.write = superblock_storage_write,
                                       .context = &storage->slots[slot]};
    return interface;
}

int superblock_storage_pass(struct superblock_storage *storage)
{
    assert(storage != NULL);
    assert(storage->slots != NULL);
    if (storage->failed != 0) {
        return storage->failed;
    }
    (void)superblock_tick(storage->superblock);
    /* Most passes have nothing to report: the walk over every slot (slots_max is the
     * shard's partition limit, 10,000 by default) runs only while some slot is pending. */
    if (storage->pending_count == 0) {
        return 0;
    }
    uint32_t pending = 0;
    for (uint32_t index = 0; index < storage->slots_max; index++) {
        struct superblock_storage_slot *slot = &storage->slots[index];
        if (!slot->is_used) {
            continue;
        }
        if (slot->is_waiting && slot->sequence_wait <= storage->sequence_durable) {
            slot->is_waiting = false;
            slot->is_done = true;
        }
        if (slot->is_done && slot->replica != NULL) {
            slot->is_done = false;
            vsr_replica_on_superblock_write(slot->replica); /* may write again */
        }
        pending += slot->is_waiting || slot->is_done ? 1 : 0;
    }
    storage->pending_count = pending;
    return 0;
}

bool superblock_storage_is_busy(const struct superblock_storage *storage)
{
    assert(storage != NULL);
    assert(storage->slots != NULL);
    return storage->pending_count > 0;
}
