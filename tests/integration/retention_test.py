#!/usr/bin/env python3
"""Prefix truncation of partition logs on a 3-node cluster (DESIGN.md §4, issue 4 item 5;
docs/OPERATIONS.md "Retention").

Three runneld nodes (cluster_test.py's Node) with limits.partition_ops_max=1024 (a
partition group checkpoints every 512 ops) and topics of 1 MiB segments:

- DeleteSegments: batches go to topic "del" while every node is up, then a backup is
  killed (-9) and more follow (past the 512-op checkpoint on the two live nodes); a
  DeleteSegments of three segments is answered OK and polls on the live nodes start at
  the new offset. Past the next checkpoint the two live nodes (a replication quorum, 2 of
  3) remove the segment files below the new start while the backup is still down (the
  quorum rule: before, no file went while a backup's checkpoint was behind, and a node
  down for good kept every file forever). The backup restarts: the records it lacks are
  gone on its peers, so it catches up by state transfer (partition_state_transfer), then
  polls on it start at the same offset as on its peers and return the same messages.
  More batches follow; every node keeps only the files from the new start on, the tail
  stays, and polls on every node start there.
- Message expiry: topic "exp" with message_expiry 4 s takes batches past a checkpoint;
  once they are older than 4 s every sealed segment is expired (the tail is not), so polls
  on every node start at the tail's base offset and the sealed segment files are gone on
  every node.

Usage: retention_test.py RUNNELD RUNNEL. Exits 0 on success, 77 when io_uring is
unavailable. Bounded: about a minute on an idle machine, 240 s at most.
"""
import glob
import json
import os
import shutil
import signal
import socket
import struct
import time

import cluster_test  # noqa: E402  (same directory: new_cluster, Node, check)
from cluster_test import check, wait_log  # noqa: E402
from partition_wrap_test import send_batches  # noqa: E402
from broker_test import login, named, read_frame, request, status_of  # noqa: E402

RING = 1024
STREAM = b"rs"
PAD = b"." * 8000  # ~8 KB batches: 1 MiB segments hold ~125 of them
cluster_test.DEADLINE = time.time() + 240


def option_u64(name, value):
    return b"\x02" + struct.pack("<I", len(name)) + name + b"\x0c" + struct.pack("<I", 8) + \
        struct.pack("<Q", value)


def create_topic(node, name, options):
    """CreateTopic (raw frame, one partition, 1 MiB segments plus options)."""
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=20)
    session = login(sock, client=0x52520001)
    body = named(STREAM) + struct.pack("<I", 1) + bytes([len(name)]) + name + \
        option_u64(b"segment_size", 1 << 20) + options
    sock.sendall(request(132, body, client=0x52520001, session=session, request_number=1))
    reply = read_frame(sock)
    sock.close()
    check(reply is not None and status_of(reply) == 0, "topic %s created" % name.decode())


def delete_segments(node, topic, count):
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=20)
    session = login(sock, client=0x52520002)
    body = named(STREAM) + named(topic) + struct.pack("<II", 0, count)
    sock.sendall(request(138, body, client=0x52520002, session=session, request_number=1))
    reply = read_frame(sock)
    sock.close()
    return None if reply is None else status_of(reply)


def rows_of(status, output):
    """The rows of a `message poll --json` run ([] when it failed)."""
    try:
        rows = json.loads(output) if status == 0 else []
    except ValueError:
        return []
    return rows if isinstance(rows, list) else rows.get("messages", [])


def first_offset(node, topic):
    """Offset of the first message a poll from offset 0 returns (None: no answer)."""
    rows = rows_of(*node.cli("message", "poll", STREAM.decode(), topic.decode(), "0",
                             "--offset", "0", "--count", "1"))
    return int(rows[0]["offset"]) if rows else None


def segments(node, topic_id):
    """Base offsets of the partition's segment logs on node's disk."""
    pattern = os.path.join(node.data, "streams", "*", "topics", str(topic_id), "partitions",
                           "0.*", "*.log")
    return sorted(int(os.path.basename(path).split(".")[0].split("_")[0])
                  for path in glob.glob(pattern))


