/* Core: versions, status strings, contexts, tensors, conversions. */
#include "harness.h"

#include <stdlib.h>

TEST(version_matches_header) {
    int ma, mi, pa;
    tfm_version(&ma, &mi, &pa);
    CHECK_EQ_INT(tfm_version_number(), TFM_VERSION_NUMBER);
    CHECK_EQ_INT(ma, TFM_VERSION_MAJOR);
    CHECK_EQ_INT(mi, TFM_VERSION_MINOR);
    CHECK_EQ_INT(pa, TFM_VERSION_PATCH);
    CHECK_STR(tfm_version_string(), TFM_VERSION_STRING);
}

TEST(status_strings) {
    int s;
    for (s = 0; s <= TFM_ERR_NUMERIC; s++) CHECK(strcmp(tfm_status_str((tfm_status)s), "unknown status") != 0);
    CHECK_STR(tfm_status_str((tfm_status)999), "unknown status");
    CHECK_STR(tfm_status_str(TFM_ERR_NOMEM), "out of memory");
}

TEST(ctx_params_validation) {
    tfm_ctx *ctx = (tfm_ctx *)1;
    tfm_ctx_params p = tfm_ctx_params_default();
    CHECK_STATUS(tfm_ctx_create(NULL, NULL), TFM_ERR_INVALID_ARG);
    p.n_threads = 0;
    CHECK_STATUS(tfm_ctx_create(&p, &ctx), TFM_ERR_INVALID_ARG);
    CHECK(ctx == NULL);
    p = tfm_ctx_params_default();
    p.alignment = 48;
    CHECK_STATUS(tfm_ctx_create(&p, &ctx), TFM_ERR_INVALID_ARG);
    p = tfm_ctx_params_default();
    p.struct_size = 3;
    CHECK_STATUS(tfm_ctx_create(&p, &ctx), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_ctx_create(NULL, &ctx), TFM_OK);
    CHECK_EQ_INT(tfm_ctx_n_threads(ctx), 1);
    CHECK_STR(tfm_ctx_last_error(ctx), "");
    tfm_ctx_free(ctx);
    tfm_ctx_free(NULL);
    CHECK_STR(tfm_ctx_last_error(NULL), "");
}

static int g_logged;
static void log_cb(void *ud, int level, const char *msg) {
    (void)ud;
    (void)msg;
    if (level == TFM_LOG_ERROR) g_logged++;
}

TEST(ctx_log_callback_gets_errors) {
    tfm_ctx *ctx;
    tfm_tensor *t;
    int64_t shape[1] = {0};
    tfm_ctx_params p = tfm_ctx_params_default();
    p.log = log_cb;
    g_logged = 0;
    REQUIRE(tfm_ctx_create(&p, &ctx) == TFM_OK);
    CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 1, shape, &t), TFM_ERR_INVALID_ARG);
    CHECK_EQ_INT(g_logged, 1);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "dimension 0 is 0");
    tfm_ctx_free(ctx);
}

TEST(cpu_features_and_kernels) {
    char buf[256], small[4];
    size_t n = tfm_cpu_features_str(tfm_cpu_features(), buf, sizeof buf);
    CHECK_EQ_INT(n, strlen(buf));
    CHECK_EQ_INT(tfm_cpu_features_str(tfm_cpu_features(), small, sizeof small), n);
    CHECK(strlen(small) < sizeof small);
    CHECK(tfm_kernels_supported("ref"));
    CHECK(!tfm_kernels_supported("nonsense"));
    CHECK(tfm_kernels_supported(tfm_kernels_name()));
#if defined(__x86_64__)
    CHECK(tfm_cpu_features() & TFM_CPU_SSE2);
#endif
}

