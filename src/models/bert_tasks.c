/*
 * Encoder tasks on BERT-family models: the public "Encoder tasks" API
 * (tfm_model_encode, fill-mask, sentence embeddings, classification).
 *
 * Letters: B texts in the batch, S padded length, D width, V vocabulary,
 * C labels, M masks.
 */
#include "bert.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint32_t tfm_model_heads(const tfm_model *m) {
    tfm_status st;
    const tfm__bert *b = tfm__bert_of(NULL, m, NULL, &st);
    if (!b) return 0;
    return (b->has_pooler ? TFM_HEAD_POOLER : 0u) | (b->has_mlm ? TFM_HEAD_MLM : 0u) |
           (b->has_cls ? TFM_HEAD_CLASSIFIER : 0u);
}

int32_t tfm_model_n_labels(const tfm_model *m) {
    tfm_status st;
    const tfm__bert *b = tfm__bert_of(NULL, m, NULL, &st);
    return b && b->has_cls ? b->C : 0;
}

const char *tfm_model_label(const tfm_model *m, int32_t i) {
    tfm_status st;
    const tfm__bert *b = tfm__bert_of(NULL, m, NULL, &st);
    return b && b->has_cls && i >= 0 && i < b->C ? b->labels[i] : NULL;
}

void tfm_encode_outputs_init(tfm_encode_outputs *dst, size_t struct_size) {
    tfm_encode_outputs o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    tfm__params_init(dst, struct_size, &o, sizeof o);
}

tfm_status tfm_model_encode(tfm_ctx *ctx, const tfm_model *model, const int32_t *ids,
                            const int32_t *type_ids, const int32_t *attention_mask,
                            int32_t batch, int32_t seq_len, const tfm_encode_outputs *outputs) {
    tfm_encode_outputs o = tfm_encode_outputs_default();
    const tfm__bert *b;
    tfm_status st;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!model || !ids || !outputs)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "model_encode: NULL %s",
                        !model ? "model" : !ids ? "ids" : "outputs");
    if ((st = TFM__PARAMS_READ(ctx, o, outputs, "model_encode: outputs"))) return st;
    if (!(b = tfm__bert_of(ctx, model, "model_encode", &st))) return st;
    return tfm__bert_forward(ctx, b, ids, type_ids, attention_mask, batch, seq_len, o.hidden,
                             o.pooled, o.mlm_logits, o.class_logits);
}

void tfm_task_params_init(tfm_task_params *dst, size_t struct_size) {
    tfm_task_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.top_k = 5;
    p.pooling = TFM_POOLING_MEAN;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

// ---- shared steps ----------------------------------------------------------------------

// Checks the arguments common to the tasks, copies params, and tokenizes
// the texts into a padded batch.
static tfm_status prepare(tfm_ctx *ctx, const tfm_model *m, const char *const *texts,
                          const char *const *pairs, int32_t n, const tfm_task_params *params,
                          void *out, const char *what, const tfm__bert **b,
                          tfm_task_params *p, tfm_batch **batch) {
    const tfm_tokenizer *tok;
    tfm_encode_params ep = tfm_encode_params_default();
    tfm_status st;
    int32_t i;
    *batch = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!m || !texts || !out || n < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s: %s", what,
                        !m ? "NULL model" : !texts ? "NULL texts" : !out ? "NULL out"
                                                                        : "no texts (n < 1)");
    for (i = 0; i < n; i++)
        if (!texts[i]) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s: text %d is NULL", what, (int)i);
    *p = tfm_task_params_default();
    {
        char w[64];
        snprintf(w, sizeof w, "%s: params", what);
        if ((st = tfm__params_read(ctx, p, sizeof *p, params, w))) return st;
    }
    if (p->max_length < 0 || p->top_k < 1 || p->pooling < TFM_POOLING_MEAN ||
        p->pooling > TFM_POOLING_NONE)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s: bad params (max_length %d, top_k %d, "
                        "pooling %d)", what, (int)p->max_length, (int)p->top_k, (int)p->pooling);
    if (!(*b = tfm__bert_of(ctx, m, what, &st))) return st;
    tok = tfm_model_tokenizer(m);
    if (!tok)
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "%s: the model has no tokenizer (vocab.txt)",
                        what);
    ep.max_length = (*b)->P;
    if (p->max_length > 0 && p->max_length < ep.max_length) ep.max_length = p->max_length;
    ep.truncation = p->truncate ? TFM_TRUNCATE_LONGEST_FIRST : TFM_TRUNCATE_NONE;
    st = tfm_tokenizer_encode_batch(ctx, tok, texts, NULL, pairs, NULL, n, &ep, 0, batch);
    if (st != TFM_OK && st != TFM_ERR_NOMEM) return tfm__err_wrap(ctx, st, "%s", what);
    return st;
}

