/*
 * Tensor operations: shape and dtype checks, then work split over rows (or
 * output columns) across the context's pool, calling the kernel table.
 * No reduction is ever split, so results do not depend on the thread count.
 *
 * Shapes: rows = numel / last dim; a "row" is the contiguous last dimension.
 */
#include "../core/internal.h"
#include "../kernels/kernels.h"
#include "gemm.h"
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// Below this many elements of work an op runs on the calling thread alone.
#define TFM__PAR_MIN_ELEMS 16384

static int n_tasks(tfm_ctx *ctx, int64_t rows, int64_t work) {
    int nt = tfm_ctx_n_threads(ctx);
    if (work < TFM__PAR_MIN_ELEMS || rows < 2) return 1;
    return rows < nt ? (int)rows : nt;
}

// Checks that the last dimension of t is contiguous.
static tfm_status check_rows(tfm_ctx *ctx, const tfm_tensor *t, const char *what) {
    if (t->stride[t->ndim - 1] != 1 && t->shape[t->ndim - 1] != 1)
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "%s: the last dimension must be contiguous (stride 1, not %lld)",
                        what, (long long)t->stride[t->ndim - 1]);
    return TFM_OK;
}

// Checks that b broadcasts onto a (numpy rules, right-aligned, b's dims equal
// to a's or 1, b's last dim equal to a's).
static tfm_status check_bcast(tfm_ctx *ctx, const tfm_tensor *a,
                              const tfm_tensor *b, const char *op,
                              const char *an, const char *bn) {
    int i, ok = b->ndim <= a->ndim &&
                b->shape[b->ndim - 1] == a->shape[a->ndim - 1];
    for (i = 0; ok && i < b->ndim - 1; i++) {
        int64_t bd = b->shape[i], ad = a->shape[a->ndim - b->ndim + i];
        ok = bd == ad || bd == 1;
    }
    if (!ok) {
        char sa[80], sb[80];
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s: %s %s does not broadcast onto %s %s",
                        op, bn, tfm__shape_str(b, sb, sizeof sb), an,
                        tfm__shape_str(a, sa, sizeof sa));
    }
    return check_rows(ctx, b, op);
}

// Row of b that row r of a meets under broadcasting.
static const float *bcast_row(const tfm_tensor *a, const tfm_tensor *b, int64_t r) {
    int64_t off = 0;
    int i;
    for (i = a->ndim - 2; i >= 0; i--) {
        int64_t c = r % a->shape[i];
        int j = i - (a->ndim - b->ndim);
        r /= a->shape[i];
        if (j >= 0 && b->shape[j] != 1) off += c * b->stride[j];
    }
    return (const float *)b->data + off;
}

// ---- row-wise ops ----------------------------------------------------------------

typedef enum { ROW_ADD, ROW_MUL, ROW_SCALE, ROW_SOFTMAX, ROW_LAYERNORM,
               ROW_RMSNORM, ROW_ACT } row_kind;

typedef struct {
    row_kind kind;
    const tfm_tensor *x, *b, *out; // b: second operand or mask
    const float *g, *beta;
    float s; // scale or eps
    int act;
    const tfm__kernels *k;
} row_job;

static void row_task(void *arg, int ith, int nth) {
    const row_job *j = (const row_job *)arg;
    int64_t lo, hi, r, n = j->x->shape[j->x->ndim - 1];
    tfm__split_range(tfm__rows(j->x), ith, nth, &lo, &hi);
    for (r = lo; r < hi; r++) {
        const float *x = (const float *)tfm__row_ptr(j->x, r);
        float *o = (float *)tfm__row_ptr(j->out, r);
        const float *b = j->b ? bcast_row(j->x, j->b, r) : NULL;
        switch (j->kind) {
        case ROW_ADD: j->k->add(n, x, b, o); break;
        case ROW_MUL: j->k->mul(n, x, b, o); break;
        case ROW_SCALE: j->k->scale(n, j->s, x, o); break;
        case ROW_SOFTMAX: j->k->softmax(n, x, b, o); break;
        case ROW_LAYERNORM: j->k->layernorm(n, x, j->g, j->beta, j->s, o); break;
        case ROW_RMSNORM: j->k->rmsnorm(n, x, j->g, j->s, o); break;
        case ROW_ACT: j->k->act[j->act](n, x, o); break;
        }
    }
}

