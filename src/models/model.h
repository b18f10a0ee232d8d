/*
 * Models: internal declarations shared by every architecture. A model is
 * one row of the registry (its architecture: name, kind, config reader,
 * loader, session hooks, weight bytes), the facts every model answers
 * (vocabulary, context, width...), the architecture's own network in
 * `impl`, its tokenizer, and one ownership arena that frees everything the
 * loader allocated, mapped or built.
 *
 * Legend of dimension letters in shape comments:
 *   V vocabulary, D model width, F feed-forward width, L layers,
 *   H query heads, G key/value heads, E head width, KV = G*E,
 *   T positions in the cache (max_context), B tokens in a batch.
 */
#ifndef TFM_MODELS_MODEL_H
#define TFM_MODELS_MODEL_H

#include "../core/internal.h"
#include "../nn/nn.h"
#include "../io/json.h"

struct tfm_tokenizer;
struct tfm__hf;

// ---- the registry ------------------------------------------------------------------

// One architecture: a file in src/models/ and a row of the table in
// registry.c. Hooks a kind does not have are NULL.
typedef struct tfm__arch {
    const char *name;      // config.json's model_type ("llama", "bert", ...)
    tfm_kind kind;
    // Reads config.json (h->cfg) into m: sets m->info and m->impl (the
    // architecture's network, from tfm__model_alloc).
    tfm_status (*config)(struct tfm__hf *h, tfm_model *m);
    // Reads the weights of h's folder into m->impl and builds its modules.
    tfm_status (*load)(struct tfm__hf *h, tfm_model *m, const tfm_model_params *p);
    // Sessions: creates the kind's session state in s->state (the caches
    // and workspace, sized once) and frees it.
    tfm_status (*session_create)(tfm_session *s);
    void (*session_free)(tfm_session *s);
    // Decoders: runs tokens[0, n) (n <= s->max_batch) at positions s->pos..,
    // appends to the cache, writes the last token's logits into s->logits
    // (and every token's into logits_all when set); leaves s->pos alone.
    tfm_status (*forward)(tfm_session *s, const int32_t *tokens, int32_t n,
                          float *logits_all);
    // Empties the session's caches (tfm_session_reset; a cache truncated to
    // `pos` tokens after a failed prefill).
    void (*session_truncate)(tfm_session *s, int32_t pos);
    // Bytes of weights a forward reads per token.
    uint64_t (*weight_bytes)(const tfm_model *m);
} tfm__arch;

// The row of model_type `name`, or NULL.
const tfm__arch *tfm__arch_find(const char *name);
// The names of the table, comma-separated, into buf (for messages).
void tfm__arch_names(char *buf, size_t size);

// ---- the model ------------------------------------------------------------------------

// What every model answers (tfm_model_* queries, generation defaults).
typedef struct tfm__model_info {
    int32_t vocab;          // V (the target vocabulary of a translator)
    int32_t max_ctx;        // positions
    int32_t dim, n_layers;  // D; L (a translator: its decoder's)
    int32_t bos, eos;       // -1 when none
    int32_t stop;           // default stop token of generation (-1 none)
    int add_bos;            // generation prepends BOS by default
} tfm__model_info;

// One entry of a model's ownership arena.
typedef struct tfm__owned {
    void *p;
    size_t size;             // bytes (allocations and mappings)
    int mapped;              // 1: a file mapping (tfm__file_unmap)
    void (*free_fn)(void *); // an object freed by its own function, or NULL
} tfm__owned;

struct tfm_model {
    tfm_ctx *ctx;                   // allocator of the model's own memory
    const tfm__arch *arch;          // the registry row
    char arch_name[16];
    tfm__model_info info;
    void *impl;                     // the architecture's network
    struct tfm_tokenizer *tok;      // may be NULL (freed with the arena)
    // The text of token id after prev, for streaming (set with tok).
    tfm_status (*piece)(tfm_ctx *ctx, const struct tfm_tokenizer *t, int32_t prev,
                        int32_t id, char *buf, size_t size, size_t *len);
    tfm__owned *own;                // the arena: freed last-in first-out
    int n_own, cap_own;
};

