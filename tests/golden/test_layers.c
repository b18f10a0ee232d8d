/* Layers against float64 PyTorch references (tests/golden/gen_layers.py ->
 * layers.safetensors): nn.MultiheadAttention (masks, weights, kdim/vdim),
 * nn.TransformerEncoderLayer / nn.TransformerDecoderLayer (post- and
 * pre-norm, relu and gelu; the decoder also step by step through KV
 * caches), scaled dot-product attention with GQA, ALiBi, sinusoidal
 * encodings, RoPE, embeddings, additive attention, feed-forward variants
 * and norms. fp32 results within relative error 1e-5. */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>

#define TOL 1e-5

static tfm_safetensors *open_golden(tfm_ctx *ctx) {
    tfm_safetensors *st = NULL;
    if (tfm_safetensors_open(ctx, tfmt_data("golden/layers.safetensors"), &st) != TFM_OK)
        tfmt_fail(__FILE__, __LINE__, "open: %s", tfm_ctx_last_error(ctx));
    return st;
}

/* Loads tensor "<fmt...>" into *t; records a failure and returns 0 when
 * absent. */
static int ld(tfm_ctx *ctx, const tfm_safetensors *st, tfm_tensor *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int ld(tfm_ctx *ctx, const tfm_safetensors *st, tfm_tensor *t, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (tfm_safetensors_get(ctx, st, name, t) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "tensor %s: %s", name, tfm_ctx_last_error(ctx));
        return 0;
    }
    return 1;
}

static const double *dref(const tfm_tensor *t) { return (const double *)t->data; }

static tfm_tensor mk(float *p, int nd, int64_t a, int64_t b, int64_t c, int64_t d) {
    tfm_tensor t;
    int64_t sh[4];
    sh[0] = a; sh[1] = b; sh[2] = c; sh[3] = d;
    tfm_tensor_wrap(&t, TFM_F32, nd, sh, p);
    return t;
}

/* A 1-D view of n floats at element offset off of t (bias splits). */
static tfm_tensor slice1(const tfm_tensor *t, int64_t off, int64_t n) {
    return mk((float *)t->data + off, 1, n, 1, 1, 1);
}

TEST(golden_layers_mha_self) {
    tfm_ctx *ctx = tfmt_ctx(1), *ctx3 = tfmt_ctx(3);
    tfm_safetensors *st = open_golden(ctx);
    tfm_tensor wqkv, bqkv, wo, bo, x, kpm, am, bm, r_out, r_w, r_out2, r_w2, to, tp;
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_attn_masks m = tfm_attn_masks_default();
    tfm_mha *mha;
    float out[2 * 5 * 16], out3[2 * 5 * 16], pr[2 * 4 * 5 * 5];
    REQUIRE(st);
    REQUIRE(ld(ctx, st, &wqkv, "mha_self.in_proj_weight") &&
            ld(ctx, st, &bqkv, "mha_self.in_proj_bias") &&
            ld(ctx, st, &wo, "mha_self.out_proj.weight") &&
            ld(ctx, st, &bo, "mha_self.out_proj.bias") && ld(ctx, st, &x, "mha_self.x") &&
            ld(ctx, st, &kpm, "mha_self.kpm") && ld(ctx, st, &am, "mha_self.attn_mask") &&
            ld(ctx, st, &bm, "mha_self.bool_mask") && ld(ctx, st, &r_out, "mha_self.out") &&
            ld(ctx, st, &r_w, "mha_self.weights") &&
            ld(ctx, st, &r_out2, "mha_self.out_causal") &&
            ld(ctx, st, &r_w2, "mha_self.weights_causal"));
    p.d_model = 16;
    p.n_heads = 4;
    w.wqkv = &wqkv; w.bqkv = &bqkv; w.wo = &wo; w.bo = &bo;
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &mha));
    to = mk(out, 3, 2, 5, 16, 1);
    tp = mk(pr, 4, 2, 4, 5, 5);
    m.key_padding_mask = &kpm;
    m.attn_mask = &am;
    CHECK_OK(ctx, tfm_mha_forward(ctx, mha, &x, NULL, NULL, &m, NULL, 0, NULL, &to, &tp));
    CHECK_RELERR(out, dref(&r_out), 2 * 5 * 16, TOL);
    CHECK_RELERR(pr, dref(&r_w), 2 * 4 * 5 * 5, TOL);
    /* three threads: the same bits */
    to = mk(out3, 3, 2, 5, 16, 1);
    CHECK_OK(ctx3, tfm_mha_forward(ctx3, mha, &x, NULL, NULL, &m, NULL, 0, NULL, &to, NULL));
    CHECK(memcmp(out, out3, sizeof out) == 0);
    /* boolean causal mask */
    m = tfm_attn_masks_default();
    m.attn_mask = &bm;
    to = mk(out, 3, 2, 5, 16, 1);
    CHECK_OK(ctx, tfm_mha_forward(ctx, mha, &x, NULL, NULL, &m, NULL, 0, NULL, &to, &tp));
    CHECK_RELERR(out, dref(&r_out2), 2 * 5 * 16, TOL);
    CHECK_RELERR(pr, dref(&r_w2), 2 * 4 * 5 * 5, TOL);
    /* a key padding mask of the wrong shape */
    m = tfm_attn_masks_default();
    m.key_padding_mask = &bm;
    CHECK_STATUS(tfm_mha_forward(ctx, mha, &x, NULL, NULL, &m, NULL, 0, NULL, &to, NULL),
                 TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "key_padding_mask");
    tfm_mha_free(mha);
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
    tfm_ctx_free(ctx3);
}

