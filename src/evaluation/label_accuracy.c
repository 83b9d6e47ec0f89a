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

void sbert_label_accuracy_eval_free(void *p) {
    if (!p) return;
    sbert_labeled_pairs_free(p);
    free(p);
}

sbert_status sbert_label_accuracy_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    (void)opts;
    *out = NULL;
    sbert_labeled_pairs *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_labeled_pairs_load(path, max_samples, "LabelAccuracyEvaluator", "label", d);
    if (st != SBERT_OK) {
        free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_label_accuracy_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                           sbert_eval_result *out) {
    const sbert_labeled_pairs *d = p;
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
    return (size_t)snprintf(buf, cap, "%zu labelled pairs", ((const sbert_labeled_pairs *)p)->n);
}
