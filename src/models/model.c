/*
 * Model and session plumbing shared by every architecture: loading
 * (dispatch on the path: a llama2.c file or a Hugging Face folder), the
 * model's owned memory, queries, and sessions (KV cache and workspace sized
 * once, prefill and step).
 */
#define _POSIX_C_SOURCE 200112L
#include "model.h"
#include "seq2seq.h"
#include "bert.h"
#include "../io/file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

// ---- model memory --------------------------------------------------------------------

tfm_status tfm__model_own(tfm_model *m, void *p, size_t size, int mapped) {
    if (m->n_blocks >= TFM__MAX_BLOCKS)
        return tfm__err(m->ctx, TFM_ERR_NOMEM, "model: too many memory blocks");
    m->blocks[m->n_blocks].p = p;
    m->blocks[m->n_blocks].size = size;
    m->blocks[m->n_blocks].mapped = mapped;
    m->n_blocks++;
    return TFM_OK;
}

void *tfm__model_alloc(tfm_model *m, size_t size) {
    void *p;
    if (size == 0) size = 1;
    p = tfm__alloc(m->ctx, size);
    if (!p) return NULL;
    if (tfm__model_own(m, p, size, 0)) {
        tfm__free(m->ctx, p, size);
        return NULL;
    }
    return p;
}

tfm_status tfm__dec_config_check(tfm_ctx *ctx, const tfm__dec_config *c,
                                 const char *what) {
    if (c->dim <= 0 || c->hidden <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->vocab <= 0 || c->max_ctx <= 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "%s: sizes must be positive (dim %d, hidden %d, layers %d, heads %d, "
                        "kv heads %d, vocab %d, context %d)",
                        what, (int)c->dim, (int)c->hidden, (int)c->n_layers, (int)c->n_heads,
                        (int)c->n_kv_heads, (int)c->vocab, (int)c->max_ctx);
    if (c->dim % c->n_heads != 0 || c->head_dim * c->n_heads != c->dim)
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: dim %d is not n_heads %d x head size %d",
                        what, (int)c->dim, (int)c->n_heads, (int)c->head_dim);
    if (c->n_heads % c->n_kv_heads != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "%s: n_heads %d is not a multiple of n_kv_heads %d", what,
                        (int)c->n_heads, (int)c->n_kv_heads);
    if (c->rope && c->head_dim % 2 != 0)
        return tfm__err(ctx, TFM_ERR_FORMAT,
                        "%s: rotary positions need an even head size, not %d", what,
                        (int)c->head_dim);
    if (!(c->norm_eps >= 0.0f) || !(c->rope_theta > 0.0 || !c->rope))
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: bad norm eps or rope theta", what);
    if (c->bos >= c->vocab || c->eos >= c->vocab)
        return tfm__err(ctx, TFM_ERR_FORMAT, "%s: bos/eos id %d/%d outside the vocabulary of %d",
                        what, (int)c->bos, (int)c->eos, (int)c->vocab);
    return TFM_OK;
}

static uint64_t lin_bytes(const tfm__linear *l) {
    return l->w ? (uint64_t)l->n_in * (uint64_t)l->n_out * 4u +
                      (l->b ? (uint64_t)l->n_out * 4u : 0)
                : 0;
}

// Fills m->weight_bytes from the config.
static void model_count_bytes(tfm_model *m) {
    uint64_t n = 0;
    int32_t l;
    for (l = 0; l < m->cfg.n_layers; l++) {
        const tfm__dec_layer *y = &m->layers[l];
        n += lin_bytes(&y->q) + lin_bytes(&y->k) + lin_bytes(&y->v) + lin_bytes(&y->o);
        n += lin_bytes(&y->up) + lin_bytes(&y->gate) + lin_bytes(&y->down);
        n += (uint64_t)m->cfg.dim * 4u * (y->norm1_b ? 4u : 2u);
    }
    n += lin_bytes(&m->lm_head) + (uint64_t)m->cfg.dim * 4u * (m->norm_b ? 2u : 1u);
    m->weight_bytes = n;
}

// ---- prepacked weights -------------------------------------------------------------------

// Packs one linear map: W [n_out, n_in] (wt) or [n_in, n_out], rows ld apart.
static tfm_status pack_lin(tfm_model *m, tfm__linear *l, const char *what, int32_t layer) {
    tfm_tensor t;
    int64_t shape[2];
    tfm_status st;
    if (!l->w || l->pk) return TFM_OK;
    shape[0] = l->wt ? l->n_out : l->n_in;
    shape[1] = l->wt ? l->n_in : l->n_out;
    if ((st = tfm_tensor_wrap(&t, TFM_F32, 2, shape, (void *)l->w))) return st;
    t.stride[0] = l->ld;
    st = tfm_matrix_pack(m->ctx, &t, l->wt, &l->pk);
    if (st) {
        char msg[TFM__ERRMSG_SIZE / 2];
        snprintf(msg, sizeof msg, "%s", tfm_ctx_last_error(m->ctx));
        if (layer < 0)
            return tfm__err(m->ctx, st, "model_load: packing %s: %s", what, msg);
        return tfm__err(m->ctx, st, "model_load: packing %s of layer %d: %s", what,
                        (int)layer, msg);
    }
    return TFM_OK;
}

