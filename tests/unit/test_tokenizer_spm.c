/* SentencePiece models against SentencePiece 0.1.97's own results
 * (tests/golden/spm/, made by gen_spm.py), plus folder detection, special
 * tokens, streaming decode, and malformed model files. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "test_tokenizer_cases.h"
#include "text/spm.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const k_models[] = {"uni", "bpe", "uni_bytes", "bpe_bytes", "ident"};
#define N_MODELS 5

static char *model_path(const char *name, char *buf, size_t size) {
    char rel[64];
    snprintf(rel, sizeof rel, "golden/spm/%s.model", name);
    snprintf(buf, size, "%s", tfmt_data(rel));
    return buf;
}

static tfm_tokenizer *load_model(tfm_ctx *ctx, const char *name) {
    char path[1024];
    tfm_tokenizer *t = NULL;
    if (tfm_tokenizer_load(ctx, model_path(name, path, sizeof path), NULL, &t) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "load %s: %s", name, tfm_ctx_last_error(ctx));
        return NULL;
    }
    return t;
}

static int model_index(const char *name) {
    int i;
    for (i = 0; i < N_MODELS; i++)
        if (strcmp(k_models[i], name) == 0) return i;
    return -1;
}

static void print_case(const char *model, const char *text, const tfm__json *want,
                       const int32_t *got, size_t n, const tfm_tokenizer *t) {
    size_t i;
    printf("    %s: \"%s\"\n    want:", model, text);
    for (i = 0; want && i < tfm__json_len(want) && i < 30; i++)
        printf(" %lld", (long long)tfm__json_at(want, i)->i);
    printf("\n    got: ");
    for (i = 0; i < n && i < 30; i++)
        printf(" %d[%s]", (int)got[i], tfm_tokenizer_id_to_token(t, got[i], NULL));
    printf("\n");
}

/* Every record of cases.jsonl; returns the failures (details of the first
 * few printed). */
