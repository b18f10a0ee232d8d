/*
 * GEMM benchmark: GFLOP/s of libtransformer's GEMM (prepacked weights, and
 * plain nn.Linear weights packed per call) and of OpenBLAS sgemm, loaded at
 * run time with dlopen (the library never depends on it), in the same
 * process, at 1 and 2 threads, against the machine's limits: the FMA peak (a
 * register-only FMA loop) and the read bandwidth (a streaming read).
 *
 * Each figure is the median of --reps runs (default 11). Every run measures
 * the FMA peak (and, for M = 1, the read bandwidth over 256 MiB) right before
 * the GEMMs, and the ratios (% of peak, x OpenBLAS, % of bandwidth) are the
 * medians of the per-run ratios, so a burst of load from other processes
 * moves both sides of a ratio. M = 1 rotates over > 256 MiB of weight copies
 * (8x the 32 MiB L3), so the weights come from memory ("cold"); its GB/s
 * count the weight bytes read.
 *
 *   bench/gemm [--reps N] [--quick]      (bench/run.sh sets up OpenBLAS)
 *
 * Operation: C[M, N] = A[M, K] W[N, K]^T (the nn.Linear layout, trans_b = 1).
 */
#define _POSIX_C_SOURCE 200809L
#include "transformer.h"
#include "bench_util.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_reps = 11;
static double g_min_time = 0.06; // seconds per run

// ---- machine limits: bench_peak_once and bench_read_once (bench_util.h) ---------------------

// ---- OpenBLAS through dlopen -----------------------------------------------------------------

typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta,
                         float *c, int ldc);
static sgemm_fn g_sgemm;
static void (*g_blas_threads)(int);

static void load_openblas(void) {
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "OpenBLAS not loaded: %s\n", dlerror());
        return;
    }
    *(void **)&g_sgemm = dlsym(h, "cblas_sgemm");
    *(void **)&g_blas_threads = dlsym(h, "openblas_set_num_threads");
}

// ---- one shape --------------------------------------------------------------------------------

enum { IMPL_PACKED, IMPL_PLAIN, IMPL_BLAS };

typedef struct {
    int64_t m, k, n;
    int copies;        // weight copies rotated through (cold weights)
    float *a, *c;
    float **w;         // [copies] of W[N, K]
    tfm_packed_matrix **pw;
} shape;

static int call(int impl, tfm_ctx *ctx, shape *s, int i) {
    int64_t sa[2], sw[2], so[2];
    tfm_tensor ta, tw, to;
    sa[0] = s->m; sa[1] = s->k;
    sw[0] = s->n; sw[1] = s->k;
    so[0] = s->m; so[1] = s->n;
    if (impl == IMPL_BLAS) {
        g_sgemm(101 /* row major */, 111 /* no trans */, 112 /* trans */, (int)s->m,
                (int)s->n, (int)s->k, 1.0f, s->a, (int)s->k, s->w[i], (int)s->k, 0.0f,
                s->c, (int)s->n);
        return 0;
    }
    tfm_tensor_wrap(&ta, TFM_F32, 2, sa, s->a);
    tfm_tensor_wrap(&to, TFM_F32, 2, so, s->c);
    if (impl == IMPL_PACKED) return tfm_matmul_packed(ctx, &ta, s->pw[i], NULL, 1, 0, &to);
    tfm_tensor_wrap(&tw, TFM_F32, 2, sw, s->w[i]);
    return tfm_matmul(ctx, &ta, &tw, 1, NULL, 1, 0, &to);
}

// One run of impl: calls for g_min_time, rotating over the weight copies.
// Returns GFLOP/s; *gbs gets GB/s of weights read.
static double run_once(int impl, tfm_ctx *ctx, shape *s, int nt, int *next, double *gbs) {
    double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k, t0, t;
    long calls = 0;
    if (impl == IMPL_BLAS) {
        if (!g_sgemm) return 0;
        if (g_blas_threads) g_blas_threads(nt);
    }
    t0 = bench_now();
    do {
        *next = (*next + 1) % s->copies;
        if (call(impl, ctx, s, *next)) {
            fprintf(stderr, "matmul failed: %s\n", tfm_ctx_last_error(ctx));
            exit(1);
        }
        calls++;
        t = bench_now() - t0;
    } while (t < g_min_time);
    *gbs = (double)s->n * (double)s->k * 4.0 * (double)calls / t * 1e-9;
    return flops * (double)calls / t * 1e-9;
}

