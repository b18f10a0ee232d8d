/*
 * Rotary position embeddings (RoPE): the rotation of query and key rows by
 * position, over the pairs (2i, 2i+1) or the halves of each head.
 *
 * Letters: B batch, S positions, H heads, Dh head width, r rotated dims per
 * head. Angles are computed in double precision and rounded once, so they
 * match a float64 reference to f32 rounding.
 */
#include "ops.h"
#include "../kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// ---- RoPE ---------------------------------------------------------------------------------

tfm_status tfm__check_positions(tfm_ctx *ctx, const tfm_tensor *pos, int64_t b,
                                int64_t s, const char *what) {
    tfm_status st;
    char sh[80];
    if (!pos) return TFM_OK;
    if ((st = tfm__check_tensor(ctx, pos, TFM_I32, 1, 2, what))) return st;
    if ((pos->ndim == 1 && pos->shape[0] != s) ||
        (pos->ndim == 2 && (pos->shape[0] != b || pos->shape[1] != s)))
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s is %s, expected [%lld, %lld] or [%lld]", what,
                        tfm__shape_str(pos, sh, sizeof sh), (long long)b, (long long)s,
                        (long long)s);
    return TFM_OK;
}

// Frequency i of a rotation over rot dims: 1 / theta^(2i / rot), in double.
static double inv_freq(float theta, int64_t i, int64_t rot) {
    return 1.0 / pow((double)theta, (double)(2 * i) / (double)rot);
}

tfm_status tfm_rope_tables(tfm_ctx *ctx, float theta, int64_t rot_dim, int64_t n_positions,
                           uint32_t flags, float *cos_t, float *sin_t) {
    int64_t p, i, half = rot_dim / 2;
    if (!cos_t || !sin_t || rot_dim < 2 || rot_dim % 2 || !(theta > 0.0f) ||
        n_positions < 1 || (flags & ~(uint32_t)TFM_ROPE_FLOAT_ANGLES))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "rope_tables: %s (rot_dim %lld even >= 2, theta %g > 0, n_positions "
                        "%lld >= 1, flags 0x%x)", !cos_t || !sin_t ? "NULL table" : "bad arguments",
                        (long long)rot_dim, theta, (long long)n_positions, (unsigned)flags);
    for (p = 0; p < n_positions; p++)
        for (i = 0; i < half; i++) {
            float *co = cos_t + p * half + i, *si = sin_t + p * half + i;
            if (flags & TFM_ROPE_FLOAT_ANGLES) {
                float f = 1.0f / powf(theta, (float)(2 * i) / (float)rot_dim);
                float a = (float)p * f;
                *co = cosf(a);
                *si = sinf(a);
            } else {
                double a = (double)p * inv_freq(theta, i, rot_dim);
                *co = (float)cos(a);
                *si = (float)sin(a);
            }
        }
    return TFM_OK;
}

typedef struct {
    float *x, *x2;
    int64_t B, S, H, H2, xs[3], xs2[3], rot, offset;
    int neox;
    const tfm_tensor *pos;
    const double *inv_freq; // [rot/2]
    const float *cos_t, *sin_t; // tables [positions, rot/2] or NULL
    float *scratch;
    const tfm__kernels *k;
} rope_job;

static void rope_task(void *arg, int ith, int nth) {
    const rope_job *j = (const rope_job *)arg;
    int64_t lo, hi, r, i, h, half = j->rot / 2;
    float *c = j->scratch + (int64_t)ith * 2 * half, *sn = c + half;
    tfm__split_range(j->B * j->S, ith, nth, &lo, &hi);
    for (r = lo; r < hi; r++) {
        int64_t b = r / j->S, s = r % j->S, p;
        float *xr = j->x + b * j->xs[0] + s * j->xs[1];
        if (!j->pos) p = j->offset + s;
        else if (j->pos->ndim == 1) p = ((const int32_t *)j->pos->data)[s * j->pos->stride[0]];
        else
            p = ((const int32_t *)j->pos->data)[b * j->pos->stride[0] + s * j->pos->stride[1]];
        const float *co = c, *si = sn;
        if (j->cos_t) {
            co = j->cos_t + p * half;
            si = j->sin_t + p * half;
        } else {
            // cos/sin of this position, once for every head of x and x2
            for (i = 0; i < half; i++) {
                double a = (double)p * j->inv_freq[i];
                c[i] = (float)cos(a);
                sn[i] = (float)sin(a);
            }
        }
        for (h = 0; h < j->H; h++) j->k->rope(j->rot, xr + h * j->xs[2], co, si, j->neox);
        if (j->x2) {
            float *x2r = j->x2 + b * j->xs2[0] + s * j->xs2[1];
            for (h = 0; h < j->H2; h++)
                j->k->rope(j->rot, x2r + h * j->xs2[2], co, si, j->neox);
        }
    }
}