// A zero-filled block owned by the model (NULL when out of memory).
void *tfm__model_alloc(tfm_model *m, size_t size);
// A tensor struct owned by the model (zeroed; NULL when out of memory).
tfm_tensor *tfm__model_tensor(tfm_model *m);
// Records an allocation of the model's ctx (mapped 0) or a file mapping
// (mapped 1) that the model frees with itself; on failure (TFM_ERR_NOMEM)
// the caller still owns p.
tfm_status tfm__model_own(tfm_model *m, void *p, size_t size, int mapped);
// Sets the sizes every model reports (m->info).
void tfm__model_sizes(tfm_model *m, int32_t vocab, int32_t max_ctx, int32_t dim,
                      int32_t n_layers);
// What a matrix is for, which decides the format each tfm_weights keeps it
// in (docs/MODELS.md, "Weights in memory"): flags of tfm__model_matrix and
// the Hugging Face fetch.
#define TFM__MAT_LAYER 1  // a layer's linear map: in every format
#define TFM__MAT_HEAD 2   // an output projection (also its tied embedding
                          // table): Q4 keeps it Q8
#define TFM__MAT_EMBED 4  // an embedding table that is only looked up: Q8
                          // and Q4 keep it as stored (reading a row costs
                          // nothing per token)
#define TFM__MAT_IN_OUT 8 // stored [in, out] (GPT-2's Conv1D); quantized
                          // matrices are always [out, in]
// The matrix t (2-D, f32, f16, bf16 or quantized, contiguous rows) with the
// role `mat` in the format `weights` asks (tfm_weights): t itself when it
// already is, else a converted copy the model owns (a quantized matrix back
// to floats comes in t's orientation). TFM_ERR_NOMEM.
tfm_status tfm__model_matrix(tfm_model *m, const tfm_tensor *t, int weights, int mat,
                             const tfm_tensor **out);
// The layer params every architecture starts from: width D, H heads, F
// feed-forward width, the activation, the norm (tfm_norm_kind) and its eps,
// and the model's prepack; the rest at their defaults.
tfm_layer_params tfm__layer_params(int64_t D, int64_t H, int64_t F, int act, int norm,
                                   float eps, const tfm_model_params *p);
// The tensors a load fetched, under their full names (tfm_model_quantize).
typedef struct tfm__hf_rec {
    char **names;
    const tfm_tensor **t;
    int64_t n, cap;
} tfm__hf_rec;

// Loads the Hugging Face folder dir (no tokenizer) recording every tensor
// it fetches into rec (tfm_model_quantize).
tfm_status tfm__model_load_hf(tfm_ctx *ctx, const char *dir, const tfm_model_params *p,
                              tfm__hf_rec *rec, tfm_model **out);
// Records an object the model frees with free_fn(obj) (layers, packed
// matrices, safetensors, tokenizers); on failure it is freed at once.
tfm_status tfm__model_keep(tfm_model *m, void *obj, void (*free_fn)(void *));

// ---- sessions ---------------------------------------------------------------------

struct tfm_session {
    tfm_ctx *ctx;
    const tfm_model *m;
    const tfm__arch *arch;  // the model's row (static: the session can be freed alone)
    tfm_session_params p;
    int32_t pos;            // tokens in the cache
    int32_t max_ctx;        // T
    int32_t max_batch;      // B
    int has_logits;
    float *logits;          // [V] the last token's logits (decoders)
    void *state;            // the kind's session state
};

// Checks generation params (or takes the defaults) into *p.
tfm_status tfm__gen_params(tfm_ctx *ctx, const tfm_gen_params *params, tfm_gen_params *p);
// Writes the counts r (NULL: zeros) into the caller's stats (NULL: nothing)
// as an output struct: at most stats->struct_size bytes; a struct_size below
// sizeof(size_t) is TFM_ERR_INVALID_ARG, naming the struct.
tfm_status tfm__gen_stats_write(tfm_ctx *ctx, tfm_gen_stats *stats, const tfm_gen_stats *r);
// Loads the tokenizer named by p, or the one beside the model (model_tok.c).
tfm_status tfm__model_load_tokenizer(tfm_ctx *ctx, tfm_model *m, const char *path,
                                     int is_dir, const tfm_model_params *p);

// ---- the Hugging Face toolkit (hf.c) --------------------------------------------------

// The quantized folder's layout, in its safetensors metadata.
#define TFM__Q_LAYOUT_KEY "tfm.layout"
#define TFM__Q_LAYOUT "panels16.blocks32.v1"

