/*
 * Consumer groups: create, delete, join (Iggy's cooperative rebalance with pending
 * revocations), leave and logout (eager round-robin rebalance), revocation completion,
 * generations, and the sync / poll / commit fences read by the data plane
 * (iggy-protocol.md §7.3, Iggy's metadata/src/stm/consumer_group.rs). Group ids are
 * per topic and never reused; member ids are the lowest free within the group. Runs on
 * shard 0 inside metadata_apply; the fences are pure reads.
 */
#include "lib/assert.h"
#include "lib/error.h"
#include "node/metadata.h"
#include "node/metadata_internal.h"

#include <string.h>

static bool metadata_bit_get(const uint64_t *bits, uint32_t index)
{
    return (bits[index / 64] >> (index % 64)) & 1u;
}

static void metadata_bit_set(uint64_t *bits, uint32_t index)
{
    bits[index / 64] |= 1ULL << (index % 64);
}

static void metadata_bits_clear(uint64_t *bits, uint32_t count)
{
    memset(bits, 0, sizeof(uint64_t) * ((count + 63) / 64));
}

/* ---- members and their assignments ---- */

static struct metadata_member *metadata_member_at(struct metadata *metadata, uint32_t slot)
{
    assert(slot < metadata->config.limits.members_max);
    assert(metadata->members[slot].is_used);
    return &metadata->members[slot];
}

static void metadata_member_push(struct metadata *metadata, struct metadata_member *member,
                                 uint32_t partition_id)
{
    uint32_t slot = metadata_slots_take(&metadata->assignment_slots);
    assert(slot != METADATA_NONE); /* callers check capacity first */
    struct metadata_assignment *assignment = &metadata->assignments[slot];
    memset(assignment, 0, sizeof(*assignment));
    assignment->is_used = true;
    assignment->partition_id = partition_id;
    assignment->next = METADATA_NONE;
    if (member->assignment_last == METADATA_NONE) {
        member->assignment_first = slot;
    } else {
        metadata->assignments[member->assignment_last].next = slot;
    }
    member->assignment_last = slot;
    member->assignments_count++;
}

/* Removes partition_id from member's list (order of the others kept). */
static void metadata_member_remove(struct metadata *metadata, struct metadata_member *member,
                                   uint32_t partition_id)
{
    uint32_t previous = METADATA_NONE;
    uint32_t slot = member->assignment_first;
    for (uint32_t step = 0; step < member->assignments_count; step++) {
        struct metadata_assignment *assignment = &metadata->assignments[slot];
        if (assignment->partition_id == partition_id) {
            if (previous == METADATA_NONE) {
                member->assignment_first = assignment->next;
            } else {
                metadata->assignments[previous].next = assignment->next;
            }
            if (member->assignment_last == slot) {
                member->assignment_last = previous;
            }
            memset(assignment, 0, sizeof(*assignment));
            metadata_slots_give(&metadata->assignment_slots, slot);
            member->assignments_count--;
            return;
        }
        previous = slot;
        slot = assignment->next;
    }
}

static void metadata_member_clear(struct metadata *metadata, struct metadata_member *member)
{
    uint32_t slot = member->assignment_first;
    for (uint32_t step = 0; step < member->assignments_count; step++) {
        uint32_t next = metadata->assignments[slot].next;
        memset(&metadata->assignments[slot], 0, sizeof(metadata->assignments[slot]));
        metadata_slots_give(&metadata->assignment_slots, slot);
        slot = next;
    }
    member->assignment_first = METADATA_NONE;
    member->assignment_last = METADATA_NONE;
    member->assignments_count = 0;
}

static uint32_t metadata_member_pending_count(const struct metadata *metadata,
                                              const struct metadata_member *member)
{
    uint32_t count = 0;
    uint32_t slot = member->assignment_first;
    for (uint32_t step = 0; step < member->assignments_count; step++) {
        count += metadata->assignments[slot].is_pending ? 1 : 0;
        slot = metadata->assignments[slot].next;
    }
    return count;
}

