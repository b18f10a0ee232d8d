/*
 * The decoder-only transformer forward pass shared by the Llama family
 * (RMSNorm, rotary positions, grouped-query attention, SwiGLU) and GPT-2
 * (LayerNorm, learned positions, GELU-tanh MLP, biases), with the KV cache.
 *
 * One call runs a batch of B tokens at positions p0 .. p0+B-1: every linear
 * map is one matrix product over the batch (the prompt goes through as one
 * batch; a decoding step is the B = 1 case, which the GEMM sends down its
 * small-M path). With the weights prepacked at load (the default) the
 * products run on the packed GEMM: BLIS micro-kernels for a prompt, one
 * streaming pass over the weights for a decoding step.
 *
 * Keys and values live in the layers' KV cache (src/nn, [L, 1, T, G, E]);
 * the projections write the new positions straight into it, and the layers'
 * attention core runs causal grouped-query attention of the B queries over
 * the p0 + B cached keys (query i sees keys 0 .. p0 + i).
 */
#include "model.h"
#include "../kernels/kernels.h"

#include <math.h>
#include <string.h>

// ---- helpers over tensors ---------------------------------------------------------------

static void wrap2(tfm_tensor *t, int64_t rows, int64_t cols, const float *p) {
    int64_t shape[2];
    shape[0] = rows;
    shape[1] = cols;
    tfm_tensor_wrap(t, TFM_F32, 2, shape, (void *)p);
}

static void wrap1(tfm_tensor *t, int64_t n, const float *p) {
    tfm_tensor_wrap(t, TFM_F32, 1, &n, (void *)p);
}

// y[B, n_out] = x[B, n_in] W (+ b).
static tfm_status linear(tfm_ctx *ctx, const tfm__linear *l, int64_t rows, const float *x,
                         float *y) {
    return tfm__linear_rows(ctx, l, rows, x, l->n_in, y, l->n_out, NULL);
}

static tfm_status norm(tfm_ctx *ctx, const tfm__dec_config *c, int64_t rows, const float *x,
                       const float *g, const float *b, float *y) {
    tfm_tensor tx, ty, tg, tb;
    wrap2(&tx, rows, c->dim, x);
    wrap2(&ty, rows, c->dim, y);
    wrap1(&tg, c->dim, g);
    if (c->rms) return tfm_rmsnorm(ctx, &tx, &tg, c->norm_eps, &ty);
    if (b) wrap1(&tb, c->dim, b);
    return tfm_layernorm(ctx, &tx, &tg, b ? &tb : NULL, c->norm_eps, &ty);
}

// ---- rotary tables ------------------------------------------------------------------------

void tfm__rope_tables(const tfm__dec_config *c, int32_t T, float *cos_t, float *sin_t) {
    int32_t pos, i, half = c->head_dim / 2;
    for (pos = 0; pos < T; pos++) {
        for (i = 0; i < half; i++) {
            float *co = cos_t + (size_t)pos * half + i, *si = sin_t + (size_t)pos * half + i;
            if (c->rope_f32) {
                // As llama2.c computes it, in float.
                float freq = 1.0f / powf((float)c->rope_theta,
                                         (float)(2 * i) / (float)c->head_dim);
                float val = (float)pos * freq;
                *co = cosf(val);
                *si = sinf(val);
            } else {
                double inv = 1.0 / pow(c->rope_theta, (double)(2 * i) / (double)c->head_dim);
                double val = (double)pos * inv;
                *co = (float)cos(val);
                *si = (float)sin(val);
            }
        }
    }
}

// ---- attention over the cache ----------------------------------------------------------------

// Below this many multiply-adds a layer's attention runs on the calling
// thread: a decoding step of a small model does a few microseconds of
// attention work per layer, less than waking the pool costs (the GEMM's
// threshold).
#define DEC_ATTN_PAR_MIN 131072.0

// Causal attention of the n new queries q [n, H, E] (rows D apart) over the
// p0 + n keys and values of cache layer l, into att [n, H, E], through the
// layers' attention core (grouped-query heads; work split over (head,
// query) rows, so the result does not depend on the thread count).
static tfm_status attend(tfm_session *s, int32_t l, int32_t n, int32_t p0) {
    const tfm__dec_config *c = &s->m->cfg;
    int64_t E = c->head_dim, D = c->dim, KV = (int64_t)c->n_kv_heads * E, T = s->max_ctx;
    int64_t sh[4], st[4];
    tfm_tensor tq, tk, tv, to;
    tfm_attn_params ap = tfm_attn_params_default();
    tfm__attn at;
    tfm_status rc;
    sh[0] = 1; sh[1] = c->n_heads; sh[2] = n; sh[3] = E;
    st[0] = (int64_t)n * D; st[1] = E; st[2] = D; st[3] = 1;
    tfm__view(&tq, s->q, 4, sh, st);
    tfm__view(&to, s->att, 4, sh, st);
    sh[1] = c->n_kv_heads; sh[2] = (int64_t)p0 + n;
    st[0] = T * KV; st[1] = E; st[2] = KV;
    tfm__view(&tk, tfm__kv_ptr(s->kv, 0, l, 0), 4, sh, st);
    tfm__view(&tv, tfm__kv_ptr(s->kv, 1, l, 0), 4, sh, st);
    ap.causal = 1;
    if ((rc = tfm__attn_setup(s->ctx, &tq, &tk, &tv, &ap, &to, NULL, "decoder", &at)))
        return rc;
    at.par_min = DEC_ATTN_PAR_MIN;
    tfm__attn_run(s->ctx, &at, s->scores);
    s->kv->len[l] = (int64_t)p0 + n;
    s->kv->batch[l] = 1;
    return TFM_OK;
}

