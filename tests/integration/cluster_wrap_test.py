#!/usr/bin/env python3
"""A 3-node cluster whose partition takes more batches than its VSR log ring holds, with a
backup down across several rings in between (tests/integration, DESIGN.md §4 checkpoints
and state transfer).

Three runneld nodes (tests/integration/cluster_test.py's Node) with
limits.partition_ops_max=1024: the partition group checkpoints every 512 ops and its ring
wraps. BATCHES_BEFORE one-message batches go to the partition's primary (10 raw Iggy
connections in parallel), then a backup is killed (-9) and BATCHES_WITHOUT more (over three
rings) are committed without it, none answered 57/58: a ring slot is reused below a
checkpoint durable on a replication quorum, so the two live nodes never wait for the down
one (before, writes paused a ring past its last checkpoint). It restarts far below its
peers' rings and catches up by state transfer: it pulls a peer's checkpoint and, before
installing it, every committed record up to the checkpoint into its own partition log
(vsr/replica_records.c; its log says partition_state_transfer), then repairs the rest from
the ring. BATCHES_AFTER more go through the restarted node (forwarded to the primary). Every
node must then return the identical partition: the same offsets, broker timestamps and
payloads, every batch once, each connection's batches in order.
Usage: cluster_wrap_test.py RUNNELD RUNNEL. Exits 0 on success, 77 when io_uring is
unavailable. Bounded: about 1.5 minutes on an idle machine, 400 s at most.
"""
import json
import os
import shutil
import time

import cluster_test  # noqa: E402  (same directory: new_cluster, Node, check)
from cluster_test import check  # noqa: E402
from partition_wrap_test import send_batches, structure_check  # noqa: E402

RING = 1024
CONNECTIONS = 10
BATCHES_BEFORE, BATCHES_WITHOUT, BATCHES_AFTER = 1500, 3500, 1500
STREAM, TOPIC = b"ws", b"wt"
cluster_test.DEADLINE = time.time() + 400


def poll_rows(node):
    """Every message of the partition on node as (offset, timestamp_us, payload), or None
    when a poll fails."""
    rows = []
    for _ in range(1000):
        status, output = node.cli("message", "poll", STREAM.decode(), TOPIC.decode(), "0",
                                  "--offset",
                                  str(len(rows)), "--count", "1000")
        if status != 0:
            return None
        try:
            chunk = json.loads(output)
        except ValueError:
            return None
        chunk = chunk if isinstance(chunk, list) else chunk.get("messages", [])
        if not chunk:
            return rows
        rows += [(int(row["offset"]), int(row["timestamp_us"]), row["payload"][:10])
                 for row in chunk]
    return rows


def wait_rows(node, count, seconds):
    end = time.time() + min(seconds, cluster_test.time_left())
    rows = None
    while time.time() < end:
        rows = poll_rows(node)
        if rows is not None and len(rows) >= count:
            return rows
        time.sleep(0.5)
    raise SystemExit("FAILED: node %d holds %s of %d messages after %d s" % (
        node.index, "?" if rows is None else len(rows), count, seconds))


def main():
    root, nodes = cluster_test.new_cluster("runnel-cluster-wrap-")
    for node in nodes:
        node.settings.append("limits.partition_ops_max=%d" % RING)
    try:
        for node in nodes:
            node.format()
        for node in nodes:
            node.start()
        names = (STREAM.decode(), TOPIC.decode())
        cluster_test.retry(nodes[0], "stream create", 30, "stream", "create", names[0])
        cluster_test.retry(nodes[0], "topic create", 15, "topic", "create", *names, "1")
        for node in nodes:
            cluster_test.retry(node, "topic get", 15, "topic", "get", *names)
        cluster_test.retry(nodes[0], "first send", 15, "message", "send", *names,
                           "--partition-id", "0", "w99-000000")
        # The group's preferred primary takes it back once caught up (about 3 s): the load
        # starts in the settled view, and the node stopped is a backup of it.
        time.sleep(5)
        views = [node.primary_view() for node in nodes]
        primary = nodes[max(range(len(nodes)), key=lambda index: views[index])]
        backup = nodes[(primary.index + 1) % len(nodes)]
        check(max(views) >= 0, "the partition's primary is node %d; node %d is stopped" % (
            primary.index, backup.index), str(views))
        send_batches(primary, BATCHES_BEFORE, stream=STREAM, topic=TOPIC, pad=b"")
        backup.kill()
        retried = []
        send_batches(primary, BATCHES_WITHOUT, base=CONNECTIONS, stream=STREAM, topic=TOPIC,
                     pad=b"", retried=retried)
        check(not retried, "%d batches (%.1f rings) without node %d, none answered 57/58" % (
            BATCHES_WITHOUT, BATCHES_WITHOUT / RING, backup.index), str(retried[:10]))
        total = 1 + BATCHES_BEFORE + BATCHES_WITHOUT
        backup.start()
        started = time.time()
        rows = wait_rows(primary, total, 30)
        caught_up = wait_rows(backup, total, 90)
        check(caught_up == rows, "the restarted node caught up %d messages in %.1f s, identical" %
              (total, time.time() - started))
        transfers = [line for line in open(backup.log_path).read().splitlines()
                     if "partition_state_transfer" in line]
        check(transfers, "it caught up by state transfer", "\n".join(transfers[:3]))
        print(transfers[0], flush=True)
        send_batches(backup, BATCHES_AFTER, base=2 * CONNECTIONS, stream=STREAM, topic=TOPIC,
                     pad=b"")  # forwarded to the primary
        total += BATCHES_AFTER
        copies = [wait_rows(node, total, 90) for node in nodes]
        structure_check(copies[0], "node %d" % nodes[0].index)
        for node, copy in zip(nodes[1:], copies[1:]):
            check(copy == copies[0], "node %d holds the identical partition (%d messages)" % (
                node.index, total))
        for node in nodes:
            text = open(node.log_path).read()
            check("assert_failed" not in text, "node %d: no assertion failed" % node.index)
        for node in nodes:
            node.stop()
        sizes = [os.path.getsize(os.path.join(directory, name))
                 for directory, _, names in os.walk(backup.data) for name in names
                 if name.startswith("vsr-checkpoint-") and
                 os.path.basename(directory) != "metadata"]  # the metadata group's own
        check(len(sizes) == 2 and min(sizes) > 0,
              "the restarted node checkpointed the partition group", str(sizes))
    finally:
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.kill()
        if os.environ.get("RUNNEL_TEST_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
    print("cluster wrap: all checks passed")


if __name__ == "__main__":
    main()
