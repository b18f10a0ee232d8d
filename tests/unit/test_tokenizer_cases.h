/* Shared by the tokenizer tests: runs the cases of a .jsonl file (one JSON
 * object per line: text, optional text_pair, ids, ids_no_special, type_ids,
 * decoded; or the pair_ids / pair_type_ids form) against a tokenizer. */
#ifndef TFM_TEST_TOKENIZER_CASES_H
#define TFM_TEST_TOKENIZER_CASES_H

#include "harness.h"
#include "io/json.h"

#include <stdlib.h>

static int tc_ids_equal(const tfm__json *want, const int32_t *got, size_t n) {
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

/* Returns the number of failing cases; prints up to 10 of them. */
static int tc_run_cases(tfm_ctx *ctx, const tfm_tokenizer *tok, const char *path,
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

#endif
