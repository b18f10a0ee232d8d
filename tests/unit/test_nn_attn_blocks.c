/*
 * The attention core on blocks of queries: a call with many queries gives,
 * row for row, the same bits as calls with one query each over the keys
 * that query sees (grouped-query heads, causal with more keys than queries,
 * key padding, ALiBi, more than one block of keys in P V), the same
 * probabilities, the same bits for 1, 2 and 3 threads, and the float64
 * result within 1e-5.
 */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { H = 4, HKV = 2, SQ = 37, SK = 300, DH = 24, DV = 20 };

static void ref_row(const float *q, const float *k, const float *v, const uint8_t *kpm,
                    const float *slopes, int h, int i, double *o, double *p) {
    int kh = h / (H / HKV), pos = SK - SQ + i, nk = pos + 1, j, d;
    double mx = -INFINITY, sum = 0, s[SK];
    for (j = 0; j < SK; j++) {
        s[j] = -INFINITY;
        if (j >= nk || kpm[j]) continue;
        s[j] = 0;
        for (d = 0; d < DH; d++)
            s[j] += (double)q[(h * SQ + i) * DH + d] * k[(kh * SK + j) * DH + d];
        s[j] = s[j] / sqrt((double)DH) + (double)slopes[h] * (j - pos);
        if (s[j] > mx) mx = s[j];
    }
    for (j = 0; j < SK; j++) sum += s[j] == -INFINITY ? 0 : exp(s[j] - mx);
    for (d = 0; d < DV; d++) o[d] = 0;
    for (j = 0; j < SK; j++) {
        p[j] = s[j] == -INFINITY ? 0 : exp(s[j] - mx) / sum;
        for (d = 0; d < DV; d++) o[d] += p[j] * v[(kh * SK + j) * DV + d];
    }
}

TEST(nn_attention_blocks_match_single_queries) {
    static float q[H * SQ * DH], k[HKV * SK * DH], v[HKV * SK * DV];
    static float o[3][H * SQ * DV], pr[3][H * SQ * SK], o1[H * DV], p1[H * SK];
    static float qq[H * DH], kk[HKV * SK * DH], vv[HKV * SK * DV];
    static double ro[H * SQ * DV], rp[H * SQ * SK];
    float slopes[H] = {0.5f, 0.25f, 0.125f, 0.0625f};
    uint8_t kpm[SK];
    int64_t sq[4] = {1, H, SQ, DH}, sk[4] = {1, HKV, SK, DH}, sv[4] = {1, HKV, SK, DV};
    int64_t so[4] = {1, H, SQ, DV}, sp[4] = {1, H, SQ, SK}, sh[2] = {1, SK};
    tfm_tensor tq, tk, tv, to, tp, tm;
    tfm_attn_params ap = tfm_attn_params_default();
    tfm_ctx *ctx[3];
    int t, h, i, j;
    tfmt_seed(21);
    tfmt_fill(q, H * SQ * DH);
    tfmt_fill(k, HKV * SK * DH);
    tfmt_fill(v, HKV * SK * DV);
    for (j = 0; j < SK; j++) kpm[j] = j % 17 == 3;
    for (t = 0; t < 3; t++) ctx[t] = tfmt_ctx(t + 1);
    tfm_tensor_wrap(&tq, TFM_F32, 4, sq, q);
    tfm_tensor_wrap(&tk, TFM_F32, 4, sk, k);
    tfm_tensor_wrap(&tv, TFM_F32, 4, sv, v);
    tfm_tensor_wrap(&tm, TFM_U8, 2, sh, kpm);
    ap.causal = 1;
    ap.alibi_slopes = slopes;
    ap.masks.key_padding_mask = &tm;
    for (t = 0; t < 3; t++) {
        tfm_tensor_wrap(&to, TFM_F32, 4, so, o[t]);
        tfm_tensor_wrap(&tp, TFM_F32, 4, sp, pr[t]);
        CHECK_OK(ctx[t], tfm_attention(ctx[t], &tq, &tk, &tv, &ap, &to, &tp));
    }
    CHECK(memcmp(o[0], o[1], sizeof o[0]) == 0 && memcmp(o[0], o[2], sizeof o[0]) == 0);
    CHECK(memcmp(pr[0], pr[1], sizeof pr[0]) == 0 && memcmp(pr[0], pr[2], sizeof pr[0]) == 0);
    for (h = 0; h < H; h++)
        for (i = 0; i < SQ; i++) ref_row(q, k, v, kpm, slopes, h, i, ro + (h * SQ + i) * DV,
                                         rp + (h * SQ + i) * SK);
    CHECK_RELERR(o[0], ro, H * SQ * DV, 1e-5);
    CHECK_RELERR(pr[0], rp, H * SQ * SK, 1e-5);
    // one query at a time over the keys it sees (a decoding step: every head
    // in one call, the grouped heads sharing their keys)
    for (i = 0; i < SQ; i++) {
        int64_t nk = SK - SQ + i + 1, q1[4] = {1, H, 1, DH}, k1[4] = {1, HKV, nk, DH},
                v1[4] = {1, HKV, nk, DV}, o1s[4] = {1, H, 1, DV}, p1s[4] = {1, H, 1, nk},
                m1[2] = {1, nk};
        tfm_tensor tq1, tk1, tv1, tm1;
        for (h = 0; h < H; h++) memcpy(qq + h * DH, q + (h * SQ + i) * DH, sizeof(float) * DH);
        for (h = 0; h < HKV; h++) {
            memcpy(kk + h * nk * DH, k + h * SK * DH, sizeof(float) * (size_t)(nk * DH));
            memcpy(vv + h * nk * DV, v + h * SK * DV, sizeof(float) * (size_t)(nk * DV));
        }
        tfm_tensor_wrap(&tq1, TFM_F32, 4, q1, qq);
        tfm_tensor_wrap(&tk1, TFM_F32, 4, k1, kk);
        tfm_tensor_wrap(&tv1, TFM_F32, 4, v1, vv);
        tfm_tensor_wrap(&tm1, TFM_U8, 2, m1, kpm);
        tfm_tensor_wrap(&to, TFM_F32, 4, o1s, o1);
        tfm_tensor_wrap(&tp, TFM_F32, 4, p1s, p1);
        ap.masks.key_padding_mask = &tm1;
        CHECK_OK(ctx[1], tfm_attention(ctx[1], &tq1, &tk1, &tv1, &ap, &to, &tp));
        for (h = 0; h < H; h++) {
            CHECK(memcmp(o1 + h * DV, o[0] + (h * SQ + i) * DV, sizeof(float) * DV) == 0);
            CHECK(memcmp(p1 + h * nk, pr[0] + (h * SQ + i) * SK, sizeof(float) * (size_t)nk) ==
                  0);
        }
    }
    for (t = 0; t < 3; t++) tfm_ctx_free(ctx[t]);
}
