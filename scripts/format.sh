#!/bin/sh
# Formats C sources with clang-format, or with --check fails on any difference.
#   scripts/format.sh [--check] [FILE...]
# Without files: every tracked or new (not ignored) .c/.h file.
set -eu
cd "$(dirname "$0")/.."
mode=write
if [ "${1:-}" = "--check" ]; then
    mode=check
    shift
fi
if [ "$#" -gt 0 ]; then
    files="$*"
else
    files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null |
        grep -v '^tests/fuzz/corpus/' || true)
fi
[ -n "$files" ] || exit 0
if [ "$mode" = check ]; then
    # shellcheck disable=SC2086
    clang-format --dry-run -Werror $files
    echo "format: ok"
else
    # shellcheck disable=SC2086
    clang-format -i $files
fi
