/*
 * BERT and DistilBERT from Hugging Face folders: config.json checked
 * against the weights, weights converted to f32 at load time, and the
 * forward pass of BertModel / DistilBertModel with the pooler, masked-LM
 * and sequence-classification heads, in Hugging Face semantics.
 *
 * Letters: B batch, S positions, N = B*S rows, V vocabulary, D width,
 * H heads, E head width, F feed-forward width, P positions, T token types,
 * C labels.
 */
#define _POSIX_C_SOURCE 200112L
#include "bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG "config.json"

// ---- loading helpers -------------------------------------------------------------------

typedef struct loader {
    tfm_ctx *ctx;
    tfm__bert *b;
    const char *enc_prefix[2]; // "bert." / "distilbert.", then ""
} loader;

static tfm_status own_tensor(tfm__bert *b, tfm_tensor *t) {
    if (b->n_owned == b->cap_owned) {
        int nc = b->cap_owned ? 2 * b->cap_owned : 64;
        tfm_tensor **p = (tfm_tensor **)tfm__realloc(
            b->ctx, b->owned, (size_t)b->cap_owned * sizeof *p, (size_t)nc * sizeof *p);
        if (!p) return tfm__err(b->ctx, TFM_ERR_NOMEM, "bert: out of memory");
        b->owned = p;
        b->cap_owned = nc;
    }
    b->owned[b->n_owned++] = t;
    return TFM_OK;
}

// The first of prefix[0] + name, prefix[1] + name in the weights, as a
// view; its full name goes to `full`.
static tfm_status find(loader *ld, const char *const *pre, const char *name, char *full,
                       size_t size, tfm_tensor *t) {
    int i;
    for (i = 0; i < 2; i++) {
        snprintf(full, size, "%s%s", pre[i], name);
        if (tfm_safetensors_find(ld->b->st, full) >= 0)
            return tfm_safetensors_get(ld->ctx, ld->b->st, full, t);
    }
    return TFM_ERR_NOT_FOUND;
}

// Looks a weight up under the prefixes (head tensors: at the top first),
// with LayerNorm's old gamma/beta names as a second spelling, checks its
// dtype and shape [d0] or [d0, d1] against the config fields f0 / f1, and
// converts it to f32 (an owned copy) when stored in f16/bf16. A missing
// tensor is TFM_ERR_NOT_FOUND when `required`, else leaves *out zeroed and
// returns TFM_OK with *found 0.
static tfm_status weight(loader *ld, const char *name, int head, int64_t d0,
                         const char *f0, int64_t d1, const char *f1, int required,
                         tfm_tensor *out, int *found) {
    tfm_ctx *ctx = ld->ctx;
    const char *pre[2];
    tfm_tensor t;
    tfm_status st;
    char alt[256], sh[64], full[320];
    const char *used;
    size_t n = strlen(name);
    int ndim = d1 > 0 ? 2 : 1;
    memset(out, 0, sizeof *out);
    if (found) *found = 0;
    if (head) {
        pre[0] = "";
        pre[1] = ld->enc_prefix[0];
    } else {
        pre[0] = ld->enc_prefix[0];
        pre[1] = "";
    }
    used = full;
    st = find(ld, pre, name, full, sizeof full, &t);
    if (st == TFM_ERR_NOT_FOUND && n > 7 && n < sizeof alt - 8 &&
        (strcmp(name + n - 7, ".weight") == 0 || strcmp(name + n - 5, ".bias") == 0) &&
        strstr(name, "LayerNorm.")) {
        // Checkpoints converted from TensorFlow call them gamma and beta.
        int w = strcmp(name + n - 7, ".weight") == 0;
        memcpy(alt, name, n - (w ? 7 : 5));
        strcpy(alt + n - (w ? 7 : 5), w ? ".gamma" : ".beta");
        st = find(ld, pre, alt, full, sizeof full, &t);
    }
    if (st == TFM_ERR_NOT_FOUND && !required) return TFM_OK;
    if (st == TFM_ERR_NOT_FOUND)
        return tfm__err(ctx, st, "bert: missing tensor '%s%s' (also tried '%s%s')", pre[0],
                        name, pre[1], name);
    if (st) return st;
    if (t.dtype != TFM_F32 && t.dtype != TFM_F16 && t.dtype != TFM_BF16)
        return tfm__err(ctx, TFM_ERR_DTYPE,
                        "bert: tensor '%s' has dtype %s; weights must be F32, F16 or BF16",
                        used, tfm_dtype_name((tfm_dtype)t.dtype));
    if (t.ndim != ndim || t.shape[0] != d0 || (ndim == 2 && t.shape[1] != d1)) {
        if (ndim == 2)
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "bert: tensor '%s' has shape %s but " CFG
                            " gives [%lld, %lld] (%s %lld, %s %lld)",
                            used, tfm__shape_str(&t, sh, sizeof sh), (long long)d0, (long long)d1,
                            f0, (long long)d0, f1, (long long)d1);
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "bert: tensor '%s' has shape %s but " CFG " gives [%lld] (%s %lld)",
                        used, tfm__shape_str(&t, sh, sizeof sh), (long long)d0, f0, (long long)d0);
    }
    if (t.dtype != TFM_F32) {
        tfm_tensor *c;
        if ((st = tfm_tensor_create(ctx, TFM_F32, t.ndim, t.shape, &c))) return st;
        if ((st = own_tensor(ld->b, c))) {
            tfm_tensor_free(c);
            return st;
        }
        if ((st = tfm_tensor_copy(ctx, &t, c))) return st;
        t = *c;
        t.flags = 0; // a borrowed view of the owned copy
        t.ctx = NULL;
    }
    *out = t;
    if (found) *found = 1;
    return TFM_OK;
}

