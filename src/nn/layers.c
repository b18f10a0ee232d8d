/*
 * Encoder and decoder layers (post-norm and pre-norm) and their stacks,
 * assembled from tfm_mha, tfm_ffn and the norms.
 *
 * Letters: B batch, S positions, R = B * S rows, D model width.
 * Buffers of one layer forward: a, h (and t for a decoder) [R, D], then the
 * scratch of whichever sub-module runs (they run one after the other and
 * share the same space).
 */
#include "nn.h"

#include <stdio.h>
#include <string.h>

void tfm_layer_params_init(tfm_layer_params *dst, size_t struct_size) {
    tfm_layer_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.act = TFM_ACT_RELU;
    p.norm = TFM_NORM_LAYER;
    p.norm_eps = 1e-5f;
    p.rope_theta = 10000.0f;
    p.prepack = 1;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

void tfm_layer_weights_init(tfm_layer_weights *dst, size_t struct_size) {
    tfm_layer_weights w;
    memset(&w, 0, sizeof w);
    w.struct_size = sizeof w;
    w.self_attn = tfm_mha_weights_default();
    w.cross_attn = tfm_mha_weights_default();
    w.ffn = tfm_ffn_weights_default();
    w.attn_norm = tfm_norm_weights_default();
    w.cross_norm = tfm_norm_weights_default();
    w.ffn_norm = tfm_norm_weights_default();
    tfm__params_init(dst, struct_size, &w, sizeof w);
}

// ---- one layer (shared by encoder and decoder) ------------------------------------------

typedef struct layer {
    tfm_ctx *ctx;
    tfm_layer_params p;
    int decoder;
    tfm_mha *self, *cross; // cross NULL: none
    tfm_ffn *ffn;
    tfm_norm_weights n_attn, n_cross, n_ffn;
} layer;

struct tfm_encoder_layer { layer l; };
struct tfm_decoder_layer { layer l; };

static void layer_clear(layer *l) {
    tfm_mha_free(l->self);
    tfm_mha_free(l->cross);
    tfm_ffn_free(l->ffn);
}

static tfm_status check_norm(tfm_ctx *ctx, const tfm_layer_params *p,
                             const tfm_norm_weights *n, const char *name) {
    char sh[80];
    const tfm_tensor *t[2];
    int i;
    t[0] = n->gamma;
    t[1] = n->beta;
    if (p->norm == TFM_NORM_RMS && n->beta)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "layer: %s: RMSNorm takes no beta", name);
    for (i = 0; i < 2; i++)
        if (t[i] && (t[i]->dtype != TFM_F32 || t[i]->ndim != 1 || t[i]->shape[0] != p->d_model))
            return tfm__err(ctx, TFM_ERR_SHAPE, "layer: %s.%s is %s %s, expected f32 [%lld]",
                            name, i ? "beta" : "gamma", tfm_dtype_name((tfm_dtype)t[i]->dtype),
                            tfm__shape_str(t[i], sh, sizeof sh), (long long)p->d_model);
    return TFM_OK;
}

