/*
 * Models and sessions: bad input (truncated or lying checkpoints, config and
 * weights that disagree, missing tensors and fields), context limits,
 * abort, llama2.c version-1 layout, sampling determinism.
 */
#define _POSIX_C_SOURCE 200112L
#include "harness.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp_path(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/tfmt_model_%ld_%s", (long)getpid(), name);
    return buf;
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    if (n && fwrite(data, 1, n, f) != n) {
        fclose(f);
        return 0;
    }
    return fclose(f) == 0;
}

// A small llama2.c v0 checkpoint: dim 8, hidden 16, 2 layers, 2 heads, 1 kv
// head, vocab 12 (shared classifier), seq_len 16, random weights.
static unsigned char *make_l2c(size_t *size) {
    int32_t hdr[7] = {8, 16, 2, 2, 1, 12, 16};
    int64_t D = 8, F = 16, L = 2, KV = 4, V = 12, T = 16, E = 4;
    int64_t nf = V * D + L * D + L * D * D + 2 * L * KV * D + L * D * D + L * D +
                 3 * L * F * D + D + T * E;
    unsigned char *b = (unsigned char *)malloc(28 + (size_t)nf * 4);
    float *w = (float *)(b + 28);
    int64_t i;
    memcpy(b, hdr, 28);
    tfmt_seed(5);
    for (i = 0; i < nf; i++) w[i] = 0.3f * tfmt_randf();
    *size = 28 + (size_t)nf * 4;
    return b;
}

TEST(model_llama2c_bad_files) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = (tfm_model *)1;
    size_t n;
    unsigned char *b = make_l2c(&n);
    const char *p = tmp_path("bad.bin");
    char path[256];
    snprintf(path, sizeof path, "%s", p);
    // The good file loads.
    REQUIRE(write_file(path, b, n));
    REQUIRE_OK(ctx, tfm_model_load(ctx, path, NULL, &m));
    CHECK_EQ_INT(tfm_model_dim(m), 8);
    CHECK_EQ_INT(tfm_model_n_layers(m), 2);
    CHECK(tfm_model_weight_bytes(m) > 0);
    CHECK(tfm_model_tokenizer(m) == NULL);
    tfm_model_free(m);
    // Truncated.
    REQUIRE(write_file(path, b, n - 4));
    CHECK_STATUS(tfm_model_load(ctx, path, NULL, &m), TFM_ERR_FORMAT);
    CHECK(m == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "truncated");
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), path);
    // Header shorter than 28 bytes.
    REQUIRE(write_file(path, b, 10));
    CHECK_STATUS(tfm_model_load(ctx, path, NULL, &m), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "header");
    // Extra bytes: header and file size disagree.
    {
        unsigned char *b2 = (unsigned char *)malloc(n + 8);
        memcpy(b2, b, n);
        memset(b2 + n, 0, 8);
        REQUIRE(write_file(path, b2, n + 8));
        CHECK_STATUS(tfm_model_load(ctx, path, NULL, &m), TFM_ERR_FORMAT);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "needs");
        free(b2);
    }
    // The most negative vocab_size (a separate classifier of 2^31 rows).
    {
        int32_t bad = INT32_MIN, keep;
        memcpy(&keep, b + 20, 4);
        memcpy(b + 20, &bad, 4);
        REQUIRE(write_file(path, b, n));
        CHECK_STATUS(tfm_model_load(ctx, path, NULL, &m), TFM_ERR_FORMAT);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "vocab_size");
        memcpy(b + 20, &keep, 4);
    }
    // A negative or zero field.
    {
        int32_t bad = 0;
        memcpy(b + 12, &bad, 4); // n_heads
        REQUIRE(write_file(path, b, n));
        CHECK_STATUS(tfm_model_load(ctx, path, NULL, &m), TFM_ERR_FORMAT);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "n_heads");
    }
    // Missing file.
    CHECK_STATUS(tfm_model_load(ctx, "/nonexistent/x.bin", NULL, &m), TFM_ERR_NOT_FOUND);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "/nonexistent/x.bin");
    {
        tfm_model_params mp = tfm_model_params_default();
        mp.use_mmap = 0; // the fopen path
        CHECK_STATUS(tfm_model_load(ctx, "/nonexistent/x.bin", &mp, &m), TFM_ERR_NOT_FOUND);
    }
    CHECK_STATUS(tfm_model_load(ctx, NULL, NULL, &m), TFM_ERR_INVALID_ARG);
    remove(path);
    free(b);
    tfm_ctx_free(ctx);
}

