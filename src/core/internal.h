/*
 * Internal declarations shared by the whole library (never installed).
 * Names: tfm__* for internal functions and types.
 */
#ifndef TFM_INTERNAL_H
#define TFM_INTERNAL_H

#include "transformer.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#  define TFM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#  define TFM__UNUSED __attribute__((unused))
#else
#  define TFM__PRINTF(a, b)
#  define TFM__UNUSED
#endif

#define TFM__ERRMSG_SIZE 512

/* Internal tfm_tensor dtypes of quantized matrices (never accepted by the
 * public API): a 2-D [N, K] tensor (N outputs, K inputs) whose data is the
 * panels of src/kernels/kernels.h ("quantized weights"); strides unused. */
#define TFM__Q8 100
#define TFM__Q4 101
#include "qlayout.h"

/* Whether AMX tiles may be used: the CPU has AMX-INT8 and the OS granted
 * this process the tile state (asked once; cpu.c). Thread-safe. */
int tfm__amx_enable(void);

/* ---- thread pool (pool.c) ------------------------------------------------*/

typedef struct tfm__pool tfm__pool;

/* A task receives its index ith in [0, nth) and the shared argument. */
typedef void (*tfm__task_fn)(void *arg, int ith, int nth);

/* Starts n_threads - 1 workers (none when n_threads == 1 or built with
 * THREADS=0). Returns NULL with *status set on failure. */
tfm__pool *tfm__pool_create(tfm_ctx *ctx, int n_threads, tfm_status *status);
void tfm__pool_free(tfm__pool *pool);
/* Runs fn(arg, i, nth) for i in [0, nth) and returns when all are done. The
 * calling thread runs task 0 itself. nth may be any positive number; tasks
 * beyond the pool's thread count are run by whichever thread is free. */
void tfm__pool_run(tfm__pool *pool, tfm__task_fn fn, void *arg, int nth);

/* ---- context -------------------------------------------------------------*/

struct tfm_ctx {
    tfm_ctx_params params;
    tfm__pool *pool;
    char err[TFM__ERRMSG_SIZE];
    size_t held;          // bytes allocated through the ctx and not freed
    size_t refused;       // the request max_memory refused last (0: none
                          // since the last allocation), for the message
};

/* Records the message (printf-style) as the context's last error, logs it
 * at ERROR level, and returns `status` so callers can `return tfm__err(...)`.
 * ctx may be NULL (then only the code is returned). */
tfm_status tfm__err(tfm_ctx *ctx, tfm_status status, const char *fmt, ...)
    TFM__PRINTF(3, 4);
/* Adds context to the last error: the message becomes "<fmt...>: <previous
 * message>" (just "<fmt...>" when there was none), logged and returned as
 * tfm__err does. The one way to add context: the previous message is copied
 * before the new one is written, so no buffer is read while it is written. */
tfm_status tfm__err_wrap(tfm_ctx *ctx, tfm_status status, const char *fmt, ...)
    TFM__PRINTF(3, 4);

/* Allocation through the context's hook. tfm__alloc returns zero-filled
 * memory aligned to the ctx's alignment (or NULL). Sizes must be passed back
 * to tfm__free exactly. With ctx == NULL libc is used. */
void *tfm__alloc(tfm_ctx *ctx, size_t size);
void *tfm__alloc_nozero(tfm_ctx *ctx, size_t size);
void *tfm__realloc(tfm_ctx *ctx, void *ptr, size_t osize, size_t nsize);
void tfm__free(tfm_ctx *ctx, void *ptr, size_t size);
/* NUL-terminated copy of s (or of its first n bytes) with the ctx allocator;
 * free with tfm__free(ctx, p, strlen(p) + 1). */
char *tfm__strdup(tfm_ctx *ctx, const char *s);
char *tfm__strndup(tfm_ctx *ctx, const char *s, size_t n);

/* Overflow-checked size arithmetic: return 0 on overflow. */
int tfm__mul_size(size_t a, size_t b, size_t *out);
int tfm__mul_i64(int64_t a, int64_t b, int64_t *out);

/* FNV-1a hash of s[0, n), for the loaders' open-addressing tables. */
static inline uint32_t tfm__hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Runs fn over nth tasks on the context's pool (serially without one). */
void tfm__parallel(tfm_ctx *ctx, tfm__task_fn fn, void *arg, int nth);
/* Splits [0, n) into nth near-equal ranges; task ith gets [*lo, *hi). */
void tfm__split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi);

/* ---- parameter structs (params.c) ----------------------------------------*/

/* tfm_X_init: writes min(dst_size, def_size) bytes of the defaults `def`
 * into dst, zeroes the rest of dst_size and stores the bytes written in the
 * leading struct_size field. dst NULL or dst_size < sizeof(size_t): no-op. */
void tfm__params_init(void *dst, size_t dst_size, const void *def,
                      size_t def_size);
/* Reads a caller's parameter struct `src` (NULL: keep the defaults) over the
 * library's defaults already in dst (dst_size = the library's sizeof): only
 * the src->struct_size bytes the caller's version has, so fields it does not
 * know keep their defaults; dst's struct_size becomes dst_size. A
 * struct_size below sizeof(size_t) or above dst_size is TFM_ERR_INVALID_ARG
 * with a message naming `what` ("mha: weights"). */
