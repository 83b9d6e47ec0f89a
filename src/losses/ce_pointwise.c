/*
 * losses/ce_pointwise.c -- the CrossEncoder losses that score each pair on
 * its own or a row's candidates against each other (see ce_losses.h):
 * BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss, MarginMSELoss and
 * MultipleNegativesRankingLoss (the CE version, shared by its Cached
 * variant). Forward and gradient in one pass, in double precision.
 */
#include <math.h>
#include <stdlib.h>

#include "base/error.h"
#include "losses/ce_losses.h"

/* log(1 + exp(x)) without overflow. */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

sbert_status sbert_ce_loss_bce(const float *x, const float *y, size_t n, double pos_weight, float *g, double *loss) {
    if (n == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "BinaryCrossEntropyLoss: empty batch");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double xi = x[i], yi = y[i];
        sum += pos_weight * yi * softplus(-xi) + (1.0 - yi) * softplus(xi);
        if (g) g[i] += (float)((sigmoid(xi) * (pos_weight * yi + 1.0 - yi) - pos_weight * yi) / (double)n);
    }
    *loss = sum / (double)n;
    return SBERT_OK;
}

sbert_status sbert_ce_loss_cross_entropy(const float *x, const float *cls, size_t n, size_t C, float *g,
                                         double *loss) {
    if (n == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "CrossEntropyLoss: empty batch");
    for (size_t i = 0; i < n; i++)
        if (!(cls[i] >= 0 && cls[i] < (float)C && cls[i] == floorf(cls[i])))
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "CrossEntropyLoss: row %zu has label %g; labels must be class ids 0..%zu (num_labels %zu)",
                              i, (double)cls[i], C - 1, C);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * C;
        double mx = -INFINITY, s = 0;
        for (size_t j = 0; j < C; j++) mx = r[j] > mx ? r[j] : mx;
        for (size_t j = 0; j < C; j++) s += exp(r[j] - mx);
        double lse = mx + log(s);
        size_t c = (size_t)cls[i];
        sum += lse - r[c];
        if (g)
            for (size_t j = 0; j < C; j++) g[i * C + j] += (float)((exp(r[j] - lse) - (j == c)) / (double)n);
    }
    *loss = sum / (double)n;
    return SBERT_OK;
}

sbert_status sbert_ce_loss_mse(const float *x, const float *y, size_t n, float *g, double *loss) {
    if (n == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "MSELoss: empty batch");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - y[i];
        sum += d * d;
        if (g) g[i] += (float)(2.0 * d / (double)n);
    }
    *loss = sum / (double)n;
    return SBERT_OK;
}

sbert_status sbert_ce_loss_margin_mse(const float *S, const float *margins, size_t B, size_t m, float *g,
                                      double *loss) {
    if (B == 0 || m == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "MarginMSELoss: empty batch");
    const size_t K = m + 1;
    const double N = (double)(B * m);
    double sum = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t k = 0; k < m; k++) {
            double d = ((double)S[i * K] - S[i * K + 1 + k]) - margins[i * m + k];
            sum += d * d;
            if (g) {
                g[i * K] += (float)(2.0 * d / N);
                g[i * K + 1 + k] -= (float)(2.0 * d / N);
            }
        }
    *loss = sum / N;
    return SBERT_OK;
}

sbert_status sbert_ce_loss_mnrl(const float *S, size_t B, size_t K, double scale, sbert_ce_loss_act act, float *g,
                                double *loss) {
    if (B == 0 || K == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "MultipleNegativesRankingLoss: empty batch");
    double *z = malloc(K * sizeof *z), *dz = malloc(K * sizeof *dz);
    if (!z || !dz) {
        free(z);
        free(dz);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory (MultipleNegativesRankingLoss)");
    }
    const double sc = scale != 0 ? scale : 1.0; /* Python: `if self.scale:` */
    double sum = 0;
    for (size_t i = 0; i < B; i++) {
        const float *r = S + i * K;
        double mx = -INFINITY, s = 0;
        for (size_t j = 0; j < K; j++) {
            double a = act == SBERT_CE_LOSS_ACT_SIGMOID ? sigmoid(r[j]) : (double)r[j];
            z[j] = sc * a;
            mx = z[j] > mx ? z[j] : mx;
        }
        for (size_t j = 0; j < K; j++) s += exp(z[j] - mx);
        double lse = mx + log(s);
        sum += lse - z[0];
        if (!g) continue;
        for (size_t j = 0; j < K; j++) {
            dz[j] = (exp(z[j] - lse) - (j == 0)) / (double)B * sc;
            if (act == SBERT_CE_LOSS_ACT_SIGMOID) {
                double sg = sigmoid(r[j]);
                dz[j] *= sg * (1.0 - sg);
            }
            g[i * K + j] += (float)dz[j];
        }
    }
    free(z);
    free(dz);
    *loss = sum / (double)B;
    return SBERT_OK;
}
