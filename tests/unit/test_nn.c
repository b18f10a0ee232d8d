/* Layers: attention, MHA (GQA, cross, KV cache), RoPE, norms, FFN against
 * naive double-precision references written here, plus properties (cached
 * decoding equals full decoding, thread counts give identical bits) and
 * error paths. The PyTorch goldens are in tests/golden/test_layers*.c. */
#include "harness.h"

#include <stdlib.h>

static tfm_tensor wrap(float *p, int nd, int64_t a, int64_t b, int64_t c, int64_t d) {
    tfm_tensor t;
    int64_t sh[4];
    sh[0] = a; sh[1] = b; sh[2] = c; sh[3] = d;
    tfm_tensor_wrap(&t, TFM_F32, nd, sh, p);
    return t;
}

static float *rnd(int64_t n) {
    float *p = (float *)malloc((size_t)n * sizeof(float));
    tfmt_fill(p, n);
    return p;
}

/* Naive attention, double: q [B,H,Sq,Dh], k/v [B,Hkv,Sk,Dh] contiguous. */
static void ref_attn(const float *q, const float *k, const float *v, int B, int H, int Hkv,
                     int Sq, int Sk, int Dh, int causal, const unsigned char *kpm,
                     double *out, double *probs) {
    int b, h, i, j, d;
    double *s = (double *)malloc((size_t)Sk * sizeof(double));
    for (b = 0; b < B; b++)
        for (h = 0; h < H; h++)
            for (i = 0; i < Sq; i++) {
                int kh = h / (H / Hkv), pos = Sk - Sq + i;
                double mx = -INFINITY, sum = 0;
                const float *qr = q + (((size_t)b * H + h) * Sq + i) * Dh;
                for (j = 0; j < Sk; j++) {
                    const float *kr = k + (((size_t)b * Hkv + kh) * Sk + j) * Dh;
                    double acc = 0;
                    for (d = 0; d < Dh; d++) acc += (double)qr[d] * kr[d];
                    s[j] = acc / sqrt((double)Dh);
                    if ((causal && j > pos) || (kpm && kpm[b * Sk + j])) s[j] = -INFINITY;
                    if (s[j] > mx) mx = s[j];
                }
                for (j = 0; j < Sk; j++) {
                    s[j] = mx == -INFINITY ? 0 : exp(s[j] - mx);
                    sum += s[j];
                }
                for (d = 0; d < Dh; d++) out[(((size_t)b * H + h) * Sq + i) * Dh + d] = 0;
                for (j = 0; j < Sk; j++) {
                    double p = sum > 0 ? s[j] / sum : 0;
                    const float *vr = v + (((size_t)b * Hkv + kh) * Sk + j) * Dh;
                    if (probs) probs[(((size_t)b * H + h) * Sq + i) * Sk + j] = p;
                    for (d = 0; d < Dh; d++)
                        out[(((size_t)b * H + h) * Sq + i) * Dh + d] += p * vr[d];
                }
            }
    free(s);
}

TEST(nn_attention_gqa_causal_padding) {
    enum { B = 2, H = 4, HKV = 2, SQ = 5, SK = 7, DH = 8 };
    tfm_ctx *ctx = tfmt_ctx(2);
    float *q, *k, *v, out[B * H * SQ * DH], pr[B * H * SQ * SK];
    double ro[B * H * SQ * DH], rp[B * H * SQ * SK];
    unsigned char kpm[B * SK] = {0};
    tfm_tensor tq, tk, tv, to, tp, tm;
    int64_t msh[2] = {B, SK};
    tfm_attn_params ap = tfm_attn_params_default();
    tfmt_seed(1);
    q = rnd(B * H * SQ * DH);
    k = rnd(B * HKV * SK * DH);
    v = rnd(B * HKV * SK * DH);
    tq = wrap(q, 4, B, H, SQ, DH);
    tk = wrap(k, 4, B, HKV, SK, DH);
    tv = wrap(v, 4, B, HKV, SK, DH);
    to = wrap(out, 4, B, H, SQ, DH);
    tp = wrap(pr, 4, B, H, SQ, SK);
    kpm[SK + 1] = kpm[SK + 4] = 1;
    tfm_tensor_wrap(&tm, TFM_U8, 2, msh, kpm);
    ap.causal = 1;
    ap.masks.key_padding_mask = &tm;
    CHECK_OK(ctx, tfm_attention(ctx, &tq, &tk, &tv, &ap, &to, &tp));
    ref_attn(q, k, v, B, H, HKV, SQ, SK, DH, 1, kpm, ro, rp);
    CHECK_RELERR(out, ro, B * H * SQ * DH, 1e-5);
    CHECK_RELERR(pr, rp, B * H * SQ * SK, 1e-5);
    free(q); free(k); free(v);
    tfm_ctx_free(ctx);
}

