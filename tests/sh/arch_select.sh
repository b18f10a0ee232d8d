#!/usr/bin/env bash
# TFM_ARCH selects the kernel set: `tfm info --json` reports each set the
# CPU runs when forced, and an unknown or unsupported name falls back to the
# automatic choice (kernels_forced false).
set -u
BUILD=${BUILD:-build}
TFM="$BUILD/tfm"
UNIT="$BUILD/tests/unit"
[ -x "$TFM" ] || { echo "no $TFM"; exit 77; }
[ -x "$UNIT" ] || { echo "no $UNIT"; exit 77; }

kernels_of() { sed -n 's/.*"kernels":"\([a-z0-9]*\)".*/\1/p'; }
forced_of() { sed -n 's/.*"kernels_forced":\([a-z]*\).*/\1/p'; }

fail=0
auto=$(env -u TFM_ARCH "$TFM" info --json)
best=$(echo "$auto" | kernels_of)
[ -n "$best" ] || { echo "no kernels field in: $auto"; exit 1; }
[ "$(echo "$auto" | forced_of)" = false ] || { echo "automatic choice reported as forced"; fail=1; }

for a in $("$UNIT" --arches); do
  out=$(TFM_ARCH=$a "$TFM" info --json)
  k=$(echo "$out" | kernels_of); f=$(echo "$out" | forced_of)
  if [ "$k" != "$a" ] || [ "$f" != true ]; then
    echo "TFM_ARCH=$a: got kernels=$k forced=$f"; fail=1
  else
    echo "TFM_ARCH=$a: ok"
  fi
done

# The automatic choice is the widest set the CPU runs.
widest=ref
for a in neon avx2 avx512; do
  "$UNIT" --arches | grep -qx "$a" && widest=$a
done
[ "$best" = "$widest" ] || { echo "automatic choice $best, widest supported $widest"; fail=1; }

for a in bogus AVX2 ""; do
  out=$(TFM_ARCH=$a "$TFM" info --json)
  k=$(echo "$out" | kernels_of); f=$(echo "$out" | forced_of)
  if [ "$k" != "$best" ] || [ "$f" != false ]; then
    echo "TFM_ARCH='$a': got kernels=$k forced=$f, want $best unforced"; fail=1
  fi
done
# a set not compiled in or not runnable here falls back the same way
for a in avx2 avx512 neon; do
  "$UNIT" --arches | grep -qx "$a" && continue
  out=$(TFM_ARCH=$a "$TFM" info --json)
  k=$(echo "$out" | kernels_of); f=$(echo "$out" | forced_of)
  if [ "$k" != "$best" ] || [ "$f" != false ]; then
    echo "TFM_ARCH=$a (unsupported): got kernels=$k forced=$f"; fail=1
  fi
done
exit $fail
