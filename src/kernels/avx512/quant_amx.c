/*
 * Quantized weights, AMX-INT8: the Q8 panel kernel for 16 rows of A at a
 * time. A panel-block's 8 groups of 64 bytes (4 values of each of the 16
 * rows) are, as they lie, the 8 rows of an AMX B tile (K/4 rows of 16
 * 4-byte columns); 16 rows of quantized activations, one 32-value block,
 * are an A tile (16 rows of 32 bytes, kb * 32 bytes apart). tdpbssd gives
 * the exact int32 dot of each row's block with each column's, which AVX-512
 * then scales into the f32 accumulators as every kernel does (kernels.h):
 * the scalar twin's bits. Rows past the last multiple of 16 go to the VNNI
 * kernel. Two blocks are in flight at a time (tiles 0-1 C, 2-3 A, 4-5 B).
 * (A Q4 twin, nibbles unpacked into B tiles for tdpbsud, measured no faster
 * than VNNI: BERT-base Q4 74.9 against 75.0 ms; it is not kept.)
 * Flags: the avx512 folder's and -mavx512vnni -mamx-tile -mamx-int8; run
 * only where cpuid has AMX-INT8 and the OS grants the tile state (quant.c).
 * Twin: ref/quant.c.
 */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

void tfm__avx512_vnni_q8(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                         const int32_t *as, const uint8_t *w, float *c, int64_t ldc,
                         int64_t n);
void tfm__avx512_amx_q8(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                        const int32_t *as, const uint8_t *w, float *c, int64_t ldc, int64_t n);

typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

// The tiles' shapes: C 0-1 (16 x 16 int32), A 2-3 (16 rows x 32 values), B 4-5
// (8 groups x 16 columns x 4 values). A constant object: the compiler does
// not see ldtilecfg read its operand, so a local one's stores could vanish.
static const tile_config g_cfg = {1, 0, {0}, {64, 64, 32, 32, 64, 64}, {16, 16, 16, 16, 8, 8}};

static void configure(void) { _tile_loadconfig(&g_cfg); }

// acc[r] = fma((float)dot[r], dw * ad[r], acc[r]) for the 16 rows of one block.
static inline void scale_block(__m512 *acc, const int32_t *dot, __m512 dw, const float *ad,
                               int64_t kb) {
    int r;
    for (r = 0; r < 16; r++)
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(dot + 16 * r)),
                                 _mm512_mul_ps(dw, _mm512_set1_ps(ad[r * kb])), acc[r]);
}

void tfm__avx512_amx_q8(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                        const int32_t *as, const uint8_t *w, float *c, int64_t ldc, int64_t n) {
    const int64_t la = kb * TFM__QK, m16 = m / 16 * 16;
    int32_t dot[2][256];
    int64_t i, b;
    int r;
    if (m16) configure();
    for (i = 0; i < m16; i += 16) {
        const int8_t *a = aq + i * la;
        const float *d = ad + i * kb;
        __m512 acc[16];
        for (r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
        for (b = 0; b + 2 <= kb; b += 2) {
            const uint8_t *w0 = w + (size_t)b * TFM__Q8_BLOCK, *w1 = w0 + TFM__Q8_BLOCK;
            _tile_zero(0);
            _tile_zero(1);
            _tile_loadd(2, a + b * TFM__QK, la);
            _tile_loadd(4, w0 + 32, 64);
            _tile_loadd(3, a + (b + 1) * TFM__QK, la);
            _tile_loadd(5, w1 + 32, 64);
            _tile_dpbssd(0, 2, 4);
            _tile_dpbssd(1, 3, 5);
            _tile_stored(0, dot[0], 64);
            _tile_stored(1, dot[1], 64);
            scale_block(acc, dot[0], _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w0)),
                        d + b, kb);
            scale_block(acc, dot[1], _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w1)),
                        d + b + 1, kb);
        }
        if (b < kb) {
            const uint8_t *w0 = w + (size_t)b * TFM__Q8_BLOCK;
            _tile_zero(0);
            _tile_loadd(2, a + b * TFM__QK, la);
            _tile_loadd(4, w0 + 32, 64);
            _tile_dpbssd(0, 2, 4);
            _tile_stored(0, dot[0], 64);
            scale_block(acc, dot[0], _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w0)),
                        d + b, kb);
        }
        for (r = 0; r < 16; r++) {
            if (n == 16) _mm512_storeu_ps(c + (i + r) * ldc, acc[r]);
            else _mm512_mask_storeu_ps(c + (i + r) * ldc, (__mmask16)((1u << n) - 1), acc[r]);
        }
    }
    if (m16) _tile_release();
    if (m16 < m)
        tfm__avx512_vnni_q8(m - m16, kb, aq + m16 * la, ad + m16 * kb, as + m16 * kb, w,
                            c + m16 * ldc, ldc, n);
}
