#!/usr/bin/env bash
# The C++ example builds with g++ -std=c++11 -Wall -Werror, reports a bad
# model path as an exception (exit 2), and generates from stories260K.
set -eu
command -v g++ >/dev/null || { echo "g++ not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
g++ -std=c++11 -Wall -Wextra -Werror -Iinclude examples/cpp/generate.cpp \
    "$BUILD/libtransformer.a" -lm -pthread ${TFM_EXTRA_LDFLAGS:-} -o "$tmp/gen"
set +e
"$tmp/gen" /nonexistent/model.bin 2> "$tmp/err"; rc=$?
set -e
[ $rc = 2 ] || { echo "bad path: exit $rc"; exit 1; }
grep -q "tfm_model_load" "$tmp/err" || { cat "$tmp/err"; exit 1; }
m=../shared/models/stories260K
if [ ! -f "$m/stories260K.bin" ]; then echo "../shared absent: generation part not run"; exit 0; fi
"$tmp/gen" "$m/stories260K.bin" "$m/tok512.bin" "Zoo" 20 > "$tmp/out" 2>/dev/null
head -c 40 "$m/expected_greedy_t0_n60_prompt_Zoo.txt" > "$tmp/want"
head -c 40 "$tmp/out" > "$tmp/got"
cmp "$tmp/want" "$tmp/got" || { echo "output differs:"; cat "$tmp/out"; exit 1; }
echo ok
