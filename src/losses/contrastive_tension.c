/*
 * losses/contrastive_tension.c -- ContrastiveTensionLoss and
 * ContrastiveTensionLossInBatchNegatives (sentence-transformers): two copies
 * of the model, model1 (a copy made when training starts, trained too) and
 * model2 (the model being trained and saved). The trainer runs column 0
 * through the copy and hands the loss cols[0] = model1 embeddings and
 * cols[1] = model2 embeddings (ContrastiveTensionLoss: of column 1;
 * ...InBatchNegatives: of column 0 again).
 *
 *   ContrastiveTensionLoss: x_i = r1_i . r2_i;
 *     loss = BCEWithLogits(x, y), reduction SUM, where y is the label column,
 *     or without one 1 where the two texts tokenize to the same ids;
 *   ContrastiveTensionLossInBatchNegatives(scale=20, similarity_fct=cos_sim):
 *     S = sim(r1, r2) * exp(logit_scale), logit_scale a trained parameter
 *     starting at log(scale);
 *     loss = (CE(S, i) + CE(S^T, i)) / 2.
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

sbert_status sbert_loss_contrastive_tension(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim;
    if (b->n_cols != 2 || !b->labels)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "ContrastiveTensionLoss needs two columns and labels");
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        const float *r1 = b->cols[0] + i * D, *r2 = b->cols[1] + i * D;
        double x = 0;
        for (size_t k = 0; k < D; k++) x += (double)r1[k] * r2[k];
        double y = b->labels[i];
        L += fmax(x, 0) - x * y + log1p(exp(-fabs(x)));
        if (b->grads) {
            double g = 1.0 / (1.0 + exp(-x)) - y;
            for (size_t k = 0; k < D; k++) {
                b->grads[0][i * D + k] += (float)(g * r2[k]);
                b->grads[1][i * D + k] += (float)(g * r1[k]);
            }
        }
    }
    *loss = L;
    return SBERT_OK;
}

size_t sbert_loss_ct_inbatch_state_size(const sbert_loss_values *v, size_t dim, size_t n_labels) { return 1; }

sbert_status sbert_loss_ct_inbatch_state_init(const sbert_loss_values *v, size_t dim, size_t n_labels, sbert_rng *rng,
                                              float *data, sbert_param_table *t) {
    data[0] = (float)log(v->num[0]); /* nn.Parameter(torch.ones([]) * np.log(scale)) */
    return sbert_param_add(t, "logit_scale", data, 1, 0, 1, -1);
}

sbert_status sbert_loss_contrastive_tension_inbatch(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim;
    const int dot = (int)LU_P(b, 1) == 1;
    if (!b->state || sbert_params_count(b->state) < 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "ContrastiveTensionLossInBatchNegatives: its logit_scale is missing");
    sbert_param *ls = sbert_params_at(b->state, 0);
    const double scale = exp((double)ls->data[0]);
    double *x = lu_dalloc(2 * B * D, "ContrastiveTensionLossInBatchNegatives"), *nx = lu_dalloc(2 * B, "CT");
    double *S = lu_dalloc(B * B, "CT"), *dS = lu_dalloc(B * B, "CT"), *row = lu_dalloc(B, "CT");
    double *drow = lu_dalloc(B, "CT"), *gx = lu_dalloc(2 * B * D, "CT");
    sbert_status st = SBERT_OK;
    if (!x || !nx || !S || !dS || !row || !drow || !gx) {
        st = SBERT_ERR_NOMEM;
        goto done;
    }
    for (size_t c = 0; c < 2; c++)
        lu_normalize(b->cols[c], B, D, D, dot ? 0 : LU_NORMALIZE_EPS, x + c * B * D, nx + c * B);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) S[i * B + j] = lu_dot(x + i * D, x + (B + j) * D, D) * scale;
    double L = 0;
    for (size_t i = 0; i < B; i++) { /* rows: CE(S) */
        memset(drow, 0, B * sizeof *drow);
        L += 0.5 * lu_ce_row(S + i * B, B, i, 0.5 / (double)B, drow) / (double)B;
        for (size_t j = 0; j < B; j++) dS[i * B + j] += drow[j];
    }
    for (size_t j = 0; j < B; j++) { /* columns: CE(S^T) */
        for (size_t i = 0; i < B; i++) row[i] = S[i * B + j];
        memset(drow, 0, B * sizeof *drow);
        L += 0.5 * lu_ce_row(row, B, j, 0.5 / (double)B, drow) / (double)B;
        for (size_t i = 0; i < B; i++) dS[i * B + j] += drow[i];
    }
    *loss = L;
    if (b->grads) {
        double gls = 0;
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                double g = dS[i * B + j];
                gls += g * S[i * B + j]; /* dS/dlogit_scale = S */
                for (size_t k = 0; k < D; k++) {
                    gx[i * D + k] += g * scale * x[(B + j) * D + k];
                    gx[(B + j) * D + k] += g * scale * x[i * D + k];
                }
            }
        ls->grad[0] += (float)gls;
        for (size_t c = 0; c < 2; c++)
            lu_normalize_backward(x + c * B * D, nx + c * B, gx + c * B * D, B, D, D, dot ? 0 : LU_NORMALIZE_EPS,
                                  b->grads[c]);
    }
done:
    free(x); free(nx); free(S); free(dS); free(row); free(drow); free(gx);
    return st;
}
