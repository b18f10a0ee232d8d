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
# (bench/decode_torch.py, run with OMP_WAIT_POLICY=PASSIVE), and llama.cpp
# when TFM_ANCHOR_PYTHON names an interpreter with llama-cpp-python and gguf
# (bench/anchors_llamacpp.py; docs/PERFORMANCE.md says how it was set up).
if [ -x "$BUILD/bench/decode" ]; then
  echo "== bench/decode"
  OMP_WAIT_POLICY=PASSIVE "$BUILD/bench/decode" \
    --torch-script "$(dirname "$0")/decode_torch.py" \
    ${TFM_ANCHOR_PYTHON:+--llamacpp "$TFM_ANCHOR_PYTHON" \
      --llamacpp-script "$(dirname "$0")/anchors_llamacpp.py"} || rc=1
fi
# BERT-base in F32, Q8 and Q4 in turns with PyTorch and ONNX Runtime, fp32
# and dynamic int8 (bench/anchors_bert_int8.py), with TFM_ANCHOR_PYTHON.
if [ -x "$BUILD/bench/bert" ] && [ -n "${TFM_ANCHOR_PYTHON:-}" ]; then
  echo "== bench/anchors_bert_int8.py"
  wdir=$(mktemp -d)
  "$TFM_ANCHOR_PYTHON" "$(dirname "$0")/anchors_bert_int8.py" --seq 128 --threads 1,2 \
    --save-weights "$wdir/bert" --tfm "$BUILD/bench/bert" || rc=1
  rm -rf "$wdir"
fi
for b in "$BUILD"/bench/*; do
  [ -x "$b" ] || continue
  [ "$(basename "$b")" = gemm ] && continue
  [ "$(basename "$b")" = decode ] && continue
  echo "== bench/$(basename "$b")"
  "$b" || rc=1
done
exit $rc
