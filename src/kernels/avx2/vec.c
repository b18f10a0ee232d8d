/*
 * Vector kernels, AVX2 + FMA (+ F16C for the conversions).
 * 8 floats per vector; tails by vmaskmovps (masked-off lanes are neither
 * read nor written). Flags: FLAGS_AVX2 in the Makefile.
 * Algorithms, polynomials and error bounds: ../vec_body.h.
 * Conversions are bit-exact with ref/: f16 by vcvtph2ps/vcvtps2ph (round to
 * nearest even), f16 NaN lanes rebuilt by integer ops so a signalling NaN
 * keeps its bits as in the scalar twin; bf16 by integer ops.
 */
#include "../kernels.h"

#include <immintrin.h>

typedef __m256 vf;
#define VW 8

// Lane masks: 8 - n entries in, the first n lanes are all-ones.
static const int32_t tfm__avx2_masks[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                            0,  0,  0,  0,  0,  0,  0,  0};
static inline __m256i lane_mask(int n) {
    return _mm256_loadu_si256((const __m256i *)(tfm__avx2_masks + 8 - n));
}
static inline __m256 loadn(const float *p, int n, __m256 fill) {
    __m256i m = lane_mask(n);
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
// p * 2^n for integral n in [-150, 129], as two exact power-of-two factors
// so that subnormal results round once and large n overflows to inf.
static inline __m256 pow2mul(__m256 p, __m256 n) {
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256i b = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, b), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, b), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_LOADN(p, n, fill) loadn(p, n, fill)
#define V_STOREN(p, v, n) _mm256_maskstore_ps(p, lane_mask(n), v)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_DIV(a, b) _mm256_div_ps(a, b)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_FNMA(a, b, c) _mm256_fnmadd_ps(a, b, c)
// vmaxps/vminps return the second operand when either is NaN.
#define V_MIN_PROP(c, x) _mm256_min_ps(c, x)
#define V_MAX_IGN(x, acc) _mm256_max_ps(x, acc)
#define V_ABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define V_SIGNBITS(x) _mm256_and_ps(x, _mm256_set1_ps(-0.0f))
#define V_OR(a, b) _mm256_or_ps(a, b)
#define V_LT_SEL(a, b, x, y) _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ))
#define V_ROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_POW2MUL(p, n) pow2mul(p, n)
#define V_HSUM(v) hsum(v)
#define V_HMAX(v) hmax(v)

// 8 interleaved pairs (x0, x1) at p: (x0 c - x1 s, x0 s + x1 c).
static inline void rope_pairs(float *p, const float *c, const float *s) {
    const __m256i dup_lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i dup_hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    const __m256 neg_even = _mm256_setr_ps(-0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f);
    __m256 vc = _mm256_loadu_ps(c), vs = _mm256_loadu_ps(s);
    int h;
    for (h = 0; h < 2; h++) {
        __m256i idx = h ? dup_hi : dup_lo;
        __m256 v = _mm256_loadu_ps(p + 8 * h);
        __m256 sw = _mm256_permute_ps(v, 0xB1); // (x1, x0) per pair
        __m256 cc = _mm256_permutevar8x32_ps(vc, idx);
        __m256 ss = _mm256_xor_ps(_mm256_permutevar8x32_ps(vs, idx), neg_even);
        _mm256_storeu_ps(p + 8 * h, _mm256_fmadd_ps(sw, ss, _mm256_mul_ps(v, cc)));
    }
}
#define V_ROPE_PAIRS(p, c, s) rope_pairs(p, c, s)

#include "../vec_body.h"

// ---- conversions ------------------------------------------------------------------

// f16 -> f32 of 8 halves; NaN lanes rebuilt as sign | 0x7f800000 | man << 13.
static inline __m256 h2f8(__m128i h) {
    __m256 f = _mm256_cvtph_ps(h);
    __m256i w = _mm256_cvtepu16_epi32(h);
    __m256i mag = _mm256_and_si256(w, _mm256_set1_epi32(0x7fff));
    __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7c00));
    __m256i bits = _mm256_or_si256(
        _mm256_slli_epi32(_mm256_and_si256(w, _mm256_set1_epi32(0x8000)), 16),
        _mm256_or_si256(_mm256_set1_epi32(0x7f800000),
                        _mm256_slli_epi32(_mm256_and_si256(w, _mm256_set1_epi32(0x3ff)), 13)));
    return _mm256_blendv_ps(f, _mm256_castsi256_ps(bits), _mm256_castsi256_ps(nan));
}

static void cvt_f16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, h2f8(_mm_loadu_si128((const __m128i *)(src + i))));
    if (i < n) {
        uint16_t hb[8] = {0};
        int r = (int)(n - i);
        memcpy(hb, src + i, (size_t)r * 2);
        _mm256_maskstore_ps(dst + i, lane_mask(r), h2f8(_mm_loadu_si128((const __m128i *)hb)));
    }
}

static void cvt_f32_to_f16(int64_t n, const float *src, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        uint16_t hb[8];
        int r = (int)(n - i);
        __m256 v = loadn(src + i, r, _mm256_setzero_ps());
        _mm_storeu_si128((__m128i *)hb, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
        memcpy(dst + i, hb, (size_t)r * 2);
    }
}

static void cvt_bf16_to_f32(int64_t n, const uint16_t *src, float *dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(w, 16));
    }
    if (i < n) {
        uint16_t hb[8] = {0};
        int r = (int)(n - i);
        __m256i w;
        memcpy(hb, src + i, (size_t)r * 2);
        w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)hb));
        _mm256_maskstore_ps(dst + i, lane_mask(r), _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
}

// Round to nearest even on the upper 16 bits; NaN -> quiet NaN (as ref).
static inline __m128i f2bf8(__m256 f) {
    __m256i u = _mm256_castps_si256(f);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    // |u| > 0x7f800000 as signed compare: |u| <= 0x7fffffff fits
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                     _mm256_set1_epi32(0x7f800000));
    __m256i v = _mm256_blendv_epi8(r, q, nan);
    // pack 8 x u32 (each <= 0xffff) to u16 and undo the per-128-bit interleave
    v = _mm256_packus_epi32(v, v);
    v = _mm256_permute4x64_epi64(v, 0x08);
    return _mm256_castsi256_si128(v);
}

static void cvt_f32_to_bf16(int64_t n, const float *src, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), f2bf8(_mm256_loadu_ps(src + i)));
    if (i < n) {
        uint16_t hb[8];
        int r = (int)(n - i);
        _mm_storeu_si128((__m128i *)hb, f2bf8(loadn(src + i, r, _mm256_setzero_ps())));
        memcpy(dst + i, hb, (size_t)r * 2);
    }
}

void tfm__avx2_init_vec(tfm__kernels *k) {
    tfm__vec_body_fill(k);
    k->f16_to_f32 = cvt_f16_to_f32;
    k->f32_to_f16 = cvt_f32_to_f16;
    k->bf16_to_f32 = cvt_bf16_to_f32;
    k->f32_to_bf16 = cvt_f32_to_bf16;
}