// Packs every linear map of the model for the GEMM (tfm_matrix_pack).
static tfm_status model_pack(tfm_model *m) {
    tfm_status st;
    int32_t l;
    for (l = 0; l < m->cfg.n_layers; l++) {
        tfm__dec_layer *y = &m->layers[l];
        if ((st = pack_lin(m, &y->q, "q", l)) || (st = pack_lin(m, &y->k, "k", l)) ||
            (st = pack_lin(m, &y->v, "v", l)) || (st = pack_lin(m, &y->o, "o", l)) ||
            (st = pack_lin(m, &y->up, "up", l)) || (st = pack_lin(m, &y->gate, "gate", l)) ||
            (st = pack_lin(m, &y->down, "down", l)))
            return st;
    }
    return pack_lin(m, &m->lm_head, "the classifier", -1);
}

// Frees the packed copies of model_pack.
static void model_unpack(tfm_model *m) {
    int32_t l;
    if (m->layers) {
        for (l = 0; l < m->cfg.n_layers; l++) {
            tfm__dec_layer *y = &m->layers[l];
            tfm__linear *all[7];
            int i;
            all[0] = &y->q; all[1] = &y->k; all[2] = &y->v; all[3] = &y->o;
            all[4] = &y->up; all[5] = &y->gate; all[6] = &y->down;
            for (i = 0; i < 7; i++) {
                tfm_packed_matrix_free(all[i]->pk);
                all[i]->pk = NULL;
            }
        }
    }
    tfm_packed_matrix_free(m->lm_head.pk);
    m->lm_head.pk = NULL;
}

// ---- load / free ------------------------------------------------------------------------

void tfm_model_params_init(tfm_model_params *dst, size_t struct_size) {
    tfm_model_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.use_mmap = 1;
    p.prepack = 1;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

void tfm_model_free(tfm_model *m) {
    int i;
    tfm_ctx *ctx;
    if (!m) return;
    ctx = m->ctx;
    if (m->tok && m->tok_free) m->tok_free(m->tok);
    if (m->cfg.arch) model_unpack(m); // decoders (BERT keeps its own)
    if (m->aux && m->aux_free) m->aux_free(m->aux);
    for (i = m->n_blocks - 1; i >= 0; i--) {
        if (m->blocks[i].mapped) tfm__file_unmap(ctx, m->blocks[i].p, m->blocks[i].size, 1);
        else tfm__free(ctx, m->blocks[i].p, m->blocks[i].size);
    }
    tfm__free(ctx, m, sizeof *m);
}

// Loads the tokenizer named by p, or the one beside a llama2.c checkpoint.
// Defined in tokenizer glue (model_tok.c).
tfm_status tfm__model_load_tokenizer(tfm_ctx *ctx, tfm_model *m, const char *path,
                                     int is_dir, const tfm_model_params *p);

tfm_status tfm_model_load(tfm_ctx *ctx, const char *path, const tfm_model_params *params,
                          tfm_model **out) {
    tfm_model_params p = tfm_model_params_default();
    tfm_model *m;
    tfm_status st;
    struct stat stt;
    int is_dir;
    if (out) *out = NULL;
    if (!ctx || !path || !out)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "model_load: NULL %s",
                        !ctx ? "ctx" : !path ? "path" : "out");
    if ((st = tfm__params_read(ctx, &p, sizeof p, params, "model_load: params"))) return st;
    if (stat(path, &stt) != 0)
        return tfm__err(ctx, tfm__open_status(errno), "model_load: %s: %s", path,
                        strerror(errno));
    is_dir = S_ISDIR(stt.st_mode);
    m = (tfm_model *)tfm__alloc(ctx, sizeof *m);
    if (!m) return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    m->ctx = ctx;
    if (is_dir) {
        st = tfm__hf_load(ctx, path, &p, m);
    } else {
        st = tfm__llama2c_load(ctx, path, p.use_mmap, m);
        if (!st) snprintf(m->arch_name, sizeof m->arch_name, "llama");
    }
    if (!st) model_count_bytes(m);
    if (!st && p.prepack && m->cfg.arch) st = model_pack(m); // decoders only
    if (!st && !p.no_tokenizer && !tfm__s2s_of(m)) // translators load their own
        st = tfm__model_load_tokenizer(ctx, m, path, is_dir, &p);
    if (st) {
        tfm_model_free(m);
        return st;
    }
    *out = m;
    return TFM_OK;
}

