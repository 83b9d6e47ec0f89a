/*
 * losses/cosine_similarity.c -- CosineSimilarityLoss (sentence-transformers):
 *   c_i = torch.cosine_similarity(u_i, v_i)       (eps 1e-8 on each norm)
 *   loss = mean_i (c_i - label_i)^2                (nn.MSELoss, Identity transform)
 * Columns (sentence1, sentence2) and a float score per row (in [0, 1]).
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

sbert_status sbert_loss_cosine_similarity(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim;
    if (B == 0 || D == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "CosineSimilarityLoss: empty batch");
    double *u = lu_dalloc(B * D, "CosineSimilarityLoss"), *v = lu_dalloc(B * D, "CosineSimilarityLoss");
    double *nu = lu_dalloc(B, "CosineSimilarityLoss"), *nv = lu_dalloc(B, "CosineSimilarityLoss");
    double *gu = lu_dalloc(B * D, "CosineSimilarityLoss"), *gv = lu_dalloc(B * D, "CosineSimilarityLoss");
    sbert_status st = SBERT_OK;
    if (!u || !v || !nu || !nv || !gu || !gv) {
        st = SBERT_ERR_NOMEM;
        goto done;
    }
    lu_normalize(b->cols[0], B, D, D, LU_COSINE_EPS, u, nu);
    lu_normalize(b->cols[1], B, D, D, LU_COSINE_EPS, v, nv);
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        double c = lu_dot(u + i * D, v + i * D, D), r = c - b->labels[i];
        L += r * r;
        double g = 2.0 * r / (double)B;
        for (size_t k = 0; k < D; k++) {
            gu[i * D + k] = g * v[i * D + k];
            gv[i * D + k] = g * u[i * D + k];
        }
    }
    *loss = L / (double)B;
    if (b->grads) {
        lu_normalize_backward(u, nu, gu, B, D, D, LU_COSINE_EPS, b->grads[0]);
        lu_normalize_backward(v, nv, gv, B, D, D, LU_COSINE_EPS, b->grads[1]);
    }
done:
    free(u); free(v); free(nu); free(nv); free(gu); free(gv);
    return st;
}
