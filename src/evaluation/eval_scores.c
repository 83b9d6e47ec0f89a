/*
 * evaluation/eval_scores.c -- pairwise scores and average precision shared by
 * the evaluators of st_evaluators.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "evaluation/st_evaluators.h"

int sbert_sim_fn_index(const char *name) {
    static const char *const names[] = {"cosine", "dot", "euclidean", "manhattan"};
    if (!name) return 0;
    if (!strcmp(name, "dot_product")) return 1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

float sbert_pair_score(const float *a, const float *b, size_t dim, int fn) {
    double s = 0;
    if (fn == 0) {
        double aa = 0, bb = 0;
        for (size_t k = 0; k < dim; k++) {
            aa += (double)a[k] * a[k];
            bb += (double)b[k] * b[k];
            s += (double)a[k] * b[k];
        }
        return (float)(s / (fmax(sqrt(aa), 1e-12) * fmax(sqrt(bb), 1e-12)));
    }
    for (size_t k = 0; k < dim; k++) {
        double d = (double)a[k] - b[k];
        s += fn == 1 ? (double)a[k] * b[k] : fn == 2 ? d * d : fabs(d);
    }
    return (float)(fn == 2 ? sqrt(s) : s);
}

typedef struct {
    double score, label;
    size_t i;
} scored;

static int cmp_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

double sbert_average_precision(const double *scores, const double *labels, size_t n) {
    scored *r = malloc((n ? n : 1) * sizeof *r);
    if (!r) return NAN;
    double pos = 0;
    for (size_t i = 0; i < n; i++) {
        r[i] = (scored){scores[i], labels[i], i};
        pos += labels[i] == 1;
    }
    qsort(r, n, sizeof *r, cmp_desc);
    double ap = 0, tp = 0, fp = 0, prev_recall = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].label == 1) tp++;
        else fp++;
        if (i + 1 < n && r[i + 1].score == r[i].score) continue; /* one threshold per distinct score */
        double recall = pos > 0 ? tp / pos : NAN, precision = tp / (tp + fp);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    free(r);
    return ap;
}
