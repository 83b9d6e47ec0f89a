/*
 * losses/sparse_losses.c -- the SparseEncoder losses of sparse_losses.h.
 * Shapes: every column [B, dim] row-major; gradients accumulate.
 */
#include "losses/sparse_losses.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", what); }

/* ------------------------------------------------------------ FLOPS */

double sbert_loss_flops(const float *const *cols, float *const *grads, size_t n, size_t B, size_t dim,
                        double threshold, double weight) {
    const size_t rows = n * B;
    if (rows == 0 || dim == 0) return 0.0;
    unsigned char *keep = malloc(rows);
    double *mean = calloc(dim, sizeof *mean);
    if (!keep || !mean) {
        free(keep);
        free(mean);
        return NAN;
    }
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < B; i++) {
            const float *e = cols[c] + i * dim;
            size_t nz = 0;
            if (threshold >= 0)
                for (size_t j = 0; j < dim; j++) nz += e[j] != 0.0f;
            keep[c * B + i] = threshold < 0 || (double)nz > threshold;
            if (!keep[c * B + i]) continue;
            for (size_t j = 0; j < dim; j++) mean[j] += e[j];
        }
    double v = 0;
    for (size_t j = 0; j < dim; j++) {
        mean[j] /= (double)rows;
        v += mean[j] * mean[j];
    }
    if (grads)
        for (size_t c = 0; c < n; c++) {
            if (!grads[c]) continue;
            for (size_t i = 0; i < B; i++) {
                if (!keep[c * B + i]) continue;
                float *g = grads[c] + i * dim;
                for (size_t j = 0; j < dim; j++) g[j] += (float)(weight * 2.0 * mean[j] / (double)rows);
            }
        }
    free(keep);
    free(mean);
    return v * weight;
}

double sbert_splade_weight(double w_max, int64_t step, int64_t total, double ratio, int quadratic) {
    if (total <= 0) return w_max;
    int64_t warmup = (int64_t)((double)total * ratio);
    if (warmup <= 0) warmup = 1;
    if (step >= warmup) return w_max;
    double r = (double)step / (double)warmup;
    return quadratic ? w_max * r * r : w_max * r;
}

/* ------------------------------------------------------------ pairwise sims */

/* s = sim(a, b) for one row pair; ga/gb += g * ds/da, ds/db (when not NULL). */
static double pair_sim(const float *a, const float *b, size_t dim, sbert_pair_sim sim) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < dim; k++) {
        ab += (double)a[k] * b[k];
        if (sim == SBERT_PAIR_COS) {
            aa += (double)a[k] * a[k];
            bb += (double)b[k] * b[k];
        }
    }
    if (sim == SBERT_PAIR_DOT) return ab;
    /* util.pairwise_cos_sim: F.normalize (eps 1e-12) of each row, then the dot */
    return ab / (fmax(sqrt(aa), 1e-12) * fmax(sqrt(bb), 1e-12));
}

static void pair_sim_grad(const float *a, const float *b, size_t dim, sbert_pair_sim sim, double g, float *ga,
                          float *gb) {
    if (sim == SBERT_PAIR_DOT) {
        for (size_t k = 0; k < dim; k++) {
            if (ga) ga[k] += (float)(g * b[k]);
            if (gb) gb[k] += (float)(g * a[k]);
        }
        return;
    }
    double ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < dim; k++) {
        ab += (double)a[k] * b[k];
        aa += (double)a[k] * a[k];
        bb += (double)b[k] * b[k];
    }
    double na = sqrt(aa), nb = sqrt(bb);
    double ea = fmax(na, 1e-12), eb = fmax(nb, 1e-12);
    double cs = ab / (ea * eb);
    for (size_t k = 0; k < dim; k++) {
        /* d/da of (a/|a|).(b/|b|): b/(|a||b|) - cos a/|a|^2 (when |a| > eps) */
        if (ga) ga[k] += (float)(g * (b[k] / (ea * eb) - (na > 1e-12 ? cs * a[k] / (na * na) : 0.0)));
        if (gb) gb[k] += (float)(g * (a[k] / (ea * eb) - (nb > 1e-12 ? cs * b[k] / (nb * nb) : 0.0)));
    }
}

