/*
 * base/threads.c -- a small pthread pool behind sbert_parallel_for.
 *
 * Workers 1..n-1 sleep on a condition variable; a parallel call publishes a
 * job (fn, ctx, n, chunk count) under the pool mutex, bumps a generation
 * counter and broadcasts. Worker w runs chunk w, the caller runs chunk 0, and
 * the last one to finish signals the caller. Only one caller uses the pool at
 * a time (pool_owner, taken with trylock); any other concurrent or nested
 * call runs its whole range serially, so the pool can never deadlock.
 *
 * Everything shared is read and written under `mu`, which makes the pool
 * clean under ThreadSanitizer.
 */
#include "base/threads.h"

#include <cblas.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

static int wanted_threads = 0;  /* 0: not set yet (= all cores) */
static int n_workers = 0;       /* worker threads alive (pool size - 1) */
static pthread_t *workers = NULL;
static int shutting_down = 0;

static unsigned long generation = 0;
static unsigned long spawn_generation = 0; /* generation when the workers were created */
static sbert_range_fn job_fn;
static void *job_ctx;
static size_t job_n, job_chunks;
static size_t job_pending;

static _Thread_local int in_parallel = 0;

static int online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    return (int)n;
}

static void run_chunk(sbert_range_fn fn, void *ctx, size_t n, size_t chunks, size_t i) {
    size_t begin = n * i / chunks, end = n * (i + 1) / chunks;
    if (begin < end) fn(ctx, begin, end);
}