TEST(golden_layers_mha_cross_kdim_vdim) {
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_safetensors *st = open_golden(ctx);
    tfm_tensor wq, wk, wv, b, wo, bo, q, k, v, kpm, r_out, r_w, bq, bk, bv, to, tp;
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_attn_masks m = tfm_attn_masks_default();
    tfm_mha *mha;
    float out[2 * 3 * 16], pr[2 * 2 * 3 * 6];
    REQUIRE(st);
    REQUIRE(ld(ctx, st, &wq, "mha_cross.q_proj_weight") &&
            ld(ctx, st, &wk, "mha_cross.k_proj_weight") &&
            ld(ctx, st, &wv, "mha_cross.v_proj_weight") &&
            ld(ctx, st, &b, "mha_cross.in_proj_bias") &&
            ld(ctx, st, &wo, "mha_cross.out_proj.weight") &&
            ld(ctx, st, &bo, "mha_cross.out_proj.bias") && ld(ctx, st, &q, "mha_cross.q") &&
            ld(ctx, st, &k, "mha_cross.k") && ld(ctx, st, &v, "mha_cross.v") &&
            ld(ctx, st, &kpm, "mha_cross.kpm") && ld(ctx, st, &r_out, "mha_cross.out") &&
            ld(ctx, st, &r_w, "mha_cross.weights"));
    bq = slice1(&b, 0, 16);
    bk = slice1(&b, 16, 16);
    bv = slice1(&b, 32, 16);
    p.d_model = 16; p.n_heads = 2; p.kdim = 12; p.vdim = 10; p.cross = 1;
    w.wq = &wq; w.wk = &wk; w.wv = &wv; w.bq = &bq; w.bk = &bk; w.bv = &bv;
    w.wo = &wo; w.bo = &bo;
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &mha));
    to = mk(out, 3, 2, 3, 16, 1);
    tp = mk(pr, 4, 2, 2, 3, 6);
    m.key_padding_mask = &kpm;
    CHECK_OK(ctx, tfm_mha_forward(ctx, mha, &q, &k, &v, &m, NULL, 0, NULL, &to, &tp));
    CHECK_RELERR(out, dref(&r_out), 2 * 3 * 16, TOL);
    CHECK_RELERR(pr, dref(&r_w), 2 * 2 * 3 * 6, TOL);
    /* values of the wrong width */
    CHECK_STATUS(tfm_mha_forward(ctx, mha, &q, &k, &k, &m, NULL, 0, NULL, &to, NULL),
                 TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "memory_v");
    tfm_mha_free(mha);
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}

