/* llama2.c tokenizer.bin: loading, encoding as run.c, decoding, bad files. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "text/tokenizer.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

// ---- a tiny tokenizer.bin written by the test -----------------------------------

typedef struct tiny_piece {
    const char *s;
    float score;
} tiny_piece;

/* <unk> <s> </s>, the 256 byte pieces, then these. */
static const tiny_piece g_tiny[] = {
    {" ", -1.0f}, {"a", -2.0f}, {"b", -3.0f}, {"ab", -4.0f}, {" a", -5.0f},
    {" ab", -0.5f}, {"ba", -6.0f}, {"\xC3\xA9", -7.0f}, {"bb", -1e11f}};
#define N_TINY (259 + (int)(sizeof g_tiny / sizeof g_tiny[0]))

static void put_i32(FILE *f, int32_t v) { fwrite(&v, 4, 1, f); }
static void put_f32(FILE *f, float v) { fwrite(&v, 4, 1, f); }

static void put_rec(FILE *f, float score, const char *s, int32_t len) {
    put_f32(f, score);
    put_i32(f, len);
    fwrite(s, 1, (size_t)len, f);
}

/* Writes the tiny tokenizer to a fresh temp file; returns its path (static). */
static const char *write_tiny(void) {
    static char path[64];
    int fd, i;
    FILE *f;
    char buf[16];
    strcpy(path, "/tmp/tfmt_tokbin_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) return NULL;
    f = fdopen(fd, "wb");
    put_i32(f, 8);
    put_rec(f, 0, "<unk>", 5);
    put_rec(f, 0, "\n<s>\n", 5);
    put_rec(f, 0, "\n</s>\n", 6);
    for (i = 0; i < 256; i++) {
        snprintf(buf, sizeof buf, "<0x%02X>", i);
        put_rec(f, 0, buf, 6);
    }
    for (i = 0; i < N_TINY - 259; i++)
        put_rec(f, g_tiny[i].score, g_tiny[i].s, (int32_t)strlen(g_tiny[i].s));
    fclose(f);
    return path;
}

static tfm_tokenizer *load_tiny(tfm_ctx *ctx, const char **pathp) {
    tfm_tokenizer *t = NULL;
    const char *path = write_tiny();
    if (!path) return NULL;
    if (tfm_tokenizer_load(ctx, path, NULL, &t) != TFM_OK) t = NULL;
    if (pathp) *pathp = path;
    else unlink(path);
    return t;
}

static size_t enc(tfm_ctx *ctx, const tfm_tokenizer *t, const char *s, int special,
                  int32_t *ids, size_t cap) {
    tfm_encode_params p = tfm_encode_params_default();
    size_t n = 0;
    p.add_special = special;
    if (tfm_tokenizer_encode(ctx, t, s, TFM_STRLEN, NULL, 0, &p, ids, NULL, NULL, cap, &n) !=
        TFM_OK)
        return (size_t)-1;
    return n;
}

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(int32_t)) == 0);
}

