/* Properties of the layer stacks: padded positions change no unpadded
 * output; a batch of sequences of different lengths equals each run alone;
 * cached decoding (prefill + single steps) equals the full pass; beam
 * reordering of the KV cache; 1, 2 and 3 threads give identical bits;
 * out-of-memory at every allocation leaks nothing; bad shapes give errors. */
#include "harness.h"

#include <stdlib.h>

/* ---- random weights -------------------------------------------------------------- */

typedef struct {
    tfm_tensor t[64];
    float *data[64];
    int n;
} bank;

static tfm_tensor *bnew(bank *b, int nd, int64_t r, int64_t c, float scale, float shift) {
    int64_t sh[2], n = r * (nd == 2 ? c : 1), i;
    float *p = (float *)malloc((size_t)n * sizeof(float));
    tfm_tensor *t = &b->t[b->n];
    sh[0] = r;
    sh[1] = c;
    for (i = 0; i < n; i++) p[i] = shift + scale * tfmt_randf();
    b->data[b->n++] = p;
    tfm_tensor_wrap(t, TFM_F32, nd, sh, p);
    return t;
}

static void bfree(bank *b) {
    int i;
    for (i = 0; i < b->n; i++) free(b->data[i]);
    b->n = 0;
}

typedef struct {
    int64_t D, H, HKV, F;
    int cross, gated, rms, norm_first;
} shape_t;

static void layer_weights(bank *b, const shape_t *s, tfm_layer_weights *w) {
    int64_t dh = s->D / s->H, hkv = s->HKV ? s->HKV : s->H;
    float ws = 1.0f / sqrtf((float)s->D);
    *w = tfm_layer_weights_default();
    w->self_attn.wq = bnew(b, 2, s->H * dh, s->D, ws, 0);
    w->self_attn.wk = bnew(b, 2, hkv * dh, s->D, ws, 0);
    w->self_attn.wv = bnew(b, 2, hkv * dh, s->D, ws, 0);
    w->self_attn.wo = bnew(b, 2, s->D, s->H * dh, ws, 0);
    w->self_attn.bq = bnew(b, 1, s->H * dh, 1, 0.1f, 0);
    w->self_attn.bo = bnew(b, 1, s->D, 1, 0.1f, 0);
    if (s->cross) {
        w->cross_attn.wq = bnew(b, 2, s->H * dh, s->D, ws, 0);
        w->cross_attn.wk = bnew(b, 2, hkv * dh, s->D, ws, 0);
        w->cross_attn.wv = bnew(b, 2, hkv * dh, s->D, ws, 0);
        w->cross_attn.wo = bnew(b, 2, s->D, s->H * dh, ws, 0);
        w->cross_norm.gamma = bnew(b, 1, s->D, 1, 0.1f, 1.0f);
    }
    w->ffn.w1 = bnew(b, 2, s->F, s->D, ws, 0);
    w->ffn.w2 = bnew(b, 2, s->D, s->F, 1.0f / sqrtf((float)s->F), 0);
    if (s->gated) w->ffn.w3 = bnew(b, 2, s->F, s->D, ws, 0);
    else w->ffn.b1 = bnew(b, 1, s->F, 1, 0.1f, 0);
    w->attn_norm.gamma = bnew(b, 1, s->D, 1, 0.1f, 1.0f);
    w->ffn_norm.gamma = bnew(b, 1, s->D, 1, 0.1f, 1.0f);
    if (!s->rms) {
        w->attn_norm.beta = bnew(b, 1, s->D, 1, 0.1f, 0);
        w->ffn_norm.beta = bnew(b, 1, s->D, 1, 0.1f, 0);
    }
}

static tfm_layer_params layer_params(const shape_t *s) {
    tfm_layer_params p = tfm_layer_params_default();
    p.d_model = s->D;
    p.n_heads = s->H;
    p.n_kv_heads = s->HKV;
    p.d_ff = s->F;
    p.gated = s->gated;
    p.act = s->gated ? TFM_ACT_SILU : TFM_ACT_GELU;
    p.norm = s->rms ? TFM_NORM_RMS : TFM_NORM_LAYER;
    p.norm_first = s->norm_first;
    return p;
}

