#!/bin/bash
# Issue 8 item 6: the same produce workloads against runneld as a single node, runneld as a
# 3-node cluster (every partition replicated on all three), a 3-node NATS JetStream cluster
# with replicas=3 and Iggy's single server, in one run, systems alternated (order rotated
# every round), a fresh server and data directory for every measurement. Everything on
# 127.0.0.1, ports PORT_BASE (default 24000) .. PORT_BASE+99; state in $STATE (default a
# new directory under /tmp). Prints one line per run and the medians (docs/BENCHMARKS.md,
# "3-node cluster").
#   scripts/bench-cluster.sh                 # 3 rounds, both workloads, all four systems
#   ROUNDS=5 PRODUCERS=4 THR_BATCHES=500 SYSTEMS="runneld-1 runneld-3" scripts/bench-cluster.sh
# Workloads, P = $PRODUCERS producers, producer i owns stream i (1 partition), one batch in
# flight per producer, 1000-byte messages:
#   thr  $PER_BATCH (1000) messages per batch x $THR_BATCHES (100) batches per producer
#   lat  1 message per batch x $LAT_BATCHES (2000) batches per producer (p50/p99/p99.9)
# Clients: runnel-bench pp and iggy-bench pp against runneld and Iggy (both connect to
# node 0 of a cluster); the peer harness's bench-nats against NATS (producer i dials node
# i mod 3 first). Needs build/release/{runneld,runnel-bench,runnel}; optional (the system or
# client is skipped without it): IGGY_BIN=dir holding iggy-server and iggy-bench,
# nats-server on PATH and BENCH_NATS=path (default: built from $PEER_BENCH, the shared
# peer harness, into $STATE; a system left out is said so). DURABILITY (fsync | replicated) sets runneld's topics.
# BUS_BYTES, when set, sets runneld's limits.poll_reply_bytes_max on every node (runs before
# replica links had rings of their own needed 2M for 1000 x 1000 B batches; the defaults
# carry them now, docs/OPERATIONS.md).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${PORT_BASE:-24000}
rounds=${ROUNDS:-3}
producers=${PRODUCERS:-2}
thr_batches=${THR_BATCHES:-100}
per_batch=${PER_BATCH:-1000}
lat_batches=${LAT_BATCHES:-2000}
workloads=${WORKLOADS:-thr lat}
systems=${SYSTEMS:-runneld-1 runneld-3 nats-3 iggy-1}
durability=${DURABILITY:-fsync}
bus_bytes=${BUS_BYTES:-}
state=${STATE:-$(mktemp -d /tmp/runnel-bench-cluster.XXXXXX)}
bin=$repo/build/release
iggy_bin=${IGGY_BIN:-}
peer_bench=${PEER_BENCH:-$repo/../shared/bench}
[ -d "$peer_bench" ] || peer_bench=$repo/../../shared/bench # a worktree under /work/wt
bench_nats=${BENCH_NATS:-}
export RUNNEL_ROOT_USERNAME=iggy RUNNEL_ROOT_PASSWORD=iggy
mkdir -p "$state"
pids=()

stop_all() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
trap stop_all EXIT

wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}

if [ -z "$bench_nats" ] && [ -f "$peer_bench/drv_nats.c" ]; then
    cp -r "$peer_bench" "$state/peer-bench"
    if make -C "$state/peer-bench" bench-nats > "$state/peer-bench.log" 2>&1; then
        bench_nats=$state/peer-bench/bench-nats
    fi
fi

# runneld nodes: count 1 or 3; client ports base+10+i, replica ports base+20+i.
start_runneld() {
    local count=$1 dir=$2 peers="" index
    for index in $(seq 0 $((count - 1))); do peers="$peers,127.0.0.1:$((base + 20 + index))"; done
    mkdir -p "$dir"
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$dir/key"
    chmod 600 "$dir/key"
    for index in $(seq 0 $((count - 1))); do
        local settings=(--set "server.data_dir=$dir/node$index"
            --set "server.client_port=$((base + 10 + index))"
            --set "server.replica_port=$((base + 20 + index))"
            --set shards.count=1 --set runtime.pin_threads=false
            --set "storage.durability=$durability"
            --set cluster.replica_index="$index" --set cluster.replica_count="$count"
            --set "cluster.peers=${peers#,}" --set "cluster.key_file=$dir/key"
            --set cluster.id=5eed0000000000000000000000b0b0b0)
        [ -z "$bus_bytes" ] || settings+=(--set "limits.poll_reply_bytes_max=$bus_bytes")
        "$bin/runneld" format "${settings[@]}" 2>>"$dir/node$index.log"
        "$bin/runneld" "${settings[@]}" 2>>"$dir/node$index.log" &
        pids+=($!)
    done
    for index in $(seq 0 $((count - 1))); do wait_port $((base + 10 + index)); done
    for _ in $(seq 1 150); do # the root user exists once the bootstrap op committed
        "$bin/runnel" --port $((base + 10)) -u iggy -p iggy stream list > /dev/null 2>&1 && break
        sleep 0.2
    done
    # A new cluster's metadata primary moves away and back to node 0 (its preferred node)
    # in its first seconds; a login during that view change can fail (docs/BENCHMARKS.md).
    # Wait (at most 30 s) until every node's last metadata view is normal with primary 0.
    for _ in $(seq 1 300); do
        local settled=1
        for index in $(seq 0 $((count - 1))); do
            grep 'event=metadata_view' "$dir/node$index.log" | tail -1 |
                grep -q 'status=1 primary=0 ' || settled=0
        done
        [ "$settled" = 1 ] && break
        sleep 0.1
    done
    sleep 1
}

