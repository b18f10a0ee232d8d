/*
 * libFuzzer target: the safetensors reader from a host buffer. Opens the
 * input, then lists every tensor, reads its info, gets its view and touches
 * the first and last byte of its data, and reads the metadata, so a tensor
 * that points outside the buffer shows under AddressSanitizer.
 */
#include "transformer.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const prefixes[] = {"bert.", ""};
    tfm_ctx *ctx = NULL;
    tfm_safetensors *st = NULL;
    volatile unsigned sink = 0;
    int64_t i, n;
    if (tfm_ctx_create(NULL, &ctx) != TFM_OK) return 0;
    if (tfm_safetensors_open_memory(ctx, data, size, "fuzz.safetensors", &st) != TFM_OK) {
        if (strlen(tfm_ctx_last_error(ctx)) == 0) __builtin_trap();
        tfm_ctx_free(ctx);
        return 0;
    }
    n = tfm_safetensors_count(st);
    for (i = 0; i < n; i++) {
        tfm_safetensors_info info = tfm_safetensors_info_default();
        tfm_tensor t;
        const char *name = tfm_safetensors_name(st, i);
        if (tfm_safetensors_info_at(st, i, &info) != TFM_OK) __builtin_trap();
        if (tfm_safetensors_find(st, name) != i) __builtin_trap();
        if (info.nbytes) {
            const uint8_t *p = (const uint8_t *)info.data;
            if (p < data || p + info.nbytes > data + size) __builtin_trap();
            sink += p[0] + p[info.nbytes - 1];
        }
        if (tfm_safetensors_get(ctx, st, name, &t) == TFM_OK) {
            size_t bytes = (size_t)tfm_tensor_numel(&t) * tfm_dtype_size((tfm_dtype)t.dtype);
            if (bytes != info.nbytes)
                __builtin_trap();
            sink += ((const uint8_t *)t.data)[bytes - 1];
        }
        tfm_safetensors_get_prefixed(ctx, st, prefixes, 2, name, &t);
    }
    for (i = 0; i < tfm_safetensors_metadata_count(st); i++) {
        const char *k = tfm_safetensors_metadata_key(st, i);
        const char *v = tfm_safetensors_metadata_get(st, k);
        if (!v) __builtin_trap();
        sink += (unsigned)strlen(v);
    }
    (void)sink;
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
    return 0;
}
