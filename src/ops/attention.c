/*
 * Scaled dot-product attention (the core every attention module runs) and
 * additive (Bahdanau) attention.
 *
 * Letters: B batch, H query heads, Hkv key/value heads, Sq queries, Sk keys,
 * Dh query/key width, Dv value width. Query i sits at key position
 * Sk - Sq + i (the queries are the last Sq positions).
 *
 * Work is split over units of (b, key/value head, query heads, query block)
 * (see "the core"); each output element gets the same operations in the
 * same order whatever the split, so results are bit-identical for any
 * thread count.
 */
#include "ops.h"
#include "../kernels/kernels.h"

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
//
// A unit of work is (batch, key/value head, a group of the query heads that
// share it, a block of queries). Its scores S = scale * Q K^T come from the
// GEMM kernels over packed blocks of K, each packed block serving every head
// of the group (grouped-query heads read their K and V once); the masks and
// a softmax per row follow, then O = P V, again over packed blocks of V.
// The keys of a unit end at the last one its last query sees (causal); a
// row's probabilities past its own last key are zeros in P.
//
// Blocks of at least MR queries run the micro-kernel on packed A; smaller
// ones (a decoding step: one query, or the query heads of one key/value head)
// the small-M kernel on the same packed B, which gives every element the
// same arithmetic as the micro-kernel (kernels.h; tests/kernels/test_attn.c
// checks it). So each output element is one fixed sequence of operations
// whatever the blocking: the same bits for any thread count, and a query
// row gets the same result whether its call holds 1 or 500 queries (a
// prompt fed in pieces matches the prompt fed whole).

#define ATTN_ROWS 128    // score rows of a unit at most (up to 512 keys)
#define ATTN_MIN_ROWS 8  // ... and at least (long key ranges)
#define ATTN_KC 256      // depth of a packed block (head width; keys in P V)
#define ATTN_NB 128      // width of a packed B block (keys; value columns)

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t r16(int64_t n) { return (n + 15) & ~(int64_t)15; }

// Per-task scratch of a call with sk keys, in floats: the score block, the
// packed A and B blocks, and 16 floats to align the task's base to 64 bytes.
// The score block holds ATTN_ROWS rows up to 512 keys, then a constant
// ATTN_ROWS * 512 floats (fewer rows), down to ATTN_MIN_ROWS rows: it never
// shrinks as sk grows, so scratch sized for a longer context serves any
// shorter call.
typedef struct {
    int64_t rows, nb; // score rows per unit; packed B width (whole panels)
    int64_t s, wa, wb, task;
} attn_sizes;

static attn_sizes attn_sizes_of(const tfm__gemm_kernels *g, int64_t sk) {
    attn_sizes z;
    int64_t n = sk > 1 ? sk : 1, area = n <= 512 ? ATTN_ROWS * n : ATTN_ROWS * 512;
    int64_t low = (ATTN_MIN_ROWS > g->mr ? ATTN_MIN_ROWS : g->mr) * n;
    if (area < low) area = low;
    z.rows = area / n;
    z.nb = ATTN_NB / g->nr * g->nr;
    if (z.nb < g->nr) z.nb = g->nr;
    z.s = r16(area);
    z.wa = r16(z.rows * ATTN_KC);
    z.wb = r16((int64_t)ATTN_KC * z.nb);
    z.task = z.s + z.wa + z.wb + 16;
    return z;
}

int64_t tfm__attn_scratch(tfm_ctx *ctx, int64_t sk) {
    return (int64_t)tfm_ctx_n_threads(ctx) * attn_sizes_of(tfm__gemm_of(tfm__k()), sk).task;
}

// Units: query blocks of mb rows (mbp: rounded up to MR), gu query heads per
// unit, ngu such groups per key/value head.
typedef struct {
    int64_t mb, mbp, nqb, gu, ngu, units;
} attn_plan;

static void attn_plan_of(const tfm__attn *a, const tfm__gemm_kernels *g, const attn_sizes *z,
                         attn_plan *p) {
    int64_t G = a->H / a->Hkv, mb = imin(a->Sq, z->rows), per;
    if (mb >= g->mr) mb -= mb % g->mr; // whole micro-panels
    p->nqb = cdiv(a->Sq, mb);
    p->mb = cdiv(a->Sq, p->nqb); // blocks of even size, none larger
    p->mbp = cdiv(p->mb, g->mr) * g->mr;
    per = p->mb < g->mr ? p->mb : p->mbp; // rows a head takes (packed A: mbp)
    p->gu = imin(G, z->rows / per > 0 ? z->rows / per : 1);
    p->ngu = cdiv(G, p->gu);
    p->gu = cdiv(G, p->ngu);
    p->units = a->B * a->Hkv * p->ngu * p->nqb;
}

