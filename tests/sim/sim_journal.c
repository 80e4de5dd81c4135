/*
 * Simulated VSR journal and superblock (see sim_journal.h). Owns each replica's in-memory
 * log image and pending writes. Runs inside the single simulator thread.
 */
#include "tests/sim/sim_journal.h"

#include "lib/assert.h"
#include "lib/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sim_journal_init(struct sim_journal *journal, uint64_t ops_max, struct prng *prng,
                     const uint64_t *tick)
{
    assert(journal != NULL && prng != NULL && tick != NULL);
    assert(ops_max >= 1);
    memset(journal, 0, sizeof(*journal));
    journal->entries = calloc(ops_max + 1, sizeof(struct sim_journal_entry));
    if (journal->entries == NULL) {
        return -ENOMEM;
    }
    journal->ops_max = ops_max;
    journal->prng = prng;
    journal->tick = tick;
    journal->write_ticks_max = 4;
    return 0;
}

void sim_journal_deinit(struct sim_journal *journal)
{
    assert(journal != NULL);
    free(journal->entries);
    journal->entries = NULL;
}

void sim_journal_reset(struct sim_journal *journal)
{
    assert(journal->entries != NULL);
    memset(journal->entries, 0, (journal->ops_max + 1) * sizeof(struct sim_journal_entry));
    memset(journal->writes, 0, sizeof(journal->writes));
    journal->bit_flips = 0;
    journal->torn_writes = 0;
}

static void sim_journal_misdirect(struct sim_journal *journal, uint64_t op);

static int sim_journal_write(const struct vsr_header *header, const void *body, void *context)
{
    struct sim_journal *journal = context;
    uint64_t op = header->u.prepare.op;
    uint32_t body_size = header->size - VSR_HEADER_SIZE;
    assert(op >= 1 && op <= journal->ops_max);
    assert(body_size <= SIM_BODY_SIZE_MAX);
    for (uint32_t index = 0; index < SIM_JOURNAL_WRITES_MAX; index++) {
        struct sim_journal_write *write = &journal->writes[index];
        if (write->used) {
            continue;
        }
        write->used = true;
        write->entry.header = *header;
        memset(write->entry.body, 0, sizeof(write->entry.body));
        if (body_size > 0) {
            memcpy(write->entry.body, body, body_size);
        }
        write->entry.used = true;
        write->due_tick = *journal->tick + prng_between(journal->prng, 1, journal->write_ticks_max);
        return 0;
    }
    return -RUNNEL_EFULL;
}

static int sim_journal_read(uint64_t op, struct vsr_header *header_out, void *body_out,
                            uint32_t body_size_max, void *context)
{
    struct sim_journal *journal = context;
    assert(op >= 1 && op <= journal->ops_max);
    assert(header_out != NULL);
    const struct sim_journal_entry *entry = &journal->entries[op];
    if (!entry->used) {
        return -RUNNEL_ENOTFOUND;
    }
    const struct vsr_header *header = &entry->header;
    if (!vsr_header_is_checksum_valid(header) || header->size < VSR_HEADER_SIZE ||
        header->size - VSR_HEADER_SIZE > SIM_BODY_SIZE_MAX ||
        !vsr_header_is_body_valid(header, entry->body) || header->u.prepare.op != op) {
        return -RUNNEL_EFAULTY;
    }
    *header_out = *header;
    if (body_out != NULL) {
        uint32_t body_size = header->size - VSR_HEADER_SIZE;
        assert(body_size <= body_size_max);
        memcpy(body_out, entry->body, body_size);
    }
    return 0;
}

static void sim_journal_truncate(uint64_t op_min, void *context)
{
    struct sim_journal *journal = context;
    assert(op_min >= 1);
    for (uint64_t op = op_min; op <= journal->ops_max; op++) {
        journal->entries[op].used = false;
    }
}

static uint64_t sim_journal_op_max(void *context)
{
    struct sim_journal *journal = context;
    assert(journal->entries != NULL);
    for (uint64_t op = journal->ops_max; op >= 1; op--) {
        if (journal->entries[op].used) {
            return op;
        }
    }
    return 0;
}

struct vsr_journal sim_journal_interface(struct sim_journal *journal)
{
    assert(journal != NULL);
    struct vsr_journal interface = {
        .write = sim_journal_write,
        .read = sim_journal_read,
        .truncate = sim_journal_truncate,
        .op_max = sim_journal_op_max,
        .context = journal,
    };
    return interface;
}

void sim_journal_tick(struct sim_journal *journal)
{
    assert(journal->callback != NULL);
    for (uint32_t index = 0; index < SIM_JOURNAL_WRITES_MAX; index++) {
        struct sim_journal_write *write = &journal->writes[index];
        if (!write->used || write->due_tick > *journal->tick) {
            continue;
        }
        uint64_t op = write->entry.header.u.prepare.op;
        journal->entries[op] = write->entry;
        write->used = false;
        if (journal->faults && op > 1 &&
            prng_chance(journal->prng, journal->misdirect_per_mille, 1000)) {
            sim_journal_misdirect(journal, op);
        }
        journal->callback(op, write->entry.header.checksum, journal->callback_context);
    }
}

