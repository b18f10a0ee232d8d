/* GPT-2 byte-level BPE against the genuine vocabulary and recorded cases,
 * plus cases derived from the pre-tokenization rules. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "test_tokenizer_cases.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static tfm_tokenizer *load_gpt2(tfm_ctx *ctx) { return tc_load_shared(ctx, "vocab/gpt2"); }

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

static void check_tokens(tfm_ctx *ctx, const tfm_tokenizer *t, const char *text,
                         const char *const *want, size_t nwant, int line) {
    int32_t ids[64];
    size_t n = 0, i;
    if (tfm_tokenizer_encode(ctx, t, text, TFM_STRLEN, NULL, 0, NULL, ids, NULL, NULL, 64, &n) !=
        TFM_OK) {
        tfmt_fail(__FILE__, line, "encode '%s': %s", text, tfm_ctx_last_error(ctx));
        return;
    }
    if (n != nwant) {
        tfmt_fail(__FILE__, line, "encode '%s': %zu tokens, want %zu", text, n, nwant);
        for (i = 0; i < n; i++) printf(" [%s]", tfm_tokenizer_id_to_token(t, ids[i], NULL));
        printf("\n");
        return;
    }
    for (i = 0; i < n; i++)
        if (strcmp(tfm_tokenizer_id_to_token(t, ids[i], NULL), want[i]) != 0)
            tfmt_fail(__FILE__, line, "encode '%s': token %zu is '%s', want '%s'", text, i,
                      tfm_tokenizer_id_to_token(t, ids[i], NULL), want[i]);
}
#define TOKS(text, ...)                                                                     \
    do {                                                                                    \
        const char *const w_[] = {__VA_ARGS__};                                             \
        check_tokens(ctx, t, text, w_, sizeof w_ / sizeof w_[0], __LINE__);                 \
    } while (0)
#define G "\xC4\xA0" /* the byte-level form of a space */

TEST(bpe_gpt2_rules) {
    tfm_ctx *ctx;
    tfm_tokenizer *t;
    tfm_encode_params p = tfm_encode_params_default();
    int32_t ids[64];
    size_t n, len;
    char out[256];
    if (!tfmt_shared("vocab/gpt2")) SKIP("../shared is absent (vocab/gpt2)");
    ctx = tfmt_ctx(1);
    t = load_gpt2(ctx);
    REQUIRE(t != NULL);
    /* contractions are their own pieces, lower-case only */
    TOKS("I'll we've they're", "I", "'ll", G "we", "'ve", G "they", "'re");
    TOKS("it's", "it", "'s");
    /* digits never join letters; a space goes with what follows */
    TOKS("a1", "a", "1");
    TOKS("hello world", "hello", G "world");
    /* a whitespace run leaves its last space to the next word */
    TOKS("a  b", "a", G, G "b");
    TOKS("a\n\nb", "a", "\xC4\x8A", "\xC4\x8A", "b");
    TOKS("a\n\n", "a", "\xC4\x8A\xC4\x8A"); /* at the end the run stays whole */
    /* special strings: parsed, or kept as text when asked */
    TOKS("<|endoftext|>hi", "<|endoftext|>", "hi");
    p.parse_special = 0;
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "<|endoftext|>", TFM_STRLEN, NULL, 0, &p, ids,
                                         NULL, NULL, 64, &n));
    CHECK(n > 1);
    /* invalid UTF-8 is an error with its offset */
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "ok \xF0\x9F\x98", TFM_STRLEN, NULL, 0, NULL, ids,
                                      NULL, NULL, 64, &n),
                 TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "byte 3");
    /* an emoji is several byte-level tokens; decoding them one at a time
     * gives its bytes back */
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "\xF0\x9F\x98\x80", TFM_STRLEN, NULL, 0, NULL,
                                         ids, NULL, NULL, 64, &n));
    CHECK(n == 2);
    {
        size_t i, at = 0;
        for (i = 0; i < n; i++) {
            REQUIRE_OK(ctx, tfm_tokenizer_decode_next(ctx, t, i ? ids[i - 1] : -1, ids[i], 0,
                                                      out + at, sizeof out - at, &len));
            at += len;
        }
        CHECK_STR(out, "\xF0\x9F\x98\x80");
    }
    /* clean-up on request */
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "Hi , you .", TFM_STRLEN, NULL, 0, NULL, ids,
                                         NULL, NULL, 64, &n));
    REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, ids, n, TFM_DECODE_CLEANUP, out, sizeof out,
                                         &len));
    CHECK_STR(out, "Hi, you.");
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(bpe_gpt2_long_input_is_fast) {
    tfm_ctx *ctx;
    tfm_tokenizer *t;
    static const char *const words[] = {"The ", "quick, ", "caf\xC3\xA9 ", "don't ",
                                        "\xE4\xB8\xAD\xE6\x96\x87 ", "12345 ", "   \n", "\xF0\x9F\x98\x80 "};
    size_t len;
    char *text;
    if (!tfmt_shared("vocab/gpt2")) SKIP("../shared is absent (vocab/gpt2)");
    ctx = tfmt_ctx(1);
    t = load_gpt2(ctx);
    REQUIRE(t != NULL);
    /* ending in one 100 KB word: the heap keeps BPE from going quadratic */
    text = tc_long_text(words, 8, &len);
    REQUIRE(text != NULL);
    tc_check_fast(ctx, t, "gpt2", text, len);
    free(text);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}