start_iggy() {
    local dir=$1
    mkdir -p "$dir"
    (cd "$dir" && IGGY_SYSTEM_PATH="$dir/data" IGGY_TCP_ADDRESS=127.0.0.1:$((base + 10)) \
        IGGY_HTTP_ENABLED=false IGGY_QUIC_ENABLED=false IGGY_WEBSOCKET_ENABLED=false \
        IGGY_ROOT_USERNAME=iggy IGGY_ROOT_PASSWORD=iggy \
        exec "$iggy_bin/iggy-server" --fresh > "$dir/server.log" 2>&1) &
    pids+=($!)
    wait_port $((base + 10))
    sleep 1
}

start_nats() {
    local dir=$1 routes="" k
    for k in 1 2 3; do routes="$routes nats-route://127.0.0.1:$((base + 40 + k)),"; done
    for k in 1 2 3; do
        mkdir -p "$dir/n$k"
        cat > "$dir/n$k.conf" <<EOF
server_name: n$k
listen: 127.0.0.1:$((base + 30 + k))
jetstream { store_dir: "$dir/n$k" }
cluster {
  name: bench
  listen: 127.0.0.1:$((base + 40 + k))
  routes: [${routes%,} ]
}
EOF
        nats-server -c "$dir/n$k.conf" > "$dir/n$k.log" 2>&1 &
        pids+=($!)
    done
    for k in 1 2 3; do wait_port $((base + 30 + k)); done
    for _ in $(seq 1 300); do grep -q "metadata leader" "$dir"/n*.log && break; sleep 0.1; done
    sleep 2
}

# Prints "RUN label MB/s p50 p99 p999" (ms) or "label failed: ...".
runnel_bench_run() {
    local label=$1 batches=$2 size=$3 out=$4
    timeout 300 "$bin/runnel-bench" pp --port $((base + 10)) --producers "$producers" \
        --streams "$producers" --message-batches "$batches" --messages-per-batch "$size" \
        --output "$out" > "$out.txt" 2>&1 || { echo "$label failed: $(tail -3 "$out.txt")"; return 0; }
    python3 - "$label" "$out" <<'EOF'
import glob, json, sys
label, out = sys.argv[1], sys.argv[2]
total = json.load(open(sorted(glob.glob(out + "/**/*.json", recursive=True))[0]))["total"]
print("RUN %s %.2f %.3f %.3f %.3f" % (label, total["throughput_mb_s"], total["latency_p50_ms"],
                                      total["latency_p99_ms"], total["latency_p999_ms"]))
EOF
}

iggy_bench_run() {
    local label=$1 batches=$2 size=$3 out=$4
    timeout 300 "$iggy_bin/iggy-bench" -b "$batches" -P "$size" pinned-producer -p "$producers" \
        -s "$producers" tcp --server-address 127.0.0.1:$((base + 10)) > "$out.txt" 2>&1 ||
        { echo "$label failed: $(tail -3 "$out.txt" | cut -c1-300)"; return 0; }
    python3 - "$label" "$out.txt" <<'EOF'
import re, sys
label, path = sys.argv[1], sys.argv[2]
for line in open(path):
    if line.startswith("Producers Results:"):
        get = lambda key: re.search(key + r": ([0-9.]+)", line).group(1)
        print("RUN %s %s %s %s %s" % (label, get("Total throughput"), get("p50 latency"),
                                      get("p99 latency"), get("p999 latency")))
        break
else:
    print("%s failed: no result line" % label)
EOF
}

nats_run() {
    local label=$1 batches=$2 size=$3 out=$4 urls="" k
    for k in 1 2 3; do urls="$urls,nats://127.0.0.1:$((base + 30 + k))"; done
    timeout 300 "$bench_nats" --url="${urls#,}" --replicas 3 --producers "$producers" \
        --msg-size 1000 --batch "$size" --total-bytes $((producers * batches * size * 1000)) \
        --duration 120 --mode produce --prefix "b$RANDOM" > "$out.txt" 2>&1 || true
    python3 - "$label" "$out.txt" <<'EOF'
import sys
label, path = sys.argv[1], sys.argv[2]
for line in open(path):
    if line.startswith("RESULT"):
        fields = dict(item.split("=", 1) for item in line.split()[1:] if "=" in item)
        if fields.get("errors", "0") != "0":
            print("%s failed: %s errors" % (label, fields["errors"]))
        else:
            print("RUN %s %s %s %s %s" % (label, fields["MBps"], fields["p50_ms"],
                                          fields["p99_ms"], fields["p999_ms"]))
        break
else:
    print("%s failed: %s" % (label, open(path).read()[-300:]))
EOF
}

