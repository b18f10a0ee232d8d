/*
 * BERT and DistilBERT from Hugging Face folders: config.json checked
 * against the weights, and the forward pass of BertModel / DistilBertModel
 * on the library's post-norm encoder layers, with the pooler, masked-LM and
 * sequence-classification heads, in Hugging Face semantics.
 *
 * BERT names (with or without "bert."): embeddings.{word,position,
 * token_type}_embeddings, embeddings.LayerNorm, encoder.layer.N.{attention.
 * self.{query,key,value}, attention.output.{dense,LayerNorm}, intermediate.
 * dense, output.{dense,LayerNorm}}, pooler.dense, cls.predictions.{transform.
 * {dense,LayerNorm}, decoder, bias}, classifier. DistilBERT (with or without
 * "distilbert."): embeddings.*, transformer.layer.N.{attention.{q,k,v,out}_lin,
 * sa_layer_norm, ffn.lin1, ffn.lin2, output_layer_norm}, vocab_transform,
 * vocab_layer_norm, vocab_projector, pre_classifier, classifier.
 *
 * Letters: B batch, S positions, N = B*S rows, V vocabulary, D width,
 * H heads, E head width, F feed-forward width, P positions, T token types,
 * C labels.
 */
#include "arch.h"
#include "bert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

// ---- config --------------------------------------------------------------------------------

tfm_status tfm__bert_config(tfm__hf *h, tfm_model *m) {
    tfm__bert *b = (tfm__bert *)tfm__model_alloc(m, sizeof *b);
    tfm_status st;
    const char *s;
    double eps;
    int32_t v;
    const tfm__json *arch = tfm__json_get(h->cfg, "architectures");
    if (!b) return tfm__err(h->ctx, TFM_ERR_NOMEM, "bert: out of memory");
    m->impl = b;
    b->distil = strcmp(m->arch_name, "distilbert") == 0;
    if (arch && tfm__json_str(tfm__json_at(arch, 0)))
        snprintf(b->arch, sizeof b->arch, "%s", tfm__json_str(tfm__json_at(arch, 0)));
    else
        snprintf(b->arch, sizeof b->arch, "%s", b->distil ? "DistilBertModel" : "BertModel");
    TRY(tfm__hf_int(h, "vocab_size", 0, 1, 1 << 24, &b->V));
    TRY(tfm__hf_int(h, "max_position_embeddings", 0, 1, 1 << 20, &b->P));
    if (b->distil) {
        TRY(tfm__hf_int(h, "dim", 0, 1, 1 << 16, &b->D));
        TRY(tfm__hf_int(h, "n_layers", 0, 1, 1024, &b->L));
        TRY(tfm__hf_int(h, "n_heads", 0, 1, 1024, &b->H));
        TRY(tfm__hf_int(h, "hidden_dim", 0, 1, 1 << 20, &b->F));
        TRY(tfm__hf_act(h, "activation", "gelu", &b->act));
        b->eps = 1e-12f; // fixed in DistilBERT
        b->T = 0;
    } else {
        TRY(tfm__hf_int(h, "hidden_size", 0, 1, 1 << 16, &b->D));
        TRY(tfm__hf_int(h, "num_hidden_layers", 0, 1, 1024, &b->L));
        TRY(tfm__hf_int(h, "num_attention_heads", 0, 1, 1024, &b->H));
        TRY(tfm__hf_int(h, "intermediate_size", 0, 1, 1 << 20, &b->F));
        TRY(tfm__hf_int(h, "type_vocab_size", 2, 0, 1 << 16, &b->T));
        TRY(tfm__hf_act(h, "hidden_act", "gelu", &b->act));
        TRY(tfm__hf_float(h, "layer_norm_eps", 1e-12, 0.0, 0.999999, &eps));
        b->eps = (float)eps;
        TRY(tfm__hf_str(h, "position_embedding_type", "absolute", &s));
        if (strcmp(s, "absolute") != 0)
            return tfm__err(h->ctx, TFM_ERR_UNSUPPORTED,
                            "bert: %s: 'position_embedding_type' \"%s\" is not supported (only "
                            "\"absolute\")", h->what, s);
    }
    if (b->D % b->H != 0)
        return tfm__err(h->ctx, TFM_ERR_FORMAT, "bert: %s: %s %d is not a multiple of %s %d",
                        h->what, b->distil ? "dim" : "hidden_size", (int)b->D,
                        b->distil ? "n_heads" : "num_attention_heads", (int)b->H);
    b->E = b->D / b->H;
    TRY(tfm__hf_token(h, "pad_token_id", 0, b->V, 0, &v));
    b->pad_id = v >= 0 ? v : 0;
    TRY(tfm__hf_str(h, "problem_type", "", &s));
    b->multi_label = strcmp(s, "multi_label_classification") == 0;
    {
        double D = b->D;
        TRY(tfm__hf_fits(h, ((double)b->V + b->P + b->T) * D +
                                b->L * (4 * D * D + 2 * D * b->F)));
    }
    tfm__model_sizes(m, b->V, b->P, b->D, b->L);
    return TFM_OK;
}

