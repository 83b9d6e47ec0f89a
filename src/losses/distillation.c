/*
 * losses/distillation.c -- the distillation losses of sentence-transformers,
 * whose labels come from a teacher (a list-valued label column):
 *
 *   MSELoss: labels are teacher embeddings, [B, D] (the same target for every
 *     text column) or [B, n_cols * D] (one per column, column-major in the
 *     list: column 0's D values first);
 *     loss = mean over columns of mean((student - teacher)^2).
 *   MarginMSELoss(similarity_fct=pairwise_dot_score): (query, positive,
 *     negative_1..k); labels [B] or [B, k] teacher margins, or [B, k + 1] raw
 *     teacher scores (turned into labels[:, 0] - labels[:, 1:]);
 *     loss = mean_{i,j} (sim(q_i, p_i) - sim(q_i, n_ij) - label_ij)^2.
 *   DistillKLDivLoss(similarity_fct=pairwise_dot_score, temperature=1):
 *     (query, candidate_1..N) with N >= 2, labels [B, N] teacher scores;
 *     loss = T_s^2 * KL(softmax(labels / T_t) || log_softmax(sim / T_s)),
 *     reduction batchmean (sum / B).
 * pairwise_cos_sim normalizes with F.normalize (eps 1e-12).
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

/* ---------------------------------------------------------------- MSELoss */

const char *sbert_loss_mse_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w, size_t dim) {
    if (!has_label) return "MSELoss needs a label column holding the teacher embedding of each row";
    if (dim && w != dim && w != n_inputs * dim)
        return "MSELoss: the label list must hold the teacher embedding (as many values as the model's embedding "
               "dimension) or one per text column";
    return NULL;
}

sbert_status sbert_loss_mse(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim, nc = b->n_cols, w = b->label_width ? b->label_width : 1;
    if (B == 0 || D == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "MSELoss: empty batch");
    if (w != D && w != nc * D)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "MSELoss: the labels have %zu values a row; the student embeddings have %zu (teacher and "
                          "student dimensions must match)",
                          w, D);
    double L = 0;
    for (size_t c = 0; c < nc; c++) {
        double Lc = 0;
        for (size_t i = 0; i < B; i++) {
            const float *t = b->labels + i * w + (w == D ? 0 : c * D);
            for (size_t k = 0; k < D; k++) {
                double r = (double)b->cols[c][i * D + k] - t[k];
                Lc += r * r;
                if (b->grads) b->grads[c][i * D + k] += (float)(2.0 * r / ((double)B * D * nc));
            }
        }
        L += Lc / ((double)B * D);
    }
    *loss = L / (double)nc;
    return SBERT_OK;
}

/* --------------------------------------------------- pairwise similarity */

/* sim(q_i, x_i) for the similarity choice (0: dot, 1: cosine) and its
 * gradient g * d/dq, d/dx added into gq, gx (float). */
static double pair_sim(const float *q, const float *x, size_t D, int cosine, double g, float *gq, float *gx) {
    double qq = 0, xx = 0, qx = 0;
    for (size_t k = 0; k < D; k++) {
        qq += (double)q[k] * q[k];
        xx += (double)x[k] * x[k];
        qx += (double)q[k] * x[k];
    }
    if (!cosine) {
        if (gq && g != 0)
            for (size_t k = 0; k < D; k++) {
                gq[k] += (float)(g * x[k]);
                gx[k] += (float)(g * q[k]);
            }
        return qx;
    }
    double nq = fmax(sqrt(qq), LU_NORMALIZE_EPS), nx = fmax(sqrt(xx), LU_NORMALIZE_EPS);
    double cs = qx / (nq * nx);
    if (gq && g != 0)
        for (size_t k = 0; k < D; k++) {
            gq[k] += (float)(g * (x[k] / (nq * nx) - (nq > LU_NORMALIZE_EPS ? cs * q[k] / (nq * nq) : 0)));
            gx[k] += (float)(g * (q[k] / (nq * nx) - (nx > LU_NORMALIZE_EPS ? cs * x[k] / (nx * nx) : 0)));
        }
    return cs;
}

/* ---------------------------------------------------------- MarginMSELoss */

const char *sbert_loss_margin_mse_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w,
                                        size_t dim) {
    size_t k = n_inputs >= 3 ? n_inputs - 2 : 0;
    if (!has_label) return "MarginMSELoss needs a label column (teacher margins or scores)";
    if (w != k && w != k + 1 && !(w == 1 && k == 1))
        return "MarginMSELoss: the label must hold one teacher margin per negative column, or the teacher scores "
               "of the positive and every negative (k + 1 values)";
    return NULL;
}

