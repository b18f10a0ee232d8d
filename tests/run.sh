#!/usr/bin/env bash
# Runs the whole test suite against the build folder $1 and prints the totals
# as the last line: "N passed, N failed, N skipped".
#   - the unit/kernel/golden runner once per kernel set the CPU supports
#     (TFM_ARCH=ref, avx2, avx512, neon), so every path is exercised;
#   - each tests/sh/*.sh script (exit 0 pass, 77 skip, other fail).
# TFM_TEST_RUNNER prefixes the runner (qemu for cross builds); --unit-only
# skips the shell scripts (they need the host toolchain).
set -u
BUILD=${1:-build}
UNIT_ONLY=0
[ "${2:-}" = "--unit-only" ] && UNIT_ONLY=1
RUNNER=${TFM_TEST_RUNNER:-}
export TFM_EXTRA_LDFLAGS=${TFM_EXTRA_LDFLAGS:-}   # sanitizer link flags for script tests
P=0; F=0; S=0

add_counts() { # parses "N passed, N failed, N skipped" from a log
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [ -z "$line" ]; then F=$((F + 1)); return; fi
  set -- $line
  P=$((P + $1)); F=$((F + $3)); S=$((S + ${5:-0}))
}

log=$(mktemp); trap 'rm -f "$log"' EXIT
arches=$($RUNNER "$BUILD/tests/unit" --arches)
for a in $arches; do
  echo "== unit tests, kernels: $a"
  TFM_ARCH=$a $RUNNER "$BUILD/tests/unit" > "$log" 2>&1
  cat "$log"
  add_counts "$log"
done

if [ "$UNIT_ONLY" = 0 ]; then
  echo "== script tests"
  for t in tests/sh/*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    BUILD="$BUILD" bash "$t" > "$log" 2>&1
    rc=$?
    if [ $rc = 0 ]; then P=$((P + 1)); echo "ok   $name"
    elif [ $rc = 77 ]; then S=$((S + 1)); echo "skip $name: $(tail -n 1 "$log")"
    else F=$((F + 1)); echo "FAIL $name"; sed 's/^/    /' "$log" | tail -n 30; fi
  done
fi

echo "$P passed, $F failed, $S skipped"
[ "$F" = 0 ]
