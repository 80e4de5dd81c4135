#!/usr/bin/env python3
"""A wiped node recovers a partition whose oldest segment files retention removed on every
node (issue 4 item 5: state transfer for a replica whose gap is below every peer's log
start; docs/OPERATIONS.md "Replacing a node's disk").

Three runneld nodes (cluster_test.py's Node) with limits.partition_ops_max=1024 (a
partition group checkpoints every 512 ops) and a topic of 1 MiB segments: 400 batches of
8 KB, DeleteSegments of 2 segments, then small batches past the checkpoint of op 1024, so
every node removes the segment files wholly below the new start. A backup is then stopped,
its data directory emptied and it is started again: it logs recovery_complete, its polls
start at the same offset as its peers' and return the same messages, and with the third
node stopped (SIGSTOP) sends through the primary are still acknowledged (the recovered
node is the second of the quorum). Before the fix the partition stayed recovering (its
records from op 1 were gone everywhere) and recovery_complete never came.

Usage: wiped_retention_test.py RUNNELD RUNNEL. Exits 0 on success, 77 when io_uring is
unavailable. Bounded: about 40 s on an idle machine, 240 s at most.
"""
import os
import shutil
import signal
import time

import cluster_test  # noqa: E402  (same directory: new_cluster, Node, check)
from cluster_test import check, log_has, wait_log  # noqa: E402
from partition_wrap_test import send_batches  # noqa: E402
from retention_test import (STREAM, PAD, create_topic, delete_segments, first_offset,  # noqa: E402
                            only_from, partition_rows, primary_of, run_cluster, segments,
                            topic_id, wait)

cluster_test.DEADLINE = time.time() + 240
TOPIC = b"del"


def wiped_phase(nodes):
    create_topic(nodes[0], TOPIC, b"")
    del_id = topic_id(nodes[0], TOPIC.decode())
    for node in nodes:
        cluster_test.retry(node, "topic get", 15, "topic", "get", STREAM.decode(),
                           TOPIC.decode())
    cluster_test.retry(nodes[0], "first send", 15, "message", "send", STREAM.decode(),
                       TOPIC.decode(), "--partition-id", "0", "w99-000000")
    time.sleep(4)  # the preferred primary takes the group back once caught up
    primary = primary_of(nodes, del_id)
    send_batches(primary, 400, stream=STREAM, topic=TOPIC, pad=PAD)
    before = segments(primary, del_id)
    check(len(before) >= 4, "400 batches of 8 KB: at least 4 segments", str(before))
    check(delete_segments(primary, TOPIC, 2) == 0, "DeleteSegments of 2 segments: OK")
    start = before[2]
    # The primary decides the truncation op within a second; batches sent before it would
    # put it above the last checkpoint (seen: op 1211 of 1,301), so nothing would go.
    for node in nodes:
        wait(lambda: first_offset(node, TOPIC) == start, 20,
             "node %d: polls start at %d" % (node.index, start),
             lambda: str(first_offset(node, TOPIC)))
    # Past the checkpoints of ops 512 and 1024 (both hold the new start) on every node.
    send_batches(primary, 700, base=20, stream=STREAM, topic=TOPIC, pad=b"")
    for node in nodes:
        wait(lambda: only_from(segments(node, del_id), start) and
             first_offset(node, TOPIC) == start, 40,
             "node %d removed the segment files below offset %d and polls start there" % (
                 node.index, start),
             lambda: str((segments(node, del_id), first_offset(node, TOPIC))))
    victim = nodes[(primary.index + 1) % len(nodes)]
    other = nodes[(primary.index + 2) % len(nodes)]
    expected = partition_rows(primary, start)
    check(len(expected) >= 700, "the primary serves %d messages from offset %d" % (
        len(expected), start))
    victim.stop()
    shutil.rmtree(victim.data)
    os.makedirs(victim.data)
    recovery_started = time.time()
    victim.start()
    check(wait_log(victim, "recovery_started", 10), "node %d (wiped) logs recovery_started" %
          victim.index)
    check(wait_log(victim, "recovery_complete", 60),
          "node %d logs recovery_complete (%.1f s)" % (victim.index,
                                                       time.time() - recovery_started),
          "".join(open(victim.log_path).readlines()[-10:]))
    check(log_has(victim, "partition_state_transfer"),
          "node %d installed the partition by state transfer" % victim.index)
    wait(lambda: first_offset(victim, TOPIC) == start, 20,
         "node %d: polls from 0 start at %d, as on its peers" % (victim.index, start),
         lambda: str(first_offset(victim, TOPIC)))
    served = partition_rows(victim, start)
    check(served == expected, "node %d returns the same %d messages as the primary" % (
        victim.index, len(expected)), str((len(served), served[:2], expected[:2])))
    check(segments(victim, del_id)[0] <= start,
          "node %d holds the file its polls start in" % victim.index,
          str(segments(victim, del_id)))
    other.process.send_signal(signal.SIGSTOP)
    try:
        send_batches(primary, 40, base=40, stream=STREAM, topic=TOPIC, pad=b"")
        check(True, "with node %d stopped, sends through node %d are acknowledged: node %d "
              "takes part" % (other.index, primary.index, victim.index))
    finally:
        other.process.send_signal(signal.SIGCONT)
    final = [partition_rows(node, start) for node in (primary, victim)]
    check(final[0] == final[1] and len(final[0]) == len(expected) + 40,
          "nodes %d and %d serve the same %d messages" % (primary.index, victim.index,
                                                          len(final[0])))


def main():
    seconds = run_cluster("runnel-wiped-retention-", [wiped_phase])
    print("wiped_retention: all checks passed (%.1f s)" % seconds)


if __name__ == "__main__":
    main()
