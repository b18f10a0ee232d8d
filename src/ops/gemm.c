/*
 * GEMM driver: the BLIS loops in portable C around a kernel table's packing
 * routines and MR x NR micro-kernel, the small-M (decode) path, and
 * prepacked matrices.
 *
 * Letters: C[M, N] = alpha * A[M, K] op(B)[K, N] + beta * C (+ bias[N]).
 * Loops, outermost first (BLIS names):
 *   jc over N by NC   | pc over K by KC: pack op(B) kc x nc (skipped when
 *   prepacked)        | ic over M by MC: pack A mc x kc
 *   jr over nc by NR  | ir over mc by MR: micro-kernel on one C tile.
 * The first K block applies the caller's beta, later ones accumulate (beta 1).
 * Threads take rectangles of whole tiles; K is never split, so each element
 * of C is computed by the same sequence of operations for any thread count.
 */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

// Below this many multiply-adds a GEMM runs on the calling thread alone.
#define GEMM_PAR_MIN_FMAS ((int64_t)1 << 17)
// Small-M path: M up to this many rows, with prepacked or nn.Linear B.
#define GEMM_SMALL_M 8
// Small-M column granule for plain B (threads split N in these units).
#define GEMV_GRANULE 16
// Small-M path: about this many bytes of weights per task.
#define GEMV_TASK_BYTES ((int64_t)256 << 10)

