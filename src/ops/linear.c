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
    if (w->dtype == TFM__Q8 || w->dtype == TFM__Q4) {
        if (w->ndim != 2 || !w->data || w->shape[0] != n_out || w->shape[1] != n_in)
            return tfm__err(ctx, TFM_ERR_SHAPE, "%s is a %s matrix %s, expected [%lld, %lld]",
                            what, tfm_dtype_name((tfm_dtype)w->dtype),
                            tfm__shape_str(w, sh, sizeof sh), (long long)n_out,
                            (long long)n_in);
        r0 = n_out;
        r1 = n_in;
        in_out = 0;
    } else if ((st = tfm__check_tensor(ctx, w,
                                w->dtype == TFM_F16 || w->dtype == TFM_BF16 ? (tfm_dtype)w->dtype
                                                                            : TFM_F32,
                                2, 2, what)))
        return st;
    if (w->dtype != TFM__Q8 && w->dtype != TFM__Q4 && (w->shape[0] != r0 || w->shape[1] != r1))
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s is %s, expected [%lld, %lld]%s", what,
                        tfm__shape_str(w, sh, sizeof sh), (long long)r0, (long long)r1,
                        in_out ? " ([in, out])" : "");
    if (w->dtype != TFM__Q8 && w->dtype != TFM__Q4 && w->stride[1] != 1 && r1 > 1)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s rows must be contiguous", what);
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

// The panels a quantized forward reads: the re-cut copy or w in place.
static const uint8_t *qpanels(const tfm__linear *l) {
    return l->pk ? l->pk->qpanels : l->r0 ? NULL : (const uint8_t *)l->w;
}

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
    tfm_packed_matrix *p;
    size_t bytes = tfm__q_bytes(qdtype(l), l->n_out, l->n_in);
    if (!l->r0) return TFM_OK;
    if (!bytes) return tfm__err(ctx, TFM_ERR_NOMEM, "matrix_pack: size overflows");
    p = (tfm_packed_matrix *)tfm__alloc(ctx, sizeof *p);
    if (!p || !(p->raw = tfm__alloc_nozero(ctx, bytes + 64))) {
        tfm__free(ctx, p, sizeof *p);
        return tfm__err(ctx, TFM_ERR_NOMEM, "matrix_pack: out of memory");
    }
    p->raw_size = bytes + 64;
    p->ctx = ctx;
    p->k = tfm__k();
    p->kdim = l->n_in;
    p->n = l->n_out;
    p->dtype = qdtype(l);
    p->qpanels = (uint8_t *)(((uintptr_t)p->raw + 63) & ~(uintptr_t)63);
    tfm__q_copy_rows(p->dtype, (const uint8_t *)l->w, l->n_in, l->r0, l->n_out, p->qpanels);
    l->pk = p;
    return TFM_OK;
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

// ---- quantized forward ---------------------------------------------------------------
// The activations are quantized row by row into the workspace (q, d and s
// of each 32-block: kernels.h), then the panels are split over the threads;
// every element is computed by one kernel call whatever the split.

// Below this many multiply-adds a quantized product runs on one thread.
#define Q_PAR_MIN ((int64_t)1 << 16)

typedef struct qjob {
    const tfm__quant_kernels *q;
    const tfm__linear *l;
    const uint8_t *w;      // the panels
    int64_t m, kb;
    const float *x;
    int64_t ldx;
    int8_t *aq;
    float *ad;
    int32_t *as;
    float *y;
    int64_t ldy;
} qjob;

static void q_rows_task(void *arg, int ith, int nth) {
    const qjob *j = (const qjob *)arg;
    int64_t lo, hi, i;
    tfm__split_range(j->m, ith, nth, &lo, &hi);
    for (i = lo; i < hi; i++)
        j->q->quantize(j->l->n_in, j->x + i * j->ldx, j->aq + i * j->kb * TFM__QK,
                       j->ad + i * j->kb, j->as + i * j->kb);
}

static void q_panels_task(void *arg, int ith, int nth) {
    const qjob *j = (const qjob *)arg;
    const tfm__linear *l = j->l;
    size_t ps = tfm__q_bytes(qdtype(l), TFM__QP, l->n_in);
    int64_t lo, hi, p, i, c0, c1;
    tfm__split_range((l->n_out + TFM__QP - 1) / TFM__QP, ith, nth, &lo, &hi);
    for (p = lo; p < hi; p++) {
        int64_t n = l->n_out - p * TFM__QP < TFM__QP ? l->n_out - p * TFM__QP : TFM__QP;
        (l->format == TFM__WF_Q4 ? j->q->q4 : j->q->q8)(j->m, j->kb, j->aq, j->ad, j->as,
                                                        j->w + (size_t)p * ps,
                                                        j->y + p * TFM__QP, j->ldy, n);
    }
    c0 = lo * TFM__QP;
    c1 = hi * TFM__QP < l->n_out ? hi * TFM__QP : l->n_out;
    if (l->b && c1 > c0)
        for (i = 0; i < j->m; i++)
            tfm__vec_add(c1 - c0, j->y + i * j->ldy + c0, l->b + c0, j->y + i * j->ldy + c0);
}

