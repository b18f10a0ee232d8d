/*
 * Multi-head attention: projections (weight matrices, ops/linear.c), RoPE,
 * the attention core and the output projection; grouped-query and
 * multi-query attention, cross-attention and the KV cache.
 *
 * Letters: B batch, Sq queries, Sk keys, Sm memory positions, D model width,
 * H query heads, Hkv key/value heads, Dh head width.
 * Buffers of one forward (from the arena):
 *   q   [B, Sq, H*Dh]     query projection (then RoPE)
 *   k,v [B, Sk, Hkv*Dh]   key/value projections when there is no cache
 *                         (with a cache they are written into it)
 *   c   [B, Sq, H*Dh]     attention output, heads side by side
 *   rope and attention scratch
 */
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void tfm_mha_params_init(tfm_mha_params *dst, size_t struct_size) {
    tfm_mha_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.rope_theta = 10000.0f;
    p.prepack = 1;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

void tfm_mha_weights_init(tfm_mha_weights *dst, size_t struct_size) {
    tfm_mha_weights w;
    memset(&w, 0, sizeof w);
    w.struct_size = sizeof w;
    tfm__params_init(dst, struct_size, &w, sizeof w);
}

// ---- create ------------------------------------------------------------------------

static void mha_release(tfm_mha *m) {
    tfm_ctx *ctx = m->ctx;
    int i;
    for (i = 0; i < 4; i++) tfm__linear_release(&m->lin[i]);
    if (m->slopes) tfm__free(ctx, m->slopes, (size_t)m->H * sizeof(float));
    tfm__free(ctx, m, sizeof *m);
}

tfm_status tfm_mha_create(tfm_ctx *ctx, const tfm_mha_params *params,
                          const tfm_mha_weights *weights, tfm_mha **out) {
    const char *op = "mha";
    tfm_mha_params p;
    tfm_mha_weights w;
    tfm_mha *m;
    int64_t H, Hkv, Dh, D, kdim, vdim;
    tfm_status st;
    int i;
    if (out) *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!params || !weights || !out)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: params, weights or out is NULL");
    p = tfm_mha_params_default();
    w = tfm_mha_weights_default();
    if ((st = TFM__PARAMS_READ(ctx, p, params, "mha: params")) ||
        (st = TFM__PARAMS_READ(ctx, w, weights, "mha: weights")))
        return st;
    D = p.d_model;
    H = p.n_heads;
    if (D < 1 || H < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: d_model %lld and n_heads %lld must be >= 1",
                        (long long)D, (long long)H);
    Hkv = p.n_kv_heads ? p.n_kv_heads : H;
    if (Hkv < 1 || H % Hkv != 0)
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "mha: n_heads %lld is not a multiple of n_kv_heads %lld",
                        (long long)H, (long long)Hkv);
    if (p.head_dim) Dh = p.head_dim;
    else if (D % H != 0)
        return tfm__err(ctx, TFM_ERR_SHAPE, "mha: n_heads %lld does not divide d_model %lld",
                        (long long)H, (long long)D);
    else Dh = D / H;
    if (Dh < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: head_dim %lld < 1", (long long)Dh);
    kdim = p.kdim ? p.kdim : D;
    vdim = p.vdim ? p.vdim : D;
    if (kdim < 1 || vdim < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: kdim/vdim must be >= 1");
    if (p.rope != TFM_ROPE_NONE) {
        int64_t r = p.rope_dim ? p.rope_dim : Dh;
        if (p.rope != TFM_ROPE_PAIRS && p.rope != TFM_ROPE_HALF)
            return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: unknown rope layout %d", (int)p.rope);
        if (r < 2 || r > Dh || r % 2)
            return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                            "mha: rope_dim %lld must be even and in [2, head_dim %lld]",
                            (long long)r, (long long)Dh);
        if (!(p.rope_theta > 0.0f))
            return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: rope_theta %g must be > 0",
                            p.rope_theta);
        p.rope_dim = r;
    }
    if (!p.rope_cos != !p.rope_sin || (p.rope_cos && (p.rope == TFM_ROPE_NONE ||
                                                      p.rope_positions < 1)))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "mha: rope_cos and rope_sin go together, with rope set and "
                        "rope_positions %lld >= 1", (long long)p.rope_positions);
    if (p.attn_serial_below < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: attn_serial_below %lld < 0",
                        (long long)p.attn_serial_below);
    if (p.scale != 0.0f && !isfinite(p.scale))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: scale is not finite");
    m = (tfm_mha *)tfm__alloc(ctx, sizeof *m);
    if (!m) return tfm__err(ctx, TFM_ERR_NOMEM, "mha: out of memory");
    m->ctx = ctx;
    if (w.wqkv) {
        // Fused: rows q | k | v of one [(H + 2 Hkv) Dh, D] matrix (or its
        // transpose), seen as three maps.
        tfm__linear f;
        if (kdim != D || vdim != D) {
            mha_release(m);
            return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                            "mha: a fused wqkv needs kdim == vdim == d_model");
        }
        if ((st = tfm__linear_init(ctx, &f, w.wqkv, w.bqkv, D, (H + 2 * Hkv) * Dh, w.in_out,
                                   op, "wqkv", "bqkv"))) {
            mha_release(m);
            return st;
        }
        m->lin[0] = tfm__linear_slice(&f, 0, H * Dh);
        m->lin[1] = tfm__linear_slice(&f, H * Dh, Hkv * Dh);
        m->lin[2] = tfm__linear_slice(&f, (H + Hkv) * Dh, Hkv * Dh);
    } else if ((st = tfm__linear_init(ctx, &m->lin[0], w.wq, w.bq, D, H * Dh, w.in_out, op,
                                      "wq", "bq")) ||
               (st = tfm__linear_init(ctx, &m->lin[1], w.wk, w.bk, kdim, Hkv * Dh, w.in_out,
                                      op, "wk", "bk")) ||
               (st = tfm__linear_init(ctx, &m->lin[2], w.wv, w.bv, vdim, Hkv * Dh, w.in_out,
                                      op, "wv", "bv"))) {
        mha_release(m);
        return st;
    }
    if ((st = tfm__linear_init(ctx, &m->lin[3], w.wo, w.bo, H * Dh, D, w.in_out, op, "wo",
                               "bo"))) {
        mha_release(m);
        return st;
    }
    if (p.alibi) {
        m->slopes = (float *)tfm__alloc(ctx, (size_t)H * sizeof(float));
        if (!m->slopes) {
            mha_release(m);
            return tfm__err(ctx, TFM_ERR_NOMEM, "mha: out of memory");
        }
        tfm_alibi_slopes(H, m->slopes);
    }
    // Packed once for the GEMM micro-kernels (16-bit weights always).
    for (i = 0; i < 4; i++)
        if ((p.prepack || m->lin[i].format != TFM__WF_F32) &&
            (st = tfm__linear_pack(ctx, &m->lin[i]))) {
            mha_release(m);
            return st;
        }
    p.struct_size = sizeof p;
    m->p = p;
    m->H = H;
    m->Hkv = Hkv;
    m->Dh = Dh;
    m->kdim = kdim;
    m->vdim = vdim;
    *out = m;
    return TFM_OK;
}

