/*
 * Model and session plumbing shared by every architecture: loading (a
 * llama2.c file, or a Hugging Face folder whose model_type picks a row of
 * the registry), the model's ownership arena, the queries, and sessions
 * (the kind's state sized once; prefill and step of decoders).
 */
#define _POSIX_C_SOURCE 200112L
#include "arch.h"
#include "../io/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

// ---- the ownership arena ----------------------------------------------------------------

static tfm_status own_push(tfm_model *m, const tfm__owned *o) {
    if (m->n_own == m->cap_own) {
        int nc = m->cap_own ? 2 * m->cap_own : 64;
        tfm__owned *p = (tfm__owned *)tfm__realloc(m->ctx, m->own,
                                                   (size_t)m->cap_own * sizeof *p,
                                                   (size_t)nc * sizeof *p);
        if (!p) return tfm__err(m->ctx, TFM_ERR_NOMEM, "model_load: out of memory");
        m->own = p;
        m->cap_own = nc;
    }
    m->own[m->n_own++] = *o;
    return TFM_OK;
}

tfm_status tfm__model_own(tfm_model *m, void *p, size_t size, int mapped) {
    tfm__owned o;
    memset(&o, 0, sizeof o);
    o.p = p;
    o.size = size;
    o.mapped = mapped;
    return own_push(m, &o);
}

