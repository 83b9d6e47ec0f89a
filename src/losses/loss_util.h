/*
 * losses/loss_util.h -- small double-precision helpers shared by the loss
 * files: rows read and normalized as F.normalize does (x / max(||x||, eps)),
 * the gradient carried back through that normalization, softmax
 * cross-entropy over one row, and the allocation pattern of the losses.
 * Internal to src/losses/.
 */
#ifndef SBERT_LOSSES_LOSS_UTIL_H
#define SBERT_LOSSES_LOSS_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "losses/loss.h"

/* F.normalize's eps and torch.cosine_similarity's. */
#define LU_NORMALIZE_EPS 1e-12
#define LU_COSINE_EPS 1e-8

/* y [n, dim] = x / max(||x||, eps) in double (eps <= 0: y = x, norm 1);
 * norm [n] receives max(||x||, eps). */
static inline void lu_normalize(const float *x, size_t n, size_t dim, size_t stride, double eps, double *y,
                                double *norm) {
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * stride;
        double ss = 0;
        for (size_t k = 0; k < dim; k++) ss += (double)xi[k] * xi[k];
        double nr = eps > 0 ? fmax(sqrt(ss), eps) : 1.0;
        if (norm) norm[i] = nr;
        for (size_t k = 0; k < dim; k++) y[i * dim + k] = xi[k] / nr;
    }
}

/* gx [n, stride] += d/dx of the normalization given gy = dL/dy for
 * y = x / max(||x||, eps): (gy - y (y . gy)) / ||x|| above eps, gy / eps
 * below it (a linear map there). eps <= 0: gx += gy. */
static inline void lu_normalize_backward(const double *y, const double *norm, const double *gy, size_t n,
                                         size_t dim, size_t stride, double eps, float *gx) {
    for (size_t i = 0; i < n; i++) {
        const double *yi = y + i * dim, *gi = gy + i * dim;
        float *o = gx + i * stride;
        if (eps <= 0) {
            for (size_t k = 0; k < dim; k++) o[k] += (float)gi[k];
            continue;
        }
        double nr = norm[i];
        if (nr <= eps) {
            for (size_t k = 0; k < dim; k++) o[k] += (float)(gi[k] / eps);
            continue;
        }
        double yg = 0;
        for (size_t k = 0; k < dim; k++) yg += yi[k] * gi[k];
        for (size_t k = 0; k < dim; k++) o[k] += (float)((gi[k] - yi[k] * yg) / nr);
    }
}

static inline double lu_dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

/* Softmax cross-entropy of one row of logits s [C] (entries -INFINITY are
 * masked out) with target t: returns lse - s[t]; when ds is not NULL,
 * ds[j] += w * (softmax_j - [j == t]). */
static inline double lu_ce_row(const double *s, size_t C, size_t t, double w, double *ds) {
    double mx = -INFINITY;
    for (size_t j = 0; j < C; j++)
        if (s[j] > mx) mx = s[j];
    double z = 0;
    for (size_t j = 0; j < C; j++)
        if (s[j] != -INFINITY) z += exp(s[j] - mx);
    double lse = mx + log(z);
    if (ds) {
        for (size_t j = 0; j < C; j++)
            if (s[j] != -INFINITY) ds[j] += w * exp(s[j] - lse);
        ds[t] -= w;
    }
    return lse - s[t];
}

/* calloc'd doubles; NULL sets the out-of-memory message naming `who`. */
static inline double *lu_dalloc(size_t n, const char *who) {
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory (%zu values)", who, n);
    return p;
}

/* The number of parameter i as given (NAN when unset). */
#define LU_P(b, i) ((b)->v->num[(i)])

#endif
