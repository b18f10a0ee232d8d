/*
 * Positional information: sinusoidal encodings, token/position/type
 * embeddings, rotary embeddings (RoPE) and ALiBi slopes.
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

// Adds (or writes, add == 0) the encoding of position p to row o[d].
static void sin_row(int layout, int64_t p, int64_t d, float *o, int add) {
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

static tfm_status check_layout(tfm_ctx *ctx, int layout, int64_t d, const char *op) {
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
    if ((st = check_layout(ctx, (int)layout, d, "pos_sinusoidal"))) return st;
    if (offset < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "pos_sinusoidal: offset %lld < 0",
                        (long long)offset);
    for (s = 0; s < n; s++)
        sin_row((int)layout, offset + s, d, (float *)out->data + s * out->stride[0], 0);
    return TFM_OK;
}

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
    const tfm__kernels *k;
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
        (st = check_layout(ctx, w->sinusoidal, D, "embed")))
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
    k = tfm__k();
    for (b = 0; b < B; b++)
        for (s = 0; s < S; s++) {
            float *o = (float *)out->data + b * out->stride[0] + s * out->stride[1];
            int64_t p = w->pos_offset + start + s;
            if (w->token_scale != 1.0f) k->scale(D, w->token_scale, o, o);
            if (w->positions)
                k->add(D, o, (const float *)w->positions->data + p * w->positions->stride[0],
                       o);
            if (w->sinusoidal != TFM_POS_NONE) sin_row(w->sinusoidal, p, D, o, 1);
            if (w->types) {
                int32_t t = type_ids ? ((const int32_t *)type_ids->data)
                                           [b * type_ids->stride[0] + s * type_ids->stride[1]]
                                     : 0;
                k->add(D, o, (const float *)w->types->data + t * w->types->stride[0], o);
            }
        }
    return TFM_OK;
}

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

typedef struct {
    float *x, *x2;
    int64_t B, S, H, H2, xs[3], xs2[3], rot, offset;
    int neox;
    const tfm_tensor *pos;
    const double *inv_freq; // [rot/2]
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
        // cos/sin of this position, once for every head of x and x2
        for (i = 0; i < half; i++) {
            double a = (double)p * j->inv_freq[i];
            c[i] = (float)cos(a);
            sn[i] = (float)sin(a);
        }
        for (h = 0; h < j->H; h++) j->k->rope(j->rot, xr + h * j->xs[2], c, sn, j->neox);
        if (j->x2) {
            float *x2r = j->x2 + b * j->xs2[0] + s * j->xs2[1];
            for (h = 0; h < j->H2; h++) j->k->rope(j->rot, x2r + h * j->xs2[2], c, sn, j->neox);
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
                   const tfm_tensor *positions, float *scratch) {
    rope_job j;
    int nt = tfm_ctx_n_threads(ctx);
    int64_t rows = B * S, i;
    // theta^(-2i/rot), in double, 8-byte aligned at the start of the scratch
    double *inv = (double *)(void *)scratch;
    for (i = 0; i < rot / 2; i++) inv[i] = pow((double)theta, -2.0 * (double)i / (double)rot);
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
                  rot_dim, offset, positions, scratch);
    tfm__free(ctx, scratch, bytes);
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
