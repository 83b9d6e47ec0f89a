/*
 * losses/gor.c -- GlobalOrthogonalRegularizationLoss (sentence-transformers
 * v5.3+): pushes the embeddings of a batch to spread over the sphere. Per
 * text column e [B, D]:
 *   S = sim(e, e) with the diagonal set to 0        (cos_sim: F.normalize eps 1e-12; or dot_score)
 *   n = max(B (B - 1), 1)
 *   mean_term   = (sum S / n)^2
 *   second_term = relu(sum S^2 / n - 1 / D)
 * then over the columns mean (aggregation "mean") or sum ("sum"):
 *   loss = mean_weight * agg(mean_term) + second_moment_weight * agg(second_term)
 * (Python returns the two as a dict of components, which the trainer sums.)
 * Used on its own or added to another loss ("MultipleNegativesRankingLoss +
 * GlobalOrthogonalRegularizationLoss").
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

sbert_status sbert_loss_gor(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim, nc = b->n_cols;
    const int dot = (int)LU_P(b, 0) == 1;
    const double mw = LU_P(b, 1), sw = LU_P(b, 2);
    const int sum_agg = (int)LU_P(b, 3) == 1;
    if (B == 0 || D == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "GlobalOrthogonalRegularizationLoss: empty batch");
    if (mw == 0 && sw == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "GlobalOrthogonalRegularizationLoss: at least one of mean_weight or second_moment_weight "
                          "must be non-zero");
    double *e = lu_dalloc(B * D, "GlobalOrthogonalRegularizationLoss"), *nr = lu_dalloc(B, "GOR");
    double *ge = lu_dalloc(B * D, "GlobalOrthogonalRegularizationLoss");
    if (!e || !nr || !ge) {
        free(e); free(nr); free(ge);
        return SBERT_ERR_NOMEM;
    }
    const double n = B > 1 ? (double)(B * (B - 1)) : 1.0, agg = sum_agg ? 1.0 : 1.0 / (double)nc;
    double L = 0;
    for (size_t c = 0; c < nc; c++) {
        lu_normalize(b->cols[c], B, D, D, dot ? 0 : LU_NORMALIZE_EPS, e, nr);
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                if (i == j) continue;
                double s = lu_dot(e + i * D, e + j * D, D);
                s1 += s;
                s2 += s * s;
            }
        double m = s1 / n, second = s2 / n - 1.0 / (double)D;
        if (mw) L += mw * agg * m * m;
        if (sw && second > 0) L += sw * agg * second;
        if (!b->grads) continue;
        /* dL/dS_ij = mw agg 2 m / n + sw agg [second > 0] 2 S_ij / n, i != j; S symmetric */
        double a1 = mw ? mw * agg * 2.0 * m / n : 0.0, a2 = (sw && second > 0) ? sw * agg * 2.0 / n : 0.0;
        memset(ge, 0, B * D * sizeof *ge);
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                if (i == j) continue;
                double s = lu_dot(e + i * D, e + j * D, D);
                double g = a1 + a2 * s; /* G_ij; e_i gets (G_ij + G_ji) e_j = 2 G_ij e_j */
                for (size_t k = 0; k < D; k++) ge[i * D + k] += 2.0 * g * e[j * D + k];
            }
        lu_normalize_backward(e, nr, ge, B, D, D, dot ? 0 : LU_NORMALIZE_EPS, b->grads[c]);
    }
    *loss = L;
    free(e); free(nr); free(ge);
    return SBERT_OK;
}