static int run_cases(tfm_ctx *ctx, tfm_tokenizer **toks, int *n_enc, int *n_dec) {
    size_t len, pos = 0;
    char *data = tfmt_read_file(tfmt_data("golden/spm/cases.jsonl"), &len);
    int32_t *ids = (int32_t *)malloc(4096 * sizeof(int32_t));
    int32_t *offs = (int32_t *)malloc(8192 * sizeof(int32_t));
    char *dec = (char *)malloc(1 << 16);
    int fails = 0, line = 0;
    tfm_encode_params p = tfm_encode_params_default();
    p.add_special = 0;
    *n_enc = *n_dec = 0;
    if (!data || !ids || !offs || !dec) {
        tfmt_fail(__FILE__, __LINE__, "cannot read cases.jsonl");
        free(data);
        free(ids);
        free(offs);
        free(dec);
        return 1;
    }
    while (pos < len) {
        size_t e = pos, n = 0, dn = 0, i;
        tfm__json_doc *doc = NULL;
        const tfm__json *r, *want, *info, *text, *dids;
        const char *model;
        const tfm_tokenizer *t;
        int mi, bad = 0;
        while (e < len && data[e] != '\n') e++;
        line++;
        if (e == pos) {
            pos = e + 1;
            continue;
        }
        if (tfm__json_parse(ctx, data + pos, e - pos, "cases.jsonl", NULL, &doc) != TFM_OK) {
            tfmt_fail(__FILE__, __LINE__, "line %d: %s", line, tfm_ctx_last_error(ctx));
            fails++;
            break;
        }
        pos = e + 1;
        r = tfm__json_root(doc);
        model = tfm__json_str(tfm__json_get(r, "model"));
        mi = model ? model_index(model) : -1;
        if (mi < 0 || !toks[mi]) {
            tfm__json_free(doc);
            continue;
        }
        t = toks[mi];
        info = tfm__json_get(r, "info");
        text = tfm__json_get(r, "text");
        dids = tfm__json_get(r, "decode_ids");
        if (info) {
            static const char *const keys[] = {"unk", "bos", "eos", "pad"};
            static const tfm_special_token which[] = {TFM_TOKEN_UNK, TFM_TOKEN_BOS,
                                                      TFM_TOKEN_EOS, TFM_TOKEN_PAD};
            if (tfm_tokenizer_vocab_size(t) != tfm__json_get(info, "vocab")->i) {
                tfmt_fail(__FILE__, __LINE__, "%s: vocab %d", model,
                          (int)tfm_tokenizer_vocab_size(t));
                fails++;
            }
            for (i = 0; i < 4; i++)
                if (tfm_tokenizer_special_id(t, which[i]) != tfm__json_get(info, keys[i])->i) {
                    tfmt_fail(__FILE__, __LINE__, "%s: %s id %d, want %lld", model, keys[i],
                              (int)tfm_tokenizer_special_id(t, which[i]),
                              (long long)tfm__json_get(info, keys[i])->i);
                    fails++;
                }
        } else if (text) {
            const tfm__json *pieces = tfm__json_get(r, "pieces");
            tfm_status st;
            (*n_enc)++;
            want = tfm__json_get(r, "ids");
            st = tfm_tokenizer_encode(ctx, t, text->s, text->n, NULL, 0, &p, ids, NULL, offs,
                                      4096, &n);
            if (st != TFM_OK) {
                printf("    %s \"%s\": %s\n", model, text->s, tfm_ctx_last_error(ctx));
                bad = 1;
            } else if (!tc_ids_equal(want, ids, n)) {
                if (fails < 12) print_case(model, text->s, want, ids, n, t);
                bad = 1;
            } else {
                /* pieces by id; offsets inside the text and in order */
                for (i = 0; i < n && !bad; i++) {
                    const char *pc = tfm_tokenizer_id_to_token(t, ids[i], NULL);
                    if (pieces && strcmp(pc, tfm__json_str(tfm__json_at(pieces, i))) != 0)
                        bad = 1;
                    if (offs[2 * i] < 0 || offs[2 * i] > offs[2 * i + 1] ||
                        (size_t)offs[2 * i + 1] > text->n ||
                        (i > 0 && offs[2 * i] < offs[2 * i - 2]))
                        bad = 1;
                }
                if (bad && fails < 12) printf("    %s \"%s\": pieces or offsets\n", model,
                                              text->s);
                if (!bad) {
                    const char *wd = tfm__json_str(tfm__json_get(r, "decoded"));
                    st = tfm_tokenizer_decode(ctx, t, ids, n, 0, dec, 1 << 16, &dn);
                    if (st != TFM_OK || strcmp(dec, wd) != 0) {
                        if (fails < 12) printf("    %s \"%s\": decoded \"%s\", want \"%s\"\n",
                                               model, text->s, dec, wd);
                        bad = 1;
                    }
                }
            }
        } else if (dids) {
            const tfm__json *wj = tfm__json_get(r, "decoded");
            const char *wd = wj->s;
            (*n_dec)++;
            n = tfm__json_len(dids);
            for (i = 0; i < n; i++) ids[i] = (int32_t)tfm__json_at(dids, i)->i;
            /* (the text may hold NUL bytes: <0x00>) */
            if (tfm_tokenizer_decode(ctx, t, ids, n, 0, dec, 1 << 16, &dn) != TFM_OK ||
                dn != wj->n || memcmp(dec, wd, dn) != 0) {
                if (fails < 12) {
                    printf("    %s decode:", model);
                    for (i = 0; i < n; i++) printf(" %d", (int)ids[i]);
                    printf("\n    got  \"%s\"\n    want \"%s\"\n", dec, wd);
                }
                bad = 1;
            }
        }
        fails += bad;
        tfm__json_free(doc);
    }
    free(data);
    free(ids);
    free(offs);
    free(dec);
    return fails;
}

TEST(spm_sentencepiece_recorded_cases) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *toks[N_MODELS];
    int i, fails, n_enc, n_dec;
    for (i = 0; i < N_MODELS; i++) {
        toks[i] = load_model(ctx, k_models[i]);
        if (toks[i]) CHECK_EQ_INT(tfm_tokenizer_type_of(toks[i]), TFM_TOKENIZER_SENTENCEPIECE);
    }
    fails = run_cases(ctx, toks, &n_enc, &n_dec);
    CHECK_EQ_INT(fails, 0);
    CHECK(n_enc >= 5 * 150);
    CHECK(n_dec >= 5 * 30);
    if (fails) printf("  %d of %d encodings / %d decodings differ\n", fails, n_enc, n_dec);
    for (i = 0; i < N_MODELS; i++) tfm_tokenizer_free(toks[i]);
    tfm_ctx_free(ctx);
}

// ---- a protobuf writer for hand-made models --------------------------------------------

typedef struct pbw {
    unsigned char b[4096];
    size_t n;
} pbw;

