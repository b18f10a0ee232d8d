/*
 * The model layer's public surface: every architecture's kind from the
 * registry (tfm_model_kind), the rotary tables (tfm_rope_tables, both ways
 * of computing the angles) and the modules' options the models use
 * (precomputed rotary tables give the bits of the per-call angles; the
 * attention threading threshold; their bad values), and the format of the
 * weight matrices (tfm_model_params.weights).
 */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void kind_of(const char *rel, tfm_kind want, const char *arch) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tfmt_data(rel));
    mp.no_tokenizer = 1;
    CHECK_OK(ctx, tfm_model_load(ctx, dir, &mp, &m));
    CHECK_EQ_INT(tfm_model_kind(m), want);
    if (m) CHECK_STR(tfm_model_arch(m), arch);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(model_kind_of_every_architecture) {
    kind_of("golden/llama/tiny", TFM_KIND_DECODER, "llama");
    kind_of("golden/gpt2/tiny", TFM_KIND_DECODER, "gpt2");
    kind_of("golden/bert/bert_mlm", TFM_KIND_ENCODER, "bert");
    kind_of("golden/bert/distilbert_cls", TFM_KIND_ENCODER, "distilbert");
    kind_of("golden/marian/marian_tiny", TFM_KIND_ENCODER_DECODER, "marian");
    kind_of("golden/marian/transformer_tiny", TFM_KIND_ENCODER_DECODER, "transformer");
    CHECK_EQ_INT(tfm_model_kind(NULL), 0);
}

TEST(model_kind_llama2c) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    const char *bin = tfmt_shared("models/stories260K/stories260K.bin");
    if (!bin) {
        tfm_ctx_free(ctx);
        SKIP("../shared absent: stories260K not available");
    }
    mp.no_tokenizer = 1;
    CHECK_OK(ctx, tfm_model_load(ctx, bin, &mp, &m));
    CHECK_EQ_INT(tfm_model_kind(m), TFM_KIND_DECODER);
    if (m) CHECK_STR(tfm_model_arch(m), "llama");
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(rope_tables_values_and_errors) {
    enum { P = 7, R = 6 };
    float c[P * R / 2], s[P * R / 2];
    tfm_ctx *ctx = tfmt_ctx(1);
    int p, i;
    CHECK_OK(ctx, tfm_rope_tables(ctx, 10000.0f, R, P, 0, c, s));
    for (p = 0; p < P; p++)
        for (i = 0; i < R / 2; i++) {
            double a = (double)p * (1.0 / pow(10000.0, (double)(2 * i) / R));
            CHECK(c[p * R / 2 + i] == (float)cos(a) && s[p * R / 2 + i] == (float)sin(a));
        }
    CHECK_OK(ctx, tfm_rope_tables(ctx, 500000.0f, R, P, TFM_ROPE_FLOAT_ANGLES, c, s));
    for (p = 0; p < P; p++)
        for (i = 0; i < R / 2; i++) {
            float a = (float)p * (1.0f / powf(500000.0f, (float)(2 * i) / (float)R));
            CHECK(c[p * R / 2 + i] == cosf(a) && s[p * R / 2 + i] == sinf(a));
        }
    CHECK_STATUS(tfm_rope_tables(ctx, 10000.0f, R, P, 0, NULL, s), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "NULL table");
    CHECK_STATUS(tfm_rope_tables(ctx, 10000.0f, 5, P, 0, c, s), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "rot_dim 5");
    CHECK_STATUS(tfm_rope_tables(ctx, 0.0f, R, P, 0, c, s), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_rope_tables(ctx, 10000.0f, R, 0, 0, c, s), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_rope_tables(ctx, 10000.0f, R, P, 4, c, s), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "flags 0x4");
    tfm_ctx_free(ctx);
}

