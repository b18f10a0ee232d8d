/* Helpers shared by the tokenizer tests (declared in test_tokenizer_cases.h). */
#include "test_tokenizer_cases.h"

#include <stdlib.h>
#include <time.h>

int tc_ids_equal(const tfm__json *want, const int32_t *got, size_t n) {
    size_t i;
    if (!tfm__json_is(want, TFM__JSON_ARRAY) || tfm__json_len(want) != n) return 0;
    for (i = 0; i < n; i++) {
        const tfm__json *v = tfm__json_at(want, i);
        if (!v || !v->is_int || v->i != got[i]) return 0;
    }
    return 1;
}

static void tc_print_ids(const char *what, const int32_t *ids, size_t n) {
    size_t i;
    printf("    %s:", what);
    for (i = 0; i < n && i < 40; i++) printf(" %d", (int)ids[i]);
    printf("\n");
}

static void tc_print_json_ids(const char *what, const tfm__json *a) {
    size_t i;
    printf("    %s:", what);
    for (i = 0; i < tfm__json_len(a) && i < 40; i++) printf(" %lld", (long long)tfm__json_at(a, i)->i);
    printf("\n");
}

int tc_run_cases(tfm_ctx *ctx, const tfm_tokenizer *tok, const char *path,
                        uint32_t decode_flags, int *n_cases) {
    size_t len, pos = 0, cap = 4096;
    char *data = tfmt_read_file(path, &len);
    int32_t *ids = (int32_t *)malloc(cap * sizeof(int32_t));
    int32_t *types = (int32_t *)malloc(cap * sizeof(int32_t));
    char *dec = (char *)malloc(1 << 16);
    int fails = 0, line = 0;
    *n_cases = 0;
    if (!data) {
        tfmt_fail(__FILE__, __LINE__, "cannot read %s", path);
        return 1;
    }
    while (pos < len) {
        size_t e = pos, n = 0, dn = 0;
        tfm__json_doc *doc = NULL;
        const tfm__json *r, *text, *pair, *want;
        tfm_encode_params p = tfm_encode_params_default();
        const char *name;
        int bad = 0;
        while (e < len && data[e] != '\n') e++;
        line++;
        if (e == pos) {
            pos = e + 1;
            continue;
        }
        if (tfm__json_parse(ctx, data + pos, e - pos, path, NULL, &doc) != TFM_OK) {
            tfmt_fail(__FILE__, __LINE__, "%s line %d: %s", path, line, tfm_ctx_last_error(ctx));
            fails++;
            break;
        }
        pos = e + 1;
        r = tfm__json_root(doc);
        name = tfm__json_str(tfm__json_get(r, "id"));
        text = tfm__json_get(r, "text");
        pair = tfm__json_get(r, "text_pair");
        (*n_cases)++;
        /* the main encoding: with special tokens (and the pair, when the
         * record's ids include it) */
        {
            int pair_in_ids = pair && !tfm__json_get(r, "pair_ids");
            tfm_status st = tfm_tokenizer_encode(ctx, tok, text->s, text->n,
                                                 pair_in_ids ? pair->s : NULL,
                                                 pair_in_ids ? pair->n : 0, &p, ids, types,
                                                 NULL, cap, &n);
            want = tfm__json_get(r, "ids");
            if (st != TFM_OK || !tc_ids_equal(want, ids, n)) {
                bad = 1;
                if (fails < 10) {
                    printf("  case %s: text '%s'%s\n", name, text->s, st ? tfm_ctx_last_error(ctx) : "");
                    tc_print_json_ids("want", want);
                    tc_print_ids("got ", ids, n);
                }
            } else if (tfm__json_get(r, "type_ids") &&
                       !tc_ids_equal(tfm__json_get(r, "type_ids"), types, n)) {
                bad = 1;
                if (fails < 10) printf("  case %s: type_ids differ\n", name);
            }
            /* decode */
            if (!bad && tfm__json_get(r, "decoded")) {
                const tfm__json *d = tfm__json_get(r, "decoded");
                st = tfm_tokenizer_decode(ctx, tok, ids, n, decode_flags, dec, 1 << 16, &dn);
                if (st != TFM_OK || dn != d->n || memcmp(dec, d->s, dn) != 0) {
                    bad = 1;
                    if (fails < 10)
                        printf("  case %s: decoded '%s', want '%s'\n", name, st ? "(error)" : dec,
                               d->s);
                }
            }
        }
        if (!bad && tfm__json_get(r, "decoded_raw") && (decode_flags & TFM_DECODE_CLEANUP)) {
            const tfm__json *d = tfm__json_get(r, "decoded_raw");
            tfm_status st = tfm_tokenizer_decode(ctx, tok, ids, n,
                                                 decode_flags & ~TFM_DECODE_CLEANUP, dec,
                                                 1 << 16, &dn);
            if (st != TFM_OK || dn != d->n || memcmp(dec, d->s, dn) != 0) {
                bad = 1;
                if (fails < 10)
                    printf("  case %s: decoded_raw '%s', want '%s'\n", name,
                           st ? "(error)" : dec, d->s);
            }
        }
        if (!bad && tfm__json_get(r, "ids_no_special")) {
            p.add_special = 0;
            if (tfm_tokenizer_encode(ctx, tok, text->s, text->n, pair ? pair->s : NULL,
                                     pair ? pair->n : 0, &p, ids, NULL, NULL, cap, &n) != TFM_OK ||
                !tc_ids_equal(tfm__json_get(r, "ids_no_special"), ids, n)) {
                bad = 1;
                if (fails < 10) printf("  case %s: ids_no_special differ\n", name);
            }
            p.add_special = 1;
        }
        if (!bad && tfm__json_get(r, "pair_ids")) {
            if (tfm_tokenizer_encode(ctx, tok, text->s, text->n, pair->s, pair->n, &p, ids, types,
                                     NULL, cap, &n) != TFM_OK ||
                !tc_ids_equal(tfm__json_get(r, "pair_ids"), ids, n) ||
                !tc_ids_equal(tfm__json_get(r, "pair_type_ids"), types, n)) {
                bad = 1;
                if (fails < 10) {
                    printf("  case %s: pair ids differ ('%s' / '%s')\n", name, text->s, pair->s);
                    tc_print_json_ids("want", tfm__json_get(r, "pair_ids"));
                    tc_print_ids("got ", ids, n);
                }
            }
        }
        fails += bad;
        tfm__json_free(doc);
    }
    free(data);
    free(ids);
    free(types);
    free(dec);
    return fails;
}

