/*
 * kernels/bf16_gemm.c -- bf16 products through oneDNN's matmul (see
 * bf16_gemm.h for the contract).
 *
 * Each call splits the M rows of the output into one block per sbert pool
 * thread. A block's thread rounds its rows of op(A) to bf16 into a
 * thread-local buffer (row-major, compact), then runs a oneDNN matmul
 * primitive for that block's shape with oneDNN limited to this one thread
 * (omp_set_num_threads(1): Debian's oneDNN uses OpenMP, whose workers would
 * otherwise spin beside the pool). Primitives are created for exact shapes
 * (oneDNN then picks its brgemm / AMX kernels) and kept in a small
 * per-thread cache, so each primitive is only ever executed by the thread
 * that made it.
 *
 * Without oneDNN (SBERT_HAVE_ONEDNN undefined) or on a CPU without bf16
 * instructions the same entry points compute in fp32 with sbert_sgemm.
 */
#include "kernels/bf16_gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "base/threads.h"
#include "kernels/act_math.h"
#include "kernels/cpu_ops.h"
#include "kernels/cpu_ops_backward.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SBERT_X86 1
#endif

#ifdef SBERT_HAVE_ONEDNN
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#endif

/* ------------------------------------------------------------------ CPU */

#ifdef SBERT_X86
static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static int cpu_avx512bf16; /* VCVTNEPS2BF16 usable (set by sbert_bf16_cpu_isa) */

sbert_bf16_isa sbert_bf16_cpu_isa(void) {
#ifdef SBERT_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return SBERT_BF16_ISA_NONE; /* OSXSAVE */
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0xe6) != 0xe6) return SBERT_BF16_ISA_NONE; /* SSE, AVX, opmask, ZMM state enabled */
    if (__get_cpuid_max(0, NULL) < 7) return SBERT_BF16_ISA_NONE;
    __cpuid_count(7, 0, a, b, c, d);
    int avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    int amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    int avx512_bf16 = (a1 >> 5) & 1;
    if (!(avx512f && avx512bw && avx512vl)) return SBERT_BF16_ISA_NONE;
    cpu_avx512bf16 = avx512_bf16;
    if (amx_bf16 && amx_tile && (xcr0 & 0x60000) == 0x60000) return SBERT_BF16_ISA_AMX_BF16;
    if (avx512_bf16) return SBERT_BF16_ISA_AVX512_BF16;
#endif
    return SBERT_BF16_ISA_NONE;
}

const char *sbert_bf16_isa_name(sbert_bf16_isa isa) {
    switch (isa) {
    case SBERT_BF16_ISA_AMX_BF16: return "AMX-BF16";
    case SBERT_BF16_ISA_AVX512_BF16: return "AVX512-BF16";
    case SBERT_BF16_ISA_NONE: break;
    }
    return "none";
}

int sbert_bf16_built_with_onednn(void) {
#ifdef SBERT_HAVE_ONEDNN
    return 1;
#else
    return 0;
#endif
}

static pthread_once_t avail_once = PTHREAD_ONCE_INIT;
static const char *avail_reason; /* NULL: available */

static void decide(void) {
    sbert_bf16_isa isa = sbert_bf16_cpu_isa();
    const char *env = getenv("SBERT_BF16_DISABLE");
    if (env && *env && strcmp(env, "0") != 0) {
        avail_reason = "bf16 is disabled by SBERT_BF16_DISABLE";
        return;
    }
#ifndef SBERT_HAVE_ONEDNN
    (void)isa; /* still probed: the conversion uses VCVTNEPS2BF16 when present */
    avail_reason = "this sbert was built without oneDNN (install libdnnl-dev -- apt-get install "
                   "libdnnl-dev -- and rebuild; CMake option SBERT_ONEDNN)";
    return;
#else
    if (isa == SBERT_BF16_ISA_NONE) {
        avail_reason = "this CPU has neither AVX512-BF16 nor AMX-BF16";
        return;
    }
    dnnl_cpu_isa_t di = dnnl_get_effective_cpu_isa();
    if (((unsigned)di & (unsigned)dnnl_cpu_isa_avx512_core_bf16) != (unsigned)dnnl_cpu_isa_avx512_core_bf16) {
        avail_reason = "oneDNN does not enable its AVX512-BF16 kernels on this CPU (DNNL_MAX_CPU_ISA?)";
        return;
    }
    avail_reason = NULL;
#endif
}

