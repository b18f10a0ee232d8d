/*
 * Thread pool owned by a context. A job is a function run over task indices
 * [0, nth); the caller takes part and returns once every task is done.
 * Between jobs a worker first waits a short while without sleeping (a
 * decoding step runs dozens of small jobs a few microseconds apart, and
 * waking a sleeping thread costs more than such a job), then sleeps on a
 * condition variable; the caller waits for the last task the same way. The
 * state is guarded by the mutex; the waits without it only read two
 * counters. Built with TFM_NO_THREADS (make THREADS=0) the pool runs every
 * task on the caller.
 *
 * fork(): a child process holds only the thread that called fork, and the
 * pool's mutex may have been copied locked. A handler registered with
 * pthread_atfork counts forks in the child; a pool that sees the count
 * changed since it started its threads starts them again (new sync
 * objects, the copied ones never touched) before its next job, and frees
 * itself without joining threads that do not exist there.
 */
#define _POSIX_C_SOURCE 200112L
#include "internal.h"

#ifndef TFM_NO_THREADS
#include "once.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#endif

struct tfm__pool {
    tfm_ctx *ctx;
    int n_threads; // including the caller
#ifndef TFM_NO_THREADS
    pthread_t *threads;
    int n_started;
    unsigned forks;      // g_forks when the threads were started
    pthread_mutex_t mu;
    pthread_cond_t wake; // workers wait here for a new job
    pthread_cond_t done; // the caller waits here for the last task
    uint64_t generation; // bumped for every job
    int stop;
    int sleepers;        // workers asleep on `wake` (signalled only then)
    // the current job
    tfm__task_fn fn;
    void *arg;
    int nth;
    int next;     // next task index to hand out
    int finished; // tasks finished
#endif
};

#ifdef TFM_NO_THREADS

tfm__pool *tfm__pool_create(tfm_ctx *ctx, int n_threads, tfm_status *status) {
    tfm__pool *pool = (tfm__pool *)tfm__alloc(ctx, sizeof *pool);
    if (!pool) {
        *status = TFM_ERR_NOMEM;
        return NULL;
    }
    pool->ctx = ctx;
    pool->n_threads = n_threads;
    return pool;
}

void tfm__pool_free(tfm__pool *pool) {
    if (pool) tfm__free(pool->ctx, pool, sizeof *pool);
}

void tfm__pool_run(tfm__pool *pool, tfm__task_fn fn, void *arg, int nth) {
    int i;
    (void)pool;
    for (i = 0; i < nth; i++) fn(arg, i, nth);
}

#else

// Forks this process has gone through as a child. Written only by the
// child's atfork handler, which runs while the child has a single thread.
static unsigned g_forks;
static tfm__once_t g_atfork_once = TFM__ONCE_INIT;

static void on_fork_child(void) { g_forks++; }
static void register_atfork(void) { pthread_atfork(NULL, NULL, on_fork_child); }

// How long a thread waits for the next job (a worker) or the last task (the
// caller) before it sleeps.
#define POOL_SPIN_NS 100000L

#if defined(__GNUC__) || defined(__clang__)
#  define LOAD_U64(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#  define LOAD_INT(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#  define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#  if defined(__x86_64__) || defined(__i386__)
#    define CPU_RELAX() __builtin_ia32_pause()
#  elif defined(__aarch64__)
#    define CPU_RELAX() __asm__ __volatile__("yield")
#  else
#    define CPU_RELAX() ((void)0)
#  endif
#  define POOL_CAN_SPIN 1
#else
#  define POOL_CAN_SPIN 0 // no portable atomic read in C99: sleep at once
#  define STORE(p, v) (*(p) = (v))
#endif

#if POOL_CAN_SPIN
static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

// Spins (the mutex not held) until *gen differs from seen, or *stop is set,
// or POOL_SPIN_NS pass.
static void spin_job(const uint64_t *gen, uint64_t seen, const int *stop) {
    long t0 = now_ns();
    int i;
    for (;;) {
        for (i = 0; i < 64; i++) {
            if (LOAD_U64(gen) != seen || LOAD_INT(stop)) return;
            CPU_RELAX();
        }
        if (now_ns() - t0 > POOL_SPIN_NS) return;
    }
}

// Spins (the mutex not held) until *finished reaches nth, or POOL_SPIN_NS pass.
static void spin_done(const int *finished, int nth) {
    long t0 = now_ns();
    int i;
    for (;;) {
        for (i = 0; i < 64; i++) {
            if (LOAD_INT(finished) >= nth) return;
            CPU_RELAX();
        }
        if (now_ns() - t0 > POOL_SPIN_NS) return;
    }
}
#endif