static uint32_t metadata_group_member_by_client(const struct metadata *metadata,
                                                const struct metadata_group *group, u128 client)
{
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        if (metadata->members[slot].client == client) {
            return slot;
        }
        slot = metadata->members[slot].next;
    }
    return METADATA_NONE;
}

static uint32_t metadata_group_member_by_id(const struct metadata *metadata,
                                            const struct metadata_group *group, uint32_t id)
{
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        if (metadata->members[slot].id == id) {
            return slot;
        }
        slot = metadata->members[slot].next;
    }
    return METADATA_NONE;
}

static uint32_t metadata_group_assignments_held(const struct metadata *metadata,
                                                const struct metadata_group *group)
{
    uint32_t held = 0;
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        held += metadata->members[slot].assignments_count;
        slot = metadata->members[slot].next;
    }
    return held;
}

/* ---- rebalances ---- */

/*
 * Eager: clears every assignment and pending revocation, then deals the partitions set
 * in scratch.partition_bits (ids < bound, ascending) round-robin over the members in id
 * order. Generation + 1. Partitions that do not fit the assignment table stay unassigned.
 */
static void metadata_group_deal(struct metadata *metadata, struct metadata_group *group,
                                uint32_t bound)
{
    group->generation++;
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        metadata_member_clear(metadata, metadata_member_at(metadata, slot));
        slot = metadata->members[slot].next;
    }
    if (group->members_count == 0) {
        return;
    }
    slot = group->member_first;
    for (uint32_t partition_id = 0; partition_id < bound; partition_id++) {
        if (!metadata_bit_get(metadata->scratch.partition_bits, partition_id)) {
            continue;
        }
        if (metadata->assignment_slots.free_count == 0) {
            break; /* assignments_max too small: creates and joins check it first */
        }
        metadata_member_push(metadata, metadata_member_at(metadata, slot), partition_id);
        slot = metadata->members[slot].next;
        slot = slot == METADATA_NONE ? group->member_first : slot;
    }
}

static void metadata_group_rebalance_eager(struct metadata *metadata, struct metadata_group *group,
                                           uint32_t partitions_count)
{
    metadata_bits_clear(metadata->scratch.partition_bits, partitions_count);
    for (uint32_t partition_id = 0; partition_id < partitions_count; partition_id++) {
        metadata_bit_set(metadata->scratch.partition_bits, partition_id);
    }
    metadata_group_deal(metadata, group, partitions_count);
}

/* Step 1 of the cooperative rebalance: unassigned partitions to members owning none. */
static void metadata_cooperative_unassigned(struct metadata *metadata, struct metadata_group *group,
                                            uint32_t partitions_count)
{
    struct metadata_scratch *scratch = &metadata->scratch;
    metadata_bits_clear(scratch->partition_bits, partitions_count);
    uint32_t idle_count = 0;
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        const struct metadata_member *member = &metadata->members[slot];
        uint32_t assignment = member->assignment_first;
        for (uint32_t index = 0; index < member->assignments_count; index++) {
            uint32_t partition_id = metadata->assignments[assignment].partition_id;
            if (partition_id < partitions_count) {
                metadata_bit_set(scratch->partition_bits, partition_id);
            }
            assignment = metadata->assignments[assignment].next;
        }
        if (member->assignments_count == 0) {
            scratch->idle_members[idle_count++] = slot;
        }
        slot = member->next;
    }
    if (idle_count == 0) {
        return;
    }
    uint32_t given = 0;
    for (uint32_t partition_id = 0; partition_id < partitions_count; partition_id++) {
        if (!metadata_bit_get(scratch->partition_bits, partition_id)) {
            struct metadata_member *member =
                metadata_member_at(metadata, scratch->idle_members[given % idle_count]);
            metadata_member_push(metadata, member, partition_id);
            given++;
        }
    }
}

