/*
 * evaluation/ce_metrics.c -- the metric math of the CrossEncoder evaluators
 * (see ce_metrics.h), written after sentence-transformers v6.2's
 * CrossEncoderRerankingEvaluator.compute_metrics,
 * BinaryClassificationEvaluator's threshold sweeps and scikit-learn's
 * ndcg_score / average_precision_score / f1_score.
 */
#include "evaluation/ce_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static sbert_status nomem(void) { return sbert_fail(SBERT_ERR_NOMEM, "out of memory (metrics)"); }

typedef struct {
    double v;
    size_t i;
} vi;

/* descending score; ties: higher index first (np.argsort(x)[::-1] of a stable sort) */
static int cmp_desc_rev(const void *a, const void *b) {
    const vi *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return x->i < y->i ? 1 : (x->i > y->i ? -1 : 0);
}
/* descending score; ties: lower index first (Python's stable sorted(reverse=True)) */
static int cmp_desc(const void *a, const void *b) {
    const vi *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

double sbert_ce_average_precision(const int *labels, const double *scores, size_t n) {
    vi *o = malloc((n ? n : 1) * sizeof *o);
    if (!o) return NAN;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        o[i] = (vi){scores[i], i};
        pos += labels[i] != 0;
    }
    qsort(o, n, sizeof *o, cmp_desc);
    double ap = 0, prev_recall = 0, tp = 0, fp = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[o[i].i]) tp++;
        else fp++;
        if (i + 1 < n && o[i + 1].v == o[i].v) continue; /* one threshold per distinct score */
        double recall = pos ? tp / (double)pos : NAN, precision = tp / (tp + fp);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    free(o);
    return pos ? ap : NAN;
}

sbert_status sbert_rerank_metrics(const int *is_rel, const double *scores, size_t n, size_t k, double *mrr,
                                  double *ndcg, double *ap) {
    vi *o = malloc((n ? n : 1) * sizeof *o);
    double *rel_sorted = malloc((n ? n : 1) * sizeof *rel_sorted);
    if (!o || !rel_sorted) {
        free(o);
        free(rel_sorted);
        return nomem();
    }
    for (size_t i = 0; i < n; i++) o[i] = (vi){scores[i], i};
    qsort(o, n, sizeof *o, cmp_desc_rev);
    *mrr = 0;
    for (size_t r = 0; r < n && r < k; r++)
        if (is_rel[o[r].i]) {
            *mrr = 1.0 / (double)(r + 1);
            break;
        }
    /* sklearn's tie-averaged DCG: a group of tied scores shares its mean gain
     * over the discounts of the positions it spans (within k). */
    double dcg = 0;
    for (size_t s = 0; s < n;) {
        size_t e = s + 1;
        while (e < n && o[e].v == o[s].v) e++;
        double gain = 0, disc = 0;
        for (size_t r = s; r < e; r++) {
            gain += is_rel[o[r].i];
            if (r < k) disc += 1.0 / log2((double)r + 2.0);
        }
        dcg += gain / (double)(e - s) * disc;
        s = e;
    }
    size_t n_rel = 0;
    for (size_t i = 0; i < n; i++) n_rel += is_rel[i] != 0;
    double idcg = 0;
    for (size_t r = 0; r < n_rel && r < k; r++) idcg += 1.0 / log2((double)r + 2.0);
    *ndcg = idcg > 0 ? dcg / idcg : 0.0;
    *ap = sbert_ce_average_precision(is_rel, scores, n);
    free(o);
    free(rel_sorted);
    return SBERT_OK;
}