// A folder being loaded: its config.json, its weights and the prefixes its
// tensor names may carry ("transformer.", "bert."...).
typedef struct tfm__hf {
    tfm_ctx *ctx;
    tfm_model *m;
    const char *dir;
    char what[1100];              // "<dir>/config.json", for messages
    const tfm__json *cfg;         // config.json's root object
    tfm_safetensors *st;          // the weights (owned by the model)
    const char *const *prefixes;  // tried in order before the bare name
    int n_prefixes;
    int weights;                  // tfm_weights of the matrices
    tfm__hf_rec *rec;             // or NULL: what was fetched
    char sizes[400];              // "key value, ..." of the integers read (messages)
} tfm__hf;

// Config fields. Messages name the file and the field. A missing required
// field is TFM_ERR_NOT_FOUND, a bad value TFM_ERR_FORMAT.
// A positive integer (at most max; max 0: 2^28) into *out; absent or null
// and not required: def, as it is.
tfm_status tfm__hf_int(tfm__hf *h, const char *key, int64_t def, int required, int64_t max,
                       int32_t *out);
// Checks, before anything the sizes imply is allocated, that the weights
// files can hold n_weights weights (at 4 bits each, the smallest format):
// else TFM_ERR_FORMAT naming every integer field read so far and its value.
tfm_status tfm__hf_fits(tfm__hf *h, double n_weights);
// A number; absent: def. Outside [lo, hi]: TFM_ERR_FORMAT.
tfm_status tfm__hf_float(tfm__hf *h, const char *key, double def, double lo, double hi,
                         double *out);
tfm_status tfm__hf_bool(tfm__hf *h, const char *key, int def, int *out);
// A string; absent: def (may be NULL).
tfm_status tfm__hf_str(tfm__hf *h, const char *key, const char *def, const char **out);
// A token id: an integer, the first of a list, null (-1) or absent (def);
// one outside [0, vocab) is TFM_ERR_FORMAT (strict) or -1.
tfm_status tfm__hf_token(tfm__hf *h, const char *key, int32_t def, int32_t vocab, int strict,
                         int32_t *out);
// An activation name (hidden_act, activation_function...) as a tfm_act:
// one list for every model (TFM_ERR_UNSUPPORTED naming the accepted ones).
tfm_status tfm__hf_act(tfm__hf *h, const char *key, const char *def, int *out);

// The f32 tensor `name` (under the prefixes, then bare) of shape [d0]
// (d1 == 0) or [d0, d1], the sizes config.json implies: f0 / f1 name the
// fields for the message (NULL: "config.json implies"). A [1, d0] tensor is
// taken as [d0]. F16 and BF16 are widened into memory the model owns.
// optional: *out NULL when absent (else TFM_ERR_NOT_FOUND naming it).
tfm_status tfm__hf_weight(tfm__hf *h, const char *name, int64_t d0, const char *f0,
                          int64_t d1, const char *f1, int optional, const tfm_tensor **out);
// The same for a matrix [d0, d1] with the role mat (TFM__MAT_*) in the
// format h->weights asks: as stored by default (F16 and BF16 stay so: the
// weight matrix and the embedding gather widen them in registers, with the
// results of widening first; a quantized folder's matrices stay quantized,
// checked against the shape: TFM_ERR_FORMAT naming the tensor).
tfm_status tfm__hf_matrix(tfm__hf *h, const char *name, int64_t d0, const char *f0,
                          int64_t d1, const char *f1, int optional, int mat,
                          const tfm_tensor **out);
// name.weight [n_out, n_in] (n_in 0: [n_out]; a matrix: a layer's, as
// tfm__hf_matrix) and name.bias [n_out] (f32; required when the weight is
// there); optional: both NULL when the weight is absent.
tfm_status tfm__hf_linear(tfm__hf *h, const char *name, int64_t n_out, const char *f_out,
                          int64_t n_in, const char *f_in, int optional, const tfm_tensor **w,
                          const tfm_tensor **b);
// A required tensor with its name printf-formatted (at most 255 bytes), as
// tfm__hf_matrix with the role mat, or (mat 0) tfm__hf_weight.
tfm_status tfm__hf_weightf(tfm__hf *h, int64_t d0, int64_t d1, int mat,
                           const tfm_tensor **out, const char *fmt, ...) TFM__PRINTF(6, 7);
// Rows [r0, r0 + n) of a 2-D (or elements of a 1-D) tensor, a view the
// model owns (of a quantized matrix off its panel grid: a copy).
tfm_status tfm__hf_rows(tfm__hf *h, const tfm_tensor *t, int64_t r0, int64_t n,
                        const tfm_tensor **out);

#endif /* TFM_MODELS_MODEL_H */