void tfm_mha_free(tfm_mha *m) {
    if (m) mha_release(m);
}

// ---- workspace -----------------------------------------------------------------------

size_t tfm__mha_ws(tfm_ctx *ctx, const tfm_mha *m, int64_t b, int64_t sq, int64_t sk,
                   int gemm) {
    size_t t = 0;
    int64_t nq, nkv;
    if (b < 1 || sq < 1 || sk < 1 || !tfm__mul_i64(b * sq, m->H * m->Dh, &nq) ||
        !tfm__mul_i64(b * sk, m->Hkv * m->Dh, &nkv))
        return SIZE_MAX;
    tfm__ws_add(&t, nq);                                  // q
    tfm__ws_add(&t, nkv);                                 // k
    tfm__ws_add(&t, nkv);                                 // v
    tfm__ws_add(&t, nq);                                  // c
    tfm__ws_add(&t, tfm__rope_scratch(ctx, m->p.rope_dim)); // rope
    tfm__ws_add(&t, tfm__attn_scratch(ctx, sk));          // scores
    if (gemm) { // the projections' packing scratch, on top (one at a time)
        size_t l = 0, s;
        int i;
        for (i = 0; i < 4; i++) {
            s = tfm__linear_ws(ctx, &m->lin[i], b * (i == 1 || i == 2 ? sk : sq));
            if (s > l) l = s;
        }
        if (t == SIZE_MAX || l == SIZE_MAX || t > SIZE_MAX - l) return SIZE_MAX;
        t += l;
    }
    return t;
}

