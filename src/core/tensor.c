/*
 * tfm_tensor: creation, views, conversion, and the shape checks shared by
 * every op.
 */
#include "internal.h"
#include "../kernels/kernels.h"
#include "../kernels/half.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// ---- dtypes ---------------------------------------------------------------------

size_t tfm_dtype_size(tfm_dtype dtype) {
    switch (dtype) {
    case TFM_F32: return 4;
    case TFM_F16: return 2;
    case TFM_BF16: return 2;
    case TFM_I8: return 1;
    case TFM_I32: return 4;
    case TFM_F64: return 8;
    case TFM_I64: return 8;
    case TFM_U8: return 1;
    }
    return 0;
}

const char *tfm_dtype_name(tfm_dtype dtype) {
    if ((int)dtype == TFM__Q8) return "q8";
    if ((int)dtype == TFM__Q4) return "q4";
    switch (dtype) {
    case TFM_F32: return "f32";
    case TFM_F16: return "f16";
    case TFM_BF16: return "bf16";
    case TFM_I8: return "i8";
    case TFM_I32: return "i32";
    case TFM_F64: return "f64";
    case TFM_I64: return "i64";
    case TFM_U8: return "u8";
    }
    return "?";
}

// ---- scalar and array conversions ---------------------------------------------------

uint16_t tfm_f32_to_f16(float x) { return tfm__f2h(x); }
float tfm_f16_to_f32(uint16_t h) { return tfm__h2f(h); }
uint16_t tfm_f32_to_bf16(float x) { return tfm__f2bf(x); }
float tfm_bf16_to_f32(uint16_t h) { return tfm__bf2f(h); }

void tfm_f16_to_f32_array(const uint16_t *src, float *dst, size_t n) {
    if (src && dst) tfm__k()->f16_to_f32((int64_t)n, src, dst);
}
void tfm_f32_to_f16_array(const float *src, uint16_t *dst, size_t n) {
    if (src && dst) tfm__k()->f32_to_f16((int64_t)n, src, dst);
}
void tfm_bf16_to_f32_array(const uint16_t *src, float *dst, size_t n) {
    if (src && dst) tfm__k()->bf16_to_f32((int64_t)n, src, dst);
}
void tfm_f32_to_bf16_array(const float *src, uint16_t *dst, size_t n) {
    if (src && dst) tfm__k()->f32_to_bf16((int64_t)n, src, dst);
}

// ---- shape helpers --------------------------------------------------------------------

// Fills shape/stride of a contiguous row-major tensor; checks dims and the
// element count. Returns the element count in *numel.
static tfm_status set_shape(tfm_ctx *ctx, tfm_tensor *t, tfm_dtype dtype,
                            int ndim, const int64_t *shape, int64_t *numel) {
    int64_t n = 1;
    size_t bytes;
    int i;
    if (tfm_dtype_size(dtype) == 0)
        return tfm__err(ctx, TFM_ERR_DTYPE, "tensor: unknown dtype %d", (int)dtype);
    if (ndim < 1 || ndim > TFM_MAX_DIMS)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "tensor: ndim %d outside 1..%d", ndim, TFM_MAX_DIMS);
    for (i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                            "tensor: dimension %d is %lld (must be >= 1)", i,
                            (long long)shape[i]);
        if (!tfm__mul_i64(n, shape[i], &n))
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "tensor: element count overflows at dimension %d", i);
    }
    if (!tfm__mul_size((size_t)n, tfm_dtype_size(dtype), &bytes) ||
        bytes > (size_t)INT64_MAX)
        return tfm__err(ctx, TFM_ERR_RANGE, "tensor: byte size overflows");
    memset(t, 0, sizeof *t);
    t->dtype = (int32_t)dtype;
    t->ndim = ndim;
    t->scale = 1.0f;
    for (i = 0; i < TFM_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    {
        int64_t s = 1;
        for (i = ndim - 1; i >= 0; i--) {
            t->stride[i] = s;
            s *= shape[i];
        }
    }
    *numel = n;
    return TFM_OK;
}

