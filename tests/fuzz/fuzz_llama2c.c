/*
 * libFuzzer target: llama2.c checkpoints (src/io/llama2c.c,
 * src/models/llama2c.c) loaded by tfm_model_load from a file, each
 * tensor mapped where the header says; when one loads, a prompt and two
 * sampled tokens run (model_step.h), so weights read past the file show
 * under AddressSanitizer. The ctx allocates at most 256 MB.
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tfm_ctx *ctx = fz_ctx();
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    mp.no_tokenizer = 1;
    mp.weights = size ? (int32_t)(data[size - 1] % 6) : 0; // as stored, f32, f16, bf16, q8, q4
    if (!fz_write("model.bin", data, size)) abort();
    if (tfm_model_load(ctx, fz_path("model.bin"), &mp, &m) != TFM_OK) {
        fz_failed(ctx, m);
    } else if (tfmt_model_step(ctx, m) != TFM_OK) {
        fz_failed(ctx, NULL);
    }
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return 0;
}