/* Members owning nothing and not the target of a pending revocation, in id order. */
static uint32_t metadata_cooperative_idle(struct metadata *metadata,
                                          const struct metadata_group *group)
{
    struct metadata_scratch *scratch = &metadata->scratch;
    metadata_bits_clear(scratch->member_bits, metadata->config.limits.members_max);
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        const struct metadata_member *member = &metadata->members[slot];
        uint32_t assignment = member->assignment_first;
        for (uint32_t index = 0; index < member->assignments_count; index++) {
            const struct metadata_assignment *entry = &metadata->assignments[assignment];
            if (entry->is_pending &&
                entry->pending_target_member < metadata->config.limits.members_max) {
                metadata_bit_set(scratch->member_bits, entry->pending_target_member);
            }
            assignment = entry->next;
        }
        slot = member->next;
    }
    uint32_t idle_count = 0;
    slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        const struct metadata_member *member = &metadata->members[slot];
        if (member->assignments_count == 0 && !metadata_bit_get(scratch->member_bits, member->id)) {
            scratch->idle_members[idle_count++] = slot;
        }
        slot = member->next;
    }
    return idle_count;
}

/* Collects one member's excess (its non-pending partitions beyond its allowance, taken
 * from the end of its list) into scratch; returns the new excess count. */
static uint32_t metadata_cooperative_member_excess(struct metadata *metadata, uint32_t member_slot,
                                                   uint32_t fair, uint32_t *remainder,
                                                   uint32_t excess_count)
{
    struct metadata_scratch *scratch = &metadata->scratch;
    const struct metadata_member *member = &metadata->members[member_slot];
    uint32_t effective =
        member->assignments_count - metadata_member_pending_count(metadata, member);
    uint32_t allowed = *remainder > 0 ? fair + 1 : fair;
    if (effective > fair && *remainder > 0) {
        (*remainder)--;
    }
    if (effective <= allowed) {
        return excess_count;
    }
    /* The last (effective - allowed) non-pending entries, the last one first. */
    uint32_t skip = allowed;
    uint32_t first = excess_count;
    uint32_t slot = member->assignment_first;
    for (uint32_t step = 0; step < member->assignments_count; step++) {
        const struct metadata_assignment *entry = &metadata->assignments[slot];
        if (!entry->is_pending) {
            if (skip > 0) {
                skip--;
            } else {
                scratch->excess_partitions[excess_count] = entry->partition_id;
                scratch->excess_members[excess_count] = member_slot;
                excess_count++;
            }
        }
        slot = entry->next;
    }
    for (uint32_t low = first, high = excess_count - 1; low < high; low++, high--) {
        uint32_t swap = scratch->excess_partitions[low];
        scratch->excess_partitions[low] = scratch->excess_partitions[high];
        scratch->excess_partitions[high] = swap;
    }
    return excess_count;
}

static void metadata_pending_mark(struct metadata *metadata, struct metadata_member *member,
                                  uint32_t partition_id, uint32_t target_id, uint64_t now_us)
{
    uint32_t slot = member->assignment_first;
    for (uint32_t step = 0; step < member->assignments_count; step++) {
        struct metadata_assignment *entry = &metadata->assignments[slot];
        if (entry->partition_id == partition_id) {
            entry->is_pending = true;
            entry->pending_target_member = target_id;
            entry->pending_created_at_us = now_us;
            return;
        }
        slot = entry->next;
    }
    unreachable_code();
}

/*
 * Cooperative (join): generation + 1; unassigned partitions go to idle members; each
 * over-assigned member's excess moves round-robin to idle members, at once when it has
 * nothing in flight, else as a pending revocation (still owned, no longer pollable).
 */
