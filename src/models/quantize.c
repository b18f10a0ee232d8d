/*
 * tfm_model_quantize: a Hugging Face folder rewritten with its matrices in
 * another format. The folder is loaded as tfm_model_load would with that
 * format, every tensor the architecture fetched is recorded as it came out
 * (quantized matrices as their panels, the rest as the loader keeps them),
 * and they are written to <out>/model.safetensors with the layout in the
 * metadata; the folder's other files (config.json, the tokenizer's) are
 * copied. The result maps with no conversion.
 */
#define _POSIX_C_SOURCE 200809L
#include "model.h"
#include "../io/file.h"
#include "../io/st_write.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *st_dtype(int dtype) {
    switch (dtype) {
    case TFM_F16: return "F16";
    case TFM_BF16: return "BF16";
    case TFM__Q8:
    case TFM__Q4: return "U8";
    default: return "F32";
    }
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

// Weights files of other formats, and the weights being replaced, are not
// copied.
static int skip_file(const char *name) {
    static const char *const suf[] = {".safetensors", ".safetensors.index.json", ".bin",
                                      ".pt", ".pth", ".h5", ".msgpack", ".onnx", ".gguf",
                                      ".ckpt", ".tmp"};
    size_t i;
    if (name[0] == '.') return 1;
    for (i = 0; i < sizeof suf / sizeof suf[0]; i++)
        if (has_suffix(name, suf[i])) return 1;
    return 0;
}

static tfm_status copy_file(tfm_ctx *ctx, const char *from, const char *to) {
    char buf[65536];
    size_t n;
    int ok = 1;
    FILE *in = fopen(from, "rb"), *out;
    if (!in) return tfm__err(ctx, tfm__open_status(errno), "quantize: %s: %s", from,
                             strerror(errno));
    if (!(out = fopen(to, "wb"))) {
        int err = errno;
        fclose(in);
        return tfm__err(ctx, TFM_ERR_IO, "quantize: %s: %s", to, strerror(err));
    }
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (ferror(in)) ok = 0;
    fclose(in);
    if (fclose(out) != 0) ok = 0;
    return ok ? TFM_OK : tfm__err(ctx, TFM_ERR_IO, "quantize: copying %s to %s failed", from, to);
}

static tfm_status copy_others(tfm_ctx *ctx, const char *dir, const char *out_dir) {
    char from[4200], to[4200];
    struct dirent *e;
    tfm_status st = TFM_OK;
    DIR *d = opendir(dir);
    if (!d) return tfm__err(ctx, tfm__open_status(errno), "quantize: %s: %s", dir,
                            strerror(errno));
    while (!st && (e = readdir(d)) != NULL) {
        if (skip_file(e->d_name)) continue;
        if (snprintf(from, sizeof from, "%s/%s", dir, e->d_name) >= (int)sizeof from ||
            snprintf(to, sizeof to, "%s/%s", out_dir, e->d_name) >= (int)sizeof to) {
            st = tfm__err(ctx, TFM_ERR_INVALID_ARG, "quantize: path too long");
            break;
        }
        if (tfm__file_exists(from)) st = copy_file(ctx, from, to);
    }
    closedir(d);
    return st;
}

static void rec_free(tfm_ctx *ctx, tfm__hf_rec *r) {
    int64_t i;
    for (i = 0; i < r->n; i++) tfm__free(ctx, r->names[i], strlen(r->names[i]) + 1);
    tfm__free(ctx, r->names, (size_t)r->cap * sizeof *r->names);
    tfm__free(ctx, (void *)r->t, (size_t)r->cap * sizeof *r->t);
}