static tfm_tensor w3(float *p, int64_t a, int64_t b, int64_t c) {
    tfm_tensor t;
    int64_t sh[3];
    sh[0] = a; sh[1] = b; sh[2] = c;
    tfm_tensor_wrap(&t, TFM_F32, 3, sh, p);
    return t;
}

/* ---- padding and batching ---------------------------------------------------------- */

TEST(nn_props_padding_and_batch_of_lengths) {
    enum { B = 3, S = 6, D = 32, L = 2 };
    static const int len[B] = {6, 3, 5};
    shape_t sh = {D, 4, 0, 64, 0, 0, 0, 0};
    tfm_ctx *ctx = tfmt_ctx(2);
    bank bk;
    tfm_layer_weights w[L];
    tfm_layer_params p = layer_params(&sh);
    tfm_norm_weights fn = tfm_norm_weights_default();
    tfm_encoder *enc;
    tfm_attn_masks m = tfm_attn_masks_default();
    float x[B * S * D], x2[B * S * D], o1[B * S * D], o2[B * S * D], alone[S * D];
    uint8_t pad[B * S];
    tfm_tensor tx, to, tp;
    int64_t msh[2] = {B, S};
    int b, s, l;
    tfmt_seed(11);
    bk.n = 0;
    for (l = 0; l < L; l++) layer_weights(&bk, &sh, &w[l]);
    fn.gamma = bnew(&bk, 1, D, 1, 0.1f, 1.0f);
    fn.beta = NULL;
    REQUIRE_OK(ctx, tfm_encoder_create(ctx, &p, L, w, &fn, &enc));
    tfmt_fill(x, B * S * D);
    for (b = 0; b < B; b++)
        for (s = 0; s < S; s++) pad[b * S + s] = s >= len[b];
    tfm_tensor_wrap(&tp, TFM_U8, 2, msh, pad);
    m.key_padding_mask = &tp;
    tx = w3(x, B, S, D);
    to = w3(o1, B, S, D);
    REQUIRE_OK(ctx, tfm_encoder_forward(ctx, enc, &tx, &m, NULL, &to));
    /* garbage in the padded positions changes no real position, bit for bit */
    memcpy(x2, x, sizeof x);
    for (b = 0; b < B; b++)
        for (s = len[b]; s < S; s++) tfmt_fill(x2 + (b * S + s) * D, D);
    tx = w3(x2, B, S, D);
    to = w3(o2, B, S, D);
    REQUIRE_OK(ctx, tfm_encoder_forward(ctx, enc, &tx, &m, NULL, &to));
    for (b = 0; b < B; b++)
        CHECK(memcmp(o1 + b * S * D, o2 + b * S * D, (size_t)len[b] * D * sizeof(float)) == 0);
    /* each sequence alone, unpadded, gives its rows of the batch */
    for (b = 0; b < B; b++) {
        tx = w3(x + b * S * D, 1, len[b], D);
        to = w3(alone, 1, len[b], D);
        REQUIRE_OK(ctx, tfm_encoder_forward(ctx, enc, &tx, NULL, NULL, &to));
        CHECK_RELERR_F(alone, o1 + b * S * D, len[b] * D, 1e-6);
    }
    tfm_encoder_free(enc);
    bfree(&bk);
    tfm_ctx_free(ctx);
}

/* ---- decoder-only (Llama-style) stack through the KV cache ------------------------------- */

