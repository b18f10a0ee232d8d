/*
 * libtransformer -- transformer inference on the CPU, in C99.
 *
 * This header is the whole public API and its documentation. Anything not
 * declared here is internal and may change without notice.
 *
 * ---------------------------------------------------------------------------
 * A complete example
 * ---------------------------------------------------------------------------
 *
 *     #include <transformer.h>
 *     #include <stdio.h>
 *
 *     int main(void) {
 *         tfm_ctx *ctx;
 *         tfm_ctx_params p = tfm_ctx_params_default();
 *         p.n_threads = 2;
 *         if (tfm_ctx_create(&p, &ctx) != TFM_OK) return 1;
 *
 *         float xs[2 * 3] = {1, 2, 3, 4, 5, 6};
 *         float ys[2 * 3];
 *         int64_t shape[2] = {2, 3};
 *         tfm_tensor x, y;
 *         tfm_tensor_wrap(&x, TFM_F32, 2, shape, xs);   // borrows xs
 *         tfm_tensor_wrap(&y, TFM_F32, 2, shape, ys);
 *         if (tfm_softmax(ctx, &x, NULL, &y) != TFM_OK)
 *             fprintf(stderr, "%s\n", tfm_ctx_last_error(ctx));
 *
 *         tfm_ctx_free(ctx);
 *         return 0;
 *     }
 *
 * ---------------------------------------------------------------------------
 * Conventions
 * ---------------------------------------------------------------------------
 *  - Every fallible call returns tfm_status; TFM_OK (0) means success.
 *    Objects come back through an `out` pointer, which is set to NULL on
 *    failure. After a failure tfm_ctx_last_error(ctx) says what went wrong.
 *  - The library never aborts, exits or prints. Messages reach the host only
 *    through the log callback it installs in tfm_ctx_params.
 *  - Destructors (`*_free`, `*_close`) accept NULL and do nothing with it.
 *  - Parameter structs (tfm_X: tfm_ctx_params, tfm_mha_weights, ...) start
 *    with `size_t struct_size` and only ever grow at their end. Fill one with
 *    `tfm_X_init(&p, sizeof p)` (exported: it writes the defaults into the
 *    first `sizeof p` bytes only, never more, and sets p.struct_size to the
 *    bytes it wrote; NULL or a size below sizeof(size_t) does nothing) or
 *    `p = tfm_X_default()` (an inline function in this header that calls
 *    tfm_X_init with the caller's own size), then set the fields you need.
 *    Hosts using the library through an FFI call tfm_X_init. A function
 *    given such a struct reads only its first struct_size bytes: fields the
 *    caller's version does not know keep their defaults. A struct_size below
 *    sizeof(size_t) or above the library's own size is TFM_ERR_INVALID_ARG.
 *    A struct embedded in another one (tfm_attn_params.masks, the weights in
 *    tfm_layer_weights) is read as part of the outer one.
 *  - Output structs the caller provides and the library fills
 *    (tfm_safetensors_info, tfm_gen_stats) start with `size_t struct_size`
 *    too, which the CALLER sets before the call: tfm_X_init(&s, sizeof s),
 *    `s = tfm_X_default()`, or `s.struct_size = sizeof s`. The library writes
 *    at most struct_size bytes of the struct (fields the caller's version
 *    does not know are never written, so an older program's smaller struct
 *    is not overrun) and sets struct_size to the bytes it wrote: the
 *    caller's size, or the library's own when the caller's struct is larger
 *    (the bytes past it are left as they were). A struct_size below
 *    sizeof(size_t) is TFM_ERR_INVALID_ARG and nothing is written.
 *    Results the library allocates and returns through a pointer
 *    (tfm_batch, tfm_translate_result, ...) are the library's own objects,
 *    read by the caller: they carry no struct_size. tfm_tensor is neither:
 *    a fixed-layout value struct that every call reads and tfm_tensor_wrap
 *    and tfm_safetensors_get fill whole; its layout does not change within
 *    a MAJOR version (0.MINOR during 0.x); `reserved` keeps room.
 *  - Threads: a tfm_ctx is used by one thread at a time (it holds the last
 *    error and the thread pool). Functions that take no ctx and are marked
 *    "thread-safe" may be called from anywhere.
 *  - fork(): in a child process, a ctx, model, session or tokenizer made
 *    before the fork works as in the parent (a ctx's pool starts its
 *    threads again at its first parallel call in the child) and is freed
 *    there as usual; one that another thread of the parent was using at
 *    the moment of the fork must not be used in the child (its state is
 *    that of an unfinished call).
 *
 * ---------------------------------------------------------------------------
 * The tensor memory model
 * ---------------------------------------------------------------------------
 *  A tfm_tensor is a plain struct: a dtype, 1 to 4 dimensions, a shape and a
 *  stride per dimension (counted in ELEMENTS, not bytes), and a data pointer.
 *  Dimension 0 is the outermost: a [rows, cols] matrix stored row-major has
 *  strides {cols, 1}. A tensor either owns its data (created with
 *  tfm_tensor_create; tfm_tensor_free releases both) or borrows it (wrapped
 *  host memory or a view of another tensor; the owner must outlive it).
 *  Operations write into output tensors the caller provides, so a forward
 *  pass allocates nothing.
 */
#ifndef TRANSFORMER_H
#define TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

/* ---- version -------------------------------------------------------------*/
#define TFM_VERSION_MAJOR 0
#define TFM_VERSION_MINOR 2
#define TFM_VERSION_PATCH 0
#define TFM_VERSION_NUMBER \
    (TFM_VERSION_MAJOR * 1000000 + TFM_VERSION_MINOR * 1000 + TFM_VERSION_PATCH)
#define TFM_VERSION_STRING "0.2.0"

/* ---- export macros -------------------------------------------------------*/
#if defined(_WIN32) && defined(TFM_SHARED)
#  ifdef TFM_BUILD
#    define TFM_API __declspec(dllexport)
#  else
#    define TFM_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define TFM_API __attribute__((visibility("default")))
#else
#  define TFM_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define TFM_DEPRECATED(func, hint) func __attribute__((deprecated(hint)))
#else
#  define TFM_DEPRECATED(func, hint) func
#endif

/* Defaults of a parameter struct tfm_X: the exported tfm_X_init(&p,
 * sizeof p) writes them into the caller's struct, never past the size it is
 * given; tfm_X_default() is an inline wrapper, compiled into the caller, so
 * the size is always the caller's own (see Conventions). */
#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#  define TFM_INLINE inline
#elif defined(__GNUC__) || defined(__clang__)
#  define TFM_INLINE __inline__
#elif defined(_MSC_VER)
#  define TFM_INLINE __inline
#else
#  define TFM_INLINE
#endif
#define TFM_PARAMS_DEFAULT(T)                                                  \
    static TFM_INLINE T T##_default(void) {                                    \
        T p_;                                                                  \
        T##_init(&p_, sizeof p_);                                              \
        return p_;                                                             \
    }

