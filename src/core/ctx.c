/*
 * Context: parameters, allocator hooks, error messages, logging, versions.
 */
#define _POSIX_C_SOURCE 200112L
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- status and version ------------------------------------------------------

const char *tfm_status_str(tfm_status status) {
    switch (status) {
    case TFM_OK: return "ok";
    case TFM_ERR_NOMEM: return "out of memory";
    case TFM_ERR_INVALID_ARG: return "invalid argument";
    case TFM_ERR_SHAPE: return "shape mismatch";
    case TFM_ERR_DTYPE: return "unsupported dtype";
    case TFM_ERR_IO: return "i/o error";
    case TFM_ERR_FORMAT: return "malformed input";
    case TFM_ERR_MISUSE: return "misuse of the API";
    case TFM_ERR_RANGE: return "value out of range";
    case TFM_ERR_UNSUPPORTED: return "unsupported";
    case TFM_ERR_NOT_FOUND: return "not found";
    case TFM_ABORTED: return "aborted";
    case TFM_ERR_NUMERIC: return "non-finite value";
    }
    return "unknown status";
}

int tfm_version_number(void) { return TFM_VERSION_NUMBER; }

void tfm_version(int *major, int *minor, int *patch) {
    if (major) *major = TFM_VERSION_MAJOR;
    if (minor) *minor = TFM_VERSION_MINOR;
    if (patch) *patch = TFM_VERSION_PATCH;
}

const char *tfm_version_string(void) { return TFM_VERSION_STRING; }

// ---- default allocator -------------------------------------------------------

// The libc allocator behind the hook when the host gives none. posix_memalign
// has no realloc, so a resize allocates, copies and frees.
static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize,
                           size_t align) {
    void *p = NULL;
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, nsize) != 0) return NULL;
    if (ptr) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        free(ptr);
    }
    return p;
}

void tfm_ctx_params_init(tfm_ctx_params *dst, size_t struct_size) {
    tfm_ctx_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.n_threads = 1;
    p.log_level = TFM_LOG_WARN;
    p.alloc = NULL;
    p.alloc_ud = NULL;
    p.alignment = 64;
    p.log = NULL;
    p.log_ud = NULL;
    p.check_finite = 0;
    p.max_memory = 0;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

// ---- context -------------------------------------------------------------------

tfm_status tfm_ctx_create(const tfm_ctx_params *params, tfm_ctx **out) {
    tfm_ctx_params p = tfm_ctx_params_default();
    tfm_ctx tmp, *ctx;
    tfm_status st = TFM_OK;

    if (!out) return TFM_ERR_INVALID_ARG;
    *out = NULL;
    // No ctx yet to hold a message: the code alone.
    if (tfm__params_read(NULL, &p, sizeof p, params, "ctx_create: params") != TFM_OK)
        return TFM_ERR_INVALID_ARG;
    if (p.n_threads < 1 || p.n_threads > 1024) return TFM_ERR_INVALID_ARG;
    if (p.alignment < sizeof(void *) || (p.alignment & (p.alignment - 1)))
        return TFM_ERR_INVALID_ARG;
    if (!p.alloc) p.alloc = default_alloc;
    if (p.check_finite != 0 && p.check_finite != 1) return TFM_ERR_INVALID_ARG;

    // Allocate the context itself through the host's hook.
    memset(&tmp, 0, sizeof tmp);
    tmp.params = p;
    ctx = (tfm_ctx *)tfm__alloc(&tmp, sizeof *ctx);
    if (!ctx) return TFM_ERR_NOMEM;
    ctx->params = p;
    ctx->err[0] = '\0';
    ctx->held = tmp.held;
    ctx->refused = 0;
    ctx->pool = tfm__pool_create(ctx, p.n_threads, &st);
    if (!ctx->pool) {
        tmp = *ctx; // the allocator must outlive the struct it frees
        tfm__free(&tmp, ctx, sizeof *ctx);
        return st;
    }
    *out = ctx;
    return TFM_OK;
}

void tfm_ctx_free(tfm_ctx *ctx) {
    if (!ctx) return;
    tfm__pool_free(ctx->pool);
    ctx->pool = NULL;
    if (ctx->held != sizeof *ctx && ctx->params.log && ctx->params.log_level >= TFM_LOG_WARN) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "ctx_free: %lld bytes allocated through this context are still held",
                 (long long)ctx->held - (long long)sizeof *ctx);
        ctx->params.log(ctx->params.log_ud, TFM_LOG_WARN, msg);
    }
    {
        tfm_ctx tmp = *ctx; // the allocator must outlive the struct it frees
        tfm__free(&tmp, ctx, sizeof *ctx);
    }
}

const char *tfm_ctx_last_error(const tfm_ctx *ctx) {
    return ctx ? ctx->err : "";
}

