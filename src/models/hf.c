/*
 * The Hugging Face loading toolkit every architecture uses: config.json
 * fields (integers, numbers, flags, strings, token ids, activation names:
 * one list for every model) and weights (a name under the folder's
 * prefixes, with TensorFlow's gamma/beta spelling of LayerNorm weights as a
 * fallback; a shape check whose message names the config fields; the
 * matrices of linear maps and embeddings kept in F16 or BF16 as stored,
 * everything else widened into memory the model owns). Messages read
 * "model_load: <dir>/config.json: ..." or "model_load: <dir>: tensor ...".
 */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// ---- config fields ----------------------------------------------------------------------

tfm_status tfm__hf_int(tfm__hf *h, const char *key, int64_t def, int required, int64_t max,
                       int32_t *out) {
    int64_t v;
    const tfm__json *f = tfm__json_get(h->cfg, key);
    tfm_status st;
    if (!f || tfm__json_is(f, TFM__JSON_NULL)) {
        if (required)
            return tfm__err(h->ctx, TFM_ERR_NOT_FOUND, "model_load: %s: missing field '%s'",
                            h->what, key);
        *out = (int32_t)def;
        return TFM_OK;
    }
    if ((st = tfm__json_req_int(h->ctx, h->cfg, h->what, key, &v))) return st;
    if (max <= 0) max = (int64_t)1 << 28;
    if (v < 1 || v > max)
        return tfm__err(h->ctx, TFM_ERR_FORMAT,
                        "model_load: %s: field '%s' = %lld is outside [1, %lld]", h->what, key,
                        (long long)v, (long long)max);
    *out = (int32_t)v;
    {
        size_t n = strlen(h->sizes);
        snprintf(h->sizes + n, sizeof h->sizes - n, "%s%s %lld", n ? ", " : "", key,
                 (long long)v);
    }
    return TFM_OK;
}

