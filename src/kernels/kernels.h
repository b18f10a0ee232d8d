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

#include "../core/qlayout.h"

#if defined(__GNUC__) || defined(__clang__)
#  define TFM__RESTRICT __restrict__
#else
#  define TFM__RESTRICT
#endif

// ---- GEMM, BLIS shape: portable loops in ops/gemm.c, per-ISA packing and an
// MR x NR micro-kernel here. Letters: M, N, K of C[M, N] = A[M, K] op(B)[K, N].
// Packed A: ceil(m/mr) micro-panels, panel i holds rows i*mr.. as k groups of
//   mr floats (p-major), rows past m zero; panel stride k*mr.
// Packed B: ceil(n/nr) micro-panels, panel j holds columns j*nr.. as k groups
//   of nr floats, columns past n zero; panel stride `ps` (>= k*nr) floats, so
//   a prepacked [K, N] matrix stores whole-K panels (ps = K*nr) and a kc slice
//   of it starts at panel + pc*nr.
typedef struct tfm__gemm_kernels {
    int mr, nr;      // micro-tile
    int mc, kc, nc;  // cache blocks (mc % mr == 0, nc % nr == 0)
    // A[m, k] (rows lda apart) -> ap.
    void (*pack_a)(int64_t m, int64_t k, const float *a, int64_t lda, float *ap);
    // op(B)[k, n] -> bp: B[k, n] rows ldb apart, or with trans_b B[n, k].
    void (*pack_b)(int64_t k, int64_t n, const float *b, int64_t ldb, int trans_b,
                   float *bp, int64_t ps);
    // C[m, n] = alpha * Ap[m, k] Bp[k, n] + beta * C, m <= mr, n <= nr, from
    // one A and one B micro-panel. beta == 0: C is not read. Each element is
    // one f32 sum over p in order, whatever m and n (edge tiles compute the
    // full tile), so results do not depend on how C is split.
    void (*ukr)(int64_t k, const float *ap, const float *bp, float alpha,
                float beta, float *c, int64_t ldc, int64_t m, int64_t n);
    // Small M (1..8, decode): C[m, n] = alpha * A[m, k] B[n, k]^T + beta * C,
    // B in nn.Linear layout (rows ldb apart), streamed once.
    void (*gemv_t)(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc);
    // Small M from whole-K packed B panels (ps = k*nr): columns [0, n) of the
    // panels starting at bp, streamed once.
    void (*gemv_p)(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *bp, float beta, float *c,
                   int64_t ldc);
    // gemv_p from panels of f16 (gemv_p_f16) or bf16 (gemv_p_bf16) values in
    // the same layout, widened to f32 in registers: each element gets
    // gemv_p's arithmetic on the widened values, so the results are the bits
    // gemv_p gives on a widened copy of the panels.
    void (*gemv_p_f16)(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, const uint16_t *bp, float beta, float *c,
                       int64_t ldc);
    void (*gemv_p_bf16)(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                        int64_t lda, const uint16_t *bp, float beta, float *c,
                        int64_t ldc);
} tfm__gemm_kernels;

// ---- quantized weights: Q8 and Q4, GGUF's Q8_0 and Q4_0 blocks -----------------
// A quantized matrix W[N, K] (nn.Linear layout: K, the inputs, along each row)
// is cut into blocks of TFM__QK values along each row, with an f16 scale d
// per block: Q8 values are int8 q (w = d q, q in [-127, 127]); Q4 values
// are 4-bit n with an f16 minimum m too (w = d n + m). Per row, a block is
// GGUF's block_q8_0 {d, qs[32]} or block_q4_1 {d, m, qs[16]}: qs[i] holds
// values i (low nibble) and i + 16 (high). The rows are stored in panels of
// TFM__QP rows (rows past N zero), panel-major, each panel holding
// ceil(K / 32) panel-blocks (values past K zero: q 0, n 0 with m 0) of
//   32 bytes: the 16 rows' scales d (f16), row order; Q4: 32 more, their m;
//   the 16 rows' qs bytes in groups of 4: group g (of 8 for Q8, 4 for Q4)
//   holds qs[4g..4g+3] of row 0, of row 1, ... (64 bytes a group),
// so one 64-byte load holds four qs bytes of each of the 16 rows: an int8
// dot-product instruction (vpdpbusd, sdot) against four broadcast
// activation bytes gives 16 rows' partial sums.
// Activations are quantized on the fly, per row and block of 32: scale d =
// amax / 127, q = round-half-even(x * 127 / amax) (0 for an all-zero
// block), and the block's sum of q (for the kernels' offsets). A block that
// holds a NaN or an infinity gets d = NAN, q and the sum 0, so every
// product with it is NaN (as an fp32 product would be non-finite).
// (The sizes, TFM__QK, TFM__QP, TFM__Q8_BLOCK and TFM__Q4_BLOCK: core/qlayout.h.)