#ifdef __cplusplus
extern "C" {
#endif

/* ==========================================================================
 * Status codes and versions
 * ========================================================================== */

/* Result of every fallible call. Values below 100 are stable forever. */
typedef enum tfm_status {
    TFM_OK = 0,
    TFM_ERR_NOMEM = 1,       /* an allocation failed                         */
    TFM_ERR_INVALID_ARG = 2, /* NULL where a value is needed, bad value       */
    TFM_ERR_SHAPE = 3,       /* shapes do not fit together                    */
    TFM_ERR_DTYPE = 4,       /* a dtype the call does not accept              */
    TFM_ERR_IO = 5,          /* a file exists but could not be opened, read
                                or mapped (a path that does not exist is
                                TFM_ERR_NOT_FOUND, for every loader)         */
    TFM_ERR_FORMAT = 6,      /* a file or text is malformed or lies           */
    TFM_ERR_MISUSE = 7,      /* calls made in an order that is not allowed    */
    TFM_ERR_RANGE = 8,       /* a value past a limit (sequence length, id)    */
    TFM_ERR_UNSUPPORTED = 9, /* valid input this build cannot handle          */
    TFM_ERR_NOT_FOUND = 10,  /* a named item (tensor, file, field) is absent;
                                also a file or folder that does not exist   */
    TFM_ABORTED = 11,        /* the host's abort callback asked to stop       */
    TFM_ERR_NUMERIC = 12     /* a NaN or infinity appeared in a model's
                                activations (only with the context's
                                check_finite on); the message names where   */
} tfm_status;

/* A static English string for a status code ("out of memory"); never NULL,
 * "unknown status" for codes it does not know. Thread-safe. */
TFM_API const char *tfm_status_str(tfm_status status);

/* TFM_VERSION_NUMBER of the library actually linked, to compare with the
 * header's macro. Thread-safe. */
TFM_API int tfm_version_number(void);
/* Major, minor and patch of the linked library; any pointer may be NULL.
 * Thread-safe. */
TFM_API void tfm_version(int *major, int *minor, int *patch);
/* "0.2.0"; static storage. Thread-safe. */
TFM_API const char *tfm_version_string(void);

/* ==========================================================================
 * CPU features and kernels
 * ========================================================================== */

/* Bits of tfm_cpu_features(). */
#define TFM_CPU_SSE2       (1u << 0)
#define TFM_CPU_AVX        (1u << 1)
#define TFM_CPU_AVX2       (1u << 2)
#define TFM_CPU_FMA        (1u << 3)
#define TFM_CPU_F16C       (1u << 4)
#define TFM_CPU_AVX512F    (1u << 5)
#define TFM_CPU_AVX512BW   (1u << 6)
#define TFM_CPU_AVX512VL   (1u << 7)
#define TFM_CPU_AVX512DQ   (1u << 8)
#define TFM_CPU_AVX512VNNI (1u << 9)
#define TFM_CPU_AVX512BF16 (1u << 10)
#define TFM_CPU_AVXVNNI    (1u << 11) /* VEX int8 dot product (AVX-VNNI)  */
#define TFM_CPU_AMXINT8    (1u << 12) /* AMX tiles with int8 products,
                                         enabled by the OS               */
#define TFM_CPU_NEON       (1u << 16)
#define TFM_CPU_ASIMDHP    (1u << 17) /* aarch64 fp16 arithmetic */
#define TFM_CPU_ASIMDDP    (1u << 18) /* aarch64 dot product     */

/* The features this CPU and operating system support (for x86-64: cpuid
 * plus xgetbv, so a wide register set the OS does not save counts as absent).
 * Detected once. Thread-safe. */
TFM_API uint32_t tfm_cpu_features(void);

/* Writes the names of the feature bits set in `features`, separated by
 * spaces ("sse2 avx avx2 fma ..."), into buf (always NUL-terminated when
 * size > 0). Returns the length the full string needs, like snprintf.
 * Thread-safe. */
TFM_API size_t tfm_cpu_features_str(uint32_t features, char *buf, size_t size);

/* Name of the kernel set in use: "ref", "avx2", "avx512" or "neon". It is the
 * best set the CPU supports, unless the environment variable TFM_ARCH names
 * another (an unsupported or unknown name falls back to the best set, and
 * tfm_kernels_forced() then returns 0). Chosen once per process.
 * Thread-safe. */
TFM_API const char *tfm_kernels_name(void);
/* 1 when TFM_ARCH chose the kernel set, 0 when it was picked automatically.
 * Thread-safe. */
TFM_API int tfm_kernels_forced(void);
/* 1 when the named kernel set ("ref", "avx2", ...) is compiled in and the CPU
 * can run it. Thread-safe. */
TFM_API int tfm_kernels_supported(const char *name);

/* ==========================================================================
 * Context: allocator, threads, log, last error
 * ========================================================================== */

typedef struct tfm_ctx tfm_ctx;

/* Allocator hook, realloc-shaped as Lua's lua_Alloc, with an alignment:
 *   nsize == 0: free ptr (osize is its size); return NULL.
 *   ptr == NULL: allocate nsize bytes aligned to `align` (a power of two).
 *   otherwise: resize ptr from osize to nsize bytes, keeping the contents
 *              and the alignment.
 * Return NULL on failure (and only then, for nsize > 0); the library then
 * returns TFM_ERR_NOMEM. `ud` is tfm_ctx_params.alloc_ud. */
typedef void *(*tfm_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize,
                              size_t align);

/* Log levels. */
#define TFM_LOG_ERROR 0
#define TFM_LOG_WARN  1
#define TFM_LOG_INFO  2
#define TFM_LOG_DEBUG 3

/* Log callback: `msg` is one line without the newline, valid during the call. */
typedef void (*tfm_log_fn)(void *ud, int level, const char *msg);

typedef struct tfm_ctx_params {
    size_t struct_size;  /* sizeof(tfm_ctx_params), set by _default()      */
    int32_t n_threads;   /* threads for compute, >= 1 (default 1)           */
    int32_t log_level;   /* highest level passed to `log` (default WARN)    */
    tfm_alloc_fn alloc;  /* NULL: the C library's allocator                 */
    void *alloc_ud;      /* passed to alloc                                 */
    size_t alignment;    /* alignment of large buffers (default 64; power of
                            two, at least sizeof(void *))                    */
    tfm_log_fn log;      /* NULL: no logging                                */
    void *log_ud;        /* passed to log                                   */
    int32_t check_finite; /* 1: a model call checks its activations (the
                            embeddings, each attention and feed-forward
                            block, each layer's output, the head) and
                            returns TFM_ERR_NUMERIC naming the first one
                            that holds a NaN or infinity (default 0: values
                            propagate as in PyTorch; costs one read of each
                            activation)                                     */
    size_t max_memory;    /* the most bytes the library holds allocated
                            through this ctx at once (the ctx itself, the
                            models, sessions, tensors and results made
                            with it, and the scratch of its calls; mapped
                            weight files are not allocations): a request
                            past it fails with TFM_ERR_NOMEM, the message
                            giving the request, the bytes held and the
                            cap. 0 (default): no cap                       */
} tfm_ctx_params;

/* Default parameters: 1 thread, libc allocator, 64-byte alignment, no log.
 * Thread-safe. */
TFM_API void tfm_ctx_params_init(tfm_ctx_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_ctx_params)

/* Creates a context: the allocator, the thread pool (n_threads - 1 workers
 * that wait up to 0.1 ms for the next piece of work without sleeping, then
 * sleep while idle; none in a build without threads, which then runs
 * serially) and the last-error buffer. `params` may be NULL for defaults.
 * *out is set to NULL on failure.
 * Errors: TFM_ERR_INVALID_ARG (out NULL, n_threads < 1, bad alignment or
 * struct_size), TFM_ERR_NOMEM, TFM_ERR_UNSUPPORTED (threads could not be
 * started). Thread-safe (contexts are independent). */
TFM_API tfm_status tfm_ctx_create(const tfm_ctx_params *params, tfm_ctx **out);

/* Stops the pool's threads and frees the context. Objects created with the
 * context (tensors, models, ...) must be freed first: bytes still held
 * through it are logged at WARN level ("ctx_free: N bytes allocated
 * through this context are still held"). NULL is a no-op. */
TFM_API void tfm_ctx_free(tfm_ctx *ctx);

/* The message of the last error on this context ("" if none yet). The
 * context owns the string; it stays valid until the next call on the
 * context. A NULL ctx gives "". */
TFM_API const char *tfm_ctx_last_error(const tfm_ctx *ctx);

/* Number of compute threads of the context (1 for NULL). */
TFM_API int tfm_ctx_n_threads(const tfm_ctx *ctx);

/* ==========================================================================
 * Tensors
 * ========================================================================== */

typedef enum tfm_dtype {
    TFM_F32 = 0,
    TFM_F16 = 1,  /* IEEE binary16                                          */
    TFM_BF16 = 2, /* bfloat16: the upper half of an f32                     */
    TFM_I8 = 3,   /* int8 with a scale: value = q * scale (per tensor) or
                     q * scales[row] (per row of the last dimension)       */
    TFM_I32 = 4,
    TFM_F64 = 5,  /* storage and conversion only                            */
    TFM_I64 = 6,  /* storage and conversion only                            */
    TFM_U8 = 7    /* storage and conversion only (also safetensors BOOL)   */
} tfm_dtype;

#define TFM_MAX_DIMS 4

/* Flag bits of tfm_tensor.flags. */
#define TFM_TENSOR_OWNS_DATA (1u << 0) /* data (and scales) freed with it  */
#define TFM_TENSOR_HEAP      (1u << 1) /* the struct itself was allocated  */

typedef struct tfm_tensor {
    int32_t dtype;                  /* tfm_dtype                             */
    int32_t ndim;                   /* 1..TFM_MAX_DIMS                       */
    int64_t shape[TFM_MAX_DIMS];    /* unused dims are 1                     */
    int64_t stride[TFM_MAX_DIMS];   /* in elements; unused dims are 0        */
    void *data;                     /* first element                         */
    float scale;                    /* TFM_I8: per-tensor scale (default 1)  */
    uint32_t flags;                 /* TFM_TENSOR_*                          */
    float *scales;                  /* TFM_I8: per-row scales, or NULL       */
    tfm_ctx *ctx;                   /* owner's context, NULL when borrowed   */
    void *reserved[2];
} tfm_tensor;

/* Size of one element of `dtype` in bytes; 0 for an unknown dtype.
 * Thread-safe. */
TFM_API size_t tfm_dtype_size(tfm_dtype dtype);
/* "f32", "f16", "bf16", "i8", "i32", "f64", "i64", "u8"; "?" otherwise.
 * Thread-safe. */
TFM_API const char *tfm_dtype_name(tfm_dtype dtype);

/* Allocates a contiguous row-major tensor of `ndim` dimensions with the
 * context's allocator, its data zero-filled and aligned to the context's
 * alignment. Free it with tfm_tensor_free.
 * Errors: TFM_ERR_INVALID_ARG (NULL pointers, ndim outside 1..4, a
 * dimension < 1), TFM_ERR_DTYPE, TFM_ERR_RANGE (element count or byte size
 * overflows), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_tensor_create(tfm_ctx *ctx, tfm_dtype dtype, int ndim,
                                     const int64_t *shape, tfm_tensor **out);

/* Fills a caller-owned struct `t` as a contiguous row-major tensor that
 * borrows `data` (which must hold the whole tensor). No allocation; nothing
 * to free. Returns TFM_ERR_INVALID_ARG for NULL t/shape, bad ndim or a
 * dimension < 1, TFM_ERR_RANGE when the element count overflows.
 * Thread-safe (touches only t). */
TFM_API tfm_status tfm_tensor_wrap(tfm_tensor *t, tfm_dtype dtype, int ndim,
                                   const int64_t *shape, void *data);

/* Creates a view of `src`: `ndim` dims of `shape` with `stride` (elements;
 * NULL means contiguous row-major), starting `offset` elements after
 * src->data. The view borrows src's data; every element it can reach must
 * lie inside src's own extent, which is checked. Free the view with
 * tfm_tensor_free (it frees only the struct).
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_SHAPE (the view reaches outside
 * src), TFM_ERR_RANGE, TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_tensor_view(tfm_ctx *ctx, const tfm_tensor *src,
                                   int ndim, const int64_t *shape,
                                   const int64_t *stride, int64_t offset,
                                   tfm_tensor **out);

/* Frees a tensor made by tfm_tensor_create or tfm_tensor_view (and the data,
 * when it owns it). NULL and wrapped (caller-owned) structs are no-ops. */
TFM_API void tfm_tensor_free(tfm_tensor *t);

/* Number of elements (product of the shape); 0 for NULL. */
TFM_API int64_t tfm_tensor_numel(const tfm_tensor *t);
/* 1 when the tensor is row-major contiguous (strides match its shape). */
TFM_API int tfm_tensor_is_contiguous(const tfm_tensor *t);

/* Copies src into dst element by element, converting between any two
 * dtypes (f32, f16, bf16, i8 via its scales, i32, f64, i64, u8). Shapes must
 * be equal; strides may differ. Float to f16/bf16 rounds to nearest even;
 * float to integer rounds to nearest and saturates (to i8: divides by dst's
 * scale first). Errors: TFM_ERR_INVALID_ARG, TFM_ERR_SHAPE, TFM_ERR_DTYPE. */
TFM_API tfm_status tfm_tensor_copy(tfm_ctx *ctx, const tfm_tensor *src,
                                   tfm_tensor *dst);

/* Scalar conversions (round to nearest even, NaN kept NaN). Thread-safe. */
TFM_API uint16_t tfm_f32_to_f16(float x);
TFM_API float tfm_f16_to_f32(uint16_t h);
TFM_API uint16_t tfm_f32_to_bf16(float x);
TFM_API float tfm_bf16_to_f32(uint16_t h);
/* Array conversions through the fastest kernels; n elements. Thread-safe. */
TFM_API void tfm_f16_to_f32_array(const uint16_t *src, float *dst, size_t n);
TFM_API void tfm_f32_to_f16_array(const float *src, uint16_t *dst, size_t n);
TFM_API void tfm_bf16_to_f32_array(const uint16_t *src, float *dst, size_t n);
TFM_API void tfm_f32_to_bf16_array(const float *src, uint16_t *dst, size_t n);

/* ==========================================================================
 * Tensor operations (f32)
 *
 * Each writes into `out`, a tensor the caller provides with the right shape
 * (any strides unless stated). `out` may alias an input only where stated.
 * Every op checks NULLs, dtypes and shapes and returns TFM_ERR_INVALID_ARG,
 * TFM_ERR_DTYPE or TFM_ERR_SHAPE with a message naming the mismatch. Work is
 * split over rows across the context's threads; results are bit-identical
 * for any thread count. Not thread-safe on one ctx. NaN and infinities
 * propagate as in PyTorch: an op never turns a NaN into a finite value (relu
 * of NaN is NaN; a softmax row with a NaN is NaN throughout).
 * ========================================================================== */

/* out = alpha * A · op(B) + beta * out (+ bias, broadcast over rows).
 * A: [..., M, K] (leading dims are flattened into M; rows may be strided
 * but each row contiguous in K). B: [K, N], or [N, K] with trans_b = 1 (the
 * layout of nn.Linear weights). bias: [N] or NULL. out: [..., M, N] with
 * the same leading dims as A. With beta == 0, out is not read (it may hold
 * NaN). */
TFM_API tfm_status tfm_matmul(tfm_ctx *ctx, const tfm_tensor *a,
                              const tfm_tensor *b, int trans_b,
                              const tfm_tensor *bias, float alpha, float beta,
                              tfm_tensor *out);

/* out = a + b. b has a's shape, or is broadcast from its trailing dims
 * (b [N] over a [..., N]; b [S, N] over a [B, S, N]). out may alias a. */
TFM_API tfm_status tfm_add(tfm_ctx *ctx, const tfm_tensor *a,
                           const tfm_tensor *b, tfm_tensor *out);
/* out = a * b elementwise, with tfm_add's broadcasting. out may alias a. */
TFM_API tfm_status tfm_mul(tfm_ctx *ctx, const tfm_tensor *a,
                           const tfm_tensor *b, tfm_tensor *out);
/* out = x * s. out may alias x. */
TFM_API tfm_status tfm_scale(tfm_ctx *ctx, const tfm_tensor *x, float s,
                             tfm_tensor *out);

/* Softmax over the last dimension, computed stably (max subtracted). `mask`
 * (NULL for none) is added to x before the softmax and broadcast from its
 * trailing dims like tfm_add's b (for example [S, S] over [B, H, S, S]);
 * -INFINITY masks a position out. A row whose every position is masked
 * (-inf) gives all zeros; a NaN anywhere in a row of x + mask makes that row
 * NaN, as in PyTorch. out may alias x. */
TFM_API tfm_status tfm_softmax(tfm_ctx *ctx, const tfm_tensor *x,
                               const tfm_tensor *mask, tfm_tensor *out);

/* LayerNorm over the last dimension N: (x - mean) / sqrt(var + eps) * gamma
 * + beta, with the biased variance as PyTorch. gamma, beta: [N] or NULL
 * (ones / zeros). out may alias x. */
TFM_API tfm_status tfm_layernorm(tfm_ctx *ctx, const tfm_tensor *x,
                                 const tfm_tensor *gamma,
                                 const tfm_tensor *beta, float eps,
                                 tfm_tensor *out);
/* RMSNorm over the last dimension: x / sqrt(mean(x^2) + eps) * gamma.
 * gamma: [N] or NULL. out may alias x. */
TFM_API tfm_status tfm_rmsnorm(tfm_ctx *ctx, const tfm_tensor *x,
                               const tfm_tensor *gamma, float eps,
                               tfm_tensor *out);

/* Activations, elementwise; out may alias x. */
typedef enum tfm_act {
    TFM_ACT_NONE = 0,
    TFM_ACT_RELU = 1,
    TFM_ACT_GELU = 2,      /* x * Phi(x), the erf form (PyTorch default)     */
    TFM_ACT_GELU_TANH = 3, /* the tanh approximation (GPT-2 "gelu_new")      */
    TFM_ACT_SILU = 4,      /* x * sigmoid(x), "swish"                        */
    TFM_ACT_TANH = 5,
    TFM_ACT_SIGMOID = 6
} tfm_act;
TFM_API tfm_status tfm_activation(tfm_ctx *ctx, tfm_act act,
                                  const tfm_tensor *x, tfm_tensor *out);
/* Shorthands for tfm_activation. */
TFM_API tfm_status tfm_relu(tfm_ctx *ctx, const tfm_tensor *x, tfm_tensor *out);
TFM_API tfm_status tfm_gelu(tfm_ctx *ctx, const tfm_tensor *x, tfm_tensor *out);
TFM_API tfm_status tfm_gelu_tanh(tfm_ctx *ctx, const tfm_tensor *x,
                                 tfm_tensor *out);
TFM_API tfm_status tfm_silu(tfm_ctx *ctx, const tfm_tensor *x, tfm_tensor *out);

/* Embedding gather: out[..., :] = table[ids[...], :]. table: [V, D] in f32,
 * f16 or bf16 (converted). ids: i32 of any shape [...]; out: [..., D] f32.
 * An id outside [0, V) is TFM_ERR_RANGE naming the id and its position. */
TFM_API tfm_status tfm_embedding(tfm_ctx *ctx, const tfm_tensor *table,
                                 const tfm_tensor *ids, tfm_tensor *out);

/* ==========================================================================
 * Prepacked matrices
 *
 * A weight matrix never changes, so it can be packed once, at load time, into
 * the layout the GEMM micro-kernels read (panels of a few columns over the
 * whole K), and every matmul with it then skips the packing and streams the
 * weights once. The layout belongs to the kernel set chosen at pack time
 * (tfm_kernels_name()); a packed matrix is immutable and may be shared by any
 * number of threads, each with its own ctx.
 * ========================================================================== */
typedef struct tfm_packed_matrix tfm_packed_matrix;

/* Packs op(B)[K, N] for tfm_matmul_packed: b is [K, N], or [N, K] with
 * trans_b = 1 (the layout of nn.Linear weights), rows may be strided but
 * each row contiguous. f32, or f16 / bf16 packed as they are (half the
 * memory and the traffic): the products widen them in registers and give
 * the bits they give for the same matrix widened to f32 first. b is copied
 * and may be freed afterwards. The packed
 * copy is allocated through ctx, which must outlive it (like a tensor from
 * tfm_tensor_create). *out is NULL on failure.
 * Errors: TFM_ERR_INVALID_ARG (NULLs), TFM_ERR_DTYPE, TFM_ERR_SHAPE (not 2-D,
 * last dimension strided), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_matrix_pack(tfm_ctx *ctx, const tfm_tensor *b,
                                   int trans_b, tfm_packed_matrix **out);
/* K and N of a packed matrix (0 for NULL). Thread-safe. */
TFM_API int64_t tfm_packed_matrix_rows(const tfm_packed_matrix *p);
TFM_API int64_t tfm_packed_matrix_cols(const tfm_packed_matrix *p);
/* Frees a packed matrix; NULL is a no-op. */
TFM_API void tfm_packed_matrix_free(tfm_packed_matrix *p);

/* tfm_matmul with a prepacked op(B): out = alpha * A . B + beta * out
 * (+ bias). A: [..., M, K]; out: [..., M, N]; bias: [N] or NULL. Rows of A
 * and out may be strided, each row contiguous. With beta == 0, out is not
 * read. M <= 8 (a decode step) takes a GEMV path that reads the weights once.
 * Results are bit-identical for any thread count (the work is split over
 * output tiles, never over K), but may differ in the last bits from
 * tfm_matmul with the same B for M <= 8.
 * Errors: as tfm_matmul (TFM_ERR_INVALID_ARG, _DTYPE, _SHAPE, _NOMEM). */
TFM_API tfm_status tfm_matmul_packed(tfm_ctx *ctx, const tfm_tensor *a,
                                     const tfm_packed_matrix *b,
                                     const tfm_tensor *bias, float alpha,
                                     float beta, tfm_tensor *out);

/* ==========================================================================
 * Safetensors
 *
 * Reads weights in the safetensors format (an 8-byte little-endian header
 * length, a JSON header {"name": {"dtype", "shape", "data_offsets"}, ...,
 * "__metadata__": {string: string}}, then the raw little-endian data).
 *
 * A tfm_safetensors is a SET of tensors: one file, one host buffer, or the
 * shards of a sharded checkpoint (model-0000N-of-0000M.safetensors listed by
 * model.safetensors.index.json), looked up as one namespace.
 *
 * Everything is validated at open, with messages naming the file and the
 * tensor ("safetensors: model.safetensors: tensor 'encoder.layer.3.
 * attention.self.query.weight': data offset 912 past end of data (640
 * bytes)"): the header length, the header JSON, each tensor's dtype, shape
 * (at most TFM_SAFETENSORS_MAX_DIMS dims, element and byte counts that do
 * not overflow) and data_offsets (two integers, begin <= end <= size of the
 * data, end - begin == the shape's bytes), tensors whose bytes overlap,
 * duplicate names, and __metadata__ (an object of strings).
 *
 * Ownership: tensor views BORROW the mapped file (or the host's buffer):
 * they stay valid until tfm_safetensors_close and must not be written to
 * (files are mapped read-only). Thread-safety: an opened set is immutable;
 * every lookup (count, name, find, info, get, metadata) may be called from
 * any number of threads at once, each with its own ctx. The ctx given to
 * open is used for the set's memory and must outlive it.
 * Data is little-endian; on a big-endian host open returns
 * TFM_ERR_UNSUPPORTED.
 * ========================================================================== */

typedef struct tfm_safetensors tfm_safetensors;

#define TFM_SAFETENSORS_MAX_DIMS 8

/* Description of one tensor of a set, filled by tfm_safetensors_info_at.
 * An output struct (see Conventions): set struct_size before the call, with
 * tfm_safetensors_info_init / _default or sizeof. Strings and data are
 * borrowed from the set (valid until close). */
typedef struct tfm_safetensors_info {
    size_t struct_size;     /* set by the caller (_init, _default, sizeof);
                               the library writes no more bytes than this  */
    const char *name;       /* tensor name                                  */
    const char *dtype_name; /* as in the file: "F32", "BF16", "I16", ...    */
    int32_t dtype;          /* tfm_dtype, or -1 when the library has none:
                               F32, F16, BF16, I8, U8, BOOL (-> TFM_U8),
                               I32, I64, F64 map; I16, U16, U32, U64, F8_*,
                               C64 are listed with -1                       */
    int32_t ndim;           /* 0 (a scalar) .. TFM_SAFETENSORS_MAX_DIMS     */
    int64_t shape[TFM_SAFETENSORS_MAX_DIMS]; /* unused dims are 0           */
    const void *data;       /* first byte (read-only)                       */
    uint64_t nbytes;        /* bytes of data                                */
    const char *file;       /* the file (or buffer name) that holds it      */
} tfm_safetensors_info;
/* Zeroes the struct and sets struct_size (as tfm_X_init of a parameter
 * struct: never past `struct_size` bytes). Thread-safe. */
TFM_API void tfm_safetensors_info_init(tfm_safetensors_info *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_safetensors_info)

/* Opens `path`, which is one of:
 *  - a .safetensors file;
 *  - an index file (a name ending in ".json", such as
 *    model.safetensors.index.json): its "weight_map" {tensor: shard file}
 *    names the shards, which are opened from the index's folder (shard names
 *    must be plain file names); every tensor the index lists must be in the
 *    shard it names, and a tensor name must not appear in two shards;
 *  - a folder: its model.safetensors.index.json if present, else its
 *    model.safetensors.
 * Files are memory-mapped read-only (mmap on POSIX); where mapping fails,
 * or where the file's header length leaves the data misaligned for its
 * dtypes, the data is read into memory instead.
 * *out is NULL on failure.
 * Errors: TFM_ERR_INVALID_ARG (NULL ctx/path/out), TFM_ERR_IO (a file that
 * exists cannot be opened, mapped or read), TFM_ERR_NOT_FOUND (a file or
 * folder that does not exist, a folder without either file),
 * TFM_ERR_FORMAT (any lie in a header or the index), TFM_ERR_UNSUPPORTED
 * (big-endian host), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_safetensors_open(tfm_ctx *ctx, const char *path,
                                        tfm_safetensors **out);

/* Opens a safetensors image held in host memory, `size` bytes at `data`.
 * The buffer is BORROWED, not copied: it must stay unchanged and alive
 * until tfm_safetensors_close. Its tensors are seen at their addresses in
 * the buffer, so a buffer aligned to 8 bytes with a standard file (header
 * padded to 8) gives aligned tensors; a tensor whose address is not a
 * multiple of its element size is listed, and tfm_safetensors_get refuses it
 * with TFM_ERR_FORMAT. `name` names the buffer in messages (NULL:
 * "<memory>"). Errors as tfm_safetensors_open (no TFM_ERR_IO). */
TFM_API tfm_status tfm_safetensors_open_memory(tfm_ctx *ctx, const void *data,
                                               size_t size, const char *name,
                                               tfm_safetensors **out);

/* Unmaps the files and frees the set; every view and string obtained from
 * it becomes invalid. NULL is a no-op. */
TFM_API void tfm_safetensors_close(tfm_safetensors *st);

/* Number of tensors in the set (0 for NULL). Thread-safe. */
TFM_API int64_t tfm_safetensors_count(const tfm_safetensors *st);
/* Name of tensor i, 0 <= i < count, in file order (shards in name order,
 * each in its header's order); NULL outside the range. Thread-safe. */
TFM_API const char *tfm_safetensors_name(const tfm_safetensors *st, int64_t i);
/* Index of the tensor called `name`, or -1. Hashed. Thread-safe. */
TFM_API int64_t tfm_safetensors_find(const tfm_safetensors *st,
                                     const char *name);
/* Fills *info for tensor i, writing at most info->struct_size bytes (set
 * it first; see tfm_safetensors_info). On TFM_ERR_RANGE the fields are
 * zeroed. Errors (no message; there is no ctx): TFM_ERR_INVALID_ARG (NULL,
 * or info->struct_size below sizeof(size_t): nothing written),
 * TFM_ERR_RANGE (i outside [0, count)). Thread-safe. */
TFM_API tfm_status tfm_safetensors_info_at(const tfm_safetensors *st,
                                           int64_t i,
                                           tfm_safetensors_info *info);

/* Fills the caller's struct `out` with a view of the tensor `name`
 * (contiguous row-major, borrowing the set's data, TFM_I8 with scale 1;
 * a scalar becomes shape [1]). Nothing to free. On failure *out is zeroed.
 * Errors: TFM_ERR_INVALID_ARG (NULL), TFM_ERR_NOT_FOUND (no such tensor),
 * TFM_ERR_DTYPE (a dtype the library has no type for, naming the tensor and
 * the dtype), TFM_ERR_SHAPE (more than TFM_MAX_DIMS dims, or an empty
 * tensor: a dimension of 0), TFM_ERR_FORMAT (data misaligned for its dtype,
 * from a host buffer). Thread-safe (ctx receives the message). */
TFM_API tfm_status tfm_safetensors_get(tfm_ctx *ctx, const tfm_safetensors *st,
                                       const char *name, tfm_tensor *out);

/* As tfm_safetensors_get, trying prefixes[0] + name, prefixes[1] + name, ...
 * in order and returning the first that exists (for checkpoints saved with
 * or without a model prefix: {"bert.", ""}). n_prefixes == 0 tries `name`
 * alone. TFM_ERR_NOT_FOUND names every name tried. Thread-safe. */
TFM_API tfm_status tfm_safetensors_get_prefixed(tfm_ctx *ctx,
                                                const tfm_safetensors *st,
                                                const char *const *prefixes,
                                                int n_prefixes,
                                                const char *name,
                                                tfm_tensor *out);

/* The "__metadata__" string map (of the first file, for a sharded set):
 * the number of entries, key i (NULL outside the range), and the value for a
 * key (NULL when absent). Strings are borrowed from the set. Thread-safe. */
TFM_API int64_t tfm_safetensors_metadata_count(const tfm_safetensors *st);
TFM_API const char *tfm_safetensors_metadata_key(const tfm_safetensors *st,
                                                 int64_t i);
TFM_API const char *tfm_safetensors_metadata_get(const tfm_safetensors *st,
                                                 const char *key);

/* ==========================================================================
 * Layers
 *
 * The building blocks of a transformer, for hosts that assemble their own
 * network and for the library's models: embeddings and positional
 * encodings, scaled dot-product attention, multi-head attention (MHA, GQA,
 * MQA, cross-attention) with a KV cache, additive attention, feed-forward
 * blocks, norms, encoder and decoder layers and stacks. Everything is f32.
 *
 * Modules (tfm_mha, tfm_ffn, tfm_encoder_layer, ...) are immutable after
 * creation. They BORROW the weight tensors they are given (the host or a
 * model loader owns them and keeps them alive until the module is freed),
 * so any number of threads may run one module at once, each with its own
 * ctx, workspace and KV cache. Weights use the nn.Linear layout [out, in]
 * unless the weight struct says otherwise.
 *
 * Shapes: B batch, S (Sq) query positions, Sk key positions, D model width,
 * H query heads, Hkv key/value heads, Dh head width, F feed-forward width.
 * Activations are [B, S, D] row-major (last dim contiguous; other strides
 * free). `out` may alias `x` where stated.
 *
 * Workspace: a forward pass needs scratch memory. Pass a tfm_workspace
 * sized once with the module's *_workspace_size() for the largest call
 * (max batch, max sequence) and the pass allocates nothing; pass NULL and
 * the call allocates (and frees) what it needs itself. A workspace is used
 * by one call at a time.
 *
 * Results do not depend on the number of threads (work is split over
 * batch, heads and rows, never across a reduction).
 * ========================================================================== */

/* ---- workspace -----------------------------------------------------------*/

typedef struct tfm_workspace tfm_workspace;

/* Allocates a workspace of `bytes` bytes (aligned to the ctx's alignment).
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_NOMEM. *out is NULL on failure. */
TFM_API tfm_status tfm_workspace_create(tfm_ctx *ctx, size_t bytes,
                                        tfm_workspace **out);
/* Frees it; NULL is a no-op. */
TFM_API void tfm_workspace_free(tfm_workspace *ws);
/* Its size in bytes (0 for NULL). */
TFM_API size_t tfm_workspace_size(const tfm_workspace *ws);

/* ---- embeddings and positional encodings ---------------------------------*/

/* Layout of a fixed sinusoidal encoding of width D (even), position p:
 *  INTERLEAVED  pe[2i] = sin(p w_i), pe[2i+1] = cos(p w_i), w_i =
 *               10000^(-2i/D) (the formula of "Attention Is All You Need");
 *  HALF         pe[i] = sin(p w_i), pe[D/2 + i] = cos(p w_i), same w_i
 *               (Hugging Face Marian);
 *  HALF_FAIRSEQ as HALF with w_i = 10000^(-i/(D/2 - 1)) (fairseq,
 *               tensor2tensor; needs D >= 4). */
typedef enum tfm_pos_layout {
    TFM_POS_NONE = 0,
    TFM_POS_INTERLEAVED = 1,
    TFM_POS_HALF = 2,
    TFM_POS_HALF_FAIRSEQ = 3
} tfm_pos_layout;

/* Writes the sinusoidal encoding of positions offset .. offset + S - 1 into
 * out [S, D] (computed in double precision, rounded once).
 * Errors: TFM_ERR_INVALID_ARG (unknown layout, odd D, offset < 0),
 * TFM_ERR_DTYPE, TFM_ERR_SHAPE. */
TFM_API tfm_status tfm_pos_sinusoidal(tfm_ctx *ctx, tfm_pos_layout layout,
                                      int64_t offset, tfm_tensor *out);

/* Token embedding with positions and token types (BERT, GPT-2, Marian):
 *   out[b, s] = token_scale * tokens[ids[b, s]]
 *             + positions[pos_offset + start + s]   (learned, if given)
 *             + sinusoid(pos_offset + start + s)     (if sinusoidal != NONE)
 *             + types[type_ids[b, s]]                (if given)           */
typedef struct tfm_embed_weights {
    size_t struct_size;          /* sizeof(tfm_embed_weights), set by _default */
    const tfm_tensor *tokens;    /* [V, D] f32, f16 or bf16 (required)        */
    const tfm_tensor *positions; /* [P, D] learned positions, or NULL        */
    const tfm_tensor *types;     /* [T, D] token types, or NULL               */
    float token_scale;           /* 1 (sqrt(D) for Marian and the original) */
    int32_t sinusoidal;          /* tfm_pos_layout (default TFM_POS_NONE)    */
    int64_t pos_offset;          /* first position id (default 0; fairseq and
                                    RoBERTa start at padding_idx + 1)        */
} tfm_embed_weights;
TFM_API void tfm_embed_weights_init(tfm_embed_weights *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_embed_weights)

/* ids: i32 [B, S]; type_ids: i32 [B, S] or NULL (type 0 when `types` is
 * given); start: position of the first token (the KV cache length during
 * incremental decoding); out: [B, S, D].
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_DTYPE, TFM_ERR_SHAPE, TFM_ERR_RANGE
 * (an id or type id outside its table, a position past the table's P). */
TFM_API tfm_status tfm_embed(tfm_ctx *ctx, const tfm_embed_weights *w,
                             const tfm_tensor *ids, const tfm_tensor *type_ids,
                             int64_t start, tfm_tensor *out);

/* Rotary position embedding layouts: PAIRS rotates (x[2i], x[2i+1])
 * (llama2.c, GPT-J, Meta's Llama); HALF rotates (x[i], x[i + r/2])
 * ("rotate_half": GPT-NeoX, Hugging Face Llama). */
typedef enum tfm_rope_layout {
    TFM_ROPE_NONE = 0,
    TFM_ROPE_PAIRS = 1,
    TFM_ROPE_HALF = 2
} tfm_rope_layout;

/* Rotates x [B, S, H, Dh] (or [S, H, Dh]) in place: the first rot_dim
 * (even, <= Dh; 0 means Dh) elements of each head vector at position p by
 * the angles p * theta^(-2i/rot_dim). The position of x[b, s] is
 * positions[b, s] (positions: i32 [B, S] or [S]) or, with positions NULL,
 * offset + s. Any strides with the last dim contiguous, so a permuted
 * [B, H, S, Dh] tensor is accepted as a view.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_DTYPE, TFM_ERR_SHAPE. */
TFM_API tfm_status tfm_rope(tfm_ctx *ctx, tfm_tensor *x, tfm_rope_layout layout,
                            float theta, int64_t rot_dim, int64_t offset,
                            const tfm_tensor *positions);

/* Rotary tables for tfm_mha_params.rope_cos / rope_sin: cos_t and sin_t
 * [n_positions, rot_dim / 2] get the cosine and sine of p * f_i, with
 * f_i = 1 / theta^(2i / rot_dim), for every position p and pair i. flags 0:
 * computed in double and rounded once (Hugging Face's Llama);
 * TFM_ROPE_FLOAT_ANGLES: f_i, the angle, cos and sin in float, as llama2.c's
 * run.c computes them (its checkpoints reproduce its text only so).
 * Errors: TFM_ERR_INVALID_ARG (NULL tables, rot_dim odd or < 2, theta <= 0,
 * n_positions < 1, unknown flags). Thread-safe. */
#define TFM_ROPE_FLOAT_ANGLES 1
TFM_API tfm_status tfm_rope_tables(tfm_ctx *ctx, float theta, int64_t rot_dim,
                                   int64_t n_positions, uint32_t flags,
                                   float *cos_t, float *sin_t);

/* ALiBi slopes for n_heads heads (Press et al.; the interpolation of the
 * paper for a head count that is not a power of two) into out[n_heads].
 * Attention with slopes adds slope[h] * (j - i) to the score of query
 * position i and key position j. Thread-safe. */
TFM_API void tfm_alibi_slopes(int64_t n_heads, float *out);

/* ---- norms and pooling ---------------------------------------------------*/

typedef enum tfm_norm_kind {
    TFM_NORM_LAYER = 0, /* LayerNorm: (x - mean) / sqrt(var + eps) * g + b  */
    TFM_NORM_RMS = 1    /* RMSNorm: x / sqrt(mean(x^2) + eps) * g           */
} tfm_norm_kind;

typedef struct tfm_norm_weights {
    size_t struct_size;      /* set by _init / _default                     */
    const tfm_tensor *gamma; /* [D] or NULL (ones)                          */
    const tfm_tensor *beta;  /* [D] or NULL (zeros; LayerNorm only)         */
} tfm_norm_weights;
/* Both NULL. Thread-safe. */
TFM_API void tfm_norm_weights_init(tfm_norm_weights *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_norm_weights)

/* tfm_layernorm or tfm_rmsnorm by kind. out may alias x. */
TFM_API tfm_status tfm_norm(tfm_ctx *ctx, tfm_norm_kind kind,
                            const tfm_tensor *x, const tfm_norm_weights *w,
                            float eps, tfm_tensor *out);

/* Mean over the sequence: out[b] = mean of x[b, s] over the positions s
 * that key_padding_mask (u8 or i32 [B, S], nonzero = padding; NULL: none)
 * does not mark; all padding gives zeros. x: [B, S, D]; out: [B, D].
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_DTYPE, TFM_ERR_SHAPE. */
TFM_API tfm_status tfm_mean_pool(tfm_ctx *ctx, const tfm_tensor *x,
                                 const tfm_tensor *key_padding_mask,
                                 tfm_tensor *out);

/* ---- scaled dot-product attention ----------------------------------------*/

/* Masks of one attention call; every field is optional (NULL / 0). Query i
 * of Sq sits at position Sk - Sq + i among the keys (the queries are the
 * last Sq positions: true for self-attention with or without a cache). */
typedef struct tfm_attn_masks {
    size_t struct_size;                 /* set by _default                  */
    /* u8 or i32 [B, Sk]: nonzero marks a key as padding (ignored), as
     * PyTorch's key_padding_mask. (Hugging Face's attention_mask is the
     * opposite: 1 = keep.)                                                 */
    const tfm_tensor *key_padding_mask;
    /* f32 added to the scores, or u8 where nonzero masks a pair out;
     * broadcast onto [B, H, Sq, Sk] from its trailing dims (each dim equal
     * or 1): [Sq, Sk], [B, 1, Sq, Sk], [B, H, Sq, Sk], ...                 */
    const tfm_tensor *attn_mask;
    /* i32 [B, Sq] or [Sq]: positions of the queries for RoPE (left-padded
     * batches); NULL: the KV cache length + s.                              */
    const tfm_tensor *positions;
} tfm_attn_masks;
TFM_API void tfm_attn_masks_init(tfm_attn_masks *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_attn_masks)

typedef struct tfm_attn_params {
    size_t struct_size;   /* set by _default                                 */
    float scale;          /* 0 (default): 1 / sqrt(Dh)                       */
    int32_t causal;       /* 1: query i sees keys j <= Sk - Sq + i           */
    const float *alibi_slopes; /* [H] or NULL: adds slope[h] * (j - pos_i)   */
    tfm_attn_masks masks; /* key padding and additive masks (positions unused) */
} tfm_attn_params;
TFM_API void tfm_attn_params_init(tfm_attn_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_attn_params)

/* out = softmax(scale * q k^T + masks) v, per batch item and head.
 * q [B, H, Sq, Dh], k [B, Hkv, Sk, Dh], v [B, Hkv, Sk, Dv], out
 * [B, H, Sq, Dv]: any strides with the last dim contiguous (permuted views
 * of [B, S, H, Dh] work). H must be a multiple of Hkv (grouped-query
 * attention: query head h reads key/value head h / (H / Hkv)). probs: NULL
 * or [B, H, Sq, Sk] to receive the attention probabilities. A query whose
 * keys are all masked gives zeros (probabilities and output); a query whose
 * scores hold a NaN from q or from an unmasked key gives NaN (a masked key's
 * NaN is ignored, as the mask says).
 * Allocates n_threads * Sk floats of scratch (use tfm_mha for an
 * allocation-free pass). Errors: TFM_ERR_INVALID_ARG, TFM_ERR_DTYPE,
 * TFM_ERR_SHAPE (naming the tensor), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_attention(tfm_ctx *ctx, const tfm_tensor *q,
                                 const tfm_tensor *k, const tfm_tensor *v,
                                 const tfm_attn_params *params,
                                 tfm_tensor *out, tfm_tensor *probs);

/* ---- KV cache --------------------------------------------------------------*/

/* Keys and values of n_layers attention layers for up to max_batch
 * sequences of up to max_seq positions. Self-attention layers append the
 * keys/values of each step; cross-attention layers fill their slot once per
 * source (when its length is 0) and reuse it until tfm_kv_cache_reset. Each
 * layer keeps its own length. One cache belongs to one decoding stream and
 * is used by one thread at a time. */
typedef struct tfm_kv_cache tfm_kv_cache;

typedef struct tfm_kv_cache_params {
    size_t struct_size;   /* set by _default                                 */
    int64_t n_layers;     /* >= 1 (default 1)                                */
    int64_t max_batch;    /* >= 1 (default 1)                                */
    int64_t n_kv_heads;   /* Hkv (required)                                  */
    int64_t head_dim;     /* Dh (required)                                   */
    int64_t max_seq;      /* positions per sequence (required)               */
} tfm_kv_cache_params;
TFM_API void tfm_kv_cache_params_init(tfm_kv_cache_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_kv_cache_params)

/* Errors: TFM_ERR_INVALID_ARG (a size < 1), TFM_ERR_RANGE (overflow),
 * TFM_ERR_NOMEM. *out is NULL on failure. */
TFM_API tfm_status tfm_kv_cache_create(tfm_ctx *ctx,
                                       const tfm_kv_cache_params *params,
                                       tfm_kv_cache **out);
TFM_API void tfm_kv_cache_free(tfm_kv_cache *cache);
/* Positions held by `layer` (0 for NULL or a layer out of range). */
TFM_API int64_t tfm_kv_cache_len(const tfm_kv_cache *cache, int64_t layer);
/* Empties every layer (a new sequence or a new source). */
TFM_API void tfm_kv_cache_reset(tfm_kv_cache *cache);
/* Shortens every layer to at most len positions (rewind). */
TFM_API void tfm_kv_cache_truncate(tfm_kv_cache *cache, int64_t len);
/* Beam search: batch item b (b < n <= max_batch) takes the cache of item
 * src[b] of the sequences the cache holds; afterwards it holds n sequences,
 * so n may differ from the batch before (B sentences expanded to B * K
 * beams, or beams pruned). The first reorder allocates a copy buffer of one
 * layer's keys (max_batch x max_seq rows) that the cache keeps, so later
 * ones allocate nothing. Errors: TFM_ERR_INVALID_ARG, TFM_ERR_RANGE (n or a
 * source index out of range), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_kv_cache_reorder(tfm_ctx *ctx, tfm_kv_cache *cache,
                                        const int32_t *src, int64_t n);

/* ---- multi-head attention --------------------------------------------------*/

typedef struct tfm_mha tfm_mha;

typedef struct tfm_mha_params {
    size_t struct_size;   /* set by _default                                 */
    int64_t d_model;      /* D: width of the queries and of the output       */
    int64_t n_heads;      /* H                                               */
    int64_t n_kv_heads;   /* Hkv; 0 (default): H. H % Hkv == 0               */
    int64_t head_dim;     /* Dh; 0 (default): D / H (H must divide D)        */
    int64_t kdim, vdim;   /* widths of key / value inputs; 0: D             */
    float scale;          /* 0 (default): 1 / sqrt(Dh)                       */
    int32_t causal;       /* causal self-attention (default 0)               */
    int32_t rope;         /* tfm_rope_layout applied to q and k (default NONE)*/
    float rope_theta;     /* default 10000                                   */
    int64_t rope_dim;     /* rotated dims per head; 0 (default): Dh          */
    int32_t alibi;        /* 1: ALiBi biases (default 0)                     */
    int32_t cross;        /* 1: cross-attention: keys and values come from
                             the memory (or the filled cache). Self-attention
                             features (causal, RoPE, ALiBi) apply only to
                             self-attention. A forward call given a memory
                             is cross-attention whatever this says.         */
    int32_t prepack;      /* 1 (default): keep the projection matrices packed
                             for the GEMM micro-kernels (tfm_matrix_pack; as
                             much memory again as the weights, faster
                             matmuls); 0: multiply by the borrowed weights  */
    /* Precomputed rotary tables (both NULL, the default: the angles of each
     * call are computed then, in double): cos and sin of the angle of every
     * position p < rope_positions and pair i < rope_dim / 2 at [p, i],
     * row-major, filled by tfm_rope_tables, owned by the caller and kept
     * alive as long as the module. A call reaching a position past the
     * table is TFM_ERR_RANGE. */
    const float *rope_cos, *rope_sin;
    int64_t rope_positions;
    /* Attention work (multiply-adds of one call) below which the attention
     * runs on the calling thread; 0 (default): the library's threshold.
     * Decoding steps of small models are faster with a higher one, as
     * waking the threads costs more than the work. */
    int64_t attn_serial_below;
} tfm_mha_params;
TFM_API void tfm_mha_params_init(tfm_mha_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_mha_params)

/* Projection weights, borrowed. Either separate wq [H*Dh, D], wk [Hkv*Dh,
 * kdim], wv [Hkv*Dh, vdim] or, for self-attention, one fused wqkv
 * [(H + 2 Hkv) * Dh, D] (rows: q, then k, then v: PyTorch's in_proj_weight)
 * with bqkv. wo [D, H*Dh]. Biases [rows] or NULL. With in_out = 1 every
 * matrix is stored transposed, [in, out] (GPT-2's Conv1D). Matrices are f32,
 * f16 or bf16 (16-bit ones are always kept packed, as they are: the
 * products widen them, with the results of the widened f32 matrices
 * packed); biases f32. The same holds for tfm_ffn_weights. */
typedef struct tfm_mha_weights {
    size_t struct_size;   /* set by _default                                 */
    const tfm_tensor *wq, *bq, *wk, *bk, *wv, *bv;
    const tfm_tensor *wqkv, *bqkv;
    const tfm_tensor *wo, *bo;
    int32_t in_out;
} tfm_mha_weights;
TFM_API void tfm_mha_weights_init(tfm_mha_weights *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_mha_weights)

/* Checks the shapes and builds the module (which borrows the weights).
 * Errors: TFM_ERR_INVALID_ARG (missing weight, bad param), TFM_ERR_SHAPE
 * (a weight of the wrong shape, heads not dividing D, H % Hkv != 0),
 * TFM_ERR_DTYPE, TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_mha_create(tfm_ctx *ctx, const tfm_mha_params *params,
                                  const tfm_mha_weights *weights, tfm_mha **out);
TFM_API void tfm_mha_free(tfm_mha *mha);

/* Bytes of workspace tfm_mha_forward needs for B sequences of Sq queries
 * and Sk keys (Sk: the keys seen including cached ones) with the threads of
 * ctx. 0 on overflow. */
TFM_API size_t tfm_mha_workspace_size(tfm_ctx *ctx, const tfm_mha *mha,
                                      int64_t batch, int64_t seq_q,
                                      int64_t seq_k);

/* out [B, Sq, D] = attention of x [B, Sq, D] over `memory` [B, Sm, kdim]
 * (cross-attention; `memory_v` [B, Sm, vdim] for values, NULL: memory) or
 * over x itself (memory NULL). With a cache: self-attention appends this
 * step's keys/values to `layer` of the cache and attends over all of them;
 * cross-attention projects memory into the cache once (when the layer is
 * empty; memory may then be NULL) and reuses it. masks: NULL or optional
 * masks over all Sk keys. probs: NULL or [B, H, Sq, Sk]. out must not alias
 * x or memory. Errors: TFM_ERR_INVALID_ARG, TFM_ERR_SHAPE (inputs, masks,
 * cache geometry), TFM_ERR_RANGE (the cache is full, workspace too small),
 * TFM_ERR_NOMEM (ws NULL and allocation failed). */
TFM_API tfm_status tfm_mha_forward(tfm_ctx *ctx, const tfm_mha *mha,
                                   const tfm_tensor *x,
                                   const tfm_tensor *memory,
                                   const tfm_tensor *memory_v,
                                   const tfm_attn_masks *masks,
                                   tfm_kv_cache *cache, int64_t layer,
                                   tfm_workspace *ws, tfm_tensor *out,
                                   tfm_tensor *probs);

/* ---- additive (Bahdanau) attention -----------------------------------------*/

/* score(q, k) = v . tanh(W_q q + W_k k + b); weights = softmax over keys;
 * context = sum of weights * values. */
typedef struct tfm_additive_weights {
    size_t struct_size;   /* set by _default                                 */
    const tfm_tensor *wq; /* [A, Dq]                                         */
    const tfm_tensor *wk; /* [A, Dk]                                         */
    const tfm_tensor *b;  /* [A] or NULL                                     */
    const tfm_tensor *v;  /* [A]                                             */
} tfm_additive_weights;
TFM_API void tfm_additive_weights_init(tfm_additive_weights *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_additive_weights)

/* q [B, Sq, Dq], keys [B, Sk, Dk], values [B, Sk, Dv] (NULL: keys),
 * key_padding_mask u8/i32 [B, Sk] or NULL; context [B, Sq, Dv];
 * weights NULL or [B, Sq, Sk]. A query whose keys are all padding gets zero
 * weights and context; a NaN in a query or unmasked key makes that query's
 * weights and context NaN. Allocates its scratch.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_DTYPE, TFM_ERR_SHAPE, TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_additive_attention(tfm_ctx *ctx,
                                          const tfm_additive_weights *w,
                                          const tfm_tensor *q,
                                          const tfm_tensor *keys,
                                          const tfm_tensor *values,
                                          const tfm_tensor *key_padding_mask,
                                          tfm_tensor *context,
                                          tfm_tensor *weights);

/* ---- feed-forward -----------------------------------------------------------*/

typedef struct tfm_ffn tfm_ffn;

/* Plain: out = w2 act(w1 x + b1) + b2.
 * Gated (SwiGLU with SILU, GeGLU with GELU): out = w2 (act(w1 x + b1) *
 * (w3 x + b3)) + b2; w1 is the gate projection, w3 the up projection. */
typedef struct tfm_ffn_params {
    size_t struct_size;   /* set by _default                                 */
    int64_t d_model;      /* D                                               */
    int64_t d_ff;         /* F                                               */
    int32_t act;          /* tfm_act (default TFM_ACT_RELU)                  */
    int32_t gated;        /* 1: gated (w3 required)                          */
    int32_t prepack;      /* as tfm_mha_params.prepack (default 1)           */
} tfm_ffn_params;
TFM_API void tfm_ffn_params_init(tfm_ffn_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_ffn_params)

typedef struct tfm_ffn_weights {
    size_t struct_size;   /* set by _default                                 */
    const tfm_tensor *w1, *b1; /* [F, D], [F]                                */
    const tfm_tensor *w2, *b2; /* [D, F], [D]                                */
    const tfm_tensor *w3, *b3; /* [F, D], [F] (gated only)                   */
    int32_t in_out;       /* 1: matrices stored [in, out] (GPT-2's Conv1D)   */
} tfm_ffn_weights;
TFM_API void tfm_ffn_weights_init(tfm_ffn_weights *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_ffn_weights)

TFM_API tfm_status tfm_ffn_create(tfm_ctx *ctx, const tfm_ffn_params *params,
                                  const tfm_ffn_weights *weights, tfm_ffn **out);
TFM_API void tfm_ffn_free(tfm_ffn *ffn);
/* Workspace for `rows` rows (B * S). 0 on overflow. */
TFM_API size_t tfm_ffn_workspace_size(const tfm_ffn *ffn, int64_t rows);
/* x [..., D] -> out [..., D]; out may alias x. */
TFM_API tfm_status tfm_ffn_forward(tfm_ctx *ctx, const tfm_ffn *ffn,
                                   const tfm_tensor *x, tfm_workspace *ws,
                                   tfm_tensor *out);

/* ---- encoder and decoder layers and stacks ---------------------------------*/

/* One set of hyperparameters for encoder and decoder layers.
 * Post-norm (norm_first 0; the original transformer, BERT, Marian):
 *   x = norm(x + attn(x)); [x = norm(x + cross(x, memory));]
 *   x = norm(x + ffn(x))
 * Pre-norm (norm_first 1; GPT-2, Llama):
 *   x = x + attn(norm(x)); [x = x + cross(norm(x), memory);]
 *   x = x + ffn(norm(x))
 * A decoder layer's self-attention is causal; without cross-attention
 * weights it is a decoder-only block (GPT-2, Llama). */
typedef struct tfm_layer_params {
    size_t struct_size;   /* set by _default                                 */
    int64_t d_model;      /* D                                               */
    int64_t n_heads;      /* H                                               */
    int64_t n_kv_heads;   /* 0 (default): H                                  */
    int64_t head_dim;     /* 0 (default): D / H                              */
    int64_t d_ff;         /* F                                               */
    int32_t act;          /* tfm_act of the feed-forward (default RELU)      */
    int32_t gated;        /* gated feed-forward (default 0)                  */
    int32_t norm;         /* tfm_norm_kind (default LAYER)                   */
    float norm_eps;       /* default 1e-5                                    */
    int32_t norm_first;   /* 1: pre-norm (default 0: post-norm)              */
    int32_t causal;       /* encoder layers: causal self-attention (def. 0)  */
    int32_t rope;         /* tfm_rope_layout of self-attention (def. NONE)   */
    float rope_theta;     /* default 10000                                   */
    int64_t rope_dim;     /* 0: Dh                                           */
    int32_t alibi;        /* ALiBi in self-attention (default 0)             */
    int64_t memory_dim;   /* width of the encoder memory; 0: D              */
    int32_t prepack;      /* as tfm_mha_params.prepack (default 1)           */
    /* Self-attention's rotary tables and attention threshold: as the fields
     * of tfm_mha_params (default NULL, 0, 0). */
    const float *rope_cos, *rope_sin;
    int64_t rope_positions;
    int64_t attn_serial_below;
} tfm_layer_params;
TFM_API void tfm_layer_params_init(tfm_layer_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_layer_params)

/* Weights of one layer, borrowed. attn_norm goes with self-attention,
 * cross_norm with cross-attention, ffn_norm with the feed-forward. */
typedef struct tfm_layer_weights {
    size_t struct_size;   /* set by _default                                 */
    tfm_mha_weights self_attn;
    tfm_mha_weights cross_attn; /* decoder; all NULL: no cross-attention     */
    tfm_ffn_weights ffn;
    tfm_norm_weights attn_norm, cross_norm, ffn_norm;
} tfm_layer_weights;
TFM_API void tfm_layer_weights_init(tfm_layer_weights *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_layer_weights)

typedef struct tfm_encoder_layer tfm_encoder_layer;
typedef struct tfm_decoder_layer tfm_decoder_layer;

/* Errors: as tfm_mha_create and tfm_ffn_create. */
TFM_API tfm_status tfm_encoder_layer_create(tfm_ctx *ctx,
                                            const tfm_layer_params *params,
                                            const tfm_layer_weights *weights,
                                            tfm_encoder_layer **out);
TFM_API void tfm_encoder_layer_free(tfm_encoder_layer *layer);
TFM_API size_t tfm_encoder_layer_workspace_size(tfm_ctx *ctx,
                                                const tfm_encoder_layer *layer,
                                                int64_t batch, int64_t seq);
/* x [B, S, D] -> out [B, S, D] (out may alias x). masks: NULL or masks
 * over the S keys. probs: NULL or [B, H, S, S] (self-attention). */
TFM_API tfm_status tfm_encoder_layer_forward(tfm_ctx *ctx,
                                             const tfm_encoder_layer *layer,
                                             const tfm_tensor *x,
                                             const tfm_attn_masks *masks,
                                             tfm_workspace *ws, tfm_tensor *out,
                                             tfm_tensor *probs);

TFM_API tfm_status tfm_decoder_layer_create(tfm_ctx *ctx,
                                            const tfm_layer_params *params,
                                            const tfm_layer_weights *weights,
                                            tfm_decoder_layer **out);
TFM_API void tfm_decoder_layer_free(tfm_decoder_layer *layer);
/* seq_k: the self-attention keys (cache included); mem_seq: memory length. */
TFM_API size_t tfm_decoder_layer_workspace_size(tfm_ctx *ctx,
                                                const tfm_decoder_layer *layer,
                                                int64_t batch, int64_t seq,
                                                int64_t seq_k, int64_t mem_seq);
/* x [B, S, D] -> out [B, S, D] (out may alias x). memory [B, Sm, memory_dim]
 * (NULL for decoder-only layers, or when the cross cache is filled).
 * self_masks: masks over the self-attention keys (cache included);
 * memory_padding_mask: u8/i32 [B, Sm] or NULL. self_cache / cross_cache:
 * NULL (no cache) or caches whose `layer` slot this layer uses.
 * self_probs [B, H, S, Sk], cross_probs [B, H, S, Sm]: NULL or outputs. */
TFM_API tfm_status tfm_decoder_layer_forward(
    tfm_ctx *ctx, const tfm_decoder_layer *layer, const tfm_tensor *x,
    const tfm_tensor *memory, const tfm_attn_masks *self_masks,
    const tfm_tensor *memory_padding_mask, tfm_kv_cache *self_cache,
    tfm_kv_cache *cross_cache, int64_t cache_layer, tfm_workspace *ws,
    tfm_tensor *out, tfm_tensor *self_probs, tfm_tensor *cross_probs);

/* Stacks of n_layers identical-shaped layers plus an optional final norm
 * (final_norm NULL, or its gamma NULL: none). layers: an array of n_layers
 * weight structs (borrowed like every weight). Layer i uses slot i of the
 * caches. */
typedef struct tfm_encoder tfm_encoder;
typedef struct tfm_decoder tfm_decoder;

TFM_API tfm_status tfm_encoder_create(tfm_ctx *ctx,
                                      const tfm_layer_params *params,
                                      int64_t n_layers,
                                      const tfm_layer_weights *layers,
                                      const tfm_norm_weights *final_norm,
                                      tfm_encoder **out);
TFM_API void tfm_encoder_free(tfm_encoder *enc);
TFM_API size_t tfm_encoder_workspace_size(tfm_ctx *ctx, const tfm_encoder *enc,
                                          int64_t batch, int64_t seq);
/* x [B, S, D] -> out [B, S, D] (out may alias x). */
TFM_API tfm_status tfm_encoder_forward(tfm_ctx *ctx, const tfm_encoder *enc,
                                       const tfm_tensor *x,
                                       const tfm_attn_masks *masks,
                                       tfm_workspace *ws, tfm_tensor *out);

TFM_API tfm_status tfm_decoder_create(tfm_ctx *ctx,
                                      const tfm_layer_params *params,
                                      int64_t n_layers,
                                      const tfm_layer_weights *layers,
                                      const tfm_norm_weights *final_norm,
                                      tfm_decoder **out);
TFM_API void tfm_decoder_free(tfm_decoder *dec);
TFM_API size_t tfm_decoder_workspace_size(tfm_ctx *ctx, const tfm_decoder *dec,
                                          int64_t batch, int64_t seq,
                                          int64_t seq_k, int64_t mem_seq);
/* As tfm_decoder_layer_forward through every layer (caches: slot i for
 * layer i), then the final norm. */
TFM_API tfm_status tfm_decoder_forward(tfm_ctx *ctx, const tfm_decoder *dec,
                                       const tfm_tensor *x,
                                       const tfm_tensor *memory,
                                       const tfm_attn_masks *self_masks,
                                       const tfm_tensor *memory_padding_mask,
                                       tfm_kv_cache *self_cache,
                                       tfm_kv_cache *cross_cache,
                                       tfm_workspace *ws, tfm_tensor *out);

/* ==========================================================================
 * Models
 *
 * A tfm_model is a whole network loaded once from a file or folder:
 *  - a llama2.c checkpoint (".bin": the legacy version-0 layout or the
 *    versioned version-1 fp32 layout), memory-mapped: the weights are read
 *    in place (but see tfm_model_params.prepack: by default the matrices
 *    of the linear maps are copied once into the GEMM's packed layout);
 *  - a Hugging Face folder with config.json and model.safetensors (or
 *    sharded model-0000N-of-0000M.safetensors with its index), for the
 *    architectures named in config.json's "model_type": decoders ("llama",
 *    "gpt2"), encoders ("bert", "distilbert") and translators ("marian",
 *    "transformer"); tfm_model_kind tells which a model is.
 * A model is immutable after loading: any number of sessions on any
 * threads may share it. Its tokenizer, when one was found (a tokenizer.bin
 * beside a llama2.c checkpoint, the tokenizer files of an HF folder, or the
 * file named in tfm_model_params.tokenizer_path), comes with it.
 *
 * A tfm_session runs a decoder or a translator: it owns the KV cache and
 * the workspace, sized once when it is created from its limits (a
 * translator's, at its first translation, grown when a later one needs
 * more), so a warm forward pass or decoding step allocates nothing. One thread uses a session at a time; it computes with
 * the threads of the ctx it was created with and reports errors there.
 * ========================================================================== */

typedef struct tfm_model tfm_model;
typedef struct tfm_session tfm_session;
struct tfm_tokenizer; /* see the Tokenizers section */

/* Formats of the weight matrices in memory (tfm_model_params.weights).
 * STORED keeps each matrix as the file stores it (an F32 file stays exact,
 * an F16 file stays F16, a folder written by tfm_model_quantize stays
 * quantized); the others convert at load: F16 and BF16 round once to
 * nearest even (half the memory and bytes per token of F32, the products
 * computed in f32 on the widened values); F32 widens 16-bit files (the
 * results of STORED, twice the memory) and dequantizes quantized ones.
 * Q8 and Q4 quantize in blocks of 32 inputs with an f16 scale each, GGUF's
 * Q8_0 and Q4_0 blocks and rules (8.5 and 4.5 bits a weight): Q8 every
 * matrix of the layers and the output projection; Q4 the layers' matrices,
 * with the output projection in Q8. In both, an embedding table that is
 * only looked up stays as stored (it costs no bandwidth per token), while
 * one tied to the output projection takes the projection's format. The
 * products quantize each row of activations on the fly to int8 in the same
 * blocks (docs/MODELS.md, "Weights in memory"). */
typedef enum tfm_weights {
    TFM_WEIGHTS_STORED = 0,
    TFM_WEIGHTS_F32 = 1,
    TFM_WEIGHTS_F16 = 2,
    TFM_WEIGHTS_BF16 = 3,
    TFM_WEIGHTS_Q8 = 4,
    TFM_WEIGHTS_Q4 = 5
} tfm_weights;

typedef struct tfm_model_params {
    size_t struct_size;          /* sizeof(tfm_model_params), set by _default */
    const char *tokenizer_path;  /* NULL: look beside the model (llama2.c:
                                    tokenizer.bin in the same folder; HF: the
                                    folder's tokenizer files)               */
    int32_t no_tokenizer;        /* 1: load no tokenizer at all (default 0) */
    int32_t use_mmap;            /* 1 (default): map weights where the format
                                    allows; 0: read them into memory          */
    int32_t prepack;             /* 1 (default): copy the
                                    weights of every linear map once, at load,
                                    into the GEMM's packed layout (see
                                    tfm_matrix_pack): faster prompts and
                                    decoding steps at memory bandwidth, for a
                                    second copy of those weights in memory;
                                    0: compute from f32 weights where they
                                    lie (mapped), no copy. F16 and BF16
                                    matrices stay as stored (half the memory
                                    and traffic of f32) and are packed
                                    either way: their results are those of
                                    the widened matrices with prepack 1      */
    int32_t weights;             /* tfm_weights: the format the matrices of
                                    the linear maps and the token embeddings
                                    are kept in (default TFM_WEIGHTS_STORED;
                                    Q8/Q4 keep the output projection in Q8
                                    and an embedding table that is only
                                    looked up as stored); norms, biases and
                                    position tables are f32 in every format */
} tfm_model_params;

/* Defaults: tokenizer found beside the model, mmap on. Thread-safe. */
TFM_API void tfm_model_params_init(tfm_model_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_model_params)

/* Loads the model at `path` (a llama2.c .bin file or an HF folder); params
 * may be NULL. The model keeps ctx's allocator (the ctx must outlive it)
 * but may afterwards be used with any ctx. *out is NULL on failure.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_IO (a file that exists cannot be
 * opened, mapped or read), TFM_ERR_FORMAT (truncated file, header and size
 * disagree, config and weights disagree, sizes in config.json that make
 * more weights than the weights files can hold, found before anything they
 * imply is allocated; the message names the file, tensor or fields), TFM_ERR_NOT_FOUND (`path` does not exist, or a required tensor,
 * field or file is absent),
 * TFM_ERR_UNSUPPORTED (an architecture or dtype not handled),
 * TFM_ERR_NOMEM; an unknown tfm_model_params.weights is TFM_ERR_INVALID_ARG. */
TFM_API tfm_status tfm_model_load(tfm_ctx *ctx, const char *path,
                                  const tfm_model_params *params,
                                  tfm_model **out);

/* Writes the Hugging Face folder `dir` with its matrices in the format
 * `weights` (a tfm_weights; TFM_WEIGHTS_Q8 and _Q4 the usual ones) to the
 * folder out_dir (created if absent; not dir itself): out_dir/
 * model.safetensors holds every tensor the model uses, the matrices as that
 * format keeps them in memory (quantized ones as U8 tensors [panels,
 * blocks, bytes] of the library's layout, named in the metadata:
 * docs/MODELS.md, "Quantized folders"), and the folder's other files
 * (config.json, tokenizer files) are copied. The result loads with
 * tfm_model_load by mapping, with no conversion (its weights stay as
 * stored), and gives the results of loading `dir` with that format.
 * Errors: those of tfm_model_load for `dir`, TFM_ERR_INVALID_ARG (NULL
 * paths, an unknown weights, out_dir is dir or not a folder), TFM_ERR_IO
 * (writing failed: no partial model.safetensors is left), TFM_ERR_NOMEM.
 * Thread-safe for distinct output folders. */
TFM_API tfm_status tfm_model_quantize(tfm_ctx *ctx, const char *dir, const char *out_dir,
                                      int32_t weights);
/* Frees the model (and unmaps its weights). All its sessions must be freed
 * first. NULL is a no-op. */
TFM_API void tfm_model_free(tfm_model *model);

/* What a model does, by its architecture: TFM_KIND_ENCODER runs the encoder
 * tasks (tfm_model_encode, tfm_fill_mask, tfm_embed_texts, tfm_classify),
 * TFM_KIND_DECODER generates through a session (tfm_session_prefill,
 * tfm_generate), TFM_KIND_ENCODER_DECODER translates through a session
 * (tfm_translate). */
typedef enum tfm_kind {
    TFM_KIND_ENCODER = 1,
    TFM_KIND_DECODER = 2,
    TFM_KIND_ENCODER_DECODER = 3
} tfm_kind;

/* ---- model queries -------------------------------------------------------
 * Every query is thread-safe and answers NULL / 0 / -1 for a NULL model or
 * a model of a kind the query does not apply to. */

/* The model's kind (0 for NULL). */
TFM_API tfm_kind tfm_model_kind(const tfm_model *model);
/* Architecture name, config.json's model_type: "llama" (also llama2.c
 * checkpoints), "gpt2", "bert", "distilbert", "marian", "transformer". */
TFM_API const char *tfm_model_arch(const tfm_model *model);
TFM_API int32_t tfm_model_vocab_size(const tfm_model *model);
/* Longest sequence (positions) the model supports. */
TFM_API int32_t tfm_model_max_context(const tfm_model *model);
/* Width of the hidden state and number of layers. */
TFM_API int32_t tfm_model_dim(const tfm_model *model);
TFM_API int32_t tfm_model_n_layers(const tfm_model *model);
/* Token ids the model starts and ends text with (-1 when it has none).
 * llama2.c checkpoints: BOS 1, EOS 2. */
TFM_API int32_t tfm_model_bos(const tfm_model *model);
TFM_API int32_t tfm_model_eos(const tfm_model *model);
/* Bytes of weights a forward pass reads per token (for bandwidth floors). */
TFM_API uint64_t tfm_model_weight_bytes(const tfm_model *model);
/* The model's tokenizer, or NULL when none was loaded. Owned by the model. */
TFM_API const struct tfm_tokenizer *tfm_model_tokenizer(const tfm_model *model);

/* Encoders: */
/* Heads a model has (bits of tfm_model_heads). */
#define TFM_HEAD_POOLER     (1u << 0) /* BERT pooler: tanh(W h[CLS] + b)    */
#define TFM_HEAD_MLM        (1u << 1) /* masked-LM head (fill-mask)         */
#define TFM_HEAD_CLASSIFIER (1u << 2) /* sequence classification           */

/* Bits TFM_HEAD_* of the heads loaded with an encoder model; 0 for NULL or
 * a model that is not an encoder. */
TFM_API uint32_t tfm_model_heads(const tfm_model *model);
/* Number of classifier labels (0 without a classifier) and the name of
 * label i (config.json's id2label, "LABEL_i" where absent; NULL outside
 * the range). */
TFM_API int32_t tfm_model_n_labels(const tfm_model *model);
TFM_API const char *tfm_model_label(const tfm_model *model, int32_t i);

/* Translators (TFM_KIND_ENCODER_DECODER): the ids of the special tokens:
 * pad, the decoder start token (-1 when absent or not a translator), and
 * the source vocabulary size (0); EOS is tfm_model_eos. */
TFM_API int32_t tfm_model_decoder_start(const tfm_model *model);
TFM_API int32_t tfm_model_pad(const tfm_model *model);
TFM_API int32_t tfm_model_src_vocab_size(const tfm_model *model);
/* The piece vocab.json gives token `id` of a translator ("\u2581Haus",
 * "</s>"), owned by the model; NULL without vocab.json or for an id out of
 * range. */
TFM_API const char *tfm_translate_piece(const tfm_model *model, int32_t id);

/* What a session does when a token would go past its context. */
#define TFM_CONTEXT_ERROR 0 /* the call fails with TFM_ERR_RANGE            */
#define TFM_CONTEXT_SLIDE 1 /* generation: keep the last half of the tokens
                               and recompute the cache from them            */

/* Abort callback: returns non-zero to stop; checked between layers. */
typedef int (*tfm_abort_fn)(void *ud);

typedef struct tfm_session_params {
    size_t struct_size;       /* sizeof(tfm_session_params)                  */
    int32_t max_context;      /* positions in the KV cache; 0: the model's   */
    int32_t max_batch;        /* tokens per forward call (workspace rows);
                                 0: max_context, at most 512                */
    int32_t context_policy;   /* TFM_CONTEXT_ERROR (default) or _SLIDE       */
    tfm_abort_fn abort;       /* NULL: never abort                           */
    void *abort_ud;
} tfm_session_params;

/* Defaults: the model's context, batches as long as the context, errors at
 * the end of the context, no abort callback. Thread-safe. */
TFM_API void tfm_session_params_init(tfm_session_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_session_params)

/* Creates a session on `model`, computing with ctx's threads and reporting
 * errors in ctx (both must outlive the session; use ctx from one thread at
 * a time). params may be NULL. *out is NULL on failure. Sessions run
 * decoders ("llama", "gpt2") and translators ("marian", "transformer");
 * encoders ("bert", "distilbert") have none: they run through
 * tfm_model_encode and the encoder tasks.
 * Errors: TFM_ERR_INVALID_ARG (also an encoder model, naming it),
 * TFM_ERR_RANGE (max_context past the model's), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_session_create(tfm_ctx *ctx, const tfm_model *model,
                                      const tfm_session_params *params,
                                      tfm_session **out);
/* NULL is a no-op. */
TFM_API void tfm_session_free(tfm_session *session);

/* Runs `n` tokens at positions pos .. pos+n-1 (pos = tokens already in the
 * cache) as one batch, appends them to the KV cache and keeps the logits of
 * the last one (tfm_session_logits). `logits_all`, when not NULL, receives
 * the logits of every token, [n, vocab]. n may exceed max_batch (the tokens
 * then go in several batches).
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_RANGE (an id outside the vocabulary,
 * or pos + n past max_context: "context of 512 tokens full"), TFM_ABORTED.
 * On an error the cache is left as it was before the call. */
TFM_API tfm_status tfm_session_prefill(tfm_session *session,
                                       const int32_t *tokens, int32_t n,
                                       float *logits_all);
/* One decoding step: tfm_session_prefill of one token. `logits` may be NULL
 * or receive [vocab] floats. */
TFM_API tfm_status tfm_session_step(tfm_session *session, int32_t token,
                                    float *logits);
/* The logits of the last token run ([vocab] floats, owned by the session,
 * valid until the next call on it), or NULL before the first one. */
TFM_API const float *tfm_session_logits(const tfm_session *session);
/* Tokens in the cache (the next position). */
TFM_API int32_t tfm_session_pos(const tfm_session *session);
/* Positions the session's cache holds. */
TFM_API int32_t tfm_session_max_context(const tfm_session *session);
/* Empties the KV cache (next position 0); keeps the memory. */
TFM_API void tfm_session_reset(tfm_session *session);
/* The ctx the session computes with and reports errors in. */
TFM_API tfm_ctx *tfm_session_ctx(const tfm_session *session);
/* The model of the session. */
TFM_API const tfm_model *tfm_session_model(const tfm_session *session);

/* ==========================================================================
 * Generation
 *
 * Samples tokens one at a time from a session: greedy (temperature 0) or
 * seeded random sampling with temperature, top-k and top-p (nucleus)
 * filtering and a repetition penalty. Sampling uses its own small random
 * generator (xorshift64*) whose state starts at tfm_sample_seed(seed): the
 * same seed, model and parameters give the same tokens on any machine and
 * thread count, and a host's own loop over tfm_sample can give them too.
 * ========================================================================== */

/* Streaming callback, called once per generated token with its id and its
 * text (piece: the decoded bytes, not NUL-terminated, `len` bytes; NULL and
 * 0 when the model has no tokenizer). Return non-zero to stop. */
typedef int (*tfm_token_fn)(void *ud, int32_t token, const char *piece,
                            size_t len);

typedef struct tfm_gen_params {
    size_t struct_size;          /* sizeof(tfm_gen_params)                    */
    int32_t max_new_tokens;      /* tokens to generate at most (default 256);
                                    0: no limit but max_total_tokens          */
    int32_t max_total_tokens;    /* stop when prompt + generated reach this
                                    many positions (0: no such limit). The
                                    "steps" of llama2.c's run.               */
    float temperature;           /* 0: greedy (default 1)                     */
    int32_t top_k;               /* keep the k most likely; 0: all            */
    float top_p;                 /* keep the smallest set with this mass; 1: all
                                    (default 1)                               */
    float repetition_penalty;    /* > 1 discourages tokens already seen (the
                                    CTRL rule: logit / p if > 0 else * p);
                                    1: off (default)                          */
    uint64_t seed;               /* sampling seed (default 42)                */
    int32_t stop_token;          /* -2 (default): the model's end token(s)
                                    (llama2.c: BOS, as its run does; HF: EOS);
                                    -1: never stop on a token; else that id  */
    int32_t add_bos;             /* -1 (default): as the model does (llama:
                                    yes, gpt2: no); 0 no; 1 yes              */
    tfm_token_fn on_token;       /* streaming; NULL for none                  */
    void *on_token_ud;
} tfm_gen_params;

/* Defaults as documented above. Thread-safe. */
TFM_API void tfm_gen_params_init(tfm_gen_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_gen_params)

/* Result counts of a generation, filled by tfm_generate(_tokens). An
 * output struct (see Conventions): set struct_size before the call, with
 * tfm_gen_stats_init / _default or sizeof. */
typedef struct tfm_gen_stats {
    size_t struct_size;     /* set by the caller (_init, _default, sizeof);
                               the library writes no more bytes than this    */
    int32_t n_prompt;       /* prompt tokens (with BOS)                       */
    int32_t n_generated;    /* tokens sampled                                 */
    double prompt_seconds;  /* time spent on the prompt batch                  */
    double gen_seconds;     /* time spent generating                          */
} tfm_gen_stats;
/* Zeroes the struct and sets struct_size (as tfm_X_init of a parameter
 * struct: never past `struct_size` bytes). Thread-safe. */
TFM_API void tfm_gen_stats_init(tfm_gen_stats *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_gen_stats)

/* Resets the session, encodes `prompt` with the model's tokenizer (a NULL
 * or empty prompt starts from BOS alone), runs it as one batch, then
 * samples until a stop token, a limit or the callback says stop. The
 * generated ids go to `out_tokens` (up to `out_cap`, may be NULL) and their
 * count to *n_out. With the stop token, nothing is emitted for it.
 * `stats` (NULL to skip; n_out may be NULL too) receives the counts, at
 * most stats->struct_size bytes of them; it is zeroed first, so a call that
 * fails early leaves zeros there.
 * Errors: TFM_ERR_INVALID_ARG (bad params, no tokenizer for a text prompt,
 * stats->struct_size below sizeof(size_t): nothing is run or written),
 * TFM_ERR_RANGE (the prompt does not fit the context; the context fills
 * under TFM_CONTEXT_ERROR: generation stops there with TFM_ERR_RANGE after
 * the callback saw every token made), TFM_ERR_FORMAT (prompt not UTF-8),
 * TFM_ABORTED. */
TFM_API tfm_status tfm_generate(tfm_session *session, const char *prompt,
                                const tfm_gen_params *params,
                                int32_t *out_tokens, int32_t out_cap,
                                int32_t *n_out, tfm_gen_stats *stats);
/* The same from prompt token ids (used as given: no BOS is added). */
TFM_API tfm_status tfm_generate_tokens(tfm_session *session,
                                       const int32_t *prompt, int32_t n_prompt,
                                       const tfm_gen_params *params,
                                       int32_t *out_tokens, int32_t out_cap,
                                       int32_t *n_out, tfm_gen_stats *stats);

/* Picks the next token from `logits` [n] (modified in place: penalty,
 * temperature, filtering) under params, with the generator state *rng
 * (any value works; advanced on each random draw). `recent` [n_recent]
 * are the ids the repetition penalty applies to. `scratch` must hold 8*n
 * bytes, 4-byte aligned (only read when top-k or top-p filter). Returns the
 * id, or -1 for bad arguments. Thread-safe (touches only its arguments).
 *
 * tfm_generate_tokens is this loop, so a host can reproduce its tokens:
 *     uint64_t rng = tfm_sample_seed(params.seed);
 *     tfm_session_reset(s); tfm_session_prefill(s, prompt, n_prompt, NULL);
 *     repeat: copy tfm_session_logits(s) ([vocab] floats) to a buffer,
 *             id = tfm_sample(buf, vocab, &params, &rng, history, n_history,
 *                             scratch), where history holds the prompt and
 *             the ids sampled so far; stop at the stop token or a limit;
 *             append id to history; tfm_session_step(s, id, NULL).
 * (tfm_generate does the same after tokenizing its prompt.) */
TFM_API int32_t tfm_sample(float *logits, int32_t n,
                           const tfm_gen_params *params, uint64_t *rng,
                           const int32_t *recent, int32_t n_recent,
                           void *scratch);
/* The generator state tfm_generate starts from for `seed`
 * (tfm_gen_params.seed): the seed scrambled by splitmix64, never 0. Use it to
 * seed a loop over tfm_sample that matches tfm_generate. Thread-safe. */
TFM_API uint64_t tfm_sample_seed(uint64_t seed);

/* ==========================================================================
 * Tokenizers
 *
 * A tfm_tokenizer turns text into token ids and back. It is loaded once and
 * never changes afterwards: any number of threads may use one tokenizer at
 * the same time, each passing its own tfm_ctx (errors and scratch memory
 * go through the ctx of the call).
 *
 * Formats, found by tfm_tokenizer_load from a file or a folder:
 *  - llama2.c `tokenizer.bin`: score-ordered BPE merges with byte fallback
 *    (`<0xNN>` pieces), a dummy-prefix space, BOS (id 1) / EOS (id 2); the
 *    encoding and decoding llama2.c's run.c does;
 *  - WordPiece (`vocab.txt`, with `tokenizer_config.json` beside it when
 *    present: do_lower_case, strip_accents, model_max_length): the
 *    behaviour of Hugging Face's BertTokenizer;
 *  - GPT-2 byte-level BPE (`vocab.json` + `merges.txt`): GPT-2's
 *    pre-tokenization pattern, byte-to-unicode mapping, `<|endoftext|>`;
 *  - SentencePiece models (`*.model`, `*.spm`: a ModelProto), unigram and
 *    BPE: the normalization the model carries (its precompiled character
 *    map, e.g. nmt_nfkc, or identity; dummy prefix, extra whitespace,
 *    spaces as U+2581), user-defined pieces, byte fallback; the ids and
 *    text of SentencePiece 0.1.97's Encode and Decode. unk, bos, eos and
 *    pad are the model's pieces; "<s>" in text is plain text.
 * A folder is searched in that order (tokenizer.bin, vocab.txt, vocab.json
 * with merges.txt, then SentencePiece: source.spm, target.spm,
 * spiece.model, sentencepiece.bpe.model, tokenizer.model; a Marian folder
 * thus gives its source side: load target.spm by name for the other). A
 * file is taken by its name: `*.txt` WordPiece, `*.json` byte-level BPE
 * (merges.txt beside it), `*.model` / `*.spm` SentencePiece, anything else
 * llama2.c.
 *
 * Text is UTF-8 and must be valid (no overlong forms, no surrogates, nothing
 * past U+10FFFF, no truncated sequence): anything else is TFM_ERR_FORMAT
 * with the byte offset in the message. Text lengths are in bytes; pass
 * TFM_STRLEN for a NUL-terminated string (text may contain NUL bytes when
 * its length is given).
 *
 * Size protocol of the calls that fill caller buffers (encode, decode):
 * the full size is always stored in *n_out; a call with a NULL buffer and a
 * capacity of 0 only measures (TFM_OK); a buffer too small for the result
 * is TFM_ERR_RANGE (its contents are then unspecified).
 * ========================================================================== */

typedef struct tfm_tokenizer tfm_tokenizer;

/* Pass as a text length: the text is NUL-terminated. */
#define TFM_STRLEN ((size_t)-1)

typedef enum tfm_tokenizer_type {
    TFM_TOKENIZER_AUTO = 0,      /* detect (tfm_tokenizer_params.type)       */
    TFM_TOKENIZER_LLAMA2C = 1,   /* llama2.c tokenizer.bin                   */
    TFM_TOKENIZER_WORDPIECE = 2, /* BERT vocab.txt                           */
    TFM_TOKENIZER_BPE = 3,       /* GPT-2 byte-level BPE                     */
    TFM_TOKENIZER_SENTENCEPIECE = 4 /* SentencePiece .model / .spm           */
} tfm_tokenizer_type;

/* Special tokens, for tfm_tokenizer_special_id. */
typedef enum tfm_special_token {
    TFM_TOKEN_BOS = 0,
    TFM_TOKEN_EOS = 1,
    TFM_TOKEN_UNK = 2,
    TFM_TOKEN_PAD = 3,
    TFM_TOKEN_CLS = 4,
    TFM_TOKEN_SEP = 5,
    TFM_TOKEN_MASK = 6
} tfm_special_token;

typedef struct tfm_tokenizer_params {
    size_t struct_size;     /* sizeof(tfm_tokenizer_params), set by _default */
    int32_t type;           /* tfm_tokenizer_type; AUTO (default) detects    */
    int32_t lower_case;     /* WordPiece: -1 (default) do_lower_case from
                               tokenizer_config.json (true when absent);
                               0 keep case; 1 lower-case                    */
    int32_t strip_accents;  /* WordPiece: -1 (default) strip_accents from the
                               config, else as lower_case; 0 no; 1 yes      */
} tfm_tokenizer_params;

/* Defaults: detect the format, settings from tokenizer_config.json.
 * Thread-safe. */
TFM_API void tfm_tokenizer_params_init(tfm_tokenizer_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_tokenizer_params)

/* Loads a tokenizer from `path` (a file or a folder, see above). `params`
 * may be NULL for defaults. The tokenizer keeps ctx for its memory: free it
 * with tfm_tokenizer_free before ctx. *out is NULL on failure.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_IO (a file that exists but cannot be
 * read), TFM_ERR_NOT_FOUND (`path` or a file it names does not exist, a
 * folder without tokenizer files), TFM_ERR_FORMAT (a malformed file: the
 * message names the file and the record, line or field), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_tokenizer_load(tfm_ctx *ctx, const char *path,
                                      const tfm_tokenizer_params *params,
                                      tfm_tokenizer **out);

/* Frees a tokenizer. NULL is a no-op. */
TFM_API void tfm_tokenizer_free(tfm_tokenizer *tok);

/* The format (a tfm_tokenizer_type), the number of ids (0 for NULL), and the
 * model_max_length of tokenizer_config.json (0 when unknown). Thread-safe. */
TFM_API int tfm_tokenizer_type_of(const tfm_tokenizer *tok);
TFM_API int32_t tfm_tokenizer_vocab_size(const tfm_tokenizer *tok);
TFM_API int32_t tfm_tokenizer_max_length(const tfm_tokenizer *tok);

/* The id of a special token, -1 when the vocabulary has none.
 * llama2.c: bos 1, eos 2, unk 0. WordPiece: [CLS] [SEP] [UNK] [PAD] [MASK]
 * (bos = cls, eos = sep). GPT-2: <|endoftext|> as bos, eos and unk.
 * SentencePiece: the unknown piece, and the control pieces the trainer spec
 * names for bos, eos and pad (-1 when absent or not CONTROL).
 * Thread-safe. */
TFM_API int32_t tfm_tokenizer_special_id(const tfm_tokenizer *tok,
                                         tfm_special_token which);

/* The vocabulary string of `id` as the tokenizer file stores it (WordPiece
 * "##ing"; GPT-2 in its byte-to-unicode form "Ġthe"; llama2.c " the",
 * "<0x0A>"), NUL-terminated, owned by the tokenizer; NULL for an id out of
 * range. *len (if not NULL) gets its length in bytes. Thread-safe. */
TFM_API const char *tfm_tokenizer_id_to_token(const tfm_tokenizer *tok,
                                              int32_t id, size_t *len);
/* The id of the vocabulary string token[0, len) (TFM_STRLEN: NUL-terminated),
 * -1 when absent. Thread-safe. */
TFM_API int32_t tfm_tokenizer_token_to_id(const tfm_tokenizer *tok,
                                          const char *token, size_t len);

/* How to cut an encoding longer than tfm_encode_params.max_length. */
typedef enum tfm_truncation {
    TFM_TRUNCATE_NONE = 0,          /* too long is TFM_ERR_RANGE             */
    TFM_TRUNCATE_LONGEST_FIRST = 1, /* drop from the end of the longer segment,
                                       one token at a time (HF's default)    */
    TFM_TRUNCATE_ONLY_FIRST = 2,
    TFM_TRUNCATE_ONLY_SECOND = 3
} tfm_truncation;

typedef struct tfm_encode_params {
    size_t struct_size;     /* sizeof(tfm_encode_params), set by _default    */
    int32_t add_special;    /* 1 (default): the model's special tokens
                               (llama2.c: BOS first; WordPiece: [CLS] A [SEP]
                               and [CLS] A [SEP] B [SEP]; GPT-2: none;
                               SentencePiece: EOS last, as Marian and T5:
                               A </s> and A B </s>)                         */
    int32_t max_length;     /* 0 (default): no limit; else the most ids of the
                               whole encoding, special tokens included      */
    int32_t truncation;     /* tfm_truncation when past max_length
                               (default TFM_TRUNCATE_LONGEST_FIRST)         */
    int32_t parse_special;  /* 1 (default): special-token strings in the text
                               ("[MASK]", "<|endoftext|>") become their ids */
} tfm_encode_params;

/* Defaults: special tokens added, no limit, longest-first truncation,
 * special strings recognized. Thread-safe. */
TFM_API void tfm_encode_params_init(tfm_encode_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_encode_params)

/* Encodes `text` (and, when `pair` is not NULL, a second segment for
 * sentence-pair models) into ids[0, *n_out). Optional outputs (NULL to skip):
 * type_ids (0 for the first segment and its specials, 1 for the second),
 * offsets (2 per id: the byte range [start, end) in the segment's own text
 * that produced it; -1, -1 for added special tokens; pieces of one
 * character, byte fallbacks or a character that normalization expanded,
 * each get that character's whole range). Every given buffer has room for
 * `capacity` ids (offsets for
 * 2 * capacity). `params` may be NULL for defaults.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_FORMAT (invalid UTF-8; the message
 * gives the byte offset and the segment), TFM_ERR_RANGE (longer than
 * max_length with TFM_TRUNCATE_NONE, or a pair that cannot be cut down to
 * it; or the buffers are too small, see the size protocol), TFM_ERR_NOMEM.
 * Thread-safe for a shared tokenizer (each thread with its own ctx). */
TFM_API tfm_status tfm_tokenizer_encode(tfm_ctx *ctx, const tfm_tokenizer *tok,
                                        const char *text, size_t text_len,
                                        const char *pair, size_t pair_len,
                                        const tfm_encode_params *params,
                                        int32_t *ids, int32_t *type_ids,
                                        int32_t *offsets, size_t capacity,
                                        size_t *n_out);

/* Flags of tfm_tokenizer_decode. */
#define TFM_DECODE_SKIP_SPECIAL (1u << 0) /* leave out special tokens        */
#define TFM_DECODE_CLEANUP      (1u << 1) /* HF clean_up_tokenization_spaces:
                                             " ." -> ".", " ," -> ",", " ' " ->
                                             "'", " n't" -> "n't", ...      */

/* Decodes ids[0, n) into text: buf gets *n_out bytes plus a NUL (so it needs
 * *n_out + 1 bytes; the size protocol above applies). WordPiece joins tokens
 * with spaces, glues "##" continuations and, as the Hugging Face WordPiece
 * decoder, drops the space before a "." "," "?" or "!" token (without
 * TFM_DECODE_CLEANUP, the whole-text rules stay off); GPT-2 maps the byte-level
 * strings back to bytes; llama2.c turns `<0xNN>` into the byte and drops
 * the dummy-prefix space at the start and after BOS; SentencePiece turns
 * U+2581 into spaces, drops the first piece's leading one (when the model
 * adds a dummy prefix or strips extra whitespace), skips control
 * pieces, shows unk as " \u2047 " and joins runs of byte pieces into UTF-8
 * (a broken sequence gives U+FFFD per byte; decode_next passes the
 * bytes as they are). The result is the
 * bytes the tokens stand for: a byte-level cut may leave invalid UTF-8.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_RANGE (an id outside the vocabulary,
 * named with its position; a buffer too small), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_tokenizer_decode(tfm_ctx *ctx, const tfm_tokenizer *tok,
                                        const int32_t *ids, size_t n,
                                        uint32_t flags, char *buf, size_t size,
                                        size_t *n_out);

/* Streaming: the bytes token `id` adds to a text whose previous token was
 * `prev_id` (-1 at the start), as llama2.c's decode(prev, token): writes
 * them to buf (NUL-terminated; the size protocol above applies). Special
 * tokens give "" with TFM_DECODE_SKIP_SPECIAL in flags. Same errors as
 * tfm_tokenizer_decode. */
TFM_API tfm_status tfm_tokenizer_decode_next(tfm_ctx *ctx,
                                             const tfm_tokenizer *tok,
                                             int32_t prev_id, int32_t id,
                                             uint32_t flags, char *buf,
                                             size_t size, size_t *n_out);

/* A batch of encodings padded to one length, row-major [n_seq, seq_len]. */
typedef struct tfm_batch {
    int32_t n_seq;           /* number of texts                             */
    int32_t seq_len;         /* the longest encoding (or max_length when
                                padding to it)                              */
    int32_t *ids;            /* [n_seq * seq_len], padded with pad_id       */
    int32_t *type_ids;       /* [n_seq * seq_len], 0 in the padding         */
    int32_t *attention_mask; /* [n_seq * seq_len], 1 token, 0 padding       */
    int32_t *lengths;        /* [n_seq] tokens before the padding           */
    int32_t pad_id;          /* the pad token, else 0                       */
    tfm_ctx *ctx;            /* owner's context                             */
} tfm_batch;

/* Encodes n texts (pairs[i] the second segment of text i when pairs is not
 * NULL; a NULL pairs[i] means none) and pads them on the right to the
 * longest, or to params->max_length when pad_to_max is 1. lens/pair_lens
 * give byte lengths (NULL: all NUL-terminated). *out is NULL on failure;
 * free it with tfm_batch_free. Errors: those of tfm_tokenizer_encode, the
 * message naming the text's index. */
TFM_API tfm_status tfm_tokenizer_encode_batch(tfm_ctx *ctx,
                                              const tfm_tokenizer *tok,
                                              const char *const *texts,
                                              const size_t *lens,
                                              const char *const *pairs,
                                              const size_t *pair_lens,
                                              int32_t n,
                                              const tfm_encode_params *params,
                                              int pad_to_max, tfm_batch **out);
/* Frees a batch. NULL is a no-op. */
TFM_API void tfm_batch_free(tfm_batch *batch);

/* ==========================================================================
 * Encoder tasks
 *
 * BERT-family encoders (model_type "bert" or "distilbert" in config.json:
 * BertModel, BertForMaskedLM, BertForPreTraining,
 * BertForSequenceClassification, DistilBertModel, DistilBertForMaskedLM,
 * DistilBertForSequenceClassification) load with tfm_model_load from their
 * Hugging Face folder and run through the calls below, which compute what
 * the `transformers` pipelines do: fill-mask, sentence embeddings and text
 * classification. tfm_model_arch gives "bert" or "distilbert".
 *
 * Each call takes a batch of texts of different lengths, tokenizes them with
 * the model's tokenizer (vocab.txt), pads them into one batch with an
 * attention mask and runs them together. A text longer than the model's
 * position table (max_position_embeddings, special tokens included) is
 * TFM_ERR_RANGE unless tfm_task_params.truncate asks for it to be cut.
 * The model is only read: any number of threads may run these calls on one
 * model at once, each with its own ctx. Scratch memory comes from the ctx's
 * allocator for the duration of the call. Results are owned by the caller
 * and freed with their *_free function (NULL is a no-op).
 * ========================================================================== */


/* Outputs of tfm_model_encode; each pointer NULL to skip it. */
typedef struct tfm_encode_outputs {
    size_t struct_size;  /* sizeof(tfm_encode_outputs), set by _default      */
    float *hidden;       /* [B, S, D] last hidden state (padding rows too)   */
    float *pooled;       /* [B, D] pooler output (needs TFM_HEAD_POOLER)     */
    float *mlm_logits;   /* [B, S, V] masked-LM logits (TFM_HEAD_MLM)        */
    float *class_logits; /* [B, C] classifier logits (TFM_HEAD_CLASSIFIER)   */
} tfm_encode_outputs;
/* All outputs NULL. Thread-safe. */
TFM_API void tfm_encode_outputs_init(tfm_encode_outputs *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_encode_outputs)

/* Runs an encoder on a padded batch of token ids: ids, type_ids (NULL: all
 * 0; ignored by DistilBERT) and attention_mask (1 token, 0 padding; NULL:
 * all 1) are [batch, seq_len] row-major, as Hugging Face's input_ids,
 * token_type_ids and attention_mask. Writes the outputs asked for.
 * Errors: TFM_ERR_INVALID_ARG (NULLs, sizes < 1, not an encoder model),
 * TFM_ERR_RANGE (seq_len past max_position_embeddings, an id or type id
 * outside its table, naming its position), TFM_ERR_UNSUPPORTED (an output
 * whose head the model lacks), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_model_encode(tfm_ctx *ctx, const tfm_model *model,
                                    const int32_t *ids, const int32_t *type_ids,
                                    const int32_t *attention_mask,
                                    int32_t batch, int32_t seq_len,
                                    const tfm_encode_outputs *outputs);

/* Sentence embedding pooling. */
typedef enum tfm_pooling {
    TFM_POOLING_MEAN = 0, /* mean of the hidden states over the attention
                             mask (sentence-transformers' mean pooling)     */
    TFM_POOLING_CLS = 1,  /* the hidden state of the first token ([CLS])    */
    TFM_POOLING_NONE = 2  /* every hidden state, [n, seq_len, D]            */
} tfm_pooling;

typedef struct tfm_task_params {
    size_t struct_size;   /* sizeof(tfm_task_params), set by _default        */
    int32_t truncate;     /* 1: cut texts past max_length (pairs: longest
                             first); 0 (default): TFM_ERR_RANGE             */
    int32_t max_length;   /* tokens per text, specials included; 0 (default):
                             the model's max_position_embeddings            */
    int32_t top_k;        /* fill-mask: predictions per mask (default 5)     */
    int32_t pooling;      /* embeddings: tfm_pooling (default MEAN)          */
    int32_t normalize;    /* embeddings: 1: L2-normalize each vector (for
                             cosine similarity; with NONE each position)    */
} tfm_task_params;
/* Defaults as documented above. Thread-safe. */
TFM_API void tfm_task_params_init(tfm_task_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_task_params)

/* One fill-mask prediction. */
typedef struct tfm_prediction {
    int32_t id;           /* token id                                       */
    float score;          /* softmax probability over the vocabulary        */
    const char *token;    /* vocabulary string ("paris", "##ing"), owned by
                             the model's tokenizer                          */
} tfm_prediction;

typedef struct tfm_fill_mask_result {
    int32_t n_texts;      /* texts given                                    */
    int32_t n_masks;      /* [MASK] tokens in all the texts                 */
    int32_t top_k;        /* predictions per mask (<= the vocabulary)       */
    int32_t *text;        /* [n_masks] the text of each mask (in order)     */
    int32_t *position;    /* [n_masks] its token position (with [CLS])      */
    tfm_prediction *pred; /* [n_masks * top_k]: mask m's k-th best at
                             pred[m * top_k + k], best first                */
    tfm_ctx *ctx;         /* owner's context                                */
} tfm_fill_mask_result;

/* Predicts the token of every [MASK] in each of the n texts (the masked-LM
 * head; softmax over the vocabulary, top_k best, ties by lower id).
 * params may be NULL. *out is NULL on failure.
 * Errors: TFM_ERR_INVALID_ARG (NULLs, n < 1, a text without [MASK], naming
 * it), TFM_ERR_UNSUPPORTED (no masked-LM head or no tokenizer), those of
 * tokenization (TFM_ERR_FORMAT for invalid UTF-8, TFM_ERR_RANGE for a text
 * too long) and TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_fill_mask(tfm_ctx *ctx, const tfm_model *model,
                                 const char *const *texts, int32_t n,
                                 const tfm_task_params *params,
                                 tfm_fill_mask_result **out);
TFM_API void tfm_fill_mask_result_free(tfm_fill_mask_result *result);

typedef struct tfm_embeddings {
    int32_t n;            /* texts                                          */
    int32_t dim;          /* D                                              */
    int32_t seq_len;      /* tokens of the padded batch                     */
    int32_t pooling;      /* tfm_pooling used                               */
    float *data;          /* MEAN, CLS: [n, dim]; NONE: [n, seq_len, dim]
                             (rows past lengths[i] are padding)             */
    int32_t *lengths;     /* [n] tokens of each text, specials included     */
    tfm_ctx *ctx;         /* owner's context                                */
} tfm_embeddings;