static tfm_status lin(loader *ld, const char *name, int head, int64_t n_out,
                      const char *f_out, int64_t n_in, const char *f_in, int required,
                      tfm__bert_lin *l, int *found) {
    char buf[256];
    tfm_status st;
    int fw = 0;
    snprintf(buf, sizeof buf, "%s.weight", name);
    if ((st = weight(ld, buf, head, n_out, f_out, n_in, f_in, required, &l->w, &fw))) return st;
    if (found) *found = fw;
    if (!fw) return TFM_OK;
    snprintf(buf, sizeof buf, "%s.bias", name);
    if ((st = weight(ld, buf, head, n_out, f_out, 0, NULL, 1, &l->b, NULL))) return st;
    // Weights never change: pack them once for the GEMM micro-kernels.
    return tfm_matrix_pack(ld->ctx, &l->w, 1, &l->pw);
}

static tfm_status lnorm(loader *ld, const char *name, int head, int64_t d, const char *f,
                        tfm__bert_ln *l) {
    char buf[256];
    tfm_status st;
    snprintf(buf, sizeof buf, "%s.weight", name);
    if ((st = weight(ld, buf, head, d, f, 0, NULL, 1, &l->g, NULL))) return st;
    snprintf(buf, sizeof buf, "%s.bias", name);
    return weight(ld, buf, head, d, f, 0, NULL, 1, &l->b, NULL);
}

static tfm_status parse_act(tfm_ctx *ctx, const char *s, const char *key, int *act) {
    if (!strcmp(s, "gelu")) *act = TFM_ACT_GELU;
    else if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") ||
             !strcmp(s, "gelu_fast"))
        *act = TFM_ACT_GELU_TANH;
    else if (!strcmp(s, "relu")) *act = TFM_ACT_RELU;
    else if (!strcmp(s, "silu") || !strcmp(s, "swish")) *act = TFM_ACT_SILU;
    else if (!strcmp(s, "tanh")) *act = TFM_ACT_TANH;
    else
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bert: " CFG ": '%s': activation '%s' is "
                        "not supported (gelu, gelu_new, relu, silu, tanh)", key, s);
    return TFM_OK;
}

// Reads a positive integer field that must fit int32.
static tfm_status req_pos(tfm_ctx *ctx, const tfm__json *cfg, const char *key,
                          int64_t max, int32_t *out) {
    int64_t v;
    tfm_status st = tfm__json_req_int(ctx, cfg, CFG, key, &v);
    if (st == TFM_ERR_NOT_FOUND)
        return tfm__err(ctx, st, "bert: " CFG ": missing field '%s'", key);
    if (st) return st;
    if (v < 1 || v > max)
        return tfm__err(ctx, TFM_ERR_FORMAT, "bert: " CFG ": '%s' is %lld, outside [1, %lld]",
                        key, (long long)v, (long long)max);
    *out = (int32_t)v;
    return TFM_OK;
}

