/*
 * Internal declarations of the layer code (src/nn/): the KV cache and the
 * internal forward functions that layers and models call with an arena.
 *
 * Letters: B batch, S/Sq queries, Sk keys, D model width, H query heads,
 * Hkv key/value heads, Dh head width, F feed-forward width.
 */
#ifndef TFM_NN_H
#define TFM_NN_H

#include "../core/internal.h"
#include "../ops/ops.h"

#include <string.h>

// ---- sinusoids (positions.c) -------------------------------------------------------

// Adds (or writes, add == 0) the sinusoidal encoding of position p, in
// layout `layout` (tfm_pos_layout), to the row o[d].
void tfm__sin_row(int layout, int64_t p, int64_t d, float *o, int add);
// Checks a sinusoidal layout and width for `op`'s messages.
tfm_status tfm__check_sin_layout(tfm_ctx *ctx, int layout, int64_t d, const char *op);

// ---- KV cache ---------------------------------------------------------------------

struct tfm_kv_cache {
    tfm_ctx *ctx;
    tfm_kv_cache_params p;
    float *k, *v;     // [L, Bmax, max_seq, Hkv, Dh] each
    int64_t *len;     // [L]
    int64_t *batch;   // [L]: batch size used since the layer was emptied
    size_t bytes;     // of k (and of v)
    void *tmp;        // reorder's copy of one layer's K or V (allocated by the
    size_t tmp_bytes; // first reorder, kept: later reorders allocate nothing)
};
// Base of (layer, b) for K or V: rows of Hkv*Dh floats, max_seq rows.
float *tfm__kv_ptr(const tfm_kv_cache *c, int which_v, int64_t layer, int64_t b);

// ---- modules, internal forwards -----------------------------------------------------

struct tfm_mha {
    tfm_ctx *ctx;
    tfm_mha_params p;
    int64_t H, Hkv, Dh, kdim, vdim;
    float *slopes;     // [H] ALiBi slopes or NULL
    tfm__linear lin[4]; // q, k, v, o
};
// Workspace bytes of a forward: the buffers it needs and, with gemm 1, the
// packing scratch of its matrix products too (a workspace without it still
// serves, the products then allocate their own: workspace_size reports the
// whole, so sized workspaces run without allocating).
size_t tfm__mha_ws(tfm_ctx *ctx, const tfm_mha *m, int64_t b, int64_t sq,
                   int64_t sk, int gemm);
tfm_status tfm__mha_forward(tfm_ctx *ctx, const tfm_mha *m, const tfm_tensor *x,
                            const tfm_tensor *mem, const tfm_tensor *mem_v,
                            const tfm_attn_masks *masks, tfm_kv_cache *cache,
                            int64_t layer, tfm__arena *ar, tfm_tensor *out,
                            tfm_tensor *probs);

struct tfm_ffn {
    tfm_ctx *ctx;
    tfm_ffn_params p;
    tfm__linear lin[3]; // w1, w2, w3 (gated only)
};
size_t tfm__ffn_ws(tfm_ctx *ctx, const tfm_ffn *f, int64_t rows, int gemm);
tfm_status tfm__ffn_forward(tfm_ctx *ctx, const tfm_ffn *f, const tfm_tensor *x,
                            tfm__arena *ar, tfm_tensor *out);

// ---- sizes -----------------------------------------------------------------------

// Bytes of weights one token's forward reads: a norm's gamma and beta; an
// encoder layer's; a decoder layer's (its cross-attention's keys and values
// are projected once per memory, not per token, and are left out).
uint64_t tfm__norm_bytes(const tfm_norm_weights *w);
uint64_t tfm__encoder_layer_bytes(const tfm_encoder_layer *e);
uint64_t tfm__decoder_layer_bytes(const tfm_decoder_layer *d);

#endif