TEST(nn_attention_fully_masked_rows_are_zero) {
    tfm_ctx *ctx = tfmt_ctx(1);
    float q[2 * 4], k[3 * 4], v[3 * 4], out[2 * 4], pr[2 * 3];
    float m[2 * 3] = {0, 0, 0, -INFINITY, -INFINITY, -INFINITY};
    tfm_tensor tq, tk, tv, to, tp, tm;
    int64_t ms[2] = {2, 3};
    tfm_attn_params ap = tfm_attn_params_default();
    int i;
    tfmt_fill(q, 8); tfmt_fill(k, 12); tfmt_fill(v, 12);
    tq = wrap(q, 4, 1, 1, 2, 4);
    tk = wrap(k, 4, 1, 1, 3, 4);
    tv = wrap(v, 4, 1, 1, 3, 4);
    to = wrap(out, 4, 1, 1, 2, 4);
    tp = wrap(pr, 4, 1, 1, 2, 3);
    tfm_tensor_wrap(&tm, TFM_F32, 2, ms, m);
    ap.masks.attn_mask = &tm;
    CHECK_OK(ctx, tfm_attention(ctx, &tq, &tk, &tv, &ap, &to, &tp));
    for (i = 0; i < 4; i++) CHECK(out[4 + i] == 0.0f);
    for (i = 0; i < 3; i++) CHECK(pr[3 + i] == 0.0f);
    CHECK(!isnan(out[0]));
    tfm_ctx_free(ctx);
}

TEST(nn_attention_errors) {
    tfm_ctx *ctx = tfmt_ctx(1);
    float buf[256] = {0};
    tfm_tensor tq, tk, tv, to, tm;
    int64_t ms[2] = {3, 3};
    tfm_attn_params ap = tfm_attn_params_default();
    tq = wrap(buf, 4, 1, 3, 2, 4);
    tk = wrap(buf, 4, 1, 2, 3, 4);
    tv = wrap(buf, 4, 1, 2, 3, 4);
    to = wrap(buf, 4, 1, 3, 2, 4);
    CHECK_STATUS(tfm_attention(ctx, &tq, &tk, &tv, NULL, &to, NULL), TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "not a multiple");
    tq = wrap(buf, 4, 1, 2, 2, 4);
    to = wrap(buf, 4, 1, 2, 2, 4);
    tfm_tensor_wrap(&tm, TFM_F32, 2, ms, buf);
    ap.masks.attn_mask = &tm;
    CHECK_STATUS(tfm_attention(ctx, &tq, &tk, &tv, &ap, &to, NULL), TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "attn_mask");
    tfm_ctx_free(ctx);
}