int tfm_ctx_n_threads(const tfm_ctx *ctx) {
    return ctx ? ctx->params.n_threads : 1;
}

// ---- errors and log ------------------------------------------------------------

static tfm_status err_v(tfm_ctx *ctx, tfm_status status, const char *fmt, va_list ap) {
    if (!ctx) return status;
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    if (status == TFM_ERR_NOMEM && ctx->refused) {
        size_t n = strlen(ctx->err);
        snprintf(ctx->err + n, sizeof ctx->err - n,
                 " (max_memory: %zu bytes asked with %zu held, over the cap of %zu)",
                 ctx->refused, ctx->held, ctx->params.max_memory);
        ctx->refused = 0;
    }
    if (ctx->params.log && ctx->params.log_level >= TFM_LOG_ERROR)
        ctx->params.log(ctx->params.log_ud, TFM_LOG_ERROR, ctx->err);
    return status;
}

tfm_status tfm__err(tfm_ctx *ctx, tfm_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    status = err_v(ctx, status, fmt, ap);
    va_end(ap);
    return status;
}

tfm_status tfm__err_wrap(tfm_ctx *ctx, tfm_status status, const char *fmt, ...) {
    char prev[TFM__ERRMSG_SIZE], head[TFM__ERRMSG_SIZE];
    va_list ap;
    if (!ctx) return status;
    memcpy(prev, ctx->err, sizeof prev);
    prev[sizeof prev - 1] = '\0';
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    if (!prev[0]) return tfm__err(ctx, status, "%s", head);
    return tfm__err(ctx, status, "%s: %s", head, prev);
}

// ---- allocation ----------------------------------------------------------------

// 1 when max_memory lets the ctx hold `more` bytes more (else the request
// is kept for the message of the TFM_ERR_NOMEM that follows).
static int within_cap(tfm_ctx *ctx, size_t more) {
    size_t cap = ctx->params.max_memory;
    if (cap && (ctx->held > cap || more > cap - ctx->held)) {
        ctx->refused = more;
        return 0;
    }
    ctx->refused = 0;
    return 1;
}

void *tfm__alloc_nozero(tfm_ctx *ctx, size_t size) {
    void *p;
    if (size == 0) size = 1;
    if (!ctx) return default_alloc(NULL, NULL, 0, size, 64);
    if (!within_cap(ctx, size)) return NULL;
    p = ctx->params.alloc(ctx->params.alloc_ud, NULL, 0, size, ctx->params.alignment);
    if (p) ctx->held += size;
    return p;
}

void *tfm__alloc(tfm_ctx *ctx, size_t size) {
    void *p = tfm__alloc_nozero(ctx, size);
    if (p) memset(p, 0, size);
    return p;
}

void *tfm__realloc(tfm_ctx *ctx, void *ptr, size_t osize, size_t nsize) {
    void *p;
    if (!ptr) return tfm__alloc_nozero(ctx, nsize);
    if (nsize == 0) nsize = 1;
    if (osize == 0) osize = 1;
    if (!ctx) return default_alloc(NULL, ptr, osize, nsize, 64);
    if (nsize > osize && !within_cap(ctx, nsize - osize)) return NULL;
    p = ctx->params.alloc(ctx->params.alloc_ud, ptr, osize, nsize, ctx->params.alignment);
    if (p) ctx->held = ctx->held - osize + nsize;
    return p;
}

void tfm__free(tfm_ctx *ctx, void *ptr, size_t size) {
    if (!ptr) return;
    if (size == 0) size = 1;
    if (!ctx) {
        default_alloc(NULL, ptr, size, 0, 64);
        return;
    }
    ctx->params.alloc(ctx->params.alloc_ud, ptr, size, 0,
                      ctx->params.alignment);
    ctx->held -= size;
}

char *tfm__strndup(tfm_ctx *ctx, const char *s, size_t n) {
    char *p = (char *)tfm__alloc_nozero(ctx, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tfm__strdup(tfm_ctx *ctx, const char *s) {
    return tfm__strndup(ctx, s, strlen(s));
}

int tfm__mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}

int tfm__mul_i64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return 0;
    if (a != 0 && b > INT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

// ---- parallel helpers ----------------------------------------------------------

void tfm__parallel(tfm_ctx *ctx, tfm__task_fn fn, void *arg, int nth) {
    if (nth < 1) nth = 1;
    if (!ctx || !ctx->pool || nth == 1) {
        int i;
        for (i = 0; i < nth; i++) fn(arg, i, nth);
        return;
    }
    tfm__pool_run(ctx->pool, fn, arg, nth);
}

void tfm__split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t base = n / nth, rem = n % nth;
    *lo = ith * base + (ith < rem ? ith : rem);
    *hi = *lo + base + (ith < rem ? 1 : 0);
}