TEST(nn_props_llama_stack_cached_equals_full) {
    enum { B = 2, S = 7, D = 32, L = 2, H = 4, HKV = 2 };
    shape_t sh = {D, H, HKV, 48, 0, 1, 1, 1};
    tfm_ctx *ctx = tfmt_ctx(1);
    bank bk;
    tfm_layer_weights w[L];
    tfm_layer_params p = layer_params(&sh);
    tfm_norm_weights fn = tfm_norm_weights_default();
    tfm_decoder *dec;
    tfm_kv_cache *cache;
    tfm_kv_cache_params cp = tfm_kv_cache_params_default();
    tfm_workspace *ws;
    float x[B * S * D], full[B * S * D], inc[B * S * D], xs[B * S * D], os[B * S * D];
    tfm_tensor tx, to;
    int b, l, pos, n;
    tfmt_seed(12);
    bk.n = 0;
    for (l = 0; l < L; l++) layer_weights(&bk, &sh, &w[l]);
    fn.gamma = bnew(&bk, 1, D, 1, 0.1f, 1.0f);
    fn.beta = NULL;
    p.rope = TFM_ROPE_HALF;
    p.norm_eps = 1e-6f;
    REQUIRE_OK(ctx, tfm_decoder_create(ctx, &p, L, w, &fn, &dec));
    tfmt_fill(x, B * S * D);
    tx = w3(x, B, S, D);
    to = w3(full, B, S, D);
    REQUIRE_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, NULL, NULL, NULL, &to));
    /* prefill 3 positions, then one at a time */
    cp.n_layers = L; cp.max_batch = B; cp.n_kv_heads = HKV; cp.head_dim = D / H; cp.max_seq = S;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &cp, &cache));
    REQUIRE_OK(ctx, tfm_workspace_create(ctx, tfm_decoder_workspace_size(ctx, dec, B, 3, S, 0),
                                         &ws));
    for (pos = 0; pos < S; pos += n) {
        n = pos == 0 ? 3 : 1;
        for (b = 0; b < B; b++)
            memcpy(xs + b * n * D, x + (b * S + pos) * D, (size_t)n * D * sizeof(float));
        tx = w3(xs, B, n, D);
        to = w3(os, B, n, D);
        REQUIRE_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, cache, NULL, ws, &to));
        for (b = 0; b < B; b++)
            memcpy(inc + (b * S + pos) * D, os + b * n * D, (size_t)n * D * sizeof(float));
    }
    for (l = 0; l < L; l++) CHECK_EQ_INT(tfm_kv_cache_len(cache, l), S);
    CHECK_RELERR_F(inc, full, B * S * D, 1e-5);
    /* the cache is full now */
    tx = w3(xs, B, 1, D);
    CHECK_STATUS(tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, cache, NULL, ws, &to),
                 TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "kv cache full");
    /* rewinding makes room again; a batch of another size is refused */
    tfm_kv_cache_truncate(cache, S - 1);
    tx = w3(xs, 1, 1, D);
    to = w3(os, 1, 1, D);
    CHECK_STATUS(tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, cache, NULL, ws, &to),
                 TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "differs");
    /* the last position again, from the rewound cache */
    for (b = 0; b < B; b++) memcpy(xs + b * D, x + (b * S + S - 1) * D, D * sizeof(float));
    tx = w3(xs, B, 1, D);
    to = w3(os, B, 1, D);
    CHECK_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, cache, NULL, ws, &to));
    for (b = 0; b < B; b++)
        CHECK(memcmp(os + b * D, inc + (b * S + S - 1) * D, D * sizeof(float)) == 0);
    tfm_workspace_free(ws);
    tfm_kv_cache_free(cache);
    tfm_decoder_free(dec);
    bfree(&bk);
    tfm_ctx_free(ctx);
}