/* RoPE against the formula, both layouts, with an offset. */
TEST(nn_rope_layouts) {
    tfm_ctx *ctx = tfmt_ctx(1);
    enum { S = 3, H = 2, DH = 8 };
    float x[S * H * DH], y[S * H * DH];
    tfm_tensor t;
    int lay, s, h, i;
    tfmt_fill(x, S * H * DH);
    for (lay = TFM_ROPE_PAIRS; lay <= TFM_ROPE_HALF; lay++) {
        double ref[S * H * DH];
        memcpy(y, x, sizeof x);
        t = wrap(y, 3, S, H, DH, 1);
        REQUIRE_OK(ctx, tfm_rope(ctx, &t, (tfm_rope_layout)lay, 10000.0f, 0, 5, NULL));
        for (s = 0; s < S; s++)
            for (h = 0; h < H; h++)
                for (i = 0; i < DH / 2; i++) {
                    double a = (5 + s) * pow(10000.0, -2.0 * i / DH);
                    int i0 = lay == TFM_ROPE_PAIRS ? 2 * i : i;
                    int i1 = lay == TFM_ROPE_PAIRS ? 2 * i + 1 : i + DH / 2;
                    const float *xr = x + (s * H + h) * DH;
                    ref[(s * H + h) * DH + i0] = xr[i0] * cos(a) - xr[i1] * sin(a);
                    ref[(s * H + h) * DH + i1] = xr[i0] * sin(a) + xr[i1] * cos(a);
                }
        CHECK_RELERR(y, ref, S * H * DH, 1e-6);
    }
    t = wrap(y, 3, S, H, DH, 1);
    CHECK_STATUS(tfm_rope(ctx, &t, TFM_ROPE_HALF, 10000.0f, 7, 0, NULL), TFM_ERR_INVALID_ARG);
    tfm_ctx_free(ctx);
}

/* Gated FFN (SwiGLU) and RMSNorm against doubles. */
TEST(nn_ffn_swiglu_and_rmsnorm) {
    enum { R = 3, D = 6, F = 10 };
    tfm_ctx *ctx = tfmt_ctx(1);
    float *w1 = rnd(F * D), *w2 = rnd(D * F), *w3 = rnd(F * D), *x = rnd(R * D);
    float out[R * D], g[D], nx[R * D];
    double ref[R * D];
    tfm_tensor tw1, tw2, tw3, tx, to, tg;
    tfm_ffn_params p = tfm_ffn_params_default();
    tfm_ffn_weights w = tfm_ffn_weights_default();
    tfm_norm_weights nw = tfm_norm_weights_default();
    tfm_ffn *ffn;
    int r, i, j;
    tw1 = wrap(w1, 2, F, D, 1, 1);
    tw2 = wrap(w2, 2, D, F, 1, 1);
    tw3 = wrap(w3, 2, F, D, 1, 1);
    tx = wrap(x, 2, R, D, 1, 1);
    to = wrap(out, 2, R, D, 1, 1);
    p.d_model = D; p.d_ff = F; p.act = TFM_ACT_SILU; p.gated = 1;
    w.w1 = &tw1; w.w2 = &tw2; w.w3 = &tw3;
    REQUIRE_OK(ctx, tfm_ffn_create(ctx, &p, &w, &ffn));
    CHECK_OK(ctx, tfm_ffn_forward(ctx, ffn, &tx, NULL, &to));
    for (r = 0; r < R; r++) {
        double h[F];
        for (i = 0; i < F; i++) {
            double a = 0, b = 0;
            for (j = 0; j < D; j++) {
                a += (double)w1[i * D + j] * x[r * D + j];
                b += (double)w3[i * D + j] * x[r * D + j];
            }
            h[i] = a / (1 + exp(-a)) * b;
        }
        for (i = 0; i < D; i++) {
            double a = 0;
            for (j = 0; j < F; j++) a += (double)w2[i * F + j] * h[j];
            ref[r * D + i] = a;
        }
    }
    CHECK_RELERR(out, ref, R * D, 1e-5);
    tfm_ffn_free(ffn);
    /* RMSNorm through tfm_norm */
    tfmt_fill(g, D);
    tg = wrap(g, 1, D, 1, 1, 1);
    nw.gamma = &tg;
    nw.beta = NULL;
    to = wrap(nx, 2, R, D, 1, 1);
    CHECK_OK(ctx, tfm_norm(ctx, TFM_NORM_RMS, &tx, &nw, 1e-6f, &to));
    for (r = 0; r < R; r++) {
        double ss = 0;
        for (j = 0; j < D; j++) ss += (double)x[r * D + j] * x[r * D + j];
        for (j = 0; j < D; j++) ref[r * D + j] = x[r * D + j] / sqrt(ss / D + 1e-6) * g[j];
    }
    CHECK_RELERR(nx, ref, R * D, 1e-5);
    free(w1); free(w2); free(w3); free(x);
    tfm_ctx_free(ctx);
}

