/*
 * Text generation: sampling (greedy, temperature, top-k, top-p, repetition
 * penalty) with a small seeded generator, and the generation loop over a
 * session (prompt as one batch, then one step per token, stop token, limits,
 * streaming callback, context policy).
 */
#define _POSIX_C_SOURCE 199309L
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ---- random numbers: xorshift64* seeded through splitmix64 -----------------------------

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    if (x == 0) x = 0x9E3779B97F4A7C15ull; // a zero state would stay zero
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

// Uniform in [0, 1) with 24 bits.
static float rng_f32(uint64_t *s) { return (float)(rng_next(s) >> 40) / 16777216.0f; }

// The initial state for a seed: splitmix64 of it (never 0), so that nearby
// seeds start far apart.
uint64_t tfm_sample_seed(uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 1;
}

// ---- sampling ------------------------------------------------------------------------------

void tfm_gen_params_init(tfm_gen_params *dst, size_t struct_size) {
    tfm_gen_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.max_new_tokens = 256;
    p.temperature = 1.0f;
    p.top_p = 1.0f;
    p.repetition_penalty = 1.0f;
    p.seed = 42;
    p.stop_token = -2;
    p.add_bos = -1;
    tfm__params_init(dst, struct_size, &p, sizeof p);
}

void tfm_gen_stats_init(tfm_gen_stats *dst, size_t struct_size) {
    tfm_gen_stats z;
    memset(&z, 0, sizeof z);
    z.struct_size = sizeof z;
    tfm__params_init(dst, struct_size, &z, sizeof z);
}

tfm_status tfm__gen_stats_write(tfm_ctx *ctx, tfm_gen_stats *stats, const tfm_gen_stats *r) {
    tfm_gen_stats z;
    if (!stats) return TFM_OK;
    if (!r) {
        memset(&z, 0, sizeof z);
        r = &z;
    }
    if (tfm__out_write(stats, r, sizeof *r))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "generate: stats: struct_size %zu is below %zu (set it with "
                        "tfm_gen_stats_init, tfm_gen_stats_default or sizeof)",
                        stats->struct_size, sizeof(size_t));
    return TFM_OK;
}

typedef struct {
    float p;
    int32_t id;
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = (const cand *)a, *y = (const cand *)b;
    if (x->p > y->p) return -1;
    if (x->p < y->p) return 1;
    return x->id < y->id ? -1 : x->id > y->id; // ties: lower id first (stable)
}

