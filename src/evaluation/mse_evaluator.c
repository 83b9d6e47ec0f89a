/*
 * evaluation/mse_evaluator.c -- MSEEvaluator (sentence-transformers): the
 * mean squared error between teacher embeddings of the source sentences and
 * the model's embeddings of the target sentences, times 100, reported as
 * negative_mse (primary; higher is better). Teacher embeddings come either
 *   - from the data: rows (target text, label = the teacher embedding list),
 *   - or from a teacher model: option teacher_model=<model directory> with
 *     rows (source, target) -- the teacher embeds the sources once at load.
 * truncate_dim cuts both (the teacher's when scoring: the full teacher
 * embeddings are kept, so that a training run with teacher_pca can project
 * them through the same PCA Dense as its labels, sbert_mse_eval_project).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/st_evaluators.h"
#include "models/model.h"

typedef struct {
    sbert_dataset *ds;
    const char **trg;
    float *teacher;     /* [n, fdim] */
    size_t n, fdim;     /* rows, the teacher's full width */
    size_t tdim;        /* the width compared: fdim, or truncate_dim when smaller */
    size_t trunc;       /* truncate_dim (0: none) */
    char *teacher_path; /* the teacher_model option, or NULL (embeddings from the data) */
} mse_data;

void sbert_mse_eval_free(void *p) {
    mse_data *d = p;
    if (!d) return;
    sbert_dataset_free(d->ds);
    free(d->trg);
    free(d->teacher);
    free(d->teacher_path);
    free(d);
}

sbert_status sbert_mse_eval_load(const char *path, size_t max_samples, sbert_eval_opts *opts, void **out) {
    return sbert_mse_eval_load_k(path, max_samples, opts, 0, out);
}

