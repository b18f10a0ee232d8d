/*
 * Parameter structs across library versions: tfm_X_init never writes past
 * the size it is given, and every function given a struct whose struct_size
 * stops at an earlier field (a caller built against an older header) uses
 * the defaults for the fields past it, and rejects sizes it cannot know.
 */
#include "../harness.h"

#include <stddef.h>
#include <stdlib.h>

#define GUARD 40

/* For each size k: tfm_X_init(p, k) leaves every byte at or past k (and all
 * bytes for k < sizeof(size_t)) as it was, writes the defaults below k, and
 * sets struct_size to min(k, sizeof); past sizeof (a newer caller) it zeroes
 * the bytes up to k. */
#define CHECK_INIT(T)                                                           \
    do {                                                                        \
        union { T t; unsigned char b[sizeof(T) + GUARD]; } u, r;               \
        size_t ks[9], ki, i;                                                    \
        T d = T##_default();                                                    \
        CHECK(d.struct_size == sizeof(T));                                     \
        T##_init(NULL, sizeof(T));                                              \
        memset(&r, 0, sizeof r);                                                \
        T##_init(&r.t, sizeof(T));                                              \
        CHECK(r.t.struct_size == sizeof(T));                                   \
        ks[0] = 0; ks[1] = 1; ks[2] = sizeof(size_t) - 1;                       \
        ks[3] = sizeof(size_t); ks[4] = sizeof(size_t) + 4;                     \
        ks[5] = sizeof(T) / 2; ks[6] = sizeof(T) - 1; ks[7] = sizeof(T);        \
        ks[8] = sizeof(T) + GUARD / 2;                                          \
        for (ki = 0; ki < 9; ki++) {                                            \
            size_t k = ks[ki], n = k < sizeof(T) ? k : sizeof(T), got;          \
            int bad = 0;                                                        \
            memset(u.b, 0xA5, sizeof u.b);                                      \
            T##_init(&u.t, k);                                                  \
            if (k < sizeof(size_t)) {                                           \
                for (i = 0; i < sizeof u.b; i++) bad |= u.b[i] != 0xA5;         \
                if (bad) tfmt_fail(__FILE__, __LINE__, "%s_init(p, %zu) wrote", \
                                   #T, k);                                      \
                continue;                                                       \
            }                                                                   \
            memcpy(&got, u.b, sizeof got);                                      \
            if (got != n)                                                       \
                tfmt_fail(__FILE__, __LINE__, "%s_init(p, %zu): struct_size %zu", \
                          #T, k, got);                                          \
            for (i = sizeof(size_t); i < n; i++) bad |= u.b[i] != r.b[i];       \
            for (i = n; i < k; i++) bad |= u.b[i] != 0;                         \
            for (i = k > n ? k : n; i < sizeof u.b; i++) bad |= u.b[i] != 0xA5; \
            if (bad)                                                            \
                tfmt_fail(__FILE__, __LINE__, "%s_init(p, %zu): wrong bytes",  \
                          #T, k);                                               \
        }                                                                       \
    } while (0)

TEST(params_init_never_writes_past_the_size) {
    CHECK_INIT(tfm_ctx_params);
    CHECK_INIT(tfm_embed_weights);
    CHECK_INIT(tfm_norm_weights);
    CHECK_INIT(tfm_attn_masks);
    CHECK_INIT(tfm_attn_params);
    CHECK_INIT(tfm_kv_cache_params);
    CHECK_INIT(tfm_mha_params);
    CHECK_INIT(tfm_mha_weights);
    CHECK_INIT(tfm_additive_weights);
    CHECK_INIT(tfm_ffn_params);
    CHECK_INIT(tfm_ffn_weights);
    CHECK_INIT(tfm_layer_params);
    CHECK_INIT(tfm_layer_weights);
    CHECK_INIT(tfm_model_params);
    CHECK_INIT(tfm_session_params);
    CHECK_INIT(tfm_gen_params);
    CHECK_INIT(tfm_tokenizer_params);
    CHECK_INIT(tfm_encode_params);
    CHECK_INIT(tfm_encode_outputs);
    CHECK_INIT(tfm_task_params);
    CHECK_INIT(tfm_translate_params);
}

TEST(params_defaults_are_the_documented_ones) {
    tfm_gen_params g = tfm_gen_params_default();
    tfm_layer_weights lw = tfm_layer_weights_default();
    tfm_attn_params ap = tfm_attn_params_default();
    CHECK(g.seed == 42 && g.temperature == 1.0f && g.max_new_tokens == 256);
    CHECK(tfm_ctx_params_default().alignment == 64);
    CHECK(tfm_mha_params_default().prepack == 1);
    // Embedded structs carry their own struct_size.
    CHECK(lw.self_attn.struct_size == sizeof(tfm_mha_weights));
    CHECK(lw.ffn.struct_size == sizeof(tfm_ffn_weights));
    CHECK(lw.ffn_norm.struct_size == sizeof(tfm_norm_weights));
    CHECK(ap.masks.struct_size == sizeof(tfm_attn_masks));
}

// ---- functions given older structs ------------------------------------------------

static float g_w[8][64];
static tfm_tensor g_t[8];

// Tensor i: f32 over g_w[i] (filled with small values), shape (a, b).
static tfm_tensor *mat(int i, int64_t a, int64_t b) {
    int64_t sh[2];
    int j;
    sh[0] = a;
    sh[1] = b;
    for (j = 0; j < 64; j++) g_w[i][j] = 0.05f * (float)((j * 7 + i * 3) % 11) - 0.2f;
    tfm_tensor_wrap(&g_t[i], TFM_F32, b ? 2 : 1, sh, g_w[i]);
    return &g_t[i];
}

TEST(params_older_ctx_params) {
    tfm_ctx_params p = tfm_ctx_params_default();
    tfm_ctx *c;
    p.n_threads = 0; // invalid, but past the caller's struct
    p.struct_size = offsetof(tfm_ctx_params, n_threads);
    REQUIRE(tfm_ctx_create(&p, &c) == TFM_OK);
    CHECK(tfm_ctx_n_threads(c) == 1);
    tfm_ctx_free(c);
    p.n_threads = 2;
    p.alignment = 3; // invalid, past the cut
    p.struct_size = offsetof(tfm_ctx_params, alignment);
    REQUIRE(tfm_ctx_create(&p, &c) == TFM_OK);
    CHECK(tfm_ctx_n_threads(c) == 2);
    tfm_ctx_free(c);
    p.struct_size = sizeof p;
    CHECK(tfm_ctx_create(&p, &c) == TFM_ERR_INVALID_ARG);
    p = tfm_ctx_params_default();
    p.struct_size = sizeof p + 8;
    CHECK(tfm_ctx_create(&p, &c) == TFM_ERR_INVALID_ARG);
    p.struct_size = 4;
    CHECK(tfm_ctx_create(&p, &c) == TFM_ERR_INVALID_ARG);
    CHECK(c == NULL);
}

TEST(params_older_embed_weights) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_embed_weights w = tfm_embed_weights_default();
    int32_t idv[2] = {1, 2};
    float outv[2 * 4];
    int64_t ish[2] = {1, 2}, osh[3] = {1, 2, 4};
    tfm_tensor ids, out;
    tfm_tensor_wrap(&ids, TFM_I32, 2, ish, idv);
    tfm_tensor_wrap(&out, TFM_F32, 3, osh, outv);
    w.tokens = mat(0, 3, 4);
    w.token_scale = 5.0f;
    w.sinusoidal = 99;
    w.pos_offset = -7;
    w.struct_size = offsetof(tfm_embed_weights, token_scale);
    CHECK_OK(ctx, tfm_embed(ctx, &w, &ids, NULL, 0, &out));
    CHECK(memcmp(outv, g_w[0] + 4, sizeof outv) == 0);
    w.struct_size = sizeof w;
    CHECK(tfm_embed(ctx, &w, &ids, NULL, 0, &out) != TFM_OK);
    w.struct_size = sizeof w + 1;
    CHECK_STATUS(tfm_embed(ctx, &w, &ids, NULL, 0, &out), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "struct_size");
    tfm_ctx_free(ctx);
}

TEST(params_older_attn_params_and_norm_weights) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_attn_params p = tfm_attn_params_default();
    tfm_norm_weights nw = tfm_norm_weights_default();
    float o1[4], o2[4], ny[8];
    int64_t sh[4] = {1, 1, 2, 2}, xsh[2] = {2, 4};
    tfm_tensor q, out1, out2, x, y;
    tfm_tensor_wrap(&q, TFM_F32, 4, sh, g_w[1]);
    tfm_tensor_wrap(&out1, TFM_F32, 4, sh, o1);
    tfm_tensor_wrap(&out2, TFM_F32, 4, sh, o2);
    mat(1, 4, 0);
    p.causal = 1;
    p.masks.attn_mask = mat(2, 3, 3); // does not broadcast onto [1, 1, 2, 2]
    p.struct_size = offsetof(tfm_attn_params, causal);
    CHECK_OK(ctx, tfm_attention(ctx, &q, &q, &q, NULL, &out1, NULL));
    CHECK_OK(ctx, tfm_attention(ctx, &q, &q, &q, &p, &out2, NULL));
    CHECK(memcmp(o1, o2, sizeof o1) == 0);
    p.struct_size = sizeof p;
    CHECK_STATUS(tfm_attention(ctx, &q, &q, &q, &p, &out2, NULL), TFM_ERR_SHAPE);
    p.struct_size = 0;
    CHECK_STATUS(tfm_attention(ctx, &q, &q, &q, &p, &out2, NULL), TFM_ERR_INVALID_ARG);

    tfm_tensor_wrap(&x, TFM_F32, 2, xsh, g_w[3]);
    tfm_tensor_wrap(&y, TFM_F32, 2, xsh, ny);
    mat(3, 2, 4);
    nw.gamma = NULL;
    nw.beta = mat(4, 3, 0); // wrong width, past the cut
    nw.struct_size = offsetof(tfm_norm_weights, beta);
    CHECK_OK(ctx, tfm_norm(ctx, TFM_NORM_LAYER, &x, &nw, 1e-5f, &y));
    nw.struct_size = sizeof nw;
    CHECK_STATUS(tfm_norm(ctx, TFM_NORM_LAYER, &x, &nw, 1e-5f, &y), TFM_ERR_SHAPE);
    nw.struct_size = 0;
    CHECK_STATUS(tfm_norm(ctx, TFM_NORM_LAYER, &x, &nw, 1e-5f, &y), TFM_ERR_INVALID_ARG);
    tfm_ctx_free(ctx);
}

TEST(params_older_mha_structs_and_masks) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_attn_masks m = tfm_attn_masks_default();
    tfm_mha *mha = NULL;
    float xv[2 * 4], ov[2 * 4];
    int64_t sh[3] = {1, 2, 4};
    tfm_tensor x, out;
    p.d_model = 4;
    p.n_heads = 2;
    p.head_dim = 1; // wq [2, 4]: in_out = 1 would want [4, 2]
    w.wq = mat(0, 2, 4);
    w.wk = mat(1, 2, 4);
    w.wv = mat(2, 2, 4);
    w.wo = mat(3, 4, 2);
    // Params: kdim past the cut (a kdim of 7 does not fit wk).
    p.kdim = 7;
    p.struct_size = offsetof(tfm_mha_params, kdim);
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &mha));
    tfm_mha_free(mha);
    p.struct_size = sizeof p;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &mha), TFM_ERR_SHAPE);
    CHECK(mha == NULL);
    p.kdim = 0;
    // Weights: in_out past the cut.
    w.in_out = 1;
    w.struct_size = offsetof(tfm_mha_weights, in_out);
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &mha));
    tfm_mha_free(mha);
    w.struct_size = sizeof w;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &mha), TFM_ERR_SHAPE);
    w.struct_size = sizeof w + 8;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &mha), TFM_ERR_INVALID_ARG);
    w.in_out = 0;
    w.struct_size = sizeof w;
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &mha));
    // Masks: attn_mask past the cut.
    tfm_tensor_wrap(&x, TFM_F32, 3, sh, xv);
    tfm_tensor_wrap(&out, TFM_F32, 3, sh, ov);
    memcpy(xv, g_w[0], sizeof xv);
    m.attn_mask = mat(4, 3, 3);
    m.struct_size = offsetof(tfm_attn_masks, attn_mask);
    CHECK_OK(ctx, tfm_mha_forward(ctx, mha, &x, NULL, NULL, &m, NULL, 0, NULL, &out, NULL));
    m.struct_size = sizeof m;
    CHECK_STATUS(tfm_mha_forward(ctx, mha, &x, NULL, NULL, &m, NULL, 0, NULL, &out, NULL),
                 TFM_ERR_SHAPE);
    m.struct_size = 2;
    CHECK_STATUS(tfm_mha_forward(ctx, mha, &x, NULL, NULL, &m, NULL, 0, NULL, &out, NULL),
                 TFM_ERR_INVALID_ARG);
    tfm_mha_free(mha);
    tfm_ctx_free(ctx);
}