static tfm_status layer_init(tfm_ctx *ctx, layer *l, const tfm_layer_params *params,
                             const tfm_layer_weights *w, int decoder) {
    tfm_mha_params mp;
    tfm_ffn_params fp;
    tfm_status st;
    tfm_layer_params pc;
    tfm_layer_weights wc;
    const tfm_layer_params *p = &pc;
    memset(l, 0, sizeof *l);
    l->ctx = ctx;
    if (!params || !w)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "layer: params or weights is NULL");
    pc = tfm_layer_params_default();
    wc = tfm_layer_weights_default();
    if ((st = TFM__PARAMS_READ(ctx, pc, params, "layer: params")) ||
        (st = TFM__PARAMS_READ(ctx, wc, w, "layer: weights")))
        return st;
    w = &wc;
    if (p->norm != TFM_NORM_LAYER && p->norm != TFM_NORM_RMS)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "layer: unknown norm kind %d", (int)p->norm);
    if (!(p->norm_eps >= 0.0f))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "layer: norm_eps %g must be >= 0", p->norm_eps);
    mp = tfm_mha_params_default();
    mp.d_model = p->d_model;
    mp.n_heads = p->n_heads;
    mp.n_kv_heads = p->n_kv_heads;
    mp.head_dim = p->head_dim;
    mp.causal = decoder ? 1 : p->causal;
    mp.rope = p->rope;
    mp.rope_theta = p->rope_theta;
    mp.rope_dim = p->rope_dim;
    mp.alibi = p->alibi;
    mp.prepack = p->prepack;
    mp.rope_cos = p->rope_cos;
    mp.rope_sin = p->rope_sin;
    mp.rope_positions = p->rope_positions;
    mp.attn_serial_below = p->attn_serial_below;
    if ((st = tfm_mha_create(ctx, &mp, &w->self_attn, &l->self))) return st;
    if (decoder && (w->cross_attn.wq || w->cross_attn.wqkv)) {
        mp = tfm_mha_params_default();
        mp.d_model = p->d_model;
        mp.n_heads = p->n_heads;
        mp.n_kv_heads = p->n_kv_heads;
        mp.head_dim = p->head_dim;
        mp.kdim = mp.vdim = p->memory_dim;
        mp.cross = 1;
        mp.prepack = p->prepack;
        mp.attn_serial_below = p->attn_serial_below;
        if ((st = tfm_mha_create(ctx, &mp, &w->cross_attn, &l->cross))) {
            layer_clear(l);
            return st;
        }
    }
    fp = tfm_ffn_params_default();
    fp.d_model = p->d_model;
    fp.d_ff = p->d_ff;
    fp.act = p->act;
    fp.gated = p->gated;
    fp.prepack = p->prepack;
    if ((st = tfm_ffn_create(ctx, &fp, &w->ffn, &l->ffn)) ||
        (st = check_norm(ctx, p, &w->attn_norm, "attn_norm")) ||
        (st = check_norm(ctx, p, &w->cross_norm, "cross_norm")) ||
        (st = check_norm(ctx, p, &w->ffn_norm, "ffn_norm"))) {
        layer_clear(l);
        return st;
    }
    l->p = *p;
    l->p.struct_size = sizeof l->p;
    l->decoder = decoder;
    // Embedded structs are read as part of the layer's weights.
    l->n_attn = w->attn_norm;
    l->n_cross = w->cross_norm;
    l->n_ffn = w->ffn_norm;
    l->n_attn.struct_size = l->n_cross.struct_size = l->n_ffn.struct_size =
        sizeof(tfm_norm_weights);
    return TFM_OK;
}

static size_t layer_ws(tfm_ctx *ctx, const layer *l, int64_t b, int64_t s, int64_t sk,
                       int64_t sm, int gemm) {
    size_t t = 0, m1, m2 = 0, m3;
    int64_t n;
    if (b < 1 || s < 1 || !tfm__mul_i64(b * s, l->p.d_model, &n)) return SIZE_MAX;
    tfm__ws_add(&t, n);
    tfm__ws_add(&t, n);
    if (l->decoder) tfm__ws_add(&t, n);
    m1 = tfm__mha_ws(ctx, l->self, b, s, sk, gemm);
    if (l->cross) m2 = tfm__mha_ws(ctx, l->cross, b, s, sm > 0 ? sm : 1, gemm);
    m3 = tfm__ffn_ws(ctx, l->ffn, b * s, gemm);
    if (m2 > m1) m1 = m2;
    if (m3 > m1) m1 = m3;
    if (t == SIZE_MAX || m1 == SIZE_MAX || t > SIZE_MAX - m1) return SIZE_MAX;
    return t + m1;
}