static void w_raw(pbw *w, const void *p, size_t n) {
    if (w->n + n > sizeof w->b) return;
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void w_varint(pbw *w, uint64_t v) {
    unsigned char c;
    do {
        c = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v) c |= 0x80;
        w_raw(w, &c, 1);
    } while (v);
}
static void w_key(pbw *w, uint32_t field, int wt) {
    w_varint(w, (uint64_t)field << 3 | (unsigned)wt);
}
static void w_bytes(pbw *w, uint32_t field, const void *p, size_t n) {
    w_key(w, field, 2);
    w_varint(w, n);
    w_raw(w, p, n);
}
static void w_str(pbw *w, uint32_t field, const char *s) { w_bytes(w, field, s, strlen(s)); }
static void w_int(pbw *w, uint32_t field, int64_t v) {
    w_key(w, field, 0);
    w_varint(w, (uint64_t)v);
}
static void w_float(pbw *w, uint32_t field, float x) {
    uint32_t u;
    unsigned char c[4];
    memcpy(&u, &x, 4);
    c[0] = (unsigned char)u;
    c[1] = (unsigned char)(u >> 8);
    c[2] = (unsigned char)(u >> 16);
    c[3] = (unsigned char)(u >> 24);
    w_key(w, field, 5);
    w_raw(w, c, 4);
}
static void w_msg(pbw *w, uint32_t field, const pbw *sub) { w_bytes(w, field, sub->b, sub->n); }
static void w_piece(pbw *w, const char *s, float score, int type) {
    pbw p;
    p.n = 0;
    w_str(&p, 1, s);
    w_float(&p, 2, score);
    if (type) w_int(&p, 3, type);
    w_msg(w, 1, &p);
}
/* Every kind of field a reader must skip. */
static void w_junk(pbw *w) {
    unsigned char eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    w_int(w, 900, -5);
    w_key(w, 901, 1);
    w_raw(w, eight, 8);
    w_key(w, 902, 5);
    w_raw(w, eight, 4);
    w_str(w, 903, "skipped");
    w_key(w, 904, 3); /* a group holding a varint and a nested group */
    w_int(w, 1, 7);
    w_key(w, 2, 3);
    w_str(w, 3, "x");
    w_key(w, 2, 4);
    w_key(w, 904, 4);
}

#define SP "\xE2\x96\x81"

/* A tiny unigram model: identity normalization, 9 pieces. */
static void tiny_model(pbw *w, int junk) {
    pbw ts, ns;
    w->n = ts.n = ns.n = 0;
    if (junk) w_junk(w);
    w_piece(w, "<unk>", 0, 2);
    w_piece(w, "<s>", 0, 3);
    w_piece(w, "</s>", 0, 3);
    w_piece(w, SP "ab", -1, 0);
    w_piece(w, SP "a", -2, 1);
    w_piece(w, "a", -3, 0);
    w_piece(w, "b", -3, 0);
    w_piece(w, SP, -4, 0);
    w_piece(w, "c", -3, 0);
    if (junk) w_junk(&ts);
    w_int(&ts, 3, 1);
    w_int(&ts, 40, 0);
    w_msg(w, 2, &ts);
    if (junk) w_junk(&ns);
    w_str(&ns, 1, "identity");
    w_msg(w, 3, &ns);
    if (junk) w_junk(w);
}

static tfm_status load_mem(tfm_ctx *ctx, const pbw *w, tfm_tokenizer **t) {
    return tfm__spm_from_memory(ctx, w->b, w->n, "mem.model", t);
}

static void check_ids(tfm_ctx *ctx, const tfm_tokenizer *t, const char *text, const int32_t *want,
                      size_t nwant, int line) {
    tfm_encode_params p = tfm_encode_params_default();
    int32_t ids[64];
    size_t n = 0, i;
    p.add_special = 0;
    if (tfm_tokenizer_encode(ctx, t, text, TFM_STRLEN, NULL, 0, &p, ids, NULL, NULL, 64, &n) !=
        TFM_OK) {
        tfmt_fail(__FILE__, line, "encode '%s': %s", text, tfm_ctx_last_error(ctx));
        return;
    }
    if (n != nwant) {
        tfmt_fail(__FILE__, line, "encode '%s': %zu ids, want %zu", text, n, nwant);
        return;
    }
    for (i = 0; i < n; i++)
        if (ids[i] != want[i])
            tfmt_fail(__FILE__, line, "encode '%s': id %zu is %d, want %d", text, i, (int)ids[i],
                      (int)want[i]);
}
#define IDS(text, ...)                                                                      \
    do {                                                                                    \
        const int32_t w_[] = {__VA_ARGS__};                                                 \
        check_ids(ctx, t, text, w_, sizeof w_ / sizeof w_[0], __LINE__);                    \
    } while (0)

