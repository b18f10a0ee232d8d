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
    int kind;                     // tfm__s2s_kind
    int32_t D, H, E, F, Le, Ld;
    int32_t Vs, Vt;               // source and target vocabularies
    int32_t P;                    // positions per sequence (source and target)
    int act;                      // tfm_act of the feed-forward
    float eps;                    // LayerNorm epsilon
    float emb_scale;              // sqrt(D) or 1
    int pos_layout;               // tfm_pos_layout of the sinusoids
    int norm_first;               // pre-norm layers (nn.Transformer's norm_first)
    int32_t pad, eos, start, unk; // token ids (-1: none)
    int32_t forced_eos;           // forced_eos_token_id (-1: none)
    int ban_pad;                  // never generate pad (Marian)
    int32_t gen_max_length;       // default target tokens (EOS included)
    int32_t gen_beams;            // default beam size
    float gen_length_penalty;
    const tfm_tensor *src_emb;    // [Vs, D]
    const tfm_tensor *tgt_emb;    // [Vt, D]
    tfm__linear lm;               // D -> Vt (final_logits_bias), packed
    tfm_layer_weights *enc_w;     // [Le]
    tfm_layer_weights *dec_w;     // [Ld]
    tfm_norm_weights enc_norm, dec_norm; // final norms (nn.Transformer)
    tfm_encoder_layer **enc;      // [Le]
    tfm_decoder_layer **dec;      // [Ld]
    struct tfm_tokenizer *src_tok, *tgt_tok; // NULL without SentencePiece
    // vocab.json (Marian: one map of pieces to ids for both sides, ids
    // [0, max(Vs, Vt))), or NULL
    tfm__pieces *pieces;
} tfm__s2s;

// A translator's session state: the decoder's caches and one workspace,
// kept from call to call and grown when a call needs more, so a warm
// translation of the same size allocates nothing while it decodes.
typedef struct tfm__s2s_state {
    tfm_kv_cache *sc, *cc;        // self [Ld, rows, T] and cross [Ld, rows, S]
    int64_t rows, T, S;           // their sizes
    struct tfm_workspace ws;      // ws.data NULL: none yet
    void *scratch;                // the search's buffers
    size_t scratch_size;
} tfm__s2s_state;

// The network of a translation model, or NULL.
const tfm__s2s *tfm__s2s_of(const tfm_model *m);
// Makes st hold caches for `rows` rows of T target and S source positions
// (emptied), a workspace of ws bytes and scratch bytes of scratch (*out),
// reallocating only what is too small.
tfm_status tfm__s2s_reserve(tfm_ctx *ctx, const tfm__s2s *s, tfm__s2s_state *z, int64_t rows,
                            int64_t T, int64_t S, size_t ws, size_t scratch, void **out);
// Frees what z holds (z itself stays).
void tfm__s2s_release(tfm_ctx *ctx, tfm__s2s_state *z);

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
// scratch [N, H, Tq, S]). ws: from tfm__s2s_dec_ws.
tfm_status tfm__s2s_decode(tfm_ctx *ctx, const tfm__s2s *s, const tfm_tensor *ids,
                           int64_t start, const tfm_tensor *mem, const tfm_tensor *mem_pad,
                           tfm_kv_cache *self_cache, tfm_kv_cache *cross_cache,
                           tfm_workspace *ws, float *x, float *logits, float *probs,
                           float *cross_att);
size_t tfm__s2s_dec_ws(tfm_ctx *ctx, const tfm__s2s *s, int64_t N, int64_t Tq, int64_t Tk,
                       int64_t S);

#endif /* TFM_MODELS_SEQ2SEQ_H */
