/*
 * Workspaces end to end: with a counting allocator hook, a decoder
 * session's prefill and steps, a translation's decoding steps (greedy and
 * beam search, watched through the abort callback that runs between steps)
 * and the layer forward calls given a workspace of the size they report
 * make no allocator call (a translation's after one warm-up call: its first
 * beam reorder allocates a buffer the cache keeps); an encoder task sizes
 * its scratch once per call (one block, whatever the number of layers).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static tfm_ctx *counting_ctx(tfmt_alloc_state *st, int threads) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    memset(st, 0, sizeof *st);
    cp.alloc = tfmt_alloc;
    cp.alloc_ud = st;
    cp.n_threads = threads;
    if (tfm_ctx_create(&cp, &ctx) != TFM_OK) return NULL;
    return ctx;
}

// ---- decoder sessions ---------------------------------------------------------------------

// Prefill (whole and in pieces, with and without every token's logits) and
// steps, counted after the session exists.
static void decoder_case(const char *path, const char *tok, int threads, int prepack,
                         int32_t max_batch) {
    tfmt_alloc_state st;
    tfm_ctx *ctx = counting_ctx(&st, threads);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_session_params sp = tfm_session_params_default();
    int32_t ids[9], i, V;
    float *all;
    long before;
    REQUIRE(ctx);
    mp.no_tokenizer = tok == NULL;
    mp.tokenizer_path = tok;
    mp.prepack = prepack;
    if (tfm_model_load(ctx, path, &mp, &m) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "%s: %s", path, tfm_ctx_last_error(ctx));
        tfm_ctx_free(ctx);
        return;
    }
    V = tfm_model_vocab_size(m);
    sp.max_context = tfm_model_max_context(m) < 64 ? tfm_model_max_context(m) : 64;
    sp.max_batch = max_batch;
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, &sp, &s));
    all = (float *)malloc((size_t)9 * (size_t)V * sizeof(float));
    REQUIRE(all);
    for (i = 0; i < 9; i++) ids[i] = (i * 7 + 3) % V;
    before = st.n_allocs;
    CHECK_OK(ctx, tfm_session_prefill(s, ids, 9, NULL));
    for (i = 0; i < 5; i++) CHECK_OK(ctx, tfm_session_step(s, ids[i], NULL));
    tfm_session_reset(s);
    CHECK_OK(ctx, tfm_session_prefill(s, ids, 9, all));
    CHECK_OK(ctx, tfm_session_prefill(s, ids, 3, NULL));
    CHECK_OK(ctx, tfm_session_step(s, ids[1], all));
    CHECK_EQ_INT(st.n_allocs - before, 0);
    free(all);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    CHECK_EQ_INT(st.live_blocks, 0);
}

TEST(zero_alloc_decoder_sessions) {
    char gpt2[512], llama[512];
    snprintf(gpt2, sizeof gpt2, "%s", tfmt_data("golden/gpt2/tiny"));
    snprintf(llama, sizeof llama, "%s", tfmt_data("golden/llama/tiny"));
    decoder_case(gpt2, NULL, 1, 1, 0);
    decoder_case(gpt2, NULL, 2, 1, 4); // the prompt in pieces of 4
    decoder_case(gpt2, NULL, 2, 0, 0); // weights used where they lie
    decoder_case(llama, NULL, 2, 1, 0);
    decoder_case(llama, NULL, 1, 0, 2);
}

TEST(zero_alloc_stories260k) {
    char bin[512], tok[512];
    const char *b = tfmt_shared("models/stories260K/stories260K.bin");
    if (!b) SKIP("../shared absent: stories260K not available");
    snprintf(bin, sizeof bin, "%s", b);
    snprintf(tok, sizeof tok, "%s", tfmt_shared("models/stories260K/tok512.bin"));
    decoder_case(bin, tok, 1, 1, 0);
    decoder_case(bin, tok, 2, 1, 0);
}

// ---- translation ---------------------------------------------------------------------------

typedef struct {
    const tfmt_alloc_state *st;
    long at[64];
    int n;
} watch;

// The abort callback: runs after the encoder and between decoding steps.
static int on_step(void *ud) {
    watch *w = (watch *)ud;
    if (w->n < 64) w->at[w->n++] = w->st->n_allocs;
    return 0;
}

static void translate_case(int threads, int beams) {
    tfmt_alloc_state st;
    tfm_ctx *ctx = counting_ctx(&st, threads);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_session_params sp = tfm_session_params_default();
    tfm_translate_params tp = tfm_translate_params_default();
    tfm_translate_result *res = NULL;
    char dir[512];
    watch w;
    int32_t a[5], b[3], lens[2], i, eos, Vs;
    const int32_t *src[2];
    int run;
    REQUIRE(ctx);
    snprintf(dir, sizeof dir, "%s", tfmt_data("golden/marian/marian_tiny"));
    REQUIRE_OK(ctx, tfm_model_load(ctx, dir, NULL, &m));
    eos = tfm_model_eos(m);
    Vs = tfm_model_src_vocab_size(m);
    for (i = 0; i < 4; i++) a[i] = (5 + 3 * i) % Vs == eos ? 7 : (5 + 3 * i) % Vs;
    a[4] = eos;
    b[0] = 9 % Vs == eos ? 4 : 9 % Vs;
    b[1] = 11 % Vs == eos ? 4 : 11 % Vs;
    b[2] = eos;
    src[0] = a;
    src[1] = b;
    lens[0] = 5;
    lens[1] = 3;
    memset(&w, 0, sizeof w);
    w.st = &st;
    sp.abort = on_step;
    sp.abort_ud = &w;
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, &sp, &s));
    tp.beam_size = beams;
    tp.max_length = 12;
    tp.attention = 1;
    // Cold, then warm: only the cold call's first beam reorder allocates
    // (the copy buffer the cache keeps).
    for (run = 0; run < 2; run++) {
        w.n = 0;
        CHECK_OK(ctx, tfm_translate_tokens(s, src, lens, 2, &tp, &res));
        tfm_translate_result_free(res);
        res = NULL;
        CHECK(w.n >= 3); // the encoder and at least two decoding steps
        for (i = 1; i < w.n && (run == 1 || beams == 1); i++)
            if (w.at[i] != w.at[0]) {
                tfmt_fail(__FILE__, __LINE__, "beams %d, run %d: %ld allocations by step %d",
                          (int)beams, run, w.at[i] - w.at[0], (int)i);
                break;
            }
    }
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    CHECK_EQ_INT(st.live_blocks, 0);
}

TEST(zero_alloc_translation_steps) {
    translate_case(1, 1);
    translate_case(2, 1);
    translate_case(1, 3);
    translate_case(2, 3);
}

// ---- layers -------------------------------------------------------------------------------

#define D 16
#define F 24
#define B 2
#define S 5

static tfm_tensor mat(float *p, int64_t r, int64_t c) {
    tfm_tensor t;
    int64_t shp[2];
    shp[0] = r;
    shp[1] = c;
    tfm_tensor_wrap(&t, TFM_F32, c ? 2 : 1, shp, p);
    return t;
}

static void layer_case(int threads, int prepack, int norm_first) {
    tfmt_alloc_state st;
    tfm_ctx *ctx = counting_ctx(&st, threads);
    static float wq[D * D], wk[D * D], wv[D * D], wo[D * D], bq[D], w1[F * D], w2[D * F],
        g[D], x[B * S * D], mem[B * S * D], out[B * S * D];
    tfm_tensor tq, tk, tv, to, tb, t1, t2, tg, tx, tm, tout;
    tfm_layer_params lp = tfm_layer_params_default();
    tfm_layer_weights lw = tfm_layer_weights_default();
    tfm_encoder_layer *enc = NULL;
    tfm_decoder_layer *dec = NULL;
    tfm_kv_cache_params kp = tfm_kv_cache_params_default();
    tfm_kv_cache *sc = NULL, *cc = NULL;
    tfm_workspace *ws = NULL;
    size_t n1, n2;
    int64_t shp[3];
    long before;
    int i;
    REQUIRE(ctx);
    tfmt_seed(3);
    tfmt_fill(wq, D * D); tfmt_fill(wk, D * D); tfmt_fill(wv, D * D); tfmt_fill(wo, D * D);
    tfmt_fill(bq, D); tfmt_fill(w1, F * D); tfmt_fill(w2, D * F); tfmt_fill(g, D);
    tfmt_fill(x, B * S * D); tfmt_fill(mem, B * S * D);
    tq = mat(wq, D, D); tk = mat(wk, D, D); tv = mat(wv, D, D); to = mat(wo, D, D);
    tb = mat(bq, D, 0); t1 = mat(w1, F, D); t2 = mat(w2, D, F); tg = mat(g, D, 0);
    shp[0] = B; shp[1] = S; shp[2] = D;
    tfm_tensor_wrap(&tx, TFM_F32, 3, shp, x);
    tfm_tensor_wrap(&tm, TFM_F32, 3, shp, mem);
    tfm_tensor_wrap(&tout, TFM_F32, 3, shp, out);
    lw.self_attn.wq = &tq; lw.self_attn.bq = &tb; lw.self_attn.wk = &tk;
    lw.self_attn.wv = &tv; lw.self_attn.wo = &to;
    lw.ffn.w1 = &t1; lw.ffn.w2 = &t2;
    lw.attn_norm.gamma = lw.ffn_norm.gamma = lw.cross_norm.gamma = &tg;
    lp.d_model = D; lp.n_heads = 4; lp.d_ff = F; lp.prepack = prepack;
    lp.norm_first = norm_first;
    REQUIRE_OK(ctx, tfm_encoder_layer_create(ctx, &lp, &lw, &enc));
    lw.cross_attn = lw.self_attn;
    REQUIRE_OK(ctx, tfm_decoder_layer_create(ctx, &lp, &lw, &dec));
    kp.n_layers = 1; kp.max_batch = B; kp.n_kv_heads = 4; kp.head_dim = D / 4; kp.max_seq = 32;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &kp, &sc));
    kp.max_seq = S;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &kp, &cc));
    n1 = tfm_encoder_layer_workspace_size(ctx, enc, B, S);
    n2 = tfm_decoder_layer_workspace_size(ctx, dec, B, S, 32, S);
    REQUIRE_OK(ctx, tfm_workspace_create(ctx, n1 > n2 ? n1 : n2, &ws));
    before = st.n_allocs;
    CHECK_OK(ctx, tfm_encoder_layer_forward(ctx, enc, &tx, NULL, ws, &tout, NULL));
    // the prompt, then single steps over the caches
    CHECK_OK(ctx, tfm_decoder_layer_forward(ctx, dec, &tx, &tm, NULL, NULL, sc, cc, 0, ws,
                                            &tout, NULL, NULL));
    shp[1] = 1;
    tfm_tensor_wrap(&tx, TFM_F32, 3, shp, x);
    tfm_tensor_wrap(&tout, TFM_F32, 3, shp, out);
    for (i = 0; i < 4; i++)
        CHECK_OK(ctx, tfm_decoder_layer_forward(ctx, dec, &tx, NULL, NULL, NULL, sc, cc, 0, ws,
                                                &tout, NULL, NULL));
    CHECK_EQ_INT(st.n_allocs - before, 0);
    tfm_workspace_free(ws);
    tfm_kv_cache_free(sc);
    tfm_kv_cache_free(cc);
    tfm_decoder_layer_free(dec);
    tfm_encoder_layer_free(enc);
    tfm_ctx_free(ctx);
    CHECK_EQ_INT(st.live_blocks, 0);
}

TEST(zero_alloc_layer_forwards) {
    layer_case(1, 1, 0);
    layer_case(2, 1, 1);
    layer_case(2, 0, 0);
    layer_case(1, 0, 1);
}

// ---- encoder tasks --------------------------------------------------------------------------

TEST(zero_alloc_encoder_scratch_once) {
    tfmt_alloc_state st;
    tfm_ctx *ctx = counting_ctx(&st, 2);
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_encode_outputs o = tfm_encode_outputs_default();
    char dir[512];
    int32_t ids[2 * 7], mask[2 * 7], i;
    float *hid;
    long before;
    REQUIRE(ctx);
    snprintf(dir, sizeof dir, "%s", tfmt_data("golden/bert/bert_mlm"));
    mp.no_tokenizer = 1;
    REQUIRE_OK(ctx, tfm_model_load(ctx, dir, &mp, &m));
    hid = (float *)malloc((size_t)2 * 7 * (size_t)tfm_model_dim(m) * sizeof(float));
    REQUIRE(hid);
    for (i = 0; i < 14; i++) {
        ids[i] = 1 + i;
        mask[i] = i < 12;
    }
    o.hidden = hid;
    o.mlm_logits = NULL;
    before = st.n_allocs;
    CHECK_OK(ctx, tfm_model_encode(ctx, m, ids, NULL, mask, 2, 7, &o));
    CHECK_EQ_INT(st.n_allocs - before, 1);
    free(hid);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    CHECK_EQ_INT(st.live_blocks, 0);
}
