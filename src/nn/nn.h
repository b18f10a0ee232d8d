/*
 * Internal declarations of the layer code (src/nn/): the workspace arena,
 * the attention core shared by tfm_attention and the modules, and the
 * internal forward functions that layers and models call with an arena.
 *
 * Letters: B batch, S/Sq queries, Sk keys, D model width, H query heads,
 * Hkv key/value heads, Dh head width, F feed-forward width.
 */
#ifndef TFM_NN_H
#define TFM_NN_H

#include "../core/internal.h"
#include "../kernels/kernels.h"

#include <string.h>

// ---- workspace and arena --------------------------------------------------------

struct tfm_workspace {
    tfm_ctx *ctx;
    void *data;
    size_t size;
};

// A bump allocator over a workspace. Buffers are rounded to 64 bytes, so a
// size computed with tfm__ws_add matches what tfm__arena_f32 hands out.
typedef struct tfm__arena {
    char *base;
    size_t size, used;
} tfm__arena;

#define TFM__WS_ALIGN 64

// Adds the bytes of n floats (rounded) to *total; sets *total to SIZE_MAX on
// overflow (sticky).
void tfm__ws_add(size_t *total, int64_t n);
// n floats from the arena (NULL when it is exhausted: a sizing bug).
float *tfm__arena_f32(tfm__arena *a, int64_t n);

// Opens an arena of `need` bytes: from ws (checked: TFM_ERR_RANGE naming
// `what` when too small) or, with ws NULL, a temporary allocation stored in
// *tmp (free with tfm__arena_close).
tfm_status tfm__arena_open(tfm_ctx *ctx, tfm_workspace *ws, size_t need,
                           const char *what, tfm__arena *a, void **tmp);
void tfm__arena_close(tfm_ctx *ctx, void *tmp, size_t need);

// ---- tensors without allocation ------------------------------------------------

// Fills a caller-owned struct as an f32 view of `data` with the given
// shape and strides (elements).
void tfm__view(tfm_tensor *t, float *data, int ndim, const int64_t *shape,
               const int64_t *stride);
// Contiguous f32 view.
void tfm__view_c(tfm_tensor *t, float *data, int ndim, const int64_t *shape);
// Checks an optional u8/i32 [B, S] padding mask; name for messages.
tfm_status tfm__check_pad_mask(tfm_ctx *ctx, const tfm_tensor *m, int64_t b,
                               int64_t s, const char *what);
// 1 when element (b, s) of a u8/i32 padding mask is nonzero.
int tfm__pad_at(const tfm_tensor *m, int64_t b, int64_t s);

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

// ---- KV cache ---------------------------------------------------------------------

struct tfm_kv_cache {
    tfm_ctx *ctx;
    tfm_kv_cache_params p;
    float *k, *v;     // [L, Bmax, max_seq, Hkv, Dh] each
    int64_t *len;     // [L]
    int64_t *batch;   // [L]: batch size used since the layer was emptied
    size_t bytes;     // of k (and of v)
};
// Base of (layer, b) for K or V: rows of Hkv*Dh floats, max_seq rows.
float *tfm__kv_ptr(const tfm_kv_cache *c, int which_v, int64_t layer, int64_t b);

// ---- modules, internal forwards -----------------------------------------------------

struct tfm_mha {
    tfm_ctx *ctx;
    tfm_mha_params p;
    tfm_mha_weights w;
    int64_t H, Hkv, Dh, kdim, vdim;
    float *slopes; // [H] ALiBi slopes or NULL
    tfm_packed_matrix *packed[4]; // q, k, v, o packed (prepack), else NULL
};
size_t tfm__mha_ws(tfm_ctx *ctx, const tfm_mha *m, int64_t b, int64_t sq,
                   int64_t sk);
tfm_status tfm__mha_forward(tfm_ctx *ctx, const tfm_mha *m, const tfm_tensor *x,
                            const tfm_tensor *mem, const tfm_tensor *mem_v,
                            const tfm_attn_masks *masks, tfm_kv_cache *cache,
                            int64_t layer, tfm__arena *ar, tfm_tensor *out,
                            tfm_tensor *probs);

struct tfm_ffn {
    tfm_ctx *ctx;
    tfm_ffn_params p;
    tfm_ffn_weights w;
    tfm_packed_matrix *packed[3]; // w1, w2, w3 packed (prepack), else NULL
};
size_t tfm__ffn_ws(const tfm_ffn *f, int64_t rows);
tfm_status tfm__ffn_forward(tfm_ctx *ctx, const tfm_ffn *f, const tfm_tensor *x,
                            tfm__arena *ar, tfm_tensor *out);

#endif