// ---- weights ---------------------------------------------------------------------------------

// Where a name is looked up: under the encoder's prefix first (head 0: the
// body) or at the top first (head 1: the heads).
static void prefixes(tfm__hf *h, const tfm__bert *b, int head) {
    static const char *const pre[4][2] = {
        {"bert.", ""}, {"", "bert."}, {"distilbert.", ""}, {"", "distilbert."}};
    h->prefixes = pre[2 * b->distil + (head != 0)];
    h->n_prefixes = 2;
}

#define AS_STORED 2 // with head: a matrix kept F16 or BF16 as stored

// The tensor `name` [d0] or [d0, d1] (f0, f1: the config fields), in f32
// or (head | AS_STORED) as stored.
static tfm_status weight(tfm__hf *h, const tfm__bert *b, const char *name, int head,
                         int64_t d0, const char *f0, int64_t d1, const char *f1, int optional,
                         const tfm_tensor **out) {
    prefixes(h, b, head & 1);
    if (head & AS_STORED)
        return tfm__hf_matrix(h, name, d0, f0, d1, f1, optional,
                              head & 1 ? TFM__MAT_HEAD : TFM__MAT_EMBED, out);
    return tfm__hf_weight(h, name, d0, f0, d1, f1, optional, out);
}

// name.weight [n_out, n_in] and name.bias [n_out].
static tfm_status lin_w(tfm__hf *h, const tfm__bert *b, const char *name, int head,
                        int64_t n_out, const char *f_out, int64_t n_in, const char *f_in,
                        int optional, const tfm_tensor **w, const tfm_tensor **bias) {
    prefixes(h, b, head);
    return tfm__hf_linear(h, name, n_out, f_out, n_in, f_in, optional, w, bias);
}

static tfm_status norm_w(tfm__hf *h, const tfm__bert *b, const char *name, int head,
                         const char *fD, tfm_norm_weights *n) {
    return lin_w(h, b, name, head, b->D, fD, 0, NULL, 0, &n->gamma, &n->beta);
}

static void packed_free(void *p) { tfm_packed_matrix_free((tfm_packed_matrix *)p); }
static void layer_free(void *p) { tfm_encoder_layer_free((tfm_encoder_layer *)p); }

// A head's linear map (under the encoder prefix first: head 0), packed for
// the GEMM with prepack; *found 0 when optional and absent.
static tfm_status head_lin(tfm__hf *h, tfm_model *m, const char *name, int head, int64_t n_out,
                           const char *f_out, int64_t n_in, const char *f_in, int optional,
                           int prepack, tfm__linear *l, int *found) {
    const tfm__bert *b = (const tfm__bert *)m->impl;
    const tfm_tensor *w = NULL, *bias = NULL;
    tfm_status st;
    TRY(lin_w(h, b, name, head, n_out, f_out, n_in, f_in, optional, &w, &bias));
    if (found) *found = w != NULL;
    if (!w) return TFM_OK;
    TRY(tfm__linear_init(h->ctx, l, w, bias, n_in, n_out, 0, "bert", name, "bias"));
    if (!prepack && l->format == TFM__WF_F32) return TFM_OK;
    TRY(tfm__linear_pack(h->ctx, l));
    return tfm__model_keep(m, l->pk, packed_free);
}

