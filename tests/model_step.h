/*
 * One step of any model, shared by the allocation-failure walk
 * (tests/unit/test_limits.c) and the fuzz targets that build models: a
 * prompt and two sampled tokens (decoders, in a context of 16), one encoder
 * forward (encoders), a greedy translation of two steps (encoder-decoders).
 * Also the small model of each registry architecture they use.
 */
#ifndef TFM_TEST_MODEL_STEP_H
#define TFM_TEST_MODEL_STEP_H

#include "transformer.h"

#include <stdlib.h>

typedef struct {
    const char *arch; // the registry row it covers
    const char *path; // under tests/ (under ../shared when shared is set)
    int shared;
    int weights;      // tfm_weights
    int threads;
} tfmt_arch_case;

static const tfmt_arch_case tfmt_arch_cases[] = {
    {"llama", "golden/llama/tiny_tied", 0, TFM_WEIGHTS_Q4, 1},
    {"llama", "models/stories260K/stories260K.bin", 1, TFM_WEIGHTS_STORED, 2},
    {"gpt2", "golden/gpt2/tiny", 0, TFM_WEIGHTS_Q8, 2},
    {"bert", "golden/bert/bert_f16", 0, TFM_WEIGHTS_STORED, 2},
    {"distilbert", "golden/bert/distilbert_mlm", 0, TFM_WEIGHTS_Q8, 1},
    {"marian", "golden/marian/marian_tiny", 0, TFM_WEIGHTS_F16, 2},
    {"transformer", "golden/marian/transformer_tiny", 0, TFM_WEIGHTS_STORED, 1},
};
#define TFMT_N_ARCH_CASES (int)(sizeof tfmt_arch_cases / sizeof tfmt_arch_cases[0])

// The k-th of the cases that are HF folders (k modulo their count, which
// goes to *count).
static inline const tfmt_arch_case *tfmt_folder_case(int k, int *count) {
    int i, n = 0, pick;
    for (i = 0; i < TFMT_N_ARCH_CASES; i++) n += !tfmt_arch_cases[i].shared;
    *count = n;
    pick = k % n;
    for (i = 0; i < TFMT_N_ARCH_CASES; i++)
        if (!tfmt_arch_cases[i].shared && pick-- == 0) break;
    return &tfmt_arch_cases[i];
}

static inline tfm_status tfmt_model_step(tfm_ctx *ctx, const tfm_model *m) {
    tfm_session *s = NULL;
    tfm_status st;
    if (tfm_model_kind(m) == TFM_KIND_DECODER) {
        tfm_session_params sp = tfm_session_params_default();
        tfm_gen_params gp = tfm_gen_params_default();
        int32_t ids[3] = {1, 7, 11}, out[2], V = tfm_model_vocab_size(m), i;
        for (i = 0; i < 3; i++) ids[i] %= V;
        sp.max_context = 16;
        gp.max_new_tokens = 2;
        gp.stop_token = -1;
        st = tfm_session_create(ctx, m, &sp, &s);
        if (!st) st = tfm_generate_tokens(s, ids, 3, &gp, out, 2, NULL, NULL);
    } else if (tfm_model_kind(m) == TFM_KIND_ENCODER) {
        int32_t ids[5] = {2, 5, 9, 4, 3}, mask[5] = {1, 1, 1, 1, 0}, i;
        int32_t V = tfm_model_vocab_size(m);
        float *hidden = (float *)malloc(sizeof(float) * 5 * (size_t)tfm_model_dim(m));
        tfm_encode_outputs o = tfm_encode_outputs_default();
        for (i = 0; i < 5; i++) ids[i] %= V;
        o.hidden = hidden;
        st = hidden ? tfm_model_encode(ctx, m, ids, NULL, mask, 1, 5, &o) : TFM_ERR_NOMEM;
        free(hidden);
    } else {
        tfm_translate_params tp = tfm_translate_params_default();
        tfm_translate_result *res = NULL;
        int32_t Vs = tfm_model_src_vocab_size(m), eos = tfm_model_eos(m);
        int32_t src[3], n = 3;
        const int32_t *srcs[1];
        src[0] = 5 % Vs == eos ? 0 : 5 % Vs;
        src[1] = 6 % Vs == eos ? 0 : 6 % Vs;
        src[2] = eos;
        srcs[0] = src;
        tp.beam_size = 1;
        tp.max_length = 2;
        st = tfm_session_create(ctx, m, NULL, &s);
        if (!st) st = tfm_translate_tokens(s, srcs, &n, 1, &tp, &res);
        tfm_translate_result_free(res);
    }
    tfm_session_free(s);
    return st;
}

#endif /* TFM_TEST_MODEL_STEP_H */