static int32_t argmax(const float *x, int32_t n) {
    int32_t i, best = 0;
    for (i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

int32_t tfm_sample(float *logits, int32_t n, const tfm_gen_params *params, uint64_t *rng,
                   const int32_t *recent, int32_t n_recent, void *scratch) {
    int32_t i, j, nc;
    float mx, sum, r, acc, temp, top_p;
    int32_t top_k;
    cand *c = (cand *)scratch;
    tfm_gen_params pc = tfm_gen_params_default();
    if (!logits || n <= 0 || !params || !rng || (n_recent > 0 && !recent)) return -1;
    if (tfm__params_read(NULL, &pc, sizeof pc, params, "sample: params")) return -1;
    params = &pc;
    temp = params->temperature;
    top_k = params->top_k;
    top_p = params->top_p;
    if (!(temp >= 0.0f) || top_k < 0 || !(top_p > 0.0f) ||
        !(params->repetition_penalty > 0.0f))
        return -1;

    // Repetition penalty (CTRL): once per distinct id seen.
    if (params->repetition_penalty != 1.0f) {
        float pen = params->repetition_penalty;
        for (i = 0; i < n_recent; i++) {
            int32_t id = recent[i];
            int seen = 0;
            if (id < 0 || id >= n) continue;
            for (j = 0; j < i && !seen; j++) seen = recent[j] == id;
            if (seen) continue;
            logits[id] = logits[id] > 0.0f ? logits[id] / pen : logits[id] * pen;
        }
    }
    if (temp == 0.0f) return argmax(logits, n);

    // Softmax of logits / temperature.
    mx = logits[argmax(logits, n)];
    sum = 0.0f;
    for (i = 0; i < n; i++) {
        logits[i] = expf((logits[i] - mx) / temp);
        sum += logits[i];
    }
    for (i = 0; i < n; i++) logits[i] /= sum;

    if ((top_k == 0 || top_k >= n) && top_p >= 1.0f) {
        // Plain sampling from the whole distribution.
        r = rng_f32(rng);
        acc = 0.0f;
        for (i = 0; i < n; i++) {
            acc += logits[i];
            if (r < acc) return i;
        }
        return n - 1; // rounding
    }
    if (!scratch) return -1;
    // Candidates, most likely first. With top-p only, tokens below
    // (1 - top_p) / (n - 1) can never be in the nucleus: leave them out.
    nc = 0;
    {
        float cut = (top_k == 0 || top_k >= n) && n > 1 ? (1.0f - top_p) / (float)(n - 1) : 0.0f;
        for (i = 0; i < n; i++)
            if (logits[i] >= cut) {
                c[nc].p = logits[i];
                c[nc].id = i;
                nc++;
            }
        if (nc == 0) return argmax(logits, n);
    }
    qsort(c, (size_t)nc, sizeof *c, cand_cmp);
    if (top_k > 0 && top_k < nc) nc = top_k;
    if (top_p < 1.0f) {
        float total = 0.0f;
        for (i = 0; i < nc; i++) total += c[i].p;
        acc = 0.0f;
        for (i = 0; i < nc; i++) {
            acc += c[i].p / total;
            if (acc >= top_p) {
                nc = i + 1;
                break;
            }
        }
    }
    sum = 0.0f;
    for (i = 0; i < nc; i++) sum += c[i].p;
    r = rng_f32(rng) * sum;
    acc = 0.0f;
    for (i = 0; i < nc; i++) {
        acc += c[i].p;
        if (r < acc) return c[i].id;
    }
    return c[nc - 1].id;
}

// ---- the generation loop ----------------------------------------------------------------------

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// Stores params (or defaults) in *p after checking them.
tfm_status tfm__gen_params(tfm_ctx *ctx, const tfm_gen_params *params, tfm_gen_params *p) {
    *p = tfm_gen_params_default();
    tfm_status st = tfm__params_read(ctx, p, sizeof *p, params, "generate: params");
    if (st) return st;
    if (p->max_new_tokens < 0 || p->max_total_tokens < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "generate: negative token limit");
    if (!(p->temperature >= 0.0f) || p->temperature > 1e6f)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "generate: temperature %g must be >= 0",
                        (double)p->temperature);
    if (p->top_k < 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "generate: top_k %d must be >= 0",
                        (int)p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "generate: top_p %g must be in (0, 1]",
                        (double)p->top_p);
    if (!(p->repetition_penalty > 0.0f))
        return tfm__err(ctx, TFM_ERR_INVALID_ARG,
                        "generate: repetition_penalty %g must be > 0",
                        (double)p->repetition_penalty);
    return TFM_OK;
}

#define PIECE_CAP 256

tfm_status tfm_generate_tokens(tfm_session *s, const int32_t *prompt, int32_t n_prompt,
                               const tfm_gen_params *params, int32_t *out_tokens,
                               int32_t out_cap, int32_t *n_out, tfm_gen_stats *stats) {
    tfm_gen_params p;
    tfm_ctx *ctx;
    const tfm_model *m;
    const struct tfm_tokenizer *tok;
    tfm_status st = TFM_OK;
    int32_t *hist = NULL, n_hist = 0, V, stop, n_gen = 0, forwarded, prev;
    size_t hist_size = 0, scratch_size = 0;
    float *lg = NULL, *scratch = NULL;
    uint64_t rng;
    double t0, t1;
    char piece[PIECE_CAP];
    tfm_gen_stats gs;

    if (n_out) *n_out = 0;
    memset(&gs, 0, sizeof gs);
    if ((st = tfm__gen_stats_write(s ? s->ctx : NULL, stats, NULL))) return st;
    if (!s) return TFM_ERR_INVALID_ARG;
    ctx = s->ctx;
    m = s->m;
    tok = m->tok;
    V = m->info.vocab;
    if ((st = tfm__gen_params(ctx, params, &p))) return st;
    if (!prompt || n_prompt <= 0)
        return tfm__err(ctx, TFM_ERR_INVALID_ARG, "generate: the prompt needs at least one token");
    if (n_prompt > s->max_ctx)
        return tfm__err(ctx, TFM_ERR_RANGE,
                        "generate: prompt of %d tokens does not fit the context of %d",
                        (int)n_prompt, (int)s->max_ctx);
    stop = p.stop_token == -2 ? m->info.stop : p.stop_token;

    // History (prompt + generated) for the penalty and the sliding window,
    // logits copy and sampling scratch.
    if (!tfm__mul_size((size_t)s->max_ctx + 1, sizeof(int32_t), &hist_size) ||
        !tfm__mul_size((size_t)V, 3 * sizeof(float), &scratch_size))
        return tfm__err(ctx, TFM_ERR_RANGE, "generate: sizes overflow");
    hist = (int32_t *)tfm__alloc_nozero(ctx, hist_size);
    scratch = (float *)tfm__alloc_nozero(ctx, scratch_size);
    if (!hist || !scratch) {
        st = tfm__err(ctx, TFM_ERR_NOMEM, "generate: out of memory");
        goto done;
    }
    lg = scratch + 2 * (size_t)V;
    memcpy(hist, prompt, (size_t)n_prompt * sizeof(int32_t));
    n_hist = n_prompt;
    rng = tfm_sample_seed(p.seed);

    tfm_session_reset(s);
    t0 = now_s();
    if ((st = tfm_session_prefill(s, prompt, n_prompt, NULL))) goto done;
    t1 = now_s();
    gs.n_prompt = n_prompt;
    gs.prompt_seconds = t1 - t0;
    forwarded = n_prompt;
    prev = prompt[n_prompt - 1];
    for (;;) {
        int32_t next;
        if (p.max_new_tokens && n_gen >= p.max_new_tokens) break;
        memcpy(lg, s->logits, (size_t)V * sizeof(float));
        next = tfm_sample(lg, V, &p, &rng, hist, n_hist, scratch);
        if (next < 0) {
            st = tfm__err(ctx, TFM_ERR_INVALID_ARG, "generate: sampling failed");
            break;
        }
        if (next == stop) break;
        if (out_tokens && n_gen < out_cap) out_tokens[n_gen] = next;
        n_gen++;
        if (n_hist <= s->max_ctx) hist[n_hist++] = next;
        if (p.on_token) {
            int r;
            size_t len = 0;
            const char *pc = NULL;
            if (tok && m->piece && m->piece(ctx, tok, prev, next, piece, sizeof piece, &len) == TFM_OK)
                pc = piece;
            else
                len = 0;
            r = p.on_token(p.on_token_ud, next, pc, len);
            if (r) break;
        }
        prev = next;
        if (p.max_new_tokens && n_gen >= p.max_new_tokens) break;
        if (p.max_total_tokens && forwarded >= p.max_total_tokens) break;
        if (s->pos >= s->max_ctx) {
            int32_t keep;
            if (s->p.context_policy != TFM_CONTEXT_SLIDE) {
                st = tfm__err(ctx, TFM_ERR_RANGE,
                              "generate: context of %d tokens full after %d generated",
                              (int)s->max_ctx, (int)n_gen);
                break;
            }
            // Slide: keep the last half of the text and recompute the cache.
            keep = s->max_ctx / 2;
            if (keep < 1) keep = 1;
            memmove(hist, hist + n_hist - keep, (size_t)keep * sizeof(int32_t));
            n_hist = keep;
            tfm_session_reset(s);
            if ((st = tfm_session_prefill(s, hist, keep, NULL))) break;
        } else if ((st = tfm_session_step(s, next, NULL))) {
            break;
        }
        forwarded++;
    }
    gs.n_generated = n_gen;
    gs.gen_seconds = now_s() - t1;
done:
    if (n_out) *n_out = n_gen;
    if (stats) (void)tfm__out_write(stats, &gs, sizeof gs); // size checked on entry
    tfm__free(ctx, hist, hist_size);
    tfm__free(ctx, scratch, scratch_size);
    return st;
}
