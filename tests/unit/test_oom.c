/* Allocation failures in the core: every allocation of a representative
 * scenario is made to fail in turn; each run must report TFM_ERR_NOMEM and
 * leak nothing. (Model loaders add their own walks in their tests.) */
#include "harness.h"

static tfm_status core_scenario(const tfm_ctx_params *params, void *arg) {
    tfm_ctx *ctx = NULL;
    tfm_tensor *a = NULL, *b = NULL, *v = NULL, *c = NULL;
    int64_t sa[2] = {8, 16}, sb[2] = {16, 4}, sc[2] = {8, 4}, sv[1] = {16};
    tfm_ctx_params p = *params;
    tfm_status st;
    p.n_threads = *(const int *)arg;
    if ((st = tfm_ctx_create(&p, &ctx))) return st;
    if ((st = tfm_tensor_create(ctx, TFM_F32, 2, sa, &a))) goto done;
    if ((st = tfm_tensor_create(ctx, TFM_F32, 2, sb, &b))) goto done;
    if ((st = tfm_tensor_create(ctx, TFM_F32, 2, sc, &c))) goto done;
    if ((st = tfm_tensor_view(ctx, a, 1, sv, NULL, 16, &v))) goto done;
    if ((st = tfm_matmul(ctx, a, b, 0, NULL, 1.0f, 0.0f, c))) goto done;
    if ((st = tfm_softmax(ctx, c, NULL, c))) goto done;
done:
    tfm_tensor_free(v);
    tfm_tensor_free(c);
    tfm_tensor_free(b);
    tfm_tensor_free(a);
    tfm_ctx_free(ctx);
    return st;
}

TEST(oom_walk_core) {
    int threads = 1;
    CHECK(OOM_WALK(core_scenario, &threads) >= 8);
    threads = 3; // the pool's allocations too
    CHECK(OOM_WALK(core_scenario, &threads) >= 9);
}
