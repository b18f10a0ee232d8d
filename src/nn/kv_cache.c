/*
 * KV cache: keys and values of every attention layer of a decoding stream.
 *
 * Layout per tensor (K and V alike): [L, Bmax, max_seq, Hkv, Dh]. One
 * position of one sequence is a row of Hkv*Dh floats, which is exactly a row
 * of the K/V projection's output, so the projection writes new positions
 * straight into the cache, and attention reads it through strided views.
 */
#include "nn.h"

#include <string.h>

void tfm_kv_cache_params_init(tfm_kv_cache_params *dst, size_t struct_size) {
    tfm_kv_cache_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.n_layers = 1;
    p.max_batch = 1;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

tfm_status tfm_kv_cache_create(tfm_ctx *ctx, const tfm_kv_cache_params *params,
                               tfm_kv_cache **out) {
    tfm_kv_cache *c;
    tfm_kv_cache_params pc = tfm_kv_cache_params_default();
    tfm_status st;
    int64_t n;
    size_t bytes;
    if (out) *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!params || !out)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "kv_cache: params or out is NULL");
    if ((st = TFM__PARAMS_READ(ctx, pc, params, "kv_cache: params"))) return st;
    params = &pc;
    if (params->n_layers < 1 || params->max_batch < 1 || params->n_kv_heads < 1 ||
        params->head_dim < 1 || params->max_seq < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "kv_cache: n_layers %lld, max_batch %lld, n_kv_heads %lld, head_dim "
                        "%lld and max_seq %lld must all be >= 1",
                        (long long)params->n_layers, (long long)params->max_batch,
                        (long long)params->n_kv_heads, (long long)params->head_dim,
                        (long long)params->max_seq);
    if (!tfm__mul_i64(params->n_layers, params->max_batch, &n) ||
        !tfm__mul_i64(n, params->max_seq, &n) || !tfm__mul_i64(n, params->n_kv_heads, &n) ||
        !tfm__mul_i64(n, params->head_dim, &n) ||
        !tfm__mul_size((size_t)n, sizeof(float), &bytes))
        return tfm__err(ctx, TFM_ERR_RANGE, "kv_cache: size overflows");
    c = (tfm_kv_cache *)tfm__alloc(ctx, sizeof *c);
    if (!c) return tfm__err(ctx, TFM_ERR_NOMEM, "kv_cache: out of memory");
    c->ctx = ctx;
    c->p = pc;
    c->bytes = bytes;
    c->k = (float *)tfm__alloc_nozero(ctx, bytes);
    c->v = c->k ? (float *)tfm__alloc_nozero(ctx, bytes) : NULL;
    c->len = (int64_t *)tfm__alloc(ctx, (size_t)params->n_layers * sizeof(int64_t));
    c->batch = (int64_t *)tfm__alloc(ctx, (size_t)params->n_layers * sizeof(int64_t));
    if (!c->k || !c->v || !c->len || !c->batch) {
        tfm_kv_cache_free(c);
        return tfm__err(ctx, TFM_ERR_NOMEM, "kv_cache: out of memory, cannot allocate 2 x %zu bytes", bytes);
    }
    *out = c;
    return TFM_OK;
}

void tfm_kv_cache_free(tfm_kv_cache *c) {
    tfm_ctx *ctx;
    if (!c) return;
    ctx = c->ctx;
    if (c->k) tfm__free(ctx, c->k, c->bytes);
    if (c->v) tfm__free(ctx, c->v, c->bytes);
    if (c->len) tfm__free(ctx, c->len, (size_t)c->p.n_layers * sizeof(int64_t));
    if (c->batch) tfm__free(ctx, c->batch, (size_t)c->p.n_layers * sizeof(int64_t));
    if (c->tmp) tfm__free(ctx, c->tmp, c->tmp_bytes);
    tfm__free(ctx, c, sizeof *c);
}

int64_t tfm_kv_cache_len(const tfm_kv_cache *c, int64_t layer) {
    if (!c || layer < 0 || layer >= c->p.n_layers) return 0;
    return c->len[layer];
}

void tfm_kv_cache_reset(tfm_kv_cache *c) { tfm_kv_cache_truncate(c, 0); }

void tfm_kv_cache_truncate(tfm_kv_cache *c, int64_t len) {
    int64_t l;
    if (!c) return;
    if (len < 0) len = 0;
    for (l = 0; l < c->p.n_layers; l++) {
        if (c->len[l] > len) c->len[l] = len;
        if (c->len[l] == 0) c->batch[l] = 0;
    }
}

float *tfm__kv_ptr(const tfm_kv_cache *c, int which_v, int64_t layer, int64_t b) {
    int64_t row = c->p.n_kv_heads * c->p.head_dim;
    int64_t off = ((layer * c->p.max_batch + b) * c->p.max_seq) * row;
    return (which_v ? c->v : c->k) + off;
}

tfm_status tfm_kv_cache_reorder(tfm_ctx *ctx, tfm_kv_cache *c, const int32_t *src,
                                int64_t n) {
    int64_t l, b, cur = 0, rowbytes;
    float *tmp;
    size_t tbytes, used_max = 0;
    int w;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!c || !src) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "kv_cache_reorder: NULL argument");
    if (n < 1 || n > c->p.max_batch)
        return tfm__err(ctx, TFM_ERR_RANGE, "kv_cache_reorder: n %lld outside [1, %lld]",
                        (long long)n, (long long)c->p.max_batch);
    rowbytes = c->p.n_kv_heads * c->p.head_dim * (int64_t)sizeof(float);
    // The batch the cache holds now (the largest over its filled layers).
    for (l = 0; l < c->p.n_layers; l++)
        if (c->len[l] > 0) {
            if (c->batch[l] > cur) cur = c->batch[l];
            if ((size_t)(c->len[l] * rowbytes) > used_max) used_max = (size_t)(c->len[l] * rowbytes);
        }
    if (cur == 0) cur = c->p.max_batch; // empty: nothing to move, indices still checked
    for (b = 0; b < n; b++)
        if (src[b] < 0 || src[b] >= cur)
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "kv_cache_reorder: src[%lld] = %d is outside the %lld sequences held",
                            (long long)b, (int)src[b], (long long)cur);
    if (used_max == 0) return TFM_OK;
    // A copy of the current sequences (their used rows), then n gathers,
    // through a buffer for the largest reorder the cache can need.
    tbytes = (size_t)c->p.max_batch * (size_t)c->p.max_seq * (size_t)rowbytes;
    if (!c->tmp) {
        if (!(c->tmp = tfm__alloc_nozero(ctx, tbytes)))
            return tfm__err(ctx, TFM_ERR_NOMEM, "kv_cache_reorder: out of memory");
        c->tmp_bytes = tbytes;
    }
    tmp = (float *)c->tmp;
    for (l = 0; l < c->p.n_layers; l++) {
        size_t used = (size_t)(c->len[l] * rowbytes);
        if (!used) continue;
        for (w = 0; w < 2; w++) {
            for (b = 0; b < c->batch[l]; b++)
                memcpy((char *)tmp + (size_t)b * used_max, tfm__kv_ptr(c, w, l, b), used);
            for (b = 0; b < n; b++)
                memcpy(tfm__kv_ptr(c, w, l, b), (char *)tmp + (size_t)src[b] * used_max, used);
        }
        c->batch[l] = n;
    }
    return TFM_OK;
}