TEST(golden_layers_sdpa_gqa_and_alibi) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st = open_golden(ctx);
    tfm_tensor q, k, v, mask, r_out, r_p, r_sl, to, tp;
    tfm_attn_params ap = tfm_attn_params_default();
    float out[2 * 4 * 3 * 8], pr[2 * 4 * 3 * 5], sl[6], out2[6 * 5 * 8];
    REQUIRE(st);
    REQUIRE(ld(ctx, st, &q, "sdpa.q") && ld(ctx, st, &k, "sdpa.k") && ld(ctx, st, &v, "sdpa.v") &&
            ld(ctx, st, &mask, "sdpa.mask") && ld(ctx, st, &r_out, "sdpa.out") &&
            ld(ctx, st, &r_p, "sdpa.probs"));
    to = mk(out, 4, 2, 4, 3, 8);
    tp = mk(pr, 4, 2, 4, 3, 5);
    ap.causal = 1;
    ap.masks.attn_mask = &mask;
    CHECK_OK(ctx, tfm_attention(ctx, &q, &k, &v, &ap, &to, &tp));
    CHECK_RELERR(out, dref(&r_out), 2 * 4 * 3 * 8, TOL);
    CHECK_RELERR(pr, dref(&r_p), 2 * 4 * 3 * 5, TOL);
    /* ALiBi with 6 heads (not a power of two) */
    REQUIRE(ld(ctx, st, &q, "alibi.q") && ld(ctx, st, &k, "alibi.k") &&
            ld(ctx, st, &v, "alibi.v") && ld(ctx, st, &r_sl, "alibi.slopes") &&
            ld(ctx, st, &r_out, "alibi.out"));
    tfm_alibi_slopes(6, sl);
    CHECK_RELERR(sl, dref(&r_sl), 6, 1e-7);
    ap = tfm_attn_params_default();
    ap.causal = 1;
    ap.alibi_slopes = sl;
    to = mk(out2, 4, 1, 6, 5, 8);
    CHECK_OK(ctx, tfm_attention(ctx, &q, &k, &v, &ap, &to, NULL));
    CHECK_RELERR(out2, dref(&r_out), 6 * 5 * 8, TOL);
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}

/* Fills the layer weights of a PyTorch encoder/decoder layer "<pre>.*"
 * (the tensors live in `t`, 24 slots). */
static int load_layer(tfm_ctx *ctx, const tfm_safetensors *st, const char *pre, int decoder,
                      tfm_tensor *t, tfm_layer_weights *w) {
    int ok = ld(ctx, st, &t[0], "%s.self_attn.in_proj_weight", pre) &&
             ld(ctx, st, &t[1], "%s.self_attn.in_proj_bias", pre) &&
             ld(ctx, st, &t[2], "%s.self_attn.out_proj.weight", pre) &&
             ld(ctx, st, &t[3], "%s.self_attn.out_proj.bias", pre) &&
             ld(ctx, st, &t[4], "%s.linear1.weight", pre) &&
             ld(ctx, st, &t[5], "%s.linear1.bias", pre) &&
             ld(ctx, st, &t[6], "%s.linear2.weight", pre) &&
             ld(ctx, st, &t[7], "%s.linear2.bias", pre) &&
             ld(ctx, st, &t[8], "%s.norm1.weight", pre) &&
             ld(ctx, st, &t[9], "%s.norm1.bias", pre) &&
             ld(ctx, st, &t[10], "%s.norm2.weight", pre) &&
             ld(ctx, st, &t[11], "%s.norm2.bias", pre);
    if (ok && decoder)
        ok = ld(ctx, st, &t[12], "%s.multihead_attn.in_proj_weight", pre) &&
             ld(ctx, st, &t[13], "%s.multihead_attn.in_proj_bias", pre) &&
             ld(ctx, st, &t[14], "%s.multihead_attn.out_proj.weight", pre) &&
             ld(ctx, st, &t[15], "%s.multihead_attn.out_proj.bias", pre) &&
             ld(ctx, st, &t[16], "%s.norm3.weight", pre) &&
             ld(ctx, st, &t[17], "%s.norm3.bias", pre);
    if (!ok) return 0;
    *w = tfm_layer_weights_default();
    w->self_attn.wqkv = &t[0];
    w->self_attn.bqkv = &t[1];
    w->self_attn.wo = &t[2];
    w->self_attn.bo = &t[3];
    w->ffn.w1 = &t[4];
    w->ffn.b1 = &t[5];
    w->ffn.w2 = &t[6];
    w->ffn.b2 = &t[7];
    w->attn_norm.gamma = &t[8];
    w->attn_norm.beta = &t[9];
    if (!decoder) {
        w->ffn_norm.gamma = &t[10];
        w->ffn_norm.beta = &t[11];
        return 1;
    }
    /* PyTorch decoder: norm1 self, norm2 cross, norm3 feed-forward */
    w->cross_norm.gamma = &t[10];
    w->cross_norm.beta = &t[11];
    w->cross_attn.wqkv = NULL;
    {
        /* cross-attention: in_proj rows q | k | v over the same width */
        tfm_tensor *sp = &t[18];
        sp[0] = mk((float *)t[12].data, 2, 16, 16, 1, 1);
        sp[1] = mk((float *)t[12].data + 256, 2, 16, 16, 1, 1);
        sp[2] = mk((float *)t[12].data + 512, 2, 16, 16, 1, 1);
        sp[3] = slice1(&t[13], 0, 16);
        sp[4] = slice1(&t[13], 16, 16);
        sp[5] = slice1(&t[13], 32, 16);
        w->cross_attn.wq = &sp[0];
        w->cross_attn.wk = &sp[1];
        w->cross_attn.wv = &sp[2];
        w->cross_attn.bq = &sp[3];
        w->cross_attn.bk = &sp[4];
        w->cross_attn.bv = &sp[5];
    }
    w->cross_attn.wo = &t[14];
    w->cross_attn.bo = &t[15];
    w->ffn_norm.gamma = &t[16];
    w->ffn_norm.beta = &t[17];
    return 1;
}

