/*
 * libFuzzer target: SentencePiece model files (src/text/spm.c). Loads the
 * input as a ModelProto; when it loads, encodes a few texts (normalizer,
 * lattice or merges, byte fallback) and decodes the ids, every id of the
 * vocabulary and a stream of them, so a read outside the pieces, the
 * character map or the prefix tables shows under AddressSanitizer.
 */
#include "text/spm.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_texts[] = {
    "Das Haus ist klein.", "  a  b\t\nc  ", "\xEF\xBC\xA1\xEF\xAC\x81 \xE2\x91\xA0",
    "\xF0\x9F\x98\x80 <sep> [MASK] <s> </s> <0x41>", "\xE2\x96\x81x\xE2\x96\x81", "", " "};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tfm_ctx *ctx = NULL;
    tfm_tokenizer *t = NULL;
    int32_t ids[512];
    char out[8192];
    size_t i, n, len;
    if (tfm_ctx_create(NULL, &ctx) != TFM_OK) return 0;
    if (tfm__spm_from_memory(ctx, data, size, "fuzz", &t) != TFM_OK) {
        if (strlen(tfm_ctx_last_error(ctx)) == 0) __builtin_trap(); // failures carry a message
        if (t) __builtin_trap();                                      // and leave *out NULL
        tfm_ctx_free(ctx);
        return 0;
    }
    for (i = 0; i < sizeof k_texts / sizeof k_texts[0]; i++) {
        if (tfm_tokenizer_encode(ctx, t, k_texts[i], TFM_STRLEN, NULL, 0, NULL, ids, NULL, NULL,
                                 512, &n) != TFM_OK)
            continue;
        tfm_tokenizer_decode(ctx, t, ids, n, 0, out, sizeof out, &len);
    }
    /* every id (the first 512), in one sequence and one at a time */
    n = (size_t)tfm_tokenizer_vocab_size(t);
    if (n > 512) n = 512;
    for (i = 0; i < n; i++) {
        ids[i] = (int32_t)i;
        tfm_tokenizer_decode_next(ctx, t, i ? (int32_t)i - 1 : -1, (int32_t)i,
                                  TFM_DECODE_SKIP_SPECIAL, out, sizeof out, &len);
        if (tfm_tokenizer_id_to_token(t, (int32_t)i, &len) == NULL) __builtin_trap();
    }
    tfm_tokenizer_decode(ctx, t, ids, n, 0, out, sizeof out, &len);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
    return 0;
}
