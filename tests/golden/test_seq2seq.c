/*
 * Translation models against the float64 PyTorch references of
 * gen_marian.py: a Hugging Face Marian folder and an nn.Transformer export,
 * teacher-forced logits of a padded batch (relative error <= 1e-5), greedy
 * and beam search outputs token for token (and the greedy path's
 * cross-attention), thread counts, and bad input.
 */
#define _XOPEN_SOURCE 700
#include "harness.h"
#include "models/seq2seq.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ref {
    tfm_safetensors *st;
    tfm_tensor src, mask, tgt, logits;
} ref;

static int ref_open(tfm_ctx *ctx, const char *name, ref *r) {
    char rel[256];
    snprintf(rel, sizeof rel, "golden/marian/%s.ref.safetensors", name);
    if (tfm_safetensors_open(ctx, tfmt_data(rel), &r->st)) return 0;
    return !tfm_safetensors_get(ctx, r->st, "src_ids", &r->src) &&
           !tfm_safetensors_get(ctx, r->st, "src_mask", &r->mask) &&
           !tfm_safetensors_get(ctx, r->st, "tgt_ids", &r->tgt) &&
           !tfm_safetensors_get(ctx, r->st, "logits", &r->logits);
}

static tfm_model *load(tfm_ctx *ctx, const char *name) {
    char rel[256];
    tfm_model *m = NULL;
    snprintf(rel, sizeof rel, "golden/marian/%s", name);
    if (tfm_model_load(ctx, tfmt_data(rel), NULL, &m) != TFM_OK)
        fprintf(stdout, "  load %s: %s\n", name, tfm_ctx_last_error(ctx));
    return m;
}

// The sources of the reference batch as separate sentences (no padding).
static void sources(const ref *r, const int32_t **src, int32_t *lens) {
    int64_t B = r->src.shape[0], S = r->src.shape[1], b, j;
    const int32_t *ids = (const int32_t *)r->src.data, *mask = (const int32_t *)r->mask.data;
    for (b = 0; b < B; b++) {
        src[b] = ids + b * S;
        lens[b] = 0;
        for (j = 0; j < S; j++) lens[b] += mask[b * S + j] != 0;
    }
}

// Compares the result with <key>_ids / <key>_len of the reference.
static void check_ids(tfm_ctx *ctx, const ref *r, const tfm_translate_result *res,
                      const char *key) {
    char n1[64], n2[64];
    tfm_tensor ids, len;
    int32_t b, j;
    snprintf(n1, sizeof n1, "%s_ids", key);
    snprintf(n2, sizeof n2, "%s_len", key);
    if (tfm_safetensors_get(ctx, r->st, n1, &ids) || tfm_safetensors_get(ctx, r->st, n2, &len)) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(res->n, ids.shape[0]);
    for (b = 0; b < res->n && b < ids.shape[0]; b++) {
        const int32_t *want = (const int32_t *)ids.data + b * ids.shape[1];
        int32_t wl = ((const int32_t *)len.data)[b];
        CHECK_EQ_INT(res->items[b].n_ids, wl);
        for (j = 0; j < wl && j < res->items[b].n_ids; j++)
            if (res->items[b].ids[j] != want[j]) {
                tfmt_fail(__FILE__, __LINE__, "%s sentence %d token %d: %d != %d", key, (int)b,
                          (int)j, (int)res->items[b].ids[j], (int)want[j]);
                break;
            }
    }
}

