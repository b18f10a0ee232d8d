#!/usr/bin/env bash
# The bundled German->English model (models/de-en): tfm translate with no
# folder uses it and translates the lesson's sentence; --json and the
# attention heatmap work on text; and the C library's greedy and beam
# translations of the 506 held-out sentences equal, token for token, the
# PyTorch outputs that tools/train_de_en/train.py recorded
# (models/de-en/heldout_pytorch.json), with every kernel set the CPU has
# (greedy) and the default one (beam).
set -u
BUILD=${BUILD:-build}
TFM="$BUILD/tfm"
M=models/de-en
if [ ! -f "$M/config.json" ]; then
  echo "skip: $M not found"; exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

out=$(TFM_TRANSLATE_MODEL= "$TFM" translate "Das Haus ist klein.") || fail "translate: $out"
[ "$out" = "The house is small." ] || fail "Das Haus ist klein. -> '$out'"
out=$("$TFM" translate "$M" --beam 4 --json "Das Haus ist klein." "Wo ist der Hund?") ||
  fail "json: $out"
echo "$out" | grep -q '^{"translations":\[{"source":"Das Haus ist klein.","translation":"The house is small.","ids":\[[0-9,]*\],"source_ids":\[[0-9,]*\],"score":[-0-9.e]*},{"source":"Wo ist der Hund?","translation":"Where is the dog?"' ||
  fail "json shape: $out"
out=$("$TFM" translate "$M" --attention "$tmp/a.svg" "Das Haus ist klein.") || fail "attention: $out"
grep -q '^<svg' "$tmp/a.svg" || fail "not an svg"
grep -q '>_Haus<' "$tmp/a.svg" || fail "svg lacks the source tokens"
echo "$out" | grep -q '|' || fail "terminal grid: $out"
# Empty text and text past the source limit: clear errors.
"$TFM" translate "$M" "" > /dev/null 2>&1; [ $? = 2 ] || fail "empty text should exit 2"

# The held-out set against PyTorch.
command -v python3 > /dev/null || { echo "skip: no python3 for the held-out check"; exit 77; }
for a in $("$BUILD/tests/unit" --arches); do
  echo "== kernels $a"
  TFM_ARCH=$a python3 tools/train_de_en/check_c.py "$TFM" "$M" --only greedy ||
    fail "held-out greedy differs from PyTorch ($a)"
done
python3 tools/train_de_en/check_c.py "$TFM" "$M" --only beam || fail "held-out beam differs from PyTorch"
exit 0
