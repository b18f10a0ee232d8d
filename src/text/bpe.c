#include "tokenizer.h"
tfm_status tfm__bpe_load(tfm_ctx *ctx, const char *vocab_path, const char *merges_path,
                         const char *config_path, tfm_tokenizer *t) {
    (void)merges_path; (void)config_path; (void)t;
    return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bpe: '%s': not yet", vocab_path);
}
tfm_status tfm__bpe_encode(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s, size_t n,
                           int32_t base, tfm__ids *out) {
    (void)t; (void)s; (void)n; (void)base; (void)out;
    return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "bpe: not yet");
}
