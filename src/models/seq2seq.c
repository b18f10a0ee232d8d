/*
 * Encoder-decoder translation models: loading (Hugging Face Marian folders
 * and the original transformer of nn.Transformer, described by a config)
 * and the forward passes, built on the library's layers: tfm_embed with
 * sinusoidal positions, tfm_encoder_layer and tfm_decoder_layer modules
 * (post-norm or pre-norm) with self- and cross-attention caches.
 *
 * Marian (MarianMTModel), HF names:
 *   model.shared.weight [V, D] (or model.encoder/decoder.embed_tokens.weight
 *   when share_encoder_decoder_embeddings is false), final_logits_bias
 *   [1, V], lm_head.weight (tied to the target embeddings when absent),
 *   model.encoder.layers.N.{self_attn.{q,k,v,out}_proj, self_attn_layer_norm,
 *   fc1, fc2, final_layer_norm}.{weight,bias}, model.decoder.layers.N.
 *   {self_attn.*, self_attn_layer_norm, encoder_attn.{q,k,v,out}_proj,
 *   encoder_attn_layer_norm, fc1, fc2, final_layer_norm}. The static
 *   embed_positions tables, if stored, are not read (they are recomputed).
 *
 * nn.Transformer ("transformer"): src_embed.weight, tgt_embed.weight,
 *   transformer.{encoder,decoder}.layers.N.{self_attn.in_proj_{weight,bias},
 *   self_attn.out_proj, linear1, linear2, norm1, norm2 (norm3, and
 *   multihead_attn.* for the decoder)}, transformer.{encoder,decoder}.norm,
 *   generator.{weight,bias}. See docs/MODELS.md.
 *
 * Letters as in seq2seq.h.
 */
#include "seq2seq.h"
#include "../io/file.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// ---- owned memory and tensor structs ----------------------------------------------------

static void *s2s_own(tfm__s2s *s, size_t size) {
    void *p;
    if (s->n_owned >= s->cap_owned) return NULL;
    p = tfm__alloc(s->ctx, size ? size : 1);
    if (!p) return NULL;
    s->owned[s->n_owned] = p;
    s->owned_size[s->n_owned] = size ? size : 1;
    s->n_owned++;
    return p;
}

static tfm_tensor *pool_next(tfm__s2s *s) {
    if (s->n_pool >= s->cap_pool) return NULL;
    return &s->pool[s->n_pool++];
}

static void s2s_free(tfm__s2s *s) {
    int i;
    int32_t l;
    tfm_ctx *ctx;
    if (!s) return;
    ctx = s->ctx;
    if (s->enc) {
        for (l = 0; l < s->Le; l++) tfm_encoder_layer_free(s->enc[l]);
        tfm__free(ctx, s->enc, (size_t)s->Le * sizeof *s->enc);
    }
    if (s->dec) {
        for (l = 0; l < s->Ld; l++) tfm_decoder_layer_free(s->dec[l]);
        tfm__free(ctx, s->dec, (size_t)s->Ld * sizeof *s->dec);
    }
    tfm_packed_matrix_free(s->lm_pk);
    tfm__pieces_free(s->pieces);
    if (s->src_tok) tfm_tokenizer_free(s->src_tok);
    if (s->tgt_tok && s->tgt_tok != s->src_tok) tfm_tokenizer_free(s->tgt_tok);
    for (i = 0; i < s->n_owned; i++) tfm__free(ctx, s->owned[i], s->owned_size[i]);
    if (s->owned) tfm__free(ctx, s->owned, (size_t)(s->cap_pool + 8) * sizeof(void *));
    if (s->owned_size) tfm__free(ctx, s->owned_size, (size_t)(s->cap_pool + 8) * sizeof(size_t));
    if (s->pool) tfm__free(ctx, s->pool, (size_t)s->cap_pool * sizeof(tfm_tensor));
    if (s->enc_w) tfm__free(ctx, s->enc_w, (size_t)s->Le * sizeof *s->enc_w);
    if (s->dec_w) tfm__free(ctx, s->dec_w, (size_t)s->Ld * sizeof *s->dec_w);
    tfm_safetensors_close(s->st);
    tfm__free(ctx, s, sizeof *s);
}

static void s2s_aux_free(void *p) { s2s_free((tfm__s2s *)p); }

// dir/name when present: a SentencePiece model (Marian's source.spm and
// target.spm), whose pieces map to the model's ids through vocab.json.
static tfm_status load_spm(tfm_ctx *ctx, tfm__s2s *s, const char *dir, const char *name,
                           struct tfm_tokenizer **out) {
    char path[1100];
    tfm_status st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!tfm__file_exists(path)) return TFM_OK;
    if ((st = tfm_tokenizer_load(ctx, path, NULL, out))) return st;
    if (!s->pieces)
        return tfm__err(ctx, TFM_ERR_NOT_FOUND, "model_load: %s: %s needs vocab.json beside it "
                        "(the map of its pieces to the model's ids)", dir, name);
    return TFM_OK;
}

