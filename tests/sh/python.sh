#!/usr/bin/env bash
# The Python package's tests (bindings/python/tests, pytest) against
# $BUILD/libtransformer.so, with Debian's python3, python3-numpy and
# python3-pytest. Skips (77) without them, and under sanitizer builds (an
# ASan library cannot be loaded into a python3 built without ASan).
set -u
BUILD=${BUILD:-build}
PY=${TFM_PYTHON:-/usr/bin/python3}
case "${TFM_EXTRA_LDFLAGS:-}" in
  *-fsanitize*) echo "skip: sanitizer build (its libtransformer.so cannot be loaded into python3)"; exit 77 ;;
esac
[ -x "$PY" ] || { echo "skip: $PY not found (apt-get install python3)"; exit 77; }
"$PY" -c 'import numpy' 2>/dev/null || { echo "skip: numpy missing (apt-get install python3-numpy)"; exit 77; }
"$PY" -c 'import pytest' 2>/dev/null || { echo "skip: pytest missing (apt-get install python3-pytest)"; exit 77; }
so="$BUILD/libtransformer.so"
[ -e "$so" ] || { echo "missing $so"; exit 1; }
export TFM_LIBRARY="$(cd "$(dirname "$so")" && pwd)/libtransformer.so"
export PYTHONDONTWRITEBYTECODE=1
exec "$PY" -m pytest -q -p no:cacheprovider bindings/python/tests
