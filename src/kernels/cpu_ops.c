/*
 * kernels/cpu_ops.c -- fp32 CPU kernels for the encoder forward pass
 * (see cpu_ops.h for the shapes and the contract of each op).
 *
 * Matrix products of the forward split their output columns over the pool
 * (sbert_gemm_small for few rows, cblas_sgemm for many) with the bias and
 * activation applied in the same pass; the row-wise ops (LayerNorm, softmax)
 * are split over rows with sbert_parallel_for_min so that tiny inputs stay on
 * the calling thread.
 * LayerNorm statistics are accumulated in double, which keeps the result
 * within a few ulp of torch's fp32 LayerNorm.
 */
#include "kernels/cpu_ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "base/threads.h"
#include "kernels/simd.h"
#include "kernels/act_math.h"
#include "kernels/gemm_small.h"

/* Rows per chunk below which splitting across threads is not worth a wake-up. */
#define MIN_ELEMS_PER_CHUNK 16384

static size_t rows_per_chunk(size_t C) {
    size_t r = MIN_ELEMS_PER_CHUNK / (C ? C : 1);
    return r ? r : 1;
}

/* ------------------------------------------------------------------------ */
/* activations */

static const struct {
    const char *name;
    sbert_act act;
} act_names[] = {
    {"gelu", SBERT_ACT_GELU},
    {"gelu_python", SBERT_ACT_GELU},
    {"gelu_new", SBERT_ACT_GELU_TANH},
    {"gelu_pytorch_tanh", SBERT_ACT_GELU_TANH},
    {"gelu_fast", SBERT_ACT_GELU_TANH},
    {"relu", SBERT_ACT_RELU},
    {"silu", SBERT_ACT_SILU},
    {"swish", SBERT_ACT_SILU},
    {"quick_gelu", SBERT_ACT_QUICK_GELU},
    {"linear", SBERT_ACT_IDENTITY},
};

sbert_status sbert_act_from_name(const char *name, sbert_act *out) {
    for (size_t i = 0; i < sizeof act_names / sizeof act_names[0]; i++) {
        if (name && strcmp(name, act_names[i].name) == 0) {
            *out = act_names[i].act;
            return SBERT_OK;
        }
    }
    return sbert_fail(SBERT_ERR_UNSUPPORTED,
                      "activation '%s' is not supported (supported: gelu, gelu_python, gelu_new, "
                      "gelu_pytorch_tanh, gelu_fast, relu, silu, swish, quick_gelu, linear)",
                      name ? name : "(null)");
}

const char *sbert_act_name(sbert_act act) {
    switch (act) {
    case SBERT_ACT_IDENTITY: return "linear";
    case SBERT_ACT_GELU: return "gelu";
    case SBERT_ACT_GELU_TANH: return "gelu_new";
    case SBERT_ACT_RELU: return "relu";
    case SBERT_ACT_SILU: return "silu";
    case SBERT_ACT_QUICK_GELU: return "quick_gelu";
    }
    return "?";
}

#define SQRT1_2 0.70710678118654752440f
#define SQRT_2_OVER_PI 0.79788456080286535588f

static inline float act_one(sbert_act act, float x) {
    switch (act) {
    case SBERT_ACT_IDENTITY: return x;
    case SBERT_ACT_GELU: return 0.5f * x * (1.0f + sbert_erf_as(x * SQRT1_2));
    case SBERT_ACT_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
    case SBERT_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case SBERT_ACT_SILU: return x / (1.0f + expf(-x));
    case SBERT_ACT_QUICK_GELU: return x / (1.0f + expf(-1.702f * x));
    }
    return x;
}

float sbert_act_apply(sbert_act act, float x) { return act_one(act, x); }

typedef struct {
    float *out, *pre;
    const float *in, *b;
    size_t N;
    sbert_act act;
} bias_act_ctx;