TEST(tokbin_tiny_encode_decode) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = load_tiny(ctx, NULL);
    int32_t ids[64];
    char out[128];
    size_t n, len;
    REQUIRE(t != NULL);
    CHECK_EQ_INT(tfm_tokenizer_type_of(t), TFM_TOKENIZER_LLAMA2C);
    CHECK_EQ_INT(tfm_tokenizer_vocab_size(t), N_TINY);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_BOS), 1);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_EOS), 2);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_UNK), 0);
    CHECK_EQ_INT(tfm_tokenizer_special_id(t, TFM_TOKEN_CLS), -1);
    CHECK_EQ_INT(tfm_tokenizer_token_to_id(t, " ab", TFM_STRLEN), 264);
    CHECK_STR(tfm_tokenizer_id_to_token(t, 262, &len), "ab");
    CHECK_EQ_INT(len, 2);
    CHECK(tfm_tokenizer_id_to_token(t, N_TINY, NULL) == NULL);
    /* " ab" (-0.5) beats " " + "a" (-5) and "ab" (-4): " ab", then "ab" + " a"? */
    n = enc(ctx, t, "ab ab", 1, ids, 64);
    {
        const int32_t want[] = {1, 264, 264};
        CHECK(same_ids(ids, n, want, 3));
    }
    /* byte fallback: U+00E8 is no piece; U+00E9 is one; bb never merges */
    n = enc(ctx, t, "\xC3\xA8\xC3\xA9" "bb", 0, ids, 64);
    {
        const int32_t want[] = {259, 0xC3 + 3, 0xA8 + 3, 266, 261, 261};
        CHECK(same_ids(ids, n, want, 6));
    }
    REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, ids, n, 0, out, sizeof out, &len));
    CHECK_STR(out, "\xC3\xA8\xC3\xA9" "bb");
    /* empty text: BOS only */
    CHECK_EQ_INT(enc(ctx, t, "", 1, ids, 64), 1);
    CHECK_EQ_INT(ids[0], 1);
    CHECK_EQ_INT(enc(ctx, t, "", 0, ids, 64), 0);
    /* decode after BOS drops the leading space; the BOS piece itself is kept
     * unless skipped */
    {
        const int32_t in[] = {1, 264, 264};
        REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, in, 3, TFM_DECODE_SKIP_SPECIAL, out,
                                             sizeof out, &len));
        CHECK_STR(out, "ab ab");
        REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, in, 3, 0, out, sizeof out, &len));
        CHECK_STR(out, "\n<s>\nab ab");
        REQUIRE_OK(ctx, tfm_tokenizer_decode_next(ctx, t, 1, 264, 0, out, sizeof out, &len));
        CHECK_STR(out, "ab");
        REQUIRE_OK(ctx, tfm_tokenizer_decode_next(ctx, t, 264, 264, 0, out, sizeof out, &len));
        CHECK_STR(out, " ab");
        REQUIRE_OK(ctx, tfm_tokenizer_decode_next(ctx, t, 264, 0x0A + 3, 0, out, sizeof out,
                                                  &len));
        CHECK_STR(out, "\n");
    }
    tfm_tokenizer_free(t);
    tfm_tokenizer_free(NULL);
    tfm_ctx_free(ctx);
}

/* The merge loop exactly as run.c writes it: rescan everything per merge. */
static size_t naive_encode(const tfm_tokenizer *t, const char *s, int32_t *out) {
    size_t n = 0, i, len = strlen(s);
    out[n++] = t->space_id;
    for (i = 0; i < len;) {
        size_t l = 1;
        int32_t id;
        while (i + l < len && ((unsigned char)s[i + l] & 0xC0) == 0x80) l++;
        id = tfm__tok_lookup2(t, "", 0, s + i, l);
        if (id >= 0) out[n++] = id;
        else {
            size_t k;
            for (k = 0; k < l; k++) out[n++] = (unsigned char)s[i + k] + 3;
        }
        i += l;
    }
    for (;;) {
        float best = -1e10f;
        int32_t bid = -1;
        size_t bi = 0, k;
        for (k = 0; k + 1 < n; k++) {
            int32_t id = tfm__tok_lookup2(t, tfm__tok_str(t, out[k]), tfm__tok_len(t, out[k]),
                                          tfm__tok_str(t, out[k + 1]),
                                          tfm__tok_len(t, out[k + 1]));
            if (id >= 0 && t->scores[id] > best) {
                best = t->scores[id];
                bid = id;
                bi = k;
            }
        }
        if (bid < 0) break;
        out[bi] = bid;
        memmove(out + bi + 1, out + bi + 2, (n - bi - 2) * sizeof(int32_t));
        n--;
    }
    return n;
}

static void random_text(char *buf, int len, const char *const *alpha, int na) {
    int i;
    buf[0] = 0;
    for (i = 0; i < len; i++) strcat(buf, alpha[(int)((tfmt_randf() + 1.0f) * 0.5f * (float)na) % na]);
}

