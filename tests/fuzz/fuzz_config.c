/*
 * libFuzzer target: config.json -> model construction, for every
 * architecture of the registry. The first input byte picks one of the small
 * models of model_step.h (its weights file, linked unchanged, beside the
 * fuzzed config), the rest is config.json; when the model loads, one step
 * of its kind runs (model_step.h). The ctx allocates at most 256 MB, so a
 * size the weights cannot back must fail before it is allocated.
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_folder_run(data, size, "model.safetensors", "config.json", NULL);
    return 0;
}
