/*
 * Encoder-decoder translation models: loading (Hugging Face Marian folders
 * and the original transformer of nn.Transformer, described by a config),
 * the forward passes, built on the library's layers: tfm_embed with
 * sinusoidal positions, tfm_encoder_layer and tfm_decoder_layer modules
 * (post-norm or pre-norm) with self- and cross-attention caches, and the
 * session state the searches (seq2seq_search.c) reuse from call to call.
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
#include "arch.h"
#include "seq2seq.h"
#include "../io/file.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

const tfm__s2s *tfm__s2s_of(const tfm_model *m) {
    return m && m->arch->kind == TFM_KIND_ENCODER_DECODER ? (const tfm__s2s *)m->impl : NULL;
}

// ---- config -------------------------------------------------------------------------------

tfm_status tfm__s2s_config(tfm__hf *h, tfm_model *m) {
    tfm__s2s *s = (tfm__s2s *)tfm__model_alloc(m, sizeof *s);
    tfm_status st;
    const char *a;
    int b;
    double d;
    int64_t i64;
    if (!s) return tfm__err(h->ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    m->impl = s;
    s->kind = strcmp(m->arch_name, "marian") == 0 ? TFM__S2S_MARIAN : TFM__S2S_TRANSFORMER;
    if (s->kind == TFM__S2S_MARIAN) {
        int32_t h2, f2;
        TRY(tfm__hf_int(h, "d_model", 0, 1, 0, &s->D));
        TRY(tfm__hf_int(h, "encoder_layers", 0, 1, 0, &s->Le));
        TRY(tfm__hf_int(h, "decoder_layers", 0, 1, 0, &s->Ld));
        TRY(tfm__hf_int(h, "encoder_attention_heads", 0, 1, 0, &s->H));
        TRY(tfm__hf_int(h, "decoder_attention_heads", s->H, 0, 0, &h2));
        TRY(tfm__hf_int(h, "encoder_ffn_dim", 0, 1, 0, &s->F));
        TRY(tfm__hf_int(h, "decoder_ffn_dim", s->F, 0, 0, &f2));
        if (h2 != s->H || f2 != s->F)
            return tfm__err(h->ctx, TFM_ERR_UNSUPPORTED,
                            "model_load: %s: encoder and decoder with different heads (%d, %d) "
                            "or ffn_dim (%d, %d)", h->what, (int)s->H, (int)h2, (int)s->F,
                            (int)f2);
        TRY(tfm__hf_int(h, "vocab_size", 0, 1, 0, &s->Vs));
        TRY(tfm__hf_int(h, "decoder_vocab_size", s->Vs, 0, 0, &s->Vt));
        TRY(tfm__hf_int(h, "max_position_embeddings", 512, 0, 0, &s->P));
        TRY(tfm__hf_act(h, "activation_function", "gelu", &s->act));
        TRY(tfm__hf_bool(h, "scale_embedding", 0, &b));
        TRY(tfm__hf_bool(h, "normalize_before", 0, &s->norm_first));
        if (s->norm_first)
            return tfm__err(h->ctx, TFM_ERR_UNSUPPORTED,
                            "model_load: %s: normalize_before true (Marian is post-norm)",
                            h->what);
        s->pos_layout = TFM_POS_HALF;
        s->eps = 1e-5f;
        TRY(tfm__hf_token(h, "pad_token_id", s->Vt - 1, s->Vt, 1, &s->pad));
        TRY(tfm__hf_token(h, "eos_token_id", 0, s->Vt, 1, &s->eos));
        TRY(tfm__hf_token(h, "decoder_start_token_id", s->pad, s->Vt, 1, &s->start));
        TRY(tfm__hf_token(h, "forced_eos_token_id", -1, s->Vt, 1, &s->forced_eos));
        s->unk = -1;
        s->ban_pad = 1;
    } else {
        TRY(tfm__hf_int(h, "d_model", 0, 1, 0, &s->D));
        TRY(tfm__hf_int(h, "nhead", 0, 1, 0, &s->H));
        TRY(tfm__hf_int(h, "num_encoder_layers", 0, 1, 0, &s->Le));
        TRY(tfm__hf_int(h, "num_decoder_layers", 0, 1, 0, &s->Ld));
        TRY(tfm__hf_int(h, "dim_feedforward", 2048, 0, 0, &s->F));
        TRY(tfm__hf_int(h, "vocab_size", 1, 0, 0, &s->Vs));
        TRY(tfm__hf_int(h, "src_vocab_size", s->Vs, 0, 0, &s->Vs));
        TRY(tfm__hf_int(h, "tgt_vocab_size", s->Vs, 0, 0, &s->Vt));
        if (s->Vs < 2 || s->Vt < 2)
            return tfm__err(h->ctx, TFM_ERR_NOT_FOUND,
                            "model_load: %s: missing field 'vocab_size' (or src_vocab_size and "
                            "tgt_vocab_size)", h->what);
        TRY(tfm__hf_int(h, "max_position_embeddings", 512, 0, 0, &s->P));
        TRY(tfm__hf_act(h, "activation", "relu", &s->act));
        TRY(tfm__hf_float(h, "layer_norm_eps", 1e-5, 0.0, 0.999999, &d));
        s->eps = (float)d;
        TRY(tfm__hf_bool(h, "norm_first", 0, &s->norm_first));
        TRY(tfm__hf_bool(h, "scale_embedding", 1, &b));
        TRY(tfm__hf_str(h, "positional_encoding", "interleaved", &a));
        if (strcmp(a, "interleaved") == 0) s->pos_layout = TFM_POS_INTERLEAVED;
        else if (strcmp(a, "half") == 0) s->pos_layout = TFM_POS_HALF;
        else
            return tfm__err(h->ctx, TFM_ERR_UNSUPPORTED,
                            "model_load: %s: positional_encoding '%s' (interleaved or half)",
                            h->what, a);
        TRY(tfm__hf_token(h, "pad_token_id", -1, s->Vt, 1, &s->pad));
        TRY(tfm__hf_token(h, "eos_token_id", -1, s->Vt, 1, &s->eos));
        TRY(tfm__hf_token(h, "bos_token_id", -1, s->Vt, 1, &s->start));
        TRY(tfm__hf_token(h, "decoder_start_token_id", s->start, s->Vt, 1, &s->start));
        TRY(tfm__hf_token(h, "unk_token_id", -1, s->Vt, 1, &s->unk));
        if (s->eos < 0 || s->start < 0)
            return tfm__err(h->ctx, TFM_ERR_NOT_FOUND,
                            "model_load: %s: eos_token_id and bos_token_id (the decoder start) "
                            "are required", h->what);
        s->forced_eos = -1;
        s->ban_pad = s->pad >= 0;
    }
    if (s->D % s->H != 0)
        return tfm__err(h->ctx, TFM_ERR_FORMAT, "model_load: %s: d_model %d is not a multiple "
                        "of the %d heads", h->what, (int)s->D, (int)s->H);
    if (s->pos_layout != TFM_POS_NONE && s->D % 2 != 0)
        return tfm__err(h->ctx, TFM_ERR_FORMAT,
                        "model_load: %s: sinusoidal positions need an even d_model, not %d",
                        h->what, (int)s->D);
    s->E = s->D / s->H;
    s->emb_scale = b ? (float)sqrt((double)s->D) : 1.0f;
    // generation defaults
    TRY(tfm__json_get_int(h->ctx, h->cfg, h->what, "max_length", 0, &i64));
    s->gen_max_length = i64 > 1 ? (int32_t)(i64 - 1 < 256 ? i64 - 1 : 256) : 256;
    if (s->gen_max_length > s->P) s->gen_max_length = s->P;
    TRY(tfm__json_get_int(h->ctx, h->cfg, h->what, "num_beams", 1, &i64));
    s->gen_beams = i64 >= 1 && i64 <= 64 ? (int32_t)i64 : 1;
    TRY(tfm__json_get_float(h->ctx, h->cfg, h->what, "length_penalty", 1.0, &d));
    s->gen_length_penalty = (float)d;
    {
        double D = s->D, F = s->F, V = s->Vs > s->Vt ? s->Vs : s->Vt;
        TRY(tfm__hf_fits(h, V * D + s->Le * (4 * D * D + 2 * D * F) +
                                s->Ld * (8 * D * D + 2 * D * F)));
    }
    tfm__model_sizes(m, s->Vt, s->P, s->D, s->Ld);
    m->info.eos = s->eos;
    m->info.stop = s->eos;
    return TFM_OK;
}

// ---- weights ------------------------------------------------------------------------------

// pre + nm + ".weight" [out_f, in_f] (in_f 0: [out_f]) and ".bias" [out_f].
static tfm_status get_lin(tfm__hf *h, const char *pre, const char *nm, int64_t out_f,
                          int64_t in_f, const tfm_tensor **w, const tfm_tensor **b) {
    char name[200];
    snprintf(name, sizeof name, "%s%s", pre, nm);
    return tfm__hf_linear(h, name, out_f, NULL, in_f, NULL, 0, w, b);
}

// The q, k, v and out projections of a Marian attention block pre + nm.
static tfm_status marian_attn(tfm__hf *h, const char *pre, const char *nm, int64_t D,
                              tfm_mha_weights *a) {
    char p2[160];
    tfm_status st;
    snprintf(p2, sizeof p2, "%s%s.", pre, nm);
    TRY(get_lin(h, p2, "q_proj", D, D, &a->wq, &a->bq));
    TRY(get_lin(h, p2, "k_proj", D, D, &a->wk, &a->bk));
    TRY(get_lin(h, p2, "v_proj", D, D, &a->wv, &a->bv));
    return get_lin(h, p2, "out_proj", D, D, &a->wo, &a->bo);
}

static tfm_status get_norm(tfm__hf *h, const char *pre, const char *nm, int64_t D,
                           tfm_norm_weights *nw) {
    return get_lin(h, pre, nm, D, 0, &nw->gamma, &nw->beta);
}

// Marian layer N of the encoder (dec 0) or decoder (dec 1).
static tfm_status marian_layer(tfm__hf *h, const tfm__s2s *s, int dec, int32_t l,
                               tfm_layer_weights *w) {
    char pre[96];
    tfm_status st;
    int64_t D = s->D, F = s->F;
    *w = tfm_layer_weights_default();
    snprintf(pre, sizeof pre, "model.%s.layers.%d.", dec ? "decoder" : "encoder", (int)l);
    TRY(marian_attn(h, pre, "self_attn", D, &w->self_attn));
    TRY(get_norm(h, pre, "self_attn_layer_norm", D, &w->attn_norm));
    if (dec) {
        TRY(marian_attn(h, pre, "encoder_attn", D, &w->cross_attn));
        TRY(get_norm(h, pre, "encoder_attn_layer_norm", D, &w->cross_norm));
    }
    TRY(get_lin(h, pre, "fc1", F, D, &w->ffn.w1, &w->ffn.b1));
    TRY(get_lin(h, pre, "fc2", D, F, &w->ffn.w2, &w->ffn.b2));
    return get_norm(h, pre, "final_layer_norm", D, &w->ffn_norm);
}

// nn.Transformer layer: fused in_proj for self-attention; the decoder's
// multihead_attn in_proj split into q, k, v rows.
static tfm_status torch_layer(tfm__hf *h, const tfm__s2s *s, int dec, int32_t l,
                              tfm_layer_weights *w) {
    char pre[96], p2[128];
    tfm_status st;
    int64_t D = s->D, F = s->F;
    const tfm_tensor *iw, *ib;
    *w = tfm_layer_weights_default();
    snprintf(pre, sizeof pre, "transformer.%s.layers.%d.", dec ? "decoder" : "encoder", (int)l);
    TRY(tfm__hf_weightf(h, 3 * D, D, 1, &w->self_attn.wqkv, "%sself_attn.in_proj_weight", pre));
    TRY(tfm__hf_weightf(h, 3 * D, 0, 0, &w->self_attn.bqkv, "%sself_attn.in_proj_bias", pre));
    snprintf(p2, sizeof p2, "%sself_attn.", pre);
    TRY(get_lin(h, p2, "out_proj", D, D, &w->self_attn.wo, &w->self_attn.bo));
    TRY(get_norm(h, pre, "norm1", D, &w->attn_norm));
    if (dec) {
        TRY(tfm__hf_weightf(h, 3 * D, D, 1, &iw, "%smultihead_attn.in_proj_weight", pre));
        TRY(tfm__hf_weightf(h, 3 * D, 0, 0, &ib, "%smultihead_attn.in_proj_bias", pre));
        TRY(tfm__hf_rows(h, iw, 0, D, &w->cross_attn.wq));
        TRY(tfm__hf_rows(h, iw, D, D, &w->cross_attn.wk));
        TRY(tfm__hf_rows(h, iw, 2 * D, D, &w->cross_attn.wv));
        TRY(tfm__hf_rows(h, ib, 0, D, &w->cross_attn.bq));
        TRY(tfm__hf_rows(h, ib, D, D, &w->cross_attn.bk));
        TRY(tfm__hf_rows(h, ib, 2 * D, D, &w->cross_attn.bv));
        snprintf(p2, sizeof p2, "%smultihead_attn.", pre);
        TRY(get_lin(h, p2, "out_proj", D, D, &w->cross_attn.wo, &w->cross_attn.bo));
        TRY(get_norm(h, pre, "norm2", D, &w->cross_norm));
        TRY(get_norm(h, pre, "norm3", D, &w->ffn_norm));
    } else {
        TRY(get_norm(h, pre, "norm2", D, &w->ffn_norm));
    }
    TRY(get_lin(h, pre, "linear1", F, D, &w->ffn.w1, &w->ffn.b1));
    return get_lin(h, pre, "linear2", D, F, &w->ffn.w2, &w->ffn.b2);
}

static void enc_free(void *p) { tfm_encoder_layer_free((tfm_encoder_layer *)p); }
static void dec_free(void *p) { tfm_decoder_layer_free((tfm_decoder_layer *)p); }
static void packed_free(void *p) { tfm_packed_matrix_free((tfm_packed_matrix *)p); }
static void tok_free(void *p) { tfm_tokenizer_free((tfm_tokenizer *)p); }
static void pieces_free(void *p) { tfm__pieces_free((tfm__pieces *)p); }

// dir/name when present: a SentencePiece model (Marian's source.spm and
// target.spm), whose pieces map to the model's ids through vocab.json.
static tfm_status load_spm(tfm__hf *h, tfm__s2s *s, const char *name,
                           struct tfm_tokenizer **out) {
    char path[1100];
    tfm_status st;
    snprintf(path, sizeof path, "%s/%s", h->dir, name);
    if (!tfm__file_exists(path)) return TFM_OK;
    TRY(tfm_tokenizer_load(h->ctx, path, NULL, out));
    TRY(tfm__model_keep(h->m, *out, tok_free));
    if (!s->pieces)
        return tfm__err(h->ctx, TFM_ERR_NOT_FOUND, "model_load: %s: %s needs vocab.json beside "
                        "it (the map of its pieces to the model's ids)", h->dir, name);
    return TFM_OK;
}

tfm_status tfm__s2s_load(tfm__hf *h, tfm_model *m, const tfm_model_params *p) {
    tfm__s2s *s = (tfm__s2s *)m->impl;
    tfm_ctx *ctx = h->ctx;
    tfm_status st;
    tfm_layer_params lp;
    int shared = 1, tied = 1;
    int32_t l;
    char path[1100];
    const tfm_tensor *lm_w = NULL, *lm_b = NULL;
    s->enc_w = (tfm_layer_weights *)tfm__model_alloc(m, (size_t)s->Le * sizeof *s->enc_w);
    s->dec_w = (tfm_layer_weights *)tfm__model_alloc(m, (size_t)s->Ld * sizeof *s->dec_w);
    s->enc = (tfm_encoder_layer **)tfm__model_alloc(m, (size_t)s->Le * sizeof *s->enc);
    s->dec = (tfm_decoder_layer **)tfm__model_alloc(m, (size_t)s->Ld * sizeof *s->dec);
    if (!s->enc_w || !s->dec_w || !s->enc || !s->dec)
        return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    s->enc_norm = tfm_norm_weights_default();
    s->dec_norm = tfm_norm_weights_default();
    if (s->kind == TFM__S2S_MARIAN) {
        TRY(tfm__hf_bool(h, "share_encoder_decoder_embeddings", 1, &shared));
        TRY(tfm__hf_bool(h, "tie_word_embeddings", 1, &tied));
        if (shared && s->Vs != s->Vt)
            return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: shared embeddings but "
                            "vocab_size %d != decoder_vocab_size %d", h->what, (int)s->Vs,
                            (int)s->Vt);
        if (shared) {
            TRY(tfm__hf_matrix(h, "model.shared.weight", s->Vs, "vocab_size", s->D, "d_model",
                               1, tied ? TFM__MAT_HEAD : TFM__MAT_EMBED, &s->src_emb));
            if (!s->src_emb)
                TRY(tfm__hf_matrix(h, "model.encoder.embed_tokens.weight", s->Vs, "vocab_size",
                                   s->D, "d_model", 0, tied ? TFM__MAT_HEAD : TFM__MAT_EMBED,
                                   &s->src_emb));
            s->tgt_emb = s->src_emb;
        } else {
            TRY(tfm__hf_matrix(h, "model.encoder.embed_tokens.weight", s->Vs, "vocab_size",
                               s->D, "d_model", 0, TFM__MAT_EMBED, &s->src_emb));
            TRY(tfm__hf_matrix(h, "model.decoder.embed_tokens.weight", s->Vt,
                               "decoder_vocab_size", s->D, "d_model", 0,
                               tied ? TFM__MAT_HEAD : TFM__MAT_EMBED, &s->tgt_emb));
        }
        if (!tied)
            TRY(tfm__hf_matrix(h, "lm_head.weight", s->Vt, NULL, s->D, NULL, 1, TFM__MAT_HEAD,
                               &lm_w));
        if (!lm_w) // tied, or no lm_head: the embeddings, as an output projection
            TRY(tfm__model_matrix(m, s->tgt_emb, p->weights, TFM__MAT_HEAD, &lm_w));
        TRY(tfm__hf_weight(h, "final_logits_bias", s->Vt, NULL, 0, NULL, 1, &lm_b));
        for (l = 0; l < s->Le; l++) TRY(marian_layer(h, s, 0, l, &s->enc_w[l]));
        for (l = 0; l < s->Ld; l++) TRY(marian_layer(h, s, 1, l, &s->dec_w[l]));
    } else {
        TRY(tfm__hf_bool(h, "share_embeddings", 0, &shared));
        TRY(tfm__hf_bool(h, "tie_word_embeddings", 0, &tied));
        TRY(tfm__hf_matrix(h, "src_embed.weight", s->Vs, "src_vocab_size", s->D, "d_model", 0,
                           shared && tied ? TFM__MAT_HEAD : TFM__MAT_EMBED, &s->src_emb));
        if (shared) {
            if (s->Vs != s->Vt)
                return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: share_embeddings with "
                                "src_vocab_size %d != tgt_vocab_size %d", h->what, (int)s->Vs,
                                (int)s->Vt);
            s->tgt_emb = s->src_emb;
        } else {
            TRY(tfm__hf_matrix(h, "tgt_embed.weight", s->Vt, "tgt_vocab_size", s->D, "d_model",
                               0, tied ? TFM__MAT_HEAD : TFM__MAT_EMBED, &s->tgt_emb));
        }
        if (tied) lm_w = s->tgt_emb;
        else TRY(tfm__hf_matrix(h, "generator.weight", s->Vt, NULL, s->D, NULL, 0,
                                TFM__MAT_HEAD, &lm_w));
        TRY(tfm__hf_weight(h, "generator.bias", s->Vt, NULL, 0, NULL, 1, &lm_b));
        for (l = 0; l < s->Le; l++) TRY(torch_layer(h, s, 0, l, &s->enc_w[l]));
        for (l = 0; l < s->Ld; l++) TRY(torch_layer(h, s, 1, l, &s->dec_w[l]));
        TRY(tfm__hf_linear(h, "transformer.encoder.norm", s->D, NULL, 0, NULL, 1,
                           &s->enc_norm.gamma, &s->enc_norm.beta));
        TRY(tfm__hf_linear(h, "transformer.decoder.norm", s->D, NULL, 0, NULL, 1,
                           &s->dec_norm.gamma, &s->dec_norm.beta));
    }
    lp = tfm__layer_params(s->D, s->H, s->F, s->act, TFM_NORM_LAYER, s->eps, p);
    lp.norm_first = s->norm_first;
    for (l = 0; l < s->Le; l++) {
        TRY(tfm_encoder_layer_create(ctx, &lp, &s->enc_w[l], &s->enc[l]));
        TRY(tfm__model_keep(m, s->enc[l], enc_free));
    }
    for (l = 0; l < s->Ld; l++) {
        TRY(tfm_decoder_layer_create(ctx, &lp, &s->dec_w[l], &s->dec[l]));
        TRY(tfm__model_keep(m, s->dec[l], dec_free));
    }
    TRY(tfm__linear_init(ctx, &s->lm, lm_w, lm_b, s->D, s->Vt, 0, "model_load", "lm_head",
                         "final_logits_bias"));
    TRY(tfm__linear_pack(ctx, &s->lm));
    TRY(tfm__model_keep(m, s->lm.pk, packed_free));
    snprintf(path, sizeof path, "%s/vocab.json", h->dir);
    if (tfm__file_exists(path)) {
        TRY(tfm__pieces_load(ctx, path, s->Vs > s->Vt ? s->Vs : s->Vt, "model_load",
                             &s->pieces));
        TRY(tfm__model_keep(m, s->pieces, pieces_free));
        if (s->unk < 0) s->unk = tfm__pieces_find(s->pieces, "<unk>", 5);
    }
    TRY(load_spm(h, s, "source.spm", &s->src_tok));
    TRY(load_spm(h, s, "target.spm", &s->tgt_tok));
    m->tok = s->src_tok;
    return TFM_OK;
}

uint64_t tfm__s2s_weight_bytes(const tfm_model *m) {
    const tfm__s2s *s = (const tfm__s2s *)m->impl;
    uint64_t n = tfm__linear_bytes(&s->lm) + tfm__norm_bytes(&s->dec_norm);
    int32_t l;
    for (l = 0; l < s->Ld; l++) n += tfm__decoder_layer_bytes(s->dec[l]);
    return n;
}

// ---- session state ---------------------------------------------------------------------------

tfm_status tfm__s2s_session_create(tfm_session *s) {
    s->state = tfm__alloc(s->ctx, sizeof(tfm__s2s_state));
    if (!s->state) return tfm__err(s->ctx, TFM_ERR_NOMEM, "session_create: out of memory");
    return TFM_OK;
}

void tfm__s2s_release(tfm_ctx *ctx, tfm__s2s_state *z) {
    tfm_kv_cache_free(z->sc);
    tfm_kv_cache_free(z->cc);
    if (z->ws.data) tfm__free(ctx, z->ws.data, z->ws.size);
    if (z->scratch) tfm__free(ctx, z->scratch, z->scratch_size);
    memset(z, 0, sizeof *z);
}

void tfm__s2s_session_free(tfm_session *s) {
    if (!s->state) return;
    tfm__s2s_release(s->ctx, (tfm__s2s_state *)s->state);
    tfm__free(s->ctx, s->state, sizeof(tfm__s2s_state));
    s->state = NULL;
}

// Grows *p (*size bytes) to at least `need` bytes.
static tfm_status grow(tfm_ctx *ctx, void **p, size_t *size, size_t need, const char *what) {
    void *q;
    if (*p && *size >= need) return TFM_OK;
    q = tfm__alloc(ctx, need);
    if (!q)
        return tfm__err(ctx, TFM_ERR_NOMEM, "translate: out of memory for %zu bytes of %s",
                        need, what);
    if (*p) tfm__free(ctx, *p, *size);
    *p = q;
    *size = need;
    return TFM_OK;
}

tfm_status tfm__s2s_reserve(tfm_ctx *ctx, const tfm__s2s *s, tfm__s2s_state *z, int64_t rows,
                            int64_t T, int64_t S, size_t ws, size_t scratch, void **out) {
    tfm_status st;
    if (!z->sc || !z->cc || rows > z->rows || T > z->T || S > z->S) {
        tfm_kv_cache_params kp = tfm_kv_cache_params_default();
        tfm_kv_cache_free(z->sc);
        tfm_kv_cache_free(z->cc);
        z->sc = z->cc = NULL;
        if (rows < z->rows) rows = z->rows;
        if (T < z->T) T = z->T;
        if (S < z->S) S = z->S;
        kp.n_layers = s->Ld;
        kp.max_batch = rows;
        kp.n_kv_heads = s->H;
        kp.head_dim = s->E;
        kp.max_seq = T;
        TRY(tfm_kv_cache_create(ctx, &kp, &z->sc));
        kp.max_seq = S;
        TRY(tfm_kv_cache_create(ctx, &kp, &z->cc));
        z->rows = rows;
        z->T = T;
        z->S = S;
    } else {
        tfm_kv_cache_reset(z->sc);
        tfm_kv_cache_reset(z->cc);
    }
    z->ws.ctx = ctx;
    TRY(grow(ctx, &z->ws.data, &z->ws.size, ws, "workspace"));
    TRY(grow(ctx, &z->scratch, &z->scratch_size, scratch, "scratch"));
    *out = z->scratch;
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
    TRY(tfm__check_finite(ctx, mem, "encoder: embeddings"));
    am.key_padding_mask = kpm;
    for (l = 0; l < s->Le; l++) {
        st = tfm_encoder_layer_forward(ctx, s->enc[l], mem, &am, ws, mem, NULL);
        if (st == TFM_ERR_NUMERIC) return tfm__err_wrap(ctx, st, "encoder: layer %d", l);
        if (st) return st;
    }
    if (s->enc_norm.gamma) return tfm_norm(ctx, TFM_NORM_LAYER, mem, &s->enc_norm, s->eps, mem);
    return TFM_OK;
}

size_t tfm__s2s_dec_ws(tfm_ctx *ctx, const tfm__s2s *s, int64_t N, int64_t Tq, int64_t Tk,
                       int64_t S) {
    size_t a = tfm_decoder_layer_workspace_size(ctx, s->dec[0], N, Tq, Tk, S),
           b = tfm__linear_ws(ctx, &s->lm, N * Tq);
    if (a == 0 || b == SIZE_MAX) return 0;
    return a > b ? a : b;
}

tfm_status tfm__s2s_decode(tfm_ctx *ctx, const tfm__s2s *s, const tfm_tensor *ids,
                           int64_t start, const tfm_tensor *mem, const tfm_tensor *mem_pad,
                           tfm_kv_cache *sc, tfm_kv_cache *cc, tfm_workspace *ws, float *x,
                           float *logits, float *probs, float *cross_att) {
    tfm_embed_weights ew = tfm_embed_weights_default();
    tfm_tensor xv, pv;
    int64_t N = ids->shape[0], Tq = ids->shape[1], S, shp[4];
    tfm__arena ar;
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
    TRY(tfm__check_finite(ctx, &xv, "decoder: embeddings"));
    shp[0] = N; shp[1] = s->H; shp[2] = Tq; shp[3] = S;
    if (cross_att) tfm__view_c(&pv, probs, 4, shp);
    for (l = 0; l < s->Ld; l++) {
        st = tfm_decoder_layer_forward(ctx, s->dec[l], &xv, mem, NULL, mem_pad, sc, cc, l, ws,
                                       &xv, NULL, cross_att && l == s->Ld - 1 ? &pv : NULL);
        if (st == TFM_ERR_NUMERIC) return tfm__err_wrap(ctx, st, "decoder: layer %d", l);
        if (st) return st;
    }
    if (s->dec_norm.gamma)
        TRY(tfm_norm(ctx, TFM_NORM_LAYER, &xv, &s->dec_norm, s->eps, &xv));
    ar.base = (char *)ws->data;
    ar.size = ws->size;
    ar.used = 0;
    TRY(tfm__linear_rows(ctx, &s->lm, N * Tq, x, s->D, logits, s->Vt, &ar));
    TRY(tfm__check_finite_rows(ctx, logits, N * Tq, s->Vt, "decoder: lm_head"));
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