static tfm_status run_rows(tfm_ctx *ctx, row_job *j) {
    int64_t rows = tfm__rows(j->x);
    j->k = tfm__k();
    tfm__parallel(ctx, row_task, j, n_tasks(ctx, rows, tfm_tensor_numel(j->x)));
    return TFM_OK;
}

// Common checks for x -> out row ops.
static tfm_status check_unary(tfm_ctx *ctx, const tfm_tensor *x,
                              const tfm_tensor *out, const char *op) {
    char what[64];
    tfm_status st;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    snprintf(what, sizeof what, "%s: x", op);
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 1, TFM_MAX_DIMS, what))) return st;
    snprintf(what, sizeof what, "%s: out", op);
    if ((st = tfm__check_tensor(ctx, out, TFM_F32, 1, TFM_MAX_DIMS, what))) return st;
    if ((st = tfm__check_same_shape(ctx, x, out, op, "x", "out"))) return st;
    if ((st = check_rows(ctx, x, op))) return st;
    return check_rows(ctx, out, op);
}

// Checks an optional [N] parameter vector (gamma, beta, bias).
static tfm_status check_vec(tfm_ctx *ctx, const tfm_tensor *v, int64_t n,
                            const char *op, const char *name) {
    char what[64];
    tfm_status st;
    if (!v) return TFM_OK;
    snprintf(what, sizeof what, "%s: %s", op, name);
    if ((st = tfm__check_tensor(ctx, v, TFM_F32, 1, 1, what))) return st;
    if (v->shape[0] != n)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s has %lld elements, expected %lld",
                        what, (long long)v->shape[0], (long long)n);
    if (v->stride[0] != 1 && n > 1)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s must be contiguous", what);
    return TFM_OK;
}

// x with a second operand b broadcast over its rows: add and mul (b
// required), softmax (b the optional mask).
static tfm_status with_operand(tfm_ctx *ctx, row_kind kind, const tfm_tensor *x,
                               const tfm_tensor *b, int b_required, tfm_tensor *out,
                               const char *op, const char *xn, const char *bn) {
    row_job j;
    char what[64];
    tfm_status st;
    if ((st = check_unary(ctx, x, out, op))) return st;
    if (b || b_required) {
        snprintf(what, sizeof what, "%s: %s", op, bn);
        if ((st = tfm__check_tensor(ctx, b, TFM_F32, 1, TFM_MAX_DIMS, what))) return st;
        if ((st = check_bcast(ctx, x, b, op, xn, bn))) return st;
    }
    memset(&j, 0, sizeof j);
    j.kind = kind;
    j.x = x;
    j.b = b;
    j.out = out;
    return run_rows(ctx, &j);
}

tfm_status tfm_add(tfm_ctx *ctx, const tfm_tensor *a, const tfm_tensor *b,
                   tfm_tensor *out) {
    return with_operand(ctx, ROW_ADD, a, b, 1, out, "add", "a", "b");
}

tfm_status tfm_mul(tfm_ctx *ctx, const tfm_tensor *a, const tfm_tensor *b,
                   tfm_tensor *out) {
    return with_operand(ctx, ROW_MUL, a, b, 1, out, "mul", "a", "b");
}

tfm_status tfm_scale(tfm_ctx *ctx, const tfm_tensor *x, float s, tfm_tensor *out) {
    row_job j;
    tfm_status st;
    if ((st = check_unary(ctx, x, out, "scale"))) return st;
    memset(&j, 0, sizeof j);
    j.kind = ROW_SCALE;
    j.x = x;
    j.out = out;
    j.s = s;
    return run_rows(ctx, &j);
}

tfm_status tfm_softmax(tfm_ctx *ctx, const tfm_tensor *x, const tfm_tensor *mask,
                       tfm_tensor *out) {
    return with_operand(ctx, ROW_SOFTMAX, x, mask, 0, out, "softmax", "x", "mask");
}