TEST(params_older_kv_cache_additive_ffn) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_kv_cache_params cp = tfm_kv_cache_params_default();
    tfm_additive_weights aw = tfm_additive_weights_default();
    tfm_ffn_params fp = tfm_ffn_params_default();
    tfm_ffn_weights fw = tfm_ffn_weights_default();
    tfm_kv_cache *cache = NULL;
    tfm_ffn *ffn = NULL;
    float qv[4], cv[4];
    int64_t qsh[3] = {1, 1, 4};
    tfm_tensor q, c;
    // KV cache: max_seq is required (default 0); cut before it, it is unset.
    cp.n_kv_heads = 1;
    cp.head_dim = 2;
    cp.max_seq = 4;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &cp, &cache));
    tfm_kv_cache_free(cache);
    cp.struct_size = offsetof(tfm_kv_cache_params, max_seq);
    CHECK_STATUS(tfm_kv_cache_create(ctx, &cp, &cache), TFM_ERR_INVALID_ARG);
    cp.struct_size = sizeof cp + 8;
    CHECK_STATUS(tfm_kv_cache_create(ctx, &cp, &cache), TFM_ERR_INVALID_ARG);

    // Additive attention: v is required and last; the bias before it.
    tfm_tensor_wrap(&q, TFM_F32, 3, qsh, qv);
    tfm_tensor_wrap(&c, TFM_F32, 3, qsh, cv);
    memcpy(qv, g_w[0], sizeof qv);
    aw.wq = mat(1, 2, 4);
    aw.wk = mat(2, 2, 4);
    aw.v = mat(3, 2, 0);
    CHECK_OK(ctx, tfm_additive_attention(ctx, &aw, &q, &q, NULL, NULL, &c, NULL));
    aw.struct_size = offsetof(tfm_additive_weights, v);
    CHECK_STATUS(tfm_additive_attention(ctx, &aw, &q, &q, NULL, NULL, &c, NULL),
                 TFM_ERR_INVALID_ARG);
    aw.struct_size = sizeof aw + 8;
    CHECK_STATUS(tfm_additive_attention(ctx, &aw, &q, &q, NULL, NULL, &c, NULL),
                 TFM_ERR_INVALID_ARG);

    // Feed-forward: gated (w3 missing) and in_out past the cuts.
    fp.d_model = 4;
    fp.d_ff = 6;
    fp.gated = 1;
    fw.w1 = mat(4, 6, 4);
    fw.w2 = mat(5, 4, 6);
    fp.struct_size = offsetof(tfm_ffn_params, gated);
    REQUIRE_OK(ctx, tfm_ffn_create(ctx, &fp, &fw, &ffn));
    tfm_ffn_free(ffn);
    fp.struct_size = sizeof fp;
    CHECK_STATUS(tfm_ffn_create(ctx, &fp, &fw, &ffn), TFM_ERR_INVALID_ARG);
    fp.gated = 0;
    fw.in_out = 1;
    fw.struct_size = offsetof(tfm_ffn_weights, in_out);
    REQUIRE_OK(ctx, tfm_ffn_create(ctx, &fp, &fw, &ffn));
    tfm_ffn_free(ffn);
    fw.struct_size = sizeof fw;
    CHECK_STATUS(tfm_ffn_create(ctx, &fp, &fw, &ffn), TFM_ERR_SHAPE);
    tfm_ctx_free(ctx);
}

