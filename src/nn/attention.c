/*
 * Scaled dot-product attention (the core every attention module runs) and
 * additive (Bahdanau) attention.
 *
 * Letters: B batch, H query heads, Hkv key/value heads, Sq queries, Sk keys,
 * Dh query/key width, Dv value width. Query i sits at key position
 * Sk - Sq + i (the queries are the last Sq positions).
 *
 * Work is split over output rows (b, h, i); each row is computed alone, with
 * the same operations in the same order whatever the split, so results are
 * bit-identical for any thread count.
 */
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ATTN_PAR_MIN 16384 // below this much work (multiply-adds) one task

void tfm_attn_masks_init(tfm_attn_masks *dst, size_t struct_size) {
    tfm_attn_masks m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    tfm__params_init(dst, struct_size, &m, sizeof m);
}

void tfm_attn_params_init(tfm_attn_params *dst, size_t struct_size) {
    tfm_attn_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.masks = tfm_attn_masks_default();
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

// ---- checks ------------------------------------------------------------------------

static tfm_status check4(tfm_ctx *ctx, const tfm_tensor *t, const char *op,
                         const char *name) {
    char what[96];
    tfm_status st;
    snprintf(what, sizeof what, "%s: %s", op, name);
    if ((st = tfm__check_tensor(ctx, t, TFM_F32, 4, 4, what))) return st;
    if (t->stride[3] != 1 && t->shape[3] != 1)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s: the last dimension must be contiguous",
                        what);
    return TFM_OK;
}

static tfm_status shape_err(tfm_ctx *ctx, const char *op, const char *name,
                            const tfm_tensor *t, const char *want) {
    char sh[80];
    return tfm__err(ctx, TFM_ERR_SHAPE, "%s: %s is %s, expected %s", op, name,
                    tfm__shape_str(t, sh, sizeof sh), want);
}

