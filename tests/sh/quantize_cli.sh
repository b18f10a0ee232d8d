#!/usr/bin/env bash
# tfm quantize writes a folder every model command loads (mapped, no
# conversion) with the results of quantizing at load; --weights q8/q4 on
# the model commands; bad input: an unknown --weights is a usage error
# listing the choices, a missing folder a runtime error, a corrupted
# quantized folder TFM_ERR_FORMAT naming the tensor.
set -u
BUILD=${BUILD:-build}
TFM="$BUILD/tfm"
G=tests/golden
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

for w in q8 q4; do
  "$TFM" quantize "$G/gpt2/tiny" "$tmp/gpt2-$w" --weights $w 2> "$tmp/q.err" ||
    { echo "quantize $w failed"; cat "$tmp/q.err"; fail=1; }
  [ -f "$tmp/gpt2-$w/model.safetensors" ] && [ -f "$tmp/gpt2-$w/config.json" ] &&
    [ -f "$tmp/gpt2-$w/vocab.json" ] || { echo "$w: files missing"; ls "$tmp/gpt2-$w"; fail=1; }
  "$TFM" generate "$tmp/gpt2-$w" --prompt "the cat" --temperature 0 --steps 12 \
    > "$tmp/a.txt" 2>/dev/null || { echo "$w: generate on the folder failed"; fail=1; }
  "$TFM" generate "$G/gpt2/tiny" --weights $w --prompt "the cat" --temperature 0 --steps 12 \
    > "$tmp/b.txt" 2>/dev/null || { echo "$w: generate --weights $w failed"; fail=1; }
  cmp -s "$tmp/a.txt" "$tmp/b.txt" || { echo "$w: the folder and --weights $w differ"; fail=1; }
done
"$TFM" quantize "$G/bert/bert_mlm" "$tmp/bert-q8" > /dev/null 2>&1 ||
  { echo "quantize bert failed"; fail=1; }
"$TFM" fill-mask "$tmp/bert-q8" "the [MASK] sat" > /dev/null 2>&1 ||
  { echo "fill-mask on the q8 folder failed"; fail=1; }
"$TFM" embed "$G/bert/bert_mlm" --weights q4 "the cat sat" > /dev/null 2>&1 ||
  { echo "embed --weights q4 failed"; fail=1; }

# Bad input.
"$TFM" quantize "$G/gpt2/tiny" "$tmp/x" --weights q3 > /dev/null 2> "$tmp/e1"
[ $? = 1 ] || { echo "--weights q3: expected a usage error"; fail=1; }
grep -q "stored, f32, f16, bf16, q8 or q4" "$tmp/e1" || { echo "--weights q3:"; cat "$tmp/e1"; fail=1; }
"$TFM" generate "$G/gpt2/tiny" --weights int8 > /dev/null 2> "$tmp/e2"
[ $? = 1 ] || { echo "generate --weights int8: expected a usage error"; fail=1; }
"$TFM" quantize "$tmp/absent" "$tmp/y" > /dev/null 2> "$tmp/e3"
[ $? = 2 ] || { echo "missing folder: expected a runtime error"; fail=1; }
"$TFM" quantize "$G/gpt2/tiny" > /dev/null 2>&1
[ $? = 1 ] || { echo "no OUT: expected a usage error"; fail=1; }
# A quantized matrix cut short: the size no longer matches its panels.
cp -r "$tmp/gpt2-q8" "$tmp/bad"
python3 - "$tmp/bad/model.safetensors" <<'PY' || { echo "cannot corrupt"; fail=1; }
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
t = h["h.1.mlp.c_proj.weight"]
t["shape"][1] += 1  # one more block than config.json's sizes give
s = json.dumps(h, separators=(",", ":")).encode()
s += b" " * (n - len(s))
assert len(s) == n
b[8:8 + n] = s
open(p, "wb").write(b)
PY
"$TFM" generate "$tmp/bad" --prompt "the" --steps 4 > /dev/null 2> "$tmp/e4"
[ $? = 2 ] || { echo "corrupted folder: expected a runtime error"; fail=1; }
grep -q "h.1.mlp.c_proj.weight" "$tmp/e4" || { echo "corrupted folder:"; cat "$tmp/e4"; fail=1; }
exit $fail
