#!/usr/bin/env bash
# tfm translate on the small golden translation folders (token-level input):
# the greedy and beam outputs of the float64 references, --json, the
# attention heatmap (SVG and terminal grid), the bundled-model error, usage
# and runtime errors (exit 1 / 2).
set -u
t="$BUILD/tfm"
G=tests/golden/marian
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Sentence 2 of the Marian reference batch (gen_marian.py): greedy gives
# 28 17 17 ... 0 is not asserted here; the ids must match tfm_translate_tokens
# (the golden test pins them); here: shape, JSON and files.
out=$("$t" translate $G/marian_tiny --ids "5 6 7 8 0" "9 10 0" --json --beam 3) || fail "json: $out"
echo "$out" | grep -q '^{"translations":\[{"source":"5 6 7 8 0","translation":"[a-z ]*","ids":\[' || fail "json shape: $out"
[ "$(echo "$out" | grep -o '"source"' | wc -l)" = 2 ] || fail "two translations: $out"
out=$("$t" translate $G/transformer_tiny --ids "20 30 40 3" --attention "$tmp/a.svg") || fail "attention: $out"
[ -s "$tmp/a.svg" ] || fail "no svg written"
grep -q '^<svg' "$tmp/a.svg" || fail "not an svg"
[ "$(grep -c '<rect x=' "$tmp/a.svg")" -ge 4 ] || fail "svg cells"
echo "$out" | grep -q '|' || fail "terminal grid: $out"
"$t" translate $G/marian_tiny --ids "0" >/dev/null 2>&1; [ $? = 2 ] || fail "empty source should exit 2"
"$t" translate $G/marian_tiny --ids "5 x" >/dev/null 2>&1; [ $? = 1 ] || fail "bad ids should exit 1"
"$t" translate $G/marian_tiny >/dev/null 2>&1; [ $? = 1 ] || fail "no text should exit 1"
"$t" translate $G/marian_tiny "Hallo" 2>&1 | grep -q "no source tokenizer" || fail "text without source.spm"
out=$(cd "$tmp" && TFM_TRANSLATE_MODEL= "$OLDPWD/$t" translate "Das Haus ist klein." 2>&1); rc=$?
if [ $rc = 2 ]; then
  echo "$out" | grep -q "models/de-en" || fail "bundled-model message: $out"
fi
exit 0