/* ------------------------------------------------------------ MarginMSE */

sbert_status sbert_sparse_loss_margin_mse(const float *const *cols, size_t n_cols, size_t B, size_t dim,
                                   const float *labels, size_t label_w, sbert_pair_sim sim, float *const *grads,
                                   double *loss) {
    if (n_cols < 3)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "SparseMarginMSELoss needs (query, positive, negative...) columns");
    const size_t J = n_cols - 2;
    if (label_w != J && label_w != J + 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG,
                          "SparseMarginMSELoss: %zu label values per row, expected %zu (margins) or %zu (scores)",
                          label_w, J, J + 1);
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        const float *q = cols[0] + i * dim, *p = cols[1] + i * dim;
        double sp = pair_sim(q, p, dim, sim);
        for (size_t j = 0; j < J; j++) {
            const float *ng = cols[2 + j] + i * dim;
            double sn = pair_sim(q, ng, dim, sim);
            double lab = label_w == J ? labels[i * label_w + j]
                                      : (double)labels[i * label_w] - (double)labels[i * label_w + 1 + j];
            double d = (sp - sn) - lab;
            L += d * d;
            if (grads) {
                double g = 2.0 * d / (double)(B * J);
                pair_sim_grad(q, p, dim, sim, g, grads[0] ? grads[0] + i * dim : NULL, grads[1] ? grads[1] + i * dim : NULL);
                pair_sim_grad(q, ng, dim, sim, -g, grads[0] ? grads[0] + i * dim : NULL,
                              grads[2 + j] ? grads[2 + j] + i * dim : NULL);
            }
        }
    }
    *loss = L / (double)(B * J);
    return SBERT_OK;
}

/* ------------------------------------------------------------ CosineSimilarity */

sbert_status sbert_sparse_loss_cosine_similarity(const float *u, const float *v, const float *labels, size_t B, size_t dim,
                                          float *gu, float *gv, double *loss) {
    if (B == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "SparseCosineSimilarityLoss: empty batch");
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        const float *a = u + i * dim, *b = v + i * dim;
        double ab = 0, aa = 0, bb = 0;
        for (size_t k = 0; k < dim; k++) {
            ab += (double)a[k] * b[k];
            aa += (double)a[k] * a[k];
            bb += (double)b[k] * b[k];
        }
        /* torch.cosine_similarity: ab / sqrt(max(aa * bb, eps^2)), eps 1e-8 */
        double den2 = aa * bb, eps2 = 1e-16, den = sqrt(fmax(den2, eps2));
        double cs = ab / den;
        double d = cs - labels[i];
        L += d * d;
        if (gu || gv) {
            double g = 2.0 * d / (double)B;
            for (size_t k = 0; k < dim; k++) {
                double da = b[k] / den, db = a[k] / den;
                if (den2 > eps2) {
                    da -= cs * a[k] / aa;
                    db -= cs * b[k] / bb;
                }
                if (gu) gu[i * dim + k] += (float)(g * da);
                if (gv) gv[i * dim + k] += (float)(g * db);
            }
        }
    }
    *loss = L / (double)B;
    return SBERT_OK;
}

/* ------------------------------------------------------------ AnglE */

/* CoSENT's logsumexp over {0} and {s_i - s_j : label_i < label_j}; ds += dL/ds. */
static double cosent_core(const double *s, const float *labels, size_t n, double *ds) {
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (labels[i] < labels[j] && s[i] - s[j] > mx) mx = s[i] - s[j];
    double z = exp(-mx);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (labels[i] < labels[j]) z += exp(s[i] - s[j] - mx);
    double L = mx + log(z);
    if (ds)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                if (labels[i] < labels[j]) {
                    double w = exp(s[i] - s[j] - L);
                    ds[i] += w;
                    ds[j] -= w;
                }
    return L;
}

