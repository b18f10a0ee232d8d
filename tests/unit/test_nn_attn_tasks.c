/*
 * The attention core's task threshold (tfm__attn.par_min): set up as 0 (the
 * default); raising it only moves work onto fewer threads, so the result
 * is the same bits with the default, a raised and a lowered threshold.
 */
#include "harness.h"
#include "nn/nn.h"

#include <stdlib.h>

TEST(nn_attention_par_min_same_bits) {
    enum { H = 4, HKV = 2, SQ = 3, SK = 40, DH = 16 };
    tfm_ctx *ctx = tfmt_ctx(2);
    float q[H * SQ * DH], k[HKV * SK * DH], v[HKV * SK * DH];
    float o[3][H * SQ * DH];
    int64_t sq[4] = {1, H, SQ, DH}, sk[4] = {1, HKV, SK, DH};
    tfm_tensor tq, tk, tv, to;
    tfm_attn_params ap = tfm_attn_params_default();
    tfm__attn at;
    float *scratch;
    double mins[3] = {0, 1e12, 1};
    int i;
    tfmt_seed(5);
    tfmt_fill(q, H * SQ * DH);
    tfmt_fill(k, HKV * SK * DH);
    tfmt_fill(v, HKV * SK * DH);
    tfm_tensor_wrap(&tq, TFM_F32, 4, sq, q);
    tfm_tensor_wrap(&tk, TFM_F32, 4, sk, k);
    tfm_tensor_wrap(&tv, TFM_F32, 4, sk, v);
    scratch = (float *)malloc((size_t)tfm__attn_scratch(ctx, SK) * sizeof(float));
    REQUIRE(scratch != NULL);
    ap.causal = 1; // queries are the last SQ of SK positions
    for (i = 0; i < 3; i++) {
        tfm_tensor_wrap(&to, TFM_F32, 4, sq, o[i]);
        REQUIRE_OK(ctx, tfm__attn_setup(ctx, &tq, &tk, &tv, &ap, &to, NULL, "test", &at));
        CHECK(at.par_min == 0);
        at.par_min = mins[i];
        tfm__attn_run(ctx, &at, scratch);
    }
    CHECK(memcmp(o[0], o[1], sizeof o[0]) == 0);
    CHECK(memcmp(o[0], o[2], sizeof o[0]) == 0);
    // and the same as the public call
    tfm_tensor_wrap(&to, TFM_F32, 4, sq, o[1]);
    CHECK_OK(ctx, tfm_attention(ctx, &tq, &tk, &tv, &ap, &to, NULL));
    CHECK(memcmp(o[0], o[1], sizeof o[0]) == 0);
    free(scratch);
    tfm_ctx_free(ctx);
}