/* Embeds n texts with the pooling of params (NULL: mean, not normalized).
 * Any encoder model works (no head is needed). *out is NULL on failure.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_UNSUPPORTED (no tokenizer), those of
 * tokenization, TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_embed_texts(tfm_ctx *ctx, const tfm_model *model,
                                   const char *const *texts, int32_t n,
                                   const tfm_task_params *params,
                                   tfm_embeddings **out);
TFM_API void tfm_embeddings_free(tfm_embeddings *emb);

typedef struct tfm_classification {
    int32_t n;            /* texts                                          */
    int32_t n_labels;     /* C                                              */
    float *logits;        /* [n, C]                                         */
    float *probs;         /* [n, C]: softmax, or sigmoid for a
                             multi_label_classification problem_type or a
                             single label (as the pipeline does)            */
    int32_t *best;        /* [n] index of the highest probability           */
    const char *const *labels; /* [C] names (id2label), owned by the model  */
    tfm_ctx *ctx;         /* owner's context                                */
} tfm_classification;

/* Classifies n texts (pairs: NULL, or a second segment per text, NULL
 * entries for none, for sentence-pair models). params may be NULL.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_UNSUPPORTED (no classifier or no
 * tokenizer), those of tokenization, TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_classify(tfm_ctx *ctx, const tfm_model *model,
                                const char *const *texts,
                                const char *const *pairs, int32_t n,
                                const tfm_task_params *params,
                                tfm_classification **out);
TFM_API void tfm_classification_free(tfm_classification *result);

/* ==========================================================================
 * Translation
 *
 * Encoder-decoder translation models load with tfm_model_load from a
 * folder whose config.json names them (tfm_model_arch gives the name):
 *  - "marian": Hugging Face MarianMTModel folders (the OPUS-MT
 *    translators): post-norm layers, sinusoidal positions in Marian's
 *    layout (sines in the first half, cosines in the second), embeddings
 *    scaled by sqrt(d_model) with scale_embedding, shared embeddings, the
 *    classifier tied to them plus final_logits_bias, decoding started from
 *    decoder_start_token_id (the pad id); the pad token is never generated
 *    (as the bad_words_ids of OPUS-MT configs ask);
 *  - "transformer": the original transformer as PyTorch's nn.Transformer
 *    builds it, with its config keys and tensor names in docs/MODELS.md.
 * The source and target texts go through the folder's SentencePiece models
 * (source.spm, target.spm) and vocab.json when the library has a
 * SentencePiece tokenizer; the token-level calls need none.
 *
 * Search: greedy (beam_size 1) or beam search, with the results of Hugging
 * Face transformers' generate (version 5) for the same batch. Log-
 * probabilities go through the processors (pad banned; at the last step
 * only the forced EOS, with log-probability 0). Each step takes the 2K best
 * continuations of a sentence's K beams by summed log-probability; a
 * candidate among the first K that ends (an EOS, or any token at
 * max_length) becomes a hypothesis scored sum / len^length_penalty, len
 * being its target tokens (the last included); the K best other candidates
 * run on; a sentence keeps its K best hypotheses. Only early_stopping
 * closes a sentence (once it holds K hypotheses); the batch stops at
 * max_length or when no sentence can gain: each holds K hypotheses and
 * (early stopping, or) its best running sum over the current length does
 * not beat its worst hypothesis. So, as in transformers, a sentence's beam
 * result may depend on the other sentences of its batch. The encoder runs
 * once per batch of sources, the cross-attention keys and values are
 * projected once per source and shared by its beams, and self-attention is
 * cached.
 *
 * A session (tfm_session_create on the model) carries the ctx, threads and
 * abort callback; the scratch memory of a call comes from the ctx's
 * allocator for the call's duration. Results are owned by the caller.
 * ========================================================================== */