int64_t tfm_tensor_numel(const tfm_tensor *t) {
    int64_t n = 1;
    int i;
    if (!t) return 0;
    for (i = 0; i < t->ndim && i < TFM_MAX_DIMS; i++) n *= t->shape[i];
    return n;
}

int tfm_tensor_is_contiguous(const tfm_tensor *t) {
    int64_t s = 1;
    int i;
    if (!t) return 0;
    for (i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

// ---- create / wrap / view / free ------------------------------------------------------

tfm_status tfm_tensor_create(tfm_ctx *ctx, tfm_dtype dtype, int ndim,
                             const int64_t *shape, tfm_tensor **out) {
    tfm_tensor tmp, *t;
    int64_t n;
    tfm_status st;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tensor_create: out is NULL");
    *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!shape)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tensor_create: shape is NULL");
    st = set_shape(ctx, &tmp, dtype, ndim, shape, &n);
    if (st) return st;
    t = (tfm_tensor *)tfm__alloc(ctx, sizeof *t);
    if (!t) return tfm__err(ctx, TFM_ERR_NOMEM, "tensor_create: out of memory");
    *t = tmp;
    t->data = tfm__alloc(ctx, (size_t)n * tfm_dtype_size(dtype));
    if (!t->data) {
        tfm__free(ctx, t, sizeof *t);
        return tfm__err(ctx, TFM_ERR_NOMEM,
                        "tensor_create: out of memory for %lld bytes",
                        (long long)n * (long long)tfm_dtype_size(dtype));
    }
    t->ctx = ctx;
    t->flags = TFM_TENSOR_OWNS_DATA | TFM_TENSOR_HEAP;
    *out = t;
    return TFM_OK;
}

tfm_status tfm_tensor_wrap(tfm_tensor *t, tfm_dtype dtype, int ndim,
                           const int64_t *shape, void *data) {
    int64_t n;
    tfm_status st;
    if (!t || !shape) return TFM_ERR_INVALID_ARG;
    st = set_shape(NULL, t, dtype, ndim, shape, &n);
    if (st) return st;
    t->data = data;
    return TFM_OK;
}

// Lowest and highest element offsets a tensor reaches (strides may be <0? no:
// views take non-negative strides only).
static int64_t last_offset(const tfm_tensor *t) {
    int64_t off = 0;
    int i;
    for (i = 0; i < t->ndim; i++) off += (t->shape[i] - 1) * t->stride[i];
    return off;
}

tfm_status tfm_tensor_view(tfm_ctx *ctx, const tfm_tensor *src, int ndim,
                           const int64_t *shape, const int64_t *stride,
                           int64_t offset, tfm_tensor **out) {
    tfm_tensor v, *t;
    int64_t n, reach = 0, extent;
    int i;
    tfm_status st;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tensor_view: out is NULL");
    *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!src || !shape)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tensor_view: src or shape is NULL");
    st = set_shape(ctx, &v, (tfm_dtype)src->dtype, ndim, shape, &n);
    if (st) return st;
    if (offset < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tensor_view: negative offset %lld",
                        (long long)offset);
    if (stride) {
        for (i = 0; i < ndim; i++) {
            int64_t r;
            if (stride[i] < 0)
                return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                                "tensor_view: negative stride %lld at dimension %d",
                                (long long)stride[i], i);
            v.stride[i] = stride[i];
            if (!tfm__mul_i64(shape[i] - 1, stride[i], &r) || reach > INT64_MAX - r)
                return tfm__err(ctx, TFM_ERR_RANGE, "tensor_view: extent overflows");
            reach += r;
        }
    } else {
        reach = n - 1;
    }
    extent = last_offset(src);
    if (offset > extent || reach > extent - offset) {
        char a[64], b[64];
        return tfm__err(ctx, TFM_ERR_SHAPE,
                        "tensor_view: view %s at offset %lld reaches element %lld, "
                        "past the end of source %s (last element %lld)",
                        tfm__shape_str(&v, a, sizeof a), (long long)offset,
                        (long long)(offset + reach), tfm__shape_str(src, b, sizeof b),
                        (long long)extent);
    }
    v.data = (char *)src->data + (size_t)offset * tfm_dtype_size((tfm_dtype)src->dtype);
    v.scale = src->scale;
    v.scales = NULL; // per-row scales do not follow an arbitrary view
    if (src->scales && offset == 0 && !stride) v.scales = src->scales;
    t = (tfm_tensor *)tfm__alloc(ctx, sizeof *t);
    if (!t) return tfm__err(ctx, TFM_ERR_NOMEM, "tensor_view: out of memory");
    *t = v;
    t->ctx = ctx;
    t->flags = TFM_TENSOR_HEAP;
    *out = t;
    return TFM_OK;
}

