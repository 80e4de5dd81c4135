/*
 * The replica's side of shared heartbeats (vsr/heartbeat.h, issue 4 item 9): the entry it
 * contributes to its shard's heartbeat, and what a backup makes of the entries and rounds
 * of its primary's shard. Runs on the shard that owns the group.
 */
#include "lib/assert.h"
#include "vsr/replica_private.h"

#include <string.h>

void vsr_replica_heartbeat_entry(const struct vsr_replica *replica,
                                 struct vsr_heartbeat_entry *entry)
{
    assert(entry != NULL);
    assert(replica->status != 0);
    memset(entry, 0, sizeof(*entry));
    entry->group = replica->config.group;
    /* A recovering replica's raised view counts once durable (vsr_replica_recovering_check). */
    entry->view = replica->recovering ? replica->durable.view : replica->view;
    if (!vsr_replica_is_primary(replica) || !vsr_replica_view_is_durable(replica) ||
        vsr_replica_is_abdicating(replica)) {
        return; /* what tick_primary would not send a commit heartbeat for */
    }
    entry->flags = VSR_HEARTBEAT_ENTRY_LEADING;
    entry->commit = replica->commit_max;
    entry->commit_checksum = vsr_entry_at(replica, replica->commit_max)->checksum;
    entry->checkpoint_op = replica->checkpoint_quorum_op;
    assert(entry->commit_checksum != 0);
}

/* True when the untrusted entry is consistent for a message from peer. */
static bool vsr_replica_heartbeat_entry_is_valid(const struct vsr_replica *replica, uint8_t peer,
                                                 const struct vsr_heartbeat_entry *entry)
{
    bool is_leading = (entry->flags & VSR_HEARTBEAT_ENTRY_LEADING) != 0;
    if (peer >= replica->config.replica_count || peer == replica->config.replica ||
        (entry->flags & ~(uint32_t)VSR_HEARTBEAT_ENTRY_LEADING) != 0) {
        return false;
    }
    if (is_leading) {
        return vsr_replica_primary_index(replica, entry->view) == peer &&
               entry->commit_checksum != 0;
    }
    return entry->commit == 0 && entry->commit_checksum == 0 && entry->checkpoint_op == 0;
}

void vsr_replica_on_heartbeat_entry(struct vsr_replica *replica, uint8_t peer, uint32_t link,
                                    const struct vsr_heartbeat_entry *entry)
{
    assert(entry != NULL);
    assert(replica->status != 0);
    if (!vsr_group_is_equal(&entry->group, &replica->config.group)) {
        replica->stats.messages_other_group++;
        return;
    }
    if (!vsr_replica_heartbeat_entry_is_valid(replica, peer, entry)) {
        replica->stats.messages_invalid++;
        return;
    }
    vsr_replica_recovering_hear(replica, peer, entry->view); /* the peer's view now */
    if (replica->depth > 0) {
        replica->stats.messages_reentrant++; /* the next round or sweep carries it again */
        return;
    }
    bool is_about_vouch =
        replica->vouch_known && replica->vouch_peer == peer && replica->vouch_link == link;
    if (peer != vsr_replica_primary_index(replica, entry->view) && !is_about_vouch) {
        return; /* a backup's entry: says nothing about the primary this group relies on */
    }
    replica->vouch_known = true;
    replica->vouch_leading = (entry->flags & VSR_HEARTBEAT_ENTRY_LEADING) != 0;
    replica->vouch_peer = peer;
    replica->vouch_view = entry->view;
    replica->vouch_link = link;
    if (!replica->vouch_leading) {
        return;
    }
    replica->heard_tick[peer] = replica->tick;
    struct vsr_header_commit commit;
    memset(&commit, 0, sizeof(commit));
    commit.commit = entry->commit;
    commit.commit_checksum = entry->commit_checksum;
    commit.checkpoint_op = entry->checkpoint_op;
    replica->depth++;
    vsr_replica_commit_heard(replica, peer, entry->view, &commit);
    replica->depth--;
}

bool vsr_replica_on_heartbeat(struct vsr_replica *replica, uint8_t peer, uint32_t link)
{
    assert(replica->status != 0);
    assert(peer < replica->config.replica_count);
    if (replica->status != VSR_STATUS_NORMAL || vsr_replica_is_primary(replica) ||
        vsr_replica_primary_index(replica, replica->view) != peer || replica->depth > 0) {
        return false;
    }
    bool is_from_there =
        replica->vouch_known && replica->vouch_peer == peer && replica->vouch_link == link;
    if (is_from_there && replica->vouch_view > replica->view) {
        if (replica->vouch_leading) {
            replica->depth++;
            vsr_replica_request_start_view(replica, peer); /* it leads a newer view */
            replica->depth--;
        }
        return false;
    }
    if (!is_from_there || replica->vouch_view < replica->view) {
        return true;
    }
    if (replica->vouch_leading) {
        vsr_replica_timeout_start(replica, &replica->timeout_normal);
        replica->heard_tick[peer] = replica->tick;
    }
    return false;
}

void vsr_replica_on_peer_alive(struct vsr_replica *replica, uint8_t peer)
{
    assert(replica->status != 0);
    if (peer < replica->config.replica_count && peer != replica->config.replica) {
        replica->heard_tick[peer] = replica->tick;
    }
}
