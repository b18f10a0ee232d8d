/*
 * Threads and fork(). One decoder, one encoder and one translator, each
 * loaded once, are shared by 4 threads, each with its own ctx (2 compute
 * threads) and its own sessions, generating, encoding, filling masks and
 * translating at once in different orders: every result has the bits of
 * the same work done by one thread alone. `make tsan` runs these tests
 * under ThreadSanitizer. After fork(), a child uses a ctx, model and
 * session made by the parent (its pool starts its threads again), creates
 * and frees its own, and frees the parent's; a watchdog alarm turns a hang
 * into a failure.
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#ifndef TFM_NO_THREADS
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    const tfm_model *dec, *enc, *tr;
} models;

typedef struct {
    uint64_t gen, embed, mask, translate;
} digests;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}
#define FNV0 14695981039346656037ULL

static const char *const k_texts[] = {"the quick brown fox", "a b c d e f", "hello"};
static const char *const k_masked[] = {"the [MASK] fox", "[MASK] b c"};

// Each job returns a digest of everything it produced, or 0 after a failure
// (the message goes to *err).
static uint64_t job_generate(tfm_ctx *ctx, const tfm_model *m, uint64_t seed, char *err) {
    tfm_session *s = NULL;
    tfm_gen_params gp = tfm_gen_params_default();
    int32_t prompt[4] = {5, 17, 3, 42}, out[24], n = 0;
    uint64_t h = 0;
    gp.max_new_tokens = 24;
    gp.temperature = 0.8f;
    gp.top_k = 20;
    gp.seed = seed;
    gp.stop_token = -1;
    if (tfm_session_create(ctx, m, NULL, &s) == TFM_OK &&
        tfm_generate_tokens(s, prompt, 4, &gp, out, 24, &n, NULL) == TFM_OK)
        h = fnv(FNV0, out, sizeof(int32_t) * (size_t)n);
    else
        snprintf(err, 256, "generate: %s", tfm_ctx_last_error(ctx));
    tfm_session_free(s);
    return h;
}

static uint64_t job_embed(tfm_ctx *ctx, const tfm_model *m, char *err) {
    tfm_embeddings *e = NULL;
    uint64_t h = 0;
    if (tfm_embed_texts(ctx, m, k_texts, 3, NULL, &e) == TFM_OK)
        h = fnv(FNV0, e->data, sizeof(float) * (size_t)e->n * (size_t)e->dim);
    else
        snprintf(err, 256, "embed: %s", tfm_ctx_last_error(ctx));
    tfm_embeddings_free(e);
    return h;
}

static uint64_t job_mask(tfm_ctx *ctx, const tfm_model *m, char *err) {
    tfm_fill_mask_result *r = NULL;
    uint64_t h = 0;
    int32_t i;
    if (tfm_fill_mask(ctx, m, k_masked, 2, NULL, &r) == TFM_OK) {
        h = FNV0;
        for (i = 0; i < r->n_masks * r->top_k; i++) {
            h = fnv(h, &r->pred[i].id, sizeof r->pred[i].id);
            h = fnv(h, &r->pred[i].score, sizeof r->pred[i].score);
        }
    } else {
        snprintf(err, 256, "fill_mask: %s", tfm_ctx_last_error(ctx));
    }
    tfm_fill_mask_result_free(r);
    return h;
}

static uint64_t job_translate(tfm_ctx *ctx, const tfm_model *m, char *err) {
    tfm_session *s = NULL;
    tfm_translate_params tp = tfm_translate_params_default();
    tfm_translate_result *r = NULL;
    const char *src[2] = {"Das Haus ist klein.", "Guten Morgen"};
    uint64_t h = 0;
    int32_t i;
    tp.beam_size = 3;
    tp.max_length = 10;
    tp.attention = 1;
    if (tfm_session_create(ctx, m, NULL, &s) == TFM_OK &&
        tfm_translate(s, src, 2, &tp, &r) == TFM_OK) {
        h = FNV0;
        for (i = 0; i < r->n; i++) {
            const tfm_translation *t = &r->items[i];
            h = fnv(h, t->ids, sizeof(int32_t) * (size_t)t->n_ids);
            h = fnv(h, &t->score, sizeof t->score);
            h = fnv(h, t->attention, sizeof(float) * (size_t)t->n_ids * (size_t)t->n_src);
        }
    } else {
        snprintf(err, 256, "translate: %s", tfm_ctx_last_error(ctx));
    }
    tfm_translate_result_free(r);
    tfm_session_free(s);
    return h;
}

// Runs the four jobs in the order given by `rot` on a ctx of n_threads.
static int run_jobs(const models *ms, int n_threads, int rot, uint64_t seed, digests *d,
                    char *err) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    int k;
    cp.n_threads = n_threads;
    if (tfm_ctx_create(&cp, &ctx) != TFM_OK) {
        snprintf(err, 256, "ctx_create failed");
        return 0;
    }
    for (k = 0; k < 4; k++) switch ((k + rot) % 4) {
        case 0: d->gen = job_generate(ctx, ms->dec, seed, err); break;
        case 1: d->embed = job_embed(ctx, ms->enc, err); break;
        case 2: d->mask = job_mask(ctx, ms->enc, err); break;
        default: d->translate = job_translate(ctx, ms->tr, err); break;
        }
    tfm_ctx_free(ctx);
    return d->gen && d->embed && d->mask && d->translate;
}

static tfm_model *load(tfm_ctx *ctx, const char *rel) {
    tfm_model *m = NULL;
    if (tfm_model_load(ctx, tfmt_data(rel), NULL, &m) != TFM_OK)
        tfmt_fail(__FILE__, __LINE__, "%s: %s", rel, tfm_ctx_last_error(ctx));
    return m;
}

static int load_models(tfm_ctx *ctx, models *ms, tfm_model **own) {
    own[0] = load(ctx, "golden/gpt2/tiny");
    own[1] = load(ctx, "golden/bert/bert_mlm");
    own[2] = load(ctx, "golden/marian/marian_spm");
    ms->dec = own[0];
    ms->enc = own[1];
    ms->tr = own[2];
    return own[0] && own[1] && own[2];
}

static int same(const digests *a, const digests *b) {
    return a->gen == b->gen && a->embed == b->embed && a->mask == b->mask &&
           a->translate == b->translate;
}

#define N_WORKERS 4
#define ROUNDS 2

typedef struct {
    const models *ms;
    int index;
    digests got[ROUNDS];
    int ok;
    char err[256];
} worker;

static void *worker_main(void *p) {
    worker *w = (worker *)p;
    int r;
    w->ok = 1;
    for (r = 0; r < ROUNDS && w->ok; r++)
        w->ok = run_jobs(w->ms, 2, w->index + r, 1000u + (uint64_t)w->index, &w->got[r],
                         w->err);
    return NULL;
}

static void shared_models_match_serial(void) {
    tfm_ctx *ctx = NULL;
    tfm_model *own[3];
    models ms;
    digests want[N_WORKERS];
    worker ws[N_WORKERS];
    pthread_t th[N_WORKERS];
    char err[256] = "";
    int i, r;
    REQUIRE_OK(ctx, tfm_ctx_create(NULL, &ctx));
    if (load_models(ctx, &ms, own)) {
        // One thread alone first: the results each worker must reproduce.
        for (i = 0; i < N_WORKERS; i++)
            if (!run_jobs(&ms, 1, 0, 1000u + (uint64_t)i, &want[i], err))
                tfmt_fail(__FILE__, __LINE__, "serial: %s", err);
        for (i = 0; i < N_WORKERS; i++) {
            memset(&ws[i], 0, sizeof ws[i]);
            ws[i].ms = &ms;
            ws[i].index = i;
            REQUIRE(pthread_create(&th[i], NULL, worker_main, &ws[i]) == 0);
        }
        for (i = 0; i < N_WORKERS; i++) {
            pthread_join(th[i], NULL);
            if (!ws[i].ok) tfmt_fail(__FILE__, __LINE__, "thread %d: %s", i, ws[i].err);
            for (r = 0; r < ROUNDS && ws[i].ok; r++)
                if (!same(&ws[i].got[r], &want[i]))
                    tfmt_fail(__FILE__, __LINE__, "thread %d, round %d: results differ", i, r);
        }
    }
    for (i = 0; i < 3; i++) tfm_model_free(own[i]);
    tfm_ctx_free(ctx);
}

// Runs fn in a child process with a watchdog: 1 when the child exits 0.
static int in_child(int (*fn)(void *), void *arg, char *why) {
    pid_t pid;
    int st = 0;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        snprintf(why, 256, "fork failed");
        return 0;
    }
    if (pid == 0) {
        alarm(60); // a hang ends the child by SIGALRM
        _exit(fn(arg) ? 0 : 1);
    }
    if (waitpid(pid, &st, 0) != pid) {
        snprintf(why, 256, "waitpid failed");
        return 0;
    }
    if (WIFSIGNALED(st))
        snprintf(why, 256, "child killed by signal %d%s", WTERMSIG(st),
                 WTERMSIG(st) == SIGALRM ? " (hung)" : "");
    else if (WEXITSTATUS(st) != 0)
        snprintf(why, 256, "child exited %d", WEXITSTATUS(st));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

typedef struct {
    const models *ms;
    tfm_ctx *ctx;       // the parent's, its pool started
    tfm_session *sess;  // the parent's, on the decoder
    tfm_model **own;    // freed by the child, as a host's cleanup would
    digests want;
    uint64_t want_step;
    int depth;          // 1 in the child, 2 in the grandchild
} fork_case;

// Prefill and three steps on the decoder's session: a digest of the logits.
static uint64_t session_steps(tfm_session *s, const tfm_model *m) {
    int32_t ids[3] = {4, 9, 2}, V = tfm_model_vocab_size(m), i;
    float *logits;
    uint64_t h = 0;
    logits = (float *)malloc(sizeof(float) * (size_t)V);
    if (!logits) return 0;
    tfm_session_reset(s);
    if (tfm_session_prefill(s, ids, 3, NULL) == TFM_OK) {
        h = FNV0;
        for (i = 0; i < 3 && h; i++)
            if (tfm_session_step(s, ids[i], logits) == TFM_OK) h = fnv(h, logits, sizeof(float) * (size_t)V);
            else h = 0;
    }
    free(logits);
    return h;
}

static int child_work(void *p) {
    fork_case *fc = (fork_case *)p;
    digests d;
    char err[256] = "", why[256] = "";
    tfm_embeddings *e = NULL;
    int ok = 1, i;
    memset(&d, 0, sizeof d);
    fc->depth++;
    // The parent's ctx and session, then a ctx of the child's own.
    ok &= session_steps(fc->sess, fc->ms->dec) == fc->want_step;
    ok &= tfm_embed_texts(fc->ctx, fc->ms->enc, k_texts, 3, NULL, &e) == TFM_OK &&
          fnv(FNV0, e->data, sizeof(float) * (size_t)e->n * (size_t)e->dim) == fc->want.embed;
    tfm_embeddings_free(e);
    ok &= run_jobs(fc->ms, 2, 1, 7, &d, err) && same(&d, &fc->want);
    if (!ok) fprintf(stderr, "child %d: %s\n", fc->depth, err[0] ? err : "results differ");
    // A child of the child: the pool restarted here starts again there.
    if (ok && fc->depth == 1 && !in_child(child_work, fc, why)) {
        fprintf(stderr, "grandchild: %s\n", why);
        ok = 0;
    }
    tfm_session_free(fc->sess);
    for (i = 0; i < 3; i++) tfm_model_free(fc->own[i]);
    tfm_ctx_free(fc->ctx);
    return ok;
}

static void fork_child_uses_parent_objects(void) {
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    tfm_model *own[3];
    models ms;
    fork_case fc;
    char why[256] = "";
    int i;
    cp.n_threads = 2;
    REQUIRE_OK(ctx, tfm_ctx_create(&cp, &ctx));
    memset(&fc, 0, sizeof fc);
    if (load_models(ctx, &ms, own)) {
        fc.ms = &ms;
        fc.ctx = ctx;
        fc.own = own;
        REQUIRE(run_jobs(&ms, 2, 1, 7, &fc.want, why));
        REQUIRE_OK(ctx, tfm_session_create(ctx, ms.dec, NULL, &fc.sess));
        fc.want_step = session_steps(fc.sess, ms.dec); // the pool has run: its threads exist
        CHECK(fc.want_step != 0);
        if (!in_child(child_work, &fc, why)) tfmt_fail(__FILE__, __LINE__, "%s", why);
        // The parent's objects still work after the child.
        CHECK(session_steps(fc.sess, ms.dec) == fc.want_step);
        tfm_session_free(fc.sess);
    }
    for (i = 0; i < 3; i++) tfm_model_free(own[i]);
    tfm_ctx_free(ctx);
}

// A fork while another thread of the process runs a job on its own ctx: the
// child's pools (its copy of that ctx is never used) and a new ctx work.
typedef struct {
    const models *ms;
    pthread_mutex_t mu;
    int stop;
    int runs;
    char err[256];
} busy;

static int busy_stopped(busy *b) {
    int s;
    pthread_mutex_lock(&b->mu);
    s = b->stop;
    pthread_mutex_unlock(&b->mu);
    return s;
}

static void *busy_main(void *p) {
    busy *b = (busy *)p;
    tfm_ctx_params cp = tfm_ctx_params_default();
    tfm_ctx *ctx = NULL;
    cp.n_threads = 2;
    if (tfm_ctx_create(&cp, &ctx) != TFM_OK) return NULL;
    while (!busy_stopped(b) && job_embed(ctx, b->ms->enc, b->err)) b->runs++;
    tfm_ctx_free(ctx);
    return NULL;
}

typedef struct {
    const models *ms;
    digests want;
} busy_case;

static int child_fresh(void *p) {
    busy_case *bc = (busy_case *)p;
    digests d;
    char err[256] = "";
    memset(&d, 0, sizeof d);
    if (run_jobs(bc->ms, 2, 3, 7, &d, err) && same(&d, &bc->want)) return 1;
    fprintf(stderr, "child: %s\n", err[0] ? err : "results differ");
    return 0;
}

static void fork_while_busy(void) {
    tfm_ctx *ctx = NULL;
    tfm_model *own[3];
    models ms;
    busy b;
    busy_case bc;
    pthread_t th;
    char why[256] = "";
    int i;
    REQUIRE_OK(ctx, tfm_ctx_create(NULL, &ctx));
    memset(&b, 0, sizeof b);
    pthread_mutex_init(&b.mu, NULL);
    if (load_models(ctx, &ms, own)) {
        bc.ms = &ms;
        REQUIRE(run_jobs(&ms, 1, 0, 7, &bc.want, why));
        b.ms = &ms;
        REQUIRE(pthread_create(&th, NULL, busy_main, &b) == 0);
        for (i = 0; i < 3; i++)
            if (!in_child(child_fresh, &bc, why)) tfmt_fail(__FILE__, __LINE__, "%s", why);
        pthread_mutex_lock(&b.mu);
        b.stop = 1;
        pthread_mutex_unlock(&b.mu);
        pthread_join(th, NULL);
        CHECK(b.runs > 0);
    }
    pthread_mutex_destroy(&b.mu);
    for (i = 0; i < 3; i++) tfm_model_free(own[i]);
    tfm_ctx_free(ctx);
}

#define THREADED(body) body()
#else
#define THREADED(body) SKIP("built without threads")
#endif

TEST(threads_shared_models_match_serial) { THREADED(shared_models_match_serial); }
TEST(threads_fork_child_uses_parent_objects) { THREADED(fork_child_uses_parent_objects); }
TEST(threads_fork_while_busy) { THREADED(fork_while_busy); }