TEST(nn_props_kv_cache_reorder) {
    enum { B = 2, D = 16, H = 2 };
    shape_t sh = {D, H, 0, 32, 0, 0, 0, 1};
    tfm_ctx *ctx = tfmt_ctx(1);
    bank bk;
    tfm_layer_weights w;
    tfm_layer_params p = layer_params(&sh);
    tfm_decoder *dec;
    tfm_kv_cache *c1, *c2;
    tfm_kv_cache_params cp = tfm_kv_cache_params_default();
    float xs[B * D], o1[B * D], o2[B * D];
    tfm_tensor tx, to;
    int32_t src[B] = {1, 1}, bad[B] = {0, 2};
    int s;
    tfmt_seed(13);
    bk.n = 0;
    layer_weights(&bk, &sh, &w);
    REQUIRE_OK(ctx, tfm_decoder_create(ctx, &p, 1, &w, NULL, &dec));
    cp.max_batch = B; cp.n_kv_heads = H; cp.head_dim = D / H; cp.max_seq = 8;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &cp, &c1));
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &cp, &c2));
    tx = w3(xs, B, 1, D);
    to = w3(o1, B, 1, D);
    for (s = 0; s < 3; s++) { /* two different histories, in both caches */
        tfmt_fill(xs, B * D);
        REQUIRE_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, c1, NULL, NULL, &to));
        REQUIRE_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, c2, NULL, NULL, &to));
    }
    CHECK_STATUS(tfm_kv_cache_reorder(ctx, c1, bad, B), TFM_ERR_RANGE);
    REQUIRE_OK(ctx, tfm_kv_cache_reorder(ctx, c1, src, B));
    tfmt_fill(xs, D);
    memcpy(xs + D, xs, D * sizeof(float)); /* same next input for both */
    REQUIRE_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, c1, NULL, NULL, &to));
    to = w3(o2, B, 1, D);
    REQUIRE_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, c2, NULL, NULL, &to));
    /* both beams now continue item 1's history */
    CHECK(memcmp(o1, o1 + D, D * sizeof(float)) == 0);
    CHECK(memcmp(o1, o2 + D, D * sizeof(float)) == 0);
    CHECK(memcmp(o2, o2 + D, D * sizeof(float)) != 0);
    tfm_kv_cache_free(c1);
    tfm_kv_cache_free(c2);
    tfm_decoder_free(dec);
    bfree(&bk);
    tfm_ctx_free(ctx);
}

/* ---- threads ---------------------------------------------------------------------------------- */

TEST(nn_props_threads_bit_identical) {
    enum { B = 2, S = 24, SM = 20, D = 64, L = 2 };
    shape_t es = {D, 4, 0, 128, 0, 0, 0, 0}, ds = {D, 8, 2, 96, 1, 1, 1, 1};
    tfm_ctx *ctx[3];
    bank bk;
    tfm_layer_weights we[L], wd[L];
    tfm_layer_params pe = layer_params(&es), pd = layer_params(&ds);
    tfm_encoder *enc;
    tfm_decoder *dec;
    static float x[B * S * D], mem[B * SM * D], eo[3][B * SM * D], dout[3][B * S * D];
    tfm_tensor tx, tm, to;
    int t, l;
    tfmt_seed(14);
    bk.n = 0;
    for (l = 0; l < L; l++) {
        layer_weights(&bk, &es, &we[l]);
        layer_weights(&bk, &ds, &wd[l]);
    }
    pd.rope = TFM_ROPE_PAIRS;
    pd.alibi = 0;
    for (t = 0; t < 3; t++) ctx[t] = tfmt_ctx(t + 1);
    REQUIRE_OK(ctx[0], tfm_encoder_create(ctx[0], &pe, L, we, NULL, &enc));
    REQUIRE_OK(ctx[0], tfm_decoder_create(ctx[0], &pd, L, wd, NULL, &dec));
    tfmt_fill(x, B * S * D);
    tfmt_fill(mem, B * SM * D);
    for (t = 0; t < 3; t++) {
        tm = w3(mem, B, SM, D);
        to = w3(eo[t], B, SM, D);
        CHECK_OK(ctx[t], tfm_encoder_forward(ctx[t], enc, &tm, NULL, NULL, &to));
        tx = w3(x, B, S, D);
        tm = w3(eo[t], B, SM, D);
        to = w3(dout[t], B, S, D);
        CHECK_OK(ctx[t], tfm_decoder_forward(ctx[t], dec, &tx, &tm, NULL, NULL, NULL, NULL, NULL,
                                             &to));
    }
    CHECK(memcmp(eo[0], eo[1], sizeof eo[0]) == 0);
    CHECK(memcmp(eo[0], eo[2], sizeof eo[0]) == 0);
    CHECK(memcmp(dout[0], dout[1], sizeof dout[0]) == 0);
    CHECK(memcmp(dout[0], dout[2], sizeof dout[0]) == 0);
    tfm_encoder_free(enc);
    tfm_decoder_free(dec);
    bfree(&bk);
    for (t = 0; t < 3; t++) tfm_ctx_free(ctx[t]);
}