TEST(tensor_create_and_free) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tensor *t = NULL;
    int64_t shape[3] = {2, 3, 4};
    REQUIRE_OK(ctx, tfm_tensor_create(ctx, TFM_F32, 3, shape, &t));
    CHECK_EQ_INT(tfm_tensor_numel(t), 24);
    CHECK_EQ_INT(t->stride[0], 12);
    CHECK_EQ_INT(t->stride[1], 4);
    CHECK_EQ_INT(t->stride[2], 1);
    CHECK_EQ_INT(t->shape[3], 1);
    CHECK(tfm_tensor_is_contiguous(t));
    CHECK(((uintptr_t)t->data % 64) == 0);
    CHECK(((float *)t->data)[23] == 0.0f);
    tfm_tensor_free(t);
    tfm_tensor_free(NULL);
    tfm_ctx_free(ctx);
}

TEST(tensor_bad_shapes) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tensor *t = (tfm_tensor *)1;
    int64_t neg[2] = {2, -3}, huge[4] = {INT64_MAX / 2, 4, 1, 1}, ok[2] = {2, 2};
    CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 2, neg, &t), TFM_ERR_INVALID_ARG);
    CHECK(t == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "dimension 1");
    CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 4, huge, &t), TFM_ERR_RANGE);
    CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 0, ok, &t), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 5, ok, &t), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_tensor_create(ctx, (tfm_dtype)42, 2, ok, &t), TFM_ERR_DTYPE);
    CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 2, NULL, &t), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 2, ok, NULL), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_tensor_create(NULL, TFM_F32, 2, ok, &t), TFM_ERR_INVALID_ARG);
    {
        int64_t big[2] = {INT64_MAX / 4, 2}; // fits as elements, not as bytes
        CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 2, big, &t), TFM_ERR_RANGE);
    }
    tfm_ctx_free(ctx);
}

TEST(tensor_view_bounds) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tensor *t, *v = NULL;
    int64_t shape[2] = {4, 6}, vs[2] = {2, 3}, st[2] = {6, 2};
    REQUIRE_OK(ctx, tfm_tensor_create(ctx, TFM_F32, 2, shape, &t));
    {
        int i;
        for (i = 0; i < 24; i++) ((float *)t->data)[i] = (float)i;
    }
    // rows 1..2, every other column starting at 1
    REQUIRE_OK(ctx, tfm_tensor_view(ctx, t, 2, vs, st, 7, &v));
    CHECK(((float *)v->data)[0] == 7.0f);
    CHECK(!tfm_tensor_is_contiguous(v));
    {
        float out[6];
        tfm_tensor o;
        REQUIRE(tfm_tensor_wrap(&o, TFM_F32, 2, vs, out) == TFM_OK);
        CHECK_OK(ctx, tfm_tensor_copy(ctx, v, &o));
        CHECK(out[0] == 7 && out[1] == 9 && out[2] == 11 && out[3] == 13 && out[5] == 17);
    }
    tfm_tensor_free(v);
    // reaching one past the end is refused
    REQUIRE_OK(ctx, tfm_tensor_view(ctx, t, 2, vs, st, 13, &v)); // ends at the last element
    tfm_tensor_free(v);
    CHECK_STATUS(tfm_tensor_view(ctx, t, 2, vs, st, 14, &v), TFM_ERR_SHAPE);
    CHECK(v == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "past the end");
    {
        int64_t whole[1] = {24}, over[1] = {25};
        REQUIRE_OK(ctx, tfm_tensor_view(ctx, t, 1, whole, NULL, 0, &v));
        tfm_tensor_free(v);
        CHECK_STATUS(tfm_tensor_view(ctx, t, 1, over, NULL, 0, &v), TFM_ERR_SHAPE);
        CHECK_STATUS(tfm_tensor_view(ctx, t, 1, whole, NULL, -1, &v), TFM_ERR_INVALID_ARG);
    }
    tfm_tensor_free(t);
    tfm_ctx_free(ctx);
}

