/*
 * libFuzzer target: GPT-2-style BPE folders (src/text/bpe.c, merge.c). The
 * input up to its first NUL byte is vocab.json, the rest merges.txt (empty
 * without a NUL); the folder is loaded as tfm_tokenizer_load finds it, then
 * encoded with and decoded (fz_exercise_tokenizer).
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tfm_ctx *ctx = fz_ctx();
    tfm_tokenizer *t = NULL;
    const uint8_t *merges;
    size_t n_vocab, n_merges;
    fz_split(data, size, &n_vocab, &merges, &n_merges);
    if (!fz_write("vocab.json", data, n_vocab) ||
        !fz_write("merges.txt", merges ? (const void *)merges : "", n_merges))
        abort();
    if (tfm_tokenizer_load(ctx, fz_dir(), NULL, &t) != TFM_OK) fz_failed(ctx, t);
    else fz_exercise_tokenizer(ctx, t);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
    return 0;
}
