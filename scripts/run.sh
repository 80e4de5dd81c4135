#!/bin/sh
# Builds runnel (Release) and starts a single-node runneld in the foreground with the
# default configuration: data in ./data, clients on 127.0.0.1:8090. Extra arguments go
# to runneld (for example --set server.client_port=9000). Stop it with Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh release
exec ./build/release/runneld --config cluster-configs/single-node.ini "$@"
