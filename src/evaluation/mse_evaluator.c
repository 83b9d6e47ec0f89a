/*
 * evaluation/mse_evaluator.c -- MSEEvaluator (sentence-transformers): the
 * mean squared error between teacher embeddings of the source sentences and
 * the model's embeddings of the target sentences, times 100, reported as
 * negative_mse (primary; higher is better). Teacher embeddings come either
 *   - from the data: rows (target text, label = the teacher embedding list),
 *   - or from a teacher model: option teacher_model=<model directory> with
 *     rows (source, target) -- the teacher embeds the sources once at load.
 * truncate_dim cuts both (the teacher's at load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/st_evaluators.h"

typedef struct {
    sbert_dataset *ds;
    const char **trg;
    float *teacher; /* [n, tdim] */
    size_t n, tdim;
} mse_data;

void sbert_mse_eval_free(void *p) {
    mse_data *d = p;
    if (!d) return;
    sbert_dataset_free(d->ds);
    free(d->trg);
    free(d->teacher);
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
            d->tdim = sbert_model_dim(tm);
            if (td && td < d->tdim) d->tdim = td;
            d->teacher = malloc(d->n * d->tdim * sizeof *d->teacher);
            const char **src = malloc(d->n * sizeof *src);
            if (!d->teacher || !src) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
                src[i] = d->ds->cols[sbert_dataset_input_column(d->ds, 0)].text[i];
                d->trg[i] = d->ds->cols[sbert_dataset_input_column(d->ds, 1)].text[i];
            }
            sbert_encode_options o = sbert_encode_options_default();
            if (td) o.truncate_dim = d->tdim; /* (a SparseEncoder teacher refuses truncate_dim) */
            o.max_active_dims = max_active_dims;
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
            d->tdim = td && td < w ? td : w;
            d->teacher = malloc(d->n * d->tdim * sizeof *d->teacher);
            if (!d->teacher) st = sbert_fail(SBERT_ERR_NOMEM, "out of memory");
            for (size_t i = 0; st == SBERT_OK && i < d->n; i++) {
                d->trg[i] = d->ds->cols[sbert_dataset_input_column(d->ds, 0)].text[i];
                for (size_t k = 0; k < d->tdim; k++) d->teacher[i * d->tdim + k] = (float)d->ds->cols[lc].nums[d->ds->cols[lc].off[i] + k];
            }
        }
    }
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
        for (size_t i = 0; i < d->n * d->tdim; i++) {
            float r = d->teacher[i] - e[i];
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