const tfm__s2s *tfm__s2s_of(const tfm_model *m) {
    if (!m || !m->aux || m->aux_free != s2s_aux_free) return NULL;
    return (const tfm__s2s *)m->aux;
}

int tfm__s2s_is_type(const char *t) {
    return t && (strcmp(t, "marian") == 0 || strcmp(t, "transformer") == 0);
}

// ---- weights ------------------------------------------------------------------------------

typedef struct loader {
    tfm_ctx *ctx;
    tfm__s2s *s;
    const char *dir;
} loader;

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

// Tensor `name` of shape [d0] (d1 == 0) or [d0, d1] as an f32 tensor struct
// of the pool (f16/bf16 converted once). A [1, d0] tensor is taken as [d0]
// (final_logits_bias). optional: *out NULL when absent.
static tfm_status get_t(loader *L, const char *name, int64_t d0, int64_t d1, int optional,
                        const tfm_tensor **out) {
    tfm_tensor t, *p;
    tfm_status st;
    int ndim = d1 ? 2 : 1;
    *out = NULL;
    if (tfm_safetensors_find(L->s->st, name) < 0) {
        if (optional) return TFM_OK;
        return tfm__err(L->ctx, TFM_ERR_NOT_FOUND, "model_load: %s: tensor '%s' is missing",
                        L->dir, name);
    }
    TRY(tfm_safetensors_get(L->ctx, L->s->st, name, &t));
    if (ndim == 1 && t.ndim == 2 && t.shape[0] == 1) { // [1, V] -> [V]
        t.ndim = 1;
        t.shape[0] = t.shape[1];
        t.shape[1] = 1;
        t.stride[0] = 1;
        t.stride[1] = 0;
    }
    TRY(tfm__hf_check_shape(L->ctx, L->dir, name, &t, d0, d1));
    if (!(p = pool_next(L->s)))
        return tfm__err(L->ctx, TFM_ERR_NOMEM, "model_load: tensor table full at '%s'", name);
    if (t.dtype == TFM_F16 || t.dtype == TFM_BF16) {
        int64_t n = tfm_tensor_numel(&t);
        float *f = (float *)s2s_own(L->s, (size_t)n * sizeof(float));
        int64_t shp[2];
        if (!f)
            return tfm__err(L->ctx, TFM_ERR_NOMEM, "model_load: out of memory converting '%s'",
                            name);
        if (t.dtype == TFM_F16) tfm_f16_to_f32_array((const uint16_t *)t.data, f, (size_t)n);
        else tfm_bf16_to_f32_array((const uint16_t *)t.data, f, (size_t)n);
        shp[0] = d0;
        shp[1] = d1;
        tfm_tensor_wrap(p, TFM_F32, ndim, shp, f);
    } else if (t.dtype == TFM_F32) {
        *p = t;
    } else {
        return tfm__err(L->ctx, TFM_ERR_UNSUPPORTED,
                        "model_load: %s: tensor '%s' has dtype %s (f32, f16 and bf16 are "
                        "supported)", L->dir, name, tfm_dtype_name((tfm_dtype)t.dtype));
    }
    *out = p;
    return TFM_OK;
}

// Rows [r0, r0 + n) of a 2-D (or 1-D) f32 tensor as a pool tensor.
static tfm_status rows_of(loader *L, const tfm_tensor *t, int64_t r0, int64_t n,
                          const tfm_tensor **out) {
    tfm_tensor *p = pool_next(L->s);
    int64_t shp[2];
    if (!p) return tfm__err(L->ctx, TFM_ERR_NOMEM, "model_load: tensor table full");
    shp[0] = n;
    shp[1] = t->ndim == 2 ? t->shape[1] : 1;
    tfm_tensor_wrap(p, TFM_F32, t->ndim, shp,
                    (float *)t->data + r0 * (t->ndim == 2 ? t->stride[0] : 1));
    *out = p;
    return TFM_OK;
}

static tfm_status get_lin(loader *L, const char *pre, const char *nm, int64_t out_f,
                          int64_t in_f, const tfm_tensor **w, const tfm_tensor **b) {
    char n[256];
    tfm_status st;
    snprintf(n, sizeof n, "%s%s.weight", pre, nm);
    TRY(get_t(L, n, out_f, in_f, 0, w));
    snprintf(n, sizeof n, "%s%s.bias", pre, nm);
    return get_t(L, n, out_f, 0, 0, b);
}

static tfm_status get_norm(loader *L, const char *pre, const char *nm, tfm_norm_weights *nw) {
    const tfm_tensor *g, *b;
    tfm_status st = get_lin(L, pre, nm, L->s->D, 0, &g, &b);
    nw->gamma = g;
    nw->beta = b;
    return st;
}

