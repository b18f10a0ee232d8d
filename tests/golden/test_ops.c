/*
 * Golden tests of the tensor ops: every case in tests/golden/ops.safetensors
 * (written by gen_ops.py: f32 inputs, float64 PyTorch outputs) is run through
 * the public API with 1 and 3 threads, checked at a relative error of 1e-6
 * and for bit-identical results across thread counts and in-place use. Then
 * bit-identity on larger random inputs that do get split across threads, and
 * the shape/dtype/NULL error paths of each op with their messages.
 */
#include "harness.h"

#include <stdlib.h>

#define TOL 1e-6

// Cases held to a looser bound, each with its reason (none at present).
static const struct { const char *prefix; double tol; } k_loose[] = {
    {"(none)", TOL},
};

static double tolerance(const char *prefix) {
    size_t i;
    for (i = 0; i < sizeof k_loose / sizeof k_loose[0]; i++)
        if (strcmp(prefix, k_loose[i].prefix) == 0) return k_loose[i].tol;
    return TOL;
}

typedef struct golden {
    tfm_ctx *ctx1, *ctx3;
    tfm_safetensors *st;
} golden;

static int golden_open(golden *g) {
    g->ctx1 = tfmt_ctx(1);
    g->ctx3 = tfmt_ctx(3);
    g->st = NULL;
    if (tfm_safetensors_open(g->ctx1, tfmt_data("golden/ops.safetensors"), &g->st) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "cannot open ops.safetensors: %s",
                  tfm_ctx_last_error(g->ctx1));
        return 0;
    }
    return 1;
}

static void golden_close(golden *g) {
    tfm_safetensors_close(g->st);
    tfm_ctx_free(g->ctx1);
    tfm_ctx_free(g->ctx3);
}

// "<op>.<case>.<field>" as a view; returns 0 (absent or an error).
static int field(const golden *g, const char *prefix, const char *name, tfm_tensor *t) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    if (tfm_safetensors_find(g->st, full) < 0) return 0;
    if (tfm_safetensors_get(g->ctx1, g->st, full, t) != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "%s: %s", full, tfm_ctx_last_error(g->ctx1));
        return 0;
    }
    return 1;
}

static double param(const golden *g, const char *prefix, int i) {
    tfm_tensor p;
    if (!field(g, prefix, "p", &p) || p.dtype != TFM_F64 || i >= p.shape[0]) {
        tfmt_fail(__FILE__, __LINE__, "%sp: missing parameter %d", prefix, i);
        return 0;
    }
    return ((const double *)p.data)[i];
}

// An f32 tensor shaped like ref, filled with NaN (so a read of out shows).
static tfm_tensor *make_out(tfm_ctx *ctx, const tfm_tensor *ref) {
    tfm_tensor *t = NULL;
    int64_t i, n;
    if (tfm_tensor_create(ctx, TFM_F32, ref->ndim, ref->shape, &t) != TFM_OK) return NULL;
    n = tfm_tensor_numel(t);
    for (i = 0; i < n; i++) ((float *)t->data)[i] = NAN;
    return t;
}

// Runs one case of an op: fn(ctx, out) computes into out.
typedef tfm_status (*case_fn)(const golden *g, const char *prefix, tfm_ctx *ctx,
                              tfm_tensor *out, int in_place);

