#!/usr/bin/env bash
# Runs the benchmarks built in the folder $1 (default build): bench/gemm first
# (extra arguments go to it, e.g. --reps 9 or --quick), then every other
# program in $1/bench. See docs/PERFORMANCE.md.
#
# OpenBLAS (loaded by bench/gemm at run time) is told its core type: on this
# CPU (AMD Zen 5) its autodetection falls back to SSE3 kernels; and
# OPENBLAS_L2_SIZE is unset, for that command only.
set -u
BUILD=${1:-build}
shift || true
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'); $(lscpu | sed -n 's/^Model name: *//p');" \
     "$(nproc) CPUs; L2 $(lscpu | sed -n 's/^L2 cache: *//p'); L3 $(lscpu | sed -n 's/^L3 cache: *//p')"
rc=0
if [ -x "$BUILD/bench/gemm" ]; then
  echo "== bench/gemm"
  env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX "$BUILD/bench/gemm" "$@" || rc=1
fi
# bench/decode: GPT-2-small generation against the bandwidth floor and PyTorch
# (bench/decode_torch.py, run with OMP_WAIT_POLICY=PASSIVE).
if [ -x "$BUILD/bench/decode" ]; then
  echo "== bench/decode"
  OMP_WAIT_POLICY=PASSIVE "$BUILD/bench/decode" \
    --torch-script "$(dirname "$0")/decode_torch.py" || rc=1
fi
for b in "$BUILD"/bench/*; do
  [ -x "$b" ] || continue
  [ "$(basename "$b")" = gemm ] && continue
  [ "$(basename "$b")" = decode ] && continue
  echo "== bench/$(basename "$b")"
  "$b" || rc=1
done
exit $rc