static void golden_model(const char *name, int n_threads) {
    tfm_ctx *ctx = tfmt_ctx(n_threads);
    tfm_model *m = load(ctx, name);
    ref r;
    tfm_session *s = NULL;
    tfm_translate_params p = tfm_translate_params_default();
    tfm_translate_result *res = NULL;
    const int32_t *src[8];
    int32_t lens[8];
    float *logits;
    int64_t n;
    memset(&r, 0, sizeof r);
    REQUIRE(m);
    REQUIRE(ref_open(ctx, name, &r));
    // ---- teacher-forced logits of the padded batch
    n = tfm_tensor_numel(&r.logits);
    logits = (float *)malloc((size_t)n * sizeof(float));
    REQUIRE(logits);
    CHECK_OK(ctx, tfm_translate_logits(ctx, m, (const int32_t *)r.src.data,
                                       (const int32_t *)r.mask.data, (int32_t)r.src.shape[0],
                                       (int32_t)r.src.shape[1], (const int32_t *)r.tgt.data,
                                       (int32_t)r.tgt.shape[1], logits));
    CHECK_RELERR(logits, (const double *)r.logits.data, n, 1e-5);
    free(logits);
    // ---- searches over the whole batch at once
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    sources(&r, src, lens);
    p.beam_size = 1;
    p.attention = 1;
    CHECK_OK(ctx, tfm_translate_tokens(s, src, lens, (int32_t)r.src.shape[0], &p, &res));
    if (res) {
        tfm_tensor att;
        int32_t b, t;
        check_ids(ctx, &r, res, "greedy");
        if (!tfm_safetensors_get(ctx, r.st, "greedy_att", &att)) {
            for (b = 0; b < res->n; b++)
                for (t = 0; t < res->items[b].n_ids && t < att.shape[1]; t++)
                    CHECK_RELERR(res->items[b].attention + (size_t)t * res->items[b].n_src,
                                 (const double *)att.data + (b * att.shape[1] + t) * att.shape[2],
                                 res->items[b].n_src, 1e-4);
        }
    }
    tfm_translate_result_free(res);
    res = NULL;
    p = tfm_translate_params_default(); // the config's num_beams (3), length_penalty 1
    CHECK_OK(ctx, tfm_translate_tokens(s, src, lens, (int32_t)r.src.shape[0], &p, &res));
    if (res) check_ids(ctx, &r, res, "beam3");
    tfm_translate_result_free(res);
    res = NULL;
    p.beam_size = 4;
    p.length_penalty = 0.6f;
    p.early_stopping = 1;
    p.attention = 1;
    CHECK_OK(ctx, tfm_translate_tokens(s, src, lens, (int32_t)r.src.shape[0], &p, &res));
    if (res) check_ids(ctx, &r, res, "beam4");
    tfm_translate_result_free(res);
    tfm_session_free(s);
    tfm_safetensors_close(r.st);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(seq2seq_marian_golden) { golden_model("marian_tiny", 1); }
TEST(seq2seq_marian_golden_2threads) { golden_model("marian_tiny", 2); }
TEST(seq2seq_transformer_golden) { golden_model("transformer_tiny", 1); }

TEST(seq2seq_marian_meta) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = load(ctx, "marian_tiny");
    const tfm__s2s *s;
    char *text = NULL, want[64];
    int32_t ids[5] = {5, 6, 7, 9, 0};
    size_t len = 0;
    char *file;
    REQUIRE(m);
    CHECK_STR(tfm_model_arch(m), "marian");
    CHECK_EQ_INT(tfm_model_vocab_size(m), 120);
    CHECK_EQ_INT(tfm_model_eos(m), 0);
    CHECK_EQ_INT(tfm_model_pad(m), 119);
    CHECK_EQ_INT(tfm_model_decoder_start(m), 119);
    CHECK_EQ_INT(tfm_model_src_vocab_size(m), 120);
    CHECK(tfm_model_weight_bytes(m) > 0);
    s = tfm__s2s_of(m);
    REQUIRE(s);
    CHECK_EQ_INT(s->unk, 1);
    CHECK_OK(ctx, tfm__pieces_decode(ctx, s->pieces, ids, 5, s->pad, s->eos, s->unk, "translate",
                                     &text));
    file = tfmt_read_file(tfmt_data("golden/marian/marian_tiny.detok.txt"), &len);
    REQUIRE(file);
    snprintf(want, sizeof want, "%.*s", (int)len, file);
    if (text) CHECK_STR(text, want);
    free(file);
    if (text) tfm__free(ctx, text, strlen(text) + 1);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

TEST(seq2seq_bad_input) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = load(ctx, "marian_tiny");
    tfm_session *s = NULL;
    tfm_translate_params p = tfm_translate_params_default();
    tfm_translate_result *res = NULL;
    int32_t eos_only[1] = {0}, good[6] = {5, 6, 7, 8, 9, 0}, bad[3] = {5, 500, 0};
    const int32_t *src[1];
    int32_t len[1];
    const char *texts[1] = {"Hallo"};
    REQUIRE(m);
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    src[0] = eos_only;
    len[0] = 1;
    CHECK_STATUS(tfm_translate_tokens(s, src, len, 1, NULL, &res), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "sentence 0 is empty");
    CHECK(res == NULL);
    len[0] = 0;
    CHECK_STATUS(tfm_translate_tokens(s, src, len, 1, NULL, &res), TFM_ERR_INVALID_ARG);
    src[0] = bad;
    len[0] = 3;
    CHECK_STATUS(tfm_translate_tokens(s, src, len, 1, NULL, &res), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "token 500");
    // past the source limit: an error, or cut (keeping the EOS) when asked
    src[0] = good;
    len[0] = 6;
    p.max_source_length = 4;
    p.beam_size = 2;
    CHECK_STATUS(tfm_translate_tokens(s, src, len, 1, &p, &res), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "source limit of 4");
    p.truncate = 1;
    CHECK_OK(ctx, tfm_translate_tokens(s, src, len, 1, &p, &res));
    if (res) {
        CHECK_EQ_INT(res->items[0].n_src, 4);
        CHECK_EQ_INT(res->items[0].src_ids[3], 0);
        CHECK_EQ_INT(res->items[0].src_ids[2], 7);
        CHECK(res->items[0].text != NULL);
    }
    tfm_translate_result_free(res);
    res = NULL;
    p = tfm_translate_params_default();
    p.max_length = 65;
    CHECK_STATUS(tfm_translate_tokens(s, src, len, 1, &p, &res), TFM_ERR_RANGE);
    p.max_length = 0;
    p.beam_size = 65;
    CHECK_STATUS(tfm_translate_tokens(s, src, len, 1, &p, &res), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_translate_tokens(s, src, len, 0, NULL, &res), TFM_ERR_INVALID_ARG);
    // text needs the SentencePiece models, which this folder does not have
    CHECK_STATUS(tfm_translate(s, texts, 1, NULL, &res), TFM_ERR_UNSUPPORTED);
    // a translator is not a decoder-only session
    CHECK_STATUS(tfm_session_prefill(s, good, 2, NULL), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tfm_translate");
    CHECK_STATUS(tfm_translate_logits(ctx, m, bad, NULL, 1, 3, good, 2, NULL),
                 TFM_ERR_INVALID_ARG);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

// A copy of marian_tiny whose config.json sets `key` to `value`.
static int bad_folder(char *dir, const char *key, const char *value) {
    char path[512], abs_st[1024], *cfg;
    size_t len;
    FILE *f;
    const char *at, *end;
    strcpy(dir, "/tmp/tfm_s2s_XXXXXX");
    if (!mkdtemp(dir)) return 0;
    cfg = tfmt_read_file(tfmt_data("golden/marian/marian_tiny/config.json"), &len);
    if (!cfg) return 0;
    if (!realpath(tfmt_data("golden/marian/marian_tiny/model.safetensors"), abs_st)) {
        free(cfg);
        return 0;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (symlink(abs_st, path) != 0) {
        free(cfg);
        return 0;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    at = strstr(cfg, key);
    if (!f || !at) {
        if (f) fclose(f);
        free(cfg);
        return 0;
    }
    at = strchr(at, ':') + 1;
    end = at + strcspn(at, ",\n}");
    fprintf(f, "%.*s %s%s", (int)(at - cfg), cfg, value, end);
    fclose(f);
    free(cfg);
    return 1;
}

static void rm_folder(const char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    rmdir(dir);
}

TEST(seq2seq_config_disagrees) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    char dir[64];
    REQUIRE(bad_folder(dir, "\"encoder_ffn_dim\"", "48"));
    CHECK_STATUS(tfm_model_load(ctx, dir, NULL, &m), TFM_ERR_UNSUPPORTED); // enc != dec ffn
    rm_folder(dir);
    REQUIRE(bad_folder(dir, "\"d_model\"", "48"));
    CHECK_STATUS(tfm_model_load(ctx, dir, NULL, &m), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model.shared.weight");
    rm_folder(dir);
    REQUIRE(bad_folder(dir, "\"encoder_layers\"", "3"));
    CHECK_STATUS(tfm_model_load(ctx, dir, NULL, &m), TFM_ERR_NOT_FOUND);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model.encoder.layers.2.self_attn.q_proj.weight");
    rm_folder(dir);
    REQUIRE(bad_folder(dir, "\"activation_function\"", "\"mish\""));
    CHECK_STATUS(tfm_model_load(ctx, dir, NULL, &m), TFM_ERR_UNSUPPORTED);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "mish");
    rm_folder(dir);
    REQUIRE(bad_folder(dir, "\"eos_token_id\"", "500"));
    CHECK_STATUS(tfm_model_load(ctx, dir, NULL, &m), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "eos_token_id");
    rm_folder(dir);
    CHECK(m == NULL);
    tfm_ctx_free(ctx);
}

// Text in, text out: the folder's SentencePiece models and vocab.json.
TEST(seq2seq_marian_text) {
    tfm_ctx *ctx = tfmt_ctx(2);
    tfm_model *m = load(ctx, "marian_spm");
    tfm_session *s = NULL;
    tfm_translate_params p = tfm_translate_params_default();
    tfm_translate_result *res = NULL;
    ref r;
    char *js;
    size_t len;
    const char *texts[3] = {"Das Haus ist klein.", "Wo ist der Bahnhof?", "Guten Morgen, Katze!"};
    const char *bad_utf8[1] = {"Haus \xff"}, *empty[1] = {""};
    int32_t i, j;
    memset(&r, 0, sizeof r);
    REQUIRE(m);
    REQUIRE(tfm_model_tokenizer(m) != NULL);
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, tfmt_data("golden/marian/marian_spm.ref.safetensors"),
                                         &r.st));
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, r.st, "src_ids", &r.src));
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, r.st, "src_mask", &r.mask));
    js = tfmt_read_file(tfmt_data("golden/marian/marian_spm.texts.json"), &len);
    REQUIRE(js);
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    p.beam_size = 1;
    CHECK_OK(ctx, tfm_translate(s, texts, 3, &p, &res));
    if (res) {
        // the source ids of MarianTokenizer (pieces through vocab.json, then </s>)
        for (i = 0; i < 3; i++) {
            const int32_t *want = (const int32_t *)r.src.data + i * r.src.shape[1];
            const int32_t *mask = (const int32_t *)r.mask.data + i * r.src.shape[1];
            int32_t n = 0;
            for (j = 0; j < r.src.shape[1]; j++) n += mask[j] != 0;
            CHECK_EQ_INT(res->items[i].n_src, n);
            for (j = 0; j < n && j < res->items[i].n_src; j++)
                CHECK_EQ_INT(res->items[i].src_ids[j], want[j]);
        }
        check_ids(ctx, &r, res, "greedy");
        // each decoded text appears in the reference list (spm's decode_pieces)
        for (i = 0; i < 3; i++) {
            char q[256];
            REQUIRE(res->items[i].text);
            snprintf(q, sizeof q, "\"%s\"", res->items[i].text);
            CHECK_CONTAINS(js, q);
        }
    }
    tfm_translate_result_free(res);
    res = NULL;
    p.beam_size = 3;
    CHECK_OK(ctx, tfm_translate(s, texts, 3, &p, &res));
    if (res) check_ids(ctx, &r, res, "beam3");
    tfm_translate_result_free(res);
    res = NULL;
    CHECK_STATUS(tfm_translate(s, empty, 1, NULL, &res), TFM_ERR_INVALID_ARG);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "text 0 is empty");
    CHECK_STATUS(tfm_translate(s, bad_utf8, 1, NULL, &res), TFM_ERR_FORMAT);
    CHECK(res == NULL);
    free(js);
    tfm_session_free(s);
    tfm_safetensors_close(r.st);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