// Marian layer N of the encoder (dec 0) or decoder (dec 1).
static tfm_status marian_layer(loader *L, int dec, int32_t l, tfm_layer_weights *w) {
    tfm__s2s *s = L->s;
    char pre[96], p2[128];
    tfm_status st;
    int64_t D = s->D, F = s->F;
    *w = tfm_layer_weights_default();
    snprintf(pre, sizeof pre, "model.%s.layers.%d.", dec ? "decoder" : "encoder", (int)l);
    snprintf(p2, sizeof p2, "%sself_attn.", pre);
    TRY(get_lin(L, p2, "q_proj", D, D, &w->self_attn.wq, &w->self_attn.bq));
    TRY(get_lin(L, p2, "k_proj", D, D, &w->self_attn.wk, &w->self_attn.bk));
    TRY(get_lin(L, p2, "v_proj", D, D, &w->self_attn.wv, &w->self_attn.bv));
    TRY(get_lin(L, p2, "out_proj", D, D, &w->self_attn.wo, &w->self_attn.bo));
    TRY(get_norm(L, pre, "self_attn_layer_norm", &w->attn_norm));
    if (dec) {
        snprintf(p2, sizeof p2, "%sencoder_attn.", pre);
        TRY(get_lin(L, p2, "q_proj", D, D, &w->cross_attn.wq, &w->cross_attn.bq));
        TRY(get_lin(L, p2, "k_proj", D, D, &w->cross_attn.wk, &w->cross_attn.bk));
        TRY(get_lin(L, p2, "v_proj", D, D, &w->cross_attn.wv, &w->cross_attn.bv));
        TRY(get_lin(L, p2, "out_proj", D, D, &w->cross_attn.wo, &w->cross_attn.bo));
        TRY(get_norm(L, pre, "encoder_attn_layer_norm", &w->cross_norm));
    }
    TRY(get_lin(L, pre, "fc1", F, D, &w->ffn.w1, &w->ffn.b1));
    TRY(get_lin(L, pre, "fc2", D, F, &w->ffn.w2, &w->ffn.b2));
    return get_norm(L, pre, "final_layer_norm", &w->ffn_norm);
}

// nn.Transformer layer: fused in_proj for self-attention; the decoder's
// multihead_attn in_proj split into q, k, v rows.
static tfm_status torch_layer(loader *L, int dec, int32_t l, tfm_layer_weights *w) {
    tfm__s2s *s = L->s;
    char pre[96], p2[128], n[160];
    tfm_status st;
    int64_t D = s->D, F = s->F;
    const tfm_tensor *iw, *ib;
    *w = tfm_layer_weights_default();
    snprintf(pre, sizeof pre, "transformer.%s.layers.%d.", dec ? "decoder" : "encoder", (int)l);
    snprintf(n, sizeof n, "%sself_attn.in_proj_weight", pre);
    TRY(get_t(L, n, 3 * D, D, 0, &w->self_attn.wqkv));
    snprintf(n, sizeof n, "%sself_attn.in_proj_bias", pre);
    TRY(get_t(L, n, 3 * D, 0, 0, &w->self_attn.bqkv));
    snprintf(p2, sizeof p2, "%sself_attn.", pre);
    TRY(get_lin(L, p2, "out_proj", D, D, &w->self_attn.wo, &w->self_attn.bo));
    TRY(get_norm(L, pre, "norm1", &w->attn_norm));
    if (dec) {
        snprintf(n, sizeof n, "%smultihead_attn.in_proj_weight", pre);
        TRY(get_t(L, n, 3 * D, D, 0, &iw));
        snprintf(n, sizeof n, "%smultihead_attn.in_proj_bias", pre);
        TRY(get_t(L, n, 3 * D, 0, 0, &ib));
        TRY(rows_of(L, iw, 0, D, &w->cross_attn.wq));
        TRY(rows_of(L, iw, D, D, &w->cross_attn.wk));
        TRY(rows_of(L, iw, 2 * D, D, &w->cross_attn.wv));
        TRY(rows_of(L, ib, 0, D, &w->cross_attn.bq));
        TRY(rows_of(L, ib, D, D, &w->cross_attn.bk));
        TRY(rows_of(L, ib, 2 * D, D, &w->cross_attn.bv));
        snprintf(p2, sizeof p2, "%smultihead_attn.", pre);
        TRY(get_lin(L, p2, "out_proj", D, D, &w->cross_attn.wo, &w->cross_attn.bo));
        TRY(get_norm(L, pre, "norm2", &w->cross_norm));
        TRY(get_norm(L, pre, "norm3", &w->ffn_norm));
    } else {
        TRY(get_norm(L, pre, "norm2", &w->ffn_norm));
    }
    TRY(get_lin(L, pre, "linear1", F, D, &w->ffn.w1, &w->ffn.b1));
    return get_lin(L, pre, "linear2", D, F, &w->ffn.w2, &w->ffn.b2);
}