/* A Llama-style GQA + RoPE self-attention module: decoding step by step
 * through the KV cache equals the full causal pass; thread counts give the
 * same bits. */
typedef struct {
    float *wq, *wk, *wv, *wo;
    tfm_tensor tq, tk, tv, to;
} llama_attn_w;

static tfm_mha *make_llama_attn(tfm_ctx *ctx, llama_attn_w *lw, int D, int H, int HKV) {
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_mha *m = NULL;
    int dh = D / H;
    p.d_model = D; p.n_heads = H; p.n_kv_heads = HKV; p.causal = 1;
    p.rope = TFM_ROPE_HALF; p.rope_theta = 10000.0f;
    lw->tq = wrap(lw->wq, 2, H * dh, D, 1, 1);
    lw->tk = wrap(lw->wk, 2, HKV * dh, D, 1, 1);
    lw->tv = wrap(lw->wv, 2, HKV * dh, D, 1, 1);
    lw->to = wrap(lw->wo, 2, D, H * dh, 1, 1);
    w.wq = &lw->tq; w.wk = &lw->tk; w.wv = &lw->tv; w.wo = &lw->to;
    if (tfm_mha_create(ctx, &p, &w, &m) != TFM_OK) return NULL;
    return m;
}

TEST(nn_mha_cache_equals_full_and_threads_identical) {
    enum { B = 2, S = 6, D = 16, H = 4, HKV = 2 };
    tfm_ctx *c1 = tfmt_ctx(1), *c2 = tfmt_ctx(2), *c3 = tfmt_ctx(3);
    llama_attn_w lw;
    float *x = rnd(B * S * D), full[B * S * D], full2[B * S * D], full3[B * S * D];
    float step[B * D], inc[B * S * D], xs[B * D];
    tfm_tensor tx, to, ts, tos;
    tfm_mha *m;
    tfm_kv_cache *cache;
    tfm_kv_cache_params cp = tfm_kv_cache_params_default();
    tfm_workspace *ws;
    int s, b;
    lw.wq = rnd(D * D); lw.wk = rnd(D * D / 2); lw.wv = rnd(D * D / 2); lw.wo = rnd(D * D);
    m = make_llama_attn(c1, &lw, D, H, HKV);
    REQUIRE(m != NULL);
    tx = wrap(x, 3, B, S, D, 1);
    to = wrap(full, 3, B, S, D, 1);
    CHECK_OK(c1, tfm_mha_forward(c1, m, &tx, NULL, NULL, NULL, NULL, 0, NULL, &to, NULL));
    to = wrap(full2, 3, B, S, D, 1);
    CHECK_OK(c2, tfm_mha_forward(c2, m, &tx, NULL, NULL, NULL, NULL, 0, NULL, &to, NULL));
    to = wrap(full3, 3, B, S, D, 1);
    CHECK_OK(c3, tfm_mha_forward(c3, m, &tx, NULL, NULL, NULL, NULL, 0, NULL, &to, NULL));
    CHECK(memcmp(full, full2, sizeof full) == 0);
    CHECK(memcmp(full, full3, sizeof full) == 0);
    /* step by step through the cache, with a preallocated workspace */
    cp.n_layers = 1; cp.max_batch = B; cp.n_kv_heads = HKV; cp.head_dim = D / H; cp.max_seq = S;
    REQUIRE_OK(c1, tfm_kv_cache_create(c1, &cp, &cache));
    REQUIRE_OK(c1, tfm_workspace_create(c1, tfm_mha_workspace_size(c1, m, B, S, S), &ws));
    for (s = 0; s < S; s++) {
        for (b = 0; b < B; b++) memcpy(xs + b * D, x + (b * S + s) * D, D * sizeof(float));
        ts = wrap(xs, 3, B, 1, D, 1);
        tos = wrap(step, 3, B, 1, D, 1);
        REQUIRE_OK(c1, tfm_mha_forward(c1, m, &ts, NULL, NULL, NULL, cache, 0, ws, &tos, NULL));
        for (b = 0; b < B; b++) memcpy(inc + (b * S + s) * D, step + b * D, D * sizeof(float));
    }
    CHECK_EQ_INT(tfm_kv_cache_len(cache, 0), S);
    CHECK_RELERR_F(inc, full, B * S * D, 1e-5);
    /* one more step does not fit */
    CHECK_STATUS(tfm_mha_forward(c1, m, &ts, NULL, NULL, NULL, cache, 0, ws, &tos, NULL),
                 TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(c1), "kv cache full");
    tfm_workspace_free(ws);
    tfm_kv_cache_free(cache);
    tfm_mha_free(m);
    free(x); free(lw.wq); free(lw.wk); free(lw.wv); free(lw.wo);
    tfm_ctx_free(c1); tfm_ctx_free(c2); tfm_ctx_free(c3);
}

