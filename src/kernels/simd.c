/* kernels/simd.c -- the cached CPU feature flags of kernels/simd.h. */
#include "kernels/simd.h"

int sbert_cpu_avx2(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    static int have = -1; /* benign race: every thread computes the same value */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h;
#else
    return 0;
#endif
}

int sbert_cpu_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    static int have = -1; /* benign race: every thread computes the same value */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx512f") ? 1 : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h;
#else
    return 0;
#endif
}