static void metadata_group_rebalance_cooperative(struct metadata *metadata,
                                                 struct metadata_group *group,
                                                 uint32_t partitions_count, uint64_t now_us)
{
    group->generation++;
    if (group->members_count == 0 || partitions_count == 0) {
        return;
    }
    metadata_cooperative_unassigned(metadata, group, partitions_count);
    uint32_t idle_count = metadata_cooperative_idle(metadata, group);
    if (idle_count == 0) {
        return;
    }
    uint32_t fair = partitions_count / group->members_count;
    uint32_t remainder = partitions_count % group->members_count;
    uint32_t excess_count = 0;
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        excess_count =
            metadata_cooperative_member_excess(metadata, slot, fair, &remainder, excess_count);
        slot = metadata->members[slot].next;
    }
    struct metadata_scratch *scratch = &metadata->scratch;
    for (uint32_t index = 0; index < excess_count; index++) {
        uint32_t partition_id = scratch->excess_partitions[index];
        struct metadata_member *source =
            metadata_member_at(metadata, scratch->excess_members[index]);
        struct metadata_member *target =
            metadata_member_at(metadata, scratch->idle_members[index % idle_count]);
        if (partition_id < partitions_count &&
            metadata_bit_get(scratch->in_flight_bits, partition_id)) {
            metadata_pending_mark(metadata, source, partition_id, target->id, now_us);
        } else {
            metadata_member_remove(metadata, source, partition_id);
            metadata_member_push(metadata, target, partition_id);
        }
    }
}

/* ---- topic-level helpers used by metadata_streams.c ---- */

bool metadata_topic_groups_can_rebalance(const struct metadata *metadata,
                                         const struct metadata_topic *topic,
                                         uint32_t partitions_count)
{
    assert(metadata != NULL);
    assert(topic != NULL && topic->is_used);
    uint64_t needed = 0;
    uint64_t held = 0;
    uint32_t slot = topic->group_first;
    for (uint32_t step = 0; step < topic->groups_count; step++) {
        const struct metadata_group *group = &metadata->groups[slot];
        if (group->members_count > 0) {
            needed += partitions_count;
            held += metadata_group_assignments_held(metadata, group);
        }
        slot = group->next;
    }
    return needed <= held + metadata->assignment_slots.free_count;
}

void metadata_topic_groups_rebalance(struct metadata *metadata, struct metadata_topic *topic)
{
    assert(metadata != NULL);
    assert(topic != NULL && topic->is_used);
    uint32_t slot = topic->group_first;
    for (uint32_t step = 0; step < topic->groups_count; step++) {
        metadata_group_rebalance_eager(metadata, &metadata->groups[slot], topic->partitions_count);
        slot = metadata->groups[slot].next;
    }
}

static void metadata_group_member_unlink(struct metadata *metadata, struct metadata_group *group,
                                         uint32_t member_slot)
{
    struct metadata_member *member = metadata_member_at(metadata, member_slot);
    metadata_member_clear(metadata, member);
    if (group->member_first == member_slot) {
        group->member_first = member->next;
    } else {
        uint32_t previous = group->member_first;
        for (uint32_t step = 0;
             step < group->members_count && metadata->members[previous].next != member_slot;
             step++) {
            previous = metadata->members[previous].next;
        }
        assert(metadata->members[previous].next == member_slot);
        metadata->members[previous].next = member->next;
    }
    memset(member, 0, sizeof(*member));
    metadata_slots_give(&metadata->member_slots, member_slot);
    group->members_count--;
}

static void metadata_group_release(struct metadata *metadata, uint32_t group_slot)
{
    struct metadata_group *group = &metadata->groups[group_slot];
    assert(group->is_used);
    for (uint32_t step = 0; step < metadata->config.limits.members_max; step++) {
        if (group->member_first == METADATA_NONE) {
            break;
        }
        metadata_group_member_unlink(metadata, group, group->member_first);
    }
    assert(group->members_count == 0);
    memset(group, 0, sizeof(*group));
    metadata_slots_give(&metadata->group_slots, group_slot);
}

void metadata_topic_groups_release(struct metadata *metadata, struct metadata_topic *topic)
{
    assert(metadata != NULL);
    assert(topic != NULL && topic->is_used);
    uint32_t slot = topic->group_first;
    for (uint32_t step = 0; step < topic->groups_count; step++) {
        uint32_t next = metadata->groups[slot].next;
        metadata_group_release(metadata, slot);
        slot = next;
    }
    topic->group_first = METADATA_NONE;
    topic->group_last = METADATA_NONE;
    topic->groups_count = 0;
}

