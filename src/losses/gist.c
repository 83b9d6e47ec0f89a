/*
 * losses/gist.c -- GISTEmbedLoss and CachedGISTEmbedLoss (sentence-
 * transformers): in-batch negatives like MultipleNegativesRankingLoss, with a
 * guide model that drops likely false negatives. Columns (anchor, positive
 * [, negative...]); a guide embedding of every text comes with the batch
 * (b->guide, from the recipe's guide_model).
 *
 *   sim = nn.CosineSimilarity (eps 1e-8 on each norm), for the model (s) and
 *   the guide (g): ap = sim(a_i, p_j), aa = sim(a_i, a_j), pp = sim(p_i, p_j),
 *   an_k = sim(a_i, n_k,j) for each negative column k;
 *   threshold_i = g_ap[i,i] - margin            (absolute)
 *               = g_ap[i,i] - |g_ap[i,i]| margin (relative)
 *   an entry of a block is masked (-inf) when its guide similarity > threshold_i,
 *   except the positive ap[i,i];
 *   loss = CE(cat[ap, aa?, pp?, an_1.., ] / temperature, target i), mean over i.
 * aa is there with contrast_anchors, pp with contrast_positives (both
 * default true). The cached variant gives the same value (mean over rows).
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

sbert_status sbert_loss_gist(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim, nc = b->n_cols, GD = b->guide_dim;
    const double temp = LU_P(b, 0);
    const int relative = (int)LU_P(b, 1) == 1;
    const double margin = LU_P(b, 2);
    const int ca = LU_P(b, 3) != 0, cp = LU_P(b, 4) != 0;
    if (!b->guide || !GD)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "GISTEmbedLoss needs the guide model's embeddings (guide_model)");
    if (nc < 2 || B == 0 || D == 0)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "GISTEmbedLoss needs (anchor, positive[, negative...]) rows");
    const size_t n_blocks = 1 + (ca ? 1 : 0) + (cp ? 1 : 0) + (nc - 2), C = n_blocks * B;
    double *x = lu_dalloc(nc * B * D, "GISTEmbedLoss"), *nx = lu_dalloc(nc * B, "GISTEmbedLoss");
    double *gz = lu_dalloc(nc * B * GD, "GISTEmbedLoss");
    double *gx = lu_dalloc(nc * B * D, "GISTEmbedLoss");
    double *row = lu_dalloc(C, "GISTEmbedLoss"), *drow = lu_dalloc(C, "GISTEmbedLoss");
    sbert_status st = SBERT_OK;
    if (!x || !nx || !gz || !gx || !row || !drow) {
        st = SBERT_ERR_NOMEM;
        goto done;
    }
    for (size_t c = 0; c < nc; c++) {
        lu_normalize(b->cols[c], B, D, D, LU_COSINE_EPS, x + c * B * D, nx + c * B);
        lu_normalize(b->guide[c], B, GD, GD, LU_COSINE_EPS, gz + c * B * GD, NULL);
    }
    /* block k: (left column, right column) */
    size_t left[64], right[64], nb = 0;
    left[nb] = 0, right[nb++] = 1;
    if (ca) left[nb] = 0, right[nb++] = 0;
    if (cp) left[nb] = 1, right[nb++] = 1;
    for (size_t c = 2; c < nc && nb < 64; c++) left[nb] = 0, right[nb++] = c;
    if (nb != n_blocks) {
        st = sbert_fail(SBERT_ERR_INVALID_ARG, "GISTEmbedLoss: too many columns (%zu)", nc);
        goto done;
    }
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        double gi = lu_dot(gz + i * GD, gz + (B + i) * GD, GD);
        double thr = relative ? gi - fabs(gi) * margin : gi - margin;
        for (size_t k = 0; k < nb; k++) {
            const double *xl = x + (left[k] * B + i) * D, *gl = gz + (left[k] * B + i) * GD;
            for (size_t j = 0; j < B; j++) {
                double gs = lu_dot(gl, gz + (right[k] * B + j) * GD, GD);
                int is_pos = k == 0 && j == i;
                row[k * B + j] = (!is_pos && gs > thr) ? -INFINITY : lu_dot(xl, x + (right[k] * B + j) * D, D) / temp;
            }
        }
        memset(drow, 0, C * sizeof *drow);
        L += lu_ce_row(row, C, i, 1.0 / (double)B, b->grads ? drow : NULL);
        if (!b->grads) continue;
        for (size_t k = 0; k < nb; k++) {
            double *gl = gx + (left[k] * B + i) * D;
            const double *xl = x + (left[k] * B + i) * D;
            for (size_t j = 0; j < B; j++) {
                double g = drow[k * B + j] / temp;
                if (g == 0) continue;
                double *gr = gx + (right[k] * B + j) * D;
                const double *xr = x + (right[k] * B + j) * D;
                for (size_t q = 0; q < D; q++) {
                    gl[q] += g * xr[q];
                    gr[q] += g * xl[q];
                }
            }
        }
    }
    *loss = L / (double)B;
    if (b->grads)
        for (size_t c = 0; c < nc; c++)
            lu_normalize_backward(x + c * B * D, nx + c * B, gx + c * B * D, B, D, D, LU_COSINE_EPS, b->grads[c]);
done:
    free(x); free(nx); free(gz); free(gx); free(row); free(drow);
    return st;
}
