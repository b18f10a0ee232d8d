/*
 * BERT / DistilBERT against the float64 PyTorch references of gen_bert.py:
 * hidden states, pooler, masked-LM and classifier logits for a padded batch
 * and for sentence pairs, in F32, F16, BF16 and sharded folders; the tasks
 * (fill-mask, embeddings, classification); and bad input.
 */
#define _POSIX_C_SOURCE 200112L
#include "harness.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static tfm_status load_dir(tfm_ctx *ctx, const char *dir, tfm_model **out) {
    return tfm_model_load(ctx, dir, NULL, out);
}

static tfm_status load_named(tfm_ctx *ctx, const char *name, tfm_model **out) {
    char rel[256];
    snprintf(rel, sizeof rel, "golden/bert/%s", name);
    return load_dir(ctx, tfmt_data(rel), out);
}

// A reference tensor as doubles (malloc'd) and its element count.
static double *ref_f64(tfm_ctx *ctx, const tfm_safetensors *st, const char *name, int64_t *n) {
    tfm_tensor t;
    double *d;
    int64_t i;
    if (tfm_safetensors_get(ctx, st, name, &t) != TFM_OK) return NULL;
    *n = tfm_tensor_numel(&t);
    d = (double *)malloc((size_t)*n * sizeof(double));
    for (i = 0; i < *n; i++) d[i] = ((const float *)t.data)[i];
    return d;
}

static const int32_t *ref_i32(tfm_ctx *ctx, const tfm_safetensors *st, const char *name,
                              int64_t *b, int64_t *s) {
    tfm_tensor t;
    if (tfm_safetensors_get(ctx, st, name, &t) != TFM_OK) return NULL;
    *b = t.shape[0];
    *s = t.shape[1];
    return (const int32_t *)t.data;
}

static void check_output(tfm_ctx *ctx, const tfm_safetensors *st, const char *set,
                         const char *what, const float *out, int64_t n) {
    char name[64];
    int64_t rn = 0;
    double *ref;
    snprintf(name, sizeof name, "%s_%s", set, what);
    ref = ref_f64(ctx, st, name, &rn);
    if (!ref) {
        tfmt_fail(__FILE__, __LINE__, "reference %s missing", name);
        return;
    }
    CHECK_EQ_INT(rn, n);
    if (rn == n && !CHECK_RELERR(out, ref, n, 1e-5)) printf("    (%s)\n", name);
    free(ref);
}

// Runs every output the model has on both reference batches and compares.
static void check_model(const char *name, int n_threads) {
    tfm_ctx *ctx = tfmt_ctx(n_threads);
    tfm_model *m = NULL;
    tfm_safetensors *st = NULL;
    char rel[256];
    const char *sets[2] = {"single", "pair"};
    int si;
    REQUIRE_OK(ctx, load_named(ctx, name, &m));
    snprintf(rel, sizeof rel, "golden/bert/%s.ref.safetensors", name);
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, tfmt_data(rel), &st));
    for (si = 0; si < 2; si++) {
        char nm[64];
        int64_t B, S, D = tfm_model_dim(m), V = tfm_model_vocab_size(m);
        int64_t C = tfm_model_n_labels(m);
        uint32_t heads = tfm_model_heads(m);
        const int32_t *ids, *mask, *types;
        tfm_encode_outputs o = tfm_encode_outputs_default();
        snprintf(nm, sizeof nm, "%s_input_ids", sets[si]);
        ids = ref_i32(ctx, st, nm, &B, &S);
        snprintf(nm, sizeof nm, "%s_attention_mask", sets[si]);
        mask = ref_i32(ctx, st, nm, &B, &S);
        snprintf(nm, sizeof nm, "%s_token_type_ids", sets[si]);
        types = ref_i32(ctx, st, nm, &B, &S);
        REQUIRE(ids && mask && types);
        o.hidden = (float *)malloc((size_t)(B * S * D) * sizeof(float));
        o.pooled = heads & TFM_HEAD_POOLER ? (float *)malloc((size_t)(B * D) * sizeof(float)) : NULL;
        o.mlm_logits = heads & TFM_HEAD_MLM ? (float *)malloc((size_t)(B * S * V) * sizeof(float)) : NULL;
        o.class_logits = C ? (float *)malloc((size_t)(B * C) * sizeof(float)) : NULL;
        CHECK_OK(ctx, tfm_model_encode(ctx, m, ids, types, mask, (int32_t)B, (int32_t)S, &o));
        check_output(ctx, st, sets[si], "hidden", o.hidden, B * S * D);
        if (o.pooled) check_output(ctx, st, sets[si], "pooler", o.pooled, B * D);
        if (o.mlm_logits) check_output(ctx, st, sets[si], "mlm_logits", o.mlm_logits, B * S * V);
        if (o.class_logits) check_output(ctx, st, sets[si], "cls_logits", o.class_logits, B * C);
        free(o.hidden);
        free(o.pooled);
        free(o.mlm_logits);
        free(o.class_logits);
    }
    tfm_safetensors_close(st);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(bert_mlm_f32_prefixed_tied) { check_model("bert_mlm", 1); }
