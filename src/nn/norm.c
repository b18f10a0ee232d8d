/*
 * Norms by kind (LayerNorm, RMSNorm) over the norm weights of the layers,
 * and mean pooling over the unpadded positions.
 *
 * Letters: B batch, S positions, D width.
 */
#include "nn.h"

#include <string.h>

// ---- norms and pooling ---------------------------------------------------------------

void tfm_norm_weights_init(tfm_norm_weights *dst, size_t struct_size) {
    tfm_norm_weights w;
    memset(&w, 0, sizeof w);
    w.struct_size = sizeof w;
    tfm__params_init(dst, struct_size, &w, sizeof w);
}

uint64_t tfm__norm_bytes(const tfm_norm_weights *w) {
    uint64_t n = 0;
    if (w->gamma) n += (uint64_t)tfm_tensor_numel(w->gamma) * sizeof(float);
    if (w->beta) n += (uint64_t)tfm_tensor_numel(w->beta) * sizeof(float);
    return n;
}

tfm_status tfm_norm(tfm_ctx *ctx, tfm_norm_kind kind, const tfm_tensor *x,
                    const tfm_norm_weights *w, float eps, tfm_tensor *out) {
    tfm_norm_weights wc = tfm_norm_weights_default();
    const tfm_tensor *g, *b;
    tfm_status st;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if ((st = TFM__PARAMS_READ(ctx, wc, w, "norm: weights"))) return st;
    g = wc.gamma;
    b = wc.beta;
    if (kind == TFM_NORM_LAYER) return tfm_layernorm(ctx, x, g, b, eps, out);
    if (kind == TFM_NORM_RMS) {
        if (b) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "norm: RMSNorm takes no beta");
        return tfm_rmsnorm(ctx, x, g, eps, out);
    }
    return tfm__err(ctx, TFM_ERR_INVALID_ARG, "norm: unknown kind %d", (int)kind);
}

tfm_status tfm_mean_pool(tfm_ctx *ctx, const tfm_tensor *x, const tfm_tensor *kpm,
                         tfm_tensor *out) {
    tfm_status st;
    int64_t B, S, D, b, s, d;
    char sh[80];
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 3, 3, "mean_pool: x"))) return st;
    if ((st = tfm__check_tensor(ctx, out, TFM_F32, 2, 2, "mean_pool: out"))) return st;
    B = x->shape[0];
    S = x->shape[1];
    D = x->shape[2];
    if (out->shape[0] != B || out->shape[1] != D)
        return tfm__err(ctx, TFM_ERR_SHAPE, "mean_pool: out is %s, expected [%lld, %lld]",
                        tfm__shape_str(out, sh, sizeof sh), (long long)B, (long long)D);
    if ((st = tfm__check_pad_mask(ctx, kpm, B, S, "mean_pool: key_padding_mask"))) return st;
    for (b = 0; b < B; b++) {
        float *o = (float *)out->data + b * out->stride[0];
        int64_t n = 0;
        for (d = 0; d < D; d++) o[d * out->stride[1]] = 0.0f;
        // Sum in double, per column, in position order (thread-independent).
        for (d = 0; d < D; d++) {
            double acc = 0.0;
            n = 0;
            for (s = 0; s < S; s++) {
                if (kpm && tfm__pad_at(kpm, b, s)) continue;
                acc += ((const float *)x->data)[b * x->stride[0] + s * x->stride[1] +
                                                d * x->stride[2]];
                n++;
            }
            o[d * out->stride[1]] = n ? (float)(acc / (double)n) : 0.0f;
        }
    }
    return TFM_OK;
}