static float *falloc(tfm_ctx *ctx, int64_t n, size_t *bytes) {
    if (n < 1 || !tfm__mul_size((size_t)n, sizeof(float), bytes)) return NULL;
    return (float *)tfm__alloc(ctx, *bytes);
}

// ---- fill-mask ---------------------------------------------------------------------------

void tfm_fill_mask_result_free(tfm_fill_mask_result *r) {
    tfm_ctx *ctx;
    if (!r) return;
    ctx = r->ctx;
    tfm__free(ctx, r->text, (size_t)r->n_masks * sizeof(int32_t));
    tfm__free(ctx, r->position, (size_t)r->n_masks * sizeof(int32_t));
    tfm__free(ctx, r->pred, (size_t)r->n_masks * (size_t)r->top_k * sizeof(tfm_prediction));
    tfm__free(ctx, r, sizeof *r);
}

// Softmax of row[0, V) and its k best (ties: lower id first) into pred.
static void top_k(const float *row, int32_t V, int32_t k, const tfm_tokenizer *tok,
                  tfm_prediction *pred) {
    double mx = -INFINITY, sum = 0;
    int32_t i, j, n = 0;
    for (i = 0; i < V; i++)
        if (row[i] > mx) mx = row[i];
    for (i = 0; i < V; i++) sum += exp((double)row[i] - mx);
    for (i = 0; i < V; i++) {
        float s = row[i];
        if (n == k && !(s > row[pred[k - 1].id])) continue;
        j = n < k ? n++ : k - 1;
        while (j > 0 && s > row[pred[j - 1].id]) {
            pred[j] = pred[j - 1];
            j--;
        }
        pred[j].id = i;
    }
    for (j = 0; j < k; j++) {
        pred[j].score = (float)(exp((double)row[pred[j].id] - mx) / sum);
        pred[j].token = tfm_tokenizer_id_to_token(tok, pred[j].id, NULL);
    }
}

tfm_status tfm_fill_mask(tfm_ctx *ctx, const tfm_model *m, const char *const *texts, int32_t n,
                         const tfm_task_params *params, tfm_fill_mask_result **out) {
    const tfm__bert *b = NULL;
    tfm_task_params p;
    tfm_batch *bt = NULL;
    tfm_fill_mask_result *r = NULL;
    tfm_status st;
    const tfm_tokenizer *tok;
    float *logits = NULL, *hid = NULL;
    size_t lbytes = 0, hbytes = 0;
    int32_t mask_id, i, s, M = 0, k;
    int64_t N;
    if (out) *out = NULL;
    if ((st = prepare(ctx, m, texts, NULL, n, params, out, "fill_mask", &b, &p, &bt))) return st;
    tok = tfm_model_tokenizer(m);
    if (!b->has_mlm) {
        st = tfm__err(ctx, TFM_ERR_UNSUPPORTED, "fill_mask: model '%s' has no masked-LM head",
                      b->arch);
        goto fail;
    }
    mask_id = tfm_tokenizer_special_id(tok, TFM_TOKEN_MASK);
    N = (int64_t)bt->n_seq * bt->seq_len;
    for (i = 0; i < bt->n_seq; i++) {
        int32_t c = 0;
        for (s = 0; s < bt->lengths[i]; s++) c += bt->ids[(int64_t)i * bt->seq_len + s] == mask_id;
        if (!c || mask_id < 0) {
            st = tfm__err(ctx, TFM_ERR_INVALID_ARG, "fill_mask: text %d has no [MASK] token",
                          (int)i);
            goto fail;
        }
        M += c;
    }
    k = p.top_k < b->V ? p.top_k : b->V;
    r = (tfm_fill_mask_result *)tfm__alloc(ctx, sizeof *r);
    if (!r) goto nomem;
    r->ctx = ctx;
    r->n_texts = n;
    r->n_masks = M;
    r->top_k = k;
    r->text = (int32_t *)tfm__alloc(ctx, (size_t)M * sizeof(int32_t));
    r->position = (int32_t *)tfm__alloc(ctx, (size_t)M * sizeof(int32_t));
    r->pred = (tfm_prediction *)tfm__alloc(ctx, (size_t)M * (size_t)k * sizeof(tfm_prediction));
    if (!r->text || !r->position || !r->pred) goto nomem;
    // The encoder over the batch, then the head on the [MASK] rows only
    // (the vocabulary projection is the costliest matmul of the model).
    if (!(hid = falloc(ctx, N * b->D, &hbytes)) ||
        !(logits = falloc(ctx, (int64_t)M * b->V, &lbytes)))
        goto nomem;
    if ((st = tfm__bert_forward(ctx, b, bt->ids, bt->type_ids, bt->attention_mask, bt->n_seq,
                                bt->seq_len, hid, NULL, NULL, NULL)))
        goto fail;
    M = 0;
    for (i = 0; i < bt->n_seq; i++)
        for (s = 0; s < bt->lengths[i]; s++) {
            int64_t row = (int64_t)i * bt->seq_len + s;
            if (bt->ids[row] != mask_id) continue;
            r->text[M] = i;
            r->position[M] = s;
            // Gather the mask rows to the front of hid (row >= M always).
            memmove(hid + (int64_t)M * b->D, hid + row * b->D, (size_t)b->D * sizeof(float));
            M++;
        }
    if ((st = tfm__bert_mlm(ctx, b, hid, M, logits))) goto fail;
    for (i = 0; i < M; i++) top_k(logits + (int64_t)i * b->V, b->V, k, tok, r->pred + (int64_t)i * k);
    tfm__free(ctx, hid, hbytes);
    tfm__free(ctx, logits, lbytes);
    tfm_batch_free(bt);
    *out = r;
    return TFM_OK;
nomem:
    st = tfm__err(ctx, TFM_ERR_NOMEM, "fill_mask: out of memory");
fail:
    tfm__free(ctx, hid, hbytes);
    tfm__free(ctx, logits, lbytes);
    tfm_fill_mask_result_free(r);
    tfm_batch_free(bt);
    return st;
}