// The version-1 layout of the same weights gives the same logits.
TEST(model_llama2c_v1_matches_v0) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m0 = NULL, *m1 = NULL;
    tfm_session *s0 = NULL, *s1 = NULL;
    size_t n;
    unsigned char *b = make_l2c(&n);
    int64_t D = 8, F = 16, L = 2, KV = 4, V = 12;
    const float *w = (const float *)(b + 28);
    const float *emb = w, *ra = emb + V * D, *wq = ra + L * D, *wk = wq + L * D * D,
                *wv = wk + L * KV * D, *wo = wv + L * KV * D, *rf = wo + L * D * D,
                *w1 = rf + L * D, *w2 = w1 + L * F * D, *w3 = w2 + L * D * F,
                *rn = w3 + L * F * D;
    unsigned char *v1 = (unsigned char *)calloc(1, n + 256);
    size_t off = 256;
    uint32_t magic = 0x616b3432u;
    int32_t ver = 1;
    int32_t ids[5] = {1, 4, 7, 2, 9};
    float a[5 * 12], c[5 * 12];
    char p0[256], p1[256];
#define PUT(ptr, cnt) (memcpy(v1 + off, (ptr), (size_t)(cnt) * 4), off += (size_t)(cnt) * 4)
    memcpy(v1, &magic, 4);
    memcpy(v1 + 4, &ver, 4);
    memcpy(v1 + 8, b, 28);
    v1[36] = 1;
    PUT(ra, L * D); PUT(rf, L * D); PUT(rn, D); PUT(emb, V * D);
    PUT(wq, L * D * D); PUT(wk, L * KV * D); PUT(wv, L * KV * D); PUT(wo, L * D * D);
    PUT(w1, L * F * D); PUT(w2, L * D * F); PUT(w3, L * F * D);
#undef PUT
    snprintf(p0, sizeof p0, "%s", tmp_path("v0.bin"));
    snprintf(p1, sizeof p1, "%s", tmp_path("v1.bin"));
    REQUIRE(write_file(p0, b, n));
    REQUIRE(write_file(p1, v1, off));
    REQUIRE_OK(ctx, tfm_model_load(ctx, p0, NULL, &m0));
    REQUIRE_OK(ctx, tfm_model_load(ctx, p1, NULL, &m1));
    REQUIRE_OK(ctx, tfm_session_create(ctx, m0, NULL, &s0));
    REQUIRE_OK(ctx, tfm_session_create(ctx, m1, NULL, &s1));
    CHECK_OK(ctx, tfm_session_prefill(s0, ids, 5, a));
    CHECK_OK(ctx, tfm_session_prefill(s1, ids, 5, c));
    CHECK(memcmp(a, c, sizeof a) == 0);
    // Version 2 (int8) is refused clearly.
    ver = 2;
    memcpy(v1 + 4, &ver, 4);
    REQUIRE(write_file(p1, v1, off));
    tfm_model_free(m1);
    m1 = NULL;
    CHECK_STATUS(tfm_model_load(ctx, p1, NULL, &m1), TFM_ERR_UNSUPPORTED);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "version 2");
    remove(p0);
    remove(p1);
    tfm_session_free(s0);
    tfm_session_free(s1);
    tfm_model_free(m0);
    tfm_model_free(m1);
    free(b);
    free(v1);
    tfm_ctx_free(ctx);
}

static int abort_now(void *ud) {
    (void)ud;
    return 1;
}

