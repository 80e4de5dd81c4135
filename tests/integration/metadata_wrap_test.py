#!/usr/bin/env python3
"""A 3-node cluster whose metadata group commits more ops than its VSR log ring holds,
with a backup down across several rings in between (DESIGN.md §4 checkpoints of the
metadata group).

Three runneld nodes (tests/integration/cluster_test.py's Node) with
limits.metadata_ops_max=1024: the metadata group checkpoints its tables every 512 ops and
its ring wraps (before, it stopped taking metadata ops, logins included, at op 1024). Four
raw Iggy connections in parallel create streams and delete most of them again (one
metadata op each): OPS_BEFORE ops through the metadata primary, then a backup is killed (-9) and
OPS_WITHOUT more (over three rings) go without it (all through the metadata primary, node 0,
once it has taken the group back); it restarts below its peers' rings and
catches up by state transfer (a peer's checkpoint, then the records up to it; its log says
metadata_state_transfer). OPS_AFTER more go through the restarted node (forwarded), four
connections in parallel again (docs/NEMESIS.md bug 10: before the metadata group kept an
Iggy client's op at most once per request number, a request answered 57 and resent could
run twice, a stream answered deleted came back; and a forwarded request the primary had
dropped while a later one of the node ran was resent unanswered for 15 s).
Every node must then list exactly the streams that were kept. Then every node restarts
and must list them again (its tables restored from its own checkpoint, the ops above it
replayed from its journal).
Usage: metadata_wrap_test.py RUNNELD RUNNEL. Exits 0 on success, 77 when io_uring is
unavailable. Bounded: about a minute on an idle machine, 300 s at most.
"""
import json
import os
import shutil
import tempfile
import threading
import time

import cluster_test  # noqa: E402  (same directory: Node, check, Raw)
from cluster_test import Node, Raw, check  # noqa: E402
import broker_test as frames  # noqa: E402
from ports import free_ports  # noqa: E402

RING = 1024
OPS_BEFORE, OPS_WITHOUT, OPS_AFTER = 1500, 3500, 600
KEEP_EVERY = 50  # one stream in KEEP_EVERY created stays; the others are deleted again
CONNECTIONS = 4
cluster_test.DEADLINE = time.time() + 300


