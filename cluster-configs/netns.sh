#!/bin/sh
# A network-namespace testbed: each node gets its own namespace and address 10.77.0.<i>
# (i = 1..N) on a bridge, so links between nodes can be cut and healed one pair at a time.
#   cluster-configs/netns.sh up N        namespaces rnl-1..rnl-N, veths, bridge rnl-br0
#   cluster-configs/netns.sh cut A B     drop every packet between nodes A and B (both ways)
#   cluster-configs/netns.sh heal A B    undo cut A B
#   cluster-configs/netns.sh exec I CMD  run CMD inside node I's namespace
#   cluster-configs/netns.sh down        remove every namespace, veth and the bridge
# Needs root, iproute2 and iptables (Debian: apt-get install iproute2 iptables). A runneld
# in namespace I listens on 10.77.0.I; see README "Network-namespace testbed".
# RUNNEL_NETNS_INSTANCE=K (0..99, default 0) runs a separate testbed next to the others:
# bridge rnl-brK, namespaces rnlK-1..rnlK-N (instance 0 keeps rnl-1..rnl-N), veths
# rnlK-vI, addresses 10.77.K.I; every command acts on its own instance only.
set -eu
instance=${RUNNEL_NETNS_INSTANCE:-0}
case "$instance" in
'' | *[!0-9]* | 0?* | ???*) echo "netns.sh: RUNNEL_NETNS_INSTANCE not in 0..99: $instance" >&2; exit 1 ;;
esac
prefix=10.77.$instance
bridge=rnl-br$instance
if [ "$instance" -eq 0 ]; then name=rnl; else name=rnl$instance; fi

die() { echo "netns.sh: $*" >&2; exit 1; }
need_index() { case "$1" in '' | *[!0-9]*) die "not a node number: $1" ;; esac; }

up() {
    count=$1
    need_index "$count"
    [ "$count" -ge 1 ] && [ "$count" -le 9 ] || die "usage: netns.sh up N (1..9)"
    ip link show "$bridge" >/dev/null 2>&1 && die "already up: netns.sh down first"
    ip link add "$bridge" type bridge
    ip addr add "$prefix.254/24" dev "$bridge"
    ip link set "$bridge" up
    # Bridged packets may pass the host's FORWARD chain (br_netfilter; Docker sets DROP).
    iptables -I FORWARD -i "$bridge" -o "$bridge" -j ACCEPT 2>/dev/null || true
    index=1
    while [ "$index" -le "$count" ]; do
        ip netns add "$name-$index"
        ip link add "$name-v$index" type veth peer name eth0 netns "$name-$index"
        ip link set "$name-v$index" master "$bridge" up
        ip -n "$name-$index" addr add "$prefix.$index/24" dev eth0
        ip -n "$name-$index" link set eth0 up
        ip -n "$name-$index" link set lo up
        index=$((index + 1))
    done
    echo "up: $count namespaces $name-1..$name-$count at $prefix.1..$prefix.$count"
}

# Adds (-I) or deletes (-D) the drop rules between a and b in both namespaces.
rules() {
    action=$1 a=$2 b=$3
    need_index "$a"
    need_index "$b"
    for pair in "$a $b" "$b $a"; do
        set -- $pair
        ip netns exec "$name-$1" iptables "$action" INPUT -s "$prefix.$2" -j DROP
        ip netns exec "$name-$1" iptables "$action" OUTPUT -d "$prefix.$2" -j DROP
    done
}

down() {
    for namespace in $(ip netns list | awk -v name="$name" '$1 ~ "^" name "-[0-9]+$" {print $1}'); do
        ip netns pids "$namespace" | while read -r pid; do
            echo "netns.sh: $namespace still runs pid $pid (stop it first)" >&2
        done
        ip netns del "$namespace"
    done
    iptables -D FORWARD -i "$bridge" -o "$bridge" -j ACCEPT 2>/dev/null || true
    ip link del "$bridge" 2>/dev/null || true
    echo "down"
}

case "${1:-}" in
up) up "${2:-3}" ;;
cut) rules -I "${2:-}" "${3:-}" && echo "cut $2 <-> $3" ;;
heal) rules -D "${2:-}" "${3:-}" && echo "healed $2 <-> $3" ;;
exec)
    need_index "${2:-}"
    node=$2
    shift 2
    exec ip netns exec "$name-$node" "$@"
    ;;
down) down ;;
*) die "usage: netns.sh up N | cut A B | heal A B | exec I CMD... | down" ;;
esac
