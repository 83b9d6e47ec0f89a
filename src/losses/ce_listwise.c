/*
 * losses/ce_listwise.c -- the listwise and pairwise CrossEncoder losses of
 * sentence-transformers v6.2 (see ce_losses.h): LambdaLoss (and RankNetLoss,
 * its NoWeightingScheme case), ListNetLoss, PListMLELoss / ListMLELoss and
 * ADRMSELoss, over a score matrix S [B, M] whose padding is marked by
 * non-finite labels. Each follows the Python code step by step (padding
 * values, clamps, masks, reductions) and adds the analytic gradient. Sorts
 * are stable (ties keep their order); torch's may order exact ties
 * differently, which changes LambdaLoss only for tied logits and
 * PListMLELoss(respect_input_order=False) only for tied labels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "losses/ce_losses.h"

static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
/* log(sigmoid(x)) */
static double log_sigmoid(double x) { return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)); }

static sbert_status nomem(const char *what) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (%s)", what); }

/* Descending order of v[0..n) into idx (stable). */
typedef struct {
    double v;
    size_t i;
} vi;
static int cmp_desc(const void *a, const void *b) {
    const vi *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return x->i < y->i ? -1 : (x->i > y->i);
}
static void argsort_desc(const double *v, size_t n, size_t *idx, vi *tmp) {
    for (size_t i = 0; i < n; i++) tmp[i] = (vi){v[i], i};
    qsort(tmp, n, sizeof *tmp, cmp_desc);
    for (size_t i = 0; i < n; i++) idx[i] = tmp[i].i;
}

/* --------------------------------------------------------------- Lambda */

sbert_status sbert_ce_loss_lambda(const float *S, const float *Y, size_t B, size_t M, const sbert_lambda_config *c,
                                  float *g, double *loss) {
    if (B == 0 || M == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "LambdaLoss: empty batch");
    const size_t k = c->k && c->k < M ? c->k : M;
    double *s = malloc(M * sizeof *s), *ls = malloc(M * sizeof *ls), *t = malloc(M * sizeof *t);
    double *ys = malloc(M * sizeof *ys), *gain = malloc(M * sizeof *gain), *D = malloc((M + 2) * sizeof *D);
    double *dsl = malloc(M * sizeof *dsl);
    size_t *ip = malloc(M * sizeof *ip), *iy = malloc(M * sizeof *iy);
    vi *tmp = malloc(M * sizeof *tmp);
    unsigned char *mask = malloc(M * M);
    if (!s || !ls || !t || !ys || !gain || !D || !dsl || !ip || !iy || !tmp || !mask) {
        free(s), free(ls), free(t), free(ys), free(gain), free(D), free(dsl), free(ip), free(iy), free(tmp);
        free(mask);
        return nomem("LambdaLoss");
    }
    for (size_t p = 1; p <= M + 1; p++) D[p] = log2(1.0 + (double)p); /* D[p]: 1-based position p */
    const double lnorm = c->binary_log ? log(2.0) : 1.0;
    double total = 0;
    size_t count = 0;
    /* Pass 0: the loss sum and the number of masked pairs (the mean's
     * divisor); pass 1: the gradients, which need that count. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t b = 0; b < B; b++) {
            const float *Sr = S + b * M, *Yr = Y + b * M;
            for (size_t j = 0; j < M; j++) {
                s[j] = isfinite(Yr[j]) ? (double)Sr[j] : -1e16;
                ys[j] = isfinite(Yr[j]) ? (double)Yr[j] : -INFINITY;
            }
            argsort_desc(s, M, ip, tmp);
            for (size_t j = 0; j < M; j++) {
                ls[j] = s[ip[j]];
                t[j] = ys[ip[j]];
            }
            argsort_desc(ys, M, iy, tmp);
            /* masks use the labels before clamping */
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < M; j++) {
                    double d = t[i] - t[j];
                    int m = isfinite(d) && (c->scheme == SBERT_LAMBDA_NDCG1 || d > 0) && (i < k || j < k);
                    mask[i * M + j] = (unsigned char)m;
                }
            double maxdcg = 0;
            for (size_t p = 0; p < k; p++) {
                double l = ys[iy[p]];
                l = l > 0 ? l : 0; /* clamp(min=0): -inf padding -> 0 */
                maxdcg += (pow(2.0, l) - 1.0) / D[p + 1];
            }
            if (maxdcg < c->eps) maxdcg = c->eps;
            for (size_t p = 0; p < M; p++) {
                double l = t[p] > 0 ? t[p] : 0;
                gain[p] = (pow(2.0, l) - 1.0) / maxdcg;
            }
            for (size_t i = 0; i < M; i++) dsl[i] = 0;
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < M; j++) {
                    if (!mask[i * M + j]) continue;
                    double w;
                    double dg = fabs(gain[i] - gain[j]);
                    double lr = fabs(1.0 / D[i + 1] - 1.0 / D[j + 1]) * dg;
                    size_t dd = i > j ? i - j : j - i;
                    double n2 = dd ? fabs(1.0 / D[dd] - 1.0 / D[dd + 1]) * dg : 0.0;
                    switch (c->scheme) {
                    case SBERT_LAMBDA_NDCG2PP: w = c->mu * n2 + lr; break;
                    case SBERT_LAMBDA_NDCG2: w = n2; break;
                    case SBERT_LAMBDA_LAMBDARANK: w = lr; break;
                    case SBERT_LAMBDA_NDCG1: w = gain[i] / D[i + 1]; break;
                    default: w = 1.0; break;
                    }
                    double diff = ls[i] - ls[j];
                    int clamped = diff > 1e8 || diff < -1e8;
                    if (diff > 1e8) diff = 1e8;
                    if (diff < -1e8) diff = -1e8;
                    if (pass == 0) {
                        total += w * log_sigmoid(c->sigma * diff) / lnorm;
                        count++;
                    } else if (!clamped) {
                        /* d/d diff of -w*logsig(sigma*diff)/lnorm/count */
                        double gd = -w * c->sigma * sigmoid(-c->sigma * diff) / lnorm / (double)count;
                        dsl[i] += gd;
                        dsl[j] -= gd;
                    }
                }
            if (pass == 1)
                for (size_t i = 0; i < M; i++)
                    if (isfinite(Yr[ip[i]])) g[b * M + ip[i]] += (float)dsl[i];
        }
        if (pass == 0) {
            if (count == 0) count = 1;
            *loss = -total / (double)count;
            if (!g) break;
        }
    }
    free(s), free(ls), free(t), free(ys), free(gain), free(D), free(dsl), free(ip), free(iy), free(tmp);
    free(mask);
    return SBERT_OK;
}

