/*
 * GPT-2 from a Hugging Face folder (GPT2LMHeadModel; tensor names with or
 * without "transformer."): wte, wpe, h.N.{ln_1, attn.c_attn, attn.c_proj,
 * ln_2, mlp.c_fc, mlp.c_proj}, ln_f. Conv1D weights are stored [in, out]
 * and used as they are (c_attn is the fused q | k | v projection); the
 * classifier is wte. LayerNorm, learned positions, GELU (tanh) MLP.
 */
#include "arch.h"
#include "decoder.h"

#include <string.h>

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

tfm_status tfm__gpt2_config(tfm__hf *h, tfm_model *m) {
    tfm__dec_config c;
    tfm_status st;
    double eps;
    int32_t inner;
    memset(&c, 0, sizeof c);
    TRY(tfm__hf_int(h, "n_embd", 0, 1, 0, &c.dim));
    TRY(tfm__hf_int(h, "n_layer", 0, 1, 0, &c.n_layers));
    TRY(tfm__hf_int(h, "n_head", 0, 1, 0, &c.n_heads));
    TRY(tfm__hf_int(h, "vocab_size", 0, 1, 0, &c.vocab));
    TRY(tfm__hf_int(h, "n_positions", 1024, 0, 0, &c.max_ctx));
    TRY(tfm__hf_float(h, "layer_norm_epsilon", 1e-5, 0.0, 1.0, &eps));
    TRY(tfm__hf_act(h, "activation_function", "gelu_new", &c.act));
    TRY(tfm__hf_int(h, "n_inner", 0, 0, 0, &inner));
    c.n_kv_heads = c.n_heads;
    c.head_dim = c.dim / c.n_heads;
    c.hidden = inner ? inner : 4 * c.dim;
    c.norm_eps = (float)eps;
    c.in_out = 1;
    return tfm__dec_hf_new(h, m, &c, 50256, 50256, 0);
}

tfm_status tfm__gpt2_load(tfm__hf *h, tfm_model *m, const tfm_model_params *p) {
    static const char *const pre[2] = {"", "transformer."};
    tfm__dec *d = (tfm__dec *)m->impl;
    const tfm__dec_config *c = &d->c;
    tfm_status st;
    int32_t l;
    int64_t D = c->dim, F = c->hidden, V = c->vocab;
    h->prefixes = pre;
    h->n_prefixes = 2;
    // GPT-2 ties its classifier to wte.
    TRY(tfm__hf_matrix(h, "wte.weight", V, "vocab_size", D, "n_embd", 0, TFM__MAT_HEAD,
                       &d->tok_emb));
    TRY(tfm__hf_weight(h, "wpe.weight", c->max_ctx, "n_positions", D, "n_embd", 0,
                       &d->pos_emb));
    for (l = 0; l < c->n_layers; l++) {
        tfm_layer_weights *w = &d->lw[l];
#define W(d0, d1, out, s)                                                                    \
    TRY(tfm__hf_weightf(h, d0, d1, (d1) != 0 ? TFM__MAT_LAYER | TFM__MAT_IN_OUT : 0, out, "h.%d." s,  \
                        (int)l))
        W(D, 0, &w->attn_norm.gamma, "ln_1.weight");
        W(D, 0, &w->attn_norm.beta, "ln_1.bias");
        W(D, 0, &w->ffn_norm.gamma, "ln_2.weight");
        W(D, 0, &w->ffn_norm.beta, "ln_2.bias");
        W(D, 3 * D, &w->self_attn.wqkv, "attn.c_attn.weight");
        W(3 * D, 0, &w->self_attn.bqkv, "attn.c_attn.bias");
        W(D, D, &w->self_attn.wo, "attn.c_proj.weight");
        W(D, 0, &w->self_attn.bo, "attn.c_proj.bias");
        W(D, F, &w->ffn.w1, "mlp.c_fc.weight");
        W(F, 0, &w->ffn.b1, "mlp.c_fc.bias");
        W(F, D, &w->ffn.w2, "mlp.c_proj.weight");
        W(D, 0, &w->ffn.b2, "mlp.c_proj.bias");
#undef W
    }
    TRY(tfm__hf_weight(h, "ln_f.weight", D, "n_embd", 0, NULL, 0, &d->final_norm.gamma));
    TRY(tfm__hf_weight(h, "ln_f.bias", D, "n_embd", 0, NULL, 0, &d->final_norm.beta));
    TRY(tfm__linear_init(h->ctx, &d->lm_head, d->tok_emb, NULL, D, V, 0, "model_load",
                         "lm_head", NULL));
    return tfm__dec_build(m, d, p);
}