void metadata_groups_remove_client(struct metadata *metadata, u128 client)
{
    assert(metadata != NULL);
    assert(client != 0);
    for (uint32_t slot = 0; slot < metadata->config.limits.consumer_groups_max; slot++) {
        struct metadata_group *group = &metadata->groups[slot];
        if (!group->is_used) {
            continue;
        }
        uint32_t member_slot = metadata_group_member_by_client(metadata, group, client);
        if (member_slot == METADATA_NONE) {
            continue;
        }
        metadata_group_member_unlink(metadata, group, member_slot);
        const struct metadata_topic *topic =
            metadata_topic_get(metadata, group->stream_id, group->topic_id);
        assert(topic != NULL);
        metadata_group_rebalance_eager(metadata, group, topic->partitions_count);
    }
}

/* ---- replies ---- */

void metadata_write_group_details(struct metadata_writer *writer, const struct metadata *metadata,
                                  const struct metadata_group *group)
{
    assert(writer != NULL);
    assert(group != NULL && group->is_used);
    const struct metadata_topic *topic =
        metadata_topic_get(metadata, group->stream_id, group->topic_id);
    assert(topic != NULL);
    metadata_writer_u32(writer, group->id);
    metadata_writer_u32(writer, topic->partitions_count);
    metadata_writer_u32(writer, group->members_count);
    metadata_writer_name(writer, &group->name);
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        const struct metadata_member *member = &metadata->members[slot];
        metadata_writer_u32(writer, member->id);
        metadata_writer_u32(writer, member->assignments_count);
        uint32_t assignment = member->assignment_first;
        for (uint32_t index = 0; index < member->assignments_count; index++) {
            metadata_writer_u32(writer, metadata->assignments[assignment].partition_id);
            assignment = metadata->assignments[assignment].next;
        }
        slot = member->next;
    }
}

/* ---- ops ---- */

/* Resolves stream, topic (and group when identifier is not NULL), checks TR. */
static uint32_t metadata_group_gate(struct metadata_apply_state *state,
                                    const Runnel__Metadata__Identifier *stream_identifier,
                                    const Runnel__Metadata__Identifier *topic_identifier,
                                    const Runnel__Metadata__Identifier *group_identifier,
                                    struct metadata_topic **topic_out, uint32_t *group_slot_out)
{
    struct metadata *metadata = state->metadata;
    uint32_t stream_id = metadata_resolve_stream(metadata, stream_identifier);
    if (stream_id == METADATA_NONE) {
        return METADATA_STATUS_STREAM_NOT_FOUND;
    }
    uint32_t topic_slot = metadata_resolve_topic_slot(metadata, stream_id, topic_identifier);
    if (topic_slot == METADATA_NONE) {
        return METADATA_STATUS_TOPIC_NOT_FOUND;
    }
    *topic_out = &metadata->topics[topic_slot];
    if (!metadata_user_can(metadata, state->context->user_id, METADATA_ACTION_TOPIC_READ, stream_id,
                           (*topic_out)->id)) {
        return METADATA_STATUS_UNAUTHORIZED;
    }
    if (group_identifier != NULL) {
        *group_slot_out = metadata_resolve_group_slot(metadata, *topic_out, group_identifier);
        if (*group_slot_out == METADATA_NONE) {
            return METADATA_STATUS_GROUP_NOT_FOUND;
        }
    }
    return METADATA_STATUS_OK;
}

