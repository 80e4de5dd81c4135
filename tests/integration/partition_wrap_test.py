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
import sys
import tempfile
import threading
import time

BATCHES = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
import broker_test  # noqa: E402  (same directory: Node, raw frames, check)
from broker_test import Node, check, login, named, read_frame, request, send_body, status_of  # noqa

RING = 1024
PAYLOAD_PAD = b"." * 1000
POLL_CHUNK = 400  # 400 x ~1 KB stays below the 1 MiB reply cap
CONNECTIONS = 10  # senders in parallel: their batches share each group commit


def send_one_connection(node, connection, count, errors, stream, topic, pad, retried):
    try:
        send_one_connection_or_raise(node, connection, count, errors, stream, topic, pad,
                                     retried)
    except OSError as error:  # a reply not received within the socket timeout
        errors.append("connection %d: %s at %.1f" % (connection, error, time.time()))


def send_one_connection_or_raise(node, connection, count, errors, stream, topic, pad,
                                 retried):
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=120)
    client = 0x77770000 + connection
    session = login(sock, client=client)
    for sequence in range(count):
        body = send_body(0, 0, 0, b"w%02d-%06d" % (connection, sequence) + pad,
                         stream=named(stream), topic=named(topic))
        for attempt in range(20):  # 57/58: a write that waited too long, sent again
            sock.sendall(request(160, body, client=client, session=session, request_number=1))
            reply = read_frame(sock)
            if reply is None or status_of(reply) not in (57, 58):
                break
            retried.append(status_of(reply))
        if reply is None or status_of(reply) != 0:
            errors.append("connection %d send %d: %s" % (
                connection, sequence, "closed" if reply is None else status_of(reply)))
            break
    sock.close()


def send_batches(node, count, connections=CONNECTIONS, base=0, stream=b"wrap", topic=b"t",
                 pad=PAYLOAD_PAD, retried=None):
    """count one-message batches to partition 0 over connections sockets in parallel:
    connection c sends w{base + c}-{sequence}, one batch at a time; a batch answered 57/58
    (it waited too long) is sent again and its status appended to retried."""
    started = time.time()
    errors = []
    retried = [] if retried is None else retried
    threads = [threading.Thread(target=send_one_connection,
                                args=(node, base + index, count // connections, errors, stream,
                                      topic, pad, retried))
               for index in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    check(not errors, "%d batches acknowledged through port %d (%.1f s)" % (
        count, node.port, time.time() - started), "\n".join(errors[:5]))


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
    return [(int(row["offset"]), int(row["timestamp_us"]), row["payload"][:10]) for row in rows]


def structure_check(rows, when):
    """Offsets 0..n-1 in order, no batch twice, each connection's batches in the order it
    sent them (from 0, no gap), broker timestamps never back."""
    check([row[0] for row in rows] == list(range(len(rows))),
          "%s: all %d messages polled by offset, each at its offset" % (when, len(rows)))
    check(len(set(row[2] for row in rows)) == len(rows), "%s: no batch twice" % when)
    last = {}
    for row in rows:
        connection, sequence = row[2][1:].split("-")
        if last.get(connection, -1) != int(sequence) - 1:
            check(False, "%s: connection %s's batches in order" % (when, connection), str(row))
        last[connection] = int(sequence)
    check(all(rows[index][1] <= rows[index + 1][1] for index in range(len(rows) - 1)),
          "%s: broker timestamps never go back along the offsets" % when)


def verify(node, reference, when):
    """Polls everything back by every strategy; reference: the rows polled before (their
    offsets, timestamps and payloads must be unchanged). Returns the rows."""
    started = time.time()
    rows = []
    for _ in range(100000):
        chunk = poll(node, "--offset", str(len(rows)))
        if not chunk:
            break
        rows += chunk
    total = len(rows)
    structure_check(rows, when)
    if reference is not None:
        check(rows[:len(reference)] == reference,
              "%s: the %d messages polled before are identical" % (when, len(reference)))
    check(poll(node, "--first", count=3) == rows[:3], "%s: poll first" % when)
    check(poll(node, "--last", count=3) == rows[-3:], "%s: poll last" % when)
    stamps = [row[1] for row in rows]
    for index in sorted({0, 1, total // 3, total // 2, total - 2, total - 1}):
        first = next(j for j in range(total) if stamps[j] >= stamps[index])
        got = poll(node, "--timestamp", str(stamps[index]), count=2)
        check(got == rows[first:first + 2],
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
        seen += chunk
    check(seen == rows, "%s: poll next with auto-commit walks all %d once" % (when, total),
          "got %d" % len(seen))
    out = node.cli("consumer-offset", "get", "9", "wrap", "t", "0")
    check('"stored_offset":1234' in out.replace(" ", ""), "%s: the stored offset" % when, out)
    print("ok: %s: %d messages verified in %.1f s" % (when, total, time.time() - started))
    return rows


def main():
    root = tempfile.mkdtemp(prefix="runneld-wrap-")
    print("directory:", root, flush=True)
    node = Node(os.path.join(root, "data"), extra=[
        "--set", "limits.partition_ops_max=%d" % RING])
    try:
        node.start()
        node.cli("stream", "create", "wrap")
        sock = socket.create_connection(("127.0.0.1", node.port), timeout=30)
        reply = broker_test.create_topic_1mib(sock, 0x7777ffff, login(sock, client=0x7777ffff),
                                              b"wrap", b"t")
        check(status_of(reply) == 0, "a topic with one partition and 1 MiB segments")
        sock.close()
        send_batches(node, BATCHES // 2)
        node.cli("consumer-offset", "set", "9", "wrap", "t", "0", "1234")
        send_batches(node, BATCHES - BATCHES // 2, base=CONNECTIONS)
        rows = verify(node, None, "running")
        check(len(rows) == BATCHES, "running: %d messages" % BATCHES)
        node.stop()
        node.start()
        rows = verify(node, rows, "after a restart")
        send_batches(node, 10, connections=1, base=2 * CONNECTIONS)
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=20)
        node.start()
        rows = verify(node, rows, "after kill -9")
        check(len(rows) == BATCHES + 10, "after kill -9: %d messages" % (BATCHES + 10))
        sizes = [os.path.getsize(os.path.join(directory, name))
                 for directory, _, names in os.walk(node.data) for name in names
                 if name.startswith("vsr-checkpoint-") and
                 os.path.basename(directory) != "metadata"]  # the metadata group's own
        if BATCHES > 2 * RING:
            check(len(sizes) == 2 and min(sizes) > 0,
                  "the partition group wrote checkpoints into both files", str(sizes))
        log = open(os.path.join(root, "runneld.log")).read()
        check("assert_failed" not in log, "no assertion failed")
        node.stop()
    except SystemExit:
        path = os.path.join(root, "runneld.log")
        lines = [line for line in open(path) if "level=info" not in line and
                 "level=debug" not in line] if os.path.exists(path) else []
        print("runneld warnings and errors (last 30):\n" + "".join(lines[-30:]), flush=True)
        raise
    finally:
        if node.process is not None and node.process.poll() is None:
            node.process.kill()
        if os.environ.get("RUNNEL_TEST_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
    print("partition wrap: all checks passed (%d batches, ring %d)" % (BATCHES, RING))


if __name__ == "__main__":
    main()
