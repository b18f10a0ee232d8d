/* SentencePiece models against SentencePiece 0.1.97's own results
 * (tests/golden/spm/, made by gen_spm.py), plus folder detection, special
 * tokens, streaming decode, and malformed model files. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "io/json.h"
#include "text/spm.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const k_models[] = {"uni", "bpe", "uni_bytes", "bpe_bytes", "ident"};
#define N_MODELS 5

static char *model_path(const char *name, char *buf, size_t size) {
    char rel[64];
    snprintf(rel, sizeof rel, "golden/spm/%s.model", name);
    snprintf(buf, size, "%s", tfmt_data(rel));
    return buf;
}

static tfm_tokenizer *load_model(tfm_ctx *ctx, const char *name) {
    char path[1024];
    tfm_tokenizer *t = NULL;
    if (tfm_tokenizer_load(ctx, model_path(name, path, sizeof path), NULL, &t) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "load %s: %s", name, tfm_ctx_last_error(ctx));
        return NULL;
    }
    return t;
}

static int model_index(const char *name) {
    int i;
    for (i = 0; i < N_MODELS; i++)
        if (strcmp(k_models[i], name) == 0) return i;
    return -1;
}

static int ids_equal(const tfm__json *want, const int32_t *got, size_t n) {
    size_t i;
    if (!tfm__json_is(want, TFM__JSON_ARRAY) || tfm__json_len(want) != n) return 0;
    for (i = 0; i < n; i++) {
        const tfm__json *v = tfm__json_at(want, i);
        if (!v || !v->is_int || v->i != got[i]) return 0;
    }
    return 1;
}

static void print_case(const char *model, const char *text, const tfm__json *want,
                       const int32_t *got, size_t n, const tfm_tokenizer *t) {
    size_t i;
    printf("    %s: \"%s\"\n    want:", model, text);
    for (i = 0; want && i < tfm__json_len(want) && i < 30; i++)
        printf(" %lld", (long long)tfm__json_at(want, i)->i);
    printf("\n    got: ");
    for (i = 0; i < n && i < 30; i++)
        printf(" %d[%s]", (int)got[i], tfm_tokenizer_id_to_token(t, got[i], NULL));
    printf("\n");
}

/* Every record of cases.jsonl; returns the failures (details of the first
 * few printed). */