tfm_status tfm_layernorm(tfm_ctx *ctx, const tfm_tensor *x, const tfm_tensor *gamma,
                         const tfm_tensor *beta, float eps, tfm_tensor *out) {
    row_job j;
    tfm_status st;
    int64_t n;
    if ((st = check_unary(ctx, x, out, "layernorm"))) return st;
    n = x->shape[x->ndim - 1];
    if ((st = check_vec(ctx, gamma, n, "layernorm", "gamma"))) return st;
    if ((st = check_vec(ctx, beta, n, "layernorm", "beta"))) return st;
    if (!(eps >= 0.0f))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "layernorm: eps %g is not >= 0", eps);
    memset(&j, 0, sizeof j);
    j.kind = ROW_LAYERNORM;
    j.x = x;
    j.out = out;
    j.g = gamma ? (const float *)gamma->data : NULL;
    j.beta = beta ? (const float *)beta->data : NULL;
    j.s = eps;
    return run_rows(ctx, &j);
}

tfm_status tfm_rmsnorm(tfm_ctx *ctx, const tfm_tensor *x, const tfm_tensor *gamma,
                       float eps, tfm_tensor *out) {
    row_job j;
    tfm_status st;
    if ((st = check_unary(ctx, x, out, "rmsnorm"))) return st;
    if ((st = check_vec(ctx, gamma, x->shape[x->ndim - 1], "rmsnorm", "gamma"))) return st;
    if (!(eps >= 0.0f))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "rmsnorm: eps %g is not >= 0", eps);
    memset(&j, 0, sizeof j);
    j.kind = ROW_RMSNORM;
    j.x = x;
    j.out = out;
    j.g = gamma ? (const float *)gamma->data : NULL;
    j.s = eps;
    return run_rows(ctx, &j);
}

tfm_status tfm_activation(tfm_ctx *ctx, tfm_act act, const tfm_tensor *x,
                          tfm_tensor *out) {
    row_job j;
    tfm_status st;
    if ((int)act < 0 || (int)act > TFM_ACT_SIGMOID)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "activation: unknown activation %d",
                        (int)act);
    if ((st = check_unary(ctx, x, out, "activation"))) return st;
    memset(&j, 0, sizeof j);
    j.kind = ROW_ACT;
    j.x = x;
    j.out = out;
    j.act = (int)act;
    return run_rows(ctx, &j);
}

tfm_status tfm_relu(tfm_ctx *ctx, const tfm_tensor *x, tfm_tensor *out) {
    return tfm_activation(ctx, TFM_ACT_RELU, x, out);
}
tfm_status tfm_gelu(tfm_ctx *ctx, const tfm_tensor *x, tfm_tensor *out) {
    return tfm_activation(ctx, TFM_ACT_GELU, x, out);
}
tfm_status tfm_gelu_tanh(tfm_ctx *ctx, const tfm_tensor *x, tfm_tensor *out) {
    return tfm_activation(ctx, TFM_ACT_GELU_TANH, x, out);
}
tfm_status tfm_silu(tfm_ctx *ctx, const tfm_tensor *x, tfm_tensor *out) {
    return tfm_activation(ctx, TFM_ACT_SILU, x, out);
}

// ---- matmul ---------------------------------------------------------------------------

// Whether rows 0..rows-1 of t (a row = the last dimension) sit a constant
// stride apart, so all leading dims can be seen as one M; gives that stride.
static int uniform_rows(const tfm_tensor *t, int64_t *ld) {
    int64_t step = 0, rows = 1;
    int i, have = 0;
    for (i = t->ndim - 2; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (!have) {
            step = t->stride[i];
            have = 1;
        } else if (t->stride[i] != step * rows) {
            return 0;
        }
        rows *= t->shape[i];
    }
    *ld = have ? step : t->shape[t->ndim - 1];
    return 1;
}