// id2label {"0": "NEGATIVE", ...} into b->labels[C]; LABEL_i where absent.
static tfm_status read_labels(tfm__hf *h, tfm_model *m, tfm__bert *b) {
    const tfm__json *map = tfm__json_get(h->cfg, "id2label");
    size_t i, n = tfm__json_len(map);
    int32_t c;
    if (map && !tfm__json_is(map, TFM__JSON_OBJECT))
        return tfm__err(h->ctx, TFM_ERR_FORMAT, "bert: %s: 'id2label' must be an object",
                        h->what);
    if (map && n != (size_t)b->C)
        return tfm__err(h->ctx, TFM_ERR_FORMAT,
                        "bert: %s: 'id2label' has %zu labels but tensor 'classifier.weight' "
                        "has %d rows", h->what, n, (int)b->C);
    b->labels = (char **)tfm__model_alloc(m, (size_t)b->C * sizeof(char *));
    if (!b->labels) return tfm__err(h->ctx, TFM_ERR_NOMEM, "bert: out of memory");
    for (i = 0; map && i < n; i++) {
        const char *key = tfm__json_key_at(map, i, NULL);
        const char *val = tfm__json_str(tfm__json_at(map, i));
        char *end;
        long k = strtol(key, &end, 10);
        if (!*key || *end || k < 0 || k >= b->C)
            return tfm__err(h->ctx, TFM_ERR_FORMAT, "bert: %s: 'id2label' key \"%s\" is not a "
                            "label index below %d", h->what, key, (int)b->C);
        if (!val)
            return tfm__err(h->ctx, TFM_ERR_FORMAT, "bert: %s: 'id2label' \"%s\" must be a "
                            "string", h->what, key);
        if (b->labels[k])
            return tfm__err(h->ctx, TFM_ERR_FORMAT, "bert: %s: 'id2label' repeats label %ld",
                            h->what, k);
        if (!(b->labels[k] = (char *)tfm__model_alloc(m, strlen(val) + 1)))
            return tfm__err(h->ctx, TFM_ERR_NOMEM, "bert: out of memory");
        memcpy(b->labels[k], val, strlen(val) + 1);
    }
    for (c = 0; c < b->C; c++)
        if (!b->labels[c]) {
            char buf[32];
            snprintf(buf, sizeof buf, "LABEL_%d", (int)c);
            if (!(b->labels[c] = (char *)tfm__model_alloc(m, strlen(buf) + 1)))
                return tfm__err(h->ctx, TFM_ERR_NOMEM, "bert: out of memory");
            memcpy(b->labels[c], buf, strlen(buf) + 1);
        }
    return TFM_OK;
}

static int arch_is(const tfm__bert *b, const char *suffix) {
    size_t n = strlen(b->arch), m = strlen(suffix);
    return n >= m && strcmp(b->arch + n - m, suffix) == 0;
}

