/*
 * base/threads.c -- a small pthread pool behind sbert_parallel_for.
 *
 * A parallel call publishes a job (fn, ctx, n, chunk count) and bumps an
 * atomic generation counter; worker w runs chunk w, the caller runs chunk 0,
 * and each worker counts job_pending down when it is done. Only one caller
 * uses the pool at a time (pool_owner, taken with trylock); any other
 * concurrent or nested call runs its whole range serially, so the pool can
 * never deadlock.
 *
 * Nobody sleeps between the kernels of one forward pass: a worker that has
 * finished a chunk polls the generation counter for up to SPIN_NS before it
 * sleeps on work_cv, and the caller polls job_pending for as long before it
 * sleeps on done_cv. A forward pass issues a few dozen parallel calls a few
 * microseconds apart (a sentence at batch 1 takes ~2 ms for 6 layers x 5
 * kernels), where a futex wake-up per call would cost as much as the work;
 * between encode calls that come less often than SPIN_NS the threads still
 * sleep and use no CPU. When more threads are asked for than cores are
 * online, polling could only steal a core from the thread it waits for, so
 * it is switched off.
 *
 * Sleeping and waking use the usual store-then-check pairs: a worker
 * announces itself in n_sleeping (under mu) before it checks the generation
 * for the last time, and the publisher bumps the generation before it reads
 * n_sleeping (likewise caller_sleeping / job_pending for the end of a job);
 * with sequentially consistent atomics one side always sees the other, and
 * the signal is sent under mu, so no wake-up is lost. Job fields are plain
 * variables written before the generation bump (release) and read after it
 * is seen (acquire); the next job is written only after every worker has
 * counted down, so they never change under a reader (ThreadSanitizer-clean).
 */
#include "base/threads.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* How long a thread polls for the next job (or the end of one) before it
 * sleeps: long enough to cover the serial stretches of a forward pass
 * (tokenizing the next text, the embeddings, pooling), short enough that an
 * idle program goes quiet at once. */
#define SPIN_NS 200000L

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

static int wanted_threads = 0;  /* 0: not set yet (= all cores); under mu */
static int n_workers = 0;       /* worker threads alive (pool size - 1); under mu */
static pthread_t *workers = NULL;
static atomic_int shutting_down = 0;
static atomic_int spin_ok = 0;  /* 1: pool size <= online cores, polling allowed */

static atomic_ulong generation = 0;
static unsigned long spawn_generation = 0; /* generation when the workers were created; under mu */
static sbert_range_fn job_fn;
static void *job_ctx;
static size_t job_n, job_chunks;
static atomic_size_t job_pending = 0;
static atomic_int n_sleeping = 0;      /* workers asleep (or about to be) on work_cv */
static atomic_int caller_sleeping = 0; /* the caller asleep (or about to be) on done_cv */

static _Thread_local int in_parallel = 0;

static int online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    return (int)n;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Poll until done(arg) or SPIN_NS have passed (at once when polling is off). */
static int spin_until(int (*done)(const void *), const void *arg) {
    if (!atomic_load_explicit(&spin_ok, memory_order_relaxed)) return done(arg);
    long t0 = 0;
    for (unsigned i = 0;; i++) {
        if (done(arg)) return 1;
        cpu_relax();
        if ((i & 63) == 63) {
            long t = now_ns();
            if (!t0) t0 = t;
            else if (t - t0 > SPIN_NS) return done(arg);
        }
    }
}

/* Every sleep is a timed wait inside a loop on its condition: a wake-up that
 * is missed costs a few milliseconds instead of a hang. (A hang was seen once
 * under heavy load: the caller asleep on done_cv with no job pending and the
 * worker asleep on work_cv; the cause is not found yet.) */
#define CALLER_WAIT_NS 2000000L  /* the caller: a job's end is due */
#define WORKER_WAIT_NS 20000000L /* an idle worker: wakes 50 times a second */
static void timed_wait(pthread_cond_t *cv, long wait_ns) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += wait_ns;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, &mu, &ts);
}

static void run_chunk(sbert_range_fn fn, void *ctx, size_t n, size_t chunks, size_t i) {
    size_t begin = n * i / chunks, end = n * (i + 1) / chunks;
    if (begin < end) fn(ctx, begin, end);
}

