#!/usr/bin/env bash
# `tfm tokenize`: ids, type ids and tokens as JSON for a WordPiece folder
# (with a pair), a GPT-2 folder, a llama2.c tokenizer.bin and a
# SentencePiece model with byte fallback; errors for a
# missing folder and invalid UTF-8. Uses ../shared where present; a small
# vocab.txt written here otherwise.
set -u
BUILD=${BUILD:-build}
TFM="$BUILD/tfm"
[ -x "$TFM" ] || { echo "no $TFM"; exit 77; }
SHARED=${TFM_SHARED:-../shared}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

expect() { # name, got, want
  if [ "$2" != "$3" ]; then echo "$1: got  $2"; echo "$1: want $3"; fail=1; else echo "$1: ok"; fi
}

printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n!\n##s\n' > "$tmp/vocab.txt"
expect "small wordpiece" "$("$TFM" tokenize "$tmp" "Hello worlds!" --pair "hello" --json)" \
  '{"ids":[2,5,6,8,7,3,5,3],"type_ids":[0,0,0,0,0,0,1,1],"tokens":["[CLS]","hello","world","##s","!","[SEP]","hello","[SEP]"]}'
expect "file path + no specials" "$("$TFM" tokenize "$tmp/vocab.txt" "world" --no-special --json)" \
  '{"ids":[6],"type_ids":[0],"tokens":["world"]}'

expect "sentencepiece .model" "$("$TFM" tokenize tests/golden/spm/uni_bytes.model "Ja 😀" --json)" \
  '{"ids":[259,77,266,259,243,162,155,131,2],"type_ids":[0,0,0,0,0,0,0,0,0],"tokens":["▁","<0x4A>","a","▁","<0xF0>","<0x9F>","<0x98>","<0x80>","</s>"]}'

"$TFM" tokenize "$tmp/nothing" "x" > "$tmp/out" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "cannot open" "$tmp/out" || { echo "missing folder: rc $rc: $(cat "$tmp/out")"; fail=1; }
"$TFM" tokenize "$tmp" $'bad\xff' > "$tmp/out" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "invalid UTF-8 at byte 3" "$tmp/out" || { echo "bad utf-8: rc $rc: $(cat "$tmp/out")"; fail=1; }
"$TFM" tokenize "$tmp" > /dev/null 2>&1; rc=$?
[ $rc = 1 ] || { echo "usage error: rc $rc"; fail=1; }

if [ -d "$SHARED/vocab/bert-base-uncased" ]; then
  expect "bert-base-uncased" \
    "$("$TFM" tokenize "$SHARED/vocab/bert-base-uncased" "The capital of France is [MASK]." --json)" \
    '{"ids":[101,1996,3007,1997,2605,2003,103,1012,102],"type_ids":[0,0,0,0,0,0,0,0,0],"tokens":["[CLS]","the","capital","of","france","is","[MASK]",".","[SEP]"]}'
else echo "skip bert: $SHARED absent"; fi
if [ -d "$SHARED/vocab/gpt2" ]; then
  expect "gpt2" "$("$TFM" tokenize "$SHARED/vocab/gpt2" "Hello world" --json)" \
    '{"ids":[15496,995],"type_ids":[0,0],"tokens":["Hello","Ġworld"]}'
else echo "skip gpt2: $SHARED absent"; fi
if [ -f "$SHARED/models/stories260K/tok512.bin" ]; then
  expect "tok512.bin" "$("$TFM" tokenize "$SHARED/models/stories260K/tok512.bin" "Zoo" --json)" \
    '{"ids":[1,410,469,347],"type_ids":[0,0,0,0],"tokens":["\n<s>\n"," ","Z","oo"]}'
else echo "skip tok512: $SHARED absent"; fi
exit $fail
