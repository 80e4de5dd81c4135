#!/bin/sh
# Source lint run by ctest:
#  1. storage/ and vsr/ are deterministic and syscall-free: no rand(), srand(), time(),
#     getrandom(), clock_gettime() or io_uring calls (they get a clock and PRNG handed in).
#  2. No function longer than 70 lines (outside generated code): counted from the line
#     after a column-0 '{' to the matching column-0 '}' in clang-formatted sources.
# Usage: lint.sh SOURCE_ROOT. Exits 1 and lists every violation.
set -u
root="${1:?usage: lint.sh SOURCE_ROOT}"
cd "$root" || exit 2
status=0

pure_files=$(find storage vsr -name '*.[ch]' 2>/dev/null | sort)
if [ -n "$pure_files" ]; then
    # shellcheck disable=SC2086
    hits=$(grep -nE '(^|[^._>a-zA-Z0-9])(rand|srand|random|time|getrandom|clock_gettime|gettimeofday)[[:space:]]*\(|io_uring|liburing' $pure_files | grep -vE '^\S+:[0-9]+:\s*(\*|/\*|//)')
    if [ -n "$hits" ]; then
        echo "lint: forbidden call in a pure module (storage/, vsr/):"
        echo "$hits"
        status=1
    fi
fi

all_files=$(find lib proto storage vsr node client tests -name '*.c' 2>/dev/null | sort)
for file in $all_files; do
    awk -v file="$file" -v limit=70 '
        /^\{/ { start = FNR; next }
        /^\}/ { if (start > 0 && FNR - start - 1 > limit) {
                    printf "lint: %s:%d: function body is %d lines (limit %d)\n", file, start, FNR - start - 1, limit
                    bad = 1
                }
                start = 0 }
        END { exit bad }
    ' "$file" || status=1
done

if [ "$status" -eq 0 ]; then
    echo "lint: ok"
fi
exit "$status"
