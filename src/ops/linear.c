/*
 * The weight matrix: one object for every linear map of the modules and
 * models (a weight, an optional bias, its storage format, packed or in
 * place) and its forward, which runs the GEMM driver (ops/gemm.c: BLIS
 * loops for many rows, the small-M path for a decoding step).
 */
#include "ops.h"
#include "gemm.h"
#include "../kernels/kernels.h"

#include <stdio.h>
#include <string.h>

tfm_status tfm__linear_init(tfm_ctx *ctx, tfm__linear *l, const tfm_tensor *w,
                            const tfm_tensor *b, int64_t n_in, int64_t n_out, int in_out,
                            const char *op, const char *name, const char *bname) {
    char what[96], sh[80];
    tfm_status st;
    int64_t r0 = in_out ? n_in : n_out, r1 = in_out ? n_out : n_in;
    memset(l, 0, sizeof *l);
    snprintf(what, sizeof what, "%s: %s", op, name);
    if (!w) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s is missing", what);
    if (w->dtype == TFM__Q8 || w->dtype == TFM__Q4) { // always [n_out, n_in]
        if (w->ndim != 2 || !w->data || w->shape[0] != n_out || w->shape[1] != n_in)
            return tfm__err(ctx, TFM_ERR_SHAPE, "%s is a %s matrix %s, expected [%lld, %lld]",
                            what, tfm_dtype_name((tfm_dtype)w->dtype),
                            tfm__shape_str(w, sh, sizeof sh), (long long)n_out,
                            (long long)n_in);
        in_out = 0;
    } else {
        if ((st = tfm__check_tensor(ctx, w,
                                    w->dtype == TFM_F16 || w->dtype == TFM_BF16
                                        ? (tfm_dtype)w->dtype : TFM_F32,
                                    2, 2, what)))
            return st;
        if (w->shape[0] != r0 || w->shape[1] != r1)
            return tfm__err(ctx, TFM_ERR_SHAPE, "%s is %s, expected [%lld, %lld]%s", what,
                            tfm__shape_str(w, sh, sizeof sh), (long long)r0, (long long)r1,
                            in_out ? " ([in, out])" : "");
        if (w->stride[1] != 1 && r1 > 1)
            return tfm__err(ctx, TFM_ERR_SHAPE, "%s rows must be contiguous", what);
    }
    if (b) {
        snprintf(what, sizeof what, "%s: %s", op, bname);
        if ((st = tfm__check_tensor(ctx, b, TFM_F32, 1, 1, what))) return st;
        if (b->shape[0] != n_out || (b->stride[0] != 1 && n_out > 1))
            return tfm__err(ctx, TFM_ERR_SHAPE, "%s is %s, expected contiguous [%lld]", what,
                            tfm__shape_str(b, sh, sizeof sh), (long long)n_out);
    }
    l->format = w->dtype == TFM_F16 ? TFM__WF_F16 : w->dtype == TFM_BF16 ? TFM__WF_BF16
                : w->dtype == TFM__Q8 ? TFM__WF_Q8 : w->dtype == TFM__Q4 ? TFM__WF_Q4
                : TFM__WF_F32;
    l->w = w->data;
    l->n_in = n_in;
    l->n_out = n_out;
    l->ld = l->format >= TFM__WF_Q8 ? n_in : w->stride[0];
    l->wt = !in_out;
    l->b = b ? (const float *)b->data : NULL;
    return TFM_OK;
}

static size_t elem_size(const tfm__linear *l) {
    return l->format == TFM__WF_F32 ? sizeof(float) : sizeof(uint16_t);
}

static int quantized(const tfm__linear *l) { return l->format >= TFM__WF_Q8; }
static int qdtype(const tfm__linear *l) { return l->format == TFM__WF_Q4 ? TFM__Q4 : TFM__Q8; }

// W as a tensor view: [n_out, n_in] or [n_in, n_out], rows ld apart.
static void w_view(const tfm__linear *l, tfm_tensor *t) {
    int64_t shape[2], stride[2];
    shape[0] = l->wt ? l->n_out : l->n_in;
    shape[1] = l->wt ? l->n_in : l->n_out;
    stride[0] = l->ld;
    stride[1] = 1;
    tfm__view(t, (float *)l->w, 2, shape, stride);
    t->dtype = l->format == TFM__WF_F16 ? TFM_F16 : l->format == TFM__WF_BF16 ? TFM_BF16
                                                                            : TFM_F32;
}

tfm__linear tfm__linear_slice(const tfm__linear *f, int64_t r0, int64_t n) {
    tfm__linear l = *f;
    if (quantized(f)) { // whole panels in place; a row within one in r0
        int64_t r = f->r0 + r0;
        l.w = (const uint8_t *)f->w + tfm__q_bytes(qdtype(f), r / TFM__QP * TFM__QP, f->n_in);
        l.r0 = r % TFM__QP;
    } else {
        l.w = (const char *)f->w + (size_t)(f->wt ? r0 * f->ld : r0) * elem_size(f);
    }
    l.b = f->b ? f->b + r0 : NULL;
    l.n_out = n;
    l.pk = NULL;
    return l;
}

// A quantized slice off the panels' grid: its rows re-cut into panels of
// their own (a lossless copy: rows are quantized independently).
static tfm_status qpack(tfm_ctx *ctx, tfm__linear *l) {
    tfm_status st;
    size_t bytes = tfm__q_bytes(qdtype(l), l->n_out, l->n_in);
    if (!l->r0) return TFM_OK;
    if (!bytes) return tfm__err(ctx, TFM_ERR_NOMEM, "matrix_pack: size overflows");
    if ((st = tfm__packed_new(ctx, bytes, l->n_in, l->n_out, qdtype(l), &l->pk))) return st;
    tfm__q_copy_rows(qdtype(l), (const uint8_t *)l->w, l->n_in, l->r0, l->n_out,
                     l->pk->qpanels);
    return TFM_OK;
}