/* --------------------------------------------------------------- ListNet */

sbert_status sbert_ce_loss_listnet(const float *S, const float *Y, size_t B, size_t M, float *g, double *loss) {
    if (B == 0 || M == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "ListNetLoss: empty batch");
    double sum = 0;
    for (size_t b = 0; b < B; b++) {
        const float *Sr = S + b * M, *Yr = Y + b * M;
        double mz = -INFINITY, my = -INFINITY, sz = 0, sy = 0;
        for (size_t j = 0; j < M; j++) {
            double z = isfinite(Yr[j]) ? (double)Sr[j] : -1e16;
            mz = z > mz ? z : mz;
            if (isfinite(Yr[j]) && Yr[j] > my) my = Yr[j];
        }
        for (size_t j = 0; j < M; j++) {
            double z = isfinite(Yr[j]) ? (double)Sr[j] : -1e16;
            sz += exp(z - mz);
            if (isfinite(Yr[j])) sy += exp(Yr[j] - my);
        }
        double lz = mz + log(sz);
        for (size_t j = 0; j < M; j++) {
            double z = isfinite(Yr[j]) ? (double)Sr[j] : -1e16;
            double p = isfinite(Yr[j]) ? exp(Yr[j] - my) / sy : 0.0;
            sum -= p * (z - lz);
            if (g && isfinite(Yr[j])) g[b * M + j] += (float)((exp(z - lz) - p) / (double)B);
        }
    }
    *loss = sum / (double)B;
    return SBERT_OK;
}

/* -------------------------------------------------------------- PListMLE */

