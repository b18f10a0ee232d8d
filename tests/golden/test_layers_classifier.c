/* examples/classifier.c (included, without its main) against the PyTorch
 * model it was exported from: examples/classifier_export.py records a batch
 * of sentences of different lengths and their float64 logits and
 * probabilities in tests/golden/layers_classifier.safetensors. */
#include "harness.h"

#define CLASSIFIER_NO_MAIN
#include "../../examples/classifier.c"

TEST(golden_layers_classifier_example) {
    tfm_ctx *ctx = tfmt_ctx(2);
    classifier c;
    tfm_safetensors *st = NULL;
    tfm_tensor ids, rl, rp;
    float logits[5 * 3], probs[5 * 3];
    int32_t enc[16];
    const char *texts;
    char dir[512];
    int i;
    snprintf(dir, sizeof dir, "%s", tfmt_data("../examples/classifier_data"));
    REQUIRE(classifier_load(&c, ctx, dir));
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, tfmt_data("golden/layers_classifier.safetensors"),
                                         &st));
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "ids", &ids));
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "logits", &rl));
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "probs", &rp));
    CHECK_EQ_INT(ids.shape[0], 5);
    CHECK_EQ_INT(ids.shape[1], c.max_len);
    /* the example's tokenizer gives the ids PyTorch saw */
    texts = tfm_safetensors_metadata_get(st, "texts");
    REQUIRE(texts != NULL);
    for (i = 0; i < 5; i++) {
        char buf[256];
        size_t n = strcspn(texts, "|");
        snprintf(buf, sizeof buf, "%.*s", (int)n, texts);
        texts += n + (texts[n] ? 1 : 0);
        classifier_encode(&c, buf, enc);
        CHECK(memcmp(enc, (const int32_t *)ids.data + i * 16, sizeof enc) == 0);
    }
    REQUIRE(classifier_run(&c, (const int32_t *)ids.data, 5, 16, logits, probs));
    CHECK_RELERR(logits, (const double *)rl.data, 5 * 3, 1e-5);
    CHECK_RELERR(probs, (const double *)rp.data, 5 * 3, 1e-5);
    tfm_safetensors_close(st);
    classifier_free(&c);
    tfm_ctx_free(ctx);
}
