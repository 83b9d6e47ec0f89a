/*
 * kernels/cpu_ops_backward.c -- backward passes of the fp32 CPU ops
 * (contracts and shapes in cpu_ops_backward.h; forwards in cpu_ops.c).
 *
 * Parallel structure, chosen so that results never depend on which thread
 * ran what (only on the BLAS thread count for the two sgemm calls):
 *   - input gradients are row-local (each row of din depends on one row of
 *     dout), so rows are split over the sbert thread pool;
 *   - parameter gradients are reductions over rows (dW of LayerNorm, biases,
 *     the embedding table), so COLUMNS are split over the pool and every
 *     thread sums its own columns over all rows in row order, in double;
 *   - the two big products of the linear backward are sbert_sgemm calls (rows
 *     of the output split over the pool) that accumulate with beta = 1.
 * Derivatives of the activations are written out in closed form next to the
 * forward formulas of cpu_ops.c (same constants).
 */
#include "kernels/cpu_ops_backward.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "base/threads.h"
#include "kernels/simd.h"
#include "kernels/cpu_ops.h"
#include "kernels/act_math.h"

/* Work below which splitting across threads is not worth a wake-up (elements). */
#define MIN_ELEMS_PER_CHUNK 16384
/* Columns summed together in one pass over the rows of a column reduction. */
#define COL_BLOCK 64

static size_t rows_per_chunk(size_t C) {
    size_t r = MIN_ELEMS_PER_CHUNK / (C ? C : 1);
    return r ? r : 1;
}

/* Columns per chunk for a reduction over T rows. */
static size_t cols_per_chunk(size_t T) {
    size_t c = MIN_ELEMS_PER_CHUNK / (T ? T : 1);
    return c ? c : 1;
}

/* ------------------------------------------------------------------------ */
/* activations */

#define SQRT1_2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f
#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_TANH_K 0.044715f
#define QUICK_GELU_K 1.702f

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* d/dx [x Phi(x)] = Phi(x) + x phi(x) */
static inline float gelu_grad(float x) {
    return 0.5f * (1.0f + sbert_erf_as(x * SQRT1_2)) + x * INV_SQRT_2PI * sbert_exp_nonpos(-0.5f * x * x);
}