// ---- config -------------------------------------------------------------------------------

static tfm_status cfg_pos(tfm_ctx *ctx, const tfm__json *root, const char *what,
                          const char *key, int64_t def, int req, int32_t *out) {
    int64_t v;
    tfm_status st = req ? tfm__json_req_int(ctx, root, what, key, &v)
                        : tfm__json_get_int(ctx, root, what, key, def, &v);
    if (st == TFM_ERR_NOT_FOUND)
        return tfm__err(ctx, TFM_ERR_NOT_FOUND, "model_load: %s: missing field '%s'", what, key);
    if (st) return st;
    if (v <= 0 || v > (1 << 28))
        return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: field '%s' = %lld is out of range",
                        what, key, (long long)v);
    *out = (int32_t)v;
    return TFM_OK;
}

// A token id: an integer, the first of a list, or absent/null (def).
static tfm_status cfg_tok(tfm_ctx *ctx, const tfm__json *root, const char *what,
                          const char *key, int32_t def, int32_t V, int32_t *out) {
    const tfm__json *v = tfm__json_get(root, key);
    if (v && v->type == TFM__JSON_ARRAY) v = tfm__json_at(v, 0);
    if (!v || v->type == TFM__JSON_NULL) {
        *out = def;
        return TFM_OK;
    }
    if (v->type != TFM__JSON_NUMBER || !v->is_int || v->i < 0 || v->i >= V)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "model_load: %s: '%s' must be a token id in [0, %d)", what, key, (int)V);
    *out = (int32_t)v->i;
    return TFM_OK;
}

static tfm_status cfg_act(tfm_ctx *ctx, const char *what, const char *key, const char *a,
                          int *out) {
    if (strcmp(a, "swish") == 0 || strcmp(a, "silu") == 0) *out = TFM_ACT_SILU;
    else if (strcmp(a, "relu") == 0) *out = TFM_ACT_RELU;
    else if (strcmp(a, "gelu") == 0) *out = TFM_ACT_GELU;
    else if (strcmp(a, "gelu_new") == 0 || strcmp(a, "gelu_pytorch_tanh") == 0)
        *out = TFM_ACT_GELU_TANH;
    else if (strcmp(a, "tanh") == 0) *out = TFM_ACT_TANH;
    else
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                        "model_load: %s: %s '%s' (swish, relu, gelu, gelu_new, tanh are "
                        "supported)", what, key, a);
    return TFM_OK;
}

