#!/usr/bin/env bash
# Replays the fuzz corpora (tests/fuzz/corpus/<target>/) and the seeds
# tests/fuzz/seeds.py makes through each fuzz target, without libFuzzer: the
# replay driver is built with the static library, under AddressSanitizer and
# UBSan where the compiler supports them.
set -eu
CC=${CC:-cc}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
echo 'int main(void){return 0;}' > "$tmp/probe.c"
if ! $CC $san "$tmp/probe.c" -o "$tmp/probe" 2>/dev/null || ! "$tmp/probe"; then
  echo "sanitizers unavailable; replaying without them"
  san=""
fi
python3 tests/fuzz/seeds.py "$tmp/seeds"
for f in tests/fuzz/fuzz_*.c; do
  t=$(basename "$f" .c); t=${t#fuzz_}
  dirs=""
  for d in "tests/fuzz/corpus/$t" "$tmp/seeds/$t"; do [ -d "$d" ] && dirs="$dirs $d"; done
  [ -n "$dirs" ] || continue
  $CC -std=c99 -O1 -g -Wall -Werror -Iinclude -Isrc -Itests $san tests/fuzz/replay.c "tests/fuzz/fuzz_$t.c" \
      "$BUILD/libtransformer.a" -lm -pthread ${TFM_EXTRA_LDFLAGS:-} -o "$tmp/replay_$t"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$tmp/replay_$t" $dirs
done
