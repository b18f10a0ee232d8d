/*
 * Decoder-only models on the library's layers: token (and learned
 * position) embeddings, pre-norm tfm_decoder_layer modules without
 * cross-attention (causal self-attention over the session's KV cache, with
 * rotary positions, grouped-query heads, gated or plain feed-forward), the
 * final norm and the classifier. The Llama family (RMSNorm, rotary
 * positions, SwiGLU), GPT-2 (LayerNorm, learned positions, GELU-tanh MLP,
 * Conv1D [in, out] weights, biases) and llama2.c checkpoints (rotary angles
 * in float) differ only in the options their loaders set.
 *
 * One forward runs a batch of B tokens at positions p0 .. p0+B-1: every
 * linear map is one matrix product over the batch (a prompt goes through as
 * one batch; a decoding step is the B = 1 case, which the GEMM sends down
 * its small-M path). The session sizes the cache and the workspace once,
 * so a forward allocates nothing.
 */
#include "arch.h"
#include "decoder.h"

#include <stdio.h>
#include <string.h>

// Below this many multiply-adds a layer's attention runs on the calling
// thread: a decoding step of a small model does a few microseconds of
// attention work per layer, less than waking the pool costs (the GEMM's
// threshold).
#define DEC_ATTN_SERIAL_BELOW 131072

// ---- the network ---------------------------------------------------------------------------

tfm_status tfm__dec_config_check(tfm_ctx *ctx, const tfm__dec_config *c, const char *what) {
    if (c->dim <= 0 || c->hidden <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->vocab <= 0 || c->max_ctx <= 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "%s: sizes must be positive (dim %d, hidden %d, layers %d, heads %d, "
                        "kv heads %d, vocab %d, context %d)",
                        what, (int)c->dim, (int)c->hidden, (int)c->n_layers, (int)c->n_heads,
                        (int)c->n_kv_heads, (int)c->vocab, (int)c->max_ctx);
    if (c->dim % c->n_heads != 0 || c->head_dim * c->n_heads != c->dim)
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: dim %d is not n_heads %d x head size %d",
                        what, (int)c->dim, (int)c->n_heads, (int)c->head_dim);
    if (c->n_heads % c->n_kv_heads != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "%s: n_heads %d is not a multiple of n_kv_heads %d", what,
                        (int)c->n_heads, (int)c->n_kv_heads);
    if (c->rope && c->head_dim % 2 != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "%s: rotary positions need an even head size, not %d", what,
                        (int)c->head_dim);
    if (!(c->norm_eps >= 0.0f) || !(c->rope_theta > 0.0 || !c->rope))
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: bad norm eps or rope theta", what);
    return TFM_OK;
}

double tfm__dec_n_weights(const tfm__dec_config *c) {
    double D = c->dim, F = c->hidden, kv = (double)c->n_kv_heads * c->head_dim;
    double layer = 2 * D * D + 2 * D * kv + (c->gated ? 3 : 2) * D * F;
    return (double)c->vocab * D + (double)c->n_layers * layer +
           (c->rope ? 0.0 : (double)c->max_ctx * D);
}