# utime + stime of the servers started so far (seconds, all of them together).
server_cpu_seconds() {
    local pid ticks=0 fields
    for pid in "${pids[@]}"; do
        fields=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        set -- $fields
        ticks=$((ticks + ${12} + ${13}))
    done
    echo "$ticks $(getconf CLK_TCK)" | awk '{ printf "%.2f", $1 / $2 }'
}

# One measurement: a fresh system, one client, one workload.
measure() {
    local system=$1 client=$2 workload=$3 round=$4 batches=$thr_batches size=$per_batch
    [ "$workload" = lat ] && { batches=$lat_batches; size=1; }
    local label=$system/$client/$workload dir=$state/$system-$client-$workload-$round
    case $system in
    runneld-1) start_runneld 1 "$dir" ;;
    runneld-3) start_runneld 3 "$dir" ;;
    iggy-1) start_iggy "$dir" ;;
    nats-3) start_nats "$dir" ;;
    esac
    echo "LOAD $label $(cut -d' ' -f1-3 /proc/loadavg)"
    case $client in
    runnel-bench) runnel_bench_run "$label" "$batches" "$size" "$dir/out" ;;
    iggy-bench) iggy_bench_run "$label" "$batches" "$size" "$dir/out" ;;
    bench-nats) nats_run "$label" "$batches" "$size" "$dir/out" ;;
    esac
    echo "CPU $label $(server_cpu_seconds)"
    if [ "$system" = runneld-3 ]; then # partition primaries taking over beyond the first
        echo "VIEWS $label $(($(cat "$dir"/node*.log | grep -c event=partition_primary) - producers))"
    fi
    stop_all
    rm -rf "$dir"/node*/ "$dir"/data "$dir"/n[123]/ # keep logs and results, not the data
}

clients_of() {
    case $1 in
    runneld-*) echo runnel-bench; [ -n "$iggy_bin" ] && echo iggy-bench ;;
    iggy-1) [ -n "$iggy_bin" ] && echo iggy-bench runnel-bench ;;
    nats-3) [ -n "$bench_nats" ] && command -v nats-server > /dev/null && echo bench-nats ;;
    esac
    return 0
}

run_all() {
    local system_list round count step system client workload
    read -r -a system_list <<< "$systems"
    for system in "${system_list[@]}"; do
        [ -n "$(clients_of "$system")" ] || echo "SKIPPED $system: its binaries are missing"
    done
    count=${#system_list[@]}
    for round in $(seq 1 "$rounds"); do
        for step in $(seq 0 $((count - 1))); do
            system=${system_list[$(((step + round - 1) % count))]}
            for client in $(clients_of "$system"); do
                for workload in $workloads; do
                    measure "$system" "$client" "$workload" "$round" > >(tee -a "$state/runs.txt")
                done
            done
        done
    done
}
run_all
sleep 1 # the last tee
python3 - "$state/runs.txt" <<'EOF'
import statistics, sys
rows, loads, cpu, views = {}, [], {}, {}
for line in open(sys.argv[1]):
    parts = line.split()
    if parts and parts[0] == "LOAD":
        loads.append(float(parts[2]))
    if parts and parts[0] == "VIEWS":
        views.setdefault(parts[1], []).append(parts[2])
    if parts and parts[0] == "CPU":
        cpu.setdefault(parts[1], []).append(float(parts[2]))
    if parts and parts[0] == "RUN":
        rows.setdefault(parts[1], []).append(tuple(float(v) for v in parts[2:6]))
failed = [line.split(" failed")[0] for line in open(sys.argv[1]) if " failed" in line]
print("| system / client / workload | runs | MB/s median (all) | p50 ms | p99 ms | p99.9 ms | server CPU s |")
print("|---|---|---|---|---|---|---|")
for label in sorted(rows):
    runs = rows[label]
    med = lambda i: statistics.median(r[i] for r in runs)
    print("| %s | %d%s | %.2f (%s) | %.3f | %.3f | %.3f | %s |" % (
        label, len(runs), "" if label not in failed else " +%d failed" % failed.count(label),
        med(0), ", ".join("%.2f" % r[0] for r in runs), med(1), med(2), med(3),
        "%.2f" % statistics.median(cpu[label]) if label in cpu else ""))
for label in sorted(set(failed) - set(rows)):
    print("| %s | 0 +%d failed | | | | | |" % (label, failed.count(label)))
for label in sorted(views):
    print("%s: partition primary changes per run: %s" % (label, ", ".join(views[label])))
if loads:
    print("load average (1 min) at the runs' start: min %.1f, median %.1f, max %.1f" % (
        min(loads), statistics.median(loads), max(loads)))
EOF
echo "state: $state"