static tfm_status read_config(tfm_ctx *ctx, const tfm__json *cfg, tfm__bert *b) {
    tfm_status st;
    const char *s;
    double eps;
    int64_t v;
    const tfm__json *arch = tfm__json_get(cfg, "architectures");
    if (arch && tfm__json_str(tfm__json_at(arch, 0)))
        snprintf(b->arch, sizeof b->arch, "%s", tfm__json_str(tfm__json_at(arch, 0)));
    else
        snprintf(b->arch, sizeof b->arch, "%s", b->distil ? "DistilBertModel" : "BertModel");
    if ((st = req_pos(ctx, cfg, "vocab_size", 1 << 24, &b->V))) return st;
    if ((st = req_pos(ctx, cfg, "max_position_embeddings", 1 << 20, &b->P))) return st;
    if (b->distil) {
        if ((st = req_pos(ctx, cfg, "dim", 1 << 16, &b->D)) ||
            (st = req_pos(ctx, cfg, "n_layers", 1024, &b->L)) ||
            (st = req_pos(ctx, cfg, "n_heads", 1024, &b->H)) ||
            (st = req_pos(ctx, cfg, "hidden_dim", 1 << 20, &b->F)))
            return st;
        if ((st = tfm__json_get_string(ctx, cfg, CFG, "activation", "gelu", &s))) return st;
        if ((st = parse_act(ctx, s, "activation", &b->act))) return st;
        b->eps = 1e-12f; // fixed in DistilBERT
        b->T = 0;
    } else {
        if ((st = req_pos(ctx, cfg, "hidden_size", 1 << 16, &b->D)) ||
            (st = req_pos(ctx, cfg, "num_hidden_layers", 1024, &b->L)) ||
            (st = req_pos(ctx, cfg, "num_attention_heads", 1024, &b->H)) ||
            (st = req_pos(ctx, cfg, "intermediate_size", 1 << 20, &b->F)))
            return st;
        if ((st = tfm__json_get_int(ctx, cfg, CFG, "type_vocab_size", 2, &v))) return st;
        if (v < 1 || v > 1 << 16)
            return tfm__err(ctx, TFM_ERR_FORMAT, "bert: " CFG ": 'type_vocab_size' is %lld",
                            (long long)v);
        b->T = (int32_t)v;
        if ((st = tfm__json_get_string(ctx, cfg, CFG, "hidden_act", "gelu", &s))) return st;
        if ((st = parse_act(ctx, s, "hidden_act", &b->act))) return st;
        if ((st = tfm__json_get_float(ctx, cfg, CFG, "layer_norm_eps", 1e-12, &eps))) return st;
        if (!(eps >= 0 && eps < 1))
            return tfm__err(ctx, TFM_ERR_FORMAT, "bert: " CFG ": 'layer_norm_eps' is %g", eps);
        b->eps = (float)eps;
        if ((st = tfm__json_get_string(ctx, cfg, CFG, "position_embedding_type", "absolute",
                                       &s)))
            return st;
        if (strcmp(s, "absolute") != 0)
            return tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                            "bert: " CFG ": 'position_embedding_type' \"%s\" is not supported "
                            "(only \"absolute\")", s);
    }
    if (b->D % b->H != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT, "bert: " CFG ": %s %d is not a multiple of %s %d",
                        b->distil ? "dim" : "hidden_size", (int)b->D,
                        b->distil ? "n_heads" : "num_attention_heads", (int)b->H);
    b->E = b->D / b->H;
    if ((st = tfm__json_get_int(ctx, cfg, CFG, "pad_token_id", 0, &v))) return st;
    b->pad_id = (v >= 0 && v < b->V) ? (int32_t)v : 0;
    if ((st = tfm__json_get_string(ctx, cfg, CFG, "problem_type", "", &s))) return st;
    b->multi_label = strcmp(s, "multi_label_classification") == 0;
    return TFM_OK;
}

// id2label {"0": "NEGATIVE", ...} into b->labels[C]; LABEL_i where absent.
static tfm_status read_labels(tfm_ctx *ctx, const tfm__json *cfg, tfm__bert *b) {
    const tfm__json *map = tfm__json_get(cfg, "id2label");
    size_t i, n = tfm__json_len(map);
    int32_t c;
    if (map && !tfm__json_is(map, TFM__JSON_OBJECT))
        return tfm__err(ctx, TFM_ERR_FORMAT, "bert: " CFG ": 'id2label' must be an object");
    if (map && n != (size_t)b->C)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "bert: " CFG ": 'id2label' has %zu labels but tensor 'classifier."
                        "weight' has %d rows", n, (int)b->C);
    b->labels = (char **)tfm__alloc(ctx, (size_t)b->C * sizeof(char *));
    if (!b->labels) return tfm__err(ctx, TFM_ERR_NOMEM, "bert: out of memory");
    for (i = 0; map && i < n; i++) {
        const char *key = tfm__json_key_at(map, i, NULL), *val = tfm__json_str(tfm__json_at(map, i));
        char *end;
        long k = strtol(key, &end, 10);
        if (!*key || *end || k < 0 || k >= b->C)
            return tfm__err(ctx, TFM_ERR_FORMAT,
                            "bert: " CFG ": 'id2label' key \"%s\" is not a label index below %d",
                            key, (int)b->C);
        if (!val)
            return tfm__err(ctx, TFM_ERR_FORMAT, "bert: " CFG ": 'id2label' \"%s\" must be a "
                            "string", key);
        if (b->labels[k])
            return tfm__err(ctx, TFM_ERR_FORMAT, "bert: " CFG ": 'id2label' repeats label %ld", k);
        if (!(b->labels[k] = tfm__strdup(ctx, val)))
            return tfm__err(ctx, TFM_ERR_NOMEM, "bert: out of memory");
    }
    for (c = 0; c < b->C; c++)
        if (!b->labels[c]) {
            char buf[32];
            snprintf(buf, sizeof buf, "LABEL_%d", (int)c);
            if (!(b->labels[c] = tfm__strdup(ctx, buf)))
                return tfm__err(ctx, TFM_ERR_NOMEM, "bert: out of memory");
        }
    return TFM_OK;
}

