/*
 * Translation: greedy and beam search over an encoder-decoder model, the
 * public Translation API (token ids and text), teacher-forced logits.
 *
 * One call encodes the padded batch of B sources once, runs the first
 * decoder step for the B sentences (every beam starts from the same start
 * token), which projects the cross-attention keys and values once per
 * source, then copies both caches to the K beam rows of each sentence.
 * Each later step runs the N = B*K rows at once; after the beams are chosen
 * the self-attention cache is reordered (beams of one sentence share their
 * cross-attention rows, which never move).
 *
 * Beam search gives the results of transformers' generate (version 5, its
 * vectorized _beam_search; the rules are in the Translation section of the
 * header). Letters as in seq2seq.h; T is the largest number of target
 * tokens.
 */
#include "seq2seq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void tfm_translate_params_init(tfm_translate_params *dst, size_t struct_size) {
    tfm_translate_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.length_penalty = NAN;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

#define TRY(x) do { if ((st = (x)) != TFM_OK) goto done; } while (0)

// ---- scratch: one allocation carved into buffers ---------------------------------------------

typedef struct carver {
    size_t off;
    int ok;
} carver;

static size_t carve(carver *c, int64_t n, size_t elem) {
    size_t b, at;
    if (n < 0 || !tfm__mul_size((size_t)n, elem, &b)) { c->ok = 0; return 0; }
    b = (b + 63) & ~(size_t)63;
    if (c->off > SIZE_MAX - b) { c->ok = 0; return 0; }
    at = c->off;
    c->off += b;
    return at;
}

// A beam hypothesis that ended (EOS) or ran to max_length.
typedef struct hyp {
    double score;
    int32_t n;      // tokens (EOS included when it ended with one)
} hyp;

typedef struct search {
    tfm_ctx *ctx;
    const tfm__s2s *s;
    int32_t B, S, K, T, N, V;
    double lp;
    int early, want_att;
    // buffers (in one block)
    int32_t *src;        // [B, S]
    uint8_t *kpm;        // [B, S] 1 = padding
    uint8_t *kpm_n;      // [N, S]
    float *mem;          // [B, S, D]
    float *x;            // [N, D]
    float *logits;       // [N, V]
    float *probs;        // [N, H, 1, S]
    float *catt;         // [N, S]
    double *lsm;         // [V] log-softmax of one row
    int32_t *tok, *tok2; // [N, T] token histories (double-buffered)
    float *att, *att2;   // [N, T, S] attention histories
    double *bscore;      // [N] running beam scores
    int32_t *next_tok, *next_src; // [N]
    double *next_score;  // [N]
    double *cand_s;      // [2K] candidates
    int32_t *cand_k, *cand_t;
    int32_t *ids;        // [N] next decoder inputs
    hyp *hyps;           // [B, K]
    int32_t *hyp_tok;    // [B, K, T]
    float *hyp_att;      // [B, K, T, S]
    int32_t *n_hyps;     // [B]
    uint8_t *done;       // [B]
    double *gscore;      // [B] greedy sums
    int32_t *glen;       // [B] greedy lengths
} search;

// Log-softmax of a logits row into out (double), with the processors:
// the pad token banned, and at the last step only EOS, with log-probability
// 0 (as transformers' ForcedEOSTokenLogitsProcessor sets it).
static void log_probs(const search *q, const float *z, int last, double *out) {
    const tfm__s2s *s = q->s;
    int32_t V = q->V, v;
    double mx = -INFINITY, sum = 0.0, lse;
    for (v = 0; v < V; v++) if (z[v] > mx) mx = z[v];
    for (v = 0; v < V; v++) sum += exp((double)z[v] - mx);
    lse = mx + log(sum);
    for (v = 0; v < V; v++) out[v] = (double)z[v] - lse;
    if (s->ban_pad && s->pad >= 0 && s->pad != s->eos) out[s->pad] = -INFINITY;
    if (last && s->forced_eos >= 0) {
        for (v = 0; v < V; v++) out[v] = -INFINITY;
        out[s->forced_eos] = 0.0;
    }
}

// Copies every layer's rows of a cache filled for B sequences to the N =
// B*K rows b*K + j (j < K), in place (from the last sentence down, so no
// source row is overwritten before it is copied).
static void cache_expand(tfm_kv_cache *c, int32_t B, int32_t K) {
    int64_t l, rowb = c->p.n_kv_heads * c->p.head_dim * (int64_t)sizeof(float);
    int32_t b, j, w;
    for (l = 0; l < c->p.n_layers; l++) {
        size_t used = (size_t)(c->len[l] * rowb);
        if (!used) continue;
        for (b = B - 1; b >= 0; b--)
            for (j = K - 1; j >= 0; j--) {
                int64_t d = (int64_t)b * K + j;
                if (d == b) continue;
                for (w = 0; w < 2; w++)
                    memcpy(tfm__kv_ptr(c, w, l, d), tfm__kv_ptr(c, w, l, b), used);
            }
        c->batch[l] = (int64_t)B * K;
    }
}

