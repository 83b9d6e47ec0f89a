/*
 * losses/contrastive_distance.c -- the siamese distance losses of
 * sentence-transformers on (sentence1, sentence2, label in {0, 1}):
 *
 *   ContrastiveLoss(distance_metric=COSINE_DISTANCE, margin=0.5, size_average=True)
 *     loss_i = 0.5 (y_i d_i^2 + (1 - y_i) relu(margin - d_i)^2),  mean (sum without size_average)
 *   OnlineContrastiveLoss(distance_metric=COSINE_DISTANCE, margin=0.5)
 *     positives P = {d_i: y_i == 1}, negatives N = {d_i: y_i == 0} (other labels: neither)
 *     hard N: d < (max P if P else mean N);  hard P: d > (min N if N else mean P)
 *     loss = sum_{hard P} d^2 + sum_{hard N} relu(margin - d)^2      (a SUM)
 *
 * SiameseDistanceMetric:
 *   COSINE_DISTANCE  1 - F.cosine_similarity(x, y)          (eps 1e-8)
 *   EUCLIDEAN        F.pairwise_distance(x, y, p=2) = ||x - y + 1e-6||_2
 *   MANHATTAN        F.pairwise_distance(x, y, p=1) = ||x - y + 1e-6||_1
 * relu'(0) = 0 and |t|'(0) = 0, as torch.
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

enum { M_COSINE = 0, M_EUCLIDEAN, M_MANHATTAN }; /* the choice order in loss_table.c */
#define PAIRWISE_EPS 1e-6

/* d(x, y) and, when gx is given, g * dd/dx into gx and g * dd/dy into gy (double [D]). */
static double distance(const float *x, const float *y, size_t D, int metric, double g, double *gx, double *gy) {
    if (metric == M_COSINE) {
        double xx = 0, yy = 0, xy = 0;
        for (size_t k = 0; k < D; k++) {
            xx += (double)x[k] * x[k];
            yy += (double)y[k] * y[k];
            xy += (double)x[k] * y[k];
        }
        double nx = fmax(sqrt(xx), LU_COSINE_EPS), ny = fmax(sqrt(yy), LU_COSINE_EPS);
        double cs = xy / (nx * ny);
        if (gx && g != 0)
            for (size_t k = 0; k < D; k++) {
                gx[k] += -g * (y[k] / (nx * ny) - cs * x[k] / (nx * nx));
                gy[k] += -g * (x[k] / (nx * ny) - cs * y[k] / (ny * ny));
            }
        return 1.0 - cs;
    }
    double s = 0;
    for (size_t k = 0; k < D; k++) {
        double t = (double)x[k] - y[k] + PAIRWISE_EPS;
        s += metric == M_EUCLIDEAN ? t * t : fabs(t);
    }
    double d = metric == M_EUCLIDEAN ? sqrt(s) : s;
    if (gx && g != 0)
        for (size_t k = 0; k < D; k++) {
            double t = (double)x[k] - y[k] + PAIRWISE_EPS;
            double dd = metric == M_EUCLIDEAN ? (d > 0 ? t / d : 0.0) : (double)((t > 0) - (t < 0));
            gx[k] += g * dd;
            gy[k] -= g * dd;
        }
    return d;
}

/* Add g * dd_i/d(u_i, v_i) into the float gradients. */
static void pair_grad(const sbert_loss_batch *b, size_t i, int metric, double g, double *scratch) {
    const size_t D = b->dim;
    double *gx = scratch, *gy = scratch + D;
    memset(scratch, 0, 2 * D * sizeof *scratch);
    distance(b->cols[0] + i * D, b->cols[1] + i * D, D, metric, g, gx, gy);
    for (size_t k = 0; k < D; k++) {
        b->grads[0][i * D + k] += (float)gx[k];
        b->grads[1][i * D + k] += (float)gy[k];
    }
}

sbert_status sbert_loss_contrastive(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim;
    const int metric = (int)LU_P(b, 0);
    const double margin = LU_P(b, 1);
    const int size_average = LU_P(b, 2) != 0;
    if (B == 0 || D == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "ContrastiveLoss: empty batch");
    double *scratch = lu_dalloc(2 * D, "ContrastiveLoss");
    if (!scratch) return SBERT_ERR_NOMEM;
    const double red = size_average ? 1.0 / (double)B : 1.0;
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        double y = b->labels[i];
        double d = distance(b->cols[0] + i * D, b->cols[1] + i * D, D, metric, 0, NULL, NULL);
        double h = margin - d;
        L += 0.5 * (y * d * d + (1 - y) * (h > 0 ? h * h : 0.0));
        if (b->grads) {
            double g = y * d - (1 - y) * (h > 0 ? h : 0.0); /* d(loss_i)/dd */
            pair_grad(b, i, metric, g * red, scratch);
        }
    }
    *loss = L * red;
    free(scratch);
    return SBERT_OK;
}

sbert_status sbert_loss_online_contrastive(const sbert_loss_batch *b, double *loss) {
    const size_t B = b->B, D = b->dim;
    const int metric = (int)LU_P(b, 0);
    const double margin = LU_P(b, 1);
    if (B == 0 || D == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "OnlineContrastiveLoss: empty batch");
    double *d = lu_dalloc(B, "OnlineContrastiveLoss"), *scratch = lu_dalloc(2 * D, "OnlineContrastiveLoss");
    if (!d || !scratch) {
        free(d);
        free(scratch);
        return SBERT_ERR_NOMEM;
    }
    size_t np = 0, nn = 0;
    double pmax = -INFINITY, nmin = INFINITY, psum = 0, nsum = 0;
    for (size_t i = 0; i < B; i++) {
        d[i] = distance(b->cols[0] + i * D, b->cols[1] + i * D, D, metric, 0, NULL, NULL);
        if (b->labels[i] == 1) {
            np++;
            psum += d[i];
            if (d[i] > pmax) pmax = d[i];
        } else if (b->labels[i] == 0) {
            nn++;
            nsum += d[i];
            if (d[i] < nmin) nmin = d[i];
        }
    }
    /* torch: negs < (poss.max() if len(poss) else negs.mean()); an empty mean is NaN (nothing passes) */
    double neg_bound = np ? pmax : (nn ? nsum / (double)nn : NAN);
    double pos_bound = nn ? nmin : (np ? psum / (double)np : NAN);
    double L = 0;
    for (size_t i = 0; i < B; i++) {
        if (b->labels[i] == 1 && d[i] > pos_bound) {
            L += d[i] * d[i];
            if (b->grads) pair_grad(b, i, metric, 2 * d[i], scratch);
        } else if (b->labels[i] == 0 && d[i] < neg_bound) {
            double h = margin - d[i];
            if (h > 0) {
                L += h * h;
                if (b->grads) pair_grad(b, i, metric, -2 * h, scratch);
            }
        }
    }
    *loss = L;
    free(d);
    free(scratch);
    return SBERT_OK;
}
