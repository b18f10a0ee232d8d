/*
 * bench/attention: scaled dot-product attention alone (tfm_attention), the
 * shape of a BERT-base layer: batch 1, 12 heads of 64, S queries over S keys.
 *
 *   attention [--seq 32,128,512] [--threads 1,2] [--reps 9] [--ms 40] [--cpu]
 *             [--case full,causal,decode]
 *
 * Cases: "full" (no mask, an encoder), "causal" (Sq = Sk, a prompt) and
 * "decode" (one query over S keys, a decoding step). Each repetition times
 * every (case, S, threads) once, in turn, so load from other processes hits
 * them alike; a time is the mean of as many calls as fill --ms. Printed: the
 * median over the repetitions, in microseconds per call and GFLOP/s
 * (2 * H * Sq * Sk * (Dh + Dv) flops, the two products; causal counts the
 * full square like the others, so its figure is comparable work per call).
 * --cpu times with the process's CPU clock instead of the wall clock: on a
 * machine shared with other jobs, time spent descheduled does not count
 * (meaningful for one thread; with more it sums the threads' time).
 */
#define _POSIX_C_SOURCE 200112L
#include "transformer.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H 12
#define DH 64
#define MAXV 8

static int parse_list(const char *s, int *v) {
    int n = 0;
    while (*s && n < MAXV) {
        v[n++] = atoi(s);
        while (*s && *s != ',') s++;
        if (*s == ',') s++;
    }
    return n;
}

static void fill(float *x, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((double)(seed >> 8) / 16777216.0 * 2.0 - 1.0);
    }
}

enum { FULL, CAUSAL, DECODE, NCASE };
static const char *case_name[NCASE] = {"full", "causal", "decode"};
static int g_cpu, g_case[NCASE] = {1, 1, 1};

static double clock_s(void) {
    struct timespec ts;
    if (!g_cpu) return bench_now();
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Mean seconds per call over about `ms` milliseconds.
static double time_case(tfm_ctx *ctx, int c, int s, float *q, float *k, float *v, float *o,
                        double ms) {
    int64_t sq[4] = {1, H, c == DECODE ? 1 : s, DH}, sk[4] = {1, H, s, DH};
    tfm_tensor tq, tk, tv, to;
    tfm_attn_params ap = tfm_attn_params_default();
    double t0, t;
    long n = 0;
    tfm_tensor_wrap(&tq, TFM_F32, 4, sq, q);
    tfm_tensor_wrap(&tk, TFM_F32, 4, sk, k);
    tfm_tensor_wrap(&tv, TFM_F32, 4, sk, v);
    tfm_tensor_wrap(&to, TFM_F32, 4, sq, o);
    ap.causal = c == CAUSAL;
    t0 = clock_s();
    do {
        if (tfm_attention(ctx, &tq, &tk, &tv, &ap, &to, NULL) != TFM_OK) {
            fprintf(stderr, "attention: %s\n", tfm_ctx_last_error(ctx));
            exit(1);
        }
        n++;
        t = clock_s() - t0;
    } while (t < ms * 1e-3);
    return t / (double)n;
}

int main(int argc, char **argv) {
    int seqs[MAXV] = {32, 128, 512}, thr[MAXV] = {1, 2}, ns = 3, nt = 2, reps = 9;
    double ms = 40, *res;
    tfm_ctx *ctx[MAXV];
    float *q, *k, *v, *o;
    int i, r, c, si, ti, smax = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seq") && i + 1 < argc) ns = parse_list(argv[++i], seqs);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) nt = parse_list(argv[++i], thr);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms") && i + 1 < argc) ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--cpu")) g_cpu = 1;
        else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
            const char *l = argv[++i];
            for (c = 0; c < NCASE; c++) g_case[c] = strstr(l, case_name[c]) != NULL;
        }
        else {
            fprintf(stderr, "usage: %s [--seq 32,128,512] [--threads 1,2] [--reps 9] [--ms 40] [--cpu]"
                    " [--case full,causal,decode]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    for (si = 0; si < ns; si++) smax = seqs[si] > smax ? seqs[si] : smax;
    if (smax < 1) return 2;
    q = (float *)malloc((size_t)H * smax * DH * sizeof(float));
    k = (float *)malloc((size_t)H * smax * DH * sizeof(float));
    v = (float *)malloc((size_t)H * smax * DH * sizeof(float));
    o = (float *)malloc((size_t)H * smax * DH * sizeof(float));
    res = (double *)malloc((size_t)NCASE * ns * nt * reps * sizeof(double));
    if (!q || !k || !v || !o || !res) return 1;
    fill(q, (size_t)H * smax * DH, 1);
    fill(k, (size_t)H * smax * DH, 2);
    fill(v, (size_t)H * smax * DH, 3);
    for (ti = 0; ti < nt; ti++) {
        tfm_ctx_params p = tfm_ctx_params_default();
        p.n_threads = thr[ti];
        if (tfm_ctx_create(&p, &ctx[ti]) != TFM_OK) return 1;
    }
#define RES(c_, s_, t_, r_) res[(((size_t)(c_) * ns + (s_)) * nt + (t_)) * reps + (r_)]
    // warm-up, then the interleaved repetitions
    for (c = 0; c < NCASE; c++)
        for (si = 0; si < ns && g_case[c]; si++)
            for (ti = 0; ti < nt; ti++) time_case(ctx[ti], c, seqs[si], q, k, v, o, 5);
    for (r = 0; r < reps; r++)
        for (c = 0; c < NCASE; c++)
            for (si = 0; si < ns && g_case[c]; si++)
                for (ti = 0; ti < nt; ti++)
                    RES(c, si, ti, r) = time_case(ctx[ti], c, seqs[si], q, k, v, o, ms);
    printf("%-7s %5s %7s %12s %9s\n", "case", "S", "threads", "us/call", "GFLOP/s");
    for (c = 0; c < NCASE; c++)
        for (si = 0; si < ns && g_case[c]; si++)
            for (ti = 0; ti < nt; ti++) {
                double t = bench_median(&RES(c, si, ti, 0), reps);
                double sq = c == DECODE ? 1 : seqs[si];
                double fl = 2.0 * H * sq * seqs[si] * (2.0 * DH);
                printf("%-7s %5d %7d %12.1f %9.1f\n", case_name[c], seqs[si], thr[ti], t * 1e6,
                       fl / t * 1e-9);
            }
    for (ti = 0; ti < nt; ti++) tfm_ctx_free(ctx[ti]);
    free(q);
    free(k);
    free(v);
    free(o);
    free(res);
    return 0;
}
