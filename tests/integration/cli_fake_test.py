"""The runnel CLI against a scripted fake server (tests/integration).

A small TCP server in this process answers Iggy frames with canned replies: bodies for
the happy paths, a status in the reply header, a result section with an error code, an
eviction at login. Each case runs the runnel binary and checks its table or --json
output, or that it exits non-zero with the server's code and name on stderr. The fake
says it is Iggy's server or runneld (its Register reply's version), which decides
whether the CLI may use runneld's runnel-only cluster commands.

Usage: cli_fake_test.py RUNNEL
"""
import json
import socket
import struct
import subprocess
import sys
import threading

RUNNEL = sys.argv[1]

NON_REPLICATED, REGISTER, LOGOUT, CREATE_STREAM = 2, 1, 3, 128
PING, CLUSTER_METADATA, STREAM_GET, STREAM_LIST = 1, 12, 200, 201
RUNNEL_MAP, RUNNEL_MOVE = 9000, 9001


def check(condition, what, detail=""):
    if not condition:
        raise SystemExit("FAILED: " + what + ("\n" + detail if detail else ""))
    print("ok:", what)


def name(text):
    data = text.encode()
    return bytes([len(data)]) + data


def stream_entry(stream_id, text, topics=2, size=4096, messages=12):
    return (struct.pack("<IQIQQ", stream_id, 1700000000000000, topics, size, messages) +
            name(text) + struct.pack("<I", 0))


def register_body(version):
    data = version.encode()
    return struct.pack("<IIQI", 0, 3, 77, 11264) + bytes([len(data)]) + data


def cluster_metadata_body():
    node = (struct.pack("<I", 2) + b"n0" + struct.pack("<I", 9) + b"127.0.0.1" +
            struct.pack("<HHHH", 8090, 0, 0, 0) + bytes([0, 0]))
    return struct.pack("<I", 4) + b"fake" + struct.pack("<I", 1) + node


def map_body():
    """runneld's map: 2 nodes, node 1 answering, 2 shards, 2 partitions."""
    head = bytes([1, 2, 1, 0]) + struct.pack("<I", 4) + bytes([1, 0, 0, 0])
    head += struct.pack("<II", 2, 1)
    nodes = struct.pack("<I", 2)
    nodes += bytes([0, 1, 0, 0]) + struct.pack("<I", 1)
    nodes += bytes([1, 2, 1, 0]) + struct.pack("<I", 1)
    partitions = struct.pack("<I", 2)
    for partition in range(2):
        partitions += struct.pack("<IIIQIBBH", 5, 6, partition, 40, 3, partition, 1, partition)
    return head + nodes + partitions


class Fake:
    """Answers each request by (operation, code) from script: a bytes body, an int
    status, ("result", code) for a result section error, or ("evict", reason)."""

    def __init__(self, version, script):
        self.version = version
        self.script = script
        self.seen = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.listener.close()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            conn.settimeout(10)
            try:
                while self.answer(conn):
                    pass
            except OSError:
                pass
            conn.close()

    @staticmethod
    def read(conn, size):
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def answer(self, conn):
        header = self.read(conn, 256)
        if header is None:
            return False
        size = struct.unpack_from("<I", header, 48)[0]
        body = self.read(conn, size - 256) if size > 256 else b""
        operation = header[176]
        code = struct.unpack_from("<I", header, 196)[0] if operation == NON_REPLICATED else 0
        self.seen.append((operation, code))
        if operation == REGISTER:
            action = self.script.get((REGISTER, 0), register_body(self.version))
        elif operation == LOGOUT:
            action = b""
        else:
            action = self.script.get((operation, code), 3)
        if isinstance(action, tuple) and action[0] == "evict":
            reply = bytearray(256)
            struct.pack_into("<I", reply, 48, 256)
            reply[60] = 13
            reply[128:144] = header[128:144]
            reply[255] = action[1]
            conn.sendall(bytes(reply))
            return False
        status, reply_body = 0, b""
        if isinstance(action, int):
            status = action
        elif isinstance(action, tuple):
            reply_body = struct.pack("<III", 1, 0, action[1])
        else:
            reply_body = action
        reply = bytearray(256)
        reply[32:48] = header[32:48]
        struct.pack_into("<I", reply, 48, 256 + len(reply_body))
        reply[52:60] = header[52:60]
        reply[60] = 8
        reply[61] = header[61]
        reply[128:144] = header[144:160]
        reply[160:176] = header[128:144]
        reply[176:184] = header[184:192]
        reply[192:200] = header[160:168]
        reply[200:208] = header[168:176]
        reply[208] = operation
        struct.pack_into("<I", reply, 216, status)
        conn.sendall(bytes(reply) + reply_body)
        return True