/* Damages one random bit of entry (header or body). */
static void sim_journal_entry_flip(struct sim_journal *journal, struct sim_journal_entry *entry)
{
    assert(entry->used);
    uint64_t bit = prng_range(journal->prng, (VSR_HEADER_SIZE + SIM_BODY_SIZE_MAX) * 8);
    uint8_t mask = (uint8_t)(1u << (bit % 8));
    if (bit / 8 < VSR_HEADER_SIZE) {
        ((uint8_t *)&entry->header)[bit / 8] ^= mask;
    } else {
        entry->body[bit / 8 - VSR_HEADER_SIZE] ^= mask;
    }
    /* A flip in unused body bytes is invisible; make every flip count by sealing off. */
    if (bit / 8 >= VSR_HEADER_SIZE && bit / 8 - VSR_HEADER_SIZE >= SIM_BODY_SIZE_MAX / 2) {
        entry->header.checksum ^= 1;
    }
}

/*
 * The write of op went to a lower op's place: that entry now holds op's prepare (read as
 * faulty: the op does not match its place) and op's own entry is damaged. The write still
 * completes as durable, as a misdirected write does on a real disk.
 */
static void sim_journal_misdirect(struct sim_journal *journal, uint64_t op)
{
    assert(op > 1 && op <= journal->ops_max);
    assert(journal->entries[op].used);
    uint64_t victim = prng_between(journal->prng, 1, op - 1);
    journal->entries[victim] = journal->entries[op];
    journal->entries[op].header.checksum ^= 1; /* what the record's place holds is not it */
    journal->misdirected_writes++;
}

void sim_journal_crash(struct sim_journal *journal)
{
    assert(journal->entries != NULL);
    for (uint32_t index = 0; index < SIM_JOURNAL_WRITES_MAX; index++) {
        struct sim_journal_write *write = &journal->writes[index];
        if (!write->used) {
            continue;
        }
        write->used = false;
        uint64_t op = write->entry.header.u.prepare.op;
        uint32_t choice = (uint32_t)prng_range(journal->prng, 3);
        if (choice == 0) {
            journal->entries[op] = write->entry; /* kept */
        } else if (choice == 1 && journal->faults) {
            journal->entries[op] = write->entry; /* torn */
            sim_journal_entry_flip(journal, &journal->entries[op]);
            journal->torn_writes++;
        }
    }
}

void sim_journal_flip(struct sim_journal *journal)
{
    assert(journal->entries != NULL);
    if (!journal->faults) {
        return;
    }
    uint64_t op_max = sim_journal_op_max(journal);
    if (op_max == 0) {
        return;
    }
    uint64_t op = prng_between(journal->prng, 1, op_max);
    if (journal->entries[op].used) {
        sim_journal_entry_flip(journal, &journal->entries[op]);
        journal->bit_flips++;
    }
}

bool sim_journal_flip_op(struct sim_journal *journal, uint64_t op)
{
    assert(op >= 1 && op <= journal->ops_max);
    if (!journal->entries[op].used) {
        return false;
    }
    journal->entries[op].header.checksum_body ^= 1; /* the body no longer matches */
    vsr_header_set_checksum(&journal->entries[op].header);
    journal->bit_flips++;
    return true;
}

static int sim_superblock_write(const struct vsr_superblock_state *state, void *context)
{
    struct sim_superblock *superblock = context;
    assert(!superblock->pending_used);
    assert(state->view >= superblock->durable.view);
    assert(state->log_view >= superblock->durable.log_view);
    superblock->pending = *state;
    superblock->pending_used = true;
    superblock->due_tick = *superblock->tick + prng_between(superblock->prng, 1, 3);
    return 0;
}

void sim_superblock_init(struct sim_superblock *superblock, struct prng *prng, const uint64_t *tick)
{
    assert(superblock != NULL);
    assert(prng != NULL && tick != NULL);
    memset(superblock, 0, sizeof(*superblock));
    superblock->prng = prng;
    superblock->tick = tick;
}

struct vsr_superblock sim_superblock_interface(struct sim_superblock *superblock)
{
    assert(superblock != NULL);
    struct vsr_superblock interface = {.write = sim_superblock_write, .context = superblock};
    return interface;
}

void sim_superblock_tick(struct sim_superblock *superblock)
{
    assert(superblock->callback != NULL);
    if (superblock->pending_used && superblock->due_tick <= *superblock->tick) {
        superblock->durable = superblock->pending;
        superblock->pending_used = false;
        superblock->callback(superblock->callback_context);
    }
}

void sim_superblock_crash(struct sim_superblock *superblock)
{
    assert(superblock != NULL);
    if (superblock->pending_used && prng_percent(superblock->prng, 50)) {
        superblock->durable = superblock->pending;
    }
    superblock->pending_used = false;
    assert(!superblock->pending_used);
}