TEST(spm_hand_made_model) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = NULL;
    pbw w;
    int junk;
    for (junk = 0; junk < 2; junk++) {
        tiny_model(&w, junk);
        REQUIRE_OK(ctx, load_mem(ctx, &w, &t));
        CHECK_EQ_INT(tfm_tokenizer_vocab_size(t), 9);
        CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_UNK), 0);
        CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_BOS), 1);
        CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_EOS), 2);
        CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_PAD), -1);
        IDS("ab a", 3, 4);
        IDS("  ab   abc ", 3, 3, 8);
        IDS("xy", 7, 0);   /* one unk for the run of unknown characters */
        IDS("a x y", 4, 7, 0, 7, 0);
        tfm_tokenizer_free(t);
        t = NULL;
    }
    /* only special pieces: everything is one unknown run */
    w.n = 0;
    w_piece(&w, "<unk>", 0, 2);
    w_piece(&w, "</s>", 0, 3);
    REQUIRE_OK(ctx, load_mem(ctx, &w, &t));
    IDS("abc de", 0);
    IDS("</s>", 0);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

/* A model with one change, loaded from memory: the expected status and a
 * piece of the message. */
static void expect_bad(tfm_ctx *ctx, const pbw *w, tfm_status want, const char *msg, int line) {
    tfm_tokenizer *t = (tfm_tokenizer *)&t;
    tfm_status st = load_mem(ctx, w, &t);
    if (st != want) tfmt_fail(__FILE__, line, "status %s, want %s (%s)", tfm_status_str(st),
                              tfm_status_str(want), tfm_ctx_last_error(ctx));
    else if (!strstr(tfm_ctx_last_error(ctx), msg))
        tfmt_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", tfm_ctx_last_error(ctx), msg);
    if (t) tfmt_fail(__FILE__, line, "*out not NULL on failure");
    if (st == TFM_OK) tfm_tokenizer_free(t);
}
#define BAD(w, st, msg) expect_bad(ctx, (w), (st), (msg), __LINE__)

static void model_with(pbw *w, const char *const *pieces, const int *types, int n, int byte_fb,
                       int model_type) {
    pbw ts;
    int i;
    w->n = ts.n = 0;
    for (i = 0; i < n; i++) w_piece(w, pieces[i], -1.0f - (float)i, types[i]);
    if (model_type) w_int(&ts, 3, model_type);
    if (byte_fb) w_int(&ts, 35, 1);
    w_msg(w, 2, &ts);
}

