/*
 * base/threads.h -- the library's one thread pool.
 *
 * A fixed set of worker threads (created lazily, on the first parallel call)
 * runs sbert_parallel_for: the range [0, n) is cut into one contiguous chunk
 * per thread (static chunking: chunk boundaries depend only on n and the
 * thread count), so a kernel whose chunks write disjoint outputs gives
 * bit-identical results for a given thread count. The calling thread runs
 * chunk 0 itself and returns when every chunk is done.
 *
 * A parallel_for issued from inside a chunk (nested), or while another thread
 * is using the pool, simply runs serially in the caller: never a deadlock.
 *
 * Between calls the workers poll for the next job for a short while (0.2 ms)
 * before they sleep, so the many small kernels of one forward pass do not
 * each pay a wake-up; an idle pool sleeps. (No polling when more threads are
 * asked for than there are cores.)
 *
 * OpenBLAS itself is set to one thread (once, before the first parallel
 * call): sbert's matrix products (kernels/cpu_ops.h sbert_linear_forward,
 * sbert_matmul) split the work over this pool instead, so "n threads" means n
 * for everything and no BLAS worker spins while the pool runs other kernels.
 */
#ifndef SBERT_BASE_THREADS_H
#define SBERT_BASE_THREADS_H

#include <stddef.h>

/* n <= 0: all online cores. Takes effect at the next parallel call; must not be
 * called while a parallel_for is running on another thread. */
void sbert_set_num_threads(int n);
/* The current thread count (>= 1). */
int sbert_get_num_threads(void);

typedef void (*sbert_range_fn)(void *ctx, size_t begin, size_t end);

/* Run fn(ctx, begin, end) over [0, n) split into at most num_threads
 * contiguous chunks, never empty ones. Chunks smaller than `min_chunk`
 * items are avoided by using fewer threads (sbert_parallel_for uses 1). */
void sbert_parallel_for(size_t n, sbert_range_fn fn, void *ctx);
void sbert_parallel_for_min(size_t n, size_t min_chunk, sbert_range_fn fn, void *ctx);

/* Like sbert_parallel_for, with the split balanced by cost instead of item
 * count: cum[i] is the summed cost of items [0, i) (cum[0] = 0, nondecreasing,
 * n + 1 entries). Each thread gets one contiguous run of items whose costs add
 * up to about cum[n] / threads; the split depends only on cum and the thread
 * count. A total cost below min_total runs on the calling thread. */
void sbert_parallel_for_cost(size_t n, const size_t *cum, size_t min_total, sbert_range_fn fn,
                             void *ctx);

#endif