void tfm_tensor_free(tfm_tensor *t) {
    tfm_ctx *ctx;
    if (!t || !(t->flags & TFM_TENSOR_HEAP)) return;
    ctx = t->ctx;
    if (t->flags & TFM_TENSOR_OWNS_DATA) {
        tfm__free(ctx, t->data,
                  (size_t)tfm_tensor_numel(t) * tfm_dtype_size((tfm_dtype)t->dtype));
        if (t->scales) {
            int64_t rows = tfm_tensor_numel(t) / t->shape[t->ndim - 1];
            tfm__free(ctx, t->scales, (size_t)rows * sizeof(float));
        }
    }
    tfm__free(ctx, t, sizeof *t);
}

// ---- copy with conversion -------------------------------------------------------------

static double load_elem(const tfm_tensor *t, const void *p, int64_t row) {
    switch ((tfm_dtype)t->dtype) {
    case TFM_F32: return *(const float *)p;
    case TFM_F16: return tfm__h2f(*(const uint16_t *)p);
    case TFM_BF16: return tfm__bf2f(*(const uint16_t *)p);
    case TFM_I8:
        return (double)*(const int8_t *)p * (t->scales ? t->scales[row] : t->scale);
    case TFM_I32: return *(const int32_t *)p;
    case TFM_F64: return *(const double *)p;
    case TFM_I64: return (double)*(const int64_t *)p;
    case TFM_U8: return *(const uint8_t *)p;
    }
    return 0.0;
}

static double round_sat(double v, double lo, double hi) {
    if (v != v) return 0.0; // NaN to an integer type becomes 0
    v = v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
    return v < lo ? lo : v > hi ? hi : v;
}

static void store_elem(tfm_tensor *t, void *p, int64_t row, double v) {
    switch ((tfm_dtype)t->dtype) {
    case TFM_F32: *(float *)p = (float)v; break;
    case TFM_F16: *(uint16_t *)p = tfm__f2h((float)v); break;
    case TFM_BF16: *(uint16_t *)p = tfm__f2bf((float)v); break;
    case TFM_I8: {
        float s = t->scales ? t->scales[row] : t->scale;
        *(int8_t *)p = (int8_t)round_sat(s != 0.0f ? v / s : 0.0, -128, 127);
        break;
    }
    case TFM_I32: *(int32_t *)p = (int32_t)round_sat(v, -2147483648.0, 2147483647.0); break;
    case TFM_F64: *(double *)p = v; break;
    case TFM_I64:
        *(int64_t *)p = (int64_t)round_sat(v, -9223372036854775808.0, 9223372036854774784.0);
        break;
    case TFM_U8: *(uint8_t *)p = (uint8_t)round_sat(v, 0, 255); break;
    }
}