const char *sbert_bf16_unavailable(void) {
    pthread_once(&avail_once, decide);
    return avail_reason;
}

/* ----------------------------------------------------------- conversion */

static inline uint16_t f2b_scalar(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#ifdef SBERT_X86
__attribute__((target("avx512f,avx512bf16,avx512vl"))) static void f2b_avx512(uint16_t *dst,
                                                                              const float *src,
                                                                              size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)v);
    }
    for (; i < n; i++) dst[i] = f2b_scalar(src[i]);
}
#endif

void sbert_f32_to_bf16(uint16_t *dst, const float *src, size_t n) {
    pthread_once(&avail_once, decide);
#ifdef SBERT_X86
    if (cpu_avx512bf16) {
        f2b_avx512(dst, src, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = f2b_scalar(src[i]);
}

void sbert_bf16_to_f32(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(dst + i, &u, 4);
    }
}

/* ------------------------------------------------------------ fallback */

/* C = op(A) op(Bf) + beta C in fp32 where Bf is Bb widened. */
static void fp32_gemm_bb(int ta, int tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const uint16_t *Bb, size_t ldb, float beta, float *C, size_t ldc) {
    size_t rows = tb ? N : K;
    float *Bf = malloc(rows * ldb * sizeof(float));
    if (!Bf) abort(); /* weights-sized scratch; only reached when bf16 is off */
    sbert_bf16_to_f32(Bf, Bb, rows * ldb);
    sbert_sgemm(ta, tb, M, N, K, 1.0f, A, lda, Bf, ldb, beta, C, ldc);
    free(Bf);
}

#ifndef SBERT_HAVE_ONEDNN

void sbert_bf16_linear_forward(float *out, const float *in, const uint16_t *Wb, const float *b,
                               size_t T, size_t K, size_t N) {
    if (!T || !N) return;
    float beta = 0.0f;
    if (b) {
        for (size_t t = 0; t < T; t++) memcpy(out + t * N, b, N * sizeof(float));
        beta = 1.0f;
    }
    fp32_gemm_bb(0, 1, T, N, K, in, K, Wb, K, beta, out, N);
}

void sbert_bf16_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, const float *A,
                     size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    sbert_sgemm(trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void sbert_bf16_gemm_bb(int trans_a, int trans_b, size_t M, size_t N, size_t K, const float *A,
                        size_t lda, const uint16_t *Bb, size_t ldb, float beta, float *C,
                        size_t ldc) {
    if (!M || !N) return;
    fp32_gemm_bb(trans_a, trans_b, M, N, K, A, lda, Bb, ldb, beta, C, ldc);
}

#else /* SBERT_HAVE_ONEDNN */

/* ------------------------------------------------------------- oneDNN */

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void engine_init(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}

/* One cached primitive: the product of a block of M rows. */
typedef struct {
    size_t M, N, K, ldb, ldc;
    int tb, bias, sum;
    float beta;
    dnnl_primitive_t prim;
} prim_entry;

#define CACHE_SLOTS 24

typedef struct {
    prim_entry e[CACHE_SLOTS];
    unsigned age[CACHE_SLOTS], clock;
    dnnl_stream_t stream;
    uint16_t *abuf; /* this thread's op(A) rows in bf16 */
    size_t abuf_cap;
} thread_state;

static _Thread_local thread_state *tls;

static pthread_key_t tls_key;
static pthread_once_t tls_key_once = PTHREAD_ONCE_INIT;
static void thread_state_free(void *p) {
    thread_state *s = p;
    if (!s) return;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (s->e[i].prim) dnnl_primitive_destroy(s->e[i].prim);
    if (s->stream) dnnl_stream_destroy(s->stream);
    free(s->abuf);
    free(s);
}
static void tls_key_init(void) { pthread_key_create(&tls_key, thread_state_free); }

static thread_state *state(void) {
    if (tls) return tls;
    pthread_once(&engine_once, engine_init);
    pthread_once(&tls_key_once, tls_key_init);
    thread_state *s = calloc(1, sizeof *s);
    if (!s || !engine) abort();
    if (dnnl_stream_create(&s->stream, engine, dnnl_stream_default_flags) != dnnl_success) abort();
    pthread_setspecific(tls_key, s);
    tls = s;
    return s;
}

static void check(dnnl_status_t st, const char *what) {
    if (st == dnnl_success) return;
    /* Only reached on an internal inconsistency (shapes are always valid):
     * the kernels have no error path, as sbert_sgemm has none. */
    fprintf(stderr, "sbert: internal error: oneDNN %s failed (status %d)\n", what, (int)st);
    abort();
}

static void md_strided(dnnl_memory_desc_t *md, size_t r, size_t c, size_t s0, size_t s1, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {(dnnl_dim_t)r, (dnnl_dim_t)c}, strides = {(dnnl_dim_t)s0, (dnnl_dim_t)s1};
    check(dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides), "memory_desc_init");
}

/* The primitive for C[M,N] (ldc) = A[M,K] (compact bf16) . op(B) (bf16, ldb) (+ bias) (+ beta C). */
static dnnl_primitive_t get_prim(thread_state *s, size_t M, size_t N, size_t K, int tb, size_t ldb,
                                 size_t ldc, int bias, float beta) {
    int sum = beta != 0.0f;
    int lru = 0;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        prim_entry *e = &s->e[i];
        if (e->prim && e->M == M && e->N == N && e->K == K && e->tb == tb && e->ldb == ldb && e->ldc == ldc &&
            e->bias == bias && e->sum == sum && (!sum || e->beta == beta)) {
            s->age[i] = ++s->clock;
            return e->prim;
        }
        if (!e->prim || s->age[i] < s->age[lru]) lru = i;
        if (!e->prim) break;
    }
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    md_strided(&a_md, M, K, K, 1, dnnl_bf16);
    if (tb) md_strided(&b_md, K, N, 1, ldb, dnnl_bf16); /* B stored [N, K] */
    else md_strided(&b_md, K, N, ldb, 1, dnnl_bf16);    /* B stored [K, N] */
    md_strided(&c_md, M, N, ldc, 1, dnnl_f32);
    if (bias) md_strided(&bias_md, 1, N, N, 1, dnnl_f32);
    dnnl_matmul_desc_t desc;
    check(dnnl_matmul_desc_init(&desc, &a_md, &b_md, bias ? &bias_md : NULL, &c_md), "matmul_desc_init");
    dnnl_primitive_attr_t attr = NULL;
    if (sum) {
        dnnl_post_ops_t po;
        check(dnnl_primitive_attr_create(&attr), "attr_create");
        check(dnnl_post_ops_create(&po), "post_ops_create");
        check(dnnl_post_ops_append_sum(po, beta), "append_sum");
        check(dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), "primitive_desc_create");
    if (attr) dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_t prim;
    check(dnnl_primitive_create(&prim, pd), "primitive_create");
    dnnl_primitive_desc_destroy(pd);
    prim_entry *e = &s->e[lru];
    if (e->prim) dnnl_primitive_destroy(e->prim);
    *e = (prim_entry){M, N, K, ldb, ldc, tb, bias, sum, beta, prim};
    s->age[lru] = ++s->clock;
    return prim;
}