TEST(half_conversions) {
    // exact values, rounding to nearest even, specials
    CHECK_EQ_INT(tfm_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(tfm_f32_to_f16(-2.0f), 0xc000);
    CHECK_EQ_INT(tfm_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(tfm_f32_to_f16(65520.0f), 0x7c00); // rounds up to inf
    CHECK_EQ_INT(tfm_f32_to_f16(5.9604645e-08f), 0x0001); // smallest subnormal
    CHECK_EQ_INT(tfm_f32_to_f16(2.98e-08f), 0x0000);
    CHECK_EQ_INT(tfm_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); // tie to even
    CHECK_EQ_INT(tfm_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
    CHECK(tfm_f16_to_f32(0x7e00) != tfm_f16_to_f32(0x7e00)); // NaN
    CHECK(tfm_f16_to_f32(tfm_f32_to_f16(NAN)) != tfm_f16_to_f32(tfm_f32_to_f16(NAN)));
    CHECK(tfm_f16_to_f32(0x0001) == 5.9604645e-08f);
    CHECK(tfm_f16_to_f32(0x3555) == 0.333251953125f);
    CHECK_EQ_INT(tfm_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(tfm_f32_to_bf16(1.00390625f), 0x3f80); // tie to even
    CHECK_EQ_INT(tfm_f32_to_bf16(1.01171875f), 0x3f82);
    CHECK(tfm_bf16_to_f32(0x3fc0) == 1.5f);
    CHECK(tfm_bf16_to_f32(tfm_f32_to_bf16(NAN)) != tfm_bf16_to_f32(tfm_f32_to_bf16(NAN)));
    {
        // every f16 round-trips through f32
        unsigned h;
        int bad = 0;
        for (h = 0; h < 65536; h++) {
            float f = tfm_f16_to_f32((uint16_t)h);
            if (f == f && tfm_f32_to_f16(f) != h) bad++;
        }
        CHECK_EQ_INT(bad, 0);
    }
}

TEST(tensor_copy_converts) {
    tfm_ctx *ctx = tfmt_ctx(1);
    float src[6] = {1.5f, -2.25f, 3.0f, 0.1f, 100.0f, -0.5f}, back[6];
    uint16_t h[6];
    int8_t q[6];
    int32_t iv[6];
    int64_t shape[2] = {2, 3};
    tfm_tensor ts, th, tq, ti, tb;
    float scales[2] = {0.5f, 1.0f};
    tfm_tensor_wrap(&ts, TFM_F32, 2, shape, src);
    tfm_tensor_wrap(&th, TFM_F16, 2, shape, h);
    tfm_tensor_wrap(&tq, TFM_I8, 2, shape, q);
    tfm_tensor_wrap(&ti, TFM_I32, 2, shape, iv);
    tfm_tensor_wrap(&tb, TFM_F32, 2, shape, back);
    CHECK_OK(ctx, tfm_tensor_copy(ctx, &ts, &th));
    CHECK_OK(ctx, tfm_tensor_copy(ctx, &th, &tb));
    CHECK(back[0] == 1.5f && back[1] == -2.25f && back[4] == 100.0f);
    tq.scales = scales; // per-row scales
    CHECK_OK(ctx, tfm_tensor_copy(ctx, &ts, &tq));
    CHECK_EQ_INT(q[0], 3);
    CHECK_EQ_INT(q[1], -5); // -4.5 rounds away from zero
    CHECK_EQ_INT(q[4], 100);
    CHECK_OK(ctx, tfm_tensor_copy(ctx, &tq, &tb));
    CHECK(back[0] == 1.5f && back[4] == 100.0f);
    CHECK_OK(ctx, tfm_tensor_copy(ctx, &ts, &ti));
    CHECK_EQ_INT(iv[1], -2);
    {
        int64_t other[2] = {3, 2};
        tfm_tensor bad;
        tfm_tensor_wrap(&bad, TFM_F32, 2, other, back);
        CHECK_STATUS(tfm_tensor_copy(ctx, &ts, &bad), TFM_ERR_SHAPE);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "[2, 3]");
    }
    tfm_ctx_free(ctx);
}
