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
    journal->op_first = 0;
}

static void sim_journal_misdirect(struct sim_journal *journal, uint64_t op);
static int sim_journal_read(uint64_t op, struct vsr_header *header_out, void *body_out,
                            uint32_t body_size_max, void *context);

static struct sim_journal_entry *sim_journal_slot(const struct sim_journal *journal, uint64_t op)
{
    assert(journal->entries != NULL);
    return &journal->entries[op % (journal->ops_max + 1)];
}

/* Lands a completed write in its slot unless the slot already holds a later op. */
static bool sim_journal_land(struct sim_journal *journal, const struct sim_journal_entry *entry)
{
    struct sim_journal_entry *slot = sim_journal_slot(journal, entry->op);
    assert(entry->used);
    if (entry->op < journal->op_first) {
        return false; /* a write of the log before a restart */
    }
    if (slot->used && slot->op > entry->op) {
        return false; /* a write of an op the ring has moved past */
    }
    *slot = *entry;
    return true;
}

static int sim_journal_write(const struct vsr_header *header, const void *body, void *context)
{
    struct sim_journal *journal = context;
    uint64_t op = header->u.prepare.op;
    uint32_t body_size = header->size - VSR_HEADER_SIZE;
    assert(op >= 1);
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
        write->entry.op = op;
        write->entry.durable_checksum = header->checksum; /* once it lands completed */
        write->due_tick = *journal->tick + prng_between(journal->prng, 1, journal->write_ticks_max);
        return 0;
    }
    return -RUNNEL_EFULL;
}