// Adds a finished hypothesis to sentence b: tokens toks[0, n), attention
// rows att[0, n) (NULL unless asked), score.
static void hyp_add(search *q, int32_t b, const int32_t *toks, const float *att, int32_t n,
                    double score) {
    int32_t K = q->K, i, slot = -1;
    hyp *h = q->hyps + (size_t)b * K;
    if (q->n_hyps[b] < K) {
        slot = q->n_hyps[b]++;
    } else {
        int32_t worst = 0;
        for (i = 1; i < K; i++)
            if (h[i].score < h[worst].score) worst = i;
        if (!(score > h[worst].score)) return;
        slot = worst;
    }
    h[slot].score = score;
    h[slot].n = n;
    memcpy(q->hyp_tok + ((size_t)b * K + slot) * q->T, toks, (size_t)n * sizeof(int32_t));
    if (att && q->want_att)
        memcpy(q->hyp_att + (((size_t)b * K + slot) * q->T) * q->S, att,
               (size_t)n * (size_t)q->S * sizeof(float));
}

static double worst_hyp(const search *q, int32_t b) {
    const hyp *h = q->hyps + (size_t)b * q->K;
    double w = INFINITY;
    int32_t i;
    for (i = 0; i < q->n_hyps[b]; i++)
        if (h[i].score < w) w = h[i].score;
    return w;
}

static double len_pen(double len, double lp) { return pow(len, lp); }

// ---- the search ------------------------------------------------------------------------------

static int aborted(tfm_session *sess) {
    return sess->p.abort && sess->p.abort(sess->p.abort_ud);
}