// The recorded tensors as safetensors entries (a name fetched twice once).
static tfm_status write_weights(tfm_ctx *ctx, const tfm__hf_rec *r, const char *path,
                                int weights) {
    static const char *const wnames[] = {"stored", "f32", "f16", "bf16", "q8", "q4"};
    const char *meta[6];
    tfm__st_entry *e = (tfm__st_entry *)tfm__alloc(ctx, (size_t)(r->n + 1) * sizeof *e);
    int64_t i, j, n = 0;
    tfm_status st;
    if (!e) return tfm__err(ctx, TFM_ERR_NOMEM, "quantize: out of memory");
    for (i = 0; i < r->n; i++) {
        const tfm_tensor *t = r->t[i];
        tfm__st_entry *x = &e[n];
        for (j = 0; j < n && strcmp(e[j].name, r->names[i]) != 0; j++) {}
        if (j < n) continue;
        x->name = r->names[i];
        x->dtype = st_dtype(t->dtype);
        x->data = t->data;
        if (t->dtype == TFM__Q8 || t->dtype == TFM__Q4) {
            x->ndim = 3;
            x->shape[0] = (t->shape[0] + TFM__QP - 1) / TFM__QP;
            x->shape[1] = (t->shape[1] + TFM__QK - 1) / TFM__QK;
            x->shape[2] = t->dtype == TFM__Q8 ? TFM__Q8_BLOCK : TFM__Q4_BLOCK;
            x->bytes = tfm__q_bytes(t->dtype, t->shape[0], t->shape[1]);
        } else {
            int d;
            x->ndim = t->ndim;
            for (d = 0; d < t->ndim; d++) x->shape[d] = t->shape[d];
            x->bytes = (size_t)tfm_tensor_numel(t) * tfm_dtype_size((tfm_dtype)t->dtype);
            if (!tfm_tensor_is_contiguous(t)) {
                tfm__free(ctx, e, (size_t)(r->n + 1) * sizeof *e);
                return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "quantize: tensor '%s' is not "
                                "contiguous", r->names[i]);
            }
        }
        n++;
    }
    meta[0] = "format";
    meta[1] = "pt";
    meta[2] = TFM__Q_LAYOUT_KEY;
    meta[3] = TFM__Q_LAYOUT;
    meta[4] = "tfm.weights";
    meta[5] = wnames[weights];
    st = tfm__st_write(ctx, path, e, n, meta, 3);
    tfm__free(ctx, e, (size_t)(r->n + 1) * sizeof *e);
    return st;
}

tfm_status tfm_model_quantize(tfm_ctx *ctx, const char *dir, const char *out_dir,
                              int32_t weights) {
    tfm_model_params p = tfm_model_params_default();
    tfm__hf_rec rec;
    tfm_model *m = NULL;
    tfm_status st;
    struct stat a, b;
    char path[4200];
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!dir || !out_dir)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "quantize: NULL %s", dir ? "out_dir" : "dir");
    if (weights < TFM_WEIGHTS_STORED || weights > TFM_WEIGHTS_Q4)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "quantize: weights %d is not a tfm_weights "
                        "(stored, f32, f16, bf16, q8, q4)", (int)weights);
    if (stat(dir, &a) != 0 || !S_ISDIR(a.st_mode))
        return tfm__err(ctx, stat(dir, &a) != 0 ? tfm__open_status(errno) : TFM_ERR_INVALID_ARG,
                        "quantize: %s is not a model folder", dir);
    if (strlen(out_dir) + 24 > sizeof path)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "quantize: path too long");
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST)
        return tfm__err(ctx, tfm__open_status(errno), "quantize: cannot create %s: %s",
                        out_dir, strerror(errno));
    if (stat(out_dir, &b) != 0 || !S_ISDIR(b.st_mode))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "quantize: %s is not a folder", out_dir);
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "quantize: the output folder is the input "
                        "folder (%s)", dir);
    memset(&rec, 0, sizeof rec);
    p.weights = weights;
    p.prepack = 0; // only the matrices as the format keeps them are wanted
    p.no_tokenizer = 1;
    st = tfm__model_load_hf(ctx, dir, &p, &rec, &m);
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    if (!st) st = write_weights(ctx, &rec, path, weights);
    if (!st) st = copy_others(ctx, dir, out_dir);
    tfm_model_free(m);
    rec_free(ctx, &rec);
    return st;
}