typedef struct tfm_translate_params {
    size_t struct_size;     /* sizeof(tfm_translate_params), set by _default */
    int32_t beam_size;      /* 1: greedy; 0 (default): the config's num_beams
                               (greedy when absent)                          */
    float length_penalty;   /* exponent of the length in beam scores; NAN
                               (default): the config's, else 1               */
    int32_t max_length;     /* target tokens at most, EOS included (Hugging
                               Face's max_length counts the start token too,
                               so it is this plus one); 0 (default): the
                               config's max_length - 1, at most 256, and
                               never past max_position_embeddings            */
    int32_t early_stopping; /* 1: a sentence is done with K hypotheses      */
    int32_t truncate;       /* sources past max_source_length: 0 (default)
                               TFM_ERR_RANGE; 1 keep the first
                               max_source_length - 1 tokens and the EOS     */
    int32_t max_source_length; /* 0 (default): max_position_embeddings      */
    int32_t attention;      /* 1: return the cross-attention of the chosen
                               hypotheses (default 0)                        */
} tfm_translate_params;

/* Defaults as documented above. Thread-safe. */
TFM_API void tfm_translate_params_init(tfm_translate_params *p, size_t struct_size);
TFM_PARAMS_DEFAULT(tfm_translate_params)

/* One translated sentence. */
typedef struct tfm_translation {
    int32_t n_src;          /* source tokens (EOS included)                 */
    int32_t *src_ids;       /* [n_src]                                      */
    int32_t n_ids;          /* target tokens: without the start token, with
                               the EOS when the search produced it          */
    int32_t *ids;           /* [n_ids]                                      */
    float score;            /* beam: sum of log-probabilities / n_ids^penalty;
                               greedy: sum of log-probabilities             */
    char *text;             /* the target decoded with the pieces of the
                               folder's vocab.json (pad, EOS and unk left
                               out, U+2581 read as a space, the leading one
                               dropped), by tfm_translate and
                               tfm_translate_tokens alike; NULL when the
                               folder has no vocab.json                     */
    /* [n_ids, n_src] when asked for: row t is the cross-attention of the
     * step that produced ids[t], in the decoder's last layer, averaged over
     * its heads (rows sum to 1 over the source tokens).                     */
    float *attention;
} tfm_translation;

