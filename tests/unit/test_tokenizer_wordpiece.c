/* WordPiece (BertTokenizer behaviour) against the genuine bert-base-uncased
 * vocabulary and recorded cases, plus cases derived from the rules. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "test_tokenizer_cases.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static tfm_tokenizer *load_bert(tfm_ctx *ctx) {
    return tc_load_shared(ctx, "vocab/bert-base-uncased");
}

TEST(wordpiece_shared_cases) {
    tfm_ctx *ctx;
    tfm_tokenizer *t;
    int n = 0, fails;
    char cases[1024];
    if (!tfmt_shared("vocab/bert-base-uncased")) SKIP("../shared is absent (vocab/bert-base-uncased)");
    snprintf(cases, sizeof cases, "%s", tfmt_shared("vocab/bert-base-uncased/cases.jsonl"));
    ctx = tfmt_ctx(1);
    t = load_bert(ctx);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(tfm_tokenizer_type_of(t), TFM_TOKENIZER_WORDPIECE);
    CHECK_EQ_INT(tfm_tokenizer_vocab_size(t), 30522);
    CHECK_EQ_INT(tfm_tokenizer_max_length(t), 512);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_CLS), 101);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_SEP), 102);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_PAD), 0);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_UNK), 100);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_MASK), 103);
    fails = tc_run_cases(ctx, t, cases, TFM_DECODE_SKIP_SPECIAL | TFM_DECODE_CLEANUP, &n);
    CHECK_EQ_INT(fails, 0);
    CHECK(n >= 78);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(wordpiece_hf_recorded_cases) {
    tfm_ctx *ctx;
    tfm_tokenizer *t;
    int n = 0, fails;
    if (!tfmt_shared("vocab/bert-base-uncased")) SKIP("../shared is absent (vocab/bert-base-uncased)");
    ctx = tfmt_ctx(1);
    t = load_bert(ctx);
    REQUIRE(t != NULL);
    /* recorded with transformers v5: its decode leaves clean_up_tokenization
     * off, keeping only the WordPiece decoder's own clean-up */
    fails = tc_run_cases(ctx, t, tfmt_data("golden/tokenizer/bert_hf_cases.jsonl"),
                         TFM_DECODE_SKIP_SPECIAL, &n);
    CHECK_EQ_INT(fails, 0);
    CHECK(n >= 400);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

// ---- rules, on a small vocabulary written by the test --------------------------------

static const char *const g_vocab[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "un", "##aff",
    "##able", ",", "!", ".", "'", "cafe", "caf\xC3\xA9", "Hello", "\xE4\xB8\xAD", "\xE6\x96\x87",
    "a", "##a", "b", "##b", "the", "\xC3\x9F", "i", "x"};
#define N_VOCAB ((int)(sizeof g_vocab / sizeof g_vocab[0]))

/* Writes vocab.txt (and tokenizer_config.json when config != NULL) into a
 * fresh folder; returns the folder (static buffer). */
static const char *write_folder(const char *config) {
    static char dir[64];
    char path[128];
    FILE *f;
    int i;
    strcpy(dir, "/tmp/tfmt_wp_XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    f = fopen(path, "wb");
    for (i = 0; i < N_VOCAB; i++) fprintf(f, "%s\n", g_vocab[i]);
    fclose(f);
    if (config) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        f = fopen(path, "wb");
        fputs(config, f);
        fclose(f);
    }
    return dir;
}

static void remove_folder(const char *dir) {
    char path[128];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    unlink(path);
    rmdir(dir);
}

static tfm_tokenizer *load_small(tfm_ctx *ctx, const char *config) {
    const char *dir = write_folder(config);
    tfm_tokenizer *t = NULL;
    if (!dir) return NULL;
    if (tfm_tokenizer_load(ctx, dir, NULL, &t) != TFM_OK)
        tfmt_fail(__FILE__, __LINE__, "load: %s", tfm_ctx_last_error(ctx));
    remove_folder(dir);
    return t;
}