static void fill(float *x, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((int)(seed >> 9) - (1 << 22)) / (float)(1 << 22);
    }
}

// The figures of one shape at one thread count, each a median over runs.
typedef struct {
    double packed, plain, blas;  // GFLOP/s
    double pct_peak, vs_blas;    // packed / FMA peak, packed / OpenBLAS
    double gbs, pct_bw, blas_pct_bw; // M = 1: GB/s of weights, % of read bandwidth
    double best_packed, best_pct_peak;
} figures;

// Runs the shape g_reps times, each run measuring the FMA peak (and for
// M = 1 the read bandwidth) right before the three GEMMs, so that each ratio
// compares figures taken under the same load; reports medians.
static void measure(shape *s, int nt, const float *bwbuf, size_t bwn, figures *f) {
    tfm_ctx_params p = tfm_ctx_params_default();
    tfm_ctx *ctx;
    double pk[32], bw[32], fp[32], fu[32], fb[32], rp[32], rb[32], g[32], gp[32], gb[32], x;
    int r, next = 0;
    p.n_threads = nt;
    if (tfm_ctx_create(&p, &ctx)) exit(1);
    memset(f, 0, sizeof *f);
    call(IMPL_PACKED, ctx, s, 0); // warm-up
    call(IMPL_PLAIN, ctx, s, 0);
    if (g_sgemm) {
        if (g_blas_threads) g_blas_threads(nt);
        call(IMPL_BLAS, ctx, s, 0);
    }
    for (r = 0; r < g_reps; r++) {
        pk[r] = bench_peak_once(nt, 2000000);
        bw[r] = s->m == 1 ? bench_read_once(nt, bwbuf, bwn) : 0;
        fp[r] = run_once(IMPL_PACKED, ctx, s, nt, &next, &g[r]);
        fu[r] = run_once(IMPL_PLAIN, ctx, s, nt, &next, &x);
        fb[r] = run_once(IMPL_BLAS, ctx, s, nt, &next, &gb[r]);
        rp[r] = pk[r] > 0 ? 100 * fp[r] / pk[r] : 0;
        rb[r] = fb[r] > 0 ? fp[r] / fb[r] : 0;
        gp[r] = bw[r] > 0 ? 100 * g[r] / bw[r] : 0;
        gb[r] = bw[r] > 0 ? 100 * gb[r] / bw[r] : 0;
        if (fp[r] > f->best_packed) {
            f->best_packed = fp[r];
            f->best_pct_peak = rp[r];
        }
    }
    tfm_ctx_free(ctx);
    f->gbs = bench_median(g, g_reps);
    f->packed = bench_median(fp, g_reps);
    f->plain = bench_median(fu, g_reps);
    f->blas = bench_median(fb, g_reps);
    f->pct_peak = bench_median(rp, g_reps);
    f->vs_blas = bench_median(rb, g_reps);
    f->pct_bw = bench_median(gp, g_reps);
    f->blas_pct_bw = bench_median(gb, g_reps);
}

