#!/bin/sh
# Formats every C source with clang-format, or with --check fails on any difference.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^tests/fuzz/corpus/' || true)
[ -n "$files" ] || exit 0
if [ "${1:-}" = "--check" ]; then
    # shellcheck disable=SC2086
    clang-format --dry-run -Werror $files
    echo "format: ok"
else
    # shellcheck disable=SC2086
    clang-format -i $files
fi
