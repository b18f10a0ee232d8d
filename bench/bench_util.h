/*
 * Helpers shared by the benchmarks (header only, every function static):
 * a monotonic clock, medians, and the machine's limits: the fp32 FMA peak
 * (a register-only FMA loop), the limit of compute-bound kernels, and the
 * read bandwidth (a streaming read over a buffer much larger than the
 * caches, split over threads), the limit of memory-bound ones (GEMV, a
 * decoding step); and random-weight safetensors files for the model
 * benchmarks.
 *
 * Requires _POSIX_C_SOURCE >= 200112L (clock_gettime, posix_memalign) and
 * pthreads.
 */
#ifndef TFM_BENCH_UTIL_H
#define TFM_BENCH_UTIL_H

#include "transformer.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  include <immintrin.h>
#  define BENCH_X86 1
#endif

#define BENCH_MAX_THREADS 8

// Every helper is static; a program uses only some of them.
#if defined(__GNUC__) || defined(__clang__)
#  define BENCH_FN static __attribute__((unused))
#else
#  define BENCH_FN static
#endif

BENCH_FN double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

BENCH_FN int bench_cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Median of v[0, n) (sorts v).
BENCH_FN double bench_median(double *v, int n) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One thread's share of a timed loop: flops or bytes done, and a result
// kept so the work is not optimized away.
typedef struct bench_arg {
    long iters;
    double flops, bytes;
    const float *buf;
    size_t n;
    float sink;
} bench_arg;