/* rows [r0, r1): pre = in + b; out = act(pre). in may equal pre or out. */
SBERT_BODY void bias_act_rows_body(void *vctx, size_t r0, size_t r1) {
    const bias_act_ctx *c = vctx;
    size_t N = c->N;
    if (c->act == SBERT_ACT_GELU && c->b) {
        /* the hot paths (inference; training keeps the pre-activation): one
         * vectorizable loop each */
        for (size_t r = r0; r < r1; r++) {
            const float *x = c->in + r * N;
            float *p = c->pre ? c->pre + r * N : NULL;
            float *o = c->out + r * N;
            if (p) {
                for (size_t j = 0; j < N; j++) {
                    float v = x[j] + c->b[j];
                    p[j] = v;
                    o[j] = 0.5f * v * (1.0f + sbert_erf_as(v * SQRT1_2));
                }
            } else {
                for (size_t j = 0; j < N; j++) {
                    float v = x[j] + c->b[j];
                    o[j] = 0.5f * v * (1.0f + sbert_erf_as(v * SQRT1_2));
                }
            }
        }
        return;
    }
    for (size_t r = r0; r < r1; r++) {
        const float *x = c->in + r * N;
        float *p = c->pre ? c->pre + r * N : NULL;
        float *o = c->out + r * N;
        for (size_t j = 0; j < N; j++) {
            float v = x[j] + (c->b ? c->b[j] : 0.0f);
            if (p) p[j] = v;
            o[j] = act_one(c->act, v);
        }
    }
}
SBERT_AVX512_COPIES(static void, bias_act_rows, (void *vctx, size_t r0, size_t r1), (vctx, r0, r1))

void sbert_act_forward(float *out, const float *in, size_t n, sbert_act act) {
    bias_act_ctx c = {out, NULL, in, NULL, 1, act};
    sbert_parallel_for_min(n, MIN_ELEMS_PER_CHUNK, bias_act_rows, &c);
}

/* ------------------------------------------------------------------------ */
/* embeddings, linear, residual */

typedef struct {
    float *out;
    const int32_t *ids;
    const float *table;
    size_t C;
} emb_add_ctx;

static void emb_add_rows(void *vctx, size_t t0, size_t t1) {
    const emb_add_ctx *c = vctx;
    for (size_t t = t0; t < t1; t++) {
        const float *row = c->table + (size_t)c->ids[t] * c->C;
        float *o = c->out + t * c->C;
        for (size_t j = 0; j < c->C; j++) o[j] += row[j];
    }
}

void sbert_embedding_add(float *out, const int32_t *ids, const float *table, size_t T, size_t C) {
    emb_add_ctx c = {out, ids, table, C};
    sbert_parallel_for_min(T, rows_per_chunk(C), emb_add_rows, &c);
}

/* Matrix products of the forward: out[T, N] = in[T, K] W[N, K]^T + b. The
 * sbert pool splits the output columns (rows of W) into blocks of
 * GEMM_BLOCK, one contiguous run of blocks per thread; each thread computes
 * its columns for every row with sbert_gemm_small (up to
 * sbert_gemm_small_max_rows() rows: no packing, the weights streamed once)
 * or one single-threaded cblas_sgemm, and then, while that block is still in
 * cache, applies the activation of a linear+activation layer (the fused
 * epilogue: no separate pass over [T, N], no second parallel call). Only the
 * pool's threads exist, so nothing spins inside BLAS between calls, and the
 * split depends only on N and the thread count (deterministic). */
#define GEMM_BLOCK 32
/* Fewer multiply-adds than this per chunk: not worth a second thread (a
 * chunk hand-off costs about a microsecond with the pool polling; 2^17 MACs
 * take ~3 us at 90 GFLOP/s). */
#define GEMM_MIN_MACS_PER_CHUNK (1u << 17)

typedef struct {
    float *out, *pre; /* pre: result before the activation (may equal out) */
    const float *in, *W, *b;
    size_t T, K, N;
    int has_act;
    sbert_act act;
} gemm_ctx;

/* out[t, n0:n1] = act(pre[t, n0:n1]) for every row t (pre already has the bias). */
SBERT_BODY void act_cols_body(float *out, const float *pre, size_t T, size_t N, size_t n0,
                              size_t n1, sbert_act act) {
    for (size_t t = 0; t < T; t++) {
        const float *x = pre + t * N;
        float *o = out + t * N;
        if (act == SBERT_ACT_GELU) {
            for (size_t j = n0; j < n1; j++) {
                float v = x[j];
                o[j] = 0.5f * v * (1.0f + sbert_erf_as(v * SQRT1_2));
            }
        } else {
            for (size_t j = n0; j < n1; j++) o[j] = act_one(act, x[j]);
        }
    }
}
SBERT_AVX512_COPIES(static void, act_cols,
                  (float *out, const float *pre, size_t T, size_t N, size_t n0, size_t n1, sbert_act act),
                  (out, pre, T, N, n0, n1, act))