tfm_status tfm__attn_setup(tfm_ctx *ctx, const tfm_tensor *q, const tfm_tensor *k,
                           const tfm_tensor *v, const tfm_attn_params *params,
                           tfm_tensor *out, tfm_tensor *probs, const char *op,
                           tfm__attn *a) {
    tfm_status st;
    tfm_attn_params pc;
    char want[128];
    int d;
    memset(a, 0, sizeof *a);
    if ((st = check4(ctx, q, op, "q"))) return st;
    if ((st = check4(ctx, k, op, "k"))) return st;
    if ((st = check4(ctx, v, op, "v"))) return st;
    if ((st = check4(ctx, out, op, "out"))) return st;
    if (params) {
        snprintf(want, sizeof want, "%s: params", op);
        pc = tfm_attn_params_default();
        if ((st = TFM__PARAMS_READ(ctx, pc, params, want))) return st;
        params = &pc;
    }
    a->B = q->shape[0];
    a->H = q->shape[1];
    a->Sq = q->shape[2];
    a->Dh = q->shape[3];
    a->Hkv = k->shape[1];
    a->Sk = k->shape[2];
    a->Dv = v->shape[3];
    if (k->shape[0] != a->B || k->shape[3] != a->Dh) {
        snprintf(want, sizeof want, "[%lld, Hkv, Sk, %lld] (q's batch and head width)",
                 (long long)a->B, (long long)a->Dh);
        return shape_err(ctx, op, "k", k, want);
    }
    if (a->H % a->Hkv != 0)
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "%s: %lld query heads are not a multiple of %lld key/value heads",
                        op, (long long)a->H, (long long)a->Hkv);
    if (v->shape[0] != a->B || v->shape[1] != a->Hkv || v->shape[2] != a->Sk) {
        snprintf(want, sizeof want, "[%lld, %lld, %lld, Dv] (k's batch, heads, keys)",
                 (long long)a->B, (long long)a->Hkv, (long long)a->Sk);
        return shape_err(ctx, op, "v", v, want);
    }
    if (out->shape[0] != a->B || out->shape[1] != a->H || out->shape[2] != a->Sq ||
        out->shape[3] != a->Dv) {
        snprintf(want, sizeof want, "[%lld, %lld, %lld, %lld]", (long long)a->B,
                 (long long)a->H, (long long)a->Sq, (long long)a->Dv);
        return shape_err(ctx, op, "out", out, want);
    }
    if (probs) {
        if ((st = check4(ctx, probs, op, "probs"))) return st;
        if (probs->shape[0] != a->B || probs->shape[1] != a->H ||
            probs->shape[2] != a->Sq || probs->shape[3] != a->Sk) {
            snprintf(want, sizeof want, "[%lld, %lld, %lld, %lld]", (long long)a->B,
                     (long long)a->H, (long long)a->Sq, (long long)a->Sk);
            return shape_err(ctx, op, "probs", probs, want);
        }
        a->p = (float *)probs->data;
        for (d = 0; d < 3; d++) a->ps[d] = probs->stride[d];
    }
    a->q = (const float *)q->data;
    a->k = (const float *)k->data;
    a->v = (const float *)v->data;
    a->o = (float *)out->data;
    for (d = 0; d < 3; d++) {
        a->qs[d] = q->stride[d];
        a->ks[d] = k->stride[d];
        a->vs[d] = v->stride[d];
        a->os[d] = out->stride[d];
    }
    a->scale = 1.0f / sqrtf((float)a->Dh);
    if (params) {
        const tfm_attn_masks *m = &params->masks;
        if (params->scale != 0.0f) {
            if (!isfinite(params->scale))
                return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s: scale is not finite", op);
            a->scale = params->scale;
        }
        a->causal = params->causal != 0;
        a->alibi = params->alibi_slopes;
        if (m->key_padding_mask) {
            char what[96];
            snprintf(what, sizeof what, "%s: key_padding_mask", op);
            if ((st = tfm__check_pad_mask(ctx, m->key_padding_mask, a->B, a->Sk, what)))
                return st;
            a->kpm = m->key_padding_mask;
        }
        if (m->attn_mask) {
            const tfm_tensor *am = m->attn_mask;
            int64_t full[4];
            int ok;
            full[0] = a->B;
            full[1] = a->H;
            full[2] = a->Sq;
            full[3] = a->Sk;
            if (am->dtype != TFM_F32 && am->dtype != TFM_U8)
                return tfm__err(ctx, TFM_ERR_DTYPE,
                                "%s: attn_mask has dtype %s, expected f32 or u8", op,
                                tfm_dtype_name((tfm_dtype)am->dtype));
            ok = am->ndim >= 1 && am->ndim <= 4;
            for (d = 0; ok && d < 4; d++) {
                int j = d - (4 - am->ndim);
                a->am_s[d] = 0;
                if (j < 0) continue;
                if (am->shape[j] == full[d]) a->am_s[d] = full[d] == 1 ? 0 : am->stride[j];
                else if (am->shape[j] != 1) ok = 0;
            }
            if (!ok) {
                snprintf(want, sizeof want,
                         "a shape that broadcasts onto [%lld, %lld, %lld, %lld]",
                         (long long)a->B, (long long)a->H, (long long)a->Sq,
                         (long long)a->Sk);
                return shape_err(ctx, op, "attn_mask", am, want);
            }
            a->am = am;
        }
    }
    return TFM_OK;
}

// ---- the core -------------------------------------------------------------------------

typedef struct {
    const tfm__attn *a;
    const tfm__kernels *k;
    const tfm__gemm_kernels *g;
    float *scratch;
} attn_job;

static int attn_tasks(tfm_ctx *ctx, const tfm__attn *a) {
    int64_t rows = a->B * a->H * a->Sq;
    int nt = tfm_ctx_n_threads(ctx);
    double work = (double)rows * (double)a->Sk * (double)(a->Dh + a->Dv);
    if (work < (a->par_min > 0 ? a->par_min : ATTN_PAR_MIN) || rows < 2) return 1;
    return rows < nt ? (int)rows : nt;
}

int64_t tfm__attn_scratch(tfm_ctx *ctx, int64_t sk) {
    return (int64_t)tfm_ctx_n_threads(ctx) * (sk > 0 ? sk : 1);
}

