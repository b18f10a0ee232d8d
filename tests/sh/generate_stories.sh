#!/usr/bin/env bash
# tfm generate on the real stories260K checkpoint prints exactly the text
# llama2.c's run prints (greedy, 256 steps; and 60 steps from "Zoo"), and
# bad input gives clear errors. Skips when ../shared is absent.
set -u
BUILD=${BUILD:-build}
TFM="$BUILD/tfm"
SHARED=${TFM_SHARED:-../shared}
M="$SHARED/models/stories260K"
if [ ! -f "$M/stories260K.bin" ]; then
  echo "skip: $M/stories260K.bin not found (../shared absent)"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

"$TFM" generate "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 \
  --steps 256 > "$tmp/a.txt" 2> "$tmp/a.err" || { echo "run 1 failed"; cat "$tmp/a.err"; fail=1; }
cmp "$tmp/a.txt" "$M/expected_greedy_t0_n256.txt" || { echo "n256 output differs"; fail=1; }
grep -q "tok/s" "$tmp/a.err" || { echo "no speed line on stderr"; fail=1; }

"$TFM" generate "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 \
  --steps 60 --prompt "Zoo" --threads 2 > "$tmp/b.txt" 2> "$tmp/b.err" || { echo "run 2 failed"; cat "$tmp/b.err"; fail=1; }
cmp "$tmp/b.txt" "$M/expected_greedy_t0_n60_prompt_Zoo.txt" || { echo "Zoo output differs"; fail=1; }

# Seeded sampling: the same seed gives the same text.
"$TFM" generate "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0.8 \
  --top-p 0.9 --seed 7 --steps 40 > "$tmp/c1.txt" 2>/dev/null
"$TFM" generate "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0.8 \
  --top-p 0.9 --seed 7 --steps 40 --threads 2 > "$tmp/c2.txt" 2>/dev/null
cmp "$tmp/c1.txt" "$tmp/c2.txt" || { echo "same seed, different text"; fail=1; }

# Bad input: a truncated checkpoint names the file and the sizes.
head -c 100000 "$M/stories260K.bin" > "$tmp/trunc.bin"
"$TFM" generate "$tmp/trunc.bin" --tokenizer "$M/tok512.bin" > /dev/null 2> "$tmp/t.err"
rc=$?
[ $rc = 2 ] || { echo "truncated: exit $rc, expected 2"; fail=1; }
grep -q "truncated" "$tmp/t.err" || { echo "truncated: message:"; cat "$tmp/t.err"; fail=1; }
"$TFM" generate > /dev/null 2>&1; [ $? = 1 ] || { echo "no MODEL: expected usage error"; fail=1; }
"$TFM" generate "$M/stories260K.bin" --top-p 2 > /dev/null 2>&1; [ $? = 1 ] || { echo "bad --top-p accepted"; fail=1; }
exit $fail
