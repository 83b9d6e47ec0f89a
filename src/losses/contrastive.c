/*
 * losses/contrastive.c -- in-batch-negatives ranking losses:
 * MultipleNegativesRankingLoss and MultipleNegativesSymmetricRankingLoss.
 *
 * Forward and backward are computed together. With cosine similarity the
 * embeddings are first L2-normalized (F.normalize, eps 1e-12) and the
 * gradient is carried back through that normalization:
 *   y = x / n, n = max(||x||, eps)
 *   dx = (g - y (y.g)) / n   when ||x|| > eps,   dx = g / eps otherwise.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/threads.h"
#include "kernels/cpu_ops.h"
#include "losses/losses.h"

/* Row i of a column set viewed as one [(n_cols-first)*B, dim] matrix. */
typedef struct {
    const double *base; /* [rows, dim] */
    size_t rows;
} dmat;

void sbert_l2_normalize_rows(const float *x, float *y, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        double ss = 0;
        for (size_t k = 0; k < dim; k++) ss += (double)x[i * dim + k] * x[i * dim + k];
        double nrm = sqrt(ss);
        if (nrm < 1e-12) nrm = 1e-12;
        for (size_t k = 0; k < dim; k++) y[i * dim + k] = (float)(x[i * dim + k] / nrm);
    }
}

/* Copy rows into double, normalizing when `cosine`; norms[r] gets max(||x||, eps). */
static void load_rows(const float *x, size_t rows, size_t dim, int cosine, double *out,
                      double *norms) {
    for (size_t r = 0; r < rows; r++) {
        double ss = 0;
        for (size_t k = 0; k < dim; k++) ss += (double)x[r * dim + k] * x[r * dim + k];
        double nrm = cosine ? sqrt(ss) : 1.0;
        if (cosine && nrm < 1e-12) nrm = 1e-12;
        norms[r] = nrm;
        for (size_t k = 0; k < dim; k++) out[r * dim + k] = x[r * dim + k] / nrm;
    }
}

/* Accumulate the gradient w.r.t. the raw rows given dL/dy for y = x/n (or y = x). */
static void backprop_rows(const double *y, const double *norms, const double *gy, size_t rows,
                          size_t dim, int cosine, float *gx) {
    for (size_t r = 0; r < rows; r++) {
        const double *yr = y + r * dim, *gr = gy + r * dim;
        if (!cosine) {
            for (size_t k = 0; k < dim; k++) gx[r * dim + k] += (float)gr[k];
            continue;
        }
        double n = norms[r];
        if (n <= 1e-12) { /* below eps: y = x / eps, a linear map */
            for (size_t k = 0; k < dim; k++) gx[r * dim + k] += (float)(gr[k] / 1e-12);
            continue;
        }
        double yg = 0;
        for (size_t k = 0; k < dim; k++) yg += yr[k] * gr[k];
        for (size_t k = 0; k < dim; k++) gx[r * dim + k] += (float)((gr[k] - yr[k] * yg) / n);
    }
}

typedef struct {
    const double *S;
    size_t R, C;
    const size_t *target;
    double weight, *dS, *row_loss;
} softmax_ce_ctx;

static void softmax_ce_rows(void *vctx, size_t r0, size_t r1) {
    const softmax_ce_ctx *c = vctx;
    const size_t C = c->C;
    for (size_t r = r0; r < r1; r++) {
        const double *s = c->S + r * C;
        double mx = -INFINITY;
        for (size_t j = 0; j < C; j++) if (s[j] > mx) mx = s[j];
        double z = 0;
        for (size_t j = 0; j < C; j++) z += exp(s[j] - mx);
        double lse = mx + log(z);
        c->row_loss[r] = lse - s[c->target[r]];
        if (c->dS) {
            double *d = c->dS + r * C;
            for (size_t j = 0; j < C; j++) d[j] = exp(s[j] - lse) * c->weight / (double)c->R;
            d[c->target[r]] -= c->weight / (double)c->R;
        }
    }
}

/* Softmax cross-entropy of rows of S [R, C] with targets target[r]; returns
 * the mean loss and writes dS = (softmax - onehot) * weight / R into dS.
 * Rows run over the thread pool; the row losses are added in row order.
 * row_loss: [R] scratch. */
static double softmax_ce(const double *S, size_t R, size_t C, const size_t *target, double weight,
                         double *dS, double *row_loss) {
    softmax_ce_ctx c = {S, R, C, target, weight, dS, row_loss};
    size_t min_rows = 4096 / (C ? C : 1);
    sbert_parallel_for_min(R, min_rows ? min_rows : 1, softmax_ce_rows, &c);
    double total = 0;
    for (size_t r = 0; r < R; r++) total += row_loss[r];
    return total / (double)R;
}

