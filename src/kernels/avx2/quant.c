/*
 * Quantized weights, AVX2: activation quantization, the panel kernels
 * without AVX-VNNI (quant_body.h), and the registration, which takes the
 * AVX-VNNI kernels (quant_vnni.c) where cpuid has them.
 * Contract: kernels.h, "quantized weights". Twin: ref/quant.c.
 */
#define QUANT_VNNI 0
#define QUANT_NAME(f) avx2_##f
#define QUANT_LINKAGE static
#include "quant_body.h"

#include <float.h>
#include <math.h>

void tfm__avx2_vnni_q8(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                       const int32_t *as, const uint8_t *w, float *c, int64_t ldc, int64_t n);
void tfm__avx2_vnni_q4(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                       const int32_t *as, const uint8_t *w, float *c, int64_t ldc, int64_t n);

static void quantize(int64_t k, const float *x, int8_t *q, float *d, int32_t *s) {
    const __m256 sign = _mm256_set1_ps(-0.0f), fmax = _mm256_set1_ps(FLT_MAX);
    int64_t b, kb = (k + TFM__QK - 1) / TFM__QK;
    int i;
    for (b = 0; b < kb; b++) {
        int64_t left = k - b * TFM__QK;
        float buf[TFM__QK], amax;
        const float *xb = x + b * TFM__QK;
        __m256 v[4], mx;
        __m256i qi[4], p01, p23;
        __m128 m4;
        if (left < TFM__QK) { // the last, partial block: zero-padded
            memset(buf, 0, sizeof buf);
            memcpy(buf, xb, (size_t)left * sizeof(float));
            xb = buf;
        }
        for (i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(xb + 8 * i);
        {
            __m256 a[4], bad;
            for (i = 0; i < 4; i++) a[i] = _mm256_andnot_ps(sign, v[i]);
            bad = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(a[0], fmax, _CMP_NLE_UQ),
                                            _mm256_cmp_ps(a[1], fmax, _CMP_NLE_UQ)),
                               _mm256_or_ps(_mm256_cmp_ps(a[2], fmax, _CMP_NLE_UQ),
                                            _mm256_cmp_ps(a[3], fmax, _CMP_NLE_UQ)));
            if (_mm256_movemask_ps(bad)) { // NaN or infinity: see kernels.h
                memset(q + b * TFM__QK, 0, TFM__QK);
                d[b] = NAN;
                s[b] = 0;
                continue;
            }
            mx = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
        }
        m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        amax = _mm_cvtss_f32(m4);
        d[b] = amax / 127.0f;
        {
            __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
            __m256i sum;
            __m128i s4;
            for (i = 0; i < 4; i++) qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], id));
            sum = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
            s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
            s[b] = _mm_cvtsi128_si32(s4);
        }
        // int32 -> int8 (packs interleave 128-bit lanes: undo with a permute)
        p01 = _mm256_packs_epi32(qi[0], qi[1]);
        p23 = _mm256_packs_epi32(qi[2], qi[3]);
        p01 = _mm256_packs_epi16(p01, p23);
        p01 = _mm256_permutevar8x32_epi32(p01, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + b * TFM__QK), p01);
    }
}

void tfm__avx2_init_quant(tfm__kernels *k, int dot) {
    k->quant.quantize = quantize;
    k->quant.q8 = dot ? tfm__avx2_vnni_q8 : avx2_q8;
    k->quant.q4 = dot ? tfm__avx2_vnni_q4 : avx2_q4;
}
