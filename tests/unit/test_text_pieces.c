/* Maps of pieces to ids from a vocab.json (src/text/pieces.c): lookups both
 * ways, the first piece of an id winning, Marian's decoding, the load
 * errors, and allocation failures. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "text/pieces.h"

#include <stdlib.h>
#include <unistd.h>

// Writes `text` to a new temporary file whose name goes into path.
static int write_tmp(char *path, const char *text) {
    int fd;
    strcpy(path, "/tmp/tfmt_pieces_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) return 0;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    return 1;
}

// ids: 0 </s>, 1 <unk>, 2 "\u2581Das", 3 "\u2581Haus", 4 ".", 5 "ist", 6 pad; 7 has no piece
static const char *VOCAB =
    "{\"</s>\": 0, \"<unk>\": 1, \"\\u2581Das\": 2, \"\\u2581Haus\": 3, \".\": 4, "
    "\"ist\": 5, \"<pad>\": 6, \"dup\": 4}";

TEST(pieces_find_and_get) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__pieces *p = NULL;
    char path[64];
    REQUIRE(write_tmp(path, VOCAB));
    REQUIRE_OK(ctx, tfm__pieces_load(ctx, path, 8, "test", &p));
    CHECK_EQ_INT(tfm__pieces_find(p, "<unk>", 5), 1);
    CHECK_EQ_INT(tfm__pieces_find(p, "\xE2\x96\x81Haus", 7), 3);
    CHECK_EQ_INT(tfm__pieces_find(p, "ist.", 3), 5); // the length counts, not a NUL
    CHECK_EQ_INT(tfm__pieces_find(p, "is", 2), -1);
    CHECK_EQ_INT(tfm__pieces_find(p, "dup", 3), -1); // id 4 keeps its first piece
    CHECK_STR(tfm__pieces_get(p, 4), ".");
    CHECK_STR(tfm__pieces_get(p, 0), "</s>");
    CHECK(tfm__pieces_get(p, 7) == NULL);
    CHECK(tfm__pieces_get(p, 8) == NULL);
    CHECK(tfm__pieces_get(p, -1) == NULL);
    tfm__pieces_free(p);
    tfm__pieces_free(NULL);
    unlink(path);
    tfm_ctx_free(ctx);
}

TEST(pieces_decode_as_marian) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__pieces *p = NULL;
    char path[64], *text = NULL;
    // pad, a piece, unk, an id without a piece, ids outside, eos
    int32_t ids[10] = {6, 2, 3, 1, 5, 7, 4, 9, -2, 0};
    int32_t lone[2] = {4, 0};
    REQUIRE(write_tmp(path, VOCAB));
    REQUIRE_OK(ctx, tfm__pieces_load(ctx, path, 8, "test", &p));
    REQUIRE_OK(ctx, tfm__pieces_decode(ctx, p, ids, 10, 6, 0, 1, "test", &text));
    CHECK_STR(text, "Das Hausist.");
    if (text) tfm__free(ctx, text, strlen(text) + 1);
    // unk shown when it is not passed as special; nothing at all is ""
    REQUIRE_OK(ctx, tfm__pieces_decode(ctx, p, ids, 4, 6, 0, -1, "test", &text));
    CHECK_STR(text, "Das Haus<unk>");
    if (text) tfm__free(ctx, text, strlen(text) + 1);
    REQUIRE_OK(ctx, tfm__pieces_decode(ctx, p, lone, 1, 6, 0, 1, "test", &text));
    CHECK_STR(text, ".");
    if (text) tfm__free(ctx, text, strlen(text) + 1);
    REQUIRE_OK(ctx, tfm__pieces_decode(ctx, p, lone + 1, 1, 6, 0, 1, "test", &text));
    CHECK_STR(text, "");
    if (text) tfm__free(ctx, text, strlen(text) + 1);
    tfm__pieces_free(p);
    unlink(path);
    tfm_ctx_free(ctx);
}

TEST(pieces_load_errors) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm__pieces *p = NULL;
    char path[64];
    REQUIRE(write_tmp(path, "[\"a\", \"b\"]"));
    CHECK_STATUS(tfm__pieces_load(ctx, path, 4, "model_load", &p), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model_load: ");
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), ": not a JSON object");
    CHECK(p == NULL);
    unlink(path);
    REQUIRE(write_tmp(path, "{\"a\": 0, \"b\": 4}"));
    CHECK_STATUS(tfm__pieces_load(ctx, path, 4, "model_load", &p), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "piece 'b' has an id outside the vocabulary of 4");
    CHECK(p == NULL);
    unlink(path);
    REQUIRE(write_tmp(path, "{\"a\": 0, \"b\": 1.5}"));
    CHECK_STATUS(tfm__pieces_load(ctx, path, 4, "model_load", &p), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "piece 'b' has an id outside");
    unlink(path);
    REQUIRE(write_tmp(path, "{\"a\": 0,"));
    CHECK_STATUS(tfm__pieces_load(ctx, path, 4, "model_load", &p), TFM_ERR_FORMAT);
    CHECK(p == NULL);
    unlink(path);
    CHECK_STATUS(tfm__pieces_load(ctx, "/nonexistent/vocab.json", 4, "model_load", &p),
                 TFM_ERR_NOT_FOUND);
    CHECK(p == NULL);
    tfm_ctx_free(ctx);
}

static tfm_status pieces_oom_scenario(const tfm_ctx_params *params, void *arg) {
    tfm_ctx *ctx = NULL;
    tfm__pieces *p = NULL;
    int32_t ids[4] = {2, 3, 7, 4};
    char *text = NULL;
    tfm_status st;
    if ((st = tfm_ctx_create(params, &ctx))) return st;
    st = tfm__pieces_load(ctx, (const char *)arg, 8, "test", &p);
    // the decoded text is shorter than its pieces: the exact-size copy too
    if (!st) st = tfm__pieces_decode(ctx, p, ids, 4, 6, 0, 1, "test", &text);
    if (text) tfm__free(ctx, text, strlen(text) + 1);
    tfm__pieces_free(p);
    tfm_ctx_free(ctx);
    return st;
}

TEST(pieces_oom) {
    char path[64];
    REQUIRE(write_tmp(path, VOCAB));
    CHECK(OOM_WALK(pieces_oom_scenario, path) >= 6);
    unlink(path);
}