/* ---- out of memory and bad shapes ---------------------------------------------------------------- */

TEST(nn_props_alloc_failures) {
    enum { B = 2, S = 4, SM = 3, D = 16 };
    shape_t ds = {D, 2, 0, 32, 1, 0, 0, 0};
    bank bk;
    tfm_layer_weights w[2];
    tfm_layer_params p = layer_params(&ds);
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfmt_alloc_state st;
    float x[B * S * D], mem[B * SM * D], out[B * S * D];
    long k;
    tfmt_seed(15);
    bk.n = 0;
    layer_weights(&bk, &ds, &w[0]);
    layer_weights(&bk, &ds, &w[1]);
    tfmt_fill(x, B * S * D);
    tfmt_fill(mem, B * SM * D);
    for (k = 1; k < 200; k++) {
        tfm_ctx *ctx;
        tfm_decoder *dec = NULL;
        tfm_kv_cache *sc = NULL, *cc = NULL;
        tfm_kv_cache_params kp = tfm_kv_cache_params_default();
        tfm_tensor tx = w3(x, B, S, D), tm = w3(mem, B, SM, D), to = w3(out, B, S, D);
        tfm_status s;
        memset(&st, 0, sizeof st);
        cp.alloc = tfmt_alloc;
        cp.alloc_ud = &st;
        cp.n_threads = 2;
        if (tfm_ctx_create(&cp, &ctx) != TFM_OK) continue;
        st.fail_at = st.n_allocs + k;
        kp.n_layers = 2; kp.max_batch = B; kp.n_kv_heads = 2; kp.head_dim = D / 2; kp.max_seq = 8;
        s = tfm_decoder_create(ctx, &p, 2, w, NULL, &dec);
        if (s == TFM_OK) s = tfm_kv_cache_create(ctx, &kp, &sc);
        if (s == TFM_OK) s = tfm_kv_cache_create(ctx, &kp, &cc);
        if (s == TFM_OK)
            s = tfm_decoder_forward(ctx, dec, &tx, &tm, NULL, NULL, sc, cc, NULL, &to);
        CHECK(s == TFM_OK || s == TFM_ERR_NOMEM);
        if (s == TFM_ERR_NOMEM) CHECK_CONTAINS(tfm_ctx_last_error(ctx), "memory");
        tfm_kv_cache_free(sc);
        tfm_kv_cache_free(cc);
        tfm_decoder_free(dec);
        tfm_ctx_free(ctx);
        CHECK_EQ_INT(st.live_blocks, 0);
        CHECK_EQ_INT(st.live_bytes, 0); // every block freed with the size it had
        if (!st.failed) break;
    }
    CHECK(k > 3 && k < 200);
    bfree(&bk);
}