// ---- embeddings --------------------------------------------------------------------------

void tfm_embeddings_free(tfm_embeddings *e) {
    tfm_ctx *ctx;
    size_t rows;
    if (!e) return;
    ctx = e->ctx;
    rows = (size_t)e->n * (e->pooling == TFM_POOLING_NONE ? (size_t)e->seq_len : 1u);
    tfm__free(ctx, e->data, rows * (size_t)e->dim * sizeof(float));
    tfm__free(ctx, e->lengths, (size_t)e->n * sizeof(int32_t));
    tfm__free(ctx, e, sizeof *e);
}

static void l2_normalize(float *x, int64_t d) {
    double s = 0;
    int64_t i;
    for (i = 0; i < d; i++) s += (double)x[i] * x[i];
    s = sqrt(s);
    if (s < 1e-12) s = 1e-12; // as torch.nn.functional.normalize
    for (i = 0; i < d; i++) x[i] = (float)(x[i] / s);
}

tfm_status tfm_embed_texts(tfm_ctx *ctx, const tfm_model *m, const char *const *texts,
                           int32_t n, const tfm_task_params *params, tfm_embeddings **out) {
    const tfm__bert *b = NULL;
    tfm_task_params p;
    tfm_batch *bt = NULL;
    tfm_embeddings *e = NULL;
    tfm_status st;
    float *hid = NULL;
    size_t hbytes = 0, dbytes;
    int64_t N, D, i, s, j;
    if (out) *out = NULL;
    if ((st = prepare(ctx, m, texts, NULL, n, params, out, "embed", &b, &p, &bt))) return st;
    D = b->D;
    N = (int64_t)bt->n_seq * bt->seq_len;
    e = (tfm_embeddings *)tfm__alloc(ctx, sizeof *e);
    if (!e) goto nomem;
    e->ctx = ctx;
    e->n = n;
    e->dim = (int32_t)D;
    e->seq_len = bt->seq_len;
    e->pooling = p.pooling;
    e->lengths = (int32_t *)tfm__alloc(ctx, (size_t)n * sizeof(int32_t));
    if (!e->lengths) goto nomem;
    memcpy(e->lengths, bt->lengths, (size_t)n * sizeof(int32_t));
    if (!(hid = falloc(ctx, N * D, &hbytes))) goto nomem;
    if (p.pooling == TFM_POOLING_NONE) {
        e->data = hid; // the hidden states are the result
        hid = NULL;
    } else if (!(e->data = falloc(ctx, (int64_t)n * D, &dbytes))) {
        goto nomem;
    }
    if ((st = tfm__bert_forward(ctx, b, bt->ids, bt->type_ids, bt->attention_mask, bt->n_seq,
                                bt->seq_len, hid ? hid : e->data, NULL, NULL, NULL)))
        goto fail;
    for (i = 0; i < n; i++) {
        float *o = e->data + i * D;
        const float *h = hid + i * bt->seq_len * D;
        if (p.pooling == TFM_POOLING_NONE) {
            if (p.normalize)
                for (s = 0; s < bt->seq_len; s++) l2_normalize(e->data + (i * bt->seq_len + s) * D, D);
            continue;
        }
        if (p.pooling == TFM_POOLING_CLS) {
            memcpy(o, h, (size_t)D * sizeof(float));
        } else {
            // Mean over the attended tokens, summed in double.
            double cnt = 0;
            for (j = 0; j < D; j++) {
                double acc = 0;
                cnt = 0;
                for (s = 0; s < bt->seq_len; s++)
                    if (bt->attention_mask[i * bt->seq_len + s]) {
                        acc += h[s * D + j];
                        cnt += 1;
                    }
                o[j] = (float)(acc / (cnt > 1e-9 ? cnt : 1e-9));
            }
        }
        if (p.normalize) l2_normalize(o, D);
    }
    tfm__free(ctx, hid, hbytes);
    tfm_batch_free(bt);
    *out = e;
    return TFM_OK;
nomem:
    st = tfm__err(ctx, TFM_ERR_NOMEM, "embed: out of memory");
fail:
    tfm__free(ctx, hid, hbytes);
    tfm_embeddings_free(e);
    tfm_batch_free(bt);
    return st;
}

