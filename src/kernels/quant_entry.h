/*
 * The quantized kernels' entry points, written once for every ISA (its
 * quant_body.h includes this after defining qrows): q8 and q4 take m rows of
 * A QUANT_ROWS at a time (8 or 2), then 4 and 2 where QUANT_ROWS is larger,
 * then 1, each chunk through the includer's
 *   qrows(q4, R, kb, aq, ad, as, w, c, ldc, n)
 * named QUANT_FN(q8) / QUANT_FN(q4) with QUANT_LINKAGE (static in the file
 * without the int8 dot product, extern in the one with it).
 * Contract: kernels.h, "quantized weights".
 */
#ifndef TFM_QUANT_ENTRY_H
#define TFM_QUANT_ENTRY_H

#define QUANT_ROWS_CALL(R)                                                               \
    qrows(q4, R, kb, aq + i * la, ad + i * kb, as + i * kb, w, c + i * ldc, ldc, n)

static inline __attribute__((always_inline)) void qpanel(const int q4, int64_t m, int64_t kb,
                                                         const int8_t *aq, const float *ad,
                                                         const int32_t *as, const uint8_t *w,
                                                         float *c, int64_t ldc, int64_t n) {
    const int64_t la = kb * TFM__QK;
    int64_t i = 0;
    for (; i + QUANT_ROWS <= m; i += QUANT_ROWS) QUANT_ROWS_CALL(QUANT_ROWS);
#if QUANT_ROWS > 4
    if (i + 4 <= m) {
        QUANT_ROWS_CALL(4);
        i += 4;
    }
#endif
#if QUANT_ROWS > 2
    if (i + 2 <= m) {
        QUANT_ROWS_CALL(2);
        i += 2;
    }
#endif
    if (i < m) QUANT_ROWS_CALL(1);
}
#undef QUANT_ROWS_CALL

QUANT_LINKAGE void QUANT_FN(q8)(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                                const int32_t *as, const uint8_t *w, float *c, int64_t ldc,
                                int64_t n);
QUANT_LINKAGE void QUANT_FN(q4)(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                                const int32_t *as, const uint8_t *w, float *c, int64_t ldc,
                                int64_t n);

QUANT_LINKAGE void QUANT_FN(q8)(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                                const int32_t *as, const uint8_t *w, float *c, int64_t ldc,
                                int64_t n) {
    qpanel(0, m, kb, aq, ad, as, w, c, ldc, n);
}

QUANT_LINKAGE void QUANT_FN(q4)(int64_t m, int64_t kb, const int8_t *aq, const float *ad,
                                const int32_t *as, const uint8_t *w, float *c, int64_t ldc,
                                int64_t n) {
    qpanel(1, m, kb, aq, ad, as, w, c, ldc, n);
}

#endif /* TFM_QUANT_ENTRY_H */