// A quantized W as a packed matrix: its re-cut copy, or a view of the panels
// in place (NULL panels: a slice off the grid, not packed yet).
static const tfm_packed_matrix *qmatrix(const tfm__linear *l, tfm_packed_matrix *view) {
    if (l->pk) return l->pk;
    memset(view, 0, sizeof *view);
    view->k = tfm__k();
    view->kdim = l->n_in;
    view->n = l->n_out;
    view->dtype = qdtype(l);
    view->qpanels = l->r0 ? NULL : (uint8_t *)(uintptr_t)l->w;
    return view;
}

tfm_status tfm__linear_pack(tfm_ctx *ctx, tfm__linear *l) {
    tfm_tensor t;
    if (l->pk || !l->w) return TFM_OK;
    if (quantized(l)) return qpack(ctx, l);
    w_view(l, &t);
    return tfm_matrix_pack(ctx, &t, l->wt, &l->pk);
}

void tfm__linear_release(tfm__linear *l) {
    if (!l) return;
    tfm_packed_matrix_free(l->pk);
    l->pk = NULL;
}

uint64_t tfm__linear_bytes(const tfm__linear *l) {
    if (!l->w) return 0;
    return (quantized(l) ? (uint64_t)tfm__q_bytes(qdtype(l), l->n_out, l->n_in)
                         : (uint64_t)l->n_in * (uint64_t)l->n_out * elem_size(l)) +
           (l->b ? (uint64_t)l->n_out * sizeof(float) : 0);
}

size_t tfm__linear_ws(tfm_ctx *ctx, const tfm__linear *l, int64_t rows) {
    tfm__gemm_args x;
    tfm_packed_matrix view;
    const tfm_packed_matrix *pk = quantized(l) ? qmatrix(l, &view) : l->pk;
    size_t floats, t = 0;
    memset(&x, 0, sizeof x);
    x.m = rows;
    x.n = l->n_out;
    x.k = l->n_in;
    x.trans_b = pk ? 0 : l->wt;
    x.bp = pk ? pk->panels : NULL;
    x.bp16 = pk ? pk->panels16 : NULL;
    x.bp16_dtype = pk ? pk->dtype : TFM_F32;
    x.bq = quantized(l) ? (const uint8_t *)l->w : NULL; // only whether it is set is read
    x.bq_dtype = qdtype(l);
    floats = tfm__gemm_ws(ctx, pk ? pk->k : tfm__k(), &x);
    if (floats == SIZE_MAX || floats > (size_t)INT64_MAX) return SIZE_MAX;
    if (floats) tfm__ws_add(&t, (int64_t)floats);
    return t;
}

tfm_status tfm__linear_apply(tfm_ctx *ctx, const tfm__linear *l, const tfm_tensor *x,
                             tfm_tensor *y, tfm__arena *ar) {
    tfm_tensor tw, tb;
    tfm_status st;
    float *ws = NULL;
    size_t mark = ar ? ar->used : 0;
    int64_t n_b = l->n_out;
    if (l->b) tfm__view_c(&tb, (float *)l->b, 1, &n_b);
    if (ar && x->ndim >= 1) {
        // From the arena when it has room (workspaces sized by the modules
        // always do), else the GEMM allocates its own.
        size_t need = tfm__linear_ws(ctx, l, tfm__rows(x));
        if (need && need != SIZE_MAX) ws = tfm__arena_f32(ar, (int64_t)(need / sizeof(float)));
    }
    if (quantized(l)) {
        tfm_packed_matrix view;
        const tfm_packed_matrix *pk = qmatrix(l, &view);
        st = pk->qpanels ? tfm__matmul(ctx, "linear", x, NULL, 0, pk, l->b ? &tb : NULL, 1.0f,
                                       0.0f, y, ws)
                         : tfm__err(ctx, TFM_ERR_UNSUPPORTED, "linear: a sliced %s weight runs "
                                    "packed only", l->format == TFM__WF_Q4 ? "q4" : "q8");
    } else if (l->pk) {
        st = tfm__matmul(ctx, "linear", x, NULL, 0, l->pk, l->b ? &tb : NULL, 1.0f, 0.0f, y,
                         ws);
    } else if (l->format != TFM__WF_F32) {
        st = tfm__err(ctx, TFM_ERR_UNSUPPORTED, "linear: a %s weight runs packed only",
                      l->format == TFM__WF_F16 ? "f16" : "bf16");
    } else {
        w_view(l, &tw);
        st = tfm__matmul(ctx, "linear", x, &tw, l->wt, NULL, l->b ? &tb : NULL, 1.0f, 0.0f,
                         y, ws);
    }
    if (ar) ar->used = mark;
    return st;
}

tfm_status tfm__linear_rows(tfm_ctx *ctx, const tfm__linear *l, int64_t rows,
                            const float *x, int64_t ldx, float *y, int64_t ldy,
                            tfm__arena *ar) {
    tfm_tensor tx, ty;
    int64_t shape[2], stride[2];
    shape[0] = rows;
    shape[1] = l->n_in;
    stride[0] = ldx;
    stride[1] = 1;
    tfm__view(&tx, (float *)x, 2, shape, stride);
    shape[1] = l->n_out;
    stride[0] = ldy;
    tfm__view(&ty, y, 2, shape, stride);
    return tfm__linear_apply(ctx, l, &tx, &ty, ar);
}
