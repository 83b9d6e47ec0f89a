/*
 * losses/angle.c -- AnglELoss (sentence-transformers): CoSENTLoss with
 * pairwise_angle_sim instead of the cosine:
 *   x, y normalized (F.normalize, eps 1e-12; an odd width padded with one 0),
 *   a = x[:h], b = x[h:], c = y[:h], d = y[h:]  (h = width / 2)
 *   s = | x.y + sum(b*c - a*d) |
 *   loss = log(1 + sum_{(i,j): label_i < label_j} exp(scale (s_i - s_j)))
 * With more than two columns the anchor is compared with every other column:
 * pairs (anchor, column 1) get the labels (ones without a label column),
 * pairs (anchor, column k >= 2) get 1 - labels.
 * The gradient of |.| at 0 is 0 (torch's sign).
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

/* s = angle_sim(x, y) for normalized rows x, y [D] (odd D: zero-padded);
 * gx, gy (may be NULL) += g * ds/dx, ds/dy. */
static double angle_sim(const double *x, const double *y, size_t D, double g, double *gx, double *gy) {
    size_t Dp = D + (D & 1), h = Dp / 2;
    double cs = lu_dot(x, y, D), sn = 0;
    for (size_t k = 0; k < h; k++) {
        double a = x[k], c = y[k];
        double bb = h + k < D ? x[h + k] : 0, d = h + k < D ? y[h + k] : 0;
        sn += bb * c - a * d;
    }
    double s = cs + sn;
    if (gx && g != 0) {
        double sg = (s > 0) - (s < 0);
        double w = g * sg;
        for (size_t k = 0; k < D; k++) {
            gx[k] += w * y[k];
            gy[k] += w * x[k];
        }
        for (size_t k = 0; k < h; k++) {
            /* d/da = -d, d/db = c, d/dc = b, d/dd = -a */
            double a = x[k], c = y[k];
            double bb = h + k < D ? x[h + k] : 0, d = h + k < D ? y[h + k] : 0;
            gx[k] += w * -d;
            gy[k] += w * bb;
            if (h + k < D) {
                gx[h + k] += w * c;
                gy[h + k] += w * -a;
            }
        }
    }
    return fabs(s);
}

sbert_status sbert_loss_angle(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim, nc = b->n_cols;
    const double scale = LU_P(b, 0);
    if (B == 0 || D == 0 || nc < 2) return sbert_fail(SBERT_ERR_INVALID_ARG, "AnglELoss: empty batch");
    if (nc == 2 && !b->labels)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "AnglELoss requires labels for datasets with pairs");
    const size_t N = (nc - 1) * B; /* pairs (anchor, col k) for k = 1..nc-1, row-major by column */
    double *x = lu_dalloc(nc * B * D, "AnglELoss"), *nx = lu_dalloc(nc * B, "AnglELoss");
    double *gx = lu_dalloc(nc * B * D, "AnglELoss"), *s = lu_dalloc(N, "AnglELoss");
    double *lab = lu_dalloc(N, "AnglELoss"), *ds = lu_dalloc(N, "AnglELoss");
    sbert_status st = SBERT_OK;
    if (!x || !nx || !gx || !s || !lab || !ds) {
        st = SBERT_ERR_NOMEM;
        goto done;
    }
    for (size_t c = 0; c < nc; c++) lu_normalize(b->cols[c], B, D, D, LU_NORMALIZE_EPS, x + c * B * D, nx + c * B);
    for (size_t k = 1; k < nc; k++)
        for (size_t i = 0; i < B; i++) {
            size_t p = (k - 1) * B + i;
            s[p] = scale * angle_sim(x + i * D, x + (k * B + i) * D, D, 0, NULL, NULL);
            double l = b->labels ? b->labels[i] : 1.0;
            lab[p] = k == 1 ? l : 1.0 - l;
        }
    /* logsumexp over {0} and the admissible differences */
    double mx = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            if (lab[i] < lab[j] && s[i] - s[j] > mx) mx = s[i] - s[j];
    double z = exp(-mx);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            if (lab[i] < lab[j]) z += exp(s[i] - s[j] - mx);
    double L = mx + log(z);
    *loss = L;
    if (b->grads) {
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                if (lab[i] < lab[j]) {
                    double w = exp(s[i] - s[j] - L);
                    ds[i] += w;
                    ds[j] -= w;
                }
        for (size_t k = 1; k < nc; k++)
            for (size_t i = 0; i < B; i++) {
                size_t p = (k - 1) * B + i;
                angle_sim(x + i * D, x + (k * B + i) * D, D, ds[p] * scale, gx + i * D, gx + (k * B + i) * D);
            }
        for (size_t c = 0; c < nc; c++)
            lu_normalize_backward(x + c * B * D, nx + c * B, gx + c * B * D, B, D, D, LU_NORMALIZE_EPS, b->grads[c]);
    }
done:
    free(x); free(nx); free(gx); free(s); free(lab); free(ds);
    return st;
}
