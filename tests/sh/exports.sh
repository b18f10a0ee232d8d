#!/usr/bin/env bash
# The shared library exports only tfm_* symbols, and has the right soname.
set -eu
so="$BUILD/libtransformer.so"
[ -e "$so" ] || { echo "missing $so"; exit 1; }
bad=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^tfm_' || true)
if [ -n "$bad" ]; then echo "exported symbols without the tfm_ prefix:"; echo "$bad"; exit 1; fi
n=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/' | grep -c ' tfm_')
[ "$n" -gt 20 ] || { echo "only $n tfm_ symbols exported"; exit 1; }
major=$(sed -n 's/^#define TFM_VERSION_MAJOR \([0-9]*\)/\1/p' include/transformer.h)
soname=$(objdump -p "$so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libtransformer.so.$major" ] || { echo "soname $soname"; exit 1; }
# internal tfm__ names must stay hidden
if nm -D "$so" | grep -q ' tfm__'; then echo "internal tfm__ symbols exported"; exit 1; fi
echo "ok: $n symbols, soname $soname"
