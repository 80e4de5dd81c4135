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
set -eu
prefix=10.77.0
bridge=rnl-br0

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
        ip netns add "rnl-$index"
        ip link add "rnl-v$index" type veth peer name eth0 netns "rnl-$index"
        ip link set "rnl-v$index" master "$bridge" up
        ip -n "rnl-$index" addr add "$prefix.$index/24" dev eth0
        ip -n "rnl-$index" link set eth0 up
        ip -n "rnl-$index" link set lo up
        index=$((index + 1))
    done
    echo "up: $count namespaces rnl-1..rnl-$count at $prefix.1..$prefix.$count"
}

# Adds (-I) or deletes (-D) the drop rules between a and b in both namespaces.
rules() {
    action=$1 a=$2 b=$3
    need_index "$a"
    need_index "$b"
    for pair in "$a $b" "$b $a"; do
        set -- $pair
        ip netns exec "rnl-$1" iptables "$action" INPUT -s "$prefix.$2" -j DROP
        ip netns exec "rnl-$1" iptables "$action" OUTPUT -d "$prefix.$2" -j DROP
    done
}

down() {
    for namespace in $(ip netns list | awk '/^rnl-[0-9]/ {print $1}'); do
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
    exec ip netns exec "rnl-$node" "$@"
    ;;
down) down ;;
*) die "usage: netns.sh up N | cut A B | heal A B | exec I CMD... | down" ;;
esac