sbert_status sbert_sparse_loss_angle(const float *u, const float *v, const float *labels, size_t B, size_t dim, double scale,
                              float *gu, float *gv, double *loss) {
    if (B == 0 || dim == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "SparseAnglELoss: empty batch");
    const size_t D = dim + (dim & 1), h = D / 2; /* an odd width is padded with one 0 */
    double *s = malloc(B * sizeof *s), *ds = calloc(B, sizeof *ds), *x = malloc(2 * D * sizeof *x);
    double *sg = malloc(B * sizeof *sg);
    if (!s || !ds || !x || !sg) {
        free(s);
        free(ds);
        free(x);
        free(sg);
        return nomem("SparseAnglELoss");
    }
    double *y = x + D;
    for (size_t i = 0; i < B; i++) {
        double na = 0, nb = 0;
        for (size_t k = 0; k < D; k++) {
            x[k] = k < dim ? u[i * dim + k] : 0.0;
            y[k] = k < dim ? v[i * dim + k] : 0.0;
            na += x[k] * x[k];
            nb += y[k] * y[k];
        }
        na = fmax(sqrt(na), 1e-12);
        nb = fmax(sqrt(nb), 1e-12);
        double c = 0, sn = 0;
        for (size_t k = 0; k < D; k++) c += (x[k] / na) * (y[k] / nb);
        for (size_t k = 0; k < h; k++) sn += (x[k + h] / na) * (y[k] / nb) - (x[k] / na) * (y[k + h] / nb);
        double a = c + sn;
        sg[i] = a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0;
        s[i] = scale * fabs(a);
    }
    *loss = cosent_core(s, labels, B, (gu || gv) ? ds : NULL);
    if (gu || gv) {
        double *gx = malloc(2 * D * sizeof *gx);
        if (!gx) {
            free(s);
            free(ds);
            free(x);
            free(sg);
            return nomem("SparseAnglELoss");
        }
        double *gy = gx + D;
        for (size_t i = 0; i < B; i++) {
            double g = ds[i] * scale * sg[i];
            double na2 = 0, nb2 = 0;
            for (size_t k = 0; k < D; k++) {
                x[k] = k < dim ? u[i * dim + k] : 0.0;
                y[k] = k < dim ? v[i * dim + k] : 0.0;
                na2 += x[k] * x[k];
                nb2 += y[k] * y[k];
            }
            double ra = sqrt(na2), rb = sqrt(nb2), na = fmax(ra, 1e-12), nb = fmax(rb, 1e-12);
            /* gradient w.r.t. the normalized rows X = x/na, Y = y/nb */
            for (size_t k = 0; k < D; k++) {
                gx[k] = y[k] / nb;
                gy[k] = x[k] / na;
            }
            for (size_t k = 0; k < h; k++) {
                gx[k + h] += y[k] / nb;
                gx[k] -= y[k + h] / nb;
                gy[k] += x[k + h] / na;
                gy[k + h] -= x[k] / na;
            }
            /* through the normalization: dx = (gX - X (X . gX)) / |x| */
            double px = 0, py = 0;
            for (size_t k = 0; k < D; k++) {
                px += (x[k] / na) * gx[k];
                py += (y[k] / nb) * gy[k];
            }
            for (size_t k = 0; k < dim; k++) {
                double dx = ra > 1e-12 ? (gx[k] - (x[k] / na) * px) / na : gx[k] / na;
                double dy = rb > 1e-12 ? (gy[k] - (y[k] / nb) * py) / nb : gy[k] / nb;
                if (gu) gu[i * dim + k] += (float)(g * dx);
                if (gv) gv[i * dim + k] += (float)(g * dy);
            }
        }
        free(gx);
    }
    free(s);
    free(ds);
    free(x);
    free(sg);
    return SBERT_OK;
}