def run(fake, *args, expect=0):
    result = subprocess.run([RUNNEL, "--port", str(fake.port), "-u", "iggy", "-p", "iggy"] +
                            list(args), capture_output=True, text=True, timeout=30)
    check(result.returncode == expect, "runnel %s exits %d" % (" ".join(args), expect),
          "exit %d\n%s%s" % (result.returncode, result.stdout, result.stderr))
    return result.stdout, result.stderr


def iggy_cases():
    script = {
        (NON_REPLICATED, STREAM_LIST): stream_entry(1, "orders") + stream_entry(2, "audit", 0),
        (NON_REPLICATED, PING): b"",
        (NON_REPLICATED, CLUSTER_METADATA): cluster_metadata_body(),
        (NON_REPLICATED, STREAM_GET): 1009,
        (CREATE_STREAM, 0): ("result", 1012),
    }
    fake = Fake("0.9.0", script)
    try:
        out, _ = run(fake, "stream", "list")
        lines = out.splitlines()
        check(len(lines) == 3 and lines[0].split() == ["id", "name", "topics", "size_bytes",
                                                       "messages"],
              "stream list: a table with a header line and one row per stream", out)
        check(lines[1].split() == ["1", "orders", "2", "4096", "12"] and
              lines[2].split()[1] == "audit", "stream list: the rows' cells", out)
        out, _ = run(fake, "--json", "stream", "list")
        rows = json.loads(out)
        check(rows == [{"id": 1, "name": "orders", "topics": 2, "size_bytes": 4096,
                        "messages": 12},
                       {"id": 2, "name": "audit", "topics": 0, "size_bytes": 4096,
                        "messages": 12}], "stream list --json: numbers bare, names quoted", out)
        _, err = run(fake, "stream", "create", "orders", expect=1)
        check("server error 1012" in err and "stream_name_already_exists" in err,
              "a result-section error: exit 1 with the server's code and name", err)
        _, err = run(fake, "stream", "get", "9", expect=1)
        check("server error 1009" in err, "a status error: exit 1 with the server's code", err)
        out, _ = run(fake, "--json", "ping")
        check(isinstance(json.loads(out)[0]["ping_us"], int), "ping --json", out)
        out, _ = run(fake, "cluster")
        check("leader" in out and "127.0.0.1" in out,
              "cluster against Iggy's server: its cluster metadata", out)
        _, err = run(fake, "cluster", "roles", expect=1)
        check("unavailable" in err or "unsupported" in err.lower(),
              "cluster roles against Iggy's server: refused without asking", err)
        check((NON_REPLICATED, RUNNEL_MAP) not in fake.seen, "Iggy never got a runnel-only code")
    finally:
        fake.stop()
    fake = Fake("0.9.0", {(REGISTER, 0): ("evict", 9)})
    try:
        _, err = run(fake, "stream", "list", expect=1)
        check("login" in err and "server error 42" in err,
              "an eviction at login: exit 1, invalid credentials (42)", err)
    finally:
        fake.stop()


def runneld_cases():
    script = {(NON_REPLICATED, RUNNEL_MAP): map_body()}
    fake = Fake("runneld 0.1.0", script)
    try:
        out, _ = run(fake, "--json", "cluster")
        document = json.loads(out)
        check(document["roles"] == [
            {"replica": 0, "role": "primary", "self": "no", "partitions_led": 1,
             "metadata_view": 4, "metadata_status": "normal", "shards": "",
             "connection_shard": ""},
            {"replica": 1, "role": "backup", "self": "yes", "partitions_led": 1,
             "metadata_view": 4, "metadata_status": "normal", "shards": 2,
             "connection_shard": 1}], "cluster --json: the true roles", out)
        check(document["partitions"][1] == {"stream": 5, "topic": 6, "partition": 1,
                                            "incarnation": 40, "view": 3, "primary": 1,
                                            "status": "normal", "shard": 1},
              "cluster --json: the partition map", out)
        out, _ = run(fake, "cluster", "map")
        lines = out.splitlines()
        check(len(lines) == 3 and lines[0].split()[0] == "stream" and
              lines[2].split() == ["5", "6", "1", "40", "3", "1", "normal", "1"],
              "cluster map: a table", out)
    finally:
        fake.stop()
    fake = Fake("runneld 0.1.0", {(NON_REPLICATED, RUNNEL_MAP): 2010})
    try:
        _, err = run(fake, "cluster", "map", "5", "6", expect=1)
        check("server error 2010" in err, "cluster map of a missing topic: the server's code", err)
    finally:
        fake.stop()
    fake = Fake("runneld 0.1.0", {(NON_REPLICATED, RUNNEL_MAP): b"\x01\x02"})
    try:
        _, err = run(fake, "cluster", expect=1)
        check("runnel: cluster:" in err, "a malformed map: exit 1 with a clean error", err)
    finally:
        fake.stop()


def main():
    iggy_cases()
    runneld_cases()
    print("cli against a fake server: all checks passed")


if __name__ == "__main__":
    main()