tfm_status tfm__bert_load(tfm__hf *h, tfm_model *m, const tfm_model_params *p) {
    tfm__bert *b = (tfm__bert *)m->impl;
    tfm_ctx *ctx = h->ctx;
    tfm_status st;
    tfm_layer_params lp;
    int32_t l;
    int found;
    int want_mlm = arch_is(b, "ForMaskedLM") || arch_is(b, "ForPreTraining");
    int want_cls = arch_is(b, "ForSequenceClassification");
    const char *fD = b->distil ? "dim" : "hidden_size";
    const char *fF = b->distil ? "hidden_dim" : "intermediate_size";
    const tfm_tensor *dec = NULL, *dec_b = NULL;
    TRY(weight(h, b, "embeddings.word_embeddings.weight", AS_STORED, b->V, "vocab_size", b->D, fD, 0,
               &b->wte));
    TRY(weight(h, b, "embeddings.position_embeddings.weight", 0, b->P,
               "max_position_embeddings", b->D, fD, 0, &b->wpe));
    if (!b->distil)
        TRY(weight(h, b, "embeddings.token_type_embeddings.weight", 0, b->T, "type_vocab_size",
                   b->D, fD, 0, &b->wtt));
    b->emb_ln = tfm_norm_weights_default();
    TRY(norm_w(h, b, "embeddings.LayerNorm", 0, fD, &b->emb_ln));
    b->lw = (tfm_layer_weights *)tfm__model_alloc(m, (size_t)b->L * sizeof *b->lw);
    b->layers = (tfm_encoder_layer **)tfm__model_alloc(m, (size_t)b->L * sizeof *b->layers);
    if (!b->lw || !b->layers) return tfm__err(ctx, TFM_ERR_NOMEM, "bert: out of memory");
    lp = tfm__layer_params(b->D, b->H, b->F, b->act, TFM_NORM_LAYER, b->eps, p);
    for (l = 0; l < b->L; l++) {
        tfm_layer_weights *w = &b->lw[l];
        char pre[64], nm[160];
        int64_t D = b->D, F = b->F;
        *w = tfm_layer_weights_default();
        snprintf(pre, sizeof pre, b->distil ? "transformer.layer.%d." : "encoder.layer.%d.",
                 (int)l);
#define LIN(s, o, fo, i, fi, wt, bt) \
    (snprintf(nm, sizeof nm, "%s%s", pre, s), lin_w(h, b, nm, 0, o, fo, i, fi, 0, wt, bt))
#define NORM(s, n) (snprintf(nm, sizeof nm, "%s%s", pre, s), norm_w(h, b, nm, 0, fD, n))
        TRY(LIN(b->distil ? "attention.q_lin" : "attention.self.query", D, fD, D, fD,
                &w->self_attn.wq, &w->self_attn.bq));
        TRY(LIN(b->distil ? "attention.k_lin" : "attention.self.key", D, fD, D, fD,
                &w->self_attn.wk, &w->self_attn.bk));
        TRY(LIN(b->distil ? "attention.v_lin" : "attention.self.value", D, fD, D, fD,
                &w->self_attn.wv, &w->self_attn.bv));
        TRY(LIN(b->distil ? "attention.out_lin" : "attention.output.dense", D, fD, D, fD,
                &w->self_attn.wo, &w->self_attn.bo));
        TRY(NORM(b->distil ? "sa_layer_norm" : "attention.output.LayerNorm", &w->attn_norm));
        TRY(LIN(b->distil ? "ffn.lin1" : "intermediate.dense", F, fF, D, fD, &w->ffn.w1,
                &w->ffn.b1));
        TRY(LIN(b->distil ? "ffn.lin2" : "output.dense", D, fD, F, fF, &w->ffn.w2,
                &w->ffn.b2));
        TRY(NORM(b->distil ? "output_layer_norm" : "output.LayerNorm", &w->ffn_norm));
#undef LIN
#undef NORM
        if ((st = tfm_encoder_layer_create(ctx, &lp, w, &b->layers[l]))) return st;
        TRY(tfm__model_keep(m, b->layers[l], layer_free));
    }
    // The pooler: required by BERT's classifier, loaded whenever present.
    if (!b->distil) {
        TRY(head_lin(h, m, "pooler.dense", 0, b->D, fD, b->D, fD, !want_cls, p->prepack,
                     &b->pooler, &found));
        b->has_pooler = found;
    }
    if (want_mlm) {
        b->mlm_ln = tfm_norm_weights_default();
        if (b->distil) {
            TRY(head_lin(h, m, "vocab_transform", 1, b->D, fD, b->D, fD, 0, p->prepack,
                         &b->mlm_dense, NULL));
            TRY(norm_w(h, b, "vocab_layer_norm", 1, fD, &b->mlm_ln));
            TRY(weight(h, b, "vocab_projector.bias", 1, b->V, "vocab_size", 0, NULL, 0, &dec_b));
            TRY(weight(h, b, "vocab_projector.weight", 1 | AS_STORED, b->V, "vocab_size", b->D, fD, 1,
                       &dec));
        } else {
            TRY(head_lin(h, m, "cls.predictions.transform.dense", 1, b->D, fD, b->D, fD, 0,
                         p->prepack, &b->mlm_dense, NULL));
            TRY(norm_w(h, b, "cls.predictions.transform.LayerNorm", 1, fD, &b->mlm_ln));
            TRY(weight(h, b, "cls.predictions.bias", 1, b->V, "vocab_size", 0, NULL, 0, &dec_b));
            TRY(weight(h, b, "cls.predictions.decoder.weight", 1 | AS_STORED, b->V, "vocab_size", b->D, fD,
                       1, &dec));
        }
        if (!dec) // tied to the word embeddings: in the format of an output projection
            TRY(tfm__model_matrix(m, b->wte, p->weights, TFM__MAT_HEAD, &dec));
        TRY(tfm__linear_init(ctx, &b->mlm_dec, dec, dec_b, b->D, b->V, 0, "bert", "decoder",
                             "bias"));
        if (p->prepack || b->mlm_dec.format != TFM__WF_F32) {
            TRY(tfm__linear_pack(ctx, &b->mlm_dec));
            TRY(tfm__model_keep(m, b->mlm_dec.pk, packed_free));
        }
        b->has_mlm = 1;
    }
    if (want_cls) {
        tfm_tensor t;
        // The number of labels comes from the weights, then id2label must agree.
        prefixes(h, b, 1);
        st = tfm_safetensors_get_prefixed(ctx, h->st, h->prefixes, 2, "classifier.weight", &t);
        if (st == TFM_ERR_NOT_FOUND)
            return tfm__err_wrap(ctx, st, "bert: missing tensor 'classifier.weight'");
        if (st) return st;
        if (t.dtype == TFM_U8 && t.ndim == 3) { // quantized panels: config.json's labels
            const tfm__json *labels = tfm__json_get(h->cfg, "id2label");
            if (!labels || !tfm__json_is(labels, TFM__JSON_OBJECT) || !tfm__json_len(labels))
                return tfm__err(ctx, TFM_ERR_FORMAT, "bert: %s: a quantized "
                                "'classifier.weight' needs the labels in 'id2label'", h->what);
            t.ndim = 2;
            t.shape[0] = (int64_t)tfm__json_len(labels);
        }
        if (t.ndim != 2 || t.shape[0] < 1 || t.shape[0] > 1 << 20)
            return tfm__err(ctx, TFM_ERR_FORMAT, "bert: tensor 'classifier.weight' must be "
                            "[labels, %d]", (int)b->D);
        b->C = (int32_t)t.shape[0];
        if (b->distil)
            TRY(head_lin(h, m, "pre_classifier", 1, b->D, fD, b->D, fD, 0, p->prepack,
                         &b->pre_cls, NULL));
        TRY(head_lin(h, m, "classifier", 1, b->C, "id2label", b->D, fD, 0, p->prepack,
                     &b->cls, NULL));
        TRY(read_labels(h, m, b));
        b->has_cls = 1;
    }
    return TFM_OK;
}

