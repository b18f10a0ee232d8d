/*
 * API behaviour the header promises: translation text from the token-level
 * call, the sampler's seeding, the session's refusal of encoder models.
 */
#include "../harness.h"

#include <stdlib.h>

#include "core/internal.h"

TEST(translate_tokens_fills_text_from_vocab_json) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_translate_params p = tfm_translate_params_default();
    tfm_translate_result *r = NULL;
    int32_t src[3];
    const int32_t *srcs[1];
    int32_t lens[1] = {3};
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/marian/marian_tiny"), NULL, &m));
    REQUIRE(tfm_translate_piece(m, 0) != NULL); // the folder has vocab.json
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    src[0] = 5;
    src[1] = 6;
    src[2] = tfm_model_eos(m);
    srcs[0] = src;
    p.max_length = 4;
    REQUIRE_OK(ctx, tfm_translate_tokens(s, srcs, lens, 1, &p, &r));
    CHECK(r->n == 1 && r->items[0].text != NULL);
    tfm_translate_result_free(r);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

// A loop over prefill/step and tfm_sample, seeded with tfm_sample_seed,
// gives tfm_generate_tokens's tokens.
TEST(sample_seed_reproduces_generate) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_gen_params gp = tfm_gen_params_default();
    int32_t prompt[3] = {1, 2, 3}, a[8], hist[16], n_a = 0, n_hist, V, i;
    float *lg = NULL, *scratch = NULL;
    uint64_t rng;
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/gpt2/tiny"), NULL, &m));
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    V = tfm_model_vocab_size(m);
    lg = (float *)malloc((size_t)V * sizeof(float));
    scratch = (float *)malloc((size_t)V * 2 * sizeof(float));
    REQUIRE(lg && scratch);
    gp.temperature = 1.5f;
    gp.top_k = 20;
    gp.top_p = 0.95f;
    gp.repetition_penalty = 1.3f;
    gp.seed = 12345;
    gp.max_new_tokens = 8;
    gp.stop_token = -1;
    REQUIRE_OK(ctx, tfm_generate_tokens(s, prompt, 3, &gp, a, 8, &n_a, NULL));
    REQUIRE(n_a == 8);

    rng = tfm_sample_seed(gp.seed);
    CHECK(rng != gp.seed && rng != 0);
    memcpy(hist, prompt, sizeof prompt);
    n_hist = 3;
    tfm_session_reset(s);
    REQUIRE_OK(ctx, tfm_session_prefill(s, prompt, 3, NULL));
    for (i = 0; i < 8; i++) {
        int32_t id;
        memcpy(lg, tfm_session_logits(s), (size_t)V * sizeof(float));
        id = tfm_sample(lg, V, &gp, &rng, hist, n_hist, scratch);
        CHECK_EQ_INT(id, a[i]);
        hist[n_hist++] = id;
        if (i < 7) REQUIRE_OK(ctx, tfm_session_step(s, id, NULL));
    }
    CHECK(tfm_sample_seed(1) != tfm_sample_seed(2));
    free(lg);
    free(scratch);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

// An encoder model has no session; the message says what to use instead.
TEST(session_refuses_encoder_by_architecture) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_session *s = (tfm_session *)1;
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/bert/bert_mlm"), NULL, &m));
    CHECK_STATUS(tfm_session_create(ctx, m, NULL, &s), TFM_ERR_INVALID_ARG);
    CHECK(s == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model 'bert' is an encoder");
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tfm_model_encode");
    tfm_model_free(m);
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/bert/distilbert_model"), NULL, &m));
    CHECK_STATUS(tfm_session_create(ctx, m, NULL, &s), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model 'distilbert' is an encoder");
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

// Context added to an error keeps the whole earlier message, however deep.
TEST(error_context_nests_whole) {
    tfm_ctx *ctx = tfmt_ctx(1);
    CHECK_STATUS(tfm__err(ctx, TFM_ERR_RANGE, "encode: %d tokens, more than %d", 700, 512),
                 TFM_ERR_RANGE);
    CHECK_STATUS(tfm__err_wrap(ctx, TFM_ERR_RANGE, "encode_batch: text %d", 3), TFM_ERR_RANGE);
    CHECK_STATUS(tfm__err_wrap(ctx, TFM_ERR_FORMAT, "%s", "fill_mask"), TFM_ERR_FORMAT);
    CHECK_STR(tfm_ctx_last_error(ctx),
              "fill_mask: encode_batch: text 3: encode: 700 tokens, more than 512");
    tfm_ctx_free(ctx);
    ctx = tfmt_ctx(1);
    tfm__err_wrap(ctx, TFM_ERR_FORMAT, "alone"); // nothing to wrap
    CHECK_STR(tfm_ctx_last_error(ctx), "alone");
    tfm_ctx_free(ctx);
}

// The two messages of tokenization through a task come out whole.
TEST(fill_mask_errors_are_whole) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_fill_mask_result *r = (tfm_fill_mask_result *)1;
    const char *bad[1] = {"ab\xff [MASK]"};
    const char *lng[1];
    char *text = (char *)malloc(60006 + 7);
    int i;
    REQUIRE(text != NULL);
    for (i = 0; i < 10001; i++) memcpy(text + 6 * i, "hallo ", 6);
    memcpy(text + 60006, "[MASK]", 7);
    lng[0] = text;
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/bert/bert_mlm"), NULL, &m));
    CHECK_STATUS(tfm_fill_mask(ctx, m, bad, 1, NULL, &r), TFM_ERR_FORMAT);
    CHECK(r == NULL);
    CHECK_STR(tfm_ctx_last_error(ctx),
              "fill_mask: encode_batch: text 0: encode: text: invalid UTF-8 at byte 2 (0xFF)");
    CHECK_STATUS(tfm_fill_mask(ctx, m, lng, 1, NULL, &r), TFM_ERR_RANGE);
    CHECK_STR(tfm_ctx_last_error(ctx), "fill_mask: encode_batch: text 0: encode: 10004 tokens, "
                                       "more than max_length 40 (truncation off)");
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    free(text);
}
