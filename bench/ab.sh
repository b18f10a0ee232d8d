#!/usr/bin/env bash
# A/B: runs one benchmark program of two builds in turns, so both see the
# same machine load, and prints every line each run prints, tagged with its
# build. For "is the new build as fast as the old one": build the old
# commit in another worktree, then, from the repository root,
#   bash bench/ab.sh OLD_BUILD NEW_BUILD ROUNDS PROGRAM [ARGS...]
# e.g. bash bench/ab.sh /tmp/old/build build 3 bench/bert /tmp/bert-base --runs 5
# PROGRAM is a path inside the build folder (bench/decode, tfm, ...).
# Nothing else should run meanwhile (docs/PERFORMANCE.md).
set -u
[ $# -ge 4 ] || { sed -n '2,10p' "$0"; exit 2; }
A=$1; B=$2; R=$3; P=$4; shift 4
for r in $(seq 1 "$R"); do
  for side in A B; do
    dir=$A; [ $side = B ] && dir=$B
    "$dir/$P" "$@" 2>&1 | sed "s/^/$side round $r: /"
  done
done