tfm_status tfm__model_keep(tfm_model *m, void *obj, void (*free_fn)(void *)) {
    tfm__owned o;
    tfm_status st;
    if (!obj) return TFM_OK;
    memset(&o, 0, sizeof o);
    o.p = obj;
    o.free_fn = free_fn;
    if ((st = own_push(m, &o))) free_fn(obj);
    return st;
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

void tfm__model_sizes(tfm_model *m, int32_t vocab, int32_t max_ctx, int32_t dim,
                      int32_t n_layers) {
    m->info.vocab = vocab;
    m->info.max_ctx = max_ctx;
    m->info.dim = dim;
    m->info.n_layers = n_layers;
}

// The dtype `weights` keeps a matrix of role mat (stored as `stored`) in.
static int matrix_dtype(int weights, int mat, int stored) {
    switch (weights) {
    case TFM_WEIGHTS_F32: return TFM_F32;
    case TFM_WEIGHTS_F16: return TFM_F16;
    case TFM_WEIGHTS_BF16: return TFM_BF16;
    case TFM_WEIGHTS_Q8: return mat & TFM__MAT_EMBED ? stored : TFM__Q8;
    case TFM_WEIGHTS_Q4:
        return mat & TFM__MAT_EMBED ? stored : mat & TFM__MAT_HEAD ? TFM__Q8 : TFM__Q4;
    default: return stored;
    }
}

static int is_quant(int dtype) { return dtype == TFM__Q8 || dtype == TFM__Q4; }

tfm_status tfm__model_matrix(tfm_model *m, const tfm_tensor *t, int weights, int mat,
                             const tfm_tensor **out) {
    int want = matrix_dtype(weights, mat, t->dtype), in_out = (mat & TFM__MAT_IN_OUT) != 0;
    // [n_out, n_in] of the map (quantized tensors are always [out, in])
    int64_t n_out = in_out && !is_quant(t->dtype) ? t->shape[1] : t->shape[0];
    int64_t n_in = in_out && !is_quant(t->dtype) ? t->shape[0] : t->shape[1];
    int64_t n = tfm_tensor_numel(t), shp[2], r, c;
    float *tmp = NULL;
    size_t tmp_size = (size_t)n * sizeof(float);
    tfm_tensor *p, ft;
    tfm_status st = TFM_OK;
    *out = t;
    if (want == t->dtype) return TFM_OK;
    if (!(p = tfm__model_tensor(m)))
        return tfm__err(m->ctx, TFM_ERR_NOMEM, "model_load: out of memory converting weights");
    // A quantized matrix into anything else goes through floats, in the
    // orientation its role stores.
    if (is_quant(t->dtype)) {
        float *row = (float *)tfm__alloc_nozero(m->ctx, (size_t)n_in * sizeof(float));
        tmp = (float *)tfm__alloc_nozero(m->ctx, tmp_size);
        if (!tmp || !row) {
            tfm__free(m->ctx, tmp, tmp_size);
            tfm__free(m->ctx, row, (size_t)n_in * sizeof(float));
            return tfm__err(m->ctx, TFM_ERR_NOMEM, "model_load: out of memory converting "
                            "weights");
        }
        for (r = 0; r < n_out; r++) {
            tfm__q_row(t->dtype, (const uint8_t *)t->data, n_in, r, row);
            for (c = 0; c < n_in; c++) tmp[in_out ? c * n_out + r : r * n_in + c] = row[c];
        }
        tfm__free(m->ctx, row, (size_t)n_in * sizeof(float));
        shp[0] = in_out ? n_in : n_out;
        shp[1] = in_out ? n_out : n_in;
        tfm_tensor_wrap(&ft, TFM_F32, 2, shp, tmp);
        if (want == TFM_F32) { // keep it
            void *dst = tfm__model_alloc(m, tmp_size);
            if (dst) memcpy(dst, tmp, tmp_size);
            tfm__free(m->ctx, tmp, tmp_size);
            if (!dst) return tfm__err(m->ctx, TFM_ERR_NOMEM, "model_load: out of memory");
            tfm_tensor_wrap(p, TFM_F32, 2, shp, dst);
            *out = p;
            return TFM_OK;
        }
        t = &ft;
    }
    if (is_quant(want)) {
        size_t bytes = tfm__q_bytes(want, n_out, n_in);
        uint8_t *dst = bytes ? (uint8_t *)tfm__model_alloc(m, bytes) : NULL;
        if (!dst) st = tfm__err(m->ctx, TFM_ERR_NOMEM, "model_load: out of memory quantizing "
                                "weights");
        else st = tfm__q_quantize(m->ctx, want, t, in_out, n_out, n_in, dst);
        shp[0] = n_out;
        shp[1] = n_in;
        tfm_tensor_wrap(p, TFM_U8, 2, shp, dst);
        p->dtype = want;
    } else {
        void *dst = tfm__model_alloc(m, (size_t)n * tfm_dtype_size((tfm_dtype)want));
        if (!dst) {
            st = tfm__err(m->ctx, TFM_ERR_NOMEM, "model_load: out of memory converting weights");
        } else {
            const float *f32 = NULL;
            float *wide = NULL;
            tfm_tensor_wrap(p, (tfm_dtype)want, 2, t->shape, dst);
            if (t->dtype == TFM_F32) {
                f32 = (const float *)t->data;
            } else {
                wide = want == TFM_F32 ? (float *)dst
                                       : (float *)tfm__alloc_nozero(m->ctx, (size_t)n * 4);
                if (!wide) {
                    st = tfm__err(m->ctx, TFM_ERR_NOMEM, "model_load: out of memory "
                                  "converting weights");
                } else if (t->dtype == TFM_F16) {
                    tfm_f16_to_f32_array((const uint16_t *)t->data, wide, (size_t)n);
                } else {
                    tfm_bf16_to_f32_array((const uint16_t *)t->data, wide, (size_t)n);
                }
                f32 = wide;
            }
            if (!st && want == TFM_F16) tfm_f32_to_f16_array(f32, (uint16_t *)dst, (size_t)n);
            else if (!st && want == TFM_BF16) tfm_f32_to_bf16_array(f32, (uint16_t *)dst, (size_t)n);
            if (wide && wide != dst) tfm__free(m->ctx, wide, (size_t)n * 4);
        }
    }
    if (tmp) tfm__free(m->ctx, tmp, tmp_size);
    if (st) return st;
    *out = p;
    return TFM_OK;
}

tfm_layer_params tfm__layer_params(int64_t D, int64_t H, int64_t F, int act, int norm,
                                   float eps, const tfm_model_params *p) {
    tfm_layer_params lp = tfm_layer_params_default();
    lp.d_model = D;
    lp.n_heads = H;
    lp.d_ff = F;
    lp.act = act;
    lp.norm = norm;
    lp.norm_eps = eps;
    lp.prepack = p->prepack;
    return lp;
}

tfm_tensor *tfm__model_tensor(tfm_model *m) {
    return (tfm_tensor *)tfm__model_alloc(m, sizeof(tfm_tensor));
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
    for (i = m->n_own - 1; i >= 0; i--) {
        const tfm__owned *o = &m->own[i];
        if (o->free_fn) o->free_fn(o->p);
        else if (o->mapped) tfm__file_unmap(ctx, o->p, o->size, 1);
        else tfm__free(ctx, o->p, o->size);
    }
    tfm__free(ctx, m->own, (size_t)m->cap_own * sizeof *m->own);
    tfm__free(ctx, m, sizeof *m);
}

static void st_close(void *p) { tfm_safetensors_close((tfm_safetensors *)p); }

// A Hugging Face folder: config.json names the architecture, whose hooks
// read the config and then the weights.
static tfm_status load_hf(tfm_ctx *ctx, const char *dir, const tfm_model_params *p,
                          tfm_model *m, tfm__hf_rec *rec) {
    tfm__json_doc *doc = NULL;
    const char *type;
    tfm_status st;
    tfm__hf h;
    memset(&h, 0, sizeof h);
    h.ctx = ctx;
    h.m = m;
    h.dir = dir;
    h.weights = p->weights;
    h.rec = rec;
    if (strlen(dir) + 40 > sizeof h.what)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "model_load: path too long");
    snprintf(h.what, sizeof h.what, "%s/config.json", dir);
    if ((st = tfm__json_parse_file(ctx, h.what, NULL, &doc))) return st;
    h.cfg = tfm__json_root(doc);
    if (!tfm__json_is(h.cfg, TFM__JSON_OBJECT)) {
        tfm__json_free(doc);
        return tfm__err(ctx, TFM_ERR_FORMAT, "model_load: %s: not a JSON object", h.what);
    }
    st = tfm__hf_str(&h, "model_type", NULL, &type);
    if (!st && !type)
        st = tfm__err(ctx, TFM_ERR_NOT_FOUND, "model_load: %s: missing field 'model_type'",
                      h.what);
    if (!st && !(m->arch = tfm__arch_find(type))) {
        char names[256];
        tfm__arch_names(names, sizeof names);
        st = tfm__err(ctx, TFM_ERR_UNSUPPORTED, "model_load: %s: model_type '%s' (%s are "
                      "supported)", h.what, type, names);
    }
    // The weights are opened first: the config hook checks its sizes
    // against them (tfm__hf_fits) before it allocates what they imply.
    if (!st && !(st = tfm_safetensors_open(ctx, dir, &h.st)))
        st = tfm__model_keep(m, h.st, st_close);
    if (!st) {
        snprintf(m->arch_name, sizeof m->arch_name, "%s", m->arch->name);
        m->info.bos = m->info.eos = m->info.stop = -1;
        st = m->arch->config(&h, m);
    }
    if (!st) st = m->arch->load(&h, m, p);
    tfm__json_free(doc);
    return st;
}

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
    if (p.weights < TFM_WEIGHTS_STORED || p.weights > TFM_WEIGHTS_Q4)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "model_load: params: weights %d is not a "
                        "tfm_weights (stored, f32, f16, bf16, q8, q4)", (int)p.weights);
    if (stat(path, &stt) != 0)
        return tfm__err(ctx, tfm__open_status(errno), "model_load: %s: %s", path,
                        strerror(errno));
    is_dir = S_ISDIR(stt.st_mode);
    m = (tfm_model *)tfm__alloc(ctx, sizeof *m);
    if (!m) return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    m->ctx = ctx;
    st = is_dir ? load_hf(ctx, path, &p, m, NULL) : tfm__llama2c_model(ctx, path, &p, m);
    // Translators bring their own tokenizers (source.spm, target.spm).
    if (!st && !p.no_tokenizer && m->arch->kind != TFM_KIND_ENCODER_DECODER)
        st = tfm__model_load_tokenizer(ctx, m, path, is_dir, &p);
    if (st) {
        tfm_model_free(m);
        return st;
    }
    *out = m;
    return TFM_OK;
}

