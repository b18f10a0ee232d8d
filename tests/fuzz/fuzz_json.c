/*
 * libFuzzer target: the JSON parser (src/io/json.c). Parses the input, walks
 * every value of the tree and runs the config helpers on the root, so a read
 * out of bounds or a broken tree shows under AddressSanitizer.
 */
#include "io/json.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const tfm__json *v, size_t depth) {
    size_t i, n = 1;
    if (depth > 300) return n; // the parser's limit is lower
    switch (v->type) {
    case TFM__JSON_STRING:
        n += v->n + (v->s[v->n] == '\0'); // the string is NUL-terminated
        break;
    case TFM__JSON_NUMBER:
        n += v->is_int ? (size_t)(v->i & 1) : (v->num == v->num);
        break;
    case TFM__JSON_ARRAY:
    case TFM__JSON_OBJECT:
        for (i = 0; i < tfm__json_len(v); i++) {
            n += walk(tfm__json_at(v, i), depth + 1);
            if (v->type == TFM__JSON_OBJECT) {
                size_t kl;
                const char *k = tfm__json_key_at(v, i, &kl);
                // Lookups by each key find a member with that key.
                const tfm__json *m = tfm__json_getn(v, k, kl);
                if (!m) __builtin_trap();
                n += kl;
            }
        }
        break;
    default:
        break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tfm_ctx *ctx = NULL;
    tfm__json_doc *doc = NULL;
    tfm__json_limits lim = tfm__json_limits_default();
    int64_t iv;
    double dv;
    int bv;
    const char *sv;
    if (tfm_ctx_create(NULL, &ctx) != TFM_OK) return 0;
    lim.max_memory = (size_t)64 << 20;
    if (tfm__json_parse(ctx, (const char *)data, size, "fuzz", &lim, &doc) == TFM_OK) {
        const tfm__json *r = tfm__json_root(doc);
        volatile size_t sink = walk(r, 0);
        (void)sink;
        tfm__json_get_int(ctx, r, "fuzz", "a", 0, &iv);
        tfm__json_get_float(ctx, r, "fuzz", "b", 0, &dv);
        tfm__json_get_bool(ctx, r, "fuzz", "c", 0, &bv);
        tfm__json_get_string(ctx, r, "fuzz", "d", "", &sv);
        tfm__json_req_int(ctx, r, "fuzz", "", &iv);
    } else if (strlen(tfm_ctx_last_error(ctx)) == 0) {
        __builtin_trap(); // every failure carries a message
    }
    tfm__json_free(doc);
    tfm_ctx_free(ctx);
    return 0;
}