TEST(tokbin_heap_matches_naive_merge) {
    static const char *const alpha[] = {"a", "b", " ", "\xC3\xA9", "\xC3\xA8", "c"};
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = load_tiny(ctx, NULL);
    char text[256];
    int32_t got[300], want[300];
    int it;
    REQUIRE(t != NULL);
    tfmt_seed(7);
    for (it = 0; it < 300; it++) {
        size_t ng, nw;
        random_text(text, 1 + it % 40, alpha, 6);
        ng = enc(ctx, t, text, 0, got, 300);
        nw = naive_encode(t, text, want);
        if (!same_ids(got, ng, want, nw)) {
            tfmt_fail(__FILE__, __LINE__, "text '%s': %zu ids vs naive %zu", text, ng, nw);
            break;
        }
    }
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(tokbin_size_protocol_and_errors) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_tokenizer *t = load_tiny(ctx, NULL);
    tfm_encode_params p = tfm_encode_params_default();
    int32_t ids[8], types[8], offs[16];
    size_t n = 99, len;
    char small[3];
    REQUIRE(t != NULL);
    /* measure, then too small */
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "ab ab", TFM_STRLEN, NULL, 0, NULL, NULL, NULL,
                                         NULL, 0, &n));
    CHECK_EQ_INT(n, 3);
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "ab ab", TFM_STRLEN, NULL, 0, NULL, ids, NULL,
                                      NULL, 2, &n),
                 TFM_ERR_RANGE);
    CHECK_EQ_INT(n, 3);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "capacity 2");
    /* offsets: " ab" covers bytes [0, 2) (its space is the dummy prefix) */
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "ab ab", 5, NULL, 0, NULL, ids, types, offs, 8,
                                         &n));
    CHECK_EQ_INT(offs[0], -1);
    CHECK_EQ_INT(offs[2], 0);
    CHECK_EQ_INT(offs[3], 2);
    CHECK_EQ_INT(offs[4], 2);
    CHECK_EQ_INT(offs[5], 5);
    CHECK_EQ_INT(types[2], 0);
    /* invalid UTF-8: overlong, surrogate, truncated, past U+10FFFF */
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "ab\xC0\xAF", TFM_STRLEN, NULL, 0, NULL, ids, NULL,
                                      NULL, 8, &n),
                 TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "byte 2");
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "\xED\xA0\x80", TFM_STRLEN, NULL, 0, NULL, ids,
                                      NULL, NULL, 8, &n),
                 TFM_ERR_FORMAT);
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "abc\xE4\xB8", TFM_STRLEN, NULL, 0, NULL, ids,
                                      NULL, NULL, 8, &n),
                 TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "byte 3");
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "\xF4\x90\x80\x80", TFM_STRLEN, NULL, 0, NULL,
                                      ids, NULL, NULL, 8, &n),
                 TFM_ERR_FORMAT);
    /* truncation */
    p.max_length = 2;
    p.truncation = TFM_TRUNCATE_NONE;
    CHECK_STATUS(tfm_tokenizer_encode(ctx, t, "ab ab", TFM_STRLEN, NULL, 0, &p, ids, NULL, NULL,
                                      8, &n),
                 TFM_ERR_RANGE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "max_length 2");
    p.truncation = TFM_TRUNCATE_LONGEST_FIRST;
    REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, "ab ab", TFM_STRLEN, NULL, 0, &p, ids, NULL,
                                         NULL, 8, &n));
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ids[0], 1);
    CHECK_EQ_INT(ids[1], 264);
    /* decode: bad id, buffer protocol */
    {
        const int32_t bad[] = {5, N_TINY};
        CHECK_STATUS(tfm_tokenizer_decode(ctx, t, bad, 2, 0, NULL, 0, &len), TFM_ERR_RANGE);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "position 1");
    }
    {
        const int32_t two[] = {264, 264};
        REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, two, 2, 0, NULL, 0, &len));
        CHECK_EQ_INT(len, 5);
        CHECK_STATUS(tfm_tokenizer_decode(ctx, t, two, 2, 0, small, sizeof small, &len),
                     TFM_ERR_RANGE);
    }
    CHECK_STATUS(tfm_tokenizer_encode(ctx, NULL, "a", 1, NULL, 0, NULL, ids, NULL, NULL, 8, &n),
                 TFM_ERR_INVALID_ARG);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

