/*
 * losses/batch_triplet.c -- the batch triplet losses of sentence-transformers
 * over ONE text column and an integer class label per row (use the
 * GROUP_BY_LABEL batch sampler, so every batch holds several rows per class):
 *
 *   D = pairwise distances of the batch (BatchHardTripletLossDistanceFunction):
 *     euclidean_distance: D_ij = sqrt(|e_i|^2 - 2 e_i.e_j + |e_j|^2), values
 *       below 0 set to 0, exact zeros stay 0 with no gradient (the diagonal);
 *     cosine_distance: 1 - cos_sim(e, e)  (F.normalize eps 1e-12).
 *
 *   BatchAllTripletLoss(margin=5): every (a, p, n) with label a == label p,
 *     a != p, label n != label a: t = relu(D_ap - D_an + margin);
 *     loss = sum t / (#{t > 1e-16} + 1e-16).
 *   BatchHardTripletLoss(margin=5): per anchor the farthest positive and the
 *     closest negative: hp_a = max_j mask_ap * D_aj, hn_a = min_j (D_aj +
 *     max_k D_ak * (1 - mask_an)); loss = mean relu(hp - hn + margin).
 *   BatchHardSoftMarginTripletLoss: the same with softplus(hp - hn).
 *   BatchSemiHardTripletLoss(margin=5): per positive pair (a, p) the closest
 *     negative farther than D_ap (else the farthest negative); loss =
 *     sum max(D_ap - D_an + margin, 0) / #positive pairs.
 *
 * Gradients follow torch's choices exactly: max/min pick the first index of
 * a tie; `x[x < 0] = 0` passes the gradient where x == 0; torch.max(x, 0)
 * gives half the gradient to a tie; the sort is stable.
 */
#include "losses/loss_util.h"
#include "losses/st_losses.h"

enum { DIST_EUCLIDEAN = 0, DIST_COSINE = 1, DIST_EUCLIDEAN_ALIAS = 2 };

typedef struct {
    size_t B, D;
    int cosine;
    double *e;    /* [B, D] rows (normalized for cosine) */
    double *nrm;  /* [B] norms (cosine) */
    double *dist; /* [B, B] */
    double *G;    /* [B, B] dL/dD */
} pdist;

static void pdist_free(pdist *p) {
    free(p->e);
    free(p->nrm);
    free(p->dist);
    free(p->G);
}

static sbert_status pdist_init(pdist *p, const sbert_loss_batch *b, const char *who) {
    memset(p, 0, sizeof *p);
    p->B = b->B;
    p->D = b->dim;
    p->cosine = (int)LU_P(b, 0) == DIST_COSINE;
    const size_t B = p->B, D = p->D;
    if (B == 0 || D == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "%s: empty batch", who);
    p->e = lu_dalloc(B * D, who);
    p->nrm = lu_dalloc(B, who);
    p->dist = lu_dalloc(B * B, who);
    p->G = lu_dalloc(B * B, who);
    if (!p->e || !p->nrm || !p->dist || !p->G) {
        pdist_free(p);
        return SBERT_ERR_NOMEM;
    }
    lu_normalize(b->cols[0], B, D, D, p->cosine ? LU_NORMALIZE_EPS : 0, p->e, p->nrm);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) p->dist[i * B + j] = lu_dot(p->e + i * D, p->e + j * D, D);
    if (p->cosine) {
        for (size_t i = 0; i < B * B; i++) p->dist[i] = 1.0 - p->dist[i];
    } else {
        double *sq = lu_dalloc(B, who);
        if (!sq) {
            pdist_free(p);
            return SBERT_ERR_NOMEM;
        }
        for (size_t i = 0; i < B; i++) sq[i] = p->dist[i * B + i];
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                /* torch: square_norm[j] - 2 dot + square_norm[i] */
                double v = sq[j] - 2.0 * p->dist[i * B + j] + sq[i];
                p->dist[i * B + j] = v < 0 ? 0.0 : sqrt(v);
            }
        free(sq);
    }
    return SBERT_OK;
}