typedef struct {
    int ta, tb;
    size_t M, N, K, lda, ldb, ldc;
    const float *A;
    const uint16_t *Bb;
    const float *bias;
    float beta;
    float *C;
} mm_ctx;

/* Rows of C per block (oneDNN's bf16 kernels work on 16-row panels, as
 * OpenBLAS's do). */
#define ROW_BLOCK 16
/* Below this many multiply-adds per thread a block stays on the caller. */
#define MIN_MACS_PER_CHUNK (1u << 20)

static void mm_rows(void *vctx, size_t b0, size_t b1) {
    const mm_ctx *c = vctx;
    size_t m0 = b0 * ROW_BLOCK, m1 = b1 * ROW_BLOCK;
    if (m1 > c->M) m1 = c->M;
    if (m0 >= m1) return;
    size_t m = m1 - m0, K = c->K;
    thread_state *s = state();
    /* oneDNN runs on this thread only; the caller's OpenMP setting is restored below */
    int omp_prev = omp_get_max_threads();
    omp_set_num_threads(1);
    if (m * K > s->abuf_cap) {
        free(s->abuf);
        s->abuf = malloc(m * K * sizeof(uint16_t));
        if (!s->abuf) abort();
        s->abuf_cap = m * K;
    }
    if (!c->ta) {
        if (c->lda == K) {
            sbert_f32_to_bf16(s->abuf, c->A + m0 * K, m * K);
        } else {
            for (size_t i = 0; i < m; i++) sbert_f32_to_bf16(s->abuf + i * K, c->A + (m0 + i) * c->lda, K);
        }
    } else {
        /* A is [K, M]: gather column m0 + i of every row into row i. */
        for (size_t k = 0; k < K; k++) {
            const float *row = c->A + k * c->lda + m0;
            for (size_t i = 0; i < m; i++) s->abuf[i * K + k] = f2b_scalar(row[i]);
        }
    }
    dnnl_primitive_t prim = get_prim(s, m, c->N, K, c->tb, c->ldb, c->ldc, c->bias != NULL, c->beta);
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    md_strided(&a_md, m, K, K, 1, dnnl_bf16);
    if (c->tb) md_strided(&b_md, K, c->N, 1, c->ldb, dnnl_bf16);
    else md_strided(&b_md, K, c->N, c->ldb, 1, dnnl_bf16);
    md_strided(&c_md, m, c->N, c->ldc, 1, dnnl_f32);
    dnnl_memory_t am, bm, cm, biasm = NULL;
    check(dnnl_memory_create(&am, &a_md, engine, s->abuf), "memory_create");
    check(dnnl_memory_create(&bm, &b_md, engine, (void *)c->Bb), "memory_create");
    check(dnnl_memory_create(&cm, &c_md, engine, c->C + m0 * c->ldc), "memory_create");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {0, NULL}};
    int nargs = 3;
    if (c->bias) {
        md_strided(&bias_md, 1, c->N, c->N, 1, dnnl_f32);
        check(dnnl_memory_create(&biasm, &bias_md, engine, (void *)c->bias), "memory_create");
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, biasm};
    }
    check(dnnl_primitive_execute(prim, s->stream, nargs, args), "primitive_execute");
    check(dnnl_stream_wait(s->stream), "stream_wait");
    dnnl_memory_destroy(am);
    dnnl_memory_destroy(bm);
    dnnl_memory_destroy(cm);
    if (biasm) dnnl_memory_destroy(biasm);
    omp_set_num_threads(omp_prev);
}