TEST(nn_mha_shape_errors) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_mha *m = (tfm_mha *)1;
    float buf[64] = {0};
    tfm_tensor t = wrap(buf, 2, 8, 8, 1, 1), t2 = wrap(buf, 2, 8, 4, 1, 1);
    p.d_model = 8; p.n_heads = 3;
    w.wq = w.wk = w.wv = w.wo = &t;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &m), TFM_ERR_SHAPE);
    CHECK(m == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "does not divide");
    p.n_heads = 2;
    w.wk = &t2;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &m), TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "wk");
    w.wo = NULL;
    w.wk = &t;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &m), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "wo is missing");
    tfm_mha_free(NULL);
    tfm_ctx_free(ctx);
}

/* ALiBi through the module: decoding step by step (positions continue from
 * the cache) equals the full causal pass. */
TEST(nn_mha_alibi_cache_equals_full) {
    enum { S = 5, D = 12, H = 3 };
    tfm_ctx *ctx = tfmt_ctx(1);
    float *wq = rnd(D * D), *wk = rnd(D * D), *wv = rnd(D * D), *wo = rnd(D * D);
    float *x = rnd(S * D), full[S * D], inc[S * D];
    tfm_tensor tq = wrap(wq, 2, D, D, 1, 1), tk = wrap(wk, 2, D, D, 1, 1),
               tv = wrap(wv, 2, D, D, 1, 1), to_ = wrap(wo, 2, D, D, 1, 1), tx, tout;
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_kv_cache_params cp = tfm_kv_cache_params_default();
    tfm_kv_cache *cache;
    tfm_mha *m;
    int s;
    p.d_model = D; p.n_heads = H; p.causal = 1; p.alibi = 1;
    w.wq = &tq; w.wk = &tk; w.wv = &tv; w.wo = &to_;
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &m));
    tx = wrap(x, 3, 1, S, D, 1);
    tout = wrap(full, 3, 1, S, D, 1);
    REQUIRE_OK(ctx, tfm_mha_forward(ctx, m, &tx, NULL, NULL, NULL, NULL, 0, NULL, &tout, NULL));
    cp.n_kv_heads = H; cp.head_dim = D / H; cp.max_seq = S;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &cp, &cache));
    for (s = 0; s < S; s++) {
        tx = wrap(x + s * D, 3, 1, 1, D, 1);
        tout = wrap(inc + s * D, 3, 1, 1, D, 1);
        REQUIRE_OK(ctx, tfm_mha_forward(ctx, m, &tx, NULL, NULL, NULL, cache, 0, NULL, &tout,
                                        NULL));
    }
    CHECK_RELERR_F(inc, full, S * D, 1e-5);
    tfm_kv_cache_free(cache);
    tfm_mha_free(m);
    free(wq); free(wk); free(wv); free(wo); free(x);
    tfm_ctx_free(ctx);
}

