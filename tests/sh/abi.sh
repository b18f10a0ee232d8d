#!/usr/bin/env bash
# ABI check of $BUILD/libtransformer.so against the committed baseline
# abi/libtransformer.abi (libabigail's abidw/abidiff; see docs/ABI.md).
#
#   BUILD=build bash tests/sh/abi.sh            the test: new functions pass;
#       removed or changed functions or variables (signatures, layouts of
#       the structs they reach), or a soname change, fail
#   BUILD=build bash tests/sh/abi.sh --update   writes a new baseline from
#       the library (build it with -g from the current sources first); an
#       incompatible change is accepted only together with a new version in
#       include/transformer.h (MAJOR for a removal; MINOR while MAJOR is 0),
#       recorded in abi/VERSION
#   BUILD=build bash tests/sh/abi.sh --update --unreleased   the same, also
#       accepting an incompatible change at the baseline's own version: for
#       changes inside a version still in development (docs/ABI.md); never
#       for a released one
set -u
BUILD=${BUILD:-build}
BASE=abi/libtransformer.abi
VFILE=abi/VERSION
UPDATE=0
UNRELEASED=0
for arg in "$@"; do
  case "$arg" in
    --update) UPDATE=1 ;;
    --unreleased) UNRELEASED=1 ;;
    *) echo "usage: BUILD=build bash tests/sh/abi.sh [--update [--unreleased]]"; exit 2 ;;
  esac
done
[ $UNRELEASED = 1 ] && [ $UPDATE = 0 ] && { echo "--unreleased goes with --update"; exit 2; }
so="$BUILD/libtransformer.so"
DW_FLAGS="--no-corpus-path --no-comp-dir-path --no-show-locs --drop-private-types --headers-dir include"

command -v abidw >/dev/null && command -v abidiff >/dev/null ||
  { echo "skip: abidw/abidiff not installed (apt-get install abigail-tools)"; exit 77; }
case "${TFM_EXTRA_LDFLAGS:-}" in
  *-fsanitize*) echo "skip: sanitizer build (the ABI is checked on plain builds)"; exit 77 ;;
esac
[ -e "$so" ] || { echo "missing $so"; exit 1; }

hv() { sed -n "s/^#define TFM_VERSION_$1 \\([0-9]*\\)/\\1/p" include/transformer.h; }
# The part of a version that changes with an incompatible ABI: MAJOR, or
# 0.MINOR while MAJOR is 0 (docs/ABI.md).
level() { case "$1" in 0.*) echo "${1%.*}" ;; *) echo "${1%%.*}" ;; esac; }
version="$(hv MAJOR).$(hv MINOR).$(hv PATCH)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# shellcheck disable=SC2086
abidw $DW_FLAGS --out-file "$tmp/cur.abi" "$so" || { echo "abidw failed on $so"; exit 1; }
grep -q '<function-decl name=.tfm_ctx_create' "$tmp/cur.abi" ||
  { echo "skip: $so has no debug information for the ABI dump (build with -g)"; exit 77; }
arch() { sed -n "1s/.*architecture='\\([^']*\\)'.*/\\1/p" "$1"; }

if [ ! -f "$BASE" ]; then
  if [ $UPDATE = 1 ]; then
    mkdir -p abi; cp "$tmp/cur.abi" "$BASE"; echo "$version" > "$VFILE"
    echo "baseline written: $BASE (version $version)"; exit 0
  fi
  echo "no baseline $BASE: create it with BUILD=$BUILD bash tests/sh/abi.sh --update"; exit 1
fi
if [ "$(arch "$BASE")" != "$(arch "$tmp/cur.abi")" ]; then
  echo "skip: the baseline is for $(arch "$BASE"), this build for $(arch "$tmp/cur.abi")"; exit 77
fi
base_version=$(cat "$VFILE" 2>/dev/null || echo "?")

abidiff "$BASE" "$tmp/cur.abi" > "$tmp/report" 2>&1
rc=$?
if [ $((rc & 3)) != 0 ]; then echo "abidiff failed (exit $rc):"; cat "$tmp/report"; exit 1; fi
# "Functions changes summary: 0 Removed, 1 Changed (3 filtered out), 2 Added functions"
count() { # abidiff prints nothing at all when there is no change
  local n
  n=$(sed -n "s/^$1 changes summary: \\([0-9]*\\) Removed, \\([0-9]*\\) Changed.*, \\([0-9]*\\) Added.*/\\$2/p" "$tmp/report" | head -n 1)
  echo "${n:-0}"
}
removed=$(( $(count Functions 1) + $(count Variables 1) ))
changed=$(( $(count Functions 2) + $(count Variables 2) ))
added=$(( $(count Functions 3) + $(count Variables 3) ))
soname_changed=0
grep -q "SONAME changed" "$tmp/report" && soname_changed=1
incompatible=0
if [ $((rc & 8)) != 0 ] || [ $removed -gt 0 ] || [ $changed -gt 0 ] || [ $soname_changed = 1 ]; then
  incompatible=1
fi

if [ $UPDATE = 1 ]; then
  if [ $UNRELEASED = 1 ] && [ "$version" != "$base_version" ]; then
    echo "refused: --unreleased rewrites the baseline of its own version, but the header"
    echo "says $version and the baseline $base_version; run --update without it"
    exit 1
  fi
  if [ $incompatible = 1 ] && [ $UNRELEASED = 1 ]; then
    cat "$tmp/report"
    echo "accepted: an incompatible change inside version $version, not yet released (--unreleased)"
  elif [ $incompatible = 1 ]; then
    if [ "$version" = "$base_version" ]; then
      cat "$tmp/report"
      echo "refused: incompatible ABI change without a new version; raise TFM_VERSION_MAJOR"
      echo "(removed or changed functions) or TFM_VERSION_MINOR (a parameter struct grown at"
      echo "its end) in include/transformer.h, rebuild, and run --update again; a change"
      echo "inside a version not yet released: --update --unreleased (docs/ABI.md)"
      exit 1
    fi
    if [ $removed -gt 0 ] && [ "$(level "$version")" = "$(level "$base_version")" ]; then
      cat "$tmp/report"
      echo "refused: $removed removed function(s)/variable(s) need a new TFM_VERSION_MAJOR"
      echo "(while MAJOR is 0: a new TFM_VERSION_MINOR)"
      exit 1
    fi
  fi
  cp "$tmp/cur.abi" "$BASE"; echo "$version" > "$VFILE"
  echo "baseline updated: $BASE (version $base_version -> $version; $added added, $removed removed, $changed changed)"
  exit 0
fi

if [ $incompatible = 1 ]; then
  cat "$tmp/report"
  echo "FAIL: the ABI of $so differs incompatibly from $BASE ($removed removed, $changed changed"
  [ $soname_changed = 1 ] && echo "  and the soname changed"
  echo "  since version $base_version). If this is intended: raise the version in"
  echo "  include/transformer.h and run: BUILD=$BUILD bash tests/sh/abi.sh --update (docs/ABI.md)"
  exit 1
fi
if [ "$version" != "$base_version" ] && [ "$(printf '%s\n%s\n' "$base_version" "$version" | sort -V | head -n 1)" != "$base_version" ]; then
  echo "FAIL: the header's version $version is older than the baseline's $base_version"; exit 1
fi
echo "ok: ABI compatible with the baseline of version $base_version ($added function(s)/variable(s) added)"
