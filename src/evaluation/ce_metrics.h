/*
 * evaluation/ce_metrics.h -- the metric math of the CrossEncoder
 * evaluators, separated from predicting so it can be checked exactly
 * against sentence-transformers / scikit-learn on the same scores:
 *   - per query: MRR@k over np.argsort(scores)[::-1], sklearn ndcg_score
 *     (linear gain, log2 discount, tie-averaged) at k, sklearn
 *     average_precision_score (tied scores form one threshold);
 *   - binary classification: BinaryClassificationEvaluator's best-accuracy
 *     and best-F1 threshold sweeps (float32 midpoints, as on numpy arrays);
 *   - multi-class: sklearn f1_score macro / micro / weighted over the labels
 *     present in the truth or the predictions (zero_division 0).
 */
#ifndef SBERT_EVALUATION_CE_METRICS_H
#define SBERT_EVALUATION_CE_METRICS_H

#include <stddef.h>

#include "sbert.h"

/* is_rel [n] (0/1), scores [n]: mrr@k, ndcg@k and AP of one query. */
sbert_status sbert_rerank_metrics(const int *is_rel, const double *scores, size_t n, size_t k, double *mrr,
                                  double *ndcg, double *ap);

/* sklearn average_precision_score(labels, scores); labels 0/1. NaN without positives. */
double sbert_ce_average_precision(const int *labels, const double *scores, size_t n);

/* find_best_acc_and_threshold / find_best_f1_and_threshold with
 * high_score_more_similar = True; scores are float32 values. */
sbert_status sbert_best_accuracy(const float *scores, const int *labels, size_t n, double *acc, double *threshold);
sbert_status sbert_best_f1(const float *scores, const int *labels, size_t n, double *f1, double *precision,
                           double *recall, double *threshold);

/* sklearn f1_score of predictions against truth, all three averages. */
sbert_status sbert_f1_averages(const int *truth, const int *pred, size_t n, double *macro, double *micro,
                               double *weighted);

#endif