int tfm__gemm_small_m(int64_t m, int packed, int trans_b) {
    return m <= GEMM_SMALL_M && (packed || trans_b);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Workspace floats of one thread: a packed A block and, for plain B, a
// packed B block (each rounded up to 64 bytes).
static size_t ws_floats(const tfm__gemm_kernels *g, const tfm__gemm_args *x) {
    int64_t mc = min64(g->mc, ceil_div(x->m, g->mr) * g->mr), kc = min64(g->kc, x->k),
            nc = min64(ceil_div(g->nc, g->nr), ceil_div(x->n, g->nr)) * g->nr;
    size_t a = (size_t)mc * (size_t)kc, b = x->bp ? 0 : (size_t)kc * (size_t)nc;
    return ((a + 15) & ~(size_t)15) + ((b + 15) & ~(size_t)15);
}

static void add_bias(const tfm__gemm_args *x, int64_t m0, int64_t m1, int64_t n0,
                     int64_t n1) {
    int64_t i, j;
    if (!x->bias) return;
    for (i = m0; i < m1; i++) {
        float *ci = x->c + i * x->ldc;
        for (j = n0; j < n1; j++) ci[j] += x->bias[j];
    }
}

typedef void (*widen_fn)(int64_t n, const uint16_t *src, float *dst);

// The BLIS loops on C[m0:m1, n0:n1] (m0 a multiple of MR, n0 of NR). 16-bit
// panels are widened kc x nc at a time into the B block (as a plain B is
// packed), so the micro-kernel sees the f32 values of f32 panels.
static void gemm_block(const tfm__gemm_kernels *g, const tfm__gemm_args *x, widen_fn widen,
                       int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *ws) {
    const int64_t mr = g->mr, nr = g->nr, K = x->k;
    // nc blocks a plain B (its packed kc x nc block is reused over M); a
    // prepacked B needs no N blocking, and without it A is packed only once
    // per (pc, ic) block.
    const int64_t mc = g->mc, kc = g->kc,
                  nc = x->bp ? ceil_div(n1 - n0, nr) * nr : ceil_div(g->nc, nr) * nr;
    float *wa = ws, *wb = ws + (((size_t)min64(mc, ceil_div(x->m, mr) * mr) *
                                     (size_t)min64(kc, K) + 15) & ~(size_t)15);
    int64_t jc, pc, ic, jr, ir;
    for (jc = n0; jc < n1; jc += nc) {
        int64_t ncb = min64(nc, n1 - jc);
        for (pc = 0; pc < K || pc == 0; pc += kc) {
            int64_t kcb = min64(kc, K - pc);
            float beta = pc == 0 ? x->beta : 1.0f;
            const float *bpan; // panel of column jc, rows pc..
            int64_t ps;        // panel stride
            if (x->bp) {
                ps = K * nr;
                bpan = x->bp + (jc / nr) * ps + pc * nr;
            } else if (x->bp16) {
                int64_t q;
                ps = kcb * nr;
                for (q = 0; q < ncb; q += nr)
                    widen(kcb * nr, x->bp16 + ((jc + q) / nr) * K * nr + pc * nr,
                          wb + (q / nr) * ps);
                bpan = wb;
            } else {
                ps = kcb * nr;
                g->pack_b(kcb, ncb,
                          x->trans_b ? x->b + jc * x->ldb + pc : x->b + pc * x->ldb + jc,
                          x->ldb, x->trans_b, wb, ps);
                bpan = wb;
            }
            for (ic = m0; ic < m1; ic += mc) {
                int64_t mcb = min64(mc, m1 - ic);
                g->pack_a(mcb, kcb, x->a + ic * x->lda + pc, x->lda, wa);
                for (jr = 0; jr < ncb; jr += nr) {
                    const float *bj = bpan + (jr / nr) * ps;
                    int64_t nrb = min64(nr, ncb - jr);
                    for (ir = 0; ir < mcb; ir += mr)
                        g->ukr(kcb, wa + (ir / mr) * kcb * mr, bj, x->alpha, beta,
                               x->c + (ic + ir) * x->ldc + jc + jr, x->ldc,
                               min64(mr, mcb - ir), nrb);
                }
            }
        }
    }
    add_bias(x, m0, m1, n0, n1);
}

// Small M on columns [n0, n1): one pass over the weights.
static void gemv_block(const tfm__gemm_kernels *g, const tfm__gemm_args *x, int64_t n0,
                       int64_t n1) {
    if (n1 <= n0) return;
    if (x->bp)
        g->gemv_p(x->m, n1 - n0, x->k, x->alpha, x->a, x->lda,
                  x->bp + (n0 / g->nr) * x->k * g->nr, x->beta, x->c + n0, x->ldc);
    else if (x->bp16)
        (x->bp16_dtype == TFM_F16 ? g->gemv_p_f16 : g->gemv_p_bf16)(
            x->m, n1 - n0, x->k, x->alpha, x->a, x->lda,
            x->bp16 + (n0 / g->nr) * x->k * g->nr, x->beta, x->c + n0, x->ldc);
    else
        g->gemv_t(x->m, n1 - n0, x->k, x->alpha, x->a, x->lda, x->b + n0 * x->ldb,
                  x->ldb, x->beta, x->c + n0, x->ldc);
    add_bias(x, 0, x->m, n0, n1);
}

// ---- quantized panels ------------------------------------------------------------------
// A is quantized row by row into the workspace (q, d and s of each 32-block:
// kernels.h), then the panels are split over the threads; every element is
// computed by one kernel call whatever the split.

// Below this many multiply-adds a quantized product runs on one thread.
#define Q_PAR_MIN ((int64_t)1 << 16)

typedef struct qjob {
    const tfm__quant_kernels *q;
    const tfm__gemm_args *x;
    int64_t kb;
    int8_t *aq;
    float *ad;
    int32_t *as;
} qjob;

static size_t q_blocks(const tfm__gemm_args *x) { return (size_t)ceil_div(x->k, TFM__QK); }

// Floats of the quantized rows of A (64-byte aligned inside), SIZE_MAX on overflow.
static size_t q_ws_floats(const tfm__gemm_args *x) {
    size_t b;
    if (!tfm__mul_size((size_t)x->m, q_blocks(x) * (TFM__QK + 2 * sizeof(float)), &b) ||
        b > SIZE_MAX - 64)
        return SIZE_MAX;
    return (b + 64) / sizeof(float) + 1;
}

static void q_rows_task(void *arg, int ith, int nth) {
    const qjob *j = (const qjob *)arg;
    int64_t lo, hi, i;
    tfm__split_range(j->x->m, ith, nth, &lo, &hi);
    for (i = lo; i < hi; i++)
        j->q->quantize(j->x->k, j->x->a + i * j->x->lda, j->aq + i * j->kb * TFM__QK,
                       j->ad + i * j->kb, j->as + i * j->kb);
}

static void q_panels_task(void *arg, int ith, int nth) {
    const qjob *j = (const qjob *)arg;
    const tfm__gemm_args *x = j->x;
    size_t ps = (size_t)j->kb * (x->bq_dtype == TFM__Q4 ? TFM__Q4_BLOCK : TFM__Q8_BLOCK);
    int64_t lo, hi, p;
    tfm__split_range(ceil_div(x->n, TFM__QP), ith, nth, &lo, &hi);
    for (p = lo; p < hi; p++)
        (x->bq_dtype == TFM__Q4 ? j->q->q4 : j->q->q8)(
            x->m, j->kb, j->aq, j->ad, j->as, x->bq + (size_t)p * ps, x->c + p * TFM__QP,
            x->ldc, min64(x->n - p * TFM__QP, TFM__QP));
    if (lo < hi) add_bias(x, 0, x->m, lo * TFM__QP, min64(hi * TFM__QP, x->n));
}

static void q_gemm(tfm_ctx *ctx, const tfm__kernels *k, const tfm__gemm_args *x, void *ws) {
    qjob j;
    int tasks = (double)x->m * (double)x->n * (double)x->k < (double)Q_PAR_MIN
                    ? 1 : tfm_ctx_n_threads(ctx);
    int64_t panels = ceil_div(x->n, TFM__QP);
    j.q = tfm__quant_of(k);
    j.x = x;
    j.kb = (int64_t)q_blocks(x);
    j.aq = (int8_t *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    j.ad = (float *)(j.aq + (size_t)x->m * (size_t)j.kb * TFM__QK);
    j.as = (int32_t *)(j.ad + (size_t)x->m * (size_t)j.kb);
    tfm__parallel(ctx, q_rows_task, &j, x->m < tasks ? (int)x->m : tasks);
    tfm__parallel(ctx, q_panels_task, &j, panels < tasks ? (int)panels : tasks);
}

// ---- splitting over threads -----------------------------------------------------------

typedef struct {
    const tfm__gemm_kernels *g;
    const tfm__gemm_args *x;
    widen_fn widen;     // 16-bit panels to f32 (bp16)
    float *ws;          // nth workspaces
    size_t ws_stride;   // floats per thread
    int pm, pn;         // thread grid over M tiles x N tiles
    int small;
} gemm_job;

static void gemm_task(void *arg, int ith, int nth) {
    const gemm_job *j = (const gemm_job *)arg;
    const tfm__gemm_kernels *g = j->g;
    const tfm__gemm_args *x = j->x;
    int64_t lo, hi;
    (void)nth;
    if (j->small) {
        int64_t gran = x->bp || x->bp16 ? g->nr : GEMV_GRANULE;
        tfm__split_range(ceil_div(x->n, gran), ith, j->pn, &lo, &hi);
        gemv_block(g, x, lo * gran, min64(hi * gran, x->n));
    } else {
        int64_t mlo, mhi;
        tfm__split_range(ceil_div(x->m, g->mr), ith / j->pn, j->pm, &mlo, &mhi);
        tfm__split_range(ceil_div(x->n, g->nr), ith % j->pn, j->pn, &lo, &hi);
        mlo *= g->mr;
        mhi = min64(mhi * g->mr, x->m);
        lo *= g->nr;
        hi = min64(hi * g->nr, x->n);
        if (mlo < mhi && lo < hi)
            gemm_block(g, x, j->widen, mlo, mhi, lo, hi, j->ws + (size_t)ith * j->ws_stride);
    }
}

static void plan(gemm_job *j, int nt) {
    const tfm__gemm_args *x = j->x;
    int64_t fmas = x->m * x->n * (x->k > 0 ? x->k : 1);
    int64_t tn, tm;
    int split_m;
    if (fmas < GEMM_PAR_MIN_FMAS) nt = 1;
    if (j->small) {
        // Memory-bound: more tasks than threads, taken by whichever thread
        // is free, so a worker that wakes late does not leave the caller
        // alone with half of the weights.
        int64_t chunks = x->n * x->k * (int64_t)sizeof(float) / GEMV_TASK_BYTES;
        tn = ceil_div(x->n, x->bp || x->bp16 ? j->g->nr : GEMV_GRANULE);
        j->pm = 1;
        j->pn = nt == 1 ? 1 : (int)min64(tn, min64(8 * (int64_t)nt, chunks > 1 ? chunks : 1));
        return;
    }
    tm = ceil_div(x->m, j->g->mr);
    tn = ceil_div(x->n, j->g->nr);
    // Each thread packs the A rows and B columns its rectangle needs. With
    // prepacked B, splitting M duplicates nothing (B is only read, shared);
    // with plain B, split the side whose duplicated packing is smaller:
    // splitting N packs A again per thread, splitting M packs B again.
    if (x->bp) split_m = tm >= nt || tm > tn;
    else split_m = x->m > x->n ? tm >= nt || tm > tn : tn < nt && tm > tn;
    if (split_m) {
        j->pm = (int)min64(nt, tm);
        j->pn = 1;
    } else {
        j->pn = (int)min64(nt, tn);
        j->pm = 1;
    }
}

// Plans x on nt threads; the workspace floats it needs (0 on the small-M
// path, SIZE_MAX on overflow) go to *floats.
static void gemm_plan(gemm_job *j, const tfm__kernels *k, const tfm__gemm_args *x, int nt,
                      size_t *floats) {
    size_t total;
    memset(j, 0, sizeof *j);
    j->g = tfm__gemm_of(k);
    j->x = x;
    j->widen = x->bp16_dtype == TFM_BF16 ? k->bf16_to_f32 : k->f16_to_f32;
    j->small = tfm__gemm_small_m(x->m, x->bp != NULL || x->bp16 != NULL, x->trans_b);
    plan(j, nt);
    *floats = 0;
    if (j->small) return;
    j->ws_stride = ws_floats(j->g, x);
    if (!tfm__mul_size(j->ws_stride, (size_t)(j->pm * j->pn), &total) || total > SIZE_MAX - 16)
        *floats = SIZE_MAX;
    else
        *floats = total + 16;
}

size_t tfm__gemm_ws(tfm_ctx *ctx, const tfm__kernels *k, const tfm__gemm_args *x) {
    gemm_job j;
    size_t floats;
    if (x->m <= 0 || x->n <= 0) return 0;
    if (x->bq) return q_ws_floats(x);
    gemm_plan(&j, k, x, tfm_ctx_n_threads(ctx), &floats);
    return floats;
}

tfm_status tfm__gemm(tfm_ctx *ctx, const tfm__kernels *k, const tfm__gemm_args *x) {
    gemm_job j;
    size_t floats, bytes = 0;
    void *raw = NULL;
    if (x->m <= 0 || x->n <= 0) return TFM_OK;
    if (x->bq) {
        floats = q_ws_floats(x);
        j.small = 0;
    } else {
        gemm_plan(&j, k, x, tfm_ctx_n_threads(ctx), &floats);
    }
    if (floats) {
        if (x->ws) {
            raw = x->ws;
        } else {
            if (floats == SIZE_MAX || !tfm__mul_size(floats, sizeof(float), &bytes))
                return tfm__err(ctx, TFM_ERR_NOMEM, "matmul: workspace size overflows");
            raw = tfm__alloc_nozero(ctx, bytes);
            if (!raw)
                return tfm__err(ctx, TFM_ERR_NOMEM, "matmul: out of memory for a %llu-byte "
                                "packing workspace", (unsigned long long)bytes);
        }
        j.ws = (float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    }
    if (x->bq) q_gemm(ctx, k, x, raw);
    else tfm__parallel(ctx, gemm_task, &j, j.pm * j.pn);
    if (!x->ws) tfm__free(ctx, raw, bytes);
    return TFM_OK;
}

int tfm__gemm_serial(const tfm__gemm_kernels *g, const tfm__gemm_args *x) {
    gemm_job j;
    void *raw = NULL;
    if (x->m <= 0 || x->n <= 0) return 1;
    memset(&j, 0, sizeof j);
    j.g = g;
    j.x = x;
    j.small = tfm__gemm_small_m(x->m, x->bp != NULL, x->trans_b);
    j.pm = j.pn = 1;
    if (!j.small) {
        j.ws_stride = ws_floats(g, x);
        raw = malloc((j.ws_stride + 16) * sizeof(float));
        if (!raw) return 0;
        j.ws = (float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    }
    gemm_task(&j, 0, 1);
    free(raw);
    return 1;
}

// ---- prepacked matrices -----------------------------------------------------------------

// 16-bit values of op(B)[k, n] (B [k, n] rows ldb apart, or with trans_b
// [n, k]) into whole-K panels of nr columns, columns past n zero.
static void pack_b16(int64_t k, int64_t n, const uint16_t *b, int64_t ldb, int trans_b,
                     int64_t nr, uint16_t *bp) {
    int64_t j0, j, p;
    for (j0 = 0; j0 < n; j0 += nr, bp += k * nr)
        for (p = 0; p < k; p++)
            for (j = 0; j < nr; j++)
                bp[p * nr + j] = j0 + j >= n ? 0
                                 : trans_b ? b[(j0 + j) * ldb + p] : b[p * ldb + j0 + j];
}

tfm_status tfm__packed_new(tfm_ctx *ctx, size_t bytes, int64_t kdim, int64_t n, int dtype,
                           tfm_packed_matrix **out) {
    tfm_packed_matrix *p = (tfm_packed_matrix *)tfm__alloc(ctx, sizeof *p);
    char *data;
    *out = NULL;
    if (!p || bytes > SIZE_MAX - 64 || !(p->raw = tfm__alloc_nozero(ctx, bytes + 64))) {
        tfm__free(ctx, p, sizeof *p);
        return tfm__err(ctx, TFM_ERR_NOMEM, "matrix_pack: out of memory for %llu bytes",
                        (unsigned long long)bytes);
    }
    p->raw_size = bytes + 64;
    p->ctx = ctx;
    p->k = tfm__k();
    p->kdim = kdim;
    p->n = n;
    p->dtype = dtype;
    data = (char *)(((uintptr_t)p->raw + 63) & ~(uintptr_t)63);
    if (dtype == TFM_F32) p->panels = (float *)(void *)data;
    else if (dtype == TFM_F16 || dtype == TFM_BF16) p->panels16 = (uint16_t *)(void *)data;
    else p->qpanels = (uint8_t *)data;
    *out = p;
    return TFM_OK;
}

tfm_status tfm_matrix_pack(tfm_ctx *ctx, const tfm_tensor *b, int trans_b,
                           tfm_packed_matrix **out) {
    tfm_packed_matrix *p;
    const tfm__kernels *k;
    const tfm__gemm_kernels *g;
    tfm_status st;
    int64_t kdim, n, elems;
    size_t bytes, es;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "matrix_pack: out is NULL");
    *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (b && (b->dtype == TFM_F16 || b->dtype == TFM_BF16))
        st = tfm__check_tensor(ctx, b, (tfm_dtype)b->dtype, 2, 2, "matrix_pack: b");
    else
        st = tfm__check_tensor(ctx, b, TFM_F32, 2, 2, "matrix_pack: b");
    if (st) return st;
    if (b->stride[1] != 1 && b->shape[1] != 1)
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "matrix_pack: b: the last dimension must be contiguous (stride 1, "
                        "not %lld)", (long long)b->stride[1]);
    kdim = trans_b ? b->shape[1] : b->shape[0];
    n = trans_b ? b->shape[0] : b->shape[1];
    k = tfm__k();
    g = tfm__gemm_of(k);
    es = b->dtype == TFM_F32 ? sizeof(float) : sizeof(uint16_t);
    if (!tfm__mul_i64(ceil_div(n, g->nr) * g->nr, kdim, &elems) ||
        !tfm__mul_size((size_t)elems + 32, es, &bytes)) // 32 values of slack past the end
        return tfm__err(ctx, TFM_ERR_NOMEM, "matrix_pack: size of [%lld, %lld] overflows",
                        (long long)kdim, (long long)n);
    if ((st = tfm__packed_new(ctx, bytes, kdim, n, b->dtype, &p))) return st;
    if (b->dtype == TFM_F32) {
        if (elems > 0)
            g->pack_b(kdim, n, (const float *)b->data, b->stride[0], trans_b ? 1 : 0,
                      p->panels, kdim * g->nr);
    } else {
        if (elems > 0)
            pack_b16(kdim, n, (const uint16_t *)b->data, b->stride[0], trans_b, g->nr,
                     p->panels16);
    }
    *out = p;
    return TFM_OK;
}

void tfm_packed_matrix_free(tfm_packed_matrix *p) {
    if (!p) return;
    tfm__free(p->ctx, p->raw, p->raw_size);
    tfm__free(p->ctx, p, sizeof *p);
}

int64_t tfm_packed_matrix_rows(const tfm_packed_matrix *p) { return p ? p->kdim : 0; }
int64_t tfm_packed_matrix_cols(const tfm_packed_matrix *p) { return p ? p->n : 0; }
