/*
 * Embeddings: token, learned position and token-type tables, token scaling
 * and sinusoidal positions, summed into one row per token.
 *
 * Letters: B batch, S positions, D width.
 */
#include "nn.h"

#include <stdio.h>
#include <string.h>

// ---- embeddings ------------------------------------------------------------------------

void tfm_embed_weights_init(tfm_embed_weights *dst, size_t struct_size) {
    tfm_embed_weights w;
    memset(&w, 0, sizeof w);
    w.struct_size = sizeof w;
    w.token_scale = 1.0f;
    tfm__params_init(dst, struct_size, &w, sizeof w);
}

static tfm_status check_table(tfm_ctx *ctx, const tfm_tensor *t, int64_t d,
                              const char *what) {
    tfm_status st;
    if ((st = tfm__check_tensor(ctx, t, TFM_F32, 2, 2, what))) return st;
    if (t->shape[1] != d)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s has width %lld, the tokens have %lld", what,
                        (long long)t->shape[1], (long long)d);
    if (t->stride[1] != 1 && d > 1)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s rows must be contiguous", what);
    return TFM_OK;
}

tfm_status tfm_embed(tfm_ctx *ctx, const tfm_embed_weights *w, const tfm_tensor *ids,
                     const tfm_tensor *type_ids, int64_t start, tfm_tensor *out) {
    tfm_status st;
    int64_t B, S, D, b, s, last;
    char sh[80];
    tfm_embed_weights wc = tfm_embed_weights_default();
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (w && (st = TFM__PARAMS_READ(ctx, wc, w, "embed: weights"))) return st;
    if (!w || !wc.tokens)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "embed: weights%s missing (use tfm_embed_weights_init)",
                        w ? ".tokens" : "");
    w = &wc;
    if ((st = tfm__check_tensor(ctx, ids, TFM_I32, 2, 2, "embed: ids"))) return st;
    if ((st = tfm__check_tensor(ctx, out, TFM_F32, 3, 3, "embed: out"))) return st;
    if (w->tokens->ndim != 2)
        return tfm__err(ctx, TFM_ERR_SHAPE, "embed: tokens must be [V, D], not %s",
                        tfm__shape_str(w->tokens, sh, sizeof sh));
    B = ids->shape[0];
    S = ids->shape[1];
    D = w->tokens->shape[1];
    if (out->shape[0] != B || out->shape[1] != S || out->shape[2] != D)
        return tfm__err(ctx, TFM_ERR_SHAPE, "embed: out is %s, expected [%lld, %lld, %lld]",
                        tfm__shape_str(out, sh, sizeof sh), (long long)B, (long long)S,
                        (long long)D);
    if (start < 0 || w->pos_offset < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "embed: start %lld or pos_offset %lld < 0",
                        (long long)start, (long long)w->pos_offset);
    last = w->pos_offset + start + S - 1;
    if (w->positions) {
        if ((st = check_table(ctx, w->positions, D, "embed: positions"))) return st;
        if (last >= w->positions->shape[0])
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "embed: position %lld is past the position table's %lld rows",
                            (long long)last, (long long)w->positions->shape[0]);
    }
    if (w->sinusoidal != TFM_POS_NONE &&
        (st = tfm__check_sin_layout(ctx, w->sinusoidal, D, "embed")))
        return st;
    if (w->types) {
        if ((st = check_table(ctx, w->types, D, "embed: types"))) return st;
        if (type_ids) {
            if ((st = tfm__check_tensor(ctx, type_ids, TFM_I32, 2, 2, "embed: type_ids")))
                return st;
            if (type_ids->shape[0] != B || type_ids->shape[1] != S)
                return tfm__err(ctx, TFM_ERR_SHAPE, "embed: type_ids is %s, ids [%lld, %lld]",
                                tfm__shape_str(type_ids, sh, sizeof sh), (long long)B,
                                (long long)S);
            for (b = 0; b < B; b++)
                for (s = 0; s < S; s++) {
                    int32_t t = ((const int32_t *)type_ids->data)[b * type_ids->stride[0] +
                                                                 s * type_ids->stride[1]];
                    if (t < 0 || t >= w->types->shape[0])
                        return tfm__err(ctx, TFM_ERR_RANGE,
                                        "embed: type id %d at [%lld, %lld] is outside [0, %lld)",
                                        (int)t, (long long)b, (long long)s,
                                        (long long)w->types->shape[0]);
                }
        }
    }
    if ((st = tfm_embedding(ctx, w->tokens, ids, out))) return st;
    for (b = 0; b < B; b++)
        for (s = 0; s < S; s++) {
            float *o = (float *)out->data + b * out->stride[0] + s * out->stride[1];
            int64_t p = w->pos_offset + start + s;
            if (w->token_scale != 1.0f) tfm__vec_scale(D, w->token_scale, o, o);
            if (w->positions)
                tfm__vec_add(D, o, (const float *)w->positions->data + p * w->positions->stride[0],
                       o);
            if (w->sinusoidal != TFM_POS_NONE) tfm__sin_row(w->sinusoidal, p, D, o, 1);
            if (w->types) {
                int32_t t = type_ids ? ((const int32_t *)type_ids->data)
                                           [b * type_ids->stride[0] + s * type_ids->stride[1]]
                                     : 0;
                tfm__vec_add(D, o, (const float *)w->types->data + t * w->types->stride[0], o);
            }
        }
    return TFM_OK;
}