static tfm_status read_config(tfm_ctx *ctx, tfm__s2s *s, const tfm__json *root,
                              const char *what, int *norm_first) {
    tfm_status st;
    const char *a;
    int b;
    double d;
    int64_t i64;
    *norm_first = 0;
    if (s->kind == TFM__S2S_MARIAN) {
        int32_t h2, f2;
        TRY(cfg_pos(ctx, root, what, "d_model", 0, 1, &s->D));
        TRY(cfg_pos(ctx, root, what, "encoder_layers", 0, 1, &s->Le));
        TRY(cfg_pos(ctx, root, what, "decoder_layers", 0, 1, &s->Ld));
        TRY(cfg_pos(ctx, root, what, "encoder_attention_heads", 0, 1, &s->H));
        TRY(cfg_pos(ctx, root, what, "decoder_attention_heads", s->H, 0, &h2));
        TRY(cfg_pos(ctx, root, what, "encoder_ffn_dim", 0, 1, &s->F));
        TRY(cfg_pos(ctx, root, what, "decoder_ffn_dim", s->F, 0, &f2));
        if (h2 != s->H || f2 != s->F)
            return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                            "model_load: %s: encoder and decoder with different heads (%d, %d) "
                            "or ffn_dim (%d, %d)", what, (int)s->H, (int)h2, (int)s->F, (int)f2);
        TRY(cfg_pos(ctx, root, what, "vocab_size", 0, 1, &s->Vs));
        TRY(cfg_pos(ctx, root, what, "decoder_vocab_size", s->Vs, 0, &s->Vt));
        TRY(cfg_pos(ctx, root, what, "max_position_embeddings", 512, 0, &s->P));
        TRY(tfm__json_get_string(ctx, root, what, "activation_function", "gelu", &a));
        TRY(cfg_act(ctx, what, "activation_function", a, &s->act));
        TRY(tfm__json_get_bool(ctx, root, what, "scale_embedding", 0, &b));
        TRY(tfm__json_get_bool(ctx, root, what, "normalize_before", 0, norm_first));
        if (*norm_first)
            return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                            "model_load: %s: normalize_before true (Marian is post-norm)", what);
        s->pos_layout = TFM_POS_HALF;
        s->eps = 1e-5f;
        TRY(cfg_tok(ctx, root, what, "pad_token_id", s->Vt - 1, s->Vt, &s->pad));
        TRY(cfg_tok(ctx, root, what, "eos_token_id", 0, s->Vt, &s->eos));
        TRY(cfg_tok(ctx, root, what, "decoder_start_token_id", s->pad, s->Vt, &s->start));
        TRY(cfg_tok(ctx, root, what, "forced_eos_token_id", -1, s->Vt, &s->forced_eos));
        s->unk = -1;
        s->ban_pad = 1;
    } else {
        TRY(cfg_pos(ctx, root, what, "d_model", 0, 1, &s->D));
        TRY(cfg_pos(ctx, root, what, "nhead", 0, 1, &s->H));
        TRY(cfg_pos(ctx, root, what, "num_encoder_layers", 0, 1, &s->Le));
        TRY(cfg_pos(ctx, root, what, "num_decoder_layers", 0, 1, &s->Ld));
        TRY(cfg_pos(ctx, root, what, "dim_feedforward", 2048, 0, &s->F));
        TRY(cfg_pos(ctx, root, what, "vocab_size", 1, 0, &s->Vs));
        TRY(cfg_pos(ctx, root, what, "src_vocab_size", s->Vs, 0, &s->Vs));
        TRY(cfg_pos(ctx, root, what, "tgt_vocab_size", s->Vs, 0, &s->Vt));
        if (s->Vs < 2 || s->Vt < 2)
            return tfm__err(ctx, TFM_ERR_NOT_FOUND,
                            "model_load: %s: missing field 'vocab_size' (or src_vocab_size and "
                            "tgt_vocab_size)", what);
        TRY(cfg_pos(ctx, root, what, "max_position_embeddings", 512, 0, &s->P));
        TRY(tfm__json_get_string(ctx, root, what, "activation", "relu", &a));
        TRY(cfg_act(ctx, what, "activation", a, &s->act));
        TRY(tfm__json_get_float(ctx, root, what, "layer_norm_eps", 1e-5, &d));
        if (!(d >= 0.0 && d < 1.0))
            return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: layer_norm_eps %g", what, d);
        s->eps = (float)d;
        TRY(tfm__json_get_bool(ctx, root, what, "norm_first", 0, norm_first));
        TRY(tfm__json_get_bool(ctx, root, what, "scale_embedding", 1, &b));
        TRY(tfm__json_get_string(ctx, root, what, "positional_encoding", "interleaved", &a));
        if (strcmp(a, "interleaved") == 0) s->pos_layout = TFM_POS_INTERLEAVED;
        else if (strcmp(a, "half") == 0) s->pos_layout = TFM_POS_HALF;
        else
            return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                            "model_load: %s: positional_encoding '%s' (interleaved or half)",
                            what, a);
        TRY(cfg_tok(ctx, root, what, "pad_token_id", -1, s->Vt, &s->pad));
        TRY(cfg_tok(ctx, root, what, "eos_token_id", -1, s->Vt, &s->eos));
        TRY(cfg_tok(ctx, root, what, "bos_token_id", -1, s->Vt, &s->start));
        TRY(cfg_tok(ctx, root, what, "decoder_start_token_id", s->start, s->Vt, &s->start));
        TRY(cfg_tok(ctx, root, what, "unk_token_id", -1, s->Vt, &s->unk));
        if (s->eos < 0 || s->start < 0)
            return tfm__err(ctx, TFM_ERR_NOT_FOUND,
                            "model_load: %s: eos_token_id and bos_token_id (the decoder start) "
                            "are required", what);
        s->forced_eos = -1;
        s->ban_pad = s->pad >= 0;
    }
    if (s->D % s->H != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: d_model %d is not a multiple of "
                        "the %d heads", what, (int)s->D, (int)s->H);
    if (s->pos_layout != TFM_POS_NONE && s->D % 2 != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "model_load: %s: sinusoidal positions need an even d_model, not %d",
                        what, (int)s->D);
    s->E = s->D / s->H;
    s->emb_scale = b ? (float)sqrt((double)s->D) : 1.0f;
    // generation defaults
    TRY(tfm__json_get_int(ctx, root, what, "max_length", 0, &i64));
    s->gen_max_length = i64 > 1 ? (int32_t)(i64 - 1 < 256 ? i64 - 1 : 256) : 256;
    if (s->gen_max_length > s->P) s->gen_max_length = s->P;
    TRY(tfm__json_get_int(ctx, root, what, "num_beams", 1, &i64));
    s->gen_beams = i64 >= 1 && i64 <= 64 ? (int32_t)i64 : 1;
    TRY(tfm__json_get_float(ctx, root, what, "length_penalty", 1.0, &d));
    s->gen_length_penalty = (float)d;
    return TFM_OK;
}

// ---- the model -------------------------------------------------------------------------------