// Runs the search on q (buffers set up, src/kpm filled); the best
// hypothesis of sentence b ends in hyps slot best[b].
static tfm_status run(tfm_session *sess, search *q, int32_t *best) {
    const tfm__s2s *s = q->s;
    tfm_ctx *ctx = q->ctx;
    tfm__s2s_state *z = (tfm__s2s_state *)sess->state;
    tfm_status st = TFM_OK;
    tfm_workspace *ws;
    tfm_kv_cache *sc, *cc;
    tfm_tensor ids_t, src_t, kpm_t, kpmn_t, mem_t;
    int64_t shp[3];
    int32_t B = q->B, K = q->K, N = q->N, S = q->S, T = q->T, V = q->V, D = s->D;
    int32_t t, b, k, r, i;
    int greedy = K == 1;
    ws = &z->ws;
    sc = z->sc;
    cc = z->cc;
    // ---- encoder
    shp[0] = B; shp[1] = S; shp[2] = D;
    tfm_tensor_wrap(&src_t, TFM_I32, 2, shp, q->src);
    tfm_tensor_wrap(&kpm_t, TFM_U8, 2, shp, q->kpm);
    tfm_tensor_wrap(&mem_t, TFM_F32, 3, shp, q->mem);
    TRY(tfm__s2s_encode(ctx, s, &src_t, &kpm_t, ws, &mem_t));
    if (aborted(sess)) { st = tfm__err(ctx, TFM_ABORTED, "translate: aborted"); goto done; }
    // ---- first step: B rows, the cross-attention projected once per source
    for (b = 0; b < B; b++) q->ids[b] = s->start;
    shp[0] = B; shp[1] = 1;
    tfm_tensor_wrap(&ids_t, TFM_I32, 2, shp, q->ids);
    TRY(tfm__s2s_decode(ctx, s, &ids_t, 0, &mem_t, &kpm_t, sc, cc, ws, q->x, q->logits,
                        q->probs, q->want_att ? q->catt : NULL));
    for (r = 0; r < N; r++) q->bscore[r] = 0.0;
    if (!greedy) {
        cache_expand(sc, B, K);
        cache_expand(cc, B, K);
    }
    for (r = 0; r < N; r++) memcpy(q->kpm_n + (size_t)r * S, q->kpm + (size_t)(r / K) * S, (size_t)S);
    shp[0] = N; shp[1] = S;
    tfm_tensor_wrap(&kpmn_t, TFM_U8, 2, shp, q->kpm_n);
    for (t = 0; t < T; t++) {
        int last = t == T - 1, all_done = 1;
        if (greedy) {
            for (b = 0; b < B; b++) {
                int32_t v, arg = 0;
                if (q->done[b]) { q->ids[b] = s->pad >= 0 ? s->pad : 0; continue; }
                log_probs(q, q->logits + (size_t)b * V, last, q->lsm);
                for (v = 1; v < V; v++)
                    if (q->lsm[v] > q->lsm[arg]) arg = v;
                q->tok[(size_t)b * T + t] = arg;
                if (q->want_att)
                    memcpy(q->att + ((size_t)b * T + t) * S, q->catt + (size_t)b * S,
                           (size_t)S * sizeof(float));
                q->gscore[b] += q->lsm[arg];
                q->glen[b] = t + 1;
                if (arg == s->eos) q->done[b] = 1;
                q->ids[b] = arg;
            }
            for (b = 0; b < B; b++) all_done &= q->done[b];
        } else {
            int32_t C = 2 * K < V ? 2 * K : V;
            for (b = 0; b < B; b++) {
                int32_t nb = t == 0 ? 1 : K, nc = 0, bi = 0;
                // early stopping: a sentence with K hypotheses takes no more
                if (q->early && q->n_hyps[b] >= K) {
                    for (k = 0; k < K; k++) {
                        q->next_tok[b * K + k] = s->pad >= 0 ? s->pad : 0;
                        q->next_src[b * K + k] = b * K + k;
                        q->next_score[b * K + k] = 0.0;
                    }
                    continue;
                }
                // the C best (beam score + log-prob) over the sentence's beams
                for (k = 0; k < nb; k++) {
                    int32_t row = t == 0 ? b : b * K + k, v;
                    log_probs(q, q->logits + (size_t)row * V, last, q->lsm);
                    for (v = 0; v < V; v++) {
                        double sc_ = q->bscore[row] + q->lsm[v];
                        int32_t j;
                        if (nc == C && !(sc_ > q->cand_s[C - 1])) continue;
                        j = nc < C ? nc++ : C - 1;
                        while (j > 0 && sc_ > q->cand_s[j - 1]) {
                            q->cand_s[j] = q->cand_s[j - 1];
                            q->cand_k[j] = q->cand_k[j - 1];
                            q->cand_t[j] = q->cand_t[j - 1];
                            j--;
                        }
                        q->cand_s[j] = sc_;
                        q->cand_k[j] = k;
                        q->cand_t[j] = v;
                    }
                }
                for (i = 0; i < nc && bi < K; i++) {
                    int32_t row = t == 0 ? b : b * K + q->cand_k[i];
                    if (last || q->cand_t[i] == s->eos) {
                        int32_t *tk = q->tok + (size_t)row * T;
                        float *at = q->att + (size_t)row * T * S;
                        if (i >= K) continue;
                        tk[t] = q->cand_t[i]; // the row is rewritten below anyway
                        if (q->want_att)
                            memcpy(at + (size_t)t * S, q->catt + (size_t)row * S,
                                   (size_t)S * sizeof(float));
                        hyp_add(q, b, tk, at, t + 1,
                                q->cand_s[i] / len_pen((double)(t + 1), q->lp));
                    } else {
                        q->next_tok[b * K + bi] = q->cand_t[i];
                        q->next_src[b * K + bi] = row;
                        q->next_score[b * K + bi] = q->cand_s[i];
                        bi++;
                    }
                }
                if (bi < K) { // fewer candidates than beams (tiny vocabulary)
                    for (; bi < K; bi++) {
                        q->next_tok[b * K + bi] = q->next_tok[b * K];
                        q->next_src[b * K + bi] = q->next_src[b * K];
                        q->next_score[b * K + bi] = -INFINITY;
                    }
                }
                // open: can still gain a hypothesis or a better one (the best
                // running beam over the length so far beats the worst kept)
                if (!last && (q->n_hyps[b] < K ||
                              (!q->early && q->next_score[b * K] / len_pen((double)(t + 1), q->lp) >
                                                worst_hyp(q, b))))
                    all_done = 0;
            }
            // reorder histories: row r continues row next_src[r]
            for (r = 0; r < N; r++) {
                int32_t from = q->next_src[r];
                if (t > 0)
                    memcpy(q->tok2 + (size_t)r * T, q->tok + (size_t)from * T,
                           (size_t)t * sizeof(int32_t));
                q->tok2[(size_t)r * T + t] = q->next_tok[r];
                if (q->want_att) {
                    if (t > 0)
                        memcpy(q->att2 + (size_t)r * T * S, q->att + (size_t)from * T * S,
                               (size_t)t * S * sizeof(float));
                    memcpy(q->att2 + ((size_t)r * T + t) * S, q->catt + (size_t)from * S,
                           (size_t)S * sizeof(float));
                }
                q->bscore[r] = q->next_score[r];
                q->ids[r] = q->next_tok[r];
            }
            { int32_t *tp = q->tok; q->tok = q->tok2; q->tok2 = tp; }
            { float *ap = q->att; q->att = q->att2; q->att2 = ap; }
            // after step 0 every row of a sentence holds the same cache (expanded)
            if (!all_done && !last && t > 0) TRY(tfm_kv_cache_reorder(ctx, sc, q->next_src, N));
        }
        if (all_done || last) break;
        if (aborted(sess)) { st = tfm__err(ctx, TFM_ABORTED, "translate: aborted"); goto done; }
        shp[0] = greedy ? B : N; shp[1] = 1;
        tfm_tensor_wrap(&ids_t, TFM_I32, 2, shp, q->ids);
        TRY(tfm__s2s_decode(ctx, s, &ids_t, t + 1, NULL, greedy ? &kpm_t : &kpmn_t, sc, cc, ws,
                            q->x, q->logits, q->probs, q->want_att ? q->catt : NULL));
    }
    // ---- results
    if (greedy) {
        for (b = 0; b < B; b++) {
            q->hyps[b].score = q->gscore[b];
            q->hyps[b].n = q->glen[b];
            memcpy(q->hyp_tok + (size_t)b * T, q->tok + (size_t)b * T,
                   (size_t)q->glen[b] * sizeof(int32_t));
            if (q->want_att)
                memcpy(q->hyp_att + (size_t)b * T * S, q->att + (size_t)b * T * S,
                       (size_t)q->glen[b] * S * sizeof(float));
            best[b] = 0;
        }
    } else {
        for (b = 0; b < B; b++) {
            int32_t bb = 0;
            for (k = 1; k < q->n_hyps[b]; k++)
                if (q->hyps[(size_t)b * K + k].score > q->hyps[(size_t)b * K + bb].score) bb = k;
            best[b] = bb;
        }
    }
done:
    return st;
}