def only_from(bases, start, exact=True):
    """True when the segments (base offsets, a node's own layout) hold nothing wholly below
    start and there is one (the tail stays); exact: the first one also reaches start (no
    later truncation removed it)."""
    return (len(bases) > 0 and (bases[0] <= start or not exact) and
            (len(bases) == 1 or bases[1] > start))


def poll_rows(node, topic, offset, count):
    """(offset, payload) of up to count messages from offset on node (its own copy)."""
    rows = rows_of(*node.cli("message", "poll", STREAM.decode(), topic.decode(), "0",
                             "--offset", str(offset), "--count", str(count)))
    return [(int(row["offset"]), row["payload"]) for row in rows]


def partition_rows(node, start, topic=b"del"):
    """Every message from start on (pages of 100), as node serves them."""
    rows = []
    for _ in range(40):
        page = poll_rows(node, topic, rows[-1][0] + 1 if rows else start, 100)
        if not page:
            break
        rows += page
    return rows


def last_payload(node, topic):
    rows = rows_of(*node.cli("message", "poll", STREAM.decode(), topic.decode(), "0",
                             "--last", "--count", "1"))
    return rows[0]["payload"][:10] if rows else None


def topic_id(node, name):
    output = cluster_test.retry(node, "topic get", 15, "topic", "get", STREAM.decode(), name)
    parsed = json.loads(output)
    parsed = parsed[0] if isinstance(parsed, list) else parsed
    return int(parsed["id"])


def wait(condition, seconds, what, detail=lambda: ""):
    end = time.time() + min(seconds, cluster_test.time_left())
    while time.time() < end:
        if condition():
            check(True, what)
            return
        time.sleep(0.3)
    check(condition(), what, detail())


def primary_of(nodes, topic):
    """The node that became topic's partition primary in the highest view."""
    views = [node.primary_view(topic) for node in nodes]
    return nodes[max(range(len(nodes)), key=lambda index: views[index])]