// ---- classification ----------------------------------------------------------------------

void tfm_classification_free(tfm_classification *c) {
    tfm_ctx *ctx;
    size_t nc;
    if (!c) return;
    ctx = c->ctx;
    nc = (size_t)c->n * (size_t)c->n_labels * sizeof(float);
    tfm__free(ctx, c->logits, nc);
    tfm__free(ctx, c->probs, nc);
    tfm__free(ctx, c->best, (size_t)c->n * sizeof(int32_t));
    tfm__free(ctx, c, sizeof *c);
}

tfm_status tfm_classify(tfm_ctx *ctx, const tfm_model *m, const char *const *texts,
                        const char *const *pairs, int32_t n, const tfm_task_params *params,
                        tfm_classification **out) {
    const tfm__bert *b = NULL;
    tfm_task_params p;
    tfm_batch *bt = NULL;
    tfm_classification *c = NULL;
    tfm_status st;
    size_t bytes;
    int32_t i, j, C;
    if (out) *out = NULL;
    if ((st = prepare(ctx, m, texts, pairs, n, params, out, "classify", &b, &p, &bt))) return st;
    if (!b->has_cls) {
        st = tfm__err(ctx, TFM_ERR_UNSUPPORTED, "classify: model '%s' has no classifier head",
                      b->arch);
        goto fail;
    }
    C = b->C;
    c = (tfm_classification *)tfm__alloc(ctx, sizeof *c);
    if (!c) goto nomem;
    c->ctx = ctx;
    c->n = n;
    c->n_labels = C;
    c->labels = (const char *const *)b->labels;
    c->logits = falloc(ctx, (int64_t)n * C, &bytes);
    c->probs = falloc(ctx, (int64_t)n * C, &bytes);
    c->best = (int32_t *)tfm__alloc(ctx, (size_t)n * sizeof(int32_t));
    if (!c->logits || !c->probs || !c->best) goto nomem;
    if ((st = tfm__bert_forward(ctx, b, bt->ids, bt->type_ids, bt->attention_mask, bt->n_seq,
                                bt->seq_len, NULL, NULL, NULL, c->logits)))
        goto fail;
    for (i = 0; i < n; i++) {
        const float *lg = c->logits + (int64_t)i * C;
        float *pr = c->probs + (int64_t)i * C;
        if (b->multi_label || C == 1) {
            for (j = 0; j < C; j++) pr[j] = (float)(1.0 / (1.0 + exp(-(double)lg[j])));
        } else {
            double mx = lg[0], sum = 0;
            for (j = 1; j < C; j++)
                if (lg[j] > mx) mx = lg[j];
            for (j = 0; j < C; j++) sum += exp((double)lg[j] - mx);
            for (j = 0; j < C; j++) pr[j] = (float)(exp((double)lg[j] - mx) / sum);
        }
        c->best[i] = 0;
        for (j = 1; j < C; j++)
            if (pr[j] > pr[c->best[i]]) c->best[i] = j;
    }
    tfm_batch_free(bt);
    *out = c;
    return TFM_OK;
nomem:
    st = tfm__err(ctx, TFM_ERR_NOMEM, "classify: out of memory");
fail:
    tfm_classification_free(c);
    tfm_batch_free(bt);
    return st;
}