tfm_status tfm__model_load_hf(tfm_ctx *ctx, const char *dir, const tfm_model_params *p,
                              tfm__hf_rec *rec, tfm_model **out) {
    tfm_model *m = (tfm_model *)tfm__alloc(ctx, sizeof *m);
    tfm_status st;
    *out = NULL;
    if (!m) return tfm__err(ctx, TFM_ERR_NOMEM, "model_load: out of memory");
    m->ctx = ctx;
    if ((st = load_hf(ctx, dir, p, m, rec))) {
        tfm_model_free(m);
        return st;
    }
    *out = m;
    return TFM_OK;
}

tfm_kind tfm_model_kind(const tfm_model *m) { return m ? m->arch->kind : (tfm_kind)0; }
const char *tfm_model_arch(const tfm_model *m) { return m ? m->arch_name : NULL; }
int32_t tfm_model_vocab_size(const tfm_model *m) { return m ? m->info.vocab : 0; }
int32_t tfm_model_max_context(const tfm_model *m) { return m ? m->info.max_ctx : 0; }
int32_t tfm_model_dim(const tfm_model *m) { return m ? m->info.dim : 0; }
int32_t tfm_model_n_layers(const tfm_model *m) { return m ? m->info.n_layers : 0; }
int32_t tfm_model_bos(const tfm_model *m) { return m ? m->info.bos : -1; }
int32_t tfm_model_eos(const tfm_model *m) { return m ? m->info.eos : -1; }
uint64_t tfm_model_weight_bytes(const tfm_model *m) {
    return m ? m->arch->weight_bytes(m) : 0;
}
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