typedef struct tfm_translate_result {
    int32_t n;              /* sentences                                    */
    tfm_translation *items; /* [n] in the order given                       */
    tfm_ctx *ctx;           /* owner's context                              */
} tfm_translate_result;

/* Translates n source sentences given as token ids: src[i] holds
 * src_lens[i] ids, used as given (end each with the model's EOS, as its
 * tokenizer does). The sentences are padded into one batch. Each result's
 * text is filled when the model's folder has vocab.json (see
 * tfm_translation.text), NULL otherwise; no tokenizer is needed.
 * *out is NULL on failure; free it with tfm_translate_result_free.
 * Errors: TFM_ERR_INVALID_ARG (NULLs, n < 1, a sentence of no tokens or of
 * the EOS alone, naming it, a session that is not on a translation model,
 * bad params), TFM_ERR_RANGE (an id outside the source vocabulary, a
 * source past max_source_length without truncate), TFM_ERR_NOMEM,
 * TFM_ABORTED. */
TFM_API tfm_status tfm_translate_tokens(tfm_session *session,
                                        const int32_t *const *src,
                                        const int32_t *src_lens, int32_t n,
                                        const tfm_translate_params *params,
                                        tfm_translate_result **out);

/* Translates n UTF-8 texts with the model's tokenizers; as
 * tfm_translate_tokens, plus: TFM_ERR_INVALID_ARG for an empty text,
 * TFM_ERR_UNSUPPORTED when the model has no tokenizer (a build or folder
 * without SentencePiece), TFM_ERR_FORMAT for invalid UTF-8. */
TFM_API tfm_status tfm_translate(tfm_session *session,
                                 const char *const *texts, int32_t n,
                                 const tfm_translate_params *params,
                                 tfm_translate_result **out);

TFM_API void tfm_translate_result_free(tfm_translate_result *result);

/* The forward pass with teacher forcing (for scoring and tests): sources
 * src_ids [B, S] (padding: src_mask 0; NULL: none) and target inputs
 * tgt_ids [B, T] (starting with the decoder start token), row-major; writes
 * logits [B, T, V] of the target vocabulary. The model is only read.
 * Errors: TFM_ERR_INVALID_ARG, TFM_ERR_RANGE (ids outside the vocabularies,
 * lengths past max_position_embeddings), TFM_ERR_NOMEM. */
TFM_API tfm_status tfm_translate_logits(tfm_ctx *ctx, const tfm_model *model,
                                        const int32_t *src_ids,
                                        const int32_t *src_mask, int32_t batch,
                                        int32_t src_len,
                                        const int32_t *tgt_ids, int32_t tgt_len,
                                        float *logits);


#ifdef __cplusplus
}
#endif
#endif /* TRANSFORMER_H */