static void enc_case(const char *pre, int norm_first, int act) {
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_safetensors *st = open_golden(ctx);
    tfm_tensor t[24], x, kpm, ref, to;
    tfm_layer_weights w;
    tfm_layer_params p = tfm_layer_params_default();
    tfm_attn_masks m = tfm_attn_masks_default();
    tfm_encoder_layer *layer;
    tfm_encoder *enc;
    tfm_workspace *ws;
    float out[2 * 5 * 16], out2[2 * 5 * 16];
    if (!st) return;
    if (!load_layer(ctx, st, pre, 0, t, &w) || !ld(ctx, st, &x, "%s.x", pre) ||
        !ld(ctx, st, &kpm, "%s.kpm", pre) || !ld(ctx, st, &ref, "%s.out", pre))
        goto done;
    p.d_model = 16; p.n_heads = 4; p.d_ff = 32; p.act = act; p.norm_first = norm_first;
    if (tfm_encoder_layer_create(ctx, &p, &w, &layer) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "%s: %s", pre, tfm_ctx_last_error(ctx));
        goto done;
    }
    m.key_padding_mask = &kpm;
    to = mk(out, 3, 2, 5, 16, 1);
    CHECK_OK(ctx, tfm_workspace_create(ctx, tfm_encoder_layer_workspace_size(ctx, layer, 2, 5),
                                       &ws));
    CHECK_OK(ctx, tfm_encoder_layer_forward(ctx, layer, &x, &m, ws, &to, NULL));
    CHECK_RELERR(out, dref(&ref), 2 * 5 * 16, TOL);
    /* the same through a one-layer stack, in place */
    memcpy(out2, x.data, sizeof out2);
    to = mk(out2, 3, 2, 5, 16, 1);
    CHECK_OK(ctx, tfm_encoder_create(ctx, &p, 1, &w, NULL, &enc));
    CHECK_OK(ctx, tfm_encoder_forward(ctx, enc, &to, &m, ws, &to));
    CHECK(memcmp(out, out2, sizeof out) == 0);
    tfm_encoder_free(enc);
    /* multiplying by the borrowed weights (no packed copies) agrees too */
    p.prepack = 0;
    CHECK_OK(ctx, tfm_encoder_create(ctx, &p, 1, &w, NULL, &enc));
    to = mk(out2, 3, 2, 5, 16, 1);
    CHECK_OK(ctx, tfm_encoder_forward(ctx, enc, &x, &m, ws, &to));
    CHECK_RELERR(out2, dref(&ref), 2 * 5 * 16, TOL);
    /* a workspace too small */
    tfm_workspace_free(ws);
    CHECK_OK(ctx, tfm_workspace_create(ctx, 64, &ws));
    CHECK_STATUS(tfm_encoder_layer_forward(ctx, layer, &x, &m, ws, &to, NULL), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "workspace");
    tfm_workspace_free(ws);
    tfm_encoder_free(enc);
    tfm_encoder_layer_free(layer);