size_t tfm_mha_workspace_size(tfm_ctx *ctx, const tfm_mha *m, int64_t batch, int64_t seq_q,
                              int64_t seq_k) {
    size_t t;
    if (!m) return 0;
    t = tfm__mha_ws(ctx, m, batch, seq_q, seq_k, 1);
    return t == SIZE_MAX ? 0 : t;
}

// ---- forward -------------------------------------------------------------------------

static tfm_status check_x(tfm_ctx *ctx, const tfm_tensor *x, int64_t b, int64_t d,
                          const char *what) {
    tfm_status st;
    char sh[80];
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 3, 3, what))) return st;
    if ((b >= 0 && x->shape[0] != b) || x->shape[2] != d)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s is %s, expected [%s, S, %lld]", what,
                        tfm__shape_str(x, sh, sizeof sh), b >= 0 ? "B" : "B", (long long)d);
    if (x->stride[2] != 1 && d > 1)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s: the last dimension must be contiguous", what);
    return TFM_OK;
}

static tfm_status check_cache(tfm_ctx *ctx, const tfm_mha *m, const tfm_kv_cache *c,
                              int64_t layer, int64_t B) {
    if (c->p.n_kv_heads != m->Hkv || c->p.head_dim != m->Dh)
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "mha: the kv cache holds %lld heads of %lld, the layer has %lld of %lld",
                        (long long)c->p.n_kv_heads, (long long)c->p.head_dim,
                        (long long)m->Hkv, (long long)m->Dh);
    if (layer < 0 || layer >= c->p.n_layers)
        return tfm__err(ctx, TFM_ERR_RANGE, "mha: cache layer %lld outside [0, %lld)",
                        (long long)layer, (long long)c->p.n_layers);
    if (B > c->p.max_batch)
        return tfm__err(ctx, TFM_ERR_RANGE, "mha: batch %lld exceeds the kv cache's max_batch %lld",
                        (long long)B, (long long)c->p.max_batch);
    if (c->len[layer] > 0 && c->batch[layer] != B)
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "mha: batch %lld differs from the %lld sequences in the kv cache layer %lld",
                        (long long)B, (long long)c->batch[layer], (long long)layer);
    return TFM_OK;
}

// Checks that the positions of a call (positions, or those below `end`)
// lie inside the module's rotary tables.
static tfm_status check_table(tfm_ctx *ctx, const tfm_mha *m, const tfm_tensor *pos,
                              int64_t end) {
    int64_t i, n = pos ? tfm_tensor_numel(pos) : 0, last = end - 1;
    for (i = 0; i < n; i++) {
        int64_t p = ((const int32_t *)pos->data)[tfm__elem_offset(pos, i)];
        if (p < 0 || p >= m->p.rope_positions) {
            last = p;
            break;
        }
    }
    if (pos && i == n) return TFM_OK;
    if (last >= 0 && last < m->p.rope_positions) return TFM_OK;
    return tfm__err(ctx, TFM_ERR_RANGE,
                    "mha: position %lld is outside the rotary tables of %lld positions",
                    (long long)last, (long long)m->p.rope_positions);
}