static tfm_status norm(tfm_ctx *ctx, const layer *l, const tfm_tensor *x,
                       const tfm_norm_weights *w, tfm_tensor *out) {
    return tfm_norm(ctx, (tfm_norm_kind)l->p.norm, x, w, l->p.norm_eps, out);
}

// With the context's check_finite: a sub-block's output that holds a NaN or
// infinity ends the forward, named.
#define FINITE(t, what)                                                                     \
    do {                                                                                    \
        if ((st = tfm__check_finite(ctx, (t), (what)))) return st;                          \
    } while (0)

// The layer forward. x and out: [B, S, D] contiguous (out may alias x).
static tfm_status layer_forward(tfm_ctx *ctx, const layer *l, const tfm_tensor *x,
                                const tfm_tensor *mem, const tfm_attn_masks *masks,
                                const tfm_tensor *mem_pad, tfm_kv_cache *sc,
                                tfm_kv_cache *cc, int64_t cl, tfm__arena *ar,
                                tfm_tensor *out, tfm_tensor *sprobs, tfm_tensor *cprobs) {
    tfm_status st;
    int64_t B, S, D = l->p.d_model, sh[3];
    float *ab, *hb, *tb = NULL;
    tfm_tensor a, h, t;
    tfm_attn_masks cm;
    size_t mark;
    char s1[80];
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 3, 3, "layer: x"))) return st;
    if ((st = tfm__check_tensor(ctx, out, TFM_F32, 3, 3, "layer: out"))) return st;
    if (x->shape[2] != D)
        return tfm__err(ctx, TFM_ERR_SHAPE, "layer: x is %s, expected [B, S, %lld]",
                        tfm__shape_str(x, s1, sizeof s1), (long long)D);
    if ((st = tfm__check_same_shape(ctx, x, out, "layer", "x", "out"))) return st;
    if (!tfm_tensor_is_contiguous(x) || !tfm_tensor_is_contiguous(out))
        return tfm__err(ctx, TFM_ERR_SHAPE, "layer: x and out must be contiguous");
    B = x->shape[0];
    S = x->shape[1];
    sh[0] = B; sh[1] = S; sh[2] = D;
    ab = tfm__arena_f32(ar, B * S * D);
    hb = tfm__arena_f32(ar, B * S * D);
    if (l->decoder) tb = tfm__arena_f32(ar, B * S * D);
    if (!ab || !hb || (l->decoder && !tb))
        return tfm__err(ctx, TFM_ERR_RANGE, "layer: workspace too small for this call");
    tfm__view_c(&a, ab, 3, sh);
    tfm__view_c(&h, hb, 3, sh);
    if (tb) tfm__view_c(&t, tb, 3, sh);
    mark = ar->used;
    cm = tfm_attn_masks_default();
    cm.key_padding_mask = mem_pad;

    if (!l->p.norm_first) {
        // ---- post-norm: x = norm(x + sublayer(x))
        if ((st = tfm__mha_forward(ctx, l->self, x, NULL, NULL, masks, sc, cl, ar, &a, sprobs)))
            return st;
        FINITE(&a, "self-attention");
        ar->used = mark;
        if ((st = tfm_add(ctx, &a, x, &a)) || (st = norm(ctx, l, &a, &l->n_attn, &a))) return st;
        if (l->cross) {
            if ((st = tfm__mha_forward(ctx, l->cross, &a, mem, NULL, &cm, cc, cl, ar, &h, cprobs)))
                return st;
            FINITE(&h, "cross-attention");
            ar->used = mark;
            if ((st = tfm_add(ctx, &h, &a, &h)) || (st = norm(ctx, l, &h, &l->n_cross, &a)))
                return st;
        }
        if ((st = tfm__ffn_forward(ctx, l->ffn, &a, ar, &h))) return st;
        FINITE(&h, "feed-forward");
        ar->used = mark;
        if ((st = tfm_add(ctx, &h, &a, &h)) || (st = norm(ctx, l, &h, &l->n_ffn, out)))
            return st;
        FINITE(out, "output");
        return TFM_OK;
    }
    // ---- pre-norm: x = x + sublayer(norm(x))
    if ((st = norm(ctx, l, x, &l->n_attn, &h))) return st;
    if ((st = tfm__mha_forward(ctx, l->self, &h, NULL, NULL, masks, sc, cl, ar, &a, sprobs)))
        return st;
    FINITE(&a, "self-attention");
    ar->used = mark;
    if ((st = tfm_add(ctx, &a, x, &a))) return st;
    if (l->cross) {
        if ((st = norm(ctx, l, &a, &l->n_cross, &h))) return st;
        if ((st = tfm__mha_forward(ctx, l->cross, &h, mem, NULL, &cm, cc, cl, ar, &t, cprobs)))
            return st;
        FINITE(&t, "cross-attention");
        ar->used = mark;
        if ((st = tfm_add(ctx, &a, &t, &a))) return st;
    }
    if ((st = norm(ctx, l, &a, &l->n_ffn, &h))) return st;
    if ((st = tfm__ffn_forward(ctx, l->ffn, &h, ar, &h))) return st;
    FINITE(&h, "feed-forward");
    ar->used = mark;
    if ((st = tfm_add(ctx, &a, &h, out))) return st;
    FINITE(out, "output");
    return TFM_OK;
}