def delete_segments_phase(nodes):
    create_topic(nodes[0], b"del", b"")
    del_id = topic_id(nodes[0], "del")
    for node in nodes:
        cluster_test.retry(node, "topic get", 15, "topic", "get", STREAM.decode(), "del")
    cluster_test.retry(nodes[0], "first send", 15, "message", "send", STREAM.decode(), "del",
                       "--partition-id", "0", "w99-000000")
    time.sleep(4)  # the preferred primary takes the group back once caught up
    primary = primary_of(nodes, del_id)
    backup = nodes[(primary.index + 1) % len(nodes)]
    send_batches(primary, 200, stream=STREAM, topic=b"del", pad=PAD)
    backup.kill()
    send_batches(primary, 300, base=10, stream=STREAM, topic=b"del", pad=PAD)
    live = [node for node in nodes if node is not backup]
    before = {node.index: segments(node, del_id) for node in nodes}
    check(all(len(before[node.index]) >= 5 for node in live),
          "501 batches of 8 KB: at least 5 segments on the live nodes", str(before))
    check(delete_segments(primary, b"del", 3) == 0, "DeleteSegments of 3 segments: OK")
    start = before[primary.index][3]
    for node in live:
        wait(lambda: first_offset(node, b"del") == start, 15,
             "node %d: polls from 0 start at %d" % (node.index, start),
             lambda: str(first_offset(node, b"del")))
    # Past the next checkpoint (op 1024), which holds the new start, on both live nodes: a
    # replication quorum (2 of 3) has it durably, so they remove the files below the new
    # start while the backup is down.
    send_batches(primary, 600, base=20, stream=STREAM, topic=b"del", pad=b"")
    for node in live:
        wait(lambda: only_from(segments(node, del_id), start), 40,
             "node %d removed the segment files below offset %d while node %d is down" % (
                 node.index, start, backup.index),
             lambda: str(segments(node, del_id)))
    expected = partition_rows(primary, start)
    check(len(expected) >= 600, "the primary serves %d messages from offset %d" % (
        len(expected), start))
    backup.start()
    # The records it lacks are gone on both peers: only a state transfer (a peer's
    # checkpoint, then the records from that peer's first held op) brings it up to date.
    check(wait_log(backup, "partition_state_transfer", 60),
          "restarted node %d caught up by state transfer" % backup.index,
          "".join(open(backup.log_path).readlines()[-10:]))
    wait(lambda: first_offset(backup, b"del") == start, 60,
         "restarted node %d: its polls from 0 start at %d, as on its peers" % (
             backup.index, start),
         lambda: str(first_offset(backup, b"del")))
    # It serves what it executed: a prefix of the primary's messages (never a gap or
    # another message), all of them once it has caught up.
    served = []

    def serves_all():
        served[:] = partition_rows(backup, start)
        if served != expected[:len(served)]:
            check(False, "restarted node %d serves only a prefix of the primary's messages" %
                  backup.index, str((len(served), served[:2], expected[:2])))
        return len(served) == len(expected)
    wait(serves_all, 30,
         "restarted node %d returns the same %d messages from offset %d as the primary" % (
             backup.index, len(expected), start),
         lambda: str((len(served), len(expected))))
    # More sends through the group with every node up: the files below the start stay gone
    # everywhere, the tail is served everywhere.
    send_batches(primary, 520, base=30, stream=STREAM, topic=b"del", pad=b"")
    cluster_test.retry(primary, "last send", 15, "message", "send", STREAM.decode(), "del",
                       "--partition-id", "0", "tailmarker")
    for node in nodes:
        wait(lambda: only_from(segments(node, del_id), start), 40,
             "node %d holds no segment file wholly below offset %d" % (node.index, start),
             lambda: str(segments(node, del_id)))
        wait(lambda: first_offset(node, b"del") == start and
             last_payload(node, b"del") == "tailmarker", 30,
             "node %d: polls from 0 start at %d, the tail stays (its last message is served)" %
             (node.index, start),
             lambda: str((first_offset(node, b"del"), last_payload(node, b"del"))))
    details = json.loads(primary.cli("topic", "get", STREAM.decode(), "del")[1])
    details = details[0] if isinstance(details, list) else details
    last = rows_of(*primary.cli("message", "poll", STREAM.decode(), "del", "0", "--last",
                                "--count", "1"))
    end = int(last[0]["offset"]) + 1 if last else None
    check(end is not None and details["messages"] == end - start,
          "topic details count the messages still served (%s - %d)" % (end, start),
          str(details))
    check(segments(primary, del_id)[:2] == before[primary.index][3:5],
          "the primary removed exactly its first 3 segments",
          str(segments(primary, del_id)))
    # A node whose first segments are gone restarts (kill -9) from its checkpoint and log.
    other = next(node for node in nodes if node is not primary and node is not backup)
    kept = segments(other, del_id)
    other.kill()
    other.start()
    wait(lambda: first_offset(other, b"del") == start and
         last_payload(other, b"del") == "tailmarker", 30,
         "node %d restarted after the deletion: polls start at %d, the tail is served" % (
             other.index, start),
         lambda: str((first_offset(other, b"del"), last_payload(other, b"del"))))
    check(segments(other, del_id)[:len(kept)] == kept, "its files are as before",
          str(segments(other, del_id)))