typedef struct tfm__quant_kernels {
    // One activation row x[k] into ceil(k / 32) blocks: q[32 per block]
    // (zero past k), d[block] and s[block] (sum of the block's q).
    void (*quantize)(int64_t k, const float *x, int8_t *q, float *d, int32_t *s);
    // C[m, n] = A W^T for n <= 16 columns: one panel w (kb panel-blocks) of a
    // Q8 (q8) or Q4 (q4) matrix against m activation rows quantized by
    // `quantize` (a row's q kb * 32 bytes apart, its d and s kb apart); C rows
    // ldc apart, columns past n not written. Each element is
    //   acc = 0; for each block b: acc = fmaf((float)dot_b, d_w * d_a, acc)
    //   (Q4 then: acc = fmaf((float)s_b, m_w * d_a, acc))
    // with dot_b the exact integer dot of the block's q (Q4: n) and the
    // activations' q, s_b their sum, so every kernel gives the scalar twin's
    // bits, whatever m.
    void (*q8)(int64_t m, int64_t kb, const int8_t *aq, const float *ad, const int32_t *as,
               const uint8_t *w, float *c, int64_t ldc, int64_t n);
    void (*q4)(int64_t m, int64_t kb, const int8_t *aq, const float *ad, const int32_t *as,
               const uint8_t *w, float *c, int64_t ldc, int64_t n);
} tfm__quant_kernels;

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

    // ---- GEMM building blocks ----------------------------------------------
    // Left zero in the ref table (ref.c); tfm__gemm_of() then gives
    // tfm__gemm_ref (ref/gemm.c). Each ISA's gemm.c fills it.
    struct tfm__gemm_kernels gemm;

    // ---- quantized weights (ref/quant.c is the twin) ------------------------------
    struct tfm__quant_kernels quant;
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
// Vector kernels of each ISA (its vec.c), registered by its init.c.
void tfm__avx2_init_vec(tfm__kernels *k);
void tfm__avx512_init_vec(tfm__kernels *k);
void tfm__neon_init_vec(tfm__kernels *k);

// GEMM: the scalar twin (ref/gemm.c), each ISA's registration (its gemm.c),
// and the GEMM section a table runs (its own, or ref's when left empty).
extern const tfm__gemm_kernels tfm__gemm_ref;
void tfm__avx2_init_gemm(tfm__kernels *k);
void tfm__avx512_init_gemm(tfm__kernels *k);
void tfm__neon_init_gemm(tfm__kernels *k);
const tfm__gemm_kernels *tfm__gemm_of(const tfm__kernels *k);

// Quantized kernels of each ISA (its quant.c). dot: use the CPU's int8 dot
// product (AVX-512 VNNI, AVX-VNNI, NEON sdot); 0 gives the kernels without
// it (the tables "avx512-novnni", "avx2-novnni", "neon-nodot").
// ref.c leaves its quant section zero: tfm__quant_of gives tfm__quant_ref.
extern const tfm__quant_kernels tfm__quant_ref;
const tfm__quant_kernels *tfm__quant_of(const tfm__kernels *k);
void tfm__avx2_init_quant(tfm__kernels *k, int dot);
void tfm__avx512_init_quant(tfm__kernels *k, int dot);
void tfm__neon_init_quant(tfm__kernels *k, int dot);

#endif /* TFM_KERNELS_H */