static uint32_t metadata_create_group(struct metadata_apply_state *state,
                                      const Runnel__Metadata__CreateConsumerGroup *request)
{
    struct metadata *metadata = state->metadata;
    struct metadata_topic *topic = NULL;
    uint32_t unused = METADATA_NONE;
    uint32_t status =
        metadata_group_gate(state, request->stream, request->topic, NULL, &topic, &unused);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    if (!metadata_name_is_valid(&request->name)) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    Runnel__Metadata__Identifier by_name = RUNNEL__METADATA__IDENTIFIER__INIT;
    by_name.has_name = true;
    by_name.name = request->name;
    if (metadata_resolve_group_slot(metadata, topic, &by_name) != METADATA_NONE) {
        return METADATA_STATUS_GROUP_NAME_EXISTS;
    }
    uint32_t slot = metadata_slots_take(&metadata->group_slots);
    if (slot == METADATA_NONE || topic->group_id_next == METADATA_NONE) {
        return METADATA_STATUS_ERROR; /* consumer_groups_max */
    }
    struct metadata_group *group = &metadata->groups[slot];
    memset(group, 0, sizeof(*group));
    group->is_used = true;
    group->stream_id = topic->stream_id;
    group->topic_id = topic->id;
    group->id = topic->group_id_next++;
    group->next = METADATA_NONE;
    group->member_first = METADATA_NONE;
    metadata_name_set(&group->name, &request->name);
    if (topic->group_last == METADATA_NONE) {
        topic->group_first = slot;
    } else {
        metadata->groups[topic->group_last].next = slot;
    }
    topic->group_last = slot;
    topic->groups_count++;
    metadata_write_group_details(state->payload, metadata, group);
    return METADATA_STATUS_OK;
}

static uint32_t metadata_delete_group(struct metadata_apply_state *state,
                                      const Runnel__Metadata__DeleteConsumerGroup *request)
{
    struct metadata *metadata = state->metadata;
    struct metadata_topic *topic = NULL;
    uint32_t slot = METADATA_NONE;
    uint32_t status =
        metadata_group_gate(state, request->stream, request->topic, request->group, &topic, &slot);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    uint32_t previous = METADATA_NONE;
    uint32_t cursor = topic->group_first;
    for (uint32_t step = 0; step < topic->groups_count && cursor != slot; step++) {
        previous = cursor;
        cursor = metadata->groups[cursor].next;
    }
    assert(cursor == slot);
    uint32_t next = metadata->groups[slot].next;
    if (previous == METADATA_NONE) {
        topic->group_first = next;
    } else {
        metadata->groups[previous].next = next;
    }
    if (topic->group_last == slot) {
        topic->group_last = previous;
    }
    topic->groups_count--;
    metadata_group_release(metadata, slot);
    return METADATA_STATUS_OK;
}

/* Inserts a member with the lowest free id of the group, keeping id order. */
static struct metadata_member *
metadata_group_member_insert(struct metadata *metadata, struct metadata_group *group, u128 client)
{
    uint32_t slot = metadata_slots_take(&metadata->member_slots);
    assert(slot != METADATA_NONE);
    uint32_t id = 0;
    uint32_t previous = METADATA_NONE;
    uint32_t cursor = group->member_first;
    for (uint32_t step = 0; step < group->members_count && metadata->members[cursor].id == id;
         step++) {
        id++;
        previous = cursor;
        cursor = metadata->members[cursor].next;
    }
    struct metadata_member *member = &metadata->members[slot];
    memset(member, 0, sizeof(*member));
    member->is_used = true;
    member->group_slot = (uint32_t)(group - metadata->groups);
    member->id = id;
    member->client = client;
    member->assignment_first = METADATA_NONE;
    member->assignment_last = METADATA_NONE;
    member->next = cursor;
    if (previous == METADATA_NONE) {
        group->member_first = slot;
    } else {
        metadata->members[previous].next = slot;
    }
    group->members_count++;
    return member;
}

static uint32_t metadata_join_group(struct metadata_apply_state *state,
                                    const Runnel__Metadata__JoinConsumerGroup *request)
{
    struct metadata *metadata = state->metadata;
    struct metadata_topic *topic = NULL;
    uint32_t slot = METADATA_NONE;
    uint32_t status =
        metadata_group_gate(state, request->stream, request->topic, request->group, &topic, &slot);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    struct metadata_group *group = &metadata->groups[slot];
    if (state->context->client == 0) {
        return METADATA_STATUS_INVALID_COMMAND;
    }
    if (metadata_group_member_by_client(metadata, group, state->context->client) != METADATA_NONE) {
        return METADATA_STATUS_OK; /* idempotent re-join */
    }
    uint32_t held = metadata_group_assignments_held(metadata, group);
    if (metadata->member_slots.free_count == 0 ||
        topic->partitions_count > held + metadata->assignment_slots.free_count) {
        return METADATA_STATUS_ERROR; /* members_max or assignments_max */
    }
    metadata_bits_clear(metadata->scratch.in_flight_bits, topic->partitions_count);
    for (size_t index = 0; index < request->n_in_flight; index++) {
        if (request->in_flight[index] < topic->partitions_count) {
            metadata_bit_set(metadata->scratch.in_flight_bits, request->in_flight[index]);
        }
    }
    metadata_group_member_insert(metadata, group, state->context->client);
    metadata_group_rebalance_cooperative(metadata, group, topic->partitions_count,
                                         state->context->timestamp_us);
    return METADATA_STATUS_OK;
}