static int arch_is(const tfm__bert *b, const char *suffix) {
    size_t n = strlen(b->arch), m = strlen(suffix);
    return n >= m && strcmp(b->arch + n - m, suffix) == 0;
}

static tfm_status load_weights(tfm_ctx *ctx, const tfm__json *cfg, tfm__bert *b) {
    loader ld;
    tfm_status st;
    char nm[160];
    int32_t l, found;
    int want_mlm = arch_is(b, "ForMaskedLM") || arch_is(b, "ForPreTraining");
    int want_cls = arch_is(b, "ForSequenceClassification");
    const char *fD = b->distil ? "dim" : "hidden_size";
    const char *fF = b->distil ? "hidden_dim" : "intermediate_size";
    ld.ctx = ctx;
    ld.b = b;
    ld.enc_prefix[0] = b->distil ? "distilbert." : "bert.";
    ld.enc_prefix[1] = "";
    if ((st = weight(&ld, "embeddings.word_embeddings.weight", 0, b->V, "vocab_size", b->D, fD,
                     1, &b->wte, NULL)) ||
        (st = weight(&ld, "embeddings.position_embeddings.weight", 0, b->P,
                     "max_position_embeddings", b->D, fD, 1, &b->wpe, NULL)))
        return st;
    if (!b->distil &&
        (st = weight(&ld, "embeddings.token_type_embeddings.weight", 0, b->T, "type_vocab_size",
                     b->D, fD, 1, &b->wtt, NULL)))
        return st;
    if ((st = lnorm(&ld, "embeddings.LayerNorm", 0, b->D, fD, &b->emb_ln))) return st;
    b->layers = (tfm__bert_layer *)tfm__alloc(ctx, (size_t)b->L * sizeof *b->layers);
    if (!b->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "bert: out of memory");
    for (l = 0; l < b->L; l++) {
        tfm__bert_layer *y = &b->layers[l];
        char p[64];
        if (b->distil) {
            snprintf(p, sizeof p, "transformer.layer.%d.", (int)l);
#define N(s) (snprintf(nm, sizeof nm, "%s%s", p, s), nm)
            if ((st = lin(&ld, N("attention.q_lin"), 0, b->D, fD, b->D, fD, 1, &y->q, NULL)) ||
                (st = lin(&ld, N("attention.k_lin"), 0, b->D, fD, b->D, fD, 1, &y->k, NULL)) ||
                (st = lin(&ld, N("attention.v_lin"), 0, b->D, fD, b->D, fD, 1, &y->v, NULL)) ||
                (st = lin(&ld, N("attention.out_lin"), 0, b->D, fD, b->D, fD, 1, &y->o, NULL)) ||
                (st = lnorm(&ld, N("sa_layer_norm"), 0, b->D, fD, &y->ln1)) ||
                (st = lin(&ld, N("ffn.lin1"), 0, b->F, fF, b->D, fD, 1, &y->ff1, NULL)) ||
                (st = lin(&ld, N("ffn.lin2"), 0, b->D, fD, b->F, fF, 1, &y->ff2, NULL)) ||
                (st = lnorm(&ld, N("output_layer_norm"), 0, b->D, fD, &y->ln2)))
                return st;
        } else {
            snprintf(p, sizeof p, "encoder.layer.%d.", (int)l);
            if ((st = lin(&ld, N("attention.self.query"), 0, b->D, fD, b->D, fD, 1, &y->q, NULL)) ||
                (st = lin(&ld, N("attention.self.key"), 0, b->D, fD, b->D, fD, 1, &y->k, NULL)) ||
                (st = lin(&ld, N("attention.self.value"), 0, b->D, fD, b->D, fD, 1, &y->v, NULL)) ||
                (st = lin(&ld, N("attention.output.dense"), 0, b->D, fD, b->D, fD, 1, &y->o,
                          NULL)) ||
                (st = lnorm(&ld, N("attention.output.LayerNorm"), 0, b->D, fD, &y->ln1)) ||
                (st = lin(&ld, N("intermediate.dense"), 0, b->F, fF, b->D, fD, 1, &y->ff1, NULL)) ||
                (st = lin(&ld, N("output.dense"), 0, b->D, fD, b->F, fF, 1, &y->ff2, NULL)) ||
                (st = lnorm(&ld, N("output.LayerNorm"), 0, b->D, fD, &y->ln2)))
                return st;
#undef N
        }
    }
    // The pooler: required by BERT's classifier, loaded whenever present.
    if (!b->distil) {
        if ((st = lin(&ld, "pooler.dense", 0, b->D, fD, b->D, fD, want_cls, &b->pooler, &found)))
            return st;
        b->has_pooler = found;
    }
    if (want_mlm) {
        if (b->distil) {
            if ((st = lin(&ld, "vocab_transform", 1, b->D, fD, b->D, fD, 1, &b->mlm_dense, NULL)) ||
                (st = lnorm(&ld, "vocab_layer_norm", 1, b->D, fD, &b->mlm_ln)) ||
                (st = weight(&ld, "vocab_projector.bias", 1, b->V, "vocab_size", 0, NULL, 1,
                             &b->mlm_bias, NULL)) ||
                (st = weight(&ld, "vocab_projector.weight", 1, b->V, "vocab_size", b->D, fD, 0,
                             &b->mlm_dec, &found)))
                return st;
        } else {
            if ((st = lin(&ld, "cls.predictions.transform.dense", 1, b->D, fD, b->D, fD, 1,
                          &b->mlm_dense, NULL)) ||
                (st = lnorm(&ld, "cls.predictions.transform.LayerNorm", 1, b->D, fD,
                            &b->mlm_ln)) ||
                (st = weight(&ld, "cls.predictions.bias", 1, b->V, "vocab_size", 0, NULL, 1,
                             &b->mlm_bias, NULL)) ||
                (st = weight(&ld, "cls.predictions.decoder.weight", 1, b->V, "vocab_size", b->D,
                             fD, 0, &b->mlm_dec, &found)))
                return st;
        }
        if (!found) b->mlm_dec = b->wte; // tied to the word embeddings
        if ((st = tfm_matrix_pack(ctx, &b->mlm_dec, 1, &b->mlm_dec_pw))) return st;
        b->has_mlm = 1;
    }
    if (want_cls) {
        tfm_tensor t;
        const char *cname = "classifier.weight";
        const char *pre[2];
        pre[0] = "";
        pre[1] = ld.enc_prefix[0];
        // The number of labels comes from the weights, then id2label must agree.
        st = tfm_safetensors_get_prefixed(ctx, b->st, pre, 2, cname, &t);
        if (st == TFM_ERR_NOT_FOUND)
            return tfm__err(ctx, st, "bert: missing tensor 'classifier.weight' (%s)",
                            tfm_ctx_last_error(ctx));
        if (st) return st;
        if (t.ndim != 2 || t.shape[0] < 1 || t.shape[0] > 1 << 20)
            return tfm__err(ctx, TFM_ERR_FORMAT, "bert: tensor 'classifier.weight' must be "
                            "[labels, %d]", (int)b->D);
        b->C = (int32_t)t.shape[0];
        if (b->distil &&
            (st = lin(&ld, "pre_classifier", 1, b->D, fD, b->D, fD, 1, &b->pre_cls, NULL)))
            return st;
        if ((st = lin(&ld, "classifier", 1, b->C, "id2label", b->D, fD, 1, &b->cls, NULL)))
            return st;
        if ((st = read_labels(ctx, cfg, b))) return st;
        b->has_cls = 1;
    }
    return TFM_OK;
}

