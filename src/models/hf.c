/*
 * Hugging Face folders: config.json + safetensors (one file or shards) for
 * the Llama and GPT-2 architectures, with the exact HF parameter names.
 *
 * Llama: model.embed_tokens, model.layers.N.{input_layernorm,
 * self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.{gate,up,down}_proj},
 * model.norm, lm_head (absent or ignored with tie_word_embeddings); rotary
 * positions in the rotate-half layout with rope_theta; RMSNorm rms_norm_eps.
 *
 * GPT-2 (names with or without "transformer."): wte, wpe, h.N.{ln_1,
 * attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj}, ln_f; Conv1D
 * weights are stored [in, out] and used as they are (c_attn's q, k and v are
 * column slices of one [D, 3D] matrix); the classifier is wte.
 *
 * F32 weights are read in place from the mapped files; F16/BF16 ones are
 * converted to f32 once at load.
 */
#include "model.h"
#include "../io/json.h"
#include "seq2seq.h"
#include "bert.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    tfm_ctx *ctx;
    tfm_model *m;
    tfm_safetensors *st;
    const char *const *prefixes;
    int n_prefixes;
    const char *dir;
} hf_loader;

static void st_close(void *p) { tfm_safetensors_close((tfm_safetensors *)p); }

tfm_status tfm__hf_check_shape(tfm_ctx *ctx, const char *dir, const char *name,
                               const tfm_tensor *t, int64_t d0, int64_t d1) {
    int ndim = d1 ? 2 : 1;
    char sh[80];
    if (t->ndim == ndim && t->shape[0] == d0 && (ndim == 1 || t->shape[1] == d1)) return TFM_OK;
    if (ndim == 2)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "model_load: %s: tensor '%s' is %s but config.json implies "
                        "[%lld, %lld]", dir, name, tfm__shape_str(t, sh, sizeof sh),
                        (long long)d0, (long long)d1);
    return tfm__err(ctx, TFM_ERR_FORMAT,
                    "model_load: %s: tensor '%s' is %s but config.json implies [%lld]",
                    dir, name, tfm__shape_str(t, sh, sizeof sh), (long long)d0);
}

// The f32 data of tensor `name` with shape [d0] (d1 == 0) or [d0, d1].
static tfm_status get_w(hf_loader *L, const char *name, int64_t d0, int64_t d1,
                        const float **out) {
    tfm_tensor t;
    tfm_status st;
    *out = NULL;
    st = tfm_safetensors_get_prefixed(L->ctx, L->st, L->prefixes, L->n_prefixes, name, &t);
    if (st) return st;
    if ((st = tfm__hf_check_shape(L->ctx, L->dir, name, &t, d0, d1))) return st;
    if (t.dtype == TFM_F32) {
        *out = (const float *)t.data;
        return TFM_OK;
    }
    if (t.dtype == TFM_F16 || t.dtype == TFM_BF16) {
        int64_t n = tfm_tensor_numel(&t);
        float *f = (float *)tfm__model_alloc(L->m, (size_t)n * sizeof(float));
        if (!f) return tfm__err(L->ctx, TFM_ERR_NOMEM, "model_load: out of memory converting '%s'", name);
        if (t.dtype == TFM_F16) tfm_f16_to_f32_array((const uint16_t *)t.data, f, (size_t)n);
        else tfm_bf16_to_f32_array((const uint16_t *)t.data, f, (size_t)n);
        *out = f;
        return TFM_OK;
    }
    return tfm__err(L->ctx, TFM_ERR_UNSUPPORTED, "model_load: %s: tensor '%s' has dtype %s "
                    "(f32, f16 and bf16 are supported)", L->dir, name,
                    tfm_dtype_name((tfm_dtype)t.dtype));
}

static tfm_status get_lin(hf_loader *L, const char *wname, const char *bname, int64_t n_in,
                          int64_t n_out, tfm__linear *lin) {
    tfm_status st;
    memset(lin, 0, sizeof *lin);
    lin->n_in = n_in;
    lin->n_out = n_out;
    lin->ld = n_in;
    lin->wt = 1;
    if ((st = get_w(L, wname, n_out, n_in, &lin->w))) return st;
    if (bname && (st = get_w(L, bname, n_out, 0, &lin->b))) return st;
    return TFM_OK;
}

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

