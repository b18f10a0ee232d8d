/*
 * Quantized matrices (Q8, Q4): making them from f32/f16/bf16 weights
 * (GGUF's Q8_0 rule; for Q4, Q4_1's blocks with the scale and minimum
 * fitted by least squares), reading rows back, re-cutting rows into panels
 * of their own, and checking panels read from a file. The layout is
 * kernels.h's ("quantized weights"); a row's block there is GGUF's block
 * (an f16 scale, for Q4 an f16 minimum, then 32 int8 or 16 bytes of nibble
 * pairs), spread over the panel.
 */
#include "ops.h"
#include "../kernels/kernels.h"
#include "../kernels/half.h"

#include <math.h>
#include <string.h>

// Bytes of one row's block as GGUF stores it: the scale (Q4: and the
// minimum), then the values.
#define BLOCK_MAX (4 + TFM__QK)

static int is_q4(int dtype) { return dtype == TFM__Q4; }
static size_t pblock(int dtype) { return is_q4(dtype) ? TFM__Q4_BLOCK : TFM__Q8_BLOCK; }
static int groups(int dtype) { return is_q4(dtype) ? 4 : 8; }
static int head(int dtype) { return is_q4(dtype) ? 4 : 2; }   // a row block's d (and m)
static int values(int dtype) { return is_q4(dtype) ? 64 : 32; } // a panel-block's qs
static int64_t nblocks(int64_t k) { return (k + TFM__QK - 1) / TFM__QK; }

size_t tfm__q_bytes(int dtype, int64_t n, int64_t k) {
    size_t panels = (size_t)((n + TFM__QP - 1) / TFM__QP), bytes;
    if (n < 0 || k < 0 || !tfm__mul_size(panels, (size_t)nblocks(k), &bytes) ||
        !tfm__mul_size(bytes, pblock(dtype), &bytes))
        return 0;
    return bytes;
}

// The panel-block holding block b of row r.
static uint8_t *at(int dtype, const uint8_t *p, int64_t k, int64_t r, int64_t b) {
    return (uint8_t *)p + ((size_t)(r / TFM__QP) * (size_t)nblocks(k) + (size_t)b) *
                              pblock(dtype);
}

// Block b of row r as GGUF's: out[0..1] the scale (Q4: [2..3] the minimum),
// then 32 (Q8) or 16 (Q4) bytes.
static void get_block(int dtype, const uint8_t *p, int64_t k, int64_t r, int64_t b,
                      uint8_t *out) {
    const uint8_t *blk = at(dtype, p, k, r, b);
    int lane = (int)(r % TFM__QP), g, h = head(dtype);
    memcpy(out, blk + 2 * lane, 2);
    if (is_q4(dtype)) memcpy(out + 2, blk + 32 + 2 * lane, 2);
    for (g = 0; g < groups(dtype); g++)
        memcpy(out + h + 4 * g, blk + values(dtype) + g * 64 + lane * 4, 4);
}

static void put_block(int dtype, uint8_t *p, int64_t k, int64_t r, int64_t b,
                      const uint8_t *in) {
    uint8_t *blk = at(dtype, p, k, r, b);
    int lane = (int)(r % TFM__QP), g, h = head(dtype);
    memcpy(blk + 2 * lane, in, 2);
    if (is_q4(dtype)) memcpy(blk + 32 + 2 * lane, in + 2, 2);
    for (g = 0; g < groups(dtype); g++)
        memcpy(blk + values(dtype) + g * 64 + lane * 4, in + h + 4 * g, 4);
}

static float as_f16(float v) { return tfm__h2f(tfm__f2h(v)); }

// roundf (halves away from zero), inline: x - trunc(x) is exact. Only
// used where the result is clamped to a few bits: values past +-2^30 (a
// weight of inf or 1e38 in a block of small ones) give +-2^30, NaN 0.
static float round_away(float x) {
    float t, d;
    if (!(x > -1073741824.0f && x < 1073741824.0f))
        return x != x ? 0.0f : x < 0.0f ? -1073741824.0f : 1073741824.0f;
    t = (float)(int32_t)x;
    d = x - t;
    return d >= 0.5f ? t + 1.0f : d <= -0.5f ? t - 1.0f : t;
}

