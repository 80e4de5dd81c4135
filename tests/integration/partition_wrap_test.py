#!/usr/bin/env python3
"""A partition that takes more batches than its VSR log ring holds (tests/integration).

Starts a single runneld with a small ring (limits.partition_ops_max=1024) and a topic with
1 MiB segments, sends BATCHES one-message batches to one partition (raw Iggy frames,
pipelined), stores a consumer offset midway, then polls every message back by Offset,
First, Last, Next (auto-commit) and Timestamp and checks each payload, offset and the
timestamp order; restarts runneld (SIGTERM, then kill -9) and checks everything again,
plus sends after each restart. With more batches than the ring, this needs the partition
group's checkpoints (its ring wraps) and polls that find records through the storage index
(not through per-op arrays sized by the ring).
Usage: partition_wrap_test.py RUNNELD RUNNEL [BATCHES]. Exits 0 on success, 77 when
io_uring is unavailable.
"""
import json
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile

BATCHES = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
import broker_test  # noqa: E402  (same directory: Node, raw frames, check)
from broker_test import Node, check, login, named, read_frame, request, send_body, status_of  # noqa

RING = 1024
PAYLOAD_PAD = b"." * 1000
POLL_CHUNK = 400  # 400 x ~1 KB stays below the 1 MiB reply cap


def payload(index):
    return b"w%06d" % index + PAYLOAD_PAD


def send_range(node, first, count):
    """Sends batches first..first+count-1 (one message each), 16 in flight at a time."""
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=30)
    client = 0x77770000 + first
    session = login(sock, client=client)
    if first == 0:
        reply = broker_test.create_topic_1mib(sock, client, session, b"wrap", b"t")
        check(status_of(reply) == 0, "a topic with one partition and 1 MiB segments")
    sent = 0
    while sent < count:
        window = min(16, count - sent)
        frames = b"".join(
            request(160, send_body(0, 0, 0, payload(first + sent + index), stream=named(b"wrap"),
                                   topic=named(b"t")), client=client, session=session,
                    request_number=1)
            for index in range(window))
        sock.sendall(frames)
        for index in range(window):
            reply = read_frame(sock)
            if reply is None or status_of(reply) != 0:
                raise SystemExit("FAILED: send of batch %d: %s" % (
                    first + sent + index, "closed" if reply is None else status_of(reply)))
        sent += window
    sock.close()
    print("ok: %d batches sent from %d" % (count, first))


def poll(node, *strategy, count=POLL_CHUNK, consumer=None):
    args = ["message", "poll", "wrap", "t", "0"] + list(strategy) + ["--count", str(count)]
    if consumer is not None:
        args += ["--consumer", str(consumer), "--auto-commit"]
    out = node.cli(*args)
    try:
        rows = json.loads(out)
    except ValueError:
        raise SystemExit("FAILED: poll %s: not JSON\n%s" % (" ".join(strategy), out))
    rows = rows if isinstance(rows, list) else rows.get("messages", [])
    return [(int(row["offset"]), int(row["timestamp_us"]), row["payload"][:7]) for row in rows]


def name(index):
    return "w%06d" % index


def verify(node, total, when):
    rows = []
    while len(rows) < total:
        chunk = poll(node, "--offset", str(len(rows)))
        if not chunk:
            break
        rows += chunk
    check(len(rows) == total and all(row[0] == index and row[2] == name(index)
                                     for index, row in enumerate(rows)),
          "%s: all %d messages polled by offset, each at its offset" % (when, total),
          str([row for index, row in enumerate(rows) if row[0] != index or
               row[2] != name(index)][:3]) + " polled %d" % len(rows))
    stamps = [row[1] for row in rows]
    check(all(stamps[index] <= stamps[index + 1] for index in range(total - 1)),
          "%s: broker timestamps never go back along the offsets" % when)
    check([row[2] for row in poll(node, "--first", count=3)] == [name(i) for i in range(3)],
          "%s: poll first" % when)
    check([row[2] for row in poll(node, "--last", count=3)] ==
          [name(i) for i in range(total - 3, total)], "%s: poll last" % when)
    for index in sorted({0, 1, total // 3, total // 2, total - 2, total - 1}):
        first = next(j for j in range(total) if stamps[j] >= stamps[index])
        got = poll(node, "--timestamp", str(stamps[index]), count=2)
        check(got and got[0][0] == first and got[0][2] == name(first),
              "%s: poll by timestamp %d finds offset %d" % (when, stamps[index], first),
              str(got))
    check(poll(node, "--timestamp", str(stamps[-1] + 1)) == [],
          "%s: a timestamp after the last message polls nothing" % when)
    consumer = 40 + len(when)
    seen = []
    for _ in range(total // POLL_CHUNK + 2):
        chunk = poll(node, "--next", consumer=consumer)
        if not chunk:
            break
        seen += [row[0] for row in chunk]
    check(seen == list(range(total)), "%s: poll next with auto-commit walks all %d once" % (
        when, total), "got %d" % len(seen))
    out = node.cli("consumer-offset", "get", "9", "wrap", "t", "0")
    check('"stored_offset":1234' in out.replace(" ", ""), "%s: the stored offset" % when, out)


def main():
    root = tempfile.mkdtemp(prefix="runneld-wrap-")
    node = Node(os.path.join(root, "data"), extra=[
        "--set", "limits.partition_ops_max=%d" % RING])
    try:
        node.start()
        node.cli("stream", "create", "wrap")
        send_range(node, 0, BATCHES // 2)
        node.cli("consumer-offset", "set", "9", "wrap", "t", "0", "1234")
        send_range(node, BATCHES // 2, BATCHES - BATCHES // 2)
        verify(node, BATCHES, "running")
        node.stop()
        node.start()
        verify(node, BATCHES, "after a restart")
        send_range(node, BATCHES, 10)
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=20)
        node.start()
        verify(node, BATCHES + 10, "after kill -9")
        log = open(os.path.join(root, "runneld.log")).read()
        check("partition_ops_exhausted" not in log, "no partition ran out of ops")
        node.stop()
    finally:
        if node.process is not None and node.process.poll() is None:
            node.process.kill()
        shutil.rmtree(root, ignore_errors=True)
    print("partition wrap: all checks passed (%d batches, ring %d)" % (BATCHES, RING))


if __name__ == "__main__":
    main()