// ---- load / free --------------------------------------------------------------------------

int tfm__bert_is_type(const char *t) {
    return t && (!strcmp(t, "bert") || !strcmp(t, "distilbert"));
}

static void bert_free(tfm__bert *b) {
    int i;
    tfm_ctx *ctx;
    if (!b) return;
    ctx = b->ctx;
    for (i = 0; i < b->n_owned; i++) tfm_tensor_free(b->owned[i]);
    tfm__free(ctx, b->owned, (size_t)b->cap_owned * sizeof *b->owned);
    if (b->labels) {
        int32_t c;
        for (c = 0; c < b->C; c++)
            if (b->labels[c]) tfm__free(ctx, b->labels[c], strlen(b->labels[c]) + 1);
        tfm__free(ctx, b->labels, (size_t)b->C * sizeof(char *));
    }
    if (b->layers) {
        int32_t l;
        for (l = 0; l < b->L; l++) {
            tfm__bert_layer *y = &b->layers[l];
            tfm_packed_matrix_free(y->q.pw);
            tfm_packed_matrix_free(y->k.pw);
            tfm_packed_matrix_free(y->v.pw);
            tfm_packed_matrix_free(y->o.pw);
            tfm_packed_matrix_free(y->ff1.pw);
            tfm_packed_matrix_free(y->ff2.pw);
        }
    }
    tfm_packed_matrix_free(b->pooler.pw);
    tfm_packed_matrix_free(b->mlm_dense.pw);
    tfm_packed_matrix_free(b->mlm_dec_pw);
    tfm_packed_matrix_free(b->pre_cls.pw);
    tfm_packed_matrix_free(b->cls.pw);
    tfm__free(ctx, b->layers, (size_t)b->L * sizeof *b->layers);
    tfm_safetensors_close(b->st);
    tfm__free(ctx, b, sizeof *b);
}

