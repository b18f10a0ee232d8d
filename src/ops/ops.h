/*
 * Internal declarations of the compute layer (src/ops/) that the layers and
 * models call: the attention core (attention.c), rotary positions (rope.c)
 * and row arithmetic on raw vectors (ops.c). Nothing above src/ops/ sees the
 * kernel table; these are its entry points.
 *
 * Letters: B batch, S/Sq queries, Sk keys, H query heads, Hkv key/value
 * heads, Dh head width.
 */
#ifndef TFM_OPS_OPS_H
#define TFM_OPS_OPS_H

#include "../core/internal.h"

// ---- attention core -------------------------------------------------------------

typedef struct tfm__attn {
    int64_t B, H, Hkv, Sq, Sk, Dh, Dv;
    const float *q, *k, *v; // [B, H|Hkv, S, D] with strides below (dims 0..2)
    float *o, *p;           // output, probabilities (p may be NULL)
    int64_t qs[3], ks[3], vs[3], os[3], ps[3];
    float scale;
    int causal;
    const float *alibi;        // [H] or NULL
    const tfm_tensor *kpm;     // key padding mask [B, Sk] or NULL
    const tfm_tensor *am;      // additive/bool mask, broadcast onto [B,H,Sq,Sk]
    int64_t am_s[4];           // strides of am over [B, H, Sq, Sk] (0: broadcast)
    // Work (multiply-adds) below which one task runs instead of the ctx's
    // threads; 0 (as set up): the default. Callers that know their calls
    // are small and frequent (a decoding step) raise it, so waking the pool
    // does not cost more than the work.
    double par_min;
} tfm__attn;

// Checks q, k, v, out, probs and the params and fills *a.
tfm_status tfm__attn_setup(tfm_ctx *ctx, const tfm_tensor *q, const tfm_tensor *k,
                           const tfm_tensor *v, const tfm_attn_params *params,
                           tfm_tensor *out, tfm_tensor *probs, const char *op,
                           tfm__attn *a);
// Scratch floats the attention needs for calls of up to sk keys (per thread:
// a block of scores, about 128 x sk, and packed blocks; attention.c).
int64_t tfm__attn_scratch(tfm_ctx *ctx, int64_t sk);
// Runs it; scratch holds tfm__attn_scratch(ctx, Sk) floats.
void tfm__attn_run(tfm_ctx *ctx, const tfm__attn *a, float *scratch);

// ---- RoPE ----------------------------------------------------------------------

// Rotates x [B, S, H, Dh] (raw pointer, strides xs over B, S, H) in place,
// and x2 [B, S, H2, Dh] (strides xs2; NULL for none) at the same positions
// with the same angles. positions: i32 [B, S] or [S] tensor or NULL (offset
// + s). cos_t, sin_t: tables [P, rot/2] of tfm_rope_tables covering every
// position of the call, or NULL (angles computed here). scratch:
// tfm__rope_scratch(ctx, rot) floats.
int64_t tfm__rope_scratch(tfm_ctx *ctx, int64_t rot_dim);
void tfm__rope_run(tfm_ctx *ctx, float *x, int64_t B, int64_t S, int64_t H,
                   const int64_t *xs, float *x2, int64_t H2, const int64_t *xs2,
                   int layout, float theta, int64_t rot, int64_t offset,
                   const tfm_tensor *positions, const float *cos_t, const float *sin_t,
                   float *scratch);
tfm_status tfm__check_positions(tfm_ctx *ctx, const tfm_tensor *pos, int64_t b,
                                int64_t s, const char *what);

// ---- matrix products (ops.c) --------------------------------------------------

// tfm_matmul (b, trans_b) or tfm_matmul_packed (pb) with the packing
// workspace `ws` (tfm__gemm_ws floats of the largest product it runs, or
// NULL: allocated per call); `op` names the call in messages.
tfm_status tfm__matmul(tfm_ctx *ctx, const char *op, const tfm_tensor *a,
                       const tfm_tensor *b, int trans_b, const tfm_packed_matrix *pb,
                       const tfm_tensor *bias, float alpha, float beta, tfm_tensor *out,
                       float *ws);

// ---- the weight matrix (linear.c) ----------------------------------------------
//
// Every module and model multiplies by one object: a weight matrix W with an
// optional bias, in one storage format, used where it lies or prepacked for
// the GEMM micro-kernels. y = x W^T + b for x [..., n_in], y [..., n_out].
// A new storage format is a new value of `format` and its kernels behind
// tfm__linear_apply; the modules and models do not change.

typedef enum {
    TFM__WF_F32 = 0,  // fp32 as stored
    TFM__WF_F16 = 1,  // IEEE half as stored, widened in registers
    TFM__WF_BF16 = 2, // bfloat16 as stored, widened in registers
    TFM__WF_Q8 = 3,   // quantized panels (kernels.h): int8 blocks
    TFM__WF_Q4 = 4    // quantized panels: 4-bit blocks
} tfm__wformat;

