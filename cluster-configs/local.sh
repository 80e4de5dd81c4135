#!/bin/sh
# A 3- or 5-node runnel cluster on this machine (127.0.0.1, ports 91N0.. for clients and
# 92N0.. for replicas; see cluster-configs/N-node/*.ini).
#   cluster-configs/local.sh up 3|5     format (only when new), start in the background
#   cluster-configs/local.sh status     which nodes run, replica bus links per node
#   cluster-configs/local.sh down       stop every node this script started (SIGTERM, then KILL)
# State (data, logs, pid files, the cluster key) lives in $RUNNEL_CLUSTER_DIR, default
# build/cluster; the binary is $RUNNELD, default build/release/runneld.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
state=${RUNNEL_CLUSTER_DIR:-$repo/build/cluster}
runneld=${RUNNELD:-$repo/build/release/runneld}
: "${RUNNEL_ROOT_USERNAME:=iggy}" "${RUNNEL_ROOT_PASSWORD:=iggy}"
export RUNNEL_ROOT_USERNAME RUNNEL_ROOT_PASSWORD

die() { echo "local.sh: $*" >&2; exit 1; }

# The cluster key: 32 random bytes as 64 hex digits, readable by the owner only.
make_key() {
    key=$1
    [ -s "$key" ] && return 0
    umask 077
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$key"
    echo >> "$key"
}

up() {
    count=$1
    [ "$count" = 3 ] || [ "$count" = 5 ] || die "usage: local.sh up 3|5"
    [ -x "$runneld" ] || die "no $runneld: run ./scripts/build.sh release (or set RUNNELD)"
    for pidfile in "$state"/n*/node*.pid; do
        [ -e "$pidfile" ] || continue
        kill -0 "$(cat "$pidfile")" 2>/dev/null && die "a cluster is running: local.sh down first"
    done
    mkdir -p "$state/n$count"
    make_key "$state/n$count/cluster.key"
    index=0
    while [ "$index" -lt "$count" ]; do
        config="$repo/cluster-configs/$count-node/node$index.ini"
        if [ ! -e "$state/n$count/node$index/cluster" ]; then
            (cd "$state" && "$runneld" format --config "$config" 2>>"n$count/node$index.log") ||
                die "format of node $index failed: see $state/n$count/node$index.log"
        fi
        (
            cd "$state"
            nohup "$runneld" --config "$config" >>"n$count/node$index.log" 2>&1 &
            echo $! > "n$count/node$index.pid"
        )
        index=$((index + 1))
    done
    sleep 1
    status
}

status() {
    found=0
    for pidfile in "$state"/n*/node*.pid; do
        [ -e "$pidfile" ] || continue
        found=1
        log=${pidfile%.pid}.log
        name=$(basename "$(dirname "$pidfile")")/$(basename "${pidfile%.pid}")
        if kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            up_count=$(grep -c 'event=replica_bus_connected' "$log" || true)
            down_count=$(grep -c 'event=replica_bus_disconnected' "$log" || true)
            port=$(grep -o 'client_port=[0-9]*' "$log" | tail -1)
            echo "$name running pid=$(cat "$pidfile") $port links_connected=$up_count links_lost=$down_count log=$log"
        else
            echo "$name stopped (log=$log)"
        fi
    done
    [ "$found" = 1 ] || echo "no cluster started from $state"
}

down() {
    for pidfile in "$state"/n*/node*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pidfile in "$state"/n*/node*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        waited=0
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 100 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "local.sh: $pidfile did not stop in 10 s: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
        echo "stopped $(basename "${pidfile%.pid}") of $(basename "$(dirname "$pidfile")")"
    done
}

case "${1:-}" in
up) up "${2:-3}" ;;
status) status ;;
down) down ;;
*) die "usage: local.sh up 3|5 | status | down" ;;
esac