// Loads the BERT or DistilBERT model of the Hugging Face folder `dir`
// whose parsed config.json is `config`. *out is NULL on failure; every
// error names the file, the field or the tensor.
static tfm_status bert_load(tfm_ctx *ctx, const char *dir, const tfm__json *config,
                            tfm__bert **out) {
    tfm__bert *b;
    tfm_status st;
    const char *type = NULL;
    *out = NULL;
    if ((st = tfm__json_get_string(ctx, config, CFG, "model_type", NULL, &type))) return st;
    if (!tfm__bert_is_type(type))
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bert: " CFG ": model_type '%s' is not "
                        "bert or distilbert", type ? type : "(missing)");
    b = (tfm__bert *)tfm__alloc(ctx, sizeof *b);
    if (!b) return tfm__err(ctx, TFM_ERR_NOMEM, "bert: out of memory");
    b->ctx = ctx;
    b->distil = !strcmp(type, "distilbert");
    if (!(st = read_config(ctx, config, b)) && !(st = tfm_safetensors_open(ctx, dir, &b->st)))
        st = load_weights(ctx, config, b);
    if (st) {
        bert_free(b);
        return st;
    }
    *out = b;
    return TFM_OK;
}

static void bert_aux_free(void *p) { bert_free((tfm__bert *)p); }

tfm_status tfm__bert_load_model(tfm_ctx *ctx, const char *dir, const tfm__json *config,
                                tfm_model *m) {
    tfm__bert *b;
    tfm_status st = bert_load(ctx, dir, config, &b);
    if (st) return st;
    m->aux = b;
    m->aux_free = bert_aux_free;
    snprintf(m->arch_name, sizeof m->arch_name, "%s", b->distil ? "distilbert" : "bert");
    m->cfg.dim = b->D;
    m->cfg.hidden = b->F;
    m->cfg.n_layers = b->L;
    m->cfg.n_heads = b->H;
    m->cfg.n_kv_heads = 0; // no KV cache (tfm_session_create refuses encoders by name)
    m->cfg.head_dim = b->E;
    m->cfg.vocab = b->V;
    m->cfg.max_ctx = b->P;
    m->cfg.norm_eps = b->eps;
    m->cfg.act = b->act;
    m->cfg.bos = m->cfg.eos = m->cfg.stop = -1;
    // The per-layer views the model's byte count (tfm_model_weight_bytes)
    // reads; the encoder itself runs from b.
    m->layers = (tfm__dec_layer *)tfm__model_alloc(m, (size_t)b->L * sizeof *m->layers);
    if (!m->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "bert: out of memory");
    {
        int32_t l;
        for (l = 0; l < b->L; l++) {
            const tfm__bert_layer *y = &b->layers[l];
            tfm__dec_layer *d = &m->layers[l];
            const tfm__bert_lin *src[6];
            tfm__linear *dst[6];
            int i;
            src[0] = &y->q, src[1] = &y->k, src[2] = &y->v, src[3] = &y->o;
            src[4] = &y->ff1, src[5] = &y->ff2;
            dst[0] = &d->q, dst[1] = &d->k, dst[2] = &d->v, dst[3] = &d->o;
            dst[4] = &d->up, dst[5] = &d->down;
            for (i = 0; i < 6; i++) {
                dst[i]->w = (const float *)src[i]->w.data;
                dst[i]->b = (const float *)src[i]->b.data;
                dst[i]->n_out = src[i]->w.shape[0];
                dst[i]->n_in = src[i]->w.shape[1];
                dst[i]->ld = dst[i]->n_in;
                dst[i]->wt = 1;
            }
            d->norm1_g = (const float *)y->ln1.g.data;
            d->norm1_b = (const float *)y->ln1.b.data;
            d->norm2_g = (const float *)y->ln2.g.data;
            d->norm2_b = (const float *)y->ln2.b.data;
        }
    }
    return TFM_OK;
}

const tfm__bert *tfm__bert_of(const tfm_model *m) {
    if (!m || !m->aux || m->aux_free != bert_aux_free) return NULL;
    return (const tfm__bert *)m->aux;
}

// ---- forward pass ------------------------------------------------------------------------

static void view2(tfm_tensor *t, float *p, int64_t rows, int64_t cols, int64_t ld) {
    memset(t, 0, sizeof *t);
    t->dtype = TFM_F32;
    t->ndim = 2;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->shape[2] = t->shape[3] = 1;
    t->stride[0] = ld;
    t->stride[1] = 1;
    t->data = p;
    t->scale = 1.0f;
}

// View of [B, S, H, E] rows as [B, H, S, E].
static void view_heads(tfm_tensor *t, float *p, const tfm__bert *b, int64_t B, int64_t S) {
    memset(t, 0, sizeof *t);
    t->dtype = TFM_F32;
    t->ndim = 4;
    t->shape[0] = B;
    t->shape[1] = b->H;
    t->shape[2] = S;
    t->shape[3] = b->E;
    t->stride[0] = S * b->D;
    t->stride[1] = b->E;
    t->stride[2] = b->D;
    t->stride[3] = 1;
    t->data = p;
    t->scale = 1.0f;
}

