/*
 * llama2.c checkpoints as models: the file (src/io/llama2c.c) becomes a
 * Llama-style decoder whose weights stay in the file's image. Pre-norm
 * RMSNorm (eps 1e-5), rotary positions on consecutive pairs (theta 10000),
 * grouped-query attention, SwiGLU w2(silu(w1 x) * w3 x); BOS 1, EOS 2.
 */
#include "model.h"
#include "../io/llama2c.h"

#include <string.h>

tfm_status tfm__llama2c_load(tfm_ctx *ctx, const char *path, int use_mmap,
                             tfm_model *m) {
    tfm__llama2c_file f;
    tfm__dec_config *c = &m->cfg;
    tfm_status st;
    int64_t D, F, L, KV;
    int l;

    if ((st = tfm__llama2c_open(ctx, path, use_mmap, &f))) return st;
    if ((st = tfm__model_own(m, f.data, f.size, f.mapped))) {
        tfm__llama2c_close(ctx, &f);
        return st;
    }
    // From here the model owns the image.
    memset(c, 0, sizeof *c);
    c->arch = TFM__ARCH_LLAMA;
    c->dim = f.dim;
    c->hidden = f.hidden_dim;
    c->n_layers = f.n_layers;
    c->n_heads = f.n_heads;
    c->n_kv_heads = f.n_kv_heads;
    c->vocab = f.vocab_size;
    c->max_ctx = f.seq_len;
    c->head_dim = c->dim / c->n_heads;
    c->norm_eps = 1e-5f;
    c->rms = 1;
    c->rope = 1;
    c->rope_neox = 0;
    c->rope_f32 = 1;
    c->rope_theta = 10000.0;
    c->gated = 1;
    c->act = TFM_ACT_SILU;
    c->bos = 1;
    c->eos = 2;
    c->stop = 1; // llama2.c's run stops when the model starts a new text (BOS)
    c->add_bos = 1;
    // The config is checked between the header and the file's size: a file
    // with both kinds of fault reports the config.
    if ((st = tfm__dec_config_check(ctx, c, path))) return st;
    if ((st = tfm__llama2c_weights(ctx, path, &f))) return st;

    D = c->dim; F = c->hidden; L = c->n_layers;
    KV = (int64_t)c->n_kv_heads * c->head_dim;
    m->tok_emb = f.token_embedding;
    m->norm_g = f.rms_final;
    m->layers = (tfm__dec_layer *)tfm__model_alloc(m, (size_t)L * sizeof *m->layers);
    if (!m->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "llama2.c: out of memory");
    for (l = 0; l < L; l++) {
        tfm__dec_layer *ly = &m->layers[l];
        tfm__linear lin;
        memset(&lin, 0, sizeof lin);
        lin.wt = 1;
        ly->norm1_g = f.rms_att + l * D;
        ly->norm2_g = f.rms_ffn + l * D;
        lin.n_in = D; lin.n_out = D; lin.ld = D;
        lin.w = f.wq + l * D * D; ly->q = lin;
        lin.w = f.wo + l * D * D; ly->o = lin;
        lin.n_out = KV;
        lin.w = f.wk + l * KV * D; ly->k = lin;
        lin.w = f.wv + l * KV * D; ly->v = lin;
        lin.n_out = F;
        lin.w = f.w1 + l * F * D; ly->gate = lin;
        lin.w = f.w3 + l * F * D; ly->up = lin;
        lin.n_in = F; lin.n_out = D; lin.ld = F;
        lin.w = f.w2 + l * D * F; ly->down = lin;
    }
    memset(&m->lm_head, 0, sizeof m->lm_head);
    m->lm_head.w = f.wcls;
    m->lm_head.n_in = D;
    m->lm_head.n_out = c->vocab;
    m->lm_head.ld = D;
    m->lm_head.wt = 1;
    return TFM_OK;
}