done:
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}

TEST(golden_layers_encoder_post_relu) { enc_case("enc_post_relu", 0, TFM_ACT_RELU); }
TEST(golden_layers_encoder_pre_gelu) { enc_case("enc_pre_gelu", 1, TFM_ACT_GELU); }

static void dec_case(const char *pre, int norm_first, int act) {
    enum { B = 2, T = 4, S = 5, D = 16 };
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st = open_golden(ctx);
    tfm_tensor t[24], tgt, mem, mkpm, ref, to, ts, tos;
    tfm_layer_weights w;
    tfm_layer_params p = tfm_layer_params_default();
    tfm_kv_cache_params cp = tfm_kv_cache_params_default();
    tfm_kv_cache *sc, *cc;
    tfm_decoder_layer *layer;
    tfm_workspace *ws;
    float out[B * T * D], inc[B * T * D], xs[B * D], os[B * D];
    int s, b;
    if (!st) return;
    if (!load_layer(ctx, st, pre, 1, t, &w) || !ld(ctx, st, &tgt, "%s.tgt", pre) ||
        !ld(ctx, st, &mem, "%s.mem", pre) || !ld(ctx, st, &mkpm, "%s.mkpm", pre) ||
        !ld(ctx, st, &ref, "%s.out", pre))
        goto done;
    p.d_model = D; p.n_heads = 4; p.d_ff = 32; p.act = act; p.norm_first = norm_first;
    p.prepack = norm_first; /* one case each way */
    if (tfm_decoder_layer_create(ctx, &p, &w, &layer) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "%s: %s", pre, tfm_ctx_last_error(ctx));
        goto done;
    }
    to = mk(out, 3, B, T, D, 1);
    CHECK_OK(ctx, tfm_decoder_layer_forward(ctx, layer, &tgt, &mem, NULL, &mkpm, NULL, NULL, 0,
                                            NULL, &to, NULL, NULL));
    CHECK_RELERR(out, dref(&ref), B * T * D, TOL);
    /* step by step: self-attention cache grows, cross-attention cache is
     * filled on the first step and reused */
    cp.max_batch = B; cp.n_kv_heads = 4; cp.head_dim = 4; cp.max_seq = 8;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &cp, &sc));
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &cp, &cc));
    REQUIRE_OK(ctx, tfm_workspace_create(
                        ctx, tfm_decoder_layer_workspace_size(ctx, layer, B, 1, T, S), &ws));
    for (s = 0; s < T; s++) {
        for (b = 0; b < B; b++)
            memcpy(xs + b * D, (const float *)tgt.data + (b * T + s) * D, D * sizeof(float));
        ts = mk(xs, 3, B, 1, D, 1);
        tos = mk(os, 3, B, 1, D, 1);
        CHECK_OK(ctx, tfm_decoder_layer_forward(ctx, layer, &ts, s == 0 ? &mem : NULL, NULL,
                                                &mkpm, sc, cc, 0, ws, &tos, NULL, NULL));
        for (b = 0; b < B; b++) memcpy(inc + (b * T + s) * D, os + b * D, D * sizeof(float));
    }
    CHECK_EQ_INT(tfm_kv_cache_len(sc, 0), T);
    CHECK_EQ_INT(tfm_kv_cache_len(cc, 0), S);
    CHECK_RELERR(inc, dref(&ref), B * T * D, TOL);
    tfm_workspace_free(ws);
    tfm_kv_cache_free(sc);
    tfm_kv_cache_free(cc);
    tfm_decoder_layer_free(layer);
done:
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}