static void attn_row(const tfm__attn *a, const tfm__kernels *kt, const tfm__gemm_kernels *g,
                     int64_t r, float *s) {
    int64_t b = r / (a->H * a->Sq), h = (r / a->Sq) % a->H, i = r % a->Sq;
    int64_t kh = h / (a->H / a->Hkv), pos = a->Sk - a->Sq + i, nk = a->Sk, j;
    const float *qr = a->q + b * a->qs[0] + h * a->qs[1] + i * a->qs[2];
    const float *kb = a->k + b * a->ks[0] + kh * a->ks[1];
    const float *vb = a->v + b * a->vs[0] + kh * a->vs[1];
    float *orow = a->o + b * a->os[0] + h * a->os[1] + i * a->os[2];
    if (a->causal) nk = pos + 1 < a->Sk ? (pos + 1 > 0 ? pos + 1 : 0) : a->Sk;
    // scores = scale * q . k_j (the GEMV kernel: several keys per pass, each
    // score the same sum whatever the blocking), then the masks
    if (nk > 0) g->gemv_t(1, nk, a->Dh, a->scale, qr, a->Dh, kb, a->ks[2], 0.0f, s, nk);
    if (a->alibi) {
        float sl = a->alibi[h];
        for (j = 0; j < nk; j++) s[j] += sl * (float)(j - pos);
    }
    if (a->kpm)
        for (j = 0; j < nk; j++)
            if (tfm__pad_at(a->kpm, b, j)) s[j] = -INFINITY;
    if (a->am) {
        int64_t off = b * a->am_s[0] + h * a->am_s[1] + i * a->am_s[2];
        if (a->am->dtype == TFM_F32) {
            const float *m = (const float *)a->am->data + off;
            for (j = 0; j < nk; j++) s[j] += m[j * a->am_s[3]];
        } else {
            const uint8_t *m = (const uint8_t *)a->am->data + off;
            for (j = 0; j < nk; j++)
                if (m[j * a->am_s[3]]) s[j] = -INFINITY;
        }
    }
    // softmax (a fully masked row gives zeros)
    if (nk > 0) kt->softmax(nk, s, NULL, s);
    if (a->p) {
        float *pr = a->p + b * a->ps[0] + h * a->ps[1] + i * a->ps[2];
        if (nk > 0) memcpy(pr, s, (size_t)nk * sizeof(float));
        for (j = nk; j < a->Sk; j++) pr[j] = 0.0f;
    }
    // out = sum_j p_j v_j
    memset(orow, 0, (size_t)a->Dv * sizeof(float));
    for (j = 0; j < nk; j++)
        if (s[j] != 0.0f) kt->axpy(a->Dv, s[j], vb + j * a->vs[2], orow);
}

static void attn_task(void *arg, int ith, int nth) {
    const attn_job *j = (const attn_job *)arg;
    int64_t lo, hi, r;
    float *s = j->scratch + (int64_t)ith * (j->a->Sk > 0 ? j->a->Sk : 1);
    tfm__split_range(j->a->B * j->a->H * j->a->Sq, ith, nth, &lo, &hi);
    for (r = lo; r < hi; r++) attn_row(j->a, j->k, j->g, r, s);
}

void tfm__attn_run(tfm_ctx *ctx, const tfm__attn *a, float *scratch) {
    attn_job j;
    j.a = a;
    j.k = tfm__k();
    j.g = tfm__gemm_of(j.k);
    j.scratch = scratch;
    tfm__parallel(ctx, attn_task, &j, attn_tasks(ctx, a));
}

tfm_status tfm_attention(tfm_ctx *ctx, const tfm_tensor *q, const tfm_tensor *k,
                         const tfm_tensor *v, const tfm_attn_params *params,
                         tfm_tensor *out, tfm_tensor *probs) {
    tfm__attn a;
    tfm_status st;
    float *scratch;
    size_t bytes;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if ((st = tfm__attn_setup(ctx, q, k, v, params, out, probs, "attention", &a)))
        return st;
    if (!tfm__mul_size((size_t)tfm__attn_scratch(ctx, a.Sk), sizeof(float), &bytes))
        return tfm__err(ctx, TFM_ERR_RANGE, "attention: scratch size overflows");
    scratch = (float *)tfm__alloc_nozero(ctx, bytes);
    if (!scratch)
        return tfm__err(ctx, TFM_ERR_NOMEM, "attention: out of memory, cannot allocate %zu bytes", bytes);
    tfm__attn_run(ctx, &a, scratch);
    tfm__free(ctx, scratch, bytes);
    return TFM_OK;
}

