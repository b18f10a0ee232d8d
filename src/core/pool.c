/*
 * Thread pool owned by a context. Workers sleep on a condition variable while
 * idle (no spinning). A job is a function run over task indices [0, nth); the
 * caller takes part and returns once every task is done. Built with
 * TFM_NO_THREADS (make THREADS=0) the pool runs every task on the caller.
 */
#define _POSIX_C_SOURCE 200112L
#include "internal.h"

#ifndef TFM_NO_THREADS
#include <pthread.h>
#endif

struct tfm__pool {
    tfm_ctx *ctx;
    int n_threads; // including the caller
#ifndef TFM_NO_THREADS
    pthread_t *threads;
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t wake; // workers wait here for a new job
    pthread_cond_t done; // the caller waits here for the last task
    uint64_t generation; // bumped for every job
    int stop;
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
        if (++pool->finished == pool->nth) pthread_cond_signal(&pool->done);
    }
}

static void *worker_main(void *p) {
    tfm__pool *pool = (tfm__pool *)p;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->generation == seen)
            pthread_cond_wait(&pool->wake, &pool->mu);
        if (pool->stop) break;
        seen = pool->generation;
        run_tasks(pool);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

tfm__pool *tfm__pool_create(tfm_ctx *ctx, int n_threads, tfm_status *status) {
    tfm__pool *pool = (tfm__pool *)tfm__alloc(ctx, sizeof *pool);
    int i;
    if (!pool) {
        *status = TFM_ERR_NOMEM;
        return NULL;
    }
    pool->ctx = ctx;
    pool->n_threads = n_threads;
    if (n_threads == 1) return pool; // no workers, no sync objects needed
    pool->threads =
        (pthread_t *)tfm__alloc(ctx, sizeof(pthread_t) * (size_t)(n_threads - 1));
    if (!pool->threads) {
        tfm__free(ctx, pool, sizeof *pool);
        *status = TFM_ERR_NOMEM;
        return NULL;
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    for (i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0) {
            *status = TFM_ERR_UNSUPPORTED;
            tfm__err(ctx, TFM_ERR_UNSUPPORTED,
                     "thread pool: could not start thread %d of %d", i + 1,
                     n_threads - 1);
            tfm__pool_free(pool);
            return NULL;
        }
        pool->n_started++;
    }
    return pool;
}

void tfm__pool_free(tfm__pool *pool) {
    int i;
    if (!pool) return;
    if (pool->n_threads > 1) {
        pthread_mutex_lock(&pool->mu);
        pool->stop = 1;
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mu);
        for (i = 0; i < pool->n_started; i++) pthread_join(pool->threads[i], NULL);
        pthread_mutex_destroy(&pool->mu);
        pthread_cond_destroy(&pool->wake);
        pthread_cond_destroy(&pool->done);
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
    pool->finished = 0;
    pool->generation++;
    pthread_cond_broadcast(&pool->wake);
    run_tasks(pool);
    while (pool->finished < pool->nth) pthread_cond_wait(&pool->done, &pool->mu);
    pool->fn = NULL;
    pool->arg = NULL;
    pthread_mutex_unlock(&pool->mu);
}

#endif
