/*
 * Quantized weights, AVX-512F/BW: the Q8 and Q4 panel kernels, written once
 * for quant.c (QUANT_VNNI 0: vpmaddubsw) and quant_vnni.c (QUANT_VNNI 1:
 * vpdpbusd, compiled with -mavx512vnni), which name them with QUANT_NAME
 * and give them QUANT_LINKAGE.
 * A 64-byte group of a panel-block is 4 qs bytes of each of the 16 rows; it
 * meets the 4 broadcast activation bytes of each of R rows of A (R = 8, 4,
 * 2, 1), one int32 lane per column. vpdpbusd multiplies unsigned by signed
 * bytes: Q8 values are flipped to q + 128 (and 128 * sum(a) taken off), Q4
 * nibbles are n as they are (their minimum m comes in as m * sum(a)).
 * Without VNNI, Q8 takes |a| and q with a's sign into vpmaddubsw (exact:
 * |q|, |a| <= 127).
 * Contract: kernels.h, "quantized weights". Twin: ref/quant.c.
 */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

#define QUANT_FN(f) QUANT_NAME(f)

static inline __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// s += the 4-byte dot of each lane: unsigned u against signed broadcast a.
static inline __m512i dot_u(__m512i s, __m512i u, __m512i a) {
#if QUANT_VNNI
    return _mm512_dpbusd_epi32(s, u, a);
#else
    return _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_maddubs_epi16(u, a),
                                                 _mm512_set1_epi16(1)));
#endif
}

// s += the 4-byte dot of each lane of signed q (Q8 as stored) and signed a.
static inline __m512i dot_s(__m512i s, __m512i q, __m512i a) {
#if QUANT_VNNI
    return dot_u(s, _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80)), a);
#else
    __mmask64 neg = _mm512_movepi8_mask(a);
    __m512i qs = _mm512_mask_sub_epi8(q, neg, _mm512_setzero_si512(), q);
    return _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(a), qs),
                                                 _mm512_set1_epi16(1)));
#endif
}

// The offset dot_s leaves per unit of sum(a).
#define Q8_OFFSET (QUANT_VNNI ? 128 : 0)

static inline __attribute__((always_inline)) void qrows(const int q4, const int R, int64_t kb,
                                                        const int8_t *aq, const float *ad,
                                                        const int32_t *as, const uint8_t *w,
                                                        float *c, int64_t ldc, int64_t n) {
    const size_t bs = q4 ? TFM__Q4_BLOCK : TFM__Q8_BLOCK;
    const int64_t la = kb * TFM__QK;
    const int off = q4 ? 0 : Q8_OFFSET;
    const int qs = q4 ? 64 : 32; // where the values start
    __m512 acc[8];
    int64_t b;
    int r, g;
#pragma GCC unroll 8
    for (r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (b = 0; b < kb; b++, w += bs) {
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
        if (R == 1) { // decoding streams the panels once: ask for them early
            size_t o;
            for (o = 0; o < bs; o += 64) _mm_prefetch((const char *)w + 2048 + o, _MM_HINT_T0);
        }
        const int8_t *a = aq + b * TFM__QK;
        __m512i s[8], t[8]; // two chains per row, added at the end (exact)
#pragma GCC unroll 8
        for (r = 0; r < R; r++) s[r] = t[r] = _mm512_setzero_si512();
        if (!q4) {
#pragma GCC unroll 8
            for (g = 0; g < 8; g += 2) {
                __m512i q0 = _mm512_loadu_si512(w + qs + g * 64);
                __m512i q1 = _mm512_loadu_si512(w + qs + (g + 1) * 64);
#pragma GCC unroll 8
                for (r = 0; r < R; r++) {
                    s[r] = dot_s(s[r], q0, bcast4(a + r * la + g * 4));
                    t[r] = dot_s(t[r], q1, bcast4(a + r * la + g * 4 + 4));
                }
            }
        } else {
            const __m512i lo = _mm512_set1_epi8(15);
#pragma GCC unroll 4
            for (g = 0; g < 4; g++) {
                __m512i v = _mm512_loadu_si512(w + qs + g * 64);
                __m512i n0 = _mm512_and_si512(v, lo);
                __m512i n1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo);
#pragma GCC unroll 8
                for (r = 0; r < R; r++) {
                    s[r] = dot_u(s[r], n0, bcast4(a + r * la + g * 4));
                    t[r] = dot_u(t[r], n1, bcast4(a + r * la + 16 + g * 4));
                }
            }
        }
#pragma GCC unroll 8
        for (r = 0; r < R; r++) {
            __m512i dot = _mm512_sub_epi32(_mm512_add_epi32(s[r], t[r]),
                                           _mm512_set1_epi32(off * as[r * kb + b]));
            __m512 sc = _mm512_mul_ps(dw, _mm512_set1_ps(ad[r * kb + b]));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc[r]);
            if (q4) {
                __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + 32)));
                acc[r] = _mm512_fmadd_ps(_mm512_set1_ps((float)as[r * kb + b]),
                                         _mm512_mul_ps(mw, _mm512_set1_ps(ad[r * kb + b])),
                                         acc[r]);
            }
        }
    }
#pragma GCC unroll 8
    for (r = 0; r < R; r++) {
        if (n == 16) _mm512_storeu_ps(c + r * ldc, acc[r]);
        else _mm512_mask_storeu_ps(c + r * ldc, (__mmask16)((1u << n) - 1), acc[r]);
    }
}

// m rows: 8 at a time, then 4, 2, 1.
#define QUANT_ROWS 8
#include "../quant_entry.h"