typedef struct {
    const tfm__attn *a;
    const tfm__kernels *k;
    const tfm__gemm_kernels *g;
    attn_sizes z;
    attn_plan p;
    float *scratch;
} attn_job;

static int attn_tasks(tfm_ctx *ctx, const attn_job *j) {
    const tfm__attn *a = j->a;
    int nt = tfm_ctx_n_threads(ctx);
    double work = (double)(a->B * a->H * a->Sq) * (double)a->Sk * (double)(a->Dh + a->Dv);
    if (work < (a->par_min > 0 ? a->par_min : ATTN_PAR_MIN) || j->p.units < 2) return 1;
    return j->p.units < nt ? (int)j->p.units : nt;
}

// Keys that query i sees.
static int64_t keys_of(const tfm__attn *a, int64_t i) {
    int64_t pos = a->Sk - a->Sq + i;
    if (!a->causal) return a->Sk;
    return pos + 1 < a->Sk ? (pos + 1 > 0 ? pos + 1 : 0) : a->Sk;
}

// Row (b, h, i) of scores s[0, nk) -> probabilities: the masks, then a
// softmax (a fully masked row gives zeros); copied out when asked for.
static void mask_softmax(const tfm__attn *a, const tfm__kernels *kt, int64_t b, int64_t h,
                         int64_t i, float *s, int64_t nk) {
    int64_t pos = a->Sk - a->Sq + i, j;
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
    if (nk > 0) kt->softmax(nk, s, NULL, s);
    if (a->p) {
        float *pr = a->p + b * a->ps[0] + h * a->ps[1] + i * a->ps[2];
        if (nk > 0) memcpy(pr, s, (size_t)nk * sizeof(float));
        for (j = nk; j < a->Sk; j++) pr[j] = 0.0f;
    }
}

// C = alpha * A B (+ C when beta is 1) for the gn heads of a unit over one
// packed B block (kcb x ncb, panels kcb * NR apart): A rows of head gi at
// a + gi * ahs, lda apart (small blocks), or packed at wa (mbp rows a head);
// C rows of head gi at c + gi * chs, ldc apart.
static void unit_mm(const tfm__gemm_kernels *g, int64_t gn, int64_t mi, int64_t mbp,
                    int64_t kcb, int64_t ncb, float alpha, float beta, const float *a,
                    int64_t ahs, int64_t lda, const float *wa, const float *wb, float *c,
                    int64_t chs, int64_t ldc) {
    const int64_t mr = g->mr, nr = g->nr;
    int64_t gi, jr, t;
    if (mi < mr && mi == 1 && gn > 1) { // one query of several heads: one call
        g->gemv_p(gn, ncb, kcb, alpha, a, ahs, wb, beta, c, chs);
    } else if (mi < mr) {
        for (gi = 0; gi < gn; gi++)
            g->gemv_p(mi, ncb, kcb, alpha, a + gi * ahs, lda, wb, beta, c + gi * chs, ldc);
    } else {
        for (jr = 0; jr < ncb; jr += nr)
            for (gi = 0; gi < gn; gi++)
                for (t = 0; t < mi; t += mr)
                    g->ukr(kcb, wa + gi * mbp * kcb + t * kcb, wb + (jr / nr) * kcb * nr,
                           alpha, beta, c + gi * chs + t * ldc + jr, ldc, imin(mr, mi - t),
                           imin(nr, ncb - jr));
    }
}

// o[dv] = sum_j p_j v_j over nk keys (rows vs apart) with the micro-kernel's
// arithmetic: per block of ATTN_KC keys one fused multiply-add chain from
// zero (axpy, as the SIMD micro-kernels and their axpy both fuse and the
// scalar ones both do not), blocks added in order (tmp: dv floats).
static void pv_row(const tfm__kernels *kt, int64_t nk, int64_t dv, const float *p,
                   const float *v, int64_t vs, float *o, float *tmp) {
    int64_t pc, j, n;
    for (pc = 0; pc < nk; pc += ATTN_KC) {
        float *acc = pc ? tmp : o;
        n = imin(ATTN_KC, nk - pc);
        memset(acc, 0, (size_t)dv * sizeof(float));
        for (j = pc; j < pc + n; j++) kt->axpy(dv, p[j], v + j * vs, acc);
        if (pc) kt->add(dv, o, tmp, o);
    }
}