static tfm_status build(loader *L, const tfm__json *root, const char *what) {
    tfm__s2s *s = L->s;
    tfm_ctx *ctx = L->ctx;
    tfm_status st;
    tfm_layer_params lp;
    int norm_first, shared = 1, tied = 1;
    int32_t l;
    size_t cap;
    const tfm_tensor *t;
    TRY(read_config(ctx, s, root, what, &norm_first));
    cap = 16 + (size_t)s->Le * 20 + (size_t)s->Ld * 40;
    s->cap_pool = (int)cap; // sizes the pool and the owned-block table
    s->pool = (tfm_tensor *)tfm__alloc(ctx, cap * sizeof(tfm_tensor));
    s->enc_w = (tfm_layer_weights *)tfm__alloc(ctx, (size_t)s->Le * sizeof *s->enc_w);
    s->dec_w = (tfm_layer_weights *)tfm__alloc(ctx, (size_t)s->Ld * sizeof *s->dec_w);
    s->dec = (tfm_decoder_layer **)tfm__alloc(ctx, (size_t)s->Ld * sizeof *s->dec);
    s->enc = (tfm_encoder_layer **)tfm__alloc(ctx, (size_t)s->Le * sizeof *s->enc);
    s->owned = (void **)tfm__alloc(ctx, (cap + 8) * sizeof(void *));
    s->owned_size = (size_t *)tfm__alloc(ctx, (cap + 8) * sizeof(size_t));
    if (s->owned && s->owned_size) s->cap_owned = (int)cap + 8;
    if (!s->pool || !s->enc_w || !s->dec_w || !s->dec || !s->enc || !s->cap_owned)
        return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    if (s->kind == TFM__S2S_MARIAN) {
        TRY(tfm__json_get_bool(ctx, root, what, "share_encoder_decoder_embeddings", 1, &shared));
        TRY(tfm__json_get_bool(ctx, root, what, "tie_word_embeddings", 1, &tied));
        if (shared && s->Vs != s->Vt)
            return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: shared embeddings but "
                            "vocab_size %d != decoder_vocab_size %d", what, (int)s->Vs,
                            (int)s->Vt);
        if (shared) {
            TRY(get_t(L, "model.shared.weight", s->Vs, s->D, 1, &s->src_emb));
            if (!s->src_emb)
                TRY(get_t(L, "model.encoder.embed_tokens.weight", s->Vs, s->D, 0, &s->src_emb));
            s->tgt_emb = s->src_emb;
        } else {
            TRY(get_t(L, "model.encoder.embed_tokens.weight", s->Vs, s->D, 0, &s->src_emb));
            TRY(get_t(L, "model.decoder.embed_tokens.weight", s->Vt, s->D, 0, &s->tgt_emb));
        }
        TRY(get_t(L, "lm_head.weight", s->Vt, s->D, 1, &s->lm_w));
        if (!s->lm_w || tied) s->lm_w = s->lm_w && !tied ? s->lm_w : s->tgt_emb;
        TRY(get_t(L, "final_logits_bias", s->Vt, 0, 1, &s->lm_b));
        for (l = 0; l < s->Le; l++) TRY(marian_layer(L, 0, l, &s->enc_w[l]));
        for (l = 0; l < s->Ld; l++) TRY(marian_layer(L, 1, l, &s->dec_w[l]));
    } else {
        TRY(tfm__json_get_bool(ctx, root, what, "share_embeddings", 0, &shared));
        TRY(tfm__json_get_bool(ctx, root, what, "tie_word_embeddings", 0, &tied));
        TRY(get_t(L, "src_embed.weight", s->Vs, s->D, 0, &s->src_emb));
        if (shared) {
            if (s->Vs != s->Vt)
                return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: share_embeddings with "
                                "src_vocab_size %d != tgt_vocab_size %d", what, (int)s->Vs,
                                (int)s->Vt);
            s->tgt_emb = s->src_emb;
        } else {
            TRY(get_t(L, "tgt_embed.weight", s->Vt, s->D, 0, &s->tgt_emb));
        }
        if (tied) s->lm_w = s->tgt_emb;
        else TRY(get_t(L, "generator.weight", s->Vt, s->D, 0, &s->lm_w));
        TRY(get_t(L, "generator.bias", s->Vt, 0, 1, &s->lm_b));
        for (l = 0; l < s->Le; l++) TRY(torch_layer(L, 0, l, &s->enc_w[l]));
        for (l = 0; l < s->Ld; l++) TRY(torch_layer(L, 1, l, &s->dec_w[l]));
        TRY(get_t(L, "transformer.encoder.norm.weight", s->D, 0, 1, &t));
        s->enc_norm = tfm_norm_weights_default();
        s->dec_norm = tfm_norm_weights_default();
        s->enc_norm.gamma = t;
        TRY(get_t(L, "transformer.encoder.norm.bias", s->D, 0, 1, &t));
        s->enc_norm.beta = t;
        TRY(get_t(L, "transformer.decoder.norm.weight", s->D, 0, 1, &t));
        s->dec_norm.gamma = t;
        TRY(get_t(L, "transformer.decoder.norm.bias", s->D, 0, 1, &t));
        s->dec_norm.beta = t;
    }
    lp = tfm_layer_params_default();
    lp.d_model = s->D;
    lp.n_heads = s->H;
    lp.d_ff = s->F;
    lp.act = s->act;
    lp.norm = TFM_NORM_LAYER;
    lp.norm_eps = s->eps;
    lp.norm_first = norm_first;
    for (l = 0; l < s->Le; l++) TRY(tfm_encoder_layer_create(ctx, &lp, &s->enc_w[l], &s->enc[l]));
    for (l = 0; l < s->Ld; l++) TRY(tfm_decoder_layer_create(ctx, &lp, &s->dec_w[l], &s->dec[l]));
    TRY(tfm_matrix_pack(ctx, s->lm_w, 1, &s->lm_pk));
    return TFM_OK;
}

