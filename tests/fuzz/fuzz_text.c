/*
 * libFuzzer target: arbitrary bytes through every tokenizer type. Loads once
 * a WordPiece (tests/golden/bert/bert_mlm), a byte-level BPE
 * (tests/golden/gpt2/tiny), a SentencePiece model
 * (tests/golden/marian/marian_spm) and a llama2.c tokenizer.bin written at
 * start (bytes, a few merges); then encodes the input as text with each
 * (with and without special tokens and their strings, alone and as a pair,
 * cut to a length) and decodes what came out, and decodes the input read as
 * ids. Checks: an encoding fails only for invalid UTF-8 (TFM_ERR_FORMAT)
 * and gives ids inside the vocabulary; GPT-2's byte-level BPE gives the
 * input back exactly; ids outside the vocabulary are TFM_ERR_RANGE.
 */
#include "fuzz_util.h"

static tfm_tokenizer *g_tok[4];
static tfm_ctx *g_ctx;

static void put32(FILE *f, int32_t v) { fwrite(&v, 4, 1, f); }
static void putf(FILE *f, float v) { fwrite(&v, 4, 1, f); }
static void piece(FILE *f, float score, const char *s) {
    putf(f, score);
    put32(f, (int32_t)strlen(s));
    fwrite(s, 1, strlen(s), f);
}

// A llama2.c tokenizer: <unk>, <s>, </s>, the 256 byte pieces, letters and
// a few merges with scores.
static void write_tokbin(const char *path) {
    static const char *const merges[] = {"\xE2\x96\x81" "t", "he", "\xE2\x96\x81" "the", "in",
                                         "\xE2\x96\x81" "a", "er", "\xE2\x96\x81", "an"};
    FILE *f = fopen(path, "wb");
    char b[16];
    int i;
    if (!f) abort();
    put32(f, 16);
    piece(f, 0, "<unk>");
    piece(f, 0, "\n<s>\n");
    piece(f, 0, "\n</s>\n");
    for (i = 0; i < 256; i++) {
        snprintf(b, sizeof b, "<0x%02X>", i);
        piece(f, 0, b);
    }
    for (i = 0; i < 26; i++) {
        b[0] = (char)('a' + i);
        b[1] = 0;
        piece(f, -(float)i, b);
    }
    for (i = 0; i < 8; i++) piece(f, -1.0f - (float)i, merges[i]);
    if (fclose(f) != 0) abort();
}

static void init(void) {
    const char *paths[3] = {"golden/bert/bert_mlm", "golden/gpt2/tiny",
                            "golden/marian/marian_spm/source.spm"};
    int i;
    tfm_ctx_params p = tfm_ctx_params_default();
    if (tfm_ctx_create(&p, &g_ctx) != TFM_OK) abort();
    for (i = 0; i < 3; i++)
        if (tfm_tokenizer_load(g_ctx, fz_data(paths[i]), NULL, &g_tok[i]) != TFM_OK) {
            fprintf(stderr, "fuzz_text: %s\n", tfm_ctx_last_error(g_ctx));
            abort();
        }
    write_tokbin(fz_path("tokenizer.bin"));
    if (tfm_tokenizer_load(g_ctx, fz_path("tokenizer.bin"), NULL, &g_tok[3]) != TFM_OK) abort();
}

// 1 when s[0, n) is valid UTF-8 with no NUL byte.
static int utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k, len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                                : (c & 0xF8) == 0xF0 ? 4 : 0;
        uint32_t cp;
        if (c == 0 || len == 0 || i + len > n) return 0;
        cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int32_t ids[1 << 17];
    static char out[1 << 19];
    const char *text = (const char *)data;
    int valid = utf8_ok(data, size), i, round;
    size_t n, len, k;
    if (!g_ctx) init();
    if (size > 16384) return 0;
    for (i = 0; i < 4; i++) {
        const tfm_tokenizer *t = g_tok[i];
        int32_t V = tfm_tokenizer_vocab_size(t);
        for (round = 0; round < 3; round++) {
            tfm_encode_params ep = tfm_encode_params_default();
            tfm_status st;
            ep.add_special = round != 0;
            ep.parse_special = round != 0;
            ep.max_length = round == 2 ? 7 : 0;
            st = tfm_tokenizer_encode(g_ctx, t, text, size, round == 2 ? text : NULL, size / 2,
                                      &ep, ids, NULL, NULL, sizeof ids / sizeof ids[0], &n);
            if (st == TFM_ERR_FORMAT && !valid) continue;
            if (st == TFM_ERR_FORMAT && round == 2 && !utf8_ok(data, size / 2)) continue;
            if (st != TFM_OK) {
                fprintf(stderr, "tokenizer %d: %s\n", i, tfm_ctx_last_error(g_ctx));
                __builtin_trap(); // valid text always encodes
            }
            for (k = 0; k < n; k++)
                if (ids[k] < 0 || ids[k] >= V) __builtin_trap();
            if (tfm_tokenizer_decode(g_ctx, t, ids, n, 0, out, sizeof out, &len) != TFM_OK)
                __builtin_trap();
            // Byte-level BPE is lossless: the text comes back as it was.
            if (i == 1 && round == 0 && (len != size || memcmp(out, data, size) != 0))
                __builtin_trap();
        }
        // The input read as ids: decoded or refused, never read outside.
        n = size / 4;
        memcpy(ids, data, n * 4);
        for (k = 0; k < n && ids[k] >= 0 && ids[k] < V; k++) {}
        if (tfm_tokenizer_decode(g_ctx, t, ids, n, TFM_DECODE_CLEANUP, out, sizeof out, &len) !=
            (k == n ? TFM_OK : TFM_ERR_RANGE))
            __builtin_trap();
    }
    return 0;
}
