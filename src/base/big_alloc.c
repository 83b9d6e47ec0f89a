/*
 * base/big_alloc.c -- large buffers on huge-page boundaries (see big_alloc.h).
 */
#include "base/big_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define HUGE_PAGE ((size_t)2 << 20)

void *sbert_big_alloc(size_t bytes) {
    if (bytes == 0) bytes = 64;
    size_t align = bytes >= SBERT_BIG_ALLOC_HUGE ? HUGE_PAGE : 64;
    if (bytes > SIZE_MAX - align) return NULL;
    size_t rounded = (bytes + align - 1) / align * align;
    void *p = NULL;
    if (posix_memalign(&p, align, rounded) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == HUGE_PAGE) (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: may be refused */
#endif
    return p;
}

void *sbert_big_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    size_t bytes = count * size;
    void *p = sbert_big_alloc(bytes);
    if (p) memset(p, 0, bytes ? bytes : 64);
    return p;
}

void *sbert_big_reserve(void **p, size_t *cap, size_t bytes) {
    if (*p && *cap >= bytes) return *p;
    size_t want = *cap + *cap / 4;
    if (want < bytes || want < *cap) want = bytes;
    if (want > SIZE_MAX - HUGE_PAGE) want = SIZE_MAX - HUGE_PAGE; /* the mapping fails below */
    want = (want + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
#if defined(__linux__) && defined(MREMAP_MAYMOVE)
    void *q = *p ? mremap(*p, *cap, want, MREMAP_MAYMOVE)
                 : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) {
        sbert_big_release(p, cap);
        return NULL;
    }
#if defined(MADV_HUGEPAGE)
    (void)madvise(q, want, MADV_HUGEPAGE); /* advice only: may be refused */
#endif
#else
    free(*p);
    void *q = sbert_big_alloc(want);
    if (!q) {
        *p = NULL;
        *cap = 0;
        return NULL;
    }
#endif
    *p = q;
    *cap = want;
    return q;
}

void sbert_big_release(void **p, size_t *cap) {
    if (*p) {
#if defined(__linux__) && defined(MREMAP_MAYMOVE)
        munmap(*p, *cap);
#else
        free(*p);
#endif
    }
    *p = NULL;
    *cap = 0;
}