/* A left-padded batch with explicit RoPE positions and a key padding mask
 * gives each sequence what it gets alone. */
TEST(nn_mha_left_padding_with_positions) {
    enum { B = 2, S = 5, D = 8, H = 2 };
    static const int len[B] = {5, 3};
    tfm_ctx *ctx = tfmt_ctx(1);
    float *wq = rnd(D * D), *wk = rnd(D * D), *wv = rnd(D * D), *wo = rnd(D * D);
    float *x = rnd(B * S * D), out[B * S * D], alone[S * D];
    int32_t pos[B * S];
    uint8_t pad[B * S];
    tfm_tensor tq = wrap(wq, 2, D, D, 1, 1), tk = wrap(wk, 2, D, D, 1, 1),
               tv = wrap(wv, 2, D, D, 1, 1), to_ = wrap(wo, 2, D, D, 1, 1), tx, tout, tp, tpad;
    int64_t sh[2] = {B, S};
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_attn_masks mk = tfm_attn_masks_default();
    tfm_mha *m;
    int b, s;
    p.d_model = D; p.n_heads = H; p.causal = 1; p.rope = TFM_ROPE_PAIRS;
    w.wq = &tq; w.wk = &tk; w.wv = &tv; w.wo = &to_;
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &m));
    for (b = 0; b < B; b++)
        for (s = 0; s < S; s++) {
            int off = S - len[b];
            pad[b * S + s] = s < off;
            pos[b * S + s] = s < off ? 0 : s - off;
        }
    tfm_tensor_wrap(&tp, TFM_I32, 2, sh, pos);
    tfm_tensor_wrap(&tpad, TFM_U8, 2, sh, pad);
    mk.positions = &tp;
    mk.key_padding_mask = &tpad;
    tx = wrap(x, 3, B, S, D, 1);
    tout = wrap(out, 3, B, S, D, 1);
    REQUIRE_OK(ctx, tfm_mha_forward(ctx, m, &tx, NULL, NULL, &mk, NULL, 0, NULL, &tout, NULL));
    for (b = 0; b < B; b++) {
        int off = S - len[b];
        tx = wrap(x + (b * S + off) * D, 3, 1, len[b], D, 1);
        tout = wrap(alone, 3, 1, len[b], D, 1);
        REQUIRE_OK(ctx, tfm_mha_forward(ctx, m, &tx, NULL, NULL, NULL, NULL, 0, NULL, &tout,
                                        NULL));
        CHECK_RELERR_F(out + (b * S + off) * D, alone, len[b] * D, 1e-6);
    }
    tfm_mha_free(m);
    free(wq); free(wk); free(wv); free(wo); free(x);
    tfm_ctx_free(ctx);
}

/* Weights stored [in, out] (GPT-2's Conv1D, fused c_attn [D, 3D]) give the
 * results of the nn.Linear layout, packed or not; multi-query attention
 * (one key/value head) and a head width that is not D / H work too. */