static inline float act_grad_one(sbert_act act, float x) {
    switch (act) {
    case SBERT_ACT_IDENTITY: return 1.0f;
    case SBERT_ACT_GELU:
        return gelu_grad(x);
    case SBERT_ACT_GELU_TANH: {
        float x2 = x * x;
        float th = tanhf(SQRT_2_OVER_PI * (x + GELU_TANH_K * x2 * x));
        float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_K * x2);
        return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
    }
    case SBERT_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case SBERT_ACT_SILU: {
        float s = sigmoidf_(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case SBERT_ACT_QUICK_GELU: {
        float s = sigmoidf_(QUICK_GELU_K * x);
        return s + QUICK_GELU_K * x * s * (1.0f - s);
    }
    }
    return 1.0f;
}

float sbert_act_grad(sbert_act act, float x) { return act_grad_one(act, x); }

typedef struct {
    float *dpre;
    const float *dout, *pre;
    sbert_act act;
    int overwrite; /* 1: dpre = ..., 0: dpre += ... */
} act_bwd_ctx;

SBERT_BODY void act_bwd_range_body(void *vctx, size_t i0, size_t i1) {
    const act_bwd_ctx *c = vctx;
    if (c->act == SBERT_ACT_GELU) { /* the hot path: vectorizable loops */
        float *dpre = c->dpre;
        const float *dout = c->dout, *pre = c->pre;
        if (c->overwrite)
            for (size_t i = i0; i < i1; i++) dpre[i] = dout[i] * gelu_grad(pre[i]);
        else
            for (size_t i = i0; i < i1; i++) dpre[i] += dout[i] * gelu_grad(pre[i]);
        return;
    }
    if (c->overwrite) {
        for (size_t i = i0; i < i1; i++) c->dpre[i] = c->dout[i] * act_grad_one(c->act, c->pre[i]);
    } else {
        for (size_t i = i0; i < i1; i++) c->dpre[i] += c->dout[i] * act_grad_one(c->act, c->pre[i]);
    }
}
SBERT_AVX512_COPIES(static void, act_bwd_range, (void *vctx, size_t i0, size_t i1), (vctx, i0, i1))

void sbert_act_backward(float *dpre, const float *dout, const float *pre, size_t n, sbert_act act) {
    act_bwd_ctx c = {dpre, dout, pre, act, 0};
    sbert_parallel_for_min(n, MIN_ELEMS_PER_CHUNK, act_bwd_range, &c);
}

/* ------------------------------------------------------------------------ */
/* column reductions: dst[j] += sum_t src[t * ld + j] (+ optional weights) */

typedef struct {
    float *dst;
    const float *src;
    size_t T, ld;
} colsum_ctx;

SBERT_BODY void colsum_range_body(void *vctx, size_t j0, size_t j1) {
    const colsum_ctx *c = vctx;
    double acc[COL_BLOCK];
    for (size_t jb = j0; jb < j1; jb += COL_BLOCK) {
        size_t je = jb + COL_BLOCK < j1 ? jb + COL_BLOCK : j1;
        for (size_t j = jb; j < je; j++) acc[j - jb] = 0.0;
        for (size_t t = 0; t < c->T; t++) {
            const float *r = c->src + t * c->ld;
            for (size_t j = jb; j < je; j++) acc[j - jb] += r[j];
        }
        for (size_t j = jb; j < je; j++) c->dst[j] += (float)acc[j - jb];
    }
}
SBERT_AVX512_COPIES(static void, colsum_range, (void *vctx, size_t j0, size_t j1), (vctx, j0, j1))

/* db[N] += sum over T rows of x[T, N]. */
static void colsum_add(float *db, const float *x, size_t T, size_t N) {
    colsum_ctx c = {db, x, T, N};
    sbert_parallel_for_min(N, cols_per_chunk(T), colsum_range, &c);
}

/* ------------------------------------------------------------------------ */
/* embeddings, linear, residual */

typedef struct {
    float *dtable;
    const int32_t *ids;
    const float *dout;
    size_t T, C;
} emb_bwd_ctx;

SBERT_BODY void emb_bwd_cols_body(void *vctx, size_t j0, size_t j1) {
    const emb_bwd_ctx *c = vctx;
    for (size_t t = 0; t < c->T; t++) {
        float *row = c->dtable + (size_t)c->ids[t] * c->C;
        const float *g = c->dout + t * c->C;
        for (size_t j = j0; j < j1; j++) row[j] += g[j];
    }
}
SBERT_AVX512_COPIES(static void, emb_bwd_cols, (void *vctx, size_t j0, size_t j1), (vctx, j0, j1))

void sbert_embedding_backward(float *dtable, const int32_t *ids, const float *dout, size_t T,
                              size_t C) {
    if (!dtable || T == 0 || C == 0) return;
    emb_bwd_ctx c = {dtable, ids, dout, T, C};
    sbert_parallel_for_min(C, cols_per_chunk(T), emb_bwd_cols, &c);
}

static void linear_backward(float *din, float din_beta, float *dW, float *db, const float *dout,
                            const float *in, const float *W, size_t T, size_t K, size_t N) {
    if (T == 0 || N == 0) return;
    if (din && K)
        /* din[T,K] (+)= dout[T,N] . W[N,K] */
        sbert_sgemm(0, 0, T, K, N, 1.0f, dout, N, W, K, din_beta, din, K);
    if (dW && K)
        /* dW[N,K] += dout[T,N]^T . in[T,K] */
        sbert_sgemm(1, 0, N, K, T, 1.0f, dout, N, in, K, 1.0f, dW, K);
    if (db) colsum_add(db, dout, T, N);
}

void sbert_linear_backward(float *din, float *dW, float *db, const float *dout, const float *in,
                           const float *W, size_t T, size_t K, size_t N) {
    linear_backward(din, 1.0f, dW, db, dout, in, W, T, K, N);
}

void sbert_linear_backward_set(float *din, float *dW, float *db, const float *dout, const float *in,
                               const float *W, size_t T, size_t K, size_t N) {
    linear_backward(din, 0.0f, dW, db, dout, in, W, T, K, N);
}

void sbert_linear_act_backward(float *din, float *dW, float *db, float *dpre_scratch,
                               const float *dout, const float *pre, const float *in,
                               const float *W, size_t T, size_t K, size_t N, sbert_act act) {
    if (T == 0 || N == 0) return;
    act_bwd_ctx c = {dpre_scratch, dout, pre, act, 1};
    sbert_parallel_for_min(T * N, MIN_ELEMS_PER_CHUNK, act_bwd_range, &c);
    sbert_linear_backward(din, dW, db, dpre_scratch, in, W, T, K, N);
}

typedef struct {
    float *da, *db;
    const float *dout;
} add_bwd_ctx;

SBERT_BODY void add_bwd_range_body(void *vctx, size_t i0, size_t i1) {
    const add_bwd_ctx *c = vctx;
    if (c->da)
        for (size_t i = i0; i < i1; i++) c->da[i] += c->dout[i];
    if (c->db)
        for (size_t i = i0; i < i1; i++) c->db[i] += c->dout[i];
}
SBERT_AVX512_COPIES(static void, add_bwd_range, (void *vctx, size_t i0, size_t i1), (vctx, i0, i1))

void sbert_add_backward(float *da, float *db, const float *dout, size_t n) {
    if (!da && !db) return;
    add_bwd_ctx c = {da, db, dout};
    sbert_parallel_for_min(n, MIN_ELEMS_PER_CHUNK, add_bwd_range, &c);
}

/* ------------------------------------------------------------------------ */
/* LayerNorm */

typedef struct {
    float *d1, *d2; /* input gradient(s) to accumulate into (d2 may be NULL) */
    const float *dout, *x, *w, *mean, *rstd;
    size_t C;
    int set;             /* 1: d1, d2 are overwritten instead of accumulated */
    const uint8_t *keep; /* set mode: d1 = keep ? v * ks : 0 (dropout before the sum) */
    float ks;
} ln_bwd_ctx;

/* Eight floats, and eight doubles (GCC vector extensions: element-wise
 * arithmetic, the same bits in every copy, lowered to whatever the target
 * has). */
typedef float ln_v8f __attribute__((vector_size(32), aligned(4)));
typedef double ln_v8d __attribute__((vector_size(64)));

SBERT_BODY void ln_bwd_rows_body(void *vctx, size_t t0, size_t t1) {
    const ln_bwd_ctx *c = vctx;
    const size_t C = c->C;
    const float *w = c->w;
    for (size_t t = t0; t < t1; t++) {
        const float *g = c->dout + t * C, *x = c->x + t * C;
        const float m = c->mean[t], rs = c->rstd[t];
        /* both sums in 8 fixed partial sums (element j in sum j % 8, added in
         * a fixed tree), as the forward's statistics */
        ln_v8d pg = {0}, pgx = {0};
        size_t j = 0;
        for (; j + 8 <= C; j += 8) {
            ln_v8f gv, wv, xv;
            memcpy(&gv, g + j, sizeof gv);
            memcpy(&wv, w + j, sizeof wv);
            memcpy(&xv, x + j, sizeof xv);
            ln_v8d gw = __builtin_convertvector(gv, ln_v8d) * __builtin_convertvector(wv, ln_v8d);
            pg += gw;
            pgx += gw * __builtin_convertvector((xv - m) * rs, ln_v8d);
        }
        for (int l = 0; j < C; j++, l++) {
            double gw = (double)g[j] * w[j];
            pg[l] += gw;
            pgx[l] += gw * (double)((x[j] - m) * rs);
        }
        const double sg = ((pg[0] + pg[1]) + (pg[2] + pg[3])) + ((pg[4] + pg[5]) + (pg[6] + pg[7]));
        const double sgx = ((pgx[0] + pgx[1]) + (pgx[2] + pgx[3])) + ((pgx[4] + pgx[5]) + (pgx[6] + pgx[7]));
        const float mg = (float)(sg / (double)C), mgx = (float)(sgx / (double)C);
        float *o1 = c->d1 ? c->d1 + t * C : NULL, *o2 = c->d2 ? c->d2 + t * C : NULL;
        /* v[j] = rs * (g w - mg - xhat mgx); one loop per case, so that each
         * vectorizes (no per-element branches) */
#define LN_V(j) (rs * (g[j] * w[j] - mg - ((x[j] - m) * rs) * mgx))
        if (c->set) {
            /* the same v as below, stored (the dropout mask as sbert_dropout_apply applies it) */
            const uint8_t *kp = c->keep ? c->keep + t * C : NULL;
            const float ks = c->ks;
            if (o1 && kp)
                for (j = 0; j < C; j++) {
                    float v = LN_V(j), r = v * ks;
                    o1[j] = kp[j] ? r : 0.0f;
                }
            else if (o1)
                for (j = 0; j < C; j++) o1[j] = LN_V(j);
            if (o2)
                for (j = 0; j < C; j++) o2[j] = LN_V(j);
            continue;
        }
        if (o1)
            for (j = 0; j < C; j++) o1[j] += LN_V(j);
        if (o2)
            for (j = 0; j < C; j++) o2[j] += LN_V(j);
#undef LN_V
    }
}
SBERT_AVX512_COPIES(static void, ln_bwd_rows, (void *vctx, size_t t0, size_t t1), (vctx, t0, t1))

typedef struct {
    float *dw, *db;
    const float *dout, *x, *mean, *rstd;
    size_t T, C;
} ln_param_ctx;

SBERT_BODY void ln_param_cols_body(void *vctx, size_t j0, size_t j1) {
    const ln_param_ctx *c = vctx;
    double aw[COL_BLOCK], ab[COL_BLOCK];
    for (size_t jb = j0; jb < j1; jb += COL_BLOCK) {
        size_t je = jb + COL_BLOCK < j1 ? jb + COL_BLOCK : j1;
        for (size_t j = jb; j < je; j++) aw[j - jb] = ab[j - jb] = 0.0;
        for (size_t t = 0; t < c->T; t++) {
            const float *g = c->dout + t * c->C, *x = c->x + t * c->C;
            const float m = c->mean[t], rs = c->rstd[t];
            for (size_t j = jb; j < je; j++) {
                aw[j - jb] += (double)g[j] * (double)((x[j] - m) * rs);
                ab[j - jb] += g[j];
            }
        }
        for (size_t j = jb; j < je; j++) {
            if (c->dw) c->dw[j] += (float)aw[j - jb];
            if (c->db) c->db[j] += (float)ab[j - jb];
        }
    }
}
SBERT_AVX512_COPIES(static void, ln_param_cols, (void *vctx, size_t j0, size_t j1), (vctx, j0, j1))

static void ln_backward(float *d1, float *d2, float *dw, float *db, const float *dout,
                        const float *x, const float *w, const float *mean, const float *rstd,
                        size_t T, size_t C, int set, const uint8_t *keep, float ks) {
    if (T == 0 || C == 0) return;
    if (d1 || d2) {
        ln_bwd_ctx c = {d1, d2, dout, x, w, mean, rstd, C, set, keep, ks};
        sbert_parallel_for_min(T, rows_per_chunk(C), ln_bwd_rows, &c);
    }
    if (dw || db) {
        ln_param_ctx c = {dw, db, dout, x, mean, rstd, T, C};
        sbert_parallel_for_min(C, cols_per_chunk(T), ln_param_cols, &c);
    }
}

void sbert_layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                              const float *w, const float *mean, const float *rstd, size_t T,
                              size_t C) {
    ln_backward(din, NULL, dw, db, dout, in, w, mean, rstd, T, C, 0, NULL, 1.0f);
}