/* Encodes without special tokens and checks the ids. */
static void check_enc(tfm_ctx *ctx, const tfm_tokenizer *t, const char *text,
                      const int32_t *want, size_t nwant, int line) {
    tfm_encode_params p = tfm_encode_params_default();
    int32_t ids[128];
    size_t n = 0;
    p.add_special = 0;
    if (tfm_tokenizer_encode(ctx, t, text, TFM_STRLEN, NULL, 0, &p, ids, NULL, NULL, 128, &n) !=
        TFM_OK) {
        tfmt_fail(__FILE__, line, "encode '%s': %s", text, tfm_ctx_last_error(ctx));
        return;
    }
    if (n != nwant || (n && memcmp(ids, want, n * sizeof(int32_t)) != 0)) {
        size_t i;
        tfmt_fail(__FILE__, line, "encode '%s': %zu ids, want %zu", text, n, nwant);
        for (i = 0; i < n; i++) printf(" %d", (int)ids[i]);
        printf("\n");
    }
}
#define ENC(t, text, ...)                                                                   \
    do {                                                                                    \
        const int32_t w_[] = {__VA_ARGS__};                                                 \
        check_enc(ctx, t, text, w_, sizeof w_ / sizeof w_[0], __LINE__);                    \
    } while (0)
#define ENC_NONE(t, text) check_enc(ctx, t, text, NULL, 0, __LINE__)

TEST(wordpiece_rules_uncased) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = load_small(ctx, NULL); /* no config: uncased */
    REQUIRE(t != NULL);
    ENC(t, "Hello, world!", 5, 11, 6, 12);
    ENC(t, "unaffable worlds", 8, 9, 10, 6, 7);     /* ## continuations */
    ENC(t, "unaffablex", 1);                         /* no split: [UNK] */
    ENC(t, "Caf\xC3\xA9 CAFE\xCC\x81", 15, 15);      /* accents stripped (both forms) */
    ENC(t, "\xE4\xB8\xAD\xE6\x96\x87" "hello", 18, 19, 5); /* CJK split */
    ENC(t, "hel\x01lo world\xEF\xBF\xBD", 5, 6);       /* control, U+FFFD dropped */
    ENC(t, "un\xC2\xAD" "affable", 8, 9, 10);        /* soft hyphen (Cf) dropped */
    ENC_NONE(t, "");
    ENC_NONE(t, " \t\r\n\xE3\x80\x80 ");
    ENC(t, "hello\xC2\xA0world", 5, 6);              /* NBSP is whitespace */
    ENC(t, "STRASSE \xC3\x9F", 1, 25);               /* sharp s kept */
    ENC(t, "\xC4\xB0", 26);                          /* I with dot -> i */
    ENC(t, "the[MASK].", 24, 4, 13);                 /* special string in text */
    ENC(t, "the[mask]", 24, 1, 1, 1);                /* not the special one: [ mask ] */
    {
        /* a 100-character word is split; 101 characters is [UNK] */
        char w[128];
        int32_t want[100];
        int i;
        memset(w, 'a', 100);
        w[100] = 0;
        for (i = 0; i < 100; i++) want[i] = i ? 21 : 20;
        check_enc(ctx, t, w, want, 100, __LINE__);
        w[100] = 'a';
        w[101] = 0;
        ENC(t, w, 1);
    }
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(wordpiece_rules_cased_and_config) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = load_small(ctx, "{\"do_lower_case\": false, \"model_max_length\": 8}");
    tfm_tokenizer *u;
    REQUIRE(t != NULL);
    CHECK_EQ_INT(tfm_tokenizer_max_length(t), 8);
    ENC(t, "Hello hello", 17, 5);
    ENC(t, "caf\xC3\xA9", 16);                       /* accents kept when cased */
    ENC(t, "Caf\xC3\xA9", 1);
    tfm_tokenizer_free(t);
    /* lower-case without accent stripping */
    u = load_small(ctx, "{\"do_lower_case\": true, \"strip_accents\": false}");
    REQUIRE(u != NULL);
    ENC(u, "CAF\xC3\x89", 16);
    tfm_tokenizer_free(u);
    /* params override the config */
    {
        const char *dir = write_folder("{\"do_lower_case\": true}");
        tfm_tokenizer_params p = tfm_tokenizer_params_default();
        REQUIRE(dir != NULL);
        p.lower_case = 0;
        REQUIRE_OK(ctx, tfm_tokenizer_load(ctx, dir, &p, &u));
        ENC(u, "Hello", 17);
        tfm_tokenizer_free(u);
        /* a bad config is an error naming the file and key */
        {
            char path[128];
            FILE *f;
            snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
            f = fopen(path, "wb");
            fputs("{\"do_lower_case\": \"yes\"}", f);
            fclose(f);
            CHECK_STATUS(tfm_tokenizer_load(ctx, dir, NULL, &u), TFM_ERR_FORMAT);
            CHECK_CONTAINS(tfm_ctx_last_error(ctx), "do_lower_case");
            f = fopen(path, "wb");
            fputs("{\"do_lower_case\": tru", f);
            fclose(f);
            CHECK_STATUS(tfm_tokenizer_load(ctx, dir, NULL, &u), TFM_ERR_FORMAT);
            CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tokenizer_config.json");
            /* vocab.txt with an invalid line */
            snprintf(path, sizeof path, "%s/vocab.txt", dir);
            f = fopen(path, "wb");
            fputs("[UNK]\nok\nbad\xFF\n", f);
            fclose(f);
            snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
            unlink(path);
            CHECK_STATUS(tfm_tokenizer_load(ctx, dir, NULL, &u), TFM_ERR_FORMAT);
            CHECK_CONTAINS(tfm_ctx_last_error(ctx), "line 3");
            snprintf(path, sizeof path, "%s/vocab.txt", dir);
            f = fopen(path, "wb");
            fputs("a\nb\n", f);
            fclose(f);
            CHECK_STATUS(tfm_tokenizer_load(ctx, path, NULL, &u), TFM_ERR_FORMAT);
            CHECK_CONTAINS(tfm_ctx_last_error(ctx), "[UNK]");
            CHECK(u == NULL);
        }
        remove_folder(dir);
    }
    tfm_ctx_free(ctx);
}