static void attn_unit(const attn_job *jb, int64_t u, float *s, float *wa, float *wb) {
    const tfm__attn *a = jb->a;
    const tfm__gemm_kernels *g = jb->g;
    const attn_plan *p = &jb->p;
    const int64_t G = a->H / a->Hkv, nr = g->nr, nb = jb->z.nb, mb = p->mb, mbp = p->mbp;
    int64_t qb = u % p->nqb, hg = (u / p->nqb) % p->ngu, kh = (u / (p->nqb * p->ngu)) % a->Hkv,
            b = u / (p->nqb * p->ngu * a->Hkv);
    int64_t h0 = kh * G + hg * p->gu, gn = imin(p->gu, G - hg * p->gu);
    int64_t i0 = qb * mb, mi = imin(mb, a->Sq - i0), nk = keys_of(a, i0 + mi - 1), ld = nk;
    const float *qb0 = a->q + b * a->qs[0] + h0 * a->qs[1] + i0 * a->qs[2];
    const float *kb = a->k + b * a->ks[0] + kh * a->ks[1];
    const float *vb = a->v + b * a->vs[0] + kh * a->vs[1];
    float *ob = a->o + b * a->os[0] + h0 * a->os[1] + i0 * a->os[2];
    int small = mi < g->mr;
    int64_t pc, kcb, jc, gi, i;

    // S = scale * Q K^T (head gi's rows at s + gi * mb * ld)
    for (pc = 0; nk > 0 && (pc < a->Dh || pc == 0); pc += ATTN_KC) {
        kcb = imin(ATTN_KC, a->Dh - pc);
        if (!small)
            for (gi = 0; gi < gn; gi++)
                g->pack_a(mi, kcb, qb0 + gi * a->qs[1] + pc, a->qs[2], wa + gi * mbp * kcb);
        for (jc = 0; jc < nk; jc += nb) {
            int64_t ncb = imin(nb, nk - jc);
            g->pack_b(kcb, ncb, kb + jc * a->ks[2] + pc, a->ks[2], 1, wb, kcb * nr);
            unit_mm(g, gn, mi, mbp, kcb, ncb, a->scale, pc ? 1.0f : 0.0f, qb0 + pc, a->qs[1],
                    a->qs[2], wa, wb, s + jc, mb * ld, ld);
        }
    }
    // masks and softmax per row, zeros past a row's own keys
    for (gi = 0; gi < gn; gi++)
        for (i = 0; i < mi; i++) {
            float *sr = s + (gi * mb + i) * ld;
            int64_t ni = keys_of(a, i0 + i);
            mask_softmax(a, jb->k, b, h0 + gi, i0 + i, sr, ni);
            if (ni < nk) memset(sr + ni, 0, (size_t)(nk - ni) * sizeof(float));
        }
    // O = P V
    if (nk == 0)
        for (gi = 0; gi < gn; gi++)
            for (i = 0; i < mi; i++)
                memset(ob + gi * a->os[1] + i * a->os[2], 0, (size_t)a->Dv * sizeof(float));
    if (small) { // rows of a few queries: axpy over the keys, V read in place
        for (gi = 0; gi < gn; gi++)
            for (i = 0; i < mi; i++)
                for (jc = 0; jc < a->Dv; jc += jb->z.wa) // tmp: wa, in slices
                    pv_row(jb->k, nk, imin(jb->z.wa, a->Dv - jc), s + (gi * mb + i) * ld,
                           vb + jc, a->vs[2], ob + gi * a->os[1] + i * a->os[2] + jc, wa);
        return;
    }
    for (pc = 0; pc < nk; pc += ATTN_KC) {
        kcb = imin(ATTN_KC, nk - pc);
        for (gi = 0; gi < gn; gi++)
            g->pack_a(mi, kcb, s + gi * mb * ld + pc, ld, wa + gi * mbp * kcb);
        for (jc = 0; jc < a->Dv; jc += nb) {
            int64_t ncb = imin(nb, a->Dv - jc);
            g->pack_b(kcb, ncb, vb + pc * a->vs[2] + jc, a->vs[2], 0, wb, kcb * nr);
            unit_mm(g, gn, mi, mbp, kcb, ncb, 1.0f, pc ? 1.0f : 0.0f, s + pc, mb * ld, ld, wa,
                    wb, ob + jc, a->os[1], a->os[2]);
        }
    }
}

static void attn_task(void *arg, int ith, int nth) {
    const attn_job *j = (const attn_job *)arg;
    float *base = j->scratch + (int64_t)ith * j->z.task;
    float *s = (float *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
    int64_t lo, hi, u;
    tfm__split_range(j->p.units, ith, nth, &lo, &hi);
    for (u = lo; u < hi; u++) attn_unit(j, u, s, s + j->z.s, s + j->z.s + j->z.wa);
}

void tfm__attn_run(tfm_ctx *ctx, const tfm__attn *a, float *scratch) {
    attn_job j;
    memset(&j, 0, sizeof j);
    j.a = a;
    j.k = tfm__k();
    j.g = tfm__gemm_of(j.k);
    j.z = attn_sizes_of(j.g, a->Sk);
    if (a->B <= 0 || a->H <= 0 || a->Sq <= 0) return;
    attn_plan_of(a, j.g, &j.z, &j.p);
    j.scratch = scratch;
    tfm__parallel(ctx, attn_task, &j, attn_tasks(ctx, &j));
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