void sbert_add_layernorm_backward(float *da, float *dr, float *dw, float *db, const float *dout,
                                  const float *sum, const float *w, const float *mean,
                                  const float *rstd, size_t T, size_t C) {
    ln_backward(da, dr, dw, db, dout, sum, w, mean, rstd, T, C, 0, NULL, 1.0f);
}

void sbert_add_layernorm_backward_set(float *da, const uint8_t *keep_a, float keep_scale, float *dr,
                                      float *dw, float *db, const float *dout, const float *sum,
                                      const float *w, const float *mean, const float *rstd, size_t T,
                                      size_t C) {
    ln_backward(da, dr, dw, db, dout, sum, w, mean, rstd, T, C, 1, keep_a, keep_scale);
}

/* ------------------------------------------------------------------------ */
/* softmax */

typedef struct {
    float *din;
    const float *dout, *out;
    size_t C;
} sm_bwd_ctx;

static void sm_bwd_rows(void *vctx, size_t r0, size_t r1) {
    const sm_bwd_ctx *c = vctx;
    const size_t C = c->C;
    for (size_t r = r0; r < r1; r++) {
        const float *g = c->dout + r * C, *y = c->out + r * C;
        float *d = c->din + r * C;
        double dot = 0.0;
        for (size_t j = 0; j < C; j++) dot += (double)g[j] * y[j];
        const float fd = (float)dot;
        for (size_t j = 0; j < C; j++) d[j] += y[j] * (g[j] - fd);
    }
}

void sbert_softmax_backward(float *din, const float *dout, const float *out, size_t R, size_t C) {
    if (!din || R == 0 || C == 0) return;
    sm_bwd_ctx c = {din, dout, out, C};
    sbert_parallel_for_min(R, rows_per_chunk(C), sm_bwd_rows, &c);
}