TEST(golden_layers_decoder_post_relu) { dec_case("dec_post_relu", 0, TFM_ACT_RELU); }
TEST(golden_layers_decoder_pre_gelu) { dec_case("dec_pre_gelu", 1, TFM_ACT_GELU); }

TEST(golden_layers_positions) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st = open_golden(ctx);
    tfm_tensor r, x, tok, pos, typ, ids, tids, to;
    tfm_embed_weights ew = tfm_embed_weights_default();
    float buf[7 * 16], rx[2 * 5 * 3 * 8], e[2 * 4 * 8];
    REQUIRE(st);
    REQUIRE(ld(ctx, st, &r, "sin.interleaved_off3"));
    to = mk(buf, 2, 6, 16, 1, 1);
    CHECK_OK(ctx, tfm_pos_sinusoidal(ctx, TFM_POS_INTERLEAVED, 3, &to));
    CHECK_RELERR(buf, dref(&r), 6 * 16, 1e-7);
    REQUIRE(ld(ctx, st, &r, "sin.half"));
    to = mk(buf, 2, 7, 16, 1, 1);
    CHECK_OK(ctx, tfm_pos_sinusoidal(ctx, TFM_POS_HALF, 0, &to));
    CHECK_RELERR(buf, dref(&r), 7 * 16, 1e-7);
    REQUIRE(ld(ctx, st, &r, "sin.fairseq_off2"));
    to = mk(buf, 2, 5, 16, 1, 1);
    CHECK_OK(ctx, tfm_pos_sinusoidal(ctx, TFM_POS_HALF_FAIRSEQ, 2, &to));
    CHECK_RELERR(buf, dref(&r), 5 * 16, 1e-7);
    to = mk(buf, 2, 5, 15, 1, 1);
    CHECK_STATUS(tfm_pos_sinusoidal(ctx, TFM_POS_HALF, 0, &to), TFM_ERR_INVALID_ARG);
    /* RoPE: pairs with offset 4; rotate-half over 6 of 8 dims, theta 5e5 */
    REQUIRE(ld(ctx, st, &x, "rope.x") && ld(ctx, st, &r, "rope.pairs_off4"));
    memcpy(rx, x.data, sizeof rx);
    to = mk(rx, 4, 2, 5, 3, 8);
    CHECK_OK(ctx, tfm_rope(ctx, &to, TFM_ROPE_PAIRS, 10000.0f, 0, 4, NULL));
    CHECK_RELERR(rx, dref(&r), 2 * 5 * 3 * 8, TOL);
    REQUIRE(ld(ctx, st, &r, "rope.half_rot6"));
    memcpy(rx, x.data, sizeof rx);
    CHECK_OK(ctx, tfm_rope(ctx, &to, TFM_ROPE_HALF, 500000.0f, 6, 0, NULL));
    CHECK_RELERR(rx, dref(&r), 2 * 5 * 3 * 8, TOL);
    /* token + learned position + token type embeddings, from position 3 */
    REQUIRE(ld(ctx, st, &tok, "embed.tokens") && ld(ctx, st, &pos, "embed.positions") &&
            ld(ctx, st, &typ, "embed.types") && ld(ctx, st, &ids, "embed.ids") &&
            ld(ctx, st, &tids, "embed.type_ids") && ld(ctx, st, &r, "embed.out_start3"));
    ew.tokens = &tok;
    ew.positions = &pos;
    ew.types = &typ;
    to = mk(e, 3, 2, 4, 8, 1);
    CHECK_OK(ctx, tfm_embed(ctx, &ew, &ids, &tids, 3, &to));
    CHECK_RELERR(e, dref(&r), 2 * 4 * 8, TOL);
    /* positions 7..10 run past the 10-row table */
    CHECK_STATUS(tfm_embed(ctx, &ew, &ids, &tids, 7, &to), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "past the position table");
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}

