/*
 * losses/cosent.c -- CoSENTLoss (the sentence-transformers default loss for
 * scored pairs):
 *   s_i = scale * cos(u_i, v_i)
 *   loss = log(1 + sum_{(i,j): label_i < label_j} exp(s_i - s_j))
 * computed as a stable logsumexp over {0} and the admissible differences.
 * The gradient w.r.t. s is w_ij = exp(s_i - s_j - loss) for admissible pairs:
 *   dL/ds_i = sum_j w_ij - sum_j w_ji
 * and is carried back through the row normalization of u and v.
 */
#include <math.h>
#include <stdlib.h>

#include "base/error.h"
#include "losses/losses.h"

sbert_status sbert_loss_cosent(const float *u, const float *v, const float *labels, size_t B,
                               size_t dim, double scale, float *gu, float *gv, double *loss) {
    if (B == 0 || dim == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "CoSENTLoss: empty batch");
    double *s = malloc(B * sizeof *s), *nu = malloc(B * sizeof *nu), *nv = malloc(B * sizeof *nv);
    double *cs = malloc(B * sizeof *cs), *ds = calloc(B, sizeof *ds);
    if (!s || !nu || !nv || !cs || !ds) {
        free(s); free(nu); free(nv); free(cs); free(ds);
        return sbert_fail(SBERT_ERR_NOMEM, "CoSENTLoss: out of memory (B=%zu)", B);
    }
    for (size_t i = 0; i < B; i++) {
        double uu = 0, vv = 0, uv = 0;
        for (size_t k = 0; k < dim; k++) {
            double a = u[i * dim + k], b = v[i * dim + k];
            uu += a * a; vv += b * b; uv += a * b;
        }
        nu[i] = fmax(sqrt(uu), 1e-12);
        nv[i] = fmax(sqrt(vv), 1e-12);
        cs[i] = uv / (nu[i] * nv[i]);
        s[i] = scale * cs[i];
    }
    /* logsumexp over {0} U {s_i - s_j : label_i < label_j} */
    double mx = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (labels[i] < labels[j] && s[i] - s[j] > mx) mx = s[i] - s[j];
    double z = exp(-mx);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (labels[i] < labels[j]) z += exp(s[i] - s[j] - mx);
    double L = mx + log(z);
    *loss = L;
    if (gu || gv) {
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++)
                if (labels[i] < labels[j]) {
                    double w = exp(s[i] - s[j] - L);
                    ds[i] += w;
                    ds[j] -= w;
                }
        for (size_t i = 0; i < B; i++) {
            /* dcos/du = v/(|u||v|) - cos * u/|u|^2 (and symmetrically for v). */
            double g = ds[i] * scale;
            for (size_t k = 0; k < dim; k++) {
                double a = u[i * dim + k], b = v[i * dim + k];
                if (gu) gu[i * dim + k] += (float)(g * (b / (nu[i] * nv[i]) - cs[i] * a / (nu[i] * nu[i])));
                if (gv) gv[i * dim + k] += (float)(g * (a / (nu[i] * nv[i]) - cs[i] * b / (nv[i] * nv[i])));
            }
        }
    }
    free(s); free(nu); free(nv); free(cs); free(ds);
    return SBERT_OK;
}