TEST(bert_f16_old_names_pooler_decoder) { check_model("bert_f16", 2); }
TEST(bert_cls_bf16_gelu_tanh) { check_model("bert_cls_bf16", 1); }
TEST(bert_model_sharded_unprefixed) { check_model("bert_sharded", 2); }
TEST(bert_distilbert_mlm) { check_model("distilbert_mlm", 1); }
TEST(bert_distilbert_cls_f16_sharded) { check_model("distilbert_cls", 2); }
TEST(bert_distilbert_model_bf16) { check_model("distilbert_model", 1); }

TEST(bert_model_queries) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    REQUIRE_OK(ctx, load_named(ctx, "bert_cls_bf16", &m));
    CHECK_STR(tfm_model_arch(m), "bert");
    CHECK_EQ_INT(tfm_model_dim(m), 32);
    CHECK_EQ_INT(tfm_model_n_layers(m), 2);
    CHECK_EQ_INT(tfm_model_max_context(m), 40);
    CHECK_EQ_INT(tfm_model_heads(m), TFM_HEAD_POOLER | TFM_HEAD_CLASSIFIER);
    CHECK_EQ_INT(tfm_model_n_labels(m), 3);
    CHECK_STR(tfm_model_label(m, 0), "negative");
    CHECK_STR(tfm_model_label(m, 2), "positive");
    CHECK(tfm_model_label(m, 3) == NULL);
    {
        // An encoder has no decoding session.
        tfm_session *sess = (tfm_session *)1;
        CHECK(tfm_session_create(ctx, m, NULL, &sess) != TFM_OK);
        CHECK(sess == NULL);
    }
    tfm_model_free(m);
    REQUIRE_OK(ctx, load_named(ctx, "distilbert_mlm", &m));
    CHECK_STR(tfm_model_arch(m), "distilbert");
    CHECK_EQ_INT(tfm_model_heads(m), TFM_HEAD_MLM);
    CHECK_EQ_INT(tfm_model_n_labels(m), 0);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

// ---- tasks against the references ------------------------------------------------------

static const char *k_texts[3] = {"The capital of France is [MASK].", "Hello world!",
                                 "The dog ran away slowly, unbelievable!"};

