#!/usr/bin/env bash
# make demo: runs the main job on the bundled default.
set -eu
BUILD=${1:-build}
"$BUILD/tfm" info
echo
"$BUILD/examples/attention_demo"
