/* Shared by the tokenizer tests (tokenizer_cases.c): runs the cases of a
 * .jsonl file (one JSON object per line: text, optional text_pair, ids,
 * ids_no_special, type_ids, decoded; or the pair_ids / pair_type_ids form)
 * against a tokenizer, loads the shared vocabularies, times long inputs. */
#ifndef TFM_TEST_TOKENIZER_CASES_H
#define TFM_TEST_TOKENIZER_CASES_H

#include "harness.h"
#include "io/json.h"

/* Whether `want` is a JSON array of exactly the n integers got. */
int tc_ids_equal(const tfm__json *want, const int32_t *got, size_t n);

/* Returns the number of failing cases; prints up to 10 of them. */
int tc_run_cases(tfm_ctx *ctx, const tfm_tokenizer *tok, const char *path,
                 uint32_t decode_flags, int *n_cases);

/* The tokenizer in the folder `rel` under ../shared; NULL (a failure
 * recorded when loading fails) if it is absent or does not load. */
tfm_tokenizer *tc_load_shared(tfm_ctx *ctx, const char *rel);

/* About 1.1 MB of text (malloc'd; *len set): 1 MiB of the n words in a fixed
 * pseudo-random order, then one word of 100 KB ('q' x 100000). */
char *tc_long_text(const char *const *words, int n, size_t *len);

/* Encodes text[0, len) and checks it takes under 2 s of CPU time (no
 * quadratic work on long texts or long words). */
void tc_check_fast(tfm_ctx *ctx, const tfm_tokenizer *t, const char *name, const char *text,
                   size_t len);

#endif