// Bytes of activation scratch for m rows.
static size_t q_ws_bytes(const tfm__linear *l, int64_t m) {
    size_t kb = (size_t)((l->n_in + TFM__QK - 1) / TFM__QK), b;
    if (!tfm__mul_size((size_t)m, kb * (TFM__QK + 2 * sizeof(float)), &b) || b > SIZE_MAX - 64)
        return SIZE_MAX;
    return b + 64;
}

static tfm_status q_rows(tfm_ctx *ctx, const tfm__linear *l, int64_t m, const float *x,
                         int64_t ldx, float *y, int64_t ldy, void *ws) {
    qjob j;
    size_t bytes = q_ws_bytes(l, m);
    void *raw = ws;
    int nt = tfm_ctx_n_threads(ctx), tasks;
    int64_t panels = (l->n_out + TFM__QP - 1) / TFM__QP;
    if (m <= 0 || l->n_out <= 0) return TFM_OK;
    if (!(j.w = qpanels(l)))
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "linear: a sliced %s weight runs packed only",
                        l->format == TFM__WF_Q4 ? "q4" : "q8");
    if (bytes == SIZE_MAX) return tfm__err(ctx, TFM_ERR_NOMEM, "linear: workspace overflows");
    if (!raw && !(raw = tfm__alloc_nozero(ctx, bytes)))
        return tfm__err(ctx, TFM_ERR_NOMEM, "linear: out of memory for %llu bytes",
                        (unsigned long long)bytes);
    j.q = tfm__quant_of(tfm__k());
    j.l = l;
    j.m = m;
    j.kb = (l->n_in + TFM__QK - 1) / TFM__QK;
    j.x = x;
    j.ldx = ldx;
    j.aq = (int8_t *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    j.ad = (float *)(j.aq + (size_t)m * (size_t)j.kb * TFM__QK);
    j.as = (int32_t *)(j.ad + (size_t)m * (size_t)j.kb);
    j.y = y;
    j.ldy = ldy;
    tasks = (double)m * (double)l->n_out * (double)l->n_in < (double)Q_PAR_MIN ? 1 : nt;
    tfm__parallel(ctx, q_rows_task, &j, m < tasks ? (int)m : tasks);
    tfm__parallel(ctx, q_panels_task, &j, panels < tasks ? (int)panels : tasks);
    if (!ws) tfm__free(ctx, raw, bytes);
    return TFM_OK;
}

size_t tfm__linear_ws(tfm_ctx *ctx, const tfm__linear *l, int64_t rows) {
    tfm__gemm_args x;
    size_t floats, t = 0;
    if (quantized(l)) {
        size_t b = q_ws_bytes(l, rows);
        if (b == SIZE_MAX || b / sizeof(float) + 1 > (size_t)INT64_MAX) return SIZE_MAX;
        tfm__ws_add(&t, (int64_t)(b / sizeof(float) + 1));
        return t;
    }
    memset(&x, 0, sizeof x);
    x.m = rows;
    x.n = l->n_out;
    x.k = l->n_in;
    x.trans_b = l->pk ? 0 : l->wt;
    x.bp = l->pk ? l->pk->panels : NULL;
    x.bp16 = l->pk ? l->pk->panels16 : NULL;
    x.bp16_dtype = l->pk ? l->pk->dtype : TFM_F32;
    floats = tfm__gemm_ws(ctx, l->pk ? l->pk->k : tfm__k(), &x);
    if (floats == SIZE_MAX || floats > (size_t)INT64_MAX) return SIZE_MAX;
    if (floats) tfm__ws_add(&t, (int64_t)floats);
    return t;
}

// The quantized forward on tensors: rows of x and y evenly spaced.
static int even_rows(const tfm_tensor *t, int64_t *ld) {
    int i;
    if (t->ndim < 1 || (t->stride[t->ndim - 1] != 1 && t->shape[t->ndim - 1] > 1)) return 0;
    for (i = 0; i + 2 < t->ndim; i++)
        if (t->shape[i] > 1 && t->stride[i] != t->stride[i + 1] * t->shape[i + 1]) return 0;
    *ld = t->ndim >= 2 ? t->stride[t->ndim - 2] : t->shape[0];
    return 1;
}

static tfm_status q_apply(tfm_ctx *ctx, const tfm__linear *l, const tfm_tensor *x,
                          tfm_tensor *y, float *ws) {
    char sx[80], sy[80];
    int64_t ldx, ldy, m;
    tfm_status st;
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 1, TFM_MAX_DIMS, "linear: x")) ||
        (st = tfm__check_tensor(ctx, y, TFM_F32, 1, TFM_MAX_DIMS, "linear: y")))
        return st;
    m = tfm__rows(x);
    if (x->shape[x->ndim - 1] != l->n_in || y->shape[y->ndim - 1] != l->n_out ||
        tfm__rows(y) != m)
        return tfm__err(ctx, TFM_ERR_SHAPE, "linear: x %s and y %s do not fit a [%lld, %lld] "
                        "weight", tfm__shape_str(x, sx, sizeof sx),
                        tfm__shape_str(y, sy, sizeof sy), (long long)l->n_out,
                        (long long)l->n_in);
    if (!even_rows(x, &ldx) || !even_rows(y, &ldy))
        return tfm__err(ctx, TFM_ERR_SHAPE, "linear: x and y need evenly spaced contiguous "
                        "rows for a quantized weight");
    return q_rows(ctx, l, m, (const float *)x->data, ldx, (float *)y->data, ldy, ws);
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
        st = q_apply(ctx, l, x, y, ws);
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
