/*
 * evaluation/evaluators.c -- evaluators that encode text and score it with
 * the metric math of evaluation/metrics.c.
 */
#include "evaluation/evaluators.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

double sbert_eval_get(const sbert_eval_result *r, const char *key) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->m[i].key, key) == 0) return r->m[i].value;
    return NAN;
}

static void put(sbert_eval_result *r, const char *name, const char *what, double v) {
    if (r->n >= sizeof r->m / sizeof r->m[0]) return;
    if (name && *name) snprintf(r->m[r->n].key, sizeof r->m[0].key, "%s_%s", name, what);
    else snprintf(r->m[r->n].key, sizeof r->m[0].key, "%s", what);
    r->m[r->n++].value = v;
}

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
    put(out, name, "pearson_cosine", sbert_pearson(cs, gold, n));
    put(out, name, "spearman_cosine", sbert_spearman(cs, gold, n));
    if (name && *name) snprintf(out->primary, sizeof out->primary, "%s_spearman_cosine", name);
    else snprintf(out->primary, sizeof out->primary, "spearman_cosine");
done:
    free(a); free(b); free(cs);
    return st;
}