static uint32_t metadata_leave_group(struct metadata_apply_state *state,
                                     const Runnel__Metadata__LeaveConsumerGroup *request)
{
    struct metadata *metadata = state->metadata;
    struct metadata_topic *topic = NULL;
    uint32_t slot = METADATA_NONE;
    uint32_t status =
        metadata_group_gate(state, request->stream, request->topic, request->group, &topic, &slot);
    if (status != METADATA_STATUS_OK) {
        return status;
    }
    struct metadata_group *group = &metadata->groups[slot];
    uint32_t member_slot = metadata_group_member_by_client(metadata, group, state->context->client);
    if (member_slot == METADATA_NONE) {
        return METADATA_STATUS_GROUP_MEMBER_NOT_FOUND;
    }
    metadata_group_member_unlink(metadata, group, member_slot);
    metadata_group_rebalance_eager(metadata, group, topic->partitions_count);
    return METADATA_STATUS_OK;
}

/* Target gone: deal every owned partition plus partition_id afresh (Iggy's fallback). */
static void metadata_revocation_fallback(struct metadata *metadata, struct metadata_group *group,
                                         uint32_t partitions_count, uint32_t partition_id)
{
    metadata_bits_clear(metadata->scratch.partition_bits, partitions_count);
    uint32_t slot = group->member_first;
    for (uint32_t step = 0; step < group->members_count; step++) {
        const struct metadata_member *member = &metadata->members[slot];
        uint32_t assignment = member->assignment_first;
        for (uint32_t index = 0; index < member->assignments_count; index++) {
            uint32_t owned = metadata->assignments[assignment].partition_id;
            if (owned < partitions_count) {
                metadata_bit_set(metadata->scratch.partition_bits, owned);
            }
            assignment = metadata->assignments[assignment].next;
        }
        slot = member->next;
    }
    if (partition_id < partitions_count) {
        metadata_bit_set(metadata->scratch.partition_bits, partition_id);
    }
    metadata_group_deal(metadata, group, partitions_count);
}

static uint32_t metadata_complete_revocation(struct metadata_apply_state *state,
                                             const Runnel__Metadata__CompleteRevocation *request)
{
    struct metadata *metadata = state->metadata;
    const struct metadata_topic *topic =
        metadata_topic_get(metadata, request->stream_id, request->topic_id);
    const struct metadata_group *found =
        metadata_group_get(metadata, request->stream_id, request->topic_id, request->group_id);
    if (topic == NULL || found == NULL) {
        return METADATA_STATUS_OK; /* stale: the group is gone */
    }
    struct metadata_group *group = &metadata->groups[found - metadata->groups];
    u128 source_client = ((u128)request->source_client_high << 64) | request->source_client_low;
    uint32_t source_slot = metadata_group_member_by_client(metadata, group, source_client);
    if (source_slot == METADATA_NONE) {
        return METADATA_STATUS_OK;
    }
    struct metadata_member *source = metadata_member_at(metadata, source_slot);
    uint32_t slot = source->assignment_first;
    for (uint32_t step = 0; step < source->assignments_count; step++) {
        const struct metadata_assignment *entry = &metadata->assignments[slot];
        if (entry->is_pending && entry->partition_id == request->partition_id) {
            uint32_t target_id = entry->pending_target_member;
            metadata_member_remove(metadata, source, request->partition_id);
            uint32_t target_slot = metadata_group_member_by_id(metadata, group, target_id);
            if (target_slot == METADATA_NONE) {
                metadata_revocation_fallback(metadata, group, topic->partitions_count,
                                             request->partition_id);
            } else {
                metadata_member_push(metadata, metadata_member_at(metadata, target_slot),
                                     request->partition_id);
                group->generation++;
            }
            return METADATA_STATUS_OK;
        }
        slot = entry->next;
    }
    return METADATA_STATUS_OK; /* already completed */
}

