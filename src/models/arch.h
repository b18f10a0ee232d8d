/*
 * The hooks of every architecture, as the registry (registry.c) lists them.
 * An architecture is one file of src/models/ defining its hooks, their
 * declarations here and one row of the table (docs/ARCHITECTURE.md).
 */
#ifndef TFM_MODELS_ARCH_H
#define TFM_MODELS_ARCH_H

#include "model.h"

// ---- decoders (decoder.c: the forward, sessions and weight bytes) ----------------------
tfm_status tfm__dec_session_create(tfm_session *s);
void tfm__dec_session_free(tfm_session *s);
tfm_status tfm__dec_forward(tfm_session *s, const int32_t *tokens, int32_t n,
                            float *logits_all);
void tfm__dec_session_truncate(tfm_session *s, int32_t pos);
uint64_t tfm__dec_weight_bytes(const tfm_model *m);

// llama.c: Hugging Face Llama (and the llama2.c checkpoints of llama2c.c)
tfm_status tfm__llama_config(tfm__hf *h, tfm_model *m);
tfm_status tfm__llama_load(tfm__hf *h, tfm_model *m, const tfm_model_params *p);

// llama2c.c: a llama2.c checkpoint at `path` (not a folder) as a "llama"
tfm_status tfm__llama2c_model(tfm_ctx *ctx, const char *path, const tfm_model_params *p,
                              tfm_model *m);

// gpt2.c: GPT-2
tfm_status tfm__gpt2_config(tfm__hf *h, tfm_model *m);
tfm_status tfm__gpt2_load(tfm__hf *h, tfm_model *m, const tfm_model_params *p);

// ---- encoders (bert.c: BERT and DistilBERT) ---------------------------------------------
tfm_status tfm__bert_config(tfm__hf *h, tfm_model *m);
tfm_status tfm__bert_load(tfm__hf *h, tfm_model *m, const tfm_model_params *p);
uint64_t tfm__bert_weight_bytes(const tfm_model *m);

// ---- encoder-decoders (seq2seq.c: Marian and nn.Transformer translators) ---------------
tfm_status tfm__s2s_config(tfm__hf *h, tfm_model *m);
tfm_status tfm__s2s_load(tfm__hf *h, tfm_model *m, const tfm_model_params *p);
tfm_status tfm__s2s_session_create(tfm_session *s);
void tfm__s2s_session_free(tfm_session *s);
uint64_t tfm__s2s_weight_bytes(const tfm_model *m);

#endif /* TFM_MODELS_ARCH_H */
