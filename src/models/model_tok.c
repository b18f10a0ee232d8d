/*
 * The tokenizer that comes with a model: the file the host names, a
 * tokenizer.bin beside a llama2.c checkpoint, or an HF folder's own files.
 */
#define _POSIX_C_SOURCE 200112L
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void tok_free(void *t) { tfm_tokenizer_free((tfm_tokenizer *)t); }

// The bytes token `id` adds after `prev` (llama2.c's decode(prev, id)).
static tfm_status tok_piece(tfm_ctx *ctx, const struct tfm_tokenizer *t, int32_t prev,
                            int32_t id, char *buf, size_t size, size_t *len) {
    return tfm_tokenizer_decode_next(ctx, t, prev, id, 0, buf, size, len);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

tfm_status tfm__model_load_tokenizer(tfm_ctx *ctx, tfm_model *m, const char *path,
                                     int is_dir, const tfm_model_params *p) {
    char buf[4096];
    const char *tp = p->tokenizer_path;
    tfm_tokenizer *t = NULL;
    tfm_status st;
    int32_t tv;
    if (!tp) {
        if (is_dir) {
            // The folder's own tokenizer files, if it has any.
            if (strlen(path) + 32 > sizeof buf) return TFM_OK;
            snprintf(buf, sizeof buf, "%s/tokenizer.bin", path);
            if (!is_file(buf)) snprintf(buf, sizeof buf, "%s/vocab.json", path);
            if (!is_file(buf)) snprintf(buf, sizeof buf, "%s/vocab.txt", path);
            if (!is_file(buf)) return TFM_OK;
            tp = path;
        } else {
            // tokenizer.bin in the checkpoint's folder, if there is one.
            const char *slash = strrchr(path, '/');
            size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
            if (dl + 16 > sizeof buf) return TFM_OK;
            memcpy(buf, path, dl);
            memcpy(buf + dl, "tokenizer.bin", 14);
            if (!is_file(buf)) return TFM_OK;
            tp = buf;
        }
    }
    if ((st = tfm_tokenizer_load(ctx, tp, NULL, &t))) return st;
    tv = tfm_tokenizer_vocab_size(t);
    if (tv > m->info.vocab) {
        tfm_tokenizer_free(t);
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "model_load: tokenizer %s has %d ids but the model's vocabulary only %d",
                        tp, (int)tv, (int)m->info.vocab);
    }
    if ((st = tfm__model_keep(m, t, tok_free))) return st;
    m->tok = t;
    m->piece = tok_piece;
    return TFM_OK;
}

// ---- generation from text ----------------------------------------------------------------

tfm_status tfm_generate(tfm_session *s, const char *prompt, const tfm_gen_params *params,
                        int32_t *out_tokens, int32_t out_cap, int32_t *n_out,
                        tfm_gen_stats *stats) {
    tfm_gen_params p;
    tfm_ctx *ctx;
    const tfm_model *m;
    tfm_encode_params ep;
    tfm_status st;
    int32_t *ids = NULL, add_bos;
    size_t n = 0, cap, bytes = 0;
    if (n_out) *n_out = 0;
    if ((st = tfm__gen_stats_write(s ? s->ctx : NULL, stats, NULL))) return st;
    if (!s) return TFM_ERR_INVALID_ARG;
    ctx = s->ctx;
    m = s->m;
    if ((st = tfm__gen_params(ctx, params, &p))) return st;
    add_bos = p.add_bos < 0 ? m->info.add_bos : p.add_bos;
    ep = tfm_encode_params_default();
    ep.add_special = 0;
    if (prompt && *prompt) {
        if (!m->tok)
            return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                            "generate: a text prompt needs a tokenizer and the model has none");
        if ((st = tfm_tokenizer_encode(ctx, m->tok, prompt, TFM_STRLEN, NULL, 0, &ep, NULL,
                                       NULL, NULL, 0, &n)))
            return st;
    }
    cap = n + 1;
    if (!tfm__mul_size(cap, sizeof(int32_t), &bytes))
        return tfm__err(ctx, TFM_ERR_RANGE, "generate: prompt too long");
    ids = (int32_t *)tfm__alloc_nozero(ctx, bytes);
    if (!ids) return tfm__err(ctx, TFM_ERR_NOMEM, "generate: out of memory");
    if (add_bos || n == 0) {
        if (m->info.bos < 0) {
            tfm__free(ctx, ids, bytes);
            return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                            "generate: an empty prompt needs a BOS token and the model has none");
        }
        ids[0] = m->info.bos;
    }
    if (n > 0) {
        size_t got = 0, first = (add_bos || n == 0) ? 1 : 0;
        st = tfm_tokenizer_encode(ctx, m->tok, prompt, TFM_STRLEN, NULL, 0, &ep, ids + first,
                                  NULL, NULL, n, &got);
        if (!st && got != n)
            st = tfm__err(ctx, TFM_ERR_FORMAT, "generate: the tokenizer gave %zu then %zu ids",
                          n, got);
        n += first;
    } else {
        n = 1;
    }
    if (!st && n > (size_t)INT32_MAX) st = tfm__err(ctx, TFM_ERR_RANGE, "generate: prompt too long");
    if (!st)
        st = tfm_generate_tokens(s, ids, (int32_t)n, &p, out_tokens, out_cap, n_out, stats);
    tfm__free(ctx, ids, bytes);
    return st;
}
