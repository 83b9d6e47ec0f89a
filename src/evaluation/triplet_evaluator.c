/*
 * evaluation/triplet_evaluator.c -- TripletEvaluator (sentence-transformers
 * v6): (anchor, positive, negative) rows; anchors are encoded as queries,
 * positives and negatives as documents; for the model's similarity function
 * fn (cosine, dot, euclidean = -L2 distance, manhattan = -L1 distance) the
 * accuracy is the share of rows with fn(a, p) > fn(a, n) (margin 0).
 * Metric {name}_{fn}_accuracy, also the primary one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/evaluators.h"

typedef struct {
    sbert_dataset *ds;
    const char **a, **p, **n;
    size_t rows;
} triplet_data;

void sbert_triplet_eval_free(void *ptr) {
    triplet_data *d = ptr;
    if (!d) return;
    sbert_dataset_free(d->ds);
    free(d);
}

sbert_status sbert_triplet_eval_load(const char *path, size_t max_samples, void **out) {
    *out = NULL;
    triplet_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_dataset_load(path, &d->ds);
    if (st == SBERT_OK) {
        if (max_samples > 0) sbert_dataset_truncate(d->ds, max_samples);
        if (sbert_dataset_n_inputs(d->ds) != 3 || sbert_dataset_label_column(d->ds) >= 0)
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s: TripletEvaluator expects three text columns (anchor, positive, negative) and no "
                            "label",
                            path);
        if (st == SBERT_OK) st = sbert_dataset_check_inputs(d->ds);
        if (st == SBERT_OK && d->ds->n_rows == 0) st = sbert_fail(SBERT_ERR_FORMAT, "%s: no rows", path);
    }
    if (st != SBERT_OK) {
        sbert_triplet_eval_free(d);
        return st;
    }
    d->a = (const char **)d->ds->cols[sbert_dataset_input_column(d->ds, 0)].text;
    d->p = (const char **)d->ds->cols[sbert_dataset_input_column(d->ds, 1)].text;
    d->n = (const char **)d->ds->cols[sbert_dataset_input_column(d->ds, 2)].text;
    d->rows = d->ds->n_rows;
    *out = d;
    return SBERT_OK;
}

/* fn(x, y) for one pair of rows, in double. */
static double pair_score(const char *fn, const float *x, const float *y, size_t dim) {
    double xx = 0, yy = 0, xy = 0, l1 = 0, l2 = 0;
    for (size_t k = 0; k < dim; k++) {
        double a = x[k], b = y[k], d = a - b;
        xx += a * a;
        yy += b * b;
        xy += a * b;
        l1 += fabs(d);
        l2 += d * d;
    }
    if (!strcmp(fn, "dot")) return xy;
    if (!strcmp(fn, "euclidean")) return -sqrt(l2);
    if (!strcmp(fn, "manhattan")) return -l1;
    return xy / (fmax(sqrt(xx), 1e-12) * fmax(sqrt(yy), 1e-12));
}

sbert_status sbert_triplet_eval_run(const void *ptr, const sbert_eval_encoder *enc, const char *name,
                                    sbert_eval_result *out) {
    const triplet_data *d = ptr;
    memset(out, 0, sizeof *out);
    const char *fn = enc->score_fn && *enc->score_fn ? enc->score_fn : "cosine";
    if (!strcmp(fn, "dot_product")) fn = "dot";
    if (strcmp(fn, "cosine") && strcmp(fn, "dot") && strcmp(fn, "euclidean") && strcmp(fn, "manhattan"))
        return sbert_fail(SBERT_ERR_INVALID_ARG, "TripletEvaluator: similarity function '%s' is not cosine, dot, "
                                                 "euclidean or manhattan", fn);
    size_t n = d->rows, dim = enc->dim;
    float *ea = malloc(n * dim * sizeof *ea), *ep = malloc(n * dim * sizeof *ep), *en = malloc(n * dim * sizeof *en);
    sbert_status st = SBERT_OK;
    if (!ea || !ep || !en) {
        st = sbert_fail(SBERT_ERR_NOMEM, "TripletEvaluator: out of memory (%zu rows)", n);
        goto done;
    }
    void *qctx = enc->query_ctx ? enc->query_ctx : enc->ctx, *dctx = enc->document_ctx ? enc->document_ctx : enc->ctx;
    if ((st = enc->fn(qctx, d->a, n, ea)) != SBERT_OK) goto done;
    if ((st = enc->fn(dctx, d->p, n, ep)) != SBERT_OK) goto done;
    if ((st = enc->fn(dctx, d->n, n, en)) != SBERT_OK) goto done;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += pair_score(fn, ea + i * dim, ep + i * dim, dim) > pair_score(fn, ea + i * dim, en + i * dim, dim);
    char key[64];
    snprintf(key, sizeof key, "%s_accuracy", fn);
    sbert_eval_put(out, name, key, (double)hits / (double)n);
    sbert_eval_set_primary(out, name, key);
done:
    free(ea);
    free(ep);
    free(en);
    return st;
}

size_t sbert_triplet_eval_summary(const void *ptr, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu triplets", ((const triplet_data *)ptr)->rows);
}