static void mm_run(mm_ctx *c) {
    if (c->M == 0 || c->N == 0) return;
    if (c->K == 0) {
        /* an empty sum: C = beta C (+ bias) */
        for (size_t i = 0; i < c->M; i++)
            for (size_t j = 0; j < c->N; j++)
                c->C[i * c->ldc + j] = (c->beta != 0.0f ? c->beta * c->C[i * c->ldc + j] : 0.0f) + (c->bias ? c->bias[j] : 0.0f);
        return;
    }
    size_t blocks = (c->M + ROW_BLOCK - 1) / ROW_BLOCK;
    size_t macs = c->N * c->K * ROW_BLOCK;
    size_t min_blocks = MIN_MACS_PER_CHUNK / (macs ? macs : 1);
    sbert_parallel_for_min(blocks, min_blocks ? min_blocks : 1, mm_rows, c);
}

void sbert_bf16_linear_forward(float *out, const float *in, const uint16_t *Wb, const float *b,
                               size_t T, size_t K, size_t N) {
    if (!T || !N) return;
    if (sbert_bf16_unavailable()) {
        float beta = 0.0f;
        if (b) {
            for (size_t t = 0; t < T; t++) memcpy(out + t * N, b, N * sizeof(float));
            beta = 1.0f;
        }
        fp32_gemm_bb(0, 1, T, N, K, in, K, Wb, K, beta, out, N);
        return;
    }
    mm_ctx c = {0, 1, T, N, K, K, K, N, in, Wb, b, 0.0f, out};
    mm_run(&c);
}

void sbert_bf16_gemm_bb(int trans_a, int trans_b, size_t M, size_t N, size_t K, const float *A,
                        size_t lda, const uint16_t *Bb, size_t ldb, float beta, float *C,
                        size_t ldc) {
    if (!M || !N) return;
    if (sbert_bf16_unavailable()) {
        fp32_gemm_bb(trans_a, trans_b, M, N, K, A, lda, Bb, ldb, beta, C, ldc);
        return;
    }
    mm_ctx c = {trans_a, trans_b, M, N, K, lda, ldb, ldc, A, Bb, NULL, beta, C};
    mm_run(&c);
}

