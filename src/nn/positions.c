/*
 * Positional information: sinusoidal encodings and ALiBi slopes (the
 * rotary embeddings are in src/ops/rope.c, the embeddings in embedding.c).
 *
 * Letters: B batch, S positions, D width, H heads, Dh head width, r rotated
 * dims per head. Angles and sinusoids are computed in double precision and
 * rounded once, so they match a float64 reference to f32 rounding.
 */
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// ---- sinusoidal encodings ------------------------------------------------------------

// Frequency i of a width-d encoding in a layout.
static double sin_freq(int layout, int64_t i, int64_t d) {
    if (layout == TFM_POS_HALF_FAIRSEQ)
        return exp(-(double)i * log(10000.0) / (double)(d / 2 - 1));
    return pow(10000.0, -2.0 * (double)i / (double)d);
}

void tfm__sin_row(int layout, int64_t p, int64_t d, float *o, int add) {
    int64_t i, half = d / 2;
    for (i = 0; i < half; i++) {
        double a = (double)p * sin_freq(layout, i, d);
        int64_t is = layout == TFM_POS_INTERLEAVED ? 2 * i : i;
        int64_t ic = layout == TFM_POS_INTERLEAVED ? 2 * i + 1 : half + i;
        if (add) {
            o[is] = (float)((double)o[is] + sin(a));
            o[ic] = (float)((double)o[ic] + cos(a));
        } else {
            o[is] = (float)sin(a);
            o[ic] = (float)cos(a);
        }
    }
}

tfm_status tfm__check_sin_layout(tfm_ctx *ctx, int layout, int64_t d, const char *op) {
    if (layout != TFM_POS_INTERLEAVED && layout != TFM_POS_HALF &&
        layout != TFM_POS_HALF_FAIRSEQ)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s: unknown sinusoidal layout %d", op,
                        layout);
    if (d % 2 != 0 || (layout == TFM_POS_HALF_FAIRSEQ && d < 4))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "%s: a sinusoidal encoding needs an even width%s, not %lld", op,
                        layout == TFM_POS_HALF_FAIRSEQ ? " >= 4" : "", (long long)d);
    return TFM_OK;
}

tfm_status tfm_pos_sinusoidal(tfm_ctx *ctx, tfm_pos_layout layout, int64_t offset,
                              tfm_tensor *out) {
    tfm_status st;
    int64_t s, n, d;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if ((st = tfm__check_tensor(ctx, out, TFM_F32, 2, 2, "pos_sinusoidal: out"))) return st;
    if (out->stride[1] != 1 && out->shape[1] != 1)
        return tfm__err(ctx, TFM_ERR_SHAPE, "pos_sinusoidal: out rows must be contiguous");
    n = out->shape[0];
    d = out->shape[1];
    if ((st = tfm__check_sin_layout(ctx, (int)layout, d, "pos_sinusoidal"))) return st;
    if (offset < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "pos_sinusoidal: offset %lld < 0",
                        (long long)offset);
    for (s = 0; s < n; s++)
        tfm__sin_row((int)layout, offset + s, d, (float *)out->data + s * out->stride[0], 0);
    return TFM_OK;
}

// ---- ALiBi ---------------------------------------------------------------------------------

void tfm_alibi_slopes(int64_t n_heads, float *out) {
    int64_t n = 1, i;
    double base, extra;
    if (!out || n_heads < 1) return;
    while (n * 2 <= n_heads) n *= 2; // closest power of two below
    base = pow(2.0, -8.0 / (double)n);
    for (i = 0; i < n; i++) out[i] = (float)pow(base, (double)(i + 1));
    extra = pow(2.0, -4.0 / (double)n); // the slopes of 2n heads, odd ones
    for (i = n; i < n_heads; i++) out[i] = (float)pow(extra, (double)(2 * (i - n) + 1));
}