static void gemm_cols(void *vctx, size_t b0, size_t b1) {
    const gemm_ctx *c = vctx;
    size_t n0 = b0 * GEMM_BLOCK, n1 = b1 * GEMM_BLOCK;
    if (n1 > c->N) n1 = c->N;
    if (n0 >= n1) return;
    size_t nn = n1 - n0;
    float *dst = c->has_act ? c->pre : c->out;
    if (!(c->T <= sbert_gemm_small_max_rows() &&
          sbert_gemm_small(dst + n0, c->N, c->in, c->W + n0 * c->K, c->b ? c->b + n0 : NULL, c->T,
                           c->K, nn))) {
        float beta = 0.0f;
        if (c->b) {
            for (size_t t = 0; t < c->T; t++) memcpy(dst + t * c->N + n0, c->b + n0, nn * sizeof(float));
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->T, (int)nn, (int)c->K, 1.0f, c->in,
                    (int)c->K, c->W + n0 * c->K, (int)c->K, beta, dst + n0, (int)c->N);
    }
    if (c->has_act) act_cols(c->out, c->pre, c->T, c->N, n0, n1, c->act);
}

typedef struct {
    int ta, tb, dbl; /* dbl: double precision (A, B, C are double *) */
    size_t M, N, K, lda, ldb, ldc;
    double alpha, beta;
    const void *A, *B;
    void *C;
} pgemm_ctx;

/* Rows of C per block: a multiple of OpenBLAS's 16-row micro-panels. */
#define PGEMM_ROW_BLOCK 16

static void pgemm_rows(void *vctx, size_t b0, size_t b1) {
    const pgemm_ctx *c = vctx;
    size_t m0 = b0 * PGEMM_ROW_BLOCK, m1 = b1 * PGEMM_ROW_BLOCK;
    if (m1 > c->M) m1 = c->M;
    if (m0 >= m1) return;
    size_t a_off = c->ta ? m0 : m0 * c->lda, c_off = m0 * c->ldc;
    enum CBLAS_TRANSPOSE ta = c->ta ? CblasTrans : CblasNoTrans, tb = c->tb ? CblasTrans : CblasNoTrans;
    if (c->dbl)
        cblas_dgemm(CblasRowMajor, ta, tb, (int)(m1 - m0), (int)c->N, (int)c->K, c->alpha,
                    (const double *)c->A + a_off, (int)c->lda, c->B, (int)c->ldb, c->beta,
                    (double *)c->C + c_off, (int)c->ldc);
    else
        cblas_sgemm(CblasRowMajor, ta, tb, (int)(m1 - m0), (int)c->N, (int)c->K, (float)c->alpha,
                    (const float *)c->A + a_off, (int)c->lda, c->B, (int)c->ldb, (float)c->beta,
                    (float *)c->C + c_off, (int)c->ldc);
}

static void pgemm(pgemm_ctx *c) {
    if (c->M == 0 || c->N == 0) return;
    size_t blocks = (c->M + PGEMM_ROW_BLOCK - 1) / PGEMM_ROW_BLOCK;
    size_t macs_per_block = c->N * c->K * PGEMM_ROW_BLOCK;
    size_t min_blocks = GEMM_MIN_MACS_PER_CHUNK / (macs_per_block ? macs_per_block : 1);
    sbert_parallel_for_min(blocks, min_blocks ? min_blocks : 1, pgemm_rows, c);
}