// Two self-attention modules with rotary positions, one with precomputed
// tables: the same bits, prompt and cached steps; past the table: an error.
TEST(mha_rope_tables_option) {
    enum { D = 16, H = 4, T = 8, S = 5 };
    static float wq[D * D], wk[D * D], wv[D * D], wo[D * D], x[S * D], o1[S * D], o2[S * D];
    static float cs[T * 2], sn[T * 2];
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_mha_params p = tfm_mha_params_default();
    tfm_mha_weights w = tfm_mha_weights_default();
    tfm_tensor tq, tk, tv, to, tx, ty;
    tfm_mha *a = NULL, *b = NULL;
    tfm_kv_cache_params kp = tfm_kv_cache_params_default();
    tfm_kv_cache *c1 = NULL, *c2 = NULL;
    int64_t shp[3];
    int i;
    tfmt_seed(8);
    tfmt_fill(wq, D * D); tfmt_fill(wk, D * D); tfmt_fill(wv, D * D); tfmt_fill(wo, D * D);
    tfmt_fill(x, S * D);
    shp[0] = D; shp[1] = D;
    tfm_tensor_wrap(&tq, TFM_F32, 2, shp, wq);
    tfm_tensor_wrap(&tk, TFM_F32, 2, shp, wk);
    tfm_tensor_wrap(&tv, TFM_F32, 2, shp, wv);
    tfm_tensor_wrap(&to, TFM_F32, 2, shp, wo);
    w.wq = &tq; w.wk = &tk; w.wv = &tv; w.wo = &to;
    p.d_model = D; p.n_heads = H; p.causal = 1; p.rope = TFM_ROPE_HALF; p.rope_dim = 4;
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &a));
    REQUIRE_OK(ctx, tfm_rope_tables(ctx, p.rope_theta, 4, T, 0, cs, sn));
    p.rope_cos = cs; p.rope_sin = sn; p.rope_positions = T;
    p.attn_serial_below = 1 << 30;
    REQUIRE_OK(ctx, tfm_mha_create(ctx, &p, &w, &b));
    kp.n_layers = 1; kp.max_batch = 1; kp.n_kv_heads = H; kp.head_dim = D / H; kp.max_seq = 16;
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &kp, &c1));
    REQUIRE_OK(ctx, tfm_kv_cache_create(ctx, &kp, &c2));
    shp[0] = 1; shp[1] = S; shp[2] = D;
    tfm_tensor_wrap(&tx, TFM_F32, 3, shp, x);
    tfm_tensor_wrap(&ty, TFM_F32, 3, shp, o1);
    CHECK_OK(ctx, tfm_mha_forward(ctx, a, &tx, NULL, NULL, NULL, c1, 0, NULL, &ty, NULL));
    tfm_tensor_wrap(&ty, TFM_F32, 3, shp, o2);
    CHECK_OK(ctx, tfm_mha_forward(ctx, b, &tx, NULL, NULL, NULL, c2, 0, NULL, &ty, NULL));
    CHECK(memcmp(o1, o2, sizeof o1) == 0);
    shp[1] = 1;
    tfm_tensor_wrap(&tx, TFM_F32, 3, shp, x);
    for (i = 0; i < 3; i++) { // positions 5, 6, 7: inside the table
        tfm_tensor_wrap(&ty, TFM_F32, 3, shp, o1);
        CHECK_OK(ctx, tfm_mha_forward(ctx, a, &tx, NULL, NULL, NULL, c1, 0, NULL, &ty, NULL));
        tfm_tensor_wrap(&ty, TFM_F32, 3, shp, o2);
        CHECK_OK(ctx, tfm_mha_forward(ctx, b, &tx, NULL, NULL, NULL, c2, 0, NULL, &ty, NULL));
        CHECK(memcmp(o1, o2, D * sizeof(float)) == 0);
    }
    CHECK_STATUS(tfm_mha_forward(ctx, b, &tx, NULL, NULL, NULL, c2, 0, NULL, &ty, NULL),
                 TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "position 8 is outside the rotary tables of 8");
    tfm_mha_free(b);
    b = NULL;
    // Bad options.
    p.rope_sin = NULL;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &b), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "rope_cos and rope_sin");
    p.rope_sin = sn;
    p.rope = TFM_ROPE_NONE;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &b), TFM_ERR_INVALID_ARG);
    p.rope = TFM_ROPE_HALF;
    p.rope_positions = 0;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &b), TFM_ERR_INVALID_ARG);
    p.rope_positions = T;
    p.attn_serial_below = -1;
    CHECK_STATUS(tfm_mha_create(ctx, &p, &w, &b), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "attn_serial_below");
    CHECK(b == NULL);
    tfm_kv_cache_free(c1);
    tfm_kv_cache_free(c2);
    tfm_mha_free(a);
    tfm_ctx_free(ctx);
}

// ---- the format of the weight matrices -------------------------------------------------------

// The prompt logits of folder rel loaded with `weights` (malloc'd, V * n).
static float *prompt_logits(const char *rel, int weights, uint64_t *bytes, int32_t *V) {
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_model_params mp = tfm_model_params_default();
    char dir[512];
    int32_t ids[6] = {1, 5, 9, 2, 7, 3};
    float *out = NULL;
    snprintf(dir, sizeof dir, "%s", tfmt_data(rel));
    mp.no_tokenizer = 1;
    mp.weights = weights;
    if (tfm_model_load(ctx, dir, &mp, &m) != TFM_OK ||
        tfm_session_create(ctx, m, NULL, &s) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "%s: %s", rel, tfm_ctx_last_error(ctx));
    } else {
        *V = tfm_model_vocab_size(m);
        *bytes = tfm_model_weight_bytes(m);
        out = (float *)malloc((size_t)*V * 6 * sizeof(float));
        CHECK_OK(ctx, tfm_session_prefill(s, ids, 6, out));
    }
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return out;
}

