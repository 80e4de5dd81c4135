#!/bin/sh
# The whole test suite, as CI runs it: set-up, format check, then build and ctest twice
# (Release with assertions on; Debug with ASan + UBSan). Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/format.sh --check
for flavour in release asan; do
    echo "== $flavour: build"
    ./scripts/build.sh "$flavour"
    echo "== $flavour: ctest"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir "build/$flavour" --output-on-failure --parallel "$(nproc)" \
        --timeout 600
done
echo "== all tests passed"
