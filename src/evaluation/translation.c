/*
 * evaluation/translation.c -- TranslationEvaluator (sentence-transformers):
 * parallel (source, target) rows. C = cos_sim(sources, targets) [n, n];
 * source i counts as matched when the target of argmax_j C[i, j] (first
 * index of the maximum) has the same text as target i; likewise targets
 * against sources. Keys src2trg_accuracy, trg2src_accuracy, mean_accuracy
 * (primary). Option: truncate_dim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/st_evaluators.h"

sbert_status sbert_translation_metrics(const float *src, const float *trg, const char *const *src_text,
                                       const char *const *trg_text, size_t n, size_t dim, double out[3]) {
    if (n == 0) return sbert_fail(SBERT_ERR_INVALID_ARG, "TranslationEvaluator: no pairs");
    float *C = malloc(n * n * sizeof *C);
    if (!C) return sbert_fail(SBERT_ERR_NOMEM, "TranslationEvaluator: out of memory (%zu x %zu)", n, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) C[i * n + j] = sbert_pair_score(src + i * dim, trg + j * dim, dim, 0);
    size_t s2t = 0, t2s = 0;
    for (size_t i = 0; i < n; i++) {
        size_t bj = 0, bi = 0;
        for (size_t j = 1; j < n; j++) {
            if (C[i * n + j] > C[i * n + bj]) bj = j;
            if (C[j * n + i] > C[bi * n + i]) bi = j;
        }
        s2t += !strcmp(trg_text[i], trg_text[bj]);
        t2s += !strcmp(src_text[i], src_text[bi]);
    }
    free(C);
    out[0] = (double)s2t / (double)n;
    out[1] = (double)t2s / (double)n;
    out[2] = (out[0] + out[1]) / 2;
    return SBERT_OK;
}

typedef struct {
    sbert_dataset *ds;
    const char **src, **trg;
    size_t n;
} tr_data;

void sbert_translation_eval_free(void *p) {
    tr_data *d = p;
    if (!d) return;
    sbert_dataset_free(d->ds);
    free(d->src);
    free(d->trg);
    free(d);
}

sbert_status sbert_translation_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    *out = NULL;
    tr_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_dataset_load(path, &d->ds);
    if (st == SBERT_OK && max_samples) sbert_dataset_truncate(d->ds, max_samples);
    if (st == SBERT_OK && (d->ds->n_cols != 2 || sbert_dataset_n_inputs(d->ds) != 2))
        st = sbert_fail(SBERT_ERR_FORMAT, "%s: TranslationEvaluator needs (source, target) rows of two text columns",
                        path);
    if (st == SBERT_OK) st = sbert_dataset_check_inputs(d->ds);
    if (st == SBERT_OK) {
        d->n = d->ds->n_rows;
        d->src = malloc(d->n * sizeof *d->src);
        d->trg = malloc(d->n * sizeof *d->trg);
        if (!d->src || !d->trg) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
            d->src[i] = d->ds->cols[0].text[i];
            d->trg[i] = d->ds->cols[1].text[i];
        }
    }
    if (st != SBERT_OK) {
        sbert_translation_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_translation_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                        sbert_eval_result *out) {
    const tr_data *d = p;
    const size_t D = enc->dim;
    float *a = malloc(d->n * D * sizeof *a), *b = malloc(d->n * D * sizeof *b);
    sbert_status st = a && b ? SBERT_OK : sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    if (st == SBERT_OK) st = enc->fn(enc->ctx, d->src, d->n, a);
    if (st == SBERT_OK) st = enc->fn(enc->ctx, d->trg, d->n, b);
    double m[3];
    if (st == SBERT_OK) st = sbert_translation_metrics(a, b, d->src, d->trg, d->n, D, m);
    if (st == SBERT_OK) {
        sbert_eval_put(out, name, "src2trg_accuracy", m[0]);
        sbert_eval_put(out, name, "trg2src_accuracy", m[1]);
        sbert_eval_put(out, name, "mean_accuracy", m[2]);
        sbert_eval_set_primary(out, name, "mean_accuracy");
    }
    free(a);
    free(b);
    return st;
}

size_t sbert_translation_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu parallel pairs", ((const tr_data *)p)->n);
}