typedef struct tfm__linear {
    int format;             // tfm__wformat: the element type of w
    const void *w;          // [n_out, n_in] (wt 1: nn.Linear) or [n_in, n_out]
                            // (wt 0: GPT-2's Conv1D), rows ld elements apart;
                            // quantized: the panels (always [n_out, n_in])
    int64_t n_in, n_out, ld;
    int wt;
    int64_t r0;             // quantized: the first row, within w's first panel
                            // (a slice off the panels' grid: runs packed only)
    const float *b;         // [n_out] or NULL
    tfm_packed_matrix *pk;  // owned copy packed for the GEMM (quantized: rows
                            // re-cut into panels of their own), or NULL
} tfm__linear;

// Checks the weight tensor w (f32, f16 or bf16; and the optional f32 bias
// b) of a map n_in -> n_out, stored [n_out, n_in] (in_out 0) or [n_in,
// n_out] (in_out 1), rows contiguous, and fills *l to use it in place
// (borrowed; the caller keeps w and b alive). A 16-bit weight runs packed
// only: tfm__linear_apply refuses it unpacked. A quantized w (TFM__Q8,
// TFM__Q4) is [n_out, n_in] whatever in_out, and runs in place. Messages name "<op>: <name>"
// and "<op>: <bname>": TFM_ERR_INVALID_ARG (w NULL), TFM_ERR_DTYPE,
// TFM_ERR_SHAPE.
tfm_status tfm__linear_init(tfm_ctx *ctx, tfm__linear *l, const tfm_tensor *w,
                            const tfm_tensor *b, int64_t n_in, int64_t n_out, int in_out,
                            const char *op, const char *name, const char *bname);
// Packs W for the GEMM (a no-op when already packed), 16-bit weights as
// they are; a quantized W only when it is a slice off its panels' grid:
// TFM_ERR_NOMEM.
tfm_status tfm__linear_pack(tfm_ctx *ctx, tfm__linear *l);
// Rows (wt 1; columns with wt 0) [r0, r0 + n) of W's outputs, and of the
// bias, as a map of its own (a slice of a fused projection), unpacked.
tfm__linear tfm__linear_slice(const tfm__linear *l, int64_t r0, int64_t n);
// Frees the packed copy (l stays usable in place). l NULL: no-op.
void tfm__linear_release(tfm__linear *l);
// Bytes a forward reads: the weights (as stored) and the bias.
uint64_t tfm__linear_bytes(const tfm__linear *l);
// Workspace bytes (arena-rounded) of tfm__linear_apply on `rows` rows.
size_t tfm__linear_ws(tfm_ctx *ctx, const tfm__linear *l, int64_t rows);
// y [..., n_out] = x [..., n_in] W^T + b: the GEMM or, for a few rows, the
// small-M path. The packing scratch comes from the arena (its top, given
// back before returning; tfm__linear_ws bytes) or, with ar NULL or short of
// room, is allocated for the call.
tfm_status tfm__linear_apply(tfm_ctx *ctx, const tfm__linear *l, const tfm_tensor *x,
                             tfm_tensor *y, tfm__arena *ar);
// The same on raw rows: x [rows, n_in] (ldx apart) into y [rows, n_out]
// (ldy apart).
tfm_status tfm__linear_rows(tfm_ctx *ctx, const tfm__linear *l, int64_t rows,
                            const float *x, int64_t ldx, float *y, int64_t ldy,
                            tfm__arena *ar);

// ---- quantized matrices (quant.c) ------------------------------------------------
// dtype TFM__Q8 or TFM__Q4 (core/internal.h), for a map k -> n.

// Bytes of the panels of an [n, k] matrix (0 on overflow).
size_t tfm__q_bytes(int dtype, int64_t n, int64_t k);
// Quantizes w (f32, f16 or bf16, 2-D, rows contiguous; [n, k], or [k, n]
// with in_out) into dst (tfm__q_bytes bytes) by GGUF's Q8_0 / Q4_0 rules,
// block by block along k: TFM_ERR_NOMEM (its scratch).
tfm_status tfm__q_quantize(tfm_ctx *ctx, int dtype, const tfm_tensor *w, int in_out, int64_t n,
                           int64_t k, uint8_t *dst);
// Row r of the matrix as floats out[k].
void tfm__q_row(int dtype, const uint8_t *panels, int64_t k, int64_t r, float *out);
// Rows [r0, r0 + n) of panels src into panels of their own, dst.
void tfm__q_copy_rows(int dtype, const uint8_t *src, int64_t k, int64_t r0, int64_t n,
                      uint8_t *dst);
// Panels read from a file: the first row with a scale that is not finite or
// (Q8) a value of -128, or -1 when every row is good.
int64_t tfm__q_check(int dtype, const uint8_t *panels, int64_t n, int64_t k);

// ---- rows ---------------------------------------------------------------------

// out[n] = a[n] + b[n] (out may alias either).
void tfm__vec_add(int64_t n, const float *a, const float *b, float *out);
// out[n] = s * x[n] (out may alias x).
void tfm__vec_scale(int64_t n, float s, const float *x, float *out);

#endif /* TFM_OPS_OPS_H */