TEST(spm_malformed_models) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = NULL;
    pbw good, w;
    size_t cut;
    int n_format = 0;
    tiny_model(&good, 1);
    /* every truncation is either still a model or a format error */
    for (cut = 0; cut < good.n; cut++) {
        tfm_status st = tfm__spm_from_memory(ctx, good.b, cut, "cut", &t);
        if (st == TFM_OK) {
            tfm_tokenizer_free(t);
            continue;
        }
        CHECK(st == TFM_ERR_FORMAT);
        n_format++;
    }
    CHECK(n_format > (int)good.n / 2);
    /* wire-level damage */
    w = good;
    w.b[0] = (unsigned char)(1u << 3 | 7); /* wire type 7 */
    BAD(&w, TFM_ERR_FORMAT, "wire type 7 at byte 0");
    w.n = 0;
    w_key(&w, 0, 0);
    w_varint(&w, 1);
    BAD(&w, TFM_ERR_FORMAT, "field number 0");
    w.n = 0;
    w_key(&w, 5, 0);
    memset(w.b + w.n, 0xFF, 11);
    w.n += 11;
    BAD(&w, TFM_ERR_FORMAT, "overlong varint");
    w.n = 0;
    w_key(&w, 1, 2);
    w_varint(&w, 1000);
    BAD(&w, TFM_ERR_FORMAT, "length 1000 past the end");
    w.n = 0;
    w_key(&w, 7, 4);
    BAD(&w, TFM_ERR_FORMAT, "outside a group");
    w.n = 0;
    w_key(&w, 7, 3);
    w_int(&w, 1, 1);
    BAD(&w, TFM_ERR_FORMAT, "group 7 never ends");
    w.n = 0;
    w_key(&w, 7, 3);
    w_key(&w, 8, 4);
    BAD(&w, TFM_ERR_FORMAT, "end of group 8 inside group 7");
    {
        int d;
        w.n = 0;
        for (d = 0; d < 70; d++) w_key(&w, 7, 3);
        BAD(&w, TFM_ERR_FORMAT, "nested past");
    }
    /* field-level damage */
    w.n = 0;
    w_int(&w, 1, 5); /* pieces as a varint */
    BAD(&w, TFM_ERR_FORMAT, "pieces (field 1) has wire type 0");
    {
        pbw p;
        w.n = p.n = 0;
        w_str(&p, 1, "<unk>");
        w_int(&p, 2, 3); /* score as a varint */
        w_msg(&w, 1, &p);
        BAD(&w, TFM_ERR_FORMAT, "pieces[0]: score");
        w.n = p.n = 0;
        w_str(&p, 1, "x");
        w_int(&p, 3, 9);
        w_msg(&w, 1, &p);
        BAD(&w, TFM_ERR_FORMAT, "type 9 is not a piece type");
        w.n = p.n = 0;
        w_float(&p, 2, 1.0f);
        w_msg(&w, 1, &p);
        BAD(&w, TFM_ERR_FORMAT, "pieces[0]: empty piece");
        w.n = p.n = 0;
        w_bytes(&p, 1, "a\0b", 3);
        w_msg(&w, 1, &p);
        BAD(&w, TFM_ERR_FORMAT, "NUL byte");
    }
    w.n = 0;
    BAD(&w, TFM_ERR_FORMAT, "no pieces");
    /* model-level rules */
    {
        static const char *const dup[] = {"<unk>", "a", "b", "a"};
        static const int dup_t[] = {2, 1, 1, 1};
        static const char *const nounk[] = {"a", "b"};
        static const int nounk_t[] = {1, 1};
        static const char *const twounk[] = {"<unk>", "a", "<unk2>"};
        static const int twounk_t[] = {2, 1, 2};
        static const char *const bytes[] = {"<unk>", "<0x41>", "a"};
        static const int bytes_t[] = {2, 6, 1};
        static const char *const badbyte[] = {"<unk>", "<0xzz>", "a"};
        static const int badbyte_t[] = {2, 6, 1};
        model_with(&w, dup, dup_t, 4, 0, 0);
        BAD(&w, TFM_ERR_FORMAT, "pieces[1] 'a' is defined again at pieces[3]");
        model_with(&w, nounk, nounk_t, 2, 0, 0);
        BAD(&w, TFM_ERR_FORMAT, "no piece of type UNKNOWN");
        model_with(&w, twounk, twounk_t, 3, 0, 0);
        BAD(&w, TFM_ERR_FORMAT, "second unknown piece");
        model_with(&w, bytes, bytes_t, 3, 0, 0);
        BAD(&w, TFM_ERR_FORMAT, "byte_fallback is off");
        model_with(&w, badbyte, badbyte_t, 3, 1, 0);
        BAD(&w, TFM_ERR_FORMAT, "not spelled <0xNN>");
        model_with(&w, bytes, bytes_t, 3, 1, 3);
        BAD(&w, TFM_ERR_UNSUPPORTED, "model_type WORD");
        model_with(&w, bytes, bytes_t, 3, 1, 9);
        BAD(&w, TFM_ERR_FORMAT, "model_type 9");
        model_with(&w, bytes, bytes_t, 3, 1, 2);
        REQUIRE_OK(ctx, load_mem(ctx, &w, &t));
        tfm_tokenizer_free(t);
        t = NULL;
    }
    /* precompiled_charsmap damage */
    {
        static const unsigned char shortmap[] = {4, 0, 0};
        static const unsigned char bigtrie[] = {64, 0, 0, 0, 1, 2, 3, 4};
        static const unsigned char nonul[] = {4, 0, 0, 0, 0, 0, 0, 0, 'x'};
        const unsigned char *maps[3] = {shortmap, bigtrie, nonul};
        const size_t lens[3] = {sizeof shortmap, sizeof bigtrie, sizeof nonul};
        const char *msgs[3] = {"too short", "does not fit", "do not end with a NUL"};
        int k;
        for (k = 0; k < 3; k++) {
            pbw ns;
            tiny_model(&w, 0);
            ns.n = 0;
            w_bytes(&ns, 2, maps[k], lens[k]);
            w_msg(&w, 3, &ns);
            BAD(&w, TFM_ERR_FORMAT, msgs[k]);
        }
    }
    tfm_ctx_free(ctx);
}

/* A map whose trie points anywhere: encoding ends with an error or a result,
 * never outside the tables. */
