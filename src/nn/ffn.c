/*
 * Feed-forward blocks (plain and gated: SwiGLU, GeGLU).
 *
 * Letters: R rows (B * S), D model width, F hidden width.
 * Buffers of one forward: h [R, F] (and g [R, F] when gated).
 */
#include "nn.h"

#include <stdio.h>
#include <string.h>

void tfm_ffn_params_init(tfm_ffn_params *dst, size_t struct_size) {
    tfm_ffn_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.act = TFM_ACT_RELU;
    p.prepack = 1;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

void tfm_ffn_weights_init(tfm_ffn_weights *dst, size_t struct_size) {
    tfm_ffn_weights w;
    memset(&w, 0, sizeof w);
    w.struct_size = sizeof w;
    tfm__params_init(dst, struct_size, &w, sizeof w);
}

tfm_status tfm_ffn_create(tfm_ctx *ctx, const tfm_ffn_params *params,
                          const tfm_ffn_weights *weights, tfm_ffn **out) {
    tfm_ffn *f;
    tfm_ffn_params p;
    tfm_ffn_weights w;
    tfm_status st;
    tfm__linear l1, l2, l3;
    int64_t D, F;
    int io, i;
    if (out) *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!params || !weights || !out)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "ffn: params, weights or out is NULL");
    p = tfm_ffn_params_default();
    w = tfm_ffn_weights_default();
    if ((st = TFM__PARAMS_READ(ctx, p, params, "ffn: params")) ||
        (st = TFM__PARAMS_READ(ctx, w, weights, "ffn: weights")))
        return st;
    params = &p;
    weights = &w;
    D = params->d_model;
    F = params->d_ff;
    io = weights->in_out;
    if (D < 1 || F < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "ffn: d_model %lld and d_ff %lld must be >= 1",
                        (long long)D, (long long)F);
    if (params->act < TFM_ACT_NONE || params->act > TFM_ACT_SIGMOID)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "ffn: unknown activation %d", (int)params->act);
    if ((st = tfm__linear_init(ctx, &l1, weights->w1, weights->b1, D, F, io, "ffn", "w1",
                               "b1")) ||
        (st = tfm__linear_init(ctx, &l2, weights->w2, weights->b2, F, D, io, "ffn", "w2",
                               "b2")) ||
        (params->gated && (st = tfm__linear_init(ctx, &l3, weights->w3, weights->b3, D, F, io,
                                                 "ffn", "w3", "b3"))))
        return st;
    f = (tfm_ffn *)tfm__alloc(ctx, sizeof *f);
    if (!f) return tfm__err(ctx, TFM_ERR_NOMEM, "ffn: out of memory");
    f->ctx = ctx;
    f->p = *params;
    f->p.struct_size = sizeof f->p;
    f->lin[0] = l1;
    f->lin[1] = l2;
    if (params->gated) f->lin[2] = l3;
    // Packed once for the GEMM micro-kernels (16-bit weights always).
    for (i = 0; i < 3; i++)
        if ((params->prepack || f->lin[i].format != TFM__WF_F32) &&
            (st = tfm__linear_pack(ctx, &f->lin[i]))) {
            tfm_ffn_free(f);
            return st;
        }
    *out = f;
    return TFM_OK;
}

void tfm_ffn_free(tfm_ffn *f) {
    int i;
    if (!f) return;
    for (i = 0; i < 3; i++) tfm__linear_release(&f->lin[i]);
    tfm__free(f->ctx, f, sizeof *f);
}

size_t tfm__ffn_ws(tfm_ctx *ctx, const tfm_ffn *f, int64_t rows, int gemm) {
    size_t t = 0, l = 0, s;
    int64_t n;
    int i;
    if (rows < 1 || !tfm__mul_i64(rows, f->p.d_ff, &n)) return SIZE_MAX;
    tfm__ws_add(&t, n);
    if (f->p.gated) tfm__ws_add(&t, n);
    for (i = 0; gemm && i < (f->p.gated ? 3 : 2); i++) { // packing scratch on top
        s = tfm__linear_ws(ctx, &f->lin[i], rows);
        if (s > l) l = s;
    }
    if (t == SIZE_MAX || l == SIZE_MAX || t > SIZE_MAX - l) return SIZE_MAX;
    return t + l;
}

