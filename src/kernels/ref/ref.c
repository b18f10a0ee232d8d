/*
 * Scalar reference kernels: the oracle for every SIMD kernel.
 * ISA: none (baseline C). Accumulation in f32, in a fixed order.
 */
#include "../kernels.h"
#include "../half.h"

#include <math.h>

// ---- matrix multiply -----------------------------------------------------------

static void ref_sgemm(int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb,
                      int trans_b, float beta, float *c, int64_t ldc) {
    int64_t i, j, p;
    for (i = 0; i < m; i++) {
        const float *ai = a + i * lda;
        float *ci = c + i * ldc;
        for (j = 0; j < n; j++) {
            float acc = 0.0f;
            if (trans_b) {
                const float *bj = b + j * ldb;
                for (p = 0; p < k; p++) acc += ai[p] * bj[p];
            } else {
                for (p = 0; p < k; p++) acc += ai[p] * b[p * ldb + j];
            }
            ci[j] = beta == 0.0f ? alpha * acc : alpha * acc + beta * ci[j];
        }
    }
}

// ---- vectors -------------------------------------------------------------------

static float ref_dot(int64_t n, const float *x, const float *y) {
    float acc = 0.0f;
    int64_t i;
    for (i = 0; i < n; i++) acc += x[i] * y[i];
    return acc;
}

static void ref_axpy(int64_t n, float a, const float *x, float *y) {
    int64_t i;
    for (i = 0; i < n; i++) y[i] += a * x[i];
}

static void ref_add(int64_t n, const float *a, const float *b, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static void ref_mul(int64_t n, const float *a, const float *b, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = a[i] * b[i];
}

static void ref_scale(int64_t n, float s, const float *x, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = x[i] * s;
}

static void ref_exp(int64_t n, const float *x, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = expf(x[i]);
}

static void ref_softmax(int64_t n, const float *x, const float *mask,
                        float *out) {
    float mx = -INFINITY, sum = 0.0f;
    int64_t i;
    for (i = 0; i < n; i++) {
        float v = mask ? x[i] + mask[i] : x[i];
        out[i] = v;
        if (v > mx) mx = v;
    }
    if (mx == -INFINITY) { // every position masked out: zeros, unless a NaN hid the max
        float fill = 0.0f;
        for (i = 0; i < n; i++)
            if (out[i] != out[i]) fill = out[i];
        for (i = 0; i < n; i++) out[i] = fill;
        return;
    }
    for (i = 0; i < n; i++) {
        out[i] = expf(out[i] - mx);
        sum += out[i];
    }
    for (i = 0; i < n; i++) out[i] /= sum;
}

static void ref_layernorm(int64_t n, const float *x, const float *g,
                          const float *b, float eps, float *out) {
    float mean = 0.0f, var = 0.0f, inv;
    int64_t i;
    float resid = 0.0f;
    for (i = 0; i < n; i++) mean += x[i];
    mean /= (float)n;
    // Correct the f32 rounding of the mean with the mean residual, so rows
    // with a large common offset keep full precision.
    for (i = 0; i < n; i++) resid += x[i] - mean;
    mean += resid / (float)n;
    for (i = 0; i < n; i++) {
        float d = x[i] - mean;
        var += d * d;
    }
    var /= (float)n;
    inv = 1.0f / sqrtf(var + eps);
    for (i = 0; i < n; i++) {
        float v = (x[i] - mean) * inv;
        if (g) v *= g[i];
        if (b) v += b[i];
        out[i] = v;
    }
}

static void ref_rmsnorm(int64_t n, const float *x, const float *g, float eps,
                        float *out) {
    float ss = 0.0f, inv;
    int64_t i;
    for (i = 0; i < n; i++) ss += x[i] * x[i];
    inv = 1.0f / sqrtf(ss / (float)n + eps);
    for (i = 0; i < n; i++) out[i] = g ? x[i] * inv * g[i] : x[i] * inv;
}

// ---- activations (indexed by tfm_act) ---------------------------------------------

static void act_none(int64_t n, const float *x, float *out) {
    int64_t i;
    if (out != x)
        for (i = 0; i < n; i++) out[i] = x[i];
}

static void act_relu(int64_t n, const float *x, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = x[i] < 0.0f ? 0.0f : x[i]; // NaN and -0 kept
}

static void act_gelu(int64_t n, const float *x, float *out) {
    int64_t i;
    for (i = 0; i < n; i++)
        out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

static void act_gelu_tanh(int64_t n, const float *x, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v *
                 (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
}

static void act_silu(int64_t n, const float *x, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = x[i] / (1.0f + expf(-x[i]));
}

static void act_tanh(int64_t n, const float *x, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = tanhf(x[i]);
}

static void act_sigmoid(int64_t n, const float *x, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-x[i]));
}

static void ref_rope(int64_t d, float *x, const float *c, const float *s,
                     int neox) {
    int64_t i, half = d / 2;
    for (i = 0; i < half; i++) {
        int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        float x0 = x[i0], x1 = x[i1];
        x[i0] = x0 * c[i] - x1 * s[i];
        x[i1] = x0 * s[i] + x1 * c[i];
    }
}

// ---- conversions -------------------------------------------------------------------

static void ref_f16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = tfm__h2f(src[i]);
}

static void ref_f32_to_f16(int64_t n, const float *src, uint16_t *dst) {
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = tfm__f2h(src[i]);
}

static void ref_bf16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = tfm__bf2f(src[i]);
}

static void ref_f32_to_bf16(int64_t n, const float *src, uint16_t *dst) {
    int64_t i;
    for (i = 0; i < n; i++) dst[i] = tfm__f2bf(src[i]);
}

const tfm__kernels tfm__kernels_ref = {
    .name = "ref",
    .sgemm = ref_sgemm,
    .dot = ref_dot,
    .axpy = ref_axpy,
    .add = ref_add,
    .mul = ref_mul,
    .scale = ref_scale,
    .exp = ref_exp,
    .softmax = ref_softmax,
    .layernorm = ref_layernorm,
    .rmsnorm = ref_rmsnorm,
    .act = {act_none, act_relu, act_gelu, act_gelu_tanh, act_silu, act_tanh, act_sigmoid},
    .rope = ref_rope,
    .f16_to_f32 = ref_f16_to_f32,
    .f32_to_f16 = ref_f32_to_f16,
    .bf16_to_f32 = ref_bf16_to_f32,
    .f32_to_bf16 = ref_f32_to_bf16,
    // .gemm left zero: tfm__gemm_of() gives tfm__gemm_ref for this table
};
