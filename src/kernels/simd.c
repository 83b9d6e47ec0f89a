/* kernels/simd.c -- the cached CPU feature flags of kernels/simd.h. */
#include "kernels/simd.h"

#define FLAG_AVX2 1
#define FLAG_AVX512 2

/* FLAG_* bits of this CPU, probed once. */
static int cpu_flags(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    static int have = -1; /* benign race: every thread computes the same value */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                     __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
        h = (__builtin_cpu_supports("avx2") ? FLAG_AVX2 : 0) | (avx512 ? FLAG_AVX512 : 0);
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h;
#else
    return 0;
#endif
}

int sbert_cpu_avx2(void) { return (cpu_flags() & FLAG_AVX2) != 0; }

int sbert_cpu_avx512(void) { return (cpu_flags() & FLAG_AVX512) != 0; }