TEST(nn_props_shape_errors) {
    enum { D = 16 };
    shape_t ds = {D, 2, 0, 32, 1, 0, 0, 0};
    tfm_ctx *ctx = tfmt_ctx(1);
    bank bk;
    tfm_layer_weights w[2];
    tfm_layer_params p = layer_params(&ds);
    tfm_decoder *dec = (tfm_decoder *)1;
    tfm_encoder *enc = (tfm_encoder *)1;
    tfm_kv_cache *kc = (tfm_kv_cache *)1;
    tfm_kv_cache_params kp = tfm_kv_cache_params_default();
    tfm_tensor *bad;
    bk.n = 0;
    layer_weights(&bk, &ds, &w[0]);
    layer_weights(&bk, &ds, &w[1]);
    /* layer 1's cross-attention key projection is the wrong shape */
    bad = bnew(&bk, 2, D, D + 1, 1, 0);
    w[1].cross_attn.wk = bad;
    CHECK_STATUS(tfm_decoder_create(ctx, &p, 2, w, NULL, &dec), TFM_ERR_SHAPE);
    CHECK(dec == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "decoder layer 1");
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "wk");
    CHECK_STATUS(tfm_encoder_create(ctx, &p, 0, w, NULL, &enc), TFM_ERR_INVALID_ARG);
    CHECK(enc == NULL);
    p.n_heads = 3;
    CHECK_STATUS(tfm_encoder_create(ctx, &p, 1, w, NULL, &enc), TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "does not divide");
    p = layer_params(&ds);
    p.norm = TFM_NORM_RMS;
    CHECK_STATUS(tfm_encoder_create(ctx, &p, 1, w, NULL, &enc), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "beta");
    kp.n_kv_heads = 0;
    CHECK_STATUS(tfm_kv_cache_create(ctx, &kp, &kc), TFM_ERR_INVALID_ARG);
    CHECK(kc == NULL);
    tfm_encoder_free(NULL);
    tfm_decoder_free(NULL);
    tfm_kv_cache_free(NULL);
    tfm_workspace_free(NULL);
    bfree(&bk);
    tfm_ctx_free(ctx);
}

/* Beam expansion: one sequence's cache copied to three beams, which then
 * decode like the original. */
TEST(nn_props_kv_cache_expand) {
    enum { D = 16, H = 2, K = 3 };
    shape_t sh = {D, H, 0, 32, 0, 0, 0, 1};
    tfm_ctx *ctx = tfmt_ctx(1);
    bank bk;
    tfm_layer_weights w;
    tfm_layer_params p = layer_params(&sh);
    tfm_decoder *dec;
    tfm_kv_cache *c;
    tfm_kv_cache_params cp = tfm_kv_cache_params_default();
    float xs[K * D], o1[D], ok[K * D];
    tfm_tensor tx, to;
    int32_t src[K] = {0, 0, 0};
    int s, j;
    tfmt_seed(16);
    bk.n = 0;
    layer_weights(&bk, &sh, &w);
    REQUIRE_OK(ctx, tfm_decoder_create(ctx, &p, 1, &w, NULL, &dec));
    cp.max_batch = K; cp.n_kv_heads = H; cp.head_dim = D / H; cp.max_seq = 8;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &cp, &c));
    tx = w3(xs, 1, 1, D);
    to = w3(o1, 1, 1, D);
    for (s = 0; s < 3; s++) {
        tfmt_fill(xs, D);
        REQUIRE_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, c, NULL, NULL, &to));
    }
    CHECK_STATUS(tfm_kv_cache_reorder(ctx, c, src, K + 1), TFM_ERR_RANGE);
    src[1] = 1;
    CHECK_STATUS(tfm_kv_cache_reorder(ctx, c, src, K), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "outside the 1 sequences");
    src[1] = 0;
    REQUIRE_OK(ctx, tfm_kv_cache_reorder(ctx, c, src, K));
    tfmt_fill(xs, D);
    for (j = 1; j < K; j++) memcpy(xs + j * D, xs, D * sizeof(float));
    tx = w3(xs, K, 1, D);
    to = w3(ok, K, 1, D);
    REQUIRE_OK(ctx, tfm_decoder_forward(ctx, dec, &tx, NULL, NULL, NULL, c, NULL, NULL, &to));
    for (j = 1; j < K; j++) CHECK(memcmp(ok, ok + j * D, D * sizeof(float)) == 0);
    tfm_kv_cache_free(c);
    tfm_decoder_free(dec);
    bfree(&bk);
    tfm_ctx_free(ctx);
}