// Bytes one token's forward reads (cross keys and values left out).
static uint64_t layer_bytes(const layer *l) {
    uint64_t n = tfm__norm_bytes(&l->n_attn) + tfm__norm_bytes(&l->n_ffn);
    int i;
    for (i = 0; i < 4; i++) n += tfm__linear_bytes(&l->self->lin[i]);
    for (i = 0; i < 3; i++) n += tfm__linear_bytes(&l->ffn->lin[i]);
    if (l->cross)
        n += tfm__norm_bytes(&l->n_cross) + tfm__linear_bytes(&l->cross->lin[0]) +
             tfm__linear_bytes(&l->cross->lin[3]);
    return n;
}

uint64_t tfm__encoder_layer_bytes(const tfm_encoder_layer *e) { return layer_bytes(&e->l); }
uint64_t tfm__decoder_layer_bytes(const tfm_decoder_layer *d) { return layer_bytes(&d->l); }

// ---- encoder layer ------------------------------------------------------------------------

tfm_status tfm_encoder_layer_create(tfm_ctx *ctx, const tfm_layer_params *params,
                                    const tfm_layer_weights *weights, tfm_encoder_layer **out) {
    tfm_encoder_layer *e;
    tfm_status st;
    if (out) *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encoder_layer: out is NULL");
    e = (tfm_encoder_layer *)tfm__alloc(ctx, sizeof *e);
    if (!e) return tfm__err(ctx, TFM_ERR_NOMEM, "encoder_layer: out of memory");
    if ((st = layer_init(ctx, &e->l, params, weights, 0))) {
        tfm__free(ctx, e, sizeof *e);
        return st;
    }
    *out = e;
    return TFM_OK;
}

void tfm_encoder_layer_free(tfm_encoder_layer *e) {
    if (!e) return;
    layer_clear(&e->l);
    tfm__free(e->l.ctx, e, sizeof *e);
}

size_t tfm_encoder_layer_workspace_size(tfm_ctx *ctx, const tfm_encoder_layer *e,
                                        int64_t batch, int64_t seq) {
    size_t t;
    if (!e) return 0;
    t = layer_ws(ctx, &e->l, batch, seq, seq, 0, 1);
    return t == SIZE_MAX ? 0 : t;
}

static int64_t dim_or(const tfm_tensor *t, int d, int64_t dflt) {
    return t && t->ndim == 3 ? t->shape[d] : dflt;
}