// Q4's block: 4-bit n with w = d n + m. From GGUF's Q4_1 rule (d = (max -
// min) / 15, m = min), twice: fit d and m by least squares to the n, round
// the n again with them; keep the fit of least squared error (d and m as
// stored, f16).
static void quantize_q4(const float *x, uint8_t *out) {
    float mn = x[0], mx = x[0], d, m, best = -1.0f, bd = 0.0f, bm = 0.0f;
    int n[TFM__QK], bn[TFM__QK], i, it;
    uint16_t h;
    for (i = 1; i < TFM__QK; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    d = (mx - mn) / 15.0f;
    m = mn;
    for (it = 0; it < 3; it++) {
        float id = d != 0.0f ? 1.0f / d : 0.0f, err = 0.0f, sn = 0, snn = 0, sx = 0, sxn = 0, det;
        float dq = as_f16(d), mq = as_f16(m);
        for (i = 0; i < TFM__QK; i++) {
            int v = (int)round_away((x[i] - m) * id);
            n[i] = v < 0 ? 0 : v > 15 ? 15 : v;
        }
        for (i = 0; i < TFM__QK; i++) {
            float r = x[i] - (dq * (float)n[i] + mq);
            err += r * r;
        }
        if (best < 0.0f || err < best) {
            best = err;
            bd = dq;
            bm = mq;
            memcpy(bn, n, sizeof n);
        }
        for (i = 0; i < TFM__QK; i++) {
            sn += (float)n[i];
            snn += (float)(n[i] * n[i]);
            sx += x[i];
            sxn += x[i] * (float)n[i];
        }
        det = (float)TFM__QK * snn - sn * sn;
        if (det <= 0.0f) break; // every n equal: d is free, m the mean
        d = ((float)TFM__QK * sxn - sn * sx) / det;
        m = (sx - d * sn) / (float)TFM__QK;
    }
    h = tfm__f2h(bd);
    memcpy(out, &h, 2);
    h = tfm__f2h(bm);
    memcpy(out + 2, &h, 2);
    for (i = 0; i < TFM__QK / 2; i++) out[4 + i] = (uint8_t)(bn[i] | bn[i + 16] << 4);
}

// GGUF's quantize_row_q8_0 reference rule on one block x[32]; Q4's above.
static void quantize_block(int dtype, const float *x, uint8_t *out) {
    float amax = 0.0f, d, id;
    uint16_t h;
    int i;
    if (is_q4(dtype)) {
        quantize_q4(x, out);
        return;
    }
    for (i = 0; i < TFM__QK; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    d = amax / 127.0f;
    id = d != 0.0f ? 1.0f / d : 0.0f;
    for (i = 0; i < TFM__QK; i++) { // clamped: 1 / d overflows for a subnormal d
        float v = round_away(x[i] * id);
        out[2 + i] = (uint8_t)(int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
    h = tfm__f2h(d);
    memcpy(out, &h, 2);
}

static void dequantize_block(int dtype, const uint8_t *in, float *x) {
    uint16_t h;
    float d, m;
    int i;
    memcpy(&h, in, 2);
    d = tfm__h2f(h);
    if (!is_q4(dtype)) {
        for (i = 0; i < TFM__QK; i++) x[i] = d * (float)(int8_t)in[2 + i];
    } else {
        memcpy(&h, in + 2, 2);
        m = tfm__h2f(h);
        for (i = 0; i < TFM__QK / 2; i++) {
            x[i] = d * (float)(in[4 + i] & 15) + m;
            x[i + 16] = d * (float)(in[4 + i] >> 4) + m;
        }
    }
}

// Widens n values of a 2-D f32/f16/bf16 tensor, from element (i, j), into out.
static void widen(const tfm__kernels *kt, const tfm_tensor *w, int64_t i, int64_t j, int64_t n,
                  float *out) {
    size_t off = (size_t)(i * w->stride[0] + j);
    if (w->dtype == TFM_F16) kt->f16_to_f32(n, (const uint16_t *)w->data + off, out);
    else if (w->dtype == TFM_BF16) kt->bf16_to_f32(n, (const uint16_t *)w->data + off, out);
    else memcpy(out, (const float *)w->data + off, (size_t)n * sizeof(float));
}

tfm_status tfm__q_quantize(tfm_ctx *ctx, int dtype, const tfm_tensor *w, int in_out, int64_t n,
                           int64_t k, uint8_t *dst) {
    const tfm__kernels *kt = tfm__k();
    int64_t kb = nblocks(k), kpad = kb * TFM__QK, p, r, b;
    size_t bytes = (size_t)TFM__QP * (size_t)kpad * sizeof(float);
    float *rows = (float *)tfm__alloc(ctx, bytes), col[TFM__QP];
    uint8_t blk[BLOCK_MAX];
    if (!rows) return tfm__err(ctx, TFM_ERR_NOMEM, "quantize: out of memory");
    memset(dst, 0, tfm__q_bytes(dtype, n, k));
    for (p = 0; p < n; p += TFM__QP) {
        int64_t np = n - p < TFM__QP ? n - p : TFM__QP, i;
        // The panel's rows as floats, zero past k.
        if (!in_out) {
            for (r = 0; r < np; r++) widen(kt, w, p + r, 0, k, rows + r * kpad);
        } else {
            for (i = 0; i < k; i++) {
                widen(kt, w, i, p, np, col);
                for (r = 0; r < np; r++) rows[r * kpad + i] = col[r];
            }
        }
        for (r = 0; r < np; r++)
            for (b = 0; b < kb; b++) {
                quantize_block(dtype, rows + r * kpad + b * TFM__QK, blk);
                put_block(dtype, dst, k, p + r, b, blk);
            }
    }
    tfm__free(ctx, rows, bytes);
    return TFM_OK;
}

void tfm__q_row(int dtype, const uint8_t *panels, int64_t k, int64_t r, float *out) {
    uint8_t blk[BLOCK_MAX];
    float x[TFM__QK];
    int64_t b, kb = nblocks(k);
    for (b = 0; b < kb; b++) {
        int64_t nk = k - b * TFM__QK < TFM__QK ? k - b * TFM__QK : TFM__QK;
        get_block(dtype, panels, k, r, b, blk);
        dequantize_block(dtype, blk, x);
        memcpy(out + b * TFM__QK, x, (size_t)nk * sizeof(float));
    }
}

void tfm__q_copy_rows(int dtype, const uint8_t *src, int64_t k, int64_t r0, int64_t n,
                      uint8_t *dst) {
    uint8_t blk[BLOCK_MAX];
    int64_t r, b, kb = nblocks(k);
    memset(dst, 0, tfm__q_bytes(dtype, n, k));
    for (r = 0; r < n; r++)
        for (b = 0; b < kb; b++) {
            get_block(dtype, src, k, r0 + r, b, blk);
            put_block(dtype, dst, k, r, b, blk);
        }
}

int64_t tfm__q_check(int dtype, const uint8_t *panels, int64_t n, int64_t k) {
    size_t kb = (size_t)nblocks(k), bs = pblock(dtype), i, j,
           np = (size_t)((n + TFM__QP - 1) / TFM__QP);
    for (i = 0; i < np * kb; i++) {
        const uint8_t *blk = panels + i * bs;
        int64_t row0 = (int64_t)(i / kb) * TFM__QP;
        for (j = 0; j < (size_t)(is_q4(dtype) ? 2 : 1) * TFM__QP; j++) {
            uint16_t h;
            memcpy(&h, blk + 2 * j, 2);
            if ((h & 0x7c00) == 0x7c00) return row0 + (int64_t)(j % TFM__QP); // inf or NaN
        }
        if (!is_q4(dtype))
            for (j = 32; j < bs; j++)
                if (blk[j] == 0x80) return row0 + (int64_t)((j - 32) % 64) / 4; // -128
    }
    return -1;
}