sbert_status sbert_best_accuracy(const float *scores, const int *labels, size_t n, double *acc, double *threshold) {
    vi *o = malloc((n ? n : 1) * sizeof *o);
    if (!o) return nomem();
    size_t neg = 0;
    for (size_t i = 0; i < n; i++) {
        o[i] = (vi){scores[i], i};
        neg += labels[i] == 0;
    }
    qsort(o, n, sizeof *o, cmp_desc);
    double max_acc = 0, best = -1;
    size_t pos_so_far = 0, remaining_neg = neg;
    if (n) {
        max_acc = (double)remaining_neg / (double)n;
        best = (double)nextafterf((float)o[0].v, INFINITY);
    }
    for (size_t i = 0; i < n; i++) {
        int label = labels[o[i].i];
        if (label == 1) pos_so_far++;
        else remaining_neg--;
        int last = i + 1 == n;
        if (!last && o[i + 1].v == o[i].v) continue;
        double a = (double)(pos_so_far + remaining_neg) / (double)n;
        if (a > max_acc) {
            max_acc = a;
            float sc = (float)o[i].v;
            float th = last ? sc : ((float)o[i].v + (float)o[i + 1].v) / 2.0f;
            if (!last && th == (float)o[i + 1].v) th = sc;
            best = th;
        }
    }
    free(o);
    *acc = max_acc;
    *threshold = best;
    return SBERT_OK;
}

sbert_status sbert_best_f1(const float *scores, const int *labels, size_t n, double *f1, double *precision,
                           double *recall, double *threshold) {
    vi *o = malloc((n ? n : 1) * sizeof *o);
    if (!o) return nomem();
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        o[i] = (vi){scores[i], i};
        total += labels[i] == 1;
    }
    qsort(o, n, sizeof *o, cmp_desc);
    double best_f1 = 0, best_p = 0, best_r = 0, th = 0;
    size_t extract = 0, correct = 0;
    for (size_t i = 0; i < n; i++) {
        extract++;
        if (labels[o[i].i] == 1) correct++;
        int last = i + 1 == n;
        if (!last && o[i + 1].v == o[i].v) continue;
        if (correct > 0) {
            double p = (double)correct / (double)extract, r = (double)correct / (double)total;
            double f = 2 * p * r / (p + r);
            if (f > best_f1) {
                best_f1 = f;
                best_p = p;
                best_r = r;
                float sc = (float)o[i].v;
                float t = last ? sc : ((float)o[i].v + (float)o[i + 1].v) / 2.0f;
                if (!last && t == (float)o[i + 1].v) t = sc;
                th = t;
            }
        }
    }
    free(o);
    *f1 = best_f1;
    *precision = best_p;
    *recall = best_r;
    *threshold = th;
    return SBERT_OK;
}

sbert_status sbert_f1_averages(const int *truth, const int *pred, size_t n, double *macro, double *micro,
                               double *weighted) {
    int mx = 0;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0 || pred[i] < 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "f1: negative class id");
        mx = truth[i] > mx ? truth[i] : mx;
        mx = pred[i] > mx ? pred[i] : mx;
    }
    size_t C = (size_t)mx + 1;
    size_t *tp = calloc(C, sizeof *tp), *fp = calloc(C, sizeof *fp), *fn = calloc(C, sizeof *fn);
    if (!tp || !fp || !fn) {
        free(tp), free(fp), free(fn);
        return nomem();
    }
    for (size_t i = 0; i < n; i++) {
        if (truth[i] == pred[i]) tp[truth[i]]++;
        else {
            fp[pred[i]]++;
            fn[truth[i]]++;
        }
    }
    double sum = 0, wsum = 0, support = 0, TP = 0, FP = 0, FN = 0;
    size_t present = 0;
    for (size_t c = 0; c < C; c++) {
        if (tp[c] + fp[c] + fn[c] == 0) continue; /* a label in neither the truth nor the predictions */
        present++;
        double den = 2.0 * (double)tp[c] + (double)fp[c] + (double)fn[c];
        double f = den > 0 ? 2.0 * (double)tp[c] / den : 0.0;
        double sup = (double)(tp[c] + fn[c]);
        sum += f;
        wsum += f * sup;
        support += sup;
        TP += (double)tp[c];
        FP += (double)fp[c];
        FN += (double)fn[c];
    }
    *macro = present ? sum / (double)present : 0.0;
    *weighted = support > 0 ? wsum / support : 0.0;
    *micro = 2 * TP + FP + FN > 0 ? 2 * TP / (2 * TP + FP + FN) : 0.0;
    free(tp), free(fp), free(fn);
    return SBERT_OK;
}
