/*
 * evaluation/embedding_similarity.c -- EmbeddingSimilarityEvaluator: pairs
 * (sentence1, sentence2) with gold scores in [0, 1], pairwise cosine
 * similarity of the two embeddings, Pearson and Spearman against the gold
 * scores (primary: {name}_spearman_cosine).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "data/dataset.h"
#include "evaluation/evaluators.h"

sbert_status sbert_eval_embedding_similarity(sbert_encode_fn enc, void *ctx, size_t dim,
                                             const char *const *s1, const char *const *s2,
                                             const double *gold, size_t n, const char *name,
                                             sbert_eval_result *out) {
    memset(out, 0, sizeof *out);
    if (n < 2) return sbert_fail(SBERT_ERR_INVALID_ARG, "EmbeddingSimilarityEvaluator needs at least 2 pairs, got %zu", n);
    float *a = malloc(n * dim * sizeof *a), *b = malloc(n * dim * sizeof *b);
    double *cs = malloc(n * sizeof *cs);
    sbert_status st = SBERT_OK;
    if (!a || !b || !cs) { st = sbert_fail(SBERT_ERR_NOMEM, "EmbeddingSimilarityEvaluator: out of memory"); goto done; }
    if ((st = enc(ctx, s1, n, a)) != SBERT_OK) goto done;
    if ((st = enc(ctx, s2, n, b)) != SBERT_OK) goto done;
    for (size_t i = 0; i < n; i++) {
        /* pairwise_cos_sim: normalize each row (eps 1e-12), then dot. Computed in
         * double; sentence-transformers uses float32 here (differences ~1e-7). */
        double aa = 0, bb = 0, ab = 0;
        for (size_t k = 0; k < dim; k++) {
            double x = a[i * dim + k], y = b[i * dim + k];
            aa += x * x; bb += y * y; ab += x * y;
        }
        cs[i] = ab / (fmax(sqrt(aa), 1e-12) * fmax(sqrt(bb), 1e-12));
    }
    sbert_eval_put(out, name, "pearson_cosine", sbert_pearson(cs, gold, n));
    sbert_eval_put(out, name, "spearman_cosine", sbert_spearman(cs, gold, n));
    sbert_eval_set_primary(out, name, "spearman_cosine");
done:
    free(a); free(b); free(cs);
    return st;
}


/* ------------------------------------------------------------ table row */

typedef struct {
    sbert_dataset *ds;
    const char **s1, **s2;
    const double *gold;
    size_t n;
} sim_data;

void sbert_similarity_eval_free(void *p) {
    sim_data *d = p;
    if (!d) return;
    sbert_dataset_free(d->ds);
    free(d);
}

sbert_status sbert_similarity_eval_load(const char *path, size_t max_samples, void **out) {
    *out = NULL;
    sim_data *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_dataset_load(path, &d->ds);
    if (st == SBERT_OK) {
        if (max_samples > 0) sbert_dataset_truncate(d->ds, max_samples);
        int label = sbert_dataset_label_column(d->ds);
        if (sbert_dataset_n_inputs(d->ds) != 2 || label < 0)
            st = sbert_fail(SBERT_ERR_FORMAT,
                            "%s: EmbeddingSimilarityEvaluator expects (sentence1, sentence2, score) columns", path);
        if (st == SBERT_OK) st = sbert_dataset_check_inputs(d->ds);
        if (st == SBERT_OK) {
            d->s1 = (const char **)d->ds->cols[sbert_dataset_input_column(d->ds, 0)].text;
            d->s2 = (const char **)d->ds->cols[sbert_dataset_input_column(d->ds, 1)].text;
            d->gold = d->ds->cols[label].num;
            d->n = d->ds->n_rows;
        }
    }
    if (st != SBERT_OK) {
        sbert_similarity_eval_free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_similarity_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                       sbert_eval_result *out) {
    const sim_data *d = p;
    return sbert_eval_embedding_similarity(enc->fn, enc->ctx, enc->dim, d->s1, d->s2, d->gold, d->n, name, out);
}

size_t sbert_similarity_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu pairs", ((const sim_data *)p)->n);
}