tfm_status tfm__s2s_load_model(tfm_ctx *ctx, const char *dir, const tfm__json *config,
                               tfm_model *m) {
    tfm__s2s *s;
    loader L;
    tfm_status st;
    const char *type = NULL;
    char what[1100], path[1100];
    int32_t l;
    snprintf(what, sizeof what, "%s/config.json", dir);
    if ((st = tfm__json_get_string(ctx, config, what, "model_type", NULL, &type))) return st;
    if (!tfm__s2s_is_type(type))
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "model_load: %s: model_type '%s' is not a "
                        "translation model", what, type ? type : "(none)");
    s = (tfm__s2s *)tfm__alloc(ctx, sizeof *s);
    if (!s) return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    s->ctx = ctx;
    s->kind = strcmp(type, "marian") == 0 ? TFM__S2S_MARIAN : TFM__S2S_TRANSFORMER;
    m->aux = s;
    m->aux_free = s2s_aux_free;
    if ((st = tfm_safetensors_open(ctx, dir, &s->st))) return st;
    L.ctx = ctx;
    L.s = s;
    L.dir = dir;
    if ((st = build(&L, config, what))) return st;
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    if (tfm__file_exists(path)) {
        if ((st = tfm__pieces_load(ctx, path, s->Vs > s->Vt ? s->Vs : s->Vt, "model_load",
                                   &s->pieces)))
            return st;
        if (s->unk < 0) s->unk = tfm__pieces_find(s->pieces, "<unk>", 5);
    }
    if ((st = load_spm(ctx, s, dir, "source.spm", &s->src_tok)) ||
        (st = load_spm(ctx, s, dir, "target.spm", &s->tgt_tok)))
        return st;
    m->tok = s->src_tok; // owned by s (tok_free stays NULL)
    snprintf(m->arch_name, sizeof m->arch_name, "%s", type);
    m->cfg.dim = s->D;
    m->cfg.hidden = s->F;
    m->cfg.n_layers = s->Ld;
    m->cfg.n_heads = s->H;
    m->cfg.n_kv_heads = s->H;
    m->cfg.head_dim = s->E;
    m->cfg.vocab = s->Vt;
    m->cfg.max_ctx = s->P;
    m->cfg.norm_eps = s->eps;
    m->cfg.act = s->act;
    m->cfg.bos = -1;
    m->cfg.eos = s->eos;
    m->cfg.stop = s->eos;
    // Views of the decoder's per-token weights, for tfm_model_weight_bytes.
    m->layers = (tfm__dec_layer *)tfm__model_alloc(m, (size_t)s->Ld * sizeof *m->layers);
    if (!m->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    for (l = 0; l < s->Ld; l++) {
        const tfm_layer_weights *w = &s->dec_w[l];
        tfm__dec_layer *y = &m->layers[l];
        const tfm_tensor *ws[6];
        tfm__linear *ds[6];
        int i;
        ws[0] = w->self_attn.wqkv ? w->self_attn.wqkv : w->self_attn.wq;
        ws[1] = w->cross_attn.wq; ws[2] = w->cross_attn.wo; ws[3] = w->self_attn.wo;
        ws[4] = w->ffn.w1; ws[5] = w->ffn.w2;
        ds[0] = &y->q; ds[1] = &y->k; ds[2] = &y->v; ds[3] = &y->o; ds[4] = &y->up;
        ds[5] = &y->down;
        for (i = 0; i < 6; i++) {
            ds[i]->w = (const float *)ws[i]->data;
            ds[i]->n_out = ws[i]->shape[0];
            ds[i]->n_in = ws[i]->shape[1];
            ds[i]->ld = ws[i]->shape[1];
            ds[i]->wt = 1;
        }
    }
    m->lm_head.w = (const float *)s->lm_w->data;
    m->lm_head.n_in = s->D;
    m->lm_head.n_out = s->Vt;
    m->lm_head.ld = s->D;
    m->lm_head.wt = 1;
    return TFM_OK;
}

