#!/usr/bin/env python3
"""The nemesis test: a 3-node runneld cluster under faults, then a checker (issue 8,
research/vsr.md §7, docs/NEMESIS.md).

Three nodes on 127.0.0.1 (or, with --netns, one network namespace each) serve one topic
with PARTITIONS partitions. Load, for the whole run:
  - PRODUCERS librunnel exactly-once producers (runnel-nemesis-producer), each starting on
    a different node, sending uniquely numbered messages round-robin over the partitions
    (so every node's primaries get writes) and recording every acknowledgement; on a
    failure they move to the next node and resend with the same sequence;
  - one consumer (runnel CLI) that polls each partition from where it stands and commits
    its consumer offset, observing the stored offsets as it goes.
A nemesis driven by random.Random(seed) does one fault at a time, each lasting a chosen
time, with a healthy interval after it: kill -9 and restart of a node (partition and
metadata primaries included: every node is the primary of some partition), SIGSTOP/SIGCONT
pause of a node and, in the long form with --netns (root, ip netns, iptables), a cut of
the links between two nodes (cluster-configs/netns.sh).
At the end every fault is healed, the producers finish, and the cluster must converge
(bounded). The checker reads every partition back from every node and proves:
  - no acknowledged message lost: each one is on every node at its acknowledged offset;
  - no offset with two values: across nodes, across reads over time, across the offsets
    acknowledged to the producers and the messages the consumer polled;
  - every partition identical on all nodes, offsets contiguous from 0;
  - no duplicate: each numbered message of the exactly-once producers appears once, and
    nothing else appears;
  - consumer: its polls never skip an offset, its committed offsets never go back (per
    node, over time, restarts included) and every node ends at its last acknowledged one;
  - no node exited on its own (crash) and the producers all ended acknowledged.
With --iggy-bench PATH, iggy-bench pinned-producer runs (Apache Iggy's benchmark client,
at-least-once: duplicates allowed) write to their own streams, one run after another,
through one node the nemesis never kills in that run (it may still pause it or cut its
links); the checker proves each of their partitions contiguous, identical on all nodes and
at least as long as the messages iggy-bench acknowledged, and every iggy-bench run ended
without an error.
A summary (acks, faults, longest gap, p99.99 latency) is printed; a failure names the seed
and the command that replays it.

Usage: nemesis_test.py RUNNELD RUNNEL [--seed N] [--duration S] [--fault-min S]
  [--fault-max S] [--rate N] [--netns] [--netns-instance K] [--iggy-bench PATH]
CI form (defaults): seed 8, 120 s, faults of 2-4 s. Long form: --duration 600 --seed S
(faults of 5-20 s unless given; add --netns for link cuts when root, --netns-instance K
to run next to another testbed, --iggy-bench for iggy-bench producers). Exits 0 when
clean, 1 on an anomaly, 77 when io_uring is unavailable.
Debugging: RUNNEL_TEST_KEEP=1 keeps the directory (node logs, producer records).
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from ports import free_ports  # noqa: E402 (same directory)

PARSER = argparse.ArgumentParser()
PARSER.add_argument("runneld")
PARSER.add_argument("runnel")
PARSER.add_argument("--seed", type=int, default=8)
PARSER.add_argument("--duration", type=float, default=120.0)
PARSER.add_argument("--fault-min", type=float, default=None)
PARSER.add_argument("--fault-max", type=float, default=None)
PARSER.add_argument("--rate", type=int, default=None, help="messages/s per producer")
PARSER.add_argument("--netns", action="store_true", help="link cuts (long form, root)")
PARSER.add_argument("--netns-instance", type=int,
                    default=int(os.environ.get("RUNNEL_NETNS_INSTANCE", "0")),
                    help="netns.sh testbed instance 0..99 (RUNNEL_NETNS_INSTANCE)")
PARSER.add_argument("--iggy-bench", default=None, help="iggy-bench binary: its producers too")
ARGS = PARSER.parse_args()
ARGS.runneld, ARGS.runnel = os.path.abspath(ARGS.runneld), os.path.abspath(ARGS.runnel)
LONG = ARGS.duration > 150
FAULT_MIN = ARGS.fault_min if ARGS.fault_min is not None else (5.0 if LONG else 2.0)
FAULT_MAX = ARGS.fault_max if ARGS.fault_max is not None else (20.0 if LONG else 4.0)
# Each producer's rate is about one partition's op rate (3 producers over 3 partitions).
# The default keeps a run under 36,000 ops per partition, as when partition groups had no
# checkpoints and stopped at limits.partition_ops_max (65,536); kept so runs stay
# comparable with the recorded ones (docs/NEMESIS.md). Now a partition only waits when it
# gets a whole ring ahead of a node that is down (docs/OPERATIONS.md).
ARGS.rate = ARGS.rate if ARGS.rate is not None else min(200, int(36000 / ARGS.duration))
HERE = os.path.dirname(os.path.abspath(__file__))
PRODUCER = os.path.join(os.path.dirname(ARGS.runneld), "runnel-nemesis-producer")
READER = os.path.join(os.path.dirname(ARGS.runneld), "runnel-nemesis-reader")
NETNS = os.path.join(HERE, "..", "..", "cluster-configs", "netns.sh")
NETNS_ENV = dict(os.environ, RUNNEL_NETNS_INSTANCE=str(ARGS.netns_instance))
NETNS_NAME = "rnl" if ARGS.netns_instance == 0 else "rnl%d" % ARGS.netns_instance
BRIDGE = "rnl-br%d" % ARGS.netns_instance
ENV = dict(os.environ, RUNNEL_ROOT_USERNAME="iggy", RUNNEL_ROOT_PASSWORD="iggy")
COUNT, PARTITIONS, PRODUCERS = 3, 3, 3
STREAM, TOPIC, CONSUMER = "ns", "nt", "1"
CONVERGE_S = 120.0 if LONG else 90.0
DEADLINE = time.time() + ARGS.duration + 420
# iggy-bench (--iggy-bench): BENCH_PRODUCERS producers, each to its own stream, through
# node BENCH_NODE, which the nemesis never kills in this run (a kill drawn for it hits the
# other node drawn with it; pauses and link cuts may still hit it: iggy's SDK re-sends on
# 57/58 for 30 s, longer than a fault). Batches of 10 x 1000 B (10 KB: well under the
# replica bus's frame limit for ~1 MB batches, docs/OPERATIONS.md), 2 batches/s per
# producer (-r is over all producers), 60 batches per producer per run (about 30 s): about
# 12,000 messages per stream in 600 s, which the checker reads back 1,000 per CLI poll.
BENCH_NODE = ARGS.seed % COUNT if ARGS.iggy_bench else None
BENCH_PRODUCERS, BENCH_MESSAGE_BYTES, BENCH_BATCH, BENCH_BATCHES = 2, 1000, 10, 60
BENCH_RATE, BENCH_RUN_S = 2 * 2 * BENCH_BATCH * BENCH_MESSAGE_BYTES, 30


def log(*words):
    print("[%7.1f]" % (time.time() - START), *words, flush=True)


START = time.time()


class Node:
    """One runneld: started, killed, paused and resumed by the nemesis."""

    def __init__(self, root, index, host, client_port, replica_ports, key_file, netns):
        self.index = index
        self.host = host
        self.port = client_port
        self.netns = netns
        self.data = os.path.join(root, "node%d" % index)
        self.log_path = os.path.join(root, "node%d.log" % index)
        self.cwd = os.path.join(root, "cwd%d" % index)
        peers = ",".join("%s:%d" % peer for peer in replica_ports)
        self.settings = [
            "server.data_dir=" + self.data, "server.client_address=" + host,
            "server.client_port=%d" % client_port, "server.replica_address=" + host,
            "server.replica_port=%d" % replica_ports[index][1],
            "server.log_level=" + os.environ.get("RUNNEL_TEST_LOG_LEVEL", "info"),
            "shards.count=1", "limits.connections_max=64", "runtime.pin_threads=false",
            "storage.preallocate_bytes=0", "cluster.id=5eed00000000000000000000000000c8",
            "cluster.replica_index=%d" % index, "cluster.replica_count=%d" % COUNT,
            "cluster.peers=" + peers, "cluster.key_file=" + key_file]
        self.process = None
        self.state = "down"
        self.crashes = []

    def command(self, *words):
        prefix = ["ip", "netns", "exec", "%s-%d" % (NETNS_NAME, self.index + 1)] \
            if self.netns else []
        result = prefix + [ARGS.runneld] + list(words)
        for setting in self.settings:
            result += ["--set", setting]
        return result

    def format(self):
        with open(self.log_path, "a") as out:
            status = subprocess.run(self.command("format"), env=ENV, stdout=out, stderr=out,
                                    timeout=30).returncode
        if status != 0:
            fail("node %d format exited %d" % (self.index, status))

    def start(self):
        out = open(self.log_path, "a")
        out.write("---- nemesis: start at %.1f s\n" % (time.time() - START))
        out.flush()
        os.makedirs(self.cwd, exist_ok=True)  # a core file (ulimit -c) lands there
        self.process = subprocess.Popen(self.command(), env=ENV, stdout=out, stderr=out,
                                        cwd=self.cwd)
        self.state = "up"
        end = time.time() + 60
        while time.time() < end:
            if self.process.poll() is not None:
                text = open(self.log_path).read()
                if "io_uring" in text and text.count("---- nemesis: start") == 1:
                    print("skip: io_uring unavailable")
                    sys.exit(77)
                self.note_crash()
                return
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        fail("node %d does not listen 60 s after its start" % self.index)

    def signal(self, number, state):
        self.process.send_signal(number)
        self.state = state
        if number == signal.SIGKILL:
            self.process.wait(timeout=30)
            self.process = None

    def note_crash(self):
        """Records an exit the nemesis did not cause (a crash) with the log's tail."""
        if self.process is not None and self.process.poll() is not None:
            status = self.process.returncode
            tail = "".join(open(self.log_path, errors="replace").readlines()[-15:])
            self.crashes.append("node %d exited on its own with status %d at %.1f s\n%s" % (
                self.index, status, time.time() - START, tail))
            log("CRASH: node %d exited with status %d" % (self.index, status))
            self.process = None
            self.state = "down"
            return True
        return False

    def stop(self):
        if self.process is None:
            return
        if self.state == "paused":
            self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        if not exited_within(self.process, 20):
            self.process.kill()
            self.process.wait()
        self.process = None

    def cli(self, *words, timeout=20):
        """(exit status, stdout) of one runnel CLI run against this node."""
        try:
            result = subprocess.run([ARGS.runnel, "--host", self.host, "--port", str(self.port),
                                     "-u", "iggy", "-p", "iggy", "--json"] + list(words),
                                    capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, ""
        return result.returncode, result.stdout

    def json(self, *words, timeout=20):
        status, output = self.cli(*words, timeout=timeout)
        if status != 0:
            return None
        try:
            return json.loads(output)
        except ValueError:
            return None

    def poll(self, partition, offset, count=1000, timeout=20):
        """[(offset, payload)] from offset, or None when the poll failed."""
        rows = self.json("message", "poll", STREAM, TOPIC, str(partition), "--offset",
                         str(offset), "--count", str(count), timeout=timeout)
        if rows is None:
            return None
        rows = rows if isinstance(rows, list) else rows.get("messages", [])
        return [(int(row["offset"]), row["payload"]) for row in rows]

    def stored_offset(self, partition, timeout=5):
        rows = self.json("consumer-offset", "get", CONSUMER, STREAM, TOPIC, str(partition),
                         timeout=timeout)
        rows = rows if isinstance(rows, list) else [rows] if rows else []
        return int(rows[0]["stored_offset"]) if rows else None


def locate(key):
    """(stream, topic, partition, whole) of a partition key: a partition number of the
    nemesis topic (its rows' value is the payload), or (stream, topic, partition) of an
    iggy-bench stream, whose rows are compared whole (timestamp, size and the payload's
    hash: iggy-bench repeats one payload)."""
    if isinstance(key, int):
        return STREAM, TOPIC, key, False
    return key[0], key[1], key[2], True


def exited_within(process, seconds):
    try:
        process.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def fail(what):
    raise SystemExit("FAILED: " + what)


class Producer:
    """A runnel-nemesis-producer process and, once it ended, what it acknowledged."""

    def __init__(self, root, index, nodes):
        self.index = index
        self.path = os.path.join(root, "producer%d.txt" % index)
        order = nodes[index % len(nodes):] + nodes[:index % len(nodes)]
        endpoints = ",".join("%s:%d" % (node.host, node.port) for node in order)
        self.process = subprocess.Popen(
            [PRODUCER, endpoints, STREAM, TOPIC, str(PARTITIONS), str(index),
             str(int(ARGS.duration * 1000)), self.path, str(ARGS.rate)], env=ENV)
        self.acks = []  # (payload, partition, offset, start_us, end_us)
        self.failed = 0
        self.status = None

    def finish(self, seconds):
        try:
            self.status = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.status = self.process.wait()
        for line in open(self.path):
            fields = line.split()
            if fields[0] == "ack":
                self.acks.append(("p%d-%s" % (self.index, fields[1]), int(fields[2]),
                                  int(fields[3]), int(fields[4]), int(fields[5])))
            elif fields[0] == "fail":
                self.failed += 1


class Consumer(threading.Thread):
    """Polls each partition in turn from its own position through one node (the next one
    when that fails) and commits its consumer offset; records what it polled, the offsets
    it committed (acknowledged) and the stored offsets it observed on each node."""

    def __init__(self, nodes):
        super().__init__(daemon=True)
        self.nodes = nodes
        self.stop_event = threading.Event()
        self.next = [0] * PARTITIONS
        self.polled = {}  # (partition, offset) -> payload
        self.skips = []
        self.committed = [[] for _ in range(PARTITIONS)]  # acknowledged values, in order
        self.attempted = [-1] * PARTITIONS
        self.observed = {}  # (node, partition) -> [(time, value)]
        self.node = 0
        self.rounds = 0

    def run(self):
        while not self.stop_event.is_set():
            for partition in range(PARTITIONS):
                if not self.step(self.nodes[self.node % COUNT], partition):
                    self.node += 1
                    time.sleep(0.2)
            self.rounds += 1

    def step(self, node, partition):
        seen = node.stored_offset(partition)
        if seen is not None:
            self.observed.setdefault((node.index, partition), []).append((time.time(), seen))
        rows = node.poll(partition, self.next[partition], count=200, timeout=5)
        if rows is None:
            return False
        if not rows:
            return True
        expected = list(range(self.next[partition], self.next[partition] + len(rows)))
        if [offset for offset, _ in rows] != expected:
            self.skips.append((node.index, partition, self.next[partition],
                               [offset for offset, _ in rows[:5]]))
        for offset, payload in rows:
            self.polled.setdefault((partition, offset), set()).add(payload)
        last = rows[-1][0]
        self.next[partition] = last + 1
        self.attempted[partition] = last
        status, _ = node.cli("consumer-offset", "set", CONSUMER, STREAM, TOPIC, str(partition),
                             str(last), timeout=5)
        if status != 0:
            return False
        self.committed[partition].append(last)
        return True


class Bench(threading.Thread):
    """iggy-bench pinned-producer runs, one after another until the nemesis ends, through
    one node (BENCH_* below). Each run sends BENCH_BATCHES batches per producer to stream
    bench-stream-k (k = 1..BENCH_PRODUCERS, topic-1, one partition; the first run creates
    them, --reuse-streams appends). iggy-bench logs 'Producer #k → finished sending' only
    after the last of its batches was acknowledged and stops at the first send that fails
    (after the SDK's own retries), so a producer with that line acknowledged exactly
    BENCH_BATCHES * BENCH_BATCH messages and one without it counts as 0 acknowledged."""

    def __init__(self, node, end):
        super().__init__(daemon=True)
        self.node = node
        self.end = end
        self.runs = []  # (run, exit status, {stream key: acknowledged messages}, last line)

    def run(self):
        while time.time() + BENCH_RUN_S < self.end:
            self.runs.append(self.invoke(len(self.runs)))

    def invoke(self, index):
        path = os.path.join(ROOT, "iggy-bench%d.txt" % index)
        command = [ARGS.iggy_bench, "-m", str(BENCH_MESSAGE_BYTES), "-P", str(BENCH_BATCH),
                   "-b", str(BENCH_BATCHES), "-r", str(BENCH_RATE), "--reuse-streams",
                   "pinned-producer", "-p", str(BENCH_PRODUCERS), "-s", str(BENCH_PRODUCERS),
                   "tcp", "--server-address", "%s:%d" % (self.node.host, self.node.port)]
        with open(path, "w") as out:
            out.write(" ".join(command) + "\n")
            out.flush()
            try:
                status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                        cwd=ROOT, timeout=BENCH_RUN_S + 150,
                                        env=dict(os.environ, RUST_LOG="info")).returncode
            except subprocess.TimeoutExpired:
                status = "killed after %d s" % (BENCH_RUN_S + 150)
        text = re.sub("\x1b\\[[0-9;]*m", "", open(path, errors="replace").read())
        acked = {bench_key(k): 0 for k in range(1, BENCH_PRODUCERS + 1)}
        for number in re.findall(r"Producer #([0-9]+) \S+ finished sending", text):
            acked[bench_key(int(number))] = BENCH_BATCHES * BENCH_BATCH
        lines = text.strip().splitlines()
        if status != 0 or sum(acked.values()) != BENCH_PRODUCERS * BENCH_BATCHES * BENCH_BATCH:
            log("iggy-bench run %d failed (%s): %s" % (index, status, lines[-1][:300]))
        return index, status, acked, lines[-1][:300] if lines else ""

    def acknowledged(self):
        """stream key -> messages acknowledged over all runs."""
        total = {}
        for _, _, acked, _ in self.runs:
            for key, count in acked.items():
                total[key] = total.get(key, 0) + count
        return total

    def failures(self):
        return [(index, status, line) for index, status, acked, line in self.runs
                if status != 0 or sum(acked.values()) != BENCH_PRODUCERS * BENCH_BATCHES *
                BENCH_BATCH]