// Reads an int field into an int32 (positive).
static tfm_status cfg_int(tfm_ctx *ctx, const tfm__json *root, const char *what,
                          const char *key, int64_t def, int req, int32_t *out) {
    int64_t v;
    tfm_status st;
    st = req ? tfm__json_req_int(ctx, root, what, key, &v)
             : tfm__json_get_int(ctx, root, what, key, def, &v);
    if (st == TFM_ERR_NOT_FOUND)
        return tfm__err(ctx, TFM_ERR_NOT_FOUND, "model_load: %s: missing field '%s'", what, key);
    if (st) return st;
    if (v <= 0 || v > (1 << 28))
        return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: field '%s' = %lld is out of range",
                        what, key, (long long)v);
    *out = (int32_t)v;
    return TFM_OK;
}

// bos/eos ids: an integer, a list (the first is taken) or null.
static int32_t cfg_token(const tfm__json *root, const char *key, int32_t def) {
    const tfm__json *v = tfm__json_get(root, key);
    if (v && v->type == TFM__JSON_ARRAY) v = tfm__json_at(v, 0);
    if (v && v->type == TFM__JSON_NUMBER && v->is_int && v->i >= 0 && v->i < (1 << 28))
        return (int32_t)v->i;
    if (v && v->type == TFM__JSON_NULL) return -1;
    return def;
}

static tfm_status load_llama(hf_loader *L, const tfm__json *root, const char *what) {
    tfm_ctx *ctx = L->ctx;
    tfm_model *m = L->m;
    tfm__dec_config *c = &m->cfg;
    tfm_status st;
    double eps, theta;
    int tie;
    int32_t l, hd = 0;
    const char *act;
    const tfm__json *rs = tfm__json_get(root, "rope_scaling");
    char n1[160], n2[160];
    int64_t D, F, KV, V;
    TRY(cfg_int(ctx, root, what, "hidden_size", 0, 1, &c->dim));
    TRY(cfg_int(ctx, root, what, "intermediate_size", 0, 1, &c->hidden));
    TRY(cfg_int(ctx, root, what, "num_hidden_layers", 0, 1, &c->n_layers));
    TRY(cfg_int(ctx, root, what, "num_attention_heads", 0, 1, &c->n_heads));
    TRY(cfg_int(ctx, root, what, "num_key_value_heads", c->n_heads, 0, &c->n_kv_heads));
    TRY(cfg_int(ctx, root, what, "vocab_size", 0, 1, &c->vocab));
    TRY(cfg_int(ctx, root, what, "max_position_embeddings", 2048, 0, &c->max_ctx));
    TRY(tfm__json_get_float(ctx, root, what, "rms_norm_eps", 1e-6, &eps));
    TRY(tfm__json_get_float(ctx, root, what, "rope_theta", 10000.0, &theta));
    TRY(tfm__json_get_bool(ctx, root, what, "tie_word_embeddings", 0, &tie));
    TRY(tfm__json_get_string(ctx, root, what, "hidden_act", "silu", &act));
    if (tfm__json_get(root, "head_dim") && !tfm__json_is(tfm__json_get(root, "head_dim"), TFM__JSON_NULL))
        TRY(cfg_int(ctx, root, what, "head_dim", 0, 1, &hd));
    if (strcmp(act, "silu") != 0)
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "model_load: %s: hidden_act '%s' (only silu)",
                        what, act);
    if (rs && !tfm__json_is(rs, TFM__JSON_NULL))
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "model_load: %s: rope_scaling is not supported",
                        what);
    c->arch = TFM__ARCH_LLAMA;
    c->head_dim = hd ? hd : c->dim / c->n_heads;
    c->norm_eps = (float)eps;
    c->rms = 1;
    c->rope = 1;
    c->rope_neox = 1;
    c->rope_theta = theta;
    c->gated = 1;
    c->act = TFM_ACT_SILU;
    c->bos = cfg_token(root, "bos_token_id", 1);
    c->eos = cfg_token(root, "eos_token_id", 2);
    c->stop = c->eos;
    c->add_bos = 1;
    TRY(tfm__dec_config_check(ctx, c, what));
    D = c->dim; F = c->hidden; V = c->vocab;
    KV = (int64_t)c->n_kv_heads * c->head_dim;
    snprintf(m->arch_name, sizeof m->arch_name, "llama");
    TRY(get_w(L, "model.embed_tokens.weight", V, D, &m->tok_emb));
    m->layers = (tfm__dec_layer *)tfm__model_alloc(m, (size_t)c->n_layers * sizeof *m->layers);
    if (!m->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    for (l = 0; l < c->n_layers; l++) {
        tfm__dec_layer *y = &m->layers[l];
#define NM(s) (snprintf(n1, sizeof n1, "model.layers.%d." s, (int)l), n1)
        TRY(get_w(L, NM("input_layernorm.weight"), D, 0, &y->norm1_g));
        TRY(get_w(L, NM("post_attention_layernorm.weight"), D, 0, &y->norm2_g));
        TRY(get_lin(L, NM("self_attn.q_proj.weight"), NULL, D, D, &y->q));
        TRY(get_lin(L, NM("self_attn.k_proj.weight"), NULL, D, KV, &y->k));
        TRY(get_lin(L, NM("self_attn.v_proj.weight"), NULL, D, KV, &y->v));
        TRY(get_lin(L, NM("self_attn.o_proj.weight"), NULL, D, D, &y->o));
        TRY(get_lin(L, NM("mlp.gate_proj.weight"), NULL, D, F, &y->gate));
        TRY(get_lin(L, NM("mlp.up_proj.weight"), NULL, D, F, &y->up));
        TRY(get_lin(L, NM("mlp.down_proj.weight"), NULL, F, D, &y->down));
#undef NM
    }
    (void)n2;
    TRY(get_w(L, "model.norm.weight", D, 0, &m->norm_g));
    if (tie) {
        memset(&m->lm_head, 0, sizeof m->lm_head);
        m->lm_head.w = m->tok_emb;
        m->lm_head.n_in = D;
        m->lm_head.n_out = V;
        m->lm_head.ld = D;
        m->lm_head.wt = 1;
    } else {
        TRY(get_lin(L, "lm_head.weight", NULL, D, V, &m->lm_head));
    }
    return TFM_OK;
}

