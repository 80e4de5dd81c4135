#!/usr/bin/env python3
"""A 3-node runneld cluster, end to end (tests/integration, DESIGN.md §3, §4, §10.3).

Formats and starts three runneld nodes on 127.0.0.1 (free ports, temporary data
directories, a cluster key) and drives them with the runnel CLI:
  - a stream and a topic created through node 0 reach every node's metadata;
  - messages sent through node 1 are appended by the partition's primary wherever it is
    (forwarded over the replica bus when it is elsewhere) and polled from node 2;
  - the partition's primary (from the nodes' partition_primary log events) is killed with
    SIGKILL; sends continue through the survivors (a short stall and retries allowed);
  - the killed node restarts, catches up, and serves the same messages;
  - every acknowledged message is present, and present once unless its send was retried
    after a failure (a CLI process is a new client each time: no exactly-once across them);
    offsets are contiguous; all three nodes return the same partition.
With --no-failover it stops after the poll from node 2 (no kill, no restart). With --lease
it checks only the consumer-group member lease (a member on each node, one node killed
for good: its member is released after cluster.member_lease_ms and the others own every
partition). With --takeover it checks only that a metadata request forwarded to a
primary that then stops is answered once its sender leads the next view, and that a node
whose data directory was wiped recovers from the others without voting before (see
wiped_node_recovers; a directory holding files but no identity is refused). With --big-batches it checks only
that batches of 1000 messages of 1000 B (about 1 MB, iggy-bench's default) sent with
default limits through the partition's primary and through a backup (forwarded) are
acknowledged and read back identical from every node, and that a batch over
limits.batch_size_bytes_max is refused at once with status 4. With --offsets it checks
only that a backup restarted after missing consumer-offset stores never serves a stored
offset below the last one stored (see offsets_after_restart).
During the failover two librunnel exactly-once producers (runnel-nemesis-producer, next
to RUNNELD) keep sending, one connected to the primary that is killed (it must move to a
survivor and go on), one to a survivor; their acknowledged messages must all be present,
once each, at the offsets acknowledged. The stall they saw is printed (p99.99 latency and
the longest gap between acknowledgements).
Usage: cluster_test.py RUNNELD RUNNEL [--no-failover | --lease | --takeover |
--big-batches | --resend | --offsets]. Exits 0 on success, 77 when io_uring
is unavailable. Bounded: 20-40 s on an idle machine, 120 s at most.
Debugging: RUNNEL_TEST_LOG_LEVEL=debug, RUNNEL_TEST_KEEP=1 (keep the directory),
RUNNEL_TEST_HOLD=seconds (on failure, leave the nodes running that long).
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from ports import free_ports  # noqa: E402 (same directory)

RUNNELD, RUNNEL = sys.argv[1], sys.argv[2]
FAILOVER = "--no-failover" not in sys.argv[3:]
LEASE = "--lease" in sys.argv[3:]
TAKEOVER = "--takeover" in sys.argv[3:]
BIG_BATCHES = "--big-batches" in sys.argv[3:]
RESEND = "--resend" in sys.argv[3:]
OFFSETS = "--offsets" in sys.argv[3:]
ABANDONED = "--abandoned" in sys.argv[3:]
LEASE_MS = 3000
OFFSET_STORES = int(os.environ.get("RUNNEL_TEST_OFFSET_STORES", "300"))
PRODUCER = os.path.join(os.path.dirname(RUNNELD), "runnel-nemesis-producer")
LOAD_SECONDS = int(os.environ.get("RUNNEL_TEST_LOAD_SECONDS", "4"))
ENV = dict(os.environ, RUNNEL_ROOT_USERNAME="iggy", RUNNEL_ROOT_PASSWORD="iggy")
COUNT = 3
STREAM, TOPIC, PARTITION = "cs", "ct", 0
DEADLINE = time.time() + (200 if TAKEOVER else 120)


def check(condition, what, detail=""):
    if not condition:
        raise SystemExit("FAILED: " + what + ("\n" + detail if detail else ""))
    print("ok:", what, flush=True)


def time_left():
    if time.time() > DEADLINE:
        raise SystemExit("FAILED: out of time")
    return DEADLINE - time.time()


class Node:
    def __init__(self, root, index, replica_ports, client_port, key_file):
        self.index = index
        self.data = os.path.join(root, "node%d" % index)
        self.log_path = os.path.join(root, "node%d.log" % index)
        self.port = client_port
        self.settings = [
            "server.data_dir=" + self.data,
            "server.client_port=%d" % self.port,
            "server.replica_port=%d" % replica_ports[index],
            "server.log_level=" + os.environ.get("RUNNEL_TEST_LOG_LEVEL", "info"),
            "shards.count=1",
            "limits.connections_max=64",
            "runtime.pin_threads=false",
            "storage.preallocate_bytes=0",
            "cluster.id=5eed00000000000000000000000000c3",
            "cluster.replica_index=%d" % index,
            "cluster.replica_count=%d" % COUNT,
            "cluster.peers=" + ",".join("127.0.0.1:%d" % port for port in replica_ports),
            "cluster.key_file=" + key_file,
            "cluster.member_lease_ms=%d" % LEASE_MS,
        ]
        self.process = None

    def arguments(self):
        result = []
        for setting in self.settings:
            result += ["--set", setting]
        return result

    def format(self):
        with open(self.log_path, "a") as log:
            status = subprocess.run([RUNNELD, "format"] + self.arguments(), env=ENV,
                                    stdout=log, stderr=log, timeout=30).returncode
        check(status == 0, "node %d formatted" % self.index)

    def start(self):
        log = open(self.log_path, "a")
        self.process = subprocess.Popen([RUNNELD] + self.arguments(), env=ENV, stdout=log,
                                        stderr=log)
        while time_left() > 0:
            if self.process.poll() is not None:
                text = open(self.log_path).read()
                if "io_uring" in text:
                    print("skip: io_uring unavailable")
                    sys.exit(77)
                raise SystemExit("runneld %d exited: %s" % (self.index, text[-3000:]))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)
        self.process = None

    def stop(self):
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def cli(self, *args):
        """(exit status, output) of one runnel CLI run against this node."""
        try:
            result = subprocess.run([RUNNEL, "--port", str(self.port), "-u", "iggy", "-p",
                                     "iggy", "--json"] + list(args), capture_output=True,
                                    text=True, timeout=20)
        except subprocess.TimeoutExpired:
            return 124, "timeout"
        return result.returncode, result.stdout + result.stderr

    def primary_view(self, topic=None):
        """Highest view in which this node's log says it became the partition's primary (of
        topic, a topic id, when given: new groups serve in view 0, so the partitions of
        several topics all have primaries in view 0, on different nodes)."""
        pattern = re.compile(r"event=partition_primary stream=(\d+) topic=(\d+) "
                             r"partition=(\d+) view=(\d+)")
        best = -1
        for line in open(self.log_path):
            match = pattern.search(line)
            if match and int(match.group(3)) == PARTITION and (
                    topic is None or int(match.group(2)) == topic):
                best = max(best, int(match.group(4)))
        return best


def retry(node, what, seconds, *args):
    """Runs a CLI command until it succeeds (returns its output) or seconds pass."""
    end = time.time() + min(seconds, time_left())
    output = ""
    while time.time() < end:
        status, output = node.cli(*args)
        if status == 0:
            return output
        time.sleep(0.2)
    raise SystemExit("FAILED: %s through node %d: %s" % (what, node.index, output))


def poll_all(node):
    """Every message of the partition as (offset, payload), or None when a poll fails. A
    poll may return fewer messages than asked (it stops at a non-message op): polled on
    from the next offset until one comes back empty."""
    messages = []
    for _ in range(200):
        status, output = node.cli("message", "poll", STREAM, TOPIC, str(PARTITION),
                                  "--offset", str(len(messages)), "--count", "1000")
        if status != 0:
            return None
        try:
            rows = json.loads(output)
        except ValueError:
            return None
        rows = rows if isinstance(rows, list) else rows.get("messages", [])
        if not rows:
            return messages
        messages += [(row["offset"], row["payload"]) for row in rows]
        if messages[-1][0] != len(messages) - 1:
            return messages  # not contiguous: verify() reports it
    return messages


class Producer:
    """Sends numbered messages one by one, each until acknowledged; records retries."""

    def __init__(self):
        self.acked = []
        self.retried = set()
        self.longest_gap_s = 0.0
        self.number = 0

    def send(self, nodes, count, seconds):
        for _ in range(count):
            self.number += 1
            payload = "m%04d" % self.number
            started = time.time()
            attempt = 0
            while True:
                node = nodes[attempt % len(nodes)]
                status, output = node.cli("message", "send", STREAM, TOPIC, "--partition-id",
                                          str(PARTITION), payload)
                if status == 0:
                    break
                self.retried.add(payload)
                attempt += 1
                if time.time() - started > seconds or time_left() < 5:
                    raise SystemExit("FAILED: %s never acknowledged: %s" % (payload, output))
                time.sleep(0.2)
            self.acked.append(payload)
            self.longest_gap_s = max(self.longest_gap_s, time.time() - started)


def wait_for_messages(node, producer, seconds, loads=()):
    """Polls node until it returns every acknowledged message; returns the messages."""
    end = time.time() + min(seconds, time_left())
    messages = None
    wanted = set(producer.acked)
    for load in loads:
        wanted |= set(load.acked)
    while time.time() < end:
        messages = poll_all(node)
        if messages is not None and wanted <= {p for _, p in messages}:
            return messages
        time.sleep(0.2)
    raise SystemExit("FAILED: node %d never returned every acknowledged message: have %s" % (
        node.index, None if messages is None else len(messages)))


def verify(messages, producer, what, loads=()):
    offsets = [offset for offset, _ in messages]
    check(offsets == list(range(len(offsets))), what + ": offsets contiguous from 0")
    payloads = [payload for _, payload in messages]
    present = set(payloads)
    lost = [p for p in producer.acked if p not in present]
    check(not lost, what + ": no acknowledged message lost", str(lost))
    counts = {}
    for payload in payloads:
        counts[payload] = counts.get(payload, 0) + 1
    twice = [p for p, n in counts.items() if n > 1 and p not in producer.retried]
    check(not twice, what + ": no message duplicated unless its send was retried", str(twice[:20]))
    for load in loads:
        wrong = [(offset, payload) for payload, offset in load.acked.items()
                 if offset >= len(payloads) or payloads[offset] != payload]
        check(not wrong, what + ": producer %d's %d acknowledged messages at their offsets" % (
            load.index, len(load.acked)), str(wrong[:20]))


class Load:
    """A runnel-nemesis-producer process and, once it ended, what it acknowledged."""

    def __init__(self, root, index, ports):
        self.index = index
        self.path = os.path.join(root, "producer%d.txt" % index)
        self.process = subprocess.Popen(
            [PRODUCER, ",".join(str(port) for port in ports), STREAM, TOPIC, "1", str(index),
             str(LOAD_SECONDS * 1000), self.path], env=ENV)
        self.acked = {}
        self.latencies_us = []
        self.ack_times_us = []

    def finish(self):
        status = self.process.wait(timeout=max(5, time_left()))
        for line in open(self.path):
            fields = line.split()
            if fields[0] == "ack":
                self.acked["p%d-%s" % (self.index, fields[1])] = int(fields[3])
                self.latencies_us.append(int(fields[5]) - int(fields[4]))
                self.ack_times_us.append(int(fields[5]))
        check(status == 0, "producer %d ended with every message acknowledged (%d)" % (
            self.index, len(self.acked)), open(self.path).read()[-2000:])


def stall_report(loads):
    """p99.99 latency and longest gap between acknowledgements over every producer."""
    latencies = sorted(us for load in loads for us in load.latencies_us)
    gaps = [b - a for load in loads for a, b in zip(load.ack_times_us, load.ack_times_us[1:])]
    if not latencies:
        return "no acknowledgements"
    p9999 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.9999))]
    return "stall seen by the producers: %d acks, p50 %.1f ms, p99.99 %.1f ms, max %.1f ms, " \
        "longest gap between acks %.1f ms" % (len(latencies), latencies[len(latencies) // 2] / 1e3,
                                             p9999 / 1e3, latencies[-1] / 1e3,
                                             max(gaps or [0]) / 1e3)


# ---- raw Iggy frames (one connection: read-your-writes is per connection) ----------------

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker_test as frames  # noqa: E402 (its frame helpers; its main() does not run)


class Raw:
    """One logged-in Iggy connection to a node, sending and polling STREAM/TOPIC/PARTITION."""

    def __init__(self, node, client, quiet=False):
        self.sock = socket.create_connection(("127.0.0.1", node.port), timeout=20)
        self.client = client
        self.quiet = quiet  # failures raise OSError, successes print nothing
        self.number = -1  # the login goes as request 0
        self.session = 0
        name = b"py"
        body = struct.pack("<I", 11264) + bytes([len(name)]) + name + b"\x01" + b"1"
        body += b"\x04iggy\x04iggy" + struct.pack("<I", 0)
        reply = self.call_retried(1, body)
        if quiet and (frames.status_of(reply) != 0 or len(reply) < 256 + 16):
            raise OSError("raw login to node %d: status %d, %d bytes" % (
                node.index, frames.status_of(reply), len(reply)))
        if not quiet:
            check(frames.status_of(reply) == 0, "raw login to node %d" % node.index)
        self.session = struct.unpack_from("<Q", reply, 256 + 8)[0]

    def call_retried(self, operation, body, code=0, stamp=False):
        """call, again while the reply is 57 or 58 (a metadata request parked through a
        view change: Iggy's SDKs retry these too), for up to 15 s."""
        end = time.time() + min(15, time_left())
        reply = self.call(operation, body, code, stamp)
        while frames.status_of(reply) in (57, 58) and time.time() < end:
            time.sleep(0.2)
            self.number -= 1  # the same request again
            reply = self.call(operation, body, code, stamp)
        return reply

    def call(self, operation, body, code=0, stamp=False):
        """One request numbered after the last (stamp: with request_checksum = XXH3(body),
        as Iggy's SDK sends metadata ops)."""
        self.number += 1
        frame = bytearray(frames.request(operation, body, code=code, client=self.client,
                                         session=self.session, request_number=self.number))
        if stamp:
            struct.pack_into("<Q", frame, 144, frames.xxh3(body))
        self.sock.sendall(bytes(frame))
        reply = frames.read_frame(self.sock)
        if self.quiet and reply is None:
            raise OSError("no reply from the node")
        if not self.quiet:
            check(reply is not None, "a reply from the node")
        return reply

    def send(self, payload):
        """The acknowledged base offset, or None when refused."""
        body = frames.send_body(0, 0, PARTITION, payload, stream=frames.named(STREAM.encode()),
                                topic=frames.named(TOPIC.encode()))
        reply = self.call(160, body)
        if frames.status_of(reply) != 0:
            return None
        return struct.unpack_from("<Q", reply, 256 + 16)[0]

    def poll(self, kind, value, count, consumer=1, auto_commit=False):
        """(status, message count, reply body) of a poll; kind 1 offset, 5 next."""
        named = frames.named
        body = (b"\x01\x01\x04" + struct.pack("<I", consumer) + named(STREAM.encode()) +
                named(TOPIC.encode()) + b"\x01" + struct.pack("<I", PARTITION) +
                bytes([kind]) + struct.pack("<QI", value, count) +
                bytes([1 if auto_commit else 0]))
        reply = self.call(2, body, code=100)
        status = frames.status_of(reply)
        if status != 0:
            return status, 0, b""
        return 0, struct.unpack_from("<I", reply, 256 + 12)[0], reply[256:]

    def offset_body(self, consumer):
        named = frames.named
        return (b"\x01\x01\x04" + struct.pack("<I", consumer) + named(STREAM.encode()) +
                named(TOPIC.encode()) + b"\x01" + struct.pack("<I", PARTITION))

    def store_offset(self, consumer, offset):
        """StoreConsumerOffset (161, code 121, ack quorum): the reply's status."""
        body = self.offset_body(consumer) + struct.pack("<Q", offset) + b"\x01"
        return frames.status_of(self.call_retried(161, body, code=121))

    def stored_offset(self, consumer):
        """GetConsumerOffset (code 120): (status, stored offset or None when none is
        stored)."""
        reply = self.call(2, self.offset_body(consumer), code=120)
        status = frames.status_of(reply)
        if status != 0 or len(reply) < 256 + 20:
            return status, None
        return 0, struct.unpack_from("<Q", reply, 256 + 12)[0]

    def close(self):
        self.sock.close()


def read_your_writes(nodes, primary):
    """DESIGN.md §10.5 on a backup: a poll right after a send on the same connection sees
    the send (served by the backup once it applied the write's op, else by the primary);
    Next with auto-commit on a backup goes to the primary, where the consumer's offset
    lives: polled in turn through every node, no message comes twice."""
    backups = [node for node in nodes if node.index != primary]
    for backup in backups:
        raw = Raw(backup, 0x7e57000000000001 + backup.index)
        seen = 0
        misses = []
        for number in range(15):
            payload = b"ryw-%d-%02d" % (backup.index, number)
            offset = raw.send(payload)
            check(offset is not None or number > 0, "send through backup %d" % backup.index)
            if offset is None:
                continue
            status, count, body = raw.poll(1, offset, 1)
            if status == 0 and count == 1 and payload in body:
                seen += 1
            else:
                misses.append((offset, status, count, body[:16].hex()))
        raw.close()
        check(seen == 15, "backup %d: a poll right after each send on the same connection "
              "returned it (%d of 15)" % (backup.index, seen), str(misses))
    raws = [Raw(node, 0x7e57000000000100 + node.index) for node in backups + [nodes[primary]]]
    payloads = []
    for round_number in range(60):
        raw = raws[round_number % len(raws)]
        status, count, body = raw.poll(5, 0, 7, consumer=77, auto_commit=True)
        check(status == 0, "Next with auto-commit (consumer 77) through node %d" % (
            [node.index for node in backups + [nodes[primary]]][round_number % len(raws)]))
        if count == 0:
            break
        payloads += re.findall(rb"(?:m\d{4}|ryw-\d-\d\d)", body)
    for raw in raws:
        raw.close()
    expected = [payload for _, payload in poll_all(nodes[primary]) or []]
    got = [payload.decode() for payload in payloads]
    check(got == expected and len(got) >= 50,
          "Next with auto-commit through both backups and the primary in turn read the "
          "partition's %d messages once each, in order" % len(got),
          "got %s\nexpected %s" % (got[:60], expected[:60]))


def first_message(nodes, client, payload):
    """Sends payload through node 0 until acknowledged (the partition group forms: 57/58 at
    first); it must be at offset 0."""
    raw = Raw(nodes[0], client)
    offset = None
    for _ in range(75):
        offset = raw.send(payload)
        if offset is not None or time_left() < 5:
            break
        time.sleep(0.2)
    check(offset == 0, "a first message through node 0 (offset 0)")
    raw.close()


def offsets_after_restart(nodes):
    """docs/NEMESIS.md bug 11: a consumer offset, once served, is never served lower later,
    by any node. A backup killed (-9) misses OFFSET_STORES more stores of consumer 1's
    offset; restarted, it is read at once, each time over a new connection (as the nemesis
    checker and a consumer that reconnects read it). The node the stores went through then
    reads the offset back on the same connection (the kill often moves the partition to
    another primary: that node may be a backup by then). Before the fix a backup answered
    GetConsumerOffset from its own copy, however far behind it restarted: the first reads
    returned the offset it had when it was killed (or none at all) while the primary had
    served the last one. Now only the partition's primary answers it (forwarded, like a
    Next poll), once it executed its view's head: every answered read is the last stored."""
    first_message(nodes, 0x0ff5e70000000001, b"offsets-0")
    primary = primary_of(nodes)
    backup = nodes[(primary + 1) % COUNT]
    writer = Raw(nodes[primary], 0x0ff5e70000000002)
    check(writer.store_offset(1, 1) == 0, "consumer 1's offset 1 stored through the primary")
    end = time.time() + min(10, time_left())
    seen = None
    while time.time() < end and seen != 1:
        reader = Raw(backup, 0x0ff5e70000000003, quiet=True)
        _, seen = reader.stored_offset(1)
        reader.close()
        time.sleep(0.05)
    check(seen == 1, "node %d (a backup) serves consumer 1's offset 1" % backup.index, str(seen))
    backup.kill()
    started = time.time()
    for value in range(2, OFFSET_STORES + 2):
        status = writer.store_offset(1, value)
        if status != 0:
            check(False, "store of offset %d through the primary" % value, "status %d" % status)
    last = OFFSET_STORES + 1
    check(True, "node %d killed; %d more offsets stored through node %d in %.1f s" % (
        backup.index, OFFSET_STORES, primary, time.time() - started))
    _, served = writer.stored_offset(1)  # checked below (a view change may follow the kill)
    writer.close()
    backup.start()
    restarted = time.time()
    reads = []  # (seconds after the restart, status, stored offset)
    end = time.time() + min(20, time_left())
    while time.time() < end:
        try:
            reader = Raw(backup, 0x0ff5e70000000100 + len(reads), quiet=True)
            status, value = reader.stored_offset(1)
            reader.close()
        except OSError as error:
            reads.append((time.time() - restarted, -1, str(error)))
            time.sleep(0.05)
            continue
        reads.append((time.time() - restarted, status, value))
        if status == 0 and value == last and len([r for r in reads if r[1] == 0]) >= 20:
            break
    answered = [(round(at, 2), value) for at, status, value in reads if status == 0]
    lower = [(at, value) for at, value in answered if value is None or value < last]
    refused = [(round(at, 2), status) for at, status, _ in reads if status != 0]
    check(answered, "node %d answered GetConsumerOffset after its restart (%d reads, %d "
          "answered; not answered, as (s, status; -1 login refused): %s)" % (
              backup.index, len(reads), len(answered), refused[:12]), str(reads[:20]))
    check(not lower, "node %d, restarted, never served consumer 1's offset below %d, the last "
          "one stored before (%d answered reads, the first %.2f s after the restart)" % (
              backup.index, last, len(answered), answered[0][0]),
          "served lower: %s (of %d answered)" % (lower[:10], len(answered)))
    check(served == last, "GetConsumerOffset on the connection that stored the offsets, "
          "through node %d, returned the last one (%d)" % (primary, last), str(served))


def abandoned_store(nodes):
    """docs/NEMESIS.md (seed 501): a consumer-offset store whose client gave up is never
    executed after a later store. Offset 10 is stored through the partition's primary; its
    backups are stopped (SIGSTOP) and offset 15 is sent to the primary on another
    connection (prepared there, never acknowledged: no quorum); the primary is stopped and
    the backups continue, form a view without it and store offset 20 (acknowledged); the
    old primary continues more than CLUSTER_FORWARD_PARK_TICKS later. Before the fix its
    data plane, whose tick count had not moved while it was stopped, re-sent the write of
    15 to the new primary, which executed it: the stored offset went back from 20 to 15
    (the nemesis saw 13116 then 13036 through node 0). Now a write older than that bound
    (monotonic time since it reached the node) is answered 57/58 and never handed on."""
    first_message(nodes, 0x0ff5e70000000201, b"abandoned-0")
    primary = primary_of(nodes)
    others = [node for node in nodes if node.index != primary]
    writer = Raw(nodes[primary], 0x0ff5e70000000202)
    check(writer.store_offset(1, 10) == 0, "consumer 1's offset 10 stored through the primary")
    writer.close()
    late = Raw(nodes[primary], 0x0ff5e70000000203)  # logged in while the metadata has a quorum
    stopped = list(others)
    try:
        for node in others:
            node.process.send_signal(signal.SIGSTOP)
        # Past cluster.peer_timeout_ms (5 s): the primary closed its links to them, so what it
        # prepares now reaches no backup (else the view change would commit it first).
        time.sleep(6.5)
        late.sock.sendall(frames.request(161, late.offset_body(1) + struct.pack("<Q", 15) +
                                         b"\x01", code=121, client=late.client,
                                         session=late.session, request_number=late.number + 1))
        time.sleep(1.0)  # taken by the primary, which cannot commit it
        nodes[primary].process.send_signal(signal.SIGSTOP)
        stopped = [nodes[primary]]
        for node in others:
            node.process.send_signal(signal.SIGCONT)
        late.close()  # its client gives up
        stored = None
        end = time.time() + min(40, time_left())
        while time.time() < end and stored != 0:
            try:
                raw = Raw(others[0], 0x0ff5e70000000300 + int(end - time.time()), quiet=True)
                stored = raw.store_offset(1, 20)
                raw.close()
            except OSError:
                time.sleep(0.2)
        check(stored == 0, "offset 20 stored through node %d while node %d is stopped" % (
            others[0].index, primary))
        time.sleep(7.0)  # the old primary stays stopped past the forward bound (5 s)
    finally:
        for node in stopped:
            node.process.send_signal(signal.SIGCONT)
    reads = []
    end = time.time() + min(8, time_left())
    while time.time() < end:
        for node in others:
            try:
                raw = Raw(node, 0x0ff5e70000000400 + len(reads), quiet=True)
                status, value = raw.stored_offset(1)
                raw.close()
            except OSError:
                continue
            if status == 0:
                reads.append((node.index, value))
        time.sleep(0.2)
    lower = [read for read in reads if read[1] != 20]
    check(reads and not lower, "after node %d continued, consumer 1's offset read through "
          "the other nodes stayed 20 (%d reads): the abandoned store of 15 never executed" % (
              primary, len(reads)), "read otherwise: %s" % lower[:10])


def group_members(raw):
    """{member id: [partition ids]} of group lg on STREAM/lt (GetConsumerGroup, 600)."""
    named = frames.named
    reply = raw.call(2, named(STREAM.encode()) + named(b"lt") + named(b"lg"), code=600)
    check(frames.status_of(reply) == 0, "consumer group read")
    body = reply[256:]
    _, _, member_count, name_size = struct.unpack_from("<IIIB", body, 0)
    at = 13 + name_size
    members = {}
    for _ in range(member_count):
        member_id, count = struct.unpack_from("<II", body, at)
        members[member_id] = list(struct.unpack_from("<%dI" % count, body, at + 8))
        at += 8 + 4 * count
    return members


def member_lease(nodes):
    """A consumer-group member on each node; the node of one is killed (-9) and stays down:
    after cluster.member_lease_ms the metadata primary releases that node's members and
    the group rebalances its partitions to the members on the live nodes."""
    retry(nodes[0], "topic create", 15, "topic", "create", STREAM, "lt", "3")
    named = frames.named
    raws = [Raw(node, 0x1ea5e00000000001 + node.index) for node in nodes]
    status = frames.status_of(raws[0].call_retried(
        139, named(STREAM.encode()) + named(b"lt") + b"\x02lg"))
    check(status == 0, "consumer group lg created through node 0", str(status))
    for raw, node in zip(raws, nodes):
        status = frames.status_of(raw.call_retried(148, named(STREAM.encode()) + named(b"lt") +
                                                   named(b"lg")))
        check(status == 0, "a member joined through node %d" % node.index, str(status))
    end = time.time() + min(20, time_left())
    members = group_members(raws[0])
    while time.time() < end and sorted(len(p) for p in members.values()) != [1, 1, 1]:
        time.sleep(0.2)
        members = group_members(raws[0])
    check(sorted(len(p) for p in members.values()) == [1, 1, 1],
          "three members with one partition each", str(members))
    victim = nodes[2]
    victim.kill()
    killed_at = time.time()
    time.sleep(LEASE_MS / 2000.0)
    members = group_members(raws[0])
    check(len(members) == 3, "the killed node's member is kept within the lease", str(members))
    end = time.time() + min(LEASE_MS / 1000.0 + 15, time_left())
    while time.time() < end and len(members) != 2:
        time.sleep(0.2)
        members = group_members(raws[0])
    released_s = time.time() - killed_at
    check(len(members) == 2 and sorted(sum(members.values(), [])) == [0, 1, 2],
          "the members on the live nodes own all three partitions %.1f s after the kill "
          "(lease %.1f s)" % (released_s, LEASE_MS / 1000.0), str(members))
    released = [line for node in nodes[:2] for line in open(node.log_path)
                if "event=consumer_members_released node=2" in line]
    check(released, "the metadata primary logged the release of node 2's members")
    for raw in raws[:2]:
        raw.close()


def metadata_primary(nodes):
    """(view, primary) of the highest normal metadata view the nodes' logs name."""
    pattern = re.compile(r"event=metadata_view view=(\d+) status=1 primary=(\d+)")
    best = (-1, -1)
    for node in nodes:
        for line in open(node.log_path):
            match = pattern.search(line)
            if match:
                best = max(best, (int(match.group(1)), int(match.group(2))))
    return best


def metadata_takeover(nodes):
    """A metadata request forwarded to the primary just before it stops (SIGSTOP) is
    answered once the node that sent it becomes the next view's primary: that node submits
    it to its own replica. Before, only a backup re-sent what it had forwarded: the new
    primary sat on it until the group moved on to yet another view (seen 5 of 5 runs, the
    reply after 3.7-4.2 s) or answered 57 after 5 s."""
    view, primary = metadata_primary(nodes)
    check(view >= 0, "the metadata primary is node %d (view %d)" % (primary, view))
    sender = nodes[(view + 1) % COUNT]  # the primary of the next view: (v + 0) mod n
    raw = Raw(sender, 0x7a6e000000000001)
    nodes[primary].process.send_signal(signal.SIGSTOP)
    try:
        started = time.time()
        reply = raw.call(128, b"\x02tk")  # CreateStream "tk", one attempt
        waited = time.time() - started
    finally:
        nodes[primary].process.send_signal(signal.SIGCONT)
    raw.close()
    new_view, new_primary = metadata_primary(nodes)
    check(frames.status_of(reply) == 0, "a stream created through node %d while the primary "
          "(node %d) stopped was answered OK after %.1f s (metadata view %d, primary %d)" % (
              sender.index, primary, waited, new_view, new_primary),
          "status %d after %.1f s" % (frames.status_of(reply), waited))
    check(new_primary == sender.index, "node %d answered it as the primary it became, "
          "without another view change" % sender.index, "view %d, primary %d" % (
              new_view, new_primary))


def stream_names(node):
    """The stream names node lists (the CLI's JSON)."""
    output = retry(node, "stream list", 15, "stream", "list")
    return set(re.findall(r'"name": ?"([^"]*)"', output))


def metadata_resend(nodes):
    """Iggy's client table (iggy-protocol.md §2.5; docs/NEMESIS.md bug 10): a metadata
    request resent with the same (client, request) number, as Iggy's SDK resends one
    answered 57/58, runs once and gets the first reply. Through a backup (forwarded to the
    metadata primary) and through the primary: a CreateStream resent after its stream's
    delete gets the create's reply and does not recreate the stream; the same number with
    another body (its own checksum) gets 59 and creates nothing; numbering goes on after. A
    CreateTopic of 30 partitions (a reply of about 1.5 KB, longer than the 232 bytes kept
    inline: the replies ring holds it) resent gets its first reply whole (before: 59)
    and creates nothing."""
    view, primary = metadata_primary(nodes)
    check(view >= 0, "the metadata primary is node %d (view %d)" % (primary, view))
    backup = nodes[(primary + 1) % COUNT]
    for node, tag in ((backup, b"b"), (nodes[primary], b"p")):
        where = "node %d (%s)" % (node.index, "backup" if node is backup else "primary")
        raw = Raw(node, 0x7e5e000000000001 + node.index)
        name = b"rs-" + tag
        create = bytes([len(name)]) + name
        first = raw.call_retried(128, create, stamp=True)  # as Iggy's SDK: stamped
        number = raw.number
        check(frames.status_of(first) == 0 and first[256:260] == b"\0\0\0\0",
              "CreateStream %s through %s (request %d)" % (name.decode(), where, number),
              first[256:268].hex())
        stream_id = struct.unpack_from("<I", first, 260)[0]
        reply = raw.call_retried(130, frames.numeric(stream_id), stamp=True)
        check(frames.status_of(reply) == 0 and reply[256:260] == b"\0\0\0\0",
              "DeleteStream %d (request %d)" % (stream_id, raw.number), reply[256:268].hex())
        after = raw.number
        raw.number = number - 1  # the create again, as the SDK resends it
        again = raw.call(128, create, stamp=True)
        check(frames.status_of(again) == 0 and again[256:] == first[256:],
              "the create resent with request %d gets the first reply (stream %d)" % (
                  number, stream_id), "%d %s" % (frames.status_of(again), again[256:280].hex()))
        raw.number = number - 1  # the same number with another body, stamped
        other = b"rs-x" + tag
        refused = raw.call(128, bytes([len(other)]) + other, stamp=True)
        check(frames.status_of(refused) == 0 and
              refused[256:268] == struct.pack("<III", 1, 0, 59),
              "request %d with another body is answered 59 (RequestAlreadyApplied)" % number,
              "%d %s" % (frames.status_of(refused), refused[256:268].hex()))
        raw.number = after
        name_next = name + b"-next"
        reply = raw.call_retried(128, bytes([len(name_next)]) + name_next, stamp=True)
        check(frames.status_of(reply) == 0 and reply[256:260] == b"\0\0\0\0",
              "the next request (%d) runs" % raw.number, reply[256:268].hex())
        topic = frames.named(name_next) + struct.pack("<I", 30) + b"\x02rt"
        first = raw.call_retried(132, topic, stamp=True)
        number = raw.number
        check(frames.status_of(first) == 0 and len(first) > 256 + 30 * 40,
              "CreateTopic rt of 30 partitions through %s (request %d, %d bytes)" % (
                  where, number, len(first)), "%d %s" % (frames.status_of(first),
                                                        first[256:268].hex()))
        after = raw.number
        raw.number = number - 1  # resent, as the SDK resends one answered 57/58
        again = raw.call(132, topic, stamp=True)
        check(frames.status_of(again) == 0 and again[256:] == first[256:],
              "the CreateTopic resent with request %d gets its first reply (%d bytes)" % (
                  number, len(again) - 256),
              "%d %d %s" % (frames.status_of(again), len(again), again[256:280].hex()))
        raw.number = after
        end = time.time() + min(15, time_left())
        while True:
            topics = retry(node, "topic list", 15, "topic", "list", name_next.decode())
            listed = re.findall(r'"name": ?"rt", ?"partitions": ?(\d+)', topics)
            if listed or time.time() >= end:
                break
            time.sleep(0.2)
        check(listed == ["30"], "%s lists topic rt once, with 30 partitions" % name_next.decode(),
              topics[:400])
        check(raw.send(b"resend-" + tag) is not None,
              "a send on the same connection is not numbered against it")
        raw.close()
    end = time.time() + min(15, time_left())
    while True:
        listed = [stream_names(node) for node in nodes]
        wanted = all("rs-b-next" in names and "rs-p-next" in names for names in listed)
        if wanted or time.time() >= end:
            break
        time.sleep(0.2)
    for node, names in zip(nodes, listed):
        check("rs-b-next" in names and "rs-p-next" in names and
              not names & {"rs-b", "rs-p", "rs-xb", "rs-xp"},
              "node %d lists the next streams, not the deleted ones nor the refused" % node.index,
              str(sorted(names)))


def register_without_quorum(nodes):
    """A RegisterClient (login) parked on node 0 while nodes 1 and 2 are stopped (no
    metadata quorum) is answered 57 or 58 once its bound passes, which Iggy's SDKs resend;
    not the eviction (InvalidCredentials) a wrong password gets. Once the nodes continue,
    the same login is answered OK."""
    for node in nodes[1:]:
        node.process.send_signal(signal.SIGSTOP)
    try:
        sock = socket.create_connection(("127.0.0.1", nodes[0].port), timeout=30)
        name = b"py"
        body = struct.pack("<I", 11264) + bytes([len(name)]) + name + b"\x01" + b"1"
        body += b"\x04iggy\x04iggy" + struct.pack("<I", 0)
        started = time.time()
        sock.sendall(frames.request(1, body, client=0x4e67000000000001))
        reply = frames.read_frame(sock)
        waited = time.time() - started
        sock.close()
    finally:
        for node in nodes[1:]:
            node.process.send_signal(signal.SIGCONT)
    check(reply is not None, "a reply to a login without a metadata quorum (%.1f s)" % waited)
    check(reply[60] == 8 and frames.status_of(reply) in (57, 58),
          "a login parked without a metadata quorum is answered %d (transient) after %.1f s" % (
              frames.status_of(reply), waited),
          "command %d, status %d" % (reply[60], frames.status_of(reply)))
    raw = Raw(nodes[0], 0x4e67000000000002)
    raw.close()
    check(True, "the login succeeds once nodes 1 and 2 continue")


def log_has(node, event):
    """True when node's log names event (key=value lines: event=NAME)."""
    return any(("event=%s " % event) in line or line.rstrip().endswith("event=" + event)
               for line in open(node.log_path))


def wait_log(node, event, seconds):
    end = time.time() + min(seconds, time_left())
    while time.time() < end:
        if log_has(node, event):
            return True
        time.sleep(0.2)
    return False


def wiped_node_recovers(nodes):
    """DESIGN.md §10.10: a node whose data directory was lost recovers from the cluster and
    never votes before that. A directory that is not empty but holds no identity is refused
    (it may be someone's data). The partition's primary P stays up while the victim V is
    wiped and writes go on through P and R (the third node); then P is stopped (SIGSTOP)
    and V restarts on an empty directory: R and V are two of three, but V does not vote,
    so writes are refused (no quorum) instead of a view that would lose what P and R hold,
    and V logs recovery_started but not recovery_complete; stopped and started again there,
    it keeps its recovering marker and resumes the recovery. Once P continues, V catches up
    (recovery_complete), knows every stream and returns every acknowledged message."""
    producer = Producer()
    producer.send(nodes, 20, 20)
    check(True, "20 messages acknowledged before the wipe")
    primary = primary_of(nodes)
    victim = nodes[(primary + 1) % COUNT]
    other = nodes[(primary + 2) % COUNT]
    victim.stop()
    shutil.rmtree(victim.data)
    os.makedirs(victim.data)
    with open(os.path.join(victim.data, "leftover"), "w") as leftover:
        leftover.write("not runnel's\n")
    with open(victim.log_path, "a") as log:
        try:
            status = subprocess.run([RUNNELD] + victim.arguments(), env=ENV, stdout=log,
                                    stderr=log, timeout=20).returncode
        except subprocess.TimeoutExpired:
            status = None
    tail = "".join(open(victim.log_path).readlines()[-5:])
    check(status not in (0, None) and "not empty" in tail,
          "runneld refuses node %d's unformatted directory holding a file (status %s)" % (
              victim.index, status), tail)
    check(not os.path.exists(os.path.join(victim.data, "cluster")) and
          not os.path.exists(os.path.join(victim.data, "recovering")),
          "nothing was written into it")
    os.remove(os.path.join(victim.data, "leftover"))
    retry(nodes[primary], "stream create", 15, "stream", "create", "after-wipe")
    producer.send([nodes[primary], other], 10, 20)
    check(True, "node %d wiped: a stream and 10 more messages acknowledged by nodes %d and %d" % (
        victim.index, primary, other.index))
    nodes[primary].process.send_signal(signal.SIGSTOP)
    try:
        victim.start()
        check(wait_log(victim, "recovery_started", 10), "node %d logs recovery_started" %
              victim.index)
        started = time.time()
        status, output = other.cli("message", "send", STREAM, TOPIC, "--partition-id",
                                   str(PARTITION), "refused")
        waited = time.time() - started
        check(status != 0, "with the primary (node %d) stopped and node %d recovering, a send "
              "through node %d is not acknowledged (%.1f s: no quorum)" % (
                  primary, victim.index, other.index, waited), output)
        check(not log_has(victim, "recovery_complete"),
              "node %d has not completed its recovery without the primary" % victim.index)
        victim.stop()  # a restart in the middle of the recovery resumes it
        check(os.path.exists(os.path.join(victim.data, "recovering")),
              "node %d stopped while recovering keeps its recovering marker" % victim.index)
        victim.start()
        check(wait_log(victim, "shard_started", 10) and
              sum(1 for line in open(victim.log_path) if "event=recovery_started" in line) == 2,
              "node %d restarted logs recovery_started again" % victim.index)
    finally:
        nodes[primary].process.send_signal(signal.SIGCONT)
    check(wait_log(victim, "recovery_complete", 60), "node %d logs recovery_complete once "
          "node %d continues" % (victim.index, primary),
          "".join(open(victim.log_path).readlines()[-10:]))
    for name in ("after-wipe", "tk", STREAM):
        retry(victim, "stream get", 15, "stream", "get", name)
    retry(victim, "topic get", 15, "topic", "get", STREAM, TOPIC)
    check(True, "streams and the topic created before and after the wipe are known on node %d" %
          victim.index)
    messages = wait_for_messages(victim, producer, 30)
    verify(messages, producer, "node %d after its recovery" % victim.index)
    producer.send([victim], 5, 20)
    final = [wait_for_messages(node, producer, 20) for node in nodes]
    check(final[0] == final[1] == final[2], "the partition is identical on all nodes (%d "
          "messages)" % len(final[0]))
    verify(final[0], producer, "final")


# ---- batches of about 1 MB (iggy-bench's default: 1000 messages of 1000 B) -------------

BIG_COUNT, BIG_SIZE = 1000, 1000
BIG_MARK = re.compile(rb"<(b\d+)-(\d{5})>")


def big_batch_body(tag, count, size):
    """A SendMessages body for STREAM/TOPIC/PARTITION: count messages of size bytes, the
    n-th starting with <tag-n> (5 digits) and padded with dots."""
    frames_bytes = []
    checksums = []
    for number in range(count):
        payload = (b"<%s-%05d>" % (tag, number)).ljust(size, b".")
        rest = struct.pack("<QQIIIIQ", number + 1, 0, 0, 0, 0, len(payload), 0) + payload
        checksum = frames.xxh3(rest)
        checksums.append(struct.pack("<Q", checksum))
        frames_bytes.append(struct.pack("<Q", checksum) + rest)
    frames_all = b"".join(frames_bytes)
    length = 256 + len(frames_all)
    fields = struct.pack("<QQQQQ", 0, 0, 0, 0, length) + struct.pack("<I", count)
    batch_checksum = frames.xxh3(fields + b"".join(checksums))
    header = struct.pack("<QQQQQQI", 0, 0, 0, 0, length, batch_checksum, count)
    header += bytes(256 - len(header))
    metadata = (frames.named(STREAM.encode()) + frames.named(TOPIC.encode()) + b"\x02\x04" +
                struct.pack("<I", PARTITION) + struct.pack("<I", count))
    return struct.pack("<I", len(metadata)) + metadata + header + frames_all


def big_send(raw, tag, count=BIG_COUNT):
    """(status, base offset) of one big batch; resent (the same request) while 57/58 for up
    to 15 s, as Iggy's SDKs retry them."""
    body = big_batch_body(tag, count, BIG_SIZE)
    started = time.time()
    reply = raw.call_retried(160, body)
    status = frames.status_of(reply)
    offset = struct.unpack_from("<Q", reply, 256 + 16)[0] if status == 0 else None
    return status, offset, time.time() - started


def big_read(node, total):
    """The message marks of offsets 0..total-1 on node, in offset order (polled by offset
    in chunks; each reply holds as many as fit poll_reply_bytes_max)."""
    raw = Raw(node, 0xb16b000000000100 + node.index)
    marks = []
    end = time.time() + min(30, time_left())
    while len(marks) < total and time.time() < end:
        status, count, body = raw.poll(1, len(marks), 400)
        found = BIG_MARK.findall(body)
        if status != 0 or count == 0:
            time.sleep(0.2)  # not applied here yet
            continue
        if len(found) != count:
            check(False, "node %d: %d marks in a reply of %d messages" % (
                node.index, len(found), count))
        marks += [tag + b"-" + number for tag, number in found]
    raw.close()
    return marks


def big_batches(nodes):
    """Batches of about 1 MB with default limits: through the partition's primary (the
    request prepared there, its prepare sent to both backups) and through a backup (the
    request forwarded to the primary over the replica bus first). Before replica links had
    their own output rings these never fitted a link (a prepare may fill 7/8 of a 1.06 MiB
    ring, a forwarded request half of it) and were answered 57/58 forever. A batch over
    limits.batch_size_bytes_max is refused at once with status 4 (InvalidFormat)."""
    first_message(nodes, 0xb16b000000000001, b"<b9-00000>")
    primary = primary_of(nodes)
    backup = nodes[(primary + 1) % COUNT]
    acked = {}
    for who, node in (("the primary", nodes[primary]), ("a backup", backup)):
        raw = Raw(node, 0xb16b000000000010 + node.index)
        for round_number in range(3):
            tag = b"b%d%d" % (node.index, round_number)
            status, offset, seconds = big_send(raw, tag)
            check(status == 0, "a batch of %d x %d B sent through %s (node %d) acknowledged "
                  "in %.2f s at offset %s" % (BIG_COUNT, BIG_SIZE, who, node.index, seconds,
                                              offset), "status %d" % status)
            acked[tag] = offset
        raw.close()
    raw = Raw(backup, 0xb16b000000000020)
    oversize = 8 * 1024 * 1024 // BIG_SIZE + 100  # over the 8 MiB batch_size_bytes_max
    body = big_batch_body(b"b99", oversize, BIG_SIZE)
    started = time.time()
    reply = raw.call(160, body)
    seconds = time.time() - started
    raw.close()
    check(frames.status_of(reply) == 4 and seconds < 5, "a batch of %d x %d B through a "
          "backup refused with status 4 in %.2f s (over limits.batch_size_bytes_max)" % (
              oversize, BIG_SIZE, seconds), "status %d" % frames.status_of(reply))
    total = 1 + 6 * BIG_COUNT
    reads = [big_read(node, total) for node in nodes]
    for node, marks in zip(nodes, reads):
        check(len(marks) == total, "node %d returned all %d messages" % (node.index, total),
              "%d" % len(marks))
    check(reads[0] == reads[1] == reads[2], "the partition is identical on all nodes")
    for tag, offset in acked.items():
        want = [tag + b"-%05d" % number for number in range(BIG_COUNT)]
        check(reads[0][offset:offset + BIG_COUNT] == want,
              "batch %s's %d messages at offsets %d.., in order" % (tag.decode(), BIG_COUNT,
                                                                    offset))


def primary_of(nodes):
    views = [node.primary_view() for node in nodes]
    primary = max(range(COUNT), key=lambda index: views[index])
    check(views[primary] >= 0, "the partition's primary is node %d (view %d)" % (
        primary, views[primary]), str(views))
    return primary


def new_cluster(prefix):
    """A temporary directory with a fresh cluster key and COUNT nodes (not formatted) on
    free ports: (root, nodes)."""
    root = tempfile.mkdtemp(prefix=prefix)
    print("directory:", root, flush=True)
    key_file = os.path.join(root, "cluster.key")
    with open(key_file, "w") as key:
        key.write(os.urandom(32).hex() + "\n")
    os.chmod(key_file, 0o600)
    ports = free_ports(2 * COUNT)
    return root, [Node(root, index, ports[:COUNT], ports[COUNT + index], key_file)
                  for index in range(COUNT)]


def main():
    root, nodes = new_cluster("runnel-cluster-")
    try:
        for node in nodes:
            node.format()
        for node in nodes:
            node.start()
        check(True, "3 nodes listening")
        retry(nodes[0], "stream create", 30, "stream", "create", STREAM)
        retry(nodes[0], "topic create", 15, "topic", "create", STREAM, TOPIC, "1")
        retry(nodes[1], "topic get", 15, "topic", "get", STREAM, TOPIC)
        retry(nodes[2], "topic get", 15, "topic", "get", STREAM, TOPIC)
        check(True, "stream and topic created through node 0 are known on nodes 1 and 2")
        if TAKEOVER:
            register_without_quorum(nodes)
            metadata_takeover(nodes)
            wiped_node_recovers(nodes)
            print("cluster: all checks passed (metadata takeover)")
            return
        if RESEND:
            metadata_resend(nodes)
            print("cluster: all checks passed (metadata resend)")
            return
        if BIG_BATCHES:
            big_batches(nodes)
            print("cluster: all checks passed (big batches)")
            return
        if ABANDONED:
            abandoned_store(nodes)
            print("cluster: all checks passed (an abandoned consumer-offset store)")
            return
        if OFFSETS:
            offsets_after_restart(nodes)
            print("cluster: all checks passed (consumer offsets after a restart)")
            return
        if LEASE:
            member_lease(nodes)
            print("cluster: all checks passed (member lease)")
            return
        producer = Producer()
        producer.send([nodes[1]], 20, 15)
        check(True, "20 messages acknowledged through node 1")
        verify(wait_for_messages(nodes[2], producer, 15), producer, "node 2 poll")
        primary = primary_of(nodes)
        read_your_writes(nodes, primary)
        if not FAILOVER:
            print("cluster: all checks passed (no failover)")
            return
        survivors = [node for node in nodes if node.index != primary]
        loads = [Load(root, 1, [nodes[primary].port] + [node.port for node in survivors]),
                 Load(root, 2, [node.port for node in survivors] + [nodes[primary].port])]
        time.sleep(3)
        nodes[primary].kill()
        producer.send(survivors, 20, 20)
        for load in loads:
            load.finish()
        print(stall_report(loads), flush=True)
        check(True, "20 more messages acknowledged through the survivors (longest wait "
              "%.2f s, %d retried)" % (producer.longest_gap_s, len(producer.retried)))
        for node in survivors:
            verify(wait_for_messages(node, producer, 15, loads), producer, "node %d" % node.index,
                   loads)
        nodes[primary].start()
        caught_up = wait_for_messages(nodes[primary], producer, 30, loads)
        verify(caught_up, producer, "restarted node %d" % primary, loads)
        producer.send(nodes, 5, 15)
        final = [wait_for_messages(node, producer, 15, loads) for node in nodes]
        check(final[0] == final[1] == final[2], "the partition is identical on all nodes "
              "(%d messages)" % len(final[0]))
        verify(final[0], producer, "final", loads)
    except SystemExit:
        if "RUNNEL_TEST_HOLD" in os.environ:
            print("holding for inspection", flush=True)
            time.sleep(float(os.environ["RUNNEL_TEST_HOLD"]))
        for node in nodes:
            if node.process is not None and node.process.poll() is not None:
                sys.stderr.write("node %d exited with status %d\n" % (
                    node.index, node.process.returncode))
            if os.path.exists(node.log_path):
                sys.stderr.write("---- node %d log (tail)\n" % node.index)
                sys.stderr.write("".join(open(node.log_path).readlines()[-25:]))
        raise
    finally:
        for node in nodes:
            if node.process is not None:
                node.stop()
        if "RUNNEL_TEST_KEEP" not in os.environ:
            shutil.rmtree(root, ignore_errors=True)
    print("cluster: all checks passed")


if __name__ == "__main__":
    main()