// Runs fn with 1 and 3 threads (and in place where the op allows it), checks
// the result against "<prefix>out" and the runs against each other.
static void run_case(const golden *g, const char *prefix, case_fn fn, int can_alias) {
    tfm_tensor ref, *o1, *o3, *oi = NULL;
    int64_t n;
    char what[256];
    tfm_status s;
    if (!field(g, prefix, "out", &ref)) return;
    n = tfm_tensor_numel(&ref);
    o1 = make_out(g->ctx1, &ref);
    o3 = make_out(g->ctx3, &ref);
    if (!o1 || !o3) {
        tfmt_fail(__FILE__, __LINE__, "%s: cannot allocate", prefix);
        goto done;
    }
    s = fn(g, prefix, g->ctx1, o1, 0);
    if (s != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "%s (1 thread): %s: %s", prefix, tfm_status_str(s),
                  tfm_ctx_last_error(g->ctx1));
        goto done;
    }
    s = fn(g, prefix, g->ctx3, o3, 0);
    if (s != TFM_OK) {
        tfmt_fail(__FILE__, __LINE__, "%s (3 threads): %s: %s", prefix, tfm_status_str(s),
                  tfm_ctx_last_error(g->ctx3));
        goto done;
    }
    snprintf(what, sizeof what, "%sout", prefix);
    tfmt_check_relerr(__FILE__, __LINE__, what, (const float *)o1->data,
                      (const double *)ref.data, n, tolerance(prefix));
    if (memcmp(o1->data, o3->data, (size_t)n * sizeof(float)) != 0)
        tfmt_fail(__FILE__, __LINE__, "%s: 1 and 3 threads differ", prefix);
    if (can_alias) {
        oi = make_out(g->ctx3, &ref);
        if (oi && (s = fn(g, prefix, g->ctx3, oi, 1)) != TFM_OK)
            tfmt_fail(__FILE__, __LINE__, "%s (in place): %s", prefix,
                      tfm_ctx_last_error(g->ctx3));
        else if (oi && memcmp(o1->data, oi->data, (size_t)n * sizeof(float)) != 0)
            tfmt_fail(__FILE__, __LINE__, "%s: in place differs", prefix);
    }
done:
    tfm_tensor_free(o1);
    tfm_tensor_free(o3);
    tfm_tensor_free(oi);
}

// Runs every case of `op` (names "<op>.<case>.out"); returns the count.
static int run_op(const golden *g, const char *op, case_fn fn, int can_alias) {
    int64_t i, count = tfm_safetensors_count(g->st);
    size_t ol = strlen(op);
    int cases = 0;
    for (i = 0; i < count; i++) {
        const char *name = tfm_safetensors_name(g->st, i);
        size_t nl = strlen(name);
        char prefix[200];
        if (nl <= ol + 5 || strncmp(name, op, ol) != 0 || name[ol] != '.' ||
            strcmp(name + nl - 4, ".out") != 0 || strchr(name + ol + 1, '.') != name + nl - 4)
            continue;
        snprintf(prefix, sizeof prefix, "%.*s", (int)(nl - 3), name);
        run_case(g, prefix, fn, can_alias);
        cases++;
    }
    return cases;
}

// Copies x (f32) into out, for in-place runs: returns out as the input.
static const tfm_tensor *alias_input(const tfm_tensor *x, tfm_tensor *out) {
    memcpy(out->data, x->data, (size_t)tfm_tensor_numel(x) * sizeof(float));
    return out;
}

// ---- per-op cases ------------------------------------------------------------------------

static tfm_status do_matmul(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                            int in_place) {
    tfm_tensor a, b, bias, c0;
    int has_bias = field(g, p, "bias", &bias);
    double tb = param(g, p, 0), alpha = param(g, p, 1), beta = param(g, p, 2);
    (void)in_place;
    if (!field(g, p, "a", &a) || !field(g, p, "b", &b)) return TFM_ERR_NOT_FOUND;
    if (field(g, p, "c0", &c0)) alias_input(&c0, out);
    return tfm_matmul(ctx, &a, &b, (int)tb, has_bias ? &bias : NULL, (float)alpha,
                      (float)beta, out);
}

static tfm_status do_add(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                         int in_place) {
    tfm_tensor a, b;
    if (!field(g, p, "a", &a) || !field(g, p, "b", &b)) return TFM_ERR_NOT_FOUND;
    return tfm_add(ctx, in_place ? alias_input(&a, out) : &a, &b, out);
}

static tfm_status do_mul(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                         int in_place) {
    tfm_tensor a, b;
    if (!field(g, p, "a", &a) || !field(g, p, "b", &b)) return TFM_ERR_NOT_FOUND;
    return tfm_mul(ctx, in_place ? alias_input(&a, out) : &a, &b, out);
}

static tfm_status do_scale(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                           int in_place) {
    tfm_tensor x;
    if (!field(g, p, "x", &x)) return TFM_ERR_NOT_FOUND;
    return tfm_scale(ctx, in_place ? alias_input(&x, out) : &x, (float)param(g, p, 0), out);
}