size_t tfm_ffn_workspace_size(const tfm_ffn *f, int64_t rows) {
    size_t t;
    if (!f) return 0;
    t = tfm__ffn_ws(f->ctx, f, rows, 1);
    return t == SIZE_MAX ? 0 : t;
}

tfm_status tfm__ffn_forward(tfm_ctx *ctx, const tfm_ffn *f, const tfm_tensor *x,
                            tfm__arena *ar, tfm_tensor *out) {
    tfm_status st;
    tfm_tensor th, tg, x2, o2;
    int64_t R, D = f->p.d_model, F = f->p.d_ff, sh[2], st2[2];
    float *h, *g = NULL;
    char s1[80];
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 1, TFM_MAX_DIMS, "ffn: x"))) return st;
    if ((st = tfm__check_tensor(ctx, out, TFM_F32, 1, TFM_MAX_DIMS, "ffn: out"))) return st;
    if (x->shape[x->ndim - 1] != D)
        return tfm__err(ctx, TFM_ERR_SHAPE, "ffn: x is %s, expected [..., %lld]",
                        tfm__shape_str(x, s1, sizeof s1), (long long)D);
    if ((st = tfm__check_same_shape(ctx, x, out, "ffn", "x", "out"))) return st;
    if (!tfm_tensor_is_contiguous(x) || !tfm_tensor_is_contiguous(out))
        return tfm__err(ctx, TFM_ERR_SHAPE, "ffn: x and out must be contiguous");
    R = tfm__rows(x);
    h = tfm__arena_f32(ar, R * F);
    if (f->p.gated) g = tfm__arena_f32(ar, R * F);
    if (!h || (f->p.gated && !g))
        return tfm__err(ctx, TFM_ERR_RANGE, "ffn: workspace too small for %lld rows", (long long)R);
    // Seen as 2-D [R, D] so any leading dims work.
    sh[0] = R; sh[1] = D; st2[0] = D; st2[1] = 1;
    tfm__view(&x2, (float *)x->data, 2, sh, st2);
    tfm__view(&o2, (float *)out->data, 2, sh, st2);
    sh[1] = F;
    tfm__view_c(&th, h, 2, sh);
    if ((st = tfm__linear_apply(ctx, &f->lin[0], &x2, &th, ar))) return st;
    if ((st = tfm_activation(ctx, (tfm_act)f->p.act, &th, &th))) return st;
    if (f->p.gated) {
        tfm__view_c(&tg, g, 2, sh);
        if ((st = tfm__linear_apply(ctx, &f->lin[2], &x2, &tg, ar))) return st;
        if ((st = tfm_mul(ctx, &th, &tg, &th))) return st;
    }
    return tfm__linear_apply(ctx, &f->lin[1], &th, &o2, ar);
}

tfm_status tfm_ffn_forward(tfm_ctx *ctx, const tfm_ffn *f, const tfm_tensor *x,
                           tfm_workspace *ws, tfm_tensor *out) {
    tfm__arena ar;
    void *tmp;
    size_t need;
    tfm_status st;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!f) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "ffn: module is NULL");
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 1, TFM_MAX_DIMS, "ffn: x"))) return st;
    need = tfm__ffn_ws(ctx, f, tfm__rows(x), !ws);
    if ((st = tfm__arena_open(ctx, ws, need, "ffn", &ar, &tmp))) return st;
    st = tfm__ffn_forward(ctx, f, x, &ar, out);
    tfm__arena_close(ctx, tmp, need);
    return st;
}
