/*
 * Decoder-only models (Llama, GPT-2, llama2.c checkpoints): the network the
 * architecture files fill (llama.c, gpt2.c, llama2c.c) and decoder.c runs:
 * embeddings, pre-norm tfm_decoder_layer modules without cross-attention,
 * a final norm and the classifier.
 *
 * Letters as in model.h.
 */
#ifndef TFM_MODELS_DECODER_H
#define TFM_MODELS_DECODER_H

#include "model.h"

typedef struct tfm__dec_config {
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, head_dim;
    int32_t vocab, max_ctx;
    float norm_eps;
    int rms;                // 1: RMSNorm, 0: LayerNorm
    int rope;               // 1: rotary positions, 0: learned (pos_emb)
    int rope_neox;          // 1: rotate-half pairs (HF Llama), 0: (2i, 2i+1)
    int rope_f32;           // 1: angles computed in float as llama2.c does
    double rope_theta;
    int gated;              // 1: down(act(gate x) * up x), 0: down(act(up x))
    int act;                // tfm_act of the feed-forward
    int in_out;             // 1: weights stored [in, out] (GPT-2's Conv1D)
} tfm__dec_config;

typedef struct tfm__dec {
    tfm__dec_config c;
    const tfm_tensor *tok_emb;     // [V, D]
    const tfm_tensor *pos_emb;     // [max_ctx, D] learned positions or NULL
    tfm_layer_weights *lw;         // [L] the layers' weights (filled by the loader)
    tfm_norm_weights final_norm;   // [D]
    tfm__linear lm_head;           // D -> V
    tfm_decoder_layer **layers;    // [L] (tfm__dec_build)
    float *rope_cos, *rope_sin;    // [max_ctx, E/2] with rope_f32, else NULL
} tfm__dec;

// Checks c (sizes positive, heads divide, ...) naming `what`.
tfm_status tfm__dec_config_check(tfm_ctx *ctx, const tfm__dec_config *c, const char *what);
// The fewest weights a network of c holds (a tied classifier): for
// tfm__hf_fits.
double tfm__dec_n_weights(const tfm__dec_config *c);
// A zeroed network with its layer weights [n_layers] in m (m->impl).
tfm_status tfm__dec_new(tfm_model *m, const tfm__dec_config *c, tfm__dec **out);
// tfm__dec_config_check, tfm__dec_new, and the token ids of the folder's
// config (bos_token_id, eos_token_id; defaults bos and eos, -1 outside the
// vocabulary): generation stops at EOS, and prepends BOS when add_bos.
tfm_status tfm__dec_hf_new(tfm__hf *h, tfm_model *m, const tfm__dec_config *c, int32_t bos,
                           int32_t eos, int add_bos);
// Builds the layers from d->lw, the rotary tables and the packed
// classifier (p->prepack) once the loader has filled the weights.
tfm_status tfm__dec_build(tfm_model *m, tfm__dec *d, const tfm_model_params *p);

#endif /* TFM_MODELS_DECODER_H */
