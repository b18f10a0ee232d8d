/* GPT-2 byte-level BPE against the genuine vocabulary and recorded cases,
 * plus cases derived from the pre-tokenization rules. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "test_tokenizer_cases.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static tfm_tokenizer *load_gpt2(tfm_ctx *ctx) {
    const char *dir = tfmt_shared("vocab/gpt2");
    tfm_tokenizer *t = NULL;
    if (!dir) return NULL;
    if (tfm_tokenizer_load(ctx, dir, NULL, &t) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "load: %s", tfm_ctx_last_error(ctx));
        return NULL;
    }
    return t;
}

TEST(bpe_gpt2_shared_cases) {
    tfm_ctx *ctx;
    tfm_tokenizer *t;
    char cases[1024];
    int n = 0, fails;
    if (!tfmt_shared("vocab/gpt2")) SKIP("../shared is absent (vocab/gpt2)");
    snprintf(cases, sizeof cases, "%s", tfmt_shared("vocab/gpt2/cases.jsonl"));
    ctx = tfmt_ctx(1);
    t = load_gpt2(ctx);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(tfm_tokenizer_type_of(t), TFM_TOKENIZER_BPE);
    CHECK_EQ_INT(tfm_tokenizer_vocab_size(t), 50257);
    CHECK_EQ_INT(tfm_tokenizer_max_length(t), 1024);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_EOS), 50256);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_BOS), 50256);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_PAD), -1);
    CHECK_EQ_INT(tfm_tokenizer_token_to_id(t, "\xC4\xA0the", TFM_STRLEN), 262);
    fails = tc_run_cases(ctx, t, cases, TFM_DECODE_SKIP_SPECIAL, &n);
    CHECK_EQ_INT(fails, 0);
    CHECK(n >= 75);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(bpe_gpt2_hf_recorded_cases) {
    tfm_ctx *ctx;
    tfm_tokenizer *t;
    int n = 0, fails;
    if (!tfmt_shared("vocab/gpt2")) SKIP("../shared is absent (vocab/gpt2)");
    ctx = tfmt_ctx(1);
    t = load_gpt2(ctx);
    REQUIRE(t != NULL);
    fails = tc_run_cases(ctx, t, tfmt_data("golden/tokenizer/gpt2_hf_cases.jsonl"), 0, &n);
    CHECK_EQ_INT(fails, 0);
    CHECK(n >= 400);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}
