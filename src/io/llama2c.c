/*
 * llama2.c checkpoints (".bin"): the legacy version-0 layout and the
 * versioned version-1 fp32 layout, memory-mapped and pointed into (see
 * llama2c.h).
 *
 * Version 0: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means a separate
 * classifier), then fp32 arrays: token_embedding [V, D], rms_att [L, D],
 * wq [L, D, D], wk [L, KV, D], wv [L, KV, D], wo [L, D, D], rms_ffn [L, D],
 * w1 [L, F, D], w2 [L, D, F], w3 [L, F, D], rms_final [D], freq_cis_real and
 * freq_cis_imag [T, E/2] each (unused), then wcls [V, D] when not shared.
 *
 * Version 1: a 256-byte header: uint32 magic 0x616b3432 ("ak42"), int32
 * version 1, the same 7 int32 (vocab positive), uint8 shared_classifier,
 * zero padding. Then fp32: rms_att [L, D], rms_ffn [L, D], rms_final [D],
 * token_embedding [V, D], wq, wk, wv, wo, w1, w2, w3 (each [L, ...] as
 * above), then wcls [V, D] when not shared.
 *
 * T is seq_len and E the head width dim / n_heads.
 */
#include "llama2c.h"
#include "file.h"

#include <string.h>

static int32_t rd_i32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    return (int32_t)v;
}

#define L2C_MAGIC 0x616b3432u
#define L2C_V1_HEADER 256

// ---- the header ---------------------------------------------------------------------

static tfm_status read_header(tfm_ctx *ctx, const char *path, tfm__llama2c_file *f) {
    static const char *names[7] = {"dim", "hidden_dim", "n_layers", "n_heads",
                                   "n_kv_heads", "vocab_size", "seq_len"};
    const unsigned char *b = (const unsigned char *)f->data;
    size_t size = f->size;
    int32_t hdr[7];
    int l;

    if (size == 0) return tfm__err(ctx, TFM_ERR_FORMAT, "%s: empty file", path);
    if (size < 28)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "llama2.c: %s: truncated header (%zu bytes, need 28)", path, size);
    if ((uint32_t)rd_i32(b) == L2C_MAGIC) {
        if (size < L2C_V1_HEADER)
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "llama2.c: %s: truncated version-1 header (%zu bytes, need %d)",
                            path, size, L2C_V1_HEADER);
        f->version = rd_i32(b + 4);
        if (f->version != 1)
            return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                            "llama2.c: %s: checkpoint version %d (only 0 and 1, fp32, are supported)",
                            path, f->version);
        for (l = 0; l < 7; l++) hdr[l] = rd_i32(b + 8 + 4 * l);
        f->shared_classifier = b[36];
        if (f->shared_classifier > 1)
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "llama2.c: %s: shared_classifier flag is %d (0 or 1)", path,
                            f->shared_classifier);
        if (hdr[5] <= 0)
            return tfm__err(ctx, TFM_ERR_FORMAT, "llama2.c: %s: vocab_size %d must be positive",
                            path, (int)hdr[5]);
    } else {
        f->version = 0;
        for (l = 0; l < 7; l++) hdr[l] = rd_i32(b + 4 * l);
        f->shared_classifier = hdr[5] > 0;
        if (hdr[5] < 0 && hdr[5] > INT32_MIN) hdr[5] = -hdr[5]; // INT32_MIN stays: rejected
    }
    for (l = 0; l < 7; l++)
        if (hdr[l] <= 0 || hdr[l] > (1 << 24))
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "llama2.c: %s: header field %s = %d is out of range", path,
                            names[l], (int)hdr[l]);
    f->dim = hdr[0];
    f->hidden_dim = hdr[1];
    f->n_layers = hdr[2];
    f->n_heads = hdr[3];
    f->n_kv_heads = hdr[4];
    f->vocab_size = hdr[5];
    f->seq_len = hdr[6];
    if (f->dim % f->n_heads != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "llama2.c: %s: dim %d is not a multiple of n_heads %d", path,
                        (int)f->dim, (int)f->n_heads);
    return TFM_OK;
}