tfm_status tfm__dec_new(tfm_model *m, const tfm__dec_config *c, tfm__dec **out) {
    tfm__dec *d = (tfm__dec *)tfm__model_alloc(m, sizeof *d);
    int32_t l;
    *out = NULL;
    if (d) d->lw = (tfm_layer_weights *)tfm__model_alloc(m, (size_t)c->n_layers * sizeof *d->lw);
    if (!d || !d->lw) return tfm__err(m->ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    d->c = *c;
    for (l = 0; l < c->n_layers; l++) {
        d->lw[l] = tfm_layer_weights_default();
        d->lw[l].self_attn.in_out = d->lw[l].ffn.in_out = c->in_out;
    }
    d->final_norm = tfm_norm_weights_default();
    m->impl = d;
    tfm__model_sizes(m, c->vocab, c->max_ctx, c->dim, c->n_layers);
    *out = d;
    return TFM_OK;
}

tfm_status tfm__dec_hf_new(tfm__hf *h, tfm_model *m, const tfm__dec_config *c, int32_t bos,
                           int32_t eos, int add_bos) {
    tfm__dec *d;
    tfm_status st;
    if ((st = tfm__dec_config_check(h->ctx, c, h->what)) ||
        (st = tfm__hf_fits(h, tfm__dec_n_weights(c))) || (st = tfm__dec_new(m, c, &d)) ||
        (st = tfm__hf_token(h, "bos_token_id", bos, c->vocab, 0, &m->info.bos)) ||
        (st = tfm__hf_token(h, "eos_token_id", eos, c->vocab, 0, &m->info.eos)))
        return st;
    m->info.stop = m->info.eos;
    m->info.add_bos = add_bos;
    return TFM_OK;
}

static void layer_free(void *p) { tfm_decoder_layer_free((tfm_decoder_layer *)p); }
static void packed_free(void *p) { tfm_packed_matrix_free((tfm_packed_matrix *)p); }

tfm_status tfm__dec_build(tfm_model *m, tfm__dec *d, const tfm_model_params *p) {
    const tfm__dec_config *c = &d->c;
    tfm_ctx *ctx = m->ctx;
    tfm_layer_params lp = tfm__layer_params(c->dim, c->n_heads, c->hidden, c->act,
                                            c->rms ? TFM_NORM_RMS : TFM_NORM_LAYER,
                                            c->norm_eps, p);
    tfm_status st;
    int32_t l;
    d->layers = (tfm_decoder_layer **)tfm__model_alloc(m, (size_t)c->n_layers *
                                                              sizeof *d->layers);
    if (!d->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    if (c->rope && c->rope_f32) {
        // llama2.c's angles (float) are not what the layers compute (double):
        // tables of them, once for every layer.
        size_t n = (size_t)c->max_ctx * (size_t)(c->head_dim / 2);
        d->rope_cos = (float *)tfm__model_alloc(m, n * sizeof(float));
        d->rope_sin = (float *)tfm__model_alloc(m, n * sizeof(float));
        if (!d->rope_cos || !d->rope_sin)
            return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
        if ((st = tfm_rope_tables(ctx, (float)c->rope_theta, c->head_dim, c->max_ctx,
                                  TFM_ROPE_FLOAT_ANGLES, d->rope_cos, d->rope_sin)))
            return st;
        lp.rope_cos = d->rope_cos;
        lp.rope_sin = d->rope_sin;
        lp.rope_positions = c->max_ctx;
    }
    lp.n_kv_heads = c->n_kv_heads;
    lp.head_dim = c->head_dim;
    lp.gated = c->gated;
    lp.norm_first = 1;
    lp.rope = c->rope ? (c->rope_neox ? TFM_ROPE_HALF : TFM_ROPE_PAIRS) : TFM_ROPE_NONE;
    lp.rope_theta = (float)c->rope_theta;
    lp.rope_dim = c->head_dim;
    lp.attn_serial_below = DEC_ATTN_SERIAL_BELOW;
    for (l = 0; l < c->n_layers; l++) {
        if ((st = tfm_decoder_layer_create(ctx, &lp, &d->lw[l], &d->layers[l]))) {
            return tfm__err_wrap(ctx, st, "model_load: layer %d", (int)l);
        }
        if ((st = tfm__model_keep(m, d->layers[l], layer_free))) return st;
    }
    if (p->prepack || d->lm_head.format != TFM__WF_F32) {
        if ((st = tfm__linear_pack(ctx, &d->lm_head))) return st;
        if ((st = tfm__model_keep(m, d->lm_head.pk, packed_free))) return st;
    }
    return TFM_OK;
}

uint64_t tfm__dec_weight_bytes(const tfm_model *m) {
    const tfm__dec *d = (const tfm__dec *)m->impl;
    uint64_t n = tfm__linear_bytes(&d->lm_head);
    int32_t l;
    for (l = 0; l < d->c.n_layers; l++) n += tfm__decoder_layer_bytes(d->layers[l]);
    return n + tfm__norm_bytes(&d->final_norm);
}

// ---- sessions ---------------------------------------------------------------------------------

typedef struct dec_state {
    tfm_kv_cache *kv;          // keys and values [L, 1, T, G, E]
    struct tfm_workspace ws;   // the layers' and the classifier's scratch
    float *x;                  // [B, D] the residual stream
    float *xb;                 // [B, D] normed rows for the classifier
    float *logits;             // [V]
    void *mem;                 // the allocation ws, x, xb and logits live in
    size_t mem_size;
} dec_state;

void tfm__dec_session_free(tfm_session *s) {
    dec_state *z = (dec_state *)s->state;
    if (!z) return;
    tfm_kv_cache_free(z->kv);
    tfm__free(s->ctx, z->mem, z->mem_size);
    tfm__free(s->ctx, z, sizeof *z);
    s->state = NULL;
}

tfm_status tfm__dec_session_create(tfm_session *s) {
    const tfm__dec *d = (const tfm__dec *)s->m->impl;
    const tfm__dec_config *c = &d->c;
    tfm_ctx *ctx = s->ctx;
    tfm_kv_cache_params kp = tfm_kv_cache_params_default();
    int64_t B = s->max_batch, T = s->max_ctx;
    size_t ws, lm, o_x, o_xb, o_lg, total = 0;
    dec_state *z;
    tfm_status st;
    ws = tfm_decoder_layer_workspace_size(ctx, d->layers[0], 1, B, T, 0);
    lm = tfm__linear_ws(ctx, &d->lm_head, B);
    if (lm > ws) ws = lm;
    tfm__ws_add(&total, (int64_t)((ws + 3) / 4));
    o_x = total;
    tfm__ws_add(&total, B * c->dim);
    o_xb = total;
    tfm__ws_add(&total, B * c->dim);
    o_lg = total;
    tfm__ws_add(&total, c->vocab);
    if (ws == 0 || lm == SIZE_MAX || total == SIZE_MAX)
        return tfm__err(ctx, TFM_ERR_RANGE, "session_create: workspace size overflows");
    z = (dec_state *)tfm__alloc(ctx, sizeof *z);
    if (!z) return tfm__err(ctx, TFM_ERR_NOMEM, "session_create: out of memory");
    s->state = z;
    z->mem = tfm__alloc_nozero(ctx, total);
    if (!z->mem)
        return tfm__err(ctx, TFM_ERR_NOMEM, "session_create: out of memory for %zu bytes of "
                        "workspace", total);
    z->mem_size = total;
    z->ws.ctx = ctx;
    z->ws.data = z->mem;
    z->ws.size = ws;
    z->x = (float *)((char *)z->mem + o_x);
    z->xb = (float *)((char *)z->mem + o_xb);
    z->logits = (float *)((char *)z->mem + o_lg);
    s->logits = z->logits;
    kp.n_layers = c->n_layers;
    kp.max_batch = 1;
    kp.n_kv_heads = c->n_kv_heads;
    kp.head_dim = c->head_dim;
    kp.max_seq = T;
    if ((st = tfm_kv_cache_create(ctx, &kp, &z->kv))) return st;
    return TFM_OK;
}

void tfm__dec_session_truncate(tfm_session *s, int32_t pos) {
    tfm_kv_cache_truncate(((dec_state *)s->state)->kv, pos);
}

// ---- the forward pass ---------------------------------------------------------------------------

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

tfm_status tfm__dec_forward(tfm_session *s, const int32_t *tokens, int32_t n,
                            float *logits_all) {
    const tfm__dec *d = (const tfm__dec *)s->m->impl;
    const tfm__dec_config *c = &d->c;
    dec_state *z = (dec_state *)s->state;
    tfm_ctx *ctx = s->ctx;
    tfm_embed_weights ew = tfm_embed_weights_default();
    tfm_tensor ids, x, xn;
    tfm__arena ar;
    tfm_status st;
    int64_t D = c->dim, shp[3];
    int32_t l, rows = logits_all ? n : 1;

    // Token (and learned position) embeddings: x [1, B, D].
    shp[0] = 1; shp[1] = n; shp[2] = D;
    tfm_tensor_wrap(&ids, TFM_I32, 2, shp, (void *)tokens);
    tfm__view_c(&x, z->x, 3, shp);
    ew.tokens = d->tok_emb;
    ew.positions = d->pos_emb;
    TRY(tfm_embed(ctx, &ew, &ids, NULL, s->pos, &x));
    TRY(tfm__check_finite(ctx, &x, "decoder: embeddings"));

    // The layers, each appending this batch's keys and values to the cache.
    for (l = 0; l < c->n_layers; l++) {
        if (s->p.abort && s->p.abort(s->p.abort_ud))
            return tfm__err(ctx, TFM_ABORTED, "session: aborted by the host at layer %d", l);
        st = tfm_decoder_layer_forward(ctx, d->layers[l], &x, NULL, NULL, NULL, z->kv, NULL, l,
                                       &z->ws, &x, NULL, NULL);
        if (st == TFM_ERR_NUMERIC) return tfm__err_wrap(ctx, st, "decoder: layer %d", l);
        if (st) return st;
    }

    // Final norm and classifier: every row (logits_all) or the last one.
    shp[0] = rows; shp[1] = D;
    tfm__view_c(&x, z->x + (size_t)(n - rows) * D, 2, shp);
    tfm__view_c(&xn, z->xb, 2, shp);
    TRY(tfm_norm(ctx, c->rms ? TFM_NORM_RMS : TFM_NORM_LAYER, &x, &d->final_norm, c->norm_eps,
                 &xn));
    ar.base = (char *)z->ws.data;
    ar.size = z->ws.size;
    ar.used = 0;
    TRY(tfm__linear_rows(ctx, &d->lm_head, rows, z->xb, D, logits_all ? logits_all : s->logits,
                         c->vocab, &ar));
    TRY(tfm__check_finite_rows(ctx, logits_all ? logits_all : s->logits, rows, c->vocab,
                               "decoder: lm_head"));
    if (logits_all)
        memcpy(s->logits, logits_all + (size_t)(n - 1) * c->vocab,
               (size_t)c->vocab * sizeof(float));
    return TFM_OK;
}