TEST(bert_task_embeddings) {
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_model *m = NULL;
    tfm_safetensors *st = NULL;
    tfm_embeddings *e = NULL;
    tfm_task_params p = tfm_task_params_default();
    int64_t n, i, j;
    double *ref;
    REQUIRE_OK(ctx, load_named(ctx, "bert_mlm", &m));
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, tfmt_data("golden/bert/bert_mlm.ref.safetensors"), &st));
    // Mean pooling over the attention mask, then CLS, then normalized.
    REQUIRE_OK(ctx, tfm_embed_texts(ctx, m, k_texts, 3, &p, &e));
    CHECK_EQ_INT(e->dim, 32);
    CHECK_EQ_INT(e->lengths[0], 9);
    CHECK_EQ_INT(e->lengths[1], 5);
    CHECK_EQ_INT(e->lengths[2], 13);
    ref = ref_f64(ctx, st, "single_embed_mean", &n);
    REQUIRE(ref && n == 3 * 32);
    CHECK_RELERR(e->data, ref, n, 1e-5);
    tfm_embeddings_free(e);
    p.pooling = TFM_POOLING_CLS;
    p.normalize = 1;
    REQUIRE_OK(ctx, tfm_embed_texts(ctx, m, k_texts, 3, &p, &e));
    free(ref);
    ref = ref_f64(ctx, st, "single_embed_cls", &n);
    for (i = 0; i < 3; i++) {
        double s = 0;
        for (j = 0; j < 32; j++) s += ref[i * 32 + j] * ref[i * 32 + j];
        for (j = 0; j < 32; j++) ref[i * 32 + j] /= sqrt(s);
    }
    CHECK_RELERR(e->data, ref, n, 1e-5);
    tfm_embeddings_free(e);
    free(ref);
    // No pooling: every hidden state of the padded batch.
    p.pooling = TFM_POOLING_NONE;
    p.normalize = 0;
    REQUIRE_OK(ctx, tfm_embed_texts(ctx, m, k_texts, 3, &p, &e));
    CHECK_EQ_INT(e->seq_len, 13);
    ref = ref_f64(ctx, st, "single_hidden", &n);
    REQUIRE(n == 3 * 13 * 32);
    CHECK_RELERR(e->data, ref, n, 1e-5);
    free(ref);
    tfm_embeddings_free(e);
    tfm_safetensors_close(st);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(bert_task_fill_mask) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_safetensors *st = NULL;
    tfm_fill_mask_result *r = NULL;
    tfm_task_params p = tfm_task_params_default();
    const char *texts[2] = {"The capital of France is [MASK].", "[MASK] love this [MASK]!"};
    int64_t n, v, V;
    double *lg, mx = -1e300, sum = 0;
    int best = 0;
    REQUIRE_OK(ctx, load_named(ctx, "bert_mlm", &m));
    V = tfm_model_vocab_size(m);
    p.top_k = 3;
    REQUIRE_OK(ctx, tfm_fill_mask(ctx, m, texts, 2, &p, &r));
    CHECK_EQ_INT(r->n_masks, 3);
    CHECK_EQ_INT(r->top_k, 3);
    CHECK_EQ_INT(r->text[0], 0);
    CHECK_EQ_INT(r->position[0], 6);
    CHECK_EQ_INT(r->text[1], 1);
    CHECK_EQ_INT(r->position[1], 1);
    CHECK_EQ_INT(r->text[2], 1);
    CHECK(r->pred[0].score >= r->pred[1].score && r->pred[1].score >= r->pred[2].score);
    // The first mask against the reference logits of text 0, position 6.
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, tfmt_data("golden/bert/bert_mlm.ref.safetensors"), &st));
    lg = ref_f64(ctx, st, "single_mlm_logits", &n);
    REQUIRE(lg);
    lg += 6 * V;
    for (v = 0; v < V; v++)
        if (lg[v] > mx) mx = lg[v], best = (int)v;
    for (v = 0; v < V; v++) sum += exp(lg[v] - mx);
    CHECK_EQ_INT(r->pred[0].id, best);
    CHECK_NEAR(r->pred[0].score, 1.0 / sum, 1e-5);
    CHECK(r->pred[0].token != NULL);
    free(lg - 6 * V);
    tfm_fill_mask_result_free(r);
    // A text without a mask.
    texts[1] = "no mask here";
    CHECK_STATUS(tfm_fill_mask(ctx, m, texts, 2, &p, &r), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "text 1 has no [MASK]");
    CHECK(r == NULL);
    tfm_safetensors_close(st);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(bert_task_classify_pairs) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_safetensors *st = NULL;
    tfm_classification *c = NULL;
    const char *a[2] = {"The cat sat.", "Hello"};
    const char *b[2] = {"The dog ran away.", "I really love this [MASK]!"};
    int64_t n, i, j;
    double *lg;
    REQUIRE_OK(ctx, load_named(ctx, "bert_cls_bf16", &m));
    REQUIRE_OK(ctx, tfm_classify(ctx, m, a, b, 2, NULL, &c));
    CHECK_EQ_INT(c->n_labels, 3);
    CHECK_STR(c->labels[1], "neutral");
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, tfmt_data("golden/bert/bert_cls_bf16.ref.safetensors"), &st));
    lg = ref_f64(ctx, st, "pair_cls_logits", &n);
    REQUIRE(lg && n == 6);
    CHECK_RELERR(c->logits, lg, 6, 1e-5);
    for (i = 0; i < 2; i++) {
        double mx = lg[i * 3], s = 0;
        for (j = 1; j < 3; j++) mx = lg[i * 3 + j] > mx ? lg[i * 3 + j] : mx;
        for (j = 0; j < 3; j++) s += exp(lg[i * 3 + j] - mx);
        for (j = 0; j < 3; j++) CHECK_NEAR(c->probs[i * 3 + j], exp(lg[i * 3 + j] - mx) / s, 1e-6);
    }
    free(lg);
    tfm_classification_free(c);
    // Single texts with DistilBERT.
    tfm_model_free(m);
    tfm_safetensors_close(st);
    REQUIRE_OK(ctx, load_named(ctx, "distilbert_cls", &m));
    REQUIRE_OK(ctx, tfm_classify(ctx, m, k_texts, NULL, 3, NULL, &c));
    CHECK_STR(c->labels[c->best[0]], c->probs[0] > c->probs[1] ? "NEGATIVE" : "POSITIVE");
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, tfmt_data("golden/bert/distilbert_cls.ref.safetensors"), &st));
    lg = ref_f64(ctx, st, "single_cls_logits", &n);
    REQUIRE(lg && n == 6);
    CHECK_RELERR(c->logits, lg, 6, 1e-5);
    free(lg);
    tfm_classification_free(c);
    // A model without a classifier.
    tfm_model_free(m);
    REQUIRE_OK(ctx, load_named(ctx, "bert_mlm", &m));
    CHECK_STATUS(tfm_classify(ctx, m, k_texts, NULL, 3, NULL, &c), TFM_ERR_UNSUPPORTED);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "no classifier");
    tfm_safetensors_close(st);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(bert_too_long_text) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_embeddings *e = NULL;
    tfm_task_params p = tfm_task_params_default();
    char text[1024] = "";
    const char *texts[2];
    int32_t ids[41];
    tfm_encode_outputs o = tfm_encode_outputs_default();
    float hid[41 * 32];
    int i;
    REQUIRE_OK(ctx, load_named(ctx, "bert_mlm", &m));
    for (i = 0; i < 45; i++) strcat(text, "the cat ");
    texts[0] = "hello";
    texts[1] = text;
    CHECK_STATUS(tfm_embed_texts(ctx, m, texts, 2, &p, &e), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "40");
    CHECK(e == NULL);
    p.truncate = 1;
    REQUIRE_OK(ctx, tfm_embed_texts(ctx, m, texts, 2, &p, &e));
    CHECK_EQ_INT(e->lengths[1], 40);
    CHECK_EQ_INT(e->lengths[0], 3);
    tfm_embeddings_free(e);
    // Ids past the position table, and ids outside the vocabulary.
    for (i = 0; i < 41; i++) ids[i] = 5;
    o.hidden = hid;
    CHECK_STATUS(tfm_model_encode(ctx, m, ids, NULL, NULL, 1, 41, &o), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "max_position_embeddings");
    ids[3] = 5000;
    CHECK_STATUS(tfm_model_encode(ctx, m, ids, NULL, NULL, 1, 8, &o), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "token id 5000 at [0, 3]");
    ids[3] = 5;
    o.hidden = NULL;
    o.pooled = hid;
    CHECK_STATUS(tfm_model_encode(ctx, m, ids, NULL, NULL, 1, 8, &o), TFM_ERR_UNSUPPORTED);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "no pooler");
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

