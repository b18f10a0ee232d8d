/*
 * Writing safetensors files (internal API): tfm_model_quantize's output.
 */
#ifndef TFM_IO_ST_WRITE_H
#define TFM_IO_ST_WRITE_H

#include "../core/internal.h"

// One tensor: its name, safetensors dtype ("F32", "F16", "BF16", "U8"...),
// shape and bytes (borrowed).
typedef struct tfm__st_entry {
    const char *name;
    const char *dtype;
    int ndim;
    int64_t shape[4];
    const void *data;
    size_t bytes;
} tfm__st_entry;

// Writes the n tensors, in order, and the metadata (n_meta key, value
// pairs: meta[2i], meta[2i + 1]) to path (replaced if it exists): the data
// 64-byte aligned in the file. TFM_ERR_NOMEM, TFM_ERR_IO (a message naming
// the path), TFM_ERR_NOT_FOUND (its folder does not exist).
tfm_status tfm__st_write(tfm_ctx *ctx, const char *path, const tfm__st_entry *e, int64_t n,
                         const char *const *meta, int n_meta);

#endif /* TFM_IO_ST_WRITE_H */