void sbert_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                 size_t ldc) {
    pgemm_ctx c = {trans_a, trans_b, 0, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    pgemm(&c);
}

void sbert_dgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha,
                 const double *A, size_t lda, const double *B, size_t ldb, double beta, double *C,
                 size_t ldc) {
    pgemm_ctx c = {trans_a, trans_b, 1, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    pgemm(&c);
}

static void gemm(gemm_ctx *c) {
    size_t blocks = (c->N + GEMM_BLOCK - 1) / GEMM_BLOCK;
    size_t macs_per_block = c->T * c->K * GEMM_BLOCK;
    size_t min_blocks = GEMM_MIN_MACS_PER_CHUNK / (macs_per_block ? macs_per_block : 1);
    sbert_parallel_for_min(blocks, min_blocks ? min_blocks : 1, gemm_cols, c);
}

void sbert_linear_forward(float *out, const float *in, const float *W, const float *b, size_t T,
                          size_t K, size_t N) {
    if (T == 0 || N == 0) return;
    gemm_ctx c = {out, out, in, W, b, T, K, N, 0, SBERT_ACT_IDENTITY};
    gemm(&c);
}

void sbert_linear_act_forward(float *out, float *pre, const float *in, const float *W,
                              const float *b, size_t T, size_t K, size_t N, sbert_act act) {
    if (T == 0 || N == 0) return;
    gemm_ctx c = {out, pre, in, W, b, T, K, N, 1, act};
    gemm(&c);
}

typedef struct {
    float *out;
    const float *a, *b;
} add_ctx;

static void add_range(void *vctx, size_t i0, size_t i1) {
    const add_ctx *c = vctx;
    for (size_t i = i0; i < i1; i++) c->out[i] = c->a[i] + c->b[i];
}

void sbert_add_forward(float *out, const float *a, const float *b, size_t n) {
    add_ctx c = {out, a, b};
    sbert_parallel_for_min(n, MIN_ELEMS_PER_CHUNK, add_range, &c);
}

/* ------------------------------------------------------------------------ */
/* LayerNorm */

typedef struct {
    float *out, *sum, *mean, *rstd;
    const float *a, *r, *w, *b;
    size_t C;
    float eps;
} ln_ctx;

SBERT_BODY void ln_rows_body(void *vctx, size_t t0, size_t t1) {
    const ln_ctx *c = vctx;
    size_t C = c->C;
    for (size_t t = t0; t < t1; t++) {
        const float *x = c->a + t * C;
        float *o = c->out + t * C;
        if (c->r) {
            /* residual: x = a + r, written to sum (or to out) first */
            const float *rr = c->r + t * C;
            float *s = c->sum ? c->sum + t * C : o;
            for (size_t j = 0; j < C; j++) s[j] = x[j] + rr[j];
            x = s;
        }
        /* both sums in 8 fixed partial sums (element j in sum j % 8, added in
         * a fixed tree): one per vector lane, no chain of dependent adds */
        double pm[8] = {0}, pv[8] = {0};
        size_t j = 0;
        for (; j + 8 <= C; j += 8)
            for (int l = 0; l < 8; l++) pm[l] += x[j + (size_t)l];
        for (int l = 0; j < C; j++, l++) pm[l] += x[j];
        double m = ((pm[0] + pm[1]) + (pm[2] + pm[3])) + ((pm[4] + pm[5]) + (pm[6] + pm[7]));
        m /= (double)C;
        for (j = 0; j + 8 <= C; j += 8)
            for (int l = 0; l < 8; l++) {
                double d = (double)x[j + (size_t)l] - m;
                pv[l] += d * d;
            }
        for (int l = 0; j < C; j++, l++) {
            double d = (double)x[j] - m;
            pv[l] += d * d;
        }
        double v = ((pv[0] + pv[1]) + (pv[2] + pv[3])) + ((pv[4] + pv[5]) + (pv[6] + pv[7]));
        v /= (double)C;
        float mf = (float)m;
        float rs = (float)(1.0 / sqrt(v + (double)c->eps));
        if (c->mean) c->mean[t] = mf;
        if (c->rstd) c->rstd[t] = rs;
        for (j = 0; j < C; j++) o[j] = (x[j] - mf) * rs * c->w[j] + c->b[j];
    }
}
SBERT_AVX512_COPIES(static void, ln_rows, (void *vctx, size_t t0, size_t t1), (vctx, t0, t1))

void sbert_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w,
                             const float *b, size_t T, size_t C, float eps) {
    ln_ctx c = {out, NULL, mean, rstd, in, NULL, w, b, C, eps};
    sbert_parallel_for_min(T, rows_per_chunk(C), ln_rows, &c);
}

void sbert_add_layernorm_forward(float *out, float *sum, float *mean, float *rstd, const float *a,
                                 const float *r, const float *w, const float *b, size_t T,
                                 size_t C, float eps) {
    ln_ctx c = {out, sum, mean, rstd, a, r, w, b, C, eps};
    sbert_parallel_for_min(T, rows_per_chunk(C), ln_rows, &c);
}

/* ------------------------------------------------------------------------ */
/* softmax */

typedef struct {
    float *out;
    const float *in;
    size_t C;
} sm_ctx;

static void softmax_row(float *o, const float *x, size_t C) {
    float mx = -INFINITY;
    for (size_t j = 0; j < C; j++) mx = x[j] > mx ? x[j] : mx;
    float s = 0.0f;
    for (size_t j = 0; j < C; j++) {
        o[j] = expf(x[j] - mx);
        s += o[j];
    }
    for (size_t j = 0; j < C; j++) o[j] /= s;
}

static void sm_rows(void *vctx, size_t r0, size_t r1) {
    const sm_ctx *c = vctx;
    for (size_t r = r0; r < r1; r++) softmax_row(c->out + r * c->C, c->in + r * c->C, c->C);
}

void sbert_softmax_forward(float *out, const float *in, size_t R, size_t C) {
    sm_ctx c = {out, in, C};
    sbert_parallel_for_min(R, rows_per_chunk(C), sm_rows, &c);
}
