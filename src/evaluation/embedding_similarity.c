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
#include "evaluation/st_evaluators.h"

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

void sbert_similarity_eval_free(void *p) {
    if (!p) return;
    sbert_labeled_pairs_free(p);
    free(p);
}

sbert_status sbert_similarity_eval_load(const char *path, size_t max_samples, void **out) {
    *out = NULL;
    sbert_labeled_pairs *d = calloc(1, sizeof *d);
    if (!d) return sbert_fail(SBERT_ERR_NOMEM, "out of memory");
    sbert_status st = sbert_labeled_pairs_load(path, max_samples, "EmbeddingSimilarityEvaluator", "score", d);
    if (st != SBERT_OK) {
        free(d);
        return st;
    }
    *out = d;
    return SBERT_OK;
}

sbert_status sbert_similarity_eval_run(const void *p, const sbert_eval_encoder *enc, const char *name,
                                       sbert_eval_result *out) {
    const sbert_labeled_pairs *d = p;
    return sbert_eval_embedding_similarity(enc->fn, enc->ctx, enc->dim, d->s1, d->s2, d->labels, d->n, name, out);
}

size_t sbert_similarity_eval_summary(const void *p, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%zu pairs", ((const sbert_labeled_pairs *)p)->n);
}