// ---- the API -----------------------------------------------------------------------------------

void tfm_translate_result_free(tfm_translate_result *r) {
    int32_t i;
    tfm_ctx *ctx;
    if (!r) return;
    ctx = r->ctx;
    if (r->items) {
        for (i = 0; i < r->n; i++) {
            tfm_translation *t = &r->items[i];
            if (t->src_ids) tfm__free(ctx, t->src_ids, (size_t)(t->n_src ? t->n_src : 1) * sizeof(int32_t));
            if (t->ids) tfm__free(ctx, t->ids, (size_t)(t->n_ids ? t->n_ids : 1) * sizeof(int32_t));
            if (t->attention)
                tfm__free(ctx, t->attention,
                          (size_t)(t->n_ids ? t->n_ids : 1) * (size_t)t->n_src * sizeof(float));
            if (t->text) tfm__free(ctx, t->text, strlen(t->text) + 1);
        }
        tfm__free(ctx, r->items, (size_t)r->n * sizeof *r->items);
    }
    tfm__free(ctx, r, sizeof *r);
}

typedef struct resolved {
    int32_t K, T, max_src, truncate, early, att;
    double lp;
} resolved;

static tfm_status resolve(tfm_ctx *ctx, const tfm__s2s *s, const tfm_translate_params *params,
                          resolved *r) {
    tfm_translate_params p = tfm_translate_params_default();
    tfm_status st = tfm__params_read(ctx, &p, sizeof p, params, "translate: params");
    if (st) return st;
    if (p.beam_size < 0 || p.beam_size > 64 || p.max_length < 0 || p.max_source_length < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "translate: beam_size %d (0..64), max_length %d and max_source_length "
                        "%d (>= 0)", (int)p.beam_size, (int)p.max_length, (int)p.max_source_length);
    if (!isnan(p.length_penalty) && !isfinite(p.length_penalty))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate: length_penalty must be finite");
    r->K = p.beam_size ? p.beam_size : s->gen_beams;
    r->T = p.max_length ? p.max_length : s->gen_max_length;
    r->max_src = p.max_source_length ? p.max_source_length : s->P;
    if (r->T > s->P || r->max_src > s->P)
        return tfm__err(ctx, TFM_ERR_RANGE,
                        "translate: max_length %d / max_source_length %d past the model's %d "
                        "positions", (int)r->T, (int)r->max_src, (int)s->P);
    if (r->max_src < 2 && p.truncate)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate: max_source_length %d leaves no "
                        "room for a token and the EOS", (int)r->max_src);
    r->truncate = p.truncate;
    r->early = p.early_stopping;
    r->att = p.attention;
    r->lp = isnan(p.length_penalty) ? (double)s->gen_length_penalty : (double)p.length_penalty;
    return TFM_OK;
}