static void *worker_main(void *arg) {
    size_t index = (size_t)(uintptr_t)arg;
    unsigned long seen = 0;
    in_parallel = 1;
    pthread_mutex_lock(&mu);
    /* Not `generation`: a job may already have been published before this
     * thread first got the lock, and it must still run it. */
    seen = spawn_generation;
    for (;;) {
        while (generation == seen && !shutting_down) pthread_cond_wait(&work_cv, &mu);
        if (shutting_down) break;
        seen = generation;
        sbert_range_fn fn = job_fn;
        void *ctx = job_ctx;
        size_t n = job_n, chunks = job_chunks;
        pthread_mutex_unlock(&mu);
        if (index < chunks) run_chunk(fn, ctx, n, chunks, index);
        pthread_mutex_lock(&mu);
        if (--job_pending == 0) pthread_cond_signal(&done_cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Called with pool_owner held: stop all workers. */
static void pool_stop(void) {
    pthread_mutex_lock(&mu);
    shutting_down = 1;
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n_workers; i++) pthread_join(workers[i], NULL);
    free(workers);
    workers = NULL;
    pthread_mutex_lock(&mu);
    n_workers = 0;
    shutting_down = 0;
    pthread_mutex_unlock(&mu);
}

/* Called with pool_owner held: make the pool have `want - 1` workers. Falls
 * back to fewer workers if thread creation fails. */
static void pool_resize(int want) {
    if (n_workers == want - 1) return;
    if (n_workers > 0) pool_stop();
    if (want <= 1) return;
    workers = malloc(sizeof(pthread_t) * (size_t)(want - 1));
    if (!workers) return;
    pthread_mutex_lock(&mu);
    spawn_generation = generation;
    pthread_mutex_unlock(&mu);
    int made = 0;
    for (int i = 0; i < want - 1; i++) {
        if (pthread_create(&workers[i], NULL, worker_main, (void *)(uintptr_t)(i + 1)) != 0) break;
        made++;
    }
    pthread_mutex_lock(&mu);
    n_workers = made;
    pthread_mutex_unlock(&mu);
}

/* After fork() the child has only the forking thread: the workers are gone,
 * and a lock may have been held by one of them. The child starts with an
 * empty pool (and fresh locks); the next parallel call creates its workers.
 * The parent's worker array is left alone (it belongs to the parent). */
static void pool_after_fork_child(void) {
    pthread_mutex_t m0 = PTHREAD_MUTEX_INITIALIZER, m1 = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c0 = PTHREAD_COND_INITIALIZER, c1 = PTHREAD_COND_INITIALIZER;
    mu = m0;
    pool_owner = m1;
    work_cv = c0;
    done_cv = c1;
    workers = NULL;
    n_workers = 0;
    shutting_down = 0;
    job_pending = 0;
    in_parallel = 0;
}

/* OpenBLAS runs single-threaded: the kernels split matrix products over this
 * pool themselves (kernels/cpu_ops.c), so only one set of threads exists and
 * none of them spins between calls. Done once, before the first kernel, with
 * the fork handler. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) {
    openblas_set_num_threads(1);
    pthread_atfork(NULL, NULL, pool_after_fork_child);
}

void sbert_set_num_threads(int n) {
    pthread_once(&blas_once, blas_single_thread);
    if (n <= 0) n = online_cores();
    if (n > 256) n = 256;
    pthread_mutex_lock(&mu);
    wanted_threads = n;
    pthread_mutex_unlock(&mu);
}

int sbert_get_num_threads(void) {
    pthread_once(&blas_once, blas_single_thread);
    pthread_mutex_lock(&mu);
    int n = wanted_threads;
    pthread_mutex_unlock(&mu);
    return n > 0 ? n : online_cores();
}

void sbert_parallel_for_min(size_t n, size_t min_chunk, sbert_range_fn fn, void *ctx) {
    if (n == 0) return;
    if (min_chunk < 1) min_chunk = 1;
    size_t chunks = n / min_chunk;
    if (chunks <= 1) { /* too little work to split: no locks taken */
        pthread_once(&blas_once, blas_single_thread);
        fn(ctx, 0, n);
        return;
    }
    size_t threads = (size_t)sbert_get_num_threads();
    if (chunks > threads) chunks = threads;
    if (chunks > n) chunks = n;
    if (chunks <= 1 || in_parallel || pthread_mutex_trylock(&pool_owner) != 0) {
        fn(ctx, 0, n);
        return;
    }
    pool_resize((int)threads);
    pthread_mutex_lock(&mu);
    if ((size_t)n_workers + 1 < chunks) chunks = (size_t)n_workers + 1;
    if (chunks <= 1) {
        pthread_mutex_unlock(&mu);
        pthread_mutex_unlock(&pool_owner);
        fn(ctx, 0, n);
        return;
    }
    job_fn = fn;
    job_ctx = ctx;
    job_n = n;
    job_chunks = chunks;
    job_pending = (size_t)n_workers;
    generation++;
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&mu);

    in_parallel = 1;
    run_chunk(fn, ctx, n, chunks, 0);
    in_parallel = 0;

    pthread_mutex_lock(&mu);
    while (job_pending > 0) pthread_cond_wait(&done_cv, &mu);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&pool_owner);
}

void sbert_parallel_for(size_t n, sbert_range_fn fn, void *ctx) {
    sbert_parallel_for_min(n, 1, fn, ctx);
}

typedef struct {
    size_t n, parts;
    const size_t *cum;
    sbert_range_fn fn;
    void *ctx;
} cost_ctx;

/* First item of part p: the smallest i with cum[i] >= p * total / parts. */
static size_t cost_bound(const cost_ctx *c, size_t p) {
    if (p == 0) return 0;
    if (p >= c->parts) return c->n;
    size_t target = (size_t)((double)c->cum[c->n] * (double)p / (double)c->parts);
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->cum[mid] >= target) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void cost_parts(void *vctx, size_t p0, size_t p1) {
    const cost_ctx *c = vctx;
    size_t a = cost_bound(c, p0), b = cost_bound(c, p1);
    if (a < b) c->fn(c->ctx, a, b);
}

void sbert_parallel_for_cost(size_t n, const size_t *cum, size_t min_total, sbert_range_fn fn,
                             void *ctx) {
    if (n == 0) return;
    size_t parts = (size_t)sbert_get_num_threads();
    if (parts > n) parts = n;
    if (parts <= 1 || cum[n] < min_total || cum[n] == 0) {
        fn(ctx, 0, n);
        return;
    }
    cost_ctx c = {n, parts, cum, fn, ctx};
    sbert_parallel_for(parts, cost_parts, &c);
}