uint32_t metadata_apply_group_op(struct metadata_apply_state *state,
                                 const Runnel__Metadata__MetadataOperation *operation)
{
    assert(state != NULL);
    assert(operation != NULL);
    switch (operation->operation_case) {
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_CREATE_CONSUMER_GROUP:
        return metadata_create_group(state, operation->create_consumer_group);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_DELETE_CONSUMER_GROUP:
        return metadata_delete_group(state, operation->delete_consumer_group);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_JOIN_CONSUMER_GROUP:
        return metadata_join_group(state, operation->join_consumer_group);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_LEAVE_CONSUMER_GROUP:
        return metadata_leave_group(state, operation->leave_consumer_group);
    case RUNNEL__METADATA__METADATA_OPERATION__OPERATION_COMPLETE_REVOCATION:
        if (state->context->user_id != METADATA_ROOT_USER_ID) {
            return METADATA_STATUS_UNAUTHORIZED; /* server-originated only */
        }
        return metadata_complete_revocation(state, operation->complete_revocation);
    default:
        unreachable_code();
    }
    return METADATA_STATUS_INVALID_COMMAND;
}

/* ---- fences (pure reads) ---- */

int metadata_group_sync(const struct metadata *metadata, const struct metadata_group *group,
                        u128 client, uint64_t *generation_out, uint32_t *partitions,
                        uint32_t partitions_capacity)
{
    assert(metadata != NULL && group != NULL && group->is_used);
    assert(generation_out != NULL && (partitions != NULL || partitions_capacity == 0));
    uint32_t member_slot = metadata_group_member_by_client(metadata, group, client);
    if (member_slot == METADATA_NONE) {
        return -RUNNEL_ENOTFOUND;
    }
    const struct metadata_member *member = &metadata->members[member_slot];
    *generation_out = group->generation;
    uint32_t count = 0;
    uint32_t slot = member->assignment_first;
    for (uint32_t step = 0; step < member->assignments_count; step++) {
        const struct metadata_assignment *entry = &metadata->assignments[slot];
        if (!entry->is_pending) {
            if (count == partitions_capacity) {
                return -RUNNEL_EFULL;
            }
            partitions[count++] = entry->partition_id;
        }
        slot = entry->next;
    }
    return (int)count;
}

static const struct metadata_assignment *
metadata_group_assignment(const struct metadata *metadata, const struct metadata_group *group,
                          u128 client, uint32_t partition_id)
{
    uint32_t member_slot = metadata_group_member_by_client(metadata, group, client);
    if (member_slot == METADATA_NONE) {
        return NULL;
    }
    const struct metadata_member *member = &metadata->members[member_slot];
    uint32_t slot = member->assignment_first;
    for (uint32_t step = 0; step < member->assignments_count; step++) {
        if (metadata->assignments[slot].partition_id == partition_id) {
            return &metadata->assignments[slot];
        }
        slot = metadata->assignments[slot].next;
    }
    return NULL;
}

bool metadata_group_can_poll(const struct metadata *metadata, const struct metadata_group *group,
                             u128 client, uint32_t partition_id)
{
    assert(metadata != NULL);
    assert(group != NULL && group->is_used);
    const struct metadata_assignment *entry =
        metadata_group_assignment(metadata, group, client, partition_id);
    return entry != NULL && !entry->is_pending;
}

bool metadata_group_can_commit(const struct metadata *metadata, const struct metadata_group *group,
                               u128 client, uint32_t partition_id)
{
    assert(metadata != NULL);
    assert(group != NULL && group->is_used);
    return metadata_group_assignment(metadata, group, client, partition_id) != NULL;
}
