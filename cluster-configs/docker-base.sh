#!/bin/sh
# Builds the image runnel-base:local without any registry: a tarball holding /bin/sh and
# the shared libraries runneld and the shell need (from this host, found with ldd), given
# to `docker import`. Also creates the cluster key the compose file mounts
# (build/cluster/docker.key) when it is missing.
#   cluster-configs/docker-base.sh [path/to/runneld]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
runneld=${1:-$repo/build/release/runneld}
[ -x "$runneld" ] || { echo "docker-base.sh: no $runneld (./scripts/build.sh release)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/var/lib/runnel" "$root/etc" "$root/usr/local/bin"
chmod 1777 "$root/tmp"
cp -L /bin/sh "$root/bin/sh"
for binary in "$runneld" /bin/sh; do
    ldd "$binary" | awk '/=>/ {print $3} /^\t\/lib/ {print $1}' | while read -r library; do
        [ -e "$library" ] || continue
        mkdir -p "$root$(dirname "$library")"
        cp -L "$library" "$root$library"
    done
done
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
tar -C "$root" -c . | docker import - runnel-base:local
mkdir -p "$repo/build/cluster"
key="$repo/build/cluster/docker.key"
if [ ! -s "$key" ]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$key" && echo >> "$key")
fi
echo "runnel-base:local built; cluster key at $key"