static int run_cases(tfm_ctx *ctx, tfm_tokenizer **toks, int *n_enc, int *n_dec) {
    size_t len, pos = 0;
    char *data = tfmt_read_file(tfmt_data("golden/spm/cases.jsonl"), &len);
    int32_t *ids = (int32_t *)malloc(4096 * sizeof(int32_t));
    int32_t *offs = (int32_t *)malloc(8192 * sizeof(int32_t));
    char *dec = (char *)malloc(1 << 16);
    int fails = 0, line = 0;
    tfm_encode_params p = tfm_encode_params_default();
    p.add_special = 0;
    *n_enc = *n_dec = 0;
    if (!data || !ids || !offs || !dec) {
        tfmt_fail(__FILE__, __LINE__, "cannot read cases.jsonl");
        free(data);
        free(ids);
        free(offs);
        free(dec);
        return 1;
    }
    while (pos < len) {
        size_t e = pos, n = 0, dn = 0, i;
        tfm__json_doc *doc = NULL;
        const tfm__json *r, *want, *info, *text, *dids;
        const char *model;
        const tfm_tokenizer *t;
        int mi, bad = 0;
        while (e < len && data[e] != '\n') e++;
        line++;
        if (e == pos) {
            pos = e + 1;
            continue;
        }
        if (tfm__json_parse(ctx, data + pos, e - pos, "cases.jsonl", NULL, &doc) != TFM_OK) {
            tfmt_fail(__FILE__, __LINE__, "line %d: %s", line, tfm_ctx_last_error(ctx));
            fails++;
            break;
        }
        pos = e + 1;
        r = tfm__json_root(doc);
        model = tfm__json_str(tfm__json_get(r, "model"));
        mi = model ? model_index(model) : -1;
        if (mi < 0 || !toks[mi]) {
            tfm__json_free(doc);
            continue;
        }
        t = toks[mi];
        info = tfm__json_get(r, "info");
        text = tfm__json_get(r, "text");
        dids = tfm__json_get(r, "decode_ids");
        if (info) {
            static const char *const keys[] = {"unk", "bos", "eos", "pad"};
            static const tfm_special_token which[] = {TFM_TOKEN_UNK, TFM_TOKEN_BOS,
                                                      TFM_TOKEN_EOS, TFM_TOKEN_PAD};
            if (tfm_tokenizer_vocab_size(t) != tfm__json_get(info, "vocab")->i) {
                tfmt_fail(__FILE__, __LINE__, "%s: vocab %d", model,
                          (int)tfm_tokenizer_vocab_size(t));
                fails++;
            }
            for (i = 0; i < 4; i++)
                if (tfm_tokenizer_special_id(t, which[i]) != tfm__json_get(info, keys[i])->i) {
                    tfmt_fail(__FILE__, __LINE__, "%s: %s id %d, want %lld", model, keys[i],
                              (int)tfm_tokenizer_special_id(t, which[i]),
                              (long long)tfm__json_get(info, keys[i])->i);
                    fails++;
                }
        } else if (text) {
            const tfm__json *pieces = tfm__json_get(r, "pieces");
            tfm_status st;
            (*n_enc)++;
            want = tfm__json_get(r, "ids");
            st = tfm_tokenizer_encode(ctx, t, text->s, text->n, NULL, 0, &p, ids, NULL, offs,
                                      4096, &n);
            if (st != TFM_OK) {
                printf("    %s \"%s\": %s\n", model, text->s, tfm_ctx_last_error(ctx));
                bad = 1;
            } else if (!ids_equal(want, ids, n)) {
                if (fails < 12) print_case(model, text->s, want, ids, n, t);
                bad = 1;
            } else {
                /* pieces by id; offsets inside the text and in order */
                for (i = 0; i < n && !bad; i++) {
                    const char *pc = tfm_tokenizer_id_to_token(t, ids[i], NULL);
                    if (pieces && strcmp(pc, tfm__json_str(tfm__json_at(pieces, i))) != 0)
                        bad = 1;
                    if (offs[2 * i] < 0 || offs[2 * i] > offs[2 * i + 1] ||
                        (size_t)offs[2 * i + 1] > text->n ||
                        (i > 0 && offs[2 * i] < offs[2 * i - 2]))
                        bad = 1;
                }
                if (bad && fails < 12) printf("    %s \"%s\": pieces or offsets\n", model,
                                              text->s);
                if (!bad) {
                    const char *wd = tfm__json_str(tfm__json_get(r, "decoded"));
                    st = tfm_tokenizer_decode(ctx, t, ids, n, 0, dec, 1 << 16, &dn);
                    if (st != TFM_OK || strcmp(dec, wd) != 0) {
                        if (fails < 12) printf("    %s \"%s\": decoded \"%s\", want \"%s\"\n",
                                               model, text->s, dec, wd);
                        bad = 1;
                    }
                }
            }
        } else if (dids) {
            const tfm__json *wj = tfm__json_get(r, "decoded");
            const char *wd = wj->s;
            (*n_dec)++;
            n = tfm__json_len(dids);
            for (i = 0; i < n; i++) ids[i] = (int32_t)tfm__json_at(dids, i)->i;
            /* (the text may hold NUL bytes: <0x00>) */
            if (tfm_tokenizer_decode(ctx, t, ids, n, 0, dec, 1 << 16, &dn) != TFM_OK ||
                dn != wj->n || memcmp(dec, wd, dn) != 0) {
                if (fails < 12) {
                    printf("    %s decode:", model);
                    for (i = 0; i < n; i++) printf(" %d", (int)ids[i]);
                    printf("\n    got  \"%s\"\n    want \"%s\"\n", dec, wd);
                }
                bad = 1;
            }
        }
        fails += bad;
        tfm__json_free(doc);
    }
    free(data);
    free(ids);
    free(offs);
    free(dec);
    return fails;
}

TEST(spm_sentencepiece_recorded_cases) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *toks[N_MODELS];
    int i, fails, n_enc, n_dec;
    for (i = 0; i < N_MODELS; i++) {
        toks[i] = load_model(ctx, k_models[i]);
        if (toks[i]) CHECK_EQ_INT(tfm_tokenizer_type_of(toks[i]), TFM_TOKENIZER_SENTENCEPIECE);
    }
    fails = run_cases(ctx, toks, &n_enc, &n_dec);
    CHECK_EQ_INT(fails, 0);
    CHECK(n_enc >= 5 * 150);
    CHECK(n_dec >= 5 * 30);
    if (fails) printf("  %d of %d encodings / %d decodings differ\n", fails, n_enc, n_dec);
    for (i = 0; i < N_MODELS; i++) tfm_tokenizer_free(toks[i]);
    tfm_ctx_free(ctx);
}