// Shared by tfm_matmul (plain B), tfm_matmul_packed (pb) and the weight
// matrices (linear.c): checks, then the GEMM driver (ops/gemm.c), over all
// leading dims at once when the rows of A and out are uniformly strided,
// else one matrix at a time.
tfm_status tfm__matmul(tfm_ctx *ctx, const char *op, const tfm_tensor *a,
                       const tfm_tensor *b, int trans_b, const tfm_packed_matrix *pb,
                       const tfm_tensor *bias, float alpha, float beta, tfm_tensor *out,
                       float *ws) {
    tfm__gemm_args x;
    tfm_status st;
    char what[64];
    int64_t k, n, m, i, bk, batch, lda = 0, ldc = 0;
    int flat;
    const tfm__kernels *kt;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    snprintf(what, sizeof what, "%s: a", op);
    if ((st = tfm__check_tensor(ctx, a, TFM_F32, 1, TFM_MAX_DIMS, what))) return st;
    if (pb) {
        bk = pb->kdim;
        n = pb->n;
    } else {
        snprintf(what, sizeof what, "%s: b", op);
        if ((st = tfm__check_tensor(ctx, b, TFM_F32, 2, 2, what))) return st;
        if ((st = check_rows(ctx, b, what))) return st;
        bk = trans_b ? b->shape[1] : b->shape[0];
        n = trans_b ? b->shape[0] : b->shape[1];
    }
    snprintf(what, sizeof what, "%s: out", op);
    if ((st = tfm__check_tensor(ctx, out, TFM_F32, 1, TFM_MAX_DIMS, what))) return st;
    snprintf(what, sizeof what, "%s: a", op);
    if ((st = check_rows(ctx, a, what))) return st;
    snprintf(what, sizeof what, "%s: out", op);
    if ((st = check_rows(ctx, out, what))) return st;
    k = a->shape[a->ndim - 1];
    if (bk != k) {
        char sa[80], sb[80];
        if (pb) snprintf(sb, sizeof sb, "[%lld, %lld]", (long long)bk, (long long)n);
        else tfm__shape_str(b, sb, sizeof sb);
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s: a %s has K = %lld but b %s%s has K = %lld",
                        op, tfm__shape_str(a, sa, sizeof sa), (long long)k, sb,
                        pb ? " (packed, K x N)" : trans_b ? " (transposed)" : "",
                        (long long)bk);
    }
    {
        int same = out->ndim == a->ndim && out->shape[out->ndim - 1] == n;
        for (i = 0; same && i < a->ndim - 1; i++) same = out->shape[i] == a->shape[i];
        if (!same) {
            char sa[80], so[80];
            return tfm__err(ctx, TFM_ERR_SHAPE,
                            "%s: out %s should be a's leading dims of %s with N = %lld", op,
                            tfm__shape_str(out, so, sizeof so),
                            tfm__shape_str(a, sa, sizeof sa), (long long)n);
        }
    }
    if ((st = check_vec(ctx, bias, n, op, "bias"))) return st;
    m = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
    batch = tfm__rows(a) / m;
    kt = pb ? pb->k : tfm__k();
    memset(&x, 0, sizeof x);
    x.n = n;
    x.k = k;
    x.alpha = alpha;
    x.beta = beta;
    x.b = pb ? NULL : (const float *)b->data;
    x.ldb = pb ? 0 : b->stride[0];
    x.trans_b = pb ? 0 : (trans_b ? 1 : 0);
    x.bp = pb ? pb->panels : NULL;
    x.bp16 = pb ? pb->panels16 : NULL;
    x.bp16_dtype = pb ? pb->dtype : TFM_F32;
    x.bq = pb ? pb->qpanels : NULL;
    x.bq_dtype = pb ? pb->dtype : TFM_F32;
    if (x.bq && (alpha != 1.0f || beta != 0.0f))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s: a quantized matrix takes alpha 1 and "
                        "beta 0", op);
    x.bias = bias ? (const float *)bias->data : NULL;
    x.ws = ws;
    flat = uniform_rows(a, &lda) && uniform_rows(out, &ldc);
    if (flat) {
        batch = 1;
        m = tfm__rows(a);
    }
    for (i = 0; i < batch; i++) {
        // Row i*m of A and out: the first row of this batch's matrix.
        x.m = m;
        x.a = (const float *)tfm__row_ptr(a, i * m);
        x.lda = flat ? lda : a->stride[a->ndim - 2];
        x.c = (float *)tfm__row_ptr(out, i * m);
        x.ldc = flat ? ldc : out->stride[out->ndim - 2];
        if ((st = tfm__gemm(ctx, kt, &x))) return st;
    }
    return TFM_OK;
}

tfm_status tfm_matmul(tfm_ctx *ctx, const tfm_tensor *a, const tfm_tensor *b,
                      int trans_b, const tfm_tensor *bias, float alpha, float beta,
                      tfm_tensor *out) {
    return tfm__matmul(ctx, "matmul", a, b, trans_b, NULL, bias, alpha, beta, out, NULL);
}