static void transpose(const float *a, int64_t r, int64_t c, float *t) {
    int64_t i, j;
    for (i = 0; i < r; i++)
        for (j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
}

TEST(nn_mha_in_out_layout_mqa_head_dim) {
    enum { B = 2, S = 4, D = 12, H = 3, DH = 6, HQ = H * DH, NQKV = HQ + 2 * DH, F = 20 };
    tfm_ctx *ctx = tfmt_ctx(2);
    float *wqkv = rnd(NQKV * D), *bqkv = rnd(NQKV), *wo = rnd(D * HQ), *x = rnd(B * S * D);
    float *wqkv_t = (float *)malloc(NQKV * D * sizeof(float)), *wo_t = (float *)malloc(D * HQ * sizeof(float));
    float *w1 = rnd(F * D), *w2 = rnd(D * F), *w1t = (float *)malloc(F * D * sizeof(float)),
          *w2t = (float *)malloc(D * F * sizeof(float));
    float ref[B * S * D], out[B * S * D];
    tfm_tensor twqkv = wrap(wqkv, 2, NQKV, D, 1, 1), tb = wrap(bqkv, 1, NQKV, 1, 1, 1),
               two = wrap(wo, 2, D, HQ, 1, 1), twqkvt, twot, tx, tout, t1, t2;
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_ffn_params fp = tfm_ffn_params_default();
    tfm_ffn_weights fw = tfm_ffn_weights_default();
    tfm_mha *m;
    tfm_ffn *f;
    int pack;
    transpose(wqkv, NQKV, D, wqkv_t);
    transpose(wo, D, HQ, wo_t);
    transpose(w1, F, D, w1t);
    transpose(w2, D, F, w2t);
    twqkvt = wrap(wqkv_t, 2, D, NQKV, 1, 1);
    twot = wrap(wo_t, 2, HQ, D, 1, 1);
    p.d_model = D; p.n_heads = H; p.n_kv_heads = 1; p.head_dim = DH; p.causal = 1;
    p.prepack = 0;
    w.wqkv = &twqkv; w.bqkv = &tb; w.wo = &two;
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &m));
    tx = wrap(x, 3, B, S, D, 1);
    tout = wrap(ref, 3, B, S, D, 1);
    REQUIRE_OK(ctx, tfm_mha_forward(ctx, m, &tx, NULL, NULL, NULL, NULL, 0, NULL, &tout, NULL));
    tfm_mha_free(m);
    for (pack = 0; pack < 2; pack++) {
        p.prepack = pack;
        w.wqkv = &twqkvt; w.wo = &twot; w.in_out = 1;
        REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &m));
        tout = wrap(out, 3, B, S, D, 1);
        CHECK_OK(ctx, tfm_mha_forward(ctx, m, &tx, NULL, NULL, NULL, NULL, 0, NULL, &tout, NULL));
        CHECK_RELERR_F(out, ref, B * S * D, 1e-6);
        tfm_mha_free(m);
    }
    /* the same for the feed-forward */
    fp.d_model = D; fp.d_ff = F; fp.act = TFM_ACT_GELU_TANH; fp.prepack = 0;
    t1 = wrap(w1, 2, F, D, 1, 1);
    t2 = wrap(w2, 2, D, F, 1, 1);
    fw.w1 = &t1; fw.w2 = &t2;
    REQUIRE_OK(ctx, tfm_ffn_create(ctx, &fp, &fw, &f));
    tout = wrap(ref, 3, B, S, D, 1);
    REQUIRE_OK(ctx, tfm_ffn_forward(ctx, f, &tx, NULL, &tout));
    tfm_ffn_free(f);
    t1 = wrap(w1t, 2, D, F, 1, 1);
    t2 = wrap(w2t, 2, F, D, 1, 1);
    fw.in_out = 1;
    for (pack = 0; pack < 2; pack++) {
        fp.prepack = pack;
        REQUIRE_OK(ctx, tfm_ffn_create(ctx, &fp, &fw, &f));
        tout = wrap(out, 3, B, S, D, 1);
        CHECK_OK(ctx, tfm_ffn_forward(ctx, f, &tx, NULL, &tout));
        CHECK_RELERR_F(out, ref, B * S * D, 1e-6);
        tfm_ffn_free(f);
    }
    free(wqkv); free(bqkv); free(wo); free(x); free(wqkv_t); free(wo_t);
    free(w1); free(w2); free(w1t); free(w2t);
    tfm_ctx_free(ctx);
}