static tfm_status do_softmax(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                             int in_place) {
    tfm_tensor x, mask;
    int has_mask = field(g, p, "mask", &mask);
    if (!field(g, p, "x", &x)) return TFM_ERR_NOT_FOUND;
    return tfm_softmax(ctx, in_place ? alias_input(&x, out) : &x, has_mask ? &mask : NULL,
                       out);
}

static tfm_status do_layernorm(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                               int in_place) {
    tfm_tensor x, gamma, beta;
    int hg = field(g, p, "gamma", &gamma), hb = field(g, p, "beta", &beta);
    if (!field(g, p, "x", &x)) return TFM_ERR_NOT_FOUND;
    return tfm_layernorm(ctx, in_place ? alias_input(&x, out) : &x, hg ? &gamma : NULL,
                         hb ? &beta : NULL, (float)param(g, p, 0), out);
}

static tfm_status do_rmsnorm(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                             int in_place) {
    tfm_tensor x, gamma;
    int hg = field(g, p, "gamma", &gamma);
    if (!field(g, p, "x", &x)) return TFM_ERR_NOT_FOUND;
    return tfm_rmsnorm(ctx, in_place ? alias_input(&x, out) : &x, hg ? &gamma : NULL,
                       (float)param(g, p, 0), out);
}

static tfm_status do_act(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                         int in_place) {
    static const struct { const char *name; tfm_act act; } acts[] = {
        {"relu.", TFM_ACT_RELU}, {"gelu.", TFM_ACT_GELU}, {"gelu_tanh.", TFM_ACT_GELU_TANH},
        {"silu.", TFM_ACT_SILU}, {"tanh.", TFM_ACT_TANH}, {"sigmoid.", TFM_ACT_SIGMOID}};
    tfm_tensor x;
    const tfm_tensor *in;
    size_t i;
    if (!field(g, p, "x", &x)) return TFM_ERR_NOT_FOUND;
    in = in_place ? alias_input(&x, out) : &x;
    for (i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        if (strncmp(p, acts[i].name, strlen(acts[i].name)) != 0) continue;
        // The shorthands where there is one, else tfm_activation.
        switch (acts[i].act) {
        case TFM_ACT_RELU: return tfm_relu(ctx, in, out);
        case TFM_ACT_GELU: return tfm_gelu(ctx, in, out);
        case TFM_ACT_GELU_TANH: return tfm_gelu_tanh(ctx, in, out);
        case TFM_ACT_SILU: return tfm_silu(ctx, in, out);
        default: return tfm_activation(ctx, acts[i].act, in, out);
        }
    }
    return TFM_ERR_NOT_FOUND;
}

static tfm_status do_embedding(const golden *g, const char *p, tfm_ctx *ctx, tfm_tensor *out,
                               int in_place) {
    tfm_tensor table, ids;
    (void)in_place;
    if (!field(g, p, "table", &table) || !field(g, p, "ids", &ids)) return TFM_ERR_NOT_FOUND;
    return tfm_embedding(ctx, &table, &ids, out);
}

TEST(golden_ops_matmul) {
    golden g;
    if (golden_open(&g)) CHECK(run_op(&g, "matmul", do_matmul, 0) >= 16);
    golden_close(&g);
}

TEST(golden_ops_add_mul_scale) {
    golden g;
    if (golden_open(&g)) {
        CHECK(run_op(&g, "add", do_add, 1) >= 6);
        CHECK(run_op(&g, "mul", do_mul, 1) >= 6);
        CHECK(run_op(&g, "scale", do_scale, 1) >= 3);
    }
    golden_close(&g);
}

TEST(golden_ops_softmax) {
    golden g;
    if (golden_open(&g)) CHECK(run_op(&g, "softmax", do_softmax, 1) >= 9);
    golden_close(&g);
}

TEST(golden_ops_norms) {
    golden g;
    if (golden_open(&g)) {
        CHECK(run_op(&g, "layernorm", do_layernorm, 1) >= 5);
        CHECK(run_op(&g, "rmsnorm", do_rmsnorm, 1) >= 3);
    }
    golden_close(&g);
}

