#!/bin/bash
# Issue 8 item 6: the same produce workload against runneld as a single node, runneld as a
# 3-node cluster (every partition replicated on all three) and a 3-node NATS JetStream
# cluster with replicas=3, in one run, rounds interleaved. Everything on 127.0.0.1, ports
# from $PORT_BASE (default 24000) up to PORT_BASE+99; state in $STATE (default a new
# directory under /tmp); prints one line per run and the medians (docs/BENCHMARKS.md).
#   scripts/bench-cluster.sh               # 3 rounds, 2 producers x 1000 batches of 100 x 1000 B
#   ROUNDS=5 PRODUCERS=4 BATCHES=500 PER_BATCH=200 scripts/bench-cluster.sh
# Needs: build/release/{runneld,runnel-bench}; for NATS, nats-server and a bench-nats built
# from the peer harness (BENCH_NATS=path; skipped when absent). iggy-bench is added when
# IGGY_BENCH names it. DURABILITY (fsync | replicated) sets runneld's topics.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${PORT_BASE:-24000}
rounds=${ROUNDS:-3}
producers=${PRODUCERS:-2}
batches=${BATCHES:-1000}
per_batch=${PER_BATCH:-100} # messages per batch: see docs/BENCHMARKS.md for why not 1000
durability=${DURABILITY:-fsync}
state=${STATE:-$(mktemp -d /tmp/runnel-bench-cluster.XXXXXX)}
runneld=$repo/build/release/runneld
bench=$repo/build/release/runnel-bench
bench_nats=${BENCH_NATS:-}
iggy_bench=${IGGY_BENCH:-}
export RUNNEL_ROOT_USERNAME=iggy RUNNEL_ROOT_PASSWORD=iggy
mkdir -p "$state"
pids=()

stop_all() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
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

# runneld nodes: count 1 or 3; client ports base+10+i, replica ports base+20+i.
start_runneld() {
    local count=$1 peers="" index
    local dir=$state/runneld-$count-$2
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
        "$runneld" format "${settings[@]}" 2>>"$dir/node$index.log"
        "$runneld" "${settings[@]}" 2>>"$dir/node$index.log" &
        pids+=($!)
    done
    for index in $(seq 0 $((count - 1))); do wait_port $((base + 10 + index)); done
    for _ in $(seq 1 150); do # the root user exists once the bootstrap op committed
        "$repo/build/release/runnel" --port $((base + 10)) -u iggy -p iggy stream list \
            > /dev/null 2>&1 && break
        sleep 0.2
    done
    sleep 1
}

start_nats() {
    local dir=$state/nats-$1 routes="" k
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

# One line: label MB/s p50 p99 (ms), from runnel-bench's JSON report.
runnel_run() {
    local label=$1 port=$2 out=$state/out-$1-$3
    "$bench" pp --port "$port" --producers "$producers" --streams "$producers" \
        --message-batches "$batches" --messages-per-batch "$per_batch" --output "$out" > "$out.txt" 2>&1 || {
        echo "$label failed: $(tail -3 "$out.txt")"; return 0; }
    python3 - "$label" "$out" <<'EOF'
import glob, json, sys
label, out = sys.argv[1], sys.argv[2]
total = json.load(open(sorted(glob.glob(out + "/**/*.json", recursive=True))[0]))["total"]
print("RUN %s %.1f %.2f %.2f" % (label, total["throughput_mb_s"], total["latency_p50_ms"],
                                 total["latency_p99_ms"]))
EOF
}

nats_run() {
    local label=$1 round=$2 urls=""
    for k in 1 2 3; do urls="$urls,nats://127.0.0.1:$((base + 30 + k))"; done
    "$bench_nats" --url="${urls#,}" --replicas 3 --producers "$producers" --msg-size 1000 \
        --batch "$per_batch" --total-bytes $((producers * batches * per_batch * 1000)) --duration 60 \
        --mode produce --prefix "r$round" > "$state/out-$label-$round.txt" 2>&1 || true
    python3 - "$label" "$state/out-$label-$round.txt" <<'EOF'
import re, sys
label, path = sys.argv[1], sys.argv[2]
for line in open(path):
    if line.startswith("RESULT"):
        fields = dict(item.split("=", 1) for item in line.split()[1:] if "=" in item)
        print("RUN %s %s %s %s" % (label, fields["MBps"], fields["p50_ms"], fields["p99_ms"]))
        break
else:
    print("%s failed: %s" % (label, open(path).read()[-300:]))
EOF
}

for round in $(seq 1 "$rounds"); do
    start_runneld 1 "$round"
    runnel_run runneld-1-node $((base + 10)) "$round"
    stop_all
    start_runneld 3 "$round"
    runnel_run runneld-3-node $((base + 10)) "$round"
    if [ -n "$iggy_bench" ]; then
        "$iggy_bench" -b "$batches" -m "$per_batch" pinned-producer -p "$producers" -s "$producers" tcp \
            --server-address "127.0.0.1:$((base + 10))" > "$state/out-iggy-$round.txt" 2>&1 || true
    fi
    stop_all
    if [ -n "$bench_nats" ] && command -v nats-server > /dev/null; then
        start_nats "$round"
        nats_run nats-3-node-R3 "$round"
        stop_all
    fi
done | tee "$state/runs.txt"
python3 - "$state/runs.txt" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if parts and parts[0] == "RUN":
        try:
            rows.setdefault(parts[1], []).append(tuple(float(v) for v in parts[2:5]))
        except ValueError:
            pass
print("| system | runs | MB/s median (all) | p50 ms | p99 ms |")
print("|---|---|---|---|---|")
for label, runs in rows.items():
    print("| %s | %d | %.1f (%s) | %.2f | %.2f |" % (
        label, len(runs), statistics.median(r[0] for r in runs),
        ", ".join("%.1f" % r[0] for r in runs), statistics.median(r[1] for r in runs),
        statistics.median(r[2] for r in runs)))
EOF
echo "state: $state"
