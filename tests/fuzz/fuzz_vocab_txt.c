/*
 * libFuzzer target: WordPiece folders (src/text/wordpiece.c). The input up
 * to its first NUL byte is vocab.txt, the rest (when there is a NUL)
 * tokenizer_config.json; the folder is loaded as tfm_tokenizer_load finds
 * it, then encoded with and decoded (fz_exercise_tokenizer).
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tfm_ctx *ctx = fz_ctx();
    tfm_tokenizer *t = NULL;
    const uint8_t *cfg;
    size_t n_vocab, n_cfg;
    fz_split(data, size, &n_vocab, &cfg, &n_cfg);
    if (!fz_write("vocab.txt", data, n_vocab)) abort();
    unlink(fz_path("tokenizer_config.json"));
    if (cfg && !fz_write("tokenizer_config.json", cfg, n_cfg)) abort();
    if (tfm_tokenizer_load(ctx, fz_dir(), NULL, &t) != TFM_OK) fz_failed(ctx, t);
    else fz_exercise_tokenizer(ctx, t);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
    return 0;
}