static int new_job_or_stop(const void *seen) {
    return atomic_load(&generation) != *(const unsigned long *)seen || atomic_load(&shutting_down);
}

static void *worker_main(void *arg) {
    size_t index = (size_t)(uintptr_t)arg;
    in_parallel = 1;
    pthread_mutex_lock(&mu);
    /* Not `generation`: a job may already have been published before this
     * thread first got the lock, and it must still run it. */
    unsigned long seen = spawn_generation;
    pthread_mutex_unlock(&mu);
    for (;;) {
        if (!spin_until(new_job_or_stop, &seen)) {
            pthread_mutex_lock(&mu);
            atomic_fetch_add(&n_sleeping, 1);
            while (!new_job_or_stop(&seen)) timed_wait(&work_cv, WORKER_WAIT_NS);
            atomic_fetch_sub(&n_sleeping, 1);
            pthread_mutex_unlock(&mu);
        }
        if (atomic_load(&shutting_down)) break;
        seen = atomic_load_explicit(&generation, memory_order_acquire);
        sbert_range_fn fn = job_fn;
        void *ctx = job_ctx;
        size_t n = job_n, chunks = job_chunks;
        if (index < chunks) run_chunk(fn, ctx, n, chunks, index);
        if (atomic_fetch_sub(&job_pending, 1) == 1 && atomic_load(&caller_sleeping)) {
            pthread_mutex_lock(&mu);
            pthread_cond_signal(&done_cv);
            pthread_mutex_unlock(&mu);
        }
    }
    return NULL;
}

/* Called with pool_owner held: stop all workers. */
static void pool_stop(void) {
    pthread_mutex_lock(&mu);
    atomic_store(&shutting_down, 1);
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n_workers; i++) pthread_join(workers[i], NULL);
    free(workers);
    workers = NULL;
    pthread_mutex_lock(&mu);
    n_workers = 0;
    atomic_store(&shutting_down, 0);
    pthread_mutex_unlock(&mu);
}

/* Called with pool_owner held: make the pool have `want - 1` workers. Falls
 * back to fewer workers if thread creation fails. */
static void pool_resize(int want) {
    if (n_workers == want - 1) return;
    if (n_workers > 0) pool_stop();
    atomic_store(&spin_ok, want <= online_cores());
    if (want <= 1) return;
    workers = malloc(sizeof(pthread_t) * (size_t)(want - 1));
    if (!workers) return;
    pthread_mutex_lock(&mu);
    spawn_generation = atomic_load(&generation);
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
    atomic_store(&shutting_down, 0);
    atomic_store(&job_pending, 0);
    atomic_store(&n_sleeping, 0);
    atomic_store(&caller_sleeping, 0);
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

static int job_done(const void *unused) {
    (void)unused;
    return atomic_load(&job_pending) == 0;
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
    int workers_alive = n_workers;
    pthread_mutex_unlock(&mu);
    if ((size_t)workers_alive + 1 < chunks) chunks = (size_t)workers_alive + 1;
    if (chunks <= 1) {
        pthread_mutex_unlock(&pool_owner);
        fn(ctx, 0, n);
        return;
    }
    /* publish: the fields, then the generation (release), then wake sleepers */
    job_fn = fn;
    job_ctx = ctx;
    job_n = n;
    job_chunks = chunks;
    atomic_store(&job_pending, (size_t)workers_alive);
    atomic_fetch_add_explicit(&generation, 1, memory_order_seq_cst);
    if (atomic_load(&n_sleeping) > 0) {
        pthread_mutex_lock(&mu);
        pthread_cond_broadcast(&work_cv);
        pthread_mutex_unlock(&mu);
    }

    in_parallel = 1;
    run_chunk(fn, ctx, n, chunks, 0);
    in_parallel = 0;

    if (!spin_until(job_done, NULL)) {
        pthread_mutex_lock(&mu);
        atomic_store(&caller_sleeping, 1);
        while (!job_done(NULL)) timed_wait(&done_cv, CALLER_WAIT_NS);
        atomic_store(&caller_sleeping, 0);
        pthread_mutex_unlock(&mu);
    }
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
