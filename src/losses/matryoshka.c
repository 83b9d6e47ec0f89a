/*
 * losses/matryoshka.c -- MatryoshkaLoss (sentence-transformers): the inner
 * loss on truncated, re-normalized embeddings at several widths:
 *   dims sorted descending with their weights (default all 1);
 *   for each dim d (all, or n_dims_per_step drawn at random each call):
 *     e_d = F.normalize(e[:, :d])   (every column; eps 1e-12)
 *     labels that are teacher embeddings of the model's width are cut to d
 *   loss = sum_d w_d * inner(e_d)
 * The gradient of each term goes back through the normalization and the
 * truncation into the full embeddings. A Cached inner loss gives the same
 * value and gradient: the trainer's gradient caching runs around all of this.
 */
#include "losses/loss_util.h"
#include "losses/loss_spec.h"

sbert_status sbert_loss_matryoshka(const sbert_loss_def *inner, const sbert_loss_values *iv, const sbert_loss_batch *b,
                                   const double *dims, const double *weights, size_t n_dims, int64_t n_per_step,
                                   double *loss) {
    const size_t B = b->B, D = b->dim, nc = b->n_cols, lw = b->label_width ? b->label_width : 1;
    size_t idx[64], n_sel = 0;
    if (n_dims > 64) return sbert_fail(SBERT_ERR_INVALID_ARG, "MatryoshkaLoss: at most 64 dims");
    for (size_t i = 0; i < n_dims; i++) {
        if ((size_t)dims[i] > D)
            return sbert_fail(SBERT_ERR_INVALID_ARG,
                              "MatryoshkaLoss: dimension %g in matryoshka_dims is greater than the model's embedding "
                              "dimension %zu",
                              dims[i], D);
        idx[n_sel++] = i;
    }
    if (n_per_step > 0 && (size_t)n_per_step < n_dims) {
        /* random.sample then sort: a partial Fisher-Yates from the loss's generator */
        for (size_t i = 0; i < (size_t)n_per_step; i++) {
            size_t j = i + (size_t)(b->rng ? sbert_rng_below(b->rng, n_dims - i) : 0);
            size_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        n_sel = (size_t)n_per_step;
        for (size_t i = 1; i < n_sel; i++)
            for (size_t j = i; j > 0 && idx[j] < idx[j - 1]; j--) {
                size_t t = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = t;
            }
    }
    float *cut = malloc(nc * B * D * sizeof *cut), *gcut = malloc(nc * B * D * sizeof *gcut);
    double *y = lu_dalloc(nc * B * D, "MatryoshkaLoss"), *nr = lu_dalloc(nc * B, "MatryoshkaLoss");
    double *gy = lu_dalloc(nc * B * D, "MatryoshkaLoss");
    float *lab = b->labels && lw > 1 ? malloc(B * lw * sizeof *lab) : NULL;
    const float **cols = malloc(nc * sizeof *cols);
    float **grads = malloc(nc * sizeof *grads);
    sbert_status st = SBERT_OK;
    if (!cut || !gcut || !y || !nr || !gy || !cols || !grads || (b->labels && lw > 1 && !lab)) {
        st = sbert_fail(SBERT_ERR_NOMEM, "MatryoshkaLoss: out of memory");
        goto done;
    }
    double total = 0;
    for (size_t s = 0; s < n_sel; s++) {
        const size_t d = (size_t)dims[idx[s]];
        const double w = weights ? weights[idx[s]] : 1.0;
        for (size_t c = 0; c < nc; c++) {
            lu_normalize(b->cols[c], B, d, D, LU_NORMALIZE_EPS, y + c * B * d, nr + c * B);
            for (size_t i = 0; i < B * d; i++) cut[c * B * d + i] = (float)y[c * B * d + i];
            cols[c] = cut + c * B * d;
            grads[c] = gcut + c * B * d;
        }
        memset(gcut, 0, nc * B * d * sizeof *gcut);
        sbert_loss_batch ib = *b;
        ib.cols = cols;
        ib.grads = b->grads ? grads : NULL;
        ib.dim = d;
        ib.v = iv;
        if (lab && (lw == D || lw == nc * D)) { /* teacher embeddings: [..., :d] */
            size_t per = lw / D;
            for (size_t i = 0; i < B; i++)
                for (size_t c = 0; c < per; c++) memcpy(lab + (i * per + c) * d, b->labels + i * lw + c * D, d * sizeof *lab);
            ib.labels = lab;
            ib.label_width = per * d;
        }
        double l = 0;
        if ((st = inner->compute(&ib, &l)) != SBERT_OK) goto done;
        total += w * l;
        if (!b->grads) continue;
        for (size_t c = 0; c < nc; c++) {
            for (size_t i = 0; i < B * d; i++) gy[i] = w * gcut[c * B * d + i];
            lu_normalize_backward(y + c * B * d, nr + c * B, gy, B, d, D, LU_NORMALIZE_EPS, b->grads[c]);
        }
    }
    *loss = total;
done:
    free(cut); free(gcut); free(y); free(nr); free(gy); free(lab); free(cols); free(grads);
    return st;
}
