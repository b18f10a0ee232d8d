#!/usr/bin/env bash
# examples/generate (public header only) streams exactly the text llama2.c's
# run prints for the real stories260K checkpoint (greedy, 256 steps; 60 steps
# from "Zoo" on 2 threads), and reports bad input. Skips when ../shared is
# absent.
set -u
BUILD=${BUILD:-build}
EX="$BUILD/examples/generate"
SHARED=${TFM_SHARED:-../shared}
M="$SHARED/models/stories260K"
if [ ! -f "$M/stories260K.bin" ]; then
  echo "skip: $M/stories260K.bin not found (../shared absent)"; exit 77
fi
[ -x "$EX" ] || { echo "$EX not built"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0

"$EX" "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 --steps 256 \
  > "$tmp/a.txt" 2> "$tmp/a.err" || { echo "run 1 failed"; cat "$tmp/a.err"; fail=1; }
cmp "$tmp/a.txt" "$M/expected_greedy_t0_n256.txt" || { echo "n256 output differs"; fail=1; }
grep -q "tok/s" "$tmp/a.err" || { echo "no speed line on stderr"; fail=1; }

"$EX" "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 --steps 60 \
  --prompt "Zoo" --threads 2 > "$tmp/b.txt" 2> "$tmp/b.err" || { echo "run 2 failed"; cat "$tmp/b.err"; fail=1; }
cmp "$tmp/b.txt" "$M/expected_greedy_t0_n60_prompt_Zoo.txt" || { echo "Zoo output differs"; fail=1; }

# Seeded sampling: the same text on 1 and 2 threads.
"$EX" "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0.8 --seed 7 \
  --steps 40 > "$tmp/c1.txt" 2>/dev/null || fail=1
"$EX" "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0.8 --seed 7 \
  --steps 40 --threads 2 > "$tmp/c2.txt" 2>/dev/null || fail=1
cmp "$tmp/c1.txt" "$tmp/c2.txt" || { echo "same seed, different text"; fail=1; }

# Bad input: usage without MODEL, a clear message for a missing file.
"$EX" > /dev/null 2>&1; [ $? = 2 ] || { echo "no MODEL: expected usage (exit 2)"; fail=1; }
"$EX" "$tmp/missing.bin" > /dev/null 2> "$tmp/m.err"; rc=$?
[ $rc = 1 ] || { echo "missing model: exit $rc, expected 1"; fail=1; }
grep -q "missing.bin" "$tmp/m.err" || { echo "missing model: message:"; cat "$tmp/m.err"; fail=1; }
exit $fail