tfm_status tfm__mha_forward(tfm_ctx *ctx, const tfm_mha *m, const tfm_tensor *x,
                            const tfm_tensor *mem, const tfm_tensor *mem_v,
                            const tfm_attn_masks *masks, tfm_kv_cache *cache,
                            int64_t layer, tfm__arena *ar, tfm_tensor *out,
                            tfm_tensor *probs) {
    const int64_t H = m->H, Hkv = m->Hkv, Dh = m->Dh, D = m->p.d_model;
    int cross = m->p.cross || mem != NULL;
    int64_t B, Sq, Sk, past = 0, Snew, kvrow = Hkv * Dh, kvb;
    float *qb, *kb, *vb, *cb, *rs, *as;
    tfm_tensor tq, tk, tv, tc, tqv, tkv, tvv, tcv;
    int64_t sh[4], st4[4];
    tfm_attn_params ap;
    tfm_attn_masks mc;
    tfm__attn at;
    tfm_status st;
    int fill = 0; // projections of keys/values to compute (new rows)

    if ((st = check_x(ctx, x, -1, D, "mha: x"))) return st;
    B = x->shape[0];
    Sq = x->shape[1];
    if ((st = check_x(ctx, out, B, D, "mha: out"))) return st;
    if (out->shape[1] != Sq)
        return tfm__err(ctx, TFM_ERR_SHAPE, "mha: out has %lld positions, x has %lld",
                        (long long)out->shape[1], (long long)Sq);
    if (out->data == x->data || (mem && out->data == mem->data))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: out must not alias x or memory");
    if (masks) {
        mc = tfm_attn_masks_default();
        if ((st = TFM__PARAMS_READ(ctx, mc, masks, "mha: masks"))) return st;
        masks = &mc;
    }
    if (cache && (st = check_cache(ctx, m, cache, layer, B))) return st;

    if (cross) {
        if (cache && cache->len[layer] > 0) {
            Sk = cache->len[layer];
        } else {
            if (!mem)
                return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                                "mha: cross-attention needs a memory (the cache is empty)");
            if ((st = check_x(ctx, mem, B, m->kdim, "mha: memory"))) return st;
            if (mem_v) {
                if ((st = check_x(ctx, mem_v, B, m->vdim, "mha: memory_v"))) return st;
                if (mem_v->shape[1] != mem->shape[1])
                    return tfm__err(ctx, TFM_ERR_SHAPE,
                                    "mha: memory_v has %lld positions, memory %lld",
                                    (long long)mem_v->shape[1], (long long)mem->shape[1]);
            } else if (m->vdim != m->kdim) {
                return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                                "mha: vdim %lld differs from kdim %lld: memory_v is needed",
                                (long long)m->vdim, (long long)m->kdim);
            }
            Sk = mem->shape[1];
            fill = 1;
            if (cache && Sk > cache->p.max_seq)
                return tfm__err(ctx, TFM_ERR_RANGE,
                                "mha: memory of %lld positions does not fit the kv cache (max_seq %lld)",
                                (long long)Sk, (long long)cache->p.max_seq);
        }
        Snew = fill ? Sk : 0;
    } else {
        past = cache ? cache->len[layer] : 0;
        Sk = past + Sq;
        Snew = Sq;
        fill = 1;
        if (cache && Sk > cache->p.max_seq)
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "mha: kv cache full: %lld cached + %lld new positions exceed max_seq %lld",
                            (long long)past, (long long)Sq, (long long)cache->p.max_seq);
    }
    if (masks && !cross && m->p.rope &&
        (st = tfm__check_positions(ctx, masks->positions, B, Sq, "mha: positions")))
        return st;
    if (!cross && m->p.rope_cos && (st = check_table(ctx, m, masks ? masks->positions : NULL,
                                                     past + Sq)))
        return st;

    ap = tfm_attn_params_default();
    ap.scale = m->p.scale;
    ap.causal = !cross && m->p.causal;
    ap.alibi_slopes = cross ? NULL : m->slopes;
    if (masks) {
        ap.masks.key_padding_mask = masks->key_padding_mask;
        ap.masks.attn_mask = masks->attn_mask;
    }

    // ---- buffers
    qb = tfm__arena_f32(ar, B * Sq * H * Dh);
    kb = tfm__arena_f32(ar, cache ? 1 : B * Sk * kvrow);
    vb = tfm__arena_f32(ar, cache ? 1 : B * Sk * kvrow);
    cb = tfm__arena_f32(ar, B * Sq * H * Dh);
    rs = tfm__arena_f32(ar, tfm__rope_scratch(ctx, m->p.rope_dim));
    as = tfm__arena_f32(ar, tfm__attn_scratch(ctx, Sk));
    if (!qb || !kb || !vb || !cb || !rs || !as)
        return tfm__err(ctx, TFM_ERR_RANGE, "mha: workspace too small for this call");
    if (cache) {
        kb = tfm__kv_ptr(cache, 0, layer, 0);
        vb = tfm__kv_ptr(cache, 1, layer, 0);
        kvb = cache->p.max_seq * kvrow;
    } else {
        kvb = Sk * kvrow;
    }

    // ---- attention views (checked before any work is done)
    sh[0] = B; sh[1] = H; sh[2] = Sq; sh[3] = Dh;
    st4[0] = Sq * H * Dh; st4[1] = Dh; st4[2] = H * Dh; st4[3] = 1;
    tfm__view(&tqv, qb, 4, sh, st4);
    tfm__view(&tcv, cb, 4, sh, st4);
    sh[1] = Hkv; sh[2] = Sk;
    st4[0] = kvb; st4[1] = Dh; st4[2] = kvrow;
    tfm__view(&tkv, kb, 4, sh, st4);
    tfm__view(&tvv, vb, 4, sh, st4);
    if ((st = tfm__attn_setup(ctx, &tqv, &tkv, &tvv, &ap, &tcv, probs, "mha", &at))) return st;
    at.par_min = (double)m->p.attn_serial_below;

    // ---- projections
    sh[0] = B; sh[1] = Sq; sh[2] = H * Dh;
    tfm__view_c(&tq, qb, 3, sh);
    if ((st = tfm__linear_apply(ctx, &m->lin[0], x, &tq, ar))) return st;
    if (fill) {
        const tfm_tensor *srck = cross ? mem : x, *srcv = cross ? (mem_v ? mem_v : mem) : x;
        int64_t row0 = cross ? 0 : past;
        sh[0] = B; sh[1] = Snew; sh[2] = kvrow;
        st4[0] = kvb; st4[1] = kvrow; st4[2] = 1;
        tfm__view(&tk, kb + row0 * kvrow, 3, sh, st4);
        tfm__view(&tv, vb + row0 * kvrow, 3, sh, st4);
        if ((st = tfm__linear_apply(ctx, &m->lin[1], srck, &tk, ar))) return st;
        if ((st = tfm__linear_apply(ctx, &m->lin[2], srcv, &tv, ar))) return st;
    }
    if (!cross && m->p.rope) {
        // q and this step's keys share positions: one pass rotates both
        int64_t qs[3], ks[3];
        qs[0] = Sq * H * Dh; qs[1] = H * Dh; qs[2] = Dh;
        ks[0] = kvb; ks[1] = kvrow; ks[2] = Dh;
        tfm__rope_run(ctx, qb, B, Sq, H, qs, kb + past * kvrow, Hkv, ks, m->p.rope,
                      m->p.rope_theta, m->p.rope_dim, past, masks ? masks->positions : NULL,
                      m->p.rope_cos, m->p.rope_sin, rs);
    }
    if (cache && fill) {
        cache->len[layer] = cross ? Sk : past + Sq;
        cache->batch[layer] = B;
    }

    // ---- attention and output projection
    tfm__attn_run(ctx, &at, as);
    sh[0] = B; sh[1] = Sq; sh[2] = H * Dh;
    tfm__view_c(&tc, cb, 3, sh);
    return tfm__linear_apply(ctx, &m->lin[3], &tc, out, ar);
}

