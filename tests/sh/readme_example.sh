#!/usr/bin/env bash
# The C example in README.md compiles and runs.
set -eu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/ {on=1; next} /^```$/ {if (on) exit} on' README.md > "$tmp/ex.c"
[ -s "$tmp/ex.c" ] || { echo "no C example in README.md"; exit 1; }
cc -std=c99 -Wall -Werror -Iinclude "$tmp/ex.c" "$BUILD/libtransformer.a" -lm -pthread ${TFM_EXTRA_LDFLAGS:-} -o "$tmp/ex"
"$tmp/ex"