tfm_status tfm__params_read(tfm_ctx *ctx, void *dst, size_t dst_size,
                            const void *src, const char *what);
/* tfm__params_read into a struct variable (not a pointer). */
#define TFM__PARAMS_READ(ctx, dst, src, what)                                  \
    tfm__params_read((ctx), &(dst), sizeof(dst), (src), (what))
/* Writes the library's filled output struct `src` (src_size = the
 * library's sizeof) into a caller's output struct `dst` (tfm_gen_stats,
 * tfm_safetensors_info): at most dst->struct_size bytes, the size the caller
 * set, so a caller built against an older, smaller struct is never
 * overrun; dst's struct_size becomes the bytes written (min of the two). A
 * struct_size below sizeof(size_t) writes nothing and gives
 * TFM_ERR_INVALID_ARG (no message: callers name the struct). */
tfm_status tfm__out_write(void *dst, const void *src, size_t src_size);

/* ---- tensors (tensor.c) --------------------------------------------------*/

/* Shape of t as a string "[2, 3, 4]" into buf; returns buf. */
const char *tfm__shape_str(const tfm_tensor *t, char *buf, size_t size);
/* Checks t is non-NULL, has dtype and ndim in [min_dims, max_dims]; on
 * failure records an error naming `what` (e.g. "softmax: x") and returns it. */
tfm_status tfm__check_tensor(tfm_ctx *ctx, const tfm_tensor *t, tfm_dtype dt,
                             int min_dims, int max_dims, const char *what);
/* Checks a and b have the same shape. */
tfm_status tfm__check_same_shape(tfm_ctx *ctx, const tfm_tensor *a,
                                 const tfm_tensor *b, const char *op,
                                 const char *an, const char *bn);
/* With the context's check_finite on: scans the F32 tensor t (contiguous or
 * not) and returns TFM_ERR_NUMERIC "<what> holds nan at [i, j, ...]" at its
 * first NaN or infinity. TFM_OK when the check is off or t is not F32. */
tfm_status tfm__check_finite(tfm_ctx *ctx, const tfm_tensor *t, const char *what);
/* The same on rows x cols contiguous floats at p. */
tfm_status tfm__check_finite_rows(tfm_ctx *ctx, const float *p, int64_t rows, int64_t cols,
                                  const char *what);
/* Number of rows when the last dim is seen as the row: numel / shape[-1]. */
int64_t tfm__rows(const tfm_tensor *t);
/* Pointer to the start of row r (0 <= r < tfm__rows(t)) of t, whose last
 * dimension must have stride 1. */
void *tfm__row_ptr(const tfm_tensor *t, int64_t r);
/* Offset in elements of the i-th element (row-major order) of t. */
int64_t tfm__elem_offset(const tfm_tensor *t, int64_t i);

/* ---- workspaces and the arena (workspace.c) -----------------------------*/

struct tfm_workspace {
    tfm_ctx *ctx;
    void *data;
    size_t size;
};

// A bump allocator over a workspace. Buffers are rounded to 64 bytes, so a
// size computed with tfm__ws_add matches what tfm__arena_f32 hands out.
typedef struct tfm__arena {
    char *base;
    size_t size, used;
} tfm__arena;

#define TFM__WS_ALIGN 64

// Adds the bytes of n floats (rounded) to *total; sets *total to SIZE_MAX on
// overflow (sticky).
void tfm__ws_add(size_t *total, int64_t n);
// n floats from the arena (NULL when it is exhausted: a sizing bug).
float *tfm__arena_f32(tfm__arena *a, int64_t n);

// Opens an arena of `need` bytes: from ws (checked: TFM_ERR_RANGE naming
// `what` when too small) or, with ws NULL, a temporary allocation stored in
// *tmp (free with tfm__arena_close).
tfm_status tfm__arena_open(tfm_ctx *ctx, tfm_workspace *ws, size_t need,
                           const char *what, tfm__arena *a, void **tmp);
void tfm__arena_close(tfm_ctx *ctx, void *tmp, size_t need);

/* ---- tensor views and masks (tensor.c) ----------------------------------*/

// Fills a caller-owned struct as an f32 view of `data` with the given
// shape and strides (elements).
void tfm__view(tfm_tensor *t, float *data, int ndim, const int64_t *shape,
               const int64_t *stride);
// Contiguous f32 view.
void tfm__view_c(tfm_tensor *t, float *data, int ndim, const int64_t *shape);
// Checks an optional u8/i32 [B, S] padding mask; name for messages.
tfm_status tfm__check_pad_mask(tfm_ctx *ctx, const tfm_tensor *m, int64_t b,
                               int64_t s, const char *what);
// 1 when element (b, s) of a u8/i32 padding mask is nonzero.
int tfm__pad_at(const tfm_tensor *m, int64_t b, int64_t s);

/* ---- safetensors (io/safetensors.c) -------------------------------------*/

// Bytes of the data sections of the set's files (0 for NULL).
uint64_t tfm__safetensors_data_bytes(const tfm_safetensors *st);

#endif /* TFM_INTERNAL_H */
