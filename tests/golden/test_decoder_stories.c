/*
 * The real stories260K checkpoint (../shared/models/stories260K): greedy
 * text through the API equals what llama2.c's run prints.
 */
#include "harness.h"

#include <stdlib.h>

typedef struct {
    char buf[4096];
    size_t len;
} text_sink;

static int sink(void *ud, int32_t token, const char *piece, size_t len) {
    text_sink *t = (text_sink *)ud;
    (void)token;
    // llama2.c leaves out a piece that is one unprintable byte.
    if (len == 1 && (unsigned char)piece[0] < 32 && piece[0] != '\n' && piece[0] != '\t')
        return 0;
    if (t->len + len < sizeof t->buf) {
        memcpy(t->buf + t->len, piece, len);
        t->len += len;
    }
    return 0;
}

static void run_stories(const char *prompt, int steps, const char *expected_rel) {
    const char *shared_bin = tfmt_shared("models/stories260K/stories260K.bin");
    char bin[1024], tokp[1024], expp[1024];
    tfm_ctx *ctx;
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_gen_params gp = tfm_gen_params_default();
    text_sink t;
    char *expected;
    size_t exp_len = 0;
    int32_t n = 0;
    if (!shared_bin) SKIP("../shared absent: stories260K not available");
    snprintf(bin, sizeof bin, "%s", shared_bin);
    snprintf(tokp, sizeof tokp, "%s", tfmt_shared("models/stories260K/tok512.bin"));
    snprintf(expp, sizeof expp, "%s", tfmt_shared(expected_rel));
    ctx = tfmt_ctx(2);
    mp.tokenizer_path = tokp;
    REQUIRE_OK(ctx, tfm_model_load(ctx, bin, &mp, &m));
    CHECK_STR(tfm_model_arch(m), "llama");
    CHECK_EQ_INT(tfm_model_vocab_size(m), 512);
    CHECK_EQ_INT(tfm_model_max_context(m), 512);
    CHECK(tfm_model_tokenizer(m) != NULL);
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    memset(&t, 0, sizeof t);
    // The prompt's own text, as run prints it.
    if (prompt) {
        memcpy(t.buf, prompt, strlen(prompt));
        t.len = strlen(prompt);
    }
    gp.temperature = 0.0f;
    gp.max_new_tokens = 0;
    gp.max_total_tokens = steps;
    gp.on_token = sink;
    gp.on_token_ud = &t;
    CHECK_OK(ctx, tfm_generate(s, prompt, &gp, NULL, 0, &n, NULL));
    t.buf[t.len++] = '\n';
    expected = tfmt_read_file(expp, &exp_len);
    REQUIRE(expected != NULL);
    CHECK_EQ_INT(t.len, exp_len);
    CHECK(t.len == exp_len && memcmp(t.buf, expected, exp_len) == 0);
    free(expected);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(decoder_stories260k_greedy_n256) {
    run_stories(NULL, 256, "models/stories260K/expected_greedy_t0_n256.txt");
}

TEST(decoder_stories260k_greedy_zoo) {
    run_stories("Zoo", 60, "models/stories260K/expected_greedy_t0_n60_prompt_Zoo.txt");
}
