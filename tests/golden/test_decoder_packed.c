/*
 * Decoder weights packed at load (tfm_model_params.prepack, the default)
 * and used where they lie (prepack = 0): both agree with the PyTorch
 * references (gen_llama.py, gen_gpt2.py) to 1e-5, packed logits are the same
 * bits for 1 and 2 threads, and loading and running a session survives
 * every allocation failure.
 */
#include "harness.h"

#include <stdlib.h>

// Prompt logits then every cached step of `name` with the given packing and
// threads against the reference; returns the prompt and step logits
// (malloc'd, *count floats).
static float *run_ref(const char *name, int prepack, int threads, size_t *count) {
    char dir[512], refp[600];
    tfm_ctx *ctx = tfmt_ctx(threads);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_safetensors *rs = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_tensor pid, plg, gid, slg;
    float *out = NULL;
    int32_t V, P, N, i;
    *count = 0;
    CHECK_EQ_INT(mp.prepack, 1);
    snprintf(dir, sizeof dir, "%s", tfmt_data(name));
    snprintf(refp, sizeof refp, "%s.ref.safetensors", dir);
    if (tfm_safetensors_open(ctx, refp, &rs) ||
        tfm_safetensors_get(ctx, rs, "prompt_ids", &pid) ||
        tfm_safetensors_get(ctx, rs, "prompt_logits", &plg) ||
        tfm_safetensors_get(ctx, rs, "greedy_ids", &gid) ||
        tfm_safetensors_get(ctx, rs, "step_logits", &slg)) {
        tfmt_fail(__FILE__, __LINE__, "%s: %s", refp, tfm_ctx_last_error(ctx));
        goto done;
    }
    mp.no_tokenizer = 1;
    mp.prepack = prepack;
    if (tfm_model_load(ctx, dir, &mp, &m) || tfm_session_create(ctx, m, NULL, &s)) {
        tfmt_fail(__FILE__, __LINE__, "%s: %s", dir, tfm_ctx_last_error(ctx));
        goto done;
    }
    V = tfm_model_vocab_size(m);
    P = (int32_t)pid.shape[0];
    N = (int32_t)gid.shape[0];
    *count = (size_t)(P + N) * V;
    out = (float *)malloc(*count * sizeof(float));
    CHECK_OK(ctx, tfm_session_prefill(s, (const int32_t *)pid.data, P, out));
    CHECK_RELERR_F(out, (const float *)plg.data, (int64_t)P * V, 1e-5);
    for (i = 0; i < N; i++) {
        float *lg = out + (size_t)(P + i) * V;
        CHECK_OK(ctx, tfm_session_step(s, ((const int32_t *)gid.data)[i], lg));
        CHECK_RELERR_F(lg, (const float *)slg.data + (size_t)i * V, V, 1e-5);
    }
done:
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_safetensors_close(rs);
    tfm_ctx_free(ctx);
    return out;
}

static void check_packing(const char *name) {
    size_t n1 = 0, n2 = 0, n0 = 0;
    float *a = run_ref(name, 1, 1, &n1);
    float *b = run_ref(name, 1, 2, &n2);
    float *c = run_ref(name, 0, 2, &n0);
    CHECK(a && b && c && n1 == n2 && n1 == n0);
    if (a && b && n1 == n2) CHECK(memcmp(a, b, n1 * sizeof(float)) == 0);
    free(a);
    free(b);
    free(c);
}

TEST(decoder_packed_llama) { check_packing("golden/llama/tiny"); }
TEST(decoder_packed_llama_tied_mqa) { check_packing("golden/llama/tiny_tied"); }
TEST(decoder_packed_gpt2) { check_packing("golden/gpt2/tiny"); }
TEST(decoder_packed_gpt2_f16) { check_packing("golden/gpt2/tiny_prefixed"); }

// A prompt longer than the small-M limit goes through the packed BLIS path;
// batches of 1, 5 and 64 tokens (30 in all) and both packings agree.
TEST(decoder_packed_long_prompt) {
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_model *mp = NULL, *mu = NULL;
    tfm_session *s = NULL;
    tfm_model_params p = tfm_model_params_default();
    tfm_session_params sp = tfm_session_params_default();
    int32_t ids[30], V, i, b;
    float *ref = NULL, *got = NULL;
    static const int32_t batches[3] = {1, 5, 64};
    p.no_tokenizer = 1;
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/gpt2/tiny"), &p, &mp));
    p.prepack = 0;
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/gpt2/tiny"), &p, &mu));
    V = tfm_model_vocab_size(mp);
    for (i = 0; i < 30; i++) ids[i] = (i * 37 + 11) % V;
    ref = (float *)malloc((size_t)30 * V * sizeof(float));
    got = (float *)malloc((size_t)30 * V * sizeof(float));
    REQUIRE(ref && got);
    REQUIRE_OK(ctx, tfm_session_create(ctx, mu, NULL, &s));
    CHECK_OK(ctx, tfm_session_prefill(s, ids, 30, ref));
    tfm_session_free(s);
    s = NULL;
    for (b = 0; b < 3; b++) {
        sp.max_batch = batches[b];
        REQUIRE_OK(ctx, tfm_session_create(ctx, mp, &sp, &s));
        CHECK_OK(ctx, tfm_session_prefill(s, ids, 30, got));
        CHECK_RELERR_F(got, ref, (int64_t)30 * V, 1e-5);
        tfm_session_free(s);
        s = NULL;
    }
    free(ref);
    free(got);
    tfm_model_free(mp);
    tfm_model_free(mu);
    tfm_ctx_free(ctx);
}

// Loading (with packing), a session and a few steps, every allocation failing
// in turn: TFM_ERR_NOMEM and nothing leaked.
static tfm_status load_and_run(const tfm_ctx_params *params, void *arg) {
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_status st;
    int32_t ids[3] = {1, 17, 42};
    (void)arg;
    if ((st = tfm_ctx_create(params, &ctx))) return st;
    mp.no_tokenizer = 1;
    st = tfm_model_load(ctx, tfmt_data("golden/llama/tiny"), &mp, &m);
    if (!st) st = tfm_session_create(ctx, m, NULL, &s);
    if (!st) st = tfm_session_prefill(s, ids, 3, NULL);
    if (!st) st = tfm_session_step(s, 5, NULL);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return st;
}

TEST(decoder_packed_oom) { CHECK(OOM_WALK(load_and_run, NULL) > 10); }
