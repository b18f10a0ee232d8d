/*
 * llama2.c checkpoints (".bin"): the legacy version-0 layout and the
 * versioned version-1 fp32 layout, memory-mapped and pointed into.
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
 * Both: pre-norm RMSNorm (eps 1e-5), rotary positions on consecutive pairs
 * (theta 10000), grouped-query attention, SwiGLU w2(silu(w1 x) * w3 x).
 */
#include "../models/model.h"
#include "file.h"

#include <string.h>

// ---- the checkpoint ---------------------------------------------------------------------

static int32_t rd_i32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    return (int32_t)v;
}

#define L2C_MAGIC 0x616b3432u
#define L2C_V1_HEADER 256

tfm_status tfm__llama2c_load(tfm_ctx *ctx, const char *path, int use_mmap,
                             tfm_model *m) {
    void *data;
    size_t size, off, need;
    int mapped, version, shared, l;
    int32_t hdr[7];
    const unsigned char *b;
    const float *p;
    tfm__dec_config *c = &m->cfg;
    tfm_status st;
    int64_t D, F, L, KV, V, T, E, per_layer;
    const float *rms_att, *rms_ffn, *wq, *wk, *wv, *wo, *w1, *w2, *w3;

    if ((st = tfm__file_map(ctx, path, NULL, use_mmap ? TFM__FILE_MMAP : TFM__FILE_READ,
                            &data, &size, &mapped)))
        return st;
    if ((st = tfm__model_own(m, data, size, mapped))) {
        tfm__file_unmap(ctx, data, size, mapped);
        return st;
    }
    b = (const unsigned char *)data;
    if (size == 0) return tfm__err(ctx, TFM_ERR_FORMAT, "%s: empty file", path);
    if (size < 28)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "llama2.c: %s: truncated header (%zu bytes, need 28)", path, size);
    if ((uint32_t)rd_i32(b) == L2C_MAGIC) {
        if (size < L2C_V1_HEADER)
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "llama2.c: %s: truncated version-1 header (%zu bytes, need %d)",
                            path, size, L2C_V1_HEADER);
        version = rd_i32(b + 4);
        if (version != 1)
            return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                            "llama2.c: %s: checkpoint version %d (only 0 and 1, fp32, are supported)",
                            path, version);
        for (l = 0; l < 7; l++) hdr[l] = rd_i32(b + 8 + 4 * l);
        shared = b[36];
        if (shared > 1)
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "llama2.c: %s: shared_classifier flag is %d (0 or 1)", path, shared);
        if (hdr[5] <= 0)
            return tfm__err(ctx, TFM_ERR_FORMAT, "llama2.c: %s: vocab_size %d must be positive",
                            path, (int)hdr[5]);
        off = L2C_V1_HEADER;
    } else {
        version = 0;
        for (l = 0; l < 7; l++) hdr[l] = rd_i32(b + 4 * l);
        shared = hdr[5] > 0;
        if (hdr[5] < 0) hdr[5] = -hdr[5];
        off = 28;
    }
    memset(c, 0, sizeof *c);
    c->arch = TFM__ARCH_LLAMA;
    c->dim = hdr[0];
    c->hidden = hdr[1];
    c->n_layers = hdr[2];
    c->n_heads = hdr[3];
    c->n_kv_heads = hdr[4];
    c->vocab = hdr[5];
    c->max_ctx = hdr[6];
    {
        static const char *names[7] = {"dim", "hidden_dim", "n_layers", "n_heads",
                                       "n_kv_heads", "vocab_size", "seq_len"};
        for (l = 0; l < 7; l++)
            if (hdr[l] <= 0 || hdr[l] > (1 << 24))
                return tfm__err(ctx, TFM_ERR_FORMAT,
                                "llama2.c: %s: header field %s = %d is out of range", path,
                                names[l], (int)hdr[l]);
    }
    if (c->n_heads <= 0 || c->dim % c->n_heads != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "llama2.c: %s: dim %d is not a multiple of n_heads %d", path,
                        (int)c->dim, (int)c->n_heads);
    c->head_dim = c->dim / c->n_heads;
    c->norm_eps = 1e-5f;
    c->rms = 1;
    c->rope = 1;
    c->rope_neox = 0;
    c->rope_f32 = 1;
    c->rope_theta = 10000.0;
    c->gated = 1;
    c->act = TFM_ACT_SILU;
    c->bos = 1;
    c->eos = 2;
    c->stop = 1; // llama2.c's run stops when the model starts a new text (BOS)
    c->add_bos = 1;
    if ((st = tfm__dec_config_check(ctx, c, path))) return st;

    D = c->dim; F = c->hidden; L = c->n_layers; V = c->vocab; T = c->max_ctx;
    E = c->head_dim;
    KV = (int64_t)c->n_kv_heads * E;
    // Floats, computed in 64 bits (each factor < 2^24, at most 3 factors ->
    // could reach 2^72: check with the overflow helpers).
    {
        int64_t t = 0, total = 0;
        int64_t parts[6];
        int i, ok = 1;
        per_layer = 0;
        parts[0] = 2 * D;                              // rms_att, rms_ffn
        ok = ok && tfm__mul_i64(2 * D, D, &parts[1]);  // wq, wo
        ok = ok && tfm__mul_i64(2 * KV, D, &parts[2]); // wk, wv
        ok = ok && tfm__mul_i64(3 * F, D, &parts[3]);  // w1, w2, w3
        parts[4] = parts[5] = 0;
        for (i = 0; ok && i < 4; i++) per_layer += parts[i];
        ok = ok && tfm__mul_i64(per_layer, L, &total);
        ok = ok && tfm__mul_i64(V, D, &t);
        total += t * (shared ? 1 : 2) + D;
        if (version == 0) total += T * E; // freq_cis real + imag: 2 * T * E/2
        ok = ok && total > 0 && total < (int64_t)1 << 60;
        if (!ok || !tfm__mul_size((size_t)total, 4, &need) || need > SIZE_MAX - off)
            return tfm__err(ctx, TFM_ERR_RANGE, "llama2.c: %s: weights too large", path);
        need += off;
    }
    if (size < need)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "llama2.c: %s: truncated: the header (dim %d, hidden_dim %d, "
                        "n_layers %d, vocab %d, seq_len %d) needs %zu bytes, the file has %zu",
                        path, (int)D, (int)F, (int)L, (int)V, (int)T, need, size);
    if (size > need)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "llama2.c: %s: the header (dim %d, hidden_dim %d, n_layers %d, "
                        "vocab %d, seq_len %d%s) needs %zu bytes but the file has %zu",
                        path, (int)D, (int)F, (int)L, (int)V, (int)T,
                        shared ? ", shared classifier" : ", separate classifier", need, size);

    p = (const float *)(b + off);
    if (version == 0) {
        m->tok_emb = p; p += V * D;
        rms_att = p; p += L * D;
        wq = p; p += L * D * D;
        wk = p; p += L * KV * D;
        wv = p; p += L * KV * D;
        wo = p; p += L * D * D;
        rms_ffn = p; p += L * D;
        w1 = p; p += L * F * D;
        w2 = p; p += L * D * F;
        w3 = p; p += L * F * D;
        m->norm_g = p; p += D;
        p += T * E; // freq_cis_real, freq_cis_imag
    } else {
        rms_att = p; p += L * D;
        rms_ffn = p; p += L * D;
        m->norm_g = p; p += D;
        m->tok_emb = p; p += V * D;
        wq = p; p += L * D * D;
        wk = p; p += L * KV * D;
        wv = p; p += L * KV * D;
        wo = p; p += L * D * D;
        w1 = p; p += L * F * D;
        w2 = p; p += L * D * F;
        w3 = p; p += L * F * D;
    }
    m->layers = (tfm__dec_layer *)tfm__model_alloc(m, (size_t)L * sizeof *m->layers);
    if (!m->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "llama2.c: out of memory");
    for (l = 0; l < L; l++) {
        tfm__dec_layer *ly = &m->layers[l];
        tfm__linear lin;
        memset(&lin, 0, sizeof lin);
        lin.wt = 1;
        ly->norm1_g = rms_att + l * D;
        ly->norm2_g = rms_ffn + l * D;
        lin.n_in = D; lin.n_out = D; lin.ld = D;
        lin.w = wq + l * D * D; ly->q = lin;
        lin.w = wo + l * D * D; ly->o = lin;
        lin.n_out = KV;
        lin.w = wk + l * KV * D; ly->k = lin;
        lin.w = wv + l * KV * D; ly->v = lin;
        lin.n_out = F;
        lin.w = w1 + l * F * D; ly->gate = lin;
        lin.w = w3 + l * F * D; ly->up = lin;
        lin.n_in = F; lin.n_out = D; lin.ld = F;
        lin.w = w2 + l * D * F; ly->down = lin;
    }
    memset(&m->lm_head, 0, sizeof m->lm_head);
    m->lm_head.w = shared ? m->tok_emb : p;
    m->lm_head.n_in = D;
    m->lm_head.n_out = V;
    m->lm_head.ld = D;
    m->lm_head.wt = 1;
    return TFM_OK;
}
