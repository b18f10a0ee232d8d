#!/usr/bin/env bash
# tfm fill-mask / embed / classify on the small BERT-family golden folders:
# JSON shapes, the predictions the float64 references give, usage and
# runtime errors (exit 1 / 2), too-long text with and without --truncate.
set -u
t="$BUILD/tfm"
G=tests/golden/bert
fail() { echo "FAIL: $*"; exit 1; }
out=$("$t" fill-mask $G/bert_mlm "The capital of France is [MASK]." --json 2>&1) || fail "fill-mask: $out"
# The reference logits put "good" (id 61) first for this model and text.
echo "$out" | grep -q '^{"predictions":\[\[{"token":"good","id":61,"score":0\.34' || fail "fill-mask json: $out"
[ "$(echo "$out" | grep -o '"token"' | wc -l)" = 5 ] || fail "default top-k is 5: $out"
out=$("$t" fill-mask $G/distilbert_mlm "[MASK] love this [MASK]!" "the [MASK]" --top-k 2 --json) || fail "distilbert fill-mask"
[ "$(echo "$out" | grep -o '\]' | wc -l)" = 4 ] || fail "three masks of two predictions: $out"
"$t" fill-mask $G/bert_mlm "the capital of france" >/dev/null 2>&1; [ $? = 2 ] || fail "no [MASK] should exit 2"
"$t" fill-mask $G/bert_cls_bf16 "a [MASK]" 2>&1 | grep -q "no masked-LM head" || fail "cls model has no MLM head"

out=$("$t" embed $G/distilbert_model "hello world" "the cat sat" --json) || fail "embed"
echo "$out" | grep -q '^{"pooling":"mean","dim":24,"embeddings":\[\[' || fail "embed json: $out"
out=$("$t" embed $G/bert_mlm "hello world" --pooling none --json) || fail "embed none"
[ "$(echo "$out" | grep -o '\],\[' | wc -l)" = 3 ] || fail "4 token vectors for [CLS] hello world [SEP]: $out"
out=$("$t" embed $G/bert_mlm "hello" --pooling cls --normalize) || fail "embed cls"
[ "$(echo "$out" | wc -w)" = 32 ] || fail "32 numbers: $out"
"$t" embed $G/bert_mlm "x" --pooling max >/dev/null 2>&1; [ $? = 1 ] || fail "bad pooling should exit 1"

out=$("$t" classify $G/bert_cls_bf16 "The cat sat." --pair "The dog ran away." --json) || fail "classify pair"
echo "$out" | grep -q '^{"results":\[\[{"label":"neutral","score":0\.41' || fail "classify json: $out"
out=$("$t" classify $G/distilbert_cls "good movie" "bad movie" --json) || fail "classify"
[ "$(echo "$out" | grep -o '"label"' | wc -l)" = 4 ] || fail "two labels for two texts: $out"
"$t" classify $G/bert_mlm "x" 2>&1 | grep -q "no classifier" || fail "mlm model has no classifier"

long=$(printf 'the cat %.0s' $(seq 30))
out=$("$t" embed $G/bert_mlm "$long" 2>&1); [ $? = 2 ] || fail "too long should exit 2"
echo "$out" | grep -q "40" || fail "too-long message names the limit: $out"
"$t" embed $G/bert_mlm "$long" --truncate >/dev/null || fail "--truncate"
"$t" embed /nonexistent "x" 2>&1 | grep -q "/nonexistent" || fail "missing folder named"
"$t" embed $G/bert_mlm >/dev/null 2>&1; [ $? = 1 ] || fail "no text should exit 1"
# The examples, which use only the public header.
if [ -x "$BUILD/examples/fill_mask" ]; then
  "$BUILD/examples/fill_mask" $G/bert_mlm | grep -q "good  *0\.34" || fail "examples/fill_mask"
  out=$("$BUILD/examples/similarity" $G/bert_mlm "the cat sat" "the dog ran" "hello") || fail "similarity"
  [ "$(echo "$out" | grep -c "~")" = 3 ] || fail "three pairs: $out"
fi
echo ok