int main(int argc, char **argv) {
    static const int64_t shapes[][3] = {{128, 768, 768}, {128, 768, 3072}, {128, 3072, 768},
                                        {1, 768, 768},   {1, 768, 3072},   {2048, 2048, 2048}};
    enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };
    figures fig[N_SHAPES][3];
    double v[32];
    size_t bytes, n, i, bwn;
    float *buf;
    void *raw = NULL;
    int quick = 0, a, nt, r;
    size_t si;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--reps") == 0 && a + 1 < argc) g_reps = atoi(argv[++a]);
        else if (strcmp(argv[a], "--quick") == 0) quick = 1;
    }
    if (g_reps < 1) g_reps = 1;
    if (g_reps > 31) g_reps = 31;
    if (quick) g_min_time = 0.02;
    load_openblas();
    printf("libtransformer %s, kernels: %s; OpenBLAS: %s; each figure the median of %d "
           "runs\n", tfm_version_string(), tfm_kernels_name(), g_sgemm ? "loaded" : "absent",
           g_reps);
    // The machine's limits: a register-only FMA loop; a streaming read of ~1 GB.
    bytes = quick ? ((size_t)256 << 20) : ((size_t)1 << 30);
    n = bytes / sizeof(float);
    if (posix_memalign(&raw, 64, bytes)) return 1;
    buf = (float *)raw;
    for (i = 0; i < n; i++) buf[i] = (float)(i & 7);
    for (nt = 1; nt <= 2; nt++) {
        double peak, bw;
        for (r = 0; r < g_reps; r++) v[r] = bench_peak_once(nt, 5000000);
        peak = bench_median(v, g_reps);
        for (r = 0; r < g_reps; r++) v[r] = bench_read_once(nt, buf, n);
        bw = bench_median(v, g_reps);
        printf("threads %d: FMA peak %.1f GFLOP/s, read bandwidth %.1f GB/s (%.0f MiB)\n", nt,
               peak, bw, (double)bytes / (1 << 20));
    }
    // Per-run bandwidth for the M = 1 rows: 256 MiB slices (8x the L3).
    bwn = ((size_t)256 << 20) / sizeof(float);
    if (bwn > n) bwn = n;
    printf("\n%-16s %3s %11s %7s %11s %11s %9s  %s\n", "M x K x N", "thr", "packed GF/s",
           "%peak", "plain GF/s", "OpenBLAS", "packed/OB", "M=1: GB/s, % of read bw (OpenBLAS)");
    for (si = 0; si < N_SHAPES; si++) {
        shape s;
        tfm_ctx *pc;
        tfm_ctx_params p = tfm_ctx_params_default();
        size_t wn;
        int c;
        memset(&s, 0, sizeof s);
        s.m = shapes[si][0];
        s.k = shapes[si][1];
        s.n = shapes[si][2];
        wn = (size_t)s.n * (size_t)s.k;
        // M = 1: rotate over > 256 MiB of weights (8x the 32 MiB L3): cold.
        s.copies = s.m == 1 ? (int)((((size_t)256 << 20) / (wn * 4)) + 1) : 1;
        s.a = (float *)malloc((size_t)(s.m * s.k) * sizeof(float));
        s.c = (float *)malloc((size_t)(s.m * s.n) * sizeof(float));
        s.w = (float **)calloc((size_t)s.copies, sizeof(float *));
        s.pw = (tfm_packed_matrix **)calloc((size_t)s.copies, sizeof(void *));
        fill(s.a, (size_t)(s.m * s.k), 1);
        if (tfm_ctx_create(&p, &pc)) return 1;
        for (c = 0; c < s.copies; c++) {
            int64_t sw[2];
            tfm_tensor tw;
            sw[0] = s.n;
            sw[1] = s.k;
            s.w[c] = (float *)malloc(wn * sizeof(float));
            fill(s.w[c], wn, (unsigned)(c + 2));
            tfm_tensor_wrap(&tw, TFM_F32, 2, sw, s.w[c]);
            if (tfm_matrix_pack(pc, &tw, 1, &s.pw[c])) return 1;
        }
        for (nt = 1; nt <= 2; nt++) {
            figures *f = &fig[si][nt];
            char shp[40], bwcol[64];
            measure(&s, nt, buf, bwn, f);
            snprintf(shp, sizeof shp, "%lldx%lldx%lld", (long long)s.m, (long long)s.k,
                     (long long)s.n);
            if (s.m == 1)
                snprintf(bwcol, sizeof bwcol, "%.1f GB/s, %.0f%% (%.0f%%)", f->gbs, f->pct_bw,
                         f->blas_pct_bw);
            else
                snprintf(bwcol, sizeof bwcol, "-");
            printf("%-16s %3d %11.1f %6.1f%% %11.1f %11.1f %8.2fx  %s\n", shp, nt, f->packed,
                   f->pct_peak, f->plain, f->blas, f->vs_blas, bwcol);
            fflush(stdout);
        }
        for (c = 0; c < s.copies; c++) {
            tfm_packed_matrix_free(s.pw[c]);
            free(s.w[c]);
        }
        tfm_ctx_free(pc);
        free(s.w);
        free(s.pw);
        free(s.a);
        free(s.c);
    }
    // The best run: on a shared machine, the one least disturbed by other
    // processes (the medians above are the figures to quote).
    printf("\nbest run of %d, packed:", g_reps);
    for (si = 0; si < N_SHAPES; si++)
        for (nt = 1; nt <= 2; nt++)
            printf("%s %lldx%lldx%lld/%dt %.1f GF/s (%.0f%%)", si || nt > 1 ? ";" : "",
                   (long long)shapes[si][0], (long long)shapes[si][1],
                   (long long)shapes[si][2], nt, fig[si][nt].best_packed,
                   fig[si][nt].best_pct_peak);
    printf("\n");
    free(raw);
    return 0;
}