TEST(golden_ops_activations) {
    golden g;
    if (golden_open(&g)) {
        CHECK(run_op(&g, "relu", do_act, 1) >= 3);
        CHECK(run_op(&g, "gelu", do_act, 1) >= 3);
        CHECK(run_op(&g, "gelu_tanh", do_act, 1) >= 3);
        CHECK(run_op(&g, "silu", do_act, 1) >= 3);
        CHECK(run_op(&g, "tanh", do_act, 1) >= 3);
        CHECK(run_op(&g, "sigmoid", do_act, 1) >= 3);
    }
    golden_close(&g);
}

TEST(golden_ops_embedding) {
    golden g;
    if (golden_open(&g)) CHECK(run_op(&g, "embedding", do_embedding, 0) >= 4);
    golden_close(&g);
}

TEST(golden_ops_softmax_fully_masked_row_is_zero) {
    golden g;
    tfm_tensor x, mask, *out = NULL;
    if (golden_open(&g) && field(&g, "softmax.fully_masked_row.", "x", &x) &&
        field(&g, "softmax.fully_masked_row.", "mask", &mask) &&
        tfm_tensor_create(g.ctx1, TFM_F32, x.ndim, x.shape, &out) == TFM_OK) {
        int64_t j;
        CHECK_OK(g.ctx1, tfm_softmax(g.ctx1, &x, &mask, out));
        for (j = 0; j < 6; j++) { // row 1 of each batch is fully masked
            CHECK(((float *)out->data)[6 + j] == 0.0f);
            CHECK(((float *)out->data)[18 + 6 + j] == 0.0f);
        }
    }
    tfm_tensor_free(out);
    golden_close(&g);
}

// ---- bit-identity on inputs large enough to be split --------------------------------------

static tfm_tensor *rnd(tfm_ctx *ctx, int ndim, const int64_t *shape) {
    tfm_tensor *t = NULL;
    if (tfm_tensor_create(ctx, TFM_F32, ndim, shape, &t) != TFM_OK) return NULL;
    tfmt_fill((float *)t->data, tfm_tensor_numel(t));
    return t;
}

static void same_bits(const tfm_tensor *a, const tfm_tensor *b, const char *what) {
    if (memcmp(a->data, b->data, (size_t)tfm_tensor_numel(a) * sizeof(float)) != 0)
        tfmt_fail(__FILE__, __LINE__, "%s: 1 and 3 threads differ", what);
}

