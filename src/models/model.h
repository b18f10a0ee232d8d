/*
 * Models: internal declarations shared by the model loaders (llama2.c .bin,
 * Hugging Face folders), the decoder forward pass, sessions and generation.
 *
 * Legend of dimension letters in shape comments:
 *   V vocabulary, D model width, F feed-forward width, L layers,
 *   H query heads, G key/value heads, E head width (D = H*E), KV = G*E,
 *   T positions in the cache (max_context), B tokens in a batch.
 */
#ifndef TFM_MODELS_MODEL_H
#define TFM_MODELS_MODEL_H

#include "../core/internal.h"
#include "../nn/nn.h"

// ---- weights ---------------------------------------------------------------------

typedef struct tfm__dec_layer {
    const float *norm1_g, *norm1_b; // [D] attention pre-norm (b: LayerNorm only)
    tfm__linear q, k, v, o;         // D->D, D->KV, D->KV, D->D
    const float *norm2_g, *norm2_b; // [D] feed-forward pre-norm
    tfm__linear up, gate, down;     // D->F, D->F (gated only), F->D
} tfm__dec_layer;

typedef enum { TFM__ARCH_LLAMA = 1, TFM__ARCH_GPT2 = 2 } tfm__arch;

typedef struct tfm__dec_config {
    int arch;               // tfm__arch
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, head_dim;
    int32_t vocab, max_ctx;
    float norm_eps;
    int rms;                // 1: RMSNorm, 0: LayerNorm
    int rope;               // 1: rotary positions, 0: learned (pos_emb)
    int rope_neox;          // 1: rotate-half pairs (HF Llama), 0: (2i, 2i+1)
    int rope_f32;           // 1: angles computed in float as llama2.c does
    double rope_theta;
    int gated;              // 1: down(act(gate x) * up x), 0: down(act(up x))
    int act;                // tfm_act of the feed-forward
    int32_t bos, eos;       // -1 when none
    int32_t stop;           // default stop token of generation (-1 none)
    int add_bos;            // generation prepends BOS by default
} tfm__dec_config;

// ---- the model --------------------------------------------------------------------

// A block the model frees at the end (allocations and file mappings).
typedef struct tfm__block {
    void *p;
    size_t size;
    int mapped; // 1: munmap, 0: tfm__free
} tfm__block;

#define TFM__MAX_BLOCKS 64

struct tfm_tokenizer;

struct tfm_model {
    tfm_ctx *ctx;                   // allocator of the model's own memory
    char arch_name[16];
    tfm__dec_config cfg;
    const float *tok_emb;           // [V, D]
    const float *pos_emb;           // [max_ctx, D] learned positions or NULL
    tfm__dec_layer *layers;         // [L]
    const float *norm_g, *norm_b;   // [D] final norm
    tfm__linear lm_head;            // D->V
    uint64_t weight_bytes;          // bytes read per token
    tfm__block blocks[TFM__MAX_BLOCKS];
    int n_blocks;
    struct tfm_tokenizer *tok;      // owned, may be NULL
    void (*tok_free)(struct tfm_tokenizer *);
    // The text of token id after prev, for streaming (set with tok).
    tfm_status (*piece)(tfm_ctx *ctx, const struct tfm_tokenizer *t, int32_t prev,
                        int32_t id, char *buf, size_t size, size_t *len);
    void *aux;                      // a loader's handle (safetensors), freed by aux_free
    void (*aux_free)(void *);
};

// Allocates a zero-filled block owned by the model (freed with it).
void *tfm__model_alloc(tfm_model *m, size_t size);
// Records a mapping (or allocation) the model frees with itself.
tfm_status tfm__model_own(tfm_model *m, void *p, size_t size, int mapped);
// Checks the config (sizes positive, heads divide, ...) naming `what`.
tfm_status tfm__dec_config_check(tfm_ctx *ctx, const tfm__dec_config *c,
                                 const char *what);

// ---- sessions ---------------------------------------------------------------------

struct tfm_session {
    tfm_ctx *ctx;
    const tfm_model *m;
    tfm_session_params p;
    int32_t pos;            // tokens in the cache
    int32_t max_ctx;        // T
    int32_t max_batch;      // B
    int n_tasks;            // attention tasks (the ctx's threads)
    int has_logits;
    tfm_kv_cache *kv;       // keys and values [L, 1, T, G, E] (src/nn)
    float *x, *xb;          // [B, D] residual stream, normed / projected
    float *q, *att;         // [B, D]
    float *h1, *h2;         // [B, F]
    float *scores;          // attention scratch: [n_tasks, T]
    float *logits;          // [V]
    float *rope_cos, *rope_sin; // [T, E/2]
    void *mem;              // the one allocation all the above live in
    size_t mem_size;
};

// The decoder forward pass (src/models/decoder.c): runs tokens[0, n)
// (n <= max_batch) at positions pos.., appends to the cache, writes the last
// token's logits into s->logits, and every token's into logits_all when set.
// Does not move s->pos.
tfm_status tfm__decoder_forward(tfm_session *s, const int32_t *tokens, int32_t n,
                                float *logits_all);
// Checks generation params (or takes the defaults) into *p.
tfm_status tfm__gen_params(tfm_ctx *ctx, const tfm_gen_params *params, tfm_gen_params *p);
// Writes the counts r (NULL: zeros) into the caller's stats (NULL: nothing)
// as an output struct: at most stats->struct_size bytes; a struct_size below
// sizeof(size_t) is TFM_ERR_INVALID_ARG, naming the struct.
tfm_status tfm__gen_stats_write(tfm_ctx *ctx, tfm_gen_stats *stats, const tfm_gen_stats *r);
// Fills the rotary tables of a session.
void tfm__rope_tables(const tfm__dec_config *c, int32_t T, float *cos_t, float *sin_t);

// ---- loaders ----------------------------------------------------------------------

// llama2.c checkpoint (src/models/llama2c.c): fills cfg and the weights of m.
tfm_status tfm__llama2c_load(tfm_ctx *ctx, const char *path, int use_mmap,
                             tfm_model *m);
// Hugging Face folder (src/models/hf.c).
tfm_status tfm__hf_load(tfm_ctx *ctx, const char *dir, const tfm_model_params *p,
                        tfm_model *m);
// Checks that tensor `name` of folder `dir` has shape [d0] (d1 == 0) or
// [d0, d1], the sizes config.json implies (TFM_ERR_FORMAT naming both).
tfm_status tfm__hf_check_shape(tfm_ctx *ctx, const char *dir, const char *name,
                               const tfm_tensor *t, int64_t d0, int64_t d1);

#endif /* TFM_MODELS_MODEL_H */