tfm_status tfm_matmul_packed(tfm_ctx *ctx, const tfm_tensor *a, const tfm_packed_matrix *b,
                             const tfm_tensor *bias, float alpha, float beta,
                             tfm_tensor *out) {
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!b) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "matmul_packed: b is NULL");
    return tfm__matmul(ctx, "matmul_packed", a, NULL, 0, b, bias, alpha, beta, out, NULL);
}

// ---- embedding gather ---------------------------------------------------------------

tfm_status tfm_embedding(tfm_ctx *ctx, const tfm_tensor *table, const tfm_tensor *ids,
                         tfm_tensor *out) {
    const tfm__kernels *k;
    tfm_status st;
    int64_t v, d, n, i;
    int ok;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!table) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "embedding: table is NULL");
    if (table->dtype == TFM__Q8 || table->dtype == TFM__Q4) {
        // a quantized matrix (an output projection tied to the embeddings:
        // models only): rows dequantized
        if (table->ndim != 2 || !table->data)
            return tfm__err(ctx, TFM_ERR_SHAPE, "embedding: a quantized table must be 2-D");
    } else if (table->dtype != TFM_F32 && table->dtype != TFM_F16 && table->dtype != TFM_BF16) {
        return tfm__err(ctx, TFM_ERR_DTYPE,
                        "embedding: table has dtype %s, expected f32, f16 or bf16",
                        tfm_dtype_name((tfm_dtype)table->dtype));
    } else {
        if ((st = tfm__check_tensor(ctx, table, (tfm_dtype)table->dtype, 2, 2,
                                    "embedding: table")))
            return st;
        if ((st = check_rows(ctx, table, "embedding: table"))) return st;
    }
    if ((st = tfm__check_tensor(ctx, ids, TFM_I32, 1, TFM_MAX_DIMS - 1, "embedding: ids")))
        return st;
    if ((st = tfm__check_tensor(ctx, out, TFM_F32, 2, TFM_MAX_DIMS, "embedding: out")))
        return st;
    if ((st = check_rows(ctx, out, "embedding: out"))) return st;
    v = table->shape[0];
    d = table->shape[1];
    ok = out->ndim == ids->ndim + 1 && out->shape[out->ndim - 1] == d;
    for (i = 0; ok && i < ids->ndim; i++) ok = out->shape[i] == ids->shape[i];
    if (!ok) {
        char si[80], so[80];
        return tfm__err(ctx, TFM_ERR_SHAPE, "embedding: out %s should be ids %s + [%lld]",
                        tfm__shape_str(out, so, sizeof so), tfm__shape_str(ids, si, sizeof si),
                        (long long)d);
    }
    k = tfm__k();
    n = tfm_tensor_numel(ids);
    for (i = 0; i < n; i++) {
        int64_t id = ((const int32_t *)ids->data)[tfm__elem_offset(ids, i)];
        if (id < 0 || id >= v)
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "embedding: id %lld at position %lld is outside [0, %lld)",
                            (long long)id, (long long)i, (long long)v);
    }
    for (i = 0; i < n; i++) {
        int64_t off = tfm__elem_offset(ids, i);
        float *o = (float *)tfm__row_ptr(out, i);
        const char *row;
        if (table->dtype == TFM__Q8 || table->dtype == TFM__Q4) {
            tfm__q_row(table->dtype, (const uint8_t *)table->data, d,
                       ((const int32_t *)ids->data)[off], o);
            continue;
        }
        row = (const char *)table->data + (size_t)((const int32_t *)ids->data)[off] *
                                              (size_t)table->stride[0] *
                                              tfm_dtype_size((tfm_dtype)table->dtype);
        if (table->dtype == TFM_F32) memcpy(o, row, (size_t)d * sizeof(float));
        else if (table->dtype == TFM_F16) k->f16_to_f32(d, (const uint16_t *)row, o);
        else k->bf16_to_f32(d, (const uint16_t *)row, o);
    }
    return TFM_OK;
}

// ---- rows --------------------------------------------------------------------------

void tfm__vec_add(int64_t n, const float *a, const float *b, float *out) {
    tfm__k()->add(n, a, b, out);
}

void tfm__vec_scale(int64_t n, float s, const float *x, float *out) {
    tfm__k()->scale(n, s, x, out);
}
