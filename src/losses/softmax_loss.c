/*
 * losses/softmax_loss.c -- SoftmaxLoss (sentence-transformers): a linear
 * classifier on the concatenation of the two sentence embeddings u, v of a
 * pair, trained together with the model (its parameters are the loss's own,
 * see sbert_loss_state; Python puts them in the optimizer the same way):
 *   features = [u, v (concatenation_sent_rep), |u - v| (..._difference),
 *               u * v (..._multiplication)]            [B, k * D]
 *   logits = features W^T + b                         W [num_labels, k * D]
 *   loss = CrossEntropy(logits, label), mean over rows
 * W and b start as nn.Linear's: U(-1/sqrt(k D), 1/sqrt(k D)). d|t|/dt at 0 is 0.
 * Python keeps the classifier inside the loss object (not in the saved
 * model); sbert saves it beside each checkpoint and the final model (see
 * training/loss_state.c) so LabelAccuracyEvaluator and resume can use it.
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

/* parameter positions in loss_table.c's P_SOFTMAX */
enum { P_NUM_LABELS = 0, P_REP, P_DIFF, P_MULT };

static size_t n_vectors(const sbert_loss_values *v) {
    return (v->num[P_REP] ? 2 : 0) + (v->num[P_DIFF] ? 1 : 0) + (v->num[P_MULT] ? 1 : 0);
}

static size_t n_classes(const sbert_loss_values *v, size_t n_labels) {
    return isnan(v->num[P_NUM_LABELS]) ? n_labels : (size_t)v->num[P_NUM_LABELS];
}

const char *sbert_loss_softmax_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w,
                                     size_t dim) {
    if (n_vectors(v) == 0)
        return "SoftmaxLoss: at least one of concatenation_sent_rep, concatenation_sent_difference or "
               "concatenation_sent_multiplication must be true";
    return NULL;
}

size_t sbert_loss_softmax_state_size(const sbert_loss_values *v, size_t dim, size_t n_labels) {
    size_t C = n_classes(v, n_labels);
    return C * n_vectors(v) * dim + C;
}

sbert_status sbert_loss_softmax_state_init(const sbert_loss_values *v, size_t dim, size_t n_labels, sbert_rng *rng,
                                           float *data, sbert_param_table *t) {
    size_t C = n_classes(v, n_labels), F = n_vectors(v) * dim;
    if (C < 1) return sbert_fail(SBERT_ERR_INVALID_ARG, "SoftmaxLoss: num_labels must be at least 1");
    double bound = 1.0 / sqrt((double)F);
    for (size_t i = 0; i < C * F + C; i++) data[i] = (float)((2.0 * sbert_rng_uniform(rng) - 1.0) * bound);
    SBERT_TRY(sbert_param_add(t, "classifier.weight", data, C, F, 1, -1));
    return sbert_param_add(t, "classifier.bias", data + C * F, C, 0, 1, -1);
}

/* features of row i into f [F] */
static void features(const sbert_loss_values *v, const float *u, const float *w, size_t D, double *f) {
    size_t o = 0;
    if (v->num[P_REP]) {
        for (size_t k = 0; k < D; k++) f[o + k] = u[k];
        o += D;
        for (size_t k = 0; k < D; k++) f[o + k] = w[k];
        o += D;
    }
    if (v->num[P_DIFF]) {
        for (size_t k = 0; k < D; k++) f[o + k] = fabs((double)u[k] - w[k]);
        o += D;
    }
    if (v->num[P_MULT])
        for (size_t k = 0; k < D; k++) f[o + k] = (double)u[k] * w[k];
}

/* Logits [B, C] of the pairs (cols[0], cols[1]) with the classifier in state. */
sbert_status sbert_loss_softmax_logits(const sbert_loss_values *v, const sbert_param_table *state, const float *u,
                                       const float *w, size_t B, size_t D, double *logits) {
    const sbert_param *W = sbert_params_at_const(state, 0), *bias = sbert_params_at_const(state, 1);
    const size_t C = (size_t)W->shape[0], F = (size_t)W->shape[1];
    if (F != n_vectors(v) * D)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "SoftmaxLoss: the classifier takes %zu features, the embeddings give %zu",
                          F, n_vectors(v) * D);
    double *f = lu_dalloc(F, "SoftmaxLoss");
    if (!f) return SBERT_ERR_NOMEM;
    for (size_t i = 0; i < B; i++) {
        features(v, u + i * D, w + i * D, D, f);
        for (size_t c = 0; c < C; c++) {
            double s = bias->data[c];
            for (size_t k = 0; k < F; k++) s += (double)W->data[c * F + k] * f[k];
            logits[i * C + c] = s;
        }
    }
    free(f);
    return SBERT_OK;
}

sbert_status sbert_loss_softmax(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim;
    if (!b->state || sbert_params_count(b->state) != 2)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "SoftmaxLoss: its classifier is missing");
    sbert_param *W = sbert_params_at(b->state, 0), *bias = sbert_params_at(b->state, 1);
    const size_t C = (size_t)W->shape[0], F = (size_t)W->shape[1];
    double *logits = lu_dalloc(B * C, "SoftmaxLoss"), *dl = lu_dalloc(C, "SoftmaxLoss");
    double *f = lu_dalloc(F, "SoftmaxLoss"), *df = lu_dalloc(F, "SoftmaxLoss");
    sbert_status st = SBERT_OK;
    if (!logits || !dl || !f || !df) {
        st = SBERT_ERR_NOMEM;
        goto done;
    }
    if ((st = sbert_loss_softmax_logits(b->v, b->state, b->cols[0], b->cols[1], B, D, logits)) != SBERT_OK) goto done;
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        double lab = b->labels[i];
        if (lab < 0 || lab >= (double)C || lab != floor(lab)) {
            st = sbert_fail(SBERT_ERR_INVALID_ARG,
                            "SoftmaxLoss: label %g is not a class in [0, %zu) (num_labels is %zu)", lab, C, C);
            goto done;
        }
        memset(dl, 0, C * sizeof *dl);
        L += lu_ce_row(logits + i * C, C, (size_t)lab, 1.0 / (double)B, b->grads ? dl : NULL);
        if (!b->grads) continue;
        const float *u = b->cols[0] + i * D, *w = b->cols[1] + i * D;
        features(b->v, u, w, D, f);
        memset(df, 0, F * sizeof *df);
        for (size_t c = 0; c < C; c++) {
            bias->grad[c] += (float)dl[c];
            for (size_t k = 0; k < F; k++) {
                W->grad[c * F + k] += (float)(dl[c] * f[k]);
                df[k] += dl[c] * W->data[c * F + k];
            }
        }
        float *gu = b->grads[0] + i * D, *gw = b->grads[1] + i * D;
        size_t o = 0;
        if (b->v->num[P_REP]) {
            for (size_t k = 0; k < D; k++) gu[k] += (float)df[o + k];
            o += D;
            for (size_t k = 0; k < D; k++) gw[k] += (float)df[o + k];
            o += D;
        }
        if (b->v->num[P_DIFF]) {
            for (size_t k = 0; k < D; k++) {
                double t = (double)u[k] - w[k], sg = (t > 0) - (t < 0);
                gu[k] += (float)(df[o + k] * sg);
                gw[k] -= (float)(df[o + k] * sg);
            }
            o += D;
        }
        if (b->v->num[P_MULT])
            for (size_t k = 0; k < D; k++) {
                gu[k] += (float)(df[o + k] * w[k]);
                gw[k] += (float)(df[o + k] * u[k]);
            }
    }
    *loss = L / (double)B;
done:
    free(logits); free(dl); free(f); free(df);
    return st;
}