// ---- additive (Bahdanau) attention ---------------------------------------------------------
//
// Buffers: qp [B, Sq, A] = q W_q^T + b, kp [B, Sk, A] = keys W_k^T, and per
// task A + Sk floats (the tanh vector and the scores).

void tfm_additive_weights_init(tfm_additive_weights *dst, size_t struct_size) {
    tfm_additive_weights w;
    memset(&w, 0, sizeof w);
    w.struct_size = sizeof w;
    tfm__params_init(dst, struct_size, &w, sizeof w);
}

typedef struct {
    const float *qp, *kp, *v, *vals;
    int64_t B, Sq, Sk, A, Dv, vs[2];
    const tfm_tensor *kpm, *ctxo, *wo;
    float *scratch;
    const tfm__kernels *k;
} add_job;

static void add_task(void *arg, int ith, int nth) {
    const add_job *j = (const add_job *)arg;
    int64_t lo, hi, r, c;
    float *t = j->scratch + (int64_t)ith * (j->A + j->Sk), *s = t + j->A;
    tfm__split_range(j->B * j->Sq, ith, nth, &lo, &hi);
    for (r = lo; r < hi; r++) {
        int64_t b = r / j->Sq, i = r % j->Sq;
        const float *q = j->qp + r * j->A;
        float *o = (float *)j->ctxo->data + b * j->ctxo->stride[0] + i * j->ctxo->stride[1];
        for (c = 0; c < j->Sk; c++) {
            if (j->kpm && tfm__pad_at(j->kpm, b, c)) {
                s[c] = -INFINITY;
                continue;
            }
            j->k->add(j->A, q, j->kp + (b * j->Sk + c) * j->A, t);
            j->k->act[TFM_ACT_TANH](j->A, t, t);
            s[c] = j->k->dot(j->A, j->v, t);
        }
        j->k->softmax(j->Sk, s, NULL, s);
        if (j->wo)
            memcpy((float *)j->wo->data + b * j->wo->stride[0] + i * j->wo->stride[1], s,
                   (size_t)j->Sk * sizeof(float));
        memset(o, 0, (size_t)j->Dv * sizeof(float));
        for (c = 0; c < j->Sk; c++)
            if (s[c] != 0.0f)
                j->k->axpy(j->Dv, s[c], j->vals + b * j->vs[0] + c * j->vs[1], o);
    }
}

static tfm_status check3(tfm_ctx *ctx, const tfm_tensor *t, int64_t b, int64_t s, int64_t d,
                         const char *what) {
    tfm_status st;
    char sh[80];
    if ((st = tfm__check_tensor(ctx, t, TFM_F32, 3, 3, what))) return st;
    if ((b >= 0 && t->shape[0] != b) || (s >= 0 && t->shape[1] != s) ||
        (d >= 0 && t->shape[2] != d))
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s is %s, expected [%lld, %lld, %lld] (-1: any)",
                        what, tfm__shape_str(t, sh, sizeof sh), (long long)b, (long long)s,
                        (long long)d);
    if (t->stride[2] != 1 && t->shape[2] > 1)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s: the last dimension must be contiguous", what);
    return TFM_OK;
}