tfm_tokenizer *tc_load_shared(tfm_ctx *ctx, const char *rel) {
    const char *dir = tfmt_shared(rel);
    tfm_tokenizer *t = NULL;
    if (!dir) return NULL;
    if (tfm_tokenizer_load(ctx, dir, NULL, &t) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "load: %s", tfm_ctx_last_error(ctx));
        return NULL;
    }
    return t;
}

char *tc_long_text(const char *const *words, int n, size_t *len) {
    size_t cap = 1 << 20, l;
    char *text = (char *)malloc(cap + 100064);
    int i = 1;
    *len = 0;
    if (!text) return NULL;
    while (*len < cap) {
        l = strlen(words[i % n]);
        memcpy(text + *len, words[i % n], l);
        *len += l;
        i = (i * 5 + 1) % 1000003;
    }
    memset(text + *len, 'q', 100000);
    *len += 100000;
    return text;
}

void tc_check_fast(tfm_ctx *ctx, const tfm_tokenizer *t, const char *name,
                          const char *text, size_t len) {
    size_t n = 0;
    clock_t c0 = clock();
    double secs;
    CHECK_OK(ctx, tfm_tokenizer_encode(ctx, t, text, len, NULL, 0, NULL, NULL, NULL, NULL, 0, &n));
    secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    CHECK(secs < 2.0);
    if (tfmt_failed() || getenv("TFMT_VERBOSE"))
        printf("  %s: %.1f MB encode: %.3f s, %zu ids\n", name, (double)len / 1e6, secs, n);
}