// ---- bad folders ----------------------------------------------------------------------------

static void expect_load_error(const char *src, const char *file, const char *edit,
                              tfm_status want, const char *msg1, const char *msg2) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = (tfm_model *)1;
    char rel[128];
    const char *dir;
    snprintf(rel, sizeof rel, "golden/bert/%s", src);
    dir = tfmt_scratch(rel, file, edit);
    if (!dir) {
        tfmt_fail(__FILE__, __LINE__, "cannot make a scratch copy of %s", src);
        tfm_ctx_free(ctx);
        return;
    }
    CHECK_STATUS(load_dir(ctx, dir, &m), want);
    if (msg1) CHECK_CONTAINS(tfm_ctx_last_error(ctx), msg1);
    if (msg2) CHECK_CONTAINS(tfm_ctx_last_error(ctx), msg2);
    CHECK(m == NULL);
    tfmt_scratch_clean(dir);
    tfm_ctx_free(ctx);
}

TEST(bert_bad_config_disagrees) {
    expect_load_error("bert_mlm", "config.json", "s/\"hidden_size\": 32/\"hidden_size\": 48/",
                      TFM_ERR_FORMAT, "bert.embeddings.word_embeddings.weight", "hidden_size 48");
    expect_load_error("distilbert_mlm", "config.json", "s/\"hidden_dim\": 40/\"hidden_dim\": 41/",
                      TFM_ERR_FORMAT, "transformer.layer.0.ffn.lin1.weight", "hidden_dim 41");
    expect_load_error("bert_mlm", "config.json", "s/\"num_hidden_layers\": 2/\"num_hidden_layers\": 3/",
                      TFM_ERR_NOT_FOUND, "encoder.layer.2.attention.self.query.weight", NULL);
    expect_load_error("bert_mlm", "config.json", "s/\"vocab_size\"/\"vocab_sizx\"/", TFM_ERR_NOT_FOUND,
                      "config.json", "vocab_size");
    expect_load_error("bert_mlm", "config.json", "s/\"num_attention_heads\": 4/\"num_attention_heads\": 5/",
                      TFM_ERR_FORMAT, "not a multiple", "num_attention_heads 5");
    expect_load_error("bert_mlm", "config.json", "s/\"hidden_act\": \"gelu\"/\"hidden_act\": \"mish\"/",
                      TFM_ERR_UNSUPPORTED, "hidden_act", "mish");
    expect_load_error("bert_cls_bf16", "config.json", "/\"2\": \"positive\"/d;s/\"neutral\",/\"neutral\"/",
                      TFM_ERR_FORMAT, "id2label", "classifier.weight");
}

