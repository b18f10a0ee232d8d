/*
 * libFuzzer target: SentencePiece model files (src/text/spm.c). Loads the
 * input as a ModelProto; when it loads, encodes a few texts (normalizer,
 * lattice or merges, byte fallback) and decodes the ids, every id of the
 * vocabulary and a stream of them (fz_exercise_tokenizer), so a read outside
 * the pieces, the character map or the prefix tables shows under
 * AddressSanitizer.
 */
#include "fuzz_util.h"
#include "text/spm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tfm_ctx *ctx = fz_ctx();
    tfm_tokenizer *t = NULL;
    if (tfm__spm_from_memory(ctx, data, size, "fuzz", &t) != TFM_OK) fz_failed(ctx, t);
    else fz_exercise_tokenizer(ctx, t);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
    return 0;
}
