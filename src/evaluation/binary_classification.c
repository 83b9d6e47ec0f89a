/*
 * evaluation/binary_classification.c -- BinaryClassificationEvaluator
 * (sentence-transformers): pairs (sentence1, sentence2) with a 0/1 label.
 * For each similarity function (cosine, dot: higher means similar;
 * euclidean, manhattan: distances, lower means similar):
 *   accuracy and its threshold: rows sorted by score (most similar first,
 *     stable), swept at each distinct score; the threshold is the midpoint
 *     to the next score (float32) or the score itself at the end;
 *   f1, precision, recall and the f1 threshold, the same sweep;
 *   ap: sklearn average_precision_score(labels, score * (+1 | -1));
 *   mcc: sklearn matthews_corrcoef at the f1 threshold.
 * Keys {fn}_{accuracy, accuracy_threshold, f1, f1_threshold, precision,
 * recall, ap, mcc}, plus max_{...} with several functions. Primary {fn}_ap
 * (max_ap). Options: similarity_fn_names=[cosine, dot, euclidean, manhattan]
 * (default: the model's), truncate_dim.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/st_evaluators.h"

typedef struct {
    float score;
    double label;
    size_t i;
} row;

static int greater_is_better;

static int cmp_rows(const void *a, const void *b) {
    const row *x = a, *y = b;
    if (x->score != y->score) return (x->score < y->score) == greater_is_better ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i; /* Python's sorted is stable */
}

