/*
 * Llama from a Hugging Face folder (LlamaForCausalLM): config.json and the
 * HF parameter names model.embed_tokens, model.layers.N.{input_layernorm,
 * self_attn.{q,k,v,o}_proj, post_attention_layernorm,
 * mlp.{gate,up,down}_proj}, model.norm, lm_head (absent or ignored with
 * tie_word_embeddings). Rotary positions in the rotate-half layout with
 * rope_theta, RMSNorm with rms_norm_eps, grouped-query attention, SwiGLU.
 */
#include "arch.h"
#include "decoder.h"

#include <string.h>

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

tfm_status tfm__llama_config(tfm__hf *h, tfm_model *m) {
    tfm__dec_config c;
    tfm_status st;
    double eps, theta;
    const tfm__json *rs = tfm__json_get(h->cfg, "rope_scaling");
    memset(&c, 0, sizeof c);
    TRY(tfm__hf_int(h, "hidden_size", 0, 1, 0, &c.dim));
    TRY(tfm__hf_int(h, "intermediate_size", 0, 1, 0, &c.hidden));
    TRY(tfm__hf_int(h, "num_hidden_layers", 0, 1, 0, &c.n_layers));
    TRY(tfm__hf_int(h, "num_attention_heads", 0, 1, 0, &c.n_heads));
    TRY(tfm__hf_int(h, "num_key_value_heads", c.n_heads, 0, 0, &c.n_kv_heads));
    TRY(tfm__hf_int(h, "vocab_size", 0, 1, 0, &c.vocab));
    TRY(tfm__hf_int(h, "max_position_embeddings", 2048, 0, 0, &c.max_ctx));
    TRY(tfm__hf_float(h, "rms_norm_eps", 1e-6, 0.0, 1.0, &eps));
    TRY(tfm__hf_float(h, "rope_theta", 10000.0, 1e-6, 1e30, &theta));
    TRY(tfm__hf_act(h, "hidden_act", "silu", &c.act));
    TRY(tfm__hf_int(h, "head_dim", 0, 0, 0, &c.head_dim));
    if (rs && !tfm__json_is(rs, TFM__JSON_NULL))
        return tfm__err(h->ctx, TFM_ERR_UNSUPPORTED,
                        "model_load: %s: rope_scaling is not supported", h->what);
    if (!c.head_dim) c.head_dim = c.dim / c.n_heads;
    c.norm_eps = (float)eps;
    c.rms = 1;
    c.rope = 1;
    c.rope_neox = 1;
    c.rope_theta = theta;
    c.gated = 1;
    return tfm__dec_hf_new(h, m, &c, 1, 2, 1);
}

tfm_status tfm__llama_load(tfm__hf *h, tfm_model *m, const tfm_model_params *p) {
    tfm__dec *d = (tfm__dec *)m->impl;
    const tfm__dec_config *c = &d->c;
    const tfm_tensor *lm;
    tfm_status st;
    int tie;
    int32_t l;
    int64_t D = c->dim, F = c->hidden, V = c->vocab, Q = (int64_t)c->n_heads * c->head_dim,
            KV = (int64_t)c->n_kv_heads * c->head_dim;
    TRY(tfm__hf_bool(h, "tie_word_embeddings", 0, &tie));
    TRY(tfm__hf_matrix(h, "model.embed_tokens.weight", V, "vocab_size", D, "hidden_size", 0,
                       tie ? TFM__MAT_HEAD : TFM__MAT_EMBED, &d->tok_emb));
    for (l = 0; l < c->n_layers; l++) {
        tfm_layer_weights *w = &d->lw[l];
#define W(d0, d1, out, s) TRY(tfm__hf_weightf(h, d0, d1, 1, out, "model.layers.%d." s, (int)l))
        W(D, 0, &w->attn_norm.gamma, "input_layernorm.weight");
        W(D, 0, &w->ffn_norm.gamma, "post_attention_layernorm.weight");
        W(Q, D, &w->self_attn.wq, "self_attn.q_proj.weight");
        W(KV, D, &w->self_attn.wk, "self_attn.k_proj.weight");
        W(KV, D, &w->self_attn.wv, "self_attn.v_proj.weight");
        W(D, Q, &w->self_attn.wo, "self_attn.o_proj.weight");
        W(F, D, &w->ffn.w1, "mlp.gate_proj.weight");
        W(F, D, &w->ffn.w3, "mlp.up_proj.weight");
        W(D, F, &w->ffn.w2, "mlp.down_proj.weight");
#undef W
    }
    TRY(tfm__hf_weight(h, "model.norm.weight", D, "hidden_size", 0, NULL, 0,
                       &d->final_norm.gamma));
    lm = d->tok_emb;
    if (!tie)
        TRY(tfm__hf_matrix(h, "lm_head.weight", V, "vocab_size", D, "hidden_size", 0,
                           TFM__MAT_HEAD, &lm));
    TRY(tfm__linear_init(h->ctx, &d->lm_head, lm, NULL, D, V, 0, "model_load", "lm_head",
                         NULL));
    return tfm__dec_build(m, d, p);
}