static tfm_status translate_ids(tfm_session *sess, const int32_t *const *src,
                                const int32_t *lens, int32_t n, const tfm_translate_params *params,
                                tfm_translate_result **out) {
    tfm_ctx *ctx;
    const tfm__s2s *s;
    resolved rp;
    search q;
    carver cv = {0, 1};
    size_t o_src, o_kpm, o_kpmn, o_mem, o_x, o_lg, o_pr, o_ca, o_lsm, o_t1, o_t2, o_a1, o_a2,
        o_bs, o_nt, o_ns, o_nsc, o_cs, o_ck, o_ct, o_ids, o_h, o_ht, o_ha, o_nh, o_dn, o_gs,
        o_gl, o_best;
    tfm_status st;
    tfm_translate_result *res = NULL;
    int32_t i, j, *best;
    char *base;
    if (out) *out = NULL;
    if (!sess) return TFM_ERR_INVALID_ARG;
    ctx = sess->ctx;
    if (!src || !lens || !out || n < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate: %s",
                        n < 1 ? "no sentences (n must be >= 1)" : "NULL src, src_lens or out");
    if (!(s = tfm__s2s_of(sess->m)))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate: the session's model (%s) is not "
                        "a translation model", sess->m->arch_name);
    memset(&rp, 0, sizeof rp);
    if ((st = resolve(ctx, s, params, &rp))) return st;
    memset(&q, 0, sizeof q);
    q.ctx = ctx;
    q.s = s;
    q.B = n;
    q.K = rp.K;
    q.T = rp.T;
    q.N = n * rp.K;
    q.V = s->Vt;
    q.lp = rp.lp;
    q.early = rp.early;
    q.want_att = rp.att;
    q.S = 1;
    for (i = 0; i < n; i++) {
        int32_t L = lens[i];
        if (!src[i] || L < 1 || (L == 1 && src[i][0] == s->eos))
            return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate: sentence %d is empty", (int)i);
        for (j = 0; j < L; j++)
            if (src[i][j] < 0 || src[i][j] >= s->Vs)
                return tfm__err(ctx, TFM_ERR_RANGE, "translate: sentence %d: token %d at %d is "
                                "outside the source vocabulary of %d", (int)i, (int)src[i][j],
                                (int)j, (int)s->Vs);
        if (L > rp.max_src) {
            if (!rp.truncate)
                return tfm__err(ctx, TFM_ERR_RANGE, "translate: sentence %d has %d tokens, past "
                                "the source limit of %d (truncate to cut it)", (int)i, (int)L,
                                (int)rp.max_src);
            L = rp.max_src;
        }
        if (L > q.S) q.S = L;
    }
    if ((int64_t)q.N > 1 << 20) return tfm__err(ctx, TFM_ERR_RANGE, "translate: batch too large");
    {
        int64_t B = q.B, N = q.N, S = q.S, T = q.T, V = q.V, K = q.K, D = s->D, H = s->H;
        o_src = carve(&cv, B * S, 4);
        o_kpm = carve(&cv, B * S, 1);
        o_kpmn = carve(&cv, N * S, 1);
        o_mem = carve(&cv, B * S * D, 4);
        o_x = carve(&cv, N * D, 4);
        o_lg = carve(&cv, N * V, 4);
        o_pr = carve(&cv, N * H * S, 4);
        o_ca = carve(&cv, N * S, 4);
        o_lsm = carve(&cv, V, 8);
        o_t1 = carve(&cv, N * T, 4);
        o_t2 = carve(&cv, N * T, 4);
        o_a1 = carve(&cv, rp.att ? N * T * S : 1, 4);
        o_a2 = carve(&cv, rp.att ? N * T * S : 1, 4);
        o_bs = carve(&cv, N, 8);
        o_nt = carve(&cv, N, 4);
        o_ns = carve(&cv, N, 4);
        o_nsc = carve(&cv, N, 8);
        o_cs = carve(&cv, 2 * K, 8);
        o_ck = carve(&cv, 2 * K, 4);
        o_ct = carve(&cv, 2 * K, 4);
        o_ids = carve(&cv, N, 4);
        o_h = carve(&cv, B * K, sizeof(hyp));
        o_ht = carve(&cv, B * K * T, 4);
        o_ha = carve(&cv, rp.att ? B * K * T * S : 1, 4);
        o_nh = carve(&cv, B, 4);
        o_dn = carve(&cv, B, 1);
        o_gs = carve(&cv, B, 8);
        o_gl = carve(&cv, B, 4);
        o_best = carve(&cv, B, 4);
    }
    if (!cv.ok) return tfm__err(ctx, TFM_ERR_RANGE, "translate: scratch size overflows");
    {   // the session's caches, workspace and scratch, grown when too small
        size_t need = tfm__s2s_enc_ws(ctx, s, q.B, q.S), w2 = tfm__s2s_dec_ws(ctx, s, q.N, 1,
                                                                              q.T, q.S);
        void *block;
        if (w2 > need) need = w2;
        w2 = tfm__s2s_dec_ws(ctx, s, q.B, 1, 1, q.S);
        if (w2 > need) need = w2;
        if (need == 0 || w2 == 0)
            return tfm__err(ctx, TFM_ERR_RANGE, "translate: workspace size overflows");
        if ((st = tfm__s2s_reserve(ctx, s, (tfm__s2s_state *)sess->state, q.N, q.T, q.S, need,
                                   cv.off, &block)))
            return st;
        base = (char *)block;
        memset(base, 0, cv.off);
    }
    q.src = (int32_t *)(base + o_src);
    q.kpm = (uint8_t *)(base + o_kpm);
    q.kpm_n = (uint8_t *)(base + o_kpmn);
    q.mem = (float *)(base + o_mem);
    q.x = (float *)(base + o_x);
    q.logits = (float *)(base + o_lg);
    q.probs = (float *)(base + o_pr);
    q.catt = (float *)(base + o_ca);
    q.lsm = (double *)(base + o_lsm);
    q.tok = (int32_t *)(base + o_t1);
    q.tok2 = (int32_t *)(base + o_t2);
    q.att = (float *)(base + o_a1);
    q.att2 = (float *)(base + o_a2);
    q.bscore = (double *)(base + o_bs);
    q.next_tok = (int32_t *)(base + o_nt);
    q.next_src = (int32_t *)(base + o_ns);
    q.next_score = (double *)(base + o_nsc);
    q.cand_s = (double *)(base + o_cs);
    q.cand_k = (int32_t *)(base + o_ck);
    q.cand_t = (int32_t *)(base + o_ct);
    q.ids = (int32_t *)(base + o_ids);
    q.hyps = (hyp *)(base + o_h);
    q.hyp_tok = (int32_t *)(base + o_ht);
    q.hyp_att = (float *)(base + o_ha);
    q.n_hyps = (int32_t *)(base + o_nh);
    q.done = (uint8_t *)(base + o_dn);
    q.gscore = (double *)(base + o_gs);
    q.glen = (int32_t *)(base + o_gl);
    best = (int32_t *)(base + o_best);
    for (i = 0; i < n; i++) {
        int32_t L = lens[i] > q.S ? q.S : lens[i];
        for (j = 0; j < q.S; j++) {
            q.src[(size_t)i * q.S + j] = j < L ? src[i][j] : (s->pad >= 0 ? s->pad : 0);
            q.kpm[(size_t)i * q.S + j] = (uint8_t)(j >= L);
        }
        if (lens[i] > L && s->eos >= 0) q.src[(size_t)i * q.S + L - 1] = s->eos; // truncated
    }
    st = run(sess, &q, best);
    if (!st) {
        res = (tfm_translate_result *)tfm__alloc(ctx, sizeof *res);
        if (res) {
            res->ctx = ctx;
            res->items = (tfm_translation *)tfm__alloc(ctx, (size_t)n * sizeof *res->items);
            if (res->items) res->n = n;
        }
        if (!res || !res->items) st = tfm__err(ctx, TFM_ERR_NOMEM, "translate: out of memory");
        for (i = 0; !st && i < n; i++) {
            tfm_translation *it = &res->items[i];
            const hyp *h = &q.hyps[(size_t)i * q.K + best[i]];
            int32_t L = lens[i] > q.S ? q.S : lens[i], nn = h->n;
            it->n_src = L;
            it->n_ids = nn;
            it->score = (float)h->score;
            it->src_ids = (int32_t *)tfm__alloc(ctx, (size_t)L * sizeof(int32_t));
            it->ids = (int32_t *)tfm__alloc(ctx, (size_t)(nn ? nn : 1) * sizeof(int32_t));
            if (rp.att)
                it->attention = (float *)tfm__alloc(ctx, (size_t)(nn ? nn : 1) * (size_t)L *
                                                             sizeof(float));
            if (!it->src_ids || !it->ids || (rp.att && !it->attention)) {
                st = tfm__err(ctx, TFM_ERR_NOMEM, "translate: out of memory");
                break;
            }
            memcpy(it->src_ids, q.src + (size_t)i * q.S, (size_t)L * sizeof(int32_t));
            memcpy(it->ids, q.hyp_tok + ((size_t)i * q.K + best[i]) * q.T,
                   (size_t)nn * sizeof(int32_t));
            if (s->pieces && (st = tfm__pieces_decode(ctx, s->pieces, it->ids, nn, s->pad, s->eos,
                                                      s->unk, "translate", &it->text)))
                break;
            if (rp.att)
                for (j = 0; j < nn; j++)
                    memcpy(it->attention + (size_t)j * L,
                           q.hyp_att + (((size_t)i * q.K + best[i]) * q.T + j) * q.S,
                           (size_t)L * sizeof(float));
        }
    }
    if (st) {
        tfm_translate_result_free(res);
        return st;
    }
    *out = res;
    return TFM_OK;
}