class Churn:
    """Creates streams m<T>-<N> and deletes most of them again, over CONNECTIONS connections
    in parallel (their ops share the group's commits)."""

    def __init__(self):
        self.rounds = 0
        self.kept = set()
        self.retried = 0
        self.failures = []
        self.lock = threading.Lock()

    def run(self, node, client, ops, connections=CONNECTIONS):
        self.rounds += 1
        threads = [threading.Thread(target=self.connection, args=(
            node, client + index, ops // connections, "m%d-%d-" % (self.rounds, index)))
            for index in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.failures:
            raise SystemExit("FAILED: %s" % self.failures[0])

    def connection(self, node, client, ops, prefix):
        try:
            raw = Raw(node, client)
        except SystemExit as failure:
            with self.lock:
                self.failures.append(str(failure))
            return
        done = 0
        number = 0
        while done < ops and not self.failures:
            number += 1
            name = ("%s%05d" % (prefix, number)).encode()
            if not self.call(raw, 128, bytes([len(name)]) + name, "create stream %s" % name):
                break
            done += 1
            if number % KEEP_EVERY == 0:
                with self.lock:
                    self.kept.add(name.decode())
                continue
            if not self.call(raw, 130, frames.named(name), "delete stream %s" % name):
                break
            done += 1
        raw.close()

    def call(self, raw, operation, body, what):
        started = time.time()
        reply = raw.call_retried(operation, body, stamp=True)  # as Iggy's SDK
        with self.lock:
            self.retried += time.time() - started > 0.5
            if reply[60] != 8 or frames.status_of(reply) != 0:  # 8: a reply, not an eviction
                self.failures.append("%s: command %d, status %d" % (
                    what, reply[60], frames.status_of(reply)))
                return False
        return True


def stream_names(node):
    """The names of the streams node lists, or None when the listing fails."""
    status, output = node.cli("stream", "list")
    if status != 0:
        return None
    try:
        rows = json.loads(output)
    except ValueError:
        return None
    rows = rows if isinstance(rows, list) else rows.get("streams", [])
    return {row["name"] for row in rows}


def wait_streams(node, expected, seconds):
    end = time.time() + min(seconds, cluster_test.time_left())
    names = None
    while time.time() < end:
        names = stream_names(node)
        if names == expected:
            return
        time.sleep(0.5)
    raise SystemExit("FAILED: node %d lists %s streams, expected %d (missing %s, extra %s)" % (
        node.index, "?" if names is None else len(names), len(expected),
        sorted(expected - (names or set()))[:5], sorted((names or set()) - expected)[:5]))


def restored_lines(node):
    return [line for line in open(node.log_path).read().splitlines()
            if "metadata_checkpoint_restored" in line]


def main():
    root = tempfile.mkdtemp(prefix="runnel-metadata-wrap-")
    print("directory:", root, flush=True)
    key_file = os.path.join(root, "cluster.key")
    with open(key_file, "w") as key:
        key.write(os.urandom(32).hex() + "\n")
    os.chmod(key_file, 0o600)
    count = cluster_test.COUNT
    ports = free_ports(2 * count)
    nodes = [Node(root, index, ports[:count], ports[count + index], key_file)
             for index in range(count)]
    for node in nodes:
        node.settings.append("limits.metadata_ops_max=%d" % RING)
    try:
        for node in nodes:
            node.format()
        for node in nodes:
            node.start()
        cluster_test.retry(nodes[0], "stream create", 30, "stream", "create", "first")
        churn = Churn()
        churn.kept.add("first")
        # The group's preferred primary (node 0) takes it back about 3 s after formation:
        # the churn starts in that view, on the primary itself (not forwarded).
        end = time.time() + 30
        view, primary_index = cluster_test.metadata_primary(nodes)
        while primary_index != 0 and time.time() < end:
            time.sleep(0.5)
            view, primary_index = cluster_test.metadata_primary(nodes)
        check(primary_index == 0, "the metadata primary is node 0 (view %d)" % view)
        primary = nodes[primary_index]
        backup = nodes[(primary_index + 1) % count]
        started = time.time()
        churn.run(primary, 0x6d77000000000100, OPS_BEFORE)
        check(True, "%d metadata ops through node %d in %.1f s" % (
            OPS_BEFORE, primary.index, time.time() - started))
        backup.kill()
        churn.run(primary, 0x6d77000000000200, OPS_WITHOUT)
        check(True, "%d more (%.1f rings) without node %d, %d waited over 0.5 s" % (
            OPS_WITHOUT, OPS_WITHOUT / RING, backup.index, churn.retried))
        backup.start()
        started = time.time()
        wait_streams(backup, churn.kept, 90)
        check(True, "the restarted node %d lists the %d kept streams after %.1f s" % (
            backup.index, len(churn.kept), time.time() - started))
        transfers = [line for line in open(backup.log_path).read().splitlines()
                     if "metadata_state_transfer" in line]
        check(transfers, "it caught up by state transfer (a peer's checkpoint and the records "
              "below it)")
        print(transfers[0], flush=True)
        churn.run(backup, 0x6d77000000000300, OPS_AFTER)  # forwarded to the primary
        for node in nodes:
            wait_streams(node, churn.kept, 30)
        check(True, "every node lists the same %d streams after %d ops" % (
            len(churn.kept), 2 + OPS_BEFORE + OPS_WITHOUT + OPS_AFTER))
        for node in nodes:
            node.stop()
            sizes = [os.path.getsize(os.path.join(node.data, "metadata", name))
                     for name in os.listdir(os.path.join(node.data, "metadata"))
                     if name.startswith("vsr-checkpoint-")]
            check(len(sizes) == 2 and max(sizes) > 0,
                  "node %d checkpointed the metadata group" % node.index, str(sizes))
        marks = [len(restored_lines(node)) for node in nodes]
        for node in nodes:
            node.start()
        for node in nodes:
            wait_streams(node, churn.kept, 60)
        for node, mark in zip(nodes, marks):
            check(len(restored_lines(node)) > mark,
                  "node %d restarted from its checkpoint and lists the same streams" %
                  node.index)
        for node in nodes:
            text = open(node.log_path).read()
            check("assert_failed" not in text, "node %d: no assertion failed" % node.index)
    finally:
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.kill()
        if os.environ.get("RUNNEL_TEST_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
    print("metadata wrap: all checks passed")


if __name__ == "__main__":
    main()