TEST(params_older_layer_structs) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_layer_params p = tfm_layer_params_default();
    tfm_layer_weights w = tfm_layer_weights_default();
    tfm_encoder_layer *l = NULL;
    tfm_encoder *enc = NULL;
    tfm_norm_weights fn = tfm_norm_weights_default();
    p.d_model = 4;
    p.n_heads = 2;
    p.d_ff = 6;
    w.self_attn.wq = mat(0, 4, 4);
    w.self_attn.wk = mat(1, 4, 4);
    w.self_attn.wv = mat(2, 4, 4);
    w.self_attn.wo = mat(3, 4, 4);
    w.ffn.w1 = mat(4, 6, 4);
    w.ffn.w2 = mat(5, 4, 6);
    p.norm = 99;
    p.struct_size = offsetof(tfm_layer_params, norm);
    REQUIRE_OK(ctx, tfm_encoder_layer_create(ctx, &p, &w, &l));
    tfm_encoder_layer_free(l);
    p.struct_size = sizeof p;
    CHECK_STATUS(tfm_encoder_layer_create(ctx, &p, &w, &l), TFM_ERR_INVALID_ARG);
    p.norm = TFM_NORM_LAYER;
    w.attn_norm.gamma = mat(6, 3, 0);
    w.struct_size = offsetof(tfm_layer_weights, attn_norm);
    REQUIRE_OK(ctx, tfm_encoder_layer_create(ctx, &p, &w, &l));
    tfm_encoder_layer_free(l);
    w.struct_size = sizeof w;
    CHECK_STATUS(tfm_encoder_layer_create(ctx, &p, &w, &l), TFM_ERR_SHAPE);
    w.attn_norm.gamma = NULL;
    // The final norm of a stack: gamma past the cut.
    fn.gamma = mat(6, 3, 0);
    fn.struct_size = offsetof(tfm_norm_weights, gamma);
    REQUIRE_OK(ctx, tfm_encoder_create(ctx, &p, 1, &w, &fn, &enc));
    tfm_encoder_free(enc);
    fn.struct_size = sizeof fn;
    CHECK_STATUS(tfm_encoder_create(ctx, &p, 1, &w, &fn, &enc), TFM_ERR_SHAPE);
    fn.struct_size = 0;
    CHECK_STATUS(tfm_encoder_create(ctx, &p, 1, &w, &fn, &enc), TFM_ERR_INVALID_ARG);
    tfm_ctx_free(ctx);
}

