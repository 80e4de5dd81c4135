/*
 * Unit-test seams for one VSR replica (tests/unit/helper_vsr.h). Single thread.
 */
#include "tests/unit/helper_vsr.h"

#include "lib/assert.h"

#include <string.h>

static void helper_vsr_journal_written(uint64_t op, u128 checksum, void *context)
{
    vsr_replica_on_journal_write(&((struct helper_vsr *)context)->replica, op, checksum);
}

static void helper_vsr_superblock_written(void *context)
{
    vsr_replica_on_superblock_write(&((struct helper_vsr *)context)->replica);
}

static void helper_vsr_checkpoint_written(void *context)
{
    vsr_replica_on_checkpoint_write(&((struct helper_vsr *)context)->replica);
}

void helper_vsr_init(struct helper_vsr *vsr, uint64_t ops_max, uint64_t seed)
{
    assert(vsr != NULL);
    memset(vsr, 0, sizeof(*vsr));
    prng_init(&vsr->prng, seed);
    clock_fake_init(&vsr->clock, 1000000000ull, 1800000000000000000ull);
    int result = sim_journal_init(&vsr->journal, ops_max, &vsr->prng, &vsr->tick);
    assert(result == 0);
    vsr->journal.callback = helper_vsr_journal_written;
    vsr->journal.callback_context = vsr;
    sim_superblock_init(&vsr->superblock, &vsr->prng, &vsr->tick);
    vsr->superblock.callback = helper_vsr_superblock_written;
    vsr->superblock.checkpoint_callback = helper_vsr_checkpoint_written;
    vsr->superblock.callback_context = vsr;
}

int helper_vsr_start(struct helper_vsr *vsr, const struct vsr_replica_config *config,
                     const struct vsr_state_machine *machine, const struct vsr_bus *bus)
{
    assert(vsr != NULL && config != NULL && machine != NULL && bus != NULL);
    struct vsr_journal journal = sim_journal_interface(&vsr->journal);
    struct vsr_superblock superblock = sim_superblock_interface(&vsr->superblock);
    return vsr_replica_init(&vsr->replica, config, &vsr->superblock.durable, &journal, &superblock,
                            machine, bus, &vsr->clock.clock);
}

void helper_vsr_deinit(struct helper_vsr *vsr)
{
    assert(vsr != NULL);
    if (vsr->replica.entries != NULL) {
        vsr_replica_deinit(&vsr->replica);
    }
    sim_journal_deinit(&vsr->journal);
    sim_superblock_deinit(&vsr->superblock);
}

void helper_vsr_tick(struct helper_vsr *vsr)
{
    assert(vsr->replica.entries != NULL);
    vsr->tick++;
    clock_fake_advance_ns(&vsr->clock, 10 * 1000 * 1000);
    sim_journal_tick(&vsr->journal);
    sim_superblock_tick(&vsr->superblock);
    vsr_replica_tick(&vsr->replica);
}

void helper_vsr_ticks(struct helper_vsr *vsr, uint32_t count)
{
    for (uint32_t round = 0; round < count; round++) {
        helper_vsr_tick(vsr);
    }
}

uint32_t helper_vsr_apply_nothing(const struct vsr_header *prepare, const void *body,
                                  void *reply_body, uint32_t reply_size_max, void *context)
{
    (void)prepare, (void)body, (void)reply_body, (void)reply_size_max, (void)context;
    return 0;
}

void helper_vsr_reset_nothing(void *context)
{
    (void)context;
}

uint32_t helper_vsr_snapshot_empty(void *buffer, uint32_t size_max, void *context)
{
    (void)buffer, (void)size_max, (void)context;
    return 0;
}

void helper_vsr_reply_dropped(u128 client, const struct vsr_header *header, const void *body,
                              void *context)
{
    (void)client, (void)header, (void)body, (void)context;
}

uint64_t helper_vsr_checkpoint_bytes(const struct vsr_replica_config *config,
                                     const struct vsr_header *anchor, uint8_t *bytes,
                                     uint64_t capacity)
{
    assert(config != NULL && anchor != NULL && bytes != NULL);
    uint64_t sessions = config->clients_max *
                        (sizeof(struct vsr_client_session) + (uint64_t)config->reply_size_max);
    uint64_t frame[4] = {0x52434b50, anchor->u.prepare.op, sessions, 40}; /* magic, op, sizes */
    uint64_t total = VSR_HEADER_SIZE + sizeof(frame) + sessions + 40;
    assert(total <= capacity);
    memset(bytes, 0, capacity);
    memcpy(bytes, anchor, VSR_HEADER_SIZE);
    memcpy(bytes + VSR_HEADER_SIZE, frame, sizeof(frame));
    memset(bytes + total - 40, 0x33, 40);
    return total;
}

void helper_vsr_checkpoint_send(struct helper_vsr *vsr, uint8_t sender, uint32_t view, uint64_t op,
                                const uint8_t *bytes, uint64_t total, uint64_t chunk,
                                uint64_t log_op_first)
{
    assert(vsr->replica.entries != NULL && chunk > 0);
    const struct vsr_replica_config *config = &vsr->replica.config;
    u128 checksum = vsr_checksum(bytes, total);
    for (uint64_t offset = 0; offset < total; offset += chunk) {
        uint64_t size = total - offset < chunk ? total - offset : chunk;
        struct vsr_header message;
        vsr_header_init(&message, VSR_COMMAND_CHECKPOINT, config->cluster, view, sender,
                        &config->group);
        message.u.checkpoint_chunk.checkpoint_checksum = checksum;
        message.u.checkpoint_chunk.checkpoint_op = op;
        message.u.checkpoint_chunk.chunk_offset_bytes = offset;
        message.u.checkpoint_chunk.chunk_size_bytes = size;
        message.u.checkpoint_chunk.total_size_bytes = total;
        message.u.checkpoint_chunk.log_op_first = log_op_first;
        vsr_header_seal(&message, bytes + offset, (uint32_t)size);
        vsr_replica_on_message(&vsr->replica, &message, bytes + offset);
        helper_vsr_ticks(vsr, 4);
    }
}