sbert_status sbert_loss_margin_mse(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim, nc = b->n_cols, w = b->label_width ? b->label_width : 1;
    const int cosine = (int)LU_P(b, 0) == 1;
    if (nc < 3) return sbert_fail(SBERT_ERR_INVALID_ARG, "MarginMSELoss needs (query, positive, negative...)");
    const size_t k = nc - 2;
    int raw = w == k + 1;
    if (!raw && w != k)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "MarginMSELoss: labels have %zu values a row; expected %zu or %zu", w,
                          k, k + 1);
    double L = 0;
    const double scale = 1.0 / ((double)B * k);
    for (size_t i = 0; i < B; i++) {
        const float *q = b->cols[0] + i * D, *pp = b->cols[1] + i * D;
        double sp = pair_sim(q, pp, D, cosine, 0, NULL, NULL);
        const float *lab = b->labels + i * w;
        for (size_t j = 0; j < k; j++) {
            const float *n = b->cols[2 + j] + i * D;
            double sn = pair_sim(q, n, D, cosine, 0, NULL, NULL);
            double target = raw ? (double)lab[0] - (double)lab[1 + j] : (double)lab[j];
            double r = sp - sn - target;
            L += r * r;
            if (b->grads) {
                double g = 2.0 * r * scale;
                pair_sim(q, pp, D, cosine, g, b->grads[0] + i * D, b->grads[1] + i * D);
                pair_sim(q, n, D, cosine, -g, b->grads[0] + i * D, b->grads[2 + j] + i * D);
            }
        }
    }
    *loss = L * scale;
    return SBERT_OK;
}

/* ------------------------------------------------------- DistillKLDivLoss */

const char *sbert_loss_distill_kl_check(const sbert_loss_values *v, size_t n_inputs, int has_label, size_t w,
                                        size_t dim) {
    if (n_inputs < 3)
        return "DistillKLDivLoss expects at least 3 columns (query, positive, negative_1, ...): a softmax over one "
               "candidate is constant";
    if (!has_label || w != n_inputs - 1)
        return "DistillKLDivLoss needs a label column with one teacher score per candidate column";
    return NULL;
}

sbert_status sbert_loss_distill_kl(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim, nc = b->n_cols, N = nc - 1, w = b->label_width ? b->label_width : 1;
    const int cosine = (int)LU_P(b, 0) == 1;
    const double T = LU_P(b, 1);
    const double Ts = isnan(LU_P(b, 2)) ? T : LU_P(b, 2), Tt = isnan(LU_P(b, 3)) ? T : LU_P(b, 3);
    if (nc < 3 || w != N)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "DistillKLDivLoss expects teacher scores of shape (batch_size, %zu), got %zu a row", N, w);
    double *s = lu_dalloc(N, "DistillKLDivLoss"), *t = lu_dalloc(N, "DistillKLDivLoss");
    if (!s || !t) {
        free(s);
        free(t);
        return SBERT_ERR_NOMEM;
    }
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        const float *q = b->cols[0] + i * D;
        double ms = -INFINITY, mt = -INFINITY;
        for (size_t j = 0; j < N; j++) {
            s[j] = pair_sim(q, b->cols[1 + j] + i * D, D, cosine, 0, NULL, NULL) / Ts;
            t[j] = (double)b->labels[i * w + j] / Tt;
            if (s[j] > ms) ms = s[j];
            if (t[j] > mt) mt = t[j];
        }
        double zs = 0, zt = 0;
        for (size_t j = 0; j < N; j++) {
            zs += exp(s[j] - ms);
            zt += exp(t[j] - mt);
        }
        double lzs = ms + log(zs), lzt = mt + log(zt);
        for (size_t j = 0; j < N; j++) {
            double pt = exp(t[j] - lzt), lps = s[j] - lzs;
            /* KLDivLoss: target * (log target - input); 0 where target == 0 */
            if (pt > 0) L += pt * ((t[j] - lzt) - lps);
        }
        if (b->grads)
            for (size_t j = 0; j < N; j++) {
                double ps = exp(s[j] - lzs), pt = exp(t[j] - lzt);
                /* d/ds_j of -sum pt log softmax(s) = ps_j - pt_j; s = sim / Ts; times Ts^2 / B */
                double g = (ps - pt) / Ts * Ts * Ts / (double)B;
                pair_sim(q, b->cols[1 + j] + i * D, D, cosine, g, b->grads[0] + i * D, b->grads[1 + j] + i * D);
            }
    }
    *loss = L / (double)B * Ts * Ts;
    free(s);
    free(t);
    return SBERT_OK;
}