tfm_status tfm_encoder_layer_forward(tfm_ctx *ctx, const tfm_encoder_layer *e,
                                     const tfm_tensor *x, const tfm_attn_masks *masks,
                                     tfm_workspace *ws, tfm_tensor *out, tfm_tensor *probs) {
    tfm__arena ar;
    void *tmp;
    size_t need;
    tfm_status st;
    int64_t B, S;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!e) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encoder_layer: layer is NULL");
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 3, 3, "encoder_layer: x"))) return st;
    B = x->shape[0];
    S = x->shape[1];
    need = layer_ws(ctx, &e->l, B, S, S, 0, !ws);
    if ((st = tfm__arena_open(ctx, ws, need, "encoder_layer", &ar, &tmp))) return st;
    st = layer_forward(ctx, &e->l, x, NULL, masks, NULL, NULL, NULL, 0, &ar, out, probs, NULL);
    tfm__arena_close(ctx, tmp, need);
    return st;
}

// ---- decoder layer ------------------------------------------------------------------------

tfm_status tfm_decoder_layer_create(tfm_ctx *ctx, const tfm_layer_params *params,
                                    const tfm_layer_weights *weights, tfm_decoder_layer **out) {
    tfm_decoder_layer *d;
    tfm_status st;
    if (out) *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "decoder_layer: out is NULL");
    d = (tfm_decoder_layer *)tfm__alloc(ctx, sizeof *d);
    if (!d) return tfm__err(ctx, TFM_ERR_NOMEM, "decoder_layer: out of memory");
    if ((st = layer_init(ctx, &d->l, params, weights, 1))) {
        tfm__free(ctx, d, sizeof *d);
        return st;
    }
    *out = d;
    return TFM_OK;
}

void tfm_decoder_layer_free(tfm_decoder_layer *d) {
    if (!d) return;
    layer_clear(&d->l);
    tfm__free(d->l.ctx, d, sizeof *d);
}

size_t tfm_decoder_layer_workspace_size(tfm_ctx *ctx, const tfm_decoder_layer *d,
                                        int64_t batch, int64_t seq, int64_t seq_k,
                                        int64_t mem_seq) {
    size_t t;
    if (!d) return 0;
    t = layer_ws(ctx, &d->l, batch, seq, seq_k > seq ? seq_k : seq, mem_seq, 1);
    return t == SIZE_MAX ? 0 : t;
}

// Key counts of a decoder call: self keys (cache included) and memory keys.
static void dec_lens(const layer *l, const tfm_tensor *x, const tfm_tensor *mem,
                     const tfm_kv_cache *sc, const tfm_kv_cache *cc, int64_t cl,
                     int64_t *sk, int64_t *sm) {
    *sk = dim_or(x, 1, 1) + tfm_kv_cache_len(sc, cl);
    *sm = 0;
    if (l->cross) *sm = tfm_kv_cache_len(cc, cl) > 0 ? tfm_kv_cache_len(cc, cl) : dim_or(mem, 1, 1);
}

tfm_status tfm_decoder_layer_forward(tfm_ctx *ctx, const tfm_decoder_layer *d,
                                     const tfm_tensor *x, const tfm_tensor *memory,
                                     const tfm_attn_masks *self_masks,
                                     const tfm_tensor *memory_padding_mask,
                                     tfm_kv_cache *self_cache, tfm_kv_cache *cross_cache,
                                     int64_t cache_layer, tfm_workspace *ws, tfm_tensor *out,
                                     tfm_tensor *self_probs, tfm_tensor *cross_probs) {
    tfm__arena ar;
    void *tmp;
    size_t need;
    tfm_status st;
    int64_t sk, sm;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!d) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "decoder_layer: layer is NULL");
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 3, 3, "decoder_layer: x"))) return st;
    dec_lens(&d->l, x, memory, self_cache, cross_cache, cache_layer, &sk, &sm);
    need = layer_ws(ctx, &d->l, x->shape[0], x->shape[1], sk, sm, !ws);
    if ((st = tfm__arena_open(ctx, ws, need, "decoder_layer", &ar, &tmp))) return st;
    st = layer_forward(ctx, &d->l, x, memory, self_masks, memory_padding_mask, self_cache,
                       cross_cache, cache_layer, &ar, out, self_probs, cross_probs);
    tfm__arena_close(ctx, tmp, need);
    return st;
}