static tfm_status load_bytes(tfm_ctx *ctx, const unsigned char *data, size_t n,
                             tfm_tokenizer **t) {
    char path[64];
    int fd;
    tfm_status st;
    strcpy(path, "/tmp/tfmt_badtok_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) return TFM_ERR_IO;
    if (n && write(fd, data, n) != (ssize_t)n) {
        close(fd);
        return TFM_ERR_IO;
    }
    close(fd);
    st = tfm_tokenizer_load(ctx, path, NULL, t);
    unlink(path);
    return st;
}

TEST(tokbin_bad_files) {
    tfm_ctx *ctx = tfmt_ctx(1);
    const char *path;
    tfm_tokenizer *t = load_tiny(ctx, &path);
    unsigned char *data;
    size_t size;
    tfm_tokenizer *bad = (tfm_tokenizer *)1;
    REQUIRE(t != NULL);
    tfm_tokenizer_free(t);
    data = (unsigned char *)tfmt_read_file(path, &size);
    unlink(path);
    REQUIRE(data != NULL);
    /* truncated inside record 5's piece */
    CHECK_STATUS(load_bytes(ctx, data, 4 + 13 + 13 + 14 + 14 + 14 + 10, &bad), TFM_ERR_FORMAT);
    CHECK(bad == NULL);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "record 5");
    /* truncated inside a record header */
    CHECK_STATUS(load_bytes(ctx, data, 4 + 13 + 3, &bad), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "record 1: truncated");
    /* lengths that lie */
    {
        unsigned char *copy = (unsigned char *)malloc(size);
        int32_t v = 1000;
        memcpy(copy, data, size);
        memcpy(copy + 4 + 13 + 4, &v, 4);
        CHECK_STATUS(load_bytes(ctx, copy, size, &bad), TFM_ERR_FORMAT);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "record 1: length 1000");
        v = -3;
        memcpy(copy + 4 + 13 + 4, &v, 4);
        CHECK_STATUS(load_bytes(ctx, copy, size, &bad), TFM_ERR_FORMAT);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "record 1: length -3");
        /* the last record runs past the end */
        v = 8;
        memcpy(copy, data, size);
        memcpy(copy + size - 2 - 4, &v, 4);
        CHECK_STATUS(load_bytes(ctx, copy, size, &bad), TFM_ERR_FORMAT);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "past the end");
        v = 0;
        memcpy(copy, &v, 4);
        CHECK_STATUS(load_bytes(ctx, copy, size, &bad), TFM_ERR_FORMAT);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "max_token_length");
        free(copy);
    }
    CHECK_STATUS(load_bytes(ctx, data, 2, &bad), TFM_ERR_FORMAT);
    CHECK_STATUS(load_bytes(ctx, data, 4, &bad), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "no records");
    CHECK_STATUS(tfm_tokenizer_load(ctx, "/nonexistent/tok.bin", NULL, &bad), TFM_ERR_NOT_FOUND);
    CHECK_STATUS(tfm_tokenizer_load(ctx, "/tmp", NULL, &bad), TFM_ERR_NOT_FOUND);
    free(data);
    tfm_ctx_free(ctx);
}

TEST(tokbin_alloc_failures) {
    tfmt_alloc_state st;
    tfm_ctx_params cp = tfm_ctx_params_default();
    const char *path;
    tfm_ctx *ctx0 = tfmt_ctx(1);
    tfm_tokenizer *t0 = load_tiny(ctx0, &path);
    long k;
    REQUIRE(t0 != NULL);
    tfm_tokenizer_free(t0);
    tfm_ctx_free(ctx0);
    for (k = 1; k < 40; k++) {
        tfm_ctx *ctx;
        tfm_tokenizer *t = NULL;
        int32_t ids[32];
        size_t n;
        tfm_status s;
        memset(&st, 0, sizeof st);
        cp.alloc = tfmt_alloc;
        cp.alloc_ud = &st;
        if (tfm_ctx_create(&cp, &ctx) != TFM_OK) continue;
        st.fail_at = st.n_allocs + k;
        s = tfm_tokenizer_load(ctx, path, NULL, &t);
        if (s == TFM_OK)
            s = tfm_tokenizer_encode(ctx, t, "ab ab ba", TFM_STRLEN, NULL, 0, NULL, ids, NULL,
                                     NULL, 32, &n);
        CHECK(s == TFM_OK || s == TFM_ERR_NOMEM);
        tfm_tokenizer_free(t);
        tfm_ctx_free(ctx);
        CHECK_EQ_INT(st.live_blocks, 0);
        if (!st.failed) break;
    }
    unlink(path);
}

// ---- the real stories260K tokenizer --------------------------------------------