TEST(spm_corrupt_charsmap_is_contained) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = NULL;
    pbw w, ns;
    unsigned char map[4 + 16 * 4 + 8];
    int32_t ids[256];
    size_t n, i;
    int round;
    tfmt_seed(7);
    for (round = 0; round < 200; round++) {
        tiny_model(&w, 0);
        map[0] = 64;
        map[1] = map[2] = map[3] = 0;
        for (i = 4; i < 4 + 64; i++) /* tfmt_randf: [-1, 1) */
            map[i] = (unsigned char)((tfmt_randf() + 1.0f) * 127.5f);
        /* odd rounds: a path for 'a' (root offset 0x60, then unit 1 labelled
         * 'a' with a value child at unit 2), a value in or out of range */
        if (round % 2) {
            static const uint32_t u[2] = {0x60u << 10, 'a' | 0x100u | (3u << 10)};
            uint32_t val = round % 4 == 1 ? (uint32_t)(round / 4 % 3) * 2 : 0x7FFFu;
            for (i = 0; i < 2; i++) {
                map[4 + 4 * i] = (unsigned char)u[i];
                map[5 + 4 * i] = (unsigned char)(u[i] >> 8);
                map[6 + 4 * i] = (unsigned char)(u[i] >> 16);
                map[7 + 4 * i] = (unsigned char)(u[i] >> 24);
            }
            map[12] = (unsigned char)val;
            map[13] = (unsigned char)(val >> 8);
            map[14] = map[15] = 0;
        }
        memcpy(map + 4 + 64, "a\0bc\0xy", 8); /* ends with a NUL */
        ns.n = 0;
        w_bytes(&ns, 2, map, sizeof map);
        w_msg(&w, 3, &ns);
        REQUIRE_OK(ctx, load_mem(ctx, &w, &t));
        {
            tfm_status st = tfm_tokenizer_encode(ctx, t, "ab a\x01 abc", TFM_STRLEN, NULL, 0, NULL,
                                                 ids, NULL, NULL, 256, &n);
            CHECK(st == TFM_OK || st == TFM_ERR_FORMAT);
            if (round % 4 == 1) CHECK(st == TFM_OK);
            if (round % 4 == 3) CHECK(st == TFM_ERR_FORMAT);
        }
        tfm_tokenizer_free(t);
        t = NULL;
    }
    tfm_ctx_free(ctx);
}

// ---- the tokenizer API on SentencePiece models ------------------------------------------

static int copy_file(const char *from, const char *to) {
    size_t len;
    char *data = tfmt_read_file(from, &len);
    FILE *f;
    int ok;
    if (!data) return 0;
    f = fopen(to, "wb");
    ok = f && fwrite(data, 1, len, f) == len;
    if (f) ok = fclose(f) == 0 && ok;
    free(data);
    return ok;
}

TEST(spm_folders_and_files) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = NULL;
    tfm_tokenizer_params p = tfm_tokenizer_params_default();
    char dir[] = "/tmp/tfm_spm_XXXXXX", a[1200], b[1200], src[1024];
    REQUIRE(mkdtemp(dir) != NULL);
    /* no model yet */
    CHECK_STATUS(tfm_tokenizer_load(ctx, dir, NULL, &t), TFM_ERR_NOT_FOUND);
    p.type = TFM_TOKENIZER_SENTENCEPIECE;
    CHECK_STATUS(tfm_tokenizer_load(ctx, dir, &p, &t), TFM_ERR_NOT_FOUND);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "no SentencePiece model");
    /* a Marian folder: the source side */
    snprintf(a, sizeof a, "%s/source.spm", dir);
    snprintf(b, sizeof b, "%s/target.spm", dir);
    REQUIRE(copy_file(model_path("uni", src, sizeof src), a));
    REQUIRE(copy_file(model_path("bpe", src, sizeof src), b));
    REQUIRE_OK(ctx, tfm_tokenizer_load(ctx, dir, NULL, &t));
    CHECK_EQ_INT(tfm_tokenizer_type_of(t), TFM_TOKENIZER_SENTENCEPIECE);
    CHECK_EQ_INT(tfm_tokenizer_vocab_size(t), 800);
    tfm_tokenizer_free(t);
    REQUIRE_OK(ctx, tfm_tokenizer_load(ctx, b, NULL, &t));
    CHECK_EQ_INT(tfm_tokenizer_vocab_size(t), 600);
    tfm_tokenizer_free(t);
    REQUIRE_OK(ctx, tfm_tokenizer_load(ctx, dir, &p, &t));
    tfm_tokenizer_free(t);
    remove(a);
    remove(b);
    /* T5's name */
    snprintf(a, sizeof a, "%s/spiece.model", dir);
    REQUIRE(copy_file(model_path("ident", src, sizeof src), a));
    REQUIRE_OK(ctx, tfm_tokenizer_load(ctx, dir, NULL, &t));
    CHECK_EQ_INT(tfm_tokenizer_vocab_size(t), 500);
    tfm_tokenizer_free(t);
    /* a broken file names itself and the byte */
    {
        FILE *f = fopen(a, "wb");
        REQUIRE(f != NULL);
        fwrite("\x0a\x07\x0a\x05<unk>\x0a\x40", 1, 11, f); /* a piece, then a cut one */
        fclose(f);
    }
    t = (tfm_tokenizer *)&t;
    CHECK_STATUS(tfm_tokenizer_load(ctx, a, NULL, &t), TFM_ERR_FORMAT);
    CHECK(t == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "spiece.model");
    CHECK_CONTAINS(tfm_ctx_last_error(ctx),
                   "length 64 past the end of the message (0 bytes left) at byte 10");
    remove(a);
    snprintf(a, sizeof a, "%s/missing.model", dir);
    CHECK_STATUS(tfm_tokenizer_load(ctx, a, NULL, &t), TFM_ERR_NOT_FOUND);
    rmdir(dir);
    tfm_ctx_free(ctx);
}

