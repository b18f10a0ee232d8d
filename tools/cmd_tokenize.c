/*
 * tfm tokenize MODEL_DIR_OR_FILE TEXT [--pair TEXT] [--json] [--no-special]
 *              [--max-length N] [--offsets]
 * Prints the ids, type ids and tokens of TEXT (and of the pair).
 */
#include "tfm.h"

#include <stdlib.h>
#include <string.h>

static void print_ints(const char *key, const int32_t *v, size_t n, size_t stride) {
    size_t i;
    printf("\"%s\":[", key);
    for (i = 0; i < n; i++) {
        if (stride == 2) printf("%s[%d,%d]", i ? "," : "", (int)v[2 * i], (int)v[2 * i + 1]);
        else printf("%s%d", i ? "," : "", (int)v[i]);
    }
    printf("]");
}

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *text = NULL, *pair = NULL;
    int json = 0, offsets = 0, i, rc = TFM_EXIT_OK;
    long maxlen = 0;
    tfm_encode_params ep = tfm_encode_params_default();
    tfm_ctx *ctx = NULL;
    tfm_tokenizer *tok = NULL;
    int32_t *ids = NULL, *types = NULL, *offs = NULL;
    size_t n = 0, k;
    tfm_status st;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--offsets") == 0) offsets = 1;
        else if (strcmp(argv[i], "--no-special") == 0) ep.add_special = 0;
        else if (strcmp(argv[i], "--pair") == 0) {
            if (++i >= argc) return tool_usage_error("tokenize: --pair needs a text");
            pair = argv[i];
        } else if (strcmp(argv[i], "--max-length") == 0) {
            if (++i >= argc || !tool_parse_int(argv[i], 1, 1L << 30, &maxlen))
                return tool_usage_error("tokenize: --max-length needs a positive integer");
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return tool_usage_error("tokenize: unknown option '%s'", argv[i]);
        } else if (!path) path = argv[i];
        else if (!text) text = argv[i];
        else return tool_usage_error("tokenize: unexpected argument '%s'", argv[i]);
    }
    if (!path || !text)
        return tool_usage_error("usage: tfm tokenize MODEL_DIR_OR_FILE TEXT [--pair TEXT] "
                                "[--json] [--no-special] [--max-length N] [--offsets]");
    ep.max_length = (int32_t)maxlen;
    if ((st = tfm_ctx_create(NULL, &ctx)) != TFM_OK) return tool_runtime_error(ctx, st, "context");
    if ((st = tfm_tokenizer_load(ctx, path, NULL, &tok)) != TFM_OK) {
        rc = tool_runtime_error(ctx, st, path);
        goto done;
    }
    st = tfm_tokenizer_encode(ctx, tok, text, TFM_STRLEN, pair, TFM_STRLEN, &ep, NULL, NULL, NULL,
                              0, &n);
    if (st == TFM_OK) {
        ids = (int32_t *)malloc((n + 1) * sizeof(int32_t));
        types = (int32_t *)malloc((n + 1) * sizeof(int32_t));
        offs = (int32_t *)malloc((n + 1) * 2 * sizeof(int32_t));
        if (!ids || !types || !offs) {
            fprintf(stderr, "tfm: tokenize: out of memory\n");
            rc = TFM_EXIT_RUNTIME;
            goto done;
        }
        st = tfm_tokenizer_encode(ctx, tok, text, TFM_STRLEN, pair, TFM_STRLEN, &ep, ids, types,
                                  offs, n, &n);
    }
    if (st != TFM_OK) {
        rc = tool_runtime_error(ctx, st, "tokenize");
        goto done;
    }
    if (json) {
        printf("{");
        print_ints("ids", ids, n, 1);
        printf(",");
        print_ints("type_ids", types, n, 1);
        printf(",\"tokens\":[");
        for (k = 0; k < n; k++) {
            if (k) printf(",");
            tool_json_string(stdout, tfm_tokenizer_id_to_token(tok, ids[k], NULL));
        }
        printf("]");
        if (offsets) {
            printf(",");
            print_ints("offsets", offs, n, 2);
        }
        printf("}\n");
    } else {
        for (k = 0; k < n; k++) {
            printf("%6d  %d  ", (int)ids[k], (int)types[k]);
            tool_json_string(stdout, tfm_tokenizer_id_to_token(tok, ids[k], NULL));
            if (offsets) printf("  [%d, %d)", (int)offs[2 * k], (int)offs[2 * k + 1]);
            printf("\n");
        }
    }
done:
    free(ids);
    free(types);
    free(offs);
    tfm_tokenizer_free(tok);
    tfm_ctx_free(ctx);
    return rc;
}
