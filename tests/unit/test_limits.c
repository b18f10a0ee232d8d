/*
 * Limits. A config.json whose sizes the weights files cannot hold fails
 * before anything they imply is allocated (under a 4 MB max_memory the
 * error is TFM_ERR_FORMAT, not TFM_ERR_NOMEM), naming the fields and their
 * values, for every architecture. max_memory caps what a ctx holds: the
 * cap a load and a step need, found by bisection, is exact (one byte less
 * fails cleanly, with the request and the cap in the message) and the
 * results under it are those without a cap. Every allocation of loading
 * and one step of every architecture in the registry fails in turn.
 */
#include "harness.h"
#include "model_step.h"
#include "models/arch.h"

#include <stdlib.h>
#include <string.h>

// ---- configs that ask for more than the file holds -------------------------------------

static void expect_too_big(const char *rel, const char *edit, const char *field) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    tfm_model *m = (tfm_model *)1;
    tfm_model_params mp = tfm_model_params_default();
    const char *dir = tfmt_scratch(rel, "config.json", edit);
    if (!dir) {
        tfmt_fail(__FILE__, __LINE__, "cannot make a scratch copy of %s", rel);
        return;
    }
    cp.max_memory = (size_t)4 << 20;
    REQUIRE_OK(ctx, tfm_ctx_create(&cp, &ctx));
    mp.no_tokenizer = 1;
    CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &m), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), field);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "the weights files hold");
    CHECK(m == NULL);
    tfm_ctx_free(ctx);
    tfmt_scratch_clean(dir);
}

TEST(limits_config_sizes_past_the_file) {
    expect_too_big("golden/gpt2/tiny", "s/\"n_layer\": 2/\"n_layer\": 200000000/",
                   "n_layer 200000000");
    expect_too_big("golden/gpt2/tiny", "s/\"n_layer\": 2/\"n_layer\": 100000/", "n_layer 100000");
    expect_too_big("golden/llama/tiny",
                   "s/\"num_hidden_layers\": 2/\"num_hidden_layers\": 268435456/",
                   "num_hidden_layers 268435456");
    expect_too_big("golden/llama/tiny", "s/\"vocab_size\": 128/\"vocab_size\": 268435456/",
                   "vocab_size 268435456");
    expect_too_big("golden/bert/bert_mlm",
                   "s/\"num_hidden_layers\": 2/\"num_hidden_layers\": 1000/",
                   "num_hidden_layers 1000");
    expect_too_big("golden/bert/distilbert_mlm", "s/\"n_layers\": 2/\"n_layers\": 1000/",
                   "n_layers 1000");
    expect_too_big("golden/marian/marian_tiny",
                   "s/\"encoder_layers\": 2/\"encoder_layers\": 268435456/",
                   "encoder_layers 268435456");
    expect_too_big("golden/marian/marian_tiny", "s/\"d_model\": 32/\"d_model\": 65536/",
                   "d_model 65536");
    expect_too_big("golden/marian/transformer_tiny",
                   "s/\"num_decoder_layers\": 2/\"num_decoder_layers\": 1000000/",
                   "num_decoder_layers 1000000");
}

// ---- max_memory ---------------------------------------------------------------------------

typedef struct {
    tfmt_alloc_state st;
    float logits[512];
    int32_t V;
    char err[1024];
} capped_run;

// Loads the tiny GPT-2 and runs a prompt and a step on a ctx capped at
// `cap` bytes (0: none) over the counting allocator.
static tfm_status run_capped(size_t cap, capped_run *r) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_session_params sp = tfm_session_params_default();
    int32_t ids[4] = {3, 9, 27, 81};
    tfm_status st;
    memset(&r->st, 0, sizeof r->st);
    r->err[0] = 0;
    cp.alloc = tfmt_alloc;
    cp.alloc_ud = &r->st;
    cp.max_memory = cap;
    cp.n_threads = 2;
    if ((st = tfm_ctx_create(&cp, &ctx))) return st;
    sp.max_context = 16;
    st = tfm_model_load(ctx, tfmt_data("golden/gpt2/tiny"), NULL, &m);
    if (!st) st = tfm_session_create(ctx, m, &sp, &s);
    if (!st) st = tfm_session_prefill(s, ids, 4, NULL);
    r->V = tfm_model_vocab_size(m);
    if (!st && r->V <= 512) st = tfm_session_step(s, 5, r->logits);
    snprintf(r->err, sizeof r->err, "%s", tfm_ctx_last_error(ctx));
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return st;
}

