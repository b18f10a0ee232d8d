/*
 * libFuzzer target: llama2.c tokenizer.bin files (src/text/llama2c.c),
 * loaded from a file as tfm_tokenizer_load reads them, then encoded with and
 * decoded (fuzz_util.h: fz_exercise_tokenizer).
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tfm_ctx *ctx = fz_ctx();
    tfm_tokenizer *t = NULL;
    tfm_tokenizer_params p = tfm_tokenizer_params_default();
    p.type = TFM_TOKENIZER_LLAMA2C;
    if (!fz_write("tokenizer.bin", data, size)) abort();
    if (tfm_tokenizer_load(ctx, fz_path("tokenizer.bin"), &p, &t) != TFM_OK) fz_failed(ctx, t);
    else fz_exercise_tokenizer(ctx, t);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
    return 0;
}