TEST(params_older_model_session_gen) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model_params mp = tfm_model_params_default();
    tfm_session_params sp = tfm_session_params_default();
    tfm_gen_params gp = tfm_gen_params_default();
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    const char *dir = tfmt_data("golden/gpt2/tiny");
    int32_t prompt[2] = {1, 2}, a[4], b[4], na = 0, nb = 0;
    // Model: no_tokenizer past the cut, so the folder's tokenizer loads.
    mp.no_tokenizer = 1;
    mp.struct_size = offsetof(tfm_model_params, no_tokenizer);
    REQUIRE_OK(ctx, tfm_model_load(ctx, dir, &mp, &m));
    CHECK(tfm_model_tokenizer(m) != NULL);
    tfm_model_free(m);
    mp.struct_size = sizeof mp;
    REQUIRE_OK(ctx, tfm_model_load(ctx, dir, &mp, &m));
    CHECK(tfm_model_tokenizer(m) == NULL);
    mp.struct_size = sizeof mp + 8;
    {
        tfm_model *m2 = NULL;
        CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &m2), TFM_ERR_INVALID_ARG);
    }
    // Session: max_context past the cut.
    sp.max_context = -1;
    sp.struct_size = offsetof(tfm_session_params, max_context);
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, &sp, &s));
    CHECK(tfm_session_max_context(s) == tfm_model_max_context(m));
    sp.struct_size = sizeof sp;
    {
        tfm_session *s2 = NULL;
        CHECK_STATUS(tfm_session_create(ctx, m, &sp, &s2), TFM_ERR_INVALID_ARG);
    }
    // Generation: temperature (invalid) past the cut gives the defaults'
    // tokens.
    gp.max_new_tokens = 4;
    gp.stop_token = -1;
    CHECK_OK(ctx, tfm_generate_tokens(s, prompt, 2, &gp, a, 4, &na, NULL));
    gp.temperature = -1.0f;
    gp.struct_size = offsetof(tfm_gen_params, temperature);
    CHECK_OK(ctx, tfm_generate_tokens(s, prompt, 2, &gp, b, 4, &nb, NULL));
    CHECK(nb == 4 && na == 4 && memcmp(a, b, sizeof a) == 0);
    gp.struct_size = sizeof gp;
    CHECK_STATUS(tfm_generate_tokens(s, prompt, 2, &gp, b, 4, &nb, NULL), TFM_ERR_INVALID_ARG);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(params_older_tokenizer_structs) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer_params tp = tfm_tokenizer_params_default();
    tfm_encode_params ep = tfm_encode_params_default();
    tfm_tokenizer *tok = NULL;
    int32_t ids[16];
    size_t n = 0;
    tp.type = 99;
    tp.struct_size = offsetof(tfm_tokenizer_params, type);
    REQUIRE_OK(ctx, tfm_tokenizer_load(ctx, tfmt_data("golden/bert/bert_mlm"), &tp, &tok));
    CHECK(tfm_tokenizer_type_of(tok) == TFM_TOKENIZER_WORDPIECE);
    tp.struct_size = sizeof tp + 4;
    {
        tfm_tokenizer *t2 = NULL;
        CHECK_STATUS(tfm_tokenizer_load(ctx, tfmt_data("golden/bert/bert_mlm"), &tp, &t2),
                     TFM_ERR_INVALID_ARG);
    }
    ep.add_special = 0;
    ep.struct_size = offsetof(tfm_encode_params, add_special);
    CHECK_OK(ctx, tfm_tokenizer_encode(ctx, tok, "hello", TFM_STRLEN, NULL, 0, &ep, ids, NULL,
                                       NULL, 16, &n));
    CHECK(n >= 2 && ids[0] == tfm_tokenizer_special_id(tok, TFM_TOKEN_CLS));
    ep.struct_size = sizeof ep;
    CHECK_OK(ctx, tfm_tokenizer_encode(ctx, tok, "hello", TFM_STRLEN, NULL, 0, &ep, ids, NULL,
                                       NULL, 16, &n));
    CHECK(n >= 1 && ids[0] != tfm_tokenizer_special_id(tok, TFM_TOKEN_CLS));
    ep.struct_size = 1;
    CHECK_STATUS(tfm_tokenizer_encode(ctx, tok, "hello", TFM_STRLEN, NULL, 0, &ep, ids, NULL,
                                      NULL, 16, &n),
                 TFM_ERR_INVALID_ARG);
    tfm_tokenizer_free(tok);
    tfm_ctx_free(ctx);
}