// A Marian folder whose source.spm is not a SentencePiece model.
TEST(seq2seq_corrupt_spm) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    char dir[64], path[512], abs_p[1024];
    const char *names[3] = {"config.json", "model.safetensors", "vocab.json"};
    FILE *f;
    int i;
    strcpy(dir, "/tmp/tfm_s2s_XXXXXX");
    REQUIRE(mkdtemp(dir));
    for (i = 0; i < 3; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "golden/marian/marian_spm/%s", names[i]);
        REQUIRE(realpath(tfmt_data(rel), abs_p));
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        REQUIRE(symlink(abs_p, path) == 0);
    }
    snprintf(path, sizeof path, "%s/source.spm", dir);
    f = fopen(path, "wb");
    REQUIRE(f);
    fputs("\x0a\x05garbage that is no ModelProto", f);
    fclose(f);
    CHECK_STATUS(tfm_model_load(ctx, dir, NULL, &m), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "source.spm");
    CHECK(m == NULL);
    unlink(path);
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    tfm_ctx_free(ctx);
}

// Allocation failures anywhere in loading, a session and both searches
// (text and tokens) return TFM_ERR_NOMEM and leak nothing.
static tfm_status oom_scenario(const tfm_ctx_params *params, void *arg) {
    tfm_ctx *ctx = NULL;
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_translate_result *res = NULL;
    tfm_translate_params p = tfm_translate_params_default();
    tfm_status st;
    const char *texts[2] = {"Das Haus ist klein.", "Wo ist der Bahnhof?"};
    (void)arg;
    if ((st = tfm_ctx_create(params, &ctx))) return st;
    st = tfm_model_load(ctx, tfmt_data("golden/marian/marian_spm"), NULL, &m);
    if (!st) st = tfm_session_create(ctx, m, NULL, &s);
    p.attention = 1;
    p.beam_size = 2;
    if (!st) st = tfm_translate(s, texts, 2, &p, &res);
    tfm_translate_result_free(res);
    res = NULL;
    p.beam_size = 1;
    if (!st) st = tfm_translate(s, texts, 1, &p, &res);
    tfm_translate_result_free(res);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
    return st;
}

TEST(seq2seq_out_of_memory) { CHECK(OOM_WALK(oom_scenario, NULL) > 20); }
