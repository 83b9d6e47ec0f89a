/*
 * base/big_alloc.h -- large, long-lived buffers (weights, gradients,
 * optimizer state, activation arenas).
 *
 * Every block starts on a 64-byte boundary. Blocks of SBERT_BIG_ALLOC_HUGE
 * bytes or more start on a 2 MiB boundary and are advised for transparent
 * huge pages (madvise MADV_HUGEPAGE, where the kernel offers it): a
 * fine-tuning step of all-MiniLM-L6-v2 otherwise takes ~600,000 page faults
 * in 40 steps, each fresh 4 KiB page of a regrown arena or of the AdamW
 * moments faulted in one by one (and the moments, read before they are
 * first written, twice: the shared zero page, then a copy with a TLB
 * shoot-down on the other core). Free with free().
 */
#ifndef SBERT_BASE_BIG_ALLOC_H
#define SBERT_BASE_BIG_ALLOC_H

#include <stddef.h>

#define SBERT_BIG_ALLOC_HUGE ((size_t)4 << 20)

/* `bytes` (contents undefined), or NULL when out of memory. */
void *sbert_big_alloc(size_t bytes);

/* `count` * `size` bytes of zeros (NULL on overflow or out of memory). The
 * zeros are WRITTEN, so the pages are faulted in here, once, by writes. */
void *sbert_big_calloc(size_t count, size_t size);

/* Grow-only arena: returns *p when *cap >= bytes, else grows it to
 * max(bytes, 5/4 of the old capacity) -- so a slowly rising demand (the
 * longest batch of a run so far) regrows a few times in a run, not at every
 * new maximum. On Linux the arena is its own mapping and grows with mremap:
 * the pages already touched move with it, and only the new tail is faulted
 * in (measured on this project's virtual machines: a first touch writes
 * 0.4-5 GB/s, rewriting mapped pages ~25 GB/s). Contents are undefined after a growth.
 * Returns NULL when out of memory (then *p is NULL and *cap 0). Release
 * with sbert_big_release, never free(). */
void *sbert_big_reserve(void **p, size_t *cap, size_t bytes);
void sbert_big_release(void **p, size_t *cap);

#endif
