/*
 * evaluation/evaluators.h -- sentence-transformers evaluators over any
 * encoder given as a callback (the trainer's model, or a loaded sbert_model).
 *
 *   EmbeddingSimilarityEvaluator: pairs (s1, s2) with gold scores; pairwise
 *   cosine similarity; metrics {name}_pearson_cosine, {name}_spearman_cosine;
 *   primary {name}_spearman_cosine.
 */
#ifndef SBERT_EVALUATION_EVALUATORS_H
#define SBERT_EVALUATION_EVALUATORS_H

#include <stddef.h>

#include "evaluation/metrics.h"

/* Encode n texts into out [n, dim]. */
typedef sbert_status (*sbert_encode_fn)(void *ctx, const char *const *texts, size_t n, float *out);

typedef struct {
    sbert_metric m[16];
    size_t n;
    char primary[96]; /* key of the primary metric */
} sbert_eval_result;

/* Value of `key` in r, or NAN. */
double sbert_eval_get(const sbert_eval_result *r, const char *key);

sbert_status sbert_eval_embedding_similarity(sbert_encode_fn enc, void *ctx, size_t dim,
                                             const char *const *s1, const char *const *s2,
                                             const double *gold, size_t n, const char *name,
                                             sbert_eval_result *out);

#endif