TEST(golden_ops_thread_count_does_not_change_bits) {
    tfm_ctx *c1 = tfmt_ctx(1), *c3 = tfmt_ctx(3);
    int64_t sx[2] = {67, 509}, sv[1] = {509}, sa[2] = {131, 96}, sb[2] = {200, 96},
            sc[2] = {131, 200}, sbias[1] = {200};
    tfm_tensor *x = rnd(c1, 2, sx), *v = rnd(c1, 1, sv), *v2 = rnd(c1, 1, sv);
    tfm_tensor *o1 = rnd(c1, 2, sx), *o3 = rnd(c1, 2, sx);
    tfm_tensor *a = rnd(c1, 2, sa), *b = rnd(c1, 2, sb), *bias = rnd(c1, 1, sbias);
    tfm_tensor *m1 = rnd(c1, 2, sc), *m3 = rnd(c1, 2, sc);
    int act;
    REQUIRE(x && v && v2 && o1 && o3 && a && b && bias && m1 && m3);
    CHECK_OK(c1, tfm_matmul(c1, a, b, 1, bias, 1.0f, 0.0f, m1));
    CHECK_OK(c3, tfm_matmul(c3, a, b, 1, bias, 1.0f, 0.0f, m3));
    same_bits(m1, m3, "matmul");
    CHECK_OK(c1, tfm_softmax(c1, x, v, o1));
    CHECK_OK(c3, tfm_softmax(c3, x, v, o3));
    same_bits(o1, o3, "softmax");
    CHECK_OK(c1, tfm_layernorm(c1, x, v, v2, 1e-5f, o1));
    CHECK_OK(c3, tfm_layernorm(c3, x, v, v2, 1e-5f, o3));
    same_bits(o1, o3, "layernorm");
    CHECK_OK(c1, tfm_rmsnorm(c1, x, v, 1e-6f, o1));
    CHECK_OK(c3, tfm_rmsnorm(c3, x, v, 1e-6f, o3));
    same_bits(o1, o3, "rmsnorm");
    CHECK_OK(c1, tfm_add(c1, x, v, o1));
    CHECK_OK(c3, tfm_add(c3, x, v, o3));
    same_bits(o1, o3, "add");
    CHECK_OK(c1, tfm_mul(c1, x, v, o1));
    CHECK_OK(c3, tfm_mul(c3, x, v, o3));
    same_bits(o1, o3, "mul");
    for (act = TFM_ACT_NONE; act <= TFM_ACT_SIGMOID; act++) {
        CHECK_OK(c1, tfm_activation(c1, (tfm_act)act, x, o1));
        CHECK_OK(c3, tfm_activation(c3, (tfm_act)act, x, o3));
        same_bits(o1, o3, "activation");
    }
    tfm_tensor_free(x);
    tfm_tensor_free(v);
    tfm_tensor_free(v2);
    tfm_tensor_free(o1);
    tfm_tensor_free(o3);
    tfm_tensor_free(a);
    tfm_tensor_free(b);
    tfm_tensor_free(bias);
    tfm_tensor_free(m1);
    tfm_tensor_free(m3);
    tfm_ctx_free(c1);
    tfm_ctx_free(c3);
}

// ---- error paths ---------------------------------------------------------------------------

#define CHECK_ERR(ctx, expr, status, msg)                                       \
    do {                                                                        \
        CHECK_STATUS(expr, status);                                             \
        CHECK_CONTAINS(tfm_ctx_last_error(ctx), msg);                           \
    } while (0)