// "12.3 MB" style, for messages.
static void human_bytes(double b, char *buf, size_t size) {
    static const char *const unit[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (b >= 1000.0 && u < 6) {
        b /= 1000.0;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

tfm_status tfm__hf_fits(tfm__hf *h, double n_weights) {
    double have = (double)tfm__safetensors_data_bytes(h->st);
    char need_s[32], have_s[32];
    if (n_weights * 0.5 <= have) return TFM_OK;
    human_bytes(n_weights * 0.5, need_s, sizeof need_s);
    human_bytes(have, have_s, sizeof have_s);
    return tfm__err(h->ctx, TFM_ERR_FORMAT,
                    "model_load: %s: the sizes it gives (%s) make %.4g weights, at least %s "
                    "even at 4 bits each, but the weights files hold %s",
                    h->what, h->sizes, n_weights, need_s, have_s);
}

tfm_status tfm__hf_float(tfm__hf *h, const char *key, double def, double lo, double hi,
                         double *out) {
    tfm_status st = tfm__json_get_float(h->ctx, h->cfg, h->what, key, def, out);
    if (st) return st;
    if (!(*out >= lo && *out <= hi))
        return tfm__err(h->ctx, TFM_ERR_FORMAT,
                        "model_load: %s: field '%s' = %g is outside [%g, %g]", h->what, key,
                        *out, lo, hi);
    return TFM_OK;
}

tfm_status tfm__hf_bool(tfm__hf *h, const char *key, int def, int *out) {
    return tfm__json_get_bool(h->ctx, h->cfg, h->what, key, def, out);
}

tfm_status tfm__hf_str(tfm__hf *h, const char *key, const char *def, const char **out) {
    return tfm__json_get_string(h->ctx, h->cfg, h->what, key, def, out);
}

tfm_status tfm__hf_token(tfm__hf *h, const char *key, int32_t def, int32_t vocab, int strict,
                         int32_t *out) {
    const tfm__json *v = tfm__json_get(h->cfg, key);
    if (v && v->type == TFM__JSON_ARRAY) v = tfm__json_at(v, 0);
    if (!v) {
        *out = strict || (def >= 0 && def < vocab) ? def : -1;
        return TFM_OK;
    }
    if (v->type == TFM__JSON_NULL) {
        *out = -1;
        return TFM_OK;
    }
    if (v->type == TFM__JSON_NUMBER && v->is_int && v->i >= 0 && v->i < vocab) {
        *out = (int32_t)v->i;
        return TFM_OK;
    }
    if (strict)
        return tfm__err(h->ctx, TFM_ERR_FORMAT,
                        "model_load: %s: '%s' must be a token id in [0, %d)", h->what, key,
                        (int)vocab);
    *out = -1;
    return TFM_OK;
}

// The activations config.json names, as Hugging Face's ACT2FN spells them.
static const struct {
    const char *name;
    int act;
} acts[] = {
    {"gelu", TFM_ACT_GELU},           {"gelu_new", TFM_ACT_GELU_TANH},
    {"gelu_pytorch_tanh", TFM_ACT_GELU_TANH}, {"gelu_fast", TFM_ACT_GELU_TANH},
    {"relu", TFM_ACT_RELU},           {"silu", TFM_ACT_SILU},
    {"swish", TFM_ACT_SILU},          {"tanh", TFM_ACT_TANH},
    {"sigmoid", TFM_ACT_SIGMOID},
};

tfm_status tfm__hf_act(tfm__hf *h, const char *key, const char *def, int *out) {
    const char *s;
    size_t i;
    tfm_status st = tfm__hf_str(h, key, def, &s);
    if (st) return st;
    if (!s) return tfm__err(h->ctx, TFM_ERR_NOT_FOUND, "model_load: %s: missing field '%s'",
                            h->what, key);
    for (i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(s, acts[i].name) == 0) {
            *out = acts[i].act;
            return TFM_OK;
        }
    return tfm__err(h->ctx, TFM_ERR_UNSUPPORTED,
                    "model_load: %s: %s '%s' is not supported (gelu, gelu_new, "
                    "gelu_pytorch_tanh, gelu_fast, relu, silu, swish, tanh, sigmoid)",
                    h->what, key, s);
}

// ---- weights ------------------------------------------------------------------------------

// Finds `name` under the prefixes into *t; its full name goes to full.
static tfm_status find(tfm__hf *h, const char *name, char *full, size_t size, tfm_tensor *t) {
    int i, n = h->n_prefixes ? h->n_prefixes : 1;
    for (i = 0; i < n; i++) {
        snprintf(full, size, "%s%s", h->n_prefixes ? h->prefixes[i] : "", name);
        if (tfm_safetensors_find(h->st, full) >= 0)
            return tfm_safetensors_get(h->ctx, h->st, full, t);
    }
    return TFM_ERR_NOT_FOUND;
}

static tfm_status shape_err(tfm__hf *h, const char *name, const tfm_tensor *t, int64_t d0,
                            const char *f0, int64_t d1, const char *f1) {
    char sh[80], want[64], fields[160];
    if (d1) snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
    else snprintf(want, sizeof want, "[%lld]", (long long)d0);
    fields[0] = 0;
    if (f0 && d1 && f1)
        snprintf(fields, sizeof fields, " (%s %lld, %s %lld)", f0, (long long)d0, f1,
                 (long long)d1);
    else if (f0)
        snprintf(fields, sizeof fields, " (%s %lld)", f0, (long long)d0);
    return tfm__err(h->ctx, TFM_ERR_FORMAT,
                    "model_load: %s: tensor '%s' is %s but config.json %s %s%s", h->dir, name,
                    tfm__shape_str(t, sh, sizeof sh), f0 ? "gives" : "implies", want, fields);
}

// A quantized folder's matrix: t, U8 [P, B, block bytes], the panels
// (kernels.h) of the map [d0, d1] (mat: its role) into *p.
static tfm_status qmatrix(tfm__hf *h, const char *full, const tfm_tensor *t, int64_t d0,
                          int64_t d1, int mat, tfm_tensor *p) {
    const char *layout = tfm_safetensors_metadata_get(h->st, TFM__Q_LAYOUT_KEY);
    int64_t n_out = mat & TFM__MAT_IN_OUT ? d1 : d0, n_in = mat & TFM__MAT_IN_OUT ? d0 : d1,
            shp[2], bad;
    int dtype = t->shape[2] == TFM__Q8_BLOCK ? TFM__Q8 : t->shape[2] == TFM__Q4_BLOCK ? TFM__Q4 : 0;
    char sh[80];
    if (!layout || strcmp(layout, TFM__Q_LAYOUT) != 0)
        return tfm__err(h->ctx, TFM_ERR_FORMAT, "model_load: %s: tensor '%s' is u8 %s, and the "
                        "file's metadata %s%s%s (expected '%s': quantized panels)", h->dir,
                        full, tfm__shape_str(t, sh, sizeof sh),
                        layout ? "gives " TFM__Q_LAYOUT_KEY " '" : "lacks " TFM__Q_LAYOUT_KEY,
                        layout ? layout : "", layout ? "'" : "", TFM__Q_LAYOUT);
    if (!dtype)
        return tfm__err(h->ctx, TFM_ERR_FORMAT, "model_load: %s: tensor '%s' is %s: panel-blocks "
                        "of %lld bytes (q8 has %d, q4 %d)", h->dir, full,
                        tfm__shape_str(t, sh, sizeof sh), (long long)t->shape[2],
                        TFM__Q8_BLOCK, TFM__Q4_BLOCK);
    if (t->shape[0] != (n_out + TFM__QP - 1) / TFM__QP ||
        t->shape[1] != (n_in + TFM__QK - 1) / TFM__QK)
        return tfm__err(h->ctx, TFM_ERR_FORMAT, "model_load: %s: tensor '%s' is %s, but a %s "
                        "matrix of %lld outputs and %lld inputs (config.json) has [%lld, %lld, "
                        "%d] panels", h->dir, full, tfm__shape_str(t, sh, sizeof sh),
                        tfm_dtype_name((tfm_dtype)dtype), (long long)n_out, (long long)n_in,
                        (long long)((n_out + TFM__QP - 1) / TFM__QP),
                        (long long)((n_in + TFM__QK - 1) / TFM__QK), (int)t->shape[2]);
    if ((uintptr_t)t->data % 2)
        return tfm__err(h->ctx, TFM_ERR_FORMAT, "model_load: %s: tensor '%s' starts at an odd "
                        "offset (its f16 scales need 2-byte alignment)", h->dir, full);
    if ((bad = tfm__q_check(dtype, (const uint8_t *)t->data, n_out, n_in)) >= 0)
        return tfm__err(h->ctx, TFM_ERR_FORMAT, "model_load: %s: tensor '%s': row %lld has a "
                        "scale that is not finite%s", h->dir, full, (long long)bad,
                        dtype == TFM__Q8 ? " or a value of -128" : "");
    shp[0] = n_out;
    shp[1] = n_in;
    tfm_tensor_wrap(p, TFM_U8, 2, shp, t->data);
    p->dtype = dtype;
    return TFM_OK;
}

// Records a fetched tensor under its full name (tfm_model_quantize).
static tfm_status record(tfm__hf *h, const char *full, const tfm_tensor *t) {
    tfm__hf_rec *r = h->rec;
    if (!r) return TFM_OK;
    if (r->n == r->cap) {
        int64_t cap = r->cap ? 2 * r->cap : 64;
        void *nn = tfm__realloc(h->ctx, r->names, (size_t)r->cap * sizeof *r->names,
                                (size_t)cap * sizeof *r->names);
        void *nt;
        if (!nn) return tfm__err(h->ctx, TFM_ERR_NOMEM, "quantize: out of memory");
        r->names = (char **)nn;
        nt = tfm__realloc(h->ctx, (void *)r->t, (size_t)r->cap * sizeof *r->t,
                          (size_t)cap * sizeof *r->t);
        if (!nt) return tfm__err(h->ctx, TFM_ERR_NOMEM, "quantize: out of memory");
        r->t = (const tfm_tensor **)nt;
        r->cap = cap;
    }
    if (!(r->names[r->n] = tfm__strdup(h->ctx, full)))
        return tfm__err(h->ctx, TFM_ERR_NOMEM, "quantize: out of memory");
    r->t[r->n++] = t;
    return TFM_OK;
}

// The weight fetch: mat (TFM__MAT_*) a matrix, in the format h->weights
// asks for its role (F16 and BF16 stay as stored by default, a quantized
// folder's panels too); mat 0: f32.
static tfm_status fetch(tfm__hf *h, const char *name, int64_t d0, const char *f0, int64_t d1,
                        const char *f1, int optional, int mat, const tfm_tensor **out) {
    tfm_tensor t, *p;
    tfm_status st;
    char full[320], alt[256];
    size_t n = strlen(name);
    int ndim = d1 ? 2 : 1;
    *out = NULL;
    st = find(h, name, full, sizeof full, &t);
    if (st == TFM_ERR_NOT_FOUND && n < sizeof alt - 8 && strstr(name, "LayerNorm.") &&
        ((n > 7 && strcmp(name + n - 7, ".weight") == 0) ||
         (n > 5 && strcmp(name + n - 5, ".bias") == 0))) {
        // Checkpoints converted from TensorFlow call them gamma and beta.
        int w = strcmp(name + n - 7, ".weight") == 0;
        memcpy(alt, name, n - (w ? 7 : 5));
        strcpy(alt + n - (w ? 7 : 5), w ? ".gamma" : ".beta");
        st = find(h, alt, full, sizeof full, &t);
    }
    if (st == TFM_ERR_NOT_FOUND) {
        if (optional) return TFM_OK;
        if (h->n_prefixes > 1)
            return tfm__err(h->ctx, st, "model_load: %s: tensor '%s%s' is missing (also tried "
                            "'%s%s')", h->dir, h->prefixes[0], name, h->prefixes[1], name);
        return tfm__err(h->ctx, st, "model_load: %s: tensor '%s%s' is missing", h->dir,
                        h->n_prefixes ? h->prefixes[0] : "", name);
    }
    if (st) return st;
    if (mat && ndim == 2 && t.dtype == TFM_U8 && t.ndim == 3) { // quantized panels
        if (!(p = tfm__model_tensor(h->m)))
            return tfm__err(h->ctx, TFM_ERR_NOMEM, "model_load: out of memory at '%s'", full);
        if ((st = qmatrix(h, full, &t, d0, d1, mat, p))) return st;
        *out = p;
        if (h->weights != TFM_WEIGHTS_STORED &&
            (st = tfm__model_matrix(h->m, p, h->weights, mat, out)))
            return st;
        return record(h, full, *out);
    }
    if (ndim == 1 && t.ndim == 2 && t.shape[0] == 1) { // [1, V] -> [V]
        t.ndim = 1;
        t.shape[0] = t.shape[1];
        t.shape[1] = 1;
        t.stride[0] = 1;
        t.stride[1] = 0;
    }
    if (t.ndim != ndim || t.shape[0] != d0 || (ndim == 2 && t.shape[1] != d1))
        return shape_err(h, full, &t, d0, f0, d1, f1);
    if (!(p = tfm__model_tensor(h->m)))
        return tfm__err(h->ctx, TFM_ERR_NOMEM, "model_load: out of memory at '%s'", full);
    if (mat && ndim == 2 &&
        (t.dtype == TFM_F32 || t.dtype == TFM_F16 || t.dtype == TFM_BF16)) {
        *p = t; // a matrix: in the format asked for
        *out = p;
        if (h->weights != TFM_WEIGHTS_STORED &&
            (st = tfm__model_matrix(h->m, p, h->weights, mat, out)))
            return st;
        return record(h, full, *out);
    } else if (t.dtype == TFM_F16 || t.dtype == TFM_BF16) {
        int64_t shp[2], numel = tfm_tensor_numel(&t);
        float *f = (float *)tfm__model_alloc(h->m, (size_t)numel * sizeof(float));
        if (!f)
            return tfm__err(h->ctx, TFM_ERR_NOMEM, "model_load: out of memory converting '%s'",
                            full);
        if (t.dtype == TFM_F16) tfm_f16_to_f32_array((const uint16_t *)t.data, f, (size_t)numel);
        else tfm_bf16_to_f32_array((const uint16_t *)t.data, f, (size_t)numel);
        shp[0] = d0;
        shp[1] = d1;
        tfm_tensor_wrap(p, TFM_F32, ndim, shp, f);
    } else if (t.dtype == TFM_F32) {
        *p = t;
    } else {
        return tfm__err(h->ctx, TFM_ERR_UNSUPPORTED,
                        "model_load: %s: tensor '%s' has dtype %s (f32, f16 and bf16 are "
                        "supported)", h->dir, full, tfm_dtype_name((tfm_dtype)t.dtype));
    }
    *out = p;
    return record(h, full, p);
}

tfm_status tfm__hf_weight(tfm__hf *h, const char *name, int64_t d0, const char *f0,
                          int64_t d1, const char *f1, int optional, const tfm_tensor **out) {
    return fetch(h, name, d0, f0, d1, f1, optional, 0, out);
}

tfm_status tfm__hf_matrix(tfm__hf *h, const char *name, int64_t d0, const char *f0,
                          int64_t d1, const char *f1, int optional, int mat,
                          const tfm_tensor **out) {
    return fetch(h, name, d0, f0, d1, f1, optional, mat, out);
}

tfm_status tfm__hf_linear(tfm__hf *h, const char *name, int64_t n_out, const char *f_out,
                          int64_t n_in, const char *f_in, int optional, const tfm_tensor **w,
                          const tfm_tensor **b) {
    char nm[256];
    tfm_status st;
    *b = NULL;
    snprintf(nm, sizeof nm, "%s.weight", name);
    if ((st = fetch(h, nm, n_out, f_out, n_in, f_in, optional, n_in ? TFM__MAT_LAYER : 0, w)) ||
        !*w)
        return st;
    snprintf(nm, sizeof nm, "%s.bias", name);
    return tfm__hf_weight(h, nm, n_out, f_out, 0, NULL, 0, b);
}

tfm_status tfm__hf_weightf(tfm__hf *h, int64_t d0, int64_t d1, int mat,
                           const tfm_tensor **out, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return fetch(h, name, d0, NULL, d1, NULL, 0, mat, out);
}

tfm_status tfm__hf_rows(tfm__hf *h, const tfm_tensor *t, int64_t r0, int64_t n,
                        const tfm_tensor **out) {
    tfm_tensor *p = tfm__model_tensor(h->m);
    int64_t shp[2];
    if (!p) return tfm__err(h->ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    if (t->dtype == TFM__Q8 || t->dtype == TFM__Q4) { // whole panels in place, else a copy
        size_t bytes = tfm__q_bytes(t->dtype, n, t->shape[1]);
        uint8_t *d = (uint8_t *)t->data + tfm__q_bytes(t->dtype, r0, t->shape[1]);
        if (r0 % TFM__QP) {
            if (!(d = (uint8_t *)tfm__model_alloc(h->m, bytes)))
                return tfm__err(h->ctx, TFM_ERR_NOMEM, "model_load: out of memory");
            tfm__q_copy_rows(t->dtype, (const uint8_t *)t->data, t->shape[1], r0, n, d);
        }
        shp[0] = n;
        shp[1] = t->shape[1];
        tfm_tensor_wrap(p, TFM_U8, 2, shp, d);
        p->dtype = t->dtype;
        *out = p;
        return TFM_OK;
    }
    shp[0] = n;
    shp[1] = t->ndim == 2 ? t->shape[1] : 1;
    tfm_tensor_wrap(p, (tfm_dtype)t->dtype, t->ndim, shp,
                    (char *)t->data + (size_t)(r0 * (t->ndim == 2 ? t->stride[0] : 1)) *
                                          tfm_dtype_size((tfm_dtype)t->dtype));
    *out = p;
    return TFM_OK;
}
