#!/bin/sh
# Formats the node's data directory the first time (a new cluster), then runs runneld.
set -e
config=$1
shift
if [ ! -e /var/lib/runnel/cluster ]; then
    /usr/local/bin/runneld format --config "$config" "$@"
fi
exec /usr/local/bin/runneld --config "$config" "$@"