sbert_status sbert_binary_classification_metrics(const float *e1, const float *e2, const double *labels, size_t n,
                                                 size_t dim, int fn, double out[8]) {
    if (n == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "BinaryClassificationEvaluator: no pairs");
    row *r = malloc(n * sizeof *r);
    double *sc = malloc(n * sizeof *sc);
    if (!r || !sc) {
        free(r);
        free(sc);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    const int gib = fn <= 1;
    double negatives = 0, positives = 0;
    for (size_t i = 0; i < n; i++) {
        float s = sbert_pair_score(e1 + i * dim, e2 + i * dim, dim, fn);
        r[i] = (row){s, labels[i], i};
        sc[i] = gib ? (double)s : -(double)s; /* scores * -1 in float32: exact */
        negatives += labels[i] == 0;
        positives += labels[i];
    }
    greater_is_better = gib;
    qsort(r, n, sizeof *r, cmp_rows);
    /* accuracy */
    double max_acc = negatives / (double)n, pos_so_far = 0, rem_neg = negatives;
    float acc_thr = nextafterf(r[0].score, gib ? INFINITY : -INFINITY);
    for (size_t i = 0; i < n; i++) {
        if (r[i].label == 1) pos_so_far++;
        else rem_neg--;
        int last = i + 1 == n;
        if (!last && r[i].score == r[i + 1].score) continue;
        double acc = (pos_so_far + rem_neg) / (double)n;
        if (acc > max_acc) {
            max_acc = acc;
            acc_thr = last ? r[i].score : (r[i].score + r[i + 1].score) / 2.0f;
            if (!last && acc_thr == r[i + 1].score) acc_thr = r[i].score;
        }
    }
    /* f1 */
    double best_f1 = 0, best_p = 0, best_r = 0, nextract = 0, ncorrect = 0;
    float f1_thr = 0;
    for (size_t i = 0; i < n; i++) {
        nextract++;
        if (r[i].label == 1) ncorrect++;
        int last = i + 1 == n;
        if (!last && r[i].score == r[i + 1].score) continue;
        if (ncorrect > 0) {
            double p = ncorrect / nextract, rc = ncorrect / positives, f1 = 2 * p * rc / (p + rc);
            if (f1 > best_f1) {
                best_f1 = f1;
                best_p = p;
                best_r = rc;
                f1_thr = last ? r[i].score : (r[i].score + r[i + 1].score) / 2.0f;
                if (!last && f1_thr == r[i + 1].score) f1_thr = r[i].score;
            }
        }
    }
    /* mcc at the f1 threshold */
    double tp = 0, tn = 0, fp = 0, fnn = 0;
    for (size_t i = 0; i < n; i++) {
        float s = r[i].score;
        int pred = gib ? s >= f1_thr : s <= f1_thr;
        if (pred && r[i].label == 1) tp++;
        else if (pred) fp++;
        else if (r[i].label == 1) fnn++;
        else tn++;
    }
    double den = sqrt((tp + fp) * (tp + fnn) * (tn + fp) * (tn + fnn));
    out[0] = max_acc;
    out[1] = acc_thr;
    out[2] = best_f1;
    out[3] = f1_thr;
    out[4] = best_p;
    out[5] = best_r;
    out[6] = sbert_average_precision(sc, labels, n);
    out[7] = den == 0 ? 0.0 : (tp * tn - fp * fnn) / den;
    free(r);
    free(sc);
    return SBERT_OK;
}

/* ------------------------------------------------------------ the evaluator */

typedef struct {
    sbert_labeled_pairs p;
    char fns[4][64];
    size_t n_fns;
} binary_data;

void sbert_binary_eval_free(void *p) {
    binary_data *d = p;
    if (!d) return;
    sbert_labeled_pairs_free(&d->p);
    free(d);
}

sbert_status sbert_binary_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    *out = NULL;
    binary_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_eval_opt_list(opts, "similarity_fn_names", d->fns, 4, &d->n_fns);
    for (size_t i = 0; st == SBERT_OK && i < d->n_fns; i++)
        if (sbert_sim_fn_index(d->fns[i]) < 0)
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "similarity_fn_names: '%s' is not cosine, dot, euclidean or manhattan",
                            d->fns[i]);
    if (st == SBERT_OK)
        st = sbert_labeled_pairs_load(path, max_samples, "BinaryClassificationEvaluator", "label", &d->p);
    for (size_t i = 0; st == SBERT_OK && i < d->p.n; i++)
        if (d->p.labels[i] != 0 && d->p.labels[i] != 1)
            st = sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: BinaryClassificationEvaluator labels are 0 or 1, got %g", path,
                            d->p.ds->line[i], d->p.labels[i]);
    if (st != SBERT_OK) {
        sbert_binary_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_binary_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                   sbert_eval_result *out) {
    const binary_data *d = p;
    const size_t n = d->p.n, D = enc->dim;
    float *e1 = malloc(n * D * sizeof *e1), *e2 = malloc(n * D * sizeof *e2);
    sbert_status st = e1 && e2 ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) st = enc->fn(enc->ctx, d->p.s1, n, e1);
    if (st == SBERT_OK) st = enc->fn(enc->ctx, d->p.s2, n, e2);
    static const char *const keys[8] = {"accuracy", "accuracy_threshold", "f1", "f1_threshold",
                                        "precision", "recall", "ap", "mcc"};
    char fns[4][64];
    size_t nf = d->n_fns;
    memcpy(fns, d->fns, sizeof fns);
    if (!nf) {
        snprintf(fns[0], sizeof fns[0], "%s", enc->score_fn && *enc->score_fn ? enc->score_fn : "cosine");
        nf = 1;
    }
    double all[4][8];
    for (size_t f = 0; st == SBERT_OK && f < nf; f++) {
        int fi = sbert_sim_fn_index(fns[f]);
        if (fi < 0) {
            st = sbert_fail(SBERT_ERR_INVALID_ARG, "unknown similarity function '%s'", fns[f]);
            break;
        }
        if (fi == 1) snprintf(fns[f], sizeof fns[f], "dot");
        st = sbert_binary_classification_metrics(e1, e2, d->p.labels, n, D, fi, all[f]);
        for (int k = 0; st == SBERT_OK && k < 8; k++) {
            char key[96];
            snprintf(key, sizeof key, "%s_%s", fns[f], keys[k]);
            sbert_eval_put(out, name, key, all[f][k]);
        }
    }
    if (st == SBERT_OK && nf > 1) {
        for (int k = 0; k < 8; k++) {
            double m = all[0][k];
            for (size_t f = 1; f < nf; f++)
                if (all[f][k] > m) m = all[f][k];
            char key[96];
            snprintf(key, sizeof key, "max_%s", keys[k]);
            sbert_eval_put(out, name, key, m);
        }
        sbert_eval_set_primary(out, name, "max_ap");
    } else if (st == SBERT_OK) {
        char key[96];
        snprintf(key, sizeof key, "%s_ap", fns[0]);
        sbert_eval_set_primary(out, name, key);
    }
    free(e1);
    free(e2);
    return st;
}

size_t sbert_binary_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu labelled pairs", ((const binary_data *)p)->p.n);
}