// y = x W^T + b for x [rows, in] (rows `ldx` apart) into y [rows, out].
static tfm_status linear(tfm_ctx *ctx, const tfm__bert_lin *l, float *x, int64_t rows,
                         int64_t ldx, float *y) {
    tfm_tensor a, o;
    view2(&a, x, rows, l->w.shape[1], ldx);
    view2(&o, y, rows, l->w.shape[0], l->w.shape[0]);
    if (l->pw) return tfm_matmul_packed(ctx, &a, l->pw, &l->b, 1.0f, 0.0f, &o);
    return tfm_matmul(ctx, &a, &l->w, 1, &l->b, 1.0f, 0.0f, &o);
}

static tfm_status add_norm(tfm_ctx *ctx, const tfm__bert_ln *ln, float eps, float *x,
                           const float *r, int64_t rows, int64_t d) {
    tfm_tensor a, c;
    tfm_status st;
    view2(&a, x, rows, d, d);
    if (r) {
        view2(&c, (float *)r, rows, d, d);
        if ((st = tfm_add(ctx, &a, &c, &a))) return st;
    }
    return tfm_layernorm(ctx, &a, &ln->g, &ln->b, eps, &a);
}

static tfm_status act_rows(tfm_ctx *ctx, int act, float *x, int64_t rows, int64_t cols) {
    tfm_tensor a;
    view2(&a, x, rows, cols, cols);
    return tfm_activation(ctx, (tfm_act)act, &a, &a);
}

// Masked-LM head on rows x [n, D]: logits [n, V] = decoder(LayerNorm(act(
// dense(x)))) + bias; t [n, D] is scratch.
static tfm_status mlm_head(tfm_ctx *ctx, const tfm__bert *b, float *x, int64_t n, float *t,
                           float *logits) {
    tfm__bert_lin dec;
    tfm_status st;
    if (!b->has_mlm)
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bert: model '%s' has no masked-LM head",
                        b->arch);
    if ((st = linear(ctx, &b->mlm_dense, x, n, b->D, t)) ||
        (st = act_rows(ctx, b->act, t, n, b->D)) ||
        (st = add_norm(ctx, &b->mlm_ln, b->eps, t, NULL, n, b->D)))
        return st;
    dec.w = b->mlm_dec;
    dec.b = b->mlm_bias;
    dec.pw = b->mlm_dec_pw;
    return linear(ctx, &dec, t, n, b->D, logits);
}

tfm_status tfm__bert_mlm(tfm_ctx *ctx, const tfm__bert *b, float *x, int64_t n,
                         float *logits) {
    size_t bytes;
    float *t;
    tfm_status st;
    if (n < 1 || !tfm__mul_size((size_t)n * sizeof(float), (size_t)b->D, &bytes))
        return tfm__err(ctx, TFM_ERR_RANGE, "bert: %lld rows for the masked-LM head",
                        (long long)n);
    if (!(t = (float *)tfm__alloc_nozero(ctx, bytes)))
        return tfm__err(ctx, TFM_ERR_NOMEM, "bert: cannot allocate %zu bytes", bytes);
    st = mlm_head(ctx, b, x, n, t, logits);
    tfm__free(ctx, t, bytes);
    return st;
}