typedef struct {
    uint16_t *dst;
    const float *src;
    size_t cols, ld;
} cvt_ctx;

static void cvt_rows(void *vctx, size_t r0, size_t r1) {
    const cvt_ctx *c = vctx;
    for (size_t r = r0; r < r1; r++) sbert_f32_to_bf16(c->dst + r * c->cols, c->src + r * c->ld, c->cols);
}

void sbert_bf16_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, const float *A,
                     size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (!M || !N) return;
    if (sbert_bf16_unavailable()) {
        sbert_sgemm(trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* B rounded to bf16 once, compact: [N, K] (trans_b) or [K, N] */
    size_t rows = trans_b ? N : K, cols = trans_b ? K : N;
    uint16_t *Bb = malloc((rows * cols > 0 ? rows * cols : 1) * sizeof(uint16_t));
    if (!Bb) abort();
    cvt_ctx cc = {Bb, B, cols, ldb};
    sbert_parallel_for_min(rows, 1 + (1u << 16) / (cols ? cols : 1), cvt_rows, &cc);
    mm_ctx c = {trans_a, trans_b, M, N, K, lda, cols, ldc, A, Bb, NULL, beta, C};
    mm_run(&c);
    free(Bb);
}

#endif /* SBERT_HAVE_ONEDNN */

/* ---------------------------------------------------- linear + activation */

typedef struct {
    float *out;
    const float *pre;
    size_t N;
} gelu_ctx;

/* rows [r0, r1): out = GELU(pre), erf form, one vectorizable loop (as the
 * fp32 path's bias+GELU pass in cpu_ops.c) */
static void gelu_rows(void *vctx, size_t r0, size_t r1) {
    const gelu_ctx *c = vctx;
    const float *x = c->pre + r0 * c->N;
    float *o = c->out + r0 * c->N;
    const size_t n = (r1 - r0) * c->N;
    for (size_t j = 0; j < n; j++) {
        float v = x[j];
        o[j] = 0.5f * v * (1.0f + sbert_erf_as(v * 0.70710678118654752440f));
    }
}

void sbert_bf16_linear_act_forward(float *out, float *pre, const float *in, const uint16_t *Wb,
                                   const float *b, size_t T, size_t K, size_t N, sbert_act act) {
    if (!T || !N) return;
    sbert_bf16_linear_forward(pre, in, Wb, b, T, K, N);
    if (act == SBERT_ACT_GELU) {
        gelu_ctx c = {out, pre, N};
        size_t rows = (1u << 14) / N;
        sbert_parallel_for_min(T, rows ? rows : 1, gelu_rows, &c);
    } else {
        sbert_act_forward(out, pre, T * N, act);
    }
}

/* ------------------------------------------------------------ backward */

void sbert_bf16_linear_backward(float *din, float *dW, float *db, const float *dout,
                                const float *in, const uint16_t *Wb, size_t T, size_t K, size_t N) {
    if (T == 0 || N == 0) return;
    if (din && K) sbert_bf16_gemm_bb(0, 0, T, K, N, dout, N, Wb, K, 1.0f, din, K); /* dout[T,N] . W[N,K] */
    if (dW && K) sbert_bf16_gemm(1, 0, N, K, T, dout, N, in, K, 1.0f, dW, K);    /* dout^T . in */
    if (db) sbert_linear_backward(NULL, NULL, db, dout, in, NULL, T, K, N);      /* fp32 column sums */
}

void sbert_bf16_linear_act_backward(float *din, float *dW, float *db, float *dpre_scratch,
                                    const float *dout, const float *pre, const float *in,
                                    const uint16_t *Wb, size_t T, size_t K, size_t N, sbert_act act) {
    if (T == 0 || N == 0) return;
    memset(dpre_scratch, 0, T * N * sizeof(float));
    sbert_act_backward(dpre_scratch, dout, pre, T * N, act);
    sbert_bf16_linear_backward(din, dW, db, dpre_scratch, in, Wb, T, K, N);
}
