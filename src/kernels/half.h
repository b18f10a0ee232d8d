/*
 * Scalar f16 and bf16 conversions (round to nearest even, NaN stays NaN),
 * shared by the reference kernels and the public scalar functions.
 */
#ifndef TFM_HALF_H
#define TFM_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t tfm__f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float tfm__bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float tfm__h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) // inf or NaN
        return tfm__bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return tfm__bits_f32(sign);
        // subnormal: normalize
        exp = 1;
        while (!(man & 0x400)) {
            man <<= 1;
            exp--;
        }
        man &= 0x3ff;
    }
    return tfm__bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t tfm__f2h(float f) {
    uint32_t u = tfm__f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000;
    uint32_t exp = (u >> 23) & 0xff, man = u & 0x7fffff;
    int32_t e;
    if (exp == 0xff) // inf or NaN (keep a quiet NaN bit)
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    e = (int32_t)exp - 127 + 15;
    if (e >= 0x1f) return (uint16_t)(sign | 0x7c00); // overflow -> inf
    if (e <= 0) {                                      // subnormal or zero
        uint32_t m, shift, half, rest, r;
        if (e < -10) return (uint16_t)sign;
        m = man | 0x800000;
        shift = (uint32_t)(14 - e);
        r = m >> shift;
        rest = m & ((1u << shift) - 1);
        half = 1u << (shift - 1);
        if (rest > half || (rest == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    {
        uint32_t r = ((uint32_t)e << 10) | (man >> 13);
        uint32_t rest = man & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) r++; // may carry to inf
        return (uint16_t)(sign | r);
    }
}

static inline float tfm__bf2f(uint16_t h) {
    return tfm__bits_f32((uint32_t)h << 16);
}

static inline uint16_t tfm__f2bf(float f) {
    uint32_t u = tfm__f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40); // NaN
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

#endif /* TFM_HALF_H */