TEST(limits_max_memory_is_exact) {
    static capped_run free_run, r;
    size_t lo = 1, hi = (size_t)64 << 20, mid;
    char want[64];
    REQUIRE(run_capped(0, &free_run) == TFM_OK);
    REQUIRE(free_run.V <= 512);
    REQUIRE(run_capped(hi, &r) == TFM_OK);
    // The least cap that works: a run needs `hi` bytes at its peak.
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (run_capped(mid, &r) == TFM_OK) hi = mid;
        else lo = mid + 1;
    }
    CHECK_EQ_INT(run_capped(hi, &r), TFM_OK);
    CHECK(memcmp(r.logits, free_run.logits, sizeof(float) * (size_t)r.V) == 0);
    CHECK_EQ_INT(r.st.live_blocks, 0);
    CHECK_EQ_INT(run_capped(hi - 1, &r), TFM_ERR_NOMEM);
    CHECK_EQ_INT(r.st.live_blocks, 0);
    CHECK_CONTAINS(r.err, "max_memory: ");
    snprintf(want, sizeof want, "over the cap of %zu)", hi - 1);
    CHECK_CONTAINS(r.err, want);
    // Far below: the load fails, clean.
    CHECK_EQ_INT(run_capped(hi / 3, &r), TFM_ERR_NOMEM);
    CHECK_CONTAINS(r.err, "max_memory: ");
    CHECK_EQ_INT(r.st.live_blocks, 0);
}

TEST(limits_max_memory_messages) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL, *big = NULL, *small = NULL;
    tfm_tensor *t = NULL;
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_session_params sp = tfm_session_params_default();
    int64_t shape[2] = {1000, 1000};
    sp.max_context = 32;
    // Smaller than a ctx: the ctx itself cannot be made.
    cp.max_memory = 64;
    CHECK_STATUS(tfm_ctx_create(&cp, &ctx), TFM_ERR_NOMEM);
    CHECK(ctx == NULL);
    cp.max_memory = (size_t)1 << 20;
    REQUIRE_OK(ctx, tfm_ctx_create(&cp, &ctx));
    CHECK_STATUS(tfm_tensor_create(ctx, TFM_F32, 2, shape, &t), TFM_ERR_NOMEM);
    CHECK(t == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "max_memory: 4000000 bytes asked");
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "over the cap of 1048576)");
    shape[0] = 100; // 400 KB fits
    CHECK_OK(ctx, tfm_tensor_create(ctx, TFM_F32, 2, shape, &t));
    tfm_tensor_free(t);
    // A session that does not fit, on a model loaded uncapped.
    REQUIRE_OK(big, tfm_ctx_create(NULL, &big));
    REQUIRE_OK(big, tfm_model_load(big, tfmt_data("golden/llama/tiny"), NULL, &m));
    cp.max_memory = 4096;
    REQUIRE_OK(small, tfm_ctx_create(&cp, &small));
    CHECK_STATUS(tfm_session_create(small, m, NULL, &s), TFM_ERR_NOMEM);
    CHECK_CONTAINS(tfm_ctx_last_error(small), "session_create");
    CHECK_CONTAINS(tfm_ctx_last_error(small), "over the cap of 4096)");
    CHECK(s == NULL);
    tfm_ctx_free(small);
    CHECK_OK(ctx, tfm_session_create(ctx, m, &sp, &s));
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(big);
    tfm_ctx_free(ctx);
}

// ---- allocation failures in every architecture -----------------------------------------

// Loads the case and runs one step of its kind (model_step.h).
static tfm_status arch_step(const tfm_ctx_params *params, void *arg) {
    const tfmt_arch_case *c = (const tfmt_arch_case *)arg;
    tfm_ctx_params cp = *params;
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    tfm_status st;
    char path[1024];
    snprintf(path, sizeof path, "%s", c->shared ? tfmt_shared(c->path) : tfmt_data(c->path));
    cp.n_threads = c->threads;
    if ((st = tfm_ctx_create(&cp, &ctx))) return st;
    mp.weights = c->weights;
    mp.no_tokenizer = 1;
    st = tfm_model_load(ctx, path, &mp, &m);
    if (!st) st = tfmt_model_step(ctx, m);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return st;
}

TEST(limits_oom_walk_every_architecture) {
    char names[256];
    const char *tok;
    int i;
    // Every row of the registry ("llama, gpt2, ...") has a case.
    tfm__arch_names(names, sizeof names);
    for (tok = names; *tok;) {
        size_t n = strcspn(tok, ",");
        for (i = 0; i < TFMT_N_ARCH_CASES; i++)
            if (strlen(tfmt_arch_cases[i].arch) == n && strncmp(tfmt_arch_cases[i].arch, tok, n) == 0)
                break;
        if (i == TFMT_N_ARCH_CASES)
            tfmt_fail(__FILE__, __LINE__, "no allocation walk for '%.*s'", (int)n, tok);
        tok += n;
        while (*tok == ',' || *tok == ' ') tok++;
    }
    for (i = 0; i < TFMT_N_ARCH_CASES; i++) {
        if (tfmt_arch_cases[i].shared && !tfmt_shared(tfmt_arch_cases[i].path)) {
            printf("  (%s skipped: ../shared absent)\n", tfmt_arch_cases[i].path);
            continue;
        }
        if (OOM_WALK(arch_step, (void *)&tfmt_arch_cases[i]) < 10)
            tfmt_fail(__FILE__, __LINE__, "%s: too few allocations", tfmt_arch_cases[i].path);
    }
}
