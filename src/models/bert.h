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
#include "../io/json.h"

typedef struct tfm__bert_lin {
    tfm_tensor w;            // [out, in] f32 (nn.Linear)
    tfm_tensor b;            // [out] f32
    tfm_packed_matrix *pw;   // w packed for the GEMM at load time (owned)
} tfm__bert_lin;

typedef struct tfm__bert_ln {
    tfm_tensor g, b; // [D] f32
} tfm__bert_ln;

typedef struct tfm__bert_layer {
    tfm__bert_lin q, k, v, o; // D->D each
    tfm__bert_ln ln1;         // after attention (+ residual)
    tfm__bert_lin ff1, ff2;   // D->F, F->D
    tfm__bert_ln ln2;         // after the feed-forward (+ residual)
} tfm__bert_layer;

typedef struct tfm__bert {
    tfm_ctx *ctx;                 // allocator of everything below
    int distil;                   // 0 BERT, 1 DistilBERT
    char arch[64];                // architectures[0] of config.json
    int32_t V, D, L, H, E, F, P, T, C;
    int act;                      // tfm_act of the feed-forward and MLM head
    float eps;                    // LayerNorm epsilon
    int32_t pad_id;
    int multi_label;              // classifier probabilities by sigmoid
    tfm_tensor wte;               // [V, D]
    tfm_tensor wpe;               // [P, D]
    tfm_tensor wtt;               // [T, D] (BERT only; T = 0 for DistilBERT)
    tfm__bert_ln emb_ln;
    tfm__bert_layer *layers;      // [L]
    int has_pooler, has_mlm, has_cls;
    tfm__bert_lin pooler;         // D->D, tanh (BERT)
    tfm__bert_lin mlm_dense;      // D->D, act
    tfm__bert_ln mlm_ln;
    tfm_tensor mlm_dec;           // [V, D] (tied to wte unless stored)
    tfm_tensor mlm_bias;          // [V]
    tfm_packed_matrix *mlm_dec_pw; // mlm_dec packed (owned)
    tfm__bert_lin pre_cls;        // D->D, ReLU (DistilBERT)
    tfm__bert_lin cls;            // D->C
    char **labels;                // [C] id2label
    tfm_safetensors *st;          // the weights (f32 tensors borrow it)
    tfm_tensor **owned;           // converted tensors, freed with the model
    int n_owned, cap_owned;
} tfm__bert;

// Fills a tfm_model (allocated and zeroed by the caller, m->ctx set) with a
// BERT-family model from `dir`: called by the Hugging Face loader when
// config.json's model_type is "bert" or "distilbert". The model keeps the
// encoder in m->aux (freed by m->aux_free) and sets arch_name, the sizes of
// m->cfg that the queries report, and bos/eos (-1).
tfm_status tfm__bert_load_model(tfm_ctx *ctx, const char *dir, const tfm__json *config,
                                tfm_model *m);
// The encoder of a model loaded by tfm__bert_load_model, or NULL.
const tfm__bert *tfm__bert_of(const tfm_model *m);
// 1 when config.json's model_type names an architecture of this file.
int tfm__bert_is_type(const char *model_type);

// Runs the encoder on a padded batch. ids, types (NULL: all 0), mask
// (NULL: all 1) are [B, S]. Outputs (each may be NULL): hidden [B, S, D],
// pooled [B, D], mlm [B, S, V], cls [B, C].
tfm_status tfm__bert_forward(tfm_ctx *ctx, const tfm__bert *b, const int32_t *ids,
                             const int32_t *types, const int32_t *mask, int32_t B,
                             int32_t S, float *hidden, float *pooled, float *mlm,
                             float *cls);

// The masked-LM head alone on hidden states x [n, D] (n rows chosen by the
// caller, e.g. the [MASK] positions) into logits [n, V].
tfm_status tfm__bert_mlm(tfm_ctx *ctx, const tfm__bert *b, float *x, int64_t n,
                         float *logits);

#endif /* TFM_MODELS_BERT_H */