TEST(params_older_encoder_task_structs) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_encode_outputs o = tfm_encode_outputs_default();
    tfm_task_params tp = tfm_task_params_default();
    tfm_embeddings *e = NULL;
    const char *texts[1] = {"hello world"};
    int32_t ids[3] = {2, 5, 3};
    float *hidden, cls[16];
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/bert/bert_mlm"), NULL, &m));
    REQUIRE(!(tfm_model_heads(m) & TFM_HEAD_CLASSIFIER));
    hidden = (float *)malloc((size_t)3 * (size_t)tfm_model_dim(m) * sizeof(float));
    REQUIRE(hidden);
    o.hidden = hidden;
    o.class_logits = cls; // the model has no classifier: past the cut
    o.struct_size = offsetof(tfm_encode_outputs, class_logits);
    CHECK_OK(ctx, tfm_model_encode(ctx, m, ids, NULL, NULL, 1, 3, &o));
    o.struct_size = sizeof o;
    CHECK_STATUS(tfm_model_encode(ctx, m, ids, NULL, NULL, 1, 3, &o), TFM_ERR_UNSUPPORTED);
    o.struct_size = sizeof o + 8;
    CHECK_STATUS(tfm_model_encode(ctx, m, ids, NULL, NULL, 1, 3, &o), TFM_ERR_INVALID_ARG);
    tp.top_k = 0; // invalid, past the cut
    tp.struct_size = offsetof(tfm_task_params, top_k);
    CHECK_OK(ctx, tfm_embed_texts(ctx, m, texts, 1, &tp, &e));
    tfm_embeddings_free(e);
    tp.struct_size = sizeof tp;
    CHECK_STATUS(tfm_embed_texts(ctx, m, texts, 1, &tp, &e), TFM_ERR_INVALID_ARG);
    free(hidden);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(params_older_translate_params) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_translate_params p = tfm_translate_params_default();
    tfm_translate_result *r = NULL;
    int32_t src[3];
    const int32_t *srcs[1];
    int32_t lens[1] = {3};
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/marian/marian_tiny"), NULL, &m));
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    src[0] = 5;
    src[1] = 6;
    src[2] = tfm_model_eos(m);
    srcs[0] = src;
    p.max_length = 3;
    p.beam_size = -1; // invalid, past the cut
    p.struct_size = offsetof(tfm_translate_params, beam_size);
    CHECK_OK(ctx, tfm_translate_tokens(s, srcs, lens, 1, &p, &r));
    tfm_translate_result_free(r);
    p.struct_size = sizeof p;
    CHECK_STATUS(tfm_translate_tokens(s, srcs, lens, 1, &p, &r), TFM_ERR_INVALID_ARG);
    p.struct_size = sizeof p + 8;
    CHECK_STATUS(tfm_translate_tokens(s, srcs, lens, 1, &p, &r), TFM_ERR_INVALID_ARG);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}