/* Carry G = dL/dD back to the embeddings. */
static void pdist_backward(pdist *p, float *grad) {
    const size_t B = p->B, D = p->D;
    double *ge = calloc(B * D, sizeof *ge);
    if (!ge) return; /* cannot happen in practice; the loss value is still right */
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) {
            double g = p->G[i * B + j];
            if (g == 0) continue;
            const double *ei = p->e + i * D, *ej = p->e + j * D;
            if (p->cosine) { /* D = 1 - e_i.e_j */
                for (size_t k = 0; k < D; k++) {
                    ge[i * D + k] -= g * ej[k];
                    ge[j * D + k] -= g * ei[k];
                }
            } else {
                double d = p->dist[i * B + j];
                if (d == 0) continue; /* masked zero: no gradient */
                for (size_t k = 0; k < D; k++) {
                    double t = (ei[k] - ej[k]) / d;
                    ge[i * D + k] += g * t;
                    ge[j * D + k] -= g * t;
                }
            }
        }
    lu_normalize_backward(p->e, p->nrm, ge, B, D, D, p->cosine ? LU_NORMALIZE_EPS : 0, grad);
    free(ge);
}

/* Hardest positive / negative of anchor a; adds g * their gradients into G. */
static void batch_hard_row(pdist *p, const float *lab, size_t a, double *hp, double *hn, size_t *ip, size_t *in,
                           size_t *imax, double *mx) {
    const size_t B = p->B;
    const double *d = p->dist + a * B;
    /* hardest positive: max_j mask_ap * D (first index of the max) */
    *hp = -INFINITY;
    for (size_t j = 0; j < B; j++) {
        double v = (j != a && lab[j] == lab[a]) ? d[j] : 0.0;
        if (v > *hp) { *hp = v; *ip = j; }
    }
    *mx = -INFINITY;
    for (size_t j = 0; j < B; j++)
        if (d[j] > *mx) { *mx = d[j]; *imax = j; }
    *hn = INFINITY;
    for (size_t j = 0; j < B; j++) {
        double v = d[j] + *mx * (lab[j] != lab[a] ? 0.0 : 1.0);
        if (v < *hn) { *hn = v; *in = j; }
    }
}

static sbert_status batch_hard(const sbert_loss_batch *b, double *loss, int soft, const char *who) {
    pdist p;
    SBERT_TRY(pdist_init(&p, b, who));
    const size_t B = p.B;
    const double margin = soft ? 0 : LU_P(b, 1);
    double L = 0;
    for (size_t a = 0; a < B; a++) {
        double hp, hn, mx;
        size_t ip = 0, in = 0, imax = 0;
        batch_hard_row(&p, b->labels, a, &hp, &hn, &ip, &in, &imax, &mx);
        double x = hp - hn, g;
        if (soft) {
            L += x > 20 ? x : log1p(exp(x)); /* F.softplus, threshold 20 */
            g = x > 20 ? 1.0 : 1.0 / (1.0 + exp(-x));
        } else {
            double t = x + margin;
            L += t > 0 ? t : 0.0;
            g = t >= 0 ? 1.0 : 0.0; /* tl[tl < 0] = 0 keeps the gradient at 0 */
        }
        g /= (double)B;
        if (g == 0) continue;
        /* hp = mask_ap[ip] * D[a, ip] */
        if (ip != a && b->labels[ip] == b->labels[a]) p.G[a * B + ip] += g;
        /* hn = D[a, in] + mx * (1 - mask_an[in]) */
        p.G[a * B + in] -= g;
        if (b->labels[in] == b->labels[a]) p.G[a * B + imax] -= g;
    }
    *loss = L / (double)B;
    if (b->grads) pdist_backward(&p, b->grads[0]);
    pdist_free(&p);
    return SBERT_OK;
}

sbert_status sbert_loss_batch_hard_triplet(const sbert_loss_batch *b, double *loss) {
    return batch_hard(b, loss, 0, "BatchHardTripletLoss");
}