sbert_status sbert_mse_eval_load_k(const char *path, size_t max_samples, sbert_eval_opts *opts,
                                   size_t max_active_dims, void **out) {
    *out = NULL;
    mse_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    const char *teacher = sbert_eval_opt(opts, "teacher_model");
    size_t td = 0;
    sbert_status st = sbert_eval_opt_size(opts, "truncate_dim", 0, 1, 1u << 24, &td);
    if (st == SBERT_OK) st = sbert_dataset_load(path, &d->ds);
    if (st == SBERT_OK && max_samples) sbert_dataset_truncate(d->ds, max_samples);
    int lc = d->ds ? sbert_dataset_label_column(d->ds) : -1;
    size_t ni = d->ds ? sbert_dataset_n_inputs(d->ds) : 0;
    if (st == SBERT_OK) st = sbert_dataset_check_inputs(d->ds);
    if (st == SBERT_OK) {
        d->n = d->ds->n_rows;
        d->trg = malloc(d->n * sizeof *d->trg);
        if (!d->trg) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    }
    if (st == SBERT_OK && teacher) {
        if (ni != 2 || lc >= 0)
            st = sbert_fail(SBERT_ERR_FORMAT, "%s: MSEEvaluator with teacher_model needs (source, target) rows", path);
        sbert_model *tm = NULL;
        if (st == SBERT_OK) st = sbert_model_load_auto(teacher, NULL, &tm); /* any kind: a SparseEncoder teacher too */
        if (st == SBERT_OK) {
            d->fdim = sbert_model_dim(tm);
            d->teacher_path = strdup(teacher);
            d->teacher = malloc(d->n * d->fdim * sizeof *d->teacher);
            if (!d->teacher_path) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            const char **src = malloc(d->n * sizeof *src);
            if (!d->teacher || !src) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
                src[i] = d->ds->cols[sbert_dataset_input_column(d->ds, 0)].text[i];
                d->trg[i] = d->ds->cols[sbert_dataset_input_column(d->ds, 1)].text[i];
            }
            sbert_encode_options o = sbert_encode_options_default();
            o.max_active_dims = max_active_dims;
            /* the full width is kept and cut when scoring; a SparseEncoder teacher refuses truncate_dim here */
            if (td && tm->kind == SBERT_KIND_SPARSE_ENCODER) o.truncate_dim = td;
            if (st == SBERT_OK) st = sbert_model_encode(tm, src, d->n, &o, d->teacher);
            free(src);
        }
        sbert_model_free(tm);
        if (st != SBERT_OK) sbert_error_prefix("teacher_model %s: ", teacher);
    } else if (st == SBERT_OK) {
        size_t w = lc >= 0 ? sbert_column_width(&d->ds->cols[lc], d->ds->n_rows) : 0;
        if (ni != 1 || lc < 0 || d->ds->cols[lc].kind != SBERT_COL_NUMBER_LIST || w == 0)
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s: MSEEvaluator needs (text, label = teacher embedding list) rows, or the option "
                            "teacher_model with (source, target) rows",
                            path);
        if (st == SBERT_OK) {
            d->fdim = w;
            d->teacher = malloc(d->n * d->fdim * sizeof *d->teacher);
            if (!d->teacher) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
                d->trg[i] = d->ds->cols[sbert_dataset_input_column(d->ds, 0)].text[i];
                for (size_t k = 0; k < d->fdim; k++) d->teacher[i * d->fdim + k] = (float)d->ds->cols[lc].nums[d->ds->cols[lc].off[i] + k];
            }
        }
    }
    d->trunc = td;
    d->tdim = td && td < d->fdim ? td : d->fdim;
    if (st != SBERT_OK) {
        sbert_mse_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_mse_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                sbert_eval_result *out) {
    const mse_data *d = p;
    if (enc->dim != d->tdim)
        return sbert_fail(SBERT_ERR_INVALID_ARG, "MSEEvaluator: the model gives %zu values, the teacher %zu", enc->dim,
                          d->tdim);
    float *e = malloc(d->n * enc->dim * sizeof *e);
    if (!e) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = enc->fn(enc->ctx, d->trg, d->n, e);
    if (st == SBERT_OK) {
        /* float32 as Python: (a - b) ** 2 elementwise, the mean rounded to
         * float32, then * 100 in float32 */
        double s = 0;
        for (size_t i = 0; i < d->n; i++)
            for (size_t k = 0; k < d->tdim; k++) {
                float r = d->teacher[i * d->fdim + k] - e[i * d->tdim + k];
                s += (double)(r * r);
            }
        float mse = (float)(s / (double)(d->n * d->tdim));
        sbert_eval_put(out, name, "negative_mse", -(double)(mse * 100.0f));
        sbert_eval_set_primary(out, name, "negative_mse");
    }
    free(e);
    return st;
}

size_t sbert_mse_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu sentences with teacher embeddings", ((const mse_data *)p)->n);
}

/* The same model directory (by real path; by name when one does not resolve). */
static int same_model(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    if (realpath(a, ra) && realpath(b, rb)) return !strcmp(ra, rb);
    return !strcmp(a, b);
}

int sbert_mse_eval_project(void *p, const char *teacher_model, const double *comp, size_t dfull, size_t k) {
    mse_data *d = p;
    if (!d || !d->teacher_path || !teacher_model || d->fdim != dfull || !same_model(d->teacher_path, teacher_model))
        return 0;
    double *x = malloc((d->n ? d->n : 1) * dfull * sizeof *x), *y = malloc((d->n ? d->n : 1) * k * sizeof *y);
    float *t = malloc((d->n ? d->n : 1) * k * sizeof *t);
    if (!x || !y || !t) {
        free(x);
        free(y);
        free(t);
        return -1;
    }
    for (size_t i = 0; i < d->n * dfull; i++) x[i] = d->teacher[i];
    /* y [n, k] = x [n, d] . comp^T: the labels' projection (training/teacher.c) */
    if (d->n)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d->n, (int)k, (int)dfull, 1.0, x, (int)dfull, comp,
                    (int)dfull, 0.0, y, (int)k);
    for (size_t i = 0; i < d->n * k; i++) t[i] = (float)y[i];
    free(x);
    free(y);
    free(d->teacher);
    d->teacher = t;
    d->fdim = k;
    d->tdim = d->trunc && d->trunc < k ? d->trunc : k;
    return 1;
}