sbert_status sbert_ce_loss_plistmle(const float *S, const float *Y, size_t B, size_t M, int lambda_weight,
                                    int respect_input_order, float *g, double *loss) {
    if (B == 0 || M == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "PListMLELoss: empty batch");
    double *s = malloc(M * sizeof *s), *ln = malloc(M * sizeof *ln), *w = malloc(M * sizeof *w);
    double *y = malloc(M * sizeof *y), *ds = malloc(M * sizeof *ds);
    size_t *idx = malloc(M * sizeof *idx);
    double *per_q = malloc(B * sizeof *per_q);
    vi *tmp = malloc(M * sizeof *tmp);
    float *gq = g ? calloc(B * M, sizeof *gq) : NULL;
    if (!s || !ln || !w || !y || !ds || !idx || !per_q || !tmp || (g && !gq)) {
        free(s), free(ln), free(w), free(y), free(ds), free(idx), free(per_q), free(tmp), free(gq);
        return nomem("PListMLELoss");
    }
    int any_doc = 0;
    for (size_t b = 0; b < B; b++) {
        const float *Sr = S + b * M, *Yr = Y + b * M;
        size_t n = 0;
        for (size_t j = 0; j < M; j++) {
            y[j] = isfinite(Yr[j]) ? (double)Yr[j] : -INFINITY;
            n += isfinite(Yr[j]) != 0;
        }
        any_doc |= n > 0;
        if (respect_input_order) {
            for (size_t j = 0; j < M; j++) idx[j] = j;
        } else {
            argsort_desc(y, M, idx, tmp);
        }
        /* sorted valid logits (padding sits at the tail either way) */
        for (size_t j = 0; j < M; j++) s[j] = isfinite(Yr[idx[j]]) ? (double)Sr[idx[j]] : -INFINITY;
        /* log_normalizers[i] = log sum_{j >= i, valid} exp(s_j) */
        double run = -INFINITY;
        for (size_t j = M; j-- > 0;) {
            if (isfinite(s[j])) run = run == -INFINITY ? s[j] : fmax(run, s[j]) + log1p(exp(-fabs(run - s[j])));
            ln[j] = run;
        }
        /* lambda weights over the first n positions (mask of the input order) */
        double wsum = 0;
        for (size_t j = 0; j < M; j++) {
            int valid = isfinite(Yr[j]);
            if (!lambda_weight) {
                w[j] = 1.0;
                continue;
            }
            double sc = (double)n - 127.0 > 0 ? (double)n - 127.0 : 0.0;
            w[j] = valid ? pow(2.0, (double)n - (double)(j + 1) - sc) - pow(2.0, -sc) : 0.0;
            wsum += w[j];
        }
        if (lambda_weight)
            for (size_t j = 0; j < M; j++) w[j] /= wsum + 1e-10;
        double lq = 0;
        for (size_t j = 0; j < M; j++) ds[j] = 0;
        for (size_t i = 0; i < M; i++) {
            if (!isfinite(s[i])) continue;
            lq -= w[i] * (s[i] - ln[i]);
            /* d/ds_j of -w_i (s_i - ln_i): -w_i [j == i] + w_i softmax_{j >= i}(s)_j */
            ds[i] -= w[i];
            for (size_t j = i; j < M; j++)
                if (isfinite(s[j])) ds[j] += w[i] * exp(s[j] - ln[i]);
        }
        per_q[b] = lq;
        if (gq)
            for (size_t j = 0; j < M; j++)
                if (isfinite(s[j])) gq[b * M + idx[j]] = (float)(ds[j] / (double)B);
    }
    int any_loss = 0;
    double sum = 0;
    for (size_t b = 0; b < B; b++) {
        any_loss |= per_q[b] != 0;
        sum += per_q[b];
    }
    /* Python returns a constant 0 (no gradient) without documents or when every query's loss is 0. */
    *loss = any_doc && any_loss ? sum / (double)B : 0.0;
    if (g && any_doc && any_loss)
        for (size_t i = 0; i < B * M; i++) g[i] += gq[i];
    free(s), free(ln), free(w), free(y), free(ds), free(idx), free(per_q), free(tmp), free(gq);
    return SBERT_OK;
}

/* ---------------------------------------------------------------- ADRMSE */

sbert_status sbert_ce_loss_adrmse(const float *S, const float *Y, size_t B, size_t M, double alpha, float *g,
                                  double *loss) {
    if (B == 0 || M == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "ADRMSELoss: empty batch");
    size_t n_valid = 0;
    for (size_t i = 0; i < B * M; i++) n_valid += isfinite(Y[i]) != 0;
    if (n_valid == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "ADRMSELoss: no documents in the batch");
    double sum = 0;
    for (size_t b = 0; b < B; b++) {
        const float *Sr = S + b * M, *Yr = Y + b * M;
        for (size_t i = 0; i < M; i++) {
            if (!isfinite(Yr[i])) continue;
            double greater = 0, equal = 0, approx = 1.0 - 0.5;
            for (size_t j = 0; j < M; j++) {
                if (!isfinite(Yr[j])) continue;
                greater += Yr[j] > Yr[i];
                equal += Yr[j] == Yr[i];
                approx += sigmoid(alpha * ((double)Sr[j] - Sr[i]));
            }
            double tr = greater + (equal + 1.0) / 2.0;
            double disc = 1.0 / log2(tr + 1.0);
            double e = tr - approx;
            sum += disc * e * e;
            if (!g) continue;
            /* d/d approx_i, then approx_i = 1 + sum_j sig(alpha (s_j - s_i)) - 0.5 */
            double ca = -2.0 * disc * e / (double)n_valid;
            for (size_t j = 0; j < M; j++) {
                if (!isfinite(Yr[j]) || j == i) continue;
                double sg = sigmoid(alpha * ((double)Sr[j] - Sr[i]));
                double d = ca * alpha * sg * (1.0 - sg);
                g[b * M + j] += (float)d;
                g[b * M + i] -= (float)d;
            }
        }
    }
    *loss = sum / (double)n_valid;
    return SBERT_OK;
}