const char *tfm_model_arch(const tfm_model *m) { return m ? m->arch_name : NULL; }
int32_t tfm_model_vocab_size(const tfm_model *m) { return m ? m->cfg.vocab : 0; }
int32_t tfm_model_max_context(const tfm_model *m) { return m ? m->cfg.max_ctx : 0; }
int32_t tfm_model_dim(const tfm_model *m) { return m ? m->cfg.dim : 0; }
int32_t tfm_model_n_layers(const tfm_model *m) { return m ? m->cfg.n_layers : 0; }
int32_t tfm_model_bos(const tfm_model *m) { return m ? m->cfg.bos : -1; }
int32_t tfm_model_eos(const tfm_model *m) { return m ? m->cfg.eos : -1; }
uint64_t tfm_model_weight_bytes(const tfm_model *m) { return m ? m->weight_bytes : 0; }
const struct tfm_tokenizer *tfm_model_tokenizer(const tfm_model *m) {
    return m ? m->tok : NULL;
}

// ---- sessions ------------------------------------------------------------------------------

void tfm_session_params_init(tfm_session_params *dst, size_t struct_size) {
    tfm_session_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.context_policy = TFM_CONTEXT_ERROR;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

// Carves `n` floats (64-byte aligned) out of a running offset.
static int carve(size_t *off, int64_t n, size_t *at) {
    size_t bytes;
    if (n < 0 || !tfm__mul_size((size_t)n, sizeof(float), &bytes)) return 0;
    bytes = (bytes + 63) & ~(size_t)63;
    if (*off > SIZE_MAX - bytes) return 0;
    *at = *off;
    *off += bytes;
    return 1;
}

tfm_status tfm_session_create(tfm_ctx *ctx, const tfm_model *m,
                              const tfm_session_params *params, tfm_session **out) {
    tfm_session_params p = tfm_session_params_default();
    tfm_session *s;
    const tfm__dec_config *c;
    int64_t T, B, D, F;
    tfm_kv_cache_params kp = tfm_kv_cache_params_default();
    tfm_status st;
    size_t off = 0, o_x, o_xb, o_q, o_att, o_h1, o_h2, o_sc, o_lg, o_rc, o_rs;
    int nt, ok = 1;
    char *base;
    if (out) *out = NULL;
    if (!ctx || !m || !out)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "session_create: NULL %s",
                        !ctx ? "ctx" : !m ? "model" : "out");
    if ((st = tfm__params_read(ctx, &p, sizeof p, params, "session_create: params"))) return st;
    if (tfm__bert_of(m))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "session: model '%s' is an encoder; use tfm_model_encode, "
                        "tfm_fill_mask, tfm_embed_texts or tfm_classify (sessions run "
                        "decoders and translators)",
                        m->arch_name);
    c = &m->cfg;
    if (p.max_context < 0 || p.max_batch < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "session_create: max_context %d and max_batch %d must be >= 0",
                        (int)p.max_context, (int)p.max_batch);
    if (p.max_context > c->max_ctx)
        return tfm__err(ctx, TFM_ERR_RANGE,
                        "session_create: max_context %d is past the model's %d positions",
                        (int)p.max_context, (int)c->max_ctx);
    if (p.context_policy != TFM_CONTEXT_ERROR && p.context_policy != TFM_CONTEXT_SLIDE)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "session_create: unknown context_policy %d",
                        (int)p.context_policy);
    T = p.max_context ? p.max_context : c->max_ctx;
    B = p.max_batch ? p.max_batch : (T < 512 ? T : 512);
    if (B > T) B = T;
    D = c->dim; F = c->hidden;
    nt = tfm_ctx_n_threads(ctx);
    ok = carve(&off, B * D, &o_x) && carve(&off, B * D, &o_xb);
    ok = ok && carve(&off, B * D, &o_q) && carve(&off, B * D, &o_att);
    ok = ok && carve(&off, B * F, &o_h1) && carve(&off, B * F, &o_h2);
    ok = ok && carve(&off, tfm__attn_scratch(ctx, T), &o_sc) && carve(&off, c->vocab, &o_lg);
    ok = ok && carve(&off, T * (c->head_dim / 2 + 1), &o_rc) &&
         carve(&off, T * (c->head_dim / 2 + 1), &o_rs);
    if (!ok) return tfm__err(ctx, TFM_ERR_RANGE, "session_create: workspace size overflows");
    s = (tfm_session *)tfm__alloc(ctx, sizeof *s);
    if (!s) return tfm__err(ctx, TFM_ERR_NOMEM, "session_create: out of memory");
    base = (char *)tfm__alloc_nozero(ctx, off);
    if (!base) {
        tfm__free(ctx, s, sizeof *s);
        return tfm__err(ctx, TFM_ERR_NOMEM, "session_create: out of memory for %zu bytes of "
                        "KV cache and workspace", off);
    }
    kp.n_layers = c->n_layers;
    kp.max_batch = 1;
    kp.n_kv_heads = c->n_kv_heads;
    kp.head_dim = c->head_dim;
    kp.max_seq = T;
    if ((st = tfm_kv_cache_create(ctx, &kp, &s->kv))) {
        tfm__free(ctx, base, off);
        tfm__free(ctx, s, sizeof *s);
        return st;
    }
    s->ctx = ctx;
    s->m = m;
    s->p = p;
    s->max_ctx = (int32_t)T;
    s->max_batch = (int32_t)B;
    s->n_tasks = nt;
    s->mem = base;
    s->mem_size = off;
    s->x = (float *)(base + o_x);
    s->xb = (float *)(base + o_xb);
    s->q = (float *)(base + o_q);
    s->att = (float *)(base + o_att);
    s->h1 = (float *)(base + o_h1);
    s->h2 = (float *)(base + o_h2);
    s->scores = (float *)(base + o_sc);
    s->logits = (float *)(base + o_lg);
    s->rope_cos = (float *)(base + o_rc);
    s->rope_sin = (float *)(base + o_rs);
    if (c->rope) tfm__rope_tables(c, (int32_t)T, s->rope_cos, s->rope_sin);
    *out = s;
    return TFM_OK;
}

