/*
 * libFuzzer target: a whole Hugging Face folder's weights. The first input
 * byte picks one of the small models of model_step.h (its config.json,
 * linked unchanged), the rest is model.safetensors; when the model loads
 * (weights checked against the config, widened, packed or quantized), one
 * step of its kind runs (model_step.h).
 */
#include "fuzz_util.h"

// The format: the selector byte's higher part (as stored, f32, ... q4).
static int32_t format_of(const uint8_t *data, int n_cases) {
    return (int32_t)(data[0] / n_cases % 6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_folder_run(data, size, "config.json", "model.safetensors", format_of);
    return 0;
}