TEST(model_session_limits_and_abort) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_session_params sp = tfm_session_params_default();
    tfm_gen_params gp = tfm_gen_params_default();
    tfm_model_params mp = tfm_model_params_default();
    int32_t ids[20], out[64], n = 0, i, t1[16], t2[16], n1 = 0, n2 = 0;
    mp.no_tokenizer = 1;
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/llama/tiny"), &mp, &m));
    CHECK_STR(tfm_model_arch(m), "llama");
    CHECK_EQ_INT(tfm_model_bos(m), 1);
    CHECK_EQ_INT(tfm_model_eos(m), 2);
    sp.max_context = 8;
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, &sp, &s));
    for (i = 0; i < 20; i++) ids[i] = 3 + i;
    // Prompt longer than the context.
    CHECK_STATUS(tfm_session_prefill(s, ids, 9, NULL), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "context of 8 tokens full");
    CHECK_EQ_INT(tfm_session_pos(s), 0);
    CHECK_STATUS(tfm_generate_tokens(s, ids, 9, &gp, NULL, 0, &n, NULL), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "does not fit");
    // An id outside the vocabulary.
    ids[3] = 128;
    CHECK_STATUS(tfm_session_prefill(s, ids, 5, NULL), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "token 128 at index 3");
    ids[3] = 6;
    // Generation that runs into the end of the context: an error after the
    // tokens made; with the sliding policy it goes on.
    gp.temperature = 0.0f;
    gp.max_new_tokens = 20;
    gp.stop_token = -1;
    CHECK_STATUS(tfm_generate_tokens(s, ids, 4, &gp, out, 64, &n, NULL), TFM_ERR_RANGE);
    CHECK_EQ_INT(n, 5);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "context of 8 tokens full");
    tfm_session_free(s);
    sp.context_policy = TFM_CONTEXT_SLIDE;
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, &sp, &s));
    CHECK_OK(ctx, tfm_generate_tokens(s, ids, 4, &gp, out, 64, &n, NULL));
    CHECK_EQ_INT(n, 20);
    // Seeded sampling: same seed, same tokens; top_k 1 is greedy.
    gp.max_new_tokens = 6;
    gp.temperature = 0.9f;
    gp.top_p = 0.8f;
    gp.seed = 11;
    CHECK_OK(ctx, tfm_generate_tokens(s, ids, 2, &gp, t1, 16, &n1, NULL));
    CHECK_OK(ctx, tfm_generate_tokens(s, ids, 2, &gp, t2, 16, &n2, NULL));
    CHECK(n1 == n2 && memcmp(t1, t2, (size_t)n1 * 4) == 0);
    gp.top_k = 1;
    gp.top_p = 1.0f;
    CHECK_OK(ctx, tfm_generate_tokens(s, ids, 2, &gp, t1, 16, &n1, NULL));
    gp.temperature = 0.0f;
    CHECK_OK(ctx, tfm_generate_tokens(s, ids, 2, &gp, t2, 16, &n2, NULL));
    CHECK(n1 == n2 && memcmp(t1, t2, (size_t)n1 * 4) == 0);
    // Bad params.
    gp.top_p = 1.5f;
    CHECK_STATUS(tfm_generate_tokens(s, ids, 2, &gp, t1, 16, &n1, NULL), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "top_p");
    tfm_session_free(s);
    // Abort.
    sp = tfm_session_params_default();
    sp.abort = abort_now;
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, &sp, &s));
    CHECK_STATUS(tfm_session_prefill(s, ids, 3, NULL), TFM_ABORTED);
    CHECK_EQ_INT(tfm_session_pos(s), 0);
    tfm_session_free(s);
    sp = tfm_session_params_default();
    sp.max_context = 100000;
    CHECK_STATUS(tfm_session_create(ctx, m, &sp, &s), TFM_ERR_RANGE);
    CHECK(s == NULL);
    tfm_model_free(m);
    tfm_session_free(NULL);
    tfm_model_free(NULL);
    tfm_ctx_free(ctx);
}

// HF folders whose config and weights disagree, or that miss a tensor or a
// field: errors naming the tensor or the field.
TEST(model_hf_bad_folders) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    char dir[256], path[300], src[300];
    char *cfg, *st;
    size_t cfg_len, st_len;
    mp.no_tokenizer = 1;
    snprintf(src, sizeof src, "%s", tfmt_data("golden/llama/tiny/config.json"));
    cfg = tfmt_read_file(src, &cfg_len);
    snprintf(src, sizeof src, "%s", tfmt_data("golden/llama/tiny/model.safetensors"));
    st = tfmt_read_file(src, &st_len);
    REQUIRE(cfg && st);
    snprintf(dir, sizeof dir, "%s", tmp_path("hf"));
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    REQUIRE(write_file(path, st, st_len));
    snprintf(path, sizeof path, "%s/config.json", dir);
    {
        // intermediate_size 64 -> 48: the mlp weights disagree.
        char *c2 = (char *)malloc(cfg_len + 1);
        char *at;
        memcpy(c2, cfg, cfg_len + 1);
        at = strstr(c2, "\"intermediate_size\": 64");
        REQUIRE(at != NULL);
        memcpy(at, "\"intermediate_size\": 48", 23);
        REQUIRE(write_file(path, c2, cfg_len));
        CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &m), TFM_ERR_FORMAT);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "mlp.gate_proj.weight");
        CHECK(m == NULL);
        // A missing field.
        memcpy(c2, cfg, cfg_len + 1);
        at = strstr(c2, "\"vocab_size\"");
        REQUIRE(at != NULL);
        memcpy(at, "\"vocab_sizX\"", 12);
        REQUIRE(write_file(path, c2, cfg_len));
        CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &m), TFM_ERR_NOT_FOUND);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "vocab_size");
        // More layers than the file has: a missing tensor.
        memcpy(c2, cfg, cfg_len + 1);
        at = strstr(c2, "\"num_hidden_layers\": 2");
        REQUIRE(at != NULL);
        at[21] = '3';
        REQUIRE(write_file(path, c2, cfg_len));
        CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &m), TFM_ERR_NOT_FOUND);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model.layers.2.");
        // An unknown architecture.
        REQUIRE(write_file(path, "{\"model_type\": \"bart\"}", 22));
        CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &m), TFM_ERR_UNSUPPORTED);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "bart");
        free(c2);
    }
    // Truncated weights.
    snprintf(path, sizeof path, "%s/config.json", dir);
    REQUIRE(write_file(path, cfg, cfg_len));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    REQUIRE(write_file(path, st, st_len - 100));
    CHECK_STATUS(tfm_model_load(ctx, dir, &mp, &m), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model.safetensors");
    remove(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    rmdir(dir);
    free(cfg);
    free(st);
    tfm_ctx_free(ctx);
}