TEST(golden_layers_additive_attention) {
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_safetensors *st = open_golden(ctx);
    tfm_tensor q, k, v, wq, wk, b, va, kpm, rc, rw, tc, tw;
    tfm_additive_weights w = tfm_additive_weights_default();
    float c[2 * 3 * 4], wt[2 * 3 * 5];
    REQUIRE(st);
    REQUIRE(ld(ctx, st, &q, "additive.q") && ld(ctx, st, &k, "additive.k") &&
            ld(ctx, st, &v, "additive.v") && ld(ctx, st, &wq, "additive.wq") &&
            ld(ctx, st, &wk, "additive.wk") && ld(ctx, st, &b, "additive.b") &&
            ld(ctx, st, &va, "additive.va") && ld(ctx, st, &kpm, "additive.kpm") &&
            ld(ctx, st, &rc, "additive.context") && ld(ctx, st, &rw, "additive.weights"));
    w.wq = &wq; w.wk = &wk; w.b = &b; w.v = &va;
    tc = mk(c, 3, 2, 3, 4, 1);
    tw = mk(wt, 3, 2, 3, 5, 1);
    CHECK_OK(ctx, tfm_additive_attention(ctx, &w, &q, &k, &v, &kpm, &tc, &tw));
    CHECK_RELERR(c, dref(&rc), 2 * 3 * 4, TOL);
    CHECK_RELERR(wt, dref(&rw), 2 * 3 * 5, TOL);
    CHECK_STATUS(tfm_additive_attention(ctx, &w, &k, &k, &v, &kpm, &tc, &tw), TFM_ERR_SHAPE);
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}

TEST(golden_layers_ffn_and_norms) {
    static const struct { const char *name; int act, gated; } cases[] = {
        {"ffn.relu", TFM_ACT_RELU, 0},      {"ffn.gelu", TFM_ACT_GELU, 0},
        {"ffn.gelu_tanh", TFM_ACT_GELU_TANH, 0}, {"ffn.swiglu", TFM_ACT_SILU, 1},
        {"ffn.geglu", TFM_ACT_GELU, 1}};
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st = open_golden(ctx);
    tfm_tensor x, w1, b1, w2, b2, w3, r, g, bt, to;
    tfm_norm_weights nw = tfm_norm_weights_default();
    float out[3 * 8], nout[4 * 12];
    size_t i;
    REQUIRE(st);
    REQUIRE(ld(ctx, st, &x, "ffn.x") && ld(ctx, st, &w1, "ffn.w1") && ld(ctx, st, &b1, "ffn.b1") &&
            ld(ctx, st, &w2, "ffn.w2") && ld(ctx, st, &b2, "ffn.b2") && ld(ctx, st, &w3, "ffn.w3"));
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tfm_ffn_params p = tfm_ffn_params_default();
        tfm_ffn_weights w = tfm_ffn_weights_default();
        tfm_ffn *f;
        p.d_model = 8; p.d_ff = 16; p.act = cases[i].act; p.gated = cases[i].gated;
        w.w1 = &w1; w.b1 = cases[i].gated ? NULL : &b1; w.w2 = &w2; w.b2 = &b2;
        w.w3 = cases[i].gated ? &w3 : NULL;
        REQUIRE(ld(ctx, st, &r, "%s", cases[i].name));
        REQUIRE_OK(ctx, tfm_ffn_create(ctx, &p, &w, &f));
        to = mk(out, 2, 3, 8, 1, 1);
        CHECK_OK(ctx, tfm_ffn_forward(ctx, f, &x, NULL, &to));
        tfmt_check_relerr(__FILE__, __LINE__, cases[i].name, out, dref(&r), 3 * 8, TOL);
        tfm_ffn_free(f);
    }
    REQUIRE(ld(ctx, st, &x, "norm.x") && ld(ctx, st, &g, "norm.g") && ld(ctx, st, &bt, "norm.b"));
    nw.gamma = &g;
    nw.beta = &bt;
    to = mk(nout, 2, 4, 12, 1, 1);
    REQUIRE(ld(ctx, st, &r, "norm.layer"));
    CHECK_OK(ctx, tfm_norm(ctx, TFM_NORM_LAYER, &x, &nw, 1e-5f, &to));
    CHECK_RELERR(nout, dref(&r), 4 * 12, TOL);
    REQUIRE(ld(ctx, st, &r, "norm.rms"));
    nw.beta = NULL;
    CHECK_OK(ctx, tfm_norm(ctx, TFM_NORM_RMS, &x, &nw, 1e-6f, &to));
    CHECK_RELERR(nout, dref(&r), 4 * 12, TOL);
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}