def bench_key(producer):
    return ("bench-stream-%d" % producer, "topic-1", 0)


class Nemesis:
    """One fault at a time from random.Random(seed): kill -9 + restart, pause, link cut."""

    def __init__(self, nodes, seed, cuts, spared):
        self.nodes = nodes
        self.random = random.Random(seed)
        self.cuts = cuts
        self.spared = spared  # never killed (iggy-bench's node), or None
        self.faults = []

    def run(self, end):
        while True:
            healthy = self.random.uniform(FAULT_MIN, FAULT_MAX)
            kind = self.random.choice(["kill", "pause", "cut"] if self.cuts else
                                      ["kill", "kill", "pause"])
            target = self.random.randrange(COUNT)
            other = (target + 1 + self.random.randrange(COUNT - 1)) % COUNT
            length = self.random.uniform(FAULT_MIN, FAULT_MAX)
            if kind == "kill" and target == self.spared:
                target = other  # the same draws: CI-form schedules stay as they were
            self.sleep(healthy)
            if time.time() + length > end:
                return
            self.fault(kind, target, other, length)

    def sleep(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            for node in self.nodes:
                if node.state in ("up", "paused") and node.note_crash():
                    node.start()  # keep the run going; the crash fails the test
            time.sleep(min(0.1, max(0.0, end - time.time())))

    def fault(self, kind, target, other, length):
        node = self.nodes[target]
        what = {"kill": "kill -9 node %d" % target, "pause": "pause node %d" % target,
                "cut": "cut link %d <-> %d" % (target, other)}[kind]
        primaries = primaries_of(self.nodes, target)
        log("fault %d: %s for %.1f s (primary of partitions %s)" % (
            len(self.faults) + 1, what, length, primaries))
        self.faults.append((kind, what, length))
        if kind == "kill":
            node.signal(signal.SIGKILL, "killed")
            self.sleep(length)
            node.start()
        elif kind == "pause":
            node.signal(signal.SIGSTOP, "paused")
            self.sleep(length)
            node.signal(signal.SIGCONT, "up")
        else:
            netns("cut", target + 1, other + 1)
            self.sleep(length)
            netns("heal", target + 1, other + 1)
        log("healed: %s" % what)


def primaries_of(nodes, target):
    """Partitions whose primary is node target, as some live node's map says."""
    for node in nodes:
        if node.state != "up":
            continue
        rows = node.json("cluster", "map", STREAM, TOPIC, timeout=3)
        if rows:
            return [row["partition"] for row in rows if row.get("primary") == target]
    return "unknown"


def netns(*words):
    result = subprocess.run(["sh", NETNS] + [str(word) for word in words], capture_output=True,
                            text=True, timeout=30, env=NETNS_ENV)
    if result.returncode != 0:
        fail("netns.sh %s: %s" % (" ".join(str(w) for w in words), result.stderr.strip()))


def netns_usable():
    """(True, "") when link cuts can run here, else (False, why)."""
    if os.geteuid() != 0:
        return False, "not root"
    if shutil.which("ip") is None or shutil.which("iptables") is None:
        return False, "ip or iptables missing"
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0:
        return False, "the testbed (%s) is already up, maybe another user's (another " \
            "--netns-instance runs next to it)" % BRIDGE
    result = subprocess.run(["sh", NETNS, "up", str(COUNT)], capture_output=True, text=True,
                            env=NETNS_ENV)
    if result.returncode != 0:
        subprocess.run(["sh", NETNS, "down"], capture_output=True, env=NETNS_ENV)
        return False, "netns.sh up failed: " + result.stderr.strip()
    probe = subprocess.run(["ip", "netns", "exec", NETNS_NAME + "-1", "iptables", "-L", "INPUT"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        subprocess.run(["sh", NETNS, "down"], capture_output=True, env=NETNS_ENV)
        return False, "iptables in a namespace failed: " + probe.stderr.strip()
    return True, ""


class Reader:
    """Reads partitions back from the nodes, incrementally while waiting for convergence
    (what was read once is kept and compared with every later full read)."""

    def __init__(self, nodes, keys):
        self.nodes = nodes
        self.keys = keys  # partition keys (locate)
        self.cache = {}  # (node, key) -> [(offset, value)]

    def read(self, node, key, rows=None):
        """rows (offsets 0..len(rows) - 1) extended with the partition's rows from len(rows)
        to its end, read by runnel-nemesis-reader (one login; it tries a failed poll 3 more
        times, 1 s apart: a poll forwarded to a primary mid view change gets 57/58), or None
        when it failed.
        A row's value is the payload (nemesis topic) or 'timestamp size payload-hash'."""
        rows = [] if rows is None else rows
        stream, topic, partition, whole = locate(key)
        try:
            result = subprocess.run([READER, "%s:%d" % (node.host, node.port), stream, topic,
                                     str(partition), str(len(rows))],
                                    capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return None
        for line in result.stdout.splitlines():
            offset, stamp, size, digest, head = (line.split() + [""])[:5]
            rows.append((int(offset), "%s %s %s" % (stamp, size, digest) if whole else
                         bytes.fromhex(head).decode(errors="replace")))
            if rows[-1][0] != len(rows) - 1:
                return rows  # not contiguous: check_partitions reports it
        return rows if result.returncode == 0 else None

    def refresh(self):
        for node in self.nodes:
            for key in self.keys:
                rows = self.cache.get((node.index, key), [])
                fresh = self.read(node, key, list(rows))
                if fresh is not None:
                    self.cache[(node.index, key)] = fresh

    def converged(self, acks, bench_acked):
        """Every partition identical on all nodes, with every acknowledged message of the
        producers (at its offset's length) and as many as iggy-bench acknowledged."""
        for key in self.keys:
            copies = [self.cache.get((node.index, key), []) for node in self.nodes]
            if any(copy != copies[0] for copy in copies):
                return False
            if isinstance(key, int):
                need = 1 + max([a[2] for a in acks if a[1] == key] or [-1])
            else:
                need = bench_acked.get(key, 0)
            if len(copies[0]) < need:
                return False
        return True


class Checker:
    """Collects anomalies; each check prints ok or the anomaly with examples."""

    def __init__(self):
        self.anomalies = []

    def check(self, condition, what, examples=()):
        if condition:
            print("ok:", what, flush=True)
        else:
            examples = list(examples)[:10]
            self.anomalies.append(what)
            print("ANOMALY:", what, examples, flush=True)


def check_partitions(checker, logs, acks, earlier):
    """logs: node -> partition -> [(offset, payload)] (a fresh full read)."""
    for partition in range(PARTITIONS):
        copies = [logs[node][partition] for node in sorted(logs)]
        for node, copy in zip(sorted(logs), copies):
            offsets = [offset for offset, _ in copy]
            checker.check(offsets == list(range(len(offsets))),
                          "node %d partition %d: offsets contiguous from 0 (%d)" % (
                              node, partition, len(offsets)),
                          [o for i, o in enumerate(offsets) if o != i])
            before = earlier.get((node, partition), [])
            changed = [(o, p, copy[o][1]) for o, p in before if o < len(copy) and copy[o][1] != p]
            checker.check(not changed, "node %d partition %d: no offset changed its value "
                          "between reads" % (node, partition), changed)
        checker.check(all(copy == copies[0] for copy in copies),
                      "partition %d identical on all nodes" % partition,
                      [(o, [c[o][1] if o < len(c) else None for c in copies])
                       for o in range(max(len(c) for c in copies))
                       if len({c[o][1] if o < len(c) else None for c in copies}) > 1])
        log_rows = max(copies, key=len)  # the others are compared with it above
        counts = {}
        for _, payload in log_rows:
            counts[payload] = counts.get(payload, 0) + 1
        twice = [p for p, n in counts.items() if n > 1]
        checker.check(not twice, "partition %d: no message appears twice" % partition, twice)
        mine = [a for a in acks if a[1] == partition]
        for node, copy in zip(sorted(logs), copies):
            lost = [(a[0], a[2]) for a in mine if a[2] >= len(copy) or copy[a[2]][1] != a[0]]
            checker.check(not lost, "node %d partition %d: all %d acknowledged messages at their "
                          "acknowledged offsets (%d missing)" % (node, partition, len(mine),
                                                                  len(lost)), lost)
        strangers = [p for p in counts if not is_expected(p, partition)]
        checker.check(not strangers, "partition %d: nothing that was not sent" % partition,
                      strangers)
    where = {}
    for payload, partition, offset, _, _ in acks:
        where.setdefault((partition, offset), set()).add(payload)
    checker.check(all(len(p) == 1 for p in where.values()), "no offset acknowledged for two "
                  "messages", [(k, v) for k, v in where.items() if len(v) > 1])


def check_bench(checker, logs, acked, earlier):
    """iggy-bench's streams (logs: node -> key -> rows): at-least-once, so duplicates are
    allowed; the rest as check_partitions, and no loss as a count: each partition holds at
    least the messages iggy-bench acknowledged (its payloads repeat, so they cannot be
    told apart one by one)."""
    for key in sorted(acked):
        copies = [logs[node][key] for node in sorted(logs)]
        for node, copy in zip(sorted(logs), copies):
            offsets = [offset for offset, _ in copy]
            checker.check(offsets == list(range(len(offsets))),
                          "node %d %s: offsets contiguous from 0 (%d)" % (node, key[0],
                                                                          len(offsets)),
                          [o for i, o in enumerate(offsets) if o != i])
            before = earlier.get((node, key), [])
            changed = [(o, v, copy[o][1]) for o, v in before if o < len(copy) and copy[o][1] != v]
            checker.check(not changed, "node %d %s: no offset changed its value between reads" %
                          (node, key[0]), changed)
            checker.check(len(copy) >= acked[key], "node %d %s: %d messages, at least the %d "
                          "iggy-bench acknowledged" % (node, key[0], len(copy), acked[key]))
        checker.check(all(copy == copies[0] for copy in copies),
                      "%s identical on all nodes" % key[0],
                      [o for o in range(max(len(c) for c in copies))
                       if len({c[o][1] if o < len(c) else None for c in copies}) > 1])


def is_expected(payload, partition):
    """Producer i's message n goes to partition n % PARTITIONS."""
    try:
        producer, number = payload[1:].split("-")
        return payload[0] == "p" and int(producer) < PRODUCERS and \
            int(number) % PARTITIONS == partition
    except ValueError:
        return False


def check_consumer(checker, consumer, logs, nodes):
    final = [max((logs[node][p] for node in logs), key=len) for p in range(PARTITIONS)]
    wrong = [(k, v) for k, v in consumer.polled.items()
             if len(v) > 1 or k[1] >= len(final[k[0]]) or final[k[0]][k[1]][1] not in v]
    checker.check(not wrong, "consumer: all %d polled messages match the final log" %
                  len(consumer.polled), wrong)
    checker.check(not consumer.skips, "consumer: no poll skipped an offset", consumer.skips)
    back = []
    for (node, partition), seen in consumer.observed.items():
        values = [value for _, value in seen]
        back += [(node, partition, a, b) for a, b in zip(values, values[1:]) if b < a]
    checker.check(not back, "consumer: stored offsets never went back on any node (%d reads)" %
                  sum(len(v) for v in consumer.observed.values()), back)
    for partition in range(PARTITIONS):
        committed = consumer.committed[partition]
        if not committed:
            continue
        ends = [node.stored_offset(partition, timeout=20) for node in nodes]
        checker.check(all(v is not None and committed[-1] <= v <= consumer.attempted[partition]
                          for v in ends),
                      "consumer: partition %d's stored offset on every node is its last "
                      "acknowledged commit %d (or a later attempted one)" % (
                          partition, committed[-1]), ends)


def summary(producers, nemesis, consumer):
    acks = [a for p in producers for a in p.acks]
    latencies = sorted(a[4] - a[3] for a in acks)
    ends = sorted(a[4] for a in acks)
    gap = max([b - a for a, b in zip(ends, ends[1:])] or [0])
    own_gap = max([b[4] - a[4] for p in producers for a, b in zip(p.acks, p.acks[1:])] or [0])
    p9999 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.9999))] if latencies else 0
    kinds = {}
    for kind, _, _ in nemesis.faults:
        kinds[kind] = kinds.get(kind, 0) + 1
    print("summary: seed %d, %.0f s, %d acks (%d sends retried), %d faults %s, consumer %d "
          "rounds %d commits, p50 %.1f ms, p99.99 %.1f ms, max %.1f ms, longest gap between "
          "acks (any producer) %.2f s, longest gap of one producer %.2f s" % (
              ARGS.seed, ARGS.duration, len(acks), sum(p.failed for p in producers),
              len(nemesis.faults), kinds, consumer.rounds, sum(map(len, consumer.committed)),
              latencies[len(latencies) // 2] / 1e3 if latencies else 0, p9999 / 1e3,
              latencies[-1] / 1e3 if latencies else 0, gap / 1e6, own_gap / 1e6), flush=True)


def bench_summary(bench):
    if bench is None:
        return
    acked = bench.acknowledged()
    print("summary: iggy-bench through node %d: %d runs (%d failed), %d messages acknowledged "
          "(%s)" % (BENCH_NODE, len(bench.runs), len(bench.failures()), sum(acked.values()),
                    ", ".join("%s %d" % (k[0], n) for k, n in sorted(acked.items()))),
          flush=True)


def converge(reader, acks, bench_acked):
    """Reads until every partition is identical on all nodes with every ack in it."""
    begin = time.time()
    while time.time() < begin + CONVERGE_S:
        reader.refresh()
        if reader.converged(acks, bench_acked):
            log("converged after %.1f s" % (time.time() - begin))
            return True
        time.sleep(1.0)
    return False


def setup(nodes):
    for node in nodes:
        node.format()
    for node in nodes:
        node.start()
    for words in (("stream", "create", STREAM), ("topic", "create", STREAM, TOPIC,
                                                  str(PARTITIONS))):
        end = time.time() + 30
        while nodes[0].cli(*words)[0] != 0:
            if time.time() > end:
                fail("%s through node 0 for 30 s" % " ".join(words))
            time.sleep(0.3)
    for node in nodes:
        end = time.time() + 30
        while node.cli("topic", "get", STREAM, TOPIC)[0] != 0:
            if time.time() > end:
                fail("node %d never knew the topic" % node.index)
            time.sleep(0.3)
    log("3 nodes up, topic %s/%s with %d partitions on every node" % (STREAM, TOPIC,
                                                                      PARTITIONS))


def heal(nodes):
    for node in nodes:
        node.note_crash()
        if node.state == "paused":
            node.signal(signal.SIGCONT, "up")
        elif node.process is None:
            node.start()


def run(nodes, checker, cuts):
    setup(nodes)
    end = time.time() + ARGS.duration - 1
    producers = [Producer(ROOT, index, nodes) for index in range(PRODUCERS)]
    consumer = Consumer(nodes)
    consumer.start()
    bench = Bench(nodes[BENCH_NODE], end) if ARGS.iggy_bench else None
    if bench is not None:
        bench.start()
    nemesis = Nemesis(nodes, ARGS.seed, cuts, BENCH_NODE)
    nemesis.run(end)
    heal(nodes)
    log("nemesis done (%d faults), every node up; waiting for the producers" %
        len(nemesis.faults))
    for producer in producers:
        producer.finish(max(10, ARGS.duration + 90 - (time.time() - START)))
    consumer.stop_event.set()
    consumer.join(timeout=60)
    if bench is not None:
        bench.join(timeout=BENCH_RUN_S + 200)
        checker.check(not bench.is_alive() and not bench.failures(), "every iggy-bench run "
                      "ended with all its messages acknowledged", bench.failures())
    summary(producers, nemesis, consumer)
    bench_summary(bench)
    for producer in producers:
        checker.check(producer.status == 0, "producer %d ended with every message acknowledged "
                      "(%d acks)" % (producer.index, len(producer.acks)),
                      open(producer.path).read().splitlines()[-5:])
    check_all(nodes, checker, [a for p in producers for a in p.acks], consumer,
              bench.acknowledged() if bench is not None else {})


def check_all(nodes, checker, acks, consumer, bench_acked):
    """Convergence, then a fresh read of every partition from every node, checked."""
    reader = Reader(nodes, list(range(PARTITIONS)) + sorted(bench_acked))
    converged = converge(reader, acks, bench_acked)
    checker.check(converged, "the cluster converged within %.0f s" % CONVERGE_S,
                  [(k, len(v)) for k, v in sorted(reader.cache.items(), key=str)])
    for node in nodes:
        checker.check(not node.crashes and not node.note_crash(), "node %d never crashed" %
                      node.index, node.crashes)
    logs = {}
    for node in nodes:
        logs[node.index] = {}
        for key in reader.keys:
            rows = reader.read(node, key)
            checker.check(rows is not None, "node %d %s read back" % (
                node.index, "partition %d" % key if isinstance(key, int) else key[0]))
            logs[node.index][key] = rows or []
    check_partitions(checker, logs, acks, reader.cache)
    check_bench(checker, logs, bench_acked, reader.cache)
    check_consumer(checker, consumer, logs, nodes)


def replay_command():
    words = ["python3", "tests/integration/nemesis_test.py", "build/release/runneld",
             "build/release/runnel", "--seed", str(ARGS.seed), "--duration",
             "%g" % ARGS.duration, "--fault-min", "%g" % FAULT_MIN, "--fault-max",
             "%g" % FAULT_MAX, "--rate", str(ARGS.rate)]
    words += ["--netns", "--netns-instance", str(ARGS.netns_instance)] if ARGS.netns else []
    return " ".join(words + (["--iggy-bench", ARGS.iggy_bench] if ARGS.iggy_bench else []))


def main():
    global ROOT
    ROOT = tempfile.mkdtemp(prefix="runnel-nemesis-")
    log("directory %s, seed %d, %.0f s, faults %.1f-%.1f s, %d msg/s per producer" % (
        ROOT, ARGS.seed, ARGS.duration, FAULT_MIN, FAULT_MAX, ARGS.rate))
    cuts, why = netns_usable() if ARGS.netns else (False, "the long form's --netns not given")
    if not cuts:
        log("link cuts skipped: " + why)
    if ARGS.iggy_bench is None:
        log("iggy-bench skipped: --iggy-bench not given")
    else:
        log("iggy-bench %s through node %d (never killed in this run)" % (ARGS.iggy_bench,
                                                                         BENCH_NODE))
    key_file = os.path.join(ROOT, "cluster.key")
    with open(key_file, "w") as key:
        key.write(os.urandom(32).hex() + "\n")
    os.chmod(key_file, 0o600)
    hosts = ["10.77.%d.%d" % (ARGS.netns_instance, i + 1) if cuts else "127.0.0.1"
             for i in range(COUNT)]
    ports = free_ports(2 * COUNT)
    replica = [(hosts[i], ports[i]) for i in range(COUNT)]
    nodes = [Node(ROOT, i, hosts[i], ports[COUNT + i], replica, key_file, cuts)
             for i in range(COUNT)]
    checker = Checker()
    try:
        run(nodes, checker, cuts)
    except SystemExit as error:
        if error.code == 77:
            raise  # io_uring unavailable: skipped (the finally clause still stops the nodes)
        checker.anomalies.append(str(error))
        print(error, flush=True)
    finally:
        for node in nodes:
            node.stop()
        if cuts:
            subprocess.run(["sh", NETNS, "down"], capture_output=True, env=NETNS_ENV)
    if checker.anomalies:
        for node in nodes:
            sys.stderr.write("---- node %d log (tail)\n" % node.index)
            sys.stderr.write("".join(open(node.log_path, errors="replace").readlines()[-20:]))
        print("nemesis: FAILED with seed %d: %d anomalies (%s)\nkept %s\nreplay: %s" % (
            ARGS.seed, len(checker.anomalies), "; ".join(checker.anomalies), ROOT,
            replay_command()), flush=True)
        return 1
    if "RUNNEL_TEST_KEEP" not in os.environ:
        shutil.rmtree(ROOT, ignore_errors=True)
    print("nemesis: clean (seed %d)" % ARGS.seed, flush=True)
    return 0


ROOT = None

if __name__ == "__main__":
    sys.exit(main())