tfm_status tfm_additive_attention(tfm_ctx *ctx, const tfm_additive_weights *w,
                                  const tfm_tensor *q, const tfm_tensor *keys,
                                  const tfm_tensor *values, const tfm_tensor *kpm,
                                  tfm_tensor *context, tfm_tensor *weights) {
    const char *op = "additive_attention";
    tfm_status st;
    int64_t B, Sq, Sk, A, Dv, sh[3];
    size_t nq, nk, ns, bytes;
    float *buf;
    tfm_tensor tqp, tkp;
    add_job j;
    char s1[80];
    int tasks, nt;
    tfm_additive_weights wc = tfm_additive_weights_default();
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (w && (st = TFM__PARAMS_READ(ctx, wc, w, "additive_attention: weights"))) return st;
    if (!w || !wc.wq || !wc.wk || !wc.v)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "%s: weights wq, wk and v are required (tfm_additive_weights_init)",
                        op);
    w = &wc;
    if ((st = tfm__check_tensor(ctx, w->wq, TFM_F32, 2, 2, "additive_attention: wq")) ||
        (st = tfm__check_tensor(ctx, w->wk, TFM_F32, 2, 2, "additive_attention: wk")) ||
        (st = tfm__check_tensor(ctx, w->v, TFM_F32, 1, 1, "additive_attention: v")))
        return st;
    A = w->wq->shape[0];
    if (w->wk->shape[0] != A || w->v->shape[0] != A || (w->b && (w->b->dtype != TFM_F32 ||
                                                              w->b->ndim != 1 ||
                                                              w->b->shape[0] != A)))
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "%s: wk %s, v and b must have wq's %lld attention units", op,
                        tfm__shape_str(w->wk, s1, sizeof s1), (long long)A);
    if ((st = check3(ctx, q, -1, -1, w->wq->shape[1], "additive_attention: q"))) return st;
    B = q->shape[0];
    Sq = q->shape[1];
    if ((st = check3(ctx, keys, B, -1, w->wk->shape[1], "additive_attention: keys"))) return st;
    Sk = keys->shape[1];
    if (!values) values = keys;
    if ((st = check3(ctx, values, B, Sk, -1, "additive_attention: values"))) return st;
    Dv = values->shape[2];
    if ((st = check3(ctx, context, B, Sq, Dv, "additive_attention: context"))) return st;
    if (weights && (st = check3(ctx, weights, B, Sq, Sk, "additive_attention: weights")))
        return st;
    if ((st = tfm__check_pad_mask(ctx, kpm, B, Sk, "additive_attention: key_padding_mask")))
        return st;
    nt = tfm_ctx_n_threads(ctx);
    nq = (size_t)(B * Sq * A);
    nk = (size_t)(B * Sk * A);
    ns = (size_t)nt * (size_t)(A + Sk);
    if (!tfm__mul_size(nq + nk + ns, sizeof(float), &bytes))
        return tfm__err(ctx, TFM_ERR_RANGE, "%s: scratch size overflows", op);
    buf = (float *)tfm__alloc_nozero(ctx, bytes);
    if (!buf) return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory, cannot allocate %zu bytes", op, bytes);
    sh[0] = B; sh[1] = Sq; sh[2] = A;
    tfm__view_c(&tqp, buf, 3, sh);
    sh[1] = Sk;
    tfm__view_c(&tkp, buf + nq, 3, sh);
    if ((st = tfm_matmul(ctx, q, w->wq, 1, w->b, 1.0f, 0.0f, &tqp)) ||
        (st = tfm_matmul(ctx, keys, w->wk, 1, NULL, 1.0f, 0.0f, &tkp))) {
        tfm__free(ctx, buf, bytes);
        return st;
    }
    memset(&j, 0, sizeof j);
    j.qp = buf;
    j.kp = buf + nq;
    j.v = (const float *)w->v->data;
    j.vals = (const float *)values->data;
    j.vs[0] = values->stride[0];
    j.vs[1] = values->stride[1];
    j.B = B; j.Sq = Sq; j.Sk = Sk; j.A = A; j.Dv = Dv;
    j.kpm = kpm;
    j.ctxo = context;
    j.wo = weights;
    j.scratch = buf + nq + nk;
    j.k = tfm__k();
    tasks = (double)B * Sq * Sk * A < ATTN_PAR_MIN || B * Sq < 2 ? 1
            : (B * Sq < nt ? (int)(B * Sq) : nt);
    tfm__parallel(ctx, add_task, &j, tasks);
    tfm__free(ctx, buf, bytes);
    return TFM_OK;
}