tfm_status tfm_tensor_copy(tfm_ctx *ctx, const tfm_tensor *src, tfm_tensor *dst) {
    size_t ss, ds;
    tfm_status st;
    if (!src || !dst)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "tensor_copy: src or dst is NULL");
    ss = tfm_dtype_size((tfm_dtype)src->dtype);
    ds = tfm_dtype_size((tfm_dtype)dst->dtype);
    if (!ss || !ds)
        return tfm__err(ctx, TFM_ERR_DTYPE, "tensor_copy: unknown dtype");
    st = tfm__check_same_shape(ctx, src, dst, "tensor_copy", "src", "dst");
    if (st) return st;
    // Fast path: same dtype, both contiguous.
    if (src->dtype == dst->dtype && src->dtype != TFM_I8 &&
        tfm_tensor_is_contiguous(src) && tfm_tensor_is_contiguous(dst)) {
        memmove(dst->data, src->data, (size_t)tfm_tensor_numel(src) * ss);
        return TFM_OK;
    }
    {
        int64_t n = tfm_tensor_numel(src), last = src->shape[src->ndim - 1], e;
        for (e = 0; e < n; e++) {
            int64_t so = tfm__elem_offset(src, e), d0 = tfm__elem_offset(dst, e);
            int64_t row = e / last;
            store_elem(dst, (char *)dst->data + d0 * (int64_t)ds, row,
                       load_elem(src, (const char *)src->data + so * (int64_t)ss, row));
        }
    }
    return TFM_OK;
}

// ---- shared checks ----------------------------------------------------------------------

const char *tfm__shape_str(const tfm_tensor *t, char *buf, size_t size) {
    size_t len = 0;
    int i;
    if (!size) return buf;
    buf[0] = '\0';
    if (!t) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    len += (size_t)snprintf(buf + len, size - len, "[");
    for (i = 0; i < t->ndim && i < TFM_MAX_DIMS && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ", %lld" : "%lld",
                                (long long)t->shape[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}

tfm_status tfm__check_finite(tfm_ctx *ctx, const tfm_tensor *t, const char *what) {
    int64_t i0, i1, i2, i3, dim[TFM_MAX_DIMS];
    const float *d;
    int k0;
    if (!ctx || !ctx->params.check_finite || !t || t->dtype != TFM_F32) return TFM_OK;
    d = (const float *)t->data;
    // Dimensions past ndim count as 1, whatever a host-filled struct holds there.
    for (k0 = 0; k0 < TFM_MAX_DIMS; k0++) dim[k0] = k0 < t->ndim ? t->shape[k0] : 1;
    for (i0 = 0; i0 < dim[0]; i0++)
        for (i1 = 0; i1 < dim[1]; i1++)
            for (i2 = 0; i2 < dim[2]; i2++)
                for (i3 = 0; i3 < dim[3]; i3++) {
                    float v = d[i0 * t->stride[0] + i1 * t->stride[1] + i2 * t->stride[2] +
                                i3 * t->stride[3]];
                    int64_t at[4];
                    char where[96];
                    size_t k, n = 0;
                    if (v - v == 0.0f) continue; // finite
                    at[0] = i0; at[1] = i1; at[2] = i2; at[3] = i3;
                    for (k = 0; k < (size_t)t->ndim && n < sizeof where; k++)
                        n += (size_t)snprintf(where + n, sizeof where - n, "%s%lld",
                                              k ? ", " : "", (long long)at[k]);
                    return tfm__err(ctx, TFM_ERR_NUMERIC, "%s holds %s at [%s]", what,
                                    v != v ? "nan" : v > 0 ? "inf" : "-inf", where);
                }
    return TFM_OK;
}

tfm_status tfm__check_finite_rows(tfm_ctx *ctx, const float *p, int64_t rows, int64_t cols,
                                  const char *what) {
    tfm_tensor t;
    int64_t shp[2];
    if (!ctx || !ctx->params.check_finite || rows < 1 || cols < 1) return TFM_OK;
    shp[0] = rows;
    shp[1] = cols;
    tfm__view_c(&t, (void *)p, 2, shp);
    return tfm__check_finite(ctx, &t, what);
}

tfm_status tfm__check_tensor(tfm_ctx *ctx, const tfm_tensor *t, tfm_dtype dt,
                             int min_dims, int max_dims, const char *what) {
    int i;
    if (!t) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s is NULL", what);
    if (!t->data) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "%s has no data", what);
    if (t->dtype != (int32_t)dt)
        return tfm__err(ctx, TFM_ERR_DTYPE, "%s has dtype %s, expected %s", what,
                        tfm_dtype_name((tfm_dtype)t->dtype), tfm_dtype_name(dt));
    if (t->ndim < min_dims || t->ndim > max_dims) {
        if (min_dims == max_dims)
            return tfm__err(ctx, TFM_ERR_SHAPE, "%s has %d dimensions, expected %d",
                            what, (int)t->ndim, min_dims);
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s has %d dimensions, expected %d to %d",
                        what, (int)t->ndim, min_dims, max_dims);
    }
    for (i = 0; i < t->ndim; i++)
        if (t->shape[i] < 1 || t->stride[i] < 0)
            return tfm__err(ctx, TFM_ERR_SHAPE, "%s: dimension %d has size %lld",
                            what, i, (long long)t->shape[i]);
    return TFM_OK;
}

