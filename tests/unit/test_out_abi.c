/*
 * Output structs across library versions: the structs the library fills
 * for the caller (tfm_safetensors_info, tfm_gen_stats) are written only up
 * to the struct_size the caller set, so a caller built against an older,
 * smaller struct is never overrun; a struct_size that cannot hold the field
 * itself is refused and nothing is written.
 */
#include "../harness.h"

#include <stddef.h>

#define GUARD 32
#define FILL 0xA5

/* All bytes of b[from, to) still FILL. */
static int untouched(const unsigned char *b, size_t from, size_t to) {
    size_t i;
    for (i = from; i < to; i++)
        if (b[i] != FILL) return 0;
    return 1;
}

static size_t size_field(const void *p) {
    size_t n;
    memcpy(&n, p, sizeof n);
    return n;
}

/* tfm_X_init(p, k): zeroes the first min(k, sizeof) bytes, sets struct_size
 * to that, zeroes up to k past sizeof, and writes nothing for k too small. */
#define CHECK_OUT_INIT(T)                                                       \
    do {                                                                        \
        union { T t; unsigned char b[sizeof(T) + GUARD]; } u;                  \
        size_t ks[5], ki;                                                       \
        T d = T##_default();                                                    \
        CHECK(d.struct_size == sizeof(T));                                     \
        T##_init(NULL, sizeof(T));                                              \
        ks[0] = 0; ks[1] = sizeof(size_t) - 1; ks[2] = sizeof(size_t);          \
        ks[3] = sizeof(T) - 1; ks[4] = sizeof(T) + GUARD / 2;                   \
        for (ki = 0; ki < 5; ki++) {                                            \
            size_t k = ks[ki], n = k < sizeof(T) ? k : sizeof(T), i;            \
            int bad = 0;                                                        \
            memset(u.b, FILL, sizeof u.b);                                      \
            T##_init(&u.t, k);                                                  \
            if (k < sizeof(size_t)) {                                           \
                bad = !untouched(u.b, 0, sizeof u.b);                           \
            } else {                                                            \
                bad = size_field(u.b) != n || !untouched(u.b, k, sizeof u.b);   \
                for (i = sizeof(size_t); i < k; i++) bad |= u.b[i] != 0;        \
            }                                                                   \
            if (bad) tfmt_fail(__FILE__, __LINE__, "%s_init(p, %zu)", #T, k);  \
        }                                                                       \
    } while (0)

TEST(out_init_never_writes_past_the_size) {
    CHECK_OUT_INIT(tfm_safetensors_info);
    CHECK_OUT_INIT(tfm_gen_stats);
}

// ---- tfm_safetensors_info ---------------------------------------------------------

// A safetensors image of one f32 tensor "w" [2, 3] (header padded to 8).
static size_t st_image(unsigned char *img, size_t cap) {
    static const char hdr[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    size_t h = sizeof hdr - 1, hp = (h + 7) / 8 * 8, i;
    float w[6] = {1, 2, 3, 4, 5, 6};
    if (8 + hp + sizeof w > cap) return 0;
    for (i = 0; i < 8; i++) img[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(img + 8, hdr, h);
    memset(img + 8 + h, ' ', hp - h);
    memcpy(img + 8 + hp, w, sizeof w);
    return 8 + hp + sizeof w;
}

TEST(out_safetensors_info_sizes) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_safetensors *st = NULL;
    union { tfm_safetensors_info t; unsigned char b[sizeof(tfm_safetensors_info) + GUARD]; } u;
    uint64_t img64[64];
    unsigned char *img = (unsigned char *)img64;
    size_t n = st_image(img, sizeof img64), cut;
    REQUIRE(n > 0);
    REQUIRE_OK(ctx, tfm_safetensors_open_memory(ctx, img, n, "mem", &st));

    // The library's own size: every field, nothing past it.
    memset(u.b, FILL, sizeof u.b);
    u.t.struct_size = sizeof u.t;
    REQUIRE(tfm_safetensors_info_at(st, 0, &u.t) == TFM_OK);
    CHECK(u.t.struct_size == sizeof u.t);
    CHECK_STR(u.t.name, "w");
    CHECK_EQ_INT(u.t.ndim, 2);
    CHECK_EQ_INT(u.t.nbytes, 24);
    CHECK_STR(u.t.file, "mem");
    CHECK(untouched(u.b, sizeof u.t, sizeof u.b));

    // An older caller's struct that ends before nbytes: the fields it has
    // are filled, the bytes past it stay as they were.
    cut = offsetof(tfm_safetensors_info, nbytes);
    memset(u.b, FILL, sizeof u.b);
    u.t.struct_size = cut;
    REQUIRE(tfm_safetensors_info_at(st, 0, &u.t) == TFM_OK);
    CHECK(u.t.struct_size == cut);
    CHECK_STR(u.t.name, "w");
    CHECK_EQ_INT(u.t.shape[1], 3);
    CHECK(u.t.data == (const void *)(img + n - 24));
    CHECK(untouched(u.b, cut, sizeof u.b));
    // Out of range: the caller's fields are zeroed, nothing past them.
    memset(u.b, FILL, sizeof u.b);
    u.t.struct_size = cut;
    CHECK_STATUS(tfm_safetensors_info_at(st, 1, &u.t), TFM_ERR_RANGE);
    CHECK(u.t.struct_size == cut && u.t.name == NULL && u.t.ndim == 0);
    CHECK(untouched(u.b, cut, sizeof u.b));

    // A newer caller's larger struct: the library writes its own size and
    // says so in struct_size; the caller's extra bytes are not touched.
    memset(u.b, FILL, sizeof u.b);
    u.t.struct_size = sizeof u.t + GUARD / 2;
    REQUIRE(tfm_safetensors_info_at(st, 0, &u.t) == TFM_OK);
    CHECK(u.t.struct_size == sizeof u.t);
    CHECK_STR(u.t.file, "mem");
    CHECK(untouched(u.b, sizeof u.t, sizeof u.b));

    // A size that cannot hold struct_size: refused, nothing written.
    for (cut = 0; cut < sizeof(size_t); cut += sizeof(size_t) - 1) {
        memset(u.b, FILL, sizeof u.b);
        u.t.struct_size = cut;
        CHECK_STATUS(tfm_safetensors_info_at(st, 0, &u.t), TFM_ERR_INVALID_ARG);
        CHECK(u.t.struct_size == cut);
        CHECK(untouched(u.b, sizeof(size_t), sizeof u.b));
    }
    CHECK_STATUS(tfm_safetensors_info_at(st, 0, NULL), TFM_ERR_INVALID_ARG);
    tfm_safetensors_close(st);
    tfm_ctx_free(ctx);
}

// ---- tfm_gen_stats ------------------------------------------------------------------

TEST(out_gen_stats_sizes) {
    tfm_ctx *ctx = tfmt_ctx(1);
    tfm_model *m = NULL;
    tfm_session *s = NULL;
    tfm_gen_params gp = tfm_gen_params_default();
    union { tfm_gen_stats t; unsigned char b[sizeof(tfm_gen_stats) + GUARD]; } u;
    int32_t prompt[2] = {1, 2}, out[4], n = -1;
    size_t cut;
    REQUIRE_OK(ctx, tfm_model_load(ctx, tfmt_data("golden/gpt2/tiny"), NULL, &m));
    REQUIRE_OK(ctx, tfm_session_create(ctx, m, NULL, &s));
    gp.max_new_tokens = 3;
    gp.stop_token = -1;

    // The whole struct.
    memset(u.b, FILL, sizeof u.b);
    u.t = tfm_gen_stats_default();
    CHECK_OK(ctx, tfm_generate_tokens(s, prompt, 2, &gp, out, 4, &n, &u.t));
    CHECK(u.t.struct_size == sizeof u.t);
    CHECK(u.t.n_prompt == 2 && u.t.n_generated == 3 && n == 3);
    CHECK(u.t.prompt_seconds >= 0.0 && u.t.gen_seconds >= 0.0);
    CHECK(untouched(u.b, sizeof u.t, sizeof u.b));

    // An older caller's struct that stops before the timings.
    cut = offsetof(tfm_gen_stats, prompt_seconds);
    memset(u.b, FILL, sizeof u.b);
    u.t.struct_size = cut;
    CHECK_OK(ctx, tfm_generate_tokens(s, prompt, 2, &gp, out, 4, &n, &u.t));
    CHECK(u.t.struct_size == cut && u.t.n_prompt == 2 && u.t.n_generated == 3);
    CHECK(untouched(u.b, cut, sizeof u.b));
    // The same through tfm_generate (a text prompt), and with a cut inside
    // the counts.
    cut = offsetof(tfm_gen_stats, n_generated);
    memset(u.b, FILL, sizeof u.b);
    u.t.struct_size = cut;
    CHECK_OK(ctx, tfm_generate(s, "hello", &gp, out, 4, &n, &u.t));
    CHECK(u.t.struct_size == cut && u.t.n_prompt > 0);
    CHECK(untouched(u.b, cut, sizeof u.b));
    // A failing call leaves zeros in the caller's fields only.
    memset(u.b, FILL, sizeof u.b);
    u.t.struct_size = cut;
    CHECK_STATUS(tfm_generate_tokens(s, prompt, 0, &gp, out, 4, &n, &u.t), TFM_ERR_INVALID_ARG);
    CHECK(u.t.struct_size == cut && u.t.n_prompt == 0);
    CHECK(untouched(u.b, cut, sizeof u.b));

    // A newer caller's larger struct.
    memset(u.b, FILL, sizeof u.b);
    u.t.struct_size = sizeof u.t + 8;
    CHECK_OK(ctx, tfm_generate_tokens(s, prompt, 2, &gp, out, 4, &n, &u.t));
    CHECK(u.t.struct_size == sizeof u.t && u.t.n_generated == 3);
    CHECK(untouched(u.b, sizeof u.t, sizeof u.b));

    // struct_size unset (0) or too small: refused before anything runs,
    // nothing written, the message names the struct.
    for (cut = 0; cut < sizeof(size_t); cut += sizeof(size_t) - 1) {
        memset(u.b, FILL, sizeof u.b);
        u.t.struct_size = cut;
        tfm_session_reset(s);
        REQUIRE_OK(ctx, tfm_session_prefill(s, prompt, 2, NULL));
        n = -1;
        CHECK_STATUS(tfm_generate_tokens(s, prompt, 2, &gp, out, 4, &n, &u.t),
                     TFM_ERR_INVALID_ARG);
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), "stats: struct_size");
        CHECK(n == 0 && tfm_session_pos(s) == 2); // the session was not reset
        CHECK(u.t.struct_size == cut && untouched(u.b, sizeof(size_t), sizeof u.b));
        CHECK_STATUS(tfm_generate(s, "hello", &gp, out, 4, &n, &u.t), TFM_ERR_INVALID_ARG);
        CHECK(u.t.struct_size == cut && untouched(u.b, sizeof(size_t), sizeof u.b));
    }
    CHECK_STATUS(tfm_generate_tokens(NULL, prompt, 2, &gp, out, 4, &n, &u.t),
                 TFM_ERR_INVALID_ARG);
    tfm_session_free(s);
    tfm_model_free(m);
    tfm_ctx_free(ctx);
}