TEST(tokbin_stories260k) {
    const char *path = tfmt_shared("models/stories260K/tok512.bin");
    tfm_ctx *ctx;
    tfm_tokenizer *t = NULL;
    int32_t ids[256];
    char out[1024];
    size_t n, len;
    if (!path) SKIP("../shared is absent (models/stories260K/tok512.bin)");
    ctx = tfmt_ctx(1);
    REQUIRE_OK(ctx, tfm_tokenizer_load(ctx, path, NULL, &t));
    CHECK_EQ_INT(tfm_tokenizer_vocab_size(t), 512);
    /* expected ids from run.c's encode(text, bos=1, eos=0) */
    {
        const int32_t zoo[] = {1, 410, 469, 347};
        n = enc(ctx, t, "Zoo", 1, ids, 256);
        CHECK(same_ids(ids, n, zoo, 4));
    }
    {
        const int32_t once[] = {1, 403, 407, 261, 378, 432, 383, 286, 261,
                                376, 298, 315, 421, 395, 317, 426};
        n = enc(ctx, t, "Once upon a time, there was a little girl named Lily.", 1, ids, 256);
        CHECK(same_ids(ids, n, once, 16));
    }
    {
        const int32_t mixed[] = {1, 270, 485, 306, 414, 263, 198, 185, 420, 341, 410,
                                 231, 187, 176, 233, 153, 138, 410, 243, 162, 155, 131};
        n = enc(ctx, t, "h\xC3\xA9llo w\xC3\xB6rld \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80", 1,
                ids, 256);
        CHECK(same_ids(ids, n, mixed, 22));
        REQUIRE_OK(ctx, tfm_tokenizer_decode(ctx, t, ids, n, TFM_DECODE_SKIP_SPECIAL, out,
                                             sizeof out, &len));
        CHECK_STR(out, "h\xC3\xA9llo w\xC3\xB6rld \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80");
    }
    {
        const int32_t sp[] = {1, 410, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419, 13};
        n = enc(ctx, t, "  two  spaces\n", 1, ids, 256);
        CHECK(same_ids(ids, n, sp, 13));
    }
    /* the reference generation round-trips */
    {
        const char *gp = tfmt_shared("models/stories260K/expected_greedy_t0_n256.txt");
        size_t glen;
        char *g = gp ? tfmt_read_file(gp, &glen) : NULL;
        int32_t *gi;
        char *back;
        if (g) {
            gi = (int32_t *)malloc((glen + 2) * sizeof(int32_t));
            back = (char *)malloc(glen + 16);
            REQUIRE_OK(ctx, tfm_tokenizer_encode(ctx, t, g, glen, NULL, 0, NULL, gi, NULL, NULL,
                                                 glen + 2, &n));
            CHECK(n > 10 && n < glen);
            CHECK_OK(ctx, tfm_tokenizer_decode(ctx, t, gi, n, TFM_DECODE_SKIP_SPECIAL, back,
                                               glen + 16, &len));
            CHECK_EQ_INT(len, glen);
            CHECK(memcmp(back, g, glen) == 0);
            free(gi);
            free(back);
            free(g);
        }
    }
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}

TEST(tokbin_long_input_is_fast) {
    const char *path = tfmt_shared("models/stories260K/tok512.bin");
    static const char *const words[] = {"Once ", "upon ", "a ", "time, ", "there ", "was ",
                                        "\xE4\xB8\xAD ", "little ", "girl.\n", "Lily "};
    tfm_ctx *ctx;
    tfm_tokenizer *t = NULL;
    size_t cap = 1 << 20, len = 0, n;
    char *text;
    int32_t *ids;
    clock_t c0;
    double secs;
    int i = 0;
    if (!path) SKIP("../shared is absent (models/stories260K/tok512.bin)");
    ctx = tfmt_ctx(1);
    REQUIRE_OK(ctx, tfm_tokenizer_load(ctx, path, NULL, &t));
    text = (char *)malloc(cap + 16);
    ids = (int32_t *)malloc((cap + 2) * sizeof(int32_t));
    while (len < cap - 16) {
        size_t l = strlen(words[i % 10]);
        memcpy(text + len, words[i % 10], l);
        len += l;
        i = i * 7 + 3;
        i %= 1000003;
    }
    c0 = clock();
    CHECK_OK(ctx, tfm_tokenizer_encode(ctx, t, text, len, NULL, 0, NULL, ids, NULL, NULL,
                                       cap + 2, &n));
    secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    CHECK(secs < 2.0);
    if (tfmt_failed() || getenv("TFMT_VERBOSE")) printf("  1 MB encode: %.3f s\n", secs);
    free(text);
    free(ids);
    tfm_tokenizer_free(t);
    tfm_ctx_free(ctx);
}