// ---- forward passes ----------------------------------------------------------------------------

size_t tfm__s2s_enc_ws(tfm_ctx *ctx, const tfm__s2s *s, int64_t B, int64_t S) {
    return tfm_encoder_layer_workspace_size(ctx, s->enc[0], B, S);
}

tfm_status tfm__s2s_encode(tfm_ctx *ctx, const tfm__s2s *s, const tfm_tensor *ids,
                           const tfm_tensor *kpm, tfm_workspace *ws, tfm_tensor *mem) {
    tfm_embed_weights ew = tfm_embed_weights_default();
    tfm_attn_masks am = tfm_attn_masks_default();
    tfm_status st;
    int32_t l;
    if (ids->shape[1] > s->P)
        return tfm__err(ctx, TFM_ERR_RANGE, "translate: source of %lld tokens is past the "
                        "model's %d positions", (long long)ids->shape[1], (int)s->P);
    ew.tokens = s->src_emb;
    ew.token_scale = s->emb_scale;
    ew.sinusoidal = s->pos_layout;
    TRY(tfm_embed(ctx, &ew, ids, NULL, 0, mem));
    am.key_padding_mask = kpm;
    for (l = 0; l < s->Le; l++)
        TRY(tfm_encoder_layer_forward(ctx, s->enc[l], mem, &am, ws, mem, NULL));
    if (s->enc_norm.gamma) return tfm_norm(ctx, TFM_NORM_LAYER, mem, &s->enc_norm, s->eps, mem);
    return TFM_OK;
}

size_t tfm__s2s_dec_ws(tfm_ctx *ctx, const tfm__s2s *s, int64_t N, int64_t Tq, int64_t Tk,
                       int64_t S) {
    return tfm_decoder_layer_workspace_size(ctx, s->dec[0], N, Tq, Tk, S);
}

tfm_status tfm__s2s_decode(tfm_ctx *ctx, const tfm__s2s *s, const tfm_tensor *ids,
                           int64_t start, const tfm_tensor *mem, const tfm_tensor *mem_pad,
                           tfm_kv_cache *sc, tfm_kv_cache *cc, tfm_workspace *ws, float *x,
                           float *logits, float *probs, float *cross_att) {
    tfm_embed_weights ew = tfm_embed_weights_default();
    tfm_tensor xv, x2, lv, pv;
    int64_t N = ids->shape[0], Tq = ids->shape[1], S, shp[4];
    tfm_status st;
    int32_t l;
    if (start + Tq > s->P)
        return tfm__err(ctx, TFM_ERR_RANGE, "translate: target position %lld is past the "
                        "model's %d positions", (long long)(start + Tq - 1), (int)s->P);
    S = mem_pad->shape[1];
    shp[0] = N; shp[1] = Tq; shp[2] = s->D;
    tfm__view_c(&xv, x, 3, shp);
    ew.tokens = s->tgt_emb;
    ew.token_scale = s->emb_scale;
    ew.sinusoidal = s->pos_layout;
    TRY(tfm_embed(ctx, &ew, ids, NULL, start, &xv));
    shp[0] = N; shp[1] = s->H; shp[2] = Tq; shp[3] = S;
    if (cross_att) tfm__view_c(&pv, probs, 4, shp);
    for (l = 0; l < s->Ld; l++)
        TRY(tfm_decoder_layer_forward(ctx, s->dec[l], &xv, mem, NULL, mem_pad, sc, cc, l, ws,
                                      &xv, NULL, cross_att && l == s->Ld - 1 ? &pv : NULL));
    if (s->dec_norm.gamma)
        TRY(tfm_norm(ctx, TFM_NORM_LAYER, &xv, &s->dec_norm, s->eps, &xv));
    shp[0] = N * Tq; shp[1] = s->D;
    tfm__view_c(&x2, x, 2, shp);
    shp[1] = s->Vt;
    tfm__view_c(&lv, logits, 2, shp);
    TRY(tfm_matmul_packed(ctx, &x2, s->lm_pk, s->lm_b, 1.0f, 0.0f, &lv));
    if (cross_att) {
        int64_t n, h, j;
        for (n = 0; n < N; n++)
            for (j = 0; j < S; j++) {
                double acc = 0.0;
                for (h = 0; h < s->H; h++)
                    acc += probs[((n * s->H + h) * Tq + (Tq - 1)) * S + j];
                cross_att[n * S + j] = (float)(acc / (double)s->H);
            }
    }
    return TFM_OK;
}

const char *tfm_translate_piece(const tfm_model *m, int32_t id) {
    const tfm__s2s *s = tfm__s2s_of(m);
    return s && s->pieces ? tfm__pieces_get(s->pieces, id) : NULL;
}
