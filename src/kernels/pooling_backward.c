/*
 * kernels/pooling_backward.c -- backward of the sentence-level modules:
 * Pooling (all modes), Dense and Normalize (contracts in pooling_backward.h).
 *
 * These run on n_seq sentence rows, not on all tokens, so they are plain
 * serial loops (the Dense products use cblas_sgemm). The edge cases follow the
 * forwards exactly: a sequence whose pooled tokens are all masked
 * (include_prompt = false and len <= prompt_length) passes gradient only
 * through cls, as Python does.
 *
 * The Dense products call cblas directly. (modules/dense.h's activation enum
 * is SBERT_DENSE_ACT_*, so it no longer clashes with kernels/cpu_ops.h.)
 */
#include "kernels/pooling_backward.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* ------------------------------------------------------------------------ */
/* Pooling */

/* One sequence: dt [len, dim] (+=), tok [len, dim], g [n_modes * dim]. */
static void pool_one_backward(const sbert_pooling *p, float *dt, const float *g, const float *tok,
                              size_t len, size_t lo) {
    const size_t dim = p->dim;
    const size_t n_valid = lo < len ? len - lo : 0;
    for (size_t mi = 0; mi < p->n_modes; mi++) {
        const float *go = g + mi * dim;
        switch (p->modes[mi]) {
        case SBERT_POOL_CLS: {
            if (len == 0) break;
            size_t idx = n_valid ? lo : 0;
            float *r = dt + idx * dim;
            for (size_t d = 0; d < dim; d++) r[d] += go[d];
            break;
        }
        case SBERT_POOL_MAX:
            if (!n_valid) break;
            for (size_t d = 0; d < dim; d++) {
                /* first maximum, as torch.max(dim) returns */
                size_t best = lo;
                float bv = tok[lo * dim + d];
                for (size_t t = lo + 1; t < len; t++) {
                    float v = tok[t * dim + d];
                    if (v > bv) {
                        bv = v;
                        best = t;
                    }
                }
                dt[best * dim + d] += go[d];
            }
            break;
        case SBERT_POOL_MEAN:
        case SBERT_POOL_MEAN_SQRT_LEN: {
            if (!n_valid) break;
            /* the forward divides by float(count) or sqrtf(float(count)) */
            float den = p->modes[mi] == SBERT_POOL_MEAN ? (float)n_valid : sqrtf((float)n_valid);
            for (size_t t = lo; t < len; t++) {
                float *r = dt + t * dim;
                for (size_t d = 0; d < dim; d++) r[d] += go[d] / den;
            }
            break;
        }
        case SBERT_POOL_WEIGHTEDMEAN: {
            if (!n_valid) break;
            double wsum = 0.0;
            for (size_t t = lo; t < len; t++) wsum += (double)(t + 1);
            float den = (float)wsum;
            for (size_t t = lo; t < len; t++) {
                float w = (float)(t + 1);
                float *r = dt + t * dim;
                for (size_t d = 0; d < dim; d++) r[d] += go[d] * w / den;
            }
            break;
        }
        case SBERT_POOL_LASTTOKEN:
            if (n_valid) {
                float *r = dt + (len - 1) * dim;
                for (size_t d = 0; d < dim; d++) r[d] += go[d];
            }
            break;
        default: break;
        }
    }
}

void sbert_pooling_backward(const sbert_pooling *p, float *dtok, const float *dout,
                            const float *tok, const size_t *seq_offsets, size_t n_seq,
                            size_t prompt_length) {
    const size_t lo = p->include_prompt ? 0 : prompt_length;
    const size_t odim = sbert_pooling_output_dim(p);
    for (size_t i = 0; i < n_seq; i++) {
        size_t b = seq_offsets[i], e = seq_offsets[i + 1];
        pool_one_backward(p, dtok + b * p->dim, dout + i * odim, tok + b * p->dim, e - b, lo);
    }
}