static int sim_journal_read(uint64_t op, struct vsr_header *header_out, void *body_out,
                            uint32_t body_size_max, void *context)
{
    struct sim_journal *journal = context;
    assert(op >= 1);
    assert(header_out != NULL);
    const struct sim_journal_entry *entry = sim_journal_slot(journal, op);
    if (!entry->used || entry->op != op) {
        return -RUNNEL_ENOTFOUND; /* never written, or written over one ring later */
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
    for (uint64_t slot = 0; slot <= journal->ops_max; slot++) {
        if (journal->entries[slot].op >= op_min) {
            journal->entries[slot].used = false;
        }
    }
}

static uint64_t sim_journal_op_first(void *context)
{
    const struct sim_journal *journal = context;
    assert(journal->entries != NULL);
    return journal->op_first > 1 ? journal->op_first : 1;
}

/* Drops every entry; writes in flight of lower ops land nowhere (reported as not held). */
static int sim_journal_restart(const struct vsr_header *header, void *context)
{
    struct sim_journal *journal = context;
    assert(header->u.prepare.op >= 1);
    for (uint64_t slot = 0; slot <= journal->ops_max; slot++) {
        journal->entries[slot].used = false;
    }
    journal->op_first = header->u.prepare.op;
    return 0;
}

void sim_journal_prefix_drop(struct sim_journal *journal, uint64_t op_max)
{
    assert(journal->entries != NULL);
    if (op_max < journal->op_first) {
        return; /* dropped already */
    }
    for (uint64_t slot = 0; slot <= journal->ops_max; slot++) {
        if (journal->entries[slot].op <= op_max) {
            journal->entries[slot].used = false;
        }
    }
    journal->op_first = op_max + 1;
}

static uint64_t sim_journal_op_max(void *context)
{
    struct sim_journal *journal = context;
    assert(journal->entries != NULL);
    uint64_t op_max = 0;
    for (uint64_t slot = 0; slot <= journal->ops_max; slot++) {
        const struct sim_journal_entry *entry = &journal->entries[slot];
        if (entry->used && entry->op > op_max) {
            op_max = entry->op;
        }
    }
    return op_max;
}

struct vsr_journal sim_journal_interface(struct sim_journal *journal)
{
    assert(journal != NULL);
    struct vsr_journal interface = {
        .write = sim_journal_write,
        .read = sim_journal_read,
        .truncate = sim_journal_truncate,
        .op_max = sim_journal_op_max,
        .op_first = sim_journal_op_first,
        .restart = sim_journal_restart,
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
        uint64_t op = write->entry.op;
        bool landed = sim_journal_land(journal, &write->entry);
        write->used = false;
        if (landed && journal->faults && op > 1 &&
            prng_chance(journal->prng, journal->misdirect_per_mille, 1000)) {
            sim_journal_misdirect(journal, op);
        }
        u128 checksum = write->entry.header.checksum;
        if (op < journal->op_first) {
            checksum ^= 1; /* dropped by a restart: not held (never a prepare's checksum) */
        }
        journal->callback(op, checksum, journal->callback_context);
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
    assert(op > 1);
    struct sim_journal_entry *own = sim_journal_slot(journal, op);
    assert(own->used && own->op == op);
    uint64_t lowest = op > journal->ops_max ? op - journal->ops_max : 1;
    uint64_t victim_op = prng_between(journal->prng, lowest, op - 1);
    struct sim_journal_entry *victim = sim_journal_slot(journal, victim_op);
    uint64_t place = victim->used ? victim->op : victim_op;
    u128 durable = victim->used ? victim->durable_checksum : 0;
    *victim = *own;
    victim->op = place; /* read there: the op does not match its place */
    victim->durable_checksum = durable;
    own->header.checksum ^= 1; /* what the record's place holds is not it */
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
        uint32_t choice = (uint32_t)prng_range(journal->prng, 3);
        if (choice == 0) {
            (void)sim_journal_land(journal, &write->entry); /* kept */
        } else if (choice == 1 && journal->faults && sim_journal_land(journal, &write->entry)) {
            struct sim_journal_entry *torn = sim_journal_slot(journal, write->entry.op);
            sim_journal_entry_flip(journal, torn);
            if (!sim_journal_is_intact(journal, write->entry.op, write->entry.header.checksum)) {
                torn->durable_checksum = 0; /* never completed: no ack can name it */
            }
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
    uint64_t slot = prng_range(journal->prng, journal->ops_max + 1);
    if (journal->entries[slot].used) {
        sim_journal_entry_flip(journal, &journal->entries[slot]);
        journal->bit_flips++;
    }
}

bool sim_journal_flip_op(struct sim_journal *journal, uint64_t op)
{
    assert(op >= 1);
    struct sim_journal_entry *entry = sim_journal_slot(journal, op);
    if (!entry->used || entry->op != op) {
        return false;
    }
    entry->header.checksum_body ^= 1; /* the body no longer matches */
    vsr_header_set_checksum(&entry->header);
    journal->bit_flips++;
    return true;
}

bool sim_journal_holds(const struct sim_journal *journal, uint64_t op, u128 checksum)
{
    assert(op >= 1);
    assert(checksum != 0);
    const struct sim_journal_entry *entry = sim_journal_slot(journal, op);
    return entry->used && entry->op == op && entry->durable_checksum == checksum;
}

bool sim_journal_is_intact(const struct sim_journal *journal, uint64_t op, u128 checksum)
{
    struct vsr_header header;
    int result = sim_journal_read(op, &header, NULL, 0, (void *)journal);
    return result == 0 && header.checksum == checksum;
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

static int sim_checkpoint_write(uint64_t offset, const void *bytes, uint32_t size_bytes, bool last,
                                void *context)
{
    struct sim_superblock *superblock = context;
    assert(!superblock->chunk_pending);
    assert(size_bytes <= SIM_CHUNK_SIZE_MAX);
    if (superblock->chunk == NULL) {
        superblock->chunk = calloc(1, SIM_CHUNK_SIZE_MAX);
        superblock->checkpoints[0].bytes = calloc(1, SIM_CHECKPOINT_SIZE_MAX);
        superblock->checkpoints[1].bytes = calloc(1, SIM_CHECKPOINT_SIZE_MAX);
        if (superblock->chunk == NULL || superblock->checkpoints[0].bytes == NULL ||
            superblock->checkpoints[1].bytes == NULL) {
            sim_superblock_deinit(superblock);
            return -ENOMEM;
        }
    }
    assert(offset + size_bytes <= SIM_CHECKPOINT_SIZE_MAX);
    memcpy(superblock->chunk, bytes, size_bytes);
    superblock->chunk_pending = true;
    superblock->chunk_offset = offset;
    superblock->chunk_size = size_bytes;
    superblock->chunk_last = last;
    superblock->chunk_due_tick = *superblock->tick + prng_between(superblock->prng, 1, 3);
    return 0;
}

static int sim_checkpoint_read(u128 checksum, uint64_t offset, void *bytes, uint64_t size_bytes,
                               void *context)
{
    struct sim_superblock *superblock = context;
    assert(bytes != NULL);
    for (uint32_t index = 0; index < 2; index++) {
        const struct sim_checkpoint_copy *copy = &superblock->checkpoints[index];
        if (copy->complete && copy->checksum == checksum) {
            if (offset + size_bytes > copy->size_bytes) {
                return -RUNNEL_ENOTFOUND;
            }
            memcpy(bytes, copy->bytes + offset, size_bytes);
            return 0;
        }
    }
    return -RUNNEL_ENOTFOUND;
}

/* Lands the pending chunk: a first chunk starts a new copy, never the one named durably. */
static void sim_checkpoint_land(struct sim_superblock *superblock)
{
    assert(superblock->chunk_pending);
    if (superblock->chunk_offset == 0) {
        const struct sim_checkpoint_copy *first = &superblock->checkpoints[0];
        bool named = first->complete && superblock->durable.checkpoint_op != 0 &&
                     first->checksum == superblock->durable.checkpoint_checksum;
        superblock->building = named ? 1 : 0;
        superblock->checkpoints[superblock->building].complete = false;
    }
    struct sim_checkpoint_copy *copy = &superblock->checkpoints[superblock->building];
    assert(!copy->complete);
    memcpy(copy->bytes + superblock->chunk_offset, superblock->chunk, superblock->chunk_size);
    if (superblock->chunk_last) {
        copy->size_bytes = superblock->chunk_offset + superblock->chunk_size;
        copy->checksum = vsr_checksum(copy->bytes, copy->size_bytes);
        copy->complete = true;
        superblock->checkpoints_written++;
    }
    superblock->chunk_pending = false;
}

void sim_superblock_deinit(struct sim_superblock *superblock)
{
    assert(superblock != NULL);
    free(superblock->chunk);
    free(superblock->checkpoints[0].bytes);
    free(superblock->checkpoints[1].bytes);
    superblock->chunk = NULL;
    superblock->checkpoints[0].bytes = NULL;
    superblock->checkpoints[1].bytes = NULL;
    superblock->checkpoints[0].complete = false;
    superblock->checkpoints[1].complete = false;
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
    struct vsr_superblock interface = {.write = sim_superblock_write,
                                       .context = superblock,
                                       .checkpoint_write = sim_checkpoint_write,
                                       .checkpoint_read = sim_checkpoint_read,
                                       .checkpoint_context = superblock};
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
    if (superblock->chunk_pending && superblock->chunk_due_tick <= *superblock->tick) {
        sim_checkpoint_land(superblock);
        assert(superblock->checkpoint_callback != NULL);
        superblock->checkpoint_callback(superblock->callback_context);
    }
}

void sim_superblock_crash(struct sim_superblock *superblock)
{
    assert(superblock != NULL);
    if (superblock->pending_used && prng_percent(superblock->prng, 50)) {
        superblock->durable = superblock->pending;
    }
    superblock->pending_used = false;
    superblock->chunk_pending = false; /* an incomplete checkpoint is never read */
    if (!superblock->checkpoints[superblock->building].complete) {
        superblock->checkpoints[superblock->building].size_bytes = 0;
    }
    assert(!superblock->pending_used);
}
