/*
 * Parameter structs across library versions.
 *
 * Every public parameter struct starts with `size_t struct_size` and only
 * grows at its end. tfm_X_init writes the defaults into the caller's struct
 * without ever going past the caller's size (tfm__params_init), and every
 * function that takes such a struct reads only the caller's struct_size
 * bytes over its own defaults (tfm__params_read).
 *
 * Output structs the library fills for the caller (tfm_gen_stats,
 * tfm_safetensors_info) start with the same field, set by the caller: the
 * library writes at most that many bytes of it (tfm__out_write).
 */
#include "internal.h"

#include <string.h>

void tfm__params_init(void *dst, size_t dst_size, const void *def,
                      size_t def_size) {
    size_t n;
    if (!dst || dst_size < sizeof(size_t)) return;
    n = dst_size < def_size ? dst_size : def_size;
    memcpy(dst, def, n);
    // A caller newer than the library: its extra fields become zero (the
    // library does not read them: struct_size says n).
    if (dst_size > n) memset((char *)dst + n, 0, dst_size - n);
    memcpy(dst, &n, sizeof n);
}

tfm_status tfm__params_read(tfm_ctx *ctx, void *dst, size_t dst_size,
                            const void *src, const char *what) {
    size_t n;
    if (!src) return TFM_OK;
    memcpy(&n, src, sizeof n);
    if (n < sizeof(size_t) || n > dst_size)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "%s: struct_size %zu is not a size this library "
                        "reads (%zu to %zu bytes; fill the struct with its "
                        "_init or _default function)",
                        what, n, sizeof(size_t), dst_size);
    memcpy(dst, src, n);
    memcpy(dst, &dst_size, sizeof dst_size);
    return TFM_OK;
}

tfm_status tfm__out_write(void *dst, const void *src, size_t src_size) {
    size_t n;
    memcpy(&n, dst, sizeof n);
    if (n < sizeof(size_t)) return TFM_ERR_INVALID_ARG;
    if (n > src_size) n = src_size;
    memcpy(dst, src, n);
    memcpy(dst, &n, sizeof n);
    return TFM_OK;
}
