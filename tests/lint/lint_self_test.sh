#!/bin/sh
# Proves lint.sh fails on each thing it forbids, in a scratch tree.
set -u
lint="${1:?usage: lint_self_test.sh LINT_SH}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/storage" "$scratch/lib"
printf 'int f(void)\n{\n    return rand();\n}\n' > "$scratch/storage/bad.c"
if sh "$lint" "$scratch" >/dev/null; then echo "self-test: rand() not caught"; exit 1; fi
rm "$scratch/storage/bad.c"
{ printf 'int g(void)\n{\n'; i=0; while [ $i -lt 71 ]; do printf '    x();\n'; i=$((i+1)); done; printf '}\n'; } > "$scratch/lib/long.c"
if sh "$lint" "$scratch" >/dev/null; then echo "self-test: long function not caught"; exit 1; fi
rm "$scratch/lib/long.c"
printf 'int g(void)\n{\n    return 0;\n}\n' > "$scratch/lib/ok.c"
if ! sh "$lint" "$scratch" >/dev/null; then echo "self-test: clean tree rejected"; exit 1; fi
echo "self-test: ok"