// Scratch: inv_freq as doubles (rot/2 of them: rot floats), then cos and sin
// (rot floats) per task.
int64_t tfm__rope_scratch(tfm_ctx *ctx, int64_t rot_dim) {
    int64_t r = rot_dim > 0 ? rot_dim : 2;
    return r + 2 + (int64_t)tfm_ctx_n_threads(ctx) * r;
}

void tfm__rope_run(tfm_ctx *ctx, float *x, int64_t B, int64_t S, int64_t H,
                   const int64_t *xs, float *x2, int64_t H2, const int64_t *xs2,
                   int layout, float theta, int64_t rot, int64_t offset,
                   const tfm_tensor *positions, const float *cos_t, const float *sin_t,
                   float *scratch) {
    rope_job j;
    int nt = tfm_ctx_n_threads(ctx);
    int64_t rows = B * S, i;
    // 1 / theta^(2i/rot), in double, 8-byte aligned at the start of the scratch
    double *inv = (double *)(void *)scratch;
    for (i = 0; i < rot / 2; i++) inv[i] = inv_freq(theta, i, rot);
    memset(&j, 0, sizeof j);
    j.x = x;
    j.x2 = x2;
    j.B = B;
    j.S = S;
    j.H = H;
    j.H2 = H2;
    memcpy(j.xs, xs, sizeof j.xs);
    if (x2) memcpy(j.xs2, xs2, sizeof j.xs2);
    j.rot = rot;
    j.offset = offset;
    j.neox = layout == TFM_ROPE_HALF;
    j.pos = positions;
    j.inv_freq = inv;
    j.cos_t = cos_t;
    j.sin_t = sin_t;
    j.scratch = scratch + rot + 2;
    j.k = tfm__k();
    tfm__parallel(ctx, rope_task, &j,
                  rows * (H + H2) * rot < 16384 || rows < 2 ? 1 : (rows < nt ? (int)rows : nt));
}

tfm_status tfm_rope(tfm_ctx *ctx, tfm_tensor *x, tfm_rope_layout layout, float theta,
                    int64_t rot_dim, int64_t offset, const tfm_tensor *positions) {
    tfm_status st;
    int64_t B, S, H, Dh, xs[3];
    float *scratch;
    size_t bytes;
    int o;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if ((st = tfm__check_tensor(ctx, x, TFM_F32, 3, 4, "rope: x"))) return st;
    if (x->stride[x->ndim - 1] != 1)
        return tfm__err(ctx, TFM_ERR_SHAPE, "rope: x: the last dimension must be contiguous");
    if (layout != TFM_ROPE_PAIRS && layout != TFM_ROPE_HALF)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "rope: unknown layout %d", (int)layout);
    if (!(theta > 0.0f))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "rope: theta %g must be > 0", theta);
    o = x->ndim - 3;
    B = o ? x->shape[0] : 1;
    S = x->shape[o];
    H = x->shape[o + 1];
    Dh = x->shape[o + 2];
    if (rot_dim == 0) rot_dim = Dh;
    if (rot_dim < 2 || rot_dim > Dh || rot_dim % 2)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "rope: rot_dim %lld must be even and in [2, %lld] (the head width)",
                        (long long)rot_dim, (long long)Dh);
    if ((st = tfm__check_positions(ctx, positions, B, S, "rope: positions"))) return st;
    if (!positions && offset < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "rope: offset %lld < 0", (long long)offset);
    xs[0] = o ? x->stride[0] : 0;
    xs[1] = x->stride[o];
    xs[2] = x->stride[o + 1];
    bytes = (size_t)tfm__rope_scratch(ctx, rot_dim) * sizeof(float);
    scratch = (float *)tfm__alloc_nozero(ctx, bytes);
    if (!scratch) return tfm__err(ctx, TFM_ERR_NOMEM, "rope: out of memory");
    tfm__rope_run(ctx, (float *)x->data, B, S, H, xs, NULL, 0, NULL, (int)layout, theta,
                  rot_dim, offset, positions, NULL, NULL, scratch);
    tfm__free(ctx, scratch, bytes);
    return TFM_OK;
}