tfm_status tfm_session_create(tfm_ctx *ctx, const tfm_model *m,
                              const tfm_session_params *params, tfm_session **out) {
    tfm_session_params p = tfm_session_params_default();
    tfm_session *s;
    tfm_status st;
    int32_t T, B;
    if (out) *out = NULL;
    if (!ctx || !m || !out)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "session_create: NULL %s",
                        !ctx ? "ctx" : !m ? "model" : "out");
    if ((st = tfm__params_read(ctx, &p, sizeof p, params, "session_create: params"))) return st;
    if (!m->arch->session_create)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "session: model '%s' is an encoder; use tfm_model_encode, "
                        "tfm_fill_mask, tfm_embed_texts or tfm_classify (sessions run "
                        "decoders and translators)",
                        m->arch_name);
    if (p.max_context < 0 || p.max_batch < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "session_create: max_context %d and max_batch %d must be >= 0",
                        (int)p.max_context, (int)p.max_batch);
    if (p.max_context > m->info.max_ctx)
        return tfm__err(ctx, TFM_ERR_RANGE,
                        "session_create: max_context %d is past the model's %d positions",
                        (int)p.max_context, (int)m->info.max_ctx);
    if (p.context_policy != TFM_CONTEXT_ERROR && p.context_policy != TFM_CONTEXT_SLIDE)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "session_create: unknown context_policy %d",
                        (int)p.context_policy);
    T = p.max_context ? p.max_context : m->info.max_ctx;
    B = p.max_batch ? p.max_batch : (T < 512 ? T : 512);
    if (B > T) B = T;
    s = (tfm_session *)tfm__alloc(ctx, sizeof *s);
    if (!s) return tfm__err(ctx, TFM_ERR_NOMEM, "session_create: out of memory");
    s->ctx = ctx;
    s->m = m;
    s->arch = m->arch;
    s->p = p;
    s->max_ctx = T;
    s->max_batch = B;
    if ((st = s->arch->session_create(s))) {
        tfm_session_free(s);
        return st;
    }
    *out = s;
    return TFM_OK;
}

void tfm_session_free(tfm_session *s) {
    if (!s) return;
    if (s->arch->session_free) s->arch->session_free(s);
    tfm__free(s->ctx, s, sizeof *s);
}

tfm_status tfm_session_prefill(tfm_session *s, const int32_t *tokens, int32_t n,
                               float *logits_all) {
    int32_t i, done, V;
    tfm_status st;
    tfm_ctx *ctx;
    if (!s) return TFM_ERR_INVALID_ARG;
    ctx = s->ctx;
    V = s->m->info.vocab;
    if (!s->arch->forward)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "session_prefill: the model (%s) is an "
                        "encoder-decoder translator: use tfm_translate", s->m->arch_name);
    if (!tokens || n <= 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "session_prefill: %s",
                        !tokens ? "NULL tokens" : "no tokens (n must be >= 1)");
    for (i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return tfm__err(ctx, TFM_ERR_RANGE,
                            "session_prefill: token %d at index %d is outside the "
                            "vocabulary of %d", (int)tokens[i], (int)i, (int)V);
    if (n > s->max_ctx - s->pos)
        return tfm__err(ctx, TFM_ERR_RANGE,
                        "session: context of %d tokens full: %d in the cache, %d more asked",
                        (int)s->max_ctx, (int)s->pos, (int)n);
    for (done = 0; done < n;) {
        int32_t nb = n - done < s->max_batch ? n - done : s->max_batch;
        st = s->arch->forward(s, tokens + done, nb,
                                 logits_all ? logits_all + (size_t)done * V : NULL);
        if (st) {
            s->pos -= done; // leave the cache as it was
            s->arch->session_truncate(s, s->pos);
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
    if (!st && logits) memcpy(logits, s->logits, (size_t)s->m->info.vocab * sizeof(float));
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
    if (s->arch->session_truncate) s->arch->session_truncate(s, 0);
}
tfm_ctx *tfm_session_ctx(const tfm_session *s) { return s ? s->ctx : NULL; }
const tfm_model *tfm_session_model(const tfm_session *s) { return s ? s->m : NULL; }