uint64_t tfm__bert_weight_bytes(const tfm_model *m) {
    const tfm__bert *b = (const tfm__bert *)m->impl;
    uint64_t n = tfm__norm_bytes(&b->emb_ln);
    int32_t l;
    for (l = 0; l < b->L; l++) n += tfm__encoder_layer_bytes(b->layers[l]);
    return n;
}

const tfm__bert *tfm__bert_of(tfm_ctx *ctx, const tfm_model *m, const char *what,
                              tfm_status *st) {
    *st = TFM_OK;
    if (m && m->arch->kind == TFM_KIND_ENCODER) return (const tfm__bert *)m->impl;
    if (what)
        *st = tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s: model '%s' is not an encoder (bert, "
                       "distilbert)", what, m ? m->arch_name : "(null)");
    return NULL;
}

// ---- forward pass ------------------------------------------------------------------------

static tfm_status act_rows(tfm_ctx *ctx, int act, float *x, int64_t rows, int64_t cols) {
    tfm_tensor a;
    int64_t shp[2];
    shp[0] = rows;
    shp[1] = cols;
    tfm__view_c(&a, x, 2, shp);
    return tfm_activation(ctx, (tfm_act)act, &a, &a);
}

static tfm_status norm_rows(tfm_ctx *ctx, const tfm__bert *b, const tfm_norm_weights *n,
                            float *x, int64_t rows) {
    tfm_tensor a;
    int64_t shp[2];
    shp[0] = rows;
    shp[1] = b->D;
    tfm__view_c(&a, x, 2, shp);
    return tfm_norm(ctx, TFM_NORM_LAYER, &a, n, b->eps, &a);
}