tfm_status tfm_mha_forward(tfm_ctx *ctx, const tfm_mha *m, const tfm_tensor *x,
                           const tfm_tensor *memory, const tfm_tensor *memory_v,
                           const tfm_attn_masks *masks, tfm_kv_cache *cache,
                           int64_t layer, tfm_workspace *ws, tfm_tensor *out,
                           tfm_tensor *probs) {
    tfm__arena ar;
    void *tmp;
    size_t need;
    int64_t B, Sq, Sk;
    tfm_status st;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!m) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "mha: module is NULL");
    if ((st = check_x(ctx, x, -1, m->p.d_model, "mha: x"))) return st;
    B = x->shape[0];
    Sq = x->shape[1];
    if (m->p.cross || memory) {
        Sk = cache && cache->len[layer >= 0 && layer < cache->p.n_layers ? layer : 0] > 0
                 ? cache->len[layer >= 0 && layer < cache->p.n_layers ? layer : 0]
                 : (memory && memory->ndim == 3 ? memory->shape[1] : 1);
    } else {
        Sk = Sq + (cache ? tfm_kv_cache_len(cache, layer) : 0);
    }
    need = tfm__mha_ws(ctx, m, B, Sq, Sk, !ws);
    if ((st = tfm__arena_open(ctx, ws, need, "mha", &ar, &tmp))) return st;
    st = tfm__mha_forward(ctx, m, x, memory, memory_v, masks, cache, layer, &ar, out, probs);
    tfm__arena_close(ctx, tmp, need);
    return st;
}