tfm_status tfm__check_same_shape(tfm_ctx *ctx, const tfm_tensor *a,
                                 const tfm_tensor *b, const char *op,
                                 const char *an, const char *bn) {
    int i, same = a->ndim == b->ndim;
    for (i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
    if (!same) {
        char sa[80], sb[80];
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s: %s %s and %s %s differ in shape", op,
                        an, tfm__shape_str(a, sa, sizeof sa), bn,
                        tfm__shape_str(b, sb, sizeof sb));
    }
    return TFM_OK;
}

int64_t tfm__rows(const tfm_tensor *t) {
    return tfm_tensor_numel(t) / t->shape[t->ndim - 1];
}

void *tfm__row_ptr(const tfm_tensor *t, int64_t r) {
    int64_t off = 0;
    int i;
    // decompose r over dims 0..ndim-2, innermost fastest
    for (i = t->ndim - 2; i >= 0; i--) {
        off += (r % t->shape[i]) * t->stride[i];
        r /= t->shape[i];
    }
    return (char *)t->data + off * (int64_t)tfm_dtype_size((tfm_dtype)t->dtype);
}

int64_t tfm__elem_offset(const tfm_tensor *t, int64_t i) {
    int64_t off = 0;
    int d;
    for (d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->stride[d];
        i /= t->shape[d];
    }
    return off;
}

// ---- views and padding masks ---------------------------------------------------------

void tfm__view(tfm_tensor *t, float *data, int ndim, const int64_t *shape,
               const int64_t *stride) {
    int i;
    memset(t, 0, sizeof *t);
    t->dtype = TFM_F32;
    t->ndim = ndim;
    t->scale = 1.0f;
    t->data = data;
    for (i = 0; i < TFM_MAX_DIMS; i++) {
        t->shape[i] = i < ndim ? shape[i] : 1;
        t->stride[i] = i < ndim ? stride[i] : 0;
    }
}

void tfm__view_c(tfm_tensor *t, float *data, int ndim, const int64_t *shape) {
    int64_t st[TFM_MAX_DIMS], s = 1;
    int i;
    for (i = ndim - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
    tfm__view(t, data, ndim, shape, st);
}

tfm_status tfm__check_pad_mask(tfm_ctx *ctx, const tfm_tensor *m, int64_t b,
                               int64_t s, const char *what) {
    char sh[80];
    if (!m) return TFM_OK;
    if (m->dtype != TFM_U8 && m->dtype != TFM_I32)
        return tfm__err(ctx, TFM_ERR_DTYPE, "%s has dtype %s, expected u8 or i32", what,
                        tfm_dtype_name((tfm_dtype)m->dtype));
    if (m->ndim != 2 || m->shape[0] != b || m->shape[1] != s)
        return tfm__err(ctx, TFM_ERR_SHAPE, "%s is %s, expected [%lld, %lld]", what,
                        tfm__shape_str(m, sh, sizeof sh), (long long)b, (long long)s);
    return TFM_OK;
}

int tfm__pad_at(const tfm_tensor *m, int64_t b, int64_t s) {
    int64_t off = b * m->stride[0] + s * m->stride[1];
    if (m->dtype == TFM_U8) return ((const uint8_t *)m->data)[off] != 0;
    return ((const int32_t *)m->data)[off] != 0;
}