tfm_status tfm__bert_forward(tfm_ctx *ctx, const tfm__bert *b, const int32_t *ids,
                             const int32_t *types, const int32_t *mask, int32_t B,
                             int32_t S, float *hidden, float *pooled, float *mlm,
                             float *cls) {
    int64_t N, D = b->D, F = b->F, r, l;
    size_t nf = 0, bytes;
    float *mem = NULL, *x, *q, *k, *v, *c, *t, *h, *pool;
    uint8_t *pad = NULL;
    tfm_status st = TFM_OK;
    tfm_tensor tid, ttype, tx, tq, tk, tv, tc, tpad;
    tfm_embed_weights ew;
    tfm_attn_params ap;
    int64_t shp[2];
    if (B < 1 || S < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "bert: batch %d x %d tokens", (int)B, (int)S);
    if (S > b->P)
        return tfm__err(ctx, TFM_ERR_RANGE, "bert: %d tokens are more than the %d positions "
                        "of the model (max_position_embeddings)", (int)S, (int)b->P);
    N = (int64_t)B * S;
    for (r = 0; r < N; r++) {
        if (ids[r] < 0 || ids[r] >= b->V)
            return tfm__err(ctx, TFM_ERR_RANGE, "bert: token id %d at [%lld, %lld] is outside "
                            "the vocabulary of %d", (int)ids[r], (long long)(r / S),
                            (long long)(r % S), (int)b->V);
        if (types && !b->distil && (types[r] < 0 || types[r] >= b->T))
            return tfm__err(ctx, TFM_ERR_RANGE, "bert: token type %d at [%lld, %lld] is outside "
                            "type_vocab_size %d", (int)types[r], (long long)(r / S),
                            (long long)(r % S), (int)b->T);
    }
    // Buffers: x, q, k, v, c, t [N, D]; h [N, F]; pool [B, D]; pad [N].
    {
        int64_t tot;
        if (!tfm__mul_i64(N, 6 * D + F, &tot) || tot > INT64_MAX / 8 - 2 * (int64_t)B * D ||
            !tfm__mul_size((size_t)(tot + (int64_t)B * D), sizeof(float), &bytes) ||
            bytes > SIZE_MAX - (size_t)N)
            return tfm__err(ctx, TFM_ERR_RANGE, "bert: batch too large");
        nf = bytes + (size_t)N;
        mem = (float *)tfm__alloc(ctx, nf);
        if (!mem) return tfm__err(ctx, TFM_ERR_NOMEM, "bert: cannot allocate %zu bytes", nf);
        x = mem;
        q = x + N * D;
        k = q + N * D;
        v = k + N * D;
        c = v + N * D;
        t = c + N * D;
        h = t + N * D;
        pool = h + N * F;
        pad = (uint8_t *)(pool + (int64_t)B * D);
    }
    // Embeddings: words + positions (+ token types), then LayerNorm.
    shp[0] = B;
    shp[1] = S;
    tfm_tensor_wrap(&tid, TFM_I32, 2, shp, (void *)ids);
    if (types) tfm_tensor_wrap(&ttype, TFM_I32, 2, shp, (void *)types);
    {
        int64_t s3[3];
        s3[0] = B;
        s3[1] = S;
        s3[2] = D;
        tfm_tensor_wrap(&tx, TFM_F32, 3, s3, x);
    }
    ew = tfm_embed_weights_default();
    ew.tokens = &b->wte;
    ew.positions = &b->wpe;
    ew.types = b->distil ? NULL : &b->wtt;
    if ((st = tfm_embed(ctx, &ew, &tid, types && !b->distil ? &ttype : NULL, 0, &tx))) goto done;
    if ((st = add_norm(ctx, &b->emb_ln, b->eps, x, NULL, N, D))) goto done;
    // Attention mask (1 keep, 0 padding) as a key padding mask (nonzero = padding).
    for (r = 0; r < N; r++) pad[r] = mask ? (mask[r] == 0) : 0;
    tfm_tensor_wrap(&tpad, TFM_U8, 2, shp, pad);
    ap = tfm_attn_params_default();
    ap.masks.key_padding_mask = mask ? &tpad : NULL;
    view_heads(&tq, q, b, B, S);
    view_heads(&tk, k, b, B, S);
    view_heads(&tv, v, b, B, S);
    view_heads(&tc, c, b, B, S);
    for (l = 0; l < b->L; l++) {
        const tfm__bert_layer *y = &b->layers[l];
        // Self-attention, then x = LayerNorm(x + attention(x)).
        if ((st = linear(ctx, &y->q, x, N, D, q)) || (st = linear(ctx, &y->k, x, N, D, k)) ||
            (st = linear(ctx, &y->v, x, N, D, v)))
            goto done;
        if ((st = tfm_attention(ctx, &tq, &tk, &tv, &ap, &tc, NULL))) goto done;
        if ((st = linear(ctx, &y->o, c, N, D, t))) goto done;
        if ((st = add_norm(ctx, &y->ln1, b->eps, x, t, N, D))) goto done;
        // Feed-forward, then x = LayerNorm(x + ffn(x)).
        if ((st = linear(ctx, &y->ff1, x, N, D, h)) || (st = act_rows(ctx, b->act, h, N, F)) ||
            (st = linear(ctx, &y->ff2, h, N, F, t)))
            goto done;
        if ((st = add_norm(ctx, &y->ln2, b->eps, x, t, N, D))) goto done;
    }
    if (hidden) memcpy(hidden, x, (size_t)N * (size_t)D * sizeof(float));
    // Pooler (BERT): tanh(W x[:, 0] + b). Classifier: on the pooled output
    // (BERT) or on relu(W x[:, 0] + b) of pre_classifier (DistilBERT).
    if (pooled && !b->has_pooler) {
        st = tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bert: model '%s' has no pooler "
                      "(pooler.dense.weight)", b->arch);
        goto done;
    }
    if (cls && !b->has_cls) {
        st = tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bert: model '%s' has no classifier head",
                      b->arch);
        goto done;
    }
    if (pooled || (cls && !b->distil)) {
        if ((st = linear(ctx, &b->pooler, x, B, S * D, pool)) ||
            (st = act_rows(ctx, TFM_ACT_TANH, pool, B, D)))
            goto done;
        if (pooled) memcpy(pooled, pool, (size_t)B * (size_t)D * sizeof(float));
    }
    if (cls) {
        if (b->distil && ((st = linear(ctx, &b->pre_cls, x, B, S * D, pool)) ||
                          (st = act_rows(ctx, TFM_ACT_RELU, pool, B, D))))
            goto done;
        if ((st = linear(ctx, &b->cls, pool, B, D, cls))) goto done;
    }
    if (mlm && (st = mlm_head(ctx, b, x, N, t, mlm))) goto done;
done:
    tfm__free(ctx, mem, nf);
    return st;
}