tfm_status tfm_translate_tokens(tfm_session *sess, const int32_t *const *src,
                                const int32_t *src_lens, int32_t n,
                                const tfm_translate_params *params, tfm_translate_result **out) {
    return translate_ids(sess, src, src_lens, n, params, out);
}

tfm_status tfm_translate_logits(tfm_ctx *ctx, const tfm_model *model, const int32_t *src_ids,
                                const int32_t *src_mask, int32_t B, int32_t S,
                                const int32_t *tgt_ids, int32_t T, float *logits) {
    const tfm__s2s *s;
    tfm_status st = TFM_OK;
    tfm__s2s_state z;
    void *unused;
    tfm_tensor src_t, kpm_t, mem_t, ids_t;
    uint8_t *kpm = NULL;
    float *mem = NULL, *x = NULL;
    size_t need, w2, n_kpm = 0, n_mem = 0, n_x = 0;
    int64_t shp[3], i;
    if (!ctx) return TFM_ERR_INVALID_ARG;
    memset(&z, 0, sizeof z);
    if (!model || !src_ids || !tgt_ids || !logits || B < 1 || S < 1 || T < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate_logits: NULL argument or a size < 1");
    if (!(s = tfm__s2s_of(model)))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate_logits: not a translation model");
    if (S > s->P || T > s->P)
        return tfm__err(ctx, TFM_ERR_RANGE, "translate_logits: lengths %d/%d past the model's %d "
                        "positions", (int)S, (int)T, (int)s->P);
    for (i = 0; i < (int64_t)B * S; i++)
        if (src_ids[i] < 0 || src_ids[i] >= s->Vs)
            return tfm__err(ctx, TFM_ERR_RANGE, "translate_logits: source id %d at %lld outside "
                            "[0, %d)", (int)src_ids[i], (long long)i, (int)s->Vs);
    for (i = 0; i < (int64_t)B * T; i++)
        if (tgt_ids[i] < 0 || tgt_ids[i] >= s->Vt)
            return tfm__err(ctx, TFM_ERR_RANGE, "translate_logits: target id %d at %lld outside "
                            "[0, %d)", (int)tgt_ids[i], (long long)i, (int)s->Vt);
    need = tfm__s2s_enc_ws(ctx, s, B, S);
    w2 = tfm__s2s_dec_ws(ctx, s, B, T, T, S);
    if (w2 > need) need = w2;
    n_kpm = (size_t)B * S;
    n_mem = (size_t)B * S * s->D * sizeof(float);
    n_x = (size_t)B * T * s->D * sizeof(float);
    kpm = (uint8_t *)tfm__alloc(ctx, n_kpm);
    mem = (float *)tfm__alloc(ctx, n_mem);
    x = (float *)tfm__alloc(ctx, n_x);
    if (!kpm || !mem || !x) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "translate_logits: out of memory");
        goto done;
    }
    if (need == 0) {
        st = tfm__err(ctx, TFM_ERR_RANGE, "translate_logits: workspace size overflows");
        goto done;
    }
    for (i = 0; i < (int64_t)B * S; i++) kpm[i] = (uint8_t)(src_mask && !src_mask[i]);
    TRY(tfm__s2s_reserve(ctx, s, &z, B, T, S, need, 0, &unused));
    shp[0] = B; shp[1] = S; shp[2] = s->D;
    tfm_tensor_wrap(&src_t, TFM_I32, 2, shp, (void *)src_ids);
    tfm_tensor_wrap(&kpm_t, TFM_U8, 2, shp, kpm);
    tfm_tensor_wrap(&mem_t, TFM_F32, 3, shp, mem);
    TRY(tfm__s2s_encode(ctx, s, &src_t, &kpm_t, &z.ws, &mem_t));
    shp[0] = B; shp[1] = T;
    tfm_tensor_wrap(&ids_t, TFM_I32, 2, shp, (void *)tgt_ids);
    TRY(tfm__s2s_decode(ctx, s, &ids_t, 0, &mem_t, &kpm_t, z.sc, z.cc, &z.ws, x, logits, NULL,
                        NULL));