def expiry_phase(nodes):
    create_topic(nodes[0], b"exp", option_u64(b"message_expiry", 4 * 1000 * 1000))
    exp_id = topic_id(nodes[0], "exp")
    for node in nodes:
        cluster_test.retry(node, "topic get", 15, "topic", "get", STREAM.decode(), "exp")
    cluster_test.retry(nodes[0], "first send", 15, "message", "send", STREAM.decode(), "exp",
                       "--partition-id", "0", "w99-000000")
    time.sleep(4)
    primary = primary_of(nodes, exp_id)
    send_batches(primary, 560, base=40, stream=STREAM, topic=b"exp", pad=PAD)
    cluster_test.retry(primary, "last send", 15, "message", "send", STREAM.decode(), "exp",
                       "--partition-id", "0", "tailmarker")
    time.sleep(4.5)  # every batch is older than the expiry; the primary checks every second
    # The group's new start is the base of the deciding primary's tail segment (segment
    # boundaries are each node's own); every node serves from there.
    agreed_start = []

    def agreed():
        starts = [first_offset(node, b"exp") for node in nodes]
        tails = set(segments(node, exp_id)[-1] for node in nodes)
        is_agreed = starts[0] is not None and len(set(starts)) == 1 and starts[0] in tails
        agreed_start[:] = starts[:1] if is_agreed else []
        return is_agreed
    wait(agreed, 40, "every node's polls start at the same tail segment base",
         lambda: str([(first_offset(node, b"exp"), segments(node, exp_id)) for node in nodes]))
    start = agreed_start[0]  # a poll read again could fail under load (None)
    check(start >= 400, "message expiry 4 s: messages below offset %d expired" % start)
    # The next checkpoint (op 1024) holds the new start. Small batches mostly stay in the
    # tail, but on a slow machine a group commit per batch can fill and seal it, and that
    # segment expires 4 s later too: the start may move on past `start`, never back.
    send_batches(primary_of(nodes, exp_id), 520, base=60, stream=STREAM, topic=b"exp", pad=b"")
    for node in nodes:
        wait(lambda: only_from(segments(node, exp_id), start, exact=False), 40,
             "node %d: every segment file wholly below offset %d is gone" % (node.index, start),
             lambda: str(segments(node, exp_id)))

    served_start = []

    def served():
        starts = [first_offset(node, b"exp") for node in nodes]
        is_served = (starts[0] is not None and starts[0] >= start and len(set(starts)) == 1 and
                     all(last_payload(node, b"exp") is not None for node in nodes))
        served_start[:] = starts[:1] if is_served else []
        return is_served
    wait(served, 30, "every node's polls start at the same offset, at least %d, and the tail "
         "is served" % start,
         lambda: str([(first_offset(node, b"exp"), last_payload(node, b"exp")) for node in nodes]))
    final = served_start[0]
    check(all(segments(node, exp_id)[0] <= final for node in nodes),
          "every node holds the files its polls start in (from %d)" % final,
          str([segments(node, exp_id) for node in nodes]))
    check(any(segments(node, exp_id)[0] >= start for node in nodes),
          "the deciding node's segments now begin at or above its tail of then (%d)" % start,
          str([segments(node, exp_id) for node in nodes]))


def run_cluster(prefix, phases):
    """Three formatted and started nodes (a RING-op partition ring, 1 MiB segments possible)
    with the stream STREAM; runs each phase(nodes), checks no node failed an assertion and
    stops every node (SIGCONT first: a phase may leave one stopped). Returns the seconds it
    took."""
    root, nodes = cluster_test.new_cluster(prefix)
    for node in nodes:
        node.settings += ["limits.partition_ops_max=%d" % RING,
                          "limits.batch_size_bytes_max=262144"]  # 1 MiB segments possible
    started = time.time()
    try:
        for node in nodes:
            node.format()
        for node in nodes:
            node.start()
        cluster_test.retry(nodes[0], "stream create", 30, "stream", "create", STREAM.decode())
        for phase in phases:
            phase(nodes)
        for node in nodes:
            text = open(node.log_path).read()
            check("assert_failed" not in text, "node %d: no assertion failed" % node.index)
    finally:
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGCONT)
                node.process.kill()
        if os.environ.get("RUNNEL_TEST_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
    return time.time() - started


def main():
    seconds = run_cluster("runnel-retention-", [delete_segments_phase, expiry_phase])
    print("retention: all checks passed (%.1f s)" % seconds)


if __name__ == "__main__":
    main()
