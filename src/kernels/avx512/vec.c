/*
 * Vector kernels, AVX-512 (F, BW, VL, DQ; + F16C for the conversions).
 * 16 floats per vector; tails by mask registers (no reads or writes past n).
 * Flags: FLAGS_AVX512 in the Makefile. No AVX512-BF16 or FP16 instructions,
 * so the table runs on any AVX-512F/BW/VL/DQ CPU.
 * Algorithms, polynomials and error bounds: ../vec_body.h.
 * Conversions are bit-exact with ref/: f16 by vcvtph2ps/vcvtps2ph (round to
 * nearest even), with f16 NaN lanes rebuilt by integer ops so a signalling
 * NaN keeps its bits as in the scalar twin; bf16 by integer ops.
 */
#include "../kernels.h"

#include <immintrin.h>

typedef __m512 vf;
#define VW 16

#define TFM__M16(n) ((__mmask16)((1u << (n)) - 1u))
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_LOADN(p, n, fill) _mm512_mask_loadu_ps(fill, TFM__M16(n), p)
#define V_STOREN(p, v, n) _mm512_mask_storeu_ps(p, TFM__M16(n), v)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_DIV(a, b) _mm512_div_ps(a, b)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_FNMA(a, b, c) _mm512_fnmadd_ps(a, b, c)
// vmaxps/vminps return the second operand when either is NaN.
#define V_MIN_PROP(c, x) _mm512_min_ps(c, x)
#define V_MAX_IGN(x, acc) _mm512_max_ps(x, acc)
#define V_ABS(x) _mm512_abs_ps(x)
#define V_SIGNBITS(x) _mm512_and_ps(x, _mm512_set1_ps(-0.0f))
#define V_OR(a, b) _mm512_or_ps(a, b)
#define V_LT_SEL(a, b, x, y) \
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x)
#define V_ROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
// vscalefps: p * 2^n with correct overflow and subnormal rounding.
#define V_POW2MUL(p, n) _mm512_scalef_ps(p, n)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define V_HMAX(v) _mm512_reduce_max_ps(v)

// 16 interleaved pairs (x0, x1) at p: (x0 c - x1 s, x0 s + x1 c).
static inline void rope_pairs(float *p, const float *c, const float *s) {
    const __m512i dup = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10,
                                         9, 9, 8, 8);
    const __m512i dup_lo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    // sign flips the sine on even lanes: even = x0 c - x1 s, odd = x1 c + x0 s
    const __m512 neg_even = _mm512_castsi512_ps(_mm512_set_epi32(
        0, (int)0x80000000, 0, (int)0x80000000, 0, (int)0x80000000, 0, (int)0x80000000,
        0, (int)0x80000000, 0, (int)0x80000000, 0, (int)0x80000000, 0, (int)0x80000000));
    __m512 vc = _mm512_loadu_ps(c), vs = _mm512_loadu_ps(s);
    int h;
    for (h = 0; h < 2; h++) {
        __m512i idx = h ? dup : dup_lo;
        __m512 v = _mm512_loadu_ps(p + 16 * h);
        __m512 sw = _mm512_permute_ps(v, 0xB1); // (x1, x0) per pair
        __m512 cc = _mm512_permutexvar_ps(idx, vc);
        __m512 ss = _mm512_xor_ps(_mm512_permutexvar_ps(idx, vs), neg_even);
        _mm512_storeu_ps(p + 16 * h, _mm512_fmadd_ps(sw, ss, _mm512_mul_ps(v, cc)));
    }
}
#define V_ROPE_PAIRS(p, c, s) rope_pairs(p, c, s)

#include "../vec_body.h"

// ---- conversions ------------------------------------------------------------------

// f16 -> f32 of 16 halves. vcvtph2ps quiets a signalling NaN; the scalar twin
// keeps its bits (sign | 0x7f800000 | mantissa << 13), so NaN lanes are redone.
static inline __m512 h2f16(__m256i h) {
    __m512 f = _mm512_cvtph_ps(h);
    __m512i w = _mm512_cvtepu16_epi32(h);
    __m512i mag = _mm512_and_si512(w, _mm512_set1_epi32(0x7fff));
    __mmask16 nan = _mm512_cmpgt_epi32_mask(mag, _mm512_set1_epi32(0x7c00));
    __m512i bits = _mm512_or_si512(
        _mm512_slli_epi32(_mm512_and_si512(w, _mm512_set1_epi32(0x8000)), 16),
        _mm512_or_si512(_mm512_set1_epi32(0x7f800000),
                        _mm512_slli_epi32(_mm512_and_si512(w, _mm512_set1_epi32(0x3ff)), 13)));
    return _mm512_mask_mov_ps(f, nan, _mm512_castsi512_ps(bits));
}

static void cvt_f16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, h2f16(_mm256_loadu_si256((const __m256i *)(src + i))));
    if (i < n) {
        __mmask16 m = TFM__M16(n - i);
        _mm512_mask_storeu_ps(dst + i, m, h2f16(_mm256_maskz_loadu_epi16(m, src + i)));
    }
}

static void cvt_f32_to_f16(int64_t n, const float *src, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        __mmask16 m = TFM__M16(n - i);
        __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_mask_storeu_epi16(dst + i, m, h);
    }
}

static void cvt_bf16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_si512(dst + i, _mm512_slli_epi32(w, 16));
    }
    if (i < n) {
        __mmask16 m = TFM__M16(n - i);
        __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
        _mm512_mask_storeu_ps(dst + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
}

// Round to nearest even on the upper 16 bits; NaN -> quiet NaN (as ref).
static inline __m256i f2bf16(__m512 f) {
    __m512i u = _mm512_castps_si512(f);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
    __m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(r, nan, q));
}

static void cvt_f32_to_bf16(int64_t n, const float *src, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), f2bf16(_mm512_loadu_ps(src + i)));
    if (i < n) {
        __mmask16 m = TFM__M16(n - i);
        _mm256_mask_storeu_epi16(dst + i, m, f2bf16(_mm512_maskz_loadu_ps(m, src + i)));
    }
}

void tfm__avx512_init_vec(tfm__kernels *k) {
    tfm__vec_body_fill(k);
    k->f16_to_f32 = cvt_f16_to_f32;
    k->f32_to_f16 = cvt_f32_to_f16;
    k->bf16_to_f32 = cvt_bf16_to_f32;
    k->f32_to_bf16 = cvt_f32_to_bf16;
}