TEST(golden_ops_error_paths) {
    tfm_ctx *ctx = tfmt_ctx(1);
    float fa[64], fb[64], fo[64];
    uint16_t h[64];
    int32_t ids[4] = {0, 7, 1, 2};
    int64_t s23[2] = {2, 3}, s45[2] = {4, 5}, s35[2] = {3, 5}, s25[2] = {2, 5}, s4[1] = {4},
            s3[1] = {3}, s5[1] = {5}, s22[2] = {2, 2}, s223[3] = {2, 2, 3}, s73[2] = {7, 3};
    tfm_tensor a23, b45, b35, o25, o23, v4, v3, v5, i22, h35, t73, o223, o22;
    memset(fa, 0, sizeof fa);
    memset(fb, 0, sizeof fb);
    memset(h, 0, sizeof h);
    tfm_tensor_wrap(&a23, TFM_F32, 2, s23, fa);
    tfm_tensor_wrap(&b45, TFM_F32, 2, s45, fb);
    tfm_tensor_wrap(&b35, TFM_F32, 2, s35, fb);
    tfm_tensor_wrap(&o25, TFM_F32, 2, s25, fo);
    tfm_tensor_wrap(&o23, TFM_F32, 2, s23, fo);
    tfm_tensor_wrap(&v4, TFM_F32, 1, s4, fb);
    tfm_tensor_wrap(&v3, TFM_F32, 1, s3, fb);
    tfm_tensor_wrap(&v5, TFM_F32, 1, s5, fb);
    tfm_tensor_wrap(&i22, TFM_I32, 2, s22, ids);
    tfm_tensor_wrap(&h35, TFM_F16, 2, s35, h);
    tfm_tensor_wrap(&t73, TFM_F32, 2, s73, fb);
    tfm_tensor_wrap(&o223, TFM_F32, 3, s223, fo);
    tfm_tensor_wrap(&o22, TFM_F32, 2, s22, fo);

    // matmul
    CHECK_OK(ctx, tfm_matmul(ctx, &a23, &b35, 0, &v5, 1, 0, &o25));
    CHECK_ERR(ctx, tfm_matmul(ctx, &a23, &b45, 0, NULL, 1, 0, &o25), TFM_ERR_SHAPE,
              "matmul: a [2, 3] has K = 3 but b [4, 5] has K = 4");
    CHECK_ERR(ctx, tfm_matmul(ctx, &a23, &b35, 1, NULL, 1, 0, &o25), TFM_ERR_SHAPE,
              "(transposed)");
    CHECK_ERR(ctx, tfm_matmul(ctx, &a23, &b35, 0, NULL, 1, 0, &o23), TFM_ERR_SHAPE,
              "matmul: out [2, 3] should be");
    CHECK_ERR(ctx, tfm_matmul(ctx, &a23, &b35, 0, &v4, 1, 0, &o25), TFM_ERR_SHAPE,
              "matmul: bias has 4 elements, expected 5");
    CHECK_ERR(ctx, tfm_matmul(ctx, &a23, &h35, 0, NULL, 1, 0, &o25), TFM_ERR_DTYPE,
              "matmul: b has dtype f16, expected f32");
    CHECK_ERR(ctx, tfm_matmul(ctx, &i22, &b35, 0, NULL, 1, 0, &o25), TFM_ERR_DTYPE,
              "matmul: a has dtype i32, expected f32");
    CHECK_ERR(ctx, tfm_matmul(ctx, NULL, &b35, 0, NULL, 1, 0, &o25), TFM_ERR_INVALID_ARG,
              "matmul: a is NULL");
    CHECK_ERR(ctx, tfm_matmul(ctx, &a23, NULL, 0, NULL, 1, 0, &o25), TFM_ERR_INVALID_ARG,
              "matmul: b is NULL");
    CHECK_ERR(ctx, tfm_matmul(ctx, &a23, &b35, 0, NULL, 1, 0, NULL), TFM_ERR_INVALID_ARG,
              "matmul: out is NULL");
    CHECK_ERR(ctx, tfm_matmul(ctx, &a23, &v3, 0, NULL, 1, 0, &o25), TFM_ERR_SHAPE,
              "matmul: b has 1 dimensions, expected 2");
    CHECK_STATUS(tfm_matmul(NULL, &a23, &b35, 0, NULL, 1, 0, &o25), TFM_ERR_INVALID_ARG);

    // add / mul / scale
    CHECK_OK(ctx, tfm_add(ctx, &a23, &v3, &o23));
    CHECK_ERR(ctx, tfm_add(ctx, &a23, &v4, &o23), TFM_ERR_SHAPE,
              "add: b [4] does not broadcast onto a [2, 3]");
    CHECK_ERR(ctx, tfm_mul(ctx, &a23, &b35, &o23), TFM_ERR_SHAPE,
              "mul: b [3, 5] does not broadcast onto a [2, 3]");
    CHECK_ERR(ctx, tfm_add(ctx, &a23, &v3, &o25), TFM_ERR_SHAPE, "add: ");
    CHECK_ERR(ctx, tfm_add(ctx, &a23, NULL, &o23), TFM_ERR_INVALID_ARG, "add: b is NULL");
    CHECK_ERR(ctx, tfm_mul(ctx, &i22, &v3, &o23), TFM_ERR_DTYPE, "has dtype i32, expected f32");
    CHECK_ERR(ctx, tfm_scale(ctx, NULL, 2.0f, &o23), TFM_ERR_INVALID_ARG, "scale: x is NULL");
    CHECK_ERR(ctx, tfm_scale(ctx, &a23, 2.0f, &o25), TFM_ERR_SHAPE,
              "scale: x [2, 3] and out [2, 5] differ in shape");

    // softmax
    CHECK_OK(ctx, tfm_softmax(ctx, &a23, &v3, &o23));
    CHECK_ERR(ctx, tfm_softmax(ctx, &a23, &v4, &o23), TFM_ERR_SHAPE,
              "softmax: mask [4] does not broadcast onto x [2, 3]");
    CHECK_ERR(ctx, tfm_softmax(ctx, &a23, &h35, &o23), TFM_ERR_DTYPE, "softmax: mask has dtype f16");
    CHECK_ERR(ctx, tfm_softmax(ctx, &i22, NULL, &o22), TFM_ERR_DTYPE, "softmax: x has dtype i32");
    CHECK_ERR(ctx, tfm_softmax(ctx, &a23, NULL, NULL), TFM_ERR_INVALID_ARG, "softmax: out is NULL");

    // norms
    CHECK_OK(ctx, tfm_layernorm(ctx, &a23, &v3, &v3, 1e-5f, &o23));
    CHECK_ERR(ctx, tfm_layernorm(ctx, &a23, &v4, NULL, 1e-5f, &o23), TFM_ERR_SHAPE,
              "layernorm: gamma has 4 elements, expected 3");
    CHECK_ERR(ctx, tfm_layernorm(ctx, &a23, NULL, &v5, 1e-5f, &o23), TFM_ERR_SHAPE,
              "layernorm: beta has 5 elements, expected 3");
    CHECK_ERR(ctx, tfm_layernorm(ctx, &a23, NULL, NULL, -1.0f, &o23), TFM_ERR_INVALID_ARG,
              "layernorm: eps -1 is not >= 0");
    CHECK_ERR(ctx, tfm_layernorm(ctx, &a23, NULL, NULL, 1e-5f, &o25), TFM_ERR_SHAPE,
              "layernorm: x [2, 3] and out [2, 5] differ in shape");
    CHECK_ERR(ctx, tfm_rmsnorm(ctx, &a23, &v5, 1e-5f, &o23), TFM_ERR_SHAPE,
              "rmsnorm: gamma has 5 elements, expected 3");
    CHECK_ERR(ctx, tfm_rmsnorm(ctx, &a23, &h35, 1e-5f, &o23), TFM_ERR_DTYPE,
              "rmsnorm: gamma has dtype f16");
    CHECK_ERR(ctx, tfm_rmsnorm(ctx, NULL, NULL, 1e-5f, &o23), TFM_ERR_INVALID_ARG,
              "rmsnorm: x is NULL");

    // activations
    CHECK_ERR(ctx, tfm_activation(ctx, (tfm_act)99, &a23, &o23), TFM_ERR_INVALID_ARG,
              "activation: unknown activation 99");
    CHECK_ERR(ctx, tfm_gelu(ctx, &a23, &o25), TFM_ERR_SHAPE, "differ in shape");
    CHECK_ERR(ctx, tfm_relu(ctx, &i22, &o22), TFM_ERR_DTYPE, "has dtype i32");
    CHECK_ERR(ctx, tfm_silu(ctx, NULL, &o22), TFM_ERR_INVALID_ARG, "is NULL");

    // embedding
    ids[1] = 1;
    CHECK_OK(ctx, tfm_embedding(ctx, &t73, &i22, &o223));
    ids[1] = 7;
    CHECK_ERR(ctx, tfm_embedding(ctx, &t73, &i22, &o223), TFM_ERR_RANGE,
              "embedding: id 7 at position 1 is outside [0, 7)");
    ids[1] = -1;
    CHECK_ERR(ctx, tfm_embedding(ctx, &t73, &i22, &o223), TFM_ERR_RANGE,
              "embedding: id -1 at position 1 is outside [0, 7)");
    ids[1] = 1;
    CHECK_ERR(ctx, tfm_embedding(ctx, &i22, &i22, &o223), TFM_ERR_DTYPE,
              "embedding: table has dtype i32, expected f32, f16 or bf16");
    CHECK_ERR(ctx, tfm_embedding(ctx, &t73, &t73, &o223), TFM_ERR_DTYPE,
              "embedding: ids has dtype f32, expected i32");
    CHECK_ERR(ctx, tfm_embedding(ctx, &t73, &i22, &o23), TFM_ERR_SHAPE,
              "embedding: out [2, 3] should be ids [2, 2] + [3]");
    CHECK_ERR(ctx, tfm_embedding(ctx, NULL, &i22, &o223), TFM_ERR_INVALID_ARG,
              "embedding: table is NULL");
    CHECK_ERR(ctx, tfm_embedding(ctx, &t73, NULL, &o223), TFM_ERR_INVALID_ARG,
              "embedding: ids is NULL");
    tfm_ctx_free(ctx);
}
