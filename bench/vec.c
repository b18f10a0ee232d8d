/*
 * Vector kernel micro-benchmark: softmax (with and without a mask), layernorm,
 * rmsnorm, gelu, gelu_tanh, silu and exp on rows of 768 and 4096 floats, for
 * the scalar reference and each SIMD set this CPU runs, one thread.
 *
 *   build/bench/vec [--reps N] [--ms T] [kernel-name ...]
 *
 * Each figure is the median of N runs (default 7); a run calls the kernel on
 * 8 rows in turn (hot in L1/L2) for about T ms (default 20). Printed:
 * ns per element and GB/s of row data touched (input + output floats, plus
 * the mask or gamma/beta where used), and the speed-up over ref.
 */
#define _POSIX_C_SOURCE 200112L
#include "kernels/kernels.h"
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS 8

typedef enum { K_SOFTMAX, K_SOFTMAX_MASK, K_LAYERNORM, K_RMSNORM, K_GELU, K_GELU_TANH,
               K_SILU, K_EXP, K_COUNT } kind;
static const char *const k_names[K_COUNT] = {"softmax", "softmax+mask", "layernorm",
                                             "rmsnorm", "gelu", "gelu_tanh", "silu", "exp"};
static const int k_bytes[K_COUNT] = {8, 12, 16, 12, 8, 8, 8, 8}; // per element

static void call(const tfm__kernels *k, kind w, int64_t n, float *x, float *m, float *g,
                 float *b, float *o) {
    switch (w) {
    case K_SOFTMAX: k->softmax(n, x, NULL, o); break;
    case K_SOFTMAX_MASK: k->softmax(n, x, m, o); break;
    case K_LAYERNORM: k->layernorm(n, x, g, b, 1e-5f, o); break;
    case K_RMSNORM: k->rmsnorm(n, x, g, 1e-6f, o); break;
    case K_GELU: k->act[2](n, x, o); break;
    case K_GELU_TANH: k->act[3](n, x, o); break;
    case K_SILU: k->act[4](n, x, o); break;
    default: k->exp(n, x, o); break;
    }
}

// Median seconds per call.
static double time_kernel(const tfm__kernels *k, kind w, int64_t n, float *x, float *m,
                          float *g, float *b, float *o, int reps, double ms) {
    double t[64], t0;
    long calls = 1, c;
    int r;
    // calibrate: enough calls for about `ms` milliseconds
    for (;;) {
        t0 = bench_now();
        for (c = 0; c < calls; c++)
            call(k, w, n, x + (c % ROWS) * n, m, g, b, o + (c % ROWS) * n);
        if (bench_now() - t0 > ms * 1e-3 || calls > (1L << 30)) break;
        calls *= 2;
    }
    for (r = 0; r < reps; r++) {
        t0 = bench_now();
        for (c = 0; c < calls; c++)
            call(k, w, n, x + (c % ROWS) * n, m, g, b, o + (c % ROWS) * n);
        t[r] = (bench_now() - t0) / (double)calls;
    }
    qsort(t, (size_t)reps, sizeof t[0], bench_cmp_d);
    return t[reps / 2];
}

int main(int argc, char **argv) {
    static const char *const isas[] = {"ref", "avx2", "avx512", "neon"};
    static const int64_t sizes[] = {768, 4096};
    int reps = 7, a, si, w, ii, n_names = 0;
    const char *names[16];
    double ms = 20.0;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--reps") == 0 && a + 1 < argc) reps = atoi(argv[++a]);
        else if (strcmp(argv[a], "--ms") == 0 && a + 1 < argc) ms = atof(argv[++a]);
        else if (argv[a][0] != '-' && n_names < 16) names[n_names++] = argv[a];
        else {
            fprintf(stderr, "usage: %s [--reps N] [--ms T] [kernel-name ...]\n", argv[0]);
            return 1;
        }
    }
    if (reps < 1) reps = 1;
    if (reps > 63) reps = 63;
    printf("vector kernels, 1 thread, median of %d runs, %d rows hot in cache\n", reps, ROWS);
    printf("%-13s %5s  %-7s %9s %9s %8s\n", "kernel", "n", "isa", "ns/elem", "GB/s", "vs ref");
    for (si = 0; si < 2; si++) {
        int64_t n = sizes[si], i;
        float *x = (float *)malloc((size_t)(ROWS * n) * 4), *o = (float *)malloc((size_t)(ROWS * n) * 4);
        float *m = (float *)malloc((size_t)n * 4), *g = (float *)malloc((size_t)n * 4),
              *b = (float *)malloc((size_t)n * 4);
        if (!x || !o || !m || !g || !b) return 2;
        for (i = 0; i < ROWS * n; i++) x[i] = (float)sin(0.37 * (double)i) * 4.0f;
        for (i = 0; i < n; i++) {
            m[i] = (i % 4 == 3) ? -INFINITY : 0.0f;
            g[i] = 1.0f + 0.01f * (float)(i % 7);
            b[i] = 0.001f * (float)(i % 5);
        }
        for (w = 0; w < K_COUNT; w++) {
            double tref = 0.0;
            int j, want = n_names == 0;
            for (j = 0; j < n_names; j++) want |= strcmp(names[j], k_names[w]) == 0;
            if (!want) continue;
            for (ii = 0; ii < 4; ii++) {
                const tfm__kernels *k = tfm__kernels_get(isas[ii]);
                double t;
                if (!k) continue;
                t = time_kernel(k, (kind)w, n, x, m, g, b, o, reps, ms);
                if (ii == 0) tref = t;
                printf("%-13s %5lld  %-7s %9.3f %9.1f %7.1fx\n", k_names[w], (long long)n,
                       isas[ii], t * 1e9 / (double)n,
                       (double)k_bytes[w] * (double)n / t * 1e-9, tref / t);
            }
        }
        free(x); free(o); free(m); free(g); free(b);
    }
    return 0;
}
