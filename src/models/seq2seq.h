/*
 * Encoder-decoder translation models: internal declarations
 * (src/models/seq2seq.c: loading and the forward passes; seq2seq_search.c:
 * greedy and beam search, the Translation API).
 *
 * Two layouts load into one struct:
 *  - Hugging Face Marian folders (model_type "marian", MarianMTModel);
 *  - the original transformer of PyTorch's nn.Transformer (model_type
 *    "transformer"), described by a config (docs/MODELS.md).
 *
 * Legend of dimension letters: B sentences, K beams, N = B*K decoder rows,
 * S source positions, T target positions, V vocabulary, D model width,
 * H heads, E head width (D = H*E), F feed-forward width, Le/Ld layers.
 */
#ifndef TFM_MODELS_SEQ2SEQ_H
#define TFM_MODELS_SEQ2SEQ_H

#include "model.h"
#include "../io/json.h"
#include "../text/pieces.h"

typedef enum { TFM__S2S_MARIAN = 1, TFM__S2S_TRANSFORMER = 2 } tfm__s2s_kind;

typedef struct tfm__s2s {
    tfm_ctx *ctx;                 // allocator of everything below
    int kind;                     // tfm__s2s_kind
    int32_t D, H, E, F, Le, Ld;
    int32_t Vs, Vt;               // source and target vocabularies
    int32_t P;                    // positions per sequence (source and target)
    int act;                      // tfm_act of the feed-forward
    float eps;                    // LayerNorm epsilon
    float emb_scale;              // sqrt(D) or 1
    int pos_layout;               // tfm_pos_layout of the sinusoids
    int32_t pad, eos, start, unk; // token ids (-1: none)
    int32_t forced_eos;           // forced_eos_token_id (-1: none)
    int ban_pad;                  // never generate pad (Marian)
    int32_t gen_max_length;       // default target tokens (EOS included)
    int32_t gen_beams;            // default beam size
    float gen_length_penalty;
    tfm_tensor *pool;             // tensor structs the modules borrow
    int n_pool, cap_pool;
    const tfm_tensor *src_emb;    // [Vs, D]
    const tfm_tensor *tgt_emb;    // [Vt, D]
    const tfm_tensor *lm_w;       // [Vt, D]
    const tfm_tensor *lm_b;       // [Vt] or NULL (final_logits_bias)
    tfm_packed_matrix *lm_pk;     // lm_w packed (owned)
    tfm_layer_weights *enc_w;     // [Le]
    tfm_layer_weights *dec_w;     // [Ld]
    tfm_norm_weights enc_norm, dec_norm; // final norms (nn.Transformer)
    tfm_encoder_layer **enc;      // [Le]
    tfm_decoder_layer **dec;      // [Ld]
    tfm_safetensors *st;
    void **owned;                 // converted weights, freed with the model
    size_t *owned_size;
    int n_owned, cap_owned;
    struct tfm_tokenizer *src_tok, *tgt_tok; // NULL without SentencePiece
    // vocab.json (Marian: one map of pieces to ids for both sides, ids
    // [0, max(Vs, Vt))), or NULL
    tfm__pieces *pieces;
} tfm__s2s;

// 1 when config.json's model_type is one of this file's ("marian",
// "transformer").
int tfm__s2s_is_type(const char *model_type);
// Fills a zeroed tfm_model (m->ctx set) from the folder `dir` whose parsed
// config.json is `config`: the model keeps the network in m->aux.
tfm_status tfm__s2s_load_model(tfm_ctx *ctx, const char *dir, const tfm__json *config,
                               tfm_model *m);
// The network of a model loaded by tfm__s2s_load_model, or NULL.
const tfm__s2s *tfm__s2s_of(const tfm_model *m);

// Runs the encoder over ids [B, S] (kpm: u8 [B, S], 1 = padding) into
// mem [B, S, D]. ws: from tfm__s2s_enc_ws.
tfm_status tfm__s2s_encode(tfm_ctx *ctx, const tfm__s2s *s, const tfm_tensor *ids,
                           const tfm_tensor *kpm, tfm_workspace *ws, tfm_tensor *mem);
size_t tfm__s2s_enc_ws(tfm_ctx *ctx, const tfm__s2s *s, int64_t B, int64_t S);

// Runs the decoder on ids [N, Tq] at target positions start.. (teacher
// forcing when Tq > 1), appending to self_cache; mem [N, S, D] fills the
// empty cross_cache (NULL once it is filled). x: [N, Tq, D] scratch; logits
// [N * Tq, V]. cross_att: NULL or [N, S] receiving the last layer's
// cross-attention of the last query averaged over heads (needs probs
// scratch [N, H, Tq, S]).
tfm_status tfm__s2s_decode(tfm_ctx *ctx, const tfm__s2s *s, const tfm_tensor *ids,
                           int64_t start, const tfm_tensor *mem, const tfm_tensor *mem_pad,
                           tfm_kv_cache *self_cache, tfm_kv_cache *cross_cache,
                           tfm_workspace *ws, float *x, float *logits, float *probs,
                           float *cross_att);
size_t tfm__s2s_dec_ws(tfm_ctx *ctx, const tfm__s2s *s, int64_t N, int64_t Tq, int64_t Tk,
                       int64_t S);

#endif /* TFM_MODELS_SEQ2SEQ_H */
