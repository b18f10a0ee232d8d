/*
 * The kernel table: raw-pointer compute kernels, one table per ISA.
 *
 * Contract for every kernel: pointers, sizes and strides only; no tfm_tensor,
 * no allocation, no locks, no printing. Every SIMD kernel has a scalar twin in
 * ref/ and tests compare the two. Sizes are element counts (int64_t).
 * Selection (dispatch.c): the best table the CPU supports, once per process,
 * unless TFM_ARCH names another.
 */
#ifndef TFM_KERNELS_H
#define TFM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#  define TFM__RESTRICT __restrict__
#else
#  define TFM__RESTRICT
#endif

typedef struct tfm__kernels {
    const char *name;

    // ---- matrix multiply ----------------------------------------------------
    // C[m, n] = alpha * A[m, k] * op(B) + beta * C, op(B) = B[k, n] (ldb per
    // row of k) or, with trans_b, B[n, k] transposed (ldb per row of n).
    // Row strides lda/ldb/ldc; the inner dimension is contiguous. With
    // beta == 0, C is never read.
    void (*sgemm)(int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb,
                  int trans_b, float beta, float *c, int64_t ldc);

    // ---- vectors (n elements, contiguous) -------------------------------------
    float (*dot)(int64_t n, const float *x, const float *y);
    void (*axpy)(int64_t n, float a, const float *x, float *y); // y += a*x
    void (*add)(int64_t n, const float *a, const float *b, float *out);
    void (*mul)(int64_t n, const float *a, const float *b, float *out);
    void (*scale)(int64_t n, float s, const float *x, float *out);
    void (*exp)(int64_t n, const float *x, float *out);
    // out = softmax(x + mask); mask may be NULL; all -inf row -> zeros.
    void (*softmax)(int64_t n, const float *x, const float *mask, float *out);
    // g/b may be NULL (ones/zeros)
    void (*layernorm)(int64_t n, const float *x, const float *g,
                      const float *b, float eps, float *out);
    void (*rmsnorm)(int64_t n, const float *x, const float *g, float eps,
                    float *out);
    // activations, indexed by tfm_act (TFM_ACT_NONE copies)
    void (*act[7])(int64_t n, const float *x, float *out);
    // Rotary embedding of one head vector x[d] in place, with cos/sin[d/2]
    // for its position. neox == 0: pairs (x[2i], x[2i+1]) (llama2.c, GPT-J);
    // neox == 1: pairs (x[i], x[i + d/2]) (GPT-NeoX, Hugging Face Llama).
    void (*rope)(int64_t d, float *x, const float *cos, const float *sin,
                 int neox);

    // ---- conversions ----------------------------------------------------------
    void (*f16_to_f32)(int64_t n, const uint16_t *src, float *dst);
    void (*f32_to_f16)(int64_t n, const float *src, uint16_t *dst);
    void (*bf16_to_f32)(int64_t n, const uint16_t *src, float *dst);
    void (*f32_to_bf16)(int64_t n, const float *src, uint16_t *dst);
} tfm__kernels;

// The table in use (chosen once, thread-safe).
const tfm__kernels *tfm__k(void);
// A table by name ("ref", "avx2", "avx512", "neon"), or NULL when it is not
// compiled in or the CPU cannot run it. For tests and benchmarks.
const tfm__kernels *tfm__kernels_get(const char *name);

// Registration, as BLIS does it: every table starts as a copy of the
// reference table, then each ISA's init functions replace the slots they
// have optimized. An ISA folder defines tfm__kernels_init_<isa>(k), which
// calls the init function of each of its files (gemm, vector kernels, ...).
extern const tfm__kernels tfm__kernels_ref;
void tfm__kernels_init_avx2(tfm__kernels *k);
void tfm__kernels_init_avx512(tfm__kernels *k);
void tfm__kernels_init_neon(tfm__kernels *k);

#endif /* TFM_KERNELS_H */
