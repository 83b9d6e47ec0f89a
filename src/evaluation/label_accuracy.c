/*
 * evaluation/label_accuracy.c -- LabelAccuracyEvaluator (sentence-
 * transformers): the accuracy of a SoftmaxLoss classifier on (sentence1,
 * sentence2, label) rows: argmax of the classifier's logits on
 * (u, v, |u - v|, ...) against the label. Key accuracy (primary).
 * The classifier is the one the run trains (loss: SoftmaxLoss); it is not
 * part of the saved model (sentence-transformers keeps it in the loss too),
 * so the evaluator works during training only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/st_evaluators.h"
#include "losses/st_losses.h"

typedef struct {
    sbert_dataset *ds;
    const char **s1, **s2;
    double *labels;
    size_t n;
} la_data;

void sbert_label_accuracy_eval_free(void *p) {
    la_data *d = p;
    if (!d) return;
    sbert_dataset_free(d->ds);
    free(d->s1);
    free(d->s2);
    free(d->labels);
    free(d);
}

sbert_status sbert_label_accuracy_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    *out = NULL;
    la_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_dataset_load(path, &d->ds);
    if (st == SBERT_OK && max_samples) sbert_dataset_truncate(d->ds, max_samples);
    int lc = d->ds ? sbert_dataset_label_column(d->ds) : -1;
    if (st == SBERT_OK && (sbert_dataset_n_inputs(d->ds) != 2 || lc < 0 || d->ds->cols[lc].kind != SBERT_COL_NUMBER))
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: LabelAccuracyEvaluator needs (sentence1, sentence2, label) rows", path);
    if (st == SBERT_OK) st = sbert_dataset_check_inputs(d->ds);
    if (st == SBERT_OK) {
        d->n = d->ds->n_rows;
        d->s1 = malloc(d->n * sizeof *d->s1);
        d->s2 = malloc(d->n * sizeof *d->s2);
        d->labels = malloc(d->n * sizeof *d->labels);
        if (!d->s1 || !d->s2 || !d->labels) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
            d->s1[i] = d->ds->cols[sbert_dataset_input_column(d->ds, 0)].text[i];
            d->s2[i] = d->ds->cols[sbert_dataset_input_column(d->ds, 1)].text[i];
            d->labels[i] = d->ds->cols[lc].num[i];
        }
    }
    if (st != SBERT_OK) {
        sbert_label_accuracy_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_label_accuracy_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                           sbert_eval_result *out) {
    const la_data *d = p;
    const sbert_eval_classifier *c = enc->classifier;
    if (!c)
        return sbert_fail(SBERT_ERR_UNSUPPORTED,
                          "LabelAccuracyEvaluator needs the classifier of a SoftmaxLoss: use it in a training run "
                          "with loss: SoftmaxLoss");
    const sbert_param_table *state = c->state;
    const size_t D = enc->dim, C = (size_t)sbert_params_at_const(state, 0)->shape[0];
    float *u = malloc(d->n * D * sizeof *u), *v = malloc(d->n * D * sizeof *v);
    double *logits = malloc(d->n * C * sizeof *logits);
    sbert_status st = u && v && logits ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) st = enc->fn(enc->ctx, d->s1, d->n, u);
    if (st == SBERT_OK) st = enc->fn(enc->ctx, d->s2, d->n, v);
    if (st == SBERT_OK) st = sbert_loss_softmax_logits(c->values, state, u, v, d->n, D, logits);
    if (st == SBERT_OK) {
        size_t correct = 0;
        for (size_t i = 0; i < d->n; i++) {
            size_t best = 0;
            for (size_t k = 1; k < C; k++)
                if (logits[i * C + k] > logits[i * C + best]) best = k;
            correct += (double)best == d->labels[i];
        }
        sbert_eval_put(out, name, "accuracy", (double)correct / (double)d->n);
        sbert_eval_set_primary(out, name, "accuracy");
    }
    free(u);
    free(v);
    free(logits);
    return st;
}

size_t sbert_label_accuracy_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu labelled pairs", ((const la_data *)p)->n);
}