TEST(spm_special_tokens_and_decoding) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = load_model(ctx, "uni");
    tfm_encode_params p = tfm_encode_params_default();
    int32_t ids[128], types[128], offs[256], eos;
    size_t n, m, len, i, at;
    char out[512];
    REQUIRE(t != NULL);
    eos = tfm_tokenizer_special_id(t, TFM_TOKEN_EOS);
    CHECK_EQ_INT(eos, 2);
    CHECK_EQ_INT(tfm_tokenizer_token_to_id(t, "</s>", TFM_STRLEN), 2);
    CHECK_EQ_INT(tfm_tokenizer_token_to_id(t, "<pad>", TFM_STRLEN), 3);
    CHECK_EQ_INT(tfm_tokenizer_token_to_id(t, "no such piece", TFM_STRLEN), -1);
    CHECK_STR(tfm_tokenizer_id_to_token(t, 0, NULL), "<unk>");
    /* Marian's layout: text </s>; a pair: A B </s> */
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "Das Haus ist klein.", TFM_STRLEN, NULL, 0,
                                         NULL, ids, types, offs, 128, &n));
    REQUIRE(n >= 2);
    CHECK_EQ_INT(ids[n - 1], eos);
    CHECK_EQ_INT(offs[2 * n - 2], -1);
    p.add_special = 0;
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "Das Haus ist klein.", TFM_STRLEN, NULL, 0,
                                         &p, ids, NULL, NULL, 128, &m));
    CHECK_EQ_INT(m, n - 1);
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "Das Haus", TFM_STRLEN, "klein", TFM_STRLEN,
                                         NULL, ids, types, NULL, 128, &n));
    CHECK_EQ_INT(ids[n - 1], eos);
    CHECK_EQ_INT(types[0], 0);
    CHECK_EQ_INT(types[n - 1], 1);
    for (i = 0; i + 1 < n; i++) CHECK(ids[i] != eos);
    /* "</s>" in text is text */
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "</s>", TFM_STRLEN, NULL, 0, &p, ids, NULL,
                                         NULL, 128, &n));
    for (i = 0; i < n; i++) CHECK(ids[i] != eos);
    /* decoding: control pieces vanish, unk shows unless skipped */
    ids[0] = 1;
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "Haus", TFM_STRLEN, NULL, 0, &p, ids + 1, NULL,
                                         NULL, 100, &n));
    ids[n + 1] = 0;
    ids[n + 2] = eos;
    REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, ids, n + 3, 0, out, sizeof out, &len));
    CHECK_STR(out, "Haus \xE2\x81\x87 ");
    REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, ids, n + 3, TFM_DECODE_SKIP_SPECIAL, out,
                                         sizeof out, &len));
    CHECK_STR(out, "Haus");
    /* streaming gives the same text piece by piece (first space dropped
     * after BOS too) */
    for (i = 0, at = 0; i < n + 3; i++) {
        REQUIRE_OK(ctx, tfm_tokenizer_decode_next(ctx, t, i ? ids[i - 1] : -1, ids[i], 0,
                                                  out + at, sizeof out - at, &len));
        at += len;
    }
    CHECK_STR(out, "Haus \xE2\x81\x87 ");
    /* errors */
    ids[0] = 800;
    CHECK_STATUS(tfm_tokenizer_decode(ctx, t, ids, 1, 0, out, sizeof out, &len), TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "id 800 at position 0");
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "gut \xC3(", TFM_STRLEN, NULL, 0, NULL, ids, NULL,
                                      NULL, 128, &n),
                 TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "byte 4");
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(spm_byte_fallback_streaming) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = load_model(ctx, "uni_bytes");
    static const char text[] = "Smile \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87 ok";
    int32_t ids[128], offs[256];
    size_t n, len, i, at, nbytes = 0;
    char out[512];
    REQUIRE(t != NULL);
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, text, TFM_STRLEN, NULL, 0, NULL, ids, NULL,
                                         offs, 128, &n));
    for (i = 0; i < n; i++) {
        const char *pc = tfm_tokenizer_id_to_token(t, ids[i], NULL);
        if (strncmp(pc, "<0x", 3) == 0) {
            nbytes++;
            /* a byte piece covers its whole character */
            CHECK(offs[2 * i + 1] - offs[2 * i] >= 3);
        }
    }
    CHECK(nbytes >= 4);
    REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, ids, n, TFM_DECODE_SKIP_SPECIAL, out,
                                         sizeof out, &len));
    CHECK_STR(out, text);
    for (i = 0, at = 0; i < n; i++) {
        REQUIRE_OK(ctx, tfm_tokenizer_decode_next(ctx, t, i ? ids[i - 1] : -1, ids[i],
                                                  TFM_DECODE_SKIP_SPECIAL, out + at,
                                                  sizeof out - at, &len));
        at += len;
    }
    CHECK_STR(out, text);
    /* a cut character decodes to U+FFFD per byte, streaming passes bytes */
    ids[0] = tfm_tokenizer_token_to_id(t, "<0xF0>", TFM_STRLEN);
    ids[1] = tfm_tokenizer_token_to_id(t, "<0x9F>", TFM_STRLEN);
    REQUIRE(ids[0] >= 0 && ids[1] >= 0);
    REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, ids, 2, 0, out, sizeof out, &len));
    CHECK_STR(out, "\xEF\xBF\xBD\xEF\xBF\xBD");
    REQUIRE_OK(ctx, tfm_tokenizer_decode_next(ctx, t, -1, ids[0], 0, out, sizeof out, &len));
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT((unsigned char)out[0], 0xF0);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(spm_long_input_is_fast) {
    tfm_ctx *ctx = tfmt_ctx(1);
    static const char *const words[] = {"Das ", "Paket ", "konnte ", "nicht ", "gefunden ",
                                        "\xEF\xBC\xA1\xEF\xBC\xA2 ", "caf\xC3\xA9  ",
                                        "\xF0\x9F\x98\x80 ", "\xE4\xB8\xAD\xE6\x96\x87 "};
    static const char *const names[] = {"uni", "bpe", "uni_bytes"};
    size_t len;
    /* ending in one 100 KB word: neither the lattice nor the merges go quadratic */
    char *text = tc_long_text(words, 9, &len);
    int k;
    REQUIRE(text != NULL);
    for (k = 0; k < 3; k++) {
        tfm_tokenizer *t = load_model(ctx, names[k]);
        REQUIRE(t != NULL);
        tc_check_fast(ctx, t, names[k], text, len);
        tfm_tokenizer_free(t);
    }
    free(text);
    tfm_ctx_free(ctx);
}

