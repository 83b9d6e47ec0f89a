/*
 * evaluation/ce_classification.c -- CrossEncoderClassificationEvaluator and
 * CrossEncoderCorrelationEvaluator (sentence-transformers v6.2) on
 * (sentence1, sentence2, label/score) rows of a .jsonl/.csv/.tsv file: the
 * pairs are scored with the model's predict (its activation applied).
 *
 * Classification, num_labels 1 (binary, labels 0/1): accuracy and its
 * threshold, f1 / precision / recall and the F1 threshold
 * (BinaryClassificationEvaluator's sweeps), average_precision (primary).
 * num_labels > 1: the argmax class against the label: f1_macro (primary),
 * f1_micro, f1_weighted.
 * Correlation (num_labels 1): pearson and spearman (primary) of the scores
 * against the gold scores.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/ce_metrics.h"
#include "evaluation/evaluators.h"
#include "evaluation/metrics.h"

typedef struct {
    sbert_dataset *ds;
    const char **a, **b;
    const double *y;
    size_t n;
} pairs_data;

void sbert_ce_pairs_eval_free(void *ptr) {
    pairs_data *d = ptr;
    if (!d) return;
    sbert_dataset_free(d->ds);
    free(d);
}

static sbert_status load_pairs(const char *path, size_t max_samples, const char *evaluator, const char *what,
                               void **out) {
    *out = NULL;
    pairs_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_dataset_load(path, &d->ds);
    if (st == SBERT_OK) {
        if (max_samples > 0) sbert_dataset_truncate(d->ds, max_samples);
        if (sbert_dataset_n_inputs(d->ds) != 2 || sbert_dataset_label_column(d->ds) < 0)
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: %s expects two text columns (sentence1, sentence2) and a %s column",
                            path, evaluator, what);
        if (st == SBERT_OK) st = sbert_dataset_check_inputs(d->ds);
    }
    if (st != SBERT_OK) {
        sbert_ce_pairs_eval_free(d);
        return st;
    }
    d->a = (const char **)d->ds->cols[sbert_dataset_input_column(d->ds, 0)].text;
    d->b = (const char **)d->ds->cols[sbert_dataset_input_column(d->ds, 1)].text;
    d->y = d->ds->cols[sbert_dataset_label_column(d->ds)].num;
    d->n = d->ds->n_rows;
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_ce_class_eval_load(const char *path, size_t max_samples, void **out) {
    SBERT_TRY(load_pairs(path, max_samples, "CrossEncoderClassificationEvaluator", "label", out));
    const pairs_data *d = *out;
    for (size_t i = 0; i < d->n; i++)
        if (!(d->y[i] >= 0 && d->y[i] == floor(d->y[i]) && d->y[i] < 1e6)) {
            sbert_status st = sbert_fail(SBERT_ERR_FORMAT, "%s:%zu: label %g is not a class id (0, 1, 2, ...)", path,
                                         d->ds->line[i], d->y[i]);
            sbert_ce_pairs_eval_free(*out);
            *out = NULL;
            return st;
        }
    return SBERT_OK;
}

sbert_status sbert_ce_corr_eval_load(const char *path, size_t max_samples, void **out) {
    return load_pairs(path, max_samples, "CrossEncoderCorrelationEvaluator", "score", out);
}

size_t sbert_ce_pairs_eval_summary(const void *ptr, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu pairs", ((const pairs_data *)ptr)->n);
}

static sbert_status predict_all(const pairs_data *d, const sbert_eval_encoder *enc, const char *evaluator,
                                float **scores) {
    *scores = NULL;
    if (!enc->predict)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "%s needs a CrossEncoder (it scores pairs with predict)", evaluator);
    float *s = malloc((d->n ? d->n : 1) * enc->num_labels * sizeof *s);
    if (!s) return sbert_fail(SBERT_ERR_NOMEM, "%s: out of memory", evaluator);
    sbert_status st = enc->predict(enc->predict_ctx, d->a, d->b, d->n, s);
    if (st != SBERT_OK) {
        free(s);
        return st;
    }
    *scores = s;
    return SBERT_OK;
}

sbert_status sbert_ce_class_eval_run(const void *ptr, const sbert_eval_encoder *enc, const char *name,
                                     sbert_eval_result *out) {
    const pairs_data *d = ptr;
    memset(out, 0, sizeof *out);
    float *s = NULL;
    SBERT_TRY(predict_all(d, enc, "CrossEncoderClassificationEvaluator", &s));
    const size_t n = d->n, L = enc->num_labels;
    int *truth = malloc((n ? n : 1) * sizeof *truth), *pred = malloc((n ? n : 1) * sizeof *pred);
    double *ds = malloc((n ? n : 1) * sizeof *ds);
    sbert_status st = truth && pred && ds ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == SBERT_OK && i < n; i++) truth[i] = (int)d->y[i];
    if (st == SBERT_OK && L == 1) {
        double acc, acc_th, f1, p, r, f1_th;
        for (size_t i = 0; i < n; i++) ds[i] = s[i];
        st = sbert_best_accuracy(s, truth, n, &acc, &acc_th);
        if (st == SBERT_OK) st = sbert_best_f1(s, truth, n, &f1, &p, &r, &f1_th);
        if (st == SBERT_OK) {
            sbert_eval_put(out, name, "accuracy", acc);
            sbert_eval_put(out, name, "accuracy_threshold", acc_th);
            sbert_eval_put(out, name, "f1", f1);
            sbert_eval_put(out, name, "f1_threshold", f1_th);
            sbert_eval_put(out, name, "precision", p);
            sbert_eval_put(out, name, "recall", r);
            sbert_eval_put(out, name, "average_precision", sbert_ce_average_precision(truth, ds, n));
            sbert_eval_set_primary(out, name, "average_precision");
        }
    } else if (st == SBERT_OK) {
        for (size_t i = 0; i < n; i++) {
            size_t best = 0;
            for (size_t j = 1; j < L; j++)
                if (s[i * L + j] > s[i * L + best]) best = j; /* np.argmax: the first maximum */
            pred[i] = (int)best;
        }
        double ma, mi, we;
        st = sbert_f1_averages(truth, pred, n, &ma, &mi, &we);
        if (st == SBERT_OK) {
            sbert_eval_put(out, name, "f1_macro", ma);
            sbert_eval_put(out, name, "f1_micro", mi);
            sbert_eval_put(out, name, "f1_weighted", we);
            sbert_eval_set_primary(out, name, "f1_macro");
        }
    }
    free(truth);
    free(pred);
    free(ds);
    free(s);
    return st;
}

sbert_status sbert_ce_corr_eval_run(const void *ptr, const sbert_eval_encoder *enc, const char *name,
                                    sbert_eval_result *out) {
    const pairs_data *d = ptr;
    memset(out, 0, sizeof *out);
    if (enc->predict && enc->num_labels != 1)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "CrossEncoderCorrelationEvaluator needs num_labels 1 (the model has %zu)",
                          enc->num_labels);
    float *s = NULL;
    SBERT_TRY(predict_all(d, enc, "CrossEncoderCorrelationEvaluator", &s));
    double *x = malloc((d->n ? d->n : 1) * sizeof *x);
    if (!x) {
        free(s);
        return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < d->n; i++) x[i] = s[i];
    sbert_eval_put(out, name, "pearson", sbert_pearson(d->y, x, d->n));
    sbert_eval_put(out, name, "spearman", sbert_spearman(d->y, x, d->n));
    sbert_eval_set_primary(out, name, "spearman");
    free(x);
    free(s);
    return SBERT_OK;
}
