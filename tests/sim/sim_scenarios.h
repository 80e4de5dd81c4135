/*
 * Named simulator scenarios (issue 4 item 11) for runnel-sim --scenario NAME: each a
 * scripted run over the deterministic cluster (tests/sim/sim_cluster.h) whose own
 * condition must hold besides every checker of the run. The seed still decides timing,
 * requests and jitter, so --seeds N runs a scenario N ways.
 *   lagging_replica       a backup cut off while the others wrap their rings several times
 *                         catches up by state transfer (checkpoint chunks, then repair)
 *   lagging_partition     the same on log_retained groups (partition logs): the group
 *                         commits on past two rings (three unless slow) while the backup is away (a
 * ring slot is reused below a checkpoint durable on a quorum), the backup takes a checkpoint and
 * the prepares below it, and once caught up its journal holds every committed op
 *   primary_crash_commit  the primary crashes with prepares in flight (uncommitted ops),
 *                         the group elects another, commits on, and nothing acked is lost
 *   recovering_quorum     durability `replicated`: the primary and a backup of 3 machines
 *                         crash as machines (boot id changed) and restart recovering_head;
 *                         the group makes no progress until the operator's command on both,
 *                         then elects a primary and finishes every request
 *   many_groups_primary   SIM_SCENARIO_GROUPS groups on 3 machines; once they have
 *                         formed, 200 ticks without faults change no replica's view (the
 *                         machines' shared heartbeats vouch for every group: none deposes
 *                         a live primary); then the machine leading a third of them
 *                         crashes; every group it led has a new primary within the bound
 *                         (nothing vouches for a dead primary), and the groups keep
 *                         committing. --verbose prints the heartbeats per tick
 *   partition_2_1         one of 3 replicas (the primary on even seeds, a backup on odd)
 *                         is cut off both ways for 1000 ticks: it commits nothing beyond
 *                         what was on the wire at the cut, the other two commit on, and
 *                         after the heal it catches up within 1000 ticks
 *   send_only_replica     a backup of 3 or 5 hears nothing but reaches everyone for 1200
 *                         ticks: its votes for a later view (it must ask) never depose the
 *                         healthy primary (the view moves only by the primary's hand-back
 *                         to its preferred replica); the group commits on; it catches up
 *   corrupt_prepare_minority  an op held durably by replication quorum - 1 replicas (from
 *                         the primary on some seeds: its restart starts a view change over
 *                         the damage) is damaged in their journals and they restart: each
 *                         finds it faulty and repairs it (or takes a peer's checkpoint
 *                         above it); the run's checkers fail a nack of it or serving it
 *   damaged_acked_record  a committed op the acking backup holds is damaged there while
 *                         the other backup never received it and the primary is cut off:
 *                         the damaged copy is no nack, so the op is not truncated (the
 *                         history checker fails a fork) and the group goes on when the
 *                         primary rejoins
 *   duplicate_after_view_change  the primary's replies are lost, it crashes once its ops
 *                         ran everywhere; the clients' resends reach the new primary,
 *                         which answers from the kept replies (or "too old" for a number
 *                         the exactly-once window dropped), never appending them again
 *   wiped_replica         a backup is cut off while the primary and the other backup
 *                         commit on; then the primary pauses and the other backup loses
 *                         everything (sim_cluster_wipe) and restarts recovering: with the
 *                         lagger it is a view-change quorum by count, but it never votes
 *                         (no prepare_ok, start_view_change or do_view_change while
 *                         recovering: a checker of every run), so nothing is committed and
 *                         nothing is truncated until the primary continues; then it catches
 *                         up and leaves recovery within 900 ticks
 *   wiped_promise         the primary of view v is cut off once its clients are done; the
 *                         other two form a later view w; the backup of w loses everything
 *                         and hears only the stale primary of v: it must not leave
 *                         recovery in a view below w (it raises its view past v and waits
 *                         for a view formed without it), and it does within 1500 ticks of
 *                         the heal
 * Single thread.
 */
#ifndef RUNNEL_TESTS_SIM_SIM_SCENARIOS_H
#define RUNNEL_TESTS_SIM_SIM_SCENARIOS_H

#include "tests/sim/sim_cluster.h"

#include <stdbool.h>
#include <stdint.h>

enum { SIM_SCENARIO_GROUPS = 1000 };

/* True when name is a scenario. */
bool sim_scenario_exists(const char *name);

/* Prints every scenario's name, one a line. */
void sim_scenario_list(void);

/*
 * Runs scenario name with seed; result->passed is false (with a reason) when a checker or
 * the scenario's own condition failed. verbose prints what the scenario saw.
 */
void sim_scenario_run(const char *name, uint64_t seed, bool verbose, struct sim_result *result);

#endif