TEST(model_weights_formats) {
    uint64_t b32 = 0, b16 = 0, bbf = 0, bst = 0;
    int32_t V = 0;
    float *s = prompt_logits("golden/llama/tiny", TFM_WEIGHTS_STORED, &bst, &V);
    float *f = prompt_logits("golden/llama/tiny", TFM_WEIGHTS_F32, &b32, &V);
    float *h = prompt_logits("golden/llama/tiny", TFM_WEIGHTS_F16, &b16, &V);
    float *bf = prompt_logits("golden/llama/tiny", TFM_WEIGHTS_BF16, &bbf, &V);
    double num = 0, den = 0, nb = 0;
    int64_t i;
    REQUIRE(s && f && h && bf);
    // An F32 file: stored and F32 are the same; F16 and BF16 halve the matrices.
    CHECK(memcmp(s, f, (size_t)V * 6 * sizeof(float)) == 0);
    CHECK(bst == b32);
    CHECK(b16 < b32 * 6 / 10 && bbf == b16);
    for (i = 0; i < (int64_t)V * 6; i++) {
        num += (double)(h[i] - f[i]) * (h[i] - f[i]);
        nb += (double)(bf[i] - f[i]) * (bf[i] - f[i]);
        den += (double)f[i] * f[i];
    }
    CHECK(sqrt(num / den) < 2e-3); // rounded once to f16 (11 bits)
    CHECK(sqrt(nb / den) < 2e-2);  // and to bf16 (8 bits)
    CHECK(num > 0 && nb > num);
    free(s); free(f); free(h); free(bf);
}

TEST(model_weights_f16_file_as_f32) {
    // An F16 file kept as stored and widened at load: the same bits.
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_model *a = NULL, *b = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_encode_outputs o = tfm_encode_outputs_default();
    char dir[512];
    int32_t ids[2 * 5] = {2, 7, 9, 11, 3, 2, 5, 8, 3, 0};
    int32_t mask[2 * 5] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    float *ha, *hb;
    size_t n;
    snprintf(dir, sizeof dir, "%s", tfmt_data("golden/bert/bert_f16"));
    mp.no_tokenizer = 1;
    REQUIRE_OK(ctx, tfm_model_load(ctx, dir, &mp, &a));
    mp.weights = TFM_WEIGHTS_F32;
    REQUIRE_OK(ctx, tfm_model_load(ctx, dir, &mp, &b));
    CHECK(tfm_model_weight_bytes(a) < tfm_model_weight_bytes(b));
    n = (size_t)10 * (size_t)tfm_model_dim(a);
    ha = (float *)malloc(n * sizeof(float));
    hb = (float *)malloc(n * sizeof(float));
    o.hidden = ha;
    CHECK_OK(ctx, tfm_model_encode(ctx, a, ids, NULL, mask, 2, 5, &o));
    o.hidden = hb;
    CHECK_OK(ctx, tfm_model_encode(ctx, b, ids, NULL, mask, 2, 5, &o));
    CHECK(memcmp(ha, hb, n * sizeof(float)) == 0);
    // An unknown format.
    tfm_model_free(b);
    b = (tfm_model *)1;
    mp.weights = 9;
    CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &b), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "weights 9");
    CHECK(b == NULL);
    free(ha); free(hb);
    tfm_model_free(a);
    tfm_ctx_free(ctx);
}

// A feed-forward block and an attention module given f16 (or bf16) weight
// matrices: the bits of the same modules on the widened f32 matrices packed
// (prepack 1), and close to them used in place (prepack 0: 16-bit matrices
// are packed either way, f32 ones then run on the unpacked kernels).
static void same_or_close(const float *a, const float *b, int n, int bitwise) {
    int i;
    if (bitwise) {
        CHECK(memcmp(a, b, (size_t)n * sizeof(float)) == 0);
        return;
    }
    for (i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= 1e-5f * (1.0f + fabsf(a[i])))) {
            tfmt_fail(__FILE__, __LINE__, "element %d: %g against %g", i, a[i], b[i]);
            return;
        }
}

