/*
 * Quantized weights, AVX2: the Q8 and Q4 panel kernels, written once for
 * quant.c (QUANT_VNNI 0: vpmaddubsw) and quant_vnni.c (QUANT_VNNI 1: AVX-VNNI
 * vpdpbusd, compiled with -mavxvnni), which name them with QUANT_NAME and
 * give them QUANT_LINKAGE. A 64-byte group of a panel-block is two ymm: 4 qs
 * bytes of rows 0-7 and of rows 8-15; each meets the 4 broadcast activation
 * bytes of R rows of A (R = 2, 1). Offsets as in avx512/quant_body.h: Q8
 * flipped to q + 128 for vpdpbusd, or |a| and q with a's sign into
 * vpmaddubsw (exact: |q|, |a| <= 127); Q4 nibbles n as they are, their
 * minimum m coming in as m * sum(a).
 * Contract: kernels.h, "quantized weights". Twin: ref/quant.c.
 */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

#define QUANT_FN(f) QUANT_NAME(f)

static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// s += the 4-byte dot of each lane: unsigned u against signed broadcast a.
static inline __m256i dot_u(__m256i s, __m256i u, __m256i a) {
#if QUANT_VNNI
    return _mm256_dpbusd_avx_epi32(s, u, a);
#else
    return _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a),
                                                 _mm256_set1_epi16(1)));
#endif
}

// s += the 4-byte dot of each lane of signed q (Q8 as stored) and signed a.
static inline __m256i dot_s(__m256i s, __m256i q, __m256i a) {
#if QUANT_VNNI
    return dot_u(s, _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)), a);
#else
    return _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(a),
                                                                      _mm256_sign_epi8(q, a)),
                                                 _mm256_set1_epi16(1)));
#endif
}

#define Q8_OFFSET (QUANT_VNNI ? 128 : 0)

static inline __attribute__((always_inline)) void qrows(const int q4, const int R, int64_t kb,
                                                        const int8_t *aq, const float *ad,
                                                        const int32_t *as, const uint8_t *w,
                                                        float *c, int64_t ldc, int64_t n) {
    const size_t bs = q4 ? TFM__Q4_BLOCK : TFM__Q8_BLOCK;
    const int64_t la = kb * TFM__QK;
    const int off = q4 ? 0 : Q8_OFFSET;
    const int qs = q4 ? 64 : 32; // where the values start
    __m256 acc[2][2];
    int64_t b;
    int r, g, h;
    for (r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (b = 0; b < kb; b++, w += bs) {
        const int8_t *a = aq + b * TFM__QK;
        __m256i s[2][2];
        if (R == 1) { // decoding streams the panels once: ask for them early
            size_t o;
            for (o = 0; o < bs; o += 64) _mm_prefetch((const char *)w + 2048 + o, _MM_HINT_T0);
        }
        for (r = 0; r < R; r++) s[r][0] = s[r][1] = _mm256_setzero_si256();
        if (!q4) {
#pragma GCC unroll 8
            for (g = 0; g < 8; g++) {
                __m256i q0 = _mm256_loadu_si256((const __m256i *)(w + qs + g * 64));
                __m256i q1 = _mm256_loadu_si256((const __m256i *)(w + qs + 32 + g * 64));
                for (r = 0; r < R; r++) {
                    __m256i x = bcast4(a + r * la + g * 4);
                    s[r][0] = dot_s(s[r][0], q0, x);
                    s[r][1] = dot_s(s[r][1], q1, x);
                }
            }
        } else {
            const __m256i lo = _mm256_set1_epi8(15);
#pragma GCC unroll 4
            for (g = 0; g < 4; g++) {
                for (h = 0; h < 2; h++) {
                    __m256i v = _mm256_loadu_si256((const __m256i *)(w + qs + g * 64 + h * 32));
                    __m256i n0 = _mm256_and_si256(v, lo);
                    __m256i n1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo);
                    for (r = 0; r < R; r++) {
                        s[r][h] = dot_u(s[r][h], n0, bcast4(a + r * la + g * 4));
                        s[r][h] = dot_u(s[r][h], n1, bcast4(a + r * la + 16 + g * 4));
                    }
                }
            }
        }
        for (h = 0; h < 2; h++) {
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + h * 16)));
            for (r = 0; r < R; r++) {
                __m256i dot = _mm256_sub_epi32(s[r][h], _mm256_set1_epi32(off * as[r * kb + b]));
                __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(ad[r * kb + b]));
                acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), sc, acc[r][h]);
                if (q4) {
                    __m256 mw = _mm256_cvtph_ps(
                        _mm_loadu_si128((const __m128i *)(w + 32 + h * 16)));
                    acc[r][h] = _mm256_fmadd_ps(_mm256_set1_ps((float)as[r * kb + b]),
                                                _mm256_mul_ps(mw, _mm256_set1_ps(ad[r * kb + b])),
                                                acc[r][h]);
                }
            }
        }
    }
    for (r = 0; r < R; r++) {
        if (n == 16) {
            _mm256_storeu_ps(c + r * ldc, acc[r][0]);
            _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
        } else {
            float t[16];
            _mm256_storeu_ps(t, acc[r][0]);
            _mm256_storeu_ps(t + 8, acc[r][1]);
            memcpy(c + r * ldc, t, (size_t)n * sizeof(float));
        }
    }
}

#define QUANT_ROWS 2
#include "../quant_entry.h"