// A column slice [cols c0, c0+n) of a Conv1D weight [in, out_total].
static tfm__linear conv_slice(const float *w, const float *b, int64_t n_in, int64_t out_total,
                              int64_t c0, int64_t n) {
    tfm__linear l;
    memset(&l, 0, sizeof l);
    l.w = w + c0;
    l.b = b ? b + c0 : NULL;
    l.n_in = n_in;
    l.n_out = n;
    l.ld = out_total;
    l.wt = 0;
    return l;
}

static tfm_status load_gpt2(hf_loader *L, const tfm__json *root, const char *what) {
    static const char *const pre[2] = {"", "transformer."};
    tfm_ctx *ctx = L->ctx;
    tfm_model *m = L->m;
    tfm__dec_config *c = &m->cfg;
    tfm_status st;
    double eps;
    int32_t l, inner = 0;
    const char *act;
    char n1[160];
    const float *w, *b;
    int64_t D, F, V;
    const tfm__json *ni = tfm__json_get(root, "n_inner");
    TRY(cfg_int(ctx, root, what, "n_embd", 0, 1, &c->dim));
    TRY(cfg_int(ctx, root, what, "n_layer", 0, 1, &c->n_layers));
    TRY(cfg_int(ctx, root, what, "n_head", 0, 1, &c->n_heads));
    TRY(cfg_int(ctx, root, what, "vocab_size", 0, 1, &c->vocab));
    TRY(cfg_int(ctx, root, what, "n_positions", 1024, 0, &c->max_ctx));
    TRY(tfm__json_get_float(ctx, root, what, "layer_norm_epsilon", 1e-5, &eps));
    TRY(tfm__json_get_string(ctx, root, what, "activation_function", "gelu_new", &act));
    if (ni && !tfm__json_is(ni, TFM__JSON_NULL)) TRY(cfg_int(ctx, root, what, "n_inner", 0, 1, &inner));
    if (strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_pytorch_tanh") != 0 &&
        strcmp(act, "gelu") != 0)
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                        "model_load: %s: activation_function '%s' (gelu_new or gelu)", what, act);
    L->prefixes = pre;
    L->n_prefixes = 2;
    c->arch = TFM__ARCH_GPT2;
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    c->hidden = inner ? inner : 4 * c->dim;
    c->norm_eps = (float)eps;
    c->rms = 0;
    c->rope = 0;
    c->gated = 0;
    c->act = strcmp(act, "gelu") == 0 ? TFM_ACT_GELU : TFM_ACT_GELU_TANH;
    c->bos = cfg_token(root, "bos_token_id", 50256);
    c->eos = cfg_token(root, "eos_token_id", 50256);
    if (c->bos >= c->vocab) c->bos = -1;
    if (c->eos >= c->vocab) c->eos = -1;
    c->stop = c->eos;
    c->add_bos = 0;
    TRY(tfm__dec_config_check(ctx, c, what));
    D = c->dim; F = c->hidden; V = c->vocab;
    snprintf(m->arch_name, sizeof m->arch_name, "gpt2");
    TRY(get_w(L, "wte.weight", V, D, &m->tok_emb));
    TRY(get_w(L, "wpe.weight", c->max_ctx, D, &m->pos_emb));
    m->layers = (tfm__dec_layer *)tfm__model_alloc(m, (size_t)c->n_layers * sizeof *m->layers);
    if (!m->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    for (l = 0; l < c->n_layers; l++) {
        tfm__dec_layer *y = &m->layers[l];
#define NM(s) (snprintf(n1, sizeof n1, "h.%d." s, (int)l), n1)
        TRY(get_w(L, NM("ln_1.weight"), D, 0, &y->norm1_g));
        TRY(get_w(L, NM("ln_1.bias"), D, 0, &y->norm1_b));
        TRY(get_w(L, NM("ln_2.weight"), D, 0, &y->norm2_g));
        TRY(get_w(L, NM("ln_2.bias"), D, 0, &y->norm2_b));
        TRY(get_w(L, NM("attn.c_attn.weight"), D, 3 * D, &w));
        TRY(get_w(L, NM("attn.c_attn.bias"), 3 * D, 0, &b));
        y->q = conv_slice(w, b, D, 3 * D, 0, D);
        y->k = conv_slice(w, b, D, 3 * D, D, D);
        y->v = conv_slice(w, b, D, 3 * D, 2 * D, D);
        TRY(get_w(L, NM("attn.c_proj.weight"), D, D, &w));
        TRY(get_w(L, NM("attn.c_proj.bias"), D, 0, &b));
        y->o = conv_slice(w, b, D, D, 0, D);
        TRY(get_w(L, NM("mlp.c_fc.weight"), D, F, &w));
        TRY(get_w(L, NM("mlp.c_fc.bias"), F, 0, &b));
        y->up = conv_slice(w, b, D, F, 0, F);
        TRY(get_w(L, NM("mlp.c_proj.weight"), F, D, &w));
        TRY(get_w(L, NM("mlp.c_proj.bias"), D, 0, &b));
        y->down = conv_slice(w, b, F, D, 0, D);
#undef NM
    }
    TRY(get_w(L, "ln_f.weight", D, 0, &m->norm_g));
    TRY(get_w(L, "ln_f.bias", D, 0, &m->norm_b));
    memset(&m->lm_head, 0, sizeof m->lm_head);
    m->lm_head.w = m->tok_emb; // GPT-2 ties its classifier to wte
    m->lm_head.n_in = D;
    m->lm_head.n_out = V;
    m->lm_head.ld = D;
    m->lm_head.wt = 1;
    return TFM_OK;
}