static tfm_status spm_oom_scenario(const tfm_ctx_params *params, void *arg) {
    tfm_ctx *ctx = NULL;
    tfm_tokenizer *t = NULL;
    int32_t ids[256];
    size_t n = 0, len;
    char out[1024];
    tfm_status st;
    if ((st = tfm_ctx_create(params, &ctx))) return st;
    if ((st = tfm_tokenizer_load(ctx, (const char *)arg, NULL, &t))) goto done;
    if ((st = tfm_tokenizer_encode(ctx, t, "Größe  \xEF\xAC\x81le <sep> \xF0\x9F\x98\x80 x",
                                   TFM_STRLEN, NULL, 0, NULL, ids, NULL, NULL, 256, &n)))
        goto done;
    if ((st = tfm_tokenizer_decode(ctx, t, ids, n, 0, out, sizeof out, &len))) goto done;
    st = tfm_tokenizer_decode_next(ctx, t, -1, ids[0], 0, out, sizeof out, &len);
done:
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
    return st;
}

TEST(spm_oom_walk) {
    char path[1024];
    CHECK(OOM_WALK(spm_oom_scenario, model_path("bpe", path, sizeof path)) > 8);
    CHECK(OOM_WALK(spm_oom_scenario, model_path("ident", path, sizeof path)) > 8);
}