// Masked-LM head on rows x [n, D]: logits [n, V] = decoder(LayerNorm(act(
// dense(x)))) + bias; t [n, D] is scratch, ar the products' scratch.
static tfm_status mlm_head(tfm_ctx *ctx, const tfm__bert *b, float *x, int64_t n, float *t,
                           float *logits, tfm__arena *ar) {
    tfm_status st;
    if (!b->has_mlm)
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bert: model '%s' has no masked-LM head",
                        b->arch);
    TRY(tfm__linear_rows(ctx, &b->mlm_dense, n, x, b->D, t, b->D, ar));
    TRY(act_rows(ctx, b->act, t, n, b->D));
    TRY(norm_rows(ctx, b, &b->mlm_ln, t, n));
    return tfm__linear_rows(ctx, &b->mlm_dec, n, t, b->D, logits, b->V, ar);
}

// Scratch of the heads' products on `rows` rows (the MLM head) or B rows.
static size_t heads_ws(tfm_ctx *ctx, const tfm__bert *b, int64_t B, int64_t rows) {
    size_t w = 0, s;
    const tfm__linear *ls[5];
    int64_t r[5];
    int i;
    ls[0] = &b->pooler; r[0] = B;
    ls[1] = &b->pre_cls; r[1] = B;
    ls[2] = &b->cls; r[2] = B;
    ls[3] = &b->mlm_dense; r[3] = rows;
    ls[4] = &b->mlm_dec; r[4] = rows;
    for (i = 0; i < 5; i++) {
        if (!ls[i]->w) continue;
        s = tfm__linear_ws(ctx, ls[i], r[i]);
        if (s > w) w = s;
    }
    return w;
}

tfm_status tfm__bert_mlm(tfm_ctx *ctx, const tfm__bert *b, float *x, int64_t n,
                         float *logits) {
    size_t total = 0, hw;
    char *mem;
    tfm__arena ar;
    tfm_status st;
    if (n < 1 || n > (int64_t)1 << 40)
        return tfm__err(ctx, TFM_ERR_RANGE, "bert: %lld rows for the masked-LM head",
                        (long long)n);
    hw = heads_ws(ctx, b, 1, n);
    tfm__ws_add(&total, n * b->D);
    if (total == SIZE_MAX || hw == SIZE_MAX || total > SIZE_MAX - hw)
        return tfm__err(ctx, TFM_ERR_RANGE, "bert: %lld rows for the masked-LM head",
                        (long long)n);
    if (!(mem = (char *)tfm__alloc_nozero(ctx, total + hw)))
        return tfm__err(ctx, TFM_ERR_NOMEM, "bert: cannot allocate %zu bytes", total + hw);
    ar.base = mem + total;
    ar.size = hw;
    ar.used = 0;
    st = mlm_head(ctx, b, x, n, (float *)(void *)mem, logits, &ar);
    tfm__free(ctx, mem, total + hw);
    return st;
}

