/*
 * Decoder models against PyTorch float64 references (gen_llama.py,
 * gen_gpt2.py): prompt logits as one batch, cached decoding steps, greedy
 * continuations; thread-count and batching invariance.
 */
#include "harness.h"

#include <stdlib.h>

typedef struct {
    tfm_safetensors *st;
    tfm_tensor prompt_ids, prompt_logits, greedy_ids, step_logits;
} ref_set;

static int ref_open(tfm_ctx *ctx, const char *path, ref_set *r) {
    memset(r, 0, sizeof *r);
    if (tfm_safetensors_open(ctx, path, &r->st)) return 0;
    return !tfm_safetensors_get(ctx, r->st, "prompt_ids", &r->prompt_ids) &&
           !tfm_safetensors_get(ctx, r->st, "prompt_logits", &r->prompt_logits) &&
           !tfm_safetensors_get(ctx, r->st, "greedy_ids", &r->greedy_ids) &&
           !tfm_safetensors_get(ctx, r->st, "step_logits", &r->step_logits);
}

static int32_t argmax_f(const float *x, int32_t n) {
    int32_t i, b = 0;
    for (i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

// Checks one model folder against its reference with `threads` threads and
// batches of at most max_batch tokens; returns the prompt logits (malloc'd)
// for comparisons across runs.
static float *check_model(const char *name, int threads, int max_batch, size_t *count) {
    char dir[512], refp[600];
    tfm_ctx *ctx = tfmt_ctx(threads);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_session_params sp = tfm_session_params_default();
    tfm_gen_params gp = tfm_gen_params_default();
    ref_set r;
    int32_t V, P, N, i, n_out = 0, out[32];
    float *lg = NULL, *all = NULL;
    snprintf(dir, sizeof dir, "%s", tfmt_data(name));
    snprintf(refp, sizeof refp, "%s.ref.safetensors", dir);
    if (!ref_open(ctx, refp, &r)) {
        tfmt_fail(__FILE__, __LINE__, "%s: %s", refp, tfm_ctx_last_error(ctx));
        goto done;
    }
    mp.no_tokenizer = 1;
    if (tfm_model_load(ctx, dir, &mp, &m)) {
        tfmt_fail(__FILE__, __LINE__, "load %s: %s", dir, tfm_ctx_last_error(ctx));
        goto done;
    }
    V = tfm_model_vocab_size(m);
    P = (int32_t)r.prompt_ids.shape[0];
    N = (int32_t)r.greedy_ids.shape[0];
    CHECK_EQ_INT(V, r.prompt_logits.shape[1]);
    sp.max_batch = max_batch;
    if (tfm_session_create(ctx, m, &sp, &s)) {
        tfmt_fail(__FILE__, __LINE__, "session: %s", tfm_ctx_last_error(ctx));
        goto done;
    }
    all = (float *)malloc((size_t)P * V * sizeof(float));
    *count = (size_t)P * V;
    lg = (float *)malloc((size_t)V * sizeof(float));
    CHECK_OK(ctx, tfm_session_prefill(s, (const int32_t *)r.prompt_ids.data, P, all));
    CHECK_RELERR_F(all, (const float *)r.prompt_logits.data, (int64_t)P * V, 1e-5);
    CHECK_EQ_INT(tfm_session_pos(s), P);
    // Cached steps: each step's logits equal the full-sequence reference.
    for (i = 0; i < N; i++) {
        int32_t g = ((const int32_t *)r.greedy_ids.data)[i];
        const float *cur = tfm_session_logits(s);
        CHECK(cur != NULL);
        if (cur) CHECK_EQ_INT(argmax_f(cur, V), g);
        CHECK_OK(ctx, tfm_session_step(s, g, lg));
        CHECK_RELERR_F(lg, (const float *)r.step_logits.data + (size_t)i * V, V, 1e-5);
    }
    // The generation loop gives the same greedy tokens.
    gp.temperature = 0.0f;
    gp.max_new_tokens = N;
    gp.stop_token = -1;
    CHECK_OK(ctx, tfm_generate_tokens(s, (const int32_t *)r.prompt_ids.data, P, &gp, out, 32,
                                      &n_out, NULL));
    CHECK_EQ_INT(n_out, N);
    for (i = 0; i < N && i < n_out; i++)
        CHECK_EQ_INT(out[i], ((const int32_t *)r.greedy_ids.data)[i]);
done:
    free(lg);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_safetensors_close(r.st);
    tfm_ctx_free(ctx);
    return all;
}

static void check_invariance(const char *name) {
    size_t na = 0, nb = 0;
    float *a = check_model(name, 1, 0, &na);
    float *b = check_model(name, 2, 3, &nb); // two threads, batches of 3 tokens
    // Split batches and thread counts give the same bits.
    if (a && b) CHECK(na == nb && memcmp(a, b, na * sizeof(float)) == 0);
    free(a);
    free(b);
}

TEST(decoder_llama_hf_logits) { check_invariance("golden/llama/tiny"); }
TEST(decoder_llama_hf_tied_mqa) { check_invariance("golden/llama/tiny_tied"); }
TEST(decoder_gpt2_hf_logits) { check_invariance("golden/gpt2/tiny"); }
TEST(decoder_gpt2_hf_prefixed_f16) { check_invariance("golden/gpt2/tiny_prefixed"); }
