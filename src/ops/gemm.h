/*
 * GEMM driver (internal): the portable BLIS loops around a kernel table's
 * packing routines and MR x NR micro-kernel, the small-M path, and the
 * prepacked matrix. See kernels.h ("GEMM") for the packed layouts.
 *
 * Letters: C[M, N] = alpha * A[M, K] op(B)[K, N] + beta * C (+ bias[N]).
 */
#ifndef TFM_GEMM_H
#define TFM_GEMM_H

#include "../core/internal.h"
#include "../kernels/kernels.h"

// A prepacked op(B)[K, N]: ceil(N / nr) whole-K micro-panels of K x nr.
// The panels hold f32 values, or (dtype TFM_F16 / TFM_BF16) the 16-bit
// values of a matrix stored so, as they are: the GEMM widens them.
struct tfm_packed_matrix {
    tfm_ctx *ctx;                // allocator of `raw`; must outlive this
    const tfm__kernels *k;       // the table whose layout this is
    int64_t kdim, n;             // K, N
    int dtype;                   // TFM_F32, TFM_F16, TFM_BF16, TFM__Q8 or TFM__Q4
    float *panels;               // f32 panels, 64-byte aligned, inside raw
    uint16_t *panels16;          // or 16-bit ones
    uint8_t *qpanels;            // or quantized ones (kernels.h), n x kdim
    void *raw;
    size_t raw_size;
};

// One GEMM. Exactly one of b (plain), bp, bp16 and bq (prepacked panels,
// whole-K, the panel holding column 0) is set. Rows of A and C are lda / ldc apart.
typedef struct tfm__gemm_args {
    int64_t m, n, k;
    float alpha, beta;
    const float *a;
    int64_t lda;
    const float *b;     // B[K, N] (ldb per k row) or, with trans_b, B[N, K]
    int64_t ldb;
    int trans_b;
    const float *bp;    // or prepacked panels
    const uint16_t *bp16; // or prepacked panels of 16-bit values (bp16_dtype
    int bp16_dtype;       // TFM_F16 or TFM_BF16), widened block by block
    const uint8_t *bq;    // or quantized panels (bq_dtype TFM__Q8 or TFM__Q4;
    int bq_dtype;         // kernels.h): A is quantized on the fly; alpha 1, beta 0
    const float *bias;  // [N] or NULL: added after the product
    float *c;
    int64_t ldc;
    float *ws;          // packing workspace of tfm__gemm_ws floats, or NULL:
                        // tfm__gemm allocates one for the call
} tfm__gemm_args;

// Runs the GEMM over the ctx's pool: the work is split over output tiles
// (MR x NR granules, or NR columns on the small-M path; quantized panels:
// rows of A to quantize, then whole panels), never over K, so every element
// gets the same arithmetic for any thread count. Without x->ws, allocates
// the packing (or quantized A's) workspace from ctx (TFM_ERR_NOMEM).
tfm_status tfm__gemm(tfm_ctx *ctx, const tfm__kernels *k, const tfm__gemm_args *x);
// Floats of workspace tfm__gemm needs for x on the ctx's threads (0 on the
// small-M path); only m, n, k, bp, bq and trans_b are read.
size_t tfm__gemm_ws(tfm_ctx *ctx, const tfm__kernels *k, const tfm__gemm_args *x);

// Serial GEMM with a given GEMM section and block sizes (tests, benchmarks),
// workspace from the libc hooks. Returns 0 when out of memory.
int tfm__gemm_serial(const tfm__gemm_kernels *g, const tfm__gemm_args *x);

// Whether (m, packed or trans_b) takes the small-M (GEMV) path.
int tfm__gemm_small_m(int64_t m, int packed, int trans_b);

// A packed matrix of K x N for dtype (F32, F16, BF16: its panels; TFM__Q8,
// TFM__Q4: quantized panels) with `bytes` of panel storage, 64-byte aligned,
// uninitialized, on the current kernel table: TFM_ERR_NOMEM.
tfm_status tfm__packed_new(tfm_ctx *ctx, size_t bytes, int64_t kdim, int64_t n, int dtype,
                           tfm_packed_matrix **out);

#endif /* TFM_GEMM_H */