done:
    tfm__s2s_release(ctx, &z);
    if (kpm) tfm__free(ctx, kpm, n_kpm);
    if (mem) tfm__free(ctx, mem, n_mem);
    if (x) tfm__free(ctx, x, n_x);
    return st;
}

int32_t tfm_model_decoder_start(const tfm_model *m) {
    const tfm__s2s *s = tfm__s2s_of(m);
    return s ? s->start : -1;
}
int32_t tfm_model_pad(const tfm_model *m) {
    const tfm__s2s *s = tfm__s2s_of(m);
    return s ? s->pad : -1;
}
int32_t tfm_model_src_vocab_size(const tfm_model *m) {
    const tfm__s2s *s = tfm__s2s_of(m);
    return s ? s->Vs : 0;
}

tfm_status tfm_translate(tfm_session *sess, const char *const *texts, int32_t n,
                         const tfm_translate_params *params, tfm_translate_result **out) {
    tfm_ctx *ctx;
    const tfm__s2s *s;
    tfm_encode_params ep = tfm_encode_params_default();
    tfm_status st = TFM_OK;
    int32_t **src = NULL, *lens = NULL, i;
    size_t *caps = NULL;
    if (out) *out = NULL;
    if (!sess) return TFM_ERR_INVALID_ARG;
    ctx = sess->ctx;
    if (!texts || !out || n < 1)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate: %s",
                        n < 1 ? "no texts (n must be >= 1)" : "NULL texts or out");
    if (!(s = tfm__s2s_of(sess->m)))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate: the session's model (%s) is not "
                        "a translation model", sess->m->arch_name);
    if (!s->src_tok || !s->pieces)
        return tfm__err(ctx, TFM_ERR_UNSUPPORTED, "translate: the model has no source "
                        "tokenizer (source.spm and vocab.json); use tfm_translate_tokens");
    for (i = 0; i < n; i++)
        if (!texts[i] || !texts[i][0])
            return tfm__err(ctx, TFM_ERR_INVALID_ARG, "translate: text %d is empty", (int)i);
    src = (int32_t **)tfm__alloc(ctx, (size_t)n * sizeof *src);
    lens = (int32_t *)tfm__alloc(ctx, (size_t)n * sizeof *lens);
    caps = (size_t *)tfm__alloc(ctx, (size_t)n * sizeof *caps);
    if (!src || !lens || !caps) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "translate: out of memory");
        goto done;
    }
    ep.add_special = 0;
    for (i = 0; i < n && !st; i++) {
        size_t m = 0, got = 0, j;
        if ((st = tfm_tokenizer_encode(ctx, s->src_tok, texts[i], TFM_STRLEN, NULL, 0, &ep, NULL,
                                       NULL, NULL, 0, &m)))
            break;
        if (m + 1 > (size_t)INT32_MAX / 2) {
            st = tfm__err(ctx, TFM_ERR_RANGE, "translate: text %d too long", (int)i);
            break;
        }
        caps[i] = m + 1;
        src[i] = (int32_t *)tfm__alloc(ctx, caps[i] * sizeof(int32_t));
        if (!src[i]) {
            st = tfm__err(ctx, TFM_ERR_NOMEM, "translate: out of memory");
            break;
        }
        if ((st = tfm_tokenizer_encode(ctx, s->src_tok, texts[i], TFM_STRLEN, NULL, 0, &ep,
                                       src[i], NULL, NULL, m, &got)))
            break;
        // SentencePiece ids -> the model's ids through the pieces (vocab.json)
        for (j = 0; j < got; j++) {
            size_t pl = 0;
            const char *pc = tfm_tokenizer_id_to_token(s->src_tok, src[i][j], &pl);
            int32_t id = pc ? tfm__pieces_find(s->pieces, pc, pl) : -1;
            src[i][j] = id >= 0 ? id : (s->unk >= 0 ? s->unk : 0);
        }
        src[i][got] = s->eos;
        lens[i] = (int32_t)got + 1;
    }
    if (!st) st = translate_ids(sess, (const int32_t *const *)src, lens, n, params, out);
done:
    if (src) {
        for (i = 0; i < n; i++)
            if (src[i]) tfm__free(ctx, src[i], caps[i] * sizeof(int32_t));
        tfm__free(ctx, src, (size_t)n * sizeof *src);
    }
    if (lens) tfm__free(ctx, lens, (size_t)n * sizeof *lens);
    if (caps) tfm__free(ctx, caps, (size_t)n * sizeof *caps);
    return st;
}