/* ------------------------------------------------------------------------ */
/* Dense */

float sbert_activation_grad(sbert_activation a, float x) {
    switch (a) {
    case SBERT_DENSE_ACT_IDENTITY: return 1.0f;
    case SBERT_DENSE_ACT_TANH: {
        float t = tanhf(x);
        return 1.0f - t * t;
    }
    case SBERT_DENSE_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case SBERT_DENSE_ACT_SIGMOID: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f - s);
    }
    case SBERT_DENSE_ACT_GELU:
        return 0.5f * (1.0f + erff(x * 0.70710678118654752440f)) +
               x * 0.39894228040143267794f * expf(-0.5f * x * x);
    case SBERT_DENSE_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    case SBERT_DENSE_ACT_LEAKY_RELU: return x > 0.0f ? 1.0f : 0.01f;
    case SBERT_DENSE_ACT_ELU: return x > 0.0f ? 1.0f : expf(x);
    }
    return 1.0f;
}

sbert_status sbert_dense_backward(float *dx, float *dW, float *db, float *dR, const float *dy,
                                  const float *x, const float *W, const float *b, const float *R,
                                  int use_residual, sbert_activation act, size_t n, size_t in,
                                  size_t out) {
    if (n == 0 || out == 0) return SBERT_OK;
    if (use_residual && !R && in != out)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "dense backward: an identity residual needs in_features == out_features "
                          "(%zu != %zu)",
                          in, out);
    float *dpre = malloc(n * out * sizeof(float));
    if (!dpre) return sbert_fail(SBERT_ERR_NOMEM, "dense backward: out of memory");
    /* pre[n, out] = x . W^T + b, recomputed exactly as the forward does */
    if (b)
        for (size_t i = 0; i < n; i++) memcpy(dpre + i * out, b, out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x,
                (int)in, W, (int)in, b ? 1.0f : 0.0f, dpre, (int)out);
    for (size_t i = 0; i < n * out; i++) dpre[i] = dy[i] * sbert_activation_grad(act, dpre[i]);
    if (dx)
        /* dx[n, in] += dpre[n, out] . W[out, in] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0f,
                    dpre, (int)out, W, (int)in, 1.0f, dx, (int)in);
    if (dW)
        /* dW[out, in] += dpre^T . x */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0f, dpre,
                    (int)out, x, (int)in, 1.0f, dW, (int)in);
    if (db) {
        for (size_t j = 0; j < out; j++) {
            double s = 0.0;
            for (size_t i = 0; i < n; i++) s += dpre[i * out + j];
            db[j] += (float)s;
        }
    }
    free(dpre);
    if (use_residual) {
        if (R) {
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out,
                            1.0f, dy, (int)out, R, (int)in, 1.0f, dx, (int)in);
            if (dR)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n,
                            1.0f, dy, (int)out, x, (int)in, 1.0f, dR, (int)in);
        } else if (dx) {
            for (size_t i = 0; i < n * in; i++) dx[i] += dy[i];
        }
    }
    return SBERT_OK;
}

/* ------------------------------------------------------------------------ */
/* Normalize */

void sbert_normalize_backward(float *dx, const float *dy, const float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * dim, *g = dy + i * dim;
        float *o = dx + i * dim;
        double ss = 0.0;
        for (size_t d = 0; d < dim; d++) ss += (double)xr[d] * xr[d];
        /* same rounding as the forward: the norm is a float */
        float norm = (float)sqrt(ss);
        if (norm < 1e-12f) {
            for (size_t d = 0; d < dim; d++) o[d] += g[d] / 1e-12f;
            continue;
        }
        /* y . dy with y = x / norm */
        double yg = 0.0;
        for (size_t d = 0; d < dim; d++) yg += (double)(xr[d] / norm) * g[d];
        const float fyg = (float)yg;
        for (size_t d = 0; d < dim; d++) o[d] += (g[d] - (xr[d] / norm) * fyg) / norm;
    }
}
