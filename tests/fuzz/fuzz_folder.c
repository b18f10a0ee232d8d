/*
 * libFuzzer target: a whole Hugging Face folder's weights. The first input
 * byte picks one of the small models of model_step.h (its config.json,
 * linked unchanged), the rest is model.safetensors; when the model loads
 * (weights checked against the config, widened, packed or quantized), one
 * step of its kind runs (model_step.h).
 */
#include "fuzz_util.h"
#include "model_step.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const tfmt_arch_case *linked;
    const tfmt_arch_case *c;
    tfm_ctx *ctx;
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    char rel[512];
    int n;
    if (size < 1) return 0;
    c = tfmt_folder_case(data[0], &n);
    if (linked != c) { // the unchanged file of this case beside the fuzzed one
        snprintf(rel, sizeof rel, "%s/config.json", c->path);
        fz_link("config.json", rel);
        linked = c;
    }
    if (!fz_write("model.safetensors", data + 1, size - 1)) abort();
    ctx = fz_ctx();
    mp.no_tokenizer = 1;
    mp.weights = (int32_t)(data[0] / n % 6);
    if (tfm_model_load(ctx, fz_dir(), &mp, &m) != TFM_OK) fz_failed(ctx, m);
    else if (tfmt_model_step(ctx, m) != TFM_OK) fz_failed(ctx, NULL);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return 0;
}
