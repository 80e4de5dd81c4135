#!/usr/bin/env python3
"""runneld as a single-node Iggy broker, end to end (tests/integration).

Starts runneld on 127.0.0.1 (a free port, a temporary data directory) and drives it with
the runnel CLI (librunnel) and with raw Iggy frames:
  - streams, topics, send (PartitionId, Balanced, MessagesKey), poll (offset, first, last,
    next with auto-commit), consumer offsets (set, get); message counts and sizes in topic
    details and stats;
  - a user without permissions is refused (status 41) and changes nothing;
  - ChangePassword: a wrong current password gets 42, the new password logs in, the old
    one does not, and the change survives a restart;
  - bad frames: unknown command code (status 3), bad message checksum (4027), send body
    whose metadata does not decode (20), a request before login (40), a frame whose size
    field is below 256 and one above the frame limit (connection closed); none changes a
    partition's messages;
  - client.list and client.get (two raw sessions; an unknown id gets an empty body);
  - exactly-once (Register context runnel.exactly_once=1, a fixed client id, the client's
    own sequence in the request field): a send resent after the connection dropped, and
    again, is appended once and answered with the original base offset; a number below the
    window gets status 59; the window survives a restart;
  - DeleteSegments (raw frames, a topic with 1 MiB segments): the oldest sealed segment
    stops being served, then the next one; the tail segment stays;
  - max_topic_size (2 MiB, 1 MiB segments): past it the oldest sealed segment stops being
    served (prefix truncation, about a second later), the rest and the tail stay;
  - a purge and a stream deletion remove the old incarnations' directories; a stale
    directory left from before a restart is removed at start-up;
  - a restart (SIGTERM) keeps streams, topics, messages, offsets and users;
  - kill -9 during a send loop loses no acknowledged message.
Usage: broker_test.py RUNNELD RUNNEL. Exits 0 on success, 77 when io_uring is unavailable.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

RUNNELD, RUNNEL = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, RUNNEL_ROOT_USERNAME="iggy", RUNNEL_ROOT_PASSWORD="iggy")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    def __init__(self, data, extra=()):
        self.data = data
        self.port = free_port()
        self.process = None
        self.extra = list(extra)  # more --set options (other tests reuse this class)

    def start(self):
        """Starts runneld and waits for its own "listening" line: a port freed by a kill may
        be taken by a parallel test, so a connect alone could reach another process; when
        the client port is taken, a new one is chosen (up to 5 times)."""
        for attempt in range(5):
            if self.start_once():
                return
            self.port = free_port()
        raise SystemExit("runneld could not listen on a free port")

    def start_once(self):
        path = os.path.join(os.path.dirname(self.data), "runneld.log")
        log = open(path, "a")
        offset = log.tell()
        self.process = subprocess.Popen(
            [RUNNELD, "--set", "server.data_dir=" + self.data,
             "--set", "server.client_port=%d" % self.port,
             "--set", "server.replica_port=%d" % free_port(),
             "--set", "limits.connections_max=64", "--set", "runtime.pin_threads=false",
             "--set", "shards.count=2", "--set", "storage.preallocate_bytes=0",
             "--set", "limits.batch_size_bytes_max=262144",  # 1 MiB segments possible
             "--set", "server.log_level=info"] + self.extra,
            env=ENV, stdout=log, stderr=log)
        listening = "event=listening"
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(path) as handle:
                handle.seek(offset)
                text = handle.read()
            if self.process.poll() is not None:
                if "io_uring" in text:
                    print("skip: io_uring unavailable")
                    sys.exit(77)
                if "in use" in text.lower():
                    return False  # the port was taken meanwhile: another one
                raise SystemExit("runneld exited: " + text[-2000:])
            if listening in text and "client_port=%d " % self.port in text:
                return True
            time.sleep(0.05)
        raise SystemExit("runneld did not listen")

    def stop(self, sig=signal.SIGTERM):
        self.process.send_signal(sig)
        status = self.process.wait(timeout=20)
        if sig == signal.SIGTERM:
            check(status == 0, "clean exit after SIGTERM (status %d)" % status)
            text = open(os.path.join(os.path.dirname(self.data), "runneld.log")).read()
            left = [line for line in text.splitlines() if "event=file_left_open" in line]
            check(not left, "every file runneld opened is closed at shutdown", "\n".join(left))

    def cli(self, *args, user="iggy", password="iggy", expect=0):
        result = subprocess.run([RUNNEL, "--port", str(self.port), "-u", user, "-p", password,
                                 "--json"] + list(args), capture_output=True, text=True,
                                timeout=30)
        if expect is not None and result.returncode != expect:
            raise SystemExit("runnel %s: exit %d, want %d\n%s%s" % (
                " ".join(args), result.returncode, expect, result.stdout, result.stderr))
        return result.stdout + result.stderr


def check(condition, what, detail=""):
    if not condition:
        raise SystemExit("FAILED: " + what + ("\n" + detail if detail else ""))
    print("ok:", what)


def payloads(output):
    """Payload strings of a `message poll --json` output, in order."""
    import json
    try:
        document = json.loads(output)
    except ValueError:
        return []
    rows = document if isinstance(document, list) else document.get("messages", [])
    return [row.get("payload") for row in rows]


# ---- raw frames ----------------------------------------------------------------------

def request(operation, body=b"", code=0, client=7, session=0, request_number=0, size=None):
    header = bytearray(256)
    struct.pack_into("<I", header, 48, size if size is not None else 256 + len(body))
    header[60] = 5
    struct.pack_into("<QQ", header, 128, client, 0)
    struct.pack_into("<Q", header, 168, request_number)
    header[176] = operation
    struct.pack_into("<Q", header, 184, session)
    struct.pack_into("<I", header, 196, code)
    return bytes(header) + body


def read_frame(sock):
    data = b""
    while len(data) < 256:
        chunk = sock.recv(256 - len(data))
        if not chunk:
            return None
        data += chunk
    size = struct.unpack_from("<I", data, 48)[0]
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def status_of(frame):
    return struct.unpack_from("<I", frame, 216)[0]


def login(sock, client=7):
    name = b"py"
    body = struct.pack("<I", 11264) + bytes([len(name)]) + name + b"\x01" + b"1"
    body += b"\x04iggy\x04iggy" + struct.pack("<I", 0)
    sock.sendall(request(1, body, client=client))
    reply = read_frame(sock)
    check(reply is not None and reply[60] == 8 and status_of(reply) == 0, "raw login")
    return struct.unpack_from("<Q", reply, 256 + 8)[0]


XXHASH = []  # libxxhash, loaded once (find_library runs ldconfig each time)


def xxh3(data):
    """XXH3-64 through the runnel CLI is not exposed; use libxxhash via ctypes."""
    if not XXHASH:
        import ctypes
        import ctypes.util
        library = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
        library.XXH3_64bits.restype = ctypes.c_uint64
        library.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        XXHASH.append(library)
    return XXHASH[0].XXH3_64bits(data, len(data))


def numeric(value):
    return b"\x01\x04" + struct.pack("<I", value)


def named(name):
    return b"\x02" + bytes([len(name)]) + name


def send_body(stream_id, topic_id, partition_id, payload, corrupt=False, stream=None,
              topic=None):
    frame_rest = struct.pack("<QQIIIIQ", 1, 0, 0, 0, 0, len(payload), 0) + payload
    checksum = xxh3(frame_rest)
    if corrupt:
        checksum ^= 1
    frame = struct.pack("<Q", checksum) + frame_rest
    fields = struct.pack("<QQQQQ", 0, 0, 0, 0, 256 + len(frame)) + struct.pack("<I", 1)
    batch_checksum = xxh3(fields + struct.pack("<Q", checksum))
    header = struct.pack("<QQQQQQI", 0, 0, 0, 0, 256 + len(frame), batch_checksum, 1)
    header += bytes(256 - len(header))
    metadata = ((stream if stream is not None else numeric(stream_id)) +
                (topic if topic is not None else numeric(topic_id)) +
                b"\x02\x04" + struct.pack("<I", partition_id) + struct.pack("<I", 1))
    return struct.pack("<I", len(metadata)) + metadata + header + frame


# ---- exactly-once sessions (DESIGN.md §10.11) -------------------------------------------

EXACTLY_ONCE_CLIENT = 0x5eed0000c0ffee01
EXACTLY_ONCE_WINDOW = 8  # node/data_plane_sessions.h


def login_exactly_once(node):
    """A raw connection that opts in (Register context), with the fixed client id."""
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    context = b"runnel.exactly_once=1"
    name = b"py"
    body = struct.pack("<I", 11264) + bytes([len(name)]) + name + b"\x01" + b"1"
    body += b"\x04iggy\x04iggy" + struct.pack("<I", len(context)) + context
    sock.sendall(request(1, body, client=EXACTLY_ONCE_CLIENT))
    reply = read_frame(sock)
    check(reply is not None and reply[60] == 8 and status_of(reply) == 0,
          "exactly-once login")
    return sock, struct.unpack_from("<Q", reply, 256 + 8)[0]


def send_numbered(sock, session, sequence, payload, read=True):
    """SendMessages to exact/t partition 0 numbered with the client's own sequence;
    returns (status, base offset) of the reply, or None when read is False."""
    body = send_body(0, 0, 0, payload, stream=named(b"exact"), topic=named(b"t"))
    sock.sendall(request(160, body, client=EXACTLY_ONCE_CLIENT, session=session,
                         request_number=sequence))
    if not read:
        return None
    reply = read_frame(sock)
    check(reply is not None and reply[60] == 8, "send %d answered" % sequence)
    status = status_of(reply)
    offset = struct.unpack_from("<Q", reply, 256 + 16)[0] if status == 0 else None
    return status, offset


def exactly_once(node):
    node.cli("stream", "create", "exact")
    node.cli("topic", "create", "exact", "t", "1", "none")
    sock, session = login_exactly_once(node)
    check(send_numbered(sock, session, 1, b"e1") == (0, 0), "exactly-once send 1 at offset 0")
    send_numbered(sock, session, 2, b"e2", read=False)
    time.sleep(0.5)  # appended and answered by now, but the reply is never read:
    sock.close()  # the connection drops before the client sees it
    sock, session = login_exactly_once(node)
    check(send_numbered(sock, session, 2, b"e2") == (0, 1),
          "the resend after a reconnect gets the original reply (base offset 1)")
    check(send_numbered(sock, session, 2, b"e2") == (0, 1), "a second resend: the same reply")
    check(send_numbered(sock, session, 1, b"e1") == (0, 0), "a resend of 1: offset 0 again")
    out = node.cli("message", "poll", "exact", "t", "0", "--offset", "0", "--count", "10")
    check(payloads(out) == ["e1", "e2"], "resends appended nothing", out)
    for sequence in range(3, 4 + EXACTLY_ONCE_WINDOW):
        check(send_numbered(sock, session, sequence, b"e%d" % sequence) == (0, sequence - 1),
              "new sequence %d appended once" % sequence)
    status, _ = send_numbered(sock, session, 2, b"e2")
    check(status == 59, "a number below the window gets status 59 (request too old)")
    out = node.cli("message", "poll", "exact", "t", "0", "--offset", "0", "--count", "20")
    check(len(payloads(out)) == 3 + EXACTLY_ONCE_WINDOW, "too old appended nothing", out)
    sock.close()


def exactly_once_after_restart(node):
    sock, session = login_exactly_once(node)
    last = 3 + EXACTLY_ONCE_WINDOW
    check(send_numbered(sock, session, last, b"e%d" % last) == (0, last - 1),
          "the window survives a restart (same base offset for a resend)")
    result = send_numbered(sock, session, last + 1, b"new")
    check(result == (0, last), "a new number after the restart is appended %r" % (result,))
    sock.sendall(request(3, client=EXACTLY_ONCE_CLIENT, session=session, request_number=1))
    check(status_of(read_frame(sock)) == 0, "exactly-once logout")
    sock.close()
    time.sleep(0.3)  # the partition groups commit the logout ops
    sock, session = login_exactly_once(node)
    result = send_numbered(sock, session, last + 1, b"again")
    check(result == (0, last + 1),
          "after a logout the window is released: the old number is a new append %r" % (result,))
    check(True,
          "a new number after the restart is appended")
    sock.close()


# ---- runnel-only cluster commands (DESIGN.md §10.4, proto/cluster_wire.h) ---------------

MAP_CODE, MOVE_CODE = 9000, 9001


def runnel_call(sock, client, session, number, code, body=b""):
    sock.sendall(request(2, body, code=code, client=client, session=session,
                         request_number=number))
    reply = read_frame(sock)
    check(reply is not None, "runnel-only code %d answered" % code)
    return status_of(reply), reply[256:]


def map_shards(body):
    """(connection shard, shard count, {partition: shard}, [status]) of a map reply."""
    shard_count, connection_shard = struct.unpack_from("<II", body, 12)
    node_count = struct.unpack_from("<I", body, 20)[0]
    offset = 24 + 8 * node_count
    count = struct.unpack_from("<I", body, offset)[0]
    shards, statuses = {}, []
    for index in range(count):
        entry = offset + 4 + 28 * index
        partition = struct.unpack_from("<I", body, entry + 8)[0]
        statuses.append(body[entry + 25])
        shards[partition] = struct.unpack_from("<H", body, entry + 26)[0]
    return connection_shard, shard_count, shards, statuses


def cluster_map_and_move(node):
    import json
    document = json.loads(node.cli("cluster"))
    roles, partitions = document["roles"], document["partitions"]
    check(len(roles) == 1 and roles[0]["role"] == "primary" and roles[0]["self"] == "yes" and
          roles[0]["shards"] == 2, "cluster: one node, the metadata primary, 2 shards", str(roles))
    events = [row for row in partitions if row["stream"] == 0 and row["topic"] == 0]
    check(len(events) == 3 and all(row["primary"] == 0 and row["shard"] in (0, 1)
                                   for row in events),
          "cluster: orders/events' 3 partitions, primary node 0, owning shards", str(events))
    check(any(row["status"] == "normal" for row in events), "an open partition group is normal")
    out = node.cli("cluster", "map", "orders", "events")
    check(json.loads(out) == events, "cluster map <stream> <topic>: the same rows", out)
    out = node.cli("cluster", "map", "orders", "nope", expect=1)
    check("2010" in out or "not found" in out.lower(), "cluster map of a missing topic fails", out)
    out = node.cli("cluster", "map", user="reader", password="secret1", expect=1)
    check("41" in out or "unauthorized" in out.lower(),
          "the whole map needs the servers-read permission", out)
    sock, session = login_exactly_once(node)
    topic = named(b"exact") + named(b"t")
    status, body = runnel_call(sock, EXACTLY_ONCE_CLIENT, session, 1, MAP_CODE, topic)
    check(status == 0, "map of exact/t")
    home, shard_count, shards, _ = map_shards(body)
    check(shard_count == 2 and list(shards) == [0], "the map names exact/t's partition and shard")
    target = 1 - home
    status, body = runnel_call(sock, EXACTLY_ONCE_CLIENT, session, 2, MOVE_CODE,
                               struct.pack("<I", target))
    check(status == 0 and struct.unpack("<II", body) == (target, 2), "move to the other shard")
    status, body = runnel_call(sock, EXACTLY_ONCE_CLIENT, session, 3, MAP_CODE, topic)
    check(status == 0 and map_shards(body)[0] == target,
          "the next request is served on the target shard, the login kept")
    status, _ = runnel_call(sock, EXACTLY_ONCE_CLIENT, session, 4, MOVE_CODE,
                            struct.pack("<I", 2))
    check(status == 3, "a move to a shard the node does not have gets status 3")
    sequence = 200
    first = send_numbered(sock, session, sequence, b"before-move")
    check(first[0] == 0, "an exactly-once send before moving back")
    status, _ = runnel_call(sock, EXACTLY_ONCE_CLIENT, session, 5, MOVE_CODE,
                            struct.pack("<I", home))
    check(status == 0, "move back home")
    check(send_numbered(sock, session, sequence, b"before-move") == first,
          "after the move the session is still exactly-once: the resend gets the original reply")
    sock.close()
    out = node.cli("message", "poll", "exact", "t", "0", "--offset", str(first[1]), "--count",
                   "10")
    check(payloads(out) == ["before-move"], "the resend after the move appended nothing", out)


def client_entries(body, details):
    """ClientResponse (or ClientDetails) entries of a client.list / client.get body."""
    entries, offset = [], 0
    while offset < len(body):
        client_id, user_id, transport, size = struct.unpack_from("<IIBI", body, offset)
        address = body[offset + 13:offset + 13 + size].decode()
        groups = struct.unpack_from("<I", body, offset + 13 + size)[0]
        offset += 17 + size + (12 * groups if details else 0)
        entries.append((client_id, user_id, transport, address))
    return entries


def clients(node):
    first = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    second = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    session = login(first, client=0x11110001)
    login(second, client=0x22220002)
    first.sendall(request(2, code=22, client=0x11110001, session=session, request_number=1))
    listed = client_entries(read_frame(first)[256:], False)
    ids = sorted(entry[0] for entry in listed)
    check(0x11110001 in ids and 0x22220002 in ids, "client.list shows both sessions", listed)
    own = [entry for entry in listed if entry[0] == 0x11110001][0]
    check(own[1] == 0 and own[2] == 1 and own[3].startswith("127.0.0.1:"),
          "client.list: user, transport and the caller's own address", own)
    first.sendall(request(2, struct.pack("<I", 0x22220002), code=21, client=0x11110001,
                          session=session, request_number=1))
    got = client_entries(read_frame(first)[256:], True)
    check(len(got) == 1 and got[0][0] == 0x22220002 and got[0][1] == 0,
          "client.get of another session", got)
    first.sendall(request(2, struct.pack("<I", 0x7777), code=21, client=0x11110001,
                          session=session, request_number=1))
    reply = read_frame(first)
    check(status_of(reply) == 0 and len(reply) == 256, "client.get of an unknown id: empty")
    second.close()
    first.close()


def partition_dirs(node, stream_id, topic_id):
    path = os.path.join(node.data, "streams", str(stream_id), "topics", str(topic_id),
                        "partitions")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def wait_for(condition, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline and not condition():
        time.sleep(0.1)
    return condition()


def retire(node):
    """Deleted and purged incarnations: closed, their directories removed."""
    import json
    node.cli("stream", "create", "gone")
    node.cli("topic", "create", "gone", "t", "2", "none")
    stream_id = [row["id"] for row in json.loads(node.cli("stream", "list"))
                 if row["name"] == "gone"][0]
    node.cli("message", "send", "gone", "t", "--partition-id", "0", "x")
    node.cli("message", "send", "gone", "t", "--partition-id", "1", "y")
    before = partition_dirs(node, stream_id, 0)
    check(len(before) == 2, "two partition directories", str(before))
    node.cli("topic", "purge", "gone", "t")
    node.cli("message", "send", "gone", "t", "--partition-id", "0", "z")
    check(wait_for(lambda: before[0] not in partition_dirs(node, stream_id, 0) and
                   before[1] not in partition_dirs(node, stream_id, 0)),
          "a purge removes the old incarnations' directories", str(partition_dirs(node, stream_id, 0)))
    out = node.cli("message", "poll", "gone", "t", "0", "--offset", "0", "--count", "10")
    check(payloads(out) == ["z"], "after the purge only the new message", out)
    node.cli("stream", "delete", "gone")
    check(wait_for(lambda: partition_dirs(node, stream_id, 0) == []),
          "a deleted stream's partition directories are removed",
          str(partition_dirs(node, stream_id, 0)))


def option_u64(key, value):
    """One topic option (TLV pair, research/iggy-protocol.md §4.1) with a u64 value."""
    return (b"\x02" + struct.pack("<I", len(key)) + key + b"\x0c" + struct.pack("<I", 8) +
            struct.pack("<Q", value))


def create_topic_1mib(sock, client, session, stream, name, options=b""):
    """CreateTopic (raw frame) with one partition and 1 MiB segments (plus options); returns
    the reply."""
    options = option_u64(b"segment_size", 1 << 20) + options
    body = named(stream) + struct.pack("<I", 1) + bytes([len(name)]) + name + options
    sock.sendall(request(132, body, client=client, session=session, request_number=1))
    return read_frame(sock)


def delete_segments(node):
    """DeleteSegments: the oldest sealed segments stop being served; the tail stays."""
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    client = 0x33330003
    session = login(sock, client=client)
    reply = create_topic_1mib(sock, client, session, b"orders", b"segs")
    check(status_of(reply) == 0 and reply[256:260] == b"\0\0\0\0",
          "a topic with 1 MiB segments", reply[256:268].hex())
    for index in range(40):  # 40 x 60 KB: at least two sealed segments
        payload = b"s%03d" % index + b"." * 60000
        sock.sendall(request(160, send_body(0, 0, 0, payload, stream=named(b"orders"),
                                            topic=named(b"segs")),
                             client=client, session=session, request_number=1))
        check(status_of(read_frame(sock)) == 0, "send %d of 40" % index)
    first = payloads(node.cli("message", "poll", "orders", "segs", "0", "--offset", "0",
                              "--count", "1"))
    check(first and first[0].startswith("s000"), "before: offset 0 is served")
    body = named(b"orders") + named(b"segs") + struct.pack("<II", 0, 1)
    sock.sendall(request(138, body, client=client, session=session, request_number=2))
    check(status_of(read_frame(sock)) == 0, "DeleteSegments of one segment succeeds")
    first = payloads(node.cli("message", "poll", "orders", "segs", "0", "--offset", "0",
                              "--count", "1"))
    check(first and not first[0].startswith("s000") and first[0] != "",
          "the deleted segment's messages are no longer served",
          first[0][:8] if first else "nothing")
    skipped = int(first[0][1:4])
    sock.sendall(request(138, body, client=client, session=session, request_number=3))
    check(status_of(read_frame(sock)) == 0, "a second DeleteSegments succeeds")
    again = payloads(node.cli("message", "poll", "orders", "segs", "0", "--first",
                              "--count", "1"))
    check(again and int(again[0][1:4]) > skipped, "the next segment goes too",
          again[0][:8] if again else "nothing")
    last = payloads(node.cli("message", "poll", "orders", "segs", "0", "--last", "--count",
                             "1"))
    check(last and last[0].startswith("s039"), "the tail segment stays")
    sock.close()


def max_topic_size(node):
    """A topic of 2 MiB with 1 MiB segments: once its single partition holds more, the
    primary drops its oldest sealed segment (polls start after it); the tail stays."""
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    client = 0x33330004
    session = login(sock, client=client)
    reply = create_topic_1mib(sock, client, session, b"orders", b"capped",
                              option_u64(b"max_topic_size", 2 << 20))
    check(status_of(reply) == 0, "a topic with max_topic_size 2 MiB and 1 MiB segments")
    for index in range(40):  # 40 x 60 KB: two sealed segments and a tail, 2.4 MB
        payload = b"m%03d" % index + b"." * 60000
        sock.sendall(request(160, send_body(0, 0, 0, payload, stream=named(b"orders"),
                                            topic=named(b"capped")),
                             client=client, session=session, request_number=1))
        check(status_of(read_frame(sock)) == 0, "send %d of 40" % index)
    sock.close()

    def first():
        rows = payloads(node.cli("message", "poll", "orders", "capped", "0", "--offset", "0",
                                 "--count", "1"))
        return rows[0][:4] if rows else None
    check(wait_for(lambda: first() not in (None, "m000"), 10),
          "over max_topic_size: the oldest segment is no longer served", str(first()))
    last = payloads(node.cli("message", "poll", "orders", "capped", "0", "--last", "--count",
                             "1"))
    check(last and last[0].startswith("m039") and int(first()[1:]) < 39,
          "the newer segments and the tail stay (polls start at m%s)" % first()[1:])


def bad_frames(node):
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as sock:
        sock.sendall(request(2, code=10))  # stats before login
        check(status_of(read_frame(sock)) == 40, "a read before login gets status 40")
        session = login(sock)
        sock.sendall(request(2, code=9999, session=session, request_number=1))
        check(status_of(read_frame(sock)) == 3, "unknown command code gets status 3")
        sock.sendall(request(160, send_body(0, 0, 0, b"bad", corrupt=True), session=session,
                             request_number=1))
        check(status_of(read_frame(sock)) == 4027, "bad message checksum gets status 4027")
        sock.sendall(request(160, struct.pack("<I", 500) + b"\x01\x04", session=session,
                             request_number=1))
        check(status_of(read_frame(sock)) == 20, "undecodable send metadata gets status 20")
        sock.sendall(request(160, send_body(0, 0, 0, b"raw-ok"), session=session,
                             request_number=1))
        reply = read_frame(sock)
        check(status_of(reply) == 0, "a well-formed raw send is accepted")
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as sock:
        sock.sendall(request(2, code=1, size=100))
        check(read_frame(sock) is None, "a size field below 256 closes the connection")
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as sock:
        sock.sendall(request(2, code=1, size=1 << 30)[:256])
        check(read_frame(sock) is None, "a frame over the limit closes the connection")


def main():
    root = tempfile.mkdtemp(prefix="runneld-it-")
    data = os.path.join(root, "data")
    node = Node(data)
    try:
        node.start()
        node.cli("stream", "create", "orders")
        node.cli("topic", "create", "orders", "events", "3", "none")
        node.cli("message", "send", "orders", "events", "--partition-id", "1", "a", "b", "c")
        node.cli("message", "send", "orders", "events", "--partition-id", "1", "d")
        node.cli("message", "send", "orders", "events", "balanced")
        node.cli("message", "send", "orders", "events", "--key", "k", "keyed")
        out = node.cli("message", "poll", "orders", "events", "1", "--offset", "0", "--count", "10")
        # MessagesKey "k" lands on partition XXH32("k") % 3 = 1, after "d".
        check(payloads(out) == ["a", "b", "c", "d", "keyed"], "poll by offset returns what was sent",
              out)
        out = node.cli("message", "poll", "orders", "events", "1", "--last", "--count", "2")
        check(payloads(out) == ["d", "keyed"], "poll last")
        first = node.cli("message", "poll", "orders", "events", "1", "--next", "--count", "3",
                         "--consumer", "5", "--auto-commit")
        second = node.cli("message", "poll", "orders", "events", "1", "--next", "--count", "3",
                          "--consumer", "5", "--auto-commit")
        check(payloads(first) == ["a", "b", "c"] and payloads(second) == ["d", "keyed"],
              "poll next with auto-commit resumes after the last served message")
        import json
        topic = json.loads(node.cli("topic", "get", "orders", "events"))[0]
        check(topic["messages"] == 6 and topic["size_bytes"] > 4 * 256,
              "topic details count messages and bytes", str(topic))
        stats = {row["metric"]: row["value"] for row in json.loads(node.cli("stats"))}
        check(stats["messages"] == "6" and int(stats["messages_size_bytes"]) == topic["size_bytes"],
              "stats count messages and bytes", str(stats))
        node.cli("consumer-offset", "set", "9", "orders", "events", "1", "2")
        out = node.cli("consumer-offset", "get", "9", "orders", "events", "1")
        check('"stored_offset":2' in out.replace(" ", ""), "consumer offset set and get")
        node.cli("user", "create", "reader", "secret1")
        out = node.cli("stream", "create", "denied", user="reader", password="secret1", expect=1)
        check("41" in out or "unauthorized" in out.lower(), "a user without permissions gets 41")
        out = node.cli("stream", "list")
        check("denied" not in out, "the denied create changed nothing")
        node.cli("user", "create", "changer", "first1")
        out = node.cli("user", "password", "changer", "wrong1", "second2", expect=1)
        check("42" in out or "credential" in out.lower(),
              "change password with a wrong current password gets 42", out)
        node.cli("user", "password", "changer", "first1", "second2")
        out = node.cli("stream", "list", user="changer", password="first1", expect=1)
        check("42" in out or "credential" in out.lower(), "the old password no longer logs in",
              out)
        out = node.cli("stream", "list", user="changer", password="second2", expect=1)
        check("41" in out or "unauthorized" in out.lower(), "the new password logs in", out)
        bad_frames(node)
        clients(node)
        retire(node)
        delete_segments(node)
        max_topic_size(node)
        exactly_once(node)
        out = node.cli("message", "poll", "orders", "events", "0", "--offset", "0", "--count", "10")
        before = payloads(out)
        check(before[-1] == "raw-ok" and len(before) == 2, "bad frames appended nothing")
        node.stop()
        # A leftover of an incarnation the metadata no longer has (a crash between a purge
        # and its removal): removed at start-up by the shard that owns it.
        leftover = os.path.join(node.data, "streams", "0", "topics", "0", "partitions", "1.1")
        os.makedirs(leftover)
        open(os.path.join(leftover, "junk.log"), "w").close()
        node.start()
        check(wait_for(lambda: not os.path.exists(leftover)),
              "a stale incarnation's directory is removed at start-up")
        out = node.cli("message", "poll", "orders", "events", "1", "--offset", "0", "--count", "10")
        check(payloads(out) == ["a", "b", "c", "d", "keyed"], "messages survive a restart", out)
        out = node.cli("consumer-offset", "get", "9", "orders", "events", "1")
        check('"stored_offset":2' in out.replace(" ", ""), "offsets survive a restart")
        out = node.cli("stream", "list", user="reader", password="secret1", expect=1)
        check("41" in out or "unauthorized" in out.lower(), "users survive a restart", out)
        out = node.cli("stream", "list", user="changer", password="second2", expect=1)
        check("41" in out or "unauthorized" in out.lower(), "a changed password survives", out)
        check("orders" in node.cli("stream", "list"), "streams survive a restart")
        exactly_once_after_restart(node)
        cluster_map_and_move(node)
        acked = []
        for index in range(1000):
            if index == 25:
                node.process.send_signal(signal.SIGKILL)
            result = subprocess.run([RUNNEL, "--port", str(node.port), "-u", "iggy", "-p",
                                     "iggy", "message", "send", "orders", "events",
                                     "--partition-id", "2", "m%d" % index],
                                    capture_output=True, text=True, timeout=30)
            if result.returncode != 0:
                break
            acked.append("m%d" % index)
        node.process.wait(timeout=20)
        node.start()
        out = node.cli("message", "poll", "orders", "events", "2", "--offset", "0", "--count",
                       "2000")
        stored = payloads(out)
        check(len(acked) >= 20 and stored[:len(acked)] == acked,
              "kill -9 during a send loop lost none of %d acknowledged messages" % len(acked))
        node.stop()
    finally:
        if node.process is not None and node.process.poll() is None:
            node.process.kill()
        shutil.rmtree(root, ignore_errors=True)
    print("broker integration: all checks passed")


if __name__ == "__main__":
    main()