#ifdef BENCH_X86
// a->iters rounds of twelve independent FMA chains with distinct start
// values (so no two can be merged): enough to cover two FMA pipes of
// 4-cycle latency.
__attribute__((target("avx512f,fma"))) BENCH_FN void *bench_fma_loop(void *p) {
    bench_arg *a = (bench_arg *)p;
    __m512 c0 = _mm512_set1_ps(0.f), c1 = _mm512_set1_ps(.1f), c2 = _mm512_set1_ps(.2f),
           c3 = _mm512_set1_ps(.3f), c4 = _mm512_set1_ps(.4f), c5 = _mm512_set1_ps(.5f),
           c6 = _mm512_set1_ps(.6f), c7 = _mm512_set1_ps(.7f), c8 = _mm512_set1_ps(.8f),
           c9 = _mm512_set1_ps(.9f), c10 = _mm512_set1_ps(1.1f), c11 = _mm512_set1_ps(1.2f);
    __m512 x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(0.9999999f);
    long i;
    for (i = 0; i < a->iters; i++) {
        c0 = _mm512_fmadd_ps(c0, x, y); c1 = _mm512_fmadd_ps(c1, x, y);
        c2 = _mm512_fmadd_ps(c2, x, y); c3 = _mm512_fmadd_ps(c3, x, y);
        c4 = _mm512_fmadd_ps(c4, x, y); c5 = _mm512_fmadd_ps(c5, x, y);
        c6 = _mm512_fmadd_ps(c6, x, y); c7 = _mm512_fmadd_ps(c7, x, y);
        c8 = _mm512_fmadd_ps(c8, x, y); c9 = _mm512_fmadd_ps(c9, x, y);
        c10 = _mm512_fmadd_ps(c10, x, y); c11 = _mm512_fmadd_ps(c11, x, y);
    }
    c0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                       _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    c0 = _mm512_add_ps(c0, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    a->sink = _mm512_reduce_add_ps(c0);
    a->flops = (double)a->iters * 12 * 16 * 2;
    return NULL;
}

// Reads buf[0, n) once with 512-bit loads (four independent sums).
__attribute__((target("avx512f"))) BENCH_FN void *bench_read_loop(void *p) {
    bench_arg *a = (bench_arg *)p;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i;
    for (i = 0; i + 64 <= a->n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_load_ps(a->buf + i));
        s1 = _mm512_add_ps(s1, _mm512_load_ps(a->buf + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_load_ps(a->buf + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_load_ps(a->buf + i + 48));
    }
    a->sink = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    a->bytes = (double)i * sizeof(float);
    return NULL;
}
#endif

// Runs fn on nt threads at once (the caller is one of them); returns the
// sum of their flops (or bytes, when `bytes`) per second.
BENCH_FN double bench_run_threads(void *(*fn)(void *), bench_arg *args, int nt, int bytes) {
    pthread_t th[BENCH_MAX_THREADS];
    double t0, t1, total = 0;
    int i;
    if (nt > BENCH_MAX_THREADS) nt = BENCH_MAX_THREADS;
    t0 = bench_now();
    for (i = 1; i < nt; i++) pthread_create(&th[i], NULL, fn, &args[i]);
    fn(&args[0]);
    for (i = 1; i < nt; i++) pthread_join(th[i], NULL);
    t1 = bench_now();
    for (i = 0; i < nt; i++) total += bytes ? args[i].bytes : args[i].flops;
    return total / (t1 - t0);
}

// One run of the FMA loop (iters rounds) on nt threads at once: GFLOP/s.
// 0 where it cannot be measured (not x86-64, a CPU without AVX-512).
BENCH_FN double bench_peak_once(int nt, long iters) {
#ifdef BENCH_X86
    bench_arg a[BENCH_MAX_THREADS];
    int i;
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("fma")) return 0;
    if (nt < 1) nt = 1;
    if (nt > BENCH_MAX_THREADS) nt = BENCH_MAX_THREADS;
    memset(a, 0, sizeof a);
    for (i = 0; i < nt; i++) a[i].iters = iters;
    return bench_run_threads(bench_fma_loop, a, nt, 0) * 1e-9;
#else
    (void)nt;
    (void)iters;
    return 0;
#endif
}

// One streaming read of buf[0, n) (64-byte aligned), split among nt threads:
// GB/s. 0 where it cannot be measured (not x86-64, a CPU without AVX-512).
BENCH_FN double bench_read_once(int nt, const float *buf, size_t n) {
#ifdef BENCH_X86
    bench_arg a[BENCH_MAX_THREADS];
    size_t per;
    int t;
    if (!__builtin_cpu_supports("avx512f")) return 0;
    if (nt < 1) nt = 1;
    if (nt > BENCH_MAX_THREADS) nt = BENCH_MAX_THREADS;
    per = n / (size_t)nt / 64 * 64;
    memset(a, 0, sizeof a);
    for (t = 0; t < nt; t++) {
        a[t].buf = buf + (size_t)t * per;
        a[t].n = per;
    }
    return bench_run_threads(bench_read_loop, a, nt, 1) * 1e-9;
#else
    (void)nt;
    (void)buf;
    (void)n;
    return 0;
#endif
}

// Read bandwidth in GB/s over a fresh buffer of `bytes`, split among nt
// threads: the median of `reps` passes (0 where it cannot be measured, or
// without memory).
BENCH_FN double bench_read_bw(int nt, size_t bytes, int reps) {
    double v[64];
    size_t n = bytes / sizeof(float), i;
    void *raw = NULL;
    float *buf;
    int r;
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    if (posix_memalign(&raw, 64, n * sizeof(float))) return 0;
    buf = (float *)raw;
    for (i = 0; i < n; i++) buf[i] = (float)(i & 7);
    for (r = 0; r < reps; r++) v[r] = bench_read_once(nt, buf, n);
    free(buf);
    return bench_median(v, reps);
}

// ---- random weights as safetensors (bench/bert, bench/decode) --------------------------------

// One tensor of a random checkpoint: [rows, cols] (cols 0: a vector of
// rows), its values offset + scale * uniform[-1, 1).
typedef struct bench_tensor {
    char name[96];
    int64_t rows, cols;
    float scale, offset;
} bench_tensor;

// xorshift64 step on *s: uniform in [-1, 1).
BENCH_FN float bench_rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

// Writes w[0, n) to `path` as one safetensors file of F32 values (f16 0) or
// F16 ones (f16 1: the same values rounded), in order, drawing the values
// from *rng row by row. Returns 0 on success.
BENCH_FN int bench_write_safetensors(const char *path, const bench_tensor *w, int n,
                                     uint64_t *rng, int f16) {
    FILE *f;
    char *hdr;
    size_t hl = 0, cap = 64;
    uint64_t off = 0, hlen;
    int64_t maxc = 1;
    float *row;
    uint16_t *half;
    const char *dt = f16 ? "F16" : "F32";
    size_t es = f16 ? 2 : 4;
    int i;
    for (i = 0; i < n; i++) {
        int64_t cols = w[i].cols ? w[i].cols : w[i].rows;
        cap += strlen(w[i].name) + 100;
        if (cols > maxc) maxc = cols;
    }
    hdr = (char *)malloc(cap);
    row = (float *)malloc((size_t)maxc * sizeof(float));
    half = (uint16_t *)malloc((size_t)maxc * sizeof(uint16_t));
    if (!hdr || !row || !half || !(f = fopen(path, "wb"))) {
        free(hdr);
        free(row);
        free(half);
        return 1;
    }
    hl += (size_t)snprintf(hdr + hl, cap - hl, "{");
    for (i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)w[i].rows * (uint64_t)(w[i].cols ? w[i].cols : 1) * es;
        if (w[i].cols)
            hl += (size_t)snprintf(hdr + hl, cap - hl,
                                   "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],"
                                   "\"data_offsets\":[%llu,%llu]}", i ? "," : "", w[i].name,
                                   dt, (long long)w[i].rows, (long long)w[i].cols,
                                   (unsigned long long)off, (unsigned long long)(off + bytes));
        else
            hl += (size_t)snprintf(hdr + hl, cap - hl,
                                   "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld],"
                                   "\"data_offsets\":[%llu,%llu]}", i ? "," : "", w[i].name,
                                   dt, (long long)w[i].rows, (unsigned long long)off,
                                   (unsigned long long)(off + bytes));
        off += bytes;
    }
    hl += (size_t)snprintf(hdr + hl, cap - hl, "}");
    while (hl % 8) hdr[hl++] = ' ';
    hlen = hl; // little-endian hosts only, as the library
    fwrite(&hlen, 8, 1, f);
    fwrite(hdr, 1, hl, f);
    for (i = 0; i < n; i++) {
        int64_t r, c, cols = w[i].cols ? w[i].cols : w[i].rows, rows = w[i].cols ? w[i].rows : 1;
        for (r = 0; r < rows; r++) {
            for (c = 0; c < cols; c++) row[c] = w[i].offset + w[i].scale * bench_rnd(rng);
            if (f16) {
                tfm_f32_to_f16_array(row, half, (size_t)cols);
                fwrite(half, sizeof(uint16_t), (size_t)cols, f);
            } else {
                fwrite(row, sizeof(float), (size_t)cols, f);
            }
        }
    }
    free(row);
    free(half);
    free(hdr);
    return fclose(f) != 0;
}

#endif /* TFM_BENCH_UTIL_H */
