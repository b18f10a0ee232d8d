#!/usr/bin/env bash
# tfm info: text and JSON forms, exit codes for usage errors.
set -u
t="$BUILD/tfm"
out=$("$t" info) || { echo "tfm info failed"; exit 1; }
echo "$out" | grep -q '^libtransformer ' || { echo "no version line"; exit 1; }
echo "$out" | grep -q '^kernels:' || { echo "no kernels line"; exit 1; }
json=$("$t" info --json) || exit 1
echo "$json" | grep -q '"kernels":"' || { echo "bad json: $json"; exit 1; }
echo "$json" | grep -q '"threads":' || { echo "bad json: $json"; exit 1; }
TFM_ARCH=ref "$t" info --json | grep -q '"kernels":"ref","kernels_forced":true' || { echo "TFM_ARCH=ref ignored"; exit 1; }
"$t" info --bogus 2>/dev/null; [ $? = 1 ] || { echo "usage error should exit 1"; exit 1; }
"$t" frobnicate 2>/dev/null; [ $? = 1 ] || { echo "unknown command should exit 1"; exit 1; }
"$t" 2>/dev/null; [ $? = 1 ] || { echo "no command should exit 1"; exit 1; }
"$t" --help | grep -q usage || exit 1
echo ok
