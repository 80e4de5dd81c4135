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
