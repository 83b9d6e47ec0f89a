/*
 * kernels/simd.h -- run-time choice of an AVX2 copy of a hot loop.
 *
 * The build targets x86-64-v2 (SSE4.2) so that one binary runs everywhere.
 * A kernel whose loops vectorize well keeps its body in an always-inline
 * function and gets two thin copies, one compiled for AVX2 (8 float lanes)
 * and one plain, picked with sbert_cpu_avx2() (a cached flag test, not an
 * ifunc, which sanitizer runtimes dislike):
 *
 *     SBERT_AVX2_COPIES(static void, act_bwd_range, (void *c, size_t a, size_t b), (c, a, b))
 *
 * defines act_bwd_range(c, a, b) calling act_bwd_range_body(c, a, b) in the
 * right copy. The copies compute the same bits: ISO C mode keeps the
 * compiler from contracting a * b + c into an FMA, and only loops without a
 * reduction are vectorized, so lanes never mix.
 */
#ifndef SBERT_KERNELS_SIMD_H
#define SBERT_KERNELS_SIMD_H

/* 1 when the CPU (and OS) support AVX2. */
int sbert_cpu_avx2(void);

#if defined(__x86_64__) && defined(__GNUC__)
#define SBERT_AVX2_COPIES(ret, name, params, args)                                                 \
    __attribute__((target("avx2"))) ret name##_avx2 params { name##_body args; }                  \
    ret name##_plain params { name##_body args; }                                                  \
    ret name params {                                                                              \
        if (sbert_cpu_avx2()) name##_avx2 args;                                                    \
        else name##_plain args;                                                                    \
    }
#else
#define SBERT_AVX2_COPIES(ret, name, params, args)                                                 \
    ret name params { name##_body args; }
#endif

/* 1 when the CPU (and OS) support AVX-512 F, DQ, BW and VL (every AVX-512
 * CPU since Skylake-SP and Zen 4: the 64-bit multiplies of DQ vectorize the
 * dropout masks' generator). */
int sbert_cpu_avx512(void);

/* As SBERT_AVX2_COPIES with a third copy for AVX-512 (16 float lanes), for
 * memory-bound passes where the wider registers halve the instructions per
 * byte. The same rules hold: no reductions vectorized across lanes, no FMA
 * contraction, so all three copies compute the same bits. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SBERT_AVX512_COPIES(ret, name, params, args)                                               \
    __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2"))) ret name##_avx512 params {         \
        name##_body args;                                                                          \
    }                                                                                              \
    __attribute__((target("avx2"))) ret name##_avx2 params { name##_body args; }                  \
    ret name##_plain params { name##_body args; }                                                  \
    ret name params {                                                                              \
        if (sbert_cpu_avx512()) name##_avx512 args;                                                \
        else if (sbert_cpu_avx2()) name##_avx2 args;                                               \
        else name##_plain args;                                                                    \
    }
#else
#define SBERT_AVX512_COPIES(ret, name, params, args)                                               \
    ret name params { name##_body args; }
#endif

#define SBERT_BODY static inline __attribute__((always_inline))

#endif