// ---- the forward pass -----------------------------------------------------------------------

#define TRY(x) do { if ((st = (x)) != TFM_OK) return st; } while (0)

tfm_status tfm__decoder_forward(tfm_session *s, const int32_t *tokens, int32_t n,
                                float *logits_all) {
    const tfm_model *m = s->m;
    const tfm__dec_config *c = &m->cfg;
    const tfm__kernels *k = tfm__k();
    tfm_ctx *ctx = s->ctx;
    tfm_status st;
    int64_t D = c->dim, F = c->hidden, E = c->head_dim, half = E / 2;
    int64_t KV = (int64_t)c->n_kv_heads * E;
    int32_t p0 = s->pos, i, l;
    tfm_tensor ta, tb;

    // Token (and learned position) embeddings: x[B, D].
    for (i = 0; i < n; i++) {
        memcpy(s->x + (size_t)i * D, m->tok_emb + (size_t)tokens[i] * D,
               (size_t)D * sizeof(float));
        if (m->pos_emb)
            k->add(D, s->x + (size_t)i * D, m->pos_emb + (size_t)(p0 + i) * D,
                   s->x + (size_t)i * D);
    }

    for (l = 0; l < c->n_layers; l++) {
        const tfm__dec_layer *y = &m->layers[l];
        float *kc = tfm__kv_ptr(s->kv, 0, l, 0), *vc = tfm__kv_ptr(s->kv, 1, l, 0);
        if (s->p.abort && s->p.abort(s->p.abort_ud))
            return tfm__err(ctx, TFM_ABORTED, "session: aborted by the host at layer %d", l);

        // ---- attention block: x += Wo · attn(norm1(x)) ----
        TRY(norm(ctx, c, n, s->x, y->norm1_g, y->norm1_b, s->xb));
        TRY(linear(ctx, &y->q, n, s->xb, s->q));
        // k and v of the new tokens go straight into the cache rows p0.. .
        TRY(linear(ctx, &y->k, n, s->xb, kc + (size_t)p0 * KV));
        TRY(linear(ctx, &y->v, n, s->xb, vc + (size_t)p0 * KV));
        if (c->rope) {
            for (i = 0; i < n; i++) {
                const float *co = s->rope_cos + (size_t)(p0 + i) * half;
                const float *si = s->rope_sin + (size_t)(p0 + i) * half;
                int32_t h;
                for (h = 0; h < c->n_heads; h++)
                    k->rope(E, s->q + (size_t)i * D + h * E, co, si, c->rope_neox);
                for (h = 0; h < c->n_kv_heads; h++)
                    k->rope(E, kc + (size_t)(p0 + i) * KV + h * E, co, si, c->rope_neox);
            }
        }
        TRY(attend(s, l, n, p0));
        TRY(linear(ctx, &y->o, n, s->att, s->xb));
        wrap2(&ta, n, D, s->x);
        wrap2(&tb, n, D, s->xb);
        TRY(tfm_add(ctx, &ta, &tb, &ta));

        // ---- feed-forward block: x += down(act(...)) ----
        TRY(norm(ctx, c, n, s->x, y->norm2_g, y->norm2_b, s->xb));
        TRY(linear(ctx, &y->up, n, s->xb, s->h1));
        wrap2(&ta, n, F, s->h1);
        if (c->gated) {
            TRY(linear(ctx, &y->gate, n, s->xb, s->h2));
            wrap2(&tb, n, F, s->h2);
            TRY(tfm_activation(ctx, (tfm_act)c->act, &tb, &tb));
            TRY(tfm_mul(ctx, &ta, &tb, &ta));
        } else {
            TRY(tfm_activation(ctx, (tfm_act)c->act, &ta, &ta));
        }
        TRY(linear(ctx, &y->down, n, s->h1, s->xb));
        wrap2(&ta, n, D, s->x);
        wrap2(&tb, n, D, s->xb);
        TRY(tfm_add(ctx, &ta, &tb, &ta));
    }

    // ---- final norm and classifier ----
    if (logits_all) {
        TRY(norm(ctx, c, n, s->x, m->norm_g, m->norm_b, s->xb));
        TRY(linear(ctx, &m->lm_head, n, s->xb, logits_all));
        memcpy(s->logits, logits_all + (size_t)(n - 1) * c->vocab,
               (size_t)c->vocab * sizeof(float));
    } else {
        TRY(norm(ctx, c, 1, s->x + (size_t)(n - 1) * D, m->norm_g, m->norm_b, s->xb));
        TRY(linear(ctx, &m->lm_head, 1, s->xb, s->logits));
    }
    return TFM_OK;
}
