/*
 * Helpers of the fuzz targets that read files: a scratch folder per process
 * (under /dev/shm where it exists), files written into it, a ctx whose
 * max_memory keeps a fuzzed size from reaching the sanitizer's allocator,
 * and the check every failing call must pass (a message, *out left NULL).
 * The folder's files (the names fz_cleanup lists) are removed at exit.
 * fz_folder_run is the whole of the two folder targets (config, folder).
 * Test data (tests/golden) is found from TFM_TEST_DATA, else "tests" under
 * the working folder (make fuzz and the replay run from the repository).
 */
#ifndef TFM_FUZZ_UTIL_H
#define TFM_FUZZ_UTIL_H

#define _POSIX_C_SOURCE 200809L
#include "transformer.h"
#include "model_step.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fz_dir_buf[128];

// Removes the scratch folder and what the target wrote in it (at exit).
static inline void fz_cleanup(void) {
    static const char *const names[] = {"tokenizer.bin", "vocab.txt", "tokenizer_config.json",
                                        "vocab.json", "merges.txt", "model.bin",
                                        "config.json", "model.safetensors"};
    char p[512];
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", fz_dir_buf, names[i]);
        unlink(p);
    }
    rmdir(fz_dir_buf);
}

// The scratch folder, made at the first call.
static inline const char *fz_dir(void) {
    if (!fz_dir_buf[0]) {
        struct stat sb;
        const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(fz_dir_buf, sizeof fz_dir_buf, "%s/tfm_fuzz_%d", base, (int)getpid());
        mkdir(fz_dir_buf, 0700);
        atexit(fz_cleanup);
    }
    return fz_dir_buf;
}

// dir/name in a static buffer (one of 4, so a few can be held at once).
static inline const char *fz_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", fz_dir(), name);
    return buf[k];
}

// Writes n bytes to dir/name; 0 on failure.
static inline int fz_write(const char *name, const void *data, size_t n) {
    FILE *f = fopen(fz_path(name), "wb");
    int ok;
    if (!f) return 0;
    ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

// A file of the test data (tests/<rel>) in a static buffer.
static inline const char *fz_data(const char *rel) {
    static char buf[2][1024];
    static int k;
    const char *base = getenv("TFM_TEST_DATA");
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", base && *base ? base : "tests", rel);
    return buf[k];
}

// Links dir/name to the test-data file rel (replacing what was there).
static inline void fz_link(const char *name, const char *rel) {
    char target[1024];
    if (fz_data(rel)[0] == '/') snprintf(target, sizeof target, "%s", fz_data(rel));
    else if (!getcwd(target, sizeof target - 600)) return;
    else snprintf(target + strlen(target), 600, "/%s", fz_data(rel));
    unlink(fz_path(name));
    if (symlink(target, fz_path(name)) != 0) abort();
}

// A ctx that allocates at most 256 MB.
static inline tfm_ctx *fz_ctx(void) {
    tfm_ctx_params p = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    p.max_memory = (size_t)256 << 20;
    if (tfm_ctx_create(&p, &ctx) != TFM_OK) abort();
    return ctx;
}

// A failed call: its message is not empty and its object pointer is NULL.
static inline void fz_failed(tfm_ctx *ctx, const void *out) {
    if (tfm_ctx_last_error(ctx)[0] == 0) __builtin_trap();
    if (out) __builtin_trap();
}

// Splits data at its first NUL byte: [data, a_len) and the rest after it
// (b NULL and b_len 0 when there is no NUL).
static inline void fz_split(const uint8_t *data, size_t size, size_t *a_len, const uint8_t **b,
                     size_t *b_len) {
    const uint8_t *z = (const uint8_t *)memchr(data, 0, size);
    *a_len = z ? (size_t)(z - data) : size;
    *b = z ? z + 1 : NULL;
    *b_len = z ? size - *a_len - 1 : 0;
}

// Encodes a few texts with t and decodes the ids, every id of the first
// 512 (whole and streamed) and ids outside the vocabulary: each call
// succeeds or fails with a message; a read past a table shows under ASan.
static inline void fz_exercise_tokenizer(tfm_ctx *ctx, const tfm_tokenizer *t) {
    static const char *const texts[] = {
        "Hello, world! It's 2024.", "  a  b\t\nc  ", "\xEF\xBC\xA1\xEF\xAC\x81 \xE2\x91\xA0",
        "\xF0\x9F\x98\x80 [MASK] <s> </s> <|endoftext|> <unk>", "caf\xC3\xA9 na\xC3\xAFve", "",
        " ", "\xE2\x96\x81x\xE2\x96\x81"};
    int32_t ids[600];
    char out[8192];
    size_t i, n, len;
    int32_t V = tfm_tokenizer_vocab_size(t);
    tfm_encode_params ep = tfm_encode_params_default();
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ep.add_special = (int32_t)(i & 1);
        ep.max_length = i == 3 ? 4 : 0;
        if (tfm_tokenizer_encode(ctx, t, texts[i], TFM_STRLEN, i == 2 ? texts[0] : NULL,
                                 TFM_STRLEN, &ep, ids, NULL, NULL, 600, &n) != TFM_OK) {
            fz_failed(ctx, NULL);
            continue;
        }
        for (len = 0; len < n; len++)
            if (ids[len] < 0 || ids[len] >= V) __builtin_trap();
        tfm_tokenizer_decode(ctx, t, ids, n, TFM_DECODE_CLEANUP, out, sizeof out, &len);
    }
    n = V > 512 ? 512 : (size_t)V;
    for (i = 0; i < n; i++) {
        ids[i] = (int32_t)i;
        tfm_tokenizer_decode_next(ctx, t, i ? (int32_t)i - 1 : -1, (int32_t)i,
                                  TFM_DECODE_SKIP_SPECIAL, out, sizeof out, &len);
        if (tfm_tokenizer_id_to_token(t, (int32_t)i, &len) == NULL) __builtin_trap();
    }
    tfm_tokenizer_decode(ctx, t, ids, n, 0, out, sizeof out, &len);
    ids[0] = V;
    ids[1] = -1;
    if (tfm_tokenizer_decode(ctx, t, ids, 2, 0, out, sizeof out, &len) != TFM_ERR_RANGE)
        __builtin_trap();
}

// The folder targets: data[0] picks an HF-folder case of model_step.h,
// whose file `fixed` is linked unchanged beside `fuzzed`, written from the
// rest of the input; the folder is loaded in the format `weights` gives
// for the case (-1: the case's own) and, when it loads, one step runs.
static inline void fz_folder_run(const uint8_t *data, size_t size, const char *fixed,
                                 const char *fuzzed, int32_t (*weights)(const uint8_t *, int)) {
    static const tfmt_arch_case *linked;
    const tfmt_arch_case *c;
    tfm_ctx *ctx;
    tfm_model *m = NULL;
    tfm_model_params mp = tfm_model_params_default();
    char rel[512];
    int n;
    if (size < 1) return;
    c = tfmt_folder_case(data[0], &n);
    if (linked != c) {
        snprintf(rel, sizeof rel, "%s/%s", c->path, fixed);
        fz_link(fixed, rel);
        linked = c;
    }
    if (!fz_write(fuzzed, data + 1, size - 1)) abort();
    ctx = fz_ctx();
    mp.no_tokenizer = 1;
    mp.weights = weights ? weights(data, n) : c->weights;
    if (tfm_model_load(ctx, fz_dir(), &mp, &m) != TFM_OK) fz_failed(ctx, m);
    else if (tfmt_model_step(ctx, m) != TFM_OK) fz_failed(ctx, NULL);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}

#endif /* TFM_FUZZ_UTIL_H */
