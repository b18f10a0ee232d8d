/* Safetensors reader: good files of every dtype, every kind of lie, files on
 * disk (single, folder, sharded with an index), prefixes, allocation failures. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

// ---- building images ------------------------------------------------------------------

// A safetensors image: the header padded with spaces to a multiple of 8 (when
// pad), then `dlen` bytes of data. Free with free().
static unsigned char *image(const char *header, const void *data, size_t dlen, int pad,
                            size_t *len) {
    size_t hl = strlen(header), padded = pad ? (hl + 7) / 8 * 8 : hl, i;
    unsigned char *p = NULL;
    if (posix_memalign((void **)&p, 64, 8 + padded + dlen + 1) != 0) return NULL;
    for (i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(p + 8, header, hl);
    memset(p + 8 + hl, ' ', padded - hl);
    if (dlen) {
        if (data) memcpy(p + 8 + padded, data, dlen);
        else memset(p + 8 + padded, 0, dlen);
    }
    *len = 8 + padded + dlen;
    return p;
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static int write_image(const char *path, const char *header, const void *data, size_t dlen,
                       int pad) {
    size_t n;
    unsigned char *p = image(header, data, dlen, pad, &n);
    int ok = p && write_file(path, p, n);
    free(p);
    return ok;
}

// ---- good files -------------------------------------------------------------------------

TEST(safetensors_every_dtype) {
    // Data layout (byte offsets): f64 [0,16) f32 [16,40) i64 [40,48) i32 [48,56)
    // f16 [56,64) bf16 [64,72) i16 [72,76) i8 [76,79) u8 [79,81) bool [81,83)
    // scalar f32 [84,88) empty [88,88) five-dim [88,96).
    static const char *hdr =
        "{\"__metadata__\": {\"format\": \"pt\", \"note\": \"x\"},"
        " \"f64\": {\"dtype\": \"F64\", \"shape\": [2], \"data_offsets\": [0, 16]},"
        " \"f32\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [16, 40]},"
        " \"i64\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [40, 48]},"
        " \"i32\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [48, 56]},"
        " \"f16\": {\"dtype\": \"F16\", \"shape\": [2, 2], \"data_offsets\": [56, 64]},"
        " \"bf16\": {\"dtype\": \"BF16\", \"shape\": [4], \"data_offsets\": [64, 72]},"
        " \"i16\": {\"dtype\": \"I16\", \"shape\": [2], \"data_offsets\": [72, 76]},"
        " \"i8\": {\"dtype\": \"I8\", \"shape\": [3], \"data_offsets\": [76, 79]},"
        " \"u8\": {\"dtype\": \"U8\", \"shape\": [2, 1], \"data_offsets\": [79, 81]},"
        " \"bool\": {\"dtype\": \"BOOL\", \"shape\": [2], \"data_offsets\": [81, 83]},"
        " \"scalar\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [84, 88]},"
        " \"empty\": {\"dtype\": \"F32\", \"shape\": [0, 3], \"data_offsets\": [88, 88]},"
        " \"five\": {\"dtype\": \"U8\", \"shape\": [1, 2, 1, 2, 2], \"data_offsets\": [88, 96]}}";
    unsigned char data[96];
    double f64[2] = {1.5, -2.25};
    float f32[6] = {1, 2, 3, 4, 5, 6}, sc = 7.5f;
    int64_t i64 = -5;
    int32_t i32[2] = {10, -20};
    uint16_t f16[4], bf16[4];
    int8_t i8[3] = {-1, 2, -3};
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st = NULL;
    tfm_safetensors_info info = tfm_safetensors_info_default();
    tfm_tensor t;
    unsigned char *img;
    size_t n;
    int i;
    for (i = 0; i < 4; i++) {
        f16[i] = tfm_f32_to_f16((float)i + 0.5f);
        bf16[i] = tfm_f32_to_bf16((float)-i);
    }
    memset(data, 0, sizeof data);
    memcpy(data, f64, 16);
    memcpy(data + 16, f32, 24);
    memcpy(data + 40, &i64, 8);
    memcpy(data + 48, i32, 8);
    memcpy(data + 56, f16, 8);
    memcpy(data + 64, bf16, 8);
    memcpy(data + 76, i8, 3);
    data[79] = 200;
    data[80] = 7;
    data[81] = 1;
    memcpy(data + 84, &sc, 4);
    img = image(hdr, data, sizeof data, 1, &n);
    REQUIRE(img);
    REQUIRE_OK(ctx, tfm_safetensors_open_memory(ctx, img, n, "all.safetensors", &st));
    CHECK_EQ_INT(tfm_safetensors_count(st), 13);
    CHECK_STR(tfm_safetensors_name(st, 0), "f64");
    CHECK_STR(tfm_safetensors_name(st, 12), "five");
    CHECK(tfm_safetensors_name(st, 13) == NULL);
    CHECK(tfm_safetensors_name(st, -1) == NULL);
    CHECK_EQ_INT(tfm_safetensors_find(st, "bool"), 9);
    CHECK_EQ_INT(tfm_safetensors_find(st, "nope"), -1);
    CHECK_EQ_INT(tfm_safetensors_find(st, "__metadata__"), -1);

    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "f32", &t));
    CHECK_EQ_INT(t.dtype, TFM_F32);
    CHECK_EQ_INT(t.ndim, 2);
    CHECK_EQ_INT(t.shape[0], 2);
    CHECK_EQ_INT(t.shape[1], 3);
    CHECK_EQ_INT(t.stride[0], 3);
    CHECK_EQ_INT(t.stride[1], 1);
    CHECK(t.data == (void *)(img + n - 96 + 16));
    CHECK(((const float *)t.data)[5] == 6.0f);
    CHECK(t.ctx == NULL && (t.flags & TFM_TENSOR_OWNS_DATA) == 0);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "f64", &t));
    CHECK(t.dtype == TFM_F64 && ((const double *)t.data)[1] == -2.25);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "i64", &t));
    CHECK(t.dtype == TFM_I64 && ((const int64_t *)t.data)[0] == -5);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "i32", &t));
    CHECK(t.dtype == TFM_I32 && ((const int32_t *)t.data)[1] == -20);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "f16", &t));
    CHECK(t.dtype == TFM_F16 && t.shape[1] == 2);
    CHECK(tfm_f16_to_f32(((const uint16_t *)t.data)[3]) == 3.5f);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "bf16", &t));
    CHECK(t.dtype == TFM_BF16 && tfm_bf16_to_f32(((const uint16_t *)t.data)[2]) == -2.0f);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "i8", &t));
    CHECK(t.dtype == TFM_I8 && t.scale == 1.0f && t.scales == NULL);
    CHECK(((const int8_t *)t.data)[2] == -3);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "u8", &t));
    CHECK(t.dtype == TFM_U8 && ((const uint8_t *)t.data)[0] == 200);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "bool", &t));
    CHECK(t.dtype == TFM_U8 && ((const uint8_t *)t.data)[0] == 1);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "scalar", &t));
    CHECK(t.ndim == 1 && t.shape[0] == 1 && ((const float *)t.data)[0] == 7.5f);

    CHECK_STATUS(tfm_safetensors_get(ctx, st, "i16", &t), TFM_ERR_DTYPE);
    CHECK_STR(tfm_ctx_last_error(ctx),
              "safetensors: all.safetensors: tensor 'i16': dtype I16 is not supported");
    CHECK(t.data == NULL);
    CHECK_STATUS(tfm_safetensors_get(ctx, st, "empty", &t), TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tensor 'empty': shape [0, 3] is empty");
    CHECK_STATUS(tfm_safetensors_get(ctx, st, "five", &t), TFM_ERR_SHAPE);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tensor 'five': shape [1, 2, 1, 2, 2] has 5 dimensions");
    CHECK_STATUS(tfm_safetensors_get(ctx, st, "missing", &t), TFM_ERR_NOT_FOUND);
    CHECK_STR(tfm_ctx_last_error(ctx), "safetensors: all.safetensors: no tensor 'missing'");
    CHECK_STATUS(tfm_safetensors_get(ctx, st, NULL, &t), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_safetensors_get(ctx, NULL, "f32", &t), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_safetensors_get(ctx, st, "f32", NULL), TFM_ERR_INVALID_ARG);

    REQUIRE(tfm_safetensors_info_at(st, 6, &info) == TFM_OK);
    CHECK_STR(info.name, "i16");
    CHECK_STR(info.dtype_name, "I16");
    CHECK_EQ_INT(info.dtype, -1);
    CHECK_EQ_INT(info.ndim, 1);
    CHECK_EQ_INT(info.shape[0], 2);
    CHECK_EQ_INT(info.nbytes, 4);
    CHECK(info.data == (const void *)(img + n - 96 + 72));
    CHECK_STR(info.file, "all.safetensors");
    REQUIRE(tfm_safetensors_info_at(st, 9, &info) == TFM_OK);
    CHECK_STR(info.dtype_name, "BOOL");
    CHECK_EQ_INT(info.dtype, TFM_U8);
    REQUIRE(tfm_safetensors_info_at(st, 10, &info) == TFM_OK);
    CHECK_EQ_INT(info.ndim, 0);
    CHECK_STATUS(tfm_safetensors_info_at(st, 13, &info), TFM_ERR_RANGE);
    CHECK_STATUS(tfm_safetensors_info_at(st, -1, &info), TFM_ERR_RANGE);
    CHECK_STATUS(tfm_safetensors_info_at(NULL, 0, &info), TFM_ERR_INVALID_ARG);

    CHECK_EQ_INT(tfm_safetensors_metadata_count(st), 2);
    CHECK_STR(tfm_safetensors_metadata_key(st, 0), "format");
    CHECK(tfm_safetensors_metadata_key(st, 2) == NULL);
    CHECK_STR(tfm_safetensors_metadata_get(st, "format"), "pt");
    CHECK(tfm_safetensors_metadata_get(st, "absent") == NULL);
    tfm_safetensors_close(st);
    tfm_safetensors_close(NULL);
    CHECK_EQ_INT(tfm_safetensors_count(NULL), 0);
    CHECK_EQ_INT(tfm_safetensors_metadata_count(NULL), 0);
    free(img);
    tfm_ctx_free(ctx);
}

TEST(safetensors_empty_header_and_prefixes) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st;
    tfm_tensor t;
    unsigned char *img;
    size_t n;
    float w[2] = {3, 4};
    static const char *const pre[] = {"bert.", ""};
    static const char *const pre2[] = {"model.", "bert."};
    img = image("{}", NULL, 0, 0, &n);
    REQUIRE_OK(ctx, tfm_safetensors_open_memory(ctx, img, n, NULL, &st));
    CHECK_EQ_INT(tfm_safetensors_count(st), 0);
    CHECK_EQ_INT(tfm_safetensors_find(st, "x"), -1);
    CHECK_EQ_INT(tfm_safetensors_metadata_count(st), 0);
    CHECK_STATUS(tfm_safetensors_get(ctx, st, "x", &t), TFM_ERR_NOT_FOUND);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "<memory>: no tensor 'x'");
    tfm_safetensors_close(st);
    free(img);

    img = image("{\"bert.pooler.dense.bias\":{\"dtype\":\"F32\",\"shape\":[2],"
                "\"data_offsets\":[0,8]}}", w, 8, 1, &n);
    REQUIRE_OK(ctx, tfm_safetensors_open_memory(ctx, img, n, "m.safetensors", &st));
    REQUIRE_OK(ctx, tfm_safetensors_get_prefixed(ctx, st, pre, 2, "pooler.dense.bias", &t));
    CHECK(((const float *)t.data)[1] == 4.0f);
    REQUIRE_OK(ctx, tfm_safetensors_get_prefixed(ctx, st, pre, 2, "bert.pooler.dense.bias", &t));
    REQUIRE_OK(ctx, tfm_safetensors_get_prefixed(ctx, st, NULL, 0, "bert.pooler.dense.bias", &t));
    CHECK_STATUS(tfm_safetensors_get_prefixed(ctx, st, pre2, 2, "pooler.x", &t), TFM_ERR_NOT_FOUND);
    CHECK_STR(tfm_ctx_last_error(ctx),
              "safetensors: m.safetensors: no tensor 'pooler.x' (tried 'model.pooler.x', "
              "'bert.pooler.x')");
    CHECK(t.data == NULL);
    CHECK_STATUS(tfm_safetensors_get_prefixed(ctx, st, NULL, 2, "x", &t), TFM_ERR_INVALID_ARG);
    tfm_safetensors_close(st);
    free(img);
    tfm_ctx_free(ctx);
}

// ---- lies -------------------------------------------------------------------------------

typedef struct lie {
    const char *header;
    size_t dlen;
    tfm_status status;
    const char *msg;
} lie;

#define T1(dt, shape, offs) \
    "{\"w\": {\"dtype\": " dt ", \"shape\": " shape ", \"data_offsets\": " offs "}}"

TEST(safetensors_rejects_every_lie) {
    static const lie lies[] = {
        {"[1, 2]", 0, TFM_ERR_FORMAT, "lie.safetensors: header is a JSON array, not an object"},
        {"{\"w\": 1", 0, TFM_ERR_FORMAT, "lie.safetensors: header is not valid JSON: line 1, column 9 (byte 8): expected ',' or '}' in object"},
        {"", 0, TFM_ERR_FORMAT, "header is not valid JSON"},
        {"{\"w\": [1]}", 0, TFM_ERR_FORMAT, "tensor 'w': entry is array, not an object"},
        {"{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, TFM_ERR_FORMAT, "tensor 'w': missing dtype"},
        {T1("4", "[1]", "[0, 4]"), 4, TFM_ERR_FORMAT, "tensor 'w': dtype is number, not a string"},
        {T1("\"F33\"", "[1]", "[0, 4]"), 4, TFM_ERR_FORMAT, "tensor 'w': invalid dtype 'F33'"},
        {T1("\"f32\"", "[1]", "[0, 4]"), 4, TFM_ERR_FORMAT, "invalid dtype 'f32'"},
        {"{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, TFM_ERR_FORMAT, "tensor 'w': missing shape"},
        {T1("\"F32\"", "4", "[0, 4]"), 4, TFM_ERR_FORMAT, "tensor 'w': shape is number, not an array"},
        {T1("\"F32\"", "[-1]", "[0, 4]"), 4, TFM_ERR_FORMAT, "shape dimension 0 is not a non-negative integer"},
        {T1("\"F32\"", "[1, 1.5]", "[0, 4]"), 4, TFM_ERR_FORMAT, "shape dimension 1 is not"},
        {T1("\"F32\"", "[\"1\"]", "[0, 4]"), 4, TFM_ERR_FORMAT, "shape dimension 0 is not"},
        {T1("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0, 4]"), 4, TFM_ERR_FORMAT, "absurd shape: 9 dimensions (at most 8)"},
        {T1("\"F32\"", "[4611686018427387904]", "[0, 4]"), 4, TFM_ERR_FORMAT, "absurd shape [4611686018427387904]: byte count overflows"},
        {T1("\"F32\"", "[4294967296, 4294967296, 4294967296]", "[0, 4]"), 4, TFM_ERR_FORMAT, "element count overflows"},
        {T1("\"F32\"", "[9223372036854775807]", "[0, 4]"), 4, TFM_ERR_FORMAT, "byte count overflows"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, TFM_ERR_FORMAT, "tensor 'w': missing data_offsets"},
        {T1("\"F32\"", "[1]", "[0, 4, 8]"), 8, TFM_ERR_FORMAT, "tensor 'w': data_offsets must be two non-negative integers"},
        {T1("\"F32\"", "[1]", "[-4, 0]"), 8, TFM_ERR_FORMAT, "data_offsets must be two"},
        {T1("\"F32\"", "[1]", "[0.5, 4]"), 8, TFM_ERR_FORMAT, "data_offsets must be two"},
        {T1("\"F32\"", "[1]", "{}"), 8, TFM_ERR_FORMAT, "data_offsets must be two"},
        {T1("\"F32\"", "[1]", "[8, 4]"), 8, TFM_ERR_FORMAT, "data_offsets [8, 4] end before they begin"},
        {T1("\"F32\"", "[2]", "[0, 8]"), 4, TFM_ERR_FORMAT, "tensor 'w': data offset 8 past end of data (4 bytes)"},
        {T1("\"F32\"", "[2]", "[0, 18446744073709551615]"), 4, TFM_ERR_FORMAT, "data_offsets must be two"},
        {T1("\"F32\"", "[3]", "[0, 8]"), 8, TFM_ERR_FORMAT, "tensor 'w': 8 bytes of data, but shape [3] of F32 needs 12"},
        {T1("\"BF16\"", "[2, 2]", "[0, 4]"), 8, TFM_ERR_FORMAT, "4 bytes of data, but shape [2, 2] of BF16 needs 8"},
        {"{\"encoder.layer.3.attention.self.query.weight\": {\"dtype\": \"F32\", \"shape\": [16, 57],"
         " \"data_offsets\": [0, 912]}}", 640, TFM_ERR_FORMAT,
         "safetensors: lie.safetensors: tensor 'encoder.layer.3.attention.self.query.weight': "
         "data offset 912 past end of data (640 bytes)"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
         " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12, TFM_ERR_FORMAT,
         "lie.safetensors: tensors 'a' [0, 8) and 'b' [4, 12) overlap"},
        {"{\"a\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]},"
         " \"b\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [2, 4]}}", 8, TFM_ERR_FORMAT,
         "tensors 'a' [0, 8) and 'b' [2, 4) overlap"},
        {"{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]},"
         " \"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [4, 8]}}", 8, TFM_ERR_FORMAT,
         "lie.safetensors: duplicate tensor name 'a'"},
        {"{\"__metadata__\": [1]}", 0, TFM_ERR_FORMAT, "__metadata__ is array, not an object"},
        {"{\"__metadata__\": {\"format\": 1}}", 0, TFM_ERR_FORMAT, "__metadata__ 'format' is number, not a string"},
        {"{\"__metadata__\": {}, \"__metadata__\": {}}", 0, TFM_ERR_FORMAT, "duplicate __metadata__"},
        {"{\"\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1, TFM_ERR_FORMAT, "empty tensor name"},
        {"{\"a\\u0000b\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1, TFM_ERR_FORMAT, "NUL character"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}}", 0, TFM_ERR_FORMAT, "header is not valid JSON: nesting depth"},
    };
    tfm_ctx *ctx = tfmt_ctx(1);
    size_t i;
    for (i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        size_t n;
        unsigned char *img = image(lies[i].header, NULL, lies[i].dlen, 1, &n);
        tfm_safetensors *st = (tfm_safetensors *)1;
        tfm_status s = tfm_safetensors_open_memory(ctx, img, n, "lie.safetensors", &st);
        if (s != lies[i].status)
            tfmt_fail(__FILE__, __LINE__, "lie %zu (%s): %s, expected %s: %s", i,
                      lies[i].header, tfm_status_str(s), tfm_status_str(lies[i].status),
                      tfm_ctx_last_error(ctx));
        CHECK(st == NULL);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), lies[i].msg);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "safetensors: lie.safetensors: ");
        free(img);
    }
    tfm_ctx_free(ctx);
}

TEST(safetensors_rejects_bad_lengths) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st;
    unsigned char b[32];
    memset(b, 0, sizeof b);
    CHECK_STATUS(tfm_safetensors_open_memory(ctx, b, 5, "x", &st), TFM_ERR_FORMAT);
    CHECK_STR(tfm_ctx_last_error(ctx),
              "safetensors: x: file is 5 bytes, too short for the 8-byte header length");
    CHECK_STATUS(tfm_safetensors_open_memory(ctx, NULL, 0, "x", &st), TFM_ERR_FORMAT);
    b[0] = 30; // 30 bytes of header in a 32-byte file
    CHECK_STATUS(tfm_safetensors_open_memory(ctx, b, 32, "x", &st), TFM_ERR_FORMAT);
    CHECK_STR(tfm_ctx_last_error(ctx),
              "safetensors: x: header length 30 past the end of the file (32 bytes)");
    memset(b, 0xff, 8);
    CHECK_STATUS(tfm_safetensors_open_memory(ctx, b, 32, "x", &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "header length 18446744073709551615 past the end");
    memset(b, 0, 8);
    CHECK_STATUS(tfm_safetensors_open_memory(ctx, b, 8, "x", &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "header is not valid JSON");
    CHECK_STATUS(tfm_safetensors_open_memory(ctx, NULL, 3, "x", &st), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_safetensors_open_memory(ctx, b, 8, "x", NULL), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_safetensors_open_memory(NULL, b, 8, "x", &st), TFM_ERR_INVALID_ARG);
    CHECK_STATUS(tfm_safetensors_open(ctx, NULL, &st), TFM_ERR_INVALID_ARG);
    tfm_ctx_free(ctx);
}

TEST(safetensors_misaligned_memory_refused_on_get) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st;
    tfm_tensor t;
    size_t n;
    float w[2] = {1, 2};
    // Unpadded header of 61 bytes: the data section starts at byte 69.
    unsigned char *img = image(T1("\"F32\"", "[2]", "[0, 8]") "  ", w, 8, 0, &n);
    REQUIRE_OK(ctx, tfm_safetensors_open_memory(ctx, img, n, "odd", &st));
    CHECK_STATUS(tfm_safetensors_get(ctx, st, "w", &t), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tensor 'w': data at offset 0 is not aligned to 4 bytes");
    tfm_safetensors_close(st);
    free(img);
    tfm_ctx_free(ctx);
}

// ---- files on disk ------------------------------------------------------------------------

typedef struct tmpdir {
    char path[64];
    char files[8][160];
    int n;
} tmpdir;

static const char *tmp_file(tmpdir *d, const char *name) {
    char *out = d->files[d->n++];
    size_t a = strlen(d->path), b = strlen(name);
    if (a + b + 2 > sizeof d->files[0]) b = sizeof d->files[0] - a - 2;
    memcpy(out, d->path, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b);
    out[a + 1 + b] = '\0';
    return out;
}

static void tmp_clean(tmpdir *d) {
    int i;
    for (i = 0; i < d->n; i++) unlink(d->files[i]);
    rmdir(d->path);
}

TEST(safetensors_file_and_folder) {
    tmpdir d;
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st;
    tfm_safetensors_info info = tfm_safetensors_info_default();
    tfm_tensor t;
    float w[6] = {1, 2, 3, 4, 5, 6};
    const char *f;
    memset(&d, 0, sizeof d);
    strcpy(d.path, "/tmp/tfm_st_XXXXXX");
    REQUIRE(mkdtemp(d.path));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_NOT_FOUND);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "no model.safetensors or model.safetensors.index.json");
    f = tmp_file(&d, "model.safetensors");
    REQUIRE(write_image(f, "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\","
                           "\"shape\":[2,3],\"data_offsets\":[0,24]}}", w, 24, 1));
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, f, &st));
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "w", &t));
    CHECK(((const float *)t.data)[4] == 5.0f);
    CHECK_STR(tfm_safetensors_metadata_get(st, "format"), "pt");
    REQUIRE(tfm_safetensors_info_at(st, 0, &info) == TFM_OK);
    CHECK_STR(info.file, f);
    tfm_safetensors_close(st);
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, d.path, &st)); // the folder
    CHECK_EQ_INT(tfm_safetensors_count(st), 1);
    tfm_safetensors_close(st);

    // An unpadded header leaves the data misaligned: the reader realigns it.
    f = tmp_file(&d, "odd.safetensors");
    REQUIRE(write_image(f, T1("\"F32\"", "[6]", "[0, 24]") " ", w, 24, 0));
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, f, &st));
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "w", &t));
    CHECK(((uintptr_t)t.data) % 4 == 0);
    CHECK(((const float *)t.data)[5] == 6.0f);
    tfm_safetensors_close(st);

    // Lies on disk name the path.
    f = tmp_file(&d, "bad.safetensors");
    REQUIRE(write_image(f, T1("\"F32\"", "[7]", "[0, 24]"), w, 24, 1));
    CHECK_STATUS(tfm_safetensors_open(ctx, f, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), f);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tensor 'w': 24 bytes of data, but shape [7] of F32 needs 28");
    CHECK(st == NULL);
    f = tmp_file(&d, "tiny.safetensors");
    REQUIRE(write_file(f, "abc", 3));
    CHECK_STATUS(tfm_safetensors_open(ctx, f, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "file is 3 bytes");
    f = tmp_file(&d, "zero.safetensors");
    REQUIRE(write_file(f, "", 0));
    CHECK_STATUS(tfm_safetensors_open(ctx, f, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "file is 0 bytes");
    CHECK_STATUS(tfm_safetensors_open(ctx, "/nonexistent/m.safetensors", &st), TFM_ERR_NOT_FOUND);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "/nonexistent/m.safetensors: cannot open");
    tmp_clean(&d);
    tfm_ctx_free(ctx);
}

static const char *k_shard1 =
    "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"a.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
static const char *k_shard2 =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"b.weight\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";

static int write_index(const char *path, const char *weight_map) {
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"metadata\": {\"total_size\": 16}, \"weight_map\": %s}",
             weight_map);
    return write_file(path, buf, strlen(buf));
}

TEST(safetensors_sharded_index) {
    tmpdir d;
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st;
    tfm_tensor t;
    float w[3] = {1, 2, 3};
    uint16_t h[2];
    const char *idx, *s1, *s2;
    memset(&d, 0, sizeof d);
    strcpy(d.path, "/tmp/tfm_st_XXXXXX");
    REQUIRE(mkdtemp(d.path));
    h[0] = tfm_f32_to_f16(0.5f);
    h[1] = tfm_f32_to_f16(-1.0f);
    s1 = tmp_file(&d, "model-00001-of-00002.safetensors");
    s2 = tmp_file(&d, "model-00002-of-00002.safetensors");
    idx = tmp_file(&d, "model.safetensors.index.json");
    REQUIRE(write_image(s1, k_shard1, w, 12, 1));
    REQUIRE(write_image(s2, k_shard2, h, 4, 1));
    REQUIRE(write_index(idx, "{\"b.weight\": \"model-00002-of-00002.safetensors\","
                             " \"a.weight\": \"model-00001-of-00002.safetensors\","
                             " \"a.bias\": \"model-00001-of-00002.safetensors\"}"));
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, d.path, &st));
    CHECK_EQ_INT(tfm_safetensors_count(st), 3);
    CHECK_STR(tfm_safetensors_name(st, 0), "a.weight"); // shards in name order
    CHECK_STR(tfm_safetensors_name(st, 2), "b.weight");
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "a.bias", &t));
    CHECK(((const float *)t.data)[0] == 3.0f);
    REQUIRE_OK(ctx, tfm_safetensors_get(ctx, st, "b.weight", &t));
    CHECK(t.dtype == TFM_F16 && tfm_f16_to_f32(((const uint16_t *)t.data)[1]) == -1.0f);
    CHECK_EQ_INT(tfm_safetensors_metadata_count(st), 0); // first shard has none
    tfm_safetensors_close(st);
    REQUIRE_OK(ctx, tfm_safetensors_open(ctx, idx, &st)); // the index itself
    CHECK_EQ_INT(tfm_safetensors_count(st), 3);
    tfm_safetensors_close(st);

    // The index names the wrong shard.
    REQUIRE(write_index(idx, "{\"b.weight\": \"model-00001-of-00002.safetensors\","
                             " \"a.weight\": \"model-00002-of-00002.safetensors\"}"));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "is listed in model-00001-of-00002.safetensors but found in");
    // A tensor that no shard has.
    REQUIRE(write_index(idx, "{\"c\": \"model-00001-of-00002.safetensors\"}"));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tensor 'c' is listed in model-00001-of-00002.safetensors but absent");
    // Paths out of the folder are refused.
    REQUIRE(write_index(idx, "{\"a.weight\": \"../model-00001-of-00002.safetensors\"}"));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "weight_map 'a.weight': the value is not a plain file name");
    REQUIRE(write_index(idx, "{\"a.weight\": 3}"));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_FORMAT);
    REQUIRE(write_index(idx, "[]"));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "weight_map is array, not an object");
    // A missing shard.
    REQUIRE(write_index(idx, "{\"a.weight\": \"model-00003-of-00003.safetensors\"}"));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_NOT_FOUND);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model-00003-of-00003.safetensors: cannot open");
    // The same tensor in two shards.
    REQUIRE(write_image(s2, k_shard1, w, 12, 1));
    REQUIRE(write_index(idx, "{\"a.weight\": \"model-00001-of-00002.safetensors\","
                             " \"a.bias\": \"model-00002-of-00002.safetensors\"}"));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "tensor 'a.weight' is in both");
    // Malformed index JSON.
    REQUIRE(write_file(idx, "{\"weight_map\": {", 16));
    CHECK_STATUS(tfm_safetensors_open(ctx, d.path, &st), TFM_ERR_FORMAT);
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "safetensors: index: json: ");
    CHECK_CONTAINS(tfm_ctx_last_error(ctx), "model.safetensors.index.json: line 1");
    tmp_clean(&d);
    tfm_ctx_free(ctx);
}

// ---- allocation failures ------------------------------------------------------------------

typedef struct oom_arg {
    const unsigned char *img;
    size_t n;
    const char *path;
} oom_arg;

static tfm_status st_oom_scenario(const tfm_ctx_params *params, void *arg) {
    const oom_arg *a = (const oom_arg *)arg;
    tfm_ctx *ctx;
    tfm_safetensors *st = NULL;
    tfm_tensor t;
    tfm_status rc = tfm_ctx_create(params, &ctx);
    if (rc != TFM_OK) return rc;
    if (a->path)
        rc = tfm_safetensors_open(ctx, a->path, &st);
    else
        rc = tfm_safetensors_open_memory(ctx, a->img, a->n, "oom", &st);
    if (rc == TFM_OK) rc = tfm_safetensors_get(ctx, st, "a.bias", &t);
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
    return rc;
}

TEST(safetensors_allocation_failures) {
    tmpdir d;
    oom_arg a;
    float w[3] = {1, 2, 3};
    uint16_t h[2] = {0, 0};
    unsigned char *img = image(k_shard1, w, 12, 1, &a.n);
    a.img = img;
    a.path = NULL;
    CHECK(OOM_WALK(st_oom_scenario, &a) > 2);
    free(img);
    memset(&d, 0, sizeof d);
    strcpy(d.path, "/tmp/tfm_st_XXXXXX");
    REQUIRE(mkdtemp(d.path));
    REQUIRE(write_image(tmp_file(&d, "model-00001-of-00002.safetensors"), k_shard1, w, 12, 1));
    REQUIRE(write_image(tmp_file(&d, "model-00002-of-00002.safetensors"), k_shard2, h, 4, 1));
    REQUIRE(write_index(tmp_file(&d, "model.safetensors.index.json"),
                        "{\"b.weight\": \"model-00002-of-00002.safetensors\","
                        " \"a.bias\": \"model-00001-of-00002.safetensors\"}"));
    a.path = d.path;
    CHECK(OOM_WALK(st_oom_scenario, &a) > 5);
    tmp_clean(&d);
}
