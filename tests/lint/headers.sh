#!/bin/sh
# Header self-containment lint run by ctest (STYLE.md: every header compiles on its own).
# Compiles each .h under lib/ proto/ storage/ vsr/ node/ client/ alone, as its own
# translation unit, with the project's language mode and warning flags. Generated
# protobuf-c headers (*.pb-c.h) are skipped; they live in the build tree, which is on the
# include path so that headers including them still compile.
# Usage: headers.sh SOURCE_ROOT BUILD_DIR [EXTRA_CC_FLAGS...]   (CC picks the compiler)
#        headers.sh --self-test   (checks that a broken header is reported)
# Exits 1 and lists every header that does not compile alone.
set -u

if [ "${1:-}" = "--self-test" ]; then
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/runnel-headers-XXXXXX") || exit 2
    trap 'rm -rf "$scratch"' EXIT
    mkdir -p "$scratch/lib" "$scratch/proto"
    printf '#include <stdint.h>\nstatic inline uint32_t good(void) { return 1; }\n' \
        >"$scratch/lib/good.h"
    printf 'static inline uint32_t bad(void) { return 1; }\n' >"$scratch/lib/bad.h"
    printf 'this is not C\n' >"$scratch/proto/generated.pb-c.h"
    output=$(sh "$0" "$scratch" "$scratch" 2>&1)
    status=$?
    if [ "$status" -ne 1 ]; then
        echo "headers self-test: expected exit 1 on a broken header, got $status"
        echo "$output"
        exit 1
    fi
    if ! echo "$output" | grep -q 'lib/bad.h' || echo "$output" | grep -q 'good.h' ||
        echo "$output" | grep -q 'pb-c.h'; then
        echo "headers self-test: wrong report:"
        echo "$output"
        exit 1
    fi
    echo "headers self-test: ok"
    exit 0
fi

root="${1:?usage: headers.sh SOURCE_ROOT BUILD_DIR [EXTRA_CC_FLAGS...]}"
build="${2:?usage: headers.sh SOURCE_ROOT BUILD_DIR [EXTRA_CC_FLAGS...]}"
shift 2
cc="${CC:-cc}"
cd "$root" || exit 2

headers=$(find lib proto storage vsr node client -name '*.h' ! -name '*.pb-c.h' 2>/dev/null |
    sort)
status=0
count=0
for header in $headers; do
    count=$((count + 1))
    # shellcheck disable=SC2068
    if ! output=$("$cc" -std=c11 -D_GNU_SOURCE -fsyntax-only -Wall -Wextra -Werror -Wshadow \
        -Wconversion -Wstrict-prototypes -Wvla -Wformat=2 -I"$root" -I"$build" $@ \
        -x c "$header" 2>&1); then
        echo "headers: $header does not compile on its own:"
        echo "$output" | head -20
        status=1
    fi
done

if [ "$status" -eq 0 ]; then
    echo "headers: ok ($count headers compile on their own)"
fi
exit "$status"
