/*
 * BERT-family encoders (BERT, DistilBERT) from Hugging Face folders:
 * internal declarations (src/models/bert.c, bert_tasks.c).
 *
 * Legend of dimension letters: B batch, S positions of a padded batch,
 * V vocabulary, D hidden width, H heads, E head width (D = H*E),
 * F feed-forward width, L layers, P position table, T token types,
 * C classifier labels, N = B*S rows.
 */
#ifndef TFM_MODELS_BERT_H
#define TFM_MODELS_BERT_H

#include "model.h"

typedef struct tfm__bert {
    int distil;                   // 0 BERT, 1 DistilBERT
    char arch[64];                // architectures[0] of config.json
    int32_t V, D, L, H, E, F, P, T, C;
    int act;                      // tfm_act of the feed-forward and MLM head
    float eps;                    // LayerNorm epsilon
    int32_t pad_id;
    int multi_label;              // classifier probabilities by sigmoid
    const tfm_tensor *wte;        // [V, D]
    const tfm_tensor *wpe;        // [P, D]
    const tfm_tensor *wtt;        // [T, D] (BERT only; T = 0 for DistilBERT)
    tfm_norm_weights emb_ln;
    tfm_layer_weights *lw;        // [L] weights of the post-norm encoder layers
    tfm_encoder_layer **layers;   // [L]
    int has_pooler, has_mlm, has_cls;
    tfm__linear pooler;           // D->D, tanh (BERT)
    tfm__linear mlm_dense;        // D->D, act
    tfm_norm_weights mlm_ln;
    tfm__linear mlm_dec;          // D->V (tied to wte unless stored), bias
    tfm__linear pre_cls;          // D->D, ReLU (DistilBERT)
    tfm__linear cls;              // D->C
    char **labels;                // [C] id2label
} tfm__bert;

// The encoder of a BERT-family model, or NULL (naming `what` in an error
// set in *st).
const tfm__bert *tfm__bert_of(tfm_ctx *ctx, const tfm_model *m, const char *what,
                              tfm_status *st);

// Runs the encoder on a padded batch. ids, types (NULL: all 0), mask
// (NULL: all 1) are [B, S]. Outputs (each may be NULL): hidden [B, S, D],
// pooled [B, D], mlm [B, S, V], cls [B, C]. The scratch of the whole call
// is one allocation, sized from (B, S).
tfm_status tfm__bert_forward(tfm_ctx *ctx, const tfm__bert *b, const int32_t *ids,
                             const int32_t *types, const int32_t *mask, int32_t B,
                             int32_t S, float *hidden, float *pooled, float *mlm,
                             float *cls);

// The masked-LM head alone on hidden states x [n, D] (n rows chosen by the
// caller, e.g. the [MASK] positions) into logits [n, V].
tfm_status tfm__bert_mlm(tfm_ctx *ctx, const tfm__bert *b, float *x, int64_t n,
                         float *logits);

#endif /* TFM_MODELS_BERT_H */