TEST(bert_bad_weights) {
    // A missing tensor (renamed in the header), a missing file, a lying header.
    expect_load_error("bert_mlm", "model.safetensors",
                      "s/bert.encoder.layer.1.output.dense.bias/bert.encoder.layer.1.output.dense.bixs/",
                      TFM_ERR_NOT_FOUND, "encoder.layer.1.output.dense.bias", NULL);
    expect_load_error("bert_mlm", "model.safetensors", NULL, TFM_ERR_NOT_FOUND, "model.safetensors", NULL);
    expect_load_error("bert_sharded", "model-00002-of-00003.safetensors", NULL, TFM_ERR_NOT_FOUND,
                      "model-00002-of-00003.safetensors", NULL);
    expect_load_error("bert_mlm", "model.safetensors", "s/\"data_offsets\":\\[0,/\"data_offsets\":[9000000,/",
                      TFM_ERR_FORMAT, "model.safetensors", NULL);
    expect_load_error("bert_mlm", "config.json", "s/{/[/", TFM_ERR_FORMAT, "config.json", NULL);
    expect_load_error("bert_mlm", "config.json", NULL, TFM_ERR_NOT_FOUND, "config.json", NULL);
}

// ---- out of memory ----------------------------------------------------------------------------

// Loads a BF16 classifier (its weights converted and packed) and classifies
// two texts; every allocation failure must come back as TFM_ERR_NOMEM with
// nothing leaked.
static tfm_status oom_scenario(const tfm_ctx_params *params, void *arg) {
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_classification *c = NULL;
    tfm_status st;
    const char *texts[2] = {"The cat sat.", "Hello world!"};
    (void)arg;
    if ((st = tfm_ctx_create(params, &ctx))) return st;
    st = load_named(ctx, "bert_cls_bf16", &m);
    if (!st) st = tfm_classify(ctx, m, texts, NULL, 2, NULL, &c);
    tfm_classification_free(c);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return st;
}