TEST(layers_with_16bit_weights) {
    enum { D = 16, F = 24, S = 5 };
    static float w32[4][D * D], f1[F * D], f2[D * F], x[S * D], o1[S * D], o2[S * D];
    static uint16_t w16[4][D * D], h1[F * D], h2[D * F];
    tfm_ctx *ctx = tfmt_ctx(2);
    int dt, pre, i;
    tfmt_seed(31);
    tfmt_fill(x, S * D);
    for (dt = 0; dt < 2; dt++)
        for (pre = 0; pre < 2; pre++) {
            tfm_tensor t32[4], t16[4], a32, a16, b32, b16, tx, ty;
            tfm_mha_params p = tfm_mha_params_default();
            tfm_mha_weights wa = tfm_mha_weights_default(), wb = tfm_mha_weights_default();
            tfm_ffn_params fp = tfm_ffn_params_default();
            tfm_ffn_weights fa = tfm_ffn_weights_default(), fb = tfm_ffn_weights_default();
            tfm_mha *ma = NULL, *mb = NULL;
            tfm_ffn *ffa = NULL, *ffb = NULL;
            tfm_dtype d16 = dt ? TFM_BF16 : TFM_F16;
            int64_t sq[2] = {D, D}, s1[2] = {F, D}, s2[2] = {D, F}, sx[3] = {1, S, D};
            for (i = 0; i < 4; i++) {
                tfmt_fill(w32[i], D * D);
                if (dt) tfm_f32_to_bf16_array(w32[i], w16[i], D * D);
                else tfm_f32_to_f16_array(w32[i], w16[i], D * D);
                if (dt) tfm_bf16_to_f32_array(w16[i], w32[i], D * D);
                else tfm_f16_to_f32_array(w16[i], w32[i], D * D);
                tfm_tensor_wrap(&t32[i], TFM_F32, 2, sq, w32[i]);
                tfm_tensor_wrap(&t16[i], d16, 2, sq, w16[i]);
            }
            tfmt_fill(f1, F * D);
            tfmt_fill(f2, D * F);
            tfm_f32_to_f16_array(f1, h1, F * D);
            tfm_f16_to_f32_array(h1, f1, F * D);
            tfm_f32_to_f16_array(f2, h2, D * F);
            tfm_f16_to_f32_array(h2, f2, D * F);
            tfm_tensor_wrap(&a32, TFM_F32, 2, s1, f1);
            tfm_tensor_wrap(&a16, TFM_F16, 2, s1, h1);
            tfm_tensor_wrap(&b32, TFM_F32, 2, s2, f2);
            tfm_tensor_wrap(&b16, TFM_F16, 2, s2, h2);
            wa.wq = &t32[0]; wa.wk = &t32[1]; wa.wv = &t32[2]; wa.wo = &t32[3];
            wb.wq = &t16[0]; wb.wk = &t16[1]; wb.wv = &t16[2]; wb.wo = &t16[3];
            p.d_model = D; p.n_heads = 4; p.prepack = pre;
            fa.w1 = &a32; fa.w2 = &b32; fb.w1 = &a16; fb.w2 = &b16;
            fp.d_model = D; fp.d_ff = F; fp.act = TFM_ACT_GELU; fp.prepack = pre;
            tfm_tensor_wrap(&tx, TFM_F32, 3, sx, x);
            CHECK_OK(ctx, tfm_mha_create(ctx, &p, &wa, &ma));
            CHECK_OK(ctx, tfm_mha_create(ctx, &p, &wb, &mb));
            CHECK_OK(ctx, tfm_ffn_create(ctx, &fp, &fa, &ffa));
            CHECK_OK(ctx, tfm_ffn_create(ctx, &fp, &fb, &ffb));
            if (ma && mb && ffa && ffb) {
                tfm_tensor_wrap(&ty, TFM_F32, 3, sx, o1);
                CHECK_OK(ctx, tfm_mha_forward(ctx, ma, &tx, NULL, NULL, NULL, NULL, 0, NULL, &ty,
                                              NULL));
                tfm_tensor_wrap(&ty, TFM_F32, 3, sx, o2);
                CHECK_OK(ctx, tfm_mha_forward(ctx, mb, &tx, NULL, NULL, NULL, NULL, 0, NULL, &ty,
                                              NULL));
                same_or_close(o1, o2, S * D, pre);
                tfm_tensor_wrap(&ty, TFM_F32, 3, sx, o1);
                CHECK_OK(ctx, tfm_ffn_forward(ctx, ffa, &tx, NULL, &ty));
                tfm_tensor_wrap(&ty, TFM_F32, 3, sx, o2);
                CHECK_OK(ctx, tfm_ffn_forward(ctx, ffb, &tx, NULL, &ty));
                same_or_close(o1, o2, S * D, pre);
            }
            tfm_mha_free(ma);
            tfm_mha_free(mb);
            tfm_ffn_free(ffa);
            tfm_ffn_free(ffb);
        }
    tfm_ctx_free(ctx);
}