// Claims and runs tasks of the current job until none is left. Called with
// the mutex held; returns with it held.
static void run_tasks(tfm__pool *pool) {
    while (pool->next < pool->nth) {
        int i = pool->next++;
        tfm__task_fn fn = pool->fn;
        void *arg = pool->arg;
        int nth = pool->nth;
        pthread_mutex_unlock(&pool->mu);
        fn(arg, i, nth);
        pthread_mutex_lock(&pool->mu);
        STORE(&pool->finished, pool->finished + 1);
        if (pool->finished == pool->nth) pthread_cond_signal(&pool->done);
    }
}

static void *worker_main(void *p) {
    tfm__pool *pool = (tfm__pool *)p;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
#if POOL_CAN_SPIN
        if (!pool->stop && pool->generation == seen) {
            pthread_mutex_unlock(&pool->mu);
            spin_job(&pool->generation, seen, &pool->stop);
            pthread_mutex_lock(&pool->mu);
        }
#endif
        while (!pool->stop && pool->generation == seen) {
            pool->sleepers++;
            pthread_cond_wait(&pool->wake, &pool->mu);
            pool->sleepers--;
        }
        if (pool->stop) break;
        seen = pool->generation;
        run_tasks(pool);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

// Initializes the sync objects and the job state and starts the workers.
// Returns the number started (all n_threads - 1, or fewer when the system
// refuses one: the caller then runs what they would have).
static int start_workers(tfm__pool *pool) {
    int i;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->generation = 0;
    pool->stop = 0;
    pool->sleepers = 0;
    pool->fn = NULL;
    pool->arg = NULL;
    pool->nth = pool->next = pool->finished = 0;
    pool->n_started = 0;
    pool->forks = g_forks;
    for (i = 0; i < pool->n_threads - 1; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0) break;
        pool->n_started++;
    }
    return pool->n_started;
}

tfm__pool *tfm__pool_create(tfm_ctx *ctx, int n_threads, tfm_status *status) {
    tfm__pool *pool = (tfm__pool *)tfm__alloc(ctx, sizeof *pool);
    if (!pool) {
        *status = TFM_ERR_NOMEM;
        return NULL;
    }
    memset(pool, 0, sizeof *pool);
    pool->ctx = ctx;
    pool->n_threads = n_threads;
    if (n_threads == 1) return pool; // no workers, no sync objects needed
    tfm__call_once(&g_atfork_once, register_atfork);
    pool->threads =
        (pthread_t *)tfm__alloc(ctx, sizeof(pthread_t) * (size_t)(n_threads - 1));
    if (!pool->threads) {
        tfm__free(ctx, pool, sizeof *pool);
        *status = TFM_ERR_NOMEM;
        return NULL;
    }
    if (start_workers(pool) < n_threads - 1) {
        int started = pool->n_started;
        *status = TFM_ERR_UNSUPPORTED;
        tfm__pool_free(pool);
        tfm__err(ctx, TFM_ERR_UNSUPPORTED, "thread pool: could not start thread %d of %d",
                 started + 1, n_threads - 1);
        return NULL;
    }
    return pool;
}

// Stops and joins the workers and destroys the sync objects.
static void stop_workers(tfm__pool *pool) {
    int i;
    pthread_mutex_lock(&pool->mu);
    STORE(&pool->stop, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (i = 0; i < pool->n_started; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
}

void tfm__pool_free(tfm__pool *pool) {
    if (!pool) return;
    if (pool->n_threads > 1) {
        // After a fork the workers and the state of the sync objects
        // belong to the parent: nothing to stop here.
        if (pool->forks == g_forks) stop_workers(pool);
        tfm__free(pool->ctx, pool->threads,
                  sizeof(pthread_t) * (size_t)(pool->n_threads - 1));
    }
    tfm__free(pool->ctx, pool, sizeof *pool);
}

void tfm__pool_run(tfm__pool *pool, tfm__task_fn fn, void *arg, int nth) {
    int i;
    if (!pool || pool->n_threads == 1 || nth == 1) {
        for (i = 0; i < nth; i++) fn(arg, i, nth);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->nth = nth;
    pool->next = 0;
    STORE(&pool->finished, 0);
    STORE(&pool->generation, pool->generation + 1);
    if (pool->sleepers) pthread_cond_broadcast(&pool->wake);
    run_tasks(pool);
#if POOL_CAN_SPIN
    if (pool->finished < pool->nth) {
        pthread_mutex_unlock(&pool->mu);
        spin_done(&pool->finished, pool->nth);
        pthread_mutex_lock(&pool->mu);
    }
#endif
    while (pool->finished < pool->nth) pthread_cond_wait(&pool->done, &pool->mu);
    pool->fn = NULL;
    pool->arg = NULL;
    pthread_mutex_unlock(&pool->mu);
}

#endif
