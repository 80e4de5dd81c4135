#!/bin/sh
# Configures and builds one flavour of runnel.
#   scripts/build.sh release   -> build/release (Release, assertions on)
#   scripts/build.sh asan      -> build/asan    (Debug, ASan + UBSan)
set -eu
cd "$(dirname "$0")/.."
flavour="${1:-release}"
case "$flavour" in
    release) cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null ;;
    asan) cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRUNNEL_SANITIZE=ON >/dev/null ;;
    *) echo "build.sh: unknown flavour \"$flavour\" (release|asan)" >&2; exit 2 ;;
esac
cmake --build "build/$flavour" --parallel "$(nproc)"