tfm_status tfm__hf_load(tfm_ctx *ctx, const char *dir, const tfm_model_params *p,
                        tfm_model *m) {
    char path[4096];
    tfm__json_doc *doc = NULL;
    const tfm__json *root;
    const char *type;
    tfm_status st;
    hf_loader L;
    (void)p;
    if (strlen(dir) + 40 > sizeof path)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "model_load: path too long");
    snprintf(path, sizeof path, "%s/config.json", dir);
    if ((st = tfm__json_parse_file(ctx, path, NULL, &doc))) return st;
    root = tfm__json_root(doc);
    if (!tfm__json_is(root, TFM__JSON_OBJECT)) {
        tfm__json_free(doc);
        return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: not a JSON object", path);
    }
    st = tfm__json_get_string(ctx, root, path, "model_type", NULL, &type);
    if (!st && !type)
        st = tfm__err(ctx, TFM_ERR_NOT_FOUND, "model_load: %s: missing field 'model_type'", path);
    if (!st && tfm__bert_is_type(type)) { // BERT-family encoders (bert.c)
        st = tfm__bert_load_model(ctx, dir, root, m);
        tfm__json_free(doc);
        return st;
    }
    if (!st && tfm__s2s_is_type(type)) { // encoder-decoder translators (seq2seq.c)
        st = tfm__s2s_load_model(ctx, dir, root, m);
        tfm__json_free(doc);
        return st;
    }
    if (!st && strcmp(type, "llama") != 0 && strcmp(type, "gpt2") != 0)
        st = tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                      "model_load: %s: model_type '%s' (llama and gpt2 are supported)", path, type);
    memset(&L, 0, sizeof L);
    L.ctx = ctx;
    L.m = m;
    L.dir = dir;
    if (!st) st = tfm_safetensors_open(ctx, dir, &L.st);
    if (!st) {
        m->aux = L.st;
        m->aux_free = st_close;
        st = strcmp(type, "llama") == 0 ? load_llama(&L, root, path) : load_gpt2(&L, root, path);
    }
    tfm__json_free(doc);
    return st;
}
