/*
 * losses/mega_batch_margin.c -- MegaBatchMarginLoss (sentence-transformers):
 * (anchor, positive) pairs; the hardest negative of each anchor is the most
 * similar OTHER positive of the batch:
 *   C = cos_sim(anchors, positives)           (F.normalize, eps 1e-12)
 *   loss = sum_i [ relu(positive_margin - C_ii) + relu(max_{j != i} C_ij - negative_margin) ] / B
 * The mini-batched version (use_mini_batched_version=True, the default) is
 * the same loss with gradient caching over mini_batch_size rows; here the
 * trainer's gradient caching does that (the value is the same).
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

sbert_status sbert_loss_mega_batch_margin(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim;
    const double pm = LU_P(b, 0), nm = LU_P(b, 1);
    if (b->n_cols != 2)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "MegaBatchMarginLoss expects exactly 2 input columns, (anchor, positive), got %zu",
                          b->n_cols);
    if (B == 0 || D == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "MegaBatchMarginLoss: empty batch");
    double *a = lu_dalloc(B * D, "MegaBatchMarginLoss"), *p = lu_dalloc(B * D, "MegaBatchMarginLoss");
    double *na = lu_dalloc(B, "MegaBatchMarginLoss"), *np = lu_dalloc(B, "MegaBatchMarginLoss");
    double *ga = lu_dalloc(B * D, "MegaBatchMarginLoss"), *gp = lu_dalloc(B * D, "MegaBatchMarginLoss");
    sbert_status st = SBERT_OK;
    if (!a || !p || !na || !np || !ga || !gp) {
        st = SBERT_ERR_NOMEM;
        goto done;
    }
    lu_normalize(b->cols[0], B, D, D, LU_NORMALIZE_EPS, a, na);
    lu_normalize(b->cols[1], B, D, D, LU_NORMALIZE_EPS, p, np);
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        const double *ai = a + i * D;
        double pos = lu_dot(ai, p + i * D, D);
        double mx = -INFINITY;
        size_t jm = 0;
        for (size_t j = 0; j < B; j++) {
            if (j == i) continue;
            double c = lu_dot(ai, p + j * D, D);
            if (c > mx) { mx = c; jm = j; }
        }
        double t1 = pm - pos, t2 = mx - nm;
        if (t1 > 0) {
            L += t1;
            for (size_t k = 0; k < D; k++) {
                ga[i * D + k] -= p[i * D + k] / (double)B;
                gp[i * D + k] -= ai[k] / (double)B;
            }
        }
        if (B > 1 && t2 > 0) {
            L += t2;
            for (size_t k = 0; k < D; k++) {
                ga[i * D + k] += p[jm * D + k] / (double)B;
                gp[jm * D + k] += ai[k] / (double)B;
            }
        }
        /* B == 1: max over an empty set is -inf, relu(-inf) = 0 */
    }
    *loss = L / (double)B;
    if (b->grads) {
        lu_normalize_backward(a, na, ga, B, D, D, LU_NORMALIZE_EPS, b->grads[0]);
        lu_normalize_backward(p, np, gp, B, D, D, LU_NORMALIZE_EPS, b->grads[1]);
    }
done:
    free(a); free(p); free(na); free(np); free(ga); free(gp);
    return st;
}
