/*
 * llama2.c checkpoints as decoder models: the file (src/io/llama2c.c) gives
 * the header and the fp32 arrays, used where they lie in the mapping; this
 * file points the decoder's layers at them. Pre-norm RMSNorm (eps 1e-5),
 * rotary positions on consecutive pairs with llama2.c's float angles
 * (theta 10000), grouped-query attention, SwiGLU w2(silu(w1 x) * w3 x). The
 * model is a "llama" (the registry's row) with llama2.c's generation
 * defaults: BOS 1, EOS 2, and generation stops at BOS, as run.c does.
 */
#include "arch.h"
#include "decoder.h"
#include "../io/llama2c.h"

#include <stdio.h>
#include <string.h>

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

// A tensor view [d0, d1] (d1 0: [d0]) of the mapped floats p, owned by m;
// a matrix (role mat: TFM__MAT_*) in the format `weights` asks (tfm_weights).
static tfm_status view(tfm_model *m, const float *p, int64_t d0, int64_t d1, int weights,
                       int mat, const tfm_tensor **out) {
    tfm_tensor *t = tfm__model_tensor(m);
    int64_t shp[2];
    if (!t) return tfm__err(m->ctx, TFM_ERR_NOMEM, "llama2.c: out of memory");
    shp[0] = d0;
    shp[1] = d1;
    tfm_tensor_wrap(t, TFM_F32, d1 ? 2 : 1, shp, (void *)p);
    *out = t;
    return d1 && weights != TFM_WEIGHTS_STORED ? tfm__model_matrix(m, t, weights, mat, out)
                                               : TFM_OK;
}

tfm_status tfm__llama2c_model(tfm_ctx *ctx, const char *path, const tfm_model_params *p,
                              tfm_model *m) {
    tfm__llama2c_file f;
    tfm__dec_config c;
    tfm__dec *d;
    tfm_status st;
    int64_t D, F, KV, V;
    int32_t l;
    int weights = p->weights;
    TRY(tfm__llama2c_open(ctx, path, p->use_mmap, &f));
    if ((st = tfm__model_own(m, f.data, f.size, f.mapped))) {
        tfm__llama2c_close(ctx, &f);
        return st;
    }
    m->arch = tfm__arch_find("llama");
    snprintf(m->arch_name, sizeof m->arch_name, "llama");
    memset(&c, 0, sizeof c);
    c.dim = f.dim;
    c.hidden = f.hidden_dim;
    c.n_layers = f.n_layers;
    c.n_heads = f.n_heads;
    c.n_kv_heads = f.n_kv_heads;
    c.vocab = f.vocab_size;
    c.max_ctx = f.seq_len;
    c.head_dim = c.dim / c.n_heads;
    c.norm_eps = 1e-5f;
    c.rms = 1;
    c.rope = 1;
    c.rope_f32 = 1;
    c.rope_theta = 10000.0;
    c.gated = 1;
    c.act = TFM_ACT_SILU;
    TRY(tfm__dec_config_check(ctx, &c, path));
    TRY(tfm__llama2c_weights(ctx, path, &f));
    TRY(tfm__dec_new(m, &c, &d));
    m->info.bos = 1;
    m->info.eos = 2;
    m->info.stop = 1; // llama2.c's run stops when the model starts a new text (BOS)
    m->info.add_bos = 1;
    D = c.dim; F = c.hidden; V = c.vocab;
    KV = (int64_t)c.n_kv_heads * c.head_dim;
    // Most checkpoints share the classifier with the embeddings.
    TRY(view(m, f.token_embedding, V, D, weights,
             f.wcls == f.token_embedding ? TFM__MAT_HEAD : TFM__MAT_EMBED, &d->tok_emb));
    for (l = 0; l < c.n_layers; l++) {
        tfm_layer_weights *w = &d->lw[l];
        TRY(view(m, f.rms_att + l * D, D, 0, weights, 0, &w->attn_norm.gamma));
        TRY(view(m, f.rms_ffn + l * D, D, 0, weights, 0, &w->ffn_norm.gamma));
        TRY(view(m, f.wq + l * D * D, D, D, weights, TFM__MAT_LAYER, &w->self_attn.wq));
        TRY(view(m, f.wk + l * KV * D, KV, D, weights, TFM__MAT_LAYER, &w->self_attn.wk));
        TRY(view(m, f.wv + l * KV * D, KV, D, weights, TFM__MAT_LAYER, &w->self_attn.wv));
        TRY(view(m, f.wo + l * D * D, D, D, weights, TFM__MAT_LAYER, &w->self_attn.wo));
        TRY(view(m, f.w1 + l * F * D, F, D, weights, TFM__MAT_LAYER, &w->ffn.w1));
        TRY(view(m, f.w3 + l * F * D, F, D, weights, TFM__MAT_LAYER, &w->ffn.w3));
        TRY(view(m, f.w2 + l * D * F, D, F, weights, TFM__MAT_LAYER, &w->ffn.w2));
    }
    TRY(view(m, f.rms_final, D, 0, weights, 0, &d->final_norm.gamma));
    {
        const tfm_tensor *wc = NULL;
        if (f.wcls == f.token_embedding) wc = d->tok_emb;
        else TRY(view(m, f.wcls, V, D, weights, TFM__MAT_HEAD, &wc));
        TRY(tfm__linear_init(ctx, &d->lm_head, wc, NULL, D, V, 0, "llama2.c", "wcls", NULL));
    }
    return tfm__dec_build(m, d, p);
}