// ---- stacks ---------------------------------------------------------------------------------

typedef struct stack {
    tfm_ctx *ctx;
    int64_t n;     // layers built
    int64_t n_alloc; // layers allocated (freed with this size)
    layer *layers;
    tfm_norm_weights final;
    int has_final;
    tfm_norm_kind kind;
    float eps;
} stack;

struct tfm_encoder { stack s; };
struct tfm_decoder { stack s; };

static void stack_clear(stack *s) {
    int64_t i;
    if (!s->layers) return;
    for (i = 0; i < s->n; i++) layer_clear(&s->layers[i]);
    tfm__free(s->ctx, s->layers, (size_t)s->n_alloc * sizeof(layer));
    s->layers = NULL;
}

static tfm_status stack_init(tfm_ctx *ctx, stack *s, const tfm_layer_params *p, int64_t n,
                             const tfm_layer_weights *w, const tfm_norm_weights *fn,
                             int decoder) {
    int64_t i;
    tfm_status st;
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    if (n < 1 || !w)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s: n_layers %lld < 1 or layers NULL",
                        decoder ? "decoder" : "encoder", (long long)n);
    if (!p) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "stack: params is NULL");
    s->layers = (layer *)tfm__alloc(ctx, (size_t)n * sizeof(layer));
    if (!s->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "stack: out of memory");
    s->n_alloc = n;
    s->n = 0;
    for (i = 0; i < n; i++) {
        if ((st = layer_init(ctx, &s->layers[i], p, &w[i], decoder))) {
            s->n = i;
            stack_clear(s);
            return tfm__err_wrap(ctx, st, "%s layer %lld", decoder ? "decoder" : "encoder",
                                 (long long)i);
        }
        s->n = i + 1;
    }
    s->final = tfm_norm_weights_default();
    if ((st = TFM__PARAMS_READ(ctx, s->final, fn, "final_norm"))) {
        stack_clear(s);
        return st;
    }
    if (s->final.gamma) {
        if ((st = check_norm(ctx, p, &s->final, "final_norm"))) {
            stack_clear(s);
            return st;
        }
        s->has_final = 1;
    }
    s->kind = (tfm_norm_kind)p->norm;
    s->eps = p->norm_eps;
    return TFM_OK;
}

static size_t stack_ws(tfm_ctx *ctx, const stack *s, int64_t b, int64_t q, int64_t sk,
                       int64_t sm, int gemm) {
    return layer_ws(ctx, &s->layers[0], b, q, sk, sm, gemm);
}

static tfm_status stack_forward(tfm_ctx *ctx, const stack *s, const tfm_tensor *x,
                                const tfm_tensor *mem, const tfm_attn_masks *masks,
                                const tfm_tensor *mem_pad, tfm_kv_cache *sc, tfm_kv_cache *cc,
                                tfm_workspace *ws, tfm_tensor *out, const char *what) {
    tfm__arena ar;
    void *tmp;
    size_t need;
    tfm_status st = TFM_OK;
    int64_t i, sk = 0, sm = 0;
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 3, 3, what))) return st;
    if (s->layers[0].decoder) dec_lens(&s->layers[0], x, mem, sc, cc, 0, &sk, &sm);
    else sk = x->shape[1];
    need = stack_ws(ctx, s, x->shape[0], x->shape[1], sk, sm, !ws);
    if ((st = tfm__arena_open(ctx, ws, need, what, &ar, &tmp))) return st;
    for (i = 0; i < s->n && st == TFM_OK; i++) {
        ar.used = 0;
        st = layer_forward(ctx, &s->layers[i], i == 0 ? x : out, mem, masks, mem_pad, sc, cc, i,
                           &ar, out, NULL, NULL);
    }
    if (st == TFM_OK && s->has_final) st = tfm_norm(ctx, s->kind, out, &s->final, s->eps, out);
    tfm__arena_close(ctx, tmp, need);
    return st;
}

