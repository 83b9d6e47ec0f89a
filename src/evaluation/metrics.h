/*
 * evaluation/metrics.h -- the metric math behind sentence-transformers'
 * evaluators, separated from encoding so it can be checked exactly:
 *   - Pearson and Spearman correlation (scipy pearsonr / spearmanr, average
 *     ranks for ties) for EmbeddingSimilarityEvaluator;
 *   - the retrieval metrics of InformationRetrievalEvaluator (accuracy@k,
 *     precision@k, recall@k, mrr@k, ndcg@k with binary gain, map@k), hits
 *     ranked by (-score, corpus_id) as sentence-transformers v6 does.
 * See shared/reference/st_formats.md section C.
 */
#ifndef SBERT_EVALUATION_METRICS_H
#define SBERT_EVALUATION_METRICS_H

#include <stddef.h>

#include "sbert.h"

/* Pearson correlation of x, y [n]; NaN if either is constant or n < 2. */
double sbert_pearson(const double *x, const double *y, size_t n);
/* Spearman rank correlation (average ranks for ties); NaN as Pearson. */
double sbert_spearman(const double *x, const double *y, size_t n);
/* Average 1-based ranks of x [n] into rank [n] (ties share their mean rank). */
sbert_status sbert_rank_average(const double *x, size_t n, double *rank);

/* One named metric, e.g. {"cosine_ndcg@10", 0.71}. */
typedef struct {
    char key[96];
    double value;
} sbert_metric;

/* The k lists of InformationRetrievalEvaluator (defaults: mrr [10], ndcg
 * [10], accuracy [1,3,5,10], precision/recall [1,3,5,10], map [100]). */
typedef struct {
    size_t mrr_at_k[8], n_mrr;
    size_t ndcg_at_k[8], n_ndcg;
    size_t accuracy_at_k[8], n_accuracy;
    size_t precision_recall_at_k[8], n_precision_recall;
    size_t map_at_k[8], n_map;
} sbert_ir_config;

sbert_ir_config sbert_ir_config_default(void);

/* Retrieval metrics for one score function.
 *   scores:      [nq, nc] similarity of query q to corpus entry c
 *   corpus_ids:  [nc] ids, used to break score ties (ascending string order)
 *   rel_offsets: [nq+1]; rel_idx[rel_offsets[q] .. rel_offsets[q+1]) are the
 *                corpus indices relevant to query q. Queries without relevant
 *                documents are skipped, as the evaluator drops them.
 *   fn_name:     key prefix ("cosine", "dot", ...)
 * Writes up to *n_out metrics (capacity on input, count on output) in the
 * order accuracy, precision, recall, ndcg, mrr, map. */
sbert_status sbert_ir_metrics(const float *scores, size_t nq, size_t nc,
                              const char *const *corpus_ids, const size_t *rel_offsets,
                              const size_t *rel_idx, const sbert_ir_config *cfg,
                              const char *fn_name, sbert_metric *out, size_t *n_out);

#endif