void tfm_session_free(tfm_session *s) {
    if (!s) return;
    tfm_kv_cache_free(s->kv);
    tfm__free(s->ctx, s->mem, s->mem_size);
    tfm__free(s->ctx, s, sizeof *s);
}

tfm_status tfm_session_prefill(tfm_session *s, const int32_t *tokens, int32_t n,
                               float *logits_all) {
    int32_t i, done;
    tfm_status st;
    tfm_ctx *ctx;
    if (!s) return TFM_ERR_INVALID_ARG;
    ctx = s->ctx;
    if (tfm__s2s_of(s->m))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "session_prefill: the model (%s) is an "
                        "encoder-decoder translator: use tfm_translate", s->m->arch_name);
    if (!tokens || n <= 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "session_prefill: %s",
                        !tokens ? "NULL tokens" : "no tokens (n must be >= 1)");
    for (i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= s->m->cfg.vocab)
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "session_prefill: token %d at index %d is outside the "
                            "vocabulary of %d", (int)tokens[i], (int)i, (int)s->m->cfg.vocab);
    if (n > s->max_ctx - s->pos)
        return tfm__err(ctx, TFM_ERR_RANGE,
                        "session: context of %d tokens full: %d in the cache, %d more asked",
                        (int)s->max_ctx, (int)s->pos, (int)n);
    for (done = 0; done < n;) {
        int32_t nb = n - done < s->max_batch ? n - done : s->max_batch;
        st = tfm__decoder_forward(s, tokens + done, nb,
                                  logits_all ? logits_all + (size_t)done * s->m->cfg.vocab
                                             : NULL);
        if (st) {
            s->pos -= done; // leave the cache as it was
            tfm_kv_cache_truncate(s->kv, s->pos);
            s->has_logits = 0;
            return st;
        }
        s->pos += nb;
        done += nb;
    }
    s->has_logits = 1;
    return TFM_OK;
}

tfm_status tfm_session_step(tfm_session *s, int32_t token, float *logits) {
    tfm_status st = tfm_session_prefill(s, &token, 1, NULL);
    if (!st && logits) memcpy(logits, s->logits, (size_t)s->m->cfg.vocab * sizeof(float));
    return st;
}

const float *tfm_session_logits(const tfm_session *s) {
    return s && s->has_logits ? s->logits : NULL;
}
int32_t tfm_session_pos(const tfm_session *s) { return s ? s->pos : 0; }
int32_t tfm_session_max_context(const tfm_session *s) { return s ? s->max_ctx : 0; }
void tfm_session_reset(tfm_session *s) {
    if (!s) return;
    s->pos = 0;
    s->has_logits = 0;
    tfm_kv_cache_reset(s->kv);
}
tfm_ctx *tfm_session_ctx(const tfm_session *s) { return s ? s->ctx : NULL; }
const tfm_model *tfm_session_model(const tfm_session *s) { return s ? s->m : NULL; }
