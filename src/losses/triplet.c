/*
 * losses/triplet.c -- TripletLoss (sentence-transformers):
 *   d+_i = D(anchor_i, positive_i),  d-_i = D(anchor_i, negative_i)
 *   loss = mean_i relu(d+_i - d-_i + triplet_margin)
 * with the distance metric D one of TripletDistanceMetric's (v6, through
 * sentence_transformers.util):
 *   EUCLIDEAN  -pairwise_euclidean_sim = ||x - y||_2
 *   MANHATTAN  -pairwise_manhattan_sim = ||x - y||_1
 *   COSINE     1 - pairwise_cos_sim: the rows normalized as F.normalize
 *              (norm clamped at eps = 1e-12), then their dot product
 * The gradient follows torch: relu'(0) = 0, |x|'(0) = 0, and a zero
 * Euclidean distance passes no gradient (vector_norm's subgradient).
 */
#include <math.h>
#include <stdlib.h>

#include "base/error.h"
#include "losses/losses.h"

#define NORMALIZE_EPS 1e-12

/* D(x, y) and, when gx/gy are given, g * dD/dx and g * dD/dy added to them. */
static double distance(const float *x, const float *y, size_t dim, sbert_triplet_metric metric, double g,
                       float *gx, float *gy) {
    if (metric == SBERT_TRIPLET_COSINE) {
        double xx = 0, yy = 0, xy = 0;
        for (size_t k = 0; k < dim; k++) {
            xx += (double)x[k] * x[k];
            yy += (double)y[k] * y[k];
            xy += (double)x[k] * y[k];
        }
        double nx = fmax(sqrt(xx), NORMALIZE_EPS), ny = fmax(sqrt(yy), NORMALIZE_EPS);
        double cs = xy / (nx * ny);
        if (gx && g != 0) {
            /* D = 1 - cos: dD/dx = -(y / (nx ny) - cos x / nx^2) */
            for (size_t k = 0; k < dim; k++) {
                gx[k] += (float)(-g * (y[k] / (nx * ny) - cs * x[k] / (nx * nx)));
                gy[k] += (float)(-g * (x[k] / (nx * ny) - cs * y[k] / (ny * ny)));
            }
        }
        return 1.0 - cs;
    }
    double s = 0;
    for (size_t k = 0; k < dim; k++) {
        double d = (double)x[k] - y[k];
        s += metric == SBERT_TRIPLET_EUCLIDEAN ? d * d : fabs(d);
    }
    double D = metric == SBERT_TRIPLET_EUCLIDEAN ? sqrt(s) : s;
    if (gx && g != 0) {
        for (size_t k = 0; k < dim; k++) {
            double d = (double)x[k] - y[k];
            double dd = metric == SBERT_TRIPLET_EUCLIDEAN ? (D > 0 ? d / D : 0.0) : (d > 0) - (d < 0);
            gx[k] += (float)(g * dd);
            gy[k] -= (float)(g * dd);
        }
    }
    return D;
}

sbert_status sbert_loss_triplet(const float *a, const float *p, const float *n, size_t B, size_t dim,
                                sbert_triplet_metric metric, double margin, float *ga, float *gp, float *gn,
                                double *loss) {
    if (B == 0 || dim == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "TripletLoss: empty batch");
    int grads = ga && gp && gn;
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        const float *ai = a + i * dim, *pi = p + i * dim, *ni = n + i * dim;
        double l = distance(ai, pi, dim, metric, 0, NULL, NULL) - distance(ai, ni, dim, metric, 0, NULL, NULL) + margin;
        if (l > 0) {
            L += l;
            if (grads) {
                double g = 1.0 / (double)B;
                distance(ai, pi, dim, metric, g, ga + i * dim, gp + i * dim);
                distance(ai, ni, dim, metric, -g, ga + i * dim, gn + i * dim);
            }
        }
    }
    *loss = L / (double)B;
    return SBERT_OK;
}
