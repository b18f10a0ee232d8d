/*
 * llama2.c checkpoints (internal API): the header and the fp32 weight
 * arrays of a ".bin" file, pointed into the file's image (src/io/llama2c.c
 * has the layouts). A file format only: src/models/llama2c.c builds the
 * model from it.
 *
 * Legend of dimension letters in shape comments:
 *   V vocab_size, D dim, F hidden_dim, L n_layers,
 *   KV n_kv_heads * (dim / n_heads).
 */
#ifndef TFM_IO_LLAMA2C_H
#define TFM_IO_LLAMA2C_H

#include "../core/internal.h"

typedef struct tfm__llama2c_file {
    int version;                 // 0 (legacy) or 1
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier;       // 1: wcls is token_embedding
    void *data;                  // the file's image from tfm__file_map, size bytes
    size_t size;
    int mapped;
    const float *token_embedding; // [V, D]
    const float *rms_att;        // [L, D]
    const float *rms_ffn;        // [L, D]
    const float *rms_final;      // [D]
    const float *wq;             // [L, D, D]
    const float *wk;             // [L, KV, D]
    const float *wv;             // [L, KV, D]
    const float *wo;             // [L, D, D]
    const float *w1;             // [L, F, D]
    const float *w2;             // [L, D, F]
    const float *w3;             // [L, F, D]
    const float *wcls;           // [V, D]
} tfm__llama2c_file;

// Maps the checkpoint at `path` (reads it with use_mmap 0 or where mmap is
// unavailable) and reads its header into *f: version, the 7 sizes (each in
// [1, 2^24], vocab_size made positive, dim a multiple of n_heads) and the
// classifier flag; the weight pointers stay NULL. A bad header is
// TFM_ERR_FORMAT, a version other than 0 and 1 TFM_ERR_UNSUPPORTED, file
// errors as tfm__file_map; messages name the path. On success f holds the
// image: release it with tfm__llama2c_close, or hand data, size and mapped
// to an owner that releases them with tfm__file_unmap. On failure f is
// zeroed and holds nothing.
tfm_status tfm__llama2c_open(tfm_ctx *ctx, const char *path, int use_mmap,
                             tfm__llama2c_file *f);

// Checks that the file opened by tfm__llama2c_open (from `path`, for
// messages) has exactly the bytes its header implies (TFM_ERR_FORMAT;
// TFM_ERR_RANGE when that size overflows) and points the weight arrays
// into the image.
tfm_status tfm__llama2c_weights(tfm_ctx *ctx, const char *path, tfm__llama2c_file *f);

// Releases the image f holds and zeroes f.
void tfm__llama2c_close(tfm_ctx *ctx, tfm__llama2c_file *f);

#endif /* TFM_IO_LLAMA2C_H */
