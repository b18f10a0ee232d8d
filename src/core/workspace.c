/*
 * Workspaces (scratch memory sized once from a session's limits) and the
 * bump arena carved out of them.
 */
#include "internal.h"

#include <string.h>

tfm_status tfm_workspace_create(tfm_ctx *ctx, size_t bytes, tfm_workspace **out) {
    tfm_workspace *ws;
    if (out) *out = NULL;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    if (!out) return tfm__err(ctx, TFM_ERR_INVALID_ARG, "workspace: out is NULL");
    ws = (tfm_workspace *)tfm__alloc(ctx, sizeof *ws);
    if (!ws) return tfm__err(ctx, TFM_ERR_NOMEM, "workspace: out of memory");
    ws->ctx = ctx;
    ws->size = bytes;
    if (bytes) {
        ws->data = tfm__alloc_nozero(ctx, bytes);
        if (!ws->data) {
            tfm__free(ctx, ws, sizeof *ws);
            return tfm__err(ctx, TFM_ERR_NOMEM, "workspace: out of memory, cannot allocate %zu bytes",
                            bytes);
        }
    }
    *out = ws;
    return TFM_OK;
}

void tfm_workspace_free(tfm_workspace *ws) {
    tfm_ctx *ctx;
    if (!ws) return;
    ctx = ws->ctx;
    if (ws->data) tfm__free(ctx, ws->data, ws->size);
    tfm__free(ctx, ws, sizeof *ws);
}

size_t tfm_workspace_size(const tfm_workspace *ws) { return ws ? ws->size : 0; }

// ---- arena ------------------------------------------------------------------------

void tfm__ws_add(size_t *total, int64_t n) {
    size_t bytes;
    if (*total == SIZE_MAX) return;
    if (n < 0 || !tfm__mul_size((size_t)n, sizeof(float), &bytes) ||
        bytes > SIZE_MAX - TFM__WS_ALIGN) {
        *total = SIZE_MAX;
        return;
    }
    bytes = (bytes + TFM__WS_ALIGN - 1) / TFM__WS_ALIGN * TFM__WS_ALIGN;
    if (*total > SIZE_MAX - bytes) *total = SIZE_MAX;
    else *total += bytes;
}

float *tfm__arena_f32(tfm__arena *a, int64_t n) {
    size_t bytes = 0;
    float *p;
    tfm__ws_add(&bytes, n);
    if (bytes == SIZE_MAX || a->size - a->used < bytes) return NULL;
    p = (float *)(void *)(a->base + a->used);
    a->used += bytes;
    return p;
}

tfm_status tfm__arena_open(tfm_ctx *ctx, tfm_workspace *ws, size_t need,
                           const char *what, tfm__arena *a, void **tmp) {
    *tmp = NULL;
    memset(a, 0, sizeof *a);
    if (need == SIZE_MAX || need == 0)
        return tfm__err(ctx, TFM_ERR_RANGE, "%s: workspace size overflows", what);
    if (ws) {
        if (ws->size < need)
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "%s: workspace of %zu bytes is too small, this call needs %zu",
                            what, ws->size, need);
        a->base = (char *)ws->data;
        a->size = ws->size;
        return TFM_OK;
    }
    *tmp = tfm__alloc_nozero(ctx, need);
    if (!*tmp)
        return tfm__err(ctx, TFM_ERR_NOMEM, "%s: out of memory, cannot allocate %zu bytes of workspace",
                        what, need);
    a->base = (char *)*tmp;
    a->size = need;
    return TFM_OK;
}

void tfm__arena_close(tfm_ctx *ctx, void *tmp, size_t need) {
    if (tmp) tfm__free(ctx, tmp, need);
}
