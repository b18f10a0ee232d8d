/*
 * libFuzzer target: config.json -> model construction, for every
 * architecture of the registry. The first input byte picks one of the small
 * models of model_step.h (its weights file, linked unchanged, beside the
 * fuzzed config), the rest is config.json; when the model loads, one step
 * of its kind runs (model_step.h). The ctx allocates at most 256 MB, so a
 * size the weights cannot back must fail before it is allocated.
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
        snprintf(rel, sizeof rel, "%s/model.safetensors", c->path);
        fz_link("model.safetensors", rel);
        linked = c;
    }
    if (!fz_write("config.json", data + 1, size - 1)) abort();
    ctx = fz_ctx();
    mp.no_tokenizer = 1;
    mp.weights = c->weights;
    if (tfm_model_load(ctx, fz_dir(), &mp, &m) != TFM_OK) fz_failed(ctx, m);
    else if (tfmt_model_step(ctx, m) != TFM_OK) fz_failed(ctx, NULL);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return 0;
}