sbert_status sbert_loss_batch_hard_soft_margin_triplet(const sbert_loss_batch *b, double *loss) {
    return batch_hard(b, loss, 1, "BatchHardSoftMarginTripletLoss");
}

sbert_status sbert_loss_batch_all_triplet(const sbert_loss_batch *b, double *loss) {
    pdist p;
    SBERT_TRY(pdist_init(&p, b, "BatchAllTripletLoss"));
    const size_t B = p.B;
    const float *lab = b->labels;
    const double margin = LU_P(b, 1);
    double sum = 0;
    size_t count = 0;
    for (size_t a = 0; a < B; a++)
        for (size_t q = 0; q < B; q++) {
            if (q == a || lab[q] != lab[a]) continue;
            for (size_t k = 0; k < B; k++) {
                if (lab[k] == lab[a]) continue;
                double t = p.dist[a * B + q] - p.dist[a * B + k] + margin;
                if (t > 0) sum += t;
                if (t > 1e-16) count++;
            }
        }
    double denom = (double)count + 1e-16;
    *loss = sum / denom;
    if (b->grads) {
        for (size_t a = 0; a < B; a++)
            for (size_t q = 0; q < B; q++) {
                if (q == a || lab[q] != lab[a]) continue;
                for (size_t k = 0; k < B; k++) {
                    if (lab[k] == lab[a]) continue;
                    double t = p.dist[a * B + q] - p.dist[a * B + k] + margin;
                    if (t >= 0) {
                        p.G[a * B + q] += 1.0 / denom;
                        p.G[a * B + k] -= 1.0 / denom;
                    }
                }
            }
        pdist_backward(&p, b->grads[0]);
    }
    pdist_free(&p);
    return SBERT_OK;
}

sbert_status sbert_loss_batch_semi_hard_triplet(const sbert_loss_batch *b, double *loss) {
    pdist p;
    SBERT_TRY(pdist_init(&p, b, "BatchSemiHardTripletLoss"));
    const size_t B = p.B;
    const float *lab = b->labels;
    const double margin = LU_P(b, 1);
    double sum = 0;
    size_t n_pos = 0;
    for (size_t a = 0; a < B; a++)
        for (size_t q = 0; q < B; q++)
            if (q != a && lab[q] == lab[a]) n_pos++;
    double denom = n_pos ? (double)n_pos : 1e-16;
    for (size_t a = 0; a < B; a++) {
        const double *d = p.dist + a * B;
        for (size_t q = 0; q < B; q++) {
            if (q == a || lab[q] != lab[a]) continue;
            /* outside: the smallest negative distance > D_ap (stable: first index of that value) */
            size_t io = B;
            for (size_t k = 0; k < B; k++)
                if (lab[k] != lab[a] && d[k] > d[q] && (io == B || d[k] < d[io])) io = k;
            size_t is;
            if (io < B) {
                is = io;
            } else {
                /* inside: max over negatives of (D - min) + min; no negative: the row min */
                size_t imin = 0;
                for (size_t k = 1; k < B; k++)
                    if (d[k] < d[imin]) imin = k;
                size_t im = B;
                double best = -INFINITY;
                for (size_t k = 0; k < B; k++) {
                    double v = (d[k] - d[imin]) * (lab[k] != lab[a] ? 1.0 : 0.0);
                    if (v > best) { best = v; im = k; }
                }
                is = lab[im] != lab[a] ? im : imin;
            }
            double t = d[q] - d[is] + margin;
            double g = t > 0 ? 1.0 : (t == 0 ? 0.5 : 0.0);
            if (t > 0) sum += t;
            if (b->grads && g != 0) {
                p.G[a * B + q] += g / denom;
                p.G[a * B + is] -= g / denom;
            }
        }
    }
    *loss = sum / denom;
    if (b->grads) pdist_backward(&p, b->grads[0]);
    pdist_free(&p);
    return SBERT_OK;
}
