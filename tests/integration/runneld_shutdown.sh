#!/bin/sh
# Integration: runneld starts on free ports with a temporary data directory, answers an
# Iggy ping frame through the io_uring runtime, and exits 0 on SIGTERM after draining.
# Usage: runneld_shutdown.sh PATH_TO_RUNNELD. Exits 77 when io_uring is unavailable.
set -eu
runneld="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
set -- $ports
"$runneld" --set server.data_dir="$dir/data" --set server.client_port="$1" \
    --set server.replica_port="$2" >"$dir/log" 2>&1 &
pid=$!
status=0
python3 - "$1" "$dir/log" <<'PY' || status=$?
import socket, struct, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
for attempt in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)  # start-up hashes the root password (argon2id), slow under ASan
        break
    except OSError:
        if "io_uring unavailable" in open(log).read():
            sys.exit(77)
        time.sleep(0.05)
else:
    sys.exit("runneld did not listen")
ping = bytearray(256)  # an Iggy ping: request (5), NonReplicated (2), code 1, client != 0
ping[48:52] = struct.pack("<I", 256)
ping[60] = 5
ping[128] = 7
ping[176] = 2
ping[196:200] = struct.pack("<I", 1)
s.sendall(ping)
reply = b""
while len(reply) < 256:
    chunk = s.recv(256 - len(reply))
    if not chunk:
        sys.exit("connection closed before the pong")
    reply += chunk
assert reply[60] == 8 and reply[216:220] == bytes(4), "expected a status-0 reply"
PY
if [ "$status" -ne 0 ]; then
    kill -KILL "$pid" 2>/dev/null || true
    cat "$dir/log"
    exit "$status"
fi
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
if [ "$code" -ne 0 ] || ! grep -q "event=stopped" "$dir/log"; then
    echo "runneld exited with $code"
    cat "$dir/log"
    exit 1
fi
grep -q "event=config" "$dir/log" || { echo "no effective config logged"; exit 1; }
# Every file the node opened (superblocks, the metadata journal, sockets) is closed.
if ! grep -q "event=files_closed left_open=0" "$dir/log"; then
    echo "files left open at exit"
    grep "file_left_open\|files_closed" "$dir/log"
    exit 1
fi
echo "runneld_shutdown: ok"
