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
// + s). scratch: tfm__rope_scratch(ctx, rot) floats.
int64_t tfm__rope_scratch(tfm_ctx *ctx, int64_t rot_dim);
void tfm__rope_run(tfm_ctx *ctx, float *x, int64_t B, int64_t S, int64_t H,
                   const int64_t *xs, float *x2, int64_t H2, const int64_t *xs2,
                   int layout, float theta, int64_t rot, int64_t offset,
                   const tfm_tensor *positions, float *scratch);
tfm_status tfm__check_positions(tfm_ctx *ctx, const tfm_tensor *pos, int64_t b,
                                int64_t s, const char *what);

// ---- rows ---------------------------------------------------------------------

// out[n] = a[n] + b[n] (out may alias either).
void tfm__vec_add(int64_t n, const float *a, const float *b, float *out);
// out[n] = s * x[n] (out may alias x).
void tfm__vec_scale(int64_t n, float s, const float *x, float *out);

#endif /* TFM_OPS_OPS_H */