tfm_status tfm_encoder_create(tfm_ctx *ctx, const tfm_layer_params *params, int64_t n_layers,
                              const tfm_layer_weights *layers,
                              const tfm_norm_weights *final_norm, tfm_encoder **out) {
    tfm_encoder *e;
    tfm_status st;
    if (out) *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encoder: out is NULL");
    e = (tfm_encoder *)tfm__alloc(ctx, sizeof *e);
    if (!e) return tfm__err(ctx, TFM_ERR_NOMEM, "encoder: out of memory");
    if ((st = stack_init(ctx, &e->s, params, n_layers, layers, final_norm, 0))) {
        tfm__free(ctx, e, sizeof *e);
        return st;
    }
    *out = e;
    return TFM_OK;
}

void tfm_encoder_free(tfm_encoder *e) {
    if (!e) return;
    stack_clear(&e->s);
    tfm__free(e->s.ctx, e, sizeof *e);
}

size_t tfm_encoder_workspace_size(tfm_ctx *ctx, const tfm_encoder *e, int64_t batch,
                                  int64_t seq) {
    size_t t;
    if (!e) return 0;
    t = stack_ws(ctx, &e->s, batch, seq, seq, 0, 1);
    return t == SIZE_MAX ? 0 : t;
}

tfm_status tfm_encoder_forward(tfm_ctx *ctx, const tfm_encoder *e, const tfm_tensor *x,
                               const tfm_attn_masks *masks, tfm_workspace *ws,
                               tfm_tensor *out) {
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!e) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "encoder: module is NULL");
    return stack_forward(ctx, &e->s, x, NULL, masks, NULL, NULL, NULL, ws, out, "encoder");
}

tfm_status tfm_decoder_create(tfm_ctx *ctx, const tfm_layer_params *params, int64_t n_layers,
                              const tfm_layer_weights *layers,
                              const tfm_norm_weights *final_norm, tfm_decoder **out) {
    tfm_decoder *d;
    tfm_status st;
    if (out) *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "decoder: out is NULL");
    d = (tfm_decoder *)tfm__alloc(ctx, sizeof *d);
    if (!d) return tfm__err(ctx, TFM_ERR_NOMEM, "decoder: out of memory");
    if ((st = stack_init(ctx, &d->s, params, n_layers, layers, final_norm, 1))) {
        tfm__free(ctx, d, sizeof *d);
        return st;
    }
    *out = d;
    return TFM_OK;
}

void tfm_decoder_free(tfm_decoder *d) {
    if (!d) return;
    stack_clear(&d->s);
    tfm__free(d->s.ctx, d, sizeof *d);
}

size_t tfm_decoder_workspace_size(tfm_ctx *ctx, const tfm_decoder *d, int64_t batch,
                                  int64_t seq, int64_t seq_k, int64_t mem_seq) {
    size_t t;
    if (!d) return 0;
    t = stack_ws(ctx, &d->s, batch, seq, seq_k > seq ? seq_k : seq, mem_seq, 1);
    return t == SIZE_MAX ? 0 : t;
}

tfm_status tfm_decoder_forward(tfm_ctx *ctx, const tfm_decoder *d, const tfm_tensor *x,
                               const tfm_tensor *memory, const tfm_attn_masks *self_masks,
                               const tfm_tensor *memory_padding_mask,
                               tfm_kv_cache *self_cache, tfm_kv_cache *cross_cache,
                               tfm_workspace *ws, tfm_tensor *out) {
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!d) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "decoder: module is NULL");
    return stack_forward(ctx, &d->s, x, memory, self_masks, memory_padding_mask, self_cache,
                         cross_cache, ws, out, "decoder");
}