TEST(wordpiece_pairs_truncation_offsets_batch) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = load_small(ctx, NULL);
    tfm_encode_params p = tfm_encode_params_default();
    int32_t ids[32], types[32], offs[64];
    size_t n;
    char out[128];
    REQUIRE(t != NULL);
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "hello world", TFM_STRLEN, "the a b", TFM_STRLEN,
                                         &p, ids, types, offs, 32, &n));
    {
        const int32_t want[] = {2, 5, 6, 3, 24, 20, 22, 3};
        const int32_t wt[] = {0, 0, 0, 0, 1, 1, 1, 1};
        CHECK_EQ_INT(n, 8);
        CHECK(memcmp(ids, want, sizeof want) == 0);
        CHECK(memcmp(types, wt, sizeof wt) == 0);
        CHECK_EQ_INT(offs[0], -1);
        CHECK_EQ_INT(offs[2], 0);
        CHECK_EQ_INT(offs[3], 5);
        CHECK_EQ_INT(offs[4], 6);
        CHECK_EQ_INT(offs[5], 11);
        CHECK_EQ_INT(offs[10], 4); /* "a" in the pair's own text */
        CHECK_EQ_INT(offs[11], 5);
    }
    /* offsets of an accented, lower-cased word cover the original bytes */
    p.add_special = 0;
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, " CAF\xC3\x89!", TFM_STRLEN, NULL, 0, &p, ids,
                                         NULL, offs, 32, &n));
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(offs[0], 1);
    CHECK_EQ_INT(offs[1], 6);
    CHECK_EQ_INT(offs[2], 6);
    CHECK_EQ_INT(offs[3], 7);
    /* truncation: longest first, then only_second, and errors */
    p.add_special = 1;
    p.max_length = 6;
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "a a a a", TFM_STRLEN, "b b", TFM_STRLEN, &p,
                                         ids, types, NULL, 32, &n));
    {
        const int32_t want[] = {2, 20, 20, 3, 22, 3};
        CHECK_EQ_INT(n, 6);
        CHECK(memcmp(ids, want, sizeof want) == 0);
    }
    p.max_length = 7;
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "a a", TFM_STRLEN, "b b b", TFM_STRLEN, &p,
                                         ids, types, NULL, 32, &n));
    {
        const int32_t want[] = {2, 20, 20, 3, 22, 22, 3};
        CHECK_EQ_INT(n, 7);
        CHECK(memcmp(ids, want, sizeof want) == 0);
    }
    p.truncation = TFM_TRUNCATE_ONLY_SECOND;
    p.max_length = 5;
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "a a a", TFM_STRLEN, "b", TFM_STRLEN, &p, ids,
                                      NULL, NULL, 32, &n),
                 TFM_ERR_RANGE);
    p.max_length = 2;
    p.truncation = TFM_TRUNCATE_LONGEST_FIRST;
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "a", TFM_STRLEN, "b", TFM_STRLEN, &p, ids, NULL,
                                      NULL, 32, &n),
                 TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "special tokens");
    /* invalid UTF-8 in the pair names the pair */
    p = tfm_encode_params_default();
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "a", TFM_STRLEN, "b\xE2\x82", TFM_STRLEN, &p, ids,
                                      NULL, NULL, 32, &n),
                 TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "pair: invalid UTF-8 at byte 1");
    /* decode: ## glued, specials skipped, clean-up */
    {
        const int32_t in[] = {2, 8, 9, 10, 5, 11, 6, 12, 14, 3};
        size_t len;
        REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, in, 10, TFM_DECODE_SKIP_SPECIAL, out,
                                             sizeof out, &len));
        CHECK_STR(out, "unaffable hello, world! '");
        REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, in, 10, 0, out, sizeof out, &len));
        CHECK_STR(out, "[CLS] unaffable hello, world! ' [SEP]");
    }
    /* batch: padded with [PAD] and masked */
    {
        const char *texts[] = {"hello", "hello world!", ""};
        const char *pairs[] = {NULL, NULL, "a"};
        tfm_batch *b = NULL;
        REQUIRE_OK(ctx, tfm_tokenizer_encode_batch(ctx, t, texts, NULL, pairs, NULL, 3, NULL, 0,
                                                   &b));
        CHECK_EQ_INT(b->n_seq, 3);
        CHECK_EQ_INT(b->seq_len, 5);
        CHECK_EQ_INT(b->lengths[0], 3);
        CHECK_EQ_INT(b->lengths[1], 5);
        CHECK_EQ_INT(b->lengths[2], 4);
        CHECK_EQ_INT(b->ids[3], 0);
        CHECK_EQ_INT(b->attention_mask[2], 1);
        CHECK_EQ_INT(b->attention_mask[3], 0);
        CHECK_EQ_INT(b->ids[5 + 4], 3);
        CHECK_EQ_INT(b->ids[10 + 2], 20);
        CHECK_EQ_INT(b->type_ids[10 + 3], 1);
        CHECK_EQ_INT(b->type_ids[10 + 4], 0);
        tfm_batch_free(b);
        texts[1] = "bad\xFF";
        CHECK_STATUS(tfm_tokenizer_encode_batch(ctx, t, texts, NULL, NULL, NULL, 3, NULL, 0, &b),
                     TFM_ERR_FORMAT);
        CHECK(b == NULL);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "text 1");
        tfm_batch_free(NULL);
    }
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(wordpiece_long_input_is_fast) {
    tfm_ctx *ctx;
    tfm_tokenizer *t;
    static const char *const words[] = {"The ", "quick, ", "caf\xC3\xA9 ", "supercalifragilistic ",
                                        "\xE4\xB8\xAD\xE6\x96\x87 ", "world! ", "x\n", "aaaa "};
    size_t len;
    char *text;
    if (!tfmt_shared("vocab/bert-base-uncased")) SKIP("../shared is absent (vocab/bert-base-uncased)");
    ctx = tfmt_ctx(1);
    t = load_bert(ctx);
    REQUIRE(t != NULL);
    /* ending in one word of 100 KB: [UNK] without quadratic work */
    text = tc_long_text(words, 8, &len);
    REQUIRE(text != NULL);
    tc_check_fast(ctx, t, "bert", text, len);
    free(text);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}