TEST(bert_out_of_memory) { CHECK(OOM_WALK(oom_scenario, NULL) > 20); }

// The same batch on 1 and 3 threads gives the same bits.
TEST(bert_threads_bit_identical) {
    tfm_ctx *c1 = tfmt_ctx(1), *c3 = tfmt_ctx(3);
    tfm_model *m = NULL;
    tfm_safetensors *st = NULL;
    int64_t B, S, n;
    const int32_t *ids, *mask, *types;
    float *h1, *h3, *l1, *l3;
    tfm_encode_outputs o = tfm_encode_outputs_default();
    REQUIRE_OK(c1, load_named(c1, "bert_f16", &m));
    REQUIRE_OK(c1, tfm_safetensors_open(c1, tfmt_data("golden/bert/bert_f16.ref.safetensors"), &st));
    ids = ref_i32(c1, st, "pair_input_ids", &B, &S);
    mask = ref_i32(c1, st, "pair_attention_mask", &B, &S);
    types = ref_i32(c1, st, "pair_token_type_ids", &B, &S);
    REQUIRE(ids && mask && types);
    n = B * S * tfm_model_dim(m);
    h1 = (float *)malloc((size_t)n * sizeof(float));
    h3 = (float *)malloc((size_t)n * sizeof(float));
    l1 = (float *)malloc((size_t)(B * S * tfm_model_vocab_size(m)) * sizeof(float));
    l3 = (float *)malloc((size_t)(B * S * tfm_model_vocab_size(m)) * sizeof(float));
    o.hidden = h1;
    o.mlm_logits = l1;
    CHECK_OK(c1, tfm_model_encode(c1, m, ids, types, mask, (int32_t)B, (int32_t)S, &o));
    o.hidden = h3;
    o.mlm_logits = l3;
    CHECK_OK(c3, tfm_model_encode(c3, m, ids, types, mask, (int32_t)B, (int32_t)S, &o));
    CHECK(memcmp(h1, h3, (size_t)n * sizeof(float)) == 0);
    CHECK(memcmp(l1, l3, (size_t)(B * S * tfm_model_vocab_size(m)) * sizeof(float)) == 0);
    free(h1);
    free(h3);
    free(l1);
    free(l3);
    tfm_safetensors_close(st);
    tfm_model_free(m);
    tfm_ctx_free(c1);
    tfm_ctx_free(c3);
}

TEST(bert_bad_truncated_weights_and_no_vocab) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_embeddings *e = NULL;
    const char *text = "hello";
    char cmd[600];
    const char *dir = tfmt_scratch("golden/bert/distilbert_mlm", NULL, NULL);
    REQUIRE(dir);
    // A weights file cut short: the header promises more data than there is.
    snprintf(cmd, sizeof cmd, "truncate -s 20000 '%s/model.safetensors'", dir);
    REQUIRE(system(cmd) == 0);
    CHECK_STATUS(load_dir(ctx, dir, &m), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model.safetensors");
    CHECK(m == NULL);
    tfmt_scratch_clean(dir);
    // Without vocab.txt the model loads and encodes ids, but the text tasks
    // need a tokenizer.
    dir = tfmt_scratch("golden/bert/distilbert_mlm", "vocab.txt", NULL);
    REQUIRE(dir);
    REQUIRE_OK(ctx, load_dir(ctx, dir, &m));
    CHECK(tfm_model_tokenizer(m) == NULL);
    CHECK_STATUS(tfm_embed_texts(ctx, m, &text, 1, NULL, &e), TFM_ERR_UNSUPPORTED);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "no tokenizer");
    tfm_model_free(m);
    tfmt_scratch_clean(dir);
    tfm_ctx_free(ctx);
}
