/*
 * Minimal test harness. A test is `TEST(name) { ... }` in any file under
 * tests/unit, tests/kernels or tests/golden; the build collects the names.
 * CHECK* macros record a failure with file:line and the values and go on;
 * REQUIRE* macros also leave the test. SKIP("why") ends a test as skipped.
 */
#ifndef TFM_TEST_HARNESS_H
#define TFM_TEST_HARNESS_H

#include "transformer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TEST(name) void tfmt_##name(void)

void tfmt_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void tfmt_skip(const char *why);
int tfmt_failed(void); // failures so far in the current test

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) tfmt_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);       \
    } while (0)
#define REQUIRE(cond)                                                           \
    do {                                                                        \
        if (!(cond)) {                                                          \
            tfmt_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);              \
            return;                                                             \
        }                                                                       \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                      \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        if (a_ != b_)                                                           \
            tfmt_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
    } while (0)
#define CHECK_STR(a, b)                                                         \
    do {                                                                        \
        const char *a_ = (a), *b_ = (b);                                        \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                  \
            tfmt_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
                      a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
    } while (0)
#define CHECK_CONTAINS(hay, needle)                                             \
    do {                                                                        \
        const char *h_ = (hay), *n_ = (needle);                                 \
        if (!h_ || !strstr(h_, n_))                                             \
            tfmt_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",     \
                      h_ ? h_ : "(null)", n_);                                  \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                   \
    do {                                                                        \
        double a_ = (double)(a), b_ = (double)(b);                              \
        if (!(fabs(a_ - b_) <= (tol)))                                          \
            tfmt_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)", #a, \
                      #b, a_, b_, (double)(tol));                               \
    } while (0)
/* Status checks print the context's last error. */
#define CHECK_OK(ctx, expr)                                                     \
    do {                                                                        \
        tfm_status s_ = (expr);                                                 \
        if (s_ != TFM_OK)                                                       \
            tfmt_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr,                \
                      tfm_status_str(s_), tfm_ctx_last_error(ctx));             \
    } while (0)
#define REQUIRE_OK(ctx, expr)                                                   \
    do {                                                                        \
        tfm_status s_ = (expr);                                                 \
        if (s_ != TFM_OK) {                                                     \
            tfmt_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr,                \
                      tfm_status_str(s_), tfm_ctx_last_error(ctx));             \
            return;                                                             \
        }                                                                       \
    } while (0)
#define CHECK_STATUS(expr, want)                                                \
    do {                                                                        \
        tfm_status s_ = (expr), w_ = (want);                                    \
        if (s_ != w_)                                                           \
            tfmt_fail(__FILE__, __LINE__, "%s -> %s, expected %s", #expr,       \
                      tfm_status_str(s_), tfm_status_str(w_));                  \
    } while (0)
#define SKIP(why)                                                               \
    do {                                                                        \
        tfmt_skip(why);                                                         \
        return;                                                                 \
    } while (0)

/* Relative error ||out - ref|| / ||ref|| of n floats against doubles. */
double tfmt_relerr(const float *out, const double *ref, int64_t n);
double tfmt_relerr_f(const float *out, const float *ref, int64_t n);
/* Checks the relative error, printing the largest element difference. */
#define CHECK_RELERR(out, ref, n, tol)                                          \
    tfmt_check_relerr(__FILE__, __LINE__, #out, (out), (ref), (n), (tol))
#define CHECK_RELERR_F(out, ref, n, tol)                                        \
    tfmt_check_relerr_f(__FILE__, __LINE__, #out, (out), (ref), (n), (tol))
int tfmt_check_relerr(const char *file, int line, const char *what,
                      const float *out, const double *ref, int64_t n, double tol);
int tfmt_check_relerr_f(const char *file, int line, const char *what,
                        const float *out, const float *ref, int64_t n, double tol);

/* A context for a test (n threads); freed by tfmt_ctx_free. */
tfm_ctx *tfmt_ctx(int n_threads);

/* Path of a file in the test data folder (tests/ in the source tree, or
 * $TFM_TEST_DATA): returns a static buffer. */
const char *tfmt_data(const char *rel);
/* Path under ../shared (or $TFM_SHARED); NULL if that folder is absent. */
const char *tfmt_shared(const char *rel);

/* Deterministic pseudo-random numbers (xorshift), uniform in [-1, 1). */
void tfmt_seed(uint64_t seed);
float tfmt_randf(void);
void tfmt_fill(float *x, int64_t n);

/* Reads a whole file (malloc'd, NUL-terminated); NULL if it cannot. */
char *tfmt_read_file(const char *path, size_t *len);

/* Counting allocator that can fail the N-th allocation (0: never) and
 * tracks live bytes, for out-of-memory and leak tests. */
typedef struct tfmt_alloc_state {
    long n_allocs;     /* allocations and resizes made so far   */
    long fail_at;      /* fail this one (1-based); 0 = never     */
    long live_blocks;  /* blocks not yet freed                   */
    long long live_bytes;
    int failed;        /* 1 once a failure was injected           */
} tfmt_alloc_state;
void *tfmt_alloc(void *ud, void *ptr, size_t osize, size_t nsize, size_t align);

/* Allocation-failure walk. A scenario creates a context from `params` (whose
 * allocator is the counting one), does its work, frees everything it made
 * (also on failure) and returns the first error or TFM_OK. The walk runs it
 * once to count allocations, then once per allocation with that one failing,
 * and checks that each such run returns TFM_ERR_NOMEM and leaks nothing.
 * Returns the number of allocations walked. */
typedef tfm_status (*tfmt_scenario)(const tfm_ctx_params *params, void *arg);
// A scratch copy of the test-data folder rel (under /tmp, one per process):
// with `edit` a sed script applied to its `file`, without it `file` removed
// (NULL file: the copy as is). Returns the copy's path (static storage) or
// NULL when a step failed. tfmt_scratch_clean removes it.
const char *tfmt_scratch(const char *rel, const char *file, const char *edit);
void tfmt_scratch_clean(const char *dir);

long tfmt_oom_walk(const char *file, int line, tfmt_scenario fn, void *arg);
#define OOM_WALK(fn, arg) tfmt_oom_walk(__FILE__, __LINE__, (fn), (arg))

#endif
