/* NaN and infinities: propagated as PyTorch propagates them through the ops,
 * and the context's check_finite naming the layer where one first appears. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdlib.h>
#include <unistd.h>

static tfm_tensor *tensor(tfm_ctx *ctx, int ndim, const int64_t *shape, const float *v) {
    tfm_tensor *t = NULL;
    if (tfm_tensor_create(ctx, TFM_F32, ndim, shape, &t) != TFM_OK) return NULL;
    if (v) memcpy(t->data, v, (size_t)tfm_tensor_numel(t) * sizeof(float));
    return t;
}

static const float *f(const tfm_tensor *t) { return (const float *)t->data; }

// Rows [r0, r1) of t (rows of `cols`) are all NaN, or all finite.
static int rows_are(const tfm_tensor *t, int64_t cols, int64_t r0, int64_t r1, int nan) {
    int64_t i;
    for (i = r0 * cols; i < r1 * cols; i++)
        if (nan ? !isnan(f(t)[i]) : !isfinite(f(t)[i])) return 0;
    return 1;
}

TEST(nan_softmax_norms_activations) {
    tfm_ctx *ctx = tfmt_ctx(1);
    int64_t sh[2] = {4, 3};
    float x[12] = {NAN, NAN, NAN,  -INFINITY, -INFINITY, -INFINITY,
                   NAN, 1, 2,      INFINITY, 1, 2};
    tfm_tensor *t = tensor(ctx, 2, sh, x), *o = tensor(ctx, 2, sh, NULL);
    int a;
    REQUIRE(t && o);
    REQUIRE_OK(ctx, tfm_softmax(ctx, t, NULL, o));
    CHECK(rows_are(o, 3, 0, 1, 1));                          // NaN row: NaN (PyTorch)
    CHECK(f(o)[3] == 0.0f && f(o)[4] == 0.0f && f(o)[5] == 0.0f); // fully masked: zeros
    CHECK(rows_are(o, 3, 2, 4, 1));                          // a NaN, an inf: NaN
    REQUIRE_OK(ctx, tfm_layernorm(ctx, t, NULL, NULL, 1e-5f, o));
    CHECK(rows_are(o, 3, 0, 4, 1)); // inf - inf, NaN: every row NaN as in PyTorch
    REQUIRE_OK(ctx, tfm_rmsnorm(ctx, t, NULL, 1e-5f, o));
    CHECK(isnan(f(o)[0]) && isnan(f(o)[7]));
    for (a = TFM_ACT_RELU; a <= TFM_ACT_SIGMOID; a++) {
        REQUIRE_OK(ctx, tfm_activation(ctx, (tfm_act)a, t, o));
        CHECK(isnan(f(o)[0]) && isnan(f(o)[6]));
    }
    tfm_tensor_free(t);
    tfm_tensor_free(o);
    tfm_ctx_free(ctx);
}

// A NaN in one query row reaches that row's output only; a NaN key behind
// the key padding mask stays masked; a NaN key in the open reaches every row.
TEST(nan_attention_rows) {
    tfm_ctx *ctx = tfmt_ctx(2);
    int64_t sq[4] = {1, 1, 3, 4}, sk[4] = {1, 1, 5, 4}, sp[2] = {1, 5};
    tfm_tensor *q = tensor(ctx, 4, sq, NULL), *k = tensor(ctx, 4, sk, NULL),
               *v = tensor(ctx, 4, sk, NULL), *o = tensor(ctx, 4, sq, NULL), *pad = NULL;
    tfm_attn_params p = tfm_attn_params_default();
    tfm_attn_masks m = tfm_attn_masks_default();
    int i;
    REQUIRE(q && k && v && o);
    REQUIRE_OK(ctx, tfm_tensor_create(ctx, TFM_U8, 2, sp, &pad));
    for (i = 0; i < 12; i++) ((float *)q->data)[i] = 0.1f * (float)i;
    for (i = 0; i < 20; i++) ((float *)k->data)[i] = ((float *)v->data)[i] = 0.05f * (float)i;
    ((float *)q->data)[5] = NAN; // query row 1
    REQUIRE_OK(ctx, tfm_attention(ctx, q, k, v, &p, o, NULL));
    CHECK(rows_are(o, 4, 0, 1, 0) && rows_are(o, 4, 1, 2, 1) && rows_are(o, 4, 2, 3, 0));
    ((float *)q->data)[5] = 0.5f;
    ((float *)k->data)[17] = NAN; // key 4, padded
    ((uint8_t *)pad->data)[4] = 1;
    m.key_padding_mask = pad;
    p.masks = m;
    REQUIRE_OK(ctx, tfm_attention(ctx, q, k, v, &p, o, NULL));
    CHECK(rows_are(o, 4, 0, 3, 0));
    p.masks = tfm_attn_masks_default(); // the same key in the open
    REQUIRE_OK(ctx, tfm_attention(ctx, q, k, v, &p, o, NULL));
    CHECK(rows_are(o, 4, 0, 3, 1));
    tfm_tensor_free(q);
    tfm_tensor_free(k);
    tfm_tensor_free(v);
    tfm_tensor_free(o);
    tfm_tensor_free(pad);
    tfm_ctx_free(ctx);
}

TEST(nan_additive_attention_rows) {
    tfm_ctx *ctx = tfmt_ctx(1);
    int64_t sq[3] = {1, 2, 3}, sk[3] = {1, 4, 3}, sw[2] = {5, 3}, sv[1] = {5}, sc[3] = {1, 2, 3};
    tfm_tensor *q = tensor(ctx, 3, sq, NULL), *k = tensor(ctx, 3, sk, NULL),
               *wq = tensor(ctx, 2, sw, NULL), *wk = tensor(ctx, 2, sw, NULL),
               *vv = tensor(ctx, 1, sv, NULL), *c = tensor(ctx, 3, sc, NULL);
    tfm_additive_weights w = tfm_additive_weights_default();
    int i;
    REQUIRE(q && k && wq && wk && vv && c);
    for (i = 0; i < 6; i++) ((float *)q->data)[i] = 0.3f * (float)i - 0.7f;
    for (i = 0; i < 12; i++) ((float *)k->data)[i] = 0.1f * (float)i - 0.5f;
    for (i = 0; i < 15; i++) ((float *)wq->data)[i] = ((float *)wk->data)[i] = 0.02f * (float)i;
    for (i = 0; i < 5; i++) ((float *)vv->data)[i] = 1.0f - 0.3f * (float)i;
    ((float *)q->data)[4] = NAN; // query 1
    w.wq = wq;
    w.wk = wk;
    w.v = vv;
    REQUIRE_OK(ctx, tfm_additive_attention(ctx, &w, q, k, NULL, NULL, c, NULL));
    CHECK(rows_are(c, 3, 0, 1, 0) && rows_are(c, 3, 1, 2, 1));
    tfm_tensor_free(q);
    tfm_tensor_free(k);
    tfm_tensor_free(wq);
    tfm_tensor_free(wk);
    tfm_tensor_free(vv);
    tfm_tensor_free(c);
    tfm_ctx_free(ctx);
}

// ---- check_finite on a model whose weights hold a NaN -----------------------------

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b)) ok = 0;
    return ok;
}

// Copies the model folder `src` (files `names`) to a fresh folder `dir` and
// writes NaN into element `at` of the F32 tensor `tensor`.
static int poisoned_copy(const char *src, const char *const *names, const char *tensor,
                         long at, char *dir, size_t size) {
    char a[1024], b[1024], key[256], *hdr = NULL, *p;
    const char *base = getenv("TMPDIR");
    unsigned char n8[8];
    unsigned long long hlen = 0, off0 = 0, off1 = 0;
    float nan = NAN;
    FILE *fp;
    int i, ok = 0;
    snprintf(dir, size, "%s/tfm-nan-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return 0;
    for (i = 0; names[i]; i++) {
        snprintf(a, sizeof a, "%s/%s", src, names[i]);
        snprintf(b, sizeof b, "%s/%s", dir, names[i]);
        if (!copy_file(a, b)) return 0;
    }
    snprintf(b, sizeof b, "%s/model.safetensors", dir);
    if (!(fp = fopen(b, "r+b"))) return 0;
    if (fread(n8, 1, 8, fp) == 8) {
        for (i = 7; i >= 0; i--) hlen = hlen << 8 | n8[i];
        hdr = (char *)calloc(1, (size_t)hlen + 1);
    }
    snprintf(key, sizeof key, "\"%s\"", tensor);
    if (hdr && fread(hdr, 1, (size_t)hlen, fp) == hlen && (p = strstr(hdr, key)) &&
        (p = strstr(p, "\"data_offsets\"")) &&
        sscanf(p, "\"data_offsets\":[%llu,%llu]", &off0, &off1) == 2 &&
        off0 + (unsigned long long)(at + 1) * 4 <= off1 &&
        fseek(fp, (long)(8 + hlen + off0 + (unsigned long long)at * 4), SEEK_SET) == 0)
        ok = fwrite(&nan, 4, 1, fp) == 1;
    free(hdr);
    return fclose(fp) == 0 && ok;
}

static void rm_copy(const char *dir, const char *const *names) {
    char p[1024];
    int i;
    for (i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static tfm_ctx *checking_ctx(void) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    cp.check_finite = 1;
    return tfm_ctx_create(&cp, &ctx) == TFM_OK ? ctx : NULL;
}

TEST(check_finite_param_validated) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = (tfm_ctx *)1;
    CHECK_EQ_INT(cp.check_finite, 0);
    cp.check_finite = 2;
    CHECK_STATUS(tfm_ctx_create(&cp, &ctx), TFM_ERR_INVALID_ARG);
    CHECK(ctx == NULL);
    CHECK_STR(tfm_status_str(TFM_ERR_NUMERIC), "non-finite value");
}

TEST(check_finite_names_the_decoder_layer) {
    static const char *const names[] = {"config.json", "vocab.json", "merges.txt",
                                        "model.safetensors", NULL};
    char dir[512];
    tfm_ctx *ctx = tfmt_ctx(1), *chk = checking_ctx();
    tfm_model *m = NULL, *good = NULL;
    tfm_session *s = NULL;
    int32_t toks[3] = {5, 17, 9};
    const float *lg;
    REQUIRE(chk != NULL);
    REQUIRE(poisoned_copy(tfmt_data("golden/gpt2/tiny"), names, "h.1.mlp.c_proj.bias", 5, dir,
                          sizeof dir));
    // Off: the NaN propagates to the logits, as in PyTorch.
    REQUIRE_OK(ctx, tfm_model_load(ctx, dir, NULL, &m));
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    REQUIRE_OK(ctx, tfm_session_prefill(s, toks, 3, NULL));
    lg = tfm_session_logits(s);
    CHECK(lg && isnan(lg[0]));
    tfm_session_free(s);
    tfm_model_free(m);
    // So it does through quantized products (the NaN block's scale is NaN).
    {
        tfm_model_params mp = tfm_model_params_default();
        int w;
        for (w = TFM_WEIGHTS_Q8; w <= TFM_WEIGHTS_Q4; w++) {
            mp.weights = w;
            REQUIRE_OK(ctx, tfm_model_load(ctx, dir, &mp, &m));
            REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
            REQUIRE_OK(ctx, tfm_session_prefill(s, toks, 3, NULL));
            lg = tfm_session_logits(s);
            CHECK(lg && isnan(lg[0]) && isnan(lg[tfm_model_vocab_size(m) - 1]));
            tfm_session_free(s);
            tfm_model_free(m);
        }
    }
    // On: the call stops at the first block whose output is not finite.
    REQUIRE_OK(chk, tfm_model_load(chk, dir, NULL, &m));
    REQUIRE_OK(chk, tfm_session_create(chk, m, NULL, &s));
    CHECK_STATUS(tfm_session_prefill(s, toks, 3, NULL), TFM_ERR_NUMERIC);
    CHECK_STR(tfm_ctx_last_error(chk), "decoder: layer 1: feed-forward holds nan at [0, 0, 5]");
    tfm_session_free(s);
    tfm_model_free(m);
    // And a sound model runs unchanged with the check on.
    REQUIRE_OK(chk, tfm_model_load(chk, tfmt_data("golden/gpt2/tiny"), NULL, &good));
    REQUIRE_OK(chk, tfm_session_create(chk, good, NULL, &s));
    REQUIRE_OK(chk, tfm_session_prefill(s, toks, 3, NULL));
    tfm_session_free(s);
    tfm_model_free(good);
    rm_copy(dir, names);
    tfm_ctx_free(ctx);
    tfm_ctx_free(chk);
}

TEST(check_finite_names_the_encoder_layer) {
    static const char *const names[] = {"config.json", "vocab.txt", "model.safetensors", NULL};
    char dir[512];
    tfm_ctx *chk = checking_ctx();
    tfm_model *m = NULL;
    tfm_fill_mask_result *r = NULL;
    const char *texts[1] = {"the [MASK] is small"};
    REQUIRE(chk != NULL);
    REQUIRE(poisoned_copy(tfmt_data("golden/bert/bert_mlm"), names,
                          "bert.encoder.layer.1.output.dense.bias", 3, dir, sizeof dir));
    REQUIRE_OK(chk, tfm_model_load(chk, dir, NULL, &m));
    CHECK_STATUS(tfm_fill_mask(chk, m, texts, 1, NULL, &r), TFM_ERR_NUMERIC);
    CHECK(r == NULL);
    CHECK_STR(tfm_ctx_last_error(chk), "bert: layer 1: feed-forward holds nan at [0, 0, 3]");
    tfm_model_free(m);
    rm_copy(dir, names);
    // A NaN from a layer's last norm is named as that layer's output.
    REQUIRE(poisoned_copy(tfmt_data("golden/bert/bert_mlm"), names,
                          "bert.encoder.layer.0.output.LayerNorm.weight", 2, dir, sizeof dir));
    REQUIRE_OK(chk, tfm_model_load(chk, dir, NULL, &m));
    CHECK_STATUS(tfm_fill_mask(chk, m, texts, 1, NULL, &r), TFM_ERR_NUMERIC);
    CHECK_STR(tfm_ctx_last_error(chk), "bert: layer 0: output holds nan at [0, 0, 2]");
    tfm_model_free(m);
    rm_copy(dir, names);
    tfm_ctx_free(chk);
}
