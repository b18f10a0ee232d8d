/*
 * API behaviour the header promises: translation text from the token-level
 * call, the sampler's seeding, the session's refusal of encoder models.
 */
#include "../harness.h"

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