tfm_status tfm__bert_forward(tfm_ctx *ctx, const tfm__bert *b, const int32_t *ids,
                             const int32_t *types, const int32_t *mask, int32_t B,
                             int32_t S, float *hidden, float *pooled, float *mlm,
                             float *cls) {
    int64_t N, D = b->D, r, l, shp[3];
    size_t total = 0, o_t, o_pool, o_pad, o_ws, lw, hw;
    char *mem;
    float *x, *t, *pool;
    uint8_t *pad;
    tfm_status st = TFM_OK;
    tfm_tensor tid, ttype, tx, tpad;
    tfm_embed_weights ew;
    tfm_attn_masks am = tfm_attn_masks_default();
    struct tfm_workspace ws;
    tfm__arena ar;
    if (B < 1 || S < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "bert: batch %d x %d tokens", (int)B, (int)S);
    if (S > b->P)
        return tfm__err(ctx, TFM_ERR_RANGE, "bert: %d tokens are more than the %d positions "
                        "of the model (max_position_embeddings)", (int)S, (int)b->P);
    if (pooled && !b->has_pooler)
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bert: model '%s' has no pooler "
                        "(pooler.dense.weight)", b->arch);
    if (cls && !b->has_cls)
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bert: model '%s' has no classifier head",
                        b->arch);
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
    // One block for the call: x, t [N, D]; pool [B, D]; pad [N]; then the
    // layers' workspace, which the heads' products reuse.
    lw = tfm_encoder_layer_workspace_size(ctx, b->layers[0], B, S);
    hw = heads_ws(ctx, b, B, mlm ? N : 1);
    if (hw > lw) lw = hw;
    tfm__ws_add(&total, N * D);
    o_t = total;
    tfm__ws_add(&total, N * D);
    o_pool = total;
    tfm__ws_add(&total, (int64_t)B * D);
    o_pad = total;
    tfm__ws_add(&total, (N + 3) / 4);
    o_ws = total;
    if (lw == 0 || lw == SIZE_MAX || total == SIZE_MAX || total > SIZE_MAX - lw)
        return tfm__err(ctx, TFM_ERR_RANGE, "bert: batch too large");
    total += lw;
    if (!(mem = (char *)tfm__alloc_nozero(ctx, total)))
        return tfm__err(ctx, TFM_ERR_NOMEM, "bert: cannot allocate %zu bytes", total);
    x = (float *)(void *)mem;
    t = (float *)(void *)(mem + o_t);
    pool = (float *)(void *)(mem + o_pool);
    pad = (uint8_t *)(mem + o_pad);
    ws.ctx = ctx;
    ws.data = mem + o_ws;
    ws.size = lw;
    ar.base = (char *)ws.data;
    ar.size = lw;
    ar.used = 0;
    // Embeddings: words + positions (+ token types), then LayerNorm.
    shp[0] = B; shp[1] = S; shp[2] = D;
    tfm_tensor_wrap(&tid, TFM_I32, 2, shp, (void *)ids);
    if (types) tfm_tensor_wrap(&ttype, TFM_I32, 2, shp, (void *)types);
    tfm__view_c(&tx, x, 3, shp);
    ew = tfm_embed_weights_default();
    ew.tokens = b->wte;
    ew.positions = b->wpe;
    ew.types = b->distil ? NULL : b->wtt;
    if ((st = tfm_embed(ctx, &ew, &tid, types && !b->distil ? &ttype : NULL, 0, &tx))) goto done;
    if ((st = norm_rows(ctx, b, &b->emb_ln, x, N)) ||
        (st = tfm__check_finite(ctx, &tx, "bert: embeddings")))
        goto done;
    // Attention mask (1 keep, 0 padding) as a key padding mask (nonzero = padding).
    for (r = 0; r < N; r++) pad[r] = mask ? (mask[r] == 0) : 0;
    tfm_tensor_wrap(&tpad, TFM_U8, 2, shp, pad);
    am.key_padding_mask = mask ? &tpad : NULL;
    // The post-norm layers: x = LN(x + attention(x)); x = LN(x + ffn(x)).
    for (l = 0; l < b->L; l++)
        if ((st = tfm_encoder_layer_forward(ctx, b->layers[l], &tx, &am, &ws, &tx, NULL))) {
            if (st == TFM_ERR_NUMERIC) st = tfm__err_wrap(ctx, st, "bert: layer %d", (int)l);
            goto done;
        }
    if (hidden) memcpy(hidden, x, (size_t)N * (size_t)D * sizeof(float));
    // Pooler (BERT): tanh(W x[:, 0] + b). Classifier: on the pooled output
    // (BERT) or on relu(W x[:, 0] + b) of pre_classifier (DistilBERT).
    if (pooled || (cls && !b->distil)) {
        if ((st = tfm__linear_rows(ctx, &b->pooler, B, x, S * D, pool, D, &ar)) ||
            (st = act_rows(ctx, TFM_ACT_TANH, pool, B, D)))
            goto done;
        if (pooled) memcpy(pooled, pool, (size_t)B * (size_t)D * sizeof(float));
    }
    if (cls) {
        if (b->distil && ((st = tfm__linear_rows(ctx, &b->pre_cls, B, x, S * D, pool, D, &ar)) ||
                          (st = act_rows(ctx, TFM_ACT_RELU, pool, B, D))))
            goto done;
        if ((st = tfm__linear_rows(ctx, &b->cls, B, pool, D, cls, b->C, &ar))) goto done;
    }
    if (mlm && (st = mlm_head(ctx, b, x, N, t, mlm, &ar))) goto done;
    if ((pooled && (st = tfm__check_finite_rows(ctx, pool, B, D, "bert: pooler"))) ||
        (cls && (st = tfm__check_finite_rows(ctx, cls, B, b->C, "bert: classifier"))) ||
        (mlm && (st = tfm__check_finite_rows(ctx, mlm, N, b->V, "bert: mlm head"))))
        goto done;
done:
    tfm__free(ctx, mem, total);
    return st;
}