tfm_status tfm__llama2c_open(tfm_ctx *ctx, const char *path, int use_mmap,
                             tfm__llama2c_file *f) {
    tfm_status st;
    memset(f, 0, sizeof *f);
    st = tfm__file_map(ctx, path, NULL, use_mmap ? TFM__FILE_MMAP : TFM__FILE_READ,
                       &f->data, &f->size, &f->mapped);
    if (!st) st = read_header(ctx, path, f);
    if (st) tfm__llama2c_close(ctx, f);
    return st;
}

void tfm__llama2c_close(tfm_ctx *ctx, tfm__llama2c_file *f) {
    tfm__file_unmap(ctx, f->data, f->size, f->mapped);
    memset(f, 0, sizeof *f);
}

// ---- the weights --------------------------------------------------------------------

tfm_status tfm__llama2c_weights(tfm_ctx *ctx, const char *path, tfm__llama2c_file *f) {
    int64_t D = f->dim, F = f->hidden_dim, L = f->n_layers, V = f->vocab_size,
            T = f->seq_len, E = f->dim / f->n_heads;
    int64_t KV = (int64_t)f->n_kv_heads * E;
    size_t off = f->version == 0 ? 28 : L2C_V1_HEADER, need;
    const float *p;
    // Floats, computed in 64 bits (each factor < 2^24, at most 3 factors ->
    // could reach 2^72: check with the overflow helpers).
    {
        int64_t t = 0, total = 0, per_layer = 0;
        int64_t parts[4];
        int i, ok = 1;
        parts[0] = 2 * D;                              // rms_att, rms_ffn
        ok = ok && tfm__mul_i64(2 * D, D, &parts[1]);  // wq, wo
        ok = ok && tfm__mul_i64(2 * KV, D, &parts[2]); // wk, wv
        ok = ok && tfm__mul_i64(3 * F, D, &parts[3]);  // w1, w2, w3
        for (i = 0; ok && i < 4; i++) per_layer += parts[i];
        ok = ok && tfm__mul_i64(per_layer, L, &total);
        ok = ok && tfm__mul_i64(V, D, &t);
        total += t * (f->shared_classifier ? 1 : 2) + D;
        if (f->version == 0) total += T * E; // freq_cis real + imag: 2 * T * E/2
        ok = ok && total > 0 && total < (int64_t)1 << 60;
        if (!ok || !tfm__mul_size((size_t)total, 4, &need) || need > SIZE_MAX - off)
            return tfm__err(ctx, TFM_ERR_RANGE, "llama2.c: %s: weights too large", path);
        need += off;
    }
    if (f->size < need)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "llama2.c: %s: truncated: the header (dim %d, hidden_dim %d, "
                        "n_layers %d, vocab %d, seq_len %d) needs %zu bytes, the file has %zu",
                        path, (int)D, (int)F, (int)L, (int)V, (int)T, need, f->size);
    if (f->size > need)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "llama2.c: %s: the header (dim %d, hidden_dim %d, n_layers %d, "
                        "vocab %d, seq_len %d%s) needs %zu bytes but the file has %zu",
                        path, (int)D, (int)F, (int)L, (int)V, (int)T,
                        f->shared_classifier ? ", shared classifier" : ", separate classifier",
                        need, f->size);

    p = (const float *)((const unsigned char *)f->data + off);
    if (f->version == 0) {
        f->token_embedding = p; p += V * D;
        f->rms_att = p; p += L * D;
        f->wq = p; p += L * D * D;
        f->wk = p; p += L * KV * D;
        f->wv = p; p += L * KV * D;
        f->wo = p; p += L * D * D;
        f->rms_ffn = p; p += L * D;
        f->w1 = p; p += L * F * D;
        f->w2 = p; p += L * D * F;
        f->w3 = p; p += L * F * D;
        f->rms_final = p; p += D;
        p += T * E; // freq_cis_real, freq_cis_imag
    } else {
        f->rms_att = p; p += L * D;
        f->rms_ffn = p; p += L * D;
        f->rms_final = p; p += D;
        f->token_embedding = p; p += V * D;
        f->wq = p; p += L * D * D;
        f->wk = p; p += L * KV * D;
        f->wv = p; p += L * KV * D;
        f->wo = p; p += L * D * D;
        f->w1 = p; p += L * F * D;
        f->w2 = p; p += L * D * F;
        f->w3 = p; p += L * F * D;
    }
    f->wcls = f->shared_classifier ? f->token_embedding : p;
    return TFM_OK;
}