/* S[i,j] = scale * a_i . b_j for a [R, dim], b [C, dim]  (S = scale * a b^T). */
static void sim_matrix(const double *a, size_t R, const double *b, size_t C, size_t dim,
                       double scale, double *S) {
    sbert_dgemm(0, 1, R, C, dim, scale, a, dim, b, dim, 0.0, S, C);
}

/* ga [R, dim] += scale * dS @ b ;  gb [C, dim] += scale * dS^T @ a */
static void sim_backward(const double *a, size_t R, const double *b, size_t C, size_t dim,
                         double scale, const double *dS, double *ga, double *gb) {
    sbert_dgemm(0, 0, R, dim, C, scale, dS, C, b, dim, 1.0, ga, dim);
    sbert_dgemm(1, 0, C, dim, R, scale, dS, C, a, dim, 1.0, gb, dim);
}

static sbert_status mnrl_impl(const float *const *cols, size_t n_cols, size_t B, size_t dim,
                              double scale, sbert_sim_fn sim, float *const *grads, double *loss,
                              int symmetric) {
    if (n_cols < 2)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "MultipleNegativesRankingLoss needs at least 2 columns "
                          "(anchor, positive[, negatives...]), got %zu", n_cols);
    if (B == 0 || dim == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "MultipleNegativesRankingLoss: empty batch");
    int cosine = sim == SBERT_SIM_COSINE;
    size_t M = (n_cols - 1) * B;
    double *q = malloc(B * dim * sizeof *q), *qn = malloc(B * sizeof *qn);
    double *d = malloc(M * dim * sizeof *d), *dn = malloc(M * sizeof *dn);
    double *S = calloc(B * M, sizeof *S), *dS = calloc(B * M, sizeof *dS);
    double *gq = calloc(B * dim, sizeof *gq), *gd = calloc(M * dim, sizeof *gd);
    size_t *target = calloc(B, sizeof *target);
    double *row_loss = malloc(B * sizeof *row_loss);
    sbert_status st = SBERT_OK;
    if (!q || !qn || !d || !dn || !S || !dS || !gq || !gd || !target || !row_loss) {
        st = sbert_fail(SBERT_ERR_NOMEM, "MultipleNegativesRankingLoss: out of memory (B=%zu)", B);
        goto done;
    }
    load_rows(cols[0], B, dim, cosine, q, qn);
    for (size_t c = 1; c < n_cols; c++)
        load_rows(cols[c], B, dim, cosine, d + (c - 1) * B * dim, dn + (c - 1) * B);
    for (size_t i = 0; i < B; i++) target[i] = i;

    double w = symmetric ? 0.5 : 1.0;
    sim_matrix(q, B, d, M, dim, scale, S);
    double L = softmax_ce(S, B, M, target, w, grads ? dS : NULL, row_loss);
    if (grads) sim_backward(q, B, d, M, dim, scale, dS, gq, gd);
    if (symmetric) {
        /* doc_to_query over the positives only: S2[i,j] = scale * sim(pos_i, q_j). */
        sim_matrix(d, B, q, B, dim, scale, S);
        L = 0.5 * L + 0.5 * softmax_ce(S, B, B, target, w, grads ? dS : NULL, row_loss);
        if (grads) sim_backward(d, B, q, B, dim, scale, dS, gd, gq);
    }
    *loss = L;
    if (grads) {
        backprop_rows(q, qn, gq, B, dim, cosine, grads[0]);
        for (size_t c = 1; c < n_cols; c++)
            backprop_rows(d + (c - 1) * B * dim, dn + (c - 1) * B, gd + (c - 1) * B * dim, B, dim,
                          cosine, grads[c]);
    }
done:
    free(q); free(qn); free(d); free(dn); free(S); free(dS); free(gq); free(gd); free(target);
    free(row_loss);
    return st;
}

sbert_status sbert_loss_mnrl(const float *const *cols, size_t n_cols, size_t B, size_t dim,
                             double scale, sbert_sim_fn sim, float *const *grads, double *loss) {
    return mnrl_impl(cols, n_cols, B, dim, scale, sim, grads, loss, 0);
}

sbert_status sbert_loss_mnrl_symmetric(const float *const *cols, size_t n_cols, size_t B,
                                       size_t dim, double scale, sbert_sim_fn sim,
                                       float *const *grads, double *loss) {
    return mnrl_impl(cols, n_cols, B, dim, scale, sim, grads, loss, 1);
}
